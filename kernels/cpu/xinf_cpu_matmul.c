/*  xinf_cpu_matmul: matrix-vector and matrix-matrix products over a thread
    pool, and the choice of the kernel table.

    matvec: tasks are runs of consecutive rows, whole groups of the
    kernels' XINF_CPU_ROW_GROUP where they can be; each row is one dot
    product computed by one thread with the same arithmetic in any task,
    so y is the same for any number of threads.
    matvec_batch: the matvec of n vectors at once, bit for bit what n
    matvecs give (continuous batching: a sequence's results must not
    depend on the sequences batched with it). Tasks are runs of rows like
    matvec's; the kernels' rows_multi takes 4 rows at a time past every
    vector, widening each piece of weights once for a group of vectors, so
    each weight is read from memory once a call.
    matmul: a task takes a run of blocks of rows; it widens each block to
    floats once in its thread's scratch (F32 rows are used in place), then
    multiplies it with every x vector, so each weight is read from memory
    once: with the kernels' panel where the table has one (x transposed
    once a call, shared by the tasks; the next block's weights prefetched
    meanwhile), else in 4 x 2 tiles. A product's result depends on its row
    and x vector only, never on the blocks, tasks or threads.
    Q8_0 matvecs (one vector, many, batch) go to xinf_cpu_q8_matvec,
    integer activations, unless XINF_CPU_Q8_ACT=off; matmul stays float.
    The quantized types past Q8_0 (Q4_0 .. Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS) have integer matvecs
    only (xinf_cpu_qk_matvec, whatever XINF_CPU_Q8_ACT says), also for the
    matmul of few vectors; the matmul of more widens their rows to floats
    like the others'.
*/
#include "xinf_cpu_ops.h"
#include "xinf_cpu_kern.h"
#include "xinf_cpu_q8_act.h"
#include "xinf_cpu_qk.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static _Atomic (const xinf_cpu_kern_t *) s_kern;

//  The table called 'name', NULL if unknown or this CPU lacks it.
static const xinf_cpu_kern_t *
s_named (const char *name)
{
    if (strcmp (name, "portable") == 0 || strcmp (name, "off") == 0)
        return &xinf_cpu_kern_portable;
    if (strcmp (name, "avx2") == 0)
        return xinf_cpu_kern_avx2 ();
    if (strcmp (name, "avx512") == 0)
        return xinf_cpu_kern_avx512 ();
    return NULL;
}

//  The fastest table this CPU runs.
static const xinf_cpu_kern_t *
s_best (void)
{
    const xinf_cpu_kern_t *kern = xinf_cpu_kern_avx512 ();
    if (!kern)
        kern = xinf_cpu_kern_avx2 ();
    return kern ? kern : &xinf_cpu_kern_portable;
}

static const xinf_cpu_kern_t *
s_pick (void)
{
    const char *simd = getenv ("XINF_CPU_SIMD");
    const xinf_cpu_kern_t *kern = simd ? s_named (simd) : NULL;
    return kern ? kern : s_best ();
}

const xinf_cpu_kern_t *
xinf_cpu_kern (void)
{
    const xinf_cpu_kern_t *kern = atomic_load_explicit (&s_kern, memory_order_acquire);
    if (!kern) {
        kern = s_pick ();
        atomic_store_explicit (&s_kern, kern, memory_order_release);
    }
    return kern;
}

bool
xinf_cpu_simd_set (bool enable)
{
    const xinf_cpu_kern_t *kern = enable ? s_best () : &xinf_cpu_kern_portable;
    atomic_store (&s_kern, kern);
    return kern != &xinf_cpu_kern_portable;
}

bool
xinf_cpu_simd_use (const char *name)
{
    const xinf_cpu_kern_t *kern = s_named (name);
    if (kern)
        atomic_store (&s_kern, kern);
    return kern != NULL;
}

const char *
xinf_cpu_simd_name (void)
{
    return xinf_cpu_kern ()->name;
}

//  ---- matvec ----------------------------------------------------------------

typedef struct {
    const xinf_cpu_kern_t *kern;
    xinf_dtype_t dtype;
    const uint8_t *w;
    size_t row_bytes, rows, cols, rows_per_task;
    const float *x;
    float *y;
} s_matvec_t;

static void
s_matvec_task (void *arg, size_t task, int thread)
{
    s_matvec_t *job = arg;
    size_t first = task * job->rows_per_task;
    size_t count = job->rows - first < job->rows_per_task ? job->rows - first : job->rows_per_task;
    job->kern->rows (job->dtype, job->w + first * job->row_bytes, job->row_bytes, count, job->cols,
                     job->x, job->y + first);
}

//  About 8 tasks a thread for balance, each at least 16 KB of weights and
//  a whole number of the kernels' row groups (a task's first rows come
//  without prefetch, so fewer, longer tasks stream a little better).
static size_t
s_rows_per_task (xinf_threadpool_t *pool, size_t rows, size_t row_bytes)
{
    size_t threads = (size_t) xinf_threadpool_size (pool);
    size_t per_task = rows / (threads * 8);
    size_t minimum = row_bytes ? (16384 + row_bytes - 1) / row_bytes : 1;
    if (per_task < minimum)
        per_task = minimum;
    return (per_task + XINF_CPU_ROW_GROUP - 1) / XINF_CPU_ROW_GROUP * XINF_CPU_ROW_GROUP;
}

//  The float matvec (the matmul's, whatever the Q8_0 path).
static void
s_matvec (xinf_threadpool_t *pool, xinf_dtype_t dtype, const void *w, size_t rows, size_t cols,
          const float *x, float *y)
{
    if (xinf_dtype_is_quant (dtype)) {
        xinf_cpu_qk_matvec (pool, xinf_cpu_kern (), dtype, w, rows, cols, x, 1, y);
        return;
    }
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    assert (row_bytes || cols == 0);
    if (rows == 0)
        return;
    s_matvec_t job = { xinf_cpu_kern (), dtype, w, row_bytes, rows, cols,
                       s_rows_per_task (pool, rows, row_bytes), x, y };
    size_t tasks = (rows + job.rows_per_task - 1) / job.rows_per_task;
    xinf_threadpool_run (pool, tasks, s_matvec_task, &job);
}

void
xinf_cpu_matvec (xinf_threadpool_t *pool, xinf_dtype_t dtype, const void *w, size_t rows, size_t cols,
                 const float *x, float *y)
{
    if (dtype == XINF_DTYPE_Q8_0 && xinf_cpu_q8_act_on ())
        xinf_cpu_q8_matvec (pool, xinf_cpu_kern (), w, rows, cols, x, 1, y);
    else
    if (xinf_dtype_is_quant (dtype))
        xinf_cpu_qk_matvec (pool, xinf_cpu_kern (), dtype, w, rows, cols, x, 1, y);
    else
        s_matvec (pool, dtype, w, rows, cols, x, y);
}

#define MATVEC_MANY_MAX 8

typedef struct {
    s_matvec_t jobs [MATVEC_MANY_MAX];
    size_t first_task [MATVEC_MANY_MAX + 1];
    size_t count;
} s_matvec_many_t;

static void
s_matvec_many_task (void *arg, size_t task, int thread)
{
    s_matvec_many_t *many = arg;
    size_t index = 0;
    while (index + 1 < many->count && task >= many->first_task [index + 1])
        index++;
    s_matvec_task (&many->jobs [index], task - many->first_task [index], thread);
}

void
xinf_cpu_matvec_many (xinf_threadpool_t *pool, const xinf_cpu_matvec_t *products, size_t count)
{
    for (; count > MATVEC_MANY_MAX; count -= MATVEC_MANY_MAX, products += MATVEC_MANY_MAX)
        xinf_cpu_matvec_many (pool, products, MATVEC_MANY_MAX);       //  more: in turns of as many as one takes
    xinf_cpu_matvec_t rest [MATVEC_MANY_MAX], others [MATVEC_MANY_MAX];
    count = xinf_cpu_qk_matvec_many (pool, xinf_cpu_kern (), products, count, others);
    products = others;
    if (xinf_cpu_q8_act_on ()) {
        count = xinf_cpu_q8_matvec_many (pool, xinf_cpu_kern (), products, count, rest);
        products = rest;
    }
    s_matvec_many_t many = { .count = 0 };
    size_t tasks = 0;
    for (size_t index = 0; index < count; index++) {
        const xinf_cpu_matvec_t *product = &products [index];
        if (product->rows == 0)
            continue;
        size_t row_bytes = xinf_dtype_row_bytes (product->dtype, product->cols);
        s_matvec_t job = { xinf_cpu_kern (), product->dtype, product->w, row_bytes, product->rows, product->cols,
                           s_rows_per_task (pool, product->rows, row_bytes), product->x, product->y };
        many.jobs [many.count] = job;
        many.first_task [many.count++] = tasks;
        tasks += (product->rows + job.rows_per_task - 1) / job.rows_per_task;
    }
    many.first_task [many.count] = tasks;
    if (tasks)
        xinf_threadpool_run (pool, tasks, s_matvec_many_task, &many);
}

//  ---- matvec of several vectors --------------------------------------------

typedef struct {
    const xinf_cpu_kern_t *kern;
    xinf_dtype_t dtype;
    const uint8_t *w;
    size_t row_bytes, rows, cols, rows_per_task;
    const float *x;
    size_t n;
    float *y;
} s_batch_t;

//  Bytes of x vectors that pass a run of rows together, and bytes of
//  weights a run: both stay in L2 while the run's groups of rows take the
//  vectors in turn.
#define BATCH_BYTES 262144

//  Vectors a share: BATCH_BYTES of them, a multiple of 4 from 4 to 64.
static size_t
s_batch_share (size_t cols)
{
    size_t share = BATCH_BYTES / (cols * sizeof (float)) / 4 * 4;
    return share < 4 ? 4 : share > 64 ? 64 : share;
}

//  Rows a run: BATCH_BYTES of weights, whole kernel groups.
static size_t
s_batch_run (size_t row_bytes)
{
    size_t run = BATCH_BYTES / row_bytes / XINF_CPU_MULTI_ROWS * XINF_CPU_MULTI_ROWS;
    return run < XINF_CPU_MULTI_ROWS ? XINF_CPU_MULTI_ROWS : run;
}

//  Rows [first, end) times vectors [j, j + n), a kernel group of rows at
//  a time; each group prefetches the rows after it in the task (up to
//  'end').
static void
s_batch_rows (s_batch_t *job, size_t first, size_t end, size_t task_end, size_t j, size_t n)
{
    for (size_t row = first; row < end; row += XINF_CPU_MULTI_ROWS) {
        size_t count = end - row < XINF_CPU_MULTI_ROWS ? end - row : XINF_CPU_MULTI_ROWS;
        size_t next = row + count;
        size_t after = task_end - next < 2 * XINF_CPU_MULTI_ROWS ? task_end - next : 2 * XINF_CPU_MULTI_ROWS;
        job->kern->rows_multi (job->dtype, job->w + row * job->row_bytes, job->row_bytes, count, job->cols,
                               job->x + j * job->cols, n, job->y + j * job->rows + row, job->rows, after);
    }
}

//  A task: its rows times every vector, each weight read from memory
//  once: a share of vectors passes every group of rows in turn; more
//  vectors pass a run of rows in shares.
static void
s_batch_task (void *arg, size_t task, int thread)
{
    s_batch_t *job = arg;
    size_t first = task * job->rows_per_task;
    size_t end = job->rows - first < job->rows_per_task ? job->rows : first + job->rows_per_task;
    size_t share = s_batch_share (job->cols), rows = s_batch_run (job->row_bytes);
    if (job->n <= share) {
        s_batch_rows (job, first, end, end, 0, job->n);
        return;
    }
    for (size_t run = first; run < end; run += rows) {
        size_t run_end = end - run < rows ? end : run + rows;
        for (size_t j = 0; j < job->n; j += share)
            s_batch_rows (job, run, run_end, end, j, job->n - j < share ? job->n - j : share);
    }
}

//  About 8 tasks a thread for balance, each whole kernel groups of rows
//  and at least 16 KB of weights times vectors.
static size_t
s_batch_rows_per_task (xinf_threadpool_t *pool, size_t rows, size_t row_bytes, size_t n)
{
    size_t threads = (size_t) xinf_threadpool_size (pool);
    size_t per_task = rows / (threads * 8);
    size_t minimum = (16384 + row_bytes * n - 1) / (row_bytes * n);
    if (per_task < minimum)
        per_task = minimum;
    return (per_task + XINF_CPU_MULTI_ROWS - 1) / XINF_CPU_MULTI_ROWS * XINF_CPU_MULTI_ROWS;
}

void
xinf_cpu_matvec_batch (xinf_threadpool_t *pool, xinf_dtype_t dtype, const void *w, size_t rows, size_t cols,
                       const float *x, size_t n, float *y)
{
    if (dtype == XINF_DTYPE_Q8_0 && xinf_cpu_q8_act_on ()) {
        xinf_cpu_q8_matvec (pool, xinf_cpu_kern (), w, rows, cols, x, n, y);
        return;
    }
    if (xinf_dtype_is_quant (dtype)) {
        xinf_cpu_qk_matvec (pool, xinf_cpu_kern (), dtype, w, rows, cols, x, n, y);
        return;
    }
    if (n == 1) {
        xinf_cpu_matvec (pool, dtype, w, rows, cols, x, y);
        return;
    }
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    assert (row_bytes || cols == 0);
    if (rows == 0 || n == 0)
        return;
    if (cols == 0) {                 //  empty dot products
        memset (y, 0, n * rows * sizeof (float));
        return;
    }
    s_batch_t job = { xinf_cpu_kern (), dtype, w, row_bytes, rows, cols,
                      s_batch_rows_per_task (pool, rows, row_bytes, n), x, n, y };
    xinf_threadpool_run (pool, (rows + job.rows_per_task - 1) / job.rows_per_task, s_batch_task, &job);
}

//  ---- matmul ----------------------------------------------------------------

typedef struct {
    const xinf_cpu_kern_t *kern;
    xinf_dtype_t dtype;
    const uint8_t *w;
    size_t row_bytes, rows, cols, block_rows;
    const float *x;
    size_t n;
    float *y;
    float *scratch;                  //  block_rows * cols floats a thread
    const float *xt;                 //  x transposed for the panel, or NULL
    size_t blocks, tasks;            //  tasks share the blocks evenly
} s_matmul_t;

//  One tile: rows [row, row + 4) of the block (clipped), vectors [j, j + 2).
static void
s_matmul_tile (s_matmul_t *job, const float *block, size_t block_count, size_t first_row, size_t r, size_t j)
{
    const float *w [XINF_CPU_TILE_ROWS], *x [XINF_CPU_TILE_COLS];
    size_t nr = block_count - r < XINF_CPU_TILE_ROWS ? block_count - r : XINF_CPU_TILE_ROWS;
    size_t nx = job->n - j < XINF_CPU_TILE_COLS ? job->n - j : XINF_CPU_TILE_COLS;
    for (size_t k = 0; k < XINF_CPU_TILE_ROWS; k++)
        w [k] = block + (r + (k < nr ? k : nr - 1)) * job->cols;
    for (size_t k = 0; k < XINF_CPU_TILE_COLS; k++)
        x [k] = job->x + (j + (k < nx ? k : nx - 1)) * job->cols;
    float out [XINF_CPU_TILE_ROWS * XINF_CPU_TILE_COLS];
    job->kern->tile (w, x, job->cols, out);
    for (size_t a = 0; a < nr; a++)
        for (size_t b = 0; b < nx; b++)
            job->y [(j + b) * job->rows + first_row + r + a] = out [a * XINF_CPU_TILE_COLS + b];
}

//  Vectors [first, first + count) of the panel's groups: the group's
//  padded width.
static size_t
s_panel_width (size_t count)
{
    return (count + XINF_CPU_PANEL_PAD - 1) / XINF_CPU_PANEL_PAD * XINF_CPU_PANEL_PAD;
}

//  The block's rows times every x vector, a group of up to 64 at a time,
//  while the weights of block 'next' (none if past the run) come into the
//  cache.
static void
s_matmul_panels (s_matmul_t *job, const float *block, size_t count, size_t first, size_t next, size_t end)
{
    const uint8_t *ahead = NULL;
    size_t ahead_bytes = 0;
    if (next < end) {
        size_t next_first = next * job->block_rows;
        size_t next_count = job->rows - next_first < job->block_rows ? job->rows - next_first : job->block_rows;
        ahead = job->w + next_first * job->row_bytes;
        ahead_bytes = next_count * job->row_bytes;
    }
    for (size_t j = 0; j < job->n; j += XINF_CPU_PANEL_VECTORS) {
        size_t nx = job->n - j < XINF_CPU_PANEL_VECTORS ? job->n - j : XINF_CPU_PANEL_VECTORS;
        job->kern->panel (block, count, job->cols, job->xt + j * job->cols, s_panel_width (nx), nx,
                          job->y + j * job->rows + first, job->rows, j == 0 ? ahead : NULL, ahead_bytes);
    }
}

//  Block 'index' of the run ending at block 'end'.
static void
s_matmul_block (s_matmul_t *job, size_t index, size_t end, int thread)
{
    size_t first = index * job->block_rows;
    size_t count = job->rows - first < job->block_rows ? job->rows - first : job->block_rows;
    const float *block = (const float *) (job->w + first * job->row_bytes);
    if (job->dtype != XINF_DTYPE_F32) {
        float *widened = job->scratch + (size_t) thread * job->block_rows * job->cols;
        void (*to_f32) (xinf_dtype_t, const void *, size_t, float *) = job->kern->to_f32;
        if (xinf_dtype_is_quant (job->dtype))
            to_f32 = xinf_cpu_qk_kern (job->kern)->to_f32;
        for (size_t r = 0; r < count; r++)
            to_f32 (job->dtype, job->w + (first + r) * job->row_bytes, job->cols,
                               widened + r * job->cols);
        block = widened;
    }
    if (job->xt) {
        s_matmul_panels (job, block, count, first, index + 1, end);
        return;
    }
    for (size_t j = 0; j < job->n; j += XINF_CPU_TILE_COLS)
        for (size_t r = 0; r < count; r += XINF_CPU_TILE_ROWS)
            s_matmul_tile (job, block, count, first, r, j);
}

//  A task: a run of consecutive blocks, its share of them (the next one's
//  weights prefetched while a block is multiplied).
static void
s_matmul_task (void *arg, size_t task, int thread)
{
    s_matmul_t *job = arg;
    size_t begin = task * job->blocks / job->tasks, end = (task + 1) * job->blocks / job->tasks;
    for (size_t index = begin; index < end; index++)
        s_matmul_block (job, index, end, thread);
}

//  Rows a block: about 128 KB of floats (stays in L2 while every x vector
//  passes), a multiple of 'unit', and enough blocks for every thread.
static size_t
s_block_rows (xinf_threadpool_t *pool, size_t rows, size_t cols, size_t unit)
{
    size_t block = cols ? 32768 / cols : 64;
    size_t threads = (size_t) xinf_threadpool_size (pool);
    while (block > unit && rows / block < threads * 4)
        block /= 2;
    block = (block + unit / 2) / unit * unit;
    return block < unit ? unit : block > 256 ? 256 / unit * unit : block;
}

//  x [n][cols] transposed for the panel (kern->pack), in a 64-byte
//  aligned buffer; NULL if out of memory.
static float *
s_transpose (const xinf_cpu_kern_t *kern, const float *x, size_t n, size_t cols)
{
    size_t bytes = s_panel_width (n) * cols * sizeof (float);
    float *xt = aligned_alloc (64, (bytes + 63) / 64 * 64);
    if (xt)
        kern->pack (x, n, cols, xt);
    return xt;
}

//  Runs the job over the pool in 3 runs of blocks a thread (a block's
//  prefetch helps within its run); false if out of memory.
static bool
s_matmul_run (xinf_threadpool_t *pool, s_matmul_t *job, bool panel)
{
    size_t threads = (size_t) xinf_threadpool_size (pool);
    float *scratch = NULL, *xt = NULL;
    if (job->dtype != XINF_DTYPE_F32) {
        scratch = malloc (threads * job->block_rows * job->cols * sizeof (float));
        if (!scratch)
            return false;
    }
    if (panel) {
        xt = s_transpose (job->kern, job->x, job->n, job->cols);
        if (!xt) {
            free (scratch);
            return false;
        }
    }
    job->scratch = scratch;
    job->xt = xt;
    job->blocks = (job->rows + job->block_rows - 1) / job->block_rows;
    job->tasks = threads * 3 < job->blocks ? threads * 3 : job->blocks;
    xinf_threadpool_run (pool, job->tasks, s_matmul_task, job);
    free (xt);
    free (scratch);
    return true;
}

//  Vectors from which the matmul of a quantized type widens its rows to
//  floats for the panel kernels (fewer: xinf_cpu_qk_matvec).
#define S_QUANT_MATMUL 16

void
xinf_cpu_matmul (xinf_threadpool_t *pool, xinf_dtype_t dtype, const void *w, size_t rows, size_t cols,
                 const float *x, size_t n, float *y)
{
    const xinf_cpu_kern_t *kern = xinf_cpu_kern ();
    if (xinf_dtype_is_quant (dtype) && n < S_QUANT_MATMUL) {
        xinf_cpu_qk_matvec (pool, kern, dtype, w, rows, cols, x, n, y);
        return;
    }
    if (n == 1) {
        s_matvec (pool, dtype, w, rows, cols, x, y);
        return;
    }
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    assert (row_bytes || cols == 0);
    if (rows == 0 || n == 0)
        return;
    if (cols == 0) {                 //  empty dot products
        memset (y, 0, n * rows * sizeof (float));
        return;
    }
    //  A panel does a weight's work for 16 vectors at least: few vectors of
    //  small weights (up to 6 of Q8_0, 3 of F16) go faster as matvecs,
    //  bound by reading the weights once a vector.
    if (kern->panel && 2 * n * row_bytes <= 13 * cols) {
        for (size_t j = 0; j < n; j++)
            s_matvec (pool, dtype, w, rows, cols, x + j * cols, y + j * rows);
        return;
    }
    bool panel = kern->panel != NULL;
    size_t unit = panel ? XINF_CPU_PANEL_ROWS : XINF_CPU_TILE_ROWS;
    s_matmul_t job = { kern, dtype, w, row_bytes, rows, cols, s_block_rows (pool, rows, cols, unit), x, n, y,
                       NULL, NULL, 0, 0 };
    if (!s_matmul_run (pool, &job, panel))  //  out of memory: one vector at a time
        for (size_t j = 0; j < n; j++)
            s_matvec (pool, dtype, w, rows, cols, x + j * cols, y + j * rows);
}
