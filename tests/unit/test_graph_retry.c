/*  test_graph_retry: which failures the supervisor retries without CUDA
    graphs (actors/xinf_graph_retry): the watchdog's reports of a hang in
    a graph's capture or replay (MODEL_STATE failed's stuck_phase, read
    by the generated node.xml decoder), for a plain replica whose graphs are on;
    not other hangs, not a tensor-parallel replica, not a model launched
    with disable_cuda_graph, and not a replica retried once already (its
    second hang fails it for good).  */
#include "test_unit.h"
#include "xinf_graph_retry.h"
#include "xinf_node_msg.h"

static const char *s_replay = "rank 0 of replica 0 of m is stuck in graph replay of step 5 (batch bucket 1), for "
                              "1.2 s (stall_timeout_ms 1000); the replica fails: relaunch with --disable-cuda-graph";

//  A failed report as the worker relays it, with 'stuck_phase' when not NULL.
static xinf_msg_t *
s_report_new (const char *error, const char *stuck_phase)
{
    xinf_msg_t *msg = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "node", "w1");
    xinf_map_put_str (body, "uid", "m");
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_str (body, "state", "failed");
    xinf_map_put_str (body, "error", error);
    if (stuck_phase)
        xinf_map_put_str (body, "stuck_phase", stuck_phase);
    return msg;
}

//  The stuck_phase the supervisor reads from such a report; "BAD" when
//  the report breaks node.xml.
static const char *
s_decoded_phase (const char *error, const char *stuck_phase)
{
    static char phase [32];
    xinf_msg_t *msg = s_report_new (error, stuck_phase);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_model_state_t report;
    int rc = xinf_node_msg_model_state_decode (xinf_msg_body (msg), &report, &check);
    snprintf (phase, sizeof phase, "%s", rc ? "BAD" : report.stuck_phase ? report.stuck_phase : "(none)");
    xinf_msg_destroy (&msg);
    return phase;
}

static void
test_graph_hang_phases (void)
{
    CHECK (xinf_graph_retry_is_graph_hang ("replay"));
    CHECK (xinf_graph_retry_is_graph_hang ("capture"));
    CHECK (!xinf_graph_retry_is_graph_hang ("compute"));
    CHECK (!xinf_graph_retry_is_graph_hang ("collective"));
    CHECK (!xinf_graph_retry_is_graph_hang (""));
    CHECK (!xinf_graph_retry_is_graph_hang (NULL));
    //  The phase comes from the field, never from the text: an error that
    //  reads like a graph hang without the field is not one
    CHECK (streq (s_decoded_phase (s_replay, NULL), "(none)"));
    CHECK (!xinf_graph_retry_is_graph_hang (NULL));
    CHECK (streq (s_decoded_phase ("x", "replay"), "replay"));
    //  Only the beacon's phases: anything else breaks the protocol
    CHECK (streq (s_decoded_phase ("x", "idle"), "BAD"));
    CHECK (streq (s_decoded_phase ("x", "graph replay"), "BAD"));
}

static void
test_wanted (void)
{
    xinf_model_entry_t model = { .uid = "m" };
    xinf_replica_entry_t replica = { .n_ranks = 1 };
    CHECK (xinf_graph_retry_wanted (&model, &replica, "replay"));
    CHECK (xinf_graph_retry_wanted (&model, &replica, "capture"));
    CHECK (!xinf_graph_retry_wanted (&model, &replica, "compute"));
    //  Retried once: a second hang fails it
    replica.graphs_off = true;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, "replay"));
    replica.graphs_off = false;
    replica.graph_retry = true;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, "replay"));
    replica.graph_retry = false;
    //  Launched without graphs, or a tensor-parallel replica (no graphs)
    model.options.disable_cuda_graph = true;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, "replay"));
    model.options.disable_cuda_graph = false;
    replica.n_ranks = 2;
    CHECK (!xinf_graph_retry_wanted (&model, &replica, "replay"));
}

int
main (void)
{
    RUN (test_graph_hang_phases);
    RUN (test_wanted);
    printf ("unit_graph_retry: OK\n");
    return 0;
}
