/*  xinf_transformer: the forward pass of Llama-family decoder models (llama,
    qwen2, qwen3, gemma3: xinf_arch.h) on the CPU kernels: RMSNorm,
    grouped-query attention with RoPE (Meta adjacent-pair order for llama
    GGUF files, NeoX halves for the others; Llama 3 frequency factors and
    linear scaling), Qwen2's QKV biases, Qwen3's per-head RMSNorm of queries
    and keys before RoPE, SwiGLU feed-forward, tied or separate output.
    Gemma 3: embeddings scaled by sqrt (dim), norms of the attention's and
    feed-forward's outputs before their residual adds, GELU gating, and
    local layers of sliding-window attention with their own RoPE.
    Mixture-of-experts layers (Qwen3-MoE, Mixtral) route each token to its
    top experts through the backend's moe op. The head
    dimension need not be dim / n_heads: attn_q is (n_heads x head_dim) x
    dim and attn_output dim x (n_heads x head_dim).

    The weights are views (usually into a GGUF file's image, xinf_gguf)
    that the loader fills; this module owns none of them. The pass runs through a
    compute backend (kernels/xinf_backend.h) on a paged KV cache: one step
    takes a batch of tokens of many sequences (xinf_batch.h), each with its
    position and its sequence's block table, and gives the logits of the
    rows asked for. A token's results depend only on its own sequence,
    never on what else the step carries, how prompts were chunked, or the
    number of threads.

    xinf_kv_t and xinf_transformer_forward are the one-sequence form (a
    cache with its own blocks, on the CPU): tools and tests use it.

    Tensor parallelism (Megatron-style): a shard of n_ranks > 1 holds the
    rows of attn_q/k/v of its heads, the columns of attn_output of the same
    heads, the rows of ffn_gate/up and the columns of ffn_down of its part
    of the feed-forward dimension; the rest is replicated. Every rank runs
    the same forward pass; the partial outputs of attn_output and ffn_down
    are summed over the ranks by the collective (kernels/xinf_collective.h),
    so every rank holds the same hidden state after each layer.
*/
#ifndef XINF_TRANSFORMER_H_INCLUDED
#define XINF_TRANSFORMER_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_backend.h"
#include "xinf_beacon.h"
#include "xinf_collective.h"
#include "xinf_dtype.h"
#include "xinf_threadpool.h"
#include "xinf_batch.h"

//  Multi-head latent attention (DeepSeek V2/V3's; xinf_mla.h): a model's
//  shape (kv_rank 0: none) and a layer's weights (the whole model's: no
//  tensor parallelism). Its heads attend as one KV head of head_dim =
//  kv_rank + rope: a key is a position's roped rope part, then its latent
//  (the normed kv_rank part of attn_kv_a_mqa); a query head is its roped
//  rope part, then its nope part taken into the latent by k_b; a value is
//  the latent, read by v_b into v_head floats a head.
typedef struct {
    size_t kv_rank, q_rank;            //  attention.kv_lora_rank, q_lora_rank (0: attn_q)
    size_t nope, rope, v_head;         //  a query head's unturned and turned parts; a value head
} xinf_mla_t;

typedef struct {
    xinf_matrix_t q_a, q_b;            //  q_rank > 0: q_rank x dim, (heads x (nope + rope)) x q_rank
    const float *q_a_norm;             //  [q_rank]
    xinf_matrix_t q;                   //  q_rank 0: (heads x (nope + rope)) x dim
    xinf_matrix_t kv_latent, kv_rope;  //  attn_kv_a_mqa's rows: kv_rank x dim, then rope x dim
    const float *kv_norm;              //  [kv_rank]
    xinf_matrix_t k_b, v_b;            //  (heads x kv_rank) x nope; (heads x v_head) x kv_rank
} xinf_mla_layer_t;

//  Shapes are the shard's: q_dim = shard n_heads x head_dim, kv_dim = shard
//  n_kv_heads x head_dim, ffn = shard ffn (the model's when n_ranks = 1).
typedef struct {
    const float *attn_norm;            //  [dim]
    xinf_matrix_t q, k, v, o;          //  q: q_dim x dim; k, v: kv_dim x dim; o: dim x q_dim
    const float *q_bias, *k_bias, *v_bias;   //  qwen2 (llama optionally), else NULL
    const float *o_bias;               //  [dim]: gpt-oss, else NULL (rank 0 of a shard only: added once)
    const float *sinks;                //  [shard n_heads]: gpt-oss's attention sinks, else NULL
    const float *q_norm, *k_norm;      //  [head_dim]: qwen3, gemma3, else NULL
    const float *post_attn_norm;       //  [dim]: gemma3 (attn_output's sum normed), else NULL
    const float *ffn_norm;             //  [dim]
    xinf_matrix_t gate, up, down;      //  gate, up: ffn x dim; down: dim x ffn
    const float *post_ffn_norm;        //  [dim]: gemma3 (ffn_down's sum normed), else NULL
    size_t window;                     //  a local layer's sliding window (positions), 0: global
    //  A mixture-of-experts layer (moe.n_experts > 0: qwen3moe, Mixtral)
    //  has no gate/up/down: its router and experts (the loader's arrays)
    xinf_matrix_t router;              //  n_experts x dim
    xinf_moe_t moe;                    //  moe.router is &router
    xinf_mla_layer_t mla;              //  with the model's mla: its attention (o: dim x heads x v_head)
} xinf_layer_t;

//  The part of the model one tensor-parallel rank holds; rank 0 of 1 holds
//  all of it (n_heads, n_kv_heads and ffn equal the model's).
typedef struct {
    size_t rank, n_ranks;
    size_t head_first, n_heads;        //  query heads head_first .. + n_heads
    size_t kv_head_first, n_kv_heads;  //  KV heads kv_head_first .. + n_kv_heads
    size_t ffn_first, ffn;             //  feed-forward columns ffn_first .. + ffn
} xinf_shard_t;

typedef struct {
    //  The whole model's hyperparameters (also in a shard)
    size_t dim, n_layers, n_heads, n_kv_heads, head_dim, ffn, vocab, context;
    float rms_eps;
    xinf_rope_t rope;                  //  factors, when any, are the loader's
    xinf_rope_t rope_local;            //  the RoPE of layers with a window (gemma3)
    float embed_scale;                 //  embeddings times this (gemma3: sqrt (dim)); 0: not scaled
    bool gelu;                         //  the feed-forward's gate through GELU (gemma3), else SiLU
    xinf_matrix_t embed;               //  vocab x dim
    xinf_layer_t *layers;              //  n_layers (owned by the loader)
    const float *output_norm;          //  [dim]
    xinf_matrix_t output;              //  vocab x dim (the embedding when tied)
    xinf_shard_t shard;                //  { 0, 1, 0, n_heads, 0, n_kv_heads, 0, ffn } for a whole model
    xinf_collective_t *collective;     //  not owned; required when shard.n_ranks > 1
    //  LoRA adapters (xinf_lora.h) a batch's sequences may name (batch
    //  lora 1..n_loras); not owned, set before the KV cache is made
    struct _xinf_lora_t *const *loras;
    size_t n_loras;
    //  Gemma 2: attention scores soft-capped at attn_softcap, the final
    //  logits at final_softcap (c tanh (x / c); 0: not capped), and the
    //  queries times query_scale before attention (its 27B: sqrt (head_dim
    //  / (dim / heads)); 0: not scaled)
    float attn_softcap, final_softcap, query_scale;
    //  Granite: each block's output times residual_scale before its
    //  residual add, the logits divided by logit_scale (0: neither)
    float residual_scale, logit_scale;
    xinf_mla_t mla;                    //  DeepSeek's attention, or kv_rank 0
} xinf_transformer_t;

typedef struct _xinf_kv_t xinf_kv_t;
typedef struct _xinf_kv_cache_t xinf_kv_cache_t;

//  Checks shapes and types against the hyperparameters and the shard; 0 or
//  -1 with reason.
int xinf_transformer_validate (const xinf_transformer_t *self, char *error, size_t error_size);

//  Whether 'backend' has what the model's pass needs (GELU, scaling and
//  sliding-window attention for gemma3); 0, or -1 with the reason naming
//  the backend and what it lacks.
int xinf_transformer_check_backend (const xinf_transformer_t *self, const xinf_backend_t *backend, char *error,
                                    size_t error_size);

//  The layers with a sliding window, and the widest window (0: none).
size_t xinf_transformer_local_layers (const xinf_transformer_t *self);
size_t xinf_transformer_window (const xinf_transformer_t *self);
//  Whether a window cache can hold this model on 'backend': it has local
//  and global layers, and the backend reads tables only in the window.
bool xinf_transformer_window_cache_fits (const xinf_transformer_t *self, const xinf_backend_t *backend);

//  Bytes of keys and values one position takes in every layer of the whole
//  model (shards take their part of it) in a KV cache of 'dtype'.
size_t xinf_transformer_kv_bytes_per_token (const xinf_transformer_t *self, xinf_dtype_t dtype);

//  A paged KV cache of n_blocks blocks of block_tokens positions in the
//  backend's memory (a shard's holds its own KV heads), with scratch for
//  max_tokens tokens a pass (longer steps run in passes of that many),
//  its keys and values of 'dtype' (xinf_backend_kv_dtype's, checked
//  there). NULL when out of memory, or for a type the backend does not
//  hold or whose blocks the heads do not fill. The backend must outlive
//  it.
xinf_kv_cache_t *xinf_kv_cache_new (const xinf_transformer_t *model, xinf_backend_t *backend, xinf_dtype_t dtype,
                                    size_t n_blocks, size_t block_tokens, size_t max_tokens);
//  A window cache (n_local_blocks > 0): the local (sliding-window)
//  layers' keys and values in a pool of n_local_blocks blocks of their
//  own, named by a batch's local_blocks, the global layers' in n_blocks.
//  Only for a model with local and global layers on a backend whose
//  attention reads a table only within the window (window_tables); NULL
//  otherwise. Steps on it never go through graphs.
xinf_kv_cache_t *xinf_kv_cache_new_windowed (const xinf_transformer_t *model, xinf_backend_t *backend,
                                             xinf_dtype_t dtype, size_t n_blocks, size_t n_local_blocks,
                                             size_t block_tokens, size_t max_tokens);
void xinf_kv_cache_destroy (xinf_kv_cache_t **self_p);
//  A flag another thread may raise to end a running step early (checked
//  between layers): the step then fails with "cancelled". Not checked by a
//  shard of n_ranks > 1 (its ranks must stay in lockstep).
void xinf_kv_cache_set_cancel (xinf_kv_cache_t *self, atomic_bool *flag);
//  Marks each layer's phases on 'beacon' (xinf_beacon.h), or nothing when
//  NULL; the beacon is the caller's and outlives the cache's steps.
void xinf_kv_cache_set_beacon (xinf_kv_cache_t *self, xinf_beacon_t *beacon);
//  Decode steps through CUDA graphs (xinf_graph.h), one per batch bucket
//  up to max_rows tokens (the rows of the caller's logits; at most the
//  cache's max_tokens), on a backend that has them; off when created. A
//  backend without graphs (the CPU) runs every step as before and only
//  marks where a GPU would record or replay (xinf_beacon_point), for
//  injected hangs. A recording that fails turns graphs off for the cache
//  with a log line. 0, or -1 when out of memory (graphs stay off).
int xinf_kv_cache_set_graphs (xinf_kv_cache_t *self, bool on, size_t max_rows);
//  Whether decode steps go through graphs now (false once one failed).
bool xinf_kv_cache_graphs (const xinf_kv_cache_t *self);

//  The limits a batch must keep on this model and cache (xinf_batch_check).
xinf_batch_limits_t xinf_transformer_limits (const xinf_transformer_t *self, xinf_kv_cache_t *cache);

//  Runs one step: every token of the batch (which xinf_batch_check has
//  passed) through every layer, filling its KV slot, then the logits of the
//  batch's 'out' rows into logits [n_out][vocab] (skipped when logits is
//  NULL: the followers of a tensor-parallel group). Every rank of a shard
//  runs the same batches in the same order. 0, or -1 with a reason.
int xinf_transformer_step (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch,
                           float *logits, char *error, size_t error_size);
//  The same, and the final hidden states of the batch's 'hid' rows,
//  normed by output_norm as the output layer takes them (the rows an
//  embedding is pooled from), into hidden [n_hid][dim], host memory
//  (skipped when hidden is NULL). A step with hidden rows never goes
//  through the decode graphs.
int xinf_transformer_step_rows (const xinf_transformer_t *self, xinf_kv_cache_t *cache, const xinf_batch_t *batch,
                                float *logits, float *hidden, char *error, size_t error_size);

//  ---- One sequence ----------------------------------------------------------

//  A cache (and scratch) for one sequence of up to 'context' positions, on
//  the CPU, of its default KV type (F16, as the serving executor's); a
//  shard's cache holds its own KV heads only.
xinf_kv_t *xinf_kv_new (const xinf_transformer_t *model, size_t context);

//  The same with keys and values of 'dtype' (F32, F16, or Q8_0 for heads
//  of a multiple of 32); NULL for another.
xinf_kv_t *xinf_kv_new_typed (const xinf_transformer_t *model, size_t context, xinf_dtype_t dtype);
void xinf_kv_destroy (xinf_kv_t **self_p);
size_t xinf_kv_context (xinf_kv_t *self);
//  Its sequence is served with the model's LoRA adapter 'lora' (1-based,
//  xinf_transformer_t loras; 0: none) from the next forward call on.
void xinf_kv_set_lora (xinf_kv_t *self, int32_t lora);
void xinf_kv_set_cancel (xinf_kv_t *self, atomic_bool *flag);

//  Checks a step's input as xinf_transformer_forward does (tokens within
//  the vocabulary, positions within the cache): 0, or -1 with the reason.
int xinf_transformer_check_step (const xinf_transformer_t *self, xinf_kv_t *kv, const int32_t *tokens, size_t count,
                                 size_t pos, char *error, size_t error_size);

//  Runs 'count' tokens at positions pos .. pos+count-1 (pos + count <=
//  context) of the cache's sequence on 'pool', filling the cache, and
//  writes the logits of the last position into 'logits' [vocab] (all
//  positions into 'all_logits' [count][vocab] when it is not NULL; with
//  both NULL the output projection is skipped). Token ids must be <
//  vocab. The same as a step of these tokens alone. 0, or -1 with a reason.
int xinf_transformer_forward (const xinf_transformer_t *self, xinf_kv_t *kv, xinf_threadpool_t *pool,
                              const int32_t *tokens, size_t count, size_t pos,
                              float *logits, float *all_logits, char *error, size_t error_size);

#endif
