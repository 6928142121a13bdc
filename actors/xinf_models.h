/*  xinf_models: the supervisor's models and in-flight requests.

    LAUNCH places replicas on workers (the named one, or the alive workers
    with the most available memory) and sends them LOAD_MODEL; workers
    report MODEL_STATE (load progress, ready, failed). GENERATE goes to a
    ready replica (round robin) as RUN with a request id; the worker's
    RUN_TOKEN / RUN_DONE / RUN_FAILED become GENERATE_TOKEN / GENERATE_REPLY
    / ERROR for the client. Every request is in a table with its worker and
    deadline, so that a lost worker or a passed deadline always ends it with
    an answer: nothing is dropped silently.
*/
#ifndef XINF_MODELS_H_INCLUDED
#define XINF_MODELS_H_INCLUDED

#include "xinf_mesh.h"

typedef struct _xinf_models_t xinf_models_t;

xinf_models_t *xinf_models_new (xinf_cluster_t *cluster, xinf_mesh_t *mesh);
void xinf_models_destroy (xinf_models_t **self_p);

//  Handles a client or worker message of the model protocol; false when
//  the type is not one of them.
bool xinf_models_handle (xinf_models_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);

//  A worker was declared lost: its replicas fail, its requests get
//  ERROR WORKER_LOST.
void xinf_models_worker_lost (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const char *reason);
//  A worker (re)registered reporting the replicas it runs (as validated by
//  xinf_hello_decode): adopt them.
//  Replicas of an earlier launch, and ranks of a failed or still launching
//  tensor-parallel replica, are unloaded instead.
void xinf_models_adopt (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_value_t *models);
//  Ends requests whose client deadline passed.
void xinf_models_tick (xinf_models_t *self, xinf_ctx_t *ctx, int64_t now);

#endif
