/*  xinf_bstar: a standby supervisor, after the ZeroMQ Guide's Binary Star.

    Two supervisors, a primary and a backup, each dial the other's client
    port and send HA_STATE (their state) every heartbeat interval; a peer
    not heard for `expiry_ms` has expired. The state machine decides which
    one serves:

        PRIMARY  peer BACKUP -> ACTIVE; peer ACTIVE -> PASSIVE; serves
                 requests while alone (a primary started first)
        BACKUP   peer ACTIVE -> PASSIVE; refuses requests
        ACTIVE   serves; peer ACTIVE -> both active: the backup steps down
        PASSIVE  peer PRIMARY or BACKUP (the other restarted) -> ACTIVE;
                 a request arriving after the peer expired -> ACTIVE (the
                 fail-over); before that, refused

    The fail-over needs both: the peer silent AND a worker or client that
    turned to this supervisor (it cannot reach the active one either). A
    network split between the two supervisors alone, with every worker and
    client still on the active one, makes no second active supervisor.
*/
#ifndef XINF_BSTAR_H_INCLUDED
#define XINF_BSTAR_H_INCLUDED

#include "xinf.h"

typedef enum {
    XINF_BSTAR_PRIMARY = 1,
    XINF_BSTAR_BACKUP,
    XINF_BSTAR_ACTIVE,
    XINF_BSTAR_PASSIVE
} xinf_bstar_state_t;

typedef struct _xinf_bstar_t xinf_bstar_t;

//  'peer': the other supervisor's client endpoint (tcp://HOST:PORT).
xinf_bstar_t *xinf_bstar_new (bool primary, const char *peer, int64_t interval_ms, int64_t expiry_ms);
void xinf_bstar_destroy (xinf_bstar_t **self_p);

//  "primary", "backup", "active", "passive"; NULL for a bad value.
const char *xinf_bstar_state_name (xinf_bstar_state_t state);
//  Parses a state name; 0 when unknown.
xinf_bstar_state_t xinf_bstar_state_parse (const char *name);

xinf_bstar_state_t xinf_bstar_state (xinf_bstar_t *self);
const char *xinf_bstar_peer (xinf_bstar_t *self);
//  Monotonic ms when the peer was last heard (0: never).
int64_t xinf_bstar_peer_heard (xinf_bstar_t *self);

//  The peer said it is in 'state' at 'now'. Returns the new state.
xinf_bstar_state_t xinf_bstar_peer_state (xinf_bstar_t *self, xinf_bstar_state_t state, int64_t now);
//  Why the peer is not heard, for the logs, into 'text': "is silent for N
//  ms", or, when our link's handshake failed since it was last heard, "is
//  not heard for N ms: our link to it refused our key (...)" (a failed
//  handshake is said as what it is, never as silence). Returns text.
const char *xinf_bstar_quiet (xinf_bstar_t *self, int64_t now, char *text, size_t size);
//  A worker or client request arrived: true when this supervisor serves it
//  (perhaps by taking over now), false when it must refuse it (STANDBY).
bool xinf_bstar_request (xinf_bstar_t *self, int64_t now);

//  Starts the link to the peer on the actor's loop: HA_STATE every
//  interval, and HA_STATE from it read by the caller's handler. With
//  'cert' (keys on) the link is a CURVE client by that key pair that
//  accepts only the same public key: the two supervisors of a pair share
//  one key pair, of role supervisor (protocols/security.md).
void xinf_bstar_start (xinf_bstar_t *self, xinf_ctx_t *ctx, zcert_t *cert);
//  Sends our state to the peer (called every interval), with the fields
//  of 'extra' (a map, taken; NULL: none) in the same HA_STATE.
void xinf_bstar_tick (xinf_bstar_t *self, xinf_value_t *extra);

#endif
