/*  xinf_scheduler_pick: which replica of a model takes a queued request:
    the least loaded one with a free place whose context holds it (a
    retried request preferring one it did not fail on), or, for a request
    of a lower priority value than some running there, a full one whose
    batcher preempts one of those for it (see xinf_scheduler_private.h).
*/
#include "xinf_scheduler_private.h"

//  Runs on replica 'index' of a higher priority value than 'priority':
//  those a request of that priority may displace there.
static size_t
s_lower_runs (xinf_scheduler_t *self, const xinf_sched_model_t *model, size_t index, int64_t priority)
{
    size_t count = 0;
    for (xinf_sched_request_t *run = (xinf_sched_request_t *) zhashx_first (self->runs); run;
         run = (xinf_sched_request_t *) zhashx_next (self->runs))
        count += run->replica == (int) index && run->priority > priority && streq (run->uid, model->uid);
    return count;
}

//  Whether a replica may be sent a request now: ready, and not resting
//  after its worker refused a RUN.
static bool
s_pickable (const xinf_sched_replica_t *replica, int64_t now)
{
    return replica->ready && !replica->down && now >= replica->retry_at;
}

//  Whether the replica takes a request now: pickable, with a free slot.
static bool
s_has_room (const xinf_sched_replica_t *replica, int64_t now)
{
    return s_pickable (replica, now) && replica->outstanding < replica->capacity;
}

//  Whether a replica's context may hold the request: any, unless a
//  replica refused it CONTEXT_EXCEEDED; then only a larger one.
static bool
s_fits (const xinf_sched_replica_t *replica, const xinf_sched_request_t *request)
{
    return !request->context_over || replica->context > request->context_over;
}

//  The ready replica with room and the least outstanding work relative to
//  its capacity, among those whose context may hold the request (after a
//  CONTEXT_EXCEEDED, a larger one); a retried request prefers one it was
//  not sent to, and waits for such a replica while one is ready, for
//  XINF_SCHED_RETRY_WAIT_MS at most after it was put back in the queue:
//  then it may go back to one it was sent to (the other may be stuck).
//  -1 if none.
static int
s_pick (xinf_sched_model_t *model, const xinf_sched_request_t *request, int64_t now)
{
    int best = -1;
    bool best_untried = false, untried_ready = false;
    if (now - request->requeued < XINF_SCHED_RETRY_WAIT_MS)
        for (size_t index = 0; index < model->count; index++)
            untried_ready |= s_pickable (&model->replicas [index], now) && s_fits (&model->replicas [index], request)
                          && !(request->tried & (1u << index));
    for (size_t step = 0; step < model->count; step++) {
        size_t index = (model->next + step) % model->count;
        xinf_sched_replica_t *replica = &model->replicas [index];
        if (!s_has_room (replica, now) || !s_fits (replica, request))
            continue;
        bool untried = !(request->tried & (1u << index));
        if (untried_ready && !untried)
            continue;                 //  a retry waits for a replica it did not fail on
        xinf_sched_replica_t *other = best >= 0 ? &model->replicas [best] : NULL;
        if (!other || (untried && !best_untried)
        ||  (untried == best_untried
             && replica->outstanding * other->capacity < other->outstanding * replica->capacity)) {
            best = (int) index;
            best_untried = untried;
        }
    }
    if (best >= 0)
        model->next = (size_t) best + 1;
    return best;
}

//  Whether a ready replica has room now (for any request).
bool
xinf_sched_room (const xinf_sched_model_t *model, int64_t now)
{
    for (size_t index = 0; index < model->count; index++)
        if (s_has_room (&model->replicas [index], now))
            return true;
    return false;
}

//  A full replica a request may still go to for its priority: one that
//  runs more requests of a higher priority value than it has taken over
//  its capacity (its batcher preempts one of them for it, xinf_batcher.h),
//  twice its capacity at most, and not one the request was sent to
//  before (a retry goes by s_pick's rules); the least loaded. -1 if none.
static int
s_pick_over (xinf_scheduler_t *self, xinf_sched_model_t *model, const xinf_sched_request_t *request, int64_t now)
{
    int best = -1;
    for (size_t index = 0; index < model->count; index++) {
        xinf_sched_replica_t *replica = &model->replicas [index];
        if (!s_pickable (replica, now) || !s_fits (replica, request) || replica->outstanding < replica->capacity
        ||  replica->outstanding >= 2 * replica->capacity || request->tried & (1u << index))
            continue;                 //  not full (s_pick's), over twice, or one it was sent to before
        size_t over = replica->outstanding > replica->capacity ? replica->outstanding - replica->capacity : 0;
        if (s_lower_runs (self, model, index, request->priority) <= over)
            continue;
        xinf_sched_replica_t *other = best >= 0 ? &model->replicas [best] : NULL;
        if (!other || replica->outstanding * other->capacity < other->outstanding * replica->capacity)
            best = (int) index;
    }
    return best;
}

int
xinf_sched_pick (xinf_scheduler_t *self, xinf_sched_model_t *model, const xinf_sched_request_t *request, int64_t now)
{
    int index = s_pick (model, request, now);
    return index >= 0 ? index : s_pick_over (self, model, request, now);
}
