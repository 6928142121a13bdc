/*  xinf_cuda_project: the CUDA backend's products and embedding lookup,
    for every weight type of xinf_dtype.h.

    A product gives each output row to one warp and takes up to
    PROJECT_TOKENS tokens at once; the warp adds its lanes in a fixed
    tree. The generic kernel decodes one weight at a time
    (xinf_cuda_decode.cuh): lane l sums the weights l, l + 32, ... times
    the token's activations (float FMA). The wide kernel, for F16, BF16
    and Q8_0 rows aligned for it, loads 16-byte chunks or whole Q8_0
    blocks a lane (xinf_cuda_dot.cuh). Either way every (row, token)
    result comes from the same arithmetic whatever the batch: a token's
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
static __device__ void
s_warp_store (float *acc, unsigned lane, size_t count, size_t rows, size_t first, size_t r, float *y)
{
#pragma unroll
    for (int t = 0; t < PROJECT_TOKENS; t++) {
        float sum = acc [t];
        for (int mask = WARP / 2; mask > 0; mask /= 2)
            sum += __shfl_xor_sync (0xffffffffu, sum, mask);
        if (lane == 0 && (size_t) t < count)
            y [(first + t) * rows + r] = sum;
    }
}

//  The generic kernel's share of lane 'lane': weights lane, lane + 32, ...
//  decoded one at a time (any type), times each token's activation.
static __device__ void
s_generic_lane (int dtype, const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane, float *acc)
{
    for (size_t k = lane; k < cols; k += WARP) {
        float weight = s_weight (dtype, row, k);
#pragma unroll
        for (int t = 0; t < PROJECT_TOKENS; t++)
            if ((size_t) t < count)
                acc [t] = fmaf (weight, in [t * cols + k], acc [t]);
    }
}

//  y [t][r] = W [r] . x [t] for the tokens blockIdx.y * PROJECT_TOKENS ..
//  (up to PROJECT_TOKENS of them), one warp a row r; 'wide': the lanes
//  take 16-byte chunks or Q8_0 blocks (xinf_cuda_dot_wide said yes).
__global__ void
k_project (int dtype, bool wide, const uint8_t *w, size_t row_bytes, size_t rows, size_t cols, const float *x,
           size_t n, float *y)
{
    size_t r = (size_t) blockIdx.x * PROJECT_WARPS + threadIdx.x / WARP;
    unsigned lane = threadIdx.x % WARP;
    size_t first = (size_t) blockIdx.y * PROJECT_TOKENS;
    if (r >= rows)
        return;
    size_t count = n - first < PROJECT_TOKENS ? n - first : PROJECT_TOKENS;
    const uint8_t *row = w + r * row_bytes;
    const float *in = x + first * cols;
    float acc [PROJECT_TOKENS];
#pragma unroll
    for (int t = 0; t < PROJECT_TOKENS; t++)
        acc [t] = 0;
    if (wide)
        xinf_cuda_dot_lane (dtype, row, cols, in, count, lane, WARP, acc);
    else
        s_generic_lane (dtype, row, cols, in, count, lane, acc);
    s_warp_store (acc, lane, count, rows, first, r, y);
}

__global__ void
k_to_half (const float *x, __half *out, size_t count)
{
    size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count)
        out [i] = __float2half_rn (x [i]);
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
    return dtype != XINF_DTYPE_Q2_K && dtype != XINF_DTYPE_Q3_K && (int) dtype >= 0 && dtype < XINF_DTYPE_COUNT;
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

//  y = x . W^T through cublasGemmEx: column-major, Y (rows x n) = W^T X
//  with W a cols x rows and X a cols x n column-major matrix.
static int
s_gemm (xinf_cuda_t *cuda, const xinf_matrix_t *w, const void *weights, const float *x, size_t n, float *y)
{
    if (w->rows > 0x7fffffff || w->cols > 0x7fffffff || n > 0x7fffffff)
        return xinf_cuda_fail (cuda, "project (cuBLAS)", "a dimension over INT_MAX");
    cudaDataType_t type = w->dtype == XINF_DTYPE_F32 ? CUDA_R_32F : w->dtype == XINF_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
    const void *b = x;
    size_t count = n * w->cols;
    if (w->dtype != XINF_DTYPE_F32) {
        void *narrow = xinf_cuda_stage (cuda, XINF_CUDA_STAGE_HALF, count * 2);
        if (!narrow)
            return -1;
        if (w->dtype == XINF_DTYPE_F16)
            k_to_half<<<xinf_cuda_blocks (count, 256), 256, 0, cuda->stream>>> (x, (__half *) narrow, count);
        else
            k_to_bf16<<<xinf_cuda_blocks (count, 256), 256, 0, cuda->stream>>> (x, (__nv_bfloat16 *) narrow, count);
        if (xinf_cuda_launched (cuda, "project (cuBLAS input)"))
            return -1;
        b = narrow;
    }
    float one = 1, zero = 0;
    int rows = (int) w->rows, cols = (int) w->cols;
    return xinf_cuda_check_blas (cuda, cublasGemmEx (cuda->cublas, CUBLAS_OP_T, CUBLAS_OP_N, rows, (int) n, cols, &one,
                                                     weights, type, cols, b, type, cols, &zero, y, CUDA_R_32F, rows,
                                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "project (cublasGemmEx)");
}

//  One product; x and y may be host memory (staged through the device).
static int
s_product (xinf_cuda_t *cuda, const xinf_product_t *product, size_t n)
{
    const xinf_matrix_t *w = product->w;
    size_t row_bytes, in_bytes = n * w->cols * sizeof (float), out_bytes = n * w->rows * sizeof (float);
    const uint8_t *weights = s_weights (cuda, w, &row_bytes);
    if (!weights)
        return -1;
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
    bool gemm = cuda->use_cublas && n > 1 && w->dtype <= XINF_DTYPE_BF16;
    if (gemm) {
        if (s_gemm (cuda, w, weights, x, n, y))
            return -1;
    }
    else {
        if ((n + PROJECT_TOKENS - 1) / PROJECT_TOKENS > 65535 || xinf_cuda_blocks (w->rows, PROJECT_WARPS) > 0x7fffffffu)
            return xinf_cuda_fail (cuda, "project", "too many tokens or rows for one launch");
        dim3 grid (xinf_cuda_blocks (w->rows, PROJECT_WARPS), (unsigned) ((n + PROJECT_TOKENS - 1) / PROJECT_TOKENS));
        bool wide = cuda->wide && xinf_cuda_dot_wide ((int) w->dtype, weights, row_bytes, w->cols, x);
        k_project<<<grid, PROJECT_WARPS * WARP, 0, cuda->stream>>> ((int) w->dtype, wide, weights, row_bytes, w->rows,
                                                                    w->cols, x, n, y);
        if (xinf_cuda_launched (cuda, "project"))
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

void
xinf_cuda_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (!xinf_cuda_enter (cuda))
        return;
    for (size_t index = 0; index < count && n && !cuda->failed; index++)
        if (s_product (cuda, &products [index], n))
            return;
}

//  ---- embedding -------------------------------------------------------------------------

__global__ void
k_embed (int dtype, const uint8_t *table, size_t row_bytes, size_t cols, const int32_t *tokens, float *x)
{
    size_t token = blockIdx.x;
    const uint8_t *row = table + (size_t) tokens [token] * row_bytes;
    for (size_t k = threadIdx.x; k < cols; k += blockDim.x)
        x [token * cols + k] = s_weight (dtype, row, k);
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
    const uint8_t *weights = s_weights (cuda, table, &row_bytes);
    const void *hosts [1] = { tokens };
    size_t sizes [1] = { n * sizeof (int32_t) };
    void *parts [1];
    if (!weights || xinf_cuda_upload (cuda, XINF_CUDA_STAGE_TOKENS, hosts, sizes, 1, parts))
        return;
    k_embed<<<(unsigned) n, 128, 0, cuda->stream>>> ((int) table->dtype, weights, row_bytes, table->cols,
                                                     (const int32_t *) parts [0], x);
    xinf_cuda_launched (cuda, "embed");
}

//  ---- the decoders on the host (tests) ----------------------------------------------------

void
xinf_cuda_decode_row (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    for (size_t k = 0; k < cols; k++)
        out [k] = s_weight ((int) dtype, (const uint8_t *) row, k);
}

bool
xinf_cuda_project_row_host (xinf_dtype_t dtype, const void *row, size_t row_bytes, size_t cols, const float *x,
                            size_t count, float *out)
{
    if (count < 1 || count > PROJECT_TOKENS || !xinf_cuda_dot_wide ((int) dtype, row, row_bytes, cols, x))
        return false;
    float lanes [WARP][PROJECT_TOKENS] = { { 0 } };
    for (unsigned lane = 0; lane < WARP; lane++)
        xinf_cuda_dot_lane ((int) dtype, (const uint8_t *) row, cols, x, count, lane, WARP, lanes [lane]);
    //  The shuffle tree: at each step every lane adds the lane 'mask' away
    for (size_t t = 0; t < count; t++) {
        float sums [WARP], next [WARP];
        for (unsigned lane = 0; lane < WARP; lane++)
            sums [lane] = lanes [lane][t];
        for (unsigned mask = WARP / 2; mask > 0; mask /= 2) {
            for (unsigned lane = 0; lane < WARP; lane++)
                next [lane] = sums [lane] + sums [lane ^ mask];
            memcpy (sums, next, sizeof sums);
        }
        out [t] = sums [0];
    }
    return true;
}
