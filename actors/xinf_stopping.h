/*  xinf_stopping: a terminated model, kept and shown as `stopping` until
    its workers let it go.

    TERMINATE ends the model's requests and sends UNLOAD_MODEL to every
    worker that holds a replica or rank of it; the model then stays in the
    table, state `stopping`, until each of those workers reported the
    replica `stopped` (or `failed`) or is no longer alive, and at most
    XINF_STOPPING_CONFIRM_MS: then it leaves the table with an event that
    says which of the two it was. Meanwhile it takes no requests and its
    uid cannot be launched again (the workers still hold its memory).
*/
#ifndef XINF_STOPPING_H_INCLUDED
#define XINF_STOPPING_H_INCLUDED

#include "xinf_launch.h"

#define XINF_STOPPING_CONFIRM_MS  10000

//  The model is stopping from 'now' ('how': "terminated"); its UNLOADs
//  were sent. Every replica and rank not stopped yet is `stopping`.
void xinf_stopping_begin (xinf_model_entry_t *model, const char *how, int64_t now);
//  A MODEL_STATE of 'node' for replica 'index', rank 'rank' (0 for a
//  plain replica) of a stopping model: `stopped` or `failed` count as let go.
void xinf_stopping_report (xinf_model_entry_t *model, size_t index, size_t rank, const char *node,
                           const char *state);
//  True when the model can leave the table: every replica and rank let go
//  or on a worker that is not alive, or its time is up; 'why' says which.
bool xinf_stopping_settled (const xinf_model_entry_t *model, xinf_cluster_t *cluster, int64_t now,
                            char *why, size_t why_size);

#endif
