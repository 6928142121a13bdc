/*  xinf_cpu_paged: KV store and attention over the paged KV cache.  */
#include "xinf_cpu_paged.h"
#include "xinf_cpu_ops.h"
#include "xinf_cpu_kern.h"

#include <math.h>
#include <string.h>

void
xinf_cpu_paged_store (xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                      const float *k, const float *v)
{
    size_t kv_dim = pool->kv_dim;
    size_t layer_first = layer * pool->n_blocks * pool->block_tokens;
    for (size_t i = 0; i < batch->n; i++) {
        size_t slot = layer_first + xinf_cpu_paged_slot (batch, pool->block_tokens, i);
        memcpy (pool->keys + slot * kv_dim, k + i * kv_dim, kv_dim * sizeof (float));
        memcpy (pool->values + slot * kv_dim, v + i * kv_dim, kv_dim * sizeof (float));
    }
}

typedef struct {
    const xinf_cpu_kern_t *kern;
    const xinf_kv_pool_t *pool;
    const xinf_batch_t *batch;
    size_t layer_first;               //  the layer's first row in the pool
    const float *q;
    size_t n_heads, group, head_dim, q_dim;
    float scale;
    float *out, *scratch;
    size_t scratch_stride;
} s_attention_t;

//  The pool row of position p of a sequence with block table 'table'.
static inline size_t
s_row (const s_attention_t *job, const int32_t *table, size_t p)
{
    size_t tokens = job->pool->block_tokens;
    return job->layer_first + (size_t) table [p / tokens] * tokens + p % tokens;
}

//  One (token, head) pair: scores over positions 0 .. pos, softmax, sum.
static void
s_attention_task (void *arg, size_t task, int thread)
{
    s_attention_t *job = arg;
    size_t token = task / job->n_heads, head = task % job->n_heads;
    const xinf_batch_t *batch = job->batch;
    const int32_t *table = batch->blocks + batch->table_start [batch->seq [token]];
    size_t n_pos = (size_t) batch->pos [token] + 1, kv_dim = job->pool->kv_dim;
    size_t offset = head / job->group * job->head_dim;
    const float *q = job->q + token * job->q_dim + head * job->head_dim;
    float *scores = job->scratch + (size_t) thread * job->scratch_stride;
    float *out = job->out + token * job->q_dim + head * job->head_dim;
    for (size_t p = 0; p < n_pos; p++)
        scores [p] = job->kern->dot (q, job->pool->keys + s_row (job, table, p) * kv_dim + offset, job->head_dim)
                   * job->scale;
    xinf_cpu_softmax (scores, n_pos);
    memset (out, 0, job->head_dim * sizeof (float));
    for (size_t p = 0; p < n_pos; p++)
        job->kern->axpy (out, scores [p], job->pool->values + s_row (job, table, p) * kv_dim + offset, job->head_dim);
}

void
xinf_cpu_paged_attention (xinf_threadpool_t *threads, const xinf_kv_pool_t *pool, size_t layer,
                          const xinf_batch_t *batch, const float *q, size_t n_heads, size_t n_kv_heads,
                          size_t head_dim, float *out, float *scratch, size_t scratch_stride)
{
    s_attention_t job = {
        xinf_cpu_kern (), pool, batch, layer * pool->n_blocks * pool->block_tokens, q, n_heads,
        n_heads / n_kv_heads, head_dim, n_heads * head_dim, (float) (1.0 / sqrt ((double) head_dim)),
        out, scratch, scratch_stride
    };
    xinf_threadpool_run (threads, batch->n * n_heads, s_attention_task, &job);
}
