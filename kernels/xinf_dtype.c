/*  xinf_dtype: row sizes, block sizes and names of the weight element
    types, and their rows as floats.  */
#include "xinf_dtype.h"
#include "xinf_quant.h"

#include <math.h>

typedef struct {
    const char *name;
    size_t block_size, block_bytes;
} s_type_t;

static const s_type_t s_types [XINF_DTYPE_COUNT] = {
    [XINF_DTYPE_F32] = { "F32", 1, 4 },
    [XINF_DTYPE_F16] = { "F16", 1, 2 },
    [XINF_DTYPE_BF16] = { "BF16", 1, 2 },
    [XINF_DTYPE_Q8_0] = { "Q8_0", XINF_Q8_0_BLOCK_SIZE, XINF_Q8_0_BLOCK_BYTES },
    [XINF_DTYPE_Q4_0] = { "Q4_0", 32, 18 },
    [XINF_DTYPE_Q4_1] = { "Q4_1", 32, 20 },
    [XINF_DTYPE_Q5_0] = { "Q5_0", 32, 22 },
    [XINF_DTYPE_Q5_1] = { "Q5_1", 32, 24 },
    [XINF_DTYPE_Q4_K] = { "Q4_K", 256, 144 },
    [XINF_DTYPE_Q5_K] = { "Q5_K", 256, 176 },
    [XINF_DTYPE_Q6_K] = { "Q6_K", 256, 210 },
    [XINF_DTYPE_Q2_K] = { "Q2_K", 256, 84 },
    [XINF_DTYPE_Q3_K] = { "Q3_K", 256, 110 },
    [XINF_DTYPE_IQ4_NL] = { "IQ4_NL", 32, 18 },
    [XINF_DTYPE_IQ4_XS] = { "IQ4_XS", 256, 136 },
    [XINF_DTYPE_MXFP4] = { "MXFP4", 32, 17 },
};

static const s_type_t *
s_type (xinf_dtype_t dtype)
{
    return (unsigned) dtype < XINF_DTYPE_COUNT ? &s_types [dtype] : NULL;
}

size_t
xinf_dtype_row_bytes (xinf_dtype_t dtype, size_t cols)
{
    const s_type_t *type = s_type (dtype);
    if (!type || cols % type->block_size)
        return 0;
    return cols / type->block_size * type->block_bytes;
}

size_t
xinf_dtype_block_size (xinf_dtype_t dtype)
{
    const s_type_t *type = s_type (dtype);
    return type ? type->block_size : 0;
}

size_t
xinf_dtype_block_bytes (xinf_dtype_t dtype)
{
    const s_type_t *type = s_type (dtype);
    return type ? type->block_bytes : 0;
}

bool
xinf_dtype_is_quant (xinf_dtype_t dtype)
{
    return dtype >= XINF_DTYPE_Q4_0 && dtype <= XINF_DTYPE_MXFP4;
}

const char *
xinf_dtype_name (xinf_dtype_t dtype)
{
    const s_type_t *type = s_type (dtype);
    return type ? type->name : "?";
}

void
xinf_dtype_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    const uint16_t *halves = row;
    const uint8_t *blocks = row;
    switch (dtype) {
        case XINF_DTYPE_F32:
            memcpy (out, row, cols * sizeof (float));
            break;
        case XINF_DTYPE_F16:
            for (size_t i = 0; i < cols; i++)
                out [i] = xinf_dtype_fp16_to_f32 (halves [i]);
            break;
        case XINF_DTYPE_BF16:
            for (size_t i = 0; i < cols; i++)
                out [i] = xinf_dtype_bf16_to_f32 (halves [i]);
            break;
        case XINF_DTYPE_Q8_0:
            for (size_t i = 0; i < cols; i++) {
                const uint8_t *block = blocks + i / XINF_Q8_0_BLOCK_SIZE * XINF_Q8_0_BLOCK_BYTES;
                float d = xinf_dtype_fp16_to_f32 ((uint16_t) (block [0] | block [1] << 8));
                out [i] = d * (float) (int8_t) block [2 + i % XINF_Q8_0_BLOCK_SIZE];
            }
            break;
        default:
            xinf_quant_to_f32 (dtype, row, cols, out);
            break;
    }
}

//  One Q8_0 block of 32 floats.
static void
s_q8_0_block (const float *x, uint8_t *block)
{
    float amax = 0;
    for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE; i++)
        if (fabsf (x [i]) > amax)
            amax = fabsf (x [i]);
    float d = amax / 127.0f, inverse = d ? 1.0f / d : 0.0f;
    uint16_t half = xinf_dtype_f32_to_fp16 (d);
    block [0] = (uint8_t) (half & 0xff);
    block [1] = (uint8_t) (half >> 8);
    for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE; i++)
        block [2 + i] = (uint8_t) (int8_t) roundf (x [i] * inverse);
}

//  One MXFP4 block of 32 floats, as ggml's reference quantizer: the shared
//  exponent puts max |x| in the top two of the values' binades (e = floor
//  (log2 max) + 125, clamped to a byte), each weight the nearest value
//  (the first of equals).
static void
s_mxfp4_block (const float *x, uint8_t *block)
{
    static const int8_t values [16] = XINF_MXFP4_VALUES;
    float amax = 0;
    for (int i = 0; i < 32; i++)
        if (fabsf (x [i]) > amax)
            amax = fabsf (x [i]);
    float exponent = amax > 0 && isfinite (amax) ? floorf (log2f (amax)) + 125 : 0;
    uint8_t e = (uint8_t) (exponent < 0 ? 0 : exponent > 254 ? 254 : exponent);
    float d = ldexpf (1.0f, (int) e - 128);
    block [0] = e;
    for (int i = 0; i < 16; i++)
        block [1 + i] = 0;
    for (int i = 0; i < 32; i++) {
        int best = 0;
        float best_error = fabsf ((float) values [0] * d - x [i]);
        for (int k = 1; k < 16; k++) {
            float error = fabsf ((float) values [k] * d - x [i]);
            if (error < best_error) {
                best = k;
                best_error = error;
            }
        }
        block [1 + i % 16] |= (uint8_t) (best << (i < 16 ? 0 : 4));
    }
}

bool
xinf_dtype_from_f32 (xinf_dtype_t dtype, const float *x, size_t cols, void *row)
{
    uint16_t *halves = row;
    switch (dtype) {
        case XINF_DTYPE_F32:
            memcpy (row, x, cols * sizeof (float));
            return true;
        case XINF_DTYPE_F16:
            for (size_t i = 0; i < cols; i++)
                halves [i] = xinf_dtype_f32_to_fp16 (x [i]);
            return true;
        case XINF_DTYPE_BF16:
            for (size_t i = 0; i < cols; i++)
                halves [i] = xinf_dtype_f32_to_bf16 (x [i]);
            return true;
        case XINF_DTYPE_Q8_0:
            for (size_t b = 0; b < cols / XINF_Q8_0_BLOCK_SIZE; b++)
                s_q8_0_block (x + b * XINF_Q8_0_BLOCK_SIZE, (uint8_t *) row + b * XINF_Q8_0_BLOCK_BYTES);
            return true;
        case XINF_DTYPE_MXFP4:
            for (size_t b = 0; b < cols / 32; b++)
                s_mxfp4_block (x + b * 32, (uint8_t *) row + b * 17);
            return true;
        default:
            return false;
    }
}
