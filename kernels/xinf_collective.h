/*  xinf_collective: the collective operations that tensor-parallel ranks
    of one model replica use between them, behind one interface that every
    backend fills: the CPU mesh over ZeroMQ (collective/xinf_coll_zmq.h)
    now, NCCL on GPUs later.

    A group has 'size' ranks, numbered 0 .. size-1. Every rank calls the
    same operations in the same order (the forward pass is the same program
    on all ranks). Results are bit-identical on every rank: an all-reduce
    sums the ranks' contributions in rank order 0, 1, .. size-1 everywhere.

    No operation waits forever: each has the group's stall deadline (no
    progress from a peer for that long fails the call with an error naming
    the peer: rank, node and endpoint), and abort (from any thread) makes
    waiting and later calls fail at once. A failed group is not usable
    again: the owner destroys it.

        xinf_collective_all_reduce_sum (group, partial, dim, error, sizeof error);
*/
#ifndef XINF_COLLECTIVE_H_INCLUDED
#define XINF_COLLECTIVE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _xinf_collective_t xinf_collective_t;

//  The operations a backend provides. Each returns 0, or -1 with a reason
//  in 'error' (e.g. "rank 1 (node w2, tcp://10.0.0.3:29500): no data for
//  60000 ms").
typedef struct {
    //  data [count] = the sum over ranks of every rank's data [count].
    int (*all_reduce_sum) (xinf_collective_t *self, float *data, size_t count,
                           char *error, size_t error_size);
    //  The root's 'bytes' bytes reach every rank. On the root, *bytes is the
    //  size to send; elsewhere 'data' has room for 'capacity' bytes and
    //  *bytes becomes the size received (a larger message is an error).
    int (*broadcast) (xinf_collective_t *self, void *data, size_t *bytes, size_t capacity,
                      int root, char *error, size_t error_size);
    //  True when a broadcast from 'root' has arrived and the next
    //  broadcast call would not wait (followers use it to run steps).
    bool (*ready) (xinf_collective_t *self, int root);
    //  Thread-safe: waiting and later calls fail with "aborted".
    void (*abort) (xinf_collective_t *self);
    void (*destroy) (xinf_collective_t *self);
} xinf_collective_ops_t;

//  Every backend's object starts with this.
struct _xinf_collective_t {
    const xinf_collective_ops_t *ops;
    int rank, size;
};

//  The caller's wait registry and log, for a backend (kernels/ does not
//  know the runtime). Waits longer than a moment are registered through
//  begin/progress/end; rejected input (garbage on a data port, a peer of
//  the wrong group) is reported through log. Any of them may be NULL.
typedef struct {
    uint64_t (*wait_begin) (void *arg, const char *what, const char *peer, int64_t stall_ms);
    void (*wait_progress) (void *arg, uint64_t handle, uint64_t progress);
    void (*wait_end) (void *arg, uint64_t handle);
    void (*log) (void *arg, const char *text);
    void *arg;
    //  Secures a libzmq socket before use: 'endpoint' NULL for the
    //  listening ROUTER (before bind), else a DEALER about to dial it.
    //  Non-zero (reason set) refuses that socket: the group fails.
    int (*secure) (void *arg, void *socket, const char *endpoint, char *reason, size_t reason_size);
} xinf_collective_hooks_t;

static inline int
xinf_collective_all_reduce_sum (xinf_collective_t *self, float *data, size_t count, char *error, size_t error_size)
{
    return self->ops->all_reduce_sum (self, data, count, error, error_size);
}

static inline int
xinf_collective_broadcast (xinf_collective_t *self, void *data, size_t *bytes, size_t capacity, int root,
                           char *error, size_t error_size)
{
    return self->ops->broadcast (self, data, bytes, capacity, root, error, error_size);
}

static inline bool
xinf_collective_ready (xinf_collective_t *self, int root)
{
    return self->ops->ready (self, root);
}

static inline void
xinf_collective_abort (xinf_collective_t *self)
{
    self->ops->abort (self);
}

static inline void
xinf_collective_destroy (xinf_collective_t **self_p)
{
    if (self_p && *self_p) {
        (*self_p)->ops->destroy (*self_p);
        *self_p = NULL;
    }
}

#endif
