/*  test_supervisor_serve: the supervisor actor in this process serving a
    streamed GENERATE through a fake worker, with a per-peer rate limit
    far below what the worker sends (--peer-rate 100: 400 at once): the
    limit is for clients, so every RUN_TOKEN of the registered worker is
    relayed, in order, and its RUN_DONE answers the client; a client over
    the same limit is still refused (RATE_LIMITED). And two replicas of
    one model whose model info reports different contexts: a prompt the
    smaller one refuses (CONTEXT_EXCEEDED) is served by the larger, and
    LIST_MODELS gives each replica's context and the model's as the larger.
*/
#include "actor_peer.h"

#define TOKENS  500

static uint64_t s_corr = 7000;

//  A ready plain replica 'replica' of 'uid' as a worker reports it in
//  HELLO, its context in its info unless 0.
static xinf_value_t *
s_ready (const char *uid, uint64_t replica, uint64_t context)
{
    xinf_value_t *model = xinf_value_new_map ();
    xinf_map_put_str (model, "uid", uid);
    xinf_map_put_uint (model, "replica", replica);
    xinf_map_put_str (model, "state", "ready");
    xinf_map_put_str (model, "path", "/s.gguf");
    xinf_map_put_uint (model, "generation", 3);
    xinf_value_t *info = xinf_value_new_map ();
    xinf_map_put_str (info, "arch", "llama");
    xinf_map_put_uint (info, "size_bytes", 1 << 20);
    xinf_map_put_uint (info, "max_seqs", 4);
    if (context)
        xinf_map_put_uint (info, "context", context);
    xinf_map_put (model, "info", info);
    return model;
}

//  Worker 'node's result of run 'run': 'count' tokens.
static void
s_done (xinf_dealer_t *worker, const char *node, uint64_t run, uint64_t count)
{
    xinf_msg_t *done = xinf_msg_new ("RUN_DONE");
    xinf_value_t *body = xinf_msg_body (done);
    xinf_map_put_str (body, "node", node);
    xinf_map_put_uint (body, "request", run);
    xinf_value_t *prompt = xinf_value_new_array ();
    xinf_array_push (prompt, xinf_value_new_uint (1));
    xinf_map_put (body, "prompt_tokens", prompt);
    xinf_value_t *tokens = xinf_value_new_array ();
    for (uint64_t index = 0; index < count; index++)
        xinf_array_push (tokens, xinf_value_new_uint (100 + index));
    xinf_map_put (body, "tokens", tokens);
    xinf_map_put_str (body, "text", "t");
    xinf_map_put_str (body, "finish_reason", "length");
    xinf_value_t *timings = xinf_value_new_map ();
    const char *keys [] = { "prefill_ms", "prefill_tokens_per_s", "decode_ms", "decode_tokens_per_s" };
    for (size_t at = 0; at < 4; at++)
        xinf_map_put_float (timings, keys [at], 1);
    xinf_map_put (body, "timings", timings);
    CHECK (xinf_dealer_send (worker, &done) == 0);
}

//  The run's tokens, one message each, then its result, as a replica
//  streaming TOKENS tokens sends them up.
static void
s_stream (xinf_dealer_t *worker, uint64_t run)
{
    for (uint64_t index = 0; index < TOKENS; index++) {
        xinf_msg_t *token = xinf_msg_new ("RUN_TOKEN");
        xinf_value_t *body = xinf_msg_body (token);
        xinf_map_put_str (body, "node", "w1");
        xinf_map_put_uint (body, "request", run);
        xinf_map_put_uint (body, "index", index);
        xinf_map_put_uint (body, "token", 100 + index);
        xinf_map_put_str (body, "text", "t");
        CHECK (xinf_dealer_send (worker, &token) == 0);
    }
    s_done (worker, "w1", run, TOKENS);
}

//  Sends GENERATE of a one-token prompt for model 'uid'; returns its corr.
static uint64_t
s_generate (xinf_dealer_t *client, const char *uid, uint64_t max_tokens, bool stream)
{
    xinf_msg_t *generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", uid);
    xinf_value_t *prompt = xinf_value_new_array ();
    xinf_array_push (prompt, xinf_value_new_uint (1));
    xinf_map_put (xinf_msg_body (generate), "prompt_tokens", prompt);
    xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", max_tokens);
    xinf_map_put_bool (xinf_msg_body (generate), "stream", stream);
    uint64_t corr = ++s_corr;
    xinf_msg_set_corr (generate, corr);
    CHECK (xinf_dealer_send (client, &generate) == 0);
    return corr;
}

static void
test_worker_not_limited (void)
{
    const char *endpoint = "inproc://test-supervisor-serve";
    xinf_supervisor_config_t config = { .node_name = "sup", .heartbeat_ms = 200, .liveness = 5, .peer_rate = 100 };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&config);
    CHECK (supervisor);
    CHECK_INT (xinf_supervisor_bind (supervisor, endpoint, NULL, 0), 0);
    xinf_hello_t hello = peer_hello_fields ("w1", 4400, 200, 5);
    xinf_array_push (hello.models, s_ready ("s", 0, 0));
    xinf_dealer_t *worker = peer_register (endpoint, &hello, ++s_corr);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    peer_ignore ("MODEL_LOAD");

    uint64_t corr = s_generate (client, "s", TOKENS, true);
    xinf_msg_t *run = peer_expect (worker, "RUN", NULL);
    CHECK (run);
    s_stream (worker, peer_uint (run, "request"));
    xinf_msg_destroy (&run);

    //  Every token, in order, then the answer
    uint64_t next = 0;
    bool answered = false;
    while (!answered) {
        xinf_msg_t *msg = peer_recv (client, PEER_WAIT_MS);
        if (!msg) {
            fprintf (stderr, "no more messages after %llu tokens\n", (unsigned long long) next);
            CHECK (msg);
        }
        CHECK_INT (xinf_msg_corr (msg), corr);
        if (xinf_msg_is (msg, "GENERATE_TOKEN")) {
            CHECK_INT (peer_uint (msg, "index"), next);
            next++;
        }
        else {
            CHECK_STR (xinf_msg_type (msg), "GENERATE_REPLY");
            CHECK_STR (peer_str (msg, "finish_reason"), "length");
            answered = true;
        }
        xinf_msg_destroy (&msg);
    }
    CHECK_INT (next, TOKENS);

    //  A client is held to the limit: 400 at once
    for (int index = 0; index < 600; index++) {
        xinf_msg_t *ping = xinf_msg_new ("PING");
        xinf_msg_set_corr (ping, (uint64_t) index + 1);
        CHECK (xinf_dealer_send (client, &ping) == 0);
    }
    size_t limited = 0;
    xinf_msg_t *reply;
    while ((reply = peer_recv (client, 500))) {
        limited += xinf_msg_is (reply, "ERROR") && streq (peer_str (reply, "code"), "RATE_LIMITED");
        xinf_msg_destroy (&reply);
    }
    CHECK (limited >= 1);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&client);
    xinf_dealer_destroy (&worker);
    xinf_supervisor_destroy (&supervisor);
}

//  Replica 0 of s on w1 reports a context of 64 in its model info,
//  replica 1 on w2 one of 256 (each sized its KV cache): a prompt w1
//  refuses CONTEXT_EXCEEDED goes to w2 as a new run, and w2's answer is
//  the client's (the context travels from MODEL_STATE's info to the
//  scheduler).
static void
test_context_larger_replica (void)
{
    const char *endpoint = "inproc://test-supervisor-serve-context";
    xinf_supervisor_config_t config = { .node_name = "sup", .heartbeat_ms = 200, .liveness = 5 };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&config);
    CHECK (supervisor);
    CHECK_INT (xinf_supervisor_bind (supervisor, endpoint, NULL, 0), 0);
    xinf_hello_t hello = peer_hello_fields ("w1", 4401, 200, 5);
    xinf_array_push (hello.models, s_ready ("s", 0, 64));
    xinf_dealer_t *small = peer_register (endpoint, &hello, ++s_corr);
    hello = peer_hello_fields ("w2", 4402, 200, 5);
    xinf_array_push (hello.models, s_ready ("s", 1, 256));
    xinf_dealer_t *large = peer_register (endpoint, &hello, ++s_corr);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    peer_ignore ("MODEL_LOAD");

    //  The model's context is its largest replica's; each replica says its own
    xinf_msg_t *list = xinf_msg_new ("LIST_MODELS");
    xinf_msg_t *models = peer_ask (client, &list, ++s_corr);
    CHECK_STR (xinf_msg_type (models), "LIST_MODELS_REPLY");
    xinf_value_t *entry = xinf_array_at (xinf_map_get (xinf_msg_body (models), "models"), 0);
    CHECK_STR (xinf_value_str (xinf_map_get (entry, "uid")), "s");
    CHECK_INT (xinf_value_uint (xinf_map_get (entry, "context_length")), 256);    //  the old code: 64
    xinf_value_t *replicas = xinf_map_get (entry, "replicas");
    CHECK_INT (xinf_value_count (replicas), 2);
    for (size_t at = 0; at < 2; at++) {
        xinf_value_t *replica = xinf_array_at (replicas, at);
        CHECK_INT (xinf_value_uint (xinf_map_get (replica, "context_length")),
                   xinf_value_uint (xinf_map_get (replica, "replica")) == 0 ? 64 : 256);
    }
    xinf_msg_destroy (&models);

    uint64_t corr = s_generate (client, "s", 4, false);
    xinf_msg_t *run = peer_expect (small, "RUN", NULL);
    CHECK_INT (peer_uint (run, "corr"), corr);
    xinf_msg_t *failed = xinf_msg_new ("RUN_FAILED");
    xinf_map_put_str (xinf_msg_body (failed), "node", "w1");
    xinf_map_put_uint (xinf_msg_body (failed), "request", peer_uint (run, "request"));
    xinf_map_put_str (xinf_msg_body (failed), "code", "CONTEXT_EXCEEDED");
    xinf_map_put_str (xinf_msg_body (failed), "message", "the prompt has 100 tokens; the context holds 64");
    CHECK (xinf_dealer_send (small, &failed) == 0);
    xinf_msg_t *again = peer_expect (large, "RUN", NULL);
    CHECK_INT (peer_uint (again, "corr"), corr);
    CHECK (peer_uint (again, "request") != peer_uint (run, "request"));
    s_done (large, "w2", peer_uint (again, "request"), 1);
    xinf_msg_t *reply = peer_recv (client, PEER_WAIT_MS);
    CHECK (reply);
    CHECK_STR (xinf_msg_type (reply), "GENERATE_REPLY");      //  the old code: ERROR CONTEXT_EXCEEDED
    CHECK_INT (xinf_msg_corr (reply), corr);
    CHECK_STR (peer_str (reply, "worker"), "w2");
    xinf_msg_destroy (&reply);
    xinf_msg_destroy (&again);
    xinf_msg_destroy (&run);

    peer_keepalive_stop (NULL);
    xinf_dealer_destroy (&client);
    xinf_dealer_destroy (&large);
    xinf_dealer_destroy (&small);
    xinf_supervisor_destroy (&supervisor);
}

int
main (int argc, char *argv [])
{
    (void) argc;
    (void) argv;
    xinf_log_set_level (getenv ("TEST_LOG") ? XINF_LOG_INFO : XINF_LOG_ERROR);
    RUN (test_worker_not_limited);
    RUN (test_context_larger_replica);
    return 0;
}
