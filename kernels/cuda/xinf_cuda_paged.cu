/*  xinf_cuda_paged: the CUDA backend's ops on the paged KV cache (store,
    rope_store, attention, rope_attention), each with the CPU backend's
    semantics (kernels/cpu/xinf_cpu_paged.c).

    Attention: one block of 8 warps a (token, head), or past 64 positions
    a part of its positions (up to 8 parts, merged by the part that
    finishes last); each warp takes 4 positions at a time (their loads
    issued together) with an online softmax, the warps' partial sums are
    merged at the end
    (XINF_CUDA_ATTENTION=simple: the first kernel, 4 warps of one position
    at a time, to compare). It writes its output quantized for a Q8_0
    product that reads it next (the q8a handoff), one warp a block of 32.
    With a sliding window (Gemma 3's local layers) a token's positions are
    its last 'window' ones, split into parts as a sequence of that length.

    Fused: rope_store (one block a token: its angles once, then q and k
    turned and k and v stored); rope_attention, for a step of one token a
    sequence (decode), as the attention kernel with each block norming
    (Qwen3) and turning its own q head and k row first
    (XINF_CUDA_ATTENTION=apart: rmsnorm, rope_store, then attention; a
    windowed layer runs apart too).
*/
#include "xinf_cuda_priv.h"
#include "xinf_cuda_dot.cuh"
#include "xinf_cuda_ops.cuh"

#include <math.h>

#define WARP 32
#define ATTENTION_WARPS 8
#define ATTENTION_GROUP 4             //  positions a warp takes at once
#define ATTENTION_DIMS 8              //  a lane's share of head_dim: up to 256
#define ATTENTION_SIMPLE_WARPS 4
#define ATTENTION_SPAN 64             //  positions a part of a head's attention takes at least
#define ATTENTION_PARTS 8             //  parts a head's attention is split into at most
#define ATTENTION_SCRATCH (32u << 20) //  bytes of partial sums a launch may use (more tokens: more launches)

//  A token's RoPE turns at 'pos' into shared memory, by the block's
//  threads: the cosines of the head_dim / 2 pairs, then their sines.
__device__ __forceinline__ void
s_rope_turns (float *angles, int32_t pos, size_t head_dim, float base, float scale, const float *factors, float mscale)
{
    size_t half = head_dim / 2;
    for (size_t i = threadIdx.x; i < half; i += blockDim.x) {
        double theta = xinf_cuda_rope_angle (pos, i, head_dim, base, scale, factors);
        angles [i] = (float) (cos (theta) * mscale);
        angles [half + i] = (float) (sin (theta) * mscale);
    }
}

//  The pool row (layer_first + block * block_tokens + offset) of position
//  p of sequence 'seq'.
__device__ __forceinline__ size_t
s_pool_row (const xinf_cuda_batch_t batch, int32_t seq, size_t p, size_t block_tokens, size_t layer_first)
{
    const int32_t *table = batch.blocks + batch.table_start [seq];
    return layer_first + (size_t) table [p / block_tokens] * block_tokens + p % block_tokens;
}

__global__ void
k_kv_store (float *keys, float *values, const float *k, const float *v, const xinf_cuda_batch_t batch,
            size_t block_tokens, size_t layer_first, size_t kv_dim)
{
    xinf_cuda_pdl_enter ();
    size_t token = blockIdx.x;
    size_t row = s_pool_row (batch, batch.seq [token], (size_t) batch.pos [token], block_tokens, layer_first);
    for (size_t i = threadIdx.x; i < kv_dim; i += blockDim.x) {
        keys [row * kv_dim + i] = k [token * kv_dim + i];
        values [row * kv_dim + i] = v [token * kv_dim + i];
    }
}

//  The pool's key and value memory of 'layer', checked; false after a failure.
static bool
s_pool_ok (xinf_cuda_t *cuda, const xinf_kv_pool_t *pool, size_t layer, const char *what)
{
    size_t bytes = pool->n_layers * pool->n_blocks * pool->block_tokens * pool->kv_dim * sizeof (float);
    if (layer >= pool->n_layers || !pool->block_tokens || !pool->kv_dim) {
        xinf_cuda_fail (cuda, what, "layer outside the pool or an empty pool");
        return false;
    }
    if (pool->dtype != XINF_DTYPE_F32) {
        xinf_cuda_fail (cuda, what, "the CUDA backend holds an F32 KV cache only");
        return false;
    }
    return xinf_cuda_device_memory (cuda, pool->keys, bytes, what) && xinf_cuda_device_memory (cuda, pool->values, bytes, what);
}

void
xinf_cuda_kv_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                    const float *k, const float *v)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = batch->n * pool->kv_dim * sizeof (float);
    xinf_cuda_batch_t device;
    if (!xinf_cuda_enter (cuda) || !batch->n || !s_pool_ok (cuda, pool, layer, "kv_store")
    ||  !xinf_cuda_device_memory (cuda, k, bytes, "kv_store") || !xinf_cuda_device_memory (cuda, v, bytes, "kv_store")
    ||  xinf_cuda_batch (cuda, batch, pool->n_blocks, pool->block_tokens, &device))
        return;
    if (batch->n > 0x7fffffff) {
        xinf_cuda_fail (cuda, "kv_store", "too many tokens for one launch");
        return;
    }
    size_t layer_first = layer * pool->n_blocks * pool->block_tokens;
    xinf_cuda_launch (cuda, "kv_store", k_kv_store, (unsigned) batch->n, 128, 0, (float *) pool->keys,
                      (float *) pool->values, k, v, device, pool->block_tokens, layer_first, pool->kv_dim);
}

//  RoPE of a token's q and k heads and the store of its k and v rows, one
//  block a token: the token's angles once into shared memory (cosines
//  then sines, 'half' each), then one thread a pair or a value.
__global__ void
k_rope_store (float *q, float *k, const float *v, float *keys, float *values, const xinf_cuda_batch_t batch,
              size_t block_tokens, size_t layer_first, size_t n_heads, size_t n_kv_heads, size_t head_dim, float base,
              float scale, bool neox, const float *factors, float mscale)
{
    xinf_cuda_pdl_enter ();
    extern __shared__ float angles [];
    size_t token = blockIdx.x, half = head_dim / 2, kv_dim = n_kv_heads * head_dim;
    int32_t pos = batch.pos [token];
    s_rope_turns (angles, pos, head_dim, base, scale, factors, mscale);
    __syncthreads ();
    size_t row = s_pool_row (batch, batch.seq [token], (size_t) pos, block_tokens, layer_first), lo, hi;
    for (size_t item = threadIdx.x; item < n_heads * half; item += blockDim.x) {
        size_t i = item % half;
        xinf_cuda_rope_pair (q + (token * n_heads + item / half) * head_dim, i, half, neox, angles [i], angles [half + i], &lo,
                     &hi);
    }
    for (size_t item = threadIdx.x; item < n_kv_heads * half; item += blockDim.x) {
        size_t i = item % half, head = item / half;
        float *from = k + token * kv_dim + head * head_dim, *to = keys + row * kv_dim + head * head_dim;
        xinf_cuda_rope_pair (from, i, half, neox, angles [i], angles [half + i], &lo, &hi);
        to [lo] = from [lo];
        to [hi] = from [hi];
    }
    for (size_t i = threadIdx.x; i < kv_dim; i += blockDim.x)
        values [row * kv_dim + i] = v [token * kv_dim + i];
}

void
xinf_cuda_rope_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, float *q,
                      float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                      const xinf_rope_t *rope)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t q_bytes = batch->n * n_heads * head_dim * sizeof (float), kv_bytes = batch->n * pool->kv_dim * sizeof (float);
    xinf_cuda_batch_t device;
    if (!xinf_cuda_enter (cuda) || !batch->n)
        return;
    if (rope->dims && rope->dims < head_dim) {          //  refused before: partial_rope is false
        xinf_cuda_fail (cuda, "rope_store", "partial rotary embeddings, which this backend does not run");
        return;
    }
    if (!n_heads || head_dim < 2 || head_dim % 2) {      //  shapes of no model: the three ops as they take them
        xinf_backend_rope_store_apart (self, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope);
        return;
    }
    if (!n_kv_heads || n_kv_heads * head_dim != pool->kv_dim || batch->n > 0x7fffffff) {
        xinf_cuda_fail (cuda, "rope_store", "heads that do not match the pool's rows, or too many tokens");
        return;
    }
    const float *factors = NULL;
    if (!s_pool_ok (cuda, pool, layer, "rope_store") || !xinf_cuda_device_memory (cuda, q, q_bytes, "rope_store")
    ||  !xinf_cuda_device_memory (cuda, k, kv_bytes, "rope_store") || !xinf_cuda_device_memory (cuda, v, kv_bytes, "rope_store")
    ||  (rope->factors && !(factors = (const float *) xinf_cuda_constant (cuda, rope->factors, head_dim / 2 * sizeof (float),
                                                                          "rope_store")))
    ||  xinf_cuda_batch (cuda, batch, pool->n_blocks, pool->block_tokens, &device))
        return;
    size_t layer_first = layer * pool->n_blocks * pool->block_tokens;
    xinf_cuda_launch (cuda, "rope_store", k_rope_store, (unsigned) batch->n, 256, head_dim * sizeof (float), q, k, v,
                      (float *) pool->keys, (float *) pool->values, device, pool->block_tokens, layer_first, n_heads,
                      n_kv_heads, head_dim, rope->base, rope->scale, rope->neox, factors, rope->mscale);
}

//  The first position a token of 'n_pos' positions attends to with a
//  sliding window (Gemma 3's local layers; 0: none): n_pos - window, or 0.
__host__ __device__ __forceinline__ size_t
s_window_first (size_t n_pos, size_t window)
{
    return window && n_pos > window ? n_pos - window : 0;
}

//  The first kernel, kept to compare (XINF_CUDA_ATTENTION=simple): one
//  (token, head) a block of ATTENTION_SIMPLE_WARPS warps, each warp one
//  position at a time. Dynamic shared memory holds q [head_dim], each
//  warp's sums acc [warps][head_dim], then its running max and sum.
__global__ void
k_attention_simple (const float *keys, const float *values, const float *q, float *out, const xinf_cuda_batch_t batch,
             size_t block_tokens, size_t layer_first, size_t kv_dim, size_t n_heads, size_t group, size_t head_dim,
             float scale, size_t window)
{
    xinf_cuda_pdl_enter ();
    extern __shared__ float shared [];
    float *query = shared, *acc_all = shared + head_dim;
    float *maxima = acc_all + ATTENTION_SIMPLE_WARPS * head_dim, *sums = maxima + ATTENTION_SIMPLE_WARPS;
    size_t token = blockIdx.x / n_heads, head = blockIdx.x % n_heads;
    unsigned warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    size_t q_dim = n_heads * head_dim, offset = head / group * head_dim;
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x)
        query [d] = q [token * q_dim + head * head_dim + d];
    float *acc = acc_all + warp * head_dim;
    for (size_t d = lane; d < head_dim; d += WARP)
        acc [d] = 0;
    __syncthreads ();
    int32_t seq = batch.seq [token];
    size_t n_pos = (size_t) batch.pos [token] + 1;
    float top = -INFINITY, sum = 0;
    for (size_t p = s_window_first (n_pos, window) + warp; p < n_pos; p += ATTENTION_SIMPLE_WARPS) {
        size_t row = s_pool_row (batch, seq, p, block_tokens, layer_first) * kv_dim + offset;
        float dot = 0;
        for (size_t d = lane; d < head_dim; d += WARP)
            dot += query [d] * keys [row + d];
        float score = xinf_cuda_warp_sum (dot) * scale;
        float next = fmaxf (top, score);
        float fade = expf (top - next), weight = expf (score - next);
        sum = sum * fade + weight;
        for (size_t d = lane; d < head_dim; d += WARP)
            acc [d] = acc [d] * fade + weight * values [row + d];
        top = next;
    }
    if (lane == 0) {
        maxima [warp] = top;
        sums [warp] = sum;
    }
    __syncthreads ();
    float overall = -INFINITY;
    for (int w = 0; w < ATTENTION_SIMPLE_WARPS; w++)
        overall = fmaxf (overall, maxima [w]);
    float total = 0;
    for (int w = 0; w < ATTENTION_SIMPLE_WARPS; w++)
        total += sums [w] * expf (maxima [w] - overall);
    float *to = out + token * q_dim + head * head_dim;
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float value = 0;
        for (int w = 0; w < ATTENTION_SIMPLE_WARPS; w++)
            value += acc_all [w * head_dim + d] * expf (maxima [w] - overall);
        to [d] = value / total;
    }
}

//  What the attention kernels share: the pool's layer, the batch, the
//  shapes, the output (and its q8a handoff, or NULLs), the launch's
//  (token, head) items and the scratch of heads split into parts
//  (s_parts). Item i is token i / n_heads, head i % n_heads.
typedef struct {
    float *keys, *values;
    xinf_cuda_batch_t batch;
    size_t block_tokens, layer_first, kv_dim, n_heads, group, head_dim;
    float scale;
    float *out;
    int16_t *out_q;
    float *out_d;
    size_t first_item;                //  the launch's first item: block b takes item first_item + b / grid_parts
    size_t grid_parts;                //  blocks an item in the grid, at least its s_parts (past them: none to do)
    float *partials;                  //  [item - first_item][grid_parts][2 + head_dim]: max, sum, sums
    unsigned *counters;               //  [item - first_item]: parts done (zero between launches)
    size_t window;                    //  positions a token attends to at most (0: all)
} s_attend_t;

//  The parts a head's attention over n_pos positions is split into, each
//  a block of its own, so that a long context keeps more blocks at work
//  than there are heads. They depend on n_pos alone: a token's floats do
//  not depend on its batch.
__host__ __device__ __forceinline__ size_t
s_parts (size_t n_pos)
{
    size_t parts = (n_pos + ATTENTION_SPAN - 1) / ATTENTION_SPAN;
    return parts < ATTENTION_PARTS ? parts : ATTENTION_PARTS;
}

//  The output of a head from the block's sums (value [d] over 'total',
//  each scaled to the same max), and its q8a handoff. With out_q
//  (head_dim is whole blocks, at most a block's threads) warp w writes
//  the block of d = 32w .. 32w + 31.
__device__ __forceinline__ void
s_attend_put (const s_attend_t *a, size_t first, size_t d, float value, float total)
{
    float mean = value / total;
    a->out [first + d] = mean;
    if (a->out_q)
        xinf_cuda_q8a_warp_put (mean, threadIdx.x % WARP, a->out_q + (first + d - threadIdx.x % WARP),
                                a->out_d + (first + d) / 32);
}

//  A part's sums into the scratch, then the part that finishes last
//  merges all of them, in part order, into the output and sets the
//  counter back to zero (the others return). After the block's barrier
//  thread 0 fences (cumulative: the block's writes with it) and counts
//  the part; in the last block thread 0 fences and the barrier after it
//  orders every thread's reads of the others' sums (through L2), as
//  cooperative groups' grid sync does.
//  'maxima' and 'sums' are s_attend's shared arrays, free by then.
__device__ __forceinline__ void
s_attend_merge (const s_attend_t *a, size_t item, size_t part, size_t parts, size_t warps, float top, float total,
                const float *acc_all, float *maxima, float *sums, float *shared_last)
{
    size_t head_dim = a->head_dim, stride = 2 + head_dim, local = item - a->first_item;
    float *mine = a->partials + (local * a->grid_parts + part) * stride;
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float value = 0;
        for (size_t w = 0; w < warps; w++)
            value = __fmaf_rn (acc_all [w * head_dim + d], expf (maxima [w] - top), value);
        mine [2 + d] = value;
    }
    if (threadIdx.x == 0) {
        mine [0] = top;
        mine [1] = total;
    }
    __syncthreads ();
    if (threadIdx.x == 0) {
        __threadfence ();
        *shared_last = atomicAdd (&a->counters [local], 1u) + 1 == parts ? 1.0f : 0.0f;
    }
    __syncthreads ();
    if (*shared_last == 0)
        return;
    //  The last: thread 0 scales each part to the largest max (sums [p])
    //  and adds up their sums (maxima [0]); every thread then its places
    const float *all = a->partials + local * a->grid_parts * stride;
    if (threadIdx.x == 0) {
        __threadfence ();
        float overall = -INFINITY, sum = 0;
        for (size_t p = 0; p < parts; p++)
            overall = fmaxf (overall, __ldcg (all + p * stride));
        for (size_t p = 0; p < parts; p++) {
            sums [p] = expf (__ldcg (all + p * stride) - overall);
            sum = __fmaf_rn (__ldcg (all + p * stride + 1), sums [p], sum);
        }
        maxima [0] = sum;
        a->counters [local] = 0;
    }
    __syncthreads ();
    size_t first = item * head_dim;
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float value = 0;
        for (size_t p = 0; p < parts; p++)
            value = __fmaf_rn (__ldcg (all + p * stride + 2 + d), sums [p], value);
        s_attend_put (a, first, d, value, maxima [0]);
    }
}

//  The attention of one (token, head), or of its part 'part' (s_parts),
//  by a block of ATTENTION_WARPS warps: k_attention's and
//  k_rope_attention's body. A warp takes ATTENTION_GROUP positions at
//  once (their keys and values loaded before the first score is reduced:
//  a position at a time kept a warp waiting on memory for each), holding
//  its lanes' share of q and of the weighted values in registers
//  (head_dim <= 32 * ATTENTION_DIMS). 'shared' holds each warp's sums
//  acc [warps][head_dim], then its running max and sum, merged at the
//  end, then a flag. 'query' is the head's q (global or shared memory).
//  With 'fresh_k' and 'fresh_v' the token's own position (its last) is
//  read from there, not from the pool: the launch writes it there itself.
__device__ __forceinline__ void
s_attend (const s_attend_t *a, size_t item, size_t part, const float *query, const float *fresh_k,
          const float *fresh_v, float *shared)
{
    size_t head_dim = a->head_dim, token = item / a->n_heads, head = item % a->n_heads;
    float *acc_all = shared, *maxima = acc_all + ATTENTION_WARPS * head_dim, *sums = maxima + ATTENTION_WARPS;
    unsigned warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    size_t offset = head / a->group * head_dim;
    float mine [ATTENTION_DIMS], acc [ATTENTION_DIMS];
#pragma unroll
    for (int i = 0; i < ATTENTION_DIMS; i++) {
        size_t d = lane + (size_t) i * WARP;
        mine [i] = d < head_dim ? query [d] : 0;
        acc [i] = 0;
    }
    int32_t seq = a->batch.seq [token];
    size_t n_pos = (size_t) a->batch.pos [token] + 1, begin = s_window_first (n_pos, a->window);
    size_t parts = s_parts (n_pos - begin), per = (n_pos - begin + parts - 1) / parts;
    size_t lo = begin + part * per, hi = lo + per < n_pos ? lo + per : n_pos;
    float top = -INFINITY, sum = 0;
    for (size_t base = lo + warp * ATTENTION_GROUP; base < hi; base += ATTENTION_WARPS * ATTENTION_GROUP) {
        float scores [ATTENTION_GROUP], held [ATTENTION_GROUP][ATTENTION_DIMS];
#pragma unroll
        for (int j = 0; j < ATTENTION_GROUP; j++) {
            bool inside = base + j < hi;                    //  the same on every lane
            const float *key = a->keys, *value = a->values;
            if (fresh_k && base + j + 1 == n_pos) {
                key = fresh_k;
                value = fresh_v;
            }
            else if (inside) {
                size_t row = s_pool_row (a->batch, seq, base + j, a->block_tokens, a->layer_first) * a->kv_dim
                           + offset;
                key += row;
                value += row;
            }
            float dot = 0;
#pragma unroll
            for (int i = 0; i < ATTENTION_DIMS; i++) {
                size_t d = lane + (size_t) i * WARP;
                bool mine_d = inside && d < head_dim;
                dot = mine_d ? fmaf (mine [i], key [d], dot) : dot;
                held [j][i] = mine_d ? value [d] : 0;
            }
            scores [j] = dot;
        }
        float next = top;
#pragma unroll
        for (int j = 0; j < ATTENTION_GROUP; j++) {
            scores [j] = xinf_cuda_warp_sum (scores [j]) * a->scale;
            if (base + j < hi)
                next = fmaxf (next, scores [j]);
        }
        float fade = expf (top - next);
        sum = __fmul_rn (sum, fade);
#pragma unroll
        for (int i = 0; i < ATTENTION_DIMS; i++)
            acc [i] = __fmul_rn (acc [i], fade);
#pragma unroll
        for (int j = 0; j < ATTENTION_GROUP; j++)
            if (base + j < hi) {
                float weight = expf (scores [j] - next);
                sum = __fadd_rn (sum, weight);
#pragma unroll
                for (int i = 0; i < ATTENTION_DIMS; i++)
                    acc [i] = fmaf (weight, held [j][i], acc [i]);
            }
        top = next;
    }
#pragma unroll
    for (int i = 0; i < ATTENTION_DIMS; i++) {
        size_t d = lane + (size_t) i * WARP;
        if (d < head_dim)
            acc_all [warp * head_dim + d] = acc [i];
    }
    if (lane == 0) {
        maxima [warp] = top;
        sums [warp] = sum;
    }
    __syncthreads ();
    //  Only the warps that had positions, the first 'warps' (NaN from a
    //  score stays NaN, as on the CPU)
    size_t warps = (hi - lo + ATTENTION_GROUP - 1) / ATTENTION_GROUP;
    warps = warps < ATTENTION_WARPS ? warps : ATTENTION_WARPS;
    float overall = -INFINITY;
    for (int w = 0; w < ATTENTION_WARPS; w++)
        overall = fmaxf (overall, maxima [w]);
    float total = 0;
    for (size_t w = 0; w < warps; w++)
        total = __fmaf_rn (sums [w], expf (maxima [w] - overall), total);
    if (parts > 1) {
        s_attend_merge (a, item, part, parts, warps, overall, total, acc_all, maxima, sums, sums + ATTENTION_WARPS);
        return;
    }
    size_t first = item * head_dim;
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float value = 0;
        for (size_t w = 0; w < warps; w++)
            value = __fmaf_rn (acc_all [w * head_dim + d], expf (maxima [w] - overall), value);
        s_attend_put (a, first, d, value, total);
    }
}

//  One block a part of a (token, head) (s_attend), q and the pool as
//  they are; the grid has grid_parts blocks a head, those past the
//  head's parts return at once.
__global__ void
k_attention (const s_attend_t a, const float *q)
{
    xinf_cuda_pdl_enter ();
    extern __shared__ float shared [];
    unsigned parts = (unsigned) a.grid_parts;
    size_t item = a.first_item + blockIdx.x / parts, part = blockIdx.x % parts;
    size_t n_pos = (size_t) a.batch.pos [item / a.n_heads] + 1;
    if (part >= s_parts (n_pos - s_window_first (n_pos, a.window)))
        return;
    s_attend (&a, item, part, q + item * a.head_dim, NULL, NULL, shared);
}

//  The norms of a block's q head and k row in shared memory (Qwen3's
//  q_norm, k_norm: 'weights' [2]), with k_rmsnorm's arithmetic on rows of
//  head_dim: the first xinf_cuda_norm_threads (head_dim) threads add as
//  its block does. That holds while head_dim <= 256 (ATTENTION_DIMS x
//  32): each thread holds one place at most, in this block as in
//  k_rmsnorm's, and 8 warps' sums fit each half of 'warps' (shared
//  memory of 2 x 8 floats).
__device__ __forceinline__ void
s_norm_heads (float *query, float *fresh_k, size_t head_dim, const float *const *weights, float eps, float *warps)
{
    unsigned threads = xinf_cuda_norm_threads (head_dim);
    float q_scale = xinf_cuda_norm_scale (
        xinf_cuda_block_sum (xinf_cuda_norm_squares (query, head_dim, threads), threads, warps), head_dim, eps);
    float k_scale = xinf_cuda_norm_scale (
        xinf_cuda_block_sum (xinf_cuda_norm_squares (fresh_k, head_dim, threads), threads, warps + 8), head_dim, eps);
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        query [d] = xinf_cuda_norm_value (query [d], q_scale, weights [0], d);
        fresh_k [d] = xinf_cuda_norm_value (fresh_k [d], k_scale, weights [1], d);
    }
    __syncthreads ();
}

//  The heads' norms (with q_norm, k_norm: Qwen3), rope_store and
//  attention in one launch, for a step of one token a sequence (a decode
//  step): one block a part of a (token, head), as k_attention. The block
//  norms and turns its q head and its KV head's k row for the token's
//  position in shared memory (after s_attend's: angles [head_dim], then
//  query, fresh_k, fresh_v, then the norms' 16 floats), with the
//  arithmetic of k_rmsnorm and k_rope_store; part 0 of the first head of
//  each KV group stores the k and v rows into the pool ('store': tests
//  may leave it unwritten). Every block reads that position from its own
//  copy, the others from the pool, which no token of such a step writes.
//  q and k are left as they were.
__global__ void
k_rope_attention (const s_attend_t a, const float *q, const float *k, const float *v, float base, float rope_scale,
                  bool neox, const float *factors, float mscale, const float *q_norm, const float *k_norm, float eps,
                  bool store)
{
    xinf_cuda_pdl_enter ();
    extern __shared__ float shared [];
    unsigned parts = (unsigned) a.grid_parts;
    size_t head_dim = a.head_dim, item = a.first_item + blockIdx.x / parts, part = blockIdx.x % parts;
    size_t token = item / a.n_heads, head = item % a.n_heads, half = head_dim / 2;
    int32_t pos = a.batch.pos [token];
    if (part >= s_parts ((size_t) pos + 1))
        return;
    float *angles = shared + ATTENTION_WARPS * (head_dim + 2) + 1, *query = angles + head_dim;
    float *fresh_k = query + head_dim, *fresh_v = fresh_k + head_dim;
    size_t kv_at = token * a.kv_dim + head / a.group * head_dim;
    s_rope_turns (angles, pos, head_dim, base, rope_scale, factors, mscale);
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        query [d] = q [item * head_dim + d];
        fresh_k [d] = k [kv_at + d];
        fresh_v [d] = v [kv_at + d];
    }
    __syncthreads ();
    const float *weights [2] = { q_norm, k_norm };
    if (q_norm)
        s_norm_heads (query, fresh_k, head_dim, weights, eps, fresh_v + head_dim);
    size_t lo, hi;
    for (size_t i = threadIdx.x; i < half; i += blockDim.x) {
        xinf_cuda_rope_pair (query, i, half, neox, angles [i], angles [half + i], &lo, &hi);
        xinf_cuda_rope_pair (fresh_k, i, half, neox, angles [i], angles [half + i], &lo, &hi);
    }
    __syncthreads ();
    if (store && part == 0 && head % a.group == 0) {
        size_t row = s_pool_row (a.batch, a.batch.seq [token], (size_t) pos, a.block_tokens, a.layer_first) * a.kv_dim
                   + head / a.group * head_dim;
        for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
            a.keys [row + d] = fresh_k [d];
            a.values [row + d] = fresh_v [d];
        }
    }
    s_attend (&a, item, part, query, fresh_k, fresh_v, shared);
}

//  The eight-warp kernels' shared memory (s_attend's sums and flag; with
//  'rope', k_rope_attention's four rows and the norms' 16 floats after
//  them).
static size_t
s_attend_shared (size_t head_dim, bool rope)
{
    return (ATTENTION_WARPS * (head_dim + 2) + 1 + (rope ? 4 * head_dim + 16 : 0)) * sizeof (float);
}

//  The kernels' common arguments for 'n' tokens, and *slice: the tokens
//  a launch takes (s_attend_launch). The scratch of parts in its two
//  stages is sized for a slice of ATTENTION_PARTS parts an item whatever
//  the positions, so that the eager first step of a graph's bucket
//  leaves room for its capture; the counters' stage grows zeroed (each
//  merge leaves its counter at zero, so they are zero between launches).
//  -1 after a failure.
static int
s_attend_args (xinf_cuda_t *cuda, const xinf_kv_pool_t *pool, size_t layer, const xinf_cuda_batch_t *device,
               size_t n, size_t n_heads, size_t n_kv_heads, size_t head_dim, float *out, s_attend_t *a,
               size_t *slice)
{
    size_t token_bytes = n_heads * ATTENTION_PARTS * (2 + head_dim) * sizeof (float);
    *slice = ATTENTION_SCRATCH / token_bytes ? ATTENTION_SCRATCH / token_bytes : 1;
    *slice = *slice < n ? *slice : n;
    xinf_cuda_buffer_t *stage = &cuda->stages [XINF_CUDA_STAGE_COUNTERS];
    size_t capacity = stage->capacity;
    void *partials = xinf_cuda_stage (cuda, XINF_CUDA_STAGE_PARTS, *slice * token_bytes);
    void *counters = partials ? xinf_cuda_stage (cuda, XINF_CUDA_STAGE_COUNTERS, *slice * n_heads * sizeof (unsigned))
                              : NULL;
    if (!counters)
        return -1;
    if (stage->capacity != capacity
    &&  xinf_cuda_check (cuda, cudaMemsetAsync (counters, 0, stage->capacity, cuda->stream), "attention")) {
        stage->capacity = 0;          //  not zeroed: grown (and zeroed) again next time
        return -1;
    }
    *a = (s_attend_t) { (float *) pool->keys, (float *) pool->values, *device, pool->block_tokens,
                        layer * pool->n_blocks * pool->block_tokens, pool->kv_dim, n_heads, n_heads / n_kv_heads,
                        head_dim, (float) (1.0 / sqrt ((double) head_dim)), out, NULL, NULL, 0, 1,
                        (float *) partials, (unsigned *) counters, 0 };
    if (head_dim % 32 == 0)
        xinf_cuda_q8a_handoff (cuda, out, n * n_heads * head_dim, &a->out_q, &a->out_d);
    return cuda->failed ? -1 : 0;
}

//  Launches 'kernel' over the batch's tokens, 'slice' at a time: each
//  launch has as many blocks an item as its longest position has parts,
//  or ATTENTION_PARTS while a graph records (its replays' positions are
//  later ones). -1 after a failure.
template <typename... Params, typename... Args>
static int
s_attend_launch (xinf_cuda_t *cuda, const char *what, void (*kernel) (s_attend_t, Params...), s_attend_t a,
                 const xinf_batch_t *batch, size_t slice, size_t shared, Args... args)
{
    for (size_t first = 0; first < batch->n; first += slice) {
        size_t count = batch->n - first < slice ? batch->n - first : slice, longest = 1;
        for (size_t token = first; token < first + count; token++)
            longest = (size_t) batch->pos [token] + 1 > longest ? (size_t) batch->pos [token] + 1 : longest;
        a.first_item = first * a.n_heads;
        a.grid_parts = cuda->capturing ? ATTENTION_PARTS : s_parts (longest);
        if (count * a.n_heads > 0x7fffffff / a.grid_parts)
            return xinf_cuda_fail (cuda, what, "too many heads for one launch");
        if (xinf_cuda_launch (cuda, what, kernel, (unsigned) (count * a.n_heads * a.grid_parts), ATTENTION_WARPS * WARP,
                              shared, a, args...))
            return -1;
    }
    return 0;
}

int
xinf_cuda_attention (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                     const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_attend_t *attend,
                     float *out)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = batch->n * n_heads * head_dim * sizeof (float), window = attend->window;
    xinf_cuda_batch_t device;
    if (!xinf_cuda_enter (cuda))
        return -1;
    //  the backend has no softcap or sinks flag: such a model is refused at load
    if (attend->softcap != 0 || attend->sinks)
        return xinf_cuda_fail (cuda, "attention", "no soft-capped attention or attention sinks on the GPU yet");
    if (!batch->n)
        return 0;
    if (!n_heads || !n_kv_heads || !head_dim || n_heads % n_kv_heads || n_kv_heads * head_dim != pool->kv_dim)
        return xinf_cuda_fail (cuda, "attention", "heads do not match the pool's rows");
    bool simple = cuda->attention_simple || head_dim > ATTENTION_DIMS * WARP;      //  the first kernel takes any
    size_t shared = simple ? ((ATTENTION_SIMPLE_WARPS + 1) * head_dim + 2 * ATTENTION_SIMPLE_WARPS) * sizeof (float)
                           : s_attend_shared (head_dim, false);
    if (shared > 48 * 1024 || batch->n * n_heads > 0x7fffffff)
        return xinf_cuda_fail (cuda, "attention", "head_dim or tokens x heads too large for one launch");
    if (!s_pool_ok (cuda, pool, layer, "attention") || !xinf_cuda_device_memory (cuda, q, bytes, "attention")
    ||  !xinf_cuda_device_memory (cuda, out, bytes, "attention")
    ||  xinf_cuda_batch (cuda, batch, pool->n_blocks, pool->block_tokens, &device))
        return -1;
    if (simple)
        return xinf_cuda_launch (cuda, "attention", k_attention_simple, (unsigned) (batch->n * n_heads),
                                 ATTENTION_SIMPLE_WARPS * WARP, shared, (const float *) pool->keys,
                                 (const float *) pool->values, q, out, device,
                                 pool->block_tokens, layer * pool->n_blocks * pool->block_tokens, pool->kv_dim,
                                 n_heads, n_heads / n_kv_heads, head_dim, (float) (1.0 / sqrt ((double) head_dim)),
                                 window);
    s_attend_t args;
    size_t slice;
    if (s_attend_args (cuda, pool, layer, &device, batch->n, n_heads, n_kv_heads, head_dim, out, &args, &slice))
        return -1;
    args.window = window;
    return s_attend_launch (cuda, "attention", k_attention, args, batch, slice, shared, q);
}

//  Whether no two of the batch's tokens are of one sequence (a decode
//  step; a graph's padding tokens have sequences of their own): then the
//  only pool row a token's attention reads that the step writes is its
//  own position's, which k_rope_attention keeps for it. This rests on
//  the block tables, as the batcher keeps them: sequences share only
//  whole blocks of positions before their last prompt token, so no token
//  writes a row another token's table reaches below that token's own
//  position. More than 4096 sequences: not asked, the ops run apart.
static bool
s_one_token_a_sequence (const xinf_batch_t *batch)
{
    uint64_t seen [64] = { 0 };
    if (batch->n_seqs > 64 * 64)
        return false;
    for (size_t token = 0; token < batch->n; token++) {
        int32_t seq = batch->seq [token];
        if (seq < 0 || (size_t) seq >= batch->n_seqs || (seen [seq / 64] >> (seq % 64)) & 1)
            return false;
        seen [seq / 64] |= (uint64_t) 1 << (seq % 64);
    }
    return true;
}

//  Whether rope_attention runs as one launch: the eight-warp kernel's
//  shapes and rope_store's, one token a sequence, and not
//  XINF_CUDA_ATTENTION=apart or =simple.
static bool
s_attention_fuses (const xinf_cuda_t *cuda, const xinf_kv_pool_t *pool, const xinf_batch_t *batch, size_t n_heads,
                   size_t n_kv_heads, size_t head_dim)
{
    return batch->n && n_heads && !cuda->attention_simple && !cuda->attention_apart && head_dim >= 2 && head_dim % 2 == 0
        && head_dim <= ATTENTION_DIMS * WARP && n_kv_heads && n_heads % n_kv_heads == 0
        && n_kv_heads * head_dim == pool->kv_dim && batch->n * n_heads <= 0x7fffffff
        && s_one_token_a_sequence (batch);
}

int
xinf_cuda_rope_attention (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                          float *q, float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                          const xinf_rope_t *rope, const xinf_head_norms_t *norms, const xinf_attend_t *attend,
                          float *out)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (attend->window || attend->softcap != 0 || attend->sinks || rope->dims
    ||  !s_attention_fuses (cuda, pool, batch, n_heads, n_kv_heads, head_dim))
        return xinf_backend_rope_attention_apart (self, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim,
                                                  rope, norms, attend, out);
    size_t q_bytes = batch->n * n_heads * head_dim * sizeof (float), kv_bytes = batch->n * pool->kv_dim * sizeof (float);
    const float *factors = NULL, *q_norm = NULL, *k_norm = NULL;
    xinf_cuda_batch_t device;
    if (!xinf_cuda_enter (cuda) || !s_pool_ok (cuda, pool, layer, "rope_attention")
    ||  !xinf_cuda_device_memory (cuda, q, q_bytes, "rope_attention")
    ||  !xinf_cuda_device_memory (cuda, out, q_bytes, "rope_attention")
    ||  !xinf_cuda_device_memory (cuda, k, kv_bytes, "rope_attention")
    ||  !xinf_cuda_device_memory (cuda, v, kv_bytes, "rope_attention")
    ||  (rope->factors && !(factors = (const float *) xinf_cuda_constant (cuda, rope->factors,
                                                                          head_dim / 2 * sizeof (float),
                                                                          "rope_attention")))
    ||  (norms && (!(q_norm = (const float *) xinf_cuda_constant (cuda, norms->q, head_dim * sizeof (float),
                                                                  "rope_attention (q_norm)"))
                   || !(k_norm = (const float *) xinf_cuda_constant (cuda, norms->k, head_dim * sizeof (float),
                                                                     "rope_attention (k_norm)"))))
    ||  xinf_cuda_batch (cuda, batch, pool->n_blocks, pool->block_tokens, &device))
        return -1;
    s_attend_t args;
    size_t slice;
    if (s_attend_args (cuda, pool, layer, &device, batch->n, n_heads, n_kv_heads, head_dim, out, &args, &slice))
        return -1;
    cuda->rope_attentions++;
    return s_attend_launch (cuda, "rope_attention", k_rope_attention, args, batch, slice,
                            s_attend_shared (head_dim, true), (const float *) q, (const float *) k, v, rope->base,
                            rope->scale, rope->neox, factors, rope->mscale, q_norm, k_norm, norms ? norms->eps : 0.0f,
                            !cuda->rope_attention_unstored);
}
