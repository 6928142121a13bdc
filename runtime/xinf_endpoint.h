/*  xinf_endpoint: ROUTER (bind) and DEALER (connect) sockets that speak XINF
    envelopes.

    The ROUTER keeps a peer table keyed by routing id, with the address each
    peer was observed at (ZeroMQ's "Peer-Address" metadata), replies to a
    sender by its peer record, sets ZMQ_ROUTER_MANDATORY and sends with
    ZMQ_DONTWAIT so that an unknown or slow peer is reported (EHOSTUNREACH /
    EAGAIN, counted and logged), never silently dropped, never blocking.

    The DEALER connects to one endpoint; its request () sends with a fresh
    correlation id and waits for the matching reply with a deadline,
    registered in the wait registry while it waits.

    Every socket gets linger 0, send/receive high-water marks, ZMTP
    heartbeats on TCP (they clean up dead connections; they do not decide
    liveness) and a maximum inbound message size.
*/
#ifndef XINF_ENDPOINT_H_INCLUDED
#define XINF_ENDPOINT_H_INCLUDED

#include <czmq.h>
#include "xinf_msg.h"

#define XINF_HWM_DEFAULT         10000
#define XINF_MAXMSGSIZE_DEFAULT  (256LL << 20)
#define XINF_PEERS_MAX           65536

//  Checks that 'endpoint' is one tcp://HOST:PORT: HOST a name (letters,
//  digits, '.', '-', '_'), an IPv4 address or a bracketed IPv6 address,
//  PORT 1-65535 in digits, nothing else. 0 if so; else -1 with the reason
//  in 'reason' (e.g. a comma-separated list of endpoints).
int xinf_endpoint_check_tcp (const char *endpoint, char *reason, size_t reason_size);

//  "tcp://HOST:PORT", or "tcp://[HOST]:PORT" for an IPv6 address.
void xinf_endpoint_tcp (char *endpoint, size_t size, const char *host, uint64_t port);

typedef struct _xinf_router_t xinf_router_t;
typedef struct _xinf_dealer_t xinf_dealer_t;
typedef struct _xinf_peer_t xinf_peer_t;

typedef struct {
    uint64_t received;         //  well-formed messages
    uint64_t bad;              //  malformed messages
    uint64_t sent;
    uint64_t unreachable;      //  sends refused: peer unknown or queue full
} xinf_endpoint_stats_t;

//  Applies the common options (linger, HWMs, ZMTP heartbeats, max size).
void xinf_endpoint_configure (zsock_t *sock);

// ---- ROUTER ------------------------------------------------------------------
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

// ---- DEALER ------------------------------------------------------------------
//  Connects to 'endpoint'; 'name' is the sender put on outgoing messages.
//  NULL if the endpoint is malformed.
xinf_dealer_t *xinf_dealer_new (const char *endpoint, const char *name);
//  The same as a CURVE client when 'cert' (our key pair) and 'server_key'
//  (Z85) are given; 'key_file' names our key in messages. With any of the
//  three set, a monitor watches the handshakes: a refused key ends a
//  recv/request at once with the reason (xinf_dealer_refusal).
xinf_dealer_t *xinf_dealer_new_secure (const char *endpoint, const char *name, zcert_t *cert,
                                       const char *server_key, const char *key_file);
//  -1 with the words when the monitor saw the server refuse our key, a
//  CURVE/plain mismatch or a failed handshake since the last call; else 0.
//  The words have no subject: "refused our key (FILE public key Z85): ...",
//  the caller puts "the supervisor at ENDPOINT" before them.
int xinf_dealer_refusal (xinf_dealer_t *self, char *text, size_t text_size);
//  Whether the last xinf_dealer_recv (or request) ended because the
//  server refused the handshake (its error then says why).
bool xinf_dealer_refused (xinf_dealer_t *self);
//  The same words for a handshake outcome (an xinf_handshake_t) seen some
//  other way, e.g. in the server's ZMTP greeting; 'key_label' names our
//  key, "" when we have none. -1 with the words, 0 when there are none.
int xinf_refusal_words (int outcome, int value, const char *key_label, char *text, size_t text_size);
void xinf_dealer_destroy (xinf_dealer_t **self_p);
zsock_t *xinf_dealer_sock (xinf_dealer_t *self);
const char *xinf_dealer_endpoint (xinf_dealer_t *self);

//  Sends without blocking, consuming the message; -1 (errno EAGAIN) when
//  the queue is full or no connection can take it, -1 (errno EMSGSIZE)
//  when its header is over XINF_HEADER_MAX (the receiver would refuse it
//  unread: it is not sent).
int xinf_dealer_send (xinf_dealer_t *self, xinf_msg_t **msg_p);
//  Receives one message within timeout_ms (registered as a wait). NULL on
//  timeout ("no reply within N ms") or bad input, with the reason.
xinf_msg_t *xinf_dealer_recv (xinf_dealer_t *self, int timeout_ms, char *error, size_t error_size);
//  Sends with a new correlation id and the deadline set, then returns the
//  reply carrying that id (other replies are dropped), or NULL with the
//  reason on timeout or bad reply. Consumes the request.
xinf_msg_t *xinf_dealer_request (xinf_dealer_t *self, xinf_msg_t **request_p, int timeout_ms,
                                 char *error, size_t error_size);
void xinf_dealer_stats (xinf_dealer_t *self, xinf_endpoint_stats_t *stats);

#endif
