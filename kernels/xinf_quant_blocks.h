/*  xinf_quant_blocks: the decoders of xinf_quant.h as static inline
    functions, so that each kernel set compiles them for its own
    instruction set (the results are integers and exact float products:
    the same in every set). Private to kernels.
*/
#ifndef XINF_QUANT_BLOCKS_H_INCLUDED
#define XINF_QUANT_BLOCKS_H_INCLUDED

#include <string.h>

#include "xinf_quant.h"

static inline float
xinf_qb_half (const uint8_t *bytes)
{
    return xinf_dtype_fp16_to_f32 ((uint16_t) (bytes [0] | bytes [1] << 8));
}

static inline uint32_t
xinf_qb_u32 (const uint8_t *bytes)
{
    return (uint32_t) bytes [0] | (uint32_t) bytes [1] << 8 | (uint32_t) bytes [2] << 16 | (uint32_t) bytes [3] << 24;
}

//  The 32 nibbles of qs [16] (low nibbles first) plus bias, with bit i of
//  high (if any) as bit 4 of weight i.
static inline void
xinf_qb_nibbles (const uint8_t *qs, uint32_t high, int bias, int16_t *q)
{
    for (int i = 0; i < 16; i++) {
        q [i] = (int16_t) ((qs [i] & 15) + bias);
        q [16 + i] = (int16_t) ((qs [i] >> 4) + bias);
    }
    for (int i = 0; i < 32; i++)
        q [i] = (int16_t) (q [i] + (int16_t) (((high >> i) & 1) << 4));
}

//  The 32 nibbles of qs [16] (low nibbles first) as entries of a table of
//  16 values (IQ4_NL's, MXFP4's).
static inline void
xinf_qb_table_values (const int8_t *values, const uint8_t *qs, int16_t *q)
{
    for (int i = 0; i < 16; i++) {
        q [i] = values [qs [i] & 15];
        q [16 + i] = values [qs [i] >> 4];
    }
}

static const int8_t xinf_qb_iq4_table [16] = XINF_IQ4_VALUES;
static const int8_t xinf_qb_mxfp4_table [16] = XINF_MXFP4_VALUES;

//  The 32 nibbles of qs [16] as IQ4_NL's values.
static inline void
xinf_qb_iq4_values (const uint8_t *qs, int16_t *q)
{
    xinf_qb_table_values (xinf_qb_iq4_table, qs, q);
}

//  MXFP4's scale of exponent byte e, 2^(e - 128) (ggml's
//  e8m0_to_fp32_half; subnormal for e < 2).
static inline float
xinf_qb_e8m0_half (uint8_t e)
{
    return xinf_dtype_bits_to_f32 (e < 2 ? 0x00200000u << e : (uint32_t) (e - 1) << 23);
}

//  Q4_0 18 bytes, Q4_1 20, Q5_0 22, Q5_1 24, IQ4_NL 18, MXFP4 17: one
//  group.
static inline void
xinf_qb_legacy (xinf_dtype_t dtype, const uint8_t *block, int16_t *q, float *a, float *c)
{
    if (dtype == XINF_DTYPE_MXFP4) {
        *a = xinf_qb_e8m0_half (block [0]);
        *c = 0;
        xinf_qb_table_values (xinf_qb_mxfp4_table, block + 1, q);
        return;
    }
    *a = xinf_qb_half (block);
    switch (dtype) {
        case XINF_DTYPE_Q4_0:
            *c = 0;
            xinf_qb_nibbles (block + 2, 0, -8, q);
            break;
        case XINF_DTYPE_Q4_1:
            *c = xinf_qb_half (block + 2);
            xinf_qb_nibbles (block + 4, 0, 0, q);
            break;
        case XINF_DTYPE_Q5_0:
            *c = 0;
            xinf_qb_nibbles (block + 6, xinf_qb_u32 (block + 2), -16, q);
            break;
        case XINF_DTYPE_IQ4_NL:
            *c = 0;
            xinf_qb_iq4_values (block + 2, q);
            break;
        default:                     //  Q5_1
            *c = xinf_qb_half (block + 2);
            xinf_qb_nibbles (block + 8, xinf_qb_u32 (block + 4), 0, q);
            break;
    }
}

//  The 6-bit scale and min of group j of a Q4_K / Q5_K block.
static inline void
xinf_qb_scale_min (const uint8_t *scales, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = scales [j] & 63;
        *m = scales [j + 4] & 63;
    }
    else {
        *sc = (scales [j + 4] & 15) | ((scales [j - 4] >> 6) << 4);
        *m = (scales [j + 4] >> 4) | ((scales [j] >> 6) << 4);
    }
}

//  Q4_K (qh NULL) or Q5_K: the 8 groups of a block.
static inline void
xinf_qb_k45 (const uint8_t *block, const uint8_t *qh, const uint8_t *qs, int16_t *q, size_t q_stride,
             float *a, float *c, size_t ac_stride)
{
    float d = xinf_qb_half (block), dmin = xinf_qb_half (block + 2);
    for (int g = 0; g < 8; g++) {
        int sc, m;
        xinf_qb_scale_min (block + 4, g, &sc, &m);
        a [g * ac_stride] = d * (float) sc;
        c [g * ac_stride] = -(dmin * (float) m);
    }
    for (int k = 0; k < 4; k++) {
        int16_t *low = q + 2 * k * q_stride, *high = low + q_stride;
        const uint8_t *bytes = qs + 32 * k;
        for (int l = 0; l < 32; l++) {
            low [l] = (int16_t) (bytes [l] & 15);
            high [l] = (int16_t) (bytes [l] >> 4);
        }
        if (qh)
            for (int l = 0; l < 32; l++) {
                low [l] = (int16_t) (low [l] + (((qh [l] >> (2 * k)) & 1) << 4));
                high [l] = (int16_t) (high [l] + (((qh [l] >> (2 * k + 1)) & 1) << 4));
            }
    }
}

//  The 6-bit scale of group g (of 8) of an IQ4_XS block, 0..63.
static inline int
xinf_qb_iq4_xs_scale (const uint8_t *block, int g)
{
    int high = ((block [2] | block [3] << 8) >> (2 * g)) & 3;
    return ((block [4 + g / 2] >> (4 * (g % 2))) & 15) | high << 4;
}

//  IQ4_XS: the 8 groups of a block, q the nibbles' values, a = d * (ls -
//  32) as ggml's dl (an exact product), c = 0.
static inline void
xinf_qb_iq4_xs (const uint8_t *block, int16_t *q, size_t q_stride, float *a, float *c, size_t ac_stride)
{
    float d = xinf_qb_half (block);
    for (int g = 0; g < 8; g++) {
        xinf_qb_iq4_values (block + 8 + 16 * g, q + g * q_stride);
        a [g * ac_stride] = d * (float) (xinf_qb_iq4_xs_scale (block, g) - 32);
        c [g * ac_stride] = 0;
    }
}

//  Q6_K: the 8 groups of a block, each group's two scales folded into q.
static inline void
xinf_qb_q6_k (const uint8_t *block, int16_t *q, size_t q_stride, float *a, float *c, size_t ac_stride)
{
    const uint8_t *ql = block, *qh = block + 128;
    const int8_t *scales = (const int8_t *) (block + 192);
    float d = xinf_qb_half (block + 208);
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 4; g++) {
            int group = 4 * h + g;
            int16_t *out = q + group * q_stride;
            const uint8_t *low = ql + 64 * h + (g & 1) * 32, *high = qh + 32 * h;
            int shift = (g >> 1) * 4;
            for (int l = 0; l < 32; l++) {
                int value = ((low [l] >> shift) & 15) | (((high [l] >> (2 * g)) & 3) << 4);
                out [l] = (int16_t) ((value - 32) * scales [8 * h + 2 * g + l / 16]);
            }
            a [group * ac_stride] = d;
            c [group * ac_stride] = 0;
        }
}

//  A Q6_K block as floats the way ggml computes them, (d * scale) * q:
//  the values of q * a, but a zero keeps the sign of d * scale.
static inline void
xinf_qb_q6_k_f32 (const uint8_t *block, float *out)
{
    const uint8_t *ql = block, *qh = block + 128;
    const int8_t *scales = (const int8_t *) (block + 192);
    float d = xinf_qb_half (block + 208);
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 4; g++) {
            const uint8_t *low = ql + 64 * h + (g & 1) * 32, *high = qh + 32 * h;
            int shift = (g >> 1) * 4;
            for (int l = 0; l < 32; l++) {
                int value = ((low [l] >> shift) & 15) | (((high [l] >> (2 * g)) & 3) << 4);
                out [128 * h + 32 * g + l] = d * (float) scales [8 * h + 2 * g + l / 16] * (float) (value - 32);
            }
        }
}

//  Q2_K and Q3_K: the unsigned code of weight i (Q2_K 0..3; Q3_K 0..7,
//  hmask's bit as bit 2).
static inline int
xinf_qb_k23_code (const uint8_t *qs, const uint8_t *hmask, int i)
{
    int h = i / 128, j = (i % 128) / 32, l = i % 32;
    int code = (qs [32 * h + l] >> (2 * j)) & 3;
    if (hmask)
        code |= ((hmask [l] >> (4 * h + j)) & 1) << 2;
    return code;
}

//  The 6-bit scale (0..63) of group k (of 16) of a Q3_K block.
static inline int
xinf_qb_q3_scale (const uint8_t *scales, int k)
{
    int low = k < 8 ? scales [k] & 15 : scales [k - 8] >> 4;
    int high = (scales [8 + k % 4] >> (2 * (k / 4))) & 3;
    return low | high << 4;
}

//  A Q2_K block (84 bytes) as floats the way ggml computes them:
//  (d * sc) * q - dmin * m per group of 16 (the products are exact).
static inline void
xinf_qb_q2_k_f32 (const uint8_t *block, float *out)
{
    float d = xinf_qb_half (block + 80), dmin = xinf_qb_half (block + 82);
    for (int i = 0; i < 256; i++) {
        int packed = block [i / 16];
        float scaled = d * (float) (packed & 15), min = dmin * (float) (packed >> 4);
        out [i] = scaled * (float) xinf_qb_k23_code (block + 16, NULL, i) - min;
    }
}

//  A Q3_K block (110 bytes) as floats the way ggml computes them:
//  (d * (sc - 32)) * (q - 4), so a zero has the sign of that product.
static inline void
xinf_qb_q3_k_f32 (const uint8_t *block, float *out)
{
    float d = xinf_qb_half (block + 108);
    for (int i = 0; i < 256; i++) {
        float scale = d * (float) (xinf_qb_q3_scale (block + 96, i / 16) - 32);
        out [i] = scale * (float) (xinf_qb_k23_code (block + 32, block, i) - 4);
    }
}

//  A K block (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS) for the integer
//  products: the scales folded into the weights, wq [i] = q_i * sc (Q4_K,
//  Q5_K: |wq| <= 1953; Q2_K: <= 45), (q_i - 32) * scale (Q6_K: <= 4096),
//  (q_i - 4) * (sc - 32) (Q3_K: <= 128) or K [q_i] * (ls - 32) (IQ4_XS:
//  <= 4064), the mins of the 16 groups of 16 m [16] (Q4_K, Q5_K: a group
//  of 32's min in both its halves; 0 for Q6_K, Q3_K and IQ4_XS) and the
//  block's d and dmin (0 for Q6_K, Q3_K and IQ4_XS): weight i =
//  d * wq [i] - dmin * m [i / 16].
static inline void
xinf_qb_k_fold (xinf_dtype_t dtype, const uint8_t *block, int16_t *wq, int32_t *m, float *d, float *dmin)
{
    float a [8], c [8];
    for (int k = 0; k < 16; k++)
        m [k] = 0;
    *dmin = 0;
    if (dtype == XINF_DTYPE_Q6_K) {
        xinf_qb_q6_k (block, wq, 32, a, c, 1);
        *d = a [0];
        return;
    }
    if (dtype == XINF_DTYPE_Q3_K) {
        *d = xinf_qb_half (block + 108);
        for (int i = 0; i < 256; i++)
            wq [i] = (int16_t) ((xinf_qb_k23_code (block + 32, block, i) - 4) * (xinf_qb_q3_scale (block + 96, i / 16) - 32));
        return;
    }
    if (dtype == XINF_DTYPE_IQ4_XS) {
        *d = xinf_qb_half (block);
        for (int g = 0; g < 8; g++) {
            int scale = xinf_qb_iq4_xs_scale (block, g) - 32;
            xinf_qb_iq4_values (block + 8 + 16 * g, wq + 32 * g);
            for (int i = 0; i < 32; i++)
                wq [32 * g + i] = (int16_t) (wq [32 * g + i] * scale);
        }
        return;
    }
    if (dtype == XINF_DTYPE_Q2_K) {
        *d = xinf_qb_half (block + 80);
        *dmin = xinf_qb_half (block + 82);
        for (int k = 0; k < 16; k++)
            m [k] = block [k] >> 4;
        for (int i = 0; i < 256; i++)
            wq [i] = (int16_t) (xinf_qb_k23_code (block + 16, NULL, i) * (block [i / 16] & 15));
        return;
    }
    xinf_qb_k45 (block, dtype == XINF_DTYPE_Q5_K ? block + 16 : NULL, block + (dtype == XINF_DTYPE_Q5_K ? 48 : 16),
                 wq, 32, a, c, 1);
    *d = xinf_qb_half (block);
    *dmin = xinf_qb_half (block + 2);
    for (int g = 0; g < 8; g++) {
        int sc, mn;
        xinf_qb_scale_min (block + 4, g, &sc, &mn);
        m [2 * g] = m [2 * g + 1] = mn;
        for (int i = 0; i < 32; i++)
            wq [32 * g + i] = (int16_t) (wq [32 * g + i] * sc);
    }
}

//  Q3_K in groups of 32 (as Q6_K: the scales folded into q, a = d,
//  c = 0); Q2_K, whose mins change every 16 weights, has no such groups:
//  q = 0 and a = c = NaN (the products take both folded).
static inline void
xinf_qb_k23_groups (xinf_dtype_t dtype, const uint8_t *block, int16_t *q, size_t q_stride, float *a, float *c,
                    size_t ac_stride)
{
    int16_t wq [256] = { 0 };
    int32_t m [16];
    float nan = xinf_dtype_bits_to_f32 (0x7fc00000u), d = nan, dmin;
    if (dtype == XINF_DTYPE_Q3_K)
        xinf_qb_k_fold (dtype, block, wq, m, &d, &dmin);
    for (int g = 0; g < 8; g++) {
        for (int i = 0; i < 32; i++)
            q [g * q_stride + i] = wq [32 * g + i];
        a [g * ac_stride] = d;
        c [g * ac_stride] = dtype == XINF_DTYPE_Q3_K ? 0 : nan;
    }
}

//  The integer groups of xinf_quant.h.
static inline void
xinf_qb_decode (xinf_dtype_t dtype, const uint8_t *row, size_t first, size_t count, int16_t *q,
                size_t q_stride, float *a, float *c, size_t ac_stride)
{
    size_t bytes = xinf_dtype_block_bytes (dtype);
    const uint8_t *block = row + first * bytes;
    for (size_t b = 0; b < count; b++, block += bytes)
        switch (dtype) {
            case XINF_DTYPE_Q4_K:
                xinf_qb_k45 (block, NULL, block + 16, q + 8 * b * q_stride, q_stride, a + 8 * b * ac_stride,
                             c + 8 * b * ac_stride, ac_stride);
                break;
            case XINF_DTYPE_Q5_K:
                xinf_qb_k45 (block, block + 16, block + 48, q + 8 * b * q_stride, q_stride, a + 8 * b * ac_stride,
                             c + 8 * b * ac_stride, ac_stride);
                break;
            case XINF_DTYPE_Q6_K:
                xinf_qb_q6_k (block, q + 8 * b * q_stride, q_stride, a + 8 * b * ac_stride, c + 8 * b * ac_stride,
                              ac_stride);
                break;
            case XINF_DTYPE_Q2_K:
            case XINF_DTYPE_Q3_K:
                xinf_qb_k23_groups (dtype, block, q + 8 * b * q_stride, q_stride, a + 8 * b * ac_stride,
                                    c + 8 * b * ac_stride, ac_stride);
                break;
            case XINF_DTYPE_IQ4_XS:
                xinf_qb_iq4_xs (block, q + 8 * b * q_stride, q_stride, a + 8 * b * ac_stride, c + 8 * b * ac_stride,
                                ac_stride);
                break;
            default:
                xinf_qb_legacy (dtype, block, q + b * q_stride, a + b * ac_stride, c + b * ac_stride);
                break;
        }
}

#endif
