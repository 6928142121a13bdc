/*  test_scheduler_faults: the scheduler (actors/xinf_scheduler) when
    things fail: retries on another replica before the first token (and
    none after it), attempts bounded, a lost or hung executor's requests
    retried once, its replica kept down until seen not ready, late answers
    of an earlier attempt ignored, a worker that cannot take a RUN resting
    and back when it registers again, a client that is gone and one whose
    queue is full, a prompt too long for one replica's context retried
    only on a replica whose context is larger.  */
#include "test_scheduler.h"
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


//  Two replicas, w0 with 2 slots and w1 with 1, full with requests 1 .. 3;
//  one of w0's fails before a token (OVERLOADED: w0 is not down, it
//  refused it) and waits, retried, for w1, which is full: nothing is sent.
//  Its corr in *retried, w1's RUN in *on_w1; the messages sent dropped.
static xinf_scheduler_t *
s_retry_waiting (s_io_t *io, xinf_msg_t **on_w1, uint64_t *retried)
{
    xinf_scheduler_t *scheduler = s_new (io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 2, 0);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 1, 0);
    for (uint64_t corr = 1; corr <= 3; corr++)
        s_submit (scheduler, "c", corr, false, 0, 0);
    CHECK_INT (s_count (io, "RUN"), 3);
    *on_w1 = s_take (io, "RUN", "w1");
    xinf_msg_t *on_w0 = s_take (io, "RUN", "w0");
    CHECK (*on_w1 && on_w0);
    *retried = s_uint (on_w0, "corr");
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (on_w0, "request"), "OVERLOADED", 10);
    xinf_msg_destroy (&on_w0);
    CHECK_INT (s_count (io, "RUN"), 1);           //  w0's other one, sent before
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    zlistx_purge (io->sent);
    return scheduler;
}

//  A retried request waiting at the head for a replica it did not fail
//  on (full) does not hold up the queue: a fresh request behind it goes
//  at once to the replica with room; the retried one keeps its place and
//  takes the other replica when it frees a slot.
static void
test_retry_head_of_line (void)
{
    s_io_t io;
    xinf_msg_t *on_w1;
    uint64_t retried;
    xinf_scheduler_t *scheduler = s_retry_waiting (&io, &on_w1, &retried);
    //  A new request goes to w0 at once (the old code queued it behind)
    s_submit (scheduler, "c", 4, false, 0, 20);
    xinf_msg_t *fresh = s_take (&io, "RUN", "w0");
    CHECK (fresh);
    CHECK_INT (s_uint (fresh, "corr"), 4);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    //  w1 frees its slot: the retried request takes it
    s_reply (scheduler, "w1", "RUN_DONE", s_uint (on_w1, "request"), NULL, 30);
    xinf_msg_t *moved = s_take (&io, "RUN", "w1");
    CHECK (moved);
    CHECK_INT (s_uint (moved, "corr"), retried);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    xinf_msg_destroy (&moved);
    xinf_msg_destroy (&fresh);
    xinf_msg_destroy (&on_w1);
    s_end (&scheduler, &io);
}

//  A request that passed a waiting retried one and whose worker refused
//  its RUN keeps its place behind it: the retried request still takes
//  the first free slot of the replica it did not fail on.
static void
test_retry_pass_refused (void)
{
    s_io_t io;
    xinf_msg_t *on_w1;
    uint64_t retried;
    xinf_scheduler_t *scheduler = s_retry_waiting (&io, &on_w1, &retried);
    //  A new request passes it, and w0's worker refuses its RUN: w0 rests
    io.node_refuses = true;
    s_submit (scheduler, "c", 4, false, 0, 20);
    io.node_refuses = false;
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 2);
    //  w1 frees its slot: the retried request, still first, takes it (the
    //  old code had put the refused one at the head, and it took w1)
    s_reply (scheduler, "w1", "RUN_DONE", s_uint (on_w1, "request"), NULL, 30);
    xinf_msg_destroy (&on_w1);
    xinf_msg_t *moved = s_take (&io, "RUN", "w1");
    CHECK (moved);
    CHECK_INT (s_uint (moved, "corr"), retried);
    xinf_msg_destroy (&moved);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    //  The refused one goes to w0 when its rest is over
    xinf_scheduler_tick (scheduler, 20 + XINF_SCHED_BACKOFF_MS);
    xinf_msg_t *later = s_take (&io, "RUN", "w0");
    CHECK (later);
    CHECK_INT (s_uint (later, "corr"), 4);
    xinf_msg_destroy (&later);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    s_end (&scheduler, &io);
}

//  A retried request waits for a replica it did not fail on (full) for
//  XINF_SCHED_RETRY_WAIT_MS at most: then it takes room on the replica it
//  was sent to, instead of waiting for the other for as long as that one
//  stays full (or for ever, without a deadline).
static void
test_retry_wait_bounded (void)
{
    s_io_t io;
    xinf_msg_t *on_w1;
    uint64_t retried;
    xinf_scheduler_t *scheduler = s_retry_waiting (&io, &on_w1, &retried);
    xinf_msg_destroy (&on_w1);
    xinf_scheduler_tick (scheduler, 10 + XINF_SCHED_RETRY_WAIT_MS - 1);
    CHECK_INT (s_count (&io, "RUN"), 0);          //  it still waits for w1
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    xinf_scheduler_tick (scheduler, 10 + XINF_SCHED_RETRY_WAIT_MS);
    xinf_msg_t *back = s_take (&io, "RUN", "w0");
    CHECK (back);                                  //  the old code: no RUN, it waited on
    CHECK_INT (s_uint (back, "corr"), retried);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 2);
    xinf_msg_destroy (&back);
    s_end (&scheduler, &io);
}

//  A run the supervisor ended (its worker was lost) but the worker ran
//  on: when the worker registers again and reports it, it is stopped
//  (RUN_CANCEL), not left holding a slot and its KV until max_tokens.
static void
test_orphan_run_stopped (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 0, 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    CHECK (run);
    uint64_t id = s_uint (run, "request");
    xinf_msg_destroy (&run);
    xinf_scheduler_replica_down (scheduler, "m", 0, "WORKER_LOST", "w0 was lost", 10);
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK (error);
    CHECK_STR (s_str (error, "code"), "WORKER_LOST");
    xinf_msg_destroy (&error);
    CHECK_INT (s_count (&io, "RUN_CANCEL"), 0);     //  a lost worker is not told
    //  w0 is back and reports the run it kept running
    s_adopt (scheduler, id, "c", 1, 20);
    xinf_msg_t *cancel = s_take (&io, "RUN_CANCEL", "w0");
    CHECK (cancel);
    CHECK_INT (s_uint (cancel, "request"), id);
    CHECK_STR (s_str (cancel, "uid"), "m");
    xinf_msg_destroy (&cancel);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 0);
    s_end (&scheduler, &io);
}

//  Replicas w0, w1, ... of model m, one slot each, whose model info
//  reports the given contexts (each sized its own KV cache).
static xinf_scheduler_t *
s_contexts (s_io_t *io, const uint64_t *contexts, size_t count)
{
    xinf_scheduler_t *scheduler = s_new (io);
    for (size_t index = 0; index < count; index++) {
        char node [32];
        snprintf (node, sizeof node, "w%zu", index);
        xinf_scheduler_replica_context (scheduler, "m", index, contexts [index]);
        xinf_scheduler_replica_set (scheduler, "m", index, node, true, 1, 0);
    }
    return scheduler;
}

//  The ERROR the client got, checked to be corr's with 'code'.
static void
s_check_error (s_io_t *io, uint64_t corr, const char *code)
{
    xinf_msg_t *error = s_take (io, "ERROR", "c");
    CHECK (error);
    CHECK_INT (xinf_msg_corr (error), corr);
    CHECK_STR (s_str (error, "code"), code);
    xinf_msg_destroy (&error);
}

//  A prompt the smaller replica's context cannot hold (CONTEXT_EXCEEDED)
//  goes to the replica whose context is larger, as a new run, and only
//  there: while it is full the request waits (past the retry wait too)
//  and requests behind it take the smaller one.
static void
test_context_retry_larger (void)
{
    s_io_t io;
    uint64_t contexts [] = { 64, 256 };
    xinf_scheduler_t *scheduler = s_contexts (&io, contexts, 2);
    s_submit (scheduler, "c", 1, false, 0, 0);
    s_submit (scheduler, "c", 2, false, 0, 0);
    xinf_msg_t *small = s_take (&io, "RUN", "w0");
    xinf_msg_t *busy = s_take (&io, "RUN", "w1");
    CHECK (small && busy);
    CHECK_INT (s_uint (small, "corr"), 1);
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (small, "request"), "CONTEXT_EXCEEDED", 10);
    CHECK_INT (s_count (&io, "ERROR"), 0);                //  the old code: ERROR CONTEXT_EXCEEDED at once
    CHECK_INT (s_count (&io, "RUN"), 0);                  //  not back to w0, which has room
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    xinf_scheduler_tick (scheduler, 10 + XINF_SCHED_RETRY_WAIT_MS);
    CHECK_INT (s_count (&io, "RUN") + s_count (&io, "ERROR"), 0);
    s_submit (scheduler, "c", 3, false, 0, 20 + XINF_SCHED_RETRY_WAIT_MS);
    xinf_msg_t *fresh = s_take (&io, "RUN", "w0");       //  it passes the waiting one
    CHECK (fresh);
    CHECK_INT (s_uint (fresh, "corr"), 3);
    //  w1 frees its slot: corr 1 takes it, a new run
    s_reply (scheduler, "w1", "RUN_DONE", s_uint (busy, "request"), NULL, 30 + XINF_SCHED_RETRY_WAIT_MS);
    xinf_msg_t *large = s_take (&io, "RUN", "w1");
    CHECK (large);
    CHECK_INT (s_uint (large, "corr"), 1);
    CHECK (s_uint (large, "request") != s_uint (small, "request"));
    s_reply (scheduler, "w1", "RUN_DONE", s_uint (large, "request"), NULL, 40 + XINF_SCHED_RETRY_WAIT_MS);
    CHECK_INT (s_count (&io, "GENERATE_REPLY"), 2);
    CHECK_INT (s_count (&io, "ERROR"), 0);
    xinf_msg_destroy (&large);
    xinf_msg_destroy (&fresh);
    xinf_msg_destroy (&busy);
    xinf_msg_destroy (&small);
    s_end (&scheduler, &io);
}

//  Replicas of equal contexts: a CONTEXT_EXCEEDED is the answer at once
//  (the other would refuse it too). The contexts are those reported when
//  it is refused: once w1 is relaunched with a larger context, the next
//  request w0 refuses goes to w1.
static void
test_context_equal (void)
{
    s_io_t io;
    uint64_t contexts [] = { 128, 128 };
    xinf_scheduler_t *scheduler = s_contexts (&io, contexts, 2);
    s_submit (scheduler, "c", 1, false, 0, 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    CHECK (run);
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (run, "request"), "CONTEXT_EXCEEDED", 10);
    xinf_msg_destroy (&run);
    s_check_error (&io, 1, "CONTEXT_EXCEEDED");
    CHECK_INT (s_count (&io, "RUN"), 0);
    xinf_value_t *stats = xinf_scheduler_stats (scheduler);
    CHECK_INT (xinf_value_uint (xinf_map_get (stats, "retried")), 0);
    xinf_value_destroy (&stats);
    //  w1 comes back with a cache twice as large; it takes corr 2, w0 corr 3
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", false, 1, 20);
    xinf_scheduler_replica_context (scheduler, "m", 1, 256);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 1, 30);
    s_submit (scheduler, "c", 2, false, 0, 40);
    s_submit (scheduler, "c", 3, false, 0, 40);
    xinf_msg_t *busy = s_take (&io, "RUN", "w1");
    run = s_take (&io, "RUN", "w0");
    CHECK (busy && run);
    CHECK_INT (s_uint (run, "corr"), 3);
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (run, "request"), "CONTEXT_EXCEEDED", 50);
    xinf_msg_destroy (&run);
    CHECK_INT (s_count (&io, "ERROR"), 0);                //  the old code: ERROR CONTEXT_EXCEEDED
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    s_reply (scheduler, "w1", "RUN_DONE", s_uint (busy, "request"), NULL, 60);
    xinf_msg_destroy (&busy);
    run = s_take (&io, "RUN", "w1");
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 3);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

//  A CONTEXT_EXCEEDED from the replica with the largest context is the
//  answer at once, whether the request went there first or was retried
//  there after a smaller one refused it; it never goes back to a smaller.
static void
test_context_largest (void)
{
    s_io_t io;
    uint64_t contexts [] = { 256, 64, 128 };
    xinf_scheduler_t *scheduler = s_contexts (&io, contexts, 3);
    s_submit (scheduler, "c", 1, false, 0, 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0");
    CHECK (run);
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (run, "request"), "CONTEXT_EXCEEDED", 10);
    xinf_msg_destroy (&run);
    s_check_error (&io, 1, "CONTEXT_EXCEEDED");
    CHECK_INT (s_count (&io, "RUN"), 0);
    //  corr 2 goes to w1 (64): refused there, it goes to w2 (128), and
    //  refused there too, to w0 (256), and no further
    s_submit (scheduler, "c", 2, false, 0, 20);
    run = s_take (&io, "RUN", "w1");
    CHECK (run);
    const char *nodes [] = { "w1", "w2", "w0" };
    for (size_t at = 0; at < 3 && run; at++) {
        CHECK_INT (s_uint (run, "corr"), 2);
        s_reply (scheduler, nodes [at], "RUN_FAILED", s_uint (run, "request"), "CONTEXT_EXCEEDED", 30 + (int64_t) at);
        xinf_msg_destroy (&run);
        CHECK_INT (s_count (&io, "RUN"), at < 2);
        if (at < 2) {
            CHECK_INT (s_count (&io, "ERROR"), 0);        //  the old code: ERROR at w1's refusal
            run = s_take (&io, "RUN", nodes [at + 1]);
            CHECK (run);
        }
    }
    s_check_error (&io, 2, "CONTEXT_EXCEEDED");
    CHECK_INT (s_count (&io, "RUN"), 0);
    s_end (&scheduler, &io);
}

//  A request refused for its context waits for the larger replica (full);
//  when that one is no longer ready (relaunching), no replica can hold
//  the prompt: CONTEXT_EXCEEDED, though the smaller one has room.
static void
test_context_larger_gone (void)
{
    s_io_t io;
    uint64_t contexts [] = { 64, 256 };
    xinf_scheduler_t *scheduler = s_contexts (&io, contexts, 2);
    s_submit (scheduler, "c", 1, false, 0, 0);
    s_submit (scheduler, "c", 2, false, 0, 0);
    xinf_msg_t *small = s_take (&io, "RUN", "w0");
    xinf_msg_t *busy = s_take (&io, "RUN", "w1");
    CHECK (small && busy);
    xinf_msg_destroy (&busy);
    s_reply (scheduler, "w0", "RUN_FAILED", s_uint (small, "request"), "CONTEXT_EXCEEDED", 10);
    xinf_msg_destroy (&small);
    CHECK_INT (s_count (&io, "ERROR"), 0);                //  the old code: ERROR at once
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 1);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", false, 1, 20);
    xinf_msg_t *error = s_take (&io, "ERROR", "c");
    CHECK (error);
    CHECK_INT (xinf_msg_corr (error), 1);
    CHECK_STR (s_str (error, "code"), "CONTEXT_EXCEEDED");
    CHECK_HAS (s_str (error, "message"), "no other replica of m with a context over 64 tokens is ready");
    xinf_msg_destroy (&error);
    CHECK_INT (s_count (&io, "RUN"), 0);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    s_end (&scheduler, &io);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_retry);
    RUN (test_attempts_bounded);
    RUN (test_executor_lost);
    RUN (test_executor_down_sticky);
    RUN (test_retry_head_of_line);
    RUN (test_orphan_run_stopped);
    RUN (test_retry_pass_refused);
    RUN (test_retry_wait_bounded);
    RUN (test_unreachable_rests);
    RUN (test_node_back);
    RUN (test_client_gone);
    RUN (test_client_slow);
    RUN (test_context_retry_larger);
    RUN (test_context_equal);
    RUN (test_context_largest);
    RUN (test_context_larger_gone);
    return 0;
}
