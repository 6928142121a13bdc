/*  xinf_request_check: the supervisor's entry checks of a GENERATE body.  */
#include "xinf_request_check.h"

#include <float.h>

size_t
xinf_request_packed_size (const xinf_value_t *value)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    xinf_value_pack (value, &packer);
    size_t size = buffer.size;
    msgpack_sbuffer_destroy (&buffer);
    return size;
}

//  TOO_LARGE before the field checks: a prompt or token list over the
//  entry's limits is named with its size, not just refused.
static void
s_check_size (const xinf_value_t *body, xinf_check_t *check, const char **code)
{
    const xinf_value_t *prompt = xinf_map_get (body, "prompt");
    const xinf_value_t *ids = xinf_map_get (body, "prompt_tokens");
    const xinf_value_t *allowed = xinf_map_get (body, "allowed_token_ids");
    size_t length = 0;
    if (xinf_value_type (prompt) == XINF_STR && xinf_value_bytes (prompt, &length) && length > XINF_GENERATE_BODY_MAX) {
        *code = "TOO_LARGE";
        xinf_check_fail (check, "field 'prompt' has %zu bytes; at most %d are accepted", length, XINF_GENERATE_BODY_MAX);
    }
    else
    if (xinf_value_type (ids) == XINF_ARRAY && xinf_value_count (ids) > XINF_PROMPT_TOKENS_MAX) {
        *code = "TOO_LARGE";
        xinf_check_fail (check, "field 'prompt_tokens' has %zu entries; at most %d are accepted",
                         xinf_value_count (ids), XINF_PROMPT_TOKENS_MAX);
    }
    else
    if (xinf_value_count (ids) + xinf_value_count (allowed) > XINF_PROMPT_TOKENS_MAX) {
        *code = "TOO_LARGE";           //  both are relayed in the RUN, under one envelope's values
        xinf_check_fail (check, "fields 'prompt_tokens' and 'allowed_token_ids' have %zu entries together; at most "
                         "%d are accepted", xinf_value_count (ids) + xinf_value_count (allowed), XINF_PROMPT_TOKENS_MAX);
    }
}

//  What the schema cannot say: one of prompt and prompt_tokens, top_p
//  above 0, token ids below the vocabulary.
static void
s_check_rules (const xinf_client_msg_generate_t *generate, uint64_t vocab, xinf_check_t *check)
{
    if (check->failed)
        return;
    if (generate->has_prompt == generate->has_prompt_tokens)
        xinf_check_fail (check, "give exactly one of 'prompt' and 'prompt_tokens'");
    else
    if (!((float) generate->top_p > 0))    //  sampled as a float: 1e-50 is 0 there
        xinf_check_fail (check, "field 'top_p' must be in (0, 1] (at least %g), got %g", (double) FLT_MIN,
                         generate->top_p);
    const xinf_value_t *ids = generate->prompt_tokens;
    for (size_t index = 0; vocab && ids && !check->failed && index < xinf_value_count (ids); index++)
        if (xinf_value_uint (xinf_array_at (ids, index)) >= vocab)
            xinf_check_fail (check, "field 'prompt_tokens[%zu]' must be a token id below %llu", index,
                             (unsigned long long) vocab);
}

int
xinf_request_check (const xinf_value_t *body, uint64_t vocab, xinf_check_t *check, const char **code)
{
    *code = "BAD_REQUEST";
    s_check_size (body, check, code);
    xinf_client_msg_generate_t generate;
    xinf_client_msg_generate_decode (body, &generate, check);
    s_check_rules (&generate, vocab, check);
    if (!check->failed) {
        size_t size = xinf_request_packed_size (body);
        if (size > XINF_GENERATE_BODY_MAX) {
            *code = "TOO_LARGE";
            xinf_check_fail (check, "the request body packs to %zu bytes; at most %d are accepted", size,
                             XINF_GENERATE_BODY_MAX);
        }
    }
    return check->failed ? -1 : 0;
}
