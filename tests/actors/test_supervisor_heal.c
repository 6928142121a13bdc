/*  test_supervisor_heal: the supervisor actor in this process relaunching
    a tensor-parallel replica (actors/xinf_heal), with fake workers that
    answer every step of a launch (PROBE_MESH, LOAD_MODEL fetch_only and
    load, the port check, GROUP) message by message. It checks the order
    that keeps the old group and the new one apart: when rank 1's worker is
    lost the survivor gets UNLOAD_MODEL and nothing else happens until its
    stopped report comes (a late report of the old group meanwhile, even
    `failed`, changes nothing); then the group is placed on the survivor
    and the third worker and goes through the launch's preflight; a
    preflight that fails ends the replica failed with the cause, not stuck
    in relaunching.

    After a supervisor restart with a journal, a group whose rank 1's
    worker did not come back (rank 0's did, reporting its rank) is healed
    at the end of the restart window like a group that lost a worker: rank
    0 unloads and the group is placed again on the workers alive, not
    failed at its rendezvous deadline; a restored group whose ranks all
    came back but do not go on (a rank stays joining) still fails at that
    deadline.

    A plain replica relaunched elsewhere while its worker was lost, whose
    relaunch failed there, stays failed with that error when its first
    worker comes back still loading it: the copy is unloaded, not adopted
    into a failed entry (which kept "failed" and lost its error). A model
    file fetch that worker asks for while it is lost gets its refusal
    (FILE_ERROR) at once, not after its stall deadline.
*/
#include "actor_peer.h"
#include "xinf_journal.h"
#include "xinf_restore.h"

static uint64_t s_corr = 5000;

static xinf_msg_t *
s_ask (xinf_dealer_t *dealer, xinf_msg_t *request)
{
    return peer_ask (dealer, &request, ++s_corr);
}

//  A fake worker with a data listener (a rank needs one), heartbeating.
static xinf_dealer_t *
s_worker (const char *endpoint, const char *node, uint64_t data_port)
{
    xinf_hello_t hello = peer_hello_fields (node, 4242, 200, 5);
    hello.data_port = (uint16_t) data_port;
    return peer_register (endpoint, &hello, ++s_corr);
}

static void
s_state (xinf_dealer_t *worker, const char *node, uint64_t generation, uint64_t rank, const char *state,
         uint64_t data_port)
{
    xinf_msg_t *msg = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "node", node);
    xinf_map_put_str (body, "uid", "tp");
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_uint (body, "generation", generation);
    xinf_map_put_str (body, "state", state);
    xinf_map_put_uint (body, "rank", rank);
    xinf_map_put_uint (body, "n_ranks", 2);
    xinf_map_put_uint (body, "data_port", data_port);
    xinf_map_put_str (body, "error", streq (state, "failed") ? "a late word of the old group" : "");
    if (streq (state, "ready")) {
        xinf_value_t *info = xinf_value_new_map ();
        xinf_map_put_str (info, "arch", "llama");
        xinf_map_put_uint (info, "vocab", 64);
        xinf_map_put_uint (info, "max_seqs", 2);
        xinf_map_put (body, "info", info);
    }
    CHECK (xinf_dealer_send (worker, &msg) == 0);
}

//  Replica 0 of 'uid': its state and error (LAUNCH_PROGRESS).
static void
s_progress_of (xinf_dealer_t *client, const char *uid, char *state, size_t size, char *error, size_t error_size)
{
    xinf_msg_t *progress = xinf_msg_new ("LAUNCH_PROGRESS");
    xinf_map_put_str (xinf_msg_body (progress), "uid", uid);
    xinf_msg_t *reply = s_ask (client, progress);
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_PROGRESS_REPLY");
    xinf_value_t *replica = xinf_array_at (xinf_map_get (xinf_msg_body (reply), "replicas"), 0);
    snprintf (state, size, "%s", xinf_value_str (xinf_map_get (replica, "state")));
    snprintf (error, error_size, "%s", xinf_value_str (xinf_map_get (replica, "error")));
    xinf_msg_destroy (&reply);
}

//  Replica 0 of "tp": its state and error.
static void
s_progress (xinf_dealer_t *client, char *state, size_t size, char *error, size_t error_size)
{
    s_progress_of (client, "tp", state, size, error, error_size);
}

//  A whole launch on two fake workers (ranks 0 and 1): the replica is ready.
static uint64_t
s_bring_up (xinf_dealer_t *ranks [2], const char *names [2], uint64_t ports [2])
{
    for (size_t rank = 0; rank < 2; rank++)
        peer_answer_probe (ranks [rank], names [rank], "ok");
    uint64_t generation = 0;
    for (size_t rank = 0; rank < 2; rank++) {
        xinf_msg_t *load = peer_expect (ranks [rank], "LOAD_MODEL", NULL);
        CHECK (xinf_value_type (xinf_map_get (xinf_msg_body (load), "fetch_only")) == XINF_BOOL);
        CHECK_INT (peer_uint (load, "rank"), rank);
        generation = peer_uint (load, "generation");
        xinf_msg_destroy (&load);
        s_state (ranks [rank], names [rank], generation, rank, "fetched", 0);
    }
    for (size_t rank = 0; rank < 2; rank++) {
        xinf_msg_t *load = peer_expect (ranks [rank], "LOAD_MODEL", NULL);
        CHECK (!xinf_map_get (xinf_msg_body (load), "fetch_only"));
        xinf_msg_destroy (&load);
        s_state (ranks [rank], names [rank], generation, rank, "joining", ports [rank]);
    }
    for (size_t rank = 0; rank < 2; rank++)
        peer_answer_probe (ranks [rank], names [rank], "ok");       //  the port check
    for (size_t rank = 0; rank < 2; rank++) {
        xinf_msg_t *group = peer_expect (ranks [rank], "GROUP", NULL);
        xinf_msg_destroy (&group);
        s_state (ranks [rank], names [rank], generation, rank, "ready", ports [rank]);
    }
    return generation;
}

static void
test_group_relaunch (void)
{
    const char *endpoint = "inproc://test-supervisor-heal";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 200, 5);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_dealer_t *w1 = s_worker (endpoint, "w1", 30001);
    xinf_dealer_t *w2 = s_worker (endpoint, "w2", 30002);

    //  Launched on w1 and w2 (the only workers), brought up
    xinf_msg_t *launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "tp");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/models/tp.gguf");
    xinf_map_put_uint (xinf_msg_body (launch), "n_worker", 2);
    xinf_msg_t *reply = s_ask (client, launch);
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    xinf_value_t *placed = xinf_map_get (xinf_map_get (xinf_msg_body (reply), "replicas") ?
                                         xinf_array_at (xinf_map_get (xinf_msg_body (reply), "replicas"), 0) : NULL,
                                         "workers");
    bool w1_first = streq (xinf_value_str (xinf_array_at (placed, 0)), "w1");
    xinf_msg_destroy (&reply);
    xinf_dealer_t *ranks [2] = { w1_first ? w1 : w2, w1_first ? w2 : w1 };
    const char *names [2] = { w1_first ? "w1" : "w2", w1_first ? "w2" : "w1" };
    uint64_t ports [2] = { w1_first ? 30001 : 30002, w1_first ? 30002 : 30001 };
    uint64_t generation = s_bring_up (ranks, names, ports);
    char state [32], error [1200];
    CHECK_SOON ((s_progress (client, state, sizeof state, error, sizeof error), streq (state, "ready")),
                PEER_WAIT_MS);

    //  A third worker; then rank 1's worker goes silent: lost
    xinf_dealer_t *w3 = s_worker (endpoint, "w3", 30003);
    peer_keepalive_stop (ranks [1]);
    xinf_msg_t *unload = peer_expect (ranks [0], "UNLOAD_MODEL", NULL);
    CHECK_HAS (peer_str (unload, "why"), "the replica relaunches");
    CHECK_HAS (peer_str (unload, "why"), names [1]);
    xinf_msg_destroy (&unload);
    s_progress (client, state, sizeof state, error, sizeof error);
    CHECK_STR (state, "relaunching");
    CHECK_HAS (error, names [1]);
    CHECK_HAS (error, "rank 1");

    //  A late word of the old group changes nothing; nothing is placed
    //  before the survivor's stopped report
    s_state (ranks [0], names [0], generation, 0, "failed", 0);
    CHECK (peer_silent (ranks [0], 300));
    CHECK (peer_silent (w3, 100));
    s_progress (client, state, sizeof state, error, sizeof error);
    CHECK_STR (state, "relaunching");

    //  Stopped: the group goes to the survivor and w3, through the preflight;
    //  a refused pair fails it with the cause
    s_state (ranks [0], names [0], generation, 0, "stopped", 0);
    peer_answer_probe (ranks [0], names [0], "refused");
    peer_answer_probe (w3, "w3", "ok");
    CHECK_SOON ((s_progress (client, state, sizeof state, error, sizeof error), streq (state, "failed")),
                PEER_WAIT_MS);
    CHECK_HAS (error, "preflight failed");
    CHECK_HAS (error, "w3");
    //  Its workers free what they hold
    xinf_msg_t *freed = peer_expect (w3, "UNLOAD_MODEL", NULL);
    xinf_msg_destroy (&freed);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&w1);
    xinf_dealer_destroy (&w2);
    xinf_dealer_destroy (&w3);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

//  A journal in 'dir' (a supervisor's --state-dir) with model "tp" of
//  generation 41: one replica, rank 0 on 'rank0' and rank 1 on 'rank1', a
//  rendezvous timeout of 100 ms (so its deadline is 5.1 s after a report).
static void
s_journal (const char *dir, const char *rank0, const char *rank1)
{
    xinf_model_entry_t *model = calloc (1, sizeof *model);
    CHECK (model);
    snprintf (model->uid, sizeof model->uid, "tp");
    snprintf (model->path, sizeof model->path, "/models/tp.gguf");
    model->generation = 41;
    model->n_worker = 2;
    model->options = (xinf_launch_options_t) { .threads = 1, .probe_timeout_ms = 1000, .rendezvous_timeout_ms = 100,
                                               .stall_timeout_ms = 60000, .max_seqs = 2, .max_queued = 64 };
    model->count = 1;
    xinf_replica_entry_t *replica = &model->replicas [0];
    replica->n_ranks = 2;
    snprintf (replica->node, sizeof replica->node, "%s", rank0);
    snprintf (replica->ranks [0].node, sizeof replica->ranks [0].node, "%s", rank0);
    snprintf (replica->ranks [1].node, sizeof replica->ranks [1].node, "%s", rank1);
    xinf_value_t *models = xinf_value_new_array ();
    xinf_array_push (models, xinf_restore_describe (model));
    char error [256];
    xinf_journal_t *journal = xinf_journal_new (dir, error, sizeof error);
    CHECK (journal);
    CHECK_INT (xinf_journal_save_models (journal, models), 0);
    xinf_journal_destroy (&journal);
    xinf_value_destroy (&models);
    xinf_model_entry_free (&model);
}

//  A fake worker that reports rank 'rank' of 'n_ranks' of replica 0 of
//  'uid' (file /models/UID.gguf) of 'generation' in 'state' in its HELLO,
//  as after a supervisor restart or a worker's return.
static xinf_dealer_t *
s_worker_hosting (const char *endpoint, const char *node, uint64_t data_port, const char *uid, uint64_t generation,
                  uint64_t n_ranks, uint64_t rank, const char *state)
{
    xinf_hello_t hello = peer_hello_fields (node, 4242, 200, 5);
    hello.data_port = (uint16_t) data_port;
    xinf_value_t *hosted = xinf_value_new_map ();
    char path [128];
    snprintf (path, sizeof path, "/models/%s.gguf", uid);
    xinf_map_put_str (hosted, "uid", uid);
    xinf_map_put_uint (hosted, "replica", 0);
    xinf_map_put_str (hosted, "state", state);
    xinf_map_put_str (hosted, "path", path);
    xinf_map_put_uint (hosted, "generation", generation);
    xinf_map_put_uint (hosted, "n_ranks", n_ranks);
    xinf_map_put_uint (hosted, "rank", rank);
    xinf_array_push (hello.models, hosted);
    return peer_register (endpoint, &hello, ++s_corr);
}

//  A fake worker that reports rank 'rank' of "tp" (generation 41) in
//  'state' in its HELLO, as after a supervisor restart.
static xinf_dealer_t *
s_worker_with_rank (const char *endpoint, const char *node, uint64_t data_port, uint64_t rank, const char *state)
{
    return s_worker_hosting (endpoint, node, data_port, "tp", 41, 2, rank, state);
}

//  A supervisor whose journal is in 'dir' (heartbeat 200 ms, liveness 5:
//  a restart window of 4 s).
static xinf_supervisor_t *
s_journaled_supervisor (const char *endpoint, const char *dir)
{
    xinf_supervisor_config_t config = { .node_name = "sup", .heartbeat_ms = 200, .liveness = 5, .state_dir = dir };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&config);
    CHECK (supervisor);
    CHECK_INT (xinf_supervisor_bind (supervisor, endpoint, NULL, 0), 0);
    return supervisor;
}

static void
test_restored_group_heals (void)
{
    char dir [256];
    peer_scratch (dir, sizeof dir);
    s_journal (dir, "w1", "w2");
    const char *endpoint = "inproc://test-supervisor-heal-restored";
    xinf_supervisor_t *supervisor = s_journaled_supervisor (endpoint, dir);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    //  w1 comes back running rank 0; w2 (rank 1's) does not; w3 is new
    xinf_dealer_t *w1 = s_worker_with_rank (endpoint, "w1", 30001, 0, "ready");
    xinf_dealer_t *w3 = s_worker (endpoint, "w3", 30003);

    //  At the end of the restart window the group heals as one that lost
    //  rank 1's worker: rank 0 unloads for the relaunch (not "failed")
    xinf_msg_t *unload = peer_expect (w1, "UNLOAD_MODEL", NULL);
    CHECK (unload);
    CHECK_HAS (peer_str (unload, "why"), "the replica relaunches");
    CHECK_HAS (peer_str (unload, "why"), "w2");
    xinf_msg_destroy (&unload);
    char state [32], error [1200];
    s_progress (client, state, sizeof state, error, sizeof error);
    CHECK_STR (state, "relaunching");
    CHECK_HAS (error, "w2 (rank 1)");
    CHECK_HAS (error, "restart window");

    //  Rank 0 stopped: the group is placed on the workers alive, w1 and
    //  w3, and goes through the launch's steps (preflight, staging)
    s_state (w1, "w1", 41, 0, "stopped", 0);
    peer_answer_probe (w1, "w1", "ok");
    peer_answer_probe (w3, "w3", "ok");
    xinf_msg_t *load = peer_expect (w3, "LOAD_MODEL", NULL);
    CHECK (load);
    CHECK_STR (peer_str (load, "uid"), "tp");
    CHECK_INT (peer_uint (load, "n_ranks"), 2);
    CHECK_INT (peer_uint (load, "generation"), 41);
    CHECK (xinf_value_type (xinf_map_get (xinf_msg_body (load), "fetch_only")) == XINF_BOOL);
    xinf_msg_destroy (&load);
    s_progress (client, state, sizeof state, error, sizeof error);
    CHECK (!streq (state, "failed"));

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&w1);
    xinf_dealer_destroy (&w3);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
    peer_scratch_remove (dir);
}

static void
test_restored_group_stuck (void)
{
    char dir [256];
    peer_scratch (dir, sizeof dir);
    s_journal (dir, "s1", "s2");
    const char *endpoint = "inproc://test-supervisor-heal-stuck";
    xinf_supervisor_t *supervisor = s_journaled_supervisor (endpoint, dir);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    //  Both ranks come back, rank 1 joining, and nothing more is heard of it
    xinf_dealer_t *s1 = s_worker_with_rank (endpoint, "s1", 30001, 0, "ready");
    xinf_dealer_t *s2 = s_worker_with_rank (endpoint, "s2", 30002, 1, "joining");
    char state [32], error [1200];
    CHECK_SOON ((s_progress (client, state, sizeof state, error, sizeof error), streq (state, "failed")),
                PEER_WAIT_MS);
    CHECK_HAS (error, "rendezvous");
    CHECK_HAS (error, "rank 1 (worker s2");
    xinf_msg_t *unload = peer_expect (s1, "UNLOAD_MODEL", NULL);
    CHECK_HAS (peer_str (unload, "why"), "the replica failed");
    xinf_msg_destroy (&unload);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&s1);
    xinf_dealer_destroy (&s2);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
    peer_scratch_remove (dir);
}

//  MODEL_STATE of plain replica 0 of "pl".
static void
s_plain_state (xinf_dealer_t *worker, const char *node, uint64_t generation, const char *state, const char *error)
{
    xinf_msg_t *msg = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "node", node);
    xinf_map_put_str (body, "uid", "pl");
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_uint (body, "generation", generation);
    xinf_map_put_str (body, "state", state);
    xinf_map_put_uint (body, "rank", 0);
    xinf_map_put_uint (body, "n_ranks", 1);
    xinf_map_put_str (body, "error", error);
    CHECK (xinf_dealer_send (worker, &msg) == 0);
}

static void
test_failed_relaunch_stays_failed (void)
{
    const char *endpoint = "inproc://test-supervisor-heal-failed";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 200, 5);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_dealer_t *f1 = s_worker (endpoint, "f1", 30001);
    xinf_dealer_t *f2 = s_worker (endpoint, "f2", 30002);

    xinf_msg_t *launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "pl");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/models/pl.gguf");
    xinf_msg_t *reply = s_ask (client, launch);
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    xinf_value_t *placed = xinf_map_get (xinf_array_at (xinf_map_get (xinf_msg_body (reply), "replicas"), 0),
                                         "worker");
    CHECK (xinf_value_type (placed) == XINF_STR);
    bool f1_first = streq (xinf_value_str (placed), "f1");
    xinf_msg_destroy (&reply);
    xinf_dealer_t *holder = f1_first ? f1 : f2, *other = f1_first ? f2 : f1;
    const char *holder_name = f1_first ? "f1" : "f2", *other_name = f1_first ? "f2" : "f1";

    //  The holder fetches the file, then goes silent: the replica is
    //  relaunched on the other worker, where it fails
    xinf_msg_t *load = peer_expect (holder, "LOAD_MODEL", NULL);
    uint64_t generation = peer_uint (load, "generation");
    xinf_msg_destroy (&load);
    s_plain_state (holder, holder_name, generation, "fetching", "");
    peer_keepalive_stop (holder);
    load = peer_expect (other, "LOAD_MODEL", NULL);
    CHECK (load);
    xinf_msg_destroy (&load);
    s_plain_state (other, other_name, generation, "failed", "model file '/models/pl.gguf' is not here");
    char state [32], error [1200];
    CHECK_SOON ((s_progress_of (client, "pl", state, sizeof state, error, sizeof error), streq (state, "failed")),
                PEER_WAIT_MS);
    CHECK_HAS (error, "is not here");

    //  The lost holder's fetch of the file is refused to it at once
    xinf_msg_t *fetch = xinf_msg_new ("FILE_FETCH");
    xinf_map_put_uint (xinf_msg_body (fetch), "transfer", 77);
    xinf_map_put_str (xinf_msg_body (fetch), "uid", "pl");
    xinf_map_put_uint (xinf_msg_body (fetch), "generation", generation);
    xinf_map_put_str (xinf_msg_body (fetch), "path", "/models/pl.gguf");
    xinf_map_put_uint (xinf_msg_body (fetch), "have", 0);
    CHECK (xinf_dealer_send (holder, &fetch) == 0);
    xinf_msg_t *refused = peer_expect (holder, "FILE_ERROR", NULL);
    CHECK (refused);
    CHECK_INT (peer_uint (refused, "transfer"), 77);
    CHECK_STR (peer_str (refused, "code"), "NOT_FOUND");
    xinf_msg_destroy (&refused);

    //  It registers again, still fetching: told to unload; the replica
    //  stays failed with the other worker's error
    xinf_dealer_t *back = s_worker_hosting (endpoint, holder_name, 0, "pl", generation, 1, 0, "fetching");
    xinf_msg_t *unload = peer_expect (back, "UNLOAD_MODEL", NULL);
    CHECK (unload);
    CHECK_HAS (peer_str (unload, "why"), "failed there");
    xinf_msg_destroy (&unload);
    s_progress_of (client, "pl", state, sizeof state, error, sizeof error);
    CHECK_STR (state, "failed");
    CHECK_HAS (error, "is not here");

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&back);
    xinf_dealer_destroy (&f1);
    xinf_dealer_destroy (&f2);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

int
main (int argc, char *argv [])
{
    (void) argc;
    (void) argv;
    xinf_log_set_level (getenv ("TEST_LOG") ? XINF_LOG_INFO : XINF_LOG_ERROR);
    RUN (test_group_relaunch);
    RUN (test_restored_group_heals);
    RUN (test_restored_group_stuck);
    RUN (test_failed_relaunch_stays_failed);
    return 0;
}
