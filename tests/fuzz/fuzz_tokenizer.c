/*  fuzz_tokenizer: any bytes as text through byte-level BPE tokenizers
    (GPT-2 style, with the gpt2, llama3, qwen2, tekken, gpt-4o, DeepSeek's
    and llama.cpp's default pre-tokenizers, the first byte choosing):
    encode, then decode must give back exactly the input bytes as the
    tokenizer normalizes them (NFC for qwen2, unchanged for the others;
    byte-level BPE covers every byte), and every id must be in the
    vocabulary.  */
#include "fuzz.h"
#include "xinf.h"
#include "xinf_tokenizer.h"


#define MERGES 8

//  GPT-2's byte-to-character table: printable bytes stand for themselves,
//  the others map to U+0100 and up (as UTF-8).
static size_t
s_byte_token (int byte, char *out)
{
    int code = byte;
    bool printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    if (!printable) {
        int rank = 0;
        for (int other = 0; other < byte; other++)
            rank += !((other >= 33 && other <= 126) || (other >= 161 && other <= 172) || other >= 174);
        code = 256 + rank;
    }
    if (code < 0x80) {
        out [0] = (char) code;
        return 1;
    }
    out [0] = (char) (0xc0 | (code >> 6));
    out [1] = (char) (0x80 | (code & 0x3f));
    return 2;
}

static xinf_tokenizer_t *
s_tokenizer (const char *pre)
{
    static char storage [256 + MERGES][8];
    static const char *tokens [256 + MERGES];
    static size_t lengths [256 + MERGES];
    for (int byte = 0; byte < 256; byte++) {
        lengths [byte] = s_byte_token (byte, storage [byte]);
        tokens [byte] = storage [byte];
    }
    //  A few merges of ASCII pairs ("th", "he", "in", ... ; "Ġ" is space)
    static const char *pairs [MERGES][2] = { { "t", "h" }, { "h", "e" }, { "i", "n" }, { "e", "r" },
                                             { "a", "n" }, { "\xc4\xa0", "t" }, { "th", "e" }, { "o", "n" } };
    static char merge_text [MERGES][16];
    static const char *merges [MERGES];
    for (int index = 0; index < MERGES; index++) {
        snprintf (merge_text [index], sizeof merge_text [index], "%s %s", pairs [index][0], pairs [index][1]);
        merges [index] = merge_text [index];
        snprintf (storage [256 + index], sizeof storage [0], "%s%s", pairs [index][0], pairs [index][1]);
        tokens [256 + index] = storage [256 + index];
        lengths [256 + index] = strlen (storage [256 + index]);
    }
    xinf_tokenizer_spec_t spec = { 0 };
    spec.model = "gpt2";
    spec.pre = pre;
    spec.n_tokens = 256 + MERGES;
    spec.tokens = tokens;
    spec.token_lengths = lengths;
    spec.n_merges = MERGES;
    spec.merges = merges;
    spec.bos_id = spec.eos_id = spec.unk_id = spec.eot_id = spec.eom_id = -1;
    char error [256];
    xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (&spec, error, sizeof error);
    if (!tokenizer) {
        fprintf (stderr, "fuzz_tokenizer: %s\n", error);
        abort ();
    }
    return tokenizer;
}

//  The oracle: an assert that release builds keep.
static void
s_require (bool holds, const char *what)
{
    if (!holds) {
        fprintf (stderr, "fuzz_tokenizer: %s\n", what);
        abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const char *const pres [] = { "gpt2", "llama3", "qwen2", "tekken", "gpt-4o", "deepseek-llm",
                                         "deepseek-coder", "deepseek-v3", "default" };
    enum { S_PRES = sizeof pres / sizeof pres [0] };
    static xinf_tokenizer_t *tokenizers [S_PRES];
    if (!tokenizers [0]) {
        xinf_log_set_level (XINF_LOG_OFF);
        for (size_t index = 0; index < S_PRES; index++)
            tokenizers [index] = s_tokenizer (pres [index]);
    }
    if (size == 0 || size > 65536)
        return 0;
    xinf_tokenizer_t *tokenizer = tokenizers [data [0] % S_PRES];
    const char *text = (const char *) data + 1;
    size_t length = size - 1;
    //  NFC (qwen2) makes UTF-8 text at most 3 times longer (UAX #15)
    size_t room = 3 * length + 1;
    char *normal = malloc (room);
    long normal_length = xinf_tokenizer_normalize (tokenizer, text, length, normal, room);
    s_require (normal_length >= 0 && (size_t) normal_length < room, "normalize returned a wrong count");
    int32_t *ids = malloc (room * sizeof (int32_t));
    long count = xinf_tokenizer_encode (tokenizer, text, length, false, ids, room);
    s_require (count >= 0 && count <= normal_length, "encode returned a wrong count");
    for (long index = 0; index < count; index++)
        s_require (ids [index] >= 0 && ids [index] < 256 + MERGES, "encode returned an id outside the vocabulary");
    char *back = malloc ((size_t) normal_length + 1);
    long bytes = xinf_tokenizer_decode (tokenizer, ids, (size_t) count, back, (size_t) normal_length + 1);
    s_require (bytes == normal_length && memcmp (back, normal, (size_t) normal_length) == 0,
               "decode (encode (text)) != normalized text");
    free (back);
    free (normal);
    free (ids);
    return 0;
}
