/*  xinf_cpu_simd: inline helpers of the x86-64 SIMD kernel files, shared
    where two files must do the same arithmetic (the matvec rows and their
    multi-vector twin). Private to kernels/cpu; GCC or clang on x86-64.
*/
#ifndef XINF_CPU_SIMD_H_INCLUDED
#define XINF_CPU_SIMD_H_INCLUDED

#include <immintrin.h>
#include <stdint.h>

#define XINF_SIMD_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define XINF_SIMD_AVX512 __attribute__ ((target ("avx512f,avx2,fma,f16c")))

//  Every function between BEGIN and END (an included header's too) is
//  compiled for AVX2: GCC's target pragma, clang's attribute push.
#if defined (__clang__)
#   define XINF_SIMD_AVX2_BEGIN \
        _Pragma ("clang attribute push (__attribute__ ((target (\"avx2,fma,f16c\"))), apply_to = function)")
#   define XINF_SIMD_AVX2_END _Pragma ("clang attribute pop")
#else
#   define XINF_SIMD_AVX2_BEGIN _Pragma ("GCC push_options") _Pragma ("GCC target (\"avx2,fma,f16c\")")
#   define XINF_SIMD_AVX2_END _Pragma ("GCC pop_options")
#endif

//  The sum of the 8 lanes: halves, then pairs, then the last two.
XINF_SIMD_AVX2 static inline float
xinf_simd_hsum (__m256 v)
{
    __m128 sum = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
    sum = _mm_add_ps (sum, _mm_movehl_ps (sum, sum));
    sum = _mm_add_ss (sum, _mm_movehdup_ps (sum));
    return _mm_cvtss_f32 (sum);
}

//  8 F16 values as floats (F16C).
XINF_SIMD_AVX2 static inline __m256
xinf_simd_load_f16 (const uint16_t *p)
{
    return _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) p));
}

//  8 BF16 values as floats.
XINF_SIMD_AVX2 static inline __m256
xinf_simd_load_bf16 (const uint16_t *p)
{
    __m256i wide = _mm256_cvtepu16_epi32 (_mm_loadu_si128 ((const __m128i *) p));
    return _mm256_castsi256_ps (_mm256_slli_epi32 (wide, 16));
}

//  8 int8 values as floats.
XINF_SIMD_AVX2 static inline __m256
xinf_simd_load_i8 (const uint8_t *p)
{
    __m128i bytes = _mm_loadl_epi64 ((const __m128i *) p);
    return _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (bytes));
}

#endif
