/*  xinf_replica: the model-replica actor on a worker: one replica of one
    model. It starts its executor (the device that holds the weights),
    follows the load, owns the replica's request queue, tokenizes, drives
    the decode loop (one FORWARD per token to the executor, sampling here)
    and streams tokens back to whoever asked (the worker agent).

    Upstream messages (protocols/model.md): MODEL_STATE on every change and
    load progress, RUN_TOKEN per token when streaming, RUN_DONE or
    RUN_FAILED once per request.
*/
#ifndef XINF_REPLICA_H_INCLUDED
#define XINF_REPLICA_H_INCLUDED

#include "xinf.h"

typedef struct _xinf_replica_t xinf_replica_t;

//  Starts the replica actor bound to 'endpoint' (inproc://...). It starts
//  loading when the worker agent sends START.
xinf_replica_t *xinf_replica_new (const char *uid, uint64_t replica, const char *endpoint);
void xinf_replica_destroy (xinf_replica_t **self_p);

#endif
