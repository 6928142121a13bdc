/*  test_kernels.h: the kernel tests' helpers (random data in each dtype)
    beside the assertion kit, tests/test_assert.h (no runtime or ZeroMQ:
    the kernels stand alone).  */
#ifndef TEST_KERNELS_H_INCLUDED
#define TEST_KERNELS_H_INCLUDED

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../test_assert.h"
#include "xinf_dtype.h"

//  A small deterministic generator for test data.
static inline uint64_t
test_random (uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

//  Uniform in [-1, 1).
static inline float
test_uniform (uint64_t *state)
{
    return (float) ((double) test_random (state) / 2147483648.0 * 2 - 1);
}

static inline float *
test_floats (size_t count, uint64_t *state)
{
    float *values = malloc ((count ? count : 1) * sizeof (float));
    CHECK (values);
    for (size_t i = 0; i < count; i++)
        values [i] = test_uniform (state);
    return values;
}

//  Random weights in 'dtype'; *decoded gets their exact float values.
static inline void *
test_weights (xinf_dtype_t dtype, size_t rows, size_t cols, uint64_t *state, float **decoded)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    uint8_t *data = malloc (rows * row_bytes + 1);
    float *values = test_floats (rows * cols, state);
    CHECK (data);
    for (size_t r = 0; r < rows; r++) {
        float *row = values + r * cols;
        uint8_t *out = data + r * row_bytes;
        if (dtype == XINF_DTYPE_F32)
            memcpy (out, row, cols * 4);
        else
        if (dtype == XINF_DTYPE_F16 || dtype == XINF_DTYPE_BF16)
            for (size_t i = 0; i < cols; i++) {
                uint16_t half = dtype == XINF_DTYPE_F16 ? xinf_dtype_f32_to_fp16 (row [i]) : xinf_dtype_f32_to_bf16 (row [i]);
                memcpy (out + 2 * i, &half, 2);
                row [i] = dtype == XINF_DTYPE_F16 ? xinf_dtype_fp16_to_f32 (half) : xinf_dtype_bf16_to_f32 (half);
            }
        else
            for (size_t b = 0; b < cols / 32; b++) {
                float *block = row + b * 32, top = 0;
                uint8_t *bytes = out + b * 34;
                for (int i = 0; i < 32; i++)
                    top = fabsf (block [i]) > top ? fabsf (block [i]) : top;
                uint16_t half = xinf_dtype_f32_to_fp16 (top / 127);
                float d = xinf_dtype_fp16_to_f32 (half);
                memcpy (bytes, &half, 2);
                for (int i = 0; i < 32; i++) {
                    float q = d ? roundf (block [i] / d) : 0;
                    q = q > 127 ? 127 : q < -127 ? -127 : q;
                    bytes [2 + i] = (uint8_t) (int8_t) q;
                    block [i] = d * q;
                }
            }
    }
    *decoded = values;
    return data;
}

//  x as the Q8_0 matvecs with integer activations see it (finite x): per
//  block of 32, d = max |x| / 32767, q = x / d rounded half to even,
//  clamped to +-32767; out = q d. The tests' own quantizer (for their
//  double-precision references).
static inline void
test_q8_act_dequantize (const float *x, size_t cols, float *out)
{
    for (size_t at = 0; at + 32 <= cols; at += 32) {
        float top = 0;
        for (int i = 0; i < 32; i++)
            top = fabsf (x [at + i]) > top ? fabsf (x [at + i]) : top;
        float d = top / 32767.0f;
        for (int i = 0; i < 32; i++) {
            float q = d == 0 ? 0 : nearbyintf (x [at + i] / d);
            q = q > 32767 ? 32767 : q < -32767 ? -32767 : q;
            out [at + i] = q * d;
        }
    }
}

#endif
