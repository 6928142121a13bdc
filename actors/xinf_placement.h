/*  xinf_placement: which workers a launched model's replicas go to.

    The named workers, or else, replica by replica, the alive worker with
    the most free memory, on distinct workers while there are enough.
    Free memory is what the worker reported as available when it
    registered, less what this supervisor placed on it since: every
    replica of every launched model not failed, stopped or waiting to be
    relaunched after a loss (replicas of
    adopted models were running when the worker reported, so they are in
    its figure already), and the replicas of this launch placed before.

    A replica needs its weights and its KV cache: `size_bytes` and
    `kv_bytes` from its model info once loaded; before that the weights
    of another replica of the same file (info, or the bytes_total its load
    reported) and `kv_cache_mb`. The supervisor cannot see a file before a
    worker loads it, so the first launch of a file is placed by KV budget
    and free memory only, and corrected as load reports arrive. A replica
    whose need is known and fits no alive worker is refused (NO_WORKER,
    with the need and the most free memory): no worker gets a replica it
    cannot hold.
*/
#ifndef XINF_PLACEMENT_H_INCLUDED
#define XINF_PLACEMENT_H_INCLUDED

#include "xinf_launch.h"

//  The memory one replica (one rank: its share) of 'model' needs, as far
//  as known (0: nothing known yet). 'models' is the model table.
uint64_t xinf_placement_need (zhashx_t *models, const xinf_model_entry_t *model);

//  Memory held on 'node' by the replicas this supervisor placed there.
uint64_t xinf_placement_committed (zhashx_t *models, const char *node);

//  Places 'count' replicas of a model being launched (not yet in the
//  table): the named workers (one per rank), or the best alive ones.
//  0, or -1 with the reason.
int xinf_placement_place (xinf_cluster_t *cluster, zhashx_t *models, xinf_model_entry_t *model,
                          const xinf_value_t *named, size_t count, char *reason, size_t size);

//  A new worker for plain replica 'index' of a launched model whose worker
//  is gone: the alive worker with the most free memory where it fits,
//  other than 'avoid' (NULL: none), preferring one without another
//  replica of the model. 0, or -1 with the reason.
int xinf_placement_move (xinf_cluster_t *cluster, zhashx_t *models, xinf_model_entry_t *model, size_t index,
                         const char *avoid, char *node, size_t node_size, char *reason, size_t size);

//  New workers for tensor-parallel replica 'index' of a launched model
//  that lost a rank's worker (the replica, lost_from set, holds nothing
//  meanwhile): n_ranks distinct alive workers (a lost one is not alive),
//  rank by rank the one with the most free memory where a rank's share
//  fits, the surviving ranks' workers as good as any, preferring workers
//  without another replica of the model. 'nodes' gets one name per rank;
//  for a GPU model each rank a GPU of its own (xinf_placement_gpu), its
//  device in 'gpus' (untouched for a CPU model). 0, or -1 with the reason.
int xinf_placement_group (xinf_cluster_t *cluster, zhashx_t *models, xinf_model_entry_t *model, size_t index,
                          char nodes [][65], int *gpus, char *reason, size_t size);

//  The workers a LAUNCH names (its decoded fields): 'worker' (one) or
//  'workers' (one per rank), each registered and alive and distinct, as
//  many as n_worker. NULL when none are named or on a failed check
//  ('code': NO_WORKER for a worker that is not alive, else left as is).
xinf_value_t *xinf_placement_named (xinf_cluster_t *cluster, const char *worker, const xinf_value_t *workers,
                                    uint64_t n_worker, xinf_check_t *check, const char **code);
//  Where a model's replicas are: [{replica, worker, workers (per rank)}].
xinf_value_t *xinf_placement_describe (const xinf_model_entry_t *model);

#endif
