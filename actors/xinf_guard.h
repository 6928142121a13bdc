/*  xinf_guard: the supervisor's door when keys are configured
    (protocols/security.md).

    Makes the actor's ROUTER a CURVE server with the supervisor's key pair
    (the process's ZAP handler, xinf_auth_zap_start, decides which client
    keys get in), checks every message against its sender's role
    (xinf_roles.h) and answers ERROR FORBIDDEN naming the role and the
    type, and logs refused handshakes (a key not among --keys, a client
    without keys) as what they are. All of it bounded: at most
    XINF_COMPLAIN_MAX lines a window, each with the count it stands for.
    Runs on the actor's thread.
*/
#ifndef XINF_GUARD_H_INCLUDED
#define XINF_GUARD_H_INCLUDED

#include "xinf.h"

typedef struct _xinf_guard_t xinf_guard_t;

//  Secures the actor's ROUTER (call in init, before any bind). 'cert' is
//  the supervisor's key pair, owned by the caller and kept while the
//  actor runs.
xinf_guard_t *xinf_guard_new (xinf_ctx_t *ctx, zcert_t *cert);
void xinf_guard_destroy (xinf_guard_t **self_p, xinf_ctx_t *ctx);
//  True when the sender's role may send this message; else answers ERROR
//  FORBIDDEN and logs (bounded). A NULL guard admits everything.
bool xinf_guard_admit (xinf_guard_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);

#endif
