/*  xinf_cuda_ops: the element-wise ops of the CUDA backend (RMSNorm, adds,
    RoPE, SiLU), each with the CPU backend's semantics
    (kernels/cpu/xinf_cpu_ops.c).

    RMSNorm: one block a row, up to 1024 threads. RoPE: one thread a pair, its angle in double
    precision as the CPU computes it, the rotation without FMA contraction
    (the CPU's C11 build contracts nothing), so both give the same floats
    but for a rare last-bit difference of cos/sin.

    Fused: add_rmsnorm (the add and the norm in one pass a row). The norms
    and SiLU also write their output quantized for a Q8_0 product that
    reads it next (the q8a handoff, xinf_cuda_q8a_handoff), one warp a
    block of 32.
*/
#include "xinf_cuda_priv.h"
#include "xinf_cuda_dot.cuh"
#include "xinf_cuda_ops.cuh"

#include <math.h>

#define WARP 32

//  ---- RMSNorm ---------------------------------------------------------------------

//  The tail of a row's norm, one block of xinf_cuda_norm_threads (dim):
//  to = in * scale (* weight), the scale from the sum of squares the
//  threads hold, each thread the places it held. With 'q' (the q8a
//  handoff; dim is whole blocks, so that a warp's places are one block of
//  32, all in the row or none) each block of 32 is quantized too, one
//  value a lane.
__device__ __forceinline__ void
s_norm_row (float *to, const float *in, const float *weight, size_t dim, float squares, float eps, int16_t *q,
            float *d)
{
    __shared__ float warps [XINF_CUDA_NORM_THREADS / WARP];
    float scale = xinf_cuda_norm_scale (xinf_cuda_block_sum (squares, blockDim.x, warps), dim, eps);
    unsigned lane = threadIdx.x % WARP;
    for (size_t i = threadIdx.x; i < dim; i += blockDim.x) {
        float value = xinf_cuda_norm_value (in [i], scale, weight, i);
        to [i] = value;
        if (q)
            xinf_cuda_q8a_warp_put (value, lane, q + (i - lane), d + i / 32);
    }
}

//  One block a row (xinf_cuda_norm_threads): at batch 1 one warp walked
//  the whole row, a memory latency a place, where a block takes a few.
//  'q', 'd' as s_norm_row's, for all n rows.
__global__ void
k_rmsnorm (float *out, const float *x, const float *weight, size_t dim, float eps, int16_t *q, float *d)
{
    xinf_cuda_pdl_enter ();
    size_t row = blockIdx.x;
    const float *in = x + row * dim;
    float squares = xinf_cuda_norm_squares (in, dim, blockDim.x);
    s_norm_row (out + row * dim, in, weight, dim, squares, eps, q ? q + row * dim : NULL,
                q ? d + row * (dim / 32) : NULL);
}

//  y += x, then k_rmsnorm's row from y: the floats of k_add and k_rmsnorm.
__global__ void
k_add_rmsnorm (float *out, float *y, const float *x, const float *weight, size_t dim, float eps, int16_t *q, float *d)
{
    xinf_cuda_pdl_enter ();
    size_t row = blockIdx.x;
    float *sum = y + row * dim;
    const float *add = x + row * dim;
    float squares = 0;
    for (size_t i = threadIdx.x; i < dim; i += blockDim.x) {
        float value = sum [i] + add [i];
        sum [i] = value;
        squares = __fmaf_rn (value, value, squares);      //  as xinf_cuda_norm_squares
    }
    s_norm_row (out + row * dim, sum, weight, dim, squares, eps, q ? q + row * dim : NULL,
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
    if (n > 0x7fffffff) {
        xinf_cuda_fail (cuda, what, "too many rows for one launch");
        return false;
    }
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
    xinf_cuda_launch (cuda, "rmsnorm", k_rmsnorm, (unsigned) n, xinf_cuda_norm_threads (dim), 0, out, x, w, dim, eps, q, d);
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
    xinf_cuda_launch (cuda, "add_rmsnorm", k_add_rmsnorm, (unsigned) n, xinf_cuda_norm_threads (dim), 0, out, y, x, w, dim, eps,
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

//  gate = act (gate) * up, act (g) = g / (1 + e^-t): t = g for SiLU, and
//  for GELU's tanh form as the CPU's (xinf_cpu_silu.c) t = 2u = g (2 sqrt
//  (2 / pi) + 2 sqrt (2 / pi) 0.044715 g^2). With 'q' (the q8a handoff;
//  count is whole blocks, so a warp's 32 values are one block) the
//  products are quantized too.
template <bool gelu>
__global__ void
k_gated_mul (float *gate, const float *up, size_t count, int16_t *q, float *d)
{
    xinf_cuda_pdl_enter ();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count)
        return;                       //  whole warps, with q
    float g = gate [i], t = gelu ? g * (0.0713548162726f * (g * g) + 1.59576912161f) : g;
    float value = g / (1.0f + expf (-t)) * up [i];
    gate [i] = value;
    if (q)
        xinf_cuda_q8a_warp_put (value, threadIdx.x % WARP, q + (i - threadIdx.x % WARP), d + i / 32);
}

__global__ void
k_scale (float *x, size_t count, float factor)
{
    xinf_cuda_pdl_enter ();
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count)
        x [i] *= factor;
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

//  A gated activation ('kernel': k_gated_mul's SiLU or GELU) of count
//  places, with the q8a handoff.
static void
s_gated (xinf_backend_t *self, const char *what, void (*kernel) (float *, const float *, size_t, int16_t *, float *),
         float *gate, const float *up, size_t count)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t bytes = count * sizeof (float);
    if (!xinf_cuda_enter (cuda) || !count || !xinf_cuda_device_memory (cuda, gate, bytes, what)
    ||  !xinf_cuda_device_memory (cuda, up, bytes, what))
        return;
    int16_t *q;
    float *d;
    xinf_cuda_q8a_handoff (cuda, gate, count, &q, &d);
    if (cuda->failed)
        return;
    xinf_cuda_launch (cuda, what, kernel, xinf_cuda_blocks (count, 256), 256, 0, gate, up, count, q, d);
}

void
xinf_cuda_silu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    s_gated (self, "silu_mul", k_gated_mul<false>, gate, up, count);
}

void
xinf_cuda_gelu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    s_gated (self, "gelu_mul", k_gated_mul<true>, gate, up, count);
}

void
xinf_cuda_scale (xinf_backend_t *self, float *x, size_t count, float factor)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (!xinf_cuda_enter (cuda) || !count || !xinf_cuda_device_memory (cuda, x, count * sizeof (float), "scale"))
        return;
    xinf_cuda_launch (cuda, "scale", k_scale, xinf_cuda_blocks (count, 256), 256, 0, x, count, factor);
}

//  ---- RoPE --------------------------------------------------------------------------

__global__ void
k_rope (float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos, float base, float scale, bool neox,
        const float *factors, float mscale)
{
    xinf_cuda_pdl_enter ();
    size_t half = head_dim / 2;
    size_t item = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (item >= n * n_heads * half)
        return;
    size_t i = item % half, head = item / half;             //  head counts over all tokens
    size_t token = head / n_heads, lo, hi;
    double theta = xinf_cuda_rope_angle (pos [token], i, head_dim, base, scale, factors);
    xinf_cuda_rope_pair (x + head * head_dim, i, half, neox, (float) (cos (theta) * mscale),
                         (float) (sin (theta) * mscale), &lo, &hi);
}

void
xinf_cuda_rope (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos,
                const xinf_rope_t *rope)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (!xinf_cuda_enter (cuda) || !n || !n_heads || head_dim < 2
    ||  !xinf_cuda_device_memory (cuda, x, n * n_heads * head_dim * sizeof (float), "rope"))
        return;
    if (rope->dims && rope->dims < head_dim) {          //  refused before: partial_rope is false
        xinf_cuda_fail (cuda, "rope", "partial rotary embeddings, which this backend does not run");
        return;
    }
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
                      (const int32_t *) parts [0], rope->base, rope->scale, rope->neox, factors, rope->mscale);
}
