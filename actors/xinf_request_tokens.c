/*  xinf_request_tokens: a request's stop and allowed tokens (see
    xinf_request_tokens.h).  */
#include "xinf_request_tokens.h"
#include "xinf_token_mask.h"

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
