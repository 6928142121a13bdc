/*  xinf_gateway_generate: /v1/completions and /v1/chat/completions over
    GENERATE.

    A chat first asks LIST_MODELS for the model's chat template and special
    tokens, renders the messages, then generates. The gateway always asks
    for a stream (GENERATE with stream) so that stop strings are seen as
    soon as they are complete: the text is shown up to the stop, the
    generation is cancelled (CANCEL) and the answer ends with
    finish_reason "stop". Without `stream` the HTTP answer is one JSON
    object at the end; with it, server-sent events as tokens come (their
    shape: xinf_gateway_completion.c). A prompt too large for a GENERATE
    is 413 at once.
*/
#include "xinf_gateway_private.h"
#include "xinf_gateway_completion.h"
#include "xinf_gateway_chat.h"
#include "xinf_gateway_toolcalls.h"
#include "xinf_gateway_responses.h"
#include "xinf_gateway_reasoning.h"
#include "xinf_gateway_anthropic.h"
#include "xinf_gateway_llama.h"
#include "xinf_client_msg.h"
#include "xinf_envelope_msg.h"
#include "xinf_request_check.h"

#define XINF_GW_LIST_MS  10000     //  LIST_MODELS deadline

static void
s_new_id (xinf_gw_request_t *request)
{
    request->created = (int64_t) time (NULL);
    if (request->shape) {
        request->shape->new_id (request->id, sizeof request->id);
        return;
    }
    snprintf (request->id, sizeof request->id, "%s-%08x%08x", request->oai.chat ? "chatcmpl" : "cmpl",
              (unsigned) randof (0x7fffffff), (unsigned) randof (0x7fffffff));
}

//  A GENERATE the supervisor would refuse for its size is refused here,
//  at once, with 413: its prompt (text, token ids or a rendered chat) over
//  the entry's limits (xinf_request_check.h), which keep the message and
//  the RUN relayed from it within the envelope's limits. (Sent, one over
//  the envelope's header limit would be refused unread by the supervisor.)
static bool
s_size_ok (xinf_gw_request_t *request, const xinf_value_t *body, xinf_gw_error_t *error)
{
    const char *param = request->oai.chat ? "messages" : "prompt";
    if (request->oai.prompt_token_count > XINF_PROMPT_TOKENS_MAX) {
        xinf_gw_error_set (error, 413, "invalid_request_error", "request_too_large", param,
                           "the prompt has %zu token ids; at most %d are accepted", request->oai.prompt_token_count,
                           XINF_PROMPT_TOKENS_MAX);
        return false;
    }
    //  Each logit bias is 5 values (a map of two keys and values) beside
    //  the ids, and each allowed token one, under the same envelope's limit
    size_t allowed = request->oai.allowed ? json_array_size (request->oai.allowed) : 0;
    size_t values = request->oai.prompt_token_count + 5 * request->oai.bias_count + allowed;
    if (values > XINF_PROMPT_TOKENS_MAX) {
        xinf_gw_error_set (error, 413, "invalid_request_error", "request_too_large",
                           allowed ? "allowed_token_ids" : "logit_bias", "the prompt's %zu token ids, %zu logit biases "
                           "(5 values each) and %zu allowed tokens are %zu values; at most %d are accepted",
                           request->oai.prompt_token_count, request->oai.bias_count, allowed, values,
                           XINF_PROMPT_TOKENS_MAX);
        return false;
    }
    xinf_mpbuf_t packed;
    xinf_mpbuf_init (&packed);
    xinf_value_write (body, &packed);
    size_t size = packed.size;
    xinf_mpbuf_release (&packed);
    if (size > XINF_GENERATE_BODY_MAX) {
        xinf_gw_error_set (error, 413, "invalid_request_error", "request_too_large", param,
                           "the %s is too large: a request with it packs to %zu bytes; at most %d are accepted",
                           request->oai.chat ? "chat's rendered prompt" : "prompt", size, XINF_GENERATE_BODY_MAX);
        return false;
    }
    //  n choices are n GENERATEs queued at once: together no more than
    //  two of the largest, so that one client cannot fill the
    //  supervisor's queue with one request
    if (request->oai.n > 1 && request->oai.n * size > XINF_GW_CHOICES_BYTES) {
        xinf_gw_error_set (error, 413, "invalid_request_error", "request_too_large", "n",
                           "%zu choices of this request are %zu generations of %zu bytes each; at most %d bytes "
                           "in all are accepted: ask for fewer choices or send a shorter prompt", request->oai.n,
                           request->oai.n, size, XINF_GW_CHOICES_BYTES);
        return false;
    }
    return true;
}

//  echo: the prompt's text begins the choice, its first chunk or its
//  answer (with the prompt's log-probabilities, when the choice has them).
static void
s_echo (xinf_gw_request_t *request, const char *text, size_t size)
{
    if (request->oai.stream)
        xinf_gw_completion_chunk (request, text, size, NULL);
    else
        xinf_gw_buf_add (&request->output, text, size);
}

//  Whether echo needs the prompt's tokens from the worker: their
//  log-probabilities, or the text of a prompt of token ids.
static bool
s_echo_scored (const xinf_gw_oai_t *oai)
{
    return oai->echo && (oai->logprobs || oai->prompt_tokens);
}

//  The first token brought the prompt's tokens (GENERATE prompt_logprobs):
//  the echo, with their log-probabilities first among the choice's. -1
//  when they did not come (the request failed).
static int
s_echo_prompt (xinf_gw_request_t *request, const xinf_value_t *prompt)
{
    request->echo_pending = false;
    if (!prompt) {
        xinf_gw_error_t error;
        xinf_gw_error_set (&error, 502, "server_error", "bad_reply", NULL,
                           "the worker answered without the prompt's log-probabilities");
        xinf_gw_request_fail (request, &error);
        return -1;
    }
    json_t *entries = json_array ();
    xinf_gw_buf_t text = { 0 };
    xinf_gw_logprobs_prompt (entries, prompt, &text);
    if (request->oai.logprobs) {
        if (!request->logprobs)
            request->logprobs = json_array ();
        json_array_extend (request->logprobs, entries);
    }
    json_decref (entries);
    if (request->oai.prompt_tokens)
        s_echo (request, text.data ? text.data : "", text.size);
    else
        s_echo (request, request->oai.prompt, request->oai.prompt_size);
    xinf_gw_buf_free (&text);
    return 0;
}

//  The GENERATE of one choice. A text prompt gets a BOS as the model's
//  file says (tokenizer.ggml.add_bos_token: add_bos left out), as
//  llama-server tokenizes with add_special; 'has_bos': the prompt already
//  starts with the model's BOS (a template wrote it), so none is added.
static void
s_send_one (xinf_gw_request_t *request, bool has_bos)
{
    xinf_gw_oai_t *oai = &request->oai;
    xinf_msg_t *msg = xinf_msg_new ("GENERATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "uid", oai->model);
    if (oai->prompt_tokens) {
        xinf_value_t *ids = xinf_value_new_array ();
        for (size_t index = 0; index < oai->prompt_token_count; index++)
            xinf_array_push (ids, xinf_value_new_uint (oai->prompt_tokens [index]));
        xinf_map_put (body, "prompt_tokens", ids);
    }
    else {
        xinf_map_put (body, "prompt", xinf_value_new_strn (oai->prompt, oai->prompt_size));
        if (has_bos)
            xinf_map_put_bool (body, "add_bos", false);
    }
    //  Control tokens' texts become those tokens, as in llama-server and
    //  vLLM: a chat's rendered template, and a completion's prompt
    //  formatted by hand (<|start_header_id|>user<|end_header_id|>...)
    if (!oai->prompt_tokens)
        xinf_map_put_bool (body, "special", true);
    uint64_t max_tokens = oai->max_tokens;
    if (max_tokens == 0 && !oai->zero_tokens)   //  OpenAI's defaults: 16 for completions, up to the context for chat
        max_tokens = oai->chat ? (request->context_length ? request->context_length : 4096) : 16;
    xinf_map_put_uint (body, "max_tokens", max_tokens);
    //  top_p 0 keeps only the most likely token: greedy; so does one too
    //  small for a float (sampling's type), such as 1e-50
    bool nucleus = (float) oai->top_p > 0;
    xinf_map_put_float (body, "temperature", nucleus ? oai->temperature : 0);
    xinf_map_put_float (body, "top_p", nucleus ? oai->top_p : 1);
    xinf_map_put_uint (body, "top_k", oai->top_k);
    if (oai->min_p > 0)
        xinf_map_put_float (body, "min_p", oai->min_p);
    if (oai->presence_penalty != 0)
        xinf_map_put_float (body, "presence_penalty", oai->presence_penalty);
    if (oai->frequency_penalty != 0)
        xinf_map_put_float (body, "frequency_penalty", oai->frequency_penalty);
    if (oai->repetition_penalty != 1)
        xinf_map_put_float (body, "repetition_penalty", oai->repetition_penalty);
    if (oai->repetition_penalty != 1 && oai->has_repetition_last_n)
        xinf_map_put_uint (body, "repetition_last_n", oai->repetition_last_n);
    if (oai->bias_count) {
        xinf_value_t *biases = xinf_value_new_array ();
        for (size_t index = 0; index < oai->bias_count; index++) {
            xinf_value_t *item = xinf_value_new_map ();
            xinf_map_put_uint (item, "token", oai->bias_tokens [index]);
            xinf_map_put_float (item, "bias", oai->bias_values [index]);
            xinf_array_push (biases, item);
        }
        xinf_map_put (body, "logit_bias", biases);
    }
    if (oai->ignore_eos)
        xinf_map_put_bool (body, "ignore_eos", true);
    if (oai->json_object)
        xinf_map_put_str (body, "response_format", "json_object");
    if (oai->json_schema) {
        xinf_map_put_str (body, "response_format", "json_schema");
        xinf_map_put_str (body, "json_schema", oai->json_schema);
    }
    if (oai->regex) {
        xinf_map_put_str (body, "response_format", "regex");
        xinf_map_put_str (body, "regex", oai->regex);
    }
    if (oai->gbnf) {
        xinf_map_put_str (body, "response_format", "grammar");
        xinf_map_put_str (body, "grammar", oai->gbnf);
    }
    if (oai->stop_id_count) {
        xinf_value_t *ids = xinf_value_new_array ();
        for (size_t index = 0; index < oai->stop_id_count; index++)
            xinf_array_push (ids, xinf_value_new_uint (oai->stop_ids [index]));
        xinf_map_put (body, "stop_token_ids", ids);
    }
    if (oai->min_tokens)
        xinf_map_put_uint (body, "min_tokens", oai->min_tokens < max_tokens ? oai->min_tokens : max_tokens);
    if (oai->logprobs) {
        xinf_map_put_bool (body, "logprobs", true);
        xinf_map_put_uint (body, "top_logprobs", oai->top_logprobs);
    }
    if (s_echo_scored (oai))
        xinf_map_put_uint (body, "prompt_logprobs", oai->logprobs ? oai->top_logprobs : 0);
    xinf_map_put_uint (body, "seed", oai->has_seed ? oai->seed : (uint64_t) randof (0x7fffffff));
    if (oai->priority)
        xinf_map_put_int (body, "priority", oai->priority);
    if (*oai->lora)
        xinf_map_put_str (body, "lora", oai->lora);
    if (oai->allowed) {
        xinf_value_t *ids = xinf_value_new_array ();
        for (size_t index = 0; index < json_array_size (oai->allowed); index++)
            xinf_array_push (ids, xinf_value_new_uint ((uint64_t) json_integer_value (json_array_get (oai->allowed,
                                                                                                        index))));
        xinf_map_put (body, "allowed_token_ids", ids);
    }
    for (size_t index = 0; oai->bad_words && index < json_array_size (oai->bad_words); index++) {
        if (!index)
            xinf_map_put (body, "bad_words", xinf_value_new_array ());
        xinf_array_push (xinf_map_get (body, "bad_words"),
                         xinf_value_new_str (json_string_value (json_array_get (oai->bad_words, index))));
    }
    if (oai->truncate)
        xinf_map_put_uint (body, "truncate_prompt_tokens", oai->truncate > 0 ? (uint64_t) oai->truncate : 0);
    xinf_map_put_bool (body, "stream", true);
    xinf_gw_error_t error;
    if (!s_size_ok (request, body, &error)) {
        xinf_msg_destroy (&msg);
        xinf_gw_request_fail (request, &error);
        return;
    }
    if (xinf_gw_call (request, &msg, request->gateway->config.request_timeout_ms, &error)) {
        xinf_gw_request_fail (request, &error);
        return;
    }
    request->generating = true;
    request->generate_corr = request->corr;
    request->sent_us = zclock_usecs ();
    request->echo_pending = s_echo_scored (oai);
    if (oai->echo && !request->echo_pending)
        s_echo (request, oai->prompt, oai->prompt_size);
}

//  The GENERATE of each choice: the request's own, then its children's
//  (n > 1), until one fails (which fails the request).
static void
s_send_generate (xinf_gw_request_t *request, bool has_bos)
{
    xinf_gw_choices_spawn (request);
    s_send_one (request, has_bos);
    for (size_t index = 0; index < request->child_count && !request->failed; index++)
        s_send_one (request->children [index], has_bos);
}

void
xinf_gw_generate_start (xinf_gw_request_t *request)
{
    xinf_gw_error_t error;
    json_t *root = xinf_gw_json_parse (request->body.data, request->body.size, &error);
    int rc = -1;
    if (root && request->route == XINF_GW_ROUTE_RESPONSES)
        rc = xinf_gw_responses_parse (request, root, &error);
    else
    if (root && request->route == XINF_GW_ROUTE_MESSAGES)
        rc = xinf_gw_anthropic_parse (request, root, &error);
    else
    if (root && (request->route == XINF_GW_ROUTE_LLAMA_COMPLETION || request->route == XINF_GW_ROUTE_LLAMA_INFILL))
        rc = xinf_gw_llama_parse (request, root, &error);
    else
    if (root)
        rc = xinf_gw_oai_parse (root, request->route == XINF_GW_ROUTE_CHAT, &request->oai, &error);
    if (rc) {
        json_decref (root);
        xinf_gw_respond_error (request, &error);
        return;
    }
    json_decref (root);
    xinf_gw_buf_free (&request->body);
    s_new_id (request);
    xinf_gw_text_init (&request->text, request->oai.stops, request->oai.stop_count);
    request->text.include_stop = request->oai.include_stop;
    if (!request->oai.chat && !request->oai.suffix && request->oai.model [0] && !request->oai.lora_id) {
        s_send_generate (request, false);
        return;
    }
    xinf_msg_t *list = xinf_msg_new ("LIST_MODELS");
    if (xinf_gw_call (request, &list, XINF_GW_LIST_MS, &error))
        xinf_gw_request_fail (request, &error);
}

//  Chat: the model's template and tokens from LIST_MODELS, then GENERATE;
//  a completion with a suffix: its fill-in-the-middle tokens.
static void
s_on_models (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_gw_chat_model_t model;
    xinf_gw_error_t error;
    if (request->oai.model [0] ? xinf_gw_chat_model_find (msg, request->oai.model, &model, &error)
                               : xinf_gw_chat_model_only (msg, &model, &error)) {
        xinf_gw_request_fail (request, &error);
        return;
    }
    request->context_length = model.context_length;
    if (!request->oai.model [0])             //  llama-server's: the one model
        snprintf (request->oai.model, sizeof request->oai.model, "%s", model.uid);
    if (request->oai.lora_id && xinf_gw_chat_model_lora (&model, request->oai.lora_id - 1, request->oai.lora,
                                                               sizeof request->oai.lora, &error)) {
        xinf_gw_request_fail (request, &error);
        return;
    }
    if (!request->oai.chat && !request->oai.suffix) {
        s_send_generate (request, false);
        return;
    }
    if (!request->oai.chat) {                //  a completion with a suffix
        char *prompt = xinf_gw_chat_fim (&model, &request->oai, &error);
        if (!prompt) {
            xinf_gw_request_fail (request, &error);
            return;
        }
        free (request->oai.prompt);
        request->oai.prompt = prompt;
        request->oai.prompt_size = strlen (prompt);
        s_send_generate (request, false);
        return;
    }
    bool fallback;
    char *prompt = xinf_gw_chat_render (request->gateway->template_warned, &model, &request->oai, true, &fallback,
                                        &error);
    if (!prompt) {
        xinf_gw_request_fail (request, &error);
        return;
    }
    if (request->oai.tools && request->oai.tool_choice != XINF_GW_TOOL_CHOICE_NONE) {
        //  The answer is read for calls in the format the template taught
        bool supports;
        xinf_gw_tool_format_t format = fallback ? XINF_GW_TOOLS_HERMES
                                                : xinf_gw_tool_format_of (model.chat_template, &supports);
        request->toolcalls = malloc (sizeof (xinf_gw_toolcalls_t));
        assert (request->toolcalls);
        xinf_gw_toolcalls_init (request->toolcalls, format, request->oai.parallel_tool_calls);
        xinf_gw_toolcalls_set_tools (request->toolcalls, request->oai.tools);
        request->tool_calls = json_array ();
        request->tool_parsing = true;
        request->tool_format = format;
    }
    //  A reasoning model's thought is parted from its answer, unless the
    //  answer is constrained (JSON, a regex: from its first token, no thought);
    //  a harmony model answers in messages even when its template fell back
    bool constrained = request->oai.constraint != NULL;
    bool harmony = xinf_gw_reasoning_harmony (model.chat_template);
    if (!request->oai.reasoning_raw && (!fallback || harmony) && !constrained
    &&  xinf_gw_reasoning_template (model.chat_template)) {
        request->reasoning = malloc (sizeof (xinf_gw_reasoning_t));
        assert (request->reasoning);
        request->reasoning_open = xinf_gw_reasoning_prompt_open (prompt);
        xinf_gw_reasoning_init (request->reasoning, request->reasoning_open, harmony);
        if (request->tool_parsing && request->tool_format == XINF_GW_TOOLS_KIMI_K2)
            //  Kimi K2 may call from inside its thought: a call ends it
            xinf_gw_reasoning_set_breaks (request->reasoning, xinf_gw_tool_openers (XINF_GW_TOOLS_KIMI_K2));
    }
    free (request->oai.prompt);
    request->oai.prompt = prompt;
    request->oai.prompt_size = strlen (prompt);
    //  A template that writes the BOS itself gets no second one
    bool has_bos = *model.bos_token && strncmp (prompt, model.bos_token, strlen (model.bos_token)) == 0;
    s_send_generate (request, has_bos);
}

void
xinf_gw_generate_clear (xinf_gw_request_t *request)
{
    if (request->toolcalls)
        xinf_gw_toolcalls_clear (request->toolcalls);
    free (request->toolcalls);
    request->toolcalls = NULL;
    json_decref (request->tool_calls);
    request->tool_calls = NULL;
    json_decref (request->logprobs);
    request->logprobs = NULL;
    free (request->ids);
    request->ids = NULL;
    request->id_count = request->id_room = 0;
    if (request->reasoning)
        xinf_gw_reasoning_clear (request->reasoning);
    free (request->reasoning);
    request->reasoning = NULL;
    xinf_gw_buf_free (&request->thought);
}

//  A choice's generation is over: the last chunks, or its part of the
//  answer, which goes out once every choice is in.
static void
s_finish (xinf_gw_request_t *request, const char *reason)
{
    xinf_gw_call_forget (request);
    request->ended = true;
    xinf_gw_metrics_end (request->gateway->metrics, request->oai.model, reason, request->prompt_tokens,
                         request->completion_tokens);
    xinf_gw_buf_t tail = { 0 };
    xinf_gw_text_flush (&request->text, &tail);
    if (request->shape) {
        xinf_gw_completion_emit (request, tail.data, tail.size, true);
        request->shape->finish (request, reason);
    }
    else
    if (request->oai.stream)
        xinf_gw_completion_finish_stream (request, reason, &tail);
    else
        xinf_gw_completion_finish_answer (request, reason, &tail);
    xinf_gw_buf_free (&tail);
}

static void
s_on_token (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_generate_token_t token;
    if (xinf_client_msg_generate_token_decode (body, &token, &check)) {
        xinf_warn ("gateway", "GENERATE_TOKEN ignored reason=\"%s\"", check.reason);
        return;
    }
    //  A token's bytes may hold a NUL (a byte token): read them as bytes
    size_t size = 0;
    const char *text = xinf_value_bytes (xinf_map_get (body, "text"), &size);
    bool end = token.has_end && token.end;
    uint64_t prompt_length = token.has_prompt_length ? token.prompt_length : 0;
    int64_t now = zclock_usecs ();
    xinf_gw_metrics_token (request->gateway->metrics, request->oai.model,
                           (double) (now - (request->last_token_us ? request->last_token_us : request->sent_us)) / 1e6,
                           request->last_token_us == 0);
    if (!request->first_token_us)
        request->first_token_us = now;
    request->last_token_us = now;
    request->completion_tokens++;
    if (prompt_length)
        request->prompt_tokens = (size_t) prompt_length;
    if (token.has_cached_tokens) {
        request->cached_tokens = (size_t) token.cached_tokens;
        request->cached_known = true;
    }
    if (request->echo_pending
    &&  s_echo_prompt (request, token.has_prompt_logprobs ? token.prompt_logprobs : NULL))
        return;
    //  An end token's text is not part of the answer; a completion's
    //  log-probabilities still count it (as vLLM's), with no text, so
    //  that their last entry is always the last token generated (what
    //  lm-evaluation-harness's echo requests drop)
    if (request->oai.logprobs && token.has_logprob && !(end && request->oai.chat)) {
        if (!request->logprobs)
            request->logprobs = json_array ();
        json_t *entry = xinf_gw_logprobs_entry (text, end ? 0 : size, token.logprob,
                                                token.has_top_logprobs ? token.top_logprobs : NULL);
        if (request->oai.llama)              //  llama-server's entries name the ids
            xinf_gw_logprobs_ids (entry, (uint32_t) token.token, token.has_top_logprobs ? token.top_logprobs : NULL);
        json_array_append_new (request->logprobs, entry);
    }
    if (request->oai.return_tokens) {
        if (request->id_count == request->id_room) {
            request->id_room = request->id_room ? 2 * request->id_room : 64;
            request->ids = realloc (request->ids, request->id_room * sizeof *request->ids);
            assert (request->ids);
        }
        request->ids [request->id_count++] = (uint32_t) token.token;
    }
    if (end)
        return;
    xinf_gw_buf_t shown = { 0 };
    xinf_gw_reasoning_t *thinking = request->reasoning;
    bool was_thinking = thinking && thinking->inside;
    request->text.stops_off = request->completion_tokens <= request->oai.min_tokens;     //  vLLM's order
    bool stopped = xinf_gw_text_feed (&request->text, text, size, &shown);
    if (request->oai.stream && (shown.size || stopped)) {
        if (request->tool_parsing || request->shape || request->reasoning)
            xinf_gw_completion_emit (request, shown.data, shown.size, false);
        else
            xinf_gw_completion_chunk (request, shown.data, shown.size, NULL);
        xinf_gw_request_t *top = xinf_gw_choices_top (request);
        xinf_gw_stream_wake (top);
        if (top->sse.size > XINF_GW_SSE_MAX) {
            //  The client does not read: its generation ends, and what it
            //  reads last says so (a stream that just stops would look
            //  like a whole answer without its finish_reason)
            xinf_warn ("gateway", "a stream's client reads too slowly (%zu bytes waiting): cancelling model=%s",
                       top->sse.size, request->oai.model);
            xinf_gw_error_t error;
            xinf_gw_error_set (&error, 408, "server_error", "slow_client", NULL, "the client read the stream too "
                               "slowly (%zu bytes waiting): the generation was cancelled", top->sse.size);
            xinf_gw_buf_free (&shown);
            xinf_gw_request_fail (request, &error);
            return;
        }
    }
    else
        xinf_gw_completion_emit (request, shown.data, shown.size, false);
    xinf_gw_buf_free (&shown);
    if (thinking && (was_thinking || thinking->inside))
        request->reasoning_tokens++;
    if (stopped || request->shape_ended) {
        xinf_gw_cancel (request);
        s_finish (request, stopped ? "stop" : "length");
    }
}

static void
s_on_done (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    request->generating = false;
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_generate_reply_t reply;
    if (xinf_client_msg_generate_reply_decode (xinf_msg_body (msg), &reply, &check))
        xinf_warn ("gateway", "GENERATE_REPLY malformed reason=\"%s\"", check.reason);
    if (reply.tokens)
        request->completion_tokens = xinf_value_count (reply.tokens);
    if (reply.prompt_tokens)
        request->prompt_tokens = xinf_value_count (reply.prompt_tokens);
    const xinf_value_t *timings = xinf_map_get (xinf_msg_body (msg), "timings");
    const xinf_value_t *cached = xinf_map_get (timings, "cached_tokens");
    if (xinf_value_type (cached) == XINF_UINT) {
        request->cached_tokens = (size_t) xinf_value_uint (cached);
        request->cached_known = true;
    }
    const xinf_value_t *prefill = xinf_map_get (timings, "prefill_ms"), *decode = xinf_map_get (timings, "decode_ms");
    request->prefill_ms = xinf_value_type (prefill) == XINF_FLOAT ? xinf_value_float (prefill) : -1;
    request->decode_ms = xinf_value_type (decode) == XINF_FLOAT ? xinf_value_float (decode) : -1;
    if (request->echo_pending                //  max_tokens 0: the prompt alone
    &&  s_echo_prompt (request, reply.has_prompt_logprobs ? reply.prompt_logprobs : NULL))
        return;
    s_finish (request, reply.finish_reason && streq (reply.finish_reason, "stop") ? "stop" : "length");
}

static void
s_on_error (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    request->generating = false;
    xinf_gw_error_t error;
    const char *code = xinf_gw_error_from_msg (&error, msg);
    //  The worker names GENERATE's fields: the answer's constraint is the one the client sent
    static const char *const constraints [] = { "response_format", "guided_regex", "grammar" };
    for (size_t index = 0; request->oai.constraint && index < 3; index++)
        if (streq (error.param, constraints [index]))
            snprintf (error.param, sizeof error.param, "%s", request->oai.constraint);
    if (error.status >= 500)
        xinf_info ("gateway", "generation failed model=%s code=%s message=\"%s\"", request->oai.model, code,
                   error.message);
    if (request->parent && !request->ended) {          //  a choice's own outcome; its parent counts its own
        request->ended = true;
        xinf_gw_metrics_end (request->gateway->metrics, xinf_gw_metrics_label (request, error.status),
                             xinf_gw_metrics_outcome (error.status), request->prompt_tokens,
                             request->completion_tokens);
    }
    xinf_gw_request_fail (request, &error);
}

void
xinf_gw_generate_on_reply (xinf_gw_request_t *request, xinf_msg_t *msg)
{
    if (xinf_msg_is (msg, "LIST_MODELS_REPLY"))
        s_on_models (request, msg);
    else
    if (xinf_msg_is (msg, "GENERATE_TOKEN"))
        s_on_token (request, msg);
    else
    if (xinf_msg_is (msg, "GENERATE_REPLY"))
        s_on_done (request, msg);
    else
    if (xinf_msg_is (msg, "ERROR"))
        s_on_error (request, msg);
    else
        xinf_warn ("gateway", "unexpected %s for a generation: ignored", xinf_msg_type (msg));
}
