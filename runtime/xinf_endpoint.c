/*  xinf_endpoint: ROUTER and DEALER sockets that speak XINF envelopes.  */
#include "xinf_endpoint.h"
#include <arpa/inet.h>
#include <ctype.h>
#include "xinf_log.h"
#include "xinf_waits.h"
#include "xinf_auth.h"
#include "xinf_tsan.h"

#define PEER_ID_MAX  (2 * 255 + 1)

struct _xinf_peer_t {
    byte routing_id [255];     //  libzmq's routing ids are 1-255 bytes
    size_t routing_id_size;
    char id [PEER_ID_MAX];
    char address [64];
    char role [16];            //  ZAP metadata of the last message: "" without keys
    char key_name [XINF_KEY_NAME_MAX + 1];
    char key [XINF_KEY_TEXT_SIZE];
    int64_t last_seen;
    int64_t complaints_since;  //  start of the current window of logged complaints
    unsigned complaints;       //  logged in that window
    uint64_t unlogged;         //  not logged since the last line that was
    double tokens;             //  messages it may still send now (the rate limit's bucket)
    int64_t refilled;          //  when the bucket was last filled up (monotonic ms)
    bool limited;              //  its last message was over the limit
    uint8_t version;           //  the envelope version of its last message; 0: none yet
};

struct _xinf_router_t {
    zsock_t *sock;
    void *handle;              //  the libzmq socket, resolved once
    char name [XINF_SENDER_MAX + 1];
    zhashx_t *peers;           //  hex id -> xinf_peer_t
    xinf_peer_t *last;         //  the peer of the last message (NULL after an eviction)
    bool curve;                //  bound as a CURVE server: its peers come with ZAP metadata
    xinf_endpoint_stats_t stats;
    double peer_rate, peer_burst;   //  messages a second and at once per peer (0: no limit)
};

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

static void
s_peer_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

xinf_router_t *
xinf_router_new (const char *name)
{
    xinf_router_t *self = calloc (1, sizeof *self);
    assert (self);
    self->sock = zsock_new (ZMQ_ROUTER);
    assert (self->sock);
    self->handle = zsock_resolve (self->sock);
    xinf_endpoint_configure (self->sock);
    zsock_set_router_mandatory (self->sock, 1);
    snprintf (self->name, sizeof self->name, "%s", name ? name : "");
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_peer_destroy);
    return self;
}

void
xinf_router_destroy (xinf_router_t **self_p)
{
    if (self_p && *self_p) {
        xinf_router_t *self = *self_p;
        zsock_destroy (&self->sock);
        zhashx_destroy (&self->peers);
        free (self);
        *self_p = NULL;
    }
}

//  True when the socket speaks CURVE as a server (its peers have keys).
static bool
s_curve_server (void *handle)
{
    int mechanism = ZMQ_NULL;
    size_t size = sizeof mechanism;
    return zmq_getsockopt (handle, ZMQ_MECHANISM, &mechanism, &size) == 0 && mechanism == ZMQ_CURVE;
}

int
xinf_router_bind (xinf_router_t *self, const char *endpoint, char *bound, size_t bound_size)
{
    //  "tcp://host:0" lets the kernel pick a random free port (CZMQ's ":*"
    //  would search upwards from 49152, so that concurrent nodes keep
    //  landing on the same few ports)
    if (strlen (endpoint) >= 256) {
        errno = EINVAL;
        return -1;
    }
    int port = zsock_bind (self->sock, "%s", endpoint);
    if (port < 0)
        return -1;
    //  The mechanism an endpoint's connections get is the socket's when it
    //  was bound: read once here, not on every message
    self->curve = self->curve || s_curve_server (self->handle);
    char *last = zsock_last_endpoint (self->sock);
    if (last && strncmp (last, "tcp://", 6) == 0 && strrchr (last, ':'))
        port = atoi (strrchr (last, ':') + 1);
    if (bound)
        snprintf (bound, bound_size, "%s", last ? last : endpoint);
    zstr_free (&last);
    return port;
}

zsock_t *xinf_router_sock (xinf_router_t *self) { return self->sock; }

static void
s_peer_evict_oldest (xinf_router_t *self)
{
    xinf_peer_t *oldest = NULL;
    for (xinf_peer_t *peer = (xinf_peer_t *) zhashx_first (self->peers); peer;
         peer = (xinf_peer_t *) zhashx_next (self->peers))
        if (!oldest || peer->last_seen < oldest->last_seen)
            oldest = peer;
    if (oldest)
        zhashx_delete (self->peers, oldest->id);
    self->last = NULL;
}

//  Copies 'text' (NULL: empty) into 'target', cut to fit: a per-message
//  copy without snprintf's formatting machinery.
static void
s_set_text (char *target, size_t size, const char *text)
{
    size_t length = text ? strnlen (text, size - 1) : 0;
    if (length)
        memcpy (target, text, length);
    target [length] = 0;
}

//  Finds or adds the peer record for a routing id.
static xinf_peer_t *
s_peer_find (xinf_router_t *self, const byte *data, size_t size, bool *fresh)
{
    //  A run of messages from one peer: no hex id, no hash look-up
    xinf_peer_t *last = self->last;
    *fresh = false;
    if (last && last->routing_id_size == size && memcmp (last->routing_id, data, size) == 0)
        return last;
    static const char hex [] = "0123456789abcdef";
    char id [PEER_ID_MAX];
    for (size_t index = 0; index < size && index < 255; index++) {
        id [2 * index] = hex [data [index] >> 4];
        id [2 * index + 1] = hex [data [index] & 15];
    }
    id [2 * (size < 255 ? size : 255)] = 0;
    xinf_peer_t *peer = (xinf_peer_t *) zhashx_lookup (self->peers, id);
    if (!peer) {
        if (zhashx_size (self->peers) >= XINF_PEERS_MAX)
            s_peer_evict_oldest (self);
        peer = calloc (1, sizeof *peer);
        assert (peer);
        snprintf (peer->id, sizeof peer->id, "%s", id);
        peer->routing_id_size = size < sizeof peer->routing_id ? size : sizeof peer->routing_id;
        memcpy (peer->routing_id, data, peer->routing_id_size);
        zhashx_insert (self->peers, id, peer);
        *fresh = true;
    }
    self->last = peer;
    return peer;
}

//  The envelope version a frame 0 names, when this node speaks it; else 0.
static uint8_t
s_version_of (zmq_msg_t *first)
{
    const byte *data = first ? (const byte *) zmq_msg_data (first) : NULL;
    if (!data || zmq_msg_size (first) < XINF_SIGNATURE_SIZE || memcmp (data, XINF_SIGNATURE, 4) != 0
    ||  data [4] < XINF_VERSION_MIN || data [4] > XINF_VERSION)
        return 0;
    return data [4];
}

//  The peer record of a message, its address, keys, envelope version and
//  when it was seen.
static xinf_peer_t *
s_peer_touch (xinf_router_t *self, const byte *data, size_t size, zmq_msg_t *first)
{
    bool fresh;
    xinf_peer_t *peer = s_peer_find (self, data, size, &fresh);
    //  Answered in the version it speaks (a version-2 client keeps working)
    uint8_t version = s_version_of (first);
    if (version)
        peer->version = version;
    //  The address of a connection does not change; read it once
    const char *address = first && (fresh || !*peer->address) ? zmq_msg_gets (first, "Peer-Address") : NULL;
    if (address)
        snprintf (peer->address, sizeof peer->address, "%s", address);
    //  Read on every message: a routing id may come back on another
    //  connection, with another key. Only the ZAP handler sets these, and
    //  only a CURVE server asks it (xinf_auth_curve_server): a plain
    //  router skips three metadata look-ups a message
    bool keyed = first && self->curve;
    const char *role = keyed ? zmq_msg_gets (first, "role") : NULL;
    const char *name = keyed ? zmq_msg_gets (first, "name") : NULL;
    const char *key = keyed ? zmq_msg_gets (first, "key") : NULL;
    s_set_text (peer->role, sizeof peer->role, role);
    s_set_text (peer->key_name, sizeof peer->key_name, name);
    s_set_text (peer->key, sizeof peer->key, key);
    peer->last_seen = zclock_mono ();
    return peer;
}

//  Receives the binary frames that follow frame 0 into *rest (NULL when
//  there are none: a message without bulk data allocates no list).
static void
s_recv_rest (void *handle, bool more, zmsg_t **rest)
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

static xinf_msg_t *
s_router_recv (xinf_router_t *self, int flags, xinf_peer_t **peer_p,
               char *error, size_t error_size, uint64_t *corr_hint)
{
    *peer_p = NULL;
    if (corr_hint)
        *corr_hint = 0;
    void *handle = self->handle;
    zmq_msg_t routing_id;
    zmq_msg_init (&routing_id);
    if (zmq_msg_recv (&routing_id, handle, flags) < 0) {
        zmq_msg_close (&routing_id);
        snprintf (error, error_size, "interrupted");
        return NULL;
    }
    zmq_msg_t head;
    zmq_msg_init (&head);
    bool have = zmq_msg_more (&routing_id) && zmq_msg_recv (&head, handle, 0) >= 0;
    zmsg_t *rest = NULL;
    s_recv_rest (handle, have && zmq_msg_more (&head), &rest);
    *peer_p = s_peer_touch (self, zmq_msg_data (&routing_id), zmq_msg_size (&routing_id), have ? &head : NULL);
    xinf_msg_t *msg = xinf_msg_decode_wire (have ? zmq_msg_data (&head) : NULL, zmq_msg_size (&head),
                                            &rest, error, error_size, corr_hint);
    zmq_msg_close (&routing_id);
    zmq_msg_close (&head);
    if (msg)
        self->stats.received++;
    else
        self->stats.bad++;
    return msg;
}

xinf_msg_t *
xinf_router_recv (xinf_router_t *self, xinf_peer_t **peer_p,
                  char *error, size_t error_size, uint64_t *corr_hint)
{
    return s_router_recv (self, 0, peer_p, error, error_size, corr_hint);
}

xinf_msg_t *
xinf_router_try_recv (xinf_router_t *self, xinf_peer_t **peer_p,
                      char *error, size_t error_size, uint64_t *corr_hint)
{
    return s_router_recv (self, ZMQ_DONTWAIT, peer_p, error, error_size, corr_hint);
}

//  Sends routing id (ROUTER), frame 0 (signature and header) and the
//  binary frames, all with DONTWAIT; only the first can be refused, the
//  rest then go through. A ROUTER's refused routing id (the peer gone, or
//  its queue full) leaves *msg_p unencoded, to its caller; else the
//  message is taken. 'limited' (a DEALER's): a header over XINF_HEADER_MAX
//  is not sent (-1, errno EMSGSIZE).
static int
s_send_wire (zsock_t *sock, void *handle, const xinf_peer_t *to, xinf_msg_t **msg_p, bool limited)
{
    assert (!(to && limited));
    if (to && zmq_send (handle, to->routing_id, to->routing_id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
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

//  xinf_router_send; with 'keep' a message refused for a full queue stays
//  with the caller.
static int
s_router_send (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p, bool keep)
{
    if (!*xinf_msg_sender (*msg_p))
        xinf_msg_set_sender (*msg_p, self->name);
    char type [XINF_TYPE_MAX + 1];
    strcpy (type, xinf_msg_type (*msg_p));   //  valid type: at most XINF_TYPE_MAX
    if (!peer) {
        xinf_msg_destroy (msg_p);
        errno = EHOSTUNREACH;
        self->stats.unreachable++;
        return -1;
    }
    xinf_msg_set_version (*msg_p, peer->version ? peer->version : XINF_VERSION);
    if (s_send_wire (self->sock, self->handle, peer, msg_p, false)) {
        int reason = errno;
        if (keep && reason == EAGAIN && *msg_p)
            return -1;                  //  the caller keeps it, and says so
        xinf_msg_destroy (msg_p);
        self->stats.unreachable++;
        xinf_warn ("router", "send refused type=%s peer=%s address=%s reason=%s",
                   type, peer->id, peer->address,
                   reason == EHOSTUNREACH ? "peer-unreachable" : reason == EAGAIN ? "peer-queue-full" : zmq_strerror (reason));
        errno = reason;
        return -1;
    }
    self->stats.sent++;
    return 0;
}

int
xinf_router_send (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p)
{
    return s_router_send (self, peer, msg_p, false);
}

int
xinf_router_try_send (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p)
{
    return s_router_send (self, peer, msg_p, true);
}

xinf_peer_t *
xinf_router_peer (xinf_router_t *self, const char *peer_id)
{
    return (xinf_peer_t *) zhashx_lookup (self->peers, peer_id);
}

//  The routing id that a peer id (hex) stands for, into 'peer'; -1 if
//  it is not hex.
static int
s_routing_id_of (const char *peer_id, xinf_peer_t *peer)
{
    size_t length = strlen (peer_id);
    if (length == 0 || length % 2 || length > 2 * 255)
        return -1;
    for (size_t index = 0; index < length / 2; index++) {
        unsigned value;
        if (sscanf (peer_id + 2 * index, "%2x", &value) != 1 || !isxdigit ((unsigned char) peer_id [2 * index + 1]))
            return -1;
        peer->routing_id [index] = (byte) value;
    }
    peer->routing_id_size = length / 2;
    return 0;
}

int
xinf_router_send_to_id (xinf_router_t *self, const char *peer_id, xinf_msg_t **msg_p)
{
    xinf_peer_t *peer = xinf_router_peer (self, peer_id);
    if (peer)
        return xinf_router_send (self, peer, msg_p);
    xinf_peer_t unknown;
    memset (&unknown, 0, sizeof unknown);
    bool valid = s_routing_id_of (peer_id, &unknown) == 0;
    snprintf (unknown.id, sizeof unknown.id, "%s", peer_id);
    return xinf_router_send (self, valid ? &unknown : NULL, msg_p);
}

void xinf_router_stats (xinf_router_t *self, xinf_endpoint_stats_t *stats) { *stats = self->stats; }
const char *xinf_peer_id (const xinf_peer_t *self) { return self->id; }
const char *xinf_peer_address (const xinf_peer_t *self) { return self->address; }
const char *xinf_peer_role (const xinf_peer_t *self) { return self->role; }
const char *xinf_peer_key_name (const xinf_peer_t *self) { return self->key_name; }
const char *xinf_peer_key (const xinf_peer_t *self) { return self->key; }
int64_t xinf_peer_last_seen (const xinf_peer_t *self) { return self->last_seen; }
int xinf_peer_version (const xinf_peer_t *self) { return self->version; }

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
    if (s_send_wire (self->sock, self->handle, NULL, msg_p, true)) {
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
        s_recv_rest (handle, zmq_msg_more (&head), &rest);
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

xinf_msg_t *
xinf_dealer_request (xinf_dealer_t *self, xinf_msg_t **request_p, int timeout_ms,
                     char *error, size_t error_size)
{
    uint64_t corr = self->next_corr++;
    xinf_msg_set_corr (*request_p, corr);
    xinf_msg_set_deadline (*request_p, (uint64_t) timeout_ms);
    if (xinf_dealer_send (self, request_p)) {
        snprintf (error, error_size, "cannot send to %s: %s", self->endpoint, zmq_strerror (errno));
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
xinf_router_set_peer_limit (xinf_router_t *self, double per_second, double burst)
{
    self->peer_rate = per_second > 0 ? per_second : 0;
    self->peer_burst = burst > 1 ? burst : 1;
}

int
xinf_router_admit (xinf_router_t *self, xinf_peer_t *peer, int64_t now)
{
    if (self->peer_rate <= 0)
        return 1;
    if (peer->refilled == 0)
        peer->tokens = self->peer_burst;      //  a new peer starts with a full bucket
    else {
        double tokens = peer->tokens + (double) (now - peer->refilled) * self->peer_rate / 1000.0;
        peer->tokens = tokens > self->peer_burst ? self->peer_burst : tokens;
    }
    peer->refilled = now;
    if (peer->tokens >= 1) {
        peer->tokens -= 1;
        peer->limited = false;
        return 1;
    }
    int verdict = peer->limited ? -1 : 0;
    peer->limited = true;
    return verdict;
}

int64_t
xinf_router_retry_after_ms (xinf_router_t *self, xinf_peer_t *peer)
{
    if (self->peer_rate <= 0 || peer->tokens >= 1)
        return 0;
    return (int64_t) ((1 - peer->tokens) * 1000.0 / self->peer_rate) + 1;
}

uint64_t
xinf_peer_may_complain (xinf_peer_t *self, int64_t now)
{
    if (now - self->complaints_since >= XINF_COMPLAIN_WINDOW_MS) {
        self->complaints_since = now;
        self->complaints = 0;
    }
    if (self->complaints >= XINF_COMPLAIN_MAX) {
        self->unlogged++;
        return 0;
    }
    self->complaints++;
    uint64_t count = self->unlogged + 1;
    self->unlogged = 0;
    return count;
}

void
xinf_endpoint_tcp (char *endpoint, size_t size, const char *host, uint64_t port)
{
    snprintf (endpoint, size, strchr (host, ':') ? "tcp://[%s]:%llu" : "tcp://%s:%llu", host, (unsigned long long) port);
}
