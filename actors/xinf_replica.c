/*  xinf_replica: one model replica: load follow-up, continuous batching.  */
#include "xinf_replica.h"
#include "xinf_model_msg.h"
#include "xinf_exec_host.h"
#include "xinf_model.h"
#include "xinf_request.h"
#include "xinf_batcher.h"
#include "xinf_step_cost.h"
#include "xinf_states.h"
#include "xinf_samples.h"
#include "xinf_gguf.h"
#include "xinf_tokenize.h"

#define XINF_STEP_STALL_MS  60000     //  no step finishing for this long: stalled
#define XINF_WATCH_MS       250       //  how often the step watchdog looks
#define XINF_STEP_FAILURES_MAX 3      //  steps failing in a row fail the replica
#define XINF_KV_REPORT_MS   250       //  MODEL_LOAD at most this often
#define XINF_REDUCE_SLACK_MS 5000     //  an all-reduce's own deadline names the peer first
#define XINF_QUEUE_MAX      4096      //  requests a replica holds (running and queued)
#define XINF_BLOCK_TOKENS   16
#define XINF_CHAT_TEMPLATE_MAX  (256 << 10)   //  bytes of a chat template reported in info

typedef struct {
    char uid [65];
    uint64_t replica;
    uint64_t rank, n_ranks;           //  of a tensor-parallel replica (0 of 1: plain)
    uint64_t data_port;               //  its collective's, once bound
    char name [XINF_SENDER_MAX + 1];
    char path [4096];
    char exec_endpoint [256];
    xinf_exec_host_t *host;           //  the executor, on a thread or in its process
    xinf_dealer_t *to_executor;
    char upstream [512];              //  the worker agent's peer id
    int state;                        //  xinf_replica_fsm
    char error [512];
    const char *stuck_phase;          //  failed by the step watchdog: the phase (xinf_phase_name)
    uint64_t bytes_done, bytes_total;
    xinf_value_t *info;               //  LOADED body
    xinf_tokenizer_t *tokenizer;
    size_t context, vocab, max_seqs, step_tokens;
    //  Continuous batching
    xinf_batcher_t *batcher;
    xinf_batch_buf_t *batch;
    zhashx_t *requests;               //  id (text) -> xinf_request_t
    const uint64_t *step_ids;         //  the step in flight: its sampled rows' requests
    xinf_sampling_t *step_sampling;   //  [max_seqs]: their sampling
    size_t step_rows;
    bool in_flight;
    int64_t step_started;             //  monotonic us
    xinf_step_cost_t *step_cost;      //  a step's time by its tokens
    uint64_t wait, steps;             //  the serving wait, steps done
    size_t failed_steps;              //  steps in a row the executor failed
    size_t kv_free_reported;          //  KV blocks free in the last MODEL_LOAD
    int64_t kv_reported_at;           //  when it went (monotonic ms, 0: never)
    int64_t stall_ms;                 //  a step phase lasting longer is hung
    bool state_unsent;                //  the last MODEL_STATE found the worker's link full
} s_state_t;

struct _xinf_replica_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

static void s_kick (xinf_ctx_t *ctx);
static void s_on_executor (xinf_ctx_t *ctx, zsock_t *sock, void *arg);

static s_state_t *
s_state (xinf_ctx_t *ctx)
{
    return (s_state_t *) xinf_ctx_state (ctx);
}

//  Sends a message to the worker agent, consuming it; 0 when it went,
//  else -1 with errno (EAGAIN: the link to the agent is full).
static int
s_send_up (xinf_ctx_t *ctx, xinf_msg_t **msg_p)
{
    xinf_peer_t *peer = xinf_router_peer (xinf_ctx_router (ctx), s_state (ctx)->upstream);
    return xinf_router_send (xinf_ctx_router (ctx), peer, msg_p);
}

//  MODEL_STATE: the replica's state as it is now. One that finds the link
//  to the agent full (EAGAIN) is sent again on the watchdog's next look
//  (s_on_watch), as the state then is, until it goes: a lost 'failed'
//  would leave the replica listed ready. A newer report that goes first
//  stands for the unsent one.
static void
s_report_state (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    xinf_msg_t *msg = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "uid", state->uid);
    xinf_map_put_uint (body, "replica", state->replica);
    xinf_map_put_str (body, "state", xinf_fsm_name (&xinf_replica_fsm, state->state));
    xinf_map_put_uint (body, "bytes_done", state->bytes_done);
    xinf_map_put_uint (body, "bytes_total", state->bytes_total);
    xinf_map_put_str (body, "error", state->error);
    if (state->stuck_phase)
        xinf_map_put_str (body, "stuck_phase", state->stuck_phase);
    if (state->n_ranks > 1) {
        xinf_map_put_uint (body, "rank", state->rank);
        xinf_map_put_uint (body, "n_ranks", state->n_ranks);
        xinf_map_put_uint (body, "data_port", state->data_port);
    }
    if (state->info)
        xinf_map_put (body, "info", xinf_value_dup (state->info));
    bool full = s_send_up (ctx, &msg) && errno == EAGAIN;
    if (full && !state->state_unsent)
        xinf_warn (state->name, "MODEL_STATE %s found the link to the worker full: sent again when it has room",
                   xinf_fsm_name (&xinf_replica_fsm, state->state));
    state->state_unsent = full;
}

//  Moves the replica's state (an illegal move is refused and logged).
static void
s_set_state (xinf_ctx_t *ctx, xinf_replica_state_t to, const char *error)
{
    s_state_t *state = s_state (ctx);
    if (xinf_fsm_move (&xinf_replica_fsm, &state->state, to, state->name))
        return;
    if (error)
        xinf_textf (state->error, sizeof state->error, "%s", error);
    xinf_info (state->name, "state=%s%s%s", xinf_fsm_name (&xinf_replica_fsm, to), error ? " error=" : "",
               error ? error : "");
    s_report_state (ctx);
}

static void
s_fail_request (xinf_ctx_t *ctx, uint64_t id, const char *code, const char *format, ...)
{
    char text [512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    xinf_utf8_scrub (text);
    va_end (args);
    xinf_msg_t *msg = xinf_request_failed_msg (id, code, text);
    s_send_up (ctx, &msg);
}

static xinf_request_t *
s_request (s_state_t *state, uint64_t id)
{
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) id);
    return (xinf_request_t *) zhashx_lookup (state->requests, key);
}

//  Forgets a request (answered or cancelled): its sequence leaves the
//  batch and its blocks are free for the next step.
static void
s_drop (s_state_t *state, uint64_t id)
{
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) id);
    xinf_batcher_remove (state->batcher, id);
    zhashx_delete (state->requests, key);
}

//  Ends every request with an error (the replica stops or its steps fail).
static void
s_fail_all (xinf_ctx_t *ctx, const char *code, const char *text)
{
    s_state_t *state = s_state (ctx);
    zlistx_t *ids = zhashx_keys (state->requests);
    for (const char *key = (const char *) zlistx_first (ids); key; key = (const char *) zlistx_next (ids)) {
        uint64_t id = strtoull (key, NULL, 10);
        s_fail_request (ctx, id, code, "%s", text);
        s_drop (state, id);
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
static void
s_fail_step (xinf_ctx_t *ctx, const char *code, const char *text, const char *waiting)
{
    s_state_t *state = s_state (ctx);
    zlistx_t *ids = zhashx_keys (state->requests);
    for (int pass = 0; pass < (waiting ? 2 : 1) && state->in_flight; pass++)
        for (const char *key = (const char *) zlistx_first (ids); key; key = (const char *) zlistx_next (ids)) {
            uint64_t id = strtoull (key, NULL, 10);
            if (!s_request (state, id) || xinf_batcher_in_step (state->batcher, id) != (pass == 0))
                continue;                     //  ended in the first pass, or not of this one
            if (pass == 0)
                s_fail_request (ctx, id, code, "%s", text);
            else
                s_fail_request (ctx, id, waiting, "%s (this request was waiting, not in the step)", text);
            s_drop (state, id);
        }
    zlistx_destroy (&ids);
}

//  While requests are served, one registered wait: progress is steps done.
static void
s_serving_wait (s_state_t *state, bool busy)
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
s_prompt_cap (s_state_t *state)
{
    xinf_batcher_stats_t stats = xinf_batcher_stats (state->batcher);
    size_t waiting = stats.waiting + (stats.running - stats.decoding);
    return xinf_step_cost_prompt_cap (state->step_cost, stats.decoding, waiting, state->step_tokens,
                                      XINF_BLOCK_TOKENS);
}

//  The step's second frame: each row's sampling, so that the executor
//  samples and only token ids come back.
static void
s_add_sampling (s_state_t *state, xinf_msg_t *msg)
{
    for (size_t row = 0; row < state->step_rows; row++)
        state->step_sampling [row] = xinf_request_sampling (s_request (state, state->step_ids [row]));
    zframe_t *frame = zframe_new (NULL, xinf_samples_wire_size (state->step_rows));
    xinf_samples_encode (state->step_sampling, state->step_rows, zframe_data (frame));
    xinf_msg_add_frame (msg, &frame);
}

//  MODEL_LOAD up when the KV blocks free changed (model.md), at most once
//  per XINF_KV_REPORT_MS (a long stream changes them every block of
//  tokens, a busy replica every step): a change within it goes up at the
//  watchdog's next look (s_on_watch), so the latest figures always do.
static void
s_report_kv (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (state->rank > 0 || !state->batcher || !state->info)
        return;
    size_t free_blocks = xinf_batcher_stats (state->batcher).blocks_available;
    int64_t now = zclock_mono ();
    if (free_blocks == state->kv_free_reported
    ||  (state->kv_reported_at && now - state->kv_reported_at < XINF_KV_REPORT_MS))
        return;
    state->kv_free_reported = free_blocks;
    state->kv_reported_at = now;
    xinf_msg_t *msg = xinf_msg_new ("MODEL_LOAD");
    xinf_map_put_str (xinf_msg_body (msg), "uid", state->uid);
    xinf_map_put_uint (xinf_msg_body (msg), "replica", state->replica);
    xinf_map_put_uint (xinf_msg_body (msg), "kv_blocks_used",
                       xinf_value_uint (xinf_map_get (state->info, "kv_blocks")) - free_blocks);
    xinf_map_put_uint (xinf_msg_body (msg), "kv_blocks_free", free_blocks);
    s_send_up (ctx, &msg);
}

//  Sends the next step to the executor if one can run and none is in flight.
static void
s_kick (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (state->in_flight || !state->batcher)
        return;
    if (!xinf_batcher_schedule (state->batcher, state->batch, s_prompt_cap (state), &state->step_ids, &state->step_rows)) {
        s_serving_wait (state, zhashx_size (state->requests) > 0);
        s_report_kv (ctx);
        return;
    }
    const xinf_batch_t *batch = xinf_batch_buf_view (state->batch);
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    size_t bytes = xinf_batch_wire_size (batch);
    zframe_t *frame = zframe_new (NULL, bytes);
    xinf_batch_encode (batch, zframe_data (frame));
    xinf_msg_add_frame (msg, &frame);
    s_add_sampling (state, msg);
    state->step_started = zclock_usecs ();
    if (xinf_dealer_send (state->to_executor, &msg)) {
        xinf_batcher_abandon (state->batcher);
        s_fail_all (ctx, "EXECUTOR_BUSY", "cannot send a step to the executor");
        return;
    }
    state->in_flight = true;
    s_serving_wait (state, true);
    s_report_kv (ctx);
}

//  The next token of one request, sampled by the executor: stream it, then
//  finish the request or feed the token back into the batch.
static void
s_on_row (xinf_ctx_t *ctx, xinf_request_t *request, int32_t token)
{
    s_state_t *state = s_state (ctx);
    xinf_request_take (request, token, state->tokenizer);
    if (request->stream) {
        xinf_msg_t *msg = xinf_request_token_msg (request, state->tokenizer,
                                                  xinf_tokenizer_is_end (state->tokenizer, token));
        s_send_up (ctx, &msg);
    }
    const char *reason = NULL;
    if (xinf_tokenizer_is_end (state->tokenizer, token))
        reason = "stop";
    else
    if (xinf_request_at_length (request))
        reason = "length";
    else
    if (xinf_batcher_length (state->batcher, request->id) + 1 > state->context)
        reason = "context";
    if (!reason && xinf_batcher_append (state->batcher, request->id, token))
        reason = "context";
    if (reason) {
        xinf_msg_t *done = xinf_request_done_msg (request, state->tokenizer, reason);
        s_send_up (ctx, &done);
        s_drop (state, request->id);
    }
}

//  A finished step's shape and time against the cost model (--log-level debug).
static void
s_log_step (s_state_t *state)
{
    xinf_batcher_stats_t stats = xinf_batcher_stats (state->batcher);
    size_t tokens = xinf_batch_buf_view (state->batch)->n;
    xinf_debug (state->name, "step tokens=%zu rows=%zu ms=%.1f model_ms=%.1f running=%zu waiting=%zu", tokens,
                state->step_rows, (double) (zclock_usecs () - state->step_started) / 1000.0,
                xinf_step_cost_ms (state->step_cost, tokens), stats.running, stats.waiting);
}

//  TOKENS for the step in flight: a token per request that gets one.
static void
s_on_tokens (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    if (!state->in_flight)
        return;
    state->in_flight = false;
    zframe_t *frame = xinf_msg_frame (msg, 0);
    const int32_t *tokens = frame ? (const int32_t *) zframe_data (frame) : NULL;
    bool good = frame && zframe_size (frame) == state->step_rows * sizeof (int32_t);
    for (size_t row = 0; good && row < state->step_rows; row++)
        good = tokens [row] >= 0 && (size_t) tokens [row] < state->vocab;
    if (!good) {
        xinf_batcher_abandon (state->batcher);
        s_fail_all (ctx, "BAD_REPLY", "the executor sent a step's tokens of the wrong size or out of the vocabulary");
        return;
    }
    xinf_batcher_commit (state->batcher);
    xinf_step_cost_add (state->step_cost, xinf_batch_buf_view (state->batch)->n,
                        (double) (zclock_usecs () - state->step_started) / 1000.0);
    if (xinf_log_get_level () <= XINF_LOG_DEBUG)
        s_log_step (state);
    xinf_wait_progress (xinf_waits_global (), state->wait, ++state->steps);
    state->failed_steps = 0;
    for (size_t row = 0; row < state->step_rows; row++) {
        xinf_request_t *request = s_request (state, state->step_ids [row]);
        if (request)                  //  else cancelled meanwhile
            s_on_row (ctx, request, tokens [row]);
    }
    s_kick (ctx);
}

static void
s_on_run (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t id = xinf_check_uint (&check, xinf_msg_body (msg), "request", 0, UINT64_MAX);
    const char *code = "BAD_REQUEST";
    xinf_request_t *request = NULL;
    if (!check.failed && state->rank > 0)
        xinf_check_fail (&check, "rank %llu of a tensor-parallel replica takes no requests (rank 0 does)",
                         (unsigned long long) state->rank);
    if (!check.failed && state->state != XINF_REPLICA_READY) {
        code = "MODEL_NOT_READY";
        xinf_check_fail (&check, "model %s is %s%s%s", state->uid, xinf_fsm_name (&xinf_replica_fsm, state->state),
                         *state->error ? ": " : "", state->error);
    }
    if (!check.failed && s_request (state, id))
        xinf_check_fail (&check, "request %llu is already running here", (unsigned long long) id);
    if (!check.failed && zhashx_size (state->requests) >= XINF_QUEUE_MAX) {
        code = "OVERLOADED";
        xinf_check_fail (&check, "replica %llu of %s holds %d requests already", (unsigned long long) state->replica,
                         state->uid, XINF_QUEUE_MAX);
    }
    if (!check.failed)
        request = xinf_request_new (xinf_msg_body (msg), state->tokenizer, state->vocab, state->context, &check, &code);
    char error [512];
    if (request && xinf_batcher_add (state->batcher, id, request->prompt, request->prompt_count, error, sizeof error)) {
        code = "CONTEXT_TOO_LONG";
        xinf_check_fail (&check, "%s", error);
        xinf_request_destroy (&request);
    }
    if (check.failed) {
        xinf_msg_t *failed = xinf_request_failed_msg (id, code, check.reason);
        xinf_ctx_reply (ctx, from, msg, &failed);
        return;
    }
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) id);
    zhashx_insert (state->requests, key, request);
    s_kick (ctx);
}

static void
s_on_start (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_model_msg_start_t start;
    xinf_model_msg_start_decode (xinf_msg_body (msg), &start, &check);
    if (!check.failed && start.rank >= start.n_ranks)
        xinf_check_fail (&check, "field 'rank' is %llu, must be below n_ranks %llu", (unsigned long long) start.rank,
                         (unsigned long long) start.n_ranks);
    const char *path = start.path;
    uint64_t threads = start.threads, n_ranks = start.n_ranks, rank = start.rank;
    if (state->host || state->state != XINF_REPLICA_STARTING) {   //  a failed start stays failed
        xinf_warn (state->name, "START sent twice: ignored");
        return;
    }
    snprintf (state->upstream, sizeof state->upstream, "%s", xinf_peer_id (from));
    state->n_ranks = n_ranks;
    state->rank = rank;
    if (check.failed) {
        s_set_state (ctx, XINF_REPLICA_FAILED, check.reason);
        return;
    }
    snprintf (state->path, sizeof state->path, "%s", path);
    char error [512];
    state->tokenizer = xinf_model_load_tokenizer (path, error, sizeof error);
    if (!state->tokenizer) {
        s_set_state (ctx, XINF_REPLICA_FAILED, error);
        return;
    }
    if (*xinf_tokenizer_notes (state->tokenizer))
        xinf_warn (state->name, "tokenizer of %s: %s", path, xinf_tokenizer_notes (state->tokenizer));
    char name [XINF_SENDER_MAX + 1];
    snprintf (name, sizeof name, "executor-%s-%llu-%llu", state->uid, (unsigned long long) state->replica,
              (unsigned long long) state->rank);
    state->stall_ms = (int64_t) start.stall_timeout_ms;
    //  A GPU's executor always runs in its own process
    bool process = start.executor_process || !streq (start.device, "cpu");
    state->host = xinf_exec_host_new (name, state->uid, state->rank, state->exec_endpoint, process,
                                      error, sizeof error);
    state->to_executor = state->host ? xinf_dealer_new (xinf_exec_host_endpoint (state->host), state->name) : NULL;
    if (!state->to_executor) {
        s_set_state (ctx, XINF_REPLICA_FAILED, state->host ? "cannot connect to the executor" : error);
        return;
    }
    xinf_ctx_reader (ctx, xinf_dealer_sock (state->to_executor), s_on_executor, NULL);
    xinf_msg_t *load = xinf_msg_new ("LOAD");
    xinf_map_put_str (xinf_msg_body (load), "path", path);
    xinf_map_put_uint (xinf_msg_body (load), "threads", threads);
    xinf_map_put_str (xinf_msg_body (load), "device", start.device);
    //  The serving options: the KV budget, sequences and tokens a step
    const char *serving [] = { "kv_cache_mb", "max_seqs", "step_tokens", "disable_cuda_graph" };
    for (size_t index = 0; index < sizeof serving / sizeof serving [0]; index++)
        if (xinf_map_get (xinf_msg_body (msg), serving [index]))
            xinf_map_put (xinf_msg_body (load), serving [index],
                          xinf_value_dup (xinf_map_get (xinf_msg_body (msg), serving [index])));
    //  A rank: the executor binds its collective, then waits for GROUP
    const char *keys [] = { "rank", "n_ranks", "group", "port_low", "port_high", "rendezvous_timeout_ms",
                            "stall_timeout_ms", "bind_host" };
    for (size_t index = 0; state->n_ranks > 1 && index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (xinf_msg_body (msg), keys [index]))
            xinf_map_put (xinf_msg_body (load), keys [index], xinf_value_dup (xinf_map_get (xinf_msg_body (msg), keys [index])));
    if (xinf_dealer_send (state->to_executor, &load))
        s_set_state (ctx, XINF_REPLICA_FAILED, "cannot send LOAD to the executor");
    else
        s_set_state (ctx, state->n_ranks > 1 ? XINF_REPLICA_STARTING : XINF_REPLICA_LOADING, NULL);
}

//  GROUP from the worker agent: the rendezvous goes on in the executor.
static void
s_on_group (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    if (!state->to_executor || state->n_ranks < 2) {
        xinf_warn (state->name, "GROUP for a replica that is no rank: ignored");
        return;
    }
    xinf_msg_t *group = xinf_msg_new ("GROUP");
    xinf_map_put (xinf_msg_body (group), "endpoints", xinf_map_take (xinf_msg_body (msg), "endpoints"));
    xinf_map_put (xinf_msg_body (group), "nodes", xinf_map_take (xinf_msg_body (msg), "nodes"));
    if (xinf_dealer_send (state->to_executor, &group))
        s_set_state (ctx, XINF_REPLICA_FAILED, "cannot send GROUP to the executor");
}

//  A special token's vocabulary text ("" when the model has none).
static void
s_put_token_text (xinf_value_t *info, const char *key, xinf_tokenizer_t *tokenizer, int64_t id)
{
    size_t length = 0;
    const char *text = id >= 0 ? xinf_tokenizer_text (tokenizer, (int32_t) id, &length) : NULL;
    xinf_map_put (info, key, xinf_value_new_strn (text ? text : "", text ? length : 0));
}

//  What a client needs to render chats for the model (HTTP gateway):
//  tokenizer.chat_template of the file (absent when the file has none or
//  it is over 256 KiB), and the BOS and EOS token texts.
static void
s_add_chat_info (s_state_t *state)
{
    s_put_token_text (state->info, "bos_token", state->tokenizer, xinf_tokenizer_bos (state->tokenizer));
    s_put_token_text (state->info, "eos_token", state->tokenizer, xinf_tokenizer_eos (state->tokenizer));
    char error [256];
    xinf_gguf_t *gguf = xinf_gguf_open (state->path, error, sizeof error);
    const char *template_source = gguf ? xinf_gguf_get_str (gguf, "tokenizer.chat_template") : NULL;
    if (template_source && strlen (template_source) <= XINF_CHAT_TEMPLATE_MAX)
        xinf_map_put_str (state->info, "chat_template", template_source);
    else
    if (template_source)
        xinf_warn (state->name, "the chat template of %s is over %d bytes: not reported", state->path,
                   XINF_CHAT_TEMPLATE_MAX);
    xinf_gguf_destroy (&gguf);
}

static void
s_on_loaded (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_model_msg_loaded_t loaded;
    xinf_model_msg_loaded_decode (body, &loaded, &check);
    if (!check.failed && loaded.step_tokens < loaded.max_seqs)
        xinf_check_fail (&check, "field 'step_tokens' is %llu, below max_seqs %llu",
                         (unsigned long long) loaded.step_tokens, (unsigned long long) loaded.max_seqs);
    state->context = loaded.context;
    state->vocab = loaded.vocab;
    state->max_seqs = loaded.max_seqs;
    state->step_tokens = loaded.step_tokens;
    uint64_t blocks = loaded.kv_blocks, block_tokens = loaded.kv_block_tokens;
    if (!check.failed && state->vocab != xinf_tokenizer_vocab (state->tokenizer))
        xinf_check_fail (&check, "the executor's vocabulary (%zu) differs from the tokenizer's (%zu)",
                         state->vocab, xinf_tokenizer_vocab (state->tokenizer));
    xinf_batcher_config_t config = { blocks, block_tokens, state->max_seqs, state->step_tokens, state->context, true };
    if (!check.failed && !state->step_cost && !(state->step_cost = xinf_step_cost_new ()))
        xinf_check_fail (&check, "out of memory for the step cost model");
    if (!check.failed && !state->step_sampling
    &&  !(state->step_sampling = calloc (state->max_seqs, sizeof (xinf_sampling_t))))
        xinf_check_fail (&check, "out of memory for the steps' sampling");
    if (!check.failed && !(state->batcher = xinf_batcher_new (&config)))
        xinf_check_fail (&check, "out of memory for the batcher of %llu KV blocks", (unsigned long long) blocks);
    if (check.failed) {
        s_set_state (ctx, XINF_REPLICA_FAILED, check.reason);
        return;
    }
    xinf_value_destroy (&state->info);
    state->info = xinf_value_dup (body);
    s_add_chat_info (state);
    state->bytes_done = state->bytes_total = loaded.size_bytes;
    s_set_state (ctx, XINF_REPLICA_READY, NULL);
    s_report_kv (ctx);
}

//  An ERROR from the executor: a failed load, a failed step, or a broken
//  tensor-parallel group (which ends the replica: the ranks are out of step).
static void
s_on_executor_error (xinf_ctx_t *ctx, xinf_value_t *body)
{
    s_state_t *state = s_state (ctx);
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
        s_fail_step (ctx, code, text, NULL);
        state->in_flight = false;
        xinf_batcher_abandon (state->batcher);
        state->failed_steps++;
    }
    char why [600];
    xinf_textf (why, sizeof why, "%zu steps in a row failed, the last with %s: %s", state->failed_steps, code, text);
    bool broken = streq (code, "LOAD_FAILED") || streq (code, "COLLECTIVE_FAILED") || loading;
    if (broken || (in_step && state->failed_steps >= XINF_STEP_FAILURES_MAX)) {
        s_fail_all (ctx, "REPLICA_FAILED", broken ? text : why);      //  the waiting ones go elsewhere
        s_set_state (ctx, XINF_REPLICA_FAILED, broken ? text : why);
    }
    s_kick (ctx);
}

//  Replies from the executor: load progress, loaded, logits, errors.
static void
s_on_executor (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    s_state_t *state = s_state (ctx);
    char error [256];
    xinf_msg_t *msg = xinf_dealer_recv (state->to_executor, 0, error, sizeof error);
    if (!msg) {
        xinf_warn (state->name, "bad message from the executor reason=\"%s\"", error);
        return;
    }
    xinf_value_t *body = xinf_msg_body (msg);
    if (xinf_msg_is (msg, "TOKENS"))
        s_on_tokens (ctx, msg);
    else
    if (xinf_msg_is (msg, "LOAD_PROGRESS")) {
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_model_msg_load_progress_t progress;
        if (xinf_model_msg_load_progress_decode (body, &progress, &check))
            xinf_warn (state->name, "bad LOAD_PROGRESS from the executor reason=\"%s\"", check.reason);
        else {
            state->bytes_done = progress.bytes_done;
            state->bytes_total = progress.bytes_total;
            s_report_state (ctx);
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
        s_set_state (ctx, check.failed ? XINF_REPLICA_FAILED : XINF_REPLICA_JOINING, check.failed ? check.reason : NULL);
    }
    else
    if (xinf_msg_is (msg, "JOINED"))
        s_set_state (ctx, XINF_REPLICA_LOADING, NULL);
    else
    if (xinf_msg_is (msg, "ERROR"))
        s_on_executor_error (ctx, body);
    xinf_msg_destroy (&msg);
}

static void
s_destroy_item (void **item)
{
    xinf_request_destroy ((xinf_request_t **) item);
}

//  The step watchdog: an executor that stays in one phase of a step
//  longer than stall_timeout_ms (an all-reduce 5 s more) is hung. The
//  step's requests end with EXECUTOR_HUNG and the replica fails, naming
//  the rank, step, layer and phase.
static void
s_executor_down (xinf_ctx_t *ctx, const char *code, const char *text)
{
    s_state_t *state = s_state (ctx);
    xinf_error (state->name, "%s: %s", code, text);
    s_fail_step (ctx, code, text, "REPLICA_FAILED");
    if (state->in_flight) {
        state->in_flight = false;
        xinf_batcher_abandon (state->batcher);
    }
    s_fail_all (ctx, code, text);
    s_serving_wait (state, false);
    s_set_state (ctx, XINF_REPLICA_FAILED, text);
}

//  Every XINF_WATCH_MS: a MODEL_STATE that found the link full and the
//  KV figures held back by their rate go up, and the step watchdog looks
//  at the executor (lost, or stuck in a phase).
static void
s_on_watch (xinf_ctx_t *ctx, void *arg)
{
    s_state_t *state = s_state (ctx);
    if (state->state_unsent)
        s_report_state (ctx);         //  the last one found the link full
    if (state->state == XINF_REPLICA_READY)
        s_report_kv (ctx);            //  a change held back by the rate
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

static int
s_init (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    state->requests = zhashx_new ();
    state->batch = xinf_batch_buf_new ();
    assert (state->requests && state->batch);
    zhashx_set_destructor (state->requests, s_destroy_item);
    state->state = XINF_REPLICA_STARTING;
    xinf_ctx_timer (ctx, XINF_WATCH_MS, 0, s_on_watch, NULL);
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    //  Whatever is queued or running ends with an answer, never silently
    char text [128];
    xinf_textf (text, sizeof text, "model %s was stopped", state->uid);
    if (state->batcher)
        s_fail_all (ctx, "MODEL_NOT_READY", text);
    s_serving_wait (state, false);
    xinf_fsm_move (&xinf_replica_fsm, &state->state, XINF_REPLICA_STOPPED, state->name);
    s_report_state (ctx);
    zhashx_destroy (&state->requests);
    if (state->to_executor)
        xinf_ctx_reader_end (ctx, xinf_dealer_sock (state->to_executor));
    xinf_dealer_destroy (&state->to_executor);
    xinf_exec_host_destroy (&state->host);
    xinf_batcher_destroy (&state->batcher);
    free (state->step_sampling);
    xinf_step_cost_destroy (&state->step_cost);
    xinf_batch_buf_destroy (&state->batch);
    xinf_tokenizer_destroy (&state->tokenizer);
    xinf_value_destroy (&state->info);
}

//  RUN_CANCEL: the supervisor answered the request already (deadline,
//  terminate, a client's cancel): its sequence leaves the batch now, its
//  blocks are free for the next step; a step in flight ignores its row.
static void
s_on_cancel (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_model_msg_run_cancel_t cancel;
    xinf_model_msg_run_cancel_decode (xinf_msg_body (msg), &cancel, &check);
    uint64_t id = cancel.request;
    if (check.failed || !s_request (state, id))
        return;
    xinf_info (state->name, "request %llu cancelled after %zu tokens", (unsigned long long) id,
               s_request (state, id)->count);
    s_drop (state, id);
    s_kick (ctx);
}

//  TOKENIZE: the model's tokenizer for a client (through the supervisor).
static void
s_on_tokenize (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *result = xinf_tokenize_answer (s_state (ctx)->tokenizer, xinf_msg_body (msg));
    s_send_up (ctx, &result);
}

static const xinf_handler_t s_handlers [] = {
    { "START", s_on_start },
    { "TOKENIZE", s_on_tokenize },
    { "RUN", s_on_run },
    { "RUN_CANCEL", s_on_cancel },
    { "GROUP", s_on_group },
    { NULL, NULL }
};

xinf_replica_t *
xinf_replica_new (const char *uid, uint64_t replica, const char *endpoint)
{
    xinf_replica_t *self = calloc (1, sizeof *self);
    assert (self);
    s_state_t *state = self->state = calloc (1, sizeof (s_state_t));
    assert (state);
    snprintf (state->uid, sizeof state->uid, "%s", uid);
    state->replica = replica;
    snprintf (state->name, sizeof state->name, "replica-%s-%llu", uid, (unsigned long long) replica);
    snprintf (state->exec_endpoint, sizeof state->exec_endpoint, "%s-exec", endpoint);
    xinf_actor_spec_t spec = { state->name, s_handlers, s_init, s_fini, state, NULL, NULL };
    self->actor = xinf_actor_new (&spec);
    if (self->actor && xinf_actor_bind (self->actor, endpoint, NULL, 0) < 0)
        xinf_actor_destroy (&self->actor);
    if (!self->actor)
        xinf_replica_destroy (&self);
    return self;
}

void
xinf_replica_destroy (xinf_replica_t **self_p)
{
    if (self_p && *self_p) {
        xinf_replica_t *self = *self_p;
        if (xinf_actor_destroy (&self->actor))
            free (self->state);
        free (self);
        *self_p = NULL;
    }
}
