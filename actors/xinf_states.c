/*  xinf_states: the names and legal moves of each actor's states.  */
#include "xinf_states.h"

// ---- a replica on its worker ------------------------------------------------
static const char *const s_replica_names [] = {
    "fetching", "fetched", "starting", "joining", "loading", "ready", "failed", "stopped"
};
static const char *const s_replica_why [] = {
    "the worker lacks the file: it comes from the cluster (node.md, \"Model files\"); progress in bytes",
    "the file is here (the answer to a `fetch_only` LOAD_MODEL of a tensor-parallel rank)",
    "the replica actor runs; its executor starts (a tensor-parallel rank waits for its group)",
    "a tensor-parallel rank meets the other ranks (rendezvous)",
    "the executor reads the weights; progress in bytes",
    "serves requests",
    "could not load or serve; `error` says why (terminal until unloaded)",
    "unloaded; `error` says why (terminal)"
};
#define R(state) XINF_FSM_TO (XINF_REPLICA_##state)
static const uint32_t s_replica_moves [] = {
    [XINF_REPLICA_FETCHING] = R (FETCHED) | R (STARTING) | R (FAILED) | R (STOPPED),
    [XINF_REPLICA_FETCHED]  = R (FETCHING) | R (STARTING) | R (FAILED) | R (STOPPED),
    [XINF_REPLICA_STARTING] = R (JOINING) | R (LOADING) | R (FAILED) | R (STOPPED),
    [XINF_REPLICA_JOINING]  = R (LOADING) | R (FAILED) | R (STOPPED),
    [XINF_REPLICA_LOADING]  = R (READY) | R (FAILED) | R (STOPPED),
    [XINF_REPLICA_READY]    = R (FAILED) | R (STOPPED),
    [XINF_REPLICA_FAILED]   = R (STOPPED),
    [XINF_REPLICA_STOPPED]  = 0
};
const xinf_fsm_t xinf_replica_fsm = {
    "replica", XINF_REPLICA_STATES, s_replica_names, s_replica_moves, s_replica_why
};

// ---- a replica (or a rank) as the supervisor's launch sees it ---------------
static const char *const s_launch_names [] = {
    "placed", "preflight", "staging", "fetching", "fetched", "starting", "joining", "loading", "ready",
    "relaunching", "stopping", "failed", "stopped"
};
static const char *const s_launch_why [] = {
    "a worker is chosen; nothing asked of it yet",
    "a tensor-parallel replica's workers probe each other (the mesh) before anything loads",
    "a rank makes sure of the model file before the rendezvous (LOAD_MODEL fetch_only)",
    "its worker copies the model file from the cluster; progress in bytes",
    "a rank's file is here; it waits for the other ranks' before the rendezvous",
    "LOAD_MODEL sent: the replica and its executor start",
    "the ranks meet (rendezvous)",
    "the executor reads the weights; progress in bytes",
    "serves requests",
    "its worker (or a rank's) was lost: it is placed again and reloads, or waits for a worker; `error` says why",
    "terminated: its worker was asked to unload it",
    "could not load or serve; `error` says why",
    "unloaded by its worker; `error` says why (relaunched, as a replica of a lost worker, only if that worker is lost)"
};
#define L(state) XINF_FSM_TO (XINF_LAUNCH_##state)
#define L_END (L (RELAUNCHING) | L (STOPPING) | L (FAILED) | L (STOPPED))
static const uint32_t s_launch_moves [] = {
    [XINF_LAUNCH_PLACED]      = L (PREFLIGHT) | L (STAGING) | L (FETCHING) | L (FETCHED) | L (STARTING) | L (JOINING)
                              | L (LOADING) | L (READY) | L_END,
    [XINF_LAUNCH_PREFLIGHT]   = L (STAGING) | L (STARTING) | L_END,
    [XINF_LAUNCH_STAGING]     = L (FETCHING) | L (FETCHED) | L (STARTING) | L_END,
    [XINF_LAUNCH_FETCHING]    = L (FETCHED) | L (STARTING) | L (JOINING) | L (LOADING) | L_END,
    [XINF_LAUNCH_FETCHED]     = L (FETCHING) | L (STARTING) | L (JOINING) | L (LOADING) | L_END,
    [XINF_LAUNCH_STARTING]    = L (FETCHING) | L (JOINING) | L (LOADING) | L (READY) | L_END,
    [XINF_LAUNCH_JOINING]     = L (LOADING) | L (READY) | L_END,
    [XINF_LAUNCH_LOADING]     = L (READY) | L_END,
    [XINF_LAUNCH_READY]       = L_END,
    [XINF_LAUNCH_RELAUNCHING] = L (PREFLIGHT) | L (STAGING) | L (FETCHING) | L (STARTING) | L (JOINING) | L (LOADING)
                              | L (READY) | L (STOPPING) | L (FAILED) | L (STOPPED),
    [XINF_LAUNCH_STOPPING]    = L (FAILED) | L (STOPPED),
    [XINF_LAUNCH_FAILED]      = L (STOPPED),
    [XINF_LAUNCH_STOPPED]     = L (RELAUNCHING)
};
const xinf_fsm_t xinf_launch_fsm = {
    "launch", XINF_LAUNCH_STATES, s_launch_names, s_launch_moves, s_launch_why
};

// ---- a worker, as the supervisor sees it ------------------------------------
static const char *const s_worker_names [] = { "alive", "lost", "left" };
static const char *const s_worker_why [] = {
    "registered, heartbeats arrive",
    "no heartbeat for liveness x interval; forgotten after `--forget-lost-ms`",
    "said BYE (stopped on purpose)"
};
#define W(state) XINF_FSM_TO (XINF_WORKER_##state)
static const uint32_t s_worker_moves [] = {
    [XINF_WORKER_ALIVE] = W (LOST) | W (LEFT),
    [XINF_WORKER_LOST]  = W (ALIVE) | W (LEFT),
    [XINF_WORKER_LEFT]  = W (ALIVE)
};
const xinf_fsm_t xinf_worker_fsm = {
    "worker", XINF_WORKER_STATES, s_worker_names, s_worker_moves, s_worker_why
};

// ---- a client's request in the scheduler -----------------------------------
static const char *const s_request_names [] = { "queued", "running", "answered" };
static const char *const s_request_why [] = {
    "accepted, waits in its model's queue for a replica with room",
    "sent to a replica as RUN (or adopted from a worker after a supervisor restart)",
    "its one terminal answer was sent or held for its client (terminal)"
};
#define Q(state) XINF_FSM_TO (XINF_REQUEST_##state)
static const uint32_t s_request_moves [] = {
    [XINF_REQUEST_QUEUED]   = Q (RUNNING) | Q (ANSWERED),
    [XINF_REQUEST_RUNNING]  = Q (QUEUED) | Q (ANSWERED),
    [XINF_REQUEST_ANSWERED] = 0
};
const xinf_fsm_t xinf_request_fsm = {
    "request", XINF_REQUEST_STATES, s_request_names, s_request_moves, s_request_why
};
