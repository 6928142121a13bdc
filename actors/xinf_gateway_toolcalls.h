/*  xinf_gateway_toolcalls: a model's text split into content and OpenAI
    tool calls, in the format its chat template taught it.

    Formats:
      HERMES   (Qwen2.5, Qwen3, Hermes, and the fallback for templates
               without tools): <tool_call>{"name": N, "arguments": {...}}</tool_call>,
               one or several, anywhere in the text.
      LLAMA3   (Llama 3.1, 3.2, 3.3): the answer is one or more JSON objects
               {"name": N, "parameters": {...}} (";" or blanks between),
               optionally after <|python_tag|>; only at the start.
      GLM45    (GLM-4.5, GLM-4.6): <tool_call>NAME then <arg_key>K</arg_key>
               <arg_value>V</arg_value> pairs, </tool_call>, anywhere in the
               text; NAME of letters, digits, _ - . :; a value is a string
               where the request's tool types that parameter "string" (or
               lists it among its types), else the model's own text where
               it is JSON (numbers keep their spelling), else a string (as
               GLM's template writes them).
      MISTRAL  (Mistral, Mistral Nemo, Mistral Small): [TOOL_CALLS] then a
               JSON array of {"name", "arguments"}, or name[ARGS]{...}
               (Small 3.2). [TOOL_CALLS] is a control token that the
               worker's decoding renders as nothing, so an answer that
               starts with a JSON array of calls counts as well.
      DEEPSEEK_R1  (DeepSeek R1, V3; their templates write ```json):
               <｜tool▁calls▁begin｜>, then calls <｜tool▁call▁begin｜>function
               <｜tool▁sep｜>NAME\n```json\n{ARGS}\n```<｜tool▁call▁end｜>,
               <｜tool▁calls▁end｜>; anywhere in the text (｜ is U+FF5C, ▁
               U+2581). A section opens as well at the spellings llama.cpp
               takes for a model that wrote the marker as text
               (<｜tool_calls_begin｜>, <｜tool calls begin｜>,
               <｜tool\_calls\_begin｜>, <｜tool▁calls｜>).
      DEEPSEEK_V31 (DeepSeek V3.1): the same section, each call
               <｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{ARGS}<｜tool▁call▁end｜>.
               Both DeepSeek formats read both forms of a call (after
               <｜tool▁sep｜>, '{' begins V3.1's arguments); a call's
               <｜tool▁call▁begin｜> may be left out, its <｜tool▁call▁end｜>
               only at the section's end, as llama.cpp's regexes allow.
      KIMI_K2  (Kimi K2 Instruct and Thinking): <|tool_calls_section_begin|>,
               then calls <|tool_call_begin|>functions.NAME:IDX
               <|tool_call_argument_begin|>{ARGS}<|tool_call_end|>,
               <|tool_calls_section_end|>; a bare <|tool_call_begin|>
               opens calls too, and <|tool_call_end|> may be left out
               (llama.cpp's parser takes both). The call's id is the
               model's own "functions.NAME:IDX", as llama-server gives it
               (Kimi's templates write it back for the result).
      DeepSeek's and Kimi's NAME: 1 to 64 letters, digits, _ - . :; ARGS
      a JSON object (its text given out as written). Their markers (and
      Kimi's <think>) are control tokens in GGUF files as llama.cpp's
      converter types them; the tokenizer renders them as their text
      (xinf_tokenizer.c's s_preserved, as llama-server keeps its chat
      formats' "preserved tokens"), so they reach this parser.

    The parser works on pieces as they stream: text that cannot be part
    of a call is given out as soon as it is known, a possible start of a
    call (a partial "<tool_call>" or other opening marker) is held back
    until it is decided, and a call is given out once it is complete.
    Feeding the same text in any pieces gives the same content and calls.
    A call that does not parse (bad JSON, no name, arguments not an
    object) is given back as content, with its tags, and logged at debug.
    A call body over XINF_GW_TOOL_BODY_MAX bytes stops the parsing: the
    rest is content.
*/
#ifndef XINF_GATEWAY_TOOLCALLS_H_INCLUDED
#define XINF_GATEWAY_TOOLCALLS_H_INCLUDED

#include "xinf_gateway_private.h"

#define XINF_GW_TOOL_BODY_MAX  (1 << 20)   //  bytes of one call's text

typedef enum {
    XINF_GW_TOOLS_HERMES = 1,
    XINF_GW_TOOLS_LLAMA3,
    XINF_GW_TOOLS_MISTRAL,
    XINF_GW_TOOLS_GLM45,
    XINF_GW_TOOLS_DEEPSEEK_R1,
    XINF_GW_TOOLS_DEEPSEEK_V31,
    XINF_GW_TOOLS_KIMI_K2
} xinf_gw_tool_format_t;

typedef struct {
    xinf_gw_tool_format_t format;
    int state;                        //  s_START, s_TEXT, s_CALL, s_PLAIN (in the .c)
    xinf_gw_buf_t pending;            //  received, not yet decided
    const char *marker;               //  the call's opening text as the model wrote it ("" if none)
    size_t calls;                     //  calls given out so far
    size_t max_calls;                 //  parallel_tool_calls false: 1
    const json_t *tools;              //  the request's tools (borrowed), or NULL
} xinf_gw_toolcalls_t;

//  The format a chat template's model writes calls in; 'supports' is set
//  to whether the template renders tools at all (it names `tools`).
xinf_gw_tool_format_t xinf_gw_tool_format_of (const char *template_source, bool *supports);
const char *xinf_gw_tool_format_name (xinf_gw_tool_format_t format);

void xinf_gw_toolcalls_init (xinf_gw_toolcalls_t *self, xinf_gw_tool_format_t format, bool parallel);
//  The request's tools (an array, as validated; borrowed, outliving the
//  parser), whose parameters' schemas type GLM-4.5's argument values.
void xinf_gw_toolcalls_set_tools (xinf_gw_toolcalls_t *self, const json_t *tools);
//  Adds text (whole UTF-8 characters); appends the content that is decided
//  to 'content' and each complete call to 'calls' (a JSON array of
//  {"id", "type": "function", "function": {"name", "arguments"}}).
void xinf_gw_toolcalls_feed (xinf_gw_toolcalls_t *self, const char *text, size_t size, xinf_gw_buf_t *content,
                             json_t *calls);
//  The text ended: decides what is held back.
void xinf_gw_toolcalls_flush (xinf_gw_toolcalls_t *self, xinf_gw_buf_t *content, json_t *calls);
void xinf_gw_toolcalls_clear (xinf_gw_toolcalls_t *self);
//  The markers that open a format's calls (NULL-terminated).
const char *const *xinf_gw_tool_openers (xinf_gw_tool_format_t format);

//  Shared with the parsers of DeepSeek's and Kimi's sections
//  (xinf_gateway_toolcalls_sections.c):
//  A call object {"id", "type": "function", "function": {"name",
//  "arguments"}}; 'id' NULL: a new random one.
json_t *xinf_gw_toolcall_new (xinf_gw_tool_format_t format, const char *name, size_t name_size,
                              const char *arguments, size_t arguments_size, const char *id);
//  A name of letters, digits, '_', '-', '.' or ':', 1 to 64 bytes.
bool xinf_gw_toolcall_name_valid (const char *name, size_t size);
//  The JSON object at text[at] (after blanks): its span; false when none.
bool xinf_gw_toolcall_object_span (const char *text, size_t size, size_t at, size_t *start, size_t *end);
//  Whether c is a blank between a call's parts (space, tab, CR, LF), and
//  the first place from 'at' that is not one (or size).
bool xinf_gw_toolcall_blank (char c);
size_t xinf_gw_toolcall_skip_blanks (const char *text, size_t size, size_t at);
//  A DeepSeek or Kimi section's body (what lies between its opening
//  'marker' and its end) as calls appended to 'found'; false when any
//  call does not parse or there is none.
bool xinf_gw_toolcalls_sections_parse (xinf_gw_tool_format_t format, const char *marker, const char *body,
                                       size_t size, json_t *found);

#endif
