/*  xinf_gateway_anthropic: Anthropic's Messages API (POST /v1/messages)
    over the chat's generation, for clients written against Anthropic's
    SDKs (Claude Code and agents built on them), as llama-server and vLLM
    serve it.

    A request's `system`, `messages` (text, tool_use and tool_result
    blocks), `tools` (name, description, input_schema), `tool_choice`,
    `stop_sequences` and `thinking` become a chat
    (xinf_gateway_anthropic.c), which generates as /v1/chat/completions
    does; its thought, text and tool calls come out as thinking, text and
    tool_use content blocks, in one message object or as the typed events
    of a stream (xinf_gateway_anthropic_out.c). Errors have Anthropic's
    shape {"type": "error", "error": {"type", "message"}}. The key may
    come as x-api-key, Anthropic's header, or as a bearer token.

    Gateway-private: everything here runs on the gateway actor's thread.
*/
#ifndef XINF_GATEWAY_ANTHROPIC_H_INCLUDED
#define XINF_GATEWAY_ANTHROPIC_H_INCLUDED

#include "xinf_gateway_private.h"

typedef enum { XINF_GW_BLOCK_NONE = 0, XINF_GW_BLOCK_TEXT, XINF_GW_BLOCK_THINKING } xinf_gw_block_t;

//  One message being made: its finished content blocks and the open one.
typedef struct {
    json_t *content;                  //  finished blocks (owned)
    int open;                         //  xinf_gw_block_t of the open block
    xinf_gw_buf_t open_text;          //  its text so far
    bool started;                     //  a stream's message_start was sent
} xinf_gw_anth_t;

//  Its shape (request->shape; request->shaped is its xinf_gw_anth_t).
extern const xinf_gw_shape_t xinf_gw_anthropic_shape;

//  Validates a POST /v1/messages body and makes it a chat in request->oai;
//  -1 with the 400 in 'error', naming the Messages API's field.
int xinf_gw_anthropic_parse (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error);
//  {"type": "error", "error": {"type", "message"}}, the type from the status.
json_t *xinf_gw_anthropic_error_json (const xinf_gw_error_t *error);

//  xinf_gateway_anthropic_count.c: POST /v1/messages/count_tokens.
void xinf_gw_anthropic_count_start (xinf_gw_request_t *request);
void xinf_gw_anthropic_count_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg);

//  xinf_gateway_anthropic_out.c: the shape's operations.
void xinf_gw_anthropic_new_id (char *id, size_t size);
void xinf_gw_anthropic_text (xinf_gw_request_t *request, const char *text, size_t size, json_t *calls);
void xinf_gw_anthropic_thought (xinf_gw_request_t *request, const char *text, size_t size);
void xinf_gw_anthropic_finish (xinf_gw_request_t *request, const char *reason);
void xinf_gw_anthropic_fail_stream (xinf_gw_request_t *request, const xinf_gw_error_t *error);
void xinf_gw_anthropic_clear (xinf_gw_request_t *request);

#endif
