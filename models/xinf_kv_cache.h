/*  xinf_kv_cache: the paged KV cache of the batched forward pass and the
    scratch of its passes (the API is in xinf_transformer.h). Shared by
    xinf_kv_cache.c, which makes it, and xinf_transformer.c, which runs
    steps on it; not for use elsewhere.

    A window cache gives a model's local (sliding-window) layers a pool of
    their own, whose blocks a sequence holds only for the positions its
    next tokens' windows reach (xinf_batcher frees the rest): Gemma 3's
    five local layers of every six then keep about a window's positions a
    sequence instead of its whole context.
*/
#ifndef XINF_KV_CACHE_H_INCLUDED
#define XINF_KV_CACHE_H_INCLUDED

#include "xinf_transformer.h"
#include "xinf_graph.h"
#include "xinf_lora.h"

struct _xinf_kv_cache_t {
    xinf_backend_t *backend;           //  not owned
    xinf_kv_pool_t pool;               //  every layer's, or with a window cache the global layers'
    //  A window cache: the local (sliding-window) layers' own pool, whose
    //  blocks a batch names in local_blocks; pool_layer [l] is layer l's
    //  index in its pool. Else local_pool is empty and pool_layer NULL.
    xinf_kv_pool_t local_pool;
    size_t *pool_layer;
    size_t window;                     //  the widest local layer's window
    size_t max_tokens, q_dim, kv_dim, ffn;   //  of the shard
    //  Scratch for a pass of up to max_tokens tokens, in the backend's memory
    float *x, *xb, *xb2;               //  [max_tokens][dim]
    float *q, *k, *v, *attn, *hb, *hb2;      //  [max_tokens][shard width]
    float *mla_a, *mla_b, *mla_c;      //  latent attention's (xinf_mla.h), or NULL
    //  When the model has adapters, the rows of each adapter's sequences in
    //  the pass (host memory: [n_loras][max_tokens]), found once a pass
    int32_t *lora_rows;
    size_t lora_counts [XINF_LORA_MAX_ADAPTERS];
    size_t n_loras;                    //  the model's adapters when the cache was made: a batch names at most these
    atomic_bool *cancel;
    xinf_beacon_t *beacon;             //  where a step is, or NULL; not owned
    //  CUDA graphs of decode steps (xinf_graph.h), when on
    bool graphs;
    size_t graph_max;                  //  the largest bucket
    uint8_t graph_state [XINF_GRAPH_BUCKETS];   //  s_graph_state_t, by bucket index
    bool capturing;                    //  the beacon stays in the capture phase
    xinf_graph_pad_t *pad;
};

#endif
