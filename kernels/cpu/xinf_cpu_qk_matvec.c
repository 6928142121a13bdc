/*  xinf_cpu_qk_matvec: products of the quantized types with integer
    activations over the thread pool: every x vector is quantized once a
    call (by the calling thread; 8 bits in spans of 256 for the K types,
    15 bits in spans of 32 for the others; where the kernel set packs,
    whole groups of 16 vectors are also written transposed for its group
    kernels), then tasks take runs of rows to the kernel set's rows
    function (k_rows, rows), or where it has none, decode a row a chunk at
    a time into the thread's scratch and multiply it with every vector
    there (the weights a little ahead prefetched into L1, further ahead
    into L2). Each weight is read from memory and decoded once a call. A
    product's result depends on its row and vector only (xinf_cpu_qk.h),
    never on the tasks, threads or the other vectors.
*/
#include "xinf_cpu_qk.h"
#include "xinf_quant_blocks.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_MANY_MAX 8

//  ---- quantized vectors --------------------------------------------------------

static size_t
s_round64 (size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

//  The span of x a scale covers for dtype's products.
static size_t
s_span (xinf_dtype_t dtype)
{
    return xinf_qk_is_k (dtype) ? 256 : XINF_QUANT_GROUP;
}

//  act for n vectors of cols in spans of 'span', quantized from x, in one
//  64-byte aligned allocation; false if out of memory.
static bool
s_act_new (const xinf_cpu_qk_kern_t *kern, size_t n, size_t cols, size_t span, const float *x, xinf_qk_act_t *act)
{
    size_t groups = cols / XINF_QUANT_GROUP, spans = cols / span;
    bool k = span == 256;
    size_t packs = kern->k_packs ? n / XINF_QK_PACK : 0;
    //  the kernels may read the d and s of a whole chunk past the last group
    size_t q_bytes = s_round64 (n * cols * (k ? 1 : 2)), d_bytes = s_round64 (n * groups * 4 + 32);
    size_t s_bytes = k ? s_round64 (n * (cols / 16) * 2) + s_round64 (n * groups * 2) : d_bytes;
    size_t packed_bytes = packs * spans * (k ? XINF_QK_PACKED_BLOCK : XINF_QK_PACKED32_BLOCK);
    size_t split_bytes = !k && kern->splits ? (n - packs * XINF_QK_PACK) * xinf_cpu_qk_split_stride (cols) : 0;
    uint8_t *memory = aligned_alloc (64, q_bytes + d_bytes + s_bytes + packed_bytes + split_bytes);
    if (!memory)
        return false;
    *act = (xinf_qk_act_t) { n, cols, groups, span, spans, (float *) (memory + q_bytes), NULL, NULL, NULL, NULL,
                             NULL, NULL, 0, NULL, 0 };
    uint8_t *sums = memory + q_bytes + d_bytes;
    if (k) {
        act->q8 = (int8_t *) memory;
        act->s16 = (int16_t *) sums;
        act->s32 = (int16_t *) (sums + s_round64 (n * (cols / 16) * 2));
        for (size_t j = 0; j < n; j++)
            for (size_t b = 0; b < spans; b++)
                kern->quantize_k (x + j * cols + b * 256, act->q8 + j * cols + b * 256, act->d + j * spans + b,
                                  act->s16 + (j * cols + b * 256) / 16, act->s32 + j * groups + b * 8);
        if (packs) {
            act->packed = sums + s_bytes;
            act->packs = packs;
            xinf_cpu_qk_pack_k (act);
        }
        return true;
    }
    act->q = (int16_t *) memory;
    act->s = (int32_t *) sums;
    if (split_bytes) {
        act->split = (int8_t *) (sums + s_bytes + packed_bytes);
        act->split_stride = xinf_cpu_qk_split_stride (cols);
    }
    if (kern->quantize32) {
        size_t first = packs * XINF_QK_PACK;
        for (size_t j = 0; j < n; j++) {
            int8_t *split = split_bytes && j >= first ? act->split + (j - first) * act->split_stride : NULL;
            if (split)               //  the padding past cols
                memset (split + cols / 128 * 256, 0, act->split_stride - cols / 128 * 256);
            kern->quantize32 (x + j * cols, cols, act->q + j * cols, act->d + j * spans, act->s + j * groups, split);
        }
        if (packs) {
            act->packed = sums + s_bytes;
            act->packs = packs;
            xinf_cpu_qk_pack32 (act);
        }
        return true;
    }
    for (size_t j = 0; j < n; j++)
        for (size_t b = 0; b < spans; b++)
            xinf_cpu_qk_quantize_span (x + j * cols + b * span, span, act->q + j * cols + b * span,
                                       act->d + j * spans + b, act->s + j * groups + b * span / XINF_QUANT_GROUP);
    if (packs) {
        act->packed = sums + s_bytes;
        act->packs = packs;
        xinf_cpu_qk_pack32 (act);
    }
    if (split_bytes)
        xinf_cpu_qk_split (act);
    return true;
}

static void
s_act_destroy (xinf_qk_act_t *act)
{
    free (act->q ? (void *) act->q : (void *) act->q8);
    act->q = NULL;
    act->q8 = NULL;
}

//  ---- a row ---------------------------------------------------------------------

//  How far ahead of the chunk in hand the weights are prefetched into L1
//  and L2, in bytes (the rows of a task lie one after another).
#define S_NEAR 1024
#define S_FAR 8192

typedef struct {
    const xinf_cpu_qk_kern_t *kern;
    xinf_dtype_t dtype;
    const uint8_t *w;
    size_t row_bytes, rows, rows_per_task;
    size_t blocks, chunk_blocks;     //  blocks a row, blocks a chunk
    const xinf_qk_act_t *act;
    float *y;
} s_job_t;

//  Prefetches the lines of [from, from + bytes) clipped to 'end'.
static void
s_prefetch (const uint8_t *from, size_t bytes, const uint8_t *end, bool near)
{
    const uint8_t *until = from + bytes < end ? from + bytes : end;
    for (; from < until; from += 64)
        if (near)
            __builtin_prefetch (from, 0, 3);
        else
            __builtin_prefetch (from, 0, 2);
}

//  Row 'row' times every vector, with the scratch chunk and acc [n][8];
//  the weights up to 'end' prefetched meanwhile.
static void
s_row (const s_job_t *job, size_t row, const uint8_t *end, xinf_qk_chunk_t *chunk, float *acc)
{
    const uint8_t *weights = job->w + row * job->row_bytes;
    size_t block_bytes = xinf_dtype_block_bytes (job->dtype), chunk_bytes = block_bytes * job->chunk_blocks;
    size_t groups_a_block = xinf_dtype_block_size (job->dtype) / XINF_QUANT_GROUP;
    memset (acc, 0, job->act->n * XINF_QK_LANES * sizeof (float));
    for (size_t block = 0; block < job->blocks; block += job->chunk_blocks) {
        size_t blocks = job->blocks - block < job->chunk_blocks ? job->blocks - block : job->chunk_blocks;
        const uint8_t *at = weights + block * block_bytes;
        s_prefetch (at + S_NEAR, chunk_bytes, end, true);
        s_prefetch (at + S_FAR, chunk_bytes, end, false);
        job->kern->decode (job->dtype, weights, block, blocks, chunk);
        job->kern->chunk (chunk, blocks * groups_a_block, job->act, block * groups_a_block, acc);
    }
    for (size_t j = 0; j < job->act->n; j++)
        job->y [j * job->rows + row] = xinf_qk_lanes (acc + j * XINF_QK_LANES);
}

//  ---- jobs ------------------------------------------------------------------------

typedef struct {
    s_job_t jobs [S_MANY_MAX];
    size_t first_task [S_MANY_MAX + 1];
    size_t count;
    uint8_t *scratch;                //  scratch_bytes a thread
    size_t scratch_bytes;
} s_jobs_t;

static void
s_jobs_task (void *arg, size_t task, int thread)
{
    s_jobs_t *jobs = arg;
    size_t index = 0;
    while (index + 1 < jobs->count && task >= jobs->first_task [index + 1])
        index++;
    const s_job_t *job = &jobs->jobs [index];
    uint8_t *scratch = jobs->scratch + (size_t) thread * jobs->scratch_bytes;
    size_t first = (task - jobs->first_task [index]) * job->rows_per_task;
    size_t end = job->rows - first < job->rows_per_task ? job->rows : first + job->rows_per_task;
    xinf_cpu_qk_k_rows_fn *rows = xinf_qk_is_k (job->dtype) ? job->kern->k_rows : job->kern->rows;
    if (rows) {
        rows (job->dtype, job->w + first * job->row_bytes, job->row_bytes, end - first, job->act,
                           job->y + first, job->rows, scratch);
        return;
    }
    for (size_t row = first; row < end; row++)
        s_row (job, row, job->w + end * job->row_bytes, (xinf_qk_chunk_t *) scratch,
               (float *) (scratch + XINF_QK_SCRATCH));
}

//  About 8 tasks a thread for balance, each at least 16 KB of weights
//  times vectors.
static size_t
s_rows_per_task (xinf_threadpool_t *pool, size_t rows, size_t row_bytes, size_t n)
{
    size_t threads = (size_t) xinf_threadpool_size (pool);
    size_t per_task = rows / (threads * 8);
    size_t work = row_bytes * n > 0 ? row_bytes * n : 1;
    size_t minimum = (16384 + work - 1) / work;
    if (per_task < minimum)
        per_task = minimum;
    return per_task;
}

//  Adds a job; returns the task count so far.
static size_t
s_jobs_add (s_jobs_t *jobs, xinf_threadpool_t *pool, const xinf_cpu_qk_kern_t *kern, xinf_dtype_t dtype,
            const void *w, size_t rows, size_t cols, const xinf_qk_act_t *act, float *y, size_t tasks)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols), block_size = xinf_dtype_block_size (dtype);
    s_job_t job = { kern, dtype, w, row_bytes, rows, s_rows_per_task (pool, rows, row_bytes, act->n),
                    cols / block_size, XINF_QUANT_CHUNK_GROUPS * XINF_QUANT_GROUP / block_size, act, y };
    jobs->jobs [jobs->count] = job;
    jobs->first_task [jobs->count++] = tasks;
    return tasks + (rows + job.rows_per_task - 1) / job.rows_per_task;
}

//  Runs 'tasks' tasks of the jobs, n vectors at most a job; false if out
//  of memory.
static bool
s_jobs_run (s_jobs_t *jobs, xinf_threadpool_t *pool, size_t n, size_t tasks)
{
    size_t threads = (size_t) xinf_threadpool_size (pool), widest = 0;
    for (size_t index = 0; index < jobs->count; index++)      //  the group kernels' tiles
        if (jobs->jobs [index].act->packs && jobs->jobs [index].act->cols > widest)
            widest = jobs->jobs [index].act->cols;
    //  a vector's lanes of two rows (xinf_cpu_simd_qk_pairs.c), the tiles
    jobs->scratch_bytes = XINF_QK_SCRATCH + s_round64 (n * 2 * XINF_QK_LANES * sizeof (float))
                          + s_round64 (xinf_cpu_qk_k_scratch (widest));
    if (!(jobs->scratch = aligned_alloc (64, threads * jobs->scratch_bytes)))
        return false;
    jobs->first_task [jobs->count] = tasks;
    xinf_threadpool_run (pool, tasks, s_jobs_task, jobs);
    free (jobs->scratch);
    return true;
}

//  ---- the calls ---------------------------------------------------------------------

//  Row . x of a K type for want of memory: the portable arithmetic, x
//  quantized a span at a time on the stack.
static float
s_k_dot (xinf_dtype_t dtype, const uint8_t *row, const float *x, size_t cols)
{
    int16_t wq [256], s16 [16], s [8];
    int8_t q [256];
    int32_t m [16];
    float acc = 0.0f, d, dmin, dx;
    for (size_t b = 0; b < cols / 256; b++) {
        xinf_qb_k_fold (dtype, row + b * xinf_dtype_block_bytes (dtype), wq, m, &d, &dmin);
        xinf_cpu_qk_quantize_k (x + b * 256, q, &dx, s16, s);
        int32_t isum = 0, msum = 0;
        for (int i = 0; i < 256; i++)
            isum += (int32_t) wq [i] * q [i];
        for (int k = 0; k < 16; k++)
            msum += m [k] * s16 [k];
        acc = xinf_qk_k_step (acc, isum, msum, d, dmin, dx);
    }
    return xinf_qk_canonical (acc);
}

//  Row . x of a 32-weight type for want of memory, likewise.
static float
s_dot (xinf_dtype_t dtype, const uint8_t *row, const float *x, size_t cols)
{
    _Alignas (64) xinf_qk_chunk_t chunk;
    _Alignas (64) int16_t q [256];
    float d [8], acc [XINF_QK_LANES] = { 0 };
    int32_t s [8];
    for (size_t at = 0; at < cols; at += 256) {
        size_t groups = (cols - at < 256 ? cols - at : 256) / XINF_QUANT_GROUP;
        for (size_t g = 0; g < groups; g++)
            xinf_cpu_qk_quantize_span (x + at + g * 32, 32, q + g * 32, d + g, s + g);
        xinf_qk_act_t act = { 1, groups * 32, groups, 32, groups, d, q, s, NULL, NULL, NULL, NULL, 0, NULL, 0 };
        xinf_cpu_qk_portable.decode (dtype, row, at / 32, groups, &chunk);
        xinf_cpu_qk_portable.chunk (&chunk, groups, &act, 0, acc);
    }
    return xinf_qk_lanes (acc);
}

//  For want of memory: each row with each vector, slowly, the same bits.
static void
s_without_memory (xinf_dtype_t dtype, const void *w, size_t rows, size_t cols, const float *x, size_t n, float *y)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < rows; r++) {
            const uint8_t *row = (const uint8_t *) w + r * row_bytes;
            y [j * rows + r] = xinf_qk_is_k (dtype) ? s_k_dot (dtype, row, x + j * cols, cols)
                                                    : s_dot (dtype, row, x + j * cols, cols);
        }
}

void
xinf_cpu_qk_matvec (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern, xinf_dtype_t dtype, const void *w,
                    size_t rows, size_t cols, const float *x, size_t n, float *y)
{
    assert (xinf_dtype_row_bytes (dtype, cols) || cols == 0);
    if (rows == 0 || n == 0)
        return;
    if (cols == 0) {                 //  empty dot products
        memset (y, 0, n * rows * sizeof (float));
        return;
    }
    const xinf_cpu_qk_kern_t *qk = xinf_cpu_qk_kern (kern);
    xinf_qk_act_t act;
    if (!s_act_new (qk, n, cols, s_span (dtype), x, &act)) {
        s_without_memory (dtype, w, rows, cols, x, n, y);
        return;
    }
    s_jobs_t jobs = { .count = 0 };
    size_t tasks = s_jobs_add (&jobs, pool, qk, dtype, w, rows, cols, &act, y, 0);
    if (!s_jobs_run (&jobs, pool, n, tasks))
        s_without_memory (dtype, w, rows, cols, x, n, y);
    s_act_destroy (&act);
}

size_t
xinf_cpu_qk_matvec_many (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern,
                         const xinf_cpu_matvec_t *products, size_t count, xinf_cpu_matvec_t *rest)
{
    assert (count <= S_MANY_MAX);
    const xinf_cpu_qk_kern_t *qk = xinf_cpu_qk_kern (kern);
    xinf_qk_act_t acts [S_MANY_MAX];
    const xinf_cpu_matvec_t *mine [S_MANY_MAX];
    const float *sources [S_MANY_MAX];      //  the x of acts [a]
    size_t act_count = 0, mine_count = 0, rest_count = 0, tasks = 0;
    bool memory = true;
    s_jobs_t jobs = { .count = 0 };
    for (size_t index = 0; index < count; index++) {
        const xinf_cpu_matvec_t *product = &products [index];
        if (!xinf_dtype_is_quant (product->dtype))
            rest [rest_count++] = *product;
        else
        if (product->rows && product->cols)
            mine [mine_count++] = product;
        else
        if (product->rows)           //  empty dot products
            memset (product->y, 0, product->rows * sizeof (float));
    }
    for (size_t index = 0; index < mine_count && memory; index++) {
        const xinf_cpu_matvec_t *product = mine [index];
        size_t a = 0;                //  vectors shared by products are quantized once
        size_t span = s_span (product->dtype);
        while (a < act_count && !(sources [a] == product->x && acts [a].cols == product->cols && acts [a].span == span))
            a++;
        if (a == act_count) {
            if (!(memory = s_act_new (qk, 1, product->cols, span, product->x, &acts [act_count])))
                break;
            sources [act_count++] = product->x;
        }
        tasks = s_jobs_add (&jobs, pool, qk, product->dtype, product->w, product->rows, product->cols, &acts [a],
                            product->y, tasks);
    }
    if (memory && tasks)
        memory = s_jobs_run (&jobs, pool, 1, tasks);
    for (size_t index = 0; !memory && index < mine_count; index++)
        s_without_memory (mine [index]->dtype, mine [index]->w, mine [index]->rows, mine [index]->cols, mine [index]->x,
                          1, mine [index]->y);
    for (size_t a = 0; a < act_count; a++)
        s_act_destroy (&acts [a]);
    return rest_count;
}
