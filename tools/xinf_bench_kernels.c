/*  xinf-bench-kernels: matvec bandwidth of the CPU kernels per weight type
    for the Qwen2.5-0.5B shapes, with 1 and 2 threads, against a measured
    memcpy bandwidth.

    Usage: xinf-bench-kernels [--seconds S] [--portable] [--dtype NAME]
                              [--matmul N] [--batch] [--threads N] [--krows]
                              [--pages]
    Each figure is weight bytes read per second (GB/s) of the best of
    several timed runs, and its fraction of the memcpy read+write rate.
    --dtype times one weight type only (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
    Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS; the shapes whose columns are not whole
    blocks of the type are left out: 896 columns are not whole K blocks,
    which is why llama.cpp stores those tensors of a Qwen2.5-0.5B Q4_K_M
    file as Q5_0 and Q8_0). Each row also prints ms a call.
    --matmul N times the matrix-matrix product with N x vectors (prefill)
    instead: GFLOP/s (2 rows cols N a product) of the best run.
    --batch times, with 2 threads (or --threads N), for n = 1, 4, 16, 64
    x vectors, the n products three ways taking turns: n matvecs, one
    xinf_cpu_matvec_batch (the same bits as the matvecs) and one
    xinf_cpu_matmul (the GEMM, other rounding): ms a call (best run) and
    the ratios matvecs / batch and batch / matmul. Q8_0 and F16 unless
    --dtype says (any type: for the quantized types past Q8_0 the matmul
    of fewer than 16 vectors is the batch, of more the float GEMM).
    --q8act times, for the Q8_0 shapes and n = 1, 4, 16, 64 x vectors, one
    xinf_cpu_matvec_batch with integer activations (the default path,
    xinf_cpu_q8_act.h) against the float kernels (XINF_CPU_Q8_ACT=off),
    with 1 and 2 threads: ms a call (best of runs taken in turns) and the
    ratio float / integer.
    --krows times, on 1 thread, the two AVX-512 K kernels of this CPU in
    turns in one process (xinf_cpu_qk_k_rows_avx512_plain, the kernel of
    CPUs without GFNI, and xinf_cpu_qk_k_rows_avx512, this CPU's), for
    Q4_K, Q5_K and Q6_K rows of 2048 against one vector, 256 rows (in L2)
    and 16384 rows (copies cycled through 256 MB, out of the caches): G
    weights a second (best run) and the ratio this CPU's / plain.
    --pages times, with 2 threads (or --threads N), the matvec of 8192 x
    2048 Q8_0, Q4_K, Q5_0 and F16 matrices out of memory on 4 KB pages
    and on 2 MB pages (MADV_NOHUGEPAGE / MADV_HUGEPAGE) in turns: weight
    GB/s of the best and the median call, and the ratio of the medians
    2 MB / 4 KB (why the model's weights ask for huge pages).
    --compare A,B,... times the decode matvecs of those types (up to 8)
    in turns on the K-type shapes (896x4864 of Qwen2.5-0.5B's ffn_down,
    2048x2048, 8192x2048, 2048x8192 of a 1B llama), with 1 and 2
    threads: G weights a second (rows cols / best time) and each type's
    ratio to the first, all from the same run.
*/
#include "xinf_cpu_ops.h"
#include "xinf_cpu_qk.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

//  memcpy of a buffer far larger than the caches: bytes read + written a second.
static double
s_memcpy_bandwidth (double seconds)
{
    size_t bytes = 256u << 20;
    char *from = malloc (bytes), *to = malloc (bytes);
    if (!from || !to)
        return 0;
    memset (from, 1, bytes);
    memset (to, 2, bytes);
    double best = 0, end = s_now () + seconds;
    int round = 0;
    do {                             //  the first copy can be far slower
        double start = s_now ();
        memcpy (to, from, bytes);
        double rate = 2.0 * bytes / (s_now () - start);
        best = rate > best ? rate : best;
    } while (++round < 3 || s_now () < end);
    free (from);
    free (to);
    return best;
}

typedef struct { size_t rows, cols; } s_shape_t;

//  The quantized types: varied quants, small normal fp16 scales where
//  the blocks keep them.
static void
s_fill_quant (xinf_dtype_t dtype, char *w, size_t bytes)
{
    size_t block_bytes = xinf_dtype_block_bytes (dtype);
    uint16_t scale = xinf_dtype_f32_to_fp16 (0.01f);
    for (size_t at = 0; at < bytes; at++)
        w [at] = (char) (at * 37 % 251);
    for (size_t at = 0; at + block_bytes <= bytes; at += block_bytes) {
        size_t d_at = dtype == XINF_DTYPE_Q6_K ? 208 : dtype == XINF_DTYPE_Q2_K ? 80 : dtype == XINF_DTYPE_Q3_K ? 108 : 0;
        memcpy (w + at + d_at, &scale, 2);
        if (dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1 || dtype == XINF_DTYPE_Q4_K || dtype == XINF_DTYPE_Q5_K
            || dtype == XINF_DTYPE_Q2_K)
            memcpy (w + at + d_at + 2, &scale, 2);
    }
}

//  Small normal weights (denormals would time microcode assists instead).
static void
s_fill (xinf_dtype_t dtype, char *w, size_t bytes)
{
    if (xinf_dtype_is_quant (dtype)) {
        s_fill_quant (dtype, w, bytes);
        return;
    }
    for (size_t at = 0, i = 0; at < bytes; i++) {
        float value = 0.01f * (float) ((int) (i % 13) - 6) + 0.001f;
        if (dtype == XINF_DTYPE_F32) {
            memcpy (w + at, &value, 4);
            at += 4;
        }
        else
        if (dtype == XINF_DTYPE_F16 || dtype == XINF_DTYPE_BF16) {
            uint16_t half = dtype == XINF_DTYPE_F16 ? xinf_dtype_f32_to_fp16 (value) : xinf_dtype_f32_to_bf16 (value);
            memcpy (w + at, &half, 2);
            at += 2;
        }
        else {
            uint16_t scale = xinf_dtype_f32_to_fp16 (0.01f);
            memcpy (w + at, &scale, 2);
            for (int q = 0; q < 32; q++)
                w [at + 2 + q] = (char) ((int) ((i + q) % 7) - 3);
            at += 34;
        }
    }
}

//  Best bytes a second of matvec over the matrix, never twice the same
//  copy in a row when several fit in the cache.
static double
s_matvec_bandwidth (xinf_threadpool_t *pool, xinf_dtype_t dtype, s_shape_t shape, double seconds)
{
    size_t bytes = xinf_dtype_row_bytes (dtype, shape.cols) * shape.rows;
    size_t copies = bytes >= (64u << 20) ? 1 : (size_t) ((256u << 20) / bytes);
    char *w = malloc (bytes * copies);
    float *x = malloc (shape.cols * sizeof (float)), *y = malloc (shape.rows * sizeof (float));
    if (!w || !x || !y)
        return 0;
    s_fill (dtype, w, bytes * copies);
    for (size_t i = 0; i < shape.cols; i++)
        x [i] = 0.001f * (float) (i % 13);
    double best = 0, end = s_now () + seconds;
    size_t round = 0;
    do {
        double start = s_now ();
        xinf_cpu_matvec (pool, dtype, w + (round++ % copies) * bytes, shape.rows, shape.cols, x, y);
        double rate = bytes / (s_now () - start);
        best = rate > best ? rate : best;
    } while (s_now () < end);
    free (w), free (x), free (y);
    return best;
}

//  Best floating-point operations a second of matmul with n vectors, the
//  weights never twice the same copy in a row when several fit in the cache.
static double
s_matmul_flops (xinf_threadpool_t *pool, xinf_dtype_t dtype, s_shape_t shape, size_t n, double seconds)
{
    size_t bytes = xinf_dtype_row_bytes (dtype, shape.cols) * shape.rows;
    size_t copies = bytes >= (64u << 20) ? 1 : (size_t) ((256u << 20) / bytes);
    char *w = malloc (bytes * copies);
    float *x = malloc (n * shape.cols * sizeof (float)), *y = malloc (n * shape.rows * sizeof (float));
    if (!w || !x || !y)
        return 0;
    s_fill (dtype, w, bytes * copies);
    for (size_t i = 0; i < n * shape.cols; i++)
        x [i] = 0.001f * (float) (i % 13);
    double best = 0, end = s_now () + seconds;
    size_t round = 0;
    do {
        double start = s_now ();
        xinf_cpu_matmul (pool, dtype, w + (round++ % copies) * bytes, shape.rows, shape.cols, x, n, y);
        double rate = 2.0 * shape.rows * shape.cols * n / (s_now () - start);
        best = rate > best ? rate : best;
    } while (round < 3 || s_now () < end);
    free (w), free (x), free (y);
    return best;
}

static void
s_matmul_table (xinf_threadpool_t **pools, const s_shape_t *shapes, int shape_count, const char *only, size_t n,
                double seconds)
{
    printf ("matmul, %zu vectors\n%-5s %-12s %9s %9s\n", n, "dtype", "shape", "1t GFLOP/s", "2t GFLOP/s");
    //  every type with --dtype; without, the float types and Q8_0
    for (int d = 0; d < XINF_DTYPE_COUNT; d++)
        for (int s = 0; s < shape_count; s++) {
            xinf_dtype_t dtypes [XINF_DTYPE_COUNT];
            dtypes [d] = (xinf_dtype_t) d;
            if (only ? strcmp (only, xinf_dtype_name (dtypes [d])) != 0 : xinf_dtype_is_quant (dtypes [d]))
                continue;
            if (!xinf_dtype_row_bytes (dtypes [d], shapes [s].cols))
                continue;
            double rate [2];
            for (int p = 0; p < 2; p++)
                rate [p] = s_matmul_flops (pools [p], dtypes [d], shapes [s], n, seconds);
            char shape [32];
            snprintf (shape, sizeof shape, "%zux%zu", shapes [s].rows, shapes [s].cols);
            printf ("%-5s %-12s %9.1f %9.1f\n", xinf_dtype_name (dtypes [d]), shape, rate [0] / 1e9, rate [1] / 1e9);
        }
}

typedef enum { S_MATVECS, S_BATCH, S_MATMUL, S_WAYS } s_way_t;

//  One call of n products 'way'.
static void
s_batch_run (xinf_threadpool_t *pool, xinf_dtype_t dtype, s_shape_t shape, const char *w, const float *x, size_t n,
             float *y, s_way_t way)
{
    if (way == S_MATVECS)
        for (size_t j = 0; j < n; j++)
            xinf_cpu_matvec (pool, dtype, w, shape.rows, shape.cols, x + j * shape.cols, y + j * shape.rows);
    else
    if (way == S_BATCH)
        xinf_cpu_matvec_batch (pool, dtype, w, shape.rows, shape.cols, x, n, y);
    else
        xinf_cpu_matmul (pool, dtype, w, shape.rows, shape.cols, x, n, y);
}

//  best [way] = the best seconds of a call of n products each way, the
//  ways taking turns (so that they share whatever else the machine does),
//  the weights never twice the same copy in a row when several fit in
//  the cache.
static void
s_batch_seconds (xinf_threadpool_t *pool, xinf_dtype_t dtype, s_shape_t shape, size_t n, double seconds,
                 double *best)
{
    size_t bytes = xinf_dtype_row_bytes (dtype, shape.cols) * shape.rows;
    size_t copies = bytes >= (64u << 20) ? 1 : (size_t) ((256u << 20) / bytes);
    char *w = malloc (bytes * copies);
    float *x = malloc (n * shape.cols * sizeof (float)), *y = malloc (n * shape.rows * sizeof (float));
    for (int way = 0; way < S_WAYS; way++)
        best [way] = 0;
    if (!w || !x || !y)
        return;
    s_fill (dtype, w, bytes * copies);
    for (size_t i = 0; i < n * shape.cols; i++)
        x [i] = 0.001f * (float) (i % 13);
    double end = s_now () + seconds;
    size_t round = 0;
    do {
        for (int way = 0; way < S_WAYS; way++) {
            double start = s_now ();
            s_batch_run (pool, dtype, shape, w + (round++ % copies) * bytes, x, n, y, (s_way_t) way);
            double elapsed = s_now () - start;
            best [way] = best [way] == 0 || elapsed < best [way] ? elapsed : best [way];
        }
    } while (round < 9 || s_now () < end);
    free (w), free (x), free (y);
}

//  Best seconds of xinf_cpu_matvec_batch with integer activations
//  (act true) or the float kernels, the two timed in turns.
static void
s_q8act_pair (xinf_threadpool_t *pool, s_shape_t shape, size_t n, double seconds, double *best_int, double *best_float)
{
    *best_int = *best_float = 1e30;
    for (int turn = 0; turn < 6; turn++) {
        bool act = turn % 2 == 0;
        xinf_cpu_q8_act_set (act);
        double best_ways [S_WAYS];
        s_batch_seconds (pool, XINF_DTYPE_Q8_0, shape, n, seconds / 6, best_ways);
        double time = best_ways [S_BATCH] > 0 ? best_ways [S_BATCH] : 1e30;
        double *best = act ? best_int : best_float;
        *best = time < *best ? time : *best;
    }
    xinf_cpu_q8_act_set (true);
}

static void
s_q8act_table (xinf_threadpool_t **pools, double seconds)
{
    s_shape_t shapes [] = { { 896, 896 }, { 128, 896 }, { 4864, 896 }, { 896, 4864 }, { 151936, 896 } };
    size_t counts [] = { 1, 4, 16, 64 };
    printf ("Q8_0 matvec_batch, integer activations vs float (%s): ms a call\n", xinf_cpu_simd_name ());
    printf ("%-12s %4s %9s %9s %7s %9s %9s %7s\n", "shape", "n", "1t float", "1t int", "ratio", "2t float", "2t int",
            "ratio");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
        for (size_t c = 0; c < sizeof counts / sizeof counts [0]; c++) {
            double best_int [2], best_float [2];
            for (int p = 0; p < 2; p++)
                s_q8act_pair (pools [p], shapes [s], counts [c], seconds, &best_int [p], &best_float [p]);
            char shape [32];
            snprintf (shape, sizeof shape, "%zux%zu", shapes [s].rows, shapes [s].cols);
            printf ("%-12s %4zu %9.3f %9.3f %7.2f %9.3f %9.3f %7.2f\n", shape, counts [c], best_float [0] * 1e3,
                    best_int [0] * 1e3, best_float [0] / best_int [0], best_float [1] * 1e3, best_int [1] * 1e3,
                    best_float [1] / best_int [1]);
            fflush (stdout);
        }
}

static void
s_batch_table (xinf_threadpool_t *pool, const char *only, double seconds)
{
    s_shape_t shapes [] = { { 896, 896 }, { 128, 896 }, { 4864, 896 }, { 896, 4864 }, { 151936, 896 } };
    size_t counts [] = { 1, 4, 16, 64 };
    printf ("n products with %d threads (%s): ms a call\n%-5s %-12s %4s %10s %10s %10s %10s %10s\n",
            xinf_threadpool_size (pool), xinf_cpu_simd_name (), "dtype", "shape", "n", "matvecs", "batch",
            "matmul", "mv/batch", "batch/mm");
    for (int type = 0; type < XINF_DTYPE_COUNT; type++) {
        xinf_dtype_t dtypes [] = { (xinf_dtype_t) type };
        int d = 0;
        if (only ? strcmp (only, xinf_dtype_name (dtypes [d])) != 0 : type != XINF_DTYPE_Q8_0 && type != XINF_DTYPE_F16)
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
            for (size_t c = 0; c < sizeof counts / sizeof counts [0]; c++) {
                if (!xinf_dtype_row_bytes (dtypes [d], shapes [s].cols))
                    continue;
                double time [S_WAYS];
                s_batch_seconds (pool, dtypes [d], shapes [s], counts [c], seconds, time);
                char shape [32];
                snprintf (shape, sizeof shape, "%zux%zu", shapes [s].rows, shapes [s].cols);
                printf ("%-5s %-12s %4zu %10.3f %10.3f %10.3f %10.2f %10.2f\n", xinf_dtype_name (dtypes [d]), shape,
                        counts [c], time [S_MATVECS] * 1e3, time [S_BATCH] * 1e3, time [S_MATMUL] * 1e3,
                        time [S_MATVECS] / time [S_BATCH], time [S_BATCH] / time [S_MATMUL]);
                fflush (stdout);
            }
    }
}

//  The named types of a comma-separated list into dtypes (at most 8);
//  their count, 0 for an unknown name.
static int
s_parse_types (const char *list, xinf_dtype_t *dtypes)
{
    int count = 0;
    while (*list && count < 8) {
        size_t length = strcspn (list, ",");
        int found = -1;
        for (int d = 0; d < XINF_DTYPE_COUNT; d++)
            if (strlen (xinf_dtype_name ((xinf_dtype_t) d)) == length
                && strncmp (list, xinf_dtype_name ((xinf_dtype_t) d), length) == 0)
                found = d;
        if (found < 0) {
            fprintf (stderr, "xinf-bench-kernels: unknown type '%.*s'\n", (int) length, list);
            return 0;
        }
        dtypes [count++] = (xinf_dtype_t) found;
        list += length + (list [length] == ',');
    }
    return count;
}

//  --compare: the types' matvecs in turns, G weights a second and the
//  ratio to the first type.
static int
s_compare_table (xinf_threadpool_t **pools, const char *list, double seconds)
{
    xinf_dtype_t dtypes [8];
    int count = s_parse_types (list, dtypes);
    if (!count)
        return 2;
    s_shape_t shapes [] = { { 896, 4864 }, { 2048, 2048 }, { 8192, 2048 }, { 2048, 8192 } };
    printf ("matvec in turns (%s): G weights/s, and the ratio to %s\n%-5s %-12s %9s %7s %9s %7s\n",
            xinf_cpu_simd_name (), xinf_dtype_name (dtypes [0]), "dtype", "shape", "1t Gw/s", "ratio", "2t Gw/s",
            "ratio");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++) {
        double best [8][2] = { { 0 } };
        for (int turn = 0; turn < 4; turn++)
            for (int t = 0; t < count; t++)
                for (int p = 0; p < 2; p++) {
                    size_t bytes = xinf_dtype_row_bytes (dtypes [t], shapes [s].cols) * shapes [s].rows;
                    double rate = bytes ? s_matvec_bandwidth (pools [p], dtypes [t], shapes [s], seconds / 4) / bytes : 0;
                    best [t][p] = rate > best [t][p] ? rate : best [t][p];
                }
        char shape [32];
        snprintf (shape, sizeof shape, "%zux%zu", shapes [s].rows, shapes [s].cols);
        double weights = (double) shapes [s].rows * shapes [s].cols;
        for (int t = 0; t < count; t++)
            printf ("%-5s %-12s %9.2f %7.2f %9.2f %7.2f\n", xinf_dtype_name (dtypes [t]), shape,
                    best [t][0] * weights / 1e9, best [0][0] > 0 ? best [t][0] / best [0][0] : 0,
                    best [t][1] * weights / 1e9, best [0][1] > 0 ? best [t][1] / best [0][1] : 0);
        fflush (stdout);
    }
    return 0;
}

//  --krows: seconds of turns of the kernels in fns over 'rows' rows of
//  dtype (copies of them cycled up to 256 MB), one vector; best G
//  weights a second of each into rate.
static void
s_krows_case (xinf_dtype_t dtype, size_t rows, double seconds, xinf_cpu_qk_k_rows_fn **fns, double *rate)
{
    size_t cols = 2048, spans = cols / 256, row_bytes = xinf_dtype_row_bytes (dtype, cols);
    size_t bytes = rows * row_bytes, copies = bytes >= (256u << 20) ? 1 : (256u << 20) / bytes;
    char *w = malloc (bytes * copies);
    float *x = malloc (cols * sizeof (float)), *y = malloc (rows * sizeof (float));
    xinf_qk_act_t act = { 1, cols, cols / 32, 256, spans, malloc (spans * sizeof (float)), NULL, NULL,
                          aligned_alloc (64, cols), malloc (cols / 16 * sizeof (int16_t)),
                          malloc (cols / 32 * sizeof (int16_t)), NULL, 0, NULL, 0 };
    void *scratch = aligned_alloc (64, XINF_QK_SCRATCH + xinf_cpu_qk_k_scratch (cols));
    rate [0] = rate [1] = 0;
    if (w && x && y && act.d && act.q8 && act.s16 && act.s32 && scratch) {
        s_fill (dtype, w, bytes * copies);
        for (size_t i = 0; i < cols; i++)
            x [i] = 0.001f * (float) (i % 13) - 0.006f;
        for (size_t b = 0; b < spans; b++)
            xinf_cpu_qk_quantize_k (x + b * 256, act.q8 + b * 256, act.d + b, act.s16 + b * 16, act.s32 + b * 8);
        size_t round = 0;
        double end = s_now () + seconds;
        do
            for (int k = 0; k < 2; k++) {
                double start = s_now ();
                fns [k] (dtype, (const uint8_t *) w + (round++ % copies) * bytes, row_bytes, rows, &act, y, 1, scratch);
                double weights = (double) rows * cols / (s_now () - start) / 1e9;
                rate [k] = weights > rate [k] ? weights : rate [k];
            }
        while (s_now () < end);
    }
    free (w), free (x), free (y), free (scratch);
    free (act.d), free (act.q8), free (act.s16), free (act.s32);
}

static int
s_krows_table (double seconds)
{
    xinf_cpu_qk_k_rows_fn *fns [2] = { xinf_cpu_qk_k_rows_avx512_plain (), xinf_cpu_qk_k_rows_avx512 () };
    if (!xinf_cpu_qk_avx512 () || !fns [0] || !fns [1]) {
        printf ("xinf-bench-kernels --krows: no AVX-512 K kernels on this CPU or compiler\n");
        return 0;
    }
    const xinf_dtype_t dtypes [3] = { XINF_DTYPE_Q4_K, XINF_DTYPE_Q5_K, XINF_DTYPE_Q6_K };
    const size_t rows [2] = { 256, 16384 };
    printf ("K rows in turns, 1 thread, rows of 2048, 1 vector: G weights/s, this CPU's kernel / plain\n"
            "%-5s %7s %9s %9s %7s\n", "dtype", "rows", "plain", "this CPU", "ratio");
    for (int d = 0; d < 3; d++)
        for (int r = 0; r < 2; r++) {
            double rate [2];
            s_krows_case (dtypes [d], rows [r], seconds, fns, rate);
            printf ("%-5s %7zu %9.2f %9.2f %7.3f\n", xinf_dtype_name (dtypes [d]), rows [r], rate [0], rate [1],
                    rate [0] > 0 ? rate [1] / rate [0] : 0);
            fflush (stdout);
        }
    return 0;
}

//  --pages: matvecs out of memory on 4 KB pages and on 2 MB pages, in
//  turns: 512 MB of each (MADV_NOHUGEPAGE, MADV_HUGEPAGE), 8192 x 2048
//  matrices cycled through it; weight GB/s of the best and the median
//  call, and the ratio 2 MB / 4 KB.
#define PAGES_BYTES (512u << 20)
#define PAGES_CALLS 64

static int
s_by_value (const void *a, const void *b)
{
    double first = *(const double *) a, second = *(const double *) b;
    return first < second ? -1 : first > second;
}

static char *
s_pages_region (bool huge)
{
    char *region = mmap (NULL, PAGES_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED)
        return NULL;
    madvise (region, PAGES_BYTES, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    return region;
}

static int
s_pages_table (xinf_threadpool_t *pool)
{
    const xinf_dtype_t dtypes [] = { XINF_DTYPE_Q8_0, XINF_DTYPE_Q4_K, XINF_DTYPE_Q5_0, XINF_DTYPE_F16 };
    size_t rows = 8192, cols = 2048;
    char *regions [2] = { s_pages_region (false), s_pages_region (true) };
    float *x = malloc (cols * sizeof (float)), *y = malloc (rows * sizeof (float));
    if (!regions [0] || !regions [1] || !x || !y) {
        fprintf (stderr, "xinf-bench-kernels --pages: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < cols; i++)
        x [i] = 0.001f * (float) (i % 13) - 0.006f;
    printf ("matvec %zux%zu out of memory, %d threads, 4 KB and 2 MB pages in turns: weight GB/s (best, median)\n"
            "%-5s %9s %9s %9s %9s %7s\n", rows, cols, xinf_threadpool_size (pool), "dtype", "4K best", "4K median",
            "2M best", "2M median", "ratio");
    for (size_t t = 0; t < sizeof dtypes / sizeof dtypes [0]; t++) {
        size_t bytes = rows * xinf_dtype_row_bytes (dtypes [t], cols), copies = PAGES_BYTES / bytes;
        double rates [2][PAGES_CALLS];
        for (int k = 0; k < 2; k++)
            s_fill (dtypes [t], regions [k], copies * bytes);
        for (int call = 0; call < PAGES_CALLS; call++)
            for (int k = 0; k < 2; k++) {
                double start = s_now ();
                xinf_cpu_matvec (pool, dtypes [t], regions [k] + (size_t) call % copies * bytes, rows, cols, x, y);
                rates [k][call] = (double) bytes / (s_now () - start) / 1e9;
            }
        for (int k = 0; k < 2; k++)
            qsort (rates [k], PAGES_CALLS, sizeof (double), s_by_value);
        printf ("%-5s %9.2f %9.2f %9.2f %9.2f %7.3f\n", xinf_dtype_name (dtypes [t]), rates [0][PAGES_CALLS - 1],
                rates [0][PAGES_CALLS / 2], rates [1][PAGES_CALLS - 1], rates [1][PAGES_CALLS / 2],
                rates [1][PAGES_CALLS / 2] / rates [0][PAGES_CALLS / 2]);
        fflush (stdout);
    }
    munmap (regions [0], PAGES_BYTES);
    munmap (regions [1], PAGES_BYTES);
    free (x), free (y);
    return 0;
}

int
main (int argc, char *argv [])
{
    double seconds = 0.5;
    const char *only = NULL, *compare = NULL;
    size_t matmul = 0;
    bool batch = false, q8act = false, krows = false, pages = false;
    int threads = 2;
    for (int index = 1; index < argc; index++) {
        if (strcmp (argv [index], "--seconds") == 0 && index + 1 < argc)
            seconds = atof (argv [++index]);
        else
        if (strcmp (argv [index], "--portable") == 0)
            xinf_cpu_simd_set (false);
        else
        if (strcmp (argv [index], "--dtype") == 0 && index + 1 < argc)
            only = argv [++index];
        else
        if (strcmp (argv [index], "--matmul") == 0 && index + 1 < argc)
            matmul = (size_t) atol (argv [++index]);
        else
        if (strcmp (argv [index], "--batch") == 0)
            batch = true;
        else
        if (strcmp (argv [index], "--threads") == 0 && index + 1 < argc)
            threads = atoi (argv [++index]);
        else
        if (strcmp (argv [index], "--q8act") == 0)
            q8act = true;
        else
        if (strcmp (argv [index], "--compare") == 0 && index + 1 < argc)
            compare = argv [++index];
        else
        if (strcmp (argv [index], "--krows") == 0)
            krows = true;
        else
        if (strcmp (argv [index], "--pages") == 0)
            pages = true;
        else {
            fprintf (stderr, "usage: xinf-bench-kernels [--seconds S] [--portable] [--dtype NAME] [--matmul N]"
                             " [--batch] [--threads N] [--q8act] [--compare A,B,...] [--krows] [--pages]\n");
            return 2;
        }
    }
    if (krows)
        return s_krows_table (seconds * 4);
    if (pages) {
        xinf_threadpool_t *pool = xinf_threadpool_new (threads);
        int rc = pool ? s_pages_table (pool) : 1;
        xinf_threadpool_destroy (&pool);
        return rc;
    }
    s_shape_t shapes [] = { { 896, 896 }, { 4864, 896 }, { 896, 4864 }, { 151936, 896 } };
    xinf_threadpool_t *pools [2] = { xinf_threadpool_new (1), xinf_threadpool_new (2) };
    if (compare) {
        int rc = s_compare_table (pools, compare, seconds);
        xinf_threadpool_destroy (&pools [0]);
        xinf_threadpool_destroy (&pools [1]);
        return rc;
    }
    if (q8act) {
        s_q8act_table (pools, seconds);
        xinf_threadpool_destroy (&pools [0]);
        xinf_threadpool_destroy (&pools [1]);
        return 0;
    }
    if (batch) {
        xinf_threadpool_t *pool = xinf_threadpool_new (threads);
        s_batch_table (pool, only, seconds);
        xinf_threadpool_destroy (&pool);
        xinf_threadpool_destroy (&pools [0]);
        xinf_threadpool_destroy (&pools [1]);
        return 0;
    }
    if (matmul) {
        s_matmul_table (pools, shapes, 3, only, matmul, seconds);
        xinf_threadpool_destroy (&pools [0]);
        xinf_threadpool_destroy (&pools [1]);
        return 0;
    }
    double copy = s_memcpy_bandwidth (seconds * 2);
    printf ("kernels: %s; memcpy %.1f GB/s (read + write)\n", xinf_cpu_simd_name (), copy / 1e9);
    printf ("%-5s %-12s %8s %9s %8s %8s %9s %8s\n", "dtype", "shape", "1t GB/s", "1t/memcpy", "1t ms", "2t GB/s",
            "2t/memcpy", "2t ms");
    for (int d = 0; d < XINF_DTYPE_COUNT; d++)
        for (int s = 0; s < 4 && (!only || strcmp (only, xinf_dtype_name ((xinf_dtype_t) d)) == 0); s++) {
            xinf_dtype_t dtype = (xinf_dtype_t) d;
            size_t bytes = xinf_dtype_row_bytes (dtype, shapes [s].cols) * shapes [s].rows;
            if (!bytes)
                continue;
            double rate [2];
            for (int p = 0; p < 2; p++)
                rate [p] = s_matvec_bandwidth (pools [p], dtype, shapes [s], seconds);
            char shape [32];
            snprintf (shape, sizeof shape, "%zux%zu", shapes [s].rows, shapes [s].cols);
            printf ("%-5s %-12s %8.1f %9.2f %8.3f %8.1f %9.2f %8.3f\n", xinf_dtype_name (dtype), shape,
                    rate [0] / 1e9, rate [0] / copy, bytes / rate [0] * 1e3, rate [1] / 1e9, rate [1] / copy,
                    bytes / rate [1] * 1e3);
        }
    xinf_threadpool_destroy (&pools [0]);
    xinf_threadpool_destroy (&pools [1]);
    return 0;
}
