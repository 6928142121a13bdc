/*  xinf-cli: the command-line client of the xinf client protocol.

        xinf-cli -e tcp://HOST:9997 ping [-n COUNT] [--json]

    Prints the round-trip time of each PING and a summary. Exit status: 0 on
    success, 1 when the node did not answer or answered ERROR, 2 on bad
    usage.
*/
#include "xinf.h"

static const xinf_option_t s_options [] = {
    { "endpoint", 'e', "XINF_ENDPOINT", XINF_OPT_STR, "tcp://127.0.0.1:9997", 0, 0, NULL, "ENDPOINT",
      "the supervisor to talk to" },
    { "count", 'n', NULL, XINF_OPT_INT, "1", 1, 1000000, NULL, "N", "ping: how many pings" },
    { "timeout", 't', "XINF_TIMEOUT_MS", XINF_OPT_INT, "3000", 1, 3600000, NULL, "MS",
      "how long to wait for each reply" },
    { "json", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "print JSON for scripts" },
    { "log-level", 0, "XINF_LOG_LEVEL", XINF_OPT_STR, "warn", 0, 0,
      "trace|debug|info|warn|error|off", "LEVEL", "lowest level logged" },
    { NULL }
};

//  Prints the reason of an ERROR reply; returns true if it was one.
static bool
s_is_error (xinf_msg_t *reply)
{
    if (!xinf_msg_is (reply, "ERROR"))
        return false;
    xinf_value_t *body = xinf_msg_body (reply);
    fprintf (stderr, "xinf-cli: ERROR %s: %s\n",
             xinf_value_str (xinf_map_get (body, "code")) ?: "?",
             xinf_value_str (xinf_map_get (body, "message")) ?: "?");
    return true;
}

static int
s_ping (xinf_config_t *config, xinf_dealer_t *dealer)
{
    int64_t count = xinf_config_int (config, "count");
    int timeout = (int) xinf_config_int (config, "timeout");
    bool json = xinf_config_flag (config, "json");
    double total = 0, best = 1e18, worst = 0;
    xinf_value_t *report = xinf_value_new_array ();
    int rc = 0;
    for (int64_t index = 0; index < count && rc == 0; index++) {
        xinf_msg_t *ping = xinf_msg_new ("PING");
        char error [256];
        int64_t start = zclock_usecs ();
        xinf_msg_t *pong = xinf_dealer_request (dealer, &ping, timeout, error, sizeof error);
        double rtt_us = (double) (zclock_usecs () - start);
        if (!pong) {
            fprintf (stderr, "xinf-cli: %s\n", error);
            rc = 1;
            break;
        }
        if (s_is_error (pong) || !xinf_msg_is (pong, "PONG")) {
            rc = 1;
            xinf_msg_destroy (&pong);
            break;
        }
        xinf_value_t *body = xinf_msg_body (pong);
        const char *role = xinf_value_str (xinf_map_get (body, "role")) ?: "?";
        const char *node = xinf_value_str (xinf_map_get (body, "node")) ?: "?";
        if (json) {
            xinf_value_t *item = xinf_value_dup (body);
            xinf_map_put_float (item, "rtt_us", rtt_us);
            xinf_array_push (report, item);
        }
        else
            printf ("PONG from %s (%s) at %s: rtt=%.0f us\n", node, role, xinf_dealer_endpoint (dealer), rtt_us);
        total += rtt_us;
        best = rtt_us < best ? rtt_us : best;
        worst = rtt_us > worst ? rtt_us : worst;
        xinf_msg_destroy (&pong);
    }
    if (rc == 0 && json) {
        xinf_value_print_json (report, stdout);
        printf ("\n");
    }
    else
    if (rc == 0 && count > 1)
        printf ("%lld pings: min %.0f us, avg %.0f us, max %.0f us\n", (long long) count, best, total / (double) count, worst);
    xinf_value_destroy (&report);
    return rc;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-cli", "-e tcp://HOST:PORT COMMAND [OPTIONS]\n\nCommands:\n  ping    round trip to the node", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    const char *command = rc == 0 ? xinf_config_positional (config, 0) : NULL;
    if (rc == 0 && (!command || !streq (command, "ping") || xinf_config_positionals (config) > 1)) {
        fprintf (stderr, "xinf-cli: %s (commands: ping; see --help)\n",
                 command ? "unknown command or extra argument" : "missing command");
        rc = -1;
    }
    else
    if (rc < 0)
        fprintf (stderr, "xinf-cli: %s\n", xinf_config_error (config));
    if (rc != 0) {
        xinf_config_destroy (&config);
        return rc == 1 ? 0 : 2;
    }
    xinf_log_set_level ((xinf_log_level_t) xinf_log_level_parse (xinf_config_str (config, "log-level")));
    xinf_dealer_t *dealer = xinf_dealer_new (xinf_config_str (config, "endpoint"), "xinf-cli");
    if (!dealer) {
        fprintf (stderr, "xinf-cli: invalid endpoint '%s' (expected tcp://HOST:PORT)\n", xinf_config_str (config, "endpoint"));
        xinf_config_destroy (&config);
        return 2;
    }
    rc = s_ping (config, dealer);
    xinf_dealer_destroy (&dealer);
    xinf_config_destroy (&config);
    return rc;
}
