/*  test_token_mask: constrained decoding's parts below the replica.
    - the vocabulary trie (models/xinf_vocab_trie): the tokens it allows
      from every state on the way through JSON texts equal those found by
      feeding each token's piece to the grammar alone, on a SentencePiece
      and a GPT-2 vocabulary, and so are the JSON masks' (inside strings
      split into plain text tokens and a trie of the others);
    - the JSON masks (models/xinf_json_masks): end tokens only once the
      object is complete, the end tokens where nothing else fits, the
      cache, and taking tokens;
    - the TMSK frame (models/xinf_token_mask): a round trip, each bad
      field named, every cut refused, and the mask applied to logits. */
#include "test_unit.h"
#include "test_tokenizer.h"
#include "xinf_json_masks.h"
#include "xinf_token_mask.h"
#include "xinf_vocab_trie.h"

#include <math.h>

static const char *const s_texts [] = {
    "{\"a\": true, \"ab\": [1.5, -2e+3, null, \"x\\u00e9\\n\"], \"c\": {\"d\": false}}",
    " \n{\"\xc3\xa9\xe4\xb8\xad\": \"ab ab\", \"12\": {}, \"x\": [[], {}]}",
};

//  Whether token 'id' is allowed from 'state' by feeding its piece.
static bool
s_allowed (xinf_tokenizer_t *tokenizer, const xinf_json_state_t *state, int32_t id)
{
    char piece [XINF_TOKENIZER_TEXT_MAX];
    long length = xinf_tokenizer_piece (tokenizer, id, piece, sizeof piece);
    if (length <= 0 || xinf_tokenizer_is_control (tokenizer, id) || id == xinf_tokenizer_unk (tokenizer))
        return false;
    xinf_json_state_t copy = *state;
    return xinf_json_feed (&copy, piece, (size_t) length);
}

//  From each state through s_texts: the trie's tokens, and the JSON
//  masks' (walked afresh and cached), against feeding each piece.
static size_t
s_check_trie (xinf_tokenizer_t *tokenizer)
{
    xinf_vocab_trie_t *trie = xinf_vocab_trie_new (tokenizer, NULL);
    xinf_json_masks_t *masks = xinf_json_masks_new (tokenizer);
    CHECK (trie && masks);
    size_t vocab = xinf_tokenizer_vocab (tokenizer), words = xinf_token_mask_words (vocab), states = 0;
    uint32_t *bits = calloc (words, sizeof (uint32_t)), *walked = calloc (words, sizeof (uint32_t));
    for (size_t text = 0; text < sizeof s_texts / sizeof s_texts [0]; text++) {
        xinf_json_state_t state;
        xinf_json_start (&state);
        for (size_t at = 0; at <= strlen (s_texts [text]); at++) {
            memset (bits, 0, words * sizeof (uint32_t));
            size_t count = xinf_vocab_trie_allowed (trie, &state, sizeof state, xinf_grammar_json.step, bits), expected = 0;
            xinf_json_masks_walk (masks, &xinf_grammar_json, &state, walked);
            const uint32_t *cached = xinf_json_masks_get (masks, &xinf_grammar_json, &state);
            for (size_t id = 0; id < vocab; id++) {
                bool allowed = s_allowed (tokenizer, &state, (int32_t) id);
                bool ended = xinf_json_done (&state) && xinf_tokenizer_is_end (tokenizer, (int32_t) id);
                expected += allowed;
                CHECK (allowed == ((bits [id / 32] >> (id % 32)) & 1));
                CHECK ((allowed || ended) == ((walked [id / 32] >> (id % 32)) & 1));
            }
            CHECK (count == expected);
            CHECK (memcmp (cached, walked, words * sizeof (uint32_t)) == 0);
            states++;
            if (s_texts [text][at])
                CHECK (xinf_json_step (&state, (unsigned char) s_texts [text][at]));
        }
        CHECK (xinf_json_done (&state));
    }
    free (walked);
    free (bits);
    xinf_json_masks_destroy (&masks);
    xinf_vocab_trie_destroy (&trie);
    return states;
}

static void
test_trie (void)
{
    test_piece_t pieces [] = { { "{", 0 }, { "}", 0 }, { "\"", 0 }, { "\u2581{", 0 }, { "{\"", 0 }, { "\":", 0 },
                               { "\u2581true", 0 }, { "true", 0 }, { "ab", 0 }, { "\u2581ab", 0 }, { "\u00e9", 0 },
                               { "12", 0 }, { "1.5", 0 }, { "\",", 0 }, { "}}", 0 }, { "\u2581\"", 0 }, { "null", 0 } };
    test_vocab_t llama;
    test_llama_vocab (&llama, pieces, sizeof pieces / sizeof pieces [0]);
    xinf_tokenizer_spec_t spec = test_spec (&llama, "llama");
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    size_t states = s_check_trie (tokenizer);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&llama);
    static const char *const merges [] = { "{ \"", "\" :", "t r", "tr u", "tru e", "Ġ \"", "a b", "} }", "1 2" };
    test_vocab_t gpt2;
    test_gpt2_vocab (&gpt2, merges, sizeof merges / sizeof merges [0]);
    spec = test_spec (&gpt2, "gpt2");
    tokenizer = test_tokenizer (&spec);
    states += s_check_trie (tokenizer);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&gpt2);
    fprintf (stderr, "      %zu states: the trie's tokens are those whose pieces the grammar takes\n", states);
}

static bool
s_bit (const uint32_t *bits, int32_t id)
{
    return (bits [id / 32] >> (id % 32)) & 1;
}

static void
test_masks (void)
{
    test_piece_t pieces [] = { { "{", 0 }, { "}", 0 }, { "\u2581x", 0 } };
    test_vocab_t vocab;
    test_llama_vocab (&vocab, pieces, sizeof pieces / sizeof pieces [0]);
    xinf_tokenizer_spec_t spec = test_spec (&vocab, "llama");
    xinf_tokenizer_t *tokenizer = test_tokenizer (&spec);
    int32_t open = xinf_tokenizer_find (tokenizer, "{", 1), close = xinf_tokenizer_find (tokenizer, "}", 1);
    int32_t eos = (int32_t) xinf_tokenizer_eos (tokenizer);
    xinf_json_masks_t *masks = xinf_json_masks_new (tokenizer);
    CHECK (masks && open > 0 && close > 0 && eos >= 0);
    xinf_json_state_t state;
    xinf_json_start (&state);
    const uint32_t *bits = xinf_json_masks_get (masks, &xinf_grammar_json, &state);
    CHECK (s_bit (bits, open) && !s_bit (bits, close) && !s_bit (bits, eos));
    CHECK (xinf_json_masks_get (masks, &xinf_grammar_json, &state) == bits);             //  cached
    size_t walks, hits;
    xinf_json_masks_counts (masks, &walks, &hits);
    CHECK (walks == 1 && hits == 1);
    CHECK (!xinf_json_masks_take (masks, &xinf_grammar_json, &state, close));            //  refused: the state stays
    CHECK (xinf_json_masks_take (masks, &xinf_grammar_json, &state, open) && xinf_json_masks_take (masks, &xinf_grammar_json, &state, close));
    CHECK (xinf_json_done (&state));
    bits = xinf_json_masks_get (masks, &xinf_grammar_json, &state);
    size_t vocab_size = xinf_tokenizer_vocab (tokenizer), allowed = 0;
    for (int32_t id = 0; id < (int32_t) vocab_size; id++)
        allowed += s_bit (bits, id);
    CHECK (allowed == 1 && s_bit (bits, eos));                       //  complete: the end token alone
    CHECK (xinf_json_masks_take (masks, &xinf_grammar_json, &state, eos));
    xinf_json_masks_destroy (&masks);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&vocab);
    //  A vocabulary with no token that starts an object: the end token
    test_vocab_t bare;
    memset (&bare, 0, sizeof bare);
    test_vocab_add (&bare, "<unk>", 5, 0, XINF_TOKEN_UNKNOWN);
    test_vocab_add (&bare, "<s>", 3, 0, XINF_TOKEN_CONTROL);
    test_vocab_add (&bare, "</s>", 4, 0, XINF_TOKEN_CONTROL);
    test_vocab_add (&bare, "x", 1, 0, XINF_TOKEN_NORMAL);
    spec = test_spec (&bare, "llama");
    tokenizer = test_tokenizer (&spec);
    masks = xinf_json_masks_new (tokenizer);
    xinf_json_start (&state);
    bits = xinf_json_masks_get (masks, &xinf_grammar_json, &state);
    CHECK (bits [0] == 1u << 2);
    xinf_json_masks_destroy (&masks);
    xinf_tokenizer_destroy (&tokenizer);
    test_vocab_destroy (&bare);
}

static void
s_bad_frame (const uint8_t *frame, size_t size, size_t word, uint32_t value, const char *needle)
{
    uint8_t *copy = malloc (size);
    memcpy (copy, frame, size);
    memcpy (copy + 4 * word, &value, 4);
    const uint32_t *rows [3];
    char error [256] = "";
    CHECK (xinf_token_masks_decode (copy, size, 3, 40, rows, error, sizeof error) == -1);
    if (!strstr (error, needle))
        fprintf (stderr, "wanted '%s' in '%s'\n", needle, error);
    CHECK (strstr (error, needle) != NULL);
    free (copy);
}

static void
test_frame (void)
{
    uint32_t first [2] = { 0x5u, 0x80u }, third [2] = { 0, 0x1u };      //  tokens 0, 2, 39; token 32
    xinf_token_masks_t *masks = xinf_token_masks_new (3, 40);
    CHECK (xinf_token_masks_data (masks) == NULL);
    CHECK (xinf_token_masks_add (masks, first) == 0 && xinf_token_masks_add (masks, NULL) == 0
           && xinf_token_masks_add (masks, third) == 0 && xinf_token_masks_add (masks, first) == -1);
    size_t size = xinf_token_masks_size (masks);
    CHECK (size == 12 + 4 + 8 + 4 + 4 + 8);
    uint8_t frame [64];
    memcpy (frame, xinf_token_masks_data (masks), size);
    xinf_token_masks_destroy (&masks);
    const uint32_t *rows [3];
    char error [256];
    CHECK (xinf_token_masks_decode (frame, size, 3, 40, rows, error, sizeof error) == 0);
    CHECK (rows [0] && !rows [1] && rows [2] && rows [0][0] == 0x5u && rows [2][1] == 1u);
    float logits [40];
    for (size_t index = 0; index < 40; index++)
        logits [index] = (float) index;
    xinf_token_mask_apply (rows [0], logits, 40);
    for (size_t index = 0; index < 40; index++)
        CHECK (index == 0 || index == 2 || index == 39 ? logits [index] == (float) index : logits [index] == -INFINITY);
    //  Words: 0 magic, 1 rows, 2 vocab, 3 masked, 4-5 row 0, 6 masked, 7 masked, 8-9 row 2
    s_bad_frame (frame, size, 0, 0x12345678, "TMSK");
    s_bad_frame (frame, size, 1, 2, "TMSK");
    s_bad_frame (frame, size, 2, 41, "TMSK");
    s_bad_frame (frame, size, 3, 2, "'masked' must be 0 or 1");
    s_bad_frame (frame, size, 6, 1, "masks[2]': the frame ends within it");   //  row 1 takes row 2's words
    s_bad_frame (frame, size, 7, 0, "bytes past");
    s_bad_frame (frame, size, 9, 0, "masks[2]' allows no token");
    s_bad_frame (frame, size, 5, 0x100u, "masks[0]' allows a token past the vocabulary");
    for (size_t cut = 0; cut < size; cut++)
        CHECK (xinf_token_masks_decode (frame, cut, 3, 40, rows, error, sizeof error) == -1);
    uint8_t longer [68];
    memcpy (longer, frame, size);
    memset (longer + size, 0, 4);
    CHECK (xinf_token_masks_decode (longer, size + 4, 3, 40, rows, error, sizeof error) == -1);
}

int
main (void)
{
    fprintf (stderr, "test_token_mask:\n");
    RUN (test_trie);
    RUN (test_masks);
    RUN (test_frame);
    return 0;
}
