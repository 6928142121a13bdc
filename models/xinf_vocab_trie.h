/*  xinf_vocab_trie: a vocabulary's token pieces (the bytes each token
    decodes to) in a trie, to find every token a byte-level grammar allows
    from a state in one walk: a token is allowed when the grammar takes
    each of its bytes in turn, and tokens that share a prefix share its
    steps, so the walk leaves a subtree at the first byte refused.

    Control tokens (xinf_tokenizer_is_control), the unknown token and
    tokens whose piece is empty are left out: they are never text.
*/
#ifndef XINF_VOCAB_TRIE_H_INCLUDED
#define XINF_VOCAB_TRIE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_tokenizer.h"

typedef struct _xinf_vocab_trie_t xinf_vocab_trie_t;

//  A grammar's step: takes 'byte' into 'state' (state_size bytes, copied
//  freely), true when it is allowed there.
typedef bool (*xinf_trie_step_fn) (void *state, unsigned char byte);

//  The trie of 'tokenizer's text tokens, less those whose bit is set in
//  'without' ((vocab + 31) / 32 words; NULL: none); NULL when out of memory.
xinf_vocab_trie_t *xinf_vocab_trie_new (xinf_tokenizer_t *tokenizer, const uint32_t *without);
void xinf_vocab_trie_destroy (xinf_vocab_trie_t **self_p);

//  Sets bit t of 'bits' ((vocab + 31) / 32 words; the others are left as
//  they are) for each token t whose whole piece 'step' takes from 'state'
//  (state_size bytes, at most 64). Returns how many tokens are allowed.
size_t xinf_vocab_trie_allowed (xinf_vocab_trie_t *self, const void *state, size_t state_size,
                                xinf_trie_step_fn step, uint32_t *bits);

//  The same for a deterministic automaton over byte classes (a
//  regular expression's, xinf_regex.h): 'table' [state * classes +
//  byte_class [byte]] is the next state, 0 a refusal; from 'state'.
//  Without a state to copy or a step to call, the walk is a few times
//  faster than the generic one.
size_t xinf_vocab_trie_allowed_table (xinf_vocab_trie_t *self, const uint32_t *table, const uint8_t *byte_class,
                                      size_t classes, uint32_t state, uint32_t *bits);

//  Tokens in the trie, and its nodes (for the log and tests).
size_t xinf_vocab_trie_tokens (const xinf_vocab_trie_t *self);
size_t xinf_vocab_trie_nodes (const xinf_vocab_trie_t *self);

#endif
