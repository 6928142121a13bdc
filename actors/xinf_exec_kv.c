/*  xinf_exec_kv: how an executor's KV budget is cut into blocks.  */
#include "xinf_exec_kv.h"
#include "xinf_batcher.h"

//  A window cache's local blocks a sequence holds at most: the window
//  before a step's tokens and the step's, a block more where they
//  straddle one; and one window more, for the prefix cache.
static uint64_t
s_local_per_seq (size_t window, size_t step_tokens)
{
    uint64_t blocks = (window - 1 + step_tokens + XINF_BLOCK_TOKENS - 1) / XINF_BLOCK_TOKENS + 1;
    return blocks + (window + XINF_BLOCK_TOKENS - 1) / XINF_BLOCK_TOKENS;
}

xinf_exec_kv_plan_t
xinf_exec_kv_plan (const xinf_transformer_t *t, const xinf_backend_t *backend, xinf_dtype_t dtype,
                   size_t max_seqs, size_t step_tokens, uint64_t budget, bool cap_at_need)
{
    uint64_t layer_bytes = (uint64_t) XINF_BLOCK_TOKENS * xinf_transformer_kv_bytes_per_token (t, dtype) / t->n_layers;
    uint64_t local_layers = xinf_transformer_window_cache_fits (t, backend) ? xinf_transformer_local_layers (t) : 0;
    uint64_t global_bytes = (t->n_layers - local_layers) * layer_bytes, local_bytes = local_layers * layer_bytes;
    uint64_t context_blocks = (t->context + XINF_BLOCK_TOKENS - 1) / XINF_BLOCK_TOKENS;
    uint64_t local_per_seq = local_layers ? s_local_per_seq (xinf_transformer_window (t), step_tokens) : 0;
    local_per_seq = local_per_seq < context_blocks ? local_per_seq : context_blocks;
    uint64_t need = (uint64_t) max_seqs * (context_blocks * global_bytes + local_per_seq * local_bytes);
    if (cap_at_need && need < budget)
        budget = need;
    uint64_t local = (uint64_t) max_seqs * local_per_seq, blocks = 0;
    xinf_batcher_config_t rule = { .block_tokens = XINF_BLOCK_TOKENS, .window = xinf_transformer_window (t) };
    if (local && local * local_bytes < budget)
        blocks = (budget - local * local_bytes) / global_bytes;
    if (!local || blocks <= local || local < xinf_batcher_local_minimum (&rule) || blocks > INT32_MAX) {
        //  No window cache, or one that would not hold more positions than
        //  a plain cache (a budget too small for it, a context shorter than
        //  the window): every layer in one pool
        blocks = budget / (global_bytes + local_bytes);
        blocks = blocks < 1 ? 1 : blocks < INT32_MAX ? blocks : INT32_MAX;
        return (xinf_exec_kv_plan_t) { (size_t) blocks, 0, blocks * (global_bytes + local_bytes) };
    }
    return (xinf_exec_kv_plan_t) { (size_t) blocks, (size_t) local, blocks * global_bytes + local * local_bytes };
}
