/*  xinf_coll_agree: every rank of a group on the same kind of memory.  */
#include "xinf_coll_agree.h"

#include <stdio.h>

int
xinf_coll_agree_device (xinf_collective_t *mesh, bool on_gpu, char *error, size_t error_size)
{
    //  Small integers: the float sums are exact on every rank
    float counts [2] = { on_gpu ? 0.0f : 1.0f, on_gpu ? 1.0f : 0.0f };
    char reason [256] = "";
    if (xinf_collective_all_reduce_sum (mesh, counts, 2, reason, sizeof reason)) {
        snprintf (error, error_size, "agreeing on the ranks' devices: %s", reason);
        return -1;
    }
    int cpu = (int) counts [0], gpu = (int) counts [1];
    if (cpu + gpu != mesh->size) {
        snprintf (error, error_size, "agreeing on the ranks' devices: %d answers from %d ranks", cpu + gpu, mesh->size);
        return -1;
    }
    if (cpu && gpu) {
        snprintf (error, error_size, "a mixed replica: %d of %d ranks on GPUs (NCCL), %d on the CPU; tensor "
                  "parallelism needs every rank on a GPU or every rank on the CPU", gpu, mesh->size, cpu);
        return -1;
    }
    return 0;
}
