/*  xinf_probe: the connectivity probes of preflight and doctor.

    Every worker runs a probe listener on the first free port of its
    --data-ports range: it answers PROBE with PROBE_OK naming the node, which
    proves that whoever dials host:port reaches the intended worker and not
    some other process. A probe job, on its own thread so that heartbeats
    never wait for it, dials a list of targets at once: a TCP connect that
    tells refused / unreachable / timed out / open, then for the open ones
    the XINF handshake that tells ok / wrong peer / not an xinf node; each
    result with host:port and milliseconds, all within one deadline.
*/
#ifndef XINF_PROBE_H_INCLUDED
#define XINF_PROBE_H_INCLUDED

#include "xinf.h"

typedef struct _xinf_probe_listener_t xinf_probe_listener_t;

//  Binds the first free port in [low, high] on all interfaces; NULL when
//  none is free (the reason is logged).
//  Binds the first free port of [low, high] on 'host' (all addresses when
//  'host' is not one of this machine's); a CURVE server when this process
//  has an identity (xinf_auth_set_identity).
xinf_probe_listener_t *xinf_probe_listener_new (const char *node, const char *host, int low, int high);
void xinf_probe_listener_destroy (xinf_probe_listener_t **self_p);
int xinf_probe_listener_port (xinf_probe_listener_t *self);

//  Starts a probe job over 'targets' (array of {node, endpoint}; taken). When
//  done it sends one PROBE_RESULT envelope through the returned actor's pipe:
//  {session, node, results: [{to, endpoint, status, ms, detail}]}, status
//  one of ok, refused, unreachable, timeout, wrong_peer, keys (the
//  handshake failed over CURVE keys: refused, or keys on one side only;
//  the detail says which), not_zeromq (the program on the port sent no
//  ZMTP greeting), no_handshake (ZeroMQ, but no xinf node or listener
//  answered), bad_endpoint, busy. The owner reads it, then destroys the actor.
//  A target with 'role' (str) is a node rather than a probe listener: it
//  gets a PING, and the PONG must name that role (ok; detail: its node and
//  version) or the result is wrong_peer.
zactor_t *xinf_probe_job_new (const char *node, uint64_t session, xinf_value_t *targets, int64_t timeout_ms);

//  A probe job of one node of 'role' at 'endpoint' (TCP connect, then PING),
//  as xinf_probe_job_new; and the status and detail of its first result
//  read from the job's pipe (status "timeout" when none came; 'result'
//  holds the message the strings live in: destroy it after use).
zactor_t *xinf_probe_node_job_new (const char *node, const char *endpoint, const char *role, int64_t timeout_ms);
const char *xinf_probe_node_result (zsock_t *pipe, xinf_msg_t **result, const char **detail);

//  One sentence for an operator from a probe result: why 'endpoint' did
//  not answer (refused, timeout, not an xinf node, ...) and what to check.
void xinf_probe_explain (const char *endpoint, const char *status, const char *detail, char *text, size_t size);

//  Probes 'endpoint' for a node of 'role' (TCP connect, then PING) within
//  timeout_ms and explains the result in 'text'. 0 when such a node
//  answers (text then names its node and version), -1 otherwise.
int xinf_probe_diagnose (const char *node, const char *endpoint, const char *role, int64_t timeout_ms,
                         char *text, size_t size);

#endif
