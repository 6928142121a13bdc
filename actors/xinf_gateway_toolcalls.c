/*  xinf_gateway_toolcalls: a model's text split into content and OpenAI
    tool calls (see the header for the formats and the streaming rules).

    A call's arguments are given out as the exact JSON text the model
    wrote (checked by jansson), so numbers keep their spelling.
*/
#include "xinf_gateway_toolcalls.h"

#include <ctype.h>

enum { s_START, s_TEXT, s_CALL, s_PLAIN };

#define HERMES_OPEN   "<tool_call>"
#define HERMES_CLOSE  "</tool_call>"
#define PYTHON_TAG    "<|python_tag|>"
#define MISTRAL_OPEN  "[TOOL_CALLS]"
#define MISTRAL_ARGS  "[ARGS]"
#define GLM_KEY       "<arg_key>"
#define GLM_KEY_END   "</arg_key>"
#define GLM_VALUE     "<arg_value>"
#define GLM_VALUE_END "</arg_value>"
#define BAR           "\xef\xbd\x9c"                 //  DeepSeek's markers: U+FF5C "｜"
#define LOW           "\xe2\x96\x81"                 //  and U+2581 "▁"
#define DS_OPEN       "<" BAR "tool" LOW "calls" LOW "begin" BAR ">"
#define DS_CLOSE      "<" BAR "tool" LOW "calls" LOW "end" BAR ">"
#define KIMI_OPEN     "<|tool_calls_section_begin|>"
#define KIMI_CLOSE    "<|tool_calls_section_end|>"
#define KIMI_CALL     "<|tool_call_begin|>"
#define CALL_NAME_MAX      256            //  bytes of a function name the model wrote

xinf_gw_tool_format_t
xinf_gw_tool_format_of (const char *source, bool *supports)
{
    *supports = source && strstr (source, "tools");
    if (source && strstr (source, KIMI_OPEN) && strstr (source, KIMI_CALL))
        return XINF_GW_TOOLS_KIMI_K2;
    if (source && strstr (source, DS_OPEN))      //  R1's and V3's calls carry their arguments in ```json
        return strstr (source, "```json") ? XINF_GW_TOOLS_DEEPSEEK_R1 : XINF_GW_TOOLS_DEEPSEEK_V31;
    if (source && strstr (source, GLM_KEY))
        return XINF_GW_TOOLS_GLM45;
    if (source && strstr (source, HERMES_OPEN))
        return XINF_GW_TOOLS_HERMES;
    if (source && strstr (source, MISTRAL_OPEN))
        return XINF_GW_TOOLS_MISTRAL;
    if (source && *supports && (strstr (source, PYTHON_TAG) || strstr (source, "<|start_header_id|>")))
        return XINF_GW_TOOLS_LLAMA3;
    return XINF_GW_TOOLS_HERMES;     //  and the fallback's system message teaches this one
}

const char *
xinf_gw_tool_format_name (xinf_gw_tool_format_t format)
{
    return format == XINF_GW_TOOLS_LLAMA3 ? "llama3" : format == XINF_GW_TOOLS_MISTRAL ? "mistral"
         : format == XINF_GW_TOOLS_GLM45 ? "glm45" : format == XINF_GW_TOOLS_DEEPSEEK_R1 ? "deepseek_r1"
         : format == XINF_GW_TOOLS_DEEPSEEK_V31 ? "deepseek_v3_1" : format == XINF_GW_TOOLS_KIMI_K2 ? "kimi_k2"
         : "hermes";
}

//  Whether calls of 'format' sit in sections (DeepSeek's, Kimi's).
static bool
s_sections (xinf_gw_tool_format_t format)
{
    return format == XINF_GW_TOOLS_DEEPSEEK_R1 || format == XINF_GW_TOOLS_DEEPSEEK_V31
        || format == XINF_GW_TOOLS_KIMI_K2;
}

const char *const *
xinf_gw_tool_openers (xinf_gw_tool_format_t format)
{
    static const char *const hermes [] = { HERMES_OPEN, NULL };
    static const char *const mistral [] = { MISTRAL_OPEN, NULL };
    static const char *const deepseek [] = { DS_OPEN, "<" BAR "tool_calls_begin" BAR ">", "<" BAR "tool calls begin" BAR ">",
                                             "<" BAR "tool\\_calls\\_begin" BAR ">", "<" BAR "tool" LOW "calls" BAR ">", NULL };
    static const char *const kimi [] = { KIMI_OPEN, KIMI_CALL, NULL };
    return format == XINF_GW_TOOLS_MISTRAL ? mistral : format == XINF_GW_TOOLS_KIMI_K2 ? kimi
         : s_sections (format) ? deepseek : hermes;
}

//  The marker that closes a call (Hermes, GLM) or a section; NULL: calls
//  run to the end of the text.
static const char *
s_closer (xinf_gw_tool_format_t format)
{
    return format == XINF_GW_TOOLS_HERMES || format == XINF_GW_TOOLS_GLM45 ? HERMES_CLOSE
         : format == XINF_GW_TOOLS_KIMI_K2 ? KIMI_CLOSE : s_sections (format) ? DS_CLOSE : NULL;
}

void
xinf_gw_toolcalls_init (xinf_gw_toolcalls_t *self, xinf_gw_tool_format_t format, bool parallel)
{
    memset (self, 0, sizeof *self);
    self->format = format;
    self->state = format == XINF_GW_TOOLS_LLAMA3 || format == XINF_GW_TOOLS_MISTRAL ? s_START : s_TEXT;
    self->marker = "";
    self->max_calls = parallel ? SIZE_MAX : 1;
}

void
xinf_gw_toolcalls_set_tools (xinf_gw_toolcalls_t *self, const json_t *tools)
{
    self->tools = tools;
}

void
xinf_gw_toolcalls_clear (xinf_gw_toolcalls_t *self)
{
    xinf_gw_buf_free (&self->pending);
}

// ---- JSON spans -------------------------------------------------------------

bool
xinf_gw_toolcall_blank (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t
xinf_gw_toolcall_skip_blanks (const char *text, size_t size, size_t at)
{
    while (at < size && xinf_gw_toolcall_blank (text [at]))
        at++;
    return at;
}

//  The end of the JSON value at 'at' in text jansson has checked.
static size_t
s_value_end (const char *text, size_t size, size_t at)
{
    int depth = 0;
    bool in_string = false;
    for (; at < size; at++) {
        char c = text [at];
        if (in_string) {
            if (c == '\\')
                at++;
            else
            if (c == '"') {
                in_string = false;
                if (depth == 0)
                    return at + 1;
            }
            continue;
        }
        if (c == '"')
            in_string = true;
        else
        if (c == '{' || c == '[')
            depth++;
        else
        if (c == '}' || c == ']') {
            if (--depth == 0)
                return at + 1;
            if (depth < 0)
                return at;
        }
        else
        if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t'))
            return at;
    }
    return at;
}

//  The raw text of the value of top-level key 'key' in the object at
//  text[0] (checked JSON); false when absent.
static bool
s_member_span (const char *text, size_t size, const char *key, size_t *start, size_t *end)
{
    size_t key_length = strlen (key);
    size_t at = xinf_gw_toolcall_skip_blanks (text, size, 1);
    while (at < size && text [at] == '"') {
        size_t key_end = s_value_end (text, size, at);
        bool match = key_end - at == key_length + 2 && memcmp (text + at + 1, key, key_length) == 0;
        at = xinf_gw_toolcall_skip_blanks (text, size, key_end);
        if (at >= size || text [at] != ':')
            return false;
        at = xinf_gw_toolcall_skip_blanks (text, size, at + 1);
        size_t value_end = s_value_end (text, size, at);
        if (match) {
            *start = at;
            *end = value_end;
            return true;
        }
        at = xinf_gw_toolcall_skip_blanks (text, size, value_end);
        if (at < size && text [at] == ',')
            at = xinf_gw_toolcall_skip_blanks (text, size, at + 1);
    }
    return false;
}

// ---- one call ---------------------------------------------------------------

//  "call_" and 24 letters or digits, as OpenAI; Mistral's templates
//  refuse any id but 9 letters or digits (as vLLM makes them for Mistral).
static void
s_call_id (xinf_gw_tool_format_t format, char *id, size_t size)
{
    static const char alphabet [] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t start = format == XINF_GW_TOOLS_MISTRAL ? 0 : 5, end = format == XINF_GW_TOOLS_MISTRAL ? 9 : 29;
    snprintf (id, size, "%s", start ? "call_" : "");
    for (size_t at = start; at < end && at + 1 < size; at++) {
        id [at] = alphabet [randof (sizeof alphabet - 1)];
        id [at + 1] = 0;
    }
}

json_t *
xinf_gw_toolcall_new (xinf_gw_tool_format_t format, const char *name, size_t name_size, const char *arguments,
                      size_t arguments_size, const char *id)
{
    char random_id [32];
    s_call_id (format, random_id, sizeof random_id);
    json_t *function = json_object ();
    json_object_set_new (function, "name", json_stringn (name, name_size));
    json_object_set_new (function, "arguments", json_stringn (arguments, arguments_size));
    json_t *call = json_object ();
    json_object_set_new (call, "id", json_string (id ? id : random_id));
    json_object_set_new (call, "type", json_string ("function"));
    json_object_set_new (call, "function", function);
    return call;
}

static json_t *
s_call_new (xinf_gw_tool_format_t format, const char *name, size_t name_size, const char *arguments,
            size_t arguments_size)
{
    return xinf_gw_toolcall_new (format, name, name_size, arguments, arguments_size, NULL);
}

//  A function name the model wrote: 1 to CALL_NAME_MAX bytes, no control characters.
static bool
s_name_valid (const char *name, size_t size)
{
    if (size < 1 || size > CALL_NAME_MAX)
        return false;
    for (size_t at = 0; at < size; at++)
        if ((unsigned char) name [at] < 0x20)
            return false;
    return true;
}

//  One call object: {"name": N, "arguments" or "parameters": {...} or a
//  string}; appended to 'calls' (NULL when the object is not a call).
static json_t *
s_call_from_object (xinf_gw_tool_format_t format, json_t *object, const char *text, size_t size)
{
    json_t *name = json_object_get (object, "name");
    if (!json_is_string (name) || !s_name_valid (json_string_value (name), json_string_length (name)))
        return NULL;
    const char *keys [] = { "arguments", "parameters" };
    for (size_t index = 0; index < 2; index++) {
        json_t *arguments = json_object_get (object, keys [index]);
        if (!arguments)
            continue;
        if (json_is_string (arguments))
            return s_call_new (format, json_string_value (name), json_string_length (name), json_string_value (arguments),
                               json_string_length (arguments));
        size_t start, end;
        if (!json_is_object (arguments) || !s_member_span (text, size, keys [index], &start, &end))
            return NULL;
        return s_call_new (format, json_string_value (name), json_string_length (name), text + start, end - start);
    }
    return s_call_new (format, json_string_value (name), json_string_length (name), "{}", 2);
}

//  Parses JSON values from text[*at]: one object (want_array false) or an
//  array of objects; each a call, added to 'found'. False when any is not.
static bool
s_parse_calls (xinf_gw_tool_format_t format, const char *text, size_t size, size_t *at, bool want_array,
               json_t *found)
{
    json_error_t error;
    size_t start = xinf_gw_toolcall_skip_blanks (text, size, *at);
    json_t *value = json_loadb (text + start, size - start, JSON_DISABLE_EOF_CHECK, &error);
    if (!value)
        return false;
    bool ok = want_array ? json_is_array (value) && json_array_size (value) > 0 : json_is_object (value);
    size_t end = start + s_value_end (text + start, size - start, 0);
    if (ok && !want_array) {
        json_t *call = s_call_from_object (format, value, text + start, end - start);
        ok = call != NULL;
        if (call)
            json_array_append_new (found, call);
    }
    //  An array's items: find each one's span to keep its arguments' text
    for (size_t index = 0, item = xinf_gw_toolcall_skip_blanks (text, size, start + 1); ok && want_array
         && index < json_array_size (value); index++) {
        json_t *object = json_array_get (value, index);
        size_t item_end = item + s_value_end (text + item, end - item, 0);
        json_t *call = json_is_object (object) ? s_call_from_object (format, object, text + item, item_end - item) : NULL;
        ok = call != NULL;
        if (call)
            json_array_append_new (found, call);
        item = xinf_gw_toolcall_skip_blanks (text, size, item_end);
        if (item < size && text [item] == ',')
            item = xinf_gw_toolcall_skip_blanks (text, size, item + 1);
    }
    json_decref (value);
    *at = end;
    return ok;
}

bool
xinf_gw_toolcall_object_span (const char *text, size_t size, size_t at, size_t *start, size_t *end)
{
    json_error_t error;
    *start = xinf_gw_toolcall_skip_blanks (text, size, at);
    json_t *value = json_loadb (text + *start, size - *start, JSON_DISABLE_EOF_CHECK, &error);
    bool ok = json_is_object (value);
    json_decref (value);
    *end = *start + s_value_end (text + *start, size - *start, 0);
    return ok;
}

//  Mistral Small 3.2: name[ARGS]{...}, calls separated by [TOOL_CALLS].
static bool
s_parse_named_args (const char *text, size_t size, json_t *found)
{
    size_t at = 0;
    while (true) {
        at = xinf_gw_toolcall_skip_blanks (text, size, at);
        const char *args = memmem (text + at, size - at, MISTRAL_ARGS, strlen (MISTRAL_ARGS));
        if (!args || !s_name_valid (text + at, (size_t) (args - text - at)))
            return false;
        size_t start, end;
        if (!xinf_gw_toolcall_object_span (text, size, (size_t) (args - text) + strlen (MISTRAL_ARGS), &start, &end))
            return false;
        json_array_append_new (found, s_call_new (XINF_GW_TOOLS_MISTRAL, text + at, (size_t) (args - text - at),
                                                  text + start, end - start));
        at = xinf_gw_toolcall_skip_blanks (text, size, end);
        if (at == size)
            return true;
        if (size - at < strlen (MISTRAL_OPEN) || memcmp (text + at, MISTRAL_OPEN, strlen (MISTRAL_OPEN)) != 0)
            return false;
        at += strlen (MISTRAL_OPEN);
    }
}

//  The text between 'open' at text[*at] and the next 'close': its span;
//  *at then past 'close'. False when either is missing.
static bool
s_tagged (const char *text, size_t size, size_t *at, const char *open, const char *close, size_t *start,
          size_t *length)
{
    size_t open_length = strlen (open);
    if (size - *at < open_length || memcmp (text + *at, open, open_length) != 0)
        return false;
    *start = *at + open_length;
    const char *end = memmem (text + *start, size - *start, close, strlen (close));
    if (!end)
        return false;
    *length = (size_t) (end - text) - *start;
    *at = (size_t) (end - text) + strlen (close);
    return true;
}

//  Whether the request's tool 'name' types its parameter 'key' as a string
//  (parameters.properties.KEY.type "string", or a list of types with it).
static bool
s_string_parameter (const json_t *tools, const char *name, const char *key, size_t key_length)
{
    for (size_t index = 0; index < json_array_size (tools); index++) {
        json_t *function = json_object_get (json_array_get (tools, index), "function");
        if (!json_is_string (json_object_get (function, "name"))
        ||  strcmp (json_string_value (json_object_get (function, "name")), name) != 0)
            continue;
        json_t *properties = json_object_get (json_object_get (function, "parameters"), "properties");
        json_t *type = json_object_get (json_object_getn (properties, key, key_length), "type");
        for (size_t at = 0; json_is_array (type) && at < json_array_size (type); at++)
            if (json_is_string (json_array_get (type, at))
            &&  strcmp (json_string_value (json_array_get (type, at)), "string") == 0)
                return true;
        return json_is_string (type) && strcmp (json_string_value (type), "string") == 0;
    }
    return false;
}

//  Appends text as a JSON string; false when it is not UTF-8.
static bool
s_add_json_string (xinf_gw_buf_t *out, const char *text, size_t size)
{
    json_t *string = json_stringn (text, size);
    char *dumped = string ? json_dumps (string, JSON_ENCODE_ANY) : NULL;
    if (dumped)
        xinf_gw_buf_add_str (out, dumped);
    free (dumped);
    json_decref (string);
    return dumped != NULL;
}

//  Appends a GLM-4.5 argument's value: a JSON string where the tool types
//  the parameter so, else the model's own text where it is JSON (numbers
//  keep their spelling), else a JSON string; false when it is not UTF-8.
static bool
s_add_glm_value (xinf_gw_buf_t *out, bool string, const char *value, size_t size)
{
    size_t start = xinf_gw_toolcall_skip_blanks (value, size, 0), end = size;
    while (end > start && xinf_gw_toolcall_blank (value [end - 1]))
        end--;
    json_error_t error;
    json_t *parsed = string ? NULL : json_loadb (value + start, end - start, JSON_DECODE_ANY, &error);
    json_decref (parsed);
    if (!parsed)
        return s_add_json_string (out, value, size);
    xinf_gw_buf_add (out, value + start, end - start);
    return true;
}

//  GLM-4.5's, DeepSeek's and Kimi's function names: OpenAI's and
//  namespaced ones (not a Hermes call's JSON).
bool
xinf_gw_toolcall_name_valid (const char *name, size_t size)
{
    if (size < 1 || size > 64)
        return false;
    for (size_t at = 0; at < size; at++)
        if (!isalnum ((unsigned char) name [at]) && !(name [at] && strchr ("_-.:", name [at])))
            return false;
    return true;
}

//  GLM-4.5's call: its name, then <arg_key>/<arg_value> pairs, blanks
//  between; arguments given out as a JSON object of the model's values.
//  False when the name, a key or a value is not one (a key empty, too
//  long, repeated or with control characters; text that is not UTF-8).
static bool
s_parse_glm (const xinf_gw_toolcalls_t *self, const char *text, size_t size, json_t *found)
{
    const char *first_key = memmem (text, size, GLM_KEY, strlen (GLM_KEY));
    size_t at = first_key ? (size_t) (first_key - text) : size, start = xinf_gw_toolcall_skip_blanks (text, at, 0), end = at;
    while (end > start && xinf_gw_toolcall_blank (text [end - 1]))
        end--;
    if (!xinf_gw_toolcall_name_valid (text + start, end - start))
        return false;
    char name [CALL_NAME_MAX + 1];
    snprintf (name, sizeof name, "%.*s", (int) (end - start), text + start);
    json_t *keys = json_object ();
    xinf_gw_buf_t arguments = { 0 };
    xinf_gw_buf_add_str (&arguments, "{");
    bool ok = true;
    while (ok && (at = xinf_gw_toolcall_skip_blanks (text, size, at)) < size) {
        size_t key, key_length, value, value_length;
        ok = s_tagged (text, size, &at, GLM_KEY, GLM_KEY_END, &key, &key_length);
        at = xinf_gw_toolcall_skip_blanks (text, size, at);
        ok = ok && s_tagged (text, size, &at, GLM_VALUE, GLM_VALUE_END, &value, &value_length)
          && s_name_valid (text + key, key_length) && !json_object_getn (keys, text + key, key_length)
          && json_object_setn_new (keys, text + key, key_length, json_true ()) == 0;
        if (ok && json_object_size (keys) > 1)
            xinf_gw_buf_add_str (&arguments, ",");
        ok = ok && s_add_json_string (&arguments, text + key, key_length);
        if (ok)
            xinf_gw_buf_add_str (&arguments, ":");
        ok = ok && s_add_glm_value (&arguments, s_string_parameter (self->tools, name, text + key, key_length),
                                    text + value, value_length);
    }
    xinf_gw_buf_add_str (&arguments, "}");
    if (ok)
        json_array_append_new (found, s_call_new (XINF_GW_TOOLS_GLM45, name, strlen (name), arguments.data,
                                                  arguments.size));
    xinf_gw_buf_free (&arguments);
    json_decref (keys);
    return ok;
}

//  The body of a call (text after the marker); calls into 'found'.
static bool
s_parse_body (xinf_gw_toolcalls_t *self, const char *text, size_t size, json_t *found)
{
    if (self->format == XINF_GW_TOOLS_GLM45)
        return s_parse_glm (self, text, size, found);
    if (s_sections (self->format))
        return xinf_gw_toolcalls_sections_parse (self->format, self->marker, text, size, found);
    size_t at = xinf_gw_toolcall_skip_blanks (text, size, 0);
    if (at == size)
        return false;
    if (self->format == XINF_GW_TOOLS_MISTRAL && text [at] != '[')
        return s_parse_named_args (text, size, found);
    bool array = self->format == XINF_GW_TOOLS_MISTRAL;
    while (at < size) {
        if (!s_parse_calls (self->format, text, size, &at, array, found))
            return false;
        //  Llama 3: several objects, blanks or ';' between
        at = xinf_gw_toolcall_skip_blanks (text, size, at);
        if (at < size && text [at] == ';' && self->format == XINF_GW_TOOLS_LLAMA3)
            at = xinf_gw_toolcall_skip_blanks (text, size, at + 1);
        if (at < size && (self->format != XINF_GW_TOOLS_LLAMA3 || text [at] != '{'))
            return false;
    }
    return true;
}

// ---- the stream -------------------------------------------------------------

//  Calls found in a body go out (up to max_calls); a body that does not
//  parse is content again, with its marker and closing tag.
static void
s_take_body (xinf_gw_toolcalls_t *self, const char *body, size_t size, const char *closing, xinf_gw_buf_t *content,
             json_t *calls)
{
    json_t *found = json_array ();
    if (s_parse_body (self, body, size, found)) {
        for (size_t index = 0; index < json_array_size (found); index++)
            if (self->calls < self->max_calls) {
                json_array_append (calls, json_array_get (found, index));
                self->calls++;
            }
            else
                xinf_debug ("gateway", "tool call %zu dropped: parallel_tool_calls is false", self->calls + index);
    }
    else {
        xinf_debug ("gateway", "a %s tool call that does not parse is content (%zu bytes)",
                    xinf_gw_tool_format_name (self->format), size);
        xinf_gw_buf_add_str (content, self->marker);
        xinf_gw_buf_add (content, body, size);
        xinf_gw_buf_add_str (content, closing);
    }
    json_decref (found);
}

//  The longest tail of pending that is a proper prefix of 'marker'.
static size_t
s_prefix_tail (const xinf_gw_buf_t *pending, const char *marker)
{
    size_t length = strlen (marker);
    for (size_t tail = length - 1; tail > 0; tail--)
        if (tail <= pending->size && memcmp (pending->data + pending->size - tail, marker, tail) == 0)
            return tail;
    return 0;
}

//  Gives out the first 'count' pending bytes as content; after a call,
//  blanks are held (they only separate calls) until text follows.
static void
s_give (xinf_gw_toolcalls_t *self, size_t count, xinf_gw_buf_t *content)
{
    if (self->calls > 0 && xinf_gw_toolcall_skip_blanks (self->pending.data, count, 0) == count)
        return;
    xinf_gw_buf_add (content, self->pending.data, count);
    xinf_gw_buf_consume (&self->pending, count);
}

//  At the start (Llama 3, Mistral): a call, plain text, or not known yet.
static bool
s_decide_start (xinf_gw_toolcalls_t *self)
{
    size_t at = xinf_gw_toolcall_skip_blanks (self->pending.data, self->pending.size, 0);
    const char *tag = self->format == XINF_GW_TOOLS_LLAMA3 ? PYTHON_TAG : MISTRAL_OPEN;
    size_t rest = self->pending.size - at, tag_length = strlen (tag);
    if (rest == 0 || (rest < tag_length && memcmp (self->pending.data + at, tag, rest) == 0))
        return false;                       //  blanks, or the start of the tag
    if (rest >= tag_length && memcmp (self->pending.data + at, tag, tag_length) == 0) {
        self->marker = tag;
        xinf_gw_buf_consume (&self->pending, at + tag_length);
        self->state = s_CALL;
    }
    else
    if (self->pending.data [at] == (self->format == XINF_GW_TOOLS_LLAMA3 ? '{' : '[')) {
        self->marker = "";
        self->state = s_CALL;
    }
    else
        self->state = self->format == XINF_GW_TOOLS_LLAMA3 ? s_PLAIN : s_TEXT;
    return true;
}

//  Text state: content up to the next call's (or section's) opening
//  marker, the first of the format's that the text holds.
static bool
s_scan_text (xinf_gw_toolcalls_t *self, xinf_gw_buf_t *content)
{
    const char *const *openers = xinf_gw_tool_openers (self->format);
    const char *found = NULL, *tag = NULL;
    size_t hold = 0;
    for (size_t index = 0; openers [index]; index++) {
        const char *at = memmem (self->pending.data, self->pending.size, openers [index], strlen (openers [index]));
        if (at && (!found || at < found)) {
            found = at;
            tag = openers [index];
        }
        size_t tail = s_prefix_tail (&self->pending, openers [index]);
        hold = tail > hold ? tail : hold;
    }
    if (!found) {
        s_give (self, self->pending.size - hold, content);
        return false;
    }
    size_t before = (size_t) (found - self->pending.data);
    //  Blanks between calls are not content
    if (self->calls == 0 || xinf_gw_toolcall_skip_blanks (self->pending.data, before, 0) < before)
        xinf_gw_buf_add (content, self->pending.data, before);
    xinf_gw_buf_consume (&self->pending, before);
    xinf_gw_buf_consume (&self->pending, strlen (tag));
    self->marker = tag;
    self->state = s_CALL;
    return true;
}

//  Call state: Hermes's and GLM's calls end with their closing tag,
//  DeepSeek's and Kimi's sections with theirs; the others run to the end
//  of the text. Too long a body is content from there on.
static bool
s_scan_call (xinf_gw_toolcalls_t *self, xinf_gw_buf_t *content, json_t *calls)
{
    const char *closer = s_closer (self->format);
    const char *found = closer ? memmem (self->pending.data, self->pending.size, closer, strlen (closer)) : NULL;
    if (found) {
        size_t size = (size_t) (found - self->pending.data);
        s_take_body (self, self->pending.data, size, closer, content, calls);
        xinf_gw_buf_consume (&self->pending, size + strlen (closer));
        self->state = s_TEXT;
        return true;
    }
    if (self->pending.size > XINF_GW_TOOL_BODY_MAX) {
        xinf_debug ("gateway", "a tool call over %d bytes is content", XINF_GW_TOOL_BODY_MAX);
        xinf_gw_buf_add_str (content, self->marker);
        self->state = s_PLAIN;
        return true;
    }
    return false;
}

void
xinf_gw_toolcalls_feed (xinf_gw_toolcalls_t *self, const char *text, size_t size, xinf_gw_buf_t *content,
                        json_t *calls)
{
    xinf_gw_buf_add (&self->pending, text, size);
    bool more = true;
    while (more && self->pending.size) {
        if (self->state == s_START)
            more = s_decide_start (self);
        else
        if (self->state == s_TEXT)
            more = s_scan_text (self, content);
        else
        if (self->state == s_CALL)
            more = s_scan_call (self, content, calls);
        else {
            xinf_gw_buf_add (content, self->pending.data, self->pending.size);
            xinf_gw_buf_consume (&self->pending, self->pending.size);
            more = false;
        }
    }
}

void
xinf_gw_toolcalls_flush (xinf_gw_toolcalls_t *self, xinf_gw_buf_t *content, json_t *calls)
{
    if (self->state == s_CALL)
        //  The end closes an open call: a Hermes call may lack its closing tag
        s_take_body (self, self->pending.data ? self->pending.data : "", self->pending.size, "", content, calls);
    else
    if (self->calls == 0 || xinf_gw_toolcall_skip_blanks (self->pending.data, self->pending.size, 0) < self->pending.size)
        xinf_gw_buf_add (content, self->pending.data, self->pending.size);
    xinf_gw_buf_consume (&self->pending, self->pending.size);
    self->state = s_PLAIN;
}
