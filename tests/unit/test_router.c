/*  test_router: xinf_router's corked replies.

    While corked, replies (xinf_router_reply) are queued, none handed to
    libzmq, until the router flushes or uncorks; a DEALER then gets all of
    them in the order they were made (test_cork_holds). Any other send flushes the queue
    first, so the order on the socket is the order of the calls; a reply
    with binary frames, one too large to queue and the 257th of a run go
    out in order too (test_cork_order). A queued reply to a peer that left
    is refused when it goes out: counted and logged, not lost silently,
    and a NULL peer is refused at once (test_cork_refused). Uncorked,
    xinf_router_reply sends at once. An actor's replies are corked for its
    batch and leave at its end (test_actor_batch), in the envelope version
    each peer speaks (test_actor_version2); a reply is not held behind a
    handler whose last run was slow (test_actor_slow_handler). Destroying
    a corked router sends what it queued (test_cork_destroy).
*/
#include "test_unit.h"

#include <errno.h>
#include <stdatomic.h>

typedef struct {
    xinf_router_t *router;
    xinf_dealer_t *dealer;
    xinf_peer_t *peer;         //  the dealer, as the router knows it
} s_pair_t;

//  A router on tcp://127.0.0.1 and a dealer that said HELLO to it.
static void
s_pair_new (s_pair_t *pair)
{
    char bound [256];
    pair->router = xinf_router_new ("server");
    CHECK (xinf_router_bind (pair->router, "tcp://127.0.0.1:0", bound, sizeof bound) > 0);
    zsock_set_rcvtimeo (xinf_router_sock (pair->router), 5000);   //  a failing test never hangs
    pair->dealer = xinf_dealer_new (bound, "client");
    CHECK (pair->dealer);
    xinf_msg_t *hello = xinf_msg_new ("HELLO");
    CHECK_INT (xinf_dealer_send (pair->dealer, &hello), 0);
    char error [256] = "";
    xinf_msg_t *msg = xinf_router_recv (pair->router, &pair->peer, error, sizeof error, NULL);
    CHECK (msg && pair->peer);
    xinf_msg_destroy (&msg);
}

static void
s_pair_destroy (s_pair_t *pair)
{
    xinf_dealer_destroy (&pair->dealer);
    xinf_router_destroy (&pair->router);
}

static xinf_msg_t *
s_numbered (const char *type, uint64_t number)
{
    xinf_msg_t *msg = xinf_msg_new (type);
    xinf_map_put_uint (xinf_msg_body (msg), "n", number);
    return msg;
}

//  Receives the next message at the dealer: it must be 'type' number 'n'.
static void
s_expect (xinf_dealer_t *dealer, const char *type, uint64_t number)
{
    char error [256] = "";
    xinf_msg_t *msg = xinf_dealer_recv (dealer, 5000, error, sizeof error);
    if (!msg || !xinf_msg_is (msg, type) || xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "n")) != number)
        fprintf (stderr, "expected %s %llu, got %s %llu (%s)\n", type, (unsigned long long) number,
                 msg ? xinf_msg_type (msg) : "nothing",
                 msg ? (unsigned long long) xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "n")) : 0ULL, error);
    CHECK (msg && xinf_msg_is (msg, type));
    CHECK_INT (xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "n")), number);
    xinf_msg_destroy (&msg);
}

static void
test_cork_holds (void)
{
    s_pair_t pair;
    s_pair_new (&pair);
    //  Uncorked, a reply goes at once
    xinf_msg_t *msg = s_numbered ("REPLY", 0);
    CHECK_INT (xinf_router_reply (pair.router, pair.peer, &msg), 0);
    CHECK (msg == NULL);
    s_expect (pair.dealer, "REPLY", 0);

    xinf_router_cork (pair.router);
    for (uint64_t number = 1; number <= 10; number++) {
        msg = s_numbered ("REPLY", number);
        CHECK_INT (xinf_router_reply (pair.router, pair.peer, &msg), 0);
        CHECK (msg == NULL);
    }
    //  Nothing went to libzmq yet: all ten are queued
    CHECK_INT (xinf_router_queued (pair.router), 10);
    xinf_endpoint_stats_t stats;
    xinf_router_stats (pair.router, &stats);
    CHECK_INT (stats.sent, 1);
    xinf_router_flush (pair.router);
    CHECK_INT (xinf_router_queued (pair.router), 0);
    for (uint64_t number = 1; number <= 10; number++)
        s_expect (pair.dealer, "REPLY", number);
    //  Still corked after a flush; uncork sends the rest
    msg = s_numbered ("REPLY", 11);
    CHECK_INT (xinf_router_reply (pair.router, pair.peer, &msg), 0);
    CHECK_INT (xinf_router_queued (pair.router), 1);
    xinf_router_uncork (pair.router);
    s_expect (pair.dealer, "REPLY", 11);
    msg = s_numbered ("REPLY", 12);
    CHECK_INT (xinf_router_reply (pair.router, pair.peer, &msg), 0);
    s_expect (pair.dealer, "REPLY", 12);
    xinf_router_stats (pair.router, &stats);
    CHECK_INT (stats.sent, 13);
    CHECK_INT (stats.unreachable, 0);
    s_pair_destroy (&pair);
}

static void
test_cork_order (void)
{
    s_pair_t pair;
    s_pair_new (&pair);
    xinf_router_cork (pair.router);
    uint64_t number = 0;
    xinf_msg_t *msg = s_numbered ("REPLY", number++);
    xinf_router_reply (pair.router, pair.peer, &msg);
    //  A plain send flushes what is queued before it
    msg = s_numbered ("EVENT", number++);
    CHECK_INT (xinf_router_send (pair.router, pair.peer, &msg), 0);
    msg = s_numbered ("REPLY", number++);
    xinf_router_reply (pair.router, pair.peer, &msg);
    //  A reply with a binary frame is not queued: it follows those that are
    msg = s_numbered ("BULK", number++);
    xinf_msg_add_bytes (msg, "\x01\x02", 2);
    xinf_router_reply (pair.router, pair.peer, &msg);
    msg = s_numbered ("REPLY", number++);
    xinf_router_reply (pair.router, pair.peer, &msg);
    //  One too large to be queued (64 KiB) goes after the one before it
    msg = s_numbered ("LARGE", number++);
    char *text = malloc (65536);
    memset (text, 'x', 65535);
    text [65535] = 0;
    xinf_map_put_str (xinf_msg_body (msg), "text", text);
    free (text);
    xinf_router_reply (pair.router, pair.peer, &msg);
    //  A run longer than the queue (256) is sent in order as it fills
    for (int index = 0; index < 600; index++) {
        msg = s_numbered ("REPLY", number++);
        xinf_router_reply (pair.router, pair.peer, &msg);
    }
    xinf_router_uncork (pair.router);
    const char *types [] = { "REPLY", "EVENT", "REPLY", "BULK", "REPLY", "LARGE" };
    for (uint64_t at = 0; at < number; at++)
        s_expect (pair.dealer, at < 6 ? types [at] : "REPLY", at);
    xinf_endpoint_stats_t stats;
    xinf_router_stats (pair.router, &stats);
    CHECK_INT (stats.sent, number);
    s_pair_destroy (&pair);
}

static void
test_cork_refused (void)
{
    s_pair_t pair;
    s_pair_new (&pair);
    xinf_router_cork (pair.router);
    xinf_msg_t *msg = s_numbered ("REPLY", 1);
    errno = 0;
    CHECK_INT (xinf_router_reply (pair.router, NULL, &msg), -1);
    CHECK_INT (errno, EHOSTUNREACH);
    CHECK (msg == NULL);
    xinf_router_uncork (pair.router);
    xinf_endpoint_stats_t stats;
    xinf_router_stats (pair.router, &stats);
    CHECK_INT (stats.unreachable, 1);

    //  The dealer leaves; once the router knows (a plain send says so), a
    //  reply queued for it is refused when the queue goes out
    xinf_dealer_destroy (&pair.dealer);
    int rc = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (rc == 0 && zclock_mono () < deadline) {
        msg = s_numbered ("PROBE", 0);
        rc = xinf_router_send (pair.router, pair.peer, &msg);
        if (rc == 0)
            zclock_sleep (2);
    }
    CHECK_INT (rc, -1);
    xinf_router_stats (pair.router, &stats);
    uint64_t before = stats.unreachable, sent = stats.sent;
    xinf_router_cork (pair.router);
    for (uint64_t number = 0; number < 3; number++) {
        msg = s_numbered ("REPLY", number);
        CHECK_INT (xinf_router_reply (pair.router, pair.peer, &msg), 0);
    }
    xinf_router_uncork (pair.router);
    xinf_router_stats (pair.router, &stats);
    CHECK_INT (stats.unreachable, before + 3);
    CHECK_INT (stats.sent, sent);
    s_pair_destroy (&pair);
}

//  An actor's handler that answers each SHOUT with five replies.
static void
s_on_shout (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    uint64_t number = xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "n"));
    for (uint64_t index = 0; index < 5; index++) {
        xinf_msg_t *reply = s_numbered ("ECHO", number * 5 + index);
        xinf_ctx_reply (ctx, from, msg, &reply);
    }
}

//  An actor with these handlers bound to tcp://127.0.0.1, its endpoint
//  into 'bound' (256 bytes).
static xinf_actor_t *
s_actor_bound (const char *name, const xinf_handler_t *handlers, char *bound)
{
    xinf_actor_spec_t spec = { .name = name, .handlers = handlers };
    xinf_actor_t *actor = xinf_actor_new (&spec);
    CHECK (actor);
    CHECK (xinf_actor_bind (actor, "tcp://127.0.0.1:0", bound, 256) > 0);
    return actor;
}

static void
test_actor_batch (void)
{
    static const xinf_handler_t handlers [] = { { "SHOUT", s_on_shout }, { NULL, NULL } };
    char bound [256];
    xinf_actor_t *actor = s_actor_bound ("shouter", handlers, bound);
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "client");
    //  Many requests at once: the actor handles them in batches, each
    //  batch's replies corked; every reply arrives, in order
    for (uint64_t number = 0; number < 1000; number++) {
        xinf_msg_t *msg = s_numbered ("SHOUT", number);
        CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    }
    for (uint64_t number = 0; number < 5000; number++)
        s_expect (dealer, "ECHO", number);
    //  A lone request is answered at once (its batch ends with it)
    xinf_msg_t *ping = xinf_msg_new ("PING");
    char error [256] = "";
    xinf_msg_t *pong = xinf_dealer_request (dealer, &ping, 5000, error, sizeof error);
    CHECK (pong && xinf_msg_is (pong, "PONG"));
    xinf_msg_destroy (&pong);
    xinf_dealer_destroy (&dealer);
    CHECK (xinf_actor_destroy (&actor));
}

static void
test_cork_destroy (void)
{
    s_pair_t pair;
    s_pair_new (&pair);
    xinf_router_cork (pair.router);
    for (uint64_t number = 0; number < 3; number++) {
        xinf_msg_t *msg = s_numbered ("REPLY", number);
        CHECK_INT (xinf_router_reply (pair.router, pair.peer, &msg), 0);
    }
    CHECK_INT (xinf_router_queued (pair.router), 3);
    xinf_router_destroy (&pair.router);     //  the old code: dropped, unsaid
    for (uint64_t number = 0; number < 3; number++)
        s_expect (pair.dealer, "REPLY", number);
    xinf_dealer_destroy (&pair.dealer);
}

//  PINGs and an unknown type from a version-2 peer, many in one batch:
//  every answer in version 2.
static void
test_actor_version2 (void)
{
    char bound [256];
    xinf_actor_t *actor = s_actor_bound ("v2", NULL, bound);
    zsock_t *dealer = zsock_new_dealer (bound);
    zsock_set_rcvtimeo (dealer, 5000);
    for (int index = 0; index < 40; index++) {
        xinf_msg_t *msg = xinf_msg_new (index % 3 ? "PING" : "NOSUCH");
        xinf_msg_set_corr (msg, (uint64_t) index + 1);
        xinf_msg_set_version (msg, 2);
        zmsg_t *frames = xinf_msg_encode (&msg);
        CHECK_INT (zmsg_send (&frames, dealer), 0);
    }
    for (int index = 0; index < 40; index++) {
        zmsg_t *reply = zmsg_recv (dealer);
        CHECK (reply);
        zframe_t *head = zmsg_first (reply);
        CHECK (zframe_size (head) > XINF_SIGNATURE_SIZE);
        CHECK_INT (zframe_data (head) [4], 2);
        zmsg_destroy (&reply);
    }
    zsock_destroy (&dealer);
    CHECK (xinf_actor_destroy (&actor));
}

//  SLOW takes 'hold_ms' (field) or until the test releases it (10 s at most); FAST
//  answers at once.
static atomic_bool s_released;

static void
s_on_slow (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    int64_t hold = (int64_t) xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "hold_ms"));
    int64_t deadline = zclock_mono () + (hold ? hold : 10000);
    while (zclock_mono () < deadline && (hold || !atomic_load (&s_released)))
        zclock_sleep (1);
    xinf_msg_t *reply = s_numbered ("SLOW_DONE", 0);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static void
s_on_fast (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = s_numbered ("FAST_DONE", xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "n")));
    xinf_ctx_reply (ctx, from, msg, &reply);
}

//  A handler that was slow last time (a file written, a wait) does not
//  hold the replies made before it in its batch: FAST's answer arrives
//  while SLOW still runs, and SLOW runs until the test has it.
static void
test_actor_slow_handler (void)
{
    static const xinf_handler_t handlers [] = { { "SLOW", s_on_slow }, { "FAST", s_on_fast }, { NULL, NULL } };
    char bound [256];
    xinf_actor_t *actor = s_actor_bound ("slowpoke", handlers, bound);
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "client");
    //  SLOW takes 5 ms once: the actor learns that it is slow
    xinf_msg_t *msg = s_numbered ("SLOW", 0);
    xinf_map_put_uint (xinf_msg_body (msg), "hold_ms", 5);
    CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    s_expect (dealer, "SLOW_DONE", 0);
    //  FAST then SLOW, back to back: one batch when the actor wakes
    atomic_store (&s_released, false);
    msg = s_numbered ("FAST", 1);
    CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    msg = s_numbered ("SLOW", 0);
    CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    s_expect (dealer, "FAST_DONE", 1);      //  the old code: held until SLOW gave up (10 s)
    atomic_store (&s_released, true);
    s_expect (dealer, "SLOW_DONE", 0);
    xinf_dealer_destroy (&dealer);
    CHECK (xinf_actor_destroy (&actor));
}

int
main (void)
{
    fprintf (stderr, "test_router\n");
    RUN (test_cork_holds);
    RUN (test_cork_order);
    RUN (test_cork_refused);
    RUN (test_cork_destroy);
    RUN (test_actor_batch);
    RUN (test_actor_version2);
    RUN (test_actor_slow_handler);
    return 0;
}
