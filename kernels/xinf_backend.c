/*  xinf_backend: the seam's fused ops composed from the ops they stand
    for (xinf_backend.h): what a backend without the fused op gets from
    the transformer, and what a backend runs where its own fused kernel
    does not apply. Written once, so that every path composes them alike.
    Also which KV cache type a backend holds, by default and by name.
*/
#include "xinf_backend.h"

#include <stdio.h>
#include <strings.h>

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
                                   const xinf_head_norms_t *norms, const xinf_attend_t *attend, float *out)
{
    if (norms) {
        be->ops->rmsnorm (be, q, q, norms->q, batch->n * n_heads, head_dim, norms->eps);
        be->ops->rmsnorm (be, k, k, norms->k, batch->n * n_kv_heads, head_dim, norms->eps);
    }
    if (be->ops->rope_store)
        be->ops->rope_store (be, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope);
    else
        xinf_backend_rope_store_apart (be, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope);
    return be->ops->attention (be, pool, layer, batch, q, n_heads, n_kv_heads, head_dim, attend, out);
}

xinf_dtype_t
xinf_backend_kv_default (const xinf_backend_t *be)
{
    return be->kv_dtypes & 1u << XINF_DTYPE_F16 ? XINF_DTYPE_F16 : XINF_DTYPE_F32;
}

int
xinf_backend_kv_dtype (const xinf_backend_t *be, const char *name, size_t head_dim, xinf_dtype_t *dtype,
                       char *error, size_t error_size)
{
    if (!name || !*name || strcasecmp (name, "auto") == 0)
        *dtype = xinf_backend_kv_default (be);
    else
    if (strcasecmp (name, "f32") == 0)
        *dtype = XINF_DTYPE_F32;
    else
    if (strcasecmp (name, "f16") == 0)
        *dtype = XINF_DTYPE_F16;
    else
    if (strcasecmp (name, "q8_0") == 0)
        *dtype = XINF_DTYPE_Q8_0;
    else {
        snprintf (error, error_size, "kv_cache_dtype '%.32s' is none of auto, f32, f16, q8_0", name);
        return -1;
    }
    if (!(be->kv_dtypes & 1u << *dtype)) {
        snprintf (error, error_size, "kv_cache_dtype %s: the %s backend holds no such KV cache (it holds %s%s%s)",
                  xinf_backend_kv_name (*dtype), be->ops->name, be->kv_dtypes & 1u << XINF_DTYPE_F32 ? "f32" : "",
                  be->kv_dtypes & 1u << XINF_DTYPE_F16 ? " f16" : "", be->kv_dtypes & 1u << XINF_DTYPE_Q8_0 ? " q8_0" : "");
        return -1;
    }
    if (*dtype == XINF_DTYPE_Q8_0 && head_dim % XINF_Q8_0_BLOCK_SIZE) {
        snprintf (error, error_size, "kv_cache_dtype q8_0 needs heads of a multiple of 32 values (this model's: %zu)",
                  head_dim);
        return -1;
    }
    return 0;
}

const char *
xinf_backend_kv_name (xinf_dtype_t dtype)
{
    return dtype == XINF_DTYPE_F32 ? "f32" : dtype == XINF_DTYPE_F16 ? "f16" : dtype == XINF_DTYPE_Q8_0 ? "q8_0" : "?";
}
