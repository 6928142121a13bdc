/*  xinf_coll_zmq_priv: what the files of the ZeroMQ collective share; not
    an interface. xinf_coll_zmq.c holds the object (creation, errors, waits,
    what arrives on the ROUTER, the per-peer stash), xinf_coll_ops.c the
    operations, xinf_coll_join.c the rendezvous (both sides of JOIN).  */
#ifndef XINF_COLL_ZMQ_PRIV_H_INCLUDED
#define XINF_COLL_ZMQ_PRIV_H_INCLUDED

#include "xinf_coll_zmq.h"
#include "xinf_coll_wire.h"

#include <stdatomic.h>
#include <zmq.h>

#if defined (__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#   error "xinf_coll_zmq sends floats in host byte order: little-endian hosts only"
#endif
_Static_assert (XINF_COLL_ZMQ_GROUP_MAX == XINF_COLL_WIRE_GROUP_MAX, "one group id limit");

#define XINF_COLL_SLICE_MS       50     //  longest poll: an abort is seen within this
#define XINF_COLL_WAIT_AFTER_MS  20     //  an operation's wait longer than this is registered
#define XINF_COLL_DRAIN_MAX      256    //  messages read per drain before polling again
#define XINF_COLL_LABEL_MAX      192
#define XINF_COLL_ENDPOINT_MAX   256
#define XINF_COLL_TEXT_MAX       1024

//  The state of a DEALER's connection, from its monitor (join only).
enum { XINF_COLL_LINK_NONE, XINF_COLL_LINK_TCP, XINF_COLL_LINK_ZMTP };

//  A message that came before its operation.
typedef struct {
    unsigned kind;
    uint64_t seq;
    zmq_msg_t payload;
} xinf_coll_stashed_t;

typedef struct {
    int rank;
    char label [XINF_COLL_LABEL_MAX];           //  "rank 1 (node w2, tcp://10.0.0.3:29500)"
    char endpoint [XINF_COLL_ENDPOINT_MAX];
    void *dealer;                               //  to the peer's ROUTER
    void *monitor;                              //  the dealer's events, during the join
    int link;                                   //  XINF_COLL_LINK_*
    uint32_t refused;                           //  ZAP status when its ROUTER refused our key, else 0
    uint8_t routing_id [256];                   //  of the peer's DEALER on our ROUTER
    size_t routing_size;
    bool joined_in, acked;                      //  its JOIN came; it acknowledged ours
    xinf_coll_stashed_t stash [XINF_COLL_ZMQ_STASH_MAX];   //  FIFO in operation order
    int stash_head, stash_count;
} xinf_coll_peer_t;

typedef struct {
    xinf_collective_t base;                     //  first: the interface's view
    void *context, *router;
    char group [XINF_COLL_ZMQ_GROUP_MAX + 1];
    uint64_t group_hash;
    int port;
    int64_t stall_ms;
    xinf_collective_hooks_t hooks;
    xinf_coll_peer_t *peers;                    //  [size]; this rank's entry unused
    bool connecting, joined, failed;
    char failure [XINF_COLL_TEXT_MAX];          //  why it failed (the first reason)
    uint64_t op;                                //  sequence number of the current or next op
    uint64_t dropped;                           //  invalid messages so far
    atomic_bool aborted;
} xinf_coll_zmq_t;

//  A wait, registered through the hooks once it is older than after_ms.
typedef struct {
    xinf_coll_zmq_t *coll;
    const char *what;
    char peer [XINF_COLL_TEXT_MAX];
    int64_t start, after_ms, stall_ms;
    uint64_t handle, progress;
    bool active;
} xinf_coll_wait_t;

// ---- xinf_coll_zmq.c ---------------------------------------------------------------
int64_t xinf_coll_now_ms (void);
//  Formats into 'error' (if any); returns -1.
int xinf_coll_fail (char *error, size_t error_size, const char *format, ...);
//  Fails the group for good (the first reason stays) and copies the reason out; -1.
int xinf_coll_set_failed (xinf_coll_zmq_t *self, char *error, size_t error_size, const char *format, ...);
void xinf_coll_append (char *text, size_t text_size, const char *format, ...);
//  Counts and logs an invalid message ('frame' names its address); it is dropped.
void xinf_coll_drop (xinf_coll_zmq_t *self, const zmq_msg_t *frame, const char *reason);

void xinf_coll_wait_start (xinf_coll_wait_t *wait, xinf_coll_zmq_t *coll, const char *what,
                           int64_t after_ms, int64_t stall_ms);
//  Registers the wait once it is old enough (again when 'peer' changes) and reports progress.
void xinf_coll_wait_update (xinf_coll_wait_t *wait, const char *peer, uint64_t progress);
void xinf_coll_wait_stop (xinf_coll_wait_t *wait);

void xinf_coll_own_header (xinf_coll_zmq_t *self, uint8_t *out, unsigned kind, int target, uint64_t seq, size_t length);
bool xinf_coll_msg_header (zmq_msg_t *head, zmq_msg_t *payload, xinf_coll_header_t *header,
                           char *reason, size_t reason_size);
size_t xinf_coll_own_control (xinf_coll_zmq_t *self, uint8_t *out);
bool xinf_coll_msg_control (zmq_msg_t *payload, uint32_t *size, char *group);
//  Reads one whole message without waiting; its first 'keep' frames go to
//  parts [] (initialised by the caller), *frames says how many it had.
bool xinf_coll_recv_message (void *socket, zmq_msg_t *parts, int keep, int *frames);
void xinf_coll_parts_close (zmq_msg_t *parts, int count);
void xinf_coll_set_int (void *socket, int option, int value);
void xinf_coll_configure (void *socket, int64_t max_frame);

xinf_coll_stashed_t *xinf_coll_stash_head (xinf_coll_peer_t *peer);
void xinf_coll_stash_pop (xinf_coll_peer_t *peer);
void xinf_coll_stash_drop_stale (xinf_coll_zmq_t *self, xinf_coll_peer_t *peer);
bool xinf_coll_same_routing (xinf_coll_peer_t *peer, zmq_msg_t *routing);
//  Reads what has arrived on the ROUTER (at most XINF_COLL_DRAIN_MAX
//  messages): how many, or -1 when the group failed.
int xinf_coll_drain (xinf_coll_zmq_t *self);

// ---- xinf_coll_ops.c ---------------------------------------------------------------
int xinf_coll_all_reduce_sum (xinf_collective_t *base, float *data, size_t count, char *error, size_t error_size);
int xinf_coll_broadcast (xinf_collective_t *base, void *data, size_t *bytes, size_t capacity, int root,
                         char *error, size_t error_size);
bool xinf_coll_ready (xinf_collective_t *base, int root);

// ---- xinf_coll_join.c --------------------------------------------------------------
//  A JOIN that came in on the ROUTER (parts: routing id, header, payload).
void xinf_coll_on_join (xinf_coll_zmq_t *self, zmq_msg_t *parts, const xinf_coll_header_t *header);
void xinf_coll_monitor_stop (xinf_coll_peer_t *peer);

#endif
