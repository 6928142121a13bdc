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

    A tensor-parallel replica that loses a rank's worker is relaunched as
    a group: it is `relaunching` (the reason names the worker and rank),
    its other ranks are unloaded and their stopped reports awaited (a
    registered wait with a deadline: the stall timeout plus slack), then
    the whole group is placed again for its n_ranks (xinf_placement_group:
    alive workers, the survivors allowed, the lost worker only once it has
    registered again) and brought up by the launch's own steps
    (xinf_launch_start_replica: address check, preflight mesh, staging,
    rendezvous, load). A failure there fails it with the cause, as a
    launch. No set of workers now: it waits, and is tried again when a
    worker registers; a pinned group loads on its named workers once all
    are back. A lost worker that returns still running its old rank is
    told to unload it first. Groups rebuilt from HELLOs after a supervisor
    restart (adopted) lack their launch's parameters and still fail.
*/
#ifndef XINF_HEAL_H_INCLUDED
#define XINF_HEAL_H_INCLUDED

#include "xinf_launch.h"

typedef struct _xinf_heal_t xinf_heal_t;

//  'models' is the model table (uid -> xinf_model_entry_t), lent.
xinf_heal_t *xinf_heal_new (xinf_cluster_t *cluster, xinf_launch_t *launch, zhashx_t *models);
void xinf_heal_destroy (xinf_heal_t **self_p);

//  The replica's worker 'node' (a rank's, for a tensor-parallel one) was
//  lost ('why'): relaunch it elsewhere, or mark it waiting. Its requests
//  were ended by the caller.
void xinf_heal_replica_lost (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                             xinf_replica_entry_t *replica, const char *node, const char *why);
//  A MODEL_STATE of rank 'rank' (from its worker in the table) of a
//  tensor-parallel replica: true when the relaunch takes it (the replica
//  is relaunching: the old group's last words, a stopped report is an
//  unload confirmed), false when the launch should.
bool xinf_heal_rank_report (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                            xinf_replica_entry_t *replica, size_t rank, const char *state);
//  A rank of a relaunching tensor-parallel replica reported in a returning
//  worker's HELLO: unloaded (its stopped report awaited before the group is
//  placed), true; false when the replica is not relaunching.
bool xinf_heal_adopt_rank (xinf_heal_t *self, xinf_ctx_t *ctx, xinf_model_entry_t *model,
                           xinf_replica_entry_t *replica, const char *node, uint64_t rank);
//  Relaunches whose ranks did not confirm their unload in time go on.
void xinf_heal_tick (xinf_heal_t *self, xinf_ctx_t *ctx, int64_t now);
//  How many replicas and groups it relaunched elsewhere so far (a change
//  the journal must keep).
uint64_t xinf_heal_moves (xinf_heal_t *self);
//  'node' registered: waiting replicas that may go there are loaded.
void xinf_heal_worker_joined (xinf_heal_t *self, xinf_ctx_t *ctx, const char *node);
//  A replica reported in a returning worker's HELLO that was relaunched
//  elsewhere meanwhile: true (the caller unloads it there), else false.
bool xinf_heal_moved_away (const xinf_replica_entry_t *replica, const char *node);

#endif
