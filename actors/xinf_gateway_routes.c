/*  xinf_gateway_routes: the endpoints that are not generations.

    GET /health (llama-server's: 200 while the supervisor answers), GET
    /v1/models and /v1/models/{id} (LIST_MODELS), POST /apply-template (the
    chat prompt a model's template makes), POST /tokenize and /detokenize
    (TOKENIZE and DETOKENIZE, answered by a ready replica of the model),
    GET /metrics, and the web console's files (xinf_gateway_console.c).
*/
#include "xinf_gateway_chat.h"
#include "xinf_gateway_llama.h"
#include "xinf_gateway_toolcalls.h"
#include "xinf_request_check.h"

#define XINF_GW_ROUTE_MS  10000     //  deadline of these calls

static void
s_call (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_error_t error;
    if (xinf_gw_call (request, &msg, XINF_GW_ROUTE_MS, &error))
        xinf_gw_respond_error (request, &error);
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

//  /tokenize and /detokenize: the body checked, kept for the call (made
//  once the model is known: given, or the cluster's only one).
static void
s_start_tokenize (xinf_gw_request_t *request)
{
    json_t *root = s_body (request, false);
    if (!root)
        return;
    xinf_gw_error_t error;
    memset (&error, 0, sizeof error);
    bool tokenize = request->route == XINF_GW_ROUTE_TOKENIZE;
    json_t *content = json_object_get (root, "content"), *tokens = json_object_get (root, "tokens");
    if (tokenize && !json_is_string (content))
        xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "content", "'content' must be a string");
    if (!tokenize && !json_is_array (tokens))
        xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "tokens",
                           "'tokens' must be an array of token ids");
    if (!tokenize && !error.status && json_array_size (tokens) > XINF_PROMPT_TOKENS_MAX)
        xinf_gw_error_set (&error, 413, "invalid_request_error", "request_too_large", "tokens",
                           "'tokens' has %zu ids; at most %d are accepted", json_array_size (tokens),
                           XINF_PROMPT_TOKENS_MAX);
    for (size_t index = 0; !tokenize && !error.status && index < json_array_size (tokens); index++) {
        json_t *id = json_array_get (tokens, index);
        if (!json_is_integer (id) || json_integer_value (id) < 0 || json_integer_value (id) > UINT32_MAX)
            xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "tokens",
                               "'tokens' item %zu must be a token id (an integer from 0)", index);
    }
    const char *flags [] = { "add_special", "parse_special", "with_pieces" };
    for (size_t index = 0; tokenize && !error.status && index < 3; index++) {
        json_t *flag = json_object_get (root, flags [index]);
        if (flag && !json_is_boolean (flag))
            xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", flags [index],
                               "'%s' must be true or false", flags [index]);
    }
    if (error.status) {
        json_decref (root);
        xinf_gw_respond_error (request, &error);
        return;
    }
    request->oai.messages = root;           //  kept until the call is made
    s_call (request, xinf_msg_new ("LIST_MODELS"));
}

//  The TOKENIZE/DETOKENIZE call once the model is known.
static void
s_call_tokenize (xinf_gw_request_t *request, const char *uid)
{
    json_t *root = request->oai.messages;
    bool tokenize = request->route == XINF_GW_ROUTE_TOKENIZE;
    xinf_msg_t *msg = xinf_msg_new (tokenize ? "TOKENIZE" : "DETOKENIZE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "uid", uid);
    if (tokenize) {
        json_t *content = json_object_get (root, "content");
        xinf_map_put (body, "content", xinf_value_new_strn (json_string_value (content), json_string_length (content)));
        const char *flags [] = { "add_special", "parse_special", "with_pieces" };
        for (size_t index = 0; index < 3; index++)
            if (json_is_boolean (json_object_get (root, flags [index])))
                xinf_map_put_bool (body, flags [index], json_is_true (json_object_get (root, flags [index])));
    }
    else {
        json_t *tokens = json_object_get (root, "tokens");
        xinf_value_t *ids = xinf_value_new_array ();
        for (size_t index = 0; index < json_array_size (tokens); index++)
            xinf_array_push (ids, xinf_value_new_uint ((uint64_t) json_integer_value (json_array_get (tokens, index))));
        xinf_map_put (body, "tokens", ids);
    }
    request->step = 1;                      //  the second call: its answer is the result
    s_call (request, msg);
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
        case XINF_GW_ROUTE_PROPS:
        case XINF_GW_ROUTE_LORA_ADAPTERS:
            s_call (request, xinf_msg_new ("LIST_MODELS"));
            break;
        case XINF_GW_ROUTE_LORA_SCALES: {
            xinf_gw_error_t error;
            xinf_gw_error_bad (&error, "lora", "global adapter scales are not supported: a request asks for an "
                               "adapter (/completion's lora [{\"id\": N, \"scale\": 1}], or the adapter's name as its "
                               "model)");
            xinf_gw_respond_error (request, &error);
            break;
        }
        case XINF_GW_ROUTE_APPLY_TEMPLATE:
            s_start_apply_template (request);
            break;
        case XINF_GW_ROUTE_TOKENIZE:
        case XINF_GW_ROUTE_DETOKENIZE:
            s_start_tokenize (request);
            break;
        case XINF_GW_ROUTE_METRICS:
            s_call (request, xinf_msg_new ("CLUSTER_INFO"));
            break;
        case XINF_GW_ROUTE_CONSOLE:
            xinf_gw_console_respond (request, request->console_path);
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
    for (size_t index = 0; xinf_gw_chat_model_at (msg, index, &model); index++) {
        if (streq (model.state, "stopping"))      //  terminated: gone for the OpenAI API
            continue;
        json_array_append_new (list, xinf_gw_chat_model_json (&model));
        //  Each LoRA adapter is a model of its own name (vLLM's listing)
        const xinf_value_t *adapters = xinf_map_get (model.entry, "lora_modules");
        for (size_t k = 0; k < xinf_value_count (adapters); k++)
            if (xinf_value_type (xinf_array_at (adapters, k)) == XINF_STR) {
                model.lora = xinf_value_str (xinf_array_at (adapters, k));
                json_array_append_new (list, xinf_gw_chat_model_json (&model));
            }
    }
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

//  llama-server's model of a GET: ?model=UID, else the one model that
//  generates; false after answering the error.
static bool
s_asked_model (xinf_gw_request_t *request, xinf_msg_t *msg, xinf_gw_chat_model_t *model)
{
    xinf_gw_error_t error;
    const char *asked = MHD_lookup_connection_value (request->connection, MHD_GET_ARGUMENT_KIND, "model");
    if (asked ? xinf_gw_chat_model_find (msg, asked, model, &error) : xinf_gw_chat_model_only (msg, model, &error)) {
        xinf_gw_respond_error (request, &error);
        return false;
    }
    return true;
}

//  llama-server's GET /lora-adapters (?model=UID, else the one model that
//  generates): its adapters by id, each at scale 0 (applied only when a
//  request asks for it: lora [{"id", "scale": 1}], or its name as model).
static void
s_on_lora_adapters (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_chat_model_t model;
    if (!s_asked_model (request, msg, &model))
        return;
    const xinf_value_t *adapters = xinf_map_get (model.entry, "lora_modules");
    json_t *list = json_array ();
    for (size_t index = 0; index < xinf_value_count (adapters); index++) {
        const char *name = xinf_value_str (xinf_array_at (adapters, index));
        if (name)
            json_array_append_new (list, json_pack ("{s:I, s:s, s:s, s:f}", "id", (json_int_t) index, "name", name,
                                                    "model", model.uid, "scale", 0.0));
    }
    xinf_gw_respond_json (request, 200, list);
}

//  llama-server's GET /props (?model=UID, else the one model that
//  generates): its context, default sampling, slots, file, template and
//  tokens.
static void
s_on_props (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_chat_model_t model;
    if (!s_asked_model (request, msg, &model))
        return;
    json_t *params = json_object ();
    json_object_set_new (params, "n_predict", json_integer (-1));
    json_object_set_new (params, "temperature", json_real (XINF_GW_LLAMA_TEMPERATURE));
    json_object_set_new (params, "top_k", json_integer (XINF_GW_LLAMA_TOP_K));
    json_object_set_new (params, "top_p", json_real (XINF_GW_LLAMA_TOP_P));
    json_object_set_new (params, "min_p", json_real (XINF_GW_LLAMA_MIN_P));
    json_object_set_new (params, "repeat_penalty", json_real (1));
    json_object_set_new (params, "repeat_last_n", json_integer (XINF_GW_REPEAT_LAST_N));
    json_object_set_new (params, "presence_penalty", json_real (0));
    json_object_set_new (params, "frequency_penalty", json_real (0));
    json_object_set_new (params, "seed", json_integer (-1));
    json_object_set_new (params, "n_probs", json_integer (0));
    json_object_set_new (params, "stream", json_false ());
    json_t *settings = json_object ();
    json_object_set_new (settings, "n_ctx", json_integer ((json_int_t) model.context_length));
    json_object_set_new (settings, "model", json_string (model.uid));
    json_object_set_new (settings, "params", params);
    size_t replicas = xinf_value_count (xinf_map_get (model.entry, "replicas"));
    uint64_t seqs = xinf_value_uint (xinf_map_get (model.entry, "max_seqs"));
    const char *path = xinf_value_str (xinf_map_get (model.entry, "path"));
    json_t *props = json_object ();
    json_object_set_new (props, "default_generation_settings", settings);
    json_object_set_new (props, "total_slots", json_integer ((json_int_t) (seqs * (replicas ? replicas : 1))));
    json_object_set_new (props, "model_path", xinf_gw_json_text (path ? path : "", path ? strlen (path) : 0));
    json_object_set_new (props, "model_alias", json_string (model.uid));
    const char *texts [][2] = { { "chat_template", model.chat_template }, { "bos_token", model.bos_token },
                                { "eos_token", model.eos_token } };
    for (size_t index = 0; index < 3; index++)
        json_object_set_new (props, texts [index][0], xinf_gw_json_text (texts [index][1] ? texts [index][1] : "",
                                                                         texts [index][1] ? strlen (texts [index][1])
                                                                                          : 0));
    json_object_set_new (props, "modalities", json_pack ("{s:b, s:b}", "vision", 0, "audio", 0));
    json_object_set_new (props, "build_info", json_string ("xinf " XINF_VERSION_STRING));
    json_object_set_new (props, "is_sleeping", json_false ());
    xinf_gw_respond_json (request, 200, props);
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
    bool fallback = false;
    char *prompt = rc ? NULL : xinf_gw_chat_render (request->gateway->template_warned, &model, &request->oai,
                                                    request->oai.add_generation_prompt, &fallback, &error);
    if (!prompt) {
        xinf_gw_respond_error (request, &error);
        return;
    }
    json_t *object = json_object ();
    json_object_set_new (object, "prompt", xinf_gw_json_text (prompt, strlen (prompt)));
    if (request->oai.tools) {
        //  How the tools reached the prompt and how calls will be read
        bool supports;
        xinf_gw_tool_format_t format = fallback ? XINF_GW_TOOLS_HERMES
                                                : xinf_gw_tool_format_of (model.chat_template, &supports);
        json_object_set_new (object, "tool_format", json_string (xinf_gw_tool_format_name (format)));
        json_object_set_new (object, "tools_fallback", json_boolean (fallback));
    }
    free (prompt);
    xinf_gw_respond_json (request, 200, object);
}

//  The error of an ERROR answer, in OpenAI's shape.
static void
s_respond_call_error (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_value_t *body = xinf_msg_body (msg);
    const char *code = xinf_value_str (xinf_map_get (body, "code"));
    const char *message = xinf_value_str (xinf_map_get (body, "message"));
    const xinf_value_t *retry = xinf_map_get (body, "retry_after_ms");
    xinf_gw_error_t error;
    xinf_gw_error_from_code (&error, code ? code : "INTERNAL", message ? message : "",
                             xinf_value_type (retry) == XINF_UINT ? xinf_value_uint (retry) : 0);
    xinf_gw_respond_error (request, &error);
}

//  The result of TOKENIZE/DETOKENIZE, as llama-server answers it.
static void
s_on_tokenized (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_value_t *body = xinf_msg_body (msg);
    json_t *object = json_object ();
    if (xinf_msg_is (msg, "DETOKENIZE_REPLY") && xinf_value_type (xinf_map_get (body, "content")) == XINF_STR) {
        size_t size = 0;
        const char *content = xinf_value_bytes (xinf_map_get (body, "content"), &size);
        json_object_set_new (object, "content", xinf_gw_json_text (content, size));
        xinf_gw_respond_json (request, 200, object);
        return;
    }
    const xinf_value_t *tokens = xinf_map_get (body, "tokens"), *pieces = xinf_map_get (body, "pieces");
    if (!xinf_msg_is (msg, "TOKENIZE_REPLY") || xinf_value_type (tokens) != XINF_ARRAY) {
        json_decref (object);
        s_respond_call_error (request, msg);
        return;
    }
    json_t *list = json_array ();
    for (size_t index = 0; index < xinf_value_count (tokens); index++) {
        json_t *id = json_integer ((json_int_t) xinf_value_uint (xinf_array_at (tokens, index)));
        const xinf_value_t *piece = xinf_array_at (pieces, index);
        if (xinf_value_type (piece) == XINF_STR) {
            size_t size = 0;
            const char *bytes = xinf_value_bytes (piece, &size);
            json_t *item = json_object ();
            json_object_set_new (item, "id", id);
            json_object_set_new (item, "piece", xinf_gw_json_text (bytes, size));
            id = item;
        }
        json_array_append_new (list, id);
    }
    json_object_set_new (object, "tokens", list);
    xinf_gw_respond_json (request, 200, object);
}

//  /metrics: CLUSTER_INFO, then WAITS, then LIST_MODELS, then the text.
static void
s_on_metrics (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    const char *expected [] = { "CLUSTER_INFO_REPLY", "WAITS_REPLY", "LIST_MODELS_REPLY" };
    if (!xinf_msg_is (msg, expected [request->step])) {
        s_respond_call_error (request, msg);
        return;
    }
    if (request->step < 2) {
        request->replies [request->step] = xinf_value_dup (xinf_msg_body (msg));
        request->step++;
        s_call (request, xinf_msg_new (request->step == 1 ? "WAITS" : "LIST_MODELS"));
        return;
    }
    size_t size = 0;
    char *text = xinf_gw_metrics_render (request->gateway->metrics, request->replies [0], request->replies [1],
                                         xinf_msg_body (msg), &size);
    xinf_gw_respond_text (request, 200, "text/plain; version=0.0.4; charset=utf-8", text, size);
}

void
xinf_gw_route_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    if (request->route == XINF_GW_ROUTE_METRICS) {
        xinf_gw_call_forget (request);
        s_on_metrics (request, msg);
        return;
    }
    if (request->route == XINF_GW_ROUTE_TOKENIZE || request->route == XINF_GW_ROUTE_DETOKENIZE) {
        bool result = request->step == 1;
        xinf_gw_call_forget (request);
        xinf_gw_chat_model_t model;
        xinf_gw_error_t error;
        if (result)
            s_on_tokenized (request, msg);
        else
        if (*request->path_model && xinf_gw_chat_model_find (msg, request->path_model, &model, &error))
            xinf_gw_respond_error (request, &error);
        else
        if (!*request->path_model && !s_only_model (msg, &model)) {
            xinf_gw_error_set (&error, 400, "invalid_request_error", "invalid_value", "model",
                               "'model' is required when the cluster does not run exactly one model");
            xinf_gw_respond_error (request, &error);
        }
        else
            s_call_tokenize (request, model.uid);
        return;
    }
    xinf_gw_call_forget (request);
    if (request->route == XINF_GW_ROUTE_HEALTH)
        s_on_health (request, msg);
    else
    if (request->route == XINF_GW_ROUTE_MODELS || request->route == XINF_GW_ROUTE_MODEL)
        s_on_models (request, msg);
    else
    if (request->route == XINF_GW_ROUTE_APPLY_TEMPLATE)
        s_on_apply_template (request, msg);
    else
    if (request->route == XINF_GW_ROUTE_PROPS)
        s_on_props (request, msg);
    else
    if (request->route == XINF_GW_ROUTE_LORA_ADAPTERS)
        s_on_lora_adapters (request, msg);
}
