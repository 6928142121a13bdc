/*  xinf_model_rope: the model loader's RoPE: the architecture's layout,
    rope.freq_base, and the scaling a file asks for (linear, YaRN, Llama
    3's, LongRoPE's factor tensors, the attention factor), refused by name
    where xinf would run it wrong.  */
#include "xinf_model_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The dimensions RoPE turns: the head's, or the partial rotary's.
static size_t
s_turned (const xinf_transformer_t *t)
{
    return t->rope.dims ? t->rope.dims : t->head_dim;
}

//  The model's own frequency factors, one a rotated pair, all 1 (no
//  scaling); NULL after recording the failure.
static float *
s_own_factors (xinf_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    size_t count = s_turned (&self->transformer) / 2;
    if (!(self->rope_factors = malloc (count * sizeof (float)))) {
        xinf_loader_fail (loader, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        self->rope_factors [i] = 1.0f;
    return self->rope_factors;
}

//  Frequency factors ('name': rope_freqs.weight, rope_factors_long.weight),
//  read now into memory the model owns, or NULL.
static float *
s_rope_freqs (xinf_loader_t *loader, const char *name)
{
    xinf_model_t *self = loader->self;
    size_t count = s_turned (&self->transformer) / 2;
    const float *tensor = xinf_loader_vector (loader, name, count, true);
    if (!tensor)
        return NULL;
    xinf_loader_replicate (loader, tensor, count * sizeof (float));       //  part of every shard's bytes
    float *factors = s_own_factors (loader);
    if (factors && xinf_gguf_read (self->gguf, tensor, count * sizeof (float), factors))
        xinf_loader_fail (loader, "%s", xinf_gguf_error (self->gguf));
    return factors;
}

//  LongRoPE (Phi-3's 128K models): the long factors when the context
//  exceeds rope.scaling.original_context_length, else the short ones, as
//  llama.cpp chooses them for a context of the model's length; none when
//  the file has neither.
static float *
s_longrope (xinf_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    bool has_long = xinf_gguf_find_tensor (self->gguf, "rope_factors_long.weight") != NULL;
    bool has_short = xinf_gguf_find_tensor (self->gguf, "rope_factors_short.weight") != NULL;
    if (!has_long && !has_short)
        return NULL;
    double original = xinf_loader_float (loader, "rope.scaling.original_context_length", (double) t->context, 1.0,
                                      1 << 24);
    if (has_long != has_short)
        xinf_loader_fail (loader, "tensors 'rope_factors_long.weight' and 'rope_factors_short.weight' must come together");
    if (loader->failed)
        return NULL;
    return s_rope_freqs (loader, (double) t->context > original ? "rope_factors_long.weight"
                                                                 : "rope_factors_short.weight");
}

//  YaRN: frequency factors (on top of rope_freqs.weight's, when the file
//  has them) and the magnitude scale of q and k, returned. Archs whose
//  local layers turn by their own RoPE (Gemma 3's) are refused: llama.cpp
//  leaves those layers unscaled, which xinf's one query scale cannot say
//  (GPT-OSS's local layers are scaled as its global ones).
static double
s_load_yarn (xinf_loader_t *loader, double factor)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    if (loader->arch->swa_rope_base) {
        xinf_loader_fail (loader, "metadata key '%s.rope.scaling.type' is 'yarn': xinf runs no YaRN for %s's local layers",
                loader->arch->name, loader->arch->name);
        return 1.0;
    }
    double original = xinf_loader_float (loader, "rope.scaling.original_context_length", (double) t->context, 1.0,
                                      1 << 24);
    if (!t->rope.factors && !loader->failed)
        t->rope.factors = s_own_factors (loader);
    double mscale = loader->failed ? 1.0
                  : xinf_arch_yarn_factors (self->rope_factors, s_turned (t), t->rope.base, factor, original);
    if (mscale < 0)
        xinf_loader_fail (loader, "yarn RoPE scaling: factor %g, original_context_length %g make no sense", factor, original);
    return mscale;
}

//  Llama 3's computed factors (rope.scaling.type llama3 without a
//  rope_freqs.weight tensor).
static void
s_load_llama3 (xinf_loader_t *loader, double factor)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    double low = xinf_loader_float (loader, "rope.scaling.low_freq_factor", 1.0, 1e-3, 1e3);
    double high = xinf_loader_float (loader, "rope.scaling.high_freq_factor", 4.0, 1e-3, 1e3);
    double original = xinf_loader_float (loader, "rope.scaling.original_context_length", 8192.0, 1.0, 1 << 24);
    if (loader->failed || !s_own_factors (loader))
        return;
    if (xinf_arch_llama3_factors (self->rope_factors, s_turned (t), t->rope.base, factor, low, high, original))
        xinf_loader_fail (loader, "llama3 RoPE scaling: factor %g, low_freq_factor %g, high_freq_factor %g, "
                "original_context_length %g make no sense", factor, low, high, original);
    t->rope.factors = self->rope_factors;
}

//  RoPE: the layout of the architecture, rope.freq_base, and the scaling
//  (rope.scaling.type none, linear or yarn, and for llama llama3;
//  rope_freqs.weight wins over computed llama3 factors, as in llama.cpp;
//  phi3's LongRoPE factor tensors, YaRN on top of any factors).
//  An arch xinf scales no RoPE for (gemma2) refuses a file that asks for
//  scaling, naming the key, rather than run it unscaled. RoPE turns q and
//  k scaled by YaRN's magnitude scale times rope.scaling.attn_factor (as
//  ggml's rope; not on Gemma 3's local layers, which refuse both).
void
xinf_loader_rope (xinf_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    const xinf_arch_t *arch = loader->arch;
    t->rope = (xinf_rope_t) { (float) xinf_loader_float (loader, "rope.freq_base", 10000.0, 1.0, 1e12), 1.0f,
                              arch->rope_neox, NULL, 1.0f, 0 };
    size_t dims = xinf_loader_hparam (loader, XINF_HP_ROPE_DIMS, t->head_dim);
    if (!loader->failed && (dims % 2 || dims > t->head_dim))
        xinf_loader_fail (loader, "%s.rope.dimension_count %zu: RoPE turns an even number of a head's %zu "
                          "dimensions", arch->name, dims, t->head_dim);
    else
    if (!loader->failed && dims < t->head_dim && arch->whole_rope)
        xinf_loader_fail (loader, "%s.rope.dimension_count %zu differs from the head dimension %zu: %s turns whole "
                          "heads (llama.cpp refuses such a file too)", arch->name, dims, t->head_dim, arch->name);
    if (loader->failed)
        return;
    t->rope.dims = dims < t->head_dim ? dims : 0;       //  partial rotary (Phi-4-mini's)
    char key [128];
    snprintf (key, sizeof key, "%s.rope.scaling.type", arch->name);
    const char *type = xinf_gguf_has (self->gguf, key) ? xinf_gguf_get_str (self->gguf, key)
                     : arch->rope_scaling ? "linear" : "none";
    double factor = xinf_loader_float (loader, "rope.scaling.factor", 1.0, 0.0, 1024.0);
    factor = factor < 1.0 ? 1.0 : factor;          //  0 (and below 1) means none, as in llama.cpp
    double mscale = xinf_loader_float (loader, "rope.scaling.attn_factor", 1.0, 1e-3, 1e3);
    if (arch->rope_llama3 && !loader->failed)
        t->rope.factors = s_rope_freqs (loader, "rope_freqs.weight");
    if (arch->longrope && !loader->failed && !t->rope.factors)      //  (no arch has both)
        t->rope.factors = s_longrope (loader);
    if (loader->failed)
        return;
    if (!type)
        xinf_loader_fail (loader, "metadata key '%s' is not a string", key);
    else
    if (!arch->rope_scaling && (strcmp (type, "none") || factor > 1.0 || mscale != 1.0))
        xinf_loader_fail (loader, "metadata key '%s%s' is set: xinf runs no RoPE scaling for %s",
                strcmp (type, "none") ? key : arch->name,
                strcmp (type, "none") ? "" : factor > 1.0 ? ".rope.scaling.factor" : ".rope.scaling.attn_factor",
                arch->name);
    else
    if (mscale != 1.0 && arch->swa_rope_base)
        xinf_loader_fail (loader, "metadata key '%s.rope.scaling.attn_factor' is set: xinf scales no RoPE of %s's local layers",
                arch->name, arch->name);
    else
    if (strcmp (type, "linear") == 0)
        t->rope.scale = (float) (1.0 / factor);
    else
    if (strcmp (type, "yarn") == 0)
        mscale *= s_load_yarn (loader, factor);
    else
    if (strcmp (type, "llama3") == 0 && !arch->rope_llama3)
        xinf_loader_fail (loader, "metadata key '%s' is 'llama3': xinf runs llama3 RoPE scaling for llama only", key);
    else
    if (strcmp (type, "llama3") == 0 && !t->rope.factors)
        s_load_llama3 (loader, factor);
    else
    if (strcmp (type, "none") && strcmp (type, "llama3"))
        xinf_loader_fail (loader, "metadata key '%s' is '%.32s': xinf runs none, linear, yarn and llama3 RoPE scaling", key,
                type);
    t->rope.mscale = (float) mscale;
    for (size_t i = 0; t->rope.factors && i < s_turned (t) / 2 && !loader->failed; i++)
        if (!(t->rope.factors [i] >= 1e-3f && t->rope.factors [i] <= 1e6f))
            xinf_loader_fail (loader, "RoPE frequency factor [%zu] is %g, outside 0.001..1e6", i, (double) t->rope.factors [i]);
}
