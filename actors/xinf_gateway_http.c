/*  xinf_gateway_http: libmicrohttpd's callbacks for the gateway.

    MHD calls the access handler once with the headers, then with each
    piece of the body, then once more with none: the request is routed and
    checked (method, key, size) at the first call, the body collected (413
    past the limit), and the work started at the last. A request waiting
    for the supervisor is a suspended connection; the answer resumes it and
    MHD calls the handler again, which queues the response. A stream's
    content reader hands out the buffered events and suspends the
    connection when there are none yet. Each TCP connection has a socket
    context (xinf_gw_conn_t) that says when its request's headers are due:
    the tick shuts down the late ones (slow senders of headers).
*/
#include "xinf_gateway_private.h"
#include "xinf_gateway_responses.h"
#include "xinf_gateway_anthropic.h"
#include <ctype.h>
#include "xinf_gateway_console.h"

#include <sys/socket.h>

static const struct { const char *path; const char *method; xinf_gw_route_t route; } s_routes [] = {
    { "/health", "GET", XINF_GW_ROUTE_HEALTH },
    { "/v1/health", "GET", XINF_GW_ROUTE_HEALTH },
    { "/v1/models", "GET", XINF_GW_ROUTE_MODELS },
    { "/v1/models", "POST", XINF_GW_ROUTE_LAUNCH },
    { "/models", "GET", XINF_GW_ROUTE_MODELS },
    { "/v1/completions", "POST", XINF_GW_ROUTE_COMPLETIONS },
    { "/completions", "POST", XINF_GW_ROUTE_COMPLETIONS },
    { "/v1/chat/completions", "POST", XINF_GW_ROUTE_CHAT },
    { "/chat/completions", "POST", XINF_GW_ROUTE_CHAT },
    { "/v1/responses", "POST", XINF_GW_ROUTE_RESPONSES },
    { "/v1/messages", "POST", XINF_GW_ROUTE_MESSAGES },
    { "/v1/messages/count_tokens", "POST", XINF_GW_ROUTE_MESSAGES_COUNT },
    { "/responses", "POST", XINF_GW_ROUTE_RESPONSES },
    { "/v1/embeddings", "POST", XINF_GW_ROUTE_EMBEDDINGS },
    { "/embeddings", "POST", XINF_GW_ROUTE_EMBEDDINGS },
    { "/v1/rerank", "POST", XINF_GW_ROUTE_RERANK },
    { "/rerank", "POST", XINF_GW_ROUTE_RERANK },
    { "/v2/rerank", "POST", XINF_GW_ROUTE_RERANK },
    { "/tokenize", "POST", XINF_GW_ROUTE_TOKENIZE },
    { "/detokenize", "POST", XINF_GW_ROUTE_DETOKENIZE },
    { "/apply-template", "POST", XINF_GW_ROUTE_APPLY_TEMPLATE },
    { "/completion", "POST", XINF_GW_ROUTE_LLAMA_COMPLETION },
    { "/infill", "POST", XINF_GW_ROUTE_LLAMA_INFILL },
    { "/props", "GET", XINF_GW_ROUTE_PROPS },
    { "/lora-adapters", "GET", XINF_GW_ROUTE_LORA_ADAPTERS },
    { "/lora-adapters", "POST", XINF_GW_ROUTE_LORA_SCALES },
    { "/metrics", "GET", XINF_GW_ROUTE_METRICS },
    { "/v1/cluster", "GET", XINF_GW_ROUTE_CLUSTER },
    { "/v1/cluster/workers", "GET", XINF_GW_ROUTE_WORKERS },
    { "/v1/cluster/waits", "GET", XINF_GW_ROUTE_WAITS },
    { "/v1/cluster/events", "GET", XINF_GW_ROUTE_EVENTS },
    { "/v1/cluster/doctor", "GET", XINF_GW_ROUTE_DOCTOR },
    { "/v1/cluster/doctor", "POST", XINF_GW_ROUTE_DOCTOR },
    { NULL, NULL, XINF_GW_ROUTE_NONE }
};

//  /v1/models/{uid}[/progress]: GET the model, DELETE it, GET its progress.
static bool
s_route_model (xinf_gw_request_t *request, const char *url, const char *method, xinf_gw_error_t *error)
{
    char uid [XINF_GW_UID_MAX + 16];
    snprintf (uid, sizeof uid, "%s", url + strlen ("/v1/models/"));
    char *slash = strchr (uid, '/');
    bool progress = slash && streq (slash, "/progress");
    if (slash)
        *slash = 0;
    if (!xinf_gw_uid_valid (uid) || (slash && !progress)) {
        xinf_gw_error_set (error, 404, "invalid_request_error", "model_not_found", "model",
                           "The model '%.80s' does not exist", url + strlen ("/v1/models/"));
        return false;
    }
    snprintf (request->path_model, sizeof request->path_model, "%.64s", uid);
    if (progress && streq (method, "GET"))
        request->route = XINF_GW_ROUTE_PROGRESS;
    else
    if (!progress && streq (method, "GET"))
        request->route = XINF_GW_ROUTE_MODEL;
    else
    if (!progress && streq (method, "DELETE"))
        request->route = XINF_GW_ROUTE_TERMINATE;
    else {
        xinf_gw_error_set (error, 405, "invalid_request_error", "method_not_allowed", NULL,
                           "%s is not allowed on %s: use %s", method, url, progress ? "GET" : "GET or DELETE");
        return false;
    }
    return true;
}

//  /v1/responses/{id} (or /responses/{id}): GET a stored response, DELETE it.
static bool
s_route_response (xinf_gw_request_t *request, const char *url, const char *method, xinf_gw_error_t *error)
{
    const char *id = strstr (url, "/responses/") + strlen ("/responses/");
    size_t length = strlen (id);
    bool valid = length > 0 && length < sizeof request->path_id;
    for (size_t index = 0; valid && index < length; index++)
        valid = isalnum ((unsigned char) id [index]) || id [index] == '_' || id [index] == '-';
    if (!valid) {
        xinf_gw_error_set (error, 404, "invalid_request_error", "not_found", "response_id",
                           "Response with id '%.64s' not found", id);
        return false;
    }
    snprintf (request->path_id, sizeof request->path_id, "%s", id);
    if (streq (method, "GET"))
        request->route = XINF_GW_ROUTE_RESPONSE_GET;
    else
    if (streq (method, "DELETE"))
        request->route = XINF_GW_ROUTE_RESPONSE_DELETE;
    else {
        xinf_gw_error_set (error, 405, "invalid_request_error", "method_not_allowed", NULL,
                           "%s is not allowed on %s: use GET or DELETE", method, url);
        return false;
    }
    return true;
}

//  Routes a path and method; false with the 404/405 in 'error'.
static bool
s_route (xinf_gw_request_t *request, const char *url, const char *method, xinf_gw_error_t *error)
{
    const char *allowed = NULL;
    for (size_t index = 0; s_routes [index].path; index++) {
        if (!streq (url, s_routes [index].path))
            continue;
        if (streq (method, s_routes [index].method)) {
            request->route = s_routes [index].route;
            return true;
        }
        allowed = s_routes [index].method;
    }
    if (allowed) {
        xinf_gw_error_set (error, 405, "invalid_request_error", "method_not_allowed", NULL,
                           "%s is not allowed on %s: use %s", method, url, allowed);
        return false;
    }
    if (strncmp (url, "/v1/models/", strlen ("/v1/models/")) == 0)
        return s_route_model (request, url, method, error);
    if (strncmp (url, "/v1/responses/", strlen ("/v1/responses/")) == 0
    ||  strncmp (url, "/responses/", strlen ("/responses/")) == 0)
        return s_route_response (request, url, method, error);
    const xinf_web_file_t *file = xinf_web_file_find (url);
    if (file && (streq (method, "GET") || streq (method, "HEAD"))) {
        request->route = XINF_GW_ROUTE_CONSOLE;
        request->console_path = file->path;
        return true;
    }
    if (file) {
        xinf_gw_error_set (error, 405, "invalid_request_error", "method_not_allowed", NULL,
                           "%s is not allowed on %s: use GET", method, url);
        return false;
    }
    xinf_gw_error_set (error, 404, "invalid_request_error", "not_found", NULL, "no such endpoint: %s %.200s",
                       method, url);
    return false;
}

const char *
xinf_gw_credential (xinf_gw_request_t *request, char *buffer, size_t size)
{
    const char *authorization = MHD_lookup_connection_value (request->connection, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_AUTHORIZATION);
    if (authorization)
        return authorization;
    const char *api_key = MHD_lookup_connection_value (request->connection, MHD_HEADER_KIND, "x-api-key");
    if (!api_key || strlen (api_key) + 8 > size)
        return NULL;
    snprintf (buffer, size, "Bearer %s", api_key);
    return buffer;
}

//  The key check; false with the 401 in 'error'. /health and the
//  console's files are open (the page asks for a key for its API calls).
static bool
s_authorized (xinf_gw_request_t *request, xinf_gw_error_t *error)
{
    xinf_gw_keys_t *keys = request->gateway->keys;
    if (!keys || request->route == XINF_GW_ROUTE_HEALTH || request->route == XINF_GW_ROUTE_CONSOLE)
        return true;
    char buffer [XINF_GW_CREDENTIAL_MAX];
    const char *authorization = xinf_gw_credential (request, buffer, sizeof buffer);
    xinf_gw_role_t role = xinf_gw_keys_check (keys, authorization);
    if (role == XINF_GW_ROLE_ADMIN || (role == XINF_GW_ROLE_USER && request->route < XINF_GW_ROUTE_LAUNCH))
        return true;
    if (role == XINF_GW_ROLE_USER) {
        xinf_gw_error_set (error, 403, "permission_error", "forbidden", NULL,
                           "this endpoint manages the cluster: it needs a key with the admin role");
        return false;
    }
    xinf_gw_error_set (error, 401, "invalid_request_error", "invalid_api_key", NULL,
                       authorization ? "Incorrect API key provided" :
                       "You didn't provide an API key: send 'Authorization: Bearer YOUR_KEY' (or 'x-api-key: "
                       "YOUR_KEY', of at most 1000 bytes)");
    return false;
}

//  A body announced larger than the limit is refused before it is read.
static bool
s_size_ok (xinf_gw_request_t *request, xinf_gw_error_t *error)
{
    const char *length = MHD_lookup_connection_value (request->connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && strtoull (length, NULL, 10) > request->gateway->config.max_body) {
        xinf_gw_error_set (error, 413, "invalid_request_error", "request_too_large", NULL,
                           "the body (%s bytes) is over the limit of %zu bytes (--http-max-body)", length,
                           request->gateway->config.max_body);
        return false;
    }
    return true;
}

static enum MHD_Result
s_queue (xinf_gw_request_t *request)
{
    xinf_gw_metrics_http (request->gateway->metrics, request->status);
    enum MHD_Result rc = MHD_queue_response (request->connection, request->status, request->response);
    MHD_destroy_response (request->response);
    request->response = NULL;
    request->answered = true;
    return rc;
}

//  The connection's socket context, or NULL.
static xinf_gw_conn_t *
s_conn (struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? (xinf_gw_conn_t *) info->socket_context : NULL;
}

//  The first call: a new request, routed and checked.
static enum MHD_Result
s_begin (xinf_gw_state_t *gateway, struct MHD_Connection *connection, const char *url, const char *method,
         void **con_cls)
{
    xinf_gw_request_t *request = calloc (1, sizeof *request);
    assert (request);
    request->gateway = gateway;
    request->connection = connection;
    request->begun = zclock_mono ();
    request->anthropic = strncmp (url, "/v1/messages", strlen ("/v1/messages")) == 0;
    *con_cls = request;
    xinf_gw_conn_t *conn = s_conn (connection);
    if (conn)
        conn->headers_due = 0;
    gateway->requests++;
    xinf_gw_error_t error;
    if (s_route (request, url, method, &error) && s_authorized (request, &error) && s_size_ok (request, &error))
        return MHD_YES;
    if (error.status != 404)
        xinf_info ("gateway", "refused %s %.200s status=%u reason=\"%s\"", method, url, error.status, error.message);
    xinf_gw_respond_error (request, &error);
    return s_queue (request);
}

//  The last call: the body is complete; answer or start the work.
static enum MHD_Result
s_body_done (xinf_gw_request_t *request)
{
    if (request->too_large) {
        xinf_gw_error_t error;
        xinf_gw_error_set (&error, 413, "invalid_request_error", "request_too_large", NULL,
                           "the body is over the limit of %zu bytes (--http-max-body)", request->gateway->config.max_body);
        xinf_gw_respond_error (request, &error);
    }
    else
    if (request->route == XINF_GW_ROUTE_COMPLETIONS || request->route == XINF_GW_ROUTE_CHAT
    ||  request->route == XINF_GW_ROUTE_RESPONSES || request->route == XINF_GW_ROUTE_MESSAGES
    ||  request->route == XINF_GW_ROUTE_LLAMA_COMPLETION || request->route == XINF_GW_ROUTE_LLAMA_INFILL)
        xinf_gw_generate_start (request);
    else
    if (request->route == XINF_GW_ROUTE_RESPONSE_GET || request->route == XINF_GW_ROUTE_RESPONSE_DELETE)
        xinf_gw_responses_route (request);
    else
    if (request->route == XINF_GW_ROUTE_MESSAGES_COUNT)
        xinf_gw_anthropic_count_start (request);
    else
    if (request->route == XINF_GW_ROUTE_EMBEDDINGS)
        xinf_gw_embed_start (request);
    else
    if (request->route == XINF_GW_ROUTE_RERANK)
        xinf_gw_rerank_start (request);
    else
    if (request->route >= XINF_GW_ROUTE_LAUNCH)
        xinf_gw_manage_start (request);
    else
        xinf_gw_route_start (request);
    if (request->response)
        return s_queue (request);
    MHD_suspend_connection (request->connection);
    request->suspended = true;
    return MHD_YES;
}

enum MHD_Result
xinf_gw_http_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                     const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    xinf_gw_request_t *request = (xinf_gw_request_t *) *con_cls;
    if (!request)
        return s_begin ((xinf_gw_state_t *) cls, connection, url, method, con_cls);
    if (request->answered) {
        *upload_data_size = 0;              //  an early answer: the rest of the body is dropped
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t size = *upload_data_size;
        int64_t limit_ms = (int64_t) request->gateway->config.body_timeout_s * 1000;
        if (zclock_mono () - request->begun > limit_ms) {
            xinf_info ("gateway", "closing a connection whose body did not come within %u s (a slow sender)",
                       request->gateway->config.body_timeout_s);
            return MHD_NO;
        }
        if (request->body.size + size > request->gateway->config.max_body) {
            request->too_large = true;
            xinf_gw_buf_free (&request->body);
        }
        else
        if (!request->too_large)
            xinf_gw_buf_add (&request->body, upload_data, size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (request->response)
        return s_queue (request);
    if (request->suspended || request->corr)
        return MHD_YES;                     //  woken without an answer: wait on
    return s_body_done (request);
}

void
xinf_gw_http_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                        enum MHD_RequestTerminationCode code)
{
    xinf_gw_state_t *gateway = (xinf_gw_state_t *) cls;
    //  A kept-alive connection may wait for its next request as long as it
    //  may stay idle, but no longer for that request's headers
    xinf_gw_conn_t *conn = s_conn (connection);
    if (conn) {
        unsigned wait_s = gateway->config.header_timeout_s > gateway->config.connection_timeout_s
                        ? gateway->config.header_timeout_s : gateway->config.connection_timeout_s;
        conn->headers_due = zclock_mono () + (int64_t) wait_s * 1000;
    }
    xinf_gw_request_t *request = (xinf_gw_request_t *) *con_cls;
    if (!request)
        return;
    if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK && xinf_gw_choices_generating (request)) {
        gateway->disconnects++;
        xinf_info ("gateway", "client gone during a generation (%s): cancelling it model=%s tokens=%zu",
                   code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" :
                   code == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? "disconnected" : "closed",
                   request->oai.model, request->completion_tokens);
    }
    if ((request->route == XINF_GW_ROUTE_EMBEDDINGS || request->route == XINF_GW_ROUTE_RERANK) && !request->ended
    &&  xinf_gw_choices_generating (request))
        xinf_gw_metrics_end (gateway->metrics, request->oai.model, "cancelled", request->prompt_tokens, 0);
    xinf_gw_choices_free (request);
    if (request->generating) {
        xinf_gw_cancel (request);
        if (!request->ended)
            xinf_gw_metrics_end (gateway->metrics, request->oai.model, "cancelled", request->prompt_tokens,
                                 request->completion_tokens);
    }
    xinf_gw_call_forget (request);
    for (size_t index = 0; index < 2; index++)
        xinf_value_destroy (&request->replies [index]);
    if (request->response)
        MHD_destroy_response (request->response);
    xinf_gw_generate_clear (request);
    xinf_gw_embed_clear (request);
    if (request->shape)
        request->shape->clear (request);
    xinf_gw_oai_clear (&request->oai);
    xinf_gw_text_clear (&request->text);
    xinf_gw_buf_free (&request->body);
    xinf_gw_buf_free (&request->output);
    xinf_gw_buf_free (&request->sse);
    free (request);
    *con_cls = NULL;
}

void
xinf_gw_http_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    xinf_gw_state_t *gateway = (xinf_gw_state_t *) cls;
    xinf_gw_conn_t *conn = (xinf_gw_conn_t *) *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED && !conn) {
        conn = calloc (1, sizeof *conn);
        assert (conn);
        conn->connection = connection;
        conn->headers_due = zclock_mono () + (int64_t) gateway->config.header_timeout_s * 1000;
        conn->handle = zlistx_add_end (gateway->conns, conn);
        *socket_context = conn;
    }
    else
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED && conn) {
        zlistx_detach (gateway->conns, conn->handle);
        free (conn);
        *socket_context = NULL;
    }
}

void
xinf_gw_http_sweep (xinf_gw_state_t *gateway)
{
    int64_t now = zclock_mono ();
    size_t count = 0;
    for (xinf_gw_conn_t *conn = (xinf_gw_conn_t *) zlistx_first (gateway->conns); conn;
         conn = (xinf_gw_conn_t *) zlistx_next (gateway->conns)) {
        if (conn->shut || !conn->headers_due || now <= conn->headers_due)
            continue;
        const union MHD_ConnectionInfo *info = MHD_get_connection_info (conn->connection,
                                                                        MHD_CONNECTION_INFO_CONNECTION_FD);
        //  Both directions: epoll reports it, MHD's read finds the end and closes
        if (info && shutdown (info->connect_fd, SHUT_RDWR) == 0) {
            conn->shut = true;
            count++;
        }
    }
    if (count) {
        gateway->header_closes += count;
        xinf_info ("gateway", "closing %zu connection%s whose request headers did not come within %u s "
                   "(slow senders; --http-header-timeout-s)", count, count == 1 ? "" : "s",
                   gateway->config.header_timeout_s);
    }
}

void
xinf_gw_resume (xinf_gw_request_t *request)
{
    if (request->suspended) {
        request->suspended = false;
        MHD_resume_connection (request->connection);
    }
}

//  Sets the response to queue at the next access call.
void
xinf_gw_respond_response (xinf_gw_request_t *request, unsigned status, struct MHD_Response *response)
{
    if (request->response)
        MHD_destroy_response (request->response);
    request->response = response;
    request->status = status;
    xinf_gw_resume (request);
}

void
xinf_gw_respond_json (xinf_gw_request_t *request, unsigned status, json_t *json)
{
    char *text = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    if (!text)
        text = strdup ("{}");
    size_t length = strlen (text);
    text [length] = 0;
    char *body = realloc (text, length + 2);
    assert (body);
    body [length] = '\n';
    struct MHD_Response *response = MHD_create_response_from_buffer (length + 1, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    xinf_gw_respond_response (request, status, response);
}

void
xinf_gw_respond_text (xinf_gw_request_t *request, unsigned status, const char *content_type, char *text, size_t size)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (size, text ? text : strdup (""),
                                                                     MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    xinf_gw_respond_response (request, status, response);
}

void
xinf_gw_respond_error (xinf_gw_request_t *request, const xinf_gw_error_t *given)
{
    xinf_gw_error_t renamed = *given;           //  the chat's field names as the request's API names them
    const xinf_gw_error_t *error = &renamed;
    if (request->shape && request->shape->rename)
        request->shape->rename (&renamed);
    xinf_gw_respond_json (request, error->status, request->anthropic ? xinf_gw_anthropic_error_json (error)
                                                                     : xinf_gw_error_json (error));
    if (error->retry_after_ms > 0) {
        char seconds [32];
        snprintf (seconds, sizeof seconds, "%lld", (long long) ((error->retry_after_ms + 999) / 1000));
        MHD_add_response_header (request->response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    if (error->status == 401)
        MHD_add_response_header (request->response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (error->status == 413)
        MHD_add_response_header (request->response, MHD_HTTP_HEADER_CONNECTION, "close");
}

//  The stream's content reader: the events so far, or a pause until more.
static ssize_t
s_read_stream (void *cls, uint64_t position, char *buffer, size_t max)
{
    xinf_gw_request_t *request = (xinf_gw_request_t *) cls;
    if (request->sse.size > 0) {
        size_t count = request->sse.size < max ? request->sse.size : max;
        memcpy (buffer, request->sse.data, count);
        xinf_gw_buf_consume (&request->sse, count);
        return (ssize_t) count;
    }
    if (request->stream_ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    MHD_suspend_connection (request->connection);
    request->suspended = true;
    return 0;
}

void
xinf_gw_stream_wake (xinf_gw_request_t *request)
{
    if (!request->stream_open) {
        request->stream_open = true;
        struct MHD_Response *response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 16 << 10,
                                                                           s_read_stream, request, NULL);
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_add_response_header (response, "X-Accel-Buffering", "no");
        xinf_gw_respond_response (request, 200, response);
    }
    else
        xinf_gw_resume (request);
}
