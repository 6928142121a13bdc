/*  xinf_request_tokens: a request's stop and allowed tokens (see
    xinf_request_tokens.h).  */
#include "xinf_request_tokens.h"
#include "xinf_token_mask.h"

#include <ctype.h>
#include <string.h>

static int
s_compare_ids (const void *a, const void *b)
{
    int32_t left = *(const int32_t *) a, right = *(const int32_t *) b;
    return left < right ? -1 : left > right;
}

void
xinf_request_take_stops (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab,
                         xinf_check_t *check)
{
    self->min_tokens = generate->min_tokens;
    if (generate->min_tokens > generate->max_tokens)
        xinf_check_fail (check, "field 'min_tokens' (%llu) must be at most max_tokens (%llu)",
                         (unsigned long long) generate->min_tokens, (unsigned long long) generate->max_tokens);
    size_t count = generate->has_stop_token_ids ? xinf_value_count (generate->stop_token_ids) : 0;
    if (check->failed || count == 0)
        return;
    if (!(self->stop_ids = calloc (count, sizeof (int32_t)))) {
        xinf_check_fail (check, "out of memory for %zu stop tokens", count);
        return;
    }
    for (size_t index = 0; !check->failed && index < count; index++) {
        uint64_t id = xinf_value_uint (xinf_array_at (generate->stop_token_ids, index));
        if (id >= vocab)
            xinf_check_fail (check, "field 'stop_token_ids[%zu]': token %llu is not below the vocabulary of %zu",
                             index, (unsigned long long) id, vocab);
        self->stop_ids [index] = (int32_t) id;
    }
    qsort (self->stop_ids, count, sizeof (int32_t), s_compare_ids);
    self->n_stop_ids = count;
}

bool
xinf_request_is_stop (const xinf_request_t *self, int32_t token)
{
    return self->stop_ids && bsearch (&token, self->stop_ids, self->n_stop_ids, sizeof (int32_t), s_compare_ids);
}

void
xinf_request_take_allowed (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab,
                           xinf_check_t *check)
{
    if (!generate->has_allowed_token_ids)
        return;
    size_t count = xinf_value_count (generate->allowed_token_ids);
    if (self->grammar) {
        xinf_check_fail (check, "field 'allowed_token_ids' cannot be combined with a constrained answer "
                         "(response_format, json_schema, regex, grammar, choice)");
        return;
    }
    if (count == 0) {
        xinf_check_fail (check, "field 'allowed_token_ids' must name at least one token");
        return;
    }
    if (!(self->allowed = calloc (xinf_token_mask_words (vocab), sizeof (uint32_t)))) {
        xinf_check_fail (check, "out of memory for allowed_token_ids");
        return;
    }
    for (size_t index = 0; !check->failed && index < count; index++) {
        uint64_t id = xinf_value_uint (xinf_array_at (generate->allowed_token_ids, index));
        if (id >= vocab)
            xinf_check_fail (check, "field 'allowed_token_ids[%zu]': token %llu is not below the vocabulary of %zu",
                             index, (unsigned long long) id, vocab);
        else
            self->allowed [id / 32] |= (uint32_t) 1 << (id % 32);
    }
}

//  Appends a sequence to the request's unless it is there already.
static int
s_add_bad (xinf_request_t *self, const int32_t *ids, size_t count, size_t *capacity)
{
    for (size_t k = 0, start = 0; k < self->n_bad; start = self->bad_ends [k++])
        if (self->bad_ends [k] - start == count && memcmp (self->bad + start, ids, count * sizeof (int32_t)) == 0)
            return 0;
    size_t used = self->n_bad ? self->bad_ends [self->n_bad - 1] : 0;
    if (used + count > *capacity) {
        size_t grown = (used + count) * 2;
        int32_t *bad = realloc (self->bad, grown * sizeof (int32_t));
        if (!bad)
            return -1;
        self->bad = bad;
        *capacity = grown;
    }
    memcpy (self->bad + used, ids, count * sizeof (int32_t));
    self->bad_ends [self->n_bad++] = used + count;
    return 0;
}

void
xinf_request_take_bad_words (xinf_request_t *self, const xinf_client_msg_generate_t *generate,
                             xinf_tokenizer_t *tokenizer, xinf_check_t *check)
{
    size_t count = generate->has_bad_words ? xinf_value_count (generate->bad_words) : 0, capacity = 0;
    if (!count)
        return;
    if (!(self->bad_ends = calloc (2 * count, sizeof (size_t)))) {
        xinf_check_fail (check, "out of memory for bad_words");
        return;
    }
    for (size_t index = 0; !check->failed && index < count; index++) {
        const char *word = xinf_value_str (xinf_array_at (generate->bad_words, index));
        while (isspace ((unsigned char) *word))
            word++;
        char spaced [258];
        snprintf (spaced, sizeof spaced, " %s", word);
        int32_t plain_ids [258], spaced_ids [258];
        long plain = xinf_tokenizer_encode (tokenizer, word, strlen (word), false, plain_ids, 258);
        long other = xinf_tokenizer_encode (tokenizer, spaced, strlen (spaced), false, spaced_ids, 258);
        if (plain < 1 || plain > 258 || other < 1 || other > 258) {
            xinf_check_fail (check, "field 'bad_words[%zu]' %s", index, plain == 0 ? "is blank: it has no tokens"
                             : "cannot be tokenized");
            break;
        }
        //  vLLM's: the spaced form too where it begins with another token
        //  and has as many
        if (s_add_bad (self, plain_ids, (size_t) plain, &capacity)
        ||  (spaced_ids [0] != plain_ids [0] && other == plain
             && s_add_bad (self, spaced_ids, (size_t) other, &capacity)))
            xinf_check_fail (check, "out of memory for bad_words");
    }
}

void
xinf_request_ban (const xinf_request_t *self, int32_t (*history) (void *arg, size_t back), void *arg, uint32_t *bits)
{
    for (size_t k = 0, start = 0; k < self->n_bad; start = self->bad_ends [k++]) {
        size_t length = self->bad_ends [k] - start;
        bool match = true;
        for (size_t back = 0; match && back + 1 < length; back++)
            match = history (arg, back) == self->bad [start + length - 2 - back];
        if (match) {
            int32_t banned = self->bad [start + length - 1];
            bits [banned / 32] &= ~((uint32_t) 1 << (banned % 32));
        }
    }
}
