/*  xinf-bench-runtime: what libxinf's envelopes and actors cost over raw
    libzmq, all measured in the same run on the same machine.

        xinf-bench-runtime [--payload BYTES] [--roundtrips N] [--messages N]
                           [--window N] [--repeat R] [--handler ping|echo] [--bulk]
                           [--curve] [--json] [--profile CLIENT]

    Three clients over TCP loopback, one CZMQ context, the same payload:

      raw         a libzmq DEALER on the main thread sends the payload as one
                  frame to a ROUTER echo server on its own thread (zactor).
      raw+frames  the same, sending the exact bytes of an encoded envelope
                  (frame 0, then any binary frames): what the envelope's
                  wire shape costs in libzmq alone, without the runtime.
      xinf        an xinf_dealer sends PING (or ECHO) envelopes carrying the
                  payload to an xinf actor, which echoes it; replies are read
                  through the real decoding path (xinf_dealer_request,
                  xinf_dealer_recv). The payload is the body field 'echo'
                  (bin): a small message, one frame. With --bulk it is a
                  binary frame instead: bulk data, two frames, zero copy.

    With --curve the xinf client and actor speak CURVE (keys made in
    memory, the ZAP handler zauth accepting the client's key, the role
    check's metadata read per message) while raw stays plain: xinf/raw is
    then what the runtime plus CurveZMQ cost; compare with a run without.

    Round trip: one request in flight; the three clients alternate in blocks
    of 100 so that each sees the same machine state; p50 and p99 in us.
    Throughput: up to --window requests in flight, messages per second.
    Each run measures all cases; the median over --repeat runs is reported.

    With --profile CLIENT only that client's throughput runs (--repeat
    times, no round trips, no ratios): a steady load for a profiler,
    e.g. perf record -g xinf-bench-runtime --profile xinf.

    Targets (issue #14, 64-byte payload): xinf round trip p50 <= 1.1x
    raw, xinf throughput >= 0.6x raw. Exit status: 0 when measured (targets
    met or not), 1 when a case failed (no progress for 5 s, a bad reply), 2
    on bad usage.
*/
#include "xinf.h"
#include "xinf_tsan.h"

#include <time.h>
#include <unistd.h>

#define S_STALL_MS      5000       //  no progress for this long aborts a case
#define S_WARMUP_RTT    1000       //  round trips before measuring
#define S_BLOCK         100        //  round trips per client before switching
#define S_CLIENTS       3
#define S_RTT_TARGET    1.10       //  xinf / raw, at most
#define S_TPUT_TARGET   0.60       //  xinf / raw, at least

static const xinf_option_t s_options [] = {
    { "payload", 'p', NULL, XINF_OPT_INT, "64", 0, 16 << 20, NULL, "BYTES", "payload size of each request and reply" },
    { "roundtrips", 'n', NULL, XINF_OPT_INT, "20000", 100, 10000000, NULL, "N", "round trips per client and run" },
    { "messages", 'm', NULL, XINF_OPT_INT, "200000", 1000, 1000000000, NULL, "N", "messages per throughput run" },
    { "window", 'w', NULL, XINF_OPT_INT, "1000", 1, 5000, NULL, "N",
      "requests in flight in the throughput runs (at most 5000, below the 10000 HWM)" },
    { "repeat", 'r', NULL, XINF_OPT_INT, "3", 1, 99, NULL, "R", "runs; the median run of each figure is reported" },
    { "handler", 0, NULL, XINF_OPT_STR, "ping", 0, 0, "ping|echo", "NAME",
      "xinf server: the built-in PING (PONG echoes 'echo' and frames) or an ECHO handler" },
    { "bulk", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "xinf carries the payload as a binary frame (bulk data), not in the body" },
    { "curve", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "the xinf client and actor speak CURVE (raw stays plain)" },
    { "json", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "print one JSON object after the table" },
    { "malloc-default", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "leave glibc's fast bins at their default (xinf-node tunes them: runtime/xinf_malloc.h)" },
    { "profile", 0, NULL, XINF_OPT_STR, "none", 0, 0, "none|raw|raw+frames|xinf", "CLIENT",
      "only this client's throughput, for a profiler (no round trips, no ratios)" },
    { 0 }
};

//  The figures of one client in one run (or their medians over runs).
enum { S_P50, S_P99, S_MEAN, S_TPUT, S_FIGURES };
typedef struct {
    double figure [S_FIGURES];     //  round trip p50, p99, mean (us); msg/s
} s_result_t;

//  A client under test: raw or xinf behind the same three calls.
typedef struct {
    const char *name;
    void *self;
    int (*roundtrip) (void *self, char *error, size_t error_size);
    int (*send) (void *self, char *error, size_t error_size);
    int (*recv) (void *self, char *error, size_t error_size);
    double *samples;           //  round-trip times of the current run, us
} s_client_t;

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

//  CPU time of the whole process (all threads), ns.
static int64_t
s_cpu_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

//  Waits up to S_STALL_MS for 'events' on a libzmq socket; false on timeout.
static bool
s_wait_events (void *handle, short events)
{
    zmq_pollitem_t item = { handle, 0, events, 0 };
    int64_t deadline = zclock_mono () + S_STALL_MS;
    int rc;
    do {
        int64_t left = deadline - zclock_mono ();
        rc = zmq_poll (&item, 1, left > 0 ? (long) left : 0);
    } while (rc < 0 && errno == EINTR && !zsys_interrupted && zclock_mono () < deadline);
    return rc > 0;
}

// ---- raw libzmq: ROUTER echo thread, DEALER clients ---------------------------

//  Echoes every message as it came (routing id + frames), at most 256 per
//  wake-up so that $TERM is seen.
static void
s_raw_echo_drain (void *router)
{
    for (int count = 0; count < 256; count++) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            return;
        }
        bool more = zmq_msg_more (&part);
        while (true) {
            zmq_msg_send (&part, router, more ? ZMQ_SNDMORE : 0);
            zmq_msg_close (&part);
            if (!more)
                break;
            zmq_msg_init (&part);
            zmq_msg_recv (&part, router, 0);    //  the rest of a message is there
            more = zmq_msg_more (&part);
        }
    }
}

static void
s_raw_echo_actor (zsock_t *pipe, void *args)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    xinf_endpoint_configure (router);
    *(int *) args = zsock_bind (router, "tcp://127.0.0.1:*");
    xinf_tsan_release (args);          //  the owner reads the port after the signal
    zsock_signal (pipe, 0);
    zmq_pollitem_t items [] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (router), 0, ZMQ_POLLIN, 0 }
    };
    while (!zsys_interrupted) {
        if (zmq_poll (items, 2, 1000) < 0 && errno != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            break;                  //  $TERM
        if (items [1].revents & ZMQ_POLLIN)
            s_raw_echo_drain (zsock_resolve (router));
    }
    zsock_destroy (&router);
}

typedef struct {
    zsock_t *dealer;
    void *handle;
    size_t count;              //  frames per message
    const byte *data [3];      //  each frame's bytes
    size_t size [3];
} s_raw_t;

static int
s_raw_send (void *arg, char *error, size_t error_size)
{
    s_raw_t *self = (s_raw_t *) arg;
    for (size_t index = 0; index < self->count; index++) {
        int flags = (index + 1 < self->count ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
        if (zmq_send (self->handle, self->data [index], self->size [index], flags) >= 0)
            continue;
        //  Only the first frame can be refused; wait for room and retry it
        if (index > 0 || errno != EAGAIN || !s_wait_events (self->handle, ZMQ_POLLOUT)
        ||  zmq_send (self->handle, self->data [index], self->size [index], flags) < 0)
            return xinf_fail (error, error_size, "raw send failed: %s", zmq_strerror (errno));
    }
    return 0;
}

static int
s_raw_recv (void *arg, char *error, size_t error_size)
{
    s_raw_t *self = (s_raw_t *) arg;
    zmq_msg_t part;
    zmq_msg_init (&part);
    int rc = zmq_msg_recv (&part, self->handle, ZMQ_DONTWAIT);
    if (rc < 0 && errno == EAGAIN) {
        if (!s_wait_events (self->handle, ZMQ_POLLIN)) {
            zmq_msg_close (&part);
            return xinf_fail (error, error_size, "no raw reply within %d ms", S_STALL_MS);
        }
        rc = zmq_msg_recv (&part, self->handle, ZMQ_DONTWAIT);
    }
    bool good = rc >= 0;
    for (size_t index = 0; good; index++) {
        good = index < self->count && zmq_msg_size (&part) == self->size [index];
        if (!zmq_msg_more (&part)) {
            good = good && index + 1 == self->count;
            break;
        }
        rc = zmq_msg_recv (&part, self->handle, 0);
        good = good && rc >= 0;
    }
    zmq_msg_close (&part);
    return good ? 0 : xinf_fail (error, error_size, "bad raw reply");
}

static int
s_raw_roundtrip (void *arg, char *error, size_t error_size)
{
    if (s_raw_send (arg, error, error_size))
        return -1;
    return s_raw_recv (arg, error, error_size);
}

// ---- xinf: an actor, an xinf_dealer --------------------------------------------

//  ECHO handler: replies ECHO with the request's body field 'echo' and
//  copies of its binary frames.
static void
s_on_echo (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_msg_t *reply = xinf_msg_new ("ECHO");
    xinf_value_t *echo = xinf_map_get (xinf_msg_body (msg), "echo");
    if (echo)
        xinf_map_put_copy (xinf_msg_body (reply), "echo", echo);
    for (size_t index = 0; index < xinf_msg_frame_count (msg); index++) {
        zframe_t *copy = zframe_dup (xinf_msg_frame (msg, index));
        xinf_msg_add_frame (reply, &copy);
    }
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static const xinf_handler_t s_echo_handlers [] = {
    { "ECHO", s_on_echo },
    { NULL, NULL }
};

typedef struct {
    xinf_dealer_t *dealer;
    const char *request;       //  PING or ECHO
    const char *reply;         //  PONG or ECHO
    const byte *payload;
    size_t size;
    bool bulk;                 //  payload as a binary frame, not as 'echo'
    uint64_t corr;
} s_xinf_t;

static xinf_msg_t *
s_xinf_request_new (s_xinf_t *self)
{
    xinf_msg_t *msg = xinf_msg_new (self->request);
    if (self->bulk)
        xinf_msg_add_bytes (msg, self->payload, self->size);
    else
        xinf_map_put_bin (xinf_msg_body (msg), "echo", self->payload, self->size);
    return msg;
}

//  The size of the payload that came back, or SIZE_MAX if none did.
static size_t
s_xinf_echoed (s_xinf_t *self, xinf_msg_t *reply)
{
    if (self->bulk)
        return xinf_msg_frame_count (reply) == 1 ? zframe_size (xinf_msg_frame (reply, 0)) : SIZE_MAX;
    size_t size;
    xinf_value_t *echo = xinf_map_get (xinf_msg_body (reply), "echo");
    return xinf_msg_frame_count (reply) == 0 && echo && xinf_value_bytes (echo, &size) ? size : SIZE_MAX;
}

//  Checks and destroys a reply; -1 with the reason if it is not the echo.
static int
s_xinf_check (s_xinf_t *self, xinf_msg_t **reply_p, char *error, size_t error_size)
{
    xinf_msg_t *reply = *reply_p;
    bool good = xinf_msg_is (reply, self->reply) && s_xinf_echoed (self, reply) == self->size;
    if (!good)
        xinf_fail (error, error_size, "bad xinf reply type=%s frames=%zu",
                xinf_msg_type (reply), xinf_msg_frame_count (reply));
    xinf_msg_destroy (reply_p);
    return good ? 0 : -1;
}

static int
s_xinf_roundtrip (void *arg, char *error, size_t error_size)
{
    s_xinf_t *self = (s_xinf_t *) arg;
    xinf_msg_t *request = s_xinf_request_new (self);
    xinf_msg_t *reply = xinf_dealer_request (self->dealer, &request, S_STALL_MS, error, error_size);
    return reply ? s_xinf_check (self, &reply, error, error_size) : -1;
}

static int
s_xinf_send (void *arg, char *error, size_t error_size)
{
    s_xinf_t *self = (s_xinf_t *) arg;
    for (int attempt = 0; attempt < 2; attempt++) {
        xinf_msg_t *request = s_xinf_request_new (self);
        xinf_msg_set_corr (request, ++self->corr);
        if (xinf_dealer_send (self->dealer, &request) == 0)
            return 0;
        //  The refused request was consumed; wait for room, then send a new one
        if (errno != EAGAIN || !s_wait_events (zsock_resolve (xinf_dealer_sock (self->dealer)), ZMQ_POLLOUT))
            break;
    }
    return xinf_fail (error, error_size, "xinf send failed: %s", zmq_strerror (errno));
}

static int
s_xinf_recv (void *arg, char *error, size_t error_size)
{
    s_xinf_t *self = (s_xinf_t *) arg;
    xinf_msg_t *reply = xinf_dealer_recv (self->dealer, S_STALL_MS, error, error_size);
    return reply ? s_xinf_check (self, &reply, error, error_size) : -1;
}

// ---- measurements ----------------------------------------------------------------

static int
s_compare_double (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return (a > b) - (a < b);
}

//  Nearest-rank quantile q (0..1) of a sorted array.
static double
s_quantile (const double *sorted, size_t count, double q)
{
    size_t rank = (size_t) (q * (double) count + 0.999999);
    return sorted [rank ? rank - 1 : 0];
}

//  Round trips of all clients, alternating in blocks; fills p50/p99/mean.
static int
s_measure_rtt (s_client_t *clients, int64_t count, s_result_t *results, char *error, size_t error_size)
{
    for (int which = 0; which < S_CLIENTS; which++)
        for (int index = 0; index < S_WARMUP_RTT; index++)
            if (clients [which].roundtrip (clients [which].self, error, error_size))
                return -1;
    for (int64_t done = 0; done < count; done += S_BLOCK)
        for (int which = 0; which < S_CLIENTS; which++) {
            s_client_t *client = &clients [which];
            for (int64_t index = done; index < count && index < done + S_BLOCK; index++) {
                int64_t start = s_now_ns ();
                if (client->roundtrip (client->self, error, error_size))
                    return xinf_fail (error + strlen (error), error_size - strlen (error), " (%s)", client->name);
                client->samples [index] = (double) (s_now_ns () - start) / 1000.0;
            }
        }
    for (int which = 0; which < S_CLIENTS; which++) {
        double *samples = clients [which].samples, total = 0;
        for (int64_t index = 0; index < count; index++)
            total += samples [index];
        qsort (samples, (size_t) count, sizeof (double), s_compare_double);
        results [which].figure [S_P50] = s_quantile (samples, (size_t) count, 0.50);
        results [which].figure [S_P99] = s_quantile (samples, (size_t) count, 0.99);
        results [which].figure [S_MEAN] = total / (double) count;
    }
    return 0;
}

//  Keeps up to 'window' requests in flight until 'count' replies came back.
static int
s_pipeline (s_client_t *client, int64_t count, int64_t window, char *error, size_t error_size)
{
    int64_t sent = 0, received = 0;
    while (received < count) {
        while (sent < count && sent - received < window) {
            if (client->send (client->self, error, error_size))
                return -1;
            sent++;
        }
        if (client->recv (client->self, error, error_size))
            return -1;
        received++;
    }
    return 0;
}

static int
s_measure_throughput (s_client_t *client, int64_t count, int64_t window, s_result_t *result,
                      char *error, size_t error_size)
{
    int64_t warmup = count / 10 > window ? count / 10 : window;
    if (s_pipeline (client, warmup, window, error, error_size))
        return -1;
    int64_t start = s_now_ns ();
    if (s_pipeline (client, count, window, error, error_size))
        return xinf_fail (error + strlen (error), error_size - strlen (error), " (%s)", client->name);
    result->figure [S_TPUT] = (double) count * 1e9 / (double) (s_now_ns () - start);
    return 0;
}

// ---- setup -----------------------------------------------------------------------

typedef struct {
    zactor_t *echo;
    s_raw_t raw [2];           //  one frame; the envelope's frames
    zmsg_t *envelope;          //  the bytes raw [1] sends
    xinf_actor_t *actor;
    s_xinf_t xinf;
} s_bench_t;

static int
s_raw_connect (s_raw_t *self, int port)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    assert (self->dealer);
    xinf_endpoint_configure (self->dealer);
    self->handle = zsock_resolve (self->dealer);
    return zsock_connect (self->dealer, "tcp://127.0.0.1:%d", port);
}

//  An encoded request as xinf_dealer_request would send it, for raw [1].
static zmsg_t *
s_envelope_new (s_xinf_t *xinf)
{
    xinf_msg_t *msg = s_xinf_request_new (xinf);
    xinf_msg_set_corr (msg, ((uint64_t) 0x7fffffff << 20) + 1);
    xinf_msg_set_deadline (msg, S_STALL_MS);
    xinf_msg_set_sender (msg, "bench-client");
    return xinf_msg_encode (&msg);
}

static zcert_t *s_server_cert, *s_client_cert;   //  --curve: made in memory
static xinf_keyring_t *s_keyring;

//  --curve: only a peer that came with a role gets in (the role check's read)
static bool
s_curve_gate (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    return *xinf_peer_role (from) != 0;
}

static int
s_curve_init (xinf_ctx_t *ctx)
{
    xinf_auth_curve_server (xinf_router_sock (xinf_ctx_router (ctx)), s_server_cert);
    return 0;
}

static int
s_curve_start (void)
{
    s_server_cert = zcert_new ();
    s_client_cert = zcert_new ();
    s_keyring = xinf_keyring_new ();
    if (xinf_keyring_add (s_keyring, zcert_public_txt (s_client_cert), XINF_ROLE_ADMIN, "bench-client"))
        return -1;
    return xinf_auth_zap_start (s_keyring, XINF_ROLE_NONE);
}

static void
s_curve_stop (void)
{
    xinf_auth_zap_stop ();
    xinf_keyring_destroy (&s_keyring);
    zcert_destroy (&s_server_cert);
    zcert_destroy (&s_client_cert);
}

static int
s_setup (s_bench_t *bench, xinf_config_t *config, const byte *payload, size_t size)
{
    bool curve = xinf_config_flag (config, "curve");
    bool echo = streq (xinf_config_str (config, "handler"), "echo");
    s_xinf_t *xinf = &bench->xinf;
    xinf->request = echo ? "ECHO" : "PING";
    xinf->reply = echo ? "ECHO" : "PONG";
    xinf->payload = payload;
    xinf->size = size;
    xinf->bulk = xinf_config_flag (config, "bulk");
    xinf_actor_spec_t spec = { "bench", echo ? s_echo_handlers : NULL, curve ? s_curve_init : NULL, NULL, NULL,
                               curve ? s_curve_gate : NULL, NULL };
    bench->actor = xinf_actor_new (&spec);
    char bound [256];
    if (!bench->actor || xinf_actor_bind (bench->actor, "tcp://127.0.0.1:0", bound, sizeof bound) <= 0)
        return -1;
    xinf->dealer = curve ? xinf_dealer_new_secure (bound, "bench-client", s_client_cert, zcert_public_txt (s_server_cert), NULL)
                         : xinf_dealer_new (bound, "bench-client");
    if (!xinf->dealer)
        return -1;

    int port = -1;
    bench->echo = zactor_new (s_raw_echo_actor, &port);
    xinf_tsan_acquire (&port);
    if (port < 0 || s_raw_connect (&bench->raw [0], port) || s_raw_connect (&bench->raw [1], port))
        return -1;
    bench->raw [0].count = 1;
    bench->raw [0].data [0] = payload;
    bench->raw [0].size [0] = size;
    bench->envelope = s_envelope_new (xinf);
    s_raw_t *framed = &bench->raw [1];
    for (zframe_t *frame = zmsg_first (bench->envelope); frame && framed->count < 3;
         frame = zmsg_next (bench->envelope), framed->count++) {
        framed->data [framed->count] = zframe_data (frame);
        framed->size [framed->count] = zframe_size (frame);
    }
    return 0;
}

static void
s_teardown (s_bench_t *bench)
{
    xinf_dealer_destroy (&bench->xinf.dealer);
    xinf_actor_destroy (&bench->actor);
    for (int index = 0; index < 2; index++)
        zsock_destroy (&bench->raw [index].dealer);
    zactor_destroy (&bench->echo);
    zmsg_destroy (&bench->envelope);
}

// ---- report ----------------------------------------------------------------------

//  Each figure of 'summary' is the median of that figure over 'count' runs.
static void
s_summarize (const s_result_t *runs, size_t count, s_result_t *summary)
{
    for (int field = 0; field < S_FIGURES; field++) {
        double values [100];
        for (size_t index = 0; index < count; index++)
            values [index] = runs [index].figure [field];
        qsort (values, count, sizeof (double), s_compare_double);
        summary->figure [field] = count % 2 ? values [count / 2] : (values [count / 2 - 1] + values [count / 2]) / 2;
    }
}

static void
s_cpu_model (char *model, size_t size)
{
    snprintf (model, size, "unknown CPU");
    FILE *file = fopen ("/proc/cpuinfo", "r");
    char line [256];
    while (file && fgets (line, sizeof line, file)) {
        char *colon = strchr (line, ':');
        if (strncmp (line, "model name", 10) == 0 && colon) {
            snprintf (model, size, "%s", colon + 2);
            model [strcspn (model, "\n")] = 0;
            break;
        }
    }
    if (file)
        fclose (file);
}

//  One row: raw, raw+frames, xinf, xinf/raw against the target (0: none),
//  and xinf/raw+frames (the runtime's own share).
static void
s_print_row (const char *label, const s_result_t *results, int field, bool at_most, double target)
{
    double value [S_CLIENTS];
    for (int which = 0; which < S_CLIENTS; which++)
        value [which] = results [which].figure [field];
    double ratio = value [2] / value [0];
    char verdict [32] = "";
    if (target > 0)
        snprintf (verdict, sizeof verdict, "%s %.2fx %s", at_most ? "<=" : ">=", target,
                  (at_most ? ratio <= target : ratio >= target) ? "PASS" : "MISS");
    printf ("%-22s %11.1f %11.1f %11.1f %8.2fx  %-15s %8.2fx\n", label, value [0], value [1], value [2],
            ratio, verdict, value [2] / value [1]);
}

static void
s_print_json (xinf_config_t *config, const s_result_t *results, long cores)
{
    xinf_value_t *root = xinf_value_new_map ();
    const char *numbers [] = { "payload", "roundtrips", "messages", "window", "repeat" };
    for (size_t index = 0; index < sizeof numbers / sizeof numbers [0]; index++)
        xinf_map_put_uint (root, numbers [index], (uint64_t) xinf_config_int (config, numbers [index]));
    xinf_map_put_str (root, "handler", xinf_config_str (config, "handler"));
    xinf_map_put_bool (root, "bulk", xinf_config_flag (config, "bulk"));
    xinf_map_put_str (root, "statistic", "median of runs");
    xinf_map_put_int (root, "cores", cores);
    const char *names [] = { "raw", "raw_frames", "xinf" };
    const char *figures [] = { "rtt_p50_us", "rtt_p99_us", "rtt_mean_us", "throughput_msgs" };
    for (int which = 0; which < S_CLIENTS; which++) {
        xinf_value_t *item = xinf_value_new_map ();
        for (int field = 0; field < S_FIGURES; field++)
            xinf_map_put_float (item, figures [field], results [which].figure [field]);
        xinf_map_put (root, names [which], item);
    }
    double rtt_ratio = results [2].figure [S_P50] / results [0].figure [S_P50];
    double tput_ratio = results [2].figure [S_TPUT] / results [0].figure [S_TPUT];
    xinf_map_put_float (root, "rtt_p50_ratio", rtt_ratio);
    xinf_map_put_float (root, "rtt_p99_ratio", results [2].figure [S_P99] / results [0].figure [S_P99]);
    xinf_map_put_float (root, "throughput_ratio", tput_ratio);
    xinf_map_put_bool (root, "rtt_pass", rtt_ratio <= S_RTT_TARGET);
    xinf_map_put_bool (root, "throughput_pass", tput_ratio >= S_TPUT_TARGET);
    xinf_value_print_json (root, stdout);
    printf ("\n");
    xinf_value_destroy (&root);
}

static void
s_report (xinf_config_t *config, const s_result_t *results, const s_bench_t *bench)
{
    char model [128];
    s_cpu_model (model, sizeof model);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    printf ("\nmachine: %ld cores (%s), libzmq %d.%d.%d, CZMQ %d.%d.%d, TCP loopback\n",
            cores, model, major, minor, patch, CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR, CZMQ_VERSION_PATCH);
    char frames [64];
    if (bench->raw [1].count > 1)
        snprintf (frames, sizeof frames, "%zu frames, %zu+%zu B", bench->raw [1].count, bench->raw [1].size [0],
                  bench->raw [1].size [1]);
    else
        snprintf (frames, sizeof frames, "1 frame, %zu B", bench->raw [1].size [0]);
    printf ("payload %lld B %s (envelope: %s), %lld round trips, %lld messages "
            "in a window of %lld, xinf handler %s%s; median of %lld runs\n\n",
            (long long) xinf_config_int (config, "payload"), bench->xinf.bulk ? "as a binary frame" : "in the body",
            frames, (long long) xinf_config_int (config, "roundtrips"),
            (long long) xinf_config_int (config, "messages"), (long long) xinf_config_int (config, "window"),
            xinf_config_str (config, "handler"), xinf_config_flag (config, "curve") ? ", xinf over CURVE" : "",
            (long long) xinf_config_int (config, "repeat"));
    printf ("%-22s %11s %11s %11s %9s  %-15s %s\n", "case", "raw libzmq", "raw+frames", "xinf",
            "xinf/raw", "target", "xinf/raw+frames");
    s_print_row ("round trip (us, p50)", results, S_P50, true, S_RTT_TARGET);
    s_print_row ("round trip (us, p99)", results, S_P99, true, 0);
    s_print_row ("round trip (us, mean)", results, S_MEAN, true, 0);
    s_print_row ("throughput (msg/s)", results, S_TPUT, false, S_TPUT_TARGET);
    printf ("\nxinf adds %.1f us per round trip (p50) over raw, %.1f us over raw+frames; "
            "per message %.2f us over raw in throughput\n",
            results [2].figure [S_P50] - results [0].figure [S_P50], results [2].figure [S_P50] - results [1].figure [S_P50],
            1e6 / results [2].figure [S_TPUT] - 1e6 / results [0].figure [S_TPUT]);
    if (xinf_config_flag (config, "json"))
        s_print_json (config, results, cores);
}

// ---- main ------------------------------------------------------------------------

//  --profile: only one client's throughput, 'repeat' times.
static int
s_profile (xinf_config_t *config, s_bench_t *bench)
{
    const char *name = xinf_config_str (config, "profile");
    s_client_t client = streq (name, "xinf")
        ? (s_client_t) { name, &bench->xinf, s_xinf_roundtrip, s_xinf_send, s_xinf_recv, NULL }
        : (s_client_t) { name, &bench->raw [streq (name, "raw") ? 0 : 1], s_raw_roundtrip, s_raw_send, s_raw_recv, NULL };
    char error [256] = "";
    int64_t messages = xinf_config_int (config, "messages");
    for (int64_t run = 0; run < xinf_config_int (config, "repeat"); run++) {
        s_result_t result;
        int64_t cpu = s_cpu_ns ();
        if (s_measure_throughput (&client, messages, xinf_config_int (config, "window"), &result, error, sizeof error)) {
            fprintf (stderr, "xinf-bench-runtime: %s\n", error);
            return -1;
        }
        //  The warm-up's messages count too: s_measure_throughput sends them first
        int64_t warmup = messages / 10 > xinf_config_int (config, "window") ? messages / 10 : xinf_config_int (config, "window");
        printf ("run %lld %-10s %9.0f msg/s %6.2f us CPU per message (all threads)\n", (long long) run + 1, name,
                result.figure [S_TPUT], (double) (s_cpu_ns () - cpu) / 1000.0 / (double) (messages + warmup));
    }
    return 0;
}

//  Runs every case 'repeat' times; fills the median of each figure.
static int
s_run (xinf_config_t *config, s_bench_t *bench, s_result_t *summary)
{
    size_t repeat = (size_t) xinf_config_int (config, "repeat");
    int64_t roundtrips = xinf_config_int (config, "roundtrips");
    s_client_t clients [S_CLIENTS] = {
        { "raw", &bench->raw [0], s_raw_roundtrip, s_raw_send, s_raw_recv, NULL },
        { "raw+frames", &bench->raw [1], s_raw_roundtrip, s_raw_send, s_raw_recv, NULL },
        { "xinf", &bench->xinf, s_xinf_roundtrip, s_xinf_send, s_xinf_recv, NULL }
    };
    s_result_t *runs = calloc (S_CLIENTS * repeat, sizeof (s_result_t));
    assert (runs);
    for (int which = 0; which < S_CLIENTS; which++) {
        clients [which].samples = calloc ((size_t) roundtrips, sizeof (double));
        assert (clients [which].samples);
    }
    char error [256] = "";
    int rc = 0;
    for (size_t run = 0; run < repeat && rc == 0; run++) {
        s_result_t results [S_CLIENTS];
        rc = s_measure_rtt (clients, roundtrips, results, error, sizeof error);
        for (int which = 0; which < S_CLIENTS && rc == 0; which++)
            rc = s_measure_throughput (&clients [which], xinf_config_int (config, "messages"),
                                       xinf_config_int (config, "window"), &results [which], error, sizeof error);
        for (int which = 0; which < S_CLIENTS && rc == 0; which++) {
            fprintf (stderr, "run %zu/%zu %-10s  rtt p50 %7.1f us  p99 %7.1f us  mean %7.1f us  %9.0f msg/s\n",
                     run + 1, repeat, clients [which].name, results [which].figure [S_P50],
                     results [which].figure [S_P99], results [which].figure [S_MEAN], results [which].figure [S_TPUT]);
            runs [which * repeat + run] = results [which];
        }
    }
    if (rc)
        fprintf (stderr, "xinf-bench-runtime: %s\n", error);
    for (int which = 0; which < S_CLIENTS; which++) {
        s_summarize (runs + which * repeat, repeat, &summary [which]);
        free (clients [which].samples);
    }
    free (runs);
    return rc;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-bench-runtime", "[OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc == 0 && xinf_config_positionals (config) > 0) {
        fprintf (stderr, "xinf-bench-runtime: unexpected argument '%s' (see --help)\n",
                 xinf_config_positional (config, 0));
        rc = -1;
    }
    else
    if (rc < 0)
        fprintf (stderr, "xinf-bench-runtime: %s\n", xinf_config_error (config));
    if (rc != 0) {
        xinf_config_destroy (&config);
        return rc == 1 ? 0 : 2;
    }
    xinf_log_set_level (XINF_LOG_WARN);
    //  As xinf-node; raw and xinf run in this one process under the same malloc
    if (!xinf_config_flag (config, "malloc-default"))
        xinf_malloc_tune ();
    size_t size = (size_t) xinf_config_int (config, "payload");
    byte *payload = malloc (size + 1);
    assert (payload);
    for (size_t index = 0; index < size; index++)
        payload [index] = (byte) index;

    s_bench_t bench = { 0 };
    s_result_t results [S_CLIENTS];        //  filled by s_run
    if ((xinf_config_flag (config, "curve") && s_curve_start ()) || s_setup (&bench, config, payload, size)) {
        fprintf (stderr, "xinf-bench-runtime: setup failed: %s\n", zmq_strerror (errno));
        rc = 1;
    }
    else
    if (!streq (xinf_config_str (config, "profile"), "none"))
        rc = s_profile (config, &bench) ? 1 : 0;
    else
    if (s_run (config, &bench, results))
        rc = 1;
    else
        s_report (config, results, &bench);
    s_teardown (&bench);
    s_curve_stop ();
    free (payload);
    xinf_config_destroy (&config);
    return rc;
}
