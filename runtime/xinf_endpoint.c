/*  xinf_endpoint: the DEALER socket that speaks XINF envelopes, and what
    it shares with the ROUTER (xinf_router.c).  */
#include "xinf_endpoint.h"
#include <arpa/inet.h>
#include <ctype.h>
#include "xinf_log.h"
#include "xinf_waits.h"
#include "xinf_auth.h"
#include "xinf_tsan.h"

struct _xinf_dealer_t {
    zsock_t *sock;
    void *handle;              //  the libzmq socket, resolved once
    char name [XINF_SENDER_MAX + 1];
    char endpoint [256];
    uint64_t next_corr;
    xinf_endpoint_stats_t stats;
    xinf_auth_monitor_t *monitor;  //  handshakes, when made by xinf_dealer_new_secure
    char key_label [300];      //  "FILE public key Z85" for the words on a refusal
    bool refused;              //  the last recv ended on a refused handshake
};

void
xinf_endpoint_configure (zsock_t *sock)
{
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, XINF_HWM_DEFAULT);
    zsock_set_rcvhwm (sock, XINF_HWM_DEFAULT);
    zsock_set_maxmsgsize (sock, (int) (XINF_MAXMSGSIZE_DEFAULT > INT32_MAX ? INT32_MAX : XINF_MAXMSGSIZE_DEFAULT));
    zsock_set_heartbeat_ivl (sock, 1000);
    zsock_set_heartbeat_timeout (sock, 5000);
    zsock_set_heartbeat_ttl (sock, 6000);
}

void
xinf_wire_recv_rest (void *handle, bool more, zmsg_t **rest)
{
    *rest = more ? zmsg_new () : NULL;
    while (more) {
        zframe_t *frame = zframe_recv (handle);
        if (!frame)
            break;
        more = zframe_more (frame);
        xinf_tsan_acquire (zframe_data (frame));     //  an inproc frame: the sender's memory
        zmsg_append (*rest, &frame);
    }
}

int
xinf_wire_send (zsock_t *sock, void *handle, const byte *routing_id, size_t routing_id_size,
                xinf_msg_t **msg_p, bool limited)
{
    assert (!(routing_id && limited));
    if (routing_id && zmq_send (handle, routing_id, routing_id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    xinf_wire_t head;
    zmsg_t *frames = xinf_msg_encode_wire (msg_p, &head);
    int more = frames ? ZMQ_SNDMORE : 0;
    int rc = 0;
    if (limited && head.size > XINF_SIGNATURE_SIZE + XINF_HEADER_MAX) {
        errno = EMSGSIZE;           //  the receiver would refuse it unread
        rc = -1;
    }
    if (rc == 0)
        rc = zmq_send (handle, head.data, head.size, more | ZMQ_DONTWAIT) < 0 ? -1 : 0;
    zframe_t *frame;
    while (rc == 0 && frames && (frame = zmsg_pop (frames))) {
        int flags = zmsg_size (frames) ? ZFRAME_MORE : 0;
        xinf_tsan_release (zframe_data (frame));     //  inproc hands this memory over, not a copy
        rc = zframe_send (&frame, sock, flags | ZFRAME_DONTWAIT);
        if (rc)
            zframe_destroy (&frame);
    }
    zmsg_destroy (&frames);
    xinf_wire_release (&head);
    return rc;
}

// ---- DEALER ------------------------------------------------------------------

xinf_dealer_t *
xinf_dealer_new (const char *endpoint, const char *name)
{
    return xinf_dealer_new_secure (endpoint, name, NULL, NULL, NULL);
}

xinf_dealer_t *
xinf_dealer_new_secure (const char *endpoint, const char *name, zcert_t *cert, const char *server_key,
                        const char *key_file)
{
    xinf_dealer_t *self = calloc (1, sizeof *self);
    assert (self);
    self->sock = zsock_new (ZMQ_DEALER);
    assert (self->sock);
    self->handle = zsock_resolve (self->sock);
    xinf_endpoint_configure (self->sock);
    if (cert && server_key) {
        xinf_auth_curve_client (self->sock, cert, server_key);
        snprintf (self->key_label, sizeof self->key_label, "%s public key %s", key_file ? key_file : "our",
                  zcert_public_txt (cert));
    }
    if (cert || server_key || key_file)
        self->monitor = xinf_auth_monitor_new (self->sock);
    zsock_set_reconnect_ivl (self->sock, 100);
    zsock_set_reconnect_ivl_max (self->sock, 2000);
    snprintf (self->name, sizeof self->name, "%s", name ? name : "");
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    if (zsock_connect (self->sock, "%s", endpoint)) {
        xinf_dealer_destroy (&self);
        return NULL;
    }
    //  Random start so that a restarted client does not reuse recent ids
    self->next_corr = ((uint64_t) randof (0x7fffffff) << 20) + 1;
    return self;
}

void
xinf_dealer_destroy (xinf_dealer_t **self_p)
{
    if (self_p && *self_p) {
        xinf_dealer_t *self = *self_p;
        zsock_destroy (&self->sock);
        xinf_auth_monitor_destroy (&self->monitor);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *xinf_dealer_sock (xinf_dealer_t *self) { return self->sock; }
bool xinf_dealer_refused (xinf_dealer_t *self) { return self->refused; }
const char *xinf_dealer_endpoint (xinf_dealer_t *self) { return self->endpoint; }
void xinf_dealer_stats (xinf_dealer_t *self, xinf_endpoint_stats_t *stats) { *stats = self->stats; }

int
xinf_dealer_send (xinf_dealer_t *self, xinf_msg_t **msg_p)
{
    if (!*xinf_msg_sender (*msg_p))
        xinf_msg_set_sender (*msg_p, self->name);
    xinf_msg_set_version (*msg_p, XINF_VERSION);     //  a forwarded message may have come in another
    char type [XINF_TYPE_MAX + 1];
    strcpy (type, xinf_msg_type (*msg_p));   //  valid type: at most XINF_TYPE_MAX
    if (xinf_wire_send (self->sock, self->handle, NULL, 0, msg_p, true)) {
        int reason = errno;
        self->stats.unreachable++;
        if (reason == EMSGSIZE)
            xinf_warn ("dealer", "send refused type=%s endpoint=%s reason=\"its header is over the %d bytes a "
                       "receiver reads\"", type, self->endpoint, XINF_HEADER_MAX);
        errno = reason;
        return -1;
    }
    self->stats.sent++;
    return 0;
}

//  Receives and decodes a queued message; -1 if none is queued.
static int
s_dealer_try (xinf_dealer_t *self, xinf_msg_t **msg_p, char *error, size_t error_size)
{
    void *handle = self->handle;
    zmq_msg_t head;
    zmq_msg_init (&head);
    int rc = zmq_msg_recv (&head, handle, ZMQ_DONTWAIT) < 0 ? -1 : 0;
    if (rc == 0) {
        zmsg_t *rest;
        xinf_wire_recv_rest (handle, zmq_msg_more (&head), &rest);
        *msg_p = xinf_msg_decode_wire (zmq_msg_data (&head), zmq_msg_size (&head), &rest, error, error_size, NULL);
        if (*msg_p)
            self->stats.received++;
        else
            self->stats.bad++;
    }
    zmq_msg_close (&head);
    return rc;
}

xinf_msg_t *
xinf_dealer_recv (xinf_dealer_t *self, int timeout_ms, char *error, size_t error_size)
{
    xinf_msg_t *msg = NULL;
    self->refused = false;
    if (s_dealer_try (self, &msg, error, error_size) == 0)
        return msg;                 //  it was queued: no wait, no poll
    xinf_waits_t *waits = xinf_waits_global ();
    uint64_t wait = xinf_wait_begin (waits, self->name, "reply", self->endpoint, timeout_ms > 0 ? timeout_ms : 1);
    zmq_pollitem_t items [2] = { { self->handle, 0, ZMQ_POLLIN, 0 },
                                 { self->monitor ? zsock_resolve (xinf_auth_monitor_sock (self->monitor)) : NULL, 0, ZMQ_POLLIN, 0 } };
    int64_t deadline = zclock_mono () + timeout_ms;
    int rc;
    bool refused = false;
    do {
        int64_t left = deadline - zclock_mono ();
        rc = zmq_poll (items, self->monitor ? 2 : 1, left > 0 ? (long) left : 0);
        //  A refused handshake ends the wait: no reply can come
        if (rc > 0 && !(items [0].revents & ZMQ_POLLIN)) {
            char words [600];
            refused = xinf_dealer_refusal (self, words, sizeof words) != 0;
            if (refused)
                snprintf (error, error_size, "the server at %s %s", self->endpoint, words);
            rc = refused ? -1 : 0;
            if (!refused)
                continue;
        }
    } while (((rc < 0 && errno == EINTR && !zsys_interrupted) || rc == 0) && !refused && zclock_mono () < deadline);
    xinf_wait_end (waits, wait);
    self->refused = refused;
    if (refused)
        return NULL;
    if (rc <= 0) {
        snprintf (error, error_size, rc == 0 ? "no reply from %s within %d ms" : "poll failed on %s", self->endpoint, timeout_ms);
        return NULL;
    }
    if (s_dealer_try (self, &msg, error, error_size))
        snprintf (error, error_size, "interrupted");
    return msg;
}

//  A refused handshake takes the connection's pipe with it, so a send
//  finds none: true (the reason in 'error') when the handshake monitor
//  tells of a refusal within 'timeout_ms' (its event may still be on its
//  way; registered waits), replies of earlier requests dropped meanwhile.
static bool
s_dealer_await_refusal (xinf_dealer_t *self, int timeout_ms, char *error, size_t error_size)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!self->refused) {
        int64_t left = deadline - zclock_mono ();
        xinf_msg_t *stray = xinf_dealer_recv (self, left > 0 ? (int) left : 0, error, error_size);
        if (!stray && !self->refused && left <= 0)
            break;
        if (stray)
            xinf_debug ("dealer", "dropped stale reply type=%s corr=%llu", xinf_msg_type (stray),
                        (unsigned long long) xinf_msg_corr (stray));
        xinf_msg_destroy (&stray);
    }
    return self->refused;
}

xinf_msg_t *
xinf_dealer_request (xinf_dealer_t *self, xinf_msg_t **request_p, int timeout_ms,
                     char *error, size_t error_size)
{
    uint64_t corr = self->next_corr++;
    xinf_msg_set_corr (*request_p, corr);
    xinf_msg_set_deadline (*request_p, (uint64_t) timeout_ms);
    self->refused = false;
    if (xinf_dealer_send (self, request_p)) {
        int reason = errno;
        if (reason == EAGAIN && self->monitor && s_dealer_await_refusal (self, timeout_ms < 1000 ? timeout_ms : 1000,
                                                                         error, error_size))
            return NULL;
        snprintf (error, error_size, "cannot send to %s: %s", self->endpoint, zmq_strerror (reason));
        return NULL;
    }
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        xinf_msg_t *reply = xinf_dealer_recv (self, left > 0 ? (int) left : 0, error, error_size);
        if (!reply && left <= 0)
            snprintf (error, error_size, "no reply from %s within %d ms", self->endpoint, timeout_ms);
        if (!reply)
            return NULL;
        if (xinf_msg_corr (reply) == corr)
            return reply;
        xinf_debug ("dealer", "dropped stale reply type=%s corr=%llu", xinf_msg_type (reply),
                    (unsigned long long) xinf_msg_corr (reply));
        xinf_msg_destroy (&reply);
    }
}

int
xinf_dealer_refusal (xinf_dealer_t *self, char *text, size_t text_size)
{
    int value = 0, next_value = 0;
    xinf_handshake_t outcome = XINF_HANDSHAKE_NONE, next;
    //  The last failure queued; a success after it clears it
    while (self->monitor && (next = xinf_auth_monitor_poll (self->monitor, &next_value, NULL, 0)) != XINF_HANDSHAKE_NONE) {
        outcome = next == XINF_HANDSHAKE_OK ? XINF_HANDSHAKE_NONE : next;
        value = next_value;
    }
    return xinf_refusal_words (outcome, value, self->key_label, text, text_size);
}

int
xinf_refusal_words (int outcome, int value, const char *key_label, char *text, size_t text_size)
{
    if (outcome == XINF_HANDSHAKE_REFUSED)
        snprintf (text, text_size, "refused our key (%s): it is not among its --keys (ZAP status %d)",
                  key_label, value);
    else
    if (outcome == XINF_HANDSHAKE_MISMATCH && *key_label)
        snprintf (text, text_size, "does not use CURVE keys, but we do (%s): drop --cert/--server-key or give it keys",
                  key_label);
    else
    if (outcome == XINF_HANDSHAKE_MISMATCH)
        snprintf (text, text_size, "requires CURVE keys and we have none: pass --cert KEYFILE and --server-key SERVER.key "
                  "(or XINF_CERT, XINF_SERVER_KEY)");
    else
    if (outcome == XINF_HANDSHAKE_FAILED && *key_label)   //  without keys: a non-xinf peer, for the diagnosis
        snprintf (text, text_size, "failed the CURVE handshake with us (%s): is --server-key its public certificate?",
                  key_label);
    else
        return 0;
    return -1;
}

static bool
s_host_valid (const char *host, size_t length)
{
    if (length >= 2 && host [0] == '[' && host [length - 1] == ']') {
        char inside [64];
        unsigned char address [16];
        if (length - 2 >= sizeof inside)
            return false;
        memcpy (inside, host + 1, length - 2);
        inside [length - 2] = 0;
        return inet_pton (AF_INET6, inside, address) == 1;
    }
    if (length == 0 || length > 253)
        return false;
    for (size_t index = 0; index < length; index++)
        if (!isalnum ((unsigned char) host [index]) && !strchr (".-_", host [index]))
            return false;
    return true;
}

int
xinf_endpoint_check_tcp (const char *endpoint, char *reason, size_t reason_size)
{
    if (strchr (endpoint, ',')) {
        snprintf (reason, reason_size, "'%s' lists several endpoints: give one supervisor, tcp://HOST:PORT", endpoint);
        return -1;
    }
    const char *colon = strrchr (endpoint, ':');
    if (strncmp (endpoint, "tcp://", 6) != 0 || !colon || colon < endpoint + 6) {
        snprintf (reason, reason_size, "'%s' must be tcp://HOST:PORT", endpoint);
        return -1;
    }
    if (!s_host_valid (endpoint + 6, (size_t) (colon - endpoint - 6))) {
        snprintf (reason, reason_size, "'%s': the host must be a name, an IPv4 address or [IPv6]", endpoint);
        return -1;
    }
    const char *port = colon + 1;
    size_t digits = strspn (port, "0123456789");
    long number = digits > 0 && digits <= 5 && port [digits] == 0 ? strtol (port, NULL, 10) : 0;
    if (number < 1 || number > 65535) {
        snprintf (reason, reason_size, "'%s': the port must be a number from 1 to 65535", endpoint);
        return -1;
    }
    return 0;
}

void
xinf_endpoint_tcp (char *endpoint, size_t size, const char *host, uint64_t port)
{
    snprintf (endpoint, size, strchr (host, ':') ? "tcp://[%s]:%llu" : "tcp://%s:%llu", host, (unsigned long long) port);
}
