/*  xinf_make_tensors: the tensors of xinf-make-model's model: the list in
    llama.cpp's order (the architecture's layer tensors, experts, RoPE
    factors, output; deepseek2's latent attention), their values (random by
    seed, or a script's), each converted to its type and written in chunks.
*/
#include "xinf.h"
#include "xinf_arch.h"
#include "xinf_dtype.h"
#include "xinf_fp16.h"
#include "xinf_make_model.h"
#include "xinf_make_vocab.h"

#include <math.h>

typedef enum { S_MATRIX, S_NORM, S_BIAS, S_ROPE_FREQS, S_ROPE_LONG, S_ROPE_SHORT, S_UNIT } s_role_t;

typedef struct {
    char name [64];
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne [3];
    s_role_t role;
} s_tensor_t;

static void
s_add (s_tensor_t *tensors, size_t *count, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1, s_role_t role)
{
    s_tensor_t *tensor = &tensors [(*count)++];
    snprintf (tensor->name, sizeof tensor->name, "%s", name);
    tensor->type = role == S_MATRIX ? type : XINF_GGML_F32;      //  norms, biases, rope_freqs: F32
    tensor->n_dims = ne1 ? 2 : 1;
    tensor->ne [0] = ne0;
    tensor->ne [1] = ne1 ? ne1 : 1;
    tensor->ne [2] = 1;
    tensor->role = role;
}

//  A matrix of 'experts' stacked ne0 x ne1 ones (ggml order: ne0 the row length).
static void
s_add_stack (s_tensor_t *tensors, size_t *count, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1,
             uint64_t stack)
{
    s_add (tensors, count, name, type, ne0, ne1, S_MATRIX);
    tensors [*count - 1].n_dims = 3;
    tensors [*count - 1].ne [2] = stack;
}

//  deepseek2's attention, as convert_hf_to_gguf.py writes it with the MLA
//  tensors split (in llama.cpp's order of creation): the queries through a
//  normed latent (attn_q_a, attn_q_a_norm, attn_q_b) or attn_q; the keys'
//  and values' latent and the shared RoPE key (attn_kv_a_mqa: kv_lora_rank
//  rows, then qk_rope), its norm; per head the keys' decompression,
//  transposed (attn_k_b, ne {qk_nope, kv_lora_rank, heads}), and the
//  values' (attn_v_b, ne {kv_lora_rank, v_head_dim, heads}); attn_output
//  of heads x v_head_dim columns.
static void
s_add_mla (const xinf_mm_model_t *model, int64_t layer, s_tensor_t *tensors, size_t *count)
{
    const xinf_mm_shape_t *shape = &model->shape;
    uint64_t dim = (uint64_t) shape->dim, heads = (uint64_t) shape->heads, head_dim = (uint64_t) shape->head_dim;
    uint64_t rope = (uint64_t) model->rope_dims, latent = (uint64_t) model->kv_lora_rank;
    uint64_t q_latent = (uint64_t) model->q_lora_rank, v_dim = (uint64_t) model->v_head_dim;
    uint32_t type = model->type;
    char name [64];
    long long at = (long long) layer;
    snprintf (name, sizeof name, "blk.%lld.attn_q_a_norm.weight", at);
    if (q_latent)
        s_add (tensors, count, name, type, q_latent, 0, S_NORM);
    snprintf (name, sizeof name, "blk.%lld.attn_kv_a_norm.weight", at);
    s_add (tensors, count, name, type, latent, 0, S_NORM);
    if (q_latent) {
        snprintf (name, sizeof name, "blk.%lld.attn_q_a.weight", at);
        s_add (tensors, count, name, type, dim, q_latent, S_MATRIX);
        snprintf (name, sizeof name, "blk.%lld.attn_q_b.weight", at);
        s_add (tensors, count, name, type, q_latent, heads * head_dim, S_MATRIX);
    }
    else {
        snprintf (name, sizeof name, "blk.%lld.attn_q.weight", at);
        s_add (tensors, count, name, type, dim, heads * head_dim, S_MATRIX);
    }
    snprintf (name, sizeof name, "blk.%lld.attn_kv_a_mqa.weight", at);
    s_add (tensors, count, name, type, dim, latent + rope, S_MATRIX);
    snprintf (name, sizeof name, "blk.%lld.attn_k_b.weight", at);
    s_add_stack (tensors, count, name, type, head_dim - rope, latent, heads);
    snprintf (name, sizeof name, "blk.%lld.attn_v_b.weight", at);
    s_add_stack (tensors, count, name, type, latent, v_dim, heads);
    snprintf (name, sizeof name, "blk.%lld.attn_output.weight", at);
    s_add (tensors, count, name, type, heads * v_dim, dim, S_MATRIX);
}

//  A layer's shared expert (of the dense type): Qwen2-MoE's router vector
//  (F32), the gate, up and down matrices.
static void
s_add_shared (const xinf_mm_model_t *model, int64_t layer, s_tensor_t *tensors, size_t *count)
{
    const xinf_arch_t *arch = xinf_arch_find (model->shape.arch);
    uint64_t dim = (uint64_t) model->shape.dim;
    uint64_t ffn = (uint64_t) (arch->experts_sigmoid ? model->shared_experts * model->shape.expert_ffn
                             : model->shared_ffn ? model->shared_ffn : model->shape.ffn);
    char name [64];
    snprintf (name, sizeof name, "blk.%lld.ffn_gate_inp_shexp.weight", (long long) layer);
    if (arch->shared_gated)
        s_add (tensors, count, name, XINF_GGML_F32, dim, 0, S_BIAS);
    static const char *names [3] = { "ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp" };
    for (int which = 0; which < 3; which++) {
        snprintf (name, sizeof name, "blk.%lld.%s.weight", (long long) layer, names [which]);
        s_add (tensors, count, name, model->type, which == 2 ? ffn : dim, which == 2 ? dim : ffn, S_MATRIX);
    }
}

//  A layer's experts: the router (F32, as converters keep it) and the
//  three stacks of matrices (experts x rows x cols, ggml order reversed);
//  GPT-OSS's biases of each (experts_oai), F32; the shared expert.
static void
s_add_experts (const xinf_mm_model_t *model, int64_t layer, s_tensor_t *tensors, size_t *count)
{
    const xinf_mm_shape_t *shape = &model->shape;
    uint32_t type = model->expert_type;
    char name [64];
    uint64_t dim = (uint64_t) shape->dim, ffn = (uint64_t) shape->expert_ffn, experts = (uint64_t) shape->experts;
    bool biases = xinf_arch_find (shape->arch)->experts_oai;
    snprintf (name, sizeof name, "blk.%lld.ffn_gate_inp.weight", (long long) layer);
    s_add (tensors, count, name, XINF_GGML_F32, dim, experts, S_MATRIX);
    snprintf (name, sizeof name, "blk.%lld.ffn_gate_inp.bias", (long long) layer);
    if (biases)
        s_add (tensors, count, name, XINF_GGML_F32, experts, 0, S_BIAS);
    snprintf (name, sizeof name, "blk.%lld.exp_probs_b.bias", (long long) layer);
    const xinf_arch_t *arch = xinf_arch_find (shape->arch);
    //  of the sigmoids' size: it overturns choices (deepseek2: optional, --expert-bias)
    if (arch->experts_sigmoid && (!arch->gating_keyed || model->expert_bias))
        s_add (tensors, count, name, XINF_GGML_F32, experts, 0, S_UNIT);
    static const char *stacks [3] = { "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps" };
    for (int which = 0; which < 3; which++) {
        snprintf (name, sizeof name, "blk.%lld.%s.weight", (long long) layer, stacks [which]);
        s_add_stack (tensors, count, name, type, which == 2 ? ffn : dim, which == 2 ? dim : ffn, experts);
        snprintf (name, sizeof name, "blk.%lld.%s.bias", (long long) layer, stacks [which]);
        if (biases)
            s_add (tensors, count, name, XINF_GGML_F32, which == 2 ? dim : ffn, experts, S_BIAS);
    }
    if (model->shared_ffn || arch->shared_expert == XINF_REQUIRED || (arch->experts_sigmoid && model->shared_experts))
        s_add_shared (model, layer, tensors, count);
}

//  The llama.cpp tensor list in file order; returns how many.
static size_t
s_plan (xinf_mm_model_t *model, s_tensor_t *tensors)
{
    xinf_mm_shape_t *shape = &model->shape;
    uint64_t dim = (uint64_t) shape->dim, ffn = (uint64_t) shape->ffn, vocab = (uint64_t) shape->vocab;
    uint64_t head_dim = (uint64_t) shape->head_dim;
    uint64_t turned = model->rope_dims ? (uint64_t) model->rope_dims : head_dim;       //  RoPE's dimensions
    uint64_t q_dim = head_dim * (uint64_t) shape->heads, kv_dim = head_dim * (uint64_t) shape->kv_heads;
    const xinf_arch_t *arch = xinf_arch_find (shape->arch);
    uint64_t extents [] = { [XINF_EXT_NONE] = 0, [XINF_EXT_DIM] = dim, [XINF_EXT_Q] = q_dim,
                            [XINF_EXT_KV] = kv_dim, [XINF_EXT_FFN] = ffn, [XINF_EXT_HEAD] = head_dim,
                            [XINF_EXT_HEADS] = (uint64_t) shape->heads };
    uint32_t type = model->type;
    size_t count = 0;
    s_add (tensors, &count, "token_embd.weight", type, dim, vocab, S_MATRIX);
    if (streq (shape->rope_scaling, "llama3"))
        s_add (tensors, &count, "rope_freqs.weight", type, turned / 2, 0, S_ROPE_FREQS);
    if (streq (shape->rope_scaling, "longrope")) {
        s_add (tensors, &count, "rope_factors_long.weight", type, turned / 2, 0, S_ROPE_LONG);
        s_add (tensors, &count, "rope_factors_short.weight", type, turned / 2, 0, S_ROPE_SHORT);
    }
    //  The layer's tensors the architecture requires (xinf_arch.h), in its order
    for (int64_t layer = 0; layer < shape->layers; layer++)
        for (int which = 0; which < XINF_LT_COUNT; which++) {
            const xinf_tensor_spec_t *spec = xinf_arch_tensor ((xinf_layer_tensor_t) which);
            bool experts = shape->experts && layer >= (arch->experts_sigmoid ? model->dense_lead : 0);
            if (which == XINF_LT_GATE && experts)
                s_add_experts (model, layer, tensors, &count);
            char name [64];
            bool fused_qkv = arch->fused_qkv && !model->split_qkv;
            bool bias = which == XINF_LT_Q_BIAS || which == XINF_LT_K_BIAS || which == XINF_LT_V_BIAS;
            if (which == XINF_LT_Q && fused_qkv) {          //  Phi-3's: q, k and v rows in one tensor
                snprintf (name, sizeof name, "blk.%lld.attn_qkv.weight", (long long) layer);
                s_add (tensors, &count, name, type, dim, q_dim + 2 * kv_dim, S_MATRIX);
                snprintf (name, sizeof name, "blk.%lld.attn_qkv.bias", (long long) layer);
                if (model->qkv_bias)
                    s_add (tensors, &count, name, type, q_dim + 2 * kv_dim, 0, S_BIAS);
            }
            if (which == XINF_LT_Q && arch->mla)           //  deepseek2's latent attention
                s_add_mla (model, layer, tensors, &count);
            if (which == XINF_LT_UP && arch->fused_up) {    //  and the gate's rows, then the up's
                snprintf (name, sizeof name, "blk.%lld.ffn_up.weight", (long long) layer);
                s_add (tensors, &count, name, type, dim, 2 * ffn, S_MATRIX);
            }
            bool wanted = arch->tensors [which] == XINF_REQUIRED
                       || (bias && model->qkv_bias && arch->tensors [which] == XINF_OPTIONAL);
            if (!wanted
            ||  (fused_qkv && (which == XINF_LT_Q || which == XINF_LT_K || which == XINF_LT_V || bias))
            ||  (experts && (which == XINF_LT_GATE || which == XINF_LT_UP || which == XINF_LT_DOWN)))
                continue;
            bool post = which == XINF_LT_FFN_NORM && arch->ffn_norm_post;       //  GPT-OSS's name
            snprintf (name, sizeof name, "blk.%lld.%s", (long long) layer,
                      post ? xinf_arch_tensor (XINF_LT_POST_ATTN_NORM)->suffix : spec->suffix);
            s_role_t role = spec->cols ? S_MATRIX : which == XINF_LT_SINKS ? S_UNIT
                          : strstr (spec->suffix, "norm") ? S_NORM : S_BIAS;
            //  ggml order: ne0 is the row length
            if (spec->cols)
                s_add (tensors, &count, name, type, extents [spec->cols], extents [spec->rows], role);
            else
                s_add (tensors, &count, name, type, extents [spec->rows], 0, role);
        }
    s_add (tensors, &count, "output_norm.weight", type, dim, 0, S_NORM);
    if (!shape->tied)
        s_add (tensors, &count, "output.weight", type, dim, vocab, S_MATRIX);
    if (model->rerank)
        s_add (tensors, &count, "cls.output.weight", type, dim, 2, S_MATRIX);
    return count;
}

//  Converts 'count' floats to the tensor type into 'out'; returns bytes.
static size_t
s_convert (uint32_t type, const float *values, size_t count, uint8_t *out)
{
    if (type == XINF_GGML_MXFP4) {
        xinf_dtype_from_f32 (XINF_DTYPE_MXFP4, values, count, out);
        return xinf_dtype_row_bytes (XINF_DTYPE_MXFP4, count);
    }
    if (type == XINF_GGML_Q8_0) {
        xinf_quantize_q8_0 (values, count, out);
        return count / XINF_Q8_0_BLOCK * XINF_Q8_0_BYTES;
    }
    if (type == XINF_GGML_F32) {
        for (size_t index = 0; index < count; index++) {
            uint32_t bits;
            memcpy (&bits, &values [index], 4);
            for (int byte = 0; byte < 4; byte++)
                out [4 * index + (size_t) byte] = (uint8_t) (bits >> (8 * byte));
        }
        return 4 * count;
    }
    for (size_t index = 0; index < count; index++) {
        uint16_t half = type == XINF_GGML_F16 ? xinf_fp32_to_fp16 (values [index]) : xinf_fp32_to_bf16 (values [index]);
        out [2 * index] = (uint8_t) half;
        out [2 * index + 1] = (uint8_t) (half >> 8);
    }
    return 2 * count;
}

//  A scripted model's weights: every block is zero (it adds nothing to
//  the residual), norms are 1, token t's embedding is the unit vector of
//  its axis (0 for every token outside the script, 1 + i for script token
//  i), and the output row of the token that follows a script position
//  points along that position's axis, so the argmax walks the script
//  (about 30 logits ahead of every other token) and then ends.
static uint64_t
s_script_axis (const xinf_mm_model_t *model, uint64_t token)
{
    uint64_t first = model->script_first;
    return token >= first && token < first + model->script_count ? 1 + token - first : 0;
}

static float
s_script_value (const xinf_mm_model_t *model, const s_tensor_t *tensor, uint64_t row, uint64_t col)
{
    if (tensor->role == S_NORM)
        return 1.0f;
    if (streq (tensor->name, "token_embd.weight"))
        return col == s_script_axis (model, row) ? 1.0f : 0.0f;
    if (!streq (tensor->name, "output.weight"))
        return 0.0f;
    uint64_t first = model->script_first, count = model->script_count;
    bool next = row >= first && row < first + count;             //  follows axis row - first
    bool end = (int64_t) row == model->script_end;                //  follows the last piece
    return (next && col == row - first) || (end && col == count) ? 4.0f : 0.0f;
}

static int
s_write_tensor (xinf_mm_model_t *model, xinf_gguf_writer_t *writer, const s_tensor_t *tensor, size_t index,
                float *values, uint8_t *bytes, size_t chunk)
{
    xinf_rng_t rng;
    xinf_rng_seed (&rng, model->seed ^ ((uint64_t) (index + 1) * 0xd1b54a32d192ed03ull));
    uint64_t rows_per_chunk = chunk / tensor->ne [0] ? chunk / tensor->ne [0] : 1;
    if (tensor->role == S_ROPE_FREQS) {
        if (xinf_arch_llama3_factors (values, 2 * (size_t) tensor->ne [0], model->shape.theta, model->rope_factor,
                                      1.0, 4.0, (double) model->rope_original_context))
            return -1;
        return xinf_gguf_writer_write (writer, bytes, s_convert (tensor->type, values, (size_t) tensor->ne [0], bytes));
    }
    if (tensor->role == S_ROPE_LONG || tensor->role == S_ROPE_SHORT) {
        //  LongRoPE's shape: 1 for the fast pairs up to the factor (long) or
        //  a fifth of it (short) for the slow ones
        double top = tensor->role == S_ROPE_LONG ? model->rope_factor : 1.0 + (model->rope_factor - 1.0) / 5.0;
        size_t half = (size_t) tensor->ne [0];
        for (size_t i = 0; i < half; i++)
            values [i] = (float) (1.0 + (top - 1.0) * (double) i / (double) (half > 1 ? half - 1 : 1));
        return xinf_gguf_writer_write (writer, bytes, s_convert (tensor->type, values, half, bytes));
    }
    uint64_t total = tensor->ne [1] * tensor->ne [2];          //  the rows of every expert's matrix one after another
    for (uint64_t row = 0; row < total; row += rows_per_chunk) {
        uint64_t rows = total - row < rows_per_chunk ? total - row : rows_per_chunk;
        size_t count = (size_t) (rows * tensor->ne [0]);
        for (size_t at = 0; at < count; at++)
            values [at] = model->script ? s_script_value (model, tensor, row + at / tensor->ne [0], at % tensor->ne [0])
                        : tensor->role == S_UNIT ? (float) xinf_rng_normal (&rng)       //  a sink, a selection bias
                        : (tensor->role == S_NORM ? 1.0f : 0.0f) + model->std * xinf_rng_normal (&rng);
        if (xinf_gguf_writer_write (writer, bytes, s_convert (tensor->type, values, count, bytes)))
            return -1;
    }
    return 0;
}

int
xinf_mm_write_tensors (xinf_mm_model_t *model, xinf_gguf_writer_t *writer)
{
    xinf_mm_shape_t *shape = &model->shape;
    size_t limit = (size_t) shape->layers * 24 + 8;
    s_tensor_t *tensors = calloc (limit, sizeof (s_tensor_t));
    size_t count = tensors ? s_plan (model, tensors) : 0;
    size_t chunk = 1 << 16;
    for (size_t index = 0; index < count; index++)
        if (tensors [index].ne [0] > chunk)
            chunk = (size_t) tensors [index].ne [0];
    float *values = malloc (chunk * sizeof (float));
    uint8_t *bytes = malloc (chunk * 4);
    int rc = tensors && values && bytes ? 0 : -1;
    for (size_t index = 0; rc == 0 && index < count; index++)
        rc = xinf_gguf_writer_add_tensor (writer, tensors [index].name, tensors [index].type,
                                          tensors [index].n_dims, tensors [index].ne);
    rc = rc || xinf_gguf_writer_begin (writer, model->output);
    for (size_t index = 0; rc == 0 && index < count; index++)
        rc = s_write_tensor (model, writer, &tensors [index], index, values, bytes, chunk);
    rc = rc || xinf_gguf_writer_finish (writer);
    free (tensors);
    free (values);
    free (bytes);
    return rc;
}
