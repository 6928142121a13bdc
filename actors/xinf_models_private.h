/*  xinf_models_private: the model table's state, shared by xinf_models.c
    (launch, requests, workers' reports) and xinf_models_restart.c (what a
    restart brings back: the journal, the standby's copy, the workers'
    HELLOs). Not for other modules.
*/
#ifndef XINF_MODELS_PRIVATE_H_INCLUDED
#define XINF_MODELS_PRIVATE_H_INCLUDED

#include "xinf_models.h"
#include "xinf_launch.h"
#include "xinf_scheduler.h"
#include "xinf_heal.h"
#include "xinf_relay.h"

struct _xinf_models_t {
    xinf_cluster_t *cluster;
    xinf_launch_t *launch;            //  brings replicas up
    xinf_heal_t *heal;                //  brings lost workers' replicas back
    xinf_journal_t *journal;          //  keeps the launched models on disk, or NULL
    bool restore_pending;             //  restored models wait for their workers
    zhashx_t *models;                 //  uid -> xinf_model_entry_t
    xinf_scheduler_t *scheduler;      //  the requests: queues, routing, answers
    xinf_ctx_t *ctx;                  //  the supervisor's, for the scheduler's sends
    uint64_t next_generation;
    uint64_t heal_moves;              //  xinf_heal_moves when the journal was last saved for them
    int64_t started;                  //  when this supervisor started (monotonic ms)
    int64_t restart_window_ms;        //  workers re-register their models within it
    zhashx_t *terminated;             //  uids terminated here: surely unknown now
    xinf_relay_t *relay;              //  TOKENIZE / DETOKENIZE waiting for a replica
};

//  Tells the scheduler where the model's replicas are and which are ready.
void xinf_models_sync (xinf_models_t *self, xinf_model_entry_t *model);
//  The launched models to the journal, if there is one.
void xinf_models_save (xinf_models_t *self);
//  The replica lost its worker 'node' (a rank's, for a tensor-parallel one)
//  for 'why': its requests end or retry (WORKER_LOST), and it heals
//  (xinf_heal.h), or fails when its launch options are not known.
void xinf_models_replica_lost (xinf_models_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                               xinf_replica_entry_t *replica, const char *node, const char *why);
//  Once the restart window passed: restored replicas no worker reported
//  are relaunched (xinf_heal.h).
void xinf_models_restart_tick (xinf_models_t *self, xinf_ctx_t *ctx, int64_t now);

#endif
