/*  xinf_transfer_relay: the supervisor's part in a model file transfer
    (protocols/node.md, "Model files").

    A worker that lacks a launch's file asks the supervisor (FILE_FETCH).
    The relay checks that a launch names that file for that worker, then
    looks for a copy: the supervisor's own model directories first (when
    it has any, --model-dir), then every other live worker in turn
    (FILE_OPEN, answered FILE_OPENED or FILE_ERROR NOT_FOUND). The first
    that has it serves; the relay passes the fetcher's FILE_READ / FILE_CLOSE
    to it and its FILE_HASHING / FILE_OPENED / FILE_DATA / FILE_ERROR back,
    each under the other side's transfer id. So the bytes travel over the
    sockets every node already has to the supervisor: no port more, no
    shared filesystem, keys and roles as for any worker message. When no
    node has it the fetcher gets FILE_ERROR NOT_FOUND naming the file.

    A transfer whose fetcher or source is lost ends (the other side is told);
    one with no message for XINF_TRANSFER_RELAY_IDLE_MS is dropped.
*/
#ifndef XINF_TRANSFER_RELAY_H_INCLUDED
#define XINF_TRANSFER_RELAY_H_INCLUDED

#include "xinf.h"
#include "xinf_cluster.h"
#include "xinf_model_dirs.h"

#define XINF_TRANSFER_RELAY_MAX      64
#define XINF_TRANSFER_RELAY_IDLE_MS  120000

typedef struct _xinf_transfer_relay_t xinf_transfer_relay_t;

//  True when a launch of 'uid' (that generation) names 'path' and places
//  a replica or rank on 'node'.
typedef bool (xinf_transfer_names_fn) (const char *uid, uint64_t generation, const char *node, const char *path,
                                       void *arg);

//  On the supervisor's actor thread. 'dirs' (lent; NULL: no copy of its
//  own) are the supervisor's model directories.
xinf_transfer_relay_t *xinf_transfer_relay_new (xinf_ctx_t *ctx, xinf_cluster_t *cluster, const char *node,
                                                xinf_model_dirs_t *dirs, xinf_transfer_names_fn *names_fn, void *arg);
void xinf_transfer_relay_destroy (xinf_transfer_relay_t **self_p);

//  FILE_FETCH, FILE_READ, FILE_CLOSE from fetchers; FILE_HASHING,
//  FILE_OPENED, FILE_DATA, FILE_ERROR from sources. False for other types.
bool xinf_transfer_relay_handle (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg);
void xinf_transfer_relay_worker_lost (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, const char *node);
void xinf_transfer_relay_tick (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, int64_t now);
//  Transfers under way.
size_t xinf_transfer_relay_count (xinf_transfer_relay_t *self);

#endif
