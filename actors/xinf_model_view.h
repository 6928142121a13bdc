/*  xinf_model_view: a launched model as the client protocol shows it
    (protocols/client.md: LAUNCH_PROGRESS_REPLY, LIST_MODELS_REPLY): its
    state with the reason, its replicas and ranks, what they reported.  */
#ifndef XINF_MODEL_VIEW_H_INCLUDED
#define XINF_MODEL_VIEW_H_INCLUDED

#include "xinf_launch.h"

//  The model's state from its replicas: failed > relaunching > loading >
//  ready > stopped; 'error' says why when failed or relaunching.
const char *xinf_model_view_state (const xinf_model_entry_t *model, const char **error);
//  {replica, worker, state, bytes_done, bytes_total, error, note, ranks}
xinf_value_t *xinf_model_view_replica (const xinf_replica_entry_t *replica);
//  Fills a LAUNCH_PROGRESS_REPLY body.
void xinf_model_view_progress (const xinf_model_entry_t *model, xinf_value_t *body);
//  One LIST_MODELS_REPLY item.
xinf_value_t *xinf_model_view_item (const xinf_model_entry_t *model);

#endif
