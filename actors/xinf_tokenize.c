/*  xinf_tokenize: a replica's answer to TOKENIZE (see the header).  */
#include "xinf_tokenize.h"
#include "xinf_request.h"
#include "xinf_node_msg.h"

static xinf_msg_t *
s_failed (uint64_t request, const char *code, const char *message)
{
    xinf_msg_t *msg = xinf_msg_new ("TOKENIZE_RESULT");
    xinf_map_put_uint (xinf_msg_body (msg), "request", request);
    xinf_map_put_str (xinf_msg_body (msg), "code", code);
    xinf_map_put_str (xinf_msg_body (msg), "message", message);
    return msg;
}

//  mode tokenize: content -> tokens (and pieces, the bytes of each);
//  add_special puts the BOS first where the model adds one
//  (tokenizer.ggml.add_bos_token), as llama.cpp's tokenize does.
static xinf_msg_t *
s_tokenize (xinf_tokenizer_t *tokenizer, const xinf_node_msg_tokenize_t *asked, xinf_value_t *body, xinf_check_t *check)
{
    uint64_t request = asked->request;
    size_t length = 0;
    const char *text = asked->content ? xinf_value_bytes (xinf_map_get (body, "content"), &length) : NULL;
    if (!text)
        return s_failed (request, "BAD_REQUEST", "field 'content' is missing");
    size_t count = 0;
    bool add_bos = asked->add_special && xinf_tokenizer_add_bos (tokenizer);
    int32_t *ids = xinf_request_encode (tokenizer, text, length, add_bos, asked->parse_special, &count, check);
    if (!ids)
        return s_failed (request, "BAD_REQUEST", check->reason);
    xinf_msg_t *msg = xinf_msg_new ("TOKENIZE_RESULT");
    xinf_value_t *tokens = xinf_value_new_array (), *pieces = asked->with_pieces ? xinf_value_new_array () : NULL;
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
s_detokenize (xinf_tokenizer_t *tokenizer, const xinf_node_msg_tokenize_t *asked, xinf_check_t *check)
{
    uint64_t request = asked->request;
    const xinf_value_t *tokens = asked->tokens;
    if (!tokens)
        return s_failed (request, "BAD_REQUEST", "field 'tokens' is missing");
    size_t count = xinf_value_count (tokens), vocab = xinf_tokenizer_vocab (tokenizer);
    int32_t *ids = calloc (count + 1, sizeof *ids);
    assert (ids);
    for (size_t index = 0; !check->failed && index < count; index++) {
        const xinf_value_t *id = xinf_array_at (tokens, index);
        if (xinf_value_uint (id) >= vocab)
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
    xinf_node_msg_tokenize_t asked;
    if (xinf_node_msg_tokenize_decode (body, &asked, &check))
        return s_failed (asked.request, "BAD_REQUEST", check.reason);
    if (!tokenizer)
        return s_failed (asked.request, "MODEL_NOT_READY", "the replica has no tokenizer yet");
    return streq (asked.mode, "tokenize") ? s_tokenize (tokenizer, &asked, body, &check)
                                          : s_detokenize (tokenizer, &asked, &check);
}
