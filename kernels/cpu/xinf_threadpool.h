/*  xinf_threadpool: a fixed set of threads that run one parallel loop at a
    time for the CPU kernels.

    xinf_threadpool_run (pool, tasks, fn, arg) calls fn (arg, task, thread)
    for every task in [0, tasks) and returns when all have returned. The
    calling thread takes part as thread 0; workers are 1 .. size-1, so
    'thread' indexes per-thread scratch of xinf_threadpool_size () slots.
    Tasks are handed out in order from a shared counter, so a task runs on
    whichever thread is free: make each task's result independent of the
    thread that runs it. Idle workers spin briefly for the next loop, then
    sleep on a condition variable. One run at a time per pool (concurrent
    callers are serialized); fn must not call run on the same pool.
    A NULL pool runs every task on the calling thread.
*/
#ifndef XINF_THREADPOOL_H_INCLUDED
#define XINF_THREADPOOL_H_INCLUDED

#include <stddef.h>

typedef struct _xinf_threadpool_t xinf_threadpool_t;

typedef void (xinf_threadpool_fn) (void *arg, size_t task, int thread);

//  'threads' in all, the caller included; 0 = the online cores. NULL if
//  threads is negative or a thread could not be started.
xinf_threadpool_t *xinf_threadpool_new (int threads);

void xinf_threadpool_destroy (xinf_threadpool_t **self_p);

//  Threads in the pool, the caller included; 1 for NULL.
int xinf_threadpool_size (const xinf_threadpool_t *self);

void xinf_threadpool_run (xinf_threadpool_t *self, size_t tasks, xinf_threadpool_fn *fn, void *arg);

#endif
