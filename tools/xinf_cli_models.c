/*  xinf_cli_models: launch, models, generate, terminate.  */
#include "xinf_cli_models.h"
#include "xinf_cli_show.h"

#include <math.h>

bool
xinf_cli_models_command (const char *command)
{
    return command && (streq (command, "launch") || streq (command, "models")
                   ||  streq (command, "generate") || streq (command, "terminate"));
}

//  Sends a request; returns the reply of 'type', or NULL (reason printed).
static xinf_msg_t *
s_request (xinf_config_t *config, xinf_dealer_t *dealer, xinf_msg_t **request_p, const char *type)
{
    char error [256];
    xinf_msg_t *reply = xinf_dealer_request (dealer, request_p, (int) xinf_config_int (config, "timeout"),
                                             error, sizeof error);
    if (!reply)
        xinf_cli_no_reply (dealer, error);
    else
    if (xinf_cli_is_error (reply) || !xinf_msg_is (reply, type)) {
        if (!xinf_msg_is (reply, "ERROR"))
            fprintf (stderr, "xinf-cli: expected %s, got %s\n", type, xinf_msg_type (reply));
        xinf_msg_destroy (&reply);
    }
    return reply;
}

static void
s_print (xinf_config_t *config, xinf_value_t *body)
{
    if (xinf_config_flag (config, "json")) {
        xinf_value_print_json (body, stdout);
        printf ("\n");
    }
}

//  A stuck launch: what the cluster waits for now (the wait chain).
static void
s_show_waits (xinf_config_t *config, xinf_dealer_t *dealer)
{
    xinf_msg_t *request = xinf_msg_new ("WAITS");
    xinf_msg_t *reply = s_request (config, dealer, &request, "WAITS_REPLY");
    if (!reply)
        return;
    fprintf (stderr, "xinf-cli: what the cluster is waiting for:\n");
    xinf_cli_show_waits (xinf_msg_body (reply), 0, stderr);
    xinf_msg_destroy (&reply);
}

//  One line of launch progress, the same as tools/xinf_client.py prints:
//  the state, and bytes once a worker knows the file's size; per rank for
//  a tensor-parallel replica (each rank reads its own shard's bytes).
static void
s_progress_line (const char *uid, xinf_value_t *body, char *line, size_t size)
{
    const char *state = xinf_value_str (xinf_map_get (body, "state")) ?: "?";
    size_t used = (size_t) snprintf (line, size, "%s: %s", uid, state);
    const xinf_value_t *replicas = xinf_map_get (body, "replicas");
    for (size_t index = 0; index < xinf_value_count (replicas) && used < size; index++) {
        const xinf_value_t *replica = xinf_array_at (replicas, index);
        const xinf_value_t *ranks = xinf_map_get (replica, "ranks");
        size_t count = ranks ? xinf_value_count (ranks) : 1;
        for (size_t rank = 0; rank < count && used < size; rank++) {
            const xinf_value_t *part = ranks ? xinf_array_at (ranks, rank) : replica;
            uint64_t done = xinf_value_uint (xinf_map_get (part, "bytes_done"));
            uint64_t total = xinf_value_uint (xinf_map_get (part, "bytes_total"));
            used += (size_t) snprintf (line + used, size - used, "%s replica %zu", rank ? "," : index ? ";" : " |",
                                       index);
            if (ranks && used < size)
                used += (size_t) snprintf (line + used, size - used, " rank %zu", rank);
            if (used < size)
                used += (size_t) snprintf (line + used, size - used, " on %s %s",
                                           xinf_value_str (xinf_map_get (part, "worker")) ?: "?",
                                           xinf_value_str (xinf_map_get (part, "state")) ?: "?");
            if (total && used < size)
                used += (size_t) snprintf (line + used, size - used, " %.1f / %.1f MB", (double) done / 1e6,
                                           (double) total / 1e6);
        }
    }
}

//  Polls LAUNCH_PROGRESS until ready or failed, or no progress for the stall timeout.
static int
s_follow (xinf_config_t *config, xinf_dealer_t *dealer, const char *uid)
{
    int64_t stall_ms = xinf_config_int (config, "stall-timeout-ms");
    char last_line [1024] = "";
    int64_t last_change = zclock_mono ();
    while (!zsys_interrupted) {
        xinf_msg_t *request = xinf_msg_new ("LAUNCH_PROGRESS");
        xinf_map_put_str (xinf_msg_body (request), "uid", uid);
        xinf_msg_t *reply = s_request (config, dealer, &request, "LAUNCH_PROGRESS_REPLY");
        if (!reply)
            return 1;
        xinf_value_t *body = xinf_msg_body (reply);
        const char *state = xinf_value_str (xinf_map_get (body, "state")) ?: "?";
        uint64_t done = xinf_value_uint (xinf_map_get (body, "bytes_done"));
        uint64_t total = xinf_value_uint (xinf_map_get (body, "bytes_total"));
        char line [1024];
        s_progress_line (uid, body, line, sizeof line);
        if (strcmp (line, last_line)) {             //  a step or bytes moved: progress
            snprintf (last_line, sizeof last_line, "%s", line);
            last_change = zclock_mono ();
            if (!xinf_config_flag (config, "json"))
                fprintf (stderr, "%s\n", line);
        }
        int rc = -1;
        if (streq (state, "ready"))
            rc = 0;
        else
        if (streq (state, "failed") || streq (state, "stopped")) {
            fprintf (stderr, "xinf-cli: launch of %s %s: %s\n", uid, state,
                     xinf_value_str (xinf_map_get (body, "error")) ?: "");
            rc = 1;
        }
        else
        if (zclock_mono () - last_change > stall_ms) {
            fprintf (stderr, "xinf-cli: launch of %s made no progress for %lld ms (at %llu of %llu bytes)\n", uid,
                     (long long) stall_ms, (unsigned long long) done, (unsigned long long) total);
            s_show_waits (config, dealer);
            rc = 1;
        }
        if (rc >= 0) {
            if (rc == 0 && !xinf_config_flag (config, "json"))
                printf ("%s ready\n", uid);
            s_print (config, body);
        }
        xinf_msg_destroy (&reply);
        if (rc >= 0)
            return rc;
        zmq_poll (NULL, 0, 200);       //  poll interval; the stall deadline bounds the loop
    }
    return 1;
}

static int
s_launch (xinf_config_t *config, xinf_dealer_t *dealer)
{
    const char *uid = xinf_config_positional (config, 1);
    xinf_msg_t *request = xinf_msg_new ("LAUNCH");
    xinf_value_t *body = xinf_msg_body (request);
    xinf_map_put_str (body, "uid", uid);
    xinf_map_put_str (body, "path", xinf_config_positional (config, 2));
    if (xinf_config_str (config, "worker"))
        xinf_map_put_str (body, "worker", xinf_config_str (config, "worker"));
    if (xinf_config_str (config, "workers")) {
        xinf_value_t *workers = xinf_value_new_array ();
        char *list = strdup (xinf_config_str (config, "workers"));
        for (char *saved = NULL, *name = strtok_r (list, ",", &saved); name; name = strtok_r (NULL, ",", &saved))
            xinf_array_push (workers, xinf_value_new_str (name));
        free (list);
        xinf_map_put (body, "workers", workers);
    }
    xinf_map_put_uint (body, "replicas", (uint64_t) xinf_config_int (config, "replicas"));
    xinf_map_put_uint (body, "threads", (uint64_t) xinf_config_int (config, "threads"));
    xinf_map_put_uint (body, "n_worker", (uint64_t) xinf_config_int (config, "n-worker"));
    xinf_map_put_uint (body, "probe_timeout_ms", (uint64_t) xinf_config_int (config, "probe-timeout"));
    xinf_map_put_uint (body, "rendezvous_timeout_ms", (uint64_t) xinf_config_int (config, "rendezvous-timeout"));
    xinf_map_put_uint (body, "stall_timeout_ms", (uint64_t) xinf_config_int (config, "stall-timeout-ms"));
    xinf_map_put_uint (body, "kv_cache_mb", (uint64_t) xinf_config_int (config, "kv-cache-mb"));
    xinf_map_put_str (body, "kv_cache_dtype", xinf_config_str (config, "kv-cache-dtype"));
    xinf_map_put_uint (body, "max_seqs", (uint64_t) xinf_config_int (config, "max-seqs"));
    xinf_map_put_uint (body, "step_tokens", (uint64_t) xinf_config_int (config, "step-tokens"));
    xinf_map_put_uint (body, "max_queued", (uint64_t) xinf_config_int (config, "max-queued"));
    xinf_map_put_str (body, "device", xinf_config_str (config, "device"));
    const char *adapters [8];
    size_t n_adapters = xinf_config_all (config, "lora", adapters, 8);
    if (n_adapters > 8) {
        fprintf (stderr, "xinf-cli: --lora given %zu times, at most 8 adapters a model\n", n_adapters);
        xinf_msg_destroy (&request);
        return 2;
    }
    if (n_adapters) {
        xinf_value_t *lora = xinf_value_new_array ();
        for (size_t index = 0; index < n_adapters; index++)
            xinf_array_push (lora, xinf_value_new_str (adapters [index]));
        xinf_map_put (body, "lora_modules", lora);
    }
    if (xinf_config_flag (config, "disable-cuda-graph"))
        xinf_map_put_bool (body, "disable_cuda_graph", true);
    if (xinf_config_int (config, "speculative-tokens")) {
        xinf_map_put_uint (body, "speculative_tokens", (uint64_t) xinf_config_int (config, "speculative-tokens"));
        //  The bounds given (the supervisor moves a default past a bound given alone)
        const char *bounds [][2] = { { "prompt-lookup-min", "prompt_lookup_min" },
                                     { "prompt-lookup-max", "prompt_lookup_max" } };
        for (size_t index = 0; index < 2; index++)
            if (!streq (xinf_config_source (config, bounds [index][0]), "default"))
                xinf_map_put_uint (body, bounds [index][1], (uint64_t) xinf_config_int (config, bounds [index][0]));
    }
    xinf_msg_t *reply = s_request (config, dealer, &request, "LAUNCH_REPLY");
    if (!reply)
        return 1;
    const xinf_value_t *warnings = xinf_map_get (xinf_msg_body (reply), "warnings");
    for (size_t index = 0; index < xinf_value_count (warnings); index++)
        fprintf (stderr, "xinf-cli: warning: %s\n", xinf_value_str (xinf_array_at (warnings, index)));
    bool no_wait = xinf_config_flag (config, "no-wait");
    if (no_wait)
        s_print (config, xinf_msg_body (reply));
    if (no_wait && !xinf_config_flag (config, "json"))
        printf ("%s accepted, loading\n", uid);
    xinf_msg_destroy (&reply);
    return no_wait ? 0 : s_follow (config, dealer, uid);
}

static int
s_models (xinf_config_t *config, xinf_dealer_t *dealer)
{
    xinf_msg_t *request = xinf_msg_new ("LIST_MODELS");
    xinf_msg_t *reply = s_request (config, dealer, &request, "LIST_MODELS_REPLY");
    if (!reply)
        return 1;
    xinf_value_t *models = xinf_map_get (xinf_msg_body (reply), "models");
    if (xinf_config_flag (config, "json"))
        s_print (config, xinf_msg_body (reply));
    else {
        printf ("%-20s %-11s %-6s %-6s %10s %-24s %s\n", "UID", "STATE", "ARCH", "TYPE", "SIZE_MB", "WORKERS", "PATH");
        for (size_t index = 0; index < xinf_value_count (models); index++) {
            xinf_value_t *model = xinf_array_at (models, index);
            xinf_value_t *replicas = xinf_map_get (model, "replicas");
            char workers [256] = "";
            for (size_t at = 0; at < xinf_value_count (replicas); at++) {
                size_t used = strlen (workers);
                xinf_value_t *replica = xinf_array_at (replicas, at);
                xinf_value_t *ranks = xinf_map_get (replica, "ranks");
                snprintf (workers + used, sizeof workers - used, "%s", at ? "," : "");
                for (size_t rank = 0; rank < (ranks ? xinf_value_count (ranks) : 1); rank++) {
                    used = strlen (workers);
                    const char *node = ranks ? xinf_value_str (xinf_map_get (xinf_array_at (ranks, rank), "worker"))
                                             : xinf_value_str (xinf_map_get (replica, "worker"));
                    snprintf (workers + used, sizeof workers - used, "%s%s", rank ? "+" : "", node ? node : "?");
                }
            }
            printf ("%-20s %-11s %-6s %-6s %10.1f %-24s %s\n", xinf_value_str (xinf_map_get (model, "uid")) ?: "?",
                    xinf_value_str (xinf_map_get (model, "state")) ?: "?", xinf_value_str (xinf_map_get (model, "arch")) ?: "-",
                    xinf_value_str (xinf_map_get (model, "type")) ?: "-",
                    (double) xinf_value_uint (xinf_map_get (model, "size_bytes")) / 1e6, workers,
                    xinf_value_str (xinf_map_get (model, "path")) ?: "?");
            //  Why a model is not ready, under its row
            const char *error = xinf_value_str (xinf_map_get (model, "error"));
            if (error && *error)
                printf ("%-20s %s\n", "", error);
        }
        if (xinf_value_count (models) == 0)
            printf ("(no models)\n");
    }
    xinf_msg_destroy (&reply);
    return 0;
}

//  After TERMINATE the model is `stopping` until its workers unloaded it:
//  polls LAUNCH_PROGRESS until the uid is unknown (gone), at most 15 s.
//  True when it is gone.
static bool
s_wait_gone (xinf_config_t *config, xinf_dealer_t *dealer, const char *uid)
{
    int64_t deadline = zclock_mono () + 15000;
    while (zclock_mono () < deadline) {
        xinf_msg_t *request = xinf_msg_new ("LAUNCH_PROGRESS");
        xinf_map_put_str (xinf_msg_body (request), "uid", uid);
        char error [256];
        xinf_msg_t *reply = xinf_dealer_request (dealer, &request, (int) xinf_config_int (config, "timeout"),
                                                 error, sizeof error);
        const char *code = reply && xinf_msg_is (reply, "ERROR")
                         ? xinf_value_str (xinf_map_get (xinf_msg_body (reply), "code")) : NULL;
        bool gone = code && streq (code, "UNKNOWN_MODEL");
        xinf_msg_destroy (&reply);
        if (gone)
            return true;
        zclock_sleep (100);
    }
    return false;
}

static int
s_terminate (xinf_config_t *config, xinf_dealer_t *dealer)
{
    xinf_msg_t *request = xinf_msg_new ("TERMINATE");
    xinf_map_put_str (xinf_msg_body (request), "uid", xinf_config_positional (config, 1));
    xinf_msg_t *reply = s_request (config, dealer, &request, "TERMINATE_REPLY");
    if (!reply)
        return 1;
    const char *uid = xinf_config_positional (config, 1);
    bool gone = s_wait_gone (config, dealer, uid);
    if (xinf_config_flag (config, "json")) {
        xinf_map_put_bool (xinf_msg_body (reply), "unloaded", gone);
        s_print (config, xinf_msg_body (reply));
    }
    else
    if (gone)
        printf ("%s terminated: its workers unloaded it\n", uid);
    else
        printf ("%s terminated; still stopping after 15 s (a worker has not confirmed: see `xinf-cli models`)\n",
                uid);
    xinf_msg_destroy (&reply);
    return 0;
}

//  "1,2,3" -> array of uint; NULL when not a list of non-negative integers.
static xinf_value_t *
s_parse_ids (const char *text)
{
    xinf_value_t *ids = xinf_value_new_array ();
    const char *at = text;
    while (*at) {
        char *end;
        if (*at < '0' || *at > '9') {
            xinf_value_destroy (&ids);
            return NULL;
        }
        unsigned long long id = strtoull (at, &end, 10);
        xinf_array_push (ids, xinf_value_new_uint (id));
        at = end;
        if (*at == ',' && at [1])
            at++;
        else
        if (*at) {
            xinf_value_destroy (&ids);
            return NULL;
        }
    }
    if (xinf_value_count (ids) == 0)
        xinf_value_destroy (&ids);
    return ids;
}

static bool
s_parse_float (const char *text, double min, double max, bool min_open, double *value)
{
    char *end;
    *value = strtod (text, &end);
    return *text && !*end && isfinite (*value) && *value <= max && (min_open ? *value > min : *value >= min);
}

//  --logit-bias ID:B,ID:B as GENERATE's logit_bias items; NULL if the text
//  is not such a list (the node checks the ids against the vocabulary).
static xinf_value_t *
s_parse_biases (const char *text)
{
    xinf_value_t *biases = xinf_value_new_array ();
    const char *at = text;
    while (*at) {
        char *end;
        if (!isdigit ((unsigned char) *at))
            break;
        unsigned long long id = strtoull (at, &end, 10);
        if (*end != ':' || id > UINT32_MAX)
            break;
        const char *number = end + 1;          //  decimal only: no space, no hex
        double bias = strtod (number, &end);
        if (end == number || strspn (number, "+-.0123456789eE") < (size_t) (end - number) || !isfinite (bias) || fabs (bias) > 100 || (*end && *end != ',') || xinf_value_count (biases) == 2048)
            break;
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_uint (item, "token", id);
        xinf_map_put_float (item, "bias", bias);
        xinf_array_push (biases, item);
        at = end;
        if (*at == ',' && *++at == 0)
            at--;                     //  a trailing comma: refused
    }
    if (*at || xinf_value_count (biases) == 0)
        xinf_value_destroy (&biases);
    return biases;
}

//  A text file of at most 'limit' bytes (a heap string), or NULL.
static char *
s_read_text (const char *path, size_t limit)
{
    FILE *file = fopen (path, "rb");
    char *text = file ? calloc (limit + 2, 1) : NULL;
    size_t size = text ? fread (text, 1, limit + 1, file) : 0;
    if (file)
        fclose (file);
    if (text && (size == 0 || size > limit || strlen (text) != size)) {
        free (text);
        text = NULL;
    }
    return text;
}

//  --embed: GENERATE embed (max_tokens 0), the sampling flags unused.
static void
s_embed_request (xinf_config_t *config, xinf_value_t *body)
{
    xinf_map_put_uint (body, "max_tokens", 0);
    xinf_map_put_bool (body, "embed", true);
    if (xinf_config_str (config, "pooling"))
        xinf_map_put_str (body, "pooling", xinf_config_str (config, "pooling"));
}

//  An embedding as a JSON array of floats on stdout, its size on stderr.
static void
s_print_embedding (const xinf_value_t *body)
{
    const xinf_value_t *floats = xinf_map_get (body, "embedding");
    printf ("[");
    for (size_t index = 0; index < xinf_value_count (floats); index++)
        printf ("%s%.9g", index ? ", " : "", xinf_value_float (xinf_array_at (floats, index)));
    printf ("]\n");
    fprintf (stderr, "[embedding: %zu floats, %zu prompt tokens, worker %s]\n", xinf_value_count (floats),
             xinf_value_count (xinf_map_get (body, "prompt_tokens")), xinf_value_str (xinf_map_get (body, "worker")) ?: "?");
}

//  Builds the GENERATE body from the flags; NULL (reason printed) if bad.
static xinf_msg_t *
s_generate_request (xinf_config_t *config)
{
    const char *prompt = xinf_config_str (config, "prompt");
    const char *ids_text = xinf_config_str (config, "prompt-tokens");
    const char *bias_text = xinf_config_str (config, "logit-bias");
    const char *logprobs_text = xinf_config_str (config, "logprobs");
    const char *prompt_text = xinf_config_str (config, "prompt-logprobs");
    const char *stops_text = xinf_config_str (config, "stop-token-ids");
    const char *schema_path = xinf_config_str (config, "json-schema");
    char *schema = schema_path ? s_read_text (schema_path, 65536) : NULL;
    const char *grammar_path = xinf_config_str (config, "grammar");
    char *grammar = grammar_path ? s_read_text (grammar_path, 16384) : NULL;
    double temperature, top_p, min_p, presence, frequency, repetition, logprobs = 0, prompt_logprobs = 0;
    xinf_value_t *ids = ids_text ? s_parse_ids (ids_text) : NULL;
    xinf_value_t *biases = bias_text ? s_parse_biases (bias_text) : NULL;
    xinf_value_t *stop_ids = stops_text ? s_parse_ids (stops_text) : NULL;
    if ((prompt != NULL) == (ids_text != NULL))
        fprintf (stderr, "xinf-cli: generate needs exactly one of --prompt and --prompt-tokens\n");
    else
    if (ids_text && !ids)
        fprintf (stderr, "xinf-cli: --prompt-tokens: '%s' is not a list of token ids like 1,2,3\n", ids_text);
    else
    if (schema_path && !schema)
        fprintf (stderr, "xinf-cli: --json-schema: cannot read '%s' (a file of at most 64 KiB)\n", schema_path);
    else
    if (grammar_path && !grammar)
        fprintf (stderr, "xinf-cli: --grammar: cannot read '%s' (a file of at most 16 KiB)\n", grammar_path);
    else
    if (stops_text && (!stop_ids || xinf_value_count (stop_ids) > 64))
        fprintf (stderr, "xinf-cli: --stop-token-ids: '%s' is not a list of up to 64 token ids like 1,2,3\n",
                 stops_text);
    else
    if (!s_parse_float (xinf_config_str (config, "temperature"), 0, 100, false, &temperature))
        fprintf (stderr, "xinf-cli: --temperature must be a number in [0, 100]\n");
    else
    if (!s_parse_float (xinf_config_str (config, "top-p"), 0, 1, true, &top_p))
        fprintf (stderr, "xinf-cli: --top-p must be a number in (0, 1]\n");
    else
    if (!s_parse_float (xinf_config_str (config, "min-p"), 0, 1, false, &min_p))
        fprintf (stderr, "xinf-cli: --min-p must be a number in [0, 1]\n");
    else
    if (!s_parse_float (xinf_config_str (config, "presence-penalty"), -2, 2, false, &presence)
    ||  !s_parse_float (xinf_config_str (config, "frequency-penalty"), -2, 2, false, &frequency))
        fprintf (stderr, "xinf-cli: --presence-penalty and --frequency-penalty must be numbers in [-2, 2]\n");
    else
    if (!s_parse_float (xinf_config_str (config, "repetition-penalty"), 0.01, 10, false, &repetition))
        fprintf (stderr, "xinf-cli: --repetition-penalty must be a number in [0.01, 10]\n");
    else
    if (bias_text && !biases)
        fprintf (stderr, "xinf-cli: --logit-bias: '%s' is not a list of up to 2048 ID:BIAS like 13:-100,42:2.5, "
                 "each bias in [-100, 100]\n", bias_text);
    else
    if (logprobs_text && (strspn (logprobs_text, "0123456789") != strlen (logprobs_text)
                      ||  !s_parse_float (logprobs_text, 0, 20, false, &logprobs)))
        fprintf (stderr, "xinf-cli: --logprobs must be an integer in [0, 20]\n");
    else
    if (prompt_text && (strspn (prompt_text, "0123456789") != strlen (prompt_text)
                    ||  !s_parse_float (prompt_text, 0, 20, false, &prompt_logprobs)))
        fprintf (stderr, "xinf-cli: --prompt-logprobs must be an integer in [0, 20]\n");
    else {
        xinf_msg_t *request = xinf_msg_new ("GENERATE");
        xinf_value_t *body = xinf_msg_body (request);
        xinf_map_put_str (body, "uid", xinf_config_positional (config, 1));
        if (prompt)
            xinf_map_put_str (body, "prompt", prompt);
        else
            xinf_map_put (body, "prompt_tokens", ids);
        if (xinf_config_flag (config, "embed")) {
            s_embed_request (config, body);
            xinf_value_destroy (&biases);
            xinf_value_destroy (&stop_ids);
            free (schema);
            free (grammar);
            return request;
        }
        xinf_map_put_uint (body, "max_tokens", (uint64_t) xinf_config_int (config, "max-tokens"));
        xinf_map_put_float (body, "temperature", temperature);
        xinf_map_put_uint (body, "top_k", (uint64_t) xinf_config_int (config, "top-k"));
        xinf_map_put_float (body, "top_p", top_p);
        if (min_p > 0)
            xinf_map_put_float (body, "min_p", min_p);
        xinf_map_put_uint (body, "seed", (uint64_t) xinf_config_int (config, "seed"));
        if (xinf_config_int (config, "priority"))
            xinf_map_put_int (body, "priority", xinf_config_int (config, "priority"));
        if (xinf_config_str (config, "lora"))
            xinf_map_put_str (body, "lora", xinf_config_str (config, "lora"));
        if (presence != 0)
            xinf_map_put_float (body, "presence_penalty", presence);
        if (frequency != 0)
            xinf_map_put_float (body, "frequency_penalty", frequency);
        if (repetition != 1)
            xinf_map_put_float (body, "repetition_penalty", repetition);
        if (!streq (xinf_config_source (config, "repetition-last-n"), "default"))
            xinf_map_put_uint (body, "repetition_last_n", (uint64_t) xinf_config_int (config, "repetition-last-n"));
        if (biases)
            xinf_map_put (body, "logit_bias", biases);
        if (xinf_config_flag (config, "ignore-eos"))
            xinf_map_put_bool (body, "ignore_eos", true);
        if (streq (xinf_config_str (config, "response-format"), "json_object") && !schema)
            xinf_map_put_str (body, "response_format", "json_object");
        if (schema) {
            xinf_map_put_str (body, "response_format", "json_schema");
            xinf_map_put_str (body, "json_schema", schema);
            free (schema);
        }
        if (grammar) {
            xinf_map_put_str (body, "response_format", "grammar");
            xinf_map_put_str (body, "grammar", grammar);
            free (grammar);
        }
        if (xinf_config_str (config, "regex")) {
            xinf_map_put_str (body, "response_format", "regex");
            xinf_map_put_str (body, "regex", xinf_config_str (config, "regex"));
        }
        if (stop_ids)
            xinf_map_put (body, "stop_token_ids", stop_ids);
        if (xinf_config_int (config, "min-tokens") > 0)
            xinf_map_put_uint (body, "min_tokens", (uint64_t) xinf_config_int (config, "min-tokens"));
        if (logprobs_text) {
            xinf_map_put_bool (body, "logprobs", true);
            xinf_map_put_uint (body, "top_logprobs", (uint64_t) logprobs);
        }
        if (prompt_text)
            xinf_map_put_uint (body, "prompt_logprobs", (uint64_t) prompt_logprobs);
        xinf_map_put_bool (body, "stream", xinf_config_flag (config, "stream"));
        return request;
    }
    xinf_value_destroy (&ids);
    xinf_value_destroy (&biases);
    xinf_value_destroy (&stop_ids);
    free (schema);
    free (grammar);
    return NULL;
}

//  A scored prompt's log-likelihood and perplexity (prompt_logprobs:
//  every token's but the first's) on stderr.
static void
s_print_scored (const xinf_value_t *entries)
{
    double sum = 0;
    size_t count = 0;
    for (size_t index = 0; index < xinf_value_count (entries); index++) {
        const xinf_value_t *logprob = xinf_map_get (xinf_array_at (entries, index), "logprob");
        if (logprob) {
            sum += xinf_value_float (logprob);
            count++;
        }
    }
    fprintf (stderr, "[prompt: %zu tokens scored, log-likelihood %.4f, perplexity %.4f]\n", count, sum,
             count ? exp (-sum / (double) count) : 1.0);
}

static void
s_print_result (xinf_config_t *config, xinf_value_t *body)
{
    if (xinf_config_flag (config, "json")) {
        s_print (config, body);
        return;
    }
    if (xinf_map_get (body, "embedding")) {
        s_print_embedding (body);
        return;
    }
    if (!xinf_config_flag (config, "stream")) {
        size_t length;
        const char *text = xinf_value_bytes (xinf_map_get (body, "text"), &length);
        fwrite (text ? text : "", 1, text ? length : 0, stdout);
    }
    xinf_value_t *timings = xinf_map_get (body, "timings");
    if (xinf_map_get (body, "prompt_logprobs"))
        s_print_scored (xinf_map_get (body, "prompt_logprobs"));
    fprintf (stderr, "\n[%s, %zu tokens, prefill %.1f tok/s, decode %.1f tok/s, worker %s]\n",
             xinf_value_str (xinf_map_get (body, "finish_reason")) ?: "?",
             xinf_value_count (xinf_map_get (body, "tokens")),
             xinf_value_float (xinf_map_get (timings, "prefill_tokens_per_s")),
             xinf_value_float (xinf_map_get (timings, "decode_tokens_per_s")),
             xinf_value_str (xinf_map_get (body, "worker")) ?: "?");
}

static int
s_generate (xinf_config_t *config, xinf_dealer_t *dealer)
{
    xinf_msg_t *request = s_generate_request (config);
    if (!request)
        return 2;
    //  A whole generation may take long: the wait is per message received
    int timeout = strcmp (xinf_config_source (config, "timeout"), "default")
                ? (int) xinf_config_int (config, "timeout") : 300000;
    xinf_msg_set_deadline (request, (uint64_t) timeout);
    xinf_msg_set_corr (request, (uint64_t) zclock_time ());
    uint64_t corr = xinf_msg_corr (request);
    if (xinf_dealer_send (dealer, &request)) {
        fprintf (stderr, "xinf-cli: cannot send to %s\n", xinf_dealer_endpoint (dealer));
        return 1;
    }
    while (true) {
        char error [256];
        xinf_msg_t *reply = xinf_dealer_recv (dealer, timeout, error, sizeof error);
        if (!reply) {
            xinf_cli_no_reply (dealer, error);
            return 1;
        }
        int rc = -1;
        if (xinf_msg_corr (reply) != corr)
            ;                          //  a stale reply
        else
        if (xinf_cli_is_error (reply))
            rc = 1;
        else
        if (xinf_msg_is (reply, "GENERATE_TOKEN") && !xinf_config_flag (config, "json")) {
            if (xinf_map_get (xinf_msg_body (reply), "prompt_logprobs"))
                s_print_scored (xinf_map_get (xinf_msg_body (reply), "prompt_logprobs"));
            size_t length;
            const char *text = xinf_value_bytes (xinf_map_get (xinf_msg_body (reply), "text"), &length);
            fwrite (text ? text : "", 1, text ? length : 0, stdout);
            fflush (stdout);
        }
        else
        if (xinf_msg_is (reply, "GENERATE_REPLY")) {
            s_print_result (config, xinf_msg_body (reply));
            rc = 0;
        }
        xinf_msg_destroy (&reply);
        if (rc >= 0)
            return rc;
    }
}

int
xinf_cli_models_run (xinf_config_t *config, xinf_dealer_t *dealer, const char *command)
{
    if (streq (command, "launch"))
        return s_launch (config, dealer);
    if (streq (command, "models"))
        return s_models (config, dealer);
    if (streq (command, "terminate"))
        return s_terminate (config, dealer);
    return s_generate (config, dealer);
}
