/*  xinf_restore: launched models to and from the journal.  */
#include "xinf_restore.h"
#include "xinf_node_msg.h"

#include <ctype.h>

xinf_value_t *
xinf_restore_describe (const xinf_model_entry_t *model)
{
    xinf_value_t *workers = xinf_value_new_array (), *ranks = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++) {
        const xinf_replica_entry_t *replica = &model->replicas [index];
        xinf_array_push (workers, xinf_value_new_str (replica->node));
        for (size_t rank = 0; model->n_worker > 1 && rank < model->n_worker; rank++)
            xinf_array_push (ranks, xinf_value_new_str (replica->ranks [rank].node));
    }
    const xinf_launch_options_t *options = &model->options;
    xinf_node_msg_launched_model_t saved = {
        .uid = model->uid, .path = model->path, .generation = model->generation, .n_worker = model->n_worker,
        .threads = options->threads, .probe_timeout_ms = options->probe_timeout_ms,
        .rendezvous_timeout_ms = options->rendezvous_timeout_ms, .stall_timeout_ms = options->stall_timeout_ms,
        .kv_cache_mb = options->kv_cache_mb, .max_seqs = options->max_seqs, .step_tokens = options->step_tokens,
        .max_queued = options->max_queued, .disable_cuda_graph = options->disable_cuda_graph,
        .has_disable_cuda_graph = true, .pinned = model->pinned, .has_pinned = true, .workers = workers,
        .speculative_tokens = options->speculative_tokens, .has_speculative_tokens = options->speculative_tokens > 0,
        .prompt_lookup_min = options->prompt_lookup_min, .has_prompt_lookup_min = options->speculative_tokens > 0,
        .prompt_lookup_max = options->prompt_lookup_max, .has_prompt_lookup_max = options->speculative_tokens > 0,
        .device = model->gpu ? "gpu" : "cpu", .has_device = true, .ranks = ranks, .has_ranks = model->n_worker > 1,
        .kv_cache_dtype = *options->kv_cache_dtype ? options->kv_cache_dtype : "auto", .has_kv_cache_dtype = true
    };
    xinf_value_t *lora = xinf_lora_modules_array (&options->lora);
    saved.lora_modules = lora;
    saved.has_lora_modules = options->lora.count > 0;
    xinf_value_t *map = xinf_value_new_map ();
    xinf_node_msg_launched_model_put (&saved, map);
    xinf_value_destroy (&lora);
    xinf_value_destroy (&workers);
    xinf_value_destroy (&ranks);
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

//  A restored replica: relaunching, restoring, at its saved worker(s).
static void
s_replica_restored (xinf_model_entry_t *model, size_t index, const xinf_value_t *workers, const xinf_value_t *ranks)
{
    xinf_replica_entry_t *replica = &model->replicas [index];
    replica->index = index;
    replica->n_ranks = model->n_worker;
    replica->restoring = true;
    const char *node = xinf_value_str (xinf_array_at (workers, index));
    snprintf (replica->node, sizeof replica->node, "%s", node);
    for (size_t rank = 0; model->n_worker > 1 && rank < model->n_worker; rank++) {
        xinf_rank_entry_t *entry = &replica->ranks [rank];
        snprintf (entry->node, sizeof entry->node, "%s",
                  xinf_value_str (xinf_array_at (ranks, index * model->n_worker + rank)));
        xinf_launch_set (&entry->state, XINF_LAUNCH_PLACED, model->uid);
    }
    xinf_launch_set (&replica->state, XINF_LAUNCH_RELAUNCHING, model->uid);
    xinf_textf (replica->error, sizeof replica->error, "restored from the journal: waiting for worker%s %s to "
                "report it", model->n_worker > 1 ? "s of its ranks, rank 0's" : "", node);
}

//  What the schema cannot say: a tensor-parallel model's ranks, n_worker
//  a replica, rank 0's the replica's worker, and no worker twice in one.
static void
s_check_ranks (xinf_check_t *check, const xinf_node_msg_launched_model_t *saved)
{
    size_t count = xinf_value_count (saved->workers);
    if (saved->n_worker <= 1)
        return;
    if (!saved->has_ranks || xinf_value_count (saved->ranks) != count * saved->n_worker) {
        xinf_check_fail (check, "model %s: field 'ranks' must name n_worker (%llu) workers for each of its %zu "
                         "replicas", saved->uid, (unsigned long long) saved->n_worker, count);
        return;
    }
    for (size_t index = 0; index < count; index++) {
        const char *first = xinf_value_str (xinf_array_at (saved->ranks, index * saved->n_worker));
        if (!streq (first, xinf_value_str (xinf_array_at (saved->workers, index))))
            xinf_check_fail (check, "model %s: replica %zu's worker is not its rank 0's", saved->uid, index);
        for (size_t rank = 1; rank < saved->n_worker && !check->failed; rank++)
            for (size_t other = 0; other < rank; other++)
                if (streq (xinf_value_str (xinf_array_at (saved->ranks, index * saved->n_worker + rank)),
                           xinf_value_str (xinf_array_at (saved->ranks, index * saved->n_worker + other))))
                    xinf_check_fail (check, "model %s: replica %zu names a worker for two ranks", saved->uid, index);
    }
}

xinf_model_entry_t *
xinf_restore_entry (const xinf_value_t *saved_map, char *error, size_t error_size)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_launched_model_t saved;
    xinf_node_msg_launched_model_decode (saved_map, &saved, &check);
    if (!check.failed)
        s_check_ranks (&check, &saved);
    xinf_lora_modules_t lora;
    char reason [512];
    if (!check.failed && xinf_lora_modules_take (&lora, saved.has_lora_modules ? saved.lora_modules : NULL,
                                                 "lora_modules", reason, sizeof reason))
        xinf_check_fail (&check, "%s", reason);
    if (check.failed) {
        snprintf (error, error_size, "%s", check.reason);
        return NULL;
    }
    xinf_model_entry_t *model = calloc (1, sizeof *model);
    assert (model);
    snprintf (model->uid, sizeof model->uid, "%s", saved.uid);
    snprintf (model->path, sizeof model->path, "%s", saved.path);
    model->generation = saved.generation;
    model->n_worker = saved.n_worker;
    model->options = (xinf_launch_options_t) {
        .threads = saved.threads, .probe_timeout_ms = saved.probe_timeout_ms,
        .rendezvous_timeout_ms = saved.rendezvous_timeout_ms, .stall_timeout_ms = saved.stall_timeout_ms,
        .kv_cache_mb = saved.kv_cache_mb, .max_seqs = saved.max_seqs, .step_tokens = saved.step_tokens,
        .max_queued = (size_t) saved.max_queued, .disable_cuda_graph = saved.disable_cuda_graph,
        .speculative_tokens = saved.speculative_tokens, .prompt_lookup_min = saved.prompt_lookup_min,
        .prompt_lookup_max = saved.prompt_lookup_max
    };
    snprintf (model->options.kv_cache_dtype, sizeof model->options.kv_cache_dtype, "%s", saved.kv_cache_dtype);
    model->options.lora = lora;
    model->pinned = saved.pinned;
    model->gpu = streq (saved.device, "gpu");
    model->count = xinf_value_count (saved.workers);
    for (size_t index = 0; index < model->count; index++)
        s_replica_restored (model, index, saved.workers, saved.ranks);
    return model;
}

const char *
xinf_restore_unreported (const xinf_replica_entry_t *replica)
{
    if (!replica->restoring || replica->state == XINF_LAUNCH_FAILED || replica->state == XINF_LAUNCH_STOPPED)
        return NULL;
    if (replica->n_ranks <= 1)
        return replica->state == XINF_LAUNCH_RELAUNCHING ? replica->node : NULL;
    //  A rank still placed was in no HELLO: its worker did not come back
    //  with it (the other ranks may have: they wait for it in vain)
    for (size_t rank = 0; rank < replica->n_ranks; rank++)
        if (replica->ranks [rank].state == XINF_LAUNCH_PLACED)
            return replica->ranks [rank].node;
    return NULL;
}
