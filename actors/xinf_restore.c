/*  xinf_restore: launched models to and from the journal.  */
#include "xinf_restore.h"
#include "xinf_node_msg.h"

#include <ctype.h>

xinf_value_t *
xinf_restore_describe (const xinf_model_entry_t *model)
{
    xinf_value_t *workers = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++)
        xinf_array_push (workers, xinf_value_new_str (model->replicas [index].node));
    xinf_node_msg_launched_model_t saved = {
        .uid = model->uid, .path = model->path, .generation = model->generation, .n_worker = model->n_worker,
        .threads = model->threads, .probe_timeout_ms = model->probe_timeout_ms,
        .rendezvous_timeout_ms = model->rendezvous_timeout_ms, .stall_timeout_ms = model->stall_timeout_ms,
        .kv_cache_mb = model->kv_cache_mb, .max_seqs = model->max_seqs, .step_tokens = model->step_tokens,
        .max_queued = model->max_queued, .pinned = model->pinned, .has_pinned = true, .workers = workers,
        .device = model->gpu ? "gpu" : "cpu", .has_device = true
    };
    xinf_value_t *map = xinf_value_new_map ();
    xinf_node_msg_launched_model_put (&saved, map);
    xinf_value_destroy (&workers);
    return map;
}

bool
xinf_restore_uid_valid (const char *uid)
{
    for (const char *c = uid; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '.' && *c != '_' && *c != '-')
            return false;
    return *uid != 0;
}

xinf_model_entry_t *
xinf_restore_entry (const xinf_value_t *saved_map, char *error, size_t error_size)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_launched_model_t saved;
    xinf_node_msg_launched_model_decode (saved_map, &saved, &check);
    if (!check.failed && saved.n_worker > 1)
        xinf_check_fail (&check, "model %s is tensor-parallel: its ranks are adopted from the workers", saved.uid);
    if (check.failed) {
        snprintf (error, error_size, "%s", check.reason);
        return NULL;
    }
    xinf_model_entry_t *model = calloc (1, sizeof *model);
    assert (model);
    snprintf (model->uid, sizeof model->uid, "%s", saved.uid);
    snprintf (model->path, sizeof model->path, "%s", saved.path);
    model->generation = saved.generation;
    model->n_worker = 1;
    model->threads = saved.threads;
    model->probe_timeout_ms = saved.probe_timeout_ms;
    model->rendezvous_timeout_ms = saved.rendezvous_timeout_ms;
    model->stall_timeout_ms = saved.stall_timeout_ms;
    model->kv_cache_mb = saved.kv_cache_mb;
    model->max_seqs = saved.max_seqs;
    model->step_tokens = saved.step_tokens;
    model->max_queued = (size_t) saved.max_queued;
    model->pinned = saved.pinned;
    model->gpu = streq (saved.device, "gpu");
    model->count = xinf_value_count (saved.workers);
    for (size_t index = 0; index < model->count; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        replica->index = index;
        replica->n_ranks = 1;
        replica->restoring = true;
        const char *node = xinf_value_str (xinf_array_at (saved.workers, index));
        snprintf (replica->node, sizeof replica->node, "%s", node);
        xinf_launch_set (&replica->state, XINF_LAUNCH_RELAUNCHING, model->uid);
        xinf_textf (replica->error, sizeof replica->error, "restored from the journal: waiting for worker %s to "
                    "report it", node);
    }
    return model;
}
