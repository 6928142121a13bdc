/*  xinf_replica_exec: what a replica's executor says (part of
    xinf_replica): load progress, LOADED, BOUND and JOINED of a rank,
    TOKENS, errors; and the step watchdog, which finds the executor lost
    or stuck in a phase of a step.
*/
#include "xinf_replica_private.h"
#include "xinf_model_msg.h"
#include "xinf_gguf.h"
#include "xinf_fim.h"

//  A special token's vocabulary text ("" when the model has none).
static void
s_put_token_text (xinf_value_t *info, const char *key, xinf_tokenizer_t *tokenizer, int64_t id)
{
    size_t length = 0;
    const char *text = id >= 0 ? xinf_tokenizer_text (tokenizer, (int32_t) id, &length) : NULL;
    xinf_map_put (info, key, xinf_value_new_strn (text ? text : "", text ? length : 0));
}

//  A template of the file (metadata 'key') into the info as 'field': not
//  when it is over XINF_CHAT_TEMPLATE_MAX bytes or not UTF-8 (a string
//  field of LIST_MODELS must be), said in a log line.
static void
s_put_template (xinf_replica_actor_t *state, xinf_gguf_t *gguf, const char *key, const char *field)
{
    const char *text = gguf ? xinf_gguf_get_str (gguf, key) : NULL;
    size_t length = text ? strlen (text) : 0;
    if (text && length <= XINF_CHAT_TEMPLATE_MAX && xinf_utf8_valid (text, length, NULL))
        xinf_map_put_str (state->info, field, text);
    else
    if (text)
        xinf_warn (state->name, "%s of %s is %s: not reported", key, state->path,
                   length > XINF_CHAT_TEMPLATE_MAX ? "too large" : "not UTF-8");
}

//  A reranker's (pooling rank): its classification head, kept to score
//  its prompts (or why it has none, logged), and the prompt its file
//  writes a query and a document into (tokenizer.chat_template.rerank,
//  with {query} and {document}), for the gateway's /v1/rerank.
static void
s_add_rerank_info (xinf_replica_actor_t *state, xinf_gguf_t *gguf)
{
    xinf_classifier_destroy (&state->classifier);
    *state->classifier_error = 0;
    if (!gguf || !streq (state->pooling, "rank"))
        return;
    state->classifier = xinf_classifier_load (gguf, state->dim, state->classifier_error,
                                              sizeof state->classifier_error);
    if (!state->classifier)
        xinf_warn (state->name, "%s names rank pooling but cannot rerank: %s", state->path, state->classifier_error);
    s_put_template (state, gguf, "tokenizer.chat_template.rerank", "rerank_template");
}

//  What a client needs to render chats for the model (HTTP gateway):
//  tokenizer.chat_template of the file (absent when the file has none or
//  it is over 256 KiB), and the BOS and EOS token texts; for completions
//  with a suffix, the fill-in-the-middle tokens' texts (xinf_fim.h; absent
//  when the model has none).
static void
s_add_chat_info (xinf_replica_actor_t *state)
{
    s_put_token_text (state->info, "bos_token", state->tokenizer, xinf_tokenizer_bos (state->tokenizer));
    s_put_token_text (state->info, "eos_token", state->tokenizer, xinf_tokenizer_eos (state->tokenizer));
    char error [256];
    xinf_gguf_t *gguf = xinf_gguf_open (state->path, error, sizeof error);
    s_put_template (state, gguf, "tokenizer.chat_template", "chat_template");
    s_add_rerank_info (state, gguf);
    xinf_fim_t fim;
    if (gguf && xinf_fim_find (gguf, state->tokenizer, &fim)) {
        s_put_token_text (state->info, "fim_prefix_token", state->tokenizer, fim.pre);
        s_put_token_text (state->info, "fim_suffix_token", state->tokenizer, fim.suf);
        s_put_token_text (state->info, "fim_middle_token", state->tokenizer, fim.mid);
        if (fim.rep >= 0 && fim.sep >= 0) {
            s_put_token_text (state->info, "fim_repo_token", state->tokenizer, fim.rep);
            s_put_token_text (state->info, "fim_file_sep_token", state->tokenizer, fim.sep);
        }
    }
    xinf_gguf_destroy (&gguf);
}

static void
s_on_loaded (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_model_msg_loaded_t loaded;
    xinf_model_msg_loaded_decode (body, &loaded, &check);
    if (!check.failed && loaded.step_tokens < loaded.max_seqs)
        xinf_check_fail (&check, "field 'step_tokens' is %llu, below max_seqs %llu",
                         (unsigned long long) loaded.step_tokens, (unsigned long long) loaded.max_seqs);
    if (!check.failed && (loaded.max_rows < loaded.max_seqs || loaded.max_rows > loaded.step_tokens))
        xinf_check_fail (&check, "field 'max_rows' is %llu, outside max_seqs %llu .. step_tokens %llu",
                         (unsigned long long) loaded.max_rows, (unsigned long long) loaded.max_seqs,
                         (unsigned long long) loaded.step_tokens);
    state->context = loaded.context;
    state->vocab = loaded.vocab;
    state->max_seqs = loaded.max_seqs;
    state->step_tokens = loaded.step_tokens;
    state->max_rows = loaded.max_rows;
    state->dim = loaded.dim;
    snprintf (state->pooling, sizeof state->pooling, "%s", loaded.pooling);
    if (!check.failed && (loaded.dim == 0 || loaded.dim > 65536))
        xinf_check_fail (&check, "field 'dim' is %llu, outside 1 .. 65536", (unsigned long long) loaded.dim);
    uint64_t blocks = loaded.kv_blocks, block_tokens = loaded.kv_block_tokens;
    uint64_t local_blocks = loaded.has_kv_window_blocks ? loaded.kv_window_blocks : 0;
    uint64_t window = loaded.has_kv_window ? loaded.kv_window : 0;
    if (!check.failed && !local_blocks != !window)
        xinf_check_fail (&check, "fields 'kv_window_blocks' and 'kv_window' come together (%llu, %llu)",
                         (unsigned long long) local_blocks, (unsigned long long) window);
    if (!check.failed && state->vocab != xinf_tokenizer_vocab (state->tokenizer))
        xinf_check_fail (&check, "the executor's vocabulary (%zu) differs from the tokenizer's (%zu)",
                         state->vocab, xinf_tokenizer_vocab (state->tokenizer));
    xinf_batcher_config_t config = { .n_blocks = blocks, .block_tokens = block_tokens, .max_seqs = state->max_seqs,
                                     .step_tokens = state->step_tokens, .max_rows = state->max_rows,
                                     .max_hidden = state->dim ? XINF_HIDDEN_STEP_BYTES / (state->dim * sizeof (float)) : 0,
                                     .context = state->context, .prefix_cache = true,
                                     .spec_tokens = state->spec_tokens, .spec_min_n = state->spec_min_n,
                                     .spec_max_n = state->spec_max_n, .n_local_blocks = local_blocks,
                                     .window = window };
    if (!check.failed && local_blocks && local_blocks < xinf_batcher_local_minimum (&config))
        xinf_check_fail (&check, "field 'kv_window_blocks' is %llu, fewer than a sequence's window of %llu needs (%zu)",
                         (unsigned long long) local_blocks, (unsigned long long) window,
                         xinf_batcher_local_minimum (&config));
    if (!check.failed && !state->step_cost && !(state->step_cost = xinf_step_cost_new ()))
        xinf_check_fail (&check, "out of memory for the step cost model");
    if (!check.failed && !state->decode_cost && !(state->decode_cost = xinf_step_cost_new ()))
        xinf_check_fail (&check, "out of memory for the step cost model");
    if (!check.failed && !state->step_samples) {
        state->step_samples = calloc (state->max_rows, sizeof (xinf_sample_row_t));
        state->step_logprobs = calloc (state->max_rows, sizeof (uint32_t));
        state->step_reports = calloc (state->max_rows, sizeof (xinf_logprobs_row_t));
    }
    if (!check.failed && (!state->step_samples || !state->step_logprobs || !state->step_reports))
        xinf_check_fail (&check, "out of memory for the steps' sampling");
    if (!check.failed && !(state->batcher = xinf_batcher_new (&config)))
        xinf_check_fail (&check, "out of memory for the batcher of %llu KV blocks", (unsigned long long) blocks);
    if (check.failed) {
        xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, check.reason);
        return;
    }
    xinf_value_destroy (&state->info);
    state->info = xinf_value_dup (body);
    s_add_chat_info (state);
    state->bytes_done = state->bytes_total = loaded.size_bytes;
    xinf_replica_start_encoder (ctx);
    xinf_replica_set_state (ctx, XINF_REPLICA_READY, NULL);
    xinf_replica_report_kv (ctx);
}

//  An ERROR from the executor: a failed load, a failed step, or a broken
//  tensor-parallel group (which ends the replica: the ranks are out of step).
static void
s_on_executor_error (xinf_ctx_t *ctx, xinf_value_t *body)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    const char *code = xinf_value_str (xinf_map_get (body, "code")) ?: "?";
    const char *text = xinf_value_str (xinf_map_get (body, "message")) ?: "?";
    bool loading = state->state == XINF_REPLICA_STARTING || state->state == XINF_REPLICA_JOINING
                || state->state == XINF_REPLICA_LOADING;
    //  A failed step computed nothing: its requests end with the reason,
    //  the waiting ones run in the next step. Steps failing again and
    //  again (a device error that stays) fail the replica, so that the
    //  scheduler sends its requests elsewhere rather than into each step
    bool in_step = state->in_flight;
    if (in_step) {
        xinf_replica_fail_step (ctx, code, text, NULL);
        state->in_flight = false;
        xinf_batcher_abandon (state->batcher);
        state->failed_steps++;
    }
    char why [600];
    xinf_textf (why, sizeof why, "%zu steps in a row failed, the last with %s: %s", state->failed_steps, code, text);
    bool broken = streq (code, "LOAD_FAILED") || streq (code, "COLLECTIVE_FAILED") || loading;
    if (broken || (in_step && state->failed_steps >= XINF_STEP_FAILURES_MAX)) {
        xinf_replica_fail_all (ctx, "REPLICA_FAILED", broken ? text : why);      //  the waiting ones go elsewhere
        xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, broken ? text : why);
    }
    xinf_replica_kick (ctx);
}

//  Replies from the executor: load progress, loaded, logits, errors.
void
xinf_replica_on_executor (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    char error [256];
    xinf_msg_t *msg = xinf_dealer_recv (state->to_executor, 0, error, sizeof error);
    if (!msg) {
        xinf_warn (state->name, "bad message from the executor reason=\"%s\"", error);
        return;
    }
    xinf_value_t *body = xinf_msg_body (msg);
    if (xinf_msg_is (msg, "TOKENS"))
        xinf_replica_on_tokens (ctx, msg);
    else
    if (xinf_msg_is (msg, "LOAD_PROGRESS")) {
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_model_msg_load_progress_t progress;
        if (xinf_model_msg_load_progress_decode (body, &progress, &check))
            xinf_warn (state->name, "bad LOAD_PROGRESS from the executor reason=\"%s\"", check.reason);
        else {
            state->bytes_done = progress.bytes_done;
            state->bytes_total = progress.bytes_total;
            xinf_replica_report_state (ctx);
        }
    }
    else
    if (xinf_msg_is (msg, "LOADED"))
        s_on_loaded (ctx, msg);
    else
    if (xinf_msg_is (msg, "BOUND")) {
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_model_msg_bound_t bound;
        xinf_model_msg_bound_decode (body, &bound, &check);
        state->data_port = bound.data_port;
        xinf_replica_set_state (ctx, check.failed ? XINF_REPLICA_FAILED : XINF_REPLICA_JOINING, check.failed ? check.reason : NULL);
    }
    else
    if (xinf_msg_is (msg, "JOINED"))
        xinf_replica_set_state (ctx, XINF_REPLICA_LOADING, NULL);
    else
    if (xinf_msg_is (msg, "ERROR"))
        s_on_executor_error (ctx, body);
    xinf_msg_destroy (&msg);
}

//  The step watchdog: an executor that stays in one phase of a step
//  longer than stall_timeout_ms (an all-reduce 5 s more) is hung. The
//  step's requests end with EXECUTOR_HUNG and the replica fails, naming
//  the rank, step, layer and phase.
static void
s_executor_down (xinf_ctx_t *ctx, const char *code, const char *text)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_error (state->name, "%s: %s", code, text);
    xinf_replica_fail_step (ctx, code, text, "REPLICA_FAILED");
    if (state->in_flight) {
        state->in_flight = false;
        xinf_batcher_abandon (state->batcher);
    }
    xinf_replica_fail_all (ctx, code, text);
    xinf_replica_serving_wait (state, false);
    xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, text);
}

//  Every XINF_WATCH_MS: messages that found the link to the agent full
//  and the KV figures held back by their rate go up, requests past their
//  deadline end (a step may take long), and the step watchdog looks at
//  the executor (lost, or stuck in a phase).
void
xinf_replica_on_watch (xinf_ctx_t *ctx, void *arg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_outbox_flush (state->outbox);
    if (state->state == XINF_REPLICA_READY) {
        xinf_replica_report_kv (ctx);            //  a change held back by the rate
        xinf_replica_expire (ctx, zclock_mono ());   //  also while a step takes long
    }
    if (!state->host || state->state == XINF_REPLICA_FAILED || !state->stall_ms)
        return;
    xinf_beacon_view_t view;
    char reason [512];
    if (xinf_exec_host_look (state->host, state->stall_ms, &view, reason, sizeof reason)) {
        s_executor_down (ctx, "EXECUTOR_LOST", reason);
        return;
    }
    int64_t now = zclock_mono ();
    int64_t limit = state->stall_ms + (view.phase == XINF_PHASE_COLLECTIVE ? XINF_REDUCE_SLACK_MS : 0);
    if (view.phase == XINF_PHASE_IDLE || now - view.phase_ms <= limit)
        return;
    char where [256], text [512];
    xinf_beacon_describe (&view, now, where, sizeof where);
    //  A CUDA graph's capture or replay (or a collective it waits on
    //  inside) cannot be told apart from the outside: the graph is to blame
    xinf_textf (text, sizeof text, "rank %llu of replica %llu of %s is stuck in %s (stall_timeout_ms %lld); the "
                "replica fails: relaunch %s", (unsigned long long) state->rank, (unsigned long long) state->replica,
                state->uid, where, (long long) state->stall_ms,
                xinf_phase_is_graph (view.phase) ? "with --disable-cuda-graph" : "the model");
    state->stuck_phase = xinf_phase_name (view.phase);
    s_executor_down (ctx, "EXECUTOR_HUNG", text);
}
