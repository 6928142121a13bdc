/*  xinf_placement_gpu: a GPU of its own for a replica of a GPU model.  */
#include "xinf_placement_gpu.h"

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

//  One worker's GPUs into the best pick so far; what it has into 'seen'.
static void
s_consider (zhashx_t *models, const xinf_model_entry_t *model, size_t index, uint64_t need, const char *node,
            const xinf_value_t *devices, const char *probe, uint64_t *best_free, char *best_node, size_t node_size,
            int *best_gpu, char *seen, size_t seen_size)
{
    size_t used = strlen (seen);
    bool any = false;
    for (size_t at = 0; at < xinf_value_count (devices); at++) {
        const xinf_value_t *device = xinf_array_at (devices, at);
        const char *kind = xinf_value_str (xinf_map_get (device, "kind"));
        if (!kind || !streq (kind, "gpu"))
            continue;
        any = true;
        int gpu = (int) xinf_value_uint (xinf_map_get (device, "index"));
        const xinf_value_t *free_value = xinf_map_get (device, "memory_free_bytes");
        uint64_t free_bytes = free_value ? xinf_value_uint (free_value)
                            : xinf_value_uint (xinf_map_get (device, "memory_bytes"));
        bool taken = s_taken (models, model, index, node, gpu);
        used += (size_t) snprintf (seen + used, used < seen_size ? seen_size - used : 0, "%s%s cuda:%d %llu MiB%s",
                                   *seen ? ", " : "", node, gpu, (unsigned long long) (free_bytes / MIB),
                                   taken ? " (taken)" : "");
        if (!taken && free_bytes >= need && free_bytes > *best_free) {
            *best_free = free_bytes;
            snprintf (best_node, node_size, "%s", node);
            *best_gpu = gpu;
        }
    }
    if (!any)
        snprintf (seen + used, used < seen_size ? seen_size - used : 0, "%s%s: %s", *seen ? ", " : "", node,
                  *probe ? probe : "no GPUs");
}

int
xinf_placement_gpu (xinf_cluster_t *cluster, zhashx_t *models, const xinf_model_entry_t *model, size_t index,
                    uint64_t need, zlist_t *avoid, char *node, size_t node_size, int *gpu, char *reason,
                    size_t reason_size)
{
    char seen [768] = "";
    uint64_t best_free = 0;
    *node = 0;
    zlist_t *alive = xinf_cluster_alive (cluster);
    for (char *name = (char *) zlist_first (alive); name; name = (char *) zlist_next (alive))
        if (!s_listed (avoid, name))
            s_consider (models, model, index, need, name, xinf_cluster_devices (cluster, name),
                        xinf_cluster_gpu_probe (cluster, name), &best_free, node, node_size, gpu, seen, sizeof seen);
    zlist_destroy (&alive);
    if (*node)
        return 0;
    char room [96] = "";
    if (need)                         //  else the file's size is not known before a worker loads it
        snprintf (room, sizeof room, " with %llu MiB free (weights and KV cache)", (unsigned long long) (need / MIB));
    snprintf (reason, reason_size, "a replica on a GPU needs one of its own%s; %s", room,
              *seen ? seen : "no alive worker");
    return -1;
}
