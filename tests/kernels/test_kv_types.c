/*  test_kv_types: the paged KV cache of F16 and Q8_0 on the CPU backend.

    kv_store writes each row as xinf_dtype_from_f32 makes it; attention
    over such a pool equals attention over an F32 pool holding the same
    rows widened (within float rounding: only the order of sums differs),
    stays near attention over the unrounded values, and is the same bit
    for bit on 1 and 3 threads, SIMD and portable kernels alike. Also the
    type's name, default and checks (xinf_backend_kv_dtype).
*/
#include "test_kernels.h"
#include "xinf_backend.h"
#include "xinf_cpu_backend.h"
#include "xinf_cpu_ops.h"
#include "xinf_cpu_kern.h"

#define BLOCK_TOKENS 16
#define SEQS 3

typedef struct {
    size_t n_heads, n_kv_heads, head_dim;
} s_shape_t;

//  Three sequences of 'lengths' positions, every position a token of the
//  batch, their blocks a scattered permutation of the pool's.
typedef struct {
    xinf_batch_t batch;
    int32_t *pos, *seq, *blocks, table_start [SEQS + 1];
    size_t n_blocks;
} s_batch_t;

static void
s_batch_new (s_batch_t *self, const size_t lengths [SEQS])
{
    size_t n = 0, n_blocks = 0;
    for (size_t s = 0; s < SEQS; s++) {
        self->table_start [s] = (int32_t) n_blocks;
        n_blocks += (lengths [s] + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
        n += lengths [s];
    }
    self->table_start [SEQS] = (int32_t) n_blocks;
    self->n_blocks = n_blocks;
    self->pos = calloc (n, sizeof (int32_t));
    self->seq = calloc (n, sizeof (int32_t));
    self->blocks = calloc (n_blocks, sizeof (int32_t));
    for (size_t b = 0; b < n_blocks; b++)
        self->blocks [b] = (int32_t) ((b * 7 + 3) % n_blocks);    //  a permutation (7 is prime to the counts)
    size_t i = 0;
    for (size_t s = 0; s < SEQS; s++)
        for (size_t p = 0; p < lengths [s]; p++, i++) {
            self->pos [i] = (int32_t) p;
            self->seq [i] = (int32_t) s;
        }
    self->batch = (xinf_batch_t) { .n = n, .pos = self->pos, .seq = self->seq, .n_seqs = SEQS,
                                   .table_start = self->table_start, .blocks = self->blocks };
}

static void
s_batch_free (s_batch_t *self)
{
    free (self->pos), free (self->seq), free (self->blocks);
}

static xinf_kv_pool_t
s_pool (xinf_backend_t *be, xinf_dtype_t dtype, size_t n_blocks, size_t kv_dim)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, kv_dim), bytes = 2 * n_blocks * BLOCK_TOKENS * row_bytes;
    xinf_kv_pool_t pool = { be->ops->alloc (be, bytes), be->ops->alloc (be, bytes), 2, n_blocks, BLOCK_TOKENS,
                            kv_dim, dtype, row_bytes };
    CHECK (pool.keys && pool.values);
    return pool;
}

static void
s_pool_free (xinf_backend_t *be, xinf_kv_pool_t *pool)
{
    be->ops->free (be, pool->keys);
    be->ops->free (be, pool->values);
}

static double
s_relative (const float *a, const float *b, size_t count)
{
    double worst = 0, top = 0;
    for (size_t i = 0; i < count; i++) {
        worst = fabs ((double) a [i] - b [i]) > worst ? fabs ((double) a [i] - b [i]) : worst;
        top = fabs ((double) b [i]) > top ? fabs ((double) b [i]) : top;
    }
    return worst / (top > 0 ? top : 1);
}

//  The typed pool's rows, each checked against xinf_dtype_from_f32 of its
//  input, widened into the F32 pool's same slots (layer 1).
static void
s_check_rows (const xinf_kv_pool_t *typed, xinf_kv_pool_t *wide, const s_batch_t *b, const float *k,
              const float *v)
{
    size_t kv_dim = typed->kv_dim, layer_first = typed->n_blocks * BLOCK_TOKENS;
    uint8_t *expected = malloc (typed->row_bytes);
    for (size_t i = 0; i < b->batch.n; i++) {
        const int32_t *table = b->blocks + b->table_start [b->seq [i]];
        size_t slot = layer_first + (size_t) table [b->pos [i] / BLOCK_TOKENS] * BLOCK_TOKENS
                    + (size_t) b->pos [i] % BLOCK_TOKENS;
        for (int side = 0; side < 2; side++) {
            const uint8_t *row = (const uint8_t *) (side ? typed->values : typed->keys) + slot * typed->row_bytes;
            CHECK (xinf_dtype_from_f32 (typed->dtype, (side ? v : k) + i * kv_dim, kv_dim, expected));
            CHECK (memcmp (row, expected, typed->row_bytes) == 0);
            xinf_dtype_to_f32 (typed->dtype, row, kv_dim, (float *) (side ? wide->values : wide->keys) + slot * kv_dim);
        }
    }
    free (expected);
}

static void
s_case (const s_shape_t *shape, xinf_dtype_t dtype, const size_t lengths [SEQS], xinf_backend_t *one,
        xinf_backend_t *three)
{
    size_t kv_dim = shape->n_kv_heads * shape->head_dim, q_dim = shape->n_heads * shape->head_dim;
    s_batch_t b;
    s_batch_new (&b, lengths);
    size_t n = b.batch.n;
    uint64_t state = shape->head_dim * 1000 + n + dtype;
    float *k = test_floats (n * kv_dim, &state), *v = test_floats (n * kv_dim, &state);
    float *q = test_floats (n * q_dim, &state);
    for (size_t i = 0; i < n * q_dim; i++)
        q [i] *= 4;                   //  peaky enough to matter
    xinf_kv_pool_t typed = s_pool (one, dtype, b.n_blocks, kv_dim);
    xinf_kv_pool_t wide = s_pool (one, XINF_DTYPE_F32, b.n_blocks, kv_dim);
    xinf_kv_pool_t exact = s_pool (one, XINF_DTYPE_F32, b.n_blocks, kv_dim);
    one->ops->kv_store (one, &typed, 1, &b.batch, k, v);
    one->ops->kv_store (one, &exact, 1, &b.batch, k, v);
    s_check_rows (&typed, &wide, &b, k, v);
    float *outs [4];
    for (int run = 0; run < 4; run++)
        outs [run] = malloc (n * q_dim * sizeof (float));
    xinf_attend_t whole = { 0, 0, NULL };
    for (int simd = 0; simd < 2; simd++) {
        xinf_cpu_simd_set (simd);
        CHECK (one->ops->attention (one, &typed, 1, &b.batch, q, shape->n_heads, shape->n_kv_heads,
                                    shape->head_dim, &whole, outs [0]) == 0);
        CHECK (three->ops->attention (three, &typed, 1, &b.batch, q, shape->n_heads, shape->n_kv_heads,
                                      shape->head_dim, &whole, outs [1]) == 0);
        CHECK (memcmp (outs [0], outs [1], n * q_dim * sizeof (float)) == 0);
        CHECK (one->ops->attention (one, &wide, 1, &b.batch, q, shape->n_heads, shape->n_kv_heads,
                                    shape->head_dim, &whole, outs [2]) == 0);
        CHECK (one->ops->attention (one, &exact, 1, &b.batch, q, shape->n_heads, shape->n_kv_heads,
                                    shape->head_dim, &whole, outs [3]) == 0);
        double same = s_relative (outs [0], outs [2], n * q_dim), near = s_relative (outs [0], outs [3], n * q_dim);
        double limit = dtype == XINF_DTYPE_F16 ? 2e-3 : 3e-2;
        if (simd)
            printf ("  %s heads %zu/%zu x %zu, %zu tokens: vs widened F32 %.1e, vs unrounded %.1e\n",
                    xinf_dtype_name (dtype), shape->n_heads, shape->n_kv_heads, shape->head_dim, n, same, near);
        CHECK (same <= 1e-5);
        CHECK (near <= limit);
    }
    for (int run = 0; run < 4; run++)
        free (outs [run]);
    s_pool_free (one, &typed), s_pool_free (one, &wide), s_pool_free (one, &exact);
    free (k), free (v), free (q);
    s_batch_free (&b);
}

//  axpy_rows against axpy over the rows widened one by one, for each type,
//  row count (past XINF_CPU_AXPY_ROWS), width (past XINF_CPU_AXPY_COLS)
//  and output count, on each kernel set.
static void
test_axpy_rows (void)
{
    const xinf_dtype_t types [] = { XINF_DTYPE_F32, XINF_DTYPE_F16, XINF_DTYPE_BF16, XINF_DTYPE_Q8_0 };
    const size_t widths [] = { 32, 64, 96, 288, 544 }, counts [] = { 1, 3, 8, 13, 16 }, outputs [] = { 1, 3, 7 };
    uint64_t state = 99;
    size_t checked = 0;
    for (int simd = 0; simd < 2; simd++) {
        xinf_cpu_simd_set (simd);
        const xinf_cpu_kern_t *kern = xinf_cpu_kern ();
        for (size_t t = 0; t < 4; t++)
            for (size_t w = 0; w < 5; w++)
                for (size_t c = 0; c < 5; c++)
                    for (size_t o = 0; o < 3; o++) {
                        size_t cols = widths [w], count = counts [c], n = outputs [o];
                        size_t row_bytes = xinf_dtype_row_bytes (types [t], cols) + 6;     //  padded rows
                        uint8_t *rows = calloc (count, row_bytes);
                        float *values = test_floats (count * cols, &state), *a = test_floats (n * 20, &state);
                        float *y = test_floats (n * cols, &state), *expected = malloc (n * cols * sizeof (float));
                        float *wide = malloc (cols * sizeof (float));
                        memcpy (expected, y, n * cols * sizeof (float));
                        for (size_t r = 0; r < count; r++)
                            CHECK (xinf_dtype_from_f32 (types [t], values + r * cols, cols, rows + r * row_bytes));
                        for (size_t j = 0; j < n; j++)
                            for (size_t r = 0; r < count; r++) {
                                kern->to_f32 (types [t], rows + r * row_bytes, cols, wide);
                                kern->axpy (expected + j * cols, a [j * 20 + r], wide, cols);
                            }
                        kern->axpy_rows (types [t], rows, row_bytes, count, cols, a, 20, n, y);
                        CHECK (memcmp (y, expected, n * cols * sizeof (float)) == 0);
                        free (rows), free (values), free (a), free (y), free (expected), free (wide);
                        checked++;
                    }
    }
    printf ("  axpy_rows: %zu cases bit for bit axpy over the widened rows\n", checked);
}

//  Names, the default, and what a backend or a model refuses.
static void
test_names (xinf_backend_t *cpu)
{
    char error [256];
    xinf_dtype_t dtype;
    CHECK (xinf_backend_kv_default (cpu) == XINF_DTYPE_F16);
    CHECK (xinf_backend_kv_dtype (cpu, NULL, 64, &dtype, error, sizeof error) == 0 && dtype == XINF_DTYPE_F16);
    CHECK (xinf_backend_kv_dtype (cpu, "auto", 64, &dtype, error, sizeof error) == 0 && dtype == XINF_DTYPE_F16);
    CHECK (xinf_backend_kv_dtype (cpu, "F32", 64, &dtype, error, sizeof error) == 0 && dtype == XINF_DTYPE_F32);
    CHECK (xinf_backend_kv_dtype (cpu, "q8_0", 64, &dtype, error, sizeof error) == 0 && dtype == XINF_DTYPE_Q8_0);
    CHECK_STR (xinf_backend_kv_name (dtype), "q8_0");
    CHECK (xinf_backend_kv_dtype (cpu, "q8_0", 24, &dtype, error, sizeof error) == -1);
    CHECK (strstr (error, "kv_cache_dtype q8_0") && strstr (error, "multiple of 32") && strstr (error, "24"));
    CHECK (xinf_backend_kv_dtype (cpu, "q8_0", 0, &dtype, error, sizeof error) == 0);    //  heads not known yet
    CHECK (xinf_backend_kv_dtype (cpu, "bf16", 64, &dtype, error, sizeof error) == -1);
    CHECK (strstr (error, "'bf16'") && strstr (error, "q8_0"));
    //  A backend that holds F32 only (as the CUDA one): auto is F32, f16 refused by name
    xinf_backend_t f32_only = *cpu;
    f32_only.kv_dtypes = 1u << XINF_DTYPE_F32;
    CHECK (xinf_backend_kv_default (&f32_only) == XINF_DTYPE_F32);
    CHECK (xinf_backend_kv_dtype (&f32_only, "f16", 64, &dtype, error, sizeof error) == -1);
    CHECK (strstr (error, "kv_cache_dtype f16") && strstr (error, "holds f32)"));
    CHECK (xinf_backend_kv_dtype (&f32_only, "f32", 0, &dtype, error, sizeof error) == 0);
}

int
main (void)
{
    xinf_backend_t *one = xinf_cpu_backend_new (1), *three = xinf_cpu_backend_new (3);
    CHECK (one && three);
    test_names (one);
    test_axpy_rows ();
    const s_shape_t shapes [] = { { 4, 2, 32 }, { 6, 3, 64 }, { 8, 8, 128 }, { 4, 1, 64 } };
    const size_t lengths [][SEQS] = { { 1, 17, 40 }, { 33, 5, 16 } };
    const xinf_dtype_t types [] = { XINF_DTYPE_F16, XINF_DTYPE_Q8_0 };
    for (size_t t = 0; t < 2; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
            for (size_t l = 0; l < 2; l++)
                s_case (&shapes [s], types [t], lengths [l], one, three);
    xinf_backend_destroy (&one);
    xinf_backend_destroy (&three);
    printf ("PASS: F16 and Q8_0 KV caches: rows as stored, attention as over their F32 widening, threads and "
            "kernel sets alike\n");
    return 0;
}
