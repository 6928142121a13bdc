/*  xinf_cpu_lora: LoRA adapters' deltas on the CPU (see xinf_cpu_lora.h).  */
#include "xinf_cpu_lora.h"
#include "xinf_cpu_kern.h"
#include "xinf_cpu_ops.h"

#include <stdlib.h>
#include <string.h>

//  Columns of B t a task computes, for all the rows.
#define S_CHUNK 256
//  Rows whose A x a task computes together (A widened once for them).
#define S_DOWN_ROWS 8

typedef struct {
    const xinf_cpu_kern_t *kern;
    const xinf_lora_product_t *products;
    size_t count;
    const int32_t *rows;
    size_t n_rows;
    float *t [XINF_LORA_GROUP];       //  [n_rows][rank] of each product
    float *gathered [XINF_LORA_GROUP];    //  [n_rows][in] of each product: its rows of x
    float *sums [XINF_LORA_GROUP];    //  [chunks][n_rows][S_CHUNK] of each product
    size_t first_chunk [XINF_LORA_GROUP + 1];   //  product p's chunks are tasks first_chunk [p] ..
} s_job_t;

//  Task p blocks + b: t_p [k] = A_p x_p [rows [k]] for the block's rows k,
//  gathered and multiplied together (each row's bits those of it alone).
static void
s_down_task (void *arg, size_t task, int thread)
{
    (void) thread;
    const s_job_t *job = (const s_job_t *) arg;
    size_t blocks = (job->n_rows + S_DOWN_ROWS - 1) / S_DOWN_ROWS;
    size_t p = task / blocks, first = (task % blocks) * S_DOWN_ROWS;
    size_t count = job->n_rows - first < S_DOWN_ROWS ? job->n_rows - first : S_DOWN_ROWS;
    const xinf_lora_product_t *product = &job->products [p];
    const xinf_matrix_t *a = product->a;
    float *gathered = job->gathered [p] + first * a->cols;
    for (size_t k = 0; k < count; k++)
        memcpy (gathered + k * a->cols, product->x + (size_t) job->rows [first + k] * a->cols, a->cols * sizeof (float));
    xinf_cpu_matvec_batch (NULL, a->dtype, a->data, a->rows, a->cols, gathered, count, job->t [p] + first * a->rows);
}

//  A task: product p's columns [c S_CHUNK, ..) of every listed row: B t
//  summed, scaled, added.
static void
s_up_task (void *arg, size_t task, int thread)
{
    (void) thread;
    const s_job_t *job = (const s_job_t *) arg;
    size_t p = 0;
    while (task >= job->first_chunk [p + 1])
        p++;
    const xinf_lora_product_t *product = &job->products [p];
    const xinf_matrix_t *bt = product->bt;
    size_t chunk = task - job->first_chunk [p], first = chunk * S_CHUNK, out = bt->cols;
    size_t width = out - first < S_CHUNK ? out - first : S_CHUNK;
    float *sums = job->sums [p] + chunk * job->n_rows * S_CHUNK;
    memset (sums, 0, job->n_rows * width * sizeof (float));
    const char *at = (const char *) bt->data + xinf_dtype_row_bytes (bt->dtype, first);
    job->kern->axpy_rows (bt->dtype, at, xinf_dtype_row_bytes (bt->dtype, out), bt->rows, width, job->t [p],
                          bt->rows, job->n_rows, sums);
    for (size_t k = 0; k < job->n_rows; k++) {
        float *y = product->y + (size_t) job->rows [k] * out + first;
        const float *sum = sums + k * width;
        for (size_t j = 0; j < width; j++) {
            float scaled = product->scale * sum [j];
            y [j] += scaled;
        }
    }
}

int
xinf_cpu_lora (xinf_threadpool_t *pool, xinf_cpu_lora_scratch_t *scratch, const xinf_lora_product_t *products,
               size_t count, const int32_t *rows, size_t n_rows)
{
    if (!count || !n_rows)
        return 0;
    if (count > XINF_LORA_GROUP)
        return -1;
    s_job_t job = { xinf_cpu_kern (), products, count, rows, n_rows, { NULL }, { NULL }, { NULL }, { 0 } };
    size_t need = 0;
    for (size_t p = 0; p < count; p++) {
        size_t chunks = (products [p].bt->cols + S_CHUNK - 1) / S_CHUNK;
        job.first_chunk [p + 1] = job.first_chunk [p] + chunks;
        need += n_rows * (products [p].a->cols + products [p].a->rows + chunks * S_CHUNK);
    }
    if (need > scratch->floats) {
        float *grown = realloc (scratch->memory, need * sizeof (float));
        if (!grown)
            return -1;
        scratch->memory = grown;
        scratch->floats = need;
    }
    float *at = scratch->memory;
    for (size_t p = 0; p < count; p++) {
        job.gathered [p] = at;
        job.t [p] = at + n_rows * products [p].a->cols;
        job.sums [p] = job.t [p] + n_rows * products [p].a->rows;
        at = job.sums [p] + n_rows * (job.first_chunk [p + 1] - job.first_chunk [p]) * S_CHUNK;
    }
    xinf_threadpool_run (pool, count * ((n_rows + S_DOWN_ROWS - 1) / S_DOWN_ROWS), s_down_task, &job);
    xinf_threadpool_run (pool, job.first_chunk [count], s_up_task, &job);
    return 0;
}
