/*  xinf_coll_agree: the check a tensor-parallel group makes right after
    its rendezvous, over the CPU mesh, before any step: that every rank
    keeps its partial sums where the others do (host memory, summed over
    the mesh; or device memory, summed by NCCL). A replica with ranks of
    both kinds cannot sum them (and the id exchange of the NCCL ranks
    would meet the CPU ranks' first step): every rank learns the counts
    and fails alike, naming them.
*/
#ifndef XINF_COLL_AGREE_H_INCLUDED
#define XINF_COLL_AGREE_H_INCLUDED

#include "xinf_collective.h"

//  One all-reduce of the counts over 'mesh' (joined): 0 when every rank
//  said the same 'on_gpu'; else -1 on every rank with the reason ("a
//  mixed replica: 1 of 2 ranks on GPUs (NCCL), 1 on the CPU; ..."), or
//  the mesh's own failure.
int xinf_coll_agree_device (xinf_collective_t *mesh, bool on_gpu, char *error, size_t error_size);

#endif
