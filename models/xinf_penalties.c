/*  xinf_penalties: a STEP's presence and frequency penalties, their wire
    form, checks and application (xinf_penalties.h).  */
#include "xinf_penalties.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HEADER 8
#define S_ROW    12                   //  presence, frequency, pairs
#define S_PAIR   8

struct _xinf_penalties_t {
    unsigned char *bytes;
    size_t size, capacity;
    uint32_t rows;
};

struct _xinf_token_counts_t {
    uint32_t *pairs;                  //  (token, count), tokens ascending
    size_t size, capacity;            //  in pairs
};

static void
s_put32 (unsigned char *at, uint32_t value)
{
    memcpy (at, &value, sizeof value);
}

static uint32_t
s_get32 (const unsigned char *at)
{
    uint32_t value;
    memcpy (&value, at, sizeof value);
    return value;
}

static float
s_get_float (const unsigned char *at)
{
    float value;
    memcpy (&value, at, sizeof value);
    return value;
}

//  Room for 'more' bytes; false when out of memory.
static bool
s_room (xinf_penalties_t *self, size_t more)
{
    if (self->size + more <= self->capacity)
        return true;
    size_t capacity = self->capacity * 2 > self->size + more ? self->capacity * 2 : self->size + more;
    unsigned char *grown = realloc (self->bytes, capacity);
    if (!grown)
        return false;
    self->bytes = grown;
    self->capacity = capacity;
    return true;
}

xinf_token_counts_t *
xinf_token_counts_new (size_t distinct)
{
    xinf_token_counts_t *self = calloc (1, sizeof *self);
    if (self && distinct && !(self->pairs = malloc (distinct * 2 * sizeof (uint32_t)))) {
        free (self);
        return NULL;
    }
    if (self)
        self->capacity = distinct;
    return self;
}

void
xinf_token_counts_destroy (xinf_token_counts_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->pairs);
        free (*self_p);
        *self_p = NULL;
    }
}

void
xinf_token_counts_add (xinf_token_counts_t *self, uint32_t token)
{
    size_t low = 0, high = self->size;        //  the first pair whose token is >= token
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (self->pairs [2 * middle] < token)
            low = middle + 1;
        else
            high = middle;
    }
    if (low < self->size && self->pairs [2 * low] == token) {
        self->pairs [2 * low + 1]++;
        return;
    }
    if (self->size == self->capacity)
        return;
    memmove (self->pairs + 2 * low + 2, self->pairs + 2 * low, (self->size - low) * 2 * sizeof (uint32_t));
    self->pairs [2 * low] = token;
    self->pairs [2 * low + 1] = 1;
    self->size++;
}

size_t
xinf_token_counts_size (const xinf_token_counts_t *self)
{
    return self->size;
}

xinf_penalties_t *
xinf_penalties_new (void)
{
    xinf_penalties_t *self = calloc (1, sizeof *self);
    if (!self || !s_room (self, S_HEADER)) {
        free (self);
        return NULL;
    }
    s_put32 (self->bytes, XINF_PENALTIES_MAGIC);
    s_put32 (self->bytes + 4, 0);
    self->size = S_HEADER;
    return self;
}

void
xinf_penalties_destroy (xinf_penalties_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->bytes);
        free (*self_p);
        *self_p = NULL;
    }
}

int
xinf_penalties_add (xinf_penalties_t *self, float presence, float frequency, const xinf_token_counts_t *counts)
{
    size_t pairs = counts && (presence != 0 || frequency != 0) ? counts->size : 0;
    if (!s_room (self, S_ROW + pairs * S_PAIR))
        return -1;
    unsigned char *row = self->bytes + self->size;
    memcpy (row, &presence, 4);
    memcpy (row + 4, &frequency, 4);
    s_put32 (row + 8, (uint32_t) pairs);
    for (size_t p = 0; p < 2 * pairs; p++)
        s_put32 (row + S_ROW + 4 * p, counts->pairs [p]);
    self->size += S_ROW + pairs * S_PAIR;
    s_put32 (self->bytes + 4, ++self->rows);
    return 0;
}

const void *
xinf_penalties_data (const xinf_penalties_t *self)
{
    return self->bytes;
}

size_t
xinf_penalties_size (const xinf_penalties_t *self)
{
    return self->size;
}

//  The reason a row's pairs are refused, or NULL.
static const char *
s_pairs_refused (const unsigned char *pairs, size_t n_pairs, size_t vocab)
{
    for (size_t p = 0; p < n_pairs; p++) {
        uint32_t token = s_get32 (pairs + p * S_PAIR), count = s_get32 (pairs + p * S_PAIR + 4);
        if (token >= vocab)
            return "a token at or above the vocabulary";
        if (p && token <= s_get32 (pairs + (p - 1) * S_PAIR))
            return "tokens not ascending";
        if (count == 0)
            return "a count of 0";
    }
    return NULL;
}

int
xinf_penalties_decode (const void *bytes, size_t size, size_t rows, size_t vocab, xinf_penalty_t *out,
                       char *error, size_t error_size)
{
    if (size < S_HEADER || s_get32 (bytes) != XINF_PENALTIES_MAGIC || s_get32 ((const unsigned char *) bytes + 4) != rows) {
        snprintf (error, error_size, "the penalties frame's header is not \"PNLT\" with %zu rows", rows);
        return -1;
    }
    const unsigned char *at = (const unsigned char *) bytes, *end = at + size;
    at += S_HEADER;
    for (size_t row = 0; row < rows; row++) {
        if ((size_t) (end - at) < S_ROW) {
            snprintf (error, error_size, "the penalties frame ends within row %zu", row);
            return -1;
        }
        xinf_penalty_t *penalty = &out [row];
        penalty->presence = s_get_float (at);
        penalty->frequency = s_get_float (at + 4);
        penalty->n_pairs = s_get32 (at + 8);
        penalty->pairs = at + S_ROW;
        const char *field = !(fabsf (penalty->presence) <= XINF_PENALTY_MAX) ? "presence"
                          : !(fabsf (penalty->frequency) <= XINF_PENALTY_MAX) ? "frequency"
                          : penalty->n_pairs > vocab ? "pairs" : NULL;
        if (field) {
            snprintf (error, error_size, "field 'penalties[%zu].%s' is out of range", row, field);
            return -1;
        }
        if ((size_t) (end - penalty->pairs) / S_PAIR < penalty->n_pairs) {
            snprintf (error, error_size, "the penalties frame ends within row %zu's %zu pairs", row, penalty->n_pairs);
            return -1;
        }
        const char *refused = s_pairs_refused (penalty->pairs, penalty->n_pairs, vocab);
        if (refused) {
            snprintf (error, error_size, "field 'penalties[%zu].pairs': %s", row, refused);
            return -1;
        }
        at = penalty->pairs + penalty->n_pairs * S_PAIR;
    }
    if (at != end) {
        snprintf (error, error_size, "the penalties frame has %zu bytes past its %zu rows", (size_t) (end - at), rows);
        return -1;
    }
    return 0;
}

bool
xinf_penalty_active (const xinf_penalty_t *row)
{
    return row->n_pairs > 0 && (row->presence != 0 || row->frequency != 0);
}

void
xinf_penalty_apply (const xinf_penalty_t *row, float *logits)
{
    for (size_t p = 0; p < row->n_pairs; p++) {
        uint32_t token = s_get32 (row->pairs + p * S_PAIR), count = s_get32 (row->pairs + p * S_PAIR + 4);
        float penalty = (float) count * row->frequency;
        penalty = penalty + row->presence;
        logits [token] = logits [token] - penalty;
    }
}
