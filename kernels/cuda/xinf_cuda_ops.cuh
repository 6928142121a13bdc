/*  xinf_cuda_ops.cuh: device helpers that the element-wise ops
    (xinf_cuda_ops.cu) and the paged KV cache's ops (xinf_cuda_paged.cu)
    share: a warp's sum, and RoPE's angle and turn of one pair, computed
    as the CPU computes them.
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
