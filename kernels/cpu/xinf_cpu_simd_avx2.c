/*  xinf_cpu_simd_avx2: the inner loops with AVX2, FMA and F16C, and the
    Q8_0 matvec rows and the matmul's widening of rows with AVX-512F (the
    matmul panels are in xinf_cpu_simd_gemm.c).

    Every function carries a target attribute, so the build needs no -march
    flag; xinf_cpu_kern_avx2 () hands the table out only when the CPU says
    it has all three, xinf_cpu_kern_avx512 () only with AVX-512F as well.
    F16 rows are widened with F16C, BF16 rows by a 16-bit shift, Q8_0 rows
    by sign extension, then multiplied with FMA.

    Matvec streams the weights from memory once, so the row loops prefetch
    far enough ahead that the loads find them in L1: a core's demand
    misses alone cannot keep enough reads in flight. Q8_0 rows, the most
    work per byte, go four at a time, sharing each load of x; widening
    bytes to floats bounds their speed, so AVX-512, which widens 16 a
    instruction, handles them where the CPU has it.
*/
#include "xinf_cpu_kern.h"
#include "xinf_cpu_cpuid.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include "xinf_cpu_simd.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))

//  Loops over the rows of a multi-row kernel must unroll, so that their
//  accumulators live in registers.
#define S_UNROLL _Pragma ("GCC unroll 4")

//  One dot product body per weight format: LOAD (p) gives 8 floats. Each
//  pass prefetches the AHEAD_LINES cache lines of weights 'ahead' bytes on.
#define S_DOT_BODY(LOAD, TAIL, AHEAD_LINES) \
    __m256 acc0 = _mm256_setzero_ps (), acc1 = _mm256_setzero_ps (); \
    __m256 acc2 = _mm256_setzero_ps (), acc3 = _mm256_setzero_ps (); \
    size_t i = 0; \
    for (; i + 32 <= n; i += 32) { \
        for (int line = 0; line < AHEAD_LINES; line++) \
            _mm_prefetch ((const char *) (w + i) + ahead + 64 * line, _MM_HINT_T0); \
        acc0 = _mm256_fmadd_ps (LOAD (w + i), _mm256_loadu_ps (x + i), acc0); \
        acc1 = _mm256_fmadd_ps (LOAD (w + i + 8), _mm256_loadu_ps (x + i + 8), acc1); \
        acc2 = _mm256_fmadd_ps (LOAD (w + i + 16), _mm256_loadu_ps (x + i + 16), acc2); \
        acc3 = _mm256_fmadd_ps (LOAD (w + i + 24), _mm256_loadu_ps (x + i + 24), acc3); \
    } \
    for (; i + 8 <= n; i += 8) \
        acc0 = _mm256_fmadd_ps (LOAD (w + i), _mm256_loadu_ps (x + i), acc0); \
    float sum = xinf_simd_hsum (_mm256_add_ps (_mm256_add_ps (acc0, acc1), _mm256_add_ps (acc2, acc3))); \
    for (; i < n; i++) \
        sum += TAIL (w [i]) * x [i]; \
    return sum;

#define S_F32(value) (value)

//  How far ahead F32, F16 and BF16 rows prefetch: about 1 us of reading.
#define S_AHEAD 4096

S_AVX2 static float
s_dot (const float *w, const float *x, size_t n)
{
    size_t ahead = 0;
    S_DOT_BODY (_mm256_loadu_ps, S_F32, 0)
}

S_AVX2 static float
s_dot_f32 (const float *w, const float *x, size_t n, size_t ahead)
{
    S_DOT_BODY (_mm256_loadu_ps, S_F32, 2)
}

S_AVX2 static float
s_dot_f16 (const uint16_t *w, const float *x, size_t n, size_t ahead)
{
    S_DOT_BODY (xinf_simd_load_f16, xinf_dtype_fp16_to_f32, 1)
}

S_AVX2 static float
s_dot_bf16 (const uint16_t *w, const float *x, size_t n, size_t ahead)
{
    S_DOT_BODY (xinf_simd_load_bf16, xinf_dtype_bf16_to_f32, 1)
}

//  fp16 bits -> float for the Q8_0 block scales: a table lookup is a
//  broadcast from memory, where converting costs shuffle-port work.
static float s_half_table [65536];

S_AVX2 static void
s_half_table_fill (void)
{
    for (uint32_t bits = 0; bits < 65536; bits++)
        s_half_table [bits] = _cvtsh_ss ((unsigned short) bits);
}

S_AVX2 static inline float
s_q8_scale (const uint8_t *block)
{
    return s_half_table [block [0] | block [1] << 8];
}

S_AVX2 static inline __m256
s_q8_scale8 (const uint8_t *block)
{
    return _mm256_broadcast_ss (&s_half_table [block [0] | block [1] << 8]);
}

//  One Q8_0 block of n rows (n <= 4, a constant after inlining) at
//  w + r * row_bytes: per row acc += d * (sum of q * x), each load of x
//  shared by the rows; the weights 'ahead' bytes on are prefetched.
S_AVX2 static inline __attribute__ ((always_inline)) void
s_q8_block (const uint8_t *w, size_t row_bytes, const float *x, __m256 *acc, const int n, size_t ahead)
{
    __m256 sum [4], xp = _mm256_loadu_ps (x);
    S_UNROLL for (int r = 0; r < n; r++) {
        _mm_prefetch ((const char *) w + r * row_bytes + ahead, _MM_HINT_T0);
        sum [r] = _mm256_mul_ps (xinf_simd_load_i8 (w + r * row_bytes + 2), xp);
    }
    S_UNROLL for (int part = 8; part < XINF_Q8_0_BLOCK_SIZE; part += 8) {
        xp = _mm256_loadu_ps (x + part);
        S_UNROLL for (int r = 0; r < n; r++)
            sum [r] = _mm256_fmadd_ps (xinf_simd_load_i8 (w + r * row_bytes + 2 + part), xp, sum [r]);
    }
    S_UNROLL for (int r = 0; r < n; r++)
        acc [r] = _mm256_fmadd_ps (s_q8_scale8 (w + r * row_bytes), sum [r], acc [r]);
}

//  n rows of Q8_0: even blocks into acc0, odd blocks into acc1, so every
//  row sums in the same order whatever n is.
S_AVX2 static inline __attribute__ ((always_inline)) void
s_q8_rows (const uint8_t *w, size_t row_bytes, size_t blocks, const float *x, float *y, const int n,
           size_t ahead)
{
    __m256 acc0 [4], acc1 [4];
    S_UNROLL for (int r = 0; r < n; r++)
        acc0 [r] = acc1 [r] = _mm256_setzero_ps ();
    size_t b = 0;
    for (; b + 2 <= blocks; b += 2, w += 2 * XINF_Q8_0_BLOCK_BYTES, x += 2 * XINF_Q8_0_BLOCK_SIZE) {
        s_q8_block (w, row_bytes, x, acc0, n, ahead);
        s_q8_block (w + XINF_Q8_0_BLOCK_BYTES, row_bytes, x + XINF_Q8_0_BLOCK_SIZE, acc1, n, ahead);
    }
    if (b < blocks)
        s_q8_block (w, row_bytes, x, acc0, n, ahead);
    S_UNROLL for (int r = 0; r < n; r++)
        y [r] = xinf_simd_hsum (_mm256_add_ps (acc0 [r], acc1 [r]));
}

S_AVX2 static void
s_q8_rows4 (const uint8_t *w, size_t row_bytes, size_t blocks, const float *x, float *y, size_t ahead)
{
    s_q8_rows (w, row_bytes, blocks, x, y, 4, ahead);
}

S_AVX2 static void
s_q8_rows1 (const uint8_t *w, size_t row_bytes, size_t blocks, const float *x, float *y, size_t ahead)
{
    s_q8_rows (w, row_bytes, blocks, x, y, 1, ahead);
}

//  ---- Q8_0 with AVX-512F: 16 weights an instruction ------------------------

#define S_AVX512 __attribute__ ((target ("avx512f,avx2,fma,f16c")))

S_AVX512 static inline __m512
s_load_i8_16 (const uint8_t *p)
{
    return _mm512_cvtepi32_ps (_mm512_cvtepi8_epi32 (_mm_loadu_si128 ((const __m128i *) p)));
}

//  As s_q8_block, the block's sum in 16 lanes.
S_AVX512 static inline __attribute__ ((always_inline)) void
s_q8_block16 (const uint8_t *w, size_t row_bytes, const float *x, __m512 *acc, const int n, size_t ahead)
{
    __m512 x0 = _mm512_loadu_ps (x), x1 = _mm512_loadu_ps (x + 16);
    S_UNROLL for (int r = 0; r < n; r++) {
        const uint8_t *q = w + r * row_bytes;
        _mm_prefetch ((const char *) q + ahead, _MM_HINT_T0);
        __m512 sum = _mm512_mul_ps (s_load_i8_16 (q + 2), x0);
        sum = _mm512_fmadd_ps (s_load_i8_16 (q + 18), x1, sum);
        acc [r] = _mm512_fmadd_ps (_mm512_set1_ps (s_q8_scale (q)), sum, acc [r]);
    }
}

S_AVX512 static inline __attribute__ ((always_inline)) void
s_q8_rows16 (const uint8_t *w, size_t row_bytes, size_t blocks, const float *x, float *y, const int n,
             size_t ahead)
{
    __m512 acc0 [4], acc1 [4];
    S_UNROLL for (int r = 0; r < n; r++)
        acc0 [r] = acc1 [r] = _mm512_setzero_ps ();
    size_t b = 0;
    for (; b + 2 <= blocks; b += 2, w += 2 * XINF_Q8_0_BLOCK_BYTES, x += 2 * XINF_Q8_0_BLOCK_SIZE) {
        s_q8_block16 (w, row_bytes, x, acc0, n, ahead);
        s_q8_block16 (w + XINF_Q8_0_BLOCK_BYTES, row_bytes, x + XINF_Q8_0_BLOCK_SIZE, acc1, n, ahead);
    }
    if (b < blocks)
        s_q8_block16 (w, row_bytes, x, acc0, n, ahead);
    S_UNROLL for (int r = 0; r < n; r++)
        y [r] = _mm512_reduce_add_ps (_mm512_add_ps (acc0 [r], acc1 [r]));
}

S_AVX512 static void
s_q8_rows4_avx512 (const uint8_t *w, size_t row_bytes, size_t blocks, const float *x, float *y, size_t ahead)
{
    s_q8_rows16 (w, row_bytes, blocks, x, y, 4, ahead);
}

S_AVX512 static void
s_q8_rows1_avx512 (const uint8_t *w, size_t row_bytes, size_t blocks, const float *x, float *y, size_t ahead)
{
    s_q8_rows16 (w, row_bytes, blocks, x, y, 1, ahead);
}

//  ---- rows --------------------------------------------------------------------

typedef void (s_q8_fn) (const uint8_t *w, size_t row_bytes, size_t blocks, const float *x, float *y,
                        size_t ahead);

//  Q8_0 rows four at a time, then the rest one at a time. Each group
//  prefetches the rows after it: 4 rows on, or fewer near the end, so
//  that no prefetch leaves these rows.
static void
s_rows_q8_0 (s_q8_fn *four, s_q8_fn *one, const uint8_t *w, size_t row_bytes, size_t count, size_t cols,
             const float *x, float *y)
{
    size_t blocks = cols / XINF_Q8_0_BLOCK_SIZE, r = 0;
    for (; r + 4 <= count; r += 4) {
        size_t after = count - r - 4 < 4 ? count - r - 4 : 4;
        four (w + r * row_bytes, row_bytes, blocks, x, y + r, after * row_bytes);
    }
    for (; r < count; r++)
        one (w + r * row_bytes, row_bytes, blocks, x, y + r, r + 2 <= count ? row_bytes : 0);
}

//  F32, F16 and BF16 rows one at a time, prefetching S_AHEAD bytes on
//  while that stays among these rows.
S_AVX2 static void
s_rows_wide (xinf_dtype_t dtype, const uint8_t *row, size_t row_bytes, size_t count, size_t cols,
             const float *x, float *y)
{
    for (size_t r = 0; r < count; r++, row += row_bytes) {
        size_t ahead = (count - r) * row_bytes >= S_AHEAD + row_bytes ? S_AHEAD : 0;
        switch (dtype) {
            case XINF_DTYPE_F32: y [r] = s_dot_f32 ((const float *) row, x, cols, ahead); break;
            case XINF_DTYPE_F16: y [r] = s_dot_f16 ((const uint16_t *) row, x, cols, ahead); break;
            case XINF_DTYPE_BF16: y [r] = s_dot_bf16 ((const uint16_t *) row, x, cols, ahead); break;
            default: break;          //  Q8_0 and the quantized types: elsewhere
        }
    }
}

static void
s_rows (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
        const float *x, float *y)
{
    if (dtype == XINF_DTYPE_Q8_0)
        s_rows_q8_0 (s_q8_rows4, s_q8_rows1, w, row_bytes, count, cols, x, y);
    else
        s_rows_wide (dtype, w, row_bytes, count, cols, x, y);
}

static void
s_rows_avx512 (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
               const float *x, float *y)
{
    if (dtype == XINF_DTYPE_Q8_0)
        s_rows_q8_0 (s_q8_rows4_avx512, s_q8_rows1_avx512, w, row_bytes, count, cols, x, y);
    else
        s_rows_wide (dtype, w, row_bytes, count, cols, x, y);
}

S_AVX2 static void
s_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    const uint16_t *halves = row;
    const uint8_t *blocks = row;
    size_t i = 0;
    switch (dtype) {
        case XINF_DTYPE_F32:
            memcpy (out, row, cols * sizeof (float));
            return;
        case XINF_DTYPE_F16:
            for (; i + 8 <= cols; i += 8)
                _mm256_storeu_ps (out + i, xinf_simd_load_f16 (halves + i));
            for (; i < cols; i++)
                out [i] = xinf_dtype_fp16_to_f32 (halves [i]);
            return;
        case XINF_DTYPE_BF16:
            for (; i + 8 <= cols; i += 8)
                _mm256_storeu_ps (out + i, xinf_simd_load_bf16 (halves + i));
            for (; i < cols; i++)
                out [i] = xinf_dtype_bf16_to_f32 (halves [i]);
            return;
        case XINF_DTYPE_Q8_0:
            for (; i < cols; i += XINF_Q8_0_BLOCK_SIZE, blocks += XINF_Q8_0_BLOCK_BYTES) {
                __m256 scale = _mm256_set1_ps (s_q8_scale (blocks));
                for (int part = 0; part < 4; part++)
                    _mm256_storeu_ps (out + i + part * 8, _mm256_mul_ps (scale, xinf_simd_load_i8 (blocks + 2 + part * 8)));
            }
            return;
        default:
            xinf_dtype_to_f32 (dtype, row, cols, out);
            return;
    }
}

//  As s_to_f32, 16 floats an instruction (the matmul's widening of rows).
S_AVX512 static void
s_to_f32_avx512 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    const uint16_t *halves = row;
    const uint8_t *blocks = row;
    size_t i = 0;
    switch (dtype) {
        case XINF_DTYPE_F16:
            for (; i + 16 <= cols; i += 16)
                _mm512_storeu_ps (out + i, _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) (halves + i))));
            s_to_f32 (dtype, halves + i, cols - i, out + i);
            return;
        case XINF_DTYPE_Q8_0:
            for (; i < cols; i += XINF_Q8_0_BLOCK_SIZE, blocks += XINF_Q8_0_BLOCK_BYTES) {
                __m512 scale = _mm512_set1_ps (s_q8_scale (blocks));
                _mm512_storeu_ps (out + i, _mm512_mul_ps (scale, s_load_i8_16 (blocks + 2)));
                _mm512_storeu_ps (out + i + 16, _mm512_mul_ps (scale, s_load_i8_16 (blocks + 18)));
            }
            return;
        default:
            s_to_f32 (dtype, row, cols, out);
            return;
    }
}

S_AVX2 static void
s_axpy (float *y, float a, const float *x, size_t n)
{
    __m256 scale = _mm256_set1_ps (a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps (y + i, _mm256_fmadd_ps (scale, _mm256_loadu_ps (x + i), _mm256_loadu_ps (y + i)));
    for (; i < n; i++)
        y [i] += a * x [i];
}

//  y += sum of a [r] row r (rows widened, 'width' floats each), the rows
//  in order: each element's fused multiply-adds those of s_axpy one row
//  after another, y held in registers 32 floats at a time.
S_AVX2 static void
s_accumulate (float wide [][XINF_CPU_AXPY_COLS], size_t rows, size_t width, const float *a, float *y)
{
    size_t i = 0;
    for (; i + 32 <= width; i += 32) {
        __m256 acc0 = _mm256_loadu_ps (y + i), acc1 = _mm256_loadu_ps (y + i + 8);
        __m256 acc2 = _mm256_loadu_ps (y + i + 16), acc3 = _mm256_loadu_ps (y + i + 24);
        for (size_t r = 0; r < rows; r++) {
            __m256 scale = _mm256_set1_ps (a [r]);
            acc0 = _mm256_fmadd_ps (scale, _mm256_loadu_ps (wide [r] + i), acc0);
            acc1 = _mm256_fmadd_ps (scale, _mm256_loadu_ps (wide [r] + i + 8), acc1);
            acc2 = _mm256_fmadd_ps (scale, _mm256_loadu_ps (wide [r] + i + 16), acc2);
            acc3 = _mm256_fmadd_ps (scale, _mm256_loadu_ps (wide [r] + i + 24), acc3);
        }
        _mm256_storeu_ps (y + i, acc0);
        _mm256_storeu_ps (y + i + 8, acc1);
        _mm256_storeu_ps (y + i + 16, acc2);
        _mm256_storeu_ps (y + i + 24, acc3);
    }
    for (size_t r = 0; r < rows && i < width; r++)
        s_axpy (y + i, a [r], wide [r] + i, width - i);
}

S_AVX2 static void
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
                s_accumulate (wide, rows, width, a + j * a_stride + first, y + j * cols + from);
        }
    }
}

static const xinf_cpu_kern_t s_kern_avx2 = {
    "avx2", s_rows, xinf_cpu_rows_multi_avx2, s_to_f32, NULL, xinf_cpu_panel_avx2, xinf_cpu_pack_avx2, s_dot, s_axpy,
    s_axpy_rows
};

//  AVX2 but for the Q8_0 matvec rows, the widening of F16 and Q8_0 rows
//  and the matmul panel.
static const xinf_cpu_kern_t s_kern_avx512 = {
    "avx512", s_rows_avx512, xinf_cpu_rows_multi_avx512, s_to_f32_avx512, NULL, xinf_cpu_panel_avx512,
    xinf_cpu_pack_avx2, s_dot, s_axpy, s_axpy_rows
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

const xinf_cpu_kern_t *
xinf_cpu_kern_avx2 (void)
{
    __builtin_cpu_init ();
    if (!xinf_cpu_has_avx2_set ())
        return NULL;
    pthread_once (&s_once, s_half_table_fill);
    return &s_kern_avx2;
}

const xinf_cpu_kern_t *
xinf_cpu_kern_avx512 (void)
{
    if (!xinf_cpu_kern_avx2 () || !__builtin_cpu_supports ("avx512f"))
        return NULL;
    return &s_kern_avx512;
}

#else

const xinf_cpu_kern_t *
xinf_cpu_kern_avx2 (void)
{
    return NULL;
}

const xinf_cpu_kern_t *
xinf_cpu_kern_avx512 (void)
{
    return NULL;
}

#endif
