/*  test_placement: where launched replicas go (actors/xinf_placement),
    with a cluster table of registered workers and a model table: the most
    free memory first, on distinct workers while there are enough, the
    replicas already placed (their weights and KV budget) counted, and a
    replica that fits nowhere refused with its need and the free memory;
    a tensor-parallel group that lost a rank's worker placed again (its
    survivors allowed, the lost worker not while it is lost); on GPUs,
    only on workers whose build has NCCL.  */
#include "test_unit.h"
#include "xinf_placement.h"
#include "xinf_placement_gpu.h"

#define GIB  (1024ULL * 1024ULL * 1024ULL)

static void
s_register (xinf_cluster_t *cluster, const char *node, uint64_t available, const char *peer)
{
    xinf_hello_t hello;
    memset (&hello, 0, sizeof hello);
    snprintf (hello.node, sizeof hello.node, "%s", node);
    snprintf (hello.host_ip, sizeof hello.host_ip, "127.0.0.1");
    snprintf (hello.host_ip_source, sizeof hello.host_ip_source, "flag");
    hello.data_port_low = 29500;
    hello.data_port_high = 29599;
    hello.pid = 1;
    hello.cpus = 4;
    hello.memory_bytes = 2 * available;
    hello.memory_available_bytes = available;
    hello.devices = xinf_value_new_array ();
    hello.models = xinf_value_new_array ();
    hello.heartbeat_ms = 100;
    hello.liveness = 3;
    xinf_welcome_t welcome;
    char code [32], reason [512];
    CHECK_INT (xinf_cluster_hello (cluster, &hello, peer, "127.0.0.1", 0, &welcome, code, sizeof code, reason,
                                   sizeof reason), 0);
    xinf_welcome_clear (&welcome);
    xinf_hello_clear (&hello);
}

//  A worker with one GPU (16 GiB free) whose build has NCCL or not, or
//  does not say (XINF_NCCL_UNSAID: an older worker).
static void
s_register_gpu (xinf_cluster_t *cluster, const char *node, const char *peer, xinf_nccl_t nccl)
{
    xinf_hello_t hello;
    memset (&hello, 0, sizeof hello);
    snprintf (hello.node, sizeof hello.node, "%s", node);
    snprintf (hello.host_ip, sizeof hello.host_ip, "127.0.0.1");
    snprintf (hello.host_ip_source, sizeof hello.host_ip_source, "flag");
    hello.pid = 1;
    hello.cpus = 4;
    hello.memory_bytes = hello.memory_available_bytes = 32 * GIB;
    hello.devices = xinf_value_new_array ();
    xinf_value_t *gpu = xinf_value_new_map ();
    xinf_map_put_str (gpu, "kind", "gpu");
    xinf_map_put_uint (gpu, "index", 0);
    xinf_map_put_str (gpu, "name", "fake GPU");
    xinf_map_put_uint (gpu, "memory_bytes", 16 * GIB);
    xinf_array_push (hello.devices, gpu);
    hello.models = xinf_value_new_array ();
    hello.heartbeat_ms = 100;
    hello.liveness = 3;
    hello.nccl_said = nccl != XINF_NCCL_UNSAID;
    hello.nccl = nccl == XINF_NCCL_BUILT;
    xinf_welcome_t welcome;
    char code [32], reason [512];
    CHECK_INT (xinf_cluster_hello (cluster, &hello, peer, "127.0.0.1", 0, &welcome, code, sizeof code, reason,
                                   sizeof reason), 0);
    CHECK_INT (xinf_cluster_nccl (cluster, node), nccl);
    xinf_welcome_clear (&welcome);
    xinf_hello_clear (&hello);
}

static void
s_model_free (void **item)
{
    xinf_model_entry_free ((xinf_model_entry_t **) item);
}

static xinf_model_entry_t *
s_model (const char *uid, const char *path, uint64_t kv_cache_mb)
{
    xinf_model_entry_t *model = calloc (1, sizeof *model);
    snprintf (model->uid, sizeof model->uid, "%s", uid);
    snprintf (model->path, sizeof model->path, "%s", path);
    model->n_worker = 1;
    model->options.kv_cache_mb = kv_cache_mb;
    return model;
}

static void
test_placement (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    s_register (cluster, "big", 10 * GIB, "p1");
    s_register (cluster, "small", 4 * GIB, "p2");
    zhashx_t *models = zhashx_new ();
    zhashx_set_destructor (models, s_model_free);
    char reason [256] = "";

    //  A file nobody loaded yet: its size is unknown, placed by free memory
    xinf_model_entry_t *first = s_model ("a", "/m.gguf", 0);
    CHECK_INT (xinf_placement_need (models, first), 0);
    CHECK_INT (xinf_placement_place (cluster, models, first, NULL, 1, reason, sizeof reason), 0);
    CHECK_STR (first->replicas [0].node, "big");
    first->replicas [0].state = XINF_LAUNCH_READY;
    first->replicas [0].info = xinf_value_new_map ();
    xinf_map_put_uint (first->replicas [0].info, "size_bytes", 3 * GIB);
    xinf_map_put_uint (first->replicas [0].info, "kv_bytes", 1 * GIB);
    zhashx_insert (models, "a", first);
    CHECK_INT (xinf_placement_committed (models, "big"), 4 * GIB);

    //  Now its weights are known: 3 GiB + 512 MiB of KV per replica.
    //  big has 6 GiB free, small 4: distinct workers first, then the roomiest
    xinf_model_entry_t *second = s_model ("b", "/m.gguf", 512);
    CHECK_INT (xinf_placement_need (models, second), 3 * GIB + GIB / 2);
    CHECK_INT (xinf_placement_place (cluster, models, second, NULL, 2, reason, sizeof reason), 0);
    CHECK_STR (second->replicas [0].node, "big");
    CHECK_STR (second->replicas [1].node, "small");
    xinf_model_entry_free (&second);

    //  A third replica fits neither once two are placed: refused, named
    xinf_model_entry_t *third = s_model ("c", "/m.gguf", 512);
    CHECK_INT (xinf_placement_place (cluster, models, third, NULL, 3, reason, sizeof reason), -1);
    CHECK_HAS (reason, "needs 3584 MiB");
    CHECK_HAS (reason, "most free memory");
    xinf_model_entry_free (&third);

    //  Models on one worker all count, those still loading (no size of
    //  their own yet: the file's, looked up over the model table while
    //  the sum loops over it) among them
    const char *uids [] = { "d", "e", "f" };
    for (size_t index = 0; index < 3; index++) {
        xinf_model_entry_t *loading = s_model (uids [index], "/m.gguf", 1024);
        loading->count = 1;
        snprintf (loading->replicas [0].node, sizeof loading->replicas [0].node, "big");
        loading->replicas [0].n_ranks = 1;
        loading->replicas [0].state = XINF_LAUNCH_LOADING;
        zhashx_insert (models, uids [index], loading);
    }
    CHECK_INT (xinf_placement_committed (models, "big"), 4 * GIB + 3 * (3 * GIB + 1 * GIB));
    for (size_t index = 0; index < 3; index++)
        zhashx_delete (models, uids [index]);

    //  A failed replica holds nothing
    first->replicas [0].state = XINF_LAUNCH_FAILED;
    CHECK_INT (xinf_placement_committed (models, "big"), 0);

    zhashx_destroy (&models);
    xinf_cluster_destroy (&cluster);
}

//  A tensor-parallel replica (2 ranks) whose rank's worker is lost: while
//  it waits it holds nothing; the group goes to the alive workers with
//  room, its survivor among them, never the lost one, preferring workers
//  without another replica; too few workers: refused, named.
static void
test_placement_group (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    s_register (cluster, "a", 9 * GIB, "pa");
    s_register (cluster, "b", 8 * GIB, "pb");
    s_register (cluster, "c", 7 * GIB, "pc");
    s_register (cluster, "d", 2 * GIB, "pd");
    zhashx_t *models = zhashx_new ();
    zhashx_set_destructor (models, s_model_free);
    char reason [256] = "", nodes [XINF_RANKS_MAX][65];

    //  Two replicas of 2 ranks; the file's size unknown yet: 1 GiB of KV a rank
    xinf_model_entry_t *model = s_model ("tp", "/tp.gguf", 1024);
    model->n_worker = 2;
    CHECK_INT (xinf_placement_place (cluster, models, model, NULL, 2, reason, sizeof reason), 0);
    CHECK_STR (model->replicas [0].ranks [0].node, "a");
    CHECK_STR (model->replicas [0].ranks [1].node, "b");
    CHECK_STR (model->replicas [1].ranks [0].node, "c");
    CHECK_STR (model->replicas [1].ranks [1].node, "d");
    //  Loaded: 4 GiB of weights, 2 a rank, + 1 GiB of KV
    for (size_t index = 0; index < 2; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        replica->state = XINF_LAUNCH_READY;
        replica->info = xinf_value_new_map ();
        xinf_map_put_uint (replica->info, "size_bytes", 4 * GIB);
        xinf_map_put_uint (replica->info, "kv_bytes", 1 * GIB);
    }
    zhashx_insert (models, "tp", model);
    CHECK_INT (xinf_placement_committed (models, "a"), 3 * GIB);

    //  b leaves: replica 0 waits to be relaunched, holding nothing on a
    xinf_cluster_bye (cluster, "pb", 1);
    xinf_replica_entry_t *replica = &model->replicas [0];
    replica->state = XINF_LAUNCH_RELAUNCHING;
    snprintf (replica->lost_from, sizeof replica->lost_from, "b");
    CHECK_INT (xinf_placement_committed (models, "a"), 0);
    //  a (its survivor, 9 GiB free) and c (4 GiB free, with a rank of
    //  replica 1): d has too little (2 GiB less its rank's 3), b is gone
    CHECK_INT (xinf_placement_group (cluster, models, model, 0, nodes, NULL, reason, sizeof reason), 0);
    CHECK_STR (nodes [0], "a");
    CHECK_STR (nodes [1], "c");

    //  c and d leave too: one worker for two ranks
    xinf_cluster_bye (cluster, "pd", 2);
    xinf_cluster_bye (cluster, "pc", 3);
    CHECK_INT (xinf_placement_group (cluster, models, model, 0, nodes, NULL, reason, sizeof reason), -1);
    CHECK_HAS (reason, "2 ranks need 2 distinct alive workers; only 1 found");
    //  The lost worker registers again: a worker like any other
    s_register (cluster, "b", 8 * GIB, "pb2");
    CHECK_INT (xinf_placement_group (cluster, models, model, 0, nodes, NULL, reason, sizeof reason), 0);
    CHECK_STR (nodes [0], "a");
    CHECK_STR (nodes [1], "b");
    zhashx_destroy (&models);
    xinf_cluster_destroy (&cluster);
}

//  A tensor-parallel GPU group placed again (after a lost rank) goes only
//  to workers whose build has NCCL, a GPU each; without two of them it is
//  refused naming the workers that lack NCCL. A plain GPU replica goes
//  to any GPU.
static void
test_placement_gpu_nccl (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    s_register_gpu (cluster, "none", "p1", XINF_NCCL_NONE);
    s_register_gpu (cluster, "old", "p2", XINF_NCCL_UNSAID);
    s_register_gpu (cluster, "with", "p3", XINF_NCCL_BUILT);
    zhashx_t *models = zhashx_new ();
    zhashx_set_destructor (models, s_model_free);
    char reason [1024] = "", nodes [XINF_RANKS_MAX][65];
    int gpus [XINF_RANKS_MAX] = { 0 };
    xinf_model_entry_t *model = s_model ("tp", "/tp.gguf", 1024);
    model->gpu = true;
    model->n_worker = 2;
    model->count = 1;
    xinf_replica_entry_t *replica = &model->replicas [0];
    replica->n_ranks = 2;
    replica->state = XINF_LAUNCH_RELAUNCHING;
    snprintf (replica->lost_from, sizeof replica->lost_from, "gone");
    zhashx_insert (models, "tp", model);
    CHECK_INT (xinf_placement_group (cluster, models, model, 0, nodes, gpus, reason, sizeof reason), -1);
    CHECK_HAS (reason, "rank 1 of 2");
    CHECK_HAS (reason, "on a worker whose build has NCCL");
    CHECK_HAS (reason, "none (built without NCCL)");
    CHECK_HAS (reason, "old (an older build that does not say)");
    s_register_gpu (cluster, "also", "p4", XINF_NCCL_BUILT);
    CHECK_INT (xinf_placement_group (cluster, models, model, 0, nodes, gpus, reason, sizeof reason), 0);
    CHECK (streq (nodes [0], "with") || streq (nodes [0], "also"));
    CHECK (streq (nodes [1], "with") || streq (nodes [1], "also"));
    CHECK (!streq (nodes [0], nodes [1]));

    //  One rank a replica: NCCL is not needed
    xinf_model_entry_t *plain = s_model ("plain", "/plain.gguf", 1024);
    plain->gpu = true;
    zlist_t *avoid = zlist_new ();
    zlist_append (avoid, "with");
    zlist_append (avoid, "also");
    zlist_append (avoid, "old");
    char node [65];
    int gpu = -1;
    CHECK_INT (xinf_placement_gpu (cluster, models, plain, 0, 0, avoid, node, sizeof node, &gpu, reason,
                                   sizeof reason), 0);
    CHECK_STR (node, "none");
    CHECK_INT (gpu, 0);
    zlist_destroy (&avoid);
    xinf_model_entry_free (&plain);
    zhashx_destroy (&models);
    xinf_cluster_destroy (&cluster);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_placement);
    RUN (test_placement_group);
    RUN (test_placement_gpu_nccl);
    return 0;
}
