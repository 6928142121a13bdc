/*  xinf_scheduler_runs: what workers say about the scheduler's runs
    (RUN_TOKEN, RUN_DONE, RUN_FAILED, acknowledged with RUN_ACK; a
    CONTEXT_EXCEEDED retried on a replica of a larger context), runs
    adopted from a worker's report after a supervisor restart, and the
    scheduler's counters.  */
#include "xinf_scheduler_private.h"
#include "xinf_node_msg.h"

#include <errno.h>

//  GENERATE_TOKEN or GENERATE_REPLY from a worker's RUN_TOKEN / RUN_DONE.
static xinf_msg_t *
s_client_message (xinf_sched_request_t *request, xinf_msg_t *msg, bool done)
{
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_msg_t *out = xinf_msg_new (done ? "GENERATE_REPLY" : "GENERATE_TOKEN");
    const char *keys [] = { "index", "token", "text", "end", "prompt_length", "cached_tokens", "prompt_tokens", "tokens",
                            "finish_reason",
                            "timings", "logprob", "top_logprobs", "logprobs", "prompt_logprobs", "embedding" };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (body, keys [index]))
            xinf_map_put (xinf_msg_body (out), keys [index], xinf_value_dup (xinf_map_get (body, keys [index])));
    if (done) {
        xinf_map_put_str (xinf_msg_body (out), "uid", request->uid);
        xinf_map_put_str (xinf_msg_body (out), "worker", request->node);
    }
    return out;
}

//  Checks a worker's RUN_* body against node.xml, every field of it, where
//  it enters (it is relayed to the client as it is); false (logged) when
//  it is malformed.
static bool
s_reply_valid (const char *node, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_validate (xinf_msg_type (msg), xinf_msg_body (msg), &check);
    if (check.failed)
        xinf_warn ("scheduler", "%s from %s ignored reason=\"%s\"", xinf_msg_type (msg), node, check.reason);
    return !check.failed;
}

//  Whether a ready replica (not down) reports a context over 'context':
//  one that may hold a prompt a replica of that context refused.
bool
xinf_sched_larger_ready (const xinf_sched_model_t *model, uint64_t context)
{
    for (size_t index = 0; index < model->count; index++) {
        const xinf_sched_replica_t *replica = &model->replicas [index];
        if (replica->ready && !replica->down && replica->context > context)
            return true;
    }
    return false;
}

//  CONTEXT_EXCEEDED: the prompt does not fit the context of the replica
//  that refused it. Replicas of one model may differ in context (each
//  sizes its KV cache): when a ready one's is larger, the request is to
//  be retried there, and only there (true); else (or when the refusing
//  replica's context is not known) it is the client's answer.
static bool
s_context_retry (xinf_sched_model_t *model, xinf_sched_request_t *request)
{
    uint64_t context = request->replica >= 0 ? model->replicas [request->replica].context : 0;
    if (!context || !xinf_sched_larger_ready (model, context))
        return false;
    if (context > request->context_over)
        request->context_over = context;
    return true;
}

//  RUN_FAILED: retried on another replica when the failure was the
//  replica's and no token reached the client, else the client's answer.
//  A replica whose executor was lost or hung fails (its MODEL_STATE
//  follows): it takes nothing more until it is seen not ready, or on
//  another node. The request itself may be what crashes executors (a
//  device fault or an OOM for its shape): after XINF_SCHED_FAULT_RETRIES
//  such faults it ends with the code, so that it cannot fail every replica.
//  A prompt too long for the replica's context goes on only to a replica
//  whose context is larger (s_context_retry).
static void
s_on_failed (xinf_scheduler_t *self, xinf_sched_request_t *request, xinf_msg_t *msg, int64_t now)
{
    const char *code = xinf_value_str (xinf_map_get (xinf_msg_body (msg), "code"));
    const char *message = xinf_value_str (xinf_map_get (xinf_msg_body (msg), "message")) ?: "";     //  valid: s_reply_valid
    const char *retryable [] = { "MODEL_NOT_READY", "WORKER_LOST", "REPLICA_FAILED", "COLLECTIVE_FAILED", "OVERLOADED",
                                 "EXECUTOR_LOST", "EXECUTOR_HUNG" };
    bool replica_fault = false;
    for (size_t at = 0; at < sizeof retryable / sizeof retryable [0]; at++)
        replica_fault |= streq (code, retryable [at]);
    xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, request->uid);
    if (streq (code, "EXECUTOR_LOST") || streq (code, "EXECUTOR_HUNG")) {
        if (model && request->replica >= 0)
            model->replicas [request->replica].down = true;
        if (++request->executor_faults > XINF_SCHED_FAULT_RETRIES) {
            xinf_warn ("scheduler", "request corr=%llu of client=%s failed on %s (%s), executor fault %zu of it: not "
                       "retried, it may be what crashes executors", (unsigned long long) request->corr,
                       request->client, request->node, code, request->executor_faults);
            replica_fault = false;
        }
    }
    if (model && streq (code, "CONTEXT_EXCEEDED"))
        replica_fault = s_context_retry (model, request);
    if (model && replica_fault && xinf_sched_retryable (request)) {
        snprintf (request->last_code, sizeof request->last_code, "%s", code);
        snprintf (request->last_reason, sizeof request->last_reason, "%s", message);
        xinf_info ("scheduler", "request corr=%llu failed on %s (%s: %s): retried", (unsigned long long) request->corr,
                   request->node, code, message);
        xinf_sched_requeue (self, model, &request, 1);
        xinf_sched_pump (self, model, now);
    }
    else {
        xinf_sched_end_error (self, request, false, code, "%s", message);
    }
}

//  A streamed token goes on to its client. One the client cannot take
//  because its queue is full ends this request alone (a gateway's many
//  HTTP requests share its one connection): it is cancelled on its worker
//  and answered SLOW_CLIENT (held until the client takes it); a client
//  that is gone takes all its requests with it. Right after a restart an
//  adopted request's client may still be reconnecting: its tokens are
//  dropped meanwhile.
static void
s_relay_token (xinf_scheduler_t *self, xinf_sched_request_t *request, xinf_msg_t *msg)
{
    request->relayed = true;
    xinf_msg_t *token = s_client_message (request, msg, false);
    xinf_msg_set_corr (token, request->corr);
    if (self->io.to_client (self->io.arg, request->client, &token) == 0 || xinf_sched_grace (self, request))
        return;
    if (errno == EAGAIN) {
        uint64_t index = xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "index"));
        xinf_warn ("scheduler", "token %llu of corr=%llu not queued to client=%s (its queue is full): the request "
                   "ends SLOW_CLIENT", (unsigned long long) index, (unsigned long long) request->corr, request->client);
        xinf_sched_end_error (self, request, true, "SLOW_CLIENT", "GENERATE: token %llu could not be queued to this "
                              "client, whose queue at the supervisor was full (it read more slowly than tokens came); "
                              "the generation was stopped", (unsigned long long) index);
        return;
    }
    char client [512];
    snprintf (client, sizeof client, "%s", request->client);
    xinf_sched_client_gone (self, client, "a token could not be delivered (gone)");
}

//  RUN_ACK: the worker may forget the run's last word (it need not send
//  it again to a restarted supervisor).
static void
s_ack (xinf_scheduler_t *self, const char *node, uint64_t run)
{
    xinf_node_msg_run_ack_t fields = { .request = run };
    xinf_msg_t *ack = xinf_node_msg_run_ack_encode (&fields);
    self->io.to_node (self->io.arg, node, &ack);
}

void
xinf_scheduler_run_reply (xinf_scheduler_t *self, const char *node, xinf_msg_t *msg, int64_t now)
{
    self->now = now;
    if (!s_reply_valid (node, msg))
        return;
    uint64_t run = xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "request"));
    if (!xinf_msg_is (msg, "RUN_TOKEN"))
        s_ack (self, node, run);
    char key [32];
    xinf_sched_run_key (run, key, sizeof key);
    xinf_sched_request_t *request = (xinf_sched_request_t *) zhashx_lookup (self->runs, key);
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
        xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_lookup (self->models, request->uid);
        if (model)
            model->service_ms = 0.8 * model->service_ms + 0.2 * (double) (now - request->dispatched);
        xinf_msg_t *reply = s_client_message (request, msg, true);
        xinf_sched_end (self, request, &reply, "OK");
    }
    else
    if (request->stream)
        s_relay_token (self, request, msg);
    xinf_sched_pump_all (self, now);
}

//  One request a worker reports; false when it is malformed.
static bool
s_adopt_one (xinf_scheduler_t *self, const char *node, const xinf_value_t *item, int64_t now)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_run_report_t report;
    xinf_node_msg_run_report_decode (item, &report, &check);
    if (!check.failed && report.replica >= XINF_SCHED_REPLICAS_MAX)
        xinf_check_fail (&check, "field 'replica' is %llu, must be below %d", (unsigned long long) report.replica,
                         XINF_SCHED_REPLICAS_MAX);
    if (!check.failed && !*report.client)
        xinf_check_fail (&check, "field 'client' is empty");
    if (check.failed) {
        xinf_warn ("scheduler", "request reported by %s ignored reason=\"%s\"", node, check.reason);
        return false;
    }
    uint64_t run = report.request, index = report.replica, corr = report.corr, left = report.deadline_ms;
    const char *uid = report.uid, *client = report.client;
    bool stream = report.stream, relayed = report.relayed;
    char key [32];
    xinf_sched_run_key (run, key, sizeof key);
    if (zhashx_lookup (self->runs, key))
        return true;                  //  running here: nothing to adopt
    if (run >= self->first_run) {
        //  A run of this supervisor that it ended already (its worker was
        //  lost, its deadline passed) while the worker ran on: stopped, or
        //  it would hold a batch slot and its KV until max_tokens
        xinf_node_msg_run_cancel_t fields = { .request = run, .uid = uid, .replica = index };
        xinf_msg_t *cancel = xinf_node_msg_run_cancel_encode (&fields);
        self->io.to_node (self->io.arg, node, &cancel);
        return true;
    }
    xinf_sched_request_t *request = xinf_sched_request_new (client, corr, uid);
    xinf_sched_request_t *resent = (xinf_sched_request_t *) zhashx_lookup (self->requests, request->key);
    if (resent && !resent->run) {
        //  The client sent it again and it waits in the queue: the
        //  reported run answers it
        xinf_sched_detach (self, resent);
        zhashx_delete (self->requests, resent->key);
        resent = NULL;
    }
    if (resent || zhashx_lookup (self->answered, request->key)) {
        //  The client sent it again and it runs, or it was answered
        //  already (e.g. MODEL_NOT_READY right after the restart): the
        //  reported run stops, so that the client gets one answer
        xinf_node_msg_run_cancel_t fields = { .request = run, .uid = uid, .replica = index };
        xinf_msg_t *cancel = xinf_node_msg_run_cancel_encode (&fields);
        self->io.to_node (self->io.arg, node, &cancel);
        free (request);
        return true;
    }
    request->stream = stream;
    request->relayed = relayed;
    request->deadline = left ? now + (int64_t) left : 0;
    request->priority = report.priority;
    request->submitted = request->dispatched = now;
    request->run = run;
    request->replica = (int) index;
    xinf_fsm_move (&xinf_request_fsm, &request->state, XINF_REQUEST_RUNNING, request->key);
    request->attempts = XINF_SCHED_ATTEMPTS;
    request->adopted = true;
    snprintf (request->node, sizeof request->node, "%s", node);
    zhashx_insert (self->requests, request->key, request);
    zhashx_insert (self->runs, key, request);
    xinf_sched_model_t *model = xinf_sched_model_of (self, uid);
    if (index >= model->count)
        model->count = index + 1;
    model->replicas [index].outstanding++;
    return true;
}

void
xinf_scheduler_adopt (xinf_scheduler_t *self, const char *node, const xinf_value_t *requests, int64_t now)
{
    self->now = now;
    size_t adopted = zhashx_size (self->requests);
    for (size_t index = 0; index < xinf_value_count (requests); index++)
        s_adopt_one (self, node, xinf_array_at (requests, index), now);
    adopted = zhashx_size (self->requests) - adopted;
    if (adopted)
        xinf_info ("scheduler", "adopted %zu in-flight request(s) from %s (a supervisor restart)", adopted, node);
}

xinf_value_t *
xinf_scheduler_stats (xinf_scheduler_t *self)
{
    xinf_value_t *stats = xinf_value_new_map ();
    size_t queued = 0;
    for (xinf_sched_model_t *model = (xinf_sched_model_t *) zhashx_first (self->models); model;
         model = (xinf_sched_model_t *) zhashx_next (self->models))
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
