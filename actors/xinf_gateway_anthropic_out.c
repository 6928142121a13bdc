/*  xinf_gateway_anthropic_out: a Messages answer's content blocks, as one
    message object or as the typed events of a stream, in the order
    Anthropic sends them:

        message_start (the message, no content yet, input_tokens)
        per block: content_block_start, content_block_delta...
                   (text_delta, thinking_delta, input_json_delta),
                   content_block_stop
        message_delta (stop_reason, stop_sequence, output_tokens)
        message_stop

    each as "event: TYPE" and "data: JSON". A thought is a thinking block
    (with an empty signature: nothing here signs thoughts), the text a
    text block, each tool call a tool_use block with its input object.
    stop_reason is end_turn, max_tokens, stop_sequence (with the string)
    or tool_use.
*/
#include "xinf_gateway_anthropic.h"

void
xinf_gw_anthropic_new_id (char *id, size_t size)
{
    snprintf (id, size, "msg_%08x%08x%08x", (unsigned) randof (0x7fffffff), (unsigned) randof (0x7fffffff),
              (unsigned) randof (0x7fffffff));
}

//  Appends "event: TYPE" and "data: JSON" (consumes event).
static void
s_event_send (xinf_gw_request_t *request, json_t *event)
{
    xinf_gw_sse_event (&request->sse, event);
}

//  The usage so far: Anthropic's input_tokens are the prompt's tokens not
//  read from the cache, cache_read_input_tokens those that were.
static json_t *
s_usage (xinf_gw_request_t *request)
{
    size_t cached = request->cached_tokens <= request->prompt_tokens ? request->cached_tokens : 0;
    return json_pack ("{s:I,s:I,s:I}", "input_tokens", (json_int_t) (request->prompt_tokens - cached),
                      "cache_read_input_tokens", (json_int_t) cached,
                      "output_tokens", (json_int_t) request->completion_tokens);
}

static json_t *
s_message (xinf_gw_request_t *request, json_t *content, const char *stop_reason, const char *stop_sequence)
{
    json_t *message = json_pack ("{s:s,s:s,s:s,s:s}", "id", request->id, "type", "message", "role", "assistant",
                                 "model", request->oai.model);
    json_object_set_new (message, "content", content);
    json_object_set_new (message, "stop_reason", stop_reason ? json_string (stop_reason) : json_null ());
    json_object_set_new (message, "stop_sequence", stop_sequence ? json_string (stop_sequence) : json_null ());
    json_object_set_new (message, "usage", s_usage (request));
    return message;
}

static void
s_start (xinf_gw_request_t *request)
{
    xinf_gw_anth_t *anth = request->shaped;
    if (!request->oai.stream || anth->started)
        return;
    anth->started = true;
    json_t *event = json_pack ("{s:s}", "type", "message_start");
    json_object_set_new (event, "message", s_message (request, json_array (), NULL, NULL));
    s_event_send (request, event);
}

static json_t *
s_block (int kind, const char *text, size_t size)
{
    bool thinking = kind == XINF_GW_BLOCK_THINKING;
    json_t *block = json_pack ("{s:s}", "type", thinking ? "thinking" : "text");
    json_object_set_new (block, thinking ? "thinking" : "text", xinf_gw_json_text (text ? text : "", text ? size : 0));
    if (thinking)
        json_object_set_new (block, "signature", json_string (""));
    return block;
}

//  An event about block 'index' (its content_block or delta set by the caller).
static json_t *
s_block_event (const char *type, size_t index)
{
    return json_pack ("{s:s,s:I}", "type", type, "index", (json_int_t) index);
}

static void
s_close (xinf_gw_request_t *request)
{
    xinf_gw_anth_t *anth = request->shaped;
    if (anth->open == XINF_GW_BLOCK_NONE)
        return;
    if (request->oai.stream)
        s_event_send (request, s_block_event ("content_block_stop", json_array_size (anth->content)));
    json_array_append_new (anth->content, s_block (anth->open, anth->open_text.data, anth->open_text.size));
    anth->open = XINF_GW_BLOCK_NONE;
    xinf_gw_buf_free (&anth->open_text);
}

//  Text of block kind 'kind': a new block when another kind is open.
static void
s_add (xinf_gw_request_t *request, int kind, const char *text, size_t size)
{
    xinf_gw_anth_t *anth = request->shaped;
    if (anth->open != kind) {
        s_close (request);
        anth->open = kind;
        if (request->oai.stream) {
            s_start (request);
            json_t *event = s_block_event ("content_block_start", json_array_size (anth->content));
            json_object_set_new (event, "content_block", s_block (kind, NULL, 0));
            s_event_send (request, event);
        }
    }
    xinf_gw_buf_add (&anth->open_text, text, size);
    if (!request->oai.stream)
        return;
    bool thinking = kind == XINF_GW_BLOCK_THINKING;
    json_t *delta = json_pack ("{s:s}", "type", thinking ? "thinking_delta" : "text_delta");
    json_object_set_new (delta, thinking ? "thinking" : "text", xinf_gw_json_text (text, size));
    json_t *event = s_block_event ("content_block_delta", json_array_size (anth->content));
    json_object_set_new (event, "delta", delta);
    s_event_send (request, event);
    xinf_gw_stream_wake (request);
}

//  A chat tool call as a tool_use block: its arguments parsed to the input
//  object ({} when they are not one).
static json_t *
s_tool_use (json_t *call, bool empty)
{
    json_t *function = json_object_get (call, "function");
    const char *arguments = json_string_value (json_object_get (function, "arguments"));
    json_t *input = arguments && !empty ? json_loads (arguments, 0, NULL) : NULL;
    if (!json_is_object (input)) {
        json_decref (input);
        input = json_object ();
    }
    json_t *block = json_pack ("{s:s}", "type", "tool_use");
    json_object_set (block, "id", json_object_get (call, "id"));
    json_object_set (block, "name", json_object_get (function, "name"));
    json_object_set_new (block, "input", input);
    return block;
}

static void
s_call (xinf_gw_request_t *request, json_t *call)
{
    xinf_gw_anth_t *anth = request->shaped;
    s_close (request);
    size_t index = json_array_size (anth->content);
    json_t *done = s_tool_use (call, false);
    if (request->oai.stream) {
        s_start (request);
        json_t *event = s_block_event ("content_block_start", index);
        json_object_set_new (event, "content_block", s_tool_use (call, true));
        s_event_send (request, event);
        char *partial = json_dumps (json_object_get (done, "input"), JSON_COMPACT);
        event = s_block_event ("content_block_delta", index);
        json_object_set_new (event, "delta", json_pack ("{s:s,s:s}", "type", "input_json_delta", "partial_json",
                                                        partial ? partial : "{}"));
        free (partial);
        s_event_send (request, event);
        s_event_send (request, s_block_event ("content_block_stop", index));
    }
    json_array_append_new (anth->content, done);
}

void
xinf_gw_anthropic_text (xinf_gw_request_t *request, const char *text, size_t size, json_t *calls)
{
    if (size)
        s_add (request, XINF_GW_BLOCK_TEXT, text, size);
    for (size_t index = 0; index < json_array_size (calls); index++)
        s_call (request, json_array_get (calls, index));
    if (request->oai.stream && request->sse.size)
        xinf_gw_stream_wake (request);
}

void
xinf_gw_anthropic_thought (xinf_gw_request_t *request, const char *text, size_t size)
{
    if (size)
        s_add (request, XINF_GW_BLOCK_THINKING, text, size);
}

void
xinf_gw_anthropic_finish (xinf_gw_request_t *request, const char *reason)
{
    xinf_gw_anth_t *anth = request->shaped;
    s_close (request);
    int matched = request->text.matched;
    const char *stop_sequence = matched >= 0 && (size_t) matched < request->oai.stop_count
                              ? request->oai.stops [matched] : NULL;
    const char *stop_reason = request->tool_call_count ? "tool_use"
                            : streq (reason, "length") ? "max_tokens"
                            : stop_sequence ? "stop_sequence" : "end_turn";
    if (!streq (stop_reason, "stop_sequence"))
        stop_sequence = NULL;
    if (!request->oai.stream) {
        json_t *content = anth->content;
        anth->content = json_array ();
        xinf_gw_respond_json (request, 200, s_message (request, content, stop_reason, stop_sequence));
        return;
    }
    s_start (request);
    json_t *event = json_pack ("{s:s,s:{s:s}}", "type", "message_delta", "delta", "stop_reason", stop_reason);
    json_object_set_new (json_object_get (event, "delta"), "stop_sequence",
                         stop_sequence ? json_string (stop_sequence) : json_null ());
    json_object_set_new (event, "usage", s_usage (request));      //  the whole usage, as Anthropic's newer events

    s_event_send (request, event);
    s_event_send (request, json_pack ("{s:s}", "type", "message_stop"));
    request->stream_ended = true;
    xinf_gw_stream_wake (request);
}

void
xinf_gw_anthropic_fail_stream (xinf_gw_request_t *request, const xinf_gw_error_t *error)
{
    s_event_send (request, xinf_gw_anthropic_error_json (error));
}

void
xinf_gw_anthropic_clear (xinf_gw_request_t *request)
{
    xinf_gw_anth_t *anth = request->shaped;
    if (!anth)
        return;
    json_decref (anth->content);
    xinf_gw_buf_free (&anth->open_text);
    free (anth);
    request->shaped = NULL;
}
