/*  xinf_cpu_simd_multi: the multi-vector matvec rows ('rows_multi') of the
    AVX2 and AVX-512 tables: up to four rows times n x vectors, every
    product bit for bit what the table's 'rows' gives that row and vector.

    A call widens its rows to floats once (the same conversions as 'rows':
    F16C, a 16-bit shift, sign extension; exact), then runs a register-
    blocked kernel over groups of J vectors, the widened rows staying in
    L1 while every vector passes. Each kernel keeps the lanes and the
    accumulator split of its table's dot product:

    F32, F16, BF16 (both tables): four 8-lane sums acc0..acc3 over the
    columns i = 32m + 8k, the whole 8s after the last 32 into acc0, then
    hsum ((acc0 + acc1) + (acc2 + acc3)) and the remaining columns one by
    one. Each accumulator's columns are one pass over the rows, so only
    R x J sums live in registers at a time; AVX-512 holds acc0|acc1 and
    acc2|acc3 in one 16-lane register each (the same lanes, in half the
    instructions).
    Q8_0: per block, sum = q [0..] * x, then FMA of the further parts, then
    acc = d * sum + acc, even blocks into acc0, odd blocks into acc1 (one
    pass each), then the sum of acc0 + acc1: 8 lanes with AVX2, 16 with
    AVX-512.
*/
#include "xinf_cpu_kern.h"

#if defined (__x86_64__) && defined (__GNUC__)

#include "xinf_cpu_simd.h"

#include <stdint.h>

#define S_AVX2 XINF_SIMD_AVX2
#define S_AVX512 XINF_SIMD_AVX512
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 16")

#define S_ROWS XINF_CPU_MULTI_ROWS

//  Most vectors a kernel call takes.
#define S_VECTORS 4

#define S_BLOCK XINF_Q8_0_BLOCK_SIZE

//  A kernel: rows w [0..S_ROWS) (Q8_0: their block scales d), vectors
//  x [j * cols] for j < n <= S_VECTORS: out [r][j] = row r . x [j].
typedef void (s_kernel_fn) (const float *const *w, const float *const *d, const float *x, size_t cols,
                            size_t n, float out [S_ROWS][S_VECTORS]);

//  ---- widening ------------------------------------------------------------------

//  One row as floats: F32 in place, else widened into 'out' as 'rows'
//  widens it (whole 8s by SIMD, the rest by the scalar conversion); Q8_0
//  without its scales, which go to 'd'.
S_AVX2 static const float *
s_widen (xinf_dtype_t dtype, const uint8_t *row, size_t cols, float *out, float *d)
{
    const uint16_t *halves = (const uint16_t *) row;
    size_t i = 0;
    switch (dtype) {
        case XINF_DTYPE_F32:
            return (const float *) row;
        case XINF_DTYPE_F16:
            for (; i + 8 <= cols; i += 8)
                _mm256_store_ps (out + i, xinf_simd_load_f16 (halves + i));
            for (; i < cols; i++)
                out [i] = xinf_dtype_fp16_to_f32 (halves [i]);
            break;
        case XINF_DTYPE_BF16:
            for (; i + 8 <= cols; i += 8)
                _mm256_store_ps (out + i, xinf_simd_load_bf16 (halves + i));
            for (; i < cols; i++)
                out [i] = xinf_dtype_bf16_to_f32 (halves [i]);
            break;
        case XINF_DTYPE_Q8_0:
            for (size_t b = 0; b < cols / S_BLOCK; b++, row += XINF_Q8_0_BLOCK_BYTES) {
                d [b] = _cvtsh_ss ((unsigned short) (row [0] | row [1] << 8));
                for (int part = 0; part < S_BLOCK; part += 8)
                    _mm256_store_ps (out + b * S_BLOCK + part, xinf_simd_load_i8 (row + 2 + part));
            }
            break;
    }
    return out;
}

//  The scalar columns after the whole 8s: sum += w [i] * x [i], as 'rows'.
static inline float
s_tail (float sum, const float *w, const float *x, size_t cols)
{
    for (size_t i = cols / 8 * 8; i < cols; i++)
        sum += w [i] * x [i];
    return sum;
}

//  ---- F32, F16, BF16 with AVX2 ------------------------------------------------

//  acc [r][j] = accumulator k of row r . x [j]: the columns 32m + 8k below
//  the last whole 32, for k = 0 also the whole 8s after them.
S_AVX2 static S_INLINE void
s_pass8 (const float *const *w, const float *x, size_t cols, size_t k, __m256 acc [S_ROWS][S_VECTORS],
         const int rows, const int n)
{
    size_t full = cols / 32 * 32, i = 8 * k;
    S_UNROLL for (int r = 0; r < rows; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            acc [r][j] = _mm256_setzero_ps ();
    for (; i < full; i += 32) {
        __m256 wv [S_ROWS];
        S_UNROLL for (int r = 0; r < rows; r++)
            wv [r] = _mm256_loadu_ps (w [r] + i);
        S_UNROLL for (int j = 0; j < n; j++) {
            __m256 xv = _mm256_loadu_ps (x + j * cols + i);
            S_UNROLL for (int r = 0; r < rows; r++)
                acc [r][j] = _mm256_fmadd_ps (wv [r], xv, acc [r][j]);
        }
    }
    for (; k == 0 && i + 8 <= cols; i += 8)
        S_UNROLL for (int j = 0; j < n; j++)
            S_UNROLL for (int r = 0; r < rows; r++)
                acc [r][j] = _mm256_fmadd_ps (_mm256_loadu_ps (w [r] + i), _mm256_loadu_ps (x + j * cols + i),
                                              acc [r][j]);
}

//  4 rows x n vectors of the AVX2 dot product, one accumulator a pass.
S_AVX2 static S_INLINE void
s_dot8 (const float *const *w, const float *x, size_t cols, float out [S_ROWS][S_VECTORS], const int n)
{
    __m256 acc [S_ROWS][S_VECTORS], low [S_ROWS][S_VECTORS], high [S_ROWS][S_VECTORS];
    s_pass8 (w, x, cols, 0, low, S_ROWS, n);
    s_pass8 (w, x, cols, 1, acc, S_ROWS, n);
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            low [r][j] = _mm256_add_ps (low [r][j], acc [r][j]);
    s_pass8 (w, x, cols, 2, high, S_ROWS, n);
    s_pass8 (w, x, cols, 3, acc, S_ROWS, n);
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++) {
            __m256 total = _mm256_add_ps (low [r][j], _mm256_add_ps (high [r][j], acc [r][j]));
            out [r][j] = s_tail (xinf_simd_hsum (total), w [r], x + j * cols, cols);
        }
}

S_AVX2 static void
s_floats_avx2 (const float *const *w, const float *const *d, const float *x, size_t cols, size_t n,
               float out [S_ROWS][S_VECTORS])
{
    if (n >= 2)
        s_dot8 (w, x, cols, out, 2);
    else
        s_dot8 (w, x, cols, out, 1);
}

//  ---- Q8_0 with AVX2 ------------------------------------------------------------

//  acc [r][j] = the sum over the blocks first, first + 2, ... of
//  d * (q . x), 8 lanes, the block's parts summed as 'rows' sums them.
S_AVX2 static S_INLINE void
s_q8_pass8 (const float *const *w, const float *const *d, const float *x, size_t cols, size_t first,
            __m256 acc [S_ROWS][S_VECTORS], const int rows, const int n)
{
    S_UNROLL for (int r = 0; r < rows; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            acc [r][j] = _mm256_setzero_ps ();
    for (size_t b = first; b < cols / S_BLOCK; b += 2) {
        size_t at = b * S_BLOCK;
        __m256 sum [S_ROWS][S_VECTORS];
        S_UNROLL for (int part = 0; part < S_BLOCK; part += 8) {
            __m256 wv [S_ROWS];
            S_UNROLL for (int r = 0; r < rows; r++)
                wv [r] = _mm256_loadu_ps (w [r] + at + part);
            S_UNROLL for (int j = 0; j < n; j++) {
                __m256 xv = _mm256_loadu_ps (x + j * cols + at + part);
                S_UNROLL for (int r = 0; r < rows; r++)
                    sum [r][j] = part == 0 ? _mm256_mul_ps (wv [r], xv) : _mm256_fmadd_ps (wv [r], xv, sum [r][j]);
            }
        }
        S_UNROLL for (int r = 0; r < rows; r++) {
            __m256 scale = _mm256_broadcast_ss (d [r] + b);
            S_UNROLL for (int j = 0; j < n; j++)
                acc [r][j] = _mm256_fmadd_ps (scale, sum [r][j], acc [r][j]);
        }
    }
}

//  2 rows x n vectors of the AVX2 Q8_0 dot product.
S_AVX2 static S_INLINE void
s_q8_dot8 (const float *const *w, const float *const *d, const float *x, size_t cols,
           float out [S_ROWS][S_VECTORS], const int n)
{
    __m256 even [S_ROWS][S_VECTORS], odd [S_ROWS][S_VECTORS];
    s_q8_pass8 (w, d, x, cols, 0, even, 2, n);
    s_q8_pass8 (w, d, x, cols, 1, odd, 2, n);
    S_UNROLL for (int r = 0; r < 2; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            out [r][j] = xinf_simd_hsum (_mm256_add_ps (even [r][j], odd [r][j]));
}

S_AVX2 static void
s_q8_avx2 (const float *const *w, const float *const *d, const float *x, size_t cols, size_t n,
           float out [S_ROWS][S_VECTORS])
{
    for (int r = 0; r < S_ROWS; r += 2) {
        if (n >= 2)
            s_q8_dot8 (w + r, d + r, x, cols, (float (*) [S_VECTORS]) out [r], 2);
        else
            s_q8_dot8 (w + r, d + r, x, cols, (float (*) [S_VECTORS]) out [r], 1);
    }
}

//  ---- F32, F16, BF16 with AVX-512 -------------------------------------------

//  acc [r][j] = accumulators 2k | 2k + 1 of row r . x [j] in 16 lanes: the
//  columns 32m + 16k below the last whole 32.
S_AVX512 static S_INLINE void
s_pass16 (const float *const *w, const float *x, size_t cols, size_t k, __m512 acc [S_ROWS][S_VECTORS],
          const int n)
{
    size_t full = cols / 32 * 32;
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            acc [r][j] = _mm512_setzero_ps ();
    for (size_t i = 16 * k; i < full; i += 32) {
        __m512 wv [S_ROWS];
        S_UNROLL for (int r = 0; r < S_ROWS; r++)
            wv [r] = _mm512_loadu_ps (w [r] + i);
        S_UNROLL for (int j = 0; j < n; j++) {
            __m512 xv = _mm512_loadu_ps (x + j * cols + i);
            S_UNROLL for (int r = 0; r < S_ROWS; r++)
                acc [r][j] = _mm512_fmadd_ps (wv [r], xv, acc [r][j]);
        }
    }
}

S_AVX512 static S_INLINE __m256
s_low (__m512 v)
{
    return _mm512_castps512_ps256 (v);
}

S_AVX512 static S_INLINE __m256
s_high (__m512 v)
{
    return _mm256_castpd_ps (_mm512_extractf64x4_pd (_mm512_castps_pd (v), 1));
}

//  4 rows x n vectors of the AVX2 dot product in 16 lanes: acc0 | acc1,
//  then the whole 8s into acc0, then acc2 | acc3.
S_AVX512 static S_INLINE void
s_dot16 (const float *const *w, const float *x, size_t cols, float out [S_ROWS][S_VECTORS], const int n)
{
    __m512 acc [S_ROWS][S_VECTORS];
    __m256 low [S_ROWS][S_VECTORS];
    size_t full = cols / 32 * 32;
    s_pass16 (w, x, cols, 0, acc, n);
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++) {
            __m256 acc0 = s_low (acc [r][j]);
            for (size_t i = full; i + 8 <= cols; i += 8)
                acc0 = _mm256_fmadd_ps (_mm256_loadu_ps (w [r] + i), _mm256_loadu_ps (x + j * cols + i), acc0);
            low [r][j] = _mm256_add_ps (acc0, s_high (acc [r][j]));
        }
    s_pass16 (w, x, cols, 1, acc, n);
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++) {
            __m256 high = _mm256_add_ps (s_low (acc [r][j]), s_high (acc [r][j]));
            out [r][j] = s_tail (xinf_simd_hsum (_mm256_add_ps (low [r][j], high)), w [r], x + j * cols, cols);
        }
}

S_AVX512 static void
s_floats_avx512 (const float *const *w, const float *const *d, const float *x, size_t cols, size_t n,
                 float out [S_ROWS][S_VECTORS])
{
    switch (n) {
        case 1: s_dot16 (w, x, cols, out, 1); break;
        case 2: s_dot16 (w, x, cols, out, 2); break;
        case 3: s_dot16 (w, x, cols, out, 3); break;
        default: s_dot16 (w, x, cols, out, 4); break;
    }
}

//  ---- Q8_0 with AVX-512 ---------------------------------------------------------

//  As s_q8_pass8 in 16 lanes: sum = q [0..16) x [0..16), then FMA of the
//  second half, then acc = d * sum + acc.
S_AVX512 static S_INLINE void
s_q8_pass16 (const float *const *w, const float *const *d, const float *x, size_t cols, size_t first,
             __m512 acc [S_ROWS][S_VECTORS], const int n)
{
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            acc [r][j] = _mm512_setzero_ps ();
    for (size_t b = first; b < cols / S_BLOCK; b += 2) {
        size_t at = b * S_BLOCK;
        __m512 w0 [S_ROWS], w1 [S_ROWS];
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            w0 [r] = _mm512_loadu_ps (w [r] + at);
            w1 [r] = _mm512_loadu_ps (w [r] + at + 16);
        }
        S_UNROLL for (int j = 0; j < n; j++) {
            __m512 x0 = _mm512_loadu_ps (x + j * cols + at), x1 = _mm512_loadu_ps (x + j * cols + at + 16);
            S_UNROLL for (int r = 0; r < S_ROWS; r++) {
                __m512 sum = _mm512_fmadd_ps (w1 [r], x1, _mm512_mul_ps (w0 [r], x0));
                acc [r][j] = _mm512_fmadd_ps (_mm512_set1_ps (d [r][b]), sum, acc [r][j]);
            }
        }
    }
}

//  4 rows x n vectors of the AVX-512 Q8_0 dot product.
S_AVX512 static S_INLINE void
s_q8_dot16 (const float *const *w, const float *const *d, const float *x, size_t cols,
            float out [S_ROWS][S_VECTORS], const int n)
{
    __m512 even [S_ROWS][S_VECTORS], odd [S_ROWS][S_VECTORS];
    s_q8_pass16 (w, d, x, cols, 0, even, n);
    s_q8_pass16 (w, d, x, cols, 1, odd, n);
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            out [r][j] = _mm512_reduce_add_ps (_mm512_add_ps (even [r][j], odd [r][j]));
}

S_AVX512 static void
s_q8_avx512 (const float *const *w, const float *const *d, const float *x, size_t cols, size_t n,
             float out [S_ROWS][S_VECTORS])
{
    switch (n) {
        case 1: s_q8_dot16 (w, d, x, cols, out, 1); break;
        case 2: s_q8_dot16 (w, d, x, cols, out, 2); break;
        case 3: s_q8_dot16 (w, d, x, cols, out, 3); break;
        default: s_q8_dot16 (w, d, x, cols, out, 4); break;
    }
}

//  ---- the calls -----------------------------------------------------------------

//  Widens the rows (prefetching a row's share of 'ahead' with each), the
//  missing ones of a short group copies of the last, then runs 'kernel'
//  over the vectors 'group' at a time.
S_AVX2 static void
s_multi (s_kernel_fn *kernel, size_t group, xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
         size_t cols, const float *x, size_t n, float *y, size_t y_stride, float *scratch,
         const uint8_t *ahead, size_t ahead_bytes)
{
    const float *rows [S_ROWS], *d [S_ROWS];
    size_t stride = xinf_cpu_multi_stride (cols), line = 0;
    if (count == 0)
        return;
    for (size_t r = 0; r < S_ROWS; r++) {
        if (r >= count) {
            rows [r] = rows [count - 1], d [r] = d [count - 1];
            continue;
        }
        float *out = scratch + r * stride, *scales = out + (cols + 15) / 16 * 16;
        for (; ahead && line < (r + 1) * ahead_bytes / count; line += 64)
            _mm_prefetch ((const char *) ahead + line, _MM_HINT_T0);
        rows [r] = s_widen (dtype, w + r * row_bytes, cols, out, scales);
        d [r] = scales;
    }
    for (size_t j = 0; j < n; j += group) {
        size_t vectors = n - j < group ? n - j : group;
        float out [S_ROWS][S_VECTORS];
        kernel (rows, d, x + j * cols, cols, vectors, out);
        for (size_t v = 0; v < vectors; v++)
            for (size_t r = 0; r < count; r++)
                y [(j + v) * y_stride + r] = out [r][v];
    }
}

void
xinf_cpu_rows_multi_avx2 (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                          const float *x, size_t n, float *y, size_t y_stride, float *scratch,
                          const void *ahead, size_t ahead_bytes)
{
    if (dtype == XINF_DTYPE_Q8_0)
        s_multi (s_q8_avx2, 2, dtype, w, row_bytes, count, cols, x, n, y, y_stride, scratch, ahead, ahead_bytes);
    else
        s_multi (s_floats_avx2, 2, dtype, w, row_bytes, count, cols, x, n, y, y_stride, scratch, ahead,
                 ahead_bytes);
}

void
xinf_cpu_rows_multi_avx512 (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                            const float *x, size_t n, float *y, size_t y_stride, float *scratch,
                            const void *ahead, size_t ahead_bytes)
{
    if (dtype == XINF_DTYPE_Q8_0)
        s_multi (s_q8_avx512, 4, dtype, w, row_bytes, count, cols, x, n, y, y_stride, scratch, ahead,
                 ahead_bytes);
    else
        s_multi (s_floats_avx512, 4, dtype, w, row_bytes, count, cols, x, n, y, y_stride, scratch, ahead,
                 ahead_bytes);
}

#endif
