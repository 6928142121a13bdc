/*  xinf-cli: the command-line client of the xinf client protocol
    (protocols/client.md).

        xinf-cli -e tcp://HOST:9997 ping [-n COUNT] [--json]
        xinf-cli -e tcp://HOST:9997 workers|waits|events [--json]
        xinf-cli keygen NAME [--role worker|user|admin|supervisor] [--dir DIR]

    With --cert KEYFILE --server-key SUPERVISOR.key it talks CURVE
    (protocols/security.md); a refused key is said as such.

    A table for people, JSON for scripts. Exit status: 0 on success, 1 when
    the node did not answer in time or answered ERROR, 2 on bad usage.
*/
#include "xinf.h"
#include "xinf_cli_show.h"
#include "xinf_cli_models.h"

static const xinf_option_t s_options [] = {
    { "endpoint", 'e', "XINF_ENDPOINT", XINF_OPT_STR, "tcp://127.0.0.1:9997", 0, 0, NULL, "ENDPOINT",
      "the supervisor to talk to" },
    { "count", 'n', NULL, XINF_OPT_INT, "1", 1, 1000000, NULL, "N", "ping: how many pings" },
    { "older-than", 0, NULL, XINF_OPT_INT, "0", 0, 86400000, NULL, "MS", "waits: only waits at least this old" },
    { "timeout", 't', "XINF_TIMEOUT_MS", XINF_OPT_INT, "3000", 1, 3600000, NULL, "MS",
      "how long to wait for each reply" },
    { "json", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "print JSON for scripts" },
    { "worker", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "NODE", "launch: the worker to place the model on" },
    { "workers", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "A,B,..", "launch: the workers of the ranks, one per rank" },
    { "replicas", 0, NULL, XINF_OPT_INT, "1", 1, 16, NULL, "N", "launch: replicas" },
    { "n-worker", 0, NULL, XINF_OPT_INT, "1", 1, 16, NULL, "N", "launch: split each replica over N workers (tensor parallel)" },
    { "rendezvous-timeout", 0, "XINF_RENDEZVOUS_TIMEOUT_MS", XINF_OPT_INT, "10000", 100, 600000, NULL, "MS",
      "launch: how long the ranks may take to join their group" },
    { "threads", 0, NULL, XINF_OPT_INT, "0", 0, 1024, NULL, "N", "launch: compute threads per replica (0: all cores)" },
    { "kv-cache-mb", 0, NULL, XINF_OPT_INT, "0", 0, 4294967295LL, NULL, "MB",
      "launch: the KV cache budget per replica (0: from free memory)" },
    { "kv-cache-dtype", 0, NULL, XINF_OPT_STR, "auto", 0, 0, "auto|f32|f16|q8_0", "TYPE",
      "launch: what the KV cache holds (auto: f16 on the CPU, f32 on a GPU; q8_0 about half of f16)" },
    { "max-seqs", 0, NULL, XINF_OPT_INT, "0", 0, 256, NULL, "N", "launch: sequences a replica runs at once (0: its default)" },
    { "step-tokens", 0, NULL, XINF_OPT_INT, "0", 0, 8192, NULL, "N",
      "launch: tokens per step of chunked prefill, 16-8192 (0: the default)" },
    { "max-queued", 0, NULL, XINF_OPT_INT, "256", 1, 100000, NULL, "N",
      "launch: requests queued per model before OVERLOADED" },
    { "device", 0, NULL, XINF_OPT_STR, "cpu", 0, 0, "cpu|gpu", "WHERE",
      "launch: gpu puts each replica on an NVIDIA GPU of its own" },
    { "speculative-tokens", 0, NULL, XINF_OPT_INT, "0", 0, 16, NULL, "N",
      "launch: drafts a decoding sequence's step may carry, by prompt lookup (0: no speculative decoding)" },
    { "prompt-lookup-min", 0, NULL, XINF_OPT_INT, "2", 1, 16, NULL, "N",
      "launch: with --speculative-tokens, the shortest suffix looked up" },
    { "prompt-lookup-max", 0, NULL, XINF_OPT_INT, "4", 1, 16, NULL, "N",
      "launch: with --speculative-tokens, the longest suffix looked up" },
    { "disable-cuda-graph", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "launch: run every step eagerly, no CUDA graphs of decode steps (a graph that hangs is retried without at once)" },
    { "lora", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "SPEC",
      "launch: NAME=PATH, a LoRA adapter served with the model (up to 8 times); generate: the adapter's NAME" },
    { "no-wait", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "launch: return once accepted, do not follow the load" },
    { "stall-timeout-ms", 0, "XINF_STALL_TIMEOUT_MS", XINF_OPT_INT, "60000", 100, 86400000, NULL, "MS",
      "launch: give up when the load makes no progress for this long; a rank waiting this long on a peer fails" },
    { "prompt", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "TEXT", "generate: the prompt as text" },
    { "prompt-tokens", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "IDS", "generate: the prompt as token ids, 1,2,3 (no BOS added)" },
    { "max-tokens", 0, NULL, XINF_OPT_INT, "64", 1, 1000000, NULL, "N", "generate: tokens to generate at most" },
    { "temperature", 0, NULL, XINF_OPT_STR, "0", 0, 0, NULL, "T", "generate: 0 = greedy" },
    { "top-k", 0, NULL, XINF_OPT_INT, "0", 0, 1000000, NULL, "K", "generate: 0 = off" },
    { "top-p", 0, NULL, XINF_OPT_STR, "1", 0, 0, NULL, "P", "generate: nucleus sampling, (0, 1]" },
    { "min-p", 0, NULL, XINF_OPT_STR, "0", 0, 0, NULL, "P",
      "generate: never draw a token less likely than P times the most likely one, [0, 1] (0: off)" },
    { "seed", 0, NULL, XINF_OPT_INT, "0", 0, INT64_MAX, NULL, "N", "generate: sampling seed" },
    { "priority", 0, NULL, XINF_OPT_INT, "0", -1000000, 1000000, NULL, "N",
      "generate: lower is served first (the model's queue, a replica's places)" },
    { "presence-penalty", 0, NULL, XINF_OPT_STR, "0", 0, 0, NULL, "P",
      "generate: subtracted from the logit of each token generated so far, [-2, 2]" },
    { "frequency-penalty", 0, NULL, XINF_OPT_STR, "0", 0, 0, NULL, "P",
      "generate: times each generated token's count, subtracted from its logit, [-2, 2]" },
    { "repetition-penalty", 0, NULL, XINF_OPT_STR, "1", 0, 0, NULL, "P",
      "generate: divides the logit of each token of the prompt and answer where positive, multiplies it where "
      "not, [0.01, 10] (1: off)" },
    { "repetition-last-n", 0, NULL, XINF_OPT_INT, NULL, 0, UINT32_MAX, NULL, "N",
      "generate: the repetition penalty looks at the last N tokens only (not given: all of them)" },
    { "logit-bias", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "ID:B,...",
      "generate: add B in [-100, 100] to token ID's logit (up to 2048 tokens)" },
    { "ignore-eos", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "generate: go on past end-of-generation tokens, to --max-tokens" },
    { "stop-token-ids", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "IDS",
      "generate: tokens that end the generation, 1,2,3 (up to 64)" },
    { "min-tokens", 0, NULL, XINF_OPT_INT, "0", 0, 4294967295LL, NULL, "N",
      "generate: no end or stop token before N tokens" },
    { "json-schema", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "generate: the answer is a value of the JSON Schema in FILE (constrained decoding)" },
    { "grammar", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "generate: the answer matches the root rule of the GBNF grammar in FILE (llama.cpp's format)" },
    { "regex", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "RE",
      "generate: the whole answer matches the regular expression RE (constrained decoding)" },
    { "response-format", 0, NULL, XINF_OPT_STR, "text", 0, 0, "text|json_object", "FORMAT",
      "generate: json_object makes the answer one JSON object (constrained decoding)" },
    { "logprobs", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "N",
      "generate: each token's log-probability and the N (0-20) most likely tokens' (shown with --json)" },
    { "prompt-logprobs", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "N",
      "generate: score the prompt: each token's log-probability and the N (0-20) most likely tokens' (its "
      "perplexity on stderr, all with --json)" },
    { "stream", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "generate: print tokens as they come" },
    { "embed", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "generate: the prompt's embedding instead, printed as a JSON array of floats (length 1)" },
    { "pooling", 0, NULL, XINF_OPT_STR, NULL, 0, 0, "mean|last", "KIND",
      "generate --embed: pool the mean or the last position (default: the model's file)" },
    { "probe-timeout", 0, "XINF_PROBE_TIMEOUT_MS", XINF_OPT_INT, "3000", 100, 60000, NULL, "MS",
      "doctor, launch --n-worker: how long each connectivity probe may take" },
    { "cert", 0, "XINF_CERT", XINF_OPT_STR, NULL, 0, 0, NULL, "KEYFILE",
      "our key (NAME.key with NAME.key_secret beside it, from keygen), for a supervisor with keys" },
    { "server-key", 0, "XINF_SERVER_KEY", XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "the supervisor's public certificate (its NAME.key)" },
    { "role", 0, NULL, XINF_OPT_STR, "user", 0, 0, "worker|user|admin|supervisor", "ROLE", "keygen: what the key may do" },
    { "dir", 0, NULL, XINF_OPT_STR, ".", 0, 0, NULL, "DIR", "keygen: where to write NAME.key and NAME.key_secret" },
    { "log-level", 0, "XINF_LOG_LEVEL", XINF_OPT_STR, "warn", 0, 0,
      "trace|debug|info|warn|error|off", "LEVEL", "lowest level logged" },
    { 0 }
};

//  The dealer to the supervisor: -e A, or -e A,B for a standby pair, where
//  the one whose PONG says it serves (no standby, primary or active) is
//  chosen, else one that answers at all (a passive one whose peer is gone
//  takes over on our request), else the first (the command says why).
typedef struct {
    zcert_t *cert;                 //  --cert, or NULL
    const char *cert_file;         //  "" without
    char server_key [XINF_KEY_TEXT_SIZE];
} s_keys_t;

//  A dealer to one supervisor: CURVE with keys, its handshakes watched
static xinf_dealer_t *
s_dealer_to (const char *endpoint, const s_keys_t *keys)
{
    return xinf_dealer_new_secure (endpoint, "xinf-cli", keys->cert, keys->cert ? keys->server_key : NULL,
                                   keys->cert_file);
}

static xinf_dealer_t *
s_connect (const char *endpoints, int timeout_ms, const s_keys_t *keys)
{
    const char *comma = strchr (endpoints, ',');
    if (!comma)
        return s_dealer_to (endpoints, keys);
    char pair [2][512];
    snprintf (pair [0], sizeof pair [0], "%.*s", (int) (comma - endpoints), endpoints);
    snprintf (pair [1], sizeof pair [1], "%s", comma + 1);
    int answered = 0;
    for (int index = 0; index < 2; index++) {
        xinf_dealer_t *dealer = s_dealer_to (pair [index], keys);
        xinf_msg_t *ping = xinf_msg_new ("PING");
        char error [256];
        xinf_msg_t *pong = dealer ? xinf_dealer_request (dealer, &ping, timeout_ms / 2, error, sizeof error) : NULL;
        xinf_msg_destroy (&ping);
        const char *standby = pong ? xinf_value_str (xinf_map_get (xinf_msg_body (pong), "standby")) : NULL;
        bool serves = pong && xinf_msg_is (pong, "PONG") && (!standby || streq (standby, "primary")
                                                               || streq (standby, "active"));
        if (pong && !serves && index == 1)
            answered = 1;
        xinf_msg_destroy (&pong);
        if (serves)
            return dealer;
        xinf_dealer_destroy (&dealer);
    }
    return s_dealer_to (pair [answered], keys);
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
            xinf_cli_no_reply (dealer, error);
            rc = 1;
            break;
        }
        if (xinf_cli_is_error (pong) || !xinf_msg_is (pong, "PONG")) {
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

//  One request, one reply of the expected type; NULL (reason printed) if not.
static xinf_msg_t *
s_ask (xinf_config_t *config, xinf_dealer_t *dealer, const char *type, const char *reply_type)
{
    xinf_msg_t *request = xinf_msg_new (type);
    char error [256];
    xinf_msg_t *reply = xinf_dealer_request (dealer, &request, (int) xinf_config_int (config, "timeout"),
                                             error, sizeof error);
    if (!reply)
        xinf_cli_no_reply (dealer, error);
    else
    if (xinf_cli_is_error (reply) || !xinf_msg_is (reply, reply_type)) {
        if (!xinf_msg_is (reply, "ERROR"))
            fprintf (stderr, "xinf-cli: expected %s, got %s\n", reply_type, xinf_msg_type (reply));
        xinf_msg_destroy (&reply);
    }
    return reply;
}

static int
s_query (xinf_config_t *config, xinf_dealer_t *dealer, const char *command)
{
    const char *type = streq (command, "workers") ? "CLUSTER_INFO" : streq (command, "waits") ? "WAITS" : "EVENTS";
    char reply_type [64];
    snprintf (reply_type, sizeof reply_type, "%s_REPLY", type);
    xinf_msg_t *reply = s_ask (config, dealer, type, reply_type);
    if (!reply)
        return 1;
    xinf_value_t *body = xinf_msg_body (reply);
    if (xinf_config_flag (config, "json")) {
        xinf_value_print_json (body, stdout);
        printf ("\n");
    }
    else
    if (streq (command, "workers"))
        xinf_cli_show_workers (body, stdout);
    else
    if (streq (command, "waits"))
        xinf_cli_show_waits (body, (uint64_t) xinf_config_int (config, "older-than"), stdout);
    else
        xinf_cli_show_events (body, stdout);
    xinf_msg_destroy (&reply);
    return 0;
}

static bool
s_known_command (const char *command)
{
    return command && (streq (command, "ping") || streq (command, "workers")
                   ||  streq (command, "waits") || streq (command, "events") || streq (command, "doctor")
                   ||  streq (command, "keygen"));
}

//  The deployment checklist; exit status 1 when it found a problem.
static int
s_doctor (xinf_config_t *config, xinf_dealer_t *dealer)
{
    int64_t probe = xinf_config_int (config, "probe-timeout");
    xinf_msg_t *request = xinf_msg_new ("DOCTOR");
    xinf_map_put_uint (xinf_msg_body (request), "timeout_ms", (uint64_t) probe);
    char error [256];
    xinf_msg_t *reply = xinf_dealer_request (dealer, &request, (int) (probe + 5000), error, sizeof error);
    if (!reply) {
        xinf_cli_no_reply (dealer, error);
        return 1;
    }
    if (xinf_cli_is_error (reply) || !xinf_msg_is (reply, "DOCTOR_REPLY")) {
        xinf_msg_destroy (&reply);
        return 1;
    }
    xinf_value_t *body = xinf_msg_body (reply);
    if (xinf_config_flag (config, "json")) {
        xinf_value_print_json (body, stdout);
        printf ("\n");
    }
    else
        xinf_cli_show_doctor (body, stdout);
    int rc = xinf_value_bool (xinf_map_get (body, "ok")) ? 0 : 1;
    xinf_msg_destroy (&reply);
    return rc;
}

//  Writes a key pair: NAME.key (public, give it to the server) and
//  NAME.key_secret (keep it; mode 0600).
static int
s_keygen (xinf_config_t *config, const char *name)
{
    char path [1100], reason [1200];
    xinf_role_t role = xinf_role_parse (xinf_config_str (config, "role"));
    if (xinf_auth_keygen (xinf_config_str (config, "dir"), name, role, path, sizeof path, reason, sizeof reason)) {
        fprintf (stderr, "xinf-cli: keygen: %s\n", reason);
        return 1;
    }
    printf ("wrote %s (public, role %s: copy it into the supervisor's --keys directory) and %s_secret (keep it here, mode 0600)\n",
            path, xinf_role_name (role), path);
    return 0;
}

//  The dealer to the supervisor: a CURVE client with --cert and
//  --server-key, watched for refused handshakes either way. NULL (said) on
//  bad keys or a bad endpoint.
static xinf_dealer_t *
s_dealer (xinf_config_t *config, s_keys_t *keys)
{
    const char *cert_file = xinf_config_str (config, "cert");
    const char *server_file = xinf_config_str (config, "server-key");
    char reason [1200];
    if (!cert_file != !server_file) {
        fprintf (stderr, "xinf-cli: --cert and --server-key go together (XINF_CERT, XINF_SERVER_KEY)\n");
        return NULL;
    }
    if (cert_file && !(keys->cert = xinf_auth_load_secret (cert_file, reason, sizeof reason))) {
        fprintf (stderr, "xinf-cli: --cert: %s\n", reason);
        return NULL;
    }
    if (server_file && xinf_auth_load_public (server_file, keys->server_key, reason, sizeof reason)) {
        fprintf (stderr, "xinf-cli: --server-key: %s\n", reason);
        return NULL;
    }
    keys->cert_file = cert_file ? cert_file : "";
    xinf_dealer_t *dealer = s_connect (xinf_config_str (config, "endpoint"), (int) xinf_config_int (config, "timeout"), keys);
    if (!dealer)
        fprintf (stderr, "xinf-cli: invalid endpoint '%s' (expected tcp://HOST:PORT)\n", xinf_config_str (config, "endpoint"));
    return dealer;
}

//  Positional arguments each command takes after its name.
static size_t
s_command_args (const char *command)
{
    if (streq (command, "launch"))
        return 2;
    if (streq (command, "generate") || streq (command, "terminate") || streq (command, "keygen"))
        return 1;
    return 0;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-cli", "-e tcp://HOST:PORT COMMAND [OPTIONS]\n\nCommands:\n"
        "  ping      round trip to the node\n"
        "  workers   the workers: state, addresses, warnings, resources\n"
        "  waits     every active wait in the cluster\n"
        "  events    joined/lost/recovered/warned/left events\n"
        "  doctor    probe every worker pair, check addresses, heartbeats, versions (exit 1 on a problem)\n"
        "  launch UID PATH   load a GGUF model (PATH as the worker sees it), follow progress\n"
        "  models            the launched models\n"
        "  generate UID      --prompt TEXT | --prompt-tokens 1,2,3 [--max-tokens N] [--stream] [--embed]\n"
        "  terminate UID     stop a model\n"
        "  keygen NAME       write a key pair NAME.key, NAME.key_secret [--role worker|user|admin|supervisor] [--dir DIR]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    const char *command = rc == 0 ? xinf_config_positional (config, 0) : NULL;
    if (rc == 0 && (!(s_known_command (command) || xinf_cli_models_command (command))
                    || xinf_config_positionals (config) != 1 + s_command_args (command))) {
        fprintf (stderr, "xinf-cli: %s (commands: ping, workers, waits, events, doctor, launch UID PATH, models, generate UID, terminate UID, keygen NAME; see --help)\n",
                 command ? "unknown command or wrong number of arguments" : "missing command");
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
    if (streq (command, "keygen")) {
        rc = s_keygen (config, xinf_config_positional (config, 1));
        xinf_config_destroy (&config);
        return rc;
    }
    s_keys_t keys = { 0 };
    xinf_dealer_t *dealer = s_dealer (config, &keys);
    if (!dealer) {
        xinf_config_destroy (&config);
        return 2;
    }
    if (xinf_cli_models_command (command))
        rc = xinf_cli_models_run (config, dealer, command);
    else
        rc = streq (command, "ping") ? s_ping (config, dealer)
           : streq (command, "doctor") ? s_doctor (config, dealer) : s_query (config, dealer, command);
    xinf_dealer_destroy (&dealer);
    zcert_destroy (&keys.cert);
    xinf_config_destroy (&config);
    return rc;
}
