/*  xinf_mla: multi-head latent attention (DeepSeek V2/V3's, Kimi K2's,
    GLM-4.7-Flash's), run absorbed as llama.cpp runs it: every head
    attends to one KV head of kv_rank + rope floats a position, so the
    cache holds only each position's latent and its turned part.

    A layer's pass over n tokens (normed in the cache's xb):
      - queries: attn_q (or q_a, its RMSNorm, q_b) into heads of nope +
        rope floats;
      - a key: [the rope rows of attn_kv_a_mqa, the latent rows normed by
        attn_kv_a_norm]; RoPE turns its first 'rope' floats (the
        backend's partial rotary, in adjacent pairs);
      - a query head: [its rope part, k_b_h . its nope part] (kv_rank
        floats), times the model's query scale (DeepSeek's kq_scale);
      - the values are the keys: an output head's latent part goes
        through v_b_h into v_head floats (its rope part is not used), the
        heads then through attn_output.
    The heads' own products (k_b_h, v_b_h) gather a head's rows of every
    token into one block with the backend's copy_rows and run as one
    product a head. */
#ifndef XINF_MLA_H_INCLUDED
#define XINF_MLA_H_INCLUDED

#include <stddef.h>
#include "xinf_transformer.h"

//  The floats a token needs in each of the cache's three MLA scratch
//  buffers (a, b, c), for a model with MLA; 0 without.
void xinf_mla_scratch (const xinf_transformer_t *model, size_t floats [3]);

//  The layer's MLA weights against the model's shape; 0, or -1 with the
//  reason.
int xinf_mla_validate (const xinf_transformer_t *model, size_t index, char *error, size_t error_size);

//  The pass's queries, keys and values (the cache's q, k and v) from xb.
void xinf_mla_project (const xinf_transformer_t *model, const xinf_layer_t *layer, xinf_kv_cache_t *cache, size_t n);

//  The heads' attention output (the cache's attn) through v_b and
//  attn_output into xb2.
void xinf_mla_output (const xinf_transformer_t *model, const xinf_layer_t *layer, xinf_kv_cache_t *cache, size_t n);

#endif
