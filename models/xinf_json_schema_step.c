/*  xinf_json_schema_step: the bytes a compiled schema's values may have,
    one at a time (xinf_json_schema.h).  */
#include "xinf_json_schema_private.h"
#include "xinf_json_grammar.h"

#include <string.h>

//  What comes next
enum {
    M_START = 0,                      //  the root value (state->value)
    M_VALUE,                          //  a value of state->value (after ':' or an array's ',')
    M_ARRAY_FIRST,                    //  an item or ']' (after '[')
    M_OBJECT_FIRST,                   //  a key or '}' (after '{')
    M_KEY_NEXT,                       //  a key (after an object's ',')
    M_KEY,                            //  a key's bytes (state->candidates)
    M_COLON,                          //  ':' after a key
    M_AFTER,                          //  ',' or the closer, after a value
    M_STRING,
    M_NUMBER,
    M_LITERAL,
    M_ENUM,                           //  an enum value's bytes (state->candidates)
    M_PATTERN,                        //  a string's text kept to its expression (state->candidates: its state)
    M_DONE
};
static bool s_after (xinf_schema_state_t *state, unsigned char byte);

static const xinf_schema_node_t *
s_node (const xinf_schema_state_t *state, uint16_t node)
{
    return &state->schema->nodes [node];
}

//  A union of one alternative (a $ref) stands for that alternative.
static uint16_t
s_resolve (const xinf_json_schema_t *schema, uint16_t node)
{
    for (int hops = 0; hops < 64 && schema->nodes [node].kind == K_UNION && schema->nodes [node].count == 1; hops++)
        node = schema->alts [schema->nodes [node].first];
    return node;
}

uint8_t
xinf_schema_resolved_kind (const xinf_json_schema_t *schema, uint16_t node)
{
    return schema->nodes [s_resolve (schema, node)].kind;
}

//  Whether a value of 'node' can still be completed from here: the
//  containers it needs fit under the ones open.
static bool
s_fits (const xinf_schema_state_t *state, uint16_t node)
{
    return state->depth + s_node (state, node)->need <= XINF_SCHEMA_DEPTH_MAX;
}

//  A structural mode: the token fields cleared, so that equal positions
//  are equal bytes.
static void
s_mode (xinf_schema_state_t *state, uint8_t mode)
{
    state->mode = mode;
    state->lex = (xinf_json_lex_t) { 0, 0, 0 };
    state->candidates = 0;
    state->at = 0;
}

static bool
s_space (xinf_schema_state_t *state)
{
    if (state->spaces >= XINF_JSON_SPACES_MAX)
        return false;
    state->spaces++;
    return true;
}

//  The value just read is complete: its container's next step, or done.
static void
s_value_end (xinf_schema_state_t *state)
{
    state->value = 0;
    if (state->depth == 0) {
        s_mode (state, M_DONE);
        return;
    }
    const xinf_schema_node_t *container = s_node (state, state->node [state->depth - 1]);
    if (container->kind == K_ARRAY && state->next [state->depth - 1] < 255)
        state->next [state->depth - 1]++;
    s_mode (state, M_AFTER);
}

//  The properties a key may name next: from the object's next one up to
//  its first required one (properties come in order, required ones are
//  not skipped).
static uint32_t
s_keys (const xinf_schema_state_t *state)
{
    const xinf_schema_node_t *object = s_node (state, state->node [state->depth - 1]);
    uint32_t keys = 0;
    for (uint32_t at = state->next [state->depth - 1]; at < object->count; at++) {
        bool required = object->required >> at & 1;
        if (required || s_fits (state, state->schema->names [object->first + at].node))
            keys |= (uint32_t) 1 << at;           //  an optional one whose value could not close is left out
        if (required)
            break;
    }
    return keys;
}

//  Whether the object may close: no required property left.
static bool
s_object_may_close (const xinf_schema_state_t *state)
{
    const xinf_schema_node_t *object = s_node (state, state->node [state->depth - 1]);
    uint32_t next = state->next [state->depth - 1];
    return next >= 32 || (object->required >> next) == 0;
}

static bool
s_open (xinf_schema_state_t *state, uint16_t node)
{
    if (state->depth >= XINF_SCHEMA_DEPTH_MAX)
        return false;
    state->node [state->depth] = node;
    state->next [state->depth] = 0;
    state->depth++;
    state->value = 0;
    s_mode (state, s_node (state, node)->kind == K_OBJECT ? M_OBJECT_FIRST : M_ARRAY_FIRST);
    return true;
}

static bool
s_close (xinf_schema_state_t *state)
{
    state->depth--;
    state->node [state->depth] = 0;
    state->next [state->depth] = 0;
    s_value_end (state);
    return true;
}

//  The first byte of a value of 'node'.
static bool
s_begin (xinf_schema_state_t *state, uint16_t node, unsigned char byte)
{
    const xinf_schema_node_t *n = s_node (state, node);
    if (!s_fits (state, node))
        return false;
    state->value = node;
    switch (n->kind) {
        case K_UNION:
            for (uint32_t at = 0; at < n->count; at++) {
                uint16_t alternative = state->schema->alts [n->first + at];
                if (xinf_schema_begins (state->schema, alternative, byte))
                    return s_begin (state, alternative, byte);
            }
            return false;
        case K_OBJECT:
        case K_ARRAY:
            return byte == (n->kind == K_OBJECT ? '{' : '[') && s_open (state, node);
        case K_STRING:
            s_mode (state, n->regex ? M_PATTERN : M_STRING);
            if (n->regex)
                state->candidates = XINF_REGEX_START;
            else
                xinf_json_lex_string (&state->lex);
            return byte == '"';
        case K_NUMBER:
        case K_INTEGER:
            s_mode (state, M_NUMBER);
            return xinf_json_lex_number (&state->lex, byte, n->kind == K_INTEGER);
        case K_BOOLEAN:
        case K_NULL:
            s_mode (state, M_LITERAL);
            return (n->kind == K_BOOLEAN ? byte == 't' || byte == 'f' : byte == 'n')
                && xinf_json_lex_literal (&state->lex, byte);
        default:                                    //  K_ENUM
            s_mode (state, M_ENUM);
            for (uint32_t at = 0; at < n->count; at++)
                if ((unsigned char) state->schema->names [n->first + at].text [0] == byte)
                    state->candidates |= (uint32_t) 1 << at;
            state->at = 1;
            return state->candidates != 0;
    }
}

//  A key's bytes, against the properties still matching.
static bool
s_in_key (xinf_schema_state_t *state, unsigned char byte)
{
    const xinf_schema_node_t *object = s_node (state, state->node [state->depth - 1]);
    uint32_t kept = 0;
    for (uint32_t at = 0; at < object->count; at++) {
        if (!(state->candidates >> at & 1))
            continue;
        const xinf_schema_name_t *name = &state->schema->names [object->first + at];
        if (byte == '"' && name->size == state->at) {
            state->next [state->depth - 1] = (uint8_t) (at + 1);
            state->value = name->node;
            s_mode (state, M_COLON);
            return true;
        }
        if (state->at < name->size && (unsigned char) name->text [state->at] == byte)
            kept |= (uint32_t) 1 << at;
    }
    state->candidates = kept;
    state->at++;
    return kept != 0;
}

//  An enum value's bytes; a byte that continues none ends a value that
//  is complete, and is what follows it.
static bool
s_in_enum (xinf_schema_state_t *state, unsigned char byte)
{
    const xinf_schema_node_t *n = s_node (state, state->value);
    uint32_t kept = 0;
    bool complete = false;
    for (uint32_t at = 0; at < n->count; at++) {
        if (!(state->candidates >> at & 1))
            continue;
        const xinf_schema_name_t *name = &state->schema->names [n->first + at];
        complete = complete || name->size == state->at;
        if (state->at < name->size && (unsigned char) name->text [state->at] == byte)
            kept |= (uint32_t) 1 << at;
    }
    if (kept) {
        state->candidates = kept;
        state->at++;
        return true;
    }
    if (!complete)
        return false;
    s_value_end (state);
    return s_after (state, byte);
}

//  A patterned string's next byte: its closing quote where the text is a
//  whole match, else a byte its expression takes (never an escape: the
//  expression is of the text as written, XINF_REGEX_JSON_TEXT).
static bool
s_in_pattern (xinf_schema_state_t *state, unsigned char byte)
{
    const xinf_regex_t *regex = state->schema->regexes [s_node (state, state->value)->regex - 1];
    if (byte == '"') {
        if (!xinf_regex_accepts (regex, state->candidates))
            return false;
        s_value_end (state);
        return true;
    }
    uint32_t next = xinf_regex_next (regex, state->candidates, byte);
    state->candidates = next ? next : state->candidates;
    return next != 0;
}

//  A string, number or literal's next byte.
static bool
s_token (xinf_schema_state_t *state, unsigned char byte)
{
    xinf_json_lex_result_t result = state->mode == M_STRING ? xinf_json_lex_in_string (&state->lex, byte)
                                  : state->mode == M_NUMBER ? xinf_json_lex_in_number (&state->lex, byte)
                                  : xinf_json_lex_in_literal (&state->lex, byte);
    if (result == XINF_JSON_LEX_END)
        s_value_end (state);
    if (result == XINF_JSON_LEX_AFTER) {
        s_value_end (state);                      //  the number ended: the byte is what follows it
        return s_after (state, byte);
    }
    return result != XINF_JSON_LEX_REFUSED;
}

//  After a value: ',' or the closer, as the container allows.
static bool
s_after (xinf_schema_state_t *state, unsigned char byte)
{
    if (xinf_json_lex_is_space (byte))
        return s_space (state);
    if (state->depth == 0)
        return false;
    const xinf_schema_node_t *container = s_node (state, state->node [state->depth - 1]);
    uint8_t next = state->next [state->depth - 1];
    if (container->kind == K_OBJECT) {
        if (byte == ',' && s_keys (state)) {
            s_mode (state, M_KEY_NEXT);
            return true;
        }
        return byte == '}' && s_object_may_close (state) && s_close (state);
    }
    if (byte == ',' && next < container->max_items && s_fits (state, container->items)) {
        s_mode (state, M_VALUE);
        state->value = container->items;
        return true;
    }
    return byte == ']' && next >= container->min_items && s_close (state);
}

//  A key's opening quote.
static bool
s_key_begin (xinf_schema_state_t *state, unsigned char byte)
{
    uint32_t keys = byte == '"' ? s_keys (state) : 0;
    if (!keys)
        return false;
    s_mode (state, M_KEY);
    state->candidates = keys;
    return true;
}

static bool
s_structure (xinf_schema_state_t *state, unsigned char byte)
{
    if (xinf_json_lex_is_space (byte))
        return s_space (state);
    switch (state->mode) {
        case M_START:
        case M_VALUE:
            return s_begin (state, state->value, byte);
        case M_ARRAY_FIRST: {
            const xinf_schema_node_t *array = s_node (state, state->node [state->depth - 1]);
            if (byte == ']')
                return array->min_items == 0 && s_close (state);
            return array->max_items > 0 && s_begin (state, array->items, byte);
        }
        case M_OBJECT_FIRST:
            if (byte == '}')
                return s_object_may_close (state) && s_close (state);
            return s_key_begin (state, byte);
        case M_KEY_NEXT:
            return s_key_begin (state, byte);
        case M_COLON:
            if (byte != ':')
                return false;
            state->mode = M_VALUE;
            return true;
        default:
            return false;
    }
}

static bool
s_step (xinf_schema_state_t *state, unsigned char byte)
{
    bool text = state->mode == M_STRING || state->mode == M_KEY || state->mode == M_ENUM || state->mode == M_PATTERN;
    if (text || !xinf_json_lex_is_space (byte))
        state->spaces = 0;
    switch (state->mode) {
        case M_STRING:
        case M_NUMBER:
        case M_LITERAL: return s_token (state, byte);
        case M_KEY:     return s_in_key (state, byte);
        case M_ENUM:    return s_in_enum (state, byte);
        case M_PATTERN: return s_in_pattern (state, byte);
        case M_AFTER:   return s_after (state, byte);
        case M_DONE:    return false;
        default:        return s_structure (state, byte);
    }
}

void
xinf_schema_start (xinf_schema_state_t *state, const xinf_json_schema_t *schema)
{
    memset (state, 0, sizeof *state);
    state->schema = schema;
    state->serial = schema->serial;
    state->value = schema->root;
    state->mode = M_START;
}

bool
xinf_schema_step (xinf_schema_state_t *state, unsigned char byte)
{
    return xinf_schema_feed (state, &byte, 1);
}

bool
xinf_schema_feed (xinf_schema_state_t *state, const void *bytes, size_t size)
{
    xinf_schema_state_t next = *state;
    const unsigned char *at = (const unsigned char *) bytes;
    for (size_t index = 0; index < size; index++)
        if (!s_step (&next, at [index]))
            return false;
    *state = next;
    return true;
}

bool
xinf_schema_done (const xinf_schema_state_t *state)
{
    return state->mode == M_DONE;
}

bool
xinf_schema_in_text (const xinf_schema_state_t *state)
{
    return state->mode == M_STRING && xinf_json_lex_in_text (&state->lex);
}
