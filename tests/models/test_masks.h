/*  test_masks.h: the token masks over a regular expression or grammar
    (models/xinf_json_masks.h) checked against every token of a test
    vocabulary, for test_regex.c and test_pda.c.
*/
#ifndef TEST_MASKS_H_INCLUDED
#define TEST_MASKS_H_INCLUDED

#include "test_unit.h"
#include "xinf_json_masks.h"
#include "xinf_regex.h"
#include "xinf_token_mask.h"

//  Along 'text' (a whole match of 'regex'), at each position: the mask
//  walked afresh equals the cached one and holds exactly the tokens whose
//  pieces the automaton takes from there, plus the end tokens where it
//  may end. 'state' ends after the text. How many (position, end token)
//  pairs may end.
static inline size_t
test_masks_along (xinf_tokenizer_t *tokenizer, xinf_json_masks_t *masks, xinf_regex_t *regex, const char *text,
                  xinf_regex_state_t *state)
{
    size_t size = xinf_tokenizer_vocab (tokenizer), words = xinf_token_mask_words (size), ends_seen = 0;
    uint32_t *bits = calloc (words, sizeof (uint32_t));
    CHECK (bits);
    xinf_regex_start (state, regex);
    for (size_t at = 0; at <= strlen (text); at++) {
        xinf_json_masks_walk (masks, &xinf_grammar_regex, state, bits);
        const uint32_t *cached = xinf_json_masks_get (masks, &xinf_grammar_regex, state);
        CHECK (memcmp (cached, bits, words * sizeof (uint32_t)) == 0);
        for (size_t id = 0; id < size; id++) {
            char piece [XINF_TOKENIZER_TEXT_MAX];
            long length = xinf_tokenizer_piece (tokenizer, (int32_t) id, piece, sizeof piece);
            xinf_regex_state_t copy = *state;
            bool allowed = length > 0 && !xinf_tokenizer_is_control (tokenizer, (int32_t) id)
                        && xinf_regex_feed (&copy, piece, (size_t) length);
            bool ended = xinf_regex_accepting (state) && xinf_tokenizer_is_end (tokenizer, (int32_t) id);
            CHECK ((allowed || ended) == ((bits [id / 32] >> (id % 32)) & 1));
            ends_seen += ended;
        }
        if (text [at])
            CHECK (xinf_regex_step (state, (unsigned char) text [at]));
    }
    free (bits);
    return ends_seen;
}

#endif
