/*  xinf_cpu_simd_qk: the AVX2 and AVX-512 kernel sets of the quantized
    types' products (xinf_cpu_qk.h says the arithmetic, which both repeat
    bit for bit).

    Decoding: the portable decoders (xinf_quant_blocks.h) compiled for
    AVX2, which the compiler vectorizes (integers and exact products: the
    same values).
    Products, per group of the chunk and vector: the 8 rows' exact block
    sums of int16 products (AVX2: two vpmaddwd of 16 weights a row;
    AVX-512BW: one vpmaddwd of 32), the rows' lanes summed by a tree of
    hadds into one vector of the 8 rows' sums, then the float step for
    the 8 rows in 8 lanes.
*/
#include "xinf_cpu_qk.h"

#if defined (__x86_64__) && defined (__GNUC__)

#include <immintrin.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 8")

#pragma GCC push_options
#pragma GCC target ("avx2,fma,f16c")
#include "xinf_quant_blocks.h"

static void
s_decode (xinf_dtype_t dtype, const void *row, size_t first, size_t count, int16_t *q, size_t q_stride,
          float *a, float *c, size_t ac_stride)
{
    xinf_qb_decode (dtype, row, first, count, q, q_stride, a, c, ac_stride);
}

//  xinf_quant_to_f32's arithmetic, 8 floats an instruction.
static void
s_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    size_t block_size = xinf_dtype_block_size (dtype);
    size_t blocks = block_size ? cols / block_size : 0, groups = block_size / XINF_QUANT_GROUP;
    bool mins = dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1 || dtype == XINF_DTYPE_Q4_K
                || dtype == XINF_DTYPE_Q5_K;
    for (size_t b = 0; b < blocks && dtype == XINF_DTYPE_Q6_K; b++)
        xinf_qb_q6_k_f32 ((const uint8_t *) row + b * 210, out + b * 256);
    for (size_t b = 0; b < blocks && dtype != XINF_DTYPE_Q6_K; b++) {
        int16_t q [8][XINF_QUANT_GROUP];
        float a [8], c [8];
        xinf_qb_decode (dtype, row, b, 1, q [0], XINF_QUANT_GROUP, a, c, 1);
        for (size_t g = 0; g < groups; g++, out += XINF_QUANT_GROUP) {
            __m256 scale = _mm256_set1_ps (a [g]), add = _mm256_set1_ps (c [g]);
            for (int i = 0; i < XINF_QUANT_GROUP; i += 8) {
                __m256 value = _mm256_cvtepi32_ps (_mm256_cvtepi16_epi32 (_mm_loadu_si128 ((const __m128i *) (q [g] + i))));
                value = _mm256_mul_ps (value, scale);
                _mm256_storeu_ps (out + i, mins ? _mm256_add_ps (value, add) : value);
            }
        }
    }
}
#pragma GCC pop_options

//  Lane r = the sum of the 8 lanes of p [r].
S_AVX2 static S_INLINE __m256i
s_reduce8 (const __m256i *p)
{
    __m256i h01 = _mm256_hadd_epi32 (p [0], p [1]), h23 = _mm256_hadd_epi32 (p [2], p [3]);
    __m256i h45 = _mm256_hadd_epi32 (p [4], p [5]), h67 = _mm256_hadd_epi32 (p [6], p [7]);
    __m256i low = _mm256_hadd_epi32 (h01, h23), high = _mm256_hadd_epi32 (h45, h67);
    return _mm256_add_epi32 (_mm256_permute2x128_si256 (low, high, 0x20),
                             _mm256_permute2x128_si256 (low, high, 0x31));
}

//  acc + the step of 8 rows' block sums.
S_AVX2 static S_INLINE __m256
s_step (__m256 acc, __m256i isum, const float *a, const float *c, int32_t s, float d)
{
    __m256 scaled = _mm256_mul_ps (_mm256_cvtepi32_ps (isum), _mm256_loadu_ps (a));
    __m256 mins = _mm256_mul_ps (_mm256_set1_ps ((float) s), _mm256_loadu_ps (c));
    __m256 term = _mm256_mul_ps (_mm256_add_ps (scaled, mins), _mm256_set1_ps (d));
    return _mm256_add_ps (acc, term);
}

S_AVX2 static void
s_chunk_avx2 (const xinf_qk_chunk_t *chunk, size_t groups, const xinf_qk_act_t *act, size_t first, float *acc)
{
    for (size_t j = 0; j < act->n; j++) {
        const int16_t *x = act->q + j * act->cols + first * XINF_QUANT_GROUP;
        const float *d = act->d + j * act->groups + first;
        const int32_t *s = act->s + j * act->groups + first;
        __m256 sum = _mm256_loadu_ps (acc + j * XINF_QK_ROWS);
        for (size_t g = 0; g < groups; g++, x += XINF_QUANT_GROUP) {
            __m256i x_low = _mm256_load_si256 ((const __m256i *) x), x_high = _mm256_load_si256 ((const __m256i *) (x + 16));
            __m256i p [XINF_QK_ROWS];
            S_UNROLL for (int r = 0; r < XINF_QK_ROWS; r++) {
                const __m256i *w = (const __m256i *) chunk->q [g][r];
                p [r] = _mm256_add_epi32 (_mm256_madd_epi16 (_mm256_load_si256 (w), x_low),
                                          _mm256_madd_epi16 (_mm256_load_si256 (w + 1), x_high));
            }
            sum = s_step (sum, s_reduce8 (p), chunk->a [g], chunk->c [g], s [g], d [g]);
        }
        _mm256_storeu_ps (acc + j * XINF_QK_ROWS, sum);
    }
}

S_AVX512 static void
s_chunk_avx512 (const xinf_qk_chunk_t *chunk, size_t groups, const xinf_qk_act_t *act, size_t first, float *acc)
{
    for (size_t j = 0; j < act->n; j++) {
        const int16_t *x = act->q + j * act->cols + first * XINF_QUANT_GROUP;
        const float *d = act->d + j * act->groups + first;
        const int32_t *s = act->s + j * act->groups + first;
        __m256 sum = _mm256_loadu_ps (acc + j * XINF_QK_ROWS);
        for (size_t g = 0; g < groups; g++, x += XINF_QUANT_GROUP) {
            __m512i xq = _mm512_load_si512 (x);
            __m256i p [XINF_QK_ROWS];
            S_UNROLL for (int r = 0; r < XINF_QK_ROWS; r++) {
                __m512i product = _mm512_madd_epi16 (_mm512_load_si512 (chunk->q [g][r]), xq);
                p [r] = _mm256_add_epi32 (_mm512_castsi512_si256 (product), _mm512_extracti64x4_epi64 (product, 1));
            }
            sum = s_step (sum, s_reduce8 (p), chunk->a [g], chunk->c [g], s [g], d [g]);
        }
        _mm256_storeu_ps (acc + j * XINF_QK_ROWS, sum);
    }
}

static const xinf_cpu_qk_kern_t s_avx2 = { "avx2", s_decode, s_chunk_avx2, s_to_f32 };
static const xinf_cpu_qk_kern_t s_avx512 = { "avx512", s_decode, s_chunk_avx512, s_to_f32 };

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx2 (void)
{
    __builtin_cpu_init ();
    if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma") || !__builtin_cpu_supports ("f16c"))
        return NULL;
    return &s_avx2;
}

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx512 (void)
{
    if (!xinf_cpu_qk_avx2 () || !__builtin_cpu_supports ("avx512f") || !__builtin_cpu_supports ("avx512bw")
        || !__builtin_cpu_supports ("avx512vl"))
        return NULL;
    return &s_avx512;
}

#else

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx2 (void)
{
    return NULL;
}

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx512 (void)
{
    return NULL;
}

#endif
