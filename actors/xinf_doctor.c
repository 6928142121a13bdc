/*  xinf_doctor: the connectivity mesh and the deployment checklist.  */
#include "xinf_doctor.h"

#include <stdarg.h>

typedef struct {
    uint64_t id;
    char client [512];
    uint64_t corr;
    int64_t deadline;
    xinf_value_t *workers;             //  cluster snapshot at start
    xinf_value_t *expected;            //  array of node names that probe
    xinf_value_t *results;             //  map node -> results array
} s_session_t;

struct _xinf_doctor_t {
    xinf_cluster_t *cluster;
    char name [65];
    zlistx_t *sessions;
    uint64_t next_id;
};

static void
s_session_destroy (s_session_t **session_p)
{
    if (*session_p) {
        xinf_value_destroy (&(*session_p)->workers);
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

xinf_doctor_t *
xinf_doctor_new (xinf_cluster_t *cluster, const char *supervisor_name)
{
    xinf_doctor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    snprintf (self->name, sizeof self->name, "%s", supervisor_name);
    self->sessions = zlistx_new ();
    zlistx_set_destructor (self->sessions, s_session_free);
    self->next_id = 1;
    return self;
}

void
xinf_doctor_destroy (xinf_doctor_t **self_p)
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

static void
s_problem (xinf_value_t *problems, const char *format, ...)
{
    char text [768];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    xinf_array_push (problems, xinf_value_new_str (text));
}

static const char *
s_fix (const char *status, const char *to, const char *endpoint)
{
    static char fix [512];
    const char *colon = strrchr (endpoint, ':');
    const char *host = strncmp (endpoint, "tcp://", 6) == 0 ? endpoint + 6 : endpoint;
    int host_length = colon ? (int) (colon - host) : (int) strlen (host);
    if (streq (status, "timeout") || streq (status, "unreachable"))
        snprintf (fix, sizeof fix, "open port %s/tcp on %.*s to the other workers (firewall, security group), "
                  "or if %.*s is not %s's address, set -H / XINF_HOST_IP on %s", colon ? colon + 1 : "?",
                  host_length, host, host_length, host, to, to);
    else
    if (streq (status, "refused"))
        snprintf (fix, sizeof fix, "nothing listens on %s: is %.*s the right address of %s? set -H / XINF_HOST_IP on %s",
                  endpoint, host_length, host, to, to);
    else
    if (streq (status, "wrong_peer"))
        snprintf (fix, sizeof fix, "%s reaches another node: set -H / XINF_HOST_IP on %s to its own address", endpoint, to);
    else
        snprintf (fix, sizeof fix, "the port accepts connections but no xinf listener answered: another program "
                  "holds %s, or %s's process is frozen or overloaded", endpoint, to);
    return fix;
}

//  The version table, with mismatches reported as problems.
static xinf_value_t *
s_versions (xinf_value_t *workers, xinf_value_t *problems)
{
    xinf_value_t *table = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        xinf_value_t *row = xinf_value_new_map ();
        xinf_map_put_str (row, "node", s_str (worker, "node"));
        xinf_map_put_str (row, "xinf", s_str (worker, "version"));
        xinf_map_put_str (row, "zmq", s_str (worker, "zmq_version"));
        xinf_map_put_str (row, "czmq", s_str (worker, "czmq_version"));
        const xinf_value_t *devices = xinf_map_get (worker, "devices");
        char gpus [256] = "", driver [64] = "", runtime [64] = "", nccl [64] = "";
        for (size_t at = 0; at < xinf_value_count (devices); at++) {
            const xinf_value_t *device = xinf_array_at (devices, at);
            if (!streq (s_str (device, "kind"), "gpu"))
                continue;
            size_t used = strlen (gpus);
            snprintf (gpus + used, sizeof gpus - used, "%s%s", used ? ", " : "", s_str (device, "name"));
            snprintf (driver, sizeof driver, "%s", s_str (device, "driver_version"));
            snprintf (runtime, sizeof runtime, "%s", s_str (device, "cuda_runtime_version"));
            snprintf (nccl, sizeof nccl, "%s", s_str (device, "nccl_version"));
        }
        xinf_map_put_str (row, "gpus", *gpus ? gpus : "none");
        xinf_map_put_str (row, "cuda_driver", driver);
        xinf_map_put_str (row, "cuda_runtime", runtime);
        xinf_map_put_str (row, "nccl", nccl);
        xinf_map_put_str (row, "gpu_probe", s_str (worker, "gpu_probe"));
        xinf_array_push (table, row);
    }
    const char *columns [] = { "xinf", "zmq", "czmq", "cuda_driver", "cuda_runtime", "nccl" };
    for (size_t column = 0; column < sizeof columns / sizeof columns [0]; column++)
        for (size_t index = 1; index < xinf_value_count (table); index++) {
            const char *first = s_str (xinf_array_at (table, 0), columns [column]);
            const char *other = s_str (xinf_array_at (table, index), columns [column]);
            if (strcmp (first, other))
                s_problem (problems, "version mismatch: %s is %s on %s but %s on %s", columns [column],
                           *first ? first : "(none)", s_str (xinf_array_at (table, 0), "node"),
                           *other ? other : "(none)", s_str (xinf_array_at (table, index), "node"));
        }
    return table;
}

//  The mesh from every reported result; a pair nobody reported is a problem too.
static xinf_value_t *
s_mesh (s_session_t *session, xinf_value_t *problems)
{
    xinf_value_t *mesh = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (session->expected); index++) {
        const char *from = xinf_value_str (xinf_array_at (session->expected, index));
        const xinf_value_t *results = xinf_map_get (session->results, from);
        if (!results) {
            s_problem (problems, "worker %s did not report its probes in time (frozen, or its heartbeat thread is stuck?)", from);
            continue;
        }
        for (size_t at = 0; at < xinf_value_count (results); at++) {
            const xinf_value_t *result = xinf_array_at (results, at);
            xinf_value_t *pair = xinf_value_dup (result);
            xinf_map_put_str (pair, "from", from);
            const char *status = s_str (result, "status");
            if (!streq (status, "ok"))
                s_problem (problems, "%s cannot reach %s at %s: %s (%s) after %llu ms; fix: %s", from, s_str (result, "to"),
                           s_str (result, "endpoint"), status, s_str (result, "detail"),
                           (unsigned long long) xinf_value_uint (xinf_map_get (result, "ms")),
                           s_fix (status, s_str (result, "to"), s_str (result, "endpoint")));
            xinf_array_push (mesh, pair);
        }
    }
    return mesh;
}

//  Per worker: heartbeat health, address warnings, a listener to probe.
static xinf_value_t *
s_alive_workers (xinf_value_t *workers, xinf_value_t *problems)
{
    xinf_value_t *alive = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        const char *node = s_str (worker, "node"), *state = s_str (worker, "state");
        if (streq (state, "lost"))
            s_problem (problems, "worker %s is lost: no heartbeat for %.1f s", node,
                       (double) xinf_value_uint (xinf_map_get (worker, "last_heartbeat_ms")) / 1000.0);
        if (!streq (state, "alive"))
            continue;
        const xinf_value_t *warnings = xinf_map_get (worker, "warnings");
        for (size_t at = 0; at < xinf_value_count (warnings); at++)
            s_problem (problems, "%s", xinf_value_str (xinf_array_at (warnings, at)));
        if (xinf_value_uint (xinf_map_get (worker, "data_port")) == 0)
            s_problem (problems, "worker %s has no probe listener: no free port in its --data-ports range", node);
        xinf_array_push (alive, xinf_value_dup (worker));
    }
    return alive;
}

static void
s_reply (xinf_doctor_t *self, xinf_ctx_t *ctx, s_session_t *session)
{
    xinf_value_t *problems = xinf_value_new_array ();
    xinf_value_t *alive = s_alive_workers (session->workers, problems);
    xinf_msg_t *reply = xinf_msg_new ("DOCTOR_REPLY");
    xinf_value_t *body = xinf_msg_body (reply);
    xinf_map_put (body, "mesh", s_mesh (session, problems));
    xinf_map_put (body, "versions", s_versions (alive, problems));
    xinf_value_t *health = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (session->workers); index++) {
        const xinf_value_t *worker = xinf_array_at (session->workers, index);
        xinf_value_t *row = xinf_value_new_map ();
        const char *keys [] = { "node", "state", "host_ip", "observed_address" };
        for (size_t at = 0; at < 4; at++)
            xinf_map_put_str (row, keys [at], s_str (worker, keys [at]));
        xinf_map_put_uint (row, "last_heartbeat_ms", xinf_value_uint (xinf_map_get (worker, "last_heartbeat_ms")));
        xinf_map_put (row, "warnings", xinf_value_dup (xinf_map_get (worker, "warnings")));
        xinf_array_push (health, row);
    }
    xinf_map_put (body, "workers", health);
    xinf_map_put_str (body, "cuda_graphs", "not applicable: no CUDA executor in this build's workers (CPU only)");
    xinf_map_put_bool (body, "ok", xinf_value_count (problems) == 0);
    xinf_map_put (body, "problems", problems);
    xinf_msg_set_corr (reply, session->corr);
    xinf_router_send (xinf_ctx_router (ctx), xinf_router_peer (xinf_ctx_router (ctx), session->client), &reply);
    xinf_value_destroy (&alive);
}

static void
s_on_doctor (xinf_doctor_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t timeout = xinf_check_uint_opt (&check, xinf_msg_body (msg), "timeout_ms", 100, 60000, 3000);
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "DOCTOR: %s", check.reason);
        return;
    }
    int64_t now = zclock_mono ();
    s_session_t *session = calloc (1, sizeof *session);
    session->id = self->next_id++;
    snprintf (session->client, sizeof session->client, "%s", xinf_peer_id (from));
    session->corr = xinf_msg_corr (msg);
    //  Connects take up to the timeout, handshakes up to half of it more
    session->deadline = now + (int64_t) timeout * 3 / 2 + 1000;
    session->workers = xinf_cluster_workers (self->cluster, now);
    session->expected = xinf_value_new_array ();
    session->results = xinf_value_new_map ();
    //  Every alive worker with a listener probes every other one
    xinf_value_t *targets = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (session->workers); index++) {
        const xinf_value_t *worker = xinf_array_at (session->workers, index);
        uint64_t port = xinf_value_uint (xinf_map_get (worker, "data_port"));
        if (!streq (s_str (worker, "state"), "alive") || !port)
            continue;
        char endpoint [128];
        const char *host = s_str (worker, "host_ip");
        snprintf (endpoint, sizeof endpoint, strchr (host, ':') ? "tcp://[%s]:%llu" : "tcp://%s:%llu", host,
                  (unsigned long long) port);
        xinf_value_t *target = xinf_value_new_map ();
        xinf_map_put_str (target, "node", s_str (worker, "node"));
        xinf_map_put_str (target, "endpoint", endpoint);
        xinf_array_push (targets, target);
    }
    for (size_t index = 0; xinf_value_count (targets) > 1 && index < xinf_value_count (targets); index++) {
        const char *node = s_str (xinf_array_at (targets, index), "node");
        xinf_msg_t *probe = xinf_msg_new ("PROBE_MESH");
        xinf_map_put_uint (xinf_msg_body (probe), "session", session->id);
        xinf_map_put_uint (xinf_msg_body (probe), "timeout_ms", timeout);
        xinf_value_t *others = xinf_value_new_array ();
        for (size_t at = 0; at < xinf_value_count (targets); at++)
            if (at != index)
                xinf_array_push (others, xinf_value_dup (xinf_array_at (targets, at)));
        xinf_map_put (xinf_msg_body (probe), "targets", others);
        const char *peer_id = xinf_cluster_peer_of (self->cluster, node);
        if (xinf_router_send (xinf_ctx_router (ctx), peer_id ? xinf_router_peer (xinf_ctx_router (ctx), peer_id) : NULL, &probe) == 0)
            xinf_array_push (session->expected, xinf_value_new_str (node));
    }
    xinf_value_destroy (&targets);
    xinf_info ("supervisor", "doctor session=%llu probing workers=%zu timeout_ms=%llu", (unsigned long long) session->id,
               xinf_value_count (session->expected), (unsigned long long) timeout);
    if (xinf_value_count (session->expected) == 0) {
        s_reply (self, ctx, session);
        s_session_destroy (&session);
    }
    else
        zlistx_add_end (self->sessions, session);
}

static void
s_on_result (xinf_doctor_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    uint64_t id = xinf_check_uint (&check, body, "session", 0, UINT64_MAX);
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    const xinf_value_t *results = xinf_check_array (&check, body, "results", 256);
    for (size_t index = 0; results && index < xinf_value_count (results); index++) {
        const xinf_value_t *result = xinf_array_at (results, index);
        xinf_check_str (&check, result, "to", 1, 64);
        xinf_check_str (&check, result, "endpoint", 0, 255);
        xinf_check_str (&check, result, "status", 1, 15);
        xinf_check_uint (&check, result, "ms", 0, UINT32_MAX);
        xinf_check_str (&check, result, "detail", 0, 255);
    }
    if (check.failed || !node) {
        xinf_warn ("supervisor", "PROBE_RESULT ignored reason=\"%s\"", check.failed ? check.reason : "unregistered sender");
        return;
    }
    for (s_session_t *session = (s_session_t *) zlistx_first (self->sessions); session;
         session = (s_session_t *) zlistx_next (self->sessions)) {
        if (session->id != id)
            continue;
        xinf_map_put (session->results, node, xinf_map_take (body, "results"));
        if (xinf_value_count (session->results) == xinf_value_count (session->expected)) {
            s_reply (self, ctx, session);
            zlistx_delete (self->sessions, zlistx_cursor (self->sessions));
        }
        return;
    }
}

void
xinf_doctor_tick (xinf_doctor_t *self, xinf_ctx_t *ctx, int64_t now)
{
    s_session_t *session = (s_session_t *) zlistx_first (self->sessions);
    while (session) {
        if (now > session->deadline) {
            s_reply (self, ctx, session);
            zlistx_delete (self->sessions, zlistx_cursor (self->sessions));
            session = (s_session_t *) zlistx_first (self->sessions);
        }
        else
            session = (s_session_t *) zlistx_next (self->sessions);
    }
}

bool
xinf_doctor_handle (xinf_doctor_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    if (xinf_msg_is (msg, "DOCTOR"))
        s_on_doctor (self, ctx, from, msg);
    else
    if (xinf_msg_is (msg, "PROBE_RESULT"))
        s_on_result (self, ctx, from, msg);
    else
        return false;
    return true;
}
