/*  xinf_doctor: the connectivity mesh and the deployment checklist.  */
#include "xinf_doctor.h"
#include "xinf_client_msg.h"
#include "xinf_resources.h"

#include <stdarg.h>

#define XINF_DOCTOR_RANGE_PORTS  4     //  ports of each range probed besides the listener

typedef struct {
    uint64_t id;                       //  the mesh session
    char client [512];
    uint64_t corr;
    xinf_value_t *workers;             //  cluster snapshot at start
} s_session_t;

struct _xinf_doctor_t {
    xinf_cluster_t *cluster;
    xinf_mesh_t *mesh;
    char name [65];
    zlistx_t *sessions;
};

static void
s_session_destroy (s_session_t **session_p)
{
    if (*session_p) {
        xinf_value_destroy (&(*session_p)->workers);
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
xinf_doctor_new (xinf_cluster_t *cluster, xinf_mesh_t *mesh, const char *supervisor_name)
{
    xinf_doctor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    self->mesh = mesh;
    snprintf (self->name, sizeof self->name, "%s", supervisor_name);
    self->sessions = zlistx_new ();
    zlistx_set_destructor (self->sessions, s_session_free);
    return self;
}

void
xinf_doctor_destroy (xinf_doctor_t **self_p)
{
    if (self_p && *self_p) {
        xinf_doctor_t *self = *self_p;
        for (s_session_t *session = (s_session_t *) zlistx_first (self->sessions); session;
             session = (s_session_t *) zlistx_next (self->sessions))
            xinf_mesh_cancel (self->mesh, session->id);
        zlistx_destroy (&self->sessions);
        free (self);
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
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    xinf_array_push (problems, xinf_value_new_str (text));
}

//  The NCCL a worker's build links (HELLO nccl, nccl_version): its
//  version; "" for a build without NCCL, or a worker too old to say
//  (its registration warned about that where it has GPUs).
static void
s_nccl_cell (const xinf_value_t *worker, char *text, size_t size)
{
    const char *version = s_str (worker, "nccl_version");
    if (!xinf_value_bool (xinf_map_get (worker, "nccl")))
        snprintf (text, size, "%s", "");
    else
        snprintf (text, size, "%s", *version ? version : "yes (version unknown)");
}

//  A column of the version table that differs from its first row's, as
//  problems; 'gpus_only': among the rows of workers with GPUs only.
static void
s_mismatches (const xinf_value_t *table, const char *column, bool gpus_only, xinf_value_t *problems)
{
    const xinf_value_t *first = NULL;
    for (size_t index = 0; index < xinf_value_count (table); index++) {
        const xinf_value_t *row = xinf_array_at (table, index);
        if (gpus_only && streq (s_str (row, "gpus"), "none"))
            continue;
        if (!first) {
            first = row;
            continue;
        }
        const char *expected = s_str (first, column), *other = s_str (row, column);
        if (strcmp (expected, other))
            s_problem (problems, "version mismatch: %s is %s on %s but %s on %s", column,
                       *expected ? expected : "(none)", s_str (first, "node"), *other ? other : "(none)",
                       s_str (row, "node"));
    }
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
        }
        s_nccl_cell (worker, nccl, sizeof nccl);
        xinf_map_put_str (row, "gpus", *gpus ? gpus : "none");
        xinf_map_put_str (row, "cuda_driver", driver);
        xinf_map_put_str (row, "cuda_runtime", runtime);
        xinf_map_put_str (row, "nccl", nccl);
        xinf_map_put_str (row, "gpu_probe", s_str (worker, "gpu_probe"));
        xinf_array_push (table, row);
    }
    const char *columns [] = { "xinf", "zmq", "czmq", "cuda_driver", "cuda_runtime" };
    for (size_t column = 0; column < sizeof columns / sizeof columns [0]; column++)
        s_mismatches (table, columns [column], false, problems);
    //  NCCL only among workers with GPUs: a CPU worker's build may lack it
    s_mismatches (table, "nccl", true, problems);
    return table;
}

//  Per worker: heartbeat health, address warnings, a listener to probe.
//  An advertised address that differs from the observed one is only a
//  warning (NAT, several NICs, a proxy): the mesh tells whether the
//  workers reach each other there. Loopback advertised to a supervisor on
//  another host is a problem: no other host can reach it.
static xinf_value_t *
s_alive_workers (xinf_value_t *workers, xinf_value_t *problems, xinf_value_t *warned)
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
        const char *host = s_str (worker, "host_ip"), *seen = s_str (worker, "observed_address");
        bool unreachable = xinf_address_is_loopback (host) && *seen && !xinf_address_is_loopback (seen);
        const xinf_value_t *warnings = xinf_map_get (worker, "warnings");
        for (size_t at = 0; at < xinf_value_count (warnings); at++)
            s_problem (unreachable ? problems : warned, "%s", xinf_value_str (xinf_array_at (warnings, at)));
        if (xinf_value_uint (xinf_map_get (worker, "data_port")) == 0)
            s_problem (problems, "worker %s has no probe listener: no free port in its --data-ports range", node);
        xinf_array_push (alive, xinf_value_dup (worker));
    }
    return alive;
}

static void
s_reply (xinf_doctor_t *self, xinf_ctx_t *ctx, s_session_t *session, const xinf_value_t *expected,
         const xinf_value_t *results)
{
    xinf_value_t *problems = xinf_value_new_array ();
    xinf_value_t *warnings = xinf_value_new_array ();
    xinf_value_t *alive = s_alive_workers (session->workers, problems, warnings);
    xinf_msg_t *reply = xinf_msg_new ("DOCTOR_REPLY");
    xinf_value_t *body = xinf_msg_body (reply);
    xinf_map_put (body, "mesh", xinf_mesh_matrix (self->mesh, expected, results, problems));
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
    xinf_map_put (body, "warnings", warnings);
    xinf_msg_set_corr (reply, session->corr);
    xinf_router_send (xinf_ctx_router (ctx), xinf_router_peer (xinf_ctx_router (ctx), session->client), &reply);
    xinf_value_destroy (&alive);
}

static void
s_on_mesh_done (xinf_ctx_t *ctx, uint64_t id, const xinf_value_t *expected, const xinf_value_t *results, void *arg)
{
    xinf_doctor_t *self = (xinf_doctor_t *) arg;
    for (s_session_t *session = (s_session_t *) zlistx_first (self->sessions); session;
         session = (s_session_t *) zlistx_next (self->sessions))
        if (session->id == id) {
            s_reply (self, ctx, session, expected, results);
            zlistx_delete (self->sessions, zlistx_cursor (self->sessions));
            return;
        }
}

static void
s_on_doctor (xinf_doctor_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_doctor_t doctor;
    if (xinf_client_msg_doctor_decode (xinf_msg_body (msg), &doctor, &check)) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "DOCTOR: %s", check.reason);
        return;
    }
    s_session_t *session = calloc (1, sizeof *session);
    assert (session);
    snprintf (session->client, sizeof session->client, "%s", xinf_peer_id (from));
    session->corr = xinf_msg_corr (msg);
    session->workers = xinf_cluster_workers (self->cluster, zclock_mono ());
    //  Every alive worker with a listener probes every other one
    //  The probe listeners, and the first ports of each range, which the
    //  collectives of a launch bind: the ports probed are the ports used
    xinf_value_t *targets = xinf_mesh_targets (session->workers, NULL);
    xinf_mesh_range_targets (session->workers, XINF_DOCTOR_RANGE_PORTS, targets);
    xinf_info ("supervisor", "doctor probing workers=%zu timeout_ms=%llu", xinf_value_count (targets),
               (unsigned long long) doctor.timeout_ms);
    session->id = xinf_mesh_start (self->mesh, ctx, targets, doctor.timeout_ms, s_on_mesh_done, self);
    zlistx_add_end (self->sessions, session);
    xinf_value_destroy (&targets);
}

bool
xinf_doctor_handle (xinf_doctor_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    if (xinf_msg_is (msg, "DOCTOR"))
        s_on_doctor (self, ctx, from, msg);
    else
        return false;
    return true;
}
