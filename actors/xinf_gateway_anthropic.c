/*  xinf_gateway_anthropic: a POST /v1/messages body made a chat, and
    errors in Anthropic's shape.

    `system` (a string or text blocks) is the first system message. Each
    message's blocks become chat messages in order: a user's text blocks
    its content, each tool_result a tool message (named after its call;
    is_error results begin "Error: "), an assistant's text its content
    and its tool_use blocks its tool calls (the input as the call's JSON
    arguments); thinking blocks are skipped (templates drop past
    thoughts). tools become function tools, tool_choice auto/any/tool/none
    the chat's auto/required/a function/none (disable_parallel_tool_use:
    parallel_tool_calls false), stop_sequences stop strings, thinking
    enabled/disabled the template's enable_thinking. Images, documents,
    Anthropic's server tools, MCP servers and containers are refused by
    name.
*/
#include "xinf_gateway_anthropic.h"
#include "xinf_gateway_tools.h"

#define TEXT_MAX  (8 << 20)            //  bytes of one message's joined text

//  A text block's text, appended to 'text'.
static int
s_text_block (json_t *block, const char *param, xinf_gw_buf_t *text, xinf_gw_error_t *error)
{
    json_t *value = json_object_get (block, "text");
    if (!json_is_string (value))
        return xinf_gw_error_bad (error, param, "a text block needs its text (a string)");
    if (text->size + json_string_length (value) > TEXT_MAX)
        return xinf_gw_error_bad (error, param, "the message's text is over %d bytes", TEXT_MAX);
    xinf_gw_buf_add (text, json_string_value (value), json_string_length (value));
    return 0;
}

static const char *
s_block_type (json_t *block, const char *param, xinf_gw_error_t *error)
{
    const char *type = json_string_value (json_object_get (block, "type"));
    if (!json_is_object (block) || !type)
        xinf_gw_error_bad (error, param, "must be a content block object with a type");
    return json_is_object (block) ? type : NULL;
}

static int
s_unsupported_block (const char *type, const char *param, xinf_gw_error_t *error)
{
    return xinf_gw_error_bad (error, param, "blocks of type '%.40s' are not supported here: the models served read "
                              "text (text, tool_use, tool_result, thinking)", type);
}

//  A string or text blocks as one string; NULL with the error.
static json_t *
s_joined (json_t *content, const char *param, xinf_gw_error_t *error)
{
    if (!content || json_is_null (content))
        return json_string ("");
    if (json_is_string (content))
        return json_incref (content);
    if (!json_is_array (content)) {
        xinf_gw_error_bad (error, param, "must be a string or an array of text blocks");
        return NULL;
    }
    xinf_gw_buf_t text = { 0 };
    for (size_t index = 0; index < json_array_size (content); index++) {
        char where [96];
        snprintf (where, sizeof where, "%s[%zu]", param, index);
        json_t *block = json_array_get (content, index);
        const char *type = s_block_type (block, where, error);
        if (!type || (!streq (type, "text") ? s_unsupported_block (type, where, error)
                                            : s_text_block (block, where, &text, error))) {
            xinf_gw_buf_free (&text);
            return NULL;
        }
    }
    json_t *joined = json_stringn (text.data ? text.data : "", text.size);
    xinf_gw_buf_free (&text);
    return joined;
}

static void
s_flush_text (json_t *messages, const char *role, xinf_gw_buf_t *text, bool always)
{
    if (text->size || always)
        json_array_append_new (messages, json_pack ("{s:s,s:s%}", "role", role, "content",
                                                    text->data ? text->data : "", text->size));
    xinf_gw_buf_free (text);
}

//  The name of the tool_use 'id' among the messages' calls, or NULL.
static const char *
s_call_name (json_t *messages, const char *id)
{
    for (size_t index = json_array_size (messages); index-- > 0; ) {
        json_t *calls = json_object_get (json_array_get (messages, index), "tool_calls");
        for (size_t at = 0; at < json_array_size (calls); at++) {
            json_t *call = json_array_get (calls, at);
            if (streq (json_string_value (json_object_get (call, "id")) ?: "", id))
                return json_string_value (json_object_get (json_object_get (call, "function"), "name"));
        }
    }
    return NULL;
}

static int
s_tool_result (json_t *block, const char *param, json_t *messages, xinf_gw_error_t *error)
{
    json_t *id = json_object_get (block, "tool_use_id");
    if (!json_is_string (id) || json_string_length (id) < 1 || json_string_length (id) > 256)
        return xinf_gw_error_bad (error, param, "tool_use_id must be a string of 1 to 256 bytes");
    char where [128];
    snprintf (where, sizeof where, "%s.content", param);
    json_t *content = s_joined (json_object_get (block, "content"), where, error);
    if (!content)
        return -1;
    if (json_is_true (json_object_get (block, "is_error"))) {
        json_t *marked = json_pack ("s++", "Error: ", json_string_value (content), "");
        json_decref (content);
        content = marked;
    }
    json_t *message = json_pack ("{s:s,s:O}", "role", "tool", "tool_call_id", id);
    const char *name = s_call_name (messages, json_string_value (id));
    if (name)
        json_object_set_new (message, "name", json_string (name));
    json_object_set_new (message, "content", content);
    json_array_append_new (messages, message);
    return 0;
}

static int
s_tool_use (json_t *block, const char *param, json_t *calls, xinf_gw_error_t *error)
{
    json_t *id = json_object_get (block, "id"), *name = json_object_get (block, "name");
    json_t *input = json_object_get (block, "input");
    if (!json_is_string (id) || json_string_length (id) < 1 || json_string_length (id) > 256
    ||  !json_is_string (name) || json_string_length (name) < 1 || json_string_length (name) > 256)
        return xinf_gw_error_bad (error, param, "a tool_use block needs its id and name (strings of 1 to 256 bytes)");
    if (input && !json_is_object (input))
        return xinf_gw_error_bad (error, param, "a tool_use block's input must be an object");
    if (json_array_size (calls) >= XINF_GW_TOOL_CALLS_MAX)
        return xinf_gw_error_bad (error, param, "at most %d tool_use blocks in a message", XINF_GW_TOOL_CALLS_MAX);
    char *arguments = input ? json_dumps (input, JSON_COMPACT) : strdup ("{}");
    json_array_append_new (calls, json_pack ("{s:O,s:s,s:{s:O,s:s}}", "id", id, "type", "function", "function",
                                             "name", name, "arguments", arguments ? arguments : "{}"));
    free (arguments);
    return 0;
}

static int
s_user (json_t *content, const char *param, json_t *messages, xinf_gw_error_t *error)
{
    xinf_gw_buf_t text = { 0 };
    for (size_t index = 0; index < json_array_size (content); index++) {
        char where [96];
        snprintf (where, sizeof where, "%s[%zu]", param, index);
        json_t *block = json_array_get (content, index);
        const char *type = s_block_type (block, where, error);
        int rc;
        if (!type)
            rc = -1;
        else
        if (streq (type, "text"))
            rc = s_text_block (block, where, &text, error);
        else
        if (streq (type, "tool_result")) {        //  the text before it is a message of its own
            s_flush_text (messages, "user", &text, false);
            rc = s_tool_result (block, where, messages, error);
        }
        else
            rc = s_unsupported_block (type, where, error);
        if (rc) {
            xinf_gw_buf_free (&text);
            return -1;
        }
    }
    s_flush_text (messages, "user", &text, false);
    return 0;
}

static int
s_assistant (json_t *content, const char *param, json_t *messages, xinf_gw_error_t *error)
{
    xinf_gw_buf_t text = { 0 };
    json_t *calls = json_array ();
    int rc = 0;
    for (size_t index = 0; index < json_array_size (content) && !rc; index++) {
        char where [96];
        snprintf (where, sizeof where, "%s[%zu]", param, index);
        json_t *block = json_array_get (content, index);
        const char *type = s_block_type (block, where, error);
        rc = !type ? -1
           : streq (type, "text") ? s_text_block (block, where, &text, error)
           : streq (type, "tool_use") ? s_tool_use (block, where, calls, error)
           : streq (type, "thinking") || streq (type, "redacted_thinking") ? 0
           : s_unsupported_block (type, where, error);
    }
    if (!rc) {
        s_flush_text (messages, "assistant", &text, true);
        if (json_array_size (calls))
            json_object_set (json_array_get (messages, json_array_size (messages) - 1), "tool_calls", calls);
    }
    xinf_gw_buf_free (&text);
    json_decref (calls);
    return rc;
}

static int
s_messages (json_t *root, json_t *messages, xinf_gw_error_t *error)
{
    json_t *given = json_object_get (root, "messages");
    if (!json_is_array (given) || json_array_size (given) == 0)
        return xinf_gw_error_bad (error, "messages", "is required: a non-empty array of {role, content}");
    if (json_array_size (given) > XINF_GW_MESSAGES_MAX)
        return xinf_gw_error_bad (error, "messages", "at most %d messages", XINF_GW_MESSAGES_MAX);
    //  The answer continues no message: a last assistant message (a
    //  prefill) would be closed by the template, not continued
    const char *last = json_string_value (json_object_get (json_array_get (given, json_array_size (given) - 1), "role"));
    if (last && streq (last, "assistant"))
        return xinf_gw_error_bad (error, "messages", "the last message must be the user's: an assistant prefill is "
                                  "not supported (the chat template would end that turn, not continue it)");
    for (size_t index = 0; index < json_array_size (given); index++) {
        json_t *message = json_array_get (given, index);
        const char *role = json_string_value (json_object_get (message, "role"));
        json_t *content = json_object_get (message, "content");
        char param [48];
        snprintf (param, sizeof param, "messages[%zu]", index);
        if (!json_is_object (message) || !role || !(streq (role, "user") || streq (role, "assistant")))
            return xinf_gw_error_bad (error, param, "role must be user or assistant (the system prompt is 'system')");
        if (json_is_string (content)) {
            json_array_append_new (messages, json_pack ("{s:s,s:O}", "role", role, "content", content));
            continue;
        }
        snprintf (param, sizeof param, "messages[%zu].content", index);
        if (!json_is_array (content) || json_array_size (content) == 0)
            return xinf_gw_error_bad (error, param, "must be a string or a non-empty array of content blocks");
        if (streq (role, "user") ? s_user (content, param, messages, error)
                                 : s_assistant (content, param, messages, error))
            return -1;
    }
    return 0;
}

//  A client tool {name, description, input_schema} as the chat's function.
static json_t *
s_function (json_t *tool, const char *param, xinf_gw_error_t *error)
{
    const char *type = json_string_value (json_object_get (tool, "type"));
    if (!json_is_object (tool)) {
        xinf_gw_error_bad (error, param, "must be {name, description, input_schema}");
        return NULL;
    }
    if (type && !streq (type, "custom")) {
        xinf_gw_error_bad (error, param, "'%.40s' is one of Anthropic's server tools, which this server does not "
                           "have: only client tools {name, description, input_schema}", type);
        return NULL;
    }
    json_t *function = json_object ();
    const char *keys [][2] = { { "name", "name" }, { "description", "description" }, { "input_schema", "parameters" } };
    for (size_t at = 0; at < 3; at++) {
        json_t *value = json_object_get (tool, keys [at][0]);
        if (value)
            json_object_set (function, keys [at][1], value);
    }
    return function;
}

static int
s_tool_choice (json_t *root, json_t *chat, xinf_gw_error_t *error)
{
    json_t *choice = json_object_get (root, "tool_choice");
    if (!choice || json_is_null (choice))
        return 0;
    const char *type = json_string_value (json_object_get (choice, "type"));
    json_t *name = json_object_get (choice, "name");
    if (!json_is_object (choice) || !type)
        return xinf_gw_error_bad (error, "tool_choice", "must be {\"type\": \"auto\" | \"any\" | \"tool\" | \"none\"}");
    if (json_is_true (json_object_get (choice, "disable_parallel_tool_use")))
        json_object_set_new (chat, "parallel_tool_calls", json_false ());
    if (streq (type, "auto") || streq (type, "none"))
        json_object_set_new (chat, "tool_choice", json_string (type));
    else
    if (streq (type, "any"))
        json_object_set_new (chat, "tool_choice", json_string ("required"));
    else
    if (streq (type, "tool") && json_is_string (name))
        json_object_set_new (chat, "tool_choice", xinf_gw_tools_named_choice (name));
    else
        return xinf_gw_error_bad (error, "tool_choice", "type must be auto, any, none, or tool with its name");
    return 0;
}

//  thinking {type: enabled | disabled}: the template's enable_thinking,
//  unless chat_template_kwargs says otherwise.
static int
s_thinking (json_t *root, json_t *chat, xinf_gw_error_t *error)
{
    json_t *thinking = json_object_get (root, "thinking");
    if (!thinking || json_is_null (thinking))
        return 0;
    const char *type = json_string_value (json_object_get (thinking, "type"));
    if (!json_is_object (thinking) || !type || !(streq (type, "enabled") || streq (type, "disabled")))
        return xinf_gw_error_bad (error, "thinking", "must be {\"type\": \"enabled\" | \"disabled\"}");
    json_t *kwargs = json_object_get (chat, "chat_template_kwargs");
    if (kwargs && !json_is_null (kwargs) && !json_is_object (kwargs))
        return 0;                     //  the chat's check says what is wrong with it
    if (!json_is_object (kwargs)) {
        kwargs = json_object ();
        json_object_set_new (chat, "chat_template_kwargs", kwargs);
    }
    if (!json_object_get (kwargs, "enable_thinking"))
        json_object_set_new (kwargs, "enable_thinking", json_boolean (streq (type, "enabled")));
    return 0;
}

static int
s_unsupported (json_t *root, xinf_gw_error_t *error)
{
    const char *absent [] = { "mcp_servers", "container", NULL };
    for (size_t index = 0; absent [index]; index++) {
        json_t *value = json_object_get (root, absent [index]);
        if (value && !json_is_null (value))
            return xinf_gw_error_bad (error, absent [index], "is not supported by this server");
    }
    json_t *limit = json_object_get (root, "max_tokens");
    if (!json_is_integer (limit) || json_integer_value (limit) < 1)
        return xinf_gw_error_bad (error, "max_tokens", "is required: an integer of at least 1");
    return 0;
}

//  The chat's field names as the Messages API's.
static void
s_rename (xinf_gw_error_t *error)
{
    xinf_gw_error_rename (error, "stop", "stop_sequences");
    xinf_gw_error_rename_tools (error, "input_schema");
}

static json_t *
s_chat_of (json_t *root, xinf_gw_error_t *error)
{
    json_t *chat = json_object ();
    const char *passed [] = { "model", "max_tokens", "temperature", "top_p", "top_k", "stream", "chat_template_kwargs",
                              "seed", "min_p", "reasoning_format", "priority", NULL };
    for (size_t index = 0; passed [index]; index++) {
        json_t *value = json_object_get (root, passed [index]);
        if (value)
            json_object_set (chat, passed [index], value);
    }
    json_t *stops = json_object_get (root, "stop_sequences");
    if (stops && !json_is_null (stops) && !json_is_array (stops)) {
        xinf_gw_error_bad (error, "stop_sequences", "must be an array of strings");
        json_decref (chat);
        return NULL;
    }
    if (stops)
        json_object_set (chat, "stop", stops);
    json_t *messages = json_array ();
    json_object_set_new (chat, "messages", messages);
    json_t *system = json_object_get (root, "system");
    json_t *prompt = system && !json_is_null (system) ? s_joined (system, "system", error) : NULL;
    if (system && !json_is_null (system) && !prompt) {
        json_decref (chat);
        return NULL;
    }
    if (prompt)
        json_array_append_new (messages, json_pack ("{s:s,s:o}", "role", "system", "content", prompt));
    if (s_unsupported (root, error) || s_messages (root, messages, error)
    ||  xinf_gw_tools_from (root, chat, "{name, description, input_schema}", s_function, error)
    ||  s_tool_choice (root, chat, error) || s_thinking (root, chat, error)) {
        json_decref (chat);
        return NULL;
    }
    if (json_array_size (messages) > XINF_GW_MESSAGES_MAX) {
        xinf_gw_error_bad (error, "messages", "they make %zu chat messages (the system prompt and each tool_result "
                           "one); at most %d", json_array_size (messages), XINF_GW_MESSAGES_MAX);
        json_decref (chat);
        return NULL;
    }
    return chat;
}

int
xinf_gw_anthropic_parse (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error)
{
    xinf_gw_anth_t *anth = calloc (1, sizeof *anth);
    assert (anth);
    anth->content = json_array ();
    request->shape = &xinf_gw_anthropic_shape;
    request->shaped = anth;
    json_t *chat = s_chat_of (root, error);
    int rc = chat ? xinf_gw_oai_parse (chat, true, &request->oai, error) : -1;
    json_decref (chat);
    return rc;
}

json_t *
xinf_gw_anthropic_error_json (const xinf_gw_error_t *error)
{
    const char *type = error->status == 401 ? "authentication_error"
                     : error->status == 403 ? "permission_error"
                     : error->status == 404 ? "not_found_error"
                     : error->status == 413 ? "request_too_large"
                     : error->status == 429 ? "rate_limit_error"
                     : error->status == 503 ? "overloaded_error"
                     : error->status == 504 || error->status == 408 ? "timeout_error"
                     : error->status >= 500 ? "api_error" : "invalid_request_error";
    char message [sizeof error->message + 80];
    if (*error->param && !strstr (error->message, error->param))
        snprintf (message, sizeof message, "%s: %s", error->param, error->message);
    else
        snprintf (message, sizeof message, "%s", error->message);
    return json_pack ("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", type, "message", message);
}

const xinf_gw_shape_t xinf_gw_anthropic_shape = {
    .new_id = xinf_gw_anthropic_new_id, .text = xinf_gw_anthropic_text, .thought = xinf_gw_anthropic_thought,
    .finish = xinf_gw_anthropic_finish, .fail_stream = xinf_gw_anthropic_fail_stream, .rename = s_rename,
    .clear = xinf_gw_anthropic_clear
};
