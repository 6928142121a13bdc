/*  test_scheduler.h: the kit of the scheduler's tests (test_scheduler.c,
    test_scheduler_faults.c): a scheduler whose sends are recorded, and
    helpers to submit requests and answer runs with explicit times.  */
#ifndef TEST_SCHEDULER_H_INCLUDED
#define TEST_SCHEDULER_H_INCLUDED

#include "test_unit.h"
#include "xinf_scheduler.h"
#include "xinf_node_msg.h"
#include "xinf_client_msg.h"
#include "xinf_envelope_msg.h"

#include <errno.h>

typedef struct {
    char to [512];
    bool to_node;
    xinf_msg_t *msg;
} s_sent_t;

typedef struct {
    zlistx_t *sent;
    bool client_refuses;              //  to_client fails (a client gone: EHOSTUNREACH)
    bool node_refuses;                //  to_node fails (a worker reconnecting: EHOSTUNREACH)
    size_t client_full;               //  so many next sends to clients fail (a queue full: EAGAIN)
} s_io_t;

static inline void
s_sent_free (void **item)
{
    s_sent_t *sent = (s_sent_t *) *item;
    xinf_msg_destroy (&sent->msg);
    free (sent);
    *item = NULL;
}

static inline int
s_record (s_io_t *io, const char *to, bool to_node, xinf_msg_t **msg_p)
{
    if (to_node ? io->node_refuses : io->client_refuses) {
        xinf_msg_destroy (msg_p);
        errno = EHOSTUNREACH;
        return -1;
    }
    if (!to_node && io->client_full) {
        io->client_full--;
        xinf_msg_destroy (msg_p);
        errno = EAGAIN;
        return -1;
    }
    //  Everything the scheduler sends is what its schema says (node.xml
    //  to workers; client.xml, envelope.xml to clients)
    xinf_check_t check = XINF_CHECK_INIT;
    const char *type = xinf_msg_type (*msg_p);
    const xinf_value_t *body = xinf_msg_body (*msg_p);
    int rc = to_node ? xinf_node_msg_validate (type, body, &check)
                     : xinf_client_msg_validate (type, body, &check) == 1 ? xinf_envelope_msg_validate (type, body, &check)
                     : check.failed ? -1 : 0;
    if (rc != 0)
        fprintf (stderr, "sent %s breaks its schema (%d): %s\n", type, rc, check.reason);
    CHECK (rc == 0);
    s_sent_t *sent = calloc (1, sizeof *sent);
    snprintf (sent->to, sizeof sent->to, "%s", to);
    sent->to_node = to_node;
    sent->msg = *msg_p;
    *msg_p = NULL;
    zlistx_add_end (io->sent, sent);
    return 0;
}

static inline int
s_to_node (void *arg, const char *node, xinf_msg_t **msg_p)
{
    return s_record ((s_io_t *) arg, node, true, msg_p);
}

static inline int
s_to_client (void *arg, const char *client, xinf_msg_t **msg_p)
{
    return s_record ((s_io_t *) arg, client, false, msg_p);
}

static inline xinf_scheduler_t *
s_new (s_io_t *io)
{
    io->sent = zlistx_new ();
    zlistx_set_destructor (io->sent, s_sent_free);
    io->client_refuses = io->node_refuses = false;
    io->client_full = 0;
    xinf_scheduler_io_t callbacks = { s_to_node, s_to_client, io };
    return xinf_scheduler_new (&callbacks);
}

static inline void
s_end (xinf_scheduler_t **scheduler, s_io_t *io)
{
    xinf_scheduler_destroy (scheduler);
    zlistx_destroy (&io->sent);
}

//  Takes the first recorded message of 'type' (to 'to', when given).
static inline xinf_msg_t *
s_take (s_io_t *io, const char *type, const char *to)
{
    for (s_sent_t *sent = (s_sent_t *) zlistx_first (io->sent); sent; sent = (s_sent_t *) zlistx_next (io->sent))
        if (xinf_msg_is (sent->msg, type) && (!to || streq (sent->to, to))) {
            xinf_msg_t *msg = sent->msg;
            sent->msg = NULL;
            zlistx_delete (io->sent, zlistx_cursor (io->sent));
            return msg;
        }
    return NULL;
}

static inline size_t
s_count (s_io_t *io, const char *type)
{
    size_t count = 0;
    for (s_sent_t *sent = (s_sent_t *) zlistx_first (io->sent); sent; sent = (s_sent_t *) zlistx_next (io->sent))
        count += xinf_msg_is (sent->msg, type);
    return count;
}

static inline void
s_submit_priority (xinf_scheduler_t *scheduler, const char *client, uint64_t corr, bool stream, uint64_t budget,
                   int64_t now, int64_t priority)
{
    xinf_value_t *body = xinf_value_new_map ();
    if (priority)
        xinf_map_put_int (body, "priority", priority);
    xinf_map_put_str (body, "uid", "m");
    xinf_value_t *tokens = xinf_value_new_array ();
    xinf_array_push (tokens, xinf_value_new_uint (1));
    xinf_map_put (body, "prompt_tokens", tokens);
    xinf_map_put_uint (body, "max_tokens", 4);
    xinf_map_put_bool (body, "stream", stream);
    xinf_scheduler_submit (scheduler, client, corr, budget, &body, now);
    CHECK (body == NULL);
}

static inline void
s_submit (xinf_scheduler_t *scheduler, const char *client, uint64_t corr, bool stream, uint64_t budget, int64_t now)
{
    s_submit_priority (scheduler, client, corr, stream, budget, now, 0);
}

static inline uint64_t
s_uint (xinf_msg_t *msg, const char *key)
{
    return xinf_value_uint (xinf_map_get (xinf_msg_body (msg), key));
}

static inline const char *
s_str (xinf_msg_t *msg, const char *key)
{
    return xinf_value_str (xinf_map_get (xinf_msg_body (msg), key));
}

//  A worker's reply to run 'run'.
static inline void
s_reply (xinf_scheduler_t *scheduler, const char *node, const char *type, uint64_t run, const char *code, int64_t now)
{
    xinf_msg_t *msg = xinf_msg_new (type);
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_uint (body, "request", run);
    if (streq (type, "RUN_TOKEN")) {
        xinf_map_put_uint (body, "index", 0);
        xinf_map_put_uint (body, "token", 7);
        xinf_map_put_str (body, "text", "x");
    }
    else
    if (streq (type, "RUN_DONE")) {
        //  Whole, as node.xml has it: the scheduler validates it all
        xinf_map_put (body, "prompt_tokens", xinf_value_new_array ());
        xinf_map_put (body, "tokens", xinf_value_new_array ());
        xinf_map_put_str (body, "text", "");
        xinf_map_put_str (body, "finish_reason", "length");
        xinf_value_t *timings = xinf_value_new_map ();
        const char *keys [] = { "prefill_ms", "prefill_tokens_per_s", "decode_ms", "decode_tokens_per_s" };
        for (size_t at = 0; at < 4; at++)
            xinf_map_put_float (timings, keys [at], 1);
        xinf_map_put (body, "timings", timings);
    }
    else {
        xinf_map_put_str (body, "code", code);
        xinf_map_put_str (body, "message", "it broke");
    }
    xinf_scheduler_run_reply (scheduler, node, msg, now);
    xinf_msg_destroy (&msg);
}

//  w0 reports its run 'run' of model m (replica 0) for the client's 'corr',
//  streamed, as HELLO's `requests` does.
static inline void
s_adopt (xinf_scheduler_t *scheduler, uint64_t run, const char *client, uint64_t corr, int64_t now)
{
    xinf_value_t *requests = xinf_value_new_array ();
    xinf_value_t *item = xinf_value_new_map ();
    xinf_map_put_uint (item, "request", run);
    xinf_map_put_str (item, "uid", "m");
    xinf_map_put_uint (item, "replica", 0);
    xinf_map_put_str (item, "client", client);
    xinf_map_put_uint (item, "corr", corr);
    xinf_map_put_bool (item, "stream", true);
    xinf_array_push (requests, item);
    xinf_scheduler_adopt (scheduler, "w0", requests, now);
    xinf_value_destroy (&requests);
}

#endif
