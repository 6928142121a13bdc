/*  xinf_actor: an actor on a CZMQ zactor thread.

    An actor owns a ROUTER socket (xinf_router) that can be bound to any
    number of endpoints: inproc:// for the same process, ipc:// for another
    process on the machine, tcp:// for another node. Messages are XINF
    envelopes dispatched through a handler table keyed by message type;
    timers and extra sockets run on the same zloop. The actor shares no
    mutable state: everything it owns lives on its thread.

    Built in: PING is answered with PONG (echoing binary frames) unless the
    table overrides it; a malformed envelope is answered with ERROR
    BAD_ENVELOPE, an unknown type with ERROR UNKNOWN_TYPE (an unexpected
    ERROR is only logged, so that two actors never bounce errors). Each is
    counted and logged; the actor keeps serving.

    Stopping never hangs the owner: destroy sends $TERM and waits a bounded
    time; an actor stuck in a handler is reported and abandoned.
*/
#ifndef XINF_ACTOR_H_INCLUDED
#define XINF_ACTOR_H_INCLUDED

#include "xinf_router.h"

typedef struct _xinf_actor_t xinf_actor_t;      //  the owner's handle
typedef struct _xinf_ctx_t xinf_ctx_t;          //  the actor's side

typedef void (xinf_handler_fn) (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);
typedef void (xinf_timer_fn) (xinf_ctx_t *ctx, void *arg);
typedef void (xinf_reader_fn) (xinf_ctx_t *ctx, zsock_t *sock, void *arg);

typedef struct {
    const char *type;
    xinf_handler_fn *fn;
} xinf_handler_t;

typedef struct {
    const char *name;                     //  sender name and log component
    const xinf_handler_t *handlers;       //  ends with { NULL, NULL }
    int (*init) (xinf_ctx_t *ctx);        //  on the actor thread; non-zero fails new
    void (*fini) (xinf_ctx_t *ctx);       //  on the actor thread, at stop
    void *state;                          //  for the handlers; owned by the caller
    //  Optional: sees every decoded message before its handler; false when
    //  it answered the message itself (it is then not dispatched)
    bool (*gate) (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);
    //  Optional: true for a peer that the per-peer rate limit
    //  (xinf_router_set_peer_limit) does not apply to, e.g. a supervisor's
    //  registered workers, whose messages are the serving itself
    bool (*unlimited) (xinf_ctx_t *ctx, xinf_peer_t *from);
} xinf_actor_spec_t;


typedef struct {
    uint64_t handled;          //  messages given to a handler
    uint64_t bad_envelopes;
    uint64_t unknown_types;
    uint64_t rate_limited;     //  messages dropped over their peer's rate limit
    xinf_endpoint_stats_t endpoint;
} xinf_actor_stats_t;

#define XINF_ACTOR_STOP_MS  5000        //  how long destroy waits

//  Starts the actor; NULL if its init failed (the reason is logged).
xinf_actor_t *xinf_actor_new (const xinf_actor_spec_t *spec);
//  Binds the actor's ROUTER (waits at most 5 s for the actor to answer).
//  Returns the TCP port (0 for other transports) or -1 with errno set (the
//  caller says what failed: a port search expects some binds to fail);
//  'bound' gets the endpoint bound.
int xinf_actor_bind (xinf_actor_t *self, const char *endpoint, char *bound, size_t bound_size);
//  Stops the actor. Returns false when it did not stop within
//  XINF_ACTOR_STOP_MS and was abandoned (logged): its thread may still use
//  the state, which the owner must then leave allocated.
bool xinf_actor_destroy (xinf_actor_t **self_p);

// ---- for handlers, timers and readers (actor thread only) ----------------
void *xinf_ctx_state (xinf_ctx_t *ctx);
const char *xinf_ctx_name (xinf_ctx_t *ctx);
xinf_router_t *xinf_ctx_router (xinf_ctx_t *ctx);
zloop_t *xinf_ctx_loop (xinf_ctx_t *ctx);
void xinf_ctx_stats (xinf_ctx_t *ctx, xinf_actor_stats_t *stats);

//  Sends 'reply' to 'to' with the request's correlation id; consumes reply.
//  In a handler the reply is corked (xinf_router_reply): it leaves with
//  the batch's other replies when the batch ends, or before a later
//  handler once it has waited about 1 ms or when that handler's last run
//  took over 0.2 ms (a handler quick until now can still hold it for its
//  own run); 0 then means queued. A reply the socket refuses is logged and
//  counted, not returned: a caller that must know (a token to a client)
//  uses xinf_router_send.
int xinf_ctx_reply (xinf_ctx_t *ctx, xinf_peer_t *to, const xinf_msg_t *request, xinf_msg_t **reply_p);
int xinf_ctx_reply_error (xinf_ctx_t *ctx, xinf_peer_t *to, uint64_t corr, const char *code,
                          const char *format, ...) __attribute__ ((format (printf, 5, 6)));
//  Timer: fn runs every delay_ms, 'times' times (0 = until cancelled).
int xinf_ctx_timer (xinf_ctx_t *ctx, int64_t delay_ms, size_t times, xinf_timer_fn *fn, void *arg);
void xinf_ctx_timer_cancel (xinf_ctx_t *ctx, int timer_id);
//  Another socket served by the same loop (the actor still owns it).
int xinf_ctx_reader (xinf_ctx_t *ctx, zsock_t *sock, xinf_reader_fn *fn, void *arg);
void xinf_ctx_reader_end (xinf_ctx_t *ctx, zsock_t *sock);
//  Leaves the loop when the current handler returns.
void xinf_ctx_stop (xinf_ctx_t *ctx);

#endif
