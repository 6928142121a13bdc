/*  xinf_executor: the CPU executor actor: weights, KV cache, batched steps.  */
#include "xinf_executor.h"
#include "xinf_exec_lora.h"
#include "xinf_model_msg.h"
#include "xinf_model.h"
#include "xinf_rank.h"
#include "xinf_resources.h"
#include "xinf_exec_device.h"
#include "xinf_exec_kv.h"
#include "xinf_exec_sampling.h"
#include "xinf_cpu_backend.h"
#include "xinf_penalties.h"
#include "xinf_token_mask.h"

#include <pthread.h>
#include <stdatomic.h>

#define XINF_LOAD_STALL_MS  60000     //  no byte progress for this long: stalled
#define XINF_MAX_SEQS       16        //  default sequences a step may carry
#define XINF_STEP_TOKENS    256       //  default tokens a step may carry
#define XINF_SCORE_ROWS_CPU 256       //  logits rows a step may ask (scored prompts), made when first asked
#define XINF_SCORE_ROWS_GPU 64        //  a GPU's, made at load

typedef struct {
    char name [XINF_SENDER_MAX + 1];
    //  Loading, shared with the loader thread
    pthread_t loader;
    bool loader_running;
    char path [4096];
    _Atomic uint64_t bytes_done, bytes_total;
    _Atomic bool load_finished;
    atomic_bool cancel;
    xinf_model_t *loaded;            //  set by the loader before load_finished
    char load_error [512];
    uint64_t wait;                   //  the registered load wait
    //  Who asked, to answer when loading ends
    char requester [512];
    uint64_t load_corr;
    uint64_t reported;
    //  Serving
    xinf_model_t *model;
    xinf_exec_lora_t lora;           //  LOAD's LoRA adapters (freed after the model)
    xinf_backend_t *backend;
    xinf_exec_device_t device;       //  the CPU or a GPU (LOAD's device)
    int threads;
    uint64_t kv_cache_mb;            //  asked for (0: a default from free memory)
    uint64_t kv_bytes;               //  the cache's, for the whole model (xinf_exec_kv_plan)
    char kv_cache_dtype [8];         //  asked for ("": the backend's default)
    xinf_dtype_t kv_dtype;           //  the KV cache's type
    size_t max_seqs, step_tokens;
    size_t max_rows;                 //  logits rows a step may ask: max_seqs, or more for scored prompts
    bool graphs;                     //  decode steps through CUDA graphs (LOAD's disable_cuda_graph false)
    xinf_kv_cache_t *cache;
    xinf_batch_limits_t limits;
    xinf_batch_buf_t *batch;
    xinf_exec_sampling_t *sampling;  //  a step's sampling (TOKENS answers)
    float *hidden;                   //  a step's hidden rows [n_hid][dim] (embeddings), grown as asked
    size_t hidden_rows;              //  rows 'hidden' holds
    //  A rank of a tensor-parallel replica (n_ranks > 1)
    int rank, n_ranks;
    xinf_rank_t *_Atomic group;      //  read by the owner's thread to abort
    int64_t rendezvous_ms, stall_ms;
    uint64_t group_wait;             //  for GROUP from the supervisor
    int64_t group_deadline;          //  GROUP must come by then (monotonic ms)
    _Atomic bool joined;             //  set by the loader
    bool joined_reported;
    zmq_pollitem_t follower;         //  rank > 0: step commands from rank 0
    bool following;
    char broken [512];               //  the group failed: why ("" while fine)
    xinf_beacon_t *beacon;           //  where a step is; freed with the state
} s_state_t;

struct _xinf_executor_t {
    s_state_t *state;
    xinf_actor_t *actor;
};

static void s_start_group (xinf_ctx_t *ctx);

static s_state_t *
s_state (xinf_ctx_t *ctx)
{
    return (s_state_t *) xinf_ctx_state (ctx);
}

static bool
s_on_progress (uint64_t done, uint64_t total, void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    atomic_store (&state->bytes_total, total);
    atomic_store (&state->bytes_done, done);
    xinf_wait_progress (xinf_waits_global (), state->wait, done);
    return !atomic_load (&state->cancel);
}

static void *
s_loader_main (void *arg)
{
    s_state_t *state = (s_state_t *) arg;
    xinf_rank_t *group = atomic_load (&state->group);
    //  The ranks meet, agree on their devices, and GPU ranks make their
    //  NCCL communicator, before any of them loads
    int cuda_device = state->device.cuda ? state->device.index : -1;
    if (group && (xinf_rank_join (group, state->rendezvous_ms, state->load_error, sizeof state->load_error)
              ||  xinf_rank_setup (group, cuda_device, state->load_error, sizeof state->load_error))) {
        atomic_store (&state->load_finished, true);
        return NULL;
    }
    atomic_store (&state->joined, true);
    state->loaded = xinf_model_load_shard (state->path, state->rank, state->n_ranks, s_on_progress, state,
                                           state->load_error, sizeof state->load_error);
    if (state->loaded && xinf_exec_lora_load (&state->lora, state->loaded, &state->cancel, state->load_error,
                                              sizeof state->load_error))
        xinf_model_destroy (&state->loaded);
    atomic_store (&state->load_finished, true);
    return NULL;
}

static xinf_peer_t *
s_requester (xinf_ctx_t *ctx)
{
    return xinf_router_peer (xinf_ctx_router (ctx), s_state (ctx)->requester);
}

static void
s_send_loaded (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    const xinf_model_info_t *info = xinf_model_info (state->model);
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    xinf_msg_t *reply = xinf_msg_new ("LOADED");
    xinf_msg_set_corr (reply, state->load_corr);
    xinf_value_t *body = xinf_msg_body (reply);
    xinf_map_put_str (body, "arch", info->arch);
    xinf_map_put_str (body, "name", info->name);
    xinf_map_put_str (body, "weight_type", info->weight_type);
    xinf_map_put_uint (body, "size_bytes", info->size_bytes);
    xinf_map_put_uint (body, "n_params", info->n_params);
    xinf_map_put_bool (body, "tied_embeddings", info->tied_embeddings);
    xinf_map_put_str (body, "pooling", xinf_pooling_name (info->pooling));
    xinf_map_put_uint (body, "context", state->limits.context);
    xinf_map_put_uint (body, "vocab", t->vocab);
    xinf_map_put_uint (body, "dim", t->dim);
    xinf_map_put_uint (body, "layers", t->n_layers);
    xinf_map_put_uint (body, "max_seqs", state->max_seqs);
    xinf_map_put_uint (body, "step_tokens", state->step_tokens);
    xinf_map_put_uint (body, "max_rows", state->max_rows);
    xinf_map_put_uint (body, "kv_blocks", state->limits.n_blocks);
    xinf_map_put_uint (body, "kv_block_tokens", state->limits.block_tokens);
    xinf_map_put_bool (body, "cuda_graphs", state->n_ranks == 1 && xinf_kv_cache_graphs (state->cache));
    xinf_map_put_uint (body, "kv_bytes", state->kv_bytes);
    if (state->limits.n_local_blocks) {
        xinf_map_put_uint (body, "kv_window_blocks", state->limits.n_local_blocks);
        xinf_map_put_uint (body, "kv_window", state->limits.window);
    }
    xinf_map_put_str (body, "kv_cache_dtype", xinf_backend_kv_name (state->kv_dtype));
    if (state->n_ranks > 1) {
        xinf_map_put_uint (body, "rank", (uint64_t) state->rank);
        xinf_map_put_uint (body, "n_ranks", (uint64_t) state->n_ranks);
    }
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &reply);
}

//  The backend, the paged KV cache and the step buffers of a loaded
//  model; 0, or -1 with the reason in load_error.
static int
s_start_serving (s_state_t *state)
{
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    if (xinf_exec_device_check_weights (&state->device, t, state->load_error, sizeof state->load_error)
    ||  xinf_transformer_check_backend (t, state->backend, state->load_error, sizeof state->load_error))
        return -1;
    if (xinf_backend_kv_dtype (state->backend, state->kv_cache_dtype, t->head_dim, &state->kv_dtype,
                               state->load_error, sizeof state->load_error))
        return -1;
    uint64_t budget = state->kv_cache_mb << 20;
    if (!budget)
        budget = xinf_exec_device_kv_budget (&state->device, xinf_model_info (state->model)->size_bytes);
    xinf_exec_kv_plan_t plan = xinf_exec_kv_plan (t, state->backend, state->kv_dtype, state->max_seqs,
                                                  state->step_tokens, budget, state->kv_cache_mb == 0);
    size_t n_blocks = plan.n_blocks, n_local_blocks = plan.n_local_blocks;
    state->kv_bytes = plan.bytes;
    state->cache = xinf_kv_cache_new_windowed (t, state->backend, state->kv_dtype, n_blocks, n_local_blocks,
                                               XINF_BLOCK_TOKENS, state->step_tokens);
    state->batch = xinf_batch_buf_new ();
    //  A follower rank computes no logits: it samples nothing
    state->sampling = xinf_exec_sampling_new (state->name, state->backend, state->rank == 0, state->max_seqs,
                                              state->max_rows, t->vocab);
    //  Host rows (the CPU's) are adjusted on the backend's threads
    if (state->sampling && !state->device.cuda)
        xinf_exec_sampling_set_pool (state->sampling, xinf_cpu_backend_pool (state->backend));
    if (!state->cache || !state->batch || !state->sampling) {
        xinf_textf (state->load_error, sizeof state->load_error, "out of memory for the KV cache (%zu blocks of %d "
                    "positions, %zu of the local layers, %llu MiB)", n_blocks, XINF_BLOCK_TOKENS, n_local_blocks,
                    (unsigned long long) (plan.bytes >> 20));
        return -1;
    }
    //  A stop request ends a long step between layers
    xinf_kv_cache_set_cancel (state->cache, &state->cancel);
    xinf_kv_cache_set_beacon (state->cache, state->beacon);
    if (xinf_kv_cache_set_graphs (state->cache, state->graphs, state->max_seqs)) {
        xinf_textf (state->load_error, sizeof state->load_error, "out of memory for the CUDA graphs' batches");
        return -1;
    }
    state->limits = xinf_transformer_limits (t, state->cache);
    state->limits.max_tokens = state->step_tokens;
    state->limits.max_out = state->max_rows;
    return 0;
}

//  Finishes a load: adopt the model, allocate the KV cache, answer.
static void
s_finish_load (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    pthread_join (state->loader, NULL);
    state->loader_running = false;
    xinf_wait_end (xinf_waits_global (), state->wait);
    state->model = state->loaded;
    state->loaded = NULL;
    if (state->model && s_start_serving (state)) {
        xinf_kv_cache_destroy (&state->cache);
        xinf_model_destroy (&state->model);
    }
    if (state->model && atomic_load (&state->group))
        s_start_group (ctx);
    if (state->model) {
        xinf_info (state->name, "loaded path=%s bytes=%llu rank=%d/%d", state->path,
                   (unsigned long long) atomic_load (&state->bytes_total), state->rank, state->n_ranks);
        s_send_loaded (ctx);
    }
    else {
        xinf_warn (state->name, "load failed path=%s reason=\"%s\"", state->path, state->load_error);
        xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "%s", state->load_error);
        xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
    }
}

//  A rank whose GROUP never came fails instead of waiting on.
static void
s_check_group_deadline (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (!state->group_wait || zclock_mono () < state->group_deadline)
        return;
    xinf_wait_end (xinf_waits_global (), state->group_wait);
    state->group_wait = 0;
    xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "rendezvous: rank %d got no GROUP "
                                            "(the other ranks' endpoints) from the supervisor within %lld ms",
                                            state->rank, (long long) state->rendezvous_ms + 5000);
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
}

static void
s_on_tick (xinf_ctx_t *ctx, void *arg)
{
    s_state_t *state = s_state (ctx);
    s_check_group_deadline (ctx);
    if (!state->loader_running)
        return;
    if (atomic_load (&state->joined) && !state->joined_reported) {
        state->joined_reported = true;
        xinf_msg_t *joined = xinf_msg_new ("JOINED");
        xinf_msg_set_corr (joined, state->load_corr);
        xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &joined);
    }
    if (atomic_load (&state->load_finished)) {
        s_finish_load (ctx);
        return;
    }
    uint64_t done = atomic_load (&state->bytes_done);
    if (done == state->reported)
        return;
    state->reported = done;
    xinf_msg_t *progress = xinf_msg_new ("LOAD_PROGRESS");
    xinf_msg_set_corr (progress, state->load_corr);
    xinf_map_put_uint (xinf_msg_body (progress), "bytes_done", done);
    xinf_map_put_uint (xinf_msg_body (progress), "bytes_total", atomic_load (&state->bytes_total));
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &progress);
}

static void
s_start_loader (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    atomic_store (&state->load_finished, false);
    //  A rank joins its group first, within the rendezvous timeout
    state->wait = xinf_wait_begin (xinf_waits_global (), state->name, "load weights", state->path,
                                   state->rendezvous_ms + XINF_LOAD_STALL_MS);
    state->loader_running = true;
    if (pthread_create (&state->loader, NULL, s_loader_main, state)) {
        state->loader_running = false;
        xinf_wait_end (xinf_waits_global (), state->wait);
        xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "cannot start the loader thread");
        xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
    }
}

//  A rank binds its collective at once and reports the port (BOUND); the
//  load starts when GROUP brings the other ranks' endpoints.
static int
s_bind_group (xinf_ctx_t *ctx, const xinf_model_msg_load_t *load, xinf_check_t *check)
{
    s_state_t *state = s_state (ctx);
    state->n_ranks = (int) load->n_ranks;
    state->rank = (int) load->rank;
    if (state->n_ranks == 1)
        return 0;
    //  What model.xml cannot say: a rank's LOAD names its group and range
    const char *group = load->group, *bind_host = load->bind_host;
    int low = (int) load->port_low, high = load->has_port_high ? (int) load->port_high : low;
    if (!group)
        xinf_check_fail (check, "field 'group' is missing (a rank of %d)", state->n_ranks);
    else
    if (high < low)
        xinf_check_fail (check, "field 'port_high' is %d, below port_low %d", high, low);
    state->rendezvous_ms = (int64_t) load->rendezvous_timeout_ms;
    state->stall_ms = (int64_t) load->stall_timeout_ms;
    int64_t stall_ms = state->stall_ms;
    if (check->failed)
        return 0;
    char error [512];
    xinf_rank_t *rank = xinf_rank_new (state->name, group, state->rank, state->n_ranks, bind_host, low, high,
                                       stall_ms, error, sizeof error);
    if (!rank) {
        xinf_check_fail (check, "rank %d of %d: cannot bind a data port in %d-%d: %s", state->rank, state->n_ranks,
                         low, high, error);
        return -1;
    }
    atomic_store (&state->group, rank);
    char what [96];
    snprintf (what, sizeof what, "rendezvous: endpoints of the %d ranks (GROUP)", state->n_ranks);
    state->group_wait = xinf_wait_begin (xinf_waits_global (), state->name, what, "supervisor",
                                         state->rendezvous_ms + 5000);
    state->group_deadline = zclock_mono () + state->rendezvous_ms + 5000;
    xinf_msg_t *bound = xinf_msg_new ("BOUND");
    xinf_msg_set_corr (bound, state->load_corr);
    xinf_map_put_uint (xinf_msg_body (bound), "data_port", (uint64_t) xinf_rank_port (rank));
    xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &bound);
    xinf_info (state->name, "rank %d of %d bound data_port=%d group=%s", state->rank, state->n_ranks,
               xinf_rank_port (rank), group);
    return 0;
}

static void
s_on_load (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_model_msg_load_t load;
    xinf_model_msg_load_decode (xinf_msg_body (msg), &load, &check);
    if (!check.failed && load.rank >= load.n_ranks)
        xinf_check_fail (&check, "field 'rank' is %llu, must be below n_ranks %llu", (unsigned long long) load.rank,
                         (unsigned long long) load.n_ranks);
    const char *path = load.path;
    int threads = (int) load.threads;
    if (!check.failed && (state->loader_running || state->model || atomic_load (&state->group)))
        xinf_check_fail (&check, "this executor already has a model");
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "LOAD: %s", check.reason);
        return;
    }
    snprintf (state->path, sizeof state->path, "%s", path);
    snprintf (state->requester, sizeof state->requester, "%s", xinf_peer_id (from));
    state->load_corr = xinf_msg_corr (msg);
    state->threads = threads;
    state->kv_cache_mb = load.kv_cache_mb;
    snprintf (state->kv_cache_dtype, sizeof state->kv_cache_dtype, "%s", load.kv_cache_dtype);
    state->max_seqs = load.max_seqs;
    state->step_tokens = load.step_tokens;
    //  A rank of a tensor-parallel replica never records graphs (its
    //  all-reduces run between kernels, never inside a capture): the same
    //  on every rank, whatever its LOAD says
    state->graphs = !load.disable_cuda_graph && load.n_ranks <= 1;
    state->max_seqs = state->max_seqs ? state->max_seqs : XINF_MAX_SEQS;
    state->step_tokens = state->step_tokens ? state->step_tokens : XINF_STEP_TOKENS;
    //  Every running sequence's decode token fits in one step
    state->step_tokens = state->step_tokens < state->max_seqs ? state->max_seqs : state->step_tokens;
    char reason [512];
    if (!check.failed && xinf_exec_device_parse (load.device, &state->device, reason, sizeof reason))
        xinf_check_fail (&check, "%s", reason);
    if (!check.failed && xinf_exec_lora_take (&state->lora, load.has_lora_paths ? load.lora_paths : NULL,
                                              state->device.cuda, reason, sizeof reason))
        xinf_check_fail (&check, "%s", reason);
    //  A scored prompt (prompt_logprobs) asks a row per token: on the CPU
    //  up to 256 (its host rows grow to them when first asked: 155 MB for
    //  Qwen's vocabulary), on a GPU 64 (its device rows are made at once)
    size_t rows = state->device.cuda ? XINF_SCORE_ROWS_GPU : XINF_SCORE_ROWS_CPU;
    state->max_rows = state->step_tokens < rows ? state->step_tokens : rows;
    state->max_rows = state->max_rows < state->max_seqs ? state->max_seqs : state->max_rows;
#if !defined (XINF_HAVE_NCCL)
    //  A GPU rank's activations live on the device: its all-reduces need
    //  NCCL (xinf_rank_setup); the ZeroMQ collective reads host memory
    if (!check.failed && state->device.cuda && load.n_ranks > 1)
        xinf_check_fail (&check, "tensor parallelism on a GPU (%s, %llu ranks) needs NCCL, and this build has none "
                         "(nccl.h or libnccl was not found when it was built)", load.device,
                         (unsigned long long) load.n_ranks);
#endif
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "LOAD: %s", check.reason);
        return;
    }
    //  No backend on that device (no driver, no such GPU, a build without CUDA), or
    //  one that holds no such KV cache: said before the weights load
    if ((!state->backend && !(state->backend = xinf_exec_device_backend (&state->device, threads, reason,
                                                                         sizeof reason)))
    ||  xinf_backend_kv_dtype (state->backend, load.kv_cache_dtype, 0, &state->kv_dtype, reason, sizeof reason)) {
        xinf_warn (state->name, "load failed: %s", reason);
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "LOAD_FAILED", "LOAD: %s", reason);
        return;
    }
    int rc = s_bind_group (ctx, &load, &check);
    if (check.failed) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), rc ? "LOAD_FAILED" : "BAD_REQUEST", "LOAD: %s", check.reason);
        return;
    }
    if (!atomic_load (&state->group))
        s_start_loader (ctx);
}

//  GROUP: every rank's endpoint; the loader joins, then loads the shard.
static void
s_on_group (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_model_msg_group_t peers;
    xinf_model_msg_group_decode (xinf_msg_body (msg), &peers, &check);
    const xinf_value_t *endpoints = peers.endpoints, *nodes = peers.nodes;
    if (!check.failed && (!group || !state->group_wait || state->loader_running || state->model))
        xinf_check_fail (&check, "GROUP: not a rank waiting for its group");
    if (!check.failed && (xinf_value_count (endpoints) != (size_t) state->n_ranks
                      ||  xinf_value_count (nodes) != (size_t) state->n_ranks))
        xinf_check_fail (&check, "GROUP needs %d endpoints and nodes", state->n_ranks);
    if (check.failed) {
        xinf_warn (state->name, "%s", check.reason);
        if (group && !state->loader_running && !state->model) {
            xinf_msg_t *error = xinf_msg_new_error (state->load_corr, "LOAD_FAILED", "%s", check.reason);
            xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &error);
        }
        return;
    }
    xinf_wait_end (xinf_waits_global (), state->group_wait);
    state->group_wait = 0;
    xinf_rank_set_peers (group, endpoints, nodes);
    s_start_loader (ctx);
}

//  The group cannot go on (a rank is gone or out of step): every later
//  step fails with the same reason.
static void
s_break_group (xinf_ctx_t *ctx, const char *reason)
{
    s_state_t *state = s_state (ctx);
    if (!*state->broken)
        xinf_warn (state->name, "tensor-parallel group failed: %s", reason);
    snprintf (state->broken, sizeof state->broken, "%s", reason);
    if (state->following) {
        zloop_poller_end (xinf_ctx_loop (ctx), &state->follower);
        state->following = false;
    }
}

//  Room for the step's hidden rows (the batch's n_hid), grown as a step
//  first asks more; NULL when out of memory or none are asked.
static float *
s_hidden_rows (s_state_t *state, const xinf_transformer_t *t)
{
    size_t n_hid = xinf_batch_buf_view (state->batch)->n_hid;
    if (n_hid == 0)
        return NULL;
    if (n_hid > state->hidden_rows) {
        float *grown = realloc (state->hidden, n_hid * t->dim * sizeof (float));
        if (!grown)
            return NULL;
        state->hidden = grown;
        state->hidden_rows = n_hid;
    }
    return state->hidden;
}

//  One batched step (its wire form in 'wire', decoded and checked into
//  state->batch); rank 0 of a group first passes it on to the other ranks.
static int
s_step (xinf_ctx_t *ctx, const void *wire, size_t bytes, bool sample, const char **code, char *error, size_t size)
{
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    *code = "BAD_REQUEST";
    if (*state->broken) {
        *code = "COLLECTIVE_FAILED";
        snprintf (error, size, "%s", state->broken);
        return -1;
    }
    //  Bad input is refused before any rank starts the step
    if (xinf_batch_buf_decode (state->batch, wire, bytes, &state->limits, error, size))
        return -1;
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    //  Rows to be sampled on the backend stay in its memory; host rows
    //  and hidden rows grow for a step that asks more than before (before
    //  any rank starts)
    size_t n_out = xinf_batch_buf_view (state->batch)->n_out;
    float *logits = xinf_exec_sampling_logits (state->sampling, sample, n_out);
    *code = "STEP_FAILED";
    if (!logits)
        return xinf_fail (error, size, "out of memory for %zu logits rows of %zu", n_out, (size_t) t->vocab);
    float *hidden = s_hidden_rows (state, t);
    if (xinf_batch_buf_view (state->batch)->n_hid && !hidden)
        return xinf_fail (error, size, "out of memory for %zu hidden rows of %zu", xinf_batch_buf_view (state->batch)->n_hid,
                          (size_t) t->dim);
    *code = group ? "COLLECTIVE_FAILED" : "STEP_FAILED";
    if (group && xinf_rank_send_step (group, wire, bytes, error, size)) {
        s_break_group (ctx, error);
        return -1;
    }
    xinf_beacon_step_begin (state->beacon);
    int rc = xinf_transformer_step_rows (t, state->cache, xinf_batch_buf_view (state->batch), logits, hidden, error,
                                         size);
    if (rc == 0 && xinf_beacon_take_failure (state->beacon))
        rc = xinf_fail (error, size, "an injected failure (XINF_FAULT_HANG fail=1)");
    xinf_beacon_step_end (state->beacon);
    if (rc && group)
        s_break_group (ctx, error);
    return rc;
}

//  Samples the step's rows into tokens (xinf_exec_sampling), marked on
//  the beacon. 0, or -1 with the reason.
static int
s_sample (s_state_t *state, char *error, size_t size)
{
    xinf_beacon_enter (state->beacon, XINF_PHASE_SAMPLE, 0, "sampling");
    int rc = xinf_exec_sampling_run (state->sampling, xinf_batch_buf_view (state->batch)->n_out, error, size);
    xinf_beacon_step_end (state->beacon);
    return rc;
}

//  The step's hidden rows as the reply's last frame (n_hid x dim floats),
//  counted in its body; nothing when it asked none.
static void
s_add_hidden (s_state_t *state, xinf_msg_t *reply)
{
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    size_t n_hid = xinf_batch_buf_view (state->batch)->n_hid;
    if (n_hid == 0)
        return;
    xinf_map_put_uint (xinf_msg_body (reply), "n_hid", n_hid);
    xinf_map_put_uint (xinf_msg_body (reply), "dim", t->dim);
    xinf_msg_add_bytes (reply, state->hidden, n_hid * t->dim * sizeof (float));
}

//  The reply to a step: TOKENS sampled (s_sample) when it asked (only
//  ids cross back, and the log-probabilities rows asked for), else
//  LOGITS, the rows asked for; either with the hidden rows asked for.
static xinf_msg_t *
s_step_reply (s_state_t *state, bool sample)
{
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    const xinf_batch_t *batch = xinf_batch_buf_view (state->batch);
    if (!sample) {
        xinf_msg_t *reply = xinf_msg_new ("LOGITS");
        xinf_map_put_uint (xinf_msg_body (reply), "n_out", batch->n_out);
        xinf_map_put_uint (xinf_msg_body (reply), "vocab", t->vocab);
        xinf_msg_add_bytes (reply, xinf_exec_sampling_host_rows (state->sampling), batch->n_out * t->vocab * sizeof (float));
        s_add_hidden (state, reply);
        return reply;
    }
    xinf_msg_t *reply = xinf_msg_new ("TOKENS");
    xinf_map_put_uint (xinf_msg_body (reply), "n_out", batch->n_out);
    xinf_msg_add_bytes (reply, xinf_exec_sampling_tokens (state->sampling), batch->n_out * sizeof (int32_t));
    const xinf_logprobs_row_t *reports = xinf_exec_sampling_reports (state->sampling);
    if (reports) {
        zframe_t *frame = zframe_new (NULL, xinf_logprobs_wire_size (reports, batch->n_out));
        xinf_logprobs_encode (reports, batch->n_out, zframe_data (frame));
        xinf_msg_add_frame (reply, &frame);
    }
    s_add_hidden (state, reply);
    return reply;
}

//  A STEP's frames after the sampling: its penalties ("PNLB") and its
//  token masks ("TMSK"), each at most once, in any order. false with the
//  reason when a frame is neither or comes twice.
static bool
s_extra_frames (xinf_msg_t *msg, zframe_t **penalties, zframe_t **masks, char *error, size_t size)
{
    *penalties = *masks = NULL;
    for (size_t index = 2; index < xinf_msg_frame_count (msg); index++) {
        zframe_t *frame = xinf_msg_frame (msg, index);
        uint32_t magic = 0;
        if (zframe_size (frame) >= 4)
            memcpy (&magic, zframe_data (frame), 4);
        zframe_t **slot = magic == XINF_PENALTIES_MAGIC ? penalties : magic == XINF_TOKEN_MASK_MAGIC ? masks : NULL;
        if (!slot || *slot) {
            snprintf (error, size, "frame %zu is %s", index, slot ? "a second of its kind"
                      : "neither penalties (\"PNLB\") nor token masks (\"TMSK\")");
            return false;
        }
        *slot = frame;
    }
    return true;
}

//  STEP: one binary frame, a batch in its wire form (xinf_batch.h),
//  optionally a second, its sampling (xinf_samples.h), and with it
//  optionally its penalties (xinf_penalties.h) and its token masks
//  (xinf_token_mask.h); answered by TOKENS (with sampling) or LOGITS
//  with the rows asked for.
static void
s_on_step_msg (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    s_state_t *state = s_state (ctx);
    if (!state->model) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "NOT_LOADED", "STEP: no model loaded (yet)");
        return;
    }
    size_t frames = xinf_msg_frame_count (msg);
    zframe_t *frame = frames >= 1 && frames <= 4 ? xinf_msg_frame (msg, 0) : NULL;
    zframe_t *samples = frames >= 2 ? xinf_msg_frame (msg, 1) : NULL;
    if (!frame || state->rank > 0) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "STEP: %s", !frame ?
                              "needs one binary frame, the batch, and optionally a second, its sampling, and "
                              "after it its penalties and its token masks" : "a follower rank runs rank 0's steps");
        return;
    }
    zframe_t *penalties, *masks;
    char reason [300];
    if (!s_extra_frames (msg, &penalties, &masks, reason, sizeof reason)) {
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "BAD_REQUEST", "STEP: %s", reason);
        return;
    }
    char error [512];
    const char *code = "BAD_REQUEST";
    int rc = samples ? xinf_exec_sampling_read (state->sampling, frame, samples, penalties, masks, error,
                                                sizeof error) : 0;
    if (rc == 0)
        rc = s_step (ctx, zframe_data (frame), zframe_size (frame), samples != NULL, &code, error, sizeof error);
    if (rc == 0 && samples) {
        code = "STEP_FAILED";
        rc = s_sample (state, error, sizeof error);
    }
    if (rc) {
        xinf_warn (state->name, "step failed code=%s reason=\"%s\"", code, error);
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), code, "STEP: %s", error);
        return;
    }
    xinf_msg_t *reply = s_step_reply (state, samples != NULL);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

//  The largest step a follower may receive: step_tokens tokens, each its
//  own sequence with the longest table, each a logits and a hidden row.
static size_t
s_step_capacity (s_state_t *state)
{
    size_t n = state->step_tokens;
    size_t table = (state->limits.context + state->limits.block_tokens - 1) / state->limits.block_tokens;
    return XINF_BATCH_HEADER + 4 * (7 * n + 1 + 2 * n * table);     //  with lora [n_seqs] and local tables
}

//  One of rank 0's steps on a follower, marked on the beacon.
static int
s_follow_step (s_state_t *state, const xinf_transformer_t *t, char *error, size_t size)
{
    xinf_beacon_step_begin (state->beacon);
    int rc = xinf_transformer_step (t, state->cache, xinf_batch_buf_view (state->batch), NULL, error, size);
    xinf_beacon_step_end (state->beacon);
    return rc;
}

//  A follower runs every step rank 0 broadcasts (no logits needed). A
//  failure is reported up once; the supervisor then ends the replica.
static int
s_on_step (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    xinf_ctx_t *ctx = (xinf_ctx_t *) arg;
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    const xinf_transformer_t *t = xinf_model_transformer (state->model);
    char error [512] = "";
    //  Steps kept while the last one ran do not wake the poller: drain them
    while (!*state->broken && xinf_rank_step_ready (group)) {
        const void *wire;
        size_t bytes;
        if (xinf_rank_recv_step (group, s_step_capacity (state), &wire, &bytes, error, sizeof error)
        ||  xinf_batch_buf_decode (state->batch, wire, bytes, &state->limits, error, sizeof error)
        ||  s_follow_step (state, t, error, sizeof error)) {
            s_break_group (ctx, error);
            xinf_msg_t *failed = xinf_msg_new_error (0, "COLLECTIVE_FAILED", "rank %d: %s", state->rank, error);
            xinf_router_send (xinf_ctx_router (ctx), s_requester (ctx), &failed);
        }
    }
    return 0;
}

//  After the load: the shard computes with the group; a follower starts
//  listening for rank 0's steps.
static void
s_start_group (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    xinf_rank_t *group = atomic_load (&state->group);
    xinf_model_set_collective (state->model, xinf_rank_collective (group));
    if (state->rank == 0)
        return;
    state->follower = (zmq_pollitem_t) { xinf_rank_socket (group), 0, ZMQ_POLLIN, 0 };
    if (zloop_poller (xinf_ctx_loop (ctx), &state->follower, s_on_step, ctx) == 0)
        state->following = true;
    else {                            //  reported as a failed load
        xinf_textf (state->load_error, sizeof state->load_error, "rank %d cannot listen for rank 0's steps", state->rank);
        xinf_model_destroy (&state->model);
    }
}

static int
s_init (xinf_ctx_t *ctx)
{
    xinf_ctx_timer (ctx, 50, 0, s_on_tick, NULL);
    return 0;
}

static void
s_fini (xinf_ctx_t *ctx)
{
    s_state_t *state = s_state (ctx);
    if (state->loader_running) {
        //  The loader checks 'cancel' at every progress step
        atomic_store (&state->cancel, true);
        pthread_join (state->loader, NULL);
        xinf_model_destroy (&state->loaded);
        xinf_wait_end (xinf_waits_global (), state->wait);
    }
    if (state->following)
        zloop_poller_end (xinf_ctx_loop (ctx), &state->follower);
    if (state->group_wait)
        xinf_wait_end (xinf_waits_global (), state->group_wait);
    xinf_kv_cache_destroy (&state->cache);
    xinf_batch_buf_destroy (&state->batch);
    xinf_exec_sampling_destroy (&state->sampling);
    free (state->hidden);
    state->hidden = NULL;
    state->hidden_rows = 0;
    xinf_model_destroy (&state->model);
    xinf_exec_lora_unload (&state->lora);
    xinf_rank_t *group = atomic_exchange (&state->group, NULL);
    xinf_rank_destroy (&group);
    xinf_backend_destroy (&state->backend);
}

static const xinf_handler_t s_handlers [] = {
    { "LOAD", s_on_load },
    { "STEP", s_on_step_msg },
    { "GROUP", s_on_group },
    { NULL, NULL }
};

xinf_executor_t *
xinf_executor_new (const char *name, const char *endpoint)
{
    xinf_executor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->state = calloc (1, sizeof (s_state_t));
    assert (self->state);
    snprintf (self->state->name, sizeof self->state->name, "%s", name);
    self->state->beacon = xinf_beacon_new ();
    assert (self->state->beacon);
    xinf_actor_spec_t spec = { self->state->name, s_handlers, s_init, s_fini, self->state, NULL, NULL };
    self->actor = xinf_actor_new (&spec);
    if (self->actor && xinf_actor_bind (self->actor, endpoint, NULL, 0) < 0)
        xinf_actor_destroy (&self->actor);
    if (!self->actor)
        xinf_executor_destroy (&self);
    return self;
}

void
xinf_executor_destroy (xinf_executor_t **self_p)
{
    if (self_p && *self_p) {
        xinf_executor_t *self = *self_p;
        //  The state shared with the thread is freed only once it has ended;
        //  a rank waiting in its group (a join, a collective) stops at once
        atomic_store (&self->state->cancel, true);
        xinf_beacon_release (self->state->beacon);
        xinf_rank_t *group = atomic_load (&self->state->group);
        if (group)
            xinf_rank_abort (group);
        if (xinf_actor_destroy (&self->actor)) {
            xinf_beacon_destroy (&self->state->beacon);
            free (self->state);
        }
        free (self);
        *self_p = NULL;
    }
}

xinf_beacon_t *
xinf_executor_beacon (xinf_executor_t *self)
{
    return self->state->beacon;
}
