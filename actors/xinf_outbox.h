/*  xinf_outbox: messages over one link, in order, kept while the link has
    no room.

    A reader slower than its writer fills the link (a socket's high-water
    mark); a send then fails. RUN_DONE, RUN_FAILED or MODEL_STATE dropped
    there would leave a request waiting for its deadline or a failed
    replica listed ready, a dropped token a gap in the text. The outbox
    keeps what found no room, and everything after it, in order, and
    sends it once the link has room again (each later send tries first,
    and xinf_outbox_flush on its owner's tick); past XINF_OUTBOX_MAX
    messages the oldest is dropped and said.

    Two links use it: a worker's DEALER up to the supervisor
    (xinf_outbox_dealer_send) and a replica's ROUTER up to its worker
    agent (over inproc, with xinf_router_try_send).
*/
#ifndef XINF_OUTBOX_H_INCLUDED
#define XINF_OUTBOX_H_INCLUDED

#include "xinf.h"

#define XINF_OUTBOX_MAX 100000

typedef struct _xinf_outbox_t xinf_outbox_t;

//  Sends one message on a link: 0 when it went; -1 with errno EAGAIN when
//  the link is full, the message left in *msg_p; -1 with another errno
//  when it could not go at all (it is consumed, dropped).
typedef int (xinf_outbox_send_fn) (void *link, xinf_msg_t **msg_p);

//  An outbox over 'link' through 'send'; 'name' says which link in logs
//  ("the supervisor").
xinf_outbox_t *xinf_outbox_new (xinf_outbox_send_fn *send, void *link, const char *name);
void xinf_outbox_destroy (xinf_outbox_t **self_p);

//  Sends the message now when nothing waits and the link has room, else
//  keeps it behind what waits. Takes it.
void xinf_outbox_send (xinf_outbox_t *self, xinf_msg_t **msg_p);
//  Sends what waits, in order, while the link has room; how many went.
size_t xinf_outbox_flush (xinf_outbox_t *self);

//  The send of a link that is a DEALER at *(xinf_dealer_t **) 'dealer_p'
//  (it may change; while NULL, messages are dropped): room is the
//  socket's ZMQ_POLLOUT, asked before each message.
int xinf_outbox_dealer_send (void *dealer_p, xinf_msg_t **msg_p);

#endif
