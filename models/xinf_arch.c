/*  xinf_arch: the table of architectures, hyperparameter keys and layer
    tensors.  */
#include "xinf_arch.h"

#include <math.h>
#include <string.h>

#define R XINF_REQUIRED
#define O XINF_OPTIONAL
#define U XINF_UNUSED

//  NeoX, RoPE scaling, Llama 3's, the default epsilon; then the columns
//  attn_norm, q, q bias, k, k bias, v, v bias, q norm, k norm, o,
//  post-attention norm, ffn_norm, gate, up, down, post-feed-forward norm;
//  then GELU, scaled embeddings, the sliding-window pattern, experts
//  (a layer with experts has no ffn_gate/up/down), the layers of a model
//  whose queries scale by dim / heads; the window without its key, the
//  local layers' RoPE base without its key (0: the global one's), soft-caps,
//  an output that is always the token embedding, q/k/v fused (attn_qkv),
//  gate and up fused (ffn_up), LongRoPE factors, RoPE over whole heads only,
//  Granite's multipliers, control tokens that take the whitespace after them,
//  a feed-forward norm named post_attention_norm, GPT-OSS's experts, a
//  shared expert, its sigmoid gate, weights not renormalized, GLM-4.5's
//  experts, multi-token prediction layers skipped, DeepSeek's gating key, multi-head
//  latent attention. The
//  tensors' columns end with attn_output's bias and the attention sinks
//  (left out: unused)
static const xinf_arch_t s_archs [] = {
    { "llama",    false, true,  true,  1e-5, { R, R, O, R, O, R, O, U, U, R, U, R, R, R, R, U }, false, false, 0, O, 0,
      0, 0, false, false, false, false, false, true,  false, false, false, false, U, false, false, false, false, false, false },
    { "qwen2",    true,  true,  false, 1e-6, { R, R, R, R, R, R, R, U, U, R, U, R, R, R, R, U }, false, false, 0, U, 0,
      0, 0, false, false, false, false, false, false, false, false, false, false, U, false, false, false, false, false, false },
    { "qwen3",    true,  true,  false, 1e-6, { R, R, U, R, U, R, U, R, R, R, U, R, R, R, R, U }, false, false, 0, U, 0,
      0, 0, false, false, false, false, false, false, false, false, false, false, U, false, false, false, false, false, false },
    { "qwen3moe", true,  true,  false, 1e-6, { R, R, U, R, U, R, U, R, R, R, U, R, U, U, U, U }, false, false, 0, R, 0,
      0, 0, false, false, false, false, false, false, false, false, false, false, U, false, false, false, false, false, false },
    { "phi3",     true,  true,  false, 1e-5, { R, R, U, R, U, R, U, U, U, R, U, R, U, U, R, U }, false, false, 0, U, 0,
      0, 0, false, false, true, true, true, false, false, true, false, false, U, false, false, false, false, false, false },
    { "glm4",     false, true,  false, 1e-5, { R, R, O, R, O, R, O, U, U, R, R, R, U, U, R, R }, false, false, 0, U, 0,
      0, 0, false, false, true, true, false, false, false, false, false, false, U, false, false, false, false, false, false },
    { "granite",  false, true,  true,  1e-5, { R, R, O, R, O, R, O, U, U, R, U, R, R, R, R, U }, false, false, 0, U, 0,
      0, 0, false, false, false, false, false, true,  true, false, false, false, U, false, false, false, false, false, false },
    { "qwen2moe", true,  true,  false, 1e-6, { R, R, R, R, R, R, R, U, U, R, U, R, U, U, U, U }, false, false, 0, R, 0,
      0, 0, false, false, false, false, false, true,  false, false, false, false, R, true, true, false, false, false, false },
    { "granitemoe", false, true, true, 1e-5, { R, R, O, R, O, R, O, U, U, R, U, R, R, R, R, U }, false, false, 0, O, 0,
      0, 0, false, false, false, false, false, true,  true, false, false, false, O, false, false, false, false, false, false },
    { "glm4moe",  true,  true,  false, 1e-5, { R, R, O, R, O, R, O, O, O, R, U, R, R, R, R, U }, false, false, 0, R, 0,
      0, 0, false, false, false, false, false, false, false, false, true, false, O, false, false, true, true, false, false },
    { "deepseek2", false, true, false, 1e-6, { R, U, U, U, U, U, U, U, U, U, U, R, R, R, R, U }, false, false, 0, R, 0,
      0, 0, false, false, false, false, false, false, false, false, false, false, R, false, false, true, true, true, true },
    { "gpt-oss",  true,  true,  false, 1e-5, { R, R, R, R, R, R, R, U, U, R, U, R, U, U, U, U, R, R }, false, false, 2, R, 0,
      128, 0, false, false, false, false, false, false, false, false, true, true, U, false, false, false, false, false, false },
    { "gemma2",   true,  false, false, 1e-6, { R, R, U, R, U, R, U, U, U, R, R, R, R, R, R, R }, true,  true,  2, U, 46,
      4096, 0, true, true, false, false, false, false, false, false, false, false, U, false, false, false, false, false, false },
    { "gemma3",   true,  true,  false, 1e-6, { R, R, U, R, U, R, U, R, R, R, R, R, R, R, R, R }, true,  true,  6, U, 62,
      0, 10000, false, false, false, false, false, false, false, false, false, false, U, false, false, false, false, false, false },
};

#undef R
#undef O
#undef U

static const xinf_tensor_spec_t s_tensors [XINF_LT_COUNT] = {
    [XINF_LT_ATTN_NORM] = { "attn_norm.weight", XINF_EXT_DIM, XINF_EXT_NONE },
    [XINF_LT_Q] = { "attn_q.weight", XINF_EXT_Q, XINF_EXT_DIM },
    [XINF_LT_Q_BIAS] = { "attn_q.bias", XINF_EXT_Q, XINF_EXT_NONE },
    [XINF_LT_K] = { "attn_k.weight", XINF_EXT_KV, XINF_EXT_DIM },
    [XINF_LT_K_BIAS] = { "attn_k.bias", XINF_EXT_KV, XINF_EXT_NONE },
    [XINF_LT_V] = { "attn_v.weight", XINF_EXT_KV, XINF_EXT_DIM },
    [XINF_LT_V_BIAS] = { "attn_v.bias", XINF_EXT_KV, XINF_EXT_NONE },
    [XINF_LT_Q_NORM] = { "attn_q_norm.weight", XINF_EXT_HEAD, XINF_EXT_NONE },
    [XINF_LT_K_NORM] = { "attn_k_norm.weight", XINF_EXT_HEAD, XINF_EXT_NONE },
    [XINF_LT_O] = { "attn_output.weight", XINF_EXT_DIM, XINF_EXT_Q },
    [XINF_LT_POST_ATTN_NORM] = { "post_attention_norm.weight", XINF_EXT_DIM, XINF_EXT_NONE },
    [XINF_LT_FFN_NORM] = { "ffn_norm.weight", XINF_EXT_DIM, XINF_EXT_NONE },
    [XINF_LT_GATE] = { "ffn_gate.weight", XINF_EXT_FFN, XINF_EXT_DIM },
    [XINF_LT_UP] = { "ffn_up.weight", XINF_EXT_FFN, XINF_EXT_DIM },
    [XINF_LT_DOWN] = { "ffn_down.weight", XINF_EXT_DIM, XINF_EXT_FFN },
    [XINF_LT_POST_FFN_NORM] = { "post_ffw_norm.weight", XINF_EXT_DIM, XINF_EXT_NONE },
    [XINF_LT_O_BIAS] = { "attn_output.bias", XINF_EXT_DIM, XINF_EXT_NONE },
    [XINF_LT_SINKS] = { "attn_sinks.weight", XINF_EXT_HEADS, XINF_EXT_NONE },
};

//  Ranges: generous for real models, tight enough that no product of them
//  (dim x vocab rows, layers x context x kv_dim of a cache) can overflow
//  64 bits.
static const xinf_hparam_spec_t s_hparams [XINF_HP_COUNT] = {
    [XINF_HP_DIM] = { "embedding_length", true, 1, 1 << 20 },
    [XINF_HP_LAYERS] = { "block_count", true, 1, 4096 },
    [XINF_HP_FFN] = { "feed_forward_length", true, 1, 1 << 22 },
    [XINF_HP_HEADS] = { "attention.head_count", true, 1, 4096 },
    [XINF_HP_KV_HEADS] = { "attention.head_count_kv", false, 1, 4096 },
    [XINF_HP_CONTEXT] = { "context_length", true, 1, 1 << 24 },
    [XINF_HP_KEY_LENGTH] = { "attention.key_length", false, 2, 4096 },
    [XINF_HP_VALUE_LENGTH] = { "attention.value_length", false, 2, 4096 },
    [XINF_HP_ROPE_DIMS] = { "rope.dimension_count", false, 2, 4096 },
    [XINF_HP_SLIDING_WINDOW] = { "attention.sliding_window", false, 0, 1 << 24 },
    [XINF_HP_EXPERTS] = { "expert_count", false, 0, XINF_ARCH_MAX_EXPERTS },
    [XINF_HP_EXPERTS_USED] = { "expert_used_count", false, 0, XINF_ARCH_MAX_EXPERTS },
    [XINF_HP_EXPERT_FFN] = { "expert_feed_forward_length", false, 1, 1 << 22 },
    [XINF_HP_EXPERT_GROUPS] = { "expert_group_count", false, 0, XINF_ARCH_MAX_EXPERTS },
    [XINF_HP_SHARED_FFN] = { "expert_shared_feed_forward_length", false, 0, 1 << 22 },
    [XINF_HP_SHARED_COUNT] = { "expert_shared_count", false, 0, 64 },
    [XINF_HP_DENSE_LEAD] = { "leading_dense_block_count", false, 0, 4096 },
    [XINF_HP_NEXTN] = { "nextn_predict_layers", false, 0, 4096 },
    [XINF_HP_GATING] = { "expert_gating_func", false, 0, 16 },
    [XINF_HP_GROUPS_USED] = { "expert_group_used_count", false, 0, XINF_ARCH_MAX_EXPERTS },
    [XINF_HP_Q_RANK] = { "attention.q_lora_rank", false, 0, 1 << 16 },
    [XINF_HP_KV_RANK] = { "attention.kv_lora_rank", false, 1, 1 << 16 },
    [XINF_HP_KEY_LENGTH_MLA] = { "attention.key_length_mla", false, 2, 4096 },
    [XINF_HP_VALUE_LENGTH_MLA] = { "attention.value_length_mla", false, 1, 4096 },
};

const xinf_arch_t *
xinf_arch_find (const char *name)
{
    for (size_t index = 0; name && index < sizeof s_archs / sizeof s_archs [0]; index++)
        if (strcmp (s_archs [index].name, name) == 0)
            return &s_archs [index];
    return NULL;
}

const char *
xinf_arch_names (void)
{
    return "llama, qwen2, qwen2moe, qwen3, qwen3moe, phi3, glm4, glm4moe, deepseek2, granite, granitemoe, gpt-oss, gemma2, gemma3";
}

const xinf_tensor_spec_t *
xinf_arch_tensor (xinf_layer_tensor_t which)
{
    return (unsigned) which < XINF_LT_COUNT ? &s_tensors [which] : NULL;
}

const xinf_hparam_spec_t *
xinf_arch_hparam (xinf_hparam_t which)
{
    return (unsigned) which < XINF_HP_COUNT ? &s_hparams [which] : NULL;
}

int
xinf_arch_llama3_factors (float *factors, size_t n_rot, double base, double factor, double low_freq_factor,
                          double high_freq_factor, double original_context)
{
    if (!(factor >= 1) || !(low_freq_factor > 0) || !(high_freq_factor > low_freq_factor) || !(original_context >= 1)
    ||  !(base > 1) || n_rot < 2 || !isfinite (factor + low_freq_factor + high_freq_factor + original_context + base))
        return -1;
    double low_freq_wavelen = original_context / low_freq_factor;
    double high_freq_wavelen = original_context / high_freq_factor;
    for (size_t i = 0; i < n_rot / 2; i++) {
        double wavelen = 2 * M_PI * pow (base, 2.0 * (double) i / (double) n_rot);
        if (wavelen < high_freq_wavelen)
            factors [i] = 1.0f;
        else
        if (wavelen > low_freq_wavelen)
            factors [i] = (float) factor;
        else {
            double smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
            factors [i] = (float) (1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
    return 0;
}

//  The dimension (of n_rot) whose pair turns `turns` times over the
//  original context (YaRN's correction dimension).
static double
s_yarn_dimension (size_t n_rot, double original_context, double turns, double base)
{
    return (double) n_rot * log (original_context / (turns * 2 * M_PI)) / (2 * log (base));
}

double
xinf_arch_yarn_factors (float *factors, size_t n_rot, double base, double factor, double original_context)
{
    if (!(factor >= 1) || !(original_context >= 1) || !(base > 1) || n_rot < 2
    ||  !isfinite (factor + original_context + base))
        return -1;
    double low = fmax (0.0, floor (s_yarn_dimension (n_rot, original_context, 32.0, base)));
    double high = fmin ((double) n_rot - 1, ceil (s_yarn_dimension (n_rot, original_context, 1.0, base)));
    for (size_t i = 0; i < n_rot / 2; i++) {
        double ramp = 1.0 - fmin (1.0, fmax (0.0, ((double) i - low) / fmax (0.001, high - low)));
        double keep = (1.0 - ramp) / factor + ramp;    //  the angle's share of the original
        factors [i] = (float) (factors [i] / keep);
    }
    return 1.0 + 0.1 * log (factor);
}
