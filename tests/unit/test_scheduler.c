/*  test_scheduler: the supervisor's request scheduler (actors/xinf_scheduler)
    driven message by message with explicit times, its sends recorded:
    routing by least outstanding work against capacity, the bounded queue
    and OVERLOADED with retry_after_ms, deadlines in the queue and on a
    replica, cancel, retries on another replica before the first token
    (and none after it; a lost or hung executor's too), late answers of an
    earlier attempt ignored, a worker that cannot take a RUN for a while,
    a client that is gone and one whose queue is full, adoption after a
    restart, a worker's malformed replies dropped, and stopping with all
    in flight; every message it sends checked against its protocol
    schema.  */
#include "test_unit.h"
#include "xinf_scheduler.h"
#include "xinf_node_msg.h"
#include "xinf_client_msg.h"
#include "xinf_envelope_msg.h"

#include <errno.h>

typedef struct {
    char to [512];
    bool to_node;
    xinf_msg_t *msg;
} s_sent_t;

typedef struct {
    zlistx_t *sent;
    bool client_refuses;              //  to_client fails (a client gone: EHOSTUNREACH)
    bool node_refuses;                //  to_node fails (a worker reconnecting: EHOSTUNREACH)
    size_t client_full;               //  so many next sends to clients fail (a queue full: EAGAIN)
} s_io_t;

static void
s_sent_free (void **item)
{
    s_sent_t *sent = (s_sent_t *) *item;
    xinf_msg_destroy (&sent->msg);
    free (sent);
    *item = NULL;
}

static int
s_record (s_io_t *io, const char *to, bool to_node, xinf_msg_t **msg_p)
{
    if (to_node ? io->node_refuses : io->client_refuses) {
        xinf_msg_destroy (msg_p);
        errno = EHOSTUNREACH;
        return -1;
    }
    if (!to_node && io->client_full) {
        io->client_full--;
        xinf_msg_destroy (msg_p);
        errno = EAGAIN;
        return -1;
    }
    //  Everything the scheduler sends is what its schema says (node.xml
    //  to workers; client.xml, envelope.xml to clients)
    xinf_check_t check = XINF_CHECK_INIT;
    const char *type = xinf_msg_type (*msg_p);
    const xinf_value_t *body = xinf_msg_body (*msg_p);
    int rc = to_node ? xinf_node_msg_validate (type, body, &check)
                     : xinf_client_msg_validate (type, body, &check) == 1 ? xinf_envelope_msg_validate (type, body, &check)
                     : check.failed ? -1 : 0;
    if (rc != 0)
        fprintf (stderr, "sent %s breaks its schema (%d): %s\n", type, rc, check.reason);
    CHECK (rc == 0);
    s_sent_t *sent = calloc (1, sizeof *sent);
    snprintf (sent->to, sizeof sent->to, "%s", to);
    sent->to_node = to_node;
    sent->msg = *msg_p;
    *msg_p = NULL;
    zlistx_add_end (io->sent, sent);
    return 0;
}

static int
s_to_node (void *arg, const char *node, xinf_msg_t **msg_p)
{
    return s_record ((s_io_t *) arg, node, true, msg_p);
}

static int
s_to_client (void *arg, const char *client, xinf_msg_t **msg_p)
{
    return s_record ((s_io_t *) arg, client, false, msg_p);
}

static xinf_scheduler_t *
s_new (s_io_t *io)
{
    io->sent = zlistx_new ();
    zlistx_set_destructor (io->sent, s_sent_free);
    io->client_refuses = io->node_refuses = false;
    io->client_full = 0;
    xinf_scheduler_io_t callbacks = { s_to_node, s_to_client, io };
    return xinf_scheduler_new (&callbacks);
}

static void
s_end (xinf_scheduler_t **scheduler, s_io_t *io)
{
    xinf_scheduler_destroy (scheduler);
    zlistx_destroy (&io->sent);
}

//  Takes the first recorded message of 'type' (to 'to', when given).
static xinf_msg_t *
s_take (s_io_t *io, const char *type, const char *to)
{
    for (s_sent_t *sent = (s_sent_t *) zlistx_first (io->sent); sent; sent = (s_sent_t *) zlistx_next (io->sent))
        if (xinf_msg_is (sent->msg, type) && (!to || streq (sent->to, to))) {
            xinf_msg_t *msg = sent->msg;
            sent->msg = NULL;
            zlistx_delete (io->sent, zlistx_cursor (io->sent));
            return msg;
        }
    return NULL;
}

static size_t
s_count (s_io_t *io, const char *type)
{
    size_t count = 0;
    for (s_sent_t *sent = (s_sent_t *) zlistx_first (io->sent); sent; sent = (s_sent_t *) zlistx_next (io->sent))
        count += xinf_msg_is (sent->msg, type);
    return count;
}

static void
s_submit (xinf_scheduler_t *scheduler, const char *client, uint64_t corr, bool stream, uint64_t budget, int64_t now)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_str (body, "uid", "m");
    xinf_value_t *tokens = xinf_value_new_array ();
    xinf_array_push (tokens, xinf_value_new_uint (1));
    xinf_map_put (body, "prompt_tokens", tokens);
    xinf_map_put_uint (body, "max_tokens", 4);
    xinf_map_put_bool (body, "stream", stream);
    xinf_scheduler_submit (scheduler, client, corr, budget, &body, now);
    CHECK (body == NULL);
}

static uint64_t
s_uint (xinf_msg_t *msg, const char *key)
{
    return xinf_value_uint (xinf_map_get (xinf_msg_body (msg), key));
}

static const char *
s_str (xinf_msg_t *msg, const char *key)
{
    return xinf_value_str (xinf_map_get (xinf_msg_body (msg), key));
}

//  A worker's reply to run 'run'.
static void
s_reply (xinf_scheduler_t *scheduler, const char *node, const char *type, uint64_t run, const char *code, int64_t now)
{
    xinf_msg_t *msg = xinf_msg_new (type);
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_uint (body, "request", run);
    if (streq (type, "RUN_TOKEN")) {
        xinf_map_put_uint (body, "index", 0);
        xinf_map_put_uint (body, "token", 7);
        xinf_map_put_str (body, "text", "x");
    }
    else
    if (streq (type, "RUN_DONE")) {
        //  Whole, as node.xml has it: the scheduler validates it all
        xinf_map_put (body, "prompt_tokens", xinf_value_new_array ());
        xinf_map_put (body, "tokens", xinf_value_new_array ());
        xinf_map_put_str (body, "text", "");
        xinf_map_put_str (body, "finish_reason", "length");
        xinf_value_t *timings = xinf_value_new_map ();
        const char *keys [] = { "prefill_ms", "prefill_tokens_per_s", "decode_ms", "decode_tokens_per_s" };
        for (size_t at = 0; at < 4; at++)
            xinf_map_put_float (timings, keys [at], 1);
        xinf_map_put (body, "timings", timings);
    }
    else {
        xinf_map_put_str (body, "code", code);
        xinf_map_put_str (body, "message", "it broke");
    }
    xinf_scheduler_run_reply (scheduler, node, msg, now);
    xinf_msg_destroy (&msg);
}

static void
test_routing (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 2, 0);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 1, 0);
    for (uint64_t corr = 1; corr <= 4; corr++)
        s_submit (scheduler, "c", corr, false, 0, 10);
    //  Least outstanding relative to capacity: w0 takes 2, w1 takes 1
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 2);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 1), 1);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    CHECK_INT (s_count (&io, "RUN"), 3);
    xinf_msg_t *run = s_take (&io, "RUN", "w1");
    CHECK (run);
    CHECK_STR (s_str (run, "client"), "c");
    CHECK_INT (s_uint (run, "replica"), 1);
    uint64_t corr = s_uint (run, "corr");
    //  w1 answers: the client gets GENERATE_REPLY; the queued one goes to w1
    s_reply (scheduler, "w1", "RUN_DONE", s_uint (run, "request"), NULL, 20);
    xinf_msg_t *reply = s_take (&io, "GENERATE_REPLY", "c");
    CHECK (reply);
    CHECK_INT (xinf_msg_corr (reply), corr);
    CHECK_STR (s_str (reply, "worker"), "w1");
    xinf_msg_destroy (&reply);
    xinf_msg_destroy (&run);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    run = s_take (&io, "RUN", "w1");
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 4);
    xinf_msg_destroy (&run);
    //  A reply from a node that does not run the request is ignored
    run = s_take (&io, "RUN", "w0");
    s_reply (scheduler, "w1", "RUN_DONE", s_uint (run, "request"), NULL, 30);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 0);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

static void
test_overload (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_model_set (scheduler, "m", 2);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    for (uint64_t corr = 1; corr <= 4; corr++)
        s_submit (scheduler, "c", corr, false, 0, 10);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 2);
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK (error);
    CHECK_INT (xinf_msg_corr (error), 4);
    CHECK_STR (s_str (error, "code"), "OVERLOADED");
    CHECK (s_uint (error, "retry_after_ms") >= 50);
    xinf_msg_destroy (&error);
    //  The same corr again while in flight is a resend: absorbed, not run twice
    s_submit (scheduler, "c", 1, false, 0, 11);
    CHECK_INT (s_count (&io, "ERROR"), 0);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 2);
    CHECK_INT (s_count (&io, "RUN"), 1);
    //  No ready replica: MODEL_NOT_READY for new ones, queued ones end
    xinf_scheduler_replica_down (scheduler, "m", 0, "WORKER_LOST", "worker w0 lost", 20);
    CHECK_INT (s_count (&io, "ERROR"), 3);
    error = s_take (&io, "ERROR", "c");
    CHECK_STR (s_str (error, "code"), "WORKER_LOST");
    CHECK_HAS (s_str (error, "message"), "w0");
    xinf_msg_destroy (&error);
    zlistx_purge (io.sent);
    s_submit (scheduler, "c", 9, false, 0, 30);
    error = s_take (&io, "ERROR", "c");
    CHECK_STR (s_str (error, "code"), "MODEL_NOT_READY");
    CHECK (s_uint (error, "retry_after_ms") > 0);
    xinf_msg_destroy (&error);
    s_end (&scheduler, &io);
}

static void
test_deadline_and_cancel (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 1000, 0);
    s_submit (scheduler, "c", 2, false, 100, 0);
    s_submit (scheduler, "c", 3, false, 0, 0);
    xinf_scheduler_tick (scheduler, 100);
    CHECK_INT (s_count (&io, "ERROR"), 0);
    xinf_scheduler_tick (scheduler, 101);
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK_INT (xinf_msg_corr (error), 2);
    CHECK_STR (s_str (error, "code"), "DEADLINE_EXCEEDED");
    CHECK_HAS (s_str (error, "message"), "queue");
    xinf_msg_destroy (&error);
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 0);
    //  The running one's deadline: an answer, and the worker stops it
    xinf_scheduler_tick (scheduler, 1001);
    error = s_take (&io, "ERROR", "c");
    CHECK_INT (xinf_msg_corr (error), 1);
    CHECK_STR (s_str (error, "code"), "DEADLINE_EXCEEDED");
    xinf_msg_destroy (&error);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    xinf_msg_t *cancel = s_take (&io, "RUN_CANCEL", "w0");
    CHECK (cancel);
    CHECK_INT (s_uint (cancel, "request"), s_uint (run, "request"));
    xinf_msg_destroy (&cancel);
    xinf_msg_destroy (&run);
    //  Corr 3 got the replica; the client cancels it
    run = s_take (&io, "RUN", "w0");
    CHECK_INT (s_uint (run, "corr"), 3);
    CHECK (xinf_scheduler_cancel (scheduler, "c", 3, 1050));
    CHECK (!xinf_scheduler_cancel (scheduler, "c", 3, 1050));
    error = s_take (&io, "ERROR", "c");
    CHECK_STR (s_str (error, "code"), "CANCELLED");
    cancel = s_take (&io, "RUN_CANCEL", "w0");
    CHECK_INT (s_uint (cancel, "request"), s_uint (run, "request"));
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 0);
    //  Its late answer finds nothing
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (run, "request"), NULL, 1100);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 0);
    xinf_msg_destroy (&error);
    xinf_msg_destroy (&cancel);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

static void
test_retry (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 0, 0);
    s_submit (scheduler, "c", 2, true, 0, 0);
    xinf_msg_t *first = s_take (&io, "RUN", "w0");
    xinf_msg_t *second = s_take (&io, "RUN", "w1");
    CHECK (first && second);
    CHECK_INT (s_uint (first, "corr"), 1);
    //  The streaming one relays a token: it can no longer be retried
    s_reply (scheduler, "w1", "RUN_TOKEN", s_uint (second, "request"), NULL, 5);
    xinf_msg_t *token = s_take (&io, "GENERATE_TOKEN", "c");
    CHECK_INT (xinf_msg_corr (token), 2);
    xinf_msg_destroy (&token);
    //  w0's replica fails corr 1 before any token: it goes to w1 when w1
    //  has room, with a new run id
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (first, "request"), "REPLICA_FAILED", 10);
    CHECK_INT (s_count (&io, "ERROR"), 0);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    //  w1 is lost: the streaming request ends WORKER_LOST; corr 1 is not
    //  retried on w1 (never sent there) but waits for w0... which is still up
    xinf_scheduler_replica_down (scheduler, "m", 1, "WORKER_LOST", "worker w1 lost while running the request", 20);
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK_INT (xinf_msg_corr (error), 2);
    CHECK_STR (s_str (error, "code"), "WORKER_LOST");
    xinf_msg_destroy (&error);
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 0);           //  a lost worker is not told
    CHECK_INT (s_count (&io, "RUN_ACK"), 1);              //  w0's RUN_FAILED was acknowledged
    xinf_msg_t *again = s_take (&io, "RUN", "w0");
    CHECK (again);
    CHECK_INT (s_uint (again, "corr"), 1);
    CHECK (s_uint (again, "request") != s_uint (first, "request"));
    //  A late answer of the first attempt is ignored; the second's counts
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (first, "request"), NULL, 30);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 0);
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (again, "request"), NULL, 40);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 1);
    //  A client error is never retried
    s_submit (scheduler, "c", 3, false, 0, 50);
    xinf_msg_t *third = s_take (&io, "RUN", "w0");
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (third, "request"), "CONTEXT_EXCEEDED", 60);
    error = s_take (&io, "ERROR", "c");
    CHECK_STR (s_str (error, "code"), "CONTEXT_EXCEEDED");
    xinf_msg_destroy (&error);
    xinf_msg_destroy (&third);
    xinf_msg_destroy (&again);
    xinf_msg_destroy (&first);
    xinf_msg_destroy (&second);
    s_end (&scheduler, &io);
}

static void
test_attempts_bounded (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 0, 0);
    for (int attempt = 0; attempt < XINF_SCHED_ATTEMPTS; attempt++) {
        xinf_msg_t *run = s_take (&io, "RUN", "w0");
        CHECK (run);
        s_reply (scheduler, "w0", "RUN_FAILED", s_uint (run, "request"), "MODEL_NOT_READY", attempt);
        xinf_msg_destroy (&run);
    }
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK (error);
    CHECK_STR (s_str (error, "code"), "MODEL_NOT_READY");
    CHECK_INT (s_count (&io, "RUN"), 0);
    xinf_msg_destroy (&error);
    s_end (&scheduler, &io);
}

//  A replica whose executor process died or hung fails: its requests
//  with no token delivered go to another replica, and it takes nothing
//  more. A request is retried after one such fault only (it may be what
//  crashes executors): the second ends it with the executor's error, and
//  the third replica is not sent it.
static void
test_executor_lost (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    for (size_t index = 0; index < 3; index++)
        xinf_scheduler_replica_set (scheduler, "m", index, index == 0 ? "w0" : index == 1 ? "w1" : "w2", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 0, 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    CHECK (run);
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (run, "request"), "EXECUTOR_LOST", 10);
    xinf_msg_destroy (&run);
    CHECK_INT (s_count (&io, "ERROR"), 0);
    CHECK_INT (s_count (&io, "RUN"), 1);
    run = s_take (&io, "RUN", NULL);
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 1);
    const char *second = s_uint (run, "replica") == 1 ? "w1" : "w2", *third = streq (second, "w1") ? "w2" : "w1";
    //  Its executor hangs too: corr 1 ends with the hang, not sent on
    s_reply (scheduler, second, "RUN_FAILED", s_uint (run, "request"), "EXECUTOR_HUNG", 30);
    xinf_msg_destroy (&run);
    CHECK_INT (s_count (&io, "RUN"), 0);
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK (error);
    CHECK_INT (xinf_msg_corr (error), 1);
    CHECK_STR (s_str (error, "code"), "EXECUTOR_HUNG");
    CHECK_HAS (s_str (error, "message"), "it broke");
    xinf_msg_destroy (&error);
    //  The two failed replicas take nothing more: a new request goes to
    //  the third; with it busy the next waits, and when its executor is
    //  lost too no replica is left: corr 2 ends with the loss, corr 3
    //  MODEL_NOT_READY
    s_submit (scheduler, "c", 2, false, 0, 40);
    s_submit (scheduler, "c", 3, false, 0, 40);
    run = s_take (&io, "RUN", third);
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 2);
    CHECK_INT (s_count (&io, "RUN"), 0);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    s_reply (scheduler, third, "RUN_FAILED", s_uint (run, "request"), "EXECUTOR_LOST", 50);
    xinf_msg_destroy (&run);
    CHECK_INT (s_count (&io, "ERROR"), 2);
    for (int at = 0; at < 2; at++) {
        error = s_take (&io, "ERROR", "c");
        CHECK_STR (s_str (error, "code"), xinf_msg_corr (error) == 2 ? "EXECUTOR_LOST" : "MODEL_NOT_READY");
        xinf_msg_destroy (&error);
    }
    s_end (&scheduler, &io);
}

//  The mark of a replica whose executor was lost holds while the model
//  table still says it is ready (another replica's report, a worker's
//  HELLO sync all models before its own failure report comes): it takes
//  requests again once seen not ready, then ready (relaunched).
static void
test_executor_down_sticky (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 0, 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    CHECK (run);
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (run, "request"), "EXECUTOR_LOST", 10);
    xinf_msg_destroy (&run);
    run = s_take (&io, "RUN", "w1");
    CHECK (run);
    xinf_msg_destroy (&run);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 20);      //  a sync, w0's report not yet in
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 1, 20);
    s_submit (scheduler, "c", 2, false, 0, 30);
    CHECK_INT (s_count (&io, "RUN"), 0);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", false, 1, 40);     //  it failed, is relaunched
    CHECK_INT (s_count (&io, "RUN") + s_count (&io, "ERROR"), 0);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 50);
    run = s_take (&io, "RUN", "w0");
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 2);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

//  A RUN its worker cannot take now (its connection being made again) is
//  no reason to refuse the model for good: the replica rests a while,
//  the request waits in the queue, and both go on after the rest.
static void
test_unreachable_rests (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 2, 0);
    io.node_refuses = true;
    s_submit (scheduler, "c", 1, false, 0, 10);
    io.node_refuses = false;
    CHECK_INT (s_count (&io, "ERROR"), 0);                //  it waits, not MODEL_NOT_READY
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    s_submit (scheduler, "c", 2, false, 0, 20);           //  during the rest: queued too
    CHECK_INT (s_count (&io, "ERROR") + s_count (&io, "RUN"), 0);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 2);
    xinf_scheduler_tick (scheduler, 10 + XINF_SCHED_BACKOFF_MS);
    CHECK_INT (s_count (&io, "RUN"), 2);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 2);
    //  Refused again and again: the rest doubles, up to its bound
    zlistx_purge (io.sent);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 1, 100);
    io.node_refuses = true;
    s_submit (scheduler, "c", 3, false, 0, 200);          //  w1: refused, rests 100 ms
    xinf_scheduler_tick (scheduler, 300);                 //  refused again, rests 200 ms
    xinf_scheduler_tick (scheduler, 499);
    io.node_refuses = false;
    xinf_scheduler_tick (scheduler, 499);
    CHECK_INT (s_count (&io, "RUN"), 0);
    xinf_scheduler_tick (scheduler, 500);
    xinf_msg_t *run = s_take (&io, "RUN", "w1");
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 3);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

//  A replica resting after refused RUNs (its worker reconnecting) takes
//  requests again as soon as its worker registers, not after the rest.
static void
test_node_back (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    io.node_refuses = true;
    s_submit (scheduler, "c", 1, false, 0, 0);            //  refused: rests 100 ms
    int64_t now = 0, rest = XINF_SCHED_BACKOFF_MS;
    for (int refused = 1; refused < 6; refused++) {       //  refused 5 times more, the rest doubling
        now += rest;
        rest *= 2;
        xinf_scheduler_tick (scheduler, now);
    }
    io.node_refuses = false;
    xinf_scheduler_tick (scheduler, now + 100);           //  it rests 3.2 s now
    CHECK_INT (s_count (&io, "RUN") + s_count (&io, "ERROR"), 0);
    xinf_scheduler_node_back (scheduler, "w9", now + 200);        //  another worker: it still rests
    CHECK_INT (s_count (&io, "RUN"), 0);
    xinf_scheduler_node_back (scheduler, "w0", now + 200);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 1);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

static void
test_client_gone (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 2, 0);
    s_submit (scheduler, "slow", 1, true, 0, 0);
    s_submit (scheduler, "slow", 2, false, 0, 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    io.client_refuses = true;
    s_reply (scheduler, "w0", "RUN_TOKEN", s_uint (run, "request"), NULL, 5);
    //  Both of its requests are cancelled on the worker, none answered
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 2);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 0);
    xinf_value_t *stats = xinf_scheduler_stats (scheduler);
    CHECK_INT (xinf_value_uint (xinf_map_get (stats, "clients_gone")), 1);
    CHECK_INT (xinf_value_uint (xinf_map_get (xinf_map_get (stats, "by_code"), "CLIENT_GONE")), 2);
    xinf_value_destroy (&stats);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

//  Many users share one client connection (the HTTP gateway): a token
//  that does not fit its full queue ends that request alone (cancelled on
//  its worker, answered SLOW_CLIENT once the client reads again); the
//  others stream on. An answer that does not fit is held, not lost.
static void
test_client_slow (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 2, 0);
    s_submit (scheduler, "gw", 1, true, 0, 0);
    s_submit (scheduler, "gw", 2, true, 0, 0);
    xinf_msg_t *first = s_take (&io, "RUN", "w0");
    xinf_msg_t *second = s_take (&io, "RUN", "w0");
    CHECK_INT (s_uint (first, "corr"), 1);
    io.client_full = 2;                                   //  the token, then its ERROR
    s_reply (scheduler, "w0", "RUN_TOKEN", s_uint (first, "request"), NULL, 5);
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 1);
    xinf_msg_t *cancel = s_take (&io, "RUN_CANCEL", "w0");
    CHECK_INT (s_uint (cancel, "request"), s_uint (first, "request"));
    xinf_msg_destroy (&cancel);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 1);
    //  The other stream goes on
    s_reply (scheduler, "w0", "RUN_TOKEN", s_uint (second, "request"), NULL, 6);
    xinf_msg_t *token = s_take (&io, "GENERATE_TOKEN", "gw");
    CHECK (token);
    CHECK_INT (xinf_msg_corr (token), 2);
    xinf_msg_destroy (&token);
    //  Corr 1's ERROR goes out once the client reads again
    CHECK_INT (s_count (&io, "ERROR"), 0);
    xinf_scheduler_tick (scheduler, 1000);
    xinf_msg_t *error = s_take (&io, "ERROR", "gw");
    CHECK (error);
    CHECK_INT (xinf_msg_corr (error), 1);
    CHECK_STR (s_str (error, "code"), "SLOW_CLIENT");
    xinf_msg_destroy (&error);
    //  Corr 2's answer does not fit at first: held, then delivered
    io.client_full = 1;
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (second, "request"), NULL, 1010);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 0);
    xinf_scheduler_tick (scheduler, 2000);
    xinf_msg_t *reply = s_take (&io, "GENERATE_REPLY", "gw");
    CHECK (reply);
    CHECK_INT (xinf_msg_corr (reply), 2);
    xinf_msg_destroy (&reply);
    xinf_value_t *stats = xinf_scheduler_stats (scheduler);
    CHECK_INT (xinf_value_uint (xinf_map_get (stats, "clients_gone")), 0);
    CHECK_INT (xinf_value_uint (xinf_map_get (stats, "undelivered")), 0);
    xinf_value_destroy (&stats);
    xinf_msg_destroy (&first);
    xinf_msg_destroy (&second);
    s_end (&scheduler, &io);
}

static void
test_adopt (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    xinf_value_t *requests = xinf_value_new_array ();
    xinf_value_t *item = xinf_value_new_map ();
    xinf_map_put_uint (item, "request", 42);           //  an earlier supervisor's run
    xinf_map_put_str (item, "uid", "m");
    xinf_map_put_uint (item, "replica", 0);
    xinf_map_put_str (item, "client", "c0ffee");
    xinf_map_put_uint (item, "corr", 5);
    xinf_array_push (requests, item);
    item = xinf_value_new_map ();
    xinf_map_put_uint (item, "uid", 0);                 //  malformed: ignored
    xinf_array_push (requests, item);
    xinf_scheduler_adopt (scheduler, "w0", requests, 0);
    xinf_value_destroy (&requests);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 1);
    s_submit (scheduler, "c", 1, false, 0, 0);          //  waits: w0 is busy
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    //  A run reported whose client resent it meanwhile (queued): the run
    //  answers it, the queued copy goes
    requests = xinf_value_new_array ();
    item = xinf_value_new_map ();
    xinf_map_put_uint (item, "request", 43);
    xinf_map_put_str (item, "uid", "m");
    xinf_map_put_uint (item, "replica", 0);
    xinf_map_put_str (item, "client", "c");
    xinf_map_put_uint (item, "corr", 1);
    xinf_array_push (requests, item);
    xinf_scheduler_adopt (scheduler, "w0", requests, 0);
    xinf_value_destroy (&requests);
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 0);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 2);
    s_reply (scheduler, "w0", "RUN_DONE", 42, NULL, 10);
    xinf_msg_t *reply = s_take (&io, "GENERATE_REPLY", "c0ffee");
    CHECK (reply);
    CHECK_INT (xinf_msg_corr (reply), 5);
    xinf_msg_destroy (&reply);
    s_reply (scheduler, "w0", "RUN_DONE", 43, NULL, 15);
    reply = s_take (&io, "GENERATE_REPLY", "c");
    CHECK (reply);
    CHECK_INT (xinf_msg_corr (reply), 1);
    xinf_msg_destroy (&reply);
    //  Reported again (another worker, a late HELLO): answered already, stopped
    requests = xinf_value_new_array ();
    item = xinf_value_new_map ();
    xinf_map_put_uint (item, "request", 44);
    xinf_map_put_str (item, "uid", "m");
    xinf_map_put_uint (item, "replica", 0);
    xinf_map_put_str (item, "client", "c0ffee");
    xinf_map_put_uint (item, "corr", 5);
    xinf_array_push (requests, item);
    xinf_scheduler_adopt (scheduler, "w0", requests, 20);
    xinf_value_destroy (&requests);
    xinf_msg_t *stop = s_take (&io, "RUN_CANCEL", "w0");
    CHECK (stop);
    CHECK_INT (s_uint (stop, "request"), 44);
    xinf_msg_destroy (&stop);
    //  Terminate: the running request ends, the worker is told
    s_submit (scheduler, "c", 2, false, 0, 30);
    xinf_scheduler_model_drop (scheduler, "m", "MODEL_NOT_READY", "model m was terminated");
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK_STR (s_str (error, "code"), "MODEL_NOT_READY");
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 1);
    xinf_msg_destroy (&error);
    s_end (&scheduler, &io);
}

static void
s_adopt (xinf_scheduler_t *scheduler, uint64_t run, const char *client, uint64_t corr, int64_t now)
{
    xinf_value_t *requests = xinf_value_new_array ();
    xinf_value_t *item = xinf_value_new_map ();
    xinf_map_put_uint (item, "request", run);
    xinf_map_put_str (item, "uid", "m");
    xinf_map_put_uint (item, "replica", 0);
    xinf_map_put_str (item, "client", client);
    xinf_map_put_uint (item, "corr", corr);
    xinf_map_put_bool (item, "stream", true);
    xinf_array_push (requests, item);
    xinf_scheduler_adopt (scheduler, "w0", requests, now);
    xinf_value_destroy (&requests);
}

//  Right after a restart the clients of adopted requests may not be back
//  yet: tokens are dropped, the answer is held until they are
static void
test_grace (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_set_grace (scheduler, 1000);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 4, 0);
    s_adopt (scheduler, 50, "back", 1, 0);
    s_adopt (scheduler, 51, "later", 2, 0);
    io.client_refuses = true;
    s_reply (scheduler, "w0", "RUN_TOKEN", 50, NULL, 10);
    s_reply (scheduler, "w0", "RUN_DONE", 50, NULL, 20);
    s_reply (scheduler, "w0", "RUN_DONE", 51, NULL, 20);
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 0);           //  not taken for gone
    xinf_scheduler_tick (scheduler, 500);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 0);
    io.client_refuses = false;
    xinf_scheduler_tick (scheduler, 600);
    xinf_msg_t *reply = s_take (&io, "GENERATE_REPLY", "back");
    CHECK (reply);
    CHECK_INT (xinf_msg_corr (reply), 1);
    xinf_msg_destroy (&reply);
    reply = s_take (&io, "GENERATE_REPLY", "later");
    CHECK (reply);
    xinf_msg_destroy (&reply);
    //  After the grace period an answer that cannot go is counted
    s_adopt (scheduler, 52, "gone", 3, 700);
    io.client_refuses = true;
    s_reply (scheduler, "w0", "RUN_DONE", 52, NULL, 800);
    xinf_scheduler_tick (scheduler, 1001);
    xinf_scheduler_tick (scheduler, 1100);
    xinf_value_t *stats = xinf_scheduler_stats (scheduler);
    CHECK_INT (xinf_value_uint (xinf_map_get (stats, "undelivered")), 1);
    xinf_value_destroy (&stats);
    s_end (&scheduler, &io);
}

//  A relayed RUN_DONE or RUN_TOKEN that breaks node.xml goes no further:
//  the client gets nothing from it, the run stays in flight.
static void
test_malformed_reply (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    s_submit (scheduler, "c", 1, true, 0, 10);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    CHECK (run);
    xinf_msg_t *token = xinf_msg_new ("RUN_TOKEN");
    xinf_map_put_uint (xinf_msg_body (token), "request", s_uint (run, "request"));
    xinf_map_put_uint (xinf_msg_body (token), "index", 0);
    xinf_map_put_uint (xinf_msg_body (token), "token", 7);
    xinf_map_put_uint (xinf_msg_body (token), "text", 5);          //  not a str
    xinf_scheduler_run_reply (scheduler, "w0", token, 11);
    xinf_msg_destroy (&token);
    xinf_msg_t *done = xinf_msg_new ("RUN_DONE");
    xinf_map_put_uint (xinf_msg_body (done), "request", s_uint (run, "request"));
    xinf_map_put (xinf_msg_body (done), "tokens", xinf_value_new_array ());
    xinf_map_put_str (xinf_msg_body (done), "finish_reason", "length");   //  no text, timings
    xinf_scheduler_run_reply (scheduler, "w0", done, 12);
    xinf_msg_destroy (&done);
    CHECK_INT (s_count (&io, "GENERATE_TOKEN") + s_count (&io, "GENERATE_REPLY") + s_count (&io, "RUN_ACK"), 0);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 1);
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (run, "request"), NULL, 13);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 1);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

//  A worker's malformed RUN_* (a field missing, of the wrong type, out of
//  range) is dropped: nothing relayed, nothing acknowledged, the request
//  still in flight; a good reply afterwards still ends it. Stopping ends
//  every request, queued or running, with the one error given.
static void
test_malformed_replies (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    s_submit (scheduler, "c", 1, true, 0, 0);
    s_submit (scheduler, "c", 2, false, 0, 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    uint64_t request = s_uint (run, "request");
    xinf_msg_destroy (&run);
    const char *types [] = { "RUN_TOKEN", "RUN_TOKEN", "RUN_TOKEN", "RUN_DONE", "RUN_DONE", "RUN_FAILED",
                             "RUN_FAILED", "RUN_TOKEN" };
    for (size_t index = 0; index < sizeof types / sizeof types [0]; index++) {
        xinf_msg_t *msg = xinf_msg_new (types [index]);
        xinf_value_t *body = xinf_msg_body (msg);
        xinf_map_put_uint (body, "request", request);
        if (index == 0)                    //  no index
            xinf_map_put_uint (body, "token", 7);
        if (index == 1) {                  //  a token id as text
            xinf_map_put_uint (body, "index", 0);
            xinf_map_put_str (body, "token", "seven");
        }
        if (index == 2) {                  //  an index past 2^32
            xinf_map_put_uint (body, "index", 1ull << 40);
            xinf_map_put_uint (body, "token", 7);
        }
        if (index == 3)                    //  no tokens
            xinf_map_put_str (body, "finish_reason", "stop");
        if (index == 4) {                  //  no finish_reason
            xinf_map_put (body, "tokens", xinf_value_new_array ());
        }
        if (index == 5)                    //  no code
            xinf_map_put_str (body, "message", "broke");
        if (index == 6)                    //  a code too long
            xinf_map_put_str (body, "code", "A_CODE_THAT_IS_FAR_TOO_LONG_TO_BE_ONE");
        if (index == 7) {                  //  no request at all
            xinf_value_t *taken = xinf_map_take (body, "request");
            xinf_value_destroy (&taken);
            xinf_map_put_uint (body, "index", 0);
            xinf_map_put_uint (body, "token", 7);
        }
        xinf_scheduler_run_reply (scheduler, "w0", msg, 10 + (int64_t) index);
        xinf_msg_destroy (&msg);
    }
    CHECK_INT (s_count (&io, "GENERATE_TOKEN"), 0);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 0);
    CHECK_INT (s_count (&io, "ERROR"), 0);
    CHECK_INT (s_count (&io, "RUN_ACK"), 0);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 1);
    s_reply (scheduler, "w0", "RUN_TOKEN", request, NULL, 30);
    CHECK_INT (s_count (&io, "GENERATE_TOKEN"), 1);
    //  Stopping: the running one and the queued one end, once each
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    xinf_scheduler_end_all (scheduler, "RESTARTING", "the supervisor stops");
    CHECK_INT (s_count (&io, "ERROR"), 2);
    for (uint64_t corr = 1; corr <= 2; corr++) {
        xinf_msg_t *error = s_take (&io, "ERROR", "c");
        CHECK (error);
        CHECK_STR (s_str (error, "code"), "RESTARTING");
        xinf_msg_destroy (&error);
    }
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 0);
    s_reply (scheduler, "w0", "RUN_DONE", request, NULL, 40);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 0);
    s_end (&scheduler, &io);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_routing);
    RUN (test_overload);
    RUN (test_deadline_and_cancel);
    RUN (test_retry);
    RUN (test_attempts_bounded);
    RUN (test_executor_lost);
    RUN (test_executor_down_sticky);
    RUN (test_unreachable_rests);
    RUN (test_node_back);
    RUN (test_client_gone);
    RUN (test_client_slow);
    RUN (test_adopt);
    RUN (test_grace);
    RUN (test_malformed_reply);
    RUN (test_malformed_replies);
    return 0;
}
