/*  xinf_cuda_ops: the element-wise ops of the CUDA backend (RMSNorm, adds,
    RoPE, SiLU) and the paged KV cache (store, attention), each with the
    CPU backend's semantics (kernels/cpu/xinf_cpu_ops.c, xinf_cpu_paged.c).

    RMSNorm: one warp a row. RoPE: one thread a pair, its angle in double
    precision as the CPU computes it, the rotation without FMA contraction
    (the CPU's C11 build contracts nothing), so both give the same floats
    but for a rare last-bit difference of cos/sin. Attention: one block of
    8 warps a (token, head); each warp takes 4 positions at a time (their
    loads issued together) with an online softmax, the warps' partial
    sums are merged at the end (XINF_CUDA_ATTENTION=simple: the first
    kernel, 4 warps of one position at a time, to compare).

    Fused ops: add_rmsnorm (the add and the norm in one pass a row) and
    rope_store (one block a token: its angles once, then q and k turned
    and k and v stored). The norms, SiLU and attention also write their
    output quantized for a Q8_0 product that reads it next (the q8a
    handoff, xinf_cuda_q8a_handoff), one warp a block of 32.
*/
#include "xinf_cuda_priv.h"
#include "xinf_cuda_dot.cuh"

#include <math.h>

#define WARP 32
#define ATTENTION_WARPS 8
#define ATTENTION_GROUP 4             //  positions a warp takes at once
#define ATTENTION_DIMS 8              //  a lane's share of head_dim: up to 256
#define ATTENTION_SIMPLE_WARPS 4

__device__ __forceinline__ float
s_warp_sum (float value)
{
    for (int mask = WARP / 2; mask > 0; mask /= 2)
        value += __shfl_xor_sync (0xffffffffu, value, mask);
    return value;
}

//  ---- RMSNorm ---------------------------------------------------------------------

//  The tail of a row's norm, one warp: to = in * scale (* weight), the
//  scale from the sum of squares the lanes hold. With 'q' (the q8a
//  handoff; dim is whole blocks) each block of 32 is quantized too, one
//  value a lane.
__device__ __forceinline__ void
s_norm_row (float *to, const float *in, const float *weight, size_t dim, float squares, float eps, unsigned lane,
            int16_t *q, float *d)
{
    squares = s_warp_sum (squares);
    float scale = (float) (1.0 / sqrt ((double) squares / (double) (dim ? dim : 1) + eps));
    for (size_t i = lane; i < dim; i += WARP) {
        float value = weight ? in [i] * scale * weight [i] : in [i] * scale;
        to [i] = value;
        if (q)
            xinf_cuda_q8a_warp_put (value, lane, q + (i - lane), d + i / 32);
    }
}

//  One warp a row; 'q', 'd' as s_norm_row's, for all n rows.
__global__ void
k_rmsnorm (float *out, const float *x, const float *weight, size_t n, size_t dim, float eps, int16_t *q, float *d)
{
    xinf_cuda_pdl_enter ();
    size_t row = (size_t) blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
    unsigned lane = threadIdx.x % WARP;
    if (row >= n)
        return;
    const float *in = x + row * dim;
    float squares = 0;
    for (size_t i = lane; i < dim; i += WARP)
        squares += in [i] * in [i];
    s_norm_row (out + row * dim, in, weight, dim, squares, eps, lane, q ? q + row * dim : NULL,
                q ? d + row * (dim / 32) : NULL);
}

//  y += x, then k_rmsnorm's row from y: the floats of k_add and k_rmsnorm.
__global__ void
k_add_rmsnorm (float *out, float *y, const float *x, const float *weight, size_t n, size_t dim, float eps, int16_t *q,
               float *d)
{
    xinf_cuda_pdl_enter ();
    size_t row = (size_t) blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
    unsigned lane = threadIdx.x % WARP;
    if (row >= n)
        return;
    float *sum = y + row * dim;
    const float *add = x + row * dim;
    float squares = 0;
    for (size_t i = lane; i < dim; i += WARP) {
        float value = sum [i] + add [i];
        sum [i] = value;
        squares += value * value;
    }
    s_norm_row (out + row * dim, sum, weight, dim, squares, eps, lane, q ? q + row * dim : NULL,
                q ? d + row * (dim / 32) : NULL);
}

//  What a norm of n rows of 'dim' into 'out' launches with: the device
//  copy of its weight (or NULL), and its q8a handoff (q, d or NULLs);
//  false after a failure.
static bool
s_norm_inputs (xinf_cuda_t *cuda, const float *out, const float *weight, size_t n, size_t dim, const char *what,
               const float **w, int16_t **q, float **d)
{
    *q = NULL;
    *d = NULL;
    *w = weight ? (const float *) xinf_cuda_constant (cuda, weight, dim * sizeof (float), what) : NULL;
    if (weight && !*w)
        return false;
    if (dim % 32 == 0)
        xinf_cuda_q8a_handoff (cuda, out, n * dim, q, d);
    return !cuda->failed;
}

void
xinf_cuda_rmsnorm (xinf_backend_t *self, float *out, const float *x, const float *weight, size_t n, size_t dim,
                   float eps)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = n * dim * sizeof (float);
    const float *w;
    int16_t *q;
    float *d;
    if (!xinf_cuda_enter (cuda) || !n || !xinf_cuda_device_memory (cuda, out, bytes, "rmsnorm")
    ||  !xinf_cuda_device_memory (cuda, x, bytes, "rmsnorm")
    ||  !s_norm_inputs (cuda, out, weight, n, dim, "rmsnorm", &w, &q, &d))
        return;
    xinf_cuda_launch (cuda, "rmsnorm", k_rmsnorm, xinf_cuda_blocks (n, 4), 4 * WARP, 0, out, x, w, n, dim, eps, q, d);
}

void
xinf_cuda_add_rmsnorm (xinf_backend_t *self, float *out, float *y, const float *x, const float *weight, size_t n,
                       size_t dim, float eps)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = n * dim * sizeof (float);
    const float *w;
    int16_t *q;
    float *d;
    if (!xinf_cuda_enter (cuda) || !n || !xinf_cuda_device_memory (cuda, out, bytes, "add_rmsnorm")
    ||  !xinf_cuda_device_memory (cuda, y, bytes, "add_rmsnorm")
    ||  !xinf_cuda_device_memory (cuda, x, bytes, "add_rmsnorm")
    ||  !s_norm_inputs (cuda, out, weight, n, dim, "add_rmsnorm", &w, &q, &d))
        return;
    xinf_cuda_launch (cuda, "add_rmsnorm", k_add_rmsnorm, xinf_cuda_blocks (n, 4), 4 * WARP, 0, out, y, x, w, n, dim, eps,
                      q, d);
}

//  ---- adds, SiLU --------------------------------------------------------------------

__global__ void
k_add (float *y, const float *x, size_t count)
{
    xinf_cuda_pdl_enter ();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count)
        y [i] += x [i];
}

__global__ void
k_add_bias (float *rows, const float *bias, size_t count, size_t width)
{
    xinf_cuda_pdl_enter ();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count)
        rows [i] += bias [i % width];
}

//  With 'q' (the q8a handoff; count is whole blocks, so a warp's 32
//  values are one block) the products are quantized too.
__global__ void
k_silu_mul (float *gate, const float *up, size_t count, int16_t *q, float *d)
{
    xinf_cuda_pdl_enter ();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count)
        return;                       //  whole warps, with q
    float value = gate [i] / (1.0f + expf (-gate [i])) * up [i];
    gate [i] = value;
    if (q)
        xinf_cuda_q8a_warp_put (value, threadIdx.x % WARP, q + (i - threadIdx.x % WARP), d + i / 32);
}

bool
xinf_cuda_pdl_works (xinf_cuda_t *cuda)
{
    //  The kernels' code must have the waits (compute_90 or later): an
    //  sm_80-only build on a Hopper device has none
    cudaFuncAttributes attributes;
    if (cudaFuncGetAttributes (&attributes, k_add) != cudaSuccess || attributes.ptxVersion < 90) {
        cudaGetLastError ();
        return false;
    }
    float *scratch = NULL;
    if (cudaMalloc ((void **) &scratch, 64 * sizeof (float)) != cudaSuccess) {
        cudaGetLastError ();
        return false;
    }
    cudaLaunchAttribute attribute = {};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3 (1);
    config.blockDim = dim3 (64);
    config.stream = cuda->stream;
    config.attrs = &attribute;
    config.numAttrs = 1;
    //  Ones doubled twice eagerly, then twice more by the graph: 4, then 16
    size_t count = 64;
    float ones [64], back [64];
    for (size_t i = 0; i < count; i++)
        ones [i] = 1;
    bool works = cudaMemcpy (scratch, ones, sizeof ones, cudaMemcpyHostToDevice) == cudaSuccess
              && cudaLaunchKernelEx (&config, k_add, scratch, (const float *) scratch, count) == cudaSuccess
              && cudaLaunchKernelEx (&config, k_add, scratch, (const float *) scratch, count) == cudaSuccess
              && cudaMemcpyAsync (back, scratch, sizeof back, cudaMemcpyDeviceToHost, cuda->stream) == cudaSuccess
              && cudaStreamSynchronize (cuda->stream) == cudaSuccess && back [0] == 4 && back [63] == 4;
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    if (works && cudaStreamBeginCapture (cuda->stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
        bool launched = cudaLaunchKernelEx (&config, k_add, scratch, (const float *) scratch, count) == cudaSuccess
                     && cudaLaunchKernelEx (&config, k_add, scratch, (const float *) scratch, count) == cudaSuccess;
        works = cudaStreamEndCapture (cuda->stream, &graph) == cudaSuccess && launched && graph;
        if (works && cudaGraphInstantiate (&exec, graph, 0) != cudaSuccess) {
            exec = NULL;
            works = false;
        }
        works = works && cudaGraphLaunch (exec, cuda->stream) == cudaSuccess
             && cudaMemcpyAsync (back, scratch, sizeof back, cudaMemcpyDeviceToHost, cuda->stream) == cudaSuccess
             && cudaStreamSynchronize (cuda->stream) == cudaSuccess && back [0] == 16 && back [63] == 16;
    }
    else
        works = false;
    if (exec)
        cudaGraphExecDestroy (exec);
    if (graph)
        cudaGraphDestroy (graph);
    cudaFree (scratch);
    cudaGetLastError ();
    return works;
}

void
xinf_cuda_add (xinf_backend_t *self, float *y, const float *x, size_t count)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = count * sizeof (float);
    if (!xinf_cuda_enter (cuda) || !count || !xinf_cuda_device_memory (cuda, y, bytes, "add")
    ||  !xinf_cuda_device_memory (cuda, x, bytes, "add"))
        return;
    xinf_cuda_launch (cuda, "add", k_add, xinf_cuda_blocks (count, 256), 256, 0, y, x, count);
}

int
xinf_cuda_rows_add (xinf_cuda_t *cuda, float *rows, const float *bias, size_t n, size_t width)
{
    return xinf_cuda_launch (cuda, "add_bias", k_add_bias, xinf_cuda_blocks (n * width, 256), 256, 0, rows, bias,
                             n * width, width);
}

void
xinf_cuda_add_bias (xinf_backend_t *self, float *rows, const float *bias, size_t n, size_t width)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (!xinf_cuda_enter (cuda) || !n || !width || !xinf_cuda_device_memory (cuda, rows, n * width * sizeof (float), "add_bias"))
        return;
    const float *b = (const float *) xinf_cuda_constant (cuda, bias, width * sizeof (float), "add_bias");
    if (b)
        xinf_cuda_rows_add (cuda, rows, b, n, width);
}

void
xinf_cuda_silu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = count * sizeof (float);
    if (!xinf_cuda_enter (cuda) || !count || !xinf_cuda_device_memory (cuda, gate, bytes, "silu_mul")
    ||  !xinf_cuda_device_memory (cuda, up, bytes, "silu_mul"))
        return;
    int16_t *q;
    float *d;
    xinf_cuda_q8a_handoff (cuda, gate, count, &q, &d);
    if (cuda->failed)
        return;
    xinf_cuda_launch (cuda, "silu_mul", k_silu_mul, xinf_cuda_blocks (count, 256), 256, 0, gate, up, count, q, d);
}

//  ---- RoPE --------------------------------------------------------------------------

//  The angle of pair i at position 'pos', as the CPU computes it.
__device__ __forceinline__ double
s_rope_angle (int32_t pos, size_t i, size_t head_dim, float base, float scale, const float *factors)
{
    double theta = (double) pos * scale * pow ((double) base, -2.0 * (double) i / (double) head_dim);
    return factors ? theta / factors [i] : theta;
}

//  Pair i of the head at 'row' turned by (c, s); its two places in 'lo'
//  and 'hi' (indexes into the row).
__device__ __forceinline__ void
s_rope_pair (float *row, size_t i, size_t half, bool neox, float c, float s, size_t *lo, size_t *hi)
{
    *lo = neox ? i : 2 * i;
    *hi = neox ? half + i : 2 * i + 1;
    float x0 = row [*lo], x1 = row [*hi];
    row [*lo] = __fsub_rn (__fmul_rn (x0, c), __fmul_rn (x1, s));
    row [*hi] = __fadd_rn (__fmul_rn (x0, s), __fmul_rn (x1, c));
}

__global__ void
k_rope (float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos, float base, float scale, bool neox,
        const float *factors)
{
    xinf_cuda_pdl_enter ();
    size_t half = head_dim / 2;
    size_t item = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (item >= n * n_heads * half)
        return;
    size_t i = item % half, head = item / half;             //  head counts over all tokens
    size_t token = head / n_heads, lo, hi;
    double theta = s_rope_angle (pos [token], i, head_dim, base, scale, factors);
    s_rope_pair (x + head * head_dim, i, half, neox, (float) cos (theta), (float) sin (theta), &lo, &hi);
}

void
xinf_cuda_rope (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos,
                const xinf_rope_t *rope)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (!xinf_cuda_enter (cuda) || !n || !n_heads || head_dim < 2
    ||  !xinf_cuda_device_memory (cuda, x, n * n_heads * head_dim * sizeof (float), "rope"))
        return;
    const float *factors = NULL;
    if (rope->factors
    &&  !(factors = (const float *) xinf_cuda_constant (cuda, rope->factors, head_dim / 2 * sizeof (float), "rope")))
        return;
    const void *hosts [1] = { pos };
    size_t sizes [1] = { n * sizeof (int32_t) };
    void *parts [1];
    if (xinf_cuda_upload (cuda, XINF_CUDA_STAGE_POS, hosts, sizes, 1, parts))
        return;
    size_t items = n * n_heads * (head_dim / 2);
    xinf_cuda_launch (cuda, "rope", k_rope, xinf_cuda_blocks (items, 256), 256, 0, x, n, n_heads, head_dim,
                      (const int32_t *) parts [0], rope->base, rope->scale, rope->neox, factors);
}

//  ---- the paged KV cache --------------------------------------------------------------

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
    xinf_cuda_launch (cuda, "kv_store", k_kv_store, (unsigned) batch->n, 128, 0, pool->keys, pool->values, k, v, device,
                      pool->block_tokens, layer_first, pool->kv_dim);
}

//  RoPE of a token's q and k heads and the store of its k and v rows, one
//  block a token: the token's angles once into shared memory (cosines
//  then sines, 'half' each), then one thread a pair or a value.
__global__ void
k_rope_store (float *q, float *k, const float *v, float *keys, float *values, const xinf_cuda_batch_t batch,
              size_t block_tokens, size_t layer_first, size_t n_heads, size_t n_kv_heads, size_t head_dim, float base,
              float scale, bool neox, const float *factors)
{
    xinf_cuda_pdl_enter ();
    extern __shared__ float angles [];
    size_t token = blockIdx.x, half = head_dim / 2, kv_dim = n_kv_heads * head_dim;
    int32_t pos = batch.pos [token];
    for (size_t i = threadIdx.x; i < half; i += blockDim.x) {
        double theta = s_rope_angle (pos, i, head_dim, base, scale, factors);
        angles [i] = (float) cos (theta);
        angles [half + i] = (float) sin (theta);
    }
    __syncthreads ();
    size_t row = s_pool_row (batch, batch.seq [token], (size_t) pos, block_tokens, layer_first), lo, hi;
    for (size_t item = threadIdx.x; item < n_heads * half; item += blockDim.x) {
        size_t i = item % half;
        s_rope_pair (q + (token * n_heads + item / half) * head_dim, i, half, neox, angles [i], angles [half + i], &lo,
                     &hi);
    }
    for (size_t item = threadIdx.x; item < n_kv_heads * half; item += blockDim.x) {
        size_t i = item % half, head = item / half;
        float *from = k + token * kv_dim + head * head_dim, *to = keys + row * kv_dim + head * head_dim;
        s_rope_pair (from, i, half, neox, angles [i], angles [half + i], &lo, &hi);
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
    if (!n_heads || head_dim < 2 || head_dim % 2) {      //  shapes of no model: the three ops as they take them
        xinf_cuda_rope (self, q, batch->n, n_heads, head_dim, batch->pos, rope);
        xinf_cuda_rope (self, k, batch->n, n_kv_heads, head_dim, batch->pos, rope);
        xinf_cuda_kv_store (self, pool, layer, batch, k, v);
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
                      pool->keys, pool->values, device, pool->block_tokens, layer_first, n_heads, n_kv_heads, head_dim,
                      rope->base, rope->scale, rope->neox, factors);
}

//  The first kernel, kept to compare (XINF_CUDA_ATTENTION=simple): one
//  (token, head) a block of ATTENTION_SIMPLE_WARPS warps, each warp one
//  position at a time. Dynamic shared memory holds q [head_dim], each
//  warp's sums acc [warps][head_dim], then its running max and sum.
__global__ void
k_attention_simple (const float *keys, const float *values, const float *q, float *out, const xinf_cuda_batch_t batch,
             size_t block_tokens, size_t layer_first, size_t kv_dim, size_t n_heads, size_t group, size_t head_dim,
             float scale)
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
    for (size_t p = warp; p < n_pos; p += ATTENTION_SIMPLE_WARPS) {
        size_t row = s_pool_row (batch, seq, p, block_tokens, layer_first) * kv_dim + offset;
        float dot = 0;
        for (size_t d = lane; d < head_dim; d += WARP)
            dot += query [d] * keys [row + d];
        float score = s_warp_sum (dot) * scale;
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

//  One (token, head) a block of ATTENTION_WARPS warps; a warp takes
//  ATTENTION_GROUP positions at once (their keys and values loaded
//  before the first score is reduced: a position at a time kept a warp
//  waiting on memory for each), holding its lanes' share of q and of
//  the weighted values in registers (head_dim <= 32 * ATTENTION_DIMS).
//  Dynamic shared memory holds each warp's sums acc [warps][head_dim],
//  then its running max and sum, merged at the end.
__global__ void
k_attention (const float *keys, const float *values, const float *q, float *out, const xinf_cuda_batch_t batch,
             size_t block_tokens, size_t layer_first, size_t kv_dim, size_t n_heads, size_t group, size_t head_dim,
             float scale, int16_t *out_q, float *out_d)
{
    xinf_cuda_pdl_enter ();
    extern __shared__ float shared [];
    float *acc_all = shared, *maxima = acc_all + ATTENTION_WARPS * head_dim, *sums = maxima + ATTENTION_WARPS;
    size_t token = blockIdx.x / n_heads, head = blockIdx.x % n_heads;
    unsigned warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    size_t q_dim = n_heads * head_dim, offset = head / group * head_dim;
    const float *query = q + token * q_dim + head * head_dim;
    float mine [ATTENTION_DIMS], acc [ATTENTION_DIMS];
#pragma unroll
    for (int i = 0; i < ATTENTION_DIMS; i++) {
        size_t d = lane + (size_t) i * WARP;
        mine [i] = d < head_dim ? query [d] : 0;
        acc [i] = 0;
    }
    int32_t seq = batch.seq [token];
    size_t n_pos = (size_t) batch.pos [token] + 1;
    float top = -INFINITY, sum = 0;
    for (size_t base = warp * ATTENTION_GROUP; base < n_pos; base += ATTENTION_WARPS * ATTENTION_GROUP) {
        float scores [ATTENTION_GROUP], held [ATTENTION_GROUP][ATTENTION_DIMS];
#pragma unroll
        for (int j = 0; j < ATTENTION_GROUP; j++) {
            bool inside = base + j < n_pos;                 //  the same on every lane
            size_t row = inside ? s_pool_row (batch, seq, base + j, block_tokens, layer_first) * kv_dim + offset : 0;
            float dot = 0;
#pragma unroll
            for (int i = 0; i < ATTENTION_DIMS; i++) {
                size_t d = lane + (size_t) i * WARP;
                bool mine_d = inside && d < head_dim;
                dot = mine_d ? fmaf (mine [i], keys [row + d], dot) : dot;
                held [j][i] = mine_d ? values [row + d] : 0;
            }
            scores [j] = dot;
        }
        float next = top;
#pragma unroll
        for (int j = 0; j < ATTENTION_GROUP; j++) {
            scores [j] = s_warp_sum (scores [j]) * scale;
            if (base + j < n_pos)
                next = fmaxf (next, scores [j]);
        }
        float fade = expf (top - next);
        sum *= fade;
#pragma unroll
        for (int i = 0; i < ATTENTION_DIMS; i++)
            acc [i] *= fade;
#pragma unroll
        for (int j = 0; j < ATTENTION_GROUP; j++)
            if (base + j < n_pos) {
                float weight = expf (scores [j] - next);
                sum += weight;
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
    float overall = -INFINITY;
    for (int w = 0; w < ATTENTION_WARPS; w++)
        overall = fmaxf (overall, maxima [w]);
    //  Only the warps that had positions (NaN from a score stays NaN, as on the CPU)
    float total = 0;
    for (int w = 0; w < ATTENTION_WARPS; w++)
        if ((size_t) w * ATTENTION_GROUP < n_pos)
            total += sums [w] * expf (maxima [w] - overall);
    //  With out_q (the q8a handoff: head_dim is whole blocks, at most a
    //  block's threads) warp w writes the block of d = 32w .. 32w + 31
    size_t first = token * q_dim + head * head_dim;
    for (size_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float value = 0;
        for (int w = 0; w < ATTENTION_WARPS; w++)
            if ((size_t) w * ATTENTION_GROUP < n_pos)
                value += acc_all [w * head_dim + d] * expf (maxima [w] - overall);
        float mean = value / total;
        out [first + d] = mean;
        if (out_q)
            xinf_cuda_q8a_warp_put (mean, lane, out_q + (first + d - lane), out_d + (first + d) / 32);
    }
}

int
xinf_cuda_attention (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                     const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim, float *out)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = batch->n * n_heads * head_dim * sizeof (float);
    xinf_cuda_batch_t device;
    if (!xinf_cuda_enter (cuda))
        return -1;
    if (!batch->n)
        return 0;
    if (!n_kv_heads || !head_dim || n_heads % n_kv_heads || n_kv_heads * head_dim != pool->kv_dim)
        return xinf_cuda_fail (cuda, "attention", "heads do not match the pool's rows");
    bool simple = cuda->attention_simple || head_dim > ATTENTION_DIMS * WARP;      //  the first kernel takes any
    size_t shared = simple ? ((ATTENTION_SIMPLE_WARPS + 1) * head_dim + 2 * ATTENTION_SIMPLE_WARPS) * sizeof (float)
                           : (ATTENTION_WARPS * head_dim + 2 * ATTENTION_WARPS) * sizeof (float);
    if (shared > 48 * 1024 || batch->n * n_heads > 0x7fffffff)
        return xinf_cuda_fail (cuda, "attention", "head_dim or tokens x heads too large for one launch");
    if (!s_pool_ok (cuda, pool, layer, "attention") || !xinf_cuda_device_memory (cuda, q, bytes, "attention")
    ||  !xinf_cuda_device_memory (cuda, out, bytes, "attention")
    ||  xinf_cuda_batch (cuda, batch, pool->n_blocks, pool->block_tokens, &device))
        return -1;
    size_t layer_first = layer * pool->n_blocks * pool->block_tokens;
    float scale = (float) (1.0 / sqrt ((double) head_dim));
    int16_t *out_q = NULL;
    float *out_d = NULL;
    if (!simple && head_dim % 32 == 0 && head_dim <= ATTENTION_WARPS * WARP)
        xinf_cuda_q8a_handoff (cuda, out, batch->n * n_heads * head_dim, &out_q, &out_d);
    if (cuda->failed)
        return -1;
    unsigned grid = (unsigned) (batch->n * n_heads);
    if (simple)
        return xinf_cuda_launch (cuda, "attention", k_attention_simple, grid, ATTENTION_SIMPLE_WARPS * WARP, shared,
                                 pool->keys, pool->values, q, out, device, pool->block_tokens, layer_first,
                                 pool->kv_dim, n_heads, n_heads / n_kv_heads, head_dim, scale);
    return xinf_cuda_launch (cuda, "attention", k_attention, grid, ATTENTION_WARPS * WARP, shared, pool->keys,
                             pool->values, q, out, device, pool->block_tokens, layer_first, pool->kv_dim, n_heads,
                             n_heads / n_kv_heads, head_dim, scale, out_q, out_d);
}
