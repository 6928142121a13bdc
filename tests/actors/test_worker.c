/*  test_worker: the worker node agent in this process, connected on
    inproc:// to a ROUTER that plays the supervisor, driven message by
    message. It checks registration (HELLO, which says whether the build
    has NCCL and its version, resent with backoff until WELCOME, each with
    the same instance of this run, a refusal retried, the agreed
    heartbeats, NOT_REGISTERED and a silent supervisor answered by
    registering again), the model protocol
    (LOAD_MODEL outside --model-dir or with bad fields refused with
    MODEL_STATE failed, a real load reported loading ... ready, RUN through
    to the replica and RUN_DONE up with greedy's tokens, RUN for a model not
    hosted, the last word of a run sent again after a re-registration until
    RUN_ACK, UNLOAD_MODEL), model files (served from its model directory by
    FILE_OPEN/READ/CLOSE and nothing outside it; a file it lacks fetched
    with FILE_FETCH, a FILE_ERROR failing the load), garbage from the
    supervisor survived, and BYE at the end.

    The probe listener binds tcp://127.0.0.1 in the data-port range (it is
    TCP by design: peers dial it); the supervisor link is inproc://.

        test_actor_worker PATH/TO/xinf-make-model
*/
#include "actor_peer.h"
#include "xinf_worker.h"

#include <unistd.h>

static char s_dir [300], s_model [600];
static const char *s_make_model;

typedef struct {
    xinf_router_t *supervisor;            //  the fake supervisor
    xinf_model_dirs_t *dirs;
    xinf_worker_t *worker;
    char peer [512];                      //  the worker's routing id
} s_fixture_t;

static s_fixture_t
s_start_worker (const char *endpoint, bool no_fetch)
{
    s_fixture_t fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.supervisor = xinf_router_new ("fake-supervisor");
    CHECK (xinf_router_bind (fixture.supervisor, endpoint, NULL, 0) == 0);
    fixture.dirs = xinf_model_dirs_new ();
    char error [256];
    CHECK (xinf_model_dirs_add (fixture.dirs, s_dir, error, sizeof error) == 0);
    xinf_worker_config_t config = { .endpoint = endpoint, .node_name = "wk", .host_ip = "127.0.0.1",
                                    .host_ip_source = "flag", .data_port_low = 42100, .data_port_high = 42199,
                                    .heartbeat_ms = 1000, .liveness = 10, .model_dirs = fixture.dirs,
                                    .no_fetch = no_fetch };
    fixture.worker = xinf_worker_new (&config);
    CHECK (fixture.worker);
    return fixture;
}

static void
s_stop_worker (s_fixture_t *fixture)
{
    xinf_worker_destroy (&fixture->worker);
    xinf_model_dirs_destroy (&fixture->dirs);
    xinf_router_destroy (&fixture->supervisor);
}

static xinf_msg_t *
s_expect (s_fixture_t *fixture, const char *type)
{
    return peer_router_expect (fixture->supervisor, type, fixture->peer, sizeof fixture->peer);
}

static void
s_send (s_fixture_t *fixture, xinf_msg_t *msg)
{
    peer_router_send (fixture->supervisor, fixture->peer, &msg);
}

static void
s_welcome (s_fixture_t *fixture, uint64_t heartbeat_ms, uint64_t liveness)
{
    xinf_welcome_t welcome = { .heartbeat_ms = heartbeat_ms, .liveness = liveness };
    snprintf (welcome.supervisor, sizeof welcome.supervisor, "fake");
    welcome.warnings = xinf_value_new_array ();
    xinf_msg_t *msg = xinf_welcome_encode (&welcome);
    xinf_welcome_clear (&welcome);
    s_send (fixture, msg);
}

static xinf_msg_t *
s_error (const char *code, const char *text)
{
    return xinf_msg_new_error (0, code, "%s", text);
}

//  The next HELLO, checked; returns it (decoded into 'hello').
static void
s_expect_hello (s_fixture_t *fixture, xinf_hello_t *hello)
{
    xinf_msg_t *msg = s_expect (fixture, "HELLO");
    xinf_check_t check = XINF_CHECK_INIT;
    if (xinf_hello_decode (msg, hello, &check))
        fprintf (stderr, "HELLO does not decode: %s\n", check.reason);
    CHECK (!check.failed);
    CHECK_STR (hello->node, "wk");
    CHECK_STR (hello->host_ip, "127.0.0.1");
    CHECK_STR (hello->host_ip_source, "flag");
    CHECK_INT (hello->data_port_low, 42100);
    xinf_msg_destroy (&msg);
}

//  A worker that sent HELLO and got our WELCOME (1000 ms heartbeats, liveness 10).
static s_fixture_t
s_registered_worker (const char *endpoint, bool no_fetch)
{
    s_fixture_t fixture = s_start_worker (endpoint, no_fetch);
    xinf_hello_t hello;
    s_expect_hello (&fixture, &hello);
    xinf_hello_clear (&hello);
    s_welcome (&fixture, 1000, 10);
    return fixture;
}

//  HEARTBEATs from the worker: 'count' of them, seq increasing; each
//  answered by ours, as the supervisor beats too.
static void
s_expect_beats (s_fixture_t *fixture, int count)
{
    uint64_t last = 0;
    static uint64_t seq;
    for (int beat = 0; beat < count; beat++) {
        xinf_msg_t *msg = s_expect (fixture, "HEARTBEAT");
        xinf_heartbeat_msg_t decoded;
        xinf_check_t check = XINF_CHECK_INIT;
        CHECK_INT (xinf_heartbeat_msg_decode (msg, &decoded, &check), 0);
        CHECK_STR (decoded.node, "wk");
        CHECK (decoded.seq > last);
        last = decoded.seq;
        xinf_heartbeat_msg_clear (&decoded);
        xinf_msg_destroy (&msg);
        xinf_msg_t *ours = xinf_msg_new ("HEARTBEAT");
        xinf_map_put_str (xinf_msg_body (ours), "node", "fake");
        xinf_map_put_uint (xinf_msg_body (ours), "seq", ++seq);
        s_send (fixture, ours);
    }
}

//  Raw frames to the worker: its routing id (hex in fixture->peer), then junk.
static void
s_send_junk (s_fixture_t *fixture, const char *junk, size_t size)
{
    byte id [256];
    size_t length = strlen (fixture->peer) / 2;
    CHECK (length > 0 && length <= sizeof id);
    for (size_t at = 0; at < length; at++) {
        unsigned int value;
        CHECK (sscanf (fixture->peer + 2 * at, "%2x", &value) == 1);
        id [at] = (byte) value;
    }
    peer_send_raw (xinf_router_sock (fixture->supervisor), id, length, junk, size);
}

// ---- registration ------------------------------------------------------------

static void
test_registration (void)
{
    s_fixture_t fixture = s_start_worker ("inproc://test-worker-hello", false);
    //  Unanswered, HELLO comes again (backoff from 100 ms)
    xinf_hello_t hello;
    s_expect_hello (&fixture, &hello);
    CHECK_INT (hello.heartbeat_ms, 1000);
    CHECK_INT (hello.liveness, 10);
    CHECK (hello.cpus >= 1 && hello.pid > 0);
    CHECK_INT (xinf_value_count (hello.models), 0);
    //  It says whether its build has NCCL, and with it NCCL's version
    CHECK (hello.nccl_said);
#if defined (XINF_HAVE_NCCL)
    CHECK (hello.nccl);
    CHECK (hello.nccl_version [0] >= '1' && hello.nccl_version [0] <= '9' && strchr (hello.nccl_version, '.'));
#else
    CHECK (!hello.nccl);
    CHECK_STR (hello.nccl_version, "");
#endif
    //  This run's instance: not 0, the same in every HELLO it sends
    uint64_t instance = hello.instance;
    CHECK (instance != 0);
    xinf_hello_clear (&hello);
    s_expect_hello (&fixture, &hello);
    CHECK (hello.instance == instance);
    xinf_hello_clear (&hello);
    //  A refusal: retried, quietly
    s_send (&fixture, s_error ("DUPLICATE_NODE", "node name 'wk' is already registered"));
    s_expect_hello (&fixture, &hello);
    xinf_hello_clear (&hello);
    //  WELCOME: the supervisor's interval is adopted (200 ms, not 1000)
    s_welcome (&fixture, 200, 5);
    int64_t welcomed = zclock_mono ();
    //  8 beats: 1.4 s at 200 ms, at least 7 s at the worker's own 1000 ms
    s_expect_beats (&fixture, 8);
    CHECK (zclock_mono () - welcomed < 5 * 1000);
    //  NOT_REGISTERED (a restarted supervisor): registers again at once
    s_send (&fixture, s_error ("NOT_REGISTERED", "this supervisor does not know you"));
    s_expect_hello (&fixture, &hello);
    xinf_hello_clear (&hello);
    s_welcome (&fixture, 200, 5);
    s_expect_beats (&fixture, 2);
    //  The supervisor falls silent: after liveness x interval the worker
    //  reconnects (a new routing id) and says HELLO again
    char before [512];
    snprintf (before, sizeof before, "%s", fixture.peer);
    s_expect_hello (&fixture, &hello);
    CHECK (hello.instance == instance);
    xinf_hello_clear (&hello);
    CHECK (!streq (before, fixture.peer));
    s_welcome (&fixture, 200, 5);
    s_expect_beats (&fixture, 2);

    //  Garbage from the supervisor: logged, survived
    s_send_junk (&fixture, "junk", 4);
    s_send_junk (&fixture, "XINF\x01", 5);
    xinf_msg_t *odd = xinf_msg_new ("NO_SUCH_TYPE");
    s_send (&fixture, odd);
    s_send (&fixture, xinf_msg_new ("WELCOME"));            //  a WELCOME without its fields
    s_send (&fixture, xinf_msg_new ("LOAD_MODEL"));         //  no uid, no path
    xinf_msg_t *state = s_expect (&fixture, "MODEL_STATE");
    CHECK_STR (peer_str (state, "state"), "failed");
    CHECK_HAS (peer_str (state, "error"), "uid");
    xinf_msg_destroy (&state);
    s_expect_beats (&fixture, 2);

    //  Stopping says BYE
    xinf_worker_destroy (&fixture.worker);
    xinf_msg_t *bye = s_expect (&fixture, "BYE");
    CHECK_STR (peer_str (bye, "node"), "wk");
    xinf_msg_destroy (&bye);
    s_stop_worker (&fixture);
}

// ---- models --------------------------------------------------------------------

static xinf_msg_t *
s_load_msg (const char *uid, const char *path, uint64_t generation)
{
    xinf_msg_t *load = xinf_msg_new ("LOAD_MODEL");
    xinf_value_t *body = xinf_msg_body (load);
    xinf_map_put_str (body, "uid", uid);
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_str (body, "path", path);
    xinf_map_put_uint (body, "threads", 1);
    xinf_map_put_uint (body, "generation", generation);
    return load;
}

//  The MODEL_STATE 'state' of 'uid' (earlier reports of it dropped).
static xinf_msg_t *
s_expect_state (s_fixture_t *fixture, const char *uid, const char *state)
{
    while (true) {
        xinf_msg_t *msg = s_expect (fixture, "MODEL_STATE");
        CHECK_STR (peer_str (msg, "node"), "wk");
        if (streq (peer_str (msg, "uid"), uid) && streq (peer_str (msg, "state"), state))
            return msg;
        if (streq (peer_str (msg, "state"), "failed"))
            fprintf (stderr, "%s failed: %s\n", peer_str (msg, "uid"), peer_str (msg, "error"));
        CHECK (!streq (peer_str (msg, "state"), "failed"));
        xinf_msg_destroy (&msg);
    }
}

//  LOAD_MODEL's launch options, as a supervisor sends them.
static xinf_value_t *
s_launch_options (uint64_t max_seqs)
{
    xinf_value_t *launch = xinf_value_new_map ();
    xinf_map_put_uint (launch, "threads", 1);
    xinf_map_put_uint (launch, "probe_timeout_ms", 3000);
    xinf_map_put_uint (launch, "rendezvous_timeout_ms", 10000);
    xinf_map_put_uint (launch, "stall_timeout_ms", 60000);
    xinf_map_put_uint (launch, "kv_cache_mb", 0);
    xinf_map_put_uint (launch, "max_seqs", max_seqs);
    xinf_map_put_uint (launch, "step_tokens", 0);
    xinf_map_put_uint (launch, "max_queued", 256);
    xinf_map_put_bool (launch, "pinned", false);
    return launch;
}

//  A refused LOAD_MODEL: MODEL_STATE failed naming 'needle'.
static void
s_load_refused (s_fixture_t *fixture, xinf_msg_t *load, const char *needle)
{
    char uid [65];
    snprintf (uid, sizeof uid, "%s", peer_str (load, "uid"));
    s_send (fixture, load);
    xinf_msg_t *state = s_expect (fixture, "MODEL_STATE");
    CHECK_STR (peer_str (state, "uid"), uid);
    CHECK_STR (peer_str (state, "state"), "failed");
    CHECK_HAS (peer_str (state, "error"), needle);
    xinf_msg_destroy (&state);
}

static xinf_msg_t *
s_run_msg (const char *uid, uint64_t request, const int32_t *prompt, size_t count, uint64_t max_tokens)
{
    xinf_msg_t *run = xinf_msg_new ("RUN");
    xinf_value_t *body = xinf_msg_body (run);
    xinf_map_put_str (body, "uid", uid);
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_uint (body, "request", request);
    xinf_map_put_str (body, "client", "00c0ffee");
    xinf_map_put_uint (body, "corr", 31);
    xinf_value_t *tokens = xinf_value_new_array ();
    for (size_t index = 0; index < count; index++)
        xinf_array_push (tokens, xinf_value_new_uint ((uint64_t) prompt [index]));
    xinf_map_put (body, "prompt_tokens", tokens);
    xinf_map_put_uint (body, "max_tokens", max_tokens);
    return run;
}

//  Whether HELLO's `requests` reports run 'request'.
static bool
s_reports_run (const xinf_value_t *requests, uint64_t request)
{
    for (size_t index = 0; index < xinf_value_count (requests); index++)
        if (xinf_value_uint (xinf_map_get (xinf_array_at (requests, index), "request")) == request)
            return true;
    return false;
}

static void
test_models (void)
{
    s_fixture_t fixture = s_registered_worker ("inproc://test-worker-models", true);

    //  Refused loads (--no-fetch-models): outside --model-dir (also by ..),
    //  missing, bad fields
    s_load_refused (&fixture, s_load_msg ("etc", "/etc/passwd", 1), "not a file in this worker's model directories");
    char sneaky [700];
    snprintf (sneaky, sizeof sneaky, "%s/../%s", s_dir, "x.gguf");
    s_load_refused (&fixture, s_load_msg ("up", sneaky, 1), "not a file in this worker's model directories");
    //  A real model outside, reached by a link inside: refused after realpath
    char outside [300], outside_model [700], link [700];
    peer_scratch (outside, sizeof outside);
    peer_make_model (s_make_model, outside, "out.gguf", outside_model, sizeof outside_model);
    snprintf (link, sizeof link, "%s/link.gguf", s_dir);
    CHECK (symlink (outside_model, link) == 0);
    s_load_refused (&fixture, s_load_msg ("link", link, 1), "not a file in this worker's model directories");
    peer_scratch_remove (outside);
    char missing [700];
    snprintf (missing, sizeof missing, "%s/none.gguf", s_dir);
    s_load_refused (&fixture, s_load_msg ("none", missing, 1), "not a file in this worker's model directories");
    xinf_msg_t *load = s_load_msg ("bad", s_model, 1);
    xinf_map_put_uint (xinf_msg_body (load), "step_tokens", 8);
    s_load_refused (&fixture, load, "step_tokens");
    load = s_load_msg ("bad", s_model, 1);
    xinf_map_put_uint (xinf_msg_body (load), "replica", 5000);
    s_load_refused (&fixture, load, "replica");
    //  Launch options that break LAUNCH's rules, or are no map
    xinf_value_t *launch = s_launch_options (4);
    xinf_map_put_uint (launch, "rendezvous_timeout_ms", 5);
    load = s_load_msg ("bad", s_model, 1);
    xinf_map_put (xinf_msg_body (load), "launch", launch);
    s_load_refused (&fixture, load, "field 'launch': field 'rendezvous_timeout_ms'");
    load = s_load_msg ("bad", s_model, 1);
    xinf_map_put_str (xinf_msg_body (load), "launch", "max_seqs=4");
    s_load_refused (&fixture, load, "launch");

    //  A real load: loading ... ready, relayed with the node and generation;
    //  its launch options are kept for HELLO
    load = s_load_msg ("tiny", s_model, 7);
    xinf_map_put (xinf_msg_body (load), "launch", s_launch_options (4));
    s_send (&fixture, load);
    xinf_msg_t *ready = s_expect_state (&fixture, "tiny", "ready");
    CHECK_INT (peer_uint (ready, "generation"), 7);
    size_t vocab = xinf_value_uint (xinf_map_get (xinf_map_get (xinf_msg_body (ready), "info"), "vocab"));
    CHECK (vocab > 0);
    xinf_msg_destroy (&ready);
    s_load_refused (&fixture, s_load_msg ("tiny", s_model, 8), "already hosted");

    //  RUN through the agent to the replica; RUN_DONE up with greedy's tokens
    int32_t prompt [4] = { 2, 4, 6, 8 }, expected [8];
    size_t expected_count = peer_greedy (s_model, prompt, 4, 6, expected);
    s_send (&fixture, s_run_msg ("tiny", 501, prompt, 4, 6));
    xinf_msg_t *done = s_expect (&fixture, "RUN_DONE");
    CHECK_INT (peer_uint (done, "request"), 501);
    CHECK_STR (peer_str (done, "node"), "wk");
    CHECK_INT (peer_uint (done, "generation"), 7);
    xinf_value_t *tokens = xinf_map_get (xinf_msg_body (done), "tokens");
    CHECK_INT (xinf_value_count (tokens), expected_count);
    for (size_t index = 0; index < expected_count; index++)
        CHECK_INT (xinf_value_uint (xinf_array_at (tokens, index)), expected [index]);
    xinf_msg_destroy (&done);
    //  A RUN for a model not hosted here
    s_send (&fixture, s_run_msg ("other", 502, prompt, 4, 6));
    xinf_msg_t *failed = s_expect (&fixture, "RUN_FAILED");
    CHECK_INT (peer_uint (failed, "request"), 502);
    CHECK_STR (peer_str (failed, "code"), "MODEL_NOT_READY");
    CHECK_HAS (peer_str (failed, "message"), "not hosted");
    xinf_msg_destroy (&failed);
    //  A bad RUN field, named by the replica, relayed
    xinf_msg_t *run = s_run_msg ("tiny", 503, prompt, 4, 6);
    xinf_map_put_float (xinf_msg_body (run), "top_p", 7);
    s_send (&fixture, run);
    failed = s_expect (&fixture, "RUN_FAILED");
    CHECK_INT (peer_uint (failed, "request"), 503);
    CHECK_STR (peer_str (failed, "code"), "BAD_REQUEST");
    CHECK_HAS (peer_str (failed, "message"), "top_p");
    xinf_msg_destroy (&failed);

    //  RUN_CANCEL through the agent: the stream stops, no last word
    run = s_run_msg ("tiny", 505, prompt, 4, 4000);
    xinf_map_put_bool (xinf_msg_body (run), "stream", true);
    s_send (&fixture, run);
    xinf_msg_t *token = s_expect (&fixture, "RUN_TOKEN");
    CHECK_INT (peer_uint (token, "request"), 505);
    xinf_msg_destroy (&token);
    xinf_msg_t *cancel = xinf_msg_new ("RUN_CANCEL");
    xinf_map_put_uint (xinf_msg_body (cancel), "request", 505);
    xinf_map_put_str (xinf_msg_body (cancel), "uid", "tiny");
    xinf_map_put_uint (xinf_msg_body (cancel), "replica", 0);
    s_send (&fixture, cancel);
    size_t late = 0;
    xinf_msg_t *later;
    while ((later = peer_router_recv (fixture.supervisor, 500, fixture.peer, sizeof fixture.peer))) {
        CHECK_STR (xinf_msg_type (later), "RUN_TOKEN");
        late++;
        xinf_msg_destroy (&later);
    }
    CHECK (late < 3999);
    //  TOKENIZE through the agent: the replica's tokenizer answers
    xinf_msg_t *tokenize = xinf_msg_new ("TOKENIZE");
    xinf_map_put_str (xinf_msg_body (tokenize), "uid", "tiny");
    xinf_map_put_uint (xinf_msg_body (tokenize), "replica", 0);
    xinf_map_put_uint (xinf_msg_body (tokenize), "request", 600);
    xinf_map_put_str (xinf_msg_body (tokenize), "mode", "tokenize");
    xinf_map_put_str (xinf_msg_body (tokenize), "content", "hello world");
    s_send (&fixture, tokenize);
    xinf_msg_t *result = s_expect (&fixture, "TOKENIZE_RESULT");
    CHECK_INT (peer_uint (result, "request"), 600);
    CHECK_STR (peer_str (result, "node"), "wk");
    CHECK (xinf_value_count (xinf_map_get (xinf_msg_body (result), "tokens")) > 0);
    xinf_msg_destroy (&result);
    tokenize = xinf_msg_new ("TOKENIZE");
    xinf_map_put_str (xinf_msg_body (tokenize), "uid", "tiny");
    xinf_map_put_uint (xinf_msg_body (tokenize), "replica", 0);
    xinf_map_put_uint (xinf_msg_body (tokenize), "request", 601);
    xinf_map_put_str (xinf_msg_body (tokenize), "mode", "scramble");
    s_send (&fixture, tokenize);
    result = s_expect (&fixture, "TOKENIZE_RESULT");
    CHECK_INT (peer_uint (result, "request"), 601);
    CHECK_STR (peer_str (result, "code"), "BAD_REQUEST");
    CHECK_HAS (peer_str (result, "message"), "mode");
    xinf_msg_destroy (&result);
    tokenize = xinf_msg_new ("TOKENIZE");
    xinf_map_put_str (xinf_msg_body (tokenize), "uid", "other");
    xinf_map_put_uint (xinf_msg_body (tokenize), "replica", 0);
    xinf_map_put_uint (xinf_msg_body (tokenize), "request", 602);
    xinf_map_put_str (xinf_msg_body (tokenize), "mode", "tokenize");
    s_send (&fixture, tokenize);
    result = s_expect (&fixture, "TOKENIZE_RESULT");
    CHECK_INT (peer_uint (result, "request"), 602);
    CHECK_STR (peer_str (result, "code"), "MODEL_NOT_READY");
    xinf_msg_destroy (&result);

    //  A restarted supervisor: HELLO reports the replica and the
    //  unacknowledged runs, whose last word comes again after WELCOME
    s_send (&fixture, s_error ("NOT_REGISTERED", "restarted"));
    xinf_msg_t *again = s_expect (&fixture, "HELLO");
    xinf_value_t *models = xinf_map_get (xinf_msg_body (again), "models");
    CHECK_INT (xinf_value_count (models), 1);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_array_at (models, 0), "uid")), "tiny");
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_array_at (models, 0), "state")), "ready");
    const xinf_value_t *kept = xinf_map_get (xinf_array_at (models, 0), "launch");
    CHECK_INT (xinf_value_uint (xinf_map_get (kept, "max_seqs")), 4);
    CHECK_INT (xinf_value_uint (xinf_map_get (kept, "max_queued")), 256);
    CHECK (s_reports_run (xinf_map_get (xinf_msg_body (again), "requests"), 501));
    CHECK (!s_reports_run (xinf_map_get (xinf_msg_body (again), "requests"), 505));    //  cancelled
    xinf_msg_destroy (&again);
    s_welcome (&fixture, 1000, 10);
    done = s_expect (&fixture, "RUN_DONE");
    CHECK_INT (peer_uint (done, "request"), 501);
    xinf_msg_destroy (&done);
    //  Acknowledged: no longer reported
    xinf_msg_t *ack = xinf_msg_new ("RUN_ACK");
    xinf_map_put_uint (xinf_msg_body (ack), "request", 501);
    s_send (&fixture, ack);
    ack = xinf_msg_new ("RUN_ACK");
    xinf_map_put_uint (xinf_msg_body (ack), "request", 502);
    s_send (&fixture, ack);
    ack = xinf_msg_new ("RUN_ACK");
    xinf_map_put_uint (xinf_msg_body (ack), "request", 503);
    s_send (&fixture, ack);
    s_send (&fixture, s_error ("NOT_REGISTERED", "restarted again"));
    again = s_expect (&fixture, "HELLO");
    CHECK (!s_reports_run (xinf_map_get (xinf_msg_body (again), "requests"), 501));
    xinf_msg_destroy (&again);
    s_welcome (&fixture, 1000, 10);

    //  UNLOAD_MODEL: stopped, with the reason; an unknown one is ignored
    xinf_msg_t *unload = xinf_msg_new ("UNLOAD_MODEL");
    xinf_map_put_str (xinf_msg_body (unload), "uid", "nothing");
    xinf_map_put_uint (xinf_msg_body (unload), "replica", 0);
    s_send (&fixture, unload);
    unload = xinf_msg_new ("UNLOAD_MODEL");
    xinf_map_put_str (xinf_msg_body (unload), "uid", "tiny");
    xinf_map_put_uint (xinf_msg_body (unload), "replica", 0);
    xinf_map_put_str (xinf_msg_body (unload), "why", "terminated by the test");
    s_send (&fixture, unload);
    //  One stopped report, carrying the reason; a RUN for it now fails
    s_send (&fixture, s_run_msg ("tiny", 504, prompt, 4, 6));
    size_t stops = 0;
    while (true) {
        xinf_msg_t *msg = peer_router_recv (fixture.supervisor, PEER_WAIT_MS, fixture.peer, sizeof fixture.peer);
        CHECK (msg);
        if (xinf_msg_is (msg, "MODEL_STATE")) {
            CHECK_STR (peer_str (msg, "uid"), "tiny");
            CHECK_STR (peer_str (msg, "state"), "stopped");
            CHECK_STR (peer_str (msg, "error"), "unloaded: terminated by the test");
            CHECK_INT (peer_uint (msg, "generation"), 7);
            stops++;
        }
        else {
            CHECK_STR (xinf_msg_type (msg), "RUN_FAILED");
            CHECK_INT (peer_uint (msg, "request"), 504);
            CHECK_STR (peer_str (msg, "code"), "MODEL_NOT_READY");
            xinf_msg_destroy (&msg);
            break;
        }
        xinf_msg_destroy (&msg);
    }
    CHECK_INT (stops, 1);
    //  And the same uid loads again
    s_send (&fixture, s_load_msg ("tiny", s_model, 9));
    ready = s_expect_state (&fixture, "tiny", "ready");
    CHECK_INT (peer_uint (ready, "generation"), 9);
    xinf_msg_destroy (&ready);
    s_stop_worker (&fixture);
}

// ---- model files ----------------------------------------------------------------

//  The next FILE_* answer for 'transfer' of 'type' (FILE_HASHING skipped).
static xinf_msg_t *
s_expect_file (s_fixture_t *fixture, const char *type, uint64_t transfer)
{
    while (true) {
        xinf_msg_t *msg = peer_router_recv (fixture->supervisor, PEER_WAIT_MS, fixture->peer, sizeof fixture->peer);
        CHECK (msg);
        if (xinf_msg_is (msg, "FILE_HASHING")) {
            xinf_msg_destroy (&msg);
            continue;
        }
        if (!xinf_msg_is (msg, type))
            fprintf (stderr, "expected %s, got %s %s\n", type, xinf_msg_type (msg), peer_str (msg, "message") ?: "");
        CHECK_STR (xinf_msg_type (msg), type);
        CHECK_INT (peer_uint (msg, "transfer"), transfer);
        CHECK_STR (peer_str (msg, "node"), "wk");
        return msg;
    }
}

static xinf_msg_t *
s_file_msg (const char *type, uint64_t transfer)
{
    xinf_msg_t *msg = xinf_msg_new (type);
    xinf_map_put_uint (xinf_msg_body (msg), "transfer", transfer);
    return msg;
}

static void
s_file_read (s_fixture_t *fixture, uint64_t transfer, uint64_t offset, uint64_t length)
{
    xinf_msg_t *read = s_file_msg ("FILE_READ", transfer);
    xinf_map_put_uint (xinf_msg_body (read), "offset", offset);
    xinf_map_put_uint (xinf_msg_body (read), "length", length);
    s_send (fixture, read);
}

//  The worker as a source (FILE_OPEN, FILE_READ, FILE_CLOSE from the
//  supervisor) and as a fetcher (LOAD_MODEL of a file it lacks: FILE_FETCH
//  up, and a FILE_ERROR back fails the load with the words of node.md).
static void
test_files (void)
{
    s_fixture_t fixture = s_registered_worker ("inproc://test-worker-files", false);
    size_t size;
    FILE *file = fopen (s_model, "rb");
    CHECK (file);
    byte head [16];
    CHECK (fread (head, 1, sizeof head, file) == sizeof head);
    CHECK (fseek (file, 0, SEEK_END) == 0);
    size = (size_t) ftell (file);
    fclose (file);

    //  A file of its model directory: opened, read, closed
    xinf_msg_t *open = s_file_msg ("FILE_OPEN", 77);
    xinf_map_put_str (xinf_msg_body (open), "path", s_model);
    s_send (&fixture, open);
    xinf_msg_t *opened = s_expect_file (&fixture, "FILE_OPENED", 77);
    CHECK_INT (peer_uint (opened, "size"), size);
    CHECK_INT (strlen (peer_str (opened, "sha256")), 64);
    xinf_msg_destroy (&opened);
    s_file_read (&fixture, 77, 0, sizeof head);
    xinf_msg_t *data = s_expect_file (&fixture, "FILE_DATA", 77);
    CHECK_INT (peer_uint (data, "offset"), 0);
    CHECK_INT (xinf_msg_frame_count (data), 1);
    CHECK_INT (zframe_size (xinf_msg_frame (data, 0)), sizeof head);
    CHECK (memcmp (zframe_data (xinf_msg_frame (data, 0)), head, sizeof head) == 0);
    xinf_msg_destroy (&data);
    //  A read past the end, then one after the close
    s_file_read (&fixture, 77, size - 4, 16);
    xinf_msg_t *error = s_expect_file (&fixture, "FILE_ERROR", 77);
    CHECK_STR (peer_str (error, "code"), "BAD_REQUEST");
    xinf_msg_destroy (&error);
    s_send (&fixture, s_file_msg ("FILE_CLOSE", 77));
    s_file_read (&fixture, 77, 0, 16);
    error = s_expect_file (&fixture, "FILE_ERROR", 77);
    CHECK_STR (peer_str (error, "code"), "NOT_OPEN");
    xinf_msg_destroy (&error);
    //  Files outside its model directories are not served; nor bad fields
    open = s_file_msg ("FILE_OPEN", 78);
    xinf_map_put_str (xinf_msg_body (open), "path", "/etc/passwd");
    s_send (&fixture, open);
    error = s_expect_file (&fixture, "FILE_ERROR", 78);
    CHECK_STR (peer_str (error, "code"), "NOT_FOUND");
    CHECK_HAS (peer_str (error, "message"), "not a file in this worker's model directories");
    xinf_msg_destroy (&error);
    open = s_file_msg ("FILE_OPEN", 79);
    xinf_map_put_uint (xinf_msg_body (open), "path", 5);
    s_send (&fixture, open);
    error = s_expect_file (&fixture, "FILE_ERROR", 79);
    CHECK_STR (peer_str (error, "code"), "BAD_REQUEST");
    CHECK_HAS (peer_str (error, "message"), "path");
    xinf_msg_destroy (&error);

    //  A file it lacks: fetched through the supervisor; nobody has it
    s_send (&fixture, s_load_msg ("far", "/elsewhere/far.gguf", 3));
    xinf_msg_t *fetch = s_expect (&fixture, "FILE_FETCH");
    CHECK_STR (peer_str (fetch, "uid"), "far");
    CHECK_INT (peer_uint (fetch, "generation"), 3);
    CHECK_STR (peer_str (fetch, "path"), "/elsewhere/far.gguf");
    CHECK_STR (peer_str (fetch, "node"), "wk");
    uint64_t transfer = peer_uint (fetch, "transfer");
    xinf_msg_destroy (&fetch);
    error = s_file_msg ("FILE_ERROR", transfer);
    xinf_map_put_str (xinf_msg_body (error), "code", "NOT_FOUND");
    xinf_map_put_str (xinf_msg_body (error), "message",
                      "no other node has it in its model directories (asked: the supervisor)");
    s_send (&fixture, error);
    xinf_msg_t *failed = s_expect_state (&fixture, "far", "failed");
    CHECK_HAS (peer_str (failed, "error"), "is not a file in this worker's model directories, and no other node has it");
    CHECK_INT (peer_uint (failed, "generation"), 3);
    xinf_msg_destroy (&failed);
    s_stop_worker (&fixture);
}

//  A supervisor that does not read while the worker answers: what finds
//  the link full waits in the worker's outbox and goes, in order, once
//  the supervisor reads again; every RUN gets its RUN_FAILED, none lost
//  (the link holds about 20,000 messages; this sends 50,000).
static void
test_link_full (void)
{
    s_fixture_t fixture = s_registered_worker ("inproc://test-worker-full", true);
    enum { RUNS = 50000 };
    int32_t prompt [2] = { 1, 2 };
    for (uint64_t request = 1; request <= RUNS; request++) {
        int64_t deadline = zclock_mono () + PEER_WAIT_MS;
        while (true) {
            xinf_msg_t *run = s_run_msg ("absent", request, prompt, 2, 4);
            xinf_peer_t *peer = xinf_router_peer (fixture.supervisor, fixture.peer);
            CHECK (peer);
            if (xinf_router_send (fixture.supervisor, peer, &run) == 0)
                break;
            CHECK (errno == EAGAIN && zclock_mono () < deadline);
            zmq_poll (NULL, 0, 1);            //  the worker takes them as it goes
        }
    }
    char *seen = calloc (RUNS + 1, 1);
    CHECK (seen);
    size_t answered = 0;
    xinf_msg_t *msg;
    //  Until all are answered, or none came for PEER_WAIT_MS (heartbeats
    //  come meanwhile: they do not count)
    int64_t quiet_until = zclock_mono () + PEER_WAIT_MS;
    while (answered < RUNS && zclock_mono () < quiet_until
       &&  (msg = peer_router_recv (fixture.supervisor, PEER_WAIT_MS, NULL, 0))) {
        if (xinf_msg_is (msg, "RUN_FAILED")) {
            quiet_until = zclock_mono () + PEER_WAIT_MS;
            uint64_t request = peer_uint (msg, "request");
            CHECK (request >= 1 && request <= RUNS && !seen [request]);
            seen [request] = 1;
            answered++;
        }
        xinf_msg_destroy (&msg);
    }
    if (answered != RUNS)
        fprintf (stderr, "%zu of %d RUNs answered\n", answered, RUNS);
    CHECK_INT (answered, RUNS);
    free (seen);
    s_stop_worker (&fixture);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 2);
    s_make_model = argv [1];
    peer_ignore ("MODEL_LOAD");         //  a ready replica's KV figures, relayed
    peer_scratch (s_dir, sizeof s_dir);
    peer_make_model (argv [1], s_dir, "tiny.gguf", s_model, sizeof s_model);
    RUN (test_registration);
    RUN (test_models);
    RUN (test_files);
    RUN (test_link_full);
    peer_scratch_remove (s_dir);
    fprintf (stderr, "PASS: worker in-process: registration and liveness, loads refused and done, runs, re-registration, unload\n");
    return 0;
}
