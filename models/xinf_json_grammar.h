/*  xinf_json_grammar: the bytes of one JSON object (RFC 8259), byte by
    byte: what OpenAI's response_format {"type": "json_object"} promises.

    A state says which bytes may come next; xinf_json_step takes one and
    moves on, or refuses it and leaves the state as it was. The text it
    accepts is exactly an object, with whitespace before it and around its
    tokens, whose strings are valid UTF-8 (no overlong forms, surrogates or
    code points past U+10FFFF) without raw control characters, and whose
    numbers are JSON's. Two limits keep a model from wandering where JSON
    would let it: at most XINF_JSON_SPACES_MAX whitespace bytes in a row,
    and containers nested at most XINF_JSON_DEPTH_MAX deep.

    The state is 16 plain bytes without padding, so that equal states are
    equal bytes (a cache of masks keys on them), and copying it is cheap
    (a walk over the vocabulary copies it at every step).
*/
#ifndef XINF_JSON_GRAMMAR_H_INCLUDED
#define XINF_JSON_GRAMMAR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_json_lex.h"

#define XINF_JSON_SPACES_MAX  32
#define XINF_JSON_DEPTH_MAX   64

typedef struct {
    uint64_t objects;                 //  bit d: the container at depth d is an object (else an array)
    uint16_t depth;                   //  containers open
    uint8_t mode;                     //  what comes next (xinf_json_grammar.c)
    xinf_json_lex_t lex;              //  within a string, number or literal
    uint8_t spaces;                   //  whitespace bytes in a row
    uint8_t key;                      //  the string is an object's key
} xinf_json_state_t;

//  The state before the first byte.
void xinf_json_start (xinf_json_state_t *state);
//  Takes 'byte': true and the state moved on, or false and it unchanged.
bool xinf_json_step (xinf_json_state_t *state, unsigned char byte);
//  Takes 'size' bytes; false (the state unchanged) when one is refused.
bool xinf_json_feed (xinf_json_state_t *state, const void *bytes, size_t size);
//  Whether the object is complete (nothing more may come).
bool xinf_json_done (const xinf_json_state_t *state);
//  Whether the state is inside a string's text: not in an escape, no
//  UTF-8 continuation due. From such a state any bytes without '"', '\\'
//  or a control character that are whole UTF-8 characters are taken, and
//  the state is the same after them.
bool xinf_json_in_text (const xinf_json_state_t *state);

#endif
