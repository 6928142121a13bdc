/*  xinf_bstar: the Binary Star state machine and the link to the peer.  */
#include "xinf_bstar.h"
#include "xinf_envelope_msg.h"

struct _xinf_bstar_t {
    xinf_bstar_state_t state;
    bool primary;                      //  configured: the primary wins a tie
    char peer [256];
    int64_t interval_ms, expiry_ms;
    int64_t peer_heard;                //  monotonic ms, 0: never
    xinf_dealer_t *dealer;             //  to the peer's client port
    char refusal [600];                //  the link's last failed handshake, said once
    bool refused;                      //  it failed, and the peer was not heard since
};

xinf_bstar_t *
xinf_bstar_new (bool primary, const char *peer, int64_t interval_ms, int64_t expiry_ms)
{
    xinf_bstar_t *self = calloc (1, sizeof *self);
    assert (self);
    self->state = primary ? XINF_BSTAR_PRIMARY : XINF_BSTAR_BACKUP;
    self->primary = primary;
    snprintf (self->peer, sizeof self->peer, "%s", peer);
    self->interval_ms = interval_ms;
    self->expiry_ms = expiry_ms;
    return self;
}

void
xinf_bstar_destroy (xinf_bstar_t **self_p)
{
    if (self_p && *self_p) {
        xinf_dealer_destroy (&(*self_p)->dealer);
        free (*self_p);
        *self_p = NULL;
    }
}

static const char *s_names [] = { NULL, "primary", "backup", "active", "passive" };

const char *
xinf_bstar_state_name (xinf_bstar_state_t state)
{
    return state >= XINF_BSTAR_PRIMARY && state <= XINF_BSTAR_PASSIVE ? s_names [state] : NULL;
}

xinf_bstar_state_t
xinf_bstar_state_parse (const char *name)
{
    for (int state = XINF_BSTAR_PRIMARY; name && state <= XINF_BSTAR_PASSIVE; state++)
        if (streq (name, s_names [state]))
            return (xinf_bstar_state_t) state;
    return 0;
}

xinf_bstar_state_t xinf_bstar_state (xinf_bstar_t *self) { return self->state; }
const char *xinf_bstar_peer (xinf_bstar_t *self) { return self->peer; }
int64_t xinf_bstar_peer_heard (xinf_bstar_t *self) { return self->peer_heard; }

static void
s_become (xinf_bstar_t *self, xinf_bstar_state_t state, const char *why)
{
    if (state == self->state)
        return;
    xinf_info ("supervisor", "standby state %s -> %s: %s", s_names [self->state], s_names [state], why);
    self->state = state;
}

xinf_bstar_state_t
xinf_bstar_peer_state (xinf_bstar_t *self, xinf_bstar_state_t peer, int64_t now)
{
    self->peer_heard = now;
    self->refused = false;
    if (self->state == XINF_BSTAR_PRIMARY && peer == XINF_BSTAR_BACKUP)
        s_become (self, XINF_BSTAR_ACTIVE, "the backup is up: this primary serves");
    else
    if ((self->state == XINF_BSTAR_PRIMARY || self->state == XINF_BSTAR_BACKUP) && peer == XINF_BSTAR_ACTIVE)
        s_become (self, XINF_BSTAR_PASSIVE, "the peer is active: this one stands by");
    else
    if (self->state == XINF_BSTAR_PASSIVE && (peer == XINF_BSTAR_PRIMARY || peer == XINF_BSTAR_BACKUP))
        s_become (self, XINF_BSTAR_ACTIVE, "the peer restarted: this one serves, the peer will stand by");
    else
    if (self->state == XINF_BSTAR_ACTIVE && peer == XINF_BSTAR_ACTIVE) {
        //  Both active (a split healed): the backup steps down, its workers
        //  and clients move to the primary
        xinf_error ("supervisor", "standby: both supervisors are active (a healed split?): %s",
                    self->primary ? "this primary stays active" : "this backup steps down");
        if (!self->primary)
            s_become (self, XINF_BSTAR_PASSIVE, "both were active: the backup stands by");
    }
    return self->state;
}

bool
xinf_bstar_request (xinf_bstar_t *self, int64_t now)
{
    if (self->state == XINF_BSTAR_PRIMARY || self->state == XINF_BSTAR_ACTIVE)
        return true;
    if (self->state == XINF_BSTAR_PASSIVE && self->peer_heard && now - self->peer_heard >= self->expiry_ms) {
        char quiet [sizeof self->refusal + 128], why [sizeof quiet + 64];
        xinf_textf (why, sizeof why, "the peer %s and a request came here: fail-over",
                    xinf_bstar_quiet (self, now, quiet, sizeof quiet));
        s_become (self, XINF_BSTAR_ACTIVE, why);
        return true;
    }
    return false;
}

const char *
xinf_bstar_quiet (xinf_bstar_t *self, int64_t now, char *text, size_t size)
{
    if (self->refused)
        return xinf_textf (text, size, "is not heard for %lld ms: our link to it %s",
                           (long long) (now - self->peer_heard), self->refusal);
    return xinf_textf (text, size, "is silent for %lld ms", (long long) (now - self->peer_heard));
}

//  The peer answers nothing to HA_STATE but an ERROR (an old version):
//  read and log it, so nothing piles up.
static void
s_on_peer_reply (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    xinf_bstar_t *self = (xinf_bstar_t *) arg;
    char error [256];
    xinf_msg_t *msg = xinf_dealer_recv (self->dealer, 0, error, sizeof error);
    if (msg && xinf_msg_is (msg, "ERROR")) {
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_envelope_msg_error_t answer;
        xinf_envelope_msg_error_decode (xinf_msg_body (msg), &answer, &check);
        xinf_warn ("supervisor", "standby peer %s answered HA_STATE with ERROR %s%s%s%s", self->peer,
                   answer.code ? answer.code : "?", check.failed ? " (malformed: " : "",
                   check.failed ? check.reason : "", check.failed ? ")" : "");
    }
    xinf_msg_destroy (&msg);
}

void
xinf_bstar_start (xinf_bstar_t *self, xinf_ctx_t *ctx, zcert_t *cert)
{
    self->dealer = cert ? xinf_dealer_new_secure (self->peer, "supervisor-peer", cert, zcert_public_txt (cert), NULL)
                        : xinf_dealer_new (self->peer, "supervisor-peer");
    //  Only a live connection takes HA_STATE: a stale one is worthless
    if (self->dealer) {
        zsock_set_immediate (xinf_dealer_sock (self->dealer), 1);
        xinf_ctx_reader (ctx, xinf_dealer_sock (self->dealer), s_on_peer_reply, self);
    }
}

//  A refused handshake on the link is said once, as what it is.
static void
s_check_handshake (xinf_bstar_t *self)
{
    char words [sizeof self->refusal];
    if (xinf_dealer_refusal (self->dealer, words, sizeof words) == 0)
        return;
    self->refused = true;
    if (streq (words, self->refusal))
        return;
    snprintf (self->refusal, sizeof self->refusal, "%s", words);
    xinf_error ("supervisor", "the standby peer %s %s (on the pair's link the server key is our own --cert's: "
                "the two supervisors of a pair share one key pair of role supervisor, whose public file is in both "
                "--keys directories)", self->peer, words);
}

void
xinf_bstar_tick (xinf_bstar_t *self, xinf_value_t *extra)
{
    if (!self->dealer) {
        xinf_value_destroy (&extra);
        return;
    }
    s_check_handshake (self);
    xinf_msg_t *msg = xinf_msg_new ("HA_STATE");
    for (size_t index = 0; extra && index < xinf_value_count (extra); index++)
        xinf_map_put (xinf_msg_body (msg), xinf_map_key_at (extra, index), xinf_value_dup (xinf_map_value_at (extra, index)));
    xinf_value_destroy (&extra);
    xinf_map_put_str (xinf_msg_body (msg), "state", s_names [self->state]);
    xinf_dealer_send (self->dealer, &msg);     //  a refused one is a missed one
}
