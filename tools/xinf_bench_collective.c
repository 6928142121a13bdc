/*  xinf-bench-collective: what an all-reduce of the CPU collective over
    ZeroMQ costs, against raw libzmq, in the same run on the same machine.

        xinf-bench-collective [--ops N] [--repeat R] [--json]

    Over tcp://127.0.0.1, one libzmq context, threads for ranks:

      raw          a DEALER sends one frame of the vector's size to a ROUTER
                   echo thread and waits for it to come back: the round
                   trip that any exchange of partial results costs at least.
      all_reduce   xinf_collective_all_reduce_sum of the same vector, timed
                   per op on rank 0, for 2 and 3 ranks (the full mesh: each
                   rank sends its vector to every peer and sums in rank order).

    Vectors of 896 floats (the hidden size of Qwen2.5-0.5B) and 2048. Each
    case runs N ops after N/10 of warm-up; p50 and p99 in microseconds,
    the median over R runs; the ratio is all_reduce p50 / raw p50 (an
    all-reduce of 2 ranks is one message each way at once, so about half a
    round trip is the floor). Exit status: 0 when measured, 1 when a case
    failed, 2 on bad usage.
*/
#include "xinf_coll_zmq.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_STALL_MS  5000
#define S_RUNS_MAX  99

typedef struct {
    double p50, p99;
} s_figures_t;

static void *s_context;

static double
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1e6 + now.tv_nsec / 1e3;
}

static int
s_compare (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return (a > b) - (a < b);
}

//  Nearest-rank quantiles of 'count' samples (sorted in place).
static s_figures_t
s_figures (double *samples, int count)
{
    qsort (samples, (size_t) count, sizeof (double), s_compare);
    s_figures_t figures = { samples [(count - 1) / 2], samples [(int) (0.99 * count + 0.999999) - 1] };
    return figures;
}

// ---- raw libzmq ------------------------------------------------------------------------

//  Echoes every message back until it gets an empty one.
static void *
s_echo (void *router)
{
    zmq_msg_t id, body;
    zmq_msg_init (&id), zmq_msg_init (&body);
    while (zmq_msg_recv (&id, router, 0) >= 0 && zmq_msg_recv (&body, router, 0) >= 0) {
        bool stop = zmq_msg_size (&body) == 0;
        zmq_msg_send (&id, router, ZMQ_SNDMORE);
        zmq_msg_send (&body, router, 0);
        if (stop)
            break;
    }
    zmq_msg_close (&id), zmq_msg_close (&body);
    return NULL;
}

static int
s_raw (size_t bytes, int ops, s_figures_t *figures)
{
    void *router = zmq_socket (s_context, ZMQ_ROUTER), *dealer = zmq_socket (s_context, ZMQ_DEALER);
    int zero = 0, timeout = S_STALL_MS;
    zmq_setsockopt (router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    char endpoint [64];
    size_t size = sizeof endpoint;
    if (zmq_bind (router, "tcp://127.0.0.1:*") || zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &size)
    ||  zmq_connect (dealer, endpoint))
        return fprintf (stderr, "raw: %s\n", zmq_strerror (errno)), -1;
    pthread_t thread;
    pthread_create (&thread, NULL, s_echo, router);
    char *buffer = calloc (1, bytes), *back = malloc (bytes);
    double *samples = malloc ((size_t) ops * sizeof (double));
    int warmup = ops / 10, rc = 0;
    for (int op = 0; op < warmup + ops && rc == 0; op++) {
        double start = s_now_us ();
        if (zmq_send (dealer, buffer, bytes, 0) < 0 || zmq_recv (dealer, back, bytes, 0) != (int) bytes)
            rc = (fprintf (stderr, "raw: no echo within %d ms\n", S_STALL_MS), -1);
        if (op >= warmup)
            samples [op - warmup] = s_now_us () - start;
    }
    zmq_send (dealer, "", 0, 0);
    pthread_join (thread, NULL);
    if (rc == 0)
        *figures = s_figures (samples, ops);
    zmq_close (dealer), zmq_close (router);
    free (buffer), free (back), free (samples);
    return rc;
}

// ---- all_reduce ------------------------------------------------------------------------

typedef struct {
    xinf_collective_t *coll;
    const char **endpoints;
    size_t count;
    int ops;                    //  warm-up included
    double *samples;            //  rank 0 only
    int rc;
    char error [512];
} s_rank_t;

static void *
s_rank_main (void *arg)
{
    s_rank_t *self = arg;
    self->rc = xinf_coll_zmq_join (self->coll, self->endpoints, NULL, S_STALL_MS, self->error, sizeof self->error);
    float *data = calloc (self->count, sizeof (float));
    for (int op = 0; op < self->ops && self->rc == 0; op++) {
        for (size_t index = 0; index < self->count; index++)
            data [index] = (float) (index % 7) * 0.25f;
        double start = s_now_us ();
        self->rc = xinf_collective_all_reduce_sum (self->coll, data, self->count, self->error, sizeof self->error);
        if (self->samples)
            self->samples [op] = s_now_us () - start;
    }
    free (data);
    return NULL;
}

static int
s_all_reduce (int size, size_t count, int ops, s_figures_t *figures)
{
    s_rank_t ranks [3] = { { 0 } };
    char endpoint [3][64];
    const char *endpoints [3];
    int warmup = ops / 10, rc = 0;
    for (int rank = 0; rank < size; rank++) {
        ranks [rank].coll = xinf_coll_zmq_new (s_context, "bench/1", rank, size, "127.0.0.1", 0, 0, S_STALL_MS,
                                               NULL, ranks [rank].error, sizeof ranks [rank].error);
        if (!ranks [rank].coll)
            return fprintf (stderr, "all_reduce: %s\n", ranks [rank].error), -1;
        snprintf (endpoint [rank], sizeof endpoint [rank], "tcp://127.0.0.1:%d",
                  xinf_coll_zmq_port (ranks [rank].coll));
        endpoints [rank] = endpoint [rank];
    }
    pthread_t threads [3];
    ranks [0].samples = malloc ((size_t) (warmup + ops) * sizeof (double));
    for (int rank = 0; rank < size; rank++) {
        ranks [rank].endpoints = endpoints;
        ranks [rank].count = count;
        ranks [rank].ops = warmup + ops;
        pthread_create (&threads [rank], NULL, s_rank_main, &ranks [rank]);
    }
    for (int rank = 0; rank < size; rank++) {
        pthread_join (threads [rank], NULL);
        if (ranks [rank].rc && rc == 0)
            rc = (fprintf (stderr, "all_reduce rank %d: %s\n", rank, ranks [rank].error), -1);
    }
    if (rc == 0)
        *figures = s_figures (ranks [0].samples + warmup, ops);
    for (int rank = 0; rank < size; rank++)
        xinf_collective_destroy (&ranks [rank].coll);
    free (ranks [0].samples);
    return rc;
}

// ---- main -----------------------------------------------------------------------------

//  The median over runs of each figure.
static s_figures_t
s_median (s_figures_t *runs, int count)
{
    double p50 [S_RUNS_MAX], p99 [S_RUNS_MAX];
    for (int run = 0; run < count; run++)
        p50 [run] = runs [run].p50, p99 [run] = runs [run].p99;
    qsort (p50, (size_t) count, sizeof (double), s_compare);
    qsort (p99, (size_t) count, sizeof (double), s_compare);
    s_figures_t median = { p50 [count / 2], p99 [count / 2] };
    return median;
}

static int
s_usage (const char *program)
{
    fprintf (stderr, "usage: %s [--ops N] [--repeat R] [--json]\n"
             "  --ops N      all-reduces (and round trips) per case and run, default 20000\n"
             "  --repeat R   runs (1-%d); the median run of each figure is reported, default 3\n"
             "  --json       print one JSON object after the table\n", program, S_RUNS_MAX);
    return 2;
}

int
main (int argc, char **argv)
{
    int ops = 20000, repeat = 3;
    bool json = false;
    for (int index = 1; index < argc; index++) {
        if (strcmp (argv [index], "--json") == 0)
            json = true;
        else
        if (strcmp (argv [index], "--ops") == 0 && index + 1 < argc)
            ops = atoi (argv [++index]);
        else
        if (strcmp (argv [index], "--repeat") == 0 && index + 1 < argc)
            repeat = atoi (argv [++index]);
        else
            return s_usage (argv [0]);
    }
    if (ops < 100 || ops > 10000000 || repeat < 1 || repeat > S_RUNS_MAX)
        return s_usage (argv [0]);
    s_context = zmq_ctx_new ();
    size_t counts [] = { 896, 2048 };
    const char *names [] = { "raw round trip", "all_reduce 2 ranks", "all_reduce 3 ranks" };
    s_figures_t results [2][3];
    for (int which = 0; which < 2; which++) {
        s_figures_t runs [3][S_RUNS_MAX];
        for (int run = 0; run < repeat; run++)
            if (s_raw (counts [which] * sizeof (float), ops, &runs [0][run])
            ||  s_all_reduce (2, counts [which], ops, &runs [1][run])
            ||  s_all_reduce (3, counts [which], ops, &runs [2][run]))
                return zmq_ctx_term (s_context), 1;
        for (int kind = 0; kind < 3; kind++)
            results [which][kind] = s_median (runs [kind], repeat);
    }
    printf ("%-20s %7s %10s %10s %12s\n", "case", "floats", "p50 us", "p99 us", "p50 / raw");
    for (int which = 0; which < 2; which++)
        for (int kind = 0; kind < 3; kind++)
            printf ("%-20s %7zu %10.1f %10.1f %11.2fx\n", names [kind], counts [which], results [which][kind].p50,
                    results [which][kind].p99, results [which][kind].p50 / results [which][0].p50);
    if (json) {
        printf ("{\"ops\": %d, \"repeat\": %d, \"statistic\": \"median of runs\", \"cases\": [", ops, repeat);
        for (int which = 0; which < 2; which++)
            for (int kind = 0; kind < 3; kind++)
                printf ("%s{\"case\": \"%s\", \"floats\": %zu, \"p50_us\": %.2f, \"p99_us\": %.2f, "
                        "\"ratio_p50\": %.3f}",
                        which + kind ? ", " : "", names [kind], counts [which], results [which][kind].p50,
                        results [which][kind].p99, results [which][kind].p50 / results [which][0].p50);
        printf ("]}\n");
    }
    zmq_ctx_term (s_context);
    return 0;
}
