/*  xinf-bench-failover: how fast a dead worker is declared lost.

    Runs a supervisor in this process and one worker as a child process
    (xinf-node --role=worker), kills the worker with SIGKILL N times and,
    for each kill, measures the delay from the kill to the supervisor's
    `lost` event (the event's own timestamp, so polling does not blur it),
    restarting the worker between kills. Prints p50/p99/max against the
    bound liveness x interval + one interval.
*/
#include "xinf.h"
#include "xinf_supervisor.h"

#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const xinf_option_t s_options [] = {
    { "kills", 'n', NULL, XINF_OPT_INT, "20", 1, 10000, NULL, "N", "how many times to kill the worker" },
    { "heartbeat-ms", 0, NULL, XINF_OPT_INT, "1000", 10, 60000, NULL, "MS", "heartbeat interval" },
    { "liveness", 0, NULL, XINF_OPT_INT, "3", 1, 100, NULL, "N", "missed heartbeats before lost" },
    { "node-binary", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "PATH", "xinf-node to start (default: next to this program)" },
    { "json", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "also print the figures as JSON" },
    { 0 }
};

static pid_t
s_spawn_worker (const char *binary, const char *endpoint, int64_t heartbeat_ms, int liveness)
{
    char heartbeat [32], live [32];
    snprintf (heartbeat, sizeof heartbeat, "%lld", (long long) heartbeat_ms);
    snprintf (live, sizeof live, "%d", liveness);
    char *argv [] = { (char *) binary, "--role=worker", "-e", (char *) endpoint, "--node-name", "victim",
                      "-H", "127.0.0.1", "--heartbeat-ms", heartbeat, "--liveness", live,
                      "--log-level", "error", NULL };
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    if (posix_spawn (&pid, binary, &actions, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy (&actions);
    return pid;
}

//  Polls EVENTS until one of 'kind' for the victim appears after *since;
//  returns its time_ms, or 0 when none came before the deadline.
static uint64_t
s_wait_event (xinf_dealer_t *client, const char *kind, uint64_t *since, int64_t timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline && !zsys_interrupted) {
        xinf_msg_t *request = xinf_msg_new ("EVENTS");
        xinf_map_put_uint (xinf_msg_body (request), "since", *since);
        char error [256];
        xinf_msg_t *reply = xinf_dealer_request (client, &request, 2000, error, sizeof error);
        if (!reply) {
            fprintf (stderr, "xinf-bench-failover: %s\n", error);
            return 0;
        }
        xinf_value_t *events = xinf_map_get (xinf_msg_body (reply), "events");
        uint64_t found = 0;
        for (size_t index = 0; index < xinf_value_count (events) && !found; index++) {
            xinf_value_t *event = xinf_array_at (events, index);
            *since = xinf_value_uint (xinf_map_get (event, "seq"));
            const char *event_kind = xinf_value_str (xinf_map_get (event, "kind"));
            if (event_kind && streq (event_kind, kind))
                found = xinf_value_uint (xinf_map_get (event, "time_ms"));
        }
        xinf_msg_destroy (&reply);
        if (found)
            return found;
        zmq_poll (NULL, 0, 5);      //  the event carries its own time: polling does not blur it
    }
    return 0;
}

static int
s_compare (const void *a, const void *b)
{
    double left = *(const double *) a, right = *(const double *) b;
    return (left > right) - (left < right);
}

static double
s_percentile (double *sorted, size_t count, double fraction)
{
    size_t index = (size_t) (fraction * (double) (count - 1) + 0.5);
    return sorted [index < count ? index : count - 1];
}

static int
s_run (xinf_config_t *config, const char *binary, const char *endpoint)
{
    int64_t kills = xinf_config_int (config, "kills");
    int64_t heartbeat_ms = xinf_config_int (config, "heartbeat-ms");
    int liveness = (int) xinf_config_int (config, "liveness");
    double bound = (double) (heartbeat_ms * liveness + heartbeat_ms);
    double *delays = calloc ((size_t) kills, sizeof (double));
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "bench");
    uint64_t since = 0;
    int64_t done = 0;
    int64_t settle_ms = heartbeat_ms * liveness * 4 + 5000;
    for (; done < kills && !zsys_interrupted; done++) {
        pid_t pid = s_spawn_worker (binary, endpoint, heartbeat_ms, liveness);
        if (pid < 0 || !s_wait_event (client, done ? "rejoined" : "joined", &since, settle_ms)) {
            fprintf (stderr, "xinf-bench-failover: worker did not register within %lld ms\n", (long long) settle_ms);
            break;
        }
        //  Kill at a random point of the heartbeat cycle, as a crash would
        zclock_sleep ((int) randof ((int) heartbeat_ms * 2));
        kill (pid, SIGKILL);
        uint64_t killed_at = (uint64_t) zclock_time ();
        waitpid (pid, NULL, 0);
        uint64_t lost_at = s_wait_event (client, "lost", &since, settle_ms);
        if (!lost_at) {
            fprintf (stderr, "xinf-bench-failover: no lost event within %lld ms\n", (long long) settle_ms);
            break;
        }
        delays [done] = (double) lost_at - (double) killed_at;
        printf ("kill %3lld: lost after %6.0f ms\n", (long long) done + 1, delays [done]);
        fflush (stdout);
    }
    xinf_dealer_destroy (&client);
    int rc = done == kills ? 0 : 1;
    if (done > 0) {
        qsort (delays, (size_t) done, sizeof (double), s_compare);
        double p50 = s_percentile (delays, (size_t) done, 0.5), p99 = s_percentile (delays, (size_t) done, 0.99);
        printf ("heartbeat %lld ms x liveness %d, %lld kills: detection p50 %.0f ms, p99 %.0f ms, max %.0f ms; "
                "bound %.0f ms: %s\n", (long long) heartbeat_ms, liveness, (long long) done, p50, p99,
                delays [done - 1], bound, p99 <= bound ? "PASS" : "MISS");
        if (xinf_config_flag (config, "json"))
            printf ("{\"heartbeat_ms\":%lld,\"liveness\":%d,\"kills\":%lld,\"p50_ms\":%.0f,\"p99_ms\":%.0f,"
                    "\"max_ms\":%.0f,\"bound_ms\":%.0f}\n", (long long) heartbeat_ms, liveness, (long long) done,
                    p50, p99, delays [done - 1], bound);
    }
    free (delays);
    return rc;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-bench-failover", "[OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc != 0 || xinf_config_positionals (config)) {
        if (rc <= 0)
            fprintf (stderr, "xinf-bench-failover: %s\n", rc < 0 ? xinf_config_error (config) : "unexpected argument");
        xinf_config_destroy (&config);
        return rc == 1 ? 0 : 2;
    }
    char binary [4096];
    if (xinf_config_str (config, "node-binary"))
        snprintf (binary, sizeof binary, "%s", xinf_config_str (config, "node-binary"));
    else {
        char self [4096];
        snprintf (self, sizeof self, "%s", argv [0]);
        snprintf (binary, sizeof binary, "%s/xinf-node", dirname (self));
    }
    xinf_log_set_level (XINF_LOG_ERROR);
    zsys_init ();
    xinf_supervisor_config_t supervisor_config = {
        "bench-supervisor", xinf_config_int (config, "heartbeat-ms"), (int) xinf_config_int (config, "liveness"), 0,
        NULL, false, NULL, NULL, NULL, 0
    };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&supervisor_config);
    char bound [256], endpoint [256];
    int port = supervisor ? xinf_supervisor_bind (supervisor, "tcp://127.0.0.1:0", bound, sizeof bound) : -1;
    if (port <= 0) {
        fprintf (stderr, "xinf-bench-failover: cannot start the supervisor\n");
        rc = 1;
    }
    else {
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
        rc = s_run (config, binary, endpoint);
    }
    xinf_supervisor_destroy (&supervisor);
    xinf_config_destroy (&config);
    return rc;
}
