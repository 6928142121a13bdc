/*  xinf_executor: the CPU executor actor: weights, KV cache, forward steps.  */
#include "xinf_executor.h"
#include "xinf_model.h"
#include "xinf_rank.h"
#include "xinf_cpu_ops.h"

#include <pthread.h>
#include <stdatomic.h>

#define XINF_LOAD_STALL_MS  60000     //  no byte progress for this long: stalled

typedef struct {
    char name [XINF_SENDER_MAX + 1];
    //  Loading, shared with the loader thread
    pthread_t loader;
    bool loader_running;
    char path [4096];
    _Atomic uint64_t bytes_done, bytes_total;
    _Atomic bool load_finished;
    atomic_bool cancel;
    xinf_model_t *loaded;            //  set by the loader before load_finished
    char load_error [512];
    uint64_t wait;                   //  the registered load wait
    //  Who asked, to answer when loading ends
    char requester [512];
    uint64_t load_corr;
    uint64_t reported;
    //  Serving
    xinf_model_t *model;
    xinf_threadpool_t *pool;
    int threads;
    xinf_kv_t *kv;
    float *logits;
    //  A rank of a tensor-parallel replica (n_ranks > 1)
    int rank, n_ranks;
    xinf_rank_t *_Atomic group;      //  read by the owner's thread to abort
    int64_t rendezvous_ms, stall_ms;
    uint64_t group_wait;             //  for GROUP from the supervisor
    int64_t group_deadline;          //  GROUP must come by then (monotonic ms)
    _Atomic bool joined;             //  set by the loader
    bool joined_reported;
    zmq_pollitem_t follower;         //  rank > 0: step commands from rank 0
    bool following;
    int32_t *step_tokens;
    char broken [512];               //  the group failed: why ("" while fine)
} s_state_t;

struct _xinf_executor_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

static void s_start_group (xinf_ctx_t *ctx);

static s_state_t *
s_state (xinf_ctx_t *ctx)
{
    return (s_state_t *) xinf_ctx_state (ctx);
}

static bool
s_on_progress (uint64_t done, uint64_t total, void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    atomic_store (&state->bytes_total, total);
    atomic_store (&state->bytes_done, done);
    xinf_wait_progress (xinf_waits_global (), state->wait, done);
    return !atomic_load (&state->cancel);
}

static void *
s_loader_main (void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    xinf_rank_t *group = atomic_load (&state->group);
    if (group && xinf_rank_join (group, state->rendezvous_ms, state->load_error, sizeof state->load_error)) {
        atomic_store (&state->load_finished, true);
        return NULL;
    }
    atomic_store (&state->joined, true);
    state->loaded = xinf_model_load_shard (state->path, state->rank, state->n_ranks, s_on_progress, state,
                                           state->load_error, sizeof state->load_error);
    atomic_store (&state->load_finished, true);
    return NULL;
}

static xinf_peer_t *
s_requester (xinf_ctx_t *ctx)
{
    return xinf_router_peer (xinf_ctx_router (ctx), s_state (ctx)->requester);
}

static void
s_send_loaded (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    const xinf_model_info_t *info = xinf_model_info (state->model);
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    xinf_msg_t *reply = xinf_msg_new ("LOADED");
    xinf_msg_set_corr (reply, state->load_corr);
    xinf_value_t *body = xinf_msg_body (reply);
    xinf_map_put_str (body, "arch", info->arch);
    xinf_map_put_str (body, "name", info->name);
    xinf_map_put_str (body, "weight_type", info->weight_type);
    xinf_map_put_uint (body, "size_bytes", info->size_bytes);
    xinf_map_put_uint (body, "n_params", info->n_params);
    xinf_map_put_bool (body, "tied_embeddings", info->tied_embeddings);
    xinf_map_put_uint (body, "context", xinf_kv_context (state->kv));
    xinf_map_put_uint (body, "vocab", t->vocab);
    xinf_map_put_uint (body, "dim", t->dim);
    xinf_map_put_uint (body, "layers", t->n_layers);
    if (state->n_ranks > 1) {
        xinf_map_put_uint (body, "rank", (uint64_t) state->rank);
        xinf_map_put_uint (body, "n_ranks", (uint64_t) state->n_ranks);
    }
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &reply);
}

//  Finishes a load: adopt the model, allocate the KV cache, answer.
static void
s_finish_load (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    pthread_join (state->loader, NULL);
    state->loader_running = false;
    xinf_wait_end (xinf_waits_global (), state->wait);
    state->model = state->loaded;
    state->loaded = NULL;
    if (state->model) {
        const xinf_transformer_t *t = xinf_model_transformer (state->model);
        //  The cache is sized for the model's context, capped to keep memory sane
        size_t context = t->context < 8192 ? t->context : 8192;
        state->kv = xinf_kv_new (t, context);
        if (state->kv)      //  a stop request ends a long prefill between layers
            xinf_kv_set_cancel (state->kv, &state->cancel);
        state->logits = calloc (t->vocab, sizeof (float));
        if (!state->kv || !state->logits) {
            snprintf (state->load_error, sizeof state->load_error, "out of memory for the KV cache (%zu positions)", context);
            xinf_kv_destroy (&state->kv);
            free (state->logits);
            state->logits = NULL;
            xinf_model_destroy (&state->model);
        }
    }
    if (state->model && atomic_load (&state->group))
        s_start_group (ctx);
    if (state->model) {
        xinf_info (state->name, "loaded path=%s bytes=%llu rank=%d/%d", state->path,
                   (unsigned long long) atomic_load (&state->bytes_total), state->rank, state->n_ranks);
        s_send_loaded (ctx);
    }
    else {
        xinf_warn (state->name, "load failed path=%s reason=\"%s\"", state->path, state->load_error);
        xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "%s", state->load_error);
        xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
    }
}

//  A rank whose GROUP never came fails instead of waiting on.
static void
s_check_group_deadline (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (!state->group_wait || zclock_mono () < state->group_deadline)
        return;
    xinf_wait_end (xinf_waits_global (), state->group_wait);
    state->group_wait = 0;
    xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "rendezvous: rank %d got no GROUP "
                                            "(the other ranks' endpoints) from the supervisor within %lld ms",
                                            state->rank, (long long) state->rendezvous_ms + 5000);
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
}

static void
s_on_tick (xinf_ctx_t *ctx, void *arg)
{
    s_state_t *state = s_state (ctx);
    s_check_group_deadline (ctx);
    if (!state->loader_running)
        return;
    if (atomic_load (&state->joined) && !state->joined_reported) {
        state->joined_reported = true;
        xinf_msg_t *joined = xinf_msg_new ("JOINED");
        xinf_msg_set_corr (joined, state->load_corr);
        xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &joined);
    }
    if (atomic_load (&state->load_finished)) {
        s_finish_load (ctx);
        return;
    }
    uint64_t done = atomic_load (&state->bytes_done);
    if (done == state->reported)
        return;
    state->reported = done;
    xinf_msg_t *progress = xinf_msg_new ("LOAD_PROGRESS");
    xinf_msg_set_corr (progress, state->load_corr);
    xinf_map_put_uint (xinf_msg_body (progress), "bytes_done", done);
    xinf_map_put_uint (xinf_msg_body (progress), "bytes_total", atomic_load (&state->bytes_total));
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &progress);
}

static void
s_start_loader (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    atomic_store (&state->load_finished, false);
    //  A rank joins its group first, within the rendezvous timeout
    state->wait = xinf_wait_begin (xinf_waits_global (), state->name, "load weights", state->path,
                                   state->rendezvous_ms + XINF_LOAD_STALL_MS);
    state->loader_running = true;
    if (pthread_create (&state->loader, NULL, s_loader_main, state)) {
        state->loader_running = false;
        xinf_wait_end (xinf_waits_global (), state->wait);
        xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "cannot start the loader thread");
        xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
    }
}

//  A rank binds its collective at once and reports the port (BOUND); the
//  load starts when GROUP brings the other ranks' endpoints.
static int
s_bind_group (xinf_ctx_t *ctx, xinf_value_t *body, xinf_check_t *check)
{
    s_state_t *state = s_state (ctx);
    state->n_ranks = (int) xinf_check_uint_opt (check, body, "n_ranks", 1, 16, 1);
    state->rank = (int) xinf_check_uint_opt (check, body, "rank", 0, state->n_ranks > 0 ? (uint64_t) state->n_ranks - 1 : 0, 0);
    if (check->failed || state->n_ranks == 1)
        return 0;
    const char *group = xinf_check_str (check, body, "group", 1, 128);
    int low = (int) xinf_check_uint_opt (check, body, "port_low", 0, 65535, 0);
    int high = (int) xinf_check_uint_opt (check, body, "port_high", (uint64_t) low, 65535, (uint64_t) low);
    state->rendezvous_ms = (int64_t) xinf_check_uint_opt (check, body, "rendezvous_timeout_ms", 100, 600000, 10000);
    state->stall_ms = (int64_t) xinf_check_uint_opt (check, body, "stall_timeout_ms", 100, 3600000, 60000);
    int64_t stall_ms = state->stall_ms;
    if (check->failed)
        return 0;
    char error [512];
    xinf_rank_t *rank = xinf_rank_new (state->name, group, state->rank, state->n_ranks, low, high, stall_ms,
                                       error, sizeof error);
    if (!rank) {
        xinf_check_fail (check, "rank %d of %d: cannot bind a data port in %d-%d: %s", state->rank, state->n_ranks,
                         low, high, error);
        return -1;
    }
    atomic_store (&state->group, rank);
    char what [96];
    snprintf (what, sizeof what, "rendezvous: endpoints of the %d ranks (GROUP)", state->n_ranks);
    state->group_wait = xinf_wait_begin (xinf_waits_global (), state->name, what, "supervisor",
                                         state->rendezvous_ms + 5000);
    state->group_deadline = zclock_mono () + state->rendezvous_ms + 5000;
    xinf_msg_t *bound = xinf_msg_new ("BOUND");
    xinf_msg_set_corr (bound, state->load_corr);
    xinf_map_put_uint (xinf_msg_body (bound), "data_port", (uint64_t) xinf_rank_port (rank));
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &bound);
    xinf_info (state->name, "rank %d of %d bound data_port=%d group=%s", state->rank, state->n_ranks,
               xinf_rank_port (rank), group);
    return 0;
}

static void
s_on_load (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    const char *path = xinf_check_str (&check, xinf_msg_body (msg), "path", 1, sizeof state->path - 1);
    int threads = (int) xinf_check_uint_opt (&check, xinf_msg_body (msg), "threads", 0, 1024, 0);
    if (!check.failed && (state->loader_running || state->model || atomic_load (&state->group)))
        xinf_check_fail (&check, "this executor already has a model");
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "LOAD: %s", check.reason);
        return;
    }
    snprintf (state->path, sizeof state->path, "%s", path);
    snprintf (state->requester, sizeof state->requester, "%s", xinf_peer_id (from));
    state->load_corr = xinf_msg_corr (msg);
    state->threads = threads;
    xinf_threadpool_destroy (&state->pool);
    state->pool = xinf_threadpool_new (threads);
    int rc = s_bind_group (ctx, xinf_msg_body (msg), &check);
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), rc ? "LOAD_FAILED" : "BAD_REQUEST", "LOAD: %s", check.reason);
        return;
    }
    if (!atomic_load (&state->group))
        s_start_loader (ctx);
}

//  GROUP: every rank's endpoint; the loader joins, then loads the shard.
static void
s_on_group (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    xinf_check_t check = XINF_CHECK_INIT;
    const xinf_value_t *endpoints = xinf_check_array (&check, xinf_msg_body (msg), "endpoints", 16);
    const xinf_value_t *nodes = xinf_check_array (&check, xinf_msg_body (msg), "nodes", 16);
    if (!check.failed && (!group || !state->group_wait || state->loader_running || state->model))
        xinf_check_fail (&check, "GROUP: not a rank waiting for its group");
    if (!check.failed && (xinf_value_count (endpoints) != (size_t) state->n_ranks
                      ||  xinf_value_count (nodes) != (size_t) state->n_ranks))
        xinf_check_fail (&check, "GROUP needs %d endpoints and nodes", state->n_ranks);
    for (size_t index = 0; !check.failed && index < (size_t) state->n_ranks; index++)
        if (!xinf_value_str (xinf_array_at (endpoints, index)) || !xinf_value_str (xinf_array_at (nodes, index)))
            xinf_check_fail (&check, "GROUP endpoints and nodes must be strings");
    if (check.failed) {
        xinf_warn (state->name, "%s", check.reason);
        if (group && !state->loader_running && !state->model) {
            xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "%s", check.reason);
            xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
        }
        return;
    }
    xinf_wait_end (xinf_waits_global (), state->group_wait);
    state->group_wait = 0;
    xinf_rank_set_peers (group, endpoints, nodes);
    s_start_loader (ctx);
}

//  The group cannot go on (a rank is gone or out of step): every later
//  step fails with the same reason.
static void
s_break_group (xinf_ctx_t *ctx, const char *reason)
{
    s_state_t *state = s_state (ctx);
    if (!*state->broken)
        xinf_warn (state->name, "tensor-parallel group failed: %s", reason);
    snprintf (state->broken, sizeof state->broken, "%s", reason);
    if (state->following) {
        zloop_poller_end (xinf_ctx_loop (ctx), &state->follower);
        state->following = false;
    }
}

//  One forward step; rank 0 of a group first tells the other ranks.
static int
s_step (xinf_ctx_t *ctx, const int32_t *tokens, size_t count, size_t pos, const char **code, char *error, size_t size)
{
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    *code = "BAD_REQUEST";
    if (*state->broken) {
        *code = "COLLECTIVE_FAILED";
        snprintf (error, size, "%s", state->broken);
        return -1;
    }
    //  Bad input is refused before any rank starts the step
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    if (xinf_transformer_check_step (t, state->kv, tokens, count, pos, error, size))
        return -1;
    if (group)
        *code = "COLLECTIVE_FAILED";
    if (group && xinf_rank_send_step (group, tokens, count, pos, error, size)) {
        s_break_group (ctx, error);
        return -1;
    }
    if (xinf_transformer_forward (t, state->kv, state->pool, tokens, count, pos, state->logits, NULL, error, size)) {
        if (group)
            s_break_group (ctx, error);
        return -1;
    }
    return 0;
}

static void
s_on_forward (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    if (!state->model) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "NOT_LOADED", "FORWARD: no model loaded (yet)");
        return;
    }
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t pos = xinf_check_uint (&check, xinf_msg_body (msg), "pos", 0, xinf_kv_context (state->kv));
    zframe_t *frame = xinf_msg_frame_count (msg) == 1 ? xinf_msg_frame (msg, 0) : NULL;
    if (!check.failed && (!frame || zframe_size (frame) == 0 || zframe_size (frame) % 4))
        xinf_check_fail (&check, "FORWARD needs one binary frame of int32 token ids");
    if (!check.failed && state->rank > 0)
        xinf_check_fail (&check, "FORWARD: rank %d follows rank 0's steps", state->rank);
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "%s", check.reason);
        return;
    }
    size_t count = zframe_size (frame) / 4;
    int32_t *tokens = malloc (count * sizeof (int32_t));
    if (!tokens) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "FORWARD: out of memory for %zu tokens", count);
        return;
    }
    memcpy (tokens, zframe_data (frame), count * sizeof (int32_t));
    char error [512];
    const char *code;
    if (s_step (ctx, tokens, count, pos, &code, error, sizeof error))
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), code, "FORWARD: %s", error);
    else {
        const xinf_transformer_t *t = xinf_model_transformer (state->model);
        xinf_msg_t *reply = xinf_msg_new ("LOGITS");
        xinf_map_put_uint (xinf_msg_body (reply), "pos", pos + count);
        xinf_map_put_uint (xinf_msg_body (reply), "vocab", t->vocab);
        xinf_msg_add_bytes (reply, state->logits, t->vocab * sizeof (float));
        xinf_ctx_reply (ctx, from, msg, &reply);
    }
    free (tokens);
}

//  A follower runs every step rank 0 broadcasts (no logits needed). A
//  failure is reported up once; the supervisor then ends the replica.
static int
s_on_step (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    xinf_ctx_t *ctx = (xinf_ctx_t *) arg;
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    size_t capacity = xinf_kv_context (state->kv);
    char error [512] = "";
    //  Steps kept while the last one ran do not wake the poller: drain them
    while (!*state->broken && xinf_rank_step_ready (group)) {
        size_t count, pos;
        if (xinf_rank_recv_step (group, state->step_tokens, capacity, &count, &pos, error, sizeof error)
        ||  xinf_transformer_forward (t, state->kv, state->pool, state->step_tokens, count, pos, NULL, NULL,
                                      error, sizeof error)) {
            s_break_group (ctx, error);
            xinf_msg_t *failed = xinf_msg_new_error (0, "COLLECTIVE_FAILED", "rank %d: %s", state->rank, error);
            xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &failed);
        }
    }
    return 0;
}

//  After the load: the shard computes with the group; a follower starts
//  listening for rank 0's steps.
static void
s_start_group (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    xinf_model_set_collective (state->model, xinf_rank_collective (group));
    if (state->rank == 0)
        return;
    state->step_tokens = calloc (xinf_kv_context (state->kv) + 1, sizeof (int32_t));
    state->follower = (zmq_pollitem_t) { xinf_rank_socket (group), 0, ZMQ_POLLIN, 0 };
    if (state->step_tokens && zloop_poller (xinf_ctx_loop (ctx), &state->follower, s_on_step, ctx) == 0)
        state->following = true;
    else {                            //  reported as a failed load
        snprintf (state->load_error, sizeof state->load_error, "rank %d cannot listen for rank 0's steps", state->rank);
        xinf_model_destroy (&state->model);
    }
}

static int
s_init (xinf_ctx_t *ctx)
{
    xinf_ctx_timer (ctx, 50, 0, s_on_tick, NULL);
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (state->loader_running) {
        //  The loader checks 'cancel' at every progress step
        atomic_store (&state->cancel, true);
        pthread_join (state->loader, NULL);
        xinf_model_destroy (&state->loaded);
        xinf_wait_end (xinf_waits_global (), state->wait);
    }
    if (state->following)
        zloop_poller_end (xinf_ctx_loop (ctx), &state->follower);
    if (state->group_wait)
        xinf_wait_end (xinf_waits_global (), state->group_wait);
    xinf_kv_destroy (&state->kv);
    free (state->logits);
    free (state->step_tokens);
    xinf_model_destroy (&state->model);
    xinf_rank_t *group = atomic_exchange (&state->group, NULL);
    xinf_rank_destroy (&group);
    xinf_threadpool_destroy (&state->pool);
}

static const xinf_handler_t s_handlers [] = {
    { "LOAD", s_on_load },
    { "FORWARD", s_on_forward },
    { "GROUP", s_on_group },
    { NULL, NULL }
};

xinf_executor_t *
xinf_executor_new (const char *name, const char *endpoint)
{
    xinf_executor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->state = calloc (1, sizeof (s_state_t));
    assert (self->state);
    snprintf (self->state->name, sizeof self->state->name, "%s", name);
    xinf_actor_spec_t spec = { self->state->name, s_handlers, s_init, s_fini, self->state };
    self->actor = xinf_actor_new (&spec);
    if (self->actor && xinf_actor_bind (self->actor, endpoint, NULL, 0) < 0)
        xinf_actor_destroy (&self->actor);
    if (!self->actor)
        xinf_executor_destroy (&self);
    return self;
}

void
xinf_executor_destroy (xinf_executor_t **self_p)
{
    if (self_p && *self_p) {
        xinf_executor_t *self = *self_p;
        //  The state shared with the thread is freed only once it has ended;
        //  a rank waiting in its group (a join, a collective) stops at once
        atomic_store (&self->state->cancel, true);
        xinf_rank_t *group = atomic_load (&self->state->group);
        if (group)
            xinf_rank_abort (group);
        if (xinf_actor_destroy (&self->actor))
            free (self->state);
        free (self);
        *self_p = NULL;
    }
}
