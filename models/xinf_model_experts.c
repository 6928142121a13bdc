/*  xinf_model_experts: the loader's reading of a mixture of experts' keys
    (counts, widths, shared experts, GLM-4.5's and DeepSeek's routing) into its
    xinf_experts_spec_t; xinf_experts.c loads the tensors.  */
#include "xinf_model_private.h"

#include <stdio.h>

//  The gating function (expert_gating_func) of DeepSeek's family: GLM-4.5's
//  is sigmoid (2, or absent); DeepSeek's (gating_keyed) softmax (1) or
//  sigmoid, absent meaning softmax (V2's files), except in GLM-4.7-Flash's
//  files (47 or 48 layers of a 154,880-token vocabulary: sigmoid), as
//  llama.cpp reads them. True for sigmoid.
static bool
s_load_gating (xinf_loader_t *loader)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    const char *arch = loader->arch->name;
    uint64_t gating = xinf_loader_hparam (loader, XINF_HP_GATING, 0);
    if (!gating && loader->arch->gating_keyed) {
        //  The vocabulary as llama.cpp counts it: <arch>.vocab_size, else the token list's length
        xinf_gguf_type_t element;
        uint64_t vocab = 0;
        char key [128];
        snprintf (key, sizeof key, "%s.vocab_size", arch);
        if (xinf_gguf_get_uint (loader->self->gguf, key, &vocab)
        &&  xinf_gguf_get_array (loader->self->gguf, "tokenizer.ggml.tokens", &element, &vocab))
            vocab = 0;
        gating = (t->n_layers == 47 || t->n_layers == 48) && vocab == 154880 ? 2 : 1;
    }
    if (gating == 2 || (gating == 0 && !loader->arch->gating_keyed))
        return true;
    if (gating != 1 || !loader->arch->gating_keyed)
        xinf_loader_fail (loader, "metadata key '%s.expert_gating_func' is %llu: xinf routes %s's experts by %s",
                          arch, (unsigned long long) gating, arch,
                          loader->arch->gating_keyed ? "softmax (1) or sigmoid (2)" : "sigmoid (2)");
    return false;
}

//  The routing keys of DeepSeek's family (GLM-4.5's, DeepSeek's) into
//  spec: the gating, the selection bias, the weights' normalization and
//  scale, groups, the leading dense layers (fewer than the model's),
//  shared experts of the experts' width; expert_feed_forward_length and
//  expert_shared_count required, as llama.cpp reads them.
static void
s_load_deepseek_routing (xinf_loader_t *loader, xinf_experts_spec_t *spec)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    const char *arch = loader->arch->name;
    char key [128];
    static const char *const required [2] = { "expert_feed_forward_length", "expert_shared_count" };
    for (int which = 0; which < 2 && !loader->failed; which++) {
        snprintf (key, sizeof key, "%s.%s", arch, required [which]);
        if (!xinf_gguf_has (loader->self->gguf, key))
            xinf_loader_fail (loader, "metadata key '%s' is missing", key);
    }
    spec->sigmoid = s_load_gating (loader);
    spec->selection_bias = loader->arch->gating_keyed ? XINF_OPTIONAL : XINF_REQUIRED;
    bool normalize = false;
    snprintf (key, sizeof key, "%s.expert_weights_norm", arch);
    if (xinf_gguf_has (loader->self->gguf, key) && xinf_gguf_get_bool (loader->self->gguf, key, &normalize))
        xinf_loader_fail (loader, "metadata key '%s' is not a bool", key);
    spec->normalize = normalize;
    spec->weight_scale = (float) xinf_loader_float (loader, "expert_weights_scale", 0.0, 0.0, 1000.0);
    spec->dense_lead = xinf_loader_hparam (loader, XINF_HP_DENSE_LEAD, 0);
    if (!loader->failed && spec->dense_lead >= t->n_layers)
        xinf_loader_fail (loader, "metadata key '%s.leading_dense_block_count' is %zu of %zu layers: no layer has "
                          "experts", arch, spec->dense_lead, t->n_layers);
    spec->shared_ffn = spec->ffn * xinf_loader_hparam (loader, XINF_HP_SHARED_COUNT, 0);
}

//  A mixture of experts' counts and width (xinf_experts.h), where the arch
//  may have them: Mixtral's experts (llama) are feed_forward_length wide,
//  as llama.cpp reads them; Qwen3-MoE's expert_feed_forward_length, else
//  the dense width shared among the experts a token uses (llama.cpp's).
//  A shared expert of expert_shared_feed_forward_length (where absent or 0,
//  feed_forward_length, as llama.cpp's qwen2moe; granitemoe's only where
//  the key is nonzero).
void
xinf_loader_experts (xinf_loader_t *loader)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    if (loader->failed || loader->arch->experts == XINF_UNUSED)
        return;
    bool required = loader->arch->experts == XINF_REQUIRED;
    size_t count = xinf_loader_hparam (loader, XINF_HP_EXPERTS, 0);
    size_t used = xinf_loader_hparam (loader, XINF_HP_EXPERTS_USED, 0);
    size_t groups = xinf_loader_hparam (loader, XINF_HP_EXPERT_GROUPS, 0);
    size_t groups_used = xinf_loader_hparam (loader, XINF_HP_GROUPS_USED, 0);
    size_t width = required && used ? xinf_loader_hparam (loader, XINF_HP_EXPERT_FFN, t->ffn / used) : t->ffn;
    char reason [256];
    if (!loader->failed && xinf_experts_check (loader->arch->name, required, count, used, groups, groups_used, width, t->dim,
                                               reason, sizeof reason))
        xinf_loader_fail (loader, "%s", reason);
    size_t shared = xinf_loader_hparam (loader, XINF_HP_SHARED_FFN, 0);
    if (loader->arch->shared_expert == XINF_REQUIRED && !shared)
        shared = t->ffn;
    if (loader->failed || !count)
        return;
    loader->experts = (xinf_experts_spec_t) {
        .count = count, .used = used, .ffn = width, .oai = loader->arch->experts_oai,
        .normalize = !loader->arch->experts_oai && !loader->arch->experts_unnormalized,
        .shared_ffn = loader->arch->shared_expert == XINF_UNUSED ? 0 : shared,
        .shared_gated = loader->arch->shared_gated,
        .groups = groups > 1 ? groups : 0, .groups_used = groups > 1 ? groups_used : 0 };
    if (loader->arch->experts_sigmoid)
        s_load_deepseek_routing (loader, &loader->experts);
    //  The shared expert's rows join a token's gathered rows: their bound holds it too
    if (!loader->failed && used * (t->dim + width) + t->dim + loader->experts.shared_ffn > XINF_EXPERTS_ROW_FLOATS)
        xinf_loader_fail (loader, "the shared experts' width %zu with %zu experts of %zu a token exceeds %u floats a "
                          "token", loader->experts.shared_ffn, used, width, XINF_EXPERTS_ROW_FLOATS);
}
