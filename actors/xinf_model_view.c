/*  xinf_model_view: the supervisor's models as the client protocol shows them.  */
#include "xinf_model_view.h"

//  The model's state from its replicas: stopping (terminated, its workers
//  unloading it) > failed > relaunching > loading > ready > stopped;
//  'error' says why when stopping, failed or relaunching.
const char *
xinf_model_view_state (const xinf_model_entry_t *model, const char **error)
{
    bool loading = false, ready = model->count > 0;
    const char *relaunching = NULL;
    *error = "";
    if (model->stopping) {
        *error = "terminated; its workers are unloading it (each replica's state says which)";
        return "stopping";
    }
    for (size_t index = 0; index < model->count; index++) {
        const xinf_replica_entry_t *replica = &model->replicas [index];
        if (replica->state == XINF_LAUNCH_FAILED) {
            *error = replica->error;
            return "failed";
        }
        if ((replica->state == XINF_LAUNCH_RELAUNCHING) && !relaunching)
            relaunching = replica->error;
        ready &= (replica->state == XINF_LAUNCH_READY);
        loading |= !(replica->state == XINF_LAUNCH_READY) && !(replica->state == XINF_LAUNCH_STOPPED);
    }
    if (relaunching) {
        *error = relaunching;
        return "relaunching";
    }
    return loading ? "loading" : ready ? "ready" : "stopped";
}

//  The context a replica's model info reports; 0 before it is loaded.
static uint64_t
s_context (const xinf_replica_entry_t *replica)
{
    const xinf_value_t *context = xinf_map_get (replica->info, "context");
    return xinf_value_type (context) == XINF_UINT ? xinf_value_uint (context) : 0;
}

xinf_value_t *
xinf_model_view_replica (const xinf_replica_entry_t *replica)
{
    xinf_value_t *item = xinf_value_new_map ();
    xinf_map_put_uint (item, "replica", replica->index);
    xinf_map_put_str (item, "worker", replica->node);
    xinf_map_put_str (item, "state", xinf_launch_state_name (replica->state));
    xinf_map_put_uint (item, "bytes_done", replica->bytes_done);
    xinf_map_put_uint (item, "bytes_total", replica->bytes_total);
    xinf_map_put_str (item, "error", replica->error);
    xinf_map_put_str (item, "note", replica->note);
    if (s_context (replica))
        xinf_map_put_uint (item, "context_length", s_context (replica));
    if (replica->has_kv && (replica->state == XINF_LAUNCH_READY)) {
        xinf_map_put_uint (item, "kv_blocks_used", replica->kv_blocks_used);
        xinf_map_put_uint (item, "kv_blocks_free", replica->kv_blocks_free);
    }
    if (replica->has_spec && (replica->state == XINF_LAUNCH_READY)) {
        xinf_map_put_uint (item, "spec_drafts", replica->spec_drafts);
        xinf_map_put_uint (item, "spec_accepted", replica->spec_accepted);
    }
    if (replica->n_ranks > 1) {
        xinf_value_t *ranks = xinf_value_new_array ();
        for (size_t rank = 0; rank < replica->n_ranks; rank++) {
            const xinf_rank_entry_t *entry = &replica->ranks [rank];
            xinf_value_t *row = xinf_value_new_map ();
            xinf_map_put_uint (row, "rank", rank);
            xinf_map_put_str (row, "worker", entry->node);
            xinf_map_put_str (row, "state", xinf_launch_state_name (entry->state));
            xinf_map_put_uint (row, "bytes_done", entry->bytes_done);
            xinf_map_put_uint (row, "bytes_total", entry->bytes_total);
            xinf_map_put_uint (row, "data_port", entry->data_port);
            xinf_map_put_str (row, "error", entry->error);
            xinf_array_push (ranks, row);
        }
        xinf_map_put (item, "ranks", ranks);
    }
    return item;
}

void
xinf_model_view_progress (const xinf_model_entry_t *model, xinf_value_t *body)
{
    const char *error;
    xinf_map_put_str (body, "uid", model->uid);
    xinf_map_put_str (body, "state", xinf_model_view_state (model, &error));
    xinf_map_put_str (body, "error", error);
    uint64_t done = 0, total = 0;
    xinf_value_t *replicas = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++) {
        done += model->replicas [index].bytes_done;
        total += model->replicas [index].bytes_total;
        xinf_array_push (replicas, xinf_model_view_replica (&model->replicas [index]));
    }
    xinf_map_put_uint (body, "bytes_done", done);
    xinf_map_put_uint (body, "bytes_total", total);
    xinf_map_put (body, "replicas", replicas);
    xinf_map_put_uint (body, "n_worker", model->n_worker);
    xinf_map_put (body, "warnings", model->warnings ? xinf_value_dup (model->warnings) : xinf_value_new_array ());
    if (model->preflight)
        xinf_map_put (body, "preflight", xinf_value_dup (model->preflight));
}

xinf_value_t *
xinf_model_view_item (const xinf_model_entry_t *model)
{
    const char *error;
    xinf_value_t *item = xinf_value_new_map ();
    xinf_map_put_str (item, "uid", model->uid);
    xinf_map_put_str (item, "path", model->path);
    xinf_map_put_str (item, "state", xinf_model_view_state (model, &error));
    xinf_map_put_str (item, "error", error);
    const xinf_value_t *info = NULL;
    for (size_t index = 0; index < model->count && !info; index++)
        info = model->replicas [index].info;
    const char *keys [] = { "arch", "weight_type", "size_bytes", "vocab", "n_params",
                            "chat_template", "bos_token", "eos_token", "fim_prefix_token", "fim_suffix_token",
                            "fim_middle_token", "fim_repo_token", "fim_file_sep_token", "pooling", "dim",
                            "rerank_template", "kv_blocks", "kv_window_blocks", "max_seqs", "kv_cache_dtype",
                            "cuda_graphs" };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (info, keys [index]))
            xinf_map_put (item, streq (keys [index], "weight_type") ? "type" : keys [index],
                          xinf_value_dup (xinf_map_get (info, keys [index])));
    //  Replicas size their KV cache from their machine's memory: a prompt
    //  one refuses goes on to a larger one, so the model's is the largest
    uint64_t largest = 0;
    for (size_t index = 0; index < model->count; index++)
        if (s_context (&model->replicas [index]) > largest)
            largest = s_context (&model->replicas [index]);
    if (largest)
        xinf_map_put_uint (item, "context_length", largest);
    if (model->options.lora.count)
        xinf_map_put (item, "lora_modules", xinf_lora_modules_names (&model->options.lora));
    xinf_value_t *replicas = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++)
        xinf_array_push (replicas, xinf_model_view_replica (&model->replicas [index]));
    xinf_map_put (item, "replicas", replicas);
    return item;
}
