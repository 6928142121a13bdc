/*  xinf_outbox: a worker's messages up to the supervisor, in order, kept
    while the link has no room (see xinf_outbox.h).  */
#include "xinf_outbox.h"

struct _xinf_outbox_t {
    xinf_dealer_t **upstream;
    zlist_t *waiting;                 //  xinf_msg_t, oldest first
    uint64_t dropped;
};

xinf_outbox_t *
xinf_outbox_new (xinf_dealer_t **upstream)
{
    xinf_outbox_t *self = calloc (1, sizeof *self);
    assert (self);
    self->upstream = upstream;
    self->waiting = zlist_new ();
    return self;
}

void
xinf_outbox_destroy (xinf_outbox_t **self_p)
{
    if (self_p && *self_p) {
        xinf_outbox_t *self = *self_p;
        xinf_msg_t *msg;
        while ((msg = (xinf_msg_t *) zlist_pop (self->waiting)))
            xinf_msg_destroy (&msg);
        zlist_destroy (&self->waiting);
        free (self);
        *self_p = NULL;
    }
}

//  Whether the link takes a message now (ZMQ_POLLOUT: a send would not
//  fail with EAGAIN).
static bool
s_room (xinf_outbox_t *self)
{
    return *self->upstream && (zsock_events (xinf_dealer_sock (*self->upstream)) & ZMQ_POLLOUT) != 0;
}

void
xinf_outbox_send (xinf_outbox_t *self, xinf_msg_t **msg_p)
{
    if (!*self->upstream) {
        xinf_msg_destroy (msg_p);
        return;
    }
    if (zlist_size (self->waiting) == 0 && s_room (self)) {
        xinf_dealer_send (*self->upstream, msg_p);
        return;
    }
    if (zlist_size (self->waiting) >= XINF_OUTBOX_MAX) {
        xinf_msg_t *oldest = (xinf_msg_t *) zlist_pop (self->waiting);
        self->dropped++;
        if ((self->dropped & (self->dropped - 1)) == 0)     //  said at 1, 2, 4, 8 ...
            xinf_warn ("worker", "supervisor link full and %d messages waiting: %llu dropped so far, the oldest "
                       "first (this one %s)", XINF_OUTBOX_MAX, (unsigned long long) self->dropped,
                       xinf_msg_type (oldest));
        xinf_msg_destroy (&oldest);
    }
    zlist_append (self->waiting, *msg_p);
    *msg_p = NULL;
}

size_t
xinf_outbox_flush (xinf_outbox_t *self)
{
    size_t sent = 0;
    while (zlist_size (self->waiting) && s_room (self)) {
        xinf_msg_t *msg = (xinf_msg_t *) zlist_pop (self->waiting);
        xinf_dealer_send (*self->upstream, &msg);
        sent++;
    }
    return sent;
}
