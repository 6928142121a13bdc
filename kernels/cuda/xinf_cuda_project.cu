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
    that share their input), integer sums (xinf_cuda_dot.cuh). Every
    (row, token) result comes from the same arithmetic whatever the
    batch: a token's result never depends on the other tokens of its step.

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
s_warp_store (float *acc, unsigned lane, size_t count, size_t rows, size_t first, size_t r, float *y)
{
#pragma unroll
    for (int t = 0; t < TOKENS; t++) {
        float sum = acc [t];
        for (int mask = WARP / 2; mask > 0; mask /= 2)
            sum += __shfl_xor_sync (0xffffffffu, sum, mask);
        if (lane == 0 && (size_t) t < count)
            y [(first + t) * rows + r] = sum;
    }
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

//  y [t][r] = W [r] . x [t] for the tokens blockIdx.y * TOKENS .. (up to
//  TOKENS of them: 1, or PROJECT_TOKENS), one warp a row r; 'wide': the
//  lanes take 16-byte chunks or Q8_0 blocks (xinf_cuda_dot_wide said yes).
template <int TOKENS>
__global__ void
k_project (int dtype, bool wide, const uint8_t *w, size_t row_bytes, size_t rows, size_t cols, const float *x,
           size_t n, float *y)
{
    size_t r = (size_t) blockIdx.x * PROJECT_WARPS + threadIdx.x / WARP;
    unsigned lane = threadIdx.x % WARP;
    size_t first = (size_t) blockIdx.y * TOKENS;
    if (r >= rows)
        return;
    size_t count = n - first < TOKENS ? n - first : TOKENS;
    const uint8_t *row = w + r * row_bytes;
    const float *in = x + first * cols;
    float acc [TOKENS];
#pragma unroll
    for (int t = 0; t < TOKENS; t++)
        acc [t] = 0;
    if (wide)
        xinf_cuda_dot_lane<TOKENS> (dtype, row, cols, in, count, lane, WARP, acc);
    else
        s_generic_lane<TOKENS> (dtype, row, cols, in, count, lane, acc);
    s_warp_store<TOKENS> (acc, lane, count, rows, first, r, y);
}

//  The q8a path's activations: one warp a block of 32, bit for bit the
//  CPU's quantizer (xinf_cuda_q8a_scale, _code).
__global__ void
k_quantize_q8a (const float *x, size_t n_blocks, int16_t *q, float *d)
{
    size_t block = (size_t) blockIdx.x * PROJECT_WARPS + threadIdx.x / WARP;
    unsigned lane = threadIdx.x % WARP;
    if (block >= n_blocks)
        return;                       //  the whole warp
    float value = x [block * 32 + lane];
    uint32_t top = __float_as_uint (value) & 0x7fffffffu;
    for (int mask = WARP / 2; mask > 0; mask /= 2)
        top = max (top, __shfl_xor_sync (0xffffffffu, top, mask));
    float scale = xinf_cuda_q8a_scale (top);
    q [block * 32 + lane] = xinf_cuda_q8a_code (value, scale);
    if (lane == 0)
        d [block] = scale;
}

//  y [t][r] = W [r] . x [t] from a repacked Q8_0 matrix and quantized
//  tokens, one warp a row, the grid as k_project's.
template <int TOKENS>
__global__ void
k_project_q8a (const uint8_t *codes, const uint16_t *scales, size_t rows, size_t cols, const int16_t *xq,
               const float *xd, size_t n, float *y)
{
    size_t r = (size_t) blockIdx.x * PROJECT_WARPS + threadIdx.x / WARP;
    unsigned lane = threadIdx.x % WARP;
    size_t first = (size_t) blockIdx.y * TOKENS;
    if (r >= rows)
        return;
    size_t count = n - first < TOKENS ? n - first : TOKENS, blocks = cols / 32;
    float acc [TOKENS];
#pragma unroll
    for (int t = 0; t < TOKENS; t++)
        acc [t] = 0;
    xinf_cuda_dot_lane_q8a<TOKENS> (codes + r * cols, scales + r * blocks, cols, xq + first * cols,
                                    xd + first * blocks, count, lane, WARP, acc);
    s_warp_store<TOKENS> (acc, lane, count, rows, first, r, y);
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

//  ---- Q8_0 products with 16-bit activations (xinf_cuda_dot.cuh) ----------------------

size_t
xinf_cuda_q8a_image_bytes (size_t rows, size_t cols)
{
    return xinf_cuda_q8a_bytes (rows, cols);
}

void
xinf_cuda_q8a_repack (const void *q8_0, size_t rows, size_t cols, void *image)
{
    size_t blocks = cols / 32, row_bytes = blocks * 34;
    uint8_t *codes = (uint8_t *) image, *scales = codes + xinf_cuda_q8a_scales_at (rows, cols);
    memset (codes + rows * cols, 0, xinf_cuda_q8a_scales_at (rows, cols) - rows * cols);
    for (size_t r = 0; r < rows; r++)
        for (size_t b = 0; b < blocks; b++) {
            const uint8_t *block = (const uint8_t *) q8_0 + r * row_bytes + b * 34;
            memcpy (scales + (r * blocks + b) * 2, block, 2);
            memcpy (codes + r * cols + b * 32, block + 2, 32);
        }
}

//  Whether a product takes the q8a path: Q8_0 weights in host memory
//  (the backend keeps a repacked copy) of whole blocks.
static bool
s_takes_q8a (xinf_cuda_t *cuda, const xinf_matrix_t *w)
{
    return cuda->q8a && cuda->wide && w->dtype == XINF_DTYPE_Q8_0 && w->cols % 32 == 0 && w->cols && w->rows
        && w->data && !xinf_cuda_owns (cuda, w->data, w->rows * xinf_dtype_row_bytes (w->dtype, w->cols));
}

//  The product of a repacked matrix and n tokens at 'x' (device memory),
//  into 'y'; x is quantized unless it is '*quantized' (the previous
//  product's input in this call), which it becomes.
static int
s_project_q8a (xinf_cuda_t *cuda, const xinf_matrix_t *w, const uint8_t *image, const void *host_x, const float *x,
               size_t n, float *y, const void **quantized)
{
    size_t blocks = w->cols / 32, codes_bytes = (n * w->cols * 2 + 15) / 16 * 16;
    uint8_t *stage = (uint8_t *) xinf_cuda_stage (cuda, XINF_CUDA_STAGE_Q8A, codes_bytes + n * blocks * 4);
    if (!stage)
        return -1;
    int16_t *xq = (int16_t *) stage;
    float *xd = (float *) (stage + codes_bytes);
    if (*quantized != host_x) {
        *quantized = NULL;
        if (xinf_cuda_blocks (n * blocks, PROJECT_WARPS) > 0x7fffffffu)
            return xinf_cuda_fail (cuda, "project (Q8_0 activations)", "too many tokens for one launch");
        k_quantize_q8a<<<xinf_cuda_blocks (n * blocks, PROJECT_WARPS), PROJECT_WARPS * WARP, 0, cuda->stream>>> (
            x, n * blocks, xq, xd);
        if (xinf_cuda_launched (cuda, "project (Q8_0 activations)"))
            return -1;
        *quantized = host_x;
    }
    dim3 grid (xinf_cuda_blocks (w->rows, PROJECT_WARPS), (unsigned) ((n + PROJECT_TOKENS - 1) / PROJECT_TOKENS));
    const uint16_t *scales = (const uint16_t *) (image + xinf_cuda_q8a_scales_at (w->rows, w->cols));
    if (n == 1)
        k_project_q8a<1><<<grid, PROJECT_WARPS * WARP, 0, cuda->stream>>> (image, scales, w->rows, w->cols, xq, xd, n, y);
    else
        k_project_q8a<PROJECT_TOKENS><<<grid, PROJECT_WARPS * WARP, 0, cuda->stream>>> (image, scales, w->rows, w->cols,
                                                                                       xq, xd, n, y);
    return xinf_cuda_launched (cuda, "project (Q8_0)");
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
//  '*quantized': as s_project_q8a.
static int
s_product (xinf_cuda_t *cuda, const xinf_product_t *product, size_t n, const void **quantized)
{
    const xinf_matrix_t *w = product->w;
    size_t row_bytes = xinf_dtype_row_bytes (w->dtype, w->cols), in_bytes = n * w->cols * sizeof (float);
    size_t out_bytes = n * w->rows * sizeof (float);
    bool q8a = s_takes_q8a (cuda, w);
    const uint8_t *weights = q8a ? (const uint8_t *) xinf_cuda_constant_q8a (cuda, w, "project (Q8_0 weights)")
                                 : s_weights (cuda, w, &row_bytes);
    if (!weights)
        return -1;
    if ((n + PROJECT_TOKENS - 1) / PROJECT_TOKENS > 65535 || xinf_cuda_blocks (w->rows, PROJECT_WARPS) > 0x7fffffffu)
        return xinf_cuda_fail (cuda, "project", "too many tokens or rows for one launch");
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
    if (q8a) {
        if (s_project_q8a (cuda, w, weights, product->x, x, n, y, quantized))
            return -1;
    }
    else if (gemm) {
        if (s_gemm (cuda, w, weights, x, n, y))
            return -1;
    }
    else {
        dim3 grid (xinf_cuda_blocks (w->rows, PROJECT_WARPS), (unsigned) ((n + PROJECT_TOKENS - 1) / PROJECT_TOKENS));
        bool wide = cuda->wide && xinf_cuda_dot_wide ((int) w->dtype, weights, row_bytes, w->cols, x);
        if (n == 1)
            k_project<1><<<grid, PROJECT_WARPS * WARP, 0, cuda->stream>>> ((int) w->dtype, wide, weights, row_bytes,
                                                                           w->rows, w->cols, x, n, y);
        else
            k_project<PROJECT_TOKENS><<<grid, PROJECT_WARPS * WARP, 0, cuda->stream>>> ((int) w->dtype, wide, weights,
                                                                                        row_bytes, w->rows, w->cols, x,
                                                                                        n, y);
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

//  The products of a call share their quantized activations while their
//  inputs are one and the same (q, k and v; gate and up).
void
xinf_cuda_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    const void *quantized = NULL;
    if (!xinf_cuda_enter (cuda))
        return;
    for (size_t index = 0; index < count && n && !cuda->failed; index++)
        if (s_product (cuda, &products [index], n, &quantized))
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

__global__ void
k_embed_q8a (const uint8_t *image, size_t rows, size_t cols, const int32_t *tokens, float *x)
{
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
        k_embed_q8a<<<(unsigned) n, 128, 0, cuda->stream>>> (weights, table->rows, table->cols,
                                                             (const int32_t *) parts [0], x);
    else
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

//  The warp's lanes added in the order of s_warp_store's shuffle tree
//  (at each step every lane adds the lane 'mask' away).
static void
s_tree_host (float lanes [WARP][PROJECT_TOKENS], size_t count, float *out)
{
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
}

bool
xinf_cuda_project_row_host (xinf_dtype_t dtype, const void *row, size_t row_bytes, size_t cols, const float *x,
                            size_t count, float *out)
{
    if (count < 1 || count > PROJECT_TOKENS || !xinf_cuda_dot_wide ((int) dtype, row, row_bytes, cols, x))
        return false;
    float lanes [WARP][PROJECT_TOKENS] = { { 0 } };
    for (unsigned lane = 0; lane < WARP; lane++)
        if (count == 1)
            xinf_cuda_dot_lane<1> ((int) dtype, (const uint8_t *) row, cols, x, count, lane, WARP, lanes [lane]);
        else
            xinf_cuda_dot_lane<PROJECT_TOKENS> ((int) dtype, (const uint8_t *) row, cols, x, count, lane, WARP,
                                                lanes [lane]);
    s_tree_host (lanes, count, out);
    return true;
}

void
xinf_cuda_q8a_quantize_host (const float *x, size_t n, size_t cols, int16_t *q, float *d)
{
    for (size_t block = 0; block < n * (cols / 32); block++) {
        uint32_t top = 0;
        for (size_t i = 0; i < 32; i++) {
            uint32_t bits;
            memcpy (&bits, &x [block * 32 + i], sizeof bits);
            top = (bits & 0x7fffffffu) > top ? bits & 0x7fffffffu : top;
        }
        d [block] = xinf_cuda_q8a_scale (top);
        for (size_t i = 0; i < 32; i++)
            q [block * 32 + i] = xinf_cuda_q8a_code (x [block * 32 + i], d [block]);
    }
}

bool
xinf_cuda_q8a_decode_host (const void *q8_0, size_t rows, size_t cols, float *out)
{
    if (!rows || !cols || cols % 32)
        return false;
    uint8_t *image = (uint8_t *) malloc (xinf_cuda_q8a_bytes (rows, cols));
    if (!image)
        return false;
    xinf_cuda_q8a_repack (q8_0, rows, cols, image);
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < cols; k++)
            out [r * cols + k] = xinf_cuda_q8a_weight (image, rows, cols, r, k);
    free (image);
    return true;
}

bool
xinf_cuda_project_row_q8a_host (const void *row, size_t cols, const float *x, size_t count, float *out)
{
    if (count < 1 || count > PROJECT_TOKENS || !cols || cols % 32)
        return false;
    size_t blocks = cols / 32;
    uint8_t *image = (uint8_t *) aligned_alloc (16, (xinf_cuda_q8a_bytes (1, cols) + 15) / 16 * 16);
    int16_t *xq = (int16_t *) aligned_alloc (16, (count * cols * 2 + 15) / 16 * 16);
    float *xd = (float *) malloc (count * blocks * sizeof (float));
    bool ok = image && xq && xd;
    if (ok) {
        xinf_cuda_q8a_repack (row, 1, cols, image);
        xinf_cuda_q8a_quantize_host (x, count, cols, xq, xd);
        float lanes [WARP][PROJECT_TOKENS] = { { 0 } };
        const uint16_t *scales = (const uint16_t *) (image + xinf_cuda_q8a_scales_at (1, cols));
        for (unsigned lane = 0; lane < WARP; lane++)
            if (count == 1)
                xinf_cuda_dot_lane_q8a<1> (image, scales, cols, xq, xd, count, lane, WARP, lanes [lane]);
            else
                xinf_cuda_dot_lane_q8a<PROJECT_TOKENS> (image, scales, cols, xq, xd, count, lane, WARP, lanes [lane]);
        s_tree_host (lanes, count, out);
    }
    free (image);
    free (xq);
    free (xd);
    return ok;
}
