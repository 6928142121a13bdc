/*  xinf_inflight: a worker's record of the requests its replicas run, so
    that a restarted supervisor can still answer them.

    The worker agent notes every RUN it passes to a replica (the run id,
    the model and replica, the client's peer id and corr, the deadline),
    marks a run whose token went up, and keeps a copy of each run's last
    word (RUN_DONE or RUN_FAILED) until the supervisor acknowledges it
    (RUN_ACK), for a short while at most: a supervisor that died just
    before may never have got it. After the
    worker registers again it reports the runs (HELLO's `requests`) and
    sends the kept last words again; the supervisor adopts the runs of its
    predecessor and ignores what it answered already.
*/
#ifndef XINF_INFLIGHT_H_INCLUDED
#define XINF_INFLIGHT_H_INCLUDED

#include "xinf.h"

#define XINF_INFLIGHT_REPORT_MAX  4096   //  runs reported in one HELLO

typedef struct _xinf_inflight_t xinf_inflight_t;

xinf_inflight_t *xinf_inflight_new (void);
void xinf_inflight_destroy (xinf_inflight_t **self_p);

//  A RUN body passed to a replica (`request`, `uid`, `replica`, and the
//  supervisor's `client`, `corr`, `deadline_ms` when present).
void xinf_inflight_started (xinf_inflight_t *self, const xinf_value_t *run, int64_t now);
//  RUN_TOKEN, RUN_DONE or RUN_FAILED going up from a replica.
void xinf_inflight_reply (xinf_inflight_t *self, xinf_msg_t *msg, int64_t now);
//  The supervisor cancelled the run, or acknowledged its last word
//  (RUN_ACK): it is not reported any more.
void xinf_inflight_forget (xinf_inflight_t *self, uint64_t request);
//  A replica stopped: its runs are over (their last words were relayed).
void xinf_inflight_forget_replica (xinf_inflight_t *self, const char *uid, uint64_t replica);
//  Drops last words kept longer than keep_ms.
void xinf_inflight_prune (xinf_inflight_t *self, int64_t now, int64_t keep_ms);
//  The runs, for HELLO: [{request, uid, replica, client, corr, stream,
//  relayed, deadline_ms}], running ones and ended ones whose last word is
//  kept, at most XINF_INFLIGHT_REPORT_MAX.
xinf_value_t *xinf_inflight_report (xinf_inflight_t *self, int64_t now);
//  The kept last words, in the order they ended; the caller sends them.
zlist_t *xinf_inflight_take_finals (xinf_inflight_t *self);
size_t xinf_inflight_size (xinf_inflight_t *self);

#endif
