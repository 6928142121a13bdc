/*  xinf_resources: what a worker has to offer: CPUs, memory, devices, and
    the addresses it can advertise.

    GPUs are found at run time through the CUDA driver (libcuda.so.1),
    runtime (libcudart) and NCCL libraries loaded with dlopen, so that one
    binary runs on machines with and without NVIDIA drivers; without them
    the probe says why there are no GPUs. Whether the build itself has
    NCCL, which GPU tensor parallelism needs, is a fact of the build, not
    of the machine (xinf_build_nccl).
*/
#ifndef XINF_RESOURCES_H_INCLUDED
#define XINF_RESOURCES_H_INCLUDED

#include "xinf.h"

typedef struct {
    uint64_t cpus;
    uint64_t memory_bytes;
    uint64_t memory_available_bytes;
} xinf_host_info_t;

void xinf_host_info (xinf_host_info_t *info);

//  An array of device maps (node.md): the CPU always, then each GPU.
//  'probe' gets a one-line account of the GPU search.
xinf_value_t *xinf_devices_probe (char *probe, size_t probe_size);

//  Whether this build has NCCL (the GPU collective of tensor-parallel
//  replicas, kernels/collective/xinf_coll_nccl: XINF_HAVE_NCCL), and
//  then the version of the NCCL it links into 'version' ("" when NCCL
//  cannot tell); false and "" in a build without it (XINF_CUDA=OFF, or
//  no nccl.h and libnccl where it was built).
bool xinf_build_nccl (char *version, size_t version_size);

//  The local address of the route towards 'endpoint' (tcp://HOST:PORT), as
//  text, into 'address'. 0 on success, -1 with a reason in 'address'.
int xinf_route_address (const char *endpoint, char *address, size_t address_size);

//  True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback).
bool xinf_address_is_loopback (const char *address);

#endif
