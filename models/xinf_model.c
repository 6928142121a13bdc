/*  xinf_model: GGUF file -> transformer views (of one shard) + tokenizer.  */
#include "xinf_model.h"
#include "xinf_check.h"
#include "xinf_arch.h"
#include "xinf_experts.h"
#include "xinf_gguf.h"
#include "xinf_shard.h"
#include "xinf_slices.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _xinf_model_t {
    xinf_gguf_t *gguf;
    xinf_slices_t *slices;            //  the bytes of the file this shard uses, and its copies
    xinf_transformer_t transformer;
    xinf_tokenizer_t *tokenizer;
    xinf_model_info_t info;
    float *rope_factors;              //  computed llama3 factors, or NULL
    float *q_norms;                   //  gemma3 27B: the layers' attn_q_norm scaled, or NULL
    xinf_matrix_t *experts;           //  mixture of experts: every layer's (xinf_experts.h), or NULL
};

typedef struct {
    xinf_model_t *self;
    const char *path;
    const xinf_arch_t *arch;
    char *error;
    size_t error_size;
    bool failed;
    size_t n_experts, n_used, expert_ffn;   //  a mixture of experts' (0: dense)
} s_loader_t;

//  Records the first failure, prefixed with the file's path.
static void
s_fail (s_loader_t *loader, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_fail (s_loader_t *loader, const char *format, ...)
{
    if (loader->failed)
        return;
    loader->failed = true;
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    snprintf (loader->error, loader->error_size, "%s: %s", loader->path, message);
}

//  A hyperparameter within its range (xinf_arch.h), or 'fallback' when the
//  file does not give it and it is not required.
static uint64_t
s_hparam (s_loader_t *loader, xinf_hparam_t which, uint64_t fallback)
{
    const xinf_hparam_spec_t *spec = xinf_arch_hparam (which);
    char key [128];
    snprintf (key, sizeof key, "%s.%s", loader->arch->name, spec->suffix);
    uint64_t value = fallback;
    if (!xinf_gguf_has (loader->self->gguf, key)) {
        if (spec->required)
            s_fail (loader, "metadata key '%s' is missing", key);
    }
    else
    if (xinf_gguf_get_uint (loader->self->gguf, key, &value))
        s_fail (loader, "metadata key '%s': %s", key, xinf_gguf_error (loader->self->gguf));
    else
    if (value < spec->min || value > spec->max)
        s_fail (loader, "metadata key '%s' is %llu, outside %llu..%llu", key, (unsigned long long) value,
                (unsigned long long) spec->min, (unsigned long long) spec->max);
    return loader->failed ? 0 : value;
}

//  A real-valued hyperparameter within [min, max].
static double
s_hparam_float (s_loader_t *loader, const char *key_suffix, double fallback, double min, double max)
{
    char key [128];
    snprintf (key, sizeof key, "%s.%s", loader->arch->name, key_suffix);
    double value = fallback;
    if (!xinf_gguf_has (loader->self->gguf, key))
        return value;
    if (xinf_gguf_get_float (loader->self->gguf, key, &value))
        s_fail (loader, "metadata key '%s': %s", key, xinf_gguf_error (loader->self->gguf));
    else
    if (!(value >= min && value <= max))
        s_fail (loader, "metadata key '%s' is %g, outside %g..%g", key, value, min, max);
    return loader->failed ? fallback : value;
}

bool
xinf_model_dtype (uint32_t ggml_type, xinf_dtype_t *dtype)
{
    switch (ggml_type) {
        case XINF_GGML_F32:  *dtype = XINF_DTYPE_F32; return true;
        case XINF_GGML_F16:  *dtype = XINF_DTYPE_F16; return true;
        case XINF_GGML_BF16: *dtype = XINF_DTYPE_BF16; return true;
        case XINF_GGML_Q8_0: *dtype = XINF_DTYPE_Q8_0; return true;
        case XINF_GGML_Q4_0: *dtype = XINF_DTYPE_Q4_0; return true;
        case XINF_GGML_Q4_1: *dtype = XINF_DTYPE_Q4_1; return true;
        case XINF_GGML_Q5_0: *dtype = XINF_DTYPE_Q5_0; return true;
        case XINF_GGML_Q5_1: *dtype = XINF_DTYPE_Q5_1; return true;
        case XINF_GGML_Q4_K: *dtype = XINF_DTYPE_Q4_K; return true;
        case XINF_GGML_Q5_K: *dtype = XINF_DTYPE_Q5_K; return true;
        case XINF_GGML_Q6_K: *dtype = XINF_DTYPE_Q6_K; return true;
        case XINF_GGML_Q2_K: *dtype = XINF_DTYPE_Q2_K; return true;
        case XINF_GGML_Q3_K: *dtype = XINF_DTYPE_Q3_K; return true;
        case XINF_GGML_IQ4_NL: *dtype = XINF_DTYPE_IQ4_NL; return true;
        case XINF_GGML_IQ4_XS: *dtype = XINF_DTYPE_IQ4_XS; return true;
        default:             return false;
    }
}

int
xinf_model_tensor_dtype (const xinf_gguf_tensor_t *tensor, xinf_dtype_t *dtype, char *error, size_t error_size)
{
    if (xinf_model_dtype (tensor->type, dtype))
        return 0;
    const char *type = xinf_ggml_type_name (tensor->type);
    return xinf_fail (error, error_size, "tensor '%s' has weight type %s, which xinf does not compute with (F32, F16, "
                      "BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS; requantize the "
                      "model to one of these, e.g. llama-quantize --allow-requantize IN OUT Q4_K_M)", tensor->name,
                      type ? type : "unknown");
}

//  A 2-D weight [rows][cols] (ggml ne = {cols, rows}); optional ones may be absent.
static xinf_matrix_t
s_matrix (s_loader_t *loader, const char *name, size_t rows, size_t cols, bool optional)
{
    xinf_matrix_t matrix = { XINF_DTYPE_F32, NULL, rows, cols };
    if (loader->failed)
        return matrix;
    if (optional && !xinf_gguf_find_tensor (loader->self->gguf, name))
        return matrix;
    uint64_t ne [2] = { cols, rows };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (loader->self->gguf, name, 2, ne);
    if (!tensor) {
        s_fail (loader, "%s", xinf_gguf_error (loader->self->gguf));
        return matrix;
    }
    char reason [512];
    if (xinf_model_tensor_dtype (tensor, &matrix.dtype, reason, sizeof reason)) {
        s_fail (loader, "%s", reason);
        return matrix;
    }
    matrix.data = tensor->data;
    return matrix;
}

//  A 1-D F32 vector (norm weights, biases).
static const float *
s_vector (s_loader_t *loader, const char *name, size_t length, bool optional)
{
    if (loader->failed || (optional && !xinf_gguf_find_tensor (loader->self->gguf, name)))
        return NULL;
    uint64_t ne [1] = { length };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (loader->self->gguf, name, 1, ne);
    if (!tensor)
        s_fail (loader, "%s", xinf_gguf_error (loader->self->gguf));
    else
    if (tensor->type != XINF_GGML_F32)
        s_fail (loader, "tensor '%s' must be F32, it is %s", name, xinf_ggml_type_name (tensor->type));
    return tensor && !loader->failed ? (const float *) tensor->data : NULL;
}

//  A tensor extent resolved against the hyperparameters.
static size_t
s_extent (const xinf_transformer_t *t, xinf_extent_t extent)
{
    switch (extent) {
        case XINF_EXT_DIM:  return t->dim;
        case XINF_EXT_Q:    return t->n_heads * t->head_dim;
        case XINF_EXT_KV:   return t->n_kv_heads * t->head_dim;
        case XINF_EXT_FFN:  return t->ffn;
        case XINF_EXT_HEAD: return t->head_dim;
        default:            return 0;
    }
}

//  Loads the layer's tensors the architecture has (xinf_arch.h) with the
//  whole model's shapes, then cuts them down to the shard.
static void
s_load_layer (s_loader_t *loader, size_t index, xinf_layer_t *layer)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    xinf_matrix_t *matrices [XINF_LT_COUNT] = {
        [XINF_LT_Q] = &layer->q, [XINF_LT_K] = &layer->k, [XINF_LT_V] = &layer->v, [XINF_LT_O] = &layer->o,
        [XINF_LT_GATE] = &layer->gate, [XINF_LT_UP] = &layer->up, [XINF_LT_DOWN] = &layer->down };
    const float **vectors [XINF_LT_COUNT] = {
        [XINF_LT_ATTN_NORM] = &layer->attn_norm, [XINF_LT_FFN_NORM] = &layer->ffn_norm,
        [XINF_LT_POST_ATTN_NORM] = &layer->post_attn_norm, [XINF_LT_POST_FFN_NORM] = &layer->post_ffn_norm,
        [XINF_LT_Q_BIAS] = &layer->q_bias, [XINF_LT_K_BIAS] = &layer->k_bias, [XINF_LT_V_BIAS] = &layer->v_bias,
        [XINF_LT_Q_NORM] = &layer->q_norm, [XINF_LT_K_NORM] = &layer->k_norm };
    for (int which = 0; which < XINF_LT_COUNT; which++) {
        xinf_presence_t presence = loader->arch->tensors [which];
        const xinf_tensor_spec_t *spec = xinf_arch_tensor ((xinf_layer_tensor_t) which);
        bool expert_ffn = loader->n_experts && (which == XINF_LT_GATE || which == XINF_LT_UP || which == XINF_LT_DOWN);
        if (presence == XINF_UNUSED || expert_ffn)
            continue;
        char name [96];
        snprintf (name, sizeof name, "blk.%zu.%s", index, spec->suffix);
        if (matrices [which])
            *matrices [which] = s_matrix (loader, name, s_extent (t, spec->rows), s_extent (t, spec->cols),
                                          presence == XINF_OPTIONAL);
        else
            *vectors [which] = s_vector (loader, name, s_extent (t, spec->rows), presence == XINF_OPTIONAL);
    }
    int biases = !!layer->q_bias + !!layer->k_bias + !!layer->v_bias;
    if (biases == 1 || biases == 2)
        s_fail (loader, "blk.%zu: attn_q.bias, attn_k.bias and attn_v.bias must come together", index);
    char reason [256];
    if (!loader->failed && xinf_shard_layer (t, index, layer, loader->self->slices, reason, sizeof reason))
        s_fail (loader, "%s", reason);
}

//  32 when some ffn_down is Q8_0 (its split must keep blocks whole), else 1.
static size_t
s_ffn_unit (s_loader_t *loader)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    size_t unit = 1;
    for (size_t index = 0; index < t->n_layers; index++) {
        char name [96];
        snprintf (name, sizeof name, "blk.%zu.ffn_down.weight", index);
        const xinf_gguf_tensor_t *tensor = xinf_gguf_find_tensor (loader->self->gguf, name);
        xinf_dtype_t dtype;
        //  A quantized ffn_down splits between whole blocks (32 or 256 columns)
        if (tensor && xinf_model_dtype (tensor->type, &dtype) && xinf_dtype_block_size (dtype) > unit)
            unit = xinf_dtype_block_size (dtype);
    }
    return unit;
}

//  Plans the split of heads and ffn for this rank.
static void
s_plan_shard (s_loader_t *loader, int rank, int n_ranks)
{
    xinf_transformer_t *t = &loader->self->transformer;
    char reason [256];
    if (xinf_shard_plan (&t->shard, t, (size_t) rank, (size_t) n_ranks, s_ffn_unit (loader), reason, sizeof reason))
        s_fail (loader, "%s", reason);
}

//  A replicated tensor: all of its bytes are this shard's.
static void
s_replicate (s_loader_t *loader, const void *data, size_t bytes)
{
    if (!loader->failed && data && !xinf_slices_view (loader->self->slices, data, bytes))
        s_fail (loader, "out of memory");
}

static size_t
s_matrix_bytes (const xinf_matrix_t *matrix)
{
    return matrix->rows * xinf_dtype_row_bytes (matrix->dtype, matrix->cols);
}

//  rope_freqs.weight, read now into memory the model owns, or NULL.
static float *
s_rope_freqs (s_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    size_t count = self->transformer.head_dim / 2;
    const float *tensor = s_vector (loader, "rope_freqs.weight", count, true);
    if (!tensor)
        return NULL;
    s_replicate (loader, tensor, count * sizeof (float));       //  part of every shard's bytes
    if (!(self->rope_factors = malloc (count * sizeof (float))))
        s_fail (loader, "out of memory");
    else
    if (xinf_gguf_read (self->gguf, tensor, count * sizeof (float), self->rope_factors))
        s_fail (loader, "%s", xinf_gguf_error (self->gguf));
    return self->rope_factors;
}

//  YaRN: frequency factors (on top of rope_freqs.weight's, when the file
//  has them) and the magnitude scale of q and k, returned. Archs with local
//  layers (Gemma's) are refused: llama.cpp leaves those layers unscaled,
//  which xinf's one query scale cannot say.
static double
s_load_yarn (s_loader_t *loader, double factor)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    if (loader->arch->swa_pattern) {
        s_fail (loader, "metadata key '%s.rope.scaling.type' is 'yarn': xinf runs no YaRN for %s's local layers",
                loader->arch->name, loader->arch->name);
        return 1.0;
    }
    double original = s_hparam_float (loader, "rope.scaling.original_context_length", (double) t->context, 1.0,
                                      1 << 24);
    if (!t->rope.factors && !loader->failed) {
        if (!(self->rope_factors = malloc (t->head_dim / 2 * sizeof (float)))) {
            s_fail (loader, "out of memory");
            return 1.0;
        }
        for (size_t i = 0; i < t->head_dim / 2; i++)
            self->rope_factors [i] = 1.0f;
        t->rope.factors = self->rope_factors;
    }
    double mscale = loader->failed ? 1.0
                  : xinf_arch_yarn_factors (self->rope_factors, t->head_dim, t->rope.base, factor, original);
    if (mscale < 0)
        s_fail (loader, "yarn RoPE scaling: factor %g, original_context_length %g make no sense", factor, original);
    return mscale;
}

//  Llama 3's computed factors (rope.scaling.type llama3 without a
//  rope_freqs.weight tensor).
static void
s_load_llama3 (s_loader_t *loader, double factor)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    double low = s_hparam_float (loader, "rope.scaling.low_freq_factor", 1.0, 1e-3, 1e3);
    double high = s_hparam_float (loader, "rope.scaling.high_freq_factor", 4.0, 1e-3, 1e3);
    double original = s_hparam_float (loader, "rope.scaling.original_context_length", 8192.0, 1.0, 1 << 24);
    if (loader->failed)
        return;
    if (!(self->rope_factors = calloc (t->head_dim / 2, sizeof (float))))
        s_fail (loader, "out of memory");
    else
    if (xinf_arch_llama3_factors (self->rope_factors, t->head_dim, t->rope.base, factor, low, high, original))
        s_fail (loader, "llama3 RoPE scaling: factor %g, low_freq_factor %g, high_freq_factor %g, "
                "original_context_length %g make no sense", factor, low, high, original);
    t->rope.factors = self->rope_factors;
}

//  RoPE: the layout of the architecture, rope.freq_base, and the scaling
//  (rope.scaling.type none, linear or yarn, and for llama llama3;
//  rope_freqs.weight wins over computed llama3 factors, as in llama.cpp).
//  An arch xinf scales no RoPE for (gemma2) refuses a file that asks for
//  scaling, naming the key, rather than run it unscaled. RoPE turns q and
//  k scaled by YaRN's magnitude scale times rope.scaling.attn_factor (as
//  ggml's rope; not on Gemma's local layers, which refuse both).
static void
s_load_rope (s_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    const xinf_arch_t *arch = loader->arch;
    t->rope = (xinf_rope_t) { (float) s_hparam_float (loader, "rope.freq_base", 10000.0, 1.0, 1e12), 1.0f,
                              arch->rope_neox, NULL, 1.0f };
    if (loader->failed)
        return;
    char key [128];
    snprintf (key, sizeof key, "%s.rope.scaling.type", arch->name);
    const char *type = xinf_gguf_has (self->gguf, key) ? xinf_gguf_get_str (self->gguf, key)
                     : arch->rope_scaling ? "linear" : "none";
    double factor = s_hparam_float (loader, "rope.scaling.factor", 1.0, 0.0, 1024.0);
    factor = factor < 1.0 ? 1.0 : factor;          //  0 (and below 1) means none, as in llama.cpp
    double mscale = s_hparam_float (loader, "rope.scaling.attn_factor", 1.0, 1e-3, 1e3);
    if (arch->rope_llama3 && !loader->failed)
        t->rope.factors = s_rope_freqs (loader);
    if (loader->failed)
        return;
    if (!type)
        s_fail (loader, "metadata key '%s' is not a string", key);
    else
    if (!arch->rope_scaling && (strcmp (type, "none") || factor > 1.0 || mscale != 1.0))
        s_fail (loader, "metadata key '%s%s' is set: xinf runs no RoPE scaling for %s",
                strcmp (type, "none") ? key : arch->name,
                strcmp (type, "none") ? "" : factor > 1.0 ? ".rope.scaling.factor" : ".rope.scaling.attn_factor",
                arch->name);
    else
    if (mscale != 1.0 && arch->swa_pattern)
        s_fail (loader, "metadata key '%s.rope.scaling.attn_factor' is set: xinf scales no RoPE of %s's local layers",
                arch->name, arch->name);
    else
    if (strcmp (type, "linear") == 0)
        t->rope.scale = (float) (1.0 / factor);
    else
    if (strcmp (type, "yarn") == 0)
        mscale *= s_load_yarn (loader, factor);
    else
    if (strcmp (type, "llama3") == 0 && !arch->rope_llama3)
        s_fail (loader, "metadata key '%s' is 'llama3': xinf runs llama3 RoPE scaling for llama only", key);
    else
    if (strcmp (type, "llama3") == 0 && !t->rope.factors)
        s_load_llama3 (loader, factor);
    else
    if (strcmp (type, "none") && strcmp (type, "llama3"))
        s_fail (loader, "metadata key '%s' is '%.32s': xinf runs none, linear, yarn and llama3 RoPE scaling", key,
                type);
    t->rope.mscale = (float) mscale;
    for (size_t i = 0; t->rope.factors && i < t->head_dim / 2 && !loader->failed; i++)
        if (!(t->rope.factors [i] >= 1e-3f && t->rope.factors [i] <= 1e6f))
            s_fail (loader, "RoPE frequency factor [%zu] is %g, outside 0.001..1e6", i, (double) t->rope.factors [i]);
}

const char *
xinf_pooling_name (xinf_pooling_t pooling)
{
    static const char *names [] = { "none", "mean", "cls", "last", "rank" };
    return (unsigned) pooling < sizeof names / sizeof names [0] ? names [pooling] : "none";
}

//  <arch>.pooling_type, when the file has it (an embedding model's).
static void
s_load_pooling (s_loader_t *loader)
{
    char key [96];
    snprintf (key, sizeof key, "%s.pooling_type", loader->arch->name);
    uint64_t type = 0;
    if (!xinf_gguf_has (loader->self->gguf, key))
        return;
    if (xinf_gguf_get_uint (loader->self->gguf, key, &type) || type > XINF_POOLING_RANK)
        s_fail (loader, "metadata key '%s' must be 0 (none), 1 (mean), 2 (cls), 3 (last) or 4 (rank)", key);
    else
        loader->self->info.pooling = (xinf_pooling_t) type;
}

//  Whether layer 'index' is local, as <arch>.attention.sliding_window_pattern
//  says: a number p (layer i is local when i % p < p - 1; 0: all are) or
//  an array of a bool a layer; by default the arch's pattern.
static bool
s_layer_local (s_loader_t *loader, const char *key, size_t index)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    uint64_t pattern = loader->arch->swa_pattern, count = 0;
    xinf_gguf_type_t type;
    if (xinf_gguf_has (gguf, key) && xinf_gguf_get_array (gguf, key, &type, &count) == 0) {
        const uint8_t *flags = xinf_gguf_array_data (gguf, (size_t) xinf_gguf_find_key (gguf, key));
        if (type != XINF_GGUF_BOOL || count != loader->self->transformer.n_layers || !flags) {
            s_fail (loader, "metadata key '%s' is an array of %llu %s: it must be a number or an array of %zu bools "
                    "(one a layer)", key, (unsigned long long) count, xinf_gguf_type_name (type),
                    loader->self->transformer.n_layers);
            return false;
        }
        return flags [index] != 0;
    }
    if (xinf_gguf_has (gguf, key) && (xinf_gguf_get_uint (gguf, key, &pattern) || pattern > 4096)) {
        s_fail (loader, "metadata key '%s' must be a number of layers up to 4096 or an array of bools", key);
        return false;
    }
    return pattern == 0 || index % pattern < pattern - 1;
}

//  Gemma's parts (xinf_arch.h): scaled embeddings, GELU, soft-caps
//  (Gemma 2's; a final logit soft-cap is refused elsewhere), and with a
//  window (<arch>.attention.sliding_window, or the arch's default) its
//  local layers' window and RoPE (base rope.freq_base_swa, unscaled).
static void
s_load_local_layers (s_loader_t *loader)
{
    xinf_transformer_t *t = &loader->self->transformer;
    const char *arch = loader->arch->name;
    char key [128];
    t->gelu = loader->arch->gelu;
    t->embed_scale = loader->arch->embed_scaled ? sqrtf ((float) t->dim) : 0.0f;
    t->rope_local = t->rope;
    if (loader->arch->softcaps) {
        t->attn_softcap = (float) s_hparam_float (loader, "attn_logit_softcapping", 50.0, 1e-3, 1e6);
        t->final_softcap = (float) s_hparam_float (loader, "final_logit_softcapping", 30.0, 1e-3, 1e6);
    }
    else
    if (loader->arch->swa_pattern && s_hparam_float (loader, "final_logit_softcapping", 0.0, 0.0, 1e9) != 0.0)
        s_fail (loader, "metadata key '%s.final_logit_softcapping' is set: xinf does not soft-cap %s's logits", arch,
                arch);
    size_t window = loader->arch->swa_pattern ? s_hparam (loader, XINF_HP_SLIDING_WINDOW, loader->arch->swa_default) : 0;
    if (!window || loader->failed)
        return;
    double base = loader->arch->swa_rope_base ? loader->arch->swa_rope_base : t->rope.base;
    t->rope_local = (xinf_rope_t) { (float) s_hparam_float (loader, "rope.freq_base_swa", base, 1.0, 1e12), 1.0f,
                                    t->rope.neox, NULL, 1.0f };
    snprintf (key, sizeof key, "%s.attention.sliding_window_pattern", arch);
    for (size_t index = 0; window && index < t->n_layers && !loader->failed; index++)
        t->layers [index].window = s_layer_local (loader, key, index) ? window : 0;
}

//  Gemma 3 27B's queries are scaled by 1 / sqrt (dim / heads), not by
//  1 / sqrt (head_dim) as attention does (Gemma's query_pre_attn_scalar,
//  which its GGUF files do not keep: llama.cpp knows the model by its 62
//  layers, and so does xinf: the arch's dim_scaled_layers). Queries are
//  normed just before, so their norm's weights take the ratio: copies the
//  model owns. Gemma 2 27B (46 layers) has no such norm: its queries are
//  scaled by the pass (query_scale).
static void
s_scale_queries (s_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    if (t->n_layers != loader->arch->dim_scaled_layers || t->dim % t->n_heads || t->dim / t->n_heads == t->head_dim)
        return;
    float ratio = sqrtf ((float) t->head_dim / (float) (t->dim / t->n_heads));
    if (!t->layers [0].q_norm) {      //  Gemma 2 27B: no norm to fold it into
        t->query_scale = ratio;
        return;
    }
    if (!(self->q_norms = malloc (t->n_layers * t->head_dim * sizeof (float)))) {
        s_fail (loader, "out of memory");
        return;
    }
    for (size_t index = 0; index < t->n_layers; index++) {
        float *scaled = self->q_norms + index * t->head_dim;
        for (size_t i = 0; i < t->head_dim; i++)
            scaled [i] = t->layers [index].q_norm [i] * ratio;
        t->layers [index].q_norm = scaled;
    }
}

//  A mixture of experts' counts and width (xinf_experts.h), where the arch
//  may have them: Mixtral's experts (llama) are feed_forward_length wide,
//  as llama.cpp reads them; Qwen3-MoE's expert_feed_forward_length, else
//  the dense width shared among the experts a token uses (llama.cpp's).
static void
s_load_experts (s_loader_t *loader)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    if (loader->failed || loader->arch->experts == XINF_UNUSED)
        return;
    bool required = loader->arch->experts == XINF_REQUIRED;
    size_t count = s_hparam (loader, XINF_HP_EXPERTS, 0), used = s_hparam (loader, XINF_HP_EXPERTS_USED, 0);
    size_t groups = s_hparam (loader, XINF_HP_EXPERT_GROUPS, 0);
    size_t width = required && used ? s_hparam (loader, XINF_HP_EXPERT_FFN, t->ffn / used) : t->ffn;
    char reason [256];
    if (!loader->failed && xinf_experts_check (loader->arch->name, required, count, used, groups, width, t->dim,
                                               reason, sizeof reason))
        s_fail (loader, "%s", reason);
    if (!loader->failed && count) {
        loader->n_experts = count;
        loader->n_used = used;
        loader->expert_ffn = width;
    }
}

//  Every hyperparameter in its range, and consistent with the others.
static void
s_load_hparams (s_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    const char *arch = xinf_gguf_get_str (self->gguf, "general.architecture");
    if (!arch) {
        s_fail (loader, "metadata key 'general.architecture' is missing or not a string");
        return;
    }
    if (!(loader->arch = xinf_arch_find (arch))) {
        s_fail (loader, "architecture '%.64s' is not supported (xinf runs %s)", arch, xinf_arch_names ());
        return;
    }
    snprintf (self->info.arch, sizeof self->info.arch, "%s", arch);
    const char *name = xinf_gguf_get_str (self->gguf, "general.name");
    //  Sent to peers (LOADED, LIST_MODELS): cut on a character, bad bytes dropped
    xinf_textf (self->info.name, sizeof self->info.name, "%s", name ? name : "");
    xinf_transformer_t *t = &self->transformer;
    t->dim = s_hparam (loader, XINF_HP_DIM, 0);
    t->n_layers = s_hparam (loader, XINF_HP_LAYERS, 0);
    t->ffn = s_hparam (loader, XINF_HP_FFN, 0);
    t->n_heads = s_hparam (loader, XINF_HP_HEADS, 0);
    t->n_kv_heads = s_hparam (loader, XINF_HP_KV_HEADS, t->n_heads);
    t->context = s_hparam (loader, XINF_HP_CONTEXT, 0);
    t->rms_eps = (float) s_hparam_float (loader, "attention.layer_norm_rms_epsilon", loader->arch->rms_eps, 1e-12, 0.1);
    if (loader->failed)
        return;
    if (t->n_heads % t->n_kv_heads) {
        s_fail (loader, "%s.attention.head_count %zu is not a multiple of head_count_kv %zu", arch, t->n_heads,
                t->n_kv_heads);
        return;
    }
    size_t fallback = t->dim % t->n_heads ? 0 : t->dim / t->n_heads;
    t->head_dim = s_hparam (loader, XINF_HP_KEY_LENGTH, fallback);
    size_t value_length = s_hparam (loader, XINF_HP_VALUE_LENGTH, t->head_dim);
    size_t rope_dims = s_hparam (loader, XINF_HP_ROPE_DIMS, t->head_dim);
    if (loader->failed)
        return;
    if (t->head_dim < 2 || t->head_dim % 2)
        s_fail (loader, "the head dimension is %zu (%s.attention.key_length, or embedding_length %zu / head_count "
                "%zu): it must be even", t->head_dim, arch, t->dim, t->n_heads);
    else
    if (value_length != t->head_dim)
        s_fail (loader, "%s.attention.value_length %zu differs from the key length %zu: xinf needs them equal",
                arch, value_length, t->head_dim);
    else
    if (rope_dims != t->head_dim)
        s_fail (loader, "%s.rope.dimension_count %zu differs from the head dimension %zu: xinf rotates whole heads",
                arch, rope_dims, t->head_dim);
    s_load_rope (loader);
    s_load_pooling (loader);
    s_load_experts (loader);
}

static void
s_load_tensors (s_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    const xinf_gguf_tensor_t *embed = xinf_gguf_find_tensor (self->gguf, "token_embd.weight");
    if (!embed || embed->n_dims != 2) {
        s_fail (loader, "tensor 'token_embd.weight' is missing or not 2-D");
        return;
    }
    t->vocab = embed->ne [1];
    if (t->vocab < 1 || t->vocab > (1u << 24)) {
        s_fail (loader, "tensor 'token_embd.weight' has %zu rows: a vocabulary must have 1..16777216 tokens", t->vocab);
        return;
    }
    t->embed = s_matrix (loader, "token_embd.weight", t->vocab, t->dim, false);
    t->output_norm = s_vector (loader, "output_norm.weight", t->dim, false);
    if (loader->arch->output_tied && xinf_gguf_find_tensor (self->gguf, "output.weight"))
        s_fail (loader, "tensor 'output.weight': a %s model's output is its token embedding (llama.cpp refuses "
                "such a file too)", loader->arch->name);
    t->output = s_matrix (loader, "output.weight", t->vocab, t->dim, true);
    self->info.tied_embeddings = !loader->failed && !t->output.data;
    if (self->info.tied_embeddings)
        t->output = t->embed;
    s_replicate (loader, t->embed.data, s_matrix_bytes (&t->embed));
    s_replicate (loader, t->output_norm, t->dim * sizeof (float));
    if (!self->info.tied_embeddings)
        s_replicate (loader, t->output.data, s_matrix_bytes (&t->output));
    t->layers = calloc (t->n_layers, sizeof (xinf_layer_t));
    if (!t->layers)
        s_fail (loader, "out of memory");
    for (size_t index = 0; index < t->n_layers && !loader->failed; index++)
        s_load_layer (loader, index, &t->layers [index]);
    char reason [256];
    if (!loader->failed && loader->n_experts
    &&  xinf_experts_load (self->gguf, t, loader->n_experts, loader->n_used, loader->expert_ffn, true, self->slices,
                           &self->experts, reason, sizeof reason))
        s_fail (loader, "%s", reason);
    if (!loader->failed && xinf_transformer_validate (t, reason, sizeof reason))
        s_fail (loader, "%s", reason);
    if (!loader->failed) {
        const char *type = xinf_ggml_type_name (xinf_gguf_find_tensor (self->gguf, "blk.0.attn_q.weight")->type);
        snprintf (self->info.weight_type, sizeof self->info.weight_type, "%s", type ? type : "?");
    }
}

//  Pointers and lengths of a string array (caller frees both); NULL when
//  the key is absent, or on failure (recorded, naming the key).
static const char **
s_strings (s_loader_t *loader, const char *key, size_t *count, size_t **lengths)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_gguf_type_t type;
    uint64_t n;
    *count = 0;
    *lengths = NULL;
    if (!xinf_gguf_has (gguf, key))
        return NULL;
    if (xinf_gguf_get_array (gguf, key, &type, &n) || type != XINF_GGUF_STRING) {
        s_fail (loader, "metadata key '%s' is not an array of strings", key);
        return NULL;
    }
    int64_t index = xinf_gguf_find_key (gguf, key);
    const char **strings = calloc (n ? n : 1, sizeof (char *));
    *lengths = calloc (n ? n : 1, sizeof (size_t));
    if (!strings || !*lengths) {
        s_fail (loader, "out of memory for %llu elements of '%s'", (unsigned long long) n, key);
        free (strings);
        free (*lengths);
        *lengths = NULL;
        return NULL;
    }
    for (uint64_t at = 0; at < n && !loader->failed; at++)
        if (!(strings [at] = xinf_gguf_array_str (gguf, (size_t) index, at, &(*lengths) [at])))
            s_fail (loader, "element %llu of metadata key '%s' cannot be read", (unsigned long long) at, key);
    *count = n;
    return strings;
}

//  A numeric array (floats, or integers that fit int32), NULL when the key
//  is absent, or on failure (recorded, naming the key and the element).
static void *
s_numbers (s_loader_t *loader, const char *key, size_t *count, bool as_float)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_gguf_type_t type;
    uint64_t n;
    *count = 0;
    if (!xinf_gguf_has (gguf, key))
        return NULL;
    if (xinf_gguf_get_array (gguf, key, &type, &n) || type == XINF_GGUF_STRING || type == XINF_GGUF_BOOL) {
        s_fail (loader, "metadata key '%s' is not an array of numbers", key);
        return NULL;
    }
    int64_t index = xinf_gguf_find_key (gguf, key);
    void *values = calloc (n ? n : 1, as_float ? sizeof (float) : sizeof (int32_t));
    if (!values) {
        s_fail (loader, "out of memory for %llu elements of '%s'", (unsigned long long) n, key);
        return NULL;
    }
    for (uint64_t at = 0; at < n && !loader->failed; at++) {
        double real = 0;
        int64_t integer = 0;
        if (as_float && xinf_gguf_array_float (gguf, (size_t) index, at, &real) == 0)
            ((float *) values) [at] = (float) real;
        else
        if (!as_float && xinf_gguf_array_int (gguf, (size_t) index, at, &integer) == 0
        &&  integer >= INT32_MIN && integer <= INT32_MAX)
            ((int32_t *) values) [at] = (int32_t) integer;
        else
            s_fail (loader, "element %llu of metadata key '%s' is not a%s", (unsigned long long) at, key,
                    as_float ? " number" : "n integer of 32 bits");
    }
    *count = n;
    return values;
}

//  An array that must have one element per token (when present).
static void
s_check_per_token (s_loader_t *loader, const char *key, const void *values, size_t count, size_t n_tokens)
{
    if (values && count != n_tokens)
        s_fail (loader, "metadata key '%s' has %zu elements for %zu tokens", key, count, n_tokens);
}

//  A token id key: -1 when absent, negative or not an integer (ignored,
//  as llama.cpp writes -1 for none); a value beyond int64 stays out of
//  range, for the tokenizer to refuse (bos, eos, unk) or note (eot, eom).
static int64_t
s_token_id (s_loader_t *loader, const char *key)
{
    uint64_t value;
    if (!xinf_gguf_has (loader->self->gguf, key) || xinf_gguf_get_uint (loader->self->gguf, key, &value))
        return -1;
    return value > INT64_MAX ? INT64_MAX : (int64_t) value;
}

static void
s_load_tokenizer (s_loader_t *loader)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_tokenizer_spec_t spec = { 0 };
    spec.model = xinf_gguf_get_str (gguf, "tokenizer.ggml.model");
    if (!spec.model) {
        s_fail (loader, "metadata key 'tokenizer.ggml.model' is missing: the file has no tokenizer");
        return;
    }
    spec.pre = xinf_gguf_get_str (gguf, "tokenizer.ggml.pre");
    size_t *token_lengths = NULL, *merge_lengths = NULL;
    const char **tokens = s_strings (loader, "tokenizer.ggml.tokens", &spec.n_tokens, &token_lengths);
    const char **merges = s_strings (loader, "tokenizer.ggml.merges", &spec.n_merges, &merge_lengths);
    float *scores = s_numbers (loader, "tokenizer.ggml.scores", &spec.n_scores, true);
    int32_t *types = s_numbers (loader, "tokenizer.ggml.token_type", &spec.n_token_types, false);
    spec.tokens = tokens;
    spec.token_lengths = token_lengths;
    spec.merges = merges;
    spec.merge_lengths = merge_lengths;
    spec.scores = scores;
    spec.token_types = types;
    spec.bos_id = s_token_id (loader, "tokenizer.ggml.bos_token_id");
    spec.eos_id = s_token_id (loader, "tokenizer.ggml.eos_token_id");
    spec.unk_id = s_token_id (loader, "tokenizer.ggml.unknown_token_id");
    spec.eot_id = s_token_id (loader, "tokenizer.ggml.eot_token_id");
    spec.eom_id = s_token_id (loader, "tokenizer.ggml.eom_token_id");
    bool add_bos = xinf_tokenizer_default_add_bos (spec.model, spec.pre), space_prefix = true;
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_bos_token", &add_bos);
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_space_prefix", &space_prefix);
    bool add_eos = false;
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_eos_token", &add_eos);
    spec.add_bos = add_bos;
    spec.add_eos = add_eos;
    spec.no_space_prefix = !space_prefix;
    char reason [256] = "";
    if (!tokens)
        s_fail (loader, "metadata key 'tokenizer.ggml.tokens' is missing or not an array of strings");
    s_check_per_token (loader, "tokenizer.ggml.scores", scores, spec.n_scores, spec.n_tokens);
    s_check_per_token (loader, "tokenizer.ggml.token_type", types, spec.n_token_types, spec.n_tokens);
    if (loader->failed)
        ;
    else
    if (loader->self->transformer.vocab && spec.n_tokens != loader->self->transformer.vocab)
        s_fail (loader, "the tokenizer has %zu tokens but token_embd.weight has %zu rows",
                spec.n_tokens, loader->self->transformer.vocab);
    else
    if (!(loader->self->tokenizer = xinf_tokenizer_new (&spec, reason, sizeof reason)))
        s_fail (loader, "tokenizer (tokenizer.ggml.*): %s", reason);
    free (tokens);
    free (token_lengths);
    free (merges);
    free (merge_lengths);
    free (scores);
    free (types);
}

//  The file's tensor bytes and parameters (of every tensor, used or not).
static void
s_count (s_loader_t *loader)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    for (size_t index = 0; index < xinf_gguf_tensor_count (gguf); index++) {
        loader->self->info.size_bytes += xinf_gguf_tensor (gguf, index)->size;
        loader->self->info.n_params += xinf_gguf_tensor (gguf, index)->n_elements;
    }
}

//  Reads this shard's bytes of the file once (and makes its copies),
//  reporting progress.
static void
s_warm (s_loader_t *loader, xinf_model_progress_fn *progress, void *arg)
{
    loader->self->info.shard_bytes = xinf_slices_bytes (loader->self->slices);
    char reason [256];
    if (xinf_slices_read (loader->self->slices, progress, arg, reason, sizeof reason) == 0)
        return;
    if (strcmp (reason, "load cancelled") == 0) {     //  not the file's fault: no path
        snprintf (loader->error, loader->error_size, "%s", reason);
        loader->failed = true;
    }
    else
        s_fail (loader, "%s", reason);
}

//  The slices' reader: the file's bytes through the GGUF reader.
static int
s_read_file (void *arg, const void *at, size_t bytes, void *into, char *error, size_t error_size)
{
    xinf_gguf_t *gguf = arg;
    if (xinf_gguf_read (gguf, at, bytes, into) == 0)
        return 0;
    snprintf (error, error_size, "%s", xinf_gguf_error (gguf));
    return -1;
}

xinf_model_t *
xinf_model_load (const char *path, xinf_model_progress_fn *progress, void *arg, char *error, size_t error_size)
{
    return xinf_model_load_shard (path, 0, 1, progress, arg, error, error_size);
}

xinf_model_t *
xinf_model_load_shard (const char *path, int rank, int n_ranks, xinf_model_progress_fn *progress, void *arg,
                       char *error, size_t error_size)
{
    if (n_ranks < 1 || rank < 0 || rank >= n_ranks) {
        if (n_ranks < 1)
            snprintf (error, error_size, "n_ranks must be at least 1 (got %d)", n_ranks);
        else
            snprintf (error, error_size, "rank %d is out of range for %d ranks (0..%d)", rank, n_ranks, n_ranks - 1);
        return NULL;
    }
    xinf_model_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    s_loader_t loader = { self, path, NULL, error, error_size, false, 0, 0, 0 };
    self->info.rank = rank;
    self->info.n_ranks = n_ranks;
    self->gguf = xinf_gguf_open (path, error, error_size);
    self->slices = self->gguf ? xinf_slices_new (s_read_file, self->gguf) : NULL;
    if (!self->gguf)
        loader.failed = true;
    if (!self->slices)
        s_fail (&loader, "out of memory");
    if (!loader.failed)
        s_load_hparams (&loader);
    if (!loader.failed)
        s_plan_shard (&loader, rank, n_ranks);
    if (!loader.failed)
        s_load_tensors (&loader);
    if (!loader.failed)
        s_load_local_layers (&loader);
    if (!loader.failed)
        s_load_tokenizer (&loader);
    if (!loader.failed) {
        s_count (&loader);
        s_warm (&loader, progress, arg);
    }
    if (!loader.failed)
        s_scale_queries (&loader);
    if (loader.failed)
        xinf_model_destroy (&self);
    return self;
}

xinf_tokenizer_t *
xinf_model_load_tokenizer (const char *path, char *error, size_t error_size)
{
    xinf_model_t model = { 0 };
    s_loader_t loader = { &model, path, NULL, error, error_size, false, 0, 0, 0 };
    model.gguf = xinf_gguf_open (path, error, error_size);
    if (!model.gguf)
        return NULL;
    s_load_tokenizer (&loader);
    xinf_gguf_destroy (&model.gguf);
    return model.tokenizer;
}

void
xinf_model_destroy (xinf_model_t **self_p)
{
    if (self_p && *self_p) {
        xinf_model_t *self = *self_p;
        xinf_tokenizer_destroy (&self->tokenizer);
        free (self->transformer.layers);
        free (self->rope_factors);
        free (self->q_norms);
        free (self->experts);
        xinf_slices_destroy (&self->slices);
        xinf_gguf_destroy (&self->gguf);
        free (self);
        *self_p = NULL;
    }
}

void
xinf_model_set_collective (xinf_model_t *self, xinf_collective_t *collective)
{
    self->transformer.collective = collective;
}

void
xinf_model_set_loras (xinf_model_t *self, struct _xinf_lora_t *const *loras, size_t count)
{
    self->transformer.loras = count ? loras : NULL;
    self->transformer.n_loras = count;
}

const xinf_transformer_t *xinf_model_transformer (xinf_model_t *self) { return &self->transformer; }
xinf_tokenizer_t *xinf_model_tokenizer (xinf_model_t *self) { return self->tokenizer; }
const xinf_model_info_t *xinf_model_info (xinf_model_t *self) { return &self->info; }
