/*  xinf_scheduler: the supervisor's request scheduler.  */
#include "xinf_scheduler.h"
#include "xinf_request_check.h"

#include <stdarg.h>

#define CODES_MAX     32
#define ANSWERED_MAX  65536           //  answered requests remembered, for adoption

typedef struct {
    char node [65];
    bool ready;                       //  takes requests
    bool down;                        //  failed or lost, until ready again
    size_t capacity;                  //  sequences it runs at once
    size_t outstanding;               //  requests sent to it and not ended
} s_replica_t;

typedef struct {
    char uid [65];
    s_replica_t replicas [XINF_SCHED_REPLICAS_MAX];
    size_t count;                     //  highest replica index + 1
    zlistx_t *queue;                  //  s_request_t, first in first out
    size_t queue_max;
    size_t queued_bytes;
    double service_ms;                //  running mean of a request's time on a replica
    size_t next;                      //  where ties between replicas start
} s_model_t;

typedef struct {
    char key [600];                   //  "client/corr"
    char client [512];                //  the client's peer id
    uint64_t corr;
    char uid [65];
    xinf_value_t *body;               //  the GENERATE body, for a dispatch (NULL: adopted)
    size_t bytes;
    bool stream;
    bool relayed;                     //  a token of it reached the client
    int64_t deadline;                 //  monotonic ms, 0 = none
    int64_t submitted, dispatched;
    uint64_t run;                     //  the current run's id, 0 while queued
    int replica;                      //  -1 while queued
    char node [65];
    uint32_t tried;                   //  replicas it was sent to
    size_t attempts;
    void *queue_handle;
    char last_code [32];              //  why it was displaced, if it was
    char last_reason [512];
} s_request_t;

struct _xinf_scheduler_t {
    xinf_scheduler_io_t io;
    zhashx_t *models;                 //  uid -> s_model_t
    zhashx_t *requests;               //  key -> s_request_t (owned)
    zhashx_t *runs;                   //  run id -> s_request_t
    uint64_t first_run, next_run;
    zhashx_t *answered;               //  keys of requests answered lately
    zlistx_t *answered_order;         //  the same keys, oldest first
    uint64_t submitted, answered_ok, retried, clients_gone, undelivered, resent;
    struct { char code [32]; uint64_t count; } codes [CODES_MAX];
};

static void
s_model_free (void **item)
{
    s_model_t *model = (s_model_t *) *item;
    zlistx_destroy (&model->queue);
    free (model);
    *item = NULL;
}

static void
s_request_free (void **item)
{
    s_request_t *request = (s_request_t *) *item;
    xinf_value_destroy (&request->body);
    free (request);
    *item = NULL;
}

xinf_scheduler_t *
xinf_scheduler_new (const xinf_scheduler_io_t *io)
{
    xinf_scheduler_t *self = calloc (1, sizeof *self);
    assert (self);
    self->io = *io;
    self->models = zhashx_new ();
    zhashx_set_destructor (self->models, s_model_free);
    self->requests = zhashx_new ();
    zhashx_set_destructor (self->requests, s_request_free);
    self->runs = zhashx_new ();
    self->answered = zhashx_new ();
    self->answered_order = zlistx_new ();
    zlistx_set_destructor (self->answered_order, (zlistx_destructor_fn *) zstr_free);
    self->first_run = (uint64_t) zclock_time () * 1000;
    self->next_run = self->first_run;
    return self;
}

void
xinf_scheduler_destroy (xinf_scheduler_t **self_p)
{
    if (self_p && *self_p) {
        xinf_scheduler_t *self = *self_p;
        zhashx_destroy (&self->runs);
        zhashx_destroy (&self->answered);
        zlistx_destroy (&self->answered_order);
        zhashx_destroy (&self->models);
        zhashx_destroy (&self->requests);
        free (self);
        *self_p = NULL;
    }
}

static void
s_run_key (uint64_t run, char *key, size_t size)
{
    snprintf (key, size, "%llu", (unsigned long long) run);
}

static void
s_count_code (xinf_scheduler_t *self, const char *code)
{
    size_t at = 0;
    while (at < CODES_MAX && *self->codes [at].code && strcmp (self->codes [at].code, code))
        at++;
    if (at == CODES_MAX)
        at = CODES_MAX - 1;           //  the last slot takes the rest
    if (!*self->codes [at].code)
        snprintf (self->codes [at].code, sizeof self->codes [at].code, "%s", code);
    self->codes [at].count++;
}

//  Takes a request out of its queue or off its replica (it stays listed).
static void
s_detach (xinf_scheduler_t *self, s_request_t *request)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, request->uid);
    if (request->queue_handle && model) {
        zlistx_delete (model->queue, request->queue_handle);
        model->queued_bytes -= request->bytes;
    }
    request->queue_handle = NULL;
    if (request->run) {
        char key [32];
        s_run_key (request->run, key, sizeof key);
        zhashx_delete (self->runs, key);
        if (model && request->replica >= 0 && model->replicas [request->replica].outstanding)
            model->replicas [request->replica].outstanding--;
    }
    request->run = 0;
    request->replica = -1;
}

static void s_remember (xinf_scheduler_t *self, const char *key);

static void
s_forget (xinf_scheduler_t *self, s_request_t *request)
{
    s_remember (self, request->key);
    s_detach (self, request);
    zhashx_delete (self->requests, request->key);
}

//  RUN_CANCEL to the worker running it: it stops at its next step.
static void
s_cancel_run (xinf_scheduler_t *self, s_request_t *request)
{
    if (!request->run || !*request->node)
        return;
    xinf_msg_t *cancel = xinf_msg_new ("RUN_CANCEL");
    xinf_map_put_uint (xinf_msg_body (cancel), "request", request->run);
    xinf_map_put_str (xinf_msg_body (cancel), "uid", request->uid);
    xinf_map_put_uint (xinf_msg_body (cancel), "replica", (uint64_t) request->replica);
    self->io.to_node (self->io.arg, request->node, &cancel);
}

static void s_client_gone (xinf_scheduler_t *self, const char *client, const char *why);

//  Remembers that a request was answered (or given up), so that a run of
//  it that a worker reports after a supervisor restart is not answered
//  twice.
static void
s_remember (xinf_scheduler_t *self, const char *key)
{
    if (zhashx_lookup (self->answered, key))
        return;
    if (zlistx_size (self->answered_order) >= ANSWERED_MAX) {
        char *oldest = (char *) zlistx_first (self->answered_order);
        zhashx_delete (self->answered, oldest);
        zlistx_delete (self->answered_order, zlistx_cursor (self->answered_order));
    }
    zhashx_insert (self->answered, key, self);
    zlistx_add_end (self->answered_order, strdup (key));
}

//  Sends the request's one terminal answer and forgets it. An answer the
//  client cannot take is logged and counted, and its other requests are
//  cancelled: it is gone or does not read.
static void
s_end (xinf_scheduler_t *self, s_request_t *request, xinf_msg_t **answer_p, const char *code)
{
    char client [512];
    snprintf (client, sizeof client, "%s", request->client);
    uint64_t corr = request->corr;
    xinf_msg_set_corr (*answer_p, corr);
    s_count_code (self, code);
    if (streq (code, "OK"))
        self->answered_ok++;
    s_forget (self, request);
    if (self->io.to_client (self->io.arg, client, answer_p)) {
        self->undelivered++;
        xinf_warn ("scheduler", "answer undelivered client=%s corr=%llu outcome=%s: the client is gone or not reading",
                   client, (unsigned long long) corr, code);
        s_client_gone (self, client, "its answer could not be delivered");
    }
}

static void
s_end_error (xinf_scheduler_t *self, s_request_t *request, bool cancel, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

//  Ends a request with ERROR code; 'cancel' stops it on its worker too.
static void
s_end_error (xinf_scheduler_t *self, s_request_t *request, bool cancel, const char *code, const char *format, ...)
{
    char text [768];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    if (cancel)
        s_cancel_run (self, request);
    xinf_msg_t *error = xinf_msg_new_error (request->corr, code, "%s", text);
    s_end (self, request, &error, code);
}

//  The keys of the requests that 'match' accepts: ending one request can
//  forget others (a client found gone), so callers look each key up again.
static zlist_t *
s_keys (xinf_scheduler_t *self, bool (*match) (const s_request_t *request, const void *arg), const void *arg)
{
    zlist_t *keys = zlist_new ();
    zlist_autofree (keys);
    for (s_request_t *request = (s_request_t *) zhashx_first (self->requests); request;
         request = (s_request_t *) zhashx_next (self->requests))
        if (match (request, arg))
            zlist_append (keys, request->key);
    return keys;
}

//  Every request of a client that is gone (or cannot take messages) is
//  cancelled on its worker and forgotten: nobody can be answered.
static void
s_client_gone (xinf_scheduler_t *self, const char *client, const char *why)
{
    zlist_t *doomed = zlist_new ();
    for (s_request_t *request = (s_request_t *) zhashx_first (self->requests); request;
         request = (s_request_t *) zhashx_next (self->requests))
        if (streq (request->client, client))
            zlist_append (doomed, request);
    size_t count = zlist_size (doomed);
    for (s_request_t *request = (s_request_t *) zlist_first (doomed); request;
         request = (s_request_t *) zlist_next (doomed)) {
        s_cancel_run (self, request);
        s_count_code (self, "CLIENT_GONE");
        s_forget (self, request);
    }
    zlist_destroy (&doomed);
    self->clients_gone++;
    xinf_warn ("scheduler", "client gone client=%s reason=\"%s\" requests_cancelled=%zu", client, why, count);
}

static size_t
s_ready_capacity (s_model_t *model, size_t *ready)
{
    size_t capacity = 0;
    *ready = 0;
    for (size_t index = 0; index < model->count; index++)
        if (model->replicas [index].ready && !model->replicas [index].down) {
            capacity += model->replicas [index].capacity;
            (*ready)++;
        }
    return capacity;
}

//  How long a refused client should wait: the queue's expected drain time.
static uint64_t
s_retry_after (s_model_t *model)
{
    size_t ready;
    size_t capacity = s_ready_capacity (model, &ready);
    double ms = model->service_ms * ((double) zlistx_size (model->queue) / (double) (capacity ? capacity : 1) + 1);
    return ms < 50 ? 50 : ms > 60000 ? 60000 : (uint64_t) ms;
}

//  The ready replica with room and the least outstanding work relative to
//  its capacity; a retried request waits for one it was not sent to while
//  such a replica is ready. -1 if none.
static int
s_pick (s_model_t *model, const s_request_t *request)
{
    int best = -1;
    bool best_untried = false, untried_ready = false;
    for (size_t index = 0; index < model->count; index++)
        untried_ready |= model->replicas [index].ready && !model->replicas [index].down
                      && !(request->tried & (1u << index));
    for (size_t step = 0; step < model->count; step++) {
        size_t index = (model->next + step) % model->count;
        s_replica_t *replica = &model->replicas [index];
        if (!replica->ready || replica->down || replica->outstanding >= replica->capacity)
            continue;
        bool untried = !(request->tried & (1u << index));
        if (untried_ready && !untried)
            continue;                 //  a retry waits for a replica it did not fail on
        s_replica_t *other = best >= 0 ? &model->replicas [best] : NULL;
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

//  Sends the request to a replica as a new run; -1 when its worker
//  cannot be reached (the replica then takes nothing until set again).
static int
s_dispatch (xinf_scheduler_t *self, s_model_t *model, s_request_t *request, int index, int64_t now)
{
    s_replica_t *replica = &model->replicas [index];
    xinf_msg_t *run = xinf_msg_new ("RUN");
    xinf_value_t *body = xinf_msg_body (run);
    for (size_t at = 0; at < xinf_value_count (request->body); at++)
        xinf_map_put (body, xinf_map_key_at (request->body, at), xinf_value_dup (xinf_map_value_at (request->body, at)));
    request->run = self->next_run++;
    xinf_map_put_uint (body, "request", request->run);
    xinf_map_put_uint (body, "replica", (uint64_t) index);
    xinf_map_put_str (body, "client", request->client);
    xinf_map_put_uint (body, "corr", request->corr);
    if (request->deadline)
        xinf_map_put_uint (body, "deadline_ms", (uint64_t) (request->deadline > now ? request->deadline - now : 1));
    if (self->io.to_node (self->io.arg, replica->node, &run)) {
        xinf_warn ("scheduler", "cannot reach worker %s for model %s replica %d: it takes nothing more until it reports",
                   replica->node, model->uid, index);
        replica->ready = false;
        request->run = 0;
        return -1;
    }
    char key [32];
    s_run_key (request->run, key, sizeof key);
    zhashx_insert (self->runs, key, request);
    request->replica = index;
    snprintf (request->node, sizeof request->node, "%s", replica->node);
    request->tried |= 1u << index;
    request->attempts++;
    request->dispatched = now;
    replica->outstanding++;
    return 0;
}

//  Dispatches queued requests while a replica has room. When no replica
//  is ready at all, the queued requests end with the cause.
static void
s_pump (xinf_scheduler_t *self, s_model_t *model, int64_t now)
{
    s_request_t *head;
    while ((head = (s_request_t *) zlistx_first (model->queue))) {
        int index = s_pick (model, head);
        if (index < 0)
            break;
        zlistx_delete (model->queue, head->queue_handle);
        head->queue_handle = NULL;
        model->queued_bytes -= head->bytes;
        if (s_dispatch (self, model, head, index, now)) {
            head->queue_handle = zlistx_add_start (model->queue, head);
            model->queued_bytes += head->bytes;
        }
    }
    size_t ready;
    s_ready_capacity (model, &ready);
    while (!ready && (head = (s_request_t *) zlistx_first (model->queue))) {
        if (*head->last_code)
            s_end_error (self, head, false, head->last_code, "%s; no other replica of %s is ready", head->last_reason,
                         model->uid);
        else
            s_end_error (self, head, false, "MODEL_NOT_READY", "no replica of model %s is ready", model->uid);
    }
}

//  Dispatches what fits after requests ended (capacity freed).
static void
s_pump_all (xinf_scheduler_t *self, int64_t now)
{
    zlist_t *uids = zlist_new ();
    zlist_autofree (uids);
    for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model;
         model = (s_model_t *) zhashx_next (self->models))
        zlist_append (uids, model->uid);
    for (char *uid = (char *) zlist_first (uids); uid; uid = (char *) zlist_next (uids)) {
        s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
        if (model)
            s_pump (self, model, now);
    }
    zlist_destroy (&uids);
}

static s_model_t *
s_model_of (xinf_scheduler_t *self, const char *uid)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
    if (!model) {
        model = calloc (1, sizeof *model);
        assert (model);
        snprintf (model->uid, sizeof model->uid, "%s", uid);
        model->queue = zlistx_new ();
        model->queue_max = XINF_SCHED_QUEUE_DEFAULT;
        model->service_ms = 500;
        zhashx_insert (self->models, uid, model);
    }
    return model;
}

void
xinf_scheduler_model_set (xinf_scheduler_t *self, const char *uid, size_t queue_max)
{
    s_model_of (self, uid)->queue_max = queue_max ? queue_max : XINF_SCHED_QUEUE_DEFAULT;
}

void
xinf_scheduler_replica_set (xinf_scheduler_t *self, const char *uid, size_t index, const char *node,
                            bool ready, size_t capacity, int64_t now)
{
    if (index >= XINF_SCHED_REPLICAS_MAX)
        return;
    s_model_t *model = s_model_of (self, uid);
    s_replica_t *replica = &model->replicas [index];
    snprintf (replica->node, sizeof replica->node, "%s", node);
    replica->ready = ready;
    if (ready)
        replica->down = false;
    replica->capacity = capacity ? capacity : 1;
    if (index >= model->count)
        model->count = index + 1;
    s_pump (self, model, now);
}

static int
s_by_submitted (const void *left, const void *right)
{
    const s_request_t *a = *(s_request_t * const *) left, *b = *(s_request_t * const *) right;
    return a->submitted < b->submitted ? -1 : a->submitted > b->submitted;
}

//  Puts displaced requests back at the head of their queue, oldest first.
static void
s_requeue (xinf_scheduler_t *self, s_model_t *model, s_request_t **list, size_t count)
{
    qsort (list, count, sizeof *list, s_by_submitted);
    for (size_t at = count; at-- > 0;) {
        s_request_t *request = list [at];
        s_detach (self, request);
        request->queue_handle = zlistx_add_start (model->queue, request);
        model->queued_bytes += request->bytes;
        self->retried++;
    }
}

//  A request of a failed replica: retried when safe, else ended.
static bool
s_retryable (const s_request_t *request)
{
    return request->body && !request->relayed && request->attempts < XINF_SCHED_ATTEMPTS;
}

void
xinf_scheduler_replica_down (xinf_scheduler_t *self, const char *uid, size_t index, const char *code,
                             const char *reason, int64_t now)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
    if (!model || index >= model->count)
        return;
    model->replicas [index].down = true;
    model->replicas [index].ready = false;
    size_t count = 0, size = zhashx_size (self->requests);
    s_request_t **retry = calloc (size + 1, sizeof *retry);
    zlist_t *doomed = zlist_new ();
    zlist_autofree (doomed);
    for (s_request_t *request = (s_request_t *) zhashx_first (self->requests); request;
         request = (s_request_t *) zhashx_next (self->requests)) {
        if (!streq (request->uid, uid) || request->replica != (int) index)
            continue;
        if (s_retryable (request)) {
            snprintf (request->last_code, sizeof request->last_code, "%s", code);
            snprintf (request->last_reason, sizeof request->last_reason, "%s", reason);
            retry [count++] = request;
        }
        else
            zlist_append (doomed, request->key);
    }
    bool lost = streq (code, "WORKER_LOST");
    for (size_t at = 0; at < count && !lost; at++)
        s_cancel_run (self, retry [at]);
    s_requeue (self, model, retry, count);
    free (retry);
    for (char *key = (char *) zlist_first (doomed); key; key = (char *) zlist_next (doomed)) {
        s_request_t *request = (s_request_t *) zhashx_lookup (self->requests, key);
        if (request)
            s_end_error (self, request, !lost, code, "%s", reason);
    }
    zlist_destroy (&doomed);
    if (count)
        xinf_info ("scheduler", "replica %zu of %s down (%s): %zu request(s) retried on another replica", index, uid,
                   code, count);
    s_pump (self, model, now);
}

static bool
s_of_model (const s_request_t *request, const void *uid)
{
    return !uid || streq (request->uid, (const char *) uid);
}

//  Ends every request matching 'uid' (NULL: all) with code and reason.
static void
s_end_matching (xinf_scheduler_t *self, const char *uid, const char *code, const char *reason)
{
    zlist_t *doomed = s_keys (self, s_of_model, uid);
    for (char *key = (char *) zlist_first (doomed); key; key = (char *) zlist_next (doomed)) {
        s_request_t *request = (s_request_t *) zhashx_lookup (self->requests, key);
        if (request)
            s_end_error (self, request, true, code, "%s", reason);
    }
    zlist_destroy (&doomed);
}

void
xinf_scheduler_model_drop (xinf_scheduler_t *self, const char *uid, const char *code, const char *reason)
{
    s_end_matching (self, uid, code, reason);
    zhashx_delete (self->models, uid);
}

void
xinf_scheduler_end_all (xinf_scheduler_t *self, const char *code, const char *reason)
{
    s_end_matching (self, NULL, code, reason);
}

//  A request's estimated cost in queue memory: its packed body.
static size_t
s_body_bytes (const xinf_value_t *body)
{
    const char *prompt = xinf_value_str (xinf_map_get (body, "prompt"));
    size_t tokens = xinf_value_count (xinf_map_get (body, "prompt_tokens"));
    return 256 + (prompt ? strlen (prompt) : 0) + tokens * 9;
}

static s_request_t *
s_request_new (const char *client, uint64_t corr, const char *uid)
{
    s_request_t *request = calloc (1, sizeof *request);
    assert (request);
    snprintf (request->client, sizeof request->client, "%s", client);
    request->corr = corr;
    snprintf (request->key, sizeof request->key, "%s/%llu", client, (unsigned long long) corr);
    snprintf (request->uid, sizeof request->uid, "%s", uid);
    request->replica = -1;
    return request;
}

//  Answers a request that was never accepted.
static void
s_refuse (xinf_scheduler_t *self, const char *client, uint64_t corr, uint64_t retry_after, const char *code,
          const char *format, ...) __attribute__ ((format (printf, 6, 7)));

static void
s_refuse (xinf_scheduler_t *self, const char *client, uint64_t corr, uint64_t retry_after, const char *code,
          const char *format, ...)
{
    char text [512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    char key [600];
    snprintf (key, sizeof key, "%s/%llu", client, (unsigned long long) corr);
    s_remember (self, key);
    xinf_msg_t *error = xinf_msg_new_error (corr, code, "%s", text);
    if (retry_after)
        xinf_map_put_uint (xinf_msg_body (error), "retry_after_ms", retry_after);
    s_count_code (self, code);
    if (self->io.to_client (self->io.arg, client, &error))
        self->undelivered++;
}

void
xinf_scheduler_submit (xinf_scheduler_t *self, const char *client, uint64_t corr, uint64_t budget_ms,
                       xinf_value_t **body_p, int64_t now)
{
    xinf_value_t *body = *body_p;
    *body_p = NULL;
    const char *uid = xinf_value_str (xinf_map_get (body, "uid"));
    s_model_t *model = uid ? (s_model_t *) zhashx_lookup (self->models, uid) : NULL;
    char key [600];
    snprintf (key, sizeof key, "%s/%llu", client, (unsigned long long) corr);
    size_t ready = 0;
    if (model)
        s_ready_capacity (model, &ready);
    self->submitted++;
    if (!model || !ready)
        s_refuse (self, client, corr, model ? s_retry_after (model) : 1000, "MODEL_NOT_READY",
                  "GENERATE: no replica of model %s is ready", uid ? uid : "?");
    else
    if (zhashx_lookup (self->requests, key)) {
        //  The same request sent again (a client that resends after a
        //  reconnect): it runs once and is answered once
        self->resent++;
        xinf_debug ("scheduler", "GENERATE corr=%llu of client=%s is in flight already: the resend is absorbed",
                    (unsigned long long) corr, client);
    }
    else
    if (zlistx_size (model->queue) >= model->queue_max
    ||  model->queued_bytes + s_body_bytes (body) > XINF_SCHED_QUEUE_BYTES)
        s_refuse (self, client, corr, s_retry_after (model), "OVERLOADED",
                  "GENERATE: model %s has %zu requests queued (at most %zu, %zu bytes) and every replica is busy; "
                  "retry later", uid, zlistx_size (model->queue), model->queue_max, model->queued_bytes);
    else {
        s_request_t *request = s_request_new (client, corr, uid);
        request->body = body;
        body = NULL;
        request->bytes = s_body_bytes (request->body);
        request->stream = xinf_value_bool (xinf_map_get (request->body, "stream"));
        //  A client's budget, capped at a week so that the sum cannot overflow
        uint64_t budget = budget_ms < 604800000ULL ? budget_ms : 604800000ULL;
        request->deadline = budget ? now + (int64_t) budget : 0;
        request->submitted = now;
        zhashx_insert (self->requests, request->key, request);
        request->queue_handle = zlistx_add_end (model->queue, request);
        model->queued_bytes += request->bytes;
        s_pump (self, model, now);
    }
    xinf_value_destroy (&body);
}

//  GENERATE_TOKEN or GENERATE_REPLY from a worker's RUN_TOKEN / RUN_DONE.
static xinf_msg_t *
s_client_message (s_request_t *request, xinf_msg_t *msg, bool done)
{
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_msg_t *out = xinf_msg_new (done ? "GENERATE_REPLY" : "GENERATE_TOKEN");
    const char *keys [] = { "index", "token", "text", "prompt_tokens", "tokens", "finish_reason", "timings" };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (body, keys [index]))
            xinf_map_put (xinf_msg_body (out), keys [index], xinf_value_dup (xinf_map_get (body, keys [index])));
    if (done) {
        xinf_map_put_str (xinf_msg_body (out), "uid", request->uid);
        xinf_map_put_str (xinf_msg_body (out), "worker", request->node);
    }
    return out;
}

//  Checks a worker's RUN_* body; NULL (logged) when it is malformed.
static bool
s_reply_valid (const char *node, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_check_uint (&check, body, "request", 0, UINT64_MAX);
    if (xinf_msg_is (msg, "RUN_TOKEN")) {
        xinf_check_uint (&check, body, "index", 0, UINT32_MAX);
        xinf_check_uint (&check, body, "token", 0, UINT32_MAX);
    }
    else
    if (xinf_msg_is (msg, "RUN_DONE")) {
        xinf_check_array (&check, body, "tokens", XINF_OBJECTS_MAX);
        xinf_check_str (&check, body, "finish_reason", 1, 32);
    }
    else {
        xinf_check_str (&check, body, "code", 1, 31);
        xinf_check_str_opt (&check, body, "message", 0, 4096, "");
    }
    if (check.failed)
        xinf_warn ("scheduler", "%s from %s ignored reason=\"%s\"", xinf_msg_type (msg), node, check.reason);
    return !check.failed;
}

//  RUN_FAILED: retried on another replica when the failure was the
//  replica's and no token reached the client, else the client's answer.
static void
s_on_failed (xinf_scheduler_t *self, s_request_t *request, xinf_msg_t *msg, int64_t now)
{
    const char *code = xinf_value_str (xinf_map_get (xinf_msg_body (msg), "code"));
    const char *message = xinf_value_str (xinf_map_get (xinf_msg_body (msg), "message")) ?: "";
    const char *retryable [] = { "MODEL_NOT_READY", "WORKER_LOST", "REPLICA_FAILED", "COLLECTIVE_FAILED", "OVERLOADED" };
    bool replica_fault = false;
    for (size_t at = 0; at < sizeof retryable / sizeof retryable [0]; at++)
        replica_fault |= streq (code, retryable [at]);
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, request->uid);
    if (model && replica_fault && s_retryable (request)) {
        snprintf (request->last_code, sizeof request->last_code, "%s", code);
        snprintf (request->last_reason, sizeof request->last_reason, "%s", message);
        xinf_info ("scheduler", "request corr=%llu failed on %s (%s: %s): retried", (unsigned long long) request->corr,
                   request->node, code, message);
        s_requeue (self, model, &request, 1);
        s_pump (self, model, now);
    }
    else {
        s_end_error (self, request, false, code, "%s", message);
    }
}

//  RUN_ACK: the worker may forget the run's last word (it need not send
//  it again to a restarted supervisor).
static void
s_ack (xinf_scheduler_t *self, const char *node, uint64_t run)
{
    xinf_msg_t *ack = xinf_msg_new ("RUN_ACK");
    xinf_map_put_uint (xinf_msg_body (ack), "request", run);
    self->io.to_node (self->io.arg, node, &ack);
}

void
xinf_scheduler_run_reply (xinf_scheduler_t *self, const char *node, xinf_msg_t *msg, int64_t now)
{
    if (!s_reply_valid (node, msg))
        return;
    uint64_t run = xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "request"));
    if (!xinf_msg_is (msg, "RUN_TOKEN"))
        s_ack (self, node, run);
    char key [32];
    s_run_key (run, key, sizeof key);
    s_request_t *request = (s_request_t *) zhashx_lookup (self->runs, key);
    if (!request)
        return;                       //  ended already, or an earlier attempt's
    if (!streq (node, request->node)) {
        xinf_warn ("scheduler", "%s for run %s from %s, which does not run it: ignored", xinf_msg_type (msg), key, node);
        return;
    }
    if (xinf_msg_is (msg, "RUN_FAILED"))
        s_on_failed (self, request, msg, now);
    else
    if (xinf_msg_is (msg, "RUN_DONE")) {
        s_model_t *model = (s_model_t *) zhashx_lookup (self->models, request->uid);
        if (model)
            model->service_ms = 0.8 * model->service_ms + 0.2 * (double) (now - request->dispatched);
        xinf_msg_t *reply = s_client_message (request, msg, true);
        s_end (self, request, &reply, "OK");
    }
    else
    if (request->stream) {
        request->relayed = true;
        xinf_msg_t *token = s_client_message (request, msg, false);
        xinf_msg_set_corr (token, request->corr);
        if (self->io.to_client (self->io.arg, request->client, &token)) {
            char client [512];
            snprintf (client, sizeof client, "%s", request->client);
            s_client_gone (self, client, "a token could not be delivered (gone or not reading)");
        }
    }
    s_pump_all (self, now);
}

bool
xinf_scheduler_cancel (xinf_scheduler_t *self, const char *client, uint64_t corr, int64_t now)
{
    char key [600];
    snprintf (key, sizeof key, "%s/%llu", client, (unsigned long long) corr);
    s_request_t *request = (s_request_t *) zhashx_lookup (self->requests, key);
    if (!request)
        return false;
    xinf_info ("scheduler", "request corr=%llu of client=%s cancelled by the client", (unsigned long long) corr, client);
    s_end_error (self, request, true, "CANCELLED", "GENERATE: cancelled by the client");
    s_pump_all (self, now);
    return true;
}

static bool
s_late (const s_request_t *request, const void *now)
{
    return request->deadline && *(const int64_t *) now > request->deadline;
}

void
xinf_scheduler_tick (xinf_scheduler_t *self, int64_t now)
{
    zlist_t *late = s_keys (self, s_late, &now);
    for (char *key = (char *) zlist_first (late); key; key = (char *) zlist_next (late)) {
        s_request_t *request = (s_request_t *) zhashx_lookup (self->requests, key);
        if (!request)
            continue;
        if (request->run)
            s_end_error (self, request, true, "DEADLINE_EXCEEDED",
                         "no answer from worker %s before the request's deadline", request->node);
        else
            s_end_error (self, request, false, "DEADLINE_EXCEEDED",
                         "waited %lld ms in the queue of model %s, every replica busy, past the request's deadline",
                         (long long) (now - request->submitted), request->uid);
    }
    zlist_destroy (&late);
    s_pump_all (self, now);
}

//  One request a worker reports; false when it is malformed.
static bool
s_adopt_one (xinf_scheduler_t *self, const char *node, const xinf_value_t *item, int64_t now)
{
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t run = xinf_check_uint (&check, item, "request", 1, UINT64_MAX);
    const char *uid = xinf_check_str (&check, item, "uid", 1, 64);
    uint64_t index = xinf_check_uint (&check, item, "replica", 0, XINF_SCHED_REPLICAS_MAX - 1);
    const char *client = xinf_check_str (&check, item, "client", 1, 510);
    uint64_t corr = xinf_check_uint (&check, item, "corr", 0, UINT64_MAX);
    bool stream = xinf_check_bool_opt (&check, item, "stream", false);
    bool relayed = xinf_check_bool_opt (&check, item, "relayed", false);
    uint64_t left = xinf_check_uint_opt (&check, item, "deadline_ms", 0, 604800000ULL, 0);
    if (check.failed) {
        xinf_warn ("scheduler", "request reported by %s ignored reason=\"%s\"", node, check.reason);
        return false;
    }
    char key [32];
    s_run_key (run, key, sizeof key);
    //  A run of this supervisor that is not listed has ended already
    if (run >= self->first_run || zhashx_lookup (self->runs, key))
        return true;
    s_request_t *request = s_request_new (client, corr, uid);
    s_request_t *resent = (s_request_t *) zhashx_lookup (self->requests, request->key);
    if (resent && !resent->run) {
        //  The client sent it again and it waits in the queue: the
        //  reported run answers it
        s_detach (self, resent);
        zhashx_delete (self->requests, resent->key);
        resent = NULL;
    }
    if (resent || zhashx_lookup (self->answered, request->key)) {
        //  The client sent it again and it runs, or it was answered
        //  already (e.g. MODEL_NOT_READY right after the restart): the
        //  reported run stops, so that the client gets one answer
        xinf_msg_t *cancel = xinf_msg_new ("RUN_CANCEL");
        xinf_map_put_uint (xinf_msg_body (cancel), "request", run);
        xinf_map_put_str (xinf_msg_body (cancel), "uid", uid);
        xinf_map_put_uint (xinf_msg_body (cancel), "replica", index);
        self->io.to_node (self->io.arg, node, &cancel);
        free (request);
        return true;
    }
    request->stream = stream;
    request->relayed = relayed;
    request->deadline = left ? now + (int64_t) left : 0;
    request->submitted = request->dispatched = now;
    request->run = run;
    request->replica = (int) index;
    request->attempts = XINF_SCHED_ATTEMPTS;
    snprintf (request->node, sizeof request->node, "%s", node);
    zhashx_insert (self->requests, request->key, request);
    zhashx_insert (self->runs, key, request);
    s_model_t *model = s_model_of (self, uid);
    if (index >= model->count)
        model->count = index + 1;
    model->replicas [index].outstanding++;
    return true;
}

void
xinf_scheduler_adopt (xinf_scheduler_t *self, const char *node, const xinf_value_t *requests, int64_t now)
{
    size_t adopted = zhashx_size (self->requests);
    for (size_t index = 0; index < xinf_value_count (requests); index++)
        s_adopt_one (self, node, xinf_array_at (requests, index), now);
    adopted = zhashx_size (self->requests) - adopted;
    if (adopted)
        xinf_info ("scheduler", "adopted %zu in-flight request(s) from %s (a supervisor restart)", adopted, node);
}

size_t
xinf_scheduler_queued (xinf_scheduler_t *self, const char *uid)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
    return model ? zlistx_size (model->queue) : 0;
}

size_t
xinf_scheduler_outstanding (xinf_scheduler_t *self, const char *uid, size_t index)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
    return model && index < XINF_SCHED_REPLICAS_MAX ? model->replicas [index].outstanding : 0;
}

xinf_value_t *
xinf_scheduler_stats (xinf_scheduler_t *self)
{
    xinf_value_t *stats = xinf_value_new_map ();
    size_t queued = 0;
    for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model;
         model = (s_model_t *) zhashx_next (self->models))
        queued += zlistx_size (model->queue);
    xinf_map_put_uint (stats, "submitted", self->submitted);
    xinf_map_put_uint (stats, "answered_ok", self->answered_ok);
    xinf_map_put_uint (stats, "queued", queued);
    xinf_map_put_uint (stats, "running", zhashx_size (self->runs));
    xinf_map_put_uint (stats, "retried", self->retried);
    xinf_map_put_uint (stats, "clients_gone", self->clients_gone);
    xinf_map_put_uint (stats, "undelivered", self->undelivered);
    xinf_map_put_uint (stats, "resent", self->resent);
    xinf_value_t *codes = xinf_value_new_map ();
    for (size_t at = 0; at < CODES_MAX && *self->codes [at].code; at++)
        xinf_map_put_uint (codes, self->codes [at].code, self->codes [at].count);
    xinf_map_put (stats, "by_code", codes);
    return stats;
}
