/*  test_make_model: runs xinf-make-model (its path is argv [1]) and reads
    the files back: hyperparameters, tensor names, shapes and types for
    each arch and weight type, the tokenizer's consistency and special
    tokens (BOS, EOS, EOT, EOM, add_bos per kind), the size of the
    tiny model, determinism by seed, and the flags' errors.
*/
#include "test_models.h"
#include "xinf_fp16.h"
#include "xinf_gguf.h"
#include "xinf_model.h"

#include <math.h>
#include <sys/wait.h>

static const char *s_tool;

//  Runs the tool with 'arguments'; returns its exit status.
static int
s_run (const char *arguments)
{
    char command [1200];
    snprintf (command, sizeof command, "'%s' %s > /dev/null", s_tool, arguments);
    int status = system (command);
    CHECK (status != -1 && WIFEXITED (status));
    return WEXITSTATUS (status);
}

static xinf_gguf_t *
s_make (const char *name, const char *arguments)
{
    char path [300], full [1000], error [512];
    test_path (path, sizeof path, name);
    snprintf (full, sizeof full, "%s -o '%s'", arguments, path);
    CHECK_INT (s_run (full), 0);
    xinf_gguf_t *gguf = xinf_gguf_open (path, error, sizeof error);
    if (!gguf)
        fprintf (stderr, "%s\n", error);
    CHECK (gguf);
    CHECK_INT (xinf_gguf_load_tensors (gguf), 0);
    return gguf;
}

static uint64_t
s_uint (xinf_gguf_t *gguf, const char *arch, const char *suffix)
{
    char key [128];
    uint64_t value = 0;
    snprintf (key, sizeof key, "%s.%s", arch, suffix);
    CHECK (xinf_gguf_get_uint (gguf, key, &value) == 0);
    return value;
}

static void
s_expect (xinf_gguf_t *gguf, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1)
{
    uint64_t ne [2] = { ne0, ne1 };
    const xinf_gguf_tensor_t *tensor = xinf_gguf_expect_tensor (gguf, name, ne1 ? 2 : 1, ne);
    if (!tensor)
        fprintf (stderr, "%s\n", xinf_gguf_error (gguf));
    CHECK (tensor);
    CHECK_INT (tensor->type, type);
}

//  Mean and standard deviation of a tensor's values.
static void
s_stats (const xinf_gguf_tensor_t *tensor, double *mean, double *deviation)
{
    size_t count = (size_t) tensor->n_elements;
    float *values = malloc (count * sizeof (float));
    const uint8_t *data = tensor->data;
    if (tensor->type == XINF_GGML_Q8_0)
        xinf_dequantize_q8_0 (data, count, values);
    for (size_t index = 0; tensor->type != XINF_GGML_Q8_0 && index < count; index++) {
        uint16_t half = (uint16_t) (data [2 * index] | (data [2 * index + 1] << 8));
        if (tensor->type == XINF_GGML_F32)
            memcpy (&values [index], data + 4 * index, 4);
        else
            values [index] = tensor->type == XINF_GGML_F16 ? xinf_fp16_to_fp32 (half) : xinf_bf16_to_fp32 (half);
    }
    double sum = 0, squares = 0;
    for (size_t index = 0; index < count; index++)
        sum += values [index], squares += (double) values [index] * values [index];
    *mean = sum / (double) count;
    *deviation = sqrt (squares / (double) count - *mean * *mean);
    free (values);
}

//  The text of the token a '*_token_id' key names, or NULL without the key;
//  the token is a control token.
static const char *
s_special (xinf_gguf_t *gguf, const char *key)
{
    uint64_t id, vocab;
    int64_t token_type;
    xinf_gguf_type_t type;
    if (!xinf_gguf_has (gguf, key))
        return NULL;
    CHECK (xinf_gguf_kv_type (gguf, (size_t) xinf_gguf_find_key (gguf, key)) == XINF_GGUF_UINT32);
    CHECK (xinf_gguf_get_uint (gguf, key, &id) == 0);
    CHECK (xinf_gguf_get_array (gguf, "tokenizer.ggml.tokens", &type, &vocab) == 0 && id < vocab);
    size_t types = (size_t) xinf_gguf_find_key (gguf, "tokenizer.ggml.token_type");
    CHECK (xinf_gguf_array_int (gguf, types, id, &token_type) == 0 && token_type == XINF_TOKEN_CONTROL);
    return xinf_gguf_array_str (gguf, (size_t) xinf_gguf_find_key (gguf, "tokenizer.ggml.tokens"), id, NULL);
}

//  BOS, EOS, EOT, EOM and add_bos_token per vocabulary kind: SentencePiece
//  <s> </s>, BOS added; Qwen2 <|endoftext|> for both, EOT <|im_end|>, no
//  BOS added; Llama 3 <|begin_of_text|> <|end_of_text|>, EOT <|eot_id|>,
//  EOM <|eom_id|>, BOS added.
static void
s_check_specials (xinf_gguf_t *gguf, bool spm)
{
    const char *pre = xinf_gguf_get_str (gguf, "tokenizer.ggml.pre");
    bool qwen2 = !spm && pre && streq (pre, "qwen2"), add_bos = qwen2;
    CHECK (spm || qwen2 || (pre && streq (pre, "llama-bpe")));
    CHECK (xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_bos_token", &add_bos) == 0);
    CHECK (add_bos == !qwen2);
    const char *bos = s_special (gguf, "tokenizer.ggml.bos_token_id"), *eos = s_special (gguf, "tokenizer.ggml.eos_token_id");
    const char *eot = s_special (gguf, "tokenizer.ggml.eot_token_id"), *eom = s_special (gguf, "tokenizer.ggml.eom_token_id");
    CHECK_STR (bos, spm ? "<s>" : qwen2 ? "<|endoftext|>" : "<|begin_of_text|>");
    CHECK_STR (eos, spm ? "</s>" : qwen2 ? "<|endoftext|>" : "<|end_of_text|>");
    if (spm)
        CHECK (!eot && !eom);
    else
        CHECK_STR (eot, qwen2 ? "<|im_end|>" : "<|eot_id|>");
    if (!spm && qwen2)
        CHECK (!eom);
    if (!spm && !qwen2)
        CHECK_STR (eom, "<|eom_id|>");
}

//  Each merge joins two tokens of the vocabulary into a third one.
static void
s_check_vocab (xinf_gguf_t *gguf, uint64_t vocab, bool spm)
{
    uint64_t count;
    xinf_gguf_type_t type;
    CHECK (xinf_gguf_get_array (gguf, "tokenizer.ggml.tokens", &type, &count) == 0);
    CHECK (type == XINF_GGUF_STRING && count == vocab);
    CHECK (xinf_gguf_get_array (gguf, "tokenizer.ggml.token_type", &type, &count) == 0);
    CHECK (type == XINF_GGUF_INT32 && count == vocab);
    size_t tokens = (size_t) xinf_gguf_find_key (gguf, "tokenizer.ggml.tokens");
    size_t types = (size_t) xinf_gguf_find_key (gguf, "tokenizer.ggml.token_type");
    zhashx_t *known = zhashx_new ();
    for (uint64_t id = 0; id < vocab; id++)
        CHECK (zhashx_insert (known, xinf_gguf_array_str (gguf, tokens, id, NULL), (void *) (uintptr_t) (id + 1)) == 0);
    uint64_t bos, eos;
    int64_t token_type;
    CHECK (xinf_gguf_get_uint (gguf, "tokenizer.ggml.bos_token_id", &bos) == 0 && bos < vocab);
    CHECK (xinf_gguf_get_uint (gguf, "tokenizer.ggml.eos_token_id", &eos) == 0 && eos < vocab);
    CHECK (xinf_gguf_array_int (gguf, types, eos, &token_type) == 0 && token_type == 3);
    if (spm) {
        CHECK_STR (xinf_gguf_get_str (gguf, "tokenizer.ggml.model"), "llama");
        CHECK_STR (xinf_gguf_array_str (gguf, tokens, 0, NULL), "<unk>");
        CHECK_STR (xinf_gguf_array_str (gguf, tokens, 3 + 0x41, NULL), "<0x41>");
        CHECK (xinf_gguf_array_int (gguf, types, 3 + 0xff, &token_type) == 0 && token_type == 6);
        CHECK (xinf_gguf_array_int (gguf, types, 0, &token_type) == 0 && token_type == 2);
        CHECK (xinf_gguf_get_array (gguf, "tokenizer.ggml.scores", &type, &count) == 0 && count == vocab);
        CHECK (zhashx_lookup (known, "\xe2\x96\x81the"));
    }
    else {
        CHECK_STR (xinf_gguf_get_str (gguf, "tokenizer.ggml.model"), "gpt2");
        CHECK_STR (xinf_gguf_array_str (gguf, tokens, 0, NULL), "!");
        CHECK (zhashx_lookup (known, "\xc4\xa0the"));               //  "Ġthe"
        CHECK (xinf_gguf_get_array (gguf, "tokenizer.ggml.merges", &type, &count) == 0 && count >= vocab - 256 - 256);
        size_t merges = (size_t) xinf_gguf_find_key (gguf, "tokenizer.ggml.merges");
        for (uint64_t index = 0; index < count; index++) {
            char text [256];
            snprintf (text, sizeof text, "%s", xinf_gguf_array_str (gguf, merges, index, NULL));
            char *space = strchr (text, ' ');
            CHECK (space && !strchr (space + 1, ' '));
            *space = 0;
            CHECK (zhashx_lookup (known, text) && zhashx_lookup (known, space + 1));
            memmove (space, space + 1, strlen (space + 1) + 1);
            CHECK (zhashx_lookup (known, text));
        }
    }
    zhashx_destroy (&known);
    s_check_specials (gguf, spm);
}

static void
s_check_model (xinf_gguf_t *gguf, const char *arch, uint32_t type, bool tied, bool spm,
               uint64_t dim, uint64_t layers, uint64_t heads, uint64_t kv_heads, uint64_t ffn, uint64_t vocab)
{
    CHECK_STR (xinf_gguf_get_str (gguf, "general.architecture"), arch);
    CHECK (xinf_gguf_get_str (gguf, "general.name") != NULL);
    CHECK_INT (xinf_gguf_alignment (gguf), 32);
    CHECK_INT (s_uint (gguf, arch, "embedding_length"), dim);
    CHECK_INT (s_uint (gguf, arch, "block_count"), layers);
    CHECK_INT (s_uint (gguf, arch, "attention.head_count"), heads);
    CHECK_INT (s_uint (gguf, arch, "attention.head_count_kv"), kv_heads);
    CHECK_INT (s_uint (gguf, arch, "feed_forward_length"), ffn);
    CHECK (s_uint (gguf, arch, "context_length") > 0);
    char key [128];
    double eps, theta;
    snprintf (key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    CHECK (xinf_gguf_get_float (gguf, key, &eps) == 0 && eps > 0 && eps < 1e-4);
    snprintf (key, sizeof key, "%s.rope.freq_base", arch);
    CHECK (xinf_gguf_get_float (gguf, key, &theta) == 0 && theta >= 10000);
    bool qwen2 = streq (arch, "qwen2");
    uint64_t kv_dim = dim / heads * kv_heads;
    s_expect (gguf, "token_embd.weight", type, dim, vocab);
    s_expect (gguf, "output_norm.weight", XINF_GGML_F32, dim, 0);
    for (uint64_t layer = 0; layer < layers; layer++) {
        char name [64];
        #define S_NAME(suffix) (snprintf (name, sizeof name, "blk.%llu.%s", (unsigned long long) layer, suffix), name)
        s_expect (gguf, S_NAME ("attn_norm.weight"), XINF_GGML_F32, dim, 0);
        s_expect (gguf, S_NAME ("attn_q.weight"), type, dim, dim);
        s_expect (gguf, S_NAME ("attn_k.weight"), type, dim, kv_dim);
        s_expect (gguf, S_NAME ("attn_v.weight"), type, dim, kv_dim);
        s_expect (gguf, S_NAME ("attn_output.weight"), type, dim, dim);
        s_expect (gguf, S_NAME ("ffn_norm.weight"), XINF_GGML_F32, dim, 0);
        s_expect (gguf, S_NAME ("ffn_gate.weight"), type, dim, ffn);
        s_expect (gguf, S_NAME ("ffn_up.weight"), type, dim, ffn);
        s_expect (gguf, S_NAME ("ffn_down.weight"), type, ffn, dim);
        if (qwen2) {
            s_expect (gguf, S_NAME ("attn_q.bias"), XINF_GGML_F32, dim, 0);
            s_expect (gguf, S_NAME ("attn_k.bias"), XINF_GGML_F32, kv_dim, 0);
            s_expect (gguf, S_NAME ("attn_v.bias"), XINF_GGML_F32, kv_dim, 0);
        }
        else
            CHECK (xinf_gguf_find_tensor (gguf, S_NAME ("attn_q.bias")) == NULL);
        #undef S_NAME
    }
    if (tied)
        CHECK (xinf_gguf_find_tensor (gguf, "output.weight") == NULL);
    else
        s_expect (gguf, "output.weight", type, dim, vocab);
    CHECK_INT (xinf_gguf_tensor_count (gguf), 2 + layers * (qwen2 ? 12 : 9) + (tied ? 0 : 1));
    //  Small random weights, norms near 1.
    double mean, deviation;
    s_stats (xinf_gguf_find_tensor (gguf, "blk.0.ffn_up.weight"), &mean, &deviation);
    CHECK (fabs (mean) < 0.002 && deviation > 0.017 && deviation < 0.023);
    s_stats (xinf_gguf_find_tensor (gguf, "output_norm.weight"), &mean, &deviation);
    CHECK (fabs (mean - 1.0) < 0.02 && deviation < 0.05);
    s_check_vocab (gguf, vocab, spm);
}

static void
test_tiny_models (void)
{
    static const char *types [] = { "f32", "f16", "bf16", "q8_0" };
    static const uint32_t codes [] = { XINF_GGML_F32, XINF_GGML_F16, XINF_GGML_BF16, XINF_GGML_Q8_0 };
    for (int arch = 0; arch < 2; arch++)
        for (int type = 0; type < 4; type++) {
            char arguments [200], name [64];
            snprintf (arguments, sizeof arguments, "--arch %s --type %s --seed 7", arch ? "qwen2" : "llama", types [type]);
            snprintf (name, sizeof name, "tiny-%d-%d.gguf", arch, type);
            xinf_gguf_t *gguf = s_make (name, arguments);
            //  Defaults of the tiny preset: llama untied with a SentencePiece vocab, qwen2 tied with gpt2.
            s_check_model (gguf, arch ? "qwen2" : "llama", codes [type], arch == 1, arch == 0, 64, 2, 4, 2, 192, 512);
            CHECK (xinf_gguf_file_size (gguf) < 5 * 1000 * 1000);
            xinf_gguf_destroy (&gguf);
        }
}

static void
test_variants (void)
{
    xinf_gguf_t *gguf = s_make ("llama-tied-gpt2.gguf", "--arch llama --tied --tokenizer gpt2");
    s_check_model (gguf, "llama", XINF_GGML_F32, true, false, 64, 2, 4, 2, 192, 512);
    uint64_t bos, eos;
    CHECK (xinf_gguf_get_uint (gguf, "tokenizer.ggml.bos_token_id", &bos) == 0);
    CHECK (xinf_gguf_get_uint (gguf, "tokenizer.ggml.eos_token_id", &eos) == 0 && eos == bos + 1);
    CHECK_STR (xinf_gguf_array_str (gguf, (size_t) xinf_gguf_find_key (gguf, "tokenizer.ggml.tokens"), bos, NULL),
               "<|begin_of_text|>");
    xinf_gguf_destroy (&gguf);

    gguf = s_make ("qwen2-untied-spm.gguf", "--arch qwen2 --no-tied --tokenizer llama --type q8_0");
    s_check_model (gguf, "qwen2", XINF_GGML_Q8_0, false, true, 64, 2, 4, 2, 192, 512);
    xinf_gguf_destroy (&gguf);

    //  MHA and explicit shapes.
    gguf = s_make ("mha.gguf", "--arch qwen2 --type f16 --dim 128 --layers 3 --heads 4 --kv-heads 4 --ffn 320 "
                   "--vocab 1000 --context 77 --name shaped");
    s_check_model (gguf, "qwen2", XINF_GGML_F16, true, false, 128, 3, 4, 4, 320, 1000);
    CHECK_INT (s_uint (gguf, "qwen2", "context_length"), 77);
    CHECK_STR (xinf_gguf_get_str (gguf, "general.name"), "shaped");
    xinf_gguf_destroy (&gguf);
}

//  The tokenizer of each kind, as xinf loads it: the end-of-generation ids
//  are exactly EOS, EOT and EOM (no other end marker is generated), BOS is
//  added for llama and Llama 3 only.
static void
test_end_tokens (void)
{
    const char *arguments [] = { "--arch llama", "--arch qwen2", "--arch llama --tokenizer gpt2" };
    const int32_t ends [3] [3] = { { 2, -1, -1 }, { 509, 511, -1 }, { 507, 511, 510 } };
    for (int kind = 0; kind < 3; kind++) {
        char path [300], full [1000], error [512] = "";
        test_path (path, sizeof path, "ends.gguf");
        snprintf (full, sizeof full, "%s -o '%s'", arguments [kind], path);
        CHECK_INT (s_run (full), 0);
        xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (path, error, sizeof error);
        CHECK (tokenizer);
        int32_t ids [8];
        size_t count = xinf_tokenizer_end_ids (tokenizer, ids, 8);
        CHECK_INT (count, kind + 1);
        for (size_t index = 0; index < count; index++)
            CHECK_INT (ids [index], ends [kind] [index]);
        CHECK_INT (xinf_tokenizer_eot (tokenizer), ends [kind] [1]);
        CHECK_INT (xinf_tokenizer_eom (tokenizer), ends [kind] [2]);
        CHECK (xinf_tokenizer_add_bos (tokenizer) == (kind != 1));
        CHECK_STR (xinf_tokenizer_notes (tokenizer), "");
        xinf_tokenizer_destroy (&tokenizer);
    }
}

//  A Llama 3 sized vocabulary has the real files' 256 specials at their ids.
static void
test_llama3_ids (void)
{
    xinf_gguf_t *gguf = s_make ("llama3-vocab.gguf", "--preset llama3.2-1b --dim 32 --layers 1 --heads 2 "
                                "--kv-heads 1 --ffn 32 --context 64");
    uint64_t id;
    const char *keys [] = { "bos", "eos", "eom", "eot" };
    const uint64_t ids [] = { 128000, 128001, 128008, 128009 };
    for (size_t index = 0; index < 4; index++) {
        char key [64];
        snprintf (key, sizeof key, "tokenizer.ggml.%s_token_id", keys [index]);
        CHECK (xinf_gguf_get_uint (gguf, key, &id) == 0);
        CHECK_INT (id, ids [index]);
    }
    size_t tokens = (size_t) xinf_gguf_find_key (gguf, "tokenizer.ggml.tokens");
    CHECK_STR (xinf_gguf_array_str (gguf, tokens, 128002, NULL), "<|reserved_special_token_0|>");
    CHECK_STR (xinf_gguf_array_str (gguf, tokens, 128006, NULL), "<|start_header_id|>");
    CHECK_STR (xinf_gguf_array_str (gguf, tokens, 128010, NULL), "<|python_tag|>");
    CHECK_STR (xinf_gguf_array_str (gguf, tokens, 128011, NULL), "<|reserved_special_token_3|>");
    CHECK_STR (xinf_gguf_array_str (gguf, tokens, 128255, NULL), "<|reserved_special_token_247|>");
    s_check_specials (gguf, false);
    xinf_gguf_destroy (&gguf);
}

static void
test_determinism (void)
{
    char one [300], two [300], three [300], arguments [1000];
    test_path (one, sizeof one, "seed-a.gguf");
    test_path (two, sizeof two, "seed-b.gguf");
    test_path (three, sizeof three, "seed-c.gguf");
    snprintf (arguments, sizeof arguments, "--arch qwen2 --type q8_0 --seed 42 -o '%s'", one);
    CHECK_INT (s_run (arguments), 0);
    snprintf (arguments, sizeof arguments, "--arch qwen2 --type q8_0 --seed 42 -o '%s'", two);
    CHECK_INT (s_run (arguments), 0);
    snprintf (arguments, sizeof arguments, "--arch qwen2 --type q8_0 --seed 43 -o '%s'", three);
    CHECK_INT (s_run (arguments), 0);
    size_t size_one, size_two, size_three;
    uint8_t *a = test_read_file (one, &size_one), *b = test_read_file (two, &size_two), *c = test_read_file (three, &size_three);
    CHECK (size_one == size_two && test_hash (a, size_one) == test_hash (b, size_two));
    CHECK (memcmp (a, b, size_one) == 0);
    CHECK (test_hash (a, size_one) != test_hash (c, size_three));
    free (a), free (b), free (c);
}

static void
test_bad_flags (void)
{
    char path [300], arguments [1000];
    test_path (path, sizeof path, "never.gguf");
    const char *bad [] = {
        "--type q8_0 --dim 48 --heads 4 --kv-heads 2",  //  not a multiple of 32
        "--dim 64 --heads 5",                           //  heads do not divide dim
        "--heads 4 --kv-heads 3",
        "--tied --no-tied",
        "--type f8",
        "--arch gpt5",
        "--std -1",
        "--vocab 100",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        snprintf (arguments, sizeof arguments, "%s -o '%s' 2>/dev/null", bad [index], path);
        CHECK_INT (s_run (arguments), 2);
        CHECK (access (path, F_OK) != 0);
    }
    CHECK_INT (s_run ("2>/dev/null"), 2);               //  no -o
    CHECK_INT (s_run ("--help"), 0);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: test_make_model PATH-TO-xinf-make-model\n");
        return 2;
    }
    s_tool = argv [1];
    test_scratch_begin ();
    RUN (test_tiny_models);
    RUN (test_variants);
    RUN (test_end_tokens);
    RUN (test_llama3_ids);
    RUN (test_determinism);
    RUN (test_bad_flags);
    test_scratch_end ();
    return 0;
}
