/*  test_supervisor_serve: the supervisor actor in this process serving a
    streamed GENERATE through a fake worker, with a per-peer rate limit
    far below what the worker sends (--peer-rate 100: 400 at once): the
    limit is for clients, so every RUN_TOKEN of the registered worker is
    relayed, in order, and its RUN_DONE answers the client; a client over
    the same limit is still refused (RATE_LIMITED).
*/
#include "actor_peer.h"

#define TOKENS  500

static uint64_t s_corr = 7000;

//  A ready plain replica of 'uid' as a worker reports it in HELLO.
static xinf_value_t *
s_ready (const char *uid)
{
    xinf_value_t *model = xinf_value_new_map ();
    xinf_map_put_str (model, "uid", uid);
    xinf_map_put_uint (model, "replica", 0);
    xinf_map_put_str (model, "state", "ready");
    xinf_map_put_str (model, "path", "/s.gguf");
    xinf_map_put_uint (model, "generation", 3);
    xinf_value_t *info = xinf_value_new_map ();
    xinf_map_put_str (info, "arch", "llama");
    xinf_map_put_uint (info, "size_bytes", 1 << 20);
    xinf_map_put_uint (info, "max_seqs", 4);
    xinf_map_put (model, "info", info);
    return model;
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
    xinf_msg_t *done = xinf_msg_new ("RUN_DONE");
    xinf_value_t *body = xinf_msg_body (done);
    xinf_map_put_str (body, "node", "w1");
    xinf_map_put_uint (body, "request", run);
    xinf_value_t *prompt = xinf_value_new_array ();
    xinf_array_push (prompt, xinf_value_new_uint (1));
    xinf_map_put (body, "prompt_tokens", prompt);
    xinf_value_t *tokens = xinf_value_new_array ();
    for (uint64_t index = 0; index < TOKENS; index++)
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

static void
test_worker_not_limited (void)
{
    const char *endpoint = "inproc://test-supervisor-serve";
    xinf_supervisor_config_t config = { .node_name = "sup", .heartbeat_ms = 200, .liveness = 5, .peer_rate = 100 };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&config);
    CHECK (supervisor);
    CHECK_INT (xinf_supervisor_bind (supervisor, endpoint, NULL, 0), 0);
    xinf_hello_t hello = peer_hello_fields ("w1", 4400, 200, 5);
    xinf_array_push (hello.models, s_ready ("s"));
    xinf_dealer_t *worker = peer_register (endpoint, &hello, ++s_corr);
    xinf_dealer_t *client = xinf_dealer_new (endpoint, "client");
    peer_ignore ("MODEL_LOAD");

    xinf_msg_t *generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "s");
    xinf_value_t *prompt = xinf_value_new_array ();
    xinf_array_push (prompt, xinf_value_new_uint (1));
    xinf_map_put (xinf_msg_body (generate), "prompt_tokens", prompt);
    xinf_map_put_uint (xinf_msg_body (generate), "max_tokens", TOKENS);
    xinf_map_put_bool (xinf_msg_body (generate), "stream", true);
    uint64_t corr = ++s_corr;
    xinf_msg_set_corr (generate, corr);
    CHECK (xinf_dealer_send (client, &generate) == 0);
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

int
main (int argc, char *argv [])
{
    (void) argc;
    (void) argv;
    xinf_log_set_level (getenv ("TEST_LOG") ? XINF_LOG_INFO : XINF_LOG_ERROR);
    RUN (test_worker_not_limited);
    return 0;
}
