/*  xinf_doctor: the deployment checklist, automated (DOCTOR, client.md).

    The supervisor asks every alive worker to probe every other one's probe
    listener (PROBE_MESH / PROBE_RESULT, node.md) and, within the probe
    timeout, answers with the N x N matrix (ok, refused, unreachable,
    timeout, wrong peer, no handshake; host:port and milliseconds), the
    address checks, heartbeat health, a version table per node with
    mismatches flagged, and a list of problems, each with its fix.
*/
#ifndef XINF_DOCTOR_H_INCLUDED
#define XINF_DOCTOR_H_INCLUDED

#include "xinf_mesh.h"

typedef struct _xinf_doctor_t xinf_doctor_t;

xinf_doctor_t *xinf_doctor_new (xinf_cluster_t *cluster, xinf_mesh_t *mesh, const char *supervisor_name);
void xinf_doctor_destroy (xinf_doctor_t **self_p);

//  DOCTOR from a client; false for other types. The mesh (shared with
//  the launch preflight) takes the workers' PROBE_RESULTs and deadlines.
bool xinf_doctor_handle (xinf_doctor_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);

#endif
