/*  xinf_exec_device: the device an executor computes on, named in LOAD's
    `device` ("cpu", or "cuda:N" where xinf is built with the CUDA backend):
    its compute backend, and the memory its KV cache may take by default.

    A CUDA executor runs in its own process (xinf-executor): a stuck or
    crashed device call then ends that process, and the replica's watchdog
    names it (xinf_exec_host). Without the CUDA backend, or without a
    device, a "cuda:N" LOAD fails naming why.
*/
#ifndef XINF_EXEC_DEVICE_H_INCLUDED
#define XINF_EXEC_DEVICE_H_INCLUDED

#include "xinf.h"
#include "xinf_backend.h"
#include "xinf_transformer.h"

typedef struct {
    bool cuda;                        //  else the CPU
    int index;                        //  the CUDA device
} xinf_exec_device_t;

#define XINF_EXEC_DEVICE_CUDA_MAX 64  //  cuda:0 .. cuda:63

//  "cpu" or "cuda:N" into 'device'; 0, or -1 with the reason.
int xinf_exec_device_parse (const char *name, xinf_exec_device_t *device, char *error, size_t error_size);

//  The device's backend ('threads' for the CPU's); NULL with the reason.
xinf_backend_t *xinf_exec_device_backend (const xinf_exec_device_t *device, int threads, char *error,
                                          size_t error_size);

//  The bytes a KV cache may take by default: a quarter of the host's
//  available memory; on a GPU half of what its free memory leaves beside
//  'weights' bytes of weights (uploaded on first use). At least 64 MiB.
uint64_t xinf_exec_device_kv_budget (const xinf_exec_device_t *device, uint64_t weights);
//  Whether the device has a kernel for every weight matrix of 't': 0, or
//  -1 naming the first one whose type it lacks, so that such a load fails
//  at once, not every step.
int xinf_exec_device_check_weights (const xinf_exec_device_t *device, const xinf_transformer_t *t, char *error,
                                    size_t error_size);

#endif
