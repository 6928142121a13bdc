/*  test_twins_perturbed: a CPU backend whose every op scales its output by
    1.05 (NMSE 2.5e-3, over every tolerance of the twin tests): the twin
    harness must flag each of its comparisons, so a harness that stopped
    comparing would fail where there is no GPU.
*/
#include "test_twins.h"
#include "xinf_cpu_backend.h"

static xinf_backend_t *s_inner;
static const char *s_failure;         //  what status reports, NULL: success

static void
s_scale (float *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        values [i] *= 1.05f;
}

static void s_p_destroy (xinf_backend_t *self) { xinf_backend_destroy (&s_inner); free (self); }
static void *s_p_alloc (xinf_backend_t *self, size_t bytes) { return s_inner->ops->alloc (s_inner, bytes); }
static void s_p_free (xinf_backend_t *self, void *memory) { s_inner->ops->free (s_inner, memory); }

static void
s_p_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n)
{
    s_inner->ops->project (s_inner, products, count, n);
    for (size_t index = 0; index < count; index++)
        s_scale (products [index].y, n * products [index].w->rows);
}

static void
s_p_embed (xinf_backend_t *self, const xinf_matrix_t *table, const int32_t *tokens, size_t n, float *x)
{
    s_inner->ops->embed (s_inner, table, tokens, n, x);
    s_scale (x, n * table->cols);
}

static void
s_p_rmsnorm (xinf_backend_t *self, float *out, const float *x, const float *weight, size_t n, size_t dim, float eps)
{
    s_inner->ops->rmsnorm (s_inner, out, x, weight, n, dim, eps);
    s_scale (out, n * dim);
}

static void
s_p_add (xinf_backend_t *self, float *y, const float *x, size_t count)
{
    s_inner->ops->add (s_inner, y, x, count);
    s_scale (y, count);
}

static void
s_p_add_bias (xinf_backend_t *self, float *rows, const float *bias, size_t n, size_t width)
{
    s_inner->ops->add_bias (s_inner, rows, bias, n, width);
    s_scale (rows, n * width);
}

static void
s_p_rope (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos,
          const xinf_rope_t *rope)
{
    s_inner->ops->rope (s_inner, x, n, n_heads, head_dim, pos, rope);
    s_scale (x, n * n_heads * head_dim);
}

static void
s_p_silu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    s_inner->ops->silu_mul (s_inner, gate, up, count);
    s_scale (gate, count);
}

static void
s_p_kv_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, const float *k,
              const float *v)
{
    s_inner->ops->kv_store (s_inner, pool, layer, batch, k, v);
    s_scale (pool->keys, pool->n_layers * pool->n_blocks * pool->block_tokens * pool->kv_dim);
    s_scale (pool->values, pool->n_layers * pool->n_blocks * pool->block_tokens * pool->kv_dim);
}

static void
s_p_gelu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    (void) self;
    s_inner->ops->gelu_mul (s_inner, gate, up, count);
    s_scale (gate, count);
}

static void
s_p_softcap (xinf_backend_t *self, float *x, size_t count, float cap)
{
    (void) self;
    s_inner->ops->softcap (s_inner, x, count, cap);
    s_scale (x, count);
}

static void
s_p_scale (xinf_backend_t *self, float *x, size_t count, float factor)
{
    (void) self;
    s_inner->ops->scale (s_inner, x, count, factor);
    s_scale (x, count);
}

static int
s_p_attention (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
               const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_attend_t *attend,
               float *out)
{
    int rc = s_inner->ops->attention (s_inner, pool, layer, batch, q, n_heads, n_kv_heads, head_dim, attend,
                                      out);
    s_scale (out, batch->n * n_heads * head_dim);
    return rc;
}

static int s_p_write (xinf_backend_t *self, void *m, const void *h, size_t b) { return s_inner->ops->write (s_inner, m, h, b); }
static int s_p_read (xinf_backend_t *self, void *h, const void *m, size_t b) { return s_inner->ops->read (s_inner, h, m, b); }

static int
s_p_status (xinf_backend_t *self, char *error, size_t error_size)
{
    if (!s_failure)
        return s_inner->ops->status (s_inner, error, error_size);
    snprintf (error, error_size, "%s", s_failure);
    return -1;
}

static const xinf_backend_ops_t s_perturbed_ops = {
    "perturbed", s_p_destroy, s_p_alloc, s_p_free, s_p_project, s_p_embed, s_p_rmsnorm, s_p_add, s_p_add_bias,
    s_p_rope, s_p_silu_mul, s_p_kv_store, s_p_attention, s_p_write, s_p_read, s_p_status, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, s_p_gelu_mul, s_p_scale, NULL, s_p_softcap, NULL
};

void
test_twins_perturbed_fail (const char *reason)
{
    s_failure = reason;
}

xinf_backend_t *
test_twins_perturbed_new (void)
{
    xinf_backend_t *self = calloc (1, sizeof *self);
    s_inner = xinf_cpu_backend_new (2);
    CHECK (self && s_inner);
    self->ops = &s_perturbed_ops;
    self->kv_dtypes = s_inner->kv_dtypes;
    self->sliding_window = s_inner->sliding_window;
    self->softcap = s_inner->softcap;
    self->sinks = s_inner->sinks;
    self->moe_oai = s_inner->moe_oai;
    self->moe_shared = s_inner->moe_shared;
    self->moe_sigmoid = s_inner->moe_sigmoid;
    self->moe_groups = s_inner->moe_groups;
    self->partial_rope = s_inner->partial_rope;
    return self;
}
