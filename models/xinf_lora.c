/*  xinf_lora: LoRA adapters from GGUF files (see xinf_lora.h).  */
#include "xinf_lora.h"
#include "xinf_arch.h"
#include "xinf_check.h"
#include "xinf_gguf.h"
#include "xinf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _xinf_lora_t {
    xinf_gguf_t *gguf;                //  the file's image: the pairs' weights point into it
    size_t n_layers;
    xinf_lora_pair_t *pairs;          //  [n_layers][XINF_LORA_TARGETS]; a.data NULL: not adapted
    void **copies;                    //  [n_layers][XINF_LORA_TARGETS]: a shard's columns of A, or NULL
    uint8_t *fused;                   //  [n_layers]: S_FUSED_QKV, S_FUSED_UP of lora_a, then of lora_b (<< 2):
                                      //  the fused weight's half is in q's, gate's slot
    size_t rank, count, bytes;
    float alpha;
};

#define S_FUSED_QKV 1
#define S_FUSED_UP  2

//  The fused weight a target's slot may hold (S_FUSED_QKV, S_FUSED_UP), or 0.
static uint8_t
s_group (xinf_lora_target_t target)
{
    return target == XINF_LORA_Q ? S_FUSED_QKV : target == XINF_LORA_GATE ? S_FUSED_UP : 0;
}

static const char *s_target_names [XINF_LORA_TARGETS] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"
};

const char *
xinf_lora_target_name (xinf_lora_target_t target)
{
    return target < XINF_LORA_TARGETS ? s_target_names [target] : "?";
}

//  A target's weight in the whole model (a shard's holds part of it):
//  rows x cols, and the part of it the shard holds: its rows (output) or
//  its columns (input) [first, first + count).
typedef struct {
    size_t rows, cols;
    bool by_columns;
    size_t first, count;
} s_extent_t;

static s_extent_t
s_extent (const xinf_transformer_t *model, xinf_lora_target_t target)
{
    const xinf_shard_t *shard = &model->shard;
    size_t hd = model->head_dim, q = model->n_heads * hd, kv = model->n_kv_heads * hd;
    size_t q_first = shard->head_first * hd, q_count = shard->n_heads * hd;
    size_t kv_first = shard->kv_head_first * hd, kv_count = shard->n_kv_heads * hd;
    switch (target) {
        case XINF_LORA_Q:    return (s_extent_t) { q, model->dim, false, q_first, q_count };
        case XINF_LORA_K:
        case XINF_LORA_V:    return (s_extent_t) { kv, model->dim, false, kv_first, kv_count };
        case XINF_LORA_O:    return (s_extent_t) { model->dim, q, true, q_first, q_count };
        case XINF_LORA_GATE:
        case XINF_LORA_UP:   return (s_extent_t) { model->ffn, model->dim, false, shard->ffn_first, shard->ffn };
        default:             return (s_extent_t) { model->dim, model->ffn, true, shard->ffn_first, shard->ffn };
    }
}

//  Splits "blk.N.TARGET.weight.lora_a" into layer, target and which half
//  (0: a, 1: b); -1 with the reason for any other name (norms: 1, skipped).
//  A fused weight of 'arch' gives the first target it stands for and its
//  S_FUSED_ bit in 'fused'.
static int
s_parse_name (const char *name, const xinf_arch_t *arch, size_t n_layers, size_t *layer, xinf_lora_target_t *target,
              int *half, uint8_t *fused, char *error, size_t error_size)
{
    size_t length = strlen (name);
    if (length > 12 && strcmp (name + length - 12, "_norm.weight") == 0)
        return 1;
    bool is_a = length > 7 && strcmp (name + length - 7, ".lora_a") == 0;
    bool is_b = length > 7 && strcmp (name + length - 7, ".lora_b") == 0;
    if (!is_a && !is_b)
        return xinf_fail (error, error_size, "tensor '%s' is not a LoRA tensor (names end in .lora_a or .lora_b)", name);
    *half = is_b;
    char base [XINF_GGUF_MAX_NAME + 1];
    snprintf (base, sizeof base, "%.*s", (int) (length - 7), name);
    if (strncmp (base, "blk.", 4) != 0)
        return xinf_fail (error, error_size, "tensor '%s': xinf adapts the layers' attention and feed-forward weights "
                          "only, not '%s'", name, base);
    //  Digits only, without leading zeros (llama.cpp matches whole names)
    const char *end = base + 4;
    unsigned long index = 0;
    while (*end >= '0' && *end <= '9' && index < 1000000)
        index = index * 10 + (unsigned long) (*end++ - '0');
    if (end == base + 4 || *end != '.' || index >= n_layers || (base [4] == '0' && end - base > 5))
        return xinf_fail (error, error_size, "tensor '%s': no layer of the model's %zu has that number", name, n_layers);
    *layer = index;
    *fused = 0;
    if (arch && arch->fused_qkv && strcmp (end, ".attn_qkv.weight") == 0) {
        *target = XINF_LORA_Q;
        *fused = S_FUSED_QKV;
        return 0;
    }
    if (arch && arch->fused_up && strcmp (end, ".ffn_up.weight") == 0) {
        *target = XINF_LORA_GATE;
        *fused = S_FUSED_UP;
        return 0;
    }
    for (int t = 0; t < XINF_LORA_TARGETS; t++) {
        char expected [64];
        snprintf (expected, sizeof expected, ".%s.weight", s_target_names [t]);
        if (strcmp (end, expected) == 0) {
            *target = (xinf_lora_target_t) t;
            return 0;
        }
    }
    return xinf_fail (error, error_size, "tensor '%s': xinf adapts attn_q, attn_k, attn_v, attn_output, ffn_gate, "
                      "ffn_up and ffn_down only", name);
}

//  A half of a pair as a matrix, its type one xinf computes with.
static int
s_half (const xinf_gguf_tensor_t *tensor, xinf_matrix_t *matrix, char *error, size_t error_size)
{
    if (tensor->n_dims != 2)
        return xinf_fail (error, error_size, "tensor '%s' has %u dimensions, not 2", tensor->name, tensor->n_dims);
    if (xinf_model_tensor_dtype (tensor, &matrix->dtype, error, error_size))
        return -1;
    matrix->data = tensor->data;
    matrix->cols = tensor->ne [0];
    matrix->rows = tensor->ne [1];
    size_t block = xinf_dtype_block_size (matrix->dtype);
    if (block > 1 && matrix->cols % block)
        return xinf_fail (error, error_size, "tensor '%s' is %s with %zu columns, not a multiple of its blocks' %zu",
                          tensor->name, xinf_dtype_name (matrix->dtype), matrix->cols, block);
    return 0;
}

//  A pair fits its weight (of the whole model): A is rank x W's columns,
//  B W's rows x rank.
static int
s_check_pair (const xinf_lora_pair_t *pair, const s_extent_t *weight, const char *name,
              char *error, size_t error_size)
{
    size_t rank = pair->a.rows;
    if (rank < 1 || rank > XINF_LORA_MAX_RANK)
        return xinf_fail (error, error_size, "%s.lora_a has rank %zu, outside 1..%d", name, rank, XINF_LORA_MAX_RANK);
    if (pair->a.cols != weight->cols || pair->b.rows != weight->rows || pair->b.cols != rank)
        return xinf_fail (error, error_size, "%s: lora_a is %zux%zu and lora_b %zux%zu (rows x columns), where the "
                          "model's weight (%zux%zu) needs lora_a Rx%zu and lora_b %zuxR: an adapter of another model?",
                          name, pair->a.rows, pair->a.cols, pair->b.rows, pair->b.cols, weight->rows, weight->cols,
                          weight->cols, weight->rows);
    return 0;
}

//  general.type, adapter.type, the architecture and alpha.
static int
s_check_keys (xinf_lora_t *self, const char *arch, char *error, size_t error_size)
{
    const char *type = xinf_gguf_get_str (self->gguf, "general.type");
    if (!type || strcmp (type, "adapter") != 0)
        return xinf_fail (error, error_size, "general.type is '%s', not 'adapter': not an adapter file",
                          type ? type : "(absent)");
    const char *kind = xinf_gguf_get_str (self->gguf, "adapter.type");
    if (!kind || strcmp (kind, "lora") != 0)
        return xinf_fail (error, error_size, "adapter.type is '%s', not 'lora'", kind ? kind : "(absent)");
    const char *file_arch = xinf_gguf_get_str (self->gguf, "general.architecture");
    if (!file_arch || strcmp (file_arch, arch) != 0)
        return xinf_fail (error, error_size, "general.architecture is '%s' but the model is %s",
                          file_arch ? file_arch : "(absent)", arch);
    double alpha = 0;
    if (xinf_gguf_has (self->gguf, "adapter.lora.alpha")
    &&  (xinf_gguf_get_float (self->gguf, "adapter.lora.alpha", &alpha) || !(alpha >= 0 && alpha <= 1e6)))
        return xinf_fail (error, error_size, "adapter.lora.alpha must be a number from 0 to 1e6");
    self->alpha = (float) alpha;
    return 0;
}

//  Every tensor into its pair's half; -1 with the reason.
static int
s_take_tensors (xinf_lora_t *self, const xinf_transformer_t *model, const xinf_arch_t *arch, char *error,
                size_t error_size)
{
    for (size_t index = 0; index < xinf_gguf_tensor_count (self->gguf); index++) {
        const xinf_gguf_tensor_t *tensor = xinf_gguf_tensor (self->gguf, index);
        size_t layer = 0;
        xinf_lora_target_t target = XINF_LORA_Q;
        uint8_t fused = 0;
        int half = 0, parsed = s_parse_name (tensor->name, arch, model->n_layers, &layer, &target, &half, &fused,
                                             error, error_size);
        if (parsed < 0)
            return -1;
        if (parsed > 0)
            continue;
        xinf_lora_pair_t *pair = &self->pairs [layer * XINF_LORA_TARGETS + target];
        xinf_matrix_t *matrix = half ? &pair->b : &pair->a;
        bool taken_fused = (self->fused [layer] >> (half * 2)) & s_group (target);
        if (matrix->data && (fused != 0) != taken_fused)
            return xinf_fail (error, error_size, "blk.%zu: %s adapted both as %s and apart", layer,
                              s_target_names [target], target == XINF_LORA_Q ? "attn_qkv" : "ffn_up");
        if (matrix->data)
            return xinf_fail (error, error_size, "tensor '%s' appears twice", tensor->name);
        self->fused [layer] |= (uint8_t) (fused << (half * 2));
        if (s_half (tensor, matrix, error, error_size))
            return -1;
        self->bytes += tensor->size;
    }
    return 0;
}

//  The fused pair in 'first''s slot of 'layer' shared by the 'parts'
//  targets from 'first' on, B's rows cut among them ('rows' each), as the
//  fused weight's rows are. 0, or -1 with the reason.
static int
s_share_pair (xinf_lora_t *self, size_t layer, xinf_lora_target_t first, const size_t *rows, size_t parts,
              const char *fused_name, char *error, size_t error_size)
{
    xinf_lora_pair_t *pairs = &self->pairs [layer * XINF_LORA_TARGETS + first];
    size_t total = 0;
    for (size_t part = 0; part < parts; part++)
        total += rows [part];
    if (!pairs [0].a.data || !pairs [0].b.data)
        return xinf_fail (error, error_size, "blk.%zu.%s.weight has lora_%s without lora_%s", layer, fused_name,
                          pairs [0].a.data ? "a" : "b", pairs [0].a.data ? "b" : "a");
    if (pairs [0].b.rows != total)
        return xinf_fail (error, error_size, "blk.%zu.%s.weight.lora_b has %zu rows where the model's weight has %zu: "
                          "an adapter of another model?", layer, fused_name, pairs [0].b.rows, total);
    for (size_t part = 1; part < parts; part++)
        if (pairs [part].a.data || pairs [part].b.data)
            return xinf_fail (error, error_size, "blk.%zu: %s adapted both as %s and apart", layer,
                              s_target_names [first + part], fused_name);
    xinf_matrix_t b = pairs [0].b;
    size_t row_bytes = xinf_dtype_row_bytes (b.dtype, b.cols), at = 0;
    for (size_t part = 0; part < parts; part++) {
        pairs [part].a = pairs [0].a;
        pairs [part].b = b;
        pairs [part].b.data = (const char *) b.data + at * row_bytes;
        pairs [part].b.rows = rows [part];
        at += rows [part];
    }
    return 0;
}

//  The fused pairs (Phi-3's attn_qkv, ffn_up) shared by their weights.
static int
s_share_fused (xinf_lora_t *self, const xinf_transformer_t *model, char *error, size_t error_size)
{
    size_t q = model->n_heads * model->head_dim, kv = model->n_kv_heads * model->head_dim;
    for (size_t layer = 0; layer < model->n_layers; layer++) {
        uint8_t of_a = self->fused [layer] & 3, of_b = (self->fused [layer] >> 2) & 3;
        for (xinf_lora_target_t first = XINF_LORA_Q; first <= XINF_LORA_GATE; first += XINF_LORA_GATE) {
            const char *fused = first == XINF_LORA_Q ? "attn_qkv" : "ffn_up";
            const xinf_lora_pair_t *pair = &self->pairs [layer * XINF_LORA_TARGETS + first];
            if (!((of_a | of_b) & s_group (first)))
                continue;
            if (pair->a.data && pair->b.data && (of_a & s_group (first)) != (of_b & s_group (first)))
                return xinf_fail (error, error_size, "blk.%zu: one of lora_a and lora_b is %s's, the other %s's",
                                  layer, fused, s_target_names [first]);
            size_t rows [3] = { first == XINF_LORA_Q ? q : model->ffn, first == XINF_LORA_Q ? kv : model->ffn, kv };
            if (s_share_pair (self, layer, first, rows, first == XINF_LORA_Q ? 3 : 2, fused, error, error_size))
                return -1;
        }
    }
    return 0;
}

//  Each pair whole and fitting its weight, its scale set.
static int
s_check_pairs (xinf_lora_t *self, const xinf_transformer_t *model, char *error, size_t error_size)
{
    for (size_t layer = 0; layer < model->n_layers; layer++)
        for (int t = 0; t < XINF_LORA_TARGETS; t++) {
            xinf_lora_pair_t *pair = &self->pairs [layer * XINF_LORA_TARGETS + t];
            if (!pair->a.data && !pair->b.data)
                continue;
            char name [64];
            //  A part of a fused pair is named by the fused weight
            uint8_t group = t <= XINF_LORA_V ? S_FUSED_QKV : t == XINF_LORA_GATE || t == XINF_LORA_UP ? S_FUSED_UP : 0;
            bool part = self->fused [layer] & group;
            snprintf (name, sizeof name, "blk.%zu.%s.weight", layer,
                      part ? (group == S_FUSED_QKV ? "attn_qkv" : "ffn_up") : s_target_names [t]);
            if (!pair->a.data || !pair->b.data)
                return xinf_fail (error, error_size, "%s has lora_%s without lora_%s", name, pair->a.data ? "a" : "b",
                                  pair->a.data ? "b" : "a");
            bool feed_forward = t == XINF_LORA_GATE || t == XINF_LORA_UP || t == XINF_LORA_DOWN;
            if (feed_forward && model->layers [layer].moe.n_experts)
                return xinf_fail (error, error_size, "%s: layer %zu is a mixture of experts, which has no such "
                                  "weight (adapters of experts are not served)", name, layer);
            if (t <= XINF_LORA_O && model->mla.kv_rank)
                return xinf_fail (error, error_size, "%s: layer %zu's attention is latent (DeepSeek's), for which "
                                  "adapters are not served", name, layer);
            s_extent_t extent = s_extent (model, (xinf_lora_target_t) t);
            if (s_check_pair (pair, &extent, name, error, error_size))
                return -1;
            pair->scale = self->alpha > 0 ? self->alpha / (float) pair->a.rows : 1.0f;
            if (pair->a.rows > self->rank)
                self->rank = pair->a.rows;
            self->count++;
        }
    if (!self->count)
        return xinf_fail (error, error_size, "the adapter has no lora_a/lora_b pairs");
    return 0;
}

//  A pair's B transposed into memory of its own: 16-bit types element for
//  element, any other as F32 of its values. -1 when out of memory.
static int
s_transpose (xinf_lora_pair_t *pair)
{
    const xinf_matrix_t *b = &pair->b;
    size_t rank = b->cols, out = b->rows;
    bool half = b->dtype == XINF_DTYPE_F16 || b->dtype == XINF_DTYPE_BF16;
    void *data = malloc (rank * out * (half ? 2 : 4));
    float *row = malloc (rank * sizeof (float));
    if (!data || !row) {
        free (data);
        free (row);
        return -1;
    }
    size_t row_bytes = xinf_dtype_row_bytes (b->dtype, rank);
    for (size_t j = 0; j < out; j++) {
        const uint8_t *from = (const uint8_t *) b->data + j * row_bytes;
        if (half)
            for (size_t r = 0; r < rank; r++)
                memcpy ((uint8_t *) data + (r * out + j) * 2, from + r * 2, 2);
        else {
            xinf_dtype_to_f32 (b->dtype, from, rank, row);
            for (size_t r = 0; r < rank; r++)
                ((float *) data) [r * out + j] = row [r];
        }
    }
    free (row);
    pair->bt = (xinf_matrix_t) { half ? b->dtype : XINF_DTYPE_F32, data, rank, out };
    return 0;
}

//  A pair cut down to the shard's part of its weight: B's rows of the
//  shard's output rows (a view), or A's columns of its input columns (a
//  copy, whole blocks only). 0, or -1 with the reason.
static int
s_cut (xinf_lora_t *self, const xinf_transformer_t *model, size_t layer, xinf_lora_target_t target,
       char *error, size_t error_size)
{
    xinf_lora_pair_t *pair = &self->pairs [layer * XINF_LORA_TARGETS + target];
    s_extent_t extent = s_extent (model, target);
    if (!pair->a.data || (extent.first == 0 && extent.count == (extent.by_columns ? extent.cols : extent.rows)))
        return 0;
    if (!extent.by_columns) {
        pair->b.data = (const char *) pair->b.data + extent.first * xinf_dtype_row_bytes (pair->b.dtype, pair->b.cols);
        pair->b.rows = extent.count;
        return 0;
    }
    size_t block = xinf_dtype_block_size (pair->a.dtype);
    if (extent.first % block || extent.count % block)
        return xinf_fail (error, error_size, "blk.%zu.%s.weight.lora_a is %s: its columns %zu..%zu (rank %zu of %zu) "
                          "are not whole blocks of %zu; an F16 or F32 adapter splits anywhere", layer,
                          s_target_names [target], xinf_dtype_name (pair->a.dtype), extent.first,
                          extent.first + extent.count, model->shard.rank, model->shard.n_ranks, block);
    size_t row_bytes = xinf_dtype_row_bytes (pair->a.dtype, pair->a.cols);
    size_t part = xinf_dtype_row_bytes (pair->a.dtype, extent.count), skip = xinf_dtype_row_bytes (pair->a.dtype, extent.first);
    uint8_t *copy = malloc (pair->a.rows * part);
    if (!copy)
        return xinf_fail (error, error_size, "out of memory for the adapter's weights");
    for (size_t r = 0; r < pair->a.rows; r++)
        memcpy (copy + r * part, (const uint8_t *) pair->a.data + r * row_bytes + skip, part);
    self->copies [layer * XINF_LORA_TARGETS + target] = copy;
    pair->a.data = copy;
    pair->a.cols = extent.count;
    return 0;
}

//  Every pair cut to the shard; 0, or -1 with the reason.
static int
s_cut_all (xinf_lora_t *self, const xinf_transformer_t *model, char *error, size_t error_size)
{
    for (size_t layer = 0; layer < self->n_layers; layer++)
        for (int t = 0; t < XINF_LORA_TARGETS; t++)
            if (s_cut (self, model, layer, (xinf_lora_target_t) t, error, error_size))
                return -1;
    return 0;
}

//  Every pair's transposed B; 0, or -1 with the reason.
static int
s_transpose_all (xinf_lora_t *self, char *error, size_t error_size)
{
    for (size_t index = 0; index < self->n_layers * XINF_LORA_TARGETS; index++) {
        xinf_lora_pair_t *pair = &self->pairs [index];
        if (pair->a.data && s_transpose (pair))
            return xinf_fail (error, error_size, "out of memory for the adapter's weights");
        self->bytes += pair->a.data ? xinf_dtype_row_bytes (pair->bt.dtype, pair->bt.cols) * pair->bt.rows : 0;
    }
    return 0;
}

xinf_lora_t *
xinf_lora_load (const char *path, const xinf_transformer_t *model, const char *arch, char *error, size_t error_size)
{
    char reason [512] = "";
    xinf_lora_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n_layers = model->n_layers;
    self->pairs = calloc (model->n_layers * XINF_LORA_TARGETS, sizeof (xinf_lora_pair_t));
    self->copies = calloc (model->n_layers * XINF_LORA_TARGETS, sizeof (void *));
    self->fused = calloc (model->n_layers, 1);
    self->gguf = xinf_gguf_open (path, error, error_size);
    if (!self->gguf || !self->pairs || !self->copies || !self->fused) {
        if (self->gguf)
            snprintf (error, error_size, "%s: out of memory", path);
        xinf_lora_destroy (&self);
        return NULL;
    }
    if (s_check_keys (self, arch, reason, sizeof reason)
    ||  s_take_tensors (self, model, xinf_arch_find (arch), reason, sizeof reason)
    ||  s_share_fused (self, model, reason, sizeof reason)
    ||  s_check_pairs (self, model, reason, sizeof reason)
    ||  (xinf_gguf_load_tensors (self->gguf) && xinf_fail (reason, sizeof reason, "%s", xinf_gguf_error (self->gguf)))
    ||  s_cut_all (self, model, reason, sizeof reason)
    ||  s_transpose_all (self, reason, sizeof reason)) {
        snprintf (error, error_size, "%s: %s", path, reason);
        xinf_lora_destroy (&self);
    }
    return self;
}

void
xinf_lora_destroy (xinf_lora_t **self_p)
{
    if (self_p && *self_p) {
        xinf_lora_t *self = *self_p;
        for (size_t index = 0; self->pairs && index < self->n_layers * XINF_LORA_TARGETS; index++)
            free ((void *) self->pairs [index].bt.data);
        for (size_t index = 0; self->copies && index < self->n_layers * XINF_LORA_TARGETS; index++)
            free (self->copies [index]);
        free (self->copies);
        free (self->fused);
        xinf_gguf_destroy (&(*self_p)->gguf);
        free ((*self_p)->pairs);
        free (*self_p);
        *self_p = NULL;
    }
}

const xinf_lora_pair_t *
xinf_lora_pair (const xinf_lora_t *self, size_t layer, xinf_lora_target_t target)
{
    if (layer >= self->n_layers || target >= XINF_LORA_TARGETS)
        return NULL;
    const xinf_lora_pair_t *pair = &self->pairs [layer * XINF_LORA_TARGETS + target];
    return pair->a.data ? pair : NULL;
}

size_t xinf_lora_rank (const xinf_lora_t *self) { return self->rank; }
size_t xinf_lora_count (const xinf_lora_t *self) { return self->count; }
float xinf_lora_alpha (const xinf_lora_t *self) { return self->alpha; }
size_t xinf_lora_bytes (const xinf_lora_t *self) { return self->bytes; }
