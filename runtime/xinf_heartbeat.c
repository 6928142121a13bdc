/*  xinf_heartbeat: liveness tracking with lost/recovered callbacks.  */
#include "xinf_heartbeat.h"

#include <assert.h>
#include <czmq.h>

typedef struct {
    char *name;
    int64_t last_seen;
    bool lost;
    int64_t lost_since;        //  when it was declared lost
} s_peer_t;

struct _xinf_heartbeat_t {
    int64_t interval_ms;
    int liveness;
    zhashx_t *peers;           //  name -> s_peer_t
    int64_t last_sent;
    xinf_heartbeat_lost_fn *on_lost;
    xinf_heartbeat_recovered_fn *on_recovered;
    void *arg;
};

static void
s_peer_destroy (void **item)
{
    s_peer_t *peer = (s_peer_t *) *item;
    free (peer->name);
    free (peer);
    *item = NULL;
}

xinf_heartbeat_t *
xinf_heartbeat_new (int64_t interval_ms, int liveness)
{
    assert (interval_ms > 0 && liveness > 0);
    xinf_heartbeat_t *self = calloc (1, sizeof *self);
    assert (self);
    self->interval_ms = interval_ms;
    self->liveness = liveness;
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_peer_destroy);
    self->last_sent = INT64_MIN / 2;
    return self;
}

void
xinf_heartbeat_destroy (xinf_heartbeat_t **self_p)
{
    if (self_p && *self_p) {
        xinf_heartbeat_t *self = *self_p;
        zhashx_destroy (&self->peers);
        free (self);
        *self_p = NULL;
    }
}

void
xinf_heartbeat_set_callbacks (xinf_heartbeat_t *self, xinf_heartbeat_lost_fn *on_lost,
                              xinf_heartbeat_recovered_fn *on_recovered, void *arg)
{
    self->on_lost = on_lost;
    self->on_recovered = on_recovered;
    self->arg = arg;
}

int64_t xinf_heartbeat_interval (xinf_heartbeat_t *self) { return self->interval_ms; }
int xinf_heartbeat_liveness (xinf_heartbeat_t *self) { return self->liveness; }
size_t xinf_heartbeat_size (xinf_heartbeat_t *self) { return zhashx_size (self->peers); }

void
xinf_heartbeat_add (xinf_heartbeat_t *self, const char *peer, int64_t now)
{
    if (zhashx_lookup (self->peers, peer))
        return;
    s_peer_t *entry = calloc (1, sizeof *entry);
    assert (entry);
    entry->name = strdup (peer);
    entry->last_seen = now;
    zhashx_insert (self->peers, peer, entry);
}

void
xinf_heartbeat_remove (xinf_heartbeat_t *self, const char *peer)
{
    zhashx_delete (self->peers, peer);
}

void
xinf_heartbeat_seen (xinf_heartbeat_t *self, const char *peer, int64_t now)
{
    s_peer_t *entry = (s_peer_t *) zhashx_lookup (self->peers, peer);
    if (!entry) {
        xinf_heartbeat_add (self, peer, now);
        return;
    }
    int64_t silence = now - entry->last_seen;
    entry->last_seen = now;
    if (entry->lost) {
        entry->lost = false;
        entry->lost_since = 0;
        if (self->on_recovered)
            self->on_recovered (entry->name, silence, self->arg);
    }
}

size_t
xinf_heartbeat_check (xinf_heartbeat_t *self, int64_t now)
{
    int64_t limit = self->interval_ms * self->liveness;
    size_t newly_lost = 0;
    //  Collect first: callbacks may add or remove peers
    zlistx_t *lost = zlistx_new ();
    zlistx_set_duplicator (lost, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (lost, (zlistx_destructor_fn *) zstr_free);
    for (s_peer_t *entry = (s_peer_t *) zhashx_first (self->peers); entry;
         entry = (s_peer_t *) zhashx_next (self->peers))
        if (!entry->lost && now - entry->last_seen >= limit) {
            entry->lost = true;
            entry->lost_since = now;
            zlistx_add_end (lost, entry->name);
        }
    for (char *name = (char *) zlistx_first (lost); name; name = (char *) zlistx_next (lost)) {
        s_peer_t *entry = (s_peer_t *) zhashx_lookup (self->peers, name);
        newly_lost++;
        if (entry && self->on_lost)
            self->on_lost (name, now - entry->last_seen, self->arg);
    }
    zlistx_destroy (&lost);
    return newly_lost;
}

bool
xinf_heartbeat_known (xinf_heartbeat_t *self, const char *peer)
{
    return zhashx_lookup (self->peers, peer) != NULL;
}

xinf_peer_state_t
xinf_heartbeat_state (xinf_heartbeat_t *self, const char *peer)
{
    s_peer_t *entry = (s_peer_t *) zhashx_lookup (self->peers, peer);
    return entry && entry->lost ? XINF_PEER_LOST : XINF_PEER_ALIVE;
}

int64_t
xinf_heartbeat_age (xinf_heartbeat_t *self, const char *peer, int64_t now)
{
    s_peer_t *entry = (s_peer_t *) zhashx_lookup (self->peers, peer);
    return entry ? now - entry->last_seen : -1;
}

int64_t
xinf_heartbeat_lost_since (xinf_heartbeat_t *self, const char *peer)
{
    s_peer_t *entry = (s_peer_t *) zhashx_lookup (self->peers, peer);
    return entry && entry->lost ? entry->lost_since : 0;
}

bool
xinf_heartbeat_send_due (xinf_heartbeat_t *self, int64_t now)
{
    return now - self->last_sent >= self->interval_ms;
}

void
xinf_heartbeat_sent (xinf_heartbeat_t *self, int64_t now)
{
    self->last_sent = now;
}
