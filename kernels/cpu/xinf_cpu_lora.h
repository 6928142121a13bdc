/*  xinf_cpu_lora: LoRA adapters' deltas on the CPU, for the rows of a batch
    served with an adapter: y [row] += scale * B (A x [row]) for each of a
    group of products (q/k/v, gate/up) in two runs of the pool.

    First each row's A x (A: rank x in, any type xinf computes with), a
    task per product and row, as a product computes a row (xinf_cpu_
    matvec_batch of one vector: its bits whatever the batch). Then B t,
    with B given transposed (bt: rank rows of out values, F32, F16 or
    BF16) so that B t is a sum of its rows scaled by t's values in rank
    order (the kernel set's axpy_rows, each B row widened once for all the
    rows), a task per product and chunk of columns; the sum is scaled,
    then added (two roundings, as ggml_scale and ggml_add). Rows not
    listed are not touched and cost nothing.
*/
#ifndef XINF_CPU_LORA_H_INCLUDED
#define XINF_CPU_LORA_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "xinf_backend.h"
#include "xinf_threadpool.h"

//  Scratch the calls share (grown as needed); zero it before the first.
typedef struct {
    float *memory;
    size_t floats;
} xinf_cpu_lora_scratch_t;

//  products [count] (at most XINF_LORA_GROUP), rows [n_rows] ascending row
//  indexes of their x and y. -1 when out of memory (nothing changed).
int xinf_cpu_lora (xinf_threadpool_t *pool, xinf_cpu_lora_scratch_t *scratch, const xinf_lora_product_t *products,
                   size_t count, const int32_t *rows, size_t n_rows);

#endif
