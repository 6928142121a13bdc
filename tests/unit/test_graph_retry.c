/*  test_graph_retry: which failures the supervisor retries without CUDA
    graphs (actors/xinf_graph_retry): the watchdog's reports of a hang in
    a graph's capture or replay, for a plain replica whose graphs are on;
    not other hangs, not a tensor-parallel replica, not a model launched
    with disable_cuda_graph, and not a replica retried once already (its
    second hang fails it for good).  */
#include "test_unit.h"
#include "xinf_graph_retry.h"

static const char *s_replay = "rank 0 of replica 0 of m is stuck in graph replay of step 5 (batch bucket 1), for "
                              "1.2 s (stall_timeout_ms 1000); the replica fails: relaunch with --disable-cuda-graph";
static const char *s_capture = "rank 0 of replica 1 of m is stuck in graph capture of step 3 (batch bucket 4), for "
                               "1.0 s (stall_timeout_ms 1000); the replica fails: relaunch with --disable-cuda-graph";
static const char *s_compute = "rank 0 of replica 0 of m is stuck in step 3, layer 1 attention (compute), for 1.1 s "
                               "(stall_timeout_ms 1000); the replica fails: relaunch the model";

static void
test_graph_hang_texts (void)
{
    CHECK (xinf_graph_retry_is_graph_hang (s_replay));
    CHECK (xinf_graph_retry_is_graph_hang (s_capture));
    CHECK (!xinf_graph_retry_is_graph_hang (s_compute));
    CHECK (!xinf_graph_retry_is_graph_hang (""));
    CHECK (!xinf_graph_retry_is_graph_hang (NULL));
    CHECK (!xinf_graph_retry_is_graph_hang ("cannot load: graph replay of step"));
}

static void
test_wanted (void)
{
    xinf_model_entry_t model = { .uid = "m" };
    xinf_replica_entry_t replica = { .n_ranks = 1 };
    CHECK (xinf_graph_retry_wanted (&model, &replica, s_replay));
    CHECK (xinf_graph_retry_wanted (&model, &replica, s_capture));
    CHECK (!xinf_graph_retry_wanted (&model, &replica, s_compute));
    //  Retried once: a second hang fails it
    replica.graphs_off = true;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, s_replay));
    replica.graphs_off = false;
    replica.graph_retry = true;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, s_replay));
    replica.graph_retry = false;
    //  Launched without graphs, or a tensor-parallel replica (no graphs)
    model.options.disable_cuda_graph = true;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, s_replay));
    model.options.disable_cuda_graph = false;
    replica.n_ranks = 2;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, s_replay));
}

int
main (void)
{
    RUN (test_graph_hang_texts);
    RUN (test_wanted);
    printf ("unit_graph_retry: OK\n");
    return 0;
}
