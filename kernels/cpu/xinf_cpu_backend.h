/*  xinf_cpu_backend: the CPU implementation of the compute-backend seam
    (xinf_backend.h): plain host memory, the SIMD kernels of xinf_cpu_ops
    spread over a thread pool, and attention over the paged KV cache
    (xinf_cpu_paged.h).

    Products use the matrix-vector arithmetic for every token, one or many
    (xinf_cpu_matvec_batch: each weight read once a step), so a token's logits are bit for bit the same
    whatever else its step carries and whatever the thread count.
*/
#ifndef XINF_CPU_BACKEND_H_INCLUDED
#define XINF_CPU_BACKEND_H_INCLUDED

#include "xinf_backend.h"
#include "xinf_threadpool.h"

//  A backend with its own pool of 'threads' threads (0: the online
//  cores); NULL if the pool cannot start.
xinf_backend_t *xinf_cpu_backend_new (int threads);

//  A backend on a pool the caller owns (NULL: the calling thread alone);
//  the pool must outlive it.
xinf_backend_t *xinf_cpu_backend_new_on (xinf_threadpool_t *pool);

//  The pool the backend's ops run on (NULL: the calling thread alone), for
//  host work beside them (the executor's logits rows).
xinf_threadpool_t *xinf_cpu_backend_pool (xinf_backend_t *backend);

//  Runs the backend's later calls on 'pool' (not owned; NULL: the calling
//  thread). Not while a call runs.
void xinf_cpu_backend_set_pool (xinf_backend_t *backend, xinf_threadpool_t *pool);

#endif
