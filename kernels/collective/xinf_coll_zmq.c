/*  xinf_coll_zmq: the ZeroMQ collective's object (xinf_coll_zmq.h): its
    creation, errors and waits, and what arrives on its ROUTER. Every
    message is checked there: a JOIN is answered (xinf_coll_join.c), data
    for an operation goes into its sender's stash, a FIFO in operation
    order, until the operation runs (xinf_coll_ops.c); anything invalid is
    dropped and logged.  */
#include "xinf_coll_zmq_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_LOG_FIRST      20     //  drops logged one by one, then every 1000th

// ---- small helpers ------------------------------------------------------------

int64_t
xinf_coll_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int
xinf_coll_fail (char *error, size_t error_size, const char *format, ...)
{
    if (error && error_size) {
        va_list args;
        va_start (args, format);
        vsnprintf (error, error_size, format, args);
        va_end (args);
    }
    return -1;
}

//  Fails the group for good (the first reason stays) and copies the reason out.
int
xinf_coll_set_failed (xinf_coll_zmq_t *self, char *error, size_t error_size, const char *format, ...)
{
    if (!self->failed) {
        va_list args;
        va_start (args, format);
        vsnprintf (self->failure, sizeof self->failure, format, args);
        va_end (args);
        self->failed = true;
    }
    return xinf_coll_fail (error, error_size, "%s", self->failure);
}

void
xinf_coll_append (char *text, size_t text_size, const char *format, ...)
{
    size_t used = strlen (text);
    if (used + 1 >= text_size)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (text + used, text_size - used, format, args);
    va_end (args);
}

static void
s_log (xinf_coll_zmq_t *self, const char *format, ...)
{
    if (!self->hooks.log)
        return;
    char text [XINF_COLL_TEXT_MAX + 256];
    int used = snprintf (text, sizeof text, "collective %s rank %d: ", self->group, self->base.rank);
    va_list args;
    va_start (args, format);
    vsnprintf (text + used, sizeof text - (size_t) used, format, args);
    va_end (args);
    self->hooks.log (self->hooks.arg, text);
}

//  Counts and logs an invalid message (the first few, then every 1000th).
void
xinf_coll_drop (xinf_coll_zmq_t *self, const zmq_msg_t *frame, const char *reason)
{
    self->dropped++;
    if (self->dropped > S_LOG_FIRST && self->dropped % 1000)
        return;
    const char *address = frame ? zmq_msg_gets (frame, "Peer-Address") : NULL;
    s_log (self, "dropped a message from %s: %s (%" PRIu64 " dropped so far)",
           address ? address : "an unknown address", reason, self->dropped);
}

// ---- waits ----------------------------------------------------------------------

void
xinf_coll_wait_start (xinf_coll_wait_t *wait, xinf_coll_zmq_t *coll, const char *what,
                      int64_t after_ms, int64_t stall_ms)
{
    wait->coll = coll;
    wait->what = what;
    wait->start = xinf_coll_now_ms ();
    wait->after_ms = after_ms;
    wait->stall_ms = stall_ms;
    wait->handle = wait->progress = 0;
    wait->active = false;
    wait->peer [0] = 0;
}

void
xinf_coll_wait_stop (xinf_coll_wait_t *wait)
{
    xinf_collective_hooks_t *hooks = &wait->coll->hooks;
    if (wait->active && hooks->wait_end)
        hooks->wait_end (hooks->arg, wait->handle);
    wait->active = false;
}

//  Registers the wait once it is old enough, again when the peers it waits
//  on change, and reports progress.
void
xinf_coll_wait_update (xinf_coll_wait_t *wait, const char *peer, uint64_t progress)
{
    xinf_collective_hooks_t *hooks = &wait->coll->hooks;
    if (xinf_coll_now_ms () - wait->start < wait->after_ms)
        return;
    if (wait->active && strcmp (wait->peer, peer) != 0)
        xinf_coll_wait_stop (wait);
    if (!wait->active) {
        snprintf (wait->peer, sizeof wait->peer, "%s", peer);
        wait->handle = hooks->wait_begin ? hooks->wait_begin (hooks->arg, wait->what, wait->peer, wait->stall_ms) : 0;
        wait->active = true;
        wait->progress = progress;
    }
    else
    if (progress != wait->progress) {
        wait->progress = progress;
        if (hooks->wait_progress)
            hooks->wait_progress (hooks->arg, wait->handle, progress);
    }
}

// ---- frames ---------------------------------------------------------------------

//  A header from this rank, for this group.
void
xinf_coll_own_header (xinf_coll_zmq_t *self, uint8_t *out, unsigned kind, int target, uint64_t seq, size_t length)
{
    xinf_coll_header_t header = { kind, (uint32_t) self->base.rank, (uint32_t) target, self->group_hash, seq, length };
    xinf_coll_header_encode (out, &header);
}

bool
xinf_coll_msg_header (zmq_msg_t *head, zmq_msg_t *payload, xinf_coll_header_t *header, char *reason, size_t reason_size)
{
    return xinf_coll_header_decode (zmq_msg_data (head), zmq_msg_size (head), zmq_msg_size (payload),
                                    header, reason, reason_size);
}

size_t
xinf_coll_own_control (xinf_coll_zmq_t *self, uint8_t *out)
{
    return xinf_coll_control_encode (out, (uint32_t) self->base.size, self->group);
}

bool
xinf_coll_msg_control (zmq_msg_t *payload, uint32_t *size, char *group)
{
    return xinf_coll_control_decode (zmq_msg_data (payload), zmq_msg_size (payload), size, group);
}

//  Reads one whole message without waiting; its first 'keep' frames go to
//  parts [] (initialised by the caller) and *frames says how many it had.
bool
xinf_coll_recv_message (void *socket, zmq_msg_t *parts, int keep, int *frames)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    int count = 0;
    int rc = zmq_msg_recv (&part, socket, ZMQ_DONTWAIT);
    while (rc >= 0) {
        bool more = zmq_msg_more (&part);
        if (count < keep)
            zmq_msg_move (&parts [count], &part);
        count++;
        //  The rest of a message has arrived with its first frame
        rc = more ? zmq_msg_recv (&part, socket, ZMQ_DONTWAIT) : -1;
    }
    zmq_msg_close (&part);
    *frames = count;
    return count > 0;
}

void
xinf_coll_parts_close (zmq_msg_t *parts, int count)
{
    for (int index = 0; index < count; index++)
        zmq_msg_close (&parts [index]);
}

// ---- the per-peer stash -----------------------------------------------------------

xinf_coll_stashed_t *
xinf_coll_stash_head (xinf_coll_peer_t *peer)
{
    return peer->stash_count ? &peer->stash [peer->stash_head] : NULL;
}

void
xinf_coll_stash_pop (xinf_coll_peer_t *peer)
{
    zmq_msg_close (&peer->stash [peer->stash_head].payload);
    peer->stash_head = (peer->stash_head + 1) % XINF_COLL_ZMQ_STASH_MAX;
    peer->stash_count--;
}

static int
s_stash_push (xinf_coll_peer_t *peer, const xinf_coll_header_t *header, zmq_msg_t *payload)
{
    if (peer->stash_count == XINF_COLL_ZMQ_STASH_MAX)
        return -1;
    xinf_coll_stashed_t *slot = &peer->stash [(peer->stash_head + peer->stash_count) % XINF_COLL_ZMQ_STASH_MAX];
    slot->kind = header->kind;
    slot->seq = header->seq;
    zmq_msg_init (&slot->payload);
    zmq_msg_move (&slot->payload, payload);
    peer->stash_count++;
    return 0;
}

//  Drops kept messages of operations that are over (a peer that thought
//  it was a root, say): they can never be consumed.
void
xinf_coll_stash_drop_stale (xinf_coll_zmq_t *self, xinf_coll_peer_t *peer)
{
    xinf_coll_stashed_t *head;
    while ((head = xinf_coll_stash_head (peer)) && head->seq < self->op) {
        char reason [XINF_COLL_LABEL_MAX + 128];
        snprintf (reason, sizeof reason, "%s sent %s for op %" PRIu64 ", which it had no part in",
                  peer->label, xinf_coll_kind_name (head->kind), head->seq);
        xinf_coll_drop (self, NULL, reason);
        xinf_coll_stash_pop (peer);
    }
}

// ---- receiving on the ROUTER --------------------------------------------------------

bool
xinf_coll_same_routing (xinf_coll_peer_t *peer, zmq_msg_t *routing)
{
    return peer->routing_size == zmq_msg_size (routing)
        && memcmp (peer->routing_id, zmq_msg_data (routing), peer->routing_size) == 0;
}

//  Checks data for an operation and keeps it in its sender's stash;
//  the reason in 'reason' (and false) when it is dropped.
static bool
s_on_data (xinf_coll_zmq_t *self, zmq_msg_t *parts, const xinf_coll_header_t *header,
           char *reason, size_t reason_size)
{
    int rank = self->base.rank, size = self->base.size;
    if (header->group != self->group_hash)
        return xinf_coll_fail (reason, reason_size, "group hash %016" PRIx64 " is not this group's",
                               header->group), false;
    if (header->target != (uint32_t) rank)
        return xinf_coll_fail (reason, reason_size, "addressed to rank %u", header->target), false;
    if (header->sender >= (uint32_t) size || header->sender == (uint32_t) rank)
        return xinf_coll_fail (reason, reason_size, "sender rank %u out of range", header->sender), false;
    xinf_coll_peer_t *peer = &self->peers [header->sender];
    if (!peer->joined_in || !xinf_coll_same_routing (peer, &parts [0]))
        return xinf_coll_fail (reason, reason_size, "claims to be rank %u but is not the connection "
                               "that joined as that rank", header->sender), false;
    if (header->seq < self->op)
        return xinf_coll_fail (reason, reason_size, "%s from %s for op %" PRIu64 ", which is over "
                               "(this rank is at op %" PRIu64 ")",
                               xinf_coll_kind_name (header->kind), peer->label, header->seq, self->op), false;
    if (s_stash_push (peer, header, &parts [2]))
        xinf_coll_set_failed (self, NULL, 0, "op %" PRIu64 ": %s ran more than %d operations ahead of this rank",
                              self->op, peer->label, XINF_COLL_ZMQ_STASH_MAX);
    return true;
}

//  One message of the ROUTER: a JOIN, or data for an operation.
static void
s_on_router (xinf_coll_zmq_t *self, zmq_msg_t *parts, int frames)
{
    char reason [XINF_COLL_TEXT_MAX];
    xinf_coll_header_t header;
    if (frames != 3) {
        snprintf (reason, sizeof reason, "expected 2 frames (header, payload), got %d", frames - 1);
        xinf_coll_drop (self, frames > 1 ? &parts [1] : &parts [0], reason);
    }
    else
    if (!xinf_coll_msg_header (&parts [1], &parts [2], &header, reason, sizeof reason))
        xinf_coll_drop (self, &parts [1], reason);
    else
    if (header.kind == XINF_COLL_JOIN)
        xinf_coll_on_join (self, parts, &header);
    else
    if (header.kind != XINF_COLL_REDUCE && header.kind != XINF_COLL_BCAST) {
        snprintf (reason, sizeof reason, "%s message on the data port", xinf_coll_kind_name (header.kind));
        xinf_coll_drop (self, &parts [1], reason);
    }
    else
    if (!s_on_data (self, parts, &header, reason, sizeof reason))
        xinf_coll_drop (self, &parts [1], reason);
}

//  Reads what has arrived on the ROUTER (at most XINF_COLL_DRAIN_MAX messages);
//  returns how many, or -1 when the group failed.
int
xinf_coll_drain (xinf_coll_zmq_t *self)
{
    int count = 0;
    while (count < XINF_COLL_DRAIN_MAX && !self->failed) {
        zmq_msg_t parts [3];
        for (int index = 0; index < 3; index++)
            zmq_msg_init (&parts [index]);
        int frames;
        bool got = xinf_coll_recv_message (self->router, parts, 3, &frames);
        if (got)
            s_on_router (self, parts, frames);
        xinf_coll_parts_close (parts, 3);
        if (!got)
            break;
        count++;
    }
    return self->failed ? -1 : count;
}

static void
s_abort (xinf_collective_t *base)
{
    atomic_store (&((xinf_coll_zmq_t *) base)->aborted, true);
}

static void
s_destroy (xinf_collective_t *base)
{
    xinf_coll_zmq_t *self = (xinf_coll_zmq_t *) base;
    for (int rank = 0; self->peers && rank < base->size; rank++) {
        xinf_coll_peer_t *peer = &self->peers [rank];
        xinf_coll_monitor_stop (peer);
        if (peer->dealer)
            zmq_close (peer->dealer);
        while (peer->stash_count)
            xinf_coll_stash_pop (peer);
    }
    if (self->router)
        zmq_close (self->router);
    free (self->peers);
    free (self);
}

static const xinf_collective_ops_t s_ops = {
    xinf_coll_all_reduce_sum, xinf_coll_broadcast, xinf_coll_ready, s_abort, s_destroy
};

// ---- creation: the ROUTER ------------------------------------------------------------

void
xinf_coll_set_int (void *socket, int option, int value)
{
    zmq_setsockopt (socket, option, &value, sizeof value);
}

//  Linger 0, a frame size limit, ZMTP heartbeats against dead connections.
void
xinf_coll_configure (void *socket, int64_t max_frame)
{
    xinf_coll_set_int (socket, ZMQ_LINGER, 0);
    zmq_setsockopt (socket, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame);
    xinf_coll_set_int (socket, ZMQ_HEARTBEAT_IVL, 1000);
    xinf_coll_set_int (socket, ZMQ_HEARTBEAT_TIMEOUT, 5000);
    xinf_coll_set_int (socket, ZMQ_HEARTBEAT_TTL, 6000);
}

static int
s_bind (xinf_coll_zmq_t *self, const char *host, int low, int high, char *error, size_t error_size)
{
    char endpoint [XINF_COLL_ENDPOINT_MAX];
    if (low == 0) {
        snprintf (endpoint, sizeof endpoint, "tcp://%s:*", host);
        if (zmq_bind (self->router, endpoint))
            return xinf_coll_fail (error, error_size, "cannot bind %s: %s", endpoint, zmq_strerror (errno));
        size_t size = sizeof endpoint;
        zmq_getsockopt (self->router, ZMQ_LAST_ENDPOINT, endpoint, &size);
        const char *colon = strrchr (endpoint, ':');
        self->port = colon ? atoi (colon + 1) : 0;
        return 0;
    }
    for (int port = low; port <= high; port++) {
        snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", host, port);
        if (zmq_bind (self->router, endpoint) == 0) {
            self->port = port;
            return 0;
        }
        if (errno != EADDRINUSE)
            return xinf_coll_fail (error, error_size, "cannot bind %s: %s", endpoint, zmq_strerror (errno));
    }
    return xinf_coll_fail (error, error_size, "no free port in %d-%d on %s", low, high, host);
}

xinf_collective_t *
xinf_coll_zmq_new (void *zmq_context, const char *group, int rank, int size,
                   const char *bind_host, int port_low, int port_high, int64_t stall_ms,
                   const xinf_collective_hooks_t *hooks, char *error, size_t error_size)
{
    if (!zmq_context || !group || !*group || strlen (group) > XINF_COLL_ZMQ_GROUP_MAX
    ||  !bind_host || !*bind_host || strlen (bind_host) > 200)
        return xinf_coll_fail (error, error_size, "collective: a context, a group id of 1-%d bytes "
                               "and a bind host are required",
                               XINF_COLL_ZMQ_GROUP_MAX), NULL;
    if (size < 1 || size > XINF_COLL_ZMQ_RANKS_MAX || rank < 0 || rank >= size)
        return xinf_coll_fail (error, error_size, "collective: rank %d of size %d is invalid (size 1-%d)",
                               rank, size, XINF_COLL_ZMQ_RANKS_MAX), NULL;
    if (!(port_low == 0 && port_high == 0) && (port_low < 1 || port_low > port_high || port_high > 65535))
        return xinf_coll_fail (error, error_size, "collective: port range %d-%d is invalid", port_low, port_high), NULL;
    if (stall_ms <= 0)
        return xinf_coll_fail (error, error_size, "collective: the stall deadline must be > 0 ms"), NULL;
    xinf_coll_zmq_t *self = calloc (1, sizeof *self);
    if (!self || !(self->peers = calloc ((size_t) size, sizeof (xinf_coll_peer_t)))) {
        free (self);
        return xinf_coll_fail (error, error_size, "collective: out of memory"), NULL;
    }
    self->base.ops = &s_ops;
    self->base.rank = rank;
    self->base.size = size;
    self->context = zmq_context;
    snprintf (self->group, sizeof self->group, "%s", group);
    self->group_hash = xinf_coll_group_hash (group);
    self->stall_ms = stall_ms;
    if (hooks)
        self->hooks = *hooks;
    self->op = 1;
    atomic_init (&self->aborted, false);
    for (int index = 0; index < size; index++) {
        self->peers [index].rank = index;
        snprintf (self->peers [index].label, XINF_COLL_LABEL_MAX, "rank %d", index);
    }
    self->router = zmq_socket (zmq_context, ZMQ_ROUTER);
    if (!self->router) {
        xinf_coll_fail (error, error_size, "collective: cannot create a socket: %s", zmq_strerror (errno));
        s_destroy (&self->base);
        return NULL;
    }
    xinf_coll_configure (self->router, XINF_COLL_ZMQ_PAYLOAD_MAX);
    xinf_coll_set_int (self->router, ZMQ_ROUTER_MANDATORY, 1);
    if ((self->hooks.secure && self->hooks.secure (self->hooks.arg, self->router, NULL, error, error_size))
    ||  s_bind (self, bind_host, port_low, port_high, error, error_size)) {
        s_destroy (&self->base);
        return NULL;
    }
    return &self->base;
}

int
xinf_coll_zmq_port (xinf_collective_t *self)
{
    return self ? ((xinf_coll_zmq_t *) self)->port : -1;
}

void *
xinf_coll_zmq_socket (xinf_collective_t *self)
{
    return self ? ((xinf_coll_zmq_t *) self)->router : NULL;
}

