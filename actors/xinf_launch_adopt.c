/*  xinf_launch_adopt: the ranks a restarted supervisor finds in its
    workers' HELLOs (part of xinf_launch, xinf_launch.h): of a model it
    rebuilds from them (adopted), or of a replica the journal restored
    (restoring, until all its ranks are back).  */
#include "xinf_launch.h"

#define S_SET(field, size, value)  snprintf ((field), (size), "%s", (value))

bool
xinf_launch_adopt_rank (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                        xinf_replica_entry_t *replica, const char *node,
                        const xinf_node_msg_hosted_model_t *hosted)
{
    uint64_t rank = hosted->rank, n_ranks = hosted->n_ranks;
    const char *state = hosted->state;
    const char *why = NULL;
    if (!model->adopted && !replica->restoring) {
        //  A rank that reconnected: the launch goes on by MODEL_STATE
        if (replica->state == XINF_LAUNCH_FAILED)
            why = "its replica failed";
        else
        if (replica->n_ranks != n_ranks || rank >= replica->n_ranks || strcmp (replica->ranks [rank].node, node))
            why = "the launch placed that rank elsewhere";
        if (why)
            xinf_launch_unload (xinf_launch_cluster (self), ctx, node, model->uid, replica->index, why);
        return false;
    }
    if (replica->n_ranks && replica->n_ranks != n_ranks) {
        xinf_launch_unload (xinf_launch_cluster (self), ctx, node, model->uid, replica->index,
                            "other ranks report another group size");
        return false;
    }
    model->n_worker = n_ranks;
    replica->n_ranks = n_ranks;
    replica->staged = replica->group_sent = true;
    S_SET (replica->ranks [rank].node, sizeof replica->ranks [rank].node, node);
    xinf_launch_set_reported (&replica->ranks [rank].state, state, model->uid);
    if (rank == 0)
        S_SET (replica->node, sizeof replica->node, node);
    if (replica->state == XINF_LAUNCH_FAILED)
        return true;
    bool ready = true;
    for (size_t at = 0; at < n_ranks; at++)
        ready &= (replica->ranks [at].state == XINF_LAUNCH_READY);
    if (streq (state, "failed") || streq (state, "stopped")) {
        xinf_launch_fail_replica (self, ctx, model, replica, "rank %llu (worker %s) is %s", (unsigned long long) rank,
                                  node, state);
        return true;
    }
    xinf_launch_set (&replica->state, ready ? XINF_LAUNCH_READY : XINF_LAUNCH_LOADING, model->uid);
    if (ready)                        //  a journal's replica is whole again
        replica->restoring = false;
    //  The other ranks must come back too: for a journal's replica, one that
    //  no worker reported by the end of the restart window has the group
    //  relaunched (xinf_models_restart_tick); once all reported, or for an
    //  adopted one, this deadline fails a group that does not go on
    replica->deadline = ready ? 0 : zclock_mono () + (int64_t) model->options.rendezvous_timeout_ms + XINF_STEP_SLACK_MS;
    return true;
}
