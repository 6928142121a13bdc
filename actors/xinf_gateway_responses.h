/*  xinf_gateway_responses: OpenAI's Responses API (POST /v1/responses,
    GET and DELETE /v1/responses/{id}) over the chat's generation.

    A request's `input` items (messages, function calls and their
    outputs), `instructions`, flat function `tools`, `text.format` and
    `max_output_tokens` become a chat (xinf_gateway_responses.c), which
    generates as /v1/chat/completions does; its text and tool calls come
    out as the response's output items, in one object or as the typed
    server-sent events of a stream (xinf_gateway_responses_out.c). With
    `store` (OpenAI's default) the response is kept in a bounded store
    (xinf_gateway_responses_store.c) for GET, DELETE and a later
    request's `previous_response_id`, which continues its conversation.

    Gateway-private: everything here runs on the gateway actor's thread.
*/
#ifndef XINF_GATEWAY_RESPONSES_H_INCLUDED
#define XINF_GATEWAY_RESPONSES_H_INCLUDED

#include "xinf_gateway_private.h"

#define XINF_GW_RESPONSES_KEPT   1000        //  stored responses at most (the oldest go first)
#define XINF_GW_RESPONSES_BYTES  (64 << 20)  //  and their bytes as compact JSON
#define XINF_GW_INPUT_ITEMS_MAX  XINF_GW_MESSAGES_MAX

//  One response being made: what its object repeats of the request, the
//  conversation it continues, and its output items so far.
struct _xinf_gw_resp_t {
    json_t *echo;                     //  the request's fields the response object repeats (owned)
    json_t *conversation;             //  chat messages before this answer, instructions left out (owned)
    json_t *output;                   //  finished output items (owned)
    char owner [48];                  //  who may read it back: a digest of the API key ("" without keys)
    bool store;
    //  the open reasoning item (a thought)
    char reasoning_id [48];           //  "" when none is open
    xinf_gw_buf_t reasoning_text;
    //  the open message item
    char message_id [48];             //  "" when none is open
    xinf_gw_buf_t message_text;
    json_t *message_logprobs;         //  its tokens' log-probabilities (owned; with include logprobs)
    size_t sequence;                  //  the next event's sequence_number
    bool created;                     //  response.created was sent
};

typedef struct _xinf_gw_resp_t xinf_gw_resp_t;
//  Its shape (request->shape; request->shaped is its xinf_gw_resp_t).
extern const xinf_gw_shape_t xinf_gw_responses_shape;

// ---- requests (xinf_gateway_responses.c) ------------------------------------
//  Validates a POST /v1/responses body and makes it a chat in
//  request->oai (and request->resp); -1 with the 400 (or 404 for an
//  unknown previous_response_id) in 'error', naming the Responses field.
int xinf_gw_responses_parse (xinf_gw_request_t *request, json_t *root, xinf_gw_error_t *error);
//  Frees request->resp.
void xinf_gw_responses_clear (xinf_gw_request_t *request);
//  GET /v1/responses/{id} (its object) and DELETE (its deletion).
void xinf_gw_responses_route (xinf_gw_request_t *request);
//  The owner of the request's response: a digest of its Authorization
//  header when keys are on, else "".
void xinf_gw_responses_owner (xinf_gw_request_t *request, char *owner, size_t size);

// ---- output (xinf_gateway_responses_out.c) ----------------------------------
//  Decided text and tool calls (chat's form, borrowed) of the answer: with
//  stream, as events; without, kept for the end.
void xinf_gw_responses_delta (xinf_gw_request_t *request, const char *text, size_t size, json_t *calls);
//  The generation ended with finish 'reason' (stop or length): the
//  response object, or a stream's last events; stored when asked.
void xinf_gw_responses_finish (xinf_gw_request_t *request, const char *reason);
//  A reasoning model's thought (before its answer): a reasoning item.
void xinf_gw_responses_thought (xinf_gw_request_t *request, const char *text, size_t size);
//  A stream failed: its error event and response.failed.
void xinf_gw_responses_fail_stream (xinf_gw_request_t *request, const xinf_gw_error_t *error);
//  A new response id ("resp_" and 40 hex digits, from getrandom).
void xinf_gw_responses_new_id (char *id, size_t size);

// ---- the store (xinf_gateway_responses_store.c) -----------------------------
xinf_gw_rstore_t *xinf_gw_rstore_new (size_t max_count, size_t max_bytes);
void xinf_gw_rstore_destroy (xinf_gw_rstore_t **self_p);
//  Keeps a response object and its whole conversation (both taken) for
//  'owner'; the oldest ones go when over the limits. False when it alone
//  is over the byte limit (then it is not kept).
bool xinf_gw_rstore_put (xinf_gw_rstore_t *self, const char *owner, json_t *response, json_t *conversation);
//  The stored response 'id' of 'owner' and its conversation in
//  *conversation, each a new copy (the caller's); NULL when unknown or
//  another's.
json_t *xinf_gw_rstore_get (xinf_gw_rstore_t *self, const char *id, const char *owner, json_t **conversation);
//  Forgets response 'id' of 'owner'; false when unknown or another's.
bool xinf_gw_rstore_delete (xinf_gw_rstore_t *self, const char *id, const char *owner);
size_t xinf_gw_rstore_count (xinf_gw_rstore_t *self);

#endif
