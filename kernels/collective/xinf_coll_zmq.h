/*  xinf_coll_zmq: the CPU collective over ZeroMQ, a full mesh between the
    tensor-parallel ranks of one model replica (protocols/collective.md).

    Each rank binds one ROUTER (its data port, from a range) and connects
    one DEALER to every other rank's ROUTER; everything a rank receives
    arrives on its ROUTER. An all-reduce sends the whole vector to every
    peer and sums the contributions in rank order 0 .. size-1 on every rank
    (bit-identical results); a broadcast goes from the root to every peer.
    Frames carry a fixed little-endian binary header and the payload as its
    own frame; every received frame is validated, and anything invalid is
    dropped and reported through hooks->log.

        xinf_collective_t *group = xinf_coll_zmq_new (ctx, "uid/3", rank, size, "*",
                                                      29500, 29599, 60000, &hooks, error, sizeof error);
        ... relay "tcp://host:" + xinf_coll_zmq_port (group) to the other ranks ...
        xinf_coll_zmq_join (group, endpoints, names, 30000, error, sizeof error);
        xinf_collective_all_reduce_sum (group, partial, dim, error, sizeof error);
        xinf_collective_destroy (&group);

    A group is used by one thread at a time (its sockets are not
    thread-safe); only xinf_collective_abort may be called from any thread,
    and destroy comes after the last call has returned. The group id is not
    a secret: the first connection that presents a rank's JOIN gets that
    rank, so give every launch a new id (e.g. with a generation).

    Groups of at most XINF_COLL_ZMQ_RANKS_MAX ranks; a payload (an
    all-reduce vector, a broadcast) is at most XINF_COLL_ZMQ_PAYLOAD_MAX
    bytes. A rank may run ahead of a slower peer by up to
    XINF_COLL_ZMQ_STASH_MAX operations (the messages are kept until their
    operation comes); more is an error of the group.

    A follower that waits for the root's next broadcast in an event loop
    polls xinf_coll_zmq_socket () for readability, then asks
    xinf_collective_ready (group, root). ready () reads what has arrived,
    so the socket may not signal a broadcast that is already kept: call
    ready () again after every operation before going back to the poll.
*/
#ifndef XINF_COLL_ZMQ_H_INCLUDED
#define XINF_COLL_ZMQ_H_INCLUDED

#include "xinf_collective.h"

#define XINF_COLL_ZMQ_RANKS_MAX     64
#define XINF_COLL_ZMQ_GROUP_MAX     128             //  bytes of the group id
#define XINF_COLL_ZMQ_PAYLOAD_MAX   (1LL << 30)     //  bytes per operation
#define XINF_COLL_ZMQ_STASH_MAX     64              //  early messages kept per peer

//  Binds a ROUTER on the first free port of [port_low, port_high] on
//  tcp://<bind_host>:<port> ("*" = all interfaces; port_low = port_high =
//  0 lets the system pick a port). 'zmq_context' is a libzmq context owned
//  by the caller, which outlives the group. 'group' is a text id (<= 128
//  bytes) every rank of the group shares (e.g. "uid/generation"); stall_ms
//  > 0 is the stall deadline of every later operation. 'hooks' (may be
//  NULL) is copied. NULL with the reason in 'error' on failure.
xinf_collective_t *xinf_coll_zmq_new (void *zmq_context, const char *group, int rank, int size,
                                      const char *bind_host, int port_low, int port_high, int64_t stall_ms,
                                      const xinf_collective_hooks_t *hooks, char *error, size_t error_size);

//  The bound port.
int xinf_coll_zmq_port (xinf_collective_t *self);

//  Rendezvous: connects to every other rank's endpoint (endpoints [size],
//  "tcp://host:port"; its own entry is ignored and may be NULL; names
//  [size] are node names used in messages, and names may be NULL) and
//  handshakes both ways: this rank sends JOIN to each peer, a peer accepts
//  only a JOIN of its own group addressed to its own rank and answers ACK.
//  The join completes when this rank has received a valid JOIN from every
//  peer and an ACK of its own JOIN from every peer. A far side that answers
//  as another group or rank fails the join at once, named ("tcp://X
//  answered as rank 1 of group G2; expected rank 2 of G"). On timeout the
//  error names every rank that did not complete, its node, endpoint and
//  what is missing. The wait is registered through the hooks as
//  "rendezvous"; xinf_collective_abort ends it within ~50 ms. Called once;
//  0 or -1 with the reason in 'error' (the group is then unusable).
int xinf_coll_zmq_join (xinf_collective_t *self, const char *const *endpoints, const char *const *names,
                        int64_t timeout_ms, char *error, size_t error_size);

//  The ROUTER socket (a libzmq socket): readable when a message may have
//  arrived. For zmq_poll only: never read it or change its options.
void *xinf_coll_zmq_socket (xinf_collective_t *self);

#endif
