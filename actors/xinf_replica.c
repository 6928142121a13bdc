/*  xinf_replica: one model replica: load follow-up, queue, decode loop.  */
#include "xinf_replica.h"
#include "xinf_executor.h"
#include "xinf_model.h"
#include "xinf_sampler.h"

#define XINF_PROMPT_MAX  (1 << 20)    //  bytes of prompt text
#define XINF_STEP_STALL_MS  60000     //  a forward step making no progress this long

typedef struct {
    uint64_t id;                      //  the supervisor's request id
    int32_t *prompt;
    size_t prompt_count;
    int32_t *tokens;                  //  generated
    size_t count, max_tokens;
    bool stream;
    xinf_sampler_t *sampler;
    int64_t started, first_logits;    //  monotonic us
    uint64_t wait;
    bool cancelled;                   //  nobody waits for it: stop at the next step
} s_request_t;

typedef struct {
    char uid [65];
    uint64_t replica;
    uint64_t rank, n_ranks;           //  of a tensor-parallel replica (0 of 1: plain)
    uint64_t data_port;               //  its collective's, once bound
    char name [XINF_SENDER_MAX + 1];
    char path [4096];
    char exec_endpoint [256];
    xinf_executor_t *executor;
    xinf_dealer_t *to_executor;
    char upstream [512];              //  the worker agent's peer id
    char state [16];                  //  starting, loading, ready, failed, stopped
    char error [512];
    uint64_t bytes_done, bytes_total;
    xinf_value_t *info;               //  LOADED body
    xinf_tokenizer_t *tokenizer;
    size_t context, vocab;
    zlistx_t *queue;                  //  s_request_t waiting
    s_request_t *active;
} s_state_t;

struct _xinf_replica_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

static void s_next_request (xinf_ctx_t *ctx);
static void s_on_executor (xinf_ctx_t *ctx, zsock_t *sock, void *arg);

static s_state_t *
s_state (xinf_ctx_t *ctx)
{
    return (s_state_t *) xinf_ctx_state (ctx);
}

static void
s_request_destroy (s_request_t **request_p)
{
    if (*request_p) {
        s_request_t *request = *request_p;
        if (request->wait)
            xinf_wait_end (xinf_waits_global (), request->wait);
        xinf_sampler_destroy (&request->sampler);
        free (request->prompt);
        free (request->tokens);
        free (request);
        *request_p = NULL;
    }
}

static void
s_send_up (xinf_ctx_t *ctx, xinf_msg_t **msg_p)
{
    xinf_peer_t *peer = xinf_router_peer (xinf_ctx_router (ctx), s_state (ctx)->upstream);
    xinf_router_send (xinf_ctx_router (ctx), peer, msg_p);
}

static void
s_report_state (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    xinf_msg_t *msg = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "uid", state->uid);
    xinf_map_put_uint (body, "replica", state->replica);
    xinf_map_put_str (body, "state", state->state);
    xinf_map_put_uint (body, "bytes_done", state->bytes_done);
    xinf_map_put_uint (body, "bytes_total", state->bytes_total);
    xinf_map_put_str (body, "error", state->error);
    if (state->n_ranks > 1) {
        xinf_map_put_uint (body, "rank", state->rank);
        xinf_map_put_uint (body, "n_ranks", state->n_ranks);
        xinf_map_put_uint (body, "data_port", state->data_port);
    }
    if (state->info)
        xinf_map_put (body, "info", xinf_value_dup (state->info));
    s_send_up (ctx, &msg);
}

static void
s_set_state (xinf_ctx_t *ctx, const char *value, const char *error)
{
    s_state_t *state = s_state (ctx);
    snprintf (state->state, sizeof state->state, "%s", value);
    if (error)
        snprintf (state->error, sizeof state->error, "%s", error);
    xinf_info (state->name, "state=%s%s%s", value, error ? " error=" : "", error ? error : "");
    s_report_state (ctx);
}

static void
s_fail_request (xinf_ctx_t *ctx, s_request_t **request_p, const char *code, const char *format, ...)
{
    char text [512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    xinf_msg_t *msg = xinf_msg_new ("RUN_FAILED");
    xinf_map_put_uint (xinf_msg_body (msg), "request", (*request_p)->id);
    xinf_map_put_str (xinf_msg_body (msg), "code", code);
    xinf_map_put_str (xinf_msg_body (msg), "message", text);
    s_send_up (ctx, &msg);
    s_request_destroy (request_p);
}

//  Sends token ids at 'pos' to the executor for one forward step.
static int
s_forward (xinf_ctx_t *ctx, const int32_t *tokens, size_t count, size_t pos)
{
    s_state_t *state = s_state (ctx);
    xinf_msg_t *msg = xinf_msg_new ("FORWARD");
    xinf_map_put_uint (xinf_msg_body (msg), "pos", pos);
    xinf_msg_add_bytes (msg, tokens, count * sizeof (int32_t));
    return xinf_dealer_send (state->to_executor, &msg);
}

static xinf_value_t *
s_id_array (const int32_t *ids, size_t count)
{
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t index = 0; index < count; index++)
        xinf_array_push (array, xinf_value_new_uint ((uint64_t) ids [index]));
    return array;
}

static void
s_finish (xinf_ctx_t *ctx, const char *reason)
{
    s_state_t *state = s_state (ctx);
    s_request_t *request = state->active;
    int64_t now = zclock_usecs ();
    double prefill_ms = (double) (request->first_logits - request->started) / 1000.0;
    double decode_ms = (double) (now - request->first_logits) / 1000.0;
    long size = xinf_tokenizer_decode (state->tokenizer, request->tokens, request->count, NULL, 0);
    char *text = calloc ((size_t) (size > 0 ? size : 0) + 1, 1);
    if (size > 0)
        xinf_tokenizer_decode (state->tokenizer, request->tokens, request->count, text, (size_t) size + 1);
    xinf_msg_t *msg = xinf_msg_new ("RUN_DONE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_uint (body, "request", request->id);
    xinf_map_put (body, "prompt_tokens", s_id_array (request->prompt, request->prompt_count));
    xinf_map_put (body, "tokens", s_id_array (request->tokens, request->count));
    xinf_map_put (body, "text", xinf_value_new_strn (text, size > 0 ? (size_t) size : 0));
    xinf_map_put_str (body, "finish_reason", reason);
    xinf_value_t *timings = xinf_value_new_map ();
    xinf_map_put_float (timings, "prefill_ms", prefill_ms);
    xinf_map_put_float (timings, "prefill_tokens_per_s", prefill_ms > 0 ? (double) request->prompt_count * 1000.0 / prefill_ms : 0);
    xinf_map_put_float (timings, "decode_ms", decode_ms);
    //  The first token comes from the prefill's logits: decode made count - 1
    xinf_map_put_float (timings, "decode_tokens_per_s",
                        decode_ms > 0 && request->count > 1 ? (double) (request->count - 1) * 1000.0 / decode_ms : 0);
    xinf_map_put (body, "timings", timings);
    s_send_up (ctx, &msg);
    free (text);
    s_request_destroy (&state->active);
    s_next_request (ctx);
}

static void
s_stream_token (xinf_ctx_t *ctx, s_request_t *request, int32_t token)
{
    char piece [256];
    long length = xinf_tokenizer_piece (s_state (ctx)->tokenizer, token, piece, sizeof piece);
    xinf_msg_t *msg = xinf_msg_new ("RUN_TOKEN");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_uint (body, "request", request->id);
    xinf_map_put_uint (body, "index", request->count - 1);
    xinf_map_put_uint (body, "token", (uint64_t) token);
    xinf_map_put (body, "text", xinf_value_new_strn (piece, length > 0 && length < (long) sizeof piece ? (size_t) length : 0));
    s_send_up (ctx, &msg);
}

//  A LOGITS reply for the active request: sample, stream, go on or finish.
static void
s_on_logits (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    s_request_t *request = state->active;
    zframe_t *frame = xinf_msg_frame (msg, 0);
    if (!request)
        return;
    if (!frame || zframe_size (frame) != state->vocab * sizeof (float)) {
        s_fail_request (ctx, &state->active, "BAD_REPLY", "executor sent %zu bytes of logits, expected %zu",
                        frame ? zframe_size (frame) : 0, state->vocab * sizeof (float));
        s_next_request (ctx);
        return;
    }
    if (request->cancelled) {
        xinf_info (state->name, "request %llu cancelled after %zu tokens", (unsigned long long) request->id, request->count);
        s_request_destroy (&state->active);
        s_next_request (ctx);
        return;
    }
    if (!request->first_logits)
        request->first_logits = zclock_usecs ();
    int32_t token = xinf_sampler_sample (request->sampler, (const float *) zframe_data (frame), state->vocab);
    request->tokens [request->count++] = token;
    xinf_wait_progress (xinf_waits_global (), request->wait, request->count);
    if (request->stream)
        s_stream_token (ctx, request, token);
    size_t pos = request->prompt_count + request->count - 1;
    if (token == xinf_tokenizer_eos (state->tokenizer))
        s_finish (ctx, "stop");
    else
    if (request->count >= request->max_tokens)
        s_finish (ctx, "length");
    else
    if (pos + 1 > state->context)
        s_finish (ctx, "context");
    else
    if (s_forward (ctx, &token, 1, pos)) {
        s_fail_request (ctx, &state->active, "EXECUTOR_BUSY", "cannot send to the executor");
        s_next_request (ctx);
    }
}

static void
s_next_request (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    while (!state->active && zlistx_size (state->queue)) {
        s_request_t *request = (s_request_t *) zlistx_detach (state->queue, NULL);
        request->started = zclock_usecs ();
        request->wait = xinf_wait_begin (xinf_waits_global (), state->name, "generate", state->uid, XINF_STEP_STALL_MS);
        state->active = request;
        if (s_forward (ctx, request->prompt, request->prompt_count, 0)) {
            s_fail_request (ctx, &state->active, "EXECUTOR_BUSY", "cannot send to the executor");
        }
    }
}

//  Prompt ids from 'prompt_tokens' or by tokenizing 'prompt'; NULL + reason.
static int32_t *
s_prompt (s_state_t *state, xinf_value_t *body, xinf_check_t *check, size_t *count)
{
    const xinf_value_t *ids = xinf_map_get (body, "prompt_tokens");
    const xinf_value_t *text = xinf_map_get (body, "prompt");
    *count = 0;
    if ((ids != NULL) == (text != NULL)) {
        xinf_check_fail (check, "give exactly one of 'prompt' and 'prompt_tokens'");
        return NULL;
    }
    if (ids) {
        ids = xinf_check_array (check, body, "prompt_tokens", XINF_PROMPT_MAX);
        bool add_bos = xinf_check_bool_opt (check, body, "add_bos", false);
        size_t n = xinf_value_count (ids) + (add_bos ? 1 : 0);
        int32_t *prompt = calloc (n + 1, sizeof (int32_t));
        size_t at = 0;
        if (add_bos && xinf_tokenizer_bos (state->tokenizer) >= 0)
            prompt [at++] = (int32_t) xinf_tokenizer_bos (state->tokenizer);
        for (size_t index = 0; !check->failed && index < xinf_value_count (ids); index++) {
            const xinf_value_t *id = xinf_array_at (ids, index);
            if (xinf_value_type (id) != XINF_UINT || xinf_value_uint (id) >= state->vocab)
                xinf_check_fail (check, "prompt_tokens[%zu] must be a token id below %zu", index, state->vocab);
            prompt [at++] = (int32_t) xinf_value_uint (id);
        }
        *count = at;
        return prompt;
    }
    const char *prompt_text = xinf_check_str (check, body, "prompt", 0, XINF_PROMPT_MAX);
    bool add_bos = xinf_check_bool_opt (check, body, "add_bos", true);
    if (check->failed)
        return NULL;
    size_t length = strlen (prompt_text);
    long needed = xinf_tokenizer_encode (state->tokenizer, prompt_text, length, add_bos, NULL, 0);
    if (needed < 0) {
        xinf_check_fail (check, "the prompt could not be tokenized");
        return NULL;
    }
    int32_t *prompt = calloc ((size_t) needed + 1, sizeof (int32_t));
    xinf_tokenizer_encode (state->tokenizer, prompt_text, length, add_bos, prompt, (size_t) needed + 1);
    *count = (size_t) needed;
    return prompt;
}

static s_request_t *
s_request_new (s_state_t *state, xinf_msg_t *msg, xinf_check_t *check, const char **code)
{
    xinf_value_t *body = xinf_msg_body (msg);
    s_request_t *request = calloc (1, sizeof *request);
    *code = "BAD_REQUEST";
    request->id = xinf_check_uint (check, body, "request", 0, UINT64_MAX);
    //  More than the context can hold ends with finish_reason "context"
    request->max_tokens = xinf_check_uint (check, body, "max_tokens", 1, UINT32_MAX);
    if (request->max_tokens > state->context)
        request->max_tokens = state->context;
    double temperature = xinf_check_float_opt (check, body, "temperature", 0, 100, 0);
    uint64_t top_k = xinf_check_uint_opt (check, body, "top_k", 0, UINT32_MAX, 0);
    top_k = top_k > state->vocab ? state->vocab : top_k;
    double top_p = xinf_check_float_opt (check, body, "top_p", 1e-9, 1, 1);
    uint64_t seed = xinf_check_uint_opt (check, body, "seed", 0, UINT64_MAX, 0);
    request->stream = xinf_check_bool_opt (check, body, "stream", false);
    if (!check->failed)
        request->prompt = s_prompt (state, body, check, &request->prompt_count);
    if (!check->failed && request->prompt_count == 0)
        xinf_check_fail (check, "the prompt is empty");
    if (!check->failed && request->prompt_count + 1 > state->context) {
        *code = "CONTEXT_EXCEEDED";
        xinf_check_fail (check, "the prompt has %zu tokens; the context holds %zu, leaving no room to generate",
                         request->prompt_count, state->context);
    }
    if (!check->failed) {
        request->sampler = xinf_sampler_new ((float) temperature, (int) top_k, (float) top_p, seed);
        request->tokens = calloc (request->max_tokens + 1, sizeof (int32_t));
        if (!request->sampler)
            xinf_check_fail (check, "invalid sampling parameters");
    }
    if (check->failed)
        s_request_destroy (&request);
    return request;
}

static void
s_on_run (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t id = xinf_check_uint (&check, xinf_msg_body (msg), "request", 0, UINT64_MAX);
    const char *code = "BAD_REQUEST";
    s_request_t *request = NULL;
    if (!check.failed && state->rank > 0)
        xinf_check_fail (&check, "rank %llu of a tensor-parallel replica takes no requests (rank 0 does)",
                         (unsigned long long) state->rank);
    if (!check.failed && strcmp (state->state, "ready")) {
        code = "MODEL_NOT_READY";
        xinf_check_fail (&check, "model %s is %s%s%s", state->uid, state->state, *state->error ? ": " : "", state->error);
    }
    if (!check.failed)
        request = s_request_new (state, msg, &check, &code);
    if (check.failed) {
        xinf_msg_t *failed = xinf_msg_new ("RUN_FAILED");
        xinf_map_put_uint (xinf_msg_body (failed), "request", id);
        xinf_map_put_str (xinf_msg_body (failed), "code", code);
        xinf_map_put_str (xinf_msg_body (failed), "message", check.reason);
        xinf_ctx_reply (ctx, from, msg, &failed);
        return;
    }
    zlistx_add_end (state->queue, request);
    s_next_request (ctx);
}

static void
s_on_start (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    const char *path = xinf_check_str (&check, xinf_msg_body (msg), "path", 1, sizeof state->path - 1);
    uint64_t threads = xinf_check_uint_opt (&check, xinf_msg_body (msg), "threads", 0, 1024, 0);
    uint64_t n_ranks = xinf_check_uint_opt (&check, xinf_msg_body (msg), "n_ranks", 1, 16, 1);
    uint64_t rank = xinf_check_uint_opt (&check, xinf_msg_body (msg), "rank", 0, n_ranks ? n_ranks - 1 : 0, 0);
    if (state->executor) {
        xinf_warn (state->name, "START sent twice: ignored");
        return;
    }
    snprintf (state->upstream, sizeof state->upstream, "%s", xinf_peer_id (from));
    state->n_ranks = n_ranks;
    state->rank = rank;
    if (check.failed) {
        s_set_state (ctx, "failed", check.reason);
        return;
    }
    snprintf (state->path, sizeof state->path, "%s", path);
    char error [512];
    state->tokenizer = xinf_model_load_tokenizer (path, error, sizeof error);
    if (!state->tokenizer) {
        s_set_state (ctx, "failed", error);
        return;
    }
    char name [XINF_SENDER_MAX + 1];
    snprintf (name, sizeof name, "executor-%s-%llu-%llu", state->uid, (unsigned long long) state->replica,
              (unsigned long long) state->rank);
    state->executor = xinf_executor_new (name, state->exec_endpoint);
    state->to_executor = state->executor ? xinf_dealer_new (state->exec_endpoint, state->name) : NULL;
    if (!state->to_executor) {
        s_set_state (ctx, "failed", "cannot start the executor");
        return;
    }
    xinf_ctx_reader (ctx, xinf_dealer_sock (state->to_executor), s_on_executor, NULL);
    xinf_msg_t *load = xinf_msg_new ("LOAD");
    xinf_map_put_str (xinf_msg_body (load), "path", path);
    xinf_map_put_uint (xinf_msg_body (load), "threads", threads);
    //  A rank: the executor binds its collective, then waits for GROUP
    const char *keys [] = { "rank", "n_ranks", "group", "port_low", "port_high", "rendezvous_timeout_ms",
                            "stall_timeout_ms" };
    for (size_t index = 0; state->n_ranks > 1 && index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (xinf_msg_body (msg), keys [index]))
            xinf_map_put (xinf_msg_body (load), keys [index], xinf_value_dup (xinf_map_get (xinf_msg_body (msg), keys [index])));
    if (xinf_dealer_send (state->to_executor, &load))
        s_set_state (ctx, "failed", "cannot send LOAD to the executor");
    else
        s_set_state (ctx, state->n_ranks > 1 ? "starting" : "loading", NULL);
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
        s_set_state (ctx, "failed", "cannot send GROUP to the executor");
}

static void
s_on_loaded (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    state->context = xinf_check_uint (&check, body, "context", 1, UINT32_MAX);
    state->vocab = xinf_check_uint (&check, body, "vocab", 1, UINT32_MAX);
    if (!check.failed && state->vocab != xinf_tokenizer_vocab (state->tokenizer))
        xinf_check_fail (&check, "the executor's vocabulary (%zu) differs from the tokenizer's (%zu)",
                         state->vocab, xinf_tokenizer_vocab (state->tokenizer));
    if (check.failed) {
        s_set_state (ctx, "failed", check.reason);
        return;
    }
    xinf_value_destroy (&state->info);
    state->info = xinf_value_dup (body);
    state->bytes_done = state->bytes_total = xinf_value_uint (xinf_map_get (body, "size_bytes"));
    s_set_state (ctx, "ready", NULL);
}

//  An ERROR from the executor: a failed load, a failed step, or a broken
//  tensor-parallel group (which ends the replica: the ranks are out of step).
static void
s_on_executor_error (xinf_ctx_t *ctx, xinf_value_t *body)
{
    s_state_t *state = s_state (ctx);
    const char *code = xinf_value_str (xinf_map_get (body, "code")) ?: "?";
    const char *text = xinf_value_str (xinf_map_get (body, "message")) ?: "?";
    bool loading = !strcmp (state->state, "loading") || !strcmp (state->state, "starting")
                || !strcmp (state->state, "joining");
    if (state->active) {
        s_fail_request (ctx, &state->active, code, "%s", text);
        s_next_request (ctx);
    }
    if (streq (code, "LOAD_FAILED") || streq (code, "COLLECTIVE_FAILED") || loading)
        s_set_state (ctx, "failed", text);
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
    if (xinf_msg_is (msg, "LOGITS"))
        s_on_logits (ctx, msg);
    else
    if (xinf_msg_is (msg, "LOAD_PROGRESS")) {
        xinf_check_t check = XINF_CHECK_INIT;
        uint64_t done = xinf_check_uint (&check, body, "bytes_done", 0, UINT64_MAX);
        uint64_t total = xinf_check_uint (&check, body, "bytes_total", 0, UINT64_MAX);
        if (check.failed)
            xinf_warn (state->name, "bad LOAD_PROGRESS from the executor reason=\"%s\"", check.reason);
        else {
            state->bytes_done = done;
            state->bytes_total = total;
            s_report_state (ctx);
        }
    }
    else
    if (xinf_msg_is (msg, "LOADED"))
        s_on_loaded (ctx, msg);
    else
    if (xinf_msg_is (msg, "BOUND")) {
        xinf_check_t check = XINF_CHECK_INIT;
        state->data_port = xinf_check_uint (&check, body, "data_port", 1, 65535);
        s_set_state (ctx, check.failed ? "failed" : "joining", check.failed ? check.reason : NULL);
    }
    else
    if (xinf_msg_is (msg, "JOINED"))
        s_set_state (ctx, "loading", NULL);
    else
    if (xinf_msg_is (msg, "ERROR"))
        s_on_executor_error (ctx, body);
    xinf_msg_destroy (&msg);
}

static void
s_destroy_item (void **item)
{
    s_request_destroy ((s_request_t **) item);
}

static int
s_init (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    state->queue = zlistx_new ();
    zlistx_set_destructor (state->queue, s_destroy_item);
    snprintf (state->state, sizeof state->state, "starting");
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    //  Whatever is queued or running ends with an answer, never silently
    if (state->active)
        s_fail_request (ctx, &state->active, "MODEL_NOT_READY", "model %s was stopped", state->uid);
    s_request_t *request;
    while ((request = (s_request_t *) zlistx_detach (state->queue, NULL)))
        s_fail_request (ctx, &request, "MODEL_NOT_READY", "model %s was stopped", state->uid);
    snprintf (state->state, sizeof state->state, "stopped");
    s_report_state (ctx);
    zlistx_destroy (&state->queue);
    if (state->to_executor)
        xinf_ctx_reader_end (ctx, xinf_dealer_sock (state->to_executor));
    xinf_dealer_destroy (&state->to_executor);
    xinf_executor_destroy (&state->executor);
    xinf_tokenizer_destroy (&state->tokenizer);
    xinf_value_destroy (&state->info);
}

//  RUN_CANCEL: the supervisor answered the request already (deadline,
//  terminate): drop it from the queue, or stop it at its next step.
static void
s_on_cancel (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t id = xinf_check_uint (&check, xinf_msg_body (msg), "request", 0, UINT64_MAX);
    if (check.failed)
        return;
    if (state->active && state->active->id == id)
        state->active->cancelled = true;
    for (s_request_t *request = (s_request_t *) zlistx_first (state->queue); request;
         request = (s_request_t *) zlistx_next (state->queue))
        if (request->id == id) {
            zlistx_delete (state->queue, zlistx_cursor (state->queue));
            break;
        }
}

static const xinf_handler_t s_handlers [] = {
    { "START", s_on_start },
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
    xinf_actor_spec_t spec = { state->name, s_handlers, s_init, s_fini, state };
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
