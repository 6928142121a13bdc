/*  xinf_graph_retry: the supervisor's one relaunch without CUDA graphs.

    A replica whose executor hangs in a CUDA graph's capture or replay
    fails with EXECUTOR_HUNG, its MODEL_STATE failed carrying the phase
    in stuck_phase (and in its error for people: "... is stuck in graph
    replay of step 7 (batch bucket 4), for 10.2 s ...; relaunch with
    --disable-cuda-graph"). When graphs were on for it, the
    supervisor takes that report instead of failing the replica: the
    replica goes relaunching with the report in its error, its worker
    unloads it (abandoning the stuck thread), and once the worker reports
    it stopped it is loaded again on the same worker with
    disable_cuda_graph set, its note saying so. A hang after that (its
    graphs are off) fails it for good, as any hang does.

    Plain replicas only: a tensor-parallel replica runs no graphs (its
    all-reduces run on the host between kernels).
*/
#ifndef XINF_GRAPH_RETRY_H_INCLUDED
#define XINF_GRAPH_RETRY_H_INCLUDED

#include "xinf_launch.h"

//  Whether a failed report's stuck_phase (NULL when it has none: not
//  the watchdog's) is a CUDA graph's capture or replay.
bool xinf_graph_retry_is_graph_hang (const char *stuck_phase);

//  Whether a failed report with 'stuck_phase' for this replica is
//  retried: a plain replica, graphs on for it (neither the launch nor an
//  earlier retry turned them off), a graph hang.
bool xinf_graph_retry_wanted (const xinf_model_entry_t *model, const xinf_replica_entry_t *replica,
                              const char *stuck_phase);

//  Starts the retry: relaunching, its worker unloads it.
void xinf_graph_retry_begin (xinf_launch_t *launch, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                             xinf_replica_entry_t *replica, const char *error);

//  A MODEL_STATE 'state' for a replica the retry unloads: true when the
//  retry took it (the stopped report: the replica loads again without
//  graphs, or fails when its worker cannot be reached).
bool xinf_graph_retry_report (xinf_launch_t *launch, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                              xinf_replica_entry_t *replica, const char *state);

#endif
