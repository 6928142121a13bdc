/*  xinf_probe: probe listener and parallel probe jobs.  */
#include "xinf_probe.h"
#include "xinf_node_msg.h"
#include "xinf_envelope_msg.h"
#include "xinf_zmtp.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_TARGETS_MAX  256

struct _xinf_probe_listener_t {
    xinf_actor_t *actor;
    char node [65];
    int port;
};

static void
s_on_probe (xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    xinf_probe_listener_t *self = (xinf_probe_listener_t *) xinf_ctx_state (ctx);
    xinf_msg_t *reply = xinf_msg_new ("PROBE_OK");
    xinf_map_put_str (xinf_msg_body (reply), "node", self->node);
    xinf_ctx_reply (ctx, from, msg, &reply);
}

static const xinf_handler_t s_listener_handlers [] = { { "PROBE", s_on_probe }, { NULL, NULL } };

//  With keys, only the cluster's worker keys get in (the worker's ZAP
//  handler), and dialers know us by the key the supervisor relays.
static int
s_listener_init (xinf_ctx_t *ctx)
{
    char reason [256];
    return xinf_auth_secure_data (zsock_resolve (xinf_router_sock (xinf_ctx_router (ctx))), NULL, reason, sizeof reason);
}

xinf_probe_listener_t *
xinf_probe_listener_new (const char *node, const char *host, int low, int high)
{
    xinf_probe_listener_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->node, sizeof self->node, "%s", node);
    xinf_actor_spec_t spec = { "probe-listener", s_listener_handlers, s_listener_init, NULL, self, NULL, NULL };
    self->actor = xinf_actor_new (&spec);
    //  The host address when it is one of ours (not behind NAT), else all
    char bind_host [80] = "0.0.0.0";
    if (host && *host)
        snprintf (bind_host, sizeof bind_host, strchr (host, ':') ? "[%s]" : "%s", host);
    for (int port = low; self->actor && port <= high && !self->port; port++) {
        char endpoint [128];
        snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", bind_host, port);
        if (xinf_actor_bind (self->actor, endpoint, NULL, 0) > 0)
            self->port = port;
        else
        if (errno == EADDRNOTAVAIL && !streq (bind_host, "0.0.0.0")) {
            xinf_info ("worker", "probe listener: %s is not an address of this machine (NAT?): binding all", bind_host);
            snprintf (bind_host, sizeof bind_host, "0.0.0.0");
            port--;
        }
    }
    if (!self->port) {
        xinf_warn ("worker", "no free port in the data port range %d-%d for the probe listener: "
                   "preflight and doctor cannot reach this node", low, high);
        xinf_probe_listener_destroy (&self);
    }
    return self;
}

void
xinf_probe_listener_destroy (xinf_probe_listener_t **self_p)
{
    if (self_p && *self_p) {
        xinf_actor_destroy (&(*self_p)->actor);
        free (*self_p);
        *self_p = NULL;
    }
}

int xinf_probe_listener_port (xinf_probe_listener_t *self) { return self->port; }

// ---- probe jobs ----------------------------------------------------------

typedef struct {
    char node [65];
    char endpoint [256];
    char role [16];                    //  set: PING, the PONG must name this role
    bool tcp_only;                     //  a port another socket bound: the TCP connect is all
    bool closed_ok;                    //  a refused connect is fine: reachable, nothing listens now
    char status [16];
    char detail [256];
    int fd;
    xinf_dealer_t *dealer;
    bool silent;                       //  open, but no answer to the handshake and no reason given
    bool keyed;                        //  we dialed with CURVE keys
    int greeting_fd;                   //  a second connection that reads the peer's ZMTP greeting
    uint8_t greeting [XINF_ZMTP_GREETING_SIZE];
    size_t greeting_size;
    bool greeting_sent;
    int64_t started, ended;            //  monotonic ms
} s_target_t;

typedef struct {
    char node [65];
    uint64_t session;
    xinf_value_t *targets;
    int64_t timeout_ms;
} s_job_t;

static void
s_set (s_target_t *target, const char *status, const char *detail)
{
    snprintf (target->status, sizeof target->status, "%s", status);
    xinf_textf (target->detail, sizeof target->detail, "%s", detail ? detail : "");
    target->ended = zclock_mono ();
}

//  Starts a non-blocking TCP connect to 'endpoint' (tcp://HOST:PORT): the
//  socket, or -1 with the status and reason of the failure.
static int
s_tcp_open (const char *endpoint, const char **status, const char **reason)
{
    const char *colon = strrchr (endpoint, ':');
    if (strncmp (endpoint, "tcp://", 6) || !colon) {
        *status = "bad_endpoint", *reason = "not tcp://HOST:PORT";
        return -1;
    }
    char host [200];
    snprintf (host, sizeof host, "%.*s", (int) (colon - endpoint - 6), endpoint + 6);
    struct addrinfo hints = { 0 }, *found = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo (host, colon + 1, &hints, &found) || !found) {
        *status = "bad_endpoint", *reason = "the host does not resolve";
        return -1;
    }
    int fd = socket (found->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect (fd, found->ai_addr, found->ai_addrlen) && errno != EINPROGRESS) {
        *status = errno == ECONNREFUSED ? "refused" : "unreachable", *reason = strerror (errno);
        close (fd);
        fd = -1;
    }
    else
    if (fd < 0)
        *status = "unreachable", *reason = strerror (errno);
    freeaddrinfo (found);
    return fd;
}

//  Starts the target's TCP connect.
static void
s_connect (s_target_t *target)
{
    target->started = zclock_mono ();
    const char *status, *reason;
    target->fd = s_tcp_open (target->endpoint, &status, &reason);
    if (target->fd < 0)
        s_set (target, status, reason);
}

//  Waits for all pending connects; classifies each.
static void
s_finish_connects (s_target_t *targets, size_t count, int64_t deadline)
{
    struct pollfd fds [PROBE_TARGETS_MAX];
    while (zclock_mono () < deadline) {
        size_t pending = 0;
        for (size_t index = 0; index < count; index++)
            if (targets [index].fd >= 0 && !*targets [index].status)
                fds [pending++] = (struct pollfd) { targets [index].fd, POLLOUT, 0 };
        if (pending == 0 || poll (fds, pending, (int) (deadline - zclock_mono ())) <= 0)
            break;
        for (size_t at = 0; at < pending; at++) {
            if (!fds [at].revents)
                continue;
            for (size_t index = 0; index < count; index++)
                if (targets [index].fd == fds [at].fd) {
                    int error = 0;
                    socklen_t size = sizeof error;
                    getsockopt (fds [at].fd, SOL_SOCKET, SO_ERROR, &error, &size);
                    if (error)
                        s_set (&targets [index], error == ECONNREFUSED ? "refused" : "unreachable", strerror (error));
                    else
                        snprintf (targets [index].status, sizeof targets [index].status, "open");
                }
        }
    }
    for (size_t index = 0; index < count; index++) {
        if (targets [index].fd >= 0 && !*targets [index].status)
            s_set (&targets [index], "timeout", "no answer to the TCP connect (a firewall dropping packets?)");
        if (targets [index].fd >= 0)
            close (targets [index].fd);
    }
}

//  The handshake a target gets: PROBE for a probe listener, PING for a
//  node whose role is expected.
static xinf_msg_t *
s_handshake_msg (s_target_t *target)
{
    xinf_msg_t *msg = xinf_msg_new (*target->role ? "PING" : "PROBE");
    if (!*target->role)
        xinf_map_put_str (xinf_msg_body (msg), "expect", target->node);
    return msg;
}

//  Classifies the answer to a PING: the role and version of the node.
static void
s_judge_pong (s_target_t *target, xinf_msg_t *reply)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_envelope_msg_pong_t pong;
    if (xinf_envelope_msg_pong_decode (xinf_msg_body (reply), &pong, &check)) {
        s_set (target, "no_handshake", check.reason);
        return;
    }
    const char *role = pong.role ?: "?", *node = pong.node ?: "?", *version = pong.version ?: "?";
    char detail [256];
    xinf_textf (detail, sizeof detail, "xinf %.16s '%.64s' version %.32s answers there", role, node, version);
    s_set (target, strcmp (role, target->role) ? "wrong_peer" : "ok", detail);
}

static void
s_judge_reply (s_target_t *target, xinf_msg_t *reply)
{
    if (*target->role && reply && xinf_msg_is (reply, "PONG")) {
        s_judge_pong (target, reply);
        return;
    }
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_probe_ok_t answer;
    const char *peer = reply && xinf_msg_is (reply, "PROBE_OK")
                    && xinf_node_msg_probe_ok_decode (xinf_msg_body (reply), &answer, &check) == 0 ? answer.node : NULL;
    char detail [256];
    if (!peer)
        s_set (target, "no_handshake", *target->role ? "the port is open but no xinf node answered PING"
                                                      : "the port is open but no xinf probe listener answered");
    else
    if (strcmp (peer, target->node)) {
        xinf_textf (detail, sizeof detail, "reached node '%.64s' instead of '%.64s'", peer, target->node);
        s_set (target, "wrong_peer", detail);
    }
    else
        s_set (target, "ok", NULL);
}

//  The XINF handshake with every open target, at once.
static void
s_handshakes (s_target_t *targets, size_t count, const char *node, int64_t deadline)
{
    for (size_t index = 0; index < count; index++) {
        if (strcmp (targets [index].status, "open"))
            continue;
        if (targets [index].tcp_only) {
            s_set (&targets [index], "ok", "the TCP connect succeeded");
            continue;
        }
        char key [XINF_KEY_TEXT_SIZE];
        zcert_t *identity = xinf_auth_identity ();
        if (identity && xinf_auth_vouched (targets [index].endpoint, key)) {
            char detail [400];
            xinf_textf (detail, sizeof detail, "the server at %s was not dialed: keys are on and the supervisor "
                        "vouched for no key there", targets [index].endpoint);
            s_set (&targets [index], "keys", detail);
            continue;
        }
        targets [index].keyed = identity != NULL;
        targets [index].dealer = identity ? xinf_dealer_new_secure (targets [index].endpoint, node, identity, key, "this worker's")
                                          : xinf_dealer_new (targets [index].endpoint, node);
        xinf_msg_t *probe = s_handshake_msg (&targets [index]);
        if (!targets [index].dealer || xinf_dealer_send (targets [index].dealer, &probe)) {
            xinf_msg_destroy (&probe);
            s_set (&targets [index], "no_handshake", "cannot send the probe");
        }
    }
    for (size_t index = 0; index < count; index++) {
        s_target_t *target = &targets [index];
        if (strcmp (target->status, "open"))
            continue;
        int64_t left = deadline - zclock_mono ();
        char error [256];
        xinf_msg_t *reply = xinf_dealer_recv (target->dealer, left > 0 ? (int) left : 0, error, sizeof error);
        s_judge_reply (target, reply);
        if (!reply && xinf_dealer_refused (target->dealer))
            s_set (target, "keys", error);                //  a refused key or a CURVE mismatch, said as such
        else
        if (!reply)
            target->silent = true;
        xinf_msg_destroy (&reply);
    }
    for (size_t index = 0; index < count; index++)
        xinf_dealer_destroy (&targets [index].dealer);
}

//  Advances one greeting connection on its poll events: sends the start
//  of our greeting once connected, then reads the peer's whole greeting;
//  closes it when done.
static void
s_greeting_step (s_target_t *target, short revents)
{
    if (!target->greeting_sent && (revents & POLLOUT)) {
        uint8_t ours [XINF_ZMTP_OPENING_SIZE];
        xinf_zmtp_opening (ours);
        target->greeting_sent = true;
        if (send (target->greeting_fd, ours, sizeof ours, MSG_NOSIGNAL) != (ssize_t) sizeof ours) {
            close (target->greeting_fd);
            target->greeting_fd = -1;
            return;
        }
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    ssize_t got = recv (target->greeting_fd, target->greeting + target->greeting_size,
                        sizeof target->greeting - target->greeting_size, 0);
    if (got > 0)
        target->greeting_size += (size_t) got;
    if (got <= 0 || xinf_zmtp_mechanism (target->greeting, target->greeting_size, NULL, 0) != 0) {
        close (target->greeting_fd);
        target->greeting_fd = -1;
    }
}

//  Says what the greeting shows about a silent target: a server that
//  wants CURVE keys we lack (or the reverse), or no ZeroMQ at all.
static void
s_judge_greeting (s_target_t *target)
{
    char mechanism [24] = "", words [400], detail [512];
    int form = xinf_zmtp_mechanism (target->greeting, target->greeting_size, mechanism, sizeof mechanism);
    bool curve = streq (mechanism, "CURVE");
    if (form == 1 && curve != target->keyed
    &&  xinf_refusal_words (XINF_HANDSHAKE_MISMATCH, 0, target->keyed ? "this node's key" : "", words, sizeof words)) {
        xinf_textf (detail, sizeof detail, "the server at %s %s", target->endpoint, words);
        s_set (target, "keys", detail);
    }
    else
    if (form == -1 && target->greeting_size > 0)
        s_set (target, "not_zeromq", "the port is open but the program there does not speak ZeroMQ");
}

//  The open targets that did not answer the handshake and gave no reason:
//  a fresh connection to each reads its ZMTP greeting (all at once, a
//  second at most), which names the mechanism its server insists on.
static void
s_read_greetings (s_target_t *targets, size_t count)
{
    struct pollfd fds [PROBE_TARGETS_MAX];
    s_target_t *owners [PROBE_TARGETS_MAX];
    const char *status, *reason;
    for (size_t index = 0; index < count; index++)
        targets [index].greeting_fd = targets [index].silent
                                    ? s_tcp_open (targets [index].endpoint, &status, &reason) : -1;
    int64_t deadline = zclock_mono () + 1000;
    while (zclock_mono () < deadline) {
        size_t pending = 0;
        for (size_t index = 0; index < count; index++)
            if (targets [index].greeting_fd >= 0) {
                owners [pending] = &targets [index];
                fds [pending++] = (struct pollfd) { targets [index].greeting_fd,
                                                    targets [index].greeting_sent ? POLLIN : POLLIN | POLLOUT, 0 };
            }
        if (pending == 0 || poll (fds, pending, (int) (deadline - zclock_mono ())) <= 0)
            break;
        for (size_t at = 0; at < pending; at++)
            if (fds [at].revents)
                s_greeting_step (owners [at], fds [at].revents);
    }
    for (size_t index = 0; index < count; index++) {
        if (targets [index].greeting_fd >= 0)
            close (targets [index].greeting_fd);
        if (targets [index].silent)
            s_judge_greeting (&targets [index]);
    }
}

static void
s_job_main (zsock_t *pipe, void *args)
{
    s_job_t *job = (s_job_t *) args;
    zsock_signal (pipe, 0);
    size_t count = xinf_value_count (job->targets);
    count = count < PROBE_TARGETS_MAX ? count : PROBE_TARGETS_MAX;
    s_target_t *targets = calloc (count + 1, sizeof (s_target_t));
    int64_t deadline = zclock_mono () + job->timeout_ms;
    uint64_t wait = xinf_wait_begin (xinf_waits_global (), "probe", "connectivity mesh", job->node, job->timeout_ms + 2000);
    for (size_t index = 0; index < count; index++) {
        xinf_value_t *item = xinf_array_at (job->targets, index);
        snprintf (targets [index].node, sizeof targets [index].node, "%s", xinf_value_str (xinf_map_get (item, "node")) ?: "?");
        snprintf (targets [index].endpoint, sizeof targets [index].endpoint, "%s", xinf_value_str (xinf_map_get (item, "endpoint")) ?: "");
        snprintf (targets [index].role, sizeof targets [index].role, "%s", xinf_value_str (xinf_map_get (item, "role")) ?: "");
        targets [index].tcp_only = xinf_value_type (xinf_map_get (item, "tcp_only")) == XINF_BOOL
                                && xinf_value_bool (xinf_map_get (item, "tcp_only"));
        targets [index].closed_ok = targets [index].tcp_only
                                 && xinf_value_type (xinf_map_get (item, "closed_ok")) == XINF_BOOL
                                 && xinf_value_bool (xinf_map_get (item, "closed_ok"));
        s_connect (&targets [index]);
    }
    s_finish_connects (targets, count, deadline);
    for (size_t index = 0; index < count; index++)
        if (targets [index].closed_ok && streq (targets [index].status, "refused"))
            s_set (&targets [index], "ok", "reachable (refused: nothing listens there now)");
    //  A dropped SYN may have used the whole budget: the handshakes with the
    //  open ports (milliseconds when all is well) still get half a timeout
    int64_t floor = zclock_mono () + job->timeout_ms / 2;
    s_handshakes (targets, count, job->node, deadline > floor ? deadline : floor);
    s_read_greetings (targets, count);
    xinf_wait_end (xinf_waits_global (), wait);
    xinf_msg_t *msg = xinf_msg_new ("PROBE_RESULT");
    xinf_map_put_uint (xinf_msg_body (msg), "session", job->session);
    xinf_map_put_str (xinf_msg_body (msg), "node", job->node);
    xinf_value_t *results = xinf_value_new_array ();
    for (size_t index = 0; index < count; index++) {
        xinf_value_t *result = xinf_value_new_map ();
        xinf_map_put_str (result, "to", targets [index].node);
        xinf_map_put_str (result, "endpoint", targets [index].endpoint);
        xinf_map_put_str (result, "status", *targets [index].status ? targets [index].status : "timeout");
        xinf_map_put_uint (result, "ms", (uint64_t) (targets [index].ended - targets [index].started));
        xinf_map_put_str (result, "detail", targets [index].detail);
        if (targets [index].tcp_only)
            xinf_map_put_bool (result, "tcp_only", true);
        xinf_array_push (results, result);
    }
    xinf_map_put (xinf_msg_body (msg), "results", results);
    zmsg_t *frames = xinf_msg_encode (&msg);
    zmsg_send (&frames, pipe);
    free (targets);
    xinf_value_destroy (&job->targets);
    free (job);
    //  Stay until the owner ends us, so that it reads the result first
    char *command = zstr_recv (pipe);
    zstr_free (&command);
}

zactor_t *
xinf_probe_job_new (const char *node, uint64_t session, xinf_value_t *targets, int64_t timeout_ms)
{
    s_job_t *job = calloc (1, sizeof *job);
    assert (job);
    snprintf (job->node, sizeof job->node, "%s", node);
    job->session = session;
    job->targets = targets;
    job->timeout_ms = timeout_ms;
    return zactor_new (s_job_main, job);
}

// ---- why a node does not answer -------------------------------------------

void
xinf_probe_explain (const char *endpoint, const char *status, const char *detail, char *text, size_t size)
{
    if (streq (status, "refused"))
        snprintf (text, size, "connection refused at %s: nothing listens there (is the node started? is the port "
                  "right?)", endpoint);
    else
    if (streq (status, "timeout"))
        snprintf (text, size, "no answer to a TCP connect to %s: a firewall dropping packets, or the wrong host",
                  endpoint);
    else
    if (streq (status, "unreachable"))
        snprintf (text, size, "%s is unreachable (%s): check the address and the route", endpoint, detail);
    else
    if (streq (status, "keys"))
        snprintf (text, size, "%s", detail);          //  "the server at ENDPOINT ...", said as such
    else
    if (streq (status, "not_zeromq"))
        snprintf (text, size, "%s accepts connections but does not speak ZeroMQ: another program holds the port",
                  endpoint);
    else
    if (streq (status, "no_handshake"))
        snprintf (text, size, "%s accepts connections but no xinf node answers there: another program holds the "
                  "port, or an xinf of another protocol version (this one speaks XINF/%d)", endpoint, XINF_VERSION);
    else
    if (streq (status, "wrong_peer"))
        snprintf (text, size, "%s at %s", detail, endpoint);
    else
    if (streq (status, "bad_endpoint"))
        snprintf (text, size, "bad endpoint %s: %s", endpoint, detail);
    else
        snprintf (text, size, "%s (%s) at %s", detail, status, endpoint);
}

zactor_t *
xinf_probe_node_job_new (const char *node, const char *endpoint, const char *role, int64_t timeout_ms)
{
    xinf_value_t *targets = xinf_value_new_array ();
    xinf_value_t *target = xinf_value_new_map ();
    xinf_map_put_str (target, "node", role);
    xinf_map_put_str (target, "endpoint", endpoint);
    xinf_map_put_str (target, "role", role);
    xinf_array_push (targets, target);
    return xinf_probe_job_new (node, 0, targets, timeout_ms);
}

const char *
xinf_probe_node_result (zsock_t *pipe, xinf_msg_t **result, const char **detail)
{
    zmsg_t *frames = zmsg_recv (pipe);            //  the job ends by its own deadline
    char error [256];
    *result = frames ? xinf_msg_decode (&frames, error, sizeof error, NULL) : NULL;
    zmsg_destroy (&frames);
    const xinf_value_t *first = xinf_array_at (xinf_map_get (xinf_msg_body (*result), "results"), 0);
    *detail = xinf_value_str (xinf_map_get (first, "detail")) ?: "";
    return xinf_value_str (xinf_map_get (first, "status")) ?: "timeout";
}

int
xinf_probe_diagnose (const char *node, const char *endpoint, const char *role, int64_t timeout_ms,
                     char *text, size_t size)
{
    zactor_t *job = xinf_probe_node_job_new (node, endpoint, role, timeout_ms);
    xinf_msg_t *result;
    const char *detail;
    const char *status = xinf_probe_node_result (zactor_sock (job), &result, &detail);
    xinf_probe_explain (endpoint, status, detail, text, size);
    int rc = streq (status, "ok") ? 0 : -1;
    xinf_msg_destroy (&result);
    zactor_destroy (&job);
    return rc;
}
