/*  xinf_transfer_fetch: fetching a model file a worker does not have.  */
#include "xinf_transfer_fetch.h"
#include "xinf_transfer.h"
#include "xinf_node_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define S_REPORT_MS  250               //  FETCH_PROGRESS at most this often

typedef struct {
    xinf_fetch_config_t config;
    char uid [65], path [4096], directory [4096];
    char final [4352], part [4360];    //  where it lands, and while it comes
    char source [80];                  //  who serves it, once known
    char known_sha256 [XINF_SHA256_HEX];   //  of the NAME already here, if the owner knows it
    char sha256 [XINF_SHA256_HEX];     //  the file's, once it is here
    zsock_t *pipe;
    bool terminated;                   //  the owner ended us
    int64_t deadline;                  //  the stall deadline (monotonic ms)
    int64_t reported_at;
    uint64_t wait;
    char error [1200];
} s_job_t;

struct _xinf_fetch_t {
    zactor_t *actor;
    uint64_t transfer;
};

// ---- talking to the owner ----------------------------------------------------

static void
s_send (s_job_t *job, xinf_msg_t **msg_p)
{
    zmsg_t *frames = xinf_msg_encode (msg_p);
    zmsg_send (&frames, job->pipe);
}

static void
s_request (s_job_t *job, const char *type, uint64_t offset, uint64_t length)
{
    xinf_msg_t *msg = xinf_msg_new (type);
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_uint (body, "transfer", job->config.transfer);
    if (streq (type, "FILE_READ")) {
        xinf_map_put_uint (body, "offset", offset);
        xinf_map_put_uint (body, "length", length);
    }
    s_send (job, &msg);
}

static void
s_report (s_job_t *job, const char *phase, uint64_t done, uint64_t total, bool now)
{
    if (job->wait)
        xinf_wait_progress (xinf_waits_global (), job->wait, done);
    if (!now && zclock_mono () - job->reported_at < S_REPORT_MS)
        return;
    job->reported_at = zclock_mono ();
    xinf_msg_t *msg = xinf_msg_new ("FETCH_PROGRESS");
    xinf_map_put_str (xinf_msg_body (msg), "phase", phase);
    xinf_map_put_uint (xinf_msg_body (msg), "done", done);
    xinf_map_put_uint (xinf_msg_body (msg), "total", total);
    s_send (job, &msg);
}

static void
s_wait_begin (s_job_t *job, const char *peer)
{
    if (job->wait)
        xinf_wait_end (xinf_waits_global (), job->wait);
    char what [XINF_WAIT_TEXT_MAX];
    snprintf (what, sizeof what, "fetch model file %.90s", xinf_transfer_basename (job->path));
    job->wait = xinf_wait_begin (xinf_waits_global (), "worker", what, peer, job->config.stall_ms);
}

//  The next answer for this transfer; NULL when none came by the stall
//  deadline (job->error says so) or the owner ends the job.
static xinf_msg_t *
s_next (s_job_t *job)
{
    while (!job->terminated) {
        int64_t left = job->deadline - zclock_mono ();
        if (left <= 0) {
            xinf_textf (job->error, sizeof job->error, "no answer from the cluster for %lld ms while fetching model "
                        "file '%.1024s'%s%s", (long long) job->config.stall_ms, job->path, *job->source ? " from " : "",
                        job->source);
            return NULL;
        }
        zpoller_t *poller = zpoller_new (job->pipe, NULL);
        void *which = zpoller_wait (poller, (int) (left > 1000 ? 1000 : left));
        zpoller_destroy (&poller);
        if (!which)
            continue;
        zmsg_t *frames = zmsg_recv (job->pipe);
        char *first = frames ? zframe_strdup (zmsg_first (frames)) : NULL;
        job->terminated = !frames || (first && streq (first, "$TERM"));
        free (first);
        if (job->terminated) {
            zmsg_destroy (&frames);
            break;
        }
        char error [256];
        xinf_msg_t *msg = xinf_msg_decode (&frames, error, sizeof error, NULL);
        if (!msg)
            continue;
        job->deadline = zclock_mono () + job->config.stall_ms;
        return msg;
    }
    xinf_textf (job->error, sizeof job->error, "the fetch of '%.1024s' was stopped", job->path);
    return NULL;
}

static int
s_fail (s_job_t *job, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static int
s_fail (s_job_t *job, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    xinf_vtextf (job->error, sizeof job->error, format, args);
    va_end (args);
    return -1;
}

// ---- the steps -----------------------------------------------------------

typedef struct {
    uint64_t size;
    char sha256 [XINF_SHA256_HEX];
    char have_sha256 [XINF_SHA256_HEX];     //  "" when the source sent none
} s_opened_t;

//  FILE_FETCH, then FILE_OPENED (FILE_HASHING while the source hashes).
static int
s_open (s_job_t *job, uint64_t have, s_opened_t *opened)
{
    xinf_msg_t *fetch = xinf_msg_new ("FILE_FETCH");
    xinf_value_t *body = xinf_msg_body (fetch);
    xinf_map_put_uint (body, "transfer", job->config.transfer);
    xinf_map_put_str (body, "uid", job->uid);
    xinf_map_put_uint (body, "generation", job->config.generation);
    xinf_map_put_str (body, "path", job->path);
    xinf_map_put_uint (body, "have", have);
    s_send (job, &fetch);
    xinf_msg_t *msg;
    while ((msg = s_next (job))) {
        xinf_check_t check = XINF_CHECK_INIT;
        body = xinf_msg_body (msg);
        if (xinf_msg_is (msg, "FILE_HASHING")) {
            xinf_node_msg_file_hashing_t hashing;
            if (xinf_node_msg_file_hashing_decode (body, &hashing, &check) == 0)
                s_report (job, "checksum at the source", hashing.done, hashing.size, false);
        }
        else
        if (xinf_msg_is (msg, "FILE_ERROR")) {
            xinf_node_msg_file_error_t error;
            xinf_node_msg_file_error_decode (body, &error, &check);
            //  Not here and not elsewhere: the words of a plain refusal first
            if (!check.failed && streq (error.code, "NOT_FOUND"))
                s_fail (job, "model file '%.1024s' is not a file in this worker's model directories, and %s", job->path,
                        error.message);
            else
                s_fail (job, "model file '%.1024s' cannot be fetched: %s", job->path,
                        check.failed ? "the cluster refused" : error.message);
            xinf_msg_destroy (&msg);
            return -1;
        }
        else
        if (xinf_msg_is (msg, "FILE_OPENED")) {
            xinf_node_msg_file_opened_t answer;      //  sha256 and have_sha256: 64 lower-case hex digits
            xinf_node_msg_file_opened_decode (body, &answer, &check);
            opened->size = answer.size;
            const char *sha = answer.sha256;
            const char *prefix = answer.has_have_sha256 ? answer.have_sha256 : "";
            const char *source = answer.has_source ? answer.source : "?";
            if (check.failed) {
                xinf_warn ("worker", "bad FILE_OPENED for transfer %llu: %s", (unsigned long long) job->config.transfer,
                           check.reason);
                s_fail (job, "bad FILE_OPENED from the cluster: %s", check.reason);
                xinf_msg_destroy (&msg);
                return -1;
            }
            snprintf (opened->sha256, sizeof opened->sha256, "%s", sha);
            snprintf (opened->have_sha256, sizeof opened->have_sha256, "%s", prefix);
            snprintf (job->source, sizeof job->source, "%s", source);
            xinf_msg_destroy (&msg);
            return 0;
        }
        xinf_msg_destroy (&msg);
    }
    return -1;
}

static int
s_hash_progress (uint64_t done, uint64_t total, void *arg)
{
    s_job_t *job = (s_job_t *) arg;
    s_report (job, "verifying", done, total, false);
    job->deadline = zclock_mono () + job->config.stall_ms;
    //  Nothing but $TERM comes while we hash: the owner may end us
    if (zsock_events (job->pipe) & ZMQ_POLLIN) {
        zmsg_t *frames = zmsg_recv (job->pipe);
        char *first = frames ? zframe_strdup (zmsg_first (frames)) : NULL;
        job->terminated = !frames || (first && streq (first, "$TERM"));
        free (first);
        zmsg_destroy (&frames);
    }
    return job->terminated ? -1 : 0;
}

//  The digest of the first 'size' bytes of 'fd' into 'sum'.
static int
s_hash_local (s_job_t *job, int fd, uint64_t size, xinf_sha256_t *sum, char hex [XINF_SHA256_HEX])
{
    char error [256];
    if (xinf_sha256_file (fd, size, sum, 0, NULL, s_hash_progress, job, error, sizeof error))
        return s_fail (job, "cannot hash '%s': %s", job->part, error);
    xinf_sha256_peek (sum, hex);
    return 0;
}

//  A file of that name is there already: used when it is the source's.
static int
s_compare (s_job_t *job, const s_opened_t *opened)
{
    s_request (job, "FILE_CLOSE", 0, 0);
    int fd = open (job->final, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    struct stat info;
    xinf_sha256_t *sum = xinf_sha256_new ();
    char hex [XINF_SHA256_HEX] = "";
    bool known = fd >= 0 && fstat (fd, &info) == 0 && *job->known_sha256 && xinf_stat_same (&info, &job->config.known);
    if (known)                         //  fetched before and not changed since: no need to read it again
        snprintf (hex, sizeof hex, "%s", job->known_sha256);
    bool same = fd >= 0 && fstat (fd, &info) == 0 && S_ISREG (info.st_mode) && (uint64_t) info.st_size == opened->size
             && (known || s_hash_local (job, fd, opened->size, sum, hex) == 0) && streq (hex, opened->sha256);
    xinf_sha256_destroy (&sum);
    if (fd >= 0)
        close (fd);
    if (!same)
        return s_fail (job, "model file '%s' on this worker differs from the copy of %s (sha256 %s): remove or "
                       "rename it to have it fetched", job->final, job->source, opened->sha256);
    xinf_info ("worker", "model file %s is already here, the same as %s's (sha256 %s%s)", job->final, job->source,
               opened->sha256, known ? ", known from its fetch" : "");
    snprintf (job->sha256, sizeof job->sha256, "%s", opened->sha256);
    return 0;
}

//  How much of the .part can stay: its digest against the source's for as
//  many bytes; 0 (start over, truncated) when they differ.
static uint64_t
s_resume_from (s_job_t *job, int fd, uint64_t have, const s_opened_t *opened, xinf_sha256_t **sum_p)
{
    if (have == 0)
        return 0;
    char hex [XINF_SHA256_HEX] = "";
    if (have <= opened->size && *opened->have_sha256 && s_hash_local (job, fd, have, *sum_p, hex) == 0
    &&  streq (hex, opened->have_sha256)) {
        xinf_info ("worker", "resuming %s at byte %llu of %llu: the .part matches the source", job->part,
                   (unsigned long long) have, (unsigned long long) opened->size);
        return have;
    }
    xinf_warn ("worker", "%s (%llu bytes) does not match the source's first bytes: starting over", job->part,
               (unsigned long long) have);
    xinf_sha256_destroy (sum_p);
    *sum_p = xinf_sha256_new ();
    if (ftruncate (fd, 0))
        xinf_warn ("worker", "cannot truncate %s: %s", job->part, strerror (errno));
    return 0;
}

//  One FILE_DATA: in order, of the length asked, written and hashed.
static int
s_take_data (s_job_t *job, xinf_msg_t *msg, int fd, xinf_sha256_t *sum, uint64_t *written, uint64_t size)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_node_msg_file_data_t data;
    xinf_node_msg_file_data_decode (xinf_msg_body (msg), &data, &check);
    uint64_t offset = data.offset;
    uint64_t expected = size - *written < XINF_TRANSFER_CHUNK ? size - *written : XINF_TRANSFER_CHUNK;
    zframe_t *frame = xinf_msg_frame_count (msg) == 1 ? xinf_msg_frame (msg, 0) : NULL;
    if (!check.failed && (offset != *written || !frame || zframe_size (frame) != expected))
        xinf_check_fail (&check, "expected bytes %llu-%llu, got offset %llu with %zu bytes",
                         (unsigned long long) *written, (unsigned long long) (*written + expected),
                         (unsigned long long) offset, frame ? zframe_size (frame) : 0);
    if (check.failed) {
        xinf_warn ("worker", "bad FILE_DATA for transfer %llu: %s", (unsigned long long) job->config.transfer,
                   check.reason);
        return s_fail (job, "bad FILE_DATA from %s: %s", job->source, check.reason);
    }
    size_t done = 0;
    while (done < expected) {
        ssize_t put = pwrite (fd, zframe_data (frame) + done, (size_t) expected - done, (off_t) (offset + done));
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return s_fail (job, "cannot write %s: %s", job->part, strerror (errno));
        done += (size_t) put;
    }
    xinf_sha256_update (sum, zframe_data (frame), (size_t) expected);
    *written += expected;
    return 0;
}

//  The chunks from 'from' to the end, XINF_TRANSFER_WINDOW in flight.
static int
s_copy (s_job_t *job, int fd, uint64_t from, const s_opened_t *opened, xinf_sha256_t *sum)
{
    uint64_t next = from, written = from;
    size_t in_flight = 0;
    while (written < opened->size) {
        while (in_flight < XINF_TRANSFER_WINDOW && next < opened->size) {
            uint64_t length = opened->size - next < XINF_TRANSFER_CHUNK ? opened->size - next : XINF_TRANSFER_CHUNK;
            s_request (job, "FILE_READ", next, length);
            next += length;
            in_flight++;
        }
        xinf_msg_t *msg = s_next (job);
        if (!msg)
            return -1;
        int rc = 0;
        if (xinf_msg_is (msg, "FILE_DATA")) {
            rc = s_take_data (job, msg, fd, sum, &written, opened->size);
            in_flight--;
            s_report (job, "copying", written, opened->size, written == opened->size);
        }
        else
        if (xinf_msg_is (msg, "FILE_ERROR")) {
            xinf_check_t check = XINF_CHECK_INIT;
            xinf_node_msg_file_error_t error;
            xinf_node_msg_file_error_decode (xinf_msg_body (msg), &error, &check);
            rc = s_fail (job, "%s stopped serving '%s': %.1000s", job->source, job->path,
                         check.failed ? check.reason : error.message);
        }
        xinf_msg_destroy (&msg);
        if (rc)
            return -1;
    }
    return 0;
}

//  The whole transfer into job->part, checked, then renamed to job->final.
static int
s_fetch (s_job_t *job)
{
    struct stat info;
    bool there = lstat (job->final, &info) == 0;
    uint64_t have = 0;
    if (!there && lstat (job->part, &info) == 0 && S_ISREG (info.st_mode))
        have = (uint64_t) info.st_size;
    s_opened_t opened = { 0 };
    if (s_open (job, have, &opened))
        return -1;
    s_wait_begin (job, job->source);
    if (there)
        return s_compare (job, &opened);
    int fd = open (job->part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        s_request (job, "FILE_CLOSE", 0, 0);
        return s_fail (job, "cannot write '%s': %s", job->part, strerror (errno));
    }
    xinf_sha256_t *sum = xinf_sha256_new ();
    uint64_t from = s_resume_from (job, fd, have, &opened, &sum);
    struct statvfs disk;
    int rc = 0;
    if (statvfs (job->directory, &disk) == 0 && (uint64_t) disk.f_bavail * disk.f_frsize < opened.size - from)
        rc = s_fail (job, "model file '%s' (%llu bytes) does not fit in %s: %llu bytes free", job->path,
                     (unsigned long long) opened.size, job->directory,
                     (unsigned long long) disk.f_bavail * disk.f_frsize);
    if (rc == 0)
        rc = s_copy (job, fd, from, &opened, sum);
    s_request (job, "FILE_CLOSE", 0, 0);
    char hex [XINF_SHA256_HEX] = "";
    if (rc == 0)
        xinf_sha256_peek (sum, hex);
    if (rc == 0 && strcmp (hex, opened.sha256)) {
        unlink (job->part);
        rc = s_fail (job, "model file '%s' from %s arrived with sha256 %s, not the source's %s: removed; launch again",
                     job->path, job->source, hex, opened.sha256);
    }
    if (rc == 0 && (fsync (fd) || rename (job->part, job->final)))
        rc = s_fail (job, "cannot put %s in place: %s", job->final, strerror (errno));
    close (fd);
    xinf_sha256_destroy (&sum);
    if (rc == 0) {
        xinf_info ("worker", "model file %s fetched from %s: %llu bytes (%llu resumed), sha256 %s", job->final,
                   job->source, (unsigned long long) opened.size, (unsigned long long) from, hex);
        snprintf (job->sha256, sizeof job->sha256, "%s", hex);
    }
    return rc;
}

static void
s_fetch_main (zsock_t *pipe, void *arg)
{
    s_job_t *job = (s_job_t *) arg;
    job->pipe = pipe;
    zsock_signal (pipe, 0);
    const char *name = xinf_transfer_basename (job->path);
    job->deadline = zclock_mono () + job->config.stall_ms;
    s_wait_begin (job, "the cluster");
    int rc = -1;
    if (!xinf_transfer_name_valid (name))
        s_fail (job, "model file '%.1024s' cannot be fetched: its name must be a plain file name", job->path);
    else
        rc = s_fetch (job);
    xinf_wait_end (xinf_waits_global (), job->wait);
    if (!job->terminated) {
        xinf_msg_t *msg = xinf_msg_new (rc ? "FETCH_FAILED" : "FETCH_DONE");
        if (rc)
            xinf_map_put_str (xinf_msg_body (msg), "error", job->error);
        else {
            xinf_map_put_str (xinf_msg_body (msg), "path", job->final);
            xinf_map_put_str (xinf_msg_body (msg), "sha256", job->sha256);
        }
        s_send (job, &msg);
        //  Stay until the owner ends us, so that it reads the result first
        char *command = zstr_recv (pipe);
        zstr_free (&command);
    }
    xinf_sha256_thread_done ();
    free (job);
}

xinf_fetch_t *
xinf_fetch_new (const xinf_fetch_config_t *config)
{
    s_job_t *job = calloc (1, sizeof *job);
    assert (job);
    job->config = *config;
    snprintf (job->uid, sizeof job->uid, "%s", config->uid);
    snprintf (job->path, sizeof job->path, "%s", config->path);
    snprintf (job->directory, sizeof job->directory, "%s", config->directory);
    snprintf (job->final, sizeof job->final, "%s/%s", job->directory, xinf_transfer_basename (job->path));
    snprintf (job->part, sizeof job->part, "%s.part", job->final);
    snprintf (job->known_sha256, sizeof job->known_sha256, "%s", config->known_sha256 ? config->known_sha256 : "");
    job->config.uid = job->config.path = job->config.directory = job->config.known_sha256 = NULL;
    xinf_fetch_t *self = calloc (1, sizeof *self);
    assert (self);
    self->transfer = config->transfer;
    self->actor = zactor_new (s_fetch_main, job);
    if (!self->actor) {
        free (job);
        free (self);
        return NULL;
    }
    zsock_set_sndtimeo (zactor_sock (self->actor), 0);
    return self;
}

void
xinf_fetch_destroy (xinf_fetch_t **self_p)
{
    if (self_p && *self_p) {
        zsock_set_sndtimeo (zactor_sock ((*self_p)->actor), -1);
        zactor_destroy (&(*self_p)->actor);
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
xinf_fetch_transfer (xinf_fetch_t *self)
{
    return self->transfer;
}

zsock_t *
xinf_fetch_sock (xinf_fetch_t *self)
{
    return zactor_sock (self->actor);
}

xinf_msg_t *
xinf_fetch_recv (xinf_fetch_t *self)
{
    zmsg_t *frames = zmsg_recv (zactor_sock (self->actor));
    char error [256];
    return frames ? xinf_msg_decode (&frames, error, sizeof error, NULL) : NULL;
}

void
xinf_fetch_deliver (xinf_fetch_t *self, xinf_msg_t **msg_p)
{
    zmsg_t *frames = xinf_msg_encode (msg_p);
    if (zmsg_send (&frames, zactor_sock (self->actor)))
        zmsg_destroy (&frames);
}
