/*  test_supervisor: the supervisor actor in this process, bound on
    inproc://, driven message by message by fake peers: DEALERs playing
    workers (HELLO, HEARTBEAT, MODEL_STATE, RUN_*) and clients (PING,
    LAUNCH, GENERATE, CANCEL, TERMINATE, EVENTS), all with the project's
    codec. It checks registration and its refusals, liveness (a silent
    worker is lost, its streamed request ends WORKER_LOST), the launch and
    request path (LOAD_MODEL to the worker, RUN routed, RUN_TOKEN/RUN_DONE
    relayed as GENERATE_TOKEN/GENERATE_REPLY, RUN_ACK, CANCEL, RUN_FAILED,
    TERMINATE) and that garbage of every kind gets an ERROR and no crash.
*/
#include "actor_peer.h"
#include "xinf_supervisor.h"

#include <unistd.h>

static uint64_t s_corr = 1000;

//  A request of 'type' answered, with a fresh corr.
static xinf_msg_t *
s_ask (xinf_dealer_t *dealer, xinf_msg_t *request)
{
    return peer_ask (dealer, &request, ++s_corr);
}

//  A fake worker registered as 'node' (heartbeating while the test waits).
static xinf_dealer_t *
s_worker (const char *endpoint, const char *node, int64_t heartbeat_ms, int liveness)
{
    xinf_dealer_t *worker = xinf_dealer_new (endpoint, node);
    CHECK (worker);
    xinf_msg_t *welcome = s_ask (worker, peer_hello (node, 4242, (uint64_t) heartbeat_ms, (uint64_t) liveness));
    CHECK_STR (xinf_msg_type (welcome), "WELCOME");
    xinf_msg_destroy (&welcome);
    peer_keepalive (worker, node, heartbeat_ms / 3);
    return worker;
}

//  The events of 'node' of 'kind' so far.
static size_t
s_events (xinf_dealer_t *client, const char *kind, const char *node)
{
    xinf_msg_t *reply = s_ask (client, xinf_msg_new ("EVENTS"));
    CHECK_STR (xinf_msg_type (reply), "EVENTS_REPLY");
    xinf_value_t *events = xinf_map_get (xinf_msg_body (reply), "events");
    size_t count = 0;
    for (size_t index = 0; index < xinf_value_count (events); index++) {
        xinf_value_t *event = xinf_array_at (events, index);
        if (streq (xinf_value_str (xinf_map_get (event, "kind")), kind)
        &&  streq (xinf_value_str (xinf_map_get (event, "node")), node))
            count++;
    }
    xinf_msg_destroy (&reply);
    return count;
}

//  The state of the entry of 'list' whose 'key' is 'name' in the reply
//  to 'request' ("" when not listed).
static void
s_listed_state (xinf_dealer_t *client, const char *request, const char *list, const char *key, const char *name,
                char *state, size_t size)
{
    char reply_type [64];
    snprintf (reply_type, sizeof reply_type, "%s_REPLY", request);
    xinf_msg_t *reply = s_ask (client, xinf_msg_new (request));
    CHECK_STR (xinf_msg_type (reply), reply_type);
    xinf_value_t *items = xinf_map_get (xinf_msg_body (reply), list);
    snprintf (state, size, "%s", "");
    for (size_t index = 0; index < xinf_value_count (items); index++) {
        xinf_value_t *item = xinf_array_at (items, index);
        if (streq (xinf_value_str (xinf_map_get (item, key)), name))
            snprintf (state, size, "%s", xinf_value_str (xinf_map_get (item, "state")));
    }
    xinf_msg_destroy (&reply);
}

//  A worker's state in CLUSTER_INFO ("" when not listed).
static void
s_worker_state (xinf_dealer_t *client, const char *node, char *state, size_t size)
{
    s_listed_state (client, "CLUSTER_INFO", "workers", "node", node, state, size);
}

//  A model's state in LIST_MODELS ("" when not listed).
static void
s_model_state (xinf_dealer_t *client, const char *uid, char *state, size_t size)
{
    s_listed_state (client, "LIST_MODELS", "models", "uid", uid, state, size);
}

// ---- garbage ---------------------------------------------------------------

//  The next answer is ERROR 'code' naming 'needle'.
static void
s_expect_error (xinf_dealer_t *dealer, const char *code, const char *needle)
{
    xinf_msg_t *reply = peer_recv (dealer, PEER_WAIT_MS);
    if (!reply)
        fprintf (stderr, "no ERROR %s (%s) within %d ms\n", code, needle, PEER_WAIT_MS);
    peer_check_error (reply, code, needle);
    xinf_msg_destroy (&reply);
}

//  A body given as msgpack bytes, and the error it must get.
static void
s_bad_body (xinf_dealer_t *dealer, const char *type, const void *body, size_t size, const char *code,
            const char *needle)
{
    peer_send_body (xinf_dealer_sock (dealer), type, ++s_corr, body, size);
    xinf_msg_t *reply = peer_recv (dealer, PEER_WAIT_MS);
    CHECK (reply);
    CHECK_INT (xinf_msg_corr (reply), s_corr);
    peer_check_error (reply, code, needle);
    xinf_msg_destroy (&reply);
}

//  A message built with the codec, and the error it must get.
static void
s_bad_msg (xinf_dealer_t *dealer, xinf_msg_t *msg, const char *code, const char *needle)
{
    xinf_msg_t *reply = s_ask (dealer, msg);
    peer_check_error (reply, code, needle);
    xinf_msg_destroy (&reply);
}

static void
test_ping_and_garbage (void)
{
    const char *endpoint = "inproc://test-supervisor-garbage";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 1000, 3);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_msg_t *pong = s_ask (client, xinf_msg_new ("PING"));
    CHECK_STR (xinf_msg_type (pong), "PONG");
    CHECK_STR (peer_str (pong, "role"), "supervisor");
    CHECK_STR (peer_str (pong, "node"), "sup");
    xinf_msg_destroy (&pong);

    //  Envelopes: no signature, a wrong one, the old version, a header that
    //  is not msgpack, a header of the wrong kind for its version
    zsock_t *sock = xinf_dealer_sock (client);
    peer_send_raw (sock, "hello", 5, NULL, 0);
    s_expect_error (client, "BAD_ENVELOPE", "");
    peer_send_raw (sock, "XINX\x02\x80", 6, NULL, 0);
    s_expect_error (client, "BAD_ENVELOPE", "signature");
    peer_send_raw (sock, "XINF\x01", 5, "\x80", 1);
    s_expect_error (client, "BAD_ENVELOPE", "version 1");
    peer_send_raw (sock, "XINF\x02\xc1\xc1\xc1", 8, NULL, 0);
    s_expect_error (client, "BAD_ENVELOPE", "");
    peer_send_raw (sock, "XINF\x02\x93\x01\x02\x03", 9, NULL, 0);       //  an array, not a map
    s_expect_error (client, "BAD_ENVELOPE", "");
    peer_send_raw (sock, "XINF\x03\x93\x01\x02\x03", 9, NULL, 0);       //  version 3: an array of three
    s_expect_error (client, "BAD_ENVELOPE", "header array has 3 fields, must have 5");
    peer_send_raw (sock, "XINF\x04\x95", 6, NULL, 0);
    s_expect_error (client, "BAD_ENVELOPE", "unsupported envelope version 4 (this node speaks 2 and 3)");
    //  A header over 1 MiB (sent raw: a dealer does not send it): the
    //  refusal carries its corr, read from its first bytes
    xinf_msg_t *huge = xinf_msg_new ("PING");
    xinf_msg_set_corr (huge, 4243);
    char *text = malloc (XINF_HEADER_MAX + 16);
    memset (text, 'a', XINF_HEADER_MAX + 15);
    text [XINF_HEADER_MAX + 15] = 0;
    xinf_map_put_str (xinf_msg_body (huge), "pad", text);
    free (text);
    zmsg_t *frames = xinf_msg_encode (&huge);
    peer_send_raw (sock, zframe_data (zmsg_first (frames)), zframe_size (zmsg_first (frames)), NULL, 0);
    zmsg_destroy (&frames);
    xinf_msg_t *refusal = peer_recv (client, PEER_WAIT_MS);
    CHECK (refusal);
    CHECK_INT (xinf_msg_corr (refusal), 4243);
    peer_check_error (refusal, "BAD_ENVELOPE", "at most");
    xinf_msg_destroy (&refusal);
    //  A type nobody handles
    s_bad_msg (client, xinf_msg_new ("NO_SUCH_TYPE"), "UNKNOWN_TYPE", "NO_SUCH_TYPE");

    //  HELLO: node of the wrong type, too long, invalid UTF-8, fields missing
    s_bad_body (client, "HELLO", "\x81\xa4node\x07", 7, "BAD_REQUEST", "node");
    s_bad_body (client, "HELLO", "\x81\xa4node\xa2\xc3\x28", 9, "BAD_REQUEST", "'node' is not valid UTF-8");
    s_bad_body (client, "HELLO", "\x80", 1, "BAD_REQUEST", "node");
    xinf_msg_t *hello = peer_hello ("w", 1, 1000, 3);
    char name [200];
    memset (name, 'n', sizeof name - 1);
    name [sizeof name - 1] = 0;
    xinf_map_put_str (xinf_msg_body (hello), "node", name);
    s_bad_msg (client, hello, "BAD_REQUEST", "node");
    hello = peer_hello ("w", 1, 1000, 3);
    xinf_map_put_uint (xinf_msg_body (hello), "cpus", 0);
    s_bad_msg (client, hello, "BAD_REQUEST", "cpus");
    hello = peer_hello ("w", 1, 1000, 3);
    xinf_map_put_uint (xinf_msg_body (hello), "heartbeat_ms", UINT64_MAX);
    s_bad_msg (client, hello, "BAD_REQUEST", "heartbeat_ms");
    hello = peer_hello ("w", 1, 1000, 3);
    xinf_map_put (xinf_msg_body (hello), "devices", xinf_value_new_str ("gpu"));
    s_bad_msg (client, hello, "BAD_REQUEST", "devices");

    hello = peer_hello ("w", 1, 1000, 3);
    xinf_value_t *models = xinf_value_new_array ();
    for (int index = 0; index < 1025; index++)
        xinf_array_push (models, xinf_value_new_map ());
    xinf_map_put (xinf_msg_body (hello), "models", models);
    s_bad_msg (client, hello, "BAD_REQUEST", "models");

    //  Client requests with bad fields
    xinf_msg_t *events = xinf_msg_new ("EVENTS");
    xinf_map_put_uint (xinf_msg_body (events), "limit", 0);
    s_bad_msg (client, events, "BAD_REQUEST", "limit");
    s_bad_body (client, "EVENTS", "\x81\xa5since\xa1x", 9, "BAD_REQUEST", "since");
    events = xinf_msg_new ("EVENTS");
    xinf_map_put_uint (xinf_msg_body (events), "limit", 10001);
    s_bad_msg (client, events, "BAD_REQUEST", "limit");
    xinf_msg_t *launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "m");
    s_bad_msg (client, launch, "BAD_REQUEST", "path");
    launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "a b/c");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/m.gguf");
    s_bad_msg (client, launch, "BAD_REQUEST", "uid");
    launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "m");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/m.gguf");
    xinf_map_put_uint (xinf_msg_body (launch), "replicas", 1ull << 40);
    s_bad_msg (client, launch, "BAD_REQUEST", "replicas");
    s_bad_body (client, "LAUNCH", "\x82\xa3uid\xa1m\xa4path\xa3/\xe2\x82", 16, "BAD_REQUEST", "'path' is not valid UTF-8");
    launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "m");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/m.gguf");
    xinf_map_put_uint (xinf_msg_body (launch), "max_seqs", 100000);
    s_bad_msg (client, launch, "BAD_REQUEST", "max_seqs");
    //  No worker yet: nowhere to place it
    launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "m");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/m.gguf");
    s_bad_msg (client, launch, "NO_WORKER", "no alive worker");
    s_bad_body (client, "GENERATE", "\x81\xa3uid\x05", 6, "BAD_REQUEST", "uid");
    s_bad_msg (client, xinf_msg_new ("CANCEL"), "BAD_REQUEST", "corr");
    s_bad_msg (client, xinf_msg_new ("TERMINATE"), "BAD_REQUEST", "uid");
    //  A heartbeat from nobody registered
    xinf_heartbeat_msg_t beat = { .seq = 1 };
    snprintf (beat.node, sizeof beat.node, "ghost");
    s_bad_msg (client, xinf_heartbeat_msg_encode (&beat), "NOT_REGISTERED", "HELLO");
    //  Worker messages from a peer that is no worker are ignored, unanswered
    xinf_msg_t *token = xinf_msg_new ("RUN_TOKEN");
    xinf_map_put_uint (xinf_msg_body (token), "request", 1);
    CHECK (xinf_dealer_send (client, &token) == 0);
    xinf_msg_t *state = xinf_msg_new ("MODEL_STATE");
    xinf_map_put_str (xinf_msg_body (state), "state", "bogus");
    CHECK (xinf_dealer_send (client, &state) == 0);
    CHECK (peer_silent (client, 300));

    //  Still serving, and it counted what it refused
    pong = s_ask (client, xinf_msg_new ("PING"));
    CHECK_STR (xinf_msg_type (pong), "PONG");
    CHECK (peer_uint (pong, "bad_envelopes") >= 5);
    CHECK_INT (peer_uint (pong, "unknown_types"), 1);
    CHECK_INT (peer_uint (pong, "workers"), 0);
    xinf_msg_destroy (&pong);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

// ---- registration ------------------------------------------------------------

static void
test_registration (void)
{
    const char *endpoint = "inproc://test-supervisor-hello";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 1000, 3);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_dealer_t *worker = xinf_dealer_new (endpoint, "w1");
    //  HELLO -> WELCOME with the supervisor's settings (the worker asked others)
    xinf_msg_t *welcome = s_ask (worker, peer_hello ("w1", 4242, 500, 7));
    CHECK_STR (xinf_msg_type (welcome), "WELCOME");
    xinf_welcome_t decoded;
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_welcome_decode (welcome, &decoded, &check), 0);
    CHECK_STR (decoded.supervisor, "sup");
    CHECK_INT (decoded.heartbeat_ms, 1000);
    CHECK_INT (decoded.liveness, 3);
    CHECK_STR (decoded.observed_address, "");               //  inproc: none observed
    xinf_welcome_clear (&decoded);
    xinf_msg_destroy (&welcome);
    //  The same HELLO again on the same connection: the same WELCOME, no new event
    welcome = s_ask (worker, peer_hello ("w1", 4242, 500, 7));
    CHECK_STR (xinf_msg_type (welcome), "WELCOME");
    xinf_msg_destroy (&welcome);
    CHECK_INT (s_events (client, "joined", "w1"), 1);
    CHECK_INT (s_events (client, "rejoined", "w1"), 0);
    char state [32];
    s_worker_state (client, "w1", state, sizeof state);
    CHECK_STR (state, "alive");

    //  The name held by another process (another pid): refused, naming the fix
    xinf_dealer_t *impostor = xinf_dealer_new (endpoint, "w1-again");
    xinf_msg_t *refused = s_ask (impostor, peer_hello ("w1", 999, 1000, 3));
    peer_check_error (refused, "DUPLICATE_NODE", "--node-name");
    xinf_msg_destroy (&refused);
    s_worker_state (client, "w1", state, sizeof state);
    CHECK_STR (state, "alive");
    //  Its heartbeats are not w1's: it is not registered
    xinf_heartbeat_msg_t beat = { .seq = 1 };
    snprintf (beat.node, sizeof beat.node, "w1");
    refused = s_ask (impostor, xinf_heartbeat_msg_encode (&beat));
    peer_check_error (refused, "NOT_REGISTERED", "");
    xinf_msg_destroy (&refused);

    //  The same process from a new connection (a reconnect): replaces the record
    xinf_dealer_t *again = xinf_dealer_new (endpoint, "w1-reconnected");
    welcome = s_ask (again, peer_hello ("w1", 4242, 1000, 3));
    CHECK_STR (xinf_msg_type (welcome), "WELCOME");
    xinf_msg_destroy (&welcome);
    CHECK_INT (s_events (client, "rejoined", "w1"), 1);

    //  BYE: listed as left; a second worker counts
    xinf_msg_t *bye = xinf_bye_encode ("w1");
    CHECK (xinf_dealer_send (again, &bye) == 0);
    CHECK_SOON ((s_worker_state (client, "w1", state, sizeof state), streq (state, "left")), PEER_WAIT_MS);
    CHECK_INT (s_events (client, "left", "w1"), 1);
    xinf_dealer_t *second = s_worker (endpoint, "w2", 1000, 3);
    xinf_msg_t *pong = s_ask (client, xinf_msg_new ("PING"));
    CHECK_INT (peer_uint (pong, "workers"), 2);
    xinf_msg_destroy (&pong);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&second);
    xinf_dealer_destroy (&again);
    xinf_dealer_destroy (&impostor);
    xinf_dealer_destroy (&worker);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

// ---- models and requests ------------------------------------------------------

//  LAUNCH of 'uid' placed on the fake worker: returns the LOAD_MODEL's generation.
static uint64_t
s_launch (xinf_dealer_t *client, xinf_dealer_t *worker, const char *uid)
{
    xinf_msg_t *launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", uid);
    xinf_map_put_str (xinf_msg_body (launch), "path", "/models/tiny.gguf");
    xinf_map_put_uint (xinf_msg_body (launch), "threads", 2);
    xinf_msg_t *reply = s_ask (client, launch);
    CHECK_STR (xinf_msg_type (reply), "LAUNCH_REPLY");
    CHECK_STR (peer_str (reply, "uid"), uid);
    CHECK_STR (peer_str (reply, "state"), "loading");
    xinf_msg_destroy (&reply);
    xinf_msg_t *load = peer_expect (worker, "LOAD_MODEL", NULL);
    CHECK_STR (peer_str (load, "uid"), uid);
    CHECK_STR (peer_str (load, "path"), "/models/tiny.gguf");
    CHECK_INT (peer_uint (load, "replica"), 0);
    CHECK_INT (peer_uint (load, "threads"), 2);
    uint64_t generation = peer_uint (load, "generation");
    CHECK (generation > 0);
    xinf_msg_destroy (&load);
    return generation;
}

static void
s_model_state_msg (xinf_dealer_t *worker, const char *uid, uint64_t generation, const char *state, bool info)
{
    xinf_msg_t *msg = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "uid", uid);
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_uint (body, "generation", generation);
    xinf_map_put_str (body, "state", state);
    xinf_map_put_uint (body, "bytes_done", 10);
    xinf_map_put_uint (body, "bytes_total", 100);
    xinf_map_put_str (body, "error", "");
    xinf_map_put_str (body, "node", "w1");
    if (info) {
        xinf_value_t *map = xinf_value_new_map ();
        xinf_map_put_uint (map, "vocab", 64);
        xinf_map_put_uint (map, "context", 128);
        xinf_map_put_uint (map, "max_seqs", 4);
        xinf_map_put (body, "info", map);
    }
    CHECK (xinf_dealer_send (worker, &msg) == 0);
}

//  GENERATE with prompt tokens; returns the RUN the worker got.
static xinf_msg_t *
s_generate (xinf_dealer_t *client, xinf_dealer_t *worker, const char *uid, uint64_t corr, bool stream)
{
    xinf_msg_t *generate = xinf_msg_new ("GENERATE");
    xinf_value_t *body = xinf_msg_body (generate);
    xinf_map_put_str (body, "uid", uid);
    xinf_value_t *prompt = xinf_value_new_array ();
    for (uint64_t token = 1; token <= 3; token++)
        xinf_array_push (prompt, xinf_value_new_uint (token));
    xinf_map_put (body, "prompt_tokens", prompt);
    xinf_map_put_uint (body, "max_tokens", 2);
    xinf_map_put_bool (body, "stream", stream);
    xinf_msg_set_corr (generate, corr);
    CHECK (xinf_dealer_send (client, &generate) == 0);
    xinf_msg_t *run = peer_expect (worker, "RUN", NULL);
    CHECK_STR (peer_str (run, "uid"), uid);
    CHECK_INT (peer_uint (run, "corr"), corr);
    CHECK_INT (peer_uint (run, "replica"), 0);
    CHECK_INT (peer_uint (run, "max_tokens"), 2);
    CHECK_INT (xinf_value_count (xinf_map_get (xinf_msg_body (run), "prompt_tokens")), 3);
    CHECK (peer_str (run, "client") && strlen (peer_str (run, "client")) > 0);
    return run;
}

static void
s_run_token (xinf_dealer_t *worker, uint64_t request, uint64_t index, uint64_t token)
{
    xinf_msg_t *msg = xinf_msg_new ("RUN_TOKEN");
    xinf_map_put_uint (xinf_msg_body (msg), "request", request);
    xinf_map_put_uint (xinf_msg_body (msg), "index", index);
    xinf_map_put_uint (xinf_msg_body (msg), "token", token);
    xinf_map_put_str (xinf_msg_body (msg), "text", "t");
    if (index == 0)
        xinf_map_put_uint (xinf_msg_body (msg), "prompt_length", 3);
    xinf_map_put_str (xinf_msg_body (msg), "node", "w1");
    CHECK (xinf_dealer_send (worker, &msg) == 0);
}

static void
test_models (void)
{
    const char *endpoint = "inproc://test-supervisor-models";
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 1000, 3);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_dealer_t *worker = s_worker (endpoint, "w1", 1000, 3);

    uint64_t generation = s_launch (client, worker, "m1");
    xinf_msg_t *launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "m1");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/models/tiny.gguf");
    s_bad_msg (client, launch, "DUPLICATE_MODEL", "m1");
    //  Not ready yet: a retryable refusal
    xinf_msg_t *generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "m1");
    xinf_map_put_str (xinf_msg_body (generate), "prompt", "hi");
    xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", 1);
    xinf_msg_t *reply = s_ask (client, generate);
    peer_check_error (reply, "MODEL_NOT_READY", "loading");
    CHECK (peer_uint (reply, "retry_after_ms") > 0);
    xinf_msg_destroy (&reply);

    //  Reports of another launch, or of no known state, change nothing
    s_model_state_msg (worker, "m1", generation + 1, "ready", true);
    s_model_state_msg (worker, "m1", generation, "bogus", true);
    s_model_state_msg (worker, "m1", generation, "loading", false);
    char state [32];
    s_model_state (client, "m1", state, sizeof state);
    CHECK_STR (state, "loading");
    s_model_state_msg (worker, "m1", generation, "ready", true);
    CHECK_SOON ((s_model_state (client, "m1", state, sizeof state), streq (state, "ready")), PEER_WAIT_MS);

    //  GENERATE checked where it enters, against the replica's vocabulary
    generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "m1");
    xinf_value_t *prompt = xinf_value_new_array ();
    xinf_array_push (prompt, xinf_value_new_uint (64));
    xinf_map_put (xinf_msg_body (generate), "prompt_tokens", prompt);
    xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", 1);
    s_bad_msg (client, generate, "BAD_REQUEST", "prompt_tokens[0]");
    generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "m1");
    xinf_map_put_str (xinf_msg_body (generate), "prompt", "hi");
    s_bad_msg (client, generate, "BAD_REQUEST", "max_tokens");
    generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "m1");
    xinf_map_put_str (xinf_msg_body (generate), "prompt", "hi");
    xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", 1);
    xinf_map_put_float (xinf_msg_body (generate), "top_p", 2.0);
    s_bad_msg (client, generate, "BAD_REQUEST", "top_p");
    s_bad_body (client, "GENERATE", "\x83\xa3uid\xa2m1\xa6prompt\xa2\xff\xfe\xaamax_tokens\x01", 30,
                "BAD_REQUEST", "'prompt' is not valid UTF-8");
    CHECK (peer_silent (worker, 200));                      //  none of them reached the worker

    //  A streamed request: RUN to the worker, tokens and the reply relayed
    xinf_msg_t *run = s_generate (client, worker, "m1", 77, true);
    uint64_t request = peer_uint (run, "request");
    xinf_msg_destroy (&run);
    s_run_token (worker, request, 0, 5);
    xinf_msg_t *token = peer_expect (client, "GENERATE_TOKEN", NULL);
    CHECK_INT (xinf_msg_corr (token), 77);
    CHECK_INT (peer_uint (token, "index"), 0);
    CHECK_INT (peer_uint (token, "token"), 5);
    CHECK_INT (peer_uint (token, "prompt_length"), 3);
    xinf_msg_destroy (&token);
    //  A malformed RUN_TOKEN is dropped, not relayed
    xinf_msg_t *bad = xinf_msg_new ("RUN_TOKEN");
    xinf_map_put_uint (xinf_msg_body (bad), "request", request);
    xinf_map_put_str (xinf_msg_body (bad), "index", "one");
    CHECK (xinf_dealer_send (worker, &bad) == 0);
    s_run_token (worker, request, 1, 6);
    token = peer_expect (client, "GENERATE_TOKEN", NULL);
    CHECK_INT (peer_uint (token, "index"), 1);
    CHECK_INT (peer_uint (token, "token"), 6);
    xinf_msg_destroy (&token);
    xinf_msg_t *done = xinf_msg_new ("RUN_DONE");
    xinf_value_t *body = xinf_msg_body (done);
    xinf_map_put_uint (body, "request", request);
    //  A whole RUN_DONE as node.xml has it: the supervisor relays no less
    xinf_value_t *prompt_ids = xinf_value_new_array ();
    for (uint64_t id = 1; id <= 3; id++)
        xinf_array_push (prompt_ids, xinf_value_new_uint (id));
    xinf_map_put (body, "prompt_tokens", prompt_ids);
    xinf_value_t *tokens = xinf_value_new_array ();
    xinf_array_push (tokens, xinf_value_new_uint (5));
    xinf_array_push (tokens, xinf_value_new_uint (6));
    xinf_map_put (body, "tokens", tokens);
    xinf_map_put_str (body, "text", "tt");
    xinf_map_put_str (body, "finish_reason", "length");
    xinf_value_t *timings = xinf_value_new_map ();
    xinf_map_put_float (timings, "prefill_ms", 1);
    xinf_map_put_float (timings, "prefill_tokens_per_s", 3000);
    xinf_map_put_float (timings, "decode_ms", 2);
    xinf_map_put_float (timings, "decode_tokens_per_s", 1000);
    xinf_map_put (body, "timings", timings);
    xinf_map_put_str (body, "node", "w1");
    CHECK (xinf_dealer_send (worker, &done) == 0);
    reply = peer_expect (client, "GENERATE_REPLY", NULL);
    CHECK_INT (xinf_msg_corr (reply), 77);
    CHECK_STR (peer_str (reply, "uid"), "m1");
    CHECK_STR (peer_str (reply, "worker"), "w1");
    CHECK_STR (peer_str (reply, "text"), "tt");
    CHECK_STR (peer_str (reply, "finish_reason"), "length");
    CHECK_INT (xinf_value_count (xinf_map_get (xinf_msg_body (reply), "tokens")), 2);
    xinf_msg_destroy (&reply);
    xinf_msg_t *ack = peer_expect (worker, "RUN_ACK", NULL);
    CHECK_INT (peer_uint (ack, "request"), request);
    xinf_msg_destroy (&ack);
    CHECK (peer_silent (client, 200));                      //  answered once

    //  RUN_FAILED of the client's own fault: its error, not retried
    run = s_generate (client, worker, "m1", 78, false);
    request = peer_uint (run, "request");
    xinf_msg_destroy (&run);
    xinf_msg_t *failed = xinf_msg_new ("RUN_FAILED");
    xinf_map_put_uint (xinf_msg_body (failed), "request", request);
    xinf_map_put_str (xinf_msg_body (failed), "code", "CONTEXT_TOO_LONG");
    xinf_map_put_str (xinf_msg_body (failed), "message", "the prompt needs 9 blocks");
    CHECK (xinf_dealer_send (worker, &failed) == 0);
    reply = peer_expect (client, "ERROR", NULL);
    CHECK_INT (xinf_msg_corr (reply), 78);
    peer_check_error (reply, "CONTEXT_TOO_LONG", "9 blocks");
    xinf_msg_destroy (&reply);
    ack = peer_expect (worker, "RUN_ACK", NULL);
    xinf_msg_destroy (&ack);

    //  CANCEL: the client's one answer is CANCELLED, the worker gets RUN_CANCEL
    run = s_generate (client, worker, "m1", 79, true);
    request = peer_uint (run, "request");
    xinf_msg_destroy (&run);
    xinf_msg_t *cancel = xinf_msg_new ("CANCEL");
    xinf_map_put_uint (xinf_msg_body (cancel), "corr", 79);
    xinf_msg_set_corr (cancel, 80);
    CHECK (xinf_dealer_send (client, &cancel) == 0);
    //  Both answers come, in either order
    bool replied = false, ended = false;
    for (int answer = 0; answer < 2; answer++) {
        reply = peer_recv (client, PEER_WAIT_MS);
        CHECK (reply);
        if (xinf_msg_is (reply, "CANCEL_REPLY")) {
            CHECK (!replied);
            CHECK_INT (xinf_msg_corr (reply), 80);
            CHECK (xinf_value_bool (xinf_map_get (xinf_msg_body (reply), "cancelled")));
            replied = true;
        }
        else {
            CHECK (!ended);
            CHECK_INT (xinf_msg_corr (reply), 79);
            peer_check_error (reply, "CANCELLED", "cancelled");
            ended = true;
        }
        xinf_msg_destroy (&reply);
    }
    xinf_msg_t *stop = peer_expect (worker, "RUN_CANCEL", NULL);
    CHECK_INT (peer_uint (stop, "request"), request);
    xinf_msg_destroy (&stop);
    //  Tokens after the cancel reach nobody
    s_run_token (worker, request, 0, 9);
    CHECK (peer_silent (client, 200));
    cancel = xinf_msg_new ("CANCEL");
    xinf_map_put_uint (xinf_msg_body (cancel), "corr", 79);
    reply = s_ask (client, cancel);
    CHECK_STR (xinf_msg_type (reply), "CANCEL_REPLY");
    CHECK (!xinf_value_bool (xinf_map_get (xinf_msg_body (reply), "cancelled")));
    xinf_msg_destroy (&reply);

    //  TERMINATE: the worker is told to unload; the model is stopping
    //  (GENERATE and LAUNCH refused) until the worker says it stopped
    xinf_msg_t *terminate = xinf_msg_new ("TERMINATE");
    xinf_map_put_str (xinf_msg_body (terminate), "uid", "m1");
    reply = s_ask (client, terminate);
    CHECK_STR (xinf_msg_type (reply), "TERMINATE_REPLY");
    CHECK_INT (peer_uint (reply, "replicas"), 1);
    xinf_msg_destroy (&reply);
    xinf_msg_t *unload = peer_expect (worker, "UNLOAD_MODEL", NULL);
    CHECK_STR (peer_str (unload, "uid"), "m1");
    xinf_msg_destroy (&unload);
    s_model_state (client, "m1", state, sizeof state);
    CHECK_STR (state, "stopping");
    generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "m1");
    xinf_map_put_str (xinf_msg_body (generate), "prompt", "hi");
    xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", 1);
    reply = s_ask (client, generate);
    peer_check_error (reply, "MODEL_NOT_READY", "stopping");
    CHECK (!xinf_map_get (xinf_msg_body (reply), "retry_after_ms"));
    xinf_msg_destroy (&reply);
    launch = xinf_msg_new ("LAUNCH");
    xinf_map_put_str (xinf_msg_body (launch), "uid", "m1");
    xinf_map_put_str (xinf_msg_body (launch), "path", "/models/tiny.gguf");
    s_bad_msg (client, launch, "DUPLICATE_MODEL", "stopping");
    s_model_state_msg (worker, "m1", generation, "stopped", false);
    CHECK_SOON ((s_model_state (client, "m1", state, sizeof state), streq (state, "")), PEER_WAIT_MS);

    //  The replica fails under a streamed request: the client gets
    //  REPLICA_FAILED with the worker's words; the model is failed, and a
    //  GENERATE now is refused without a retry hint
    generation = s_launch (client, worker, "m2");
    s_model_state_msg (worker, "m2", generation, "ready", true);
    CHECK_SOON ((s_model_state (client, "m2", state, sizeof state), streq (state, "ready")), PEER_WAIT_MS);
    run = s_generate (client, worker, "m2", 90, true);
    s_run_token (worker, peer_uint (run, "request"), 0, 5);
    xinf_msg_destroy (&run);
    token = peer_expect (client, "GENERATE_TOKEN", NULL);
    xinf_msg_destroy (&token);
    xinf_msg_t *broken = xinf_msg_new ("MODEL_STATE");
    xinf_map_put_str (xinf_msg_body (broken), "uid", "m2");
    xinf_map_put_uint (xinf_msg_body (broken), "replica", 0);
    xinf_map_put_uint (xinf_msg_body (broken), "generation", generation);
    xinf_map_put_str (xinf_msg_body (broken), "state", "failed");
    xinf_map_put_str (xinf_msg_body (broken), "error", "out of memory for the KV cache");
    CHECK (xinf_dealer_send (worker, &broken) == 0);
    reply = peer_expect (client, "ERROR", NULL);
    CHECK_INT (xinf_msg_corr (reply), 90);
    peer_check_error (reply, "REPLICA_FAILED", "out of memory for the KV cache");
    xinf_msg_destroy (&reply);
    s_model_state (client, "m2", state, sizeof state);
    CHECK_STR (state, "failed");
    generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "m2");
    xinf_map_put_str (xinf_msg_body (generate), "prompt", "hi");
    xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", 1);
    reply = s_ask (client, generate);
    peer_check_error (reply, "MODEL_NOT_READY", "failed");
    CHECK (!xinf_map_get (xinf_msg_body (reply), "retry_after_ms"));
    xinf_msg_destroy (&reply);
    //  A failed model may be launched again in its place
    uint64_t relaunched = s_launch (client, worker, "m2");
    CHECK (relaunched > generation);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&worker);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

// ---- liveness ------------------------------------------------------------------

static void
test_worker_lost (void)
{
    const char *endpoint = "inproc://test-supervisor-lost";
    int64_t started = zclock_mono ();
    //  200 ms x 5: lost after 1 s of silence (a loaded machine may stall
    //  this process for a few hundred ms; the fake worker beats every 66 ms)
    xinf_supervisor_t *supervisor = peer_supervisor (endpoint, 200, 5);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    xinf_dealer_t *worker = s_worker (endpoint, "w1", 200, 5);
    //  The supervisor beats too
    char error [256];
    int64_t deadline = zclock_mono () + PEER_WAIT_MS;
    xinf_msg_t *beat = NULL;
    while (!beat && zclock_mono () < deadline) {
        beat = xinf_dealer_recv (worker, 100, error, sizeof error);
        if (beat && !xinf_msg_is (beat, "HEARTBEAT"))
            xinf_msg_destroy (&beat);
    }
    CHECK (beat);
    CHECK_STR (peer_str (beat, "node"), "sup");
    CHECK (peer_uint (beat, "seq") >= 1);
    xinf_msg_destroy (&beat);

    //  A streamed request with a token relayed is in flight on it
    uint64_t generation = s_launch (client, worker, "m1");
    s_model_state_msg (worker, "m1", generation, "ready", true);
    char state [32];
    CHECK_SOON ((s_model_state (client, "m1", state, sizeof state), streq (state, "ready")), PEER_WAIT_MS);
    xinf_msg_t *run = s_generate (client, worker, "m1", 55, true);
    s_run_token (worker, peer_uint (run, "request"), 0, 5);
    xinf_msg_destroy (&run);
    xinf_msg_t *token = peer_expect (client, "GENERATE_TOKEN", NULL);
    xinf_msg_destroy (&token);
    //  Heartbeats keep it alive past several liveness windows
    int64_t alive_until = zclock_mono () + 2500;
    while (zclock_mono () < alive_until)
        CHECK (peer_silent (client, 100));
    s_worker_state (client, "w1", state, sizeof state);
    CHECK_STR (state, "alive");
    CHECK_INT (s_events (client, "lost", "w1"), 0);

    //  Silence: lost within liveness x interval, its request ends WORKER_LOST
    peer_keepalive_stop (worker);
    xinf_msg_t *lost = peer_expect (client, "ERROR", NULL);
    CHECK_INT (xinf_msg_corr (lost), 55);
    peer_check_error (lost, "WORKER_LOST", "");
    xinf_msg_destroy (&lost);
    CHECK_INT (s_events (client, "lost", "w1"), 1);
    s_worker_state (client, "w1", state, sizeof state);
    CHECK_STR (state, "lost");
    //  Its heartbeat now is refused: register again
    xinf_heartbeat_msg_t heartbeat = { .seq = 99 };
    snprintf (heartbeat.node, sizeof heartbeat.node, "w1");
    xinf_msg_t *refused = s_ask (worker, xinf_heartbeat_msg_encode (&heartbeat));
    peer_check_error (refused, "NOT_REGISTERED", "HELLO");
    xinf_msg_destroy (&refused);
    xinf_msg_t *welcome = s_ask (worker, peer_hello ("w1", 4242, 200, 5));
    CHECK_STR (xinf_msg_type (welcome), "WELCOME");
    xinf_msg_destroy (&welcome);
    CHECK_INT (s_events (client, "rejoined", "w1"), 1);
    s_worker_state (client, "w1", state, sizeof state);
    CHECK_STR (state, "alive");

    //  A model nobody launched: a retryable MODEL_NOT_READY within the
    //  restart window (2 x liveness x interval + 2 s: workers of a
    //  restarted supervisor re-register theirs), UNKNOWN_MODEL after it
    int64_t window = 2 * 5 * 200 + 2000;
    bool unknown = false;
    deadline = started + window + PEER_WAIT_MS;
    while (!unknown && zclock_mono () < deadline) {
        xinf_msg_t *generate = xinf_msg_new ("GENERATE");
        xinf_map_put_str (xinf_msg_body (generate), "uid", "nobody");
        xinf_map_put_str (xinf_msg_body (generate), "prompt", "hi");
        xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", 1);
        int64_t asked = zclock_mono ();
        xinf_msg_t *reply = s_ask (client, generate);
        unknown = streq (peer_str (reply, "code"), "UNKNOWN_MODEL");
        if (unknown)
            CHECK (zclock_mono () - started >= window);
        else {
            CHECK (asked - started < window + 1000);
            peer_check_error (reply, "MODEL_NOT_READY", "nobody");
            CHECK (peer_silent (client, 100));
        }
        xinf_msg_destroy (&reply);
    }
    CHECK (unknown);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&worker);
    xinf_dealer_destroy (&client);
    xinf_supervisor_destroy (&supervisor);
}

//  A peer over its rate limit (50 a second, 200 at once here): the first
//  message over it is answered RATE_LIMITED with when to send again, the
//  rest of the run dropped; another peer is served meanwhile; the peer
//  is served again once its bucket refilled.
static void
test_rate_limit (void)
{
    const char *endpoint = "inproc://test-supervisor-rate";
    xinf_supervisor_config_t config = { .node_name = "sup", .heartbeat_ms = 1000, .liveness = 3, .peer_rate = 50 };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&config);
    CHECK (supervisor);
    CHECK_INT (xinf_supervisor_bind (supervisor, endpoint, NULL, 0), 0);
    xinf_dealer_t *flood = xinf_dealer_new (endpoint, "flood");
    xinf_dealer_t *other = xinf_dealer_new (endpoint, "other");
    for (int index = 0; index < 400; index++) {
        xinf_msg_t *ping = xinf_msg_new ("PING");
        xinf_msg_set_corr (ping, (uint64_t) index + 1);
        CHECK (xinf_dealer_send (flood, &ping) == 0);
    }
    size_t pongs = 0, limited = 0;
    uint64_t retry_after = 0;
    xinf_msg_t *reply;
    while ((reply = peer_recv (flood, 500))) {
        if (xinf_msg_is (reply, "PONG"))
            pongs++;
        else {
            peer_check_error (reply, "RATE_LIMITED", "PING");
            retry_after = xinf_value_uint (xinf_map_get (xinf_msg_body (reply), "retry_after_ms"));
            limited++;
        }
        xinf_msg_destroy (&reply);
    }
    //  200 at once, plus what refilled while they were read (50 a second)
    CHECK (pongs >= 200 && pongs < 400);
    CHECK (limited >= 1 && limited <= 4);
    CHECK (retry_after >= 1 && retry_after <= 1000);
    xinf_msg_t *pong = s_ask (other, xinf_msg_new ("PING"));
    CHECK_STR (xinf_msg_type (pong), "PONG");
    xinf_msg_destroy (&pong);
    pong = s_ask (flood, xinf_msg_new ("PING"));            //  refilled while waiting above
    CHECK_STR (xinf_msg_type (pong), "PONG");
    xinf_msg_destroy (&pong);
    xinf_dealer_destroy (&flood);
    xinf_dealer_destroy (&other);
    xinf_supervisor_destroy (&supervisor);
}

int
main (void)
{
    RUN (test_ping_and_garbage);
    RUN (test_rate_limit);
    RUN (test_registration);
    RUN (test_models);
    RUN (test_worker_lost);
    fprintf (stderr, "PASS: supervisor in-process: garbage answered, a flooding peer rate-limited, registration, models and requests, liveness\n");
    return 0;
}
