/*  xinf_cpu_qk: the quantizer of x vectors into 15-bit groups and the
    portable kernel set of the quantized types' products
    (xinf_cpu_qk.h says the arithmetic).
*/
#include "xinf_cpu_qk.h"
#include "xinf_quant_blocks.h"

#include <pthread.h>
#include <string.h>

//  The CPU's tables, looked up once (a matvec asks for them each call).
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static const xinf_cpu_kern_t *s_kern_avx512;
static const xinf_cpu_qk_kern_t *s_qk_avx512, *s_qk_avx2;

static void
s_lookup (void)
{
    s_kern_avx512 = xinf_cpu_kern_avx512 ();
    s_qk_avx512 = xinf_cpu_qk_avx512 ();
    s_qk_avx2 = xinf_cpu_qk_avx2 ();
}

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_kern (const xinf_cpu_kern_t *kern)
{
    const xinf_cpu_qk_kern_t *qk = NULL;
    if (kern == &xinf_cpu_kern_portable)
        return &xinf_cpu_qk_portable;
    pthread_once (&s_once, s_lookup);
    if (kern == s_kern_avx512)
        qk = s_qk_avx512;
    if (!qk)
        qk = s_qk_avx2;
    return qk ? qk : &xinf_cpu_qk_portable;
}

//  ---- the quantizer ------------------------------------------------------------

//  Round half to even of |value| < 2^22 in the default rounding mode.
static inline float
s_round (float value)
{
    const float magic = 12582912.0f;             //  1.5 * 2^23
    return (value + magic) - magic;
}

void
xinf_cpu_qk_quantize_span (const float *x, size_t span, int16_t *q, float *d, int32_t *s)
{
    uint32_t top = 0;
    for (size_t i = 0; i < span; i++) {
        uint32_t magnitude = xinf_dtype_f32_to_bits (x [i]) & 0x7fffffffu;
        top = magnitude > top ? magnitude : top;
    }
    memset (q, 0, span * sizeof *q);
    memset (s, 0, span / XINF_QUANT_GROUP * sizeof *s);
    if (top >= 0x7f800000u) {        //  Inf or NaN
        *d = xinf_dtype_bits_to_f32 (0x7fc00000u);
        return;
    }
    float scale = xinf_dtype_bits_to_f32 (top) / (float) XINF_QK_ACT_MAX;
    *d = scale;
    if (scale == 0)
        return;
    for (size_t i = 0; i < span; i++) {
        float value = s_round (x [i] / scale);
        value = value < -XINF_QK_ACT_MAX ? -XINF_QK_ACT_MAX : value > XINF_QK_ACT_MAX ? XINF_QK_ACT_MAX : value;
        q [i] = (int16_t) value;
    }
    for (size_t i = 0; i < span; i++)
        s [i / XINF_QUANT_GROUP] += q [i];
}

void
xinf_cpu_qk_quantize_k (const float *x, int8_t *q, float *d, int16_t *s16, int16_t *s32)
{
    uint32_t top = 0;
    for (size_t i = 0; i < 256; i++) {
        uint32_t magnitude = xinf_dtype_f32_to_bits (x [i]) & 0x7fffffffu;
        top = magnitude > top ? magnitude : top;
    }
    memset (q, 0, 256);
    memset (s16, 0, 16 * sizeof *s16);
    memset (s32, 0, 8 * sizeof *s32);
    if (top >= 0x7f800000u) {        //  Inf or NaN
        *d = xinf_dtype_bits_to_f32 (0x7fc00000u);
        return;
    }
    float scale = xinf_dtype_bits_to_f32 (top) / (float) XINF_QK_K_ACT_MAX;
    *d = scale;
    if (scale == 0)
        return;
    for (size_t i = 0; i < 256; i++) {
        float value = s_round (x [i] / scale);
        value = value < -XINF_QK_K_ACT_MAX ? -XINF_QK_K_ACT_MAX : value > XINF_QK_K_ACT_MAX ? XINF_QK_K_ACT_MAX : value;
        q [i] = (int8_t) value;
        s16 [i / 16] = (int16_t) (s16 [i / 16] + q [i]);
    }
    for (int g = 0; g < 8; g++)
        s32 [g] = (int16_t) (s16 [2 * g] + s16 [2 * g + 1]);
}

void
xinf_cpu_qk_pack_k (xinf_qk_act_t *act)
{
    for (size_t g = 0; g < act->packs; g++)
        for (size_t b = 0; b < act->spans; b++) {
            uint8_t *out = act->packed + (g * act->spans + b) * XINF_QK_PACKED_BLOCK;
            for (size_t j = 0; j < XINF_QK_PACK; j++) {
                size_t vector = g * XINF_QK_PACK + j;
                const int8_t *q = act->q8 + vector * act->cols + b * 256;
                const int16_t *s16 = act->s16 + (vector * act->cols + b * 256) / 16;
                const int16_t *s32 = act->s32 + vector * act->groups + b * 8;
                for (int k = 0; k < 64; k++)
                    memcpy (out + XINF_QK_PACK_XQ + 64 * k + 4 * j, q + 4 * k, 4);
                memcpy (out + XINF_QK_PACK_D + 4 * j, act->d + vector * act->spans + b, 4);
                for (int p = 0; p < 4; p++)
                    memcpy (out + XINF_QK_PACK_S32 + 64 * p + 4 * j, s32 + 2 * p, 4);
                for (int p = 0; p < 8; p++)
                    memcpy (out + XINF_QK_PACK_S16 + 64 * p + 4 * j, s16 + 2 * p, 4);
            }
        }
}

void
xinf_cpu_qk_split (xinf_qk_act_t *act)
{
    size_t first = act->packs * XINF_QK_PACK;
    memset (act->split, 0, (act->n - first) * act->split_stride);
    for (size_t j = first; j < act->n; j++) {
        const int16_t *q = act->q + j * act->cols;
        int8_t *out = act->split + (j - first) * act->split_stride;
        for (size_t i = 0; i < act->cols; i++) {
            //  per 128 weights (4 groups): 16 bytes a group, weights
            //  0..15 of the 4 groups, then 16..31; their qh, then ql
            size_t r = i % 128, w = r % 32;
            int8_t *at = out + i / 128 * 256 + w / 16 * 64 + r / 32 * 16 + w % 16;
            at [0] = (int8_t) (q [i] >> 7);
            at [128] = (int8_t) (q [i] & 127);
        }
    }
}

//  ---- the portable kernel ---------------------------------------------------------

static void
s_decode (xinf_dtype_t dtype, const void *row, size_t first, size_t count, xinf_qk_chunk_t *chunk)
{
    xinf_qb_decode (dtype, row, first, count, chunk->q [0], XINF_QUANT_GROUP, chunk->a, chunk->c, 1);
}

static void
s_chunk (const xinf_qk_chunk_t *chunk, size_t groups, const xinf_qk_act_t *act, size_t first, float *acc)
{
    for (size_t j = 0; j < act->n; j++)
        for (size_t g = 0; g < groups; g++) {
            const int16_t *x = act->q + j * act->cols + (first + g) * XINF_QUANT_GROUP;
            int32_t isum = 0;
            for (int i = 0; i < XINF_QUANT_GROUP; i++)
                isum += (int32_t) chunk->q [g][i] * x [i];
            acc [j * XINF_QK_LANES + g] = xinf_qk_step (acc [j * XINF_QK_LANES + g], isum, chunk->a [g], chunk->c [g],
                                                        act->s [j * act->groups + first + g],
                                                        act->d [j * act->spans + first + g]);
        }
}

//  K rows one at a time, a block decoded into scratch once for every
//  vector.
static void
s_k_rows (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
          float *y, size_t y_stride, void *scratch)
{
    int16_t *wq = scratch;
    size_t block_bytes = xinf_dtype_block_bytes (dtype);
    for (size_t r = 0; r < count; r++) {
        const uint8_t *row = w + r * row_bytes;
        for (size_t j = 0; j < act->n; j++)
            y [j * y_stride + r] = 0.0f;
        for (size_t b = 0; b < act->spans; b++) {
            int32_t m [16];
            float d, dmin;
            xinf_qb_k_fold (dtype, row + b * block_bytes, wq, m, &d, &dmin);
            for (size_t j = 0; j < act->n; j++) {
                const int8_t *x = act->q8 + j * act->cols + b * 256;
                const int16_t *sums = act->s16 + (j * act->cols + b * 256) / 16;
                int32_t isum = 0, msum = 0;
                for (int i = 0; i < 256; i++)
                    isum += (int32_t) wq [i] * x [i];
                for (int k = 0; k < 16; k++)
                    msum += m [k] * sums [k];
                y [j * y_stride + r] = xinf_qk_k_step (y [j * y_stride + r], isum, msum, d, dmin,
                                                       act->d [j * act->spans + b]);
            }
        }
        for (size_t j = 0; j < act->n; j++)
            y [j * y_stride + r] = xinf_qk_canonical (y [j * y_stride + r]);
    }
}

const xinf_cpu_qk_kern_t xinf_cpu_qk_portable = {
    "portable", s_decode, s_chunk, xinf_quant_to_f32, s_k_rows, NULL, false, xinf_cpu_qk_quantize_k, false, NULL
};
