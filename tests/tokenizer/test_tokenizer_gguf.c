/*  test_tokenizer_gguf: end of generation and add_bos as read from GGUF
    files written with the project's writer (xinf_gguf_writer) and loaded
    with xinf_model_load_tokenizer: EOS, EOT and EOM keys of every integer
    type, end-marker control tokens, ids outside the vocabulary, keys of the
    wrong type, no keys at all, and the add_bos default per model.
*/
#include "test_tokenizer.h"
#include "xinf_gguf_writer.h"
#include "xinf_model.h"

#include <unistd.h>

static char s_path [300];

//  The gpt2 vocabulary of these tests: the 256 byte tokens (ids 0..255),
//  then the specials named here (ids 256 on) with their types.
typedef struct {
    const char *text;
    int32_t type;
} s_special_t;

static const s_special_t s_specials [] = {
    { "<|begin_of_text|>", XINF_TOKEN_CONTROL },    //  256
    { "<|end_of_text|>", XINF_TOKEN_CONTROL },      //  257
    { "<|eot_id|>", XINF_TOKEN_CONTROL },           //  258
    { "<|eom_id|>", XINF_TOKEN_CONTROL },           //  259
    { "<|im_end|>", XINF_TOKEN_CONTROL },           //  260
    { "<end_of_turn>", XINF_TOKEN_NORMAL },         //  261: a marker, not control
    { "<|im_start|>", XINF_TOKEN_CONTROL },         //  262: control, not a marker
    { "</s>", XINF_TOKEN_USER_DEFINED },            //  263: a marker, not control
    { "<|endoftext|>", XINF_TOKEN_CONTROL },        //  264
    { "<|end|>", XINF_TOKEN_CONTROL },              //  265: Phi-3's end of a turn
    { "<|observation|>", XINF_TOKEN_CONTROL },      //  266: GLM-4's, a tool's result next
    { "<\xef\xbd\x9c" "tool\xe2\x96\x81" "calls\xe2\x96\x81" "begin\xef\xbd\x9c>", XINF_TOKEN_CONTROL },
                                                    //  267: DeepSeek's calls begin, rendered as text
    { "<|tool_call_begin|>", XINF_TOKEN_CONTROL },  //  268: Kimi K2's call begin, rendered as text
    { "<think>", XINF_TOKEN_CONTROL },              //  269: a thought's start, rendered as text
};
#define S_SPECIALS (sizeof s_specials / sizeof s_specials [0])
#define S_VOCAB (256 + S_SPECIALS)

//  What a test file holds besides the vocabulary.
typedef struct {
    const char *model;              //  "gpt2" or "llama"
    const char *pre;                //  NULL: no tokenizer.ggml.pre
    bool types;                     //  write tokenizer.ggml.token_type
    int add_bos;                    //  -1: no key, else its value
} s_file_t;

static void
s_begin (xinf_gguf_writer_t **writer, const s_file_t *file)
{
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, NULL, 0);
    for (size_t index = 0; index < S_SPECIALS; index++)
        test_vocab_add (&vocab, s_specials [index].text, strlen (s_specials [index].text), 0, s_specials [index].type);
    *writer = xinf_gguf_writer_new ();
    CHECK (*writer);
    CHECK (xinf_gguf_writer_set_str (*writer, "general.architecture", "llama") == 0);
    CHECK (xinf_gguf_writer_set_str (*writer, "tokenizer.ggml.model", file->model) == 0);
    if (file->pre)
        CHECK (xinf_gguf_writer_set_str (*writer, "tokenizer.ggml.pre", file->pre) == 0);
    CHECK (xinf_gguf_writer_set_str_array (*writer, "tokenizer.ggml.tokens", (const char *const *) vocab.tokens,
                                           vocab.lengths, vocab.count) == 0);
    if (file->types)
        CHECK (xinf_gguf_writer_set_array (*writer, "tokenizer.ggml.token_type", XINF_GGUF_INT32,
                                           vocab.types, vocab.count) == 0);
    if (file->add_bos >= 0)
        CHECK (xinf_gguf_writer_set_bool (*writer, "tokenizer.ggml.add_bos_token", file->add_bos == 1) == 0);
    test_vocab_destroy (&vocab);
}

//  Writes the file and loads its tokenizer.
static xinf_tokenizer_t *
s_finish (xinf_gguf_writer_t **writer)
{
    CHECK (xinf_gguf_writer_begin (*writer, s_path) == 0);
    CHECK (xinf_gguf_writer_finish (*writer) == 0);
    xinf_gguf_writer_destroy (writer);
    char error [512] = "";
    xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (s_path, error, sizeof error);
    if (!tokenizer)
        fprintf (stderr, "xinf_model_load_tokenizer: %s\n", error);
    CHECK (tokenizer);
    return tokenizer;
}

//  The end ids are exactly 'expected', in that order; is_end agrees for
//  every id of the vocabulary and is false for bad ids.
#define CHECK_ENDS(tokenizer, ...) do { \
    int32_t expected_ [] = { -999, __VA_ARGS__ }; \
    s_check_ends (__LINE__, (tokenizer), expected_ + 1, sizeof expected_ / sizeof expected_ [0] - 1); \
} while (0)

static void
s_check_ends (int line, xinf_tokenizer_t *tokenizer, const int32_t *expected, size_t count)
{
    int32_t ids [32];
    size_t got = xinf_tokenizer_end_ids (tokenizer, ids, 32);
    bool same = got == count;
    for (size_t index = 0; same && index < got; index++)
        same = ids [index] == expected [index];
    if (!same) {
        fprintf (stderr, "line %d: end ids:", line);
        for (size_t index = 0; index < got && index < 32; index++)
            fprintf (stderr, " %d", ids [index]);
        fprintf (stderr, ", expected %zu ids from %d\n", count, count ? expected [0] : -1);
        exit (1);
    }
    for (int32_t id = 0; id < (int32_t) xinf_tokenizer_vocab (tokenizer); id++) {
        bool listed = false;
        for (size_t index = 0; index < count; index++)
            listed = listed || expected [index] == id;
        CHECK (xinf_tokenizer_is_end (tokenizer, id) == listed);
        if (listed)
            CHECK (xinf_tokenizer_is_control (tokenizer, id));
    }
    CHECK (!xinf_tokenizer_is_end (tokenizer, -1));
    CHECK (!xinf_tokenizer_is_end (tokenizer, (int32_t) xinf_tokenizer_vocab (tokenizer)));
    CHECK (!xinf_tokenizer_is_end (tokenizer, INT32_MAX));
}

//  EOS (u32), EOT (i32) and EOM (u64) keys, then the marker control tokens
//  in the fixed marker order; markers the file types otherwise are noted.
static void
test_keys_and_markers (void)
{
    xinf_gguf_writer_t *writer;
    s_begin (&writer, &(s_file_t) { "gpt2", "llama-bpe", true, -1 });
    int64_t eom = 262;                                  //  <|im_start|>: no marker
    CHECK (xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.bos_token_id", 256) == 0);
    CHECK (xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.eos_token_id", 257) == 0);
    CHECK (xinf_gguf_writer_set_i32 (writer, "tokenizer.ggml.eot_token_id", 258) == 0);
    CHECK (xinf_gguf_writer_set (writer, "tokenizer.ggml.eom_token_id", XINF_GGUF_INT64, &eom) == 0);
    xinf_tokenizer_t *tokenizer = s_finish (&writer);
    CHECK_INT (xinf_tokenizer_eos (tokenizer), 257);
    CHECK_INT (xinf_tokenizer_eot (tokenizer), 258);
    CHECK_INT (xinf_tokenizer_eom (tokenizer), 262);
    //  EOS, EOT, EOM, then <|eom_id|>, <|im_end|>, <|endoftext|> and
    //  <|end|>, <|observation|>; <end_of_turn> and </s> are not control tokens, BOS is no
    //  marker.
    CHECK_ENDS (tokenizer, 257, 258, 262, 259, 260, 264, 265, 266);
    CHECK (strstr (xinf_tokenizer_notes (tokenizer), "token 261 '<end_of_turn>' is not a control token"));
    CHECK (strstr (xinf_tokenizer_notes (tokenizer), "token 263 '</s>' is not a control token"));
    //  Like snprintf: a short buffer gets what fits, the count is the total.
    int32_t ids [3] = { -7, -7, -7 };
    CHECK_INT (xinf_tokenizer_end_ids (tokenizer, ids, 2), 8);
    CHECK (ids [0] == 257 && ids [1] == 258 && ids [2] == -7);
    CHECK_INT (xinf_tokenizer_end_ids (tokenizer, NULL, 0), 8);
    //  End tokens decode to nothing; so does EOT with no types.
    char text [64];
    int32_t eot = 258;
    CHECK_INT (xinf_tokenizer_decode (tokenizer, &eot, 1, text, sizeof text), 0);
    //  The tool-call and thought markers the gateway parses render as their text (DeepSeek's, Kimi K2's,
    //  <think>) and stay control tokens: plain text never becomes them; another control token
    //  (<|im_start|>) stays silent
    for (int32_t id = 267; id <= 269; id++) {
        const char *marker = s_specials [id - 256].text;
        CHECK_INT (xinf_tokenizer_decode (tokenizer, &id, 1, text, sizeof text), (long) strlen (marker));
        CHECK (streq (text, marker));
        CHECK (xinf_tokenizer_is_control (tokenizer, id));
        int32_t found [64];
        long count = xinf_tokenizer_encode (tokenizer, marker, strlen (marker), false, found, 64);
        CHECK (count > 1 && count <= 64);
        for (long at = 0; at < count; at++)
            CHECK (found [at] != id);
    }
    int32_t start = 262;
    CHECK_INT (xinf_tokenizer_decode (tokenizer, &start, 1, text, sizeof text), 0);
    CHECK (xinf_tokenizer_add_bos (tokenizer));         //  llama-bpe without the key: yes
    xinf_tokenizer_destroy (&tokenizer);
    CHECK (!xinf_tokenizer_is_end (NULL, 0));
    CHECK_INT (xinf_tokenizer_end_ids (NULL, ids, 3), 0);
}

//  EOT and EOM ids outside the vocabulary are ignored with a note; a
//  negative one (not an id at all) is ignored; EOS still ends.
static void
test_out_of_range (void)
{
    xinf_gguf_writer_t *writer;
    s_begin (&writer, &(s_file_t) { "gpt2", "qwen2", true, -1 });
    CHECK (xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.eos_token_id", 264) == 0);
    CHECK (xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.eot_token_id", (uint32_t) S_VOCAB) == 0);
    CHECK (xinf_gguf_writer_set_i32 (writer, "tokenizer.ggml.eom_token_id", -1) == 0);
    xinf_tokenizer_t *tokenizer = s_finish (&writer);
    CHECK_INT (xinf_tokenizer_eot (tokenizer), -1);
    CHECK_INT (xinf_tokenizer_eom (tokenizer), -1);
    CHECK_ENDS (tokenizer, 264, 258, 259, 260, 257, 265, 266);
    CHECK (strstr (xinf_tokenizer_notes (tokenizer), "tokenizer.ggml.eot_token_id = 270 is outside the vocabulary of 270 tokens: ignored"));
    CHECK (!strstr (xinf_tokenizer_notes (tokenizer), "eom"));
    CHECK (!xinf_tokenizer_add_bos (tokenizer));        //  qwen2 without the key: no
    xinf_tokenizer_destroy (&tokenizer);

    //  The spec level: any id outside [0, vocabulary) but -1 is noted.
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, NULL, 0);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    spec.eot_id = INT64_MAX;
    spec.eom_id = -2;
    tokenizer = test_tokenizer (&spec);
    CHECK (strstr (xinf_tokenizer_notes (tokenizer), "eot_token_id = 9223372036854775807 is outside"));
    CHECK (strstr (xinf_tokenizer_notes (tokenizer), "eom_token_id = -2 is outside"));
    CHECK_INT (xinf_tokenizer_end_ids (tokenizer, NULL, 0), 0);
    xinf_tokenizer_destroy (&tokenizer);
    spec.eos_id = 256;                                  //  EOS outside stays an error
    char error [256] = "";
    CHECK (!xinf_tokenizer_new (&spec, error, sizeof error));
    CHECK (strstr (error, "eos id 256 out of range"));
    test_vocab_destroy (&vocab);
}

//  Keys of the wrong type (string, float, bool, array) are no ids: the
//  tokenizer loads and only the control markers end.
static void
test_wrong_types (void)
{
    xinf_gguf_writer_t *writer;
    s_begin (&writer, &(s_file_t) { "gpt2", NULL, true, -1 });
    bool yes = true;
    uint32_t list [2] = { 258, 259 };
    CHECK (xinf_gguf_writer_set_str (writer, "tokenizer.ggml.eos_token_id", "257") == 0);
    CHECK (xinf_gguf_writer_set_f32 (writer, "tokenizer.ggml.eot_token_id", 258.0f) == 0);
    CHECK (xinf_gguf_writer_set (writer, "tokenizer.ggml.eom_token_id", XINF_GGUF_BOOL, &yes) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "tokenizer.ggml.bos_token_id", XINF_GGUF_UINT32, list, 2) == 0);
    CHECK (xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.add_bos_token", 1) == 0);
    xinf_tokenizer_t *tokenizer = s_finish (&writer);
    CHECK_INT (xinf_tokenizer_eos (tokenizer), -1);
    CHECK_INT (xinf_tokenizer_eot (tokenizer), -1);
    CHECK_INT (xinf_tokenizer_eom (tokenizer), -1);
    CHECK_INT (xinf_tokenizer_bos (tokenizer), -1);
    CHECK_ENDS (tokenizer, 258, 259, 260, 257, 264, 265, 266);
    CHECK (!xinf_tokenizer_add_bos (tokenizer));        //  a u32 is no bool: gpt2's default
    xinf_tokenizer_destroy (&tokenizer);
}

//  No special keys and no token types: every marker ends (and becomes a
//  control token, as llama.cpp does), in the marker order.
static void
test_no_keys (void)
{
    xinf_gguf_writer_t *writer;
    s_begin (&writer, &(s_file_t) { "gpt2", "gpt2", false, -1 });
    xinf_tokenizer_t *tokenizer = s_finish (&writer);
    CHECK_INT (xinf_tokenizer_eos (tokenizer), -1);
    CHECK_ENDS (tokenizer, 258, 259, 260, 257, 264, 261, 263, 265, 266);
    CHECK_STR (xinf_tokenizer_notes (tokenizer), "");
    CHECK (!xinf_tokenizer_is_control (tokenizer, 262));     //  untyped and no marker: normal
    CHECK (!xinf_tokenizer_add_bos (tokenizer));
    char text [64];
    int32_t end = 263, other = 262;
    CHECK_INT (xinf_tokenizer_decode (tokenizer, &end, 1, text, sizeof text), 0);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, &other, 1, text, sizeof text), 12);
    xinf_tokenizer_destroy (&tokenizer);
}

//  add_bos: the file's key wins; without it llama and llama3 yes, others no.
static void
test_add_bos (void)
{
    const struct {
        s_file_t file;
        bool expected;
    } cases [] = {
        { { "gpt2", NULL, true, -1 }, false },
        { { "gpt2", "qwen2", true, -1 }, false },
        { { "gpt2", "llama3", true, -1 }, true },
        { { "gpt2", "llama-bpe", true, -1 }, true },
        { { "gpt2", "llama-bpe", true, 0 }, false },
        { { "gpt2", "qwen2", true, 1 }, true },
        { { "llama", NULL, true, -1 }, true },
        { { "llama", NULL, true, 0 }, false },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        xinf_gguf_writer_t *writer;
        s_begin (&writer, &cases [index].file);
        xinf_tokenizer_t *tokenizer = s_finish (&writer);
        if (xinf_tokenizer_add_bos (tokenizer) != cases [index].expected)
            fprintf (stderr, "add_bos case %zu\n", index);
        CHECK (xinf_tokenizer_add_bos (tokenizer) == cases [index].expected);
        xinf_tokenizer_destroy (&tokenizer);
    }
    CHECK (xinf_tokenizer_default_add_bos ("llama", NULL));
    CHECK (xinf_tokenizer_default_add_bos ("gpt2", "llama-v3"));
    CHECK (!xinf_tokenizer_default_add_bos ("gpt2", "deepseek-r1-qwen"));
    CHECK (!xinf_tokenizer_default_add_bos (NULL, "llama3"));
}

int
main (void)
{
    const char *base = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (s_path, sizeof s_path, "%s/xinf-tokenizer-gguf-%d.gguf", base, (int) getpid ());
    RUN (test_keys_and_markers);
    RUN (test_out_of_range);
    RUN (test_wrong_types);
    RUN (test_no_keys);
    RUN (test_add_bos);
    unlink (s_path);
    return 0;
}
