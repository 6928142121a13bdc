/*  xinf_cpu_kern: the inner loops behind xinf_cpu_ops, one table per
    instruction set (portable C, AVX2, AVX-512), picked at run time.
    Private to kernels/cpu.

    Each function's result depends only on its inputs and the table, never
    on the thread that runs it.
*/
#ifndef XINF_CPU_KERN_H_INCLUDED
#define XINF_CPU_KERN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "xinf_dtype.h"

//  Rows a matvec kernel takes at a time; matvec tasks are whole groups
//  where they can be.
#define XINF_CPU_ROW_GROUP 4

//  Rows and x vectors of the matmul tile.
#define XINF_CPU_TILE_ROWS 4
#define XINF_CPU_TILE_COLS 2

//  x vectors a matmul panel takes at most, and the multiple of vectors its
//  transposed x is padded to.
#define XINF_CPU_PANEL_VECTORS 64
#define XINF_CPU_PANEL_PAD 16

//  Rows the matmul blocks come in where a panel kernel runs them (the
//  panels' 6-row tiles and the 4-row tile both fit whole).
#define XINF_CPU_PANEL_ROWS 12

//  Rows a 'rows_multi' call takes at most.
#define XINF_CPU_MULTI_ROWS 4

typedef struct {
    const char *name;
    //  y [r] = row r . x for r < count, row r at w + r * row_bytes; each
    //  y [r] depends on row r and x only, not on count or r.
    void (*rows) (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                  const float *x, float *y);
    //  y [j * y_stride + r] = row r . x [j] for r < count <= MULTI_ROWS,
    //  j < n, x [j] at x + j * cols: for every (r, j) bit for bit what
    //  'rows' gives row r with x [j]. Each piece of weights is widened
    //  once for several vectors and read from memory once; of the 'after'
    //  rows that follow these (up to 2 MULTI_ROWS matter), some are
    //  prefetched meanwhile.
    void (*rows_multi) (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                        const float *x, size_t n, float *y, size_t y_stride, size_t after);
    //  out = one row as floats.
    void (*to_f32) (xinf_dtype_t dtype, const void *row, size_t cols, float *out);
    //  out [r * TILE_COLS + j] = w [r] . x [j], float rows of cols elements
    //  (the matmul of a table without 'panel'; NULL where it has one).
    void (*tile) (const float *const *w, const float *const *x, size_t cols, float *out);
    //  y [j * y_stride + r] = w [r] . x [j] for r < count, j < n <= 64:
    //  w 'count' float rows of cols elements (row-major), xt the x
    //  vectors transposed, xt [i * width + j] = x [j][i], width n rounded
    //  up to 16, 64-byte aligned, zero-padded. NULL: the table has none
    //  (matmul uses 'tile'). The ahead_bytes at 'ahead' (the weights of
    //  the next block; NULL: none) are prefetched into the cache meanwhile.
    void (*panel) (const float *w, size_t count, size_t cols, const float *xt, size_t width, size_t n,
                   float *y, size_t y_stride, const void *ahead, size_t ahead_bytes);
    //  xt = x [n][cols] transposed for 'panel' in groups of 64 vectors:
    //  group g at xt + 64 g cols, xt [i * width + j] = x [64 g + j][i],
    //  width the group's vector count rounded up to 16, zero-padded.
    //  Set where 'panel' is.
    void (*pack) (const float *x, size_t n, size_t cols, float *xt);
    float (*dot) (const float *a, const float *b, size_t n);
    //  y += a * x.
    void (*axpy) (float *y, float a, const float *x, size_t n);
    //  y [j * cols + i] += a [j * a_stride + r] * row r [i] for r < count
    //  in order, j < n, row r at w + r * row_bytes (F32, F16, BF16, Q8_0;
    //  cols a multiple of its block): each row widened once for the n
    //  outputs, every y [j] bit for bit what 'axpy' of the widened rows one
    //  after another gives (attention's weighted sum of values).
    void (*axpy_rows) (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                       const float *a, size_t a_stride, size_t n, float *y);
} xinf_cpu_kern_t;

//  Rows and columns axpy_rows widens at a time (the columns a multiple of
//  every block size it takes).
#define XINF_CPU_AXPY_ROWS 8
#define XINF_CPU_AXPY_COLS 256

extern const xinf_cpu_kern_t xinf_cpu_kern_portable;

//  The AVX2 + FMA + F16C table, NULL where the CPU or compiler lacks it.
const xinf_cpu_kern_t *xinf_cpu_kern_avx2 (void);

//  The AVX2 table with AVX-512F Q8_0 matvec rows, NULL where the CPU or
//  compiler lacks them.
const xinf_cpu_kern_t *xinf_cpu_kern_avx512 (void);

//  The panel kernels of the AVX2 and AVX-512 tables (xinf_cpu_simd_gemm.c):
//  the same results bit for bit.
void xinf_cpu_panel_avx2 (const float *w, size_t count, size_t cols, const float *xt, size_t width, size_t n,
                          float *y, size_t y_stride, const void *ahead, size_t ahead_bytes);
void xinf_cpu_panel_avx512 (const float *w, size_t count, size_t cols, const float *xt, size_t width, size_t n,
                            float *y, size_t y_stride, const void *ahead, size_t ahead_bytes);

void xinf_cpu_pack_avx2 (const float *x, size_t n, size_t cols, float *xt);

//  The rows_multi kernels of the AVX2 and AVX-512 tables
//  (xinf_cpu_simd_multi.c): each the arithmetic of its table's 'rows'.
void xinf_cpu_rows_multi_avx2 (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                               const float *x, size_t n, float *y, size_t y_stride, size_t after);
void xinf_cpu_rows_multi_avx512 (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                                 const float *x, size_t n, float *y, size_t y_stride, size_t after);

//  gate = silu (gate) * up (xinf_cpu_silu.c): portable C, and AVX2 (the
//  same bits; only where the SIMD tables are compiled).
void xinf_cpu_silu_mul_portable (float *gate, const float *up, size_t n);
void xinf_cpu_silu_mul_avx2 (float *gate, const float *up, size_t n);
//  gate = gelu (gate) * up, GELU's tanh form, alike.
void xinf_cpu_gelu_mul_portable (float *gate, const float *up, size_t n);
void xinf_cpu_gelu_mul_avx2 (float *gate, const float *up, size_t n);
//  x = e^(x - top) (xinf_cpu_silu.c's e^t), the same bits in both.
void xinf_cpu_exp_shift_portable (float *x, size_t n, float top);
void xinf_cpu_exp_shift_avx2 (float *x, size_t n, float top);

//  The table in use.
const xinf_cpu_kern_t *xinf_cpu_kern (void);

#endif
