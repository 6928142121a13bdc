/*  xinf_placement_gpu: where a replica of a GPU model goes (LAUNCH device
    gpu): a GPU of an alive worker that no other GPU replica holds, whose
    free memory (NVML's at registration, else its total) takes the model's
    weights and KV cache; the roomiest such GPU wins. A rank of a
    tensor-parallel replica (n_worker > 1) sums over NCCL, so only workers
    whose build has NCCL (HELLO nccl) take one: the launch is refused at
    once, naming the workers that lack it, rather than failing at load.
    Part of placement (xinf_placement.h), in its own file.
*/
#ifndef XINF_PLACEMENT_GPU_H_INCLUDED
#define XINF_PLACEMENT_GPU_H_INCLUDED

#include "xinf_cluster.h"
#include "xinf_launch.h"

//  A GPU for replica 'index' of 'model', on none of the workers in
//  'avoid' (NULL or a list of node names): 0 with its worker and CUDA
//  device, or -1 with the reason, naming each worker's GPUs or why it has
//  none, and, for a tensor-parallel model, the workers with GPUs whose
//  build lacks NCCL.
int xinf_placement_gpu (xinf_cluster_t *cluster, zhashx_t *models, const xinf_model_entry_t *model, size_t index,
                        uint64_t need, zlist_t *avoid, char *node, size_t node_size, int *gpu, char *reason,
                        size_t reason_size);

#endif
