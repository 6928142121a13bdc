/*  xinf_fp16: portable conversions between float and the 16-bit float
    formats GGUF weights use: IEEE half (F16) and bfloat16 (BF16).

    Float to 16 bits rounds to nearest even; NaN stays NaN, overflow
    becomes infinity. Pure bit manipulation: no compiler extensions.
*/
#ifndef XINF_FP16_H_INCLUDED
#define XINF_FP16_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

uint16_t xinf_fp32_to_fp16 (float value);
float xinf_fp16_to_fp32 (uint16_t bits);
uint16_t xinf_fp32_to_bf16 (float value);
float xinf_bf16_to_fp32 (uint16_t bits);

//  Q8_0 (ggml type 8): blocks of 32 values as an fp16 scale d = max|x|/127
//  and 32 int8 q = round (x/d); 34 bytes a block. 'count' must be a
//  multiple of 32; 'blocks' holds count/32 * 34 bytes.
#define XINF_Q8_0_BLOCK 32
#define XINF_Q8_0_BYTES 34
void xinf_quantize_q8_0 (const float *values, size_t count, uint8_t *blocks);
void xinf_dequantize_q8_0 (const uint8_t *blocks, size_t count, float *values);

#endif
