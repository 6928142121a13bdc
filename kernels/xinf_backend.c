/*  xinf_backend: the seam's fused ops composed from the ops they stand
    for (xinf_backend.h): what a backend without the fused op gets from
    the transformer, and what a backend runs where its own fused kernel
    does not apply. Written once, so that every path composes them alike.
*/
#include "xinf_backend.h"

void
xinf_backend_rope_store_apart (xinf_backend_t *be, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                               float *q, float *k, const float *v, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const xinf_rope_t *rope)
{
    be->ops->rope (be, q, batch->n, n_heads, head_dim, batch->pos, rope);
    be->ops->rope (be, k, batch->n, n_kv_heads, head_dim, batch->pos, rope);
    be->ops->kv_store (be, pool, layer, batch, k, v);
}

int
xinf_backend_rope_attention_apart (xinf_backend_t *be, xinf_kv_pool_t *pool, size_t layer,
                                   const xinf_batch_t *batch, float *q, float *k, const float *v, size_t n_heads,
                                   size_t n_kv_heads, size_t head_dim, const xinf_rope_t *rope,
                                   const xinf_head_norms_t *norms, float *out)
{
    if (norms) {
        be->ops->rmsnorm (be, q, q, norms->q, batch->n * n_heads, head_dim, norms->eps);
        be->ops->rmsnorm (be, k, k, norms->k, batch->n * n_kv_heads, head_dim, norms->eps);
    }
    if (be->ops->rope_store)
        be->ops->rope_store (be, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope);
    else
        xinf_backend_rope_store_apart (be, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope);
    return be->ops->attention (be, pool, layer, batch, q, n_heads, n_kv_heads, head_dim, out);
}
