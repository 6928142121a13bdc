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

typedef struct {
    const char *name;
    //  y [r] = row r . x for r < count, row r at w + r * row_bytes; each
    //  y [r] depends on row r and x only, not on count or r.
    void (*rows) (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                  const float *x, float *y);
    //  out = one row as floats.
    void (*to_f32) (xinf_dtype_t dtype, const void *row, size_t cols, float *out);
    //  out [r * TILE_COLS + j] = w [r] . x [j], float rows of cols elements.
    void (*tile) (const float *const *w, const float *const *x, size_t cols, float *out);
    float (*dot) (const float *a, const float *b, size_t n);
    //  y += a * x.
    void (*axpy) (float *y, float a, const float *x, size_t n);
} xinf_cpu_kern_t;

extern const xinf_cpu_kern_t xinf_cpu_kern_portable;

//  The AVX2 + FMA + F16C table, NULL where the CPU or compiler lacks it.
const xinf_cpu_kern_t *xinf_cpu_kern_avx2 (void);

//  The AVX2 table with AVX-512F Q8_0 matvec rows, NULL where the CPU or
//  compiler lacks them.
const xinf_cpu_kern_t *xinf_cpu_kern_avx512 (void);

//  The table in use.
const xinf_cpu_kern_t *xinf_cpu_kern (void);

#endif
