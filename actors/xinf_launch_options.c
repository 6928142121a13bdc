/*  xinf_launch_options: launch options to and from their map (see
    xinf_launch_options.h).  */
#include "xinf_launch_options.h"
#include "xinf_node_msg.h"

xinf_value_t *
xinf_launch_options_map (const xinf_launch_options_t *options, bool pinned)
{
    xinf_node_msg_launch_options_t launch = {
        .threads = options->threads, .probe_timeout_ms = options->probe_timeout_ms,
        .rendezvous_timeout_ms = options->rendezvous_timeout_ms, .stall_timeout_ms = options->stall_timeout_ms,
        .kv_cache_mb = options->kv_cache_mb, .max_seqs = options->max_seqs, .step_tokens = options->step_tokens,
        .max_queued = options->max_queued, .disable_cuda_graph = options->disable_cuda_graph,
        .has_disable_cuda_graph = true, .pinned = pinned, .has_pinned = true,
        //  Without speculation none of its fields (their defaults when read)
        .speculative_tokens = options->speculative_tokens, .has_speculative_tokens = options->speculative_tokens > 0,
        .prompt_lookup_min = options->prompt_lookup_min, .has_prompt_lookup_min = options->speculative_tokens > 0,
        .prompt_lookup_max = options->prompt_lookup_max, .has_prompt_lookup_max = options->speculative_tokens > 0,
        .kv_cache_dtype = *options->kv_cache_dtype ? options->kv_cache_dtype : "auto", .has_kv_cache_dtype = true
    };
    xinf_value_t *lora = xinf_lora_modules_array (&options->lora);
    launch.lora_modules = lora;
    launch.has_lora_modules = options->lora.count > 0;
    xinf_value_t *map = xinf_value_new_map ();
    xinf_node_msg_launch_options_put (&launch, map);
    xinf_value_destroy (&lora);
    return map;
}

int
xinf_launch_options_take (const xinf_value_t *map, xinf_launch_options_t *options, bool *pinned,
                          xinf_check_t *check)
{
    xinf_node_msg_launch_options_t taken;
    if (xinf_node_msg_launch_options_decode (map, &taken, check))
        return -1;
    xinf_lora_modules_t lora;
    char reason [512];
    if (xinf_lora_modules_take (&lora, taken.has_lora_modules ? taken.lora_modules : NULL, "lora_modules", reason,
                                sizeof reason)) {
        xinf_check_fail (check, "%s", reason);
        return -1;
    }
    *options = (xinf_launch_options_t) {
        .threads = taken.threads, .probe_timeout_ms = taken.probe_timeout_ms,
        .rendezvous_timeout_ms = taken.rendezvous_timeout_ms, .stall_timeout_ms = taken.stall_timeout_ms,
        .kv_cache_mb = taken.kv_cache_mb, .max_seqs = taken.max_seqs, .step_tokens = taken.step_tokens,
        .max_queued = (size_t) taken.max_queued, .disable_cuda_graph = taken.disable_cuda_graph,
        .speculative_tokens = taken.speculative_tokens, .prompt_lookup_min = taken.prompt_lookup_min,
        .prompt_lookup_max = taken.prompt_lookup_max
    };
    snprintf (options->kv_cache_dtype, sizeof options->kv_cache_dtype, "%s", taken.kv_cache_dtype);
    options->lora = lora;
    *pinned = taken.pinned;
    return 0;
}
