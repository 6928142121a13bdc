/*  xinf_outbox: a worker's messages up to the supervisor, in order, kept
    while the link has no room.

    A supervisor that reads more slowly than a worker's replicas produce
    fills the link (the DEALER's high-water mark); a send then fails.
    RUN_DONE, RUN_FAILED or MODEL_STATE dropped there would leave a
    request waiting for its deadline or a failed replica listed ready, a
    dropped token a gap in the text. The outbox keeps what found no room,
    and everything after it, in order, and sends it when the link has room
    again (xinf_outbox_flush, on the agent's tick); past
    XINF_OUTBOX_MAX messages the oldest is dropped and said.
*/
#ifndef XINF_OUTBOX_H_INCLUDED
#define XINF_OUTBOX_H_INCLUDED

#include "xinf.h"

#define XINF_OUTBOX_MAX 100000

typedef struct _xinf_outbox_t xinf_outbox_t;

//  An outbox for the link '*upstream' (which may change or be NULL).
xinf_outbox_t *xinf_outbox_new (xinf_dealer_t **upstream);
void xinf_outbox_destroy (xinf_outbox_t **self_p);

//  Sends the message now when nothing waits and the link has room, else
//  keeps it behind what waits. Takes it; without a link it is dropped.
void xinf_outbox_send (xinf_outbox_t *self, xinf_msg_t **msg_p);
//  Sends what waits, in order, while the link has room; how many went.
size_t xinf_outbox_flush (xinf_outbox_t *self);

#endif
