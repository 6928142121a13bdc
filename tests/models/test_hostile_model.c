/*  test_hostile_model: hostile and broken model files through the model
    loader (xinf_model_load, xinf_model_load_tokenizer), not only the GGUF
    reader: every hyperparameter out of its range, products that would
    overflow (key_length 2^63+4), tokenizer arrays of the wrong length or
    type (an empty tokenizer.ggml.scores), tensors that do not match the
    hyperparameters, unsupported RoPE scaling, a FIFO and a directory (never
    opened for reading: no hang), a file truncated between opening and
    reading (an error, not a SIGBUS) and after loading (the model keeps
    working: it owns its weights). Each must fail with an error naming the
    file and the field, never crash or leak (the ASan build runs it too).
    The architectures' own keys are test_model_keys's.

    Then a fuzz: thousands of mutated copies of three small models (qwen3 with
    a byte-level BPE vocabulary, llama, gemma3, gemma2 and phi3 (LongRoPE) with SentencePiece
    ones, a qwen3moe, a glm4 with fused biases, a granite, a gpt-oss with MXFP4
    experts, a qwen2moe with its shared expert, a glm4moe and a deepseek2
    with latent attention and groups of experts), with
    deterministic seeds, through both loaders; a file that loads must
    tokenize, decode and run a forward pass.

        test_hostile_model PATH/TO/xinf-make-model
*/
#include "test_gguf_edit.h"

#include <math.h>
#include <sys/stat.h>


static void
test_hyperparameters (void)
{
    char qwen3 [300], llama [300];
    s_make ("qwen3.gguf", "--arch qwen3 --seed 3", qwen3, sizeof qwen3);
    s_make ("llama.gguf", "--arch llama --seed 4", llama, sizeof llama);
    const uint64_t huge = (1ull << 63) + 4;
    const struct { const char *key; s_edit_kind_t kind; uint64_t number; const char *needle; } cases [] = {
        { "qwen3.attention.key_length", S_U64, huge, "'qwen3.attention.key_length' is 9223372036854775812, outside" },
        { "qwen3.attention.key_length", S_U64, UINT64_MAX, "qwen3.attention.key_length" },
        { "qwen3.attention.key_length", S_U32, 0, "qwen3.attention.key_length" },
        { "qwen3.attention.key_length", S_U32, 33, "it must be even" },
        { "qwen3.attention.key_length", S_U32, 16, "value_length 32 differs from the key length 16" },
        { "qwen3.attention.head_count", S_U32, 8, "tensor 'blk.0.attn_q.weight'" },
        { "qwen3.feed_forward_length", S_U32, 96, "tensor 'blk.0.ffn_gate.weight'" },
        { "qwen3.attention.value_length", S_U32, 64, "value_length 64 differs" },
        { "qwen3.attention.head_count", S_U32, 0, "qwen3.attention.head_count" },
        { "qwen3.attention.head_count", S_U64, huge, "qwen3.attention.head_count" },
        { "qwen3.attention.head_count_kv", S_U32, 3, "not a multiple of head_count_kv" },
        { "qwen3.attention.head_count_kv", S_U64, 0, "qwen3.attention.head_count_kv" },
        { "qwen3.embedding_length", S_U64, 1ull << 40, "qwen3.embedding_length" },
        { "qwen3.embedding_length", S_U32, 32, "tensor 'token_embd.weight'" },
        { "qwen3.block_count", S_U32, 1000000, "qwen3.block_count" },
        { "qwen3.block_count", S_U32, 3, "blk.2." },
        { "qwen3.feed_forward_length", S_U64, UINT64_MAX, "qwen3.feed_forward_length" },
        { "qwen3.context_length", S_U64, huge, "qwen3.context_length" },
        { "qwen3.context_length", S_DROP, 0, "'qwen3.context_length' is missing" },
        { "qwen3.rope.dimension_count", S_U32, 17, "rope.dimension_count 17: RoPE turns an even number" },
        { "qwen3.rope.dimension_count", S_U32, 48, "rope.dimension_count 48: RoPE turns an even number of a head's 32" },
        { "general.architecture", S_U32, 7, "general.architecture" },
        { "general.architecture", S_STR, 0, "architecture 'gpt-j' is not supported" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        s_edit_t edit = { cases [index].key, cases [index].kind, cases [index].number, 0,
                          cases [index].kind == S_STR ? "gpt-j" : NULL };
        s_expect_refused (qwen3, &edit, cases [index].needle, false);
    }
    const struct { const char *key; double real; const char *needle; } reals [] = {
        { "qwen3.attention.layer_norm_rms_epsilon", NAN, "qwen3.attention.layer_norm_rms_epsilon" },
        { "qwen3.attention.layer_norm_rms_epsilon", -1.0, "qwen3.attention.layer_norm_rms_epsilon" },
        { "qwen3.rope.freq_base", INFINITY, "qwen3.rope.freq_base" },
        { "qwen3.rope.freq_base", 0.0, "qwen3.rope.freq_base" },
    };
    for (size_t index = 0; index < sizeof reals / sizeof reals [0]; index++) {
        s_edit_t edit = { reals [index].key, S_F32, 0, reals [index].real, NULL };
        s_expect_refused (qwen3, &edit, reals [index].needle, false);
    }
    //  RoPE scaling (llama)
    s_edit_t longrope = { "llama.rope.scaling.type", S_STR, 0, 0, "longrope" };
    s_expect_refused (llama, &longrope, "'llama.rope.scaling.type' is 'longrope'", false);
    s_edit_t factor = { "llama.rope.scaling.factor", S_F32, 0, 1e9, NULL };
    s_expect_refused (llama, &factor, "llama.rope.scaling.factor", false);
    s_edit_t linear = { "llama.rope.scaling.factor", S_F32, 0, 4.0, NULL };
    s_expect_loads (llama, &linear);
    s_edit_t llama3 = { "llama.rope.scaling.type", S_STR, 0, 0, "llama3" };
    s_expect_loads (llama, &llama3);
}

static void
test_tokenizer_arrays (void)
{
    char qwen3 [300], llama [300];
    test_path (qwen3, sizeof qwen3, "qwen3.gguf");
    test_path (llama, sizeof llama, "llama.gguf");
    const struct { const char *source; const char *key; s_edit_kind_t kind; const char *needle; } cases [] = {
        { llama, "tokenizer.ggml.scores", S_EMPTY_ARRAY, "'tokenizer.ggml.scores' has 0 elements for 512 tokens" },
        { llama, "tokenizer.ggml.scores", S_SHORT_ARRAY, "'tokenizer.ggml.scores' has 511 elements" },
        { llama, "tokenizer.ggml.token_type", S_EMPTY_ARRAY, "'tokenizer.ggml.token_type' has 0 elements" },
        { qwen3, "tokenizer.ggml.token_type", S_SHORT_ARRAY, "'tokenizer.ggml.token_type' has 511 elements" },
        { llama, "tokenizer.ggml.scores", S_STR, "'tokenizer.ggml.scores' is not an array of numbers" },
        { qwen3, "tokenizer.ggml.merges", S_U32_ARRAY, "'tokenizer.ggml.merges' is not an array of strings" },
        { qwen3, "tokenizer.ggml.merges", S_SHORT_ARRAY, "tokenizer" },
        { qwen3, "tokenizer.ggml.tokens", S_EMPTY_ARRAY, "tokenizer" },
        { qwen3, "tokenizer.ggml.tokens", S_DROP, "'tokenizer.ggml.tokens' is missing" },
        { qwen3, "tokenizer.ggml.tokens", S_SHORT_ARRAY, "tokenizer" },
        { qwen3, "tokenizer.ggml.model", S_STR, "unknown tokenizer model" },
        { qwen3, "tokenizer.ggml.eos_token_id", S_U64, "eos id 9223372036854775807 out of range" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        s_edit_t edit = { cases [index].key, cases [index].kind, UINT64_MAX, 0, "bert" };
        //  A merge array one short is still a valid tokenizer: it must load
        if (cases [index].kind == S_SHORT_ARRAY && streq (cases [index].key, "tokenizer.ggml.merges")) {
            s_expect_loads (cases [index].source, &edit);
            continue;
        }
        s_expect_refused (cases [index].source, &edit, cases [index].needle, true);
    }
}

//  ---- special files and files that change under the reader ----------------------

static void
test_special_files (void)
{
    char fifo [300], error [512];
    test_path (fifo, sizeof fifo, "fifo.gguf");
    CHECK (mkfifo (fifo, 0600) == 0);
    //  Nobody writes to the FIFO: a blocking open would hang here forever
    int64_t start = zclock_mono ();
    CHECK (xinf_gguf_open (fifo, error, sizeof error) == NULL);
    CHECK_HAS (error, "not a regular file");
    CHECK_HAS (error, fifo);
    CHECK (xinf_model_load (fifo, NULL, NULL, error, sizeof error) == NULL);
    CHECK_HAS (error, "not a regular file");
    CHECK (xinf_model_load_tokenizer (fifo, error, sizeof error) == NULL);
    CHECK (zclock_mono () - start < 5000);
    CHECK (xinf_model_load ("/dev/null", NULL, NULL, error, sizeof error) == NULL);
    CHECK_HAS (error, "not a regular file");
    CHECK (xinf_model_load (s_scratch, NULL, NULL, error, sizeof error) == NULL);
    CHECK_HAS (error, "not a regular file");
}

static void
test_truncated_while_open (void)
{
    char source [300], path [300], error [512];
    test_path (source, sizeof source, "qwen3.gguf");
    test_path (path, sizeof path, "shrinking.gguf");
    size_t size;
    uint8_t *bytes = test_read_file (source, &size);
    test_write_file (path, bytes, size);
    //  Header read, then the file is cut: reading the tensors is an error
    xinf_gguf_t *gguf = xinf_gguf_open (path, error, sizeof error);
    CHECK (gguf);
    CHECK (truncate (path, (off_t) (xinf_gguf_data_offset (gguf) + 100)) == 0);
    CHECK (xinf_gguf_load_tensors (gguf) == -1);
    CHECK_HAS (xinf_gguf_error (gguf), "shorter than when it was opened");
    CHECK_HAS (xinf_gguf_error (gguf), path);
    xinf_gguf_destroy (&gguf);

    //  A loaded model owns its weights: cutting (or replacing) the file
    //  afterwards changes nothing
    test_write_file (path, bytes, size);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *transformer = xinf_model_transformer (model);
    float *before = malloc (transformer->vocab * sizeof (float)), *after = malloc (transformer->vocab * sizeof (float));
    int32_t tokens [3] = { 1, 2, 3 };
    xinf_threadpool_t *pool = xinf_threadpool_new (1);
    xinf_kv_t *kv = xinf_kv_new (transformer, 16);
    CHECK (xinf_transformer_forward (transformer, kv, pool, tokens, 3, 0, before, NULL, error, sizeof error) == 0);
    CHECK (truncate (path, 0) == 0);
    CHECK (unlink (path) == 0);
    CHECK (xinf_transformer_forward (transformer, kv, pool, tokens, 3, 0, after, NULL, error, sizeof error) == 0);
    CHECK (memcmp (before, after, transformer->vocab * sizeof (float)) == 0);
    xinf_kv_destroy (&kv);
    xinf_threadpool_destroy (&pool);
    xinf_model_destroy (&model);
    free (before);
    free (after);
    free (bytes);
}

//  ---- the fuzz ---------------------------------------------------------------------

static uint64_t
s_next (uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 17;
}

//  Offsets worth mutating: the value of every key (a string's length, an
//  array's element type and count) and the tensor infos.
static size_t
s_targets (const uint8_t *bytes, size_t size, size_t *targets, size_t max, uint64_t *header_end, size_t *n_values)
{
    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open_buffer (bytes, size, "fuzz", error, sizeof error);
    CHECK (gguf);
    size_t count = 0;
    static const size_t widths [] = { 1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8 };   //  by value type
    for (size_t index = 0; index < xinf_gguf_kv_count (gguf); index++) {
        const char *key = xinf_gguf_kv_key (gguf, index);
        const uint8_t *at = memmem (bytes, size, key, strlen (key));
        size_t width = widths [xinf_gguf_kv_type (gguf, index)];
        for (size_t byte = 4; at && byte < 4 + width && count < max; byte++)
            targets [count++] = (size_t) (at - bytes) + strlen (key) + byte;
    }
    *n_values = count;
    *header_end = xinf_gguf_data_offset (gguf);
    const char *first = xinf_gguf_tensor (gguf, 0)->name;
    const uint8_t *infos = memmem (bytes, size, first, strlen (first));
    for (size_t at = infos ? (size_t) (infos - bytes) : *header_end; at < *header_end && count < max; at++)
        targets [count++] = at;
    xinf_gguf_destroy (&gguf);
    return count;
}

//  What a server does with a model that loaded: tokenize, decode, run.
static void
s_exercise (xinf_model_t *model)
{
    xinf_tokenizer_t *tokenizer = xinf_model_tokenizer (model);
    const xinf_transformer_t *transformer = xinf_model_transformer (model);
    const char *text = "Hello, world! 123 \xe4\xbd\xa0\xe5\xa5\xbd  \xf0\x9f\x99\x82";
    int32_t ids [256];
    long count = xinf_tokenizer_encode (tokenizer, text, strlen (text), true, ids, 256);
    char decoded [1024];
    if (count > 0)
        xinf_tokenizer_decode (tokenizer, ids, count < 256 ? (size_t) count : 256, decoded, sizeof decoded);
    char error [256];
    int32_t tokens [2] = { 0, (int32_t) (transformer->vocab - 1) };
    float *logits = malloc (transformer->vocab * sizeof (float));
    xinf_kv_t *kv = xinf_kv_new (transformer, 4);
    xinf_threadpool_t *pool = xinf_threadpool_new (1);
    if (kv)
        CHECK (xinf_transformer_forward (transformer, kv, pool, tokens, 2, 0, logits, NULL, error, sizeof error) == 0);
    xinf_threadpool_destroy (&pool);
    xinf_kv_destroy (&kv);
    free (logits);
}

static void
s_fuzz (const char *source, uint64_t seed, int rounds)
{
    size_t size;
    uint8_t *bytes = test_read_file (source, &size), *copy = malloc (size);
    size_t max = 1 << 16, *targets = malloc (max * sizeof (size_t));
    uint64_t header_end;
    size_t n_values;
    size_t n_targets = s_targets (bytes, size, targets, max, &header_end, &n_values);
    CHECK (n_values > 100 && n_targets > n_values);
    static const uint64_t extremes [] = { 0, 1, 2, 3, 0x7f, 0xff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
                                          0xffffffff, 0x100000000ull, (1ull << 63) + 4, UINT64_MAX };
    char path [300], error [512];
    test_path (path, sizeof path, "mutant.gguf");
    int loaded = 0, tokenizers = 0;
    uint64_t state = seed;
    for (int round = 0; round < rounds; round++) {
        memcpy (copy, bytes, size);
        int changes = 1 + (int) (s_next (&state) % 3);
        for (int change = 0; change < changes; change++) {
            //  Half the changes hit metadata values, a quarter the tensor
            //  infos, a quarter any byte of the header
            uint64_t where = s_next (&state) % 4;
            size_t at = where < 2 ? targets [s_next (&state) % n_values]
                      : where == 2 ? targets [n_values + s_next (&state) % (n_targets - n_values)]
                      : (size_t) (s_next (&state) % header_end);
            uint64_t kind = s_next (&state) % 3;
            if (kind == 0)
                copy [at] ^= (uint8_t) (1u << (s_next (&state) % 8));
            else
            if (kind == 1)
                copy [at] = (uint8_t) s_next (&state);
            else {
                uint64_t value = extremes [s_next (&state) % (sizeof extremes / sizeof extremes [0])];
                size_t width = (size_t) 1 << (s_next (&state) % 4);
                for (size_t byte = 0; byte < width && at + byte < header_end; byte++)
                    copy [at + byte] = (uint8_t) (value >> (8 * byte));
            }
        }
        test_write_file (path, copy, size);
        xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
        if (model) {
            loaded++;
            s_exercise (model);
            xinf_model_destroy (&model);
        }
        else {
            CHECK (*error);
            if (getenv ("XINF_FUZZ_VERBOSE"))
                fprintf (stderr, "%s\n", error);
        }
        xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (path, error, sizeof error);
        if (tokenizer) {
            int32_t ids [64];
            tokenizers++;
            xinf_tokenizer_encode (tokenizer, "fuzz me: 42", 11, true, ids, 64);
            xinf_tokenizer_destroy (&tokenizer);
        }
    }
    fprintf (stderr, "      %s: %d mutants, %d loaded as models, %d as tokenizers\n", source, rounds, loaded,
             tokenizers);
    CHECK (loaded > 0 && loaded < rounds);
    free (targets);
    free (copy);
    free (bytes);
}


static void
test_fuzz_loaders (void)
{
    char qwen3 [300], llama [300];
    s_make ("fuzz-qwen3.gguf", "--arch qwen3 --dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --layers 1 "
            "--vocab 400 --seed 11", qwen3, sizeof qwen3);
    s_make ("fuzz-llama.gguf", "--arch llama --dim 32 --heads 2 --kv-heads 1 --ffn 32 --layers 1 --vocab 400 "
            "--tokenizer llama --rope-scaling llama3 --seed 12", llama, sizeof llama);
    int rounds = getenv ("XINF_FUZZ_ROUNDS") ? atoi (getenv ("XINF_FUZZ_ROUNDS")) : 2500;
    s_fuzz (qwen3, 0x5eed1, rounds);
    s_fuzz (llama, 0x5eed2, rounds);
    //  One small file of each other architecture, half the rounds each
    static const struct { const char *name, *arguments; } others [] = {
        { "fuzz-gemma3.gguf", "--arch gemma3 --layers 2 --sliding-window 4 --seed 14" },
        { "fuzz-qwen3moe.gguf", "--arch qwen3moe --layers 1 --experts 4 --experts-used 2 --expert-ffn 32 --seed 17" },
        { "fuzz-gemma2.gguf", "--arch gemma2 --layers 2 --sliding-window 4 --seed 23" },
        { "fuzz-phi3.gguf", "--arch phi3 --layers 1 --rope-scaling longrope --rope-factor 4 --rope-original-context 64 "
                            "--seed 27" },
        { "fuzz-glm4.gguf", "--arch glm4 --layers 1 --qkv-bias --seed 29" },
        { "fuzz-granite.gguf", "--arch granite --layers 1 --seed 31" },
        { "fuzz-granitemoe.gguf", "--arch granitemoe --layers 1 --experts 4 --experts-used 2 --expert-ffn 32 --seed 39" },
        { "fuzz-gpt-oss.gguf", "--arch gpt-oss --layers 2 --experts 4 --experts-used 2 --expert-ffn 32 "
                               "--expert-type mxfp4 --sliding-window 4 --rope-scaling yarn --rope-factor 4 --seed 37" },
        { "fuzz-qwen2moe.gguf", "--arch qwen2moe --layers 1 --experts 4 --experts-used 2 --expert-ffn 32 "
                                "--shared-ffn 48 --seed 41" },
        { "fuzz-glm4moe.gguf", "--arch glm4moe --layers 2 --experts 4 --experts-used 2 --expert-ffn 32 "
                               "--rope-dims 8 --nextn 1 --seed 43" },
        { "fuzz-deepseek2.gguf", "--arch deepseek2 --layers 2 --experts 4 --experts-used 2 --expert-ffn 32 "
                                 "--rope-dims 8 --q-lora-rank 16 --gating sigmoid --expert-bias --expert-groups 2 "
                                 "--groups-used 1 --seed 47" },
    };
    for (size_t index = 0; index < sizeof others / sizeof others [0]; index++) {
        char arguments [300], path [300];
        snprintf (arguments, sizeof arguments, "--dim 32 --heads 2 --kv-heads 1 --head-dim 16 --ffn 32 --vocab 400 %s",
                  others [index].arguments);
        s_make (others [index].name, arguments, path, sizeof path);
        s_fuzz (path, 0x5eed3 + index, rounds / 2);
    }
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: test_hostile_model PATH/TO/xinf-make-model\n");
        return 2;
    }
    s_tool = argv [1];
    test_scratch_begin ();
    RUN (test_hyperparameters);
    RUN (test_tokenizer_arrays);
    RUN (test_special_files);
    RUN (test_truncated_while_open);
    RUN (test_fuzz_loaders);
    test_scratch_end ();
    return 0;
}
