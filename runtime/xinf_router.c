/*  xinf_router: the ROUTER socket that speaks XINF envelopes (see
    xinf_router.h).  */
#include "xinf_router.h"
#include <ctype.h>
#include "xinf_log.h"
#include "xinf_auth.h"
#include "xinf_tsan.h"

#define PEER_ID_MAX  (2 * 255 + 1)
#define S_CORK_MAX        256           //  replies queued while corked, at most
#define S_CORK_BYTES      (256 << 10)   //  their bytes, at most
#define S_CORK_REPLY_MAX  (16 << 10)    //  a larger reply is not queued

//  A reply queued while corked: its routing id and frame 0 are in the
//  router's cork bytes, from 'at'.
typedef struct {
    size_t at;
    size_t routing_id_size;
    size_t head_size;
    char type [XINF_TYPE_MAX + 1];     //  for the log line of a refusal
} s_corked_t;

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
    bool corked;               //  replies are queued (xinf_router_cork)
    s_corked_t *queue;         //  the queued replies, S_CORK_MAX (made on the first cork)
    size_t queued;
    byte *cork_bytes;          //  their routing ids and frames 0
    size_t cork_size;
};

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
        xinf_router_flush (self);          //  nothing corked is dropped unsaid
        zsock_destroy (&self->sock);
        zhashx_destroy (&self->peers);
        free (self->queue);
        free (self->cork_bytes);
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

//  The peer id of a routing id: its bytes in hex.
static void
s_hex_id (const byte *data, size_t size, char id [PEER_ID_MAX])
{
    static const char hex [] = "0123456789abcdef";
    for (size_t index = 0; index < size && index < 255; index++) {
        id [2 * index] = hex [data [index] >> 4];
        id [2 * index + 1] = hex [data [index] & 15];
    }
    id [2 * (size < 255 ? size : 255)] = 0;
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
    char id [PEER_ID_MAX];
    s_hex_id (data, size, id);
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
    xinf_wire_recv_rest (handle, have && zmq_msg_more (&head), &rest);
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


//  A send the socket refused: counted and logged.
static void
s_refused (xinf_router_t *self, const char *type, const char *peer_id, const char *address, int reason)
{
    self->stats.unreachable++;
    xinf_warn ("router", "send refused type=%s peer=%s address=%s reason=%s", type, peer_id, address,
               reason == EHOSTUNREACH ? "peer-unreachable" : reason == EAGAIN ? "peer-queue-full" : zmq_strerror (reason));
}

//  Sets what a message takes from the router and its peer: the sender
//  when it has none, the envelope version the peer speaks.
static void
s_address (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t *msg)
{
    if (!*xinf_msg_sender (msg))
        xinf_msg_set_sender (msg, self->name);
    xinf_msg_set_version (msg, peer->version ? peer->version : XINF_VERSION);
}

//  xinf_router_send; with 'keep' a message refused for a full queue stays
//  with the caller.
static int
s_router_send (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p, bool keep)
{
    if (!peer) {
        xinf_msg_destroy (msg_p);
        errno = EHOSTUNREACH;
        self->stats.unreachable++;
        return -1;
    }
    if (self->queued)
        xinf_router_flush (self);          //  what was queued goes first
    char type [XINF_TYPE_MAX + 1];
    strcpy (type, xinf_msg_type (*msg_p));   //  valid type: at most XINF_TYPE_MAX
    s_address (self, peer, *msg_p);
    if (xinf_wire_send (self->sock, self->handle, peer->routing_id, peer->routing_id_size, msg_p, false)) {
        int reason = errno;
        if (keep && reason == EAGAIN && *msg_p)
            return -1;                  //  the caller keeps it, and says so
        xinf_msg_destroy (msg_p);
        s_refused (self, type, peer->id, peer->address, reason);
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

// ---- Corked replies -----------------------------------------------------------

void
xinf_router_cork (xinf_router_t *self)
{
    if (!self->queue) {
        self->queue = malloc (S_CORK_MAX * sizeof *self->queue);
        self->cork_bytes = malloc (S_CORK_BYTES);
        assert (self->queue && self->cork_bytes);
    }
    self->corked = true;
}

//  An encoded envelope to the socket (routing id, frame 0); a refusal is
//  logged with the peer's address when the peer is still known.
static void
s_send_encoded (xinf_router_t *self, const byte *routing_id, size_t routing_id_size, const void *head,
                size_t head_size, const char *type)
{
    if (zmq_send (self->handle, routing_id, routing_id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
    &&  zmq_send (self->handle, head, head_size, ZMQ_DONTWAIT) >= 0) {
        self->stats.sent++;
        return;
    }
    int reason = errno;
    char id [PEER_ID_MAX];
    s_hex_id (routing_id, routing_id_size, id);
    xinf_peer_t *peer = (xinf_peer_t *) zhashx_lookup (self->peers, id);
    s_refused (self, type, id, peer ? peer->address : "", reason);
}

void
xinf_router_flush (xinf_router_t *self)
{
    for (size_t index = 0; index < self->queued; index++) {
        s_corked_t *corked = &self->queue [index];
        const byte *routing_id = self->cork_bytes + corked->at;
        s_send_encoded (self, routing_id, corked->routing_id_size, routing_id + corked->routing_id_size,
                        corked->head_size, corked->type);
    }
    self->queued = 0;
    self->cork_size = 0;
}

size_t xinf_router_queued (xinf_router_t *self) { return self->queued; }

void
xinf_router_uncork (xinf_router_t *self)
{
    xinf_router_flush (self);
    self->corked = false;
}

//  Encodes a reply into the queue; one too large to be copied twice goes
//  out at once, after those queued.
static void
s_queue (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p)
{
    s_address (self, peer, *msg_p);
    char type [XINF_TYPE_MAX + 1];
    strcpy (type, xinf_msg_type (*msg_p));
    xinf_wire_t head;
    zmsg_t *frames = xinf_msg_encode_wire (msg_p, &head);
    zmsg_destroy (&frames);             //  none: the caller sends those with frames
    size_t size = peer->routing_id_size + head.size;
    bool large = size > S_CORK_REPLY_MAX;
    if (large || self->queued == S_CORK_MAX || self->cork_size + size > S_CORK_BYTES)
        xinf_router_flush (self);
    if (large)
        s_send_encoded (self, peer->routing_id, peer->routing_id_size, head.data, head.size, type);
    else {
        s_corked_t *corked = &self->queue [self->queued++];
        corked->at = self->cork_size;
        corked->routing_id_size = peer->routing_id_size;
        corked->head_size = head.size;
        strcpy (corked->type, type);
        memcpy (self->cork_bytes + corked->at, peer->routing_id, peer->routing_id_size);
        memcpy (self->cork_bytes + corked->at + peer->routing_id_size, head.data, head.size);
        self->cork_size += size;
    }
    xinf_wire_release (&head);
}

int
xinf_router_reply (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p)
{
    if (!self->corked || !peer || xinf_msg_frame_count (*msg_p) > 0)
        return s_router_send (self, peer, msg_p, false);
    s_queue (self, peer, msg_p);
    return 0;
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
