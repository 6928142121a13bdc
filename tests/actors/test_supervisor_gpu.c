/*  test_supervisor_gpu: the supervisor actor in this process placing GPU
    models (actors/xinf_placement_gpu) with a fake worker that reports two
    GPUs and, as after a supervisor restart, a GPU replica it already runs
    on cuda:1. The adopted replica holds its own GPU (the one its worker
    names in HELLO, not cuda:0), so a new GPU model goes to cuda:0, and a
    third finds no GPU, refused with NO_WORKER naming both as taken. A
    reported device that is neither cpu nor cuda:N is not adopted, logged,
    and the worker stays registered.

    A tensor-parallel GPU model gets a GPU of its own for each rank, the
    ranks on distinct workers (each rank's LOAD_MODEL names its cuda:N),
    around the GPUs other replicas hold; a second one that finds no free
    GPU for a rank is refused with NO_WORKER naming the rank.

    A replica that its worker runs without CUDA graphs although its launch
    has them on (it was relaunched without them after a graph hang, which
    no journal keeps) is adopted with graphs off: when its worker is lost
    it heals onto another with LOAD_MODEL disable_cuda_graph, while a
    replica adopted with graphs on heals with them on.
*/
#include "actor_peer.h"
#include "xinf_launch_options.h"

static uint64_t s_corr = 7000;

static xinf_msg_t *
s_ask (xinf_dealer_t *dealer, xinf_msg_t *request)
{
    return peer_ask (dealer, &request, ++s_corr);
}

static xinf_value_t *
s_gpu (uint64_t index)
{
    xinf_value_t *gpu = xinf_value_new_map ();
    xinf_map_put_str (gpu, "kind", "gpu");
    xinf_map_put_uint (gpu, "index", index);
    xinf_map_put_str (gpu, "name", "fake H200");
    xinf_map_put_uint (gpu, "memory_bytes", 140ull << 30);
    xinf_map_put_uint (gpu, "memory_free_bytes", 139ull << 30);
    xinf_map_put_str (gpu, "compute_capability", "9.0");
    return gpu;
}

//  A replica a worker reports in HELLO: ready on 'device'.
static xinf_value_t *
s_hosted (const char *uid, const char *device)
{
    xinf_value_t *model = xinf_value_new_map ();
    xinf_map_put_str (model, "uid", uid);
    xinf_map_put_uint (model, "replica", 0);
    xinf_map_put_str (model, "state", "ready");
    xinf_map_put_str (model, "path", "/models/old.gguf");
    xinf_map_put_uint (model, "generation", 77);
    xinf_map_put_str (model, "device", device);
    xinf_value_t *info = xinf_value_new_map ();
    xinf_map_put_str (info, "arch", "llama");
    xinf_map_put_uint (info, "size_bytes", 1ull << 30);
    xinf_map_put_uint (info, "max_seqs", 4);
    xinf_map_put (model, "info", info);
    return model;
}

//  s_hosted with the launch options a worker keeps (graphs on) and, in
//  its info, whether it runs CUDA graphs.
static xinf_value_t *
s_hosted_graphs (const char *uid, const char *device, bool cuda_graphs)
{
    xinf_value_t *model = s_hosted (uid, device);
    xinf_map_put_bool (xinf_map_get (model, "info"), "cuda_graphs", cuda_graphs);
    xinf_launch_options_t options = { .threads = 1, .probe_timeout_ms = 1000, .rendezvous_timeout_ms = 10000,
                                      .stall_timeout_ms = 60000, .max_seqs = 4, .max_queued = 64 };
    xinf_map_put (model, "launch", xinf_launch_options_map (&options, false));
    return model;
}

//  A worker with two GPUs and a probe listener, reporting 'models'
//  (taken) in its HELLO.
static xinf_dealer_t *
s_gpu_worker (const char *endpoint, const char *node, xinf_value_t *models)
{
    xinf_hello_t hello = peer_hello_fields (node, 4243, 200, 5);
    hello.data_port = 30000;
    xinf_array_push (hello.devices, s_gpu (0));
    xinf_array_push (hello.devices, s_gpu (1));
    for (size_t index = 0; models && index < xinf_value_count (models); index++)
        xinf_array_push (hello.models, xinf_value_dup (xinf_array_at (models, index)));
    xinf_value_destroy (&models);
    return peer_register (endpoint, &hello, ++s_corr);
}

static xinf_msg_t *
s_launch (const char *uid)
{
    xinf_msg_t *launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", uid);
    xinf_map_put_str (xinf_msg_body (launch), "path", "/models/new.gguf");
    xinf_map_put_str (xinf_msg_body (launch), "device", "gpu");
    return launch;
}

static bool
s_listed (xinf_dealer_t *client, const char *uid)
{
    xinf_msg_t *reply = s_ask (client, xinf_msg_new ("LIST_MODELS"));
    CHECK_STR (xinf_msg_type (reply), "LIST_MODELS_REPLY");
    const xinf_value_t *models = xinf_map_get (xinf_msg_body (reply), "models");
    bool found = false;
    for (size_t index = 0; index < xinf_value_count (models); index++)
        found |= streq (xinf_value_str (xinf_map_get (xinf_array_at (models, index), "uid")), uid);
    xinf_msg_destroy (&reply);
    return found;
}

static void
test_adopted_gpu (void)
{
    const char *endpoint = "inproc://test-supervisor-gpu";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 200, 5);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");

    //  A worker with two GPUs, already running "old" on cuda:1, and a
    //  replica on a device no worker can have
    xinf_value_t *models = xinf_value_new_array ();
    xinf_array_push (models, s_hosted ("old", "cuda:1"));
    xinf_array_push (models, s_hosted ("odd", "tpu:0"));
    xinf_dealer_t *worker = s_gpu_worker (endpoint, "g", models);
    CHECK_SOON (s_listed (client, "old"), PEER_WAIT_MS);
    CHECK (!s_listed (client, "odd"));

    //  A new GPU model: the GPU the adopted replica does not hold
    xinf_msg_t *reply = s_ask (client, s_launch ("new"));
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    xinf_msg_destroy (&reply);
    xinf_msg_t *load = peer_expect (worker, "LOAD_MODEL", NULL);
    CHECK_STR (peer_str (load, "uid"), "new");
    CHECK_STR (peer_str (load, "device"), "cuda:0");
    xinf_msg_destroy (&load);

    //  A third: both GPUs are taken
    reply = s_ask (client, s_launch ("third"));
    peer_check_error (reply, "NO_WORKER", "cuda:1");
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "taken");
    xinf_msg_destroy (&reply);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&worker);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

//  The device of the fetch_only LOAD_MODEL a rank's worker gets once it
//  answered the preflight.
static void
s_expect_rank_device (xinf_dealer_t *worker, const char *node, uint64_t rank, const char *device)
{
    xinf_msg_t *load = peer_expect (worker, "LOAD_MODEL", NULL);
    CHECK (load);
    CHECK_STR (peer_str (load, "uid"), "tp");
    CHECK_INT (peer_uint (load, "rank"), rank);
    CHECK_INT (peer_uint (load, "n_ranks"), 2);
    CHECK_STR (peer_str (load, "device"), device);
    xinf_msg_destroy (&load);
    (void) node;
}

static void
test_tensor_parallel_gpus (void)
{
    const char *endpoint = "inproc://test-supervisor-tp-gpus";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 200, 5);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    //  g runs "old" on cuda:0; h runs nothing
    xinf_value_t *models = xinf_value_new_array ();
    xinf_array_push (models, s_hosted_graphs ("old", "cuda:0", true));
    xinf_dealer_t *g = s_gpu_worker (endpoint, "g", models);
    CHECK_SOON (s_listed (client, "old"), PEER_WAIT_MS);
    xinf_dealer_t *h = s_gpu_worker (endpoint, "h", NULL);

    //  Two ranks, a GPU each on distinct workers: g's free one is cuda:1
    xinf_msg_t *launch = s_launch ("tp");
    xinf_map_put_uint (xinf_msg_body (launch), "n_worker", 2);
    xinf_msg_t *reply = s_ask (client, launch);
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    xinf_msg_destroy (&reply);
    peer_answer_probe (g, "g", "ok");
    peer_answer_probe (h, "h", "ok");
    xinf_msg_t *first = peer_expect (g, "LOAD_MODEL", NULL);
    bool g_first = peer_uint (first, "rank") == 0;
    CHECK_STR (peer_str (first, "device"), "cuda:1");
    CHECK_INT (peer_uint (first, "n_ranks"), 2);
    xinf_msg_destroy (&first);
    s_expect_rank_device (h, "h", g_first ? 1 : 0, "cuda:0");

    //  Another: h's cuda:1 is the one GPU left, and a rank needs a worker of its own
    launch = s_launch ("tp2");
    xinf_map_put_uint (xinf_msg_body (launch), "n_worker", 2);
    reply = s_ask (client, launch);
    peer_check_error (reply, "NO_WORKER", "rank 1 of 2");
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "g cuda:1");
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "(taken)");
    xinf_msg_destroy (&reply);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&g);
    xinf_dealer_destroy (&h);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

static void
test_adopted_without_graphs (void)
{
    const char *endpoint = "inproc://test-supervisor-graphs";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 200, 5);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_value_t *models = xinf_value_new_array ();
    xinf_array_push (models, s_hosted_graphs ("retried", "cuda:0", false));
    xinf_array_push (models, s_hosted_graphs ("graphs", "cuda:1", true));
    xinf_dealer_t *lost = s_gpu_worker (endpoint, "g", models);
    CHECK_SOON (s_listed (client, "retried") && s_listed (client, "graphs"), PEER_WAIT_MS);
    xinf_dealer_t *other = s_gpu_worker (endpoint, "h", NULL);

    //  g goes silent: both replicas heal onto h
    peer_keepalive_stop (lost);
    bool retried_seen = false, graphs_seen = false;
    for (int loads = 0; loads < 2; loads++) {
        xinf_msg_t *load = peer_expect (other, "LOAD_MODEL", NULL);
        CHECK (load);
        const char *uid = peer_str (load, "uid");
        bool off = xinf_value_bool (xinf_map_get (xinf_msg_body (load), "disable_cuda_graph"));
        if (streq (uid, "retried")) {
            CHECK (off);
            retried_seen = true;
        }
        else {
            CHECK_STR (uid, "graphs");
            CHECK (!off);
            graphs_seen = true;
        }
        xinf_msg_destroy (&load);
    }
    CHECK (retried_seen && graphs_seen);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&lost);
    xinf_dealer_destroy (&other);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

int
main (int argc, char *argv [])
{
    (void) argc;
    (void) argv;
    xinf_log_set_level (getenv ("TEST_LOG") ? XINF_LOG_INFO : XINF_LOG_ERROR);
    RUN (test_adopted_gpu);
    RUN (test_adopted_without_graphs);
    RUN (test_tensor_parallel_gpus);
    fprintf (stderr, "PASS: supervisor in-process: an adopted GPU replica holds the GPU its worker names\n");
    return 0;
}
