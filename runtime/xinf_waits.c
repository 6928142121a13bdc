/*  xinf_waits: the thread-safe wait registry.  */
#include "xinf_waits.h"

#include <assert.h>
#include <czmq.h>
#include <pthread.h>

typedef struct {
    xinf_wait_info_t info;
    bool reported;               //  this stall was given out as newly_stalled
} s_wait_t;

struct _xinf_waits_t {
    pthread_mutex_t mutex;
    s_wait_t *waits;             //  kept in start order, so oldest first
    size_t count;
    size_t capacity;
    uint64_t next_id;
    int64_t (*clock_fn) (void);
};

static int64_t
s_mono (void)
{
    return zclock_mono ();
}

xinf_waits_t *
xinf_waits_new (void)
{
    xinf_waits_t *self = calloc (1, sizeof *self);
    assert (self);
    pthread_mutex_init (&self->mutex, NULL);
    self->next_id = 1;
    self->clock_fn = s_mono;
    return self;
}

void
xinf_waits_destroy (xinf_waits_t **self_p)
{
    if (self_p && *self_p) {
        xinf_waits_t *self = *self_p;
        pthread_mutex_destroy (&self->mutex);
        free (self->waits);
        free (self);
        *self_p = NULL;
    }
}

static xinf_waits_t *s_global;
static pthread_once_t s_global_once = PTHREAD_ONCE_INIT;

static void
s_global_free (void)
{
    xinf_waits_destroy (&s_global);
}

static void
s_global_init (void)
{
    s_global = xinf_waits_new ();
    atexit (s_global_free);
}

xinf_waits_t *
xinf_waits_global (void)
{
    pthread_once (&s_global_once, s_global_init);
    return s_global;
}

void
xinf_waits_set_clock (xinf_waits_t *self, int64_t (*clock_fn) (void))
{
    self->clock_fn = clock_fn ? clock_fn : s_mono;
}

static void
s_copy_text (char *target, const char *source)
{
    snprintf (target, XINF_WAIT_TEXT_MAX, "%s", source ? source : "");
}

uint64_t
xinf_wait_begin (xinf_waits_t *self, const char *actor, const char *what,
                 const char *peer, int64_t stall_ms)
{
    assert (stall_ms > 0);
    pthread_mutex_lock (&self->mutex);
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 16;
        self->waits = realloc (self->waits, self->capacity * sizeof (s_wait_t));
        assert (self->waits);
    }
    s_wait_t *entry = &self->waits [self->count++];
    memset (entry, 0, sizeof *entry);
    xinf_wait_info_t *wait = &entry->info;
    wait->id = self->next_id++;
    s_copy_text (wait->actor, actor);
    s_copy_text (wait->what, what);
    s_copy_text (wait->peer, peer);
    wait->started = wait->last_progress = self->clock_fn ();
    wait->stall_ms = stall_ms;
    uint64_t id = wait->id;
    pthread_mutex_unlock (&self->mutex);
    return id;
}

//  Index of a wait by id, or -1; caller holds the mutex.
static ssize_t
s_find (xinf_waits_t *self, uint64_t handle)
{
    for (size_t index = 0; index < self->count; index++)
        if (self->waits [index].info.id == handle)
            return (ssize_t) index;
    return -1;
}

void
xinf_wait_progress (xinf_waits_t *self, uint64_t handle, uint64_t progress)
{
    pthread_mutex_lock (&self->mutex);
    ssize_t found = s_find (self, handle);
    if (found >= 0 && self->waits [found].info.progress != progress) {
        self->waits [found].info.progress = progress;
        self->waits [found].info.last_progress = self->clock_fn ();
        self->waits [found].info.stalled = false;
        self->waits [found].reported = false;

    }
    pthread_mutex_unlock (&self->mutex);
}

void
xinf_wait_end (xinf_waits_t *self, uint64_t handle)
{
    pthread_mutex_lock (&self->mutex);
    ssize_t found = s_find (self, handle);
    if (found >= 0) {
        memmove (&self->waits [found], &self->waits [found + 1],
                 (self->count - (size_t) found - 1) * sizeof (s_wait_t));
        self->count--;
    }
    pthread_mutex_unlock (&self->mutex);
}

size_t
xinf_waits_count (xinf_waits_t *self)
{
    pthread_mutex_lock (&self->mutex);
    size_t count = self->count;
    pthread_mutex_unlock (&self->mutex);
    return count;
}

//  Copies waits out; 'mark' records a stall as reported when it is copied
//  (a snapshot peeks without consuming the one newly_stalled report).
static size_t
s_scan (xinf_waits_t *self, int64_t now, int64_t older_than_ms,
        xinf_wait_info_t *out, size_t max, bool mark)
{
    pthread_mutex_lock (&self->mutex);
    size_t found = 0;
    for (size_t index = 0; index < self->count; index++) {
        s_wait_t *entry = &self->waits [index];
        xinf_wait_info_t *wait = &entry->info;
        wait->stalled = now - wait->last_progress >= wait->stall_ms;
        if (now - wait->started < older_than_ms && !wait->stalled)
            continue;
        if (found < max) {
            out [found] = *wait;
            out [found].newly_stalled = wait->stalled && !entry->reported;
            if (mark && wait->stalled)
                entry->reported = true;
        }
        found++;
    }
    pthread_mutex_unlock (&self->mutex);
    return found;
}

size_t
xinf_waits_scan (xinf_waits_t *self, int64_t now, int64_t older_than_ms,
                 xinf_wait_info_t *out, size_t max)
{
    return s_scan (self, now, older_than_ms, out, max, true);
}

xinf_value_t *
xinf_waits_snapshot (xinf_waits_t *self, int64_t now, int64_t older_than_ms)
{
    size_t max = 256;
    xinf_wait_info_t *waits = calloc (max, sizeof *waits);
    assert (waits);
    size_t total = s_scan (self, now, older_than_ms, waits, max, false);
    xinf_value_t *list = xinf_value_new_array ();
    for (size_t index = 0; index < total && index < max; index++) {
        const xinf_wait_info_t *wait = &waits [index];
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_uint (item, "id", wait->id);
        xinf_map_put_str (item, "actor", wait->actor);
        xinf_map_put_str (item, "what", wait->what);
        xinf_map_put_str (item, "peer", wait->peer);
        xinf_map_put_uint (item, "age_ms", (uint64_t) (now - wait->started));
        xinf_map_put_uint (item, "progress", wait->progress);
        xinf_map_put_uint (item, "idle_ms", (uint64_t) (now - wait->last_progress));
        xinf_map_put_uint (item, "stall_ms", (uint64_t) wait->stall_ms);
        xinf_map_put_bool (item, "stalled", wait->stalled);
        xinf_array_push (list, item);
    }
    free (waits);
    return list;
}
