/*  xinf_mla: multi-head latent attention, absorbed (xinf_mla.h).  */
#include "xinf_mla.h"
#include "xinf_check.h"
#include "xinf_kv_cache.h"

#define S_GROUP 8                     //  products of one project call (the CPU's one-pass matvecs)

static size_t
s_max (size_t a, size_t b)
{
    return a > b ? a : b;
}

void
xinf_mla_scratch (const xinf_transformer_t *model, size_t floats [3])
{
    const xinf_mla_t *m = &model->mla;
    floats [0] = floats [1] = floats [2] = 0;
    if (!m->kv_rank)
        return;
    size_t heads = model->n_heads;
    floats [0] = heads * s_max (s_max (m->nope + m->rope, m->kv_rank), m->v_head);
    floats [1] = heads * s_max (s_max (m->nope, m->kv_rank), m->v_head);
    floats [2] = m->q_rank + m->kv_rank + m->rope;
}

static int
s_check (const xinf_matrix_t *matrix, const char *name, size_t index, size_t rows, size_t cols, char *error,
         size_t error_size)
{
    if (!matrix->data)
        return xinf_fail (error, error_size, "layer %zu: tensor %s is missing", index, name);
    if (matrix->rows != rows || matrix->cols != cols)
        return xinf_fail (error, error_size, "layer %zu: tensor %s is %zux%zu, expected %zux%zu", index, name,
                          matrix->rows, matrix->cols, rows, cols);
    size_t block = xinf_dtype_block_size (matrix->dtype);
    if (block > 1 && cols % block)
        return xinf_fail (error, error_size, "layer %zu: tensor %s is %s with %zu columns (not a multiple of %zu)",
                          index, name, xinf_dtype_name (matrix->dtype), cols, block);
    return 0;
}

int
xinf_mla_validate (const xinf_transformer_t *model, size_t index, char *error, size_t error_size)
{
    const xinf_mla_t *m = &model->mla;
    const xinf_layer_t *layer = &model->layers [index];
    const xinf_mla_layer_t *w = &layer->mla;
    size_t heads = model->n_heads, hq = m->nope + m->rope;
    if (!m->nope || !m->rope || !m->v_head || model->n_kv_heads != 1 || model->head_dim != m->kv_rank + m->rope
    ||  model->shard.n_ranks != 1 || !w->kv_norm || (m->q_rank && !w->q_a_norm))
        return xinf_fail (error, error_size, "layer %zu: latent attention of rank %zu, heads of %zu + %zu, values of "
                          "%zu: inconsistent", index, m->kv_rank, m->nope, m->rope, m->v_head);
    if (m->q_rank ? s_check (&w->q_a, "attn_q_a", index, m->q_rank, model->dim, error, error_size)
                    || s_check (&w->q_b, "attn_q_b", index, heads * hq, m->q_rank, error, error_size)
                  : s_check (&w->q, "attn_q", index, heads * hq, model->dim, error, error_size))
        return -1;
    if (s_check (&w->kv_latent, "attn_kv_a_mqa", index, m->kv_rank, model->dim, error, error_size)
    ||  s_check (&w->kv_rope, "attn_kv_a_mqa", index, m->rope, model->dim, error, error_size)
    ||  s_check (&w->k_b, "attn_k_b", index, heads * m->kv_rank, m->nope, error, error_size)
    ||  s_check (&w->v_b, "attn_v_b", index, heads * m->v_head, m->kv_rank, error, error_size)
    ||  s_check (&layer->o, "attn_output", index, model->dim, heads * m->v_head, error, error_size))
        return -1;
    return 0;
}

//  Each head's product: y_h [n][rows] = x_h [n][cols] . W_h^T, x_h and y_h
//  the heads' blocks of n rows in x and y, a group of products a call.
static void
s_heads_project (xinf_backend_t *be, const xinf_matrix_t *whole, size_t heads, const float *x, float *y, size_t n)
{
    size_t rows = whole->rows / heads;
    xinf_matrix_t views [S_GROUP];
    xinf_product_t products [S_GROUP];
    for (size_t first = 0; first < heads; first += S_GROUP) {
        size_t count = heads - first < S_GROUP ? heads - first : S_GROUP;
        for (size_t k = 0; k < count; k++) {
            views [k] = xinf_matrix_rows (whole, (first + k) * rows, rows);
            products [k] = (xinf_product_t) { &views [k], x + (first + k) * n * whole->cols,
                                              y + (first + k) * n * rows, NULL };
        }
        be->ops->project (be, products, count, n);
    }
}

//  A row block moved between strided places (xinf_rows_t's order).
static void
s_copy (xinf_backend_t *be, float *dst, const float *src, size_t outer, size_t inner, size_t width,
        size_t dst_outer, size_t dst_inner, size_t src_outer, size_t src_inner)
{
    xinf_rows_t shape = { outer, inner, width, dst_outer, dst_inner, src_outer, src_inner };
    be->ops->copy_rows (be, dst, src, &shape);
}

void
xinf_mla_project (const xinf_transformer_t *model, const xinf_layer_t *layer, xinf_kv_cache_t *cache, size_t n)
{
    xinf_backend_t *be = cache->backend;
    const xinf_mla_t *m = &model->mla;
    const xinf_mla_layer_t *w = &layer->mla;
    size_t heads = model->n_heads, hq = m->nope + m->rope, hd = model->head_dim;
    float *q_heads = cache->mla_a, *q_low = cache->mla_c, *latent = q_low + n * m->q_rank,
          *turned = latent + n * m->kv_rank;
    xinf_product_t first [3] = { { m->q_rank ? &w->q_a : &w->q, cache->xb, m->q_rank ? q_low : q_heads, NULL },
                                 { &w->kv_latent, cache->xb, latent, NULL },
                                 { &w->kv_rope, cache->xb, turned, NULL } };
    be->ops->project (be, first, 3, n);
    if (m->q_rank) {
        be->ops->rmsnorm (be, q_low, q_low, w->q_a_norm, n, m->q_rank, model->rms_eps);
        xinf_product_t q_b = { &w->q_b, q_low, q_heads, NULL };
        be->ops->project (be, &q_b, 1, n);
    }
    be->ops->rmsnorm (be, latent, latent, w->kv_norm, n, m->kv_rank, model->rms_eps);
    //  A key: [turned, latent]; the values are the keys (the cache's pool shares them)
    s_copy (be, cache->k, turned, n, 1, m->rope, hd, 0, m->rope, 0);
    s_copy (be, cache->k + m->rope, latent, n, 1, m->kv_rank, hd, 0, m->kv_rank, 0);
    //  A query head: [its rope part, k_b_h . its nope part], the nope parts gathered by head
    s_copy (be, cache->q, q_heads + m->nope, n, heads, m->rope, heads * hd, hd, heads * hq, hq);
    s_copy (be, cache->mla_b, q_heads, heads, n, m->nope, n * m->nope, m->nope, hq, heads * hq);
    s_heads_project (be, &w->k_b, heads, cache->mla_b, cache->mla_a, n);
    s_copy (be, cache->q + m->rope, cache->mla_a, heads, n, m->kv_rank, hd, heads * hd, n * m->kv_rank, m->kv_rank);
    if (model->query_scale)
        be->ops->scale (be, cache->q, n * heads * hd, model->query_scale);
}

void
xinf_mla_output (const xinf_transformer_t *model, const xinf_layer_t *layer, xinf_kv_cache_t *cache, size_t n)
{
    xinf_backend_t *be = cache->backend;
    const xinf_mla_t *m = &model->mla;
    size_t heads = model->n_heads, hd = model->head_dim;
    //  Each head's latent part gathered by head, through v_b_h, the heads then side by side a token
    s_copy (be, cache->mla_b, cache->attn + m->rope, heads, n, m->kv_rank, n * m->kv_rank, m->kv_rank, hd,
            heads * hd);
    s_heads_project (be, &layer->mla.v_b, heads, cache->mla_b, cache->mla_a, n);
    s_copy (be, cache->mla_b, cache->mla_a, heads, n, m->v_head, m->v_head, heads * m->v_head, n * m->v_head,
            m->v_head);
    xinf_product_t out = { &layer->o, cache->mla_b, cache->xb2, NULL };
    be->ops->project (be, &out, 1, n);
}
