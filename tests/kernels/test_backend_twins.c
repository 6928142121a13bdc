/*  test_backend_twins: every op of the compute seam on two backends over
    the same random inputs of many shapes, outputs compared by NMSE
    (test_twins.h), then whole transformer steps on tiny generated models
    (test_twins_model.c), then the sample op against its CPU twin
    (test_twins_sample.c).

        test_backend_twins cuda PATH/TO/xinf-make-model
            the CPU backend against the CUDA backend, products with its
            own kernels and again with cuBLAS; exits 77 with the reason
            when there is no CUDA device (or the build has no CUDA)
        test_backend_twins cpu PATH/TO/xinf-make-model
            the CPU backend on one thread against itself on three, then
            against a perturbed CPU backend (every output scaled by 1.05)
            whose every comparison must fail: the harness itself is tested
            where there is no GPU; the sample op's CPU twin against the
            executor's own sampling

        test_backend_twins decode
            the CUDA kernels' weight decoders run on the host against the
            CPU's: the same floats for every type; device discovery and
            the refusal of a device that is not there (no GPU needed)

    Tolerances (NMSE), and why:
      add, add_bias, kv_store, embed          1e-12  the same floats expected
      silu_mul, rope, rmsnorm                 1e-10  expf / cos / a float
                                                     rather than double sum
      attention                               1e-9   another summation order
                                                     (online softmax)
      project F32, F16, BF16 (own kernels)    1e-9   another summation order
      project Q8_0                            1e-7   the CPU's matvecs round
                                                     activations to 16-bit
                                                     integers per block of 32
                                                     (NMSE ~3e-10 seen against
                                                     exact products)
      project Q4_0, Q4_1, Q5_0, Q5_1          1e-6   ... to 15-bit integers
                                                     (up to 2.2e-8 seen: the
                                                     mins of Q4_1 cancel)
      project Q4_K, Q5_K, Q6_K                1e-3   ... and to 8-bit integers
                                                     per 256 (llama.cpp's Q8_K):
                                                     NMSE up to ~1.3e-4 seen
                                                     against exact products
    The cpu mode checks the CPU's products against the exact products of
    the decoded weights with these tolerances: what the GPU's float
    arithmetic gives, within float rounding.
      project F16 with cuBLAS                 2e-6   activations rounded to
      project BF16 with cuBLAS                1e-4   the weight's type
      transformer logits                      1e-5   (greedy tokens equal
                                                     unless the top two are
                                                     within 1e-3 of each
                                                     other)
      transformer logits with cuBLAS          1e-3   every product rounds its
                                                     activations to the weight's
                                                     type (BF16: ~3e-6 NMSE a
                                                     product), and a step has
                                                     several in a row

    The CUDA backend keeps device copies of host data (weights, norm
    weights, factors) by their host address; a test that frees such data
    and allocates more (which may land at the same address) tells it to
    forget them (test_twins_forget), as an executor does before it unloads a model.
*/
#include "test_twins.h"
#include "xinf_cpu_backend.h"
#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"
#endif

static uint64_t s_state = 20260315;
static bool s_cublas;                 //  the subject's float products go through cuBLAS


//  ---- random inputs -------------------------------------------------------------

//  Random weights of 'dtype': float types from [-1, 1), block types random
//  bytes with their fp16 scales set to small finite values.
static void *
s_weights (xinf_dtype_t dtype, size_t rows, size_t cols)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols), block = xinf_dtype_block_bytes (dtype);
    CHECK (row_bytes);
    uint8_t *data = malloc (rows * row_bytes);
    CHECK (data);
    if (dtype <= XINF_DTYPE_BF16) {
        for (size_t i = 0; i < rows * cols; i++) {
            float value = test_uniform (&s_state);
            uint16_t half = dtype == XINF_DTYPE_F16 ? xinf_dtype_f32_to_fp16 (value) : xinf_dtype_f32_to_bf16 (value);
            if (dtype == XINF_DTYPE_F32)
                memcpy (data + 4 * i, &value, 4);
            else
                memcpy (data + 2 * i, &half, 2);
        }
        return data;
    }
    for (size_t i = 0; i < rows * row_bytes; i++)
        data [i] = (uint8_t) test_random (&s_state);
    if (dtype == XINF_DTYPE_MXFP4) {          //  its scale an exponent byte: 2^-9 .. 2^-6
        for (size_t at = 0; at < rows * row_bytes; at += block)
            data [at] = (uint8_t) (119 + test_random (&s_state) % 4);
        return data;
    }
    //  Where each block keeps its fp16 scales (d, and dmin or m)
    size_t first = dtype == XINF_DTYPE_Q6_K ? 208 : dtype == XINF_DTYPE_Q2_K ? 80 : dtype == XINF_DTYPE_Q3_K ? 108 : 0;
    size_t scales = dtype == XINF_DTYPE_Q8_0 || dtype == XINF_DTYPE_Q4_0 || dtype == XINF_DTYPE_Q5_0
                    || dtype == XINF_DTYPE_Q6_K || dtype == XINF_DTYPE_Q3_K || dtype == XINF_DTYPE_IQ4_NL
                    || dtype == XINF_DTYPE_IQ4_XS ? 1 : 2;
    for (size_t at = 0; at < rows * row_bytes; at += block)
        for (size_t s = 0; s < scales; s++) {
            uint16_t half = xinf_dtype_f32_to_fp16 (0.002f + 0.02f * fabsf (test_uniform (&s_state)));
            memcpy (data + at + first + 2 * s, &half, 2);
        }
    return data;
}

//  ---- products and embedding ---------------------------------------------------------

static float *
s_run_project (xinf_backend_t *be, const xinf_matrix_t *w, const float *x, size_t n, bool host_out)
{
    float *dx = test_twins_put (be, x, n * w->cols);
    float *host = calloc (n * w->rows, sizeof (float)), *dy = host_out ? host : test_twins_put (be, NULL, n * w->rows);
    xinf_product_t product = { w, dx, dy, NULL };
    be->ops->project (be, &product, 1, n);
    if (!host_out) {
        free (host);
        host = test_twins_get (be, dy, n * w->rows);
        be->ops->free (be, dy);
    }
    be->ops->free (be, dx);
    return host;
}

static double
s_project_tolerance (xinf_dtype_t dtype)
{
    if (xinf_dtype_block_size (dtype) == 256)      //  8-bit activations
        return 1e-3;
    if (dtype > XINF_DTYPE_Q8_0)
        return 1e-6;
    if (dtype == XINF_DTYPE_Q8_0)
        return 1e-7;
    if (s_cublas && dtype == XINF_DTYPE_F16)
        return 2e-6;
    if (s_cublas && dtype == XINF_DTYPE_BF16)
        return 1e-4;
    return 1e-9;
}

//  A token's result does not depend on its batch: token 'k' alone gives
//  the same floats as in the batch of n (the subject's own promise).
static void
s_check_alone (test_twins_t *twins, const xinf_matrix_t *w, const float *x, size_t n, const float *batched)
{
    size_t k = n / 2;
    float *alone = s_run_project (twins->subject, w, x + k * w->cols, 1, false);
    if (memcmp (alone, batched + k * w->rows, w->rows * sizeof (float)) != 0) {
        fprintf (stderr, "FAIL %s: project %s: token %zu of %zu differs from its result alone\n", twins->subject_name,
                 xinf_dtype_name (w->dtype), k, n);
        twins->failed++;
    }
    twins->compared++;
    free (alone);
}

//  A weight type the subject backend has no kernel for: not compared
//  there.
static bool
s_unsupported (const test_twins_t *twins, xinf_dtype_t dtype)
{
#if defined (XINF_HAVE_CUDA)
    return xinf_cuda_backend_is (twins->subject) && !xinf_cuda_dtype_supported (dtype);
#else
    (void) twins;
    (void) dtype;
    return false;
#endif
}

static void
s_twin_project (test_twins_t *twins, bool invariant)
{
    static const size_t ns [] = { 1, 16, 100 };
    for (int type = 0; type < XINF_DTYPE_COUNT; type++) {
        xinf_dtype_t dtype = (xinf_dtype_t) type;
        if (s_unsupported (twins, dtype))
            continue;
        size_t block = xinf_dtype_block_size (dtype);
        //  The last: rows long enough for the wide kernels' loads in flight
        size_t shapes [3][2] = { { 7, block == 1 ? 17 : block }, { 33, block == 1 ? 100 : block == 32 ? 96 : 512 },
                                 { 40, block == 1 ? 2048 : block * 64 } };
        for (size_t s = 0; s < 3; s++)
            for (size_t k = 0; k < 3; k++) {
                size_t rows = shapes [s][0], cols = shapes [s][1], n = ns [k];
                xinf_matrix_t w = { dtype, s_weights (dtype, rows, cols), rows, cols };
                float *x = test_floats (n * cols, &s_state);
                float *reference = s_run_project (twins->reference, &w, x, n, false);
                float *subject = s_run_project (twins->subject, &w, x, n, k == 1);
                char what [128];
                snprintf (what, sizeof what, "project %s %zux%zu n=%zu%s", xinf_dtype_name (dtype), rows, cols, n,
                          k == 1 ? " (host output)" : "");
                test_twins_compare (twins, what, subject, reference, n * rows, s_project_tolerance (dtype));
                if (invariant && n > 1)
                    s_check_alone (twins, &w, x, n, subject);
                free (reference);
                free (subject);
                free (x);
                free ((void *) w.data);
                test_twins_forget (twins);
            }
    }
}

//  The CPU's products against the exact product of the decoded weights
//  (double sums): what a backend with float activations (the CUDA one)
//  computes, within float rounding. Calibrates the project tolerances
//  where there is no GPU.
static void
s_calibrate_project (test_twins_t *twins)
{
    static const size_t ns [] = { 1, 16, 100 };
    for (int type = 0; type < XINF_DTYPE_COUNT; type++) {
        xinf_dtype_t dtype = (xinf_dtype_t) type;
        size_t block = xinf_dtype_block_size (dtype);
        size_t rows = 33, cols = block == 1 ? 100 : block == 32 ? 96 : 512;
        for (size_t k = 0; k < 3; k++) {
            size_t n = ns [k], row_bytes = xinf_dtype_row_bytes (dtype, cols);
            xinf_matrix_t w = { dtype, s_weights (dtype, rows, cols), rows, cols };
            float *x = test_floats (n * cols, &s_state), *decoded = malloc (cols * sizeof (float));
            float *exact = malloc (n * rows * sizeof (float));
            CHECK (decoded && exact);
            for (size_t r = 0; r < rows; r++) {
                xinf_dtype_to_f32 (dtype, (const uint8_t *) w.data + r * row_bytes, cols, decoded);
                for (size_t t = 0; t < n; t++) {
                    double sum = 0;
                    for (size_t c = 0; c < cols; c++)
                        sum += (double) decoded [c] * x [t * cols + c];
                    exact [t * rows + r] = (float) sum;
                }
            }
            float *cpu = s_run_project (twins->reference, &w, x, n, false);
            char what [96];
            snprintf (what, sizeof what, "project %s n=%zu, cpu vs exact", xinf_dtype_name (dtype), n);
            double worst = twins->worst;
            twins->worst = 0;
            test_twins_compare (twins, what, cpu, exact, n * rows, s_project_tolerance (dtype));
            printf ("  %s: NMSE %.2g\n", what, twins->worst * s_project_tolerance (dtype));
            twins->worst = twins->worst > worst ? twins->worst : worst;
            free (cpu);
            free (exact);
            free (decoded);
            free (x);
            free ((void *) w.data);
        }
    }
}

static void
s_twin_project_group_of (test_twins_t *twins, xinf_dtype_t dtype, size_t n)
{
    size_t cols = 256, rows [3] = { 64, 32, 32 };
    xinf_matrix_t w [3];
    for (int p = 0; p < 3; p++)
        w [p] = (xinf_matrix_t) { dtype, s_weights (dtype, rows [p], cols), rows [p], cols };
    float *x = test_floats (n * cols, &s_state), *outs [2][3];
    xinf_backend_t *backends [2] = { twins->reference, twins->subject };
    for (int b = 0; b < 2; b++) {
        xinf_backend_t *be = backends [b];
        float *dx = test_twins_put (be, x, n * cols), *dy [3];
        xinf_product_t products [3];
        for (int p = 0; p < 3; p++) {
            dy [p] = test_twins_put (be, NULL, n * rows [p]);
            products [p] = (xinf_product_t) { &w [p], dx, dy [p], NULL };
        }
        be->ops->project (be, products, 3, n);
        for (int p = 0; p < 3; p++) {
            outs [b][p] = test_twins_get (be, dy [p], n * rows [p]);
            be->ops->free (be, dy [p]);
        }
        be->ops->free (be, dx);
    }
    for (int p = 0; p < 3; p++) {
        char what [64];
        snprintf (what, sizeof what, "project group of 3 %s n=%zu", xinf_dtype_name (dtype), n);
        test_twins_compare (twins, what, outs [1][p], outs [0][p], n * rows [p], 1e-7);
        free (outs [0][p]);
        free (outs [1][p]);
        free ((void *) w [p].data);
    }
    free (x);
    test_twins_forget (twins);
}

#if defined (XINF_HAVE_CUDA)
//  F16 products of activations past F16's range (65504), which a GEMM
//  in F16 must scale rather than turn into Inf (the cuBLAS path).
static void
s_twin_project_large (test_twins_t *twins)
{
    size_t rows = 33, cols = 512, n = 16;
    xinf_matrix_t w = { XINF_DTYPE_F16, s_weights (XINF_DTYPE_F16, rows, cols), rows, cols };
    float *x = test_floats (n * cols, &s_state);
    for (size_t i = 0; i < n * cols; i++)
        x [i] *= i % 5 ? 3e3f : 2e5f;
    float *reference = s_run_project (twins->reference, &w, x, n, false);
    float *subject = s_run_project (twins->subject, &w, x, n, false);
    test_twins_compare (twins, "project F16 33x512 n=16, activations up to 2e5", subject, reference, n * rows,
                        s_project_tolerance (XINF_DTYPE_F16));
    free (reference);
    free (subject);
    free (x);
    free ((void *) w.data);
    test_twins_forget (twins);
}
#endif

//  A group of three products sharing their input (q, k, v), as one call
//  (the CUDA backend makes it one launch): Q8_0 and F16, a decode step
//  and a batch.
static void
s_twin_project_group (test_twins_t *twins)
{
    static const xinf_dtype_t types [] = { XINF_DTYPE_Q8_0, XINF_DTYPE_F16 };
    static const size_t ns [] = { 1, 16 };
    for (size_t type = 0; type < 2; type++)
        for (size_t k = 0; k < 2; k++)
            s_twin_project_group_of (twins, types [type], ns [k]);
}

static void
s_twin_embed (test_twins_t *twins)
{
    static const size_t ns [] = { 1, 16, 100 };
    for (int type = 0; type < XINF_DTYPE_COUNT; type++) {
        xinf_dtype_t dtype = (xinf_dtype_t) type;
        if (s_unsupported (twins, dtype))
            continue;
        size_t block = xinf_dtype_block_size (dtype), cols = block == 1 ? 33 : block * 2, rows = 50;
        xinf_matrix_t table = { dtype, s_weights (dtype, rows, cols), rows, cols };
        for (size_t k = 0; k < 3; k++) {
            size_t n = ns [k];
            int32_t tokens [100];
            for (size_t i = 0; i < n; i++)
                tokens [i] = (int32_t) (test_random (&s_state) % rows);
            float *outs [2];
            xinf_backend_t *backends [2] = { twins->reference, twins->subject };
            for (int b = 0; b < 2; b++) {
                float *x = test_twins_put (backends [b], NULL, n * cols);
                backends [b]->ops->embed (backends [b], &table, tokens, n, x);
                outs [b] = test_twins_get (backends [b], x, n * cols);
                backends [b]->ops->free (backends [b], x);
            }
            char what [64];
            snprintf (what, sizeof what, "embed %s n=%zu", xinf_dtype_name (dtype), n);
            test_twins_compare (twins, what, outs [1], outs [0], n * cols, 1e-12);
            free (outs [0]);
            free (outs [1]);
        }
        free ((void *) table.data);
        test_twins_forget (twins);
    }
}

//  ---- element-wise ops -----------------------------------------------------------------

typedef enum {
    OP_RMSNORM, OP_RMSNORM_IN_PLACE, OP_ADD, OP_ADD_BIAS, OP_SILU_MUL, OP_GELU_MUL, OP_SCALE, OP_SOFTCAP
} s_op_t;

//  One element-wise op on backend 'be': a [n][width] (the output) and b
//  [n][width] (the second input), 'vector' [width] (weight or bias).
static float *
s_run_elementwise (xinf_backend_t *be, s_op_t op, const float *a, const float *b, const float *vector, size_t n,
                   size_t width)
{
    size_t count = n * width;
    float *da = test_twins_put (be, a, count), *db = test_twins_put (be, b, count);
    switch (op) {
        case OP_RMSNORM:            be->ops->rmsnorm (be, da, db, vector, n, width, 1e-5f); break;
        case OP_RMSNORM_IN_PLACE:   be->ops->rmsnorm (be, da, da, vector, n, width, 1e-6f); break;
        case OP_ADD:                be->ops->add (be, da, db, count); break;
        case OP_ADD_BIAS:           be->ops->add_bias (be, da, vector, n, width); break;
        case OP_SILU_MUL:           be->ops->silu_mul (be, da, db, count); break;
        case OP_GELU_MUL:           be->ops->gelu_mul (be, da, db, count); break;
        case OP_SCALE:              be->ops->scale (be, da, count, 33.941125f); break;
        case OP_SOFTCAP:            be->ops->softcap (be, da, count, 0.3f); break;
    }
    float *out = test_twins_get (be, da, count);
    be->ops->free (be, da);
    be->ops->free (be, db);
    return out;
}

static void
s_twin_elementwise (test_twins_t *twins)
{
    static const char *names [] = { "rmsnorm", "rmsnorm in place", "add", "add_bias", "silu_mul", "gelu_mul", "scale",
                                    "softcap" };
    static const double tolerances [] = { 1e-10, 1e-10, 1e-12, 1e-12, 1e-10, 1e-10, 1e-12, 1e-10 };
    static const size_t shapes [][2] = { { 1, 7 }, { 16, 64 }, { 100, 1000 }, { 3, 4097 } };
    for (int op = OP_RMSNORM; op <= OP_SOFTCAP; op++)
        for (size_t s = 0; s < 4; s++)
            for (int weighted = 0; weighted < 2; weighted++) {
                size_t n = shapes [s][0], width = shapes [s][1];
                //  Optional ops (Gemma 3's): compared where the subject has them
                if ((op == OP_GELU_MUL && !twins->subject->ops->gelu_mul)
                ||  (op == OP_SCALE && !twins->subject->ops->scale)
                ||  (op == OP_SOFTCAP && !twins->subject->ops->softcap))
                    continue;
                float *a = test_floats (n * width, &s_state), *b = test_floats (n * width, &s_state);
                float *vector = test_floats (width, &s_state);
                const float *used = weighted || op == OP_ADD_BIAS ? vector : NULL;
                float *reference = s_run_elementwise (twins->reference, (s_op_t) op, a, b, used, n, width);
                float *subject = s_run_elementwise (twins->subject, (s_op_t) op, a, b, used, n, width);
                char what [96];
                snprintf (what, sizeof what, "%s %zux%zu%s", names [op], n, width, used ? " (vector)" : "");
                test_twins_compare (twins, what, subject, reference, n * width, tolerances [op]);
                free (a);
                free (b);
                free (vector);
                free (reference);
                free (subject);
                test_twins_forget (twins);
            }
}

static float *
s_run_rope (xinf_backend_t *be, const float *x, size_t n, size_t heads, size_t head_dim, const int32_t *pos,
            const xinf_rope_t *rope)
{
    float *dx = test_twins_put (be, x, n * heads * head_dim);
    be->ops->rope (be, dx, n, heads, head_dim, pos, rope);
    float *out = test_twins_get (be, dx, n * heads * head_dim);
    be->ops->free (be, dx);
    return out;
}

static void
s_twin_rope (test_twins_t *twins)
{
    static const size_t shapes [][3] = { { 1, 1, 2 }, { 16, 3, 64 }, { 100, 2, 128 }, { 5, 4, 6 } };
    for (size_t s = 0; s < 4; s++)
        for (int variant = 0; variant < 4; variant++) {
            size_t n = shapes [s][0], heads = shapes [s][1], head_dim = shapes [s][2];
            float *x = test_floats (n * heads * head_dim, &s_state), factors [64];
            int32_t pos [100];
            for (size_t i = 0; i < n; i++)
                pos [i] = (int32_t) (test_random (&s_state) % 8192);
            for (size_t i = 0; i < head_dim / 2; i++)
                factors [i] = 1 + 7 * fabsf (test_uniform (&s_state));
            xinf_rope_t rope = { variant & 2 ? 500000.0f : 10000.0f, variant == 3 ? 0.25f : 1.0f, variant & 1,
                                 variant >= 2 ? factors : NULL, variant == 3 ? 1.2f : 1.0f, 0 };
            float *reference = s_run_rope (twins->reference, x, n, heads, head_dim, pos, &rope);
            float *subject = s_run_rope (twins->subject, x, n, heads, head_dim, pos, &rope);
            char what [96];
            snprintf (what, sizeof what, "rope n=%zu heads=%zu head_dim=%zu %s%s", n, heads, head_dim,
                      rope.neox ? "neox" : "pairs", rope.factors ? " factors" : "");
            test_twins_compare (twins, what, subject, reference, n * heads * head_dim, 1e-10);
            free (x);
            free (reference);
            free (subject);
            test_twins_forget (twins);                    //  'factors' lives at one address
        }
}

//  ---- the paged KV cache ------------------------------------------------------------------

typedef struct {
    size_t block_tokens, n_heads, n_kv_heads, head_dim;
} s_paged_shape_t;

//  A batch of sequences of 'lengths' positions each ending in a chunk of
//  'chunks' tokens, their blocks a random permutation of the pool's (gaps
//  everywhere); arrays in 'storage'.
typedef struct {
    int32_t pos [128], seq [128], table_start [8], blocks [128];
    xinf_batch_t batch;
    size_t n_blocks;
} s_paged_batch_t;

static void
s_paged_batch (s_paged_batch_t *b, size_t block_tokens, const size_t *lengths, const size_t *chunks, size_t n_seqs)
{
    size_t used = 0, n = 0;
    for (size_t s = 0; s < n_seqs; s++)
        used += (lengths [s] + block_tokens - 1) / block_tokens;
    b->n_blocks = used + 5;
    CHECK (b->n_blocks <= 128);
    int32_t order [128];
    for (size_t i = 0; i < b->n_blocks; i++)
        order [i] = (int32_t) i;
    for (size_t i = b->n_blocks - 1; i > 0; i--) {
        size_t j = test_random (&s_state) % (i + 1);
        int32_t swap = order [i];
        order [i] = order [j];
        order [j] = swap;
    }
    size_t listed = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        b->table_start [s] = (int32_t) listed;
        for (size_t k = 0; k < (lengths [s] + block_tokens - 1) / block_tokens; k++, listed++)
            b->blocks [listed] = order [listed];
        for (size_t p = lengths [s] - chunks [s]; p < lengths [s]; p++, n++) {
            b->pos [n] = (int32_t) p;
            b->seq [n] = (int32_t) s;
        }
    }
    b->table_start [n_seqs] = (int32_t) listed;
    CHECK (n <= 128);
    b->batch = (xinf_batch_t) { n, NULL, b->pos, b->seq, n_seqs, b->table_start, b->blocks, 0, NULL, 0, NULL, NULL, NULL };
}

//  kv_store then attention on 'be': the pool's keys and values after the
//  store, the attention output.
static void
s_run_paged (xinf_backend_t *be, const s_paged_shape_t *shape, const s_paged_batch_t *b, const xinf_attend_t *attend,
             const float *pool_init, const float *k, const float *v, const float *q, float **keys, float **values,
             float **out)
{
    size_t kv_dim = shape->n_kv_heads * shape->head_dim, n = b->batch.n, q_dim = shape->n_heads * shape->head_dim;
    size_t slots = 2 * b->n_blocks * shape->block_tokens * kv_dim;
    xinf_kv_pool_t pool = { test_twins_put (be, pool_init, slots), test_twins_put (be, pool_init + slots, slots), 2,
                            b->n_blocks, shape->block_tokens, kv_dim, XINF_DTYPE_F32,
                            kv_dim * sizeof (float) };
    float *dk = test_twins_put (be, k, n * kv_dim), *dv = test_twins_put (be, v, n * kv_dim);
    float *dq = test_twins_put (be, q, n * q_dim), *dout = test_twins_put (be, NULL, n * q_dim);
    be->ops->kv_store (be, &pool, 1, &b->batch, dk, dv);
    CHECK (be->ops->attention (be, &pool, 1, &b->batch, dq, shape->n_heads, shape->n_kv_heads, shape->head_dim, attend,
                               dout) == 0);
    *keys = test_twins_get (be, pool.keys, slots);
    *values = test_twins_get (be, pool.values, slots);
    *out = test_twins_get (be, dout, n * q_dim);
    float *buffers [] = { pool.keys, pool.values, dk, dv, dq, dout };
    for (size_t index = 0; index < 6; index++)
        be->ops->free (be, buffers [index]);
}

static void
s_twin_paged (test_twins_t *twins)
{
    static const s_paged_shape_t shapes [] = { { 16, 4, 4, 64 }, { 5, 8, 2, 32 }, { 16, 3, 1, 128 }, { 7, 4, 2, 8 },
                                               { 16, 2, 1, 256 }, { 16, 4, 2, 80 }, { 3, 2, 2, 320 } };
    //  n = 1: one decode; n = 16: two decodes and a chunk; n = 100: a
    //  prompt, a decode at 130 and a small prompt
    static const size_t lengths [3][3] = { { 37 }, { 20, 1, 50 }, { 90, 130, 9 } };
    static const size_t chunks [3][3] = { { 1 }, { 1, 1, 14 }, { 90, 1, 9 } };
    static const size_t n_seqs [3] = { 1, 3, 3 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
        for (size_t m = 0; m < 3; m++) {
            const s_paged_shape_t *shape = &shapes [s];
            s_paged_batch_t b;
            s_paged_batch (&b, shape->block_tokens, lengths [m], chunks [m], n_seqs [m]);
            size_t kv_dim = shape->n_kv_heads * shape->head_dim, n = b.batch.n;
            size_t slots = 2 * b.n_blocks * shape->block_tokens * kv_dim;
            float *pool_init = test_floats (2 * slots, &s_state), *k = test_floats (n * kv_dim, &s_state);
            float *v = test_floats (n * kv_dim, &s_state);
            float *q = test_floats (n * shape->n_heads * shape->head_dim, &s_state);
            float *ref [3], *sub [3];
            //  Sliding windows (Gemma 3's local layers) where the subject has them: one position, one that
            //  ends inside a block, and one wider than any sequence
            static const size_t windows [] = { 0, 1, 21, 1000 };
            size_t window = twins->subject->sliding_window ? windows [(s + m) % 4] : 0;
            //  Soft-capped scores (Gemma 2's) where the subject takes them
            static const float caps [] = { 0, 0.2f, 0, 50.0f, 0.05f };
            float softcap = twins->subject->softcap ? caps [(s + 2 * m) % 5] : 0;
            //  Sinks (GPT-OSS's) where the subject takes them: every other case, about the scores
            float sinks [8];
            for (size_t h = 0; h < shape->n_heads; h++)
                sinks [h] = 0.5f * (float) h - 1.0f;
            bool sinking = twins->subject->sinks && (s + m) % 2;
            xinf_attend_t attend = { window, softcap, sinking ? sinks : NULL };
            s_run_paged (twins->reference, shape, &b, &attend, pool_init, k, v, q, &ref [0], &ref [1], &ref [2]);
            s_run_paged (twins->subject, shape, &b, &attend, pool_init, k, v, q, &sub [0], &sub [1], &sub [2]);
            char what [128];
            snprintf (what, sizeof what, "kv_store block %zu heads %zu/%zu head_dim %zu n=%zu", shape->block_tokens,
                      shape->n_heads, shape->n_kv_heads, shape->head_dim, n);
            test_twins_compare (twins, what, sub [0], ref [0], slots, 1e-12);
            test_twins_compare (twins, what, sub [1], ref [1], slots, 1e-12);
            snprintf (what, sizeof what, "attention block %zu heads %zu/%zu head_dim %zu n=%zu window %zu cap %g%s",
                      shape->block_tokens, shape->n_heads, shape->n_kv_heads, shape->head_dim, n, window,
                      (double) softcap, sinking ? " sinks" : "");
            test_twins_compare (twins, what, sub [2], ref [2], n * shape->n_heads * shape->head_dim, 1e-9);
            for (int i = 0; i < 3; i++) {
                free (ref [i]);
                free (sub [i]);
            }
            free (pool_init);
            free (k);
            free (v);
            free (q);
        }
}

//  ---- the runs ------------------------------------------------------------------------------

static void
s_all_ops (test_twins_t *twins, bool invariant)
{
    s_twin_project (twins, invariant);
    s_twin_project_group (twins);
    s_twin_embed (twins);
    s_twin_elementwise (twins);
    s_twin_rope (twins);
    s_twin_paged (twins);
    test_twins_fused (twins);
}

static void
s_report (const test_twins_t *twins, const char *what)
{
    printf ("%s: %zu comparisons, %zu over tolerance, worst NMSE / tolerance %.3g\n", what, twins->compared,
            twins->failed, twins->worst);
}

//  The CPU on one thread against itself on three; then against the
//  perturbed CPU, which every comparison must catch; and its sample op
//  (rows spread over 3 threads) against the CPU twin.
static int
s_cpu (const char *make_model)
{
    xinf_backend_t *reference = xinf_cpu_backend_new (1), *subject = xinf_cpu_backend_new (3);
    CHECK (reference && subject);
    test_twins_t twins = { reference, subject, "cpu x3", false, 0, 0, 0, 0 };
    s_all_ops (&twins, true);
    test_twins_model (&twins, make_model);
    s_report (&twins, "cpu (1 thread) vs cpu (3 threads)");
    CHECK (twins.compared > 0 && twins.failed == 0);
    test_twins_t exact = { reference, NULL, "cpu vs exact", false, 0, 0, 0, 0 };
    s_calibrate_project (&exact);
    s_report (&exact, "cpu products vs exact products of the decoded weights");
    CHECK (exact.compared > 0 && exact.failed == 0);
    xinf_backend_t *perturbed = test_twins_perturbed_new ();
    test_twins_t caught = { reference, perturbed, "perturbed cpu", true, 0, 0, 0, 0 };
    s_all_ops (&caught, false);
    test_twins_model (&caught, make_model);
    s_report (&caught, "cpu vs perturbed cpu (every comparison must fail)");
    CHECK (caught.compared > 0 && caught.failed == caught.compared);
    //  Decode steps replayed from recordings compute what eager ones do
    xinf_backend_t *graphed = test_twins_graph_new ();
    test_twins_t replayed = { reference, graphed, "cpu with recorded graphs", false, 0, 0, 0, 0 };
    test_twins_model (&replayed, make_model);
    s_report (&replayed, "cpu vs cpu replaying recorded decode steps");
    printf ("decode steps replayed from recordings: %zu\n", test_twins_graph_replays (graphed));
    CHECK (replayed.compared > 0 && replayed.failed == 0 && test_twins_graph_replays (graphed) > 0);
    xinf_backend_destroy (&graphed);
    //  A backend whose op failed fails the step with its reason
    test_twins_perturbed_fail ("injected device failure");
    test_twins_model_fails (perturbed, make_model, "injected device failure");
    test_twins_perturbed_fail (NULL);
    xinf_backend_destroy (&perturbed);
    test_twins_sample_cpu ();
    //  The CPU backend's sample op, rows spread over 3 threads
    CHECK (test_twins_sample_backend (subject) == 0);
    xinf_backend_destroy (&subject);
    xinf_backend_destroy (&reference);
    return 0;
}

static int
s_cuda (const char *make_model)
{
#if defined (XINF_HAVE_CUDA)
    char error [512] = "";
    xinf_backend_t *subject = xinf_cuda_backend_new (0, error, sizeof error);
    if (!subject) {
        printf ("SKIP: %s\n", error);
        return 77;
    }
    xinf_cuda_device_t device;
    xinf_cuda_versions_t versions;
    if (xinf_cuda_devices (&device, 1, &versions, error, sizeof error) > 0)
        printf ("device 0: %s, compute %d.%d, %zu MiB, driver %d, runtime %d, NCCL %d\n", device.name, device.major,
                device.minor, device.total_bytes >> 20, versions.driver, versions.runtime, versions.nccl);
    xinf_backend_t *reference = xinf_cpu_backend_new (0);
    CHECK (reference);
    test_twins_t twins = { reference, subject, "cuda", false, 0, 0, 0, 0 };
    s_all_ops (&twins, true);
    size_t fused = xinf_cuda_backend_fused_launches (subject);
    printf ("products of one input in one launch: %zu calls\n", fused);
    printf ("quantizing launches the q8a handoff saved: %zu\n", test_twins_handoff (&twins));
    size_t rope_attentions = xinf_cuda_backend_rope_attentions (subject);
    test_twins_model (&twins, make_model);
    s_report (&twins, "cpu vs cuda");
    rope_attentions = xinf_cuda_backend_rope_attentions (subject) - rope_attentions;
    printf ("rope_attention calls in one launch in whole steps: %zu\n", rope_attentions);
    //  The generic product kernel where the wide one took F16/BF16/Q8_0
    xinf_cuda_backend_set_wide (subject, false);
    test_twins_t generic = { reference, subject, "cuda (generic products)", false, 0, 0, 0, 0 };
    s_twin_project (&generic, false);
    test_twins_model (&generic, make_model);
    s_report (&generic, "cpu vs cuda with the generic product kernel");
    xinf_cuda_backend_set_wide (subject, true);
    //  One row a warp in products of several tokens (the kernels before
    //  several rows a warp; s_check_alone holds the two to the same floats)
    xinf_cuda_backend_set_several_rows (subject, false);
    test_twins_t one_row = { reference, subject, "cuda (one row a warp)", false, 0, 0, 0, 0 };
    s_twin_project (&one_row, true);
    s_report (&one_row, "cpu vs cuda with one row a warp");
    xinf_cuda_backend_set_several_rows (subject, true);
    //  Q8_0 through the wide kernel's float activations where the q8a path took them
    xinf_cuda_backend_set_q8a (subject, false);
    test_twins_t floats = { reference, subject, "cuda (Q8_0 float activations)", false, 0, 0, 0, 0 };
    s_twin_project (&floats, false);
    s_report (&floats, "cpu vs cuda with Q8_0 products of float activations");
    xinf_cuda_backend_set_q8a (subject, true);
    //  The first attention kernel, kept to compare
    xinf_cuda_backend_set_simple_attention (subject, true);
    test_twins_t simple = { reference, subject, "cuda (simple attention)", false, 0, 0, 0, 0 };
    s_twin_paged (&simple);
    s_report (&simple, "cpu vs cuda with the simple attention kernel");
    xinf_cuda_backend_set_simple_attention (subject, false);
    //  Whole steps with RoPE, the KV store and attention in two launches
    xinf_cuda_backend_set_attention_apart (subject, true);
    test_twins_t apart = { reference, subject, "cuda (rope_store, then attention)", false, 0, 0, 0, 0 };
    test_twins_model (&apart, make_model);
    s_report (&apart, "cpu vs cuda with rope_store, then attention");
    xinf_cuda_backend_set_attention_apart (subject, false);
    //  Whole steps with plain launches: a fault that only programmatic
    //  dependent launch brings shows as a difference between the two
    bool pdl = xinf_cuda_backend_pdl (subject);
    printf ("programmatic dependent launch: %s\n", pdl ? "on" : "off");
    xinf_cuda_backend_set_pdl (subject, false);
    test_twins_t plain = { reference, subject, "cuda (plain launches)", false, 0, 0, 0, 0 };
    test_twins_model (&plain, make_model);
    s_report (&plain, "cpu vs cuda with plain launches");
    xinf_cuda_backend_set_pdl (subject, pdl);
    s_cublas = true;
    xinf_cuda_backend_set_cublas (subject, true);
    test_twins_t blas = { reference, subject, "cuda (cuBLAS)", false, 0, 0, 0, 1e-3 };
    s_twin_project (&blas, false);
    s_twin_project_large (&blas);
    test_twins_model (&blas, make_model);
    s_report (&blas, "cpu vs cuda with cuBLAS");
    size_t sampled_differ = test_twins_sample_backend (subject);
    if (xinf_cuda_backend_error (subject))
        fprintf (stderr, "FAIL: the CUDA backend reports: %s\n", xinf_cuda_backend_error (subject));
    CHECK (!xinf_cuda_backend_error (subject));
    CHECK (twins.failed == 0 && generic.failed == 0 && one_row.failed == 0 && floats.failed == 0
           && simple.failed == 0 && apart.failed == 0 && plain.failed == 0 && blas.failed == 0 && sampled_differ == 0
           && fused >= 4 && rope_attentions > 0);
    xinf_backend_destroy (&subject);
    xinf_backend_destroy (&reference);
    return 0;
#else
    (void) make_model;
    printf ("SKIP: no CUDA device: this build has no CUDA backend (no CUDA toolkit found, or -DXINF_CUDA=OFF)\n");
    return 77;
#endif
}

//  The CUDA kernels' weight decoders, run on the host, against the CPU's
//  (xinf_dtype_to_f32): the same floats for every type (no GPU needed).
static int
s_cuda_decode (void)
{
#if defined (XINF_HAVE_CUDA)
    size_t checked = 0;
    for (int type = 0; type < XINF_DTYPE_COUNT; type++) {
        xinf_dtype_t dtype = (xinf_dtype_t) type;
        if (!xinf_cuda_dtype_supported (dtype)) {
            printf ("%s: no CUDA kernel yet (refused by the backend, runs on the CPU)\n", xinf_dtype_name (dtype));
            continue;
        }
        size_t block = xinf_dtype_block_size (dtype), cols = block == 1 ? 77 : block * 3, rows = 40;
        size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
        uint8_t *weights = s_weights (dtype, rows, cols);
        float *cpu = malloc (cols * sizeof (float)), *gpu = malloc (cols * sizeof (float));
        CHECK (cpu && gpu);
        for (size_t r = 0; r < rows; r++) {
            xinf_dtype_to_f32 (dtype, weights + r * row_bytes, cols, cpu);
            xinf_cuda_decode_row (dtype, weights + r * row_bytes, cols, gpu);
            for (size_t k = 0; k < cols; k++, checked++)
                if (xinf_dtype_f32_to_bits (cpu [k]) != xinf_dtype_f32_to_bits (gpu [k])
                    && !(isnan (cpu [k]) && isnan (gpu [k]))) {       //  the sign of a zero too
                    fprintf (stderr, "FAIL: %s row %zu weight %zu: the CUDA decoder gives %.9g, the CPU %.9g\n",
                             xinf_dtype_name (dtype), r, k, gpu [k], cpu [k]);
                    exit (1);
                }
        }
        free (cpu);
        free (gpu);
        free (weights);
    }
    printf ("the CUDA decoders give the CPU's floats: %zu weights of %d types\n", checked, XINF_DTYPE_COUNT);
    test_twins_sample_host_kernel ();
    test_twins_wide_host_kernel ();
    //  Discovery and refusal: no device means a reason, never a crash
    char error [512] = "";
    xinf_cuda_device_t devices [4];
    xinf_cuda_versions_t versions;
    int count = xinf_cuda_devices (devices, 4, &versions, error, sizeof error);
    printf ("CUDA devices: %d (%s), runtime %d, driver %d, NCCL %d\n", count, count < 0 ? error : "ok",
            versions.runtime, versions.driver, versions.nccl);
    CHECK (versions.runtime > 0);
    CHECK (count >= 0 || error [0]);
    error [0] = 0;
    xinf_backend_t *backend = xinf_cuda_backend_new (count > 0 ? count : 0, error, sizeof error);
    CHECK (!backend && error [0]);
    printf ("xinf_cuda_backend_new (%d): refused: %s\n", count > 0 ? count : 0, error);
    CHECK (!xinf_cuda_backend_is (NULL) && xinf_cuda_backend_error (NULL) == NULL);
    return 0;
#else
    printf ("SKIP: this build has no CUDA backend (no CUDA toolkit found, or -DXINF_CUDA=OFF)\n");
    return 77;
#endif
}

int
main (int argc, char *argv [])
{
    bool known = argc == 3 && (strcmp (argv [1], "cpu") == 0 || strcmp (argv [1], "cuda") == 0);
    if (!known && !(argc == 2 && strcmp (argv [1], "decode") == 0)) {
        fprintf (stderr, "usage: test_backend_twins cpu|cuda PATH/TO/xinf-make-model\n"
                         "       test_backend_twins decode\n");
        return 2;
    }
    setvbuf (stdout, NULL, _IONBF, 0);
    if (strcmp (argv [1], "decode") == 0)
        return s_cuda_decode ();
    return strcmp (argv [1], "cpu") == 0 ? s_cpu (argv [2]) : s_cuda (argv [2]);
}
