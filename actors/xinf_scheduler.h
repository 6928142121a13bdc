/*  xinf_scheduler: the supervisor's request scheduler.

    It owns every GENERATE from the moment it is accepted until its one
    terminal answer: per model a bounded FIFO queue, routing to the ready
    replica with the least outstanding work (requests sent to it and not
    ended, against its capacity: `max_seqs` from its model info, else 1),
    OVERLOADED with a retry-after beyond the queue bound, per-request
    deadlines, cancellation (a client's CANCEL, a client that is gone or
    does not read), and a retry on another replica when a replica fails or
    is lost before the request's first token reached the client (after an
    executor crash or hang once only: the request may be the cause), or
    when a replica's context cannot hold its prompt (CONTEXT_EXCEEDED)
    and another replica's is larger (then only to such a one). A
    retried request keeps its place at the head of the queue and waits
    for a replica it was not sent to (XINF_SCHED_RETRY_WAIT_MS at most),
    while the requests behind it go to a replica with room meanwhile.

    It is an object on the supervisor actor's thread, not an actor of its
    own: its inputs (client requests, worker replies, replica states, the
    tick) all arrive on that thread, and its outputs go through the owner's
    sockets (the io callbacks), so that the unit tests drive it message by
    message with no sockets or processes.

    Each dispatch of a request is a "run" with an id of its own, carried as
    RUN's `request`: a retried request gets a new run id, so that a late
    answer of an earlier attempt (a frozen worker that wakes up) is
    recognised and ignored. Run ids start at the wall clock in
    microseconds, so that ids of a restarted supervisor never collide with
    its predecessor's, which workers report after a restart (adopt).
*/
#ifndef XINF_SCHEDULER_H_INCLUDED
#define XINF_SCHEDULER_H_INCLUDED

#include "xinf.h"

#define XINF_SCHED_REPLICAS_MAX  16
#define XINF_SCHED_QUEUE_DEFAULT 256
#define XINF_SCHED_QUEUE_BYTES   (64 << 20)   //  queued bodies per model
#define XINF_SCHED_ATTEMPTS      3            //  dispatches per request at most
#define XINF_SCHED_FAULT_RETRIES 1            //  retries of a request after its executor crashed or hung
#define XINF_SCHED_PASSED        64           //  retried requests the queue passes while they wait for a replica
#define XINF_SCHED_RETRY_WAIT_MS 2000         //  a retry waits this long at most for a replica it was not sent to
#define XINF_SCHED_BACKOFF_MS    100          //  a replica whose RUN could not be sent rests this long,
#define XINF_SCHED_BACKOFF_MAX   5000         //  doubled at each refusal in a row up to this
#define XINF_SCHED_HOLD_MS       60000        //  an answer a client with a full queue cannot take is tried this long

typedef struct _xinf_scheduler_t xinf_scheduler_t;

//  How the scheduler reaches the world; the owner sends, tests record.
//  Each returns 0, or -1 when the peer cannot take the message now, with
//  errno EAGAIN when its queue is full (slow: later it may) and another
//  (EHOSTUNREACH) when it is gone; the message is consumed either way.
typedef struct {
    int (*to_node) (void *arg, const char *node, xinf_msg_t **msg_p);
    int (*to_client) (void *arg, const char *client, xinf_msg_t **msg_p);
    void *arg;
} xinf_scheduler_io_t;

xinf_scheduler_t *xinf_scheduler_new (const xinf_scheduler_io_t *io);
void xinf_scheduler_destroy (xinf_scheduler_t **self_p);

//  ---- models and replicas, as the model table sees them ----------------
//  Creates or updates a model's queue bound (0: the default).
void xinf_scheduler_model_set (xinf_scheduler_t *self, const char *uid, size_t queue_max);
//  A replica's node, whether it takes requests, and its capacity (>= 1).
//  Queued requests are dispatched when it has room. One that failed
//  (replica_down, or a run's EXECUTOR_LOST / EXECUTOR_HUNG) takes nothing
//  until it is set not ready and then ready again, or on another node:
//  being set ready again as before is no recovery. A ready replica whose
//  worker cannot take a RUN (its connection is being made again, its
//  queue is full) stays ready: it rests XINF_SCHED_BACKOFF_MS, doubled at
//  each refusal in a row up to XINF_SCHED_BACKOFF_MAX, while its requests
//  go to other replicas or wait in the queue (within their deadlines).
void xinf_scheduler_replica_set (xinf_scheduler_t *self, const char *uid, size_t index, const char *node,
                                 bool ready, size_t capacity, int64_t now);
//  A replica's context: the positions one sequence may reach there (its
//  model info's `context`; 0: not known), which replicas of one model
//  may differ in (each sizes its KV cache). A request a replica refuses
//  with CONTEXT_EXCEEDED is retried only on a ready replica whose context
//  is larger, and answered at once when there is none. Set it before
//  xinf_scheduler_replica_set, which dispatches.
void xinf_scheduler_replica_context (xinf_scheduler_t *self, const char *uid, size_t index, uint64_t context);
//  Worker 'node' registered (again): its replicas' rests after refused
//  RUNs end, and queued requests may go to them at once.
void xinf_scheduler_node_back (xinf_scheduler_t *self, const char *node, int64_t now);
//  A replica failed or was lost: it takes nothing more; its requests go
//  back to the head of the queue when no token of theirs reached the
//  client (and attempts are left), else end with 'code' and 'reason'.
void xinf_scheduler_replica_down (xinf_scheduler_t *self, const char *uid, size_t index, const char *code,
                                  const char *reason, int64_t now);
//  A model is terminated: every request of it ends with code and reason.
void xinf_scheduler_model_drop (xinf_scheduler_t *self, const char *uid, const char *code, const char *reason);

//  ---- requests ---------------------------------------------------------
//  A checked GENERATE body (taken) from 'client' with its corr and its
//  budget (ms, 0 = none). It is dispatched, queued, or answered at once
//  (OVERLOADED with retry_after_ms, MODEL_NOT_READY when no replica is
//  ready). The corr of a request of this client in flight is the same
//  request sent again (after a reconnect): it is absorbed, not run twice.
void xinf_scheduler_submit (xinf_scheduler_t *self, const char *client, uint64_t corr, uint64_t budget_ms,
                            xinf_value_t **body_p, int64_t now);
//  RUN_TOKEN, RUN_DONE or RUN_FAILED from worker 'node' (body checked
//  here); replies of runs that ended or that run elsewhere are ignored.
void xinf_scheduler_run_reply (xinf_scheduler_t *self, const char *node, xinf_msg_t *msg, int64_t now);
//  The client cancels its request 'corr': it ends with ERROR CANCELLED and
//  the worker stops it. False when no such request is in flight.
bool xinf_scheduler_cancel (xinf_scheduler_t *self, const char *client, uint64_t corr, int64_t now);
//  Ends requests whose deadline passed (DEADLINE_EXCEEDED).
void xinf_scheduler_tick (xinf_scheduler_t *self, int64_t now);
//  In-flight requests a worker reports after it registers again (HELLO's
//  `requests`): runs of an earlier supervisor are adopted, so that their
//  answers reach clients that can still be addressed.
void xinf_scheduler_adopt (xinf_scheduler_t *self, const char *node, const xinf_value_t *requests, int64_t now);
//  Until 'until' (monotonic ms), clients of adopted requests may still be
//  reconnecting to this restarted supervisor: their tokens that cannot be
//  delivered are dropped, their answers held and sent when they are back
//  (tried each tick); after it, undelivered answers are logged, counted.
void xinf_scheduler_set_grace (xinf_scheduler_t *self, int64_t until);
//  Answers every request with ERROR code (the supervisor stops).
void xinf_scheduler_end_all (xinf_scheduler_t *self, const char *code, const char *reason);

//  ---- what it knows ---------------------------------------------------
size_t xinf_scheduler_queued (xinf_scheduler_t *self, const char *uid);
//  Requests sent to a replica and not ended.
size_t xinf_scheduler_outstanding (xinf_scheduler_t *self, const char *uid, size_t index);
//  Counters and sizes: submitted, answered, by_code {CODE: n}, queued,
//  running, retried, clients_gone, undelivered, resent.
xinf_value_t *xinf_scheduler_stats (xinf_scheduler_t *self);

#endif
