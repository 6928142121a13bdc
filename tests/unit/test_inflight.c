/*  test_inflight: a worker's record of its runs (actors/xinf_inflight):
    runs noted from RUN, a token marks one relayed, its last word is kept
    until acknowledged or too old, reports for HELLO, last words taken in
    the order the runs ended, cancelled runs and stopped replicas
    forgotten, runs without a client never reported.  */
#include "test_unit.h"
#include "xinf_inflight.h"

static xinf_value_t *
s_run (uint64_t request, uint64_t replica, const char *client)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_uint (body, "request", request);
    xinf_map_put_str (body, "uid", "m");
    xinf_map_put_uint (body, "replica", replica);
    if (client)
        xinf_map_put_str (body, "client", client);
    xinf_map_put_uint (body, "corr", request * 10);
    xinf_map_put_uint (body, "deadline_ms", 1000);
    xinf_map_put_bool (body, "stream", true);
    return body;
}

static void
s_start (xinf_inflight_t *inflight, uint64_t request, uint64_t replica, const char *client, int64_t now)
{
    xinf_value_t *body = s_run (request, replica, client);
    xinf_inflight_started (inflight, body, now);
    xinf_value_destroy (&body);
}

static void
s_say (xinf_inflight_t *inflight, const char *type, uint64_t request, int64_t now)
{
    xinf_msg_t *msg = xinf_msg_new (type);
    xinf_map_put_uint (xinf_msg_body (msg), "request", request);
    xinf_inflight_reply (inflight, msg, now);
    xinf_msg_destroy (&msg);
}

static const xinf_value_t *
s_find (const xinf_value_t *report, uint64_t request)
{
    for (size_t index = 0; index < xinf_value_count (report); index++)
        if (xinf_value_uint (xinf_map_get (xinf_array_at (report, index), "request")) == request)
            return xinf_array_at (report, index);
    return NULL;
}

static void
test_inflight (void)
{
    xinf_inflight_t *inflight = xinf_inflight_new ();
    s_start (inflight, 1, 0, "c1", 0);
    s_start (inflight, 2, 0, "c1", 0);
    s_start (inflight, 3, 1, "c2", 0);
    s_start (inflight, 4, 0, NULL, 0);            //  no client: nothing to answer
    CHECK_INT (xinf_inflight_size (inflight), 3);
    s_say (inflight, "RUN_TOKEN", 1, 10);
    s_say (inflight, "RUN_DONE", 2, 20);
    s_say (inflight, "RUN_FAILED", 1, 30);
    xinf_value_t *report = xinf_inflight_report (inflight, 100);
    CHECK_INT (xinf_value_count (report), 3);
    const xinf_value_t *first = s_find (report, 1);
    CHECK (xinf_value_bool (xinf_map_get (first, "relayed")));
    CHECK_STR (xinf_value_str (xinf_map_get (first, "client")), "c1");
    CHECK_INT (xinf_value_uint (xinf_map_get (first, "corr")), 10);
    CHECK_INT (xinf_value_uint (xinf_map_get (first, "deadline_ms")), 900);
    CHECK (!xinf_value_bool (xinf_map_get (s_find (report, 3), "relayed")));
    xinf_value_destroy (&report);
    //  The last words, oldest first; afterwards they are gone
    zlist_t *finals = xinf_inflight_take_finals (inflight);
    CHECK_INT (zlist_size (finals), 2);
    xinf_msg_t *msg = (xinf_msg_t *) zlist_pop (finals);
    CHECK (xinf_msg_is (msg, "RUN_DONE"));
    xinf_msg_destroy (&msg);
    msg = (xinf_msg_t *) zlist_pop (finals);
    CHECK (xinf_msg_is (msg, "RUN_FAILED"));
    xinf_msg_destroy (&msg);
    zlist_destroy (&finals);
    CHECK_INT (xinf_inflight_size (inflight), 1);
    //  An acknowledged last word is not kept; an old one is pruned
    s_start (inflight, 5, 0, "c1", 200);
    s_start (inflight, 6, 0, "c1", 200);
    s_say (inflight, "RUN_DONE", 5, 210);
    s_say (inflight, "RUN_DONE", 6, 300);
    xinf_inflight_forget (inflight, 5);
    xinf_inflight_prune (inflight, 1300, 1000);
    CHECK_INT (xinf_inflight_size (inflight), 2);
    xinf_inflight_prune (inflight, 1301, 1000);
    CHECK_INT (xinf_inflight_size (inflight), 1);
    //  A stopped replica's runs are over
    xinf_inflight_forget_replica (inflight, "m", 1);
    CHECK_INT (xinf_inflight_size (inflight), 0);
    xinf_inflight_destroy (&inflight);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_inflight);
    return 0;
}
