/*  xinf_make_model: the shape and settings of the model xinf-make-model
    writes, shared by its files (xinf_make_model.c: options, metadata;
    xinf_make_mla.c: deepseek2's options, checks and keys;
    xinf_make_tensors.c: the tensors). Private to tools/.
*/
#ifndef XINF_MAKE_MODEL_H_INCLUDED
#define XINF_MAKE_MODEL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "xinf_config.h"
#include "xinf_gguf_writer.h"

typedef struct {
    const char *preset, *arch;
    int64_t dim, layers, heads, kv_heads, ffn, vocab, context;
    bool tied;
    double eps, theta;
    bool spm;
    int64_t head_dim;                   //  0: dim / heads
    const char *rope_scaling;           //  "none", "linear", "yarn", "longrope", "llama3", "llama3-keys"
    int64_t window;                     //  gemma3's sliding window (0: none)
    int64_t experts, experts_used, expert_ffn;   //  a mixture of experts (0: dense)
} xinf_mm_shape_t;

typedef struct {
    xinf_mm_shape_t shape;
    uint32_t type;                      //  ggml type of the matrices
    uint32_t expert_type;               //  and of the experts' matrices
    uint64_t seed;
    float std;
    double rope_factor;
    int64_t rope_original_context;
    double attn_softcap, final_softcap;   //  gemma2's
    double multipliers [4];             //  granite's embedding, residual, attention, logit scales
    const char *name;
    const char *chat_template_path;    //  or NULL
    const char *output;
    const char *script;                 //  --script TEXT, or NULL
    bool fim;                           //  --fim
    const char *pooling;                //  --pooling KIND, or NULL
    bool add_eos;                       //  --add-eos
    bool rerank;                        //  --rerank
    bool split_qkv;                     //  --split-qkv (phi3, glm4)
    bool qkv_bias;                      //  --qkv-bias
    int64_t rope_dims;                  //  --rope-dims (0: the head dimension)
    int64_t shared_ffn;                 //  --shared-ffn: a shared expert's width (0: qwen2moe's --ffn, else none)
    int64_t shared_experts;             //  --shared-experts: glm4moe's shared experts (of --expert-ffn)
    int64_t dense_lead;                 //  --dense-lead: glm4moe's first dense layers
    double expert_scale;                //  --expert-scale: glm4moe's expert_weights_scale
    int64_t nextn;                      //  --nextn: glm4moe's multi-token prediction layers in block_count
    //  deepseek2 (multi-head latent attention, DeepSeek's experts; xinf_make_mla.c)
    int64_t kv_lora_rank;               //  --kv-lora-rank: the latent of keys and values
    int64_t q_lora_rank;                //  --q-lora-rank: the queries' (0: attn_q, no latent)
    int64_t v_head_dim;                 //  --v-head-dim: a head's value length (value_length_mla)
    uint32_t gating;                    //  --gating: expert_gating_func, 1 softmax, 2 sigmoid
    bool expert_bias;                   //  --expert-bias: blk.N.exp_probs_b.bias
    bool expert_norm;                   //  --expert-norm: expert_weights_norm true
    int64_t expert_groups, groups_used; //  --expert-groups, --groups-used (0: no keys)
    double mscale_all_dim;              //  --mscale-all-dim: with YaRN, yarn_log_multiplier 0.1 x it (0: none)
    const char *pre;                    //  --pre (NULL: the vocabulary kind's)
    uint32_t script_first, script_count;  //  its tokens
    int64_t script_end;                 //  the end token after it
} xinf_mm_model_t;

//  The model's tensors, planned from its shape (the architecture's table,
//  xinf_arch.h), added to 'writer' and written, each from its own PRNG
//  stream (a scripted model's values instead with --script); the file is
//  begun and finished here. 0, or -1 (the writer says why).
int xinf_mm_write_tensors (xinf_mm_model_t *model, xinf_gguf_writer_t *writer);

//  deepseek2's settings from the options (its defaults where they are not
//  given) and their checks; 0, or -1 (said on stderr). Other archs: 0,
//  nothing read.
int xinf_mm_mla_settings (xinf_config_t *config, xinf_mm_model_t *model);

//  deepseek2's keys (the attention's, the experts', the YaRN multiplier) as
//  llama.cpp's convert_hf_to_gguf.py writes them; 0, or -1.
int xinf_mm_mla_metadata (const xinf_mm_model_t *model, xinf_gguf_writer_t *writer);

#endif
