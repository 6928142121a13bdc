/*  xinf_regex: an expression compiled (parsed, xinf_regex_parse.c; as a
    Thompson automaton, xinf_regex_nfa.c; determinized and pruned,
    xinf_regex_dfa.c) and stepped byte by byte (xinf_regex.h).  */
#include "xinf_regex.h"
#include "xinf_regex_private.h"
#include "xinf_pda.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
xinf_rx_error (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
}

//  A number no other compiled expression has.
static uint64_t
s_serial (void)
{
    static atomic_uint_fast64_t serials;
    return atomic_fetch_add (&serials, 1) + 1;
}

xinf_regex_t *
xinf_rx_compile (xinf_rx_tree_t *tree, int flags, size_t *work_left, char *error, size_t error_size)
{
    xinf_rx_nfa_t nfa = { .json_text = (flags & XINF_REGEX_JSON_TEXT) != 0,
                          .small = (flags & XINF_REGEX_SMALL) != 0, .work_left = work_left };
    uint32_t start = xinf_rx_thompson (&nfa, tree, flags);
    if (start == XINF_RX_NONE)
        xinf_rx_error (error, error_size, nfa.count >= XINF_RX_NFA_MAX || nfa.over ? "the expression is too "
                       "large once its repetitions (and rules) are written out (more than 200000 states, or its "
                       "anchors' walks past their budget)" : "out of memory");
    xinf_regex_t *self = start == XINF_RX_NONE ? NULL : calloc (1, sizeof *self);
    if (self && !xinf_rx_determinize (self, &nfa, start, error, error_size))
        xinf_regex_destroy (&self);
    free (nfa.states);
    free (nfa.mark);
    if (self)
        self->serial = s_serial ();
    return self;
}

xinf_regex_t *
xinf_rx_stacked (xinf_pda_t *pda)
{
    xinf_regex_t *self = calloc (1, sizeof *self);
    if (!self) {
        xinf_pda_destroy (&pda);
        return NULL;
    }
    self->serial = s_serial ();
    self->pda = pda;
    return self;
}

xinf_regex_t *
xinf_regex_new_flags (const char *pattern, size_t size, int flags, char *error, size_t error_size)
{
    xinf_rx_error (error, error_size, "out of memory");
    xinf_rx_tree_t tree = { 0 };
    xinf_regex_t *self = NULL;
    if (xinf_rx_parse (pattern, size, &tree, error, error_size) == 0)
        self = xinf_rx_compile (&tree, flags, NULL, error, error_size);
    xinf_rx_tree_free (&tree);
    return self;
}

xinf_regex_t *
xinf_regex_new (const char *pattern, size_t size, char *error, size_t error_size)
{
    return xinf_regex_new_flags (pattern, size, 0, error, error_size);
}

void
xinf_regex_destroy (xinf_regex_t **self_p)
{
    if (self_p && *self_p) {
        xinf_regex_t *self = *self_p;
        xinf_pda_destroy (&self->pda);
        free (self->table);
        free (self->flags);
        free (self);
        *self_p = NULL;
    }
}

size_t
xinf_regex_states (const xinf_regex_t *self)
{
    return self->pda ? xinf_pda_positions (self->pda) : self->live;
}

size_t
xinf_regex_bytes (const xinf_regex_t *self)
{
    if (self->pda)
        return sizeof *self + xinf_pda_bytes (self->pda);
    return sizeof *self + (self->states + 1) * (self->classes * sizeof (uint32_t) + 1);
}

bool
xinf_regex_full (const xinf_regex_t *self)
{
    return self->pda && xinf_pda_full (self->pda);
}

void
xinf_regex_start (xinf_regex_state_t *state, const xinf_regex_t *regex)
{
    memset (state, 0, sizeof *state);
    state->regex = regex;
    state->serial = regex->serial;
    state->state = regex->pda ? xinf_pda_start (regex->pda) : XINF_REGEX_START;
}

uint32_t
xinf_regex_next (const xinf_regex_t *self, uint32_t state, unsigned char byte)
{
    if (self->pda)
        return xinf_pda_next (self->pda, state, byte);
    return state <= self->states ? self->table [state * self->classes + self->byte_class [byte]] : 0;
}

bool
xinf_regex_accepts (const xinf_regex_t *self, uint32_t state)
{
    if (self->pda)
        return xinf_pda_accepting (self->pda, state);
    return state <= self->states && (self->flags [state] & XINF_RX_ACCEPTING);
}

bool
xinf_regex_step (xinf_regex_state_t *state, unsigned char byte)
{
    uint32_t next = xinf_regex_next (state->regex, state->state, byte);
    if (next == 0)
        return false;
    state->state = next;
    return true;
}

bool
xinf_regex_feed (xinf_regex_state_t *state, const void *bytes, size_t size)
{
    xinf_regex_state_t next = *state;
    for (size_t at = 0; at < size; at++)
        if (!xinf_regex_step (&next, ((const unsigned char *) bytes) [at]))
            return false;
    *state = next;
    return true;
}

bool
xinf_regex_accepting (const xinf_regex_state_t *state)
{
    return xinf_regex_accepts (state->regex, state->state);
}

bool
xinf_regex_done (const xinf_regex_state_t *state)
{
    if (state->regex->pda)
        return xinf_pda_done (state->regex->pda, state->state);
    return state->regex->flags [state->state] == XINF_RX_ACCEPTING;
}

void
xinf_regex_table (const xinf_regex_t *self, const uint32_t **table, const uint8_t **byte_class, size_t *classes)
{
    *table = self->table;                     //  NULL for a recursive grammar's
    *byte_class = self->byte_class;
    *classes = self->classes;
}

bool
xinf_regex_match (const xinf_regex_t *self, const char *text, size_t size)
{
    xinf_regex_state_t state;
    xinf_regex_start (&state, self);
    return xinf_regex_feed (&state, text, size) && xinf_regex_accepting (&state);
}

long
xinf_regex_quote (const char *text, size_t size, char *out, size_t out_size)
{
    size_t length = 0;
    for (size_t at = 0; at < size; at++) {
        if (text [at] == 0) {                   //  written as \x00: the pattern stays a C string
            if (length + 5 > out_size)
                return -1;
            memcpy (out + length, "\\x00", 4);
            length += 4;
            continue;
        }
        bool meta = strchr ("\\.^$|?*+()[]{}#", text [at]) != NULL;
        if (length + meta + 2 > out_size)
            return -1;
        if (meta)
            out [length++] = '\\';
        out [length++] = text [at];
    }
    if (out_size == 0)
        return -1;
    out [length] = 0;
    return (long) length;
}
