/*  xinf_gateway: the HTTP gateway actor (see the header).

    One thread: the actor's zloop polls the DEALER to the supervisor and
    libmicrohttpd's epoll fd, and a tick runs MHD's timeouts and the
    gateway's own deadlines. Calls to the supervisor are kept by corr; each
    answer is routed to the request that made the call.
*/
#include "xinf_gateway_private.h"
#include "xinf_gateway_responses.h"
#include "xinf_gateway_anthropic.h"
#include "xinf_client_msg.h"
#include "xinf_envelope_msg.h"

#include <poll.h>

#define XINF_GW_TICK_MS  100

static void s_run_mhd (xinf_gw_state_t *gateway);

static void
s_corr_key (uint64_t corr, char *key, size_t size)
{
    snprintf (key, size, "%llu", (unsigned long long) corr);
}

int
xinf_gw_call (xinf_gw_request_t *request, xinf_msg_t **msg_p, int64_t deadline_ms, xinf_gw_error_t *error)
{
    xinf_gw_state_t *gateway = request->gateway;
    xinf_gw_call_forget (request);
    uint64_t corr = ++gateway->next_corr;
    xinf_msg_set_corr (*msg_p, corr);
    xinf_msg_set_deadline (*msg_p, (uint64_t) deadline_ms);
    if (xinf_dealer_send (gateway->dealer, msg_p)) {
        if (errno == EMSGSIZE)
            xinf_gw_error_set (error, 413, "invalid_request_error", "request_too_large", NULL,
                               "the request is too large: its message to the supervisor would be over the %d bytes "
                               "a message may carry", XINF_HEADER_MAX);
        else
            xinf_gw_error_set (error, 503, "server_error", "supervisor_unreachable", NULL,
                               "cannot send to the supervisor at %s: its queue is full", gateway->supervisor);
        xinf_msg_destroy (msg_p);
        return -1;
    }
    char key [32];
    s_corr_key (corr, key, sizeof key);
    zhashx_insert (gateway->pending, key, request);
    request->corr = corr;
    request->deadline = zclock_mono () + deadline_ms + XINF_GW_CALL_GRACE_MS;
    return 0;
}

void
xinf_gw_call_forget (xinf_gw_request_t *request)
{
    if (request->corr) {
        char key [32];
        s_corr_key (request->corr, key, sizeof key);
        zhashx_delete (request->gateway->pending, key);
        request->corr = 0;
    }
}

void
xinf_gw_cancel (xinf_gw_request_t *request)
{
    if (!request->generating)
        return;
    request->generating = false;
    xinf_gw_state_t *gateway = request->gateway;
    xinf_msg_t *cancel = xinf_msg_new ("CANCEL");
    xinf_map_put_uint (xinf_msg_body (cancel), "corr", request->generate_corr);
    xinf_msg_set_corr (cancel, ++gateway->next_corr);
    xinf_msg_set_deadline (cancel, 5000);
    gateway->cancels_sent++;
    if (xinf_dealer_send (gateway->dealer, &cancel)) {
        xinf_msg_destroy (&cancel);
        xinf_warn ("gateway", "cannot send CANCEL for corr=%llu: the supervisor's queue is full",
                   (unsigned long long) request->generate_corr);
    }
}

static bool s_is_generation (xinf_gw_request_t *request);

const char *
xinf_gw_metrics_label (const xinf_gw_request_t *request, unsigned status)
{
    //  A refused request counts under one label: the model it names may
    //  be any text a client chose, each a new series for good
    bool refused = status == 400 || status == 404 || status == 413;
    return refused ? XINF_GW_METRIC_REFUSED : request->oai.model;
}

void
xinf_gw_request_fail (xinf_gw_request_t *request, const xinf_gw_error_t *error)
{
    if (request->parent) {                  //  a choice fails its whole request
        xinf_gw_request_fail (request->parent, error);
        return;
    }
    if (request->failed)
        return;
    request->failed = true;
    const char *label = xinf_gw_metrics_label (request, error->status);
    bool pooled = request->route == XINF_GW_ROUTE_EMBEDDINGS || request->route == XINF_GW_ROUTE_RERANK;
    if ((s_is_generation (request) || pooled) && !request->ended) {
        request->ended = true;
        xinf_gw_metrics_end (request->gateway->metrics, label, xinf_gw_metrics_outcome (error->status),
                             request->prompt_tokens, request->completion_tokens);
    }
    xinf_gw_choices_cancel (request, label, xinf_gw_metrics_outcome (error->status));
    xinf_gw_cancel (request);
    xinf_gw_call_forget (request);
    if (request->stream_open) {
        if (request->shape)
            request->shape->fail_stream (request, error);
        else
            xinf_gw_sse_json (&request->sse, xinf_gw_error_json (error));
        request->stream_ended = true;
        xinf_gw_stream_wake (request);
    }
    else
        xinf_gw_respond_error (request, error);
}

static bool
s_is_generation (xinf_gw_request_t *request)
{
    return request->route == XINF_GW_ROUTE_COMPLETIONS || request->route == XINF_GW_ROUTE_CHAT
        || request->route == XINF_GW_ROUTE_RESPONSES || request->route == XINF_GW_ROUTE_MESSAGES
        || request->route == XINF_GW_ROUTE_LLAMA_COMPLETION || request->route == XINF_GW_ROUTE_LLAMA_INFILL;
}

//  An answer that breaks its schema (protocols/client.xml, envelope.xml)
//  becomes ERROR BAD_REPLY naming the field, so that no handler reads it.
static void
s_check_answer (xinf_msg_t **msg_p)
{
    xinf_check_t check = XINF_CHECK_INIT;
    const char *type = xinf_msg_type (*msg_p);
    if (xinf_client_msg_validate (type, xinf_msg_body (*msg_p), &check) != -1
    &&  xinf_envelope_msg_validate (type, xinf_msg_body (*msg_p), &check) != -1)
        return;
    xinf_warn ("gateway", "%s from the supervisor breaks its schema: %s", type, check.reason);
    xinf_msg_t *error = xinf_msg_new_error (xinf_msg_corr (*msg_p), "BAD_REPLY", "the supervisor's %s: %s", type,
                                            check.reason);
    xinf_msg_destroy (msg_p);
    *msg_p = error;
}

//  Answers from the supervisor, each to the request that made the call.
static void
s_on_dealer (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    xinf_gw_state_t *gateway = (xinf_gw_state_t *) arg;
    for (int count = 0; count < 256; count++) {
        char error [256];
        xinf_msg_t *msg = xinf_dealer_recv (gateway->dealer, 0, error, sizeof error);
        if (!msg)
            break;
        s_check_answer (&msg);
        char key [32];
        s_corr_key (xinf_msg_corr (msg), key, sizeof key);
        xinf_gw_request_t *request = (xinf_gw_request_t *) zhashx_lookup (gateway->pending, key);
        if (request && s_is_generation (request))
            xinf_gw_generate_on_reply (request, msg);
        else
        if (request && request->route == XINF_GW_ROUTE_MESSAGES_COUNT)
            xinf_gw_anthropic_count_on_reply (request, msg);
        else
        if (request && (request->route == XINF_GW_ROUTE_EMBEDDINGS || request->route == XINF_GW_ROUTE_RERANK))
            xinf_gw_embed_on_reply (request, msg);
        else
        if (request && request->route >= XINF_GW_ROUTE_LAUNCH)
            xinf_gw_manage_on_reply (request, msg);
        else
        if (request)
            xinf_gw_route_on_reply (request, msg);
        xinf_msg_destroy (&msg);
        if (!(zsock_events (sock) & ZMQ_POLLIN))
            break;
    }
    s_run_mhd (gateway);
}

static int
s_on_mhd_timer (zloop_t *loop, int timer_id, void *arg)
{
    xinf_gw_state_t *gateway = (xinf_gw_state_t *) arg;
    gateway->mhd_timer = -1;
    s_run_mhd (gateway);
    return 0;
}

//  Runs MHD while it has work ready (MHD_get_timeout 0: a connection with
//  bytes left to read or write, a resumed one), then wakes it when its
//  next timeout is due, if that is before the tick.
static void
s_run_mhd (xinf_gw_state_t *gateway)
{
    MHD_UNSIGNED_LONG_LONG timeout = XINF_GW_TICK_MS;
    bool known = false;
    for (int round = 0; round < 64; round++) {
        MHD_run (gateway->daemon);
        known = MHD_get_timeout (gateway->daemon, &timeout) == MHD_YES;
        if (!known || timeout > 0)
            break;
    }
    if (!known || timeout >= XINF_GW_TICK_MS)
        return;
    if (gateway->mhd_timer >= 0)
        zloop_timer_end (xinf_ctx_loop (gateway->ctx), gateway->mhd_timer);
    gateway->mhd_timer = zloop_timer (xinf_ctx_loop (gateway->ctx), timeout > 0 ? (size_t) timeout : 1, 1,
                                      s_on_mhd_timer, gateway);
}

static int
s_on_http (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_run_mhd ((xinf_gw_state_t *) arg);
    return 0;
}

//  True when the peer of a suspended connection has closed it: MHD does
//  not watch suspended connections, so a client that gives up while its
//  request waits in the queue is found here. Closed: EOF or an error, or
//  the peer's FIN after bytes not read (POLLRDHUP: a TLS client sends its
//  close_notify alert before it closes, so a peek finds that alert, not
//  the EOF), or on TLS an alert record (type 21, TLS 1.2's close_notify
//  or a fatal alert: nothing follows it). Bytes of an open connection
//  are a pipelined request, which MHD reads once this one is answered.
static bool
s_peer_closed (xinf_gw_request_t *request)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (request->connection,
                                                                    MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return false;
    struct pollfd item = { info->connect_fd, POLLIN | POLLRDHUP, 0 };
    if (poll (&item, 1, 0) <= 0)
        return false;                       //  nothing came: still there
    if (item.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        return true;
    unsigned char byte;
    ssize_t rc = recv (info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (rc == 0 || (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return true;
    return rc == 1 && request->gateway->tls_cert && byte == 21;
}

//  Suspended generations whose clients are gone are cancelled (once a
//  second): a choice's request is its parent's connection.
static void
s_check_gone (xinf_gw_state_t *gateway)
{
    zlist_t *waiting = zlist_new (), *gone = zlist_new ();
    for (xinf_gw_request_t *request = (xinf_gw_request_t *) zhashx_first (gateway->pending); request;
         request = (xinf_gw_request_t *) zhashx_next (gateway->pending)) {
        xinf_gw_request_t *top = xinf_gw_choices_top (request);
        if (top->suspended && request->generating && !zlist_exists (waiting, top))
            zlist_append (waiting, top);          //  each connection looked at once
    }
    for (xinf_gw_request_t *top = (xinf_gw_request_t *) zlist_first (waiting); top;
         top = (xinf_gw_request_t *) zlist_next (waiting))
        if (s_peer_closed (top))
            zlist_append (gone, top);
    zlist_destroy (&waiting);
    for (xinf_gw_request_t *request = (xinf_gw_request_t *) zlist_first (gone); request;
         request = (xinf_gw_request_t *) zlist_next (gone)) {
        gateway->disconnects++;
        xinf_info ("gateway", "client gone while its request waited: cancelling it model=%s", request->oai.model);
        if (!request->ended)
            xinf_gw_metrics_end (gateway->metrics, request->oai.model, "cancelled", request->prompt_tokens,
                                 request->completion_tokens);
        request->ended = true;
        xinf_gw_choices_cancel (request, request->oai.model, "cancelled");
        xinf_gw_error_t error;
        xinf_gw_error_set (&error, 400, "invalid_request_error", "client_closed", NULL, "the client closed the connection");
        xinf_gw_request_fail (request, &error);
    }
    zlist_destroy (&gone);
}

//  Calls past their deadline (the supervisor never answered) fail with 504;
//  connections whose request headers are late are shut down.
static void
s_on_tick (xinf_ctx_t *ctx, void *arg)
{
    xinf_gw_state_t *gateway = (xinf_gw_state_t *) arg;
    int64_t now = zclock_mono ();
    if (now - gateway->gone_checked >= 1000) {
        gateway->gone_checked = now;
        s_check_gone (gateway);
    }
    zlist_t *late = zlist_new ();
    for (xinf_gw_request_t *request = (xinf_gw_request_t *) zhashx_first (gateway->pending); request;
         request = (xinf_gw_request_t *) zhashx_next (gateway->pending))
        if (now > request->deadline)
            zlist_append (late, request);
    for (xinf_gw_request_t *request = (xinf_gw_request_t *) zlist_first (late); request;
         request = (xinf_gw_request_t *) zlist_next (late)) {
        xinf_gw_error_t error;
        xinf_gw_error_set (&error, 504, "timeout_error", "deadline_exceeded", NULL,
                           "no answer from the supervisor at %s in time", gateway->supervisor);
        xinf_warn ("gateway", "no answer from the supervisor endpoint=%s corr=%llu", gateway->supervisor,
                   (unsigned long long) request->corr);
        xinf_gw_request_fail (request, &error);
    }
    zlist_destroy (&late);
    xinf_gw_http_sweep (gateway);
    s_run_mhd (gateway);
}

//  MHD's own messages (a client gone while a response was sent, ...) go
//  to the log at debug level: the gateway logs what matters itself.
static void
s_mhd_log (void *cls, const char *format, va_list args)
{
    char text [512];
    xinf_vtextf (text, sizeof text, format, args);
    size_t length = strlen (text);
    while (length && (text [length - 1] == '\n' || text [length - 1] == '\r'))
        text [--length] = 0;
    xinf_debug ("gateway", "libmicrohttpd: %s", text);
}

static struct MHD_Daemon *
s_daemon_start (xinf_gw_state_t *gateway)
{
    struct sockaddr_storage address;
    memset (&address, 0, sizeof address);
    struct sockaddr_in *ipv4 = (struct sockaddr_in *) &address;
    struct sockaddr_in6 *ipv6 = (struct sockaddr_in6 *) &address;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (inet_pton (AF_INET, gateway->host, &ipv4->sin_addr) == 1) {
        ipv4->sin_family = AF_INET;
        ipv4->sin_port = htons ((uint16_t) gateway->config.port);
    }
    else
    if (inet_pton (AF_INET6, gateway->host, &ipv6->sin6_addr) == 1) {
        ipv6->sin6_family = AF_INET6;
        ipv6->sin6_port = htons ((uint16_t) gateway->config.port);
        flags |= MHD_USE_IPv6;
    }
    else {
        snprintf (gateway->error, sizeof gateway->error, "--http-host '%s' is not an IPv4 or IPv6 address",
                  gateway->host);
        return NULL;
    }
    struct MHD_OptionItem tls [] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, gateway->tls_cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, gateway->tls_key },
        { MHD_OPTION_END, 0, NULL }
    };
    if (gateway->tls_cert)
        flags |= MHD_USE_TLS;
    else
        tls [0].option = MHD_OPTION_END;
    struct MHD_Daemon *daemon = MHD_start_daemon (flags, (uint16_t) gateway->config.port, NULL, NULL,
        xinf_gw_http_access, gateway,
        MHD_OPTION_ARRAY, tls,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_CONNECTION_LIMIT, gateway->config.connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, gateway->config.per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, gateway->config.connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (32 << 10),
        MHD_OPTION_NOTIFY_COMPLETED, xinf_gw_http_completed, gateway,
        MHD_OPTION_NOTIFY_CONNECTION, xinf_gw_http_notify, gateway,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, gateway,
        MHD_OPTION_END);
    if (!daemon)
        snprintf (gateway->error, sizeof gateway->error, "cannot listen on %s://%s:%d: %s (is the port in use?)",
                  gateway->tls_cert ? "https" : "http", gateway->host, gateway->config.port, strerror (errno));
    return daemon;
}

//  A random routing id, so that a restarted supervisor can still answer.
static void
s_set_routing_id (zsock_t *sock)
{
    unsigned char id [12];
    id [0] = 'g';
    for (size_t index = 1; index < sizeof id; index++)
        id [index] = (unsigned char) randof (256);
    zmq_setsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, id, sizeof id);
}

static int
s_init (xinf_ctx_t *ctx)
{
    xinf_gw_state_t *gateway = (xinf_gw_state_t *) xinf_ctx_state (ctx);
    gateway->ctx = ctx;
    gateway->mhd_timer = -1;
    gateway->pending = zhashx_new ();
    gateway->template_warned = zhashx_new ();
    gateway->metrics = xinf_gw_metrics_new ();
    gateway->responses = xinf_gw_rstore_new (XINF_GW_RESPONSES_KEPT, XINF_GW_RESPONSES_BYTES);
    gateway->conns = zlistx_new ();
    if (!(gateway->daemon = s_daemon_start (gateway)))
        return -1;
    gateway->dealer = gateway->config.cert && gateway->config.server_key
                    ? xinf_dealer_new_secure (gateway->supervisor, "gateway", gateway->config.cert,
                                              gateway->config.server_key, NULL)
                    : xinf_dealer_new (gateway->supervisor, "gateway");
    if (!gateway->dealer) {
        snprintf (gateway->error, sizeof gateway->error, "bad supervisor endpoint %s", gateway->supervisor);
        return -1;
    }
    //  The routing id must be set before connecting: reconnect
    zsock_t *sock = xinf_dealer_sock (gateway->dealer);
    zsock_disconnect (sock, "%s", gateway->supervisor);
    s_set_routing_id (sock);
    zsock_connect (sock, "%s", gateway->supervisor);
    xinf_ctx_reader (ctx, sock, s_on_dealer, gateway);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (gateway->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    zmq_pollitem_t item = { NULL, info->epoll_fd, ZMQ_POLLIN, 0 };
    zloop_poller (xinf_ctx_loop (ctx), &item, s_on_http, gateway);
    xinf_ctx_timer (ctx, XINF_GW_TICK_MS, 0, s_on_tick, gateway);
    return 0;
}

//  Every waiting request is answered before MHD stops (MHD must not stop
//  with suspended connections).
static void
s_fini (xinf_ctx_t *ctx)
{
    xinf_gw_state_t *gateway = (xinf_gw_state_t *) xinf_ctx_state (ctx);
    zlist_t *waiting = zlist_new ();
    for (void *request = zhashx_first (gateway->pending); request; request = zhashx_next (gateway->pending))
        zlist_append (waiting, request);
    for (xinf_gw_request_t *request = (xinf_gw_request_t *) zlist_first (waiting); request;
         request = (xinf_gw_request_t *) zlist_next (waiting)) {
        xinf_gw_error_t error;
        xinf_gw_error_set (&error, 503, "server_error", "restarting", NULL, "the node is stopping");
        xinf_gw_request_fail (request, &error);
    }
    zlist_destroy (&waiting);
    if (gateway->daemon) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info (gateway->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        zmq_pollitem_t item = { NULL, info->epoll_fd, ZMQ_POLLIN, 0 };
        zloop_poller_end (xinf_ctx_loop (ctx), &item);
        MHD_run (gateway->daemon);
        MHD_stop_daemon (gateway->daemon);
        gateway->daemon = NULL;
    }
    if (gateway->dealer)
        xinf_ctx_reader_end (ctx, xinf_dealer_sock (gateway->dealer));
    xinf_dealer_destroy (&gateway->dealer);
    zhashx_destroy (&gateway->pending);
    zhashx_destroy (&gateway->template_warned);
    xinf_gw_metrics_destroy (&gateway->metrics);
    xinf_gw_rstore_destroy (&gateway->responses);
    zlistx_destroy (&gateway->conns);      //  empty: MHD closed each connection
}

struct _xinf_gateway_t {
    xinf_gw_state_t *state;
    xinf_actor_t *actor;
};

xinf_gateway_t *
xinf_gateway_new (const xinf_gateway_config_t *config, char *error, size_t error_size)
{
    xinf_gw_state_t *state = calloc (1, sizeof *state);
    assert (state);
    state->config = *config;
    snprintf (state->supervisor, sizeof state->supervisor, "%s", config->supervisor);
    snprintf (state->host, sizeof state->host, "%s", config->host);
    snprintf (state->node_name, sizeof state->node_name, "%s", config->node_name ? config->node_name : "xinf");
    state->config.supervisor = state->supervisor;
    state->config.host = state->host;
    state->config.node_name = state->node_name;
    if (config->cert && config->server_key) {
        snprintf (state->server_key, sizeof state->server_key, "%s", config->server_key);
        state->config.server_key = state->server_key;
    }
    state->config.key_file = NULL;
    state->config.tls_cert = state->config.tls_key = NULL;
    if ((config->tls_cert || config->tls_key)
    &&  xinf_gw_tls_load (config->tls_cert, config->tls_key, &state->tls_cert, &state->tls_key, error, error_size)) {
        free (state);
        return NULL;
    }
    if (config->key_file && !(state->keys = xinf_gw_keys_load (config->key_file, error, error_size))) {
        xinf_gw_tls_free (&state->tls_cert, &state->tls_key);
        free (state);
        return NULL;
    }
    xinf_gateway_t *self = calloc (1, sizeof *self);
    assert (self);
    self->state = state;
    xinf_actor_spec_t spec = { .name = "gateway", .init = s_init, .fini = s_fini, .state = state };
    self->actor = xinf_actor_new (&spec);
    if (!self->actor) {
        snprintf (error, error_size, "%s", *state->error ? state->error : "the gateway actor did not start");
        xinf_gw_keys_destroy (&state->keys);
        if (state->daemon)
            MHD_stop_daemon (state->daemon);
        xinf_dealer_destroy (&state->dealer);
        zhashx_destroy (&state->pending);
        zhashx_destroy (&state->template_warned);
        xinf_gw_metrics_destroy (&state->metrics);
        xinf_gw_rstore_destroy (&state->responses);
        zlistx_destroy (&state->conns);
        xinf_gw_tls_free (&state->tls_cert, &state->tls_key);
        free (state);
        free (self);
        return NULL;
    }
    return self;
}

void
xinf_gateway_destroy (xinf_gateway_t **self_p)
{
    if (self_p && *self_p) {
        xinf_gateway_t *self = *self_p;
        if (xinf_actor_destroy (&self->actor)) {
            xinf_gw_keys_destroy (&self->state->keys);
            xinf_gw_tls_free (&self->state->tls_cert, &self->state->tls_key);
            free (self->state);
        }
        free (self);
        *self_p = NULL;
    }
}
