/*  xinf_supervisor: the supervisor actor, the node that workers and clients
    talk to over one ROUTER (default tcp://0.0.0.0:9997).

    Workers register (HELLO/WELCOME) and heartbeat both ways
    (protocols/node.md); a silent worker is declared lost within liveness x
    interval. Clients ask for the cluster, the waits and the events
    (protocols/client.md). Everything arrives through the runtime's
    validating decoder; bad bodies get ERROR BAD_REQUEST naming the field.
*/
#ifndef XINF_SUPERVISOR_H_INCLUDED
#define XINF_SUPERVISOR_H_INCLUDED

#include "xinf.h"
#include "xinf_model_dirs.h"

typedef struct _xinf_supervisor_t xinf_supervisor_t;

typedef struct {
    const char *node_name;
    int64_t heartbeat_ms;
    int liveness;
    int64_t forget_lost_ms;            //  a lost worker leaves the table after it (0: never)
    const char *standby_peer;          //  the other supervisor (xinf_bstar.h), NULL: none
    bool standby_primary;              //  with a peer: this one is the primary
    const char *state_dir;             //  the journal (xinf_journal.h), NULL: none
    //  Keys on (protocols/security.md): our key pair, kept by the caller
    //  while the supervisor runs; the ROUTER is then a CURVE server and
    //  every message is checked against its sender's role (xinf_guard.h).
    //  The caller starts the ZAP handler first (xinf_auth_zap_start).
    zcert_t *cert;
    //  Model files it serves to workers that lack them (protocols/node.md,
    //  "Model files"); lent, must outlive the supervisor; NULL: none of its
    //  own (it still relays other workers' copies).
    xinf_model_dirs_t *model_dirs;
    //  Messages a second one peer (a worker, a client) may send, sustained;
    //  four times that at once. 0: no limit.
    double peer_rate;
} xinf_supervisor_config_t;

xinf_supervisor_t *xinf_supervisor_new (const xinf_supervisor_config_t *config);
void xinf_supervisor_destroy (xinf_supervisor_t **self_p);
//  Binds the supervisor's ROUTER; returns the TCP port or -1.
int xinf_supervisor_bind (xinf_supervisor_t *self, const char *endpoint, char *bound, size_t bound_size);

#endif
