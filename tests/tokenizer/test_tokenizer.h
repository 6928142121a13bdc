/*  test_tokenizer.h: hand-made vocabularies for the tokenizer tests.

    gpt2: ids 0..255 are the byte tokens in byte order (the id of a byte is
    its value), then one token per merge (id 256 + merge index), then any
    extra tokens. llama: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258,
    then pieces with their scores. Random vocabularies of either kind come
    from a seeded generator, for round trips and the reference encoders.
*/
#ifndef TEST_TOKENIZER_H_INCLUDED
#define TEST_TOKENIZER_H_INCLUDED

#include "test_unit.h"
#include "xinf_tokenizer.h"

typedef struct {
    char **tokens;
    size_t *lengths;
    float *scores;
    int32_t *types;
    size_t count, capacity;
    char **merges;
    size_t n_merges, merge_capacity;
} test_vocab_t;

static inline void
test_vocab_add (test_vocab_t *vocab, const char *text, size_t length, float score, int32_t type)
{
    if (vocab->count == vocab->capacity) {
        vocab->capacity = vocab->capacity ? vocab->capacity * 2 : 512;
        vocab->tokens = realloc (vocab->tokens, vocab->capacity * sizeof (char *));
        vocab->lengths = realloc (vocab->lengths, vocab->capacity * sizeof (size_t));
        vocab->scores = realloc (vocab->scores, vocab->capacity * sizeof (float));
        vocab->types = realloc (vocab->types, vocab->capacity * sizeof (int32_t));
        CHECK (vocab->tokens && vocab->lengths && vocab->scores && vocab->types);
    }
    char *copy = malloc (length + 1);
    CHECK (copy);
    memcpy (copy, text, length);
    copy [length] = 0;
    vocab->tokens [vocab->count] = copy;
    vocab->lengths [vocab->count] = length;
    vocab->scores [vocab->count] = score;
    vocab->types [vocab->count] = type;
    vocab->count++;
}

static inline void
test_vocab_destroy (test_vocab_t *vocab)
{
    for (size_t index = 0; index < vocab->count; index++)
        free (vocab->tokens [index]);
    for (size_t index = 0; index < vocab->n_merges; index++)
        free (vocab->merges [index]);
    free (vocab->tokens);
    free (vocab->lengths);
    free (vocab->scores);
    free (vocab->types);
    free (vocab->merges);
    memset (vocab, 0, sizeof *vocab);
}

//  GPT-2's bytes_to_unicode, written out again here.
static inline unsigned
test_byte_cpt (unsigned byte)
{
    if ((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255))
        return byte;
    unsigned cpt = 256;
    for (unsigned other = 0; other < byte; other++)
        if (!((other >= 33 && other <= 126) || (other >= 161 && other <= 172) || (other >= 174 && other <= 255)))
            cpt++;
    return cpt;
}

static inline size_t
test_utf8 (unsigned cpt, char *out)
{
    if (cpt < 0x80) {
        out [0] = (char) cpt;
        return 1;
    }
    if (cpt < 0x800) {
        out [0] = (char) (0xC0 | (cpt >> 6));
        out [1] = (char) (0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt < 0x10000) {
        out [0] = (char) (0xE0 | (cpt >> 12));
        out [1] = (char) (0x80 | ((cpt >> 6) & 0x3F));
        out [2] = (char) (0x80 | (cpt & 0x3F));
        return 3;
    }
    out [0] = (char) (0xF0 | (cpt >> 18));
    out [1] = (char) (0x80 | ((cpt >> 12) & 0x3F));
    out [2] = (char) (0x80 | ((cpt >> 6) & 0x3F));
    out [3] = (char) (0x80 | (cpt & 0x3F));
    return 4;
}

//  Adds merge "left right" and its token.
static inline void
test_vocab_merge (test_vocab_t *vocab, const char *left, size_t left_size, const char *right, size_t right_size)
{
    if (vocab->n_merges == vocab->merge_capacity) {
        vocab->merge_capacity = vocab->merge_capacity ? vocab->merge_capacity * 2 : 256;
        vocab->merges = realloc (vocab->merges, vocab->merge_capacity * sizeof (char *));
        CHECK (vocab->merges);
    }
    char *merge = malloc (left_size + right_size + 2);
    CHECK (merge);
    memcpy (merge, left, left_size);
    merge [left_size] = ' ';
    memcpy (merge + left_size + 1, right, right_size);
    merge [left_size + right_size + 1] = 0;
    vocab->merges [vocab->n_merges++] = merge;
    test_vocab_add (vocab, merge, left_size, 0, XINF_TOKEN_NORMAL);
    char *token = vocab->tokens [vocab->count - 1];
    token = realloc (token, left_size + right_size + 1);
    CHECK (token);
    memcpy (token + left_size, right, right_size);
    token [left_size + right_size] = 0;
    vocab->tokens [vocab->count - 1] = token;
    vocab->lengths [vocab->count - 1] = left_size + right_size;
}

//  The 256 byte tokens, then merges written "left right" in GPT-2's
//  characters ("Ġ w").
static inline void
test_gpt2_vocab (test_vocab_t *vocab, const char *const *merges, size_t n_merges)
{
    memset (vocab, 0, sizeof *vocab);
    for (unsigned byte = 0; byte < 256; byte++) {
        char utf8 [4];
        test_vocab_add (vocab, utf8, test_utf8 (test_byte_cpt (byte), utf8), 0, XINF_TOKEN_NORMAL);
    }
    for (size_t index = 0; index < n_merges; index++) {
        const char *space = strchr (merges [index] + 1, ' ');
        CHECK (space);
        test_vocab_merge (vocab, merges [index], (size_t) (space - merges [index]), space + 1, strlen (space + 1));
    }
}

typedef struct {
    const char *text;
    float score;
} test_piece_t;

static inline void
test_llama_vocab (test_vocab_t *vocab, const test_piece_t *pieces, size_t n_pieces)
{
    memset (vocab, 0, sizeof *vocab);
    test_vocab_add (vocab, "<unk>", 5, 0, XINF_TOKEN_UNKNOWN);
    test_vocab_add (vocab, "<s>", 3, 0, XINF_TOKEN_CONTROL);
    test_vocab_add (vocab, "</s>", 4, 0, XINF_TOKEN_CONTROL);
    for (unsigned byte = 0; byte < 256; byte++) {
        char text [8];
        snprintf (text, sizeof text, "<0x%02X>", byte);
        test_vocab_add (vocab, text, 6, 0, XINF_TOKEN_BYTE);
    }
    for (size_t index = 0; index < n_pieces; index++)
        test_vocab_add (vocab, pieces [index].text, strlen (pieces [index].text), pieces [index].score, XINF_TOKEN_NORMAL);
}

static inline xinf_tokenizer_spec_t
test_spec (const test_vocab_t *vocab, const char *model)
{
    bool llama = strcmp (model, "llama") == 0;
    xinf_tokenizer_spec_t spec = {
        .model = model,
        .n_tokens = vocab->count,
        .tokens = (const char *const *) vocab->tokens,
        .token_lengths = vocab->lengths,
        .scores = vocab->scores,
        .token_types = vocab->types,
        .n_scores = vocab->scores ? vocab->count : 0,
        .n_token_types = vocab->types ? vocab->count : 0,
        .n_merges = vocab->n_merges,
        .merges = (const char *const *) vocab->merges,
        .bos_id = llama ? 1 : -1, .eos_id = llama ? 2 : -1, .unk_id = llama ? 0 : -1,
        .eot_id = -1, .eom_id = -1,
        .add_bos = llama
    };
    return spec;
}

static inline xinf_tokenizer_t *
test_tokenizer (const xinf_tokenizer_spec_t *spec)
{
    char error [256] = "";
    xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (spec, error, sizeof error);
    if (!tokenizer)
        fprintf (stderr, "xinf_tokenizer_new: %s\n", error);
    CHECK (tokenizer);
    return tokenizer;
}

//  Encodes and checks the ids.
#define CHECK_IDS(tokenizer, text, add_bos, ...) do { \
    int32_t expected_ [] = { -999, __VA_ARGS__ }; \
    test_check_ids (__FILE__, __LINE__, (tokenizer), (text), (add_bos), \
                    expected_ + 1, sizeof expected_ / sizeof expected_ [0] - 1); \
} while (0)

static inline void
test_check_ids (const char *file, int line, xinf_tokenizer_t *tokenizer, const char *text,
                bool add_bos, const int32_t *expected, size_t count)
{
    int32_t ids [256];
    long got = xinf_tokenizer_encode (tokenizer, text, strlen (text), add_bos, ids, 256);
    bool same = got == (long) count;
    for (long index = 0; same && index < got; index++)
        same = ids [index] == expected [index];
    if (!same) {
        fprintf (stderr, "%s:%d: encoding \"%s\"\n  got:     ", file, line, text);
        for (long index = 0; index < got && index < 256; index++)
            fprintf (stderr, " %d", ids [index]);
        fprintf (stderr, "\n  expected:");
        for (size_t index = 0; index < count; index++)
            fprintf (stderr, " %d", expected [index]);
        fprintf (stderr, "\n");
        exit (1);
    }
}

//  decode (encode (text)) == text as the tokenizer normalizes it (NFC for
//  qwen2, unchanged otherwise), through exactly sized buffers.
static inline void
test_round_trip (xinf_tokenizer_t *tokenizer, const char *text, size_t length, bool add_bos)
{
    long normal_length = xinf_tokenizer_normalize (tokenizer, text, length, NULL, 0);
    CHECK (normal_length >= 0);
    char *normal = malloc ((size_t) normal_length + 1);
    CHECK (normal);
    CHECK_INT (xinf_tokenizer_normalize (tokenizer, text, length, normal, (size_t) normal_length + 1),
               normal_length);
    text = normal;
    length = (size_t) normal_length;
    long count = xinf_tokenizer_encode (tokenizer, text, length, add_bos, NULL, 0);
    CHECK (count >= 0);
    int32_t *ids = malloc (((size_t) count + 1) * sizeof *ids);
    CHECK (ids);
    CHECK_INT (xinf_tokenizer_encode (tokenizer, text, length, add_bos, ids, (size_t) count), count);
    long size = xinf_tokenizer_decode (tokenizer, ids, (size_t) count, NULL, 0);
    char *decoded = malloc ((size_t) size + 1);
    CHECK (decoded);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids, (size_t) count, decoded, (size_t) size + 1), size);
    if (size != (long) length || memcmp (decoded, text, length) != 0) {
        fprintf (stderr, "round trip of %zu bytes gave %ld bytes: \"%.*s\" -> \"%.*s\"\n",
                 length, size, (int) (length > 200 ? 200 : length), text,
                 (int) (size > 200 ? 200 : size), decoded);
        exit (1);
    }
    free (ids);
    free (decoded);
    free (normal);
}

//  xorshift64* for the random vocabularies and texts.
static inline uint64_t
test_random (uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1Dull;
}

#endif
