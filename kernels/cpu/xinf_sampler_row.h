/*  xinf_sampler_row: the sampler's passes over a whole row of logits, in
    portable C and in AVX2, the same results in both: the first index of
    the largest logit, the next logit above a floor, the weights e^((logit - top) / temperature)
    with their sum, and the trim of the logits below a floor (min-p). A
    NaN logit counts as -inf.

    The exp is the sampler's definition (xinf_sampler.h: the same tokens on
    any machine): for x > -745, x = k ln2 + r with k = floor (x log2 e + 1/2)
    and |r| <= ln2/2, e^r by Horner to r^12, times 2^k; else 0. Every step
    is one IEEE double operation, so the device's copy of it
    (kernels/cuda/xinf_cuda_sample.cuh: xs_exp) gives the same bits. The
    sum is taken in index order, one add a weight, as a plain loop would.

    Each pass takes the AVX2 code where the CPU has it, unless the CPU
    kernels are set to the portable ones (xinf_cpu_simd_set (false),
    XINF_CPU_SIMD=portable).
*/
#ifndef XINF_SAMPLER_ROW_H_INCLUDED
#define XINF_SAMPLER_ROW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  e^x for x <= 0 (0 below -745 and for NaN).
double xinf_sampler_exp (double x);

//  The first index of the largest of logits [0, n), n >= 1; 0 when all
//  are -inf or NaN.
size_t xinf_sampler_argmax (const float *logits, size_t n);

//  The first i in [from, n) with logits [i] > floor (never a NaN), or n.
size_t xinf_sampler_next_above (const float *logits, size_t from, size_t n, float floor);

//  weights [i] = e^((logits [i] - top) / temperature) for i < n; returns
//  their sum in index order.
double xinf_sampler_weigh (const float *logits, size_t n, float top, double temperature, double *weights);

//  Sets every logit below 'least' (and every NaN) to -inf in place;
//  returns how many are kept.
size_t xinf_sampler_trim (float *logits, size_t n, float least);

//  The passes by the portable code, and by the AVX2 code (false when this
//  CPU or build has none; the outputs are then untouched). For tests.
size_t xinf_sampler_argmax_portable (const float *logits, size_t n);
bool xinf_sampler_argmax_avx2 (const float *logits, size_t n, size_t *index);
size_t xinf_sampler_next_above_portable (const float *logits, size_t from, size_t n, float floor);
bool xinf_sampler_next_above_avx2 (const float *logits, size_t from, size_t n, float floor, size_t *index);
double xinf_sampler_weigh_portable (const float *logits, size_t n, float top, double temperature,
                                    double *weights);
bool xinf_sampler_weigh_avx2 (const float *logits, size_t n, float top, double temperature, double *weights,
                              double *sum);
size_t xinf_sampler_trim_portable (float *logits, size_t n, float least);
bool xinf_sampler_trim_avx2 (float *logits, size_t n, float least, size_t *kept);

#endif
