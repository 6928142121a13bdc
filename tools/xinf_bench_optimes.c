/*  xinf_bench_optimes: a backend that times each op of another one (see
    the header).
*/
#include "xinf_bench_optimes.h"
#include "xinf_dtype.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_ROWS 64

//  One line of the table: an op, or a product of one shape.
typedef struct {
    char name [80];
    size_t calls;
    double seconds, bytes;            //  bytes: weights the products read
} s_row_t;

typedef struct {
    xinf_backend_t *inner;
    xinf_backend_ops_t ops;
    s_row_t rows [S_ROWS];
    size_t n_rows;
    bool failed;
    char error [512];
} s_self_t;

static s_self_t *
s_self (xinf_backend_t *self)
{
    return (s_self_t *) self->impl;
}

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

//  After an op: waits for the inner backend (its status), keeps a failure
//  for this backend's status, adds the time since 'start' to 'name'.
static void
s_done (xinf_backend_t *self, const char *name, double start, double bytes)
{
    s_self_t *me = s_self (self);
    char error [512] = "";
    if (me->inner->ops->status (me->inner, error, sizeof error) && !me->failed) {
        me->failed = true;
        snprintf (me->error, sizeof me->error, "%s", error);
    }
    double seconds = s_now () - start;
    size_t index = 0;
    while (index < me->n_rows && strcmp (me->rows [index].name, name) != 0)
        index++;
    if (index == me->n_rows) {
        if (me->n_rows == S_ROWS)
            index = S_ROWS - 1;       //  the last line takes what does not fit
        else {
            memset (&me->rows [index], 0, sizeof me->rows [index]);
            snprintf (me->rows [me->n_rows++].name, sizeof me->rows [0].name, "%s", name);
        }
    }
    me->rows [index].calls++;
    me->rows [index].seconds += seconds;
    me->rows [index].bytes += bytes;
}

//  ---- the ops ------------------------------------------------------------------------

static void
s_destroy (xinf_backend_t *self)
{
    free (self->impl);
    free (self);
}

static void *
s_alloc (xinf_backend_t *self, size_t bytes)
{
    return s_self (self)->inner->ops->alloc (s_self (self)->inner, bytes);
}

static void
s_free (xinf_backend_t *self, void *memory)
{
    s_self (self)->inner->ops->free (s_self (self)->inner, memory);
}

static void
s_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now (), bytes = 0;
    inner->ops->project (inner, products, count, n);
    for (size_t index = 0; index < count; index++)
        bytes += (double) products [index].w->rows
               * (double) xinf_dtype_row_bytes (products [index].w->dtype, products [index].w->cols);
    char name [80], more [32] = "";
    const xinf_matrix_t *w = products [0].w;
    if (count > 1)
        snprintf (more, sizeof more, " and %zu more", count - 1);
    snprintf (name, sizeof name, "project %s %zux%zu%s, n=%zu", xinf_dtype_name (w->dtype), w->rows, w->cols, more, n);
    s_done (self, name, start, bytes);
}

static void
s_embed (xinf_backend_t *self, const xinf_matrix_t *table, const int32_t *tokens, size_t n, float *x)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->embed (inner, table, tokens, n, x);
    s_done (self, "embed", start, 0);
}

static void
s_rmsnorm (xinf_backend_t *self, float *out, const float *x, const float *weight, size_t n, size_t dim, float eps)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->rmsnorm (inner, out, x, weight, n, dim, eps);
    s_done (self, "rmsnorm", start, 0);
}

static void
s_add_rmsnorm (xinf_backend_t *self, float *out, float *y, const float *x, const float *weight, size_t n, size_t dim,
               float eps)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->add_rmsnorm (inner, out, y, x, weight, n, dim, eps);
    s_done (self, "add_rmsnorm", start, 0);
}

static void
s_rope_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, float *q, float *k,
              const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_rope_t *rope)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->rope_store (inner, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope);
    s_done (self, "rope_store", start, 0);
}

static void
s_add (xinf_backend_t *self, float *y, const float *x, size_t count)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->add (inner, y, x, count);
    s_done (self, "add", start, 0);
}

static void
s_add_bias (xinf_backend_t *self, float *rows, const float *bias, size_t n, size_t width)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->add_bias (inner, rows, bias, n, width);
    s_done (self, "add_bias", start, 0);
}

static void
s_rope (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos,
        const xinf_rope_t *rope)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->rope (inner, x, n, n_heads, head_dim, pos, rope);
    s_done (self, "rope", start, 0);
}

static void
s_silu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->silu_mul (inner, gate, up, count);
    s_done (self, "silu_mul", start, 0);
}

static void
s_gelu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->gelu_mul (inner, gate, up, count);
    s_done (self, "gelu_mul", start, 0);
}

static void
s_copy_rows (xinf_backend_t *self, float *dst, const float *src, const xinf_rows_t *shape)
{
    if (s_self (self)->failed)
        return;
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->copy_rows (inner, dst, src, shape);
    s_done (self, "copy_rows", start, 0);
}

static void
s_softcap (xinf_backend_t *self, float *x, size_t count, float cap)
{
    if (s_self (self)->failed)
        return;
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->softcap (inner, x, count, cap);
    s_done (self, "softcap", start, 0);
}

static void
s_scale (xinf_backend_t *self, float *x, size_t count, float factor)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->scale (inner, x, count, factor);
    s_done (self, "scale", start, 0);
}

static int
s_moe (xinf_backend_t *self, const xinf_moe_t *moe, const float *x, float *y, size_t n)
{
    if (s_self (self)->failed)
        return -1;
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    int rc = inner->ops->moe (inner, moe, x, y, n);
    s_done (self, "moe", start, 0);
    return rc;
}

static void
s_kv_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, const float *k,
            const float *v)
{
    if (s_self (self)->failed)
        return;               //  as the inner backend skips the rest of a failed pass
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    inner->ops->kv_store (inner, pool, layer, batch, k, v);
    s_done (self, "kv_store", start, 0);
}

static int
s_attention (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
             const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_attend_t *attend,
             float *out)
{
    if (s_self (self)->failed)
        return -1;
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    int rc = inner->ops->attention (inner, pool, layer, batch, q, n_heads, n_kv_heads, head_dim, attend, out);
    s_done (self, "attention", start, 0);
    return rc;
}

static int
s_rope_attention (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, float *q,
                  float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_rope_t *rope,
                  const xinf_head_norms_t *norms, const xinf_attend_t *attend, float *out)
{
    if (s_self (self)->failed)
        return -1;
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    int rc = inner->ops->rope_attention (inner, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope, norms,
                                         attend, out);
    s_done (self, "rope_attention", start, 0);
    return rc;
}

static int
s_write (xinf_backend_t *self, void *memory, const void *host, size_t bytes)
{
    return s_self (self)->inner->ops->write (s_self (self)->inner, memory, host, bytes);
}

static int
s_read (xinf_backend_t *self, void *host, const void *memory, size_t bytes)
{
    return s_self (self)->inner->ops->read (s_self (self)->inner, host, memory, bytes);
}

static int
s_status (xinf_backend_t *self, char *error, size_t error_size)
{
    s_self_t *me = s_self (self);
    if (!me->failed)
        return me->inner->ops->status (me->inner, error, error_size);
    if (error && error_size)
        snprintf (error, error_size, "%s", me->error);
    me->failed = false;
    return -1;
}

static int
s_sample (xinf_backend_t *self, const float *logits, size_t n_rows, size_t vocab, const xinf_sampling_t *params,
          const double *uniforms, int32_t *tokens)
{
    if (s_self (self)->failed)
        return -1;
    xinf_backend_t *inner = s_self (self)->inner;
    double start = s_now ();
    int rc = inner->ops->sample (inner, logits, n_rows, vocab, params, uniforms, tokens);
    s_done (self, "sample", start, 0);
    return rc;
}

//  ---- the object ---------------------------------------------------------------------

xinf_backend_t *
xinf_optimes_new (xinf_backend_t *inner)
{
    xinf_backend_t *self = (xinf_backend_t *) calloc (1, sizeof *self);
    s_self_t *me = (s_self_t *) calloc (1, sizeof *me);
    if (!self || !me) {
        free (self);
        free (me);
        return NULL;
    }
    me->inner = inner;
    me->ops = (xinf_backend_ops_t) { "optimes", s_destroy, s_alloc, s_free, s_project, s_embed, s_rmsnorm, s_add,
                                     s_add_bias, s_rope, s_silu_mul, s_kv_store, s_attention, s_write, s_read,
                                     s_status, NULL, NULL, NULL, inner->ops->sample ? s_sample : NULL,
                                     inner->ops->add_rmsnorm ? s_add_rmsnorm : NULL,
                                     inner->ops->rope_store ? s_rope_store : NULL,
                                     inner->ops->rope_attention ? s_rope_attention : NULL, NULL,
                                     inner->ops->gelu_mul ? s_gelu_mul : NULL, inner->ops->scale ? s_scale : NULL,
                                     inner->ops->moe ? s_moe : NULL, inner->ops->softcap ? s_softcap : NULL,
                                     inner->ops->copy_rows ? s_copy_rows : NULL };
    self->ops = &me->ops;
    self->impl = me;
    self->kv_dtypes = inner->kv_dtypes;
    self->sliding_window = inner->sliding_window;
    self->softcap = inner->softcap;
    self->sinks = inner->sinks;
    self->moe_oai = inner->moe_oai;
    self->moe_shared = inner->moe_shared;
    self->moe_sigmoid = inner->moe_sigmoid;
    self->moe_groups = inner->moe_groups;
    self->partial_rope = inner->partial_rope;
    return self;
}

void
xinf_optimes_reset (xinf_backend_t *self)
{
    s_self (self)->n_rows = 0;
}

static int
s_busier (const void *a, const void *b)
{
    double left = ((const s_row_t *) a)->seconds, right = ((const s_row_t *) b)->seconds;
    return left < right ? 1 : left > right ? -1 : 0;
}

void
xinf_optimes_print (xinf_backend_t *self, size_t steps, FILE *out)
{
    s_self_t *me = s_self (self);
    double total = 0;
    qsort (me->rows, me->n_rows, sizeof me->rows [0], s_busier);
    for (size_t index = 0; index < me->n_rows; index++)
        total += me->rows [index].seconds;
    fprintf (out, "op times, %zu steps, each op waited for alone: %.3f ms a step\n", steps,
             steps ? 1e3 * total / (double) steps : 0.0);
    for (size_t index = 0; index < me->n_rows; index++) {
        const s_row_t *row = &me->rows [index];
        fprintf (out, "  %-40s %7zu calls %10.3f ms %9.1f us/call %5.1f%%", row->name, row->calls, 1e3 * row->seconds,
                 1e6 * row->seconds / (double) row->calls, total > 0 ? 100.0 * row->seconds / total : 0.0);
        if (row->bytes > 0 && row->seconds > 0)
            fprintf (out, " %8.1f GB/s of weights", row->bytes / row->seconds / 1e9);
        fprintf (out, "\n");
    }
}
