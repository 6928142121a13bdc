/*  xinf_tokenizer_spm: the llama (SentencePiece BPE) tokenizer, as
    llama.cpp's llm_tokenizer_spm.

    Spaces become "▁" (U+2581). The text is then split at its user-defined
    pieces (the longest one at each place, from the left, as Hugging Face's
    tokenizers; their spaces as "▁"): each is its token, as SentencePiece
    and Hugging Face's tokenizers have them (Gemma's runs of spaces,
    newlines and tabs, and its HTML tags). With add_space_prefix a "▁" goes
    in front of each part of the text before, between and after them (as
    llama.cpp: "a<b>c" is ▁a, <b>, ▁c). In each part, the symbols start as
    UTF-8 characters (an invalid byte is a symbol of its own); the adjacent
    pair whose concatenation is a
    vocabulary piece with the highest score merges first, the leftmost
    among equal scores. A symbol left that is not a piece becomes its
    <0xNN> byte tokens, or one unknown token when a byte token is missing.
*/
#include "xinf_tokenizer_private.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_space [] = "\xe2\x96\x81";     //  "▁"

//  The byte a <0xNN> text names, or -1.
static int
s_byte_text (const char *text, size_t length)
{
    if (length != 6 || memcmp (text, "<0x", 3) != 0 || text [5] != '>')
        return -1;
    int value = 0;
    for (int index = 3; index < 5; index++) {
        char digit = text [index];
        int nibble = digit >= '0' && digit <= '9' ? digit - '0'
                   : digit >= 'A' && digit <= 'F' ? digit - 'A' + 10
                   : digit >= 'a' && digit <= 'f' ? digit - 'a' + 10 : -1;
        if (nibble < 0)
            return -1;
        value = value * 16 + nibble;
    }
    return value;
}

int
xinf_tok_spm_init (xinf_tokenizer_t *self, char *error, size_t error_size)
{
    for (int byte = 0; byte < 256; byte++) {
        char text [8];
        snprintf (text, sizeof text, "<0x%02X>", byte);
        int32_t id = xinf_tok_lookup (self, text, 6);
        bool usable = id >= 0 && (self->types [id] == XINF_TOKEN_BYTE || self->types [id] == XINF_TOKEN_NORMAL);
        self->byte_ids [byte] = usable ? id : -1;
    }
    return 0;
}

//  Normal and user-defined pieces with "▁" as a space, byte tokens as
//  their byte, unknown as "▅", control and unused as nothing (llama.cpp).
size_t
xinf_tok_spm_piece (xinf_tokenizer_t *self, int32_t id, char *out)
{
    size_t length;
    const char *text = xinf_tok_text (self, id, &length);
    int type = self->types [id];
    int byte = s_byte_text (text, length);
    if (byte >= 0 && (type == XINF_TOKEN_BYTE || self->byte_ids [byte] == id)) {
        out [0] = (char) byte;
        return 1;
    }
    if (type == XINF_TOKEN_UNKNOWN) {
        memcpy (out, "\xe2\x96\x85", 3);
        return 3;
    }
    if (type != XINF_TOKEN_NORMAL && type != XINF_TOKEN_USER_DEFINED && type != XINF_TOKEN_UNDEFINED)
        return 0;
    size_t at = 0;
    for (size_t index = 0; index < length; ) {
        if (length - index >= 3 && memcmp (text + index, s_space, 3) == 0) {
            out [at++] = ' ';
            index += 3;
        }
        else
            out [at++] = text [index++];
    }
    return at;
}

typedef struct {
    const char *text;               //  the normalized text
    size_t *start, *size;           //  symbols: bytes (size 0: merged away)
    int32_t *prev, *next;
    xinf_tok_heap_t heap;
} s_work_t;

static void
s_push_pair (xinf_tokenizer_t *self, s_work_t *work, int32_t left, int32_t right)
{
    size_t size = work->size [left] + work->size [right];
    int32_t id = xinf_tok_lookup (self, work->text + work->start [left], size);
    if (id >= 0 && self->matchable [id])
        xinf_tok_heap_push (&work->heap, (xinf_tok_bigram_t) {
            self->scores [id], left, right, (int32_t) work->size [left], (int32_t) work->size [right] });
}

static int
s_emit (xinf_tokenizer_t *self, const char *text, size_t size, xinf_tok_ids_t *out)
{
    int32_t id = xinf_tok_lookup (self, text, size);
    if (id >= 0 && self->matchable [id]) {
        xinf_tok_ids_push (out, id);
        return 0;
    }
    bool bytes = true;
    for (size_t index = 0; index < size; index++)
        bytes = bytes && self->byte_ids [(uint8_t) text [index]] >= 0;
    if (bytes) {
        for (size_t index = 0; index < size; index++)
            xinf_tok_ids_push (out, self->byte_ids [(uint8_t) text [index]]);
        return 0;
    }
    if (self->unk_id < 0)
        return -1;
    xinf_tok_ids_push (out, (int32_t) self->unk_id);
    return 0;
}

static void
s_merge_all (xinf_tokenizer_t *self, s_work_t *work)
{
    xinf_tok_bigram_t pair;
    while (xinf_tok_heap_pop (&work->heap, &pair)) {
        int32_t left = pair.left, right = pair.right;
        if (work->next [left] != right || work->size [left] != (size_t) pair.a
        ||  work->size [right] != (size_t) pair.b)
            continue;           //  a symbol changed since the pair was pushed
        work->size [left] += work->size [right];
        work->size [right] = 0;
        work->next [left] = work->next [right];
        if (work->next [left] >= 0)
            work->prev [work->next [left]] = left;
        if (work->prev [left] >= 0)
            s_push_pair (self, work, work->prev [left], left);
        if (work->next [left] >= 0)
            s_push_pair (self, work, left, work->next [left]);
    }
}

//  Merges the symbols of normalized text between user-defined pieces (with
//  add_space_prefix, after a "▁" put in front of it) and emits its tokens;
//  0, or -1 when a symbol has no token at all.
static int
s_encode_span (xinf_tokenizer_t *self, const char *span, size_t size, xinf_tok_ids_t *out)
{
    if (!size)
        return 0;
    char *prefixed = NULL;            //  a copy only where a "▁" goes in front
    if (self->space_prefix) {
        prefixed = malloc (size + 3);
        assert (prefixed);
        memcpy (prefixed, s_space, 3);
        memcpy (prefixed + 3, span, size);
        size += 3;
    }
    const char *normal = prefixed ? prefixed : span;
    s_work_t work = { 0 };
    work.text = normal;
    work.start = malloc (size * sizeof *work.start);
    work.size = malloc (size * sizeof *work.size);
    work.prev = malloc (size * sizeof *work.prev);
    work.next = malloc (size * sizeof *work.next);
    assert (work.start && work.size && work.prev && work.next);
    int32_t count = 0;
    for (size_t at = 0; at < size; count++) {
        uint32_t cpt;
        work.start [count] = at;
        work.size [count] = xinf_tok_utf8 ((const uint8_t *) normal + at, size - at, &cpt);
        work.prev [count] = count - 1;
        work.next [count] = -1;
        if (count > 0)
            work.next [count - 1] = count;
        at += work.size [count];
    }
    for (int32_t index = 0; index + 1 < count; index++)
        s_push_pair (self, &work, index, index + 1);
    s_merge_all (self, &work);
    int rc = 0;
    for (int32_t index = count > 0 ? 0 : -1; index >= 0 && rc == 0; index = work.next [index])
        rc = s_emit (self, normal + work.start [index], work.size [index], out);
    free (work.start);
    free (work.size);
    free (work.prev);
    free (work.next);
    free (work.heap.items);
    free (prefixed);
    return rc;
}

int
xinf_tok_spm_encode (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_ids_t *out)
{
    char *normal = malloc (xinf_tok_spaced (text, length, NULL) + 1);
    assert (normal);
    size_t size = xinf_tok_spaced (text, length, normal);
    int rc = xinf_tok_user_encode (self, normal, size, s_encode_span, out);
    free (normal);
    return rc;
}
