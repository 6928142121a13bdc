/*  xinf_model: GGUF file -> transformer views (of one shard) + tokenizer:
    the hyperparameters, the tensors, the shard's part of them and the
    public functions (RoPE: xinf_model_rope.c; the tokenizer's keys:
    xinf_model_vocab.c).  */
#include "xinf_model_private.h"
#include "xinf_check.h"
#include "xinf_experts.h"
#include "xinf_shard.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
xinf_loader_fail (xinf_loader_t *loader, const char *format, ...)
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

uint64_t
xinf_loader_hparam (xinf_loader_t *loader, xinf_hparam_t which, uint64_t fallback)
{
    const xinf_hparam_spec_t *spec = xinf_arch_hparam (which);
    char key [128];
    snprintf (key, sizeof key, "%s.%s", loader->arch->name, spec->suffix);
    uint64_t value = fallback;
    if (!xinf_gguf_has (loader->self->gguf, key)) {
        if (spec->required)
            xinf_loader_fail (loader, "metadata key '%s' is missing", key);
    }
    else
    if (xinf_gguf_get_uint (loader->self->gguf, key, &value))
        xinf_loader_fail (loader, "metadata key '%s': %s", key, xinf_gguf_error (loader->self->gguf));
    else
    if (value < spec->min || value > spec->max)
        xinf_loader_fail (loader, "metadata key '%s' is %llu, outside %llu..%llu", key, (unsigned long long) value,
                (unsigned long long) spec->min, (unsigned long long) spec->max);
    return loader->failed ? 0 : value;
}

double
xinf_loader_float (xinf_loader_t *loader, const char *key_suffix, double fallback, double min, double max)
{
    char key [128];
    snprintf (key, sizeof key, "%s.%s", loader->arch->name, key_suffix);
    double value = fallback;
    if (!xinf_gguf_has (loader->self->gguf, key))
        return value;
    if (xinf_gguf_get_float (loader->self->gguf, key, &value))
        xinf_loader_fail (loader, "metadata key '%s': %s", key, xinf_gguf_error (loader->self->gguf));
    else
    if (!(value >= min && value <= max))
        xinf_loader_fail (loader, "metadata key '%s' is %g, outside %g..%g", key, value, min, max);
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
        case XINF_GGML_MXFP4: *dtype = XINF_DTYPE_MXFP4; return true;
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
                      "BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4; requantize the "
                      "model to one of these, e.g. llama-quantize --allow-requantize IN OUT Q4_K_M)", tensor->name,
                      type ? type : "unknown");
}

//  A 2-D weight [rows][cols] (ggml ne = {cols, rows}); optional ones may be absent.
static xinf_matrix_t
s_matrix (xinf_loader_t *loader, const char *name, size_t rows, size_t cols, bool optional)
{
    xinf_matrix_t matrix = { XINF_DTYPE_F32, NULL, rows, cols };
    if (loader->failed)
        return matrix;
    if (optional && !xinf_gguf_find_tensor (loader->self->gguf, name))
        return matrix;
    uint64_t ne [2] = { cols, rows };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (loader->self->gguf, name, 2, ne);
    if (!tensor) {
        xinf_loader_fail (loader, "%s", xinf_gguf_error (loader->self->gguf));
        return matrix;
    }
    char reason [512];
    if (xinf_model_tensor_dtype (tensor, &matrix.dtype, reason, sizeof reason)) {
        xinf_loader_fail (loader, "%s", reason);
        return matrix;
    }
    matrix.data = tensor->data;
    return matrix;
}

const float *
xinf_loader_vector (xinf_loader_t *loader, const char *name, size_t length, bool optional)
{
    if (loader->failed || (optional && !xinf_gguf_find_tensor (loader->self->gguf, name)))
        return NULL;
    uint64_t ne [1] = { length };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (loader->self->gguf, name, 1, ne);
    if (!tensor)
        xinf_loader_fail (loader, "%s", xinf_gguf_error (loader->self->gguf));
    else
    if (tensor->type != XINF_GGML_F32)
        xinf_loader_fail (loader, "tensor '%s' must be F32, it is %s", name, xinf_ggml_type_name (tensor->type));
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
        case XINF_EXT_HEADS: return t->n_heads;
        default:            return 0;
    }
}

#define S_FUSED_QKV    1              //  attn_qkv stood for attn_q, attn_k and attn_v
#define S_FUSED_BIASES 2              //  and attn_qkv.bias for their biases

//  Fused tensors (Phi-3's, GLM-4's): attn_qkv, when the file has it, as q,
//  k and v (llama.cpp takes it or the three apart), its bias, when it has
//  one, as theirs; ffn_up as the gate's rows, then the up's. Which of
//  S_FUSED_QKV and S_FUSED_BIASES the layer took.
static int
s_load_fused (xinf_loader_t *loader, size_t index, xinf_layer_t *layer)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    char name [96];
    if (loader->arch->fused_up) {
        snprintf (name, sizeof name, "blk.%zu.ffn_up.weight", index);
        xinf_matrix_t both = s_matrix (loader, name, 2 * t->ffn, t->dim, false);
        layer->gate = xinf_matrix_rows (&both, 0, t->ffn);
        layer->up = xinf_matrix_rows (&both, t->ffn, t->ffn);
    }
    snprintf (name, sizeof name, "blk.%zu.attn_qkv.weight", index);
    if (!loader->arch->fused_qkv || !xinf_gguf_find_tensor (loader->self->gguf, name))
        return 0;
    size_t q_dim = s_extent (t, XINF_EXT_Q), kv_dim = s_extent (t, XINF_EXT_KV);
    xinf_matrix_t qkv = s_matrix (loader, name, q_dim + 2 * kv_dim, t->dim, false);
    layer->q = xinf_matrix_rows (&qkv, 0, q_dim);
    layer->k = xinf_matrix_rows (&qkv, q_dim, kv_dim);
    layer->v = xinf_matrix_rows (&qkv, q_dim + kv_dim, kv_dim);
    snprintf (name, sizeof name, "blk.%zu.attn_qkv.bias", index);
    const float *bias = xinf_loader_vector (loader, name, q_dim + 2 * kv_dim, true);
    if (!bias)
        return S_FUSED_QKV;
    layer->q_bias = bias;
    layer->k_bias = bias + q_dim;
    layer->v_bias = bias + q_dim + kv_dim;
    return S_FUSED_QKV | S_FUSED_BIASES;
}

//  Loads the layer's tensors the architecture has (xinf_arch.h) with the
//  whole model's shapes, then cuts them down to the shard.
static void
s_load_layer (xinf_loader_t *loader, size_t index, xinf_layer_t *layer)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    xinf_matrix_t *matrices [XINF_LT_COUNT] = {
        [XINF_LT_Q] = &layer->q, [XINF_LT_K] = &layer->k, [XINF_LT_V] = &layer->v, [XINF_LT_O] = &layer->o,
        [XINF_LT_GATE] = &layer->gate, [XINF_LT_UP] = &layer->up, [XINF_LT_DOWN] = &layer->down };
    const float **vectors [XINF_LT_COUNT] = {
        [XINF_LT_ATTN_NORM] = &layer->attn_norm, [XINF_LT_FFN_NORM] = &layer->ffn_norm,
        [XINF_LT_POST_ATTN_NORM] = &layer->post_attn_norm, [XINF_LT_POST_FFN_NORM] = &layer->post_ffn_norm,
        [XINF_LT_Q_BIAS] = &layer->q_bias, [XINF_LT_K_BIAS] = &layer->k_bias, [XINF_LT_V_BIAS] = &layer->v_bias,
        [XINF_LT_Q_NORM] = &layer->q_norm, [XINF_LT_K_NORM] = &layer->k_norm, [XINF_LT_O_BIAS] = &layer->o_bias,
        [XINF_LT_SINKS] = &layer->sinks };
    int fused_qkv = s_load_fused (loader, index, layer);
    for (int which = 0; which < XINF_LT_COUNT; which++) {
        xinf_presence_t presence = loader->arch->tensors [which];
        const xinf_tensor_spec_t *spec = xinf_arch_tensor ((xinf_layer_tensor_t) which);
        bool expert_ffn = loader->experts.count && index >= loader->experts.dense_lead
                       && (which == XINF_LT_GATE || which == XINF_LT_UP || which == XINF_LT_DOWN);
        bool fused = ((fused_qkv & S_FUSED_QKV) && (which == XINF_LT_Q || which == XINF_LT_K || which == XINF_LT_V))
                  || ((fused_qkv & S_FUSED_BIASES)
                      && (which == XINF_LT_Q_BIAS || which == XINF_LT_K_BIAS || which == XINF_LT_V_BIAS));
        if (presence == XINF_UNUSED || expert_ffn || fused)
            continue;
        char name [96];
        bool post = which == XINF_LT_FFN_NORM && loader->arch->ffn_norm_post;
        snprintf (name, sizeof name, "blk.%zu.%s", index,
                  post ? xinf_arch_tensor (XINF_LT_POST_ATTN_NORM)->suffix : spec->suffix);
        if (matrices [which])
            *matrices [which] = s_matrix (loader, name, s_extent (t, spec->rows), s_extent (t, spec->cols),
                                          presence == XINF_OPTIONAL);
        else
            *vectors [which] = xinf_loader_vector (loader, name, s_extent (t, spec->rows), presence == XINF_OPTIONAL);
    }
    int biases = !!layer->q_bias + !!layer->k_bias + !!layer->v_bias;
    if (biases == 1 || biases == 2)
        xinf_loader_fail (loader, "blk.%zu: attn_q.bias, attn_k.bias and attn_v.bias must come together", index);
    char reason [256];
    if (!loader->failed && xinf_shard_layer (t, index, layer, loader->self->slices, reason, sizeof reason))
        xinf_loader_fail (loader, "%s", reason);
    if (loader->arch->mla)
        xinf_loader_mla_layer (loader, index, layer);
}

//  32 when some ffn_down is Q8_0 (its split must keep blocks whole), else 1.
static size_t
s_ffn_unit (xinf_loader_t *loader)
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
s_plan_shard (xinf_loader_t *loader, int rank, int n_ranks)
{
    xinf_transformer_t *t = &loader->self->transformer;
    char reason [256];
    if (xinf_shard_plan (&t->shard, t, (size_t) rank, (size_t) n_ranks, s_ffn_unit (loader), reason, sizeof reason))
        xinf_loader_fail (loader, "%s", reason);
}

void
xinf_loader_replicate (xinf_loader_t *loader, const void *data, size_t bytes)
{
    if (!loader->failed && data && !xinf_slices_view (loader->self->slices, data, bytes))
        xinf_loader_fail (loader, "out of memory");
}

static size_t
s_matrix_bytes (const xinf_matrix_t *matrix)
{
    return matrix->rows * xinf_dtype_row_bytes (matrix->dtype, matrix->cols);
}

const char *
xinf_pooling_name (xinf_pooling_t pooling)
{
    static const char *names [] = { "none", "mean", "cls", "last", "rank" };
    return (unsigned) pooling < sizeof names / sizeof names [0] ? names [pooling] : "none";
}

//  <arch>.pooling_type, when the file has it (an embedding model's).
static void
s_load_pooling (xinf_loader_t *loader)
{
    char key [96];
    snprintf (key, sizeof key, "%s.pooling_type", loader->arch->name);
    uint64_t type = 0;
    if (!xinf_gguf_has (loader->self->gguf, key))
        return;
    if (xinf_gguf_get_uint (loader->self->gguf, key, &type) || type > XINF_POOLING_RANK)
        xinf_loader_fail (loader, "metadata key '%s' must be 0 (none), 1 (mean), 2 (cls), 3 (last) or 4 (rank)", key);
    else
        loader->self->info.pooling = (xinf_pooling_t) type;
}

//  Whether layer 'index' is local, as <arch>.attention.sliding_window_pattern
//  says: a number p (layer i is local when i % p < p - 1; 0: all are) or
//  an array of a bool a layer; by default the arch's pattern.
static bool
s_layer_local (xinf_loader_t *loader, const char *key, size_t index)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    uint64_t pattern = loader->arch->swa_pattern, count = 0;
    xinf_gguf_type_t type;
    if (xinf_gguf_has (gguf, key) && xinf_gguf_get_array (gguf, key, &type, &count) == 0) {
        const uint8_t *flags = xinf_gguf_array_data (gguf, (size_t) xinf_gguf_find_key (gguf, key));
        if (type != XINF_GGUF_BOOL || count != loader->self->transformer.n_layers || !flags) {
            xinf_loader_fail (loader, "metadata key '%s' is an array of %llu %s: it must be a number or an array of %zu bools "
                    "(one a layer)", key, (unsigned long long) count, xinf_gguf_type_name (type),
                    loader->self->transformer.n_layers);
            return false;
        }
        return flags [index] != 0;
    }
    if (xinf_gguf_has (gguf, key) && (xinf_gguf_get_uint (gguf, key, &pattern) || pattern > 4096)) {
        xinf_loader_fail (loader, "metadata key '%s' must be a number of layers up to 4096 or an array of bools", key);
        return false;
    }
    return pattern == 0 || index % pattern < pattern - 1;
}

//  Gemma's parts (xinf_arch.h): scaled embeddings, GELU, soft-caps
//  (Gemma 2's; a final logit soft-cap is refused elsewhere), and with a
//  window (<arch>.attention.sliding_window, or the arch's default) its
//  local layers' window and RoPE (base rope.freq_base_swa, unscaled).
static void
s_load_local_layers (xinf_loader_t *loader)
{
    xinf_transformer_t *t = &loader->self->transformer;
    const char *arch = loader->arch->name;
    char key [128];
    t->gelu = loader->arch->gelu;
    t->embed_scale = loader->arch->embed_scaled ? sqrtf ((float) t->dim) : 0.0f;
    t->rope_local = t->rope;
    if (loader->arch->softcaps) {
        t->attn_softcap = (float) xinf_loader_float (loader, "attn_logit_softcapping", 50.0, 1e-3, 1e6);
        t->final_softcap = (float) xinf_loader_float (loader, "final_logit_softcapping", 30.0, 1e-3, 1e6);
    }
    else
    if (loader->arch->swa_pattern && xinf_loader_float (loader, "final_logit_softcapping", 0.0, 0.0, 1e9) != 0.0)
        xinf_loader_fail (loader, "metadata key '%s.final_logit_softcapping' is set: xinf does not soft-cap %s's logits", arch,
                arch);
    size_t window = loader->arch->swa_pattern ? xinf_loader_hparam (loader, XINF_HP_SLIDING_WINDOW, loader->arch->swa_default) : 0;
    if (!window || loader->failed)
        return;
    //  Gemma 3's local layers turn by their own base, unscaled; Gemma 2's
    //  and GPT-OSS's as the global ones (GPT-OSS's YaRN included), whose
    //  scaling was made for the global base
    bool own = loader->arch->swa_rope_base != 0;
    double base = own ? loader->arch->swa_rope_base : t->rope.base;
    float local_base = (float) xinf_loader_float (loader, "rope.freq_base_swa", base, 1.0, 1e12);
    if (own)
        t->rope_local = (xinf_rope_t) { local_base, 1.0f, t->rope.neox, NULL, 1.0f, t->rope.dims };
    else
    if (local_base != t->rope.base && (t->rope.factors || t->rope.scale != 1.0f || t->rope.mscale != 1.0f))
        xinf_loader_fail (loader, "metadata key '%s.rope.freq_base_swa' differs from rope.freq_base with RoPE scaling: "
                          "xinf scales the local layers' RoPE as the global ones'", arch);
    else
        t->rope_local.base = local_base;
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
s_scale_queries (xinf_loader_t *loader)
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
        xinf_loader_fail (loader, "out of memory");
        return;
    }
    for (size_t index = 0; index < t->n_layers; index++) {
        float *scaled = self->q_norms + index * t->head_dim;
        for (size_t i = 0; i < t->head_dim; i++)
            scaled [i] = t->layers [index].q_norm [i] * ratio;
        t->layers [index].q_norm = scaled;
    }
}

//  Granite's multipliers: of the embeddings, of each block's output before
//  its residual add, of the attention scores (a scale of the queries:
//  attention.scale in place of 1 / sqrt (head_dim)), and the logits'
//  divisor (required, as llama.cpp); 0 for the optional ones: none.
static void
s_load_multipliers (xinf_loader_t *loader)
{
    xinf_transformer_t *t = &loader->self->transformer;
    if (!loader->arch->multipliers)
        return;
    char key [128];
    snprintf (key, sizeof key, "%s.logit_scale", loader->arch->name);
    if (!xinf_gguf_has (loader->self->gguf, key)) {
        xinf_loader_fail (loader, "metadata key '%s' is missing", key);
        return;
    }
    t->logit_scale = (float) xinf_loader_float (loader, "logit_scale", 1.0, 1e-6, 1e6);
    t->embed_scale = (float) xinf_loader_float (loader, "embedding_scale", 0.0, 0.0, 1e6);
    t->residual_scale = (float) xinf_loader_float (loader, "residual_scale", 0.0, 0.0, 1e6);
    double attention = xinf_loader_float (loader, "attention.scale", 0.0, 0.0, 1e6);
    if (attention > 0)
        t->query_scale = (float) (attention * sqrt ((double) t->head_dim));
}

//  Keys and tensors of parts xinf does not run, refused by name rather
//  than ignored: multi-token prediction layers counted in block_count
//  (GLM's nextn), multimodal RoPE sections (GLM-4.1V's, Qwen2-VL's: any one
//  nonzero), Granite's layers without RoPE (rope.scaling.finetuned false:
//  llama.cpp skips RoPE then for granite, while granitemoe's layers turn
//  whatever the key says), biases of the attention's output and the
//  feed-forward and the experts (llama.cpp reads them for some archs; xinf
//  for GPT-OSS's only), shared experts (expert_shared_feed_forward_length)
//  of archs without them.
static void
s_refuse_extras (xinf_loader_t *loader)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    char key [128];
    static const char *const biases [] = { ".attn_output.bias", ".ffn_gate.bias", ".ffn_up.bias", ".ffn_down.bias",
                                           ".ffn_gate_inp.bias", "_exps.bias" };
    size_t first = loader->arch->tensors [XINF_LT_O_BIAS] != XINF_UNUSED, last = loader->arch->experts_oai ? 4 : 6;
    for (size_t index = 0; index < xinf_gguf_tensor_count (gguf) && !loader->failed; index++) {
        const char *name = xinf_gguf_tensor (gguf, index)->name;
        for (size_t which = first; which < last; which++)
            if (strlen (name) > strlen (biases [which])
            &&  strcmp (name + strlen (name) - strlen (biases [which]), biases [which]) == 0)
                xinf_loader_fail (loader, "tensor '%s': xinf runs no bias of the attention's output, the "
                                  "feed-forward or the experts for %s", name, loader->arch->name);
    }
    bool finetuned = true;
    snprintf (key, sizeof key, "%s.rope.scaling.finetuned", loader->arch->name);
    if (!loader->failed && strcmp (loader->arch->name, "granite") == 0 && xinf_gguf_has (gguf, key)
    &&  (xinf_gguf_get_bool (gguf, key, &finetuned) || !finetuned))
        xinf_loader_fail (loader, "metadata key '%s' is not true: xinf turns every layer by RoPE", key);
    snprintf (key, sizeof key, "%s.expert_shared_feed_forward_length", loader->arch->name);
    uint64_t shared = 0;
    if (!loader->failed && loader->arch->shared_expert == XINF_UNUSED && xinf_gguf_has (gguf, key)
    &&  (xinf_gguf_get_uint (gguf, key, &shared) || shared))
        xinf_loader_fail (loader, "metadata key '%s' is set: xinf runs no shared experts for %s", key,
                          loader->arch->name);
    snprintf (key, sizeof key, "%s.nextn_predict_layers", loader->arch->name);
    uint64_t layers = 0;
    if (!loader->failed && !loader->arch->nextn_skipped && xinf_gguf_has (gguf, key)
    &&  (xinf_gguf_get_uint (gguf, key, &layers) || layers))
        xinf_loader_fail (loader, "metadata key '%s' is set: xinf serves no multi-token prediction layers", key);
    snprintf (key, sizeof key, "%s.rope.dimension_sections", loader->arch->name);
    int64_t index = xinf_gguf_find_key (gguf, key);
    xinf_gguf_type_t element;
    uint64_t count = 0;
    if (index >= 0 && xinf_gguf_get_array (gguf, key, &element, &count))
        count = 1;                                      //  not an array: refused below
    for (uint64_t at = 0; index >= 0 && at < count && !loader->failed; at++) {
        int64_t section = 1;
        xinf_gguf_array_int (gguf, (size_t) index, at, &section);
        if (section)
            xinf_loader_fail (loader, "metadata key '%s' is set: xinf runs no multimodal (sectioned) RoPE", key);
    }
}

//  Every hyperparameter in its range, and consistent with the others.
static void
s_load_hparams (xinf_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    const char *arch = xinf_gguf_get_str (self->gguf, "general.architecture");
    if (!arch) {
        xinf_loader_fail (loader, "metadata key 'general.architecture' is missing or not a string");
        return;
    }
    if (!(loader->arch = xinf_arch_find (arch))) {
        xinf_loader_fail (loader, "architecture '%.64s' is not supported (xinf runs %s)", arch, xinf_arch_names ());
        return;
    }
    snprintf (self->info.arch, sizeof self->info.arch, "%s", arch);
    const char *name = xinf_gguf_get_str (self->gguf, "general.name");
    //  Sent to peers (LOADED, LIST_MODELS): cut on a character, bad bytes dropped
    xinf_textf (self->info.name, sizeof self->info.name, "%s", name ? name : "");
    xinf_transformer_t *t = &self->transformer;
    t->dim = xinf_loader_hparam (loader, XINF_HP_DIM, 0);
    t->n_layers = xinf_loader_hparam (loader, XINF_HP_LAYERS, 0);
    //  GLM-4.5's multi-token prediction layers, counted in block_count, are not run
    size_t nextn = loader->arch->nextn_skipped ? xinf_loader_hparam (loader, XINF_HP_NEXTN, 0) : 0;
    if (nextn && nextn >= t->n_layers)
        xinf_loader_fail (loader, "metadata key '%s.nextn_predict_layers' is %zu of block_count %zu: no layers left",
                          arch, nextn, t->n_layers);
    else
        t->n_layers -= nextn;
    t->ffn = xinf_loader_hparam (loader, XINF_HP_FFN, 0);
    t->n_heads = xinf_loader_hparam (loader, XINF_HP_HEADS, 0);
    t->n_kv_heads = xinf_loader_hparam (loader, XINF_HP_KV_HEADS, t->n_heads);
    t->context = xinf_loader_hparam (loader, XINF_HP_CONTEXT, 0);
    t->rms_eps = (float) xinf_loader_float (loader, "attention.layer_norm_rms_epsilon", loader->arch->rms_eps, 1e-12, 0.1);
    if (loader->failed)
        return;
    if (t->n_heads % t->n_kv_heads) {
        xinf_loader_fail (loader, "%s.attention.head_count %zu is not a multiple of head_count_kv %zu", arch, t->n_heads,
                t->n_kv_heads);
        return;
    }
    size_t fallback = t->dim % t->n_heads ? 0 : t->dim / t->n_heads;
    t->head_dim = xinf_loader_hparam (loader, XINF_HP_KEY_LENGTH, fallback);
    size_t value_length = xinf_loader_hparam (loader, XINF_HP_VALUE_LENGTH, t->head_dim);
    if (loader->failed)
        return;
    if (t->head_dim < 2 || t->head_dim % 2)
        xinf_loader_fail (loader, "the head dimension is %zu (%s.attention.key_length, or embedding_length %zu / head_count "
                "%zu): it must be even", t->head_dim, arch, t->dim, t->n_heads);
    else
    if (loader->arch->mla)
        xinf_loader_mla (loader, value_length);
    else
    if (value_length != t->head_dim)
        xinf_loader_fail (loader, "%s.attention.value_length %zu differs from the key length %zu: xinf needs them equal",
                arch, value_length, t->head_dim);
    xinf_loader_rope (loader);
    if (loader->arch->mla)
        xinf_loader_mla_scale (loader);
    s_load_pooling (loader);
    xinf_loader_experts (loader);
    s_refuse_extras (loader);
}

static void
s_load_tensors (xinf_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    xinf_transformer_t *t = &self->transformer;
    const xinf_gguf_tensor_t *embed = xinf_gguf_find_tensor (self->gguf, "token_embd.weight");
    if (!embed || embed->n_dims != 2) {
        xinf_loader_fail (loader, "tensor 'token_embd.weight' is missing or not 2-D");
        return;
    }
    t->vocab = embed->ne [1];
    if (t->vocab < 1 || t->vocab > (1u << 24)) {
        xinf_loader_fail (loader, "tensor 'token_embd.weight' has %zu rows: a vocabulary must have 1..16777216 tokens", t->vocab);
        return;
    }
    t->embed = s_matrix (loader, "token_embd.weight", t->vocab, t->dim, false);
    t->output_norm = xinf_loader_vector (loader, "output_norm.weight", t->dim, false);
    if (loader->arch->output_tied && xinf_gguf_find_tensor (self->gguf, "output.weight"))
        xinf_loader_fail (loader, "tensor 'output.weight': a %s model's output is its token embedding (llama.cpp refuses "
                "such a file too)", loader->arch->name);
    t->output = s_matrix (loader, "output.weight", t->vocab, t->dim, true);
    self->info.tied_embeddings = !loader->failed && !t->output.data;
    if (self->info.tied_embeddings)
        t->output = t->embed;
    xinf_loader_replicate (loader, t->embed.data, s_matrix_bytes (&t->embed));
    xinf_loader_replicate (loader, t->output_norm, t->dim * sizeof (float));
    if (!self->info.tied_embeddings)
        xinf_loader_replicate (loader, t->output.data, s_matrix_bytes (&t->output));
    t->layers = calloc (t->n_layers, sizeof (xinf_layer_t));
    if (!t->layers)
        xinf_loader_fail (loader, "out of memory");
    for (size_t index = 0; index < t->n_layers && !loader->failed; index++)
        s_load_layer (loader, index, &t->layers [index]);
    char reason [256];
    if (!loader->failed && loader->experts.count
    &&  xinf_experts_load (self->gguf, t, &loader->experts, self->slices, &self->experts, reason, sizeof reason))
        xinf_loader_fail (loader, "%s", reason);
    if (!loader->failed && xinf_transformer_validate (t, reason, sizeof reason))
        xinf_loader_fail (loader, "%s", reason);
    if (!loader->failed) {
        const xinf_gguf_tensor_t *q = xinf_gguf_find_tensor (self->gguf, "blk.0.attn_q.weight");
        q = q ? q : xinf_gguf_find_tensor (self->gguf, "blk.0.attn_qkv.weight");
        q = q ? q : xinf_gguf_find_tensor (self->gguf, "blk.0.attn_kv_a_mqa.weight");
        const char *type = q ? xinf_ggml_type_name (q->type) : NULL;
        snprintf (self->info.weight_type, sizeof self->info.weight_type, "%s", type ? type : "?");
    }
}

//  The file's tensor bytes and parameters (of every tensor, used or not).
static void
s_count (xinf_loader_t *loader)
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
s_warm (xinf_loader_t *loader, xinf_model_progress_fn *progress, void *arg)
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
        xinf_loader_fail (loader, "%s", reason);
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
    xinf_loader_t loader = { .self = self, .path = path, .error = error, .error_size = error_size };
    self->info.rank = rank;
    self->info.n_ranks = n_ranks;
    self->gguf = xinf_gguf_open (path, error, error_size);
    self->slices = self->gguf ? xinf_slices_new (s_read_file, self->gguf) : NULL;
    if (!self->gguf)
        loader.failed = true;
    if (!self->slices)
        xinf_loader_fail (&loader, "out of memory");
    if (!loader.failed)
        s_load_hparams (&loader);
    if (!loader.failed)
        s_plan_shard (&loader, rank, n_ranks);
    if (!loader.failed)
        s_load_tensors (&loader);
    if (!loader.failed)
        s_load_local_layers (&loader);
    if (!loader.failed)
        s_load_multipliers (&loader);
    if (!loader.failed)
        xinf_loader_tokenizer (&loader);
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
    xinf_loader_t loader = { .self = &model, .path = path, .error = error, .error_size = error_size };
    model.gguf = xinf_gguf_open (path, error, error_size);
    if (!model.gguf)
        return NULL;
    xinf_loader_tokenizer (&loader);
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
