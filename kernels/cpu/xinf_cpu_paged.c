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
    size_t kv_dim = pool->kv_dim, row_bytes = pool->row_bytes;
    size_t layer_first = layer * pool->n_blocks * pool->block_tokens;
    for (size_t i = 0; i < batch->n; i++) {
        size_t slot = layer_first + xinf_cpu_paged_slot (batch, pool->block_tokens, i);
        xinf_dtype_from_f32 (pool->dtype, k + i * kv_dim, kv_dim, (char *) pool->keys + slot * row_bytes);
        if (pool->values != pool->keys)
            xinf_dtype_from_f32 (pool->dtype, v + i * kv_dim, kv_dim, (char *) pool->values + slot * row_bytes);
    }
}

typedef struct {
    const xinf_cpu_kern_t *kern;
    const xinf_kv_pool_t *pool;
    const xinf_batch_t *batch;
    size_t layer_first;               //  the layer's first row in the pool
    const float *q;
    size_t n_kv_heads, group, head_dim, q_dim;
    float scale;
    float *out, *scratch;
    size_t scratch_stride;
    size_t heads, parts;              //  query heads a task, tasks a KV head
    size_t window;                    //  positions a token attends to at most (0: all)
    float softcap;                    //  the scores' soft-cap (0: none)
    const float *sinks;               //  [n_heads] a logit each that takes no value, or NULL
} s_attention_t;

//  The row of position p of a sequence ('table' its blocks) in 'rows'
//  (the pool's keys or values), at the head's 'offset' bytes.
static const char *
s_position_row (const s_attention_t *job, const void *rows, const int32_t *table, size_t p, size_t offset)
{
    size_t tokens = job->pool->block_tokens;
    return (const char *) rows + (job->layer_first + (size_t) table [p / tokens] * tokens + p % tokens)
                                 * job->pool->row_bytes + offset;
}

//  The end of the run of positions from p that share p's block, at most
//  'end'.
static size_t
s_block_end (const s_attention_t *job, size_t p, size_t end)
{
    size_t tokens = job->pool->block_tokens, block_end = (p / tokens + 1) * tokens;
    return block_end < end ? block_end : end;
}

//  The scores [h * n_pos + p - begin] = q [h] . key p, scaled, for the
//  positions begin .. begin + n_pos - 1 of 'heads' query heads (their q
//  vectors one after another): a block at a time, each key row widened
//  and read once for the heads (the kernel set's rows_multi, MULTI_ROWS
//  rows a call).
static void
s_scores (const s_attention_t *job, const int32_t *table, size_t begin, size_t n_pos, size_t offset, size_t heads,
          const float *q, float *scores)
{
    const xinf_kv_pool_t *pool = job->pool;
    size_t row_bytes = pool->row_bytes, last = begin + n_pos;
    for (size_t first = begin, end; first < last; first = end) {
        end = s_block_end (job, first, last);
        const char *key = s_position_row (job, pool->keys, table, first, offset);
        for (size_t p = first; p < end; p += XINF_CPU_MULTI_ROWS) {
            size_t count = end - p < XINF_CPU_MULTI_ROWS ? end - p : XINF_CPU_MULTI_ROWS;
            job->kern->rows_multi (pool->dtype, key + (p - first) * row_bytes, row_bytes, count, job->head_dim, q,
                                   heads, scores + (p - begin), n_pos, end - p - count);
        }
    }
    for (size_t h = 0; h < heads; h++)
        for (size_t p = 0; p < n_pos; p++)
            scores [h * n_pos + p] *= job->scale;
    if (job->softcap > 0)
        for (size_t i = 0; i < heads * n_pos; i++)
            scores [i] = job->softcap * tanhf (scores [i] / job->softcap);
}

//  out [h] = sum over the positions of scores [h * n_pos + p - begin]
//  value p for h < heads, in position order, each value row widened and
//  read once for the heads (the kernel set's axpy_rows, a block a call).
static void
s_values (const s_attention_t *job, const int32_t *table, size_t begin, size_t n_pos, size_t offset, size_t heads,
          const float *scores, float *out)
{
    const xinf_kv_pool_t *pool = job->pool;
    size_t last = begin + n_pos;
    memset (out, 0, heads * job->head_dim * sizeof (float));
    for (size_t first = begin, end; first < last; first = end) {
        end = s_block_end (job, first, last);
        const char *value = s_position_row (job, pool->values, table, first, offset);
        job->kern->axpy_rows (pool->dtype, value, pool->row_bytes, end - first, job->head_dim, scores + (first - begin),
                              n_pos, heads, out);
    }
}

//  A token and a part of the query heads that share a KV head: for each
//  head, scores over its positions (0 .. pos, or the window's last ones),
//  softmax, weighted sum.
static void
s_attention_task (void *arg, size_t task, int thread)
{
    s_attention_t *job = arg;
    size_t part = task % job->parts, kv_task = task / job->parts;
    size_t token = kv_task / job->n_kv_heads, kv_head = kv_task % job->n_kv_heads;
    const xinf_batch_t *batch = job->batch;
    const int32_t *table = batch->blocks + batch->table_start [batch->seq [token]];
    size_t end = (size_t) batch->pos [token] + 1;
    size_t begin = job->window && end > job->window ? end - job->window : 0, n_pos = end - begin;
    size_t offset = xinf_kv_pool_offset (job->pool, kv_head * job->head_dim);
    size_t first = part * job->heads, head = kv_head * job->group + first;
    size_t heads = job->group - first < job->heads ? job->group - first : job->heads;
    float *scores = job->scratch + (size_t) thread * job->scratch_stride;
    s_scores (job, table, begin, n_pos, offset, heads, job->q + token * job->q_dim + head * job->head_dim, scores);
    for (size_t h = 0; h < heads; h++)
        if (job->sinks)
            xinf_cpu_softmax_sink (scores + h * n_pos, n_pos, job->sinks [head + h]);
        else
            xinf_cpu_softmax (scores + h * n_pos, n_pos);
    s_values (job, table, begin, n_pos, offset, heads, scores, job->out + token * job->q_dim + head * job->head_dim);
}

//  Query heads a task: the whole group, unless that leaves fewer than 4
//  tasks a thread (a single sequence), then the group cut in parts.
static size_t
s_heads_per_task (xinf_threadpool_t *threads, size_t kv_tasks, size_t group)
{
    size_t wanted = 4 * (size_t) xinf_threadpool_size (threads);
    size_t parts = kv_tasks >= wanted ? 1 : (wanted + kv_tasks - 1) / kv_tasks;
    parts = parts < group ? parts : group;
    return (group + parts - 1) / parts;
}

void
xinf_cpu_paged_attention (xinf_threadpool_t *threads, const xinf_kv_pool_t *pool, size_t layer,
                          const xinf_batch_t *batch, const float *q, size_t n_heads, size_t n_kv_heads,
                          size_t head_dim, const xinf_attend_t *attend, float *out, float *scratch,
                          size_t scratch_stride)
{
    s_attention_t job = {
        xinf_cpu_kern (), pool, batch, layer * pool->n_blocks * pool->block_tokens, q, n_kv_heads,
        n_heads / n_kv_heads, head_dim, n_heads * head_dim, (float) (1.0 / sqrt ((double) head_dim)),
        out, scratch, scratch_stride, 0, 0, attend->window, attend->softcap, attend->sinks
    };
    job.heads = s_heads_per_task (threads, batch->n * n_kv_heads, job.group);
    job.parts = (job.group + job.heads - 1) / job.heads;
    xinf_threadpool_run (threads, batch->n * n_kv_heads * job.parts, s_attention_task, &job);
}
