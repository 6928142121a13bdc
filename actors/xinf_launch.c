/*  xinf_launch: bringing a launched model's replicas up (address check,
    preflight mesh, rendezvous, sharded load).  */
#include "xinf_launch.h"
#include "xinf_launch_preflight.h"

#include <stdarg.h>


struct _xinf_launch_t {
    xinf_cluster_t *cluster;
    xinf_mesh_t *mesh;
    zhashx_t *models;
    xinf_launch_failed_fn *failed_fn;
    void *failed_arg;
};

xinf_launch_t *
xinf_launch_new (xinf_cluster_t *cluster, xinf_mesh_t *mesh, zhashx_t *models,
                 xinf_launch_failed_fn *failed_fn, void *arg)
{
    xinf_launch_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    self->mesh = mesh;
    self->models = models;
    self->failed_fn = failed_fn;
    self->failed_arg = arg;
    return self;
}

xinf_cluster_t *
xinf_launch_cluster (xinf_launch_t *self)
{
    return self->cluster;
}

void
xinf_launch_destroy (xinf_launch_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_wait_end (uint64_t *wait)
{
    if (*wait)
        xinf_wait_end (xinf_waits_global (), *wait);
    *wait = 0;
}

void
xinf_model_entry_free (xinf_model_entry_t **model_p)
{
    if (*model_p) {
        xinf_model_entry_t *model = *model_p;
        for (size_t index = 0; index < model->count; index++) {
            xinf_value_destroy (&model->replicas [index].info);
            s_wait_end (&model->replicas [index].wait);
        }
        s_wait_end (&model->mesh_wait);
        xinf_value_destroy (&model->preflight);
        xinf_value_destroy (&model->warnings);
        free (model);
        *model_p = NULL;
    }
}

int
xinf_launch_send (xinf_cluster_t *cluster, xinf_ctx_t *ctx, const char *node, xinf_msg_t **msg_p)
{
    const char *peer_id = xinf_cluster_peer_of (cluster, node);
    xinf_peer_t *peer = peer_id ? xinf_router_peer (xinf_ctx_router (ctx), peer_id) : NULL;
    return xinf_router_send (xinf_ctx_router (ctx), peer, msg_p);
}

bool
xinf_launch_uses (const xinf_replica_entry_t *replica, const char *node)
{
    if (replica->n_ranks <= 1)
        return streq (replica->node, node);
    for (size_t rank = 0; rank < replica->n_ranks; rank++)
        if (streq (replica->ranks [rank].node, node))
            return true;
    return false;
}

xinf_model_entry_t **
xinf_model_table_list (zhashx_t *models, size_t *count)
{
    //  zhashx_values walks the table's buckets, not its cursor (a look-up
    //  would move that); its list takes the table's destructor, which must
    //  not free the models with the list
    zlistx_t *values = zhashx_values (models);
    zlistx_set_destructor (values, NULL);
    xinf_model_entry_t **list = calloc (zlistx_size (values) + 1, sizeof *list);
    assert (list);
    size_t found = 0;
    for (void *model = zlistx_first (values); model; model = zlistx_next (values))
        list [found++] = (xinf_model_entry_t *) model;
    zlistx_destroy (&values);
    *count = found;
    return list;
}

static void
s_set (char *field, size_t size, const char *value)
{
    snprintf (field, size, "%s", value);
}

//  LOAD_MODEL for one rank (rank 0 of 1 for a plain replica); -1 when
//  its worker cannot be reached.
static int
s_send_load (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
             size_t rank, bool fetch_only)
{
    xinf_msg_t *load = xinf_msg_new ("LOAD_MODEL");
    xinf_value_t *body = xinf_msg_body (load);
    xinf_map_put_str (body, "uid", model->uid);
    xinf_map_put_uint (body, "replica", replica->index);
    xinf_map_put_str (body, "path", model->path);
    xinf_map_put_uint (body, "threads", model->options.threads);
    xinf_map_put_uint (body, "generation", model->generation);
    if (model->options.kv_cache_mb)
        xinf_map_put_uint (body, "kv_cache_mb", model->options.kv_cache_mb);
    if (*model->options.kv_cache_dtype && !streq (model->options.kv_cache_dtype, "auto"))
        xinf_map_put_str (body, "kv_cache_dtype", model->options.kv_cache_dtype);
    if (model->options.max_seqs)
        xinf_map_put_uint (body, "max_seqs", model->options.max_seqs);
    if (model->options.step_tokens)
        xinf_map_put_uint (body, "step_tokens", model->options.step_tokens);
    if (model->options.disable_cuda_graph || replica->graphs_off)
        xinf_map_put_bool (body, "disable_cuda_graph", true);
    if (model->options.speculative_tokens) {
        xinf_map_put_uint (body, "speculative_tokens", model->options.speculative_tokens);
        xinf_map_put_uint (body, "prompt_lookup_min", model->options.prompt_lookup_min);
        xinf_map_put_uint (body, "prompt_lookup_max", model->options.prompt_lookup_max);
    }
    if (model->options.lora.count)
        xinf_map_put (body, "lora_modules", xinf_lora_modules_array (&model->options.lora));
    if (fetch_only)
        xinf_map_put_bool (body, "fetch_only", true);
    if (xinf_model_options_known (model))
        xinf_map_put (body, "launch", xinf_launch_options_map (&model->options, model->pinned));
    if (model->gpu) {
        char device [16];
        snprintf (device, sizeof device, "cuda:%d", replica->n_ranks > 1 ? replica->ranks [rank].gpu : replica->gpu);
        xinf_map_put_str (body, "device", device);
    }
    if (model->options.stall_timeout_ms)      //  an adopted model's is not known: the worker's default
        xinf_map_put_uint (body, "stall_timeout_ms", model->options.stall_timeout_ms);
    if (replica->n_ranks > 1) {
        xinf_map_put_uint (body, "rank", rank);
        xinf_map_put_uint (body, "n_ranks", replica->n_ranks);
        xinf_map_put_uint (body, "rendezvous_timeout_ms", model->options.rendezvous_timeout_ms);
    }
    const char *node = replica->n_ranks > 1 ? replica->ranks [rank].node : replica->node;
    return xinf_launch_send (self->cluster, ctx, node, &load);
}

//  The replica's registered wait, preflight and port check end.
static void
s_cancel_steps (xinf_launch_t *self, xinf_replica_entry_t *replica)
{
    replica->deadline = 0;
    s_wait_end (&replica->wait);
    if (replica->port_session)
        xinf_mesh_cancel (self->mesh, replica->port_session);
    replica->port_session = 0;
    if (replica->mesh_session)
        xinf_mesh_cancel (self->mesh, replica->mesh_session);
    replica->mesh_session = 0;
}

void
xinf_launch_reset_replica (xinf_launch_t *self, xinf_replica_entry_t *replica)
{
    s_cancel_steps (self, replica);
    replica->staged = replica->group_sent = replica->ports_checked = false;
    replica->bytes_done = replica->bytes_total = 0;
    for (size_t rank = 0; rank < replica->n_ranks && rank < XINF_RANKS_MAX; rank++) {
        xinf_rank_entry_t *entry = &replica->ranks [rank];
        entry->state = XINF_LAUNCH_PLACED;        //  a new group: its ranks start over
        entry->error [0] = entry->model [0] = 0;
        entry->bytes_done = entry->bytes_total = entry->data_port = 0;
        entry->unloading = false;
    }
}

void
xinf_launch_fail_replica (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                          xinf_replica_entry_t *replica, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    xinf_vtextf (replica->error, sizeof replica->error, format, args);
    va_end (args);
    xinf_launch_set (&replica->state, XINF_LAUNCH_FAILED, model->uid);
    s_cancel_steps (self, replica);
    xinf_warn ("supervisor", "model uid=%s replica=%llu failed: %s", model->uid,
               (unsigned long long) replica->index, replica->error);
    //  The other ranks free their memory
    for (size_t rank = 0; replica->n_ranks > 1 && rank < replica->n_ranks; rank++)
        if (*replica->ranks [rank].node)
            xinf_launch_unload (self->cluster, ctx, replica->ranks [rank].node, model->uid, replica->index,
                                "the replica failed");
    if (self->failed_fn)
        self->failed_fn (ctx, model, replica, self->failed_arg);
}

int
xinf_launch_load_replica (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                          xinf_replica_entry_t *replica)
{
    return s_send_load (self, ctx, model, replica, 0, false);
}

//  Before the rendezvous every rank makes sure it has the model file
//  (LOAD_MODEL fetch_only; a rank that lacks it fetches it, node.md "Model
//  files"), so that no rank waits for GROUP while another one copies.
static void
s_stage (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica)
{
    xinf_launch_set (&replica->state, XINF_LAUNCH_STARTING, model->uid);
    replica->staged = false;
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        xinf_launch_set (&replica->ranks [rank].state, XINF_LAUNCH_STAGING, model->uid);
        if (s_send_load (self, ctx, model, replica, rank, true)) {
            xinf_launch_fail_replica (self, ctx, model, replica, "cannot reach worker %s (rank %zu)",
                                      replica->ranks [rank].node, rank);
            return;
        }
    }
    //  A copy is a load: its stall deadline, renewed as bytes move
    int64_t limit = (int64_t) model->options.stall_timeout_ms + XINF_STEP_SLACK_MS;
    replica->deadline = zclock_mono () + limit;
    char what [160];
    snprintf (what, sizeof what, "launch %s/%llu: the ranks' model files", model->uid,
              (unsigned long long) replica->index);
    replica->wait = xinf_wait_begin (xinf_waits_global (), "supervisor", what, "the ranks' workers", limit);
}

static void
s_begin_rendezvous (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica)
{
    xinf_launch_set (&replica->state, XINF_LAUNCH_STARTING, model->uid);
    replica->staged = true;
    s_wait_end (&replica->wait);
    char peers [256] = "";
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        xinf_launch_set (&replica->ranks [rank].state, XINF_LAUNCH_STARTING, model->uid);
        size_t used = strlen (peers);
        snprintf (peers + used, sizeof peers - used, "%s%s", rank ? "," : "", replica->ranks [rank].node);
        if (s_send_load (self, ctx, model, replica, rank, false)) {
            xinf_launch_fail_replica (self, ctx, model, replica, "cannot reach worker %s (rank %zu)",
                                      replica->ranks [rank].node, rank);
            return;
        }
    }
    int64_t limit = (int64_t) model->options.rendezvous_timeout_ms + XINF_STEP_SLACK_MS;
    replica->deadline = zclock_mono () + limit;
    char what [160];
    snprintf (what, sizeof what, "rendezvous %s/%llu: ranks' data ports", model->uid, (unsigned long long) replica->index);
    replica->wait = xinf_wait_begin (xinf_waits_global (), "supervisor", what, peers, limit);
}

//  The model whose launch's preflight is 'session', or the one with a
//  replica whose relaunch's preflight it is ('replica_p' set to it).
static xinf_model_entry_t *
s_model_of_session (xinf_launch_t *self, uint64_t session, xinf_replica_entry_t **replica_p)
{
    *replica_p = NULL;
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    xinf_model_entry_t *found = NULL;
    for (size_t at = 0; at < listed && !found; at++) {
        xinf_model_entry_t *model = entries [at];
        if (model->mesh_session == session)
            found = model;
        for (size_t index = 0; index < model->count && !found; index++)
            if (model->replicas [index].mesh_session == session) {
                *replica_p = &model->replicas [index];
                found = model;
            }
    }
    free (entries);
    return found;
}

//  One replica's part of a preflight: it fails, or stages its file.
static void
s_preflight_done (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
                  const xinf_value_t *expected, const xinf_value_t *results)
{
    char error [1024];
    if (xinf_launch_preflight_verdict (self->mesh, replica, expected, results, error, sizeof error)) {
        //  A split address warned about at the address check is the likely cause
        for (size_t at = 0; at < xinf_value_count (model->warnings); at++) {
            size_t used = strlen (error);
            snprintf (error + used, sizeof error - used, "; note: %s",
                      xinf_value_str (xinf_array_at (model->warnings, at)));
        }
        xinf_launch_fail_replica (self, ctx, model, replica, "%s", error);
    }
    else
        s_stage (self, ctx, model, replica);
}

static void
s_on_preflight (xinf_ctx_t *ctx, uint64_t session, const xinf_value_t *expected, const xinf_value_t *results, void *arg)
{
    xinf_launch_t *self = (xinf_launch_t *) arg;
    xinf_replica_entry_t *relaunched;
    xinf_model_entry_t *model = s_model_of_session (self, session, &relaunched);
    if (!model)
        return;
    xinf_value_t *problems = xinf_value_new_array ();
    xinf_value_destroy (&model->preflight);
    model->preflight = xinf_mesh_matrix (self->mesh, expected, results, problems);
    xinf_value_destroy (&problems);
    if (relaunched) {
        relaunched->mesh_session = 0;
        s_wait_end (&relaunched->wait);
        if (relaunched->state == XINF_LAUNCH_PREFLIGHT)
            s_preflight_done (self, ctx, model, relaunched, expected, results);
        return;
    }
    model->mesh_session = 0;
    s_wait_end (&model->mesh_wait);
    for (size_t index = 0; index < model->count; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        if ((replica->state == XINF_LAUNCH_PREFLIGHT) && !replica->mesh_session)   //  not a relaunch's own
            s_preflight_done (self, ctx, model, replica, expected, results);
    }
}

//  Step 1 for a replica (state preflight): it fails, or its ranks' nodes
//  join 'names', the workers of the preflight mesh.
static void
s_check_addresses (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
                   const xinf_value_t *workers, xinf_value_t *names)
{
    char error [1024];
    xinf_launch_set (&replica->state, XINF_LAUNCH_PREFLIGHT, model->uid);
    xinf_launch_shared_machine_warning (model, workers, replica);
    if (xinf_launch_address_check (model, workers, replica, error, sizeof error)) {
        xinf_launch_fail_replica (self, ctx, model, replica, "%s", error);
        return;
    }
    for (size_t rank = 0; rank < replica->n_ranks; rank++)
        xinf_array_push (names, xinf_value_new_str (replica->ranks [rank].node));
}

void
xinf_launch_start_replica (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                           xinf_replica_entry_t *replica)
{
    xinf_launch_reset_replica (self, replica);
    memcpy (replica->node, replica->ranks [0].node, sizeof replica->node);
    xinf_launch_version_warnings (self->cluster, model);
    xinf_value_t *workers = xinf_cluster_workers (self->cluster, zclock_mono ());
    xinf_value_t *names = xinf_value_new_array ();
    s_check_addresses (self, ctx, model, replica, workers, names);
    if (xinf_value_count (names)) {
        xinf_value_t *targets = xinf_mesh_targets (workers, names);
        replica->mesh_session = xinf_mesh_start (self->mesh, ctx, targets, model->options.probe_timeout_ms, s_on_preflight,
                                                 self);
        char what [160];
        snprintf (what, sizeof what, "relaunch %s/%llu: connectivity mesh", model->uid,
                  (unsigned long long) replica->index);
        replica->wait = xinf_wait_begin (xinf_waits_global (), "supervisor", what, "the ranks' workers",
                                         (int64_t) model->options.probe_timeout_ms * 3 / 2 + 1000);
        xinf_value_destroy (&targets);
    }
    xinf_value_destroy (&names);
    xinf_value_destroy (&workers);
}

void
xinf_launch_start (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model)
{
    xinf_launch_version_warnings (self->cluster, model);
    if (model->n_worker <= 1) {
        for (size_t index = 0; index < model->count; index++) {
            xinf_replica_entry_t *replica = &model->replicas [index];
            xinf_launch_set (&replica->state, XINF_LAUNCH_STARTING, model->uid);
            if (s_send_load (self, ctx, model, replica, 0, false)) {
                xinf_launch_set (&replica->state, XINF_LAUNCH_FAILED, model->uid);
                char node [sizeof replica->node];
                memcpy (node, replica->node, sizeof node);
                xinf_textf (replica->error, sizeof replica->error, "cannot reach worker %s", node);
            }
        }
        return;
    }
    xinf_value_t *workers = xinf_cluster_workers (self->cluster, zclock_mono ());
    xinf_value_t *names = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++)
        s_check_addresses (self, ctx, model, &model->replicas [index], workers, names);
    if (xinf_value_count (names)) {
        xinf_value_t *targets = xinf_mesh_targets (workers, names);
        model->mesh_session = xinf_mesh_start (self->mesh, ctx, targets, model->options.probe_timeout_ms, s_on_preflight, self);
        char what [160];
        snprintf (what, sizeof what, "preflight %s: connectivity mesh", model->uid);
        model->mesh_wait = xinf_wait_begin (xinf_waits_global (), "supervisor", what, "the ranks' workers",
                                            (int64_t) model->options.probe_timeout_ms * 3 / 2 + 1000);
        xinf_value_destroy (&targets);
    }
    xinf_value_destroy (&names);
    xinf_value_destroy (&workers);
}

// ---- 3. rendezvous and 4. load ------------------------------------------

static void s_send_group (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                          xinf_replica_entry_t *replica);

static xinf_replica_entry_t *
s_replica_of_ports (xinf_launch_t *self, uint64_t session, xinf_model_entry_t **model_p)
{
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    xinf_replica_entry_t *found = NULL;
    for (size_t at = 0; at < listed && !found; at++) {
        xinf_model_entry_t *model = entries [at];
        for (size_t index = 0; index < model->count && !found; index++)
            if (model->replicas [index].port_session == session) {
                *model_p = model;
                found = &model->replicas [index];
            }
    }
    free (entries);
    return found;
}

//  Every rank's worker has dialed the ports the others' collectives bound:
//  the rendezvous may begin; else the replica fails naming the pairs.
static void
s_on_ports_checked (xinf_ctx_t *ctx, uint64_t session, const xinf_value_t *expected, const xinf_value_t *results,
                    void *arg)
{
    xinf_launch_t *self = (xinf_launch_t *) arg;
    xinf_model_entry_t *model = NULL;
    xinf_replica_entry_t *replica = s_replica_of_ports (self, session, &model);
    if (!replica)
        return;
    replica->port_session = 0;
    replica->ports_checked = true;
    s_wait_end (&replica->wait);
    xinf_value_t *problems = xinf_value_new_array ();
    xinf_value_t *matrix = xinf_mesh_matrix (self->mesh, expected, results, problems);
    if (xinf_value_count (problems)) {
        char error [1024];
        size_t used = (size_t) snprintf (error, sizeof error, "the ranks' data ports are not reachable:");
        for (size_t index = 0; index < xinf_value_count (problems) && used < sizeof error; index++)
            used += (size_t) snprintf (error + used, sizeof error - used, "%s %s", index ? ";" : "",
                                       xinf_value_str (xinf_array_at (problems, index)));
        xinf_launch_fail_replica (self, ctx, model, replica, "%s", error);
    }
    else
        s_send_group (self, ctx, model, replica);
    xinf_value_destroy (&matrix);
    xinf_value_destroy (&problems);
}

//  The preflight probed each worker's probe listener; the collectives
//  bound other ports of the range. Before the rendezvous every rank's
//  worker dials exactly those (TCP connect), so a port closed in a
//  firewall is named, with its range, in seconds, not as a rendezvous
//  timeout.
static void
s_check_ports (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica)
{
    xinf_value_t *workers = xinf_cluster_workers (self->cluster, zclock_mono ());
    xinf_value_t *targets = xinf_value_new_array ();
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        const char *host = xinf_launch_field (xinf_launch_worker (workers, replica->ranks [rank].node), "host_ip");
        char endpoint [160];
        xinf_endpoint_tcp (endpoint, sizeof endpoint, host, replica->ranks [rank].data_port);
        xinf_value_t *target = xinf_value_new_map ();
        xinf_map_put_str (target, "node", replica->ranks [rank].node);
        xinf_map_put_str (target, "endpoint", endpoint);
        xinf_map_put_bool (target, "tcp_only", true);
        xinf_array_push (targets, target);
    }
    replica->port_session = xinf_mesh_start (self->mesh, ctx, targets, model->options.probe_timeout_ms, s_on_ports_checked,
                                             self);
    int64_t limit = (int64_t) model->options.probe_timeout_ms * 3 / 2 + 1000 + XINF_STEP_SLACK_MS;
    replica->deadline = zclock_mono () + limit;
    s_wait_end (&replica->wait);
    char what [160];
    snprintf (what, sizeof what, "rendezvous %s/%llu: checking the ranks' data ports", model->uid,
              (unsigned long long) replica->index);
    replica->wait = xinf_wait_begin (xinf_waits_global (), "supervisor", what, "the ranks' workers", limit);
    xinf_value_destroy (&targets);
    xinf_value_destroy (&workers);
}

static void
s_send_group (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica)
{
    xinf_value_t *workers = xinf_cluster_workers (self->cluster, zclock_mono ());
    xinf_value_t *endpoints = xinf_value_new_array ();
    xinf_value_t *nodes = xinf_value_new_array ();
    xinf_value_t *keys = xinf_value_new_array ();
    bool keyed = false;
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        const char *host = xinf_launch_field (xinf_launch_worker (workers, replica->ranks [rank].node), "host_ip");
        const char *key = xinf_launch_field (xinf_launch_worker (workers, replica->ranks [rank].node), "key");
        keyed = keyed || *key;
        xinf_array_push (keys, xinf_value_new_str (key));
        char endpoint [160];
        xinf_endpoint_tcp (endpoint, sizeof endpoint, host, replica->ranks [rank].data_port);
        xinf_array_push (endpoints, xinf_value_new_str (endpoint));
        xinf_array_push (nodes, xinf_value_new_str (replica->ranks [rank].node));
    }
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        xinf_msg_t *group = xinf_msg_new ("GROUP");
        xinf_value_t *body = xinf_msg_body (group);
        xinf_map_put_str (body, "uid", model->uid);
        xinf_map_put_uint (body, "replica", replica->index);
        xinf_map_put_uint (body, "generation", model->generation);
        xinf_map_put (body, "endpoints", xinf_value_dup (endpoints));
        xinf_map_put (body, "nodes", xinf_value_dup (nodes));
        if (keyed)                     //  keys on: each rank's public key, by rank
            xinf_map_put (body, "keys", xinf_value_dup (keys));
        xinf_launch_send (self->cluster, ctx, replica->ranks [rank].node, &group);
    }
    xinf_info ("supervisor", "rendezvous uid=%s replica=%llu ranks=%zu: endpoints sent", model->uid,
               (unsigned long long) replica->index, replica->n_ranks);
    xinf_value_destroy (&endpoints);
    xinf_value_destroy (&nodes);
    xinf_value_destroy (&keys);
    xinf_value_destroy (&workers);
    replica->group_sent = true;
    int64_t limit = (int64_t) model->options.rendezvous_timeout_ms + XINF_STEP_SLACK_MS;
    replica->deadline = zclock_mono () + limit;
    s_wait_end (&replica->wait);
    char what [160];
    snprintf (what, sizeof what, "rendezvous %s/%llu: ranks joining", model->uid, (unsigned long long) replica->index);
    replica->wait = xinf_wait_begin (xinf_waits_global (), "supervisor", what, replica->ranks [0].node, limit);
}

//  The replica's state from its ranks'.
static void
s_aggregate (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica)
{
    bool all_ready = true, all_ported = true, any_joining = false, any_fetching = false;
    replica->bytes_done = replica->bytes_total = 0;
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        xinf_rank_entry_t *entry = &replica->ranks [rank];
        if ((entry->state == XINF_LAUNCH_FAILED) || (entry->state == XINF_LAUNCH_STOPPED)) {
            xinf_launch_fail_replica (self, ctx, model, replica, "rank %zu (worker %s) %s: %s", rank, entry->node,
                                      xinf_launch_state_name (entry->state),
                                      *entry->error ? entry->error : "no reason given");
            return;
        }
        all_ready &= (entry->state == XINF_LAUNCH_READY);
        all_ported &= entry->data_port > 0;
        any_joining |= (entry->state == XINF_LAUNCH_JOINING) || (entry->state == XINF_LAUNCH_STARTING);
        any_fetching |= (entry->state == XINF_LAUNCH_FETCHING);
        replica->bytes_done += entry->bytes_done;
        replica->bytes_total += entry->bytes_total;
    }
    if (all_ported && !replica->group_sent && !replica->port_session && !replica->ports_checked)
        s_check_ports (self, ctx, model, replica);
    for (size_t rank = 1; all_ready && rank < replica->n_ranks; rank++)
        if (strcmp (replica->ranks [rank].model, replica->ranks [0].model)) {
            xinf_launch_fail_replica (self, ctx, model, replica, "rank %zu (worker %s) loaded another model than "
                                      "rank 0 (%s): %s; every worker must see the same file at %s", rank,
                                      replica->ranks [rank].node, replica->ranks [0].model, replica->ranks [rank].model,
                                      model->path);
            return;
        }
    if (all_ready) {
        xinf_launch_set (&replica->state, XINF_LAUNCH_READY, model->uid);
        xinf_info ("supervisor", "model uid=%s replica=%llu ranks=%zu state=ready", model->uid,
                   (unsigned long long) replica->index, replica->n_ranks);
    }
    else
        xinf_launch_set (&replica->state, any_fetching ? XINF_LAUNCH_FETCHING : any_joining ? XINF_LAUNCH_JOINING
                         : XINF_LAUNCH_LOADING, model->uid);
    if (replica->group_sent && !any_joining) {
        replica->deadline = 0;        //  loads have their own stall waits
        s_wait_end (&replica->wait);
    }
}

void
xinf_launch_rank_state (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                        xinf_replica_entry_t *replica, size_t rank, const xinf_node_msg_model_state_t *report)
{
    if ((replica->state == XINF_LAUNCH_FAILED) || rank >= replica->n_ranks)
        return;
    xinf_rank_entry_t *entry = &replica->ranks [rank];
    xinf_launch_set_reported (&entry->state, report->state, model->uid);
    entry->bytes_done = report->bytes_done;
    entry->bytes_total = report->bytes_total;
    s_set (entry->error, sizeof entry->error, report->error);
    if (report->data_port)
        entry->data_port = report->data_port;
    if ((entry->state == XINF_LAUNCH_FETCHING) && replica->deadline) {  //  a copy that moves is no stalled step
        replica->deadline = zclock_mono () + (int64_t) model->options.stall_timeout_ms + XINF_STEP_SLACK_MS;
        xinf_wait_progress (xinf_waits_global (), replica->wait, entry->bytes_done);
    }
    if (entry->state == XINF_LAUNCH_FETCHED) {
        bool staged = !replica->staged;
        for (size_t at = 0; at < replica->n_ranks; at++)
            staged &= (replica->ranks [at].state == XINF_LAUNCH_FETCHED);
        if (staged)                    //  the LOAD_MODEL that follows reports the rest
            s_begin_rendezvous (self, ctx, model, replica);
        return;
    }
    const xinf_value_t *info = report->info;
    if (info)
        snprintf (entry->model, sizeof entry->model, "%s, dim %llu, %llu layers, vocab %llu, %llu parameters",
                  xinf_launch_field (info, "arch"), (unsigned long long) xinf_value_uint (xinf_map_get (info, "dim")),
                  (unsigned long long) xinf_value_uint (xinf_map_get (info, "layers")),
                  (unsigned long long) xinf_value_uint (xinf_map_get (info, "vocab")),
                  (unsigned long long) xinf_value_uint (xinf_map_get (info, "n_params")));
    if (rank == 0 && info) {
        xinf_value_destroy (&replica->info);
        replica->info = xinf_value_dup (info);
    }
    s_aggregate (self, ctx, model, replica);
}

void
xinf_launch_stop (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model)
{
    if (model->mesh_session)
        xinf_mesh_cancel (self->mesh, model->mesh_session);
    model->mesh_session = 0;
    s_wait_end (&model->mesh_wait);
    for (size_t index = 0; index < model->count; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        s_cancel_steps (self, replica);
        size_t ranks = replica->n_ranks > 1 ? replica->n_ranks : 1;
        for (size_t rank = 0; rank < ranks; rank++) {
            xinf_msg_t *unload = xinf_msg_new ("UNLOAD_MODEL");
            xinf_map_put_str (xinf_msg_body (unload), "uid", model->uid);
            xinf_map_put_uint (xinf_msg_body (unload), "replica", index);
            xinf_map_put_str (xinf_msg_body (unload), "why", "the model was terminated");
            xinf_launch_send (self->cluster, ctx, replica->n_ranks > 1 ? replica->ranks [rank].node : replica->node,
                              &unload);
        }
    }
}

void
xinf_launch_unload (xinf_cluster_t *cluster, xinf_ctx_t *ctx, const char *node, const char *uid, uint64_t replica,
                    const char *why)
{
    xinf_info ("supervisor", "unloading uid=%s replica=%llu on %s: %s", uid, (unsigned long long) replica, node, why);
    xinf_msg_t *unload = xinf_msg_new ("UNLOAD_MODEL");
    xinf_map_put_str (xinf_msg_body (unload), "uid", uid);
    xinf_map_put_uint (xinf_msg_body (unload), "replica", replica);
    xinf_map_put_str (xinf_msg_body (unload), "why", why);
    xinf_launch_send (cluster, ctx, node, &unload);
}

//  Names the ranks that have not reached the step's goal.
static void
s_fail_late (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica)
{
    char late [768] = "";
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        xinf_rank_entry_t *entry = &replica->ranks [rank];
        bool behind = !replica->staged ? !(entry->state == XINF_LAUNCH_FETCHED)
                    : replica->group_sent ? !(entry->state == XINF_LAUNCH_LOADING) && !(entry->state == XINF_LAUNCH_READY)
                    : entry->data_port == 0;
        if (!behind)
            continue;
        size_t used = strlen (late);
        snprintf (late + used, sizeof late - used, "%srank %zu (worker %s, state %s)", *late ? ", " : "", rank,
                  *entry->node ? entry->node : "not reported since the supervisor restarted",
                  xinf_launch_state_name (entry->state));
    }
    xinf_launch_fail_replica (self, ctx, model, replica, "rendezvous: %s did not %s within %llu ms", late,
                              !replica->staged ? "have the model file" : replica->group_sent ? "join the group"
                              : "report its data port",
                              (unsigned long long) (replica->staged ? model->options.rendezvous_timeout_ms
                                                    : model->options.stall_timeout_ms) + XINF_STEP_SLACK_MS);
}

void
xinf_launch_tick (xinf_launch_t *self, xinf_ctx_t *ctx, int64_t now)
{
    size_t listed;
    xinf_model_entry_t **entries = xinf_model_table_list (self->models, &listed);
    for (size_t at = 0; at < listed; at++) {
        xinf_model_entry_t *model = entries [at];
        for (size_t index = 0; index < model->count; index++) {
            xinf_replica_entry_t *replica = &model->replicas [index];
            if (replica->deadline && now > replica->deadline && replica->n_ranks > 1
            &&  !(replica->state == XINF_LAUNCH_FAILED) && !(replica->state == XINF_LAUNCH_READY)
            &&  !(replica->state == XINF_LAUNCH_RELAUNCHING)        //  its deadline is xinf_heal's
            &&  !replica->restoring)       //  its ranks may report until the restart window ends (xinf_restore.h)
                s_fail_late (self, ctx, model, replica);
        }
    }
    free (entries);
}
