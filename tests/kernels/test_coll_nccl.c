/*  test_coll_nccl: the NCCL collective (kernels/collective/xinf_coll_nccl).

    refusal (runs wherever it is built, GPU or not): a group on a device
    that does not exist (cuda:999) is refused with the rank and device
    named, its mesh left to the caller (usable, then freed: ASan), the log
    hook told.
    gpu (exits 77 without a CUDA device, saying why): a group of one rank
    on device 0: the NCCL init is a registered wait, an all-reduce of a
    device vector leaves it as it is, broadcasts still go over the mesh,
    an aborted group refuses the next all-reduce, naming it.  */
#include "../test_assert.h"
#include "xinf_coll_nccl.h"
#include "xinf_coll_zmq.h"

#include <cuda_runtime.h>
#include <zmq.h>

static int s_begins, s_ends, s_logs;
static char s_last_log [512];

static uint64_t
s_begin (void *arg, const char *what, const char *peer, int64_t stall_ms)
{
    s_begins++;
    return (uint64_t) s_begins;
}

static void
s_end (void *arg, uint64_t handle)
{
    s_ends++;
}

static void
s_log (void *arg, const char *text)
{
    s_logs++;
    snprintf (s_last_log, sizeof s_last_log, "%s", text);
}

static const xinf_collective_hooks_t s_hooks = { s_begin, NULL, s_end, s_log, NULL, NULL };

//  A joined mesh of one rank.
static xinf_collective_t *
s_mesh (void *context)
{
    char error [256];
    const char *endpoints [] = { NULL };
    xinf_collective_t *mesh = xinf_coll_zmq_new (context, "nccl-test", 0, 1, "127.0.0.1", 0, 0, 2000, NULL, error,
                                                 sizeof error);
    CHECK (mesh != NULL);
    CHECK_INT (xinf_coll_zmq_join (mesh, endpoints, NULL, 2000, error, sizeof error), 0);
    return mesh;
}

static int
s_refusal (void *context)
{
    char error [512] = "";
    xinf_collective_t *mesh = s_mesh (context);
    xinf_collective_t *group = xinf_coll_nccl_new (mesh, 999, 2000, &s_hooks, NULL, error, sizeof error);
    CHECK (group == NULL);
    char word [8] = "step";
    size_t bytes = 5;
    char reason [256];
    CHECK_INT (xinf_collective_broadcast (mesh, word, &bytes, sizeof word, 0, reason, sizeof reason), 0);
    xinf_collective_destroy (&mesh);
    CHECK_HAS (error, "rank 0 (cuda:999): cannot use the device");
    CHECK (s_logs == 1 && strstr (s_last_log, "cuda:999"));
    char version [32];
    xinf_coll_nccl_version (version, sizeof version);
    CHECK (strlen (version) >= 5 && version [1] == '.');
    printf ("refused: %s (NCCL %s)\n", error, version);
    return 0;
}

static int
s_gpu (void *context)
{
    int devices = 0;
    cudaError_t rc = cudaGetDeviceCount (&devices);
    if (rc != cudaSuccess || devices < 1) {
        printf ("SKIP: no CUDA device: %s\n", rc != cudaSuccess ? cudaGetErrorString (rc) : "the driver reports none");
        return 77;
    }
    char error [512] = "";
    xinf_collective_t *mesh = s_mesh (context);
    xinf_collective_t *group = xinf_coll_nccl_new (mesh, 0, 10000, &s_hooks, NULL, error, sizeof error);
    if (!group)
        fprintf (stderr, "xinf_coll_nccl_new: %s\n", error);
    CHECK (group != NULL);
    float host [5] = { 1, 2, 3, 4, 5 }, back [5] = { 0 };
    float *device = NULL;
    CHECK_INT (cudaMalloc ((void **) &device, sizeof host), cudaSuccess);
    CHECK_INT (cudaMemcpy (device, host, sizeof host, cudaMemcpyHostToDevice), cudaSuccess);
    CHECK_INT (xinf_collective_all_reduce_sum (group, device, 5, error, sizeof error), 0);
    CHECK_INT (cudaMemcpy (back, device, sizeof back, cudaMemcpyDeviceToHost), cudaSuccess);
    CHECK (memcmp (host, back, sizeof host) == 0);
    char word [8] = "step", got [8] = "";
    size_t bytes = 5;
    CHECK_INT (xinf_collective_broadcast (group, word, &bytes, sizeof word, 0, error, sizeof error), 0);
    (void) got;
    xinf_collective_abort (group);
    CHECK_INT (xinf_collective_all_reduce_sum (group, device, 5, error, sizeof error), -1);
    CHECK_HAS (error, "rank 0 (cuda:0)");
    CHECK (s_begins == s_ends);
    xinf_collective_destroy (&group);
    xinf_collective_destroy (&mesh);
    cudaFree (device);
    printf ("one rank on cuda:0: all-reduce, broadcast, abort: OK\n");
    return 0;
}

int
main (int argc, char **argv)
{
    void *context = zmq_ctx_new ();
    int rc = argc > 1 && !strcmp (argv [1], "gpu") ? s_gpu (context) : s_refusal (context);
    zmq_ctx_term (context);
    return rc;
}
