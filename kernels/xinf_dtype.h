/*  xinf_dtype: the weight element types the kernels understand, with the
    byte layouts of GGUF/ggml, and scalar conversions of the 16-bit float
    formats.

    F32, F16 (IEEE half), BF16 (bfloat16): one element after another.
    Q8_0: blocks of 32 weights, each { uint16 fp16 scale d; int8 q [32] }
    = 34 bytes; weight = d * q. Rows of Q8_0 hold a multiple of 32 columns.

    Float to 16 bits rounds to nearest even; NaN stays NaN, overflow
    becomes infinity. Pure bit manipulation, the same on every machine.
*/
#ifndef XINF_DTYPE_H_INCLUDED
#define XINF_DTYPE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    XINF_DTYPE_F32,
    XINF_DTYPE_F16,
    XINF_DTYPE_BF16,
    XINF_DTYPE_Q8_0
} xinf_dtype_t;

#define XINF_Q8_0_BLOCK_SIZE 32             //  weights a block
#define XINF_Q8_0_BLOCK_BYTES 34            //  bytes a block

//  Bytes of one row of 'cols' elements; 0 for an unknown type or for Q8_0
//  when cols is not a multiple of 32.
size_t xinf_dtype_row_bytes (xinf_dtype_t dtype, size_t cols);

//  "F32", "F16", "BF16", "Q8_0"; "?" for an unknown value.
const char *xinf_dtype_name (xinf_dtype_t dtype);

static inline float
xinf_dtype_bits_to_f32 (uint32_t bits)
{
    float value;
    memcpy (&value, &bits, sizeof value);
    return value;
}

static inline uint32_t
xinf_dtype_f32_to_bits (float value)
{
    uint32_t bits;
    memcpy (&bits, &value, sizeof bits);
    return bits;
}

static inline float
xinf_dtype_fp16_to_f32 (uint16_t half)
{
    uint32_t sign = (uint32_t) (half & 0x8000) << 16;
    uint32_t exponent = (half >> 10) & 0x1f;
    uint32_t mantissa = half & 0x3ff;
    if (exponent == 0x1f)
        return xinf_dtype_bits_to_f32 (sign | 0x7f800000 | (mantissa << 13));
    if (exponent == 0) {
        float value = (float) mantissa * 5.9604644775390625e-8f;     //  2^-24
        return sign ? -value : value;
    }
    return xinf_dtype_bits_to_f32 (sign | ((exponent + 112) << 23) | (mantissa << 13));
}

static inline uint16_t
xinf_dtype_f32_to_fp16 (float value)
{
    uint32_t bits = xinf_dtype_f32_to_bits (value);
    uint16_t sign = (uint16_t) ((bits >> 16) & 0x8000);
    uint32_t magnitude = bits & 0x7fffffff;
    if (magnitude > 0x7f800000)                  //  NaN: keep it quiet
        return sign | 0x7e00 | ((magnitude >> 13) & 0x3ff);
    if (magnitude >= 0x477ff000)                 //  rounds to 65536 or more
        return sign | 0x7c00;
    if (magnitude <= 0x33000000)                 //  at most 2^-25: to zero
        return sign;
    if (magnitude < 0x38800000) {                //  a subnormal half
        uint32_t exponent = magnitude >> 23;
        uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exponent;
        uint32_t quotient = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rest > half || (rest == half && (quotient & 1)))
            quotient++;
        return sign | (uint16_t) quotient;
    }
    uint32_t rounded = magnitude + 0xfff + ((magnitude >> 13) & 1);
    return sign | (uint16_t) ((rounded - 0x38000000) >> 13);
}

static inline float
xinf_dtype_bf16_to_f32 (uint16_t brain)
{
    return xinf_dtype_bits_to_f32 ((uint32_t) brain << 16);
}

static inline uint16_t
xinf_dtype_f32_to_bf16 (float value)
{
    uint32_t bits = xinf_dtype_f32_to_bits (value);
    if ((bits & 0x7fffffff) > 0x7f800000)
        return (uint16_t) ((bits >> 16) | 0x40);
    return (uint16_t) ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

#endif
