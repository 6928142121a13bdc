/*  xinf_launch_preflight: the checks that come before a tensor-parallel
    replica's ranks read a byte of weights (xinf_launch.h steps 1 and 2),
    and the launch's warnings about its workers.

    The address check compares each rank's advertised address with the one
    the supervisor sees it connect from, and loopback with ranks on other
    hosts; the verdict reads the preflight mesh's results for one replica's
    ranks. Both name the problem and its fix. Used by xinf_launch for a
    launch and for the relaunch of a replica (xinf_heal.h).
*/
#ifndef XINF_LAUNCH_PREFLIGHT_H_INCLUDED
#define XINF_LAUNCH_PREFLIGHT_H_INCLUDED

#include "xinf_launch.h"

//  The entry of 'node' in a WORKERS list (xinf_cluster_workers), or NULL.
const xinf_value_t *xinf_launch_worker (const xinf_value_t *workers, const char *node);
//  A string field of such an entry, "" when absent (also for a NULL entry).
const char *xinf_launch_field (const xinf_value_t *worker, const char *key);

//  The address check of a replica's ranks: 0, or -1 with the problem and
//  its fix in 'error'. An address that may be right gets a warning.
int xinf_launch_address_check (xinf_model_entry_t *model, const xinf_value_t *workers, xinf_replica_entry_t *replica,
                               char *error, size_t size);
//  Ranks on one machine share its cores: a warning.
void xinf_launch_shared_machine_warning (xinf_model_entry_t *model, const xinf_value_t *workers,
                                         xinf_replica_entry_t *replica);
//  The part of a mesh's results between one replica's ranks: 0, or -1
//  with the failed pairs and their fixes in 'error'.
int xinf_launch_preflight_verdict (xinf_mesh_t *mesh, xinf_replica_entry_t *replica, const xinf_value_t *expected,
                                   const xinf_value_t *results, char *error, size_t size);
//  Workers of another build than the supervisor's: a warning each.
void xinf_launch_version_warnings (xinf_cluster_t *cluster, xinf_model_entry_t *model);

#endif
