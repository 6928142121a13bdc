/*  xinf_bench_http_load: HTTP streaming clients for xinf-bench-http (see
    the header). Plain sockets and poll (): the client takes little CPU, so
    that the figures are the gateway's, not the benchmark's.
*/
#include "xinf_bench_http_load.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

//  One connection: one request in flight at most.
typedef struct {
    int fd;
    size_t index, issued;
    char *out;                        //  the request being sent
    size_t out_size, out_sent;
    char *in;                         //  received, not yet parsed
    size_t in_size, in_alloc;
    bool headers_done, busy;
    int status;
    char *events;                     //  the de-chunked body
    size_t events_size, events_alloc;
    int64_t sent_us, first_us;
    size_t tokens;
} s_conn_t;

static int
s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect (fd, (struct sockaddr *) &address, sizeof address)) {
        close (fd);
        return -1;
    }
    return fd;
}

//  The request of client 'index', its 'issued'-th: the token ids xinf_bench_serve_load sends.
static char *
s_request (const char *key, const char *uid, size_t index, size_t issued, size_t prompt_length, size_t max_tokens,
           size_t *size)
{
    size_t body_alloc = 256 + prompt_length * 8;
    char *body = malloc (body_alloc);
    assert (body);
    size_t at = (size_t) snprintf (body, body_alloc, "{\"model\":\"%s\",\"max_tokens\":%zu,\"temperature\":0,"
                                   "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"prompt\":[",
                                   uid, max_tokens);
    for (size_t token = 0; token < prompt_length; token++)
        at += (size_t) snprintf (body + at, body_alloc - at, "%s%zu", token ? "," : "",
                                 1 + (index * 131 + issued * 17 + token * 7) % 500);
    at += (size_t) snprintf (body + at, body_alloc - at, "]}");
    size_t alloc = at + 512;
    char *request = malloc (alloc);
    assert (request);
    *size = (size_t) snprintf (request, alloc, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Type: application/json\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
                               key ? "Authorization: Bearer " : "", key ? key : "", key ? "\r\n" : "", at, body);
    free (body);
    return request;
}

static void
s_append (char **data, size_t *size, size_t *alloc, const char *bytes, size_t count)
{
    if (*size + count + 1 > *alloc) {
        *alloc = (*size + count + 1) * 2;
        *data = realloc (*data, *alloc);
        assert (*data);
    }
    memcpy (*data + *size, bytes, count);
    *size += count;
    (*data) [*size] = 0;
}

static void
s_consume (char *data, size_t *size, size_t count)
{
    memmove (data, data + count, *size - count);
    *size -= count;
    data [*size] = 0;
}

//  Parses what arrived; true when the response ended.
static bool
s_parse (s_conn_t *conn)
{
    if (!conn->headers_done) {
        char *end = strstr (conn->in, "\r\n\r\n");
        if (!end)
            return false;
        conn->status = atoi (conn->in + 9);
        conn->headers_done = true;
        if (conn->status != 200)
            return true;              //  an error: the connection is dropped
        s_consume (conn->in, &conn->in_size, (size_t) (end + 4 - conn->in));
    }
    //  Chunks: SIZE\r\nDATA\r\n ... 0\r\n\r\n
    while (true) {
        char *line_end = strstr (conn->in, "\r\n");
        if (!line_end)
            return false;
        size_t chunk = strtoul (conn->in, NULL, 16);
        size_t header = (size_t) (line_end + 2 - conn->in);
        if (chunk == 0)
            return conn->in_size >= header + 2;
        if (conn->in_size < header + chunk + 2)
            return false;
        if (!conn->first_us)
            conn->first_us = zclock_usecs ();
        s_append (&conn->events, &conn->events_size, &conn->events_alloc, conn->in + header, chunk);
        s_consume (conn->in, &conn->in_size, header + chunk + 2);
    }
}

//  Sends the client's next request.
static void
s_send_next (s_conn_t *conn, const char *key, const char *uid, size_t prompt_length, size_t max_tokens)
{
    free (conn->out);
    conn->out = s_request (key, uid, conn->index, conn->issued++, prompt_length, max_tokens, &conn->out_size);
    conn->out_sent = 0;
    conn->in_size = conn->events_size = 0;
    conn->headers_done = false;
    conn->busy = true;
    conn->sent_us = zclock_usecs ();
    conn->first_us = 0;
}

static int
s_compare (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return a < b ? -1 : a > b;
}

//  A request ended: its tokens from the usage chunk, its first event's time.
static void
s_record (s_conn_t *conn, xinf_http_row_t *row, double *ttft, size_t *ttft_count)
{
    const char *usage = conn->events ? strstr (conn->events, "\"completion_tokens\":") : NULL;
    bool ok = conn->status == 200 && usage && conn->events && strstr (conn->events, "data: [DONE]");
    row->requests++;
    if (!ok) {
        row->errors++;
        return;
    }
    row->tokens += atof (usage + strlen ("\"completion_tokens\":"));
    ttft [(*ttft_count)++] = (double) (conn->first_us - conn->sent_us) / 1000;
}

//  Reads and writes what is ready on one connection; true when its request ended.
static bool
s_service (s_conn_t *conn, short revents)
{
    if ((revents & POLLOUT) && conn->out_sent < conn->out_size) {
        ssize_t sent = send (conn->fd, conn->out + conn->out_sent, conn->out_size - conn->out_sent, MSG_NOSIGNAL);
        if (sent > 0)
            conn->out_sent += (size_t) sent;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        char buffer [65536];
        ssize_t count = recv (conn->fd, buffer, sizeof buffer, 0);
        if (count <= 0) {
            conn->status = conn->status ? conn->status : -1;
            return true;
        }
        s_append (&conn->in, &conn->in_size, &conn->in_alloc, buffer, (size_t) count);
        return s_parse (conn);
    }
    return false;
}

xinf_http_row_t
xinf_http_load_run (int port, const char *key, const char *uid, size_t clients, size_t requests,
                    size_t prompt_length, size_t max_tokens, int64_t timeout_s)
{
    xinf_http_row_t row = { .clients = (double) clients };
    s_conn_t *conns = calloc (clients, sizeof *conns);
    struct pollfd *items = calloc (clients, sizeof *items);
    double *ttft = calloc (clients * requests + 1, sizeof *ttft);
    assert (conns && items && ttft);
    size_t ttft_count = 0, active = 0;
    int64_t started = zclock_usecs (), deadline = started + timeout_s * 1000000;
    for (size_t index = 0; index < clients; index++) {
        conns [index].index = index;
        conns [index].fd = s_connect (port);
        if (conns [index].fd >= 0) {
            s_send_next (&conns [index], key, uid, prompt_length, max_tokens);
            active++;
        }
        else
            row.errors += (double) requests;
    }
    while (active > 0 && zclock_usecs () < deadline && !zsys_interrupted) {
        for (size_t index = 0; index < clients; index++) {
            s_conn_t *conn = &conns [index];
            items [index] = (struct pollfd) { conn->busy ? conn->fd : -1,
                                              (short) (POLLIN | (conn->out_sent < conn->out_size ? POLLOUT : 0)), 0 };
        }
        if (poll (items, clients, 100) <= 0)
            continue;
        for (size_t index = 0; index < clients; index++) {
            s_conn_t *conn = &conns [index];
            if (!conn->busy || !items [index].revents || !s_service (conn, items [index].revents))
                continue;
            s_record (conn, &row, ttft, &ttft_count);
            conn->busy = false;
            if (conn->status == 200 && conn->issued < requests)
                s_send_next (conn, key, uid, prompt_length, max_tokens);
            else {
                row.errors += (double) (requests - conn->issued);
                active--;
            }
        }
    }
    row.wall_s = (double) (zclock_usecs () - started) / 1e6;
    row.gen_tok_s = row.wall_s > 0 ? row.tokens / row.wall_s : 0;
    qsort (ttft, ttft_count, sizeof *ttft, s_compare);
    row.ttft_p50 = ttft_count ? ttft [(size_t) ceil (0.5 * (double) ttft_count) - 1] : 0;
    for (size_t index = 0; index < clients; index++) {
        if (conns [index].fd >= 0)
            close (conns [index].fd);
        free (conns [index].out);
        free (conns [index].in);
        free (conns [index].events);
    }
    free (conns);
    free (items);
    free (ttft);
    return row;
}

int *
xinf_http_idle_open (int port, const char *key, const char *uid, size_t count, size_t max_tokens)
{
    int *fds = calloc (count, sizeof *fds);
    assert (fds);
    for (size_t index = 0; index < count; index++) {
        size_t size;
        char *request = s_request (key, uid, index, 0, 4, max_tokens, &size);
        fds [index] = s_connect (port);
        bool ok = fds [index] >= 0 && send (fds [index], request, size, MSG_NOSIGNAL) == (ssize_t) size;
        free (request);
        if (!ok) {
            xinf_http_idle_close (&fds, index + 1);
            return NULL;
        }
    }
    return fds;
}

void
xinf_http_idle_close (int **fds_p, size_t count)
{
    if (fds_p && *fds_p) {
        for (size_t index = 0; index < count; index++)
            if ((*fds_p) [index] >= 0)
                close ((*fds_p) [index]);
        free (*fds_p);
        *fds_p = NULL;
    }
}
