/*  xinf_sampler_row: the sampler's passes over a row, in portable C and in
    AVX2, the same results in both (xinf_sampler_row.h). Compiled without
    FMA contraction.

    floor and ldexp, which the definition names, are computed here by
    exact means instead of libm's calls (which also keep a compiler from
    vectorizing the loop):
    - floor (v) for v in (-1076, 1): v truncated to an int, less 1 where
      that is above v (the AVX2 code: roundpd toward -inf);
    - ldexp (s, k) for s in [0.7, 1.5) and k in [-1076, 1]:
      (s * 2^(k + 100)) * 2^-100. The first product is exact (a normal
      double), the second rounds once to nearest, as ldexp does when the
      result is subnormal; for a normal result both are exact.
*/
#include "xinf_sampler_row.h"
#include "xinf_cpu_cpuid.h"
#include "xinf_cpu_kern.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define S_LOW -745.0
#define S_LOG2E 1.4426950408889634
#define S_LN2_HI 6.93147180369123816490e-01
#define S_LN2_LO 1.90821492927058770002e-10
#define S_LIFT 100                   //  2^k is taken as 2^(k + S_LIFT) * 2^-S_LIFT

//  1/n! for n = 0 .. 12
static const double s_inverse_factorial [13] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600
};

//  2^e as a double, for e in [-1022, 1023].
static double
s_power_of_two (int e)
{
    uint64_t bits = (uint64_t) (e + 1023) << 52;
    double power;
    memcpy (&power, &bits, sizeof power);
    return power;
}

double
xinf_sampler_exp (double x)
{
    if (!(x > S_LOW))
        return 0;
    double v = x * S_LOG2E + 0.5;
    int k = (int) v;                 //  toward zero, then down to floor (v)
    if ((double) k > v)
        k--;
    double r = (x - (double) k * S_LN2_HI) - (double) k * S_LN2_LO;
    double sum = s_inverse_factorial [12];
    for (int n = 11; n >= 0; n--)
        sum = sum * r + s_inverse_factorial [n];
    return sum * s_power_of_two (k + S_LIFT) * s_power_of_two (-S_LIFT);
}

//  A logit's x: NaN counts as -inf.
static double
s_scaled (float logit, float top, double temperature)
{
    double value = isnan (logit) ? -INFINITY : (double) logit;
    return (value - top) / temperature;
}

size_t
xinf_sampler_argmax_portable (const float *logits, size_t n)
{
    size_t best = 0;
    float top = isnan (logits [0]) ? -INFINITY : logits [0];
    for (size_t i = 1; i < n; i++)
        if (logits [i] > top) {
            top = logits [i];
            best = i;
        }
    return best;
}

size_t
xinf_sampler_next_above_portable (const float *logits, size_t from, size_t n, float floor)
{
    while (from < n && !(logits [from] > floor))
        from++;
    return from;
}

//  Weighs logits [from, n) and adds each weight to 'sum' in turn.
static double
s_weigh_on (const float *logits, size_t from, size_t n, float top, double temperature, double *weights, double sum)
{
    for (size_t i = from; i < n; i++)
        sum += weights [i] = xinf_sampler_exp (s_scaled (logits [i], top, temperature));
    return sum;
}

double
xinf_sampler_weigh_portable (const float *logits, size_t n, float top, double temperature, double *weights)
{
    return s_weigh_on (logits, 0, n, top, temperature, weights, 0);
}

size_t
xinf_sampler_trim_portable (float *logits, size_t n, float least)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (logits [i] >= least)
            kept++;
        else
            logits [i] = -INFINITY;
    }
    return kept;
}

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))

//  Whether this CPU has the AVX2 set, asked once (CPUID can cost a
//  microsecond or more in a virtual machine): 0 not yet asked, 1 no, 2 yes.
static atomic_int s_avx2;

static bool
s_has_avx2 (void)
{
    int known = atomic_load_explicit (&s_avx2, memory_order_relaxed);
    if (known == 0) {
        known = xinf_cpu_has_avx2_set () ? 2 : 1;
        atomic_store_explicit (&s_avx2, known, memory_order_relaxed);
    }
    return known == 2;
}

//  xinf_sampler_exp of S_WAYS vectors of 4 lanes, in place. The vectors
//  go through each step together: each one's steps wait on each other
//  (about 100 cycles from x to e^x), and the CPU would otherwise fill its
//  queues with one vector's waiting steps.
#define S_WAYS 4

S_AVX2 static inline void
s_exp4 (__m256d x [S_WAYS])
{
    __m256d valid [S_WAYS], k [S_WAYS], r [S_WAYS], sum [S_WAYS];
#pragma GCC unroll 4
    for (int j = 0; j < S_WAYS; j++) {
        valid [j] = _mm256_cmp_pd (x [j], _mm256_set1_pd (S_LOW), _CMP_GT_OQ);
        __m256d v = _mm256_add_pd (_mm256_mul_pd (x [j], _mm256_set1_pd (S_LOG2E)), _mm256_set1_pd (0.5));
        k [j] = _mm256_floor_pd (_mm256_and_pd (v, valid [j]));      //  0 where invalid: k stays in range
        r [j] = _mm256_sub_pd (x [j], _mm256_mul_pd (k [j], _mm256_set1_pd (S_LN2_HI)));
        r [j] = _mm256_sub_pd (r [j], _mm256_mul_pd (k [j], _mm256_set1_pd (S_LN2_LO)));
        sum [j] = _mm256_set1_pd (s_inverse_factorial [12]);
    }
#pragma GCC unroll 12
    for (int n = 11; n >= 0; n--)
#pragma GCC unroll 4
        for (int j = 0; j < S_WAYS; j++)
            sum [j] = _mm256_add_pd (_mm256_mul_pd (sum [j], r [j]), _mm256_set1_pd (s_inverse_factorial [n]));
#pragma GCC unroll 4
    for (int j = 0; j < S_WAYS; j++) {
        __m256i e = _mm256_cvtepi32_epi64 (_mm256_cvttpd_epi32 (k [j]));
        e = _mm256_slli_epi64 (_mm256_add_epi64 (e, _mm256_set1_epi64x (1023 + S_LIFT)), 52);
        sum [j] = _mm256_mul_pd (sum [j], _mm256_castsi256_pd (e));
        sum [j] = _mm256_mul_pd (sum [j], _mm256_set1_pd (s_power_of_two (-S_LIFT)));
        x [j] = _mm256_and_pd (sum [j], valid [j]);
    }
}

//  The largest of logits [0, n), NaN left out; -inf when none is larger.
S_AVX2 static float
s_max_avx2 (const float *logits, size_t n)
{
    __m256 top8 = _mm256_set1_ps (-INFINITY);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        top8 = _mm256_max_ps (_mm256_loadu_ps (logits + i), top8);   //  a NaN lane keeps top8's
    float lanes [8], top = -INFINITY;
    _mm256_storeu_ps (lanes, top8);
    for (int lane = 0; lane < 8; lane++)
        top = lanes [lane] > top ? lanes [lane] : top;
    for (; i < n; i++)
        top = logits [i] > top ? logits [i] : top;
    return top;
}

//  The first index of a logit equal to 'top', which one is (so the
//  tail's loop ends within the row).
S_AVX2 static size_t
s_find_avx2 (const float *logits, size_t n, float top)
{
    __m256 top8 = _mm256_set1_ps (top);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        int equal = _mm256_movemask_ps (_mm256_cmp_ps (_mm256_loadu_ps (logits + i), top8, _CMP_EQ_OQ));
        if (equal)
            return i + (size_t) __builtin_ctz ((unsigned) equal);
    }
    while (logits [i] != top)
        i++;
    return i;
}

S_AVX2 static size_t
s_next_above_avx2 (const float *logits, size_t from, size_t n, float floor)
{
    __m256 floor8 = _mm256_set1_ps (floor);
    for (; from + 8 <= n; from += 8) {
        int above = _mm256_movemask_ps (_mm256_cmp_ps (_mm256_loadu_ps (logits + from), floor8, _CMP_GT_OQ));
        if (above)
            return from + (size_t) __builtin_ctz ((unsigned) above);
    }
    return xinf_sampler_next_above_portable (logits, from, n, floor);
}

S_AVX2 static size_t
s_trim_avx2 (float *logits, size_t n, float least)
{
    __m256 least8 = _mm256_set1_ps (least), none8 = _mm256_set1_ps (-INFINITY);
    size_t kept = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 value = _mm256_loadu_ps (logits + i);
        __m256 keep = _mm256_cmp_ps (value, least8, _CMP_GE_OQ);       //  false for a NaN
        kept += (size_t) __builtin_popcount ((unsigned) _mm256_movemask_ps (keep));
        _mm256_storeu_ps (logits + i, _mm256_blendv_ps (none8, value, keep));
    }
    return kept + xinf_sampler_trim_portable (logits + i, n - i, least);
}

//  4 logits' x: NaN counts as -inf.
S_AVX2 static inline __m256d
s_scaled4 (const float *logits, __m256d top, __m256d temperature)
{
    __m256d value = _mm256_cvtps_pd (_mm_loadu_ps (logits));
    __m256d nan = _mm256_cmp_pd (value, value, _CMP_UNORD_Q);
    value = _mm256_blendv_pd (value, _mm256_set1_pd (-INFINITY), nan);
    return _mm256_div_pd (_mm256_sub_pd (value, top), temperature);
}

S_AVX2 static double
s_weigh_avx2 (const float *logits, size_t n, float top, double temperature, double *weights)
{
    __m256d top4 = _mm256_set1_pd (top), temperature4 = _mm256_set1_pd (temperature);
    double sum = 0;
    size_t i = 0;
    for (; i + 4 * S_WAYS <= n; i += 4 * S_WAYS) {
        __m256d w [S_WAYS];
#pragma GCC unroll 4
        for (int j = 0; j < S_WAYS; j++)
            w [j] = s_scaled4 (logits + i + 4 * j, top4, temperature4);
        s_exp4 (w);
#pragma GCC unroll 4
        for (int j = 0; j < S_WAYS; j++)
            _mm256_storeu_pd (weights + i + 4 * j, w [j]);
        for (size_t j = i; j < i + 4 * S_WAYS; j++)
            sum += weights [j];
    }
    return s_weigh_on (logits, i, n, top, temperature, weights, sum);
}

bool
xinf_sampler_weigh_avx2 (const float *logits, size_t n, float top, double temperature, double *weights,
                         double *sum)
{
    if (!s_has_avx2 ())
        return false;
    *sum = s_weigh_avx2 (logits, n, top, temperature, weights);
    return true;
}

bool
xinf_sampler_trim_avx2 (float *logits, size_t n, float least, size_t *kept)
{
    if (!s_has_avx2 ())
        return false;
    *kept = s_trim_avx2 (logits, n, least);
    return true;
}

bool
xinf_sampler_argmax_avx2 (const float *logits, size_t n, size_t *index)
{
    if (!s_has_avx2 ())
        return false;
    float top = s_max_avx2 (logits, n);
    *index = top == -INFINITY ? 0 : s_find_avx2 (logits, n, top);
    return true;
}

bool
xinf_sampler_next_above_avx2 (const float *logits, size_t from, size_t n, float floor, size_t *index)
{
    if (!s_has_avx2 ())
        return false;
    *index = s_next_above_avx2 (logits, from, n, floor);
    return true;
}

#else

bool
xinf_sampler_trim_avx2 (float *logits, size_t n, float least, size_t *kept)
{
    (void) logits, (void) n, (void) least, (void) kept;
    return false;
}

bool
xinf_sampler_next_above_avx2 (const float *logits, size_t from, size_t n, float floor, size_t *index)
{
    (void) logits, (void) from, (void) n, (void) floor, (void) index;
    return false;
}

bool
xinf_sampler_argmax_avx2 (const float *logits, size_t n, size_t *index)
{
    (void) logits, (void) n, (void) index;
    return false;
}

bool
xinf_sampler_weigh_avx2 (const float *logits, size_t n, float top, double temperature, double *weights,
                         double *sum)
{
    (void) logits, (void) n, (void) top, (void) temperature, (void) weights, (void) sum;
    return false;
}

#endif

//  Whether the CPU kernels are set to SIMD ones (not the portable).
static bool
s_simd (void)
{
    return xinf_cpu_kern () != &xinf_cpu_kern_portable;
}

size_t
xinf_sampler_argmax (const float *logits, size_t n)
{
    size_t index;
    if (s_simd () && xinf_sampler_argmax_avx2 (logits, n, &index))
        return index;
    return xinf_sampler_argmax_portable (logits, n);
}

size_t
xinf_sampler_next_above (const float *logits, size_t from, size_t n, float floor)
{
    size_t index;
    if (s_simd () && xinf_sampler_next_above_avx2 (logits, from, n, floor, &index))
        return index;
    return xinf_sampler_next_above_portable (logits, from, n, floor);
}

double
xinf_sampler_weigh (const float *logits, size_t n, float top, double temperature, double *weights)
{
    double sum;
    if (s_simd () && xinf_sampler_weigh_avx2 (logits, n, top, temperature, weights, &sum))
        return sum;
    return xinf_sampler_weigh_portable (logits, n, top, temperature, weights);
}

size_t
xinf_sampler_trim (float *logits, size_t n, float least)
{
    size_t kept;
    if (s_simd () && xinf_sampler_trim_avx2 (logits, n, least, &kept))
        return kept;
    return xinf_sampler_trim_portable (logits, n, least);
}
