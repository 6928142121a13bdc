/*  xinf_cpu_paged: the KV-cache operations of a batched step on the CPU:
    storing each token's keys and values into its block slot (converted
    to the pool's type), and each token's attention over its own
    sequence's blocks (or the last positions of a sliding window).

    Attention hands one (token, KV head) pair to one thread, with the
    query heads that share the KV head (GQA; a single sequence's cut in
    parts, for 4 tasks a thread or more): the heads' scores, softmax, then
    the weighted sum of values, in position order; the positions go a
    block at a time, each key and value row (F32, F16 or Q8_0) widened and
    read once for the heads (the kernel set's rows_multi and axpy_rows). A
    token's result depends on its sequence's cache only, never on the
    batch or the threads.
*/
#ifndef XINF_CPU_PAGED_H_INCLUDED
#define XINF_CPU_PAGED_H_INCLUDED

#include "xinf_backend.h"
#include "xinf_threadpool.h"

//  The slot (block * block_tokens + offset) of token i of the batch.
static inline size_t
xinf_cpu_paged_slot (const xinf_batch_t *batch, size_t block_tokens, size_t i)
{
    size_t pos = (size_t) batch->pos [i];
    const int32_t *table = batch->blocks + batch->table_start [batch->seq [i]];
    return (size_t) table [pos / block_tokens] * block_tokens + pos % block_tokens;
}

void xinf_cpu_paged_store (xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                           const float *k, const float *v);

//  Each token's attention over its positions 0 .. pos, as 'attend' says
//  (xinf_backend.h: a window, a soft-cap, sinks). 'scratch' holds 'threads'
//  rows of 'scratch_stride' floats, each at least n_heads / n_kv_heads
//  times the most positions a token of this batch attends to.
void xinf_cpu_paged_attention (xinf_threadpool_t *threads, const xinf_kv_pool_t *pool, size_t layer,
                               const xinf_batch_t *batch, const float *q, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const xinf_attend_t *attend, float *out, float *scratch,
                               size_t scratch_stride);

#endif
