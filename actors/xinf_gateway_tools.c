/*  xinf_gateway_tools: OpenAI function calling in chat requests: tools,
    tool_choice and parallel_tool_calls checked, the tool calls and tool
    results of the messages checked and made ready for the chat template
    (arguments as objects, as Hugging Face's templates expect), and the
    fallback for a template that knows no tools: the tools described in a
    system message, Hermes-style, calls and results written as text; for
    DeepSeek's templates, which render calls and results but no tools,
    the tools described in the system message in DeepSeek's own format.

    Every field is checked for type, length and count; a bad one is a 400
    naming it (param "tools[2].function.name", ...).
*/
#include "xinf_gateway_tools.h"

#define TOOL_NAME_MAX     64            //  bytes of a function name (OpenAI's limit)
#define CALL_ID_MAX       256           //  bytes of a tool call id
#define DESCRIPTION_MAX   (64 << 10)    //  bytes of a function's description


//  OpenAI's function names: letters, digits, '_', '-' (and '.', ':' that
//  other servers accept), 1 to 64 bytes.
static bool
s_name_valid (json_t *name)
{
    if (!json_is_string (name) || json_string_length (name) < 1 || json_string_length (name) > TOOL_NAME_MAX)
        return false;
    for (const char *at = json_string_value (name); *at; at++)
        if (!isalnum ((unsigned char) *at) && !strchr ("_-.:", *at))
            return false;
    return true;
}

static int
s_tool (json_t *tool, size_t index, json_t *names, xinf_gw_error_t *error)
{
    char param [64];
    snprintf (param, sizeof param, "tools[%zu]", index);
    json_t *type = json_object_get (tool, "type");
    if (!json_is_object (tool) || !json_is_string (type) || !streq (json_string_value (type), "function"))
        return xinf_gw_error_bad (error, param, "must be {\"type\": \"function\", \"function\": {name, description, parameters}}");
    json_t *function = json_object_get (tool, "function");
    snprintf (param, sizeof param, "tools[%zu].function", index);
    if (!json_is_object (function))
        return xinf_gw_error_bad (error, param, "must be an object {name, description, parameters}");
    json_t *name = json_object_get (function, "name");
    snprintf (param, sizeof param, "tools[%zu].function.name", index);
    if (!s_name_valid (name))
        return xinf_gw_error_bad (error, param, "must be 1 to %d letters, digits, '_', '-', '.' or ':'", TOOL_NAME_MAX);
    if (json_object_get (names, json_string_value (name)))
        return xinf_gw_error_bad (error, param, "'%s' is declared twice", json_string_value (name));
    json_object_set_new (names, json_string_value (name), json_true ());
    json_t *description = json_object_get (function, "description");
    snprintf (param, sizeof param, "tools[%zu].function.description", index);
    if (description && !json_is_null (description)
    && (!json_is_string (description) || json_string_length (description) > DESCRIPTION_MAX))
        return xinf_gw_error_bad (error, param, "must be a string of at most %d bytes", DESCRIPTION_MAX);
    json_t *parameters = json_object_get (function, "parameters");
    snprintf (param, sizeof param, "tools[%zu].function.parameters", index);
    if (parameters && !json_is_null (parameters) && !json_is_object (parameters))
        return xinf_gw_error_bad (error, param, "must be a JSON schema object");
    json_t *strict = json_object_get (function, "strict");
    snprintf (param, sizeof param, "tools[%zu].function.strict", index);
    if (strict && !json_is_null (strict) && !json_is_boolean (strict))
        return xinf_gw_error_bad (error, param, "must be true or false");
    return 0;
}

static int
s_tool_choice (json_t *root, json_t *names, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *choice = json_object_get (root, "tool_choice");
    out->tool_choice = out->tools ? XINF_GW_TOOL_CHOICE_AUTO : XINF_GW_TOOL_CHOICE_NONE;
    if (!choice || json_is_null (choice))
        return 0;
    if (json_is_string (choice)) {
        const char *text = json_string_value (choice);
        if (streq (text, "none"))
            out->tool_choice = XINF_GW_TOOL_CHOICE_NONE;
        else
        if (streq (text, "auto") || streq (text, "required"))
            out->tool_choice = streq (text, "auto") ? XINF_GW_TOOL_CHOICE_AUTO : XINF_GW_TOOL_CHOICE_REQUIRED;
        else
            return xinf_gw_error_bad (error, "tool_choice", "must be \"none\", \"auto\", \"required\" or "
                          "{\"type\": \"function\", \"function\": {\"name\": NAME}}");
        if (!out->tools && out->tool_choice == XINF_GW_TOOL_CHOICE_REQUIRED)
            return xinf_gw_error_bad (error, "tool_choice", "\"required\" needs tools");
        if (!out->tools)
            out->tool_choice = XINF_GW_TOOL_CHOICE_NONE;
        return 0;
    }
    json_t *type = json_object_get (choice, "type"), *function = json_object_get (choice, "function");
    json_t *name = json_object_get (function, "name");
    if (!json_is_object (choice) || !json_is_string (type) || !streq (json_string_value (type), "function")
    ||  !json_is_object (function) || !json_is_string (name))
        return xinf_gw_error_bad (error, "tool_choice", "must be \"none\", \"auto\", \"required\" or "
                      "{\"type\": \"function\", \"function\": {\"name\": NAME}}");
    if (!json_object_get (names, json_string_value (name)))
        return xinf_gw_error_bad (error, "tool_choice.function.name", "'%.64s' is not one of the tools", json_string_value (name));
    out->tool_choice = XINF_GW_TOOL_CHOICE_FUNCTION;
    snprintf (out->tool_choice_name, sizeof out->tool_choice_name, "%s", json_string_value (name));
    return 0;
}

int
xinf_gw_tools_parse (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error)
{
    json_t *tools = json_object_get (root, "tools");
    out->parallel_tool_calls = true;
    if (tools && !json_is_null (tools)) {
        if (!json_is_array (tools))
            return xinf_gw_error_bad (error, "tools", "must be an array of {\"type\": \"function\", \"function\": {...}}");
        if (json_array_size (tools) > XINF_GW_TOOLS_MAX)
            return xinf_gw_error_bad (error, "tools", "at most %d tools, not %zu", XINF_GW_TOOLS_MAX, json_array_size (tools));
        char *text = json_dumps (tools, JSON_COMPACT);
        size_t size = text ? strlen (text) : 0;
        free (text);
        if (size > XINF_GW_TOOLS_BYTES)
            return xinf_gw_error_bad (error, "tools", "at most %d bytes of JSON, not %zu", XINF_GW_TOOLS_BYTES, size);
    }
    json_t *names = json_object ();
    int rc = 0;
    for (size_t index = 0; rc == 0 && json_is_array (tools) && index < json_array_size (tools); index++)
        rc = s_tool (json_array_get (tools, index), index, names, error);
    if (rc == 0 && json_array_size (tools) > 0)
        out->tools = json_incref (tools);
    if (rc == 0)
        rc = s_tool_choice (root, names, out, error);
    json_decref (names);
    json_t *parallel = json_object_get (root, "parallel_tool_calls");
    if (rc == 0 && parallel && !json_is_null (parallel)) {
        if (!json_is_boolean (parallel))
            return xinf_gw_error_bad (error, "parallel_tool_calls", "must be true or false");
        out->parallel_tool_calls = json_is_true (parallel);
    }
    return rc;
}

//  One tool call of an assistant message; its arguments (a JSON string)
//  become an object for the template when they are one.
static int
s_call (json_t *call, size_t index, size_t at, xinf_gw_error_t *error)
{
    char param [64];
    snprintf (param, sizeof param, "messages[%zu].tool_calls[%zu]", index, at);
    json_t *function = json_object_get (call, "function");
    json_t *id = json_object_get (call, "id"), *type = json_object_get (call, "type");
    if (!json_is_object (call) || !json_is_object (function))
        return xinf_gw_error_bad (error, param, "must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}");
    if (id && !json_is_null (id) && (!json_is_string (id) || json_string_length (id) > CALL_ID_MAX))
        return xinf_gw_error_bad (error, param, "id must be a string of at most %d bytes", CALL_ID_MAX);
    if (type && !json_is_null (type) && (!json_is_string (type) || !streq (json_string_value (type), "function")))
        return xinf_gw_error_bad (error, param, "type must be \"function\"");
    json_t *name = json_object_get (function, "name"), *arguments = json_object_get (function, "arguments");
    if (!json_is_string (name) || json_string_length (name) < 1 || json_string_length (name) > 256)
        return xinf_gw_error_bad (error, param, "function.name must be a string of 1 to 256 bytes");
    if (arguments && !json_is_string (arguments) && !json_is_object (arguments) && !json_is_null (arguments))
        return xinf_gw_error_bad (error, param, "function.arguments must be a string of JSON");
    if (json_is_string (arguments)) {
        json_error_t reason;
        json_t *object = json_loads (json_string_value (arguments), 0, &reason);
        if (json_is_object (object))
            json_object_set (function, "arguments", object);
        json_decref (object);
    }
    return 0;
}

int
xinf_gw_tools_check_message (json_t *message, size_t index, xinf_gw_error_t *error)
{
    char param [64];
    const char *role = json_string_value (json_object_get (message, "role"));
    json_t *calls = json_object_get (message, "tool_calls");
    snprintf (param, sizeof param, "messages[%zu].tool_calls", index);
    if (calls && !json_is_null (calls)) {
        if (!streq (role, "assistant"))
            return xinf_gw_error_bad (error, param, "only assistant messages carry tool calls");
        if (!json_is_array (calls) || json_array_size (calls) > XINF_GW_TOOL_CALLS_MAX)
            return xinf_gw_error_bad (error, param, "must be an array of at most %d calls", XINF_GW_TOOL_CALLS_MAX);
        for (size_t at = 0; at < json_array_size (calls); at++)
            if (s_call (json_array_get (calls, at), index, at, error))
                return -1;
        if (json_array_size (calls) == 0)
            json_object_del (message, "tool_calls");
        else
        if (!json_is_string (json_object_get (message, "content")))
            //  OpenAI's null content is "" for the template, as vLLM does
            //  (Qwen3's template cannot test a null content)
            json_object_set_new (message, "content", json_string (""));
    }
    else
    if (calls)
        json_object_del (message, "tool_calls");      //  null: as absent, for the templates' `is defined`
    const char *keys [] = { "tool_call_id", "name" };
    for (size_t at = 0; at < 2; at++) {
        json_t *value = json_object_get (message, keys [at]);
        snprintf (param, sizeof param, "messages[%zu].%s", index, keys [at]);
        if (value && !json_is_null (value) && (!json_is_string (value) || json_string_length (value) > CALL_ID_MAX))
            return xinf_gw_error_bad (error, param, "must be a string of at most %d bytes", CALL_ID_MAX);
    }
    if (streq (role, "tool") && !json_is_string (json_object_get (message, "content")))
        return xinf_gw_error_bad (error, "messages", "message %zu: a tool message needs its content (the result)", index);
    return 0;
}

// ---- the fallback: tools in a system message --------------------------------

static void
s_append_json (xinf_gw_buf_t *text, json_t *value)
{
    char *dump = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (dump)
        xinf_gw_buf_add_str (text, dump);
    free (dump);
}

//  The system text that describes the tools and the call format.
static void
s_tools_text (xinf_gw_buf_t *text, json_t *tools)
{
    xinf_gw_buf_add_str (text, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                         "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
    for (size_t index = 0; index < json_array_size (tools); index++) {
        xinf_gw_buf_add_str (text, "\n");
        s_append_json (text, json_array_get (tools, index));
    }
    xinf_gw_buf_add_str (text, "\n</tools>\n\nFor each function call, return a json object with function name and "
                         "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                         "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
}

//  An assistant message's calls as <tool_call> text after its content.
static json_t *
s_calls_as_text (json_t *message)
{
    xinf_gw_buf_t text = { 0 };
    json_t *content = json_object_get (message, "content");
    if (json_is_string (content))
        xinf_gw_buf_add (&text, json_string_value (content), json_string_length (content));
    json_t *calls = json_object_get (message, "tool_calls");
    for (size_t index = 0; index < json_array_size (calls); index++) {
        json_t *function = json_object_get (json_array_get (calls, index), "function");
        json_t *call = json_object ();
        json_object_set (call, "name", json_object_get (function, "name"));
        json_object_set (call, "arguments", json_object_get (function, "arguments"));
        xinf_gw_buf_add_str (&text, text.size ? "\n<tool_call>\n" : "<tool_call>\n");
        s_append_json (&text, call);
        xinf_gw_buf_add_str (&text, "\n</tool_call>");
        json_decref (call);
    }
    json_t *result = json_pack ("{s:s, s:s%}", "role", "assistant", "content", text.data ? text.data : "", text.size);
    xinf_gw_buf_free (&text);
    return result;
}

json_t *
xinf_gw_tools_fallback (json_t *messages, json_t *tools)
{
    json_t *result = json_array ();
    xinf_gw_buf_t system = { 0 };
    size_t first = 0;
    json_t *head = json_array_get (messages, 0);
    if (head && streq (json_string_value (json_object_get (head, "role")), "system")) {
        json_t *content = json_object_get (head, "content");
        if (json_is_string (content) && json_string_length (content)) {
            xinf_gw_buf_add (&system, json_string_value (content), json_string_length (content));
            xinf_gw_buf_add_str (&system, "\n\n");
        }
        first = 1;
    }
    if (json_array_size (tools))
        s_tools_text (&system, tools);
    if (system.size)
        json_array_append_new (result, json_pack ("{s:s, s:s%}", "role", "system", "content", system.data, system.size));
    xinf_gw_buf_free (&system);
    for (size_t index = first; index < json_array_size (messages); index++) {
        json_t *message = json_array_get (messages, index);
        const char *role = json_string_value (json_object_get (message, "role"));
        if (json_object_get (message, "tool_calls"))
            json_array_append_new (result, s_calls_as_text (message));
        else
        if (streq (role, "tool")) {
            xinf_gw_buf_t text = { 0 };
            json_t *content = json_object_get (message, "content");
            xinf_gw_buf_add_str (&text, "<tool_response>\n");
            if (json_is_string (content))
                xinf_gw_buf_add (&text, json_string_value (content), json_string_length (content));
            xinf_gw_buf_add_str (&text, "\n</tool_response>");
            json_array_append_new (result, json_pack ("{s:s, s:s%}", "role", "user", "content", text.data, text.size));
            xinf_gw_buf_free (&text);
        }
        else
            json_array_append (result, message);
    }
    return result;
}

// ---- DeepSeek's templates: tools described in their own format --------------

#define BAR  "\xef\xbd\x9c"                    //  U+FF5C "｜"
#define LOW  "\xe2\x96\x81"                    //  U+2581 "▁"

//  V3.1's, as DeepSeek's model card gives it: each tool's name,
//  description and parameters (Python's json.dumps), then the format.
static void
s_describe_v31 (xinf_gw_buf_t *text, json_t *tools)
{
    xinf_gw_buf_add_str (text, "## Tools\nYou have access to the following tools:\n");
    for (size_t index = 0; index < json_array_size (tools); index++) {
        json_t *function = json_object_get (json_array_get (tools, index), "function");
        json_t *description = json_object_get (function, "description"), *parameters = json_object_get (function, "parameters");
        xinf_gw_buf_add_str (text, "\n### ");
        xinf_gw_buf_add_str (text, json_string_value (json_object_get (function, "name")));
        xinf_gw_buf_add_str (text, "\nDescription: ");
        xinf_gw_buf_add_str (text, json_is_string (description) ? json_string_value (description) : "");
        xinf_gw_buf_add_str (text, "\n\nParameters: ");
        char *dump = json_is_object (parameters) ? json_dumps (parameters, JSON_ENSURE_ASCII) : NULL;
        xinf_gw_buf_add_str (text, dump ? dump : "{}");
        free (dump);
        xinf_gw_buf_add_str (text, "\n");
    }
    xinf_gw_buf_add_str (text, "\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
                         "<" BAR "tool" LOW "calls" LOW "begin" BAR "><" BAR "tool" LOW "call" LOW "begin" BAR ">"
                         "tool_call_name<" BAR "tool" LOW "sep" BAR ">tool_call_arguments<" BAR "tool" LOW "call" LOW
                         "end" BAR ">{{additional_tool_calls}}<" BAR "tool" LOW "calls" LOW "end" BAR ">\n\nWhere:\n\n"
                         "- `tool_call_name` must be an exact match to one of the available tools\n"
                         "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
                         "- For multiple tool calls, chain them directly without separators or spaces");
}

//  R1's, as llama.cpp's template for it (models/templates/llama-cpp-deepseek-r1.jinja) writes it.
static void
s_describe_r1 (xinf_gw_buf_t *text, json_t *tools)
{
    json_t *functions = json_array ();
    for (size_t index = 0; index < json_array_size (tools); index++)
        json_array_append (functions, json_object_get (json_array_get (tools, index), "function"));
    char *dump = json_dumps (functions, JSON_INDENT (2));
    json_decref (functions);
    xinf_gw_buf_add_str (text, "You can call any of the following function tools to satisfy the user's requests: ");
    xinf_gw_buf_add_str (text, dump ? dump : "[]");
    free (dump);
    xinf_gw_buf_add_str (text, "\n\nExample function tool call syntax:\n\n"
                         "<" BAR "tool" LOW "calls" LOW "begin" BAR "><" BAR "tool" LOW "call" LOW "begin" BAR ">function<"
                         BAR "tool" LOW "sep" BAR ">example_function_name\n```json\n{\n  \"arg1\": \"some_value\"\n  ...\n}\n"
                         "```\n<" BAR "tool" LOW "call" LOW "end" BAR "><" BAR "tool" LOW "calls" LOW "end" BAR ">");
}

bool
xinf_gw_tools_describes (xinf_gw_tool_format_t format)
{
    return format == XINF_GW_TOOLS_DEEPSEEK_R1 || format == XINF_GW_TOOLS_DEEPSEEK_V31;
}

json_t *
xinf_gw_tools_described (json_t *messages, json_t *tools, xinf_gw_tool_format_t format)
{
    xinf_gw_buf_t text = { 0 };
    json_t *result = json_copy (messages);
    json_t *head = json_array_get (result, 0);
    json_t *content = json_object_get (head, "content");
    bool system = head && streq (json_string_value (json_object_get (head, "role")), "system") && json_is_string (content);
    if (system && json_string_length (content)) {
        xinf_gw_buf_add (&text, json_string_value (content), json_string_length (content));
        xinf_gw_buf_add_str (&text, "\n\n");
    }
    if (format == XINF_GW_TOOLS_DEEPSEEK_R1)
        s_describe_r1 (&text, tools);
    else
        s_describe_v31 (&text, tools);
    json_t *message = json_pack ("{s:s, s:s%}", "role", "system", "content", text.data, text.size);
    if (system)
        json_array_set_new (result, 0, message);
    else
        json_array_insert_new (result, 0, message);
    xinf_gw_buf_free (&text);
    return result;
}

json_t *
xinf_gw_tools_null_content (json_t *messages)
{
    json_t *result = json_copy (messages);
    for (size_t index = 0; index < json_array_size (result); index++) {
        json_t *message = json_array_get (result, index);
        json_t *content = json_object_get (message, "content");
        if (json_object_get (message, "tool_calls") && json_is_string (content) && json_string_length (content) == 0) {
            json_t *copy = json_copy (message);
            json_object_set_new (copy, "content", json_null ());
            json_array_set_new (result, index, copy);
        }
    }
    return result;
}

json_t *
xinf_gw_tools_string_arguments (json_t *messages)
{
    json_t *result = json_deep_copy (messages);
    for (size_t index = 0; index < json_array_size (result); index++) {
        json_t *calls = json_object_get (json_array_get (result, index), "tool_calls");
        for (size_t at = 0; at < json_array_size (calls); at++) {
            json_t *function = json_object_get (json_array_get (calls, at), "function");
            json_t *arguments = json_object_get (function, "arguments");
            if (!json_is_object (arguments))
                continue;
            char *dump = json_dumps (arguments, JSON_ENCODE_ANY);
            json_object_set_new (function, "arguments", json_string (dump ? dump : "{}"));
            free (dump);
        }
    }
    return result;
}

int
xinf_gw_tools_from (json_t *root, json_t *chat, const char *shape, xinf_gw_tool_fn *function_of,
                    xinf_gw_error_t *error)
{
    json_t *tools = json_object_get (root, "tools");
    if (!tools || json_is_null (tools))
        return 0;
    if (!json_is_array (tools))
        return xinf_gw_error_bad (error, "tools", "must be an array of %s", shape);
    json_t *functions = json_array ();
    json_object_set_new (chat, "tools", functions);
    for (size_t index = 0; index < json_array_size (tools); index++) {
        char param [32];
        snprintf (param, sizeof param, "tools[%zu]", index);
        json_t *function = function_of (json_array_get (tools, index), param, error);
        if (!function)
            return -1;
        json_array_append_new (functions, json_pack ("{s:s,s:o}", "type", "function", "function", function));
    }
    return 0;
}

json_t *
xinf_gw_tools_named_choice (json_t *name)
{
    return json_pack ("{s:s,s:{s:O}}", "type", "function", "function", "name", name);
}
