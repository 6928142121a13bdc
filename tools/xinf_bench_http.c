/*  xinf-bench-http: what the HTTP gateway costs. The same streaming load
    (N concurrent clients, each one request at a time, temperature 0, the
    same prompts as token ids) through the ZeroMQ client protocol and
    through HTTP (/v1/completions with stream, server-sent events), one
    after the other in the same run, against one local node:

        xinf-bench-http [--clients 1,16,64] [--model FILE] [--threads N]
                        [--prompt-tokens P] [--max-tokens M] [--requests R]
                        [--rounds 4] [--idle 1000]

    Per N (after a warm-up run, --rounds rounds of a ZeroMQ and an HTTP
    run, the order alternating): aggregate generated tok/s of each (pooled)
    and the median of the rounds' ratios HTTP / ZeroMQ with their range
    (1.00 = the gateway costs nothing), and the time to first token. Then
    --idle streams are opened and left waiting behind a long generation: the
    node's thread count and resident memory before and with them.

    It starts xinf-node --role=local (loopback, free ports, the gateway on a
    free port), writes a model with xinf-make-model when --model is not
    given (a 4-layer, 256-wide llama: fast enough that the gateway's share
    shows), launches it with max_seqs 64, and stops the node at the end.
    On a shared machine the figures move with other load: run it twice.
*/
#include "xinf_bench_http_load.h"
#include "xinf_bench_serve_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const xinf_option_t s_options [] = {
    { "model", 'm', NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE", "GGUF file (default: a small generated llama)" },
    { "threads", 't', NULL, XINF_OPT_INT, "2", 1, 1024, NULL, "N", "compute threads of the replica" },
    { "clients", 'n', NULL, XINF_OPT_STR, "1,16,64", 0, 0, NULL, "N,N,..", "concurrent clients per run" },
    { "requests", 'r', NULL, XINF_OPT_INT, "2", 1, 100000, NULL, "R", "requests per client, one after the other" },
    { "prompt-tokens", 'p', NULL, XINF_OPT_INT, "32", 1, 100000, NULL, "P", "prompt length in tokens" },
    { "max-tokens", 'M', NULL, XINF_OPT_INT, "64", 1, 100000, NULL, "M", "tokens generated per request" },
    { "rounds", 0, NULL, XINF_OPT_INT, "4", 1, 64, NULL, "K", "rounds of one ZeroMQ and one HTTP run per N" },
    { "idle", 0, NULL, XINF_OPT_INT, "1000", 0, 100000, NULL, "K", "idle streams to hold (0: skip)" },
    { "timeout", 0, NULL, XINF_OPT_INT, "600", 1, 86400, NULL, "S", "each run's deadline" },
    { 0 }
};

static void
s_tools_dir (const char *argv0, char *dir, size_t size)
{
    ssize_t length = readlink ("/proc/self/exe", dir, size - 1);
    if (length <= 0)
        snprintf (dir, size, "%s", argv0);
    else
        dir [length] = 0;
    char *slash = strrchr (dir, '/');
    if (slash)
        *slash = 0;
}

static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    int port = -1;
    if (fd >= 0 && bind (fd, (struct sockaddr *) &address, sizeof address) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &size) == 0)
        port = ntohs (address.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

static pid_t
s_spawn (char **argv, const char *log)
{
    pid_t pid = fork ();
    if (pid == 0) {
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
        }
        execv (argv [0], argv);
        _exit (127);
    }
    return pid;
}

//  The node's ZeroMQ endpoint from its log; 0 when found.
static int
s_node_endpoint (pid_t pid, const char *log, char *endpoint, size_t size)
{
    for (int64_t deadline = zclock_mono () + 15000; zclock_mono () < deadline; zclock_sleep (50)) {
        char line [1024];
        FILE *file = fopen (log, "r");
        while (file && fgets (line, sizeof line, file)) {
            char *at = strstr (line, " listening on tcp://");
            if (at && strncmp (line, "xinf-node supervisor", 20) == 0) {
                snprintf (endpoint, size, "%s", at + strlen (" listening on "));
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
    fprintf (stderr, "xinf-bench-http: the node did not start; its log: %s\n", log);
    return -1;
}

static void
s_node_stop (pid_t pid)
{
    kill (pid, SIGTERM);
    for (int tries = 0; tries < 200 && waitpid (pid, NULL, WNOHANG) != pid; tries++)
        zclock_sleep (50);
    kill (pid, SIGKILL);
    waitpid (pid, NULL, WNOHANG);
}

//  A request to the supervisor; the reply, or NULL (said on stderr).
static xinf_msg_t *
s_request (xinf_dealer_t *dealer, xinf_msg_t *msg, int timeout_ms)
{
    char error [256];
    xinf_msg_t *reply = xinf_dealer_request (dealer, &msg, timeout_ms, error, sizeof error);
    if (!reply)
        fprintf (stderr, "xinf-bench-http: %s\n", error);
    else
    if (xinf_msg_is (reply, "ERROR")) {
        fprintf (stderr, "xinf-bench-http: %s\n", xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")) ?: "?");
        xinf_msg_destroy (&reply);
    }
    return reply;
}

//  True once the supervisor lists an alive worker (within 15 s).
static bool
s_worker_alive (xinf_dealer_t *dealer)
{
    for (int64_t deadline = zclock_mono () + 15000; zclock_mono () < deadline; zclock_sleep (100)) {
        char error [256];
        xinf_msg_t *info = xinf_msg_new ("CLUSTER_INFO");
        xinf_msg_t *reply = xinf_dealer_request (dealer, &info, 5000, error, sizeof error);
        const xinf_value_t *workers = reply ? xinf_map_get (xinf_msg_body (reply), "workers") : NULL;
        bool alive = false;
        for (size_t index = 0; index < xinf_value_count (workers) && !alive; index++) {
            const char *state = xinf_value_str (xinf_map_get (xinf_array_at (workers, index), "state"));
            alive = state && streq (state, "alive");
        }
        xinf_msg_destroy (&reply);
        if (alive)
            return true;
    }
    fprintf (stderr, "xinf-bench-http: no alive worker within 15 s\n");
    return false;
}

//  Launches 'uid' and waits until it is ready; 0 when it is.
static int
s_launch (xinf_dealer_t *dealer, const char *uid, const char *path, int64_t threads, uint64_t max_seqs,
          uint64_t max_queued)
{
    if (!s_worker_alive (dealer))
        return -1;
    for (int64_t deadline = zclock_mono () + 15000; zclock_mono () < deadline; zclock_sleep (100)) {
        xinf_msg_t *launch = xinf_msg_new ("LAUNCH");
        xinf_value_t *body = xinf_msg_body (launch);
        xinf_map_put_str (body, "uid", uid);
        xinf_map_put_str (body, "path", path);
        xinf_map_put_uint (body, "threads", (uint64_t) threads);
        xinf_map_put_uint (body, "max_seqs", max_seqs);
        xinf_map_put_uint (body, "max_queued", max_queued);
        xinf_msg_t *reply = s_request (dealer, launch, 5000);
        if (!reply)
            continue;                 //  the worker may not have registered yet
        xinf_msg_destroy (&reply);
        break;
    }
    for (int64_t deadline = zclock_mono () + 300000; zclock_mono () < deadline; zclock_sleep (200)) {
        xinf_msg_t *progress = xinf_msg_new ("LAUNCH_PROGRESS");
        xinf_map_put_str (xinf_msg_body (progress), "uid", uid);
        xinf_msg_t *reply = s_request (dealer, progress, 5000);
        const char *state = reply ? xinf_value_str (xinf_map_get (xinf_msg_body (reply), "state")) : NULL;
        int rc = state && streq (state, "ready") ? 0 : state && streq (state, "failed") ? -1 : 1;
        xinf_msg_destroy (&reply);
        if (rc <= 0)
            return rc;
    }
    return -1;
}

//  The node's threads and resident KiB from /proc.
static void
s_proc_status (pid_t pid, long *threads, long *rss_kib)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    *threads = *rss_kib = -1;
    while (file && fgets (line, sizeof line, file)) {
        sscanf (line, "Threads: %ld", threads);
        sscanf (line, "VmRSS: %ld", rss_kib);
    }
    if (file)
        fclose (file);
}

static uint64_t
s_queued (xinf_dealer_t *dealer)
{
    xinf_msg_t *reply = s_request (dealer, xinf_msg_new ("CLUSTER_INFO"), 5000);
    uint64_t queued = reply ? xinf_value_uint (xinf_map_get (xinf_map_get (xinf_msg_body (reply), "requests"), "queued")) : 0;
    xinf_msg_destroy (&reply);
    return queued;
}

//  K idle streams behind a long one on a model that runs one at a time.
static void
s_idle_run (xinf_dealer_t *dealer, pid_t pid, int port, const char *path, size_t count)
{
    if (s_launch (dealer, "idle", path, 1, 1, count + 16)) {
        fprintf (stderr, "xinf-bench-http: cannot launch the idle model\n");
        return;
    }
    long threads_before, rss_before, threads_during, rss_during;
    s_proc_status (pid, &threads_before, &rss_before);
    int *blocker = xinf_http_idle_open (port, NULL, "idle", 1, 100000);
    int *fds = xinf_http_idle_open (port, NULL, "idle", count, 16);
    for (int64_t deadline = zclock_mono () + 60000; zclock_mono () < deadline && s_queued (dealer) < count; )
        zclock_sleep (100);
    uint64_t queued = s_queued (dealer);
    s_proc_status (pid, &threads_during, &rss_during);
    printf ("\n%zu idle streams (%llu queued at the supervisor): node threads %ld -> %ld, RSS %ld -> %ld KiB "
            "(+%.1f KiB per stream)\n", count, (unsigned long long) queued, threads_before, threads_during,
            rss_before, rss_during, (double) (rss_during - rss_before) / (double) count);
    xinf_http_idle_close (&fds, count);
    xinf_http_idle_close (&blocker, 1);
}

static xinf_load_row_t
s_zmq_run (const char *endpoint, size_t clients, size_t requests, size_t prompt, size_t max, int64_t timeout)
{
    xinf_load_t *load = xinf_load_new (endpoint, "bench", clients, requests, prompt, max, timeout);
    xinf_load_run (load);
    xinf_load_row_t row = xinf_load_row (load);
    xinf_load_destroy (&load);
    return row;
}

static int
s_compare (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return a < b ? -1 : a > b;
}

//  Every N of --clients: a warm-up (the prompts enter the prefix cache, so
//  that no run pays for them), then --rounds rounds of one ZeroMQ run and
//  one HTTP run, the order alternating (ZH, HZ, ...) so that a drift of the
//  machine's load hits both alike. Tok/s pooled over the rounds; the ratio
//  is the median of the rounds' ratios, with their range.
static void
s_runs (xinf_config_t *config, const char *endpoint, int port)
{
    printf ("%7s %10s %10s %8s %15s %15s %9s %9s %11s\n", "clients", "zmq tok/s", "http tok/s", "http/zmq",
            "ratio min-max", "tokens z/h", "zmq TTFT", "http TTFT", "errors z/h");
    char list [256];
    snprintf (list, sizeof list, "%s", xinf_config_str (config, "clients"));
    size_t requests = (size_t) xinf_config_int (config, "requests"), rounds = (size_t) xinf_config_int (config, "rounds");
    size_t prompt = (size_t) xinf_config_int (config, "prompt-tokens"), max = (size_t) xinf_config_int (config, "max-tokens");
    int64_t timeout = xinf_config_int (config, "timeout");
    char *save = NULL;
    for (char *item = strtok_r (list, ",", &save); item && !zsys_interrupted; item = strtok_r (NULL, ",", &save)) {
        size_t clients = (size_t) atoi (item);
        if (clients < 1 || clients > 4096)
            continue;
        s_zmq_run (endpoint, clients, requests, prompt, max, timeout);
        xinf_load_row_t zmq = { 0 };
        xinf_http_row_t http = { 0 };
        double zmq_wall = 0, http_wall = 0, ratios [64];
        for (size_t round = 0; round < rounds && round < 64; round++) {
            xinf_load_row_t z = { 0 };
            xinf_http_row_t h = { 0 };
            if (round % 2 == 0)
                z = s_zmq_run (endpoint, clients, requests, prompt, max, timeout);
            h = xinf_http_load_run (port, NULL, "bench", clients, requests, prompt, max, timeout);
            if (round % 2 == 1)
                z = s_zmq_run (endpoint, clients, requests, prompt, max, timeout);
            ratios [round] = z.gen_tok_s > 0 ? h.gen_tok_s / z.gen_tok_s : 0;
            zmq.tokens += z.tokens, zmq.errors += z.errors, zmq_wall += z.wall_s, zmq.ttft_p50 += z.ttft_p50 / (double) rounds;
            http.tokens += h.tokens, http.errors += h.errors, http_wall += h.wall_s, http.ttft_p50 += h.ttft_p50 / (double) rounds;
        }
        zmq.gen_tok_s = zmq_wall > 0 ? zmq.tokens / zmq_wall : 0;
        http.gen_tok_s = http_wall > 0 ? http.tokens / http_wall : 0;
        size_t count = rounds < 64 ? rounds : 64;
        qsort (ratios, count, sizeof *ratios, s_compare);
        double median = count % 2 ? ratios [count / 2] : (ratios [count / 2 - 1] + ratios [count / 2]) / 2;
        printf ("%7zu %10.1f %10.1f %8.3f %7.3f-%-7.3f %7.0f/%-7.0f %9.1f %9.1f %6.0f/%-4.0f\n", clients, zmq.gen_tok_s,
                http.gen_tok_s, median, ratios [0], ratios [count - 1], zmq.tokens, http.tokens, zmq.ttft_p50,
                http.ttft_p50, zmq.errors, http.errors);
        fflush (stdout);
    }
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-bench-http", "[OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc != 0) {
        if (rc < 0)
            fprintf (stderr, "xinf-bench-http: %s\n", xinf_config_error (config));
        xinf_config_destroy (&config);
        return rc == 1 ? 0 : 2;
    }
    zsys_init ();
    xinf_log_set_level (XINF_LOG_WARN);
    char dir [PATH_MAX], program [PATH_MAX + 32], model [PATH_MAX + 32], log [PATH_MAX + 32];
    s_tools_dir (argv [0], dir, sizeof dir);
    snprintf (log, sizeof log, "/tmp/xinf-bench-http-%d.log", (int) getpid ());
    const char *path = xinf_config_str (config, "model");
    if (!path) {
        snprintf (model, sizeof model, "/tmp/xinf-bench-http-%d.gguf", (int) getpid ());
        snprintf (program, sizeof program, "%s/xinf-make-model", dir);
        char *make [] = { program, "--arch", "llama", "--dim", "256", "--layers", "4", "--heads", "4", "--kv-heads", "2",
                          "--ffn", "1024", "--vocab", "2048", "--context", "4096", "--tokenizer", "gpt2", "-o", model, NULL };
        pid_t maker = s_spawn (make, log);
        int status = 0;
        waitpid (maker, &status, 0);
        path = model;
    }
    int port = s_free_port ();
    char port_text [16], endpoint [300];
    snprintf (port_text, sizeof port_text, "%d", port);
    snprintf (program, sizeof program, "%s/xinf-node", dir);
    char model_dir [PATH_MAX + 32];
    snprintf (model_dir, sizeof model_dir, "%s", path);
    char *slash = strrchr (model_dir, '/');
    if (slash && slash != model_dir)
        *slash = 0;
    else
        snprintf (model_dir, sizeof model_dir, "%s", slash ? "/" : ".");
    char *node_argv [] = { program, "--role=local", "-p", "0", "--bind", "127.0.0.1", "--http-port", port_text,
                           "--http-max-connections", "8192", "--http-max-connections-per-ip", "0",
                           "--log-level", "warn", "--model-dir", model_dir, NULL };
    pid_t pid = s_spawn (node_argv, log);
    if (s_node_endpoint (pid, log, endpoint, sizeof endpoint)) {
        s_node_stop (pid);
        xinf_config_destroy (&config);
        return 1;
    }
    xinf_dealer_t *dealer = xinf_dealer_new (endpoint, "xinf-bench-http");
    printf ("xinf-bench-http: model %s, threads %lld, prompt %lld tokens, %lld generated per request, %lld requests "
            "per client; the machine may be shared: the figures move with its load\n", path,
            (long long) xinf_config_int (config, "threads"), (long long) xinf_config_int (config, "prompt-tokens"),
            (long long) xinf_config_int (config, "max-tokens"), (long long) xinf_config_int (config, "requests"));
    if (s_launch (dealer, "bench", path, xinf_config_int (config, "threads"), 64, 4096) == 0) {
        s_runs (config, endpoint, port);
        if (xinf_config_int (config, "idle") > 0)
            s_idle_run (dealer, pid, port, path, (size_t) xinf_config_int (config, "idle"));
        rc = 0;
    }
    else {
        fprintf (stderr, "xinf-bench-http: the model did not load; the node's log: %s\n", log);
        rc = 1;
    }
    xinf_dealer_destroy (&dealer);
    s_node_stop (pid);
    if (!xinf_config_str (config, "model"))
        unlink (model);
    xinf_config_destroy (&config);
    return rc;
}
