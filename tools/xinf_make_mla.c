/*  xinf_make_mla: xinf-make-model's deepseek2 (DeepSeek V2/V3, Kimi K2,
    GLM-4.7-Flash): the options of multi-head latent attention and of
    DeepSeek's experts, their defaults and checks, and the keys, as
    llama.cpp's convert_hf_to_gguf.py (DeepseekV2Model) writes them with
    the MLA tensors split (attn_k_b, attn_v_b; xinf_make_tensors.c):

        attention.kv_lora_rank       the latent of keys and values
        attention.q_lora_rank        the queries' latent; left out where there
                                     is none (attn_q instead of attn_q_a,
                                     attn_q_a_norm, attn_q_b), as V2-Lite's
                                     files, except that llama.cpp then requires
                                     the key of a model of other than 26 or 27
                                     layers (48 with a vocabulary of 128256): it
                                     takes those for V2-Lite's form and reads
                                     the key of every other one, so such a file
                                     says 0
        attention.key_length         kv_lora_rank + rope dims (the absorbed key:
        attention.value_length       the latent and k_pe), kv_lora_rank
        attention.key_length_mla     a head's query/key length, qk_nope + qk_rope
                                     (--head-dim)
        attention.value_length_mla   a head's value length (--v-head-dim)
        attention.head_count_kv      1 (one latent for every head)
        rope.dimension_count         qk_rope (--rope-dims)
        leading_dense_block_count, expert_shared_count, expert_weights_scale,
        expert_weights_norm (written only when true, as convert does),
        expert_gating_func (1 softmax, 2 sigmoid), expert_group_count and
        expert_group_used_count (where --expert-groups is given),
        rope.scaling.yarn_log_multiplier 0.1 x mscale_all_dim (with YaRN;
        convert's factor, which llama.cpp divides out again)

    Defaults (the tiny preset: dim 64, 4 heads of 48 = 32 + 16): rope dims
    a third of the head (DeepSeek's 64 of 192), both latents --dim wide,
    values as wide as the keys' unturned part (qk_nope), softmax gating
    (V2's; V3, Kimi K2 and GLM-4.7-Flash: --gating sigmoid --expert-bias
    --expert-norm), mscale_all_dim 1 (V3's).
*/
#include "xinf.h"
#include "xinf_arch.h"
#include "xinf_make_model.h"

#include <math.h>

//  llama.cpp's test of V2-Lite's form (llama_model_deepseek2::load_arch_hparams):
//  then it reads no q_lora_rank and loads attn_q.
static bool
s_lite (const xinf_mm_model_t *model)
{
    int64_t layers = model->shape.layers;
    return layers == 27 || layers == 26 || (layers == 48 && model->shape.vocab == 128256);
}

static const char *
s_check (const xinf_mm_model_t *model)
{
    const xinf_mm_shape_t *shape = &model->shape;
    int64_t nope = shape->head_dim - model->rope_dims;
    int64_t groups = model->expert_groups, used = model->groups_used;
    if (shape->kv_heads != 1)
        return "deepseek2's keys and values are one latent for every head: --kv-heads is 1";
    if (nope < 1 || model->rope_dims < 2)
        return "deepseek2 turns --rope-dims of --head-dim (qk_nope + qk_rope): give fewer rope dims";
    if (!shape->experts)
        return "deepseek2 needs --experts";
    if (model->shared_experts < 1)
        return "deepseek2 needs --shared-experts of at least 1 (llama.cpp requires the _shexp tensors)";
    if (model->dense_lead > shape->layers)
        return "--dense-lead is more than --layers";
    if (groups > 1 && (shape->experts % groups || shape->experts / groups < 2 || groups >= shape->experts))
        return "--experts must be a multiple of --expert-groups, two or more experts a group";
    if (groups > 1 && (used < 1 || used >= groups || shape->experts_used > used * (shape->experts / groups)))
        return "--groups-used must be 1..--expert-groups - 1, and its groups hold --experts-used experts";
    if (groups == 1 && used != 1)
        return "one expert group: --groups-used is 1";
    if (model->q_lora_rank && s_lite (model))
        return "llama.cpp takes a deepseek2 model of 26 or 27 layers for V2-Lite (attn_q): --q-lora-rank 0";
    if (model->type == XINF_GGML_Q8_0
    &&  (model->kv_lora_rank % 32 || model->q_lora_rank % 32 || nope % 32 || (shape->heads * model->v_head_dim) % 32))
        return "q8_0 needs --kv-lora-rank, --q-lora-rank, qk_nope (--head-dim - --rope-dims) and heads x "
               "--v-head-dim to be multiples of 32";
    return NULL;
}

int
xinf_mm_mla_settings (xinf_config_t *config, xinf_mm_model_t *model)
{
    xinf_mm_shape_t *shape = &model->shape;
    static const char *own [] = { "kv-lora-rank", "q-lora-rank", "v-head-dim", "gating", "expert-groups",
                                  "groups-used", "mscale-all-dim" };
    if (!xinf_arch_find (shape->arch)->mla) {
        for (size_t index = 0; index < sizeof own / sizeof own [0]; index++)
            if (xinf_config_str (config, own [index])) {
                fprintf (stderr, "xinf-make-model: --%s is for deepseek2\n", own [index]);
                return -1;
            }
        if (xinf_config_flag (config, "expert-bias") || xinf_config_flag (config, "expert-norm")) {
            fprintf (stderr, "xinf-make-model: --expert-bias and --expert-norm are for deepseek2\n");
            return -1;
        }
        return 0;
    }
    if (!xinf_config_str (config, "kv-heads"))
        shape->kv_heads = 1;
    if (!model->rope_dims)
        model->rope_dims = shape->head_dim / 3 / 2 * 2 > 2 ? shape->head_dim / 3 / 2 * 2 : 2;
    const char *text = xinf_config_str (config, "kv-lora-rank");
    model->kv_lora_rank = text ? xinf_config_int (config, "kv-lora-rank") : shape->dim;
    text = xinf_config_str (config, "q-lora-rank");
    model->q_lora_rank = text ? xinf_config_int (config, "q-lora-rank") : shape->dim;
    text = xinf_config_str (config, "v-head-dim");
    model->v_head_dim = text ? xinf_config_int (config, "v-head-dim") : shape->head_dim - model->rope_dims;
    text = xinf_config_str (config, "gating");
    model->gating = text && streq (text, "sigmoid") ? 2 : 1;
    model->expert_bias = xinf_config_flag (config, "expert-bias");
    model->expert_norm = xinf_config_flag (config, "expert-norm");
    model->expert_groups = xinf_config_str (config, "expert-groups") ? xinf_config_int (config, "expert-groups") : 0;
    model->groups_used = xinf_config_str (config, "groups-used") ? xinf_config_int (config, "groups-used")
                       : model->expert_groups == 1 ? 1 : 0;
    if (model->groups_used && !model->expert_groups) {
        fprintf (stderr, "xinf-make-model: --groups-used needs --expert-groups\n");
        return -1;
    }
    text = xinf_config_str (config, "mscale-all-dim");
    char *end = NULL;
    model->mscale_all_dim = text ? strtod (text, &end) : 1.0;
    if (text && (end == text || *end || !isfinite (model->mscale_all_dim) || model->mscale_all_dim < 0)) {
        fprintf (stderr, "xinf-make-model: --mscale-all-dim: '%s' is not a number of at least 0\n", text);
        return -1;
    }
    const char *problem = s_check (model);
    if (problem)
        fprintf (stderr, "xinf-make-model: %s (dim %lld, heads %lld, head dim %lld, rope dims %lld)\n", problem,
                 (long long) shape->dim, (long long) shape->heads, (long long) shape->head_dim,
                 (long long) model->rope_dims);
    return problem ? -1 : 0;
}

static int
s_u32 (xinf_gguf_writer_t *writer, const char *suffix, int64_t value)
{
    char key [128];
    snprintf (key, sizeof key, "deepseek2.%s", suffix);
    return xinf_gguf_writer_set_u32 (writer, key, (uint32_t) value);
}

int
xinf_mm_mla_metadata (const xinf_mm_model_t *model, xinf_gguf_writer_t *writer)
{
    const xinf_mm_shape_t *shape = &model->shape;
    if (!xinf_arch_find (shape->arch)->mla)
        return 0;
    int64_t latent = model->kv_lora_rank;
    int rc = (model->q_lora_rank || !s_lite (model) ? s_u32 (writer, "attention.q_lora_rank", model->q_lora_rank) : 0)
          || s_u32 (writer, "attention.kv_lora_rank", latent)
          || s_u32 (writer, "attention.key_length", latent + model->rope_dims)
          || s_u32 (writer, "attention.value_length", latent)
          || s_u32 (writer, "attention.key_length_mla", shape->head_dim)
          || s_u32 (writer, "attention.value_length_mla", model->v_head_dim)
          || s_u32 (writer, "leading_dense_block_count", model->dense_lead)
          || s_u32 (writer, "expert_shared_count", model->shared_experts)
          || s_u32 (writer, "expert_gating_func", model->gating)
          || xinf_gguf_writer_set_f32 (writer, "deepseek2.expert_weights_scale", (float) model->expert_scale);
    if (model->expert_norm)
        rc = rc || xinf_gguf_writer_set_bool (writer, "deepseek2.expert_weights_norm", true);
    if (model->expert_groups)
        rc = rc || s_u32 (writer, "expert_group_count", model->expert_groups)
                || s_u32 (writer, "expert_group_used_count", model->groups_used);
    if (streq (shape->rope_scaling, "yarn") && model->mscale_all_dim > 0)
        rc = rc || xinf_gguf_writer_set_f32 (writer, "deepseek2.rope.scaling.yarn_log_multiplier",
                                             (float) (0.1 * model->mscale_all_dim));
    return rc ? -1 : 0;
}
