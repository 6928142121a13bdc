/*  xinf_cuda_sample: the CUDA backend's sample op (xinf_backend.h): one
    block a logits row runs the search of xinf_cuda_sample.cuh over the
    row in device memory; only the rows' parameters go to the device and
    only the token ids come back. Never inside a graph capture: sampling
    runs after the pass (replayed or not), on the backend's stream.  */
#include "xinf_cuda_priv.h"
#include "xinf_cuda_sample.cuh"

#include <stdio.h>
#include <stdlib.h>

__global__ void
s_sample_kernel (const float *logits, unsigned vocab, int shift, const xinf_cuda_sample_row_t *rows,
                 int32_t *tokens)
{
    __shared__ xs_shared_t shared;
    xs_ctx_t ctx = { logits + (size_t) blockIdx.x * vocab, vocab, threadIdx.x, blockDim.x, shift, 0, 0, &shared,
                     NULL };
    int32_t token = xs_sample_row (&ctx, &rows [blockIdx.x]);
    if (threadIdx.x == 0)
        tokens [blockIdx.x] = token;
}

//  The rows' parameters as the kernel reads them, checked as
//  xinf_sampler_set checks them; -1 for a bad one.
static int
s_rows (const xinf_sampling_t *params, const double *uniforms, size_t n_rows, xinf_cuda_sample_row_t *rows)
{
    for (size_t row = 0; row < n_rows; row++) {
        float temperature = params [row].temperature, top_p = params [row].top_p;
        double uniform = uniforms [row];
        if (!(temperature >= 0) || temperature == INFINITY || !(top_p > 0 && top_p <= 1)
        ||  params [row].top_k > INT32_MAX || !(uniform >= 0 && uniform < 1))
            return -1;
        rows [row] = (xinf_cuda_sample_row_t) { temperature, top_p, params [row].top_k, 0, uniform };
    }
    return 0;
}

//  Room on the device for 'n_rows' rows' parameters and tokens.
static int
s_reserve (xinf_cuda_t *cuda, size_t n_rows)
{
    size_t bytes = n_rows * (sizeof (xinf_cuda_sample_row_t) + sizeof (int32_t));
    if (bytes <= cuda->sample_capacity)
        return 0;
    size_t capacity = cuda->sample_capacity ? cuda->sample_capacity : 4096;
    while (capacity < bytes)
        capacity *= 2;
    //  cudaFree waits for the kernels that may still read the old one
    if (cuda->sample_device && xinf_cuda_check (cuda, cudaFree (cuda->sample_device), "sample"))
        return -1;
    cuda->sample_device = NULL;
    cuda->sample_capacity = 0;
    if (xinf_cuda_check (cuda, cudaMalloc (&cuda->sample_device, capacity), "sample"))
        return -1;
    cuda->sample_capacity = capacity;
    return 0;
}

//  Uploads the rows, runs the kernel, brings the tokens back: 0, or -1
//  after xinf_cuda_fail.
static int
s_run (xinf_cuda_t *cuda, const float *logits, size_t n_rows, size_t vocab, const xinf_cuda_sample_row_t *rows,
       int32_t *tokens)
{
    if (!xinf_cuda_enter (cuda))
        return -1;
    if (cuda->capturing)
        return xinf_cuda_fail_once (cuda, "sample", "sampling is never recorded into a graph");
    if (!xinf_cuda_device_memory (cuda, logits, n_rows * vocab * sizeof (float), "sample") || s_reserve (cuda, n_rows))
        return -1;
    xinf_cuda_sample_row_t *device_rows = (xinf_cuda_sample_row_t *) cuda->sample_device;
    int32_t *device_tokens = (int32_t *) (device_rows + n_rows);
    //  From pageable memory the copy returns once the bytes are staged
    if (xinf_cuda_check (cuda, cudaMemcpyAsync (device_rows, rows, n_rows * sizeof *rows, cudaMemcpyHostToDevice,
                                                cuda->stream), "sample (parameters)"))
        return -1;
    s_sample_kernel <<<(unsigned) n_rows, XINF_SAMPLE_THREADS, 0, cuda->stream>>> (
        logits, (unsigned) vocab, xs_shift ((unsigned) vocab), device_rows, device_tokens);
    if (xinf_cuda_launched (cuda, "sample")
    ||  xinf_cuda_check (cuda, cudaMemcpyAsync (tokens, device_tokens, n_rows * sizeof (int32_t),
                                                cudaMemcpyDeviceToHost, cuda->stream), "sample (tokens)")
    ||  xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "sample"))
        return -1;
    return 0;
}

int
xinf_cuda_sample (xinf_backend_t *self, const float *logits, size_t n_rows, size_t vocab,
                  const xinf_sampling_t *params, const double *uniforms, int32_t *tokens)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (n_rows == 0)
        return 0;
    if (vocab == 0 || vocab > INT32_MAX || n_rows > INT32_MAX / vocab)
        return -1;
    xinf_cuda_sample_row_t *rows = (xinf_cuda_sample_row_t *) malloc (n_rows * sizeof *rows);
    if (!rows || s_rows (params, uniforms, n_rows, rows)) {
        free (rows);
        return -1;
    }
    int rc = s_run (cuda, logits, n_rows, vocab, rows, tokens);
    free (rows);
    return rc;
}

//  The start of a row's host threads: none runs before all are made, and
//  none runs at all when one could not be made.
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int state;                        //  0: making them, 1: go, -1: give up
} s_host_start_t;

//  One host thread of a row's block (xinf_cuda_sample_on_host_threads).
typedef struct {
    xs_ctx_t ctx;
    const xinf_cuda_sample_row_t *row;
    s_host_start_t *start;
    int32_t token;
} s_host_thread_t;

//  A host thread: waits for the start, then runs the row's search as its
//  thread of the block.
static void *
s_host_thread (void *arg)
{
    s_host_thread_t *self = (s_host_thread_t *) arg;
    pthread_mutex_lock (&self->start->lock);
    while (self->start->state == 0)
        pthread_cond_wait (&self->start->changed, &self->start->lock);
    int state = self->start->state;
    pthread_mutex_unlock (&self->start->lock);
    if (state > 0)
        self->token = xs_sample_row (&self->ctx, self->row);
    return NULL;
}

//  Lets the row's threads go (1) or give up (-1).
static void
s_host_start (s_host_start_t *start, int state)
{
    pthread_mutex_lock (&start->lock);
    start->state = state;
    pthread_cond_broadcast (&start->changed);
    pthread_mutex_unlock (&start->lock);
}

//  Row 'row' by 'threads' host threads meeting at a barrier; -1 when
//  they cannot be made.
static int
s_host_row (const float *logits, size_t vocab, const xinf_cuda_sample_row_t *row, unsigned threads,
            xs_shared_t *shared, int32_t *token)
{
    pthread_barrier_t barrier;
    s_host_start_t start = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    s_host_thread_t *each = (s_host_thread_t *) calloc (threads, sizeof *each);
    pthread_t *ids = (pthread_t *) calloc (threads, sizeof *ids);
    if (!each || !ids || pthread_barrier_init (&barrier, NULL, threads)) {
        free (each);
        free (ids);
        return -1;
    }
    unsigned started = 0;
    for (; started < threads; started++) {
        each [started].ctx = (xs_ctx_t) { logits, (unsigned) vocab, started, threads, xs_shift ((unsigned) vocab), 0, 0,
                                          shared, &barrier };
        each [started].row = row;
        each [started].start = &start;
        if (pthread_create (&ids [started], NULL, s_host_thread, &each [started]))
            break;
    }
    s_host_start (&start, started == threads ? 1 : -1);
    for (unsigned t = 0; t < started; t++)
        pthread_join (ids [t], NULL);
    *token = each [0].token;
    for (unsigned t = 1; t < threads; t++)
        if (each [t].token != *token)
            *token = -2;              //  threads of a block must agree
    pthread_barrier_destroy (&barrier);
    free (each);
    free (ids);
    return started == threads ? 0 : -1;
}

int
xinf_cuda_sample_on_host_threads (const float *logits, size_t n_rows, size_t vocab, const xinf_sampling_t *params,
                                  const double *uniforms, int32_t *tokens, unsigned threads)
{
    if (vocab == 0 || vocab > INT32_MAX || threads == 0 || threads > XINF_SAMPLE_THREADS)
        return -1;
    xs_shared_t *shared = (xs_shared_t *) calloc (1, sizeof *shared);
    xinf_cuda_sample_row_t *rows = (xinf_cuda_sample_row_t *) malloc ((n_rows ? n_rows : 1) * sizeof *rows);
    int rc = shared && rows ? s_rows (params, uniforms, n_rows, rows) : -1;
    for (size_t row = 0; row < n_rows && rc == 0; row++) {
        if (threads > 1)
            rc = s_host_row (logits + row * vocab, vocab, &rows [row], threads, shared, &tokens [row]);
        else {
            xs_ctx_t ctx = { logits + row * vocab, (unsigned) vocab, 0, 1, xs_shift ((unsigned) vocab), 0, 0, shared,
                             NULL };
            tokens [row] = xs_sample_row (&ctx, &rows [row]);
        }
    }
    free (rows);
    free (shared);
    return rc;
}

int
xinf_cuda_sample_on_host (const float *logits, size_t n_rows, size_t vocab, const xinf_sampling_t *params,
                          const double *uniforms, int32_t *tokens)
{
    return xinf_cuda_sample_on_host_threads (logits, n_rows, vocab, params, uniforms, tokens, 1);
}
