/*  xinf_hosted: the replicas a worker hosts.  */
#include "xinf_hosted.h"
#include "xinf_states.h"
#include "xinf_replica.h"
#include "xinf_inflight.h"
#include "xinf_lora_modules.h"
#include "xinf_outbox.h"
#include "xinf_node_msg.h"
#include "xinf_model_msg.h"
#include "xinf_transfer_fetch.h"
#include "xinf_transfer.h"


typedef struct {
    xinf_hosted_t *owner;
    char key [96];                    //  "uid/replica"
    char uid [65];
    uint64_t replica;
    uint64_t generation;              //  the supervisor's launch number
    uint64_t rank, n_ranks;           //  of a tensor-parallel replica (0 of 1: a plain one)
    char path [4096];
    char device [41];                 //  LOAD_MODEL's: cpu or cuda:N
    xinf_replica_t *actor;
    xinf_dealer_t *dealer;            //  to the replica
    int state;                        //  xinf_replica_fsm: its fetch here, then the replica's reports
    xinf_value_t *info;               //  the replica's model info, once ready
    xinf_fetch_t *fetch;              //  while its file comes from the cluster
    bool fetch_only;                  //  a rank's LOAD_MODEL fetch_only: no replica, "fetched" at the end
    bool follows;                     //  waits for another replica's fetch of the same file
    xinf_value_t *start;              //  the START it then gets (without the path)
    xinf_value_t *launch;             //  LOAD_MODEL's launch options, reported in HELLO
} s_hosted_t;

struct _xinf_hosted_t {
    char node [65];
    int port_low, port_high;          //  --data-ports, for the ranks' collectives
    char bind_host [80];              //  where they bind ("": all addresses)
    xinf_dealer_t **upstream;
    zhashx_t *replicas;               //  key -> s_hosted_t
    xinf_ctx_t *ctx;                  //  the agent's, for readers
    xinf_inflight_t *inflight;        //  the runs, for a restarted supervisor
    xinf_model_dirs_t *model_dirs;    //  where model files may be loaded from
    bool fetch;                       //  files it lacks are fetched (--no-fetch-models: not)
    bool executor_process;            //  executors in processes of their own
    int64_t fetch_stall_ms;
    uint64_t next_transfer;           //  ids of its fetches
    xinf_sums_t *fetched;             //  digests of the files fetched (or found the same) here
    uint64_t started;                 //  replicas started, for unique endpoints
    xinf_outbox_t *outbox;            //  messages up, kept while the supervisor link is full
};

//  A message up to the supervisor, through the outbox: kept in order
//  while the link is full (xinf_outbox).
static void
s_send_up (xinf_hosted_t *self, xinf_msg_t **msg_p)
{
    xinf_outbox_send (self->outbox, msg_p);
}

size_t xinf_hosted_flush (xinf_hosted_t *self) { return xinf_outbox_flush (self->outbox); }

//  Stops a replica and frees its entry. Its last words (failed requests,
//  stopped) are relayed; 'why' (may be NULL) becomes the error of its
//  stopped report. True when that report was relayed.
static bool
s_hosted_free (xinf_hosted_t *self, s_hosted_t **entry_p, const char *why)
{
    s_hosted_t *entry = *entry_p;
    bool stopped = false;
    if (entry->dealer && self->ctx)
        xinf_ctx_reader_end (self->ctx, xinf_dealer_sock (entry->dealer));
    //  Stop the replica first; its last words (failed requests, stopped)
    //  are already queued on the dealer when destroy returns: relay them
    if (entry->fetch && self->ctx)
        xinf_ctx_reader_end (self->ctx, xinf_fetch_sock (entry->fetch));
    if (entry->fetch) {               //  the source frees its open file
        xinf_msg_t *close = xinf_msg_new ("FILE_CLOSE");
        xinf_map_put_uint (xinf_msg_body (close), "transfer", xinf_fetch_transfer (entry->fetch));
        s_send_up (self, &close);
    }
    xinf_fetch_destroy (&entry->fetch);
    xinf_value_destroy (&entry->start);
    xinf_replica_destroy (&entry->actor);
    char error [256];
    xinf_msg_t *msg;
    while (entry->dealer && (msg = xinf_dealer_recv (entry->dealer, 0, error, sizeof error))) {
        const char *state = xinf_value_str (xinf_map_get (xinf_msg_body (msg), "state"));
        if (xinf_msg_is (msg, "MODEL_STATE") && state && streq (state, "stopped")) {
            stopped = true;
            if (why && *why)
                xinf_map_put_str (xinf_msg_body (msg), "error", why);
        }
        xinf_map_put_str (xinf_msg_body (msg), "node", self->node);
        xinf_map_put_uint (xinf_msg_body (msg), "generation", entry->generation);
        s_send_up (self, &msg);
    }
    xinf_dealer_destroy (&entry->dealer);
    xinf_inflight_forget_replica (self->inflight, entry->uid, entry->replica);
    xinf_value_destroy (&entry->info);
    xinf_value_destroy (&entry->launch);
    free (entry);
    *entry_p = NULL;
    return stopped;
}

void
xinf_hosted_set_fetch (xinf_hosted_t *self, bool fetch, int64_t stall_ms)
{
    self->fetch = fetch;
    self->fetch_stall_ms = stall_ms > 0 ? stall_ms : 60000;
}

void
xinf_hosted_set_executor_process (xinf_hosted_t *self, bool process)
{
    self->executor_process = process;
}

void
xinf_hosted_set_bind_host (xinf_hosted_t *self, const char *host)
{
    snprintf (self->bind_host, sizeof self->bind_host, "%s", host && strlen (host) < 64 ? host : "");
}

xinf_hosted_t *
xinf_hosted_new (const char *node, xinf_dealer_t **upstream, int port_low, int port_high,
                 xinf_model_dirs_t *model_dirs)
{
    xinf_hosted_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->node, sizeof self->node, "%s", node);
    self->port_low = port_low;
    self->port_high = port_high;
    self->upstream = upstream;
    self->model_dirs = model_dirs;
    self->replicas = zhashx_new ();
    self->inflight = xinf_inflight_new ();
    self->fetch = true;
    self->fetch_stall_ms = 60000;
    self->next_transfer = (uint64_t) zclock_usecs ();
    self->fetched = xinf_sums_new (64);
    self->outbox = xinf_outbox_new (xinf_outbox_dealer_send, upstream, "the supervisor");
    return self;
}

void
xinf_hosted_destroy (xinf_hosted_t **self_p)
{
    if (self_p && *self_p) {
        xinf_hosted_t *self = *self_p;
        s_hosted_t *entry;
        while ((entry = (s_hosted_t *) zhashx_first (self->replicas))) {
            zhashx_delete (self->replicas, entry->key);
            s_hosted_free (self, &entry, NULL);
        }
        zhashx_destroy (&self->replicas);
        xinf_inflight_destroy (&self->inflight);
        xinf_sums_destroy (&self->fetched);
        xinf_outbox_destroy (&self->outbox);
        free (self);
        *self_p = NULL;
    }
}

//  What a replica says goes up to the supervisor, with the node named.
static void
s_on_replica (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    s_hosted_t *entry = (s_hosted_t *) arg;
    xinf_hosted_t *self = entry->owner;
    char error [256];
    xinf_msg_t *msg = xinf_dealer_recv (entry->dealer, 0, error, sizeof error);
    if (!msg)
        return;
    //  Checked here as the supervisor will check it (node.xml): a replica
    //  that breaks the protocol is said here, not sent on
    xinf_check_t check = XINF_CHECK_INIT;
    if (xinf_node_msg_validate (xinf_msg_type (msg), xinf_msg_body (msg), &check) == -1) {
        xinf_error ("worker", "replica %s sent a malformed %s, dropped reason=\"%s\"", entry->key,
                    xinf_msg_type (msg), check.reason);
        xinf_msg_destroy (&msg);
        return;
    }
    if (xinf_msg_is (msg, "MODEL_STATE")) {
        xinf_node_msg_model_state_t report;
        xinf_node_msg_model_state_decode (xinf_msg_body (msg), &report, &check);
        int to = xinf_fsm_parse (&xinf_replica_fsm, report.state);
        if (to >= 0)
            xinf_fsm_move (&xinf_replica_fsm, &entry->state, to, entry->key);
        if (report.info) {
            xinf_value_destroy (&entry->info);
            entry->info = xinf_value_dup (report.info);
        }
    }
    else
    if (xinf_msg_is (msg, "RUN_TOKEN") || xinf_msg_is (msg, "RUN_DONE") || xinf_msg_is (msg, "RUN_FAILED"))
        xinf_inflight_reply (self->inflight, msg, zclock_mono ());
    xinf_map_put_str (xinf_msg_body (msg), "node", self->node);
    xinf_map_put_uint (xinf_msg_body (msg), "generation", entry->generation);
    s_send_up (self, &msg);
}

static void
s_reply_bytes (xinf_hosted_t *self, const char *uid, uint64_t replica, uint64_t rank, uint64_t generation,
               const char *state, const char *error, uint64_t done, uint64_t total)
{
    //  node.xml: error is at most 511 bytes; a longer one (a fetch's, naming
    //  a long path) is cut on a character, else the supervisor refuses it
    char cut [512];
    xinf_textf (cut, sizeof cut, "%s", error ? error : "");
    xinf_msg_t *msg = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "uid", uid);
    xinf_map_put_uint (body, "replica", replica);
    xinf_map_put_uint (body, "rank", rank);
    xinf_map_put_str (body, "state", state);
    xinf_map_put_uint (body, "bytes_done", done);
    xinf_map_put_uint (body, "bytes_total", total);
    xinf_map_put_str (body, "error", cut);
    xinf_map_put_str (body, "node", self->node);
    xinf_map_put_uint (body, "generation", generation);
    s_send_up (self, &msg);
}

static void
s_reply_state (xinf_hosted_t *self, const char *uid, uint64_t replica, uint64_t rank, uint64_t generation,
               const char *state, const char *error)
{
    s_reply_bytes (self, uid, replica, rank, generation, state, error, 0, 0);
}

//  The LoRA adapters of LOAD_MODEL, NAME=PATH, as NAME=RESOLVED (the paths
//  in the model directories, as the model's; adapters are not fetched),
//  or NULL when there are none or one fails 'check'.
static xinf_value_t *
s_resolve_loras (xinf_hosted_t *self, const xinf_value_t *specs, xinf_check_t *check)
{
    xinf_lora_modules_t lora;
    char reason [1200], resolved [4096];
    if (check->failed || !specs)
        return NULL;
    if (xinf_lora_modules_take (&lora, specs, "lora_modules", reason, sizeof reason)) {
        xinf_check_fail (check, "%s", reason);
        return NULL;
    }
    for (size_t index = 0; index < lora.count; index++) {
        char name [XINF_LORA_NAME_MAX + 1];
        const char *path = xinf_lora_modules_at (&lora, index, name, sizeof name);
        if (xinf_model_dirs_resolve (self->model_dirs, path, resolved, sizeof resolved, reason, sizeof reason)) {
            xinf_check_fail (check, "LoRA adapter '%s': %s", name, reason);
            return NULL;
        }
        snprintf (lora.specs [index], sizeof lora.specs [index], "%s=%s", name, resolved);
    }
    return xinf_lora_modules_array (&lora);
}

//  START for the replica, once its file is here at 'resolved'.
static void
s_start_replica (xinf_hosted_t *self, s_hosted_t *entry, const char *resolved)
{
    xinf_msg_t *start = xinf_msg_new ("START");
    xinf_value_t *args = xinf_msg_body (start);
    for (size_t index = 0; index < xinf_value_count (entry->start); index++)
        xinf_map_put (args, xinf_map_key_at (entry->start, index),
                      xinf_value_dup (xinf_map_value_at (entry->start, index)));
    xinf_map_put_str (args, "path", resolved);
    xinf_value_destroy (&entry->start);
    xinf_fsm_move (&xinf_replica_fsm, &entry->state, XINF_REPLICA_STARTING, entry->key);
    xinf_dealer_send (entry->dealer, &start);
    xinf_info ("worker", "hosting replica=%s path=%s rank=%llu/%llu", entry->key, resolved,
               (unsigned long long) entry->rank, (unsigned long long) entry->n_ranks);
}

//  A fetch that ended badly: the replica goes, the supervisor hears why.
static void
s_fetch_failed (xinf_hosted_t *self, s_hosted_t *entry, const char *error)
{
    xinf_warn ("worker", "replica=%s cannot load: %s", entry->key, error);
    char uid [65], reason [1200];
    uint64_t replica = entry->replica, generation = entry->generation, rank = entry->rank;
    snprintf (uid, sizeof uid, "%s", entry->uid);
    xinf_textf (reason, sizeof reason, "%s", error);
    zhashx_delete (self->replicas, entry->key);
    s_hosted_free (self, &entry, NULL);
    s_reply_state (self, uid, replica, rank, generation, "failed", reason);
}

//  The end of the fetch of an entry's file (its own, or the one it
//  follows): the replica starts, or says "fetched", or fails with 'error'.
static void
s_fetch_ended (xinf_hosted_t *self, s_hosted_t *entry, const char *resolved, const char *error)
{
    entry->follows = false;
    if (error)
        s_fetch_failed (self, entry, error);
    else
    if (entry->fetch_only) {
        s_reply_state (self, entry->uid, entry->replica, entry->rank, entry->generation, "fetched", "");
        zhashx_delete (self->replicas, entry->key);
        s_hosted_free (self, &entry, NULL);
    }
    else
        s_start_replica (self, entry, resolved);
}

//  A file that came (or was found the same): its digest, so that the next
//  launch naming it compares it with the source's without reading it.
static void
s_remember_fetched (xinf_hosted_t *self, const char *path, const char *sha256)
{
    struct stat info;
    if (sha256 && xinf_sha256_hex_valid (sha256) && stat (path, &info) == 0)
        xinf_sums_remember (self->fetched, &info, sha256);
}

//  The keys of the entries that follow the fetch of 'path'.
static zlist_t *
s_followers (xinf_hosted_t *self, const char *path)
{
    zlist_t *keys = zlist_new ();
    zlist_autofree (keys);
    for (s_hosted_t *entry = (s_hosted_t *) zhashx_first (self->replicas); entry;
         entry = (s_hosted_t *) zhashx_next (self->replicas))
        if (entry->follows && streq (entry->path, path))
            zlist_append (keys, entry->key);
    return keys;
}

//  What a fetch job says: requests go up to the supervisor, progress as
//  MODEL_STATE fetching, and at the end the replica starts or fails, and
//  so do those that follow it.
static void
s_on_fetch (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    s_hosted_t *entry = (s_hosted_t *) arg;
    xinf_hosted_t *self = entry->owner;
    xinf_msg_t *msg = xinf_fetch_recv (entry->fetch);
    if (!msg)
        return;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_check_t check = XINF_CHECK_INIT;
    if (xinf_msg_is (msg, "FETCH_PROGRESS")) {
        xinf_node_msg_fetch_progress_t progress;
        if (xinf_node_msg_fetch_progress_decode (body, &progress, &check) == 0)
            s_reply_bytes (self, entry->uid, entry->replica, entry->rank, entry->generation, "fetching", "",
                           progress.done, progress.total);
        else
            xinf_warn ("worker", "replica=%s: FETCH_PROGRESS ignored reason=\"%s\"", entry->key, check.reason);
    }
    else
    if (xinf_msg_is (msg, "FETCH_DONE") || xinf_msg_is (msg, "FETCH_FAILED")) {
        xinf_ctx_reader_end (ctx, sock);
        xinf_fetch_destroy (&entry->fetch);
        char resolved [4096] = "", error [1200] = "", wanted [4096];
        snprintf (wanted, sizeof wanted, "%s", entry->path);
        xinf_node_msg_fetch_done_t done = { 0 };
        xinf_node_msg_fetch_failed_t failed = { 0 };
        if (xinf_msg_is (msg, "FETCH_FAILED"))
            xinf_textf (error, sizeof error, "%s", xinf_node_msg_fetch_failed_decode (body, &failed, &check) == 0
                        && *failed.error ? failed.error : "the fetch failed");
        else
        if (xinf_node_msg_fetch_done_decode (body, &done, &check))
            xinf_textf (error, sizeof error, "the fetch's report is broken: %s", check.reason);
        else
        if (xinf_model_dirs_resolve (self->model_dirs, done.path, resolved, sizeof resolved, error, sizeof error) == 0)
            s_remember_fetched (self, resolved, done.sha256);
        s_fetch_ended (self, entry, resolved, *error ? error : NULL);
        zlist_t *followers = s_followers (self, wanted);
        for (char *key = (char *) zlist_first (followers); key; key = (char *) zlist_next (followers)) {
            s_hosted_t *follower = (s_hosted_t *) zhashx_lookup (self->replicas, key);
            if (follower)
                s_fetch_ended (self, follower, resolved, *error ? error : NULL);
        }
        zlist_destroy (&followers);
    }
    else {
        xinf_map_put_str (body, "node", self->node);
        s_send_up (self, &msg);        //  FILE_FETCH, FILE_READ, FILE_CLOSE
    }
    xinf_msg_destroy (&msg);
}

//  The launch's file is not here: fetch it from the cluster into the
//  first model directory, then start the replica.
static int
s_begin_fetch (xinf_hosted_t *self, xinf_ctx_t *ctx, s_hosted_t *entry)
{
    //  Another replica fetches that file already: one copy, one .part
    for (s_hosted_t *other = (s_hosted_t *) zhashx_first (self->replicas); other;
         other = (s_hosted_t *) zhashx_next (self->replicas))
        if (other != entry && other->fetch && streq (other->path, entry->path)) {
            entry->follows = true;
            xinf_fsm_move (&xinf_replica_fsm, &entry->state, XINF_REPLICA_FETCHING, entry->key);
            xinf_info ("worker", "replica=%s: model file %s is on its way for replica %s: waiting for it", entry->key,
                       entry->path, other->key);
            s_reply_state (self, entry->uid, entry->replica, entry->rank, entry->generation, "fetching", "");
            return 0;
        }
    xinf_fetch_config_t config = {
        self->next_transfer++, entry->uid, entry->generation, entry->path,
        xinf_model_dirs_at (self->model_dirs, 0), self->fetch_stall_ms, NULL, { 0 }
    };
    char final [4352];
    snprintf (final, sizeof final, "%s/%s", config.directory, xinf_transfer_basename (entry->path));
    if (stat (final, &config.known) == 0)
        config.known_sha256 = xinf_sums_find (self->fetched, &config.known);
    entry->fetch = xinf_fetch_new (&config);
    if (!entry->fetch)
        return -1;
    xinf_fsm_move (&xinf_replica_fsm, &entry->state, XINF_REPLICA_FETCHING, entry->key);
    xinf_ctx_reader (ctx, xinf_fetch_sock (entry->fetch), s_on_fetch, entry);
    xinf_info ("worker", "replica=%s: model file %s is not here: fetching it into %s (transfer %llu)", entry->key,
               entry->path, config.directory, (unsigned long long) config.transfer);
    s_reply_state (self, entry->uid, entry->replica, entry->rank, entry->generation, "fetching", "");
    return 0;
}

//  LOAD_MODEL fetch_only (a rank before its rendezvous): the file is made
//  sure of, no replica starts; MODEL_STATE "fetched" says it is here.
static void
s_fetch_only (xinf_hosted_t *self, xinf_ctx_t *ctx, const xinf_node_msg_load_model_t *load, bool missing)
{
    s_hosted_t *entry = calloc (1, sizeof *entry);
    assert (entry);
    entry->owner = self;
    entry->fetch_only = true;
    snprintf (entry->uid, sizeof entry->uid, "%s", load->uid);
    snprintf (entry->path, sizeof entry->path, "%s", load->path);
    entry->replica = load->replica;
    entry->generation = load->generation;
    entry->rank = load->rank;
    entry->n_ranks = load->n_ranks;
    snprintf (entry->key, sizeof entry->key, "%s/%llu", entry->uid, (unsigned long long) entry->replica);
    self->ctx = ctx;
    if (!missing) {
        s_reply_state (self, entry->uid, entry->replica, entry->rank, entry->generation, "fetched", "");
        s_hosted_free (self, &entry, NULL);
        return;
    }
    zhashx_insert (self->replicas, entry->key, entry);
    if (s_begin_fetch (self, ctx, entry))
        s_fetch_failed (self, entry, "cannot start the fetch of the model file");
}

static void
s_on_load (xinf_hosted_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_load_model_t load;
    xinf_node_msg_load_model_decode (xinf_msg_body (msg), &load, &check);
    const char *uid = load.uid, *path = load.path;
    uint64_t replica = load.replica, generation = load.generation, rank = load.rank, n_ranks = load.n_ranks;
    if (!check.failed && rank >= n_ranks)
        xinf_check_fail (&check, "field 'rank' is %llu, must be below n_ranks %llu", (unsigned long long) rank,
                         (unsigned long long) n_ranks);
    if (!check.failed && load.step_tokens && load.step_tokens < 16)
        xinf_check_fail (&check, "field 'step_tokens' must be 0 or 16-8192, got %llu",
                         (unsigned long long) load.step_tokens);
    if (!check.failed && load.prompt_lookup_min > load.prompt_lookup_max)
        xinf_check_fail (&check, "field 'prompt_lookup_min' (%llu) must be at most prompt_lookup_max (%llu)",
                         (unsigned long long) load.prompt_lookup_min, (unsigned long long) load.prompt_lookup_max);
    //  The launch options are kept as they came, for HELLO; the replica
    //  takes its settings from the fields above
    xinf_node_msg_launch_options_t options;
    if (!check.failed && load.launch) {
        xinf_node_msg_launch_options_decode (load.launch, &options, &check);
        xinf_codec_within (&check, false, "field 'launch'");
    }
    char key [96];
    snprintf (key, sizeof key, "%s/%llu", uid ? uid : "", (unsigned long long) replica);
    if (!check.failed && zhashx_lookup (self->replicas, key))
        xinf_check_fail (&check, "replica %s is already hosted here", key);
    char resolved [4096], refusal [1200];
    bool missing = !check.failed && xinf_model_dirs_resolve (self->model_dirs, path, resolved, sizeof resolved,
                                                             refusal, sizeof refusal);
    if (missing && !(self->fetch && xinf_model_dirs_count (self->model_dirs)))
        xinf_check_fail (&check, "%s", refusal);
    xinf_value_t *loras = s_resolve_loras (self, load.has_lora_modules ? load.lora_modules : NULL, &check);
    if (check.failed) {
        xinf_warn ("worker", "LOAD_MODEL refused reason=\"%s\"", check.reason);
        s_reply_state (self, uid ? uid : "?", replica, rank, generation, "failed", check.reason);
        return;
    }
    if (load.fetch_only) {
        xinf_value_destroy (&loras);
        s_fetch_only (self, ctx, &load, missing);
        return;
    }
    s_hosted_t *entry = calloc (1, sizeof *entry);
    entry->owner = self;
    snprintf (entry->key, sizeof entry->key, "%s", key);
    snprintf (entry->uid, sizeof entry->uid, "%s", uid);
    snprintf (entry->path, sizeof entry->path, "%s", path);
    //  Where it begins: fetching its file, or starting at once
    entry->state = missing ? XINF_REPLICA_FETCHING : XINF_REPLICA_STARTING;
    entry->replica = replica;
    entry->generation = generation;
    entry->rank = rank;
    entry->n_ranks = n_ranks;
    entry->launch = load.launch ? xinf_value_dup (load.launch) : NULL;
    char endpoint [256];
    //  Unique per start: an unloaded replica's inproc endpoint is released
    //  by libzmq's reaper after its socket closes, so a reload at once
    //  (even at the same entry address) must not reuse its name
    snprintf (endpoint, sizeof endpoint, "inproc://xinf-replica-%s-%s-%llu-%p-%llu", self->node, uid,
              (unsigned long long) replica, (void *) self, (unsigned long long) ++self->started);
    entry->actor = xinf_replica_new (uid, replica, endpoint);
    entry->dealer = entry->actor ? xinf_dealer_new (endpoint, "worker") : NULL;
    if (!entry->dealer) {
        s_reply_state (self, uid, replica, rank, generation, "failed", "cannot start the replica actor");
        self->ctx = ctx;
        s_hosted_free (self, &entry, NULL);
        xinf_value_destroy (&loras);
        return;
    }
    self->ctx = ctx;
    xinf_ctx_reader (ctx, xinf_dealer_sock (entry->dealer), s_on_replica, entry);
    zhashx_insert (self->replicas, key, entry);
    entry->start = xinf_value_new_map ();
    xinf_value_t *args = entry->start;
    xinf_map_put_uint (args, "threads", load.threads);
    //  The engine's settings, unchanged (0 / absent: the replica's defaults)
    if (load.kv_cache_mb)
        xinf_map_put_uint (args, "kv_cache_mb", load.kv_cache_mb);
    if (!streq (load.kv_cache_dtype, "auto"))
        xinf_map_put_str (args, "kv_cache_dtype", load.kv_cache_dtype);
    if (loras)
        xinf_map_put (args, "lora_modules", loras);
    if (load.max_seqs)
        xinf_map_put_uint (args, "max_seqs", load.max_seqs);
    if (load.step_tokens)
        xinf_map_put_uint (args, "step_tokens", load.step_tokens);
    if (load.disable_cuda_graph)
        xinf_map_put_bool (args, "disable_cuda_graph", true);
    if (load.speculative_tokens) {
        xinf_map_put_uint (args, "speculative_tokens", load.speculative_tokens);
        xinf_map_put_uint (args, "prompt_lookup_min", load.prompt_lookup_min);
        xinf_map_put_uint (args, "prompt_lookup_max", load.prompt_lookup_max);
    }
    xinf_map_put_uint (args, "stall_timeout_ms", load.stall_timeout_ms);
    xinf_map_put_str (args, "device", load.device);
    snprintf (entry->device, sizeof entry->device, "%s", load.device);
    if (self->executor_process)
        xinf_map_put_bool (args, "executor_process", true);
    if (n_ranks > 1) {
        char group [128];
        snprintf (group, sizeof group, "%s/%llu/%llu", uid, (unsigned long long) generation, (unsigned long long) replica);
        xinf_map_put_uint (args, "rank", rank);
        xinf_map_put_uint (args, "n_ranks", n_ranks);
        xinf_map_put_str (args, "group", group);
        xinf_map_put_uint (args, "port_low", (uint64_t) self->port_low);
        xinf_map_put_uint (args, "port_high", (uint64_t) self->port_high);
        if (*self->bind_host)
            xinf_map_put_str (args, "bind_host", self->bind_host);
        xinf_map_put_uint (args, "rendezvous_timeout_ms", load.rendezvous_timeout_ms);
    }
    if (!missing)
        s_start_replica (self, entry, resolved);
    else
    if (s_begin_fetch (self, ctx, entry))
        s_fetch_failed (self, entry, "cannot start the fetch of the model file");
}

//  The replica a decoded message names (uid, replica), or NULL with the
//  reason in check (also when the decode failed).
static s_hosted_t *
s_find (xinf_hosted_t *self, const char *uid, uint64_t replica, xinf_check_t *check)
{
    if (check->failed)
        return NULL;
    char key [96];
    snprintf (key, sizeof key, "%s/%llu", uid, (unsigned long long) replica);
    s_hosted_t *entry = (s_hosted_t *) zhashx_lookup (self->replicas, key);
    if (!entry)
        xinf_check_fail (check, "replica %s is not hosted on %s", key, self->node);
    return entry;
}

static void
s_on_unload (xinf_hosted_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_unload_model_t unload;
    xinf_node_msg_unload_model_decode (xinf_msg_body (msg), &unload, &check);
    s_hosted_t *entry = s_find (self, unload.uid, unload.replica, &check);
    if (!entry) {
        xinf_warn ("worker", "UNLOAD_MODEL ignored reason=\"%s\"", check.reason);
        return;
    }
    //  The supervisor's reason, said back in the stopped report
    char reason [480];
    xinf_textf (reason, sizeof reason, "%s%s", *unload.why ? "unloaded: " : "", unload.why);
    xinf_info ("worker", "unloading replica=%s%s%s", entry->key, *reason ? " reason=" : "", reason);
    zhashx_delete (self->replicas, entry->key);
    char uid [65], path [4096];
    uint64_t replica = entry->replica, generation = entry->generation, rank = entry->rank;
    bool leader = entry->fetch != NULL;
    snprintf (uid, sizeof uid, "%s", entry->uid);
    snprintf (path, sizeof path, "%s", entry->path);
    //  One stopped report, with the reason: the replica's own, else ours
    if (!s_hosted_free (self, &entry, reason))
        s_reply_state (self, uid, replica, rank, generation, "stopped", reason);
    //  Its fetch had followers: the first goes on with it (from the .part)
    zlist_t *followers = leader ? s_followers (self, path) : NULL;
    s_hosted_t *next = followers && zlist_first (followers)
                     ? (s_hosted_t *) zhashx_lookup (self->replicas, (char *) zlist_first (followers)) : NULL;
    zlist_destroy (&followers);
    if (next) {
        next->follows = false;
        if (s_begin_fetch (self, ctx, next))
            s_fetch_failed (self, next, "cannot start the fetch of the model file");
    }
}

static void
s_on_run (xinf_hosted_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_run_t run_msg;
    xinf_node_msg_run_decode (xinf_msg_body (msg), &run_msg, &check);
    uint64_t request = run_msg.request;
    s_hosted_t *entry = s_find (self, run_msg.uid, run_msg.replica, &check);
    if (!entry) {
        xinf_msg_t *failed = xinf_msg_new ("RUN_FAILED");
        xinf_map_put_uint (xinf_msg_body (failed), "request", request);
        xinf_map_put_str (xinf_msg_body (failed), "code", "MODEL_NOT_READY");
        xinf_map_put_str (xinf_msg_body (failed), "message", check.reason);
        xinf_map_put_str (xinf_msg_body (failed), "node", self->node);
        s_send_up (self, &failed);
        return;
    }
    //  The replica validates the rest; pass the body on as it came
    xinf_msg_t *run = xinf_msg_new ("RUN");
    xinf_value_t *body = xinf_msg_body (msg);
    for (size_t index = 0; index < xinf_value_count (body); index++)
        xinf_map_put (xinf_msg_body (run), xinf_map_key_at (body, index), xinf_value_dup (xinf_map_value_at (body, index)));
    if (xinf_dealer_send (entry->dealer, &run) == 0)
        xinf_inflight_started (self->inflight, body, zclock_mono ());
    else {
        xinf_msg_t *failed = xinf_msg_new ("RUN_FAILED");
        xinf_map_put_uint (xinf_msg_body (failed), "request", request);
        xinf_map_put_str (xinf_msg_body (failed), "code", "MODEL_NOT_READY");
        xinf_map_put_str (xinf_msg_body (failed), "message", "the replica's queue is full or it is stopping");
        xinf_map_put_str (xinf_msg_body (failed), "node", self->node);
        s_send_up (self, &failed);
    }
}

//  TOKENIZE: to the replica named, whose TOKENIZE_RESULT goes up like its
//  other messages; a replica not hosted here is answered at once.
static void
s_on_tokenize (xinf_hosted_t *self, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_tokenize_t tokenize;
    bool malformed = xinf_node_msg_tokenize_decode (xinf_msg_body (msg), &tokenize, &check) != 0;
    uint64_t request = tokenize.request;
    s_hosted_t *entry = s_find (self, tokenize.uid, tokenize.replica, &check);
    xinf_msg_t *relay = NULL;
    if (entry) {
        relay = xinf_msg_new ("TOKENIZE");
        xinf_value_t *body = xinf_msg_body (msg);
        for (size_t index = 0; index < xinf_value_count (body); index++)
            xinf_map_put (xinf_msg_body (relay), xinf_map_key_at (body, index), xinf_value_dup (xinf_map_value_at (body, index)));
        if (xinf_dealer_send (entry->dealer, &relay) == 0)
            return;
        xinf_msg_destroy (&relay);
    }
    xinf_msg_t *failed = xinf_msg_new ("TOKENIZE_RESULT");
    xinf_map_put_uint (xinf_msg_body (failed), "request", request);
    xinf_map_put_str (xinf_msg_body (failed), "code", malformed ? "BAD_REQUEST" : "MODEL_NOT_READY");
    xinf_map_put_str (xinf_msg_body (failed), "message", entry ? "the replica's queue is full" : check.reason);
    if (malformed)
        xinf_warn ("worker", "TOKENIZE refused reason=\"%s\"", check.reason);
    xinf_map_put_str (xinf_msg_body (failed), "node", self->node);
    s_send_up (self, &failed);
}

//  GROUP: every rank's collective endpoint, for the rendezvous.
static void
s_on_group (xinf_hosted_t *self, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_group_t group;
    xinf_node_msg_group_decode (xinf_msg_body (msg), &group, &check);
    s_hosted_t *entry = s_find (self, group.uid, group.replica, &check);
    uint64_t generation = group.generation;
    const xinf_value_t *endpoints = group.endpoints, *nodes = group.nodes, *keys = group.keys;
    if (!check.failed && (entry->n_ranks < 2 || generation != entry->generation))
        xinf_check_fail (&check, "replica %s is not a rank of launch %llu", entry->key, (unsigned long long) generation);
    if (!check.failed && (xinf_value_count (endpoints) != entry->n_ranks || xinf_value_count (nodes) != entry->n_ranks))
        xinf_check_fail (&check, "GROUP needs %llu endpoints and nodes", (unsigned long long) entry->n_ranks);
    for (size_t index = 0; !check.failed && index < entry->n_ranks; index++) {
        if (strncmp (xinf_value_str (xinf_array_at (endpoints, index)), "tcp://", 6))
            xinf_check_fail (&check, "GROUP endpoints[%zu] must be a tcp:// endpoint", index);
    }
    //  Keys on: each rank's key as the supervisor vouches for it; we dial
    //  no endpoint without one (protocols/security.md)
    if (!check.failed && xinf_auth_identity () && (!keys || xinf_value_count (keys) != entry->n_ranks))
        xinf_check_fail (&check, "GROUP needs 'keys', one per rank: this worker has keys");
    for (size_t index = 0; !check.failed && keys && xinf_auth_identity () && index < entry->n_ranks; index++)
        if (xinf_auth_vouch (xinf_value_str (xinf_array_at (endpoints, index)), xinf_value_str (xinf_array_at (keys, index))))
            xinf_check_fail (&check, "GROUP keys[%zu] must be a 40-character Z85 key", index);
    if (check.failed) {
        xinf_warn ("worker", "GROUP refused reason=\"%s\"", check.reason);
        if (entry && entry->n_ranks > 1 && generation == entry->generation)
            s_reply_state (self, entry->uid, entry->replica, entry->rank, entry->generation, "failed", check.reason);
        return;
    }
    xinf_msg_t *join = xinf_msg_new ("GROUP");
    xinf_map_put (xinf_msg_body (join), "endpoints", xinf_value_dup (endpoints));
    xinf_map_put (xinf_msg_body (join), "nodes", xinf_value_dup (nodes));
    xinf_dealer_send (entry->dealer, &join);
}

static void
s_on_cancel (xinf_hosted_t *self, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_run_cancel_t cancel_msg;
    xinf_node_msg_run_cancel_decode (xinf_msg_body (msg), &cancel_msg, &check);
    uint64_t request = cancel_msg.request;
    s_hosted_t *entry = s_find (self, cancel_msg.uid, cancel_msg.replica, &check);
    if (!entry)
        return;                        //  the replica is gone: nothing runs
    xinf_inflight_forget (self->inflight, request);
    xinf_model_msg_run_cancel_t fields = { .request = request };
    xinf_msg_t *cancel = xinf_model_msg_run_cancel_encode (&fields);
    xinf_dealer_send (entry->dealer, &cancel);
}

//  An answer of the cluster for one of our fetches: to its job.
static void
s_on_file_answer (xinf_hosted_t *self, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t transfer = xinf_check_uint (&check, xinf_msg_body (msg), "transfer", 0, UINT64_MAX);
    for (s_hosted_t *entry = (s_hosted_t *) zhashx_first (self->replicas); entry && !check.failed;
         entry = (s_hosted_t *) zhashx_next (self->replicas))
        if (entry->fetch && xinf_fetch_transfer (entry->fetch) == transfer) {
            xinf_msg_t *copy = xinf_transfer_copy (msg);
            xinf_fetch_deliver (entry->fetch, &copy);
            return;
        }
    xinf_debug ("worker", "%s for transfer %llu, which is not under way here: ignored", xinf_msg_type (msg),
                check.failed ? 0ULL : (unsigned long long) transfer);
}

bool
xinf_hosted_handle (xinf_hosted_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    if (xinf_msg_is (msg, "LOAD_MODEL"))
        s_on_load (self, ctx, msg);
    else
    if (xinf_msg_is (msg, "UNLOAD_MODEL"))
        s_on_unload (self, ctx, msg);
    else
    if (xinf_msg_is (msg, "RUN"))
        s_on_run (self, ctx, msg);
    else
    if (xinf_msg_is (msg, "RUN_CANCEL"))
        s_on_cancel (self, msg);
    else
    if (xinf_msg_is (msg, "GROUP"))
        s_on_group (self, msg);
    else
    if (xinf_msg_is (msg, "TOKENIZE"))
        s_on_tokenize (self, msg);
    else
    if (xinf_msg_is (msg, "FILE_HASHING") || xinf_msg_is (msg, "FILE_OPENED") || xinf_msg_is (msg, "FILE_DATA")
    ||  xinf_msg_is (msg, "FILE_ERROR"))
        s_on_file_answer (self, msg);
    else
    if (xinf_msg_is (msg, "RUN_ACK")) {
        xinf_check_t check = XINF_CHECK_INIT;
        xinf_node_msg_run_ack_t ack;
        if (xinf_node_msg_run_ack_decode (xinf_msg_body (msg), &ack, &check) == 0)
            xinf_inflight_forget (self->inflight, ack.request);
        else
            xinf_warn ("worker", "RUN_ACK ignored reason=\"%s\"", check.reason);
    }
    else
        return false;
    return true;
}

xinf_value_t *
xinf_hosted_models (xinf_hosted_t *self)
{
    xinf_value_t *models = xinf_value_new_array ();
    for (s_hosted_t *entry = (s_hosted_t *) zhashx_first (self->replicas); entry;
         entry = (s_hosted_t *) zhashx_next (self->replicas)) {
        xinf_value_t *model = xinf_value_new_map ();
        xinf_map_put_str (model, "uid", entry->uid);
        xinf_map_put_uint (model, "replica", entry->replica);
        xinf_map_put_str (model, "path", entry->path);
        xinf_map_put_str (model, "state", xinf_fsm_name (&xinf_replica_fsm, entry->state));
        xinf_map_put_uint (model, "generation", entry->generation);
        xinf_map_put_str (model, "device", *entry->device ? entry->device : "cpu");
        if (entry->n_ranks > 1) {
            xinf_map_put_uint (model, "rank", entry->rank);
            xinf_map_put_uint (model, "n_ranks", entry->n_ranks);
        }
        if (entry->info)
            xinf_map_put (model, "info", xinf_value_dup (entry->info));
        if (entry->launch)
            xinf_map_put (model, "launch", xinf_value_dup (entry->launch));
        xinf_array_push (models, model);
    }
    return models;
}

xinf_value_t *
xinf_hosted_requests (xinf_hosted_t *self, int64_t now, int64_t keep_ms)
{
    xinf_inflight_prune (self->inflight, now, keep_ms);
    return xinf_inflight_report (self->inflight, now);
}

void
xinf_hosted_resend (xinf_hosted_t *self)
{
    zlist_t *finals = xinf_inflight_take_finals (self->inflight);
    size_t count = zlist_size (finals);
    xinf_msg_t *msg;
    while ((msg = (xinf_msg_t *) zlist_pop (finals))) {
        xinf_map_put_str (xinf_msg_body (msg), "node", self->node);
        s_send_up (self, &msg);
    }
    zlist_destroy (&finals);
    if (count)
        xinf_info ("worker", "sent again the last words of %zu run(s) that ended around the reconnect", count);
}

void
xinf_hosted_prune (xinf_hosted_t *self, int64_t now, int64_t keep_ms)
{
    xinf_inflight_prune (self->inflight, now, keep_ms);
}
