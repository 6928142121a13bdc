/*  xinf_gateway_responses_out: a response's output items, as one object
    or as the typed events of a stream, in the order OpenAI sends them:

        response.created, response.in_progress
        per message:  response.output_item.added, response.content_part.added,
                      response.output_text.delta..., response.output_text.done,
                      response.content_part.done, response.output_item.done
        per call:     response.output_item.added,
                      response.function_call_arguments.delta, ....done,
                      response.output_item.done
        response.completed (or response.incomplete: max_output_tokens)

    each as "event: TYPE" and "data: JSON" with its sequence_number. The
    text before a tool call is a message item of its own; the calls, as
    the chat's tool call parser finds them, are function_call items.
*/
#include "xinf_gateway_responses.h"

static void
s_item_id (const char *prefix, char *id, size_t size)
{
    snprintf (id, size, "%s_%08x%08x%08x", prefix, (unsigned) randof (0x7fffffff), (unsigned) randof (0x7fffffff),
              (unsigned) randof (0x7fffffff));
}

static json_t *
s_event_new (const char *type)
{
    return json_pack ("{s:s}", "type", type);
}

//  Appends "event: TYPE" and "data: JSON" to the stream (consumes event).
static void
s_event_send (xinf_gw_request_t *request, json_t *event)
{
    xinf_gw_resp_t *resp = request->shaped;
    json_object_set_new (event, "sequence_number", json_integer ((json_int_t) resp->sequence++));
    xinf_gw_sse_event (&request->sse, event);
}

//  The usage: the prompt's tokens (those the prefix cache gave among
//  them), the answer's (those of its thought among them).
static json_t *
s_usage (xinf_gw_request_t *request)
{
    return json_pack ("{s:I,s:{s:I},s:I,s:{s:I},s:I}", "input_tokens", (json_int_t) request->prompt_tokens,
                      "input_tokens_details", "cached_tokens", (json_int_t) request->cached_tokens,
                      "output_tokens", (json_int_t) request->completion_tokens,
                      "output_tokens_details", "reasoning_tokens", (json_int_t) request->reasoning_tokens,
                      "total_tokens", (json_int_t) (request->prompt_tokens + request->completion_tokens));
}

//  The response object: its state, the request's fields, the output so far.
static json_t *
s_response (xinf_gw_request_t *request, const char *status, const char *incomplete, const xinf_gw_error_t *error)
{
    xinf_gw_resp_t *resp = request->shaped;
    json_t *object = json_object ();
    json_object_set_new (object, "id", json_string (request->id));
    json_object_set_new (object, "object", json_string ("response"));
    json_object_set_new (object, "created_at", json_integer (request->created));
    json_object_set_new (object, "status", json_string (status));
    json_object_set_new (object, "error", error ? json_pack ("{s:s,s:s}", "code", error->code ? error->code : error->type,
                                                             "message", error->message) : json_null ());
    json_object_set_new (object, "incomplete_details", incomplete ? json_pack ("{s:s}", "reason", incomplete)
                                                                  : json_null ());
    json_object_set_new (object, "model", json_string (request->oai.model));
    json_object_set_new (object, "output", json_deep_copy (resp->output));
    json_object_update (object, resp->echo);
    json_object_set_new (object, "usage", streq (status, "in_progress") ? json_null () : s_usage (request));
    return object;
}

//  response.created and response.in_progress, before a stream's first item.
static void
s_created (xinf_gw_request_t *request)
{
    xinf_gw_resp_t *resp = request->shaped;
    if (!request->oai.stream || resp->created)
        return;
    resp->created = true;
    const char *types [] = { "response.created", "response.in_progress" };
    for (size_t index = 0; index < 2; index++) {
        json_t *event = s_event_new (types [index]);
        json_object_set_new (event, "response", s_response (request, "in_progress", NULL, NULL));
        s_event_send (request, event);
    }
}

static json_t *
s_text_part (const char *text, size_t size, json_t *logprobs)
{
    json_t *part = json_pack ("{s:s}", "type", "output_text");
    json_object_set_new (part, "text", xinf_gw_json_text (text ? text : "", text ? size : 0));
    json_object_set_new (part, "annotations", json_array ());
    json_object_set_new (part, "logprobs", logprobs ? json_deep_copy (logprobs) : json_array ());
    return part;
}

static json_t *
s_message_item (xinf_gw_resp_t *resp, const char *status, bool with_part)
{
    json_t *item = json_pack ("{s:s,s:s,s:s,s:s}", "id", resp->message_id, "type", "message", "status", status,
                              "role", "assistant");
    json_t *content = json_array ();
    if (with_part)
        json_array_append_new (content, s_text_part (resp->message_text.data, resp->message_text.size,
                                                     resp->message_logprobs));
    json_object_set_new (item, "content", content);
    return item;
}

//  An event about the part of open item 'id': its item, output and content index.
static json_t *
s_part_event (xinf_gw_resp_t *resp, const char *id, const char *type)
{
    json_t *event = s_event_new (type);
    json_object_set_new (event, "item_id", json_string (id));
    json_object_set_new (event, "output_index", json_integer ((json_int_t) json_array_size (resp->output)));
    json_object_set_new (event, "content_index", json_integer (0));
    return event;
}

// ---- a thought: a reasoning item ---------------------------------------------

static json_t *
s_reasoning_part (const char *text, size_t size)
{
    json_t *part = json_pack ("{s:s}", "type", "reasoning_text");
    json_object_set_new (part, "text", xinf_gw_json_text (text ? text : "", text ? size : 0));
    return part;
}

static json_t *
s_reasoning_item (xinf_gw_resp_t *resp, const char *status, bool with_part)
{
    json_t *item = json_pack ("{s:s,s:s,s:s,s:[]}", "id", resp->reasoning_id, "type", "reasoning", "status", status,
                              "summary");
    json_t *content = json_array ();
    if (with_part)
        json_array_append_new (content, s_reasoning_part (resp->reasoning_text.data, resp->reasoning_text.size));
    json_object_set_new (item, "content", content);
    return item;
}

//  An item event: its index (the next output's) and the item.
static void
s_item_event (xinf_gw_request_t *request, const char *type, json_t *item)
{
    xinf_gw_resp_t *resp = request->shaped;
    json_t *event = s_event_new (type);
    json_object_set_new (event, "output_index", json_integer ((json_int_t) json_array_size (resp->output)));
    json_object_set_new (event, "item", item);
    s_event_send (request, event);
}

static void
s_reasoning_close (xinf_gw_request_t *request)
{
    xinf_gw_resp_t *resp = request->shaped;
    if (!*resp->reasoning_id)
        return;
    const char *text = resp->reasoning_text.data;
    size_t size = resp->reasoning_text.size;
    if (request->oai.stream) {
        json_t *event = s_part_event (resp, resp->reasoning_id, "response.reasoning_text.done");
        json_object_set_new (event, "text", xinf_gw_json_text (text ? text : "", size));
        s_event_send (request, event);
        event = s_part_event (resp, resp->reasoning_id, "response.content_part.done");
        json_object_set_new (event, "part", s_reasoning_part (text, size));
        s_event_send (request, event);
        s_item_event (request, "response.output_item.done", s_reasoning_item (resp, "completed", true));
    }
    json_array_append_new (resp->output, s_reasoning_item (resp, "completed", true));
    *resp->reasoning_id = 0;
    xinf_gw_buf_free (&resp->reasoning_text);
}

static void s_message_close (xinf_gw_request_t *request);

void
xinf_gw_responses_thought (xinf_gw_request_t *request, const char *text, size_t size)
{
    xinf_gw_resp_t *resp = request->shaped;
    s_message_close (request);                      //  a thought after text: an item of its own
    json_decref (request->logprobs);                //  the thought's tokens' are not the text's
    request->logprobs = NULL;
    if (!*resp->reasoning_id) {
        s_item_id ("rs", resp->reasoning_id, sizeof resp->reasoning_id);
        if (request->oai.stream) {
            s_created (request);
            s_item_event (request, "response.output_item.added", s_reasoning_item (resp, "in_progress", false));
            json_t *event = s_part_event (resp, resp->reasoning_id, "response.content_part.added");
            json_object_set_new (event, "part", s_reasoning_part (NULL, 0));
            s_event_send (request, event);
        }
    }
    xinf_gw_buf_add (&resp->reasoning_text, text, size);
    if (request->oai.stream) {
        json_t *event = s_part_event (resp, resp->reasoning_id, "response.reasoning_text.delta");
        json_object_set_new (event, "delta", xinf_gw_json_text (text, size));
        s_event_send (request, event);
        xinf_gw_stream_wake (request);
    }
}

// ---- text: a message item ------------------------------------------------------

static void
s_message_open (xinf_gw_request_t *request)
{
    xinf_gw_resp_t *resp = request->shaped;
    s_reasoning_close (request);
    if (*resp->message_id)
        return;
    s_item_id ("msg", resp->message_id, sizeof resp->message_id);
    resp->message_logprobs = json_array ();
    if (!request->oai.stream)
        return;
    s_created (request);
    json_t *event = s_event_new ("response.output_item.added");
    json_object_set_new (event, "output_index", json_integer ((json_int_t) json_array_size (resp->output)));
    json_object_set_new (event, "item", s_message_item (resp, "in_progress", false));
    s_event_send (request, event);
    event = s_part_event (resp, resp->message_id, "response.content_part.added");
    json_object_set_new (event, "part", s_text_part (NULL, 0, NULL));
    s_event_send (request, event);
}

//  The log-probabilities of the tokens since the last call (taken from
//  the request), kept with the open message's.
static json_t *
s_take_logprobs (xinf_gw_request_t *request)
{
    xinf_gw_resp_t *resp = request->shaped;
    json_t *entries = request->logprobs ? request->logprobs : json_array ();
    request->logprobs = NULL;
    json_array_extend (resp->message_logprobs, entries);
    return entries;
}

static void
s_message_text (xinf_gw_request_t *request, const char *text, size_t size)
{
    xinf_gw_resp_t *resp = request->shaped;
    s_message_open (request);
    json_t *logprobs = s_take_logprobs (request);
    xinf_gw_buf_add (&resp->message_text, text, size);
    if (!request->oai.stream) {
        json_decref (logprobs);
        return;
    }
    json_t *event = s_part_event (resp, resp->message_id, "response.output_text.delta");
    json_object_set_new (event, "delta", xinf_gw_json_text (text, size));
    json_object_set_new (event, "logprobs", logprobs);
    s_event_send (request, event);
}

//  The open message is complete: its done events, then an output item.
static void
s_message_close (xinf_gw_request_t *request)
{
    xinf_gw_resp_t *resp = request->shaped;
    if (!*resp->message_id)
        return;
    json_decref (s_take_logprobs (request));
    if (request->oai.stream) {
        json_t *event = s_part_event (resp, resp->message_id, "response.output_text.done");
        json_object_set_new (event, "text", xinf_gw_json_text (resp->message_text.data ? resp->message_text.data : "",
                                                               resp->message_text.size));
        json_object_set_new (event, "logprobs", json_deep_copy (resp->message_logprobs));
        s_event_send (request, event);
        event = s_part_event (resp, resp->message_id, "response.content_part.done");
        json_object_set_new (event, "part", s_text_part (resp->message_text.data, resp->message_text.size,
                                                         resp->message_logprobs));
        s_event_send (request, event);
        event = s_event_new ("response.output_item.done");
        json_object_set_new (event, "output_index", json_integer ((json_int_t) json_array_size (resp->output)));
        json_object_set_new (event, "item", s_message_item (resp, "completed", true));
        s_event_send (request, event);
    }
    json_array_append_new (resp->output, s_message_item (resp, "completed", true));
    *resp->message_id = 0;
    xinf_gw_buf_free (&resp->message_text);
    json_decref (resp->message_logprobs);
    resp->message_logprobs = NULL;
}

//  A chat tool call ({id, type, function: {name, arguments}}) as a function_call item.
static json_t *
s_call_item (json_t *call, const char *status, bool arguments)
{
    json_t *function = json_object_get (call, "function");
    char id [48];
    s_item_id ("fc", id, sizeof id);
    json_t *item = json_pack ("{s:s,s:s,s:s}", "id", id, "type", "function_call", "status", status);
    json_object_set (item, "call_id", json_object_get (call, "id"));
    json_object_set (item, "name", json_object_get (function, "name"));
    json_t *given = json_object_get (function, "arguments");
    json_object_set_new (item, "arguments", arguments && json_is_string (given) ? json_incref (given)
                                                                              : json_string (arguments ? "{}" : ""));
    return item;
}

static void
s_call (xinf_gw_request_t *request, json_t *call)
{
    xinf_gw_resp_t *resp = request->shaped;
    json_t *done = s_call_item (call, "completed", true);
    if (request->oai.stream) {
        s_created (request);
        json_int_t index = (json_int_t) json_array_size (resp->output);
        json_t *added = json_deep_copy (done);
        json_object_set_new (added, "status", json_string ("in_progress"));
        json_object_set_new (added, "arguments", json_string (""));
        json_t *event = s_event_new ("response.output_item.added");
        json_object_set_new (event, "output_index", json_integer (index));
        json_object_set_new (event, "item", added);
        s_event_send (request, event);
        const char *steps [] = { "response.function_call_arguments.delta", "response.function_call_arguments.done" };
        for (size_t step = 0; step < 2; step++) {
            event = s_event_new (steps [step]);
            json_object_set (event, "item_id", json_object_get (done, "id"));
            json_object_set_new (event, "output_index", json_integer (index));
            json_object_set (event, step ? "arguments" : "delta", json_object_get (done, "arguments"));
            s_event_send (request, event);
        }
        event = s_event_new ("response.output_item.done");
        json_object_set_new (event, "output_index", json_integer (index));
        json_object_set (event, "item", done);
        s_event_send (request, event);
    }
    json_array_append_new (resp->output, done);
}

void
xinf_gw_responses_delta (xinf_gw_request_t *request, const char *text, size_t size, json_t *calls)
{
    if (size)
        s_message_text (request, text, size);
    if (calls && json_array_size (calls)) {
        //  The tokens not yet shown spelled the calls' markup: not the text's
        json_decref (request->logprobs);
        request->logprobs = NULL;
        s_reasoning_close (request);
        s_message_close (request);
        for (size_t index = 0; index < json_array_size (calls); index++)
            s_call (request, json_array_get (calls, index));
    }
    if (request->oai.stream && request->sse.size)
        xinf_gw_stream_wake (request);
}

//  The conversation the response ends: its input's, then the answer as an
//  assistant's message (its text and calls), for previous_response_id.
static json_t *
s_conversation (xinf_gw_request_t *request)
{
    xinf_gw_resp_t *resp = request->shaped;
    xinf_gw_buf_t text = { 0 };
    json_t *calls = json_array ();
    for (size_t index = 0; index < json_array_size (resp->output); index++) {
        json_t *item = json_array_get (resp->output, index);
        const char *type = json_string_value (json_object_get (item, "type"));
        if (streq (type, "message")) {
            json_t *part = json_array_get (json_object_get (item, "content"), 0);
            xinf_gw_buf_add_str (&text, json_string_value (json_object_get (part, "text")) ?: "");
        }
        else
        if (streq (type, "function_call")) {
            json_t *function = json_pack ("{s:O,s:O}", "name", json_object_get (item, "name"),
                                          "arguments", json_object_get (item, "arguments"));
            json_array_append_new (calls, json_pack ("{s:O,s:s,s:o}", "id", json_object_get (item, "call_id"),
                                                     "type", "function", "function", function));
        }
    }
    json_t *message = json_pack ("{s:s}", "role", "assistant");
    json_object_set_new (message, "content", json_stringn (text.data ? text.data : "", text.size));
    if (json_array_size (calls))
        json_object_set (message, "tool_calls", calls);
    json_decref (calls);
    xinf_gw_buf_free (&text);
    json_t *conversation = json_deep_copy (resp->conversation);
    json_array_append_new (conversation, message);
    return conversation;
}

void
xinf_gw_responses_finish (xinf_gw_request_t *request, const char *reason)
{
    xinf_gw_resp_t *resp = request->shaped;
    s_reasoning_close (request);
    s_message_close (request);
    bool cut = streq (reason, "length") && request->tool_call_count == 0;
    json_t *object = s_response (request, cut ? "incomplete" : "completed", cut ? "max_output_tokens" : NULL, NULL);
    if (resp->store
    &&  !xinf_gw_rstore_put (request->gateway->responses, resp->owner, json_deep_copy (object), s_conversation (request)))
        xinf_warn ("gateway", "response %s not stored: it alone is over the store's %d bytes", request->id,
                   XINF_GW_RESPONSES_BYTES);
    if (!request->oai.stream) {
        xinf_gw_respond_json (request, 200, object);
        return;
    }
    s_created (request);
    json_t *event = s_event_new (cut ? "response.incomplete" : "response.completed");
    json_object_set_new (event, "response", object);
    s_event_send (request, event);
    request->stream_ended = true;
    xinf_gw_stream_wake (request);
}

void
xinf_gw_responses_fail_stream (xinf_gw_request_t *request, const xinf_gw_error_t *error)
{
    s_created (request);
    json_t *event = s_event_new ("response.failed");
    json_object_set_new (event, "response", s_response (request, "failed", NULL, error));
    s_event_send (request, event);
    //  OpenAI's error event, with the error's object too (what clients
    //  that read chat streams' errors look for)
    event = s_event_new ("error");
    json_object_set_new (event, "code", error->code ? json_string (error->code) : json_null ());
    json_object_set_new (event, "message", json_string (error->message));
    json_object_set_new (event, "param", *error->param ? json_string (error->param) : json_null ());
    json_t *wrapped = xinf_gw_error_json (error);
    json_object_set (event, "error", json_object_get (wrapped, "error"));
    json_decref (wrapped);
    s_event_send (request, event);
}
