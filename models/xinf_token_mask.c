/*  xinf_token_mask: a STEP's allowed tokens, wire form and use
    (xinf_token_mask.h).  */
#include "xinf_token_mask.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HEADER 12

struct _xinf_token_masks_t {
    unsigned char *data;
    size_t size, alloc;
    size_t rows, added, vocab;
};

size_t
xinf_token_mask_words (size_t vocab)
{
    return (vocab + 31) / 32;
}

static uint32_t
s_get32 (const unsigned char *at)
{
    uint32_t value;
    memcpy (&value, at, sizeof value);
    return value;
}

static int
s_put (xinf_token_masks_t *self, const void *bytes, size_t size)
{
    if (self->size + size > self->alloc) {
        size_t alloc = self->alloc * 2 > self->size + size ? self->alloc * 2 : self->size + size;
        unsigned char *data = realloc (self->data, alloc);
        if (!data)
            return -1;
        self->data = data;
        self->alloc = alloc;
    }
    memcpy (self->data + self->size, bytes, size);
    self->size += size;
    return 0;
}

xinf_token_masks_t *
xinf_token_masks_new (size_t rows, size_t vocab)
{
    xinf_token_masks_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->rows = rows;
    self->vocab = vocab;
    uint32_t header [3] = { XINF_TOKEN_MASK_MAGIC, (uint32_t) rows, (uint32_t) vocab };
    if (s_put (self, header, sizeof header))
        xinf_token_masks_destroy (&self);
    return self;
}

void
xinf_token_masks_destroy (xinf_token_masks_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->data);
        free (*self_p);
        *self_p = NULL;
    }
}

int
xinf_token_masks_add (xinf_token_masks_t *self, const uint32_t *bits)
{
    if (self->added >= self->rows)
        return -1;
    uint32_t masked = bits != NULL;
    if (s_put (self, &masked, 4) || (bits && s_put (self, bits, xinf_token_mask_words (self->vocab) * 4)))
        return -1;
    self->added++;
    return 0;
}

const void *
xinf_token_masks_data (const xinf_token_masks_t *self)
{
    return self->added == self->rows ? self->data : NULL;
}

size_t
xinf_token_masks_size (const xinf_token_masks_t *self)
{
    return self->size;
}

//  Row 'row's words at 'at' (words of them): none past the vocabulary,
//  at least one allowed. NULL, or the field at fault.
static const char *
s_row_fault (const unsigned char *at, size_t words, size_t vocab)
{
    uint32_t any = 0;
    for (size_t word = 0; word < words; word++)
        any |= s_get32 (at + 4 * word);
    if (!any)
        return "allows no token";
    if (vocab % 32 && s_get32 (at + 4 * (words - 1)) >> (vocab % 32))
        return "allows a token past the vocabulary";
    return NULL;
}

int
xinf_token_masks_decode (const void *bytes, size_t size, size_t rows, size_t vocab, const uint32_t **masks,
                         char *error, size_t error_size)
{
    const unsigned char *at = (const unsigned char *) bytes;
    if (size < S_HEADER || s_get32 (at) != XINF_TOKEN_MASK_MAGIC || s_get32 (at + 4) != rows
    ||  s_get32 (at + 8) != vocab) {
        snprintf (error, error_size, "the token mask frame's header is not \"TMSK\" with %zu rows of %zu tokens",
                  rows, vocab);
        return -1;
    }
    size_t words = xinf_token_mask_words (vocab), offset = S_HEADER;
    for (size_t row = 0; row < rows; row++) {
        uint32_t masked = offset + 4 <= size ? s_get32 (at + offset) : 2;
        if (offset + 4 > size || masked > 1 || (masked && size - offset - 4 < words * 4)) {
            snprintf (error, error_size, "field 'masks[%zu]': %s", row, offset + 4 > size || masked <= 1
                      ? "the frame ends within it" : "'masked' must be 0 or 1");
            return -1;
        }
        offset += 4;
        masks [row] = NULL;
        if (!masked)
            continue;
        const char *fault = s_row_fault (at + offset, words, vocab);
        if (fault) {
            snprintf (error, error_size, "field 'masks[%zu]' %s", row, fault);
            return -1;
        }
        masks [row] = (const uint32_t *) (const void *) (at + offset);
        offset += words * 4;
    }
    if (offset != size) {
        snprintf (error, error_size, "the token mask frame has %zu bytes past its %zu rows", size - offset, rows);
        return -1;
    }
    return 0;
}

void
xinf_token_mask_apply (const uint32_t *bits, float *logits, size_t vocab)
{
    for (size_t word = 0; word * 32 < vocab; word++) {
        uint32_t allowed;
        memcpy (&allowed, bits + word, 4);              //  the frame's bytes need not be aligned
        if (allowed == UINT32_MAX)
            continue;
        size_t end = word * 32 + 32 < vocab ? word * 32 + 32 : vocab;
        for (size_t token = word * 32; token < end; token++)
            if (!(allowed >> (token % 32) & 1))
                logits [token] = -INFINITY;
    }
}
