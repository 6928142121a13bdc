/*  xinf_relay: the supervisor's side of TOKENIZE and DETOKENIZE.

    A client asks the supervisor; the supervisor checks every field, picks
    a ready replica of the model and sends TOKENIZE (mode tokenize or
    detokenize) to its worker, which hands it to the replica; the replica's
    TOKENIZE_RESULT comes back up and is answered to the client as
    TOKENIZE_REPLY / DETOKENIZE_REPLY, or ERROR. A request whose result
    does not come by its deadline is answered ERROR DEADLINE_EXCEEDED.
*/
#ifndef XINF_RELAY_H_INCLUDED
#define XINF_RELAY_H_INCLUDED

#include "xinf.h"

typedef struct _xinf_relay_t xinf_relay_t;

xinf_relay_t *xinf_relay_new (void);
void xinf_relay_destroy (xinf_relay_t **self_p);

//  The worker's TOKENIZE for a client's TOKENIZE or DETOKENIZE to replica
//  'replica' of 'uid', remembered until its result; NULL with the reason
//  in 'check' when a field is bad.
xinf_msg_t *xinf_relay_begin (xinf_relay_t *self, xinf_msg_t *request, const char *client, const char *uid,
                              uint64_t replica, xinf_check_t *check);
//  Forgets the request begun last (its TOKENIZE could not be sent).
void xinf_relay_abort (xinf_relay_t *self);
//  A worker's TOKENIZE_RESULT: the client's answer.
void xinf_relay_result (xinf_relay_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg);
//  Answers the requests past their deadline.
void xinf_relay_tick (xinf_relay_t *self, xinf_ctx_t *ctx, int64_t now);

#endif
