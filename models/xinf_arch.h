/*  xinf_arch: the decoder architectures xinf runs, each described in one
    place: which tensors of a layer it has (required, optional or unused),
    its RoPE layout, its default RMSNorm epsilon and whether it reads the
    Llama 3 RoPE scaling. The hyperparameter keys (with the ranges a file
    may give them) and the tensor names and shapes, which the architectures
    share, are tables here too; the loader (xinf_model) walks these tables
    and never compares architecture names itself.

        llama   RoPE in adjacent pairs, q/k/v biases optional, RoPE scaling
                (rope.scaling.* keys, rope_freqs.weight); Mistral files are
                stored as llama
        qwen2   RoPE in NeoX halves, q/k/v biases required
        qwen3   RoPE in NeoX halves, no biases, a per-head RMSNorm of the
                queries and keys (attn_q_norm, attn_k_norm) before RoPE; the
                head dimension (attention.key_length) is independent of
                dim / heads
        qwen3moe as qwen3, its feed-forward a mixture of experts
                (xinf_experts.h); llama files with experts are Mixtral's
        qwen2moe Qwen1.5-MoE, Qwen2-57B-A14B: qwen2's layer, its
                feed-forward a mixture of experts, their weights not
                renormalized, and a shared expert gated by the sigmoid of
                its router's logit
        gemma2  as gemma3 without the heads' norms, and: every other layer
                local (window 4096 unless the file says), RoPE as the
                global layers'; attention scores and final logits
                soft-capped (c tanh (x / c), attn_logit_softcapping 50,
                final_logit_softcapping 30); the 27B (46 layers) scales its
                queries by 1 / sqrt (dim / heads)
        phi3    as llama with RoPE in NeoX halves, no biases; q, k and v one
                tensor (attn_qkv) or three; the gate and up projections one
                tensor (ffn_up: the gate's rows first); LongRoPE's
                rope_factors_long/short (the long ones when the context
                exceeds rope.scaling.original_context_length) and
                rope.scaling.attn_factor; attention.sliding_window ignored,
                as llama.cpp does (Phi-3 mini's 2047 is not the model's
                window over its whole context)
        glm4    GLM-4 (0414, Z1): RoPE in adjacent pairs over part of a
                head (rope.dimension_count: half), q/k/v biases optional
                (apart, or attn_qkv.bias with attn_qkv), the gate and up
                one tensor (ffn_up, as Phi-3's), RMSNorm of the attention's
                and the feed-forward's outputs before each residual add
                (post_attention_norm, post_ffw_norm, as Gemma's)
        granite IBM Granite 3: llama's layer, and embeddings times
                embedding_scale, each block's output times residual_scale
                before its residual add, attention scores times
                attention.scale (instead of 1 / sqrt (head_dim)), logits
                divided by logit_scale
        granitemoe Granite 3's mixtures of experts (1B-A400M, 3B-A800M):
                granite's layer, its feed-forward a mixture of experts of
                feed_forward_length, as Mixtral's, and granitemoeshared's
                shared expert (ungated) where its width is given
        gpt-oss OpenAI's GPT-OSS (20B, 120B): RoPE in NeoX halves (YaRN,
                usually), q/k/v biases and attn_output's bias
                (attn_output.bias), attention sinks (attn_sinks: a logit a
                query head in each softmax), every other layer local
                (attention.sliding_window, 128 by default; the local
                layers' RoPE the global's), the feed-forward's norm named
                post_attention_norm, a mixture of experts in its form
                (experts_oai) of expert_feed_forward_length, weights not
                renormalized
        glm4moe GLM-4.5, GLM-4.5-Air, GLM-4.6: RoPE in NeoX halves over
                part of each head (rope.dimension_count), q/k/v biases and
                q/k norms optional, the feed-forward's norm named
                post_attention_norm, the first leading_dense_block_count
                layers dense, the others a mixture of experts chosen by
                sigmoids plus a selection bias, with shared experts; the
                file's multi-token prediction layers not run
        deepseek2 DeepSeek V2/V3/R1, Kimi K2, GLM-4.7-Flash: multi-head
                latent attention (keys and values through a low-rank
                latent of attention.kv_lora_rank, RoPE in adjacent pairs
                over a part of each head of its own, rope.dimension_count;
                queries through attention.q_lora_rank where given), the
                first leading_dense_block_count layers dense, the others
                experts routed by expert_gating_func (softmax or sigmoid,
                exp_probs_b.bias optional, expert_group_count groups),
                with shared experts; multi-token prediction layers not run
        gemma3  as qwen3, and: embeddings times sqrt (dim); RMSNorm of the
                attention's and the feed-forward's outputs before each
                residual add (post_attention_norm, post_ffw_norm); GELU
                (tanh form) gating the feed-forward; with
                attention.sliding_window, five of every six layers local
                (attending to the last sliding_window positions, RoPE base
                rope.freq_base_swa, 10000 by default, unscaled), the sixth
                global (attention.sliding_window_pattern may say otherwise)

    Shapes are in extents (dim, q_dim = heads x head_dim, kv_dim = kv heads
    x head_dim, ffn, head_dim) that the loader resolves against the
    hyperparameters, so a tensor of the wrong shape is named at load.
*/
#ifndef XINF_ARCH_H_INCLUDED
#define XINF_ARCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The tensors of one layer, in file order.
typedef enum {
    XINF_LT_ATTN_NORM, XINF_LT_Q, XINF_LT_Q_BIAS, XINF_LT_K, XINF_LT_K_BIAS, XINF_LT_V, XINF_LT_V_BIAS,
    XINF_LT_Q_NORM, XINF_LT_K_NORM, XINF_LT_O, XINF_LT_POST_ATTN_NORM, XINF_LT_FFN_NORM, XINF_LT_GATE, XINF_LT_UP,
    XINF_LT_DOWN, XINF_LT_POST_FFN_NORM, XINF_LT_O_BIAS, XINF_LT_SINKS, XINF_LT_COUNT
} xinf_layer_tensor_t;

typedef enum { XINF_UNUSED = 0, XINF_REQUIRED, XINF_OPTIONAL } xinf_presence_t;

//  A tensor's extents, resolved against the hyperparameters.
typedef enum {
    XINF_EXT_NONE = 0, XINF_EXT_DIM, XINF_EXT_Q, XINF_EXT_KV, XINF_EXT_FFN, XINF_EXT_HEAD, XINF_EXT_HEADS
} xinf_extent_t;

typedef struct {
    const char *suffix;                //  "attn_q.weight": the name is blk.N.<suffix>
    xinf_extent_t rows, cols;          //  a vector: rows only (cols XINF_EXT_NONE)
} xinf_tensor_spec_t;

typedef struct {
    const char *name;                  //  general.architecture
    bool rope_neox;                    //  NeoX halves, else adjacent pairs
    bool rope_scaling;                 //  reads rope.scaling.* (linear, yarn, attn_factor)
    bool rope_llama3;                  //  and Llama 3's: rope.scaling.type llama3, rope_freqs.weight
    double rms_eps;                    //  when the file does not say
    xinf_presence_t tensors [XINF_LT_COUNT];
    bool gelu;                         //  the feed-forward's gate through GELU (tanh form), else SiLU
    bool embed_scaled;                 //  embeddings times sqrt (dim)
    size_t swa_pattern;                //  with attention.sliding_window: every swa_pattern-th layer is
                                       //  global, the others local (0: the arch has no sliding window)
    xinf_presence_t experts;           //  mixture-of-experts layers (xinf_experts.h): required (qwen3moe),
                                       //  where the file has expert_count (llama: Mixtral), or never
    size_t dim_scaled_layers;          //  a model of this many layers scales its queries by 1 / sqrt (dim /
                                       //  heads), not 1 / sqrt (head_dim) (Gemma 3 27B: 62); 0: none
    size_t swa_default;                //  the local layers' window when the file has no attention.sliding_window
                                       //  (Gemma 2: 4096); 0: without the key every layer is global
    double swa_rope_base;              //  the local layers' RoPE base when the file has no rope.freq_base_swa
                                       //  (Gemma 3: 10000); 0: the global layers' (Gemma 2)
    bool softcaps;                     //  reads attn_logit_softcapping (default 50) and final_logit_softcapping
                                       //  (default 30) and soft-caps with them (Gemma 2); else a final cap is refused
    bool output_tied;                  //  the output is always token_embd: a file with output.weight is refused
                                       //  (Gemma 2, as llama.cpp, which refuses such a file too)
    bool fused_qkv;                    //  blk.N.attn_qkv.weight [q_dim + 2 kv_dim rows] may stand for attn_q,
                                       //  attn_k and attn_v, taken as views of its rows (Phi-3)
    bool fused_up;                     //  ffn_up.weight holds the gate's ffn rows, then the up's; the table's
                                       //  gate and up are unused (Phi-3)
    bool longrope;                     //  reads LongRoPE's rope_factors_long/short.weight (Phi-3)
    bool whole_rope;                   //  RoPE turns whole heads: a smaller rope.dimension_count is refused
                                       //  (llama, qwen2moe, as llama.cpp)
    bool multipliers;                  //  reads Granite's embedding_scale, residual_scale, attention.scale and
                                       //  logit_scale (required)
    bool rstrip_controls;              //  with a SentencePiece vocabulary, whitespace after a control token in
                                       //  parsed text is the token's (Phi-3's rstrip added tokens; Phi-4 has
                                       //  a BPE one and none)
    bool ffn_norm_post;                //  the feed-forward's norm is named post_attention_norm (GPT-OSS's, as
                                       //  llama.cpp's ATTN_POST_NORM); the table's post-attention norm unused
    bool experts_oai;                  //  experts in GPT-OSS's form (xinf_moe_t): biases of the router
                                       //  (ffn_gate_inp.bias) and the experts (ffn_{gate,up,down}_exps.bias,
                                       //  required), the softmax of the chosen logits, the clamped SwiGLU
    xinf_presence_t shared_expert;     //  a shared expert every token goes to (ffn_{gate,up,down}_shexp of
                                       //  expert_shared_feed_forward_length, else feed_forward_length):
                                       //  required (qwen2moe), where the key is nonzero (granitemoe:
                                       //  granitemoeshared's), or never (the key refused)
    bool shared_gated;                 //  the shared expert's output times the sigmoid of its router's logit
                                       //  (ffn_gate_inp_shexp.weight [dim], Qwen2-MoE's)
    bool experts_unnormalized;         //  the chosen experts' weights are their probabilities as they are,
                                       //  not divided by their sum (Qwen2-MoE's)
    bool experts_sigmoid;              //  GLM-4.5's experts (xinf_moe_t's sigmoid): chosen by the sigmoids
                                       //  of their logits plus blk.N.exp_probs_b.bias (required), weighted
                                       //  by the sigmoids (expert_weights_norm, expert_weights_scale);
                                       //  expert_shared_count shared experts of the experts' width; the
                                       //  first leading_dense_block_count layers dense
    bool nextn_skipped;                //  block_count counts nextn_predict_layers multi-token prediction
                                       //  layers at the end, which are not run (as llama.cpp's trunk)
    bool gating_keyed;                 //  with experts_sigmoid, DeepSeek's: expert_gating_func softmax (1;
                                       //  absent: V2's files) or sigmoid (2), exp_probs_b.bias optional
    bool mla;                          //  multi-head latent attention (xinf_mla.h): the table's attention
                                       //  tensors unused, the MLA ones read instead (DeepSeek V2/V3)
} xinf_arch_t;

//  The hyperparameters a file gives under "<arch>.<suffix>": unsigned
//  integers with the range each may take (anything else is refused, naming
//  the key).
typedef enum {
    XINF_HP_DIM, XINF_HP_LAYERS, XINF_HP_FFN, XINF_HP_HEADS, XINF_HP_KV_HEADS, XINF_HP_CONTEXT,
    XINF_HP_KEY_LENGTH, XINF_HP_VALUE_LENGTH, XINF_HP_ROPE_DIMS, XINF_HP_SLIDING_WINDOW, XINF_HP_EXPERTS,
    XINF_HP_EXPERTS_USED, XINF_HP_EXPERT_FFN, XINF_HP_EXPERT_GROUPS, XINF_HP_SHARED_FFN, XINF_HP_SHARED_COUNT,
    XINF_HP_DENSE_LEAD, XINF_HP_NEXTN, XINF_HP_GATING, XINF_HP_GROUPS_USED, XINF_HP_Q_RANK, XINF_HP_KV_RANK,
    XINF_HP_KEY_LENGTH_MLA, XINF_HP_VALUE_LENGTH_MLA, XINF_HP_COUNT
} xinf_hparam_t;

#define XINF_ARCH_MAX_EXPERTS 1024     //  experts a layer at most (llama.cpp's LLAMA_MAX_EXPERTS)

typedef struct {
    const char *suffix;                //  "embedding_length"
    bool required;
    uint64_t min, max;
} xinf_hparam_spec_t;

//  The architecture of that name, or NULL.
const xinf_arch_t *xinf_arch_find (const char *name);
//  The names of the architectures, for messages (xinf_arch.c lists them).
const char *xinf_arch_names (void);
const xinf_tensor_spec_t *xinf_arch_tensor (xinf_layer_tensor_t which);
const xinf_hparam_spec_t *xinf_arch_hparam (xinf_hparam_t which);

//  Llama 3 RoPE frequency factors (Meta's formula, as rope_scaling
//  rope_type "llama3" in the Hugging Face config): factors [i] for the n_rot
//  / 2 pairs, theta_i being divided by factors [i]. 0, or -1 when the
//  parameters make no sense (factor < 1, high <= low, no context).
int xinf_arch_llama3_factors (float *factors, size_t n_rot, double base, double factor, double low_freq_factor,
                              double high_freq_factor, double original_context);

//  YaRN RoPE scaling (rope.scaling.type yarn; Peng et al. 2023, as llama.cpp
//  and Hugging Face's "yarn" rope_type): each pair's angle is a mix of the
//  interpolated one (theta / factor) and the original one, by a ramp
//  between the pairs that turn beta_fast (32) and beta_slow (1) times over
//  original_context. Folded into the frequency factors, which it divides
//  in place (start from all ones, or from rope_freqs.weight). Returns the
//  magnitude scale of q and k, 1 + 0.1 ln factor, or -1 when the parameters
//  make no sense.
double xinf_arch_yarn_factors (float *factors, size_t n_rot, double base, double factor, double original_context);

#endif
