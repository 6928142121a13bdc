/*  xinf_gateway_toolcalls_sections: the calls in a DeepSeek or Kimi K2
    section, as llama.cpp's parsers read them (common/chat.cpp: DeepSeek
    R1's and V3.1's regexes, Kimi K2's parser), into OpenAI tool calls.

    A section's body, between its opening marker and its end, is a run of
    calls with blanks between; any call that does not parse makes the
    whole section content again (the caller gives it back as written).

      DeepSeek  [<｜tool▁call▁begin｜>] HEAD <｜tool▁sep｜> then either
                {ARGS} (V3.1: HEAD is the name) or NAME\n```json\n{ARGS}```
                (R1, V3: HEAD is the type, "function"; blanks around the
                fences); then <｜tool▁call▁end｜>, which only the last call
                of a section may lack.
      Kimi K2   <|tool_call_begin|> ID <|tool_call_argument_begin|> {ARGS}
                [<|tool_call_end|>]; ID is functions.NAME:IDX ("functions."
                and ":IDX" each optional), and is the call's id when it is
                the model's usual form and new in this answer.
*/
#include "xinf_gateway_toolcalls.h"

#define BAR          "\xef\xbd\x9c"              //  U+FF5C "｜"
#define LOW          "\xe2\x96\x81"              //  U+2581 "▁"
#define DS_CALL      "<" BAR "tool" LOW "call" LOW "begin" BAR ">"
#define DS_CALL_END  "<" BAR "tool" LOW "call" LOW "end" BAR ">"
#define DS_SEP       "<" BAR "tool" LOW "sep" BAR ">"
#define KIMI_CALL    "<|tool_call_begin|>"
#define KIMI_ARGS    "<|tool_call_argument_begin|>"
#define KIMI_END     "<|tool_call_end|>"
#define KIMI_PREFIX  "functions."
#define ID_MAX       128                          //  bytes of a Kimi call id kept as the model wrote it

//  Whether text[at] begins with 'word'; if so, *at moves past it.
static bool
s_take (const char *text, size_t size, size_t *at, const char *word)
{
    size_t length = strlen (word);
    if (size - *at < length || memcmp (text + *at, word, length) != 0)
        return false;
    *at += length;
    return true;
}

//  Where 'word' is in text from 'at' on, or SIZE_MAX.
static size_t
s_find (const char *text, size_t size, size_t at, const char *word)
{
    const char *found = at < size ? memmem (text + at, size - at, word, strlen (word)) : NULL;
    return found ? (size_t) (found - text) : SIZE_MAX;
}

//  text[*start, *end) without the blanks around it.
static void
s_trim (const char *text, size_t *start, size_t *end)
{
    while (*start < *end && xinf_gw_toolcall_blank (text [*start]))
        (*start)++;
    while (*end > *start && xinf_gw_toolcall_blank (text [*end - 1]))
        (*end)--;
}

// ---- DeepSeek ---------------------------------------------------------------

//  After <｜tool▁sep｜> at 'at', R1's form: NAME\n```json\n{ARGS}```; the
//  name's and the arguments' spans, *at past the closing fence.
static bool
s_deepseek_fenced (const char *text, size_t size, size_t *at, size_t *name, size_t *name_end, size_t *start,
                   size_t *end)
{
    size_t line = s_find (text, size, *at, "\n");
    if (line == SIZE_MAX)
        return false;
    *name = *at;
    *name_end = line;
    s_trim (text, name, name_end);
    size_t next = xinf_gw_toolcall_skip_blanks (text, size, line);
    if (!s_take (text, size, &next, "```json") || !xinf_gw_toolcall_object_span (text, size, next, start, end))
        return false;
    next = xinf_gw_toolcall_skip_blanks (text, size, *end);
    if (!s_take (text, size, &next, "```"))
        return false;
    *at = next;
    return true;
}

//  One DeepSeek call at text[*at] into 'found'; *at past it.
static bool
s_deepseek_call (const char *text, size_t size, size_t *at, json_t *found)
{
    s_take (text, size, at, DS_CALL);
    size_t sep = s_find (text, size, *at, DS_SEP);
    if (sep == SIZE_MAX)
        return false;
    size_t head = *at, head_end = sep, name, name_end, start, end;
    s_trim (text, &head, &head_end);
    size_t next = sep + strlen (DS_SEP);
    size_t first = xinf_gw_toolcall_skip_blanks (text, size, next);
    if (first < size && text [first] == '{') {             //  V3.1: NAME<｜tool▁sep｜>{ARGS}
        if (!xinf_gw_toolcall_object_span (text, size, first, &start, &end))
            return false;
        name = head;
        name_end = head_end;
        next = end;
    }
    else
    if (head_end - head != strlen ("function") || memcmp (text + head, "function", head_end - head) != 0
    ||  !s_deepseek_fenced (text, size, &next, &name, &name_end, &start, &end))
        return false;
    if (!xinf_gw_toolcall_name_valid (text + name, name_end - name))
        return false;
    next = xinf_gw_toolcall_skip_blanks (text, size, next);
    if (!s_take (text, size, &next, DS_CALL_END) && next != size)
        return false;                                      //  only the last call may lack its end
    json_array_append_new (found, xinf_gw_toolcall_new (XINF_GW_TOOLS_DEEPSEEK_V31, text + name, name_end - name,
                                                        text + start, end - start, NULL));
    *at = next;
    return true;
}

// ---- Kimi K2 ----------------------------------------------------------------

//  Whether a call 'id' is already one of 'found'.
static bool
s_id_used (json_t *found, const char *id)
{
    for (size_t index = 0; index < json_array_size (found); index++)
        if (streq (json_string_value (json_object_get (json_array_get (found, index), "id")), id))
            return true;
    return false;
}

//  One Kimi call at text[*at] (after its <|tool_call_begin|>) into 'found'.
static bool
s_kimi_call (const char *text, size_t size, size_t *at, json_t *found)
{
    size_t args = s_find (text, size, *at, KIMI_ARGS);
    if (args == SIZE_MAX)
        return false;
    size_t id = *at, id_end = args, start, end;
    s_trim (text, &id, &id_end);
    size_t name = id, name_end = id_end;
    s_take (text, name_end, &name, KIMI_PREFIX);
    size_t digits = name_end;
    while (digits > name && text [digits - 1] >= '0' && text [digits - 1] <= '9')
        digits--;
    bool indexed = digits < name_end && digits > name && text [digits - 1] == ':';
    if (indexed)
        name_end = digits - 1;
    if (!xinf_gw_toolcall_name_valid (text + name, name_end - name)
    ||  !xinf_gw_toolcall_object_span (text, size, args + strlen (KIMI_ARGS), &start, &end))
        return false;
    //  The model's id where it is its usual functions.NAME:IDX, new here
    char call_id [ID_MAX + 1] = "";
    if (indexed && name > id && id_end - id <= ID_MAX)
        snprintf (call_id, sizeof call_id, "%.*s", (int) (id_end - id), text + id);
    if (*call_id && s_id_used (found, call_id))
        *call_id = 0;
    json_array_append_new (found, xinf_gw_toolcall_new (XINF_GW_TOOLS_KIMI_K2, text + name, name_end - name,
                                                        text + start, end - start, *call_id ? call_id : NULL));
    *at = xinf_gw_toolcall_skip_blanks (text, size, end);
    s_take (text, size, at, KIMI_END);
    return true;
}

bool
xinf_gw_toolcalls_sections_parse (xinf_gw_tool_format_t format, const char *marker, const char *body,
                                  size_t size, json_t *found)
{
    bool kimi = format == XINF_GW_TOOLS_KIMI_K2;
    //  A bare <|tool_call_begin|> opened Kimi's calls: the first is begun
    bool begun = kimi && streq (marker, KIMI_CALL);
    size_t at = 0, count = 0;
    while ((at = xinf_gw_toolcall_skip_blanks (body, size, at)) < size || begun) {
        if (kimi && !begun && !s_take (body, size, &at, KIMI_CALL))
            return false;
        begun = false;
        if (!(kimi ? s_kimi_call (body, size, &at, found) : s_deepseek_call (body, size, &at, found)))
            return false;
        count++;
    }
    return count > 0;
}
