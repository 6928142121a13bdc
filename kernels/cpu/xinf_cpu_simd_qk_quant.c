/*  xinf_cpu_simd_qk_quant: the AVX-512 build of the K types' 8-bit
    quantizer of x (xinf_cpu_qk_quantize_k: the same values).
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

#else

xinf_cpu_qk_quantize_k_fn *
xinf_cpu_qk_quantize_k_avx512 (void)
{
    return NULL;
}

#endif
