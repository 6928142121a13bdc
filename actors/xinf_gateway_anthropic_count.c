/*  xinf_gateway_anthropic_count: POST /v1/messages/count_tokens, what a
    Messages request's prompt would cost: {"input_tokens": N}.

    The body is a Messages request (max_tokens not needed) made a chat as
    /v1/messages makes it; the chat is rendered with the model's template
    (LIST_MODELS) and tokenized by a ready replica's tokenizer (TOKENIZE,
    control tokens parsed, a BOS where the model's file adds one and the
    template wrote none): the same tokens a generation of it would read.
*/
#include "xinf_gateway_anthropic.h"
#include "xinf_gateway_chat.h"
#include "xinf_client_msg.h"

#define COUNT_MS  10000                //  deadline of each call

void
xinf_gw_anthropic_count_start (xinf_gw_request_t *request)
{
    xinf_gw_error_t error;
    json_t *root = xinf_gw_json_parse (request->body.data, request->body.size, &error);
    if (root && !json_object_get (root, "max_tokens"))
        json_object_set_new (root, "max_tokens", json_integer (1));     //  not needed to count
    int rc = root ? xinf_gw_anthropic_parse (request, root, &error) : -1;
    json_decref (root);
    xinf_gw_buf_free (&request->body);
    xinf_msg_t *list = rc ? NULL : xinf_msg_new ("LIST_MODELS");
    if (rc || xinf_gw_call (request, &list, COUNT_MS, &error))
        xinf_gw_respond_error (request, &error);
}

//  The model's template: the rendered prompt to tokenize.
static void
s_on_models (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_chat_model_t model;
    xinf_gw_error_t error;
    bool fallback;
    char *prompt = NULL;
    if (xinf_gw_chat_model_find (msg, request->oai.model, &model, &error) == 0)
        prompt = xinf_gw_chat_render (request->gateway->template_warned, &model, &request->oai, true, &fallback, &error);
    if (!prompt) {
        xinf_gw_respond_error (request, &error);
        return;
    }
    bool has_bos = *model.bos_token && strncmp (prompt, model.bos_token, strlen (model.bos_token)) == 0;
    xinf_msg_t *tokenize = xinf_msg_new ("TOKENIZE");
    xinf_value_t *body = xinf_msg_body (tokenize);
    xinf_map_put_str (body, "uid", request->oai.model);
    xinf_map_put (body, "content", xinf_value_new_strn (prompt, strlen (prompt)));
    xinf_map_put_bool (body, "add_special", !has_bos);
    xinf_map_put_bool (body, "parse_special", true);
    free (prompt);
    request->step = 1;
    if (xinf_gw_call (request, &tokenize, COUNT_MS, &error))
        xinf_gw_respond_error (request, &error);
}

static void
s_on_tokens (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_tokenize_reply_t reply;
    if (xinf_client_msg_tokenize_reply_decode (xinf_msg_body (msg), &reply, &check)) {
        xinf_gw_error_t error;
        xinf_gw_error_set (&error, 502, "server_error", "bad_reply", NULL, "TOKENIZE_REPLY: %s", check.reason);
        xinf_gw_respond_error (request, &error);
        return;
    }
    xinf_gw_respond_json (request, 200, json_pack ("{s:I}", "input_tokens", (json_int_t) xinf_value_count (reply.tokens)));
}

void
xinf_gw_anthropic_count_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_call_forget (request);
    if (xinf_msg_is (msg, "ERROR")) {
        xinf_gw_error_t error;
        xinf_gw_error_from_msg (&error, msg);
        xinf_gw_respond_error (request, &error);
    }
    else
    if (request->step == 0 && xinf_msg_is (msg, "LIST_MODELS_REPLY"))
        s_on_models (request, msg);
    else
    if (request->step == 1 && xinf_msg_is (msg, "TOKENIZE_REPLY"))
        s_on_tokens (request, msg);
    else
        xinf_warn ("gateway", "unexpected %s for count_tokens: ignored", xinf_msg_type (msg));
}
