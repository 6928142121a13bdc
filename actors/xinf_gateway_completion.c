/*  xinf_gateway_completion: the answer of /v1/completions and
    /v1/chat/completions in OpenAI's shape. Without `stream` it is one
    text_completion or chat.completion object, its choices (a message
    with content, reasoning_content and tool_calls, or a text) and its
    usage; with it, server-sent events: chat.completion.chunk (or
    text_completion) chunks with deltas as text is decided, a last chunk
    with the finish_reason, the usage chunk (stream_options.include_usage)
    and "data: [DONE]". Decided text is parted first: a reasoning model's
    thought from its answer, then the chat's tool calls from its text. An
    API shaped otherwise (the request's shape: Responses, Messages,
    llama-server) gets the parted text instead. Private to the gateway.
*/
#include "xinf_gateway_completion.h"
#include "xinf_gateway_toolcalls.h"
#include "xinf_gateway_reasoning.h"

//  Calls as a delta's tool_calls: each with its index among the answer's calls.
static json_t *
s_call_deltas (xinf_gw_request_t *request, json_t *calls)
{
    json_t *deltas = json_array ();
    for (size_t index = 0; index < json_array_size (calls); index++) {
        json_t *call = json_deep_copy (json_array_get (calls, index));
        size_t first = request->tool_call_count - json_array_size (calls);       //  already counted
        json_object_set_new (call, "index", json_integer ((json_int_t) (first + index)));
        json_array_append_new (deltas, call);
    }
    return deltas;
}

//  One choice of a chunk or answer, text or delta; 'calls' (borrowed) the
//  tool calls it carries, or NULL.
static json_t *
s_choice (xinf_gw_request_t *request, const char *text, size_t size, const char *finish, bool delta, bool role,
          json_t *calls)
{
    json_t *choice = json_object ();
    json_object_set_new (choice, "index", json_integer ((json_int_t) request->choice));
    if (request->oai.chat) {
        json_t *message = json_object ();
        if (role || !delta)
            json_object_set_new (message, "role", json_string ("assistant"));
        if (text && !(calls && !delta && size == 0))
            json_object_set_new (message, "content", xinf_gw_json_text (text, size));
        else
        if (!delta)
            json_object_set_new (message, "content", json_null ());
        if (calls && json_array_size (calls))
            json_object_set_new (message, "tool_calls", delta ? s_call_deltas (request, calls) : json_incref (calls));
        json_object_set_new (choice, delta ? "delta" : "message", message);
    }
    else
        json_object_set_new (choice, "text", xinf_gw_json_text (text ? text : "", text ? size : 0));
    //  The tokens' log-probabilities: a stream's chunk takes the ones not
    //  yet written, the answer all of them
    json_t *logprobs = NULL;
    if (request->oai.logprobs) {
        logprobs = request->logprobs ? request->logprobs : json_array ();
        request->logprobs = request->oai.stream ? NULL : logprobs;
    }
    json_object_set_new (choice, "logprobs", xinf_gw_logprobs_choice (logprobs, request->oai.chat,
                                                                      &request->logprobs_offset));
    if (logprobs && logprobs != request->logprobs)
        json_decref (logprobs);
    json_object_set_new (choice, "finish_reason", finish ? json_string (finish) : json_null ());
    return choice;
}

//  The thought's tokens of every choice.
static size_t
s_reasoning_tokens (xinf_gw_request_t *top)
{
    size_t count = top->reasoning_tokens;
    for (size_t index = 0; index < top->child_count; index++)
        count += top->children [index]->reasoning_tokens;
    return count;
}

//  The usage of a request whose choices have all finished: the prompt
//  once, the completion tokens of every choice.
static json_t *
s_usage (xinf_gw_request_t *top)
{
    json_t *usage = json_object ();
    json_object_set_new (usage, "prompt_tokens", json_integer ((json_int_t) top->prompt_tokens));
    json_object_set_new (usage, "completion_tokens", json_integer ((json_int_t) top->choice_tokens));
    json_object_set_new (usage, "total_tokens", json_integer ((json_int_t) (top->prompt_tokens + top->choice_tokens)));
    if (top->oai.chat && top->cached_known)          //  OpenAI's chat has it; its completions do not
        json_object_set_new (usage, "prompt_tokens_details", json_pack ("{s:I}", "cached_tokens",
                                                                        (json_int_t) top->cached_tokens));
    if (top->reasoning)
        json_object_set_new (usage, "completion_tokens_details", json_pack ("{s:I}", "reasoning_tokens",
                                                                            (json_int_t) s_reasoning_tokens (top)));
    return usage;
}

//  The frame every answer and chunk shares.
static json_t *
s_object (xinf_gw_request_t *request, bool chunk)
{
    json_t *object = json_object ();
    json_object_set_new (object, "id", json_string (request->id));
    json_object_set_new (object, "object", json_string (request->oai.chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                                          : "text_completion"));
    json_object_set_new (object, "created", json_integer (request->created));
    json_object_set_new (object, "model", json_string (request->oai.model));
    json_object_set_new (object, "system_fingerprint", json_string ("xinf-" XINF_VERSION_STRING));
    json_object_set_new (object, "choices", json_array ());
    if (chunk && request->oai.include_usage)
        json_object_set_new (object, "usage", json_null ());
    return object;
}

//  Appends a chunk with 'text' or 'calls' (the first of a chat also names the role).
static void
s_chunk_calls (xinf_gw_request_t *request, const char *text, size_t size, const char *finish, json_t *calls)
{
    json_t *object = s_object (request, true);
    json_array_append_new (json_object_get (object, "choices"),
                           s_choice (request, text, size, finish, true, !request->role_sent && request->oai.chat,
                                     calls));
    request->role_sent = true;
    xinf_gw_sse_json (&xinf_gw_choices_top (request)->sse, object);
}

void
xinf_gw_completion_chunk (xinf_gw_request_t *request, const char *text, size_t size, const char *finish)
{
    s_chunk_calls (request, text, size, finish, NULL);
}

//  A chunk with part of the thought as the delta's reasoning_content.
static void
s_chunk_thought (xinf_gw_request_t *request, const char *text, size_t size)
{
    json_t *object = s_object (request, true);
    json_t *choice = s_choice (request, NULL, 0, NULL, true, !request->role_sent, NULL);
    json_object_set_new (json_object_get (choice, "delta"), "reasoning_content", xinf_gw_json_text (text, size));
    json_array_append_new (json_object_get (object, "choices"), choice);
    request->role_sent = true;
    xinf_gw_sse_json (&xinf_gw_choices_top (request)->sse, object);
}

//  A reasoning model's text parted: the thought to the stream, the
//  answer's thought or the Responses item; the rest in 'said'.
static void
s_part_thought (xinf_gw_request_t *request, const char *text, size_t size, bool end, xinf_gw_buf_t *said)
{
    xinf_gw_buf_t thought = { 0 };
    xinf_gw_reasoning_feed (request->reasoning, text, size, &thought, said);
    if (end)
        xinf_gw_reasoning_flush (request->reasoning, &thought, said);
    if (thought.size && request->shape)
        request->shape->thought (request, thought.data, thought.size);
    else
    if (thought.size && request->oai.stream)
        s_chunk_thought (request, thought.data, thought.size);
    else
        xinf_gw_buf_add (&request->thought, thought.data, thought.size);
    xinf_gw_buf_free (&thought);
}

//  Text that is decided (no stop string in it): a reasoning model's
//  thought parted from it, then through the tool call parser when the
//  chat has tools; then to the stream or the answer. 'end': the text is
//  over, the parsers give out what they held.
void
xinf_gw_completion_emit (xinf_gw_request_t *request, const char *text, size_t size, bool end)
{
    xinf_gw_buf_t content = { 0 }, said = { 0 };
    json_t *calls = NULL;
    if (request->reasoning) {
        s_part_thought (request, text, size, end, &said);
        text = said.data;
        size = said.size;
    }
    if (request->tool_parsing) {
        calls = json_array ();
        xinf_gw_toolcalls_feed (request->toolcalls, text, size, &content, calls);
        if (end)
            xinf_gw_toolcalls_flush (request->toolcalls, &content, calls);
        request->tool_call_count += json_array_size (calls);
        json_array_extend (request->tool_calls, calls);
        text = content.data;
        size = content.size;
    }
    if (request->shape)
        request->shape->text (request, text, size, calls);
    else
    if (request->oai.stream) {
        if (size)
            xinf_gw_completion_chunk (request, text, size, NULL);
        if (calls && json_array_size (calls))
            s_chunk_calls (request, NULL, 0, NULL, calls);
    }
    else
        xinf_gw_buf_add (&request->output, text, size);
    json_decref (calls);
    xinf_gw_buf_free (&content);
    xinf_gw_buf_free (&said);
}

//  The last chunks of a streamed choice; after the last choice's, the
//  usage and the stream's end.
void
xinf_gw_completion_finish_stream (xinf_gw_request_t *request, const char *reason, xinf_gw_buf_t *tail)
{
    xinf_gw_request_t *top = xinf_gw_choices_top (request);
    if (tail->size || request->tool_parsing || request->reasoning)
        xinf_gw_completion_emit (request, tail->data, tail->size, true);
    if (!request->role_sent)
        xinf_gw_completion_chunk (request, NULL, 0, NULL);
    xinf_gw_completion_chunk (request, NULL, 0, request->tool_call_count ? "tool_calls" : reason);
    if (xinf_gw_choices_done (request, NULL)) {
        if (top->oai.include_usage) {
            json_t *object = s_object (top, true);
            json_object_set_new (object, "usage", s_usage (top));
            xinf_gw_sse_json (&top->sse, object);
        }
        xinf_gw_buf_add_str (&top->sse, "data: [DONE]\n\n");
        top->stream_ended = true;
    }
    xinf_gw_stream_wake (top);
}

//  The answer's part of a choice that is not streamed: its choice, and
//  after the last choice's, the answer with every choice and the usage.
void
xinf_gw_completion_finish_answer (xinf_gw_request_t *request, const char *reason, xinf_gw_buf_t *tail)
{
    xinf_gw_request_t *top = xinf_gw_choices_top (request);
    xinf_gw_completion_emit (request, tail->data, tail->size, true);
    json_t *choice = s_choice (request, request->output.data ? request->output.data : "", request->output.size,
                               request->tool_call_count ? "tool_calls" : reason, false, false,
                               request->tool_call_count ? request->tool_calls : NULL);
    if (request->thought.size)
        json_object_set_new (json_object_get (choice, "message"), "reasoning_content",
                             xinf_gw_json_text (request->thought.data, request->thought.size));
    if (xinf_gw_choices_done (request, choice)) {
        json_t *object = s_object (top, false);
        json_object_set_new (object, "choices", xinf_gw_choices_take (top));
        json_object_set_new (object, "usage", s_usage (top));
        xinf_gw_respond_json (top, 200, object);
    }
}
