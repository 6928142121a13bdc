/*  xinf_gateway_metrics: GET /metrics in Prometheus' text format.

    What the gateway sees itself: HTTP answers by status, generations by
    model and outcome, prompt and generated tokens, time to first token and
    inter-token gaps as histograms (measured at the gateway, so they
    include the scheduler's queue). What the cluster says, asked when
    /metrics is read: the scheduler's queue and running requests and its
    answers by code (CLUSTER_INFO), every worker's liveness and heartbeat
    age, open waits by actor and what they wait for (WAITS), each model's
    replicas ready and KV blocks: the budget, and per ready replica the
    blocks in use and free as its worker last reported them (LIST_MODELS).
*/
#include "xinf_gateway_private.h"

#define XINF_GW_METRIC_MODELS  1000    //  models tracked; more go under "_other"

static const double s_ttft_bounds [] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
static const double s_itl_bounds [] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5 };
#define S_TTFT_BUCKETS  (sizeof s_ttft_bounds / sizeof s_ttft_bounds [0])
#define S_ITL_BUCKETS   (sizeof s_itl_bounds / sizeof s_itl_bounds [0])

static const char *s_outcomes [] = { "stop", "length", "embedded", "cancelled", "bad_request", "not_found",
                                     "overloaded", "not_ready", "timeout", "error" };
#define S_OUTCOMES  (sizeof s_outcomes / sizeof s_outcomes [0])

typedef struct {
    uint64_t ttft [S_TTFT_BUCKETS + 1], itl [S_ITL_BUCKETS + 1];
    double ttft_sum, itl_sum;
    uint64_t ttft_count, itl_count;
    uint64_t outcomes [S_OUTCOMES];
    uint64_t prompt_tokens, completion_tokens;
} s_model_t;

struct _xinf_gw_metrics_t {
    zhashx_t *models;                 //  uid -> s_model_t
    uint64_t statuses [600];          //  HTTP answers by status
};

xinf_gw_metrics_t *
xinf_gw_metrics_new (void)
{
    xinf_gw_metrics_t *self = calloc (1, sizeof *self);
    assert (self);
    self->models = zhashx_new ();
    zhashx_set_destructor (self->models, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
xinf_gw_metrics_destroy (xinf_gw_metrics_t **self_p)
{
    if (self_p && *self_p) {
        zhashx_destroy (&(*self_p)->models);
        free (*self_p);
        *self_p = NULL;
    }
}

static s_model_t *
s_model (xinf_gw_metrics_t *self, const char *uid)
{
    if (!uid || !*uid)
        uid = "_none";
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, uid);
    if (!model && zhashx_size (self->models) >= XINF_GW_METRIC_MODELS)
        uid = "_other";
    model = (s_model_t *) zhashx_lookup (self->models, uid);
    if (!model) {
        model = calloc (1, sizeof *model);
        assert (model);
        zhashx_insert (self->models, uid, model);
    }
    return model;
}

void
xinf_gw_metrics_http (xinf_gw_metrics_t *self, unsigned status)
{
    self->statuses [status < 600 ? status : 599]++;
}

static void
s_observe (uint64_t *buckets, const double *bounds, size_t count, double value)
{
    size_t index = 0;
    while (index < count && value > bounds [index])
        index++;
    buckets [index]++;
}

void
xinf_gw_metrics_token (xinf_gw_metrics_t *self, const char *uid, double seconds, bool first)
{
    s_model_t *model = s_model (self, uid);
    if (first) {
        s_observe (model->ttft, s_ttft_bounds, S_TTFT_BUCKETS, seconds);
        model->ttft_sum += seconds;
        model->ttft_count++;
    }
    else {
        s_observe (model->itl, s_itl_bounds, S_ITL_BUCKETS, seconds);
        model->itl_sum += seconds;
        model->itl_count++;
    }
}

void
xinf_gw_metrics_end (xinf_gw_metrics_t *self, const char *uid, const char *outcome, size_t prompt_tokens,
                     size_t completion_tokens)
{
    s_model_t *model = s_model (self, uid);
    size_t index = 0;
    while (index < S_OUTCOMES - 1 && !streq (s_outcomes [index], outcome))
        index++;
    model->outcomes [index]++;
    model->prompt_tokens += prompt_tokens;
    model->completion_tokens += completion_tokens;
}

const char *
xinf_gw_metrics_outcome (unsigned status)
{
    return status == 400 || status == 413 ? "bad_request" : status == 404 ? "not_found" : status == 429 ? "overloaded"
         : status == 503 ? "not_ready" : status == 504 ? "timeout" : "error";
}

//  A label value: ", \ and newlines escaped.
static void
s_label (xinf_gw_buf_t *out, const char *text)
{
    for (const char *at = text ? text : ""; *at; at++) {
        if (*at == '"' || *at == '\\')
            xinf_gw_buf_add (out, "\\", 1);
        if (*at == '\n')
            xinf_gw_buf_add_str (out, "\\n");
        else
            xinf_gw_buf_add (out, at, 1);
    }
}

static void
s_line (xinf_gw_buf_t *out, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_line (xinf_gw_buf_t *out, const char *format, ...)
{
    char text [512];
    va_list args, again;
    va_start (args, format);
    va_copy (again, args);
    int length = vsnprintf (text, sizeof text, format, args);
    if (length >= (int) sizeof text) {     //  a long one is written whole, never cut
        char *long_text = malloc ((size_t) length + 1);
        assert (long_text);
        vsnprintf (long_text, (size_t) length + 1, format, again);
        xinf_gw_buf_add (out, long_text, (size_t) length);
        free (long_text);
    }
    else
    if (length > 0)
        xinf_gw_buf_add (out, text, (size_t) length);
    va_end (again);
    va_end (args);
}

static void
s_histogram (xinf_gw_buf_t *out, const char *name, const char *uid, const uint64_t *buckets, const double *bounds,
             size_t count, double sum, uint64_t total)
{
    uint64_t cumulative = 0;
    for (size_t index = 0; index <= count; index++) {
        cumulative += buckets [index];
        s_line (out, "%s_bucket{model=\"", name);
        s_label (out, uid);
        if (index < count)
            s_line (out, "\",le=\"%g\"} %llu\n", bounds [index], (unsigned long long) cumulative);
        else
            s_line (out, "\",le=\"+Inf\"} %llu\n", (unsigned long long) cumulative);
    }
    s_line (out, "%s_sum{model=\"", name);
    s_label (out, uid);
    s_line (out, "\"} %.6f\n%s_count{model=\"", sum, name);
    s_label (out, uid);
    s_line (out, "\"} %llu\n", (unsigned long long) total);
}

//  The gateway's own figures.
static void
s_render_gateway (xinf_gw_metrics_t *self, xinf_gw_buf_t *out)
{
    s_line (out, "# HELP xinf_http_responses_total HTTP answers of the gateway by status.\n"
                 "# TYPE xinf_http_responses_total counter\n");
    for (unsigned status = 100; status < 600; status++)
        if (self->statuses [status])
            s_line (out, "xinf_http_responses_total{status=\"%u\"} %llu\n", status,
                    (unsigned long long) self->statuses [status]);
    s_line (out, "# HELP xinf_requests_total Generations and embedding requests by model and outcome (finish "
                 "reason, embedded, or the error).\n"
                 "# TYPE xinf_requests_total counter\n");
    for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model; model = (s_model_t *) zhashx_next (self->models))
        for (size_t index = 0; index < S_OUTCOMES; index++)
            if (model->outcomes [index]) {
                s_line (out, "xinf_requests_total{model=\"");
                s_label (out, (const char *) zhashx_cursor (self->models));
                s_line (out, "\",outcome=\"%s\"} %llu\n", s_outcomes [index], (unsigned long long) model->outcomes [index]);
            }
    const char *kinds [] = { "prompt", "completion" };
    for (size_t kind = 0; kind < 2; kind++) {
        s_line (out, "# HELP xinf_%s_tokens_total %s tokens of finished generations.\n# TYPE xinf_%s_tokens_total counter\n",
                kinds [kind], kind ? "Generated" : "Prompt", kinds [kind]);
        for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model; model = (s_model_t *) zhashx_next (self->models)) {
            s_line (out, "xinf_%s_tokens_total{model=\"", kinds [kind]);
            s_label (out, (const char *) zhashx_cursor (self->models));
            s_line (out, "\"} %llu\n", (unsigned long long) (kind ? model->completion_tokens : model->prompt_tokens));
        }
    }
    s_line (out, "# HELP xinf_time_to_first_token_seconds From the request to its first token, at the gateway.\n"
                 "# TYPE xinf_time_to_first_token_seconds histogram\n");
    for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model; model = (s_model_t *) zhashx_next (self->models))
        s_histogram (out, "xinf_time_to_first_token_seconds", (const char *) zhashx_cursor (self->models), model->ttft,
                     s_ttft_bounds, S_TTFT_BUCKETS, model->ttft_sum, model->ttft_count);
    s_line (out, "# HELP xinf_inter_token_seconds Gaps between tokens of a stream, at the gateway.\n"
                 "# TYPE xinf_inter_token_seconds histogram\n");
    for (s_model_t *model = (s_model_t *) zhashx_first (self->models); model; model = (s_model_t *) zhashx_next (self->models))
        s_histogram (out, "xinf_inter_token_seconds", (const char *) zhashx_cursor (self->models), model->itl,
                     s_itl_bounds, S_ITL_BUCKETS, model->itl_sum, model->itl_count);
}

static uint64_t
s_uint (const xinf_value_t *map, const char *key)
{
    const xinf_value_t *value = xinf_map_get (map, key);
    return xinf_value_type (value) == XINF_UINT ? xinf_value_uint (value) : 0;
}

//  The scheduler's counters and the workers, from CLUSTER_INFO.
static void
s_render_cluster (xinf_gw_buf_t *out, const xinf_value_t *cluster)
{
    const xinf_value_t *requests = xinf_map_get (cluster, "requests");
    s_line (out, "# HELP xinf_queue_depth Requests queued at the supervisor.\n# TYPE xinf_queue_depth gauge\n"
                 "xinf_queue_depth %llu\n", (unsigned long long) s_uint (requests, "queued"));
    s_line (out, "# HELP xinf_running_requests Requests running on replicas.\n# TYPE xinf_running_requests gauge\n"
                 "xinf_running_requests %llu\n", (unsigned long long) s_uint (requests, "running"));
    s_line (out, "# HELP xinf_scheduler_answers_total The scheduler's terminal answers by code.\n"
                 "# TYPE xinf_scheduler_answers_total counter\n");
    const xinf_value_t *codes = xinf_map_get (requests, "by_code");
    for (size_t index = 0; index < xinf_value_count (codes); index++) {
        s_line (out, "xinf_scheduler_answers_total{code=\"");
        s_label (out, xinf_map_key_at (codes, index));
        s_line (out, "\"} %llu\n", (unsigned long long) (xinf_value_type (xinf_map_value_at (codes, index)) == XINF_UINT
                                                         ? xinf_value_uint (xinf_map_value_at (codes, index)) : 0));
    }
    s_line (out, "# HELP xinf_worker_up 1 while the worker is alive.\n# TYPE xinf_worker_up gauge\n"
                 "# HELP xinf_worker_heartbeat_age_seconds Since the last message from the worker.\n"
                 "# TYPE xinf_worker_heartbeat_age_seconds gauge\n");
    const xinf_value_t *workers = xinf_map_get (cluster, "workers");
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        const xinf_value_t *worker = xinf_array_at (workers, index);
        const char *node = xinf_value_str (xinf_map_get (worker, "node"));
        const char *state = xinf_value_str (xinf_map_get (worker, "state"));
        s_line (out, "xinf_worker_up{node=\"");
        s_label (out, node);
        s_line (out, "\",state=\"");
        s_label (out, state);
        s_line (out, "\"} %d\nxinf_worker_heartbeat_age_seconds{node=\"", state && streq (state, "alive"));
        s_label (out, node);
        s_line (out, "\"} %.3f\n", (double) s_uint (worker, "last_heartbeat_ms") / 1000.0);
    }
}

//  Open waits by actor and what they wait for, from WAITS.
static void
s_render_waits (xinf_gw_buf_t *out, const xinf_value_t *waits)
{
    s_line (out, "# HELP xinf_open_waits Registered waits (older than the reporting threshold) by actor and kind.\n"
                 "# TYPE xinf_open_waits gauge\n");
    zhashx_t *counts = zhashx_new ();
    zhashx_set_destructor (counts, (zhashx_destructor_fn *) zstr_free);
    const xinf_value_t *list = xinf_map_get (waits, "waits");
    for (size_t index = 0; index < xinf_value_count (list); index++) {
        const xinf_value_t *wait = xinf_array_at (list, index);
        char key [300];
        snprintf (key, sizeof key, "%s\t%s", xinf_value_str (xinf_map_get (wait, "actor")) ?: "?",
                  xinf_value_str (xinf_map_get (wait, "what")) ?: "?");
        uint64_t *count = (uint64_t *) zhashx_lookup (counts, key);
        if (!count) {
            count = calloc (1, sizeof *count);
            assert (count);
            zhashx_insert (counts, key, count);
        }
        (*count)++;
    }
    for (uint64_t *count = (uint64_t *) zhashx_first (counts); count; count = (uint64_t *) zhashx_next (counts)) {
        char key [300];
        snprintf (key, sizeof key, "%s", (const char *) zhashx_cursor (counts));
        char *tab = strchr (key, '\t');
        *tab = 0;
        s_line (out, "xinf_open_waits{actor=\"");
        s_label (out, key);
        s_line (out, "\",what=\"");
        s_label (out, tab + 1);
        s_line (out, "\"} %llu\n", (unsigned long long) *count);
    }
    zhashx_destroy (&counts);
}

//  A ready replica's KV blocks in use and free, and its speculative
//  decoding's drafts and accepted ones, when its worker reported them.
static void
s_render_replica_kv (xinf_gw_buf_t *out, const char *uid, const xinf_value_t *replica)
{
    const char *keys [] = { "kv_blocks_used", "kv_blocks_free", "spec_drafts", "spec_accepted" };
    const char *names [] = { "kv_blocks_used", "kv_blocks_free", "spec_draft_tokens_total",
                             "spec_accepted_tokens_total" };
    for (size_t index = 0; index < 4; index++) {
        const char *key = keys [index];
        if (xinf_value_type (xinf_map_get (replica, key)) != XINF_UINT)
            continue;
        s_line (out, "xinf_replica_%s{model=\"", names [index]);
        s_label (out, uid);
        s_line (out, "\",replica=\"%llu\",worker=\"", (unsigned long long) s_uint (replica, "replica"));
        s_label (out, xinf_value_str (xinf_map_get (replica, "worker")));
        s_line (out, "\"} %llu\n", (unsigned long long) s_uint (replica, key));
    }
}

//  Replicas ready and KV blocks per model, from LIST_MODELS.
static void
s_render_models (xinf_gw_buf_t *out, const xinf_value_t *models)
{
    s_line (out, "# HELP xinf_model_replicas_ready Ready replicas of the model.\n# TYPE xinf_model_replicas_ready gauge\n"
                 "# HELP xinf_model_kv_blocks KV cache blocks of a replica of the model (its budget).\n"
                 "# TYPE xinf_model_kv_blocks gauge\n"
                 "# HELP xinf_replica_kv_blocks_used KV cache blocks the replica's sequences hold.\n"
                 "# TYPE xinf_replica_kv_blocks_used gauge\n"
                 "# HELP xinf_replica_kv_blocks_free KV cache blocks free for the replica's next allocation "
                 "(never used, or cached prefixes nobody holds).\n"
                 "# TYPE xinf_replica_kv_blocks_free gauge\n"
                 "# HELP xinf_replica_spec_draft_tokens_total Drafts of speculative decoding the replica's steps "
                 "computed since it was loaded.\n"
                 "# TYPE xinf_replica_spec_draft_tokens_total counter\n"
                 "# HELP xinf_replica_spec_accepted_tokens_total Of the replica's drafts, those accepted.\n"
                 "# TYPE xinf_replica_spec_accepted_tokens_total counter\n");
    const xinf_value_t *list = xinf_map_get (models, "models");
    for (size_t index = 0; index < xinf_value_count (list); index++) {
        const xinf_value_t *model = xinf_array_at (list, index), *replicas = xinf_map_get (model, "replicas");
        size_t ready = 0;
        for (size_t at = 0; at < xinf_value_count (replicas); at++) {
            const char *state = xinf_value_str (xinf_map_get (xinf_array_at (replicas, at), "state"));
            ready += state && streq (state, "ready");
        }
        s_line (out, "xinf_model_replicas_ready{model=\"");
        s_label (out, xinf_value_str (xinf_map_get (model, "uid")));
        s_line (out, "\"} %zu\n", ready);
        if (xinf_map_get (model, "kv_blocks")) {
            s_line (out, "xinf_model_kv_blocks{model=\"");
            s_label (out, xinf_value_str (xinf_map_get (model, "uid")));
            s_line (out, "\"} %llu\n", (unsigned long long) s_uint (model, "kv_blocks"));
        }
        for (size_t at = 0; at < xinf_value_count (replicas); at++)
            s_render_replica_kv (out, xinf_value_str (xinf_map_get (model, "uid")), xinf_array_at (replicas, at));
    }
}

char *
xinf_gw_metrics_render (xinf_gw_metrics_t *self, const xinf_value_t *cluster, const xinf_value_t *waits,
                        const xinf_value_t *models, size_t *size)
{
    xinf_gw_buf_t out = { 0 };
    s_render_gateway (self, &out);
    s_render_cluster (&out, cluster);
    s_render_waits (&out, waits);
    s_render_models (&out, models);
    *size = out.size;
    return out.data;
}
