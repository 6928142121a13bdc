/*  xinf_replica: one model replica: load follow-up, continuous batching.
    This part: the messages from the worker agent (START, GROUP, RUN,
    RUN_CANCEL, TOKENIZE), the replica's state and its link up; the
    steps are xinf_replica_step.c's, the executor xinf_replica_exec.c's.
*/
#include "xinf_replica_private.h"
#include "xinf_model_msg.h"
#include "xinf_model.h"

struct _xinf_replica_t {
    xinf_replica_actor_t *state;
    xinf_actor_t *actor;
};

//  The link up (an xinf_outbox_send_fn): a ROUTER's message to the agent
//  that its full queue refuses stays in the outbox.
static int
s_to_agent (void *arg, xinf_msg_t **msg_p)
{
    xinf_ctx_t *ctx = (xinf_ctx_t *) arg;
    xinf_router_t *router = xinf_ctx_router (ctx);
    return xinf_router_try_send (router, xinf_router_peer (router, xinf_replica_of (ctx)->upstream), msg_p);
}

void
xinf_replica_send_up (xinf_ctx_t *ctx, xinf_msg_t **msg_p)
{
    xinf_outbox_send (xinf_replica_of (ctx)->outbox, msg_p);
}

//  MODEL_STATE: the replica's state as it is now.
void
xinf_replica_report_state (xinf_ctx_t *ctx)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
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
    xinf_replica_send_up (ctx, &msg);
}

//  Moves the replica's state (an illegal move is refused and logged).
void
xinf_replica_set_state (xinf_ctx_t *ctx, xinf_replica_state_t to, const char *error)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (xinf_fsm_move (&xinf_replica_fsm, &state->state, to, state->name))
        return;
    if (error)
        xinf_textf (state->error, sizeof state->error, "%s", error);
    xinf_info (state->name, "state=%s%s%s", xinf_fsm_name (&xinf_replica_fsm, to), error ? " error=" : "",
               error ? error : "");
    xinf_replica_report_state (ctx);
}

//  RUN_FAILED of request 'id' (its RUN's 'corr') up to the agent, in
//  order behind what waits.
static void
s_fail_up (xinf_ctx_t *ctx, uint64_t id, uint64_t corr, const char *code, const char *reason)
{
    xinf_msg_t *failed = xinf_request_failed_msg (id, code, reason);
    xinf_msg_set_corr (failed, corr);
    xinf_replica_send_up (ctx, &failed);
}

//  A RUN's refusal: up to the agent, or to another peer that sent it.
static void
s_refuse_run (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg, uint64_t id, const char *code, const char *reason)
{
    if (streq (xinf_peer_id (from), xinf_replica_of (ctx)->upstream)) {
        s_fail_up (ctx, id, xinf_msg_corr (msg), code, reason);
        return;
    }
    xinf_msg_t *failed = xinf_request_failed_msg (id, code, reason);
    xinf_ctx_reply (ctx, from, msg, &failed);
}

//  Fails 'check' with MODEL_NOT_READY (in *code) unless the replica is ready.
static void
s_check_ready (xinf_replica_actor_t *state, xinf_check_t *check, const char **code)
{
    if (check->failed || state->state == XINF_REPLICA_READY)
        return;
    *code = "MODEL_NOT_READY";
    xinf_check_fail (check, "model %s is %s%s%s", state->uid, xinf_fsm_name (&xinf_replica_fsm, state->state),
                     *state->error ? ": " : "", state->error);
}

//  An embedding's pooling: the request's, else the model's file's (a
//  decoder pools the mean or the last position); its answer's room.
//  0, or -1 with the reason in 'check'.
static int
s_embed_start (xinf_replica_actor_t *state, xinf_request_t *request, xinf_check_t *check, const char **code)
{
    bool rank = request->rank_asked;              //  a reranker's pooling, only when asked (its file's is no embedding's)
    xinf_batcher_pool_t pool = rank ? XINF_BATCHER_POOL_LAST : request->pool_asked ? request->pool_asked
                             : xinf_request_embed_pool (state->pooling);
    const char *arch = xinf_value_str (xinf_map_get (state->info, "arch"));
    if (rank && !state->classifier) {
        xinf_check_fail (check, "field 'pooling': model %s cannot rerank: %s", state->uid,
                         *state->classifier_error ? state->classifier_error
                         : "its file's pooling_type is not rank (a reranker's)");
        return -1;
    }
    if (!pool) {
        xinf_check_fail (check, "field 'pooling': model %s names %s pooling (%s.pooling_type%s); ask mean or last",
                         state->uid, streq (state->pooling, "none") ? "no" : state->pooling,
                         arch ? arch : "its arch",
                         streq (state->pooling, "cls") ? ", which needs a bidirectional encoder: xinf runs decoders"
                         : streq (state->pooling, "rank") ? ": a reranker's, which scores with pooling rank" : "");
        return -1;
    }
    request->answer_bytes += 9 * state->dim + 16;
    request->answer_values += state->dim;
    if (xinf_request_answer_full (request)) {
        *code = "TOO_LARGE";
        xinf_check_fail (check, "the prompt's %zu tokens and a %zu-float embedding fill the one message the answer "
                         "travels in; send a shorter prompt", request->prompt_count, state->dim);
        return -1;
    }
    request->embedding = xinf_request_embed_new (pool, state->dim, request->prompt_count, request->normalize,
                                                 rank ? state->classifier : NULL);
    if (!request->embedding) {
        *code = "STEP_FAILED";
        xinf_check_fail (check, "out of memory for an embedding of %zu floats", state->dim);
        return -1;
    }
    return 0;
}

//  A request made: into the batch, or refused when its blocks cannot be
//  had; true when it was taken.
static bool
s_admit (xinf_ctx_t *ctx, xinf_request_t **request_p, xinf_check_t *check, const char **code)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_request_t *request = *request_p;
    char error [512];
    if (request->embed && s_embed_start (state, request, check, code)) {
        xinf_request_destroy (request_p);
        return false;
    }
    int32_t lora = *request->lora ? xinf_lora_modules_find (&state->lora, request->lora) : 0;
    if (*request->lora && !lora) {
        xinf_value_t *names = xinf_lora_modules_names (&state->lora);
        char listed [600] = "";
        for (size_t index = 0; index < xinf_value_count (names); index++)
            xinf_textf (listed + strlen (listed), sizeof listed - strlen (listed), "%s%s", index ? ", " : "",
                        xinf_value_str (xinf_array_at (names, index)));
        xinf_value_destroy (&names);
        xinf_check_fail (check, "field 'lora': model %s has no LoRA adapter '%s' (%s%s)", state->uid, request->lora,
                         *listed ? "its adapters: " : "it was launched without lora_modules", listed);
        xinf_request_destroy (request_p);
        return false;
    }
    if (xinf_batcher_add (state->batcher, request->id, request->prompt, request->prompt_count, error, sizeof error)) {
        *code = "CONTEXT_TOO_LONG";
        xinf_check_fail (check, "%s", error);
        xinf_request_destroy (request_p);
        return false;
    }
    xinf_batcher_prioritize (state->batcher, request->id, request->priority);
    xinf_batcher_set_lora (state->batcher, request->id, lora);
    if (request->prompt_logprobs)
        xinf_batcher_score_prompt (state->batcher, request->id);    //  just queued: it waits
    if (request->embedding)
        xinf_batcher_embed_prompt (state->batcher, request->id, xinf_request_embed_pool_of (request->embedding));
    else
        xinf_batcher_speculate (state->batcher, request->id, request->max_tokens);   //  when the launch does
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) request->id);
    zhashx_insert (state->requests, key, request);
    *request_p = NULL;
    xinf_replica_watch_deadline (state, request);
    xinf_replica_kick (ctx);
    return true;
}

//  Whether a RUN from the agent goes to the encoder: its text prompt is
//  long (a malformed one is refused on the thread, naming the field).
static bool
s_encodes_off_loop (xinf_replica_actor_t *state, xinf_peer_t *from, xinf_msg_t *msg)
{
    size_t size = 0;
    const xinf_value_t *prompt = xinf_map_get (xinf_msg_body (msg), "prompt");
    return state->encoder && streq (xinf_peer_id (from), state->upstream) && xinf_value_type (prompt) == XINF_STR
        && xinf_value_bytes (prompt, &size) && size > XINF_ENCODER_INLINE_MAX;
}

static void
s_on_run (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t id = xinf_check_uint (&check, xinf_msg_body (msg), "request", 0, UINT64_MAX);
    const char *code = "BAD_REQUEST";
    if (!check.failed && state->rank > 0)
        xinf_check_fail (&check, "rank %llu of a tensor-parallel replica takes no requests (rank 0 does)",
                         (unsigned long long) state->rank);
    s_check_ready (state, &check, &code);
    if (!check.failed && (xinf_replica_request (state, id) || (state->encoder && xinf_encoder_has (state->encoder, id))))
        xinf_check_fail (&check, "request %llu is already running here", (unsigned long long) id);
    size_t held = zhashx_size (state->requests) + (state->encoder ? xinf_encoder_pending (state->encoder) : 0);
    if (!check.failed && held >= XINF_QUEUE_MAX) {
        code = "OVERLOADED";
        xinf_check_fail (&check, "replica %llu of %s holds %d requests already", (unsigned long long) state->replica,
                         state->uid, XINF_QUEUE_MAX);
    }
    bool off_loop = !check.failed && s_encodes_off_loop (state, from, msg);
    if (off_loop && xinf_encoder_pending (state->encoder) >= XINF_ENCODER_JOBS_MAX) {
        code = "OVERLOADED";
        xinf_check_fail (&check, "replica %llu of %s is tokenizing %d long prompts already",
                         (unsigned long long) state->replica, state->uid, XINF_ENCODER_JOBS_MAX);
    }
    if (off_loop && !check.failed) {
        xinf_value_t *body = xinf_value_dup (xinf_msg_body (msg));
        if (xinf_encoder_send (state->encoder, id, xinf_msg_corr (msg), &body) == 0)
            return;                   //  it comes back to s_on_encoded
        code = "OVERLOADED";
        xinf_check_fail (&check, "replica %llu of %s cannot hand the prompt to its tokenizer thread",
                         (unsigned long long) state->replica, state->uid);
    }
    xinf_request_t *request = NULL;
    if (!check.failed)
        request = xinf_request_new (xinf_msg_body (msg), state->tokenizer, state->vocab, state->context,
                                    state->constraints, &check, &code);
    if (request)
        s_admit (ctx, &request, &check, &code);
    if (check.failed)
        s_refuse_run (ctx, from, msg, id, code, check.reason);
}

//  Requests the encoder made of long prompts: admitted as any, refused
//  with the reason, or dropped unsaid when cancelled meanwhile.
static void
s_on_encoded (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_encoded_t result;
    while (state->encoder && xinf_encoder_recv (state->encoder, &result) == 0) {
        xinf_check_t check = XINF_CHECK_INIT;
        const char *code = result.code;
        if (result.cancelled) {
            xinf_request_destroy (&result.request);
            continue;
        }
        if (!result.request)
            xinf_check_fail (&check, "%s", result.reason);
        s_check_ready (state, &check, &code);
        if (result.request && !check.failed)
            s_admit (ctx, &result.request, &check, &code);
        xinf_request_destroy (&result.request);     //  refused: not admitted
        if (check.failed)
            s_fail_up (ctx, result.id, result.corr, code, check.reason);
    }
}

//  Stops the encoder: the prompts it was given end MODEL_NOT_READY.
static void
s_stop_encoder (xinf_ctx_t *ctx, const char *text)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (!state->encoder)
        return;
    uint64_t ids [XINF_ENCODER_JOBS_MAX], corrs [XINF_ENCODER_JOBS_MAX];
    size_t count = xinf_encoder_waiting (state->encoder, ids, corrs);
    for (size_t at = 0; at < count; at++)
        s_fail_up (ctx, ids [at], corrs [at], "MODEL_NOT_READY", text);
    xinf_ctx_reader_end (ctx, xinf_encoder_sock (state->encoder));
    xinf_encoder_destroy (&state->encoder);
}

void
xinf_replica_start_encoder (xinf_ctx_t *ctx)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (state->encoder || state->rank > 0)
        return;
    state->encoder = xinf_encoder_new (state->tokenizer, state->vocab, state->context);
    if (state->encoder)
        xinf_ctx_reader (ctx, xinf_encoder_sock (state->encoder), s_on_encoded, NULL);
    else
        xinf_warn (state->name, "no tokenizer thread: long prompts are tokenized on the replica's own");
}

static void
s_on_start (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_model_msg_start_t start;
    xinf_model_msg_start_decode (xinf_msg_body (msg), &start, &check);
    if (!check.failed && start.rank >= start.n_ranks)
        xinf_check_fail (&check, "field 'rank' is %llu, must be below n_ranks %llu", (unsigned long long) start.rank,
                         (unsigned long long) start.n_ranks);
    char lora_reason [512];
    if (!check.failed && xinf_lora_modules_take (&state->lora, start.has_lora_modules ? start.lora_modules : NULL,
                                                 "lora_modules", lora_reason, sizeof lora_reason))
        xinf_check_fail (&check, "%s", lora_reason);
    if (!check.failed && start.prompt_lookup_min > start.prompt_lookup_max)
        xinf_check_fail (&check, "field 'prompt_lookup_min' (%llu) must be at most prompt_lookup_max (%llu)",
                         (unsigned long long) start.prompt_lookup_min, (unsigned long long) start.prompt_lookup_max);
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
        xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, check.reason);
        return;
    }
    snprintf (state->path, sizeof state->path, "%s", path);
    char error [512];
    state->tokenizer = xinf_model_load_tokenizer (path, error, sizeof error);
    if (!state->tokenizer) {
        xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, error);
        return;
    }
    if (*xinf_tokenizer_notes (state->tokenizer))
        xinf_warn (state->name, "tokenizer of %s: %s", path, xinf_tokenizer_notes (state->tokenizer));
    char name [XINF_SENDER_MAX + 1];
    snprintf (name, sizeof name, "executor-%s-%llu-%llu", state->uid, (unsigned long long) state->replica,
              (unsigned long long) state->rank);
    state->stall_ms = (int64_t) start.stall_timeout_ms;
    state->spec_tokens = start.speculative_tokens;
    state->spec_min_n = start.prompt_lookup_min;
    state->spec_max_n = start.prompt_lookup_max;
    //  Tests and measurements of the drafts themselves: every draft found
    //  goes into the step, as if a token cost the step nothing
    const char *every = getenv ("XINF_SPEC_EVERY_DRAFT");
    state->spec_every = every && streq (every, "1");
    if (state->spec_every && state->spec_tokens)
        xinf_warn (state->name, "XINF_SPEC_EVERY_DRAFT=1: every draft found goes into the steps, whatever it costs");
    //  A GPU's executor always runs in its own process
    bool process = start.executor_process || !streq (start.device, "cpu");
    state->host = xinf_exec_host_new (name, state->uid, state->rank, state->exec_endpoint, process,
                                      error, sizeof error);
    state->to_executor = state->host ? xinf_dealer_new (xinf_exec_host_endpoint (state->host), state->name) : NULL;
    if (!state->to_executor) {
        xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, state->host ? "cannot connect to the executor" : error);
        return;
    }
    xinf_ctx_reader (ctx, xinf_dealer_sock (state->to_executor), xinf_replica_on_executor, NULL);
    xinf_msg_t *load = xinf_msg_new ("LOAD");
    xinf_map_put_str (xinf_msg_body (load), "path", path);
    xinf_map_put_uint (xinf_msg_body (load), "threads", threads);
    xinf_map_put_str (xinf_msg_body (load), "device", start.device);
    //  The serving options: the KV budget, sequences and tokens a step
    const char *serving [] = { "kv_cache_mb", "kv_cache_dtype", "max_seqs", "step_tokens", "disable_cuda_graph" };
    for (size_t index = 0; index < sizeof serving / sizeof serving [0]; index++)
        if (xinf_map_get (xinf_msg_body (msg), serving [index]))
            xinf_map_put (xinf_msg_body (load), serving [index],
                          xinf_value_dup (xinf_map_get (xinf_msg_body (msg), serving [index])));
    if (state->lora.count) {
        xinf_value_t *paths = xinf_value_new_array ();
        for (size_t index = 0; index < state->lora.count; index++) {
            char adapter [XINF_LORA_NAME_MAX + 1];
            xinf_array_push (paths, xinf_value_new_str (xinf_lora_modules_at (&state->lora, index, adapter,
                                                                              sizeof adapter)));
        }
        xinf_map_put (xinf_msg_body (load), "lora_paths", paths);
    }
    //  A rank: the executor binds its collective, then waits for GROUP
    const char *keys [] = { "rank", "n_ranks", "group", "port_low", "port_high", "rendezvous_timeout_ms",
                            "stall_timeout_ms", "bind_host" };
    for (size_t index = 0; state->n_ranks > 1 && index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (xinf_msg_body (msg), keys [index]))
            xinf_map_put (xinf_msg_body (load), keys [index], xinf_value_dup (xinf_map_get (xinf_msg_body (msg), keys [index])));
    if (xinf_dealer_send (state->to_executor, &load))
        xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, "cannot send LOAD to the executor");
    else
        xinf_replica_set_state (ctx, state->n_ranks > 1 ? XINF_REPLICA_STARTING : XINF_REPLICA_LOADING, NULL);
}

//  GROUP from the worker agent: the rendezvous goes on in the executor.
static void
s_on_group (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    if (!state->to_executor || state->n_ranks < 2) {
        xinf_warn (state->name, "GROUP for a replica that is no rank: ignored");
        return;
    }
    xinf_msg_t *group = xinf_msg_new ("GROUP");
    xinf_map_put (xinf_msg_body (group), "endpoints", xinf_map_take (xinf_msg_body (msg), "endpoints"));
    xinf_map_put (xinf_msg_body (group), "nodes", xinf_map_take (xinf_msg_body (msg), "nodes"));
    if (xinf_dealer_send (state->to_executor, &group))
        xinf_replica_set_state (ctx, XINF_REPLICA_FAILED, "cannot send GROUP to the executor");
}

static void
s_destroy_item (void **item)
{
    xinf_request_destroy ((xinf_request_t **) item);
}

static int
s_init (xinf_ctx_t *ctx)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    state->requests = zhashx_new ();
    state->batch = xinf_batch_buf_new ();
    state->constraints = xinf_constraints_new (XINF_REPLICA_CONSTRAINTS_KEPT);
    assert (state->requests && state->batch && state->constraints);
    zhashx_set_destructor (state->requests, s_destroy_item);
    state->state = XINF_REPLICA_STARTING;
    state->outbox = xinf_outbox_new (s_to_agent, ctx, "the worker agent");
    xinf_ctx_timer (ctx, XINF_WATCH_MS, 0, xinf_replica_on_watch, NULL);
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    //  Whatever is queued or running ends with an answer, never silently
    char text [128];
    xinf_textf (text, sizeof text, "model %s was stopped", state->uid);
    if (state->batcher)
        xinf_replica_fail_all (ctx, "MODEL_NOT_READY", text);
    s_stop_encoder (ctx, text);
    xinf_replica_serving_wait (state, false);
    xinf_fsm_move (&xinf_replica_fsm, &state->state, XINF_REPLICA_STOPPED, state->name);
    xinf_replica_report_state (ctx);
    xinf_outbox_flush (state->outbox);   //  what the agent has no room for now is lost with us
    xinf_outbox_destroy (&state->outbox);
    zhashx_destroy (&state->requests);
    xinf_constraints_destroy (&state->constraints);     //  after the requests that hold them
    if (state->to_executor)
        xinf_ctx_reader_end (ctx, xinf_dealer_sock (state->to_executor));
    xinf_dealer_destroy (&state->to_executor);
    xinf_exec_host_destroy (&state->host);
    xinf_batcher_destroy (&state->batcher);
    free (state->step_samples);
    free (state->step_logprobs);
    xinf_json_masks_destroy (&state->json_masks);
    free (state->step_mask);
    free (state->step_reports);
    xinf_step_cost_destroy (&state->step_cost);
    xinf_step_cost_destroy (&state->decode_cost);
    xinf_batch_buf_destroy (&state->batch);
    xinf_tokenizer_destroy (&state->tokenizer);
    xinf_value_destroy (&state->info);
    xinf_classifier_destroy (&state->classifier);
}

//  RUN_CANCEL: the supervisor answered the request already (deadline,
//  terminate, a client's cancel): its sequence leaves the batch now, its
//  blocks are free for the next step; a step in flight ignores its row.
static void
s_on_cancel (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_replica_actor_t *state = xinf_replica_of (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_model_msg_run_cancel_t cancel;
    xinf_model_msg_run_cancel_decode (xinf_msg_body (msg), &cancel, &check);
    uint64_t id = cancel.request;
    if (!check.failed && state->encoder)
        xinf_encoder_cancel (state->encoder, id);     //  still being tokenized: dropped when it comes
    if (check.failed || !xinf_replica_request (state, id))
        return;
    xinf_info (state->name, "request %llu cancelled after %zu tokens", (unsigned long long) id,
               xinf_replica_request (state, id)->count);
    xinf_replica_drop (state, id);
    xinf_replica_kick (ctx);
}

//  TOKENIZE: the model's tokenizer for a client (through the supervisor).
static void
s_on_tokenize (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *result = xinf_tokenize_answer (xinf_replica_of (ctx)->tokenizer, xinf_msg_body (msg));
    xinf_replica_send_up (ctx, &result);
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
    xinf_replica_actor_t *state = self->state = calloc (1, sizeof (xinf_replica_actor_t));
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
