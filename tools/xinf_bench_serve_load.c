/*  xinf_bench_serve_load: the clients of xinf-bench-serve (see the header).

    Decode tok/s is the tokens after each request's first over the time
    during which some request was decoding (the union of first-to-last-token
    spans), so that it means the same with one stream at a time and with
    many at once; generated tok/s is all tokens over the wall time.
*/
#include "xinf_bench_serve_load.h"

#include <math.h>

//  One request: when it was sent, when each token came, how it ended.
typedef struct {
    size_t client;
    int64_t sent_us, reply_us;
    int64_t *times;
    size_t count, alloc;
    bool failed;
} s_request_t;

//  One client: a DEALER, one request in flight at most.
typedef struct {
    xinf_dealer_t *dealer;
    size_t index, issued, budget;
    size_t prompt_length, max_tokens;
    size_t start_after;               //  tokens seen in the run before it sends
    s_request_t *current;
    uint64_t corr;
} s_client_t;

//  One measured run: its clients and every request they made.
struct _xinf_load_t {
    const char *endpoint, *uid;
    s_client_t *clients;
    size_t client_count;
    s_request_t **requests;
    size_t request_count, request_alloc;
    size_t tokens_seen;
    int64_t started_us, timeout_us;
    uint64_t next_corr;
    bool reported;                    //  the first error was printed
    double temperature, top_p;        //  the requests' sampling
    long logprobs;                    //  top_logprobs each token reports; -1: none
};

// ---- small helpers ----------------------------------------------------------

//  Appends a double to a growable array.
static void
s_push (double **values, size_t *count, size_t *alloc, double value)
{
    if (*count == *alloc) {
        *alloc = *alloc ? *alloc * 2 : 64;
        *values = realloc (*values, *alloc * sizeof **values);
        assert (*values);
    }
    (*values) [(*count)++] = value;
}

//  qsort order: ascending doubles.
static int
s_compare (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return a < b ? -1 : a > b;
}

//  Nearest-rank percentile (q in 0..1) of values, sorted in place; 0 if none.
static double
s_percentile (double *values, size_t count, double q)
{
    if (count == 0)
        return 0;
    qsort (values, count, sizeof *values, s_compare);
    size_t rank = (size_t) ceil (q * (double) count);
    return values [rank > 0 ? rank - 1 : 0];
}

// ---- clients ----------------------------------------------------------------

void
xinf_load_set_sampling (xinf_load_t *self, double temperature, double top_p, long logprobs)
{
    self->temperature = temperature;
    self->top_p = top_p;
    self->logprobs = logprobs;
}

//  Sends the client's next GENERATE; false when the socket cannot take it yet.
static bool
s_client_send (xinf_load_t *run, s_client_t *client)
{
    xinf_msg_t *request = xinf_msg_new ("GENERATE");
    xinf_value_t *body = xinf_msg_body (request);
    xinf_map_put_str (body, "uid", run->uid);
    xinf_value_t *ids = xinf_value_new_array ();
    for (size_t index = 0; index < client->prompt_length; index++)
        xinf_array_push (ids, xinf_value_new_uint (1 + (client->index * 131 + client->issued * 17 + index * 7) % 500));
    xinf_map_put (body, "prompt_tokens", ids);
    xinf_map_put_uint (body, "max_tokens", client->max_tokens);
    xinf_map_put_float (body, "temperature", run->temperature);
    if (run->temperature > 0 && run->top_p < 1)
        xinf_map_put_float (body, "top_p", run->top_p);
    if (run->temperature > 0)
        xinf_map_put_uint (body, "seed", client->index * 1000003 + client->issued);
    if (run->logprobs >= 0) {
        xinf_map_put_bool (body, "logprobs", true);
        xinf_map_put_uint (body, "top_logprobs", (uint64_t) run->logprobs);
    }
    xinf_map_put_bool (body, "stream", true);
    client->corr = run->next_corr++;
    xinf_msg_set_corr (request, client->corr);
    xinf_msg_set_deadline (request, (uint64_t) (run->timeout_us / 1000));
    int64_t now = zclock_usecs ();
    if (xinf_dealer_send (client->dealer, &request)) {
        xinf_msg_destroy (&request);
        return false;
    }
    s_request_t *record = calloc (1, sizeof *record);
    assert (record);
    record->client = client->index;
    record->sent_us = now;
    if (run->request_count == run->request_alloc) {
        run->request_alloc = run->request_alloc ? run->request_alloc * 2 : 64;
        run->requests = realloc (run->requests, run->request_alloc * sizeof *run->requests);
        assert (run->requests);
    }
    run->requests [run->request_count++] = record;
    client->current = record;
    client->issued++;
    return true;
}

//  Ends the client's request (reply, error or silence).
static void
s_client_end (xinf_load_t *run, s_client_t *client, bool failed, const char *why)
{
    client->current->failed = failed;
    client->current->reply_us = zclock_usecs ();
    client->current = NULL;
    if (failed && !run->reported) {
        fprintf (stderr, "xinf-bench-serve: request failed: %s\n", why);
        run->reported = true;
    }
}

//  Handles one message for a client: a token, the reply, or an error.
static void
s_client_on (xinf_load_t *run, s_client_t *client, xinf_msg_t *msg)
{
    s_request_t *request = client->current;
    if (!request || xinf_msg_corr (msg) != client->corr)
        return;                       //  stale: a request given up on
    if (xinf_msg_is (msg, "GENERATE_TOKEN")) {
        if (request->count == request->alloc) {
            request->alloc = request->alloc ? request->alloc * 2 : 64;
            request->times = realloc (request->times, request->alloc * sizeof *request->times);
            assert (request->times);
        }
        request->times [request->count++] = zclock_usecs ();
        run->tokens_seen++;
    }
    else
    if (xinf_msg_is (msg, "GENERATE_REPLY"))
        s_client_end (run, client, request->count == 0, "a reply without streamed tokens");
    else {
        char why [512];
        xinf_value_t *body = xinf_msg_body (msg);
        snprintf (why, sizeof why, "%s %s: %s", xinf_msg_type (msg), xinf_value_str (xinf_map_get (body, "code")) ?: "",
                  xinf_value_str (xinf_map_get (body, "message")) ?: "");
        s_client_end (run, client, true, why);
    }
}

//  Reads every message queued on the client's socket.
static void
s_client_drain (xinf_load_t *run, s_client_t *client)
{
    while (zsock_events (xinf_dealer_sock (client->dealer)) & ZMQ_POLLIN) {
        char error [256];
        xinf_msg_t *msg = xinf_dealer_recv (client->dealer, 0, error, sizeof error);
        if (!msg)
            break;
        s_client_on (run, client, msg);
        xinf_msg_destroy (&msg);
    }
}

//  Sends what is due, gives up on silent requests; true while work remains.
static bool
s_run_tick (xinf_load_t *run)
{
    bool busy = false;
    int64_t now = zclock_usecs ();
    for (size_t index = 0; index < run->client_count; index++) {
        s_client_t *client = &run->clients [index];
        //  The supervisor answers ERROR at the deadline; this is in case it cannot
        if (client->current && now - client->current->sent_us > run->timeout_us + 5000000)
            s_client_end (run, client, true, "no reply within the request's deadline");
        if (!client->current && client->issued < client->budget && run->tokens_seen >= client->start_after)
            s_client_send (run, client);
        busy |= client->current != NULL || client->issued < client->budget;
    }
    return busy;
}

//  Runs the clients until every request ended; the poll loop of the benchmark.
void
xinf_load_run (xinf_load_t *run)
{
    zmq_pollitem_t *items = calloc (run->client_count, sizeof *items);
    assert (items);
    for (size_t index = 0; index < run->client_count; index++)
        items [index] = (zmq_pollitem_t) { zsock_resolve (xinf_dealer_sock (run->clients [index].dealer)), 0, ZMQ_POLLIN, 0 };
    run->started_us = zclock_usecs ();
    while (s_run_tick (run) && !zsys_interrupted) {
        if (zmq_poll (items, (int) run->client_count, 20) <= 0)
            continue;
        for (size_t index = 0; index < run->client_count; index++)
            if (items [index].revents & ZMQ_POLLIN)
                s_client_drain (run, &run->clients [index]);
    }
    free (items);
}

//  A run of 'count' clients, all with the same lengths.
xinf_load_t *
xinf_load_new (const char *endpoint, const char *uid, size_t count, size_t requests, size_t prompt_length,
               size_t max_tokens, int64_t timeout_s)
{
    xinf_load_t *run = calloc (1, sizeof *run);
    assert (run);
    run->endpoint = endpoint;
    run->uid = uid;
    run->timeout_us = timeout_s * 1000000;
    run->top_p = 1;
    run->logprobs = -1;
    run->next_corr = ((uint64_t) getpid () << 32) + 1;
    run->clients = calloc (count, sizeof *run->clients);
    assert (run->clients);
    run->client_count = count;
    for (size_t index = 0; index < count; index++) {
        s_client_t *client = &run->clients [index];
        client->dealer = xinf_dealer_new (endpoint, "xinf-bench-serve");
        assert (client->dealer);
        client->index = index;
        client->budget = requests;
        client->prompt_length = prompt_length;
        client->max_tokens = max_tokens;
    }
    zclock_sleep (100);               //  let the connections finish
    return run;
}

//  Closes the clients and frees the records.
void
xinf_load_destroy (xinf_load_t **run_p)
{
    xinf_load_t *run = *run_p;
    for (size_t index = 0; index < run->client_count; index++)
        xinf_dealer_destroy (&run->clients [index].dealer);
    for (size_t index = 0; index < run->request_count; index++) {
        free (run->requests [index]->times);
        free (run->requests [index]);
    }
    free (run->requests);
    free (run->clients);
    free (run);
    *run_p = NULL;
}

// ---- statistics -------------------------------------------------------------

//  A request's decode span, first to last token (us).
typedef struct {
    int64_t start, end;
} s_span_t;

//  qsort order: spans by start.
static int
s_compare_spans (const void *left, const void *right)
{
    int64_t a = ((const s_span_t *) left)->start, b = ((const s_span_t *) right)->start;
    return a < b ? -1 : a > b;
}

//  Total length of the union of the requests' decode spans (first to last
//  token), in us: the time during which some request was decoding.
static double
s_decode_busy_us (xinf_load_t *run)
{
    s_span_t *spans = calloc (run->request_count + 1, sizeof *spans);
    assert (spans);
    size_t count = 0;
    for (size_t index = 0; index < run->request_count; index++) {
        s_request_t *request = run->requests [index];
        if (request->count >= 2)
            spans [count++] = (s_span_t) { request->times [0], request->times [request->count - 1] };
    }
    qsort (spans, count, sizeof *spans, s_compare_spans);
    int64_t busy = 0, reach = INT64_MIN;
    for (size_t index = 0; index < count; index++) {
        if (spans [index].end <= reach)
            continue;
        busy += spans [index].end - (spans [index].start > reach ? spans [index].start : reach);
        reach = spans [index].end;
    }
    free (spans);
    return (double) busy;
}

//  qsort order: times.
static int
s_compare_times (const void *left, const void *right)
{
    int64_t a = *(const int64_t *) left, b = *(const int64_t *) right;
    return a < b ? -1 : a > b;
}

//  Decode tok/s while every client's request was decoding at once (from
//  the last of their first tokens to the first of their last ones), as
//  llama-batched-bench's S_TG measures all sequences decoding in lock
//  step: tokens that came in such spans over their length. 0 if never.
static double
s_full_batch_tok_s (xinf_load_t *run)
{
    //  Span edges: +1 at a request's first token, -1 at its last (encoded
    //  as time * 2 + (0 for an end, 1 for a start), so ends sort first).
    int64_t *edges = calloc (2 * run->request_count + 1, sizeof *edges);
    assert (edges);
    size_t count = 0;
    for (size_t index = 0; index < run->request_count; index++) {
        s_request_t *request = run->requests [index];
        if (request->count < 2)
            continue;
        edges [count++] = request->times [0] * 2 + 1;
        edges [count++] = request->times [request->count - 1] * 2;
    }
    qsort (edges, count, sizeof *edges, s_compare_times);
    double tokens = 0, span_us = 0;
    size_t depth = 0;
    for (size_t at = 0; at < count; at++) {
        depth += (edges [at] & 1) ? 1 : (size_t) -1;
        if (depth != run->client_count || at + 1 == count)
            continue;
        int64_t from = edges [at] >> 1, to = edges [at + 1] >> 1;
        span_us += (double) (to - from);
        for (size_t index = 0; index < run->request_count; index++) {
            s_request_t *request = run->requests [index];
            for (size_t token = 1; token < request->count; token++)
                tokens += request->times [token] > from && request->times [token] <= to;
        }
    }
    free (edges);
    return span_us > 0 ? tokens * 1e6 / span_us : 0;
}

//  The table row of a finished run.
xinf_load_row_t
xinf_load_row (xinf_load_t *run)
{
    xinf_load_row_t row = { .clients = (double) run->client_count, .requests = (double) run->request_count };
    double *ttft = NULL, *gaps = NULL;
    size_t ttft_count = 0, ttft_alloc = 0, gap_count = 0, gap_alloc = 0, decode_tokens = 0;
    int64_t last = run->started_us;
    for (size_t index = 0; index < run->request_count; index++) {
        s_request_t *request = run->requests [index];
        row.errors += request->failed;
        row.tokens += (double) request->count;
        last = request->reply_us > last ? request->reply_us : last;
        if (request->count == 0)
            continue;
        s_push (&ttft, &ttft_count, &ttft_alloc, (double) (request->times [0] - request->sent_us) / 1000);
        for (size_t at = 1; at < request->count; at++)
            s_push (&gaps, &gap_count, &gap_alloc, (double) (request->times [at] - request->times [at - 1]) / 1000);
        decode_tokens += request->count - 1;
    }
    row.wall_s = (double) (last - run->started_us) / 1e6;
    row.gen_tok_s = row.wall_s > 0 ? row.tokens / row.wall_s : 0;
    double busy_us = s_decode_busy_us (run);
    row.decode_tok_s = busy_us > 0 ? (double) decode_tokens * 1e6 / busy_us : 0;
    row.full_tok_s = s_full_batch_tok_s (run);
    row.ttft_p50 = s_percentile (ttft, ttft_count, 0.50);
    row.ttft_p99 = s_percentile (ttft, ttft_count, 0.99);
    row.itl_p50 = s_percentile (gaps, gap_count, 0.50);
    row.itl_p99 = s_percentile (gaps, gap_count, 0.99);
    free (ttft);
    free (gaps);
    return row;
}

// ---- the interference run ---------------------------------------------------

//  Splits the streams' gaps into before the long prompt came and during its prefill.
static void
s_long_gaps (xinf_load_t *run, s_request_t *late, xinf_load_late_t *result)
{
    int64_t from = late->sent_us, to = late->count ? late->times [0] : late->reply_us;
    double *before = NULL, *during = NULL;
    size_t before_count = 0, before_alloc = 0, during_count = 0, during_alloc = 0;
    for (size_t index = 0; index < run->request_count; index++) {
        s_request_t *request = run->requests [index];
        for (size_t at = 1; request != late && at < request->count; at++) {
            int64_t start = request->times [at - 1], end = request->times [at];
            double gap = (double) (end - start) / 1000;
            if (end <= from)
                s_push (&before, &before_count, &before_alloc, gap);
            else
            if (start < to)
                s_push (&during, &during_count, &during_alloc, gap);
        }
    }
    result->gaps = (double) during_count;
    result->before_p50 = s_percentile (before, before_count, 0.50);
    result->during_p50 = s_percentile (during, during_count, 0.50);
    result->during_p99 = s_percentile (during, during_count, 0.99);
    result->during_max = s_percentile (during, during_count, 1.0);
    free (before);
    free (during);
}

//  Gives one client its own lengths and start condition.
void
xinf_load_set_client (xinf_load_t *self, size_t index, size_t prompt_length, size_t max_tokens, size_t start_after)
{
    assert (index < self->client_count);
    self->clients [index].prompt_length = prompt_length;
    self->clients [index].max_tokens = max_tokens;
    self->clients [index].start_after = start_after;
}

//  The long prompt's TTFT and the streams' gaps before and during its prefill.
xinf_load_late_t
xinf_load_late (xinf_load_t *self, size_t late_client)
{
    xinf_load_late_t result = { .streams = (double) (self->client_count - 1),
                                .prompt_length = (double) self->clients [late_client].prompt_length };
    s_request_t *late = NULL;
    for (size_t index = 0; index < self->request_count; index++) {
        result.errors += self->requests [index]->failed;
        if (self->requests [index]->client == late_client)
            late = self->requests [index];
    }
    if (late && late->count) {
        result.ttft_ms = (double) (late->times [0] - late->sent_us) / 1000;
        result.prefill_tok_s = result.prompt_length * 1000 / result.ttft_ms;
    }
    if (late)
        s_long_gaps (self, late, &result);
    result.ratio = result.during_p50 > 0 ? result.during_p99 / result.during_p50 : 0;
    return result;
}
