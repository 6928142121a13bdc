/*  xinf_models: the supervisor's models and in-flight requests.  */
#include "xinf_models.h"
#include "xinf_launch.h"

#include <ctype.h>
#include <stdarg.h>

typedef xinf_model_entry_t s_model_t;
typedef xinf_replica_entry_t s_replica_t;

typedef struct {
    uint64_t id;
    char client [512];                //  peer id
    uint64_t corr;
    char uid [65];
    char node [65];
    uint64_t replica;
    bool stream;
    int64_t deadline;                 //  monotonic ms, 0 = none
} s_request_t;

struct _xinf_models_t {
    xinf_cluster_t *cluster;
    xinf_launch_t *launch;            //  brings replicas up
    zhashx_t *models;                 //  uid -> s_model_t
    zhashx_t *requests;               //  id (text) -> s_request_t
    uint64_t next_request;
    uint64_t next_generation;
};

static void
s_model_free (void **item)
{
    xinf_model_entry_free ((s_model_t **) item);
}

static void
s_request_free (void **item)
{
    free (*item);
    *item = NULL;
}

static void s_on_replica_failed (xinf_ctx_t *ctx, s_model_t *model, s_replica_t *replica, void *arg);

xinf_models_t *
xinf_models_new (xinf_cluster_t *cluster, xinf_mesh_t *mesh)
{
    xinf_models_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    self->models = zhashx_new ();
    zhashx_set_destructor (self->models, s_model_free);
    self->launch = xinf_launch_new (cluster, mesh, self->models, s_on_replica_failed, self);
    self->requests = zhashx_new ();
    zhashx_set_destructor (self->requests, s_request_free);
    self->next_request = 1;
    return self;
}

void
xinf_models_destroy (xinf_models_t **self_p)
{
    if (self_p && *self_p) {
        xinf_models_t *self = *self_p;
        xinf_launch_destroy (&self->launch);
        zhashx_destroy (&self->models);
        zhashx_destroy (&self->requests);
        free (self);
        *self_p = NULL;
    }
}

static bool
s_uid_valid (const char *uid)
{
    for (const char *c = uid; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '.' && *c != '_' && *c != '-')
            return false;
    return *uid != 0;
}

static int
s_send_to_node (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, xinf_msg_t **msg_p)
{
    return xinf_launch_send (self->cluster, ctx, node, msg_p);
}

//  The model's state from its replicas: failed > loading > ready > stopped.
static const char *
s_model_state (s_model_t *model, const char **error)
{
    bool loading = false, ready = model->count > 0;
    *error = "";
    for (size_t index = 0; index < model->count; index++) {
        s_replica_t *replica = &model->replicas [index];
        if (streq (replica->state, "failed")) {
            *error = replica->error;
            return "failed";
        }
        ready &= streq (replica->state, "ready");
        loading |= !streq (replica->state, "ready") && !streq (replica->state, "stopped");
    }
    return loading ? "loading" : ready ? "ready" : "stopped";
}

//  Picks an alive worker not in 'exclude' (preferring ones not in 'busy').
static bool
s_pick (xinf_models_t *self, zlist_t *exclude, zlist_t *busy, char *node, size_t size)
{
    zlist_t *both = zlist_dup (exclude);
    for (char *name = (char *) zlist_first (busy); name; name = (char *) zlist_next (busy))
        zlist_append (both, name);
    bool found = xinf_cluster_pick (self->cluster, both, node, size)
              || xinf_cluster_pick (self->cluster, exclude, node, size);
    zlist_destroy (&both);
    return found;
}

//  Places one replica's ranks: the named workers, or distinct alive ones.
static int
s_place_replica (xinf_models_t *self, s_model_t *model, s_replica_t *replica, const xinf_value_t *named,
                 zlist_t *busy, char *reason, size_t size)
{
    zlist_t *mine = zlist_new ();
    int rc = 0;
    for (size_t rank = 0; rank < model->n_worker && rc == 0; rank++) {
        char *node = replica->n_ranks > 1 ? replica->ranks [rank].node : replica->node;
        size_t node_size = sizeof replica->node;
        if (named)
            snprintf (node, node_size, "%s", xinf_value_str (xinf_array_at (named, rank)));
        else
        if (!s_pick (self, mine, busy, node, node_size)) {
            if (model->n_worker > 1)
                snprintf (reason, size, "n_worker %zu needs %zu distinct alive workers; only %zu found",
                          model->n_worker, model->n_worker, rank);
            else
                snprintf (reason, size, "no alive worker to place the model on");
            rc = -1;
        }
        zlist_append (mine, node);
        zlist_append (busy, node);
    }
    if (replica->n_ranks > 1)
        snprintf (replica->node, sizeof replica->node, "%s", replica->ranks [0].node);
    zlist_destroy (&mine);
    return rc;
}

//  Chooses the workers of every replica (and rank); 0 or -1 with a reason.
static int
s_place (xinf_models_t *self, const xinf_value_t *named, size_t count, s_model_t *model, char *reason, size_t size)
{
    zlist_t *busy = zlist_new ();
    int rc = 0;
    for (size_t index = 0; index < count && rc == 0; index++) {
        s_replica_t *replica = &model->replicas [index];
        replica->index = index;
        replica->n_ranks = model->n_worker;
        rc = s_place_replica (self, model, replica, named, busy, reason, size);
    }
    zlist_destroy (&busy);
    model->count = count;
    return rc;
}

//  The named workers: 'worker' (one) or 'workers' (one per rank), each
//  alive and distinct. NULL when none are named (or on a failed check).
static xinf_value_t *
s_named_workers (xinf_models_t *self, xinf_value_t *body, uint64_t n_worker, xinf_check_t *check, const char **code)
{
    const char *worker = xinf_check_str_opt (check, body, "worker", 1, 64, NULL);
    const xinf_value_t *workers = xinf_map_get (body, "workers") ? xinf_check_array (check, body, "workers", 16) : NULL;
    if (check->failed || (!worker && !workers))
        return NULL;
    if (worker && workers) {
        xinf_check_fail (check, "give 'worker' or 'workers', not both");
        return NULL;
    }
    xinf_value_t *named = xinf_value_new_array ();
    if (worker)
        xinf_array_push (named, xinf_value_new_str (worker));
    for (size_t index = 0; workers && index < xinf_value_count (workers); index++) {
        const char *name = xinf_value_str (xinf_array_at (workers, index));
        if (!name || !*name || strlen (name) > 64)
            xinf_check_fail (check, "field 'workers[%zu]' must be a worker name (1-64 chars)", index);
        else
            xinf_array_push (named, xinf_value_new_str (name));
    }
    if (!check->failed && xinf_value_count (named) != n_worker)
        xinf_check_fail (check, "%zu worker(s) named for n_worker %llu: name one per rank", xinf_value_count (named),
                         (unsigned long long) n_worker);
    for (size_t index = 0; !check->failed && index < xinf_value_count (named); index++) {
        const char *name = xinf_value_str (xinf_array_at (named, index));
        for (size_t other = 0; other < index; other++)
            if (streq (name, xinf_value_str (xinf_array_at (named, other))))
                xinf_check_fail (check, "worker '%s' is named twice: every rank needs its own worker", name);
        if (!check->failed && !xinf_cluster_peer_of (self->cluster, name)) {
            *code = "NO_WORKER";
            xinf_check_fail (check, "worker '%s' is not registered and alive", name);
        }
    }
    if (check->failed)
        xinf_value_destroy (&named);
    return named;
}

static xinf_value_t *
s_placement (s_model_t *model)
{
    xinf_value_t *placed = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++) {
        s_replica_t *replica = &model->replicas [index];
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_uint (item, "replica", index);
        xinf_map_put_str (item, "worker", replica->node);
        if (replica->n_ranks > 1) {
            xinf_value_t *ranks = xinf_value_new_array ();
            for (size_t rank = 0; rank < replica->n_ranks; rank++)
                xinf_array_push (ranks, xinf_value_new_str (replica->ranks [rank].node));
            xinf_map_put (item, "workers", ranks);
        }
        xinf_array_push (placed, item);
    }
    return placed;
}

static void
s_on_launch (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    const char *uid = xinf_check_str (&check, body, "uid", 1, 64);
    const char *path = xinf_check_str (&check, body, "path", 1, 4095);
    uint64_t replicas = xinf_check_uint_opt (&check, body, "replicas", 1, XINF_REPLICAS_MAX, 1);
    uint64_t threads = xinf_check_uint_opt (&check, body, "threads", 0, 1024, 0);
    uint64_t n_worker = xinf_check_uint_opt (&check, body, "n_worker", 1, XINF_RANKS_MAX, 1);
    uint64_t probe_ms = xinf_check_uint_opt (&check, body, "probe_timeout_ms", 100, 60000, 3000);
    uint64_t rendezvous_ms = xinf_check_uint_opt (&check, body, "rendezvous_timeout_ms", 100, 600000, 10000);
    uint64_t stall_ms = xinf_check_uint_opt (&check, body, "stall_timeout_ms", 100, 3600000, 60000);
    const char *code = "BAD_REQUEST";
    xinf_value_t *named = s_named_workers (self, body, n_worker, &check, &code);
    if (!check.failed && !s_uid_valid (uid))
        xinf_check_fail (&check, "field 'uid' may only hold A-Z a-z 0-9 . _ -");
    if (!check.failed && named && replicas > 1 && n_worker > 1)
        xinf_check_fail (&check, "named workers place one replica: give replicas 1");
    if (!check.failed && zhashx_lookup (self->models, uid)) {
        code = "DUPLICATE_MODEL";
        xinf_check_fail (&check, "model '%s' is already launched (terminate it first)", uid);
    }
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), code, "LAUNCH: %s", check.reason);
        xinf_value_destroy (&named);
        return;
    }
    s_model_t *model = calloc (1, sizeof *model);
    assert (model);
    model->n_worker = n_worker;
    char reason [256];
    if (s_place (self, named, replicas, model, reason, sizeof reason)) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "NO_WORKER", "LAUNCH: %s", reason);
        xinf_value_destroy (&named);
        xinf_model_entry_free (&model);
        return;
    }
    xinf_value_destroy (&named);
    snprintf (model->uid, sizeof model->uid, "%s", uid);
    snprintf (model->path, sizeof model->path, "%s", path);
    model->threads = threads;
    model->probe_timeout_ms = probe_ms;
    model->rendezvous_timeout_ms = rendezvous_ms;
    model->stall_timeout_ms = stall_ms;
    //  Distinct across supervisor restarts too: the clock's ms, then counting
    if (!self->next_generation)
        self->next_generation = (uint64_t) zclock_time ();
    model->generation = self->next_generation++;
    zhashx_insert (self->models, uid, model);
    xinf_launch_start (self->launch, ctx, model);
    const char *error;
    xinf_msg_t *reply = xinf_msg_new ("LAUNCH_REPLY");
    xinf_map_put_str (xinf_msg_body (reply), "uid", uid);
    xinf_map_put_str (xinf_msg_body (reply), "state", s_model_state (model, &error));
    xinf_map_put_str (xinf_msg_body (reply), "error", error);
    xinf_map_put_uint (xinf_msg_body (reply), "n_worker", n_worker);
    xinf_map_put (xinf_msg_body (reply), "replicas", s_placement (model));
    xinf_info ("supervisor", "launch uid=%s path=%s replicas=%zu n_worker=%zu first_worker=%s", uid, path,
               model->count, model->n_worker, model->replicas [0].node);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static xinf_value_t *
s_replica_info (s_replica_t *replica)
{
    xinf_value_t *item = xinf_value_new_map ();
    xinf_map_put_uint (item, "replica", replica->index);
    xinf_map_put_str (item, "worker", replica->node);
    xinf_map_put_str (item, "state", replica->state);
    xinf_map_put_uint (item, "bytes_done", replica->bytes_done);
    xinf_map_put_uint (item, "bytes_total", replica->bytes_total);
    xinf_map_put_str (item, "error", replica->error);
    if (replica->n_ranks > 1) {
        xinf_value_t *ranks = xinf_value_new_array ();
        for (size_t rank = 0; rank < replica->n_ranks; rank++) {
            xinf_rank_entry_t *entry = &replica->ranks [rank];
            xinf_value_t *row = xinf_value_new_map ();
            xinf_map_put_uint (row, "rank", rank);
            xinf_map_put_str (row, "worker", entry->node);
            xinf_map_put_str (row, "state", entry->state);
            xinf_map_put_uint (row, "bytes_done", entry->bytes_done);
            xinf_map_put_uint (row, "bytes_total", entry->bytes_total);
            xinf_map_put_uint (row, "data_port", entry->data_port);
            xinf_map_put_str (row, "error", entry->error);
            xinf_array_push (ranks, row);
        }
        xinf_map_put (item, "ranks", ranks);
    }
    return item;
}

static s_model_t *
s_lookup (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg, const char *what)
{
    xinf_check_t check = XINF_CHECK_INIT;
    const char *uid = xinf_check_str (&check, xinf_msg_body (msg), "uid", 1, 64);
    s_model_t *model = check.failed ? NULL : (s_model_t *) zhashx_lookup (self->models, uid);
    if (check.failed)
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "%s: %s", what, check.reason);
    else
    if (!model)
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "UNKNOWN_MODEL", "%s: no model '%s' is launched", what, uid);
    return model;
}

static void
s_on_progress (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_model_t *model = s_lookup (self, ctx, from, msg, "LAUNCH_PROGRESS");
    if (!model)
        return;
    const char *error;
    xinf_msg_t *reply = xinf_msg_new ("LAUNCH_PROGRESS_REPLY");
    xinf_value_t *body = xinf_msg_body (reply);
    xinf_map_put_str (body, "uid", model->uid);
    xinf_map_put_str (body, "state", s_model_state (model, &error));
    xinf_map_put_str (body, "error", error);
    uint64_t done = 0, total = 0;
    xinf_value_t *replicas = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++) {
        done += model->replicas [index].bytes_done;
        total += model->replicas [index].bytes_total;
        xinf_array_push (replicas, s_replica_info (&model->replicas [index]));
    }
    xinf_map_put_uint (body, "bytes_done", done);
    xinf_map_put_uint (body, "bytes_total", total);
    xinf_map_put (body, "replicas", replicas);
    xinf_map_put_uint (body, "n_worker", model->n_worker);
    if (model->preflight)
        xinf_map_put (body, "preflight", xinf_value_dup (model->preflight));
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static void
s_on_list (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = xinf_msg_new ("LIST_MODELS_REPLY");
    xinf_value_t *list = xinf_value_new_array ();
    for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model;
         model = (s_model_t *) zhashx_next (self->models)) {
        const char *error;
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_str (item, "uid", model->uid);
        xinf_map_put_str (item, "path", model->path);
        xinf_map_put_str (item, "state", s_model_state (model, &error));
        xinf_map_put_str (item, "error", error);
        const xinf_value_t *info = NULL;
        for (size_t index = 0; index < model->count && !info; index++)
            info = model->replicas [index].info;
        const char *keys [] = { "arch", "weight_type", "size_bytes", "context", "vocab", "n_params" };
        for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++)
            if (xinf_map_get (info, keys [index]))
                xinf_map_put (item, streq (keys [index], "weight_type") ? "type" :
                              streq (keys [index], "context") ? "context_length" : keys [index],
                              xinf_value_dup (xinf_map_get (info, keys [index])));
        xinf_value_t *replicas = xinf_value_new_array ();
        for (size_t index = 0; index < model->count; index++)
            xinf_array_push (replicas, s_replica_info (&model->replicas [index]));
        xinf_map_put (item, "replicas", replicas);
        xinf_array_push (list, item);
    }
    xinf_map_put (xinf_msg_body (reply), "models", list);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

//  Answers a request with ERROR and forgets it.
static void
s_end_request (xinf_models_t *self, xinf_ctx_t *ctx, s_request_t *request, const char *code, const char *format, ...)
{
    char text [768];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    xinf_msg_t *error = xinf_msg_new_error (request->corr, code, "%s", text);
    xinf_router_send (xinf_ctx_router (ctx), xinf_router_peer (xinf_ctx_router (ctx), request->client), &error);
    //  The worker stops computing an answer nobody waits for any more
    if (!streq (code, "WORKER_LOST") && xinf_cluster_peer_of (self->cluster, request->node)) {
        xinf_msg_t *cancel = xinf_msg_new ("RUN_CANCEL");
        xinf_map_put_uint (xinf_msg_body (cancel), "request", request->id);
        xinf_map_put_str (xinf_msg_body (cancel), "uid", request->uid);
        xinf_map_put_uint (xinf_msg_body (cancel), "replica", request->replica);
        s_send_to_node (self, ctx, request->node, &cancel);
    }
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) request->id);
    zhashx_delete (self->requests, key);
}

//  Ends every request matching uid, node and replica (NULL, -1: all).
static void
s_end_requests (xinf_models_t *self, xinf_ctx_t *ctx, const char *uid, const char *node, int64_t replica,
                const char *code, const char *reason)
{
    zlist_t *doomed = zlist_new ();
    for (s_request_t *request = (s_request_t *) zhashx_first (self->requests); request;
         request = (s_request_t *) zhashx_next (self->requests))
        if ((!uid || streq (request->uid, uid)) && (!node || streq (request->node, node))
        &&  (replica < 0 || request->replica == (uint64_t) replica))
            zlist_append (doomed, request);
    for (s_request_t *request = (s_request_t *) zlist_first (doomed); request; request = (s_request_t *) zlist_next (doomed))
        s_end_request (self, ctx, request, code, "%s", reason);
    zlist_destroy (&doomed);
}

static void
s_on_terminate (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_model_t *model = s_lookup (self, ctx, from, msg, "TERMINATE");
    if (!model)
        return;
    char reason [128];
    snprintf (reason, sizeof reason, "model %s was terminated", model->uid);
    s_end_requests (self, ctx, model->uid, NULL, -1, "MODEL_NOT_READY", reason);
    xinf_launch_stop (self->launch, ctx, model);
    xinf_msg_t *reply = xinf_msg_new ("TERMINATE_REPLY");
    xinf_map_put_str (xinf_msg_body (reply), "uid", model->uid);
    xinf_map_put_uint (xinf_msg_body (reply), "replicas", model->count);
    xinf_info ("supervisor", "terminate uid=%s replicas=%zu", model->uid, model->count);
    zhashx_delete (self->models, model->uid);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static s_replica_t *
s_ready_replica (s_model_t *model)
{
    for (size_t tries = 0; tries < model->count; tries++) {
        s_replica_t *replica = &model->replicas [model->next++ % model->count];
        if (streq (replica->state, "ready"))
            return replica;
    }
    return NULL;
}

static void
s_on_generate (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_model_t *model = s_lookup (self, ctx, from, msg, "GENERATE");
    if (!model)
        return;
    s_replica_t *replica = s_ready_replica (model);
    if (!replica) {
        const char *error;
        const char *state = s_model_state (model, &error);
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "MODEL_NOT_READY", "GENERATE: model %s is %s%s%s",
                              model->uid, state, *error ? ": " : "", error);
        return;
    }
    s_request_t *request = calloc (1, sizeof *request);
    request->id = self->next_request++;
    snprintf (request->client, sizeof request->client, "%s", xinf_peer_id (from));
    request->corr = xinf_msg_corr (msg);
    snprintf (request->uid, sizeof request->uid, "%s", model->uid);
    snprintf (request->node, sizeof request->node, "%s", replica->node);
    request->replica = replica->index;
    request->stream = xinf_value_bool (xinf_map_get (xinf_msg_body (msg), "stream"));
    //  A client's budget, capped at a week so that the sum cannot overflow
    uint64_t budget = xinf_msg_deadline (msg) < 604800000ULL ? xinf_msg_deadline (msg) : 604800000ULL;
    request->deadline = budget ? zclock_mono () + (int64_t) budget : 0;
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) request->id);
    zhashx_insert (self->requests, key, request);
    xinf_msg_t *run = xinf_msg_new ("RUN");
    xinf_value_t *body = xinf_msg_body (msg);
    for (size_t index = 0; index < xinf_value_count (body); index++)
        xinf_map_put (xinf_msg_body (run), xinf_map_key_at (body, index), xinf_value_dup (xinf_map_value_at (body, index)));
    xinf_map_put_uint (xinf_msg_body (run), "request", request->id);
    xinf_map_put_uint (xinf_msg_body (run), "replica", replica->index);
    if (s_send_to_node (self, ctx, replica->node, &run))
        s_end_request (self, ctx, request, "WORKER_LOST", "GENERATE: cannot reach worker %s", replica->node);
}

static s_request_t *
s_request_of (xinf_models_t *self, xinf_msg_t *msg)
{
    char key [32];
    snprintf (key, sizeof key, "%llu", (unsigned long long) xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "request")));
    return (s_request_t *) zhashx_lookup (self->requests, key);
}

static void
s_to_client (xinf_ctx_t *ctx, s_request_t *request, xinf_msg_t **msg_p)
{
    xinf_msg_set_corr (*msg_p, request->corr);
    xinf_router_send (xinf_ctx_router (ctx), xinf_router_peer (xinf_ctx_router (ctx), request->client), msg_p);
}

//  RUN_TOKEN, RUN_DONE, RUN_FAILED from a worker.
static void
s_on_run_reply (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_request_t *request = s_request_of (self, msg);
    if (!request)
        return;                       //  ended already (deadline, lost worker)
    //  Only the worker running the request may answer it
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    if (!node || strcmp (node, request->node)) {
        xinf_warn ("supervisor", "%s for request %llu from peer=%s address=%s, which does not run it: ignored",
                   xinf_msg_type (msg), (unsigned long long) request->id, xinf_peer_id (from), xinf_peer_address (from));
        return;
    }
    xinf_value_t *body = xinf_msg_body (msg);
    if (xinf_msg_is (msg, "RUN_FAILED")) {
        s_end_request (self, ctx, request, xinf_value_str (xinf_map_get (body, "code")) ?: "RUN_FAILED",
                       "%s", xinf_value_str (xinf_map_get (body, "message")) ?: "generation failed");
        return;
    }
    bool done = xinf_msg_is (msg, "RUN_DONE");
    if (!done && !request->stream)
        return;
    xinf_msg_t *out = xinf_msg_new (done ? "GENERATE_REPLY" : "GENERATE_TOKEN");
    const char *keys [] = { "index", "token", "text", "prompt_tokens", "tokens", "finish_reason", "timings" };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (body, keys [index]))
            xinf_map_put (xinf_msg_body (out), keys [index], xinf_value_dup (xinf_map_get (body, keys [index])));
    if (done) {
        xinf_map_put_str (xinf_msg_body (out), "uid", request->uid);
        xinf_map_put_str (xinf_msg_body (out), "worker", request->node);
    }
    s_to_client (ctx, request, &out);
    if (done) {
        char key [32];
        snprintf (key, sizeof key, "%llu", (unsigned long long) request->id);
        zhashx_delete (self->requests, key);
    }
}

static void
s_on_model_state (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    const char *uid = xinf_check_str (&check, body, "uid", 1, 64);
    uint64_t index = xinf_check_uint (&check, body, "replica", 0, XINF_REPLICAS_MAX - 1);
    const char *state = xinf_check_str (&check, body, "state", 1, 15);
    uint64_t rank = xinf_check_uint_opt (&check, body, "rank", 0, XINF_RANKS_MAX - 1, 0);
    xinf_check_uint_opt (&check, body, "bytes_done", 0, UINT64_MAX, 0);
    xinf_check_uint_opt (&check, body, "bytes_total", 0, UINT64_MAX, 0);
    xinf_check_uint_opt (&check, body, "data_port", 0, 65535, 0);
    xinf_check_str_opt (&check, body, "error", 0, 511, "");
    if (xinf_map_get (body, "info"))
        xinf_check_map (&check, body, "info", 64);
    const char *states [] = { "starting", "joining", "loading", "ready", "failed", "stopped" };
    bool known = false;
    for (size_t at = 0; !check.failed && at < sizeof states / sizeof states [0]; at++)
        known |= streq (state, states [at]);
    if (!check.failed && !known)
        xinf_check_fail (&check, "field 'state' must be one of starting, joining, loading, ready, failed, stopped");
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    s_model_t *model = check.failed ? NULL : (s_model_t *) zhashx_lookup (self->models, uid);
    uint64_t generation = xinf_check_uint_opt (&check, body, "generation", 0, UINT64_MAX, 0);
    if (check.failed && node)
        xinf_warn ("supervisor", "MODEL_STATE from %s ignored reason=\"%s\"", node, check.reason);
    if (check.failed || !model || index >= model->count || !node || generation != model->generation)
        return;                       //  a model we terminated, an earlier launch, a stray report
    s_replica_t *replica = &model->replicas [index];
    if (replica->n_ranks > 1) {
        if (rank < replica->n_ranks && streq (replica->ranks [rank].node, node))
            xinf_launch_rank_state (self->launch, ctx, model, replica, rank, body);
        return;
    }
    if (!streq (replica->node, node) || rank != 0)
        return;
    snprintf (replica->state, sizeof replica->state, "%s", state);
    replica->bytes_done = xinf_value_uint (xinf_map_get (body, "bytes_done"));
    replica->bytes_total = xinf_value_uint (xinf_map_get (body, "bytes_total"));
    snprintf (replica->error, sizeof replica->error, "%s", xinf_value_str (xinf_map_get (body, "error")) ?: "");
    if (xinf_map_get (body, "info")) {
        xinf_value_destroy (&replica->info);
        replica->info = xinf_value_dup (xinf_map_get (body, "info"));
    }
    if (streq (state, "ready") || streq (state, "failed"))
        xinf_info ("supervisor", "model uid=%s replica=%llu node=%s state=%s%s%s", uid, (unsigned long long) index,
                   node, state, *replica->error ? " error=" : "", replica->error);
}

//  A tensor-parallel replica failed (a rank failed, a rendezvous step ran
//  out of time): its requests end with the reason.
static void
s_on_replica_failed (xinf_ctx_t *ctx, s_model_t *model, s_replica_t *replica, void *arg)
{
    xinf_models_t *self = (xinf_models_t *) arg;
    char reason [1200];
    snprintf (reason, sizeof reason, "replica %llu of %s failed: %s", (unsigned long long) replica->index,
              model->uid, replica->error);
    s_end_requests (self, ctx, model->uid, NULL, (int64_t) replica->index, "REPLICA_FAILED", reason);
}

void
xinf_models_worker_lost (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const char *why)
{
    char reason [256];
    for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model;
         model = (s_model_t *) zhashx_next (self->models))
        for (size_t index = 0; index < model->count; index++) {
            s_replica_t *replica = &model->replicas [index];
            if (!xinf_launch_uses (replica, node) || streq (replica->state, "failed"))
                continue;
            if (replica->n_ranks <= 1) {
                snprintf (replica->state, sizeof replica->state, "failed");
                snprintf (replica->error, sizeof replica->error, "worker %s %s", node, why);
                continue;
            }
            //  A rank's worker: the whole group is gone
            size_t rank = 0;
            while (rank < replica->n_ranks && !streq (replica->ranks [rank].node, node))
                rank++;
            snprintf (reason, sizeof reason, "worker %s (rank %zu of replica %llu of %s) %s while running the request",
                      node, rank, (unsigned long long) index, model->uid, why);
            s_end_requests (self, ctx, model->uid, NULL, (int64_t) index, "WORKER_LOST", reason);
            xinf_launch_fail_replica (self->launch, ctx, model, replica, "worker %s (rank %zu) %s", node, rank, why);
        }
    //  Then the plain replicas' requests (a rank's were named above)
    snprintf (reason, sizeof reason, "worker %s %s while running the request", node, why);
    s_end_requests (self, ctx, NULL, node, -1, "WORKER_LOST", reason);
}

void
xinf_models_adopt (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_value_t *models)
{
    for (size_t index = 0; index < xinf_value_count (models); index++) {
        const xinf_value_t *item = xinf_array_at (models, index);
        //  Types and ranges were checked by xinf_hello_decode; only the
        //  uid's characters are the model table's own rule
        const char *uid = xinf_value_str (xinf_map_get (item, "uid"));
        const char *path = xinf_value_str (xinf_map_get (item, "path"));
        const char *state = xinf_value_str (xinf_map_get (item, "state"));
        uint64_t replica = xinf_value_uint (xinf_map_get (item, "replica"));
        if (!s_uid_valid (uid))
            continue;
        uint64_t generation = xinf_value_uint (xinf_map_get (item, "generation"));
        s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
        if (!model) {
            model = calloc (1, sizeof *model);
            snprintf (model->uid, sizeof model->uid, "%s", uid);
            snprintf (model->path, sizeof model->path, "%s", path ? path : "");
            model->generation = generation;
            model->n_worker = 1;
            model->adopted = true;
            model->rendezvous_timeout_ms = 10000;
            zhashx_insert (self->models, uid, model);
        }
        if (generation != model->generation) {
            xinf_launch_unload (self->cluster, ctx, node, uid, replica, "of an earlier launch");
            continue;
        }
        if (replica >= model->count)
            model->count = replica + 1;
        s_replica_t *entry = &model->replicas [replica];
        entry->index = replica;
        uint64_t rank = xinf_value_uint (xinf_map_get (item, "rank"));
        uint64_t n_ranks = xinf_map_get (item, "n_ranks") ? xinf_value_uint (xinf_map_get (item, "n_ranks")) : 1;
        if (n_ranks > 1) {
            if (!xinf_launch_adopt_rank (self->launch, ctx, model, entry, node, item))
                continue;
        }
        else {
            snprintf (entry->node, sizeof entry->node, "%s", node);
            snprintf (entry->state, sizeof entry->state, "%s", state);
            entry->error [0] = 0;
        }
        const xinf_value_t *info = xinf_map_get (item, "info");
        if (info && rank == 0) {
            xinf_value_destroy (&entry->info);
            entry->info = xinf_value_dup (info);
        }
        xinf_info ("supervisor", "adopted model uid=%s replica=%llu rank=%llu/%llu node=%s state=%s", uid,
                   (unsigned long long) replica, (unsigned long long) rank, (unsigned long long) n_ranks, node, state);
    }
}

void
xinf_models_tick (xinf_models_t *self, xinf_ctx_t *ctx, int64_t now)
{
    xinf_launch_tick (self->launch, ctx, now);
    zlist_t *late = zlist_new ();
    for (s_request_t *request = (s_request_t *) zhashx_first (self->requests); request;
         request = (s_request_t *) zhashx_next (self->requests))
        if (request->deadline && now > request->deadline)
            zlist_append (late, request);
    for (s_request_t *request = (s_request_t *) zlist_first (late); request; request = (s_request_t *) zlist_next (late))
        s_end_request (self, ctx, request, "DEADLINE_EXCEEDED",
                       "no answer from worker %s before the request's deadline", request->node);
    zlist_destroy (&late);
}

bool
xinf_models_handle (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    const char *type = xinf_msg_type (msg);
    if (streq (type, "LAUNCH"))               s_on_launch (self, ctx, from, msg);
    else if (streq (type, "LAUNCH_PROGRESS")) s_on_progress (self, ctx, from, msg);
    else if (streq (type, "LIST_MODELS"))     s_on_list (self, ctx, from, msg);
    else if (streq (type, "TERMINATE"))       s_on_terminate (self, ctx, from, msg);
    else if (streq (type, "GENERATE"))        s_on_generate (self, ctx, from, msg);
    else if (streq (type, "MODEL_STATE"))     s_on_model_state (self, ctx, from, msg);
    else if (streq (type, "RUN_TOKEN") || streq (type, "RUN_DONE") || streq (type, "RUN_FAILED"))
        s_on_run_reply (self, ctx, from, msg);
    else
        return false;
    return true;
}
