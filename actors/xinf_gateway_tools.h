/*  xinf_gateway_tools: OpenAI function calling in chat requests: tools,
    tool_choice and parallel_tool_calls, the messages' tool calls and tool
    results, checked; and the fallback for a chat template that renders no
    tools (they are described in a system message, Hermes-style, and the
    model is asked for <tool_call> blocks), or, for DeepSeek's templates,
    which render calls and results but no tools, the tools described in
    DeepSeek's own format.
*/
#ifndef XINF_GATEWAY_TOOLS_H_INCLUDED
#define XINF_GATEWAY_TOOLS_H_INCLUDED

#include "xinf_gateway_private.h"
#include "xinf_gateway_toolcalls.h"

//  Checks tools, tool_choice and parallel_tool_calls of a chat body into
//  'out' (tools kept only when there is at least one); -1 with a 400
//  naming the field in 'error'.
int xinf_gw_tools_parse (json_t *root, xinf_gw_oai_t *out, xinf_gw_error_t *error);
//  Checks message 'index' (a copy the gateway owns: tool_calls, tool_call_id,
//  name) and turns its calls' arguments (JSON strings) into objects, as
//  Hugging Face's templates expect them; -1 with a 400.
int xinf_gw_tools_check_message (json_t *message, size_t index, xinf_gw_error_t *error);
//  The messages for a template without tools: the tools (may be NULL)
//  described in the system message, assistant calls written as
//  <tool_call> blocks and tool results as user <tool_response> messages.
json_t *xinf_gw_tools_fallback (json_t *messages, json_t *tools);
//  Whether a template whose model writes calls in 'format' but that
//  renders no tools (DeepSeek R1's, V3's and V3.1's) gets them described
//  in its own format (xinf_gw_tools_described) instead of the fallback.
bool xinf_gw_tools_describes (xinf_gw_tool_format_t format);
//  The messages with 'tools' described in the system message (after its
//  text, or in a new first one) as the model's makers teach them:
//  DeepSeek V3.1's model card (each tool's name, description and
//  parameters, then the call format), R1's as llama.cpp's template for it
//  writes it; the other messages, calls and results are left to the
//  template, which renders them.
json_t *xinf_gw_tools_described (json_t *messages, json_t *tools, xinf_gw_tool_format_t format);
//  A copy of the messages whose turns of calls with an empty content have
//  a null one again (DeepSeek R1's template renders calls only then).
json_t *xinf_gw_tools_null_content (json_t *messages);
//  A copy of the messages with their calls' arguments as JSON text (the
//  objects dumped), for templates that join them to strings (DeepSeek R1's).
json_t *xinf_gw_tools_string_arguments (json_t *messages);

//  Another API's tools (root's "tools": an array, or absent or null) as
//  the chat's {type: function, function} in 'chat': 'function_of' turns
//  tool N (param "tools[N]") into its function object, or NULL with a 400
//  in 'error'; 'shape' describes the array for the 400 when it is none.
typedef json_t *(xinf_gw_tool_fn) (json_t *tool, const char *param, xinf_gw_error_t *error);
int xinf_gw_tools_from (json_t *root, json_t *chat, const char *shape, xinf_gw_tool_fn *function_of,
                        xinf_gw_error_t *error);
//  The chat's tool_choice naming one function: {type: function, function: {name}}.
json_t *xinf_gw_tools_named_choice (json_t *name);

#endif
