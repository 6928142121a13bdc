/*  xinf-executor: one executor in a process of its own, started by a
    replica when its worker runs with --executor process (the way a GPU
    executor runs: a hung device call or a crash then ends this process,
    not the worker, and the worker names it).

    It serves the executor messages (protocols/model.md: LOAD, STEP, GROUP)
    on --endpoint (ipc://), and beats EXECUTOR_BEAT to --beats every 250 ms
    from its main thread, which never computes: a step that hangs still
    beats, with its phase growing old. It ends on SIGTERM, or when its
    worker is gone (SIGKILL from the kernel: PR_SET_PDEATHSIG).
*/
#include "xinf.h"
#include "xinf_executor.h"
#include "xinf_model_msg.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#define S_BEAT_MS  250

static const xinf_option_t s_options [] = {
    { "endpoint", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "ENDPOINT", "ipc:// endpoint to serve the executor on" },
    { "beats", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "ENDPOINT", "ipc:// endpoint of the replica's beats" },
    { "name", 0, NULL, XINF_OPT_STR, "executor", 0, 0, NULL, "NAME", "the executor's name in logs" },
    { "fault", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "SPEC", "an injected hang (xinf_beacon_set_fault)" },
    { "log-level", 0, "XINF_LOG_LEVEL", XINF_OPT_STR, "info", 0, 0, "trace|debug|info|warn|error", "LEVEL",
      "log level" },
    { 0 }
};

static void
s_beat (zsock_t *beats, xinf_beacon_t *beacon)
{
    xinf_beacon_view_t view = xinf_beacon_read (beacon);
    int64_t age = zclock_mono () - view.phase_ms;
    xinf_model_msg_executor_beat_t beat = {
        .pid = (uint64_t) getpid (), .step = view.step, .phase = xinf_phase_name (view.phase),
        .layer = view.layer, .what = view.what, .phase_age_ms = (uint64_t) (age > 0 ? age : 0)
    };
    xinf_msg_t *msg = xinf_model_msg_executor_beat_encode (&beat);
    zmsg_t *frames = xinf_msg_encode (&msg);
    //  A replica that does not read loses beats, never blocks this thread
    if (zmsg_send (&frames, beats))
        zmsg_destroy (&frames);
}

static int
s_serve (xinf_config_t *config)
{
    const char *endpoint = xinf_config_str (config, "endpoint"), *beats_endpoint = xinf_config_str (config, "beats");
    const char *name = xinf_config_str (config, "name"), *fault = xinf_config_str (config, "fault");
    if (!endpoint || !beats_endpoint) {
        fprintf (stderr, "xinf-executor: --endpoint and --beats are required\n");
        return 2;
    }
    xinf_executor_t *executor = xinf_executor_new (name, endpoint);
    if (!executor) {
        xinf_error (name, "cannot serve on %s", endpoint);
        return 1;
    }
    char error [256];
    if (fault && xinf_beacon_set_fault (xinf_executor_beacon (executor), fault, error, sizeof error))
        xinf_warn (name, "--fault '%s' ignored: %s", fault, error);
    zsock_t *beats = zsock_new (ZMQ_PUSH);
    assert (beats);
    zsock_set_sndhwm (beats, 4);
    zsock_set_sndtimeo (beats, 0);
    zsock_set_linger (beats, 0);
    int rc = zsock_connect (beats, "%s", beats_endpoint);
    if (rc == 0)
        xinf_info (name, "executor process pid=%d serving on %s", (int) getpid (), endpoint);
    //  The signal interrupts the poll at once
    while (rc == 0 && !zsys_interrupted) {
        s_beat (beats, xinf_executor_beacon (executor));
        zmq_poll (NULL, 0, S_BEAT_MS);
    }
    zsock_destroy (&beats);
    xinf_executor_destroy (&executor);
    return rc ? 1 : 0;
}

int
main (int argc, char **argv)
{
    //  Ends with its worker, whatever the worker's end
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    xinf_config_t *config = xinf_config_new ("xinf-executor", "--endpoint ipc://... --beats ipc://... [OPTIONS]",
                                             s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc < 0)
        fprintf (stderr, "xinf-executor: %s\n", xinf_config_error (config));
    if (rc != 0) {
        xinf_config_destroy (&config);
        return rc > 0 ? 0 : 2;
    }
    xinf_log_set_level ((xinf_log_level_t) xinf_log_level_parse (xinf_config_str (config, "log-level")));
    zsys_init ();
    xinf_malloc_tune ();
    rc = s_serve (config);
    xinf_config_destroy (&config);
    return rc;
}
