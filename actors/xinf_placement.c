/*  xinf_placement: which workers a launched model's replicas go to.  */
#include "xinf_placement.h"
#include "xinf_placement_gpu.h"

#define MIB  (1024ULL * 1024ULL)

static uint64_t
s_info_uint (const xinf_value_t *info, const char *key)
{
    const xinf_value_t *value = xinf_map_get (info, key);
    return xinf_value_type (value) == XINF_UINT ? xinf_value_uint (value) : 0;
}

//  The weights of a file, from any replica of any model that loaded it.
static uint64_t
s_weights_of (zhashx_t *models, const char *path)
{
    uint64_t best = 0;
    size_t count;
    xinf_model_entry_t **entries = xinf_model_table_list (models, &count);
    for (size_t at = 0; at < count; at++) {
        const xinf_model_entry_t *model = entries [at];
        if (!streq (model->path, path))
            continue;
        for (size_t index = 0; index < model->count; index++) {
            const xinf_replica_entry_t *replica = &model->replicas [index];
            uint64_t size = s_info_uint (replica->info, "size_bytes");
            if (!size && replica->n_ranks <= 1)
                size = replica->bytes_total;
            if (size > best)
                best = size;
        }
    }
    free (entries);
    return best;
}

//  What one replica of 'model' needs, given what 'replica' (may be NULL)
//  reported about itself.
static uint64_t
s_need (zhashx_t *models, const xinf_model_entry_t *model, const xinf_replica_entry_t *replica)
{
    uint64_t weights = replica ? s_info_uint (replica->info, "size_bytes") : 0;
    uint64_t kv = replica ? s_info_uint (replica->info, "kv_bytes") : 0;
    if (!weights)
        weights = s_weights_of (models, model->path);
    if (!kv)
        kv = model->options.kv_cache_mb * MIB;
    size_t ranks = model->n_worker > 1 ? model->n_worker : 1;
    return weights / ranks + kv;
}

uint64_t
xinf_placement_need (zhashx_t *models, const xinf_model_entry_t *model)
{
    return s_need (models, model, NULL);
}

uint64_t
xinf_placement_committed (zhashx_t *models, const char *node)
{
    uint64_t committed = 0;
    size_t count;
    xinf_model_entry_t **entries = xinf_model_table_list (models, &count);
    for (size_t at = 0; at < count; at++) {
        xinf_model_entry_t *model = entries [at];
        for (size_t index = 0; index < model->count; index++) {
            const xinf_replica_entry_t *replica = &model->replicas [index];
            if (replica->counted_by_worker)
                continue;             //  in the worker's own figure already
            if ((replica->state == XINF_LAUNCH_FAILED) || (replica->state == XINF_LAUNCH_STOPPED) || *replica->lost_from
            ||  !xinf_launch_uses (replica, node))
                continue;
            committed += s_need (models, model, replica);
        }
    }
    free (entries);
    return committed;
}

typedef struct {
    char node [65];
    uint64_t bytes;
} s_placed_t;

//  Free memory on a node, counting this launch's replicas placed so far.
static int64_t
s_free (xinf_cluster_t *cluster, zhashx_t *models, const char *node, const s_placed_t *placed, size_t count)
{
    int64_t free_bytes = (int64_t) xinf_cluster_available (cluster, node) - (int64_t) xinf_placement_committed (models, node);
    for (size_t at = 0; at < count; at++)
        if (streq (placed [at].node, node))
            free_bytes -= (int64_t) placed [at].bytes;
    return free_bytes;
}

static bool
s_listed (zlist_t *list, const char *name)
{
    for (char *item = (char *) zlist_first (list); item; item = (char *) zlist_next (list))
        if (streq (item, name))
            return true;
    return false;
}

//  What s_pick found.
typedef enum {
    S_PICKED,                  //  a worker where the replica fits
    S_NO_ROOM,                 //  alive workers, none with room enough
    S_NONE_ALIVE               //  no alive worker left to pick
} s_pick_t;

//  The alive worker, not in 'mine', with the most free memory where 'need'
//  fits, preferring workers without a replica of this launch; else the
//  reason.
static s_pick_t
s_pick (xinf_cluster_t *cluster, zhashx_t *models, uint64_t need, zlist_t *mine, const s_placed_t *placed,
        size_t count, char *node, size_t node_size, char *reason, size_t size)
{
    zlist_t *alive = xinf_cluster_alive (cluster);
    const char *best = NULL, *roomiest = NULL;
    int64_t best_free = 0, most_free = INT64_MIN;
    bool best_shared = true;
    for (char *name = (char *) zlist_first (alive); name; name = (char *) zlist_next (alive)) {
        if (s_listed (mine, name))
            continue;
        int64_t free_bytes = s_free (cluster, models, name, placed, count);
        if (free_bytes > most_free) {
            most_free = free_bytes;
            roomiest = name;
        }
        if (need && free_bytes < (int64_t) need)
            continue;
        bool shared = false;
        for (size_t at = 0; at < count; at++)
            shared |= streq (placed [at].node, name);
        if (!best || (best_shared && !shared) || (shared == best_shared && free_bytes > best_free)) {
            best = name;
            best_free = free_bytes;
            best_shared = shared;
        }
    }
    if (best)
        snprintf (node, node_size, "%s", best);
    else
    if (roomiest)
        snprintf (reason, size, "a replica needs %llu MiB (weights and KV cache) and the most free memory is "
                  "%lld MiB, on %s", (unsigned long long) (need / MIB), (long long) (most_free / (int64_t) MIB), roomiest);
    else
        snprintf (reason, size, "no alive worker to place the model on");
    zlist_destroy (&alive);
    return best ? S_PICKED : roomiest ? S_NO_ROOM : S_NONE_ALIVE;
}

//  The alive workers a GPU rank (or replica) must not go to: all but the
//  named one when it is named, and those of the ranks placed before it
//  (one rank a worker).
static zlist_t *
s_gpu_avoid (xinf_cluster_t *cluster, const char *only, char nodes [][65], size_t placed)
{
    zlist_t *avoid = zlist_new ();
    zlist_autofree (avoid);
    zlist_t *alive = xinf_cluster_alive (cluster);
    for (char *name = (char *) zlist_first (alive); only && name; name = (char *) zlist_next (alive))
        if (!streq (name, only))
            zlist_append (avoid, name);
    zlist_destroy (&alive);
    for (size_t at = 0; at < placed; at++)
        zlist_append (avoid, nodes [at]);
    return avoid;
}

//  A GPU model's replica: a GPU of its own for each rank (a plain
//  replica: one), the ranks on distinct workers, each on its named worker
//  if any; 'nodes' and 'gpus' get one a rank.
static int
s_place_gpu_ranks (xinf_cluster_t *cluster, zhashx_t *models, const xinf_model_entry_t *model, size_t index,
                   size_t n_ranks, const xinf_value_t *named, uint64_t need, char nodes [][65], int *gpus,
                   char *reason, size_t size)
{
    int rc = 0;
    for (size_t rank = 0; rank < n_ranks && rc == 0; rank++) {
        zlist_t *avoid = s_gpu_avoid (cluster, named ? xinf_value_str (xinf_array_at (named, rank)) : NULL,
                                      nodes, rank);
        rc = xinf_placement_gpu (cluster, models, model, index, need, avoid, nodes [rank], 65, &gpus [rank],
                                 reason, size);
        if (rc && n_ranks > 1) {
            char cause [1024];
            snprintf (cause, sizeof cause, "%s", reason);
            snprintf (reason, size, "rank %zu of %zu: %s", rank, n_ranks, cause);
        }
        zlist_destroy (&avoid);
    }
    return rc;
}

//  Sets a replica's ranks (or, plain, the replica) to 'nodes' and 'gpus'.
static void
s_set_gpu_ranks (xinf_replica_entry_t *replica, char nodes [][65], const int *gpus)
{
    for (size_t rank = 0; replica->n_ranks > 1 && rank < replica->n_ranks; rank++) {
        snprintf (replica->ranks [rank].node, sizeof replica->ranks [rank].node, "%.64s", nodes [rank]);
        replica->ranks [rank].gpu = gpus [rank];
    }
    snprintf (replica->node, sizeof replica->node, "%.64s", nodes [0]);
    replica->gpu = gpus [0];
}

static int
s_place_gpu (xinf_cluster_t *cluster, zhashx_t *models, xinf_model_entry_t *model, size_t index,
             const xinf_value_t *named, uint64_t need, char *reason, size_t size)
{
    xinf_replica_entry_t *replica = &model->replicas [index];
    char nodes [XINF_RANKS_MAX][65] = { "" };
    int gpus [XINF_RANKS_MAX] = { 0 };
    size_t n_ranks = replica->n_ranks > 1 ? replica->n_ranks : 1;
    int rc = s_place_gpu_ranks (cluster, models, model, index, n_ranks, named, need, nodes, gpus, reason, size);
    if (rc == 0)
        s_set_gpu_ranks (replica, nodes, gpus);
    return rc;
}

int
xinf_placement_place (xinf_cluster_t *cluster, zhashx_t *models, xinf_model_entry_t *model,
                      const xinf_value_t *named, size_t count, char *reason, size_t size)
{
    uint64_t need = xinf_placement_need (models, model);
    s_placed_t *placed = calloc (count * model->n_worker + 1, sizeof *placed);
    size_t done = 0;
    int rc = 0;
    for (size_t index = 0; index < count && rc == 0; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        replica->index = index;
        replica->n_ranks = model->n_worker;
        if (model->gpu) {
            rc = s_place_gpu (cluster, models, model, index, named, need, reason, size);
            continue;
        }
        zlist_t *mine = zlist_new ();
        for (size_t rank = 0; rank < model->n_worker && rc == 0; rank++) {
            char *node = replica->n_ranks > 1 ? replica->ranks [rank].node : replica->node;
            if (named)
                snprintf (node, sizeof replica->node, "%s", xinf_value_str (xinf_array_at (named, rank)));
            else {
                s_pick_t pick = s_pick (cluster, models, need, mine, placed, done, node, sizeof replica->node,
                                        reason, size);
                if (pick == S_NONE_ALIVE && model->n_worker > 1)
                    snprintf (reason, size, "n_worker %zu needs %zu distinct alive workers; only %zu found",
                              model->n_worker, model->n_worker, rank);
                rc = pick == S_PICKED ? 0 : -1;
            }
            zlist_append (mine, node);
            snprintf (placed [done].node, sizeof placed [done].node, "%s", node);
            placed [done++].bytes = need;
        }
        zlist_destroy (&mine);
        if (replica->n_ranks > 1)
            memcpy (replica->node, replica->ranks [0].node, sizeof replica->node);
    }
    free (placed);
    model->count = count;
    return rc;
}

int
xinf_placement_move (xinf_cluster_t *cluster, zhashx_t *models, xinf_model_entry_t *model, size_t index,
                     const char *avoid, char *node, size_t node_size, char *reason, size_t size)
{
    uint64_t need = xinf_placement_need (models, model);
    //  The model's other replicas: already committed, only to be avoided
    s_placed_t *placed = calloc (model->count + 1, sizeof *placed);
    assert (placed);
    size_t count = 0;
    for (size_t at = 0; at < model->count; at++) {
        const xinf_replica_entry_t *other = &model->replicas [at];
        if (at != index && !(other->state == XINF_LAUNCH_FAILED) && !(other->state == XINF_LAUNCH_STOPPED))
            snprintf (placed [count++].node, sizeof placed [0].node, "%s", other->node);
    }
    zlist_t *mine = zlist_new ();
    if (avoid)
        zlist_append (mine, (void *) avoid);
    bool found = model->gpu
               ? xinf_placement_gpu (cluster, models, model, index, need, mine, node, node_size,
                                     &model->replicas [index].gpu, reason, size) == 0
               : s_pick (cluster, models, need, mine, placed, count, node, node_size, reason, size) == S_PICKED;
    zlist_destroy (&mine);
    free (placed);
    return found ? 0 : -1;
}

int
xinf_placement_group (xinf_cluster_t *cluster, zhashx_t *models, xinf_model_entry_t *model, size_t index,
                      char nodes [][65], int *gpus, char *reason, size_t size)
{
    const xinf_replica_entry_t *replica = &model->replicas [index];
    uint64_t need = xinf_placement_need (models, model);
    if (model->gpu)
        return s_place_gpu_ranks (cluster, models, model, index, replica->n_ranks, NULL, need, nodes, gpus,
                                  reason, size);
    //  The model's other replicas' workers: only to be avoided where possible
    s_placed_t *placed = calloc (model->count * XINF_RANKS_MAX + replica->n_ranks + 1, sizeof *placed);
    assert (placed);
    size_t count = 0;
    for (size_t at = 0; at < model->count; at++) {
        const xinf_replica_entry_t *other = &model->replicas [at];
        if (at == index || (other->state == XINF_LAUNCH_FAILED) || (other->state == XINF_LAUNCH_STOPPED) || *other->lost_from)
            continue;
        for (size_t rank = 0; rank < (other->n_ranks > 1 ? other->n_ranks : 1); rank++)
            snprintf (placed [count++].node, sizeof placed [0].node, "%s",
                      other->n_ranks > 1 ? other->ranks [rank].node : other->node);
    }
    zlist_t *mine = zlist_new ();
    int rc = 0;
    for (size_t rank = 0; rank < replica->n_ranks && rc == 0; rank++) {
        s_pick_t pick = s_pick (cluster, models, need, mine, placed, count, nodes [rank], 65, reason, size);
        if (pick != S_PICKED) {
            if (pick == S_NONE_ALIVE)
                snprintf (reason, size, "%zu ranks need %zu distinct alive workers; only %zu found",
                          replica->n_ranks, replica->n_ranks, rank);
            rc = -1;
            break;
        }
        zlist_append (mine, nodes [rank]);
        snprintf (placed [count].node, sizeof placed [0].node, "%s", nodes [rank]);
        placed [count++].bytes = need;
    }
    zlist_destroy (&mine);
    free (placed);
    return rc;
}

//  The named workers of a LAUNCH (decoded, client.xml): 'worker' (one) or
//  'workers' (one per rank), each alive and distinct. NULL when none are
//  named (or on a failed check).
xinf_value_t *
xinf_placement_named (xinf_cluster_t *cluster, const char *worker, const xinf_value_t *workers, uint64_t n_worker,
                      xinf_check_t *check, const char **code)
{
    if (check->failed || (!worker && !workers))
        return NULL;
    if (worker && workers) {
        xinf_check_fail (check, "give 'worker' or 'workers', not both");
        return NULL;
    }
    xinf_value_t *named = xinf_value_new_array ();
    if (worker)
        xinf_array_push (named, xinf_value_new_str (worker));
    for (size_t index = 0; workers && index < xinf_value_count (workers); index++)
        xinf_array_push (named, xinf_value_dup (xinf_array_at (workers, index)));
    if (!check->failed && xinf_value_count (named) != n_worker)
        xinf_check_fail (check, "%zu worker(s) named for n_worker %llu: name one per rank", xinf_value_count (named),
                         (unsigned long long) n_worker);
    for (size_t index = 0; !check->failed && index < xinf_value_count (named); index++) {
        const char *name = xinf_value_str (xinf_array_at (named, index));
        for (size_t other = 0; other < index; other++)
            if (streq (name, xinf_value_str (xinf_array_at (named, other))))
                xinf_check_fail (check, "worker '%s' is named twice: every rank needs its own worker", name);
        if (!check->failed && !xinf_cluster_peer_of (cluster, name)) {
            *code = "NO_WORKER";
            xinf_check_fail (check, "worker '%s' is not registered and alive", name);
        }
    }
    if (check->failed)
        xinf_value_destroy (&named);
    return named;
}

xinf_value_t *
xinf_placement_describe (const xinf_model_entry_t *model)
{
    xinf_value_t *placed = xinf_value_new_array ();
    for (size_t index = 0; index < model->count; index++) {
        const xinf_replica_entry_t *replica = &model->replicas [index];
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_uint (item, "replica", index);
        xinf_map_put_str (item, "worker", replica->node);
        if (replica->n_ranks > 1) {
            xinf_value_t *ranks = xinf_value_new_array ();
            for (size_t rank = 0; rank < replica->n_ranks; rank++)
                xinf_array_push (ranks, xinf_value_new_str (replica->ranks [rank].node));
            xinf_map_put (item, "workers", ranks);
        }
        xinf_array_push (placed, item);
    }
    return placed;
}
