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

//  Within a string (sub)
enum { S_PLAIN = 0, S_ESCAPE, S_HEX };
//  Within a number (sub): after '-', '0', other integer digits, '.',
//  fraction digits, 'e', the exponent's sign, exponent digits
enum { N_MINUS = 0, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_SIGN, N_EXP };
//  The next UTF-8 continuation byte's range (aux)
enum { R_80_BF = 0, R_A0_BF, R_80_9F, R_90_BF, R_80_8F };

static const char *const s_literals [3] = { "true", "false", "null" };

static bool
s_is_space (unsigned char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
}

static bool
s_is_digit (unsigned char byte)
{
    return byte >= '0' && byte <= '9';
}

static bool
s_is_hex (unsigned char byte)
{
    return s_is_digit (byte) || (byte >= 'a' && byte <= 'f') || (byte >= 'A' && byte <= 'F');
}

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
    state->sub = S_PLAIN;
    state->pending = 0;
    state->aux = 0;
    state->key = key;
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
    if (byte == '-' || s_is_digit (byte)) {
        state->mode = M_NUMBER;
        state->sub = byte == '-' ? N_MINUS : byte == '0' ? N_ZERO : N_INT;
        return true;
    }
    for (uint8_t literal = 0; literal < 3; literal++)
        if (byte == (unsigned char) s_literals [literal][0]) {
            state->mode = M_LITERAL;
            state->aux = literal;
            state->sub = 1;
            return true;
        }
    return false;
}

//  After a value: ',' or the closer.
static bool
s_after (xinf_json_state_t *state, unsigned char byte)
{
    if (s_is_space (byte))
        return s_space (state);
    if (byte == ',') {
        state->mode = s_in_object (state) ? M_KEY : M_VALUE;
        return true;
    }
    return s_close (state, byte);
}

//  A UTF-8 lead byte: how many continuation bytes follow, and the range
//  of the first; false for bytes that lead nothing (or overlong forms).
static bool
s_utf8_lead (xinf_json_state_t *state, unsigned char byte)
{
    if (byte >= 0xC2 && byte <= 0xDF)
        state->pending = 1, state->aux = R_80_BF;
    else
    if (byte >= 0xE0 && byte <= 0xEF)
        state->pending = 2, state->aux = byte == 0xE0 ? R_A0_BF : byte == 0xED ? R_80_9F : R_80_BF;
    else
    if (byte >= 0xF0 && byte <= 0xF4)
        state->pending = 3, state->aux = byte == 0xF0 ? R_90_BF : byte == 0xF4 ? R_80_8F : R_80_BF;
    else
        return false;
    return true;
}

static bool
s_utf8_next (xinf_json_state_t *state, unsigned char byte)
{
    static const unsigned char low [] = { 0x80, 0xA0, 0x80, 0x90, 0x80 }, high [] = { 0xBF, 0xBF, 0x9F, 0xBF, 0x8F };
    if (byte < low [state->aux] || byte > high [state->aux])
        return false;
    state->pending--;
    state->aux = R_80_BF;
    return true;
}

static bool
s_in_string (xinf_json_state_t *state, unsigned char byte)
{
    if (state->sub == S_ESCAPE) {
        if (byte == 'u') {
            state->sub = S_HEX;
            state->pending = 4;
            return true;
        }
        state->sub = S_PLAIN;
        return byte && strchr ("\"\\/bfnrt", byte) != NULL;
    }
    if (state->sub == S_HEX) {
        if (!s_is_hex (byte))
            return false;
        if (--state->pending == 0)
            state->sub = S_PLAIN;
        return true;
    }
    if (state->pending)
        return s_utf8_next (state, byte);
    if (byte == '"') {
        state->mode = state->key ? M_COLON : M_AFTER;
        state->key = 0;
        return true;
    }
    if (byte == '\\') {
        state->sub = S_ESCAPE;
        return true;
    }
    if (byte < 0x20)
        return false;
    return byte < 0x80 || s_utf8_lead (state, byte);
}

static bool
s_in_number (xinf_json_state_t *state, unsigned char byte)
{
    uint8_t sub = state->sub;
    bool digit = s_is_digit (byte);
    if (sub == N_MINUS) {
        state->sub = byte == '0' ? N_ZERO : N_INT;
        return digit;
    }
    if ((sub == N_INT || sub == N_FRAC || sub == N_EXP) && digit)
        return true;
    if ((sub == N_DOT || sub == N_SIGN) && digit) {
        state->sub = sub == N_DOT ? N_FRAC : N_EXP;
        return true;
    }
    if ((sub == N_ZERO || sub == N_INT) && byte == '.') {
        state->sub = N_DOT;
        return true;
    }
    if ((sub == N_ZERO || sub == N_INT || sub == N_FRAC) && (byte == 'e' || byte == 'E')) {
        state->sub = N_E;
        return true;
    }
    if (sub == N_E && (byte == '+' || byte == '-' || digit)) {
        state->sub = digit ? N_EXP : N_SIGN;
        return true;
    }
    if (sub == N_ZERO || sub == N_INT || sub == N_FRAC || sub == N_EXP) {
        state->mode = M_AFTER;                  //  the number ended: the byte is what follows it
        state->sub = 0;
        return s_after (state, byte);
    }
    return false;
}

static bool
s_in_literal (xinf_json_state_t *state, unsigned char byte)
{
    const char *literal = s_literals [state->aux];
    if (byte != (unsigned char) literal [state->sub])
        return false;
    if (literal [++state->sub] == 0) {
        state->mode = M_AFTER;
        state->sub = 0;
        state->aux = 0;
    }
    return true;
}

//  Whitespace or the structural byte a mode waits for.
static bool
s_structure (xinf_json_state_t *state, unsigned char byte)
{
    uint8_t mode = state->mode;
    if (s_is_space (byte))
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
    if (!s_is_space (byte) && state->mode != M_STRING)
        state->spaces = 0;
    switch (state->mode) {
        case M_STRING:
            state->spaces = 0;
            return s_in_string (state, byte);
        case M_NUMBER:
            return s_in_number (state, byte);
        case M_LITERAL:
            return s_in_literal (state, byte);
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
    xinf_json_state_t next = *state;
    if (!s_step (&next, byte))
        return false;
    *state = next;
    return true;
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
    return state->mode == M_STRING && state->sub == S_PLAIN && state->pending == 0;
}
