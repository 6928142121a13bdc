/*  xinf_gateway_routes: the endpoints that are not generations.

    GET /health (llama-server's: 200 while the supervisor answers), GET
    /v1/models and /v1/models/{id} (LIST_MODELS), POST /apply-template (the
    chat prompt a model's template makes), POST /tokenize and /detokenize
    (TOKENIZE and DETOKENIZE, answered by a ready replica of the model).
*/
#include "xinf_gateway_chat.h"

#define XINF_GW_ROUTE_MS  10000     //  deadline of these calls

static void
s_call (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    if (xinf_gw_call (request, &msg, XINF_GW_ROUTE_MS)) {
        xinf_gw_error_t error;
        xinf_gw_error_set (&error, 503, "server_error", "supervisor_unreachable", NULL,
                           "cannot send to the supervisor at %s: its queue is full", request->gateway->supervisor);
        xinf_gw_respond_error (request, &error);
    }
}

//  The body of a POST route as an object with a valid model; NULL after answering 400/404.
static json_t *
s_body (xinf_gw_request_t *request, bool model_required)
{
    xinf_gw_error_t error;
    json_t *root = xinf_gw_json_parse (request->body.data, request->body.size, &error);
    if (root) {
        json_t *model = json_object_get (root, "model");
        if (model && !json_is_string (model))
            xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "model", "'model' must be a string");
        else
        if (model && !xinf_gw_uid_valid (json_string_value (model)))
            xinf_gw_error_set (&error, 404, "invalid_request_error", "model_not_found", "model",
                               "The model '%.80s' does not exist", json_string_value (model));
        else
        if (!model && model_required)
            xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "model",
                               "'model' is required: the uid of a launched model");
        else {
            if (model)
                snprintf (request->path_model, sizeof request->path_model, "%s", json_string_value (model));
            return root;
        }
        json_decref (root);
    }
    xinf_gw_respond_error (request, &error);
    return NULL;
}

static void
s_start_apply_template (xinf_gw_request_t *request)
{
    json_t *root = s_body (request, false);
    if (!root)
        return;
    //  The chat fields are checked as for /v1/chat/completions
    xinf_gw_error_t error;
    if (!json_object_get (root, "model"))
        json_object_set_new (root, "model", json_string ("any"));
    if (xinf_gw_oai_parse (root, true, &request->oai, &error)) {
        json_decref (root);
        xinf_gw_respond_error (request, &error);
        return;
    }
    json_decref (root);
    s_call (request, xinf_msg_new ("LIST_MODELS"));
}

void
xinf_gw_route_start (xinf_gw_request_t *request)
{
    switch (request->route) {
        case XINF_GW_ROUTE_HEALTH:
        case XINF_GW_ROUTE_MODELS:
        case XINF_GW_ROUTE_MODEL:
            s_call (request, xinf_msg_new ("LIST_MODELS"));
            break;
        case XINF_GW_ROUTE_APPLY_TEMPLATE:
            s_start_apply_template (request);
            break;
        default: {
            xinf_gw_error_t error;
            xinf_gw_error_set (&error, 501, "server_error", "not_implemented", NULL, "not implemented yet");
            xinf_gw_respond_error (request, &error);
        }
    }
}

static void
s_on_health (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    json_t *object = json_object ();
    if (!xinf_msg_is (msg, "LIST_MODELS_REPLY")) {
        json_object_set_new (object, "status", json_string ("error"));
        json_object_set_new (object, "error", json_string ("the supervisor did not answer LIST_MODELS"));
        xinf_gw_respond_json (request, 503, object);
        return;
    }
    xinf_gw_chat_model_t model;
    size_t count = 0, ready = 0;
    for (; xinf_gw_chat_model_at (msg, count, &model); count++)
        ready += streq (model.state, "ready");
    json_object_set_new (object, "status", json_string ("ok"));
    json_object_set_new (object, "models", json_integer ((json_int_t) count));
    json_object_set_new (object, "models_ready", json_integer ((json_int_t) ready));
    xinf_gw_respond_json (request, 200, object);
}

static void
s_on_models (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_chat_model_t model;
    xinf_gw_error_t error;
    if (request->route == XINF_GW_ROUTE_MODEL) {
        if (xinf_gw_chat_model_find (msg, request->path_model, &model, &error))
            xinf_gw_respond_error (request, &error);
        else
            xinf_gw_respond_json (request, 200, xinf_gw_chat_model_json (&model));
        return;
    }
    if (xinf_gw_chat_model_find (msg, "", &model, &error) && error.status != 404) {
        xinf_gw_respond_error (request, &error);
        return;
    }
    json_t *list = json_array ();
    for (size_t index = 0; xinf_gw_chat_model_at (msg, index, &model); index++)
        json_array_append_new (list, xinf_gw_chat_model_json (&model));
    json_t *object = json_object ();
    json_object_set_new (object, "object", json_string ("list"));
    json_object_set_new (object, "data", list);
    xinf_gw_respond_json (request, 200, object);
}

//  The one model of a cluster that has exactly one, for bodies without 'model'.
static bool
s_only_model (xinf_msg_t *msg, xinf_gw_chat_model_t *model)
{
    xinf_gw_chat_model_t other;
    return xinf_gw_chat_model_at (msg, 0, model) && !xinf_gw_chat_model_at (msg, 1, &other);
}

static void
s_on_apply_template (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_chat_model_t model;
    xinf_gw_error_t error;
    int rc = 0;
    if (*request->path_model)
        rc = xinf_gw_chat_model_find (msg, request->path_model, &model, &error);
    else
    if (!s_only_model (msg, &model)) {
        xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "model",
                           "'model' is required when the cluster does not run exactly one model");
        rc = -1;
    }
    char *prompt = rc ? NULL : xinf_gw_chat_render (request->gateway->template_warned, &model, request->oai.messages, request->oai.tools,
                                                    request->oai.add_generation_prompt, &error);
    if (!prompt) {
        xinf_gw_respond_error (request, &error);
        return;
    }
    json_t *object = json_object ();
    json_object_set_new (object, "prompt", xinf_gw_json_text (prompt, strlen (prompt)));
    free (prompt);
    xinf_gw_respond_json (request, 200, object);
}

void
xinf_gw_route_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_call_forget (request);
    if (request->route == XINF_GW_ROUTE_HEALTH)
        s_on_health (request, msg);
    else
    if (request->route == XINF_GW_ROUTE_MODELS || request->route == XINF_GW_ROUTE_MODEL)
        s_on_models (request, msg);
    else
    if (request->route == XINF_GW_ROUTE_APPLY_TEMPLATE)
        s_on_apply_template (request, msg);
}
