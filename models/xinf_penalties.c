/*  xinf_penalties: a STEP's logit biases and presence, frequency and
    repetition penalties, their wire form, checks and application
    (xinf_penalties.h).  */
#include "xinf_penalties.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HEADER 8
#define S_ROW    24                   //  presence, frequency, repetition, pairs, seen, biases
#define S_PAIR   8                    //  (token, count) and (token, bias) alike

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

static int
s_token_order (const void *left, const void *right)
{
    uint32_t a = *(const uint32_t *) left, b = *(const uint32_t *) right;
    return (a > b) - (a < b);
}

xinf_token_counts_t *
xinf_token_counts_new_from (const int32_t *tokens, size_t count, size_t more)
{
    uint32_t *sorted = malloc ((count + 1) * sizeof (uint32_t));
    if (!sorted)
        return NULL;
    for (size_t index = 0; index < count; index++)
        sorted [index] = (uint32_t) tokens [index];
    qsort (sorted, count, sizeof (uint32_t), s_token_order);
    size_t distinct = 0;
    for (size_t index = 0; index < count; index++)
        distinct += index == 0 || sorted [index] != sorted [index - 1];
    xinf_token_counts_t *self = xinf_token_counts_new (distinct + more);
    for (size_t index = 0; self && index < count; index++) {
        if (index && sorted [index] == sorted [index - 1])
            self->pairs [2 * self->size - 1]++;
        else {
            self->pairs [2 * self->size] = sorted [index];
            self->pairs [2 * self->size + 1] = 1;
            self->size++;
        }
    }
    free (sorted);
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

//  The first pair whose token is >= token.
static size_t
s_pair_at (const xinf_token_counts_t *self, uint32_t token)
{
    size_t low = 0, high = self->size;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (self->pairs [2 * middle] < token)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

void
xinf_token_counts_add (xinf_token_counts_t *self, uint32_t token)
{
    size_t low = s_pair_at (self, token);
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

void
xinf_token_counts_remove (xinf_token_counts_t *self, uint32_t token)
{
    size_t at = s_pair_at (self, token);
    if (at == self->size || self->pairs [2 * at] != token)
        return;
    if (--self->pairs [2 * at + 1] > 0)
        return;
    memmove (self->pairs + 2 * at, self->pairs + 2 * at + 2, (self->size - at - 1) * 2 * sizeof (uint32_t));
    self->size--;
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
xinf_penalties_add (xinf_penalties_t *self, float presence, float frequency, const xinf_token_counts_t *counts,
                    const xinf_logit_bias_t *biases, size_t n_biases)
{
    xinf_penalty_row_t row = { presence, frequency, 1, counts, NULL, biases, n_biases };
    return xinf_penalties_add_row (self, &row);
}

int
xinf_penalties_add_row (xinf_penalties_t *self, const xinf_penalty_row_t *penalty)
{
    size_t pairs = penalty->counts && (penalty->presence != 0 || penalty->frequency != 0) ? penalty->counts->size : 0;
    size_t seen = penalty->seen && penalty->repetition != 1 ? penalty->seen->size : 0;
    float repetition = seen ? penalty->repetition : 1;
    if (!s_room (self, S_ROW + (pairs + seen + penalty->n_biases) * S_PAIR))
        return -1;
    unsigned char *row = self->bytes + self->size;
    memcpy (row, &penalty->presence, 4);
    memcpy (row + 4, &penalty->frequency, 4);
    memcpy (row + 8, &repetition, 4);
    s_put32 (row + 12, (uint32_t) pairs);
    s_put32 (row + 16, (uint32_t) seen);
    s_put32 (row + 20, (uint32_t) penalty->n_biases);
    unsigned char *at = row + S_ROW;
    for (size_t p = 0; p < 2 * pairs; p++, at += 4)
        s_put32 (at, penalty->counts->pairs [p]);
    for (size_t p = 0; p < 2 * seen; p++, at += 4)
        s_put32 (at, penalty->seen->pairs [p]);
    for (size_t b = 0; b < penalty->n_biases; b++, at += S_PAIR) {
        s_put32 (at, penalty->biases [b].token);
        memcpy (at + 4, &penalty->biases [b].bias, 4);
    }
    self->size += S_ROW + (pairs + seen + penalty->n_biases) * S_PAIR;
    s_put32 (self->bytes + 4, ++self->rows);
    return 0;
}

static int
s_bias_compare (const void *a, const void *b)
{
    uint32_t left = ((const xinf_logit_bias_t *) a)->token, right = ((const xinf_logit_bias_t *) b)->token;
    return (left > right) - (left < right);
}

int
xinf_logit_bias_sort (xinf_logit_bias_t *biases, size_t n_biases, uint32_t *duplicate)
{
    if (n_biases > 1)
        qsort (biases, n_biases, sizeof *biases, s_bias_compare);
    for (size_t b = 1; b < n_biases; b++)
        if (biases [b].token == biases [b - 1].token) {
            *duplicate = biases [b].token;
            return -1;
        }
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

//  The reason a row's (token, count) pairs, or (token, bias) pairs
//  ('biases'), are refused, or NULL.
static const char *
s_pairs_refused (const unsigned char *pairs, size_t n_pairs, size_t vocab, bool biases)
{
    for (size_t p = 0; p < n_pairs; p++) {
        const unsigned char *pair = pairs + p * S_PAIR;
        uint32_t token = s_get32 (pair);
        if (token >= vocab)
            return "a token at or above the vocabulary";
        if (p && token <= s_get32 (pair - S_PAIR))
            return "tokens not ascending";
        if (!biases && s_get32 (pair + 4) == 0)
            return "a count of 0";
        if (biases && !(fabsf (s_get_float (pair + 4)) <= XINF_LOGIT_BIAS_MAX))
            return "a bias out of range";
    }
    return NULL;
}

//  Reads one row at 'at' (before 'end') into 'penalty'; the row's end,
//  or NULL with the reason in 'error'.
static const unsigned char *
s_row_decode (const unsigned char *at, const unsigned char *end, size_t row, size_t vocab, xinf_penalty_t *penalty,
              char *error, size_t error_size)
{
    if ((size_t) (end - at) < S_ROW) {
        snprintf (error, error_size, "the penalties frame ends within row %zu", row);
        return NULL;
    }
    penalty->presence = s_get_float (at);
    penalty->frequency = s_get_float (at + 4);
    penalty->repetition = s_get_float (at + 8);
    penalty->n_pairs = s_get32 (at + 12);
    penalty->n_seen = s_get32 (at + 16);
    penalty->n_biases = s_get32 (at + 20);
    penalty->pairs = at + S_ROW;
    const char *field = !(fabsf (penalty->presence) <= XINF_PENALTY_MAX) ? "presence"
                      : !(fabsf (penalty->frequency) <= XINF_PENALTY_MAX) ? "frequency"
                      : !(penalty->repetition >= XINF_REPETITION_MIN && penalty->repetition <= XINF_REPETITION_MAX)
                      ? "repetition"
                      : penalty->n_pairs > vocab ? "pairs"
                      : penalty->n_seen > vocab ? "seen"
                      : penalty->n_biases > vocab || penalty->n_biases > XINF_LOGIT_BIASES ? "biases" : NULL;
    if (field) {
        snprintf (error, error_size, "field 'penalties[%zu].%s' is out of range", row, field);
        return NULL;
    }
    if ((size_t) (end - penalty->pairs) / S_PAIR < penalty->n_pairs + penalty->n_seen + penalty->n_biases) {
        snprintf (error, error_size, "the penalties frame ends within row %zu's %zu pairs, %zu seen and %zu "
                  "biases", row, penalty->n_pairs, penalty->n_seen, penalty->n_biases);
        return NULL;
    }
    penalty->seen = penalty->pairs + penalty->n_pairs * S_PAIR;
    penalty->biases = penalty->seen + penalty->n_seen * S_PAIR;
    const char *refused = s_pairs_refused (penalty->pairs, penalty->n_pairs, vocab, false);
    field = "pairs";
    if (!refused) {
        refused = s_pairs_refused (penalty->seen, penalty->n_seen, vocab, false);
        field = "seen";
    }
    if (!refused) {
        refused = s_pairs_refused (penalty->biases, penalty->n_biases, vocab, true);
        field = "biases";
    }
    if (refused) {
        snprintf (error, error_size, "field 'penalties[%zu].%s': %s", row, field, refused);
        return NULL;
    }
    return penalty->biases + penalty->n_biases * S_PAIR;
}

int
xinf_penalties_decode (const void *bytes, size_t size, size_t rows, size_t vocab, xinf_penalty_t *out,
                       char *error, size_t error_size)
{
    if (size < S_HEADER || s_get32 (bytes) != XINF_PENALTIES_MAGIC || s_get32 ((const unsigned char *) bytes + 4) != rows) {
        snprintf (error, error_size, "the penalties frame's header is not \"PNLB\" with %zu rows", rows);
        return -1;
    }
    const unsigned char *at = (const unsigned char *) bytes, *end = at + size;
    at += S_HEADER;
    for (size_t row = 0; row < rows && at; row++)
        at = s_row_decode (at, end, row, vocab, &out [row], error, error_size);
    if (!at)
        return -1;
    if (at != end) {
        snprintf (error, error_size, "the penalties frame has %zu bytes past its %zu rows", (size_t) (end - at), rows);
        return -1;
    }
    return 0;
}

bool
xinf_penalty_active (const xinf_penalty_t *row)
{
    return row->n_biases > 0 || (row->n_pairs > 0 && (row->presence != 0 || row->frequency != 0))
           || (row->n_seen > 0 && row->repetition != 1);
}

void
xinf_penalty_apply (const xinf_penalty_t *row, float *logits)
{
    for (size_t b = 0; b < row->n_biases; b++) {
        const unsigned char *pair = row->biases + b * S_PAIR;
        logits [s_get32 (pair)] = logits [s_get32 (pair)] + s_get_float (pair + 4);
    }
    for (size_t p = 0; p < row->n_seen && row->repetition != 1; p++) {
        uint32_t token = s_get32 (row->seen + p * S_PAIR);
        logits [token] = logits [token] > 0 ? logits [token] / row->repetition : logits [token] * row->repetition;
    }
    for (size_t p = 0; p < row->n_pairs; p++) {
        uint32_t token = s_get32 (row->pairs + p * S_PAIR), count = s_get32 (row->pairs + p * S_PAIR + 4);
        float penalty = (float) count * row->frequency;
        penalty = penalty + row->presence;
        logits [token] = logits [token] - penalty;
    }
}
