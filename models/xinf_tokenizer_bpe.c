/*  xinf_tokenizer_bpe: the gpt2 (byte-level BPE) tokenizer.

    Every byte of a pre-token stands for one character of GPT-2's
    bytes_to_unicode table (printable Latin-1 bytes for themselves, the
    other 68 bytes for U+0100 and up, in byte order); the vocabulary holds
    those characters' UTF-8. Merges apply by rank with a heap of candidate
    pairs, leftmost first among equal ranks, as Hugging Face's BPE does.
    llama3 (not dbrx, which splits text alike) also takes a whole
    pre-token that is a vocabulary token as is (Hugging Face's
    ignore_merges).
*/
#include "xinf_tokenizer_private.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  bytes_to_unicode

static bool
s_printable (uint32_t byte)
{
    return (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
}

static uint32_t
s_byte_to_cpt (uint32_t byte)
{
    if (s_printable (byte))
        return byte;
    uint32_t cpt = 256;
    for (uint32_t other = 0; other < byte; other++)
        if (!s_printable (other))
            cpt++;
    return cpt;
}

//  The byte a character stands for, or -1.
static int
s_cpt_to_byte (uint32_t cpt)
{
    if (cpt < 256)
        return s_printable (cpt) ? (int) cpt : -1;
    uint32_t next = 256;
    for (uint32_t byte = 0; byte < 256; byte++)
        if (!s_printable (byte) && next++ == cpt)
            return (int) byte;
    return -1;
}

//  --------------------------------------------------------------------------
//  Merges: open addressing on (left id, right id)

static size_t
s_merge_slot (const xinf_tokenizer_t *self, uint64_t key)
{
    return (size_t) ((key * 0x9E3779B97F4A7C15ull) >> 20) & self->merge_mask;
}

static bool
s_merge_find (const xinf_tokenizer_t *self, int32_t left, int32_t right, int32_t *rank, int32_t *merged)
{
    if (!self->merge_keys || left < 0 || right < 0)
        return false;
    uint64_t key = ((uint64_t) (uint32_t) left << 32) | (uint32_t) right;
    size_t slot = s_merge_slot (self, key);
    while (self->merge_ids [slot] >= 0) {
        if (self->merge_keys [slot] == key) {
            *rank = self->merge_ranks [slot];
            *merged = self->merge_ids [slot];
            return true;
        }
        slot = (slot + 1) & self->merge_mask;
    }
    return false;
}

//  Splits "left right" (the space searched from the second byte, so that a
//  left part may start with a space) and finds the three tokens.
static int
s_merge_parse (xinf_tokenizer_t *self, size_t index, const char *text, size_t length,
               char *scratch, int32_t tokens [3], char *error, size_t error_size)
{
    const char *space = length > 1 ? memchr (text + 1, ' ', length - 1) : NULL;
    int shown = length > 80 ? 80 : (int) length;
    if (!space) {
        snprintf (error, error_size, "merge %zu '%.*s' is not 'left right'", index, shown, text);
        return -1;
    }
    size_t split = (size_t) (space - text);
    tokens [0] = xinf_tok_lookup (self, text, split);
    tokens [1] = xinf_tok_lookup (self, space + 1, length - split - 1);
    memcpy (scratch, text, split);
    memcpy (scratch + split, space + 1, length - split - 1);
    tokens [2] = xinf_tok_lookup (self, scratch, length - 1);
    if (tokens [0] < 0 || tokens [1] < 0) {
        snprintf (error, error_size, "merge %zu '%.*s' names a token not in the vocabulary", index, shown, text);
        return -1;
    }
    if (tokens [2] < 0) {
        snprintf (error, error_size, "merge %zu '%.*s' makes a token not in the vocabulary", index, shown, text);
        return -1;
    }
    return 0;
}

static int
s_merges_build (xinf_tokenizer_t *self, const xinf_tokenizer_spec_t *spec, char *error, size_t error_size)
{
    if (spec->n_merges == 0)
        return 0;
    if (!spec->merges || spec->n_merges > INT32_MAX) {
        snprintf (error, error_size, "%zu merges but no merge array", spec->n_merges);
        return -1;
    }
    size_t capacity = 16;
    while (capacity < 2 * spec->n_merges)
        capacity *= 2;
    self->merge_mask = capacity - 1;
    self->merge_keys = malloc (capacity * sizeof *self->merge_keys);
    self->merge_ranks = malloc (capacity * sizeof *self->merge_ranks);
    self->merge_ids = malloc (capacity * sizeof *self->merge_ids);
    assert (self->merge_keys && self->merge_ranks && self->merge_ids);
    memset (self->merge_ids, 0xFF, capacity * sizeof *self->merge_ids);
    char *scratch = NULL;
    size_t scratch_size = 0;
    int rc = 0;
    for (size_t index = 0; index < spec->n_merges && rc == 0; index++) {
        const char *text = spec->merges [index];
        if (!text) {
            snprintf (error, error_size, "merge %zu has no text", index);
            rc = -1;
            break;
        }
        size_t length = spec->merge_lengths ? spec->merge_lengths [index] : strlen (text);
        if (length > scratch_size) {
            scratch_size = length * 2;
            scratch = realloc (scratch, scratch_size);
            assert (scratch);
        }
        int32_t tokens [3], rank, merged;
        rc = s_merge_parse (self, index, text, length, scratch, tokens, error, error_size);
        if (rc == 0 && !s_merge_find (self, tokens [0], tokens [1], &rank, &merged)) {
            uint64_t key = ((uint64_t) (uint32_t) tokens [0] << 32) | (uint32_t) tokens [1];
            size_t slot = s_merge_slot (self, key);
            while (self->merge_ids [slot] >= 0)
                slot = (slot + 1) & self->merge_mask;
            self->merge_keys [slot] = key;
            self->merge_ranks [slot] = (int32_t) index;
            self->merge_ids [slot] = tokens [2];
        }
    }
    free (scratch);
    return rc;
}

int
xinf_tok_bpe_init (xinf_tokenizer_t *self, const xinf_tokenizer_spec_t *spec, char *error, size_t error_size)
{
    for (uint32_t byte = 0; byte < 256; byte++) {
        char utf8 [4];
        size_t size = xinf_tok_utf8_put (s_byte_to_cpt (byte), utf8);
        self->byte_ids [byte] = xinf_tok_lookup (self, utf8, size);
    }
    return s_merges_build (self, spec, error, error_size);
}

//  Normal tokens map characters back to bytes (a character outside the
//  table stays as it is); user-defined tokens are their text; control,
//  unknown and unused tokens are nothing (as llama.cpp).
size_t
xinf_tok_bpe_piece (xinf_tokenizer_t *self, int32_t id, char *out)
{
    size_t length;
    const uint8_t *text = (const uint8_t *) xinf_tok_text (self, id, &length);
    int type = self->types [id];
    if (type == XINF_TOKEN_USER_DEFINED) {
        memcpy (out, text, length);
        return length;
    }
    if (type != XINF_TOKEN_NORMAL && type != XINF_TOKEN_UNDEFINED && type != XINF_TOKEN_BYTE)
        return 0;
    size_t at = 0;
    for (size_t index = 0; index < length; ) {
        uint32_t cpt;
        size_t size = xinf_tok_utf8 (text + index, length - index, &cpt);
        int byte = cpt == XINF_TOK_BAD ? -1 : s_cpt_to_byte (cpt);
        if (byte >= 0)
            out [at++] = (char) byte;
        else {
            memcpy (out + at, text + index, size);
            at += size;
        }
        index += size;
    }
    return at;
}

//  --------------------------------------------------------------------------
//  Encoding

typedef struct {
    int32_t *ids, *prev, *next;     //  symbols: id (-2 merged away), links
    char *word;                     //  a pre-token as vocabulary text
    xinf_tok_heap_t heap;
} s_work_t;

static void
s_push_pair (xinf_tokenizer_t *self, s_work_t *work, int32_t left, int32_t right)
{
    int32_t rank, merged;
    if (s_merge_find (self, work->ids [left], work->ids [right], &rank, &merged))
        xinf_tok_heap_push (&work->heap, (xinf_tok_bigram_t) {
            -(double) rank, left, right, work->ids [left], work->ids [right] });
}

//  llama3: a pre-token that is a vocabulary token is taken whole.
static int32_t
s_whole_word (xinf_tokenizer_t *self, s_work_t *work, const uint8_t *bytes, size_t size)
{
    size_t at = 0;
    for (size_t index = 0; index < size; index++)
        at += xinf_tok_utf8_put (s_byte_to_cpt (bytes [index]), work->word + at);
    int32_t id = xinf_tok_lookup (self, work->word, at);
    return id >= 0 && self->matchable [id] ? id : -1;
}

static int
s_encode_word (xinf_tokenizer_t *self, s_work_t *work, const uint8_t *bytes, size_t size, xinf_tok_ids_t *out)
{
    int32_t whole = self->ignore_merges && size > 1 ? s_whole_word (self, work, bytes, size) : -1;
    if (whole >= 0) {
        xinf_tok_ids_push (out, whole);
        return 0;
    }
    int32_t count = (int32_t) size;
    for (int32_t index = 0; index < count; index++) {
        work->ids [index] = self->byte_ids [bytes [index]];
        work->prev [index] = index - 1;
        work->next [index] = index + 1 < count ? index + 1 : -1;
    }
    work->heap.count = 0;
    for (int32_t index = 0; index + 1 < count; index++)
        s_push_pair (self, work, index, index + 1);
    xinf_tok_bigram_t pair;
    while (xinf_tok_heap_pop (&work->heap, &pair)) {
        int32_t left = pair.left, right = pair.right, rank, merged;
        if (work->ids [left] != pair.a || work->ids [right] != pair.b || work->next [left] != right
        ||  !s_merge_find (self, pair.a, pair.b, &rank, &merged))
            continue;           //  a symbol changed since the pair was pushed
        work->ids [left] = merged;
        work->ids [right] = -2;
        work->next [left] = work->next [right];
        if (work->next [left] >= 0)
            work->prev [work->next [left]] = left;
        if (work->prev [left] >= 0)
            s_push_pair (self, work, work->prev [left], left);
        if (work->next [left] >= 0)
            s_push_pair (self, work, left, work->next [left]);
    }
    for (int32_t index = 0; index >= 0; index = work->next [index]) {
        int32_t id = work->ids [index] >= 0 ? work->ids [index] : (int32_t) self->unk_id;
        if (id < 0)
            return -1;          //  a byte without a token, and no unknown token
        xinf_tok_ids_push (out, id);
    }
    return 0;
}

//  Text between user-defined pieces: NFC (qwen2), pre-tokens, merges.
static int
s_encode_span (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_ids_t *out)
{
    if (!length)
        return 0;
    size_t normal_length = 0;
    char *normal = self->nfc ? xinf_tok_nfc (text, length, &normal_length) : NULL;
    if (normal) {
        text = normal;
        length = normal_length;
    }
    size_t *ends;
    size_t count = xinf_tok_split (self->pre, text, length, &ends);
    size_t longest = 0;
    for (size_t index = 0, start = 0; index < count; start = ends [index++])
        longest = ends [index] - start > longest ? ends [index] - start : longest;
    s_work_t work = { 0 };
    work.ids = malloc (longest * sizeof *work.ids);
    work.prev = malloc (longest * sizeof *work.prev);
    work.next = malloc (longest * sizeof *work.next);
    work.word = malloc (longest * 2);
    assert (work.ids && work.prev && work.next && work.word);
    int rc = 0;
    for (size_t index = 0, start = 0; index < count && rc == 0; start = ends [index++])
        rc = s_encode_word (self, &work, (const uint8_t *) text + start, ends [index] - start, out);
    free (work.ids);
    free (work.prev);
    free (work.next);
    free (work.word);
    free (work.heap.items);
    free (ends);
    free (normal);
    return rc;
}

int
xinf_tok_bpe_encode (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_ids_t *out)
{
    return xinf_tok_user_encode (self, text, length, s_encode_span, out);
}
