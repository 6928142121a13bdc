/*  xinf_exec_device: the device an executor computes on.  */
#include "xinf_exec_device.h"
#include "xinf_resources.h"
#include "xinf_cpu_backend.h"
#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"
#endif

#define S_KV_FLOOR  (64ULL << 20)

int
xinf_exec_device_parse (const char *name, xinf_exec_device_t *device, char *error, size_t error_size)
{
    *device = (xinf_exec_device_t) { false, 0 };
    if (!name || streq (name, "cpu"))
        return 0;
    char *end = NULL;
    long index = -1;
    if (!strncmp (name, "cuda:", 5) && name [5] >= '0' && name [5] <= '9')
        index = strtol (name + 5, &end, 10);
    if (index < 0 || index >= XINF_EXEC_DEVICE_CUDA_MAX || !end || *end) {
        snprintf (error, error_size, "field 'device': '%.40s' is not cpu or cuda:N (N below %d)", name,
                  XINF_EXEC_DEVICE_CUDA_MAX);
        return -1;
    }
    *device = (xinf_exec_device_t) { true, (int) index };
    return 0;
}

xinf_backend_t *
xinf_exec_device_backend (const xinf_exec_device_t *device, int threads, char *error, size_t error_size)
{
    if (!device->cuda) {
        xinf_backend_t *backend = xinf_cpu_backend_new (threads);
        if (!backend)
            snprintf (error, error_size, "cannot start %d compute threads", threads);
        return backend;
    }
#if defined (XINF_HAVE_CUDA)
    char reason [256] = "";
    xinf_backend_t *backend = xinf_cuda_backend_new (device->index, reason, sizeof reason);
    if (!backend)
        snprintf (error, error_size, "cuda:%d: %s", device->index, reason);
    return backend;
#else
    snprintf (error, error_size, "cuda:%d: this xinf was built without the CUDA backend (CMake found no CUDA "
              "toolkit); build it where the toolkit is, or launch on the CPU", device->index);
    return NULL;
#endif
}

uint64_t
xinf_exec_device_kv_budget (const xinf_exec_device_t *device, uint64_t weights)
{
    uint64_t budget = 0;
    if (!device->cuda) {
        xinf_host_info_t host;
        xinf_host_info (&host);
        budget = host.memory_available_bytes / 4;
    }
#if defined (XINF_HAVE_CUDA)
    else {
        size_t free_bytes = 0, total_bytes = 0;
        char error [256];
        if (xinf_cuda_device_memory_info (device->index, &free_bytes, &total_bytes, error, sizeof error) == 0
        &&  free_bytes > weights)
            budget = (free_bytes - weights) / 2;
    }
#endif
    return budget > S_KV_FLOOR ? budget : S_KV_FLOOR;
}

#if defined (XINF_HAVE_CUDA)
//  The first matrix of 't' whose type 'supported' refuses, named; NULL if none.
static const char *
s_unsupported (const xinf_transformer_t *t, bool (*supported) (xinf_dtype_t), xinf_dtype_t *dtype, size_t *layer)
{
    static const char *names [] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down" };
    *layer = SIZE_MAX;
    if (!supported ((*dtype = t->embed.dtype)))
        return "token_embd";
    if (!supported ((*dtype = t->output.dtype)))
        return "output";
    for (*layer = 0; *layer < t->n_layers; (*layer)++) {
        const xinf_layer_t *l = &t->layers [*layer];
        const xinf_matrix_t *matrices [] = { &l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down };
        for (size_t index = 0; index < sizeof matrices / sizeof matrices [0]; index++)
            if (!supported ((*dtype = matrices [index]->dtype)))
                return names [index];
    }
    return NULL;
}
#endif

int
xinf_exec_device_check_weights (const xinf_exec_device_t *device, const xinf_transformer_t *t, char *error,
                                size_t error_size)
{
#if defined (XINF_HAVE_CUDA)
    xinf_dtype_t dtype;
    size_t layer;
    const char *name = device->cuda ? s_unsupported (t, xinf_cuda_dtype_supported, &dtype, &layer) : NULL;
    if (!name)
        return 0;
    if (layer == SIZE_MAX)
        snprintf (error, error_size, "the GPU backend has no kernel for %s weights (%s): run this model on the CPU "
                  "or use a file of another type (Q4_K_M, Q8_0, F16)", xinf_dtype_name (dtype), name);
    else
        snprintf (error, error_size, "the GPU backend has no kernel for %s weights (blk.%zu.%s): run this model on "
                  "the CPU or use a file of another type (Q4_K_M, Q8_0, F16)", xinf_dtype_name (dtype), layer, name);
    return -1;
#else
    (void) device, (void) t, (void) error, (void) error_size;
    return 0;
#endif
}
