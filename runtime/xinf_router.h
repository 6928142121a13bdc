/*  xinf_router: the ROUTER (bind) socket that speaks XINF envelopes.

    It keeps a peer table keyed by routing id, with the address each peer
    was observed at (ZeroMQ's "Peer-Address" metadata), replies to a sender
    by its peer record, sets ZMQ_ROUTER_MANDATORY and sends with
    ZMQ_DONTWAIT so that an unknown or slow peer is reported (EHOSTUNREACH /
    EAGAIN, counted and logged), never silently dropped, never blocking.
    Replies may be corked (queued while an actor handles a batch of
    messages) so that they reach libzmq's I/O thread together.
*/
#ifndef XINF_ROUTER_H_INCLUDED
#define XINF_ROUTER_H_INCLUDED

#include "xinf_endpoint.h"

typedef struct _xinf_router_t xinf_router_t;
typedef struct _xinf_peer_t xinf_peer_t;

//  'name' is put as sender on outgoing messages that have none.
xinf_router_t *xinf_router_new (const char *name);
void xinf_router_destroy (xinf_router_t **self_p);

//  Binds; "tcp://HOST:0" (or "tcp://HOST:*") picks a free port. Returns the TCP
//  port (0 for other transports), -1 on error (errno set). 'bound' gets the
//  endpoint actually bound when not NULL.
int xinf_router_bind (xinf_router_t *self, const char *endpoint, char *bound, size_t bound_size);
zsock_t *xinf_router_sock (xinf_router_t *self);

//  Receives one message. On success returns it and sets *peer_p. On bad
//  input returns NULL with *peer_p set (so the caller can answer ERROR),
//  the reason in 'error' and *corr_hint the readable corr or 0. Returns NULL
//  with *peer_p NULL when interrupted or nothing could be read.
xinf_msg_t *xinf_router_recv (xinf_router_t *self, xinf_peer_t **peer_p,
                              char *error, size_t error_size, uint64_t *corr_hint);

//  The same without waiting: NULL with *peer_p NULL when nothing is queued.
xinf_msg_t *xinf_router_try_recv (xinf_router_t *self, xinf_peer_t **peer_p,
                                  char *error, size_t error_size, uint64_t *corr_hint);

//  Sends to a peer, consuming the message, in the envelope version of the
//  peer's last message (a version-2 client is answered in version 2), or
//  XINF_VERSION to a peer that sent none. 0 on success; -1 when the peer is
//  unknown/disconnected (errno EHOSTUNREACH) or its queue is full (EAGAIN).
int xinf_router_send (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p);
//  As xinf_router_send, but a message the peer's full queue refuses
//  (-1, errno EAGAIN) is not consumed: *msg_p stays the caller's, to send
//  again later. Any other failure consumes it.
int xinf_router_try_send (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p);
xinf_peer_t *xinf_router_peer (xinf_router_t *self, const char *peer_id);
//  Sends to a peer by its id (hex routing id) even when it never sent to
//  this router (a client that set its routing id and reconnected to a
//  restarted supervisor); -1 (EHOSTUNREACH) when no such peer is connected.
int xinf_router_send_to_id (xinf_router_t *self, const char *peer_id, xinf_msg_t **msg_p);

//  Corking, as TCP_CORK does for segments: while corked, replies
//  (xinf_router_reply) are encoded and queued in order, and go out
//  together on xinf_router_flush or xinf_router_uncork, or when the queue
//  is full (destroying the router sends them too). libzmq's I/O thread then wakes once for a run of replies, not
//  once for each (an actor corks while it handles a batch of messages).
//  Any other send flushes the queue first: the order on the socket is the
//  order of the calls.
void xinf_router_cork (xinf_router_t *self);
void xinf_router_flush (xinf_router_t *self);
void xinf_router_uncork (xinf_router_t *self);
//  Replies queued now.
size_t xinf_router_queued (xinf_router_t *self);
//  Sends a reply, consuming it: queued while corked (0), else as
//  xinf_router_send. A queued reply the socket refuses when it goes out
//  (the peer gone, its queue full) is logged and counted as
//  xinf_router_send's refusals are, but its caller is not told: where the
//  outcome matters (a relay, a token to a client), use xinf_router_send.
//  -1 (EHOSTUNREACH) at once for a NULL peer. A reply with binary frames
//  is not queued.
int xinf_router_reply (xinf_router_t *self, xinf_peer_t *peer, xinf_msg_t **msg_p);
void xinf_router_stats (xinf_router_t *self, xinf_endpoint_stats_t *stats);

//  Peer records (owned by the router; valid until the next recv).
const char *xinf_peer_id (const xinf_peer_t *self);          //  routing id, hex
const char *xinf_peer_address (const xinf_peer_t *self);     //  observed, "" if unknown
int64_t xinf_peer_last_seen (const xinf_peer_t *self);       //  monotonic ms
//  The envelope version of its last message that had one this node reads
//  (XINF_VERSION_MIN .. XINF_VERSION); 0 when none had.
int xinf_peer_version (const xinf_peer_t *self);
//  With CURVE (xinf_auth.h): the ZAP metadata of the peer's last message,
//  its key's role, name and public key (Z85); "" without keys.
const char *xinf_peer_role (const xinf_peer_t *self);
const char *xinf_peer_key_name (const xinf_peer_t *self);
const char *xinf_peer_key (const xinf_peer_t *self);

//  Bounds the log lines one peer's bad input may cause: at most
//  XINF_COMPLAIN_MAX a window of XINF_COMPLAIN_WINDOW_MS. Returns 0 when
//  this complaint should not be logged, else how many it stands for (1,
//  or 1 + those left unlogged since the last logged one): print the count.
#define XINF_COMPLAIN_MAX        5
#define XINF_COMPLAIN_WINDOW_MS  10000
uint64_t xinf_peer_may_complain (xinf_peer_t *self, int64_t now);

//  A limit on the messages each peer may send: 'per_second' sustained and
//  'burst' at once (a token bucket per peer; per_second 0: no limit, the
//  default). Flooding one actor cannot starve its other peers.
void xinf_router_set_peer_limit (xinf_router_t *self, double per_second, double burst);
//  Takes one message of 'peer' at 'now' (monotonic ms) against the limit:
//  1 admitted; 0 refused, the first of a run (answer it: ERROR
//  RATE_LIMITED); -1 refused again (drop it, so a flood is not answered
//  message for message).
int xinf_router_admit (xinf_router_t *self, xinf_peer_t *peer, int64_t now);
//  When the peer may send again (ms from now; 0: now).
int64_t xinf_router_retry_after_ms (xinf_router_t *self, xinf_peer_t *peer);

#endif
