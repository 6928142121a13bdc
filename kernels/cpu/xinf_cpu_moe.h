/*  xinf_cpu_moe: a mixture-of-experts feed-forward on the CPU (the
    backend's moe op, xinf_backend.h): each token's router logits (a
    product), their softmax and its top k experts; the tokens gathered by
    expert, so that an expert's gate and up products run once on all its
    tokens (experts with as many tokens run together, as a decode step's
    each have one), one SiLU over all of them, the down products alike;
    then each token's outputs weighted and summed in expert id order.
    GPT-OSS's form: the biases go into the products, its gating into the
    choice, its clamped activation in place of the SiLU.
    Every product goes through the backend's project: a token's result
    does not depend on which other tokens share its batch.
*/
#ifndef XINF_CPU_MOE_H_INCLUDED
#define XINF_CPU_MOE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "xinf_backend.h"

//  Scratch the calls share (grown as needed); zero it before the first,
//  free it with xinf_cpu_moe_scratch_free.
typedef struct {
    float *floats;
    size_t n_floats;
    int32_t *ints;
    size_t n_ints;
} xinf_cpu_moe_scratch_t;

void xinf_cpu_moe_scratch_free (xinf_cpu_moe_scratch_t *scratch);

//  The moe op on 'be' (whose project and silu_mul it calls; host memory).
//  0; -1 when out of memory; -2 when the shapes do not hold (k of
//  n_experts, the matrices' rows and columns).
int xinf_cpu_moe (xinf_backend_t *be, xinf_cpu_moe_scratch_t *scratch, const xinf_moe_t *moe, const float *x,
                  float *y, size_t n);

#endif
