/*  xinf_cuda_project: the CUDA backend's products and embedding lookup,
    for every weight type of xinf_dtype.h.

    A product gives each output row to one warp and takes up to
    PROJECT_TOKENS tokens at once (a kernel built for one token, with
    fewer registers, takes steps of one); the warp adds its lanes in a
    fixed tree. The generic kernel decodes one weight at a time
    (xinf_cuda_decode.cuh): lane l sums the weights l, l + 32, ... times
    the token's activations (float FMA). The wide kernel, for F16, BF16
    and Q8_0 rows aligned for it, loads 16-byte chunks or whole Q8_0
    blocks a lane (xinf_cuda_dot.cuh). Q8_0 weights from host memory take
    the q8a path instead: a repacked device copy, activations quantized
    to 16 bits as the CPU quantizes them (once for the products of a call
    that share their input), integer sums (xinf_cuda_dot.cuh). The
    products of a call on one input in device memory (q, k and v; gate
    and up) go in one launch. Every (row, token) result comes from the
    same arithmetic whatever the batch and however launched: a token's
    result never depends on the other tokens of its step.

    With cuBLAS on, products of F32 / F16 / BF16 weights over several
    tokens are one cublasGemmEx each (F32 accumulation; activations
    rounded to the weight's type first, as cuBLAS wants both inputs of a
    16-bit product in the same type).
*/
#include "xinf_cuda_priv.h"
#include "xinf_cuda_decode.cuh"
#include "xinf_cuda_dot.cuh"

#include <stdio.h>

#define WARP 32
#define PROJECT_WARPS 4
#define PROJECT_TOKENS XINF_CUDA_DOT_TOKENS

//  ---- products ------------------------------------------------------------------------

//  A warp's lanes added in a fixed tree (xor shuffles); lane 0 writes.
template <int TOKENS>
static __device__ void
s_warp_store (float *acc, unsigned lane, size_t count, size_t rows, size_t first, size_t r, float *y, const float *bias)
{
#pragma unroll
    for (int t = 0; t < TOKENS; t++) {
        float sum = acc [t];
        for (int mask = WARP / 2; mask > 0; mask /= 2)
            sum += __shfl_xor_sync (0xffffffffu, sum, mask);
        if (lane == 0 && (size_t) t < count)
            y [(first + t) * rows + r] = bias ? sum + bias [r] : sum;
    }
}

//  s_warp_store for the first 'valid' (the same for the whole warp) of
//  XINF_CUDA_DOT_ROWS rows from r.
template <int TOKENS>
static __device__ void
s_warp_store_rows (float (*acc) [TOKENS], int valid, unsigned lane, size_t count, size_t rows, size_t first, size_t r,
                   float *y, const float *bias)
{
#pragma unroll
    for (int i = 0; i < XINF_CUDA_DOT_ROWS; i++)
        if (i < valid)
            s_warp_store<TOKENS> (acc [i], lane, count, rows, first, r + i, y, bias);
}

//  The generic kernel's share of lane 'lane': weights lane, lane + 32, ...
//  decoded one at a time (any type), times each token's activation.
template <int TOKENS>
static __device__ void
s_generic_lane (int dtype, const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane, float *acc)
{
    for (size_t k = lane; k < cols; k += WARP) {
        float weight = s_weight (dtype, row, k);
#pragma unroll
        for (int t = 0; t < TOKENS; t++)
            if ((size_t) t < count)
                acc [t] = fmaf (weight, in [t * cols + k], acc [t]);
    }
}

//  y [t][r] = W [r] . x [t] for the tokens group * TOKENS .. (up to
//  TOKENS of them: 1, or PROJECT_TOKENS), one warp a row r of the rows of
//  row block 'block'; 'wide': the lanes take 16-byte chunks or Q8_0
//  blocks (xinf_cuda_dot_wide said yes). The grid is one-dimensional, a
//  row block's token groups next to each other (s_grid), so that
//  the blocks running at once read the same weights (from L2 once a
//  prompt has more tokens than a group).
//  'per_warp' (xinf_cuda_dot_rows_per_warp): rows a warp takes, one or
//  XINF_CUDA_DOT_ROWS (F16/BF16 wide lanes, several tokens).
template <int TOKENS>
static __device__ void
s_rows_wide (int dtype, bool wide, int per_warp, const uint8_t *w, size_t row_bytes, size_t rows, size_t cols,
             const float *x, size_t n, float *y, const float *bias, size_t block, size_t group)
{
    size_t r = (block * PROJECT_WARPS + threadIdx.x / WARP) * (size_t) per_warp;
    unsigned lane = threadIdx.x % WARP;
    size_t first = group * TOKENS;
    if (r >= rows)
        return;
    size_t count = n - first < TOKENS ? n - first : TOKENS;
    const uint8_t *row = w + r * row_bytes;
    const float *in = x + first * cols;
    if constexpr (TOKENS > 1) {
        if (per_warp > 1) {
            int valid = rows - r < XINF_CUDA_DOT_ROWS ? (int) (rows - r) : XINF_CUDA_DOT_ROWS;
            float several [XINF_CUDA_DOT_ROWS][TOKENS] = {};
            xinf_cuda_dot_rows_16<TOKENS> (dtype == XINF_DTYPE_BF16, row, row_bytes, valid, cols, in, count, lane,
                                           WARP, several);
            s_warp_store_rows<TOKENS> (several, valid, lane, count, rows, first, r, y, bias);
            return;
        }
    }
    float acc [TOKENS];
#pragma unroll
    for (int t = 0; t < TOKENS; t++)
        acc [t] = 0;
    if (wide)
        xinf_cuda_dot_lane<TOKENS> (dtype, row, cols, in, count, lane, WARP, acc);
    else
        s_generic_lane<TOKENS> (dtype, row, cols, in, count, lane, acc);
    s_warp_store<TOKENS> (acc, lane, count, rows, first, r, y, bias);
}

//  While a product waits for the kernel before it (xinf_cuda_pdl_wait):
//  the first 4 KB of each row of its row block ('per_warp' rows a warp)
//  fetched into L2, one line a lane a row, by the row block's first
//  token group.
static __device__ __forceinline__ void
s_prefetch_rows (const uint8_t *w, size_t row_bytes, size_t rows, int per_warp, size_t block, size_t group)
{
#if defined (__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    size_t r = (block * PROJECT_WARPS + threadIdx.x / WARP) * (size_t) per_warp;
    size_t at = (size_t) (threadIdx.x % WARP) * 128;
    for (int i = 0; i < per_warp && group == 0 && r + i < rows && at < row_bytes; i++)
        asm volatile ("prefetch.global.L2 [%0];" :: "l" (w + (r + i) * row_bytes + at));
#endif
}

template <int TOKENS>
__global__ void
k_project (int dtype, bool wide, int per_warp, const uint8_t *w, size_t row_bytes, size_t rows, size_t cols,
           const float *x, size_t n, float *y, const float *bias)
{
    size_t groups = (n + TOKENS - 1) / TOKENS;
    per_warp = TOKENS > 1 ? per_warp : 1;      //  one token: one row a warp, known when compiled
    xinf_cuda_pdl_trigger ();
    s_prefetch_rows (w, row_bytes, rows, per_warp, blockIdx.x / groups, blockIdx.x % groups);
    xinf_cuda_pdl_wait ();
    s_rows_wide<TOKENS> (dtype, wide, per_warp, w, row_bytes, rows, cols, x, n, y, bias, blockIdx.x / groups,
                         blockIdx.x % groups);
}

//  The q8a path's activations: one warp a block of 32, bit for bit the
//  CPU's quantizer (xinf_cuda_q8a_warp_put).
__global__ void
k_quantize_q8a (const float *x, size_t n_blocks, int16_t *q, float *d)
{
    xinf_cuda_pdl_enter ();
    size_t block = (size_t) blockIdx.x * PROJECT_WARPS + threadIdx.x / WARP;
    unsigned lane = threadIdx.x % WARP;
    if (block >= n_blocks)
        return;                       //  the whole warp
    xinf_cuda_q8a_warp_put (x [block * 32 + lane], lane, q + block * 32, d + block);
}

//  y [t][r] = W [r] . x [t] from a repacked Q8_0 matrix ('image') and
//  quantized tokens, one warp a row of grid block 'block', the tokens as
//  s_rows_wide's.
template <int TOKENS>
static __device__ void
s_rows_q8a (int per_warp, const uint8_t *image, size_t rows, size_t cols, const int16_t *xq, const float *xd, size_t n,
            float *y, const float *bias, size_t block, size_t group)
{
    size_t r = (block * PROJECT_WARPS + threadIdx.x / WARP) * (size_t) per_warp;
    unsigned lane = threadIdx.x % WARP;
    size_t first = group * TOKENS;
    if (r >= rows)
        return;
    size_t count = n - first < TOKENS ? n - first : TOKENS, blocks = cols / 32;
    const uint16_t *scales = (const uint16_t *) (image + xinf_cuda_q8a_scales_at (rows, cols));
    if constexpr (TOKENS > 1) {
        if (per_warp > 1) {
            int valid = rows - r < XINF_CUDA_DOT_ROWS ? (int) (rows - r) : XINF_CUDA_DOT_ROWS;
            float several [XINF_CUDA_DOT_ROWS][TOKENS] = {};
            xinf_cuda_dot_rows_q8a<TOKENS> (image + r * cols, scales + r * blocks, cols, valid, xq + first * cols,
                                            xd + first * blocks, count, lane, WARP, several);
            s_warp_store_rows<TOKENS> (several, valid, lane, count, rows, first, r, y, bias);
            return;
        }
    }
    float acc [TOKENS];
#pragma unroll
    for (int t = 0; t < TOKENS; t++)
        acc [t] = 0;
    xinf_cuda_dot_lane_q8a<TOKENS> (image + r * cols, scales + r * blocks, cols, xq + first * cols,
                                    xd + first * blocks, count, lane, WARP, acc);
    s_warp_store<TOKENS> (acc, lane, count, rows, first, r, y, bias);
}

template <int TOKENS>
__global__ void
k_project_q8a (int per_warp, const uint8_t *image, size_t rows, size_t cols, const int16_t *xq, const float *xd,
               size_t n, float *y, const float *bias)
{
    size_t groups = (n + TOKENS - 1) / TOKENS;
    per_warp = TOKENS > 1 ? per_warp : 1;      //  one token: one row a warp, known when compiled
    xinf_cuda_pdl_trigger ();
    s_prefetch_rows (image, cols, rows, per_warp, blockIdx.x / groups, blockIdx.x % groups);
    xinf_cuda_pdl_wait ();
    s_rows_q8a<TOKENS> (per_warp, image, rows, cols, xq, xd, n, y, bias, blockIdx.x / groups, blockIdx.x % groups);
}

//  The products of one call sharing their input, in one launch
//  (s_project_many): each one's weights (as they are, or repacked), rows
//  and output, and the first row block of each.
#define PROJECT_MANY 4

typedef struct {
    const uint8_t *weights [PROJECT_MANY];
    float *y [PROJECT_MANY];
    const float *bias [PROJECT_MANY];     //  device copies, or NULL
    size_t rows [PROJECT_MANY];
    unsigned first [PROJECT_MANY];
    int count;
} s_many_t;

//  Each grid block computes rows of the product whose row blocks it falls
//  in, as k_project or k_project_q8a would (the same arithmetic).
template <int TOKENS, bool Q8A>
__global__ void
k_project_many (s_many_t many, int dtype, bool wide, int per_warp, size_t row_bytes, size_t cols, const float *x,
                const int16_t *xq, const float *xd, size_t n)
{
    xinf_cuda_pdl_trigger ();
    per_warp = TOKENS > 1 ? per_warp : 1;      //  one token: one row a warp, known when compiled
    size_t groups = (n + TOKENS - 1) / TOKENS, block = blockIdx.x / groups;
    const uint8_t *weights = many.weights [0];
    float *y = many.y [0];
    const float *bias = many.bias [0];
    size_t rows = many.rows [0], first = 0;
#pragma unroll
    for (int p = 1; p < PROJECT_MANY; p++)
        if (p < many.count && block >= many.first [p]) {
            weights = many.weights [p];
            y = many.y [p];
            bias = many.bias [p];
            rows = many.rows [p];
            first = many.first [p];
        }
    s_prefetch_rows (weights, Q8A ? cols : row_bytes, rows, per_warp, block - first, blockIdx.x % groups);
    xinf_cuda_pdl_wait ();
    if (Q8A)
        s_rows_q8a<TOKENS> (per_warp, weights, rows, cols, xq, xd, n, y, bias, block - first, blockIdx.x % groups);
    else
        s_rows_wide<TOKENS> (dtype, wide, per_warp, weights, row_bytes, rows, cols, x, n, y, bias, block - first,
                             blockIdx.x % groups);
}

//  The largest |x| of 'count' floats, as its float bits, into *top (zero
//  before): bits of non-negative floats order as the floats do.
__global__ void
k_absmax (const float *x, size_t count, unsigned *top)
{
    unsigned mine = 0;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (size_t) gridDim.x * blockDim.x)
        mine = max (mine, __float_as_uint (x [i]) & 0x7fffffffu);
    for (int mask = WARP / 2; mask > 0; mask /= 2)
        mine = max (mine, __shfl_xor_sync (0xffffffffu, mine, mask));
    if (threadIdx.x % WARP == 0)
        atomicMax (top, mine);
}

//  x as F16 times 2^-k, k the smallest that keeps the largest |x| under
//  2^15 (F16 ends at 65504: activations past it would turn into Inf),
//  and alpha = { 2^k, 0 } for cuBLAS to scale the product back; a power
//  of two scales without rounding (but for values that underflow F16).
__global__ void
k_to_half_scaled (const float *x, __half *out, size_t count, const unsigned *top, float *alpha)
{
    int exponent = (int) ((*top >> 23) & 0xffu) - 127, k = exponent >= 15 ? exponent - 14 : 0;
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i == 0) {
        alpha [0] = ldexpf (1.0f, k);
        alpha [1] = 0;
    }
    if (i < count)
        out [i] = __float2half_rn (ldexpf (x [i], -k));
}

__global__ void
k_to_bf16 (const float *x, __nv_bfloat16 *out, size_t count)
{
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count)
        out [i] = __float2bfloat16_rn (x [i]);
}

//  The weights on the device: the backend's memory as it is, host weights
//  copied once. NULL after a failure.
bool
xinf_cuda_dtype_supported (xinf_dtype_t dtype)
{
    return (int) dtype >= 0 && dtype < XINF_DTYPE_COUNT;
}

static const uint8_t *
s_weights (xinf_cuda_t *cuda, const xinf_matrix_t *w, size_t *row_bytes)
{
    *row_bytes = xinf_dtype_row_bytes (w->dtype, w->cols);
    if (!xinf_cuda_dtype_supported (w->dtype)) {
        char reason [128];
        snprintf (reason, sizeof reason, "no CUDA kernel for %s weights yet (they run on the CPU backend)",
                  xinf_dtype_name (w->dtype));
        xinf_cuda_fail (cuda, "project", reason);
        return NULL;
    }
    if (!*row_bytes || !w->data || !w->rows) {
        char reason [128];
        snprintf (reason, sizeof reason, "a %zux%zu %s matrix it cannot use", w->rows, w->cols, xinf_dtype_name (w->dtype));
        xinf_cuda_fail (cuda, "project", reason);
        return NULL;
    }
    return (const uint8_t *) xinf_cuda_constant (cuda, w->data, w->rows * *row_bytes, "project (weights)");
}

//  The blocks of a product's one-dimensional grid: each row block once a
//  group of tokens (1 token for a step of one, else PROJECT_TOKENS); 0
//  when over what one launch takes.
static unsigned
s_grid (size_t row_blocks, size_t n)
{
    size_t groups = n == 1 ? 1 : (n + PROJECT_TOKENS - 1) / PROJECT_TOKENS;
    if (!row_blocks || row_blocks > 0x7fffffffu / groups)
        return 0;
    return (unsigned) (row_blocks * groups);
}

//  Rows a warp takes in a product of n tokens (xinf_cuda_dot_rows_per_warp).
static int
s_per_warp (xinf_cuda_t *cuda, int dtype, bool wide, bool q8a, size_t n)
{
    return xinf_cuda_dot_rows_per_warp (n == 1 ? 1 : PROJECT_TOKENS, dtype, wide, q8a, cuda->several_rows);
}

//  ---- Q8_0 products with 16-bit activations (xinf_cuda_dot.cuh) ----------------------

//  Whether a product takes the q8a path: Q8_0 weights in host memory
//  (the backend keeps a repacked copy) of whole blocks.
static bool
s_takes_q8a (xinf_cuda_t *cuda, const xinf_matrix_t *w)
{
    return cuda->q8a && cuda->wide && w->dtype == XINF_DTYPE_Q8_0 && w->cols % 32 == 0 && w->cols && w->rows
        && w->data && !xinf_cuda_owns (cuda, w->data, w->rows * xinf_dtype_row_bytes (w->dtype, w->cols));
}

//  The input whose quantized copy the Q8A stage holds within one call:
//  the caller's address of it and its floats (n x cols: the codes'
//  layout depends on nothing else).
typedef struct {
    const void *x;
    size_t count;
    bool handed;                      //  by the op before (xinf_cuda_q8a_handoff)
} s_quantized_t;

//  After a product wrote 'bytes' at 'y': the quantized copy is stale when
//  that overlapped its input.
static void
s_quantized_written (s_quantized_t *quantized, const void *y, size_t bytes)
{
    const char *from = (const char *) quantized->x, *to = from + quantized->count * sizeof (float);
    if (quantized->x && (const char *) y < to && (const char *) y + bytes > from)
        quantized->x = NULL;
}

int
xinf_cuda_q8a_activations (xinf_cuda_t *cuda, size_t count, int16_t **q, float **d)
{
    size_t codes_bytes = (count * 2 + 15) / 16 * 16;
    uint8_t *stage = (uint8_t *) xinf_cuda_stage (cuda, XINF_CUDA_STAGE_Q8A, codes_bytes + count / 32 * 4);
    if (!stage)
        return -1;
    *q = (int16_t *) stage;
    *d = (float *) (stage + codes_bytes);
    return 0;
}

bool
xinf_cuda_q8a_handoff (xinf_cuda_t *cuda, const void *out, size_t count, int16_t **q, float **d)
{
    xinf_cuda_handoff_t *handoff = &cuda->handoff;
    *q = NULL;
    *d = NULL;
    bool wanted = false;
    for (size_t index = 0; index < XINF_CUDA_WANTED; index++)
        wanted = wanted || (out && handoff->wanted [index] == out);
    size_t bytes = (count * 2 + 15) / 16 * 16 + count / 32 * 4;
    if (!wanted || !cuda->q8a || !cuda->wide || !count || count % 32
    ||  (cuda->capturing && bytes > cuda->stages [XINF_CUDA_STAGE_Q8A].capacity)
    ||  xinf_cuda_q8a_activations (cuda, count, q, d)) {
        *q = NULL;
        *d = NULL;
        return false;
    }
    handoff->x = out;
    handoff->count = count;
    handoff->op = handoff->ops;
    return true;
}

//  n tokens of 'cols' at 'x' (device memory) quantized for the q8a path
//  into the Q8A stage ('xq', 'xd'), unless the stage holds them already
//  ('quantized': the same input, 'host_x' the caller's address of it,
//  earlier in this call or handed by the op before).
static int
s_quantize_q8a (xinf_cuda_t *cuda, size_t cols, const void *host_x, const float *x, size_t n, int16_t **xq, float **xd,
                s_quantized_t *quantized)
{
    size_t count = n * cols;
    if (xinf_cuda_q8a_activations (cuda, count, xq, xd))
        return -1;
    if (quantized->x == host_x && quantized->count == count) {
        cuda->handoffs += quantized->handed;
        quantized->handed = false;
        return 0;
    }
    quantized->x = NULL;
    if (xinf_cuda_blocks (count / 32, PROJECT_WARPS) > 0x7fffffffu)
        return xinf_cuda_fail (cuda, "project (Q8_0 activations)", "too many tokens for one launch");
    if (xinf_cuda_launch (cuda, "project (Q8_0 activations)", k_quantize_q8a, xinf_cuda_blocks (count / 32, PROJECT_WARPS),
                          PROJECT_WARPS * WARP, 0, x, count / 32, *xq, *xd))
        return -1;
    *quantized = (s_quantized_t) { host_x, count, false };
    if (host_x == x) {                //  device memory: its writer may hand it over quantized next time
        xinf_cuda_handoff_t *handoff = &cuda->handoff;
        bool known = false;
        for (size_t index = 0; index < XINF_CUDA_WANTED; index++)
            known = known || handoff->wanted [index] == x;
        if (!known)
            handoff->wanted [handoff->next_wanted++ % XINF_CUDA_WANTED] = x;
    }
    return 0;
}

//  The product of a repacked matrix and n tokens at 'x' (device memory),
//  into 'y'; 'quantized' as s_quantize_q8a's.
static int
s_project_q8a (xinf_cuda_t *cuda, const xinf_matrix_t *w, const uint8_t *image, const void *host_x, const float *x,
               size_t n, float *y, const float *bias, s_quantized_t *quantized)
{
    int16_t *xq;
    float *xd;
    if (s_quantize_q8a (cuda, w->cols, host_x, x, n, &xq, &xd, quantized))
        return -1;
    int per_warp = s_per_warp (cuda, (int) w->dtype, false, true, n);
    unsigned grid = s_grid (xinf_cuda_blocks (w->rows, PROJECT_WARPS * per_warp), n);
    return xinf_cuda_launch (cuda, "project (Q8_0)", n == 1 ? k_project_q8a<1> : k_project_q8a<PROJECT_TOKENS>, grid,
                             PROJECT_WARPS * WARP, 0, per_warp, image, w->rows, w->cols, xq, xd, n, y, bias);
}

//  F16 weights: x into 'narrow' scaled to stay within F16 (k_absmax,
//  k_to_half_scaled), the scale back in the device's alpha; -1 after a
//  failure.
static int
s_gemm_input_half (xinf_cuda_t *cuda, const float *x, size_t count, __half *narrow)
{
    if (!cuda->blas_scale) {
        if (cuda->capturing)
            return xinf_cuda_fail_once (cuda, "project (cuBLAS)", "graph capture: no scale buffer yet");
        if (xinf_cuda_check (cuda, cudaMalloc ((void **) &cuda->blas_scale, 4 * sizeof (float)), "project (cuBLAS)"))
            return -1;
    }
    unsigned *top = (unsigned *) (cuda->blas_scale + 2);
    unsigned blocks = xinf_cuda_blocks (count, 256);
    if (xinf_cuda_check (cuda, cudaMemsetAsync (top, 0, sizeof *top, cuda->stream), "project (cuBLAS input)"))
        return -1;
    k_absmax<<<blocks < 1024 ? blocks : 1024, 256, 0, cuda->stream>>> (x, count, top);
    k_to_half_scaled<<<blocks, 256, 0, cuda->stream>>> (x, narrow, count, top, cuda->blas_scale);
    return xinf_cuda_launched (cuda, "project (cuBLAS input)");
}

//  y = x . W^T through cublasGemmEx: column-major, Y (rows x n) = W^T X
//  with W a cols x rows and X a cols x n column-major matrix. F16 weights
//  take x scaled into F16's range, alpha (on the device) scaling back.
static int
s_gemm (xinf_cuda_t *cuda, const xinf_matrix_t *w, const void *weights, const float *x, size_t n, float *y)
{
    if (w->rows > 0x7fffffff || w->cols > 0x7fffffff || n > 0x7fffffff)
        return xinf_cuda_fail (cuda, "project (cuBLAS)", "a dimension over INT_MAX");
    cudaDataType_t type = w->dtype == XINF_DTYPE_F32 ? CUDA_R_32F : w->dtype == XINF_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
    const void *b = x;
    size_t count = n * w->cols;
    bool scaled = w->dtype == XINF_DTYPE_F16;
    if (w->dtype != XINF_DTYPE_F32) {
        void *narrow = xinf_cuda_stage (cuda, XINF_CUDA_STAGE_HALF, count * 2);
        if (!narrow)
            return -1;
        if (scaled && s_gemm_input_half (cuda, x, count, (__half *) narrow))
            return -1;
        if (!scaled) {
            k_to_bf16<<<xinf_cuda_blocks (count, 256), 256, 0, cuda->stream>>> (x, (__nv_bfloat16 *) narrow, count);
            if (xinf_cuda_launched (cuda, "project (cuBLAS input)"))
                return -1;
        }
        b = narrow;
    }
    float one = 1, zero = 0;
    int rows = (int) w->rows, cols = (int) w->cols;
    const float *alpha = scaled ? cuda->blas_scale : &one, *beta = scaled ? cuda->blas_scale + 1 : &zero;
    if (scaled && xinf_cuda_check_blas (cuda, cublasSetPointerMode (cuda->cublas, CUBLAS_POINTER_MODE_DEVICE),
                                        "project (cuBLAS pointer mode)"))
        return -1;
    cublasStatus_t status = cublasGemmEx (cuda->cublas, CUBLAS_OP_T, CUBLAS_OP_N, rows, (int) n, cols, alpha, weights,
                                          type, cols, b, type, cols, beta, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT);
    if (scaled)
        cublasSetPointerMode (cuda->cublas, CUBLAS_POINTER_MODE_HOST);
    return xinf_cuda_check_blas (cuda, status, "project (cublasGemmEx)");
}

//  One product; x and y may be host memory (staged through the device).
//  'quantized': as s_quantize_q8a's.
static int
s_product (xinf_cuda_t *cuda, const xinf_product_t *product, size_t n, s_quantized_t *quantized)
{
    const xinf_matrix_t *w = product->w;
    size_t row_bytes = xinf_dtype_row_bytes (w->dtype, w->cols), in_bytes = n * w->cols * sizeof (float);
    size_t out_bytes = n * w->rows * sizeof (float);
    bool q8a = s_takes_q8a (cuda, w);
    const uint8_t *weights = q8a ? (const uint8_t *) xinf_cuda_constant_q8a (cuda, w, "project (Q8_0 weights)")
                                 : s_weights (cuda, w, &row_bytes);
    if (!weights)
        return -1;
    if (!s_grid (xinf_cuda_blocks (w->rows, PROJECT_WARPS), n))
        return xinf_cuda_fail (cuda, "project", "too many tokens x rows for one launch");
    const float *x = product->x;
    if (!xinf_cuda_owns (cuda, x, in_bytes)) {
        void *part;
        const void *hosts [1] = { x };
        if (xinf_cuda_upload (cuda, XINF_CUDA_STAGE_IN, hosts, &in_bytes, 1, &part))
            return -1;
        x = (const float *) part;
    }
    bool host_out = !xinf_cuda_owns (cuda, product->y, out_bytes);
    float *y = host_out ? (float *) xinf_cuda_stage (cuda, XINF_CUDA_STAGE_OUT, out_bytes) : product->y;
    if (!y)
        return -1;
    const float *bias = product->bias ? (const float *) xinf_cuda_constant (cuda, product->bias, w->rows * sizeof (float),
                                                                            "project (bias)") : NULL;
    if (product->bias && !bias)
        return -1;
    bool gemm = cuda->use_cublas && n > 1 && w->dtype <= XINF_DTYPE_BF16;
    if (q8a) {
        if (s_project_q8a (cuda, w, weights, product->x, x, n, y, bias, quantized))
            return -1;
    }
    else if (gemm) {
        if (s_gemm (cuda, w, weights, x, n, y) || (bias && xinf_cuda_rows_add (cuda, y, bias, n, w->rows)))
            return -1;
    }
    else {
        bool wide = cuda->wide && xinf_cuda_dot_wide ((int) w->dtype, weights, row_bytes, w->cols, x);
        int per_warp = s_per_warp (cuda, (int) w->dtype, wide, false, n);
        unsigned grid = s_grid (xinf_cuda_blocks (w->rows, PROJECT_WARPS * per_warp), n);
        if (xinf_cuda_launch (cuda, "project", n == 1 ? k_project<1> : k_project<PROJECT_TOKENS>, grid,
                              PROJECT_WARPS * WARP, 0, (int) w->dtype, wide, per_warp, weights, row_bytes, w->rows,
                              w->cols, x, n, y, bias))
            return -1;
    }
    //  Captured: the copy to the host comes after each run of the graph
    if (host_out && cuda->capturing)
        return xinf_cuda_graph_output (cuda, product->y, y, out_bytes);
    if (host_out
    &&  (xinf_cuda_check (cuda, cudaMemcpyAsync (product->y, y, out_bytes, cudaMemcpyDeviceToHost, cuda->stream),
                          "project (to host)")
    ||   xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "project (to host)")))
        return -1;
    return 0;
}

//  The weights of the products of one launch over n tokens into 'many',
//  with the rows its warps take; false when they do not all take the same
//  kernel (or the grid would be too large).
static bool
s_many_weights (xinf_cuda_t *cuda, const xinf_product_t *products, size_t count, size_t n, bool q8a, s_many_t *many,
                bool *wide, int *per_warp, size_t *blocks)
{
    const xinf_matrix_t *w0 = products [0].w;
    size_t row_bytes = xinf_dtype_row_bytes (w0->dtype, w0->cols);
    memset (many, 0, sizeof *many);
    *blocks = 0;
    for (size_t p = 0; p < count; p++) {
        const xinf_matrix_t *w = products [p].w;
        size_t bytes;
        many->weights [p] = q8a ? (const uint8_t *) xinf_cuda_constant_q8a (cuda, w, "project (Q8_0 weights)")
                                : s_weights (cuda, w, &bytes);
        if (!many->weights [p])
            return false;
        bool lanes_wide = cuda->wide && xinf_cuda_dot_wide ((int) w->dtype, many->weights [p], row_bytes, w->cols,
                                                            products [0].x);
        if (p && lanes_wide != *wide)
            return false;
        *wide = lanes_wide;
        *per_warp = s_per_warp (cuda, (int) w->dtype, lanes_wide, q8a, n);
        many->y [p] = products [p].y;
        many->bias [p] = products [p].bias ? (const float *) xinf_cuda_constant (cuda, products [p].bias,
                                                                                 w->rows * sizeof (float),
                                                                                 "project (bias)") : NULL;
        if (products [p].bias && !many->bias [p])
            return false;
        many->rows [p] = w->rows;
        many->first [p] = (unsigned) *blocks;
        *blocks += xinf_cuda_blocks (w->rows, PROJECT_WARPS * *per_warp);
        if (*blocks > 0x7fffffffu)
            return false;
    }
    many->count = (int) count;
    return true;
}

//  Whether an output of the products overlaps their input or another's
//  output (n tokens).
static bool
s_outputs_overlap (const xinf_product_t *products, size_t count, size_t n)
{
    for (size_t p = 0; p < count; p++) {
        const char *from = (const char *) products [p].y, *to = from + n * products [p].w->rows * sizeof (float);
        const char *x = (const char *) products [p].x, *x_end = x + n * products [p].w->cols * sizeof (float);
        if (from < x_end && to > x)
            return true;
        for (size_t q = p + 1; q < count; q++) {
            const char *other = (const char *) products [q].y;
            if (from < other + n * products [q].w->rows * sizeof (float) && to > other)
                return true;
        }
    }
    return false;
}

//  The products of a call in one launch where they allow it: 2 to
//  PROJECT_MANY of them on one input, inputs and outputs in device memory,
//  weights of one type and width for one kernel (not cuBLAS); each row
//  computed as alone. 1: done; 0: not for one launch; -1 after a failure.
static int
s_project_many (xinf_cuda_t *cuda, const xinf_product_t *products, size_t count, size_t n, s_quantized_t *quantized)
{
    if (count < 2 || count > PROJECT_MANY)
        return 0;
    const xinf_matrix_t *w0 = products [0].w;
    const float *x = products [0].x;
    size_t cols = w0->cols, row_bytes = xinf_dtype_row_bytes (w0->dtype, cols);
    bool q8a = s_takes_q8a (cuda, w0);
    if (!xinf_cuda_dtype_supported (w0->dtype) || !row_bytes || !xinf_cuda_owns (cuda, x, n * cols * sizeof (float))
    ||  (cuda->use_cublas && n > 1 && w0->dtype <= XINF_DTYPE_BF16))
        return 0;
    for (size_t p = 0; p < count; p++) {
        const xinf_matrix_t *w = products [p].w;
        if (products [p].x != x || w->dtype != w0->dtype || w->cols != cols || !w->rows || !w->data
        ||  s_takes_q8a (cuda, w) != q8a || !xinf_cuda_owns (cuda, products [p].y, n * w->rows * sizeof (float)))
            return 0;
    }
    if (s_outputs_overlap (products, count, n))
        return 0;                     //  one by one: a product may read another's output
    s_many_t many;
    bool wide = false;
    int per_warp = 1;
    size_t blocks;
    if (!s_many_weights (cuda, products, count, n, q8a, &many, &wide, &per_warp, &blocks))
        return cuda->failed ? -1 : 0;
    unsigned grid = s_grid (blocks, n), threads = PROJECT_WARPS * WARP;
    if (!grid)
        return 0;                     //  one by one: each fails with its reason
    int16_t *xq = NULL;
    float *xd = NULL;
    if (q8a && s_quantize_q8a (cuda, cols, x, x, n, &xq, &xd, quantized))
        return -1;
    int dtype = (int) w0->dtype;
    void (*kernel) (s_many_t, int, bool, int, size_t, size_t, const float *, const int16_t *, const float *, size_t) =
        n == 1 ? (q8a ? k_project_many<1, true> : k_project_many<1, false>)
               : (q8a ? k_project_many<PROJECT_TOKENS, true> : k_project_many<PROJECT_TOKENS, false>);
    if (xinf_cuda_launch (cuda, "project (one launch)", kernel, grid, threads, 0, many, dtype, wide, per_warp, row_bytes,
                          cols, x, xq, xd, n))
        return -1;
    cuda->fused_launches++;
    return 1;
}

//  The products of a call go in one launch where they can (q, k and v;
//  gate and up), else one by one, sharing their quantized activations
//  while their inputs are one and the same.
void
xinf_cuda_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    s_quantized_t quantized = { NULL, 0, false };
    if (!xinf_cuda_enter (cuda) || !n)
        return;
    xinf_cuda_handoff_t *handoff = &cuda->handoff;
    if (handoff->x && handoff->op + 1 == handoff->ops)
        quantized = (s_quantized_t) { handoff->x, handoff->count, true };
    handoff->x = NULL;
    if (s_project_many (cuda, products, count, n, &quantized))
        return;
    for (size_t index = 0; index < count && !cuda->failed; index++) {
        if (s_product (cuda, &products [index], n, &quantized))
            return;
        s_quantized_written (&quantized, products [index].y, n * products [index].w->rows * sizeof (float));
    }
}

//  ---- embedding -------------------------------------------------------------------------

__global__ void
k_embed (int dtype, const uint8_t *table, size_t row_bytes, size_t cols, const int32_t *tokens, float *x)
{
    xinf_cuda_pdl_enter ();
    size_t token = blockIdx.x;
    const uint8_t *row = table + (size_t) tokens [token] * row_bytes;
    for (size_t k = threadIdx.x; k < cols; k += blockDim.x)
        x [token * cols + k] = s_weight (dtype, row, k);
}

__global__ void
k_embed_q8a (const uint8_t *image, size_t rows, size_t cols, const int32_t *tokens, float *x)
{
    xinf_cuda_pdl_enter ();
    size_t token = blockIdx.x;
    for (size_t k = threadIdx.x; k < cols; k += blockDim.x)
        x [token * cols + k] = xinf_cuda_q8a_weight (image, rows, cols, (size_t) tokens [token], k);
}

void
xinf_cuda_embed (xinf_backend_t *self, const xinf_matrix_t *table, const int32_t *tokens, size_t n, float *x)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    size_t row_bytes;
    if (!xinf_cuda_enter (cuda) || !n || !xinf_cuda_device_memory (cuda, x, n * table->cols * sizeof (float), "embed"))
        return;
    if (!xinf_cuda_dtype_supported (table->dtype)) {
        xinf_cuda_fail (cuda, "embed", "no CUDA kernel for the embedding table's weight type yet");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (tokens [i] < 0 || (size_t) tokens [i] >= table->rows) {
            xinf_cuda_fail (cuda, "embed", "a token id outside the table");
            return;
        }
    if (cuda->capturing)
        cuda->recording.token_rows = table->rows;     //  a replay checks its ids against them
    if (n > 0x7fffffff) {
        xinf_cuda_fail (cuda, "embed", "too many tokens for one launch");
        return;
    }
    //  A Q8_0 table the products repack (a tied output matrix) is read repacked: one copy on the device
    bool q8a = s_takes_q8a (cuda, table);
    const uint8_t *weights = q8a ? (const uint8_t *) xinf_cuda_constant_q8a (cuda, table, "embed (Q8_0 weights)")
                                 : s_weights (cuda, table, &row_bytes);
    const void *hosts [1] = { tokens };
    size_t sizes [1] = { n * sizeof (int32_t) };
    void *parts [1];
    if (!weights || xinf_cuda_upload (cuda, XINF_CUDA_STAGE_TOKENS, hosts, sizes, 1, parts))
        return;
    if (q8a)
        xinf_cuda_launch (cuda, "embed", k_embed_q8a, (unsigned) n, 128, 0, weights, table->rows, table->cols,
                          (const int32_t *) parts [0], x);
    else
        xinf_cuda_launch (cuda, "embed", k_embed, (unsigned) n, 128, 0, (int) table->dtype, weights, row_bytes,
                          table->cols, (const int32_t *) parts [0], x);
}
