/*  xinf_json_masks: the tokens a constrained answer may take next (OpenAI's
    response_format json_object, xinf_json_grammar.h, json_schema,
    xinf_json_schema.h, and vLLM's regular expressions, xinf_regex.h):
    from a grammar's state, every token whose whole piece the grammar
    takes (a walk of the vocabulary's trie, xinf_vocab_trie.h; inside a
    JSON string, the tokens of plain text without one), plus the
    end-of-generation tokens where the answer may end; once it is
    complete, only those. A generation's states
    repeat (every byte of a long string is the same state), so the masks
    of the latest XINF_JSON_MASKS_CACHED states are kept.

    One per replica, on its thread.
*/
#ifndef XINF_JSON_MASKS_H_INCLUDED
#define XINF_JSON_MASKS_H_INCLUDED

#include "xinf_json_grammar.h"
#include "xinf_json_schema.h"
#include "xinf_regex.h"
#include "xinf_tokenizer.h"

#define XINF_JSON_MASKS_CACHED 64
#define XINF_GRAMMAR_STATE_MAX 64     //  bytes of a grammar's state

//  A grammar over bytes whose state is plain bytes (equal states, equal
//  bytes): its size, a step that takes a byte or refuses it (the state
//  unchanged), whether it is complete (nothing may follow), whether the
//  answer may end here (complete or not), and whether it is inside a
//  JSON string's text (where plain text tokens keep the state as it is).
typedef struct {
    const char *name;
    size_t state_size;
    bool (*step) (void *state, unsigned char byte);
    bool (*done) (const void *state);
    bool (*may_end) (const void *state);
    bool (*in_text) (const void *state);
} xinf_grammar_t;

//  One JSON object (xinf_json_state_t), a schema's value
//  (xinf_schema_state_t) and a regular expression's whole match
//  (xinf_regex_state_t).
extern const xinf_grammar_t xinf_grammar_json, xinf_grammar_schema, xinf_grammar_regex;

//  A state of any.
typedef union {
    xinf_json_state_t json;
    xinf_schema_state_t schema;
    xinf_regex_state_t regex;
} xinf_grammar_state_t;

typedef struct _xinf_json_masks_t xinf_json_masks_t;

//  The masks of 'tokenizer's vocabulary (its trie built here: about 50 ms
//  and 10 MB for 150,000 tokens); NULL when out of memory.
xinf_json_masks_t *xinf_json_masks_new (xinf_tokenizer_t *tokenizer);
void xinf_json_masks_destroy (xinf_json_masks_t **self_p);

//  The tokens allowed after 'state' (xinf_token_mask_words (vocab) words,
//  valid until the next call). Never none: where the grammar allows no
//  token of this vocabulary, the end tokens, so that the generation ends.
//  NULL when out of memory.
const uint32_t *xinf_json_masks_get (xinf_json_masks_t *self, const xinf_grammar_t *grammar, const void *state);

//  The same mask computed afresh into 'bits' (not cached): inside a
//  string's text the plain text tokens (no quote, backslash or control
//  byte; whole UTF-8 characters) are all allowed and only the others'
//  trie is walked; elsewhere the whole trie.
void xinf_json_masks_walk (xinf_json_masks_t *self, const xinf_grammar_t *grammar, const void *state, uint32_t *bits);

//  Moves 'state' past 'token': true when its piece is allowed there (an
//  end token always is: it ends the generation). False leaves the state.
bool xinf_json_masks_take (xinf_json_masks_t *self, const xinf_grammar_t *grammar, void *state, int32_t token);

//  Masks computed and found in the cache so far (for the log and tests).
void xinf_json_masks_counts (const xinf_json_masks_t *self, size_t *walks, size_t *hits);

#endif
