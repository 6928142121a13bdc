/*  xinf_cpu_q8_matvec: Q8_0 products with 16-bit activations over the
    thread pool: every x vector is quantized once a call (by the calling
    thread), then tasks take runs of whole row tiles, each tile times
    every vector (its weights read from memory once a call), while the
    next rows come into the cache. A product's result depends on its row
    and vector only (xinf_cpu_q8_act.h), never on the tasks, threads or
    the other vectors.
*/
#include "xinf_cpu_q8_act.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Rows a task's run is a multiple of (the kernels' row tiles divide it).
#define S_TILE 8

#define S_MANY_MAX 8

//  ---- quantized vectors --------------------------------------------------------

//  act for n vectors of cols, in one 64-byte aligned allocation; false
//  if out of memory.
static bool
s_act_new (const xinf_cpu_q8_kern_t *kern, size_t n, size_t cols, xinf_q8_act_t *act)
{
    size_t blocks = cols / XINF_Q8_0_BLOCK_SIZE;
    size_t q_bytes = (n * cols * 2 + 63) / 64 * 64, d_bytes = (n * blocks * 4 + 63) / 64 * 64;
    size_t packed = (kern->packed_bytes (n, cols) + 63) / 64 * 64;
    uint8_t *memory = aligned_alloc (64, q_bytes + d_bytes + packed + 64);
    if (!memory)
        return false;
    *act = (xinf_q8_act_t) { n, cols, blocks, (int16_t *) memory, (float *) (memory + q_bytes),
                             packed ? memory + q_bytes + d_bytes : NULL, n / XINF_Q8_GROUP };
    return true;
}

static void
s_act_destroy (xinf_q8_act_t *act)
{
    free (act->q);
    act->q = NULL;
}

//  ---- jobs ------------------------------------------------------------------------

typedef struct {
    const xinf_cpu_q8_kern_t *kern;
    const uint8_t *w;
    size_t row_bytes, rows, rows_per_task;
    const xinf_q8_act_t *act;
    float *y;
} s_job_t;

typedef struct {
    s_job_t jobs [S_MANY_MAX];
    size_t first_task [S_MANY_MAX + 1];
    size_t count;
    uint8_t *scratch;                //  scratch_bytes a thread
    size_t scratch_bytes;
} s_jobs_t;

//  A task of one job: its rows, the next task's first rows prefetched.
static void
s_job_task (const s_job_t *job, size_t task, uint8_t *scratch)
{
    size_t first = task * job->rows_per_task;
    size_t count = job->rows - first < job->rows_per_task ? job->rows - first : job->rows_per_task;
    size_t after = job->rows - first - count < S_TILE ? job->rows - first - count : S_TILE;
    const uint8_t *rows = job->w + first * job->row_bytes;
    job->kern->rows (rows, job->row_bytes, count, job->act, job->y + first, job->rows, scratch,
                     after ? rows + count * job->row_bytes : NULL, after * job->row_bytes);
}

static void
s_jobs_task (void *arg, size_t task, int thread)
{
    s_jobs_t *jobs = arg;
    size_t index = 0;
    while (index + 1 < jobs->count && task >= jobs->first_task [index + 1])
        index++;
    s_job_task (&jobs->jobs [index], task - jobs->first_task [index],
                jobs->scratch ? jobs->scratch + (size_t) thread * jobs->scratch_bytes : NULL);
}

//  About 8 tasks a thread for balance, each whole tiles and at least
//  16 KB of weights times vectors.
static size_t
s_rows_per_task (xinf_threadpool_t *pool, size_t rows, size_t row_bytes, size_t n)
{
    size_t threads = (size_t) xinf_threadpool_size (pool);
    size_t per_task = rows / (threads * 8);
    size_t work = row_bytes * n > 0 ? row_bytes * n : 1;
    size_t minimum = (16384 + work - 1) / work;
    if (per_task < minimum)
        per_task = minimum;
    return (per_task + S_TILE - 1) / S_TILE * S_TILE;
}

//  Adds a job of 'rows' rows; returns its task count.
static size_t
s_jobs_add (s_jobs_t *jobs, xinf_threadpool_t *pool, const xinf_cpu_q8_kern_t *kern, const void *w, size_t rows,
            size_t cols, const xinf_q8_act_t *act, float *y, size_t tasks)
{
    size_t row_bytes = xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, cols);
    s_job_t job = { kern, w, row_bytes, rows, s_rows_per_task (pool, rows, row_bytes, act->n), act, y };
    jobs->jobs [jobs->count] = job;
    jobs->first_task [jobs->count++] = tasks;
    return tasks + (rows + job.rows_per_task - 1) / job.rows_per_task;
}

//  Runs 'tasks' tasks of the jobs with scratch for n vectors of cols
//  columns; false if out of memory.
static bool
s_jobs_run (s_jobs_t *jobs, xinf_threadpool_t *pool, const xinf_cpu_q8_kern_t *kern, size_t n, size_t cols,
            size_t tasks)
{
    size_t threads = (size_t) xinf_threadpool_size (pool);
    jobs->scratch_bytes = (kern->scratch_bytes (n, cols) + 63) / 64 * 64;
    jobs->scratch = NULL;
    if (jobs->scratch_bytes && !(jobs->scratch = aligned_alloc (64, threads * jobs->scratch_bytes)))
        return false;
    jobs->first_task [jobs->count] = tasks;
    xinf_threadpool_run (pool, tasks, s_jobs_task, jobs);
    free (jobs->scratch);
    return true;
}

//  ---- the calls ---------------------------------------------------------------------

//  For want of memory: each row with each vector, quantizing the vector
//  a block at a time on the stack (the portable quantizer and arithmetic:
//  the same bits, slowly).
static void
s_without_memory (const void *w, size_t rows, size_t cols, const float *x, size_t n, float *y)
{
    size_t row_bytes = xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, cols);
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < rows; r++) {
            const uint8_t *block = (const uint8_t *) w + r * row_bytes;
            float acc = 0.0f;
            for (size_t at = 0; at < cols; at += XINF_Q8_0_BLOCK_SIZE, block += XINF_Q8_0_BLOCK_BYTES) {
                int16_t q [XINF_Q8_0_BLOCK_SIZE];
                float d;
                int32_t isum = 0;
                xinf_cpu_q8_quantize_block (x + j * cols + at, q, &d);
                for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE; i++)
                    isum += (int32_t) (int8_t) block [2 + i] * q [i];
                acc = xinf_q8_step (acc, isum, xinf_dtype_fp16_to_f32 ((uint16_t) (block [0] | block [1] << 8)), d);
            }
            y [j * rows + r] = acc;
        }
}

void
xinf_cpu_q8_matvec (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern, const void *w, size_t rows,
                    size_t cols, const float *x, size_t n, float *y)
{
    assert (cols % XINF_Q8_0_BLOCK_SIZE == 0);
    if (rows == 0 || n == 0)
        return;
    if (cols == 0) {                 //  empty dot products
        memset (y, 0, n * rows * sizeof (float));
        return;
    }
    const xinf_cpu_q8_kern_t *q8 = xinf_cpu_q8_kern (kern);
    xinf_q8_act_t act;
    if (!s_act_new (q8, n, cols, &act)) {
        s_without_memory (w, rows, cols, x, n, y);
        return;
    }
    q8->quantize (x, &act);
    s_jobs_t jobs = { .count = 0 };
    size_t tasks = s_jobs_add (&jobs, pool, q8, w, rows, cols, &act, y, 0);
    if (!s_jobs_run (&jobs, pool, q8, n, cols, tasks))
        s_without_memory (w, rows, cols, x, n, y);
    s_act_destroy (&act);
}

size_t
xinf_cpu_q8_matvec_many (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern,
                         const xinf_cpu_matvec_t *products, size_t count, xinf_cpu_matvec_t *rest)
{
    assert (count <= S_MANY_MAX);
    const xinf_cpu_q8_kern_t *q8 = xinf_cpu_q8_kern (kern);
    xinf_q8_act_t acts [S_MANY_MAX];
    const xinf_cpu_matvec_t *mine [S_MANY_MAX];
    const float *sources [S_MANY_MAX];      //  the x of acts [a]
    size_t act_count = 0, mine_count = 0, rest_count = 0, tasks = 0, widest = 0;
    bool memory = true;
    s_jobs_t jobs = { .count = 0 };
    for (size_t index = 0; index < count; index++) {
        const xinf_cpu_matvec_t *product = &products [index];
        if (product->dtype != XINF_DTYPE_Q8_0)
            rest [rest_count++] = *product;
        else
        if (product->rows)
            mine [mine_count++] = product;
    }
    for (size_t index = 0; index < mine_count && memory; index++) {
        const xinf_cpu_matvec_t *product = mine [index];
        size_t a = 0;                //  vectors shared by products are quantized once
        while (a < act_count && !(sources [a] == product->x && acts [a].cols == product->cols))
            a++;
        if (a == act_count) {
            if (!(memory = s_act_new (q8, 1, product->cols, &acts [act_count])))
                break;
            q8->quantize (product->x, &acts [act_count]);
            sources [act_count++] = product->x;
        }
        widest = product->cols > widest ? product->cols : widest;
        tasks = s_jobs_add (&jobs, pool, q8, product->w, product->rows, product->cols, &acts [a], product->y, tasks);
    }
    if (memory && tasks)
        memory = s_jobs_run (&jobs, pool, q8, 1, widest, tasks);
    for (size_t index = 0; !memory && index < mine_count; index++)
        s_without_memory (mine [index]->w, mine [index]->rows, mine [index]->cols, mine [index]->x, 1, mine [index]->y);
    for (size_t a = 0; a < act_count; a++)
        s_act_destroy (&acts [a]);
    return rest_count;
}
