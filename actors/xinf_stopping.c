/*  xinf_stopping: a terminated model until its workers let it go.  */
#include "xinf_stopping.h"

//  A worker holds nothing of it any more.
static bool
s_gone (int state)
{
    return state == XINF_LAUNCH_STOPPED || state == XINF_LAUNCH_FAILED;
}

void
xinf_stopping_begin (xinf_model_entry_t *model, const char *how, int64_t now)
{
    model->stopping = true;
    model->stopping_since = now;
    snprintf (model->stopping_how, sizeof model->stopping_how, "%s", how);
    for (size_t index = 0; index < model->count; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        if (!s_gone (replica->state))
            xinf_launch_set (&replica->state, XINF_LAUNCH_STOPPING, model->uid);
        for (size_t rank = 0; replica->n_ranks > 1 && rank < replica->n_ranks; rank++)
            if (!s_gone (replica->ranks [rank].state))
                xinf_launch_set (&replica->ranks [rank].state, XINF_LAUNCH_STOPPING, model->uid);
    }
}

void
xinf_stopping_report (xinf_model_entry_t *model, size_t index, size_t rank, const char *node, const char *state)
{
    if (index >= model->count || !s_gone (xinf_fsm_parse (&xinf_launch_fsm, state)))
        return;
    xinf_replica_entry_t *replica = &model->replicas [index];
    if (replica->n_ranks > 1) {
        if (rank < replica->n_ranks && streq (replica->ranks [rank].node, node))
            xinf_launch_set (&replica->ranks [rank].state, XINF_LAUNCH_STOPPED, model->uid);
        bool all = true;
        for (size_t at = 0; at < replica->n_ranks; at++)
            all &= s_gone (replica->ranks [at].state);
        if (all)
            xinf_launch_set (&replica->state, XINF_LAUNCH_STOPPED, model->uid);
    }
    else
    if (rank == 0 && streq (replica->node, node))
        xinf_launch_set (&replica->state, XINF_LAUNCH_STOPPED, model->uid);
}

//  The first worker still holding part of the model, alive: its name,
//  the replica and the rank; false when none.
static bool
s_holder (const xinf_model_entry_t *model, xinf_cluster_t *cluster, const char **node, size_t *index, size_t *rank)
{
    for (*index = 0; *index < model->count; (*index)++) {
        const xinf_replica_entry_t *replica = &model->replicas [*index];
        size_t ranks = replica->n_ranks > 1 ? replica->n_ranks : 1;
        for (*rank = 0; *rank < ranks; (*rank)++) {
            int state = replica->n_ranks > 1 ? replica->ranks [*rank].state : replica->state;
            *node = replica->n_ranks > 1 ? replica->ranks [*rank].node : replica->node;
            if (!s_gone (state) && **node && (!cluster || xinf_cluster_peer_of (cluster, *node)))
                return true;
        }
    }
    return false;
}

bool
xinf_stopping_settled (const xinf_model_entry_t *model, xinf_cluster_t *cluster, int64_t now, char *why,
                       size_t why_size)
{
    const char *node;
    size_t index, rank;
    if (!s_holder (model, cluster, &node, &index, &rank)) {
        snprintf (why, why_size, "every worker unloaded it (or is gone)");
        return true;
    }
    if (now - model->stopping_since >= XINF_STOPPING_CONFIRM_MS) {
        snprintf (why, why_size, "worker %s did not confirm unloading replica %zu within %d ms", node, index,
                  XINF_STOPPING_CONFIRM_MS);
        return true;
    }
    return false;
}
