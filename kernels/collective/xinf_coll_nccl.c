/*  xinf_coll_nccl: all-reduces of device memory through NCCL, with deadlines.  */
#include "xinf_coll_nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_QUIET_MS  10                //  shorter waits are not registered

typedef struct {
    xinf_collective_t base;           //  first: the interface's part
    xinf_collective_t *mesh;          //  the caller's: the id, the step commands
    int device;
    int64_t stall_ms;
    xinf_collective_hooks_t hooks;
    ncclComm_t comm;                  //  NULL once aborted
    cudaStream_t stream;
    atomic_bool aborted;
    atomic_bool *cancel;              //  the caller's, or NULL
    bool failed;
} s_group_t;

//  What rank 0 broadcasts: whether it has an id, and the id.
typedef struct {
    unsigned char ok;
    ncclUniqueId id;
} s_id_msg_t;

//  A wait registered once it has lasted a moment.
typedef struct {
    s_group_t *group;
    const char *what;
    int64_t start;
    uint64_t handle;
} s_wait_t;

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
s_pause (void)
{
    struct timespec pause = { 0, 50000 };
    nanosleep (&pause, NULL);
}

static void
s_wait_tick (s_wait_t *wait, int64_t now)
{
    s_group_t *group = wait->group;
    if (!wait->handle && now - wait->start >= S_QUIET_MS && group->hooks.wait_begin)
        wait->handle = group->hooks.wait_begin (group->hooks.arg, wait->what, "the other ranks (NCCL)",
                                                group->stall_ms);
}

static void
s_wait_end (s_wait_t *wait)
{
    if (wait->handle && wait->group->hooks.wait_end)
        wait->group->hooks.wait_end (wait->group->hooks.arg, wait->handle);
    wait->handle = 0;
}

//  The group fails for good: its communicator is aborted. -1.
static int
s_fail (s_group_t *self, char *error, size_t error_size, const char *format, ...)
{
    char reason [512];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    snprintf (error, error_size, "rank %d (cuda:%d): %s", self->base.rank, self->device, reason);
    self->failed = true;
    if (self->comm) {
        ncclCommAbort (self->comm);
        self->comm = NULL;
    }
    if (self->hooks.log)
        self->hooks.log (self->hooks.arg, error);
    return -1;
}

//  Checks the communicator's asynchronous state: 0 while it is fine or
//  busy (*done tells which), -1 with the reason when it failed, was
//  aborted or ran past 'deadline'.
static int
s_check (s_group_t *self, const char *phase, int64_t deadline, bool *done, char *error, size_t error_size)
{
    ncclResult_t state = ncclInProgress;
    if (ncclCommGetAsyncError (self->comm, &state) != ncclSuccess)
        return s_fail (self, error, error_size, "%s: cannot read the communicator's state", phase);
    if (state != ncclSuccess && state != ncclInProgress)
        return s_fail (self, error, error_size, "%s failed: %s (%s)", phase, ncclGetErrorString (state),
                       ncclGetLastError (self->comm));
    if (atomic_load (&self->aborted) || (self->cancel && atomic_load (self->cancel)))
        return s_fail (self, error, error_size, "%s: aborted", phase);
    if (s_now_ms () >= deadline)
        return s_fail (self, error, error_size, "%s did not finish within %lld ms: a peer is missing, stuck or "
                       "unreachable", phase, (long long) self->stall_ms);
    *done = state == ncclSuccess;
    return 0;
}

//  Polls until the communicator is no longer in progress.
static int
s_settle (s_group_t *self, const char *phase, char *error, size_t error_size)
{
    s_wait_t wait = { self, phase, s_now_ms (), 0 };
    int64_t deadline = wait.start + self->stall_ms;
    bool done = false;
    int rc = 0;
    while (rc == 0 && !done) {
        rc = s_check (self, phase, deadline, &done, error, error_size);
        s_wait_tick (&wait, s_now_ms ());
        if (rc == 0 && !done)
            s_pause ();
    }
    s_wait_end (&wait);
    return rc;
}

static int
s_all_reduce_sum (xinf_collective_t *base, float *data, size_t count, char *error, size_t error_size)
{
    s_group_t *self = (s_group_t *) base;
    if (self->failed || !self->comm)
        return s_fail (self, error, error_size, "the group failed earlier");
    cudaSetDevice (self->device);
    char phase [96];
    snprintf (phase, sizeof phase, "all-reduce of %zu floats", count);
    ncclResult_t rc = ncclAllReduce (data, data, count, ncclFloat, ncclSum, self->comm, self->stream);
    if (rc != ncclSuccess && rc != ncclInProgress)
        return s_fail (self, error, error_size, "%s: %s", phase, ncclGetErrorString (rc));
    s_wait_t wait = { self, phase, s_now_ms (), 0 };
    int64_t deadline = wait.start + self->stall_ms;
    int result = 0;
    //  A non-blocking communicator may answer ncclInProgress before the
    //  reduction is on the stream: an empty stream says nothing until then
    bool enqueued = rc == ncclSuccess;
    while (result == 0) {
        bool done;
        if (!enqueued) {
            result = s_check (self, phase, deadline, &done, error, error_size);
            enqueued = done;
            s_wait_tick (&wait, s_now_ms ());
            if (result == 0 && !enqueued)
                s_pause ();
            continue;
        }
        cudaError_t query = cudaStreamQuery (self->stream);
        if (query == cudaSuccess)
            break;
        if (query != cudaErrorNotReady)
            result = s_fail (self, error, error_size, "%s: %s", phase, cudaGetErrorString (query));
        else
            result = s_check (self, phase, deadline, &done, error, error_size);
        s_wait_tick (&wait, s_now_ms ());
        if (result == 0)
            s_pause ();
    }
    s_wait_end (&wait);
    return result;
}

static int
s_broadcast (xinf_collective_t *base, void *data, size_t *bytes, size_t capacity, int root, char *error,
             size_t error_size)
{
    s_group_t *self = (s_group_t *) base;
    return xinf_collective_broadcast (self->mesh, data, bytes, capacity, root, error, error_size);
}

static bool
s_ready (xinf_collective_t *base, int root)
{
    return xinf_collective_ready (((s_group_t *) base)->mesh, root);
}

static void
s_abort (xinf_collective_t *base)
{
    s_group_t *self = (s_group_t *) base;
    atomic_store (&self->aborted, true);
    xinf_collective_abort (self->mesh);
}

static void
s_destroy (xinf_collective_t *base)
{
    s_group_t *self = (s_group_t *) base;
    if (self->comm) {
        char error [256];
        //  A healthy group flushes; one that cannot within the deadline is aborted
        if (!self->failed && !atomic_load (&self->aborted) && ncclCommFinalize (self->comm) == ncclSuccess
        &&  s_settle (self, "finalize", error, sizeof error) == 0)
            ncclCommDestroy (self->comm);
        else
        if (self->comm)
            ncclCommAbort (self->comm);
    }
    if (self->stream)
        cudaStreamDestroy (self->stream);
    free (self);
}

static const xinf_collective_ops_t s_ops = {
    s_all_reduce_sum, s_broadcast, s_ready, s_abort, s_destroy
};

//  Rank 0 makes the id and sends it over the mesh; the others take it.
static int
s_share_id (s_group_t *self, ncclUniqueId *id, char *error, size_t error_size)
{
    s_id_msg_t message;
    memset (&message, 0, sizeof message);
    if (self->base.rank == 0) {
        ncclResult_t rc = ncclGetUniqueId (&message.id);
        message.ok = rc == ncclSuccess;
        if (!message.ok)
            snprintf (error, error_size, "rank 0 (cuda:%d): cannot make an NCCL id: %s", self->device,
                      ncclGetErrorString (rc));
    }
    size_t bytes = sizeof message;
    char reason [256];
    //  Rank 0 sends even a failure, so that no rank waits for it
    if (xinf_collective_broadcast (self->mesh, &message, &bytes, sizeof message, 0, reason, sizeof reason))
        return s_fail (self, error, error_size, "sharing the NCCL id: %s", reason);
    if (bytes != sizeof message || !message.ok)
        return s_fail (self, error, error_size, "rank 0 has no NCCL id for the group");
    *id = message.id;
    return 0;
}

static int
s_start (s_group_t *self, char *error, size_t error_size)
{
    cudaError_t cuda = cudaSetDevice (self->device);
    if (cuda == cudaSuccess)
        cuda = cudaStreamCreateWithFlags (&self->stream, cudaStreamNonBlocking);
    if (cuda != cudaSuccess) {
        self->stream = NULL;
        return s_fail (self, error, error_size, "cannot use the device: %s", cudaGetErrorString (cuda));
    }
    ncclUniqueId id;
    if (s_share_id (self, &id, error, error_size))
        return -1;
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t rc = ncclCommInitRankConfig (&self->comm, self->base.size, id, self->base.rank, &config);
    if (rc != ncclSuccess && rc != ncclInProgress) {
        self->comm = NULL;
        return s_fail (self, error, error_size, "NCCL init: %s", ncclGetErrorString (rc));
    }
    return s_settle (self, "NCCL init", error, error_size);
}

xinf_collective_t *
xinf_coll_nccl_new (xinf_collective_t *mesh, int device, int64_t stall_ms, const xinf_collective_hooks_t *hooks,
                    atomic_bool *cancel, char *error, size_t error_size)
{
    s_group_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (error, error_size, "out of memory for an NCCL group");
        return NULL;
    }
    self->cancel = cancel;
    self->base = (xinf_collective_t) { &s_ops, mesh->rank, mesh->size };
    self->mesh = mesh;
    self->device = device;
    self->stall_ms = stall_ms > 0 ? stall_ms : 60000;
    if (hooks)
        self->hooks = *hooks;
    atomic_init (&self->aborted, false);
    if (s_start (self, error, error_size)) {
        s_destroy (&self->base);
        return NULL;
    }
    return &self->base;
}

void
xinf_coll_nccl_version (char *text, size_t size)
{
    int version = 0;
    if (ncclGetVersion (&version) != ncclSuccess || version <= 0)
        snprintf (text, size, "%s", "");
    else
        snprintf (text, size, "%d.%d.%d", version / 10000, version / 100 % 100, version % 100);
}
