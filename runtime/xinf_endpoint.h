/*  xinf_endpoint: the DEALER (connect) socket that speaks XINF envelopes,
    what it shares with the ROUTER (xinf_router.h): socket options, sending
    and receiving an envelope's frames, and endpoint checks.

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

typedef struct _xinf_dealer_t xinf_dealer_t;

typedef struct {
    uint64_t received;         //  well-formed messages
    uint64_t bad;              //  malformed messages
    uint64_t sent;
    uint64_t unreachable;      //  sends refused: peer unknown or queue full
} xinf_endpoint_stats_t;

//  Applies the common options (linger, HWMs, ZMTP heartbeats, max size).
void xinf_endpoint_configure (zsock_t *sock);

//  Sends an envelope without blocking: the routing id first when given (a
//  ROUTER's; NULL for a DEALER), frame 0 (signature and header), then the
//  binary frames; only the first can be refused, the rest then go through.
//  A refused routing id leaves *msg_p unencoded, to its caller; else the
//  message is taken. 'limited' (a DEALER's): a header over XINF_HEADER_MAX
//  is not sent (-1, errno EMSGSIZE). For xinf_router and the DEALER.
int xinf_wire_send (zsock_t *sock, void *handle, const byte *routing_id, size_t routing_id_size,
                    xinf_msg_t **msg_p, bool limited);
//  Receives the binary frames that follow frame 0 into *rest (NULL when
//  there are none: a message without bulk data allocates no list).
void xinf_wire_recv_rest (void *handle, bool more, zmsg_t **rest);

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
