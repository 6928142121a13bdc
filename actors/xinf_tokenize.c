/*  xinf_tokenize: a replica's answer to TOKENIZE (see the header).  */
#include "xinf_tokenize.h"
#include "xinf_request.h"

static xinf_msg_t *
s_failed (uint64_t request, const char *code, const char *message)
{
    xinf_msg_t *msg = xinf_msg_new ("TOKENIZE_RESULT");
    xinf_map_put_uint (xinf_msg_body (msg), "request", request);
    xinf_map_put_str (xinf_msg_body (msg), "code", code);
    xinf_map_put_str (xinf_msg_body (msg), "message", message);
    return msg;
}

//  mode tokenize: content -> tokens (and pieces, the bytes of each).
static xinf_msg_t *
s_tokenize (xinf_tokenizer_t *tokenizer, xinf_value_t *body, uint64_t request, xinf_check_t *check)
{
    const xinf_value_t *content = xinf_map_get (body, "content");
    size_t length = 0;
    const char *text = xinf_value_type (content) == XINF_STR ? xinf_value_bytes (content, &length) : NULL;
    if (!check->failed && !text)
        xinf_check_fail (check, "field 'content' must be a str");
    if (!check->failed && length > XINF_TOKENIZE_TEXT_MAX)
        xinf_check_fail (check, "field 'content' has %zu bytes; at most %d", length, XINF_TOKENIZE_TEXT_MAX);
    bool add_special = xinf_check_bool_opt (check, body, "add_special", false);
    bool parse_special = xinf_check_bool_opt (check, body, "parse_special", true);
    bool with_pieces = xinf_check_bool_opt (check, body, "with_pieces", false);
    if (check->failed)
        return s_failed (request, "BAD_REQUEST", check->reason);
    size_t count = 0;
    int32_t *ids = xinf_request_encode (tokenizer, text, length, add_special, parse_special, &count, check);
    if (!ids)
        return s_failed (request, "BAD_REQUEST", check->reason);
    xinf_msg_t *msg = xinf_msg_new ("TOKENIZE_RESULT");
    xinf_value_t *tokens = xinf_value_new_array (), *pieces = with_pieces ? xinf_value_new_array () : NULL;
    for (size_t index = 0; index < count; index++) {
        xinf_array_push (tokens, xinf_value_new_uint ((uint64_t) ids [index]));
        if (pieces) {
            char piece [256];
            long size = xinf_tokenizer_piece (tokenizer, ids [index], piece, sizeof piece);
            xinf_array_push (pieces, xinf_value_new_strn (piece, size > 0 && size < (long) sizeof piece ? (size_t) size : 0));
        }
    }
    free (ids);
    xinf_map_put_uint (xinf_msg_body (msg), "request", request);
    xinf_map_put (xinf_msg_body (msg), "tokens", tokens);
    if (pieces)
        xinf_map_put (xinf_msg_body (msg), "pieces", pieces);
    return msg;
}

//  mode detokenize: tokens -> content.
static xinf_msg_t *
s_detokenize (xinf_tokenizer_t *tokenizer, xinf_value_t *body, uint64_t request, xinf_check_t *check)
{
    const xinf_value_t *tokens = xinf_check_array (check, body, "tokens", XINF_TOKENIZE_TOKENS_MAX);
    if (check->failed)
        return s_failed (request, "BAD_REQUEST", check->reason);
    size_t count = xinf_value_count (tokens), vocab = xinf_tokenizer_vocab (tokenizer);
    int32_t *ids = calloc (count + 1, sizeof *ids);
    assert (ids);
    for (size_t index = 0; !check->failed && index < count; index++) {
        const xinf_value_t *id = xinf_array_at (tokens, index);
        if (xinf_value_type (id) != XINF_UINT || xinf_value_uint (id) >= vocab)
            xinf_check_fail (check, "field 'tokens[%zu]' must be a token id below %zu", index, vocab);
        else
            ids [index] = (int32_t) xinf_value_uint (id);
    }
    long size = check->failed ? -1 : xinf_tokenizer_decode (tokenizer, ids, count, NULL, 0);
    char *text = size >= 0 ? calloc ((size_t) size + 1, 1) : NULL;
    if (text)
        xinf_tokenizer_decode (tokenizer, ids, count, text, (size_t) size + 1);
    free (ids);
    if (!text) {
        free (text);
        return s_failed (request, "BAD_REQUEST", check->failed ? check->reason : "the tokens could not be decoded");
    }
    xinf_msg_t *msg = xinf_msg_new ("TOKENIZE_RESULT");
    xinf_map_put_uint (xinf_msg_body (msg), "request", request);
    xinf_map_put (xinf_msg_body (msg), "content", xinf_value_new_strn (text, (size_t) size));
    free (text);
    return msg;
}

xinf_msg_t *
xinf_tokenize_answer (xinf_tokenizer_t *tokenizer, xinf_value_t *body)
{
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t request = xinf_check_uint (&check, body, "request", 0, UINT64_MAX);
    const char *mode = xinf_check_str (&check, body, "mode", 1, 16);
    if (!check.failed && !streq (mode, "tokenize") && !streq (mode, "detokenize"))
        xinf_check_fail (&check, "field 'mode' must be tokenize or detokenize");
    if (check.failed)
        return s_failed (request, "BAD_REQUEST", check.reason);
    if (!tokenizer)
        return s_failed (request, "MODEL_NOT_READY", "the replica has no tokenizer yet");
    return streq (mode, "tokenize") ? s_tokenize (tokenizer, body, request, &check)
                                    : s_detokenize (tokenizer, body, request, &check);
}
