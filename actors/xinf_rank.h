/*  xinf_rank: an executor's membership in a tensor-parallel group: the
    CPU collective over ZeroMQ (kernels/collective) wired to this process's
    wait registry and log, the rendezvous, and the step commands rank 0
    broadcasts so that every rank runs the same forward step. A GPU rank
    sums its partial results over NCCL instead (device memory, no copy to
    the host), on the same mesh, which still carries the step commands.

    The collective binds on the worker's --data-ports range as soon as the
    rank exists; the supervisor relays every rank's endpoint (GROUP); the
    join then runs on the executor's loader thread with its deadline. After
    that the group is used by the executor's actor thread only (abort is
    the exception: any thread).

    A step command is the step's batch in its wire form (models/
    xinf_batch.h, protocols/model.md), broadcast from rank 0 unchanged.
*/
#ifndef XINF_RANK_H_INCLUDED
#define XINF_RANK_H_INCLUDED

#include "xinf.h"
#include "xinf_collective.h"

typedef struct _xinf_rank_t xinf_rank_t;

//  Binds the collective of rank 'rank' of 'size' in 'group' on the first
//  free port of [port_low, port_high] on 'host' (all addresses, "*", when
//  'host' is not one of this machine's); NULL with the reason.
xinf_rank_t *xinf_rank_new (const char *name, const char *group, int rank, int size, const char *host,
                            int port_low, int port_high, int64_t stall_ms, char *error, size_t error_size);
void xinf_rank_destroy (xinf_rank_t **self_p);
int xinf_rank_port (xinf_rank_t *self);
int xinf_rank_index (xinf_rank_t *self);

//  Keeps the group's endpoints and node names (arrays of 'size' strings,
//  validated by the caller) for the join.
void xinf_rank_set_peers (xinf_rank_t *self, const xinf_value_t *endpoints, const xinf_value_t *nodes);
//  The rendezvous (on the loader thread): 0 or -1 with the reason, which
//  names the ranks that did not join.
int xinf_rank_join (xinf_rank_t *self, int64_t timeout_ms, char *error, size_t error_size);
//  After the join (on the loader thread), every rank at the same point:
//  the ranks agree that all of them are on GPUs or all on the CPU (a
//  mixed replica fails every rank, saying so); a GPU rank ('cuda_device'
//  >= 0) then makes its NCCL communicator (every phase a registered wait
//  with the stall deadline), which the collective's all-reduces use from
//  then on. 0, or -1 with the reason (also where the build has no NCCL).
int xinf_rank_setup (xinf_rank_t *self, int cuda_device, char *error, size_t error_size);
//  Any thread: waiting and later operations fail at once.
void xinf_rank_abort (xinf_rank_t *self);

//  The collective the model's all-reduces go through: NCCL on a GPU rank
//  (after xinf_rank_setup), else the CPU mesh.
xinf_collective_t *xinf_rank_collective (xinf_rank_t *self);
//  For the follower's event loop: readable when a message may have come.
void *xinf_rank_socket (xinf_rank_t *self);

//  Rank 0: broadcasts one step ('bytes' bytes of a batch's wire form).
int xinf_rank_send_step (xinf_rank_t *self, const void *step, size_t bytes, char *error, size_t error_size);
//  Followers: true when a step command has arrived.
bool xinf_rank_step_ready (xinf_rank_t *self);
//  Followers: receives the next step (at most 'capacity' bytes): *step
//  points into the rank's buffer until the next call. The caller decodes
//  and checks it.
int xinf_rank_recv_step (xinf_rank_t *self, size_t capacity, const void **step, size_t *bytes,
                         char *error, size_t error_size);

#endif
