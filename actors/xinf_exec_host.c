/*  xinf_exec_host: a replica's executor, on a thread or in its own process.  */
#include "xinf_exec_host.h"
#include "xinf_executor.h"
#include "xinf_model_msg.h"

#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_STOP_MS  5000               //  SIGTERM to SIGKILL

extern char **environ;

struct _xinf_exec_host_t {
    char name [XINF_SENDER_MAX + 1];
    xinf_executor_t *executor;        //  on a thread
    //  In a process
    pid_t pid;
    bool ended;
    char dir [64];                    //  private: its ipc:// sockets
    char endpoint [256], beats_endpoint [256];
    zsock_t *beats;
    int64_t beat_ms;                  //  the last beat (or the start)
    xinf_beacon_view_t view;          //  as the last beat said
    char what [65];
};

//  One fault of XINF_FAULT_HANG, model=UID,rank=R,step=N,phase=P[,layer=L],
//  appended to 'fault' (after a ';') without model= and rank= when they
//  name this replica's rank (or are absent); false when it is not for it.
static bool
s_fault_one (const char *spec, size_t spec_length, const char *uid, uint64_t rank, char *fault, size_t size)
{
    char item [256], ours_text [256] = "";
    bool ours = true;
    for (const char *at = spec, *end = spec + spec_length; at < end; ) {
        size_t length = strcspn (at, ",;");
        snprintf (item, sizeof item, "%.*s", (int) (length < sizeof item - 1 ? length : sizeof item - 1), at);
        at += length + (at + length < end);
        if (!strncmp (item, "model=", 6))
            ours = ours && streq (item + 6, uid);
        else
        if (!strncmp (item, "rank=", 5))
            ours = ours && strtoull (item + 5, NULL, 10) == rank;
        else
        if (strlen (ours_text) + strlen (item) + 2 <= sizeof ours_text) {
            if (*ours_text)
                strcat (ours_text, ",");
            strcat (ours_text, item);
        }
    }
    if (!ours || strlen (fault) + strlen (ours_text) + 2 > size)
        return false;
    if (*fault)
        strcat (fault, ";");
    strcat (fault, ours_text);
    return true;
}

//  XINF_FAULT_HANG's faults (separated by ';') for this replica's rank,
//  as xinf_beacon_set_fault takes them; false when none is for it.
static bool
s_fault_for (const char *uid, uint64_t rank, char *fault, size_t size)
{
    const char *spec = getenv ("XINF_FAULT_HANG");
    bool any = false;
    if (!spec || !*spec || size < 2)
        return false;
    *fault = 0;
    for (const char *at = spec; *at; ) {
        size_t length = strcspn (at, ";");
        any |= s_fault_one (at, length, uid, rank, fault, size);
        at += length + (at [length] == ';');
    }
    return any;
}

//  xinf-executor beside this program, else on the PATH.
static void
s_executor_path (char *path, size_t size)
{
    char self [PATH_MAX];
    ssize_t length = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (length > 0) {
        self [length] = 0;
        char *slash = strrchr (self, '/');
        if (slash) {
            *slash = 0;
            snprintf (path, size, "%s/xinf-executor", self);
            if (access (path, X_OK) == 0)
                return;
        }
    }
    snprintf (path, size, "xinf-executor");
}

static int
s_spawn (xinf_exec_host_t *self, const char *fault, char *error, size_t error_size)
{
    char program [PATH_MAX + 32];
    s_executor_path (program, sizeof program);
    const char *level = xinf_log_level_name (xinf_log_get_level ());
    char *argv [16];
    size_t argc = 0;
    argv [argc++] = program;
    argv [argc++] = "--endpoint";
    argv [argc++] = self->endpoint;
    argv [argc++] = "--beats";
    argv [argc++] = self->beats_endpoint;
    argv [argc++] = "--name";
    argv [argc++] = self->name;
    argv [argc++] = "--log-level";
    argv [argc++] = (char *) level;
    if (fault && *fault) {
        argv [argc++] = "--fault";
        argv [argc++] = (char *) fault;
    }
    argv [argc] = NULL;
    int rc = posix_spawnp (&self->pid, program, NULL, NULL, argv, environ);
    if (rc) {
        snprintf (error, error_size, "cannot start the executor process %s: %s", program, strerror (rc));
        return -1;
    }
    xinf_info (self->name, "executor process pid=%d started (%s) serving %s, beats to %s", (int) self->pid, program,
               self->endpoint, self->beats_endpoint);
    return 0;
}

static int
s_start_process (xinf_exec_host_t *self, const char *fault, char *error, size_t error_size)
{
    snprintf (self->dir, sizeof self->dir, "/tmp/xinf-exec-XXXXXX");
    if (!mkdtemp (self->dir)) {
        snprintf (error, error_size, "cannot make a private directory for the executor's sockets: %s",
                  strerror (errno));
        self->dir [0] = 0;
        return -1;
    }
    snprintf (self->endpoint, sizeof self->endpoint, "ipc://%s/executor", self->dir);
    snprintf (self->beats_endpoint, sizeof self->beats_endpoint, "ipc://%s/beats", self->dir);
    self->beats = zsock_new (ZMQ_PULL);
    assert (self->beats);
    zsock_set_rcvhwm (self->beats, 16);
    zsock_set_linger (self->beats, 0);
    if (zsock_bind (self->beats, "%s", self->beats_endpoint) < 0) {
        snprintf (error, error_size, "cannot bind %s: %s", self->beats_endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->beat_ms = zclock_mono ();
    self->view = (xinf_beacon_view_t) { .what = self->what, .phase_ms = self->beat_ms };
    return s_spawn (self, fault, error, error_size);
}

xinf_exec_host_t *
xinf_exec_host_new (const char *name, const char *uid, uint64_t rank, const char *inproc_endpoint, bool process,
                    char *error, size_t error_size)
{
    xinf_exec_host_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->name, sizeof self->name, "%s", name);
    char fault [256] = "", reason [256];
    bool faulty = s_fault_for (uid, rank, fault, sizeof fault);
    if (process) {
        if (s_start_process (self, faulty ? fault : NULL, error, error_size))
            xinf_exec_host_destroy (&self);
        return self;
    }
    snprintf (self->endpoint, sizeof self->endpoint, "%s", inproc_endpoint);
    self->executor = xinf_executor_new (name, inproc_endpoint);
    if (!self->executor) {
        snprintf (error, error_size, "cannot start the executor");
        xinf_exec_host_destroy (&self);
        return NULL;
    }
    if (faulty && xinf_beacon_set_fault (xinf_executor_beacon (self->executor), fault, reason, sizeof reason))
        xinf_warn (name, "XINF_FAULT_HANG='%s' ignored: %s", getenv ("XINF_FAULT_HANG"), reason);
    else
    if (faulty)
        xinf_warn (name, "XINF_FAULT_HANG: rank %llu will hang at %s", (unsigned long long) rank, fault);
    return self;
}

//  The process's end, waited for within S_STOP_MS (a registered wait).
static void
s_stop_process (xinf_exec_host_t *self)
{
    if (self->pid <= 0 || self->ended)
        return;
    kill (self->pid, SIGTERM);
    uint64_t wait = xinf_wait_begin (xinf_waits_global (), self->name, "executor process stop", "the process",
                                     S_STOP_MS);
    int64_t deadline = zclock_mono () + S_STOP_MS;
    while (waitpid (self->pid, NULL, WNOHANG) == 0) {
        if (zclock_mono () >= deadline) {
            xinf_warn (self->name, "executor process pid=%d did not stop within %d ms of SIGTERM: killed",
                       (int) self->pid, S_STOP_MS);
            kill (self->pid, SIGKILL);
            waitpid (self->pid, NULL, 0);
            break;
        }
        zclock_sleep (5);
    }
    xinf_wait_end (xinf_waits_global (), wait);
    self->ended = true;
}

void
xinf_exec_host_destroy (xinf_exec_host_t **self_p)
{
    if (self_p && *self_p) {
        xinf_exec_host_t *self = *self_p;
        xinf_executor_destroy (&self->executor);
        s_stop_process (self);
        zsock_destroy (&self->beats);
        if (*self->dir) {
            char path [128];
            snprintf (path, sizeof path, "%s/executor", self->dir);
            unlink (path);
            snprintf (path, sizeof path, "%s/beats", self->dir);
            unlink (path);
            rmdir (self->dir);
        }
        free (self);
        *self_p = NULL;
    }
}

const char *
xinf_exec_host_endpoint (xinf_exec_host_t *self)
{
    return self->endpoint;
}

//  One EXECUTOR_BEAT into the view; garbage is logged and dropped.
static void
s_on_beat (xinf_exec_host_t *self, zmsg_t *frames, int64_t now)
{
    char error [256];
    xinf_msg_t *msg = xinf_msg_decode (&frames, error, sizeof error, NULL);
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_model_msg_executor_beat_t beat;
    if (msg && xinf_msg_is (msg, "EXECUTOR_BEAT"))
        xinf_model_msg_executor_beat_decode (xinf_msg_body (msg), &beat, &check);
    else
        xinf_check_fail (&check, "%s", msg ? "not an EXECUTOR_BEAT" : error);
    if (!check.failed && beat.pid != (uint64_t) self->pid)
        xinf_check_fail (&check, "a beat from pid %llu, not %d", (unsigned long long) beat.pid, (int) self->pid);
    xinf_phase_t phase = XINF_PHASE_IDLE;
    while (!check.failed && phase < XINF_PHASES && !streq (xinf_phase_name (phase), beat.phase))
        phase++;
    if (!check.failed && phase >= XINF_PHASES)
        xinf_check_fail (&check, "field 'phase': '%.16s' is no phase", beat.phase);
    if (check.failed)
        xinf_warn (self->name, "bad beat from the executor process: %s", check.reason);
    else {
        snprintf (self->what, sizeof self->what, "%s", beat.what);
        self->view = (xinf_beacon_view_t) { beat.step, phase, (size_t) beat.layer, self->what, now,
                                            now - (int64_t) beat.phase_age_ms };
        self->beat_ms = now;
        xinf_trace (self->name, "beat pid=%d step=%llu phase=%s layer=%zu what=%s age_ms=%llu", (int) self->pid,
                    (unsigned long long) beat.step, beat.phase, (size_t) beat.layer, beat.what,
                    (unsigned long long) beat.phase_age_ms);
    }
    xinf_msg_destroy (&msg);
}

//  Why the process ended, from waitpid's status.
static void
s_ended (xinf_exec_host_t *self, int status, char *reason, size_t size, int64_t now)
{
    char where [200];
    xinf_beacon_describe (&self->view, now, where, sizeof where);
    if (WIFSIGNALED (status))
        snprintf (reason, size, "executor process pid %d was killed by signal %d (%s); last seen %s",
                  (int) self->pid, WTERMSIG (status), strsignal (WTERMSIG (status)), where);
    else
        snprintf (reason, size, "executor process pid %d exited with code %d; last seen %s", (int) self->pid,
                  WIFEXITED (status) ? WEXITSTATUS (status) : -1, where);
}

int
xinf_exec_host_look (xinf_exec_host_t *self, int64_t silence_ms, xinf_beacon_view_t *view, char *reason,
                     size_t reason_size)
{
    int64_t now = zclock_mono ();
    if (self->executor) {
        *view = xinf_beacon_read (xinf_executor_beacon (self->executor));
        return 0;
    }
    if (self->ended) {
        snprintf (reason, reason_size, "executor process pid %d has ended", (int) self->pid);
        return -1;
    }
    zmsg_t *frames;
    while (zsock_events (self->beats) & ZMQ_POLLIN && (frames = zmsg_recv (self->beats)))
        s_on_beat (self, frames, now);
    int status = 0;
    if (waitpid (self->pid, &status, WNOHANG) == self->pid) {
        self->ended = true;
        s_ended (self, status, reason, reason_size, now);
        return -1;
    }
    *view = self->view;
    if (now - self->beat_ms > silence_ms) {
        char where [200];
        xinf_beacon_describe (&self->view, now, where, sizeof where);
        snprintf (reason, reason_size, "executor process pid %d sent no beat for %.1f s; last seen %s",
                  (int) self->pid, (double) (now - self->beat_ms) / 1000.0, where);
        return -1;
    }
    return 0;
}
