/*  xinf_cpu_simd_qk_quant: the AVX-512 builds of the quantizers of x: the
    K types' 8 bits (xinf_cpu_qk_quantize_k) and the 32-weight types' 15
    bits with their split (xinf_cpu_qk_quantize_span, xinf_cpu_qk_split):
    the same values.
*/
#include "xinf_cpu_qk.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>
#include <string.h>

#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

//  xinf_cpu_qk_quantize_k's operations, 16 floats an instruction (the
//  same division; roundscale rounds half to even as the portable magic
//  number does).
S_AVX512 static void
s_quantize_k_avx512 (const float *x, int8_t *q, float *d, int16_t *s16, int16_t *s32)
{
    __m512i top = _mm512_setzero_si512 (), magnitude = _mm512_set1_epi32 (0x7fffffff);
    for (int i = 0; i < 256; i += 16)
        top = _mm512_max_epu32 (top, _mm512_and_si512 (_mm512_loadu_si512 (x + i), magnitude));
    uint32_t bits = _mm512_reduce_max_epu32 (top);
    float amax;
    memcpy (&amax, &bits, 4);
    float scale = amax / (float) XINF_QK_K_ACT_MAX;
    if (bits >= 0x7f800000u || scale == 0) {
        uint32_t nan = 0x7fc00000u;
        memset (q, 0, 256);
        memset (s16, 0, 16 * sizeof *s16);
        memset (s32, 0, 8 * sizeof *s32);
        if (bits >= 0x7f800000u)
            memcpy (&scale, &nan, 4);
        *d = scale;
        return;
    }
    *d = scale;
    __m512 divisor = _mm512_set1_ps (scale);
    __m512 low = _mm512_set1_ps (-XINF_QK_K_ACT_MAX), high = _mm512_set1_ps (XINF_QK_K_ACT_MAX);
    for (int i = 0; i < 16; i++) {
        __m512 value = _mm512_div_ps (_mm512_loadu_ps (x + 16 * i), divisor);
        value = _mm512_roundscale_ps (value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512i whole = _mm512_cvtps_epi32 (_mm512_min_ps (_mm512_max_ps (value, low), high));
        _mm_storeu_si128 ((__m128i *) (q + 16 * i), _mm512_cvtepi32_epi8 (whole));
        s16 [i] = (int16_t) _mm512_reduce_add_epi32 (whole);
    }
    for (int g = 0; g < 8; g++)
        s32 [g] = (int16_t) (s16 [2 * g] + s16 [2 * g + 1]);
}

xinf_cpu_qk_quantize_k_fn *
xinf_cpu_qk_quantize_k_avx512 (void)
{
    return s_quantize_k_avx512;
}

//  xinf_cpu_qk_quantize_span's operations on the cols / 32 spans of x, 16
//  floats an instruction, and where split is not NULL the vector's split
//  bytes as xinf_cpu_qk_split writes them (those of cols only).
S_AVX512 static void
s_quantize32_avx512 (const float *x, size_t cols, int16_t *q, float *d, int32_t *s, int8_t *split)
{
    __m512i magnitude = _mm512_set1_epi32 (0x7fffffff);
    __m512 low = _mm512_set1_ps (-XINF_QK_ACT_MAX), high = _mm512_set1_ps (XINF_QK_ACT_MAX);
    for (size_t g = 0; g < cols / XINF_QUANT_GROUP; g++, x += XINF_QUANT_GROUP, q += XINF_QUANT_GROUP) {
        __m512 first = _mm512_loadu_ps (x), second = _mm512_loadu_ps (x + 16);
        __m512i top = _mm512_max_epu32 (_mm512_and_si512 (_mm512_castps_si512 (first), magnitude),
                                        _mm512_and_si512 (_mm512_castps_si512 (second), magnitude));
        uint32_t bits = _mm512_reduce_max_epu32 (top);
        float amax, scale;
        memcpy (&amax, &bits, 4);
        scale = amax / (float) XINF_QK_ACT_MAX;
        __m512i codes = _mm512_setzero_si512 ();
        s [g] = 0;
        if (bits >= 0x7f800000u) {
            uint32_t nan = 0x7fc00000u;
            memcpy (&scale, &nan, 4);
        }
        else if (scale != 0) {
            __m512 divisor = _mm512_set1_ps (scale);
            __m512 a = _mm512_roundscale_ps (_mm512_div_ps (first, divisor), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512 b = _mm512_roundscale_ps (_mm512_div_ps (second, divisor), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512i wa = _mm512_cvtps_epi32 (_mm512_min_ps (_mm512_max_ps (a, low), high));
            __m512i wb = _mm512_cvtps_epi32 (_mm512_min_ps (_mm512_max_ps (b, low), high));
            s [g] = _mm512_reduce_add_epi32 (_mm512_add_epi32 (wa, wb));
            codes = _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm512_cvtepi32_epi16 (wa)), _mm512_cvtepi32_epi16 (wb), 1);
        }
        d [g] = scale;
        _mm512_storeu_si512 (q, codes);
        if (split) {
            //  group g's 16 bytes in the halves of its 128 weights
            int8_t *at = split + g / 4 * 256 + g % 4 * 16;
            __m256i qh = _mm512_cvtepi16_epi8 (_mm512_srai_epi16 (codes, 7));
            __m256i ql = _mm512_cvtepi16_epi8 (_mm512_and_si512 (codes, _mm512_set1_epi16 (127)));
            _mm_storeu_si128 ((__m128i *) at, _mm256_castsi256_si128 (qh));
            _mm_storeu_si128 ((__m128i *) (at + 64), _mm256_extracti128_si256 (qh, 1));
            _mm_storeu_si128 ((__m128i *) (at + 128), _mm256_castsi256_si128 (ql));
            _mm_storeu_si128 ((__m128i *) (at + 192), _mm256_extracti128_si256 (ql, 1));
        }
    }
}

xinf_cpu_qk_quantize32_fn *
xinf_cpu_qk_quantize32_avx512 (void)
{
    return s_quantize32_avx512;
}

#else

xinf_cpu_qk_quantize_k_fn *
xinf_cpu_qk_quantize_k_avx512 (void)
{
    return NULL;
}

xinf_cpu_qk_quantize32_fn *
xinf_cpu_qk_quantize32_avx512 (void)
{
    return NULL;
}

#endif
