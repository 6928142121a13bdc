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

    The parser works on pieces as they stream: text that cannot be part
    of a call is given out as soon as it is known, a possible start of a
    call (a partial "<tool_call>") is held back until it is decided, and a
    call is given out once it is complete. Feeding the same text in any
    pieces gives the same content and calls. A call that does not parse
    (bad JSON, no name, arguments not an object) is given back as content,
    with its tags, and logged at debug. A call body over
    XINF_GW_TOOL_BODY_MAX bytes stops the parsing: the rest is content.
*/
#ifndef XINF_GATEWAY_TOOLCALLS_H_INCLUDED
#define XINF_GATEWAY_TOOLCALLS_H_INCLUDED

#include "xinf_gateway_private.h"

#define XINF_GW_TOOL_BODY_MAX  (1 << 20)   //  bytes of one call's text

typedef enum {
    XINF_GW_TOOLS_HERMES = 1,
    XINF_GW_TOOLS_LLAMA3,
    XINF_GW_TOOLS_MISTRAL,
    XINF_GW_TOOLS_GLM45
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

#endif
