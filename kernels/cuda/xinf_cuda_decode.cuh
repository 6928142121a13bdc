/*  xinf_cuda_decode: the weights of every type of xinf_dtype.h, one
    element at a time, exactly the floats of ggml's dequantizers (the
    layouts are spelled out in xinf_dtype.h); the product kernels without
    a kernel of their own for a type (Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4, the
    legacy 32-weight types) take each weight from here. Host and device
    functions:
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

//  Q2_K and Q3_K: the unsigned code of weight j (0 .. 255): Q2_K 0..3,
//  Q3_K 0..7 (hmask's bit as bit 2).
XINF_CUDA_BOTH int
s_k23_code (const uint8_t *qs, const uint8_t *hmask, int j)
{
    int h = j / 128, g = j % 128 / 32, l = j % 32;
    int code = (qs [32 * h + l] >> (2 * g)) & 3;
    if (hmask)
        code |= ((hmask [l] >> (4 * h + g)) & 1) << 2;
    return code;
}

//  Weight j of a Q2_K block: (d * sc) * q - dmin * m, as ggml.
XINF_CUDA_BOTH float
s_q2_k (const uint8_t *block, int j)
{
    int packed = block [j / 16];
    return s_mul_sub_mul (s_half (block + 80) * (float) (packed & 15), (float) s_k23_code (block + 16, NULL, j),
                          s_half (block + 82), (float) (packed >> 4));
}

//  Weight j of a Q3_K block: (d * (sc - 32)) * (q - 4), its 6-bit scale
//  sc from the low nibbles (groups 0..7) or high (8..15) of bytes 96 ..
//  103 and two bits of bytes 104 .. 107.
XINF_CUDA_BOTH float
s_q3_k (const uint8_t *block, int j)
{
    int k = j / 16;
    const uint8_t *scales = block + 96;
    int sc = (k < 8 ? scales [k] & 15 : scales [k - 8] >> 4) | ((scales [8 + k % 4] >> (2 * (k / 4))) & 3) << 4;
    float scale = s_half (block + 108) * (float) (sc - 32);
    return scale * (float) (s_k23_code (block + 32, block, j) - 4);
}

//  Entry 'nibble' of a table of 16 signed bytes held in two constants (low:
//  entries 0..7, high: 8..15): an array indexed by a nibble would live
//  on the kernel's stack.
XINF_CUDA_BOTH float
s_table_value (uint64_t low, uint64_t high, int nibble)
{
    return (float) (int8_t) ((nibble < 8 ? low : high) >> (8 * (nibble & 7)));
}

//  IQ4_NL's value of nibble 'nibble' (xinf_dtype.h's XINF_IQ4_VALUES).
XINF_CUDA_BOTH float
s_iq4_value (int nibble)
{
    return s_table_value (0xf6eaddcfbfad9881ull, 0x7159453526190d01ull, nibble);
}

//  Weight j of an IQ4_XS block: (d * (ls - 32)) * K [nibble].
XINF_CUDA_BOTH float
s_iq4_xs (const uint8_t *block, int j)
{
    int g = j / 32;
    int ls = ((block [4 + g / 2] >> (4 * (g % 2))) & 15) | (((block [2] | block [3] << 8) >> (2 * g)) & 3) << 4;
    float scale = s_half (block) * (float) (ls - 32);
    return scale * s_iq4_value (s_nibble (block + 8 + 16 * g, j % 32));
}

//  MXFP4's value of nibble 'nibble' (xinf_dtype.h's XINF_MXFP4_VALUES).
XINF_CUDA_BOTH float
s_mxfp4_value (int nibble)
{
    return s_table_value (0x0c08060403020100ull, 0xf4f8fafcfdfeff00ull, nibble);
}

//  Weight i of an MXFP4 block: 2^(e - 128) * M [nibble] (ggml's
//  e8m0_to_fp32_half, subnormal for e < 2).
XINF_CUDA_BOTH float
s_mxfp4 (const uint8_t *block, int i)
{
    uint8_t e = block [0];
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t) (e - 1) << 23;
    float scale;
    memcpy (&scale, &bits, sizeof scale);
    return scale * s_mxfp4_value (s_nibble (block + 1, i));
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
        case XINF_DTYPE_Q2_K:
            return s_q2_k (row + k / 256 * 84, (int) (k % 256));
        case XINF_DTYPE_Q3_K:
            return s_q3_k (row + k / 256 * 110, (int) (k % 256));
        case XINF_DTYPE_IQ4_NL: {
            const uint8_t *block = row + k / 32 * 18;
            return s_half (block) * s_iq4_value (s_nibble (block + 2, i));
        }
        case XINF_DTYPE_IQ4_XS:
            return s_iq4_xs (row + k / 256 * 136, (int) (k % 256));
        case XINF_DTYPE_MXFP4:
            return s_mxfp4 (row + k / 32 * 17, i);
        default: {                   //  Q6_K
            const uint8_t *block = row + k / 256 * 210;
            return s_q6_k (block, (int) (k % 256));
        }
    }
}

#endif
