/*  xinf_model: GGUF file -> transformer views (of one shard) + tokenizer.  */
#include "xinf_model.h"
#include "xinf_gguf.h"
#include "xinf_shard.h"
#include "xinf_slices.h"

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
};

typedef struct {
    xinf_model_t *self;
    char *error;
    size_t error_size;
    bool failed;
} s_loader_t;

static void
s_fail (s_loader_t *loader, const char *format, ...)
{
    if (loader->failed)
        return;
    loader->failed = true;
    va_list args;
    va_start (args, format);
    vsnprintf (loader->error, loader->error_size, format, args);
    va_end (args);
}

static uint64_t
s_hparam (s_loader_t *loader, const char *key_suffix, bool required, uint64_t fallback)
{
    char key [128];
    snprintf (key, sizeof key, "%s.%s", loader->self->info.arch, key_suffix);
    uint64_t value = fallback;
    if (xinf_gguf_has (loader->self->gguf, key)) {
        if (xinf_gguf_get_uint (loader->self->gguf, key, &value))
            s_fail (loader, "%s", xinf_gguf_error (loader->self->gguf));
    }
    else
    if (required)
        s_fail (loader, "metadata key '%s' is missing", key);
    return value;
}

static double
s_hparam_float (s_loader_t *loader, const char *key_suffix, double fallback)
{
    char key [128];
    snprintf (key, sizeof key, "%s.%s", loader->self->info.arch, key_suffix);
    double value = fallback;
    if (xinf_gguf_has (loader->self->gguf, key) && xinf_gguf_get_float (loader->self->gguf, key, &value))
        s_fail (loader, "%s", xinf_gguf_error (loader->self->gguf));
    return value;
}

static bool
s_dtype (uint32_t ggml_type, xinf_dtype_t *dtype)
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
        default:             return false;
    }
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
    if (!s_dtype (tensor->type, &matrix.dtype)) {
        const char *type = xinf_ggml_type_name (tensor->type);
        s_fail (loader, "tensor '%s' has weight type %s, which xinf does not compute with (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
                name, type ? type : "unknown");
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

//  Loads the layer's tensors with the whole model's shapes, then cuts them
//  down to the shard.
static void
s_load_layer (s_loader_t *loader, size_t index, xinf_layer_t *layer)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    size_t kv_dim = t->n_kv_heads * t->head_dim;
    bool qwen2 = strcmp (loader->self->info.arch, "qwen2") == 0;
    char name [96];
#define TENSOR(suffix) (snprintf (name, sizeof name, "blk.%zu.%s", index, suffix), name)
    layer->attn_norm = s_vector (loader, TENSOR ("attn_norm.weight"), t->dim, false);
    layer->q = s_matrix (loader, TENSOR ("attn_q.weight"), t->dim, t->dim, false);
    layer->k = s_matrix (loader, TENSOR ("attn_k.weight"), kv_dim, t->dim, false);
    layer->v = s_matrix (loader, TENSOR ("attn_v.weight"), kv_dim, t->dim, false);
    layer->o = s_matrix (loader, TENSOR ("attn_output.weight"), t->dim, t->dim, false);
    layer->q_bias = s_vector (loader, TENSOR ("attn_q.bias"), t->dim, !qwen2);
    layer->k_bias = s_vector (loader, TENSOR ("attn_k.bias"), kv_dim, !qwen2);
    layer->v_bias = s_vector (loader, TENSOR ("attn_v.bias"), kv_dim, !qwen2);
    layer->ffn_norm = s_vector (loader, TENSOR ("ffn_norm.weight"), t->dim, false);
    layer->gate = s_matrix (loader, TENSOR ("ffn_gate.weight"), t->ffn, t->dim, false);
    layer->up = s_matrix (loader, TENSOR ("ffn_up.weight"), t->ffn, t->dim, false);
    layer->down = s_matrix (loader, TENSOR ("ffn_down.weight"), t->dim, t->ffn, false);
#undef TENSOR
    if (!loader->failed && xinf_shard_layer (t, index, layer, loader->self->slices, loader->error, loader->error_size))
        loader->failed = true;
}

//  32 when some ffn_down is Q8_0 (its split must keep blocks whole), else 1.
static size_t
s_ffn_unit (s_loader_t *loader)
{
    const xinf_transformer_t *t = &loader->self->transformer;
    for (size_t index = 0; index < t->n_layers; index++) {
        char name [96];
        snprintf (name, sizeof name, "blk.%zu.ffn_down.weight", index);
        const xinf_gguf_tensor_t *tensor = xinf_gguf_find_tensor (loader->self->gguf, name);
        if (tensor && tensor->type == XINF_GGML_Q8_0)
            return XINF_Q8_0_BLOCK_SIZE;
    }
    return 1;
}

//  Plans the split of heads and ffn for this rank.
static void
s_plan_shard (s_loader_t *loader, int rank, int n_ranks)
{
    xinf_transformer_t *t = &loader->self->transformer;
    if (xinf_shard_plan (&t->shard, t, (size_t) rank, (size_t) n_ranks, s_ffn_unit (loader),
                         loader->error, loader->error_size))
        loader->failed = true;
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

static void
s_load_hparams (s_loader_t *loader)
{
    xinf_model_t *self = loader->self;
    const char *arch = xinf_gguf_get_str (self->gguf, "general.architecture");
    if (!arch) {
        s_fail (loader, "metadata key 'general.architecture' is missing");
        return;
    }
    if (strcmp (arch, "llama") && strcmp (arch, "qwen2")) {
        s_fail (loader, "architecture '%.64s' is not supported (xinf runs llama and qwen2)", arch);
        return;
    }
    snprintf (self->info.arch, sizeof self->info.arch, "%s", arch);
    const char *name = xinf_gguf_get_str (self->gguf, "general.name");
    snprintf (self->info.name, sizeof self->info.name, "%s", name ? name : "");
    xinf_transformer_t *t = &self->transformer;
    t->dim = s_hparam (loader, "embedding_length", true, 0);
    t->n_layers = s_hparam (loader, "block_count", true, 0);
    t->ffn = s_hparam (loader, "feed_forward_length", true, 0);
    t->n_heads = s_hparam (loader, "attention.head_count", true, 0);
    t->n_kv_heads = s_hparam (loader, "attention.head_count_kv", false, t->n_heads);
    t->context = s_hparam (loader, "context_length", true, 0);
    bool qwen2 = strcmp (arch, "qwen2") == 0;
    t->rms_eps = (float) s_hparam_float (loader, "attention.layer_norm_rms_epsilon", qwen2 ? 1e-6 : 1e-5);
    t->rope_base = (float) s_hparam_float (loader, "rope.freq_base", 10000.0);
    t->rope_neox = qwen2;
    if (loader->failed)
        return;
    if (!t->n_heads || t->dim % t->n_heads || t->n_layers > 4096 || t->dim > (1 << 20) || t->ffn > (1 << 22)
    ||  !t->n_kv_heads || t->n_heads % t->n_kv_heads || t->context > (1 << 24)) {
        s_fail (loader, "implausible hyperparameters: dim %zu, layers %zu, heads %zu, kv heads %zu, ffn %zu, context %zu",
                t->dim, t->n_layers, t->n_heads, t->n_kv_heads, t->ffn, t->context);
        return;
    }
    t->head_dim = s_hparam (loader, "attention.key_length", false, t->dim / t->n_heads);
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
    t->embed = s_matrix (loader, "token_embd.weight", t->vocab, t->dim, false);
    t->output_norm = s_vector (loader, "output_norm.weight", t->dim, false);
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
    if (!loader->failed && xinf_transformer_validate (t, loader->error, loader->error_size))
        loader->failed = true;
    if (!loader->failed) {
        const char *type = xinf_ggml_type_name (xinf_gguf_find_tensor (self->gguf, "blk.0.attn_q.weight")->type);
        snprintf (self->info.weight_type, sizeof self->info.weight_type, "%s", type ? type : "?");
    }
}

//  Pointers and lengths of a string array (caller frees both).
static const char **
s_strings (s_loader_t *loader, const char *key, size_t *count, size_t **lengths)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_gguf_type_t type;
    uint64_t n;
    *count = 0;
    *lengths = NULL;
    if (xinf_gguf_get_array (gguf, key, &type, &n) || type != XINF_GGUF_STRING)
        return NULL;
    int64_t index = xinf_gguf_find_key (gguf, key);
    const char **strings = calloc (n ? n : 1, sizeof (char *));
    *lengths = calloc (n ? n : 1, sizeof (size_t));
    for (uint64_t at = 0; at < n; at++)
        strings [at] = xinf_gguf_array_str (gguf, (size_t) index, at, &(*lengths) [at]);
    *count = n;
    return strings;
}

static void *
s_numbers (s_loader_t *loader, const char *key, size_t *count, bool as_float)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_gguf_type_t type;
    uint64_t n;
    *count = 0;
    if (xinf_gguf_get_array (gguf, key, &type, &n) || type == XINF_GGUF_STRING || type == XINF_GGUF_ARRAY)
        return NULL;
    int64_t index = xinf_gguf_find_key (gguf, key);
    void *values = calloc (n ? n : 1, as_float ? sizeof (float) : sizeof (int32_t));
    for (uint64_t at = 0; at < n; at++) {
        double real = 0;
        int64_t integer = 0;
        if (as_float && xinf_gguf_array_float (gguf, (size_t) index, at, &real) == 0)
            ((float *) values) [at] = (float) real;
        if (!as_float && xinf_gguf_array_int (gguf, (size_t) index, at, &integer) == 0)
            ((int32_t *) values) [at] = (int32_t) integer;
    }
    *count = n;
    return values;
}

static int64_t
s_token_id (xinf_gguf_t *gguf, const char *key)
{
    uint64_t value;
    return xinf_gguf_has (gguf, key) && xinf_gguf_get_uint (gguf, key, &value) == 0 ? (int64_t) value : -1;
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
    spec.bos_id = s_token_id (gguf, "tokenizer.ggml.bos_token_id");
    spec.eos_id = s_token_id (gguf, "tokenizer.ggml.eos_token_id");
    spec.unk_id = s_token_id (gguf, "tokenizer.ggml.unknown_token_id");
    spec.eot_id = s_token_id (gguf, "tokenizer.ggml.eot_token_id");
    spec.eom_id = s_token_id (gguf, "tokenizer.ggml.eom_token_id");
    bool add_bos = xinf_tokenizer_default_add_bos (spec.model, spec.pre), space_prefix = true;
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_bos_token", &add_bos);
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_space_prefix", &space_prefix);
    spec.add_bos = add_bos;
    spec.no_space_prefix = !space_prefix;
    char reason [256] = "";
    if (!tokens)
        s_fail (loader, "metadata key 'tokenizer.ggml.tokens' is missing or not an array of strings");
    else
    if (loader->self->transformer.vocab && spec.n_tokens != loader->self->transformer.vocab)
        s_fail (loader, "the tokenizer has %zu tokens but token_embd.weight has %zu rows",
                spec.n_tokens, loader->self->transformer.vocab);
    else
    if (!(loader->self->tokenizer = xinf_tokenizer_new (&spec, reason, sizeof reason)))
        s_fail (loader, "tokenizer: %s", reason);
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
    if (xinf_slices_read (loader->self->slices, progress, arg))
        s_fail (loader, "load cancelled");
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
    s_loader_t loader = { self, error, error_size, false };
    self->info.rank = rank;
    self->info.n_ranks = n_ranks;
    self->slices = xinf_slices_new ();
    self->gguf = self->slices ? xinf_gguf_open (path, error, error_size) : NULL;
    if (!self->slices)
        s_fail (&loader, "out of memory");
    if (!self->gguf)
        loader.failed = true;
    if (!loader.failed)
        s_load_hparams (&loader);
    if (!loader.failed)
        s_plan_shard (&loader, rank, n_ranks);
    if (!loader.failed)
        s_load_tensors (&loader);
    if (!loader.failed)
        s_load_tokenizer (&loader);
    if (!loader.failed) {
        s_count (&loader);
        s_warm (&loader, progress, arg);
    }
    if (loader.failed)
        xinf_model_destroy (&self);
    return self;
}

xinf_tokenizer_t *
xinf_model_load_tokenizer (const char *path, char *error, size_t error_size)
{
    xinf_model_t model = { 0 };
    s_loader_t loader = { &model, error, error_size, false };
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

const xinf_transformer_t *xinf_model_transformer (xinf_model_t *self) { return &self->transformer; }
xinf_tokenizer_t *xinf_model_tokenizer (xinf_model_t *self) { return self->tokenizer; }
const xinf_model_info_t *xinf_model_info (xinf_model_t *self) { return &self->info; }
