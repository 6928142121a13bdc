/*  xinf-make-model: writes a random-weight GGUF model, deterministic by
    seed, that xinf (and llama.cpp) can load: Llama-family architecture
    (llama, qwen2, qwen3, qwen3moe, phi3, glm4, granite, gpt-oss, gemma2 or gemma3) or DeepSeek's
    (deepseek2: multi-head latent attention, xinf_make_mla.c), F32/F16/BF16/Q8_0 matrices
    (experts also MXFP4), F32 norms and biases, a valid tokenizer in the metadata. This file reads the options
    and writes the metadata; xinf_make_tensors.c the tensors.

        xinf-make-model --arch qwen2 --type q8_0 --seed 7 -o tiny.gguf
        xinf-make-model --preset qwen2.5-0.5b --type f16 -o qwen-shape.gguf
        xinf-make-model --arch qwen3 --head-dim 32 -o qwen3-tiny.gguf
        xinf-make-model --arch gemma3 --sliding-window 16 -o gemma3-tiny.gguf
        xinf-make-model --arch gemma2 --attn-softcap 0.05 --final-softcap 0.5 -o gemma2-tiny.gguf
        xinf-make-model --arch llama --rope-scaling llama3 -o llama3-rope.gguf
        xinf-make-model --arch qwen2 --rope-scaling yarn --rope-factor 4 --rope-original-context 64 -o yarn.gguf
        xinf-make-model --arch phi3 --rope-scaling longrope --rope-factor 8 --rope-original-context 64 -o phi3.gguf
        xinf-make-model --no-tied --script '<tool_call>{...}</tool_call>' -o says.gguf
        xinf-make-model --arch gpt-oss --type q8_0 --expert-type mxfp4 -o gpt-oss-tiny.gguf
        xinf-make-model --arch deepseek2 --gating sigmoid --expert-bias --expert-norm -o deepseek-v3-tiny.gguf

    Presets: tiny (a test model well under 5 MB; its qwen3 has a head
    dimension of 32 with dim 64 and 4 heads, so Q is 128 x 64 as in real
    Qwen3 files; its gemma3 six layers, five of them local with a window of
    8 positions; its gemma2 four, two of them local; its deepseek2 a dense
    layer and two of experts, heads of 32 + 16 with latents of 64), qwen2.5-0.5b, qwen3-0.6b, llama3.2-1b, phi3-mini, gemma3-1b and gemma2-2b (the
    real shapes, for benchmarks); explicit shape flags override the preset. RoPE scaling:
    linear (rope.scaling.type/factor), yarn (and its original context),
    longrope (phi3: rope_factors_long/short tensors, the attention factor),
    llama3 (the rope_freqs.weight tensor
    of Llama 3 frequency factors, as converters write it) or llama3-keys
    (rope.scaling.type llama3 with its factor, original context and
    low/high frequency factors as keys, for readers that compute them). Tensor data is generated and written in chunks,
    so a large preset never sits in memory. Every tensor has its own PRNG
    stream derived from the seed and its index. --script TEXT makes a
    scripted model instead of a random one: its greedy answer to any prompt
    is TEXT, then its end token (for end-to-end tests of what the gateway
    does with a known model output, e.g. tool calls).
*/
#include "xinf.h"
#include "xinf_arch.h"
#include "xinf_gguf_writer.h"
#include "xinf_make_model.h"
#include "xinf_make_vocab.h"

#include <math.h>

static const xinf_option_t s_options [] = {
    { "output", 'o', NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE", "the GGUF file to write (required)" },
    { "preset", 0, NULL, XINF_OPT_STR, "tiny", 0, 0, "tiny|qwen2.5-0.5b|qwen3-0.6b|llama3.2-1b|phi3-mini|gemma3-1b|gemma2-2b", "NAME",
      "shape preset; the flags below override it" },
    { "arch", 0, NULL, XINF_OPT_STR, NULL, 0, 0,
      "llama|qwen2|qwen2moe|qwen3|qwen3moe|phi3|glm4|glm4moe|deepseek2|granite|granitemoe|gpt-oss|gemma2|gemma3",
      "ARCH",
      "architecture (default: the preset's; tiny: llama)" },
    { "type", 't', NULL, XINF_OPT_STR, "f32", 0, 0, "f32|f16|bf16|q8_0", "TYPE", "type of the weight matrices" },
    { "expert-type", 0, NULL, XINF_OPT_STR, NULL, 0, 0, "f32|f16|bf16|q8_0|mxfp4", "TYPE",
      "type of the experts' matrices (default: --type; GPT-OSS's files: mxfp4)" },
    { "seed", 's', NULL, XINF_OPT_INT, "1", 0, INT64_MAX, NULL, "N", "PRNG seed: same seed, same bytes" },
    { "dim", 0, NULL, XINF_OPT_INT, NULL, 1, 65536, NULL, "N", "embedding length" },
    { "layers", 0, NULL, XINF_OPT_INT, NULL, 1, 1024, NULL, "N", "transformer blocks" },
    { "heads", 0, NULL, XINF_OPT_INT, NULL, 1, 1024, NULL, "N", "attention heads" },
    { "kv-heads", 0, NULL, XINF_OPT_INT, NULL, 1, 1024, NULL, "N", "key/value heads (< heads: GQA; = heads: MHA)" },
    { "head-dim", 0, NULL, XINF_OPT_INT, NULL, 2, 1024, NULL, "N",
      "head dimension (attention.key_length; deepseek2: a query's and key's, qk_nope + qk_rope, key_length_mla; "
      "default: the preset's, else dim / heads)" },
    { "ffn", 0, NULL, XINF_OPT_INT, NULL, 1, 1 << 20, NULL, "N", "feed-forward length" },
    { "vocab", 0, NULL, XINF_OPT_INT, NULL, 387, 1 << 24, NULL, "N", "vocabulary size" },
    { "context", 0, NULL, XINF_OPT_INT, NULL, 1, 1 << 24, NULL, "N", "context length" },
    { "experts", 0, NULL, XINF_OPT_INT, NULL, 0, 1024, NULL, "N",
      "a mixture of experts (qwen3moe; llama: Mixtral's form): experts a layer (default: the preset's)" },
    { "experts-used", 0, NULL, XINF_OPT_INT, NULL, 1, 1024, NULL, "K", "experts a token goes to" },
    { "expert-ffn", 0, NULL, XINF_OPT_INT, NULL, 1, 1 << 20, NULL, "N", "an expert's feed-forward length" },
    { "shared-ffn", 0, NULL, XINF_OPT_INT, NULL, 1, 1 << 20, NULL, "N",
      "a shared expert's feed-forward length (qwen2moe: default --ffn, the key then left out; granitemoe: "
      "granitemoeshared's)" },
    { "shared-experts", 0, NULL, XINF_OPT_INT, "1", 0, 16, NULL, "N",
      "glm4moe, deepseek2: shared experts (expert_shared_count)" },
    { "dense-lead", 0, NULL, XINF_OPT_INT, "1", 0, 1024, NULL, "N",
      "glm4moe, deepseek2: the first N layers dense (leading_dense_block_count)" },
    { "expert-scale", 0, NULL, XINF_OPT_STR, "1.5", 0, 0, NULL, "S", "glm4moe, deepseek2: expert_weights_scale" },
    { "nextn", 0, NULL, XINF_OPT_INT, "0", 0, 4, NULL, "N",
      "glm4moe, deepseek2: N multi-token prediction layers counted in block_count (their tensors left out)" },
    { "kv-lora-rank", 0, NULL, XINF_OPT_INT, NULL, 1, 1 << 16, NULL, "N",
      "deepseek2: the keys' and values' latent (attention.kv_lora_rank; default --dim)" },
    { "q-lora-rank", 0, NULL, XINF_OPT_INT, NULL, 0, 1 << 16, NULL, "N",
      "deepseek2: the queries' latent (attn_q_a, attn_q_a_norm, attn_q_b; 0: attn_q, V2-Lite's; default --dim)" },
    { "v-head-dim", 0, NULL, XINF_OPT_INT, NULL, 1, 4096, NULL, "N",
      "deepseek2: a head's value length (value_length_mla; default --head-dim - --rope-dims)" },
    { "gating", 0, NULL, XINF_OPT_STR, NULL, 0, 0, "softmax|sigmoid", "FUNC",
      "deepseek2: expert_gating_func (default softmax, V2's; V3's sigmoid)" },
    { "expert-bias", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "deepseek2: the experts' selection bias blk.N.exp_probs_b.bias (V3's)" },
    { "expert-norm", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "deepseek2: the chosen experts' weights normalized (expert_weights_norm true)" },
    { "expert-groups", 0, NULL, XINF_OPT_INT, NULL, 1, 1024, NULL, "G",
      "deepseek2: expert_group_count (V3's routing: the experts of the --groups-used best groups only)" },
    { "groups-used", 0, NULL, XINF_OPT_INT, NULL, 1, 1024, NULL, "U", "deepseek2: expert_group_used_count" },
    { "mscale-all-dim", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "X",
      "deepseek2 with --rope-scaling yarn: rope.scaling.yarn_log_multiplier 0.1 X, as convert writes it (default 1, "
      "V3's; 0: no key)" },
    { "sliding-window", 0, NULL, XINF_OPT_INT, NULL, 0, 1 << 24, NULL, "N",
      "gemma3: attention.sliding_window of the local layers (five of every six; 0: no key, every layer global; "
      "default: the preset's); gemma2: every other layer's (0: no key, the loader's default 4096)" },
    { "attn-softcap", 0, NULL, XINF_OPT_STR, "50", 0, 0, NULL, "X", "gemma2: attn_logit_softcapping" },
    { "multipliers", 0, NULL, XINF_OPT_STR, "12,0.22,0.015625,8", 0, 0, NULL, "E,R,A,L",
      "granite: embedding_scale, residual_scale, attention.scale, logit_scale (Granite 3.3 2B's)" },
    { "final-softcap", 0, NULL, XINF_OPT_STR, "30", 0, 0, NULL, "X", "gemma2: final_logit_softcapping" },
    { "tied", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "the output projection is the token embedding (no output.weight)" },
    { "no-tied", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "write a separate output.weight" },
    { "pre", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "NAME",
      "tokenizer.ggml.pre of a gpt2 vocabulary (default: llama-bpe, qwen2 for qwen archs, deepseek-v3 for deepseek2; "
      "e.g. tekken, gpt-4o)" },
    { "rope-dims", 0, NULL, XINF_OPT_INT, NULL, 2, 1024, NULL, "N",
      "rope.dimension_count: RoPE turns a head's first N dimensions (partial rotary; default: all; deepseek2: "
      "qk_rope, the last N, default a third)" },
    { "qkv-bias", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "q, k and v biases where the arch has them optional (llama, glm4; attn_qkv.bias when fused)" },
    { "split-qkv", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "phi3, glm4: attn_q, attn_k and attn_v apart instead of one attn_qkv" },
    { "tokenizer", 0, NULL, XINF_OPT_STR, NULL, 0, 0, "gpt2|llama", "KIND",
      "gpt2 (byte-level BPE) or llama (SentencePiece); default: llama for the llama tiny preset, else gpt2" },
    { "name", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "TEXT", "general.name" },
    { "chat-template", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "a Jinja chat template to store as tokenizer.chat_template" },
    { "script", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "TEXT",
      "a scripted model for end-to-end tests: zero blocks and one-hot embeddings so that its answer to any "
      "prompt is TEXT (in tokens of up to 4 bytes added to the vocabulary, at most dim - 2 of them), then its "
      "end token; gpt2 tokenizer, separate output" },
    { "fim", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "add Qwen2.5-Coder's fill-in-the-middle tokens (<|fim_prefix|>, <|fim_middle|>, <|fim_suffix|>; qwen2 and "
      "qwen3 vocabularies)" },
    { "pooling", 0, NULL, XINF_OPT_STR, NULL, 0, 0, "none|mean|cls|last|rank", "KIND",
      "<arch>.pooling_type, as an embedding model's file names it (default: no key)" },
    { "add-eos", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "tokenizer.ggml.add_eos_token true (an embedding model's, as Qwen3-Embedding's)" },
    { "rerank", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "a reranker as llama.cpp converts Qwen3-Reranker: pooling_type rank, a classification head "
      "cls.output.weight of two outputs (labels yes, no) and a tokenizer.chat_template.rerank prompt" },
    { "std", 0, NULL, XINF_OPT_STR, "0.02", 0, 0, NULL, "X", "standard deviation of the random weights" },
    { "rope-theta", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "X", "rope.freq_base (default: per preset and arch)" },
    { "rope-scaling", 0, NULL, XINF_OPT_STR, NULL, 0, 0, "none|linear|yarn|longrope|llama3|llama3-keys", "KIND",
      "RoPE scaling, not for gemma2; llama3 for llama only (default: the preset's; llama3.2-1b: llama3)" },
    { "rope-factor", 0, NULL, XINF_OPT_STR, "32", 0, 0, NULL, "X", "rope.scaling.factor" },
    { "rope-original-context", 0, NULL, XINF_OPT_INT, "8192", 1, 1 << 24, NULL, "N",
      "original context of Llama 3, YaRN and LongRoPE scaling (Llama 3's low/high frequency factors are 1 and 4)" },
    { 0 }
};


static const xinf_mm_shape_t s_presets [] = {
    { "tiny", "llama", 64, 2, 4, 2, 192, 512, 512, false, 1e-5, 10000, true, 0, "none", 0, 0, 0, 0 },
    { "tiny", "qwen2", 64, 2, 4, 2, 192, 512, 512, true, 1e-6, 1000000, false, 0, "none", 0, 0, 0, 0 },
    { "tiny", "qwen3", 64, 2, 4, 2, 192, 512, 512, true, 1e-6, 1000000, false, 32, "none", 0, 0, 0, 0 },
    //  Six layers: five local (a window of 8 positions) and a global one
    { "tiny", "gemma3", 64, 6, 4, 2, 192, 512, 512, true, 1e-6, 1000000, true, 32, "none", 8, 0, 0, 0 },
    //  Four layers: two local (a window of 8 positions), two global
    { "tiny", "gemma2", 64, 4, 4, 2, 192, 512, 512, true, 1e-6, 10000, true, 32, "none", 8, 0, 0, 0 },
    { "tiny", "phi3", 64, 2, 4, 2, 192, 512, 512, false, 1e-5, 10000, true, 0, "none", 0, 0, 0, 0 },
    { "tiny", "glm4", 64, 2, 4, 2, 192, 512, 512, false, 1e-5, 10000, false, 0, "none", 0, 0, 0, 0 },
    { "tiny", "granite", 64, 2, 4, 2, 192, 512, 512, true, 1e-5, 10000, false, 0, "none", 0, 0, 0, 0 },
    //  Four layers, two local (a window of 8 positions); eight experts of 64, two a token
    { "tiny", "gpt-oss", 64, 4, 4, 2, 192, 512, 512, false, 1e-5, 150000, false, 32, "none", 8, 8, 2, 64 },
    //  Granite 3's mixture: eight experts of ffn 192, two a token
    { "tiny", "granitemoe", 64, 2, 4, 2, 192, 512, 512, true, 1e-5, 10000, false, 0, "none", 0, 8, 2, 192 },
    //  GLM-4.5: a dense layer, then two of eight experts of 64, two a token, chosen by sigmoids, one shared
    { "tiny", "glm4moe", 64, 3, 4, 2, 192, 512, 512, false, 1e-5, 10000, false, 0, "none", 0, 8, 2, 64 },
    //  DeepSeek V2/V3: a dense layer, then two of eight experts of 64, two a token, one shared; heads of
    //  32 + 16 (RoPE) query/key dimensions, latents of --dim (64), one latent for every head
    { "tiny", "deepseek2", 64, 3, 4, 1, 192, 512, 512, false, 1e-6, 10000, false, 48, "none", 0, 8, 2, 64 },
    //  Qwen2-MoE: eight experts of 64, two a token, a shared expert
    { "tiny", "qwen2moe", 64, 2, 4, 2, 192, 512, 512, false, 1e-6, 1000000, false, 0, "none", 0, 8, 2, 64 },
    //  Eight experts of 64, two a token
    { "tiny", "qwen3moe", 64, 2, 4, 2, 192, 512, 512, true, 1e-6, 1000000, false, 32, "none", 0, 8, 2, 64 },
    { "qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, true, 1e-6, 1000000, false, 0, "none", 0, 0, 0, 0 },
    { "qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 3072, 151936, 40960, true, 1e-6, 1000000, false, 128, "none", 0, 0, 0, 0 },
    { "llama3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, true, 1e-5, 500000, false, 0, "llama3", 0, 0, 0, 0 },
    { "phi3-mini", "phi3", 3072, 32, 32, 32, 8192, 32064, 4096, false, 1e-5, 10000, true, 0, "none", 0, 0, 0, 0 },
    { "gemma3-1b", "gemma3", 1152, 26, 4, 1, 6912, 262144, 32768, true, 1e-6, 1000000, true, 256, "none", 512, 0, 0, 0 },
    { "gemma2-2b", "gemma2", 2304, 26, 8, 4, 9216, 256000, 8192, true, 1e-6, 10000, true, 256, "none", 4096, 0, 0, 0 },
};



//  ---- options ---------------------------------------------------------------------

static int
s_number (const char *text, const char *flag, double *value)
{
    char *end;
    *value = text ? strtod (text, &end) : 0;
    if (!text || end == text || *end || !isfinite (*value) || *value <= 0) {
        fprintf (stderr, "xinf-make-model: --%s: '%s' is not a positive number\n", flag, text ? text : "");
        return -1;
    }
    return 0;
}

static const xinf_mm_shape_t *
s_find_preset (const char *preset, const char *arch)
{
    const xinf_mm_shape_t *found = NULL;
    for (size_t index = 0; index < sizeof s_presets / sizeof s_presets [0]; index++)
        if (streq (s_presets [index].preset, preset) && (!found || (arch && streq (s_presets [index].arch, arch))))
            found = &s_presets [index];
    return found;
}

//  Preset first, then arch defaults when --arch names another arch, then
//  the shape flags.
static int
s_shape (xinf_config_t *config, xinf_mm_shape_t *shape)
{
    const char *arch = xinf_config_str (config, "arch");
    *shape = *s_find_preset (xinf_config_str (config, "preset"), arch);
    if (arch && !streq (arch, shape->arch)) {
        const xinf_mm_shape_t *tiny = s_find_preset ("tiny", arch);
        shape->arch = tiny->arch;
        shape->eps = tiny->eps;
        shape->theta = tiny->theta;
        //  Another arch named: its tiny preset's tokenizer (SentencePiece for
        //  gemma3), gpt2 for llama
        shape->spm = tiny->spm && !streq (tiny->arch, "llama");
        shape->head_dim = tiny->head_dim;
        shape->rope_scaling = tiny->rope_scaling;
        shape->window = tiny->window;
        shape->experts = tiny->experts;
        shape->experts_used = tiny->experts_used;
        shape->expert_ffn = tiny->expert_ffn;
    }
    int64_t *fields [] = { &shape->dim, &shape->layers, &shape->heads, &shape->kv_heads,
                           &shape->ffn, &shape->vocab, &shape->context, &shape->head_dim, &shape->window,
                           &shape->experts, &shape->experts_used, &shape->expert_ffn };
    const char *names [] = { "dim", "layers", "heads", "kv-heads", "ffn", "vocab", "context", "head-dim",
                             "sliding-window", "experts", "experts-used", "expert-ffn" };
    for (size_t index = 0; index < sizeof fields / sizeof fields [0]; index++)
        if (xinf_config_str (config, names [index]))
            *fields [index] = xinf_config_int (config, names [index]);
    if (xinf_config_flag (config, "tied") && xinf_config_flag (config, "no-tied")) {
        fprintf (stderr, "xinf-make-model: --tied and --no-tied contradict each other\n");
        return -1;
    }
    if (xinf_config_flag (config, "tied") || xinf_config_flag (config, "no-tied"))
        shape->tied = xinf_config_flag (config, "tied");
    const char *tokenizer = xinf_config_str (config, "tokenizer");
    if (tokenizer)
        shape->spm = streq (tokenizer, "llama");
    if (xinf_config_str (config, "rope-scaling"))
        shape->rope_scaling = xinf_config_str (config, "rope-scaling");
    if (!shape->head_dim)
        shape->head_dim = shape->dim % shape->heads ? 0 : shape->dim / shape->heads;
    return xinf_config_str (config, "rope-theta")
         ? s_number (xinf_config_str (config, "rope-theta"), "rope-theta", &shape->theta) : 0;
}

static int
s_validate (xinf_mm_model_t *model)
{
    xinf_mm_shape_t *shape = &model->shape;
    int64_t head_dim = shape->head_dim;
    const char *problem = NULL;
    if (!head_dim)
        problem = "--dim must be a multiple of --heads, or --head-dim given";
    else
    if (head_dim % 2)
        problem = "the head dimension must be even for RoPE";
    else
    if (!streq (shape->rope_scaling, "none") && !xinf_arch_find (shape->arch)->rope_scaling)
        problem = "--rope-scaling is not for gemma2";
    else
    if (streq (shape->rope_scaling, "yarn") && xinf_arch_find (shape->arch)->swa_rope_base)
        problem = "--rope-scaling yarn is not for gemma3 (its local layers)";
    else
    if (strncmp (shape->rope_scaling, "llama3", 6) == 0 && !xinf_arch_find (shape->arch)->rope_llama3)
        problem = "--rope-scaling llama3 is for llama only";
    else
    if (streq (shape->rope_scaling, "longrope") && !xinf_arch_find (shape->arch)->longrope)
        problem = "--rope-scaling longrope is for phi3 only";
    else
    if (model->split_qkv && !xinf_arch_find (shape->arch)->fused_qkv)
        problem = "--split-qkv is for phi3 and glm4";
    else
    if (model->rope_dims % 2 || model->rope_dims > head_dim)
        problem = "--rope-dims must be even and at most the head dimension";
    else
    if (model->rope_dims && model->rope_dims < head_dim && xinf_arch_find (shape->arch)->whole_rope)
        problem = "--rope-dims is not for llama (llama.cpp refuses such a file)";
    else
    if (shape->window && !xinf_arch_find (shape->arch)->swa_pattern)
        problem = "--sliding-window is for gemma2, gemma3 and gpt-oss only";
    else
    if (!shape->tied && xinf_arch_find (shape->arch)->output_tied)
        problem = "a gemma2 model's output is its token embedding: --no-tied is not for it";
    else
    if (shape->experts ? xinf_arch_find (shape->arch)->experts == XINF_UNUSED
                       : xinf_arch_find (shape->arch)->experts == XINF_REQUIRED)
        problem = "--experts is for qwen2moe, qwen3moe and gpt-oss (needed there), llama and granitemoe";
    else
    if (model->shared_ffn && xinf_arch_find (shape->arch)->shared_expert == XINF_UNUSED)
        problem = "--shared-ffn is for qwen2moe and granitemoe only";
    else
    if (model->type == XINF_GGML_Q8_0 && model->shared_ffn % 32)
        problem = "q8_0 needs --shared-ffn to be a multiple of 32";
    else
    if (shape->experts && (!shape->experts_used || !shape->expert_ffn || shape->experts_used > shape->experts))
        problem = "--experts-used must be 1..--experts, with --expert-ffn";
    else
    if (shape->experts && xinf_arch_find (shape->arch)->experts != XINF_REQUIRED && shape->expert_ffn != shape->ffn)
        problem = "a llama or granitemoe model's experts are --ffn wide: give --expert-ffn as --ffn";
    else
    if ((model->expert_type == XINF_GGML_Q8_0 || model->expert_type == XINF_GGML_MXFP4) && shape->experts
        && (shape->expert_ffn % 32 || shape->dim % 32))
        problem = "q8_0 and mxfp4 experts need --dim and --expert-ffn to be multiples of 32";
    else
    if (shape->kv_heads > shape->heads || shape->heads % shape->kv_heads)
        problem = "--heads must be a multiple of --kv-heads";
    else
    if (model->type == XINF_GGML_Q8_0 && (shape->dim % 32 || shape->ffn % 32 || (shape->heads * head_dim) % 32))
        problem = "q8_0 needs --dim, --ffn and heads x head dim to be multiples of 32";
    if (problem)
        fprintf (stderr, "xinf-make-model: %s (dim %lld, heads %lld, kv-heads %lld, ffn %lld)\n", problem,
                 (long long) shape->dim, (long long) shape->heads, (long long) shape->kv_heads, (long long) shape->ffn);
    return problem ? -1 : 0;
}

//  --multipliers: four positive numbers, comma-separated.
static int
s_multipliers (const char *text, double *values)
{
    char rest [2];
    if (!text || sscanf (text, "%lf,%lf,%lf,%lf%1s", &values [0], &values [1], &values [2], &values [3], rest) != 4
    ||  !(values [0] > 0 && values [1] > 0 && values [2] > 0 && values [3] > 0)) {
        fprintf (stderr, "xinf-make-model: --multipliers: '%s' is not four positive numbers E,R,A,L\n",
                 text ? text : "");
        return -1;
    }
    return 0;
}

static int
s_settings (xinf_config_t *config, xinf_mm_model_t *model)
{
    static const char *types [] = { "f32", "f16", "bf16", "q8_0", "mxfp4" };
    static const uint32_t codes [] = { XINF_GGML_F32, XINF_GGML_F16, XINF_GGML_BF16, XINF_GGML_Q8_0, XINF_GGML_MXFP4 };
    double std;
    if (!(model->output = xinf_config_str (config, "output"))) {
        fprintf (stderr, "xinf-make-model: -o/--output FILE is required (see --help)\n");
        return -1;
    }
    if (s_shape (config, &model->shape) || s_number (xinf_config_str (config, "std"), "std", &std))
        return -1;
    model->std = (float) std;
    if (s_number (xinf_config_str (config, "rope-factor"), "rope-factor", &model->rope_factor)
    ||  s_multipliers (xinf_config_str (config, "multipliers"), model->multipliers)
    ||  s_number (xinf_config_str (config, "attn-softcap"), "attn-softcap", &model->attn_softcap)
    ||  s_number (xinf_config_str (config, "final-softcap"), "final-softcap", &model->final_softcap))
        return -1;
    model->rope_original_context = xinf_config_int (config, "rope-original-context");
    const char *expert_type = xinf_config_str (config, "expert-type");
    for (size_t index = 0; index < 5; index++) {
        if (index < 4 && streq (xinf_config_str (config, "type"), types [index]))
            model->type = codes [index];
        if (streq (expert_type ? expert_type : xinf_config_str (config, "type"), types [index]))
            model->expert_type = codes [index];
    }
    model->seed = (uint64_t) xinf_config_int (config, "seed");
    model->name = xinf_config_str (config, "name");
    model->chat_template_path = xinf_config_str (config, "chat-template");
    model->script = xinf_config_str (config, "script");
    model->fim = xinf_config_flag (config, "fim");
    model->pooling = xinf_config_str (config, "pooling");
    model->add_eos = xinf_config_flag (config, "add-eos");
    model->rerank = xinf_config_flag (config, "rerank");
    model->split_qkv = xinf_config_flag (config, "split-qkv");
    model->qkv_bias = xinf_config_flag (config, "qkv-bias");
    model->pre = xinf_config_str (config, "pre");
    model->rope_dims = xinf_config_str (config, "rope-dims") ? xinf_config_int (config, "rope-dims") : 0;
    model->shared_ffn = xinf_config_str (config, "shared-ffn") ? xinf_config_int (config, "shared-ffn") : 0;
    model->shared_experts = xinf_config_int (config, "shared-experts");
    model->dense_lead = xinf_config_int (config, "dense-lead");
    model->nextn = xinf_config_int (config, "nextn");
    model->expert_scale = atof (xinf_config_str (config, "expert-scale"));
    if (!model->rope_dims && streq (model->shape.arch, "glm4"))     //  GLM-4 turns half of each head
        model->rope_dims = model->shape.head_dim / 2;
    if (model->rerank)
        model->pooling = "rank";
    if (model->script && (model->shape.spm || model->shape.tied || model->type != XINF_GGML_F32)) {
        fprintf (stderr, "xinf-make-model: --script needs the gpt2 tokenizer, a separate output and f32\n");
        return -1;
    }
    return xinf_mm_mla_settings (config, model) || s_validate (model) ? -1 : 0;
}

//  ---- metadata ----------------------------------------------------------------------

static int
s_set_key (xinf_gguf_writer_t *writer, const char *arch, const char *suffix, uint32_t value)
{
    char key [128];
    snprintf (key, sizeof key, "%s.%s", arch, suffix);
    return xinf_gguf_writer_set_u32 (writer, key, value);
}

//  tokenizer.chat_template from --chat-template FILE.
static int
s_chat_template (xinf_mm_model_t *model, xinf_gguf_writer_t *writer)
{
    if (!model->chat_template_path)
        return 0;
    FILE *file = fopen (model->chat_template_path, "rb");
    if (!file) {
        fprintf (stderr, "xinf-make-model: cannot read %s: %s\n", model->chat_template_path, strerror (errno));
        return -1;
    }
    char *text = calloc (1, 1 << 20);
    assert (text);
    size_t size = fread (text, 1, (1 << 20) - 1, file);
    fclose (file);
    text [size] = 0;
    int rc = xinf_gguf_writer_set_str (writer, "tokenizer.chat_template", text);
    free (text);
    return rc;
}

static int
s_set_float (xinf_gguf_writer_t *writer, const char *arch, const char *suffix, double value)
{
    char key [128];
    snprintf (key, sizeof key, "%s.%s", arch, suffix);
    return xinf_gguf_writer_set_f32 (writer, key, (float) value);
}

//  linear: type and factor; yarn: and the original context; llama3-keys:
//  Llama 3's parameters as keys
//  (llama3 writes the rope_freqs.weight tensor instead, s_plan).
static int
s_rope_scaling (xinf_mm_model_t *model, xinf_gguf_writer_t *writer)
{
    const char *arch = model->shape.arch, *scaling = model->shape.rope_scaling;
    char key [128];
    snprintf (key, sizeof key, "%s.rope.scaling.type", arch);
    if (streq (scaling, "linear"))
        return xinf_gguf_writer_set_str (writer, key, "linear")
            || s_set_float (writer, arch, "rope.scaling.factor", model->rope_factor);
    if (streq (scaling, "yarn"))
        return xinf_gguf_writer_set_str (writer, key, "yarn")
            || s_set_float (writer, arch, "rope.scaling.factor", model->rope_factor)
            || s_set_key (writer, arch, "rope.scaling.original_context_length", (uint32_t) model->rope_original_context);
    if (streq (scaling, "longrope")) {       //  the attention factor as Phi-3's converter computes it
        double scale = (double) model->shape.context / (double) model->rope_original_context;
        double attn = scale > 1.0 ? sqrt (1.0 + log (scale) / log ((double) model->rope_original_context)) : 1.0;
        return s_set_key (writer, arch, "rope.scaling.original_context_length", (uint32_t) model->rope_original_context)
            || s_set_float (writer, arch, "rope.scaling.attn_factor", attn);
    }
    if (streq (scaling, "llama3-keys"))
        return xinf_gguf_writer_set_str (writer, key, "llama3")
            || s_set_float (writer, arch, "rope.scaling.factor", model->rope_factor)
            || s_set_key (writer, arch, "rope.scaling.original_context_length", (uint32_t) model->rope_original_context)
            || s_set_float (writer, arch, "rope.scaling.low_freq_factor", 1.0)
            || s_set_float (writer, arch, "rope.scaling.high_freq_factor", 4.0);
    return 0;
}

//  An embedding model's keys: --pooling and --add-eos.
static int
s_embedding (xinf_mm_model_t *model, xinf_gguf_writer_t *writer)
{
    static const char *kinds [] = { "none", "mean", "cls", "last", "rank" };
    for (uint32_t kind = 0; model->pooling && kind < 5; kind++)
        if (streq (model->pooling, kinds [kind]) && s_set_key (writer, model->shape.arch, "pooling_type", kind))
            return -1;
    if (model->add_eos && xinf_gguf_writer_set_bool (writer, "tokenizer.ggml.add_eos_token", true))
        return -1;
    if (!model->rerank)
        return 0;
    //  Qwen3-Reranker's instruction, as llama.cpp's converter writes it
    static const char *prompt = "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
        "Query and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
        "<|im_start|>user\n<Instruct>: Given a web search query, retrieve relevant passages that answer the query\n"
        "<Query>: {query}\n<Document>: {document}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
    const char *labels [] = { "yes", "no" };
    char key [128];
    snprintf (key, sizeof key, "%s.classifier.output_labels", model->shape.arch);
    return xinf_gguf_writer_set_str (writer, "tokenizer.chat_template.rerank", prompt)
        || xinf_gguf_writer_set_str_array (writer, key, labels, NULL, 2) ? -1 : 0;
}

static int
s_metadata (xinf_mm_model_t *model, xinf_gguf_writer_t *writer)
{
    xinf_mm_shape_t *shape = &model->shape;
    const char *arch = shape->arch;
    char name [128], key [128];
    uint32_t file_type = model->type == XINF_GGML_F32 ? 0 : model->type == XINF_GGML_F16 ? 1
                       : model->type == XINF_GGML_Q8_0 ? 7 : 32;
    snprintf (name, sizeof name, "xinf-random-%s-%s", shape->preset, arch);
    int rc = xinf_gguf_writer_set_str (writer, "general.architecture", arch)
          || xinf_gguf_writer_set_str (writer, "general.name", model->name ? model->name : name)
          || xinf_gguf_writer_set_alignment (writer, XINF_GGUF_DEFAULT_ALIGNMENT)
          || xinf_gguf_writer_set_u32 (writer, "general.file_type", file_type)
          || xinf_gguf_writer_set_u64 (writer, "general.xinf_seed", model->seed)
          || s_set_key (writer, arch, "context_length", (uint32_t) shape->context)
          || s_set_key (writer, arch, "embedding_length", (uint32_t) shape->dim)
          || s_set_key (writer, arch, "block_count", (uint32_t) (shape->layers + model->nextn))
          || s_set_key (writer, arch, "feed_forward_length", (uint32_t) shape->ffn)
          || s_set_key (writer, arch, "attention.head_count", (uint32_t) shape->heads)
          || s_set_key (writer, arch, "attention.head_count_kv", (uint32_t) shape->kv_heads)
          || s_set_key (writer, arch, "rope.dimension_count",
                        (uint32_t) (model->rope_dims ? model->rope_dims : shape->head_dim))
          || s_set_key (writer, arch, "vocab_size", (uint32_t) shape->vocab);
    if (!xinf_arch_find (arch)->mla
    &&  (xinf_arch_find (arch)->tensors [XINF_LT_Q_NORM] || shape->head_dim * shape->heads != shape->dim))
        rc = rc || s_set_key (writer, arch, "attention.key_length", (uint32_t) shape->head_dim)
                || s_set_key (writer, arch, "attention.value_length", (uint32_t) shape->head_dim);
    snprintf (key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    rc = rc || xinf_gguf_writer_set_f32 (writer, key, (float) shape->eps);
    snprintf (key, sizeof key, "%s.rope.freq_base", arch);
    rc = rc || xinf_gguf_writer_set_f32 (writer, key, (float) shape->theta);
    if (shape->experts)
        rc = rc || s_set_key (writer, arch, "expert_count", (uint32_t) shape->experts)
                || s_set_key (writer, arch, "expert_used_count", (uint32_t) shape->experts_used);
    //  Mixtral's experts (llama) are feed_forward_length wide
    if (shape->experts && xinf_arch_find (arch)->experts == XINF_REQUIRED)
        rc = rc || s_set_key (writer, arch, "expert_feed_forward_length", (uint32_t) shape->expert_ffn);
    if (model->shared_ffn)
        rc = rc || s_set_key (writer, arch, "expert_shared_feed_forward_length", (uint32_t) model->shared_ffn);
    if (xinf_arch_find (arch)->experts_sigmoid && !xinf_arch_find (arch)->gating_keyed) {
        rc = rc || s_set_key (writer, arch, "expert_shared_count", (uint32_t) model->shared_experts)
                || s_set_key (writer, arch, "leading_dense_block_count", (uint32_t) model->dense_lead)
                || s_set_key (writer, arch, "expert_gating_func", 2)
                || s_set_float (writer, arch, "expert_weights_scale", model->expert_scale);
        snprintf (key, sizeof key, "%s.expert_weights_norm", arch);
        rc = rc || xinf_gguf_writer_set_bool (writer, key, true);
    }
    if (model->nextn)
        rc = rc || s_set_key (writer, arch, "nextn_predict_layers", (uint32_t) model->nextn);
    if (shape->window)
        rc = rc || s_set_key (writer, arch, "attention.sliding_window", (uint32_t) shape->window);
    if (shape->window && xinf_arch_find (arch)->swa_rope_base) {
        snprintf (key, sizeof key, "%s.rope.freq_base_swa", arch);
        rc = rc || xinf_gguf_writer_set_f32 (writer, key, (float) xinf_arch_find (arch)->swa_rope_base);
    }
    static const char *const multipliers [4] = { "embedding_scale", "residual_scale", "attention.scale", "logit_scale" };
    for (size_t index = 0; index < 4 && xinf_arch_find (arch)->multipliers; index++)
        rc = rc || s_set_float (writer, arch, multipliers [index], model->multipliers [index]);
    if (xinf_arch_find (arch)->softcaps) {
        snprintf (key, sizeof key, "%s.attn_logit_softcapping", arch);
        rc = rc || xinf_gguf_writer_set_f32 (writer, key, (float) model->attn_softcap);
        snprintf (key, sizeof key, "%s.final_logit_softcapping", arch);
        rc = rc || xinf_gguf_writer_set_f32 (writer, key, (float) model->final_softcap);
    }
    return rc || xinf_mm_mla_metadata (model, writer) || s_rope_scaling (model, writer)
        || s_chat_template (model, writer) || s_embedding (model, writer) ? -1 : 0;
}

static int
s_make (xinf_mm_model_t *model)
{
    int64_t start = zclock_mono ();
    xinf_mm_shape_t *shape = &model->shape;
    char error [256] = "";
    xinf_vocab_kind_t kind = shape->spm ? XINF_VOCAB_SPM
                           : streq (shape->arch, "llama") ? XINF_VOCAB_LLAMA3
                           : streq (shape->arch, "gpt-oss") ? XINF_VOCAB_HARMONY : XINF_VOCAB_QWEN2;
    if (model->fim && kind != XINF_VOCAB_QWEN2) {
        fprintf (stderr, "xinf-make-model: --fim needs a qwen2 or qwen3 model with the gpt2 tokenizer\n");
        return 1;
    }
    xinf_make_vocab_t *vocab = xinf_make_vocab_new (kind, (uint32_t) shape->vocab, model->seed, model->fim, error,
                                                    sizeof error);
    if (!vocab) {
        fprintf (stderr, "xinf-make-model: %s\n", error);
        return 1;
    }
    //  GLM-4's pre-tokenizer, DeepSeek V3's, unless --pre names another
    const char *pre = model->pre ? model->pre : streq (shape->arch, "glm4") ? "glm4"
                    : streq (shape->arch, "deepseek2") ? "deepseek-v3"
                    : streq (shape->arch, "granite") || streq (shape->arch, "granitemoe") ? "refact" : NULL;
    if (pre && xinf_make_vocab_set_pre (vocab, pre)) {
        fprintf (stderr, "xinf-make-model: --pre is for a gpt2 vocabulary\n");
        xinf_make_vocab_destroy (&vocab);
        return 1;
    }
    if (model->script) {
        if (xinf_make_vocab_add_script (vocab, model->script, &model->script_first, &model->script_count)
        ||  model->script_count + 2 > (uint32_t) shape->dim) {
            fprintf (stderr, "xinf-make-model: --script: %u tokens need a --dim of at least %u\n",
                     model->script_count, model->script_count + 2);
            xinf_make_vocab_destroy (&vocab);
            return 1;
        }
        shape->vocab += model->script_count;
        model->script_end = xinf_make_vocab_end (vocab);
    }
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    int rc = !writer || s_metadata (model, writer) || xinf_make_vocab_store (vocab, writer)
          || xinf_mm_write_tensors (model, writer);
    xinf_make_vocab_destroy (&vocab);
    if (rc)
        fprintf (stderr, "xinf-make-model: %s\n", writer ? xinf_gguf_writer_error (writer) : "out of memory");
    else
        printf ("xinf-make-model: wrote %s: %s %s, dim %lld, %lld layers, %lld/%lld heads of %lld, RoPE scaling %s, "
                "ffn %lld, vocab %lld (%s), %s, %llu bytes in %.2f s\n", model->output, shape->arch,
                xinf_ggml_type_name (model->type), (long long) shape->dim, (long long) shape->layers,
                (long long) shape->heads, (long long) shape->kv_heads, (long long) shape->head_dim, shape->rope_scaling,
                (long long) shape->ffn, (long long) shape->vocab,
                shape->spm ? "llama" : "gpt2", shape->tied ? "tied" : "separate output",
                (unsigned long long) xinf_gguf_writer_offset (writer), (double) (zclock_mono () - start) / 1000.0);
    xinf_gguf_writer_destroy (&writer);
    return rc ? 1 : 0;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-make-model", "-o FILE [options]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc == 1) {
        xinf_config_destroy (&config);
        return 0;
    }
    if (rc < 0 || xinf_config_positionals (config) > 0) {
        fprintf (stderr, "xinf-make-model: %s\n", rc < 0 ? xinf_config_error (config) : "unexpected argument (see --help)");
        xinf_config_destroy (&config);
        return 2;
    }
    xinf_mm_model_t model = { .type = XINF_GGML_F32 };
    rc = s_settings (config, &model) ? 2 : s_make (&model);
    xinf_config_destroy (&config);
    return rc;
}
