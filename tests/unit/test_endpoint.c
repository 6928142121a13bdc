/*  test_endpoint: xinf_endpoint, the ROUTER and DEALER that speak XINF.

    A ROUTER bound to tcp://127.0.0.1:0 gets a real port; a DEALER talks to
    it both in one thread (send/recv) and through xinf_dealer_request with a
    server thread (stale replies dropped, corr matched, a silent server
    gives "no reply" within the deadline). The peer's observed address is
    127.0.0.1. Sends to unknown or disconnected peers (by record or by
    peer id, hex or not) fail with EHOSTUNREACH and are counted; a dealer
    does not send a header over the envelope's limit (EMSGSIZE, test_oversize);
    garbage from a raw DEALER gives a NULL message with
    the peer set. ipc:// and inproc:// work the same. A peer is sent what
    goes to it in the envelope version of its last message, garbage or not
    (test_garbage, test_versions); a dealer always sends version 3.
*/
#include "test_unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static xinf_router_t *
s_router_tcp (int *port, char *bound, size_t bound_size)
{
    xinf_router_t *router = xinf_router_new ("server");
    CHECK (router);
    *port = xinf_router_bind (router, "tcp://127.0.0.1:0", bound, bound_size);
    CHECK (*port > 0);
    zsock_set_rcvtimeo (xinf_router_sock (router), 5000);  //  a failing test never hangs
    return router;
}

//  Receives one message on the router (in this thread); fails on timeout.
static xinf_msg_t *
s_router_recv (xinf_router_t *router, xinf_peer_t **peer)
{
    char error [256] = "";
    uint64_t hint;
    xinf_msg_t *msg = xinf_router_recv (router, peer, error, sizeof error, &hint);
    if (!msg)
        fprintf (stderr, "router_recv: %s\n", error);
    CHECK (msg);
    CHECK (*peer);
    return msg;
}

static bool
s_is_hex (const char *text)
{
    if (!*text)
        return false;
    for (; *text; text++)
        if (!strchr ("0123456789abcdef", *text))
            return false;
    return true;
}

static void
test_bind (void)
{
    char bound [256] = "";
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    char expected [64];
    snprintf (expected, sizeof expected, "tcp://127.0.0.1:%d", port);
    CHECK_STR (bound, expected);
    CHECK (xinf_router_sock (router) != NULL);
    //  The star form and a second free port
    int other = xinf_router_bind (router, "tcp://127.0.0.1:*", NULL, 0);
    CHECK (other > 0 && other != port);
    //  The same port twice is refused
    xinf_router_t *second = xinf_router_new ("second");
    CHECK_INT (xinf_router_bind (second, expected, NULL, 0), -1);
    CHECK_INT (xinf_router_bind (second, "nonsense", NULL, 0), -1);
    CHECK_INT (xinf_router_bind (second, "bogus://where", NULL, 0), -1);
    char longer [400];
    memset (longer, 'x', sizeof longer - 1);
    longer [sizeof longer - 1] = 0;
    memcpy (longer, "tcp://", 6);
    errno = 0;
    CHECK_INT (xinf_router_bind (second, longer, NULL, 0), -1);
    CHECK_INT (errno, EINVAL);
    xinf_router_destroy (&second);
    xinf_router_destroy (&router);
    CHECK (router == NULL);

    CHECK (xinf_dealer_new ("bogus://where", "client") == NULL);
    CHECK (xinf_dealer_new ("nonsense", "client") == NULL);
}

static void
test_same_thread (void)
{
    char bound [256];
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "client-7");
    CHECK (dealer);
    CHECK_STR (xinf_dealer_endpoint (dealer), bound);
    CHECK (xinf_dealer_sock (dealer) != NULL);

    xinf_msg_t *msg = xinf_msg_new ("HELLO");
    xinf_map_put_str (xinf_msg_body (msg), "greeting", "hi");
    xinf_msg_add_bytes (msg, "\x00\x01\x02", 3);
    xinf_msg_set_corr (msg, 5);
    int64_t before = zclock_mono ();
    CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    CHECK (msg == NULL);

    xinf_peer_t *peer;
    msg = s_router_recv (router, &peer);
    CHECK_STR (xinf_msg_type (msg), "HELLO");
    CHECK_STR (xinf_msg_sender (msg), "client-7");   //  the dealer's name
    CHECK_INT (xinf_msg_corr (msg), 5);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (msg), "greeting")), "hi");
    CHECK_INT (xinf_msg_frame_count (msg), 1);
    CHECK (memcmp (zframe_data (xinf_msg_frame (msg, 0)), "\x00\x01\x02", 3) == 0);
    CHECK_STR (xinf_peer_address (peer), "127.0.0.1");
    CHECK (s_is_hex (xinf_peer_id (peer)));
    CHECK (xinf_router_peer (router, xinf_peer_id (peer)) == peer);
    CHECK (xinf_router_peer (router, "00") == NULL);
    CHECK (xinf_peer_last_seen (peer) >= before && xinf_peer_last_seen (peer) <= zclock_mono ());
    xinf_msg_destroy (&msg);

    xinf_msg_t *reply = xinf_msg_new ("WELCOME");
    xinf_msg_set_corr (reply, 5);
    CHECK_INT (xinf_router_send (router, peer, &reply), 0);
    CHECK (reply == NULL);
    char error [256] = "";
    reply = xinf_dealer_recv (dealer, 5000, error, sizeof error);
    CHECK (reply);
    CHECK_STR (xinf_msg_type (reply), "WELCOME");
    CHECK_STR (xinf_msg_sender (reply), "server");   //  the router's name
    CHECK_INT (xinf_msg_corr (reply), 5);
    xinf_msg_destroy (&reply);

    //  A sender set by the caller is kept
    reply = xinf_msg_new ("WELCOME");
    xinf_msg_set_sender (reply, "someone-else");
    CHECK_INT (xinf_router_send (router, peer, &reply), 0);
    reply = xinf_dealer_recv (dealer, 5000, error, sizeof error);
    CHECK (reply);
    CHECK_STR (xinf_msg_sender (reply), "someone-else");
    xinf_msg_destroy (&reply);

    xinf_endpoint_stats_t stats;
    xinf_router_stats (router, &stats);
    CHECK_INT (stats.received, 1);
    CHECK_INT (stats.sent, 2);
    CHECK_INT (stats.bad, 0);
    CHECK_INT (stats.unreachable, 0);
    xinf_dealer_stats (dealer, &stats);
    CHECK_INT (stats.sent, 1);
    CHECK_INT (stats.received, 2);
    xinf_dealer_destroy (&dealer);
    CHECK (dealer == NULL);
    xinf_router_destroy (&router);
}

// ---- a server thread for request/reply -------------------------------------

typedef struct {
    xinf_router_t *router;
    atomic_bool stop;
    atomic_int served;
} s_server_t;

//  ECHO: a stale reply (wrong corr), then ECHOED with the body and frames.
//  SILENT: no answer. Anything else: ERROR.
static void
s_serve_one (s_server_t *server)
{
    xinf_peer_t *peer;
    char error [256];
    uint64_t hint;
    xinf_msg_t *msg = xinf_router_recv (server->router, &peer, error, sizeof error, &hint);
    if (!msg) {
        if (peer) {
            xinf_msg_t *reply = xinf_msg_new_error (hint, "BAD_ENVELOPE", "%s", error);
            xinf_router_send (server->router, peer, &reply);
        }
        return;
    }
    atomic_fetch_add (&server->served, 1);
    if (xinf_msg_is (msg, "ECHO")) {
        xinf_msg_t *stale = xinf_msg_new ("STALE");
        xinf_msg_set_corr (stale, xinf_msg_corr (msg) + 1000);
        xinf_router_send (server->router, peer, &stale);
        xinf_msg_t *reply = xinf_msg_new ("ECHOED");
        xinf_msg_set_corr (reply, xinf_msg_corr (msg));
        xinf_map_put (xinf_msg_body (reply), "body", xinf_value_dup (xinf_msg_body (msg)));
        xinf_map_put_uint (xinf_msg_body (reply), "deadline", xinf_msg_deadline (msg));
        for (size_t index = 0; index < xinf_msg_frame_count (msg); index++) {
            zframe_t *copy = zframe_dup (xinf_msg_frame (msg, index));
            xinf_msg_add_frame (reply, &copy);
        }
        xinf_router_send (server->router, peer, &reply);
    }
    else
    if (!xinf_msg_is (msg, "SILENT")) {
        xinf_msg_t *reply = xinf_msg_new_error (xinf_msg_corr (msg), "UNKNOWN_TYPE", "%s", xinf_msg_type (msg));
        xinf_router_send (server->router, peer, &reply);
    }
    xinf_msg_destroy (&msg);
}

static void *
s_server_main (void *arg)
{
    s_server_t *server = (s_server_t *) arg;
    zpoller_t *poller = zpoller_new (xinf_router_sock (server->router), NULL);
    while (!atomic_load (&server->stop))
        if (zpoller_wait (poller, 10))
            s_serve_one (server);
    zpoller_destroy (&poller);
    return NULL;
}

static void
s_server_start (s_server_t *server, pthread_t *thread, xinf_router_t *router)
{
    server->router = router;
    atomic_store (&server->stop, false);
    atomic_store (&server->served, 0);
    CHECK (pthread_create (thread, NULL, s_server_main, server) == 0);
}

static void
s_server_stop (s_server_t *server, pthread_t thread)
{
    atomic_store (&server->stop, true);
    pthread_join (thread, NULL);
}

static void
s_echo_requests (xinf_dealer_t *dealer, int count)
{
    for (int index = 0; index < count; index++) {
        xinf_msg_t *request = xinf_msg_new ("ECHO");
        xinf_map_put_int (xinf_msg_body (request), "index", index);
        xinf_msg_add_bytes (request, &index, sizeof index);
        xinf_msg_add_bytes (request, "tail", 4);
        char error [256] = "";
        xinf_msg_t *reply = xinf_dealer_request (dealer, &request, 5000, error, sizeof error);
        CHECK (request == NULL);
        if (!reply)
            fprintf (stderr, "request: %s\n", error);
        CHECK (reply);
        CHECK_STR (xinf_msg_type (reply), "ECHOED");
        const xinf_value_t *body = xinf_map_get (xinf_msg_body (reply), "body");
        CHECK_INT (xinf_value_int (xinf_map_get (body, "index")), index);
        CHECK_INT (xinf_value_uint (xinf_map_get (xinf_msg_body (reply), "deadline")), 5000);
        CHECK_INT (xinf_msg_frame_count (reply), 2);
        CHECK (memcmp (zframe_data (xinf_msg_frame (reply, 0)), &index, sizeof index) == 0);
        CHECK (zframe_streq (xinf_msg_frame (reply, 1), "tail"));
        xinf_msg_destroy (&reply);
    }
}

static void
test_request_reply (void)
{
    char bound [256];
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    s_server_t server;
    pthread_t thread;
    s_server_start (&server, &thread, router);
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "client");
    size_t waits_before = xinf_waits_count (xinf_waits_global ());

    s_echo_requests (dealer, 20);
    CHECK_INT (atomic_load (&server.served), 20);
    xinf_endpoint_stats_t stats;
    xinf_dealer_stats (dealer, &stats);
    CHECK_INT (stats.sent, 20);
    CHECK_INT (stats.received, 40);             //  20 stale replies dropped
    //  Each request's wait was registered and ended
    CHECK_INT (xinf_waits_count (xinf_waits_global ()), waits_before);

    //  A silent server: "no reply" after the deadline, not long after
    xinf_msg_t *request = xinf_msg_new ("SILENT");
    char error [256] = "";
    int64_t start = zclock_mono ();
    xinf_msg_t *reply = xinf_dealer_request (dealer, &request, 200, error, sizeof error);
    int64_t elapsed = zclock_mono () - start;
    CHECK (reply == NULL);
    CHECK_HAS (error, "no reply from ");
    CHECK_HAS (error, bound);
    CHECK (elapsed >= 190 && elapsed < 2000);
    CHECK_INT (xinf_waits_count (xinf_waits_global ()), waits_before);

    //  The dealer still works afterwards
    s_echo_requests (dealer, 1);
    //  An unknown type gets the server's ERROR, matched by corr
    request = xinf_msg_new ("WHAT");
    reply = xinf_dealer_request (dealer, &request, 5000, error, sizeof error);
    CHECK (reply);
    CHECK_STR (xinf_msg_type (reply), "ERROR");
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "code")), "UNKNOWN_TYPE");
    xinf_msg_destroy (&reply);

    s_server_stop (&server, thread);
    xinf_dealer_destroy (&dealer);
    xinf_router_destroy (&router);
}

static void
test_recv_timeout (void)
{
    char bound [256];
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "client");
    char error [256] = "";
    int64_t start = zclock_mono ();
    xinf_msg_t *msg = xinf_dealer_recv (dealer, 150, error, sizeof error);
    int64_t elapsed = zclock_mono () - start;
    CHECK (msg == NULL);
    char expected [300];
    snprintf (expected, sizeof expected, "no reply from %s within 150 ms", bound);
    CHECK_STR (error, expected);
    CHECK (elapsed >= 140 && elapsed < 2000);
    //  A zero timeout returns at once
    start = zclock_mono ();
    CHECK (xinf_dealer_recv (dealer, 0, error, sizeof error) == NULL);
    CHECK (zclock_mono () - start < 500);
    CHECK_HAS (error, "within 0 ms");
    xinf_dealer_destroy (&dealer);
    xinf_router_destroy (&router);
}

static void
test_unreachable (void)
{
    char bound [256];
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    //  No peer record at all
    xinf_msg_t *msg = xinf_msg_new ("NOBODY");
    errno = 0;
    CHECK_INT (xinf_router_send (router, NULL, &msg), -1);
    CHECK_INT (errno, EHOSTUNREACH);
    CHECK (msg == NULL);
    xinf_endpoint_stats_t stats;
    xinf_router_stats (router, &stats);
    CHECK_INT (stats.unreachable, 1);

    //  A peer that went away: ROUTER_MANDATORY reports it once its pipe is gone
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "short-lived");
    msg = xinf_msg_new ("HELLO");
    CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    xinf_peer_t *peer;
    msg = s_router_recv (router, &peer);
    xinf_msg_destroy (&msg);
    //  By peer id: a known one arrives; an unknown hex id and one that is
    //  not hex are unreachable
    msg = xinf_msg_new ("BY_ID");
    CHECK_INT (xinf_router_send_to_id (router, xinf_peer_id (peer), &msg), 0);
    char error [256] = "";
    msg = xinf_dealer_recv (dealer, 5000, error, sizeof error);
    CHECK (msg && xinf_msg_is (msg, "BY_ID"));
    xinf_msg_destroy (&msg);
    const char *unknown [] = { "00ff00ff00", "zz", "abc", "" };
    for (size_t index = 0; index < 4; index++) {
        msg = xinf_msg_new ("NOBODY");
        errno = 0;
        CHECK_INT (xinf_router_send_to_id (router, unknown [index], &msg), -1);
        CHECK_INT (errno, EHOSTUNREACH);
        CHECK (msg == NULL);
    }
    xinf_dealer_destroy (&dealer);
    int rc = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (rc == 0 && zclock_mono () < deadline) {
        msg = xinf_msg_new ("LATE");
        errno = 0;
        rc = xinf_router_send (router, peer, &msg);
        CHECK (msg == NULL);
        if (rc == 0)
            zclock_sleep (2);
    }
    CHECK_INT (rc, -1);
    CHECK_INT (errno, EHOSTUNREACH);
    xinf_router_stats (router, &stats);
    CHECK_INT (stats.unreachable, 6);
    xinf_router_destroy (&router);
}

//  A peer that never reads: once its queue is full, sends fail at once
//  with EAGAIN and are counted; the router never blocks.
//  A dealer does not send a message whose header the receiver would
//  refuse (over XINF_HEADER_MAX): -1 with EMSGSIZE at once, counted; one
//  just under the limit goes, and the router sees only that one.
static void
test_oversize (void)
{
    char bound [256];
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "client");
    CHECK (dealer);
    char *blob = calloc (1, XINF_HEADER_MAX);
    assert (blob);
    xinf_msg_t *msg = xinf_msg_new ("LARGE");
    xinf_msg_set_corr (msg, 1);
    xinf_map_put (xinf_msg_body (msg), "blob", xinf_value_new_bin (blob, XINF_HEADER_MAX));
    errno = 0;
    CHECK_INT (xinf_dealer_send (dealer, &msg), -1);
    CHECK_INT (errno, EMSGSIZE);
    CHECK (msg == NULL);
    xinf_endpoint_stats_t stats;
    xinf_dealer_stats (dealer, &stats);
    CHECK_INT (stats.unreachable, 1);
    CHECK_INT (stats.sent, 0);
    msg = xinf_msg_new ("LARGE");
    xinf_msg_set_corr (msg, 2);
    xinf_map_put (xinf_msg_body (msg), "blob", xinf_value_new_bin (blob, XINF_HEADER_MAX - 200));
    CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    free (blob);
    xinf_peer_t *peer;
    msg = s_router_recv (router, &peer);
    CHECK_INT (xinf_msg_corr (msg), 2);
    xinf_msg_destroy (&msg);
    xinf_dealer_destroy (&dealer);
    xinf_router_destroy (&router);
}

static void
test_slow_peer (void)
{
    xinf_router_t *router = xinf_router_new ("server");
    CHECK_INT (xinf_router_bind (router, "inproc://xinf-unit-slow", NULL, 0), 0);
    zsock_set_rcvtimeo (xinf_router_sock (router), 5000);
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (raw, 10);
    CHECK (zsock_connect (raw, "inproc://xinf-unit-slow") == 0);
    xinf_msg_t *msg = xinf_msg_new ("HELLO");
    zmsg_t *zmsg = xinf_msg_encode (&msg);
    zmsg_send (&zmsg, raw);
    xinf_peer_t *peer;
    msg = s_router_recv (router, &peer);
    xinf_msg_destroy (&msg);

    int64_t start = zclock_mono ();
    int rc = 0, sent = 0;
    while (rc == 0 && sent < 200000) {
        msg = xinf_msg_new ("FLOOD");
        errno = 0;
        rc = xinf_router_send (router, peer, &msg);
        if (rc == 0)
            sent++;
    }
    CHECK_INT (rc, -1);
    CHECK_INT (errno, EAGAIN);
    CHECK (sent >= XINF_HWM_DEFAULT / 2);
    CHECK (zclock_mono () - start < 10000);
    xinf_endpoint_stats_t stats;
    xinf_router_stats (router, &stats);
    CHECK_INT (stats.sent, sent);
    CHECK_INT (stats.unreachable, 1);
    //  Once the peer read past libzmq's low-water mark (half the queue),
    //  sends go through again
    zsock_set_rcvtimeo (raw, 5000);
    for (int index = 0; index < sent * 6 / 10; index++) {
        zmsg = zmsg_recv (raw);
        CHECK (zmsg);
        zmsg_destroy (&zmsg);
    }
    rc = -1;
    int64_t deadline = zclock_mono () + 5000;
    while (rc != 0 && zclock_mono () < deadline) {
        msg = xinf_msg_new ("AGAIN");
        rc = xinf_router_send (router, peer, &msg);
        if (rc)
            zclock_sleep (1);
    }
    CHECK_INT (rc, 0);
    zsock_destroy (&raw);
    xinf_router_destroy (&router);
}

static void
test_garbage (void)
{
    char bound [256];
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    zsock_t *raw = zsock_new_dealer (bound);
    CHECK (raw);
    zsock_set_rcvtimeo (raw, 5000);
    zstr_send (raw, "junk");

    xinf_peer_t *peer = NULL;
    char error [256] = "";
    uint64_t hint = 7;
    CHECK (xinf_router_recv (router, &peer, error, sizeof error, &hint) == NULL);
    CHECK (peer != NULL);
    CHECK_STR (error, "frame 0 does not start with the XINF signature (4 bytes)");
    CHECK_INT (hint, 0);
    CHECK_STR (xinf_peer_address (peer), "127.0.0.1");
    char id [600];
    snprintf (id, sizeof id, "%s", xinf_peer_id (peer));

    //  A readable corr with a bad type: the hint carries it
    xinf_value_t *header = xinf_value_new_map ();
    xinf_map_put_str (header, "type", "lower");
    xinf_map_put_uint (header, "corr", 99);
    zmsg_t *zmsg = test_envelope (header);
    zmsg_send (&zmsg, raw);
    xinf_value_destroy (&header);
    CHECK (xinf_router_recv (router, &peer, error, sizeof error, &hint) == NULL);
    CHECK (peer != NULL);
    CHECK_STR (xinf_peer_id (peer), id);         //  the same peer record
    CHECK_INT (hint, 99);
    CHECK_HAS (error, "field 'type' must be");

    //  The garbage sender can be answered, in the version it spoke (a map: 2)
    CHECK_INT (xinf_peer_version (peer), 2);
    xinf_msg_t *reply = xinf_msg_new_error (hint, "BAD_ENVELOPE", "%s", error);
    CHECK_INT (xinf_router_send (router, peer, &reply), 0);
    zmsg = zmsg_recv (raw);
    CHECK (zmsg);
    CHECK (memcmp (zframe_data (zmsg_first (zmsg)), "XINF\x02\x85", 6) == 0);
    reply = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (reply);
    CHECK_STR (xinf_msg_type (reply), "ERROR");
    CHECK_INT (xinf_msg_corr (reply), 99);
    xinf_msg_destroy (&reply);

    //  Version 3 garbage (an array with a bad type): the same, in version 3
    header = xinf_value_new_array ();
    xinf_array_push (header, xinf_value_new_str ("lower"));
    xinf_array_push (header, xinf_value_new_uint (98));
    xinf_array_push (header, xinf_value_new_str (""));
    xinf_array_push (header, xinf_value_new_uint (0));
    xinf_array_push (header, xinf_value_new_map ());
    zmsg = test_envelope_version (header, 3);
    zmsg_send (&zmsg, raw);
    xinf_value_destroy (&header);
    CHECK (xinf_router_recv (router, &peer, error, sizeof error, &hint) == NULL);
    CHECK_INT (hint, 98);
    CHECK_HAS (error, "field 'type' must be");
    CHECK_INT (xinf_peer_version (peer), 3);
    reply = xinf_msg_new_error (hint, "BAD_ENVELOPE", "%s", error);
    CHECK_INT (xinf_router_send (router, peer, &reply), 0);
    zmsg = zmsg_recv (raw);
    CHECK (zmsg);
    CHECK (memcmp (zframe_data (zmsg_first (zmsg)), "XINF\x03\x95", 6) == 0);
    zmsg_destroy (&zmsg);

    //  A version this node does not speak leaves the peer's version as it was
    zstr_send (raw, "XINF\x09");
    CHECK (xinf_router_recv (router, &peer, error, sizeof error, &hint) == NULL);
    CHECK_STR (error, "unsupported envelope version 9 (this node speaks 2 and 3)");
    CHECK_INT (xinf_peer_version (peer), 3);

    xinf_endpoint_stats_t stats;
    xinf_router_stats (router, &stats);
    CHECK_INT (stats.bad, 4);
    CHECK_INT (stats.received, 0);
    zsock_destroy (&raw);
    xinf_router_destroy (&router);
}

//  A peer that switches versions is answered in each; a message forwarded
//  through a dealer goes in version 3 whatever it came in; a peer that
//  never sent (by id) gets version 3.
static void
test_versions (void)
{
    char bound [256];
    int port;
    xinf_router_t *router = s_router_tcp (&port, bound, sizeof bound);
    zsock_t *raw = zsock_new_dealer (bound);
    zsock_set_rcvtimeo (raw, 5000);
    for (int round = 0; round < 4; round++) {
        int version = round % 2 ? 2 : 3;
        xinf_msg_t *msg = xinf_msg_new ("PING");
        xinf_msg_set_corr (msg, (uint64_t) round);
        xinf_msg_set_version (msg, version);
        zmsg_t *zmsg = xinf_msg_encode (&msg);
        zmsg_send (&zmsg, raw);
        xinf_peer_t *peer;
        msg = s_router_recv (router, &peer);
        CHECK_INT (xinf_msg_version (msg), version);
        CHECK_INT (xinf_peer_version (peer), version);
        //  The request itself sent back: in the peer's version, as it came
        xinf_msg_set_version (msg, 5 - version);
        CHECK_INT (xinf_router_send (router, peer, &msg), 0);
        zmsg = zmsg_recv (raw);
        CHECK (zmsg);
        CHECK_INT (zframe_data (zmsg_first (zmsg)) [4], version);
        char error [256];
        msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
        CHECK (msg);
        CHECK_INT (xinf_msg_corr (msg), round);
        xinf_msg_destroy (&msg);
    }
    //  A version-2 message forwarded through a dealer: version 3
    xinf_dealer_t *dealer = xinf_dealer_new (bound, "client");
    xinf_msg_t *msg = xinf_msg_new ("PING");
    xinf_msg_set_version (msg, 2);
    CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
    xinf_peer_t *peer;
    msg = s_router_recv (router, &peer);
    CHECK_INT (xinf_msg_version (msg), 3);
    xinf_msg_destroy (&msg);
    xinf_dealer_destroy (&dealer);

    //  A peer that never sent, addressed by its id once connected: version 3
    zsock_t *named = zsock_new (ZMQ_DEALER);
    zsock_set_identity (named, "named");
    zsock_set_rcvtimeo (named, 5000);
    CHECK_INT (zsock_connect (named, "%s", bound), 0);
    int rc = -1;
    for (int64_t deadline = zclock_mono () + 5000; rc != 0 && zclock_mono () < deadline; ) {
        msg = xinf_msg_new ("HELLO");
        xinf_msg_set_version (msg, 2);
        rc = xinf_router_send_to_id (router, "6e616d6564", &msg);     //  "named"
        if (rc)
            zclock_sleep (5);          //  not connected yet: poll again
    }
    CHECK_INT (rc, 0);
    zmsg_t *zmsg = zmsg_recv (named);
    CHECK (zmsg);
    CHECK (memcmp (zframe_data (zmsg_first (zmsg)), "XINF\x03", 5) == 0);
    zmsg_destroy (&zmsg);
    zsock_destroy (&named);
    zsock_destroy (&raw);
    xinf_router_destroy (&router);
}

//  One round trip over 'endpoint' with the router receiving in this thread.
static void
s_round_trip (const char *endpoint)
{
    xinf_router_t *router = xinf_router_new ("server");
    char bound [256] = "";
    CHECK_INT (xinf_router_bind (router, endpoint, bound, sizeof bound), 0);
    CHECK_STR (bound, endpoint);
    zsock_set_rcvtimeo (xinf_router_sock (router), 5000);
    xinf_dealer_t *dealer = xinf_dealer_new (endpoint, "client");
    CHECK (dealer);
    for (int round = 0; round < 3; round++) {
        xinf_msg_t *msg = xinf_msg_new ("HELLO");
        xinf_msg_add_bytes (msg, "payload", 7);
        CHECK_INT (xinf_dealer_send (dealer, &msg), 0);
        xinf_peer_t *peer;
        msg = s_router_recv (router, &peer);
        CHECK_STR (xinf_msg_type (msg), "HELLO");
        CHECK (zframe_streq (xinf_msg_frame (msg, 0), "payload"));
        xinf_msg_destroy (&msg);
        msg = xinf_msg_new ("WELCOME");
        CHECK_INT (xinf_router_send (router, peer, &msg), 0);
        char error [256];
        msg = xinf_dealer_recv (dealer, 5000, error, sizeof error);
        CHECK (msg);
        CHECK_STR (xinf_msg_type (msg), "WELCOME");
        xinf_msg_destroy (&msg);
    }
    xinf_dealer_destroy (&dealer);
    xinf_router_destroy (&router);
}

static void
test_transports (void)
{
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "ipc:///tmp/xinf-unit-endpoint-%d.ipc", (int) getpid ());
    s_round_trip (endpoint);
    unlink (endpoint + 6);
    s_round_trip ("inproc://xinf-unit-endpoint");
}

//  One tcp://HOST:PORT, checked strictly: lists, bad ports and hosts refused
static void
test_check_tcp (void)
{
    char reason [512];
    const char *good [] = { "tcp://127.0.0.1:9997", "tcp://node-1.example.com:1", "tcp://[::1]:65535", "tcp://h_x:80" };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++)
        CHECK_INT (xinf_endpoint_check_tcp (good [index], reason, sizeof reason), 0);
    const char *bad [] = { "tcp://a:1,tcp://b:2", "tcp://127.0.0.1", "tcp://:9997", "tcp://h:0", "tcp://h:65536",
                           "tcp://h:99999999999", "tcp://h:12a", "tcp://h:", "ipc:///tmp/x", "tcp://a b:1",
                           "tcp://[::1:80", "tcp://::1:80", "tcp://h/x:1", "" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        CHECK_INT (xinf_endpoint_check_tcp (bad [index], reason, sizeof reason), -1);
        CHECK (strlen (reason) > 0);
    }
    xinf_endpoint_check_tcp ("tcp://a:1,tcp://b:2", reason, sizeof reason);
    CHECK_HAS (reason, "several endpoints");
}

int
main (void)
{
    fprintf (stderr, "test_endpoint\n");
    RUN (test_bind);
    RUN (test_same_thread);
    RUN (test_request_reply);
    RUN (test_recv_timeout);
    RUN (test_unreachable);
    RUN (test_oversize);
    RUN (test_slow_peer);
    RUN (test_garbage);
    RUN (test_versions);
    RUN (test_transports);
    RUN (test_check_tcp);
    return 0;
}
