/*  xinf_json_masks: the tokens a generation of one JSON object may take
    next (OpenAI's response_format json_object): from a grammar state
    (xinf_json_grammar.h), every token whose whole piece the grammar takes
    (a walk of the vocabulary's trie, xinf_vocab_trie.h; inside a string,
    the tokens of plain text without one); once the object
    is complete, only the end-of-generation tokens. A generation's states
    repeat (every byte of a long string is the same state), so the masks
    of the latest XINF_JSON_MASKS_CACHED states are kept.

    One per replica, on its thread.
*/
#ifndef XINF_JSON_MASKS_H_INCLUDED
#define XINF_JSON_MASKS_H_INCLUDED

#include "xinf_json_grammar.h"
#include "xinf_tokenizer.h"

#define XINF_JSON_MASKS_CACHED 64

typedef struct _xinf_json_masks_t xinf_json_masks_t;

//  The masks of 'tokenizer's vocabulary (its trie built here: about 50 ms
//  and 10 MB for 150,000 tokens); NULL when out of memory.
xinf_json_masks_t *xinf_json_masks_new (xinf_tokenizer_t *tokenizer);
void xinf_json_masks_destroy (xinf_json_masks_t **self_p);

//  The tokens allowed after 'state' (xinf_token_mask_words (vocab) words,
//  valid until the next call). Never none: where the grammar allows no
//  token of this vocabulary, the end tokens, so that the generation ends.
//  NULL when out of memory.
const uint32_t *xinf_json_masks_get (xinf_json_masks_t *self, const xinf_json_state_t *state);

//  The same mask computed afresh into 'bits' (not cached): inside a
//  string's text the plain text tokens (no quote, backslash or control
//  byte; whole UTF-8 characters) are all allowed and only the others'
//  trie is walked; elsewhere the whole trie.
void xinf_json_masks_walk (xinf_json_masks_t *self, const xinf_json_state_t *state, uint32_t *bits);

//  Moves 'state' past 'token': true when its piece is allowed there (an
//  end token always is: it ends the generation). False leaves the state.
bool xinf_json_masks_take (xinf_json_masks_t *self, xinf_json_state_t *state, int32_t token);

//  Masks computed and found in the cache so far (for the log and tests).
void xinf_json_masks_counts (const xinf_json_masks_t *self, size_t *walks, size_t *hits);

#endif
