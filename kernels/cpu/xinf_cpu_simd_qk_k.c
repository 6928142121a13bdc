/*  xinf_cpu_simd_qk_k: the AVX2 and AVX-512 (VNNI) k_rows of the K types
    (Q4_K, Q5_K, Q6_K; xinf_cpu_qk.h says the arithmetic, which both
    repeat bit for bit).

    A block of a row is decoded once for every vector, the group scales
    multiplied into the int16 weights (vpmullw); then per vector the 256
    products go into int32 lanes (AVX2: vpmaddwd into two accumulators of
    8 lanes; AVX-512: vpdpwssd into two of 16), the two added: each lane
    sums at most 32 products, so exact (xinf_cpu_qk.h); the lanes are
    summed in int64,
    the mins' sum of 8 products in int32, and the block's float step is
    scalar. AVX-512 keeps the decoded block in 8 registers.
*/
#include "xinf_cpu_qk.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>
#include <string.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))

//  How far ahead the weights are prefetched: 4 blocks into L1, S_FAR
//  bytes into L2 (the rows of a call lie one after another; the
//  hardware's streams stop at page boundaries).
#define S_FAR 4096

//  Prefetches for block b of a row.
static S_INLINE void
s_prefetch (const uint8_t *row, size_t b, size_t block_bytes)
{
    const uint8_t *near = row + (b + 4) * block_bytes;
    for (size_t line = 0; line < block_bytes; line += 64) {
        _mm_prefetch ((const char *) (near + line), _MM_HINT_T0);
        _mm_prefetch ((const char *) (near + S_FAR + line), _MM_HINT_T1);
    }
}

//  The block's d and dmin (0 for Q6_K), and its 8 mins and scales as
//  bytes (Q4_K, Q5_K: the 6-bit fields of xinf_qb_scale_min).
typedef struct {
    float d, dmin;
    uint8_t scales [8], mins [8];
} s_head_t;

S_AVX2 static S_INLINE float
s_half (const uint8_t *bytes)
{
    uint16_t half;
    memcpy (&half, bytes, 2);
    return _cvtsh_ss (half);
}

S_AVX2 static S_INLINE void
s_head (const uint8_t *block, s_head_t *head)
{
    uint32_t words [3], packed [4];
    memcpy (words, block + 4, 12);
    packed [0] = words [0] & 0x3f3f3f3fu;
    packed [1] = (words [2] & 0x0f0f0f0fu) | ((words [0] >> 2) & 0x30303030u);
    packed [2] = words [1] & 0x3f3f3f3fu;
    packed [3] = ((words [2] >> 4) & 0x0f0f0f0fu) | ((words [1] >> 2) & 0x30303030u);
    memcpy (head->scales, packed, 8);
    memcpy (head->mins, packed + 2, 8);
    head->d = s_half (block);
    head->dmin = s_half (block + 2);
}

//  msum = sum of m_g s_g (int32: 8 products of at most 63 * 32 * 16383).
S_AVX2 static S_INLINE int64_t
s_msum (const s_head_t *head, const int32_t *sums)
{
    __m256i m = _mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) head->mins));
    __m256i p = _mm256_mullo_epi32 (m, _mm256_loadu_si256 ((const __m256i *) sums));
    __m128i half = _mm_add_epi32 (_mm256_castsi256_si128 (p), _mm256_extracti128_si256 (p, 1));
    half = _mm_add_epi32 (half, _mm_shuffle_epi32 (half, 0x4e));
    half = _mm_add_epi32 (half, _mm_shuffle_epi32 (half, 0xb1));
    return _mm_cvtsi128_si32 (half);
}

//  ---- AVX2 -------------------------------------------------------------------------

//  32 bytes (values 0..255) minus bias times scale into q [32].
S_AVX2 static S_INLINE void
s_store (__m256i bytes, int bias, int scale_low, int scale_high, int16_t *q)
{
    __m256i shift = _mm256_set1_epi16 ((short) bias);
    __m256i low = _mm256_sub_epi16 (_mm256_cvtepu8_epi16 (_mm256_castsi256_si128 (bytes)), shift);
    __m256i high = _mm256_sub_epi16 (_mm256_cvtepu8_epi16 (_mm256_extracti128_si256 (bytes, 1)), shift);
    _mm256_store_si256 ((__m256i *) q, _mm256_mullo_epi16 (low, _mm256_set1_epi16 ((short) scale_low)));
    _mm256_store_si256 ((__m256i *) (q + 16), _mm256_mullo_epi16 (high, _mm256_set1_epi16 ((short) scale_high)));
}

//  A block folded into wq [256] (xinf_qb_k_fold's values).
S_AVX2 static void
s_fold_avx2 (xinf_dtype_t dtype, const uint8_t *block, int16_t *wq, s_head_t *head)
{
    __m256i mask = _mm256_set1_epi8 (15);
    if (dtype == XINF_DTYPE_Q6_K) {
        const int8_t *scales = (const int8_t *) (block + 192);
        __m256i three = _mm256_set1_epi8 (3);
        memset (head, 0, sizeof *head);
        head->d = s_half (block + 208);
        for (int h = 0; h < 2; h++) {
            __m256i first = _mm256_loadu_si256 ((const __m256i *) (block + 64 * h));
            __m256i second = _mm256_loadu_si256 ((const __m256i *) (block + 64 * h + 32));
            __m256i high = _mm256_loadu_si256 ((const __m256i *) (block + 128 + 32 * h));
            __m256i low [4] = { _mm256_and_si256 (first, mask), _mm256_and_si256 (second, mask),
                                _mm256_and_si256 (_mm256_srli_epi16 (first, 4), mask),
                                _mm256_and_si256 (_mm256_srli_epi16 (second, 4), mask) };
            for (int g = 0; g < 4; g++) {
                __m256i top = _mm256_and_si256 (_mm256_srli_epi16 (high, 2 * g), three);
                const int8_t *sc = scales + 8 * h + 2 * g;
                s_store (_mm256_or_si256 (low [g], _mm256_slli_epi16 (top, 4)), 32, sc [0], sc [1],
                         wq + 128 * h + 32 * g);
            }
        }
        return;
    }
    s_head (block, head);
    bool five = dtype == XINF_DTYPE_Q5_K;
    const uint8_t *qs = block + (five ? 48 : 16);
    __m256i one = _mm256_set1_epi8 (1);
    __m256i bits = five ? _mm256_loadu_si256 ((const __m256i *) (block + 16)) : _mm256_setzero_si256 ();
    for (int k = 0; k < 4; k++) {
        __m256i bytes = _mm256_loadu_si256 ((const __m256i *) (qs + 32 * k));
        __m256i low = _mm256_and_si256 (bytes, mask), high = _mm256_and_si256 (_mm256_srli_epi16 (bytes, 4), mask);
        if (five) {
            low = _mm256_or_si256 (low, _mm256_slli_epi16 (_mm256_and_si256 (bits, one), 4));
            high = _mm256_or_si256 (high, _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (bits, 1), one), 4));
            bits = _mm256_srli_epi16 (bits, 2);
        }
        int sc_low = head->scales [2 * k], sc_high = head->scales [2 * k + 1];
        s_store (low, 0, sc_low, sc_low, wq + 64 * k);
        s_store (high, 0, sc_high, sc_high, wq + 64 * k + 32);
    }
}

//  The int64 sum of 8 int32 lanes.
S_AVX2 static S_INLINE int64_t
s_sum64 (__m256i lanes)
{
    __m256i wide = _mm256_add_epi64 (_mm256_cvtepi32_epi64 (_mm256_castsi256_si128 (lanes)),
                                     _mm256_cvtepi32_epi64 (_mm256_extracti128_si256 (lanes, 1)));
    __m128i half = _mm_add_epi64 (_mm256_castsi256_si128 (wide), _mm256_extracti128_si256 (wide, 1));
    return _mm_cvtsi128_si64 (half) + _mm_extract_epi64 (half, 1);
}

S_AVX2 static void
s_k_rows_avx2 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
               float *y, size_t y_stride, void *scratch)
{
    int16_t *wq = scratch;
    size_t block_bytes = xinf_dtype_block_bytes (dtype);
    for (size_t r = 0; r < count; r++) {
        const uint8_t *row = w + r * row_bytes;
        for (size_t j = 0; j < act->n; j++)
            y [j * y_stride + r] = 0.0f;
        for (size_t b = 0; b < act->spans; b++) {
            s_head_t head;
            s_prefetch (row, b, block_bytes);
            s_fold_avx2 (dtype, row + b * block_bytes, wq, &head);
            for (size_t j = 0; j < act->n; j++) {
                const __m256i *x = (const __m256i *) (act->q + j * act->cols + b * 256);
                const __m256i *v = (const __m256i *) wq;
                __m256i even = _mm256_setzero_si256 (), odd = _mm256_setzero_si256 ();
                for (int i = 0; i < 16; i += 2) {
                    even = _mm256_add_epi32 (even, _mm256_madd_epi16 (_mm256_load_si256 (v + i), _mm256_load_si256 (x + i)));
                    odd = _mm256_add_epi32 (odd, _mm256_madd_epi16 (_mm256_load_si256 (v + i + 1), _mm256_load_si256 (x + i + 1)));
                }
                int64_t isum = s_sum64 (_mm256_add_epi32 (even, odd));    //  32 products a lane
                int64_t msum = dtype == XINF_DTYPE_Q6_K ? 0 : s_msum (&head, act->s + j * act->groups + b * 8);
                y [j * y_stride + r] = xinf_qk_k_step (y [j * y_stride + r], isum, msum, head.d, head.dmin,
                                                       act->d [j * act->spans + b]);
            }
        }
        for (size_t j = 0; j < act->n; j++)
            y [j * y_stride + r] = xinf_qk_canonical (y [j * y_stride + r]);
    }
}

//  ---- AVX-512 ------------------------------------------------------------------------

//  32 int16 lanes of byte values minus bias, times a scale a half.
S_AVX512 static S_INLINE __m512i
s_scaled (__m512i values, int bias, int scale_low, int scale_high)
{
    __m512i scale = _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm256_set1_epi16 ((short) scale_low)),
                                        _mm256_set1_epi16 ((short) scale_high), 1);
    return _mm512_mullo_epi16 (_mm512_sub_epi16 (values, _mm512_set1_epi16 ((short) bias)), scale);
}

//  A block folded into 8 registers of 32 weights.
S_AVX512 static S_INLINE void
s_fold_avx512 (xinf_dtype_t dtype, const uint8_t *block, __m512i *wq, s_head_t *head)
{
    __m512i mask = _mm512_set1_epi16 (15);
    if (dtype == XINF_DTYPE_Q6_K) {
        const int8_t *scales = (const int8_t *) (block + 192);
        __m512i three = _mm512_set1_epi16 (3);
        memset (head, 0, sizeof *head);
        head->d = s_half (block + 208);
        for (int h = 0; h < 2; h++) {
            __m512i first = _mm512_cvtepu8_epi16 (_mm256_loadu_si256 ((const __m256i *) (block + 64 * h)));
            __m512i second = _mm512_cvtepu8_epi16 (_mm256_loadu_si256 ((const __m256i *) (block + 64 * h + 32)));
            __m512i high = _mm512_cvtepu8_epi16 (_mm256_loadu_si256 ((const __m256i *) (block + 128 + 32 * h)));
            __m512i low [4] = { _mm512_and_si512 (first, mask), _mm512_and_si512 (second, mask),
                                _mm512_srli_epi16 (first, 4), _mm512_srli_epi16 (second, 4) };
            for (int g = 0; g < 4; g++) {
                __m512i top = _mm512_and_si512 (_mm512_srli_epi16 (high, 2 * g), three);
                const int8_t *sc = scales + 8 * h + 2 * g;
                wq [4 * h + g] = s_scaled (_mm512_or_si512 (low [g], _mm512_slli_epi16 (top, 4)), 32, sc [0], sc [1]);
            }
        }
        return;
    }
    s_head (block, head);
    bool five = dtype == XINF_DTYPE_Q5_K;
    const uint8_t *qs = block + (five ? 48 : 16);
    __m512i one = _mm512_set1_epi16 (1);
    __m512i bits = five ? _mm512_cvtepu8_epi16 (_mm256_loadu_si256 ((const __m256i *) (block + 16))) : _mm512_setzero_si512 ();
    for (int k = 0; k < 4; k++) {
        __m512i bytes = _mm512_cvtepu8_epi16 (_mm256_loadu_si256 ((const __m256i *) (qs + 32 * k)));
        __m512i low = _mm512_and_si512 (bytes, mask), high = _mm512_srli_epi16 (bytes, 4);
        if (five) {
            low = _mm512_or_si512 (low, _mm512_slli_epi16 (_mm512_and_si512 (_mm512_srli_epi16 (bits, 2 * k), one), 4));
            high = _mm512_or_si512 (high, _mm512_slli_epi16 (_mm512_and_si512 (_mm512_srli_epi16 (bits, 2 * k + 1), one), 4));
        }
        wq [2 * k] = _mm512_mullo_epi16 (low, _mm512_set1_epi16 (head->scales [2 * k]));
        wq [2 * k + 1] = _mm512_mullo_epi16 (high, _mm512_set1_epi16 (head->scales [2 * k + 1]));
    }
}

S_AVX512 static void
s_k_rows_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
                 float *y, size_t y_stride, void *scratch)
{
    size_t block_bytes = xinf_dtype_block_bytes (dtype);
    for (size_t r = 0; r < count; r++) {
        const uint8_t *row = w + r * row_bytes;
        for (size_t j = 0; j < act->n; j++)
            y [j * y_stride + r] = 0.0f;
        for (size_t b = 0; b < act->spans; b++) {
            s_head_t head;
            __m512i wq [8];
            s_prefetch (row, b, block_bytes);
            s_fold_avx512 (dtype, row + b * block_bytes, wq, &head);
            for (size_t j = 0; j < act->n; j++) {
                const int16_t *x = act->q + j * act->cols + b * 256;
                __m512i even = _mm512_setzero_si512 (), odd = _mm512_setzero_si512 ();
                for (int g = 0; g < 8; g += 2) {
                    even = _mm512_dpwssd_epi32 (even, wq [g], _mm512_load_si512 (x + 32 * g));
                    odd = _mm512_dpwssd_epi32 (odd, wq [g + 1], _mm512_load_si512 (x + 32 * g + 32));
                }
                __m512i lanes = _mm512_add_epi32 (even, odd);           //  32 products a lane at most
                __m512i wide = _mm512_add_epi64 (_mm512_cvtepi32_epi64 (_mm512_castsi512_si256 (lanes)),
                                                 _mm512_cvtepi32_epi64 (_mm512_extracti64x4_epi64 (lanes, 1)));
                int64_t isum = _mm512_reduce_add_epi64 (wide);
                int64_t msum = dtype == XINF_DTYPE_Q6_K ? 0 : s_msum (&head, act->s + j * act->groups + b * 8);
                y [j * y_stride + r] = xinf_qk_k_step (y [j * y_stride + r], isum, msum, head.d, head.dmin,
                                                       act->d [j * act->spans + b]);
            }
        }
        for (size_t j = 0; j < act->n; j++)
            y [j * y_stride + r] = xinf_qk_canonical (y [j * y_stride + r]);
    }
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx2 (void)
{
    return s_k_rows_avx2;
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx512 (void)
{
    return s_k_rows_avx512;
}

#else

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx2 (void)
{
    return NULL;
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx512 (void)
{
    return NULL;
}

#endif
