/*  test_scheduler: the supervisor's request scheduler (actors/xinf_scheduler)
    driven message by message with explicit times, its sends recorded:
    routing by least outstanding work against capacity, the bounded queue
    and OVERLOADED with retry_after_ms, deadlines in the queue and on a
    replica, cancel, adoption after a restart, a worker's malformed
    replies dropped, and stopping with all in flight; every message it
    sends checked against its protocol schema. Retries and failures are
    in test_scheduler_faults.c.  */
#include "test_scheduler.h"
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

//  The queue by priority (lower first), first come first served among
//  equals; a request of a lower value than one running on a full replica
//  goes to it over its capacity (its batcher preempts that one), once per
//  such run.
static void
test_priority (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 0, 0);                  //  runs: w0 takes one
    const int64_t priorities [] = { 5, 0, -3, 5, 0, -2 };       //  corr 2 .. 7
    for (uint64_t corr = 2; corr <= 7; corr++)
        s_submit_priority (scheduler, "c", corr, false, 0, 1, priorities [corr - 2]);
    //  corr 4 displaces corr 1 (priority 0) at once; corr 7 finds it displaced already
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 5);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 2);
    xinf_msg_t *first = s_take (&io, "RUN", "w0"), *run = s_take (&io, "RUN", "w0");
    CHECK (first && run);
    CHECK_INT (s_uint (first, "corr"), 1);
    CHECK_INT (s_uint (run, "corr"), 4);
    //  corr 4 done: corr 7 (-2) displaces corr 1 in its turn
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (run, "request"), NULL, 20);
    xinf_msg_destroy (&run);
    run = s_take (&io, "RUN", "w0");
    CHECK (run);
    CHECK_INT (s_uint (run, "corr"), 7);
    //  corr 7 done: corr 3 (0) may not displace corr 1 (0): it waits for its place
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (run, "request"), NULL, 21);
    xinf_msg_destroy (&run);
    CHECK (!s_take (&io, "RUN", "w0"));
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (first, "request"), NULL, 22);
    xinf_msg_destroy (&first);
    const uint64_t order [] = { 3, 6, 2, 5 };
    for (size_t at = 0; at < 4; at++) {
        run = s_take (&io, "RUN", "w0");
        CHECK (run);
        CHECK_INT (s_uint (run, "corr"), order [at]);
        CHECK (!s_take (&io, "RUN", "w0"));               //  one place: one at a time
        s_reply (scheduler, "w0", "RUN_DONE", s_uint (run, "request"), NULL, 30 + (int64_t) at);
        xinf_msg_destroy (&run);
    }
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 0);
    s_end (&scheduler, &io);
}

//  A full queue makes room for a request of a lower value than its last
//  (the highest value, the newest among equals), which is answered
//  OVERLOADED with retry_after_ms; one of no lower value is refused.
static void
test_priority_overload (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_model_set (scheduler, "m", 2);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    s_submit (scheduler, "c", 1, false, 0, 0);                  //  runs: w0's one place
    const int64_t priorities [] = { 9, 7, 9, 1, 7, 0 };         //  corr 2 .. 7
    const uint64_t refused [] = { 0, 0, 4, 2, 6, 3 };           //  the ERROR each submit causes (0: none)
    for (uint64_t corr = 2; corr <= 7; corr++) {
        s_submit_priority (scheduler, "c", corr, false, 0, 1, priorities [corr - 2]);
        CHECK_INT (xinf_scheduler_queued (scheduler, "m"), corr == 2 ? 1 : 2);
        xinf_msg_t *error = s_take (&io, "ERROR", "c");
        CHECK_INT (error ? xinf_msg_corr (error) : 0, refused [corr - 2]);
        if (error) {
            CHECK_STR (s_str (error, "code"), "OVERLOADED");
            CHECK (s_uint (error, "retry_after_ms") > 0);
            CHECK_HAS (s_str (error, "message"), refused [corr - 2] == corr ? "requests queued" : "took its place");
        }
        xinf_msg_destroy (&error);
    }
    //  One of a lower value than the run goes over w0's capacity at once:
    //  nobody is displaced for it
    s_submit_priority (scheduler, "c", 8, false, 0, 2, -5);
    CHECK_INT (xinf_scheduler_queued (scheduler, "m"), 2);
    CHECK_INT (s_count (&io, "ERROR"), 0);
    xinf_msg_t *run = s_take (&io, "RUN", "w0"), *over = s_take (&io, "RUN", "w0");
    CHECK (run && over && s_uint (run, "corr") == 1 && s_uint (over, "corr") == 8);
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (over, "request"), NULL, 9);
    xinf_msg_destroy (&over);
    //  Left queued: 7 (0) and 5 (1), in that order once w0 has room
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (run, "request"), NULL, 10);
    xinf_msg_destroy (&run);
    run = s_take (&io, "RUN", "w0");
    CHECK (run && s_uint (run, "corr") == 7);
    s_reply (scheduler, "w0", "RUN_DONE", s_uint (run, "request"), NULL, 11);
    xinf_msg_destroy (&run);
    run = s_take (&io, "RUN", "w0");
    CHECK (run && s_uint (run, "corr") == 5);
    xinf_msg_destroy (&run);
    s_end (&scheduler, &io);
}

//  A retried request of a lower value goes by s_pick's rules: it does not
//  go straight back over priority to the replica it failed on (w1, with
//  room and a priority 0 run) while an untried one (w0, full) is ready.
static void
test_priority_retry (void)
{
    s_io_t io;
    xinf_scheduler_t *scheduler = s_new (&io);
    xinf_scheduler_replica_set (scheduler, "m", 0, "w0", true, 1, 0);
    xinf_scheduler_replica_set (scheduler, "m", 1, "w1", true, 2, 0);
    s_submit (scheduler, "c", 1, false, 0, 1);                   //  w0 (full)
    s_submit (scheduler, "c", 2, false, 0, 1);                   //  w1
    s_submit_priority (scheduler, "c", 3, false, 0, 2, -1);      //  w1 (room)
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 0), 1);
    CHECK_INT (xinf_scheduler_outstanding (scheduler, "m", 1), 2);
    xinf_msg_t *run = NULL, *msg;
    while ((msg = s_take (&io, "RUN", "w1"))) {
        if (s_uint (msg, "corr") == 3) {
            xinf_msg_destroy (&run);
            run = msg;
        }
        else
            xinf_msg_destroy (&msg);
    }
    CHECK (run);
    s_reply (scheduler, "w1", "RUN_FAILED", s_uint (run, "request"), "MODEL_NOT_READY", 10);
    xinf_msg_destroy (&run);
    xinf_msg_t *again = s_take (&io, "RUN", "w1");
    CHECK (!again);                   //  it waits for w0
    s_end (&scheduler, &io);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_routing);
    RUN (test_overload);
    RUN (test_deadline_and_cancel);
    RUN (test_adopt);
    RUN (test_grace);
    RUN (test_malformed_reply);
    RUN (test_malformed_replies);
    RUN (test_priority);
    RUN (test_priority_retry);
    RUN (test_priority_overload);
    return 0;
}
