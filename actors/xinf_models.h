/*  xinf_models: the supervisor's models and in-flight requests.

    LAUNCH places replicas on workers (the named one, or the alive workers
    with the most available memory) and sends them LOAD_MODEL; workers
    report MODEL_STATE (load progress, ready, failed). GENERATE goes to a
    ready replica through the scheduler (xinf_scheduler: queues, routing by
    least outstanding work, deadlines, retries, cancel), which this table
    keeps informed of every replica's state, capacity and context.
    GENERATE is checked where it enters (xinf_request_check), so that
    nothing a later hop would refuse is accepted.
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
//  After xinf_models_adopt: the replicas and ranks the table runs on 'node'
//  that its HELLO's 'models' do not list are lost, healed as those of a
//  lost worker (xinf_heal.h): those the table has ready there (a worker
//  restarted at once, with the same pid and connection, lists none of the
//  old run's), and any there when the HELLO came from another run of an
//  alive worker ('restarted', xinf_cluster_restarted). One still loading
//  there is not lost for a HELLO sent again before its LOAD_MODEL arrived.
void xinf_models_worker_hosts (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_value_t *models,
                               bool restarted);
typedef struct _xinf_journal_t xinf_journal_t;
//  Launches and terminations are saved to 'journal' (lent; NULL: none).
void xinf_models_set_journal (xinf_models_t *self, xinf_journal_t *journal);
//  The launched models as the journal and a standby peer keep them
//  (xinf_restore.h; tensor-parallel ones excepted): the caller's array.
xinf_value_t *xinf_models_describe (xinf_models_t *self);
//  Models saved by an earlier run (xinf_restore.h): they wait for their
//  workers to report them; after the restart window the rest relaunch.
void xinf_models_restore (xinf_models_t *self, const xinf_value_t *saved);
//  This supervisor took over from its standby peer (xinf_bstar.h): like
//  a restart, workers re-register their models within the restart window,
//  and until then an unknown model is MODEL_NOT_READY, not UNKNOWN_MODEL.
void xinf_models_took_over (xinf_models_t *self, int64_t now);
//  'node' registered (after its models were adopted): replicas waiting
//  to be relaunched may load there (xinf_heal.h).
void xinf_models_worker_joined (xinf_models_t *self, xinf_ctx_t *ctx, const char *node);
//  Ends requests whose client deadline passed.
void xinf_models_tick (xinf_models_t *self, xinf_ctx_t *ctx, int64_t now);
//  For this long after the supervisor started, a GENERATE for a model it
//  does not know gets a retryable MODEL_NOT_READY (workers of a restarted
//  supervisor are still re-registering their models), not UNKNOWN_MODEL.
void xinf_models_set_restart_window (xinf_models_t *self, int64_t window_ms);
//  In-flight requests a re-registering worker reports (HELLO's `requests`).
void xinf_models_adopt_requests (xinf_models_t *self, xinf_ctx_t *ctx, const char *node, const xinf_value_t *requests);
//  The scheduler's counters (CLUSTER_INFO's `requests`).
xinf_value_t *xinf_models_stats (xinf_models_t *self);
//  The supervisor stops: every request in flight is answered RESTARTING.
//  True when the launch of 'uid' (that generation) names 'path' and has a
//  replica or rank on 'node': the files a worker may fetch (xinf_transfer_relay).
bool xinf_models_names_file (xinf_models_t *self, const char *uid, uint64_t generation, const char *node,
                             const char *path);
void xinf_models_stop (xinf_models_t *self, xinf_ctx_t *ctx);

#endif
