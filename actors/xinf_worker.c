/*  xinf_worker: the worker node agent.  */
#include "xinf_worker.h"
#include "xinf_node_proto.h"
#include "xinf_node_msg.h"
#include "xinf_envelope_msg.h"
#include "xinf_resources.h"
#include "xinf_hosted.h"
#include "xinf_probe.h"
#include "xinf_transfer_server.h"
#include "xinf_transfer.h"

#include <unistd.h>

#define BACKOFF_FIRST_MS  100
#define BACKOFF_MAX_MS    2000
#define SILENCE_SAY_MS    2000     //  unregistered this long: find out why (said within 5 s)
#define SILENCE_SAY_MAX   60000    //  then again after 4, 8, 16, 32, 60, 60 ... s
#define DIAGNOSE_MS       2500     //  the diagnosis probe's own deadline

typedef struct {
    char endpoint [256];           //  the supervisor dialed now
    char endpoints [2][256];       //  a primary and, with a standby, its backup
    int endpoint_count, endpoint_at;
    xinf_hello_t hello;            //  what we register with (devices probed once)
    int64_t heartbeat_ms;          //  as agreed with the supervisor
    int liveness;
    xinf_dealer_t *dealer;
    bool registered;
    bool known;                    //  this connection's supervisor took a HELLO of ours: it knows us, lost or not
    int64_t last_heard;            //  monotonic ms of the last supervisor message
    int64_t last_beat;
    int64_t hello_due;
    int64_t backoff_ms;
    uint64_t seq;
    xinf_hosted_t *hosted;         //  the model replicas on this worker
    xinf_model_dirs_t *model_dirs; //  where they may be loaded from
    xinf_model_dirs_t *own_dirs;   //  the default (the current directory), when the config gave none
    xinf_probe_listener_t *probe_listener;
    zlistx_t *probe_jobs;          //  zactor_t running connectivity probes
    int64_t connect_at;            //  monotonic ms of the last (re)connect
    int64_t dealer_at;             //  monotonic ms the current DEALER was made
    int64_t diagnose_due;          //  when to say again why we are not registered
    int64_t diagnose_gap;
    zactor_t *diagnose_job;        //  the probe that finds out why, while it runs
    bool refusal_said;             //  a registration refusal was reported
    zcert_t *cert;                 //  CURVE: our key pair (not owned), or NULL
    char cert_file [256];
    char server_key [41];          //  CURVE: the supervisor's public key
    char handshake [600];          //  the last refused handshake's words, "" if none
    bool no_fetch, no_serve;       //  --no-fetch-models, --no-serve-models
    bool executor_process;         //  --executor process
    xinf_transfer_server_t *files; //  serves our model files to others, unless no_serve
} s_state_t;

struct _xinf_worker_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

static void s_on_supervisor (xinf_ctx_t *ctx, zsock_t *sock, void *arg);
static void s_check_handshake (s_state_t *state);

static s_state_t *
s_state (xinf_ctx_t *ctx)
{
    return (s_state_t *) xinf_ctx_state (ctx);
}

//  With a standby supervisor: the other endpoint, for the next connect.
static void
s_next_endpoint (s_state_t *state, const char *why)
{
    if (state->endpoint_count < 2)
        return;
    state->endpoint_at = (state->endpoint_at + 1) % state->endpoint_count;
    memcpy (state->endpoint, state->endpoints [state->endpoint_at], sizeof state->endpoint);
    xinf_info ("worker", "turning to supervisor endpoint=%s: %s", state->endpoint, why);
}

//  (Re)creates the connection to the supervisor: a new DEALER, new routing id.
static void
s_connect (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (state->dealer) {
        xinf_ctx_reader_end (ctx, xinf_dealer_sock (state->dealer));
        xinf_dealer_destroy (&state->dealer);
    }
    state->dealer = xinf_dealer_new_secure (state->endpoint, state->hello.node, state->cert,
                                            state->cert ? state->server_key : NULL, state->cert_file);
    state->handshake [0] = 0;
    //  Only queue to a live connection: a HELLO must not pile up while down
    zsock_set_immediate (xinf_dealer_sock (state->dealer), 1);
    xinf_ctx_reader (ctx, xinf_dealer_sock (state->dealer), s_on_supervisor, NULL);
    state->registered = false;
    state->known = false;
    state->backoff_ms = BACKOFF_FIRST_MS;
    state->hello_due = zclock_mono ();
    state->last_heard = zclock_mono ();
    state->connect_at = zclock_mono ();
    state->dealer_at = state->connect_at;
    state->diagnose_gap = SILENCE_SAY_MS;
    state->diagnose_due = state->connect_at + SILENCE_SAY_MS;
}

//  The diagnosis came back: say why the supervisor does not register us,
//  on stdout for the operator and in the log, while we keep trying.
static void
s_on_diagnosed (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    s_state_t *state = s_state (ctx);
    char text [600];
    xinf_msg_t *result;
    const char *detail;
    const char *status = xinf_probe_node_result (sock, &result, &detail);
    s_check_handshake (state);
    if (*state->handshake)
        ;                              //  said by s_check_handshake: the probe knows less
    else
    if (streq (status, "ok"))
        xinf_textf (text, sizeof text, "%s at %s, but it has not answered our HELLO: see the supervisor's log",
                    detail, state->endpoint);
    else
        xinf_probe_explain (state->endpoint, status, detail, text, sizeof text);
    if (!state->registered && !*state->handshake) {
        long long silent_s = (long long) ((zclock_mono () - state->connect_at) / 1000);
        xinf_warn ("worker", "not registered after %lld s endpoint=%s cause=%s: %s; still trying", silent_s,
                   state->endpoint, status, text);
        printf ("xinf-node worker %s: no registration with the supervisor after %lld s: %s; still trying\n",
                state->hello.node, silent_s, text);
        fflush (stdout);
    }
    xinf_msg_destroy (&result);
    xinf_ctx_reader_end (ctx, sock);
    zactor_destroy (&state->diagnose_job);
}

//  Unregistered for a while: probe the supervisor's endpoint to find out
//  why (refused, dropped, not xinf, ...), at a slowing pace.
//  The supervisor refused our key (or the handshake failed): said on
//  stdout and in the log, as it is, at the diagnosis' pace.
static void
s_say_handshake (s_state_t *state)
{
    long long silent_s = (long long) ((zclock_mono () - state->connect_at) / 1000);
    xinf_error ("worker", "not registered after %lld s endpoint=%s cause=handshake: the supervisor %s; still trying",
                silent_s, state->endpoint, state->handshake);
    printf ("xinf-node worker %s: the supervisor at %s %s; still trying\n", state->hello.node, state->endpoint,
            state->handshake);
    fflush (stdout);
}

//  Reads the handshake monitor: a new refusal is said at once.
static void
s_check_handshake (s_state_t *state)
{
    char words [600];
    if (xinf_dealer_refusal (state->dealer, words, sizeof words) == 0 || streq (words, state->handshake))
        return;
    snprintf (state->handshake, sizeof state->handshake, "%s", words);
    s_say_handshake (state);
}

//  A new connection to the same endpoint, the diagnosis going on as it was
//  (since when we are unregistered, when to say it next, what the
//  handshake monitor said).
static void
s_connect_again (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    char words [sizeof state->handshake];
    int64_t gap = state->diagnose_gap, due = state->diagnose_due, since = state->connect_at;
    snprintf (words, sizeof words, "%s", state->handshake);
    s_connect (ctx);
    snprintf (state->handshake, sizeof state->handshake, "%s", words);
    state->diagnose_gap = gap;
    state->diagnose_due = due;
    state->connect_at = since;
}

static void
s_diagnose (xinf_ctx_t *ctx, int64_t now)
{
    s_state_t *state = s_state (ctx);
    state->diagnose_due = now + state->diagnose_gap;
    state->diagnose_gap = state->diagnose_gap * 2 > SILENCE_SAY_MAX ? SILENCE_SAY_MAX : state->diagnose_gap * 2;
    if (*state->handshake) {           //  the monitor knows why: no probe needed
        s_say_handshake (state);
        //  libzmq does not retry a refused handshake by itself: a new
        //  connection finds the supervisor once it lists our key
        s_connect_again (ctx);
        return;
    }
    if (state->cert)
        xinf_auth_vouch (state->endpoint, state->server_key);
    state->diagnose_job = xinf_probe_node_job_new (state->hello.node, state->endpoint, "supervisor", DIAGNOSE_MS);
    xinf_ctx_reader (ctx, zactor_sock (state->diagnose_job), s_on_diagnosed, NULL);
}

//  How long the last word of an ended run is kept: a supervisor that died
//  just before it arrived is noticed within liveness intervals.
static int64_t
s_keep_ms (s_state_t *state)
{
    return (state->liveness + 2) * state->heartbeat_ms;
}

static void
s_send_hello (xinf_ctx_t *ctx, int64_t now)
{
    s_state_t *state = s_state (ctx);
    xinf_host_info_t info;
    xinf_host_info (&info);
    state->hello.memory_available_bytes = info.memory_available_bytes;
    //  Report what runs here, so that a restarted supervisor knows it
    xinf_value_destroy (&state->hello.models);
    state->hello.models = xinf_hosted_models (state->hosted);
    xinf_msg_t *hello = xinf_hello_encode (&state->hello);
    //  And the requests they run, so that a restarted supervisor answers them
    xinf_map_put (xinf_msg_body (hello), "requests", xinf_hosted_requests (state->hosted, now, s_keep_ms (state)));
    if (xinf_dealer_send (state->dealer, &hello) == 0)
        xinf_debug ("worker", "HELLO sent endpoint=%s", state->endpoint);
    state->hello_due = now + state->backoff_ms;
    state->backoff_ms = state->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : state->backoff_ms * 2;
}

static void
s_send_heartbeat (xinf_ctx_t *ctx, int64_t now)
{
    s_state_t *state = s_state (ctx);
    xinf_heartbeat_msg_t beat = { .seq = ++state->seq };
    snprintf (beat.node, sizeof beat.node, "%s", state->hello.node);
    beat.waits = xinf_waits_snapshot (xinf_waits_global (), now, 0);    //  every open wait
    xinf_msg_t *msg = xinf_heartbeat_msg_encode (&beat);
    xinf_heartbeat_msg_clear (&beat);
    xinf_dealer_send (state->dealer, &msg);   //  a refused beat is a missed beat
    state->last_beat = now;
}

static void
s_on_tick (xinf_ctx_t *ctx, void *arg)
{
    s_state_t *state = s_state (ctx);
    int64_t now = zclock_mono ();
    int64_t silence = now - state->last_heard;
    if (state->registered && silence >= state->heartbeat_ms * state->liveness) {
        xinf_warn ("worker", "supervisor lost endpoint=%s silence_ms=%lld: reconnecting",
                   state->endpoint, (long long) silence);
        s_next_endpoint (state, "the supervisor there went silent");
        s_connect (ctx);
    }
    //  No WELCOME for a liveness window: with a standby, try the other
    //  one; else a fresh connection, as the Paranoid Pirate does (a
    //  connection that carries our HELLOs to no supervisor was seen after
    //  a supervisor restarted on its port, rarely: it never recovered)
    if (!state->registered && now - state->dealer_at >= state->heartbeat_ms * state->liveness + BACKOFF_MAX_MS) {
        if (state->endpoint_count > 1) {
            s_next_endpoint (state, "no WELCOME from the other within the liveness window");
            s_connect (ctx);
        }
        else {
            xinf_info ("worker", "no WELCOME from endpoint=%s within %lld ms: a fresh connection", state->endpoint,
                       (long long) (now - state->dealer_at));
            s_connect_again (ctx);
        }
    }
    if (!state->registered)
        s_check_handshake (state);
    if (!state->registered && now >= state->hello_due)
        s_send_hello (ctx, now);
    if (!state->registered && !state->diagnose_job && now >= state->diagnose_due)
        s_diagnose (ctx, now);
    if (state->registered)
        xinf_hosted_flush (state->hosted);
    if (state->registered && now - state->last_beat >= state->heartbeat_ms) {
        s_send_heartbeat (ctx, now);
        xinf_hosted_prune (state->hosted, now, s_keep_ms (state));
    }
}

static void
s_on_welcome (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_welcome_t welcome;
    if (xinf_welcome_decode (msg, &welcome, &check)) {
        xinf_error ("worker", "bad WELCOME from endpoint=%s reason=\"%s\"", state->endpoint, check.reason);
        return;
    }
    if (state->registered) {           //  the answer to a HELLO sent again before the first WELCOME came
        xinf_debug ("worker", "WELCOME again from endpoint=%s", state->endpoint);
        xinf_welcome_clear (&welcome);
        return;
    }
    state->registered = true;
    state->known = true;
    state->refusal_said = false;
    state->heartbeat_ms = (int64_t) welcome.heartbeat_ms;
    state->liveness = (int) welcome.liveness;
    state->last_beat = 0;
    xinf_info ("worker", "registered node=%s supervisor=%s endpoint=%s host_ip=%s observed=%s heartbeat_ms=%lld liveness=%d",
               state->hello.node, welcome.supervisor, state->endpoint, state->hello.host_ip,
               welcome.observed_address, (long long) state->heartbeat_ms, state->liveness);
    for (size_t index = 0; index < xinf_value_count (welcome.warnings); index++)
        xinf_warn ("worker", "supervisor warns: %s", xinf_value_str (xinf_array_at (welcome.warnings, index)));
    printf ("xinf-node worker %s registered with %s (observed %s)\n", state->hello.node,
            state->endpoint, *welcome.observed_address ? welcome.observed_address : "-");
    fflush (stdout);
    xinf_welcome_clear (&welcome);
    xinf_hosted_resend (state->hosted);
}

static void
s_on_error (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_envelope_msg_error_t error;
    if (xinf_envelope_msg_error_decode (xinf_msg_body (msg), &error, &check)) {
        xinf_warn ("worker", "malformed ERROR from the supervisor ignored reason=\"%s\"", check.reason);
        return;
    }
    const char *code = error.code, *text = error.message;
    if (streq (code, "STANDBY")) {
        //  A passive supervisor: the active one is the other endpoint
        xinf_info ("worker", "supervisor at %s stands by: %s", state->endpoint, text);
        state->registered = false;
        s_next_endpoint (state, "the supervisor there stands by");
        s_connect (ctx);
    }
    else
    if (streq (code, "NOT_REGISTERED")) {
        xinf_info ("worker", "supervisor does not know us (restarted?): registering again");
        state->registered = false;
        state->hello_due = zclock_mono ();
        state->backoff_ms = BACKOFF_FIRST_MS;
    }
    else
    if (!state->registered && !state->refusal_said) {
        //  Said once: the HELLO is retried quietly (the name may be held by
        //  this worker's previous run, until the supervisor declares it lost)
        xinf_error ("worker", "registration refused code=%s message=\"%s\"", code, text);
        printf ("xinf-node worker %s: the supervisor refused the registration (%s): %s; retrying every %d s\n",
                state->hello.node, code, text, BACKOFF_MAX_MS / 1000);
        fflush (stdout);
        state->refusal_said = true;
    }
    else
    if (!state->registered)
        xinf_debug ("worker", "registration refused again code=%s", code);
    else
        xinf_error ("worker", "supervisor answered ERROR code=%s message=\"%s\"", code, text);
}

//  A probe job finished: relay its PROBE_RESULT and end it.
static void
s_on_probe_done (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    s_state_t *state = s_state (ctx);
    zactor_t *job = (zactor_t *) arg;
    zmsg_t *frames = zmsg_recv (job);
    char error [256];
    xinf_msg_t *result = frames ? xinf_msg_decode (&frames, error, sizeof error, NULL) : NULL;
    if (result)
        xinf_dealer_send (state->dealer, &result);
    xinf_ctx_reader_end (ctx, sock);
    void *handle = zlistx_find (state->probe_jobs, job);
    if (handle)
        zlistx_delete (state->probe_jobs, handle);
}

static void
s_on_probe_mesh (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_node_msg_probe_mesh_t mesh;
    xinf_node_msg_probe_mesh_decode (body, &mesh, &check);
    uint64_t session = mesh.session, timeout = mesh.timeout_ms;
    const xinf_value_t *targets = mesh.targets;
    for (size_t index = 0; !check.failed && index < xinf_value_count (targets); index++) {
        const xinf_value_t *target = xinf_array_at (targets, index);
        //  Keys on: we dial only listeners whose key the supervisor vouches for
        const char *key = xinf_value_str (xinf_map_get (target, "key"));
        if (key && xinf_auth_vouch (xinf_value_str (xinf_map_get (target, "endpoint")), key))
            xinf_check_fail (&check, "targets[%zu].key is not a Z85 key", index);
    }
    if (!check.failed && zlistx_size (state->probe_jobs) >= 4) {
        //  Said, not dropped: the mesh then names the cause
        xinf_warn ("worker", "PROBE_MESH session=%llu refused: 4 probe jobs already running", (unsigned long long) session);
        xinf_msg_t *busy = xinf_msg_new ("PROBE_RESULT");
        xinf_map_put_uint (xinf_msg_body (busy), "session", session);
        xinf_map_put_str (xinf_msg_body (busy), "node", state->hello.node);
        xinf_value_t *results = xinf_value_new_array ();
        for (size_t index = 0; index < xinf_value_count (targets); index++) {
            const xinf_value_t *target = xinf_array_at (targets, index);
            xinf_value_t *result = xinf_value_new_map ();
            xinf_map_put_str (result, "to", xinf_value_str (xinf_map_get (target, "node")));
            xinf_map_put_str (result, "endpoint", xinf_value_str (xinf_map_get (target, "endpoint")));
            xinf_map_put_str (result, "status", "busy");
            xinf_map_put_uint (result, "ms", 0);
            xinf_map_put_str (result, "detail", "not probed: 4 probe jobs were running on this worker");
            xinf_array_push (results, result);
        }
        xinf_map_put (xinf_msg_body (busy), "results", results);
        xinf_dealer_send (state->dealer, &busy);
        return;
    }
    if (check.failed) {
        xinf_warn ("worker", "PROBE_MESH refused reason=\"%s\"", check.reason);
        return;
    }
    zactor_t *job = xinf_probe_job_new (state->hello.node, session, xinf_map_take (body, "targets"), (int64_t) timeout);
    zlistx_add_end (state->probe_jobs, job);
    xinf_ctx_reader (ctx, zactor_sock (job), s_on_probe_done, job);
}

//  Our file server's answers go up to the supervisor, which relays them.
static void
s_on_files (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    s_state_t *state = s_state (ctx);
    xinf_msg_t *msg = xinf_transfer_server_recv (state->files);
    if (!msg)
        return;
    xinf_map_put_str (xinf_msg_body (msg), "node", state->hello.node);
    xinf_dealer_send (state->dealer, &msg);
    xinf_msg_destroy (&msg);
}

//  FILE_OPEN, FILE_READ, FILE_CLOSE: a copy of ours for another worker.
static void
s_on_file_request (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    uint64_t transfer = xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "transfer"));
    xinf_msg_t *error = NULL;
    if (!state->files)
        error = xinf_transfer_error (transfer, "NOT_FOUND", "worker %s serves no model files (--no-serve-models)",
                                     state->hello.node);
    else {
        xinf_msg_t *copy = xinf_transfer_copy (msg);
        if (xinf_transfer_server_send (state->files, &copy))
            error = xinf_transfer_error (transfer, "BUSY", "worker %s has too many file requests queued",
                                         state->hello.node);
    }
    if (error && !xinf_msg_is (msg, "FILE_CLOSE")) {
        xinf_map_put_str (xinf_msg_body (error), "node", state->hello.node);
        xinf_dealer_send (state->dealer, &error);
    }
    xinf_msg_destroy (&error);
}

static void
s_on_supervisor (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    s_state_t *state = s_state (ctx);
    char error [256];
    xinf_msg_t *msg = xinf_dealer_recv (state->dealer, 0, error, sizeof error);
    if (!msg) {
        xinf_warn ("worker", "bad message from supervisor endpoint=%s reason=\"%s\"", state->endpoint, error);
        return;
    }
    state->last_heard = zclock_mono ();
    if (xinf_hosted_handle (state->hosted, ctx, msg))
        ;                              //  LOAD_MODEL, UNLOAD_MODEL, RUN
    else
    if (xinf_msg_is (msg, "PROBE_MESH"))
        s_on_probe_mesh (ctx, msg);
    else
    if (xinf_msg_is (msg, "FILE_OPEN") || xinf_msg_is (msg, "FILE_READ") || xinf_msg_is (msg, "FILE_CLOSE"))
        s_on_file_request (ctx, msg);
    else
    if (xinf_msg_is (msg, "WELCOME"))
        s_on_welcome (ctx, msg);
    else
    if (xinf_msg_is (msg, "ERROR"))
        s_on_error (ctx, msg);
    else
    if (!xinf_msg_is (msg, "HEARTBEAT"))
        xinf_warn ("worker", "unexpected message type=%s from supervisor", xinf_msg_type (msg));
    xinf_msg_destroy (&msg);
}

static int
s_init (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    state->hosted = xinf_hosted_new (state->hello.node, &state->dealer, state->hello.data_port_low,
                                     state->hello.data_port_high, state->model_dirs);
    xinf_hosted_set_bind_host (state->hosted, state->hello.host_ip);
    xinf_hosted_set_fetch (state->hosted, !state->no_fetch, 0);
    xinf_hosted_set_executor_process (state->hosted, state->executor_process);
    if (!state->no_serve && (state->files = xinf_transfer_server_new (state->hello.node, state->model_dirs)))
        xinf_ctx_reader (ctx, xinf_transfer_server_sock (state->files), s_on_files, NULL);
    state->probe_jobs = zlistx_new ();
    zlistx_set_destructor (state->probe_jobs, (zlistx_destructor_fn *) zactor_destroy);
    s_connect (ctx);
    int64_t tick = state->heartbeat_ms / 10 > 10 ? state->heartbeat_ms / 10 : 10;
    xinf_ctx_timer (ctx, tick, 0, s_on_tick, NULL);
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    xinf_hosted_destroy (&state->hosted);
    xinf_transfer_server_destroy (&state->files);
    zlistx_destroy (&state->probe_jobs);
    zactor_destroy (&state->diagnose_job);
    //  Also while registering again (the supervisor answered a heartbeat
    //  with NOT_REGISTERED: it holds us as lost, and BYE says we left)
    if (state->registered || state->known) {
        xinf_msg_t *bye = xinf_bye_encode (state->hello.node);
        xinf_dealer_send (state->dealer, &bye);
        //  Linger briefly so the BYE leaves before the socket closes
        zsock_set_linger (xinf_dealer_sock (state->dealer), 200);
    }
    xinf_dealer_destroy (&state->dealer);
}

//  This run's instance for HELLO: random, never 0 (0 says "not sent"), so
//  that a supervisor tells a restart of this worker from a HELLO sent
//  again, even when the restart has the same pid (a container's pid 1).
static uint64_t
s_instance_id (void)
{
    zuuid_t *uuid = zuuid_new ();
    uint64_t id = 0;
    memcpy (&id, zuuid_data (uuid), sizeof id);
    zuuid_destroy (&uuid);
    return id ? id : 1;
}

//  Fills the HELLO we register with: names, addresses, resources, devices,
//  whether the build has NCCL.
static int
s_prepare_hello (s_state_t *state, const xinf_worker_config_t *config)
{
    xinf_hello_t *hello = &state->hello;
    snprintf (hello->node, sizeof hello->node, "%s", config->node_name);
    if (config->host_ip && *config->host_ip) {
        snprintf (hello->host_ip, sizeof hello->host_ip, "%s", config->host_ip);
        snprintf (hello->host_ip_source, sizeof hello->host_ip_source, "%s",
                  config->host_ip_source ? config->host_ip_source : "flag");
    }
    else {
        char address [128];
        if (xinf_route_address (state->endpoints [0], address, sizeof address)) {
            xinf_error ("worker", "cannot detect the host address: %s; set -H / XINF_HOST_IP", address);
            return -1;
        }
        snprintf (hello->host_ip, sizeof hello->host_ip, "%.64s", address);
        snprintf (hello->host_ip_source, sizeof hello->host_ip_source, "detected");
        xinf_info ("worker", "host_ip=%s chosen: the local address of the route to %s (set -H / XINF_HOST_IP to override)",
                   address, state->endpoints [0]);
    }
    hello->data_port_low = (uint16_t) config->data_port_low;
    hello->data_port_high = (uint16_t) config->data_port_high;
    state->probe_listener = xinf_probe_listener_new (hello->node, hello->host_ip, config->data_port_low, config->data_port_high);
    hello->data_port = state->probe_listener ? (uint16_t) xinf_probe_listener_port (state->probe_listener) : 0;
    hello->pid = (uint64_t) getpid ();
    hello->instance = s_instance_id ();
    snprintf (hello->version, sizeof hello->version, "%s", XINF_VERSION_STRING);
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    snprintf (hello->zmq_version, sizeof hello->zmq_version, "%d.%d.%d", major, minor, patch);
    snprintf (hello->czmq_version, sizeof hello->czmq_version, "%d.%d.%d",
              CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR, CZMQ_VERSION_PATCH);
    xinf_host_info_t info;
    xinf_host_info (&info);
    hello->cpus = info.cpus;
    hello->memory_bytes = info.memory_bytes;
    hello->devices = xinf_devices_probe (hello->gpu_probe, sizeof hello->gpu_probe);
    hello->nccl_said = true;
    hello->nccl = xinf_build_nccl (hello->nccl_version, sizeof hello->nccl_version);
    hello->models = xinf_value_new_array ();
    hello->heartbeat_ms = (uint64_t) config->heartbeat_ms;
    hello->liveness = (uint64_t) config->liveness;
    xinf_info ("worker", "resources node=%s cpus=%llu memory_bytes=%llu gpus=\"%s\" nccl=%s", hello->node,
               (unsigned long long) hello->cpus, (unsigned long long) hello->memory_bytes, hello->gpu_probe,
               hello->nccl ? (*hello->nccl_version ? hello->nccl_version : "yes") : "none (built without it)");
    return 0;
}

static const xinf_handler_t s_handlers [] = { { NULL, NULL } };

xinf_worker_t *
xinf_worker_new (const xinf_worker_config_t *config)
{
    xinf_worker_t *self = calloc (1, sizeof *self);
    assert (self);
    self->state = calloc (1, sizeof (s_state_t));
    assert (self->state);
    //  "tcp://A:P" or, with a standby supervisor, "tcp://A:P,tcp://B:P"
    s_state_t *state = self->state;
    const char *comma = strchr (config->endpoint, ',');
    snprintf (state->endpoints [0], sizeof state->endpoints [0], "%.*s",
              (int) (comma ? comma - config->endpoint : (ptrdiff_t) strlen (config->endpoint)), config->endpoint);
    if (comma)
        snprintf (state->endpoints [1], sizeof state->endpoints [1], "%s", comma + 1);
    state->endpoint_count = comma ? 2 : 1;
    snprintf (state->endpoint, sizeof state->endpoint, "%s", state->endpoints [0]);
    self->state->heartbeat_ms = config->heartbeat_ms;
    self->state->liveness = config->liveness;
    if (config->cert) {
        self->state->cert = config->cert;
        snprintf (self->state->server_key, sizeof self->state->server_key, "%s", config->server_key);
    }
    snprintf (self->state->cert_file, sizeof self->state->cert_file, "%s", config->cert_file ? config->cert_file : "");
    self->state->model_dirs = config->model_dirs;
    self->state->no_fetch = config->no_fetch;
    self->state->no_serve = config->no_serve;
    self->state->executor_process = config->executor_process;
    char error [256];
    if (!self->state->model_dirs) {
        self->state->model_dirs = self->state->own_dirs = xinf_model_dirs_new ();
        if (xinf_model_dirs_add (self->state->own_dirs, ".", error, sizeof error))
            xinf_error ("worker", "%s", error);
    }
    if (s_prepare_hello (self->state, config) == 0) {
        xinf_actor_spec_t spec = { "worker", s_handlers, s_init, s_fini, self->state, NULL, NULL };
        self->actor = xinf_actor_new (&spec);
    }
    if (!self->actor)
        xinf_worker_destroy (&self);
    return self;
}

void
xinf_worker_destroy (xinf_worker_t **self_p)
{
    if (self_p && *self_p) {
        xinf_worker_t *self = *self_p;
        if (xinf_actor_destroy (&self->actor)) {
            xinf_probe_listener_destroy (&self->state->probe_listener);
            xinf_hello_clear (&self->state->hello);
            xinf_model_dirs_destroy (&self->state->own_dirs);
            free (self->state);
        }
        free (self);
        *self_p = NULL;
    }
}
