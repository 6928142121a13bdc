/*  xinf_outbox: messages over one link, in order, kept while the link has
    no room (see xinf_outbox.h).  */
#include "xinf_outbox.h"

struct _xinf_outbox_t {
    xinf_outbox_send_fn *send;
    void *link;
    char name [64];
    zlist_t *waiting;                 //  xinf_msg_t, oldest first
    uint64_t dropped;
};

xinf_outbox_t *
xinf_outbox_new (xinf_outbox_send_fn *send, void *link, const char *name)
{
    xinf_outbox_t *self = calloc (1, sizeof *self);
    assert (self);
    self->send = send;
    self->link = link;
    snprintf (self->name, sizeof self->name, "%s", name);
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

//  Keeps a message behind what waits; the oldest goes past the limit.
static void
s_keep (xinf_outbox_t *self, xinf_msg_t **msg_p)
{
    if (zlist_size (self->waiting) >= XINF_OUTBOX_MAX) {
        xinf_msg_t *oldest = (xinf_msg_t *) zlist_pop (self->waiting);
        self->dropped++;
        if ((self->dropped & (self->dropped - 1)) == 0)     //  said at 1, 2, 4, 8 ...
            xinf_warn ("outbox", "link to %s full and %d messages waiting: %llu dropped so far, the oldest "
                       "first (this one %s)", self->name, XINF_OUTBOX_MAX, (unsigned long long) self->dropped,
                       xinf_msg_type (oldest));
        xinf_msg_destroy (&oldest);
    }
    zlist_append (self->waiting, *msg_p);
    *msg_p = NULL;
}

void
xinf_outbox_send (xinf_outbox_t *self, xinf_msg_t **msg_p)
{
    if (zlist_size (self->waiting))
        xinf_outbox_flush (self);
    if (zlist_size (self->waiting) == 0 && (self->send (self->link, msg_p) == 0 || errno != EAGAIN))
        return;                       //  it went, or could not go at all
    s_keep (self, msg_p);
}

size_t
xinf_outbox_flush (xinf_outbox_t *self)
{
    size_t sent = 0;
    xinf_msg_t *msg;
    while ((msg = (xinf_msg_t *) zlist_first (self->waiting))) {
        if (self->send (self->link, &msg) && errno == EAGAIN)
            break;                    //  still full: it waits on
        zlist_pop (self->waiting);    //  went, or was dropped by its send
        sent++;
    }
    return sent;
}

int
xinf_outbox_dealer_send (void *dealer_p, xinf_msg_t **msg_p)
{
    xinf_dealer_t *dealer = *(xinf_dealer_t **) dealer_p;
    if (!dealer) {
        xinf_msg_destroy (msg_p);
        errno = ENOTCONN;
        return -1;
    }
    //  ZMQ_EVENTS processes the socket's pending commands: the room it
    //  says is there is there for this message
    if (!(zsock_events (xinf_dealer_sock (dealer)) & ZMQ_POLLOUT)) {
        errno = EAGAIN;
        return -1;
    }
    if (xinf_dealer_send (dealer, msg_p) == 0)
        return 0;
    if (errno == EAGAIN)
        errno = ENOBUFS;              //  consumed all the same
    return -1;
}
