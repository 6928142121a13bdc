/*  xinf_relay: TOKENIZE and DETOKENIZE through the supervisor (see the header).  */
#include "xinf_relay.h"
#include "xinf_client_msg.h"
#include "xinf_node_msg.h"
#include "xinf_tokenize.h"

#define XINF_RELAY_DEFAULT_MS  10000
#define XINF_RELAY_MAX_MS      60000
#define XINF_RELAY_PENDING_MAX 4096

typedef struct {
    uint64_t id;
    char client [XINF_SENDER_MAX * 2 + 1];
    uint64_t corr;
    char uid [65];
    bool detokenize;
    int64_t expires;
} s_pending_t;

struct _xinf_relay_t {
    zhashx_t *pending;                //  id (decimal) -> s_pending_t
    uint64_t next_id;
};

xinf_relay_t *
xinf_relay_new (void)
{
    xinf_relay_t *self = calloc (1, sizeof *self);
    assert (self);
    self->pending = zhashx_new ();
    zhashx_set_destructor (self->pending, (zhashx_destructor_fn *) zstr_free);
    self->next_id = ((uint64_t) randof (0x7fffffff) << 20) + 1;
    return self;
}

void
xinf_relay_destroy (xinf_relay_t **self_p)
{
    if (self_p && *self_p) {
        zhashx_destroy (&(*self_p)->pending);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_key (uint64_t id, char *key, size_t size)
{
    snprintf (key, size, "%llu", (unsigned long long) id);
}

xinf_msg_t *
xinf_relay_begin (xinf_relay_t *self, xinf_msg_t *request, const char *client, const char *uid, uint64_t replica,
                  xinf_check_t *check)
{
    bool detokenize = xinf_msg_is (request, "DETOKENIZE");
    //  The client's fields, by client.xml: a bad one is named
    xinf_client_msg_validate (xinf_msg_type (request), xinf_msg_body (request), check);
    if (!check->failed && zhashx_size (self->pending) >= XINF_RELAY_PENDING_MAX)
        xinf_check_fail (check, "%d requests are waiting for a tokenizer already", XINF_RELAY_PENDING_MAX);
    if (check->failed)
        return NULL;
    s_pending_t *pending = calloc (1, sizeof *pending);
    assert (pending);
    pending->id = self->next_id++;
    snprintf (pending->client, sizeof pending->client, "%s", client);
    snprintf (pending->uid, sizeof pending->uid, "%s", uid);
    pending->corr = xinf_msg_corr (request);
    pending->detokenize = detokenize;
    uint64_t deadline = xinf_msg_deadline (request);
    deadline = deadline == 0 ? XINF_RELAY_DEFAULT_MS : deadline > XINF_RELAY_MAX_MS ? XINF_RELAY_MAX_MS : deadline;
    pending->expires = zclock_mono () + (int64_t) deadline;
    char key [32];
    s_key (pending->id, key, sizeof key);
    zhashx_insert (self->pending, key, pending);
    //  The replica gets the client's fields and where to answer
    xinf_msg_t *msg = xinf_msg_new ("TOKENIZE");
    xinf_value_t *body = xinf_msg_body (request), *out = xinf_msg_body (msg);
    const char *keys [] = { "content", "tokens", "add_special", "parse_special", "with_pieces" };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++)
        if (xinf_map_get (body, keys [index]))
            xinf_map_put (out, keys [index], xinf_value_dup (xinf_map_get (body, keys [index])));
    xinf_map_put_str (out, "uid", uid);
    xinf_map_put_uint (out, "replica", replica);
    xinf_map_put_uint (out, "request", pending->id);
    xinf_map_put_str (out, "mode", detokenize ? "detokenize" : "tokenize");
    return msg;
}

void
xinf_relay_abort (xinf_relay_t *self)
{
    char key [32];
    s_key (self->next_id - 1, key, sizeof key);
    zhashx_delete (self->pending, key);
}

static void
s_answer (xinf_ctx_t *ctx, s_pending_t *pending, xinf_msg_t **reply_p)
{
    xinf_msg_set_corr (*reply_p, pending->corr);
    if (xinf_router_send_to_id (xinf_ctx_router (ctx), pending->client, reply_p))
        xinf_warn ("supervisor", "cannot answer %s to client %s: gone", pending->detokenize ? "DETOKENIZE" : "TOKENIZE",
                   pending->client);
}

void
xinf_relay_result (xinf_relay_t *self, xinf_ctx_t *ctx, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_tokenize_result_t result;
    xinf_node_msg_tokenize_result_decode (xinf_msg_body (msg), &result, &check);
    char key [32];
    s_key (result.request, key, sizeof key);
    s_pending_t *pending = (s_pending_t *) zhashx_lookup (self->pending, key);
    if (!pending || !xinf_map_get (xinf_msg_body (msg), "request")) {
        xinf_debug ("supervisor", "TOKENIZE_RESULT for no waiting request: ignored");
        return;
    }
    const char *code = check.failed ? NULL : result.code;
    xinf_msg_t *reply = NULL;
    if (check.failed)
        xinf_warn ("supervisor", "TOKENIZE_RESULT malformed reason=\"%s\"", check.reason);
    if (code)
        reply = xinf_msg_new_error (0, code, "%s: %s", pending->detokenize ? "DETOKENIZE" : "TOKENIZE",
                                    result.message ? result.message : "");
    else
    if (!check.failed && pending->detokenize && result.content) {
        reply = xinf_msg_new ("DETOKENIZE_REPLY");
        xinf_map_put (xinf_msg_body (reply), "content", xinf_value_dup (xinf_map_get (xinf_msg_body (msg), "content")));
    }
    else
    if (!check.failed && !pending->detokenize && result.tokens) {
        reply = xinf_msg_new ("TOKENIZE_REPLY");
        xinf_map_put (xinf_msg_body (reply), "tokens", xinf_value_dup (result.tokens));
        if (result.pieces)
            xinf_map_put (xinf_msg_body (reply), "pieces", xinf_value_dup (result.pieces));
    }
    else
        reply = xinf_msg_new_error (0, "REPLICA_FAILED", "the replica's TOKENIZE_RESULT was malformed%s%s",
                                    check.failed ? ": " : "", check.failed ? check.reason : "");
    if (!code || !xinf_msg_is (reply, "ERROR"))
        xinf_map_put_str (xinf_msg_body (reply), "uid", pending->uid);
    s_answer (ctx, pending, &reply);
    zhashx_delete (self->pending, key);
}

void
xinf_relay_tick (xinf_relay_t *self, xinf_ctx_t *ctx, int64_t now)
{
    zlist_t *late = zlist_new ();
    for (s_pending_t *pending = (s_pending_t *) zhashx_first (self->pending); pending;
         pending = (s_pending_t *) zhashx_next (self->pending))
        if (now > pending->expires)
            zlist_append (late, pending);
    for (s_pending_t *pending = (s_pending_t *) zlist_first (late); pending; pending = (s_pending_t *) zlist_next (late)) {
        xinf_msg_t *error = xinf_msg_new_error (0, "DEADLINE_EXCEEDED", "%s: no answer from a replica of %s in time",
                                                pending->detokenize ? "DETOKENIZE" : "TOKENIZE", pending->uid);
        s_answer (ctx, pending, &error);
        char key [32];
        s_key (pending->id, key, sizeof key);
        zhashx_delete (self->pending, key);
    }
    zlist_destroy (&late);
}
