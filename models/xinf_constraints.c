/*  xinf_constraints: compiled constraints shared by text
    (xinf_constraints.h).  */
#include "xinf_constraints.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    xinf_constraint_kind_t kind;
    char *text;
    size_t size;                      //  the text's
    uint64_t hash;                    //  of the kind and the text
    void *compiled;
    size_t bytes;                     //  what the compiled object holds
    size_t holders;                   //  requests that hold it
    uint64_t used;                    //  when last got or let go (the cache's clock)
    bool retired;                     //  a recursive grammar out of room (xinf_regex_full): for no new request
} s_entry_t;

struct _xinf_constraints_t {
    s_entry_t *entries;
    size_t count, room, capacity;     //  capacity: entries kept that no request holds
    uint64_t clock;
    size_t compiles, hits;
};

xinf_constraints_t *
xinf_constraints_new (size_t capacity)
{
    xinf_constraints_t *self = calloc (1, sizeof *self);
    if (self)
        self->capacity = capacity;
    return self;
}

static void
s_entry_free (s_entry_t *entry)
{
    if (entry->kind == XINF_CONSTRAINT_SCHEMA)
        xinf_json_schema_destroy ((xinf_json_schema_t **) &entry->compiled);
    else
        xinf_regex_destroy ((xinf_regex_t **) &entry->compiled);
    free (entry->text);
}

void
xinf_constraints_destroy (xinf_constraints_t **self_p)
{
    if (self_p && *self_p) {
        xinf_constraints_t *self = *self_p;
        for (size_t index = 0; index < self->count; index++)
            s_entry_free (&self->entries [index]);
        free (self->entries);
        free (self);
        *self_p = NULL;
    }
}

static size_t
s_bytes (xinf_constraint_kind_t kind, const void *compiled)
{
    return kind == XINF_CONSTRAINT_SCHEMA ? xinf_json_schema_bytes (compiled) : xinf_regex_bytes (compiled);
}

//  Frees the retired entries no request holds, then the least recently
//  used ones past the capacity or the idle byte budget.
static void
s_trim (xinf_constraints_t *self)
{
    for (;;) {
        size_t idle = 0, bytes = 0, oldest = SIZE_MAX;
        bool retired = false;
        for (size_t index = 0; index < self->count && !retired; index++)
            if (self->entries [index].holders == 0) {
                idle++;
                bytes += self->entries [index].bytes;
                retired = self->entries [index].retired;
                if (retired || oldest == SIZE_MAX || self->entries [index].used < self->entries [oldest].used)
                    oldest = index;
            }
        if (!retired && idle <= self->capacity && bytes <= XINF_CONSTRAINTS_IDLE_BYTES)
            return;
        s_entry_free (&self->entries [oldest]);
        self->entries [oldest] = self->entries [--self->count];
    }
}

static uint64_t
s_hash (xinf_constraint_kind_t kind, const char *text, size_t size)
{
    uint64_t hash = 1469598103934665603ull ^ (uint64_t) kind;
    for (size_t at = 0; at < size; at++)
        hash = (hash ^ (unsigned char) text [at]) * 1099511628211ull;
    return hash;
}

void *
xinf_constraints_compile (xinf_constraint_kind_t kind, const char *text, char *error, size_t error_size)
{
    size_t size = strlen (text);
    if (kind == XINF_CONSTRAINT_SCHEMA)
        return xinf_json_schema_new (text, size, error, error_size);
    return kind == XINF_CONSTRAINT_GBNF ? xinf_regex_new_gbnf (text, size, error, error_size)
                                        : xinf_regex_new (text, size, error, error_size);
}

void *
xinf_constraints_get (xinf_constraints_t *self, xinf_constraint_kind_t kind, const char *text, char *error,
                      size_t error_size)
{
    self->clock++;
    size_t size = strlen (text);
    uint64_t hash = s_hash (kind, text, size);
    for (size_t index = 0; index < self->count; index++) {
        s_entry_t *entry = &self->entries [index];
        if (entry->retired || entry->hash != hash || entry->kind != kind || entry->size != size
            || memcmp (entry->text, text, size) != 0)
            continue;
        if (kind == XINF_CONSTRAINT_GBNF && xinf_regex_full (entry->compiled)) {
            entry->retired = true;
            continue;
        }
        entry->holders++;
        entry->used = self->clock;
        self->hits++;
        return entry->compiled;
    }
    void *compiled = xinf_constraints_compile (kind, text, error, error_size);
    if (!compiled)
        return NULL;
    self->compiles++;
    if (self->count == self->room) {
        size_t room = self->room ? self->room * 2 : 8;
        s_entry_t *entries = realloc (self->entries, room * sizeof *entries);
        if (entries) {
            self->entries = entries;
            self->room = room;
        }
    }
    char *copy = strdup (text);
    if (self->count == self->room || !copy) {
        s_entry_t lost = { .kind = kind, .text = copy, .compiled = compiled };
        s_entry_free (&lost);
        snprintf (error, error_size, "out of memory for a compiled constraint");
        return NULL;
    }
    self->entries [self->count++] = (s_entry_t) { kind, copy, size, hash, compiled, s_bytes (kind, compiled) + size,
                                                  1, self->clock, false };
    s_trim (self);
    return compiled;
}

void
xinf_constraints_release (xinf_constraints_t *self, const void *compiled)
{
    for (size_t index = 0; compiled && index < self->count; index++)
        if (self->entries [index].compiled == compiled && self->entries [index].holders > 0) {
            s_entry_t *entry = &self->entries [index];
            entry->holders--;
            entry->used = ++self->clock;
            entry->bytes = s_bytes (entry->kind, compiled) + entry->size;    //  a recursive grammar grows
            s_trim (self);
            return;
        }
}

void
xinf_constraints_counts (const xinf_constraints_t *self, size_t *compiles, size_t *hits)
{
    *compiles = self->compiles;
    *hits = self->hits;
}
