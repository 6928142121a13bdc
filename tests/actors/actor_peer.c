/*  actor_peer: fake peers for the in-process actor tests.  */
#include "actor_peer.h"
#include "xinf_model.h"

#define KEEPALIVE_MAX  8

typedef struct {
    xinf_dealer_t *dealer;
    char node [65];
    int64_t interval_ms, due;
    uint64_t seq;
} s_keepalive_t;

static s_keepalive_t s_keepalive [KEEPALIVE_MAX];
static char s_ignored [4][XINF_TYPE_MAX + 1];

void
peer_ignore (const char *type)
{
    for (size_t at = 0; at < 4; at++)
        if (!*s_ignored [at]) {
            snprintf (s_ignored [at], sizeof s_ignored [at], "%s", type);
            return;
        }
    CHECK (!"more than 4 ignored types");
}

//  HEARTBEATs and the types the test ignores.
static bool
s_ignored_type (xinf_msg_t *msg)
{
    if (xinf_msg_is (msg, "HEARTBEAT"))
        return true;
    for (size_t at = 0; at < 4; at++)
        if (*s_ignored [at] && xinf_msg_is (msg, s_ignored [at]))
            return true;
    return false;
}

const char *
peer_str (xinf_msg_t *msg, const char *key)
{
    return xinf_value_str (xinf_map_get (xinf_msg_body (msg), key));
}

uint64_t
peer_uint (xinf_msg_t *msg, const char *key)
{
    xinf_value_t *value = xinf_map_get (xinf_msg_body (msg), key);
    return xinf_value_type (value) == XINF_UINT ? xinf_value_uint (value) : 0;
}

void
peer_keepalive (xinf_dealer_t *dealer, const char *node, int64_t interval_ms)
{
    for (size_t at = 0; at < KEEPALIVE_MAX; at++)
        if (!s_keepalive [at].dealer) {
            s_keepalive [at].dealer = dealer;
            snprintf (s_keepalive [at].node, sizeof s_keepalive [at].node, "%s", node);
            s_keepalive [at].interval_ms = interval_ms;
            s_keepalive [at].due = zclock_mono ();
            return;
        }
    CHECK (!"more than KEEPALIVE_MAX fake workers");
}

void
peer_keepalive_stop (xinf_dealer_t *dealer)
{
    for (size_t at = 0; at < KEEPALIVE_MAX; at++)
        if (s_keepalive [at].dealer == dealer || !dealer)
            s_keepalive [at].dealer = NULL;
}

//  Sends the HEARTBEATs that are due.
static void
s_beat (void)
{
    int64_t now = zclock_mono ();
    for (size_t at = 0; at < KEEPALIVE_MAX; at++) {
        s_keepalive_t *keep = &s_keepalive [at];
        if (!keep->dealer || now < keep->due)
            continue;
        xinf_heartbeat_msg_t beat = { .seq = ++keep->seq };
        snprintf (beat.node, sizeof beat.node, "%s", keep->node);
        xinf_msg_t *msg = xinf_heartbeat_msg_encode (&beat);
        xinf_dealer_send (keep->dealer, &msg);
        keep->due = now + keep->interval_ms;
    }
}

//  Waits up to timeout_ms for input on 'sock', beating meanwhile.
static bool
s_poll (zsock_t *sock, int64_t timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        s_beat ();
        int64_t left = deadline - zclock_mono ();
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, left < 0 ? 0 : left > 20 ? 20 : (long) left);
        if (rc > 0)
            return true;
        if (left <= 0)
            return false;
    }
}

//  Messages a fake worker got before its WELCOME (a supervisor may send
//  LOAD_MODEL first), handed out by peer_recv before the socket's.
#define S_HELD_MAX  8
static struct {
    xinf_dealer_t *dealer;
    xinf_msg_t *msg;
} s_held [S_HELD_MAX];

static void
s_hold (xinf_dealer_t *dealer, xinf_msg_t **msg_p)
{
    for (size_t at = 0; at < S_HELD_MAX; at++)
        if (!s_held [at].msg) {
            s_held [at].dealer = dealer;
            s_held [at].msg = *msg_p;
            *msg_p = NULL;
            return;
        }
    CHECK (!"room for a held message");
}

static xinf_msg_t *
s_held_take (xinf_dealer_t *dealer)
{
    for (size_t at = 0; at < S_HELD_MAX; at++)
        if (s_held [at].msg && s_held [at].dealer == dealer) {
            xinf_msg_t *msg = s_held [at].msg;
            s_held [at].msg = NULL;
            return msg;
        }
    return NULL;
}

xinf_msg_t *
peer_recv (xinf_dealer_t *dealer, int timeout_ms)
{
    xinf_msg_t *held = s_held_take (dealer);
    if (held)
        return held;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (s_poll (xinf_dealer_sock (dealer), deadline - zclock_mono ())) {
        char error [256];
        xinf_msg_t *msg = xinf_dealer_recv (dealer, 0, error, sizeof error);
        if (!msg) {
            fprintf (stderr, "bad message from the actor: %s\n", error);
            CHECK (msg);
        }
        if (!s_ignored_type (msg))
            return msg;
        xinf_msg_destroy (&msg);
    }
    return NULL;
}

xinf_msg_t *
peer_expect (xinf_dealer_t *dealer, const char *type, size_t *skipped)
{
    char seen [512] = "";
    int64_t deadline = zclock_mono () + PEER_WAIT_MS;
    while (zclock_mono () < deadline) {
        xinf_msg_t *msg = peer_recv (dealer, (int) (deadline - zclock_mono ()));
        if (msg && xinf_msg_is (msg, type))
            return msg;
        if (msg) {
            if (strlen (seen) + strlen (xinf_msg_type (msg)) + 2 < sizeof seen)
                strcat (strcat (seen, " "), xinf_msg_type (msg));
            if (xinf_msg_is (msg, "ERROR"))
                fprintf (stderr, "  (skipped ERROR %s: %s)\n", peer_str (msg, "code"), peer_str (msg, "message"));
            if (skipped)
                (*skipped)++;
        }
        xinf_msg_destroy (&msg);
    }
    fprintf (stderr, "no %s within %d ms; came instead:%s\n", type, PEER_WAIT_MS, *seen ? seen : " nothing");
    CHECK (!"expected message");
    return NULL;
}

xinf_msg_t *
peer_ask (xinf_dealer_t *dealer, xinf_msg_t **request_p, uint64_t corr)
{
    char type [XINF_TYPE_MAX + 1];
    snprintf (type, sizeof type, "%s", xinf_msg_type (*request_p));
    xinf_msg_set_corr (*request_p, corr);
    CHECK (xinf_dealer_send (dealer, request_p) == 0);
    int64_t deadline = zclock_mono () + PEER_WAIT_MS;
    while (zclock_mono () < deadline) {
        xinf_msg_t *msg = peer_recv (dealer, (int) (deadline - zclock_mono ()));
        if (msg && xinf_msg_corr (msg) == corr)
            return msg;
        xinf_msg_destroy (&msg);
    }
    fprintf (stderr, "no answer to %s corr=%llu within %d ms\n", type, (unsigned long long) corr, PEER_WAIT_MS);
    CHECK (!"answer");
    return NULL;
}

bool
peer_silent (xinf_dealer_t *dealer, int quiet_ms)
{
    xinf_msg_t *msg = peer_recv (dealer, quiet_ms);
    if (msg)
        fprintf (stderr, "expected silence, got %s\n", xinf_msg_type (msg));
    bool silent = msg == NULL;
    xinf_msg_destroy (&msg);
    return silent;
}

void
peer_check_error (xinf_msg_t *reply, const char *code, const char *needle)
{
    CHECK (reply);
    if (!xinf_msg_is (reply, "ERROR"))
        fprintf (stderr, "expected ERROR %s, got %s\n", code, xinf_msg_type (reply));
    CHECK_STR (xinf_msg_type (reply), "ERROR");
    CHECK_STR (peer_str (reply, "code"), code);
    CHECK_HAS (peer_str (reply, "message"), needle);
}

void
peer_send_raw (zsock_t *sock, const void *frame0, size_t size0, const void *frame1, size_t size1)
{
    void *handle = zsock_resolve (sock);
    CHECK (zmq_send (handle, frame0, size0, frame1 ? ZMQ_SNDMORE : 0) == (int) size0);
    if (frame1)
        CHECK (zmq_send (handle, frame1, size1, 0) == (int) size1);
}

void
peer_send_body (zsock_t *sock, const char *type, uint64_t corr, const void *body, size_t size)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 5);
    msgpack_pack_str_with_body (&packer, "type", 4);
    msgpack_pack_str_with_body (&packer, type, strlen (type));
    msgpack_pack_str_with_body (&packer, "corr", 4);
    msgpack_pack_uint64 (&packer, corr);
    msgpack_pack_str_with_body (&packer, "sender", 6);
    msgpack_pack_str_with_body (&packer, "garbage", 7);
    msgpack_pack_str_with_body (&packer, "deadline", 8);
    msgpack_pack_uint64 (&packer, 0);
    msgpack_pack_str_with_body (&packer, "body", 4);
    msgpack_sbuffer_write (&buffer, body, size);
    //  One frame: the signature, then the header map (envelope.md, version 2)
    size_t size0 = XINF_SIGNATURE_SIZE + buffer.size;
    byte *frame = malloc (size0);
    CHECK (frame);
    memcpy (frame, "XINF", 4);
    frame [4] = 2;
    memcpy (frame + XINF_SIGNATURE_SIZE, buffer.data, buffer.size);
    peer_send_raw (sock, frame, size0, NULL, 0);
    free (frame);
    msgpack_sbuffer_destroy (&buffer);
}

xinf_supervisor_t *
peer_supervisor (const char *endpoint, int64_t heartbeat_ms, int liveness)
{
    xinf_supervisor_config_t config = { .node_name = "sup", .heartbeat_ms = heartbeat_ms, .liveness = liveness };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&config);
    CHECK (supervisor);
    CHECK_INT (xinf_supervisor_bind (supervisor, endpoint, NULL, 0), 0);
    return supervisor;
}

xinf_hello_t
peer_hello_fields (const char *node, uint64_t pid, uint64_t heartbeat_ms, uint64_t liveness)
{
    xinf_hello_t hello = { .data_port_low = 30000, .data_port_high = 30100, .pid = pid, .cpus = 4,
                           .memory_bytes = 16ull << 30, .memory_available_bytes = 8ull << 30,
                           .heartbeat_ms = heartbeat_ms, .liveness = liveness };
    snprintf (hello.node, sizeof hello.node, "%s", node);
    snprintf (hello.host_ip, sizeof hello.host_ip, "127.0.0.1");
    snprintf (hello.host_ip_source, sizeof hello.host_ip_source, "flag");
    snprintf (hello.version, sizeof hello.version, "%s", XINF_VERSION_STRING);
    snprintf (hello.zmq_version, sizeof hello.zmq_version, "4.3.4");
    snprintf (hello.czmq_version, sizeof hello.czmq_version, "4.2.1");
    snprintf (hello.gpu_probe, sizeof hello.gpu_probe, "no GPUs: a fake worker");
    hello.devices = xinf_value_new_array ();
    xinf_value_t *cpu = xinf_value_new_map ();
    xinf_map_put_str (cpu, "kind", "cpu");
    xinf_map_put_uint (cpu, "index", 0);
    xinf_map_put_str (cpu, "name", "fake cpu");
    xinf_map_put_uint (cpu, "memory_bytes", 16ull << 30);
    xinf_array_push (hello.devices, cpu);
    hello.models = xinf_value_new_array ();
    return hello;
}

//  PROBE_MESH answered: every target 'status' (ok unless told).
void
peer_answer_probe (xinf_dealer_t *worker, const char *node, const char *status)
{
    xinf_msg_t *probe = peer_expect (worker, "PROBE_MESH", NULL);
    xinf_msg_t *result = xinf_msg_new ("PROBE_RESULT");
    xinf_map_put_str (xinf_msg_body (result), "node", node);
    xinf_map_put_uint (xinf_msg_body (result), "session", peer_uint (probe, "session"));
    xinf_value_t *results = xinf_value_new_array ();
    xinf_value_t *targets = xinf_map_get (xinf_msg_body (probe), "targets");
    for (size_t index = 0; index < xinf_value_count (targets); index++) {
        xinf_value_t *target = xinf_array_at (targets, index);
        xinf_value_t *outcome = xinf_value_new_map ();
        xinf_map_put_str (outcome, "to", xinf_value_str (xinf_map_get (target, "node")));
        xinf_map_put_str (outcome, "endpoint", xinf_value_str (xinf_map_get (target, "endpoint")));
        xinf_map_put_str (outcome, "status", status);
        xinf_map_put_uint (outcome, "ms", 1);
        xinf_map_put_str (outcome, "detail", streq (status, "ok") ? "" : "a fake refusal");
        if (xinf_map_get (target, "tcp_only"))
            xinf_map_put_bool (outcome, "tcp_only", true);
        xinf_array_push (results, outcome);
    }
    xinf_map_put (xinf_msg_body (result), "results", results);
    CHECK (xinf_dealer_send (worker, &result) == 0);
    xinf_msg_destroy (&probe);
}

xinf_dealer_t *
peer_register (const char *endpoint, xinf_hello_t *hello, uint64_t corr)
{
    xinf_dealer_t *worker = xinf_dealer_new (endpoint, hello->node);
    CHECK (worker);
    xinf_msg_t *request = xinf_hello_encode (hello);
    xinf_msg_set_corr (request, corr);
    CHECK (xinf_dealer_send (worker, &request) == 0);
    xinf_msg_t *welcome = NULL, *before [S_HELD_MAX];
    size_t count = 0;
    int64_t deadline = zclock_mono () + PEER_WAIT_MS;
    while (!welcome && zclock_mono () < deadline) {
        xinf_msg_t *msg = peer_recv (worker, (int) (deadline - zclock_mono ()));
        if (msg && xinf_msg_corr (msg) == corr)
            welcome = msg;
        else
        if (msg && count < S_HELD_MAX)
            before [count++] = msg;   //  for the test: what came before the WELCOME
        else
            xinf_msg_destroy (&msg);
    }
    for (size_t at = 0; at < count; at++)
        s_hold (worker, &before [at]);
    CHECK (welcome);
    CHECK_STR (xinf_msg_type (welcome), "WELCOME");
    xinf_msg_destroy (&welcome);
    peer_keepalive (worker, hello->node, 66);
    xinf_hello_clear (hello);
    return worker;
}

xinf_msg_t *
peer_hello (const char *node, uint64_t pid, uint64_t heartbeat_ms, uint64_t liveness)
{
    xinf_hello_t hello = peer_hello_fields (node, pid, heartbeat_ms, liveness);
    xinf_msg_t *msg = xinf_hello_encode (&hello);
    xinf_hello_clear (&hello);
    return msg;
}

//  The next message on the ROUTER within timeout_ms, HEARTBEATs included
//  or not; NULL if none came.
static xinf_msg_t *
s_router_next (xinf_router_t *router, int64_t timeout_ms, bool heartbeats, char *peer_id, size_t peer_id_size)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (s_poll (xinf_router_sock (router), deadline - zclock_mono ())) {
        xinf_peer_t *peer = NULL;
        char error [256];
        uint64_t corr;
        xinf_msg_t *msg = xinf_router_try_recv (router, &peer, error, sizeof error, &corr);
        if (!msg && peer) {
            fprintf (stderr, "bad message from the actor: %s\n", error);
            CHECK (msg);
        }
        if (msg && ((heartbeats && xinf_msg_is (msg, "HEARTBEAT")) || !s_ignored_type (msg))) {
            snprintf (peer_id, peer_id_size, "%s", xinf_peer_id (peer));
            return msg;
        }
        xinf_msg_destroy (&msg);
    }
    return NULL;
}

xinf_msg_t *
peer_router_recv (xinf_router_t *router, int timeout_ms, char *peer_id, size_t peer_id_size)
{
    return s_router_next (router, timeout_ms, false, peer_id, peer_id_size);
}

xinf_msg_t *
peer_router_expect (xinf_router_t *router, const char *type, char *peer_id, size_t peer_id_size)
{
    char seen [512] = "";
    int64_t deadline = zclock_mono () + PEER_WAIT_MS;
    bool heartbeats = streq (type, "HEARTBEAT");
    while (zclock_mono () < deadline) {
        xinf_msg_t *msg = s_router_next (router, deadline - zclock_mono (), heartbeats, peer_id, peer_id_size);
        if (msg && xinf_msg_is (msg, type))
            return msg;
        if (msg && strlen (seen) + strlen (xinf_msg_type (msg)) + 2 < sizeof seen)
            strcat (strcat (seen, " "), xinf_msg_type (msg));
        xinf_msg_destroy (&msg);
    }
    fprintf (stderr, "no %s within %d ms; came instead:%s\n", type, PEER_WAIT_MS, *seen ? seen : " nothing");
    CHECK (!"expected message");
    return NULL;
}

void
peer_router_send (xinf_router_t *router, const char *peer_id, xinf_msg_t **msg_p)
{
    xinf_peer_t *peer = xinf_router_peer (router, peer_id);
    CHECK (peer);
    CHECK (xinf_router_send (router, peer, msg_p) == 0);
}

void
peer_scratch (char *dir, size_t size)
{
    const char *base = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (dir, size, "%s/xinf-actors-XXXXXX", base);
    CHECK (mkdtemp (dir) != NULL);
}

void
peer_scratch_remove (const char *dir)
{
    char command [600];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    CHECK (system (command) == 0);
}

void
peer_make_model (const char *make_model, const char *dir, const char *name, char *path, size_t size)
{
    char command [1200];
    snprintf (path, size, "%s/%s", dir, name);
    snprintf (command, sizeof command, "'%s' --preset tiny --arch qwen2 --context 4096 -o '%s' > /dev/null", make_model, path);
    CHECK (system (command) == 0);
}

size_t
peer_greedy (const char *model_path, const int32_t *prompt, size_t prompt_count, size_t max, int32_t *out)
{
    char error [256];
    xinf_model_t *model = xinf_model_load (model_path, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *transformer = xinf_model_transformer (model);
    xinf_tokenizer_t *tokenizer = xinf_model_tokenizer (model);
    size_t vocab = transformer->vocab;
    xinf_kv_t *kv = xinf_kv_new (transformer, prompt_count + max + 1);
    float *logits = malloc (vocab * sizeof (float));
    CHECK (kv && logits);
    CHECK (xinf_transformer_forward (transformer, kv, NULL, prompt, prompt_count, 0, logits, NULL, error,
                                     sizeof error) == 0);
    size_t count = 0;
    while (count < max) {
        size_t best = 0;
        for (size_t index = 1; index < vocab; index++)
            if (logits [index] > logits [best])
                best = index;
        out [count++] = (int32_t) best;
        if (xinf_tokenizer_is_end (tokenizer, (int32_t) best) || count == max)
            break;
        int32_t token = (int32_t) best;
        CHECK (xinf_transformer_forward (transformer, kv, NULL, &token, 1, prompt_count + count - 1, logits, NULL,
                                         error, sizeof error) == 0);
    }
    free (logits);
    xinf_kv_destroy (&kv);
    xinf_model_destroy (&model);
    return count;
}
