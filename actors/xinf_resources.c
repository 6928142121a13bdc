/*  xinf_resources: CPUs, memory, GPUs (via dlopen) and route addresses.  */
#include "xinf_resources.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined (XINF_HAVE_NCCL)
#include "xinf_coll_nccl.h"
#endif

void
xinf_host_info (xinf_host_info_t *info)
{
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    long pages = sysconf (_SC_PHYS_PAGES);
    long page_size = sysconf (_SC_PAGESIZE);
    info->cpus = cpus > 0 ? (uint64_t) cpus : 1;
    info->memory_bytes = pages > 0 && page_size > 0 ? (uint64_t) pages * (uint64_t) page_size : 0;
    info->memory_available_bytes = info->memory_bytes;
    FILE *meminfo = fopen ("/proc/meminfo", "r");
    if (!meminfo)
        return;
    char line [256];
    while (fgets (line, sizeof line, meminfo)) {
        unsigned long long kib;
        if (sscanf (line, "MemAvailable: %llu kB", &kib) == 1) {
            info->memory_available_bytes = (uint64_t) kib * 1024;
            break;
        }
    }
    fclose (meminfo);
}

static xinf_value_t *
s_cpu_device (void)
{
    xinf_host_info_t info;
    xinf_host_info (&info);
    char name [160] = "cpu";
    FILE *cpuinfo = fopen ("/proc/cpuinfo", "r");
    if (cpuinfo) {
        char line [256];
        while (fgets (line, sizeof line, cpuinfo))
            if (strncmp (line, "model name", 10) == 0 && strchr (line, ':')) {
                snprintf (name, sizeof name, "%s", strchr (line, ':') + 2);
                name [strcspn (name, "\n")] = 0;
                break;
            }
        fclose (cpuinfo);
    }
    name [128] = 0;
    xinf_value_t *device = xinf_value_new_map ();
    xinf_map_put_str (device, "kind", "cpu");
    xinf_map_put_uint (device, "index", 0);
    xinf_map_put_str (device, "name", name);
    xinf_map_put_uint (device, "memory_bytes", info.memory_bytes);
    xinf_map_put_uint (device, "cores", info.cpus);
    return device;
}

static void *
s_open_first (const char *const *names)
{
    for (; *names; names++) {
        void *handle = dlopen (*names, RTLD_NOW | RTLD_LOCAL);
        if (handle)
            return handle;
    }
    return NULL;
}

static void
s_version_text (char *text, size_t size, int version, int major_div, int minor_div, int minor_mod)
{
    if (version <= 0)
        snprintf (text, size, "%s", "");
    else
        snprintf (text, size, "%d.%d", version / major_div, (version / minor_div) % minor_mod);
}

//  The CUDA runtime and NCCL versions, "" when the library is missing.
static void
s_library_versions (char *runtime, size_t runtime_size, char *nccl, size_t nccl_size)
{
    static const char *const cudart_names [] = {
        "libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", NULL };
    static const char *const nccl_names [] = { "libnccl.so.2", "libnccl.so", NULL };
    int version = 0;
    void *cudart = s_open_first (cudart_names);
    if (cudart) {
        int (*get) (int *) = (int (*) (int *)) dlsym (cudart, "cudaRuntimeGetVersion");
        if (!get || get (&version) != 0)
            version = 0;
        dlclose (cudart);
    }
    s_version_text (runtime, runtime_size, version, 1000, 10, 100);
    version = 0;
    void *library = s_open_first (nccl_names);
    if (library) {
        int (*get) (int *) = (int (*) (int *)) dlsym (library, "ncclGetVersion");
        if (!get || get (&version) != 0)
            version = 0;
        dlclose (library);
    }
    //  NCCL >= 2.9 encodes major*10000 + minor*100 + patch
    s_version_text (nccl, nccl_size, version, 10000, 100, 100);
}

typedef struct {
    int (*init) (unsigned int);
    int (*driver_version) (int *);
    int (*count) (int *);
    int (*get) (int *, int);
    int (*name) (char *, int, int);
    int (*total_mem) (size_t *, int);
    int (*attribute) (int *, int, int);          //  may be NULL
    int (*bus_id) (char *, int, int);            //  may be NULL
} s_cuda_api_t;

#define S_CU_COMPUTE_MAJOR  75            //  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
#define S_CU_COMPUTE_MINOR  76

//  NVML, for a device's free memory without a CUDA context; absent: none.
typedef struct {
    void *library;
    int (*init) (void);
    int (*shutdown) (void);
    int (*by_bus_id) (const char *, void **);
    int (*memory) (void *, unsigned long long [3]);   //  total, free, used
} s_nvml_t;

static void
s_nvml_open (s_nvml_t *nvml)
{
    static const char *const names [] = { "libnvidia-ml.so.1", "libnvidia-ml.so", NULL };
    memset (nvml, 0, sizeof *nvml);
    if (!(nvml->library = s_open_first (names)))
        return;
    nvml->init = (int (*) (void)) dlsym (nvml->library, "nvmlInit_v2");
    nvml->shutdown = (int (*) (void)) dlsym (nvml->library, "nvmlShutdown");
    nvml->by_bus_id = (int (*) (const char *, void **)) dlsym (nvml->library, "nvmlDeviceGetHandleByPciBusId_v2");
    nvml->memory = (int (*) (void *, unsigned long long [3])) dlsym (nvml->library, "nvmlDeviceGetMemoryInfo");
    if (!nvml->init || !nvml->shutdown || !nvml->by_bus_id || !nvml->memory || nvml->init () != 0) {
        dlclose (nvml->library);
        nvml->library = NULL;
    }
}

static void
s_nvml_close (s_nvml_t *nvml)
{
    if (nvml->library) {
        nvml->shutdown ();
        dlclose (nvml->library);
    }
}

//  The compute capability ("9.0", "" unknown) and free memory (through
//  NVML, matched by PCI bus id: its order may differ from CUDA's; false
//  when unknown) of CUDA device 'device'.
static bool
s_gpu_details (s_cuda_api_t *api, s_nvml_t *nvml, int device, char *capability, size_t size, uint64_t *free_bytes)
{
    int major = 0, minor = 0;
    *capability = 0;
    if (api->attribute && api->attribute (&major, S_CU_COMPUTE_MAJOR, device) == 0
    &&  api->attribute (&minor, S_CU_COMPUTE_MINOR, device) == 0)
        snprintf (capability, size, "%d.%d", major, minor);
    char bus [64] = "";
    void *handle = NULL;
    unsigned long long memory [3] = { 0, 0, 0 };
    if (!nvml->library || !api->bus_id || api->bus_id (bus, sizeof bus, device) != 0
    ||  nvml->by_bus_id (bus, &handle) != 0 || nvml->memory (handle, memory) != 0)
        return false;
    *free_bytes = memory [1];
    return true;
}

static bool
s_cuda_api_load (void *driver, s_cuda_api_t *api)
{
    api->init = (int (*) (unsigned int)) dlsym (driver, "cuInit");
    api->driver_version = (int (*) (int *)) dlsym (driver, "cuDriverGetVersion");
    api->count = (int (*) (int *)) dlsym (driver, "cuDeviceGetCount");
    api->get = (int (*) (int *, int)) dlsym (driver, "cuDeviceGet");
    api->name = (int (*) (char *, int, int)) dlsym (driver, "cuDeviceGetName");
    api->total_mem = (int (*) (size_t *, int)) dlsym (driver, "cuDeviceTotalMem_v2");
    api->attribute = (int (*) (int *, int, int)) dlsym (driver, "cuDeviceGetAttribute");
    api->bus_id = (int (*) (char *, int, int)) dlsym (driver, "cuDeviceGetPCIBusId");
    return api->init && api->driver_version && api->count && api->get && api->name && api->total_mem;
}

static void
s_gpu_devices (xinf_value_t *devices, s_cuda_api_t *api, int count)
{
    int driver = 0;
    api->driver_version (&driver);
    char driver_text [32], runtime [32], nccl [32];
    s_version_text (driver_text, sizeof driver_text, driver, 1000, 10, 100);
    s_library_versions (runtime, sizeof runtime, nccl, sizeof nccl);
    s_nvml_t nvml;
    s_nvml_open (&nvml);
    for (int index = 0; index < count; index++) {
        int device = 0;
        char name [129] = "";
        size_t memory = 0;
        if (api->get (&device, index) != 0)
            continue;
        api->name (name, sizeof name - 1, device);
        api->total_mem (&memory, device);
        xinf_value_t *gpu = xinf_value_new_map ();
        xinf_map_put_str (gpu, "kind", "gpu");
        xinf_map_put_uint (gpu, "index", (uint64_t) index);
        xinf_map_put_str (gpu, "name", name);
        xinf_map_put_uint (gpu, "memory_bytes", memory);
        xinf_map_put_str (gpu, "driver_version", driver_text);
        xinf_map_put_str (gpu, "cuda_runtime_version", runtime);
        xinf_map_put_str (gpu, "nccl_version", nccl);
        char capability [16];
        uint64_t free_bytes = 0;
        if (s_gpu_details (api, &nvml, device, capability, sizeof capability, &free_bytes))
            xinf_map_put_uint (gpu, "memory_free_bytes", free_bytes);
        if (*capability)
            xinf_map_put_str (gpu, "compute_capability", capability);
        xinf_array_push (devices, gpu);
    }
    s_nvml_close (&nvml);
}

xinf_value_t *
xinf_devices_probe (char *probe, size_t probe_size)
{
    xinf_value_t *devices = xinf_value_new_array ();
    xinf_array_push (devices, s_cpu_device ());
    static const char *const driver_names [] = { "libcuda.so.1", "libcuda.so", NULL };
    void *driver = s_open_first (driver_names);
    if (!driver) {
        snprintf (probe, probe_size, "no GPUs: libcuda.so.1 (the NVIDIA driver) not found");
        return devices;
    }
    s_cuda_api_t api;
    int count = 0, rc;
    if (!s_cuda_api_load (driver, &api))
        snprintf (probe, probe_size, "no GPUs: libcuda.so.1 lacks the driver API entry points");
    else
    if ((rc = api.init (0)) != 0)
        snprintf (probe, probe_size, "no GPUs: cuInit failed with CUDA error %d", rc);
    else
    if ((rc = api.count (&count)) != 0 || count == 0)
        snprintf (probe, probe_size, "no GPUs: the driver reports none (rc %d)", rc);
    else {
        s_gpu_devices (devices, &api, count);
        snprintf (probe, probe_size, "%d GPU(s) found through libcuda.so.1", count);
    }
    dlclose (driver);
    return devices;
}

bool
xinf_build_nccl (char *version, size_t version_size)
{
#if defined (XINF_HAVE_NCCL)
    xinf_coll_nccl_version (version, version_size);
    return true;
#else
    snprintf (version, version_size, "%s", "");
    return false;
#endif
}

//  Splits tcp://HOST:PORT (HOST may be [v6]); -1 if not that shape.
static int
s_split_endpoint (const char *endpoint, char *host, size_t host_size, char *port, size_t port_size)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return -1;
    const char *start = endpoint + 6;
    const char *colon = strrchr (start, ':');
    if (!colon || colon == start || !colon [1])
        return -1;
    size_t length = (size_t) (colon - start);
    if (*start == '[' && length >= 2 && start [length - 1] == ']') {
        start++;
        length -= 2;
    }
    if (length >= host_size)
        return -1;
    memcpy (host, start, length);
    host [length] = 0;
    snprintf (port, port_size, "%s", colon + 1);
    return 0;
}

int
xinf_route_address (const char *endpoint, char *address, size_t address_size)
{
    char host [256], port [16];
    if (s_split_endpoint (endpoint, host, sizeof host, port, sizeof port)) {
        snprintf (address, address_size, "endpoint '%s' is not tcp://HOST:PORT", endpoint);
        return -1;
    }
    struct addrinfo hints = { 0 }, *found = NULL;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo (host, port, &hints, &found);
    if (rc != 0 || !found) {
        snprintf (address, address_size, "cannot resolve '%s': %s", host, gai_strerror (rc));
        return -1;
    }
    //  A UDP connect sends nothing; it only asks the kernel for the route
    int fd = socket (found->ai_family, SOCK_DGRAM, 0);
    struct sockaddr_storage local;
    socklen_t local_size = sizeof local;
    rc = -1;
    if (fd >= 0 && connect (fd, found->ai_addr, found->ai_addrlen) == 0
    &&  getsockname (fd, (struct sockaddr *) &local, &local_size) == 0) {
        void *raw = local.ss_family == AF_INET6
                  ? (void *) &((struct sockaddr_in6 *) &local)->sin6_addr
                  : (void *) &((struct sockaddr_in *) &local)->sin_addr;
        if (inet_ntop (local.ss_family, raw, address, (socklen_t) address_size))
            rc = 0;
    }
    if (rc)
        snprintf (address, address_size, "no route to '%s': %s", host, strerror (errno));
    if (fd >= 0)
        close (fd);
    freeaddrinfo (found);
    return rc;
}

bool
xinf_address_is_loopback (const char *address)
{
    if (!address)
        return false;
    if (strncmp (address, "::ffff:", 7) == 0)
        address += 7;
    return strncmp (address, "127.", 4) == 0 || strcmp (address, "::1") == 0
        || strcmp (address, "localhost") == 0;
}
