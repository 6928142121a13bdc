/*  xinf_restore: a launched model as the journal keeps it (xinf_journal.h)
    and back: uid, path, generation, replicas and where they were, and the
    launch parameters. A restored model's replicas wait for their workers to
    report them (a supervisor restart with the workers alive: adopted as
    before); those not reported within the restart window are relaunched
    (xinf_heal.h), so a restart after the workers lost their replicas too
    brings the models back. A tensor-parallel replica keeps every rank's
    worker: its ranks are adopted from their reports, and with its launch
    parameters known it relaunches as a group when a rank is lost, or when
    a rank's worker did not report it within the restart window (the ranks
    that came back unload, the group is placed again on the workers alive).
*/
#ifndef XINF_RESTORE_H_INCLUDED
#define XINF_RESTORE_H_INCLUDED

#include "xinf_launch.h"

//  A uid a launch accepts: 1-64 of A-Z a-z 0-9 . _ - (the caller checks the length).
bool xinf_restore_uid_valid (const char *uid);
//  The model as a map of plain values.
xinf_value_t *xinf_restore_describe (const xinf_model_entry_t *model);
//  A model entry from such a map, every field checked; its replicas are
//  `relaunching`, restoring, at their saved workers. NULL with the reason.
xinf_model_entry_t *xinf_restore_entry (const xinf_value_t *saved, char *error, size_t error_size);
//  A restored replica that its worker did not report, or a restored
//  tensor-parallel one with a rank no worker reported: the worker to
//  relaunch it without (the first such rank's, rank 0's when none came
//  back); NULL when it and all its ranks came back, or it is not waiting
//  (failed, or no longer restoring).
const char *xinf_restore_unreported (const xinf_replica_entry_t *replica);

#endif
