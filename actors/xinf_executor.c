/*  xinf_executor: the CPU executor actor: weights, KV cache, forward steps.  */
#include "xinf_executor.h"
#include "xinf_model.h"
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
} s_state_t;

struct _xinf_executor_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

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
    state->loaded = xinf_model_load (state->path, s_on_progress, state, state->load_error, sizeof state->load_error);
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
    if (state->model) {
        xinf_info (state->name, "loaded path=%s bytes=%llu", state->path, (unsigned long long) atomic_load (&state->bytes_total));
        s_send_loaded (ctx);
    }
    else {
        xinf_warn (state->name, "load failed path=%s reason=\"%s\"", state->path, state->load_error);
        xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "%s", state->load_error);
        xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
    }
}

static void
s_on_tick (xinf_ctx_t *ctx, void *arg)
{
    s_state_t *state = s_state (ctx);
    if (!state->loader_running)
        return;
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
s_on_load (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    const char *path = xinf_check_str (&check, xinf_msg_body (msg), "path", 1, sizeof state->path - 1);
    int threads = (int) xinf_check_uint_opt (&check, xinf_msg_body (msg), "threads", 0, 1024, 0);
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "LOAD: %s", check.reason);
        return;
    }
    if (state->loader_running || state->model) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "LOAD: this executor already has a model");
        return;
    }
    snprintf (state->path, sizeof state->path, "%s", path);
    snprintf (state->requester, sizeof state->requester, "%s", xinf_peer_id (from));
    state->load_corr = xinf_msg_corr (msg);
    state->threads = threads;
    xinf_threadpool_destroy (&state->pool);
    state->pool = xinf_threadpool_new (threads);
    atomic_store (&state->load_finished, false);
    state->wait = xinf_wait_begin (xinf_waits_global (), state->name, "load weights", path, XINF_LOAD_STALL_MS);
    state->loader_running = true;
    if (pthread_create (&state->loader, NULL, s_loader_main, state)) {
        state->loader_running = false;
        xinf_wait_end (xinf_waits_global (), state->wait);
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "LOAD_FAILED", "cannot start the loader thread");
    }
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
    char error [256];
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    if (xinf_transformer_forward (t, state->kv, state->pool, tokens, count, pos, state->logits, NULL, error, sizeof error))
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "FORWARD: %s", error);
    else {
        xinf_msg_t *reply = xinf_msg_new ("LOGITS");
        xinf_map_put_uint (xinf_msg_body (reply), "pos", pos + count);
        xinf_map_put_uint (xinf_msg_body (reply), "vocab", t->vocab);
        xinf_msg_add_bytes (reply, state->logits, t->vocab * sizeof (float));
        xinf_ctx_reply (ctx, from, msg, &reply);
    }
    free (tokens);
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
    xinf_kv_destroy (&state->kv);
    free (state->logits);
    xinf_model_destroy (&state->model);
    xinf_threadpool_destroy (&state->pool);
}

static const xinf_handler_t s_handlers [] = {
    { "LOAD", s_on_load },
    { "FORWARD", s_on_forward },
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
        //  The state shared with the thread is freed only once it has ended
        atomic_store (&self->state->cancel, true);
        if (xinf_actor_destroy (&self->actor))
            free (self->state);
        free (self);
        *self_p = NULL;
    }
}
