/*  xinf_model_mla: the loader's multi-head latent attention (DeepSeek's,
    xinf_mla.h): its keys, the scale of its scores, and each layer's
    tensors as llama.cpp's converter writes them (attn_k_b and attn_v_b
    apart; older files with attn_kv_b whole are refused, naming it).  */
#include "xinf_model_private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

//  Whether the file has the tensor.
static bool
s_has (xinf_loader_t *loader, const char *name)
{
    return xinf_gguf_find_tensor (loader->self->gguf, name) != NULL;
}

void
xinf_loader_mla (xinf_loader_t *loader, size_t value_length)
{
    xinf_transformer_t *t = &loader->self->transformer;
    xinf_mla_t *m = &t->mla;
    const char *arch = loader->arch->name;
    char key [128];
    snprintf (key, sizeof key, "%s.attention.key_length_mla", arch);
    if (s_has (loader, "blk.0.attn_kv_b.weight") || !xinf_gguf_has (loader->self->gguf, key)) {
        xinf_loader_fail (loader, "tensor 'blk.0.attn_kv_b.weight' or no key '%s': a file converted before llama.cpp "
                          "split attn_kv_b into attn_k_b and attn_v_b; convert it again", key);
        return;
    }
    if (loader->self->info.n_ranks > 1) {
        xinf_loader_fail (loader, "a %s model is served by one worker: its latent attention's one KV head does not "
                          "split over %d ranks", arch, loader->self->info.n_ranks);
        return;
    }
    static const char *const refused [2] = { "attention.temperature_scale", "attention.temperature_length" };
    for (int which = 0; which < 2 && !loader->failed; which++) {
        snprintf (key, sizeof key, "%s.%s", arch, refused [which]);
        if (xinf_gguf_has (loader->self->gguf, key))
            xinf_loader_fail (loader, "metadata key '%s' is set: xinf runs no attention temperature tuning", key);
    }
    snprintf (key, sizeof key, "%s.attention.kv_lora_rank", arch);
    if (!loader->failed && !xinf_gguf_has (loader->self->gguf, key))
        xinf_loader_fail (loader, "metadata key '%s' is missing", key);
    m->kv_rank = xinf_loader_hparam (loader, XINF_HP_KV_RANK, 0);
    m->q_rank = xinf_loader_hparam (loader, XINF_HP_Q_RANK, 0);
    m->rope = xinf_loader_hparam (loader, XINF_HP_ROPE_DIMS, 0);
    size_t head = xinf_loader_hparam (loader, XINF_HP_KEY_LENGTH_MLA, 0);
    m->v_head = xinf_loader_hparam (loader, XINF_HP_VALUE_LENGTH_MLA, 0);
    if (loader->failed)
        return;
    if (!m->rope || m->rope % 2 || head <= m->rope || !m->v_head)
        xinf_loader_fail (loader, "%s.attention.key_length_mla %zu, rope.dimension_count %zu, value_length_mla %zu: "
                          "a head turns an even part of its key and keeps the rest", arch, head, m->rope, m->v_head);
    else
    if (t->n_kv_heads != 1 || t->head_dim != m->kv_rank + m->rope || value_length != m->kv_rank)
        xinf_loader_fail (loader, "%s.attention.head_count_kv %zu, key_length %zu, value_length %zu: latent "
                          "attention of rank %zu wants 1, %zu, %zu", arch, t->n_kv_heads, t->head_dim, value_length,
                          m->kv_rank, m->kv_rank + m->rope, m->kv_rank);
    m->nope = head - m->rope;
}

//  The scale of the scores (llama.cpp's deepseek2 kq_scale), on the
//  queries: mscale^2 / sqrt (nope + rope), the attention's own 1 / sqrt
//  (head_dim) undone; mscale = M (1 + 0.1 L ln factor), L =
//  rope.scaling.yarn_log_multiplier / 0.1 (the converter's 0.1
//  mscale_all_dim taken back). Under YaRN, M is RoPE's magnitude:
//  attn_factor with L (llama.cpp cancels YaRN's 1 + 0.1 ln factor then),
//  else attn_factor (1 + 0.1 ln factor); under linear scaling RoPE's is
//  attn_factor and M attn_factor (1 + 0.1 ln factor), as llama.cpp has it.
void
xinf_loader_mla_scale (xinf_loader_t *loader)
{
    xinf_transformer_t *t = &loader->self->transformer;
    const char *arch = loader->arch->name;
    char key [128];
    snprintf (key, sizeof key, "%s.rope.scaling.type", arch);
    //  No key: as xinf_loader_rope reads it (linear for an arch that scales, as llama.cpp)
    const char *type = xinf_gguf_has (loader->self->gguf, key) ? xinf_gguf_get_str (loader->self->gguf, key)
                     : loader->arch->rope_scaling ? "linear" : "none";
    bool yarn = type && strcmp (type, "yarn") == 0, linear = type && strcmp (type, "linear") == 0;
    if (type && strcmp (type, "none") && !yarn && !linear)
        xinf_loader_fail (loader, "metadata key '%s' is '%.32s': xinf runs none, linear or yarn for %s", key, type,
                          arch);
    double factor = xinf_loader_float (loader, "rope.scaling.factor", 1.0, 0.0, 1024.0);
    double attn_factor = xinf_loader_float (loader, "rope.scaling.attn_factor", 1.0, 1e-3, 1e3);
    double log_mul = xinf_loader_float (loader, "rope.scaling.yarn_log_multiplier", 0.0, 0.0, 100.0) / 0.1;
    if (loader->failed)
        return;
    double ln = (yarn || linear) && factor > 1.0 ? log (factor) : 0.0;
    double magnitude = yarn && log_mul == 0.0 ? attn_factor * (1.0 + 0.1 * ln) : attn_factor;
    t->rope.mscale = (float) magnitude;
    double mscale = (yarn ? magnitude : attn_factor * (1.0 + 0.1 * ln)) * (1.0 + 0.1 * log_mul * ln);
    double kq_scale = mscale * mscale / sqrt ((double) (t->mla.nope + t->mla.rope));
    t->query_scale = (float) (kq_scale * sqrt ((double) t->head_dim));
}

//  A 2-D or 3-D weight as a matrix of rows x cols (a 3-D one's ne
//  { cols, rows / heads, heads }), registered whole.
static xinf_matrix_t
s_weight (xinf_loader_t *loader, const char *name, size_t heads, size_t rows, size_t cols)
{
    xinf_matrix_t matrix = { XINF_DTYPE_F32, NULL, rows, cols };
    if (loader->failed)
        return matrix;
    uint64_t ne [3] = { cols, heads ? rows / heads : rows, heads };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (loader->self->gguf, name, heads ? 3 : 2, ne);
    char reason [512];
    if (!tensor)
        xinf_loader_fail (loader, "%s", xinf_gguf_error (loader->self->gguf));
    else
    if (xinf_model_tensor_dtype (tensor, &matrix.dtype, reason, sizeof reason))
        xinf_loader_fail (loader, "%s", reason);
    else {
        matrix.data = tensor->data;
        xinf_loader_replicate (loader, matrix.data, rows * xinf_dtype_row_bytes (matrix.dtype, cols));
    }
    return matrix;
}

//  A norm's weights, registered.
static const float *
s_norm (xinf_loader_t *loader, const char *name, size_t length)
{
    const float *norm = xinf_loader_vector (loader, name, length, false);
    xinf_loader_replicate (loader, norm, length * sizeof (float));
    return norm;
}

void
xinf_loader_mla_layer (xinf_loader_t *loader, size_t index, xinf_layer_t *layer)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    const xinf_mla_t *m = &t->mla;
    xinf_mla_layer_t *w = &layer->mla;
    size_t heads = t->n_heads, hq = m->nope + m->rope;
    char name [96];
#define S_NAME(suffix) (snprintf (name, sizeof name, "blk.%zu.%s", index, suffix), name)
    if (m->q_rank) {
        w->q_a = s_weight (loader, S_NAME ("attn_q_a.weight"), 0, m->q_rank, t->dim);
        w->q_a_norm = s_norm (loader, S_NAME ("attn_q_a_norm.weight"), m->q_rank);
        w->q_b = s_weight (loader, S_NAME ("attn_q_b.weight"), 0, heads * hq, m->q_rank);
    }
    else
        w->q = s_weight (loader, S_NAME ("attn_q.weight"), 0, heads * hq, t->dim);
    xinf_matrix_t kv_a = s_weight (loader, S_NAME ("attn_kv_a_mqa.weight"), 0, m->kv_rank + m->rope, t->dim);
    w->kv_latent = xinf_matrix_rows (&kv_a, 0, m->kv_rank);
    w->kv_rope = xinf_matrix_rows (&kv_a, m->kv_rank, m->rope);
    w->kv_norm = s_norm (loader, S_NAME ("attn_kv_a_norm.weight"), m->kv_rank);
    w->k_b = s_weight (loader, S_NAME ("attn_k_b.weight"), heads, heads * m->kv_rank, m->nope);
    w->v_b = s_weight (loader, S_NAME ("attn_v_b.weight"), heads, heads * m->v_head, m->kv_rank);
    layer->o = s_weight (loader, S_NAME ("attn_output.weight"), 0, t->dim, heads * m->v_head);
#undef S_NAME
}
