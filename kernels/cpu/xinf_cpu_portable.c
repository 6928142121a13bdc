/*  xinf_cpu_portable: the inner loops in plain C, for every CPU. Eight
    partial sums per dot product, which compilers can keep in one vector
    register; the order of the sums is fixed.
*/
#include "xinf_cpu_kern.h"

#include <stdint.h>

#define LANES 8

static float
s_sum_lanes (const float *acc)
{
    return ((acc [0] + acc [4]) + (acc [1] + acc [5])) + ((acc [2] + acc [6]) + (acc [3] + acc [7]));
}

static float
s_dot (const float *a, const float *b, size_t n)
{
    float acc [LANES] = { 0 };
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int lane = 0; lane < LANES; lane++)
            acc [lane] += a [i + lane] * b [i + lane];
    float sum = s_sum_lanes (acc);
    for (; i < n; i++)
        sum += a [i] * b [i];
    return sum;
}

static float
s_dot_f16 (const uint16_t *w, const float *x, size_t n)
{
    float acc [LANES] = { 0 };
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int lane = 0; lane < LANES; lane++)
            acc [lane] += xinf_dtype_fp16_to_f32 (w [i + lane]) * x [i + lane];
    float sum = s_sum_lanes (acc);
    for (; i < n; i++)
        sum += xinf_dtype_fp16_to_f32 (w [i]) * x [i];
    return sum;
}

static float
s_dot_bf16 (const uint16_t *w, const float *x, size_t n)
{
    float acc [LANES] = { 0 };
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int lane = 0; lane < LANES; lane++)
            acc [lane] += xinf_dtype_bf16_to_f32 (w [i + lane]) * x [i + lane];
    float sum = s_sum_lanes (acc);
    for (; i < n; i++)
        sum += xinf_dtype_bf16_to_f32 (w [i]) * x [i];
    return sum;
}

static float
s_q8_scale (const uint8_t *block)
{
    return xinf_dtype_fp16_to_f32 ((uint16_t) (block [0] | block [1] << 8));
}

//  Per block: d * (sum of q * x), the sum in LANES partial sums.
static float
s_dot_q8_0 (const uint8_t *w, const float *x, size_t n)
{
    float sum = 0;
    for (size_t b = 0; b < n / XINF_Q8_0_BLOCK_SIZE; b++, w += XINF_Q8_0_BLOCK_BYTES, x += XINF_Q8_0_BLOCK_SIZE) {
        const int8_t *q = (const int8_t *) (w + 2);
        float acc [LANES] = { 0 };
        for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE; i += LANES)
            for (int lane = 0; lane < LANES; lane++)
                acc [lane] += (float) q [i + lane] * x [i + lane];
        sum += s_q8_scale (w) * s_sum_lanes (acc);
    }
    return sum;
}

static void
s_rows (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
        const float *x, float *y)
{
    const uint8_t *row = w;
    for (size_t r = 0; r < count; r++, row += row_bytes)
        switch (dtype) {
            case XINF_DTYPE_F32: y [r] = s_dot ((const float *) row, x, cols); break;
            case XINF_DTYPE_F16: y [r] = s_dot_f16 ((const uint16_t *) row, x, cols); break;
            case XINF_DTYPE_BF16: y [r] = s_dot_bf16 ((const uint16_t *) row, x, cols); break;
            case XINF_DTYPE_Q8_0: y [r] = s_dot_q8_0 (row, x, cols); break;
            default: break;          //  the quantized types: xinf_cpu_qk
        }
}

static void
s_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
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
                out [i] = s_q8_scale (block) * (float) (int8_t) block [2 + i % XINF_Q8_0_BLOCK_SIZE];
            }
            break;
        default:
            xinf_dtype_to_f32 (dtype, row, cols, out);
            break;
    }
}

//  Vectors a row meets at a time in s_rows_multi.
#define GROUP 4

//  Weight i of a float-type row as a float.
static float
s_weight (xinf_dtype_t dtype, const uint8_t *row, size_t i)
{
    const uint16_t *halves = (const uint16_t *) row;
    if (dtype == XINF_DTYPE_F16)
        return xinf_dtype_fp16_to_f32 (halves [i]);
    if (dtype == XINF_DTYPE_BF16)
        return xinf_dtype_bf16_to_f32 (halves [i]);
    return ((const float *) row) [i];
}

//  y [j * y_stride] = row . x [j] for j < n <= GROUP, F32, F16 or BF16:
//  the arithmetic of s_dot, each 8 weights widened once for the n vectors.
static void
s_floats_multi (xinf_dtype_t dtype, const uint8_t *row, size_t cols, const float *x, size_t n, float *y,
                size_t y_stride)
{
    float acc [GROUP][LANES] = { { 0 } }, w [LANES];
    size_t i = 0;
    for (; i + LANES <= cols; i += LANES) {
        for (int lane = 0; lane < LANES; lane++)
            w [lane] = s_weight (dtype, row, i + lane);
        for (size_t j = 0; j < n; j++)
            for (int lane = 0; lane < LANES; lane++)
                acc [j][lane] += w [lane] * x [j * cols + i + lane];
    }
    for (size_t j = 0; j < n; j++) {
        float sum = s_sum_lanes (acc [j]);
        for (size_t k = i; k < cols; k++)
            sum += s_weight (dtype, row, k) * x [j * cols + k];
        y [j * y_stride] = sum;
    }
}

//  As s_floats_multi for a Q8_0 row: the arithmetic of s_dot_q8_0.
static void
s_q8_0_multi (const uint8_t *row, size_t cols, const float *x, size_t n, float *y, size_t y_stride)
{
    float sum [GROUP] = { 0 }, w [LANES];
    for (size_t b = 0; b < cols / XINF_Q8_0_BLOCK_SIZE; b++, row += XINF_Q8_0_BLOCK_BYTES) {
        float acc [GROUP][LANES] = { { 0 } };
        const float *block_x = x + b * XINF_Q8_0_BLOCK_SIZE;
        for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE; i += LANES) {
            for (int lane = 0; lane < LANES; lane++)
                w [lane] = (float) (int8_t) row [2 + i + lane];
            for (size_t j = 0; j < n; j++)
                for (int lane = 0; lane < LANES; lane++)
                    acc [j][lane] += w [lane] * block_x [j * cols + i + lane];
        }
        for (size_t j = 0; j < n; j++)
            sum [j] += s_q8_scale (row) * s_sum_lanes (acc [j]);
    }
    for (size_t j = 0; j < n; j++)
        y [j * y_stride] = sum [j];
}

//  Each row times the vectors GROUP at a time.
static void
s_rows_multi (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
              const float *x, size_t n, float *y, size_t y_stride, size_t after)
{
    for (size_t r = 0; r < count; r++) {
        const uint8_t *row = (const uint8_t *) w + r * row_bytes;
        for (size_t j = 0; j < n; j += GROUP) {
            size_t vectors = n - j < GROUP ? n - j : GROUP;
            if (dtype == XINF_DTYPE_Q8_0)
                s_q8_0_multi (row, cols, x + j * cols, vectors, y + j * y_stride + r, y_stride);
            else
                s_floats_multi (dtype, row, cols, x + j * cols, vectors, y + j * y_stride + r, y_stride);
        }
    }
}

static void
s_tile (const float *const *w, const float *const *x, size_t cols, float *out)
{
    for (int r = 0; r < XINF_CPU_TILE_ROWS; r++)
        for (int j = 0; j < XINF_CPU_TILE_COLS; j++)
            out [r * XINF_CPU_TILE_COLS + j] = s_dot (w [r], x [j], cols);
}

static void
s_axpy (float *y, float a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y [i] += a * x [i];
}

//  The rows widened XINF_CPU_AXPY_ROWS by XINF_CPU_AXPY_COLS at a time,
//  each output's sums in row order as s_axpy's.
static void
s_axpy_rows (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
             const float *a, size_t a_stride, size_t n, float *y)
{
    float wide [XINF_CPU_AXPY_ROWS][XINF_CPU_AXPY_COLS];
    for (size_t first = 0; first < count; first += XINF_CPU_AXPY_ROWS) {
        size_t rows = count - first < XINF_CPU_AXPY_ROWS ? count - first : XINF_CPU_AXPY_ROWS;
        for (size_t from = 0; from < cols; from += XINF_CPU_AXPY_COLS) {
            size_t width = cols - from < XINF_CPU_AXPY_COLS ? cols - from : XINF_CPU_AXPY_COLS;
            for (size_t r = 0; r < rows; r++)
                s_to_f32 (dtype, (const uint8_t *) w + (first + r) * row_bytes + xinf_dtype_row_bytes (dtype, from),
                          width, wide [r]);
            for (size_t j = 0; j < n; j++)
                for (size_t r = 0; r < rows; r++)
                    s_axpy (y + j * cols + from, a [j * a_stride + first + r], wide [r], width);
        }
    }
}

const xinf_cpu_kern_t xinf_cpu_kern_portable = {
    "portable", s_rows, s_rows_multi, s_to_f32, s_tile, NULL, NULL, s_dot, s_axpy, s_axpy_rows
};
