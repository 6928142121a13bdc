/*  xinf_restore: launched models to and from the journal.  */
#include "xinf_restore.h"

#include <ctype.h>

xinf_value_t *
xinf_restore_describe (const xinf_model_entry_t *model)
{
    xinf_value_t *map = xinf_value_new_map ();
    xinf_map_put_str (map, "uid", model->uid);
    xinf_map_put_str (map, "path", model->path);
    xinf_map_put_uint (map, "generation", model->generation);
    xinf_map_put_uint (map, "n_worker", model->n_worker);
    xinf_map_put_uint (map, "threads", model->threads);
    xinf_map_put_uint (map, "probe_timeout_ms", model->probe_timeout_ms);
    xinf_map_put_uint (map, "rendezvous_timeout_ms", model->rendezvous_timeout_ms);
    xinf_map_put_uint (map, "stall_timeout_ms", model->stall_timeout_ms);
    xinf_map_put_uint (map, "kv_cache_mb", model->kv_cache_mb);
    xinf_map_put_uint (map, "max_seqs", model->max_seqs);
    xinf_map_put_uint (map, "step_tokens", model->step_tokens);
    xinf_map_put_uint (map, "max_queued", model->max_queued);
    xinf_map_put_bool (map, "pinned", model->pinned);
    xinf_value_t *workers = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++)
        xinf_array_push (workers, xinf_value_new_str (model->replicas [index].node));
    xinf_map_put (map, "workers", workers);
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
xinf_restore_entry (const xinf_value_t *saved, char *error, size_t error_size)
{
    xinf_check_t check = XINF_CHECK_INIT;
    const char *uid = xinf_check_str (&check, saved, "uid", 1, 64);
    const char *path = xinf_check_str (&check, saved, "path", 1, 4095);
    uint64_t generation = xinf_check_uint (&check, saved, "generation", 1, UINT64_MAX);
    uint64_t n_worker = xinf_check_uint (&check, saved, "n_worker", 1, XINF_RANKS_MAX);
    const xinf_value_t *workers = xinf_check_array (&check, saved, "workers", XINF_REPLICAS_MAX);
    const char *keys [] = { "threads", "probe_timeout_ms", "rendezvous_timeout_ms", "stall_timeout_ms",
                            "kv_cache_mb", "max_seqs", "step_tokens", "max_queued" };
    uint64_t values [8];
    for (size_t index = 0; index < 8; index++)
        values [index] = xinf_check_uint (&check, saved, keys [index], 0, UINT32_MAX);
    for (size_t index = 0; !check.failed && index < xinf_value_count (workers); index++) {
        const char *node = xinf_value_str (xinf_array_at (workers, index));
        if (!node || !*node || strlen (node) > 64)
            xinf_check_fail (&check, "field 'workers[%zu]' must be a worker name", index);
    }
    if (!check.failed && (!xinf_restore_uid_valid (uid) || xinf_value_count (workers) == 0))
        xinf_check_fail (&check, "field 'uid' or 'workers' is not one a launch makes");
    if (!check.failed && n_worker > 1)
        xinf_check_fail (&check, "model %s is tensor-parallel: its ranks are adopted from the workers", uid);
    if (check.failed) {
        snprintf (error, error_size, "%s", check.reason);
        return NULL;
    }
    xinf_model_entry_t *model = calloc (1, sizeof *model);
    assert (model);
    snprintf (model->uid, sizeof model->uid, "%s", uid);
    snprintf (model->path, sizeof model->path, "%s", path);
    model->generation = generation;
    model->n_worker = 1;
    model->threads = values [0];
    model->probe_timeout_ms = values [1];
    model->rendezvous_timeout_ms = values [2];
    model->stall_timeout_ms = values [3];
    model->kv_cache_mb = values [4];
    model->max_seqs = values [5];
    model->step_tokens = values [6];
    model->max_queued = (size_t) values [7];
    model->pinned = xinf_value_bool (xinf_map_get (saved, "pinned"));
    model->count = xinf_value_count (workers);
    for (size_t index = 0; index < model->count; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        replica->index = index;
        replica->n_ranks = 1;
        replica->restoring = true;
        snprintf (replica->node, sizeof replica->node, "%s", xinf_value_str (xinf_array_at (workers, index)));
        snprintf (replica->state, sizeof replica->state, "relaunching");
        snprintf (replica->error, sizeof replica->error, "restored from the journal: waiting for worker %s to "
                  "report it", replica->node);
    }
    return model;
}
