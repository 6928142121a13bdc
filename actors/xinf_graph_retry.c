/*  xinf_graph_retry: the one relaunch without CUDA graphs of a replica
    whose graph hung.  */
#include "xinf_graph_retry.h"
#include "xinf_cluster.h"

bool
xinf_graph_retry_is_graph_hang (const char *stuck_phase)
{
    return stuck_phase && (streq (stuck_phase, "capture") || streq (stuck_phase, "replay"));
}

bool
xinf_graph_retry_wanted (const xinf_model_entry_t *model, const xinf_replica_entry_t *replica,
                         const char *stuck_phase)
{
    return replica->n_ranks <= 1 && !model->options.disable_cuda_graph && !replica->graphs_off
        && !replica->graph_retry && xinf_graph_retry_is_graph_hang (stuck_phase);
}

void
xinf_graph_retry_begin (xinf_launch_t *launch, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                        xinf_replica_entry_t *replica, const char *error)
{
    replica->graphs_off = true;
    replica->graph_retry = true;
    replica->has_kv = false;
    xinf_launch_set (&replica->state, XINF_LAUNCH_RELAUNCHING, model->uid);
    xinf_textf (replica->error, sizeof replica->error, "relaunching without CUDA graphs (disable_cuda_graph), "
                "once: %s", error);
    xinf_textf (replica->note, sizeof replica->note, "relaunched without CUDA graphs after a graph hang");
    xinf_warn ("supervisor", "model uid=%s replica=%llu: its CUDA graph hung, relaunching it once on %s with "
               "disable_cuda_graph: %s", model->uid, (unsigned long long) replica->index, replica->node, error);
    xinf_cluster_event (xinf_launch_cluster (launch), "relaunching", replica->node,
                        "replica %llu of %s, whose CUDA graph hung, loads again without CUDA graphs",
                        (unsigned long long) replica->index, model->uid);
    xinf_launch_unload (xinf_launch_cluster (launch), ctx, replica->node, model->uid, replica->index,
                        "its CUDA graph hung: relaunching it without CUDA graphs");
}

bool
xinf_graph_retry_report (xinf_launch_t *launch, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                         xinf_replica_entry_t *replica, const char *state)
{
    if (!replica->graph_retry)
        return false;
    if (!streq (state, "stopped"))
        return true;                  //  the old replica's last words: it is being unloaded
    replica->graph_retry = false;
    replica->bytes_done = replica->bytes_total = 0;
    xinf_value_destroy (&replica->info);
    if (xinf_launch_load_replica (launch, ctx, model, replica)) {
        xinf_launch_fail_replica (launch, ctx, model, replica, "its CUDA graph hung and its worker %s cannot be "
                                  "reached to relaunch it without CUDA graphs", replica->node);
        return true;
    }
    xinf_info ("supervisor", "relaunching uid=%s replica=%llu on %s without CUDA graphs", model->uid,
               (unsigned long long) replica->index, replica->node);
    return true;
}
