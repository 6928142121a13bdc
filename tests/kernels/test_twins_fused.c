/*  test_twins_fused: the seam's fused ops (add_rmsnorm, rope_store,
    rope_attention) on the subject against the ops they stand for, run
    one by one on the reference; a subject without a fused op (the
    perturbed CPU) runs those ops itself, so the harness still catches its
    perturbation. rope_attention on CUDA: one launch for steps of one
    token a sequence (plain and padded decode steps), the ops apart for a
    step with a chunk of a sequence. Then, on
    CUDA, the q8a handoff: an op that writes a Q8_0 product's input
    quantizes it too, and the product right after it skips its own
    quantizing launch; the results must be the CPU's all the same, and an
    op between must stop the handoff. Products with a bias against the
    product then add_bias.

    Tolerances as test_backend_twins.c's: rmsnorm and rope 1e-10, the
    adds and stored values 1e-12, Q8_0 products 1e-7, K-quants 1e-3. On
    the subject itself a fused op (and a product's bias) must give the
    very floats of the ops it stands for.
*/
#include "test_twins.h"

//  Attention over every position, no cap, no sinks.
static const xinf_attend_t whole = { 0, 0, NULL };

static uint64_t s_state = 20261204;

//  The subject's fused op against its own composed ops: the same floats
//  (not asked of the perturbed CPU, whose every op scales its output).
static void
s_same (test_twins_t *twins, const char *what, const float *fused, const float *composed, size_t count)
{
    if (twins->expect_fail)
        return;
    if (memcmp (fused, composed, count * sizeof (float)) != 0)
        fprintf (stderr, "FAIL %s: %s: the fused op's floats differ from the ops it stands for\n",
                 twins->subject_name, what);
    CHECK (memcmp (fused, composed, count * sizeof (float)) == 0);
}

//  Each part of a fused op's results: the subject's against the
//  reference's within its tolerance, and the same floats as the subject's
//  composed ops; frees them.
static void
s_check_parts (test_twins_t *twins, const char *label, const char *const *names, float **ref, float **sub,
               float **own, const size_t *counts, const double *tolerances, size_t n_parts)
{
    for (size_t part = 0; part < n_parts; part++) {
        char what [160];
        snprintf (what, sizeof what, "%s: %s", label, names [part]);
        test_twins_compare (twins, what, sub [part], ref [part], counts [part], tolerances [part]);
        s_same (twins, what, sub [part], own [part], counts [part]);
        free (ref [part]);
        free (sub [part]);
        free (own [part]);
    }
}

//  Random Q8_0 rows: a small F16 scale and 32 random codes a block.
static uint8_t *
s_q8_0 (size_t rows, size_t cols)
{
    size_t bytes = rows * cols / 32 * 34;
    uint8_t *data = malloc (bytes);
    CHECK (data);
    for (size_t at = 0; at < bytes; at += 34) {
        uint16_t half = xinf_dtype_f32_to_fp16 (0.002f + 0.02f * fabsf (test_uniform (&s_state)));
        memcpy (data + at, &half, 2);
        for (size_t i = 2; i < 34; i++)
            data [at + i] = (uint8_t) test_random (&s_state);
    }
    return data;
}

//  ---- add_rmsnorm ----------------------------------------------------------------------

//  y += x then out = rmsnorm (y) * weight on 'be', fused when 'fused' and
//  the backend has the op; the output and the sum into out [0], out [1].
static void
s_run_add_rmsnorm (xinf_backend_t *be, bool fused, const float *y, const float *x, const float *weight, size_t n,
                   size_t dim, float *out [2])
{
    float *dy = test_twins_put (be, y, n * dim), *dx = test_twins_put (be, x, n * dim);
    float *dout = test_twins_put (be, NULL, n * dim);
    if (fused && be->ops->add_rmsnorm)
        be->ops->add_rmsnorm (be, dout, dy, dx, weight, n, dim, 1e-5f);
    else {
        be->ops->add (be, dy, dx, n * dim);
        be->ops->rmsnorm (be, dout, dy, weight, n, dim, 1e-5f);
    }
    out [0] = test_twins_get (be, dout, n * dim);
    out [1] = test_twins_get (be, dy, n * dim);
    be->ops->free (be, dy);
    be->ops->free (be, dx);
    be->ops->free (be, dout);
}

static void
s_twin_add_rmsnorm (test_twins_t *twins)
{
    static const size_t shapes [][2] = { { 1, 7 }, { 16, 64 }, { 3, 2048 }, { 5, 4097 } };
    for (size_t s = 0; s < 4; s++)
        for (int weighted = 0; weighted < 2; weighted++) {
            size_t n = shapes [s][0], dim = shapes [s][1];
            float *y = test_floats (n * dim, &s_state), *x = test_floats (n * dim, &s_state);
            float *weight = weighted ? test_floats (dim, &s_state) : NULL;
            float *ref [2], *sub [2], *own [2];
            s_run_add_rmsnorm (twins->reference, false, y, x, weight, n, dim, ref);
            s_run_add_rmsnorm (twins->subject, true, y, x, weight, n, dim, sub);
            s_run_add_rmsnorm (twins->subject, false, y, x, weight, n, dim, own);
            char what [96];
            snprintf (what, sizeof what, "add_rmsnorm %zux%zu%s: the norm", n, dim, weight ? " (weight)" : "");
            test_twins_compare (twins, what, sub [0], ref [0], n * dim, 1e-10);
            snprintf (what, sizeof what, "add_rmsnorm %zux%zu%s: the sum", n, dim, weight ? " (weight)" : "");
            test_twins_compare (twins, what, sub [1], ref [1], n * dim, 1e-12);
            for (int i = 0; i < 2; i++) {
                s_same (twins, what, sub [i], own [i], n * dim);
                free (ref [i]);
                free (sub [i]);
                free (own [i]);
            }
            free (y);
            free (x);
            free (weight);
            test_twins_forget (twins);                   //  'weight' is gone
        }
}

//  ---- rope_store -------------------------------------------------------------------------

//  Six sequences in blocks of 'block_tokens' (their tables in reverse
//  order of the pool's blocks), a decode each: at 37, at 49 (S_MIXED: a
//  chunk of 14 ending there), at 0, at 6, at 299 and at 649 (the last
//  two long enough for attention in parts), the last positions covering
//  every place in a warp's group of four. With S_PADDED (a decode step),
//  two padding tokens as xinf_graph_pad makes them: the last token again,
//  each in a sequence of its own whose table is a copy of the last one's
//  (their rows must be the last token's).
typedef enum { S_MIXED, S_DECODE, S_PADDED } s_kind_t;

#define S_SEQS 6

typedef struct {
    int32_t pos [24], seq [24], table_start [S_SEQS + 3], blocks [1200];
    xinf_batch_t batch;
    size_t n_blocks, n_real;
} s_batch_t;

static void
s_batch (s_batch_t *b, size_t block_tokens, s_kind_t kind)
{
    static const size_t lengths [S_SEQS] = { 38, 50, 1, 7, 300, 650 };
    size_t chunks [S_SEQS] = { 1, kind == S_MIXED ? 14 : 1, 1, 1, 1, 1 };
    size_t listed = 0, n = 0, n_seqs = kind == S_PADDED ? S_SEQS + 2 : S_SEQS;
    for (size_t s = 0; s < S_SEQS; s++)
        listed += (lengths [s] + block_tokens - 1) / block_tokens;
    b->n_blocks = listed + 2;
    CHECK (listed <= 400);
    listed = 0;
    for (size_t s = 0; s < S_SEQS; s++) {
        b->table_start [s] = (int32_t) listed;
        for (size_t k = 0; k < (lengths [s] + block_tokens - 1) / block_tokens; k++, listed++)
            b->blocks [listed] = (int32_t) (b->n_blocks - 1 - listed);
        for (size_t p = lengths [s] - chunks [s]; p < lengths [s]; p++, n++) {
            b->pos [n] = (int32_t) p;
            b->seq [n] = (int32_t) s;
        }
    }
    b->n_real = n;
    size_t last_first = (size_t) b->table_start [S_SEQS - 1], last_count = listed - last_first;
    for (size_t s = S_SEQS; s < n_seqs; s++, n++) {
        b->table_start [s] = (int32_t) listed;
        for (size_t k = 0; k < last_count; k++, listed++)
            b->blocks [listed] = b->blocks [last_first + k];
        b->pos [n] = b->pos [n - 1];
        b->seq [n] = (int32_t) s;
    }
    b->table_start [n_seqs] = (int32_t) listed;
    b->batch = (xinf_batch_t) { n, NULL, b->pos, b->seq, n_seqs, b->table_start, b->blocks, 0, NULL, 0, NULL, NULL, NULL };
}

typedef struct {
    size_t block_tokens, n_heads, n_kv_heads, head_dim;
} s_shape_t;

//  A pool of two layers on 'be' for the batch's blocks, its keys then
//  values copied from 'pool_init' (2 x slots floats).
static xinf_kv_pool_t
s_pool_put (xinf_backend_t *be, const s_shape_t *shape, const s_batch_t *b, const float *pool_init)
{
    size_t kv_dim = shape->n_kv_heads * shape->head_dim, slots = 2 * b->n_blocks * shape->block_tokens * kv_dim;
    return (xinf_kv_pool_t) { test_twins_put (be, pool_init, slots), test_twins_put (be, pool_init + slots, slots), 2,
                              b->n_blocks, shape->block_tokens, kv_dim, XINF_DTYPE_F32,
                              kv_dim * sizeof (float) };
}

//  rope_store (or rope, rope, kv_store) on 'be' into layer 1 of a pool of
//  two layers at 'pool_init': q, k, the keys and the values after it.
static void
s_run_rope_store (xinf_backend_t *be, bool fused, const s_shape_t *shape, const s_batch_t *b, const float *pool_init,
                  const float *q, const float *k, const float *v, const xinf_rope_t *rope, float *out [4])
{
    size_t n = b->batch.n, kv_dim = shape->n_kv_heads * shape->head_dim, q_dim = shape->n_heads * shape->head_dim;
    size_t slots = 2 * b->n_blocks * shape->block_tokens * kv_dim;
    xinf_kv_pool_t pool = s_pool_put (be, shape, b, pool_init);
    float *dq = test_twins_put (be, q, n * q_dim), *dk = test_twins_put (be, k, n * kv_dim);
    float *dv = test_twins_put (be, v, n * kv_dim);
    if (fused && be->ops->rope_store)
        be->ops->rope_store (be, &pool, 1, &b->batch, dq, dk, dv, shape->n_heads, shape->n_kv_heads, shape->head_dim,
                             rope);
    else {
        be->ops->rope (be, dq, n, shape->n_heads, shape->head_dim, b->batch.pos, rope);
        be->ops->rope (be, dk, n, shape->n_kv_heads, shape->head_dim, b->batch.pos, rope);
        be->ops->kv_store (be, &pool, 1, &b->batch, dk, dv);
    }
    out [0] = test_twins_get (be, dq, n * q_dim);
    out [1] = test_twins_get (be, dk, n * kv_dim);
    out [2] = test_twins_get (be, pool.keys, slots);
    out [3] = test_twins_get (be, pool.values, slots);
    float *buffers [] = { pool.keys, pool.values, dq, dk, dv };
    for (size_t index = 0; index < 5; index++)
        be->ops->free (be, buffers [index]);
}

static void
s_twin_rope_store (test_twins_t *twins)
{
    static const s_shape_t shapes [] = { { 16, 4, 4, 64 }, { 5, 8, 2, 32 }, { 16, 3, 1, 128 }, { 7, 4, 2, 6 },
                                         { 16, 2, 1, 256 } };
    static const char *parts [] = { "q", "k", "keys", "values" };
    static const double tolerances [] = { 1e-10, 1e-10, 1e-10, 1e-12 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
        for (int variant = 0; variant < 3; variant++) {
            const s_shape_t *shape = &shapes [s];
            s_batch_t b;
            s_batch (&b, shape->block_tokens, S_MIXED);
            size_t n = b.batch.n, kv_dim = shape->n_kv_heads * shape->head_dim;
            size_t slots = 2 * b.n_blocks * shape->block_tokens * kv_dim;
            float *pool_init = test_floats (2 * slots, &s_state), *k = test_floats (n * kv_dim, &s_state);
            float *v = test_floats (n * kv_dim, &s_state);
            float *q = test_floats (n * shape->n_heads * shape->head_dim, &s_state), factors [128];
            for (size_t i = 0; i < shape->head_dim / 2; i++)
                factors [i] = 1 + 7 * fabsf (test_uniform (&s_state));
            xinf_rope_t rope = { variant ? 500000.0f : 10000.0f, variant == 2 ? 0.25f : 1.0f, variant == 1,
                                 variant == 2 ? factors : NULL, variant == 2 ? 1.2f : 1.0f, 0 };
            float *ref [4], *sub [4], *own [4];
            s_run_rope_store (twins->reference, false, shape, &b, pool_init, q, k, v, &rope, ref);
            s_run_rope_store (twins->subject, true, shape, &b, pool_init, q, k, v, &rope, sub);
            s_run_rope_store (twins->subject, false, shape, &b, pool_init, q, k, v, &rope, own);
            size_t counts [4] = { n * shape->n_heads * shape->head_dim, n * kv_dim, slots, slots };
            char label [96];
            snprintf (label, sizeof label, "rope_store block %zu heads %zu/%zu head_dim %zu %s%s", shape->block_tokens,
                      shape->n_heads, shape->n_kv_heads, shape->head_dim, rope.neox ? "neox" : "pairs",
                      rope.factors ? " factors" : "");
            s_check_parts (twins, label, parts, ref, sub, own, counts, tolerances, 4);
            free (pool_init);
            free (k);
            free (v);
            free (q);
            test_twins_forget (twins);                   //  'factors' lives at one address
        }
}

//  ---- rope_attention ----------------------------------------------------------------------

//  rope_attention (or the heads' norms with 'norms', rope, rope,
//  kv_store, attention) on 'be' into layer 1 of a pool of two layers at
//  'pool_init': the attention output, the keys and the values after it.
static void
s_run_rope_attention (xinf_backend_t *be, bool fused, const s_shape_t *shape, const s_batch_t *b,
                      const float *pool_init, const float *q, const float *k, const float *v, const xinf_rope_t *rope,
                      const xinf_head_norms_t *norms, float *out [3])
{
    size_t n = b->batch.n, kv_dim = shape->n_kv_heads * shape->head_dim, q_dim = shape->n_heads * shape->head_dim;
    size_t slots = 2 * b->n_blocks * shape->block_tokens * kv_dim;
    xinf_kv_pool_t pool = s_pool_put (be, shape, b, pool_init);
    float *dq = test_twins_put (be, q, n * q_dim), *dk = test_twins_put (be, k, n * kv_dim);
    float *dv = test_twins_put (be, v, n * kv_dim), *dout = test_twins_put (be, NULL, n * q_dim);
    if (fused && be->ops->rope_attention)
        CHECK (be->ops->rope_attention (be, &pool, 1, &b->batch, dq, dk, dv, shape->n_heads, shape->n_kv_heads,
                                        shape->head_dim, rope, norms, &whole, dout) == 0);
    else {
        if (norms) {
            be->ops->rmsnorm (be, dq, dq, norms->q, n * shape->n_heads, shape->head_dim, norms->eps);
            be->ops->rmsnorm (be, dk, dk, norms->k, n * shape->n_kv_heads, shape->head_dim, norms->eps);
        }
        be->ops->rope (be, dq, n, shape->n_heads, shape->head_dim, b->batch.pos, rope);
        be->ops->rope (be, dk, n, shape->n_kv_heads, shape->head_dim, b->batch.pos, rope);
        be->ops->kv_store (be, &pool, 1, &b->batch, dk, dv);
        CHECK (be->ops->attention (be, &pool, 1, &b->batch, dq, shape->n_heads, shape->n_kv_heads, shape->head_dim,
                                   &whole, dout) == 0);
    }
    out [0] = test_twins_get (be, dout, n * q_dim);
    out [1] = test_twins_get (be, pool.keys, slots);
    out [2] = test_twins_get (be, pool.values, slots);
    float *buffers [] = { pool.keys, pool.values, dq, dk, dv, dout };
    for (size_t index = 0; index < 6; index++)
        be->ops->free (be, buffers [index]);
}

//  rope_attention calls a CUDA backend ran as one launch (0 elsewhere).
static size_t
s_rope_attentions (xinf_backend_t *be)
{
#if defined (XINF_HAVE_CUDA)
    return xinf_cuda_backend_rope_attentions (be);
#else
    (void) be;
    return 0;
#endif
}

//  Random rows a token, a padding token's the last real token's.
static float *
s_token_rows (const s_batch_t *b, size_t width)
{
    float *rows = test_floats (b->batch.n * width, &s_state);
    for (size_t t = b->n_real; t < b->batch.n; t++)
        memcpy (rows + t * width, rows + (b->n_real - 1) * width, width * sizeof (float));
    return rows;
}

//  On CUDA a step of one token a sequence (decode, padded) runs as one
//  launch, a step with a chunk as the ops apart; each gives the floats
//  of the ops it stands for, with and without the heads' norms.
static void
s_twin_rope_attention (test_twins_t *twins)
{
    static const s_shape_t shapes [] = { { 16, 4, 4, 64 }, { 5, 8, 2, 32 }, { 16, 3, 1, 128 }, { 7, 4, 2, 6 },
                                         { 16, 2, 1, 256 }, { 3, 8, 8, 64 } };
    static const char *parts [] = { "out", "keys", "values" }, *kinds [] = { "mixed", "decode", "padded" };
    static const double tolerances [] = { 1e-9, 1e-10, 1e-12 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
        for (int kind = S_MIXED; kind <= S_PADDED; kind++) {
            const s_shape_t *shape = &shapes [s];
            s_batch_t b;
            s_batch (&b, shape->block_tokens, (s_kind_t) kind);
            size_t n = b.batch.n, kv_dim = shape->n_kv_heads * shape->head_dim, q_dim = shape->n_heads * shape->head_dim;
            size_t slots = 2 * b.n_blocks * shape->block_tokens * kv_dim;
            float *pool_init = test_floats (2 * slots, &s_state), *k = s_token_rows (&b, kv_dim);
            float *v = s_token_rows (&b, kv_dim), *q = s_token_rows (&b, q_dim), factors [128];
            for (size_t i = 0; i < shape->head_dim / 2; i++)
                factors [i] = 1 + 7 * fabsf (test_uniform (&s_state));
            xinf_rope_t rope = { kind ? 500000.0f : 10000.0f, kind == S_PADDED ? 0.25f : 1.0f, s % 2 == 1,
                                 kind == S_DECODE ? factors : NULL, kind == S_DECODE ? 1.2f : 1.0f, 0 };
            float *q_norm = test_floats (shape->head_dim, &s_state), *k_norm = test_floats (shape->head_dim, &s_state);
            xinf_head_norms_t heads = { q_norm, k_norm, 1e-6f }, *norms = (s + (size_t) kind) % 2 ? &heads : NULL;
            float *ref [3], *sub [3], *own [3];
            size_t before = s_rope_attentions (twins->subject);
            s_run_rope_attention (twins->reference, false, shape, &b, pool_init, q, k, v, &rope, norms, ref);
            s_run_rope_attention (twins->subject, true, shape, &b, pool_init, q, k, v, &rope, norms, sub);
            size_t launches = s_rope_attentions (twins->subject) - before;
            s_run_rope_attention (twins->subject, false, shape, &b, pool_init, q, k, v, &rope, norms, own);
            if (strcmp (twins->subject->ops->name, "cuda") == 0)
                CHECK (launches == (kind == S_MIXED ? 0u : 1u));
            size_t counts [3] = { n * q_dim, slots, slots };
            char label [96];
            snprintf (label, sizeof label, "rope_attention block %zu heads %zu/%zu head_dim %zu %s %s%s",
                      shape->block_tokens, shape->n_heads, shape->n_kv_heads, shape->head_dim, kinds [kind],
                      rope.neox ? "neox" : "pairs", norms ? " normed" : "");
            s_check_parts (twins, label, parts, ref, sub, own, counts, tolerances, 3);
            free (q_norm);
            free (k_norm);
            free (pool_init);
            free (k);
            free (v);
            free (q);
            test_twins_forget (twins);                   //  'factors' lives at one address
        }
}

#if defined (XINF_HAVE_CUDA)
//  Where token 'token' of the batch keeps its k (or v) row in layer 1 of
//  s_pool_put's pool: floats from the keys' (or the values') start.
static size_t
s_own_row (const s_batch_t *b, const s_shape_t *shape, size_t token)
{
    size_t kv_dim = shape->n_kv_heads * shape->head_dim, pos = (size_t) b->pos [token];
    size_t block = (size_t) b->blocks [b->table_start [b->seq [token]] + pos / shape->block_tokens];
    return ((b->n_blocks + block) * shape->block_tokens + pos % shape->block_tokens) * kv_dim;
}

//  A decode step's one launch, told to leave the pool unwritten, still
//  gives the ops' attention from a pool that holds NaN at every token's
//  own position: each block reads that position from its own copy. The
//  NaN are still there after it (the store was indeed left out).
static void
s_twin_own_position (test_twins_t *twins)
{
    static const s_shape_t shapes [] = { { 16, 4, 4, 64 }, { 5, 8, 2, 32 }, { 16, 2, 1, 256 } };
    if (strcmp (twins->subject->ops->name, "cuda") != 0)
        return;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++) {
        const s_shape_t *shape = &shapes [s];
        s_batch_t b;
        s_batch (&b, shape->block_tokens, S_DECODE);
        size_t n = b.batch.n, kv_dim = shape->n_kv_heads * shape->head_dim, q_dim = shape->n_heads * shape->head_dim;
        size_t slots = 2 * b.n_blocks * shape->block_tokens * kv_dim;
        float *pool_init = test_floats (2 * slots, &s_state);
        for (size_t t = 0; t < n; t++)
            for (size_t d = 0; d < kv_dim; d++)
                pool_init [s_own_row (&b, shape, t) + d] = pool_init [slots + s_own_row (&b, shape, t) + d] = NAN;
        float *k = s_token_rows (&b, kv_dim), *v = s_token_rows (&b, kv_dim), *q = s_token_rows (&b, q_dim);
        xinf_rope_t rope = { 10000.0f, 1.0f, s % 2 == 1, NULL, 1.0f, 0 };
        float *ref [3], *sub [3];
        s_run_rope_attention (twins->reference, false, shape, &b, pool_init, q, k, v, &rope, NULL, ref);
        xinf_cuda_backend_set_rope_attention_store (twins->subject, false);
        size_t before = s_rope_attentions (twins->subject), unstored = 0;
        s_run_rope_attention (twins->subject, true, shape, &b, pool_init, q, k, v, &rope, NULL, sub);
        size_t launches = s_rope_attentions (twins->subject) - before;
        xinf_cuda_backend_set_rope_attention_store (twins->subject, true);
        for (size_t t = 0; t < n; t++)
            unstored += isnan (sub [1][s_own_row (&b, shape, t)]) && isnan (sub [2][s_own_row (&b, shape, t)]);
        char label [96];
        snprintf (label, sizeof label, "rope_attention, pool unwritten, block %zu heads %zu/%zu head_dim %zu",
                  shape->block_tokens, shape->n_heads, shape->n_kv_heads, shape->head_dim);
        test_twins_compare (twins, label, sub [0], ref [0], n * q_dim, 1e-9);
        CHECK (launches == 1 && unstored == n);
        for (int part = 0; part < 3; part++) {
            free (ref [part]);
            free (sub [part]);
        }
        free (pool_init);
        free (k);
        free (v);
        free (q);
    }
    printf ("rope_attention reads each token's own position from its copy: %zu shapes\n",
            sizeof shapes / sizeof shapes [0]);
}
#endif

//  ---- the q8a handoff (CUDA) --------------------------------------------------------------

#if defined (XINF_HAVE_CUDA)

typedef enum { S_RMSNORM, S_ADD_RMSNORM, S_SILU_MUL } s_producer_t;

//  The inputs of a handoff case: a [2] (one a round), b, the norm's
//  weight (or NULL), the product's bias.
typedef struct {
    const float *a [2], *b, *weight, *bias;
} s_inputs_t;

//  Twice on 'be': 'producer' writes xb (n x cols) from a [round] and b,
//  then (with 'between') an add into another buffer, then the Q8_0
//  product of xb with a bias; the second round's product. The first round
//  teaches a CUDA backend that xb is a Q8_0 product's input; the second
//  round's inputs differ, so codes left over from the first would show.
//  The quantizing launches the handoff saved into *handed (CUDA; else 0).
static float *
s_run_handoff (xinf_backend_t *be, s_producer_t producer, bool between, const xinf_matrix_t *w,
               const s_inputs_t *in, size_t n, size_t *handed)
{
    size_t cols = w->cols, bytes = n * cols * sizeof (float), before = xinf_cuda_backend_handoffs (be);
    float *da = test_twins_put (be, NULL, n * cols), *db = test_twins_put (be, in->b, n * cols);
    float *xb = test_twins_put (be, NULL, n * cols), *dy = test_twins_put (be, NULL, n * w->rows);
    float *other = test_twins_put (be, NULL, n * cols);
    for (int round = 0; round < 2; round++) {
        CHECK (be->ops->write (be, producer == S_SILU_MUL ? xb : da, in->a [round], bytes) == 0);
        if (producer == S_RMSNORM)
            be->ops->rmsnorm (be, xb, da, in->weight, n, cols, 1e-5f);
        else if (producer == S_ADD_RMSNORM)
            be->ops->add_rmsnorm (be, xb, da, db, in->weight, n, cols, 1e-5f);
        else
            be->ops->silu_mul (be, xb, db, n * cols);
        if (between)
            be->ops->add (be, other, db, n * cols);
        xinf_product_t product = { w, xb, dy, in->bias };
        be->ops->project (be, &product, 1, n);
    }
    float *y = test_twins_get (be, dy, n * w->rows);
    float *buffers [] = { da, db, xb, dy, other };
    for (size_t index = 0; index < 5; index++)
        be->ops->free (be, buffers [index]);
    *handed = xinf_cuda_backend_handoffs (be) - before;
    return y;
}

//  One case: n tokens of 'cols' (96 and 288: whole blocks of 32 that do
//  not fill SiLU's 256-thread launch blocks), the norm weighted or not.
static size_t
s_handoff_case (test_twins_t *twins, s_producer_t producer, bool between, size_t n, size_t cols, bool weighted)
{
    static const char *names [] = { "rmsnorm", "add_rmsnorm", "silu_mul" };
    size_t rows = 64, handed;
    uint8_t *data = s_q8_0 (rows, cols);
    xinf_matrix_t w = { XINF_DTYPE_Q8_0, data, rows, cols };
    float *a0 = test_floats (n * cols, &s_state), *a1 = test_floats (n * cols, &s_state);
    float *b = test_floats (n * cols, &s_state), *weight = test_floats (cols, &s_state);
    float *bias = test_floats (rows, &s_state);
    s_inputs_t in = { { a0, a1 }, b, weighted ? weight : NULL, bias };
    float *ref = s_run_handoff (twins->reference, producer, between, &w, &in, n, &handed);
    float *sub = s_run_handoff (twins->subject, producer, between, &w, &in, n, &handed);
    char what [128];
    snprintf (what, sizeof what, "q8a handoff from %s%s, %zux%zu%s", names [producer], weighted ? " (weight)" : "",
              n, cols, between ? ", an op between" : "");
    test_twins_compare (twins, what, sub, ref, n * rows, 1e-7);
    if (between ? handed != 0 : handed < 1)
        fprintf (stderr, "FAIL %s: %s: %zu quantizing launches saved\n", twins->subject_name, what, handed);
    CHECK (between ? handed == 0 : handed >= 1);
    float *arrays [] = { ref, sub, a0, a1, b, weight, bias };
    for (size_t index = 0; index < 7; index++)
        free (arrays [index]);
    free (data);
    test_twins_forget (twins);
    return handed;
}

//  Twice on 'be': rope_attention of q [round] into out, then the Q8_0
//  product of out with a bias; the second round's product, the
//  quantizing launches the handoff saved into *handed (as s_run_handoff).
static float *
s_run_attention_handoff (xinf_backend_t *be, const s_shape_t *shape, const s_batch_t *b, const float *pool_init,
                         const float *q [2], const float *k, const float *v, const xinf_matrix_t *w,
                         const float *bias, size_t *handed)
{
    size_t n = b->batch.n, kv_dim = shape->n_kv_heads * shape->head_dim, q_dim = shape->n_heads * shape->head_dim;
    size_t before = xinf_cuda_backend_handoffs (be);
    xinf_kv_pool_t pool = s_pool_put (be, shape, b, pool_init);
    float *dq = test_twins_put (be, NULL, n * q_dim), *dk = test_twins_put (be, NULL, n * kv_dim);
    float *dv = test_twins_put (be, v, n * kv_dim), *dout = test_twins_put (be, NULL, n * q_dim);
    float *dy = test_twins_put (be, NULL, n * w->rows);
    xinf_rope_t rope = { 10000.0f, 1.0f, false, NULL, 1.0f, 0 };
    for (int round = 0; round < 2; round++) {
        CHECK (be->ops->write (be, dq, q [round], n * q_dim * sizeof (float)) == 0);
        CHECK (be->ops->write (be, dk, k, n * kv_dim * sizeof (float)) == 0);
        CHECK (be->ops->rope_attention (be, &pool, 1, &b->batch, dq, dk, dv, shape->n_heads, shape->n_kv_heads,
                                        shape->head_dim, &rope, NULL, &whole, dout) == 0);
        xinf_product_t product = { w, dout, dy, bias };
        be->ops->project (be, &product, 1, n);
    }
    float *y = test_twins_get (be, dy, n * w->rows);
    float *buffers [] = { pool.keys, pool.values, dq, dk, dv, dout, dy };
    for (size_t index = 0; index < 7; index++)
        be->ops->free (be, buffers [index]);
    *handed = xinf_cuda_backend_handoffs (be) - before;
    return y;
}

//  Attention hands its output on quantized to the o product, from the
//  fused launch (a decode step) and from the ops apart (a step with a
//  chunk), heads in one part and in several.
static size_t
s_attention_handoff (test_twins_t *twins)
{
    static const s_shape_t shape = { 16, 4, 2, 64 };
    size_t total = 0;
    for (int kind = S_MIXED; kind <= S_DECODE; kind++) {
        s_batch_t b;
        s_batch (&b, shape.block_tokens, (s_kind_t) kind);
        size_t n = b.batch.n, kv_dim = shape.n_kv_heads * shape.head_dim, q_dim = shape.n_heads * shape.head_dim;
        size_t slots = 2 * b.n_blocks * shape.block_tokens * kv_dim, rows = 64, handed;
        uint8_t *data = s_q8_0 (rows, q_dim);
        xinf_matrix_t w = { XINF_DTYPE_Q8_0, data, rows, q_dim };
        float *pool_init = test_floats (2 * slots, &s_state), *k = test_floats (n * kv_dim, &s_state);
        float *v = test_floats (n * kv_dim, &s_state), *q0 = test_floats (n * q_dim, &s_state);
        float *q1 = test_floats (n * q_dim, &s_state), *bias = test_floats (rows, &s_state);
        const float *q [2] = { q0, q1 };
        float *ref = s_run_attention_handoff (twins->reference, &shape, &b, pool_init, q, k, v, &w, bias, &handed);
        float *sub = s_run_attention_handoff (twins->subject, &shape, &b, pool_init, q, k, v, &w, bias, &handed);
        char what [96];
        snprintf (what, sizeof what, "q8a handoff from rope_attention, %s step of %zu tokens",
                  kind == S_MIXED ? "a mixed" : "a decode", n);
        test_twins_compare (twins, what, sub, ref, n * rows, 1e-7);
        if (handed < 1)
            fprintf (stderr, "FAIL %s: %s: no quantizing launch saved\n", twins->subject_name, what);
        CHECK (handed >= 1);
        total += handed;
        float *arrays [] = { ref, sub, pool_init, k, v, q0, q1, bias };
        for (size_t index = 0; index < 8; index++)
            free (arrays [index]);
        free (data);
        test_twins_forget (twins);
    }
    return total;
}

size_t
test_twins_handoff (test_twins_t *twins)
{
    static const size_t shapes [][2] = { { 1, 256 }, { 9, 256 }, { 1, 96 }, { 3, 288 } };
    size_t total = s_attention_handoff (twins);
    for (int producer = S_RMSNORM; producer <= S_SILU_MUL; producer++)
        for (size_t s = 0; s < 4; s++)
            for (int between = 0; between < 2; between++)
                total += s_handoff_case (twins, (s_producer_t) producer, between, shapes [s][0], shapes [s][1],
                                         producer != S_SILU_MUL && s % 2);
    return total;
}
#endif

//  ---- products with a bias ------------------------------------------------------------------

//  Random weights of 'dtype' (F32, F16, Q8_0 or Q4_K): floats, or blocks
//  of random bytes with small F16 scales.
static void *
s_weights (xinf_dtype_t dtype, size_t rows, size_t cols)
{
    if (dtype == XINF_DTYPE_Q8_0)
        return s_q8_0 (rows, cols);
    size_t bytes = rows * xinf_dtype_row_bytes (dtype, cols);
    uint8_t *data = malloc (bytes);
    CHECK (data);
    for (size_t i = 0; i < bytes; i++)
        data [i] = (uint8_t) test_random (&s_state);
    for (size_t i = 0; dtype == XINF_DTYPE_F32 && i < rows * cols; i++) {
        float value = test_uniform (&s_state);
        memcpy (data + 4 * i, &value, 4);
    }
    for (size_t i = 0; dtype == XINF_DTYPE_F16 && i < rows * cols; i++) {
        uint16_t half = xinf_dtype_f32_to_fp16 (test_uniform (&s_state));
        memcpy (data + 2 * i, &half, 2);
    }
    for (size_t at = 0; dtype == XINF_DTYPE_Q4_K && at < bytes; at += 144)
        for (size_t scale = 0; scale < 2; scale++) {
            uint16_t half = xinf_dtype_f32_to_fp16 (0.002f + 0.02f * fabsf (test_uniform (&s_state)));
            memcpy (data + at + 2 * scale, &half, 2);
        }
    return data;
}

//  Two products of one input (the second with a bias, the first too when
//  bias [0] is not NULL) on 'be'; with 'composed' the biases go by
//  add_bias after the products instead.
static void
s_run_biased (xinf_backend_t *be, bool composed, const xinf_matrix_t *w, const float *x, const float *bias [2],
              size_t n, float *out [2])
{
    float *dx = test_twins_put (be, x, n * w [0].cols), *dy [2];
    xinf_product_t products [2];
    for (int p = 0; p < 2; p++) {
        dy [p] = test_twins_put (be, NULL, n * w [p].rows);
        products [p] = (xinf_product_t) { &w [p], dx, dy [p], composed ? NULL : bias [p] };
    }
    be->ops->project (be, products, 2, n);
    for (int p = 0; p < 2; p++) {
        if (composed && bias [p])
            be->ops->add_bias (be, dy [p], bias [p], n, w [p].rows);
        out [p] = test_twins_get (be, dy [p], n * w [p].rows);
        be->ops->free (be, dy [p]);
    }
    be->ops->free (be, dx);
}

static void
s_twin_bias (test_twins_t *twins)
{
    static const xinf_dtype_t types [] = { XINF_DTYPE_F32, XINF_DTYPE_F16, XINF_DTYPE_Q8_0, XINF_DTYPE_Q4_K };
    static const double tolerances [] = { 1e-9, 1e-9, 1e-7, 1e-3 };
    for (size_t type = 0; type < 4; type++)
        for (size_t n = 1; n <= 9; n += 8)
            for (int both = 0; both < 2; both++) {
                size_t cols = 512, rows [2] = { 96, 40 };
                xinf_matrix_t w [2];
                for (int p = 0; p < 2; p++)
                    w [p] = (xinf_matrix_t) { types [type], s_weights (types [type], rows [p], cols), rows [p], cols };
                float *x = test_floats (n * cols, &s_state), *b0 = test_floats (rows [0], &s_state);
                float *b1 = test_floats (rows [1], &s_state);
                const float *bias [2] = { both ? b0 : NULL, b1 };
                float *ref [2], *sub [2], *own [2];
                s_run_biased (twins->reference, true, w, x, bias, n, ref);
                s_run_biased (twins->subject, false, w, x, bias, n, sub);
                s_run_biased (twins->subject, true, w, x, bias, n, own);
                for (int p = 0; p < 2; p++) {
                    char what [96];
                    snprintf (what, sizeof what, "project %s with a bias%s, n=%zu: product %d",
                              xinf_dtype_name (types [type]), both ? " each" : "", n, p);
                    test_twins_compare (twins, what, sub [p], ref [p], n * rows [p], tolerances [type]);
                    s_same (twins, what, sub [p], own [p], n * rows [p]);
                    free (ref [p]);
                    free (sub [p]);
                    free (own [p]);
                    free ((void *) w [p].data);
                }
                free (x);
                free (b0);
                free (b1);
                test_twins_forget (twins);
            }
}

void
test_twins_fused (test_twins_t *twins)
{
    s_twin_add_rmsnorm (twins);
    s_twin_rope_store (twins);
    s_twin_rope_attention (twins);
#if defined (XINF_HAVE_CUDA)
    s_twin_own_position (twins);
#endif
    s_twin_bias (twins);
}

