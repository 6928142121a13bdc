/*  xinf_supervisor: the supervisor actor.  */
#include "xinf_supervisor.h"
#include "xinf_cluster.h"
#include "xinf_models.h"
#include "xinf_doctor.h"
#include "xinf_guard.h"
#include "xinf_bstar.h"
#include "xinf_journal.h"
#include "xinf_client_msg.h"
#include "xinf_transfer_relay.h"

#include <unistd.h>


typedef struct {
    char node_name [XINF_SENDER_MAX + 1];
    int64_t started;
    int64_t heartbeat_ms;
    int liveness;
    int64_t forget_lost_ms;        //  lost workers leave the table after it (0: never)
    xinf_cluster_t *cluster;      //  created and used on the actor thread
    xinf_models_t *models;        //  models, replicas, in-flight requests
    xinf_mesh_t *mesh;            //  connectivity mesh sessions (doctor, preflight)
    xinf_doctor_t *doctor;        //  deployment checklist sessions
    xinf_bstar_t *bstar;          //  the standby pair, NULL without a peer
    char state_dir [4096];        //  the journal's directory, "" for none
    xinf_journal_t *journal;
    uint64_t ha_events_have;      //  the peer's events copied here, up to its seq
    uint64_t ha_peer_has;         //  our events the peer has copied, up to our seq
    xinf_value_t *ha_models;      //  the serving peer's launched models, restored on a take-over
    uint64_t heartbeat_seq;
    int64_t last_beat;
    zcert_t *cert;                //  our key pair when keys are configured (not owned)
    double peer_rate;             //  messages a second one peer may send (0: no limit)
    xinf_guard_t *guard;          //  CURVE and the role check, with a cert
    xinf_model_dirs_t *model_dirs;    //  the copies it serves (not owned), or NULL
    xinf_transfer_relay_t *transfers; //  model files on their way to workers
} s_state_t;

struct _xinf_supervisor_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

static xinf_value_t *s_ha_extra (s_state_t *state);

static s_state_t *
s_state (xinf_ctx_t *ctx)
{
    return (s_state_t *) xinf_ctx_state (ctx);
}

static void
s_on_ping (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_actor_stats_t stats;
    xinf_ctx_stats (ctx, &stats);
    xinf_msg_t *pong = xinf_msg_new ("PONG");
    xinf_value_t *body = xinf_msg_body (pong);
    xinf_map_put_str (body, "actor", xinf_ctx_name (ctx));
    xinf_map_put_str (body, "node", state->node_name);
    xinf_map_put_str (body, "role", "supervisor");
    xinf_map_put_str (body, "version", XINF_VERSION_STRING);
    xinf_map_put_uint (body, "uptime_ms", (uint64_t) (zclock_mono () - state->started));
    xinf_map_put_uint (body, "received", stats.endpoint.received);
    xinf_map_put_uint (body, "bad_envelopes", stats.bad_envelopes);
    xinf_map_put_uint (body, "unknown_types", stats.unknown_types);
    xinf_map_put_uint (body, "workers", xinf_cluster_size (state->cluster));
    if (state->bstar)
        xinf_map_put_str (body, "standby", xinf_bstar_state_name (xinf_bstar_state (state->bstar)));
    xinf_value_t *echo = xinf_map_take (xinf_msg_body (msg), "echo");
    if (echo)
        xinf_map_put (xinf_msg_body (pong), "echo", echo);
    for (size_t index = 0; index < xinf_msg_frame_count (msg); index++) {
        zframe_t *copy = zframe_dup (xinf_msg_frame (msg, index));
        xinf_msg_add_frame (pong, &copy);
    }
    xinf_ctx_reply (ctx, from, msg, &pong);
}

static void
s_bad_request (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg, const char *reason)
{
    uint64_t count = xinf_peer_may_complain (from, zclock_mono ());
    if (count)
        xinf_warn ("supervisor", "bad request type=%s peer=%s address=%s count=%llu reason=\"%s\"",
                   xinf_msg_type (msg), xinf_peer_id (from), xinf_peer_address (from), (unsigned long long) count,
                   reason);
    xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "%s: %s", xinf_msg_type (msg), reason);
}

static void
s_on_hello (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_hello_t hello;
    if (xinf_hello_decode (msg, &hello, &check)) {
        s_bad_request (ctx, from, msg, check.reason);
        return;
    }
    xinf_welcome_t welcome;
    char code [32], reason [512], node [XINF_NODE_NAME_MAX + 1];
    xinf_value_t *models = xinf_value_dup (hello.models);
    snprintf (node, sizeof node, "%s", hello.node);
    if (xinf_cluster_hello (state->cluster, &hello, xinf_peer_id (from), xinf_peer_address (from),
                            zclock_mono (), &welcome, code, sizeof code, reason, sizeof reason)) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), code, "%s", reason);
    }
    else {
        xinf_cluster_set_key (state->cluster, node, xinf_peer_key (from));
        xinf_models_adopt (state->models, ctx, node, models);
        xinf_models_worker_hosts (state->models, ctx, node, models, xinf_cluster_restarted (state->cluster, node));
        xinf_models_worker_joined (state->models, ctx, node);
        const xinf_value_t *requests = xinf_map_get (xinf_msg_body (msg), "requests");   //  checked by the decode
        if (requests)
            xinf_models_adopt_requests (state->models, ctx, node, requests);
        xinf_msg_t *reply = xinf_welcome_encode (&welcome);
        xinf_ctx_reply (ctx, from, msg, &reply);
        xinf_welcome_clear (&welcome);
    }
    xinf_value_destroy (&models);
    xinf_hello_clear (&hello);
}

static void
s_on_heartbeat (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_heartbeat_msg_t beat;
    if (xinf_heartbeat_msg_decode (msg, &beat, &check)) {
        s_bad_request (ctx, from, msg, check.reason);
        return;
    }
    if (xinf_cluster_heartbeat (state->cluster, xinf_peer_id (from), &beat, zclock_mono ())) {
        xinf_info ("supervisor", "heartbeat from unregistered peer node=%s address=%s: asking it to register",
                   beat.node, xinf_peer_address (from));
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "NOT_REGISTERED",
                              "this supervisor does not know you (it may have restarted): send HELLO");
    }
    xinf_heartbeat_msg_clear (&beat);
}

static void
s_on_bye (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    char node [XINF_NODE_NAME_MAX + 1];
    if (xinf_bye_decode (msg, node, sizeof node, &check))
        s_bad_request (ctx, from, msg, check.reason);
    else
        xinf_cluster_bye (s_state (ctx)->cluster, xinf_peer_id (from), zclock_mono ());
}

static void
s_on_cluster_info (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    int64_t now = zclock_mono ();
    xinf_msg_t *reply = xinf_msg_new ("CLUSTER_INFO_REPLY");
    xinf_value_t *body = xinf_msg_body (reply);
    xinf_value_t *supervisor = xinf_value_new_map ();
    xinf_map_put_str (supervisor, "node", state->node_name);
    xinf_map_put_str (supervisor, "version", XINF_VERSION_STRING);
    xinf_map_put_uint (supervisor, "pid", (uint64_t) getpid ());
    xinf_map_put_uint (supervisor, "uptime_ms", (uint64_t) (now - state->started));
    xinf_map_put (body, "supervisor", supervisor);
    xinf_map_put_uint (body, "heartbeat_ms", (uint64_t) state->heartbeat_ms);
    xinf_map_put_uint (body, "liveness", (uint64_t) state->liveness);
    xinf_map_put (body, "workers", xinf_cluster_workers (state->cluster, now));
    xinf_map_put (body, "requests", xinf_models_stats (state->models));
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static void
s_on_waits (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = xinf_msg_new ("WAITS_REPLY");
    xinf_map_put (xinf_msg_body (reply), "waits", xinf_cluster_waits (s_state (ctx)->cluster, zclock_mono ()));
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static void
s_on_events (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_events_t events;
    if (xinf_client_msg_events_decode (xinf_msg_body (msg), &events, &check)) {
        s_bad_request (ctx, from, msg, check.reason);
        return;
    }
    uint64_t next;
    xinf_msg_t *reply = xinf_msg_new ("EVENTS_REPLY");
    xinf_map_put (xinf_msg_body (reply), "events",
                  xinf_cluster_events (s_state (ctx)->cluster, events.since, (size_t) events.limit, &next));
    xinf_map_put_uint (xinf_msg_body (reply), "next", next);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

//  The model protocol: clients (LAUNCH, GENERATE, ...) and workers
//  (MODEL_STATE, RUN_*); a worker's message is also a sign of life.
static void
s_on_models (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_cluster_seen (state->cluster, xinf_peer_id (from), zclock_mono ());
    xinf_models_handle (state->models, ctx, from, msg);
}

static void
s_on_doctor (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_cluster_seen (state->cluster, xinf_peer_id (from), zclock_mono ());
    if (!xinf_mesh_handle (state->mesh, ctx, from, msg))
        xinf_doctor_handle (state->doctor, ctx, from, msg);
}

static void
s_on_worker_lost (const char *node, const char *reason, void *arg)
{
    xinf_ctx_t *ctx = (xinf_ctx_t *) arg;
    xinf_models_worker_lost (s_state (ctx)->models, ctx, node, reason);
    xinf_transfer_relay_worker_lost (s_state (ctx)->transfers, ctx, node);
}

//  Model file transfers (FILE_*): a worker's message is a sign of life.
static void
s_on_transfer (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_cluster_seen (state->cluster, xinf_peer_id (from), zclock_mono ());
    xinf_transfer_relay_handle (state->transfers, ctx, from, msg);
}

static bool
s_names_file (const char *uid, uint64_t generation, const char *node, const char *path, void *arg)
{
    return xinf_models_names_file ((xinf_models_t *) arg, uid, generation, node, path);
}

//  Liveness checks run several times per interval; our beats go out once.
static void
s_on_tick (xinf_ctx_t *ctx, void *arg)
{
    s_state_t *state = s_state (ctx);
    int64_t now = zclock_mono ();
    xinf_cluster_check (state->cluster, now);
    xinf_models_tick (state->models, ctx, now);
    xinf_mesh_tick (state->mesh, ctx, now);
    xinf_transfer_relay_tick (state->transfers, ctx, now);
    if (now - state->last_beat < state->heartbeat_ms)
        return;
    state->last_beat = now;
    if (state->bstar)
        xinf_bstar_tick (state->bstar, s_ha_extra (state));
    zlist_t *peers = xinf_cluster_heartbeat_peers (state->cluster);
    for (char *peer_id = (char *) zlist_first (peers); peer_id; peer_id = (char *) zlist_next (peers)) {
        xinf_peer_t *peer = xinf_router_peer (xinf_ctx_router (ctx), peer_id);
        if (!peer)
            continue;
        xinf_msg_t *beat = xinf_msg_new ("HEARTBEAT");
        xinf_map_put_str (xinf_msg_body (beat), "node", state->node_name);
        xinf_map_put_uint (xinf_msg_body (beat), "seq", ++state->heartbeat_seq);
        //  A refused send (peer gone or its queue full) is counted by the router
        xinf_router_send (xinf_ctx_router (ctx), peer, &beat);
    }
    zlist_destroy (&peers);
}

static void
s_replayed_event (uint64_t time_ms, const char *kind, const char *node, const char *detail, void *arg)
{
    xinf_cluster_event_copy ((xinf_cluster_t *) arg, time_ms, kind, node, detail);
}

static void
s_journal_event (uint64_t time_ms, const char *kind, const char *node, const char *detail, void *arg)
{
    xinf_journal_event ((xinf_journal_t *) arg, time_ms, kind, node, detail);
}

//  --state-dir: the history and the launched models of earlier runs come
//  back, and from now on are kept. -1 when the directory is unusable.
static int
s_open_journal (s_state_t *state)
{
    char error [512];
    state->journal = xinf_journal_new (state->state_dir, error, sizeof error);
    if (!state->journal) {
        xinf_error ("supervisor", "%s", error);
        return -1;
    }
    size_t events = xinf_journal_replay (state->journal, XINF_EVENTS_KEPT, s_replayed_event, state->cluster);
    xinf_cluster_on_event (state->cluster, s_journal_event, state->journal);
    xinf_value_t *saved = xinf_journal_load_models (state->journal);
    xinf_models_set_journal (state->models, state->journal);
    xinf_models_restore (state->models, saved);
    xinf_info ("supervisor", "journal dir=%s events=%zu models=%zu", state->state_dir, events,
               xinf_value_count (saved));
    xinf_value_destroy (&saved);
    return 0;
}

static int
s_init (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (state->cert)
        state->guard = xinf_guard_new (ctx, state->cert);
    if (state->peer_rate > 0)
        xinf_router_set_peer_limit (xinf_ctx_router (ctx), state->peer_rate, 4 * state->peer_rate);
    state->cluster = xinf_cluster_new (state->node_name, state->heartbeat_ms, state->liveness);
    xinf_cluster_set_forget (state->cluster, state->forget_lost_ms);
    state->mesh = xinf_mesh_new (state->cluster);
    state->models = xinf_models_new (state->cluster, state->mesh);
    //  Workers notice a lost supervisor after liveness intervals, then
    //  register with backoff (at most 2 s): twice that, and a margin
    xinf_models_set_restart_window (state->models, 2 * state->liveness * state->heartbeat_ms + 2000);
    if (*state->state_dir && s_open_journal (state))
        return -1;
    state->doctor = xinf_doctor_new (state->cluster, state->mesh, state->node_name);
    state->transfers = xinf_transfer_relay_new (ctx, state->cluster, state->node_name, state->model_dirs,
                                                s_names_file, state->models);
    xinf_cluster_on_lost (state->cluster, s_on_worker_lost, ctx);
    if (state->bstar)
        xinf_bstar_start (state->bstar, ctx, state->cert);
    int64_t tick = state->heartbeat_ms / 10 > 10 ? state->heartbeat_ms / 10 : 10;
    xinf_ctx_timer (ctx, tick, 0, s_on_tick, NULL);
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    //  Every request in flight is answered; a short linger lets the
    //  answers leave before the socket closes
    xinf_models_stop (s_state (ctx)->models, ctx);
    zsock_set_linger (xinf_router_sock (xinf_ctx_router (ctx)), 500);
    xinf_transfer_relay_destroy (&s_state (ctx)->transfers);
    xinf_models_destroy (&s_state (ctx)->models);
    xinf_doctor_destroy (&s_state (ctx)->doctor);
    xinf_mesh_destroy (&s_state (ctx)->mesh);
    xinf_cluster_destroy (&s_state (ctx)->cluster);
    xinf_guard_destroy (&s_state (ctx)->guard, ctx);
    xinf_bstar_destroy (&s_state (ctx)->bstar);
    xinf_journal_destroy (&s_state (ctx)->journal);
    xinf_value_destroy (&s_state (ctx)->ha_models);
}

//  Copies the active peer's events this log lacks (checked field by field).
static void
s_copy_peer_events (s_state_t *state, const xinf_value_t *events)
{
    for (size_t index = 0; index < xinf_value_count (events); index++) {
        const xinf_value_t *event = xinf_array_at (events, index);
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_node_msg_event_t copy;
        if (xinf_node_msg_event_decode (event, &copy, &check)) {
            xinf_warn ("supervisor", "HA_STATE event %zu ignored reason=\"%s\"", index, check.reason);
            continue;
        }
        if (copy.seq <= state->ha_events_have)
            continue;
        xinf_cluster_event_copy (state->cluster, copy.time_ms, copy.kind, copy.node, copy.detail);
        state->ha_events_have = copy.seq;
    }
}

//  This supervisor serves now, in place of its peer: the peer's launched
//  models (with their parameters) wait for their workers as after a
//  restart; those no worker reports within the window are relaunched.
static void
s_take_over (s_state_t *state, int64_t now)
{
    xinf_models_took_over (state->models, now);
    if (state->ha_models)
        xinf_models_restore (state->models, state->ha_models);
    xinf_value_destroy (&state->ha_models);
}

//  HA_STATE from the standby peer: its state drives ours; an active peer
//  sends the events this one lacks, so a fail-over keeps the history.
static void
s_on_peer_state (xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_ha_state_t ha;
    xinf_node_msg_ha_state_decode (body, &ha, &check);
    xinf_bstar_state_t peer = check.failed ? 0 : xinf_bstar_state_parse (ha.state);
    if (!peer) {
        xinf_warn ("supervisor", "HA_STATE ignored reason=\"%s\"", check.failed ? check.reason : "unknown state");
        return;
    }
    state->ha_peer_has = ha.events_have;
    if (peer == XINF_BSTAR_ACTIVE || peer == XINF_BSTAR_PRIMARY) {
        s_copy_peer_events (state, ha.events);
        if (ha.models) {
            xinf_value_destroy (&state->ha_models);
            state->ha_models = xinf_value_dup (ha.models);
        }
    }
    xinf_bstar_state_t before = xinf_bstar_state (state->bstar);
    xinf_bstar_state_t after = xinf_bstar_peer_state (state->bstar, peer, zclock_mono ());
    if (after != before)
        xinf_cluster_event (state->cluster, "standby", state->node_name, "%s -> %s (the peer is %s)",
                            xinf_bstar_state_name (before), xinf_bstar_state_name (after), xinf_bstar_state_name (peer));
    if (after == XINF_BSTAR_ACTIVE && before == XINF_BSTAR_PASSIVE)
        s_take_over (state, zclock_mono ());
}

//  What HA_STATE carries besides the state: the peer's events we have,
//  and, while serving, our events the peer lacks (at most 200 a beat).
static xinf_value_t *
s_ha_extra (s_state_t *state)
{
    xinf_value_t *extra = xinf_value_new_map ();
    xinf_map_put_uint (extra, "events_have", state->ha_events_have);
    xinf_bstar_state_t mine = xinf_bstar_state (state->bstar);
    if (mine == XINF_BSTAR_ACTIVE || mine == XINF_BSTAR_PRIMARY) {
        uint64_t next;
        xinf_map_put (extra, "events", xinf_cluster_events (state->cluster, state->ha_peer_has, 200, &next));
        xinf_map_put (extra, "models", xinf_models_describe (state->models));
    }
    return extra;
}

//  With a standby peer, every message passes here first: the peer's
//  HA_STATE is handled, PING always answered; a worker's or client's
//  message is served only by the active supervisor (a passive one whose
//  peer went silent takes over on it), else answered ERROR STANDBY.
static bool
s_gate (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    //  Keys on: the sender's role first (security.md)
    if (!xinf_guard_admit (state->guard, ctx, from, msg))
        return false;
    if (!state->bstar || xinf_msg_is (msg, "PING") || xinf_msg_is (msg, "ERROR"))
        return true;
    if (xinf_msg_is (msg, "HA_STATE")) {
        s_on_peer_state (ctx, msg);
        return false;
    }
    xinf_bstar_state_t before = xinf_bstar_state (state->bstar);
    int64_t now = zclock_mono ();
    if (xinf_bstar_request (state->bstar, now)) {
        if (before == XINF_BSTAR_PASSIVE) {
            char quiet [800];
            xinf_cluster_event (state->cluster, "standby", state->node_name, "passive -> active: the peer %s %s "
                                "and %s came here (fail-over)", xinf_bstar_peer (state->bstar),
                                xinf_bstar_quiet (state->bstar, now, quiet, sizeof quiet), xinf_msg_type (msg));
            s_take_over (state, now);
        }
        return true;
    }
    xinf_msg_t *error = xinf_msg_new_error (xinf_msg_corr (msg), "STANDBY", "%s: supervisor %s is the %s standby; "
        "the active one is %s: send there", xinf_msg_type (msg), state->node_name,
        xinf_bstar_state_name (xinf_bstar_state (state->bstar)), xinf_bstar_peer (state->bstar));
    xinf_map_put_uint (xinf_msg_body (error), "retry_after_ms", (uint64_t) state->heartbeat_ms);
    xinf_map_put_str (xinf_msg_body (error), "active", xinf_bstar_peer (state->bstar));
    xinf_ctx_reply (ctx, from, msg, &error);
    return false;
}

//  The per-peer rate limit (--peer-rate) is for clients: an alive
//  registered worker's traffic is the serving itself (a RUN_TOKEN per
//  token of every stream it runs), and a message of it dropped would be a
//  gap in a stream or a request never answered. A worker registers with
//  HELLO, which the limit and, with keys, the worker role guard.
static bool
s_unlimited (xinf_ctx_t *ctx, xinf_peer_t *from)
{
    s_state_t *state = s_state (ctx);
    if (state->peer_rate <= 0 || !state->cluster)
        return false;                 //  no limit: nothing to look up
    return xinf_cluster_alive_peer (state->cluster, xinf_peer_id (from));
}

static const xinf_handler_t s_handlers [] = {
    { "PING", s_on_ping },
    { "HELLO", s_on_hello },
    { "HEARTBEAT", s_on_heartbeat },
    { "BYE", s_on_bye },
    { "CLUSTER_INFO", s_on_cluster_info },
    { "WAITS", s_on_waits },
    { "EVENTS", s_on_events },
    { "LAUNCH", s_on_models },
    { "LAUNCH_PROGRESS", s_on_models },
    { "LIST_MODELS", s_on_models },
    { "TERMINATE", s_on_models },
    { "GENERATE", s_on_models },
    { "CANCEL", s_on_models },
    { "TOKENIZE", s_on_models },
    { "DETOKENIZE", s_on_models },
    { "TOKENIZE_RESULT", s_on_models },
    { "MODEL_STATE", s_on_models },
    { "MODEL_LOAD", s_on_models },
    { "RUN_TOKEN", s_on_models },
    { "RUN_DONE", s_on_models },
    { "RUN_FAILED", s_on_models },
    { "DOCTOR", s_on_doctor },
    { "PROBE_RESULT", s_on_doctor },
    { "FILE_FETCH", s_on_transfer },
    { "FILE_READ", s_on_transfer },
    { "FILE_CLOSE", s_on_transfer },
    { "FILE_HASHING", s_on_transfer },
    { "FILE_OPENED", s_on_transfer },
    { "FILE_DATA", s_on_transfer },
    { "FILE_ERROR", s_on_transfer },
    { NULL, NULL }
};

xinf_supervisor_t *
xinf_supervisor_new (const xinf_supervisor_config_t *config)
{
    xinf_supervisor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->state = calloc (1, sizeof (s_state_t));
    assert (self->state);
    snprintf (self->state->node_name, sizeof self->state->node_name, "%s", config->node_name);
    self->state->started = zclock_mono ();
    self->state->heartbeat_ms = config->heartbeat_ms;
    self->state->liveness = config->liveness;
    self->state->forget_lost_ms = config->forget_lost_ms;
    self->state->cert = config->cert;
    self->state->peer_rate = config->peer_rate;
    self->state->model_dirs = config->model_dirs;
    snprintf (self->state->state_dir, sizeof self->state->state_dir, "%s", config->state_dir ? config->state_dir : "");
    if (config->standby_peer && *config->standby_peer)
        self->state->bstar = xinf_bstar_new (config->standby_primary, config->standby_peer, config->heartbeat_ms,
                                             config->heartbeat_ms * config->liveness);
    xinf_actor_spec_t spec = { "supervisor", s_handlers, s_init, s_fini, self->state, s_gate, s_unlimited };
    self->actor = xinf_actor_new (&spec);
    if (!self->actor)
        xinf_supervisor_destroy (&self);
    return self;
}

void
xinf_supervisor_destroy (xinf_supervisor_t **self_p)
{
    if (self_p && *self_p) {
        xinf_supervisor_t *self = *self_p;
        if (xinf_actor_destroy (&self->actor))
            free (self->state);
        free (self);
        *self_p = NULL;
    }
}

int
xinf_supervisor_bind (xinf_supervisor_t *self, const char *endpoint, char *bound, size_t bound_size)
{
    return xinf_actor_bind (self->actor, endpoint, bound, bound_size);
}
