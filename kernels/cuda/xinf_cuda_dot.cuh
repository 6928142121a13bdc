/*  xinf_cuda_dot: one lane's share of a row's dot products, for the wide
    product kernel of F16, BF16 and Q8_0 weights (k_project_wide in
    xinf_cuda_project.cu). Lane l of 'lanes' takes the 16-byte chunks
    l, l + lanes, ... of a F16/BF16 row (eight weights, one 128-bit load)
    or its whole Q8_0 blocks l, l + lanes, ... (sixteen 16-bit loads and
    one scale a block), and reads the activations four floats at a time;
    each weight is loaded once for up to XINF_CUDA_DOT_TOKENS tokens.
    The generic kernel decodes one weight at a time with byte loads.

    Host and device: xinf_cuda_project_row_host runs the 32 lanes of a
    warp on the host and adds them in the order of the kernel's shuffle
    tree, so a machine without a GPU tests the wide kernel's indexing and
    arithmetic against the CPU (test_backend_twins decode).
    Private to kernels/cuda.
*/
#ifndef XINF_CUDA_DOT_CUH_INCLUDED
#define XINF_CUDA_DOT_CUH_INCLUDED

#include "xinf_cuda_decode.cuh"

#include <string.h>

#define XINF_CUDA_DOT_TOKENS 8

//  Loops unrolled on the device (the host compiler does not know the pragma)
#if defined (__CUDA_ARCH__)
#   define XINF_CUDA_UNROLL _Pragma ("unroll")
#else
#   define XINF_CUDA_UNROLL
#endif

//  Whether the wide kernel takes this product: its weight type, and the
//  alignment its vector loads need (F16/BF16: rows of whole 16-byte
//  chunks on a 16-byte boundary; Q8_0: 2-byte aligned blocks), the
//  activations' rows on 16-byte boundaries.
XINF_CUDA_BOTH bool
xinf_cuda_dot_wide (int dtype, const void *w, size_t row_bytes, size_t cols, const void *x)
{
    uintptr_t weights = (uintptr_t) w, input = (uintptr_t) x;
    if (cols % 4 || input % 16)
        return false;
    if (dtype == XINF_DTYPE_F16 || dtype == XINF_DTYPE_BF16)
        return cols % 8 == 0 && row_bytes % 16 == 0 && weights % 16 == 0;
    return dtype == XINF_DTYPE_Q8_0 && cols % 32 == 0 && row_bytes % 2 == 0 && weights % 2 == 0;
}

//  The float of a F16 (bf16 false) or BF16 weight's 16 bits.
XINF_CUDA_BOTH float
s_dot_half (unsigned bits, bool bf16)
{
    if (bf16) {
        uint32_t wide = (uint32_t) bits << 16;
        float value;
        memcpy (&value, &wide, sizeof value);
        return value;
    }
    __half_raw raw;
    raw.x = (unsigned short) bits;
    return __half2float (__half (raw));
}

//  Adds the eight weights of one 16-byte chunk times the eight
//  activations at 'in' to 'acc' (in order, one FMA each).
XINF_CUDA_BOTH float
s_dot_chunk8 (const float *weights, const float *in, float acc)
{
    float4 low = ((const float4 *) in) [0], high = ((const float4 *) in) [1];
    acc = fmaf (weights [0], low.x, acc);
    acc = fmaf (weights [1], low.y, acc);
    acc = fmaf (weights [2], low.z, acc);
    acc = fmaf (weights [3], low.w, acc);
    acc = fmaf (weights [4], high.x, acc);
    acc = fmaf (weights [5], high.y, acc);
    acc = fmaf (weights [6], high.z, acc);
    return fmaf (weights [7], high.w, acc);
}

//  F16/BF16: lane 'lane' adds its chunks' products to acc [t] for the
//  first 'count' tokens of 'in' (rows of 'cols' floats).
XINF_CUDA_BOTH void
s_dot_lane_16 (bool bf16, const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane,
               unsigned lanes, float *acc)
{
    size_t chunks = cols / 8;
    for (size_t c = lane; c < chunks; c += lanes) {
        uint4 packed = ((const uint4 *) row) [c];
        uint32_t words [4] = { packed.x, packed.y, packed.z, packed.w };
        float weights [8];
XINF_CUDA_UNROLL
        for (int i = 0; i < 4; i++) {
            weights [2 * i] = s_dot_half (words [i] & 0xffffu, bf16);
            weights [2 * i + 1] = s_dot_half (words [i] >> 16, bf16);
        }
XINF_CUDA_UNROLL
        for (int t = 0; t < XINF_CUDA_DOT_TOKENS; t++)
            if ((size_t) t < count)
                acc [t] = s_dot_chunk8 (weights, in + t * cols + c * 8, acc [t]);
    }
}

//  Q8_0: lane 'lane' adds d * (q . x) of its blocks to acc [t], the sum
//  over a block's 32 codes taken first (as ggml's vec_dot does).
XINF_CUDA_BOTH void
s_dot_lane_q8 (const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane, unsigned lanes,
               float *acc)
{
    size_t blocks = cols / 32;
    for (size_t b = lane; b < blocks; b += lanes) {
        const uint16_t *words = (const uint16_t *) (row + b * 34);
        float scale = s_dot_half (words [0], false);
        float codes [32];
XINF_CUDA_UNROLL
        for (int i = 0; i < 16; i++) {
            codes [2 * i] = (float) (int8_t) (words [1 + i] & 0xff);
            codes [2 * i + 1] = (float) (int8_t) (words [1 + i] >> 8);
        }
XINF_CUDA_UNROLL
        for (int t = 0; t < XINF_CUDA_DOT_TOKENS; t++)
            if ((size_t) t < count) {
                const float *x = in + t * cols + b * 32;
                float sum = 0;
XINF_CUDA_UNROLL
                for (int part = 0; part < 4; part++)
                    sum = s_dot_chunk8 (codes + 8 * part, x + 8 * part, sum);
                acc [t] = fmaf (scale, sum, acc [t]);
            }
    }
}

//  One lane's share of row . in [t] for t < count (at most
//  XINF_CUDA_DOT_TOKENS), added to acc; xinf_cuda_dot_wide said yes.
XINF_CUDA_BOTH void
xinf_cuda_dot_lane (int dtype, const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane,
                    unsigned lanes, float *acc)
{
    if (dtype == XINF_DTYPE_Q8_0)
        s_dot_lane_q8 (row, cols, in, count, lane, lanes, acc);
    else
        s_dot_lane_16 (dtype == XINF_DTYPE_BF16, row, cols, in, count, lane, lanes, acc);
}

#endif
