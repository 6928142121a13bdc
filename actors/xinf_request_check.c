/*  xinf_request_check: the supervisor's entry checks of a GENERATE body.  */
#include "xinf_request_check.h"

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

//  prompt or prompt_tokens, exactly one, within the limits.
static void
s_check_prompt (const xinf_value_t *body, uint64_t vocab, xinf_check_t *check, const char **code)
{
    bool text = xinf_map_get (body, "prompt") != NULL;
    bool tokens = xinf_map_get (body, "prompt_tokens") != NULL;
    if (text == tokens) {
        xinf_check_fail (check, "give exactly one of 'prompt' and 'prompt_tokens'");
        return;
    }
    if (text) {
        const xinf_value_t *prompt = xinf_map_get (body, "prompt");
        if (xinf_value_type (prompt) == XINF_STR && strlen (xinf_value_str (prompt)) > XINF_GENERATE_BODY_MAX) {
            *code = "TOO_LARGE";
            xinf_check_fail (check, "field 'prompt' has %zu bytes; at most %d are accepted",
                             strlen (xinf_value_str (prompt)), XINF_GENERATE_BODY_MAX);
        }
        else
            xinf_check_text (check, body, "prompt", 0, XINF_GENERATE_BODY_MAX);
        return;
    }
    const xinf_value_t *ids = xinf_map_get (body, "prompt_tokens");
    if (xinf_value_type (ids) == XINF_ARRAY && xinf_value_count (ids) > XINF_PROMPT_TOKENS_MAX) {
        *code = "TOO_LARGE";
        xinf_check_fail (check, "field 'prompt_tokens' has %zu entries; at most %d are accepted",
                         xinf_value_count (ids), XINF_PROMPT_TOKENS_MAX);
        return;
    }
    ids = xinf_check_array (check, body, "prompt_tokens", XINF_PROMPT_TOKENS_MAX);
    uint64_t limit = vocab ? vocab : (uint64_t) UINT32_MAX + 1;
    for (size_t index = 0; ids && !check->failed && index < xinf_value_count (ids); index++) {
        const xinf_value_t *id = xinf_array_at (ids, index);
        if (xinf_value_type (id) != XINF_UINT || xinf_value_uint (id) >= limit)
            xinf_check_fail (check, "field 'prompt_tokens[%zu]' must be a token id below %llu", index,
                             (unsigned long long) limit);
    }
}

int
xinf_request_check (const xinf_value_t *body, uint64_t vocab, xinf_check_t *check, const char **code)
{
    *code = "BAD_REQUEST";
    xinf_check_str (check, body, "uid", 1, 64);
    s_check_prompt (body, vocab, check, code);
    xinf_check_uint (check, body, "max_tokens", 1, UINT32_MAX);
    xinf_check_float_opt (check, body, "temperature", 0, 100, 0);
    xinf_check_uint_opt (check, body, "top_k", 0, UINT32_MAX, 0);
    double top_p = xinf_check_float_opt (check, body, "top_p", 0, 1, 1);
    if (!check->failed && !(top_p > 0))
        xinf_check_fail (check, "field 'top_p' must be in (0, 1], got %g", top_p);
    xinf_check_uint_opt (check, body, "seed", 0, UINT64_MAX, 0);
    xinf_check_bool_opt (check, body, "stream", false);
    xinf_check_bool_opt (check, body, "add_bos", false);
    xinf_check_bool_opt (check, body, "special", false);
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
