/*  xinf_actor: an actor on a CZMQ zactor thread with a handler table.  */
#include "xinf_actor.h"
#include "xinf_check.h"
#include "xinf_log.h"
#include "xinf_waits.h"
#include "xinf_tsan.h"

#define XINF_ACTOR_BATCH    256     //  messages handled per wake-up
#define XINF_ACTOR_CORK_US  1000    //  a queued reply waits about this at most...
#define XINF_ACTOR_SLOW_US  200     //  ...and never for a handler whose last run took this

//  A handler of the table, and whether its last run was slow: the replies
//  queued before it go out first (s_run).
typedef struct {
    xinf_handler_fn *fn;
    bool slow;
} s_handler_t;
#define XINF_BIND_WAIT_MS  5000

typedef struct {
    xinf_ctx_t *ctx;
    xinf_timer_fn *timer_fn;
    xinf_reader_fn *reader_fn;
    void *arg;
} s_callback_t;

struct _xinf_ctx_t {
    char name [XINF_SENDER_MAX + 1];
    void *state;
    zhashx_t *handlers;        //  type -> s_handler_t
    int (*init) (xinf_ctx_t *ctx);
    void (*fini) (xinf_ctx_t *ctx);
    bool (*gate) (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);
    bool (*unlimited) (xinf_ctx_t *ctx, xinf_peer_t *from);
    xinf_router_t *router;
    zloop_t *loop;
    zsock_t *pipe;
    zlistx_t *callbacks;       //  s_callback_t, freed at stop
    xinf_actor_stats_t stats;
    int64_t queued_at;         //  when the oldest corked reply was made (monotonic us)
    bool stopping;
    int init_rc;
};

struct _xinf_actor_t {
    zactor_t *zactor;
    xinf_ctx_t *ctx;           //  freed by the owner once the thread ended
    char name [XINF_SENDER_MAX + 1];
};

//  Built-in PING: PONG with the actor's name, echoing the body field
//  'echo' and any binary frames.
static void
s_on_ping (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *pong = xinf_msg_new ("PONG");
    xinf_map_put_str (xinf_msg_body (pong), "actor", ctx->name);
    xinf_value_t *echo = xinf_map_get (xinf_msg_body (msg), "echo");
    if (echo)
        xinf_map_put_copy (xinf_msg_body (pong), "echo", echo);
    for (size_t index = 0; index < xinf_msg_frame_count (msg); index++) {
        zframe_t *copy = zframe_dup (xinf_msg_frame (msg, index));
        xinf_msg_add_frame (pong, &copy);
    }
    xinf_ctx_reply (ctx, from, msg, &pong);
}

//  Runs a handler. The replies corked before it go out first when they
//  have waited XINF_ACTOR_CORK_US, or when its last run was slow (a reply
//  is not held while the actor writes a file or waits): a reply waits
//  longer only behind a handler that was quick until now.
static void
s_run (xinf_ctx_t *ctx, s_handler_t *handler, xinf_peer_t *peer, xinf_msg_t *msg)
{
    int64_t start = zclock_usecs ();
    size_t queued = xinf_router_queued (ctx->router);
    if (queued && (handler->slow || start - ctx->queued_at >= XINF_ACTOR_CORK_US)) {
        xinf_router_flush (ctx->router);
        queued = 0;
    }
    handler->fn (ctx, peer, msg);
    if (!queued && xinf_router_queued (ctx->router))
        ctx->queued_at = start;
    handler->slow = zclock_usecs () - start >= XINF_ACTOR_SLOW_US;
}

static void
s_dispatch (xinf_ctx_t *ctx, xinf_peer_t *peer, xinf_msg_t *msg)
{
    if (ctx->gate && !ctx->gate (ctx, peer, msg))
        return;
    s_handler_t *handler = (s_handler_t *) zhashx_lookup (ctx->handlers, xinf_msg_type (msg));
    if (handler) {
        ctx->stats.handled++;
        s_run (ctx, handler, peer, msg);
        return;
    }
    ctx->stats.unknown_types++;
    if (xinf_msg_is (msg, "ERROR")) {
        xinf_value_t *body = xinf_msg_body (msg);
        xinf_warn (ctx->name, "unexpected ERROR peer=%s address=%s code=%s message=%s",
                   xinf_peer_id (peer), xinf_peer_address (peer),
                   xinf_value_str (xinf_map_get (body, "code")) ?: "?",
                   xinf_value_str (xinf_map_get (body, "message")) ?: "?");
        return;
    }
    uint64_t count = xinf_peer_may_complain (peer, zclock_mono ());
    if (count)
        xinf_warn (ctx->name, "unknown message type=%s peer=%s address=%s count=%llu",
                   xinf_msg_type (msg), xinf_peer_id (peer), xinf_peer_address (peer), (unsigned long long) count);
    xinf_ctx_reply_error (ctx, peer, xinf_msg_corr (msg), "UNKNOWN_TYPE",
                          "unknown message type '%s'", xinf_msg_type (msg));
}

//  A message over its peer's rate limit: dropped, logged at a bounded
//  rate; the first of a run is answered ERROR RATE_LIMITED with when to
//  send again.
static void
s_refuse_flood (xinf_ctx_t *ctx, xinf_peer_t *peer, xinf_msg_t *msg, bool answer)
{
    ctx->stats.rate_limited++;
    uint64_t count = xinf_peer_may_complain (peer, zclock_mono ());
    if (count)
        xinf_warn (ctx->name, "rate limited peer=%s address=%s type=%s count=%llu: over its messages a second",
                   xinf_peer_id (peer), xinf_peer_address (peer), xinf_msg_type (msg), (unsigned long long) count);
    if (!answer)
        return;
    xinf_msg_t *error = xinf_msg_new_error (xinf_msg_corr (msg), "RATE_LIMITED", "%s: this peer sends more "
                                            "messages a second than this node takes from one peer", xinf_msg_type (msg));
    xinf_map_put_uint (xinf_msg_body (error), "retry_after_ms",
                       (uint64_t) xinf_router_retry_after_ms (ctx->router, peer));
    xinf_router_reply (ctx->router, peer, &error);
}

static bool
s_receive_one (xinf_ctx_t *ctx)
{
    xinf_peer_t *peer;
    char error [256];
    uint64_t corr;
    xinf_msg_t *msg = xinf_router_try_recv (ctx->router, &peer, error, sizeof error, &corr);
    //  The clock was read when the message came (the peer's last_seen)
    int admit = 1;
    if (msg && !(ctx->unlimited && ctx->unlimited (ctx, peer)))
        admit = xinf_router_admit (ctx->router, peer, xinf_peer_last_seen (peer));
    if (msg && admit == 1)
        s_dispatch (ctx, peer, msg);
    else
    if (msg)
        s_refuse_flood (ctx, peer, msg, admit == 0);
    if (msg)
        xinf_msg_destroy (&msg);
    else
    if (peer) {
        ctx->stats.bad_envelopes++;
        uint64_t count = xinf_peer_may_complain (peer, zclock_mono ());
        if (count)
            xinf_warn (ctx->name, "bad envelope peer=%s address=%s count=%llu reason=\"%s\"",
                       xinf_peer_id (peer), xinf_peer_address (peer), (unsigned long long) count, error);
        xinf_ctx_reply_error (ctx, peer, corr, "BAD_ENVELOPE", "%s", error);
    }
    return msg || peer;
}

//  Handles what is queued, a batch at most. The batch's replies are
//  corked: they reach libzmq's I/O thread together at its end, which then
//  wakes once for them all (s_run bounds how long one waits).
static int
s_on_router (zloop_t *loop, zsock_t *sock, void *arg)
{
    xinf_ctx_t *ctx = (xinf_ctx_t *) arg;
    xinf_router_cork (ctx->router);
    for (int count = 0; count < XINF_ACTOR_BATCH && !ctx->stopping; count++) {
        if (!s_receive_one (ctx))
            break;                  //  nothing queued
    }
    xinf_router_uncork (ctx->router);
    return ctx->stopping ? -1 : 0;
}

static void
s_on_bind (xinf_ctx_t *ctx, zmsg_t *command)
{
    char *endpoint = zmsg_popstr (command);
    char bound [256] = "";
    int port = endpoint ? xinf_router_bind (ctx->router, endpoint, bound, sizeof bound) : -1;
    if (port < 0)
        zstr_sendf (ctx->pipe, "ERR %d %s", errno, zmq_strerror (errno));
    else
        zstr_sendf (ctx->pipe, "OK %d %s", port, bound);
    zstr_free (&endpoint);
}

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    xinf_ctx_t *ctx = (xinf_ctx_t *) arg;
    zmsg_t *command = zmsg_recv (pipe);
    if (!command)
        return -1;
    char *verb = zmsg_popstr (command);
    int rc = 0;
    if (verb && streq (verb, "$TERM"))
        rc = -1;
    else
    if (verb && streq (verb, "BIND"))
        s_on_bind (ctx, command);
    else
        xinf_error (ctx->name, "invalid pipe command=%s", verb ? verb : "(none)");
    zstr_free (&verb);
    zmsg_destroy (&command);
    return rc;
}

static void
s_actor_main (zsock_t *pipe, void *args)
{
    xinf_ctx_t *ctx = (xinf_ctx_t *) args;
    ctx->pipe = pipe;
    ctx->router = xinf_router_new (ctx->name);
    ctx->loop = zloop_new ();
    zloop_set_nonstop (ctx->loop, true);   //  only $TERM stops an actor
    ctx->callbacks = zlistx_new ();
    zlistx_set_destructor (ctx->callbacks, (zlistx_destructor_fn *) zstr_free);
    zloop_reader (ctx->loop, pipe, s_on_pipe, ctx);
    zloop_reader (ctx->loop, xinf_router_sock (ctx->router), s_on_router, ctx);
    ctx->init_rc = ctx->init ? ctx->init (ctx) : 0;
    xinf_tsan_release (ctx);            //  the owner reads ctx after the signal
    zsock_signal (pipe, 0);
    if (ctx->init_rc == 0) {
        zloop_start (ctx->loop);
        if (ctx->fini)
            ctx->fini (ctx);
    }
    zloop_destroy (&ctx->loop);
    xinf_router_destroy (&ctx->router);
    zlistx_destroy (&ctx->callbacks);
    xinf_tsan_release (ctx);            //  the owner frees ctx after the thread's last signal
}

static void
s_handler_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

//  Adds or replaces the handler of a type.
static void
s_handler_add (xinf_ctx_t *ctx, const char *type, xinf_handler_fn *fn)
{
    s_handler_t *handler = calloc (1, sizeof *handler);
    assert (handler);
    handler->fn = fn;
    zhashx_update (ctx->handlers, type, handler);
}

static xinf_ctx_t *
s_ctx_new (const xinf_actor_spec_t *spec)
{
    xinf_ctx_t *ctx = calloc (1, sizeof *ctx);
    assert (ctx);
    snprintf (ctx->name, sizeof ctx->name, "%s", spec->name ? spec->name : "actor");
    ctx->state = spec->state;
    ctx->init = spec->init;
    ctx->fini = spec->fini;
    ctx->gate = spec->gate;
    ctx->unlimited = spec->unlimited;
    ctx->handlers = zhashx_new ();
    zhashx_set_destructor (ctx->handlers, s_handler_destroy);
    s_handler_add (ctx, "PING", s_on_ping);
    for (const xinf_handler_t *handler = spec->handlers; handler && handler->type; handler++)
        s_handler_add (ctx, handler->type, handler->fn);
    return ctx;
}

static void
s_ctx_destroy (xinf_ctx_t **ctx_p)
{
    if (*ctx_p) {
        zhashx_destroy (&(*ctx_p)->handlers);
        free (*ctx_p);
        *ctx_p = NULL;
    }
}

xinf_actor_t *
xinf_actor_new (const xinf_actor_spec_t *spec)
{
    xinf_actor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->ctx = s_ctx_new (spec);
    snprintf (self->name, sizeof self->name, "%s", self->ctx->name);
    //  zactor_new returns once the actor signalled, after its init ran
    self->zactor = zactor_new (s_actor_main, self->ctx);
    xinf_tsan_acquire (self->ctx);
    if (!self->zactor || self->ctx->init_rc != 0) {
        xinf_error (self->name, "actor failed to start init_rc=%d", self->ctx->init_rc);
        xinf_actor_destroy (&self);
    }
    return self;
}

//  Waits until the pipe is readable, registered as a wait; false on timeout.
static bool
s_pipe_wait (xinf_actor_t *self, const char *what, int64_t timeout_ms)
{
    xinf_waits_t *waits = xinf_waits_global ();
    uint64_t wait = xinf_wait_begin (waits, "owner", what, self->name, timeout_ms);
    zmq_pollitem_t item = { zsock_resolve (self->zactor), 0, ZMQ_POLLIN, 0 };
    int64_t deadline = zclock_mono () + timeout_ms;
    int rc;
    do {
        int64_t left = deadline - zclock_mono ();
        rc = zmq_poll (&item, 1, left > 0 ? (long) left : 0);
    } while (rc < 0 && errno == EINTR && zclock_mono () < deadline);
    xinf_wait_end (waits, wait);
    return rc > 0;
}

int
xinf_actor_bind (xinf_actor_t *self, const char *endpoint, char *bound, size_t bound_size)
{
    if (zstr_sendx (self->zactor, "BIND", endpoint, NULL))
        return -1;
    if (!s_pipe_wait (self, "BIND reply", XINF_BIND_WAIT_MS)) {
        xinf_error (self->name, "no answer to BIND within %d ms", XINF_BIND_WAIT_MS);
        return -1;
    }
    char *reply = zstr_recv (self->zactor);
    int port = -1;
    if (reply && strncmp (reply, "OK ", 3) == 0) {
        char where [256] = "";
        if (sscanf (reply + 3, "%d %255s", &port, where) < 1)
            port = -1;
        if (bound)
            snprintf (bound, bound_size, "%s", where);
    }
    else {
        int code = EINVAL, used = 0;
        if (reply)
            sscanf (reply, "ERR %d %n", &code, &used);
        xinf_debug (self->name, "bind failed endpoint=%s reason=\"%s\"", endpoint, reply && used ? reply + used : "?");
        errno = code;
    }
    zstr_free (&reply);
    return port;
}

bool
xinf_actor_destroy (xinf_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return true;
    xinf_actor_t *self = *self_p;
    bool ended = true;
    if (self->zactor) {
        zsock_set_sndtimeo (self->zactor, 0);
        zstr_send (self->zactor, "$TERM");
        //  The thread signals when it has ended; zactor_destroy then reads that
        ended = s_pipe_wait (self, "actor stop", XINF_ACTOR_STOP_MS);
        if (ended)
            zactor_destroy (&self->zactor);
        else
            xinf_error (self->name, "actor did not stop within %d ms; abandoning its thread",
                        XINF_ACTOR_STOP_MS);
    }
    if (ended) {
        xinf_tsan_acquire (self->ctx);
        s_ctx_destroy (&self->ctx);
    }
    free (self);
    *self_p = NULL;
    return ended;
}

void *xinf_ctx_state (xinf_ctx_t *ctx) { return ctx->state; }
const char *xinf_ctx_name (xinf_ctx_t *ctx) { return ctx->name; }
xinf_router_t *xinf_ctx_router (xinf_ctx_t *ctx) { return ctx->router; }
zloop_t *xinf_ctx_loop (xinf_ctx_t *ctx) { return ctx->loop; }
void xinf_ctx_stop (xinf_ctx_t *ctx) { ctx->stopping = true; }

void
xinf_ctx_stats (xinf_ctx_t *ctx, xinf_actor_stats_t *stats)
{
    *stats = ctx->stats;
    xinf_router_stats (ctx->router, &stats->endpoint);
}

int
xinf_ctx_reply (xinf_ctx_t *ctx, xinf_peer_t *to, const xinf_msg_t *request, xinf_msg_t **reply_p)
{
    if (request)
        xinf_msg_set_corr (*reply_p, xinf_msg_corr (request));
    return xinf_router_reply (ctx->router, to, reply_p);
}

int
xinf_ctx_reply_error (xinf_ctx_t *ctx, xinf_peer_t *to, uint64_t corr, const char *code,
                      const char *format, ...)
{
    char text [1024];
    va_list args;
    va_start (args, format);
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    xinf_msg_t *error = xinf_msg_new_error (corr, code, "%s", text);
    return xinf_router_reply (ctx->router, to, &error);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    s_callback_t *callback = (s_callback_t *) arg;
    callback->timer_fn (callback->ctx, callback->arg);
    return callback->ctx->stopping ? -1 : 0;
}

static s_callback_t *
s_callback_new (xinf_ctx_t *ctx, xinf_timer_fn *timer_fn, xinf_reader_fn *reader_fn, void *arg)
{
    s_callback_t *callback = calloc (1, sizeof *callback);
    assert (callback);
    callback->ctx = ctx;
    callback->timer_fn = timer_fn;
    callback->reader_fn = reader_fn;
    callback->arg = arg;
    zlistx_add_end (ctx->callbacks, callback);
    return callback;
}

int
xinf_ctx_timer (xinf_ctx_t *ctx, int64_t delay_ms, size_t times, xinf_timer_fn *fn, void *arg)
{
    s_callback_t *callback = s_callback_new (ctx, fn, NULL, arg);
    return zloop_timer (ctx->loop, (size_t) delay_ms, times, s_on_timer, callback);
}

void
xinf_ctx_timer_cancel (xinf_ctx_t *ctx, int timer_id)
{
    zloop_timer_end (ctx->loop, timer_id);
}

static int
s_on_reader (zloop_t *loop, zsock_t *sock, void *arg)
{
    s_callback_t *callback = (s_callback_t *) arg;
    callback->reader_fn (callback->ctx, sock, callback->arg);
    return callback->ctx->stopping ? -1 : 0;
}

int
xinf_ctx_reader (xinf_ctx_t *ctx, zsock_t *sock, xinf_reader_fn *fn, void *arg)
{
    s_callback_t *callback = s_callback_new (ctx, NULL, fn, arg);
    return zloop_reader (ctx->loop, sock, s_on_reader, callback);
}

void
xinf_ctx_reader_end (xinf_ctx_t *ctx, zsock_t *sock)
{
    zloop_reader_end (ctx->loop, sock);
}
