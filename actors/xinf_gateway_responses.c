/*  xinf_gateway_responses: a POST /v1/responses body made a chat, and the
    stored responses read back (GET, DELETE /v1/responses/{id}).

    `input` (a string, or items: messages with text parts, function_call
    and function_call_output items) becomes chat messages after the
    `instructions` (a system message) and, with previous_response_id, the
    stored conversation that response ended. Flat function tools become
    chat tools, `text.format` a response_format, `max_output_tokens`
    max_tokens, `include` message.output_text.logprobs logprobs; the
    sampling fields vLLM's Responses API adds (top_k, min_p, seed, stop,
    ...) pass as they are. The chat is then checked by the chat's own
    parser, its field names said as the Responses API names them.

    What this server does not have is refused by name rather than
    ignored: hosted tools, images and files, background responses,
    conversations, prompt templates, truncation auto, max_tool_calls.
*/
#include "xinf_gateway_responses.h"
#include "xinf_gateway_tools.h"
#include <sys/random.h>

#define TEXT_PART_MAX  (8 << 20)       //  bytes of one item's joined text

//  The chat's fields that pass as they are (vLLM's extras beside OpenAI's)
static const char *const s_passed [] = {
    "temperature", "top_p", "parallel_tool_calls", "stream", "top_k", "min_p", "seed", "presence_penalty",
    "frequency_penalty", "repetition_penalty", "stop", "logit_bias", "chat_template_kwargs", "ignore_eos",
    "min_tokens", "stop_token_ids", "priority", NULL
};

//  Fields of the Responses API this server does not have: refused when set.
static int
s_unsupported (json_t *root, xinf_gw_error_t *error)
{
    json_t *background = json_object_get (root, "background");
    if (json_is_true (background))
        return xinf_gw_error_bad (error, "background", "background responses are not supported: send the request "
                                  "with stream, or wait for its answer");
    const char *absent [] = { "conversation", "prompt", "max_tool_calls", NULL };
    for (size_t index = 0; absent [index]; index++) {
        json_t *value = json_object_get (root, absent [index]);
        if (value && !json_is_null (value))
            return xinf_gw_error_bad (error, absent [index], "is not supported by this server%s",
                                      streq (absent [index], "conversation")
                                      ? ": send the conversation's items in input, or continue a stored response "
                                        "with previous_response_id" : "");
    }
    json_t *truncation = json_object_get (root, "truncation");
    if (truncation && !json_is_null (truncation)
    &&  !(json_is_string (truncation) && streq (json_string_value (truncation), "disabled")))
        return xinf_gw_error_bad (error, "truncation", "only \"disabled\" is supported: a conversation longer than "
                                  "the model's context is refused, never cut");
    return 0;
}

//  A content part's text: input_text and output_text (and a refusal in
//  an assistant's message); an image, file or audio part is refused.
static int
s_part_text (json_t *part, const char *param, xinf_gw_buf_t *text, xinf_gw_error_t *error)
{
    const char *type = json_string_value (json_object_get (part, "type"));
    if (!json_is_object (part) || !type)
        return xinf_gw_error_bad (error, param, "must be a content part object with a type");
    const char *key = streq (type, "refusal") ? "refusal" : "text";
    if (!streq (type, "input_text") && !streq (type, "output_text") && !streq (type, "text") && !streq (type, "refusal"))
        return xinf_gw_error_bad (error, param, "type '%.40s' is not supported: the models served here read text "
                                  "(input_text, output_text)", type);
    json_t *value = json_object_get (part, key);
    if (!json_is_string (value))
        return xinf_gw_error_bad (error, param, "%s must be a string", key);
    if (text->size + json_string_length (value) > TEXT_PART_MAX)
        return xinf_gw_error_bad (error, param, "the item's text is over %d bytes", TEXT_PART_MAX);
    xinf_gw_buf_add (text, json_string_value (value), json_string_length (value));
    return 0;
}

//  A string, or content parts joined: a heap JSON string, or NULL with the error.
static json_t *
s_content (json_t *content, const char *param, xinf_gw_error_t *error)
{
    if (json_is_string (content))
        return json_incref (content);
    if (!json_is_array (content)) {
        xinf_gw_error_bad (error, param, "must be a string or an array of content parts");
        return NULL;
    }
    xinf_gw_buf_t text = { 0 };
    for (size_t index = 0; index < json_array_size (content); index++) {
        char where [96];
        snprintf (where, sizeof where, "%s[%zu]", param, index);
        if (s_part_text (json_array_get (content, index), where, &text, error)) {
            xinf_gw_buf_free (&text);
            return NULL;
        }
    }
    json_t *joined = json_stringn (text.data ? text.data : "", text.size);
    xinf_gw_buf_free (&text);
    if (!joined)
        xinf_gw_error_bad (error, param, "must be UTF-8 text");
    return joined;
}

//  A string field of an item, 1 to 'max' bytes.
static const char *
s_item_str (json_t *item, const char *key, size_t max, const char *param, xinf_gw_error_t *error)
{
    json_t *value = json_object_get (item, key);
    if (!json_is_string (value) || json_string_length (value) < 1 || json_string_length (value) > max) {
        xinf_gw_error_bad (error, param, "%s must be a string of 1 to %zu bytes", key, max);
        return NULL;
    }
    return json_string_value (value);
}

static int
s_input_message (json_t *item, const char *param, json_t *messages, xinf_gw_error_t *error)
{
    const char *role = json_string_value (json_object_get (item, "role"));
    if (!role || !(streq (role, "user") || streq (role, "system") || streq (role, "developer")
                || streq (role, "assistant")))
        return xinf_gw_error_bad (error, param, "a message's role must be user, system, developer or assistant");
    char where [80];
    snprintf (where, sizeof where, "%s.content", param);
    json_t *content = s_content (json_object_get (item, "content"), where, error);
    if (!content)
        return -1;
    json_t *message = json_object ();
    json_object_set_new (message, "role", json_string (role));
    json_object_set_new (message, "content", content);
    json_array_append_new (messages, message);
    return 0;
}

//  A function_call item: a tool call of the assistant's message before
//  it (one turn's calls, and its text, are one chat message).
static int
s_input_call (json_t *item, const char *param, json_t *messages, xinf_gw_error_t *error)
{
    const char *call_id = s_item_str (item, "call_id", 256, param, error);
    const char *name = call_id ? s_item_str (item, "name", 256, param, error) : NULL;
    json_t *arguments = json_object_get (item, "arguments");
    if (!name)
        return -1;
    if (!json_is_string (arguments))
        return xinf_gw_error_bad (error, param, "arguments must be a string (the call's JSON)");
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    const char *role = json_string_value (json_object_get (last, "role"));
    if (!last || !streq (role, "assistant")) {
        last = json_object ();
        json_object_set_new (last, "role", json_string ("assistant"));
        json_object_set_new (last, "content", json_string (""));
        json_array_append_new (messages, last);
    }
    json_t *calls = json_object_get (last, "tool_calls");
    if (!calls) {
        calls = json_array ();
        json_object_set_new (last, "tool_calls", calls);
    }
    if (json_array_size (calls) >= XINF_GW_TOOL_CALLS_MAX)
        return xinf_gw_error_bad (error, param, "at most %d calls in one turn", XINF_GW_TOOL_CALLS_MAX);
    json_t *function = json_object ();
    json_object_set_new (function, "name", json_string (name));
    json_object_set (function, "arguments", arguments);
    json_t *call = json_object ();
    json_object_set_new (call, "id", json_string (call_id));
    json_object_set_new (call, "type", json_string ("function"));
    json_object_set_new (call, "function", function);
    json_array_append_new (calls, call);
    return 0;
}

//  The name of the call 'call_id' among the messages' calls, or NULL.
static const char *
s_call_name (json_t *messages, const char *call_id)
{
    for (size_t index = json_array_size (messages); index-- > 0; ) {
        json_t *calls = json_object_get (json_array_get (messages, index), "tool_calls");
        for (size_t at = 0; at < json_array_size (calls); at++) {
            json_t *call = json_array_get (calls, at);
            if (streq (json_string_value (json_object_get (call, "id")) ?: "", call_id))
                return json_string_value (json_object_get (json_object_get (call, "function"), "name"));
        }
    }
    return NULL;
}

//  A function_call_output item: the tool's message, named after its call.
static int
s_input_call_output (json_t *item, const char *param, json_t *messages, xinf_gw_error_t *error)
{
    const char *call_id = s_item_str (item, "call_id", 256, param, error);
    if (!call_id)
        return -1;
    char where [80];
    snprintf (where, sizeof where, "%s.output", param);
    json_t *output = s_content (json_object_get (item, "output"), where, error);
    if (!output)
        return -1;
    json_t *message = json_object ();
    json_object_set_new (message, "role", json_string ("tool"));
    json_object_set_new (message, "tool_call_id", json_string (call_id));
    const char *name = s_call_name (messages, call_id);
    if (name)
        json_object_set_new (message, "name", json_string (name));
    json_object_set_new (message, "content", output);
    json_array_append_new (messages, message);
    return 0;
}

static int
s_input_item (json_t *item, size_t index, json_t *messages, xinf_gw_error_t *error)
{
    char param [48];
    snprintf (param, sizeof param, "input[%zu]", index);
    if (!json_is_object (item))
        return xinf_gw_error_bad (error, param, "must be an item object (a message, function_call or "
                                  "function_call_output)");
    json_t *type = json_object_get (item, "type");
    const char *kind = json_is_string (type) ? json_string_value (type) : NULL;
    if (type && !kind)
        return xinf_gw_error_bad (error, param, "type must be a string");
    if (!kind || streq (kind, "message"))
        return s_input_message (item, param, messages, error);
    if (streq (kind, "function_call"))
        return s_input_call (item, param, messages, error);
    if (streq (kind, "function_call_output"))
        return s_input_call_output (item, param, messages, error);
    if (streq (kind, "reasoning"))
        return 0;                     //  a reasoning model's summary: not the templates' to render
    if (streq (kind, "item_reference"))
        return xinf_gw_error_bad (error, param, "item references are not supported: send the item itself, or "
                                  "continue a stored response with previous_response_id");
    return xinf_gw_error_bad (error, param, "items of type '%.40s' are not supported (message, function_call, "
                              "function_call_output)", kind);
}

//  The input as chat messages, appended to 'messages'.
static int
s_input (json_t *root, json_t *messages, xinf_gw_error_t *error)
{
    json_t *input = json_object_get (root, "input");
    if (json_is_string (input)) {
        json_t *message = json_object ();
        json_object_set_new (message, "role", json_string ("user"));
        json_object_set (message, "content", input);
        json_array_append_new (messages, message);
        return 0;
    }
    if (!json_is_array (input) || json_array_size (input) == 0)
        return xinf_gw_error_bad (error, "input", "is required: a string, or a non-empty array of items");
    if (json_array_size (input) > XINF_GW_INPUT_ITEMS_MAX)
        return xinf_gw_error_bad (error, "input", "at most %d items", XINF_GW_INPUT_ITEMS_MAX);
    for (size_t index = 0; index < json_array_size (input); index++)
        if (s_input_item (json_array_get (input, index), index, messages, error))
            return -1;
    return 0;
}

//  A flat function tool ({type, name, description, parameters, strict})
//  as the chat's function.
static json_t *
s_function (json_t *tool, const char *param, xinf_gw_error_t *error)
{
    const char *type = json_string_value (json_object_get (tool, "type"));
    if (!json_is_object (tool) || !type) {
        xinf_gw_error_bad (error, param, "must be {\"type\": \"function\", \"name\", \"parameters\"}");
        return NULL;
    }
    if (!streq (type, "function")) {
        xinf_gw_error_bad (error, param, "'%.40s' is a hosted tool this server does not have: only function tools "
                           "are supported", type);
        return NULL;
    }
    json_t *function = json_deep_copy (tool);
    json_object_del (function, "type");
    return function;
}

static int
s_tool_choice (json_t *root, json_t *chat, xinf_gw_error_t *error)
{
    json_t *choice = json_object_get (root, "tool_choice");
    if (!choice || json_is_null (choice) || json_is_string (choice)) {
        if (choice)
            json_object_set (chat, "tool_choice", choice);
        return 0;
    }
    const char *type = json_string_value (json_object_get (choice, "type"));
    json_t *name = json_object_get (choice, "name");
    if (!json_is_object (choice) || !type || !streq (type, "function") || !json_is_string (name))
        return xinf_gw_error_bad (error, "tool_choice", "must be \"none\", \"auto\", \"required\" or {\"type\": "
                                  "\"function\", \"name\": NAME}");
    json_object_set_new (chat, "tool_choice", xinf_gw_tools_named_choice (name));
    return 0;
}

//  text.format: text, json_object or json_schema ({name, schema, strict}).
static int
s_text_format (json_t *root, json_t *chat, xinf_gw_error_t *error)
{
    json_t *text = json_object_get (root, "text");
    if (!text || json_is_null (text))
        return 0;
    json_t *format = json_object_get (text, "format");
    if (!json_is_object (text) || (format && !json_is_null (format) && !json_is_object (format)))
        return xinf_gw_error_bad (error, "text", "must be {\"format\": {\"type\": \"text\" | \"json_object\" | "
                                  "\"json_schema\", ...}}");
    const char *type = json_string_value (json_object_get (format, "type"));
    if (!format || json_is_null (format) || (type && streq (type, "text")))
        return 0;
    if (type && streq (type, "json_object")) {
        json_object_set_new (chat, "response_format", json_pack ("{s:s}", "type", "json_object"));
        return 0;
    }
    if (!type || !streq (type, "json_schema"))
        return xinf_gw_error_bad (error, "text.format", "type must be text, json_object or json_schema");
    json_t *schema = json_object_get (format, "schema");
    if (!json_is_object (schema))
        return xinf_gw_error_bad (error, "text.format", "json_schema needs its schema (an object)");
    json_t *wrapper = json_object ();
    json_object_set (wrapper, "schema", schema);
    json_t *name = json_object_get (format, "name");
    if (name)
        json_object_set (wrapper, "name", name);
    json_object_set_new (chat, "response_format", json_pack ("{s:s,s:o}", "type", "json_schema", "json_schema",
                                                             wrapper));
    return 0;
}

//  include message.output_text.logprobs, or top_logprobs: the tokens'
//  log-probabilities in each output_text part.
static int
s_logprobs (json_t *root, json_t *chat, xinf_gw_error_t *error)
{
    json_t *include = json_object_get (root, "include");
    bool asked = false;
    if (include && !json_is_null (include)) {
        if (!json_is_array (include))
            return xinf_gw_error_bad (error, "include", "must be an array of strings");
        for (size_t index = 0; index < json_array_size (include); index++) {
            const char *what = json_string_value (json_array_get (include, index));
            if (!what)
                return xinf_gw_error_bad (error, "include", "must be an array of strings");
            asked |= streq (what, "message.output_text.logprobs");
        }
    }
    json_t *top = json_object_get (root, "top_logprobs");
    if (top && !json_is_null (top)) {
        if (!json_is_integer (top) || json_integer_value (top) < 0 || json_integer_value (top) > XINF_GW_TOP_LOGPROBS)
            return xinf_gw_error_bad (error, "top_logprobs", "must be an integer from 0 to %d", XINF_GW_TOP_LOGPROBS);
        asked |= json_integer_value (top) > 0;
        json_object_set (chat, "top_logprobs", top);
    }
    if (asked)
        json_object_set_new (chat, "logprobs", json_true ());
    else
        json_object_del (chat, "top_logprobs");
    return 0;
}

//  A string of at most 'max' bytes, or null.
static bool
s_short (json_t *value, size_t max)
{
    return !value || json_is_null (value) || (json_is_string (value) && json_string_length (value) <= max);
}

//  The fields only repeated in the answer (and kept with it): small, so
//  that a stored response costs what its text does.
static int
s_echoed (json_t *root, xinf_gw_error_t *error)
{
    json_t *metadata = json_object_get (root, "metadata");
    if (metadata && !json_is_null (metadata)) {
        if (!json_is_object (metadata) || json_object_size (metadata) > 16)
            return xinf_gw_error_bad (error, "metadata", "must be an object of at most 16 strings");
        const char *key;
        json_t *value;
        json_object_foreach (metadata, key, value)
            if (strlen (key) > 64 || !json_is_string (value) || json_string_length (value) > 512)
                return xinf_gw_error_bad (error, "metadata", "keys of at most 64 bytes, values strings of at most 512");
    }
    json_t *reasoning = json_object_get (root, "reasoning");
    if (reasoning && !json_is_null (reasoning)) {
        const char *keys [] = { "effort", "summary", "generate_summary" };
        size_t known = 0;
        for (size_t index = 0; index < 3; index++) {
            json_t *value = json_object_get (reasoning, keys [index]);
            known += value != NULL;
            if (!s_short (value, 32))
                return xinf_gw_error_bad (error, "reasoning", "%s must be a short string or null", keys [index]);
        }
        if (!json_is_object (reasoning) || json_object_size (reasoning) != known)
            return xinf_gw_error_bad (error, "reasoning", "must be {\"effort\", \"summary\"}");
        json_t *effort = json_object_get (reasoning, "effort");
        if (json_is_string (effort) && !xinf_gw_reasoning_effort_known (json_string_value (effort)))
            return xinf_gw_error_bad (error, "reasoning", "effort must be \"none\", \"minimal\", \"low\", "
                                      "\"medium\", \"high\" or \"xhigh\"");
    }
    json_t *format = json_object_get (json_object_get (root, "text"), "format");
    if (!s_short (json_object_get (root, "user"), 256) || !s_short (json_object_get (root, "safety_identifier"), 256))
        return xinf_gw_error_bad (error, "user", "must be a string of at most 256 bytes");
    if (!s_short (json_object_get (format, "name"), 64) || !s_short (json_object_get (format, "description"), 4096)
    ||  !s_short (json_object_get (json_object_get (root, "text"), "verbosity"), 16))
        return xinf_gw_error_bad (error, "text.format", "name is at most 64 bytes, description 4096");
    return 0;
}

//  The fields of 'object' named in 'keys' (NULL-ended), those it has.
static json_t *
s_pick (json_t *object, const char *const *keys)
{
    json_t *picked = json_object ();
    for (size_t index = 0; keys [index]; index++) {
        json_t *value = json_object_get (object, keys [index]);
        if (value)
            json_object_set (picked, keys [index], value);
    }
    return picked;
}

//  What the response object repeats of the request (checked: the
//  sampling fields by the chat's parser, the others by s_echoed), OpenAI's
//  defaults where it said nothing.
static json_t *
s_echo (json_t *root)
{
    static const char *const format_keys [] = { "type", "name", "schema", "strict", "description", NULL };
    static const char *const reasoning_keys [] = { "effort", "summary", NULL };
    json_t *echo = json_object ();
    struct { const char *key; json_t *fallback; } fields [] = {
        { "instructions", json_null () }, { "max_output_tokens", json_null () }, { "metadata", json_object () },
        { "parallel_tool_calls", json_true () }, { "previous_response_id", json_null () },
        { "reasoning", NULL }, { "temperature", json_real (1.0) }, { "text", NULL },
        { "tool_choice", json_string ("auto") }, { "tools", json_array () }, { "top_p", json_real (1.0) },
        { "top_logprobs", json_integer (0) }, { "truncation", json_string ("disabled") }, { "user", json_null () }
    };
    for (size_t index = 0; index < sizeof fields / sizeof fields [0]; index++) {
        json_t *given = json_object_get (root, fields [index].key);
        if (given && !json_is_null (given) && fields [index].fallback) {
            json_object_set (echo, fields [index].key, given);
            json_decref (fields [index].fallback);
        }
        else
        if (fields [index].fallback)
            json_object_set_new (echo, fields [index].key, fields [index].fallback);
    }
    json_t *reasoning = s_pick (json_object_get (root, "reasoning"), reasoning_keys);
    for (size_t index = 0; reasoning_keys [index]; index++)
        if (!json_object_get (reasoning, reasoning_keys [index]))
            json_object_set_new (reasoning, reasoning_keys [index], json_null ());
    json_object_set_new (echo, "reasoning", reasoning);
    json_t *format = json_object_get (json_object_get (root, "text"), "format");
    json_object_set_new (echo, "text", json_pack ("{s:o}", "format", json_is_object (format)
                                                  ? s_pick (format, format_keys) : json_pack ("{s:s}", "type", "text")));
    json_t *choice = json_object_get (root, "tool_choice");
    if (json_is_object (choice))
        json_object_set_new (echo, "tool_choice", s_pick (choice, (const char *const []) { "type", "name", NULL }));
    return echo;
}

//  The chat's field names as the Responses API's (a chat message's index
//  is not an input item's: "input" alone).
static void
s_rename (xinf_gw_error_t *error)
{
    xinf_gw_error_rename (error, "max_tokens", "max_output_tokens");
    xinf_gw_error_rename (error, "response_format", "text.format");
    xinf_gw_error_rename_tools (error, "parameters");
    if (strncmp (error->param, "messages", 8) == 0) {
        char whole [sizeof error->param];
        snprintf (whole, sizeof whole, "%s", error->param);
        xinf_gw_error_rename (error, whole, "input");
    }
}

//  previous_response_id: the stored conversation it ended, copied into
//  'messages'; -1 with a 404 when there is none (or it is another key's).
static int
s_previous (xinf_gw_request_t *request, json_t *root, json_t *messages, xinf_gw_error_t *error)
{
    json_t *previous = json_object_get (root, "previous_response_id");
    if (!previous || json_is_null (previous))
        return 0;
    if (!json_is_string (previous) || json_string_length (previous) > 64)
        return xinf_gw_error_bad (error, "previous_response_id", "must be the id of a stored response");
    json_t *conversation = NULL;
    xinf_gw_resp_t *resp = request->shaped;
    json_t *found = xinf_gw_rstore_get (request->gateway->responses, json_string_value (previous), resp->owner,
                                        &conversation);
    json_decref (found);
    if (!found || !json_is_array (conversation)) {
        json_decref (conversation);
        xinf_gw_error_set (error, 404, "invalid_request_error", "previous_response_not_found", "previous_response_id",
                           "Previous response with id '%.64s' not found: it was not stored (store false), was "
                           "deleted, or the server restarted or dropped it for newer ones", json_string_value (previous));
        return -1;
    }
    json_array_extend (messages, conversation);
    json_decref (conversation);
    return 0;
}

//  The chat request the Responses request asks for.
static json_t *
s_chat_of (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error)
{
    xinf_gw_resp_t *resp = request->shaped;
    json_t *chat = json_object ();
    json_t *model = json_object_get (root, "model");
    if (model)
        json_object_set (chat, "model", model);
    for (size_t index = 0; s_passed [index]; index++) {
        json_t *value = json_object_get (root, s_passed [index]);
        if (value)
            json_object_set (chat, s_passed [index], value);
    }
    json_t *limit = json_object_get (root, "max_output_tokens");
    if (limit && !json_is_null (limit))
        json_object_set (chat, "max_tokens", limit);
    json_t *instructions = json_object_get (root, "instructions");
    if (instructions && !json_is_null (instructions) && !json_is_string (instructions))
        xinf_gw_error_bad (error, "instructions", "must be a string");
    else
    if (!s_unsupported (root, error) && !s_echoed (root, error) && !s_previous (request, root, resp->conversation, error)
    &&  !s_input (root, resp->conversation, error)
    &&  !xinf_gw_tools_from (root, chat, "function tools", s_function, error) && !s_tool_choice (root, chat, error)
    &&  !s_text_format (root, chat, error) && !s_logprobs (root, chat, error)) {
        json_t *effort = json_object_get (json_object_get (root, "reasoning"), "effort");
        if (json_is_string (effort))          //  the chat's reasoning_effort
            json_object_set (chat, "reasoning_effort", effort);
        json_t *messages = json_array ();
        if (json_is_string (instructions))
            json_array_append_new (messages, json_pack ("{s:s,s:O}", "role", "system", "content", instructions));
        json_array_extend (messages, resp->conversation);
        json_object_set_new (chat, "messages", messages);
        return chat;
    }
    json_decref (chat);
    return NULL;
}

int
xinf_gw_responses_parse (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error)
{
    xinf_gw_resp_t *resp = calloc (1, sizeof *resp);
    assert (resp);
    request->shape = &xinf_gw_responses_shape;
    request->shaped = resp;
    resp->conversation = json_array ();
    resp->output = json_array ();
    xinf_gw_responses_owner (request, resp->owner, sizeof resp->owner);
    json_t *store = json_object_get (root, "store");
    if (store && !json_is_null (store) && !json_is_boolean (store))
        return xinf_gw_error_bad (error, "store", "must be true or false");
    resp->store = !json_is_false (store);
    json_t *chat = s_chat_of (request, root, error);
    if (!chat)
        return -1;
    int rc = xinf_gw_oai_parse (chat, true, &request->oai, error);
    json_decref (chat);
    if (rc)
        return -1;
    resp->echo = s_echo (root);
    json_object_set_new (resp->echo, "store", json_boolean (resp->store));
    return 0;
}

void
xinf_gw_responses_clear (xinf_gw_request_t *request)
{
    xinf_gw_resp_t *resp = request->shaped;
    if (!resp)
        return;
    json_decref (resp->echo);
    json_decref (resp->conversation);
    json_decref (resp->output);
    json_decref (resp->message_logprobs);
    xinf_gw_buf_free (&resp->message_text);
    xinf_gw_buf_free (&resp->reasoning_text);
    free (resp);
    request->shaped = NULL;
}

const xinf_gw_shape_t xinf_gw_responses_shape = {
    .new_id = xinf_gw_responses_new_id, .text = xinf_gw_responses_delta, .thought = xinf_gw_responses_thought,
    .finish = xinf_gw_responses_finish, .fail_stream = xinf_gw_responses_fail_stream, .rename = s_rename,
    .clear = xinf_gw_responses_clear
};

void
xinf_gw_responses_owner (xinf_gw_request_t *request, char *owner, size_t size)
{
    char buffer [XINF_GW_CREDENTIAL_MAX];
    const char *authorization = request->gateway->keys ? xinf_gw_credential (request, buffer, sizeof buffer) : NULL;
    if (!authorization) {
        snprintf (owner, size, "%s", "");
        return;
    }
    //  The key itself, as the key check reads it ("bearer", spaces)
    const char *key = strncasecmp (authorization, "Bearer ", 7) == 0 ? authorization + 7 : authorization;
    while (*key == ' ')
        key++;
    zdigest_t *digest = zdigest_new ();
    zdigest_update (digest, (const byte *) key, strlen (key));
    snprintf (owner, size, "%s", zdigest_string (digest));
    zdigest_destroy (&digest);
}

void
xinf_gw_responses_new_id (char *id, size_t size)
{
    unsigned char bytes [20];
    if (getrandom (bytes, sizeof bytes, 0) != (ssize_t) sizeof bytes)
        for (size_t index = 0; index < sizeof bytes; index++)
            bytes [index] = (unsigned char) randof (256);
    char hex [2 * sizeof bytes + 1];
    for (size_t index = 0; index < sizeof bytes; index++)
        snprintf (hex + 2 * index, 3, "%02x", bytes [index]);
    snprintf (id, size, "resp_%s", hex);
}

void
xinf_gw_responses_route (xinf_gw_request_t *request)
{
    char owner [48];
    xinf_gw_responses_owner (request, owner, sizeof owner);
    xinf_gw_rstore_t *store = request->gateway->responses;
    const char *id = request->path_id;
    json_t *found = xinf_gw_rstore_get (store, id, owner, NULL);
    if (found && request->route == XINF_GW_ROUTE_RESPONSE_GET) {
        xinf_gw_respond_json (request, 200, found);
        return;
    }
    json_decref (found);
    if (found && xinf_gw_rstore_delete (store, id, owner)) {
        xinf_gw_respond_json (request, 200, json_pack ("{s:s,s:s,s:b}", "id", id, "object", "response", "deleted", 1));
        return;
    }
    xinf_gw_error_t error;
    xinf_gw_error_set (&error, 404, "invalid_request_error", "not_found", "response_id",
                       "Response with id '%.64s' not found", id);
    xinf_gw_respond_error (request, &error);
}
