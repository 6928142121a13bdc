/*  xinf_models_restart: what a supervisor restart or a fail-over brings
    back into the model table (part of xinf_models, xinf_models.h): the
    launched models as the journal and the standby keep them, the replicas
    and ranks the workers report in HELLO (adopted, or unloaded when of an
    earlier launch or moved away; those a HELLO no longer lists healed),
    and after the restart window the relaunch of restored replicas (or
    ranks) no worker reported.
*/
#include "xinf_models_private.h"
#include "xinf_journal.h"
#include "xinf_restore.h"
#include "xinf_exec_device.h"

//  What a journal entry needs of an adopted tensor-parallel model: its
//  launch options, and every rank's worker (they report one by one).
static bool
s_describable (const xinf_model_entry_t *model)
{
    if (!model->adopted || model->n_worker <= 1)
        return true;
    if (!xinf_model_options_known (model))
        return false;
    for (size_t index = 0; index < model->count; index++)
        for (size_t rank = 0; rank < model->n_worker; rank++)
            if (!*model->replicas [index].ranks [rank].node)
                return false;
    return true;
}

xinf_value_t *
xinf_models_describe (xinf_models_t *self)
{
    xinf_value_t *list = xinf_value_new_array ();
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        xinf_model_entry_t *model = entries [at];
        if (!model->stopping && s_describable (model))
            xinf_array_push (list, xinf_restore_describe (model));
    }
    free (entries);
    return list;
}

void
xinf_models_save (xinf_models_t *self)
{
    if (!self->journal)
        return;
    xinf_value_t *list = xinf_models_describe (self);
    xinf_journal_save_models (self->journal, list);
    xinf_value_destroy (&list);
}

//  An adopted model takes its launch options from the first report that
//  carries them (LOAD_MODEL's launch, which the worker kept); a worker of
//  an older build reports none, and then only a journal or standby knows.
static void
s_adopt_options (xinf_model_entry_t *model, const char *node, const xinf_value_t *launch)
{
    if (xinf_model_options_known (model) || !launch)
        return;
    xinf_check_t check = XINF_CHECK_INIT;
    if (xinf_launch_options_take (launch, &model->options, &model->pinned, &check)) {
        xinf_codec_within (&check, false, "field 'launch'");
        xinf_warn ("supervisor", "HELLO from %s: the launch options of %s ignored reason=\"%s\"", node, model->uid,
                   check.reason);
        return;
    }
    model->options_known = true;
    xinf_info ("supervisor", "adopted model uid=%s: launch options from %s's report (max_seqs=%llu threads=%llu)",
               model->uid, node, (unsigned long long) model->options.max_seqs,
               (unsigned long long) model->options.threads);
}

//  A model this supervisor does not know, rebuilt from a worker's report.
static xinf_model_entry_t *
s_adopted_model (xinf_models_t *self, const char *uid, const char *path, uint64_t generation, bool gpu)
{
    xinf_model_entry_t *model = calloc (1, sizeof *model);
    assert (model);
    snprintf (model->uid, sizeof model->uid, "%s", uid);
    snprintf (model->path, sizeof model->path, "%s", path ? path : "");
    model->generation = generation;
    model->n_worker = 1;
    model->gpu = gpu;
    model->adopted = true;
    model->options.rendezvous_timeout_ms = 10000;
    zhashx_insert (self->models, uid, model);
    xinf_models_save (self);
    return model;
}

//  A plain replica that its worker runs without CUDA graphs (info
//  cuda_graphs false) although its launch has them on was relaunched
//  without them after a graph hang (xinf_graph_retry). The retry is not
//  journaled: the worker's report is what says so, and the replica keeps
//  them off wherever it heals to (a second hang fails it, as before).
static void
s_adopt_graphs_off (const xinf_model_entry_t *model, xinf_replica_entry_t *entry,
                    const xinf_node_msg_hosted_model_t *hosted)
{
    const xinf_value_t *graphs = xinf_map_get (hosted->info, "cuda_graphs");
    if (hosted->n_ranks <= 1 && !model->options.disable_cuda_graph
    &&  xinf_value_type (graphs) == XINF_BOOL && !xinf_value_bool (graphs))
        entry->graphs_off = true;
}

//  A plain replica the table has ended (failed or stopped) takes no report
//  back: failed and stopped have no way to a running state (the client
//  that launched it was told, its requests were answered). A copy that
//  runs on, or any copy on another worker, is unloaded; the entry keeps
//  its worker and its error. True when the report was such a one.
static bool
s_refuse_ended (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_replica_entry_t *entry,
                const char *uid, const char *reported)
{
    if (entry->state != XINF_LAUNCH_FAILED && entry->state != XINF_LAUNCH_STOPPED)
        return false;
    bool here = streq (entry->node, node);
    if (!here || !streq (reported, xinf_launch_state_name (entry->state)))
        xinf_launch_unload (self->cluster, ctx, node, uid, entry->index, here ?
                            "the replica failed while this worker was lost" :
                            "relaunched elsewhere while this worker was lost, and it failed there");
    return true;
}

//  One replica or rank of a worker's HELLO: adopted into the table, or
//  unloaded when it is of an earlier launch, was moved away, or ended.
static void
s_adopt_one (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_node_msg_hosted_model_t *hosted)
{
    const char *uid = hosted->uid;
    uint64_t replica = hosted->replica;
    xinf_exec_device_t device;
    char error [128];
    if (!xinf_restore_uid_valid (uid))          //  the model table's own rule
        return;
    if (xinf_exec_device_parse (hosted->device, &device, error, sizeof error)) {
        xinf_warn ("supervisor", "HELLO from %s: replica %llu of %s not adopted: %s", node,
                   (unsigned long long) replica, uid, error);
        return;
    }
    xinf_model_entry_t *model = (xinf_model_entry_t *) zhashx_lookup (self->models, uid);
    if (!model && zhashx_lookup (self->terminated, uid)) {
        //  Its UNLOAD_MODEL could not reach the worker while it was lost
        xinf_launch_unload (self->cluster, ctx, node, uid, replica, "the model was terminated");
        return;
    }
    if (!model)
        model = s_adopted_model (self, uid, hosted->path, hosted->generation, device.cuda);
    if (hosted->generation != model->generation) {
        xinf_launch_unload (self->cluster, ctx, node, uid, replica, "of an earlier launch");
        return;
    }
    s_adopt_options (model, node, hosted->launch);
    if (replica >= model->count)
        model->count = replica + 1;
    xinf_replica_entry_t *entry = &model->replicas [replica];
    entry->index = replica;
    if (hosted->n_ranks > 1) {
        if (xinf_heal_adopt_rank (self->heal, ctx, model, entry, node, hosted->rank)
        ||  !xinf_launch_adopt_rank (self->launch, ctx, model, entry, node, hosted))
            return;
        entry->ranks [hosted->rank].gpu = device.index;   //  its GPU, held against other GPU placements
        if (hosted->rank == 0)
            entry->gpu = device.index;
    }
    else {
        if (xinf_heal_moved_away (entry, node)) {
            xinf_launch_unload (self->cluster, ctx, node, uid, replica, "relaunched elsewhere while this worker "
                                "was lost");
            return;
        }
        if (s_refuse_ended (self, ctx, node, entry, uid, hosted->state))
            return;
        snprintf (entry->node, sizeof entry->node, "%s", node);
        entry->gpu = device.index;        //  its GPU, held against other GPU replicas' placement
        xinf_launch_set_reported (&entry->state, hosted->state, uid);
        entry->error [0] = 0;
        entry->lost_from [0] = 0;
        entry->restoring = false;
    }
    entry->counted_by_worker = true;  //  running as its worker registered: in the HELLO's free memory
    if (hosted->info && hosted->rank == 0) {
        xinf_value_destroy (&entry->info);
        entry->info = xinf_value_dup (hosted->info);
        s_adopt_graphs_off (model, entry, hosted);
    }
    xinf_info ("supervisor", "adopted model uid=%s replica=%llu rank=%llu/%llu node=%s state=%s", uid,
               (unsigned long long) replica, (unsigned long long) hosted->rank, (unsigned long long) hosted->n_ranks,
               node, hosted->state);
    xinf_models_sync (self, model);
}

void
xinf_models_adopt (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_value_t *models)
{
    self->ctx = ctx;
    for (size_t index = 0; index < xinf_value_count (models); index++) {
        //  Checked by xinf_hello_decode already; decoded again into the
        //  struct, so a failure here is a bug, skipped with a log line
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_node_msg_hosted_model_t hosted;
        if (xinf_node_msg_hosted_model_decode (xinf_array_at (models, index), &hosted, &check)) {
            xinf_warn ("supervisor", "HELLO from %s: model %zu skipped reason=\"%s\"", node, index, check.reason);
            continue;
        }
        s_adopt_one (self, ctx, node, &hosted);
    }
}

//  Whether a worker's HELLO 'models' lists rank 'rank' of replica 'index'
//  of 'model', of its generation (rank 0 of a plain replica).
static bool
s_listed (const xinf_value_t *models, const xinf_model_entry_t *model, uint64_t index, size_t n_ranks, size_t rank)
{
    for (size_t at = 0; at < xinf_value_count (models); at++) {
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_node_msg_hosted_model_t hosted;
        if (xinf_node_msg_hosted_model_decode (xinf_array_at (models, at), &hosted, &check))
            continue;                 //  logged by xinf_models_adopt
        if (streq (hosted.uid, model->uid) && hosted.replica == index && hosted.generation == model->generation
        &&  (hosted.n_ranks > 1) == (n_ranks > 1) && hosted.rank == rank)
            return true;
    }
    return false;
}

//  The first rank of 'replica' (rank 0 of a plain one) that the table runs
//  on 'node' and its HELLO does not list, where that means it is gone:
//  one the table has ready there (its worker reported it before it sent
//  this HELLO, which would list it), or, from another run of the worker
//  ('restarted'), one in any state (that run was told nothing). -1: none.
//  A replica still loading there may be missing from a HELLO sent again
//  before LOAD_MODEL arrived, so it is no reason; one that waits to be
//  relaunched, or a journal's not reported yet, runs nowhere to lose.
static int
s_gone_rank (const xinf_replica_entry_t *replica, const char *node, const xinf_value_t *models,
             const xinf_model_entry_t *model, bool restarted)
{
    if (replica->state == XINF_LAUNCH_FAILED || replica->state == XINF_LAUNCH_STOPPED || *replica->lost_from
    ||  replica->restoring)
        return -1;
    size_t ranks = replica->n_ranks > 1 ? replica->n_ranks : 1;
    for (size_t rank = 0; rank < ranks; rank++) {
        const char *there = replica->n_ranks > 1 ? replica->ranks [rank].node : replica->node;
        int state = replica->n_ranks > 1 ? replica->ranks [rank].state : replica->state;
        if (streq (there, node) && (state == XINF_LAUNCH_READY || restarted)
        &&  !s_listed (models, model, replica->index, replica->n_ranks, rank))
            return (int) rank;
    }
    return -1;
}

void
xinf_models_worker_hosts (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_value_t *models,
                          bool restarted)
{
    self->ctx = ctx;
    const char *why = restarted ? "restarted without it (a new run of the worker registered)"
                    : "registered again without it";
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        xinf_model_entry_t *model = entries [at];
        for (size_t index = 0; index < model->count && !model->stopping; index++) {
            xinf_replica_entry_t *replica = &model->replicas [index];
            int rank = s_gone_rank (replica, node, models, model, restarted);
            if (rank < 0)
                continue;
            xinf_warn ("supervisor", "HELLO from %s does not list replica %llu of %s (rank %d, %s there): it %s",
                       node, (unsigned long long) index, model->uid, rank,
                       xinf_launch_state_name (replica->n_ranks > 1 ? replica->ranks [rank].state : replica->state),
                       why);
            xinf_models_replica_lost (self, ctx, model, replica, node, why);
        }
    }
    free (entries);
}

void
xinf_models_restore (xinf_models_t *self, const xinf_value_t *saved)
{
    self->restore_pending = true;
    for (size_t index = 0; index < xinf_value_count (saved); index++) {
        char error [512];
        xinf_model_entry_t *model = xinf_restore_entry (xinf_array_at (saved, index), error, sizeof error);
        if (!model || zhashx_lookup (self->models, model->uid)) {
            xinf_warn ("supervisor", "journal: model %zu not restored: %s", index, model ? "uid taken" : error);
            xinf_model_entry_free (&model);
            continue;
        }
        xinf_info ("supervisor", "journal: restored model uid=%s replicas=%zu: waiting for the workers to report it",
                   model->uid, model->count);
        zhashx_insert (self->models, model->uid, model);
        xinf_models_sync (self, model);
    }
}

void
xinf_models_restart_tick (xinf_models_t *self, xinf_ctx_t *ctx, int64_t now)
{
    if (!self->restore_pending || now - self->started < self->restart_window_ms)
        return;
    self->restore_pending = false;
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        xinf_model_entry_t *model = entries [at];
        for (size_t index = 0; index < model->count && !model->stopping; index++) {
            xinf_replica_entry_t *replica = &model->replicas [index];
            const char *node = xinf_restore_unreported (replica);
            if (!node) {
                //  Back, or all its ranks reported: from now on the launch's
                //  rendezvous deadline decides, as for any launch
                replica->restoring = false;
                continue;
            }
            //  Not reported within the window: healed as if its worker (a
            //  rank's) was lost, a group placed again on the workers alive
            char lost [sizeof replica->node];     //  the heal moves replica->node and the ranks'
            snprintf (lost, sizeof lost, "%s", node);
            xinf_models_replica_lost (self, ctx, model, replica, lost, "did not report it within the restart window");
        }
        xinf_models_sync (self, model);
    }
    free (entries);
    xinf_models_save (self);
}

void
xinf_models_set_journal (xinf_models_t *self, xinf_journal_t *journal)
{
    self->journal = journal;
}

void
xinf_models_took_over (xinf_models_t *self, int64_t now)
{
    self->started = now;
    xinf_scheduler_set_grace (self->scheduler, now + self->restart_window_ms);
}

void
xinf_models_set_restart_window (xinf_models_t *self, int64_t window_ms)
{
    self->restart_window_ms = window_ms;
    xinf_scheduler_set_grace (self->scheduler, self->started + window_ms);
}

void
xinf_models_adopt_requests (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_value_t *requests)
{
    self->ctx = ctx;
    xinf_scheduler_adopt (self->scheduler, node, requests, zclock_mono ());
}

