/*  xinf_mesh: connectivity mesh sessions on the supervisor, shared by the
    doctor and by the preflight of a distributed launch.

    A session asks each of a set of workers to probe every other one's
    probe listener (PROBE_MESH / PROBE_RESULT, protocols/node.md) and
    collects the reports until all are in or the deadline passes; then it
    calls its owner back with what came in. xinf_mesh_matrix turns that into
    the N x N matrix (ok, refused, unreachable, timeout, wrong peer, no
    handshake; host:port and milliseconds) and one problem per failed pair,
    each with its fix.
*/
#ifndef XINF_MESH_H_INCLUDED
#define XINF_MESH_H_INCLUDED

#include "xinf_cluster.h"

typedef struct _xinf_mesh_t xinf_mesh_t;

//  Called once per session: 'expected' lists the nodes asked to probe,
//  'results' maps node -> its results array (only those that reported).
//  Both are only lent for the call.
typedef void (xinf_mesh_done_fn) (xinf_ctx_t *ctx, uint64_t session, const xinf_value_t *expected,
                                  const xinf_value_t *results, void *arg);

xinf_mesh_t *xinf_mesh_new (xinf_cluster_t *cluster);
void xinf_mesh_destroy (xinf_mesh_t **self_p);

//  The probe targets {node, endpoint} of the alive workers that have a
//  probe listener, from a xinf_cluster_workers snapshot; only the nodes in
//  'names' (array of strings) when it is not NULL.
xinf_value_t *xinf_mesh_targets (const xinf_value_t *workers, const xinf_value_t *names);

//  Appends to 'targets', for each alive worker, up to 'ports_each' ports
//  of its --data-ports range other than its probe listener's, as TCP-only
//  targets where a refused connect counts as reachable (nothing listens
//  there now; a firewall would drop it): the ports its collectives bind.
void xinf_mesh_range_targets (const xinf_value_t *workers, size_t ports_each, xinf_value_t *targets);

//  Starts a session over 'targets' (lent): every target probes every
//  other within timeout_ms. Returns the session id; 'fn' is called later,
//  from xinf_mesh_handle or xinf_mesh_tick (never from here; with fewer
//  than two targets to ask, at the next tick).
uint64_t xinf_mesh_start (xinf_mesh_t *self, xinf_ctx_t *ctx, const xinf_value_t *targets, uint64_t timeout_ms,
                          xinf_mesh_done_fn *fn, void *arg);
//  Forgets a session without calling back (its owner went away).
void xinf_mesh_cancel (xinf_mesh_t *self, uint64_t session);

//  PROBE_RESULT from a worker; false for other types.
bool xinf_mesh_handle (xinf_mesh_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);
//  Ends sessions whose deadline passed (their missing reports stay missing).
void xinf_mesh_tick (xinf_mesh_t *self, xinf_ctx_t *ctx, int64_t now);

//  The matrix as an array of {from, to, endpoint, status, ms, detail},
//  appending to 'problems' (array of strings) one line per failed pair and
//  per node that did not report, each with the fix.
xinf_value_t *xinf_mesh_matrix (xinf_mesh_t *self, const xinf_value_t *expected, const xinf_value_t *results, xinf_value_t *problems);

#endif
