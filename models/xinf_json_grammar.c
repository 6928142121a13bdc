/*  xinf_json_grammar: one JSON object, byte by byte (xinf_json_grammar.h).  */
#include "xinf_json_grammar.h"

#include <string.h>

//  What comes next
enum {
    M_START = 0,                      //  whitespace, then the object's '{'
    M_VALUE,                          //  a value (after ':' or an array's ',')
    M_FIRST_VALUE,                    //  a value or ']' (after '[')
    M_FIRST_KEY,                      //  a key or '}' (after '{')
    M_KEY,                            //  a key (after an object's ',')
    M_COLON,                          //  ':' after a key
    M_AFTER,                          //  ',' or the container's closer, after a value
    M_STRING,
    M_NUMBER,
    M_LITERAL,
    M_DONE
};

//  Whitespace where JSON allows it, up to XINF_JSON_SPACES_MAX in a row.
static bool
s_space (xinf_json_state_t *state)
{
    if (state->spaces >= XINF_JSON_SPACES_MAX)
        return false;
    state->spaces++;
    return true;
}

static bool
s_open (xinf_json_state_t *state, bool object)
{
    if (state->depth >= XINF_JSON_DEPTH_MAX)
        return false;
    if (object)
        state->objects |= (uint64_t) 1 << state->depth;
    else
        state->objects &= ~((uint64_t) 1 << state->depth);
    state->depth++;
    state->mode = object ? M_FIRST_KEY : M_FIRST_VALUE;
    return true;
}

static bool
s_in_object (const xinf_json_state_t *state)
{
    return state->depth > 0 && (state->objects >> (state->depth - 1)) & 1;
}

static bool
s_close (xinf_json_state_t *state, unsigned char byte)
{
    if (state->depth == 0 || byte != (s_in_object (state) ? '}' : ']'))
        return false;
    state->depth--;
    state->objects &= ~((uint64_t) 1 << state->depth);
    state->mode = state->depth == 0 ? M_DONE : M_AFTER;
    return true;
}

static void
s_string (xinf_json_state_t *state, bool key)
{
    state->mode = M_STRING;
    xinf_json_lex_string (&state->lex);
    state->key = key;
}

//  A token ended: its lexer's bytes cleared, so that equal positions are
//  equal bytes.
static void
s_token_end (xinf_json_state_t *state, uint8_t mode)
{
    state->mode = mode;
    state->lex = (xinf_json_lex_t) { 0, 0, 0 };
    state->key = 0;
}

//  The first byte of a value.
static bool
s_value (xinf_json_state_t *state, unsigned char byte)
{
    if (byte == '{' || byte == '[')
        return s_open (state, byte == '{');
    if (byte == '"') {
        s_string (state, false);
        return true;
    }
    if (xinf_json_lex_number (&state->lex, byte, false)) {
        state->mode = M_NUMBER;
        return true;
    }
    if (xinf_json_lex_literal (&state->lex, byte)) {
        state->mode = M_LITERAL;
        return true;
    }
    return false;
}

//  After a value: ',' or the closer.
static bool
s_after (xinf_json_state_t *state, unsigned char byte)
{
    if (xinf_json_lex_is_space (byte))
        return s_space (state);
    if (byte == ',') {
        state->mode = s_in_object (state) ? M_KEY : M_VALUE;
        return true;
    }
    return s_close (state, byte);
}

//  A string, number or literal's next byte.
static bool
s_token (xinf_json_state_t *state, unsigned char byte)
{
    xinf_json_lex_result_t result = state->mode == M_STRING ? xinf_json_lex_in_string (&state->lex, byte)
                                  : state->mode == M_NUMBER ? xinf_json_lex_in_number (&state->lex, byte)
                                  : xinf_json_lex_in_literal (&state->lex, byte);
    if (result == XINF_JSON_LEX_END)
        s_token_end (state, state->mode == M_STRING && state->key ? M_COLON : M_AFTER);
    if (result == XINF_JSON_LEX_AFTER) {
        s_token_end (state, M_AFTER);             //  the number ended: the byte is what follows it
        return s_after (state, byte);
    }
    return result != XINF_JSON_LEX_REFUSED;
}

//  Whitespace or the structural byte a mode waits for.
static bool
s_structure (xinf_json_state_t *state, unsigned char byte)
{
    uint8_t mode = state->mode;
    if (xinf_json_lex_is_space (byte))
        return s_space (state);
    if (mode == M_START)
        return byte == '{' && s_open (state, true);
    if (mode == M_COLON) {
        state->mode = M_VALUE;
        return byte == ':';
    }
    if ((mode == M_FIRST_KEY || mode == M_KEY) && byte == '"') {
        s_string (state, true);
        return true;
    }
    if (mode == M_FIRST_KEY || mode == M_FIRST_VALUE)
        if ((mode == M_FIRST_KEY && byte == '}') || (mode == M_FIRST_VALUE && byte == ']'))
            return s_close (state, byte);
    if (mode == M_VALUE || mode == M_FIRST_VALUE)
        return s_value (state, byte);
    return false;
}

static bool
s_step (xinf_json_state_t *state, unsigned char byte)
{
    if (state->mode == M_STRING || !xinf_json_lex_is_space (byte))
        state->spaces = 0;
    switch (state->mode) {
        case M_STRING:
        case M_NUMBER:
        case M_LITERAL:
            return s_token (state, byte);
        case M_AFTER:
            return s_after (state, byte);
        case M_DONE:
            return false;
        default:
            return s_structure (state, byte);
    }
}

void
xinf_json_start (xinf_json_state_t *state)
{
    memset (state, 0, sizeof *state);
    state->mode = M_START;
}

bool
xinf_json_step (xinf_json_state_t *state, unsigned char byte)
{
    return xinf_json_feed (state, &byte, 1);
}

bool
xinf_json_feed (xinf_json_state_t *state, const void *bytes, size_t size)
{
    xinf_json_state_t next = *state;
    const unsigned char *at = (const unsigned char *) bytes;
    for (size_t index = 0; index < size; index++)
        if (!s_step (&next, at [index]))
            return false;
    *state = next;
    return true;
}

bool
xinf_json_done (const xinf_json_state_t *state)
{
    return state->mode == M_DONE;
}

bool
xinf_json_in_text (const xinf_json_state_t *state)
{
    return state->mode == M_STRING && xinf_json_lex_in_text (&state->lex);
}
