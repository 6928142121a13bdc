/*  xinf-bench-tp: decode speed of a model split over N tensor-parallel
    ranks on one machine, against the same model on one rank, and what the
    all-reduces cost per token next to a raw ZeroMQ round trip of the same
    size, all measured in the same run.

    The ranks are threads of this process, each with its own shard
    (xinf_model_load_shard), thread pool and ZeroMQ collective over TCP
    loopback, exactly as the executors of a launch --n-worker N use them
    (only the actors around them are left out). Rank 0 broadcasts each step
    and samples greedily; the time spent inside all_reduce_sum is counted
    (it includes waiting for the slower rank, so it bounds the
    communication cost from above).

        xinf-bench-tp MODEL.gguf [--ranks 1,2] [--threads N] [--prompt N] [--decode N]
*/
#include "xinf.h"
#include "xinf_model.h"
#include "xinf_coll_zmq.h"

#include <pthread.h>

#define RANKS_MAX  8

static const xinf_option_t s_options [] = {
    { "ranks", 'r', NULL, XINF_OPT_STR, "1,2", 0, 0, NULL, "LIST", "rank counts to measure" },
    { "threads", 't', NULL, XINF_OPT_INT, "1", 1, 1024, NULL, "N", "compute threads per rank" },
    { "prompt", 'p', NULL, XINF_OPT_INT, "32", 1, 65536, NULL, "N", "prefill length in tokens" },
    { "decode", 'd', NULL, XINF_OPT_INT, "64", 1, 65536, NULL, "N", "decode steps" },
    { 0 }
};

//  A collective that times the all-reduces of the one it wraps.
typedef struct {
    xinf_collective_t base;
    xinf_collective_t *inner;
    int64_t reduce_us;
    uint64_t reduces;
} s_timed_t;

static int
s_timed_reduce (xinf_collective_t *self, float *data, size_t count, char *error, size_t size)
{
    s_timed_t *timed = (s_timed_t *) self;
    int64_t start = zclock_usecs ();
    int rc = xinf_collective_all_reduce_sum (timed->inner, data, count, error, size);
    timed->reduce_us += zclock_usecs () - start;
    timed->reduces++;
    return rc;
}

static int
s_timed_broadcast (xinf_collective_t *self, void *data, size_t *bytes, size_t capacity, int root, char *error, size_t size)
{
    return xinf_collective_broadcast (((s_timed_t *) self)->inner, data, bytes, capacity, root, error, size);
}

static bool s_timed_ready (xinf_collective_t *self, int root) { return xinf_collective_ready (((s_timed_t *) self)->inner, root); }
static void s_timed_abort (xinf_collective_t *self) { xinf_collective_abort (((s_timed_t *) self)->inner); }
static void s_timed_destroy (xinf_collective_t *self) { (void) self; }

static const xinf_collective_ops_t s_timed_ops = {
    s_timed_reduce, s_timed_broadcast, s_timed_ready, s_timed_abort, s_timed_destroy
};

typedef struct {
    const char *path;
    int rank, ranks, threads;
    size_t prompt, decode;
    void *zmq;
    int *ports;                       //  [ranks], filled before the barrier
    pthread_barrier_t *bound;
    //  Results (rank 0)
    double decode_tps, prefill_tps;
    int64_t reduce_us;
    uint64_t reduces;
    size_t dim;
    char error [512];
} s_rank_t;

static int32_t
s_argmax (const float *logits, size_t count)
{
    size_t best = 0;
    for (size_t index = 1; index < count; index++)
        if (logits [index] > logits [best])
            best = index;
    return (int32_t) best;
}

//  One step on every rank: rank 0 sends pos + tokens, all run the forward.
static int
s_step (s_rank_t *self, xinf_collective_t *group, const xinf_transformer_t *t, xinf_kv_t *kv,
        xinf_threadpool_t *pool, int32_t *tokens, size_t count, size_t pos, float *logits)
{
    int32_t header [2] = { (int32_t) pos, (int32_t) count };
    size_t bytes = sizeof header;
    if (group && (xinf_collective_broadcast (group, header, &bytes, sizeof header, 0, self->error, sizeof self->error)
              ||  (bytes = count * 4, xinf_collective_broadcast (group, tokens, &bytes, (size_t) header [1] * 4, 0,
                                                                 self->error, sizeof self->error))))
        return -1;
    return xinf_transformer_forward (t, kv, pool, tokens, (size_t) header [1], (size_t) header [0],
                                     self->rank == 0 ? logits : NULL, NULL, self->error, sizeof self->error);
}

static void *
s_rank_main (void *arg)
{
    s_rank_t *self = (s_rank_t *) arg;
    xinf_collective_t *inner = NULL;
    s_timed_t timed = { { &s_timed_ops, self->rank, self->ranks }, NULL, 0, 0 };
    if (self->ranks > 1) {
        inner = xinf_coll_zmq_new (self->zmq, "bench", self->rank, self->ranks, "127.0.0.1", 0, 0, 60000, NULL,
                                   self->error, sizeof self->error);
        self->ports [self->rank] = inner ? xinf_coll_zmq_port (inner) : 0;
    }
    pthread_barrier_wait (self->bound);
    char text [RANKS_MAX][64];
    const char *endpoints [RANKS_MAX];
    for (int index = 0; index < self->ranks; index++) {
        snprintf (text [index], sizeof text [index], "tcp://127.0.0.1:%d", self->ports [index]);
        endpoints [index] = text [index];
    }
    xinf_model_t *model = NULL;
    if ((self->ranks == 1 || (inner && xinf_coll_zmq_join (inner, endpoints, NULL, 30000,
                                                           self->error, sizeof self->error) == 0)))
        model = xinf_model_load_shard (self->path, self->rank, self->ranks, NULL, NULL, self->error, sizeof self->error);
    if (!model) {
        if (inner)
            xinf_collective_abort (inner);
        xinf_collective_destroy (&inner);
        return NULL;
    }
    timed.inner = inner;
    xinf_collective_t *group = inner ? &timed.base : NULL;
    if (group)
        xinf_model_set_collective (model, group);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    self->dim = t->dim;
    xinf_kv_t *kv = xinf_kv_new (t, self->prompt + self->decode + 1);
    xinf_threadpool_t *pool = xinf_threadpool_new (self->threads);
    float *logits = calloc (t->vocab, sizeof (float));
    int32_t *tokens = calloc (self->prompt + 1, sizeof (int32_t));
    for (size_t index = 0; index < self->prompt; index++)
        tokens [index] = (int32_t) ((index * 7 + 1) % t->vocab);
    int64_t start = zclock_usecs ();
    int rc = s_step (self, group, t, kv, pool, tokens, self->prompt, 0, logits);
    int64_t prefilled = zclock_usecs ();
    timed.reduce_us = 0;
    timed.reduces = 0;
    for (size_t step = 0; rc == 0 && step < self->decode; step++) {
        tokens [0] = self->rank == 0 ? s_argmax (logits, t->vocab) : 0;
        rc = s_step (self, group, t, kv, pool, tokens, 1, self->prompt + step, logits);
    }
    int64_t done = zclock_usecs ();
    if (rc == 0) {
        self->prefill_tps = (double) self->prompt * 1e6 / (double) (prefilled - start);
        self->decode_tps = (double) self->decode * 1e6 / (double) (done - prefilled);
        self->reduce_us = timed.reduce_us;
        self->reduces = timed.reduces;
    }
    free (logits);
    free (tokens);
    xinf_threadpool_destroy (&pool);
    xinf_kv_destroy (&kv);
    xinf_model_destroy (&model);
    xinf_collective_destroy (&inner);
    return NULL;
}

//  The p50 round trip of raw DEALER <-> ROUTER with a payload of 'bytes'.
static double
s_raw_round_trip_us (void *zmq, size_t bytes)
{
    void *router = zmq_socket (zmq, ZMQ_ROUTER), *dealer = zmq_socket (zmq, ZMQ_DEALER);
    zmq_bind (router, "tcp://127.0.0.1:*");
    char endpoint [128];
    size_t size = sizeof endpoint;
    zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &size);
    zmq_connect (dealer, endpoint);
    char *payload = calloc (1, bytes), identity [256];
    enum { ROUNDS = 2000 };
    double *times = calloc (ROUNDS, sizeof (double));
    for (int round = -200; round < ROUNDS; round++) {
        int64_t start = zclock_usecs ();
        zmq_send (dealer, payload, bytes, 0);
        int identity_size = zmq_recv (router, identity, sizeof identity, 0);
        zmq_recv (router, payload, bytes, 0);
        zmq_send (router, identity, (size_t) identity_size, ZMQ_SNDMORE);
        zmq_send (router, payload, bytes, 0);
        zmq_recv (dealer, payload, bytes, 0);
        if (round >= 0)
            times [round] = (double) (zclock_usecs () - start);
    }
    for (int at = 1; at < ROUNDS; at++)          //  insertion sort: small and plain
        for (int back = at; back > 0 && times [back - 1] > times [back]; back--) {
            double swap = times [back];
            times [back] = times [back - 1];
            times [back - 1] = swap;
        }
    double median = times [ROUNDS / 2];
    free (times);
    free (payload);
    int linger = 0;
    zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (router);
    zmq_close (dealer);
    return median;
}

static int
s_measure (xinf_config_t *config, void *zmq, int ranks, s_rank_t *result)
{
    s_rank_t rank [RANKS_MAX];
    pthread_t threads [RANKS_MAX];
    int ports [RANKS_MAX] = { 0 };
    pthread_barrier_t bound;
    pthread_barrier_init (&bound, NULL, (unsigned) ranks);
    for (int index = 0; index < ranks; index++) {
        rank [index] = (s_rank_t) { .path = xinf_config_positional (config, 0), .rank = index, .ranks = ranks,
                                    .threads = (int) xinf_config_int (config, "threads"),
                                    .prompt = (size_t) xinf_config_int (config, "prompt"),
                                    .decode = (size_t) xinf_config_int (config, "decode"),
                                    .zmq = zmq, .ports = ports, .bound = &bound };
        pthread_create (&threads [index], NULL, s_rank_main, &rank [index]);
    }
    int rc = 0;
    for (int index = 0; index < ranks; index++) {
        pthread_join (threads [index], NULL);
        if (*rank [index].error) {
            fprintf (stderr, "xinf-bench-tp: %d ranks, rank %d: %s\n", ranks, index, rank [index].error);
            rc = -1;
        }
    }
    pthread_barrier_destroy (&bound);
    *result = rank [0];
    return rc;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-bench-tp", "MODEL.gguf [OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc == 0 && xinf_config_positionals (config) != 1) {
        fprintf (stderr, "xinf-bench-tp: give one model file (see --help)\n");
        rc = -1;
    }
    else
    if (rc < 0)
        fprintf (stderr, "xinf-bench-tp: %s\n", xinf_config_error (config));
    if (rc != 0) {
        xinf_config_destroy (&config);
        return rc == 1 ? 0 : 2;
    }
    xinf_log_set_level (XINF_LOG_WARN);
    void *zmq = zmq_ctx_new ();
    printf ("model %s, %lld thread(s) per rank, prompt %lld, decode %lld\n", xinf_config_positional (config, 0),
            (long long) xinf_config_int (config, "threads"), (long long) xinf_config_int (config, "prompt"),
            (long long) xinf_config_int (config, "decode"));
    printf ("%6s %12s %12s %14s %14s %14s\n", "ranks", "prefill t/s", "decode t/s", "reduces/token",
            "reduce us/tok", "us/reduce");
    double base = 0;
    size_t dim = 0;
    char *list = strdup (xinf_config_str (config, "ranks"));
    int failed = 0;
    for (char *saved = NULL, *item = strtok_r (list, ",", &saved); item; item = strtok_r (NULL, ",", &saved)) {
        int ranks = atoi (item);
        s_rank_t result;
        if (ranks < 1 || ranks > RANKS_MAX || s_measure (config, zmq, ranks, &result)) {
            failed = 1;
            continue;
        }
        double tokens = (double) xinf_config_int (config, "decode");
        dim = result.dim;
        base = base > 0 ? base : result.decode_tps;
        printf ("%6d %12.1f %12.1f %14.1f %14.1f %14.1f   decode %.2fx of the first row\n", ranks,
                result.prefill_tps, result.decode_tps, (double) result.reduces / tokens,
                (double) result.reduce_us / tokens,
                result.reduces ? (double) result.reduce_us / (double) result.reduces : 0, result.decode_tps / base);
    }
    free (list);
    if (dim) {
        double raw = s_raw_round_trip_us (zmq, dim * sizeof (float));
        printf ("raw ZeroMQ DEALER<->ROUTER round trip, %zu bytes (one all-reduce's vector): p50 %.1f us\n",
                dim * sizeof (float), raw);
    }
    zmq_ctx_term (zmq);
    xinf_config_destroy (&config);
    return failed;
}
