/*  xinf_experts: a mixture-of-experts model's keys and tensors.  */
#include "xinf_experts.h"
#include "xinf_check.h"
#include "xinf_model.h"
#include "xinf_shard.h"

#include <stdio.h>
#include <stdlib.h>

int
xinf_experts_check (const char *arch, bool required, size_t count, size_t used, size_t groups, size_t groups_used,
                    size_t width, size_t dim, char *error, size_t error_size)
{
    if (!count)
        return required ? xinf_fail (error, error_size, "metadata key '%s.expert_count' is missing or 0: a %s model "
                                     "has experts", arch, arch) : 0;
    if (!used || used > count)
        return xinf_fail (error, error_size, "metadata key '%s.expert_used_count' is %zu: how many of the %zu experts "
                          "a token goes to (1..%zu)", arch, used, count, count);
    if (groups > 1 && (groups > XINF_MOE_MAX_GROUPS || count % groups || count / groups < 2))
        return xinf_fail (error, error_size, "metadata key '%s.expert_group_count' is %zu: groups of 2 or more of "
                          "the %zu experts (at most %d groups)", arch, groups, count, XINF_MOE_MAX_GROUPS);
    if (groups > 1 && (!groups_used || groups_used >= groups || used > groups_used * (count / groups)))
        return xinf_fail (error, error_size, "metadata key '%s.expert_group_used_count' is %zu: fewer than the %zu "
                          "groups, holding the %zu experts a token uses", arch, groups_used, groups, used);
    if (!width)
        return xinf_fail (error, error_size, "metadata keys '%s.expert_feed_forward_length' and feed_forward_length "
                          "give the experts no width", arch);
    //  A token's gathered rows stay bounded whatever the file says
    if (used * (dim + width) > XINF_EXPERTS_ROW_FLOATS)
        return xinf_fail (error, error_size, "metadata keys '%s.expert_used_count' %zu x (embedding_length %zu + an "
                          "expert's width %zu) exceed %u floats a token", arch, used, dim, width,
                          XINF_EXPERTS_ROW_FLOATS);
    return 0;
}

//  A 3-D tensor of 'count' matrices of rows x cols, cut into 'into'
//  [count] (views of the file's image, not registered yet); -1 with the
//  reason.
static int
s_stack (xinf_gguf_t *gguf, const char *name, size_t count, size_t rows, size_t cols, xinf_matrix_t *into,
         char *error, size_t error_size)
{
    uint64_t ne [3] = { cols, rows, count };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (gguf, name, 3, ne);
    if (!tensor)
        return xinf_fail (error, error_size, "%s", xinf_gguf_error (gguf));
    xinf_dtype_t dtype;
    if (xinf_model_tensor_dtype (tensor, &dtype, error, error_size))
        return -1;
    size_t block = xinf_dtype_block_size (dtype), row_bytes = xinf_dtype_row_bytes (dtype, cols);
    if (block > 1 && cols % block)
        return xinf_fail (error, error_size, "tensor '%s' is %s with %zu columns (not a multiple of %zu)", name,
                          xinf_dtype_name (dtype), cols, block);
    const char *data = tensor->data;
    for (size_t e = 0; e < count; e++)
        into [e] = (xinf_matrix_t) { dtype, data + e * rows * row_bytes, rows, cols };
    return 0;
}

//  An F32 bias 'name' of 'count' rows of 'width' (a vector when count is
//  0: one row) into *bias: the columns
//  first .. first + part - 1 of each row (copied where that is not the
//  whole row), registered in 'slices'. -1 with the reason.
static int
s_bias (xinf_gguf_t *gguf, const char *name, size_t count, size_t width, size_t first, size_t part,
        xinf_slices_t *slices, const float **bias, char *error, size_t error_size)
{
    uint64_t ne [2] = { width, count };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (gguf, name, count ? 2 : 1, ne);
    count = count ? count : 1;
    if (!tensor)
        return xinf_fail (error, error_size, "%s", xinf_gguf_error (gguf));
    if (tensor->type != XINF_GGML_F32)
        return xinf_fail (error, error_size, "tensor '%s' must be F32, it is %s", name,
                          xinf_ggml_type_name (tensor->type));
    if (first == 0 && part == width)
        *bias = xinf_slices_view (slices, tensor->data, count * width * sizeof (float));
    else
        *bias = xinf_slices_copy (slices, tensor->data, count, width * sizeof (float), first * sizeof (float),
                                  part * sizeof (float));
    return *bias ? 0 : xinf_fail (error, error_size, "out of memory for tensor '%s'", name);
}

//  GPT-OSS's biases of layer 'index' (its experts' width cut to first ..
//  first + width - 1 of ffn); the down products' on rank 0 only.
static int
s_biases (xinf_gguf_t *gguf, xinf_transformer_t *t, size_t index, size_t ffn, size_t first, size_t width,
          xinf_slices_t *slices, char *error, size_t error_size)
{
    xinf_moe_t *moe = &t->layers [index].moe;
    size_t count = moe->n_experts;
    char name [96];
    snprintf (name, sizeof name, "blk.%zu.ffn_gate_inp.bias", index);
    if (s_bias (gguf, name, 0, count, 0, count, slices, &moe->router_bias, error, error_size))
        return -1;
    snprintf (name, sizeof name, "blk.%zu.ffn_gate_exps.bias", index);
    if (s_bias (gguf, name, count, ffn, first, width, slices, &moe->gate_bias, error, error_size))
        return -1;
    snprintf (name, sizeof name, "blk.%zu.ffn_up_exps.bias", index);
    if (s_bias (gguf, name, count, ffn, first, width, slices, &moe->up_bias, error, error_size))
        return -1;
    snprintf (name, sizeof name, "blk.%zu.ffn_down_exps.bias", index);
    if (t->shard.rank == 0 && s_bias (gguf, name, count, t->dim, 0, t->dim, slices, &moe->down_bias, error, error_size))
        return -1;
    moe->weight_softmax = moe->swiglu_oai = true;
    return 0;
}

//  Layer 'index''s shared expert into matrices [0..2] (gate, up, down),
//  this rank's part of its width, and its router where gated.
static int
s_shared (xinf_gguf_t *gguf, xinf_transformer_t *t, size_t index, const xinf_experts_spec_t *spec,
          xinf_matrix_t *matrices, xinf_slices_t *slices, char *error, size_t error_size)
{
    xinf_moe_t *moe = &t->layers [index].moe;
    static const char *names [3] = { "ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp" };
    char name [96];
    for (int which = 0; which < 3; which++) {
        snprintf (name, sizeof name, "blk.%zu.%s.weight", index, names [which]);
        if (s_stack (gguf, name, 1, which == 2 ? t->dim : spec->shared_ffn, which == 2 ? spec->shared_ffn : t->dim,
                     matrices + which, error, error_size))
            return -1;
    }
    size_t first, width, unit = xinf_dtype_block_size (matrices [2].dtype);
    if (xinf_shard_split (spec->shared_ffn, unit, t->shard.rank, t->shard.n_ranks, "the shared expert's width",
                          &first, &width, error, error_size)
    ||  xinf_shard_experts (slices, matrices, matrices + 1, matrices + 2, 1, first, width, index, error, error_size))
        return -1;
    snprintf (name, sizeof name, "blk.%zu.ffn_gate_inp_shexp.weight", index);
    if (spec->shared_gated && s_bias (gguf, name, 0, t->dim, 0, t->dim, slices, &moe->shared_router, error,
                                      error_size))
        return -1;
    moe->shared_gate = matrices;
    moe->shared_up = matrices + 1;
    moe->shared_down = matrices + 2;
    moe->shared_ffn = width;
    return 0;
}

//  Layer 'index''s router and experts.
static int
s_layer (xinf_gguf_t *gguf, xinf_transformer_t *t, size_t index, const xinf_experts_spec_t *spec,
         xinf_matrix_t *matrices, xinf_slices_t *slices, char *error, size_t error_size)
{
    size_t count = spec->count;
    bool oai = spec->oai;
    xinf_layer_t *layer = &t->layers [index];
    size_t ffn = layer->moe.ffn;
    char name [96];
    snprintf (name, sizeof name, "blk.%zu.ffn_gate_inp.weight", index);
    uint64_t ne [2] = { t->dim, count };
    const xinf_gguf_tensor_t *router = xinf_gguf_expect_tensor (gguf, name, 2, ne);
    if (!router)
        return xinf_fail (error, error_size, "%s", xinf_gguf_error (gguf));
    if (xinf_model_tensor_dtype (router, &layer->router.dtype, error, error_size))
        return -1;
    layer->router = (xinf_matrix_t) { layer->router.dtype,
                                      xinf_slices_view (slices, router->data, count
                                                        * xinf_dtype_row_bytes (layer->router.dtype, t->dim)),
                                      count, t->dim };
    if (!layer->router.data)
        return xinf_fail (error, error_size, "out of memory for tensor '%s'", name);
    static const char *stacks [3] = { "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps" };
    for (int which = 0; which < 3; which++) {
        snprintf (name, sizeof name, "blk.%zu.%s.weight", index, stacks [which]);
        if (s_stack (gguf, name, count, which == 2 ? t->dim : ffn, which == 2 ? ffn : t->dim,
                     matrices + (size_t) which * count, error, error_size))
            return -1;
    }
    //  This rank's part of every expert's width (whole blocks of ffn_down_exps), the router whole
    size_t first, width, unit = xinf_dtype_block_size (matrices [2 * count].dtype);
    if (xinf_shard_split (ffn, unit, t->shard.rank, t->shard.n_ranks, "an expert's width", &first, &width, error,
                          error_size)
    ||  xinf_shard_experts (slices, matrices, matrices + count, matrices + 2 * count, count, first, width, index, error,
                            error_size)
    ||  (oai && s_biases (gguf, t, index, ffn, first, width, slices, error, error_size)))
        return -1;
    snprintf (name, sizeof name, "blk.%zu.exp_probs_b.bias", index);
    if (spec->selection_bias != XINF_UNUSED && xinf_gguf_find_tensor (gguf, name)
    &&  s_bias (gguf, name, 0, count, 0, count, slices, &layer->moe.selection_bias, error, error_size))
        return -1;
    layer->moe.ffn = width;
    layer->moe.router = &layer->router;
    layer->moe.gate = matrices;
    layer->moe.up = matrices + count;
    layer->moe.down = matrices + 2 * count;
    return spec->shared_ffn ? s_shared (gguf, t, index, spec, matrices + 3 * count, slices, error, error_size) : 0;
}

//  Whether every layer with experts has the tensors the spec names (the
//  shared expert's, GLM-4.5's selection bias where it has them); -1
//  naming the first one missing.
static int
s_check_present (xinf_gguf_t *gguf, const xinf_transformer_t *t, const xinf_experts_spec_t *spec, char *error,
                 size_t error_size)
{
    const char *wanted [9] = { "ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight",
                               "ffn_down_exps.weight" };
    size_t count = 4;
    if (spec->shared_ffn) {
        wanted [count++] = "ffn_gate_shexp.weight";
        wanted [count++] = "ffn_up_shexp.weight";
        wanted [count++] = "ffn_down_shexp.weight";
        if (spec->shared_gated)
            wanted [count++] = "ffn_gate_inp_shexp.weight";
    }
    if (spec->selection_bias == XINF_REQUIRED)
        wanted [count++] = "exp_probs_b.bias";
    for (size_t index = spec->dense_lead; index < t->n_layers; index++)
        for (size_t which = 0; which < count; which++) {
            char name [96];
            snprintf (name, sizeof name, "blk.%zu.%s", index, wanted [which]);
            if (!xinf_gguf_find_tensor (gguf, name))
                return xinf_fail (error, error_size, "tensor '%s' is missing (a mixture of %zu experts%s)", name,
                                  spec->count, spec->shared_ffn ? " and a shared one" : "");
        }
    return 0;
}

int
xinf_experts_load (xinf_gguf_t *gguf, xinf_transformer_t *t, const xinf_experts_spec_t *spec, xinf_slices_t *slices,
                   xinf_matrix_t **owned, char *error, size_t error_size)
{
    //  Every layer's tensors are there before their views take memory
    if (s_check_present (gguf, t, spec, error, error_size))
        return -1;
    size_t per_layer = 3 * spec->count + 3;
    *owned = calloc (t->n_layers * per_layer, sizeof (xinf_matrix_t));
    if (!*owned)
        return xinf_fail (error, error_size, "out of memory for the experts of %zu layers", t->n_layers);
    for (size_t index = spec->dense_lead; index < t->n_layers; index++) {
        t->layers [index].moe = (xinf_moe_t) { .n_experts = spec->count, .k = spec->used, .ffn = spec->ffn,
                                                .dim = t->dim, .normalize = spec->normalize,
                                                .sigmoid = spec->sigmoid, .weight_scale = spec->weight_scale,
                                                .groups = spec->groups, .groups_used = spec->groups_used };
        if (s_layer (gguf, t, index, spec, *owned + index * per_layer, slices, error, error_size))
            return -1;
    }
    return 0;
}
