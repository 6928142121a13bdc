/*  xinf_executor: the actor that owns a device's copy of a model: the
    weights, the KV cache and the compute threads. It loads on a loader
    thread (byte progress is a registered wait: a stuck disk shows as a
    stall, a slow one does not) and runs forward steps on request
    (protocols/model.md). The CPU is a device; GPU executors answer the same
    messages.

    Messages: LOAD -> LOAD_PROGRESS* then LOADED or ERROR LOAD_FAILED;
    STEP (a batch in a binary frame) -> TOKENS or LOGITS. A forward step
    runs on the actor thread; its length is bounded by one step of the
    model, so the actor still stops promptly. Where the step is (its number,
    layer and phase) is on the executor's beacon, which the owning replica
    watches for a step that stops moving (xinf_beacon.h).
*/
#ifndef XINF_EXECUTOR_H_INCLUDED
#define XINF_EXECUTOR_H_INCLUDED

#include "xinf.h"
#include "xinf_beacon.h"

typedef struct _xinf_executor_t xinf_executor_t;

//  Starts an executor bound to 'endpoint' (e.g. inproc://xinf-exec-UID-0).
xinf_executor_t *xinf_executor_new (const char *name, const char *endpoint);
//  Releases an injected hang first, so that the executor's thread ends.
void xinf_executor_destroy (xinf_executor_t **self_p);
//  Where the executor's steps are; valid until the executor is destroyed.
xinf_beacon_t *xinf_executor_beacon (xinf_executor_t *self);

#endif
