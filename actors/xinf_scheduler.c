/*  xinf_scheduler: the supervisor's request scheduler: models, replicas,
    queues, routing, the end of requests. What workers say about runs, and
    runs adopted after a restart, are in xinf_scheduler_runs.c; answers a
    client cannot take yet in xinf_scheduler_held.c.  */
#include "xinf_scheduler.h"
#include "xinf_scheduler_private.h"
#include "xinf_node_msg.h"

#include <errno.h>
#include <stdarg.h>

static void
s_model_free (void **item)
{
    xinf_sched_model_t *model = (xinf_sched_model_t *) *item;
    zlistx_destroy (&model->queue);
    free (model);
    *item = NULL;
}

static void
s_request_free (void **item)
{
    xinf_sched_request_t *request = (xinf_sched_request_t *) *item;
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
    self->held = zlistx_new ();
    zlistx_set_destructor (self->held, xinf_sched_held_free);
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
        zlistx_destroy (&self->held);
        zhashx_destroy (&self->answered);
        zlistx_destroy (&self->answered_order);
        zhashx_destroy (&self->models);
        zhashx_destroy (&self->requests);
        free (self);
        *self_p = NULL;
    }
}

void
xinf_sched_run_key (uint64_t run, char *key, size_t size)
{
    snprintf (key, size, "%llu", (unsigned long long) run);
}

void
xinf_sched_count_code (xinf_scheduler_t *self, const char *code)
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
void
xinf_sched_detach (xinf_scheduler_t *self, xinf_sched_request_t *request)
{
    xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, request->uid);
    if (request->queue_handle && model) {
        zlistx_delete (model->queue, request->queue_handle);
        model->queued_bytes -= request->bytes;
    }
    request->queue_handle = NULL;
    if (request->run) {
        char key [32];
        xinf_sched_run_key (request->run, key, sizeof key);
        zhashx_delete (self->runs, key);
        if (model && request->replica >= 0 && model->replicas [request->replica].outstanding)
            model->replicas [request->replica].outstanding--;
    }
    request->run = 0;
    request->replica = -1;
}

static void
s_forget (xinf_scheduler_t *self, xinf_sched_request_t *request)
{
    xinf_sched_remember (self, request->key);
    xinf_sched_detach (self, request);
    zhashx_delete (self->requests, request->key);
}

//  RUN_CANCEL to the worker running it: it stops at its next step.
static void
s_cancel_run (xinf_scheduler_t *self, xinf_sched_request_t *request)
{
    if (!request->run || !*request->node)
        return;
    xinf_node_msg_run_cancel_t fields = { .request = request->run, .uid = request->uid,
                                          .replica = (uint64_t) request->replica };
    xinf_msg_t *cancel = xinf_node_msg_run_cancel_encode (&fields);
    self->io.to_node (self->io.arg, request->node, &cancel);
}

//  Remembers that a request was answered (or given up), so that a run of
//  it that a worker reports after a supervisor restart is not answered
//  twice.
void
xinf_sched_remember (xinf_scheduler_t *self, const char *key)
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

bool
xinf_sched_grace (xinf_scheduler_t *self, const xinf_sched_request_t *request)
{
    return request->adopted && self->now < self->grace_until;
}

//  Sends the request's one terminal answer and forgets it. An answer the
//  client cannot take now (its queue is full) is held and tried again; a
//  client that is gone is logged and counted, and its other requests are
//  cancelled.
void
xinf_sched_end (xinf_scheduler_t *self, xinf_sched_request_t *request, xinf_msg_t **answer_p, const char *code)
{
    char client [512], outcome [32];          //  the request (and a code of it) is freed below
    snprintf (client, sizeof client, "%s", request->client);
    snprintf (outcome, sizeof outcome, "%s", code);
    uint64_t corr = request->corr;
    xinf_msg_set_corr (*answer_p, corr);
    xinf_sched_count_code (self, code);
    if (streq (code, "OK"))
        self->answered_ok++;
    bool grace = xinf_sched_grace (self, request);
    xinf_fsm_move (&xinf_request_fsm, &request->state, XINF_REQUEST_ANSWERED, request->key);
    s_forget (self, request);
    if (xinf_sched_send_answer (self, client, answer_p, grace)) {
        self->undelivered++;
        xinf_warn ("scheduler", "answer undelivered client=%s corr=%llu outcome=%s: the client is gone",
                   client, (unsigned long long) corr, outcome);
        xinf_sched_client_gone (self, client, "its answer could not be delivered");
    }
}

//  Ends a request with ERROR code; 'cancel' stops it on its worker too.
void
xinf_sched_end_error (xinf_scheduler_t *self, xinf_sched_request_t *request, bool cancel, const char *code, const char *format, ...)
{
    char text [768];
    va_list args;
    va_start (args, format);
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    if (cancel)
        s_cancel_run (self, request);
    xinf_msg_t *error = xinf_msg_new_error (request->corr, code, "%s", text);
    xinf_sched_end (self, request, &error, code);
}

//  The keys of the requests that 'match' accepts: ending one request can
//  forget others (a client found gone), so callers look each key up again.
static zlist_t *
s_keys (xinf_scheduler_t *self, bool (*match) (const xinf_sched_request_t *request, const void *arg), const void *arg)
{
    zlist_t *keys = zlist_new ();
    zlist_autofree (keys);
    for (xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_first (self->requests); request;
         request = (xinf_sched_request_t *) zhashx_next (self->requests))
        if (match (request, arg))
            zlist_append (keys, request->key);
    return keys;
}

//  Every request of a client that is gone (or cannot take messages) is
//  cancelled on its worker and forgotten: nobody can be answered.
void
xinf_sched_client_gone (xinf_scheduler_t *self, const char *client, const char *why)
{
    zlist_t *doomed = zlist_new ();
    for (xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_first (self->requests); request;
         request = (xinf_sched_request_t *) zhashx_next (self->requests))
        if (streq (request->client, client))
            zlist_append (doomed, request);
    size_t count = zlist_size (doomed);
    for (xinf_sched_request_t *request = (xinf_sched_request_t *) zlist_first (doomed); request;
         request = (xinf_sched_request_t *) zlist_next (doomed)) {
        s_cancel_run (self, request);
        xinf_sched_count_code (self, "CLIENT_GONE");
        s_forget (self, request);
    }
    zlist_destroy (&doomed);
    xinf_sched_drop_held (self, client);
    self->clients_gone++;
    xinf_warn ("scheduler", "client gone client=%s reason=\"%s\" requests_cancelled=%zu", client, why, count);
}

static size_t
s_ready_capacity (xinf_sched_model_t *model, size_t *ready)
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
s_retry_after (xinf_sched_model_t *model)
{
    size_t ready;
    size_t capacity = s_ready_capacity (model, &ready);
    double ms = model->service_ms * ((double) zlistx_size (model->queue) / (double) (capacity ? capacity : 1) + 1);
    return ms < 50 ? 50 : ms > 60000 ? 60000 : (uint64_t) ms;
}

//  Sends the request to a replica as a new run; -1 when its worker
//  cannot take it now (gone, reconnecting, its queue full): the replica
//  then rests a while (doubling at each refusal in a row) and stays ready,
//  so that the request goes elsewhere or waits in the queue meanwhile.
static int
s_dispatch (xinf_scheduler_t *self, xinf_sched_model_t *model, xinf_sched_request_t *request, int index, int64_t now)
{
    xinf_sched_replica_t *replica = &model->replicas [index];
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
        int reason = errno;
        replica->backoff = replica->backoff ? replica->backoff * 2 : XINF_SCHED_BACKOFF_MS;
        if (replica->backoff > XINF_SCHED_BACKOFF_MAX)
            replica->backoff = XINF_SCHED_BACKOFF_MAX;
        replica->retry_at = now + replica->backoff;
        xinf_warn ("scheduler", "cannot send RUN to worker %s for model %s replica %d (%s): it rests %lld ms, its "
                   "requests go to other replicas or wait", replica->node, model->uid, index,
                   reason == EAGAIN ? "its queue is full" : "not connected", (long long) replica->backoff);
        request->run = 0;
        return -1;
    }
    replica->backoff = 0;
    char key [32];
    xinf_sched_run_key (request->run, key, sizeof key);
    zhashx_insert (self->runs, key, request);
    request->replica = index;
    snprintf (request->node, sizeof request->node, "%s", replica->node);
    xinf_fsm_move (&xinf_request_fsm, &request->state, XINF_REQUEST_RUNNING, request->key);
    request->tried |= 1u << index;
    request->attempts++;
    request->dispatched = now;
    replica->outstanding++;
    return 0;
}

//  The queue's request at 'position' (0: the head), or NULL.
static xinf_sched_request_t *
s_queued_at (xinf_sched_model_t *model, size_t position)
{
    xinf_sched_request_t *request = (xinf_sched_request_t *) zlistx_first (model->queue);
    while (request && position--)
        request = (xinf_sched_request_t *) zlistx_next (model->queue);
    return request;
}

//  Dispatches queued requests, by priority and first in first out, while
//  a replica has room (or, for a request, runs requests of a higher
//  priority value it may displace: xinf_sched_pick). A retried request
//  that waits for a replica it did not fail on keeps its place, and the requests behind it (up to XINF_SCHED_PASSED
//  such waiting ones) go meanwhile to the replica with room: it must not
//  hold up the queue. A request leaves the queue only once its RUN is
//  sent: one its worker refused keeps its place (the replica rests, and
//  the request goes elsewhere or waits). When no replica is ready at all,
//  the queued requests end with the cause; a request refused for its
//  context ends so when no ready replica's context is larger.
void
xinf_sched_pump (xinf_scheduler_t *self, xinf_sched_model_t *model, int64_t now)
{
    xinf_sched_request_t *request;
    size_t passed = 0;
    while ((request = s_queued_at (model, passed))) {
        int index = xinf_sched_pick (self, model, request, now);
        if (index < 0 && request->context_over && !xinf_sched_larger_ready (model, request->context_over)) {
            xinf_sched_end_error (self, request, false, request->last_code, "%s; no other replica of %s with a "
                                  "context over %llu tokens is ready", request->last_reason, model->uid,
                                  (unsigned long long) request->context_over);
            continue;
        }
        if (index < 0) {
            if (!request->tried || passed == XINF_SCHED_PASSED || !xinf_sched_room (model, now))
                break;
            passed++;
            continue;
        }
        if (s_dispatch (self, model, request, index, now) == 0) {
            zlistx_delete (model->queue, request->queue_handle);
            request->queue_handle = NULL;
            model->queued_bytes -= request->bytes;
        }
    }
    size_t ready;
    s_ready_capacity (model, &ready);
    while (!ready && (request = (xinf_sched_request_t *) zlistx_first (model->queue))) {
        if (*request->last_code)
            xinf_sched_end_error (self, request, false, request->last_code, "%s; no other replica of %s is ready",
                                  request->last_reason, model->uid);
        else
            xinf_sched_end_error (self, request, false, "MODEL_NOT_READY", "no replica of model %s is ready",
                                  model->uid);
    }
}

//  Dispatches what fits after requests ended (capacity freed).
void
xinf_sched_pump_all (xinf_scheduler_t *self, int64_t now)
{
    zlist_t *uids = zlist_new ();
    zlist_autofree (uids);
    for (xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_first (self->models); model;
         model = (xinf_sched_model_t *) zhashx_next (self->models))
        zlist_append (uids, model->uid);
    for (char *uid = (char *) zlist_first (uids); uid; uid = (char *) zlist_next (uids)) {
        xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, uid);
        if (model)
            xinf_sched_pump (self, model, now);
    }
    zlist_destroy (&uids);
}

//  The queue's order: by priority (GENERATE's, lower first).
static int
s_by_priority (const void *left, const void *right)
{
    const xinf_sched_request_t *a = left, *b = right;
    return a->priority < b->priority ? -1 : a->priority > b->priority;
}

xinf_sched_model_t *
xinf_sched_model_of (xinf_scheduler_t *self, const char *uid)
{
    xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, uid);
    if (!model) {
        model = calloc (1, sizeof *model);
        assert (model);
        snprintf (model->uid, sizeof model->uid, "%s", uid);
        model->queue = zlistx_new ();
        zlistx_set_comparator (model->queue, s_by_priority);
        model->queue_max = XINF_SCHED_QUEUE_DEFAULT;
        model->service_ms = 500;
        zhashx_insert (self->models, uid, model);
    }
    return model;
}

void
xinf_scheduler_model_set (xinf_scheduler_t *self, const char *uid, size_t queue_max)
{
    xinf_sched_model_of (self, uid)->queue_max = queue_max ? queue_max : XINF_SCHED_QUEUE_DEFAULT;
}

void
xinf_scheduler_replica_set (xinf_scheduler_t *self, const char *uid, size_t index, const char *node,
                            bool ready, size_t capacity, int64_t now)
{
    self->now = now;
    if (index >= XINF_SCHED_REPLICAS_MAX)
        return;
    xinf_sched_model_t *model = xinf_sched_model_of (self, uid);
    xinf_sched_replica_t *replica = &model->replicas [index];
    //  Newly ready, or on another node: a clean slate. A replica marked
    //  down (its executor lost or hung) stays so while it is reported
    //  ready as before: the model table says so until the replica's own
    //  failure report arrives, and any other sync of the model comes first
    if ((ready && !replica->ready) || !streq (replica->node, node)) {
        replica->retry_at = replica->backoff = 0;
        replica->down = false;
    }
    snprintf (replica->node, sizeof replica->node, "%s", node);
    replica->ready = ready;
    replica->capacity = capacity ? capacity : 1;
    if (index >= model->count)
        model->count = index + 1;
    xinf_sched_pump (self, model, now);
}

void
xinf_scheduler_replica_context (xinf_scheduler_t *self, const char *uid, size_t index, uint64_t context)
{
    if (index < XINF_SCHED_REPLICAS_MAX)
        xinf_sched_model_of (self, uid)->replicas [index].context = context;
}

void
xinf_scheduler_node_back (xinf_scheduler_t *self, const char *node, int64_t now)
{
    self->now = now;
    for (xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_first (self->models); model;
         model = (xinf_sched_model_t *) zhashx_next (self->models))
        for (size_t index = 0; index < model->count; index++)
            if (streq (model->replicas [index].node, node))
                model->replicas [index].retry_at = model->replicas [index].backoff = 0;
    xinf_sched_pump_all (self, now);
}

static int
s_by_submitted (const void *left, const void *right)
{
    const xinf_sched_request_t *a = *(xinf_sched_request_t * const *) left, *b = *(xinf_sched_request_t * const *) right;
    return a->submitted < b->submitted ? -1 : a->submitted > b->submitted;
}

//  Puts displaced requests back at the head of their queue (of their
//  priority's part of it), oldest first.
void
xinf_sched_requeue (xinf_scheduler_t *self, xinf_sched_model_t *model, xinf_sched_request_t **list, size_t count)
{
    qsort (list, count, sizeof *list, s_by_submitted);
    for (size_t at = count; at-- > 0;) {
        xinf_sched_request_t *request = list [at];
        xinf_sched_detach (self, request);
        xinf_fsm_move (&xinf_request_fsm, &request->state, XINF_REQUEST_QUEUED, request->key);
        request->queue_handle = zlistx_insert (model->queue, request, true);    //  before its equals
        model->queued_bytes += request->bytes;
        request->requeued = self->now;
        self->retried++;
    }
}

//  A request of a failed replica: retried when safe, else ended.
bool
xinf_sched_retryable (const xinf_sched_request_t *request)
{
    return request->body && !request->relayed && request->attempts < XINF_SCHED_ATTEMPTS;
}

void
xinf_scheduler_replica_down (xinf_scheduler_t *self, const char *uid, size_t index, const char *code,
                             const char *reason, int64_t now)
{
    self->now = now;
    xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, uid);
    if (!model || index >= model->count)
        return;
    model->replicas [index].down = true;
    model->replicas [index].ready = false;
    size_t count = 0, size = zhashx_size (self->requests);
    xinf_sched_request_t **retry = calloc (size + 1, sizeof *retry);
    zlist_t *doomed = zlist_new ();
    zlist_autofree (doomed);
    for (xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_first (self->requests); request;
         request = (xinf_sched_request_t *) zhashx_next (self->requests)) {
        if (!streq (request->uid, uid) || request->replica != (int) index)
            continue;
        if (xinf_sched_retryable (request)) {
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
    xinf_sched_requeue (self, model, retry, count);
    free (retry);
    for (char *key = (char *) zlist_first (doomed); key; key = (char *) zlist_next (doomed)) {
        xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_lookup (self->requests, key);
        if (request)
            xinf_sched_end_error (self, request, !lost, code, "%s", reason);
    }
    zlist_destroy (&doomed);
    if (count)
        xinf_info ("scheduler", "replica %zu of %s down (%s): %zu request(s) retried on another replica", index, uid,
                   code, count);
    xinf_sched_pump (self, model, now);
}

static bool
s_of_model (const xinf_sched_request_t *request, const void *uid)
{
    return !uid || streq (request->uid, (const char *) uid);
}

//  Ends every request matching 'uid' (NULL: all) with code and reason.
static void
s_end_matching (xinf_scheduler_t *self, const char *uid, const char *code, const char *reason)
{
    zlist_t *doomed = s_keys (self, s_of_model, uid);
    for (char *key = (char *) zlist_first (doomed); key; key = (char *) zlist_next (doomed)) {
        xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_lookup (self->requests, key);
        if (request)
            xinf_sched_end_error (self, request, true, code, "%s", reason);
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

xinf_sched_request_t *
xinf_sched_request_new (const char *client, uint64_t corr, const char *uid)
{
    xinf_sched_request_t *request = calloc (1, sizeof *request);
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
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    char key [600];
    snprintf (key, sizeof key, "%s/%llu", client, (unsigned long long) corr);
    xinf_sched_remember (self, key);
    xinf_msg_t *error = xinf_msg_new_error (corr, code, "%s", text);
    if (retry_after)
        xinf_map_put_uint (xinf_msg_body (error), "retry_after_ms", retry_after);
    xinf_sched_count_code (self, code);
    if (xinf_sched_send_answer (self, client, &error, false))
        self->undelivered++;
}

//  Whether a request of 'bytes' fits the model's queue.
static bool
s_fits (const xinf_sched_model_t *model, size_t bytes)
{
    return zlistx_size (model->queue) < model->queue_max && model->queued_bytes + bytes <= XINF_SCHED_QUEUE_BYTES;
}

//  Makes room in a full queue for a request of 'priority' and 'bytes' by
//  answering OVERLOADED to the queued ones of a higher value, the last in
//  the queue's order (the highest value, the newest among equals) first;
//  whether it fits then. A request of a lower value is never refused for
//  ones of a higher value, and none is displaced for one that goes to a
//  replica at once (over its capacity, for its priority: xinf_sched_pick).
static bool
s_make_room (xinf_scheduler_t *self, xinf_sched_model_t *model, int64_t priority, size_t bytes, int64_t now)
{
    xinf_sched_request_t probe = { .priority = priority, .bytes = bytes };
    if (!s_fits (model, bytes) && xinf_sched_pick (self, model, &probe, now) >= 0)
        return true;                  //  the pump sends it on before any queued one
    while (!s_fits (model, bytes)) {
        xinf_sched_request_t *last = (xinf_sched_request_t *) zlistx_last (model->queue);
        if (!last || last->priority <= priority)
            return false;
        xinf_info ("scheduler", "request corr=%llu of client=%s (priority %lld) leaves the full queue of model %s "
                   "for one of priority %lld", (unsigned long long) last->corr, last->client, (long long) last->priority,
                   model->uid, (long long) priority);
        xinf_msg_t *error = xinf_msg_new_error (last->corr, "OVERLOADED", "GENERATE: model %s's queue is full and a "
                                                "request of a lower priority value (%lld, this one's %lld) took its "
                                                "place; retry later", model->uid, (long long) priority,
                                                (long long) last->priority);
        xinf_map_put_uint (xinf_msg_body (error), "retry_after_ms", s_retry_after (model));
        xinf_sched_end (self, last, &error, "OVERLOADED");
    }
    return true;
}

void
xinf_scheduler_submit (xinf_scheduler_t *self, const char *client, uint64_t corr, uint64_t budget_ms,
                       xinf_value_t **body_p, int64_t now)
{
    self->now = now;
    xinf_value_t *body = *body_p;
    *body_p = NULL;
    const char *uid = xinf_value_str (xinf_map_get (body, "uid"));
    xinf_sched_model_t *model = uid ? (xinf_sched_model_t *) zhashx_lookup (self->models, uid) : NULL;
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
    if (!s_make_room (self, model, xinf_value_int (xinf_map_get (body, "priority")), s_body_bytes (body), now))
        s_refuse (self, client, corr, s_retry_after (model), "OVERLOADED",
                  "GENERATE: model %s has %zu requests queued (at most %zu, %zu bytes) and every replica is busy; "
                  "retry later", uid, zlistx_size (model->queue), model->queue_max, model->queued_bytes);
    else {
        xinf_sched_request_t *request = xinf_sched_request_new (client, corr, uid);
        request->body = body;
        body = NULL;
        request->bytes = s_body_bytes (request->body);
        request->stream = xinf_value_bool (xinf_map_get (request->body, "stream"));
        //  A client's budget, capped at a week so that the sum cannot overflow
        uint64_t budget = budget_ms < 604800000ULL ? budget_ms : 604800000ULL;
        request->deadline = budget ? now + (int64_t) budget : 0;
        request->submitted = now;
        request->priority = xinf_value_int (xinf_map_get (request->body, "priority"));
        zhashx_insert (self->requests, request->key, request);
        request->queue_handle = zlistx_insert (model->queue, request, false);   //  after its equals
        model->queued_bytes += request->bytes;
        xinf_sched_pump (self, model, now);
    }
    xinf_value_destroy (&body);
}

bool
xinf_scheduler_cancel (xinf_scheduler_t *self, const char *client, uint64_t corr, int64_t now)
{
    self->now = now;
    char key [600];
    snprintf (key, sizeof key, "%s/%llu", client, (unsigned long long) corr);
    xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_lookup (self->requests, key);
    if (!request)
        return false;
    xinf_info ("scheduler", "request corr=%llu of client=%s cancelled by the client", (unsigned long long) corr, client);
    xinf_sched_end_error (self, request, true, "CANCELLED", "GENERATE: cancelled by the client");
    xinf_sched_pump_all (self, now);
    return true;
}

static bool
s_late (const xinf_sched_request_t *request, const void *now)
{
    return request->deadline && *(const int64_t *) now > request->deadline;
}

void
xinf_scheduler_tick (xinf_scheduler_t *self, int64_t now)
{
    self->now = now;
    xinf_sched_deliver_held (self);
    zlist_t *late = s_keys (self, s_late, &now);
    for (char *key = (char *) zlist_first (late); key; key = (char *) zlist_next (late)) {
        xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_lookup (self->requests, key);
        if (!request)
            continue;
        if (request->run)
            xinf_sched_end_error (self, request, true, "DEADLINE_EXCEEDED",
                         "no answer from worker %s before the request's deadline", request->node);
        else
            xinf_sched_end_error (self, request, false, "DEADLINE_EXCEEDED",
                         "waited %lld ms in the queue of model %s, every replica busy, past the request's deadline",
                         (long long) (now - request->submitted), request->uid);
    }
    zlist_destroy (&late);
    xinf_sched_pump_all (self, now);
}

size_t
xinf_scheduler_queued (xinf_scheduler_t *self, const char *uid)
{
    xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, uid);
    return model ? zlistx_size (model->queue) : 0;
}

size_t
xinf_scheduler_outstanding (xinf_scheduler_t *self, const char *uid, size_t index)
{
    xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, uid);
    return model && index < XINF_SCHED_REPLICAS_MAX ? model->replicas [index].outstanding : 0;
}


void
xinf_scheduler_set_grace (xinf_scheduler_t *self, int64_t until)
{
    self->grace_until = until;
}
