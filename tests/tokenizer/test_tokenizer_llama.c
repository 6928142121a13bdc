/*  test_tokenizer_llama: the SentencePiece tokenizer: exact ids on a
    hand-made vocabulary (scores, ties, byte fallback, unknown fallback,
    the dummy prefix), decoding, and the heap encoder against a naive
    reference on random vocabularies.
*/
#include "test_tokenizer.h"
#include "xinf_tokenizer_private.h"

static const test_piece_t s_pieces [] = {
    { "▁", -100 }, { "h", -100 }, { "e", -100 }, { "l", -100 },            //  259..262
    { "o", -100 }, { "w", -100 }, { "r", -100 }, { "d", -100 },            //  263..266
    { "he", -10 }, { "ll", -5 }, { "hell", -8 }, { "hello", -3 },          //  267..270
    { "▁hello", -2 }, { "▁w", -20 }, { "or", -6 }, { "▁wor", -7 },        //  271..274
    { "ld", -9 }, { "▁world", -1 }, { "é", -50 }, { "ab", -30 },           //  275..278
    { "bc", -20 }, { "a", -100 }, { "b", -100 }, { "c", -100 },            //  279..282
    { "aa", -10 }                                                          //  283
};

static xinf_tokenizer_t *
s_tokenizer (bool space_prefix)
{
    test_vocab_t vocab;
    test_llama_vocab (&vocab, s_pieces, sizeof s_pieces / sizeof s_pieces [0]);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "llama");
    spec.no_space_prefix = !space_prefix;
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    test_vocab_destroy (&vocab);
    return tokenizer;
}

static void
test_ids (void)
{
    xinf_tokenizer_t *tokenizer = s_tokenizer (true);
    CHECK_IDS (tokenizer, "hello world", false, 271, 276);
    CHECK_IDS (tokenizer, "hello world", true, 1, 271, 276);
    CHECK_IDS (tokenizer, "Hello", false, 259, 75, 261, 268, 263);
    CHECK_IDS (tokenizer, "abc", false, 259, 280, 279);         //  bc scores higher than ab
    CHECK_IDS (tokenizer, "aaa", false, 259, 283, 280);         //  equal scores: leftmost
    CHECK_IDS (tokenizer, "é", false, 259, 277);
    CHECK_IDS (tokenizer, "ü", false, 259, 3 + 0xC3, 3 + 0xBC); //  byte fallback
    CHECK_IDS (tokenizer, "\xff", false, 259, 3 + 0xFF);
    CHECK_IDS (tokenizer, "\xe2\x96", false, 259, 3 + 0xE2, 3 + 0x96);
    CHECK_IDS (tokenizer, "", false);
    CHECK_IDS (tokenizer, "", true, 1);
    CHECK_IDS (tokenizer, "  hello", false, 259, 259, 271);
    CHECK_IDS (tokenizer, "<s>", false, 259, 3 + '<', 3 + 's', 3 + '>');
    CHECK_IDS (tokenizer, "<0x41>", false, 259, 3 + '<', 3 + '0', 3 + 'x', 3 + '4', 3 + '1', 3 + '>');
    CHECK_IDS (tokenizer, "hello\nworld", false, 271, 3 + '\n', 264, 273, 275);
    xinf_tokenizer_destroy (&tokenizer);

    tokenizer = s_tokenizer (false);
    CHECK_IDS (tokenizer, "hello world", true, 1, 270, 276);
    xinf_tokenizer_destroy (&tokenizer);
}

static void
test_decode (void)
{
    xinf_tokenizer_t *tokenizer = s_tokenizer (true);
    char text [64];
    int32_t ids [] = { 1, 271, 276, 2 };
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids, 4, text, sizeof text), 11);
    CHECK_STR (text, "hello world");
    CHECK_INT (xinf_tokenizer_decode (tokenizer, ids + 1, 1, text, sizeof text), 5);
    CHECK_STR (text, "hello");
    int32_t spaced [] = { 259, 271 };
    CHECK_INT (xinf_tokenizer_decode (tokenizer, spaced, 2, text, sizeof text), 6);
    CHECK_STR (text, " hello");
    int32_t bytes [] = { 3 + 0xC3, 3 + 0xBC, 0, 276 };
    CHECK_INT (xinf_tokenizer_decode (tokenizer, bytes, 4, text, sizeof text), 11);
    CHECK_STR (text, "ü▅ world");
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 271, text, sizeof text), 6);
    CHECK_STR (text, " hello");
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 3 + 0xC3, text, sizeof text), 1);
    CHECK_INT ((uint8_t) text [0], 0xC3);
    CHECK_INT (xinf_tokenizer_piece (tokenizer, 1, text, sizeof text), 0);
    CHECK (xinf_tokenizer_is_control (tokenizer, 1));
    CHECK (xinf_tokenizer_is_control (tokenizer, 2));
    CHECK (!xinf_tokenizer_is_control (tokenizer, 0));
    CHECK (!xinf_tokenizer_is_control (tokenizer, 3));
    CHECK_INT (xinf_tokenizer_bos (tokenizer), 1);
    CHECK_INT (xinf_tokenizer_eos (tokenizer), 2);
    CHECK_INT (xinf_tokenizer_unk (tokenizer), 0);
    CHECK (xinf_tokenizer_add_bos (tokenizer));
    CHECK_STR (xinf_tokenizer_model (tokenizer), "llama");
    xinf_tokenizer_destroy (&tokenizer);

    //  Without the dummy prefix nothing is stripped
    tokenizer = s_tokenizer (false);
    CHECK_INT (xinf_tokenizer_decode (tokenizer, spaced, 2, text, sizeof text), 7);
    CHECK_STR (text, "  hello");
    xinf_tokenizer_destroy (&tokenizer);
}

//  No byte tokens: characters outside the vocabulary become <unk>, or fail
//  without one.
static void
test_unknown (void)
{
    test_vocab_t vocab = { 0 };
    test_vocab_add (&vocab, "<unk>", 5, 0, XINF_TOKEN_UNKNOWN);
    test_vocab_add (&vocab, "<s>", 3, 0, XINF_TOKEN_CONTROL);
    test_vocab_add (&vocab, "</s>", 4, 0, XINF_TOKEN_CONTROL);
    test_vocab_add (&vocab, "▁", 3, -1, XINF_TOKEN_NORMAL);
    test_vocab_add (&vocab, "a", 1, -1, XINF_TOKEN_NORMAL);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "llama");
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    CHECK_IDS (tokenizer, "ab", false, 3, 4, 0);
    CHECK_IDS (tokenizer, "aé", true, 1, 3, 4, 0);
    xinf_tokenizer_destroy (&tokenizer);
    spec.unk_id = -1;
    spec.token_types = NULL;    //  all normal but BOS and EOS
    tokenizer = test_tokenizer (&spec);
    CHECK_INT (xinf_tokenizer_encode (tokenizer, "ab", 2, false, NULL, 0), -1);
    CHECK_IDS (tokenizer, "a", false, 3, 4);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

//  User-defined pieces (Gemma's runs of spaces, stored with spaces; its
//  tags) are split out of the text, the longest at each place from the
//  left, before merging; Gemma's vocabulary has no space prefix.
static void
test_user_defined (void)
{
    test_vocab_t vocab = { 0 };
    test_vocab_add (&vocab, "<unk>", 5, 0, XINF_TOKEN_UNKNOWN);         //  0
    test_vocab_add (&vocab, "<s>", 3, 0, XINF_TOKEN_CONTROL);           //  1
    test_vocab_add (&vocab, "</s>", 4, 0, XINF_TOKEN_CONTROL);          //  2
    test_vocab_add (&vocab, "▁", 3, -1, XINF_TOKEN_NORMAL);              //  3
    test_vocab_add (&vocab, "a", 1, -1, XINF_TOKEN_NORMAL);              //  4
    test_vocab_add (&vocab, "b", 1, -1, XINF_TOKEN_NORMAL);              //  5
    test_vocab_add (&vocab, "▁b", 4, -2, XINF_TOKEN_NORMAL);             //  6
    test_vocab_add (&vocab, "  ", 2, -1000, XINF_TOKEN_USER_DEFINED);    //  7
    test_vocab_add (&vocab, "   ", 3, -1000, XINF_TOKEN_USER_DEFINED);   //  8
    test_vocab_add (&vocab, "<b>", 3, -1000, XINF_TOKEN_USER_DEFINED);   //  9
    test_vocab_add (&vocab, "<", 1, -1, XINF_TOKEN_NORMAL);              //  10
    test_vocab_add (&vocab, ">", 1, -1, XINF_TOKEN_NORMAL);              //  11
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "llama");
    spec.no_space_prefix = true;
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    CHECK_IDS (tokenizer, "a b", false, 4, 6);
    CHECK_IDS (tokenizer, "a  b", false, 4, 7, 5);          //  not "▁" + "▁b"
    CHECK_IDS (tokenizer, "a     b", false, 4, 8, 7, 5);    //  the longest first
    CHECK_IDS (tokenizer, "<b>a<b", false, 9, 4, 10, 5);
    CHECK_IDS (tokenizer, "a<b> b", false, 4, 9, 6);
    CHECK_IDS (tokenizer, "  ", true, 1, 7);
    xinf_tokenizer_destroy (&tokenizer);
    //  With add_space_prefix each part of the text before, between and
    //  after the pieces gets its "▁" (llama.cpp's fragments)
    spec.no_space_prefix = false;
    tokenizer = test_tokenizer (&spec);
    CHECK_IDS (tokenizer, "a<b>b", false, 3, 4, 9, 6);
    CHECK_IDS (tokenizer, "<b>", false, 9);
    CHECK_IDS (tokenizer, "  ", false, 7);
    CHECK_IDS (tokenizer, "a b", false, 3, 4, 6);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
}

//  --------------------------------------------------------------------------
//  Naive reference: merge the adjacent pair whose join is a normal piece
//  with the highest score, leftmost first, until none is left.

static size_t
s_reference (xinf_tokenizer_t *tokenizer, const test_vocab_t *vocab, const char *text, size_t length, int32_t *out)
{
    char *normal = malloc (3 * length + 4);
    size_t size = 0, count = 0;
    memcpy (normal, "▁", 3);
    size = 3;
    for (size_t index = 0; index < length; index++)
        if (text [index] == ' ') {
            memcpy (normal + size, "▁", 3);
            size += 3;
        }
        else
            normal [size++] = text [index];
    size_t *start = malloc ((size + 1) * sizeof *start), symbols = 0;
    for (size_t at = 0; at < size; symbols++) {
        uint32_t cpt;
        start [symbols] = at;
        at += xinf_tok_utf8 ((const uint8_t *) normal + at, size - at, &cpt);
    }
    start [symbols] = size;
    while (true) {
        float best = 0;
        size_t best_at = SIZE_MAX;
        for (size_t index = 0; index + 1 < symbols; index++) {
            int32_t id = xinf_tokenizer_find (tokenizer, normal + start [index], start [index + 2] - start [index]);
            if (id >= 0 && vocab->types [id] == XINF_TOKEN_NORMAL
            &&  (best_at == SIZE_MAX || vocab->scores [id] > best)) {
                best = vocab->scores [id];
                best_at = index;
            }
        }
        if (best_at == SIZE_MAX)
            break;
        memmove (start + best_at + 1, start + best_at + 2, (symbols - best_at - 1) * sizeof *start);
        symbols--;
    }
    for (size_t index = 0; index < symbols; index++) {
        int32_t id = xinf_tokenizer_find (tokenizer, normal + start [index], start [index + 1] - start [index]);
        if (id >= 0 && vocab->types [id] == XINF_TOKEN_NORMAL)
            out [count++] = id;
        else
            for (size_t at = start [index]; at < start [index + 1]; at++)
                out [count++] = 3 + (uint8_t) normal [at];
    }
    free (start);
    free (normal);
    return count;
}

//  Pieces joined from a small alphabet, scores from a few values so that
//  ties happen.
static void
s_random_vocab (test_vocab_t *vocab, uint64_t *seed, size_t n_pieces)
{
    static const char *const alphabet [] = { "▁", "a", "b", "c", "é", "日" };
    test_llama_vocab (vocab, NULL, 0);
    size_t first = vocab->count;
    for (size_t index = 0; index < 6; index++)
        test_vocab_add (vocab, alphabet [index], strlen (alphabet [index]), -1000, XINF_TOKEN_NORMAL);
    while (vocab->count < first + n_pieces) {
        size_t left = first + test_random (seed) % (vocab->count - first);
        size_t right = first + test_random (seed) % (vocab->count - first);
        char joined [128];
        size_t size = vocab->lengths [left] + vocab->lengths [right];
        if (size > sizeof joined)
            continue;
        memcpy (joined, vocab->tokens [left], vocab->lengths [left]);
        memcpy (joined + vocab->lengths [left], vocab->tokens [right], vocab->lengths [right]);
        bool known = false;
        for (size_t id = first; id < vocab->count && !known; id++)
            known = vocab->lengths [id] == size && memcmp (vocab->tokens [id], joined, size) == 0;
        if (!known)
            test_vocab_add (vocab, joined, size, -(float) (test_random (seed) % 8), XINF_TOKEN_NORMAL);
    }
}

static void
test_against_reference (void)
{
    static const char *const pieces [] = { "a", "b", "c", " ", "é", "日", "ab", " a", "aa", "ü", "\xff" };
    uint64_t seed = 0x11a3a2026;
    size_t ids_total = 0, bytes_total = 0;
    for (int round = 0; round < 6; round++) {
        test_vocab_t vocab;
        s_random_vocab (&vocab, &seed, 100 + 150 * (size_t) round);
        xinf_tokenizer_spec_t spec = test_spec (&vocab, "llama");
        xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
        for (int sample = 0; sample < 200; sample++) {
            char text [512];
            size_t length = 0, words = test_random (&seed) % 40;
            for (size_t word = 0; word < words; word++) {
                const char *piece = pieces [test_random (&seed) % (sizeof pieces / sizeof pieces [0])];
                memcpy (text + length, piece, strlen (piece));
                length += strlen (piece);
            }
            int32_t ids [2048], expected [2048];
            long count = xinf_tokenizer_encode (tokenizer, text, length, false, ids, 2048);
            size_t reference = length ? s_reference (tokenizer, &vocab, text, length, expected) : 0;
            CHECK_INT (count, reference);
            for (size_t index = 0; index < reference; index++)
                CHECK_INT (ids [index], expected [index]);
            test_round_trip (tokenizer, text, length, sample % 2);
            ids_total += reference;
            bytes_total += length;
        }
        xinf_tokenizer_destroy (&tokenizer);
        test_vocab_destroy (&vocab);
    }
    CHECK (ids_total * 10 < bytes_total * 9);   //  the merges fired
}

int
main (void)
{
    RUN (test_ids);
    RUN (test_decode);
    RUN (test_unknown);
    RUN (test_user_defined);
    RUN (test_against_reference);
    return 0;
}
