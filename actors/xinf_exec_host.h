/*  xinf_exec_host: where a replica's executor runs, on a thread of the
    worker (the default) or in a process of its own (xinf-executor, with
    xinf-node --executor process: the way a GPU executor runs, so that a
    crash or a stuck device call ends that process, not the worker).

    The replica talks to either the same way, over the endpoint this module
    gives, with the executor messages of protocols/model.md. The module
    starts and stops the executor and answers the replica's watchdog: where
    the executor's step is (its beacon, read in this process, or the
    EXECUTOR_BEAT its process sends every 250 ms from a thread that never
    computes), and, for a process, whether it still lives and beats.

    It also reads the injected hang of a test (XINF_FAULT_HANG, see
    protocols/model.md) for the replica it serves.
*/
#ifndef XINF_EXEC_HOST_H_INCLUDED
#define XINF_EXEC_HOST_H_INCLUDED

#include "xinf.h"
#include "xinf_beacon.h"

typedef struct _xinf_exec_host_t xinf_exec_host_t;

//  Starts the executor 'name' for replica 'replica' (rank 'rank') of
//  'uid': on a thread, serving 'inproc_endpoint', or as an xinf-executor
//  process serving an ipc:// endpoint in a private directory. NULL with
//  the reason.
xinf_exec_host_t *xinf_exec_host_new (const char *name, const char *uid, uint64_t rank, const char *inproc_endpoint,
                                      bool process, char *error, size_t error_size);
//  Stops the executor: its thread, or its process (SIGTERM, then SIGKILL
//  past a deadline; a registered wait).
void xinf_exec_host_destroy (xinf_exec_host_t **self_p);
//  Where the replica's dealer connects.
const char *xinf_exec_host_endpoint (xinf_exec_host_t *self);
//  The watchdog's look: 0 with where the executor's step is (times in this
//  process's monotonic ms); -1 with the reason when its process ended or
//  sent no beat for 'silence_ms'.
int xinf_exec_host_look (xinf_exec_host_t *self, int64_t silence_ms, xinf_beacon_view_t *view,
                         char *reason, size_t reason_size);

#endif
