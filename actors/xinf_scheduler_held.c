/*  xinf_scheduler_held: the scheduler's terminal answers that a client
    cannot take yet, held and sent again: an adopted request's while its
    client may still be reconnecting after a supervisor restart, and one
    for a client whose queue at the supervisor is full.  */
#include "xinf_scheduler_private.h"

#include <errno.h>

//  An answer its client cannot take yet: an adopted request's while its
//  client may still be reconnecting to this restarted supervisor (until
//  the grace period ends), or one whose client's queue is full ('slow':
//  tried again with a growing pause until 'until').
typedef struct {
    char client [512];
    xinf_msg_t *answer;
    bool slow;
    int64_t until, next_try, pause;
} s_held_t;

void
xinf_sched_held_free (void **item)
{
    s_held_t *held = (s_held_t *) *item;
    xinf_msg_destroy (&held->answer);
    free (held);
    *item = NULL;
}

//  A copy of an answer (answers carry no binary frames).
static xinf_msg_t *
s_copy (xinf_msg_t *msg)
{
    xinf_msg_t *copy = xinf_msg_new (xinf_msg_type (msg));
    xinf_msg_set_corr (copy, xinf_msg_corr (msg));
    xinf_value_t *body = xinf_msg_body (msg);
    for (size_t at = 0; at < xinf_value_count (body); at++)
        xinf_map_put (xinf_msg_body (copy), xinf_map_key_at (body, at), xinf_value_dup (xinf_map_value_at (body, at)));
    return copy;
}

//  Keeps an answer (taken) that its client cannot take now, to be tried
//  again each tick: 'slow' for a client whose queue is full, else an
//  adopted request's while the grace period lasts.
static void
s_hold (xinf_scheduler_t *self, const char *client, xinf_msg_t **answer_p, bool slow)
{
    s_held_t *held = calloc (1, sizeof *held);
    assert (held);
    snprintf (held->client, sizeof held->client, "%s", client);
    held->answer = *answer_p;
    *answer_p = NULL;
    held->slow = slow;
    held->until = self->now + XINF_SCHED_HOLD_MS;
    held->pause = slow ? 50 : 0;
    held->next_try = self->now + held->pause;
    zlistx_add_end (self->held, held);
}

//  Sends a terminal answer (consumed). One the client cannot take now is
//  held: its queue is full (EAGAIN), or 'grace' (an adopted request's
//  client may still be reconnecting). -1 only when the client is gone.
int
xinf_sched_send_answer (xinf_scheduler_t *self, const char *client, xinf_msg_t **answer_p, bool grace)
{
    xinf_msg_t *copy = s_copy (*answer_p);
    int rc = self->io.to_client (self->io.arg, client, answer_p);
    int reason = errno;
    if (rc && (grace || reason == EAGAIN)) {
        s_hold (self, client, &copy, !grace);
        rc = 0;
    }
    xinf_msg_destroy (&copy);
    errno = reason;
    return rc;
}

//  Tries one held answer again; true when it is done with (delivered, or
//  given up: logged and counted), with 'gone' set when its client is.
static bool
s_retry_held (xinf_scheduler_t *self, s_held_t *held, bool *gone)
{
    *gone = false;
    if (self->now < held->next_try)
        return false;
    xinf_msg_t *copy = s_copy (held->answer);
    if (self->io.to_client (self->io.arg, held->client, &copy) == 0)
        return true;
    unsigned long long corr = (unsigned long long) xinf_msg_corr (held->answer);
    if (held->slow && errno != EAGAIN) {
        *gone = true;
        self->undelivered++;
        xinf_warn ("scheduler", "answer undelivered client=%s corr=%llu: the client is gone", held->client, corr);
        return true;
    }
    if (self->now >= (held->slow ? held->until : self->grace_until)) {
        self->undelivered++;
        if (held->slow)
            xinf_warn ("scheduler", "answer undelivered client=%s corr=%llu: the client read nothing for %d ms",
                       held->client, corr, XINF_SCHED_HOLD_MS);
        else
            xinf_warn ("scheduler", "answer undelivered client=%s corr=%llu: the client did not come back after "
                       "the supervisor restart", held->client, corr);
        return true;
    }
    held->pause = held->pause * 2 > 1000 ? 1000 : held->pause * 2;
    held->next_try = self->now + held->pause;
    return false;
}

//  Two client ids compared (the list of clients found gone).
static int
s_same_text (void *left, void *right)
{
    return strcmp ((const char *) left, (const char *) right);
}

//  Held answers go out once their clients take them; those of adopted
//  requests are given up after the grace period, those of slow clients
//  after XINF_SCHED_HOLD_MS or when the client is found gone (its other
//  requests are then cancelled).
void
xinf_sched_deliver_held (xinf_scheduler_t *self)
{
    zlist_t *done = zlist_new ();
    zlist_t *gone = zlist_new ();
    zlist_autofree (gone);
    zlist_comparefn (gone, s_same_text);
    for (s_held_t *held = (s_held_t *) zlistx_first (self->held); held; held = (s_held_t *) zlistx_next (self->held)) {
        bool client_gone;
        if (s_retry_held (self, held, &client_gone))
            zlist_append (done, zlistx_cursor (self->held));
        if (client_gone && !zlist_exists (gone, held->client))
            zlist_append (gone, held->client);
    }
    for (void *handle = zlist_first (done); handle; handle = zlist_next (done))
        zlistx_delete (self->held, handle);
    zlist_destroy (&done);
    for (char *client = (char *) zlist_first (gone); client; client = (char *) zlist_next (gone))
        xinf_sched_client_gone (self, client, "its answer could not be delivered");
    zlist_destroy (&gone);
}

//  A client is gone: its answers held while its queue was full go nowhere.
void
xinf_sched_drop_held (xinf_scheduler_t *self, const char *client)
{
    zlist_t *dropped = zlist_new ();
    for (s_held_t *held = (s_held_t *) zlistx_first (self->held); held; held = (s_held_t *) zlistx_next (self->held))
        if (held->slow && streq (held->client, client))
            zlist_append (dropped, zlistx_cursor (self->held));
    for (void *handle = zlist_first (dropped); handle; handle = zlist_next (dropped)) {
        self->undelivered++;
        zlistx_delete (self->held, handle);
    }
    zlist_destroy (&dropped);
}
