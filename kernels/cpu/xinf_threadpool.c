/*  xinf_threadpool: workers that spin briefly, then sleep, between loops.  */
#include "xinf_threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined (__x86_64__) || defined (__i386__)
#   include <immintrin.h>
#   define s_pause() _mm_pause ()
#else
#   define s_pause() ((void) 0)
#endif

//  Polls before sleeping: 50 microseconds, long enough to catch the next
//  kernel of a decode step, short enough not to burn a shared core. The
//  clock is read every SPIN_BATCH polls.
#define SPIN_NS 50000
#define SPIN_BATCH 32

typedef struct {
    xinf_threadpool_t *pool;
    int index;
} s_worker_t;

struct _xinf_threadpool_t {
    int size;
    pthread_t *threads;
    s_worker_t *workers;
    pthread_mutex_t run_lock;        //  serializes callers of run
    pthread_mutex_t mutex;
    pthread_cond_t wake;             //  a new loop, or stop
    pthread_cond_t done;             //  the last worker left the loop
    atomic_uint_fast64_t generation; //  one more per loop
    atomic_size_t next;              //  next task to hand out
    atomic_int finished;             //  workers done with this loop
    atomic_bool stop;
    size_t tasks;
    xinf_threadpool_fn *fn;
    void *arg;
};

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

//  Spins until done (self) holds or SPIN_NS passed; returns done (self).
static bool
s_spin (xinf_threadpool_t *self, bool (*done) (xinf_threadpool_t *self, uint64_t value), uint64_t value)
{
    int64_t deadline = 0;
    for (;;) {
        for (int poll = 0; poll < SPIN_BATCH; poll++) {
            if (done (self, value))
                return true;
            s_pause ();
        }
        int64_t now = s_now_ns ();
        if (!deadline)
            deadline = now + SPIN_NS;
        else
        if (now >= deadline)
            return false;
    }
}

static void
s_do_tasks (xinf_threadpool_t *self, int thread)
{
    for (;;) {
        size_t task = atomic_fetch_add_explicit (&self->next, 1, memory_order_relaxed);
        if (task >= self->tasks)
            break;
        self->fn (self->arg, task, thread);
    }
}

static bool
s_new_loop (xinf_threadpool_t *self, uint64_t seen)
{
    return atomic_load_explicit (&self->generation, memory_order_acquire) != seen
        || atomic_load_explicit (&self->stop, memory_order_relaxed);
}

//  Waits for a generation other than 'seen'; returns it.
static uint64_t
s_wait_loop (xinf_threadpool_t *self, uint64_t seen)
{
    if (s_spin (self, s_new_loop, seen))
        return atomic_load (&self->generation);
    pthread_mutex_lock (&self->mutex);
    while (atomic_load (&self->generation) == seen && !atomic_load (&self->stop))
        pthread_cond_wait (&self->wake, &self->mutex);
    pthread_mutex_unlock (&self->mutex);
    return atomic_load (&self->generation);
}

static void *
s_worker (void *arg)
{
    s_worker_t *worker = arg;
    xinf_threadpool_t *self = worker->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = s_wait_loop (self, seen);
        if (atomic_load (&self->stop))
            break;
        s_do_tasks (self, worker->index);
        if (atomic_fetch_add_explicit (&self->finished, 1, memory_order_acq_rel) + 1 == self->size - 1) {
            pthread_mutex_lock (&self->mutex);
            pthread_cond_signal (&self->done);
            pthread_mutex_unlock (&self->mutex);
        }
    }
    return NULL;
}

static int
s_online_cores (void)
{
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int) cores : 1;
}

xinf_threadpool_t *
xinf_threadpool_new (int threads)
{
    if (threads < 0)
        return NULL;
    xinf_threadpool_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->size = threads ? threads : s_online_cores ();
    self->threads = calloc ((size_t) self->size, sizeof *self->threads);
    self->workers = calloc ((size_t) self->size, sizeof *self->workers);
    pthread_mutex_init (&self->run_lock, NULL);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->wake, NULL);
    pthread_cond_init (&self->done, NULL);
    atomic_init (&self->generation, 0);
    atomic_init (&self->next, 0);
    atomic_init (&self->finished, 0);
    atomic_init (&self->stop, false);
    if (!self->threads || !self->workers) {
        xinf_threadpool_destroy (&self);
        return NULL;
    }
    int started = 1;
    for (int index = 1; index < self->size; index++, started++) {
        self->workers [index] = (s_worker_t) { self, index };
        if (pthread_create (&self->threads [index], NULL, s_worker, &self->workers [index]))
            break;
    }
    if (started < self->size) {
        self->size = started;           //  destroy joins only those started
        xinf_threadpool_destroy (&self);
    }
    return self;
}

void
xinf_threadpool_destroy (xinf_threadpool_t **self_p)
{
    if (self_p && *self_p) {
        xinf_threadpool_t *self = *self_p;
        pthread_mutex_lock (&self->mutex);
        atomic_store (&self->stop, true);
        pthread_cond_broadcast (&self->wake);
        pthread_mutex_unlock (&self->mutex);
        for (int index = 1; self->threads && index < self->size; index++)
            pthread_join (self->threads [index], NULL);
        pthread_cond_destroy (&self->done);
        pthread_cond_destroy (&self->wake);
        pthread_mutex_destroy (&self->mutex);
        pthread_mutex_destroy (&self->run_lock);
        free (self->workers);
        free (self->threads);
        free (self);
        *self_p = NULL;
    }
}

int
xinf_threadpool_size (const xinf_threadpool_t *self)
{
    return self ? self->size : 1;
}

//  Waits until every worker has left the loop, so none can see the next
//  loop's counters with this loop's function.
static bool
s_all_finished (xinf_threadpool_t *self, uint64_t workers)
{
    return (uint64_t) atomic_load_explicit (&self->finished, memory_order_acquire) == workers;
}

static void
s_wait_workers (xinf_threadpool_t *self)
{
    int workers = self->size - 1;
    if (s_spin (self, s_all_finished, (uint64_t) workers))
        return;
    pthread_mutex_lock (&self->mutex);
    while (atomic_load (&self->finished) != workers)
        pthread_cond_wait (&self->done, &self->mutex);
    pthread_mutex_unlock (&self->mutex);
}

void
xinf_threadpool_run (xinf_threadpool_t *self, size_t tasks, xinf_threadpool_fn *fn, void *arg)
{
    if (!self || self->size == 1 || tasks <= 1) {
        for (size_t task = 0; task < tasks; task++)
            fn (arg, task, 0);
        return;
    }
    pthread_mutex_lock (&self->run_lock);
    self->tasks = tasks;
    self->fn = fn;
    self->arg = arg;
    atomic_store_explicit (&self->next, 0, memory_order_relaxed);
    atomic_store_explicit (&self->finished, 0, memory_order_relaxed);
    pthread_mutex_lock (&self->mutex);
    atomic_fetch_add_explicit (&self->generation, 1, memory_order_release);
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->mutex);
    s_do_tasks (self, 0);
    s_wait_workers (self);
    pthread_mutex_unlock (&self->run_lock);
}
