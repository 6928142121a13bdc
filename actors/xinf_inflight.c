/*  xinf_inflight: a worker's record of the requests its replicas run.  */
#include "xinf_inflight.h"
#include "xinf_node_msg.h"

typedef struct {
    uint64_t request;
    char key [32];
    char uid [65];
    uint64_t replica;
    char client [512];                //  "" when the supervisor did not say
    uint64_t corr;
    bool stream, relayed;
    int64_t deadline;                 //  monotonic ms, 0 = none
    int64_t priority;                 //  the GENERATE's
    xinf_msg_t *last;                 //  RUN_DONE / RUN_FAILED, once ended
    int64_t ended;
} s_run_t;

struct _xinf_inflight_t {
    zhashx_t *runs;                   //  request id -> s_run_t
};

static void
s_run_free (void **item)
{
    s_run_t *run = (s_run_t *) *item;
    xinf_msg_destroy (&run->last);
    free (run);
    *item = NULL;
}

xinf_inflight_t *
xinf_inflight_new (void)
{
    xinf_inflight_t *self = calloc (1, sizeof *self);
    assert (self);
    self->runs = zhashx_new ();
    zhashx_set_destructor (self->runs, s_run_free);
    return self;
}

void
xinf_inflight_destroy (xinf_inflight_t **self_p)
{
    if (self_p && *self_p) {
        zhashx_destroy (&(*self_p)->runs);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_key (uint64_t request, char *key, size_t size)
{
    snprintf (key, size, "%llu", (unsigned long long) request);
}

void
xinf_inflight_started (xinf_inflight_t *self, const xinf_value_t *body, int64_t now)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_run_t started;
    xinf_node_msg_run_decode (body, &started, &check);
    if (check.failed || !*started.client)
        return;                       //  nothing a supervisor could answer
    uint64_t request = started.request, replica = started.replica, corr = started.corr;
    uint64_t left = started.has_deadline_ms ? started.deadline_ms : 0;
    const char *uid = started.uid, *client = started.client;
    bool stream = started.stream;
    s_run_t *run = calloc (1, sizeof *run);
    assert (run);
    run->request = request;
    s_key (request, run->key, sizeof run->key);
    snprintf (run->uid, sizeof run->uid, "%s", uid);
    run->replica = replica;
    snprintf (run->client, sizeof run->client, "%s", client);
    run->corr = corr;
    run->stream = stream;
    run->deadline = left ? now + (int64_t) left : 0;
    int64_t priority = xinf_value_int (xinf_map_get (body, "priority"));
    run->priority = priority >= -1000000 && priority <= 1000000 ? priority : 0;
    zhashx_update (self->runs, run->key, run);
}

void
xinf_inflight_reply (xinf_inflight_t *self, xinf_msg_t *msg, int64_t now)
{
    char key [32];
    s_key (xinf_value_uint (xinf_map_get (xinf_msg_body (msg), "request")), key, sizeof key);
    s_run_t *run = (s_run_t *) zhashx_lookup (self->runs, key);
    if (!run || run->last)
        return;
    if (xinf_msg_is (msg, "RUN_TOKEN"))
        run->relayed = true;
    else {
        //  A copy of the body: the message itself goes up and is consumed
        run->last = xinf_msg_new (xinf_msg_type (msg));
        xinf_value_t *body = xinf_msg_body (msg);
        for (size_t at = 0; at < xinf_value_count (body); at++)
            xinf_map_put (xinf_msg_body (run->last), xinf_map_key_at (body, at),
                          xinf_value_dup (xinf_map_value_at (body, at)));
        run->ended = now;
    }
}

void
xinf_inflight_forget (xinf_inflight_t *self, uint64_t request)
{
    char key [32];
    s_key (request, key, sizeof key);
    zhashx_delete (self->runs, key);
}

void
xinf_inflight_forget_replica (xinf_inflight_t *self, const char *uid, uint64_t replica)
{
    zlist_t *keys = zlist_new ();
    zlist_autofree (keys);
    for (s_run_t *run = (s_run_t *) zhashx_first (self->runs); run; run = (s_run_t *) zhashx_next (self->runs))
        if (streq (run->uid, uid) && run->replica == replica && !run->last)
            zlist_append (keys, run->key);
    for (char *key = (char *) zlist_first (keys); key; key = (char *) zlist_next (keys))
        zhashx_delete (self->runs, key);
    zlist_destroy (&keys);
}

void
xinf_inflight_prune (xinf_inflight_t *self, int64_t now, int64_t keep_ms)
{
    zlist_t *keys = zlist_new ();
    zlist_autofree (keys);
    for (s_run_t *run = (s_run_t *) zhashx_first (self->runs); run; run = (s_run_t *) zhashx_next (self->runs))
        if (run->last && now - run->ended > keep_ms)
            zlist_append (keys, run->key);
    for (char *key = (char *) zlist_first (keys); key; key = (char *) zlist_next (keys))
        zhashx_delete (self->runs, key);
    zlist_destroy (&keys);
}

xinf_value_t *
xinf_inflight_report (xinf_inflight_t *self, int64_t now)
{
    xinf_value_t *report = xinf_value_new_array ();
    for (s_run_t *run = (s_run_t *) zhashx_first (self->runs);
         run && xinf_value_count (report) < XINF_INFLIGHT_REPORT_MAX; run = (s_run_t *) zhashx_next (self->runs)) {
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_uint (item, "request", run->request);
        xinf_map_put_str (item, "uid", run->uid);
        xinf_map_put_uint (item, "replica", run->replica);
        xinf_map_put_str (item, "client", run->client);
        xinf_map_put_uint (item, "corr", run->corr);
        xinf_map_put_bool (item, "stream", run->stream);
        xinf_map_put_bool (item, "relayed", run->relayed);
        if (run->deadline)
            xinf_map_put_uint (item, "deadline_ms", (uint64_t) (run->deadline > now ? run->deadline - now : 1));
        if (run->priority)
            xinf_map_put_int (item, "priority", run->priority);
        xinf_array_push (report, item);
    }
    return report;
}

static int
s_by_end (const void *left, const void *right)
{
    const s_run_t *a = (const s_run_t *) left, *b = (const s_run_t *) right;
    return a->ended < b->ended ? -1 : a->ended > b->ended;
}

zlist_t *
xinf_inflight_take_finals (xinf_inflight_t *self)
{
    zlist_t *ended = zlist_new ();
    for (s_run_t *run = (s_run_t *) zhashx_first (self->runs); run; run = (s_run_t *) zhashx_next (self->runs))
        if (run->last)
            zlist_append (ended, run);
    zlist_sort (ended, (zlist_compare_fn *) s_by_end);
    zlist_t *finals = zlist_new ();
    for (s_run_t *run = (s_run_t *) zlist_first (ended); run; run = (s_run_t *) zlist_next (ended)) {
        zlist_append (finals, run->last);
        run->last = NULL;
        zhashx_delete (self->runs, run->key);
    }
    zlist_destroy (&ended);
    return finals;
}

size_t
xinf_inflight_size (xinf_inflight_t *self)
{
    return zhashx_size (self->runs);
}
