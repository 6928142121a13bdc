/*  xinf_models: the supervisor's models and in-flight requests.  */
#include "xinf_models_private.h"
#include "xinf_request_check.h"
#include "xinf_placement.h"
#include "xinf_journal.h"
#include "xinf_restore.h"
#include "xinf_model_view.h"
#include "xinf_client_msg.h"
#include "xinf_node_msg.h"
#include "xinf_stopping.h"
#include "xinf_graph_retry.h"


typedef xinf_model_entry_t s_model_t;
typedef xinf_replica_entry_t s_replica_t;

static void
s_model_free (void **item)
{
    xinf_model_entry_free ((s_model_t **) item);
}

static void s_on_replica_failed (xinf_ctx_t *ctx, s_model_t *model, s_replica_t *replica, void *arg);
static void s_forget (xinf_models_t *self, xinf_ctx_t *ctx, s_model_t *model, const char *how);

static int
s_scheduler_to_node (void *arg, const char *node, xinf_msg_t **msg_p)
{
    xinf_models_t *self = (xinf_models_t *) arg;
    return xinf_launch_send (self->cluster, self->ctx, node, msg_p);
}

static int
s_scheduler_to_client (void *arg, const char *client, xinf_msg_t **msg_p)
{
    xinf_models_t *self = (xinf_models_t *) arg;
    return xinf_router_send_to_id (xinf_ctx_router (self->ctx), client, msg_p);
}

xinf_models_t *
xinf_models_new (xinf_cluster_t *cluster, xinf_mesh_t *mesh)
{
    xinf_models_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    self->models = zhashx_new ();
    zhashx_set_destructor (self->models, s_model_free);
    self->launch = xinf_launch_new (cluster, mesh, self->models, s_on_replica_failed, self);
    self->heal = xinf_heal_new (cluster, self->launch, self->models);
    xinf_scheduler_io_t io = { s_scheduler_to_node, s_scheduler_to_client, self };
    self->scheduler = xinf_scheduler_new (&io);
    self->started = zclock_mono ();
    self->terminated = zhashx_new ();
    self->relay = xinf_relay_new ();
    return self;
}

void
xinf_models_destroy (xinf_models_t **self_p)
{
    if (self_p && *self_p) {
        xinf_models_t *self = *self_p;
        xinf_heal_destroy (&self->heal);
        xinf_launch_destroy (&self->launch);
        xinf_scheduler_destroy (&self->scheduler);
        zhashx_destroy (&self->terminated);
        xinf_relay_destroy (&self->relay);
        zhashx_destroy (&self->models);
        free (self);
        *self_p = NULL;
    }
}

//  The model one of whose LoRA adapters is called 'name' (vLLM serves an
//  adapter as a model of its own name), or NULL.
static s_model_t *
s_adapter_model (xinf_models_t *self, const char *name)
{
    for (s_model_t *model = zhashx_first (self->models); model; model = zhashx_next (self->models))
        if (xinf_lora_modules_find (&model->options.lora, name))
            return model;
    return NULL;
}

//  A launch's uid and adapter names are distinct from the other models'
//  uids and adapters (a request names either); 0, or -1 with the clash.
static int
s_check_names (xinf_models_t *self, const char *uid, const xinf_lora_modules_t *lora, xinf_check_t *check)
{
    s_model_t *owner = s_adapter_model (self, uid);
    if (owner && !streq (owner->uid, uid)) {
        xinf_check_fail (check, "uid '%s' is a LoRA adapter of model %s", uid, owner->uid);
        return -1;
    }
    for (size_t index = 0; index < lora->count; index++) {
        char name [XINF_LORA_NAME_MAX + 1];
        xinf_lora_modules_at (lora, index, name, sizeof name);
        owner = s_adapter_model (self, name);
        if (streq (name, uid) || (zhashx_lookup (self->models, name) && !streq (name, uid))
        ||  (owner && !streq (owner->uid, uid))) {
            xinf_check_fail (check, "field 'lora_modules[%zu]': the name '%s' is taken by %s", index, name,
                             streq (name, uid) ? "the model itself" : owner ? owner->uid : "a launched model");
            return -1;
        }
    }
    return 0;
}

static void
s_on_launch (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_client_msg_launch_t launch;
    xinf_client_msg_launch_decode (body, &launch, &check);
    const char *uid = launch.uid, *path = launch.path;
    uint64_t replicas = launch.replicas, n_worker = launch.n_worker;
    if (!check.failed && launch.step_tokens && launch.step_tokens < 16)
        xinf_check_fail (&check, "field 'step_tokens' must be 0 (the default) or 16-8192, got %llu",
                         (unsigned long long) launch.step_tokens);
    //  A bound given alone moves the other's default (2 and 4) to it
    if (launch.has_prompt_lookup_max && !launch.has_prompt_lookup_min
    &&  launch.prompt_lookup_min > launch.prompt_lookup_max)
        launch.prompt_lookup_min = launch.prompt_lookup_max;
    if (launch.has_prompt_lookup_min && !launch.has_prompt_lookup_max
    &&  launch.prompt_lookup_max < launch.prompt_lookup_min)
        launch.prompt_lookup_max = launch.prompt_lookup_min;
    if (!check.failed && launch.prompt_lookup_min > launch.prompt_lookup_max)
        xinf_check_fail (&check, "field 'prompt_lookup_min' (%llu) must be at most prompt_lookup_max (%llu)",
                         (unsigned long long) launch.prompt_lookup_min, (unsigned long long) launch.prompt_lookup_max);
    xinf_lora_modules_t lora;
    char lora_reason [512];
    if (!check.failed && xinf_lora_modules_take (&lora, launch.has_lora_modules ? launch.lora_modules : NULL,
                                                 "lora_modules", lora_reason, sizeof lora_reason))
        xinf_check_fail (&check, "%s", lora_reason);
    if (!check.failed)
        s_check_names (self, uid, &lora, &check);
    if (!check.failed && lora.count && streq (launch.device, "gpu"))
        xinf_check_fail (&check, "field 'lora_modules': LoRA adapters are served on the CPU only so far (not with "
                         "device gpu)");
    const char *code = "BAD_REQUEST";
    xinf_value_t *named = xinf_placement_named (self->cluster, launch.worker, launch.workers, n_worker, &check, &code);
    if (!check.failed && named && replicas > 1 && n_worker > 1)
        xinf_check_fail (&check, "named workers place one replica: give replicas 1");
    s_model_t *existing = check.failed ? NULL : (s_model_t *) zhashx_lookup (self->models, uid);
    const char *existing_error;
    const char *existing_state = existing ? xinf_model_view_state (existing, &existing_error) : "";
    if (existing && existing->stopping) {
        code = "DUPLICATE_MODEL";
        xinf_check_fail (&check, "model '%s' is stopping: its workers are unloading it; launch it again once it "
                         "is gone (at most %d s)", uid, XINF_STOPPING_CONFIRM_MS / 1000);
    }
    else
    if (existing && !streq (existing_state, "failed") && !streq (existing_state, "stopped")) {
        code = "DUPLICATE_MODEL";
        xinf_check_fail (&check, "model '%s' is already launched and %s (terminate it first)", uid, existing_state);
    }
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), code, "LAUNCH: %s", check.reason);
        xinf_value_destroy (&named);
        return;
    }
    if (existing)                     //  a failed or stopped launch: this one replaces it
        s_forget (self, ctx, existing, "relaunched");
    s_model_t *model = calloc (1, sizeof *model);
    assert (model);
    model->n_worker = n_worker;
    model->gpu = streq (launch.device, "gpu");
    char reason [1024];
    snprintf (model->path, sizeof model->path, "%s", path);
    model->options.kv_cache_mb = launch.kv_cache_mb;       //  placement counts it
    if (xinf_placement_place (self->cluster, self->models, model, named, replicas, reason, sizeof reason)) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "NO_WORKER", "LAUNCH: %s", reason);
        xinf_value_destroy (&named);
        xinf_model_entry_free (&model);
        return;
    }
    model->pinned = named != NULL;
    xinf_value_destroy (&named);
    snprintf (model->uid, sizeof model->uid, "%s", uid);
    model->options = (xinf_launch_options_t) {
        .threads = launch.threads, .probe_timeout_ms = launch.probe_timeout_ms,
        .rendezvous_timeout_ms = launch.rendezvous_timeout_ms, .stall_timeout_ms = launch.stall_timeout_ms,
        .kv_cache_mb = launch.kv_cache_mb, .max_seqs = launch.max_seqs, .step_tokens = launch.step_tokens,
        .max_queued = (size_t) launch.max_queued, .disable_cuda_graph = launch.disable_cuda_graph,
        .speculative_tokens = launch.speculative_tokens, .prompt_lookup_min = launch.prompt_lookup_min,
        .prompt_lookup_max = launch.prompt_lookup_max
    };
    snprintf (model->options.kv_cache_dtype, sizeof model->options.kv_cache_dtype, "%s", launch.kv_cache_dtype);
    model->options.lora = lora;
    //  Distinct across supervisor restarts too: the clock's ms, then counting
    if (!self->next_generation)
        self->next_generation = (uint64_t) zclock_time ();
    model->generation = self->next_generation++;
    zhashx_insert (self->models, uid, model);
    zhashx_delete (self->terminated, uid);
    xinf_launch_start (self->launch, ctx, model);
    xinf_models_sync (self, model);
    xinf_models_save (self);
    const char *error;
    xinf_msg_t *reply = xinf_msg_new ("LAUNCH_REPLY");
    xinf_map_put_str (xinf_msg_body (reply), "uid", uid);
    xinf_map_put_str (xinf_msg_body (reply), "state", xinf_model_view_state (model, &error));
    xinf_map_put_str (xinf_msg_body (reply), "error", error);
    xinf_map_put_uint (xinf_msg_body (reply), "n_worker", n_worker);
    xinf_map_put (xinf_msg_body (reply), "replicas", xinf_placement_describe (model));
    xinf_map_put (xinf_msg_body (reply), "warnings",
                  model->warnings ? xinf_value_dup (model->warnings) : xinf_value_new_array ());
    xinf_info ("supervisor", "launch uid=%s path=%s replicas=%zu n_worker=%zu first_worker=%s", uid, path,
               model->count, model->n_worker, model->replicas [0].node);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static s_model_t *
s_lookup (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg, const char *what)
{
    //  The whole request is checked against its schema (client.xml) here,
    //  where it enters: LAUNCH_PROGRESS, TERMINATE, TOKENIZE, DETOKENIZE
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_validate (xinf_msg_type (msg), xinf_msg_body (msg), &check);
    const char *uid = xinf_value_str (xinf_map_get (xinf_msg_body (msg), "uid"));
    s_model_t *model = check.failed ? NULL : (s_model_t *) zhashx_lookup (self->models, uid);
    if (!check.failed && !model && (streq (what, "TOKENIZE") || streq (what, "DETOKENIZE")))
        model = s_adapter_model (self, uid);      //  an adapter tokenizes as its model
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
    xinf_msg_t *reply = xinf_msg_new ("LAUNCH_PROGRESS_REPLY");
    xinf_model_view_progress (model, xinf_msg_body (reply));
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static void
s_on_list (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = xinf_msg_new ("LIST_MODELS_REPLY");
    xinf_value_t *list = xinf_value_new_array ();
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        s_model_t *model = entries [at];
        xinf_value_t *item = xinf_model_view_item (model);
        xinf_array_push (list, item);
    }
    free (entries);
    xinf_map_put (xinf_msg_body (reply), "models", list);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

//  Ends a model's requests and has its workers unload its replicas.
static void
s_unload (xinf_models_t *self, xinf_ctx_t *ctx, s_model_t *model, const char *how)
{
    char reason [128];
    xinf_textf (reason, sizeof reason, "model %s was %s", model->uid, how);
    xinf_scheduler_model_drop (self->scheduler, model->uid, "MODEL_NOT_READY", reason);
    xinf_launch_stop (self->launch, ctx, model);
    xinf_info ("supervisor", "%s uid=%s replicas=%zu", how, model->uid, model->count);
    if (zhashx_size (self->terminated) >= 1024)
        zhashx_purge (self->terminated);
    zhashx_update (self->terminated, model->uid, self);
}

//  Ends a model at once: its requests, its replicas on the workers, its
//  entry (a failed or stopped launch that a new one replaces).
static void
s_forget (xinf_models_t *self, xinf_ctx_t *ctx, s_model_t *model, const char *how)
{
    s_unload (self, ctx, model, how);
    zhashx_delete (self->models, model->uid);
    xinf_models_save (self);
}

//  A stopping model leaves the table once its workers let it go.
static void
s_settle (xinf_models_t *self, s_model_t *model, int64_t now)
{
    char why [256];
    if (!model->stopping || !xinf_stopping_settled (model, self->cluster, now, why, sizeof why))
        return;
    xinf_info ("supervisor", "stopped uid=%s: %s", model->uid, why);
    xinf_cluster_event (self->cluster, "stopped", "", "model %s %s: %s", model->uid, model->stopping_how, why);
    zhashx_delete (self->models, model->uid);
}

static void
s_on_terminate (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_model_t *model = s_lookup (self, ctx, from, msg, "TERMINATE");
    if (!model)
        return;
    xinf_client_msg_terminate_reply_t fields = { .uid = model->uid, .replicas = model->count };
    xinf_msg_t *reply = xinf_client_msg_terminate_reply_encode (&fields);
    if (!model->stopping) {
        s_unload (self, ctx, model, "terminated");
        xinf_stopping_begin (model, "terminated", zclock_mono ());
        xinf_models_save (self);
    }
    xinf_ctx_reply (ctx, from, msg, &reply);
    s_settle (self, model, zclock_mono ());
}

//  A replica's capacity: the sequences it runs at once (`max_seqs` in its
//  model info), else 1.
static size_t
s_capacity (const s_replica_t *replica)
{
    const xinf_value_t *max_seqs = xinf_map_get (replica->info, "max_seqs");
    uint64_t seqs = xinf_value_type (max_seqs) == XINF_UINT ? xinf_value_uint (max_seqs) : 1;
    return seqs >= 1 && seqs <= 256 ? (size_t) seqs : 1;
}

//  A replica's context: the positions one sequence may reach (`context`
//  in its model info: the model's or its KV cache's, the smaller), else
//  0 (not known).
static uint64_t
s_context (const s_replica_t *replica)
{
    const xinf_value_t *context = xinf_map_get (replica->info, "context");
    return xinf_value_type (context) == XINF_UINT ? xinf_value_uint (context) : 0;
}

void
xinf_models_sync (xinf_models_t *self, s_model_t *model)
{
    xinf_scheduler_model_set (self->scheduler, model->uid, model->options.max_queued);
    for (size_t index = 0; index < model->count; index++) {
        s_replica_t *replica = &model->replicas [index];
        xinf_scheduler_replica_context (self->scheduler, model->uid, index, s_context (replica));
        xinf_scheduler_replica_set (self->scheduler, model->uid, index, replica->node, (replica->state == XINF_LAUNCH_READY),
                                    s_capacity (replica), zclock_mono ());
    }
}

//  The model's vocabulary when a replica reported it (0: not known).
static uint64_t
s_vocab (s_model_t *model)
{
    for (size_t index = 0; index < model->count; index++) {
        const xinf_value_t *vocab = xinf_map_get (model->replicas [index].info, "vocab");
        if (xinf_value_type (vocab) == XINF_UINT)
            return xinf_value_uint (vocab);
    }
    return 0;
}

static bool
s_any_ready (s_model_t *model)
{
    if (model->stopping)
        return false;
    for (size_t index = 0; index < model->count; index++)
        if (model->replicas [index].state == XINF_LAUNCH_READY)
            return true;
    return false;
}

//  A GENERATE for a model not in the table: right after this supervisor
//  started, workers may not have re-registered it yet (a restart), so the
//  answer is a retryable MODEL_NOT_READY, not UNKNOWN_MODEL.
static void
s_unknown_model (xinf_models_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg, xinf_peer_t *from, const char *uid)
{
    int64_t age = zclock_mono () - self->started;
    if (age < self->restart_window_ms && !zhashx_lookup (self->terminated, uid)) {
        xinf_msg_t *error = xinf_msg_new_error (xinf_msg_corr (msg), "MODEL_NOT_READY",
            "GENERATE: model %s is not known yet: this supervisor started %lld ms ago and workers re-register "
            "their models within %lld ms (a supervisor restart); retry", uid, (long long) age,
            (long long) self->restart_window_ms);
        xinf_map_put_uint (xinf_msg_body (error), "retry_after_ms", (uint64_t) (self->restart_window_ms - age));
        xinf_ctx_reply (ctx, from, msg, &error);
    }
    else
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "UNKNOWN_MODEL", "GENERATE: no model '%s' is launched", uid);
}

static void
s_on_generate (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    const char *uid = xinf_check_str (&check, body, "uid", 1, 64);     //  the rest once the model is known
    s_model_t *model = check.failed ? NULL : (s_model_t *) zhashx_lookup (self->models, uid);
    if (!check.failed && !model && (model = s_adapter_model (self, uid))) {
        //  An adapter's name as the model: its model, with the adapter
        if (!xinf_map_get (body, "lora"))
            xinf_map_put_str (body, "lora", uid);
        xinf_map_put_str (body, "uid", model->uid);
        uid = model->uid;
    }
    if (!check.failed && !model) {
        s_unknown_model (self, ctx, msg, from, uid);
        return;
    }
    const char *code = "BAD_REQUEST";
    if (!check.failed)
        xinf_request_check (body, s_vocab (model), &check, &code);
    const xinf_value_t *lora = check.failed ? NULL : xinf_map_get (body, "lora");
    if (lora && xinf_value_type (lora) == XINF_STR && !xinf_lora_modules_find (&model->options.lora, xinf_value_str (lora)))
        xinf_check_fail (&check, "field 'lora': model %s has no LoRA adapter '%s'%s", model->uid, xinf_value_str (lora),
                         model->options.lora.count ? " (LIST_MODELS lora_modules names its adapters)"
                         : " (it was launched without lora_modules)");
    if (check.failed) {
        xinf_warn ("supervisor", "GENERATE refused peer=%s code=%s reason=\"%s\"", xinf_peer_id (from), code, check.reason);
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), code, "GENERATE: %s", check.reason);
        return;
    }
    if (!s_any_ready (model)) {
        const char *error;
        const char *state = xinf_model_view_state (model, &error);
        xinf_msg_t *reply = xinf_msg_new_error (xinf_msg_corr (msg), "MODEL_NOT_READY", "GENERATE: model %s is %s%s%s",
                                                model->uid, state, *error ? ": " : "", error);
        if (!streq (state, "failed") && !streq (state, "stopped") && !model->stopping)
            xinf_map_put_uint (xinf_msg_body (reply), "retry_after_ms", 1000);
        xinf_ctx_reply (ctx, from, msg, &reply);
        return;
    }
    xinf_value_t *request = xinf_value_dup (body);
    xinf_scheduler_submit (self->scheduler, xinf_peer_id (from), xinf_msg_corr (msg), xinf_msg_deadline (msg), &request,
                           zclock_mono ());
}

//  CANCEL: the client gives up its GENERATE 'corr'.
static void
s_on_cancel (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_client_msg_cancel_t cancel;
    xinf_client_msg_cancel_decode (xinf_msg_body (msg), &cancel, &check);
    uint64_t corr = cancel.corr;
    if (check.failed) {
        xinf_warn ("supervisor", "CANCEL refused peer=%s reason=\"%s\"", xinf_peer_id (from), check.reason);
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "CANCEL: %s", check.reason);
        return;
    }
    bool cancelled = xinf_scheduler_cancel (self->scheduler, xinf_peer_id (from), corr, zclock_mono ());
    xinf_client_msg_cancel_reply_t fields = { .corr = corr, .cancelled = cancelled };
    xinf_msg_t *reply = xinf_client_msg_cancel_reply_encode (&fields);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

//  RUN_TOKEN, RUN_DONE, RUN_FAILED from a worker.
static void
s_on_run_reply (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    if (!node) {
        xinf_warn ("supervisor", "%s from peer=%s address=%s, not a registered worker: ignored", xinf_msg_type (msg),
                   xinf_peer_id (from), xinf_peer_address (from));
        return;
    }
    xinf_scheduler_run_reply (self->scheduler, node, msg, zclock_mono ());
}

static void
s_on_model_state (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_node_msg_model_state_t report;
    xinf_node_msg_model_state_decode (body, &report, &check);
    const char *uid = report.uid, *state = report.state;
    uint64_t index = report.replica, rank = report.rank, generation = report.generation;
    if (!check.failed && xinf_fsm_parse (&xinf_replica_fsm, state) < 0)
        xinf_check_fail (&check, "field 'state' must be one of fetching, fetched, starting, joining, loading, ready, "
                         "failed, stopped");
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    s_model_t *model = check.failed ? NULL : (s_model_t *) zhashx_lookup (self->models, uid);
    if (check.failed && node)
        xinf_warn ("supervisor", "MODEL_STATE from %s ignored reason=\"%s\"", node, check.reason);
    if (check.failed || !model || index >= model->count || !node || generation != model->generation)
        return;                       //  a model we terminated, an earlier launch, a stray report
    if (model->stopping) {
        xinf_stopping_report (model, index, rank, node, state);
        s_settle (self, model, zclock_mono ());
        return;
    }
    s_replica_t *replica = &model->replicas [index];
    if (replica->n_ranks > 1) {
        if (rank < replica->n_ranks && streq (replica->ranks [rank].node, node)
        &&  !xinf_heal_rank_report (self->heal, ctx, model, replica, rank, state))
            xinf_launch_rank_state (self->launch, ctx, model, replica, rank, &report);
        return;
    }
    if (!streq (replica->node, node) || rank != 0
    ||  xinf_graph_retry_report (self->launch, ctx, model, replica, state))
        return;
    if (streq (state, "failed") && xinf_graph_retry_wanted (model, replica, report.stuck_phase)) {
        xinf_graph_retry_begin (self->launch, ctx, model, replica, report.error);
        char reason [1200];
        xinf_textf (reason, sizeof reason, "replica %llu of %s on %s failed, relaunching without CUDA graphs: %s",
                    (unsigned long long) index, uid, node, report.error);
        xinf_scheduler_replica_down (self->scheduler, uid, index, "REPLICA_FAILED", reason, zclock_mono ());
        return;
    }
    xinf_launch_set_reported (&replica->state, state, model->uid);
    replica->has_kv &= streq (state, "ready");
    replica->bytes_done = report.bytes_done;
    replica->bytes_total = report.bytes_total;
    xinf_textf (replica->error, sizeof replica->error, "%s", report.error);
    if (report.info) {
        xinf_value_destroy (&replica->info);
        replica->info = xinf_value_dup (report.info);
    }
    if (streq (state, "ready") || streq (state, "failed"))
        xinf_info ("supervisor", "model uid=%s replica=%llu node=%s state=%s%s%s", uid, (unsigned long long) index,
                   node, state, *replica->error ? " error=" : "", replica->error);
    if (streq (state, "failed") || streq (state, "stopped")) {
        char reason [1200];
        xinf_textf (reason, sizeof reason, "replica %llu of %s on %s %s%s%s", (unsigned long long) index, uid, node,
                    state, *replica->error ? ": " : "", replica->error);
        xinf_scheduler_replica_down (self->scheduler, uid, index, streq (state, "failed") ? "REPLICA_FAILED"
                                     : "MODEL_NOT_READY", reason, zclock_mono ());
    }
}

//  MODEL_LOAD from a worker: a ready replica's KV blocks in use and free.
static void
s_on_model_load (xinf_models_t *self, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_model_load_t report;
    xinf_node_msg_model_load_decode (xinf_msg_body (msg), &report, &check);
    const char *uid = report.uid;
    uint64_t index = report.replica, generation = report.generation;
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    if (check.failed && node)
        xinf_warn ("supervisor", "MODEL_LOAD from %s ignored reason=\"%s\"", node, check.reason);
    s_model_t *model = check.failed ? NULL : (s_model_t *) zhashx_lookup (self->models, uid);
    if (!model || index >= model->count || !node || generation != model->generation)
        return;                       //  a model we terminated, an earlier launch, a stray report
    s_replica_t *replica = &model->replicas [index];
    if (!streq (replica->node, node) || !(replica->state == XINF_LAUNCH_READY))
        return;
    replica->has_kv = true;
    replica->kv_blocks_used = report.kv_blocks_used;
    replica->kv_blocks_free = report.kv_blocks_free;
    replica->has_spec = report.has_spec_drafts && report.has_spec_accepted;
    replica->spec_drafts = report.spec_drafts;
    replica->spec_accepted = report.spec_accepted;
}

//  A tensor-parallel replica failed (a rank failed, a rendezvous step ran
//  out of time): its requests end with the reason.
static void
s_on_replica_failed (xinf_ctx_t *ctx, s_model_t *model, s_replica_t *replica, void *arg)
{
    xinf_models_t *self = (xinf_models_t *) arg;
    char reason [1200];
    xinf_textf (reason, sizeof reason, "replica %llu of %s failed: %s", (unsigned long long) replica->index,
                model->uid, replica->error);
    xinf_scheduler_replica_down (self->scheduler, model->uid, replica->index, "REPLICA_FAILED", reason, zclock_mono ());
}

//  The journal keeps where replicas run: saved on the tick after
//  self-healing moved one, whatever moved it (a worker lost or joined, a
//  report), so that a restart finds it where it is, not where it was
//  launched.
static void
s_save_moves (xinf_models_t *self)
{
    uint64_t moves = xinf_heal_moves (self->heal);
    if (moves != self->heal_moves) {
        self->heal_moves = moves;
        xinf_models_save (self);
    }
}

void
xinf_models_replica_lost (xinf_models_t *self, xinf_ctx_t *ctx, s_model_t *model, s_replica_t *replica,
                          const char *node, const char *why)
{
    char reason [256];
    uint64_t index = replica->index;
    if (replica->n_ranks <= 1) {
        xinf_textf (reason, sizeof reason, "worker %s %s while running the request", node, why);
        xinf_scheduler_replica_down (self->scheduler, model->uid, index, "WORKER_LOST", reason, zclock_mono ());
        xinf_heal_replica_lost (self->heal, ctx, model, replica, node, why);
        xinf_models_sync (self, model);
        return;
    }
    //  A rank's worker: the whole group is gone
    size_t rank = 0;
    while (rank < replica->n_ranks && !streq (replica->ranks [rank].node, node))
        rank++;
    xinf_textf (reason, sizeof reason, "worker %s (rank %zu of replica %llu of %s) %s while running the request",
                node, rank, (unsigned long long) index, model->uid, why);
    xinf_scheduler_replica_down (self->scheduler, model->uid, index, "WORKER_LOST", reason, zclock_mono ());
    if (!xinf_model_options_known (model))        //  no launch parameters to relaunch with
        xinf_launch_fail_replica (self->launch, ctx, model, replica, "worker %s (rank %zu) %s", node, rank, why);
    else
        xinf_heal_replica_lost (self->heal, ctx, model, replica, node, why);
    xinf_models_sync (self, model);
}

void
xinf_models_worker_lost (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const char *why)
{
    self->ctx = ctx;
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        s_model_t *model = entries [at];
        for (size_t index = 0; index < model->count; index++) {
            s_replica_t *replica = &model->replicas [index];
            if (!xinf_launch_uses (replica, node) || (replica->state == XINF_LAUNCH_FAILED) || model->stopping)
                continue;
            xinf_models_replica_lost (self, ctx, model, replica, node, why);
        }
    }
    free (entries);
}

//  TOKENIZE / DETOKENIZE: relayed to a ready replica of the model.
static void
s_on_tokenize (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_model_t *model = s_lookup (self, ctx, from, msg, xinf_msg_type (msg));
    if (!model)
        return;
    int ready = -1;
    for (size_t index = 0; index < model->count && ready < 0; index++)
        if (model->replicas [index].state == XINF_LAUNCH_READY)
            ready = (int) index;
    if (ready < 0) {
        xinf_msg_t *error = xinf_msg_new_error (xinf_msg_corr (msg), "MODEL_NOT_READY", "%s: model %s has no ready replica",
                                                xinf_msg_type (msg), model->uid);
        xinf_map_put_uint (xinf_msg_body (error), "retry_after_ms", 1000);
        xinf_ctx_reply (ctx, from, NULL, &error);
        return;
    }
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_msg_t *relay = xinf_relay_begin (self->relay, msg, xinf_peer_id (from), model->uid, (uint64_t) ready, &check);
    if (!relay)
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "%s: %s", xinf_msg_type (msg), check.reason);
    else
    if (xinf_launch_send (self->cluster, ctx, model->replicas [ready].node, &relay)) {
        xinf_relay_abort (self->relay);
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "MODEL_NOT_READY", "%s: worker %s cannot be reached",
                              xinf_msg_type (msg), model->replicas [ready].node);
    }
}

void
xinf_models_worker_joined (xinf_models_t *self, xinf_ctx_t *ctx, const char *node)
{
    self->ctx = ctx;
    xinf_heal_worker_joined (self->heal, ctx, node);
    xinf_scheduler_node_back (self->scheduler, node, zclock_mono ());   //  its replicas' rests end
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        s_model_t *model = entries [at];
        xinf_models_sync (self, model);
    }
    free (entries);
}

void
xinf_models_tick (xinf_models_t *self, xinf_ctx_t *ctx, int64_t now)
{
    self->ctx = ctx;
    xinf_models_restart_tick (self, ctx, now);
    xinf_relay_tick (self->relay, ctx, now);
    xinf_launch_tick (self->launch, ctx, now);
    xinf_heal_tick (self->heal, ctx, now);
    s_save_moves (self);
    xinf_scheduler_tick (self->scheduler, now);
    //  Stopping models whose workers let go or whose time is up
    zlistx_t *uids = zhashx_keys (self->models);
    for (const char *uid = (const char *) zlistx_first (uids); uid; uid = (const char *) zlistx_next (uids))
        s_settle (self, (s_model_t *) zhashx_lookup (self->models, uid), now);
    zlistx_destroy (&uids);
}

bool
xinf_models_handle (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    self->ctx = ctx;
    const char *type = xinf_msg_type (msg);
    if (streq (type, "LAUNCH"))               s_on_launch (self, ctx, from, msg);
    else if (streq (type, "LAUNCH_PROGRESS")) s_on_progress (self, ctx, from, msg);
    else if (streq (type, "LIST_MODELS"))     s_on_list (self, ctx, from, msg);
    else if (streq (type, "TERMINATE"))       s_on_terminate (self, ctx, from, msg);
    else if (streq (type, "GENERATE"))        s_on_generate (self, ctx, from, msg);
    else if (streq (type, "CANCEL"))          s_on_cancel (self, ctx, from, msg);
    else if (streq (type, "TOKENIZE") || streq (type, "DETOKENIZE")) s_on_tokenize (self, ctx, from, msg);
    else if (streq (type, "TOKENIZE_RESULT")) xinf_relay_result (self->relay, ctx, msg);
    else if (streq (type, "MODEL_STATE"))     s_on_model_state (self, ctx, from, msg);
    else if (streq (type, "MODEL_LOAD"))      s_on_model_load (self, from, msg);
    else if (streq (type, "RUN_TOKEN") || streq (type, "RUN_DONE") || streq (type, "RUN_FAILED"))
        s_on_run_reply (self, ctx, from, msg);
    else
        return false;
    if (streq (type, "MODEL_STATE")) {
        const char *uid = xinf_value_str (xinf_map_get (xinf_msg_body (msg), "uid"));
        s_model_t *model = uid ? (s_model_t *) zhashx_lookup (self->models, uid) : NULL;
        if (model)
            xinf_models_sync (self, model);
    }
    return true;
}

xinf_value_t *
xinf_models_stats (xinf_models_t *self)
{
    return xinf_scheduler_stats (self->scheduler);
}

bool
xinf_models_names_file (xinf_models_t *self, const char *uid, uint64_t generation, const char *node, const char *path)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
    if (!model || model->generation != generation || strcmp (model->path, path))
        return false;
    for (size_t index = 0; index < model->count; index++)
        if (xinf_launch_uses (&model->replicas [index], node))
            return true;
    return false;
}

void
xinf_models_stop (xinf_models_t *self, xinf_ctx_t *ctx)
{
    self->ctx = ctx;
    xinf_scheduler_end_all (self->scheduler, "RESTARTING",
                            "the supervisor is stopping (a restart or a shutdown) with this request in flight; "
                            "send it again once the supervisor is back");
}
