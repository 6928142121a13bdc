/*  xinf_experts: a mixture-of-experts model's keys and tensors (Qwen3-MoE
    files, qwen3moe; Mixtral's, llama with experts), as llama.cpp's
    converters write them: <arch>.expert_count experts, expert_used_count
    of them a token, each of expert_feed_forward_length (qwen3moe; where
    absent feed_forward_length / expert_used_count; llama's always
    feed_forward_length, as llama.cpp reads them); a layer's router
    blk.N.ffn_gate_inp.weight (experts x dim) and its experts' matrices
    stacked in three 3-D tensors, ffn_gate_exps and ffn_up_exps (experts x
    ffn x dim) and ffn_down_exps (experts x dim x ffn), each expert a view
    of its part. GPT-OSS's form ('oai'): the router's bias
    blk.N.ffn_gate_inp.bias [experts] and the experts' biases
    ffn_gate_exps.bias and ffn_up_exps.bias (experts x ffn) and
    ffn_down_exps.bias (experts x dim), F32, required; the softmax of the
    chosen logits; the clamped SwiGLU; weights not renormalized (else they
    are: Qwen3-MoE's norm_topk_prob, Mixtral's; not Qwen2-MoE's). A shared
    expert (Qwen2-MoE's, granitemoeshared's): blk.N.ffn_gate_shexp and
    ffn_up_shexp (width x dim), ffn_down_shexp (dim x width), and where
    gated (Qwen2-MoE's) its router blk.N.ffn_gate_inp_shexp.weight [dim],
    F32. GLM-4.5's ('sigmoid'): blk.N.exp_probs_b.bias [experts], F32,
    required (DeepSeek's: optional); the first dense_lead layers have no
    experts. DeepSeek V3's groups (expert_group_count, of which
    expert_group_used_count a token) as xinf_moe_t's. Counts past
    XINF_ARCH_MAX_EXPERTS, groups that do not hold and experts whose
    gathered rows would pass
    XINF_EXPERTS_ROW_FLOATS floats a token are refused, naming the keys.
*/
#ifndef XINF_EXPERTS_H_INCLUDED
#define XINF_EXPERTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "xinf_arch.h"
#include "xinf_gguf.h"
#include "xinf_slices.h"
#include "xinf_transformer.h"

#define XINF_EXPERTS_ROW_FLOATS (1u << 22)   //  experts a token x (dim + an expert's width) at most (real: 45,000)

//  The experts the file's keys give (the loader reads them in their ranges,
//  xinf_arch.h): 0 when they make sense (count 0: a dense model, unless
//  'required', qwen3moe's), or -1 with the reason naming the key (a used
//  count of 0 or past the count, group routing, no width, rows a token
//  past XINF_EXPERTS_ROW_FLOATS).
int xinf_experts_check (const char *arch, bool required, size_t count, size_t used, size_t groups, size_t groups_used,
                        size_t width, size_t dim, char *error, size_t error_size);

//  What the keys and the arch say of a model's experts.
typedef struct {
    size_t count, used, ffn;           //  experts, a token's, an expert's width
    bool oai;                          //  GPT-OSS's form
    bool normalize;                    //  the chosen weights divided by their sum
    size_t shared_ffn;                 //  the shared expert's width (0: none)
    bool shared_gated;                 //  with its router (Qwen2-MoE's)
    bool sigmoid;                      //  probabilities by sigmoids (GLM-4.5's, DeepSeek V3's)
    xinf_presence_t selection_bias;    //  blk.N.exp_probs_b.bias: required (GLM-4.5), optional (DeepSeek)
    float weight_scale;                //  the weights' scale (0: none)
    size_t groups, groups_used;        //  DeepSeek V3's groups of experts (0: none)
    size_t dense_lead;                 //  the first layers, dense (no experts)
} xinf_experts_spec_t;

//  Each layer's router and experts into t->layers [i].router and .moe (the
//  matrices in *owned, n_layers x (3 x count + 3), freed by the caller),
//  their bytes this model's (views in 'slices'): a tensor-parallel rank's
//  part of each expert's width and of the shared expert's (t->shard,
//  xinf_shard.h), the routers whole. 0, or -1 with the reason naming the
//  tensor.
int xinf_experts_load (xinf_gguf_t *gguf, xinf_transformer_t *t, const xinf_experts_spec_t *spec,
                       xinf_slices_t *slices, xinf_matrix_t **owned, char *error, size_t error_size);

#endif
