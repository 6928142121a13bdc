/*  test_model_keys: the architecture keys of Gemma 3 (the sliding window,
    its pattern as a number or bools, the local RoPE base, a logit soft-cap
    refused), Gemma 2 (soft-caps, windows, the 27B's query scale), RoPE
    scaling (linear, YaRN, the attention factor; refused where xinf runs
    none), GPT-OSS (sinks, biases, its experts' form, local layers with the
    global RoPE; what it lacks refused by name, on a backend without its
    parts too) and a mixture of experts (counts, widths and tensors that
    disagree; a split over ranks that would cut a block), each through the
    model loader: a bad value is refused naming the key, never run wrong.

        test_model_keys PATH/TO/xinf-make-model
*/
#include "test_gguf_edit.h"
#include "xinf_cpu_backend.h"
#include "xinf_cpu_ops.h"

#include <math.h>

static float s_caps_seen [2];          //  the soft-caps of the model s_expect_windows loaded last

//  The rewritten Gemma file loads, its layers' windows 'window' where
//  bit i of 'local' is set, else 0 (global).
static void
s_expect_windows (const char *source, const s_edit_t *edit, size_t window, unsigned local)
{
    xinf_model_t *model = s_load_edited (source, edit);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    for (size_t index = 0; index < t->n_layers; index++)
        CHECK (t->layers [index].window == ((local >> index) & 1 ? window : 0));
    s_caps_seen [0] = t->attn_softcap;
    s_caps_seen [1] = t->final_softcap;
    xinf_model_destroy (&model);
}

//  Gemma 3's keys: the sliding window and its pattern (a number, or a bool
//  a layer), the local RoPE base, and a final logit soft-cap (refused).
static void
test_gemma3_keys (void)
{
    char gemma [300];
    s_make ("gemma3.gguf", "--arch gemma3 --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 6 "
            "--vocab 400 --sliding-window 8 --seed 13", gemma, sizeof gemma);
    char error [512] = "";
    xinf_model_t *model = xinf_model_load (gemma, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK (t->gelu && fabsf (t->embed_scale - sqrtf (32.0f)) < 1e-6f);
    CHECK (t->rope_local.base == 10000.0f && t->rope.base == 1000000.0f && t->rope_local.neox);
    xinf_model_destroy (&model);
    s_expect_windows (gemma, &(s_edit_t) { "gemma3.general.unused", S_DROP, 0, 0, NULL }, 8, 0x1f);
    s_expect_windows (gemma, &(s_edit_t) { "gemma3.attention.sliding_window", S_DROP, 0, 0, NULL }, 8, 0);
    s_expect_windows (gemma, &(s_edit_t) { "gemma3.attention.sliding_window_pattern", S_U32, 2, 0, NULL }, 8, 0x15);
    s_expect_windows (gemma, &(s_edit_t) { "gemma3.attention.sliding_window_pattern", S_U32, 0, 0, NULL }, 8, 0x3f);
    s_expect_windows (gemma, &(s_edit_t) { "gemma3.attention.sliding_window_pattern", S_BOOL_ARRAY, 6, 0x26, NULL },
                      8, 0x26);
    s_expect_refused (gemma, &(s_edit_t) { "gemma3.attention.sliding_window_pattern", S_BOOL_ARRAY, 5, 0x1f, NULL },
                      "sliding_window_pattern", false);
    s_expect_refused (gemma, &(s_edit_t) { "gemma3.attention.sliding_window_pattern", S_U32_ARRAY, 0, 0, NULL },
                      "sliding_window_pattern", false);
    s_expect_refused (gemma, &(s_edit_t) { "gemma3.attention.sliding_window", S_U64, 1ull << 40, 0, NULL },
                      "sliding_window", false);
    s_expect_refused (gemma, &(s_edit_t) { "gemma3.attention.sliding_window", S_STR, 0, 0, "512" },
                      "sliding_window", false);
    s_expect_refused (gemma, &(s_edit_t) { "gemma3.rope.freq_base_swa", S_F32, 0, 0.5, NULL }, "freq_base_swa", false);
    s_expect_refused (gemma, &(s_edit_t) { "gemma3.final_logit_softcapping", S_F32, 0, 30.0, NULL },
                      "final_logit_softcapping", false);
    s_expect_refused (gemma, &(s_edit_t) { "gemma3.rope.scaling.type", S_STR, 0, 0, "llama3" }, "llama3", false);
    s_expect_windows (gemma, &(s_edit_t) { "gemma3.rope.scaling.type", S_STR, 0, 0, "linear" }, 8, 0x1f);
    //  The soft-cap key means nothing to other architectures (as in llama.cpp)
    char qwen [300];
    s_make ("qwen-softcap.gguf", "--arch qwen2 --dim 32 --heads 2 --kv-heads 1 --ffn 32 --layers 1 --vocab 400",
            qwen, sizeof qwen);
    s_expect_loads (qwen, &(s_edit_t) { "qwen2.final_logit_softcapping", S_F32, 0, 30.0, NULL });
}

//  The RoPE of the rewritten file, its factors copied into 'factors' (ones
//  where it has none).
static xinf_rope_t
s_rope_of (const char *source, const s_edit_t *edit, float *factors, size_t count)
{
    xinf_model_t *model = s_load_edited (source, edit);
    xinf_rope_t rope = xinf_model_transformer (model)->rope;
    CHECK (xinf_model_transformer (model)->head_dim / 2 == count);
    for (size_t i = 0; i < count; i++)
        factors [i] = rope.factors ? rope.factors [i] : 1.0f;
    rope.factors = NULL;
    xinf_model_destroy (&model);
    return rope;
}

//  RoPE scaling beyond llama's: qwen2 (and qwen3, qwen3moe) run linear and
//  YaRN scaling and rope.scaling.attn_factor; YaRN's factors ramp from 1
//  (the fast pairs, kept) to the factor (the slow ones, interpolated), q
//  and k turn scaled by 1 + 0.1 ln factor. Gemma's local layers take
//  neither YaRN nor an attention factor, gemma2 no scaling at all: refused
//  by name, not run unscaled. Bad values refused naming the key.
static void
test_rope_scaling (void)
{
    char qwen [300], yarn [300], gemma3 [300], gemma2 [300];
    float factors [8];
    const char *dims = "--dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 1 --vocab 400";
    char arguments [300];
    snprintf (arguments, sizeof arguments, "--arch qwen2 %s", dims);
    s_make ("qwen-rope.gguf", arguments, qwen, sizeof qwen);
    snprintf (arguments, sizeof arguments, "--arch qwen2 %s --rope-scaling yarn --rope-factor 4 "
              "--rope-original-context 64 --rope-theta 10000", dims);
    s_make ("qwen-yarn.gguf", arguments, yarn, sizeof yarn);
    const s_edit_t same = { "qwen2.general.unused", S_DROP, 0, 0, NULL };
    xinf_model_t *model = s_load_edited (yarn, &same);          //  (a BPE vocabulary: no control takes spaces)
    CHECK (!xinf_tokenizer_rstrip (xinf_model_tokenizer (model), xinf_tokenizer_eos (xinf_model_tokenizer (model))));
    xinf_model_destroy (&model);
    xinf_rope_t rope = s_rope_of (yarn, &same, factors, 8);
    //  pairs 0..3 ramp (correction dimensions 0 and 3 of 16 at base 1e4,
    //  original context 64), 4..7 interpolated
    CHECK (fabsf (rope.mscale - (1.0f + 0.1f * logf (4.0f))) < 1e-6f && rope.scale == 1.0f);
    CHECK (factors [0] == 1.0f && factors [1] > 1.0f && factors [2] > factors [1] && factors [2] < 4.0f);
    CHECK_NEAR (factors [1], 1.0 / ((1.0 / 3.0) / 4.0 + 2.0 / 3.0), 1e-6);
    for (size_t i = 3; i < 8; i++)
        CHECK (factors [i] == 4.0f);
    rope = s_rope_of (yarn, &(s_edit_t) { "qwen2.rope.scaling.factor", S_F32, 0, 1.0, NULL }, factors, 8);
    CHECK (rope.mscale == 1.0f && factors [0] == 1.0f && factors [7] == 1.0f);
    rope = s_rope_of (yarn, &(s_edit_t) { "qwen2.rope.scaling.original_context_length", S_DROP, 0, 0, NULL },
                      factors, 8);
    CHECK (factors [0] == 1.0f && factors [7] == 4.0f);
    rope = s_rope_of (yarn, &(s_edit_t) { "qwen2.rope.scaling.attn_factor", S_F32, 0, 0.5, NULL }, factors, 8);
    CHECK (fabsf (rope.mscale - 0.5f * (1.0f + 0.1f * logf (4.0f))) < 1e-6f);
    rope = s_rope_of (qwen, &(s_edit_t) { "qwen2.rope.scaling.factor", S_F32, 0, 4.0, NULL }, factors, 8);
    CHECK (rope.scale == 0.25f && rope.mscale == 1.0f);         //  linear, llama.cpp's default type
    rope = s_rope_of (qwen, &(s_edit_t) { "qwen2.rope.scaling.type", S_STR, 0, 0, "none" }, factors, 8);
    CHECK (rope.scale == 1.0f && rope.mscale == 1.0f && factors [7] == 1.0f);
    s_expect_refused (qwen, &(s_edit_t) { "qwen2.rope.scaling.type", S_U32, 3, 0, NULL }, "not a string", false);
    s_expect_refused (qwen, &(s_edit_t) { "qwen2.rope.scaling.type", S_STR, 0, 0, "su" }, "'su'", false);
    //  Partial rotary: qwen2 (as llama.cpp) takes it, llama refuses it
    s_expect_loads (qwen, &(s_edit_t) { "qwen2.rope.dimension_count", S_U32, 8, 0, NULL });
    char llama [300];
    snprintf (arguments, sizeof arguments, "--arch llama %s", dims);
    s_make ("llama-rope.gguf", arguments, llama, sizeof llama);
    s_expect_refused (llama, &(s_edit_t) { "llama.rope.dimension_count", S_U32, 8, 0, NULL }, "llama turns whole heads",
                      false);
    const double bad_attn [] = { 0.0, -1.0, 1e9, NAN };
    for (size_t b = 0; b < sizeof bad_attn / sizeof bad_attn [0]; b++)
        s_expect_refused (yarn, &(s_edit_t) { "qwen2.rope.scaling.attn_factor", S_F32, 0, bad_attn [b], NULL },
                          "qwen2.rope.scaling.attn_factor", false);
    s_expect_refused (yarn, &(s_edit_t) { "qwen2.rope.scaling.original_context_length", S_U32, 0, 0, NULL },
                      "original_context_length", false);
    s_expect_refused (yarn, &(s_edit_t) { "qwen2.rope.scaling.original_context_length", S_STR, 0, 0, "64" },
                      "original_context_length", false);
    s_expect_refused (yarn, &(s_edit_t) { "qwen2.rope.scaling.factor", S_F32, 0, NAN, NULL }, "scaling.factor", false);
    //  Gemma
    snprintf (arguments, sizeof arguments, "--arch gemma3 %s --layers 2 --sliding-window 8", dims);
    s_make ("gemma3-rope.gguf", arguments, gemma3, sizeof gemma3);
    snprintf (arguments, sizeof arguments, "--arch gemma2 %s --layers 2 --sliding-window 8", dims);
    s_make ("gemma2-rope.gguf", arguments, gemma2, sizeof gemma2);
    s_expect_refused (gemma3, &(s_edit_t) { "gemma3.rope.scaling.type", S_STR, 0, 0, "yarn" }, "no YaRN", false);
    s_expect_refused (gemma3, &(s_edit_t) { "gemma3.rope.scaling.attn_factor", S_F32, 0, 2.0, NULL },
                      "gemma3.rope.scaling.attn_factor", false);
    s_expect_refused (gemma2, &(s_edit_t) { "gemma2.rope.scaling.type", S_STR, 0, 0, "yarn" }, "no RoPE scaling",
                      false);
    s_expect_refused (gemma2, &(s_edit_t) { "gemma2.rope.scaling.type", S_STR, 0, 0, "linear" }, "no RoPE scaling",
                      false);
    s_expect_refused (gemma2, &(s_edit_t) { "gemma2.rope.scaling.factor", S_F32, 0, 4.0, NULL }, "scaling.factor",
                      false);
    s_expect_refused (gemma2, &(s_edit_t) { "gemma2.rope.scaling.attn_factor", S_F32, 0, 2.0, NULL }, "attn_factor",
                      false);
    s_expect_loads (gemma2, &(s_edit_t) { "gemma2.rope.scaling.type", S_STR, 0, 0, "none" });
    s_expect_loads (gemma2, &(s_edit_t) { "gemma2.rope.scaling.factor", S_F32, 0, 1.0, NULL });
}

//  The rewritten Gemma 2 file loads with these soft-caps and windows
//  ('window' where bit i of 'local' is set).
static void
s_expect_caps (const char *source, const s_edit_t *edit, float attn, float final, size_t window, unsigned local)
{
    s_expect_windows (source, edit, window, local);
    CHECK (s_caps_seen [0] == attn && s_caps_seen [1] == final);
}

//  Gemma 2's keys: soft-caps (defaults 50 and 30 when absent; zero,
//  negative, huge, NaN or a string refused naming the key), its window
//  (4096 when absent) on every other layer, the local RoPE base the global
//  one unless rope.freq_base_swa says; the 27B's query scale by its 46
//  layers where dim / heads is not head_dim.
static void
test_gemma2_keys (void)
{
    char gemma [300], error [512] = "";
    s_make ("gemma2.gguf", "--arch gemma2 --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 4 "
            "--vocab 400 --sliding-window 8 --attn-softcap 20 --final-softcap 10 --rope-theta 5000 --seed 21",
            gemma, sizeof gemma);
    xinf_model_t *model = xinf_model_load (gemma, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK (t->gelu && t->embed_scale > 0 && !t->layers [0].q_norm && t->query_scale == 0);
    CHECK (t->rope_local.base == 5000.0f && t->rope.base == 5000.0f);
    xinf_model_destroy (&model);
    s_expect_caps (gemma, &(s_edit_t) { "gemma2.general.unused", S_DROP, 0, 0, NULL }, 20, 10, 8, 0x5);
    s_expect_caps (gemma, &(s_edit_t) { "gemma2.attn_logit_softcapping", S_DROP, 0, 0, NULL }, 50, 10, 8, 0x5);
    s_expect_caps (gemma, &(s_edit_t) { "gemma2.final_logit_softcapping", S_DROP, 0, 0, NULL }, 20, 30, 8, 0x5);
    s_expect_caps (gemma, &(s_edit_t) { "gemma2.attention.sliding_window", S_DROP, 0, 0, NULL }, 20, 10, 4096, 0x5);
    s_expect_caps (gemma, &(s_edit_t) { "gemma2.attention.sliding_window_pattern", S_U32, 4, 0, NULL }, 20, 10, 8, 0x7);
    const char *caps [] = { "gemma2.attn_logit_softcapping", "gemma2.final_logit_softcapping" };
    const double bad [] = { 0.0, -5.0, 1e9, NAN };
    for (size_t c = 0; c < 2; c++) {
        for (size_t b = 0; b < sizeof bad / sizeof bad [0]; b++)
            s_expect_refused (gemma, &(s_edit_t) { caps [c], S_F32, 0, bad [b], NULL }, caps [c], false);
        s_expect_refused (gemma, &(s_edit_t) { caps [c], S_STR, 0, 0, "50" }, caps [c], false);
    }
    s_expect_refused (gemma, &(s_edit_t) { "gemma2.rope.freq_base_swa", S_F32, 0, 0.5, NULL }, "freq_base_swa", false);
    model = NULL;
    char large [300];
    s_make ("gemma2-46.gguf", "--arch gemma2 --dim 64 --heads 4 --kv-heads 2 --head-dim 32 --ffn 32 --layers 46 "
            "--vocab 400 --seed 22", large, sizeof large);
    model = xinf_model_load (large, NULL, NULL, error, sizeof error);
    CHECK (model);
    CHECK (fabsf (xinf_model_transformer (model)->query_scale - sqrtf (32.0f / 16.0f)) < 1e-6f);
    xinf_model_destroy (&model);
    //  On a backend without soft-caps the model is refused, naming them
    xinf_backend_t *cpu = xinf_cpu_backend_new (1);
    xinf_backend_t plain = *cpu;
    plain.softcap = false;
    model = xinf_model_load (gemma, NULL, NULL, error, sizeof error);
    CHECK (xinf_transformer_check_backend (xinf_model_transformer (model), &plain, error, sizeof error) == -1);
    CHECK_HAS (error, "soft-capped");
    CHECK (xinf_transformer_check_backend (xinf_model_transformer (model), cpu, error, sizeof error) == 0);
    xinf_model_destroy (&model);
    xinf_backend_destroy (&cpu);
}

//  Phi-3: attn_qkv and the fused ffn_up taken as views (their rows checked
//  against the heads and the feed-forward length), or q, k and v apart;
//  LongRoPE's long factors past the original context, the short ones
//  within it, the attention factor; its sliding_window key ignored (as
//  llama.cpp); either factor tensor alone refused.
static void
test_phi3_keys (void)
{
    char fused [300], split [300], longrope [300], error [512] = "";
    const char *dims = "--arch phi3 --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 2 --vocab 400";
    char arguments [300];
    snprintf (arguments, sizeof arguments, "%s --seed 24", dims);
    s_make ("phi3.gguf", arguments, fused, sizeof fused);
    snprintf (arguments, sizeof arguments, "%s --split-qkv --seed 24", dims);
    s_make ("phi3-split.gguf", arguments, split, sizeof split);
    snprintf (arguments, sizeof arguments, "%s --rope-scaling longrope --rope-factor 8 --rope-original-context 64 "
              "--context 512 --seed 25", dims);
    s_make ("phi3-longrope.gguf", arguments, longrope, sizeof longrope);
    //  The fused file's views have the split file's shapes and are the rows
    //  of attn_qkv (ffn_up) one after another
    xinf_model_t *a = xinf_model_load (fused, NULL, NULL, error, sizeof error);
    xinf_model_t *b = xinf_model_load (split, NULL, NULL, error, sizeof error);
    CHECK (a && b);
    const xinf_layer_t *la = &xinf_model_transformer (a)->layers [1], *lb = &xinf_model_transformer (b)->layers [1];
    CHECK (la->q.rows == 32 && la->k.rows == 16 && la->v.rows == 16 && la->gate.rows == 32 && la->up.rows == 32);
    CHECK ((const char *) la->k.data == (const char *) la->q.data + 32 * 32 * 4);
    CHECK ((const char *) la->v.data == (const char *) la->k.data + 16 * 32 * 4);
    CHECK ((const char *) la->up.data == (const char *) la->gate.data + 32 * 32 * 4);
    CHECK (lb->q.rows == 32 && lb->k.rows == 16 && lb->v.rows == 16);
    CHECK (xinf_model_transformer (a)->rope.neox && !xinf_model_transformer (a)->rope.factors);
    //  Its SentencePiece control tokens take the whitespace after them, but <s>
    xinf_tokenizer_t *tokenizer = xinf_model_tokenizer (a);
    CHECK (xinf_tokenizer_rstrip (tokenizer, (int32_t) xinf_tokenizer_find (tokenizer, "</s>", 4)));
    CHECK (!xinf_tokenizer_rstrip (tokenizer, (int32_t) xinf_tokenizer_find (tokenizer, "<s>", 3)));
    xinf_model_destroy (&a);
    xinf_model_destroy (&b);
    //  Over two ranks each rank's views are its head's and its half of the
    //  feed-forward's rows of the fused tensors
    snprintf (arguments, sizeof arguments, "%s --kv-heads 2 --seed 26", dims);
    char tp [300];
    s_make ("phi3-tp.gguf", arguments, tp, sizeof tp);
    xinf_model_t *whole = xinf_model_load (tp, NULL, NULL, error, sizeof error);
    CHECK (whole);
    for (int rank = 0; rank < 2; rank++) {
        a = xinf_model_load_shard (tp, rank, 2, NULL, NULL, error, sizeof error);
        CHECK (a);
        for (size_t index = 0; index < 2; index++) {
            la = &xinf_model_transformer (a)->layers [index];
            lb = &xinf_model_transformer (whole)->layers [index];
            const xinf_matrix_t *ma [5] = { &la->q, &la->k, &la->v, &la->gate, &la->up };
            const xinf_matrix_t *mb [5] = { &lb->q, &lb->k, &lb->v, &lb->gate, &lb->up };
            for (size_t m = 0; m < 5; m++) {
                CHECK (ma [m]->rows == 16 && mb [m]->rows == 32 && ma [m]->cols == 32);
                CHECK (memcmp (ma [m]->data, (const char *) mb [m]->data + rank * 16 * 32 * 4, 16 * 32 * 4) == 0);
            }
        }
        xinf_model_destroy (&a);
    }
    xinf_model_destroy (&whole);
    //  Shapes that disagree with the hyperparameters are refused, naming the tensor
    s_expect_refused (fused, &(s_edit_t) { "phi3.attention.head_count_kv", S_U32, 2, 0, NULL }, "blk.0.attn_qkv.weight",
                      false);
    s_expect_refused (fused, &(s_edit_t) { "phi3.feed_forward_length", S_U32, 64, 0, NULL }, "blk.0.ffn_up.weight",
                      false);
    s_expect_refused (split, &(s_edit_t) { "blk.1.attn_k.weight", S_DROP_TENSOR, 0, 0, NULL }, "blk.1.attn_k.weight",
                      false);
    s_expect_refused (fused, &(s_edit_t) { "blk.0.ffn_up.weight", S_DROP_TENSOR, 0, 0, NULL }, "blk.0.ffn_up.weight",
                      false);
    //  Partial rotary (Phi-4-mini's): the first 8 of 16 dimensions turn, on
    //  a backend that can; one that cannot refuses the model by name
    a = s_load_edited (fused, &(s_edit_t) { "phi3.rope.dimension_count", S_U32, 8, 0, NULL });
    CHECK (xinf_model_transformer (a)->rope.dims == 8);
    xinf_backend_t *cpu = xinf_cpu_backend_new (1);
    xinf_backend_t turns_whole = *cpu;
    turns_whole.partial_rope = false;
    CHECK (xinf_transformer_check_backend (xinf_model_transformer (a), &turns_whole, error, sizeof error) == -1);
    CHECK_HAS (error, "partial rotary");
    CHECK (xinf_transformer_check_backend (xinf_model_transformer (a), cpu, error, sizeof error) == 0);
    xinf_backend_destroy (&cpu);
    xinf_model_destroy (&a);
    //  Phi-3 mini's window key changes nothing
    s_expect_windows (fused, &(s_edit_t) { "phi3.attention.sliding_window", S_U32, 2047, 0, NULL }, 0, 0);
    //  LongRoPE
    float factors [8];
    xinf_rope_t rope = s_rope_of (longrope, &(s_edit_t) { "phi3.general.unused", S_DROP, 0, 0, NULL }, factors, 8);
    CHECK (factors [0] == 1.0f && factors [7] == 8.0f);                      //  the long ones: context 512 > 64
    CHECK (fabsf (rope.mscale - sqrtf (1.0f + logf (8.0f) / logf (64.0f))) < 1e-6f);
    rope = s_rope_of (longrope, &(s_edit_t) { "phi3.rope.scaling.original_context_length", S_U32, 512, 0, NULL },
                      factors, 8);
    CHECK (factors [0] == 1.0f && fabsf (factors [7] - 2.4f) < 1e-6f);        //  the short ones
    rope = s_rope_of (longrope, &(s_edit_t) { "phi3.rope.scaling.original_context_length", S_DROP, 0, 0, NULL },
                      factors, 8);
    CHECK (fabsf (factors [7] - 2.4f) < 1e-6f);                              //  the original context: the model's
    s_expect_refused (longrope, &(s_edit_t) { "rope_factors_short.weight", S_DROP_TENSOR, 0, 0, NULL },
                      "must come together", false);
    s_expect_refused (longrope, &(s_edit_t) { "rope_factors_long.weight", S_DROP_TENSOR, 0, 0, NULL },
                      "must come together", false);
    s_expect_refused (longrope, &(s_edit_t) { "phi3.rope.scaling.attn_factor", S_F32, 0, NAN, NULL },
                      "attn_factor", false);
}

//  GLM-4: attn_qkv.bias taken as the q, k and v biases (views, one after
//  another), half of each head turning, a BOS only where the file asks for
//  one (its template writes [gMASK]<sop>), as llama.cpp; multi-token
//  prediction layers and sectioned RoPE refused by name, zero sections
//  allowed.
static void
test_glm4_keys (void)
{
    char fused [300];
    s_make ("glm4.gguf", "--arch glm4 --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 2 --vocab 400 "
            "--qkv-bias --seed 28", fused, sizeof fused);
    xinf_model_t *model = s_load_edited (fused, &(s_edit_t) { "glm4.general.unused", S_DROP, 0, 0, NULL });
    const xinf_transformer_t *t = xinf_model_transformer (model);
    const xinf_layer_t *layer = &t->layers [1];
    CHECK (layer->q_bias && layer->k_bias == layer->q_bias + 32 && layer->v_bias == layer->k_bias + 16);
    CHECK (layer->post_attn_norm && layer->post_ffn_norm && layer->gate.rows == 32);
    CHECK (t->rope.dims == 8 && !t->rope.neox);
    CHECK (!xinf_tokenizer_add_bos (xinf_model_tokenizer (model)));
    xinf_model_destroy (&model);
    model = s_load_edited (fused, &(s_edit_t) { "tokenizer.ggml.add_bos_token", S_BOOL, 1, 0, NULL });
    CHECK (xinf_tokenizer_add_bos (xinf_model_tokenizer (model)) && xinf_tokenizer_bos (xinf_model_tokenizer (model)) >= 0);
    xinf_model_destroy (&model);
    model = s_load_edited (fused, &(s_edit_t) { "tokenizer.ggml.add_bos_token", S_DROP, 0, 0, NULL });
    CHECK (!xinf_tokenizer_add_bos (xinf_model_tokenizer (model)));             //  glm4's default: none
    xinf_model_destroy (&model);
    s_expect_refused (fused, &(s_edit_t) { "glm4.nextn_predict_layers", S_U32, 1, 0, NULL },
                      "'glm4.nextn_predict_layers' is set: xinf serves no multi-token prediction layers", false);
    s_expect_loads (fused, &(s_edit_t) { "glm4.nextn_predict_layers", S_U32, 0, 0, NULL });
    s_expect_refused (fused, &(s_edit_t) { "glm4.rope.dimension_sections", S_U32_ARRAY, 0, 0, NULL },
                      "'glm4.rope.dimension_sections' is set", false);
    s_expect_loads (fused, &(s_edit_t) { "glm4.rope.dimension_sections", S_ZEROS, 0, 0, NULL });
    s_expect_refused (fused, &(s_edit_t) { "glm4.rope.dimension_sections", S_STR, 0, 0, "8" },
                      "'glm4.rope.dimension_sections' is set", false);
    //  A layer without the fused bias has none (llama.cpp's biases are optional)
    model = s_load_edited (fused, &(s_edit_t) { "blk.1.attn_qkv.bias", S_DROP_TENSOR, 0, 0, NULL });
    t = xinf_model_transformer (model);
    CHECK (t->layers [0].q_bias && !t->layers [1].q_bias && !t->layers [1].v_bias);
    xinf_model_destroy (&model);
}

//  The last position's logits (400) of the rewritten file for three tokens.
static float *
s_logits (const char *source, const s_edit_t *edit)
{
    xinf_model_t *model = s_load_edited (source, edit);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_threadpool_t *pool = xinf_threadpool_new (1);
    xinf_kv_t *kv = xinf_kv_new (t, 8);
    float *last = malloc (t->vocab * sizeof (float));
    int32_t tokens [3] = { 5, 77, 301 };
    char error [256];
    CHECK (pool && kv && last && t->vocab == 400);
    CHECK (xinf_transformer_forward (t, kv, pool, tokens, 3, 0, last, NULL, error, sizeof error) == 0);
    xinf_kv_destroy (&kv);
    xinf_threadpool_destroy (&pool);
    xinf_model_destroy (&model);
    return last;
}

//  Granite's multipliers: read into the pass (the attention's as a scale of
//  the queries relative to 1 / sqrt (head_dim)); logit_scale required, as
//  in llama.cpp; negative or NaN ones refused by name; the optional ones
//  absent or 0 mean none.
static void
test_granite_keys (void)
{
    char granite [300];
    s_make ("granite.gguf", "--arch granite --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 1 "
            "--vocab 400 --multipliers 12,0.22,0.015625,8 --seed 30", granite, sizeof granite);
    xinf_model_t *model = s_load_edited (granite, &(s_edit_t) { "granite.general.unused", S_DROP, 0, 0, NULL });
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK (t->embed_scale == 12.0f && fabsf (t->residual_scale - 0.22f) < 1e-7f && t->logit_scale == 8.0f);
    CHECK (fabsf (t->query_scale - 0.015625f * 4.0f) < 1e-7f);           //  sqrt (16) = 4
    xinf_model_destroy (&model);
    const char *optional [] = { "granite.embedding_scale", "granite.residual_scale", "granite.attention.scale" };
    for (size_t index = 0; index < 6; index++) {             //  0, then absent: none
        const char *key = optional [index % 3];
        model = s_load_edited (granite, &(s_edit_t) { key, index < 3 ? S_F32 : S_DROP, 0, 0.0, NULL });
        t = xinf_model_transformer (model);
        CHECK (index % 3 == 0 ? t->embed_scale == 0 : index % 3 == 1 ? t->residual_scale == 0 : t->query_scale == 0);
        xinf_model_destroy (&model);
        s_expect_refused (granite, &(s_edit_t) { key, S_F32, 0, -1.0, NULL }, key, false);
    }
    //  The logits are those of a logit_scale of 1 divided by 8
    float *scaled = s_logits (granite, &(s_edit_t) { "granite.general.unused", S_DROP, 0, 0, NULL });
    float *plain = s_logits (granite, &(s_edit_t) { "granite.logit_scale", S_F32, 0, 1.0, NULL });
    for (size_t index = 0; index < 400; index++)
        CHECK_NEAR (scaled [index] * 8.0f, plain [index], 1e-4 * (1.0 + fabs (plain [index])));
    free (scaled);
    free (plain);
    s_expect_refused (granite, &(s_edit_t) { "granite.rope.scaling.finetuned", S_BOOL, 0, 0, NULL }, "finetuned", false);
    //  Biases xinf does not run are refused by name, not ignored (any arch)
    s_expect_refused (granite, &(s_edit_t) { "blk.0.attn_output.bias", S_ADD_VECTOR, 32, 0, NULL },
                      "'blk.0.attn_output.bias': xinf runs no bias", false);
    s_expect_refused (granite, &(s_edit_t) { "blk.0.ffn_down.bias", S_ADD_VECTOR, 32, 0, NULL }, "ffn_down.bias", false);
    s_expect_loads (granite, &(s_edit_t) { "granite.rope.scaling.finetuned", S_BOOL, 1, 0, NULL });
    s_expect_refused (granite, &(s_edit_t) { "granite.logit_scale", S_DROP, 0, 0, NULL },
                      "'granite.logit_scale' is missing", false);
    s_expect_refused (granite, &(s_edit_t) { "granite.logit_scale", S_F32, 0, NAN, NULL }, "granite.logit_scale", false);
    s_expect_refused (granite, &(s_edit_t) { "granite.rope.dimension_count", S_U32, 8, 0, NULL }, "whole heads", false);
    //  granitemoe's layers turn whatever rope.scaling.finetuned says (llama.cpp reads it for granite only)
    char moe [300];
    s_make ("granitemoe.gguf", "--arch granitemoe --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 1 "
            "--vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --multipliers 12,0.22,0.015625,8 --seed 31",
            moe, sizeof moe);
    float *turned = s_logits (moe, &(s_edit_t) { "granitemoe.rope.scaling.finetuned", S_BOOL, 1, 0, NULL });
    float *unsaid = s_logits (moe, &(s_edit_t) { "granitemoe.rope.scaling.finetuned", S_BOOL, 0, 0, NULL });
    CHECK (memcmp (turned, unsaid, 400 * sizeof (float)) == 0);
    free (turned);
    free (unsaid);
}

//  GPT-OSS's parts as the loader reads them, and what it lacks refused by
//  name: a missing sink or bias, a local RoPE base of its own under YaRN,
//  expert biases in another arch's file; a backend without sinks or its
//  experts' form is named.
static void
test_gpt_oss_keys (void)
{
    char oss [300], moe [300];
    s_make ("gpt-oss.gguf", "--arch gpt-oss --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 2 "
            "--vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --sliding-window 4 --rope-scaling yarn "
            "--rope-factor 4 --rope-original-context 64 --seed 41", oss, sizeof oss);
    xinf_model_t *model = s_load_edited (oss, &(s_edit_t) { "gpt-oss.general.unused", S_DROP, 0, 0, NULL });
    const xinf_transformer_t *t = xinf_model_transformer (model);
    const xinf_layer_t *local = &t->layers [0], *global = &t->layers [1];
    CHECK (local->window == 4 && global->window == 0);
    CHECK (local->sinks && local->o_bias && local->q_bias && local->ffn_norm && !local->post_attn_norm);
    CHECK (local->moe.router_bias && local->moe.gate_bias && local->moe.up_bias && local->moe.down_bias);
    CHECK (local->moe.weight_softmax && local->moe.swiglu_oai && !local->moe.normalize && local->moe.k == 2);
    //  The local layers turn as the global ones, YaRN's factors and magnitude included
    CHECK (t->rope_local.factors == t->rope.factors && t->rope.factors && t->rope_local.mscale == t->rope.mscale
           && t->rope.mscale > 1.1f && t->rope_local.base == t->rope.base);
    xinf_backend_t *cpu = xinf_cpu_backend_new (1);
    char error [512] = "";
    CHECK (xinf_transformer_check_backend (t, cpu, error, sizeof error) == 0);
    xinf_backend_t lacking = *cpu;
    lacking.sinks = false;
    CHECK (xinf_transformer_check_backend (t, &lacking, error, sizeof error) == -1 && strstr (error, "sinks"));
    lacking.sinks = true;
    lacking.moe_oai = false;
    CHECK (xinf_transformer_check_backend (t, &lacking, error, sizeof error) == -1 && strstr (error, "GPT-OSS's form"));
    xinf_backend_destroy (&cpu);
    //  Its harmony vocabulary: <|return|> and <|call|> end a generation, <|end|> (a message's end) does
    //  not; it and the heads of messages render as their text and are found in text
    xinf_tokenizer_t *tokenizer = xinf_model_tokenizer (model);
    int32_t end = xinf_tokenizer_find (tokenizer, "<|end|>", 7), channel = xinf_tokenizer_find (tokenizer, "<|channel|>", 11);
    int32_t start = xinf_tokenizer_find (tokenizer, "<|start|>", 9), ids [8];
    CHECK (end >= 0 && channel >= 0 && start >= 0 && !xinf_tokenizer_is_end (tokenizer, end));
    CHECK (xinf_tokenizer_is_end (tokenizer, xinf_tokenizer_find (tokenizer, "<|return|>", 10))
           && xinf_tokenizer_is_end (tokenizer, xinf_tokenizer_find (tokenizer, "<|call|>", 8)));
    char text [32] = "";
    CHECK (xinf_tokenizer_decode (tokenizer, &channel, 1, text, sizeof text) == 11 && streq (text, "<|channel|>"));
    CHECK (xinf_tokenizer_decode (tokenizer, &end, 1, text, sizeof text) == 7 && streq (text, "<|end|>"));
    CHECK (xinf_tokenizer_encode (tokenizer, "<|start|>x", 10, false, ids, 8) >= 2 && ids [0] == start);
    xinf_model_destroy (&model);
    //  ... even where the file's EOT names <|end|> (as llama.cpp)
    model = s_load_edited (oss, &(s_edit_t) { "tokenizer.ggml.eot_token_id", S_U32, (uint64_t) end, 0, NULL });
    CHECK (!xinf_tokenizer_is_end (xinf_model_tokenizer (model), end));
    xinf_model_destroy (&model);
    s_expect_refused (oss, &(s_edit_t) { "blk.0.attn_sinks.weight", S_DROP_TENSOR, 0, 0, NULL }, "attn_sinks", false);
    s_expect_refused (oss, &(s_edit_t) { "blk.1.attn_output.bias", S_DROP_TENSOR, 0, 0, NULL }, "attn_output.bias",
                      false);
    s_expect_refused (oss, &(s_edit_t) { "blk.1.ffn_down_exps.bias", S_DROP_TENSOR, 0, 0, NULL }, "ffn_down_exps.bias",
                      false);
    s_expect_refused (oss, &(s_edit_t) { "blk.0.ffn_gate_inp.bias", S_DROP_TENSOR, 0, 0, NULL }, "ffn_gate_inp.bias",
                      false);
    s_expect_refused (oss, &(s_edit_t) { "blk.0.post_attention_norm.weight", S_DROP_TENSOR, 0, 0, NULL },
                      "post_attention_norm", false);
    s_expect_refused (oss, &(s_edit_t) { "gpt-oss.rope.freq_base_swa", S_F32, 0, 5000.0, NULL }, "freq_base_swa",
                      false);
    s_expect_loads (oss, &(s_edit_t) { "gpt-oss.rope.freq_base_swa", S_F32, 0, 150000.0, NULL });
    s_expect_refused (oss, &(s_edit_t) { "gpt-oss.expert_count", S_DROP, 0, 0, NULL }, "expert_count", false);
    //  Shared experts (granitemoeshared's, Qwen2-MoE's): refused by their key
    s_expect_refused (oss, &(s_edit_t) { "gpt-oss.expert_shared_feed_forward_length", S_U32, 64, 0, NULL },
                      "shared experts", false);
    //  Another arch's file with GPT-OSS's biases: refused, not ignored
    s_make ("qwen3moe-biased.gguf", "--arch qwen3moe --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 "
            "--layers 1 --vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --seed 43", moe, sizeof moe);
    s_expect_refused (moe, &(s_edit_t) { "blk.0.ffn_gate_inp.bias", S_ADD_VECTOR, 4, 0, NULL }, "ffn_gate_inp.bias",
                      false);
    s_expect_refused (moe, &(s_edit_t) { "blk.0.ffn_up_exps.bias", S_ADD_VECTOR, 128, 0, NULL }, "ffn_up_exps.bias",
                      false);
}

//  A mixture of experts' keys and tensors: counts out of range or that
//  disagree with the tensors are refused naming them, and so is a split
//  over ranks that would cut a block.
static void
test_experts_keys (void)
{
    char moe [300], llama [300], error [512] = "";
    s_make ("qwen3moe.gguf", "--arch qwen3moe --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 2 "
            "--vocab 400 --experts 8 --experts-used 2 --expert-ffn 32 --seed 16", moe, sizeof moe);
    xinf_model_t *model = xinf_model_load (moe, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_layer_t *layer = &xinf_model_transformer (model)->layers [1];
    CHECK (layer->moe.n_experts == 8 && layer->moe.k == 2 && layer->moe.ffn == 32 && !layer->gate.data);
    xinf_model_destroy (&model);
    //  Over two ranks each holds half of every expert's width; a Q8_0 expert of one block does not split
    char split [300], q8 [300];
    s_make ("qwen3moe-tp.gguf", "--arch qwen3moe --dim 32 --heads 2 --kv-heads 2 --head-dim 16 --ffn 64 --layers 1 "
            "--vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --seed 20", split, sizeof split);
    model = xinf_model_load_shard (split, 1, 2, NULL, NULL, error, sizeof error);
    if (!model)
        fprintf (stderr, "%s\n", error);
    CHECK (model && xinf_model_transformer (model)->layers [0].moe.ffn == 16);
    xinf_model_destroy (&model);
    s_make ("qwen3moe-q8.gguf", "--arch qwen3moe --type q8_0 --dim 32 --heads 2 --kv-heads 2 --head-dim 32 --ffn 64 "
            "--layers 1 --vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --seed 19", q8, sizeof q8);
    CHECK (!xinf_model_load_shard (q8, 0, 2, NULL, NULL, error, sizeof error));
    CHECK_HAS (error, "cannot split an expert's width 32 over 2 ranks in 32-column blocks");
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_count", S_DROP, 0, 0, NULL }, "expert_count", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_count", S_U32, 5000, 0, NULL }, "expert_count", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_count", S_U32, 4, 0, NULL }, "ffn_gate_inp", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_used_count", S_U32, 9, 0, NULL }, "expert_used_count",
                      false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_used_count", S_DROP, 0, 0, NULL }, "expert_used_count",
                      false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_feed_forward_length", S_U32, 64, 0, NULL },
                      "ffn_gate_exps", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_feed_forward_length", S_STR, 0, 0, "32" },
                      "expert_feed_forward_length", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_count", S_U32, 2000, 0, NULL }, "expert_count", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_group_count", S_U32, 3, 0, NULL }, "expert_group_count",
                      false);         //  groups that do not divide the experts; then none of them used
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_group_count", S_U32, 2, 0, NULL },
                      "expert_group_used_count", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen3moe.expert_feed_forward_length", S_U32, 1u << 22, 0, NULL },
                      "exceed", false);
    //  Without expert_feed_forward_length an expert is feed_forward_length / expert_used_count wide (llama.cpp's)
    char shared [300];
    s_make ("qwen3moe-shared.gguf", "--arch qwen3moe --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 64 "
            "--layers 1 --vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --seed 18", shared, sizeof shared);
    s_expect_loads (shared, &(s_edit_t) { "qwen3moe.expert_feed_forward_length", S_DROP, 0, 0, NULL });
    //  A dense llama file that claims experts has no routers
    s_make ("llama-dense.gguf", "--arch llama --dim 32 --heads 2 --kv-heads 1 --ffn 32 --layers 1 --vocab 400",
            llama, sizeof llama);
    s_expect_refused (llama, &(s_edit_t) { "llama.expert_count", S_U32, 4, 0, NULL }, "expert_used_count", false);
}

//  Qwen2-MoE's shared expert as the loader reads it: its width from its
//  key (else feed_forward_length), its router vector, both ranks' halves;
//  a missing part or a router of another type refused by name; the key
//  in an arch without shared experts refused.
static void
test_shared_expert_keys (void)
{
    char moe [300], error [512] = "";
    s_make ("qwen2moe.gguf", "--arch qwen2moe --dim 32 --heads 2 --kv-heads 2 --ffn 64 --layers 1 --vocab 400 "
            "--experts 4 --experts-used 2 --expert-ffn 32 --shared-ffn 96 --seed 21", moe, sizeof moe);
    xinf_model_t *model = xinf_model_load (moe, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_moe_t *experts = &xinf_model_transformer (model)->layers [0].moe;
    CHECK (experts->shared_ffn == 96 && experts->shared_router && experts->shared_gate->rows == 96
           && experts->shared_down->cols == 96 && !experts->normalize && experts->k == 2);
    xinf_model_destroy (&model);
    model = xinf_model_load_shard (moe, 1, 2, NULL, NULL, error, sizeof error);
    CHECK (model && xinf_model_transformer (model)->layers [0].moe.shared_ffn == 48
           && xinf_model_transformer (model)->layers [0].moe.shared_router);
    xinf_model_destroy (&model);
    s_expect_refused (moe, &(s_edit_t) { "qwen2moe.expert_shared_feed_forward_length", S_DROP, 0, 0, NULL },
                      "ffn_gate_shexp", false);           //  64 wide then: the file's 96 rows do not fit
    s_expect_refused (moe, &(s_edit_t) { "blk.0.ffn_gate_inp_shexp.weight", S_DROP_TENSOR, 0, 0, NULL },
                      "ffn_gate_inp_shexp", false);
    s_expect_refused (moe, &(s_edit_t) { "blk.0.ffn_down_shexp.weight", S_DROP_TENSOR, 0, 0, NULL },
                      "ffn_down_shexp", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen2moe.expert_shared_feed_forward_length", S_U32, 1u << 23, 0, NULL },
                      "expert_shared_feed_forward_length", false);
    s_expect_refused (moe, &(s_edit_t) { "qwen2moe.rope.dimension_count", S_U32, 8, 0, NULL }, "whole heads", false);
    //  Without the key: feed_forward_length wide (llama.cpp's qwen2moe)
    char plain [300];
    s_make ("qwen2moe-plain.gguf", "--arch qwen2moe --dim 32 --heads 2 --kv-heads 2 --ffn 64 --layers 1 --vocab 400 "
            "--experts 4 --experts-used 2 --expert-ffn 32 --seed 22", plain, sizeof plain);
    model = xinf_model_load (plain, NULL, NULL, error, sizeof error);
    CHECK (model && xinf_model_transformer (model)->layers [0].moe.shared_ffn == 64);
    xinf_model_destroy (&model);
    //  granitemoe: granitemoeshared's, ungated, only where the key is nonzero
    char granite [300];
    s_make ("granitemoe-shared.gguf", "--arch granitemoe --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 "
            "--layers 1 --vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --shared-ffn 64 "
            "--multipliers 12,0.22,0.015625,8 --seed 23", granite, sizeof granite);
    model = xinf_model_load (granite, NULL, NULL, error, sizeof error);
    experts = model ? &xinf_model_transformer (model)->layers [0].moe : NULL;
    CHECK (experts && experts->shared_ffn == 64 && !experts->shared_router && experts->normalize);
    xinf_model_destroy (&model);
    //  A backend whose moe op lacks shared experts is named
    model = xinf_model_load (moe, NULL, NULL, error, sizeof error);
    xinf_backend_t *cpu = xinf_cpu_backend_new (1), lacking = *cpu;
    lacking.moe_shared = false;
    CHECK (xinf_transformer_check_backend (xinf_model_transformer (model), &lacking, error, sizeof error) == -1
           && strstr (error, "shared experts"));
    xinf_backend_destroy (&cpu);
    xinf_model_destroy (&model);
}

//  GLM-4.5's parts as the loader reads them: the multi-token prediction
//  layer left out of the layers, the leading dense layer, the routing's
//  keys and selection bias, the shared experts' width; what is wrong
//  refused by name.
static void
test_glm4moe_keys (void)
{
    char glm [300], error [512] = "";
    s_make ("glm4moe.gguf", "--arch glm4moe --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 64 --layers 3 "
            "--vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --shared-experts 2 --rope-dims 8 --nextn 1 "
            "--qkv-bias --seed 24", glm, sizeof glm);
    xinf_model_t *model = xinf_model_load (glm, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    const xinf_moe_t *experts = &t->layers [1].moe;
    CHECK (t->n_layers == 3 && !t->layers [0].moe.n_experts && t->layers [0].gate.rows == 64);
    CHECK (experts->n_experts == 4 && experts->sigmoid && experts->selection_bias && experts->normalize
           && experts->weight_scale == 1.5f && experts->shared_ffn == 64 && !experts->shared_router);
    CHECK (t->layers [0].q_bias && t->rope.dims == 8);
    xinf_model_destroy (&model);
    char split [300];
    s_make ("glm4moe-tp.gguf", "--arch glm4moe --dim 32 --heads 2 --kv-heads 2 --head-dim 16 --ffn 64 --layers 3 "
            "--vocab 400 --experts 4 --experts-used 2 --expert-ffn 32 --shared-experts 2 --seed 25", split,
            sizeof split);
    model = xinf_model_load_shard (split, 1, 2, NULL, NULL, error, sizeof error);
    CHECK (model && xinf_model_transformer (model)->layers [2].moe.shared_ffn == 32
           && xinf_model_transformer (model)->layers [2].moe.selection_bias);
    xinf_model_destroy (&model);
    xinf_backend_t *cpu = xinf_cpu_backend_new (1), lacking = *cpu;
    model = xinf_model_load (glm, NULL, NULL, error, sizeof error);
    lacking.moe_sigmoid = false;
    CHECK (xinf_transformer_check_backend (xinf_model_transformer (model), &lacking, error, sizeof error) == -1
           && strstr (error, "sigmoids"));
    xinf_backend_destroy (&cpu);
    xinf_model_destroy (&model);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.nextn_predict_layers", S_U32, 4, 0, NULL }, "no layers left", false);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.leading_dense_block_count", S_U32, 3, 0, NULL },
                      "leading_dense_block_count", false);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.leading_dense_block_count", S_U32, 0, 0, NULL },
                      "blk.0.ffn_gate_inp", false);      //  layer 0 has no experts in the file
    s_expect_refused (glm, &(s_edit_t) { "blk.2.exp_probs_b.bias", S_DROP_TENSOR, 0, 0, NULL }, "exp_probs_b",
                      false);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.expert_gating_func", S_U32, 1, 0, NULL }, "expert_gating_func",
                      false);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.expert_weights_norm", S_U32, 1, 0, NULL }, "expert_weights_norm",
                      false);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.expert_weights_scale", S_F32, 0, -2.0, NULL },
                      "expert_weights_scale", false);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.expert_shared_count", S_U32, 3, 0, NULL }, "ffn_gate_shexp",
                      false);
    //  Keys llama.cpp requires for glm4moe are required here too; the weights' norm read as the file says
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.expert_shared_count", S_DROP, 0, 0, NULL }, "expert_shared_count",
                      false);
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.expert_feed_forward_length", S_DROP, 0, 0, NULL },
                      "expert_feed_forward_length", false);
    model = s_load_edited (glm, &(s_edit_t) { "glm4moe.expert_weights_norm", S_BOOL, 0, 0, NULL });
    CHECK (!xinf_model_transformer (model)->layers [1].moe.normalize);
    xinf_model_destroy (&model);
    //  Without the key every layer of block_count is the trunk's: the fourth, never written, is missing
    s_expect_refused (glm, &(s_edit_t) { "glm4moe.nextn_predict_layers", S_DROP, 0, 0, NULL }, "blk.3.attn_norm",
                      false);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: test_model_keys PATH/TO/xinf-make-model\n");
        return 2;
    }
    s_tool = argv [1];
    test_scratch_begin ();
    RUN (test_gemma3_keys);
    RUN (test_gemma2_keys);
    RUN (test_rope_scaling);
    RUN (test_phi3_keys);
    RUN (test_glm4_keys);
    RUN (test_granite_keys);
    RUN (test_experts_keys);
    RUN (test_gpt_oss_keys);
    RUN (test_shared_expert_keys);
    RUN (test_glm4moe_keys);
    test_scratch_end ();
    return 0;
}
