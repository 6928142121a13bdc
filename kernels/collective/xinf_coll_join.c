/*  xinf_coll_join: the rendezvous of the ZeroMQ collective, both sides:
    answering the JOINs that arrive on this rank's ROUTER, and sending this
    rank's JOIN to every peer and waiting for their answers, with a monitor
    on each DEALER to tell "nothing listens there" from "no answer".  */
#include "xinf_coll_zmq_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  Answers a JOIN on the connection it came from (best effort: a full or
//  vanished connection is the far side's timeout to report).
static void
s_reply (xinf_coll_zmq_t *self, zmq_msg_t *routing, unsigned kind, uint32_t target)
{
    uint8_t header [XINF_COLL_WIRE_HEADER_SIZE], payload [XINF_COLL_WIRE_CONTROL_MAX];
    size_t length = xinf_coll_own_control (self, payload);
    xinf_coll_own_header (self, header, kind, (int) target, 0, length);
    if (zmq_send (self->router, zmq_msg_data (routing), zmq_msg_size (routing), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send (self->router, header, XINF_COLL_WIRE_HEADER_SIZE, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (self->router, payload, length, ZMQ_DONTWAIT);
}

void
xinf_coll_on_join (xinf_coll_zmq_t *self, zmq_msg_t *parts, const xinf_coll_header_t *header)
{
    uint32_t size;
    char group [XINF_COLL_ZMQ_GROUP_MAX + 1], reason [XINF_COLL_TEXT_MAX];
    if (!xinf_coll_msg_control (&parts [2], &size, group)) {
        xinf_coll_drop (self, &parts [1], "a JOIN with an invalid payload");
        return;
    }
    int rank = self->base.rank;
    bool ours = header->group == self->group_hash && strcmp (group, self->group) == 0
             && size == (uint32_t) self->base.size;
    if (!ours || header->target != (uint32_t) rank || header->sender >= size || header->sender == (uint32_t) rank) {
        snprintf (reason, sizeof reason, "refused a JOIN from rank %u of group %s (size %u) for rank %u: "
                  "this is rank %d of group %s (size %d)", header->sender, group, size, header->target,
                  rank, self->group, self->base.size);
        xinf_coll_drop (self, &parts [1], reason);
        s_reply (self, &parts [0], XINF_COLL_REJECT, header->sender);
        return;
    }
    xinf_coll_peer_t *peer = &self->peers [header->sender];
    if (peer->joined_in && !xinf_coll_same_routing (peer, &parts [0])) {
        snprintf (reason, sizeof reason, "a JOIN as rank %u from a second connection", header->sender);
        xinf_coll_drop (self, &parts [1], reason);
        return;
    }
    if (!peer->joined_in) {
        peer->routing_size = zmq_msg_size (&parts [0]);
        memcpy (peer->routing_id, zmq_msg_data (&parts [0]), peer->routing_size);
        peer->joined_in = true;
    }
    s_reply (self, &parts [0], XINF_COLL_ACK, header->sender);
}

void
xinf_coll_monitor_stop (xinf_coll_peer_t *peer)
{
    if (peer->monitor) {
        zmq_socket_monitor (peer->dealer, NULL, 0);
        zmq_close (peer->monitor);
        peer->monitor = NULL;
    }
}

// ---- the rendezvous ------------------------------------------------------------------

//  Creates the DEALER to one peer (with a monitor for the diagnosis) and
//  sends it JOIN; it is delivered once the connection is up.
static int
s_peer_connect (xinf_coll_zmq_t *self, xinf_coll_peer_t *peer, const char *endpoint, const char *name,
                char *error, size_t error_size)
{
    if (!endpoint || !*endpoint || strlen (endpoint) >= XINF_COLL_ENDPOINT_MAX)
        return xinf_coll_set_failed (self, error, error_size, "rendezvous: no valid endpoint for rank %d", peer->rank);
    snprintf (peer->endpoint, sizeof peer->endpoint, "%s", endpoint);
    if (name)
        snprintf (peer->label, sizeof peer->label, "rank %d (node %.64s, %.80s)", peer->rank, name, endpoint);
    else
        snprintf (peer->label, sizeof peer->label, "rank %d (%.80s)", peer->rank, endpoint);
    peer->dealer = zmq_socket (self->context, ZMQ_DEALER);
    if (!peer->dealer)
        return xinf_coll_set_failed (self, error, error_size, "rendezvous: cannot create a socket: %s",
                                     zmq_strerror (errno));
    xinf_coll_configure (peer->dealer, XINF_COLL_WIRE_HEADER_SIZE + XINF_COLL_WIRE_CONTROL_MAX);
    xinf_coll_set_int (peer->dealer, ZMQ_RECONNECT_IVL, 100);
    xinf_coll_set_int (peer->dealer, ZMQ_RECONNECT_IVL_MAX, 1000);
    char address [64];
    snprintf (address, sizeof address, "inproc://xinf-coll-%p-%d", (void *) self, peer->rank);
    if (zmq_socket_monitor (peer->dealer, address, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                            | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0
    &&  (peer->monitor = zmq_socket (self->context, ZMQ_PAIR))) {
        xinf_coll_set_int (peer->monitor, ZMQ_LINGER, 0);
        zmq_connect (peer->monitor, address);
    }
    char reason [XINF_COLL_TEXT_MAX];
    if (self->hooks.secure && self->hooks.secure (self->hooks.arg, peer->dealer, endpoint, reason, sizeof reason))
        return xinf_coll_set_failed (self, error, error_size, "rendezvous: %s: %s", peer->label, reason);
    if (zmq_connect (peer->dealer, endpoint))
        return xinf_coll_set_failed (self, error, error_size, "rendezvous: %s: cannot connect: %s",
                                     peer->label, zmq_strerror (errno));
    uint8_t header [XINF_COLL_WIRE_HEADER_SIZE], payload [XINF_COLL_WIRE_CONTROL_MAX];
    size_t length = xinf_coll_own_control (self, payload);
    xinf_coll_own_header (self, header, XINF_COLL_JOIN, peer->rank, 0, length);
    if (zmq_send (peer->dealer, header, XINF_COLL_WIRE_HEADER_SIZE, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
    ||  zmq_send (peer->dealer, payload, length, ZMQ_DONTWAIT) < 0)
        return xinf_coll_set_failed (self, error, error_size, "rendezvous: %s: cannot send JOIN: %s",
                                     peer->label, zmq_strerror (errno));
    return 0;
}

//  An answer to our JOIN from the far side of a peer's endpoint: an ACK,
//  or anything that says the far side is not who we expected.
static void
s_on_answer (xinf_coll_zmq_t *self, xinf_coll_peer_t *peer, zmq_msg_t *parts, int frames)
{
    char reason [XINF_COLL_TEXT_MAX], group [XINF_COLL_ZMQ_GROUP_MAX + 1];
    xinf_coll_header_t header;
    uint32_t size;
    if (frames != 2 || !xinf_coll_msg_header (&parts [0], &parts [1], &header, reason, sizeof reason)
    ||  (header.kind != XINF_COLL_ACK && header.kind != XINF_COLL_REJECT)
    ||  !xinf_coll_msg_control (&parts [1], &size, group)) {
        snprintf (reason, sizeof reason, "an invalid answer to our JOIN from %s", peer->endpoint);
        xinf_coll_drop (self, &parts [0], reason);
        return;
    }
    bool same = header.sender == (uint32_t) peer->rank && strcmp (group, self->group) == 0
             && size == (uint32_t) self->base.size;
    if (same && header.kind == XINF_COLL_ACK && header.target == (uint32_t) self->base.rank)
        peer->acked = true;
    else
    if (same)
        xinf_coll_set_failed (self, NULL, 0, "rendezvous: %s (rank %d of group %s) refused our JOIN as rank %d",
                              peer->endpoint, peer->rank, self->group, self->base.rank);
    else {
        char theirs [32] = "", ours [32] = "";
        if (size != (uint32_t) self->base.size) {
            snprintf (theirs, sizeof theirs, " (size %u)", size);
            snprintf (ours, sizeof ours, " (size %d)", self->base.size);
        }
        xinf_coll_set_failed (self, NULL, 0,
                              "rendezvous: %s answered as rank %u of group %s%s; expected rank %d of %s%s",
                              peer->endpoint, header.sender, group, theirs, peer->rank, self->group, ours);
    }
}

//  Reads the monitor's events: is the DEALER connected, handshaken?
static void
s_on_monitor (xinf_coll_peer_t *peer)
{
    zmq_msg_t parts [2];
    int frames;
    zmq_msg_init (&parts [0]);
    zmq_msg_init (&parts [1]);
    while (xinf_coll_recv_message (peer->monitor, parts, 2, &frames)) {
        if (zmq_msg_size (&parts [0]) >= 2) {
            const uint8_t *bytes = zmq_msg_data (&parts [0]);
            unsigned event = bytes [0] | (unsigned) bytes [1] << 8;
            if (event == ZMQ_EVENT_CONNECTED && peer->link == XINF_COLL_LINK_NONE)
                peer->link = XINF_COLL_LINK_TCP;
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                peer->link = XINF_COLL_LINK_ZMTP;
            if (event == ZMQ_EVENT_DISCONNECTED)
                peer->link = XINF_COLL_LINK_NONE;
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && zmq_msg_size (&parts [0]) >= 6)
                memcpy (&peer->refused, bytes + 2, 4);
        }
    }
    xinf_coll_parts_close (parts, 2);
}

//  Reads everything that has arrived during the join.
static void
s_join_read (xinf_coll_zmq_t *self)
{
    xinf_coll_drain (self);
    for (int rank = 0; rank < self->base.size; rank++) {
        xinf_coll_peer_t *peer = &self->peers [rank];
        if (!peer->dealer)
            continue;
        zmq_msg_t parts [2];
        int frames;
        zmq_msg_init (&parts [0]);
        zmq_msg_init (&parts [1]);
        while (!self->failed && xinf_coll_recv_message (peer->dealer, parts, 2, &frames))
            s_on_answer (self, peer, parts, frames);
        xinf_coll_parts_close (parts, 2);
        if (peer->monitor)
            s_on_monitor (peer);
        //  Keys on: a refused key is the whole story, said at once
        if (peer->refused)
            xinf_coll_set_failed (self, NULL, 0, "rendezvous: %s refused our key (ZAP status %u): its worker "
                                  "is not given this worker's key in --keys", peer->label, (unsigned) peer->refused);
    }
}

//  The peers that have not completed the join (labels in 'text'); with
//  'why', each with what is missing.
static int
s_join_missing (xinf_coll_zmq_t *self, char *text, size_t text_size, bool why, int64_t timeout_ms)
{
    int missing = 0;
    *text = 0;
    for (int rank = 0; rank < self->base.size; rank++) {
        xinf_coll_peer_t *peer = &self->peers [rank];
        if (rank == self->base.rank || (peer->joined_in && peer->acked))
            continue;
        xinf_coll_append (text, text_size, "%s%s", missing++ ? (why ? "; " : ", ") : "", peer->label);
        if (!why)
            continue;
        xinf_coll_append (text, text_size, " did not join within %" PRId64 " ms: %s%s%s", timeout_ms,
                          peer->joined_in ? "" : "no JOIN received", peer->joined_in || peer->acked ? "" : ", ",
                          peer->acked ? "" : "our JOIN not acknowledged");
        if (!peer->acked && peer->monitor && peer->link == XINF_COLL_LINK_NONE)
            xinf_coll_append (text, text_size, " (no connection to its endpoint: nothing listening, "
                                               "a firewall or a wrong address)");
        if (!peer->acked && peer->monitor && peer->link == XINF_COLL_LINK_TCP)
            xinf_coll_append (text, text_size, " (TCP connected, but no ZeroMQ handshake: "
                                               "is it an xinf data port?)");
    }
    return missing;
}

static int
s_rendezvous (xinf_coll_zmq_t *self, int64_t timeout_ms, char *error, size_t error_size)
{
    zmq_pollitem_t items [1 + 2 * XINF_COLL_ZMQ_RANKS_MAX];
    int count = 0;
    items [count++] = (zmq_pollitem_t) { self->router, 0, ZMQ_POLLIN, 0 };
    for (int rank = 0; rank < self->base.size; rank++) {
        xinf_coll_peer_t *peer = &self->peers [rank];
        if (peer->dealer)
            items [count++] = (zmq_pollitem_t) { peer->dealer, 0, ZMQ_POLLIN, 0 };
        if (peer->monitor)
            items [count++] = (zmq_pollitem_t) { peer->monitor, 0, ZMQ_POLLIN, 0 };
    }
    xinf_coll_wait_t wait;
    xinf_coll_wait_start (&wait, self, "rendezvous", 0, timeout_ms);
    char text [XINF_COLL_TEXT_MAX];
    int missing, rc = 0;
    while ((missing = s_join_missing (self, text, sizeof text, false, 0)) > 0) {
        int64_t waited = xinf_coll_now_ms () - wait.start;
        if (atomic_load (&self->aborted))
            rc = xinf_coll_set_failed (self, error, error_size, "rendezvous: aborted");
        else
        if (self->failed)
            rc = xinf_coll_fail (error, error_size, "%s", self->failure);
        else
        if (waited >= timeout_ms) {
            s_join_missing (self, text, sizeof text, true, timeout_ms);
            rc = xinf_coll_set_failed (self, error, error_size, "rendezvous: %s", text);
        }
        if (rc)
            break;
        xinf_coll_wait_update (&wait, text, (uint64_t) (self->base.size - 1 - missing));
        int64_t left = timeout_ms - waited;
        zmq_poll (items, count, (long) (left < XINF_COLL_SLICE_MS ? left : XINF_COLL_SLICE_MS));
        s_join_read (self);
    }
    xinf_coll_wait_stop (&wait);
    return rc;
}

int
xinf_coll_zmq_join (xinf_collective_t *base, const char *const *endpoints, const char *const *names,
                    int64_t timeout_ms, char *error, size_t error_size)
{
    xinf_coll_zmq_t *self = (xinf_coll_zmq_t *) base;
    if (!self || !endpoints || timeout_ms <= 0)
        return xinf_coll_fail (error, error_size, "rendezvous: endpoints and a timeout > 0 are required");
    if (self->failed || atomic_load (&self->aborted))
        return xinf_coll_fail (error, error_size, "%s", self->failed ? self->failure : "aborted");
    if (self->connecting)
        return xinf_coll_fail (error, error_size, "rendezvous: join is called once per group");
    self->connecting = true;
    for (int rank = 0; rank < base->size; rank++)
        if (rank != base->rank
        &&  s_peer_connect (self, &self->peers [rank], endpoints [rank], names ? names [rank] : NULL,
                            error, error_size))
            return -1;
    int rc = s_rendezvous (self, timeout_ms, error, error_size);
    for (int rank = 0; rank < base->size; rank++)
        xinf_coll_monitor_stop (&self->peers [rank]);
    self->joined = rc == 0;
    return rc;
}

