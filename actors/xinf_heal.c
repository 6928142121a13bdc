/*  xinf_heal: relaunching the replicas of lost workers.  */
#include "xinf_heal.h"
#include "xinf_placement.h"

struct _xinf_heal_t {
    xinf_cluster_t *cluster;
    xinf_launch_t *launch;
    zhashx_t *models;
};

xinf_heal_t *
xinf_heal_new (xinf_cluster_t *cluster, xinf_launch_t *launch, zhashx_t *models)
{
    xinf_heal_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    self->launch = launch;
    self->models = models;
    return self;
}

void
xinf_heal_destroy (xinf_heal_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Loads the replica on 'node' (its new home): state relaunching until
//  the worker reports.
static void
s_load_on (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
           const char *node)
{
    char lost [sizeof replica->lost_from];
    snprintf (lost, sizeof lost, "%s", replica->lost_from);
    snprintf (replica->node, sizeof replica->node, "%s", node);
    snprintf (replica->state, sizeof replica->state, "relaunching");
    replica->bytes_done = replica->bytes_total = 0;
    xinf_value_destroy (&replica->info);
    if (xinf_launch_load_replica (self->launch, ctx, model, replica)) {
        snprintf (replica->state, sizeof replica->state, "failed");
        snprintf (replica->error, sizeof replica->error, "worker %s was lost and %s cannot be reached to relaunch "
                  "the replica there", lost, node);
        return;
    }
    replica->error [0] = 0;
    snprintf (replica->note, sizeof replica->note, "relaunched on %s: worker %s was lost", node, lost);
    replica->lost_from [0] = 0;
    xinf_info ("supervisor", "relaunching uid=%s replica=%llu on %s (worker %s was lost)", model->uid,
               (unsigned long long) replica->index, node, lost);
    xinf_cluster_event (self->cluster, "relaunching", node, "replica %llu of %s, lost with %s, loads here",
                        (unsigned long long) replica->index, model->uid, lost);
}

//  No worker for it now: it waits (state relaunching, the reason in error).
static void
s_wait (xinf_heal_t *self, xinf_model_entry_t *model, xinf_replica_entry_t *replica, const char *why)
{
    snprintf (replica->state, sizeof replica->state, "relaunching");
    snprintf (replica->error, sizeof replica->error, "worker %s was lost; %s", replica->lost_from, why);
    xinf_info ("supervisor", "replica uid=%s replica=%llu waits: %s", model->uid, (unsigned long long) replica->index,
               replica->error);
    xinf_cluster_event (self->cluster, "relaunch_waiting", replica->lost_from, "replica %llu of %s: %s",
                        (unsigned long long) replica->index, model->uid, why);
}

//  Relaunches a waiting replica if a worker can take it now.
static void
s_try (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica, bool first)
{
    char node [65], reason [256];
    if (model->pinned) {
        if (xinf_cluster_peer_of (self->cluster, replica->lost_from))
            s_load_on (self, ctx, model, replica, replica->lost_from);
        else
        if (first)
            s_wait (self, model, replica, "it was launched on that worker (pinned): it loads there again when "
                    "the worker registers");
        return;
    }
    if (xinf_placement_move (self->cluster, self->models, model, (size_t) replica->index, replica->lost_from, node,
                             sizeof node, reason, sizeof reason) == 0)
        s_load_on (self, ctx, model, replica, node);
    else
    if (first) {
        char why [400];
        snprintf (why, sizeof why, "no other worker can take it (%s): it relaunches when one registers", reason);
        s_wait (self, model, replica, why);
    }
}

void
xinf_heal_replica_lost (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                        xinf_replica_entry_t *replica, const char *node, const char *why)
{
    snprintf (replica->lost_from, sizeof replica->lost_from, "%s", node);
    xinf_info ("supervisor", "replica uid=%s replica=%llu lost with worker %s (%s)", model->uid,
               (unsigned long long) replica->index, node, why);
    s_try (self, ctx, model, replica, true);
}

void
xinf_heal_worker_joined (xinf_heal_t *self, xinf_ctx_t *ctx, const char *node)
{
    for (xinf_model_entry_t *model = (xinf_model_entry_t *) zhashx_first (self->models); model;
         model = (xinf_model_entry_t *) zhashx_next (self->models))
        for (size_t index = 0; index < model->count; index++) {
            xinf_replica_entry_t *replica = &model->replicas [index];
            if (*replica->lost_from && !model->stopping && (!model->pinned || streq (replica->lost_from, node)))
                s_try (self, ctx, model, replica, false);
        }
}

bool
xinf_heal_moved_away (const xinf_replica_entry_t *replica, const char *node)
{
    return replica->n_ranks <= 1 && *replica->node && !streq (replica->node, node) && !*replica->lost_from
        && !streq (replica->state, "failed") && !streq (replica->state, "stopped");
}
