/*  test_tokenizer_api: what both models share: checks on the spec, bad
    arguments, snprintf-like counts, BOS, round trips of varied UTF-8 text
    (and of bytes that are not UTF-8) through hand-made and random
    vocabularies, NFC normalization (qwen2 only),
    a 100 KB input, and build and encode times with 152k-token
    vocabularies.
*/
#include "test_tokenizer.h"

static const char *const s_merges [] = { "h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ã ©" };
static const test_piece_t s_pieces [] = {
    { "▁", -1 }, { "h", -9 }, { "e", -9 }, { "l", -9 }, { "o", -9 }, { "he", -3 },
    { "ll", -2 }, { "hell", -2 }, { "hello", -1 }, { "▁hello", -1 }, { "é", -5 }
};

//  Expects xinf_tokenizer_new to fail with 'needle' in the error.
static void
s_check_error (const xinf_tokenizer_spec_t *spec, const char *needle)
{
    char error [256] = "";
    xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (spec, error, sizeof error);
    if (tokenizer)
        fprintf (stderr, "expected an error with \"%s\"\n", needle);
    CHECK (!tokenizer);
    CHECK_HAS (error, needle);
}

//  A token's text is 1024 bytes at most, the most a streamed token's
//  'text' may carry: one byte more is refused, naming the token.
static void
test_longest_token (void)
{
    char longest [XINF_TOKENIZER_TEXT_MAX + 1];
    memset (longest, 'x', sizeof longest);
    for (size_t length = XINF_TOKENIZER_TEXT_MAX; length <= XINF_TOKENIZER_TEXT_MAX + 1; length++) {
        test_vocab_t vocab;
        test_gpt2_vocab (&vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
        test_vocab_add (&vocab, longest, length, 0, XINF_TOKEN_NORMAL);
        xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
        char error [256] = "", piece [XINF_TOKENIZER_TEXT_MAX + 1];
        xinf_tokenizer_t *tokenizer = xinf_tokenizer_new (&spec, error, sizeof error);
        if (length > XINF_TOKENIZER_TEXT_MAX) {
            CHECK (!tokenizer);
            CHECK_HAS (error, "token 264's text is over 1024 bytes long");
        }
        else {
            CHECK (tokenizer);
            CHECK_INT (xinf_tokenizer_piece (tokenizer, 264, piece, sizeof piece), (long) length);
        }
        xinf_tokenizer_destroy (&tokenizer);
        test_vocab_destroy (&vocab);
    }
}

static void
test_spec_errors (void)
{
    s_check_error (NULL, "no tokenizer spec");
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
    xinf_tokenizer_spec_t good = test_spec (&vocab, "gpt2"), spec;
    spec = good, spec.model = "bert";
    s_check_error (&spec, "unknown tokenizer model 'bert'");
    spec = good, spec.model = NULL;
    s_check_error (&spec, "model missing");
    spec = good, spec.n_tokens = 0;
    s_check_error (&spec, "empty vocabulary");
    spec = good, spec.tokens = NULL;
    s_check_error (&spec, "empty vocabulary");
    spec = good, spec.bos_id = (int64_t) vocab.count;
    s_check_error (&spec, "bos id 264 out of range");
    spec = good, spec.unk_id = -5;
    s_check_error (&spec, "unk id -5");
    spec = good, spec.scores = vocab.scores, spec.n_scores = vocab.count - 1;
    s_check_error (&spec, "263 scores");
    spec = good, spec.n_token_types = vocab.count + 1;
    s_check_error (&spec, "265 token types");
    spec = good, spec.n_scores = 0;        //  an empty scores array for a vocabulary of 264
    s_check_error (&spec, "0 scores");
    spec = good, spec.pre = "kimi-k2";
    s_check_error (&spec, "unknown pre-tokenizer 'kimi-k2'");
    s_check_error (&spec, "(known: default, gpt2, gpt-2, llama3, llama-bpe, llama-v3, dbrx, smaug-bpe, glm4, "
                          "chatglm-bpe, tekken, gpt-4o, refact, qwen2, deepseek-r1-qwen, deepseek-llm, "
                          "deepseek-coder, deepseek-v3)");
    spec = good, spec.merges = NULL;
    s_check_error (&spec, "no merge array");

    vocab.types [7] = 9;
    s_check_error (&good, "token 7 has unknown type 9");
    vocab.types [7] = XINF_TOKEN_NORMAL;
    char *saved = vocab.tokens [5];
    vocab.tokens [5] = NULL;
    s_check_error (&good, "token 5 has no text");
    vocab.tokens [5] = saved;

    //  Merges: unknown parts, no separator, an unknown result
    const char *merges [] = { "h e", "x zz" };
    spec = good, spec.merges = merges, spec.n_merges = 2;
    s_check_error (&spec, "merge 1 'x zz' names a token not in the vocabulary");
    merges [1] = "he";
    s_check_error (&spec, "merge 1 'he' is not 'left right'");
    merges [1] = "o r";
    spec.n_tokens = spec.n_scores = spec.n_token_types = 256 + 5;     //  "or" (token 261) left out
    s_check_error (&spec, "merge 1 'o r' makes a token not in the vocabulary");
    merges [1] = NULL;
    s_check_error (&spec, "merge 1 has no text");

    //  No room for the error is fine
    spec = good, spec.model = "bert";
    CHECK (xinf_tokenizer_new (&spec, NULL, 0) == NULL);
    xinf_tokenizer_t *tokenizer = test_tokenizer (&good);
    xinf_tokenizer_destroy (&tokenizer);
    xinf_tokenizer_destroy (&tokenizer);
    CHECK (tokenizer == NULL);
    test_vocab_destroy (&vocab);
}

static void
test_bad_arguments (void)
{
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, s_merges, sizeof s_merges / sizeof s_merges [0]);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    int32_t ids [8];
    char text [8];
    CHECK_INT (xinf_tokenizer_encode (NULL, "a", 1, false, ids, 8), -1);
    CHECK_INT (xinf_tokenizer_encode (tokenizer, NULL, 1, false, ids, 8), -1);
    CHECK_INT (xinf_tokenizer_encode (tokenizer, NULL, 0, false, ids, 8), 0);
    CHECK_INT (xinf_tokenizer_encode (tokenizer, "a", 1, false, NULL, 8), -1);
    int32_t bad [] = { 1, -1 }, past [] = { 264 }, good [] = { 263 };
    CHECK_INT (xinf_tokenizer_decode (tokenizer, bad, 2, text, 8), -1);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, past, 1, text, 8), -1);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, good, 1, text, 8), 2);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, NULL, 1, text, 8), -1);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, good, 1, NULL, 8), -1);
    CHECK_INT (xinf_tokenizer_decode (NULL, good, 1, text, 8), -1);
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 264, text, 8), -1);
    CHECK_INT (xinf_tokenizer_piece (tokenizer, -1, text, 8), -1);
    CHECK (xinf_tokenizer_text (tokenizer, 264, NULL) == NULL);
    CHECK_INT (xinf_tokenizer_find (tokenizer, NULL, 3), -1);
    CHECK_INT (xinf_tokenizer_vocab (tokenizer), 264);
    CHECK_INT (xinf_tokenizer_vocab (NULL), 0);
    CHECK_INT (xinf_tokenizer_bos (tokenizer), -1);
    CHECK (!xinf_tokenizer_add_bos (tokenizer));
    //  No BOS in the model: add_bos adds nothing
    CHECK_INT (xinf_tokenizer_encode (tokenizer, "hello", 5, true, ids, 8), 1);
    CHECK_INT (ids [0], 259);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

//  Too small a buffer: what fits is written, nothing past it, and the
//  count is what is needed.
static void
test_counts (void)
{
    test_vocab_t vocab;
    test_llama_vocab (&vocab, s_pieces, sizeof s_pieces / sizeof s_pieces [0]);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "llama");
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    int32_t ids [8] = { -7, -7, -7, -7, -7, -7, -7, -7 };
    CHECK_INT (xinf_tokenizer_encode (tokenizer, "hello hello", 11, true, NULL, 0), 3);
    CHECK_INT (xinf_tokenizer_encode (tokenizer, "hello hello", 11, true, ids, 2), 3);
    CHECK_INT (ids [0], 1);
    CHECK_INT (ids [1], 268);
    CHECK_INT (ids [2], -7);
    CHECK_INT (xinf_tokenizer_encode (tokenizer, "hello hello", 11, true, ids, 8), 3);
    CHECK_INT (ids [2], 268);
    CHECK_INT (ids [3], -7);

    char text [16];
    memset (text, '#', sizeof text);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids, 3, text, 4), 11);
    CHECK (memcmp (text, "hell#", 5) == 0);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids, 3, text, 11), 11);
    CHECK (memcmp (text, "hello hello#", 12) == 0);     //  no room for the NUL
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids, 3, text, 12), 11);
    CHECK_STR (text, "hello hello");
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids, 0, text, 12), 0);
    CHECK_STR (text, "");
    memset (text, '#', sizeof text);
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 268, text, 3), 6);
    CHECK (memcmp (text, " he#", 4) == 0);
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 268, NULL, 0), 6);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

//  --------------------------------------------------------------------------
//  Round trips

static const char *const s_texts [] = {
    "", "a", " ", "  ", "Hello, world!", " leading space", "trailing space ",
    "héllo wörld — naïve café, Øresund, İstanbul, ß",
    "日本語のテキスト、中文字符，한국어 텍스트",
    "emoji 😀👍🏽👨‍👩‍👧 flags 🇫🇷🇯🇵",
    "\t\ttabs\tand\nnewlines\r\n\n\n  \n",
    "mixed  \u00a0 spaces\u3000here\u2028there",
    "<s></s><|endoftext|><0x41>",
    "1234567890 3.14159 ١٢٣ Ⅻ",
    "’quotes’ “double” «guillemets» don't WE'LL",
    "combining e\u0301 a\u0308 and हिन्दी",
    "\xff\xfe\x80 invalid \xc3 bytes \xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf",
};
#define N_TEXTS (sizeof s_texts / sizeof s_texts [0])

typedef struct {
    const char *name;
    xinf_tokenizer_t *tokenizer;
} s_named_t;

//  Hand-made and random vocabularies of both models: gpt2 with each of
//  seven pre-tokenizers, llama with and without the space prefix.
#define S_TOKENIZERS 9
static size_t
s_tokenizers (s_named_t *out, test_vocab_t *vocabs)
{
    size_t count = 0;
    memset (vocabs, 0, S_TOKENIZERS * sizeof *vocabs);     //  the last two share one
    const char *pres [] = { "gpt2", "llama3", "qwen2", "deepseek-llm", "deepseek-coder", "deepseek-v3", "default" };
    for (size_t index = 0; index < sizeof pres / sizeof pres [0]; index++) {
        test_gpt2_vocab (&vocabs [count], s_merges, sizeof s_merges / sizeof s_merges [0]);
        xinf_tokenizer_spec_t spec = test_spec (&vocabs [count], "gpt2");
        spec.pre = pres [index];
        out [count++] = (s_named_t) { pres [index], test_tokenizer (&spec) };
    }
    test_llama_vocab (&vocabs [count], s_pieces, sizeof s_pieces / sizeof s_pieces [0]);
    xinf_tokenizer_spec_t spec = test_spec (&vocabs [count], "llama");
    out [count++] = (s_named_t) { "llama", test_tokenizer (&spec) };
    spec.no_space_prefix = true;
    out [count++] = (s_named_t) { "llama-no-prefix", test_tokenizer (&spec) };
    return count;
}

static void
test_round_trips (void)
{
    s_named_t tokenizers [S_TOKENIZERS];
    test_vocab_t vocabs [S_TOKENIZERS];
    size_t count = s_tokenizers (tokenizers, vocabs);
    for (size_t which = 0; which < count; which++) {
        for (size_t index = 0; index < N_TEXTS; index++) {
            test_round_trip (tokenizers [which].tokenizer, s_texts [index], strlen (s_texts [index]), false);
            test_round_trip (tokenizers [which].tokenizer, s_texts [index], strlen (s_texts [index]), true);
        }
        test_round_trip (tokenizers [which].tokenizer, "a\0b", 3, true);
        //  Random bytes and random code points
        uint64_t seed = 0xb17e5 + which;
        for (int sample = 0; sample < 500; sample++) {
            char text [1024];
            size_t length = 0, size = test_random (&seed) % 200;
            for (size_t at = 0; at < size; at++)
                if (sample % 2)
                    text [length++] = (char) test_random (&seed);
                else {
                    unsigned cpt = (unsigned) (test_random (&seed) % 0x30000);
                    if (cpt >= 0xD800 && cpt < 0xE000)
                        cpt = ' ';
                    if (cpt == 0x2581)
                        cpt = 'x';      //  llama: a literal "▁" comes back as a space
                    length += test_utf8 (cpt, text + length);
                }
            test_round_trip (tokenizers [which].tokenizer, text, length, sample % 3 == 0);
        }
    }
    //  The gpt2 ones take "▁" back too
    test_round_trip (tokenizers [0].tokenizer, "\xe2\x96\x81 x", 5, false);
    for (size_t which = 0; which < count; which++) {
        xinf_tokenizer_destroy (&tokenizers [which].tokenizer);
        test_vocab_destroy (&vocabs [which]);
    }
}

//  About 100 KB of mixed text, then the same as one line with no spaces.
static void
test_long_input (void)
{
    size_t capacity = 110 * 1024, length = 0;
    char *text = malloc (capacity);
    CHECK (text);
    for (size_t index = 0; length + 200 < capacity - 1024; index++) {
        const char *piece = s_texts [index % N_TEXTS];
        memcpy (text + length, piece, strlen (piece));
        length += strlen (piece);
        text [length++] = index % 7 ? ' ' : '\n';
    }
    s_named_t tokenizers [S_TOKENIZERS];
    test_vocab_t vocabs [S_TOKENIZERS];
    size_t count = s_tokenizers (tokenizers, vocabs);
    for (size_t which = 0; which < count; which++) {
        int64_t start = zclock_usecs ();
        test_round_trip (tokenizers [which].tokenizer, text, length, true);
        fprintf (stderr, "      %-16s %zu bytes round trip: %.1f ms\n", tokenizers [which].name,
                 length, (double) (zclock_usecs () - start) / 1000.0);
    }
    memset (text, 'l', length);         //  one 100 KB word: "ll" merges everywhere
    for (size_t which = 0; which < count; which++)
        test_round_trip (tokenizers [which].tokenizer, text, length, false);
    for (size_t which = 0; which < count; which++) {
        xinf_tokenizer_destroy (&tokenizers [which].tokenizer);
        test_vocab_destroy (&vocabs [which]);
    }
    free (text);
}

//  --------------------------------------------------------------------------
//  NFC: qwen2 normalizes (as Qwen2's tokenizer.json), the others do not.

//  The ids of a text (at most 16).
static long
s_ids (xinf_tokenizer_t *tokenizer, const char *text, int32_t *ids)
{
    long count = xinf_tokenizer_encode (tokenizer, text, strlen (text), false, ids, 16);
    CHECK (count >= 0 && count <= 16);
    return count;
}

static void
test_normalize (void)
{
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, NULL, 0);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    spec.pre = "qwen2";
    xinf_tokenizer_t *qwen2 = test_tokenizer (&spec);
    spec.pre = "llama3";
    xinf_tokenizer_t *llama3 = test_tokenizer (&spec);
    spec.pre = "deepseek-r1-qwen";
    xinf_tokenizer_t *deepseek = test_tokenizer (&spec);
    char out [32];
    //  e + combining acute is é; a Hangul L + V jamo pair is one syllable;
    //  the combining marks are put in canonical order; bad bytes stay
    CHECK_INT (xinf_tokenizer_normalize (qwen2, "e\xcc\x81", 3, out, sizeof out), 2);
    CHECK_STR (out, "\xc3\xa9");
    CHECK_INT (xinf_tokenizer_normalize (qwen2, "\xe1\x84\x80\xe1\x85\xa1", 6, out, sizeof out), 3);
    CHECK_STR (out, "\xea\xb0\x80");
    CHECK_INT (xinf_tokenizer_normalize (qwen2, "q\xcc\x81\xcc\xa3", 5, out, sizeof out), 5);
    CHECK_STR (out, "q\xcc\xa3\xcc\x81");
    CHECK_INT (xinf_tokenizer_normalize (qwen2, "\xff" "e\xcc\x81\xcc", 5, out, sizeof out), 4);
    CHECK (memcmp (out, "\xff\xc3\xa9\xcc", 4) == 0);
    //  Counting as snprintf: the size needed, what fits written
    memset (out, 'x', sizeof out);
    CHECK_INT (xinf_tokenizer_normalize (qwen2, "e\xcc\x81", 3, out, 1), 2);
    CHECK (out [0] == '\xc3' && out [1] == 'x');
    CHECK_INT (xinf_tokenizer_normalize (qwen2, NULL, 0, NULL, 0), 0);
    CHECK_INT (xinf_tokenizer_normalize (qwen2, NULL, 1, out, sizeof out), -1);
    CHECK_INT (xinf_tokenizer_normalize (NULL, "a", 1, out, sizeof out), -1);
    //  Encoding sees the normalized text under qwen2 only
    int32_t one [16], two [16];
    long n_one = s_ids (qwen2, "caf\xc3\xa9", one);
    CHECK_INT (s_ids (qwen2, "cafe\xcc\x81", two), n_one);
    CHECK (memcmp (one, two, (size_t) n_one * sizeof *one) == 0);
    CHECK_INT (s_ids (llama3, "cafe\xcc\x81", two), n_one + 1);
    CHECK_INT (s_ids (deepseek, "cafe\xcc\x81", two), n_one + 1);
    CHECK_INT (xinf_tokenizer_normalize (llama3, "e\xcc\x81", 3, out, sizeof out), 3);
    CHECK_STR (out, "e\xcc\x81");
    xinf_tokenizer_destroy (&qwen2);
    xinf_tokenizer_destroy (&llama3);
    xinf_tokenizer_destroy (&deepseek);
    test_vocab_destroy (&vocab);
}

//  --------------------------------------------------------------------------
//  152k-token vocabularies: every pair of bytes, then byte triples.

static void
test_large_vocab (void)
{
    test_vocab_t vocab;
    test_gpt2_vocab (&vocab, NULL, 0);
    for (unsigned one = 0; one < 256; one++)
        for (unsigned two = 0; two < 256; two++)
            test_vocab_merge (&vocab, vocab.tokens [one], vocab.lengths [one], vocab.tokens [two], vocab.lengths [two]);
    for (unsigned pair = 256; vocab.count < 152000; pair++)
        for (unsigned third = 0; third < 256 && vocab.count < 152000; third += 3)
            test_vocab_merge (&vocab, vocab.tokens [pair], vocab.lengths [pair], vocab.tokens [third], vocab.lengths [third]);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "gpt2");
    spec.pre = "llama3";
    int64_t start = zclock_usecs ();
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    double build_ms = (double) (zclock_usecs () - start) / 1000.0;
    fprintf (stderr, "      gpt2 vocabulary of %zu tokens, %zu merges: built in %.1f ms\n",
             vocab.count, vocab.n_merges, build_ms);
    CHECK (build_ms < 5000);
    size_t length = 100 * 1024;
    char *text = malloc (length);
    uint64_t seed = 42;
    for (size_t at = 0; at < length; at++)
        text [at] = (char) (test_random (&seed) % 5 == 0 ? ' ' : 'a' + test_random (&seed) % 26);
    start = zclock_usecs ();
    long count = xinf_tokenizer_encode (tokenizer, text, length, false, NULL, 0);
    fprintf (stderr, "      encoded %zu bytes to %ld ids in %.1f ms\n", length, count,
             (double) (zclock_usecs () - start) / 1000.0);
    test_round_trip (tokenizer, text, length, false);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);

    //  llama: ASCII pairs and triples with "▁"
    test_llama_vocab (&vocab, NULL, 0);
    char piece [16];
    test_vocab_add (&vocab, "▁", 3, -1, XINF_TOKEN_NORMAL);
    for (unsigned one = 33; one < 127; one++) {
        piece [0] = (char) one;
        test_vocab_add (&vocab, piece, 1, -2, XINF_TOKEN_NORMAL);
    }
    for (unsigned one = 32; one < 127; one++)
        for (unsigned two = 32; two < 127; two++)
            for (unsigned three = 32; three < 127 && vocab.count < 152000; three += 2) {
                size_t size = 0;
                piece [size++] = (char) one;
                piece [size++] = (char) two;
                if (one == ' ')
                    size = (size_t) snprintf (piece, sizeof piece, "▁%c", two);
                if (three > 32)
                    piece [size++] = (char) three;
                test_vocab_add (&vocab, piece, size, -(float) vocab.count, XINF_TOKEN_NORMAL);
            }
    spec = test_spec (&vocab, "llama");
    start = zclock_usecs ();
    tokenizer = test_tokenizer (&spec);
    build_ms = (double) (zclock_usecs () - start) / 1000.0;
    fprintf (stderr, "      llama vocabulary of %zu tokens: built in %.1f ms\n", vocab.count, build_ms);
    CHECK (build_ms < 5000);
    start = zclock_usecs ();
    count = xinf_tokenizer_encode (tokenizer, text, length, true, NULL, 0);
    fprintf (stderr, "      encoded %zu bytes to %ld ids in %.1f ms\n", length, count,
             (double) (zclock_usecs () - start) / 1000.0);
    test_round_trip (tokenizer, text, length, true);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
    free (text);
}

int
main (void)
{
    RUN (test_spec_errors);
    RUN (test_longest_token);
    RUN (test_bad_arguments);
    RUN (test_counts);
    RUN (test_round_trips);
    RUN (test_normalize);
    RUN (test_long_input);
    RUN (test_large_vocab);
    return 0;
}
