/*  xinf_replica_step: continuous batching in a replica (part of
    xinf_replica): each step to the executor, each sampled token back into
    its request, streamed and finished; the ends of requests that fail.
*/
#include "xinf_replica_private.h"
#include "xinf_token_mask.h"
#include "xinf_request_tokens.h"
#include "xinf_penalties.h"
#include "xinf_samples.h"

void
xinf_replica_fail_request (xinf_ctx_t *ctx, uint64_t id, const char *code, const char *format, ...)
{
    char text [512];
    va_list args;
    va_start (args, format);
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    xinf_msg_t *msg = xinf_request_failed_msg (id, code, text);
    xinf_replica_send_up (ctx, &msg);
}

xinf_request_t *
xinf_replica_request (xinf_replica_actor_t *state, uint64_t id)
{
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) id);
    return (xinf_request_t *) zhashx_lookup (state->requests, key);
}

//  Forgets a request (answered or cancelled): its sequence leaves the
//  batch and its blocks are free for the next step.
void
xinf_replica_drop (xinf_replica_actor_t *state, uint64_t id)
{
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) id);
    xinf_batcher_remove (state->batcher, id);
    zhashx_delete (state->requests, key);
}

//  Ends every request with an error (the replica stops or its steps fail).
void
xinf_replica_fail_all (xinf_ctx_t *ctx, const char *code, const char *text)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    zlistx_t *ids = zhashx_keys (state->requests);
    for (const char *key = (const char *) zlistx_first (ids); key; key = (const char *) zlistx_next (ids)) {
        uint64_t id = strtoull (key, NULL, 10);
        xinf_replica_fail_request (ctx, id, code, "%s", text);
        xinf_replica_drop (state, id);
    }
    zlistx_destroy (&ids);
}

//  Of a step that crashed, hung or failed, only the requests with tokens
//  in it may be what caused it: they end first with its code (after an
//  executor fault the scheduler marks the replica down and retries a
//  request only once, lest it crash every replica). The others, only
//  waiting here, then end with 'waiting' (REPLICA_FAILED, retried as any
//  replica's failure), or stay for the next step ('waiting' NULL).
//  Without a step in flight nothing tells them apart.
void
xinf_replica_fail_step (xinf_ctx_t *ctx, const char *code, const char *text, const char *waiting)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    zlistx_t *ids = zhashx_keys (state->requests);
    for (int pass = 0; pass < (waiting ? 2 : 1) && state->in_flight; pass++)
        for (const char *key = (const char *) zlistx_first (ids); key; key = (const char *) zlistx_next (ids)) {
            uint64_t id = strtoull (key, NULL, 10);
            if (!xinf_replica_request (state, id) || xinf_batcher_in_step (state->batcher, id) != (pass == 0))
                continue;                     //  ended in the first pass, or not of this one
            if (pass == 0)
                xinf_replica_fail_request (ctx, id, code, "%s", text);
            else
                xinf_replica_fail_request (ctx, id, waiting, "%s (this request was waiting, not in the step)", text);
            xinf_replica_drop (state, id);
        }
    zlistx_destroy (&ids);
}

//  While requests are served, one registered wait: progress is steps done.
void
xinf_replica_serving_wait (xinf_replica_actor_t *state, bool busy)
{
    if (busy && !state->wait) {
        char what [96];
        snprintf (what, sizeof what, "serving %zu request(s)", zhashx_size (state->requests));
        //  Overdue when no step finished for the watchdog's time (and more)
        int64_t stall = state->stall_ms ? state->stall_ms + XINF_REDUCE_SLACK_MS : XINF_STEP_STALL_MS;
        state->wait = xinf_wait_begin (xinf_waits_global (), state->name, what, state->uid, stall);
    }
    else
    if (!busy && state->wait) {
        xinf_wait_end (xinf_waits_global (), state->wait);
        state->wait = 0;
    }
}

//  The prompt tokens a step may carry beside running streams (see
//  xinf_step_cost): every request whose prompt is not done waits for its
//  first token.
static size_t
s_prompt_cap (xinf_replica_actor_t *state)
{
    xinf_batcher_stats_t stats = xinf_batcher_stats (state->batcher);
    size_t waiting = stats.waiting + (stats.running - stats.decoding);
    return xinf_step_cost_prompt_cap (state->step_cost, stats.decoding, waiting, state->step_tokens,
                                      XINF_BLOCK_TOKENS);
}

//  The step's second frame: each row's sampling, so that the executor
//  samples and only token ids come back (with the log-probabilities a
//  row asks for); a row that scores a prompt token reports its
//  log-probability instead of sampling.
static void
s_add_sampling (xinf_replica_actor_t *state, xinf_msg_t *msg)
{
    state->step_reporting = false;
    for (size_t row = 0; row < state->step_rows; row++) {
        const xinf_request_t *request = xinf_replica_request (state, state->step_ids [row]);
        xinf_sample_row_t *it = &state->step_samples [row];
        int32_t score = state->step_scores [row];
        *it = xinf_sample_row (xinf_request_sampling (request));
        it->sampling.index += state->step_ahead [row];    //  a row after drafts: the token after them
        if (score >= 0) {
            it->sampling.temperature = 0;
            it->score = score;
        }
        else
            it->min_p = request->min_p;
        uint32_t word = score >= 0 ? xinf_request_prompt_word (request) : xinf_request_logprobs_word (request);
        it->logprobs = word > state->vocab + 1 ? (uint32_t) state->vocab + 1 : word;    //  no more tops than tokens
        state->step_logprobs [row] = it->logprobs;
        state->step_reporting = state->step_reporting || it->logprobs;
    }
    zframe_t *frame = zframe_new (NULL, xinf_samples_wire_size (state->step_rows));
    xinf_samples_encode (state->step_samples, state->step_rows, zframe_data (frame));
    xinf_msg_add_frame (msg, &frame);
}

//  Of a row after drafts (step_ahead not 0), the draft fed just before
//  it: the row's own token in the step's batch.
static int32_t
s_draft_before (xinf_replica_actor_t *state, size_t row)
{
    const xinf_batch_t *batch = xinf_batch_buf_view (state->batch);
    return batch->tokens [batch->out [row]];
}

//  The drafts before row 'row' count as generated for it (its request's
//  penalties' counts and repetition window), or are taken back (in the
//  reverse order: a window's token that left may come back).
static void
s_count_draft (xinf_replica_actor_t *state, size_t row, bool count)
{
    xinf_request_t *request = xinf_replica_request (state, state->step_ids [row]);
    size_t ahead = state->step_ahead [row];
    if (ahead == 0)
        return;
    int32_t draft = s_draft_before (state, row);
    if (request->counts && count)
        xinf_token_counts_add (request->counts, (uint32_t) draft);
    else
    if (request->counts)
        xinf_token_counts_remove (request->counts, (uint32_t) draft);
    if (count)
        xinf_request_seen_push (request, draft, ahead);
    else
        xinf_request_seen_pop (request, draft, ahead);
}

//  The step's third frame when a row has logit biases or penalties: each
//  row's, with the tokens its request generated so far and those its
//  repetition penalty looks at, counted as they came (O(distinct tokens +
//  biases) a row); none for a scored row. 0, or -1 when out of memory.
static int
s_add_penalties (xinf_replica_actor_t *state, xinf_msg_t *msg)
{
    bool any = false;
    for (size_t row = 0; row < state->step_rows; row++) {
        const xinf_request_t *request = xinf_replica_request (state, state->step_ids [row]);
        any = any || (state->step_scores [row] < 0
                      && (request->presence != 0 || request->frequency != 0 || request->n_biases > 0
                          || request->seen));
    }
    if (!any)
        return 0;
    xinf_penalties_t *penalties = xinf_penalties_new ();
    int rc = penalties ? 0 : -1;
    size_t counted = 0;
    for (size_t row = 0; row < state->step_rows && rc == 0; row++, counted++) {
        const xinf_request_t *request = xinf_replica_request (state, state->step_ids [row]);
        s_count_draft (state, row, true);
        xinf_penalty_row_t penalty = { request->presence, request->frequency, request->repetition, request->counts,
                                       request->seen, request->biases, request->n_biases };
        if (state->step_scores [row] >= 0)
            penalty = (xinf_penalty_row_t) { 0, 0, 1, NULL, NULL, NULL, 0 };
        rc = xinf_penalties_add_row (penalties, &penalty);
    }
    for (size_t row = counted; row-- > 0; )         //  in reverse: each undone exactly
        s_count_draft (state, row, false);
    if (rc == 0) {
        zframe_t *frame = zframe_new (xinf_penalties_data (penalties), xinf_penalties_size (penalties));
        xinf_msg_add_frame (msg, &frame);
    }
    xinf_penalties_destroy (&penalties);
    return rc;
}

//  Clears token 'id's bit.
static void
s_clear_bit (uint32_t *bits, int32_t id)
{
    bits [id / 32] &= ~((uint32_t) 1 << (id % 32));
}

//  The answer's tokens before a row (history (0) the last): the drafts the
//  step carries before it, then the request's tokens; -1 past the first.
typedef struct {
    xinf_replica_actor_t *state;
    const xinf_request_t *request;
    size_t row, ahead;
} s_history_t;

static int32_t
s_history (void *arg, size_t back)
{
    const s_history_t *self = (const s_history_t *) arg;
    if (back < self->ahead)
        return s_draft_before (self->state, self->row - back);
    back -= self->ahead;
    return back < self->request->count ? self->request->tokens [self->request->count - 1 - back] : -1;
}

//  A row's allowed tokens: its constrained answer's (xinf_json_masks.h), its
//  allowed_token_ids, or all; less the end and stop tokens while it has
//  fewer than min_tokens and less what its bad_words keep out after the
//  tokens before it, unless nothing would be left (a complete constrained
//  answer still ends). NULL for any token, or when out of memory (*failed).
static const uint32_t *
s_row_mask (xinf_replica_actor_t *state, const xinf_request_t *request, const xinf_grammar_state_t *grammar_state,
            size_t row, size_t ahead, bool *failed)
{
    size_t generated = request->count + ahead;
    const uint32_t *json = request->grammar ? xinf_json_masks_get (state->json_masks, request->grammar,
                                                                   grammar_state) : request->allowed;
    *failed = request->grammar && !json;
    if (*failed || (generated >= request->min_tokens && !request->n_bad))
        return json;
    size_t words = xinf_token_mask_words (state->vocab);
    if (!state->step_mask && !(state->step_mask = calloc (words, sizeof (uint32_t)))) {
        *failed = true;
        return NULL;
    }
    uint32_t *bits = state->step_mask;
    if (json)
        memcpy (bits, json, words * sizeof (uint32_t));
    else {
        memset (bits, 0xff, words * sizeof (uint32_t));
        if (state->vocab % 32)
            bits [words - 1] = ((uint32_t) 1 << (state->vocab % 32)) - 1;
    }
    int32_t ends [64];                        //  a vocabulary names a few
    size_t count = generated < request->min_tokens ? xinf_tokenizer_end_ids (state->tokenizer, ends, 64) : 0;
    for (size_t index = 0; index < count && index < 64; index++)
        s_clear_bit (bits, ends [index]);
    for (size_t index = 0; generated < request->min_tokens && index < request->n_stop_ids; index++)
        s_clear_bit (bits, request->stop_ids [index]);
    s_history_t history = { state, request, row, ahead };
    xinf_request_ban (request, s_history, &history, bits);
    uint32_t any = 0;
    for (size_t word = 0; word < words; word++)
        any |= bits [word];
    return any ? bits : json;
}

//  The step's token masks when a row needs one (xinf_request_masked): a
//  constrained answer, or a request short of its min_tokens. 0, or -1 when out
//  of memory.
static int
s_add_masks (xinf_replica_actor_t *state, xinf_msg_t *msg)
{
    bool any = false, json = false;
    for (size_t row = 0; row < state->step_rows; row++) {
        const xinf_request_t *request = xinf_replica_request (state, state->step_ids [row]);
        any = any || (state->step_scores [row] < 0 && xinf_request_masked (request));
        json = json || request->grammar;
    }
    if (!any)
        return 0;
    if (json && !state->json_masks) {
        int64_t started = zclock_usecs ();
        if (!(state->json_masks = xinf_json_masks_new (state->tokenizer)))
            return -1;
        xinf_info (state->name, "constrained answers: the vocabulary's trie built in %.1f ms",
                   (double) (zclock_usecs () - started) / 1000.0);
    }
    xinf_token_masks_t *masks = xinf_token_masks_new (state->step_rows, state->vocab);
    int rc = masks ? 0 : -1;
    xinf_grammar_state_t grammar_state;       //  a request's, after the drafts before the row
    for (size_t row = 0; row < state->step_rows && rc == 0; row++) {
        bool failed = false;
        const xinf_request_t *request = xinf_replica_request (state, state->step_ids [row]);
        uint32_t ahead = state->step_ahead [row];
        if (!ahead)
            grammar_state = request->grammar_state;
        else
        if (request->grammar)                 //  a draft it does not allow: this row is never taken
            xinf_json_masks_take (state->json_masks, request->grammar, &grammar_state, s_draft_before (state, row));
        const uint32_t *bits = state->step_scores [row] >= 0 ? NULL
                             : s_row_mask (state, request, &grammar_state, row, ahead, &failed);
        rc = failed ? -1 : xinf_token_masks_add (masks, bits);
    }
    if (rc == 0) {
        zframe_t *frame = zframe_new (xinf_token_masks_data (masks), xinf_token_masks_size (masks));
        xinf_msg_add_frame (msg, &frame);
    }
    xinf_token_masks_destroy (&masks);
    return rc;
}

//  MODEL_LOAD up when the KV blocks free changed (model.md), at most once
//  per XINF_KV_REPORT_MS (a long stream changes them every block of
//  tokens, a busy replica every step): a change within it goes up at the
//  watchdog's next look (xinf_replica_on_watch), so the latest figures always do.
void
xinf_replica_report_kv (xinf_ctx_t *ctx)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (state->rank > 0 || !state->batcher || !state->info)
        return;
    xinf_batcher_stats_t stats = xinf_batcher_stats (state->batcher);
    size_t free_blocks = stats.blocks_available;
    int64_t now = zclock_mono ();
    if ((free_blocks == state->kv_free_reported && stats.spec_drafts == state->spec_reported)
    ||  (state->kv_reported_at && now - state->kv_reported_at < XINF_KV_REPORT_MS))
        return;
    state->kv_free_reported = free_blocks;
    state->spec_reported = stats.spec_drafts;
    state->kv_reported_at = now;
    xinf_msg_t *msg = xinf_msg_new ("MODEL_LOAD");
    xinf_map_put_str (xinf_msg_body (msg), "uid", state->uid);
    xinf_map_put_uint (xinf_msg_body (msg), "replica", state->replica);
    xinf_map_put_uint (xinf_msg_body (msg), "kv_blocks_used",
                       xinf_value_uint (xinf_map_get (state->info, "kv_blocks")) - free_blocks);
    xinf_map_put_uint (xinf_msg_body (msg), "kv_blocks_free", free_blocks);
    if (state->spec_tokens) {
        xinf_map_put_uint (xinf_msg_body (msg), "spec_drafts", stats.spec_drafts);
        xinf_map_put_uint (xinf_msg_body (msg), "spec_accepted", stats.spec_accepted);
    }
    xinf_replica_send_up (ctx, &msg);
}

void
xinf_replica_watch_deadline (xinf_replica_actor_t *state, const xinf_request_t *request)
{
    if (request->deadline && (!state->next_deadline || request->deadline < state->next_deadline))
        state->next_deadline = request->deadline;
}

//  The supervisor answers a request DEADLINE_EXCEEDED at its deadline and
//  sends RUN_CANCEL; a replica whose RUN_CANCEL got lost (a full link, a
//  supervisor that failed over) ends it here all the same, rather than
//  run it to max_tokens for nobody: its slot and KV blocks go to others,
//  and the worker's record of the run ends with the RUN_FAILED.
void
xinf_replica_expire (xinf_ctx_t *ctx, int64_t now)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (!state->next_deadline || now < state->next_deadline)
        return;
    state->next_deadline = 0;
    zlistx_t *ids = zhashx_keys (state->requests);
    for (const char *key = (const char *) zlistx_first (ids); key; key = (const char *) zlistx_next (ids)) {
        xinf_request_t *request = (xinf_request_t *) zhashx_lookup (state->requests, key);
        if (!request->deadline)
            continue;
        if (now < request->deadline) {
            xinf_replica_watch_deadline (state, request);
            continue;
        }
        xinf_info (state->name, "request %llu ended at its deadline after %zu tokens", (unsigned long long) request->id,
                   request->count);
        uint64_t id = request->id;
        xinf_replica_fail_request (ctx, id, "DEADLINE_EXCEEDED", "the request's deadline passed while replica %llu of "
                                   "%s ran it (%zu tokens generated)", (unsigned long long) state->replica, state->uid,
                                   request->count);
        xinf_replica_drop (state, id);
    }
    zlistx_destroy (&ids);
}

//  What a draft costs: one more token of a step of decode tokens and
//  drafts (a prompt's tokens cost less each: the same weights read for
//  more rows of work), as such steps measured, by their size and as a
//  line (xinf_spec_cost_t); with XINF_SPEC_EVERY_DRAFT nothing.
static void
s_set_draft_cost (xinf_replica_actor_t *state)
{
    xinf_spec_cost_t cost = { .fixed_ms = 1 };
    if (!state->spec_every) {
        cost.fixed_ms = xinf_step_cost_ms (state->decode_cost, 0);
        cost.per_token_ms = xinf_step_cost_per_token_ms (state->decode_cost);
        for (size_t size = 0; size < XINF_SPEC_SIZES && size < XINF_STEP_COST_SIZES; size++)
            cost.measured_ms [size] = xinf_step_cost_size_ms (state->decode_cost, size);
    }
    xinf_batcher_set_cost (state->batcher, &cost);
}

//  Sends the next step to the executor if one can run and none is in flight;
//  requests past their deadline end first.
void
xinf_replica_kick (xinf_ctx_t *ctx)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (state->in_flight || !state->batcher)
        return;
    xinf_replica_expire (ctx, zclock_mono ());
    if (state->spec_tokens)
        s_set_draft_cost (state);
    if (!xinf_batcher_schedule (state->batcher, state->batch, s_prompt_cap (state), &state->step_ids, &state->step_rows)) {
        xinf_replica_serving_wait (state, zhashx_size (state->requests) > 0);
        xinf_replica_report_kv (ctx);
        return;
    }
    state->in_flight = true;                  //  the scheduled step is the replica's in flight
    state->step_scores = xinf_batcher_scores (state->batcher);
    state->step_ahead = xinf_batcher_ahead (state->batcher);
    state->step_hid_ids = xinf_batcher_hidden (state->batcher, &state->step_hid);
    const xinf_batch_t *batch = xinf_batch_buf_view (state->batch);
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    size_t bytes = xinf_batch_wire_size (batch);
    zframe_t *frame = zframe_new (NULL, bytes);
    xinf_batch_encode (batch, zframe_data (frame));
    xinf_msg_add_frame (msg, &frame);
    s_add_sampling (state, msg);
    if (s_add_penalties (state, msg) || s_add_masks (state, msg)) {
        //  The step's requests end, the others wait for the next step
        xinf_msg_destroy (&msg);
        xinf_replica_fail_step (ctx, "STEP_FAILED", "the replica is out of memory for the step's logit biases, "
                                "penalties or token masks", NULL);
        state->in_flight = false;
        xinf_batcher_abandon (state->batcher);
        return;
    }
    state->step_started = zclock_usecs ();
    if (xinf_dealer_send (state->to_executor, &msg)) {
        state->in_flight = false;
        xinf_batcher_abandon (state->batcher);
        xinf_replica_fail_all (ctx, "EXECUTOR_BUSY", "cannot send a step to the executor");
        return;
    }
    xinf_replica_serving_wait (state, true);
    xinf_replica_report_kv (ctx);
}

//  RUN_DONE of a request, with what its prompt took from the prefix cache.
static xinf_msg_t *
s_done_msg (xinf_replica_actor_t *state, xinf_request_t *request, const char *reason)
{
    request->cached_tokens = xinf_batcher_cached (state->batcher, request->id);
    return xinf_request_done_msg (request, state->tokenizer, reason);
}

//  The next token of one request, sampled by the executor: stream it, then
//  finish the request or feed the token back into the batch. Whether the
//  request's next row in the step is valid too (the token was the draft
//  the step computed after it).
static bool
s_on_row (xinf_ctx_t *ctx, xinf_request_t *request, int32_t token, const xinf_logprobs_row_t *report)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (request->max_tokens == 0) {            //  the prompt alone: prefilled (scored), nothing generated
        xinf_msg_t *done = s_done_msg (state, request, "length");
        xinf_replica_send_up (ctx, &done);
        xinf_replica_drop (state, request->id);
        return false;
    }
    if (xinf_request_take (request, token, report, state->tokenizer)) {
        xinf_msg_t *failed = xinf_request_failed_msg (request->id, "STEP_FAILED",
                                                      "the replica is out of memory for the log-probabilities");
        xinf_replica_send_up (ctx, &failed);
        xinf_replica_drop (state, request->id);
        return false;
    }
    if (request->count == 1)
        request->cached_tokens = xinf_batcher_cached (state->batcher, request->id);
    if (request->stream) {
        //  An end token's text, or a stop token's that is a control token, is not the answer's
        bool end = xinf_tokenizer_is_end (state->tokenizer, token)
                || (xinf_request_is_stop (request, token) && xinf_tokenizer_is_control (state->tokenizer, token));
        xinf_msg_t *msg = xinf_request_token_msg (request, state->tokenizer, end);
        xinf_replica_send_up (ctx, &msg);
    }
    const char *reason = NULL;
    if (request->grammar && !xinf_json_masks_take (state->json_masks, request->grammar, &request->grammar_state,
                                                   token)) {
        //  The executor sampled a token its mask did not allow
        xinf_warn (state->name, "request %llu: token %d is not allowed in its constrained answer: ending it",
                   (unsigned long long) request->id, token);
        reason = "stop";
    }
    else
    if ((xinf_tokenizer_is_end (state->tokenizer, token) && (!request->ignore_eos || request->grammar))
    ||  xinf_request_is_stop (request, token))
        reason = "stop";                        //  a constrained answer's mask has end tokens only where it may end
    else
    if (request->grammar && request->grammar->done (&request->grammar_state))
        reason = "stop";                        //  the answer is complete: nothing may follow it
    else
    if (xinf_request_at_length (request))
        reason = "length";
    else
    if (xinf_batcher_length (state->batcher, request->id) + 1 > state->context)
        reason = "context";
    int appended = reason ? 0 : xinf_batcher_append (state->batcher, request->id, token);
    if (appended < 0)
        reason = "context";
    else
    if (reason && state->spec_tokens)         //  the answer's last token too, for the pool of answers
        xinf_batcher_append (state->batcher, request->id, token);
    if (reason) {
        xinf_msg_t *done = s_done_msg (state, request, reason);
        xinf_replica_send_up (ctx, &done);
        xinf_replica_drop (state, request->id);
    }
    return appended == 1;
}

//  A prompt token's log-probabilities, scored by the executor: kept for
//  the answer, which fails when they would not fit in its one message.
static void
s_on_scored (xinf_ctx_t *ctx, xinf_request_t *request, int32_t token, const xinf_logprobs_row_t *report)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    const char *code = NULL;
    char text [300];
    if (!report || xinf_request_take_prompt (request, token, report, state->tokenizer)) {
        code = "STEP_FAILED";
        snprintf (text, sizeof text, "the replica is out of memory for the prompt's log-probabilities");
    }
    else
    if (xinf_request_answer_full (request)) {
        code = "TOO_LARGE";
        snprintf (text, sizeof text, "the log-probabilities of the prompt's %zu tokens fill the one message the answer "
                  "travels in (%zu scored so far); ask fewer prompt_logprobs or send a shorter prompt",
                  request->prompt_count, xinf_request_logprobs_count (request->prompt_logprobs));
    }
    if (code) {
        xinf_msg_t *failed = xinf_request_failed_msg (request->id, code, text);
        xinf_replica_send_up (ctx, &failed);
        xinf_replica_drop (state, request->id);
    }
}

//  A hidden row of an embedding's prompt: pooled, and the answer once
//  the pooling has every row it needs.
static void
s_on_hidden (xinf_ctx_t *ctx, xinf_request_t *request, const float *row)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_request_embed_add (request->embedding, row);
    if (!xinf_request_embed_done (request->embedding))
        return;
    xinf_value_t *embedding = xinf_request_embed_value (request->embedding);
    xinf_msg_t *done = embedding ? s_done_msg (state, request, "length")
                     : xinf_request_failed_msg (request->id, "STEP_FAILED", "the model's hidden states are not "
                                                "finite numbers (or the replica is out of memory for the embedding)");
    if (embedding && xinf_msg_is (done, "RUN_DONE"))
        xinf_map_put (xinf_msg_body (done), "embedding", embedding);
    else
        xinf_value_destroy (&embedding);
    xinf_replica_send_up (ctx, &done);
    xinf_replica_drop (state, request->id);
}

//  The step's hidden rows, when it asked any: the reply's last frame,
//  n_hid x dim floats. NULL with the reason when it is not that.
static const float *
s_hidden_frame (xinf_replica_actor_t *state, xinf_msg_t *msg, char *reason, size_t size)
{
    if (state->step_hid == 0)
        return NULL;
    zframe_t *frame = xinf_msg_frame (msg, state->step_reporting ? 2 : 1);
    const xinf_value_t *body = xinf_msg_body (msg);
    if (!frame || zframe_size (frame) != state->step_hid * state->dim * sizeof (float)
    ||  xinf_value_uint (xinf_map_get (body, "n_hid")) != state->step_hid
    ||  xinf_value_uint (xinf_map_get (body, "dim")) != state->dim) {
        snprintf (reason, size, "the executor sent no frame of %zu hidden rows of %zu floats for a step that asked",
                  state->step_hid, state->dim);
        return NULL;
    }
    return (const float *) zframe_data (frame);
}

//  A finished step's shape and time against the cost model (--log-level debug).
static void
s_log_step (xinf_replica_actor_t *state)
{
    xinf_batcher_stats_t stats = xinf_batcher_stats (state->batcher);
    size_t tokens = xinf_batch_buf_view (state->batch)->n;
    xinf_debug (state->name, "step tokens=%zu rows=%zu ms=%.1f model_ms=%.1f running=%zu waiting=%zu", tokens,
                state->step_rows, (double) (zclock_usecs () - state->step_started) / 1000.0,
                xinf_step_cost_ms (state->step_cost, tokens), stats.running, stats.waiting);
}

//  TOKENS for the step in flight: a token per request that gets one.
void
xinf_replica_on_tokens (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (!state->in_flight)
        return;
    state->in_flight = false;
    zframe_t *frame = xinf_msg_frame (msg, 0);
    const int32_t *tokens = frame ? (const int32_t *) zframe_data (frame) : NULL;
    bool good = frame && zframe_size (frame) == state->step_rows * sizeof (int32_t);
    for (size_t row = 0; good && row < state->step_rows; row++)
        good = tokens [row] >= 0 && (size_t) tokens [row] < state->vocab
            && (state->step_scores [row] < 0 || tokens [row] == state->step_scores [row]);
    char reason [300] = "the executor sent a step's tokens of the wrong size or out of the vocabulary";
    zframe_t *reports = xinf_msg_frame (msg, 1);
    if (good && state->step_reporting && !reports) {
        snprintf (reason, sizeof reason, "the executor sent no log-probabilities for a step that asked");
        good = false;
    }
    if (good && state->step_reporting
    &&  xinf_logprobs_decode (zframe_data (reports), zframe_size (reports), state->step_rows, state->step_logprobs,
                              state->vocab, state->step_reports, reason, sizeof reason))
        good = false;
    const float *hidden = good ? s_hidden_frame (state, msg, reason, sizeof reason) : NULL;
    if (good && state->step_hid && !hidden)
        good = false;
    if (!good) {
        xinf_batcher_abandon (state->batcher);
        xinf_replica_fail_all (ctx, "BAD_REPLY", reason);
        return;
    }
    xinf_batcher_commit (state->batcher);
    size_t step_tokens = xinf_batch_buf_view (state->batch)->n;
    double step_ms = (double) (zclock_usecs () - state->step_started) / 1000.0;
    xinf_step_cost_add (state->step_cost, step_tokens, step_ms);
    if (xinf_batcher_last_prompt_tokens (state->batcher) == 0)
        xinf_step_cost_add (state->decode_cost, step_tokens, step_ms);
    if (xinf_log_get_level () <= XINF_LOG_DEBUG)
        s_log_step (state);
    xinf_wait_progress (xinf_waits_global (), state->wait, ++state->steps);
    state->failed_steps = 0;
    bool valid = true;                //  the row after drafts: they were all accepted
    for (size_t row = 0; row < state->step_rows; row++) {
        xinf_request_t *request = xinf_replica_request (state, state->step_ids [row]);
        const xinf_logprobs_row_t *report = state->step_reporting ? &state->step_reports [row] : NULL;
        valid = valid || state->step_ahead [row] == 0;
        if (!request || !valid)       //  cancelled meanwhile, ended by an earlier row, or after a draft not taken
            continue;
        if (state->step_scores [row] >= 0)
            s_on_scored (ctx, request, state->step_scores [row], report);
        else
            valid = s_on_row (ctx, request, tokens [row], report);
    }
    for (size_t row = 0; row < state->step_hid; row++) {
        xinf_request_t *request = xinf_replica_request (state, state->step_hid_ids [row]);
        if (request && request->embedding)   //  else cancelled meanwhile
            s_on_hidden (ctx, request, hidden + row * state->dim);
    }
    xinf_replica_kick (ctx);
}
