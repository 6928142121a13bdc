/*  xinf_coll_nccl: the GPU collective: all-reduces of device memory through
    NCCL, behind the interface of xinf_collective.h. Built only where CMake
    finds the CUDA toolkit and NCCL (XINF_HAVE_NCCL).

    It stands on a CPU mesh of the same ranks (xinf_coll_zmq, joined): the
    mesh carries the NCCL unique id from rank 0 to the others (the
    supervisor's rendezvous built the mesh, so no other port is needed)
    and keeps carrying the step commands (broadcast, ready), which are host
    bytes; NCCL carries the all-reduces of the device vectors.

    No call waits forever, as the interface says: the communicator is made
    non-blocking (ncclCommInitRankConfig with blocking = 0) and polled
    against the group's stall deadline; an all-reduce is enqueued on the
    group's own stream and polled (cudaStreamQuery, ncclCommGetAsyncError)
    against the same deadline. Past it, or on abort, the communicator is
    aborted (ncclCommAbort) and the call fails naming the rank, the device
    and the phase ("rank 1 (cuda:0): all-reduce of 4096 floats did not
    finish within 60000 ms: a peer is stuck or gone"). Waits longer than a
    moment are registered through the hooks.

    Results are identical on every rank (NCCL reduces each element once
    and copies the result), but the order of the sum is NCCL's, not rank
    order as on the CPU mesh: GPU and CPU tensor parallelism may differ in
    the last bits.

    Used by a GPU rank of a tensor-parallel replica (actors/xinf_rank.c).
    Unverified without a GPU: this session's machines have the toolkit and
    NCCL but no device; the code compiles there.
*/
#ifndef XINF_COLL_NCCL_H_INCLUDED
#define XINF_COLL_NCCL_H_INCLUDED

#include <stdatomic.h>
#include "xinf_collective.h"

//  A group over 'mesh' (joined, the caller's: it outlives the group, and
//  aborting it makes a waiting id exchange fail at once) on CUDA device
//  'device', the stall deadline 'stall_ms'. While the communicator is
//  made, a raised 'cancel' (may be NULL) ends the wait (as abort does
//  later). Every rank calls it at the same point. NULL with the reason.
xinf_collective_t *xinf_coll_nccl_new (xinf_collective_t *mesh, int device, int64_t stall_ms,
                                       const xinf_collective_hooks_t *hooks, atomic_bool *cancel, char *error,
                                       size_t error_size);

//  NCCL's version as "2.28.3", or "" when it cannot tell.
void xinf_coll_nccl_version (char *text, size_t size);

#endif
