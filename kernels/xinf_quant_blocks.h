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

//  Q4_0 18 bytes, Q4_1 20, Q5_0 22, Q5_1 24: one group.
static inline void
xinf_qb_legacy (xinf_dtype_t dtype, const uint8_t *block, int16_t *q, float *a, float *c)
{
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

//  A K block (Q4_K, Q5_K, Q6_K) for the integer products: the group scales
//  folded into the weights, wq [i] = q_i * sc (Q4_K, Q5_K: |wq| <= 1953)
//  or (q_i - 32) * scale (Q6_K: <= 4096), the mins m [8] (0 for Q6_K) and
//  the block's d and dmin (0 for Q6_K): weight i = d * wq [i] - dmin *
//  m [i / 32].
static inline void
xinf_qb_k_fold (xinf_dtype_t dtype, const uint8_t *block, int16_t *wq, int32_t *m, float *d, float *dmin)
{
    float a [8], c [8];
    if (dtype == XINF_DTYPE_Q6_K) {
        xinf_qb_q6_k (block, wq, 32, a, c, 1);
        *d = a [0];
        *dmin = 0;
        for (int g = 0; g < 8; g++)
            m [g] = 0;
        return;
    }
    xinf_qb_k45 (block, dtype == XINF_DTYPE_Q5_K ? block + 16 : NULL, block + (dtype == XINF_DTYPE_Q5_K ? 48 : 16),
                 wq, 32, a, c, 1);
    *d = xinf_qb_half (block);
    *dmin = xinf_qb_half (block + 2);
    for (int g = 0; g < 8; g++) {
        int sc, mn;
        xinf_qb_scale_min (block + 4, g, &sc, &mn);
        m [g] = mn;
        for (int i = 0; i < 32; i++)
            wq [32 * g + i] = (int16_t) (wq [32 * g + i] * sc);
    }
}

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
            default:
                xinf_qb_legacy (dtype, block, q + b * q_stride, a + b * ac_stride, c + b * ac_stride);
                break;
        }
}

#endif
