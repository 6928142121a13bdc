/*  xinf_scheduler_private: what the scheduler's two files share (the
    tables and the helpers that end, queue and dispatch requests). Not for
    other modules: use xinf_scheduler.h.
*/
#ifndef XINF_SCHEDULER_PRIVATE_H_INCLUDED
#define XINF_SCHEDULER_PRIVATE_H_INCLUDED

#include "xinf_scheduler.h"
#include "xinf_request_check.h"
#include "xinf_states.h"

#define CODES_MAX     32
#define ANSWERED_MAX  65536           //  answered requests remembered, for adoption

typedef struct {
    char node [65];
    bool ready;                       //  takes requests
    bool down;                        //  failed or lost: until next seen not ready then ready, or on another node
    size_t capacity;                  //  sequences it runs at once
    uint64_t context;                 //  positions a sequence may reach (its model info's; 0: not known)
    size_t outstanding;               //  requests sent to it and not ended
    int64_t retry_at;                 //  a RUN could not be sent: none before then (monotonic ms)
    int64_t backoff;                  //  the wait after the next refused RUN (0: the first)
} xinf_sched_replica_t;

typedef struct {
    char uid [65];
    xinf_sched_replica_t replicas [XINF_SCHED_REPLICAS_MAX];
    size_t count;                     //  highest replica index + 1
    zlistx_t *queue;                  //  xinf_sched_request_t by priority, first in first out among equals
    size_t queue_max;
    size_t queued_bytes;
    double service_ms;                //  running mean of a request's time on a replica
    size_t next;                      //  where ties between replicas start
} xinf_sched_model_t;

typedef struct {
    char key [600];                   //  "client/corr"
    char client [512];                //  the client's peer id
    uint64_t corr;
    char uid [65];
    xinf_value_t *body;               //  the GENERATE body, for a dispatch (NULL: adopted)
    size_t bytes;
    bool stream;
    bool adopted;                     //  reported by a worker after a restart
    bool relayed;                     //  a token of it reached the client
    int64_t deadline;                 //  monotonic ms, 0 = none
    int64_t submitted, dispatched;
    int64_t priority;                 //  GENERATE's: a lower value is dispatched first
    int64_t requeued;                 //  put back in the queue after a failure (monotonic ms)
    int state;                        //  xinf_request_fsm
    uint64_t run;                     //  the current run's id, 0 while queued
    int replica;                      //  -1 while queued
    char node [65];
    uint32_t tried;                   //  replicas it was sent to
    size_t attempts;
    size_t executor_faults;           //  runs of it that ended EXECUTOR_LOST / EXECUTOR_HUNG
    uint64_t context_over;            //  refused CONTEXT_EXCEEDED by a replica of this context: it goes
                                      //  only to one whose context is larger (0: to any)
    void *queue_handle;
    char last_code [32];              //  why it was displaced, if it was
    char last_reason [512];
} xinf_sched_request_t;

struct _xinf_scheduler_t {
    xinf_scheduler_io_t io;
    zhashx_t *models;                 //  uid -> xinf_sched_model_t
    zhashx_t *requests;               //  key -> xinf_sched_request_t (owned)
    zhashx_t *runs;                   //  run id -> xinf_sched_request_t
    uint64_t first_run, next_run;
    int64_t now;                      //  as of the latest call that gave the time
    int64_t grace_until;              //  clients may still be reconnecting until then
    zlistx_t *held;                   //  answers of adopted requests waiting for their client
    zhashx_t *answered;               //  keys of requests answered lately
    zlistx_t *answered_order;         //  the same keys, oldest first
    uint64_t submitted, answered_ok, retried, clients_gone, undelivered, resent;
    struct { char code [32]; uint64_t count; } codes [CODES_MAX];
};

//  A run's id as a table key.
void xinf_sched_run_key (uint64_t run, char *key, size_t size);
//  Counts a terminal answer by its code ("OK" for results).
void xinf_sched_count_code (xinf_scheduler_t *self, const char *code);
//  Takes a request out of its queue or off its replica (it stays listed).
void xinf_sched_detach (xinf_scheduler_t *self, xinf_sched_request_t *request);
//  Remembers that the request of 'key' was answered or given up.
void xinf_sched_remember (xinf_scheduler_t *self, const char *key);
//  Sends the request's one terminal answer (consumed) and forgets it.
void xinf_sched_end (xinf_scheduler_t *self, xinf_sched_request_t *request, xinf_msg_t **answer_p, const char *code);
//  Ends a request with ERROR code; 'cancel' stops it on its worker too.
void xinf_sched_end_error (xinf_scheduler_t *self, xinf_sched_request_t *request, bool cancel, const char *code,
                           const char *format, ...) __attribute__ ((format (printf, 5, 6)));
//  Cancels and forgets every request of a client that cannot be reached.
void xinf_sched_client_gone (xinf_scheduler_t *self, const char *client, const char *why);
//  Dispatches a model's queue while replicas have room (or ends it when
//  no replica is ready); _all: every model's.
void xinf_sched_pump (xinf_scheduler_t *self, xinf_sched_model_t *model, int64_t now);
void xinf_sched_pump_all (xinf_scheduler_t *self, int64_t now);
//  The replica (its index) that takes a queued request now, or -1
//  (xinf_scheduler_pick.c); whether a ready replica has room now.
int xinf_sched_pick (xinf_scheduler_t *self, xinf_sched_model_t *model, const xinf_sched_request_t *request,
                     int64_t now);
bool xinf_sched_room (const xinf_sched_model_t *model, int64_t now);
//  The model's entry, created when missing.
xinf_sched_model_t *xinf_sched_model_of (xinf_scheduler_t *self, const char *uid);
//  Puts displaced requests back at the head of their queue, oldest first.
void xinf_sched_requeue (xinf_scheduler_t *self, xinf_sched_model_t *model, xinf_sched_request_t **list, size_t count);
//  True when a request may be sent to another replica.
bool xinf_sched_retryable (const xinf_sched_request_t *request);
//  True when a ready replica of the model reports a context over 'context'.
bool xinf_sched_larger_ready (const xinf_sched_model_t *model, uint64_t context);
//  True while clients of adopted requests may still be reconnecting: an
//  answer that cannot be delivered yet is held (tokens are dropped).
bool xinf_sched_grace (xinf_scheduler_t *self, const xinf_sched_request_t *request);
//  ---- held answers (xinf_scheduler_held.c) ----
//  The held list's destructor.
void xinf_sched_held_free (void **item);
//  Sends a terminal answer (consumed). One the client cannot take now is
//  held and tried again: its queue is full (EAGAIN), or 'grace' (an
//  adopted request's client may still be reconnecting). -1 (errno set)
//  only when the client is gone.
int xinf_sched_send_answer (xinf_scheduler_t *self, const char *client, xinf_msg_t **answer_p, bool grace);
//  Tries the held answers whose pause is over (each tick).
void xinf_sched_deliver_held (xinf_scheduler_t *self);
//  Forgets the answers held for a client that is gone (undelivered).
void xinf_sched_drop_held (xinf_scheduler_t *self, const char *client);
//  A new request entry (not yet listed).
xinf_sched_request_t *xinf_sched_request_new (const char *client, uint64_t corr, const char *uid);

#endif
