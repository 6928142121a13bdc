/*  xinf_cpu_silu: gate = silu (gate) * up, silu (g) = g / (1 + e^-g),
    gate = gelu (gate) * up in GELU's tanh form (Gemma's), and softmax's
    x = e^(x - top) (0 below e^-87), in portable C and in AVX2 (8 lanes),
    the same bits in both.

    GELU's tanh form 0.5 g (1 + tanh (u)), u = sqrt (2 / pi) (g + 0.044715
    g^3), is g / (1 + e^(-2u)) (as 1 + tanh (u) = 2 / (1 + e^(-2u))), so it
    takes the same e^t: 2u = g (S_GELU_A + S_GELU_B g^2).

    e^t is computed here rather than by libm's expf, so that the SIMD code
    can repeat it exactly (this file is compiled without FMA contraction):
        t = max (t, -87), then t > 88: e = +Inf (NaN stays NaN)
        t = min (t, 88)
        n = rne (t * log2 e)               (by adding and subtracting 1.5 * 2^23)
        r = (t - n * 0.693359375) - n * -2.12194440e-4
        p = Cephes' degree 5 polynomial of r (Horner, a multiply and an add a step)
        e = ((p * (r * r)) + r) + 1, times 2^n (exponent bits)
    (a NaN t gives e = t). Error: about 2 ulp of e^t against 1 of expf. For t < -87 this gives
    e^-87 (2^-126 .. 2^-125): 1 + e is 1 either way.
*/
#include "xinf_cpu_kern.h"

#include <stdint.h>
#include <string.h>

#define S_LOW -87.0f
#define S_HIGH 88.0f
#define S_LOG2E 1.44269504088896341f
#define S_LN2_HI 0.693359375f
#define S_LN2_LO -2.12194440e-4f
#define S_ROUND 12582912.0f          //  1.5 * 2^23
#define S_P0 1.9875691500e-4f
#define S_P1 1.3981999507e-3f
#define S_P2 8.3334519073e-3f
#define S_P3 4.1665795894e-2f
#define S_P4 1.6666665459e-1f
#define S_P5 5.0000001201e-1f
#define S_GELU_A 1.59576912161f       //  2 sqrt (2 / pi)
#define S_GELU_B 0.0713548162726f     //  2 sqrt (2 / pi) 0.044715

static float
s_exp (float t)
{
    if (t != t)
        return t;
    float above = t;
    t = t < S_LOW ? S_LOW : t;
    t = t > S_HIGH ? S_HIGH : t;
    float n = t * S_LOG2E;
    n = n + S_ROUND;
    n = n - S_ROUND;
    float r = t - n * S_LN2_HI;
    r = r - n * S_LN2_LO;
    float p = S_P0 * r + S_P1;
    p = p * r + S_P2;
    p = p * r + S_P3;
    p = p * r + S_P4;
    p = p * r + S_P5;
    float e = p * (r * r) + r;
    e = e + 1.0f;
    uint32_t bits = (uint32_t) ((int32_t) n + 127) << 23;
    float scale;
    memcpy (&scale, &bits, 4);
    e = e * scale;
    return above > S_HIGH ? xinf_dtype_bits_to_f32 (0x7f800000u) : e;
}

void
xinf_cpu_silu_mul_portable (float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate [i];
        float e = s_exp (-g);
        float denominator = 1.0f + e;
        float silu = g / denominator;
        gate [i] = silu * up [i];
    }
}

void
xinf_cpu_gelu_mul_portable (float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate [i];
        float square = g * g;
        float inner = S_GELU_B * square + S_GELU_A;
        float twice_u = g * inner;
        float e = s_exp (-twice_u);
        float denominator = 1.0f + e;
        float gelu = g / denominator;
        gate [i] = gelu * up [i];
    }
}

void
xinf_cpu_exp_shift_portable (float *x, size_t n, float top)
{
    for (size_t i = 0; i < n; i++) {
        float t = x [i] - top;
        x [i] = t < S_LOW ? 0.0f : s_exp (t);        //  -Inf (a masked score) is 0
    }
}

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))

//  s_exp in 8 lanes; a NaN t gives some NaN (silu is then g's NaN, as in
//  s_exp: the division returns its first operand's).
S_AVX2 static inline __m256
s_exp8 (__m256 t)
{
    __m256 above = _mm256_cmp_ps (t, _mm256_set1_ps (S_HIGH), _CMP_GT_OQ);
    t = _mm256_max_ps (_mm256_set1_ps (S_LOW), t);
    t = _mm256_min_ps (_mm256_set1_ps (S_HIGH), t);
    __m256 n = _mm256_mul_ps (t, _mm256_set1_ps (S_LOG2E));
    n = _mm256_add_ps (n, _mm256_set1_ps (S_ROUND));
    n = _mm256_sub_ps (n, _mm256_set1_ps (S_ROUND));
    __m256 r = _mm256_sub_ps (t, _mm256_mul_ps (n, _mm256_set1_ps (S_LN2_HI)));
    r = _mm256_sub_ps (r, _mm256_mul_ps (n, _mm256_set1_ps (S_LN2_LO)));
    __m256 p = _mm256_add_ps (_mm256_mul_ps (_mm256_set1_ps (S_P0), r), _mm256_set1_ps (S_P1));
    p = _mm256_add_ps (_mm256_mul_ps (p, r), _mm256_set1_ps (S_P2));
    p = _mm256_add_ps (_mm256_mul_ps (p, r), _mm256_set1_ps (S_P3));
    p = _mm256_add_ps (_mm256_mul_ps (p, r), _mm256_set1_ps (S_P4));
    p = _mm256_add_ps (_mm256_mul_ps (p, r), _mm256_set1_ps (S_P5));
    __m256 e = _mm256_add_ps (_mm256_mul_ps (p, _mm256_mul_ps (r, r)), r);
    e = _mm256_add_ps (e, _mm256_set1_ps (1.0f));
    __m256i bits = _mm256_slli_epi32 (_mm256_add_epi32 (_mm256_cvttps_epi32 (n), _mm256_set1_epi32 (127)), 23);
    e = _mm256_mul_ps (e, _mm256_castsi256_ps (bits));
    return _mm256_blendv_ps (e, _mm256_castsi256_ps (_mm256_set1_epi32 (0x7f800000)), above);
}

S_AVX2 void
xinf_cpu_silu_mul_avx2 (float *gate, const float *up, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps (gate + i);
        __m256 e = s_exp8 (_mm256_xor_ps (g, _mm256_set1_ps (-0.0f)));
        __m256 silu = _mm256_div_ps (g, _mm256_add_ps (_mm256_set1_ps (1.0f), e));
        _mm256_storeu_ps (gate + i, _mm256_mul_ps (silu, _mm256_loadu_ps (up + i)));
    }
    xinf_cpu_silu_mul_portable (gate + i, up + i, n - i);
}

S_AVX2 void
xinf_cpu_gelu_mul_avx2 (float *gate, const float *up, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps (gate + i);
        __m256 inner = _mm256_add_ps (_mm256_mul_ps (_mm256_set1_ps (S_GELU_B), _mm256_mul_ps (g, g)),
                                      _mm256_set1_ps (S_GELU_A));
        __m256 e = s_exp8 (_mm256_xor_ps (_mm256_mul_ps (g, inner), _mm256_set1_ps (-0.0f)));
        __m256 gelu = _mm256_div_ps (g, _mm256_add_ps (_mm256_set1_ps (1.0f), e));
        _mm256_storeu_ps (gate + i, _mm256_mul_ps (gelu, _mm256_loadu_ps (up + i)));
    }
    xinf_cpu_gelu_mul_portable (gate + i, up + i, n - i);
}

S_AVX2 void
xinf_cpu_exp_shift_avx2 (float *x, size_t n, float top)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 t = _mm256_sub_ps (_mm256_loadu_ps (x + i), _mm256_set1_ps (top));
        __m256 low = _mm256_cmp_ps (t, _mm256_set1_ps (S_LOW), _CMP_LT_OQ);
        _mm256_storeu_ps (x + i, _mm256_andnot_ps (low, s_exp8 (t)));
    }
    xinf_cpu_exp_shift_portable (x + i, n - i, top);
}

#endif
