/*  xinf_guard: CURVE server, role check and refused handshakes for the
    supervisor's ROUTER.  */
#include "xinf_guard.h"

struct _xinf_guard_t {
    xinf_auth_monitor_t *monitor;
    int64_t window_start;          //  bounded logging of refused handshakes
    unsigned logged;
    uint64_t unlogged;
};

static void s_complain (xinf_guard_t *self, xinf_handshake_t outcome, int value, const char *endpoint);

//  A handshake event on the ROUTER: a refused key or a client without one.
static void
s_on_handshake (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    xinf_guard_t *self = (xinf_guard_t *) arg;
    int value = 0;
    char endpoint [256] = "";
    xinf_handshake_t outcome;
    while ((outcome = xinf_auth_monitor_poll (self->monitor, &value, endpoint, sizeof endpoint)) != XINF_HANDSHAKE_NONE)
        if (outcome != XINF_HANDSHAKE_OK)
            s_complain (self, outcome, value, endpoint);
}

static void
s_complain (xinf_guard_t *self, xinf_handshake_t outcome, int value, const char *endpoint)
{
    int64_t now = zclock_mono ();
    if (now - self->window_start >= XINF_COMPLAIN_WINDOW_MS) {
        self->window_start = now;
        self->logged = 0;
    }
    if (self->logged >= XINF_COMPLAIN_MAX) {
        self->unlogged++;
        return;
    }
    self->logged++;
    uint64_t count = self->unlogged + 1;
    self->unlogged = 0;
    xinf_warn ("supervisor", "refused a connection on %s: %s (%s %d) count=%llu", endpoint,
               outcome == XINF_HANDSHAKE_REFUSED ? "its key is not among --keys"
               : outcome == XINF_HANDSHAKE_MISMATCH ? "a client without CURVE keys"
               : "a failed handshake (a client without keys, or with the wrong server key?)",
               outcome == XINF_HANDSHAKE_REFUSED ? "ZAP status" : "libzmq error", value,
               (unsigned long long) count);
}

xinf_guard_t *
xinf_guard_new (xinf_ctx_t *ctx, zcert_t *cert)
{
    xinf_guard_t *self = calloc (1, sizeof *self);
    assert (self);
    zsock_t *router = xinf_router_sock (xinf_ctx_router (ctx));
    xinf_auth_curve_server (router, cert);
    self->monitor = xinf_auth_monitor_new (router);
    if (self->monitor)
        xinf_ctx_reader (ctx, xinf_auth_monitor_sock (self->monitor), s_on_handshake, self);
    return self;
}

void
xinf_guard_destroy (xinf_guard_t **self_p, xinf_ctx_t *ctx)
{
    if (self_p && *self_p) {
        xinf_guard_t *self = *self_p;
        if (self->monitor) {
            xinf_ctx_reader_end (ctx, xinf_auth_monitor_sock (self->monitor));
            xinf_auth_monitor_destroy (&self->monitor);
        }
        free (self);
        *self_p = NULL;
    }
}

bool
xinf_guard_admit (xinf_guard_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    if (!self)
        return true;
    xinf_role_t role = xinf_role_parse (xinf_peer_role (from));
    if (xinf_role_allows (role, xinf_msg_type (msg)))
        return true;
    uint64_t count = xinf_peer_may_complain (from, zclock_mono ());
    if (count)
        xinf_warn ("supervisor", "forbidden type=%s role=%s key=%s peer=%s address=%s count=%llu",
                   xinf_msg_type (msg), xinf_role_name (role), *xinf_peer_key_name (from) ? xinf_peer_key_name (from) : "-",
                   xinf_peer_id (from), xinf_peer_address (from), (unsigned long long) count);
    xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "FORBIDDEN", "a key of role '%s' may not send %s",
                          xinf_role_name (role), xinf_msg_type (msg));
    return false;
}
