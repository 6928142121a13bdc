/*  xinf_executor: the actor that owns a device's copy of a model: the
    weights, the KV cache and the compute threads. It loads on a loader
    thread (byte progress is a registered wait: a stuck disk shows as a
    stall, a slow one does not) and runs forward steps on request
    (protocols/model.md). The CPU is a device; GPU executors answer the same
    messages.

    Messages: LOAD -> LOAD_PROGRESS* then LOADED or ERROR LOAD_FAILED;
    FORWARD (token ids in a binary frame) -> LOGITS (floats in a binary
    frame). A forward step runs on the actor thread; its length is bounded by
    one step of the model, so the actor still stops promptly.
*/
#ifndef XINF_EXECUTOR_H_INCLUDED
#define XINF_EXECUTOR_H_INCLUDED

#include "xinf.h"

typedef struct _xinf_executor_t xinf_executor_t;

//  Starts an executor bound to 'endpoint' (e.g. inproc://xinf-exec-UID-0).
xinf_executor_t *xinf_executor_new (const char *name, const char *endpoint);
void xinf_executor_destroy (xinf_executor_t **self_p);

#endif
