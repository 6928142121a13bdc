/*  xinf_cuda_ops.cuh: device helpers that the element-wise ops
    (xinf_cuda_ops.cu) and the paged KV cache's ops (xinf_cuda_paged.cu)
    share: a warp's sum, RMSNorm's block of a row (its threads, its sum of
    squares, its scale), and RoPE's angle and turn of one pair, computed
    as the CPU computes them. A kernel that norms a row with these gives
    the floats of k_rmsnorm.
*/
#ifndef XINF_CUDA_OPS_CUH
#define XINF_CUDA_OPS_CUH

#include <math.h>
#include <stdint.h>

//  The sum of 'value' over the 32 lanes of a warp, on every lane.
__device__ __forceinline__ float
xinf_cuda_warp_sum (float value)
{
    for (int mask = 16; mask > 0; mask /= 2)
        value += __shfl_xor_sync (0xffffffffu, value, mask);
    return value;
}

#define XINF_CUDA_NORM_THREADS 1024   //  a norm's block of a row at most

//  The threads of a norm's block for a row of 'dim': a warp for each 32
//  of dim, XINF_CUDA_NORM_THREADS at most. They depend on dim alone, so
//  that a row's floats do not depend on its batch.
__host__ __device__ __forceinline__ unsigned
xinf_cuda_norm_threads (size_t dim)
{
    size_t threads = dim ? (dim + 31) / 32 * 32 : 32;
    return (unsigned) (threads < XINF_CUDA_NORM_THREADS ? threads : XINF_CUDA_NORM_THREADS);
}

//  Thread t's part of a row's sum of squares in a norm's block of
//  'threads' (t < threads: its places t, t + threads, ...; 0 for the rest).
__device__ __forceinline__ float
xinf_cuda_norm_squares (const float *row, size_t dim, unsigned threads)
{
    float squares = 0;
    for (size_t i = threadIdx.x; threadIdx.x < threads && i < dim; i += threads)
        squares = __fmaf_rn (row [i], row [i], squares);
    return squares;
}

//  The sum of the first 'threads' threads' 'value' (a multiple of 32; the
//  block's other threads take part and add nothing), on every thread:
//  each warp's sum (its lane 0's), then those in warp order. 'warps' is
//  shared memory of threads / 32 floats that nothing else touches until
//  the block's next barrier after this one (a second sum before then
//  takes other memory).
__device__ __forceinline__ float
xinf_cuda_block_sum (float value, unsigned threads, float *warps)
{
    value = xinf_cuda_warp_sum (value);
    if (threadIdx.x % 32 == 0 && threadIdx.x < threads)
        warps [threadIdx.x / 32] = value;
    __syncthreads ();
    float sum = 0;
    for (unsigned w = 0; w < threads / 32; w++)
        sum += warps [w];
    return sum;
}

//  A norm's scale for the sum of squares of a row of 'dim'.
__device__ __forceinline__ float
xinf_cuda_norm_scale (float squares, size_t dim, float eps)
{
    return (float) (1.0 / sqrt ((double) squares / (double) (dim ? dim : 1) + eps));
}

//  A place of a normed row: x * scale (* weight).
__device__ __forceinline__ float
xinf_cuda_norm_value (float x, float scale, const float *weight, size_t i)
{
    return weight ? __fmul_rn (__fmul_rn (x, scale), weight [i]) : __fmul_rn (x, scale);
}

//  The angle of pair i at position 'pos', as the CPU computes it.
__device__ __forceinline__ double
xinf_cuda_rope_angle (int32_t pos, size_t i, size_t head_dim, float base, float scale, const float *factors)
{
    double theta = (double) pos * scale * pow ((double) base, -2.0 * (double) i / (double) head_dim);
    return factors ? theta / factors [i] : theta;
}

//  Pair i of the head at 'row' turned by (c, s); its two places in 'lo'
//  and 'hi' (indexes into the row).
__device__ __forceinline__ void
xinf_cuda_rope_pair (float *row, size_t i, size_t half, bool neox, float c, float s, size_t *lo, size_t *hi)
{
    *lo = neox ? i : 2 * i;
    *hi = neox ? half + i : 2 * i + 1;
    float x0 = row [*lo], x1 = row [*hi];
    row [*lo] = __fsub_rn (__fmul_rn (x0, c), __fmul_rn (x1, s));
    row [*hi] = __fadd_rn (__fmul_rn (x0, s), __fmul_rn (x1, c));
}

#endif
