/*  xinf_beacon: where a forward step is, and the hang a test injects.  */
#include "xinf_beacon.h"
#include "xinf_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    bool armed;                       //  until it fires or is released
    uint64_t step;
    xinf_phase_t phase;
    bool any_layer;
    size_t layer;
    bool fail;                        //  fail=1: the step fails there instead of hanging
} s_fault_t;

struct _xinf_beacon_t {
    pthread_mutex_t mutex;
    pthread_cond_t released_cond;
    xinf_beacon_view_t view;
    s_fault_t faults [XINF_BEACON_FAULTS];
    bool released;
    bool failed;                      //  an injected failure hit the running step
};

static const char *s_phase_names [XINF_PHASES] = { "idle", "compute", "collective", "sample", "capture", "replay" };

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

xinf_beacon_t *
xinf_beacon_new (void)
{
    xinf_beacon_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->released_cond, NULL);
    self->view.what = "";
    self->view.step_ms = self->view.phase_ms = s_now_ms ();
    return self;
}

void
xinf_beacon_destroy (xinf_beacon_t **self_p)
{
    if (self_p && *self_p) {
        pthread_cond_destroy (&(*self_p)->released_cond);
        pthread_mutex_destroy (&(*self_p)->mutex);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
xinf_phase_name (xinf_phase_t phase)
{
    return (size_t) phase < sizeof s_phase_names / sizeof s_phase_names [0] ? s_phase_names [phase] : "?";
}

bool
xinf_phase_is_graph (xinf_phase_t phase)
{
    return phase == XINF_PHASE_CAPTURE || phase == XINF_PHASE_REPLAY;
}

//  The phase named 'name', or XINF_PHASES when none is.
static xinf_phase_t
s_phase_of (const char *name)
{
    xinf_phase_t phase = XINF_PHASE_IDLE;
    while (phase < XINF_PHASES && strcmp (s_phase_names [phase], name))
        phase++;
    return phase;
}

//  A decimal in [low, high]; 0, or -1.
static int
s_number (const char *text, uint64_t low, uint64_t high, uint64_t *value)
{
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || *end || number < low || number > high)
        return -1;
    *value = number;
    return 0;
}

//  One key=value of a fault's text into 'fault'; 0, or -1 with the reason.
static int
s_fault_item (s_fault_t *fault, char *item, bool *has_step, bool *has_phase, char *error, size_t error_size)
{
    char *value = strchr (item, '=');
    if (!value) {
        snprintf (error, error_size, "'%.64s' is not key=value", item);
        return -1;
    }
    *value++ = 0;
    uint64_t number = 0;
    if (!strcmp (item, "step") && s_number (value, 1, UINT64_MAX / 2, &number) == 0) {
        fault->step = number;
        *has_step = true;
    }
    else
    if (!strcmp (item, "layer") && s_number (value, 0, 1000000, &number) == 0) {
        fault->layer = (size_t) number;
        fault->any_layer = false;
    }
    else
    if (!strcmp (item, "fail") && s_number (value, 0, 1, &number) == 0)
        fault->fail = number == 1;
    else
    if (!strcmp (item, "phase") && s_phase_of (value) > XINF_PHASE_IDLE && s_phase_of (value) < XINF_PHASES) {
        fault->phase = s_phase_of (value);
        *has_phase = true;
    }
    else {
        snprintf (error, error_size, "'%.32s=%.64s' is not step=N (N >= 1), "
                  "phase=compute|collective|sample|capture|replay, layer=L or fail=0|1", item, value);
        return -1;
    }
    return 0;
}

//  One fault's text (step=N,phase=P[,layer=L]) into 'fault'; 0 or -1.
static int
s_fault_parse (char *text, s_fault_t *fault, char *error, size_t error_size)
{
    *fault = (s_fault_t) { .armed = true, .any_layer = true };
    bool has_step = false, has_phase = false;
    char *rest = text;
    for (char *item = strsep (&rest, ","); item; item = strsep (&rest, ","))
        if (s_fault_item (fault, item, &has_step, &has_phase, error, error_size))
            return -1;
    if (!has_step || !has_phase) {
        snprintf (error, error_size, "a fault needs step=N and phase=compute|collective|sample|capture|replay");
        return -1;
    }
    return 0;
}

int
xinf_beacon_set_fault (xinf_beacon_t *self, const char *spec, char *error, size_t error_size)
{
    char text [256];
    if (!spec || strlen (spec) >= sizeof text) {
        snprintf (error, error_size, "the fault's text is missing or longer than %zu bytes", sizeof text - 1);
        return -1;
    }
    snprintf (text, sizeof text, "%s", spec);
    s_fault_t faults [XINF_BEACON_FAULTS];
    size_t count = 0;
    char *rest = text;
    for (char *one = strsep (&rest, ";"); one; one = strsep (&rest, ";")) {
        if (count == XINF_BEACON_FAULTS) {
            snprintf (error, error_size, "more than %d faults", XINF_BEACON_FAULTS);
            return -1;
        }
        if (s_fault_parse (one, &faults [count++], error, error_size))
            return -1;
    }
    pthread_mutex_lock (&self->mutex);
    memset (self->faults, 0, sizeof self->faults);
    memcpy (self->faults, faults, count * sizeof faults [0]);
    pthread_mutex_unlock (&self->mutex);
    return 0;
}

void
xinf_beacon_step_begin (xinf_beacon_t *self)
{
    int64_t now = s_now_ms ();
    pthread_mutex_lock (&self->mutex);
    self->view.step++;
    self->view.phase = XINF_PHASE_COMPUTE;
    self->view.layer = 0;
    self->view.what = "embedding";
    self->view.step_ms = self->view.phase_ms = now;
    pthread_mutex_unlock (&self->mutex);
}

//  The armed fault for where 'view' is, or NULL.
static s_fault_t *
s_fault_hits (xinf_beacon_t *self, const xinf_beacon_view_t *view)
{
    for (size_t index = 0; index < XINF_BEACON_FAULTS; index++) {
        s_fault_t *fault = &self->faults [index];
        if (fault->armed && fault->step == view->step && fault->phase == view->phase
        &&  (fault->any_layer || fault->layer == view->layer))
            return fault;
    }
    return NULL;
}

//  Enters a phase, the mutex held; hangs there when the fault says so.
static void
s_enter_locked (xinf_beacon_t *self, xinf_phase_t phase, size_t layer, const char *what)
{
    self->view.phase = phase;
    self->view.layer = layer;
    self->view.what = what;
    self->view.phase_ms = s_now_ms ();
    s_fault_t *fault = s_fault_hits (self, &self->view);
    if (fault && fault->fail) {
        fault->armed = false;
        self->failed = true;
        xinf_warn ("beacon", "injected failure (XINF_FAULT_HANG fail=1): step %llu, layer %zu %s",
                   (unsigned long long) self->view.step, layer, what);
    }
    else
    if (fault && !self->released) {
        fault->armed = false;
        xinf_warn ("beacon", "injected hang (XINF_FAULT_HANG): step %llu, layer %zu %s, until the executor stops",
                   (unsigned long long) self->view.step, layer, what);
        //  The hang a test asked for: it ends only when the owner releases it
        while (!self->released)
            pthread_cond_wait (&self->released_cond, &self->mutex);
    }
}

void
xinf_beacon_enter (xinf_beacon_t *self, xinf_phase_t phase, size_t layer, const char *what)
{
    pthread_mutex_lock (&self->mutex);
    s_enter_locked (self, phase, layer, what);
    pthread_mutex_unlock (&self->mutex);
}

void
xinf_beacon_point (xinf_beacon_t *self, xinf_phase_t phase, size_t bucket, const char *what)
{
    pthread_mutex_lock (&self->mutex);
    xinf_beacon_view_t view = self->view;
    view.phase = phase;
    view.layer = bucket;
    if (s_fault_hits (self, &view))
        s_enter_locked (self, phase, bucket, what);
    pthread_mutex_unlock (&self->mutex);
}

void
xinf_beacon_step_end (xinf_beacon_t *self)
{
    int64_t now = s_now_ms ();
    pthread_mutex_lock (&self->mutex);
    self->view.phase = XINF_PHASE_IDLE;
    self->view.what = "";
    self->view.phase_ms = now;
    pthread_mutex_unlock (&self->mutex);
}

void
xinf_beacon_release (xinf_beacon_t *self)
{
    pthread_mutex_lock (&self->mutex);
    self->released = true;
    memset (self->faults, 0, sizeof self->faults);
    pthread_cond_broadcast (&self->released_cond);
    pthread_mutex_unlock (&self->mutex);
}

xinf_beacon_view_t
xinf_beacon_read (xinf_beacon_t *self)
{
    pthread_mutex_lock (&self->mutex);
    xinf_beacon_view_t view = self->view;
    pthread_mutex_unlock (&self->mutex);
    return view;
}

void
xinf_beacon_describe (const xinf_beacon_view_t *view, int64_t now, char *text, size_t size)
{
    double phase_s = (double) (now - view->phase_ms) / 1000.0;
    if (view->phase == XINF_PHASE_IDLE)
        snprintf (text, size, "idle after step %llu for %.1f s", (unsigned long long) view->step, phase_s);
    else
    if (view->phase == XINF_PHASE_SAMPLE)
        snprintf (text, size, "step %llu, sampling, for %.1f s", (unsigned long long) view->step, phase_s);
    else
    if (xinf_phase_is_graph (view->phase))
        snprintf (text, size, "graph %s of step %llu (batch bucket %zu), for %.1f s", xinf_phase_name (view->phase),
                  (unsigned long long) view->step, view->layer, phase_s);
    else
        snprintf (text, size, "step %llu, layer %zu %s (%s), for %.1f s", (unsigned long long) view->step,
                  view->layer, view->what, xinf_phase_name (view->phase), phase_s);
}

bool
xinf_beacon_take_failure (xinf_beacon_t *self)
{
    pthread_mutex_lock (&self->mutex);
    bool failed = self->failed;
    self->failed = false;
    pthread_mutex_unlock (&self->mutex);
    return failed;
}
