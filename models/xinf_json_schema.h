/*  xinf_json_schema: the bytes of a JSON value that a JSON Schema allows,
    byte by byte: what OpenAI's response_format {"type": "json_schema"}
    promises (constrained decoding, as xinf_json_grammar does for any
    object).

    A schema is compiled once into nodes; a state (56 plain bytes: the
    schema, a stack of containers, the token being read) says which bytes
    may come next, and xinf_schema_step takes one or refuses it.

    The schema subset: type (one, or a list), properties with required
    (the properties come in the schema's order, each at most once, the
    required ones never skipped; no other properties are generated, which
    any additionalProperties allows), items with minItems and maxItems (up
    to 255), enum and const of strings, integers, booleans and null, anyOf
    and oneOf whose alternatives begin with different characters (a type
    and null, say), $ref to #/$defs/NAME or #/definitions/NAME (recursion
    too, up to the nesting limit), and a string's pattern (searched, as
    JSON Schema has it), minLength/maxLength (up to 1000) or format date,
    time, date-time, uuid, ipv4 or email, one of them a string, up to
    XINF_SCHEMA_PATTERNS_MAX strings (its text kept to an expression,
    xinf_regex.h, and written without escapes). Annotations (title,
    description, default, examples, other formats, $schema, $id,
    $comment, ...) are ignored. A keyword that would constrain what this
    does not (minimum, multipleOf, allOf, prefixItems, ...) is refused by name, as
    is a schema that allows any value ({}), rather than generating what
    the schema forbids; so are keywords beside $ref, anyOf or oneOf, and
    enum or const beside properties or items (enum beside type keeps the
    values of that type), a cycle of $refs and unions through no object
    or array (left recursion), and a schema none of whose values can be
    complete within XINF_SCHEMA_DEPTH_MAX nested containers (an optional
    property or item whose value could not close there is not offered). The root is an object or an array. Strings are
    JSON's (escapes, UTF-8, no control characters); whitespace runs of at
    most XINF_JSON_SPACES_MAX bytes; nesting at most
    XINF_SCHEMA_DEPTH_MAX containers deep.
*/
#ifndef XINF_JSON_SCHEMA_H_INCLUDED
#define XINF_JSON_SCHEMA_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_json_lex.h"

#define XINF_SCHEMA_DEPTH_MAX   8
#define XINF_SCHEMA_NODES_MAX   1024
#define XINF_SCHEMA_CHOICES_MAX 32      //  properties of an object, values of an enum
#define XINF_SCHEMA_PATTERNS_MAX 64     //  strings with a pattern, minLength/maxLength or a format

typedef struct _xinf_json_schema_t xinf_json_schema_t;

typedef struct {
    const xinf_json_schema_t *schema;
    uint64_t serial;                  //  the schema's: states of two schemas never share bytes
    uint16_t node [XINF_SCHEMA_DEPTH_MAX];      //  the open containers' nodes
    uint8_t next [XINF_SCHEMA_DEPTH_MAX];       //  object: its next property; array: its items so far
    uint32_t candidates;              //  the keys or enum values still matching
    uint16_t value;                   //  the node whose value is read (or comes next)
    uint16_t at;                      //  bytes of a key or enum value matched
    uint8_t depth, mode;
    xinf_json_lex_t lex;              //  within a string, number or literal
    uint8_t spaces;
    uint8_t unused [2];
} xinf_schema_state_t;

//  Compiles 'size' bytes of a JSON Schema; NULL with the reason (naming
//  the keyword or the path) in 'error'.
xinf_json_schema_t *xinf_json_schema_new (const char *text, size_t size, char *error, size_t error_size);
void xinf_json_schema_destroy (xinf_json_schema_t **self_p);
//  The bytes a compiled schema holds (its strings' automata included).
size_t xinf_json_schema_bytes (const xinf_json_schema_t *self);

//  The state before the first byte of a value of 'schema'.
void xinf_schema_start (xinf_schema_state_t *state, const xinf_json_schema_t *schema);
//  Takes 'byte': true and the state moved on, or false and it unchanged.
bool xinf_schema_step (xinf_schema_state_t *state, unsigned char byte);
//  Takes 'size' bytes; false (the state unchanged) when one is refused.
bool xinf_schema_feed (xinf_schema_state_t *state, const void *bytes, size_t size);
//  Whether the value is complete (nothing more may come).
bool xinf_schema_done (const xinf_schema_state_t *state);
//  Whether the state is inside a free string's text (no escape or UTF-8
//  continuation due): plain text bytes keep it as it is.
bool xinf_schema_in_text (const xinf_schema_state_t *state);

#endif
