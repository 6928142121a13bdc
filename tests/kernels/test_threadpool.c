/*  test_threadpool: every task runs once per loop, on a valid thread, over
    many loops, after idle sleeps, and with a NULL pool.  */
#include "test_kernels.h"
#include "xinf_threadpool.h"

#include <stdatomic.h>
#include <unistd.h>

typedef struct {
    atomic_int *counts;
    int size;
    atomic_int bad_thread;
} s_job_t;

static void
s_count (void *arg, size_t task, int thread)
{
    s_job_t *job = arg;
    atomic_fetch_add (&job->counts [task], 1);
    if (thread < 0 || thread >= job->size)
        atomic_store (&job->bad_thread, 1);
}

static void
s_check_loop (xinf_threadpool_t *pool, size_t tasks)
{
    s_job_t job = { calloc (tasks + 1, sizeof (atomic_int)), xinf_threadpool_size (pool), 0 };
    CHECK (job.counts);
    xinf_threadpool_run (pool, tasks, s_count, &job);
    for (size_t task = 0; task < tasks; task++)
        CHECK_INT (atomic_load (&job.counts [task]), 1);
    CHECK_INT (atomic_load (&job.bad_thread), 0);
    free (job.counts);
}

static void
test_sizes (void)
{
    CHECK (xinf_threadpool_new (-1) == NULL);
    xinf_threadpool_t *pool = xinf_threadpool_new (0);
    CHECK (pool);
    CHECK_INT (xinf_threadpool_size (pool), sysconf (_SC_NPROCESSORS_ONLN));
    xinf_threadpool_destroy (&pool);
    CHECK (pool == NULL);
    xinf_threadpool_destroy (&pool);
    CHECK_INT (xinf_threadpool_size (NULL), 1);
    s_check_loop (NULL, 10);
}

static void
test_loops (void)
{
    for (int threads = 1; threads <= 5; threads++) {
        xinf_threadpool_t *pool = xinf_threadpool_new (threads);
        CHECK (pool);
        CHECK_INT (xinf_threadpool_size (pool), threads);
        size_t sizes [] = { 0, 1, 2, 3, 7, 64, 1000 };
        for (int round = 0; round < 200; round++)
            s_check_loop (pool, sizes [round % 7]);
        xinf_threadpool_destroy (&pool);
    }
}

//  Workers that fell asleep wake up for the next loop.
static void
test_after_sleep (void)
{
    xinf_threadpool_t *pool = xinf_threadpool_new (4);
    for (int round = 0; round < 5; round++) {
        usleep (20000);
        s_check_loop (pool, 100);
    }
    xinf_threadpool_destroy (&pool);
}

static void
s_add (void *arg, size_t task, int thread)
{
    atomic_fetch_add ((atomic_long *) arg, (long) task + 1);
}

//  Many tiny loops back to back (the decode pattern).
static void
test_many_small (void)
{
    xinf_threadpool_t *pool = xinf_threadpool_new (3);
    atomic_long sum = 0;
    for (int round = 0; round < 20000; round++)
        xinf_threadpool_run (pool, 4, s_add, &sum);
    CHECK_INT (atomic_load (&sum), 20000L * 10);
    xinf_threadpool_destroy (&pool);
}

int
main (void)
{
    fprintf (stderr, "test_threadpool:\n");
    RUN (test_sizes);
    RUN (test_loops);
    RUN (test_after_sleep);
    RUN (test_many_small);
    return 0;
}
