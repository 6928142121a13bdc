/*  xinf_cpu_simd_multi: the multi-vector matvec rows ('rows_multi') of the
    AVX2 and AVX-512 tables: up to four rows times n x vectors, every
    product bit for bit what the table's 'rows' gives that row and vector.

    A kernel call takes 4 rows and up to 4 vectors (AVX2 F32, F16, BF16:
    2; AVX2 Q8_0 takes its rows one at a time): it widens
    each piece of weights in registers with the conversions of 'rows'
    (F16C, a 16-bit shift, sign extension; all exact) and multiplies it
    into every vector, so the widening is shared by the vectors and the
    weights are read from memory once (later groups of vectors find them
    in L1). Each kernel keeps the lanes and the accumulator split of its
    table's dot product:

    F32, F16, BF16 (both tables): four 8-lane sums acc0..acc3 over the
    columns i = 32m + 8k, the whole 8s after the last 32 into acc0, then
    hsum ((acc0 + acc1) + (acc2 + acc3)) and the remaining columns one by
    one. Each accumulator's columns are one pass over the rows, so only
    rows x vectors sums live in registers at a time; AVX-512 holds
    acc0|acc1 and acc2|acc3 in one 16-lane register each (the same lanes,
    in half the instructions).
    Q8_0: per block, sum = q [0..] * x, then FMA of the further parts, then
    acc = d * sum + acc, even blocks into acc0, odd blocks into acc1 (one
    pass each), then the sum of acc0 + acc1: 8 lanes with AVX2, 16 with
    AVX-512.

    While the vectors pass, the weights of the next 4 rows are prefetched
    into L1 and those of the 4 after them into L2, in address order.
*/
#include "xinf_cpu_kern.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include "xinf_cpu_simd.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define S_AVX2 XINF_SIMD_AVX2
#define S_AVX512 XINF_SIMD_AVX512
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 16")

#define S_ROWS XINF_CPU_MULTI_ROWS
#define S_BLOCK XINF_Q8_0_BLOCK_SIZE
#define S_BLOCK_BYTES XINF_Q8_0_BLOCK_BYTES

//  Most vectors a kernel call takes.
#define S_VECTORS 4

//  Columns a pass takes before the passes of the other accumulators (a
//  multiple of 64): 4 rows and the vectors' share stay in L1 meanwhile.
#define S_CHUNK 512

//  The rows a kernel prefetches while it reads its own, 4 rows as long
//  as those each: the next into L1, the ones after them into L2.
typedef struct {
    const uint8_t *next, *after;
} s_ahead_t;

//  A kernel: rows w [0..S_ROWS) as stored, vectors x [j * cols] for
//  j < n <= the table's group: out [r][j] = row r . x [j]. With ahead
//  set, it prefetches those rows in step with its reading of w, in
//  address order: 'after' in the first pass over a piece of columns,
//  'next' in the second.
typedef void (s_kernel_fn) (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols,
                            size_t n, float out [S_ROWS][S_VECTORS]);

//  fp16 bits -> float for the Q8_0 block scales (as the 'rows' table).
static float s_half [65536];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

S_AVX2 static void
s_half_fill (void)
{
    for (uint32_t bits = 0; bits < 65536; bits++)
        s_half [bits] = _cvtsh_ss ((unsigned short) bits);
}

static inline float
s_scale (const uint8_t *block)
{
    return s_half [block [0] | block [1] << 8];
}

//  8 weights of row w from column i as floats, as 'rows' widens them.
S_AVX2 static S_INLINE __m256
s_load8 (xinf_dtype_t dtype, const uint8_t *w, size_t i)
{
    if (dtype == XINF_DTYPE_F16)
        return xinf_simd_load_f16 ((const uint16_t *) w + i);
    if (dtype == XINF_DTYPE_BF16)
        return xinf_simd_load_bf16 ((const uint16_t *) w + i);
    return _mm256_loadu_ps ((const float *) w + i);
}

//  One weight of row w as a float, as 'rows' converts its tail.
static inline float
s_load1 (xinf_dtype_t dtype, const uint8_t *w, size_t i)
{
    if (dtype == XINF_DTYPE_F16)
        return xinf_dtype_fp16_to_f32 (((const uint16_t *) w) [i]);
    if (dtype == XINF_DTYPE_BF16)
        return xinf_dtype_bf16_to_f32 (((const uint16_t *) w) [i]);
    return ((const float *) w) [i];
}

//  The scalar columns after the whole 8s: sum += w [i] * x [i], as 'rows'.
static inline float
s_tail (xinf_dtype_t dtype, float sum, const uint8_t *w, const float *x, size_t cols)
{
    for (size_t i = cols / 8 * 8; i < cols; i++)
        sum += s_load1 (dtype, w, i) * x [i];
    return sum;
}

//  Prefetches the lines of 'bytes' bytes from rows + at: into L2 for
//  'after' (more rows in L1 would crowd out the ones in use), into L1 for
//  'next'.
static S_INLINE void
s_prefetch (const s_ahead_t *ahead, bool next, size_t at, size_t bytes)
{
    for (size_t line = 0; line < bytes; line += 64)
        if (next)
            __builtin_prefetch (ahead->next + at + line, 0, 3);
        else
            __builtin_prefetch (ahead->after + at + line, 0, 2);
}

//  ---- F32, F16, BF16 with AVX2 ------------------------------------------------

//  acc [r][j] += row r . x [j] over the columns 32m + 8k in [from, to):
//  accumulator k's share of a chunk of columns.
S_AVX2 static S_INLINE void
s_pass8 (xinf_dtype_t dtype, const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols,
         size_t from, size_t to, const int k, __m256 acc [S_ROWS][S_VECTORS], const int n)
{
    size_t size = dtype == XINF_DTYPE_F32 ? 4 : 2;
    for (size_t i = from + 8 * k; i < to; i += 32) {
        __m256 wv [S_ROWS];
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            if (ahead && k % 2 == 0)
                s_prefetch (ahead, k == 2, ((i - 8 * k) * S_ROWS + r * 32) * size, 32 * size);
            wv [r] = s_load8 (dtype, w [r], i);
        }
        S_UNROLL for (int j = 0; j < n; j++) {
            __m256 xv = _mm256_loadu_ps (x + j * cols + i);
            S_UNROLL for (int r = 0; r < S_ROWS; r++)
                acc [r][j] = _mm256_fmadd_ps (wv [r], xv, acc [r][j]);
        }
    }
}

//  4 rows x n vectors of the AVX2 dot product: per chunk of columns one
//  pass an accumulator, then the whole 8s after the last 32 into acc0.
S_AVX2 static S_INLINE void
s_dot8 (xinf_dtype_t dtype, const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols,
        float out [S_ROWS][S_VECTORS], const int n)
{
    __m256 acc [4][S_ROWS][S_VECTORS];
    size_t full = cols / 32 * 32;
    S_UNROLL for (int k = 0; k < 4; k++)
        S_UNROLL for (int r = 0; r < S_ROWS; r++)
            S_UNROLL for (int j = 0; j < n; j++)
                acc [k][r][j] = _mm256_setzero_ps ();
    for (size_t from = 0; from < full; from += S_CHUNK) {
        size_t to = full - from < S_CHUNK ? full : from + S_CHUNK;
        S_UNROLL for (int k = 0; k < 4; k++)
            s_pass8 (dtype, w, ahead, x, cols, from, to, k, acc [k], n);
    }
    for (size_t i = full; i + 8 <= cols; i += 8)
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            __m256 wv = s_load8 (dtype, w [r], i);
            S_UNROLL for (int j = 0; j < n; j++)
                acc [0][r][j] = _mm256_fmadd_ps (wv, _mm256_loadu_ps (x + j * cols + i), acc [0][r][j]);
        }
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++) {
            __m256 total = _mm256_add_ps (_mm256_add_ps (acc [0][r][j], acc [1][r][j]),
                                          _mm256_add_ps (acc [2][r][j], acc [3][r][j]));
            out [r][j] = s_tail (dtype, xinf_simd_hsum (total), w [r], x + j * cols, cols);
        }
}

//  The AVX2 kernel of one float type: up to 2 vectors.
#define S_FLOATS_AVX2(name, dtype) \
S_AVX2 static void \
name (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols, size_t n, \
      float out [S_ROWS][S_VECTORS]) \
{ \
    if (n >= 2) \
        s_dot8 (dtype, w, ahead, x, cols, out, 2); \
    else \
        s_dot8 (dtype, w, ahead, x, cols, out, 1); \
}

S_FLOATS_AVX2 (s_f32_avx2, XINF_DTYPE_F32)
S_FLOATS_AVX2 (s_f16_avx2, XINF_DTYPE_F16)
S_FLOATS_AVX2 (s_bf16_avx2, XINF_DTYPE_BF16)

//  ---- Q8_0 with AVX2 ------------------------------------------------------------

//  acc [r][j] += the sum over the blocks first, first + 2, ... below
//  'end' of d * (q . x), 8 lanes, the block's parts summed as 'rows' sums
//  them: the share of a chunk of acc0 (first even) or acc1 (odd).
S_AVX2 static S_INLINE void
s_q8_pass8 (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols, size_t first, size_t end,
            __m256 acc [S_ROWS][S_VECTORS], const int rows, const int n)
{
    for (size_t b = first; b < end; b += 2) {
        size_t at = b * S_BLOCK, bytes = b * S_BLOCK_BYTES;
        __m256 sum [S_ROWS][S_VECTORS];
        S_UNROLL for (int part = 0; part < S_BLOCK; part += 8) {
            __m256 wv [S_ROWS];
            S_UNROLL for (int r = 0; r < rows; r++)
                wv [r] = xinf_simd_load_i8 (w [r] + bytes + 2 + part);
            S_UNROLL for (int j = 0; j < n; j++) {
                __m256 xv = _mm256_loadu_ps (x + j * cols + at + part);
                S_UNROLL for (int r = 0; r < rows; r++)
                    sum [r][j] = part == 0 ? _mm256_mul_ps (wv [r], xv) : _mm256_fmadd_ps (wv [r], xv, sum [r][j]);
            }
        }
        S_UNROLL for (int r = 0; r < rows; r++) {
            if (ahead)
                s_prefetch (ahead, b % 2, (b - b % 2) * S_BLOCK_BYTES * S_ROWS, 2 * S_BLOCK_BYTES);
            __m256 scale = _mm256_set1_ps (s_scale (w [r] + bytes));
            S_UNROLL for (int j = 0; j < n; j++)
                acc [r][j] = _mm256_fmadd_ps (scale, sum [r][j], acc [r][j]);
        }
    }
}

//  4 rows x n vectors of the AVX2 Q8_0 dot product, the passes one row at
//  a time (leaving registers for 4 vectors: fewer conversions a vector),
//  the 4 rows' passes over one chunk of columns before the next chunk
//  (the vectors' share stays in L1).
S_AVX2 static S_INLINE void
s_q8_dot8 (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols,
           float out [S_ROWS][S_VECTORS], const int n)
{
    __m256 even [S_ROWS][S_VECTORS], odd [S_ROWS][S_VECTORS];
    size_t blocks = cols / S_BLOCK;
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            even [r][j] = odd [r][j] = _mm256_setzero_ps ();
    for (size_t from = 0; from < blocks; from += S_CHUNK / S_BLOCK) {
        size_t to = blocks - from < S_CHUNK / S_BLOCK ? blocks : from + S_CHUNK / S_BLOCK;
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            s_ahead_t shifted = { ahead ? ahead->next + r * 2 * S_BLOCK_BYTES : NULL,
                                  ahead ? ahead->after + r * 2 * S_BLOCK_BYTES : NULL };
            const s_ahead_t *row_ahead = ahead ? &shifted : NULL;
            s_q8_pass8 (w + r, row_ahead, x, cols, from, to, even + r, 1, n);
            s_q8_pass8 (w + r, row_ahead, x, cols, from + 1, to, odd + r, 1, n);
        }
    }
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            out [r][j] = xinf_simd_hsum (_mm256_add_ps (even [r][j], odd [r][j]));
}

S_AVX2 static void
s_q8_avx2 (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols, size_t n,
           float out [S_ROWS][S_VECTORS])
{
    switch (n) {
        case 1: s_q8_dot8 (w, ahead, x, cols, out, 1); break;
        case 2: s_q8_dot8 (w, ahead, x, cols, out, 2); break;
        case 3: s_q8_dot8 (w, ahead, x, cols, out, 3); break;
        default: s_q8_dot8 (w, ahead, x, cols, out, 4); break;
    }
}

//  ---- F32, F16, BF16 with AVX-512 -------------------------------------------

//  16 weights of row w from column i as floats (the conversions of s_load8).
S_AVX512 static S_INLINE __m512
s_load16 (xinf_dtype_t dtype, const uint8_t *w, size_t i)
{
    if (dtype == XINF_DTYPE_F16)
        return _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) ((const uint16_t *) w + i)));
    if (dtype == XINF_DTYPE_BF16) {
        __m512i wide = _mm512_cvtepu16_epi32 (_mm256_loadu_si256 ((const __m256i *) ((const uint16_t *) w + i)));
        return _mm512_castsi512_ps (_mm512_slli_epi32 (wide, 16));
    }
    return _mm512_loadu_ps ((const float *) w + i);
}

//  acc [r][j] += accumulators 2k | 2k + 1 of row r . x [j] in 16 lanes,
//  over the columns 32m + 16k in [from, to): their share of a chunk.
S_AVX512 static S_INLINE void
s_pass16 (xinf_dtype_t dtype, const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols,
          size_t from, size_t to, const int k, __m512 acc [S_ROWS][S_VECTORS], const int n)
{
    size_t size = dtype == XINF_DTYPE_F32 ? 4 : 2;
    for (size_t i = from + 16 * k; i < to; i += 32) {
        __m512 wv [S_ROWS];
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            if (ahead)
                s_prefetch (ahead, k == 1, ((i - 16 * k) * S_ROWS + r * 32) * size, 32 * size);
            wv [r] = s_load16 (dtype, w [r], i);
        }
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

//  4 rows x n vectors of the AVX2 dot product in 16 lanes: per chunk of
//  columns a pass for acc0 | acc1 and one for acc2 | acc3, then the whole
//  8s after the last 32 into acc0.
S_AVX512 static S_INLINE void
s_dot16 (xinf_dtype_t dtype, const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols,
         float out [S_ROWS][S_VECTORS], const int n)
{
    __m512 acc [2][S_ROWS][S_VECTORS];
    size_t full = cols / 32 * 32;
    S_UNROLL for (int k = 0; k < 2; k++)
        S_UNROLL for (int r = 0; r < S_ROWS; r++)
            S_UNROLL for (int j = 0; j < n; j++)
                acc [k][r][j] = _mm512_setzero_ps ();
    for (size_t from = 0; from < full; from += S_CHUNK) {
        size_t to = full - from < S_CHUNK ? full : from + S_CHUNK;
        s_pass16 (dtype, w, ahead, x, cols, from, to, 0, acc [0], n);
        s_pass16 (dtype, w, ahead, x, cols, from, to, 1, acc [1], n);
    }
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++) {
            __m256 acc0 = s_low (acc [0][r][j]);
            for (size_t i = full; i + 8 <= cols; i += 8)
                acc0 = _mm256_fmadd_ps (s_load8 (dtype, w [r], i), _mm256_loadu_ps (x + j * cols + i), acc0);
            __m256 low = _mm256_add_ps (acc0, s_high (acc [0][r][j]));
            __m256 high = _mm256_add_ps (s_low (acc [1][r][j]), s_high (acc [1][r][j]));
            out [r][j] = s_tail (dtype, xinf_simd_hsum (_mm256_add_ps (low, high)), w [r], x + j * cols, cols);
        }
}

//  The AVX-512 kernel of one float type: up to 4 vectors.
#define S_FLOATS_AVX512(name, dtype) \
S_AVX512 static void \
name (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols, size_t n, \
      float out [S_ROWS][S_VECTORS]) \
{ \
    switch (n) { \
        case 1: s_dot16 (dtype, w, ahead, x, cols, out, 1); break; \
        case 2: s_dot16 (dtype, w, ahead, x, cols, out, 2); break; \
        case 3: s_dot16 (dtype, w, ahead, x, cols, out, 3); break; \
        default: s_dot16 (dtype, w, ahead, x, cols, out, 4); break; \
    } \
}

S_FLOATS_AVX512 (s_f32_avx512, XINF_DTYPE_F32)
S_FLOATS_AVX512 (s_f16_avx512, XINF_DTYPE_F16)
S_FLOATS_AVX512 (s_bf16_avx512, XINF_DTYPE_BF16)

//  ---- Q8_0 with AVX-512 ---------------------------------------------------------

//  16 int8 weights as floats.
S_AVX512 static S_INLINE __m512
s_load_i8_16 (const uint8_t *p)
{
    return _mm512_cvtepi32_ps (_mm512_cvtepi8_epi32 (_mm_loadu_si128 ((const __m128i *) p)));
}

//  As s_q8_pass8 in 16 lanes: sum = q [0..16) x [0..16), then FMA of the
//  second half, then acc = d * sum + acc.
S_AVX512 static S_INLINE void
s_q8_pass16 (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols, size_t first, size_t end,
             __m512 acc [S_ROWS][S_VECTORS], const int n)
{
    for (size_t b = first; b < end; b += 2) {
        size_t at = b * S_BLOCK, bytes = b * S_BLOCK_BYTES;
        __m512 w0 [S_ROWS], w1 [S_ROWS], scale [S_ROWS];
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            if (ahead)
                s_prefetch (ahead, b % 2, (b - b % 2) * S_BLOCK_BYTES * S_ROWS + r * 2 * S_BLOCK_BYTES,
                            2 * S_BLOCK_BYTES);
            w0 [r] = s_load_i8_16 (w [r] + bytes + 2);
            w1 [r] = s_load_i8_16 (w [r] + bytes + 18);
            scale [r] = _mm512_set1_ps (s_scale (w [r] + bytes));
        }
        S_UNROLL for (int j = 0; j < n; j++) {
            __m512 x0 = _mm512_loadu_ps (x + j * cols + at), x1 = _mm512_loadu_ps (x + j * cols + at + 16);
            S_UNROLL for (int r = 0; r < S_ROWS; r++) {
                __m512 sum = _mm512_fmadd_ps (w1 [r], x1, _mm512_mul_ps (w0 [r], x0));
                acc [r][j] = _mm512_fmadd_ps (scale [r], sum, acc [r][j]);
            }
        }
    }
}

//  4 rows x n vectors of the AVX-512 Q8_0 dot product.
S_AVX512 static S_INLINE void
s_q8_dot16 (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols,
            float out [S_ROWS][S_VECTORS], const int n)
{
    __m512 even [S_ROWS][S_VECTORS], odd [S_ROWS][S_VECTORS];
    size_t blocks = cols / S_BLOCK;
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            even [r][j] = odd [r][j] = _mm512_setzero_ps ();
    for (size_t from = 0; from < blocks; from += S_CHUNK / S_BLOCK) {
        size_t to = blocks - from < S_CHUNK / S_BLOCK ? blocks : from + S_CHUNK / S_BLOCK;
        s_q8_pass16 (w, ahead, x, cols, from, to, even, n);
        s_q8_pass16 (w, ahead, x, cols, from + 1, to, odd, n);
    }
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int j = 0; j < n; j++)
            out [r][j] = _mm512_reduce_add_ps (_mm512_add_ps (even [r][j], odd [r][j]));
}

S_AVX512 static void
s_q8_avx512 (const uint8_t *const *w, const s_ahead_t *ahead, const float *x, size_t cols, size_t n,
             float out [S_ROWS][S_VECTORS])
{
    switch (n) {
        case 1: s_q8_dot16 (w, ahead, x, cols, out, 1); break;
        case 2: s_q8_dot16 (w, ahead, x, cols, out, 2); break;
        case 3: s_q8_dot16 (w, ahead, x, cols, out, 3); break;
        default: s_q8_dot16 (w, ahead, x, cols, out, 4); break;
    }
}

//  ---- the calls -----------------------------------------------------------------

//  The rows (the missing ones of a short group copies of the last) times
//  the vectors in groups of at most 'group', all of nearly one size.
//  Each group prefetches the next 8 rows if 'after' says they are there
//  (2 row groups ahead: far enough for DRAM's latency; again by every
//  vector group, as a burst of prefetches can be dropped).
static void
s_multi (s_kernel_fn *kernel, size_t group, const uint8_t *w, size_t row_bytes, size_t count, size_t cols,
         const float *x, size_t n, float *y, size_t y_stride, size_t after)
{
    const uint8_t *rows [S_ROWS];
    if (count == 0)
        return;
    for (size_t r = 0; r < S_ROWS; r++)
        rows [r] = w + (r < count ? r : count - 1) * row_bytes;
    s_ahead_t ahead = { w + S_ROWS * row_bytes, w + 2 * S_ROWS * row_bytes };
    bool prefetch = count == S_ROWS && after >= 2 * S_ROWS;
    size_t groups = (n + group - 1) / group;
    for (size_t g = 0, j = 0; g < groups; g++) {
        size_t vectors = n / groups + (g < n % groups);
        float out [S_ROWS][S_VECTORS];
        kernel (rows, prefetch ? &ahead : NULL, x + j * cols, cols, vectors, out);
        for (size_t v = 0; v < vectors; v++)
            for (size_t r = 0; r < count; r++)
                y [(j + v) * y_stride + r] = out [r][v];
        j += vectors;
    }
}

void
xinf_cpu_rows_multi_avx2 (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                          const float *x, size_t n, float *y, size_t y_stride, size_t after)
{
    pthread_once (&s_once, s_half_fill);
    s_kernel_fn *kernels [] = { s_f32_avx2, s_f16_avx2, s_bf16_avx2, s_q8_avx2 };
    s_multi (kernels [dtype], dtype == XINF_DTYPE_Q8_0 ? 4 : 2, w, row_bytes, count, cols, x, n, y, y_stride, after);
}

void
xinf_cpu_rows_multi_avx512 (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
                            const float *x, size_t n, float *y, size_t y_stride, size_t after)
{
    pthread_once (&s_once, s_half_fill);
    s_kernel_fn *kernels [] = { s_f32_avx512, s_f16_avx512, s_bf16_avx512, s_q8_avx512 };
    s_multi (kernels [dtype], 4, w, row_bytes, count, cols, x, n, y, y_stride, after);
}

#endif
