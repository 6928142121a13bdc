/*  xinf_hosted: the model replicas a worker hosts, as seen by its agent.
    A replica whose file is not here waits (state "fetching") while
    xinf_transfer_fetch brings it from the cluster; the answers for those
    fetches (FILE_HASHING, FILE_OPENED, FILE_DATA, FILE_ERROR) come here too.

    The worker agent hands it LOAD_MODEL, UNLOAD_MODEL and RUN from the
    supervisor; it starts and stops replica actors (in this process, over
    inproc://), passes requests and GROUP (a rendezvous) on, and relays what the replicas say
    (MODEL_STATE, RUN_TOKEN, RUN_DONE, RUN_FAILED) up to the supervisor
    through the agent's current connection. It remembers each replica's last
    state, which the agent reports in HELLO after a reconnect.
*/
#ifndef XINF_HOSTED_H_INCLUDED
#define XINF_HOSTED_H_INCLUDED

#include "xinf.h"
#include "xinf_model_dirs.h"

typedef struct _xinf_hosted_t xinf_hosted_t;

//  'upstream' points at the agent's connection to the supervisor, which
//  the agent may replace when it reconnects. Ranks of tensor-parallel
//  replicas bind their collectives in [port_low, port_high] (--data-ports).
//  LOAD_MODEL loads only files under 'model_dirs' (not owned), else fails
//  with the one error of xinf_model_dirs_resolve.
xinf_hosted_t *xinf_hosted_new (const char *node, xinf_dealer_t **upstream, int port_low, int port_high,
                                xinf_model_dirs_t *model_dirs);
void xinf_hosted_destroy (xinf_hosted_t **self_p);
//  The address the ranks' collectives bind (the worker's host address;
//  all addresses when it is not one of this machine's). Default: all.
void xinf_hosted_set_bind_host (xinf_hosted_t *self, const char *host);

//  A file that LOAD_MODEL names and the model directories lack is fetched
//  from the cluster (xinf_transfer_fetch) into the first of them, unless
//  'fetch' is false (--no-fetch-models: refused as before). Default: on,
//  a fetch with no word for 'stall_ms' (default 60000) fails.
void xinf_hosted_set_fetch (xinf_hosted_t *self, bool fetch, int64_t stall_ms);

//  Replicas run their executors in processes of their own (xinf-executor)
//  when 'process' is true. Default: on a thread of this node.
void xinf_hosted_set_executor_process (xinf_hosted_t *self, bool process);

//  Handle one supervisor message of these types; false if not one of them.
bool xinf_hosted_handle (xinf_hosted_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg);

//  The replicas and their states: [{uid, replica, path, state}].
xinf_value_t *xinf_hosted_models (xinf_hosted_t *self);
//  The requests the replicas run, and those that ended less than keep_ms
//  ago, for HELLO's `requests` (xinf_inflight).
xinf_value_t *xinf_hosted_requests (xinf_hosted_t *self, int64_t now, int64_t keep_ms);
//  After a registration: the kept last words of ended runs go up again.
void xinf_hosted_resend (xinf_hosted_t *self);
//  Sends the messages up that found the supervisor link full, in order,
//  while it has room; how many went. On the agent's tick, registered.
size_t xinf_hosted_flush (xinf_hosted_t *self);
//  Forgets last words kept longer than keep_ms.
void xinf_hosted_prune (xinf_hosted_t *self, int64_t now, int64_t keep_ms);

#endif
