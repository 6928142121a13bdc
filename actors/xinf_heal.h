/*  xinf_heal: brings back the replicas of lost workers.

    When a worker is lost, each plain replica it ran is relaunched on the
    alive worker with the most free memory where it fits (placement's
    rule, never the lost worker, preferring one without another replica of
    the model), with the launch's own parameters and generation, and loads
    there as a launch does. A replica launched on named workers (pinned)
    waits for its worker instead, and loads there again when it registers;
    one that finds no worker with room waits for a worker to register.
    A worker that comes back still running a replica that moved meanwhile
    is told to unload it. Every step is an event (`relaunching`,
    `relaunch_waiting`) and a log line.

    Tensor-parallel replicas are not moved: they fail naming the lost rank,
    as before (relaunch them with `launch` of the same uid).
*/
#ifndef XINF_HEAL_H_INCLUDED
#define XINF_HEAL_H_INCLUDED

#include "xinf_launch.h"

typedef struct _xinf_heal_t xinf_heal_t;

//  'models' is the model table (uid -> xinf_model_entry_t), lent.
xinf_heal_t *xinf_heal_new (xinf_cluster_t *cluster, xinf_launch_t *launch, zhashx_t *models);
void xinf_heal_destroy (xinf_heal_t **self_p);

//  The plain replica's worker 'node' was lost ('why'): relaunch it
//  elsewhere, or mark it waiting. Its requests were ended by the caller.
void xinf_heal_replica_lost (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                             xinf_replica_entry_t *replica, const char *node, const char *why);
//  'node' registered: waiting replicas that may go there are loaded.
void xinf_heal_worker_joined (xinf_heal_t *self, xinf_ctx_t *ctx, const char *node);
//  A replica reported in a returning worker's HELLO that was relaunched
//  elsewhere meanwhile: true (the caller unloads it there), else false.
bool xinf_heal_moved_away (const xinf_replica_entry_t *replica, const char *node);

#endif
