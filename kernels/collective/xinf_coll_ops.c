/*  xinf_coll_ops: the operations of the ZeroMQ collective. An operation
    sends this rank's part to its peers, then waits until the message of
    every peer it needs is at the head of that peer's stash (reading the
    ROUTER meanwhile), checks it against the operation and consumes it.  */
#include "xinf_coll_zmq_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  What an operation expects from its peers.
typedef struct {
    unsigned kind;                  //  XINF_COLL_REDUCE or XINF_COLL_BCAST
    int root;                       //  broadcast: the one sender; -1: every peer
    size_t bytes;                   //  all_reduce: exact size; broadcast: capacity
    char what [80];                 //  "all_reduce op 7"
} s_op_t;

// ---- sending ---------------------------------------------------------------------

//  Sends the header frame to a peer, waiting for room up to the stall deadline.
static int
s_send_header (xinf_coll_zmq_t *self, xinf_coll_peer_t *peer, const s_op_t *op, const uint8_t *header,
               char *error, size_t error_size)
{
    xinf_coll_wait_t wait;
    xinf_coll_wait_start (&wait, self, op->what, XINF_COLL_WAIT_AFTER_MS, self->stall_ms);
    int rc = 0;
    while (rc == 0 && zmq_send (peer->dealer, header, XINF_COLL_WIRE_HEADER_SIZE, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int64_t waited = xinf_coll_now_ms () - wait.start;
        if (errno != EAGAIN && errno != EINTR)
            rc = xinf_coll_set_failed (self, error, error_size, "%s: sending to %s failed: %s",
                                       op->what, peer->label, zmq_strerror (errno));
        else
        if (atomic_load (&self->aborted))
            rc = xinf_coll_set_failed (self, error, error_size, "%s: aborted", op->what);
        else
        if (waited >= self->stall_ms)
            rc = xinf_coll_set_failed (self, error, error_size, "%s: %s: send queue full for %" PRId64 " ms",
                                       op->what, peer->label, waited);
        else {
            xinf_coll_wait_update (&wait, peer->label, 0);
            zmq_pollitem_t item = { peer->dealer, 0, ZMQ_POLLOUT, 0 };
            int64_t left = self->stall_ms - waited;
            zmq_poll (&item, 1, (long) (left < XINF_COLL_SLICE_MS ? left : XINF_COLL_SLICE_MS));
        }
    }
    xinf_coll_wait_stop (&wait);
    return rc;
}

//  Sends [header][payload] to a peer; 'payload' is shared, not consumed.
static int
s_send (xinf_coll_zmq_t *self, xinf_coll_peer_t *peer, const s_op_t *op, zmq_msg_t *payload,
        char *error, size_t error_size)
{
    uint8_t header [XINF_COLL_WIRE_HEADER_SIZE];
    xinf_coll_own_header (self, header, op->kind, peer->rank, self->op, zmq_msg_size (payload));
    if (s_send_header (self, peer, op, header, error, error_size))
        return -1;
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, payload);          //  shares the buffer: no copy of the data
    if (zmq_msg_send (&copy, peer->dealer, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&copy);
        return xinf_coll_set_failed (self, error, error_size, "%s: sending to %s failed: %s",
                                     op->what, peer->label, zmq_strerror (errno));
    }
    return 0;
}

//  Sends to every peer, starting after this rank so that not every rank
//  serves rank 0 first.
static int
s_send_all (xinf_coll_zmq_t *self, const s_op_t *op, zmq_msg_t *payload, char *error, size_t error_size)
{
    for (int step = 1; step < self->base.size; step++) {
        xinf_coll_peer_t *peer = &self->peers [(self->base.rank + step) % self->base.size];
        if (s_send (self, peer, op, payload, error, error_size))
            return -1;
    }
    return 0;
}

// ---- waiting for an operation's data ------------------------------------------------

//  1 when the head of the peer's stash is its message for this op, 0 when
//  it has not come yet, -1 when it is not what this op expects.
static int
s_head_ready (xinf_coll_zmq_t *self, xinf_coll_peer_t *peer, const s_op_t *op, char *error, size_t error_size)
{
    xinf_coll_stash_drop_stale (self, peer);
    xinf_coll_stashed_t *head = xinf_coll_stash_head (peer);
    if (!head)
        return 0;
    size_t size = zmq_msg_size (&head->payload);
    if (head->seq > self->op || head->kind != op->kind)
        return xinf_coll_set_failed (self, error, error_size, "%s: %s sent %s for op %" PRIu64 ": the ranks "
                                     "called different operations", op->what, peer->label,
                                     xinf_coll_kind_name (head->kind), head->seq);
    if (op->kind == XINF_COLL_REDUCE && size != op->bytes)
        return xinf_coll_set_failed (self, error, error_size, "%s: %s sent %zu floats; this rank has %zu",
                                     op->what, peer->label, size / sizeof (float), op->bytes / sizeof (float));
    if (op->kind == XINF_COLL_BCAST && size > op->bytes)
        return xinf_coll_set_failed (self, error, error_size, "%s: %zu bytes do not fit in %zu",
                                     op->what, size, op->bytes);
    return 1;
}

//  How many peers the op still waits for (-1: the group failed); their
//  labels in 'text' when it is not NULL.
static int
s_missing (xinf_coll_zmq_t *self, const s_op_t *op, char *text, size_t text_size, char *error, size_t error_size)
{
    int missing = 0;
    if (text)
        *text = 0;
    for (int rank = 0; rank < self->base.size; rank++) {
        if (rank == self->base.rank || (op->root >= 0 && rank != op->root))
            continue;
        int rc = s_head_ready (self, &self->peers [rank], op, error, error_size);
        if (rc < 0)
            return -1;
        if (rc == 0 && text)
            xinf_coll_append (text, text_size, "%s%s", missing ? ", " : "", self->peers [rank].label);
        missing += rc == 0;
    }
    return missing;
}

//  Waits until every peer's message for this op is at the head of its
//  stash, or the stall deadline, or an abort.
static int
s_gather (xinf_coll_zmq_t *self, const s_op_t *op, char *error, size_t error_size)
{
    xinf_coll_wait_t wait;
    xinf_coll_wait_start (&wait, self, op->what, XINF_COLL_WAIT_AFTER_MS, self->stall_ms);
    int expected = op->root >= 0 ? 1 : self->base.size - 1, missing, rc = 0;
    char text [XINF_COLL_TEXT_MAX];
    while ((missing = s_missing (self, op, NULL, 0, error, error_size)) > 0) {
        if (xinf_coll_drain (self) < 0) {
            rc = xinf_coll_fail (error, error_size, "%s", self->failure);
            break;
        }
        if ((missing = s_missing (self, op, NULL, 0, error, error_size)) <= 0)
            break;                          //  it has come (or is wrong): no waiting
        if (atomic_load (&self->aborted)) {
            rc = xinf_coll_set_failed (self, error, error_size, "%s: aborted", op->what);
            break;
        }
        int64_t waited = xinf_coll_now_ms () - wait.start;
        if (waited >= self->stall_ms) {
            s_missing (self, op, text, sizeof text, NULL, 0);
            rc = xinf_coll_set_failed (self, error, error_size, "%s: %s: no data for %" PRId64 " ms",
                                       op->what, text, waited);
            break;
        }
        if (waited >= XINF_COLL_WAIT_AFTER_MS && s_missing (self, op, text, sizeof text, NULL, 0) > 0)
            xinf_coll_wait_update (&wait, text, (uint64_t) (expected - missing));
        int64_t timeout = waited < XINF_COLL_WAIT_AFTER_MS ? XINF_COLL_WAIT_AFTER_MS - waited : XINF_COLL_SLICE_MS;
        if (timeout > self->stall_ms - waited)
            timeout = self->stall_ms - waited;
        zmq_pollitem_t item = { self->router, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, (long) timeout);
    }
    xinf_coll_wait_stop (&wait);
    return missing < 0 ? -1 : rc;
}

// ---- the operations ------------------------------------------------------------------

static int
s_check_usable (xinf_coll_zmq_t *self, char *error, size_t error_size)
{
    if (atomic_load (&self->aborted))
        return xinf_coll_fail (error, error_size, "aborted");
    if (self->failed)
        return xinf_coll_fail (error, error_size, "%s", self->failure);
    if (!self->joined)
        return xinf_coll_fail (error, error_size, "the group has not joined");
    return 0;
}

//  data += the bytes of 'count' little-endian floats, whatever their alignment.
static void
s_add (float *restrict data, const uint8_t *restrict bytes, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        float value;
        memcpy (&value, bytes + index * sizeof value, sizeof value);
        data [index] += value;
    }
}

//  data = ((c0 + c1) + c2) + ..., straight out of the received messages.
static void
s_sum (xinf_coll_zmq_t *self, float *data, size_t count, zmq_msg_t *own)
{
    for (int rank = 0; rank < self->base.size; rank++) {
        xinf_coll_peer_t *peer = &self->peers [rank];
        zmq_msg_t *from = rank == self->base.rank ? own : &xinf_coll_stash_head (peer)->payload;
        if (count && rank == 0)
            memcpy (data, zmq_msg_data (from), count * sizeof (float));
        else
        if (count)
            s_add (data, zmq_msg_data (from), count);
        if (rank != self->base.rank)
            xinf_coll_stash_pop (peer);
    }
}

int
xinf_coll_all_reduce_sum (xinf_collective_t *base, float *data, size_t count, char *error, size_t error_size)
{
    xinf_coll_zmq_t *self = (xinf_coll_zmq_t *) base;
    if (s_check_usable (self, error, error_size))
        return -1;
    s_op_t op = { XINF_COLL_REDUCE, -1, count * sizeof (float), "" };
    snprintf (op.what, sizeof op.what, "all_reduce op %" PRIu64, self->op);
    if (count > (size_t) XINF_COLL_ZMQ_PAYLOAD_MAX / sizeof (float) || (count && !data))
        return xinf_coll_set_failed (self, error, error_size, "%s: %zu floats at %p: invalid",
                                     op.what, count, (void *) data);
    if (base->size > 1) {
        zmq_msg_t own;                      //  our contribution, shared by the sends
        if (zmq_msg_init_size (&own, op.bytes))
            return xinf_coll_set_failed (self, error, error_size, "%s: out of memory", op.what);
        if (count)
            memcpy (zmq_msg_data (&own), data, op.bytes);
        int rc = s_send_all (self, &op, &own, error, error_size);
        if (rc == 0)
            rc = s_gather (self, &op, error, error_size);
        if (rc == 0)
            s_sum (self, data, count, &own);
        zmq_msg_close (&own);
        if (rc)
            return -1;
    }
    self->op++;
    return 0;
}

int
xinf_coll_broadcast (xinf_collective_t *base, void *data, size_t *bytes, size_t capacity, int root,
                     char *error, size_t error_size)
{
    xinf_coll_zmq_t *self = (xinf_coll_zmq_t *) base;
    if (s_check_usable (self, error, error_size))
        return -1;
    s_op_t op = { XINF_COLL_BCAST, root, capacity, "" };
    snprintf (op.what, sizeof op.what, "broadcast from rank %d (op %" PRIu64 ")", root, self->op);
    bool is_root = root == base->rank;
    if (root < 0 || root >= base->size || !bytes || (is_root && *bytes > (size_t) XINF_COLL_ZMQ_PAYLOAD_MAX)
    ||  (is_root ? *bytes && !data : capacity && !data))
        return xinf_coll_set_failed (self, error, error_size, "%s: invalid arguments", op.what);
    int rc = 0;
    if (base->size > 1 && is_root) {
        zmq_msg_t own;
        if (zmq_msg_init_size (&own, *bytes))
            return xinf_coll_set_failed (self, error, error_size, "%s: out of memory", op.what);
        if (*bytes)
            memcpy (zmq_msg_data (&own), data, *bytes);
        rc = s_send_all (self, &op, &own, error, error_size);
        zmq_msg_close (&own);
    }
    else
    if (base->size > 1) {
        rc = s_gather (self, &op, error, error_size);
        if (rc == 0) {
            zmq_msg_t *payload = &xinf_coll_stash_head (&self->peers [root])->payload;
            *bytes = zmq_msg_size (payload);
            if (*bytes)
                memcpy (data, zmq_msg_data (payload), *bytes);
            xinf_coll_stash_pop (&self->peers [root]);
        }
    }
    if (rc == 0)
        self->op++;
    return rc;
}

bool
xinf_coll_ready (xinf_collective_t *base, int root)
{
    xinf_coll_zmq_t *self = (xinf_coll_zmq_t *) base;
    if (atomic_load (&self->aborted) || self->failed || !self->joined
    ||  root < 0 || root >= base->size || root == base->rank)
        return true;                        //  the next broadcast returns at once
    if (xinf_coll_drain (self) < 0)
        return true;
    xinf_coll_stash_drop_stale (self, &self->peers [root]);
    return xinf_coll_stash_head (&self->peers [root]) != NULL;
}
