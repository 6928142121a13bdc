/*  xinf_fp16: float <-> F16 / BF16 conversions and Q8_0 blocks.  */
#include "xinf_fp16.h"
#include "xinf_dtype.h"

#include <math.h>
#include <string.h>

static uint32_t
s_bits (float value)
{
    uint32_t bits;
    memcpy (&bits, &value, sizeof bits);
    return bits;
}

static float
s_float (uint32_t bits)
{
    float value;
    memcpy (&value, &bits, sizeof value);
    return value;
}

uint16_t
xinf_fp32_to_fp16 (float value)
{
    uint32_t bits = s_bits (value);
    uint16_t sign = (uint16_t) ((bits >> 16) & 0x8000);
    uint32_t exponent = (bits >> 23) & 0xff;
    uint32_t mantissa = bits & 0x7fffff;
    if (exponent == 0xff)               //  infinity or NaN (keep it a NaN)
        return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >> 13) : 0);
    int32_t half_exponent = (int32_t) exponent - 127 + 15;
    if (half_exponent >= 31)            //  overflow
        return sign | 0x7c00;
    if (half_exponent <= 0) {           //  subnormal half, or zero
        if (half_exponent < -10)
            return sign;
        mantissa |= 0x800000;
        uint32_t shift = (uint32_t) (14 - half_exponent);
        uint32_t half = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1);
        uint32_t midway = 1u << (shift - 1);
        if (rest > midway || (rest == midway && (half & 1)))
            half++;
        return sign | (uint16_t) half;
    }
    uint32_t half = ((uint32_t) half_exponent << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
        half++;                         //  may carry into the exponent: fine
    return sign | (uint16_t) half;
}

float
xinf_fp16_to_fp32 (uint16_t bits)
{
    uint32_t sign = (uint32_t) (bits & 0x8000) << 16;
    uint32_t exponent = (bits >> 10) & 0x1f;
    uint32_t mantissa = bits & 0x3ff;
    if (exponent == 0x1f)
        return s_float (sign | 0x7f800000 | (mantissa << 13));
    if (exponent == 0) {
        float magnitude = ldexpf ((float) mantissa, -24);
        return sign ? -magnitude : magnitude;
    }
    return s_float (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

uint16_t
xinf_fp32_to_bf16 (float value)
{
    uint32_t bits = s_bits (value);
    if ((bits & 0x7fffffff) > 0x7f800000)   //  NaN: keep it quiet and a NaN
        return (uint16_t) ((bits >> 16) | 0x40);
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t) (bits >> 16);
}

float
xinf_bf16_to_fp32 (uint16_t bits)
{
    return s_float ((uint32_t) bits << 16);
}

void
xinf_quantize_q8_0 (const float *values, size_t count, uint8_t *blocks)
{
    xinf_dtype_from_f32 (XINF_DTYPE_Q8_0, values, count, blocks);
}

void
xinf_dequantize_q8_0 (const uint8_t *blocks, size_t count, float *values)
{
    for (size_t block = 0; block < count / XINF_Q8_0_BLOCK; block++) {
        const uint8_t *in = blocks + block * XINF_Q8_0_BYTES;
        float scale = xinf_fp16_to_fp32 ((uint16_t) (in [0] | (in [1] << 8)));
        for (int index = 0; index < XINF_Q8_0_BLOCK; index++)
            values [block * XINF_Q8_0_BLOCK + index] = scale * (float) (int8_t) in [2 + index];
    }
}
