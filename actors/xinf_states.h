/*  xinf_states: the state machines of xinf's actors, each described once
    (xinf_fsm.h): their enums here, their names and legal moves in
    xinf_states.c, their tables printed in the specs (protocols/model.md,
    protocols/node.md, protocols/client.md) and checked there by unit_states.
*/
#ifndef XINF_STATES_H_INCLUDED
#define XINF_STATES_H_INCLUDED

#include "xinf.h"

//  A replica on its worker (MODEL_STATE's `state`): the worker fetches a
//  missing file first, then the replica actor starts.
typedef enum {
    XINF_REPLICA_FETCHING,
    XINF_REPLICA_FETCHED,
    XINF_REPLICA_STARTING,
    XINF_REPLICA_JOINING,
    XINF_REPLICA_LOADING,
    XINF_REPLICA_READY,
    XINF_REPLICA_FAILED,
    XINF_REPLICA_STOPPED,
    XINF_REPLICA_STATES
} xinf_replica_state_t;

//  A worker as the supervisor sees it (CLUSTER_INFO's `state`).
typedef enum {
    XINF_WORKER_ALIVE,
    XINF_WORKER_LOST,
    XINF_WORKER_LEFT,
    XINF_WORKER_STATES
} xinf_worker_state_t;

//  A client's request in the supervisor's scheduler.
typedef enum {
    XINF_REQUEST_QUEUED,
    XINF_REQUEST_RUNNING,
    XINF_REQUEST_ANSWERED,
    XINF_REQUEST_STATES
} xinf_request_state_t;

//  A replica (and each rank of a tensor-parallel one) as the supervisor
//  sees it through its launch: the supervisor's own steps (placed,
//  preflight, staging, relaunching, stopping) and what the workers report.
typedef enum {
    XINF_LAUNCH_PLACED,
    XINF_LAUNCH_PREFLIGHT,
    XINF_LAUNCH_STAGING,
    XINF_LAUNCH_FETCHING,
    XINF_LAUNCH_FETCHED,
    XINF_LAUNCH_STARTING,
    XINF_LAUNCH_JOINING,
    XINF_LAUNCH_LOADING,
    XINF_LAUNCH_READY,
    XINF_LAUNCH_RELAUNCHING,
    XINF_LAUNCH_STOPPING,
    XINF_LAUNCH_FAILED,
    XINF_LAUNCH_STOPPED,
    XINF_LAUNCH_STATES
} xinf_launch_state_t;

extern const xinf_fsm_t xinf_replica_fsm;
extern const xinf_fsm_t xinf_launch_fsm;
extern const xinf_fsm_t xinf_request_fsm;
extern const xinf_fsm_t xinf_worker_fsm;

#endif
