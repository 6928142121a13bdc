/*  xinf_mesh: connectivity mesh sessions (doctor and launch preflight).  */
#include "xinf_mesh.h"
#include "xinf_node_msg.h"

#include <stdarg.h>

typedef struct {
    uint64_t id;
    int64_t deadline;
    xinf_value_t *expected;            //  array of node names that probe
    xinf_value_t *results;             //  map node -> results array
    xinf_mesh_done_fn *fn;
    void *arg;
} s_session_t;

struct _xinf_mesh_t {
    xinf_cluster_t *cluster;
    zlistx_t *sessions;
    uint64_t next_id;
};

static void
s_session_destroy (s_session_t **session_p)
{
    if (*session_p) {
        xinf_value_destroy (&(*session_p)->expected);
        xinf_value_destroy (&(*session_p)->results);
        free (*session_p);
        *session_p = NULL;
    }
}

static void
s_session_free (void **item)
{
    s_session_destroy ((s_session_t **) item);
}

xinf_mesh_t *
xinf_mesh_new (xinf_cluster_t *cluster)
{
    xinf_mesh_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    self->sessions = zlistx_new ();
    zlistx_set_destructor (self->sessions, s_session_free);
    self->next_id = 1;
    return self;
}

void
xinf_mesh_destroy (xinf_mesh_t **self_p)
{
    if (self_p && *self_p) {
        zlistx_destroy (&(*self_p)->sessions);
        free (*self_p);
        *self_p = NULL;
    }
}

static const char *
s_str (const xinf_value_t *map, const char *key)
{
    const char *text = xinf_value_str (xinf_map_get (map, key));
    return text ? text : "";
}

static bool
s_named (const xinf_value_t *names, const char *node)
{
    if (!names)
        return true;
    for (size_t index = 0; index < xinf_value_count (names); index++)
        if (xinf_value_str (xinf_array_at (names, index))
        &&  streq (xinf_value_str (xinf_array_at (names, index)), node))
            return true;
    return false;
}

void
xinf_mesh_range_targets (const xinf_value_t *workers, size_t ports_each, xinf_value_t *targets)
{
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        uint64_t listener = xinf_value_uint (xinf_map_get (worker, "data_port"));
        const xinf_value_t *range = xinf_map_get (worker, "data_ports");
        uint64_t low = xinf_value_uint (xinf_array_at (range, 0)), high = xinf_value_uint (xinf_array_at (range, 1));
        if (!streq (s_str (worker, "state"), "alive") || !listener || !low || high < low)
            continue;
        const char *host = s_str (worker, "host_ip");
        size_t added = 0;
        for (uint64_t port = low; port <= high && added < ports_each; port++) {
            if (port == listener)
                continue;
            char endpoint [128];
            xinf_endpoint_tcp (endpoint, sizeof endpoint, host, port);
            xinf_value_t *target = xinf_value_new_map ();
            xinf_map_put_str (target, "node", s_str (worker, "node"));
            xinf_map_put_str (target, "endpoint", endpoint);
            xinf_map_put_bool (target, "tcp_only", true);
            xinf_map_put_bool (target, "closed_ok", true);
            xinf_array_push (targets, target);
            added++;
        }
    }
}

xinf_value_t *
xinf_mesh_targets (const xinf_value_t *workers, const xinf_value_t *names)
{
    xinf_value_t *targets = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        uint64_t port = xinf_value_uint (xinf_map_get (worker, "data_port"));
        if (!streq (s_str (worker, "state"), "alive") || !port || !s_named (names, s_str (worker, "node")))
            continue;
        char endpoint [128];
        const char *host = s_str (worker, "host_ip");
        xinf_endpoint_tcp (endpoint, sizeof endpoint, host, port);
        xinf_value_t *target = xinf_value_new_map ();
        xinf_map_put_str (target, "node", s_str (worker, "node"));
        xinf_map_put_str (target, "endpoint", endpoint);
        if (*s_str (worker, "key"))       //  keys on: the dialer accepts only this listener
            xinf_map_put_str (target, "key", s_str (worker, "key"));
        xinf_array_push (targets, target);
    }
    return targets;
}

static void
s_finish (xinf_mesh_t *self, xinf_ctx_t *ctx, s_session_t *session)
{
    session->fn (ctx, session->id, session->expected, session->results, session->arg);
}

uint64_t
xinf_mesh_start (xinf_mesh_t *self, xinf_ctx_t *ctx, const xinf_value_t *targets, uint64_t timeout_ms,
                 xinf_mesh_done_fn *fn, void *arg)
{
    s_session_t *session = calloc (1, sizeof *session);
    assert (session);
    session->id = self->next_id++;
    //  Connects take up to the timeout, handshakes up to half of it more
    session->deadline = zclock_mono () + (int64_t) timeout_ms * 3 / 2 + 1000;
    session->expected = xinf_value_new_array ();
    session->results = xinf_value_new_map ();
    session->fn = fn;
    session->arg = arg;
    //  A node may stand for several targets (its probe listener, ports of
    //  its range): it is asked once, to probe every other node's targets
    size_t count = xinf_value_count (targets);
    for (size_t index = 0; count > 1 && index < count; index++) {
        const char *node = s_str (xinf_array_at (targets, index), "node");
        bool asked = false;
        for (size_t at = 0; at < index && !asked; at++)
            asked = streq (s_str (xinf_array_at (targets, at), "node"), node);
        xinf_value_t *others = xinf_value_new_array ();
        for (size_t at = 0; !asked && at < count; at++)
            if (!streq (s_str (xinf_array_at (targets, at), "node"), node))
                xinf_array_push (others, xinf_value_dup (xinf_array_at (targets, at)));
        if (xinf_value_count (others) == 0) {
            xinf_value_destroy (&others);
            continue;
        }
        xinf_msg_t *probe = xinf_msg_new ("PROBE_MESH");
        xinf_map_put_uint (xinf_msg_body (probe), "session", session->id);
        xinf_map_put_uint (xinf_msg_body (probe), "timeout_ms", timeout_ms);
        xinf_map_put (xinf_msg_body (probe), "targets", others);
        const char *peer_id = xinf_cluster_peer_of (self->cluster, node);
        xinf_peer_t *peer = peer_id ? xinf_router_peer (xinf_ctx_router (ctx), peer_id) : NULL;
        if (xinf_router_send (xinf_ctx_router (ctx), peer, &probe) == 0)
            xinf_array_push (session->expected, xinf_value_new_str (node));
    }
    //  With nobody to ask, the next tick ends it (never a call back from here)
    if (xinf_value_count (session->expected) == 0)
        session->deadline = 0;
    zlistx_add_end (self->sessions, session);
    return session->id;
}

void
xinf_mesh_cancel (xinf_mesh_t *self, uint64_t id)
{
    for (s_session_t *session = (s_session_t *) zlistx_first (self->sessions); session;
         session = (s_session_t *) zlistx_next (self->sessions))
        if (session->id == id) {
            zlistx_delete (self->sessions, zlistx_cursor (self->sessions));
            return;
        }
}

static bool
s_expected (s_session_t *session, const char *node)
{
    for (size_t index = 0; index < xinf_value_count (session->expected); index++)
        if (streq (xinf_value_str (xinf_array_at (session->expected, index)), node))
            return true;
    return false;
}

bool
xinf_mesh_handle (xinf_mesh_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    if (!xinf_msg_is (msg, "PROBE_RESULT"))
        return false;
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_node_msg_probe_result_t result;
    xinf_node_msg_probe_result_decode (body, &result, &check);
    uint64_t id = result.session;
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    if (check.failed || !node) {
        xinf_warn ("supervisor", "PROBE_RESULT ignored reason=\"%s\"", check.failed ? check.reason : "unregistered sender");
        return true;
    }
    for (s_session_t *session = (s_session_t *) zlistx_first (self->sessions); session;
         session = (s_session_t *) zlistx_next (self->sessions)) {
        if (session->id != id)
            continue;
        if (!s_expected (session, node)) {
            xinf_warn ("supervisor", "PROBE_RESULT for session %llu from %s, which was not asked: ignored",
                       (unsigned long long) id, node);
            return true;
        }
        xinf_map_put (session->results, node, xinf_map_take (body, "results"));
        if (xinf_value_count (session->results) == xinf_value_count (session->expected)) {
            void *cursor = zlistx_cursor (self->sessions);
            zlistx_detach (self->sessions, cursor);
            s_finish (self, ctx, session);
            s_session_destroy (&session);
        }
        return true;
    }
    return true;                       //  a session that ended already
}

void
xinf_mesh_tick (xinf_mesh_t *self, xinf_ctx_t *ctx, int64_t now)
{
    s_session_t *session = (s_session_t *) zlistx_first (self->sessions);
    while (session) {
        if (now > session->deadline) {
            zlistx_detach (self->sessions, zlistx_cursor (self->sessions));
            s_finish (self, ctx, session);
            s_session_destroy (&session);
            session = (s_session_t *) zlistx_first (self->sessions);
        }
        else
            session = (s_session_t *) zlistx_next (self->sessions);
    }
}

static void
s_problem (xinf_value_t *problems, const char *format, ...)
{
    char text [768];
    va_list args;
    va_start (args, format);
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    xinf_array_push (problems, xinf_value_new_str (text));
}

//  A refused probe port: a worker heard from lately runs, so the address
//  is likely wrong; one silent for longer than a heartbeat may be down.
static void
s_fix_refused (xinf_mesh_t *self, char *fix, size_t size, const char *to, const char *endpoint, const char *host,
               int host_length)
{
    int64_t silence = xinf_cluster_silence_ms (self->cluster, to, zclock_mono ());
    int64_t interval = xinf_cluster_heartbeat_interval (self->cluster);
    if (silence > interval + interval / 5)
        snprintf (fix, size, "refused on its probe port; last heartbeat %.1f s ago (every %.1f s): the worker may "
                  "be down (crashed or stopped): check %s's process", (double) silence / 1000,
                  (double) interval / 1000, to);
    else
        snprintf (fix, size, "nothing listens on %s although %s sent a heartbeat %.1f s ago: is %.*s the right "
                  "address of %s? set -H / XINF_HOST_IP on %s", endpoint, to, (double) (silence > 0 ? silence : 0) / 1000,
                  host_length, host, to, to);
}

static void
s_fix (xinf_mesh_t *self, char *fix, size_t size, const char *status, const char *to, const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    const char *host = strncmp (endpoint, "tcp://", 6) == 0 ? endpoint + 6 : endpoint;
    int host_length = colon ? (int) (colon - host) : (int) strlen (host);
    uint64_t low = 0, high = 0;
    char ports [48];
    if (xinf_cluster_data_ports (self->cluster, to, &low, &high) && low < high)
        snprintf (ports, sizeof ports, "%llu-%llu", (unsigned long long) low, (unsigned long long) high);
    else
        snprintf (ports, sizeof ports, "%s", colon ? colon + 1 : "?");
    //  The whole range: the collectives bind any free port of it
    if (streq (status, "timeout") || streq (status, "unreachable"))
        snprintf (fix, size, "open %s/tcp on %.*s to the other workers (firewall, security group), "
                  "or if %.*s is not %s's address, set -H / XINF_HOST_IP on %s", ports,
                  host_length, host, host_length, host, to, to);
    else
    if (streq (status, "refused"))
        s_fix_refused (self, fix, size, to, endpoint, host, host_length);
    else
    if (streq (status, "busy"))
        snprintf (fix, size, "%s was busy with 4 other probe runs (doctor or launches at the same time): try again", to);
    else
    if (streq (status, "wrong_peer"))
        snprintf (fix, size, "%s reaches another node: set -H / XINF_HOST_IP on %s to its own address", endpoint, to);
    else
    if (streq (status, "keys"))
        snprintf (fix, size, "the CURVE keys: every worker's public key in the supervisor's --keys, and the "
                  "same --keys/--server-key on %s as on the others", to);
    else
    if (streq (status, "not_zeromq"))
        snprintf (fix, size, "another program holds %s (it does not speak ZeroMQ): stop it, or give %s other "
                  "ports", endpoint, to);
    else
        snprintf (fix, size, "the port accepts connections but no xinf listener answered: another program "
                  "holds %s, or %s's process is frozen or overloaded", endpoint, to);
}

xinf_value_t *
xinf_mesh_matrix (xinf_mesh_t *self, const xinf_value_t *expected, const xinf_value_t *results, xinf_value_t *problems)
{
    xinf_value_t *mesh = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (expected); index++) {
        const char *from = xinf_value_str (xinf_array_at (expected, index));
        const xinf_value_t *reported = xinf_map_get (results, from);
        if (!reported) {
            s_problem (problems, "worker %s did not report its probes in time (frozen, or its heartbeat thread is stuck?)", from);
            continue;
        }
        for (size_t at = 0; at < xinf_value_count (reported); at++) {
            const xinf_value_t *result = xinf_array_at (reported, at);
            xinf_value_t *pair = xinf_value_dup (result);
            xinf_map_put_str (pair, "from", from);
            const char *status = s_str (result, "status");
            if (!streq (status, "ok")) {
                char fix [512];
                s_fix (self, fix, sizeof fix, status, s_str (result, "to"), s_str (result, "endpoint"));
                s_problem (problems, "%s cannot reach %s at %s: %s (%s) after %llu ms; fix: %s", from, s_str (result, "to"),
                           s_str (result, "endpoint"), status, s_str (result, "detail"),
                           (unsigned long long) xinf_value_uint (xinf_map_get (result, "ms")), fix);
            }
            xinf_array_push (mesh, pair);
        }
    }
    return mesh;
}
