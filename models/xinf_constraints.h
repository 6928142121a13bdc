/*  xinf_constraints: the compiled constraints of a replica's requests
    (regular expressions, GBNF grammars, JSON Schemas: xinf_regex.h,
    xinf_json_schema.h), shared between the requests that send the same
    text. Many users of one application send the same schema or choice:
    compiled once, it costs one compile rather than one a request, and
    the token masks cached for its states (xinf_json_masks.h, which key
    on the compiled object) serve every such request.

    Each request holds what it got until it releases it; the cache keeps
    up to 'capacity' more, of at most XINF_CONSTRAINTS_IDLE_BYTES
    together, the least recently used one freed first. Lookups go by a
    hash of the text. A recursive grammar's automaton grows with the
    positions its answers reach (xinf_pda.h); one out of room is handed
    to no new request, which gets a fresh copy. One per replica, on its
    thread.
*/
#ifndef XINF_CONSTRAINTS_H_INCLUDED
#define XINF_CONSTRAINTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "xinf_json_schema.h"
#include "xinf_regex.h"

#define XINF_CONSTRAINTS_IDLE_BYTES (64u << 20)  //  what the constraints no request holds may take

typedef enum {
    XINF_CONSTRAINT_REGEX,            //  a regular expression (xinf_regex_new)
    XINF_CONSTRAINT_GBNF,             //  a GBNF grammar (xinf_regex_new_gbnf)
    XINF_CONSTRAINT_SCHEMA            //  a JSON Schema (xinf_json_schema_new)
} xinf_constraint_kind_t;

typedef struct _xinf_constraints_t xinf_constraints_t;

xinf_constraints_t *xinf_constraints_new (size_t capacity);
void xinf_constraints_destroy (xinf_constraints_t **self_p);

//  The compiled 'text' of 'kind' (an xinf_regex_t for REGEX and GBNF,
//  an xinf_json_schema_t for SCHEMA), compiled now unless cached; held
//  until released. NULL with the compiler's reason in 'error'.
void *xinf_constraints_get (xinf_constraints_t *self, xinf_constraint_kind_t kind, const char *text, char *error,
                            size_t error_size);
//  The compiled 'text' of 'kind' for one holder alone (not cached: the
//  caller destroys it); NULL with the compiler's reason.
void *xinf_constraints_compile (xinf_constraint_kind_t kind, const char *text, char *error, size_t error_size);
//  Lets go of what xinf_constraints_get gave.
void xinf_constraints_release (xinf_constraints_t *self, const void *compiled);

//  Compiles done and cache hits so far (for the log and tests).
void xinf_constraints_counts (const xinf_constraints_t *self, size_t *compiles, size_t *hits);

#endif
