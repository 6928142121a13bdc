/*  xinf_placement_gpu: a GPU of its own for a replica of a GPU model.  */
#include "xinf_placement_gpu.h"

#include <stdarg.h>

#define MIB  (1024ULL * 1024ULL)

//  Whether a replica holds that GPU: a plain one on it, or a rank of a
//  tensor-parallel one.
static bool
s_replica_holds (const xinf_replica_entry_t *replica, const char *node, int gpu)
{
    if (replica->n_ranks <= 1)
        return replica->gpu == gpu && streq (replica->node, node);
    for (size_t rank = 0; rank < replica->n_ranks; rank++)
        if (replica->ranks [rank].gpu == gpu && streq (replica->ranks [rank].node, node))
            return true;
    return false;
}

//  Whether one of the first 'count' replicas of 'model', but 'skip', holds that GPU.
static bool
s_holds (const xinf_model_entry_t *model, size_t count, size_t skip, const char *node, int gpu)
{
    for (size_t at = 0; model->gpu && at < count; at++) {
        const xinf_replica_entry_t *replica = &model->replicas [at];
        if (at != skip && replica->state != XINF_LAUNCH_FAILED && replica->state != XINF_LAUNCH_STOPPED
        &&  !*replica->lost_from && s_replica_holds (replica, node, gpu))
            return true;
    }
    return false;
}

//  Whether another GPU replica holds that GPU: of another model, or of
//  this one (whose replicas before 'index' may be placed already, the
//  model not yet in the table).
static bool
s_taken (zhashx_t *models, const xinf_model_entry_t *model, size_t index, const char *node, int gpu)
{
    size_t count;
    xinf_model_entry_t **entries = xinf_model_table_list (models, &count);
    bool taken = false;
    for (size_t at = 0; at < count && !taken; at++)
        taken = entries [at] != model && s_holds (entries [at], entries [at]->count, SIZE_MAX, node, gpu);
    free (entries);
    if (taken)
        return true;
    size_t placed = model->count > index ? model->count : index;
    return s_holds (model, placed, index, node, gpu);
}

static bool
s_listed (zlist_t *list, const char *name)
{
    for (char *item = list ? (char *) zlist_first (list) : NULL; item; item = (char *) zlist_next (list))
        if (streq (item, name))
            return true;
    return false;
}

//  A search for a GPU: what it looks for, the best pick so far, and what
//  it saw of each worker, for the reason when there is none.
typedef struct {
    zhashx_t *models;
    const xinf_model_entry_t *model;
    size_t index;
    uint64_t need;
    uint64_t best_free;
    char *node;                       //  the pick's worker ("" none yet)
    size_t node_size;
    int *gpu;                         //  the pick's CUDA device
    char seen [768];                  //  each worker's GPUs, or why it has none
    char lacking [384];               //  tensor-parallel: workers with GPUs whose build lacks NCCL
} s_search_t;

//  Appends ", text" (the first: "text") to a list kept in 'list'.
static void s_append (char *list, size_t size, const char *format, ...) __attribute__ ((format (printf, 3, 4)));
static void
s_append (char *list, size_t size, const char *format, ...)
{
    size_t used = strlen (list);
    if (used + 2 >= size)
        return;
    if (used) {
        memcpy (list + used, ", ", 3);
        used += 2;
    }
    va_list args;
    va_start (args, format);
    vsnprintf (list + used, size - used, format, args);
    va_end (args);
}

static bool
s_has_gpu (const xinf_value_t *devices)
{
    for (size_t at = 0; at < xinf_value_count (devices); at++) {
        const char *kind = xinf_value_str (xinf_map_get (xinf_array_at (devices, at), "kind"));
        if (kind && streq (kind, "gpu"))
            return true;
    }
    return false;
}

//  One worker's GPUs into the best pick so far, and into what was seen.
static void
s_consider (s_search_t *search, const char *node, const xinf_value_t *devices, const char *probe)
{
    for (size_t at = 0; at < xinf_value_count (devices); at++) {
        const xinf_value_t *device = xinf_array_at (devices, at);
        const char *kind = xinf_value_str (xinf_map_get (device, "kind"));
        if (!kind || !streq (kind, "gpu"))
            continue;
        int gpu = (int) xinf_value_uint (xinf_map_get (device, "index"));
        const xinf_value_t *free_value = xinf_map_get (device, "memory_free_bytes");
        uint64_t free_bytes = free_value ? xinf_value_uint (free_value)
                            : xinf_value_uint (xinf_map_get (device, "memory_bytes"));
        bool taken = s_taken (search->models, search->model, search->index, node, gpu);
        s_append (search->seen, sizeof search->seen, "%s cuda:%d %llu MiB%s", node, gpu,
                  (unsigned long long) (free_bytes / MIB), taken ? " (taken)" : "");
        if (!taken && free_bytes >= search->need && free_bytes > search->best_free) {
            search->best_free = free_bytes;
            snprintf (search->node, search->node_size, "%s", node);
            *search->gpu = gpu;
        }
    }
    if (!s_has_gpu (devices))
        s_append (search->seen, sizeof search->seen, "%s: %s", node, *probe ? probe : "no GPUs");
}

//  A worker for a rank of a tensor-parallel replica needs NCCL in its
//  build; one with GPUs that lacks it (or does not say) is noted, not
//  considered.
static bool
s_lacks_nccl (s_search_t *search, xinf_cluster_t *cluster, const char *node)
{
    if (search->model->n_worker <= 1 || !s_has_gpu (xinf_cluster_devices (cluster, node)))
        return false;
    xinf_nccl_t nccl = xinf_cluster_nccl (cluster, node);
    if (nccl == XINF_NCCL_BUILT)
        return false;
    s_append (search->lacking, sizeof search->lacking, "%s (%s)", node,
              nccl == XINF_NCCL_NONE ? "built without NCCL" : "an older build that does not say");
    return true;
}

//  Why no GPU was found: the need, each worker's GPUs, and the workers
//  whose build lacks NCCL.
static void
s_reason (const s_search_t *search, char *reason, size_t reason_size)
{
    char room [96] = "";
    if (search->need)                 //  else the file's size is not known before a worker loads it
        snprintf (room, sizeof room, " with %llu MiB free (weights and KV cache)",
                  (unsigned long long) (search->need / MIB));
    if (*search->lacking)
        snprintf (reason, reason_size, "a rank of a tensor-parallel replica needs a GPU of its own%s on a worker whose "
                  "build has NCCL; without NCCL: %s%s%s; run an xinf built where CMake finds nccl.h and libnccl",
                  room, search->lacking, *search->seen ? "; the others: " : "", search->seen);
    else
        snprintf (reason, reason_size, "a replica on a GPU needs one of its own%s; %s", room,
                  *search->seen ? search->seen : "no alive worker");
}

int
xinf_placement_gpu (xinf_cluster_t *cluster, zhashx_t *models, const xinf_model_entry_t *model, size_t index,
                    uint64_t need, zlist_t *avoid, char *node, size_t node_size, int *gpu, char *reason,
                    size_t reason_size)
{
    s_search_t search = { .models = models, .model = model, .index = index, .need = need, .node = node,
                          .node_size = node_size, .gpu = gpu };
    *node = 0;
    zlist_t *alive = xinf_cluster_alive (cluster);
    for (char *name = (char *) zlist_first (alive); name; name = (char *) zlist_next (alive))
        if (!s_listed (avoid, name) && !s_lacks_nccl (&search, cluster, name))
            s_consider (&search, name, xinf_cluster_devices (cluster, name), xinf_cluster_gpu_probe (cluster, name));
    zlist_destroy (&alive);
    if (*node)
        return 0;
    s_reason (&search, reason, reason_size);
    return -1;
}
