/*  xinf_launch_preflight: the checks before a tensor-parallel replica's
    ranks read a byte of weights (the address check, the verdict of the
    preflight mesh), and the warnings a launch gives.  */
#include "xinf_launch_preflight.h"
#include "xinf_resources.h"

#include <stdarg.h>

// ---- the address check ---------------------------------------------------

const xinf_value_t *
xinf_launch_worker (const xinf_value_t *workers, const char *node)
{
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        const char *name = xinf_value_str (xinf_map_get (worker, "node"));
        if (name && streq (name, node))
            return worker;
    }
    return NULL;
}

const char *
xinf_launch_field (const xinf_value_t *worker, const char *key)
{
    const char *text = xinf_value_str (xinf_map_get (worker, key));
    return text ? text : "";
}

void
xinf_launch_warn (xinf_model_entry_t *model, const char *format, ...)
{
    char text [768];
    va_list args;
    va_start (args, format);
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    if (!model->warnings)
        model->warnings = xinf_value_new_array ();
    for (size_t index = 0; index < xinf_value_count (model->warnings); index++)
        if (streq (xinf_value_str (xinf_array_at (model->warnings, index)), text))
            return;
    xinf_warn ("supervisor", "launch uid=%s: %s", model->uid, text);
    xinf_array_push (model->warnings, xinf_value_new_str (text));
}

//  One rank's advertised address against the one its connection comes
//  from: 0, or -1 with the problem and its fix. An address that differs
//  but is not loopback may be right (NAT, several NICs, a proxy): a
//  warning, and the preflight mesh decides.
static int
s_address_mismatch (xinf_model_entry_t *model, const xinf_value_t *worker, size_t rank, const char *node,
                    char *error, size_t size)
{
    const char *host = xinf_launch_field (worker, "host_ip"), *seen = xinf_launch_field (worker, "observed_address");
    bool loopback = xinf_address_is_loopback (host);
    //  Connecting over loopback says only that it shares the supervisor's host
    if (!*seen || !strcmp (host, seen) || xinf_address_is_loopback (seen))
        return 0;
    if (!loopback) {
        xinf_launch_warn (model, "rank %zu (worker %s) advertises %s but the supervisor sees it connect from %s "
                          "(NAT, several NICs or a proxy?): the other ranks will dial %s, and the preflight checks "
                          "that they reach it there", rank, node, host, seen, host);
        return 0;
    }
    snprintf (error, size, "address check: rank %zu (worker %s) advertises the loopback address %s but connects "
              "from %s: the other ranks cannot reach it at %s; fix: set -H / XINF_HOST_IP on %s to %s or another "
              "address the other workers reach it at", rank, node, host, seen, host, node, seen);
    return -1;
}

//  Ranks on one machine (the same advertised address) share its cores and
//  memory bandwidth: usually slower than one rank with all the threads.
void
xinf_launch_shared_machine_warning (xinf_model_entry_t *model, const xinf_value_t *workers, xinf_replica_entry_t *replica)
{
    for (size_t rank = 0; rank < replica->n_ranks; rank++)
        for (size_t other = rank + 1; other < replica->n_ranks; other++) {
            const char *host = xinf_launch_field (xinf_launch_worker (workers, replica->ranks [rank].node), "host_ip");
            if (*host && streq (host, xinf_launch_field (xinf_launch_worker (workers, replica->ranks [other].node), "host_ip"))) {
                xinf_launch_warn (model, "ranks %zu (worker %s) and %zu (worker %s) run on one machine (%s): they "
                                  "share its cores and memory bandwidth, so the replica is likely slower than one "
                                  "worker there with all the threads; tensor parallelism pays across machines",
                                  rank, replica->ranks [rank].node, other, replica->ranks [other].node, host);
                return;
            }
        }
}

//  0, or -1 with the problem and its fix.
int
xinf_launch_address_check (xinf_model_entry_t *model, const xinf_value_t *workers, xinf_replica_entry_t *replica,
                 char *error, size_t size)
{
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        const char *node = replica->ranks [rank].node;
        const xinf_value_t *worker = xinf_launch_worker (workers, node);
        if (s_address_mismatch (model, worker, rank, node, error, size))
            return -1;
        if (!xinf_value_uint (xinf_map_get (worker, "data_port"))) {
            snprintf (error, size, "rank %zu (worker %s) has no data listener: no free port in its --data-ports "
                      "range; fix: give %s a range with free ports (--data-ports LOW-HIGH)", rank, node, node);
            return -1;
        }
    }
    //  Loopback is fine only while every rank is on the same host
    for (size_t rank = 0; rank < replica->n_ranks; rank++) {
        const xinf_value_t *worker = xinf_launch_worker (workers, replica->ranks [rank].node);
        const char *host = xinf_launch_field (worker, "host_ip"), *seen = xinf_launch_field (worker, "observed_address");
        for (size_t other = 0; xinf_address_is_loopback (host) && other < replica->n_ranks; other++) {
            const char *peer_seen = xinf_launch_field (xinf_launch_worker (workers, replica->ranks [other].node), "observed_address");
            if (other == rank || !*peer_seen || xinf_address_is_loopback (peer_seen) || !strcmp (peer_seen, seen))
                continue;
            snprintf (error, size, "address check: rank %zu (worker %s) advertises the loopback address %s while "
                      "rank %zu (worker %s) is on another host (%s): %s cannot reach %s there; fix: set -H / "
                      "XINF_HOST_IP on %s to its address on the network the workers share", rank,
                      replica->ranks [rank].node, host, other, replica->ranks [other].node, peer_seen,
                      replica->ranks [other].node, replica->ranks [rank].node, replica->ranks [rank].node);
            return -1;
        }
    }
    return 0;
}

// ---- the preflight mesh's verdict -----------------------------------------

static bool
s_in_replica (const xinf_replica_entry_t *replica, const char *node)
{
    return node && xinf_launch_uses (replica, node);
}

//  Every ordered pair of ranks must have been probed.
static void
s_missing_pairs (xinf_replica_entry_t *replica, const xinf_value_t *results, xinf_value_t *problems)
{
    for (size_t from = 0; from < replica->n_ranks; from++) {
        const xinf_value_t *reported = xinf_map_get (results, replica->ranks [from].node);
        for (size_t to = 0; reported && to < replica->n_ranks; to++) {
            bool found = to == from;
            for (size_t at = 0; !found && at < xinf_value_count (reported); at++)
                found = streq (xinf_launch_field (xinf_array_at (reported, at), "to"), replica->ranks [to].node);
            if (!found) {
                char text [256];
                xinf_textf (text, sizeof text, "worker %s reported no probe of %s", replica->ranks [from].node,
                            replica->ranks [to].node);
                xinf_array_push (problems, xinf_value_new_str (text));
            }
        }
    }
}

//  The part of a mesh between one replica's ranks: 0, or -1 with the
//  failed pairs and their fixes in 'error'.
int
xinf_launch_preflight_verdict (xinf_mesh_t *mesh, xinf_replica_entry_t *replica, const xinf_value_t *expected,
                     const xinf_value_t *results,
                     char *error, size_t size)
{
    xinf_value_t *mine = xinf_value_new_array ();
    xinf_value_t *mine_results = xinf_value_new_map ();
    for (size_t index = 0; index < xinf_value_count (expected); index++) {
        const char *from = xinf_value_str (xinf_array_at (expected, index));
        if (!s_in_replica (replica, from))
            continue;
        xinf_array_push (mine, xinf_value_new_str (from));
        const xinf_value_t *reported = xinf_map_get (results, from);
        if (!reported)
            continue;
        xinf_value_t *kept = xinf_value_new_array ();
        for (size_t at = 0; at < xinf_value_count (reported); at++)
            if (s_in_replica (replica, xinf_launch_field (xinf_array_at (reported, at), "to")))
                xinf_array_push (kept, xinf_value_dup (xinf_array_at (reported, at)));
        xinf_map_put (mine_results, from, kept);
    }
    xinf_value_t *problems = xinf_value_new_array ();
    if (xinf_value_count (mine) < replica->n_ranks)
        xinf_array_push (problems, xinf_value_new_str ("a rank's worker could not be asked to probe (not alive any more?)"));
    s_missing_pairs (replica, mine_results, problems);
    xinf_value_t *matrix = xinf_mesh_matrix (mesh, mine, mine_results, problems);
    size_t used = (size_t) snprintf (error, size, "preflight failed:");
    for (size_t index = 0; index < xinf_value_count (problems) && used < size; index++)
        used += (size_t) snprintf (error + used, size - used, "%s %s", index ? ";" : "",
                                   xinf_value_str (xinf_array_at (problems, index)));
    for (size_t index = 0; index < xinf_value_count (matrix); index++) {
        const xinf_value_t *pair = xinf_array_at (matrix, index);
        xinf_info ("supervisor", "preflight replica=%llu %s -> %s %s status=%s ms=%llu%s%s",
                   (unsigned long long) replica->index, xinf_launch_field (pair, "from"), xinf_launch_field (pair, "to"),
                   xinf_launch_field (pair, "endpoint"), xinf_launch_field (pair, "status"),
                   (unsigned long long) xinf_value_uint (xinf_map_get (pair, "ms")),
                   *xinf_launch_field (pair, "detail") ? " detail=" : "", xinf_launch_field (pair, "detail"));
    }
    int rc = xinf_value_count (problems) ? -1 : 0;
    xinf_value_destroy (&matrix);
    xinf_value_destroy (&problems);
    xinf_value_destroy (&mine);
    xinf_value_destroy (&mine_results);
    return rc;
}

//  Workers of another build than the supervisor's: a warning each.
void
xinf_launch_version_warnings (xinf_cluster_t *cluster, xinf_model_entry_t *model)
{
    xinf_value_t *workers = xinf_cluster_workers (cluster, zclock_mono ());
    for (size_t index = 0; index < model->count; index++) {
        xinf_replica_entry_t *replica = &model->replicas [index];
        size_t ranks = replica->n_ranks > 1 ? replica->n_ranks : 1;
        for (size_t rank = 0; rank < ranks; rank++) {
            const char *node = replica->n_ranks > 1 ? replica->ranks [rank].node : replica->node;
            const char *version = xinf_launch_field (xinf_launch_worker (workers, node), "version");
            if (*version && strcmp (version, XINF_VERSION_STRING) != 0)
                xinf_launch_warn (model, "worker %s runs xinf %s, the supervisor %s: run the same version on every "
                                  "node", node, version, XINF_VERSION_STRING);
        }
    }
    xinf_value_destroy (&workers);
}
