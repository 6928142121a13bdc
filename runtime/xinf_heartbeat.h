/*  xinf_heartbeat: a liveness tracker for peers, with no sockets of its own.

    The owner tells it when a peer was heard from and asks it, on a timer,
    who went silent. A peer silent for liveness x interval is LOST (the
    on_lost callback gets the silence length); a lost peer heard from again
    is RECOVERED. It also says when our own heartbeat is due, so that an
    actor sends at the interval whatever else it does.

    Time is passed in (monotonic ms) so that tests drive it directly.
*/
#ifndef XINF_HEARTBEAT_H_INCLUDED
#define XINF_HEARTBEAT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _xinf_heartbeat_t xinf_heartbeat_t;

typedef enum { XINF_PEER_ALIVE, XINF_PEER_LOST } xinf_peer_state_t;

typedef void (xinf_heartbeat_lost_fn) (const char *peer, int64_t silence_ms, void *arg);
typedef void (xinf_heartbeat_recovered_fn) (const char *peer, int64_t silence_ms, void *arg);

xinf_heartbeat_t *xinf_heartbeat_new (int64_t interval_ms, int liveness);
void xinf_heartbeat_destroy (xinf_heartbeat_t **self_p);

void xinf_heartbeat_set_callbacks (xinf_heartbeat_t *self, xinf_heartbeat_lost_fn *on_lost,
                                   xinf_heartbeat_recovered_fn *on_recovered, void *arg);
int64_t xinf_heartbeat_interval (xinf_heartbeat_t *self);
int xinf_heartbeat_liveness (xinf_heartbeat_t *self);

//  Starts tracking a peer as alive at 'now' (no-op when already tracked).
void xinf_heartbeat_add (xinf_heartbeat_t *self, const char *peer, int64_t now);
void xinf_heartbeat_remove (xinf_heartbeat_t *self, const char *peer);
//  The peer was heard from (any message counts); recovers a lost peer.
void xinf_heartbeat_seen (xinf_heartbeat_t *self, const char *peer, int64_t now);
//  Declares silent peers lost; returns how many were newly lost.
size_t xinf_heartbeat_check (xinf_heartbeat_t *self, int64_t now);

bool xinf_heartbeat_known (xinf_heartbeat_t *self, const char *peer);
xinf_peer_state_t xinf_heartbeat_state (xinf_heartbeat_t *self, const char *peer);
//  Milliseconds since the peer was last heard from; -1 if unknown.
int64_t xinf_heartbeat_age (xinf_heartbeat_t *self, const char *peer, int64_t now);
//  When the peer was declared lost (monotonic ms), 0 if alive or unknown.
int64_t xinf_heartbeat_lost_since (xinf_heartbeat_t *self, const char *peer);
size_t xinf_heartbeat_size (xinf_heartbeat_t *self);

//  Our own beat: due when an interval has passed since the last one sent.
bool xinf_heartbeat_send_due (xinf_heartbeat_t *self, int64_t now);
void xinf_heartbeat_sent (xinf_heartbeat_t *self, int64_t now);

#endif
