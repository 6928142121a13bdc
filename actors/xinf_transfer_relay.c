/*  xinf_transfer_relay: the supervisor finds a copy and passes the bytes on.  */
#include "xinf_transfer_relay.h"
#include "xinf_transfer_server.h"
#include "xinf_transfer.h"
#include "xinf_node_msg.h"

#define S_CANDIDATES_MAX  256
#define S_ASK_MS          10000        //  a candidate silent this long (no FILE_HASHING either): the next
#define S_OWN             ""           //  the candidate that is the supervisor's own copy

typedef struct {
    uint64_t id;                       //  the relay's: the source sees this one
    char fetcher [65];                 //  the worker that wants the file
    uint64_t fetcher_transfer;         //  and its id for it
    char uid [65];
    char path [4096];
    uint64_t have;
    char candidates [S_CANDIDATES_MAX][65];
    size_t count, at;                  //  candidates, and the next to ask
    char source [65];                  //  the one asked now (S_OWN: our copy)
    bool opened;
    int64_t last;                      //  monotonic ms of its last message
    char asked [512];                  //  who was asked, for the error
} s_transfer_t;

struct _xinf_transfer_relay_t {
    xinf_cluster_t *cluster;
    char node [65];
    xinf_transfer_server_t *server;    //  our own copy's, or NULL
    xinf_transfer_names_fn *names_fn;
    void *names_arg;
    zlistx_t *transfers;               //  s_transfer_t
    uint64_t next_id;
};

static void s_on_server (xinf_ctx_t *ctx, zsock_t *sock, void *arg);

static void
s_transfer_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

xinf_transfer_relay_t *
xinf_transfer_relay_new (xinf_ctx_t *ctx, xinf_cluster_t *cluster, const char *node, xinf_model_dirs_t *dirs,
                         xinf_transfer_names_fn *names_fn, void *arg)
{
    xinf_transfer_relay_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster;
    snprintf (self->node, sizeof self->node, "%s", node);
    self->names_fn = names_fn;
    self->names_arg = arg;
    self->transfers = zlistx_new ();
    zlistx_set_destructor (self->transfers, s_transfer_destroy);
    self->next_id = (uint64_t) zclock_usecs ();
    if (dirs && xinf_model_dirs_count (dirs)) {
        self->server = xinf_transfer_server_new (node, dirs);
        if (self->server)
            xinf_ctx_reader (ctx, xinf_transfer_server_sock (self->server), s_on_server, self);
    }
    return self;
}

void
xinf_transfer_relay_destroy (xinf_transfer_relay_t **self_p)
{
    if (self_p && *self_p) {
        xinf_transfer_relay_t *self = *self_p;
        xinf_transfer_server_destroy (&self->server);
        zlistx_destroy (&self->transfers);
        free (self);
        *self_p = NULL;
    }
}

size_t
xinf_transfer_relay_count (xinf_transfer_relay_t *self)
{
    return zlistx_size (self->transfers);
}

static void
s_drop (xinf_transfer_relay_t *self, s_transfer_t *transfer)
{
    void *handle = zlistx_find (self->transfers, transfer);
    if (handle)
        zlistx_delete (self->transfers, handle);
}

static int
s_send_node (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, const char *node, xinf_msg_t **msg_p)
{
    const char *peer_id = xinf_cluster_peer_of (self->cluster, node);
    xinf_peer_t *peer = peer_id ? xinf_router_peer (xinf_ctx_router (ctx), peer_id) : NULL;
    if (peer)
        return xinf_router_send (xinf_ctx_router (ctx), peer, msg_p);
    xinf_msg_destroy (msg_p);
    return -1;
}

//  A copy of 'msg' under another transfer id (its frames copied too).
static xinf_msg_t *
s_translate (xinf_msg_t *msg, uint64_t transfer)
{
    xinf_msg_t *copy = xinf_transfer_copy (msg);
    xinf_map_put_uint (xinf_msg_body (copy), "transfer", transfer);
    return copy;
}

static void
s_to_fetcher (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, s_transfer_t *transfer, xinf_msg_t **msg_p)
{
    xinf_map_put_uint (xinf_msg_body (*msg_p), "transfer", transfer->fetcher_transfer);
    s_send_node (self, ctx, transfer->fetcher, msg_p);
}

static int
s_to_source (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, s_transfer_t *transfer, xinf_msg_t **msg_p)
{
    xinf_map_put_uint (xinf_msg_body (*msg_p), "transfer", transfer->id);
    if (streq (transfer->source, S_OWN)) {
        if (self->server && xinf_transfer_server_send (self->server, msg_p) == 0)
            return 0;
        xinf_msg_destroy (msg_p);
        return -1;
    }
    return s_send_node (self, ctx, transfer->source, msg_p);
}

//  Ends a transfer with an error to its fetcher (logged).
static void
s_fail (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, s_transfer_t *transfer, const char *code, const char *reason)
{
    xinf_warn ("supervisor", "model file transfer %s -> %s of %s ended: %s", *transfer->source ? transfer->source
               : self->node, transfer->fetcher, transfer->path, reason);
    xinf_msg_t *error = xinf_transfer_error (transfer->fetcher_transfer, code, "%s", reason);
    s_send_node (self, ctx, transfer->fetcher, &error);
    if (transfer->opened) {
        xinf_msg_t *close = xinf_msg_new ("FILE_CLOSE");
        s_to_source (self, ctx, transfer, &close);
    }
    s_drop (self, transfer);
}

//  FILE_OPEN to the next candidate; when none is left, NOT_FOUND naming
//  the file and who was asked.
static void
s_ask_next (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, s_transfer_t *transfer)
{
    while (transfer->at < transfer->count) {
        snprintf (transfer->source, sizeof transfer->source, "%s", transfer->candidates [transfer->at++]);
        size_t used = strlen (transfer->asked);
        snprintf (transfer->asked + used, sizeof transfer->asked - used, "%s%s", used ? ", " : "",
                  *transfer->source ? transfer->source : "the supervisor");
        xinf_msg_t *open = xinf_msg_new ("FILE_OPEN");
        xinf_map_put_str (xinf_msg_body (open), "path", transfer->path);
        xinf_map_put_uint (xinf_msg_body (open), "have", transfer->have);
        if (s_to_source (self, ctx, transfer, &open) == 0) {
            transfer->last = zclock_mono ();
            return;
        }
    }
    char reason [700];
    xinf_textf (reason, sizeof reason, "no other node has it in its model directories (asked: %s)",
                *transfer->asked ? transfer->asked : "none: no other node is up");
    transfer->opened = false;
    s_fail (self, ctx, transfer, "NOT_FOUND", reason);
}

//  Who may have it: our own copy first, then the other live workers.
static void
s_candidates (xinf_transfer_relay_t *self, s_transfer_t *transfer)
{
    if (self->server)
        snprintf (transfer->candidates [transfer->count++], 65, "%s", S_OWN);
    zlist_t *alive = xinf_cluster_alive (self->cluster);
    for (char *name = (char *) zlist_first (alive); name && transfer->count < S_CANDIDATES_MAX;
         name = (char *) zlist_next (alive))
        if (strcmp (name, transfer->fetcher))
            snprintf (transfer->candidates [transfer->count++], 65, "%s", name);
    zlist_destroy (&alive);
}

static s_transfer_t *
s_by_fetcher (xinf_transfer_relay_t *self, const char *node, uint64_t id)
{
    for (s_transfer_t *transfer = (s_transfer_t *) zlistx_first (self->transfers); transfer;
         transfer = (s_transfer_t *) zlistx_next (self->transfers))
        if (transfer->fetcher_transfer == id && streq (transfer->fetcher, node))
            return transfer;
    return NULL;
}

static s_transfer_t *
s_by_id (xinf_transfer_relay_t *self, uint64_t id)
{
    for (s_transfer_t *transfer = (s_transfer_t *) zlistx_first (self->transfers); transfer;
         transfer = (s_transfer_t *) zlistx_next (self->transfers))
        if (transfer->id == id)
            return transfer;
    return NULL;
}

//  A refusal of a fetcher's message: FILE_ERROR to the peer that sent it
//  and a log line. Sent to that peer, not by node name: a worker declared
//  lost that has not sent HELLO again is no alive node, and its fetch
//  would wait for its stall deadline for an answer that never left.
static void
s_refuse (xinf_ctx_t *ctx, xinf_peer_t *from, const char *node, uint64_t id, const char *type, const char *code,
          const char *reason)
{
    xinf_warn ("supervisor", "%s from %s refused code=%s reason=\"%s\"", type, node, code, reason);
    xinf_msg_t *error = xinf_transfer_error (id, code, "%s", reason);
    xinf_router_send (xinf_ctx_router (ctx), from, &error);
}

static void
s_on_fetch (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, const char *node, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_file_fetch_t fetch;
    xinf_node_msg_file_fetch_decode (xinf_msg_body (msg), &fetch, &check);
    uint64_t id = fetch.transfer, generation = fetch.generation, have = fetch.have;
    const char *uid = fetch.uid, *path = fetch.path;
    const char *code = "BAD_REQUEST";
    if (!check.failed && s_by_fetcher (self, node, id))
        xinf_check_fail (&check, "transfer %llu is already under way", (unsigned long long) id);
    if (!check.failed && !self->names_fn (uid, generation, node, path, self->names_arg)) {
        code = "NOT_FOUND";
        xinf_check_fail (&check, "no launch of '%s' (generation %llu) on %s names model file '%.1024s'", uid,
                         (unsigned long long) generation, node, path);
    }
    if (!check.failed && zlistx_size (self->transfers) >= XINF_TRANSFER_RELAY_MAX) {
        code = "BUSY";
        xinf_check_fail (&check, "%d model file transfers are under way; try again later", XINF_TRANSFER_RELAY_MAX);
    }
    if (check.failed) {
        s_refuse (ctx, from, node, id, "FILE_FETCH", code, check.reason);
        return;
    }
    s_transfer_t *transfer = calloc (1, sizeof *transfer);
    assert (transfer);
    transfer->id = self->next_id++;
    snprintf (transfer->fetcher, sizeof transfer->fetcher, "%s", node);
    transfer->fetcher_transfer = id;
    snprintf (transfer->uid, sizeof transfer->uid, "%s", uid);
    snprintf (transfer->path, sizeof transfer->path, "%s", path);
    transfer->have = have;
    s_candidates (self, transfer);
    zlistx_add_end (self->transfers, transfer);
    xinf_info ("supervisor", "worker %s fetches model file %s (launch %s, has %llu bytes): asking %zu node(s)", node,
               path, uid, (unsigned long long) have, transfer->count);
    s_ask_next (self, ctx, transfer);
}

//  FILE_READ and FILE_CLOSE from a fetcher: on to its source.
static void
s_on_fetcher (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, const char *node, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    bool read = xinf_msg_is (msg, "FILE_READ");
    uint64_t id;
    if (read) {                        //  the source checks offset and length against the file
        xinf_node_msg_file_read_t request;
        xinf_node_msg_file_read_decode (xinf_msg_body (msg), &request, &check);
        id = request.transfer;
    }
    else {
        xinf_node_msg_file_close_t request;
        xinf_node_msg_file_close_decode (xinf_msg_body (msg), &request, &check);
        id = request.transfer;
    }
    s_transfer_t *transfer = check.failed ? NULL : s_by_fetcher (self, node, id);
    if (!check.failed && !transfer && read)
        xinf_check_fail (&check, "transfer %llu is not under way", (unsigned long long) id);
    if (!check.failed && transfer && read && !transfer->opened)
        xinf_check_fail (&check, "transfer %llu is not open yet", (unsigned long long) id);
    if (check.failed) {
        s_refuse (ctx, from, node, id, xinf_msg_type (msg), "BAD_REQUEST", check.reason);
        return;
    }
    if (!transfer)
        return;                        //  a FILE_CLOSE after the end
    transfer->last = zclock_mono ();
    xinf_msg_t *copy = s_translate (msg, transfer->id);
    if (read && s_to_source (self, ctx, transfer, &copy))
        s_fail (self, ctx, transfer, "IO_ERROR", "the source cannot be reached");
    else
    if (!read) {
        if (transfer->opened)
            s_to_source (self, ctx, transfer, &copy);
        xinf_msg_destroy (&copy);
        xinf_debug ("supervisor", "model file transfer of %s to %s closed", transfer->path, transfer->fetcher);
        s_drop (self, transfer);
    }
}

//  A source's answer decoded by its node.xml decoder: its transfer (0 when
//  even that is unreadable), the rest checked; a FILE_ERROR fills 'error'.
static uint64_t
s_source_decode (xinf_msg_t *msg, xinf_node_msg_file_error_t *error, xinf_check_t *check)
{
    const xinf_value_t *body = xinf_msg_body (msg);
    if (xinf_msg_is (msg, "FILE_ERROR")) {
        xinf_node_msg_file_error_decode (body, error, check);
        return error->transfer;
    }
    if (xinf_msg_is (msg, "FILE_OPENED")) {
        xinf_node_msg_file_opened_t opened = { 0 };
        xinf_node_msg_file_opened_decode (body, &opened, check);
        return opened.transfer;
    }
    if (xinf_msg_is (msg, "FILE_DATA")) {
        xinf_node_msg_file_data_t data = { 0 };
        xinf_node_msg_file_data_decode (body, &data, check);
        return data.transfer;
    }
    xinf_node_msg_file_hashing_t hashing = { 0 };
    xinf_node_msg_file_hashing_decode (body, &hashing, check);
    return hashing.transfer;
}

//  FILE_HASHING, FILE_OPENED, FILE_DATA, FILE_ERROR from a source ("" for
//  our own server), checked against node.xml: back to the fetcher, or the
//  next candidate.
static void
s_on_source (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, const char *node, xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_file_error_t error = { 0 };
    uint64_t id = s_source_decode (msg, &error, &check);
    s_transfer_t *transfer = s_by_id (self, id);
    if (!transfer || strcmp (transfer->source, node)) {
        xinf_warn ("supervisor", "%s from %s for transfer %llu, which it does not serve: ignored", xinf_msg_type (msg),
                   *node ? node : self->node, (unsigned long long) id);
        return;
    }
    transfer->last = zclock_mono ();
    if (check.failed) {                //  a source that breaks node.xml ends the transfer, named
        char reason [1200];
        xinf_textf (reason, sizeof reason, "bad %s from %s: %s", xinf_msg_type (msg), *node ? node : self->node,
                    check.reason);
        s_fail (self, ctx, transfer, "IO_ERROR", reason);
        return;
    }
    if (xinf_msg_is (msg, "FILE_ERROR") && !transfer->opened) {
        if (strcmp (error.code, "NOT_FOUND"))
            xinf_warn ("supervisor", "%s cannot serve %s: %s", *node ? node : self->node, transfer->path,
                       error.message);
        s_ask_next (self, ctx, transfer);
        return;
    }
    xinf_msg_t *copy = s_translate (msg, transfer->fetcher_transfer);
    if (xinf_msg_is (msg, "FILE_OPENED")) {
        transfer->opened = true;
        xinf_map_put_str (xinf_msg_body (copy), "source", *node ? node : self->node);
        xinf_info ("supervisor", "model file %s goes from %s to %s", transfer->path, *node ? node : self->node,
                   transfer->fetcher);
    }
    s_to_fetcher (self, ctx, transfer, &copy);
    if (xinf_msg_is (msg, "FILE_ERROR"))
        s_drop (self, transfer);
}

static void
s_on_server (xinf_ctx_t *ctx, zsock_t *sock, void *arg)
{
    xinf_transfer_relay_t *self = (xinf_transfer_relay_t *) arg;
    xinf_msg_t *msg = xinf_transfer_server_recv (self->server);
    if (msg)
        s_on_source (self, ctx, S_OWN, msg);
    xinf_msg_destroy (&msg);
}

bool
xinf_transfer_relay_handle (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, xinf_peer_t *from, xinf_msg_t *msg)
{
    const char *type = xinf_msg_type (msg);
    bool fetcher = streq (type, "FILE_FETCH") || streq (type, "FILE_READ") || streq (type, "FILE_CLOSE");
    bool source = streq (type, "FILE_HASHING") || streq (type, "FILE_OPENED") || streq (type, "FILE_DATA")
               || streq (type, "FILE_ERROR");
    if (!fetcher && !source)
        return false;
    const char *node = xinf_cluster_node_of (self->cluster, xinf_peer_id (from));
    if (!node) {
        xinf_warn ("supervisor", "%s from peer=%s address=%s, not a registered worker: refused", type,
                   xinf_peer_id (from), xinf_peer_address (from));
        xinf_ctx_reply_error (ctx, from, xinf_msg_corr (msg), "NOT_REGISTERED", "%s: only registered workers "
                              "take part in model file transfers", type);
        return true;
    }
    if (streq (type, "FILE_FETCH"))
        s_on_fetch (self, ctx, from, node, msg);
    else
    if (fetcher)
        s_on_fetcher (self, ctx, from, node, msg);
    else
        s_on_source (self, ctx, node, msg);
    return true;
}

//  The first transfer that 'node' fetches or serves now.
static s_transfer_t *
s_involving (xinf_transfer_relay_t *self, const char *node)
{
    for (s_transfer_t *transfer = (s_transfer_t *) zlistx_first (self->transfers); transfer;
         transfer = (s_transfer_t *) zlistx_next (self->transfers))
        if (streq (transfer->fetcher, node) || streq (transfer->source, node))
            return transfer;
    return NULL;
}

void
xinf_transfer_relay_worker_lost (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, const char *node)
{
    //  Each turn ends the node's part in one transfer
    s_transfer_t *transfer;
    while ((transfer = s_involving (self, node))) {
        if (streq (transfer->fetcher, node)) {
            if (transfer->opened) {
                xinf_msg_t *close = xinf_msg_new ("FILE_CLOSE");
                s_to_source (self, ctx, transfer, &close);
            }
            s_drop (self, transfer);
        }
        else
        if (transfer->opened) {
            char reason [1200];
            xinf_textf (reason, sizeof reason, "worker %s, which served model file '%.1024s', was lost", node,
                        transfer->path);
            transfer->opened = false;
            s_fail (self, ctx, transfer, "SOURCE_LOST", reason);
        }
        else {
            transfer->source [0] = 0;  //  not this one any more
            s_ask_next (self, ctx, transfer);
        }
    }
}

void
xinf_transfer_relay_tick (xinf_transfer_relay_t *self, xinf_ctx_t *ctx, int64_t now)
{
    for (s_transfer_t *transfer = (s_transfer_t *) zlistx_first (self->transfers); transfer;
         transfer = (s_transfer_t *) zlistx_next (self->transfers))
        if (now - transfer->last > XINF_TRANSFER_RELAY_IDLE_MS) {
            s_fail (self, ctx, transfer, "TIMEOUT", "no message for the transfer for 120 s");
            return;                    //  one a tick: the list changed
        }
        else
        if (!transfer->opened && now - transfer->last > S_ASK_MS) {
            xinf_warn ("supervisor", "%s did not answer FILE_OPEN for %s within %d ms: asking the next",
                       *transfer->source ? transfer->source : self->node, transfer->path, S_ASK_MS);
            s_ask_next (self, ctx, transfer);
            return;
        }
}
