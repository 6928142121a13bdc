/*  xinf_bench_optimes: a backend that runs each op on another backend and
    times it, for xinf-bench-generate --op-times: where a step's time goes
    (products by shape, with the weight bytes they read per second;
    attention; the small ops). Each op is followed by the inner backend's
    status, which waits for a device's stream, so an op's time is its
    latency run alone (launch, work, the wait), not its share of a step
    that overlaps launches; CUDA graphs are not offered. A failure the
    status reports is kept and reported by this backend's status.
*/
#ifndef XINF_BENCH_OPTIMES_H_INCLUDED
#define XINF_BENCH_OPTIMES_H_INCLUDED

#include "xinf_backend.h"

#include <stdio.h>

//  A timing backend over 'inner' (not owned: destroy this one first);
//  NULL when out of memory.
xinf_backend_t *xinf_optimes_new (xinf_backend_t *inner);

//  Forgets the times taken so far (after a warm-up step).
void xinf_optimes_reset (xinf_backend_t *self);

//  Prints the table of ops to 'out', the busiest first, each as calls,
//  total and per call time and share of the ops' total over 'steps'
//  steps; products also as GB/s of weights read.
void xinf_optimes_print (xinf_backend_t *self, size_t steps, FILE *out);

#endif
