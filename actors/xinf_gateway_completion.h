/*  xinf_gateway_completion: the answer of /v1/completions and
    /v1/chat/completions in OpenAI's shape, one object or a stream's
    chunks, as a choice's decided text comes (xinf_gateway_generate.c
    decides it). Private to the gateway.
*/
#ifndef XINF_GATEWAY_COMPLETION_H_INCLUDED
#define XINF_GATEWAY_COMPLETION_H_INCLUDED

#include "xinf_gateway_private.h"

//  Appends a chunk with 'text' (NULL: none) and 'finish' (NULL: none) to
//  the stream; the first of a chat also names the role.
void xinf_gw_completion_chunk (xinf_gw_request_t *request, const char *text, size_t size, const char *finish);
//  Text that is decided (no stop string in it): a reasoning model's
//  thought parted from it, then through the tool call parser when the
//  chat has tools; then to the request's shape, the stream or the
//  answer. 'end': the text is over, the parsers give out what they held.
void xinf_gw_completion_emit (xinf_gw_request_t *request, const char *text, size_t size, bool end);
//  A streamed choice ended ('reason': stop or length) with 'tail', the
//  text held back: its last chunks; after the last choice's, the usage
//  and the stream's end.
void xinf_gw_completion_finish_stream (xinf_gw_request_t *request, const char *reason, xinf_gw_buf_t *tail);
//  A choice that is not streamed ended: its choice; after the last
//  choice's, the answer with every choice and the usage.
void xinf_gw_completion_finish_answer (xinf_gw_request_t *request, const char *reason, xinf_gw_buf_t *tail);

#endif
