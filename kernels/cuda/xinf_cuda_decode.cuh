/*  xinf_cuda_decode: the weights of every type of xinf_dtype.h, one
    element at a time, exactly the floats of ggml's dequantizers (the
    layouts are spelled out in xinf_dtype.h). Host and device functions:
    the kernels use them, and xinf_cuda_decode_row runs them on the host
    so that a machine without a GPU tests them against the CPU's decoders.
    Private to kernels/cuda.
*/
#ifndef XINF_CUDA_DECODE_CUH_INCLUDED
#define XINF_CUDA_DECODE_CUH_INCLUDED

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "xinf_cuda_backend.h"

#define XINF_CUDA_BOTH static __host__ __device__ __forceinline__

XINF_CUDA_BOTH float
s_half (const uint8_t *bytes)
{
    __half_raw raw;
    raw.x = (unsigned short) (bytes [0] | bytes [1] << 8);
    return __half2float (__half (raw));
}

XINF_CUDA_BOTH uint32_t
s_u32 (const uint8_t *bytes)
{
    return (uint32_t) bytes [0] | (uint32_t) bytes [1] << 8 | (uint32_t) bytes [2] << 16 | (uint32_t) bytes [3] << 24;
}

//  a * b + c and a * b - c * d, each operation rounded on its own as the
//  CPU's C11 build rounds it: nvcc would fuse a product into the add.
XINF_CUDA_BOTH float
s_mul_add (float a, float b, float c)
{
#if defined (__CUDA_ARCH__)
    return __fadd_rn (__fmul_rn (a, b), c);
#else
    return a * b + c;
#endif
}

XINF_CUDA_BOTH float
s_mul_sub_mul (float a, float b, float c, float d)
{
#if defined (__CUDA_ARCH__)
    return __fsub_rn (__fmul_rn (a, b), __fmul_rn (c, d));
#else
    return a * b - c * d;
#endif
}

//  Nibble i (0 .. 31) of a 32-weight block's qs [16]: low nibbles first.
XINF_CUDA_BOTH int
s_nibble (const uint8_t *qs, int i)
{
    return i < 16 ? qs [i] & 15 : qs [i - 16] >> 4;
}

//  Weight j (0 .. 255) of a Q4_K (qh NULL) or Q5_K block.
//  The 6-bit scale and min of group g (0 .. 7) of a Q4_K or Q5_K block's
//  scales [12].
XINF_CUDA_BOTH void
s_k4_scale_min (const uint8_t *scales, int g, int *sc, int *m)
{
    if (g < 4) {
        *sc = scales [g] & 63;
        *m = scales [g + 4] & 63;
    }
    else {
        *sc = (scales [g + 4] & 15) | ((scales [g - 4] >> 6) << 4);
        *m = (scales [g + 4] >> 4) | ((scales [g] >> 6) << 4);
    }
}

XINF_CUDA_BOTH float
s_k45 (const uint8_t *block, const uint8_t *qh, const uint8_t *qs, int j)
{
    int g = j / 32, l = j % 32;
    int sc, m;
    s_k4_scale_min (block + 4, g, &sc, &m);
    uint8_t byte = qs [32 * (g / 2) + l];
    int q = g % 2 ? byte >> 4 : byte & 15;
    if (qh)
        q += ((qh [l] >> g) & 1) << 4;
    return s_mul_sub_mul (s_half (block) * (float) sc, (float) q, s_half (block + 2), (float) m);
}

//  Weight j (0 .. 255) of a Q6_K block, (d * scale) * q as ggml computes it.
XINF_CUDA_BOTH float
s_q6_k (const uint8_t *block, int j)
{
    int h = j / 128, g = j % 128 / 32, l = j % 32;
    const uint8_t *low = block + 64 * h + (g & 1) * 32, *high = block + 128 + 32 * h;
    int value = ((low [l] >> ((g >> 1) * 4)) & 15) | (((high [l] >> (2 * g)) & 3) << 4);
    int8_t scale = (int8_t) block [192 + 8 * h + 2 * g + l / 16];
    return s_half (block + 208) * (float) scale * (float) (value - 32);
}

//  Element k of a row of 'dtype'.
XINF_CUDA_BOTH float
s_weight (int dtype, const uint8_t *row, size_t k)
{
    int i = (int) (k % 32);
    switch (dtype) {
        case XINF_DTYPE_F32:
            return ((const float *) row) [k];
        case XINF_DTYPE_F16:
            return s_half (row + 2 * k);
        case XINF_DTYPE_BF16: {
            uint32_t bits = (uint32_t) (row [2 * k] | row [2 * k + 1] << 8) << 16;
            float value;
            memcpy (&value, &bits, sizeof value);
            return value;
        }
        case XINF_DTYPE_Q8_0: {
            const uint8_t *block = row + k / 32 * 34;
            return s_half (block) * (float) (int8_t) block [2 + i];
        }
        case XINF_DTYPE_Q4_0: {
            const uint8_t *block = row + k / 32 * 18;
            return s_half (block) * (float) (s_nibble (block + 2, i) - 8);
        }
        case XINF_DTYPE_Q4_1: {
            const uint8_t *block = row + k / 32 * 20;
            return s_mul_add (s_half (block), (float) s_nibble (block + 4, i), s_half (block + 2));
        }
        case XINF_DTYPE_Q5_0: {
            const uint8_t *block = row + k / 32 * 22;
            int q = s_nibble (block + 6, i) | (int) ((s_u32 (block + 2) >> i) & 1) << 4;
            return s_half (block) * (float) (q - 16);
        }
        case XINF_DTYPE_Q5_1: {
            const uint8_t *block = row + k / 32 * 24;
            int q = s_nibble (block + 8, i) | (int) ((s_u32 (block + 4) >> i) & 1) << 4;
            return s_mul_add (s_half (block), (float) q, s_half (block + 2));
        }
        case XINF_DTYPE_Q4_K: {
            const uint8_t *block = row + k / 256 * 144;
            return s_k45 (block, NULL, block + 16, (int) (k % 256));
        }
        case XINF_DTYPE_Q5_K: {
            const uint8_t *block = row + k / 256 * 176;
            return s_k45 (block, block + 16, block + 48, (int) (k % 256));
        }
        default: {                   //  Q6_K
            const uint8_t *block = row + k / 256 * 210;
            return s_q6_k (block, (int) (k % 256));
        }
    }
}

#endif
