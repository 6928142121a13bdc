/*  xinf_backend: the compute-backend seam. The transformer's forward pass
    (models/xinf_transformer.c) runs only through this ops table: the
    backend owns the memory of activations and of the paged KV cache, and
    runs the operations of a batched forward step. The CPU backend
    (cpu/xinf_cpu_backend.h) is the first implementation; a CUDA backend
    fills the same table with device memory and kernels.

    A batch (xinf_batch_t, the shape of llama.cpp's llama_batch) carries
    the tokens of several sequences at once: each token has its position
    and the index of its sequence, each sequence a table of the KV blocks
    that hold its positions (position p lives in block table [p / B] at
    slot p % B, B = block_tokens). One step may mix the decode token of a
    running sequence with a chunk of another one's prompt.

    Every operation works on each token alone (norms, RoPE, attention over
    its own sequence) or computes each output of a product for one token
    with one fixed arithmetic (project): a token's results never depend on
    which other tokens share its batch, nor on the number of threads.
*/
#ifndef XINF_BACKEND_H_INCLUDED
#define XINF_BACKEND_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_dtype.h"
#include "xinf_sampler.h"

//  A weight matrix: 'rows' rows of 'cols' contiguous weights of 'dtype',
//  in the backend's memory (the CPU's: usually a view of the mapped file).
typedef struct {
    xinf_dtype_t dtype;
    const void *data;
    size_t rows, cols;
} xinf_matrix_t;

//  Rows first .. first + count - 1 of 'whole': a view (a quantized row is
//  whole blocks, so any row may start one; NULL data stays NULL).
static inline xinf_matrix_t
xinf_matrix_rows (const xinf_matrix_t *whole, size_t first, size_t count)
{
    xinf_matrix_t view = *whole;
    view.rows = count;
    if (whole->data)
        view.data = (const char *) whole->data + first * xinf_dtype_row_bytes (whole->dtype, whole->cols);
    return view;
}

//  One forward step's tokens. Arrays are the caller's; n >= 1.
typedef struct {
    size_t n;                         //  tokens in the step
    const int32_t *tokens;            //  [n] token ids
    const int32_t *pos;               //  [n] positions
    const int32_t *seq;               //  [n] sequence index < n_seqs
    size_t n_seqs;
    const int32_t *table_start;       //  [n_seqs + 1]: sequence s's blocks are
    const int32_t *blocks;            //  blocks [table_start [s] .. table_start [s + 1])
    size_t n_out;                     //  tokens whose logits are wanted
    const int32_t *out;               //  [n_out] token indexes, ascending
    size_t n_hid;                     //  tokens whose final hidden state is wanted (embeddings)
    const int32_t *hid;               //  [n_hid] token indexes, ascending
    const int32_t *lora;              //  [n_seqs] each sequence's LoRA adapter, 1-based (0: none), or NULL: none
    //  [n_table], aligned with blocks: where the local (sliding-window)
    //  layers keep a position's keys and values when they have a pool of
    //  their own (a window cache, xinf_kv_cache_new_windowed); -1 for a
    //  block no token of the step attends to. NULL: local layers use blocks.
    const int32_t *local_blocks;
} xinf_batch_t;

//  A LoRA adapter's delta on one product: A (rank x in), B given
//  transposed (bt: rank x out; F32, F16 or BF16), x rows of in floats, y
//  rows of out (the product's input and output).
#define XINF_LORA_GROUP 3
typedef struct {
    const xinf_matrix_t *a, *bt;
    float scale;
    const float *x;
    float *y;
} xinf_lora_product_t;

//  The paged KV cache's memory: for layer l, block b, slot t, the keys'
//  row of kv_dim elements of dtype at keys + ((l * n_blocks + b) *
//  block_tokens + t) * row_bytes (values alike), row_bytes =
//  xinf_dtype_row_bytes (dtype, kv_dim). A backend holds the types of its
//  kv_dtypes; a Q8_0 row's heads start on whole blocks (head_dim a
//  multiple of 32). The values may be the keys (values == keys: latent
//  attention's, whose values are its keys): a store then writes the keys
//  only, and attention weighs each position's key row as its value. Only
//  a model that needs copy_rows has such a pool, so only a backend with
//  copy_rows (the CPU) must honour it.
typedef struct {
    void *keys, *values;
    size_t n_layers, n_blocks, block_tokens, kv_dim;
    xinf_dtype_t dtype;               //  F32, F16 or Q8_0
    size_t row_bytes;
} xinf_kv_pool_t;

//  The bytes from a row's start to element 'first' (a head's), which for
//  a block type starts a block.
static inline size_t
xinf_kv_pool_offset (const xinf_kv_pool_t *pool, size_t first)
{
    return xinf_dtype_row_bytes (pool->dtype, first);
}

//  One product of a projection group: y [n][w->rows] = x [n][w->cols] . W^T,
//  and with a bias [w->rows] (as the model has it; NULL: none) each row
//  of y plus the bias: the floats of the product, then add_bias.
typedef struct {
    const xinf_matrix_t *w;
    const float *x;
    float *y;
    const float *bias;
} xinf_product_t;

//  A mixture-of-experts feed-forward (Qwen3-MoE, Mixtral, GPT-OSS): a
//  router (n_experts rows of dim), and each expert's gate and up (ffn x
//  dim) and down (dim x ffn) matrices; each token goes to the k experts of
//  the highest softmax of its router logits (the lower expert id first
//  among equals), their weights those probabilities, divided by their sum
//  where 'normalize' (clamped below at 2^-14, as llama.cpp).
//  GPT-OSS's form (NULL and false elsewhere): biases of the router's
//  logits and of each expert's gate, up and down outputs (added before
//  the activation, and before the weighting); 'weight_softmax': the k
//  experts of the highest logits, their weights the softmax of those k
//  logits (llama.cpp's SOFTMAX_WEIGHT gating); 'swiglu_oai': the gate's
//  activation min (g, 7) sigmoid (1.702 min (g, 7)) times (clamp (u, -7,
//  7) + 1) instead of silu (g) u (ggml's swiglu_oai).
//  GLM-4.5's (DeepSeek V3's) routing ('sigmoid'): the probabilities are the
//  sigmoids of the logits, the k experts those of the highest probability
//  plus selection_bias [n_experts] (where given), their weights the
//  probabilities (unbiased; divided by their sum where 'normalize'), times
//  weight_scale where that is neither 0 nor 1.
//  Groups (DeepSeek V3's; groups > 1, with any routing): the experts in
//  'groups' groups of consecutive ids, a group's score the sum of its two
//  highest keys (probabilities plus selection bias), and the k experts
//  chosen only among the groups_used groups of the highest scores (the
//  lower group first among equals); 2 or more experts a group, k of them
//  at most, groups_used < groups, groups <= XINF_MOE_MAX_GROUPS.
//  A shared expert (shared_ffn > 0: Qwen2-MoE's, granitemoeshared's) that
//  every token goes to besides its k: shared_gate and shared_up (shared_ffn
//  x dim), shared_down (dim x shared_ffn), silu (g) u; its output added
//  after the k experts' sum, times sigmoid (shared_router . x) where
//  shared_router [dim] is given (Qwen2-MoE's), else once.
#define XINF_MOE_MAX_GROUPS 256
typedef struct {
    const xinf_matrix_t *router;
    const xinf_matrix_t *gate, *up, *down;   //  [n_experts] each
    size_t n_experts, k, ffn, dim;
    bool normalize;
    const float *router_bias;                //  [n_experts]
    const float *gate_bias, *up_bias;        //  [n_experts][ffn]
    const float *down_bias;                  //  [n_experts][dim]
    bool weight_softmax, swiglu_oai;
    bool sigmoid;
    const float *selection_bias;             //  [n_experts] or NULL
    float weight_scale;
    size_t groups, groups_used;              //  0 or 1: no groups
    const xinf_matrix_t *shared_gate, *shared_up, *shared_down;
    size_t shared_ffn;
    const float *shared_router;              //  [dim] or NULL
} xinf_moe_t;

typedef struct _xinf_backend_t xinf_backend_t;

//  Rows of floats between strided places: outer x inner rows of 'width'
//  floats, row (o, i) from src + o src_outer + i src_inner to dst +
//  o dst_outer + i dst_inner (strides in floats; no two rows overlap, nor
//  source and destination).
typedef struct {
    size_t outer, inner, width;
    size_t dst_outer, dst_inner, src_outer, src_inner;
} xinf_rows_t;

//  How a layer's queries attend (the attention ops take it): over the last
//  'window' positions of their sequence only (sliding-window attention,
//  Gemma's and GPT-OSS's local layers; 0: all of them); each scaled score
//  s soft-capped to c tanh (s / c) before the softmax where softcap c > 0
//  (Gemma 2's attention logit soft-cap; 0: none); with 'sinks' (GPT-OSS:
//  a learned logit a query head of the shard, [n_heads], as the model has
//  them; NULL: none) that joins its head's softmax without a value, so
//  the weights of the positions sum to less than 1. A backend without
//  sliding_window, softcap or sinks is only asked 0, 0, NULL.
typedef struct {
    size_t window;
    float softcap;
    const float *sinks;
} xinf_attend_t;

//  How RoPE rotates a head: pair i turns by pos x scale x base^(-2i/d) /
//  factors [i] (d = head_dim; factors NULL: all 1).
typedef struct {
    float base;                       //  rope.freq_base
    float scale;                      //  linear scaling: 1 / rope.scaling.factor, else 1
    bool neox;                        //  pairs (i, i + d/2), else (2i, 2i + 1)
    const float *factors;             //  [d / 2]: Llama 3 rope_freqs, YaRN's, or NULL
    float mscale;                     //  cosines and sines times this (YaRN's magnitude
                                      //  scale, rope.scaling.attn_factor), else 1
    size_t dims;                      //  partial rotary: only a head's first dims turn
                                      //  (Phi-4-mini's 96 of 128; pairs and angles as for a
                                      //  head of dims), the rest pass; 0: the whole head
} xinf_rope_t;

//  RMSNorm of each q and k head before RoPE (Qwen3): the weights of a
//  head's head_dim places, both given.
typedef struct {
    const float *q, *k;
    float eps;
} xinf_head_norms_t;

//  The operations a backend provides. Pointers to activations and KV
//  memory are the backend's (from alloc); token metadata (the batch) and
//  small per-model vectors (norm weights, biases) are as the model has them.
typedef struct {
    const char *name;
    void (*destroy) (xinf_backend_t *self);
    //  'bytes' of zeroed memory for activations or KV blocks; NULL if none.
    void *(*alloc) (xinf_backend_t *self, size_t bytes);
    void (*free) (xinf_backend_t *self, void *memory);
    //  Several products at once (q/k/v, gate/up): for each, every output
    //  of every token is one dot product with the same arithmetic whatever
    //  n is (a token's result does not depend on its batch).
    void (*project) (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n);
    //  x [i] = row tokens [i] of 'table' as floats.
    void (*embed) (xinf_backend_t *self, const xinf_matrix_t *table, const int32_t *tokens, size_t n, float *x);
    //  out [i] = rmsnorm (x [i]) * weight, rows of 'dim'.
    void (*rmsnorm) (xinf_backend_t *self, float *out, const float *x, const float *weight, size_t n, size_t dim,
                     float eps);
    //  y [i] += x [i] (count floats); with bias: rows [i][.] += bias [.].
    void (*add) (xinf_backend_t *self, float *y, const float *x, size_t count);
    void (*add_bias) (xinf_backend_t *self, float *rows, const float *bias, size_t n, size_t width);
    //  Rotates the heads of each token's row x [i] (n_heads x head_dim) for
    //  its position as 'rope' says.
    void (*rope) (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim,
                  const int32_t *pos, const xinf_rope_t *rope);
    //  gate = silu (gate) * up.
    void (*silu_mul) (xinf_backend_t *self, float *gate, const float *up, size_t count);
    //  Writes each token's k and v rows [n][kv_dim] into its slot of 'layer'.
    void (*kv_store) (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                      const float *k, const float *v);
    //  Each token's attention over positions 0 .. pos of its sequence in
    //  'layer' (grouped-query: query head h reads KV head h / (n_heads /
    //  n_kv_heads)), scores scaled by 1/sqrt (head_dim): out [n][n_heads x
    //  head_dim]; as 'attend' says (its window: positions pos - window + 1
    //  .. pos; soft-cap; sinks). The pool holds the heads of this shard
    //  only. 0, or -1 when out of memory for its scratch.
    int (*attention) (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                       const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_attend_t *attend,
                       float *out);
    //  Copies 'bytes' from the caller's host memory into the backend's
    //  memory (from alloc), or back: 0, or -1 when the copy failed. For
    //  loading and inspecting activations and KV blocks (tests, tools).
    int (*write) (xinf_backend_t *self, void *memory, const void *host, size_t bytes);
    int (*read) (xinf_backend_t *self, void *host, const void *memory, size_t bytes);
    //  0 when every op so far succeeded; else -1 with the first failure's
    //  reason (a device error: the ops that return nothing cannot say so
    //  themselves). The transformer asks after every pass.
    int (*status) (xinf_backend_t *self, char *error, size_t error_size);
    //  CUDA graphs of decode passes (models/xinf_graph.h); all three NULL
    //  on a backend without them. 'batch' is a decode pass padded to
    //  'bucket' tokens; 'pool' the cache's; 'logits' the pass's host rows.
    //  graph_begin: the ops that follow, up to graph_end, are recorded
    //  into the graph of 'bucket' instead of run (the batch's arrays are
    //  put in place first). 0; or -1 with the reason in 'error': nothing
    //  is recorded, the backend's error is cleared (it goes on eagerly).
    int (*graph_begin) (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch, const xinf_kv_pool_t *pool,
                        char *error, size_t error_size);
    //  graph_end: ends the recording; with 'keep' the graph is made and
    //  run once (the pass's results, logits included, as if it ran), and
    //  0 returned. Without 'keep' (the pass failed or was cancelled), or
    //  when making or running it fails: -1 with the reason in 'error',
    //  nothing of the recording ran, and the backend's error is cleared.
    int (*graph_end) (xinf_backend_t *self, size_t bucket, bool keep, float *logits, char *error, size_t error_size);
    //  graph_replay: runs the graph of 'bucket' on this batch, its logits
    //  into 'logits': 1 when it ran; 0 when there is no usable graph for
    //  the bucket (none yet, or memory it used has moved: dropped), the
    //  caller records one; -1 when it failed (status says why).
    int (*graph_replay) (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch, const xinf_kv_pool_t *pool,
                         float *logits);
    //  sample (optional, NULL where the caller samples on the host): one
    //  token a row of 'logits' [n_rows][vocab], backend memory, into the
    //  host's tokens [n_rows] (the CPU's spreads the rows over its pool);
    //  row i as params [i] says
    //  (xinf_sampler.h: greedy, temperature, top-k, top-p) with the draw
    //  uniforms [i] in [0, 1) (xinf_sampler_uniform of params [i]), so
    //  that only the ids cross back. The token xinf_sampler_draw picks
    //  (xinf_sampler_rows is the CPU twin) except where two candidates'
    //  cumulative weights lie within rounding of the draw. 0; or -1 for
    //  bad parameters or when the backend failed (status says why).
    int (*sample) (xinf_backend_t *self, const float *logits, size_t n_rows, size_t vocab,
                   const xinf_sampling_t *params, const double *uniforms, int32_t *tokens);
    //  Fused ops, each optional (NULL: the transformer calls the ops it
    //  stands for). Each gives the floats of those ops run in turn; a
    //  device backend runs it as one kernel, a launch fewer or two.
    //  add_rmsnorm: add (y, x, n x dim), then rmsnorm (out, y, weight).
    void (*add_rmsnorm) (xinf_backend_t *self, float *out, float *y, const float *x, const float *weight, size_t n,
                         size_t dim, float eps);
    //  rope_store: rope (q, n_heads), rope (k, n_kv_heads), then kv_store
    //  (k, v) into 'layer' of the pool (kv_dim = n_kv_heads x head_dim).
    void (*rope_store) (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                        float *q, float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                        const xinf_rope_t *rope);
    //  rope_attention: with 'norms' (Qwen3's q_norm, k_norm) first
    //  rmsnorm of each q and k head in place (rows of head_dim), then
    //  rope_store (q, k, v into 'layer'), then attention of q (as
    //  'attend' says) into 'out', its return. q and k are scratch: whether
    //  they hold the normed or turned rows after it is not said.
    int (*rope_attention) (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                           float *q, float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                           const xinf_rope_t *rope, const xinf_head_norms_t *norms, const xinf_attend_t *attend,
                           float *out);
    //  Optional (LoRA adapters need it): for each of 'count' products (at
    //  most XINF_LORA_GROUP), y [row] += scale * B (A x [row]) for the
    //  listed rows (ascending; the others are left as they are). Each row's
    //  arithmetic is its own (A x as 'project' computes a row; B's sum in
    //  rank order, scaled, then added). 'rows' is host memory. When out of
    //  memory the op does nothing and 'status' reports it.
    void (*lora) (xinf_backend_t *self, const xinf_lora_product_t *products, size_t count, const int32_t *rows,
                  size_t n_rows);
    //  Optional (Gemma 3 needs them; a model that does is refused on a
    //  backend without): gate = gelu (gate) * up, GELU in its tanh form,
    //  0.5 g (1 + tanh (sqrt (2 / pi) (g + 0.044715 g^3))), as Gemma's
    //  gelu_pytorch_tanh and ggml's gelu; and x [i] *= factor.
    void (*gelu_mul) (xinf_backend_t *self, float *gate, const float *up, size_t count);
    void (*scale) (xinf_backend_t *self, float *x, size_t count, float factor);
    //  Optional (mixture-of-experts models need it): y [n][dim] = for each
    //  token the sum, in expert id order, of its k experts' weight times
    //  down (silu (gate x) * up x) (or as 'moe' says: biases, GPT-OSS's
    //  gating and activation, where the backend's moe_oai flag says it
    //  takes them), each product as 'project' computes it (a token's
    //  result does not depend on its batch). 0, or -1 when out of memory
    //  (y not written).
    int (*moe) (xinf_backend_t *self, const xinf_moe_t *moe, const float *x, float *y, size_t n);
    //  Optional (Gemma 2's final logits; with the softcap flag): x [i] =
    //  cap tanh (x [i] / cap).
    void (*softcap) (xinf_backend_t *self, float *x, size_t count, float cap);
    //  Optional (multi-head latent attention, DeepSeek's: its heads split
    //  and joined): the rows of 'shape' from src to dst.
    void (*copy_rows) (xinf_backend_t *self, float *dst, const float *src, const xinf_rows_t *shape);
} xinf_backend_ops_t;

struct _xinf_backend_t {
    const xinf_backend_ops_t *ops;
    void *impl;                       //  the implementation's state
    bool host_memory;                 //  its memory is the host's (the CPU's): host buffers serve as its own
    uint32_t kv_dtypes;               //  the KV cache types it holds: bit 1 << dtype each
    bool sliding_window;              //  its attention takes a window (else only 0)
    bool softcap;                     //  its attention takes a soft-cap (else only 0), and it has the softcap op
    bool window_tables;               //  with a window, its attention and KV store read a block table only at
                                      //  the window's positions (entries before it may be -1: a window cache)
    bool partial_rope;                //  its RoPE turns a head's first xinf_rope_t dims only (else whole heads)
    bool sinks;                       //  its attention takes sinks (else only NULL)
    bool moe_oai;                     //  its moe op takes xinf_moe_t's biases, weight_softmax and swiglu_oai
    bool moe_shared;                  //  its moe op takes xinf_moe_t's shared expert
    bool moe_sigmoid;                 //  and its sigmoid routing (selection bias, weight scale)
    bool moe_groups;                  //  and its groups of experts (DeepSeek V3's)
};

//  The KV cache type a backend holds when none is asked for: F16 where it
//  holds F16 (half the memory and reads of F32, llama.cpp's default),
//  else F32.
xinf_dtype_t xinf_backend_kv_default (const xinf_backend_t *be);

//  The KV cache type named 'name' ("f32", "f16", "q8_0", any case; NULL,
//  "" or "auto": the backend's default) into 'dtype', checked: the
//  backend holds it, and a Q8_0 cache's heads (head_dim; 0: not known
//  yet, not checked) are whole blocks. -1 with the reason, naming
//  kv_cache_dtype, in 'error' otherwise.
int xinf_backend_kv_dtype (const xinf_backend_t *be, const char *name, size_t head_dim, xinf_dtype_t *dtype,
                           char *error, size_t error_size);

//  A KV cache type's name as xinf_backend_kv_dtype takes it: "f32",
//  "f16", "q8_0" ("?" for another).
const char *xinf_backend_kv_name (xinf_dtype_t dtype);

//  rope_store as the ops it stands for: rope (q), rope (k), kv_store.
void xinf_backend_rope_store_apart (xinf_backend_t *be, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                                    float *q, float *k, const float *v, size_t n_heads, size_t n_kv_heads,
                                    size_t head_dim, const xinf_rope_t *rope);

//  rope_attention as the ops it stands for: the heads' rmsnorm (with
//  'norms'), rope_store (or the ops it stands for), attention.
int xinf_backend_rope_attention_apart (xinf_backend_t *be, xinf_kv_pool_t *pool, size_t layer,
                                       const xinf_batch_t *batch, float *q, float *k, const float *v, size_t n_heads,
                                       size_t n_kv_heads, size_t head_dim, const xinf_rope_t *rope,
                                       const xinf_head_norms_t *norms, const xinf_attend_t *attend, float *out);

static inline void
xinf_backend_destroy (xinf_backend_t **self_p)
{
    if (self_p && *self_p) {
        (*self_p)->ops->destroy (*self_p);
        *self_p = NULL;
    }
}

#endif
