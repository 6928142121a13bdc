/*  xinf_journal: the supervisor's state on disk (`--state-dir DIR`).

    DIR/events.jsonl: the event log, one JSON object a line ({time_ms,
    kind, node, detail}), appended as events happen and read back at start
    (the newest XINF_EVENTS_KEPT), so a restart keeps the history.
    DIR/models.json: the launched models with their launch parameters,
    replaced (written to a temporary file, then renamed) at every launch and
    terminate, so a restarted supervisor knows what was launched even when
    no worker reports it any more, and launches it again.

    A line or file that does not parse is skipped with a log line naming it:
    the journal never stops a supervisor from starting.
*/
#ifndef XINF_JOURNAL_H_INCLUDED
#define XINF_JOURNAL_H_INCLUDED

#include "xinf.h"

typedef struct _xinf_journal_t xinf_journal_t;

//  Opens (creating it if missing) the state directory; NULL with the
//  reason when it cannot be made or written.
xinf_journal_t *xinf_journal_new (const char *directory, char *error, size_t error_size);
void xinf_journal_destroy (xinf_journal_t **self_p);

//  Appends one event.
void xinf_journal_event (xinf_journal_t *self, uint64_t time_ms, const char *kind, const char *node,
                         const char *detail);

typedef void (xinf_journal_event_fn) (uint64_t time_ms, const char *kind, const char *node, const char *detail,
                                      void *arg);
//  Calls 'fn' for the saved events, oldest first, at most the newest
//  'limit'. Returns how many.
size_t xinf_journal_replay (xinf_journal_t *self, size_t limit, xinf_journal_event_fn *fn, void *arg);

//  Replaces the saved models with 'models' (an array of maps). 0 or -1.
int xinf_journal_save_models (xinf_journal_t *self, const xinf_value_t *models);
//  The saved models (an array of maps, the caller's), or NULL when none.
xinf_value_t *xinf_journal_load_models (xinf_journal_t *self);

#endif
