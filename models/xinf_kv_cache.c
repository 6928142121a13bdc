/*  xinf_kv_cache: the paged KV cache of the batched forward pass.  */
#include "xinf_kv_cache.h"
#include "xinf_mla.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t
xinf_transformer_kv_bytes_per_token (const xinf_transformer_t *self, xinf_dtype_t dtype)
{
    size_t copies = self->mla.kv_rank ? 1 : 2;       //  latent attention's values are its keys
    return copies * self->n_layers * xinf_dtype_row_bytes (dtype, self->n_kv_heads * self->head_dim);
}

//  Backend memory for 'count' floats.
static float *
s_floats (xinf_backend_t *backend, size_t count)
{
    return (float *) backend->ops->alloc (backend, (count ? count : 1) * sizeof (float));
}

//  The LoRA scratch of a model with adapters (the backend must add scaled
//  rows); 0, or -1 when out of memory or the backend cannot. Adapters
//  attached to the model after the cache was made are not used with it.
static int
s_lora_scratch (xinf_kv_cache_t *self, const xinf_transformer_t *model)
{
    if (!model->n_loras)
        return 0;
    self->n_loras = model->n_loras < XINF_LORA_MAX_ADAPTERS ? model->n_loras : XINF_LORA_MAX_ADAPTERS;
    self->lora_rows = malloc (self->n_loras * self->max_tokens * sizeof (int32_t));
    return self->backend->ops->lora && self->lora_rows ? 0 : -1;
}

size_t
xinf_transformer_local_layers (const xinf_transformer_t *self)
{
    size_t count = 0;
    for (size_t index = 0; index < self->n_layers; index++)
        count += self->layers [index].window > 0;
    return count;
}

size_t
xinf_transformer_window (const xinf_transformer_t *self)
{
    size_t widest = 0;
    for (size_t index = 0; index < self->n_layers; index++)
        if (self->layers [index].window > widest)
            widest = self->layers [index].window;
    return widest;
}

bool
xinf_transformer_window_cache_fits (const xinf_transformer_t *self, const xinf_backend_t *backend)
{
    size_t local = xinf_transformer_local_layers (self);
    return backend->window_tables && local > 0 && local < self->n_layers;
}

//  A pool of n_blocks blocks for 'layers' layers, its values the keys'
//  memory where 'shared' (latent attention's); false when out of memory.
static bool
s_pool (xinf_kv_pool_t *pool, xinf_backend_t *backend, size_t layers, size_t n_blocks, size_t block_tokens,
        size_t kv_dim, xinf_dtype_t dtype, size_t row_bytes, bool shared)
{
    size_t bytes = n_blocks * block_tokens * layers * row_bytes;
    void *keys = backend->ops->alloc (backend, bytes);
    *pool = (xinf_kv_pool_t) { keys, shared || !keys ? keys : backend->ops->alloc (backend, bytes),
                               layers, n_blocks, block_tokens, kv_dim, dtype, row_bytes };
    return pool->keys && pool->values;
}

//  The pools: one for every layer, or for a window cache the global
//  layers' and the local layers' (pool_layer: each layer's index in its
//  own). False when out of memory.
static bool
s_pools (xinf_kv_cache_t *self, const xinf_transformer_t *model, xinf_dtype_t dtype, size_t n_blocks,
         size_t n_local_blocks, size_t block_tokens)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, self->kv_dim);
    size_t local = n_local_blocks ? xinf_transformer_local_layers (model) : 0;
    bool shared = model->mla.kv_rank != 0;
    if (!s_pool (&self->pool, self->backend, model->n_layers - local, n_blocks, block_tokens, self->kv_dim, dtype,
                 row_bytes, shared))
        return false;
    if (!local)
        return true;
    self->window = xinf_transformer_window (model);
    self->pool_layer = malloc (model->n_layers * sizeof (size_t));
    if (!self->pool_layer)
        return false;
    for (size_t index = 0, global = 0, windowed = 0; index < model->n_layers; index++)
        self->pool_layer [index] = model->layers [index].window ? windowed++ : global++;
    return s_pool (&self->local_pool, self->backend, local, n_local_blocks, block_tokens, self->kv_dim, dtype,
                   row_bytes, shared);
}

xinf_kv_cache_t *
xinf_kv_cache_new (const xinf_transformer_t *model, xinf_backend_t *backend, xinf_dtype_t dtype,
                   size_t n_blocks, size_t block_tokens, size_t max_tokens)
{
    return xinf_kv_cache_new_windowed (model, backend, dtype, n_blocks, 0, block_tokens, max_tokens);
}

xinf_kv_cache_t *
xinf_kv_cache_new_windowed (const xinf_transformer_t *model, xinf_backend_t *backend, xinf_dtype_t dtype,
                            size_t n_blocks, size_t n_local_blocks, size_t block_tokens, size_t max_tokens)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, model->shard.n_kv_heads * model->head_dim);
    if (!n_blocks || !block_tokens || !max_tokens || !row_bytes || !(backend->kv_dtypes & 1u << dtype)
    ||  (xinf_dtype_block_size (dtype) > 1 && model->head_dim % xinf_dtype_block_size (dtype))
    ||  xinf_transformer_check_backend (model, backend, NULL, 0)
    ||  (n_local_blocks && !xinf_transformer_window_cache_fits (model, backend)))
        return NULL;                  //  a head must start a block; the backend has the model's ops
    //  Every buffer's float count fits (with room for the bytes): no wrap
    size_t widths [] = { model->dim, model->shard.n_heads * model->head_dim, model->shard.ffn };
    size_t kv_dim = model->shard.n_kv_heads * model->head_dim;
    size_t slots_limit = SIZE_MAX / 8 / (model->n_layers ? model->n_layers : 1) / (kv_dim ? kv_dim : 1);
    if (n_blocks > slots_limit / block_tokens || n_local_blocks > slots_limit / block_tokens)
        return NULL;
    for (size_t index = 0; index < sizeof widths / sizeof widths [0]; index++)
        if (widths [index] && max_tokens > SIZE_MAX / 8 / widths [index])
            return NULL;
    xinf_kv_cache_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    const xinf_shard_t *shard = &model->shard;
    self->backend = backend;
    self->max_tokens = max_tokens;
    self->q_dim = shard->n_heads * model->head_dim;
    self->kv_dim = shard->n_kv_heads * model->head_dim;
    self->ffn = shard->ffn;
    bool pools = s_pools (self, model, dtype, n_blocks, n_local_blocks, block_tokens);
    self->x = s_floats (backend, max_tokens * model->dim);
    self->xb = s_floats (backend, max_tokens * model->dim);
    self->xb2 = s_floats (backend, max_tokens * model->dim);
    self->q = s_floats (backend, max_tokens * self->q_dim);
    self->k = s_floats (backend, max_tokens * self->kv_dim);
    //  Latent attention's values are its keys (its pool shares them): no values of their own
    self->v = model->mla.kv_rank ? self->k : s_floats (backend, max_tokens * self->kv_dim);
    self->attn = s_floats (backend, max_tokens * self->q_dim);
    self->hb = s_floats (backend, max_tokens * self->ffn);
    self->hb2 = s_floats (backend, max_tokens * self->ffn);
    size_t mla [3];
    xinf_mla_scratch (model, mla);
    float **mla_buffers [3] = { &self->mla_a, &self->mla_b, &self->mla_c };
    bool mla_held = true;
    for (size_t index = 0; index < 3 && mla [0]; index++)
        mla_held = mla_held && max_tokens <= SIZE_MAX / 8 / mla [index]
                && (*mla_buffers [index] = s_floats (backend, max_tokens * mla [index]));
    if (!pools || !self->x || !self->xb || !self->xb2 || !self->q || !self->k
    ||  !self->v || !self->attn || !self->hb || !self->hb2 || !mla_held || s_lora_scratch (self, model))
        xinf_kv_cache_destroy (&self);
    return self;
}

void
xinf_kv_cache_destroy (xinf_kv_cache_t **self_p)
{
    if (self_p && *self_p) {
        xinf_kv_cache_t *self = *self_p;
        xinf_backend_t *backend = self->backend;
        void *buffers [] = { self->pool.keys, self->pool.values != self->pool.keys ? self->pool.values : NULL,
                             self->local_pool.keys,
                             self->local_pool.values != self->local_pool.keys ? self->local_pool.values : NULL,
                             self->x, self->xb, self->xb2, self->q, self->k, self->v != self->k ? self->v : NULL,
                             self->attn, self->hb, self->hb2,
                             self->mla_a, self->mla_b, self->mla_c };
        for (size_t index = 0; index < sizeof buffers / sizeof buffers [0]; index++)
            if (buffers [index])
                backend->ops->free (backend, buffers [index]);
        free (self->lora_rows);
        free (self->pool_layer);
        xinf_graph_pad_destroy (&self->pad);
        free (self);
        *self_p = NULL;
    }
}

void xinf_kv_cache_set_cancel (xinf_kv_cache_t *self, atomic_bool *flag) { self->cancel = flag; }
void xinf_kv_cache_set_beacon (xinf_kv_cache_t *self, xinf_beacon_t *beacon) { self->beacon = beacon; }

int
xinf_kv_cache_set_graphs (xinf_kv_cache_t *self, bool on, size_t max_rows)
{
    self->graphs = false;
    size_t max = max_rows < self->max_tokens ? max_rows : self->max_tokens;
    while (max > ((size_t) 1 << (XINF_GRAPH_BUCKETS - 1)))
        max /= 2;
    if (!on || !max || self->pool_layer)
        return 0;                     //  (a window cache's steps carry two tables: no graphs)
    if (!self->pad && !(self->pad = xinf_graph_pad_new ()))
        return -1;
    self->graphs = true;
    self->graph_max = max;
    memset (self->graph_state, 0, sizeof self->graph_state);
    return 0;
}

bool xinf_kv_cache_graphs (const xinf_kv_cache_t *self) { return self->graphs; }

xinf_batch_limits_t
xinf_transformer_limits (const xinf_transformer_t *self, xinf_kv_cache_t *cache)
{
    size_t context = cache->pool.n_blocks * cache->pool.block_tokens;
    return (xinf_batch_limits_t) { 0, self->vocab, context < self->context ? context : self->context,
                                   cache->pool.n_blocks, cache->pool.block_tokens, 0,
                                   cache->n_loras < self->n_loras ? cache->n_loras : self->n_loras,
                                   cache->local_pool.n_blocks, cache->window };
}

