/*  test_actor: xinf_actor, actors on zactor threads with a handler table.

    An actor with ECHO/STATS/QUIT handlers is bound to inproc://, ipc:// and
    tcp://127.0.0.1:0 and spoken to with xinf_dealer over each: ECHO, the
    built-in PING -> PONG (binary frames echoed), an unknown type -> ERROR
    UNKNOWN_TYPE. Garbage from a raw DEALER -> ERROR BAD_ENVELOPE (with the
    corr when readable); an incoming ERROR is not answered. Timers fire,
    readers read, init failure makes new return NULL, fini runs, destroy is
    prompt (also after a handler stopped the loop), bad binds return -1.
*/
#include "test_unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct {
    bool fail_init;
    atomic_int inits;
    atomic_int finis;
    atomic_int ticks;            //  a repeating timer
    atomic_int limited;          //  a timer that runs 3 times
    atomic_int pulled;           //  messages read by the extra reader
    char pull_endpoint [64];
    zsock_t *pull;               //  owned by the actor thread
} s_state_t;

static void s_on_tick (xinf_ctx_t *ctx, void *arg) { atomic_fetch_add (&((s_state_t *) arg)->ticks, 1); }
static void s_on_limited (xinf_ctx_t *ctx, void *arg) { atomic_fetch_add (&((s_state_t *) arg)->limited, 1); }

static void
s_on_pull (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    char *text = zstr_recv (sock);
    if (text && streq (text, "item"))
        atomic_fetch_add (&((s_state_t *) arg)->pulled, 1);
    zstr_free (&text);
}

static int
s_init (xinf_ctx_t *ctx)
{
    s_state_t *state = (s_state_t *) xinf_ctx_state (ctx);
    atomic_fetch_add (&state->inits, 1);
    if (state->fail_init)
        return -1;
    CHECK (xinf_ctx_loop (ctx) && xinf_ctx_router (ctx));
    CHECK (xinf_ctx_timer (ctx, 5, 0, s_on_tick, state) >= 0);
    CHECK (xinf_ctx_timer (ctx, 5, 3, s_on_limited, state) >= 0);
    if (state->pull_endpoint [0]) {
        state->pull = zsock_new_pull (state->pull_endpoint);
        CHECK (state->pull);
        CHECK (xinf_ctx_reader (ctx, state->pull, s_on_pull, state) == 0);
    }
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    s_state_t *state = (s_state_t *) xinf_ctx_state (ctx);
    if (state->pull) {
        xinf_ctx_reader_end (ctx, state->pull);
        zsock_destroy (&state->pull);
    }
    atomic_fetch_add (&state->finis, 1);
}

static void
s_on_echo (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = xinf_msg_new ("ECHO");
    xinf_map_put (xinf_msg_body (reply), "body", xinf_value_dup (xinf_msg_body (msg)));
    xinf_map_put_str (xinf_msg_body (reply), "name", xinf_ctx_name (ctx));
    xinf_map_put_str (xinf_msg_body (reply), "address", xinf_peer_address (from));
    for (size_t index = 0; index < xinf_msg_frame_count (msg); index++) {
        zframe_t *copy = zframe_dup (xinf_msg_frame (msg, index));
        xinf_msg_add_frame (reply, &copy);
    }
    CHECK_INT (xinf_ctx_reply (ctx, from, msg, &reply), 0);
}

static void
s_on_stats (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_actor_stats_t stats;
    xinf_ctx_stats (ctx, &stats);
    xinf_msg_t *reply = xinf_msg_new ("STATS");
    xinf_value_t *body = xinf_msg_body (reply);
    xinf_map_put_uint (body, "handled", stats.handled);
    xinf_map_put_uint (body, "bad_envelopes", stats.bad_envelopes);
    xinf_map_put_uint (body, "unknown_types", stats.unknown_types);
    xinf_map_put_uint (body, "received", stats.endpoint.received);
    xinf_map_put_uint (body, "bad", stats.endpoint.bad);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static void
s_on_quit (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = xinf_msg_new ("BYE");
    xinf_ctx_reply (ctx, from, msg, &reply);
    xinf_ctx_stop (ctx);
}

static const xinf_handler_t s_handlers [] = {
    { "ECHO", s_on_echo },
    { "STATS", s_on_stats },
    { "QUIT", s_on_quit },
    { NULL, NULL }
};

static xinf_actor_t *
s_actor_new (s_state_t *state, const char *pull_endpoint)
{
    memset (state, 0, sizeof *state);
    if (pull_endpoint)
        snprintf (state->pull_endpoint, sizeof state->pull_endpoint, "%s", pull_endpoint);
    xinf_actor_spec_t spec = { "echo-actor", s_handlers, s_init, s_fini, state, NULL, NULL };
    xinf_actor_t *actor = xinf_actor_new (&spec);
    CHECK (actor);
    CHECK_INT (atomic_load (&state->inits), 1);     //  init ran before new returned
    return actor;
}

//  Sends 'type' with two frames and returns the reply (never NULL).
static xinf_msg_t *
s_request (xinf_dealer_t *dealer, const char *type)
{
    xinf_msg_t *request = xinf_msg_new (type);
    xinf_map_put_str (xinf_msg_body (request), "text", "hello");
    xinf_msg_add_bytes (request, "\x00\xff", 2);
    xinf_msg_add_bytes (request, "second", 6);
    char error [256] = "";
    xinf_msg_t *reply = xinf_dealer_request (dealer, &request, 5000, error, sizeof error);
    if (!reply)
        fprintf (stderr, "request %s: %s\n", type, error);
    CHECK (reply);
    return reply;
}

static uint64_t
s_stat (xinf_dealer_t *dealer, const char *name)
{
    xinf_msg_t *reply = s_request (dealer, "STATS");
    CHECK_STR (xinf_msg_type (reply), "STATS");
    uint64_t value = xinf_value_uint (xinf_map_get (xinf_msg_body (reply), name));
    xinf_msg_destroy (&reply);
    return value;
}

static void
s_talk (const char *endpoint)
{
    xinf_dealer_t *dealer = xinf_dealer_new (endpoint, "tester");
    CHECK (dealer);
    xinf_msg_t *reply = s_request (dealer, "ECHO");
    CHECK_STR (xinf_msg_type (reply), "ECHO");
    CHECK_STR (xinf_msg_sender (reply), "echo-actor");
    xinf_value_t *body = xinf_msg_body (reply);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_map_get (body, "body"), "text")), "hello");
    CHECK_STR (xinf_value_str (xinf_map_get (body, "name")), "echo-actor");
    if (strncmp (endpoint, "tcp://", 6) == 0)
        CHECK_STR (xinf_value_str (xinf_map_get (body, "address")), "127.0.0.1");
    CHECK_INT (xinf_msg_frame_count (reply), 2);
    xinf_msg_destroy (&reply);

    reply = s_request (dealer, "PING");
    CHECK_STR (xinf_msg_type (reply), "PONG");
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "actor")), "echo-actor");
    CHECK_INT (xinf_msg_frame_count (reply), 2);
    CHECK_INT (zframe_size (xinf_msg_frame (reply, 0)), 2);
    CHECK (memcmp (zframe_data (xinf_msg_frame (reply, 0)), "\x00\xff", 2) == 0);
    CHECK (zframe_streq (xinf_msg_frame (reply, 1), "second"));
    xinf_msg_destroy (&reply);

    reply = s_request (dealer, "NOPE");
    CHECK_STR (xinf_msg_type (reply), "ERROR");
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "code")), "UNKNOWN_TYPE");
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "NOPE");
    xinf_msg_destroy (&reply);
    xinf_dealer_destroy (&dealer);
}

static void
test_transports (void)
{
    s_state_t state;
    xinf_actor_t *actor = s_actor_new (&state, NULL);
    char bound [256] = "";
    CHECK_INT (xinf_actor_bind (actor, "inproc://xinf-unit-actor", bound, sizeof bound), 0);
    CHECK_STR (bound, "inproc://xinf-unit-actor");
    char ipc [128];
    snprintf (ipc, sizeof ipc, "ipc:///tmp/xinf-unit-actor-%d.ipc", (int) getpid ());
    CHECK_INT (xinf_actor_bind (actor, ipc, bound, sizeof bound), 0);
    CHECK_STR (bound, ipc);
    int port = xinf_actor_bind (actor, "tcp://127.0.0.1:0", bound, sizeof bound);
    CHECK (port > 0);
    char tcp [64];
    snprintf (tcp, sizeof tcp, "tcp://127.0.0.1:%d", port);
    CHECK_STR (bound, tcp);

    s_talk ("inproc://xinf-unit-actor");
    s_talk (ipc);
    s_talk (tcp);

    xinf_dealer_t *dealer = xinf_dealer_new (tcp, "tester");
    CHECK_INT (s_stat (dealer, "unknown_types"), 3);
    CHECK_INT (s_stat (dealer, "bad_envelopes"), 0);
    CHECK_INT (s_stat (dealer, "handled"), 9);  //  3 ECHO, 3 PING, 3 STATS so far
    xinf_dealer_destroy (&dealer);
    xinf_actor_destroy (&actor);
    CHECK (actor == NULL);
    CHECK_INT (atomic_load (&state.finis), 1);
    unlink (ipc + 6);
}

//  Receives one reply on a raw socket and decodes it.
static xinf_msg_t *
s_raw_reply (zsock_t *raw)
{
    zmsg_t *zmsg = zmsg_recv (raw);
    CHECK (zmsg);
    char error [256] = "";
    xinf_msg_t *msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (msg);
    return msg;
}

static void
test_bad_input (void)
{
    s_state_t state;
    xinf_actor_t *actor = s_actor_new (&state, NULL);
    char bound [256];
    CHECK (xinf_actor_bind (actor, "tcp://127.0.0.1:0", bound, sizeof bound) > 0);
    zsock_t *raw = zsock_new_dealer (bound);
    zsock_set_rcvtimeo (raw, 5000);

    zstr_send (raw, "junk");
    xinf_msg_t *reply = s_raw_reply (raw);
    CHECK_STR (xinf_msg_type (reply), "ERROR");
    CHECK_INT (xinf_msg_corr (reply), 0);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "code")), "BAD_ENVELOPE");
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "XINF signature");
    xinf_msg_destroy (&reply);

    //  A readable corr travels back on the ERROR
    xinf_value_t *header = xinf_value_new_map ();
    xinf_map_put_uint (header, "corr", 4242);
    xinf_map_put_str (header, "type", "no good");
    zmsg_t *zmsg = test_envelope (header);
    zmsg_send (&zmsg, raw);
    xinf_value_destroy (&header);
    reply = s_raw_reply (raw);
    CHECK_STR (xinf_msg_type (reply), "ERROR");
    CHECK_INT (xinf_msg_corr (reply), 4242);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "code")), "BAD_ENVELOPE");
    CHECK_INT (xinf_msg_version (reply), 2);      //  answered in the version it came in
    xinf_msg_destroy (&reply);
    //  ... in version 3 too (the header an array)
    header = xinf_value_new_array ();
    xinf_array_push (header, xinf_value_new_str ("no good"));
    xinf_array_push (header, xinf_value_new_uint (4243));
    xinf_array_push (header, xinf_value_new_str ("raw"));
    xinf_array_push (header, xinf_value_new_uint (0));
    xinf_array_push (header, xinf_value_new_map ());
    zmsg = test_envelope_version (header, 3);
    zmsg_send (&zmsg, raw);
    xinf_value_destroy (&header);
    reply = s_raw_reply (raw);
    CHECK_STR (xinf_msg_type (reply), "ERROR");
    CHECK_INT (xinf_msg_corr (reply), 4243);
    CHECK_INT (xinf_msg_version (reply), 3);
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "field 'type' must be");
    xinf_msg_destroy (&reply);

    //  An incoming ERROR is not answered: the PING sent after it is the
    //  first thing to come back (replies keep order on one connection)
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "tester");
    xinf_msg_t *error = xinf_msg_new_error (777, "SOMETHING", "went wrong");
    CHECK_INT (xinf_dealer_send (dealer, &error), 0);
    xinf_msg_t *ping = xinf_msg_new ("PING");
    xinf_msg_set_corr (ping, 778);
    CHECK_INT (xinf_dealer_send (dealer, &ping), 0);
    char reason [256] = "";
    reply = xinf_dealer_recv (dealer, 5000, reason, sizeof reason);
    CHECK (reply);
    CHECK_STR (xinf_msg_type (reply), "PONG");
    CHECK_INT (xinf_msg_corr (reply), 778);
    xinf_msg_destroy (&reply);
    //  ... and nothing else arrives (the one bounded wait for absence)
    CHECK (xinf_dealer_recv (dealer, 200, reason, sizeof reason) == NULL);
    CHECK_HAS (reason, "no reply");

    CHECK_INT (s_stat (dealer, "bad_envelopes"), 3);
    CHECK_INT (s_stat (dealer, "bad"), 3);
    CHECK_INT (s_stat (dealer, "unknown_types"), 1);  //  the ERROR
    xinf_dealer_destroy (&dealer);
    zsock_destroy (&raw);
    xinf_actor_destroy (&actor);
}

static void
test_timers_and_readers (void)
{
    s_state_t state;
    xinf_actor_t *actor = s_actor_new (&state, "@inproc://xinf-unit-actor-pull");
    CHECK_SOON (atomic_load (&state.ticks) >= 5, 5000);
    CHECK_SOON (atomic_load (&state.limited) == 3, 5000);
    zsock_t *push = zsock_new_push (">inproc://xinf-unit-actor-pull");
    CHECK (push);
    for (int index = 0; index < 10; index++)
        zstr_send (push, "item");
    CHECK_SOON (atomic_load (&state.pulled) == 10, 5000);
    int ticks = atomic_load (&state.ticks);
    CHECK_SOON (atomic_load (&state.ticks) > ticks, 5000);    //  still ticking
    CHECK_INT (atomic_load (&state.limited), 3);
    zsock_destroy (&push);
    xinf_actor_destroy (&actor);
    CHECK_INT (atomic_load (&state.finis), 1);
}

static void
test_lifecycle (void)
{
    //  init failing: new returns NULL, quickly, without running fini
    s_state_t state;
    memset (&state, 0, sizeof state);
    state.fail_init = true;
    xinf_actor_spec_t spec = { "failing", s_handlers, s_init, s_fini, &state, NULL, NULL };
    int64_t start = zclock_mono ();
    CHECK (xinf_actor_new (&spec) == NULL);
    CHECK (zclock_mono () - start < 2000);
    CHECK_INT (atomic_load (&state.inits), 1);
    CHECK_INT (atomic_load (&state.finis), 0);

    //  A minimal spec: no handlers, no init, no name
    xinf_actor_spec_t bare = { NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    xinf_actor_t *actor = xinf_actor_new (&bare);
    CHECK (actor);
    CHECK_INT (xinf_actor_bind (actor, "inproc://xinf-unit-bare", NULL, 0), 0);
    xinf_dealer_t *dealer = xinf_dealer_new ("inproc://xinf-unit-bare", "tester");
    xinf_msg_t *reply = s_request (dealer, "PING");
    CHECK_STR (xinf_msg_type (reply), "PONG");
    CHECK_STR (xinf_msg_sender (reply), "actor");
    xinf_msg_destroy (&reply);
    xinf_dealer_destroy (&dealer);
    start = zclock_mono ();
    xinf_actor_destroy (&actor);
    CHECK (zclock_mono () - start < 1000);
    xinf_actor_destroy (&actor);                //  NULL is fine

    //  Destroy is prompt and runs fini
    actor = s_actor_new (&state, NULL);
    start = zclock_mono ();
    xinf_actor_destroy (&actor);
    CHECK (zclock_mono () - start < 1000);
    CHECK_INT (atomic_load (&state.finis), 1);

    //  A handler that stops the loop: the actor ends, destroy is still prompt
    actor = s_actor_new (&state, NULL);
    CHECK_INT (xinf_actor_bind (actor, "inproc://xinf-unit-quit", NULL, 0), 0);
    dealer = xinf_dealer_new ("inproc://xinf-unit-quit", "tester");
    reply = s_request (dealer, "QUIT");
    CHECK_STR (xinf_msg_type (reply), "BYE");
    xinf_msg_destroy (&reply);
    CHECK_SOON (atomic_load (&state.finis) == 1, 5000);
    xinf_dealer_destroy (&dealer);
    start = zclock_mono ();
    xinf_actor_destroy (&actor);
    CHECK (zclock_mono () - start < 1000);
    CHECK_INT (atomic_load (&state.finis), 1);
}

static void
test_bind_errors (void)
{
    s_state_t state;
    xinf_actor_t *actor = s_actor_new (&state, NULL);
    CHECK_INT (xinf_actor_bind (actor, "bogus://nowhere", NULL, 0), -1);
    CHECK_INT (xinf_actor_bind (actor, "tcp://127.0.0.1:notaport", NULL, 0), -1);
    CHECK_INT (xinf_actor_bind (actor, "inproc://xinf-unit-twice", NULL, 0), 0);
    CHECK_INT (xinf_actor_bind (actor, "inproc://xinf-unit-twice", NULL, 0), -1);
    //  The actor keeps working
    char bound [256];
    CHECK (xinf_actor_bind (actor, "tcp://127.0.0.1:0", bound, sizeof bound) > 0);
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "tester");
    xinf_msg_t *reply = s_request (dealer, "PING");
    CHECK_STR (xinf_msg_type (reply), "PONG");
    xinf_msg_destroy (&reply);
    xinf_dealer_destroy (&dealer);
    xinf_actor_destroy (&actor);
}

//  A table entry for PING replaces the built-in one.
static void
s_on_custom_ping (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = xinf_msg_new ("CUSTOM_PONG");
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static void
test_override_ping (void)
{
    static const xinf_handler_t handlers [] = { { "PING", s_on_custom_ping }, { NULL, NULL } };
    xinf_actor_spec_t spec = { "custom", handlers, NULL, NULL, NULL, NULL, NULL };
    xinf_actor_t *actor = xinf_actor_new (&spec);
    CHECK (actor);
    CHECK_INT (xinf_actor_bind (actor, "inproc://xinf-unit-custom", NULL, 0), 0);
    xinf_dealer_t *dealer = xinf_dealer_new ("inproc://xinf-unit-custom", "tester");
    xinf_msg_t *reply = s_request (dealer, "PING");
    CHECK_STR (xinf_msg_type (reply), "CUSTOM_PONG");
    xinf_msg_destroy (&reply);
    xinf_dealer_destroy (&dealer);
    xinf_actor_destroy (&actor);
}

// ---- several clients at once -----------------------------------------------

static char s_tcp [64];

static void *
s_client (void *arg)
{
    xinf_dealer_t *dealer = xinf_dealer_new (s_tcp, "client");
    for (int index = 0; index < 50; index++) {
        xinf_msg_t *request = xinf_msg_new ("ECHO");
        xinf_map_put_int (xinf_msg_body (request), "index", index);
        char error [256];
        xinf_msg_t *reply = xinf_dealer_request (dealer, &request, 5000, error, sizeof error);
        CHECK (reply);
        CHECK_INT (xinf_value_int (xinf_map_get (xinf_map_get (xinf_msg_body (reply), "body"), "index")), index);
        xinf_msg_destroy (&reply);
    }
    xinf_dealer_destroy (&dealer);
    return NULL;
}

static void
test_concurrent_clients (void)
{
    s_state_t state;
    xinf_actor_t *actor = s_actor_new (&state, NULL);
    int port = xinf_actor_bind (actor, "tcp://127.0.0.1:0", s_tcp, sizeof s_tcp);
    CHECK (port > 0);
    pthread_t threads [4];
    for (int index = 0; index < 4; index++)
        CHECK (pthread_create (&threads [index], NULL, s_client, NULL) == 0);
    for (int index = 0; index < 4; index++)
        pthread_join (threads [index], NULL);
    xinf_dealer_t *dealer = xinf_dealer_new (s_tcp, "tester");
    CHECK_INT (s_stat (dealer, "handled"), 201);   //  with this STATS
    xinf_dealer_destroy (&dealer);
    xinf_actor_destroy (&actor);
}

int
main (void)
{
    fprintf (stderr, "test_actor\n");
    RUN (test_transports);
    RUN (test_bad_input);
    RUN (test_timers_and_readers);
    RUN (test_lifecycle);
    RUN (test_bind_errors);
    RUN (test_override_ping);
    RUN (test_concurrent_clients);
    return 0;
}
