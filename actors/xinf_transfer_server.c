/*  xinf_transfer_server: the serving side of a model file transfer.  */
#include "xinf_transfer_server.h"
#include "xinf_tsan.h"
#include "xinf_transfer.h"
#include "xinf_node_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_HASHING_SAY_MS  1000         //  FILE_HASHING at most this often
#define S_SUMS_KEPT       16           //  digests remembered (N workers fetching one file hash it once)

typedef struct {
    bool used;
    uint64_t transfer;
    int fd;
    uint64_t size;
    int64_t last_used;
} s_open_t;

struct _xinf_transfer_server_t {
    char node [65];
    xinf_model_dirs_t *dirs;
    zactor_t *actor;
    atomic_bool stopping;              //  set before $TERM: a long hash gives up
    //  The thread's own
    zsock_t *pipe;
    s_open_t open [XINF_TRANSFER_SERVER_OPEN];
    uint64_t hashing;                  //  the transfer being hashed
    int64_t said_at;
    xinf_sums_t *sums;                 //  the thread's own
};

xinf_msg_t *
xinf_transfer_error (uint64_t transfer, const char *code, const char *format, ...)
{
    char text [1200];
    va_list args;
    va_start (args, format);
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    xinf_msg_t *msg = xinf_msg_new ("FILE_ERROR");
    xinf_map_put_uint (xinf_msg_body (msg), "transfer", transfer);
    xinf_map_put_str (xinf_msg_body (msg), "code", code);
    xinf_map_put_str (xinf_msg_body (msg), "message", text);
    return msg;
}

static void
s_answer (xinf_transfer_server_t *self, xinf_msg_t **msg_p)
{
    zmsg_t *frames = xinf_msg_encode (msg_p);
    zmsg_send (&frames, self->pipe);
}

//  A refusal: answered and logged, never more.
static void
s_refuse (xinf_transfer_server_t *self, uint64_t transfer, const char *code, const char *reason)
{
    xinf_warn ("transfer", "%s: request for transfer %llu refused code=%s reason=\"%s\"", self->node,
               (unsigned long long) transfer, code, reason);
    xinf_msg_t *error = xinf_transfer_error (transfer, code, "%s", reason);
    s_answer (self, &error);
}

static s_open_t *
s_find (xinf_transfer_server_t *self, uint64_t transfer)
{
    for (size_t index = 0; index < XINF_TRANSFER_SERVER_OPEN; index++)
        if (self->open [index].used && self->open [index].transfer == transfer)
            return &self->open [index];
    return NULL;
}

static void
s_close (s_open_t *open)
{
    if (open->used)
        close (open->fd);
    memset (open, 0, sizeof *open);
}

static int
s_hash_progress (uint64_t done, uint64_t total, void *arg)
{
    xinf_transfer_server_t *self = (xinf_transfer_server_t *) arg;
    if (atomic_load (&self->stopping))
        return -1;
    if (zclock_mono () - self->said_at >= S_HASHING_SAY_MS) {
        self->said_at = zclock_mono ();
        xinf_msg_t *msg = xinf_msg_new ("FILE_HASHING");
        xinf_map_put_uint (xinf_msg_body (msg), "transfer", self->hashing);
        xinf_map_put_uint (xinf_msg_body (msg), "done", done);
        xinf_map_put_uint (xinf_msg_body (msg), "size", total);
        s_answer (self, &msg);
    }
    return 0;
}

//  The digest of the whole file (remembered, or read) and of its first
//  'have' bytes: 0, or -1 with the reason.
static int
s_digests (xinf_transfer_server_t *self, int fd, const struct stat *info, uint64_t have, char *hex, char *prefix_hex,
           char *error, size_t error_size)
{
    const char *known = xinf_sums_find (self->sums, info);
    uint64_t size = (uint64_t) info->st_size;
    //  A known file needs only its prefix read, and none without one
    uint64_t upto = known ? (have && have <= size ? have : 0) : size;
    xinf_sha256_t *sum = xinf_sha256_new ();
    self->said_at = zclock_mono ();
    int rc = sum ? xinf_sha256_file (fd, upto, sum, have, prefix_hex, s_hash_progress, self, error, error_size) : -1;
    if (rc == 0 && known)
        snprintf (hex, XINF_SHA256_HEX, "%s", known);
    else
    if (rc == 0) {
        xinf_sha256_peek (sum, hex);
        xinf_sums_remember (self->sums, info, hex);
    }
    xinf_sha256_destroy (&sum);
    return rc;
}

//  Opens a file of the model directories and hashes it (and the prefix
//  the fetcher has): FILE_OPENED, or FILE_ERROR.
static void
s_on_open (xinf_transfer_server_t *self, xinf_value_t *body)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_file_open_t request;
    xinf_node_msg_file_open_decode (body, &request, &check);
    uint64_t transfer = request.transfer, have = request.have;
    const char *path = request.path;
    if (!check.failed && s_find (self, transfer))
        xinf_check_fail (&check, "transfer %llu is already open", (unsigned long long) transfer);
    if (check.failed) {
        s_refuse (self, transfer, "BAD_REQUEST", check.reason);
        return;
    }
    s_open_t *slot = NULL;
    for (size_t index = 0; index < XINF_TRANSFER_SERVER_OPEN && !slot; index++)
        if (!self->open [index].used)
            slot = &self->open [index];
    if (!slot) {
        s_refuse (self, transfer, "BUSY", "16 transfers are open on this node; try again later");
        return;
    }
    char resolved [4096], reason [1200] = "";
    if (xinf_model_dirs_resolve (self->dirs, path, resolved, sizeof resolved, reason, sizeof reason)) {
        xinf_msg_t *error = xinf_transfer_error (transfer, "NOT_FOUND", "%s", reason);
        xinf_debug ("transfer", "%s: %s", self->node, reason);
        s_answer (self, &error);
        return;
    }
    //  Only a regular file, opened without blocking (a FIFO swapped in
    //  after the check cannot hang the thread) and without following a link
    int fd = open (resolved, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat (fd, &info) || !S_ISREG (info.st_mode)) {
        if (fd >= 0)
            close (fd);
        s_refuse (self, transfer, "NOT_FOUND", "not a regular file");
        return;
    }
    char hex [XINF_SHA256_HEX] = "", prefix_hex [XINF_SHA256_HEX] = "", error [256];
    self->hashing = transfer;
    uint64_t size = (uint64_t) info.st_size;
    if (s_digests (self, fd, &info, have, hex, prefix_hex, error, sizeof error)) {
        close (fd);
        s_refuse (self, transfer, "IO_ERROR", error);
        return;
    }
    *slot = (s_open_t) { true, transfer, fd, size, zclock_mono () };
    xinf_info ("transfer", "%s: serving %s size=%llu sha256=%s transfer=%llu", self->node, resolved,
               (unsigned long long) size, hex, (unsigned long long) transfer);
    xinf_msg_t *opened = xinf_msg_new ("FILE_OPENED");
    xinf_map_put_uint (xinf_msg_body (opened), "transfer", transfer);
    xinf_map_put_uint (xinf_msg_body (opened), "size", size);
    xinf_map_put_str (xinf_msg_body (opened), "sha256", hex);
    if (have && have <= size)
        xinf_map_put_str (xinf_msg_body (opened), "have_sha256", prefix_hex);
    xinf_map_put_uint (xinf_msg_body (opened), "chunk", XINF_TRANSFER_CHUNK);
    s_answer (self, &opened);
}

static void
s_on_read (xinf_transfer_server_t *self, xinf_value_t *body)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_file_read_t request;
    xinf_node_msg_file_read_decode (body, &request, &check);
    uint64_t transfer = request.transfer, offset = request.offset, length = request.length;
    s_open_t *open = check.failed ? NULL : s_find (self, transfer);
    const char *code = !check.failed && !open ? "NOT_OPEN" : "BAD_REQUEST";
    if (!check.failed && !open)
        xinf_check_fail (&check, "transfer %llu is not open here", (unsigned long long) transfer);
    if (!check.failed && (offset > open->size || length > open->size - offset))
        xinf_check_fail (&check, "bytes %llu-%llu are past the end of the file (%llu bytes)",
                         (unsigned long long) offset, (unsigned long long) (offset + length),
                         (unsigned long long) open->size);
    if (check.failed) {
        s_refuse (self, transfer, code, check.reason);
        return;
    }
    zframe_t *frame = zframe_new (NULL, (size_t) length);
    size_t done = 0;
    while (done < length) {
        ssize_t got = pread (open->fd, zframe_data (frame) + done, (size_t) length - done, (off_t) (offset + done));
        if (got <= 0) {
            char reason [256];
            xinf_textf (reason, sizeof reason, "read error at byte %llu: %s", (unsigned long long) (offset + done),
                        got < 0 ? strerror (errno) : "the file is shorter than it was");
            zframe_destroy (&frame);
            s_close (open);
            s_refuse (self, transfer, "IO_ERROR", reason);
            return;
        }
        done += (size_t) got;
    }
    open->last_used = zclock_mono ();
    xinf_msg_t *data = xinf_msg_new ("FILE_DATA");
    xinf_map_put_uint (xinf_msg_body (data), "transfer", transfer);
    xinf_map_put_uint (xinf_msg_body (data), "offset", offset);
    xinf_msg_add_frame (data, &frame);
    s_answer (self, &data);
}

static void
s_on_close (xinf_transfer_server_t *self, xinf_value_t *body)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_file_close_t request;
    xinf_node_msg_file_close_decode (body, &request, &check);
    uint64_t transfer = request.transfer;
    s_open_t *open = check.failed ? NULL : s_find (self, transfer);
    if (check.failed)
        xinf_warn ("transfer", "%s: FILE_CLOSE ignored reason=\"%s\"", self->node, check.reason);
    if (open) {
        xinf_debug ("transfer", "%s: transfer %llu closed", self->node, (unsigned long long) transfer);
        s_close (open);
    }
}

static void
s_on_request (xinf_transfer_server_t *self, zmsg_t *frames)
{
    char error [256];
    xinf_msg_t *msg = xinf_msg_decode (&frames, error, sizeof error, NULL);
    if (!msg) {
        xinf_warn ("transfer", "%s: bad request: %s", self->node, error);
        return;
    }
    if (xinf_msg_is (msg, "FILE_OPEN"))
        s_on_open (self, xinf_msg_body (msg));
    else
    if (xinf_msg_is (msg, "FILE_READ"))
        s_on_read (self, xinf_msg_body (msg));
    else
    if (xinf_msg_is (msg, "FILE_CLOSE"))
        s_on_close (self, xinf_msg_body (msg));
    else
        xinf_warn ("transfer", "%s: unexpected %s: ignored", self->node, xinf_msg_type (msg));
    xinf_msg_destroy (&msg);
}

static void
s_expire (xinf_transfer_server_t *self, int64_t now)
{
    for (size_t index = 0; index < XINF_TRANSFER_SERVER_OPEN; index++)
        if (self->open [index].used && now - self->open [index].last_used > XINF_TRANSFER_SERVER_IDLE_MS) {
            xinf_info ("transfer", "%s: transfer %llu not read for %d s: closed", self->node,
                       (unsigned long long) self->open [index].transfer, XINF_TRANSFER_SERVER_IDLE_MS / 1000);
            s_close (&self->open [index]);
        }
}

static void
s_server_main (zsock_t *pipe, void *arg)
{
    xinf_transfer_server_t *self = (xinf_transfer_server_t *) arg;
    self->pipe = pipe;
    self->sums = xinf_sums_new (S_SUMS_KEPT);
    zsock_signal (pipe, 0);
    while (!atomic_load (&self->stopping)) {
        zpoller_t *poller = zpoller_new (pipe, NULL);
        void *which = zpoller_wait (poller, 1000);
        zpoller_destroy (&poller);
        s_expire (self, zclock_mono ());
        if (!which)
            continue;
        zmsg_t *frames = zmsg_recv (pipe);
        if (!frames)
            break;
        char *first = zframe_strdup (zmsg_first (frames));
        bool term = first && streq (first, "$TERM");
        free (first);
        if (term) {
            zmsg_destroy (&frames);
            break;
        }
        s_on_request (self, frames);
    }
    for (size_t index = 0; index < XINF_TRANSFER_SERVER_OPEN; index++)
        s_close (&self->open [index]);
    xinf_sums_destroy (&self->sums);
    xinf_sha256_thread_done ();
    xinf_tsan_release (self);           //  the owner frees self after the thread's last signal
}

xinf_transfer_server_t *
xinf_transfer_server_new (const char *node, xinf_model_dirs_t *dirs)
{
    xinf_transfer_server_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->node, sizeof self->node, "%s", node);
    self->dirs = dirs;
    atomic_init (&self->stopping, false);
    self->actor = zactor_new (s_server_main, self);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    //  A server busy hashing never blocks its owner: a full pipe refuses
    zsock_set_sndtimeo (zactor_sock (self->actor), 0);
    return self;
}

void
xinf_transfer_server_destroy (xinf_transfer_server_t **self_p)
{
    if (self_p && *self_p) {
        xinf_transfer_server_t *self = *self_p;
        atomic_store (&self->stopping, true);
        zsock_set_sndtimeo (zactor_sock (self->actor), -1);
        zactor_destroy (&self->actor);
        xinf_tsan_acquire (self);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
xinf_transfer_server_sock (xinf_transfer_server_t *self)
{
    return zactor_sock (self->actor);
}

int
xinf_transfer_server_send (xinf_transfer_server_t *self, xinf_msg_t **msg_p)
{
    zmsg_t *frames = xinf_msg_encode (msg_p);
    if (zmsg_send (&frames, zactor_sock (self->actor)) == 0)
        return 0;
    zmsg_destroy (&frames);
    return -1;
}

xinf_msg_t *
xinf_transfer_server_recv (xinf_transfer_server_t *self)
{
    zmsg_t *frames = zmsg_recv (zactor_sock (self->actor));    //  called when readable
    char error [256];
    return frames ? xinf_msg_decode (&frames, error, sizeof error, NULL) : NULL;
}
