/*  xinf_bench_sample: the time of a backend's sample op (xinf_backend.h)
    against the CPU backend's on one thread (the CPU sampler, a sampler
    kept as the executor keeps one) on the same logits, in
    the same run, for xinf-bench-generate --backend cuda: a step's
    sampling is not in its decode figures (those bring the logits back to
    the host), yet a server samples every token on the device.
*/
#ifndef XINF_BENCH_SAMPLE_H_INCLUDED
#define XINF_BENCH_SAMPLE_H_INCLUDED

#include "xinf_backend.h"

#include <stdio.h>

//  Times the sample op of 'backend' on 'rows' rows of 'vocab' logits
//  (random, spread as a model's are) for greedy, temperature with top-p,
//  and temperature with top-k, 'calls' calls each, against the CPU
//  sampler; a line each to 'out', with how many rows' tokens differ
//  from the CPU's. 0, or -1 with the reason in 'error'.
int xinf_bench_sample (xinf_backend_t *backend, size_t vocab, size_t rows, size_t calls, FILE *out, char *error,
                       size_t error_size);

#endif
