/*  xinf_cuda_devices: what the CUDA runtime reports about the machine's
    devices (name, memory, compute capability) and the driver, runtime and
    NCCL versions, for the worker's resource report; and a device's memory
    bandwidth as copies measure it, for the decode bound of the benches.  */
#include "xinf_cuda_backend.h"

#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>
#if defined (XINF_HAVE_NCCL)
#include <nccl.h>
#endif

static int
s_fail (char *error, size_t error_size, const char *what, cudaError_t status)
{
    if (error && error_size)
        snprintf (error, error_size, "%s: %s", what, cudaGetErrorString (status));
    cudaGetLastError ();
    return -1;
}

//  One device's properties and memory (the runtime makes its context).
static int
s_device (int index, xinf_cuda_device_t *device, char *error, size_t error_size)
{
    cudaDeviceProp properties;
    cudaError_t status = cudaGetDeviceProperties (&properties, index);
    if (status != cudaSuccess)
        return s_fail (error, error_size, "cudaGetDeviceProperties", status);
    memset (device, 0, sizeof *device);
    device->index = index;
    snprintf (device->name, sizeof device->name, "%s", properties.name);
    device->major = properties.major;
    device->minor = properties.minor;
    device->multiprocessors = properties.multiProcessorCount;
    device->total_bytes = properties.totalGlobalMem;
    size_t free_bytes = 0, total_bytes = 0;
    if (xinf_cuda_device_memory_info (index, &free_bytes, &total_bytes, error, error_size))
        return -1;
    device->free_bytes = free_bytes;
    device->total_bytes = total_bytes;
    return 0;
}

int
xinf_cuda_device_memory_info (int index, size_t *free_bytes, size_t *total_bytes, char *error, size_t error_size)
{
    int current = 0;
    cudaError_t status = cudaGetDevice (&current);
    if (status != cudaSuccess)
        return s_fail (error, error_size, "cudaGetDevice", status);
    if ((status = cudaSetDevice (index)) == cudaSuccess)
        status = cudaMemGetInfo (free_bytes, total_bytes);
    cudaSetDevice (current);                    //  the caller's device again, on failure too
    return status == cudaSuccess ? 0 : s_fail (error, error_size, "cudaMemGetInfo", status);
}

int
xinf_cuda_devices (xinf_cuda_device_t *devices, size_t max, xinf_cuda_versions_t *versions, char *error,
                   size_t error_size)
{
    xinf_cuda_versions_t found = { 0, 0, 0 };
    if (cudaDriverGetVersion (&found.driver) != cudaSuccess)
        found.driver = 0;
    if (cudaRuntimeGetVersion (&found.runtime) != cudaSuccess)
        found.runtime = 0;
#if defined (XINF_HAVE_NCCL)
    if (ncclGetVersion (&found.nccl) != ncclSuccess)
        found.nccl = 0;
#endif
    if (versions)
        *versions = found;
    int count = 0;
    cudaError_t status = cudaGetDeviceCount (&count);
    if (status != cudaSuccess)
        return s_fail (error, error_size, "no CUDA device", status);
    for (int index = 0; index < count && (size_t) index < max; index++)
        if (s_device (index, &devices [index], error, error_size))
            return -1;
    return count;
}

//  Frees what the probe holds (any of it NULL), the caller's device again.
static void
s_probe_free (void *from, void *to, cudaEvent_t start, cudaEvent_t stop, cudaStream_t stream, int current)
{
    if (stream)
        cudaStreamSynchronize (stream);
    cudaFree (from);
    cudaFree (to);
    if (start)
        cudaEventDestroy (start);
    if (stop)
        cudaEventDestroy (stop);
    if (stream)
        cudaStreamDestroy (stream);
    cudaSetDevice (current);
    cudaGetLastError ();              //  a failure here is the probe's, not the next launch's
}

//  One probe step: 'status' of 'what', kept in *failed (the first failure).
static bool
s_probe_ok (cudaError_t status, const char *what, const char **failed, cudaError_t *first)
{
    if (status != cudaSuccess && !*failed) {
        *failed = what;
        *first = status;
    }
    return !*failed;
}

double
xinf_cuda_bandwidth (int index, size_t bytes, char *error, size_t error_size)
{
    int current = 0;
    void *from = NULL, *to = NULL;
    cudaEvent_t start = NULL, stop = NULL;
    cudaStream_t stream = NULL;
    const char *failed = NULL;
    cudaError_t first = cudaSuccess;
    if (!s_probe_ok (cudaGetDevice (&current), "cudaGetDevice", &failed, &first))
        return s_fail (error, error_size, failed, first), 0;
    bool ready = s_probe_ok (cudaSetDevice (index), "cudaSetDevice", &failed, &first)
    && s_probe_ok (cudaMalloc (&from, bytes), "cudaMalloc", &failed, &first)
    && s_probe_ok (cudaMalloc (&to, bytes), "cudaMalloc", &failed, &first)
    && s_probe_ok (cudaStreamCreate (&stream), "cudaStreamCreate", &failed, &first)
    && s_probe_ok (cudaEventCreate (&start), "cudaEventCreate", &failed, &first)
    && s_probe_ok (cudaEventCreate (&stop), "cudaEventCreate", &failed, &first)
    && s_probe_ok (cudaMemsetAsync (from, 1, bytes, stream), "cudaMemsetAsync", &failed, &first)
    && s_probe_ok (cudaMemcpyAsync (to, from, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync", &failed,
                   &first);       //  warm-up
    float best = 0;
    for (int round = 0; round < 5 && ready && !failed; round++) {
        float ms = 0;
        if (s_probe_ok (cudaEventRecord (start, stream), "cudaEventRecord", &failed, &first)
        &&  s_probe_ok (cudaMemcpyAsync (to, from, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync",
                        &failed, &first)
        &&  s_probe_ok (cudaEventRecord (stop, stream), "cudaEventRecord", &failed, &first)
        &&  s_probe_ok (cudaEventSynchronize (stop), "cudaEventSynchronize", &failed, &first)
        &&  s_probe_ok (cudaEventElapsedTime (&ms, start, stop), "cudaEventElapsedTime", &failed, &first) && ms > 0)
            best = best == 0 || ms < best ? ms : best;
    }
    s_probe_free (from, to, start, stop, stream, current);
    if (failed || best <= 0) {
        s_fail (error, error_size, failed ? failed : "the copy's time", failed ? first : cudaErrorUnknown);
        return 0;
    }
    return 2.0 * (double) bytes / ((double) best / 1e3);
}
