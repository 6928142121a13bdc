/*  xinf_cluster: the supervisor's view of the cluster: the worker table,
    their liveness, address warnings, reported waits and the event log.

    Plain data with no sockets: the supervisor actor feeds it what arrives
    (HELLO, HEARTBEAT, BYE) and the time, and asks it for client replies.
    A lost worker stays listed as lost, with since when, until it comes
    back: there are no ghost workers and no silent disappearances.
*/
#ifndef XINF_CLUSTER_H_INCLUDED
#define XINF_CLUSTER_H_INCLUDED

#include "xinf_node_proto.h"
#include "xinf_states.h"

#define XINF_EVENTS_KEPT  10000

typedef struct _xinf_cluster_t xinf_cluster_t;


xinf_cluster_t *xinf_cluster_new (const char *supervisor_name, int64_t heartbeat_ms, int liveness);
void xinf_cluster_destroy (xinf_cluster_t **self_p);

//  Registers a worker from a decoded HELLO (takes its owned values).
//  'observed' is the connection's Peer-Address ("" if unknown). Fills a
//  WELCOME on success; returns -1 with an ERROR code and reason otherwise.
int xinf_cluster_hello (xinf_cluster_t *self, xinf_hello_t *hello, const char *peer_id,
                        const char *observed, int64_t now, xinf_welcome_t *welcome,
                        char *code, size_t code_size, char *reason, size_t reason_size);
//  Whether the last HELLO accepted from 'node' came, while it was alive,
//  from another run of it (another pid, or another instance: a restart
//  within the liveness window, whatever its pid and connection); false
//  for a first registration, one after a loss, and a HELLO sent again.
bool xinf_cluster_restarted (xinf_cluster_t *self, const char *node);
//  A heartbeat from a peer; takes its waits. -1 if the peer is not
//  registered, or was declared lost (it must send HELLO again).
int xinf_cluster_heartbeat (xinf_cluster_t *self, const char *peer_id, xinf_heartbeat_msg_t *beat, int64_t now);
//  Any other sign of life from a peer (0 if registered; -1, and nothing
//  changes, if not registered or declared lost: only HELLO revives it).
int xinf_cluster_seen (xinf_cluster_t *self, const char *peer_id, int64_t now);
void xinf_cluster_bye (xinf_cluster_t *self, const char *peer_id, int64_t now);
//  Declares silent workers lost; returns how many were newly lost.
size_t xinf_cluster_check (xinf_cluster_t *self, int64_t now);
//  Workers lost for forget_ms are removed (event `forgotten`); 0: never.
void xinf_cluster_set_forget (xinf_cluster_t *self, int64_t forget_ms);

//  Peer ids of the workers to send heartbeats to (the alive ones: a lost
//  worker that wakes up hears nothing and registers again); the caller
//  destroys the list.
zlist_t *xinf_cluster_heartbeat_peers (xinf_cluster_t *self);
size_t xinf_cluster_size (xinf_cluster_t *self);

//  Milliseconds since anything was heard from 'node' (-1: not registered);
//  the heartbeat interval, to judge it by.
int64_t xinf_cluster_silence_ms (xinf_cluster_t *self, const char *node, int64_t now);
int64_t xinf_cluster_heartbeat_interval (xinf_cluster_t *self);
//  The --data-ports range 'node' registered with; false if unknown.
bool xinf_cluster_data_ports (xinf_cluster_t *self, const char *node, uint64_t *low, uint64_t *high);

//  The routing id of an alive worker, or NULL.
const char *xinf_cluster_peer_of (xinf_cluster_t *self, const char *node);
//  The CURVE public key (Z85) 'node' registered with, relayed to its
//  peers in PROBE_MESH and GROUP (protocols/security.md); "" without keys.
void xinf_cluster_set_key (xinf_cluster_t *self, const char *node, const char *key);
//  Whether 'peer_id' is the connection of an alive registered worker (O(1)).
bool xinf_cluster_alive_peer (xinf_cluster_t *self, const char *peer_id);
//  The node name of a registered peer (not one that left), or NULL (O(1)).
const char *xinf_cluster_node_of (xinf_cluster_t *self, const char *peer_id);
//  The alive worker with the most available memory, skipping the names in
//  'exclude'; false when there is none.
bool xinf_cluster_pick (xinf_cluster_t *self, zlist_t *exclude, char *node, size_t node_size);
//  The names of the alive workers (the caller destroys the list).
zlist_t *xinf_cluster_alive (xinf_cluster_t *self);
//  A worker's available memory as it last registered (0 if unknown).
uint64_t xinf_cluster_available (xinf_cluster_t *self, const char *node);
//  A worker's devices (HELLO's `devices`) and how it looked for GPUs
//  (`gpu_probe`); NULL and "" for a node not registered.
const xinf_value_t *xinf_cluster_devices (xinf_cluster_t *self, const char *node);
const char *xinf_cluster_gpu_probe (xinf_cluster_t *self, const char *node);
//  Whether a worker's build has NCCL, as its HELLO said (`nccl`): a rank
//  of a tensor-parallel replica on GPUs goes only where it has.
typedef enum {
    XINF_NCCL_UNSAID,                 //  an older worker that does not say, or not registered
    XINF_NCCL_NONE,                   //  built without NCCL
    XINF_NCCL_BUILT                   //  built with NCCL
} xinf_nccl_t;
xinf_nccl_t xinf_cluster_nccl (xinf_cluster_t *self, const char *node);
//  Called (on the actor thread) when a worker is declared lost or leaves
//  (BYE); 'reason' says which, for the errors of its requests.
typedef void (xinf_cluster_lost_fn) (const char *node, const char *reason, void *arg);
void xinf_cluster_on_lost (xinf_cluster_t *self, xinf_cluster_lost_fn *fn, void *arg);

//  Client replies (bodies per protocols/client.md).
xinf_value_t *xinf_cluster_workers (xinf_cluster_t *self, int64_t now);
xinf_value_t *xinf_cluster_waits (xinf_cluster_t *self, int64_t now);
xinf_value_t *xinf_cluster_events (xinf_cluster_t *self, uint64_t since, size_t limit, uint64_t *next);

//  Appends an event (kind: joined, rejoined, lost, recovered, warned, left).
//  Called with every event as it is logged (e.g. to journal it); NULL: none.
typedef void (xinf_cluster_event_fn) (uint64_t time_ms, const char *kind, const char *node, const char *detail,
                                      void *arg);
void xinf_cluster_on_event (xinf_cluster_t *self, xinf_cluster_event_fn *fn, void *arg);
//  An event from another supervisor's log (a standby peer's), kept with
//  its own time; it gets this log's next seq.
void xinf_cluster_event_copy (xinf_cluster_t *self, uint64_t time_ms, const char *kind, const char *node,
                              const char *detail);
void xinf_cluster_event (xinf_cluster_t *self, const char *kind, const char *node, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif
