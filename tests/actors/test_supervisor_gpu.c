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
    Its ranks go only to workers whose build has NCCL (HELLO nccl): with
    none the launch is refused with NO_WORKER naming the workers that lack
    it (built without, or too old to say), while those workers still take
    a plain GPU replica and a CPU group; the cluster listing and the
    doctor's version table show each worker's NCCL.

    A replica that its worker runs without CUDA graphs although its launch
    has them on (it was relaunched without them after a graph hang, which
    no journal keeps) is adopted with graphs off: when its worker is lost
    it heals onto another with LOAD_MODEL disable_cuda_graph, while a
    replica adopted with graphs on heals with them on.
*/
#include "actor_peer.h"
#include "xinf_cluster.h"
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
//  (taken) in its HELLO, and 'nccl' of its build (unsaid: a worker of an
//  older build, which sends no nccl field).
static xinf_dealer_t *
s_gpu_worker (const char *endpoint, const char *node, xinf_value_t *models, xinf_nccl_t nccl)
{
    xinf_hello_t hello = peer_hello_fields (node, 4243, 200, 5);
    hello.data_port = 30000;
    hello.nccl_said = nccl != XINF_NCCL_UNSAID;
    hello.nccl = nccl == XINF_NCCL_BUILT;
    if (hello.nccl)
        snprintf (hello.nccl_version, sizeof hello.nccl_version, "2.28.3");
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
    xinf_dealer_t *worker = s_gpu_worker (endpoint, "g", models, XINF_NCCL_BUILT);
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
    xinf_dealer_t *g = s_gpu_worker (endpoint, "g", models, XINF_NCCL_BUILT);
    CHECK_SOON (s_listed (client, "old"), PEER_WAIT_MS);
    xinf_dealer_t *h = s_gpu_worker (endpoint, "h", NULL, XINF_NCCL_BUILT);

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

//  A LAUNCH of 'uid' on GPUs with 'n_worker' ranks a replica.
static xinf_msg_t *
s_launch_ranks (const char *uid, uint64_t n_worker)
{
    xinf_msg_t *launch = s_launch (uid);
    xinf_map_put_uint (xinf_msg_body (launch), "n_worker", n_worker);
    return launch;
}

//  The map of 'node' in a reply's array 'key' (CLUSTER_INFO_REPLY
//  workers, DOCTOR_REPLY versions); fails the test when it is not there.
static const xinf_value_t *
s_row (xinf_msg_t *reply, const char *key, const char *node)
{
    const xinf_value_t *rows = xinf_map_get (xinf_msg_body (reply), key);
    for (size_t index = 0; index < xinf_value_count (rows); index++) {
        const char *name = xinf_value_str (xinf_map_get (xinf_array_at (rows, index), "node"));
        if (name && streq (name, node))
            return xinf_array_at (rows, index);
    }
    fprintf (stderr, "no %s row for %s\n", key, node);
    CHECK (!"row");
    return NULL;
}

//  The cluster listing and the doctor's version table show whether each
//  worker's build has NCCL: its version, false, or nothing (unsaid); the
//  doctor compares NCCL among the workers with GPUs only.
static void
s_check_nccl_shown (xinf_dealer_t *client)
{
    xinf_msg_t *reply = s_ask (client, xinf_msg_new ("CLUSTER_INFO"));
    CHECK_STR (xinf_msg_type (reply), "CLUSTER_INFO_REPLY");
    CHECK (xinf_value_bool (xinf_map_get (s_row (reply, "workers", "i"), "nccl")));
    CHECK_STR (xinf_value_str (xinf_map_get (s_row (reply, "workers", "i"), "nccl_version")), "2.28.3");
    const xinf_value_t *none = xinf_map_get (s_row (reply, "workers", "g"), "nccl");
    CHECK (none && !xinf_value_bool (none));
    CHECK (!xinf_map_get (s_row (reply, "workers", "h"), "nccl"));
    CHECK_HAS (xinf_value_str (xinf_array_at (xinf_map_get (s_row (reply, "workers", "g"), "warnings"), 0)),
               "its build has no NCCL");
    xinf_msg_destroy (&reply);

    xinf_msg_t *doctor = xinf_msg_new ("DOCTOR");
    xinf_map_put_uint (xinf_msg_body (doctor), "timeout_ms", 200);
    reply = s_ask (client, doctor);
    CHECK_STR (xinf_msg_type (reply), "DOCTOR_REPLY");
    CHECK_STR (xinf_value_str (xinf_map_get (s_row (reply, "versions", "i"), "nccl")), "2.28.3");
    CHECK_STR (xinf_value_str (xinf_map_get (s_row (reply, "versions", "g"), "nccl")), "");
    CHECK_STR (xinf_value_str (xinf_map_get (s_row (reply, "versions", "h"), "nccl")), "");
    bool warned = false;
    const xinf_value_t *warnings = xinf_map_get (xinf_msg_body (reply), "warnings");
    for (size_t index = 0; index < xinf_value_count (warnings); index++)
        warned |= strstr (xinf_value_str (xinf_array_at (warnings, index)), "worker h has 2 GPU(s) but does not say "
                                                                            "whether its build has NCCL") != NULL;
    CHECK (warned);
    //  NCCL differs among the workers with GPUs; the CPU worker c is not compared
    bool mismatch = false;
    const xinf_value_t *problems = xinf_map_get (xinf_msg_body (reply), "problems");
    for (size_t index = 0; index < xinf_value_count (problems); index++) {
        const char *problem = xinf_value_str (xinf_array_at (problems, index));
        mismatch |= strstr (problem, "version mismatch: nccl") != NULL;
        CHECK (!(strstr (problem, "nccl") && strstr (problem, " on c")));
    }
    CHECK (mismatch);
    CHECK_STR (xinf_value_str (xinf_map_get (s_row (reply, "versions", "c"), "nccl")), "");
    xinf_msg_destroy (&reply);
}

//  A rank of a tensor-parallel replica on GPUs goes only to a worker whose
//  build has NCCL: with none (one built without, one too old to say) the
//  launch is refused at once with NO_WORKER naming both, while a plain
//  GPU replica and a CPU group still place on them; with one such worker
//  the second rank finds none; with two the group is placed there.
static void
test_tensor_parallel_needs_nccl (void)
{
    const char *endpoint = "inproc://test-supervisor-tp-nccl";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 200, 5);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_dealer_t *g = s_gpu_worker (endpoint, "g", NULL, XINF_NCCL_NONE);
    xinf_dealer_t *h = s_gpu_worker (endpoint, "h", NULL, XINF_NCCL_UNSAID);

    xinf_msg_t *reply = s_ask (client, s_launch_ranks ("tp-none", 2));
    peer_check_error (reply, "NO_WORKER", "NCCL");
    const char *message = xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message"));
    CHECK_HAS (message, "rank 0 of 2");
    CHECK_HAS (message, "g (built without NCCL)");
    CHECK_HAS (message, "h (an older build that does not say)");
    xinf_msg_destroy (&reply);

    //  Without tensor parallelism, or on CPUs, they serve as before
    reply = s_ask (client, s_launch_ranks ("one", 1));
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    xinf_msg_destroy (&reply);
    xinf_msg_t *cpu_group = s_launch_ranks ("cpu-tp", 2);
    xinf_map_put_str (xinf_msg_body (cpu_group), "device", "cpu");
    reply = s_ask (client, cpu_group);
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    xinf_msg_destroy (&reply);

    //  One worker with NCCL: rank 1 needs another
    xinf_dealer_t *i = s_gpu_worker (endpoint, "i", NULL, XINF_NCCL_BUILT);
    reply = s_ask (client, s_launch_ranks ("tp-one", 2));
    peer_check_error (reply, "NO_WORKER", "rank 1 of 2");
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "g (built without NCCL)");
    xinf_msg_destroy (&reply);

    //  Two: the group goes to them, a GPU each
    xinf_dealer_t *j = s_gpu_worker (endpoint, "j", NULL, XINF_NCCL_BUILT);
    reply = s_ask (client, s_launch_ranks ("tp", 2));
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    xinf_msg_destroy (&reply);
    peer_answer_probe (i, "i", "ok");
    peer_answer_probe (j, "j", "ok");
    xinf_msg_t *first = peer_expect (i, "LOAD_MODEL", NULL);
    CHECK_STR (peer_str (first, "uid"), "tp");
    s_expect_rank_device (j, "j", peer_uint (first, "rank") == 0 ? 1 : 0, "cuda:0");
    xinf_msg_destroy (&first);

    //  A CPU worker whose build has no NCCL
    xinf_hello_t hello = peer_hello_fields ("c", 4244, 200, 5);
    hello.data_port = 30000;
    hello.nccl_said = true;
    xinf_dealer_t *c = peer_register (endpoint, &hello, ++s_corr);
    s_check_nccl_shown (client);
    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&c);
    xinf_dealer_destroy (&g);
    xinf_dealer_destroy (&h);
    xinf_dealer_destroy (&i);
    xinf_dealer_destroy (&j);
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
    xinf_dealer_t *lost = s_gpu_worker (endpoint, "g", models, XINF_NCCL_BUILT);
    CHECK_SOON (s_listed (client, "retried") && s_listed (client, "graphs"), PEER_WAIT_MS);
    xinf_dealer_t *other = s_gpu_worker (endpoint, "h", NULL, XINF_NCCL_BUILT);

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
    RUN (test_tensor_parallel_needs_nccl);
    fprintf (stderr, "PASS: supervisor in-process: an adopted GPU replica holds the GPU its worker names\n");
    return 0;
}
