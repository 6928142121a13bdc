/*  xinf_quant: the portable decoders (xinf_quant_blocks.h) and the rows
    of the quantized types as floats.  */
#include "xinf_quant.h"
#include "xinf_quant_blocks.h"

void
xinf_quant_decode (xinf_dtype_t dtype, const void *row, size_t first, size_t count, int16_t *q,
                   size_t q_stride, float *a, float *c, size_t ac_stride)
{
    xinf_qb_decode (dtype, row, first, count, q, q_stride, a, c, ac_stride);
}

bool
xinf_quant_to_f32_k (xinf_dtype_t dtype, const void *row, size_t blocks, float *out)
{
    void (*block_f32) (const uint8_t *, float *) = dtype == XINF_DTYPE_Q6_K ? xinf_qb_q6_k_f32
                                                 : dtype == XINF_DTYPE_Q2_K ? xinf_qb_q2_k_f32
                                                 : dtype == XINF_DTYPE_Q3_K ? xinf_qb_q3_k_f32 : NULL;
    size_t bytes = xinf_dtype_block_bytes (dtype);
    for (size_t b = 0; b < blocks && block_f32; b++)
        block_f32 ((const uint8_t *) row + b * bytes, out + b * 256);
    return block_f32 != NULL;
}

void
xinf_quant_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    size_t block_size = xinf_dtype_block_size (dtype);
    size_t blocks = block_size ? cols / block_size : 0;
    size_t groups = block_size / XINF_QUANT_GROUP;
    bool mins = dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1 || dtype == XINF_DTYPE_Q4_K
                || dtype == XINF_DTYPE_Q5_K;
    if (xinf_quant_to_f32_k (dtype, row, blocks, out))
        return;
    for (size_t b = 0; b < blocks; b++) {
        int16_t q [8][XINF_QUANT_GROUP];
        float a [8], c [8];
        xinf_qb_decode (dtype, row, b, 1, q [0], XINF_QUANT_GROUP, a, c, 1);
        for (size_t g = 0; g < groups; g++, out += XINF_QUANT_GROUP)
            for (int i = 0; i < XINF_QUANT_GROUP; i++) {
                float value = (float) q [g][i] * a [g];
                out [i] = mins ? value + c [g] : value;
            }
    }
}
