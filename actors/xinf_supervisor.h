/*  xinf_supervisor: the supervisor actor, the node that workers and clients
    talk to over one ROUTER (default tcp://0.0.0.0:9997).

    For now it answers PING with PONG (role, version, uptime and its message
    counters) and everything else through the runtime's rules: unknown types
    get ERROR UNKNOWN_TYPE, malformed envelopes ERROR BAD_ENVELOPE. The
    cluster protocol (workers, heartbeats, waits) grows here.
*/
#ifndef XINF_SUPERVISOR_H_INCLUDED
#define XINF_SUPERVISOR_H_INCLUDED

#include "xinf.h"

typedef struct _xinf_supervisor_t xinf_supervisor_t;

xinf_supervisor_t *xinf_supervisor_new (const char *node_name);
void xinf_supervisor_destroy (xinf_supervisor_t **self_p);
//  Binds the supervisor's ROUTER; returns the TCP port or -1.
int xinf_supervisor_bind (xinf_supervisor_t *self, const char *endpoint, char *bound, size_t bound_size);

#endif
