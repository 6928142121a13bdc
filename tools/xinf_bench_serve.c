/*  xinf-bench-serve: serving throughput and latency with N concurrent
    streaming clients, beside llama.cpp's llama-batched-bench on the same
    file and threads in the same run.

        xinf-bench-serve [--clients 1,4,16,64] [--model FILE] [--threads N]
                         [--prompt-tokens P] [--max-tokens M] [--requests R]
                         [--temperature T] [--top-p P] [--logprobs N]
                         [-e ENDPOINT [--uid UID]] [--launch-args "..."]
                         [--node-args "..."] [--llamacpp DIR|off]
                         [--llamacpp-args "..."] [--long-prompt 2000]
                         [--quiet-wait S] [--json]

    By default it starts a local node (xinf-node --role=local on a free
    loopback port), generates the Qwen2.5-0.5B shape in Q8_0 into a cache
    path when no --model is given, launches it with xinf-cli (so every
    launch flag that xinf-cli knows can be passed with --launch-args), and
    stops the node at the end. Each client is a DEALER speaking the client
    protocol (GENERATE with stream, prompt_tokens so the prompt length is
    exact; greedy unless --temperature T, with --top-p P, a seed per
    request: llama-batched-bench samples nothing; with --logprobs N each
    token's log-probability and N most likely tokens'), one request at a time;
    all clients live in one poll loop, so the benchmark takes little CPU
    from the node.

    Per N: aggregate generated tok/s (tokens / wall time), decode tok/s
    (tokens after each request's first / time during which some request was
    decoding), full-batch decode tok/s (tokens while all N requests decoded
    at once / that time: what llama.cpp's S_TG measures, and what the
    xN=1 and xllama ratios compare), time to first token and inter-token
    latency p50/p99. The
    llama.cpp row is llama-batched-bench -npp P -ntg M -npl N (run just
    before xinf's run of N, while the node idles, so that other load on the
    machine hits both alike): S_TG is its decode tok/s, N*M/T its generated
    tok/s. --long-prompt L: K streams decode while one client sends an
    L-token prompt; the streams' inter-token gaps that overlap its prefill
    give p50, p99 and p99/p50. On a shared machine --quiet-wait S waits for
    an idle second before each measurement.
*/
#include "xinf_bench_serve_load.h"
#include "xinf_bench_llama_batched.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const xinf_option_t s_options [] = {
    { "endpoint", 'e', NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "ENDPOINT",
      "an existing supervisor (default: start a local node)" },
    { "uid", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "UID", "with -e: a model launched already (default: launch one)" },
    { "model", 'm', NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "GGUF file (default: the qwen2.5-0.5b Q8_0 shape, generated into the cache)" },
    { "threads", 't', NULL, XINF_OPT_INT, "2", 1, 1024, NULL, "N", "compute threads (xinf and llama.cpp)" },
    { "clients", 'n', NULL, XINF_OPT_STR, "1,4,16,64", 0, 0, NULL, "N,N,..", "concurrent clients per run" },
    { "requests", 'r', NULL, XINF_OPT_INT, "1", 1, 100000, NULL, "R", "requests per client, one after the other" },
    { "rounds", 0, NULL, XINF_OPT_INT, "1", 1, 16, NULL, "K",
      "measure every N K times, the Ns alternating; ratios are taken within a round, then their median" },
    { "prompt-tokens", 'p', NULL, XINF_OPT_INT, "32", 1, 1000000, NULL, "P", "prompt length in tokens" },
    { "max-tokens", 'M', NULL, XINF_OPT_INT, "64", 1, 1000000, NULL, "M", "tokens generated per request" },
    { "temperature", 0, NULL, XINF_OPT_STR, "0", 0, 0, NULL, "T", "xinf's requests sample at T (0: greedy)" },
    { "top-p", 0, NULL, XINF_OPT_STR, "1", 0, 0, NULL, "P", "with --temperature: top-p in (0, 1]" },
    { "logprobs", 0, NULL, XINF_OPT_INT, "-1", -1, 20, NULL, "N",
      "xinf's requests ask each token's log-probability and N most likely tokens' (-1: none)" },
    { "launch-args", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "\"ARGS\"",
      "extra flags for xinf-cli launch, e.g. \"--max-seqs 64\"" },
    { "node-args", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "\"ARGS\"", "extra flags for the local xinf-node" },
    { "llamacpp", 0, "XINF_LLAMACPP", XINF_OPT_STR, NULL, 0, 0, NULL, "DIR",
      "native llama.cpp build (llama-batched-bench); default tools/llamacpp/native when built; off: skip" },
    { "long-prompt", 0, NULL, XINF_OPT_INT, "0", 0, 1000000, NULL, "L",
      "interference run: an L-token prompt arrives while streams decode (0: skip)" },
    { "long-streams", 0, NULL, XINF_OPT_INT, "4", 1, 1024, NULL, "K", "interference run: streams decoding" },
    { "long-stream-tokens", 0, NULL, XINF_OPT_INT, "256", 2, 1000000, NULL, "T",
      "interference run: tokens each stream generates" },
    { "llamacpp-args", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "\"ARGS\"",
      "extra flags for llama-batched-bench, e.g. \"--poll 0\"" },
    { "keep-log", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "keep the local node's log (its path is printed; with --node-args \"--log-level debug\" it has every step)" },
    { "quiet-wait", 0, NULL, XINF_OPT_INT, "0", 0, 3600, NULL, "S",
      "before each measurement wait up to S s for a second with the CPUs 90% idle (a shared machine)" },
    { "timeout", 0, NULL, XINF_OPT_INT, "600", 1, 86400, NULL, "S", "each request's deadline: not done by then, it is an error" },
    { "json", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "print JSON instead of tables" },
    { 0 }
};

//  Every figure is a double, so that one field table prints a struct as a
//  table row and as JSON.
typedef struct {
    const char *key, *header;         //  JSON key, column header ("": JSON only)
    size_t offset;
    int width, decimals;
} s_field_t;

#define ROW(field) offsetof (xinf_load_row_t, field)
static const s_field_t s_row_fields [] = {
    { "round", "", ROW (round), 0, 0 },
    { "clients", "clients", ROW (clients), 7, 0 }, { "requests", "requests", ROW (requests), 8, 0 },
    { "errors", "errors", ROW (errors), 6, 0 }, { "tokens", "", ROW (tokens), 0, 0 },
    { "gen_tokens_per_s", "gen tok/s", ROW (gen_tok_s), 10, 1 },
    { "decode_tokens_per_s", "decode tok/s", ROW (decode_tok_s), 12, 1 },
    { "full_batch_tokens_per_s", "full tok/s", ROW (full_tok_s), 10, 1 },
    { "full_vs_n1", "xN=1", ROW (vs_n1), 6, 2 }, { "full_vs_llamacpp", "xllama", ROW (vs_llama), 6, 2 },
    { "ttft_p50_ms", "TTFT p50 ms", ROW (ttft_p50), 11, 1 }, { "ttft_p99_ms", "TTFT p99 ms", ROW (ttft_p99), 11, 1 },
    { "itl_p50_ms", "ITL p50 ms", ROW (itl_p50), 10, 1 }, { "itl_p99_ms", "ITL p99 ms", ROW (itl_p99), 10, 1 },
    { "wall_s", "wall s", ROW (wall_s), 7, 1 }, { 0 }
};

#define LLAMA(field) offsetof (xinf_llama_row_t, field)
static const s_field_t s_llama_fields [] = {
    { "round", "", LLAMA (round), 0, 0 },
    { "clients", "clients", LLAMA (clients), 7, 0 }, { "gen_tokens_per_s", "gen tok/s", LLAMA (gen_tok_s), 10, 1 },
    { "decode_tokens_per_s", "decode tok/s", LLAMA (speed_tg), 12, 1 },
    { "prefill_tokens_per_s", "prefill tok/s", LLAMA (speed_pp), 13, 1 },
    { "t_pp_s", "T_PP s", LLAMA (t_pp), 7, 2 }, { "t_tg_s", "T_TG s", LLAMA (t_tg), 7, 2 }, { 0 }
};

#define LONG(field) offsetof (xinf_load_late_t, field)
static const s_field_t s_long_fields [] = {
    { "streams", "", LONG (streams), 0, 0 }, { "prompt_tokens", "", LONG (prompt_length), 0, 0 },
    { "errors", "", LONG (errors), 0, 0 },
    { "ttft_ms", "", LONG (ttft_ms), 0, 0 }, { "prefill_tokens_per_s", "", LONG (prefill_tok_s), 0, 0 },
    { "itl_before_p50_ms", "", LONG (before_p50), 0, 0 }, { "gaps_during", "", LONG (gaps), 0, 0 },
    { "itl_during_p50_ms", "", LONG (during_p50), 0, 0 }, { "itl_during_p99_ms", "", LONG (during_p99), 0, 0 },
    { "itl_during_max_ms", "", LONG (during_max), 0, 0 }, { "p99_over_p50", "", LONG (ratio), 0, 0 }, { 0 }
};

// ---- small helpers ----------------------------------------------------------

//  "1,4,16" -> counts; returns how many, 0 if malformed.
static size_t
s_parse_counts (const char *text, size_t *counts, size_t max)
{
    size_t count = 0;
    for (const char *at = text; *at && count < max; ) {
        char *end;
        long value = strtol (at, &end, 10);
        if (end == at || value < 1 || value > 4096 || (*end && *end != ','))
            return 0;
        counts [count++] = (size_t) value;
        at = *end ? end + 1 : end;
    }
    return count;
}

//  Splits "a b c" on whitespace into argv slots after 'used'; returns the new count.
static int
s_split_args (const char *text, char *copy, size_t copy_size, char **argv, int used, int max)
{
    if (!text)
        return used;
    snprintf (copy, copy_size, "%s", text);
    for (char *saved = NULL, *word = strtok_r (copy, " \t", &saved); word && used < max;
         word = strtok_r (NULL, " \t", &saved))
        argv [used++] = word;
    return used;
}

//  The machine's 1-minute load average: other work competing for the cores.
static double
s_load_average (void)
{
    double load = 0;
    FILE *file = fopen ("/proc/loadavg", "r");
    if (file && fscanf (file, "%lf", &load) != 1)
        load = 0;
    if (file)
        fclose (file);
    return load;
}

//  Busy and total CPU ticks since boot, from /proc/stat.
static void
s_cpu_ticks (uint64_t *busy, uint64_t *total)
{
    uint64_t fields [8] = { 0 };
    FILE *file = fopen ("/proc/stat", "r");
    if (!file || fscanf (file, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &fields [0], &fields [1], &fields [2],
                         &fields [3], &fields [4], &fields [5], &fields [6], &fields [7]) != 8)
        memset (fields, 0, sizeof fields);
    if (file)
        fclose (file);
    *total = 0;
    for (size_t index = 0; index < 8; index++)
        *total += fields [index];
    *busy = *total - fields [3] - fields [4];
}

//  Waits up to 'seconds' for a second in which the CPUs were 90% idle.
static void
s_wait_quiet (int64_t seconds)
{
    for (int64_t deadline = zclock_mono () + seconds * 1000; zclock_mono () < deadline && !zsys_interrupted; ) {
        uint64_t busy [2], total [2];
        s_cpu_ticks (&busy [0], &total [0]);
        zclock_sleep (1000);
        s_cpu_ticks (&busy [1], &total [1]);
        if (total [1] > total [0] && (double) (busy [1] - busy [0]) < 0.1 * (double) (total [1] - total [0]))
            return;
    }
    if (seconds > 0)
        fprintf (stderr, "xinf-bench-serve: the machine did not quieten down within %lld s\n", (long long) seconds);
}

//  The directory of this executable, where xinf-node and xinf-cli are built.
static void
s_own_dir (char *dir, size_t size)
{
    ssize_t length = readlink ("/proc/self/exe", dir, size - 1);
    dir [length > 0 ? length : 0] = 0;
    char *slash = strrchr (dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf (dir, size, ".");
}

// ---- processes --------------------------------------------------------------

//  Runs a program to its end, its stdout sent to our stderr; its exit status.
static int
s_run_program (char **argv)
{
    pid_t pid = fork ();
    if (pid == 0) {
        dup2 (STDERR_FILENO, STDOUT_FILENO);
        execv (argv [0], argv);
        fprintf (stderr, "xinf-bench-serve: cannot run %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    int status = 0;
    if (pid < 0 || waitpid (pid, &status, 0) < 0)
        return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  Starts xinf-node --role=local, allowed to load from the model's
//  directory, with output to 'log'; its pid, or -1.
static pid_t
s_node_spawn (const char *dir, const char *node_args, const char *model, const char *log)
{
    char program [PATH_MAX + 32], copy [4096], model_dir [PATH_MAX];
    snprintf (program, sizeof program, "%s/xinf-node", dir);
    const char *slash = strrchr (model, '/');
    snprintf (model_dir, sizeof model_dir, "%.*s", slash ? (int) (slash - model) : 1, slash ? model : ".");
    if (slash == model)
        snprintf (model_dir, sizeof model_dir, "/");
    char *argv [64] = { program, "--role=local", "-p", "0", "--bind", "127.0.0.1", "--node-name", "bench",
                        "--model-dir", model_dir };
    int count = s_split_args (node_args, copy, sizeof copy, argv, 10, 63);
    argv [count] = NULL;
    pid_t pid = fork ();
    if (pid == 0) {
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
        }
        execv (program, argv);
        _exit (127);
    }
    return pid;
}

//  Reads the node's log until it says where it listens; 0 with the endpoint.
static int
s_node_endpoint (pid_t pid, const char *log, char *endpoint, size_t size)
{
    const char *marker = " listening on ";
    for (int64_t deadline = zclock_mono () + 15000; zclock_mono () < deadline; zclock_sleep (50)) {
        char line [1024];
        FILE *file = fopen (log, "r");
        while (file && fgets (line, sizeof line, file)) {
            char *at = strstr (line, marker);
            if (at && strncmp (line, "xinf-node supervisor", 20) == 0) {
                snprintf (endpoint, size, "%s", at + strlen (marker));
                endpoint [strcspn (endpoint, "\r\n")] = 0;
                fclose (file);
                return 0;
            }
        }
        if (file)
            fclose (file);
        if (waitpid (pid, NULL, WNOHANG) == pid)
            break;
    }
    fprintf (stderr, "xinf-bench-serve: the node did not start; its log: %s\n", log);
    return -1;
}

//  Stops our node: SIGTERM, then SIGKILL after 5 s.
static void
s_node_stop (pid_t pid)
{
    if (pid <= 0)
        return;
    kill (pid, SIGTERM);
    for (int tries = 0; tries < 100; tries++) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return;
        zclock_sleep (50);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

//  Waits until the supervisor lists an alive worker; 0 when it does.
static int
s_wait_worker (const char *endpoint)
{
    xinf_dealer_t *dealer = xinf_dealer_new (endpoint, "xinf-bench-serve");
    int rc = -1;
    for (int64_t deadline = zclock_mono () + 15000; dealer && rc && zclock_mono () < deadline; ) {
        xinf_msg_t *request = xinf_msg_new ("CLUSTER_INFO");
        char error [256];
        xinf_msg_t *reply = xinf_dealer_request (dealer, &request, 2000, error, sizeof error);
        xinf_value_t *workers = reply ? xinf_map_get (xinf_msg_body (reply), "workers") : NULL;
        for (size_t index = 0; index < xinf_value_count (workers); index++) {
            const char *state = xinf_value_str (xinf_map_get (xinf_array_at (workers, index), "state"));
            if (state && streq (state, "alive"))
                rc = 0;
        }
        xinf_msg_destroy (&reply);
        if (rc)
            zclock_sleep (100);
    }
    if (rc)
        fprintf (stderr, "xinf-bench-serve: no alive worker at %s\n", endpoint);
    xinf_dealer_destroy (&dealer);
    return rc;
}

// ---- model and launch -------------------------------------------------------

//  The model file: --model, or the generated qwen2.5-0.5b Q8_0 shape in the cache.
static int
s_model_path (xinf_config_t *config, const char *dir, char *path, size_t size)
{
    if (xinf_config_str (config, "model")) {
        snprintf (path, size, "%s", xinf_config_str (config, "model"));
        return access (path, R_OK) == 0 ? 0 : (fprintf (stderr, "xinf-bench-serve: cannot read %s\n", path), -1);
    }
    const char *cache = getenv ("XDG_CACHE_HOME");
    char folder [PATH_MAX];
    if (cache && *cache)
        snprintf (folder, sizeof folder, "%s/xinf", cache);
    else
        snprintf (folder, sizeof folder, "%s/.cache/xinf", getenv ("HOME") ? getenv ("HOME") : "/tmp");
    if (snprintf (path, size, "%s/qwen2.5-0.5b-q8_0-seed1.gguf", folder) >= (int) size)
        return -1;
    if (access (path, R_OK) == 0)
        return 0;
    char parent [PATH_MAX + 16], program [PATH_MAX + 32], partial [PATH_MAX + 16];
    snprintf (parent, sizeof parent, "%.*s", (int) (strrchr (folder, '/') - folder), folder);
    mkdir (parent, 0755);
    mkdir (folder, 0755);
    snprintf (program, sizeof program, "%s/xinf-make-model", dir);
    snprintf (partial, sizeof partial, "%s.partial", path);
    char *argv [] = { program, "--preset", "qwen2.5-0.5b", "--arch", "qwen2", "--type", "q8_0",
                      "--seed", "1", "-o", partial, NULL };
    fprintf (stderr, "xinf-bench-serve: generating %s\n", path);
    if (s_run_program (argv) != 0 || rename (partial, path) != 0) {
        fprintf (stderr, "xinf-bench-serve: could not generate %s\n", path);
        return -1;
    }
    return 0;
}

//  xinf-cli launch UID PATH --threads N [launch args]; 0 once ready.
static int
s_launch (xinf_config_t *config, const char *dir, const char *endpoint, const char *uid, const char *path)
{
    char program [PATH_MAX + 32], copy [4096], threads [32];
    snprintf (program, sizeof program, "%s/xinf-cli", dir);
    snprintf (threads, sizeof threads, "%lld", (long long) xinf_config_int (config, "threads"));
    char *argv [72] = { program, "-e", (char *) endpoint, "launch", (char *) uid, (char *) path,
                        "--threads", threads, "--stall-timeout-ms", "600000" };
    int count = s_split_args (xinf_config_str (config, "launch-args"), copy, sizeof copy, argv, 10, 71);
    argv [count] = NULL;
    int rc = s_run_program (argv);
    if (rc != 0)
        fprintf (stderr, "xinf-bench-serve: launch of %s failed (xinf-cli status %d)\n", path, rc);
    return rc;
}

//  xinf-cli terminate UID, for a model we launched on someone's supervisor.
static void
s_terminate (const char *dir, const char *endpoint, const char *uid)
{
    char program [PATH_MAX + 32];
    snprintf (program, sizeof program, "%s/xinf-cli", dir);
    char *argv [] = { program, "-e", (char *) endpoint, "terminate", (char *) uid, NULL };
    s_run_program (argv);
}

//  K streams decode; once they produced 8 tokens each (in total), one
//  client sends a long prompt. Measures the streams' gaps during its prefill.
static xinf_load_late_t
s_long_measure (xinf_config_t *config, const char *endpoint, const char *uid)
{
    size_t streams = (size_t) xinf_config_int (config, "long-streams");
    xinf_load_t *load = xinf_load_new (endpoint, uid, streams + 1, 1, (size_t) xinf_config_int (config, "prompt-tokens"),
                                       (size_t) xinf_config_int (config, "long-stream-tokens"),
                                       xinf_config_int (config, "timeout"));
    xinf_load_set_client (load, streams, (size_t) xinf_config_int (config, "long-prompt"), 4, 8 * streams);
    xinf_load_run (load);
    xinf_load_late_t result = xinf_load_late (load, streams);
    xinf_load_destroy (&load);
    return result;
}

// ---- report -----------------------------------------------------------------

//  What one benchmark run measures, and what it found.
typedef struct {
    xinf_config_t *config;
    char dir [PATH_MAX], model [PATH_MAX], llama_dir [PATH_MAX];
    bool llama;                       //  a native llama.cpp build was found
    size_t counts [32], count;
    size_t rounds, done;              //  --rounds, and the rounds measured whole
    xinf_load_row_t rows [16][32];
    xinf_llama_row_t llama_rows [16][32];
    size_t llama_count [16];
    xinf_load_late_t late;
} s_bench_t;

//  value / base, or 0 when there is no base.
static double
s_ratio (double value, double base)
{
    return base > 0 ? value / base : 0;
}

//  Fills each row's ratios: full-batch decode against N=1 (when measured)
//  and against llama.cpp's S_TG (both: all sequences decoding at once).
static void
s_rows_compare (xinf_load_row_t *rows, size_t count, xinf_llama_row_t *llama, size_t llama_count)
{
    double base = 0;
    for (size_t index = 0; index < count; index++)
        base = rows [index].clients == 1 ? rows [index].full_tok_s : base;
    for (size_t index = 0; index < count; index++) {
        rows [index].vs_n1 = s_ratio (rows [index].full_tok_s, base);
        for (size_t at = 0; at < llama_count; at++)
            if (llama [at].clients == rows [index].clients)
                rows [index].vs_llama = s_ratio (rows [index].full_tok_s, llama [at].speed_tg);
    }
}

//  One table: the header, then a line per record; a ratio column (its
//  header starts with 'x') prints "-" for 0, a figure it has no base for.
static void
s_print_table (const s_field_t *fields, const void *records, size_t size, size_t count)
{
    for (const s_field_t *field = fields; field->key; field++)
        if (*field->header)
            printf ("%s%*s", field == fields ? "" : " ", field->width, field->header);
    printf ("\n");
    for (size_t index = 0; index < count; index++) {
        for (const s_field_t *field = fields; field->key; field++) {
            double value = *(const double *) ((const char *) records + index * size + field->offset);
            const char *space = field == fields ? "" : " ";
            if (*field->header == 'x' && value == 0)
                printf ("%s%*s", space, field->width, "-");
            else
            if (*field->header)
                printf ("%s%*.*f", space, field->width, field->decimals, value);
        }
        printf ("\n");
    }
}

//  The row the targets judge: N=16, or the most clients measured.
static const xinf_load_row_t *
s_target_row (const xinf_load_row_t *rows, size_t count)
{
    const xinf_load_row_t *target = &rows [count - 1];
    for (size_t index = 0; index < count; index++)
        target = rows [index].clients == 16 ? &rows [index] : target;
    return target;
}

//  One round's tables for people, and the targets: decode at N=16 (or the
//  most clients) against N=1 and against llama.cpp.
static void
s_print_round (const xinf_load_row_t *rows, size_t count, const xinf_llama_row_t *llama, size_t llama_count)
{
    s_print_table (s_row_fields, rows, sizeof *rows, count);
    if (llama_count) {
        printf ("\nllama.cpp llama-batched-bench (native build, same file and threads):\n");
        s_print_table (s_llama_fields, llama, sizeof *llama, llama_count);
    }
    const xinf_load_row_t *target = s_target_row (rows, count);
    printf ("\n");
    if (target->vs_n1 > 0 && target->clients != 1)
        printf ("full-batch decode N=%.0f / N=1: %.2fx (target >= 4x)\n", target->clients, target->vs_n1);
    for (size_t index = 0; index < llama_count; index++)
        if (llama [index].clients == target->clients)
            printf ("full-batch decode N=%.0f, xinf / llama.cpp S_TG: %.2fx (target >= 1.2x); generated tok/s: %.2fx\n",
                    target->clients, target->vs_llama, s_ratio (target->gen_tok_s, llama [index].gen_tok_s));
}

static int
s_compare_doubles (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

//  "median M (range A-B over K rounds)" of a ratio, each taken within its round.
static void
s_print_spread (const char *what, const char *target, double *values, size_t count)
{
    qsort (values, count, sizeof *values, s_compare_doubles);
    double median = count % 2 ? values [count / 2] : (values [count / 2 - 1] + values [count / 2]) / 2;
    printf ("%s: median %.2fx (range %.2f-%.2f over %zu rounds, each within its round) (target %s)\n",
            what, median, values [0], values [count - 1], count, target);
}

//  Over the rounds: the target ratios' medians and ranges.
static void
s_print_rounds (s_bench_t *bench)
{
    double vs_n1 [16], vs_llama [16];
    size_t n1_count = 0, llama_count = 0;
    double clients = 0;
    for (size_t round = 0; round < bench->done; round++) {
        const xinf_load_row_t *target = s_target_row (bench->rows [round], bench->count);
        clients = target->clients;
        if (target->vs_n1 > 0 && target->clients != 1)
            vs_n1 [n1_count++] = target->vs_n1;
        if (target->vs_llama > 0)
            vs_llama [llama_count++] = target->vs_llama;
    }
    char what [128];
    printf ("\nover %zu rounds:\n", bench->done);
    snprintf (what, sizeof what, "full-batch decode N=%.0f / N=1", clients);
    if (n1_count)
        s_print_spread (what, ">= 4x", vs_n1, n1_count);
    snprintf (what, sizeof what, "full-batch decode N=%.0f, xinf / llama.cpp S_TG", clients);
    if (llama_count)
        s_print_spread (what, ">= 1.2x", vs_llama, llama_count);
}

//  The interference run's figures.
static void
s_print_late (const xinf_load_late_t *late)
{
    if (late->prompt_length > 0)
        printf ("\ninterference: %.0f streams decoding, a %.0f-token prompt arrives: its TTFT %.0f ms (%.1f tok/s), "
                "errors %.0f\n  streams' ITL before it: p50 %.1f ms; during its prefill (%.0f gaps): p50 %.1f ms, "
                "p99 %.1f ms, max %.1f ms; p99/p50 %.2f (target < 3)\n", late->streams, late->prompt_length,
                late->ttft_ms, late->prefill_tok_s, late->errors, late->before_p50, late->gaps, late->during_p50,
                late->during_p99, late->during_max, late->ratio);
}

//  Appends records to a JSON array of maps, by the field table.
static void
s_json_records (xinf_value_t *list, const s_field_t *fields, const void *records, size_t size, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        xinf_value_t *item = xinf_value_new_map ();
        for (const s_field_t *field = fields; field->key; field++) {
            double value = *(const double *) ((const char *) records + index * size + field->offset);
            if (*field->header != 'x' || value != 0)
                xinf_map_put_float (item, field->key, value);
        }
        xinf_array_push (list, item);
    }
}

//  The same figures as one JSON object; rows of every round, each with its round.
static void
s_print_json (s_bench_t *bench, double load)
{
    xinf_config_t *config = bench->config;
    xinf_value_t *report = xinf_value_new_map ();
    xinf_map_put_str (report, "model", bench->model);
    xinf_map_put_float (report, "load_average_at_start", load);
    const char *settings [] = { "threads", "prompt-tokens", "max-tokens", "requests", "rounds" };
    const char *keys [] = { "threads", "prompt_tokens", "max_tokens", "requests_per_client", "rounds" };
    for (size_t index = 0; index < 5; index++)
        xinf_map_put_uint (report, keys [index], (uint64_t) xinf_config_int (config, settings [index]));
    xinf_map_put_float (report, "temperature", strtod (xinf_config_str (config, "temperature"), NULL));
    xinf_map_put_float (report, "top_p", strtod (xinf_config_str (config, "top-p"), NULL));
    xinf_map_put_int (report, "logprobs", xinf_config_int (config, "logprobs"));
    xinf_value_t *rows = xinf_value_new_array (), *llama = xinf_value_new_array ();
    for (size_t round = 0; round < bench->done; round++) {
        s_json_records (rows, s_row_fields, bench->rows [round], sizeof (xinf_load_row_t), bench->count);
        s_json_records (llama, s_llama_fields, bench->llama_rows [round], sizeof (xinf_llama_row_t), bench->llama_count [round]);
    }
    xinf_map_put (report, "xinf", rows);
    xinf_map_put (report, "llamacpp", llama);
    if (bench->late.prompt_length > 0) {
        xinf_value_t *list = xinf_value_new_array ();
        s_json_records (list, s_long_fields, &bench->late, sizeof bench->late, 1);
        xinf_map_put (report, "long_prompt", xinf_value_dup (xinf_array_at (list, 0)));
        xinf_value_destroy (&list);
    }
    xinf_value_print_json (report, stdout);
    printf ("\n");
    xinf_value_destroy (&report);
}

// ---- main -------------------------------------------------------------------


//  One measured run of 'clients' clients; progress on stderr.
static xinf_load_row_t
s_measure (xinf_config_t *config, const char *endpoint, const char *uid, size_t clients)
{
    xinf_load_t *load = xinf_load_new (endpoint, uid, clients, (size_t) xinf_config_int (config, "requests"),
                                       (size_t) xinf_config_int (config, "prompt-tokens"),
                                       (size_t) xinf_config_int (config, "max-tokens"), xinf_config_int (config, "timeout"));
    xinf_load_set_sampling (load, strtod (xinf_config_str (config, "temperature"), NULL),
                            strtod (xinf_config_str (config, "top-p"), NULL), (long) xinf_config_int (config, "logprobs"));
    xinf_load_run (load);
    xinf_load_row_t row = xinf_load_row (load);
    xinf_load_destroy (&load);
    fprintf (stderr, "xinf-bench-serve: %.0f clients: %.1f gen tok/s, %.1f decode tok/s, %.0f errors, %.1f s\n",
             row.clients, row.gen_tok_s, row.decode_tok_s, row.errors, row.wall_s);
    return row;
}

//  Warm-up, then per N llama.cpp and xinf one right after the other (the
//  machine's other load hits both alike), then the long prompt.
static void
s_measure_all (s_bench_t *bench, const char *endpoint, const char *uid)
{
    xinf_config_t *config = bench->config;
    xinf_load_t *warm = xinf_load_new (endpoint, uid, 1, 1, (size_t) xinf_config_int (config, "prompt-tokens"), 4, 600);
    xinf_load_run (warm);
    xinf_load_destroy (&warm);
    for (size_t round = 0; round < bench->rounds && !zsys_interrupted; round++)
        for (size_t index = 0; index < bench->count && !zsys_interrupted; index++) {
            s_wait_quiet (xinf_config_int (config, "quiet-wait"));
            xinf_llama_row_t *llama = &bench->llama_rows [round][bench->llama_count [round]];
            if (bench->llama
            &&  xinf_llama_batched_run (bench->llama_dir, bench->model, xinf_config_str (config, "llamacpp-args"),
                             xinf_config_int (config, "threads"), (size_t) xinf_config_int (config, "prompt-tokens"),
                             (size_t) xinf_config_int (config, "max-tokens"), &bench->counts [index], 1, llama)) {
                llama->round = (double) round + 1;
                bench->llama_count [round]++;
            }
            s_wait_quiet (xinf_config_int (config, "quiet-wait"));
            bench->rows [round][index] = s_measure (config, endpoint, uid, bench->counts [index]);
            bench->rows [round][index].round = (double) round + 1;
            bench->done = index + 1 == bench->count ? round + 1 : bench->done;
        }
    if (xinf_config_int (config, "long-prompt") > 0 && !zsys_interrupted) {
        s_wait_quiet (xinf_config_int (config, "quiet-wait"));
        bench->late = s_long_measure (config, endpoint, uid);
    }
}

//  Node (ours or given), model launch, the runs, clean-up; 0 on success.
static int
s_serve (s_bench_t *bench)
{
    xinf_config_t *config = bench->config;
    char endpoint [512], log [PATH_MAX], uid [96];
    pid_t node = -1;
    snprintf (log, sizeof log, "/tmp/xinf-bench-serve-%d.log", (int) getpid ());
    if (xinf_config_str (config, "endpoint"))
        snprintf (endpoint, sizeof endpoint, "%s", xinf_config_str (config, "endpoint"));
    else
    if ((node = s_node_spawn (bench->dir, xinf_config_str (config, "node-args"), bench->model, log)) < 0
    ||  s_node_endpoint (node, log, endpoint, sizeof endpoint)) {
        s_node_stop (node);
        return 1;
    }
    bool launch = !xinf_config_str (config, "uid");
    snprintf (uid, sizeof uid, "%s", launch ? "bench-serve" : xinf_config_str (config, "uid"));
    if (launch && node < 0)
        snprintf (uid, sizeof uid, "bench-serve-%d", (int) getpid ());
    int rc = s_wait_worker (endpoint) || (launch && s_launch (config, bench->dir, endpoint, uid, bench->model)) ? 1 : 0;
    if (rc == 0)
        s_measure_all (bench, endpoint, uid);
    if (launch && node < 0)
        s_terminate (bench->dir, endpoint, uid);
    s_node_stop (node);
    if (node > 0 && !xinf_config_flag (config, "keep-log"))
        unlink (log);
    else
    if (node > 0)
        fprintf (stderr, "xinf-bench-serve: the node's log is %s\n", log);
    return rc;
}

//  The report, as tables or JSON.
static void
s_report (s_bench_t *bench, double load)
{
    xinf_config_t *config = bench->config;
    for (size_t round = 0; round < bench->done; round++)
        s_rows_compare (bench->rows [round], bench->count, bench->llama_rows [round], bench->llama_count [round]);
    if (xinf_config_flag (config, "json")) {
        s_print_json (bench, load);
        return;
    }
    printf ("xinf-bench-serve: %s, %lld threads, prompt %lld tokens, %lld generated per request, "
            "%lld request(s) per client, xinf sampling at temperature %s, top-p %s\n\n", bench->model,
            (long long) xinf_config_int (config, "threads"), (long long) xinf_config_int (config, "prompt-tokens"),
            (long long) xinf_config_int (config, "max-tokens"), (long long) xinf_config_int (config, "requests"),
            xinf_config_str (config, "temperature"), xinf_config_str (config, "top-p"));
    if (load > 0.5)
        printf ("warning: the load average was %.1f before the run: other processes compete for the cores, "
                "the figures are noisy\n\n", load);
    for (size_t round = 0; round < bench->done; round++) {
        if (bench->done > 1)
            printf ("%sround %zu of %zu:\n", round ? "\n" : "", round + 1, bench->done);
        s_print_round (bench->rows [round], bench->count, bench->llama_rows [round], bench->llama_count [round]);
    }
    if (bench->done > 1)
        s_print_rounds (bench);
    s_print_late (&bench->late);
}

//  Whether --temperature and --top-p are numbers in range.
static bool
s_sampling_valid (xinf_config_t *config)
{
    char *end [2];
    double temperature = strtod (xinf_config_str (config, "temperature"), &end [0]);
    double top_p = strtod (xinf_config_str (config, "top-p"), &end [1]);
    return *end [0] == 0 && *end [1] == 0 && temperature >= 0 && temperature <= 100 && top_p > 0 && top_p <= 1;
}

int
main (int argc, char **argv)
{
    s_bench_t *bench = calloc (1, sizeof *bench);
    assert (bench);
    bench->config = xinf_config_new ("xinf-bench-serve", "[OPTIONS]", s_options);
    int rc = xinf_config_parse (bench->config, argc, argv);
    bool help = rc == 1;
    if (rc < 0)
        fprintf (stderr, "xinf-bench-serve: %s\n", xinf_config_error (bench->config));
    else
    if (rc == 0 && !(bench->count = s_parse_counts (xinf_config_str (bench->config, "clients"), bench->counts, 32))) {
        fprintf (stderr, "xinf-bench-serve: --clients must be a list of counts like 1,4,16\n");
        rc = -1;
    }
    if (rc == 0 && !s_sampling_valid (bench->config)) {
        fprintf (stderr, "xinf-bench-serve: --temperature must be a number in [0, 100], --top-p one in (0, 1]\n");
        rc = -1;
    }
    bench->rounds = (size_t) xinf_config_int (bench->config, "rounds");
    if (rc == 0) {
        xinf_log_set_level (XINF_LOG_WARN);
        zsys_init ();
        double load = s_load_average ();
        s_own_dir (bench->dir, sizeof bench->dir);
        rc = s_model_path (bench->config, bench->dir, bench->model, sizeof bench->model) ? 1 : 0;
        bench->llama = xinf_llama_batched_dir (bench->config, bench->dir, bench->llama_dir, sizeof bench->llama_dir);
        rc = rc ? rc : s_serve (bench);
        if (rc == 0)
            s_report (bench, load);
    }
    xinf_config_destroy (&bench->config);
    free (bench);
    return help ? 0 : rc < 0 ? 2 : rc;
}
