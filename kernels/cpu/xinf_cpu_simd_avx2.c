/*  xinf_cpu_simd_avx2: the inner loops with AVX2, FMA and F16C.

    Every function carries a target attribute, so the build needs no -march
    flag; xinf_cpu_kern_avx2 () hands the table out only when the CPU says
    it has all three. F16 rows are widened with F16C, BF16 rows by a
    16-bit shift, Q8_0 rows by sign extension, then multiplied with FMA.
*/
#include "xinf_cpu_kern.h"

#if defined (__x86_64__) && defined (__GNUC__)

#include <immintrin.h>
#include <stdint.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))

S_AVX2 static inline float
s_hsum (__m256 v)
{
    __m128 sum = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
    sum = _mm_add_ps (sum, _mm_movehl_ps (sum, sum));
    sum = _mm_add_ss (sum, _mm_movehdup_ps (sum));
    return _mm_cvtss_f32 (sum);
}

S_AVX2 static inline __m256
s_load_f16 (const uint16_t *p)
{
    return _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) p));
}

S_AVX2 static inline __m256
s_load_bf16 (const uint16_t *p)
{
    __m256i wide = _mm256_cvtepu16_epi32 (_mm_loadu_si128 ((const __m128i *) p));
    return _mm256_castsi256_ps (_mm256_slli_epi32 (wide, 16));
}

S_AVX2 static inline __m256
s_load_i8 (const uint8_t *p)
{
    __m128i bytes = _mm_loadl_epi64 ((const __m128i *) p);
    return _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (bytes));
}

//  One dot product body per weight format: LOAD (p) gives 8 floats.
#define S_DOT_BODY(LOAD, TAIL) \
    __m256 acc0 = _mm256_setzero_ps (), acc1 = _mm256_setzero_ps (); \
    __m256 acc2 = _mm256_setzero_ps (), acc3 = _mm256_setzero_ps (); \
    size_t i = 0; \
    for (; i + 32 <= n; i += 32) { \
        acc0 = _mm256_fmadd_ps (LOAD (w + i), _mm256_loadu_ps (x + i), acc0); \
        acc1 = _mm256_fmadd_ps (LOAD (w + i + 8), _mm256_loadu_ps (x + i + 8), acc1); \
        acc2 = _mm256_fmadd_ps (LOAD (w + i + 16), _mm256_loadu_ps (x + i + 16), acc2); \
        acc3 = _mm256_fmadd_ps (LOAD (w + i + 24), _mm256_loadu_ps (x + i + 24), acc3); \
    } \
    for (; i + 8 <= n; i += 8) \
        acc0 = _mm256_fmadd_ps (LOAD (w + i), _mm256_loadu_ps (x + i), acc0); \
    float sum = s_hsum (_mm256_add_ps (_mm256_add_ps (acc0, acc1), _mm256_add_ps (acc2, acc3))); \
    for (; i < n; i++) \
        sum += TAIL (w [i]) * x [i]; \
    return sum;

#define S_F32(value) (value)

S_AVX2 static float
s_dot (const float *w, const float *x, size_t n)
{
    S_DOT_BODY (_mm256_loadu_ps, S_F32)
}

S_AVX2 static float
s_dot_f16 (const uint16_t *w, const float *x, size_t n)
{
    S_DOT_BODY (s_load_f16, xinf_dtype_fp16_to_f32)
}

S_AVX2 static float
s_dot_bf16 (const uint16_t *w, const float *x, size_t n)
{
    S_DOT_BODY (s_load_bf16, xinf_dtype_bf16_to_f32)
}

S_AVX2 static inline float
s_q8_scale (const uint8_t *block)
{
    return _cvtsh_ss ((unsigned short) (block [0] | block [1] << 8));
}

//  Per block: d * (sum of q * x); two accumulators over alternate blocks.
S_AVX2 static float
s_dot_q8_0 (const uint8_t *w, const float *x, size_t n)
{
    __m256 acc [2] = { _mm256_setzero_ps (), _mm256_setzero_ps () };
    size_t blocks = n / XINF_Q8_0_BLOCK_SIZE;
    for (size_t b = 0; b < blocks; b++, w += XINF_Q8_0_BLOCK_BYTES, x += XINF_Q8_0_BLOCK_SIZE) {
        const uint8_t *q = w + 2;
        __m256 sum = _mm256_mul_ps (s_load_i8 (q), _mm256_loadu_ps (x));
        sum = _mm256_fmadd_ps (s_load_i8 (q + 8), _mm256_loadu_ps (x + 8), sum);
        sum = _mm256_fmadd_ps (s_load_i8 (q + 16), _mm256_loadu_ps (x + 16), sum);
        sum = _mm256_fmadd_ps (s_load_i8 (q + 24), _mm256_loadu_ps (x + 24), sum);
        acc [b & 1] = _mm256_fmadd_ps (_mm256_set1_ps (s_q8_scale (w)), sum, acc [b & 1]);
    }
    return s_hsum (_mm256_add_ps (acc [0], acc [1]));
}

S_AVX2 static void
s_rows (xinf_dtype_t dtype, const void *w, size_t row_bytes, size_t count, size_t cols,
        const float *x, float *y)
{
    const uint8_t *row = w;
    for (size_t r = 0; r < count; r++, row += row_bytes) {
        if (r + 1 < count)
            _mm_prefetch ((const char *) row + row_bytes, _MM_HINT_T0);
        switch (dtype) {
            case XINF_DTYPE_F32: y [r] = s_dot ((const float *) row, x, cols); break;
            case XINF_DTYPE_F16: y [r] = s_dot_f16 ((const uint16_t *) row, x, cols); break;
            case XINF_DTYPE_BF16: y [r] = s_dot_bf16 ((const uint16_t *) row, x, cols); break;
            case XINF_DTYPE_Q8_0: y [r] = s_dot_q8_0 (row, x, cols); break;
        }
    }
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
                _mm256_storeu_ps (out + i, s_load_f16 (halves + i));
            for (; i < cols; i++)
                out [i] = xinf_dtype_fp16_to_f32 (halves [i]);
            return;
        case XINF_DTYPE_BF16:
            for (; i + 8 <= cols; i += 8)
                _mm256_storeu_ps (out + i, s_load_bf16 (halves + i));
            for (; i < cols; i++)
                out [i] = xinf_dtype_bf16_to_f32 (halves [i]);
            return;
        case XINF_DTYPE_Q8_0:
            for (; i < cols; i += XINF_Q8_0_BLOCK_SIZE, blocks += XINF_Q8_0_BLOCK_BYTES) {
                __m256 scale = _mm256_set1_ps (s_q8_scale (blocks));
                for (int part = 0; part < 4; part++)
                    _mm256_storeu_ps (out + i + part * 8, _mm256_mul_ps (scale, s_load_i8 (blocks + 2 + part * 8)));
            }
            return;
    }
}

//  4 rows x 2 vectors: 8 accumulators, 6 loads for 8 FMAs.
S_AVX2 static void
s_tile (const float *const *w, const float *const *x, size_t cols, float *out)
{
    __m256 acc [XINF_CPU_TILE_ROWS][XINF_CPU_TILE_COLS];
    for (int r = 0; r < XINF_CPU_TILE_ROWS; r++)
        for (int j = 0; j < XINF_CPU_TILE_COLS; j++)
            acc [r][j] = _mm256_setzero_ps ();
    size_t i = 0;
    for (; i + 8 <= cols; i += 8) {
        __m256 x0 = _mm256_loadu_ps (x [0] + i), x1 = _mm256_loadu_ps (x [1] + i);
        for (int r = 0; r < XINF_CPU_TILE_ROWS; r++) {
            __m256 wr = _mm256_loadu_ps (w [r] + i);
            acc [r][0] = _mm256_fmadd_ps (wr, x0, acc [r][0]);
            acc [r][1] = _mm256_fmadd_ps (wr, x1, acc [r][1]);
        }
    }
    for (int r = 0; r < XINF_CPU_TILE_ROWS; r++)
        for (int j = 0; j < XINF_CPU_TILE_COLS; j++) {
            float sum = s_hsum (acc [r][j]);
            for (size_t k = i; k < cols; k++)
                sum += w [r][k] * x [j][k];
            out [r * XINF_CPU_TILE_COLS + j] = sum;
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

static const xinf_cpu_kern_t s_kern_avx2 = {
    "avx2", s_rows, s_to_f32, s_tile, s_dot, s_axpy
};

const xinf_cpu_kern_t *
xinf_cpu_kern_avx2 (void)
{
    __builtin_cpu_init ();
    if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") && __builtin_cpu_supports ("f16c"))
        return &s_kern_avx2;
    return NULL;
}

#else

const xinf_cpu_kern_t *
xinf_cpu_kern_avx2 (void)
{
    return NULL;
}

#endif
