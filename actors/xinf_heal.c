/*  xinf_heal: relaunching the replicas of lost workers.  */
#include "xinf_heal.h"
#include "xinf_placement.h"

struct _xinf_heal_t {
    xinf_cluster_t *cluster;
    xinf_launch_t *launch;
    zhashx_t *models;
    uint64_t moves;                   //  replicas and groups relaunched elsewhere so far
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
    xinf_launch_set (&replica->state, XINF_LAUNCH_RELAUNCHING, model->uid);
    replica->graph_retry = false;     //  its retry without graphs (if one was under way) loads it here instead
    replica->bytes_done = replica->bytes_total = 0;
    //  Its info stays (its size, for placing the other replicas healed with
    //  it) until the new worker reports; its new worker's HELLO never counted it
    replica->counted_by_worker = false;
    self->moves++;
    if (xinf_launch_load_replica (self->launch, ctx, model, replica)) {
        xinf_launch_set (&replica->state, XINF_LAUNCH_FAILED, model->uid);
        xinf_textf (replica->error, sizeof replica->error, "worker %s was lost and %s cannot be reached to relaunch "
                    "the replica there", lost, node);
        return;
    }
    replica->error [0] = 0;
    xinf_textf (replica->note, sizeof replica->note, "relaunched on %s: worker %s was lost", node, lost);
    replica->lost_from [0] = 0;
    xinf_info ("supervisor", "relaunching uid=%s replica=%llu on %s (worker %s was lost)", model->uid,
               (unsigned long long) replica->index, node, lost);
    xinf_cluster_event (self->cluster, "relaunching", node, "replica %llu of %s, lost with %s, loads here",
                        (unsigned long long) replica->index, model->uid, lost);
}

//  The lost worker as the reasons name it: "w1", or "w1 (rank 1)".
static void
s_lost_name (const xinf_replica_entry_t *replica, char *text, size_t size)
{
    if (replica->n_ranks > 1)
        snprintf (text, size, "%s (rank %zu)", replica->lost_from, replica->lost_rank);
    else
        snprintf (text, size, "%s", replica->lost_from);
}

//  A tensor-parallel replica's workers by rank, "w1,w2"; "" for a plain one.
static void
s_group_nodes (const xinf_replica_entry_t *replica, char *text, size_t size)
{
    *text = 0;
    for (size_t rank = 0; rank < replica->n_ranks && replica->n_ranks > 1; rank++) {
        size_t used = strlen (text);
        snprintf (text + used, size - used, "%s%s", rank ? "," : "", replica->ranks [rank].node);
    }
}

//  No worker for it now: it waits (state relaunching, the reason in error).
static void
s_wait (xinf_heal_t *self, xinf_model_entry_t *model, xinf_replica_entry_t *replica, const char *why)
{
    char lost [96], group [XINF_RANKS_MAX * 66 + 1];
    s_lost_name (replica, lost, sizeof lost);
    s_group_nodes (replica, group, sizeof group);
    xinf_launch_set (&replica->state, XINF_LAUNCH_RELAUNCHING, model->uid);
    xinf_textf (replica->error, sizeof replica->error, "worker %s was lost; %s", lost, why);
    xinf_info ("supervisor", "replica uid=%s replica=%llu waits: %s", model->uid, (unsigned long long) replica->index,
               replica->error);
    xinf_cluster_event (self->cluster, "relaunch_waiting", replica->lost_from, "replica %llu of %s%s%s%s: %s",
                        (unsigned long long) replica->index, model->uid, *group ? " (ranks on " : "", group,
                        *group ? ")" : "", why);
}

// ---- a tensor-parallel replica: the whole group is placed and launched again

//  Loads the group on 'nodes' (one per rank) through the launch's steps.
static void
s_group_load_on (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
                 char nodes [][65], const int *gpus)
{
    char lost [96], group [XINF_RANKS_MAX * 66 + 1];
    s_lost_name (replica, lost, sizeof lost);
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        snprintf (replica->ranks [rank].node, sizeof replica->ranks [rank].node, "%s", nodes [rank]);
        if (gpus)                     //  a GPU model's ranks placed again (pinned ones keep theirs)
            replica->ranks [rank].gpu = gpus [rank];
    }
    s_group_nodes (replica, group, sizeof group);
    replica->counted_by_worker = false;
    self->moves++;
    replica->lost_from [0] = 0;       //  it holds memory there from now on
    replica->error [0] = 0;
    xinf_textf (replica->note, sizeof replica->note, "relaunched on %.150s: worker %.64s was lost", group, lost);
    xinf_info ("supervisor", "relaunching uid=%s replica=%llu ranks=%zu on %s (worker %s was lost)", model->uid,
               (unsigned long long) replica->index, replica->n_ranks, group, lost);
    xinf_cluster_event (self->cluster, "relaunching", replica->ranks [0].node, "replica %llu of %s, lost with %s, "
                        "loads on %s", (unsigned long long) replica->index, model->uid, lost, group);
    xinf_launch_start_replica (self->launch, ctx, model, replica);
}

//  Relaunches a waiting group if its workers (pinned) or a set of workers
//  with room can take it now.
static void
s_group_try (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica, bool first)
{
    char nodes [XINF_RANKS_MAX][65], reason [256], why [512];
    if (model->pinned) {
        char missing [XINF_RANKS_MAX * 66 + 1] = "";
        for (size_t rank = 0; rank < replica->n_ranks; rank++) {
            snprintf (nodes [rank], sizeof nodes [rank], "%s", replica->ranks [rank].node);
            if (!xinf_cluster_peer_of (self->cluster, nodes [rank])) {
                size_t used = strlen (missing);
                snprintf (missing + used, sizeof missing - used, "%s%s", *missing ? "," : "", nodes [rank]);
            }
        }
        if (!*missing)
            s_group_load_on (self, ctx, model, replica, nodes, NULL);
        else
        if (first) {
            xinf_textf (why, sizeof why, "it was launched on named workers (pinned): it loads there again when %.400s "
                        "%s back", missing, strchr (missing, ',') ? "are" : "is");
            s_wait (self, model, replica, why);
        }
        return;
    }
    //  The lost worker is not alive, so not placed on; once it registered
    //  again it is a worker like any other
    int gpus [XINF_RANKS_MAX] = { 0 };
    if (xinf_placement_group (self->cluster, self->models, model, (size_t) replica->index, nodes, gpus, reason,
                              sizeof reason) == 0)
        s_group_load_on (self, ctx, model, replica, nodes, model->gpu ? gpus : NULL);
    else
    if (first) {
        xinf_textf (why, sizeof why, "no %zu workers can take its ranks now (%s): it relaunches when one registers",
                    replica->n_ranks, reason);
        s_wait (self, model, replica, why);
    }
}

static void
s_wait_end (uint64_t *wait)
{
    if (*wait)
        xinf_wait_end (xinf_waits_global (), *wait);
    *wait = 0;
}

//  Once no rank's unload is due, the group is placed again; until then a
//  registered wait with a deadline (the longest a rank may be stuck in a
//  collective on its lost peer, plus slack).
static void
s_group_next (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica)
{
    char peers [XINF_RANKS_MAX * 66 + 1] = "";
    for (size_t rank = 0; rank < replica->n_ranks; rank++)
        if (replica->ranks [rank].unloading) {
            size_t used = strlen (peers);
            snprintf (peers + used, sizeof peers - used, "%s%s", *peers ? "," : "", replica->ranks [rank].node);
        }
    if (*peers) {
        if (!replica->wait) {
            int64_t limit = (int64_t) model->options.stall_timeout_ms + XINF_STEP_SLACK_MS;
            char what [160];
            snprintf (what, sizeof what, "relaunch %s/%llu: the other ranks unload", model->uid,
                      (unsigned long long) replica->index);
            replica->deadline = zclock_mono () + limit;
            replica->wait = xinf_wait_begin (xinf_waits_global (), "supervisor", what, peers, limit);
        }
        return;
    }
    replica->deadline = 0;
    s_wait_end (&replica->wait);
    s_group_try (self, ctx, model, replica, true);
}

//  A rank's worker is lost: the replica is relaunching, the other ranks
//  unload (their stopped reports are the old group's last words), then
//  the group is placed again.
static void
s_group_lost (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
              const char *node, const char *why)
{
    size_t lost = 0;
    while (lost < replica->n_ranks && !streq (replica->ranks [lost].node, node))
        lost++;
    if (*replica->lost_from) {        //  lost again while it waits: that rank will not report
        if (lost < replica->n_ranks)
            replica->ranks [lost].unloading = false;
        s_group_next (self, ctx, model, replica);
        return;
    }
    //  A rank holds something on its worker once asked to, unless its
    //  fetch_only answer (fetched) freed it there
    bool holds [XINF_RANKS_MAX];
    for (size_t rank = 0; rank < replica->n_ranks; rank++)
        holds [rank] = rank != lost && *replica->ranks [rank].node
                    && replica->ranks [rank].state != XINF_LAUNCH_PLACED
                    && !(replica->ranks [rank].state == XINF_LAUNCH_FETCHED);
    xinf_launch_reset_replica (self->launch, replica);
    snprintf (replica->lost_from, sizeof replica->lost_from, "%s", node);
    replica->lost_rank = lost;
    xinf_launch_set (&replica->state, XINF_LAUNCH_RELAUNCHING, model->uid);
    xinf_textf (replica->error, sizeof replica->error, "worker %s (rank %zu) %s: the other ranks unload, "
                "then the group is placed again", node, lost, why);
    char unload_why [256];
    xinf_textf (unload_why, sizeof unload_why, "the replica relaunches: worker %s (rank %zu) %.160s", node, lost, why);
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        xinf_rank_entry_t *entry = &replica->ranks [rank];
        xinf_launch_set (&entry->state, XINF_LAUNCH_STOPPED, model->uid);
        if (!holds [rank]) {
            xinf_textf (entry->error, sizeof entry->error, "%s", rank == lost ? "its worker was lost" : "");
            continue;
        }
        xinf_textf (entry->error, sizeof entry->error, "unloading: %s", unload_why);
        xinf_launch_unload (self->cluster, ctx, entry->node, model->uid, replica->index, unload_why);
        entry->unloading = true;
    }
    xinf_info ("supervisor", "replica uid=%s replica=%llu lost rank %zu with worker %s (%s): relaunching the group",
               model->uid, (unsigned long long) replica->index, lost, node, why);
    s_group_next (self, ctx, model, replica);
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
    //  Any alive worker, the lost one too once it is back (a lost worker is
    //  not alive, so not placed on while it is lost)
    if (xinf_placement_move (self->cluster, self->models, model, (size_t) replica->index, NULL, node,
                             sizeof node, reason, sizeof reason) == 0)
        s_load_on (self, ctx, model, replica, node);
    else
    if (first) {
        char why [400];
        xinf_textf (why, sizeof why, "no other worker can take it (%s): it relaunches when one registers", reason);
        s_wait (self, model, replica, why);
    }
}

void
xinf_heal_replica_lost (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                        xinf_replica_entry_t *replica, const char *node, const char *why)
{
    replica->restoring = false;       //  the relaunch decides where it runs now
    if (replica->n_ranks > 1) {
        s_group_lost (self, ctx, model, replica, node, why);
        return;
    }
    snprintf (replica->lost_from, sizeof replica->lost_from, "%s", node);
    xinf_info ("supervisor", "replica uid=%s replica=%llu lost with worker %s (%s)", model->uid,
               (unsigned long long) replica->index, node, why);
    s_try (self, ctx, model, replica, true);
}

void
xinf_heal_worker_joined (xinf_heal_t *self, xinf_ctx_t *ctx, const char *node)
{
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        xinf_model_entry_t *model = entries [at];
        for (size_t index = 0; index < model->count; index++) {
            xinf_replica_entry_t *replica = &model->replicas [index];
            if (!*replica->lost_from || model->stopping)
                continue;
            if (replica->n_ranks > 1) {
                if (!replica->wait)       //  not while its ranks unload
                    s_group_try (self, ctx, model, replica, false);
            }
            else
            if (!model->pinned || streq (replica->lost_from, node))
                s_try (self, ctx, model, replica, false);
        }
    }
    free (entries);
}

bool
xinf_heal_moved_away (const xinf_replica_entry_t *replica, const char *node)
{
    return replica->n_ranks <= 1 && *replica->node && !streq (replica->node, node) && !*replica->lost_from
        && !(replica->state == XINF_LAUNCH_FAILED) && !(replica->state == XINF_LAUNCH_STOPPED);
}

bool
xinf_heal_rank_report (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
                       size_t rank, const char *state)
{
    if (replica->n_ranks <= 1 || rank >= replica->n_ranks || !(replica->state == XINF_LAUNCH_RELAUNCHING))
        return false;
    xinf_rank_entry_t *entry = &replica->ranks [rank];
    if (entry->unloading && streq (state, "stopped")) {
        entry->unloading = false;
        xinf_textf (entry->error, sizeof entry->error, "unloaded for the relaunch");
        s_group_next (self, ctx, model, replica);
    }
    return true;
}

bool
xinf_heal_adopt_rank (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
                      const char *node, uint64_t rank)
{
    if (!xinf_model_options_known (model) || replica->restoring || replica->n_ranks <= 1
    ||  replica->state != XINF_LAUNCH_RELAUNCHING)
        return false;
    xinf_launch_unload (self->cluster, ctx, node, model->uid, replica->index, "the replica is being relaunched");
    if (rank < replica->n_ranks && streq (replica->ranks [rank].node, node)) {
        replica->ranks [rank].unloading = true;
        s_group_next (self, ctx, model, replica);
    }
    return true;
}

uint64_t
xinf_heal_moves (xinf_heal_t *self)
{
    return self->moves;
}

void
xinf_heal_tick (xinf_heal_t *self, xinf_ctx_t *ctx, int64_t now)
{
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        xinf_model_entry_t *model = entries [at];
        for (size_t index = 0; index < model->count && !model->stopping; index++) {
            xinf_replica_entry_t *replica = &model->replicas [index];
            if (replica->n_ranks <= 1 || !(replica->state == XINF_LAUNCH_RELAUNCHING) || !replica->deadline
            ||  now <= replica->deadline)
                continue;
            for (size_t rank = 0; rank < replica->n_ranks; rank++)
                if (replica->ranks [rank].unloading) {
                    xinf_warn ("supervisor", "relaunch uid=%s replica=%llu: rank %zu (worker %s) did not report its "
                               "unload within %llu ms: placing the group anyway", model->uid,
                               (unsigned long long) replica->index, rank, replica->ranks [rank].node,
                               (unsigned long long) (model->options.stall_timeout_ms + XINF_STEP_SLACK_MS));
                    replica->ranks [rank].unloading = false;
                }
            s_group_next (self, ctx, model, replica);
        }
    }
    free (entries);
}
