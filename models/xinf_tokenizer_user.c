/*  xinf_tokenizer_user: a vocabulary's user-defined pieces, which text is
    split at before a model merges it, as SentencePiece, Hugging Face's
    tokenizers and llama.cpp do: Gemma's runs of spaces, newlines and tabs
    and its HTML tags, Qwen's <think>, </think>, <tool_call> and the like.
    At each place of the text the longest piece that starts there wins,
    from the left. A llama (SentencePiece) vocabulary matches them in the
    text after its spaces became "▁" (so a piece's spaces are "▁" too), a
    gpt2 one in the text as it is.
*/
#include "xinf_tokenizer_private.h"

#include <stdlib.h>
#include <string.h>

static const char s_space [] = "\xe2\x96\x81";     //  "▁"

size_t
xinf_tok_spaced (const char *text, size_t length, char *out)
{
    size_t at = 0;
    for (size_t index = 0; index < length; index++)
        if (text [index] == ' ') {
            if (out)
                memcpy (out + at, s_space, 3);
            at += 3;
        }
        else {
            if (out)
                out [at] = text [index];
            at++;
        }
    return at;
}

//  A user-defined piece while sorting: the first byte of its spaced text,
//  that text's length, its id.
typedef struct {
    uint8_t first;
    size_t length;
    int32_t id;
} s_user_t;

//  By first byte, then longest first, then by id.
static int
s_user_order (const void *a, const void *b)
{
    const s_user_t *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->length != y->length)
        return x->length > y->length ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int
xinf_tok_user_init (xinf_tokenizer_t *self, bool spaced)
{
    size_t count = 0, bytes = 0, length;
    for (int32_t id = 0; id < self->n_tokens; id++)
        if (self->types [id] == XINF_TOKEN_USER_DEFINED && (xinf_tok_text (self, id, &length), length))
            count++;
    s_user_t *users = malloc ((count ? count : 1) * sizeof *users);
    self->user_ids = malloc ((count ? count : 1) * sizeof (int32_t));
    self->user_at = malloc ((count + 1) * sizeof (size_t));
    if (!users || !self->user_ids || !self->user_at) {
        free (users);
        return -1;
    }
    for (int32_t id = 0; id < self->n_tokens; id++) {
        const char *text = xinf_tok_text (self, id, &length);
        if (self->types [id] == XINF_TOKEN_USER_DEFINED && length) {
            users [self->n_user++] = (s_user_t) { spaced && text [0] == ' ' ? (uint8_t) s_space [0]
                                                                            : (uint8_t) text [0],
                                                  spaced ? xinf_tok_spaced (text, length, NULL) : length, id };
            bytes += users [self->n_user - 1].length;
        }
    }
    qsort (users, self->n_user, sizeof *users, s_user_order);
    self->user_texts = malloc (bytes ? bytes : 1);
    if (!self->user_texts) {
        free (users);
        return -1;
    }
    size_t at = 0, index = 0;
    for (int byte = 0; byte <= 256; byte++)
        for (self->user_first [byte] = index; byte < 256 && index < self->n_user && users [index].first == byte;
             index++) {
            const char *text = xinf_tok_text (self, users [index].id, &length);
            self->user_ids [index] = users [index].id;
            self->user_at [index] = at;
            if (spaced)
                at += xinf_tok_spaced (text, length, self->user_texts + at);
            else {
                memcpy (self->user_texts + at, text, length);
                at += length;
            }
        }
    self->user_at [self->n_user] = at;
    free (users);
    return 0;
}

void
xinf_tok_user_free (xinf_tokenizer_t *self)
{
    free (self->user_ids);
    free (self->user_texts);
    free (self->user_at);
}

size_t
xinf_tok_user_match (const xinf_tokenizer_t *self, const char *text, size_t size, int32_t *id)
{
    uint8_t first = (uint8_t) text [0];
    for (size_t index = self->user_first [first]; index < self->user_first [first + 1]; index++) {
        size_t length = self->user_at [index + 1] - self->user_at [index];
        if (length <= size && memcmp (text, self->user_texts + self->user_at [index], length) == 0) {
            *id = self->user_ids [index];
            return length;
        }
    }
    return 0;
}

int
xinf_tok_user_encode (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_span_fn *span,
                      xinf_tok_ids_t *out)
{
    size_t gap = 0;
    int rc = 0;
    for (size_t at = 0; at < length && rc == 0 && self->n_user; ) {
        int32_t id;
        size_t matched = xinf_tok_user_match (self, text + at, length - at, &id);
        if (!matched) {
            at++;                     //  no piece starts inside a character: they are valid UTF-8
            continue;
        }
        rc = span (self, text + gap, at - gap, out);
        xinf_tok_ids_push (out, id);
        at += matched;
        gap = at;
    }
    return rc ? rc : span (self, text + gap, length - gap, out);
}
