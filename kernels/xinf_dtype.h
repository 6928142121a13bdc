/*  xinf_dtype: the weight element types the kernels understand, with the
    byte layouts of GGUF/ggml, and scalar conversions of the 16-bit float
    formats.

    F32, F16 (IEEE half), BF16 (bfloat16): one element after another.
    Q8_0: blocks of 32 weights, each { uint16 fp16 scale d; int8 q [32] }
    = 34 bytes; weight = d * q. Rows of Q8_0 hold a multiple of 32 columns.

    The other quantized types, as ggml lays them out (all numbers little
    endian, "fp16" an IEEE half; xinf_quant.h decodes them):
    Q4_0  32 weights, 18 bytes { fp16 d; u8 qs [16] }: weight i < 16 is
          d * ((qs [i] & 15) - 8), weight 16 + i is d * ((qs [i] >> 4) - 8).
    Q4_1  32 weights, 20 bytes { fp16 d, m; u8 qs [16] }: as Q4_0 without
          the - 8, then + m.
    Q5_0  32 weights, 22 bytes { fp16 d; u32 qh; u8 qs [16] }: the nibbles
          of Q4_0 with bit i of qh as bit 4 of weight i, d * (q - 16).
    Q5_1  32 weights, 24 bytes { fp16 d, m; u32 qh; u8 qs [16] }: d * q + m.
    Q4_K  256 weights, 144 bytes { fp16 d, dmin; u8 scales [12]; u8 qs [128] }:
          8 groups of 32 with 6-bit scales sc and mins m packed in 'scales';
          weight = d * sc * q - dmin * m, q a nibble (bytes 32 k .. 32 k + 31
          hold groups 2 k (low nibbles) and 2 k + 1 (high)).
    Q5_K  256 weights, 176 bytes { fp16 d, dmin; u8 scales [12]; u8 qh [32];
          u8 qs [128] }: Q4_K with bit 4 of weight l of groups 2 k and
          2 k + 1 in bits 2 k and 2 k + 1 of qh [l].
    Q6_K  256 weights, 210 bytes { u8 ql [128]; u8 qh [64]; i8 scales [16];
          fp16 d }: 16 groups of 16, weight = d * scale * (q - 32), q 6 bits
          (4 in ql, 2 in qh).
    Q2_K  256 weights, 84 bytes { u8 scales [16]; u8 qs [64]; fp16 d, dmin }:
          16 groups of 16, group k with scale sc = scales [k] & 15 and min
          m = scales [k] >> 4; weight = d * sc * q - dmin * m, q 2 bits.
    Q3_K  256 weights, 110 bytes { u8 hmask [32]; u8 qs [64]; u8 scales [12];
          fp16 d }: 16 groups of 16 with 6-bit scales sc packed in
          'scales'; weight = d * (sc - 32) * (q - 4), q 3 bits (2 in qs,
          the third in hmask).
    Q2_K and Q3_K: weight i = 128 h + 32 j + l (h < 2, j < 4, l < 32) has
          its low 2 bits in bits 2 j, 2 j + 1 of qs [32 h + l], (Q3_K) its
          bit 2 in bit 4 h + j of hmask [l], and group 8 h + 2 j + l / 16.
    IQ4_NL 32 weights, 18 bytes { fp16 d; u8 qs [16] }: Q4_0's nibbles,
          weight = d * K [nibble], K the 16 non-linear values of
          XINF_IQ4_VALUES (-127 .. 113).
    IQ4_XS 256 weights, 136 bytes { fp16 d; u16 scales_h; u8 scales_l [4];
          u8 qs [128] }: 8 groups of 32, group g's 6-bit scale ls: its low
          4 bits the nibble g % 2 of scales_l [g / 2], its top 2 bits bits
          2 g, 2 g + 1 of scales_h; weight = (d * (ls - 32)) * K [nibble],
          group g's nibbles those of IQ4_NL in qs [16 g .. 16 g + 15].
    MXFP4 32 weights, 17 bytes { u8 e; u8 qs [16] } (OCP microscaling FP4,
          GPT-OSS's experts): Q4_0's nibbles, weight = 2^(e - 128) *
          M [nibble], M the doubled E2M1 values of XINF_MXFP4_VALUES
          (0 .. 12 and their negatives; ggml's kvalues_mxfp4 with
          e8m0_to_fp32_half).
    Rows of the 32-weight types hold a multiple of 32 columns, rows of the
    K types (and IQ4_XS) a multiple of 256.

    Float to 16 bits rounds to nearest even; NaN stays NaN, overflow
    becomes infinity. Pure bit manipulation, the same on every machine.
*/
#ifndef XINF_DTYPE_H_INCLUDED
#define XINF_DTYPE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    XINF_DTYPE_F32,
    XINF_DTYPE_F16,
    XINF_DTYPE_BF16,
    XINF_DTYPE_Q8_0,
    XINF_DTYPE_Q4_0,
    XINF_DTYPE_Q4_1,
    XINF_DTYPE_Q5_0,
    XINF_DTYPE_Q5_1,
    XINF_DTYPE_Q4_K,
    XINF_DTYPE_Q5_K,
    XINF_DTYPE_Q6_K,
    XINF_DTYPE_Q2_K,
    XINF_DTYPE_Q3_K,
    XINF_DTYPE_IQ4_NL,
    XINF_DTYPE_IQ4_XS,
    XINF_DTYPE_MXFP4
} xinf_dtype_t;

//  Types there are (the enum's values are 0 .. XINF_DTYPE_COUNT - 1).
#define XINF_DTYPE_COUNT 16

//  The values of IQ4_NL's and IQ4_XS's nibbles (ggml's kvalues_iq4nl).
#define XINF_IQ4_VALUES { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 }

//  The values of MXFP4's nibbles: E2M1 (sign, 2 exponent bits, 1 mantissa
//  bit) doubled, as ggml's kvalues_mxfp4.
#define XINF_MXFP4_VALUES { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 }

#define XINF_Q8_0_BLOCK_SIZE 32             //  weights a block
#define XINF_Q8_0_BLOCK_BYTES 34            //  bytes a block

//  Bytes of one row of 'cols' elements; 0 for an unknown type or for a
//  block type when cols is not a multiple of its block.
size_t xinf_dtype_row_bytes (xinf_dtype_t dtype, size_t cols);

//  Weights a block of dtype holds (1 for F32, F16, BF16; 32; 256) and its
//  bytes (4, 2, 2 for the float types); 0 for an unknown value.
size_t xinf_dtype_block_size (xinf_dtype_t dtype);
size_t xinf_dtype_block_bytes (xinf_dtype_t dtype);

//  Whether dtype is one of the quantized block types past Q8_0 (Q4_0 ..
//  Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4: xinf_quant.h).
bool xinf_dtype_is_quant (xinf_dtype_t dtype);

//  "F32", "F16", "BF16", "Q8_0", "Q4_0", ..., "IQ4_NL", "IQ4_XS", "MXFP4"; "?"
//  for an unknown
//  value.
const char *xinf_dtype_name (xinf_dtype_t dtype);

//  out [cols] = one row of dtype as floats, cols a multiple of the block;
//  exactly the values ggml's dequantizers give (xinf_quant.h).
void xinf_dtype_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out);

//  row = cols floats as dtype, for the types xinf writes (the paged KV
//  cache, model files): F32, F16 and BF16 rounded to nearest even, Q8_0
//  as ggml quantizes it (d = max |x| / 127 as fp16, q = round (x / d)),
//  MXFP4 as ggml's reference quantizer (xinf_dtype.c), cols a multiple of
//  its block. False for another type.
bool xinf_dtype_from_f32 (xinf_dtype_t dtype, const float *x, size_t cols, void *row);

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
