/*  xinf_launch: how the supervisor brings a launched model's replicas up,
    and the model table's entries that it shares with xinf_models.

    A replica of one worker gets LOAD_MODEL at once. A tensor-parallel
    replica (n_worker > 1: ranks 0 .. N-1 on N distinct workers) goes
    through the steps of DESIGN.md "Distributed launch", each with a
    deadline and each failure naming its cause:

    1. address check: a rank that advertises loopback while other ranks
       are on other hosts, or that advertises another address than the one
       the supervisor observes, fails the launch with the flag to set;
    2. preflight: every rank's worker probes every other's data listener
       (xinf_mesh); any failed pair fails the launch with the matrix and the
       fix, before a byte of weights is read;
    3. rendezvous: LOAD_MODEL to every rank; each binds its collective's
       data port and reports it (state "joining"); when all have, GROUP
       gives every rank all endpoints and the ranks join with a deadline;
    4. each rank loads its shard with byte progress; the replica is ready
       when every rank is. Rank 0 takes the requests.

    A rank that fails fails the whole replica; the other ranks are
    unloaded so that they free their memory. A rank whose worker is lost
    has the replica relaunched (xinf_heal.h): xinf_launch_start_replica
    takes it through these same steps on the workers placed anew.
*/
#ifndef XINF_LAUNCH_H_INCLUDED
#define XINF_LAUNCH_H_INCLUDED

#include "xinf_mesh.h"
#include "xinf_node_msg.h"
#include "xinf_launch_options.h"
#include "xinf_states.h"

#define XINF_REPLICAS_MAX  16
#define XINF_RANKS_MAX     16
#define XINF_STEP_SLACK_MS 5000       //  a rendezvous step's deadline beyond the ranks' own

//  A replica's or rank's launch state moves only through xinf_launch_fsm:
//  an illegal move is refused and logged, naming 'uid'.
static inline void
xinf_launch_set (int *state, xinf_launch_state_t to, const char *uid)
{
    xinf_fsm_move (&xinf_launch_fsm, state, (int) to, uid);
}

//  A worker's reported state name (MODEL_STATE, checked by its decoder).
static inline void
xinf_launch_set_reported (int *state, const char *name, const char *uid)
{
    int to = xinf_fsm_parse (&xinf_launch_fsm, name);
    if (to >= 0)
        xinf_fsm_move (&xinf_launch_fsm, state, to, uid);
}

static inline const char *
xinf_launch_state_name (int state)
{
    return xinf_fsm_name (&xinf_launch_fsm, state);
}

typedef struct {
    char node [65];
    int gpu;                          //  its CUDA device on its worker (a GPU model's rank)
    int state;                        //  xinf_launch_fsm: placed, staging, fetching, ... as its worker reports
    uint64_t bytes_done, bytes_total;
    uint64_t data_port;               //  its collective's, once joining
    char error [512];
    char model [160];                 //  what it loaded: arch, shape, parameters
    bool unloading;                   //  sent UNLOAD_MODEL for a relaunch: its stopped report is due
} xinf_rank_entry_t;

typedef struct {
    char node [65];                   //  the worker that takes requests (rank 0)
    uint64_t index;
    int state;                        //  xinf_launch_fsm (for a group: its ranks' summed up)
    uint64_t bytes_done, bytes_total;
    char error [1024];
    xinf_value_t *info;               //  arch, weight_type, size, context, vocab...
    size_t n_ranks;                   //  1: a plain replica, ranks [] unused
    xinf_rank_entry_t ranks [XINF_RANKS_MAX];
    bool staged;                      //  every rank has the model file (LOAD_MODEL fetch_only answered)
    bool counted_by_worker;           //  running when its worker registered: its HELLO's free memory counts it
    bool group_sent;
    uint64_t port_session;            //  the check of the ranks' bound data ports, while it runs
    bool ports_checked;
    char lost_from [65];              //  the worker it was lost with, while it waits to be relaunched
    size_t lost_rank;                 //  the rank that worker ran (n_ranks > 1)
    uint64_t mesh_session;            //  the preflight of its relaunch, while it runs
    char note [256];                  //  how it got where it is (e.g. relaunched after a loss)
    int gpu;                          //  its CUDA device on its worker (a GPU model's)
    bool restoring;                   //  from the journal, not yet reported by its worker
    int64_t deadline;                 //  of the current rendezvous step (monotonic ms)
    uint64_t wait;                    //  the registered wait of that step
    bool has_kv;                      //  a MODEL_LOAD came since it was last ready
    uint64_t kv_blocks_used, kv_blocks_free;   //  its paged KV pool, as of that MODEL_LOAD
    bool has_spec;                    //  the MODEL_LOAD had its speculative decoding's counts
    uint64_t spec_drafts, spec_accepted;       //  drafts its steps computed, and accepted
    bool graphs_off;                  //  relaunched without CUDA graphs after its graph hung (once)
    bool graph_retry;                 //  unloading for that relaunch: its stopped report is due
} xinf_replica_entry_t;


typedef struct {
    char uid [65];
    char path [4096];
    xinf_launch_options_t options;
    xinf_replica_entry_t replicas [XINF_REPLICAS_MAX];
    size_t count;
    size_t next;                      //  round robin
    uint64_t generation;              //  unique per launch: late reports of an
                                      //  earlier launch of the same uid are ignored
    size_t n_worker;                  //  ranks per replica
    uint64_t mesh_session;            //  preflight under way, else 0
    uint64_t mesh_wait;
    xinf_value_t *preflight;          //  the preflight matrix, once known
    xinf_value_t *warnings;           //  array of str: what the user should know (split
                                      //  addresses, other builds); NULL until one
    bool adopted;                     //  rebuilt from workers' HELLOs (a supervisor restart)
    bool options_known;               //  adopted, with the launch options a worker reported
    bool pinned;                      //  launched on named workers: relaunched only there
    bool gpu;                         //  LAUNCH device gpu: each replica on a GPU of its own
    bool stopping;                    //  terminated, its workers unloading it (xinf_stopping.h)
    int64_t stopping_since;           //  monotonic ms
    char stopping_how [32];           //  "terminated"
} xinf_model_entry_t;

typedef struct _xinf_launch_t xinf_launch_t;

//  Adds a warning to the launch (logged once, listed in LAUNCH_REPLY and
//  LAUNCH_PROGRESS_REPLY); the same text twice is kept once.
void xinf_launch_warn (xinf_model_entry_t *model, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Called when a replica fails after its launch began (its requests end).
typedef void (xinf_launch_failed_fn) (xinf_ctx_t *ctx, xinf_model_entry_t *model, xinf_replica_entry_t *replica,
                                      void *arg);

//  'models' is the model table (uid -> xinf_model_entry_t), lent.
xinf_launch_t *xinf_launch_new (xinf_cluster_t *cluster, xinf_mesh_t *mesh, zhashx_t *models,
                                xinf_launch_failed_fn *failed_fn, void *arg);
void xinf_launch_destroy (xinf_launch_t **self_p);
//  The cluster table it was made with.
xinf_cluster_t *xinf_launch_cluster (xinf_launch_t *self);

//  Brings up a placed model (its replicas' nodes and ranks are set).
void xinf_launch_start (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model);
//  Brings up one tensor-parallel replica again, its ranks' nodes set (a
//  relaunch, xinf_heal.h): the address check, a preflight mesh of its
//  ranks, staging, rendezvous and load, as a launch; a failure fails the
//  replica with the cause.
void xinf_launch_start_replica (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                                xinf_replica_entry_t *replica);
//  Ends the launch steps under way for a replica (registered wait,
//  preflight, port check) and forgets its ranks' progress; its model info
//  stays (what it needs, for placement) until rank 0 reports anew.
void xinf_launch_reset_replica (xinf_launch_t *self, xinf_replica_entry_t *replica);
//  A MODEL_STATE (decoded by the caller, node.xml) for rank 'rank' of a
//  tensor-parallel replica, sent by that rank's worker.
void xinf_launch_rank_state (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                             xinf_replica_entry_t *replica, size_t rank, const xinf_node_msg_model_state_t *report);
//  Fails a replica with a reason and unloads the ranks still up.
void xinf_launch_fail_replica (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                               xinf_replica_entry_t *replica, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));
//  UNLOAD_MODEL to every worker of every replica, and no more callbacks
//  for the model (it is being terminated).
void xinf_launch_stop (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model);
//  LOAD_MODEL for a plain replica (at replica->node); -1 when that worker
//  cannot be reached.
int xinf_launch_load_replica (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                              xinf_replica_entry_t *replica);
//  Rendezvous steps whose deadline passed fail their replica.
void xinf_launch_tick (xinf_launch_t *self, xinf_ctx_t *ctx, int64_t now);
//  A rank reported in a worker's HELLO (validated by xinf_hello_decode):
//  true when adopted; a rank of a failed replica, of a launch still under
//  way, or not where the table has it is unloaded instead (false).
bool xinf_launch_adopt_rank (xinf_launch_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                             xinf_replica_entry_t *replica, const char *node,
                             const xinf_node_msg_hosted_model_t *hosted);
//  UNLOAD_MODEL for one replica on one worker, logged with 'why'.
void xinf_launch_unload (xinf_cluster_t *cluster, xinf_ctx_t *ctx, const char *node, const char *uid,
                         uint64_t replica, const char *why);

//  True when 'node' runs any rank of the replica.
bool xinf_launch_uses (const xinf_replica_entry_t *replica, const char *node);

//  The models of a table (uid -> xinf_model_entry_t) in a new array of
//  *count, NULL after the last; free () it. Taken without moving the
//  table's one cursor (zhashx_first/next; a zhashx_lookup moves it too),
//  so that code in a loop over the array may loop over the table too: a
//  loop on the cursor ends when any code it calls loops on it (a worker's
//  lost replicas of several models healed but the first). Every loop over
//  the supervisor's model table goes through it. For loops that remove no
//  model from the table.
xinf_model_entry_t **xinf_model_table_list (zhashx_t *models, size_t *count);
//  Frees an entry's owned values and registered waits.
void xinf_model_entry_free (xinf_model_entry_t **model_p);
//  Whether the model's launch options are known: launched here, restored
//  from the journal or the standby, or adopted with the options a worker
//  reported (not one rebuilt from HELLOs of workers that report none).
static inline bool
xinf_model_options_known (const xinf_model_entry_t *model)
{
    return !model->adopted || model->options_known;
}

//  Sends to the worker named 'node'; 0 or -1 when it cannot be reached.
int xinf_launch_send (xinf_cluster_t *cluster, xinf_ctx_t *ctx, const char *node, xinf_msg_t **msg_p);

#endif
