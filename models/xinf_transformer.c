/*  xinf_transformer: the batched forward pass of llama / qwen2 / qwen3 /
    gemma3 through a compute backend, on a paged KV cache.  */
#include "xinf_transformer.h"
#include "xinf_check.h"
#include "xinf_cpu_backend.h"
#include "xinf_graph.h"
#include "xinf_kv_cache.h"
#include "xinf_log.h"
#include "xinf_lora.h"
#include "xinf_mla.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


//  Where a bucket's graph is: no step of it yet; one ran eagerly (the
//  weights are on the device, the buffers sized), so the next is
//  recorded; recorded, so later ones replay it.
typedef enum { S_GRAPH_COLD, S_GRAPH_WARM, S_GRAPH_RECORDED } s_graph_state_t;

static int
s_check_matrix (const xinf_matrix_t *matrix, const char *name, size_t layer, size_t rows, size_t cols,
                char *error, size_t error_size)
{
    if (!matrix->data)
        return xinf_fail (error, error_size, "layer %zu: tensor %s is missing", layer, name);
    if (matrix->rows != rows || matrix->cols != cols)
        return xinf_fail (error, error_size, "layer %zu: tensor %s is %zux%zu, expected %zux%zu",
                       layer, name, matrix->rows, matrix->cols, rows, cols);
    size_t block = xinf_dtype_block_size (matrix->dtype);
    if (block > 1 && cols % block)
        return xinf_fail (error, error_size, "layer %zu: tensor %s is %s with %zu columns (not a multiple of %zu)",
                       layer, name, xinf_dtype_name (matrix->dtype), cols, block);
    return 0;
}

//  A mixture-of-experts layer: its router, every expert's matrices and
//  its shared expert's (a rank's part of each one's width, xinf_shard.h).
static int
s_check_experts (const xinf_transformer_t *self, const xinf_layer_t *layer, size_t index, char *error,
                 size_t error_size)
{
    const xinf_moe_t *moe = &layer->moe;
    if (!moe->k || moe->k > moe->n_experts || moe->dim != self->dim || moe->router != &layer->router
    ||  !moe->gate || !moe->up || !moe->down)
        return xinf_fail (error, error_size, "layer %zu: %zu experts, %zu a token, width %zu: inconsistent", index,
                          moe->n_experts, moe->k, moe->dim);
    if (s_check_matrix (&layer->router, "ffn_gate_inp", index, moe->n_experts, self->dim, error, error_size))
        return -1;
    if (moe->shared_ffn && (!moe->shared_gate || !moe->shared_up || !moe->shared_down))
        return xinf_fail (error, error_size, "layer %zu: a shared expert without its matrices", index);
    if (moe->shared_ffn
    &&  (s_check_matrix (moe->shared_gate, "ffn_gate_shexp", index, moe->shared_ffn, self->dim, error, error_size)
         || s_check_matrix (moe->shared_up, "ffn_up_shexp", index, moe->shared_ffn, self->dim, error, error_size)
         || s_check_matrix (moe->shared_down, "ffn_down_shexp", index, self->dim, moe->shared_ffn, error,
                            error_size)))
        return -1;
    for (size_t e = 0; e < moe->n_experts; e++)
        if (s_check_matrix (&moe->gate [e], "ffn_gate_exps", index, moe->ffn, self->dim, error, error_size)
        ||  s_check_matrix (&moe->up [e], "ffn_up_exps", index, moe->ffn, self->dim, error, error_size)
        ||  s_check_matrix (&moe->down [e], "ffn_down_exps", index, self->dim, moe->ffn, error, error_size))
            return -1;
    return 0;
}

//  The shard is a consistent part of the model's heads and feed-forward.
static int
s_check_shard (const xinf_transformer_t *self, char *error, size_t error_size)
{
    const xinf_shard_t *shard = &self->shard;
    size_t group = self->n_heads / self->n_kv_heads;
    if (shard->n_ranks < 1 || shard->rank >= shard->n_ranks)
        return xinf_fail (error, error_size, "shard rank %zu of %zu ranks is out of range", shard->rank, shard->n_ranks);
    bool whole = shard->n_heads == self->n_heads && shard->ffn == self->ffn;
    if (!shard->n_kv_heads || shard->n_heads != shard->n_kv_heads * group
    ||  shard->head_first != shard->kv_head_first * group
    ||  shard->kv_head_first + shard->n_kv_heads > self->n_kv_heads
    ||  !shard->ffn || shard->ffn_first + shard->ffn > self->ffn || (shard->n_ranks == 1 && !whole))
        return xinf_fail (error, error_size, "inconsistent shard %zu of %zu: heads %zu+%zu, kv heads %zu+%zu, ffn %zu+%zu "
                       "of heads %zu, kv heads %zu, ffn %zu", shard->rank, shard->n_ranks, shard->head_first,
                       shard->n_heads, shard->kv_head_first, shard->n_kv_heads, shard->ffn_first, shard->ffn,
                       self->n_heads, self->n_kv_heads, self->ffn);
    return 0;
}

int
xinf_transformer_validate (const xinf_transformer_t *self, char *error, size_t error_size)
{
    if (!self->dim || !self->n_layers || !self->n_heads || !self->n_kv_heads || !self->ffn || !self->vocab || !self->context)
        return xinf_fail (error, error_size, "a hyperparameter is zero (dim %zu, layers %zu, heads %zu, kv heads %zu, ffn %zu, vocab %zu, context %zu)",
                       self->dim, self->n_layers, self->n_heads, self->n_kv_heads, self->ffn, self->vocab, self->context);
    if (self->n_heads % self->n_kv_heads || self->head_dim < 2 || self->head_dim % 2
    ||  self->n_heads > SIZE_MAX / self->head_dim)
        return xinf_fail (error, error_size, "inconsistent heads: dim %zu, heads %zu, kv heads %zu, head dim %zu",
                       self->dim, self->n_heads, self->n_kv_heads, self->head_dim);
    if (s_check_shard (self, error, error_size))
        return -1;
    size_t q_dim = self->shard.n_heads * self->head_dim, kv_dim = self->shard.n_kv_heads * self->head_dim;
    size_t ffn = self->shard.ffn;
    if (s_check_matrix (&self->embed, "token_embd", 0, self->vocab, self->dim, error, error_size)
    ||  s_check_matrix (&self->output, "output", 0, self->vocab, self->dim, error, error_size))
        return -1;
    if (!self->output_norm)
        return xinf_fail (error, error_size, "tensor output_norm is missing");
    for (size_t index = 0; index < self->n_layers; index++) {
        const xinf_layer_t *layer = &self->layers [index];
        if (!layer->attn_norm || !layer->ffn_norm)
            return xinf_fail (error, error_size, "layer %zu: a norm weight is missing", index);
        if (!layer->q_norm != !layer->k_norm)
            return xinf_fail (error, error_size, "layer %zu: attn_q_norm and attn_k_norm must come together", index);
        if (!layer->post_attn_norm != !layer->post_ffn_norm)
            return xinf_fail (error, error_size, "layer %zu: post_attention_norm and post_ffw_norm must come together",
                              index);
        if (self->mla.kv_rank ? xinf_mla_validate (self, index, error, error_size)
            : s_check_matrix (&layer->q, "attn_q", index, q_dim, self->dim, error, error_size)
        ||  s_check_matrix (&layer->k, "attn_k", index, kv_dim, self->dim, error, error_size)
        ||  s_check_matrix (&layer->v, "attn_v", index, kv_dim, self->dim, error, error_size)
        ||  s_check_matrix (&layer->o, "attn_output", index, self->dim, q_dim, error, error_size))
            return -1;
        if (layer->moe.n_experts ? s_check_experts (self, layer, index, error, error_size)
            : s_check_matrix (&layer->gate, "ffn_gate", index, ffn, self->dim, error, error_size)
           || s_check_matrix (&layer->up, "ffn_up", index, ffn, self->dim, error, error_size)
           || s_check_matrix (&layer->down, "ffn_down", index, self->dim, ffn, error, error_size))
            return -1;
    }
    return 0;
}

//  Whether some layer has experts (in GPT-OSS's form, where 'oai').
static bool
s_has_experts (const xinf_transformer_t *self, bool oai)
{
    for (size_t index = 0; index < self->n_layers; index++) {
        const xinf_moe_t *moe = &self->layers [index].moe;
        if (moe->n_experts && (!oai || moe->router_bias || moe->gate_bias || moe->up_bias || moe->down_bias
                               || moe->weight_softmax || moe->swiglu_oai))
            return true;
    }
    return false;
}

//  Whether some layer has a shared expert (or, where 'sigmoid', GLM-4.5's
//  or DeepSeek's routing: sigmoids, a selection bias, a weight scale).
static bool
s_has_moe_part (const xinf_transformer_t *self, bool sigmoid)
{
    for (size_t index = 0; index < self->n_layers; index++)
        if (sigmoid ? self->layers [index].moe.sigmoid || self->layers [index].moe.selection_bias
                      || (self->layers [index].moe.weight_scale != 0.0f && self->layers [index].moe.weight_scale != 1.0f)
                    : self->layers [index].moe.shared_ffn != 0)
            return true;
    return false;
}

//  Whether some layer routes by groups of experts.
static bool
s_has_moe_groups (const xinf_transformer_t *self)
{
    for (size_t index = 0; index < self->n_layers; index++)
        if (self->layers [index].moe.groups > 1)
            return true;
    return false;
}

//  Whether some layer has attention sinks.
static bool
s_has_sinks (const xinf_transformer_t *self)
{
    for (size_t index = 0; index < self->n_layers; index++)
        if (self->layers [index].sinks)
            return true;
    return false;
}

int
xinf_transformer_check_backend (const xinf_transformer_t *self, const xinf_backend_t *backend, char *error,
                                size_t error_size)
{
    const char *lacks = self->gelu && !backend->ops->gelu_mul ? "GELU (Gemma's)"
                      : self->embed_scale && !backend->ops->scale ? "scaled embeddings (Gemma's, Granite's)"
                      : xinf_transformer_local_layers (self) && !backend->sliding_window ? "sliding-window attention (Gemma's)"
                      : s_has_experts (self, false) && !backend->ops->moe ? "mixture of experts"
                      : s_has_experts (self, true) && !backend->moe_oai ? "experts in GPT-OSS's form (biases, "
                        "clamped SwiGLU)"
                      : s_has_moe_part (self, false) && !backend->moe_shared ? "shared experts (Qwen2-MoE's, "
                        "GLM-4.5's)"
                      : s_has_moe_part (self, true) && !backend->moe_sigmoid ? "experts routed by sigmoids, selection "
                        "biases or weight scales (GLM-4.5's, DeepSeek's)"
                      : s_has_moe_groups (self) && !backend->moe_groups ? "groups of experts (DeepSeek V3's)"
                      : self->mla.kv_rank && !backend->ops->copy_rows ? "multi-head latent attention (DeepSeek's)"
                      : s_has_sinks (self) && !backend->sinks ? "attention sinks (GPT-OSS's)"
                      : (self->attn_softcap || self->final_softcap) && (!backend->softcap || !backend->ops->softcap)
                        ? "soft-capped attention and logits (Gemma 2's)"
                      : (self->query_scale || self->residual_scale || self->logit_scale) && !backend->ops->scale
                        ? "scaled queries, residuals or logits (Gemma 2 27B's, Granite's)"
                      : self->rope.dims && !backend->partial_rope ? "partial rotary embeddings (Phi-4-mini's, GLM-4's)" : NULL;
    if (lacks)
        return xinf_fail (error, error_size, "the %s backend has no %s, which this model needs: serve it on the CPU",
                          backend->ops->name, lacks);
    return 0;
}

static void
s_enter (xinf_kv_cache_t *cache, xinf_phase_t phase, size_t layer, const char *what)
{
    if (cache->beacon && !cache->capturing)
        xinf_beacon_enter (cache->beacon, phase, layer, what);
}

//  Only a whole model stops between layers: the ranks of a shard must not.
static bool
s_cancelled (const xinf_transformer_t *self, xinf_kv_cache_t *cache)
{
    return self->shard.n_ranks <= 1 && cache->cancel && atomic_load (cache->cancel);
}

//  0, or -1 with the backend's reason when one of its ops failed.
static int
s_backend_status (xinf_backend_t *be, char *error, size_t error_size)
{
    char reason [400] = "";
    if (!be->ops->status || be->ops->status (be, reason, sizeof reason) == 0)
        return 0;
    return xinf_fail (error, error_size, "backend %s failed: %s", be->ops->name, reason);
}

//  Sums the ranks' partial outputs [n][dim] of a layer's 'what' in place
//  (nothing to do for a whole model); 0 or -1 with the collective's reason.
static int
s_all_reduce (const xinf_transformer_t *self, xinf_backend_t *backend, float *partial, size_t n, size_t layer,
              const char *what, char *error, size_t error_size)
{
    if (self->shard.n_ranks <= 1)
        return 0;
    //  The partial sums are the backend's last writes: a device backend
    //  finishes them first (its status synchronises), as a collective on
    //  a stream of its own would not wait for them
    if (s_backend_status (backend, error, error_size))
        return -1;
    char reason [256] = "";
    if (xinf_collective_all_reduce_sum (self->collective, partial, n * self->dim, reason, sizeof reason))
        return xinf_fail (error, error_size, "%s (all-reduce of layer %zu %s)", reason [0] ? reason : "collective failed",
                       layer, what);
    return 0;
}

//  The heads' norms (Qwen3, Gemma 3), RoPE of the pass's q and k (a local
//  layer's own), k and v into the cache's 'index' layer, and attention
//  (over the layer's window) into attn: one fused op where the backend
//  has it.
static int
s_rope_attention (const xinf_transformer_t *self, const xinf_layer_t *layer, size_t index, xinf_kv_cache_t *cache,
                  const xinf_batch_t *batch)
{
    xinf_backend_t *be = cache->backend;
    size_t n_heads = self->shard.n_heads, n_kv_heads = self->shard.n_kv_heads;
    xinf_head_norms_t heads = { layer->q_norm, layer->k_norm, self->rms_eps };
    const xinf_head_norms_t *norms = layer->q_norm ? &heads : NULL;
    const xinf_rope_t *rope = layer->window ? &self->rope_local : &self->rope;
    //  A window cache: a local layer's keys and values are in the local
    //  pool, at the blocks of the local tables
    xinf_kv_pool_t *pool = &cache->pool;
    xinf_batch_t local;
    if (cache->pool_layer) {
        index = cache->pool_layer [index];
        if (layer->window) {
            local = *batch;
            local.blocks = batch->local_blocks;
            batch = &local;
            pool = &cache->local_pool;
        }
    }
    xinf_attend_t attend = { layer->window, self->attn_softcap, layer->sinks };
    if (be->ops->rope_attention)
        return be->ops->rope_attention (be, pool, index, batch, cache->q, cache->k, cache->v, n_heads,
                                        n_kv_heads, self->head_dim, rope, norms, &attend, cache->attn);
    return xinf_backend_rope_attention_apart (be, pool, index, batch, cache->q, cache->k, cache->v, n_heads,
                                              n_kv_heads, self->head_dim, rope, norms, &attend, cache->attn);
}

//  The products' LoRA deltas (their targets in 'targets'), after the
//  products themselves: for each adapter of the model, the rows of the
//  sequences served with it get scale B (A x) (the backend's lora op, each
//  row's arithmetic its own, so results do not depend on the batch).
static void
s_lora (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch, size_t layer,
        const xinf_lora_target_t *targets, const xinf_product_t *products, size_t count)
{
    xinf_backend_t *be = cache->backend;
    for (size_t index = 0; batch->lora && index < cache->n_loras && index < self->n_loras; index++) {
        size_t rows = cache->lora_counts [index];
        xinf_lora_product_t group [XINF_LORA_GROUP];
        size_t m = 0;
        for (size_t k = 0; rows && k < count && k < XINF_LORA_GROUP; k++) {
            const xinf_lora_pair_t *pair = xinf_lora_pair (self->loras [index], layer, targets [k]);
            if (pair)
                group [m++] = (xinf_lora_product_t) { &pair->a, &pair->bt, pair->scale, products [k].x,
                                                      products [k].y };
        }
        if (m)
            be->ops->lora (be, group, m, cache->lora_rows + index * cache->max_tokens, rows);
    }
}

//  Each adapter's rows of the pass, ascending, for every layer's s_lora.
static void
s_lora_rows (xinf_kv_cache_t *cache, const xinf_batch_t *batch)
{
    for (size_t index = 0; batch->lora && index < cache->n_loras; index++)
        cache->lora_counts [index] = 0;
    for (size_t i = 0; batch->lora && i < batch->n; i++) {
        int32_t id = batch->lora [batch->seq [i]];
        if (id >= 1 && (size_t) id <= cache->n_loras)
            cache->lora_rows [(size_t) (id - 1) * cache->max_tokens + cache->lora_counts [id - 1]++] = (int32_t) i;
    }
}


//  Attention block of one layer for the pass's tokens (xb holds them
//  normed by attn_norm): the shard's heads, attn_output's partial sum
//  over them into xb2.
static int
s_attention (const xinf_transformer_t *self, const xinf_layer_t *layer, size_t index, xinf_kv_cache_t *cache,
             const xinf_batch_t *batch)
{
    xinf_backend_t *be = cache->backend;
    size_t n = batch->n;
    if (self->mla.kv_rank) {
        xinf_mla_project (self, layer, cache, n);
        if (s_rope_attention (self, layer, index, cache, batch))
            return -1;
        xinf_mla_output (self, layer, cache, n);
        return 0;
    }
    xinf_product_t qkv [3] = { { &layer->q, cache->xb, cache->q, layer->q_bias },
                               { &layer->k, cache->xb, cache->k, layer->k_bias },
                               { &layer->v, cache->xb, cache->v, layer->v_bias } };
    be->ops->project (be, qkv, 3, n);
    static const xinf_lora_target_t qkv_targets [3] = { XINF_LORA_Q, XINF_LORA_K, XINF_LORA_V };
    s_lora (self, cache, batch, index, qkv_targets, qkv, 3);
    if (self->query_scale)            //  (before RoPE, which is linear: the same as after)
        be->ops->scale (be, cache->q, n * cache->q_dim, self->query_scale);
    if (s_rope_attention (self, layer, index, cache, batch))
        return -1;
    xinf_product_t out = { &layer->o, cache->attn, cache->xb2, layer->o_bias };
    be->ops->project (be, &out, 1, n);
    static const xinf_lora_target_t o_target [1] = { XINF_LORA_O };
    s_lora (self, cache, batch, index, o_target, &out, 1);
    return 0;
}

//  Feed-forward block (xb holds the tokens normed by ffn_norm): the
//  shard's columns, ffn_down's partial sum into xb2 (a mixture-of-experts
//  layer's: the backend's moe op). 0, or -1 when the op failed.
static int
s_feed_forward (const xinf_transformer_t *self, size_t index, xinf_kv_cache_t *cache, const xinf_batch_t *batch)
{
    xinf_backend_t *be = cache->backend;
    const xinf_layer_t *layer = &self->layers [index];
    size_t n = batch->n;
    if (layer->moe.n_experts)
        return be->ops->moe (be, &layer->moe, cache->xb, cache->xb2, n);
    xinf_product_t gate_up [2] = { { &layer->gate, cache->xb, cache->hb, NULL },
                                   { &layer->up, cache->xb, cache->hb2, NULL } };
    be->ops->project (be, gate_up, 2, n);
    static const xinf_lora_target_t gate_up_targets [2] = { XINF_LORA_GATE, XINF_LORA_UP };
    s_lora (self, cache, batch, index, gate_up_targets, gate_up, 2);
    if (self->gelu)
        be->ops->gelu_mul (be, cache->hb, cache->hb2, n * cache->ffn);
    else
        be->ops->silu_mul (be, cache->hb, cache->hb2, n * cache->ffn);
    xinf_product_t down = { &layer->down, cache->hb, cache->xb2, NULL };
    be->ops->project (be, &down, 1, n);
    static const xinf_lora_target_t down_target [1] = { XINF_LORA_DOWN };
    s_lora (self, cache, batch, index, down_target, &down, 1);
    return 0;
}

//  The residual x += xb2 (xb2 first normed by 'post' where the model has
//  post-norms: Gemma 3), then x normed by 'weight' into xb (NULL: not
//  normed): one fused op where the backend has it.
static void
s_residual (const xinf_transformer_t *self, xinf_kv_cache_t *cache, size_t n, const float *post, const float *weight)
{
    xinf_backend_t *be = cache->backend;
    if (self->residual_scale)
        be->ops->scale (be, cache->xb2, n * self->dim, self->residual_scale);
    if (post)
        be->ops->rmsnorm (be, cache->xb2, cache->xb2, post, n, self->dim, self->rms_eps);
    if (weight && be->ops->add_rmsnorm)
        be->ops->add_rmsnorm (be, cache->xb, cache->x, cache->xb2, weight, n, self->dim, self->rms_eps);
    else {
        be->ops->add (be, cache->x, cache->xb2, n * self->dim);
        if (weight)
            be->ops->rmsnorm (be, cache->xb, cache->x, weight, n, self->dim, self->rms_eps);
    }
}

//  The final hidden states of the pass's 'hid' rows, normed into xb (one
//  norm a run of consecutive rows), read into 'hidden' (host memory).
static void
s_hidden (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch, float *hidden)
{
    xinf_backend_t *be = cache->backend;
    size_t dim = self->dim;
    for (size_t k = 0, run; k < batch->n_hid; k += run) {
        for (run = 1; k + run < batch->n_hid && batch->hid [k + run] == batch->hid [k] + (int32_t) run; run++)
            ;
        be->ops->rmsnorm (be, cache->xb + k * dim, cache->x + (size_t) batch->hid [k] * dim, self->output_norm,
                          run, dim, self->rms_eps);
    }
    be->ops->read (be, hidden, cache->xb, batch->n_hid * dim * sizeof (float));
}

//  The logits of the pass's 'out' rows, normed into xb, into logits: one
//  norm a run of consecutive rows (a decode step's rows are one run).
static void
s_logits (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch, float *logits)
{
    xinf_backend_t *be = cache->backend;
    size_t dim = self->dim;
    for (size_t k = 0, run; k < batch->n_out; k += run) {
        for (run = 1; k + run < batch->n_out && batch->out [k + run] == batch->out [k] + (int32_t) run; run++)
            ;
        be->ops->rmsnorm (be, cache->xb + k * dim, cache->x + (size_t) batch->out [k] * dim, self->output_norm,
                          run, dim, self->rms_eps);
    }
    if (self->logit_scale)            //  (the output has no bias: the same as dividing the logits,
                                      //  which may be host memory the backend cannot scale)
        be->ops->scale (be, cache->xb, batch->n_out * dim, 1.0f / self->logit_scale);
    xinf_product_t output = { &self->output, cache->xb, logits, NULL };
    be->ops->project (be, &output, 1, batch->n_out);
    if (self->final_softcap)
        be->ops->softcap (be, logits, batch->n_out * self->vocab, self->final_softcap);
}

//  One pass of at most max_tokens tokens; 0 or -1 with a reason.
static int
s_pass (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch, float *logits,
        float *hidden, char *error, size_t error_size)
{
    xinf_backend_t *be = cache->backend;
    size_t n = batch->n;
    be->ops->embed (be, &self->embed, batch->tokens, n, cache->x);
    if (self->embed_scale)
        be->ops->scale (be, cache->x, n * self->dim, self->embed_scale);
    s_lora_rows (cache, batch);
    if (self->n_layers)
        be->ops->rmsnorm (be, cache->xb, cache->x, self->layers [0].attn_norm, n, self->dim, self->rms_eps);
    for (size_t index = 0; index < self->n_layers; index++) {
        if (s_cancelled (self, cache))
            return xinf_fail (error, error_size, "cancelled");
        s_enter (cache, XINF_PHASE_COMPUTE, index, "attention");
        if (s_attention (self, &self->layers [index], index, cache, batch))
            return s_backend_status (be, error, error_size) ? -1
                 : xinf_fail (error, error_size, "out of memory for attention scores");
        if (self->shard.n_ranks > 1)
            s_enter (cache, XINF_PHASE_COLLECTIVE, index, "all-reduce attn_output");
        if (s_all_reduce (self, be, cache->xb2, n, index, "attn_output", error, error_size))
            return -1;
        const xinf_layer_t *layer = &self->layers [index];
        s_residual (self, cache, n, layer->post_attn_norm, layer->ffn_norm);
        s_enter (cache, XINF_PHASE_COMPUTE, index, "feed-forward");
        if (s_feed_forward (self, index, cache, batch))
            return s_backend_status (be, error, error_size) ? -1
                 : xinf_fail (error, error_size, "the experts of layer %zu failed", index);
        if (self->shard.n_ranks > 1)
            s_enter (cache, XINF_PHASE_COLLECTIVE, index, "all-reduce ffn_down");
        if (s_all_reduce (self, be, cache->xb2, n, index, "ffn_down", error, error_size))
            return -1;
        s_residual (self, cache, n, layer->post_ffn_norm,
                    index + 1 < self->n_layers ? self->layers [index + 1].attn_norm : NULL);
    }
    if (hidden && batch->n_hid) {
        s_enter (cache, XINF_PHASE_COMPUTE, self->n_layers, "hidden states");
        s_hidden (self, cache, batch, hidden);
    }
    if (logits && batch->n_out) {
        s_enter (cache, XINF_PHASE_COMPUTE, self->n_layers, "logits");
        s_logits (self, cache, batch, logits);
    }
    return s_backend_status (be, error, error_size);
}

//  Of rows (ascending token indexes), those in [first, first + count):
//  their index in 'rows' (*at) and how many.
static size_t
s_rows_within (const int32_t *rows, size_t n_rows, size_t first, size_t count, size_t *at)
{
    size_t begin = 0, end;
    while (begin < n_rows && (size_t) rows [begin] < first)
        begin++;
    end = begin;
    while (end < n_rows && (size_t) rows [end] < first + count)
        end++;
    *at = begin;
    return end - begin;
}

//  The tokens [first, first + count) of a batch as a batch of their own,
//  with the logits and hidden rows among them (still counted from the
//  batch's first token: s_rebase).
static xinf_batch_t
s_slice (const xinf_batch_t *batch, size_t first, size_t count, size_t *out_first, size_t *hid_first)
{
    size_t n_out = s_rows_within (batch->out, batch->n_out, first, count, out_first);
    size_t n_hid = s_rows_within (batch->hid, batch->n_hid, first, count, hid_first);
    return (xinf_batch_t) { count, batch->tokens + first, batch->pos + first, batch->seq + first, batch->n_seqs,
                            batch->table_start, batch->blocks, n_out, batch->out + *out_first,
                            n_hid, batch->hid + *hid_first, batch->lora, batch->local_blocks };
}

//  A pass's rows counted from its first token, in 'scratch' (grown);
//  NULL when out of memory.
static int32_t *
s_rebase (const int32_t *rows, size_t n_rows, size_t first, int32_t **scratch)
{
    int32_t *moved = realloc (*scratch, (n_rows ? n_rows : 1) * sizeof (int32_t));
    if (!moved)
        return NULL;
    *scratch = moved;
    for (size_t k = 0; k < n_rows; k++)
        moved [k] = rows [k] - (int32_t) first;
    return moved;
}

//  Whether a step goes through the decode graphs: graphs on, a whole
//  model (a shard's all-reduces run on the host between its kernels), a
//  decode step of at most graph_max tokens, logits wanted.
static bool
s_graph_wanted (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch, float *logits)
{
    return cache->graphs && logits && self->shard.n_ranks <= 1 && batch->n <= cache->graph_max
        && batch->n_hid == 0 && !batch->lora && xinf_graph_decode_only (batch);
}

//  Records the pass of a padded decode batch as the bucket's graph and
//  runs it; when the recording fails, graphs go off for this cache (a log
//  line says why) and the pass runs eagerly.
static int
s_graph_record (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *padded, float *logits,
                char *error, size_t error_size)
{
    xinf_backend_t *be = cache->backend;
    size_t bucket = padded->n;
    uint8_t *state = &cache->graph_state [xinf_graph_bucket_index (bucket)];
    char reason [400] = "";
    s_enter (cache, XINF_PHASE_CAPTURE, bucket, "graph capture");
    if (be->ops->graph_begin (be, bucket, padded, &cache->pool, reason, sizeof reason) == 0) {
        cache->capturing = true;
        int rc = s_pass (self, cache, padded, logits, NULL, error, error_size);
        cache->capturing = false;
        if (be->ops->graph_end (be, bucket, rc == 0, logits, reason, sizeof reason) == 0) {
            *state = S_GRAPH_RECORDED;
            return s_backend_status (be, error, error_size);
        }
        if (rc && s_cancelled (self, cache))
            return -1;                //  the step's own end, not the graph's
    }
    xinf_warn ("transformer", "CUDA graphs off for this replica: recording the decode step of bucket %zu failed: %s",
               bucket, reason);
    cache->graphs = false;
    s_enter (cache, XINF_PHASE_COMPUTE, 0, "embedding");
    return s_pass (self, cache, padded, logits, NULL, error, error_size);
}

//  A decode step through its bucket's graph: replayed when recorded,
//  recorded on the bucket's second step, run eagerly (padded) on its
//  first (and on the step after the backend dropped its graph). A
//  backend without graphs (the CPU) runs the step as it is and only
//  marks the beacon's points where a GPU would record or replay.
static int
s_graph_step (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch, float *logits,
              char *error, size_t error_size)
{
    xinf_backend_t *be = cache->backend;
    size_t bucket = xinf_graph_bucket (batch->n, cache->graph_max);
    uint8_t *state = &cache->graph_state [xinf_graph_bucket_index (bucket)];
    if (!be->ops->graph_begin || !be->ops->graph_end || !be->ops->graph_replay) {
        if (cache->beacon && *state != S_GRAPH_COLD)
            xinf_beacon_point (cache->beacon, *state == S_GRAPH_WARM ? XINF_PHASE_CAPTURE : XINF_PHASE_REPLAY, bucket,
                               *state == S_GRAPH_WARM ? "graph capture" : "graph replay");
        *state = *state == S_GRAPH_COLD ? S_GRAPH_WARM : S_GRAPH_RECORDED;
        return s_pass (self, cache, batch, logits, NULL, error, error_size);
    }
    xinf_batch_t padded;
    if (xinf_graph_pad (cache->pad, batch, bucket, &padded))
        return xinf_fail (error, error_size, "out of memory for a decode step padded to %zu tokens", bucket);
    if (*state == S_GRAPH_RECORDED) {
        s_enter (cache, XINF_PHASE_REPLAY, bucket, "graph replay");
        int ran = be->ops->graph_replay (be, bucket, &padded, &cache->pool, logits);
        if (ran)
            return s_backend_status (be, error, error_size) ? -1
                 : ran < 0 ? xinf_fail (error, error_size, "the replay of a CUDA graph failed") : 0;
        //  Dropped by the backend (memory it used moved or went): run
        //  eagerly now, which puts anything new on the device, and record
        //  the bucket again on its next step
        *state = S_GRAPH_COLD;
    }
    if (*state == S_GRAPH_WARM)
        return s_graph_record (self, cache, &padded, logits, error, error_size);
    *state = S_GRAPH_WARM;
    return s_pass (self, cache, &padded, logits, NULL, error, error_size);
}

int
xinf_transformer_step (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch,
                       float *logits, char *error, size_t error_size)
{
    return xinf_transformer_step_rows (self, cache, batch, logits, NULL, error, error_size);
}

int
xinf_transformer_step_rows (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch,
                            float *logits, float *hidden, char *error, size_t error_size)
{
    const xinf_shard_t *shard = &self->shard;
    if (shard->n_ranks > 1 && !self->collective)
        return xinf_fail (error, error_size, "rank %zu of %zu has no collective to sum the partial results with",
                       shard->rank, shard->n_ranks);
    if (shard->n_ranks > 1
    &&  (self->collective->size != (int) shard->n_ranks || self->collective->rank != (int) shard->rank))
        return xinf_fail (error, error_size, "the collective is rank %d of %d, the model shard %zu of %zu",
                       self->collective->rank, self->collective->size, shard->rank, shard->n_ranks);
    if (!cache->pool_layer != !batch->local_blocks)
        return xinf_fail (error, error_size, cache->pool_layer ? "a window cache's step needs the local layers' block "
                          "tables" : "a step names local blocks, but the cache has no local pool");
    if (s_graph_wanted (self, cache, batch, logits))
        return s_graph_step (self, cache, batch, logits, error, error_size);
    int32_t *out_rows = NULL, *hid_rows = NULL;
    int rc = 0;
    for (size_t first = 0; first < batch->n && rc == 0; first += cache->max_tokens) {
        size_t count = batch->n - first < cache->max_tokens ? batch->n - first : cache->max_tokens;
        size_t out_first, hid_first;
        xinf_batch_t pass = s_slice (batch, first, count, &out_first, &hid_first);
        //  The pass's rows count from its first token
        if (first && ((pass.n_out && !(pass.out = s_rebase (pass.out, pass.n_out, first, &out_rows)))
                  ||  (pass.n_hid && !(pass.hid = s_rebase (pass.hid, pass.n_hid, first, &hid_rows)))))
            rc = xinf_fail (error, error_size, "out of memory for %zu logits and %zu hidden rows", pass.n_out,
                            pass.n_hid);
        else
            rc = s_pass (self, cache, &pass, logits ? logits + out_first * self->vocab : NULL,
                         hidden ? hidden + hid_first * self->dim : NULL, error, error_size);
    }
    free (out_rows);
    free (hid_rows);
    return rc;
}

//  ---- One sequence ----------------------------------------------------------

#define XINF_KV_BLOCK_TOKENS 16       //  positions per block of a one-sequence cache
#define XINF_KV_PASS_TOKENS  64       //  tokens per pass

struct _xinf_kv_t {
    size_t context;
    xinf_backend_t *backend;          //  the CPU, on the caller's pool
    xinf_kv_cache_t *cache;
    xinf_batch_buf_t *batch;
    int32_t *table;                   //  the blocks in order: 0, 1, ...
    size_t n_blocks;
    int32_t lora;                     //  the sequence's adapter (1-based; 0: none)
};

xinf_kv_t *
xinf_kv_new (const xinf_transformer_t *model, size_t context)
{
    return xinf_kv_new_typed (model, context, XINF_DTYPE_F16);
}

xinf_kv_t *
xinf_kv_new_typed (const xinf_transformer_t *model, size_t context, xinf_dtype_t dtype)
{
    if (!context)
        return NULL;
    xinf_kv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->context = context;
    self->n_blocks = (context + XINF_KV_BLOCK_TOKENS - 1) / XINF_KV_BLOCK_TOKENS;
    self->backend = xinf_cpu_backend_new_on (NULL);
    self->cache = self->backend ? xinf_kv_cache_new (model, self->backend, dtype, self->n_blocks,
                                                     XINF_KV_BLOCK_TOKENS, XINF_KV_PASS_TOKENS) : NULL;
    self->batch = xinf_batch_buf_new ();
    self->table = calloc (self->n_blocks, sizeof (int32_t));
    if (!self->cache || !self->batch || !self->table) {
        xinf_kv_destroy (&self);
        return NULL;
    }
    for (size_t block = 0; block < self->n_blocks; block++)
        self->table [block] = (int32_t) block;
    return self;
}

void
xinf_kv_destroy (xinf_kv_t **self_p)
{
    if (self_p && *self_p) {
        xinf_kv_t *self = *self_p;
        xinf_kv_cache_destroy (&self->cache);
        xinf_backend_destroy (&self->backend);
        xinf_batch_buf_destroy (&self->batch);
        free (self->table);
        free (self);
        *self_p = NULL;
    }
}

size_t xinf_kv_context (xinf_kv_t *self) { return self->context; }
void xinf_kv_set_lora (xinf_kv_t *self, int32_t lora) { self->lora = lora; }
void xinf_kv_set_cancel (xinf_kv_t *self, atomic_bool *flag) { xinf_kv_cache_set_cancel (self->cache, flag); }

int
xinf_transformer_check_step (const xinf_transformer_t *self, xinf_kv_t *kv, const int32_t *tokens, size_t count,
                             size_t pos, char *error, size_t error_size)
{
    if (count == 0)
        return xinf_fail (error, error_size, "no tokens to run");
    if (pos + count > kv->context)
        return xinf_fail (error, error_size, "positions %zu..%zu exceed the context of %zu", pos, pos + count - 1, kv->context);
    for (size_t index = 0; index < count; index++)
        if (tokens [index] < 0 || (size_t) tokens [index] >= self->vocab)
            return xinf_fail (error, error_size, "token id %d at %zu is outside the vocabulary of %zu",
                           tokens [index], index, self->vocab);
    return 0;
}

int
xinf_transformer_forward (const xinf_transformer_t *self, xinf_kv_t *kv, xinf_threadpool_t *pool,
                          const int32_t *tokens, size_t count, size_t pos,
                          float *logits, float *all_logits, char *error, size_t error_size)
{
    if (xinf_transformer_check_step (self, kv, tokens, count, pos, error, error_size))
        return -1;
    xinf_batch_buf_clear (kv->batch);
    size_t blocks = (pos + count + XINF_KV_BLOCK_TOKENS - 1) / XINF_KV_BLOCK_TOKENS;
    int rc = xinf_batch_buf_add_seq (kv->batch, kv->table, blocks) < 0 ? -1 : 0;
    size_t n_loras = xinf_transformer_limits (self, kv->cache).n_loras;
    if (rc == 0 && kv->lora && (kv->lora < 0 || (size_t) kv->lora > n_loras))
        return xinf_fail (error, error_size, "LoRA adapter %d of the %zu the KV cache was made for", kv->lora, n_loras);
    if (rc == 0)
        rc = xinf_batch_buf_set_lora (kv->batch, 0, kv->lora);
    for (size_t index = 0; index < count && rc == 0; index++)
        rc = xinf_batch_buf_add_token (kv->batch, tokens [index], (int32_t) (pos + index), 0,
                                       all_logits || (logits && index == count - 1));
    if (rc)
        return xinf_fail (error, error_size, "out of memory for a step of %zu tokens", count);
    xinf_cpu_backend_set_pool (kv->backend, pool);
    rc = xinf_transformer_step (self, kv->cache, xinf_batch_buf_view (kv->batch), all_logits ? all_logits : logits,
                                error, error_size);
    if (rc == 0 && all_logits && logits)
        memcpy (logits, all_logits + (count - 1) * self->vocab, self->vocab * sizeof (float));
    return rc;
}
