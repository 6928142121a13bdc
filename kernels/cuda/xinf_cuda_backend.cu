/*  xinf_cuda_backend: the CUDA backend's life, memory and bookkeeping:
    device allocations (registered, so that an op can tell the backend's
    memory from the caller's host memory), the cache of host data copied
    to the device, staging buffers, errors, and the ops table.

    While a decode pass is captured into a CUDA graph (xinf_cuda_graph.cu)
    nothing may be allocated or copied from pageable host memory: the
    graph's batch arrays were put in place before the capture began, so
    the uploads find the same bytes there and copy nothing; an upload, a
    growing stage or a first copy of host data that would have to copy
    fails the capture instead (the pass then runs eagerly).  */
#include "xinf_cuda_priv.h"
#include "xinf_cuda_dot.cuh"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---- errors ------------------------------------------------------------------

//  A failure: the first one's reason is kept. Running out of device
//  memory is not sticky (the context is fine): the status op reports it
//  once and the backend tries again on the next pass; anything else is.
static int
s_fail (xinf_cuda_t *cuda, const char *what, const char *reason, bool sticky)
{
    fprintf (stderr, "xinf cuda (device %d): %s: %s\n", cuda->device, what, reason);
    if (!cuda->failed)
        snprintf (cuda->error, sizeof cuda->error, "%s: %s", what, reason);
    cuda->failed = true;
    cuda->sticky |= sticky;
    return -1;
}

int
xinf_cuda_fail (xinf_cuda_t *cuda, const char *what, const char *reason)
{
    return s_fail (cuda, what, reason, true);
}

int
xinf_cuda_fail_once (xinf_cuda_t *cuda, const char *what, const char *reason)
{
    snprintf (cuda->failed_once, sizeof cuda->failed_once, "%s: %s", what, reason);
    return s_fail (cuda, what, reason, false);
}

int
xinf_cuda_check (xinf_cuda_t *cuda, cudaError_t status, const char *what)
{
    return status == cudaSuccess ? 0
         : s_fail (cuda, what, cudaGetErrorString (status), status != cudaErrorMemoryAllocation);
}

int
xinf_cuda_check_blas (xinf_cuda_t *cuda, cublasStatus_t status, const char *what)
{
    return status == CUBLAS_STATUS_SUCCESS ? 0 : xinf_cuda_fail (cuda, what, cublasGetStatusString (status));
}

bool
xinf_cuda_enter (xinf_cuda_t *cuda)
{
    cuda->handoff.ops++;
    return !cuda->failed && xinf_cuda_check (cuda, cudaSetDevice (cuda->device), "cudaSetDevice") == 0;
}

int
xinf_cuda_launched (xinf_cuda_t *cuda, const char *what)
{
    return xinf_cuda_check (cuda, cudaGetLastError (), what);
}

//  ---- the backend's allocations -------------------------------------------------

bool
xinf_cuda_owns (const xinf_cuda_t *cuda, const void *memory, size_t bytes)
{
    const char *start = (const char *) memory;
    for (size_t index = 0; index < cuda->n_spans; index++) {
        const xinf_cuda_span_t *span = &cuda->spans [index];
        if (start >= span->base && start < span->base + span->bytes)
            return bytes <= (size_t) (span->base + span->bytes - start);
    }
    return false;
}

void *
xinf_cuda_device_memory (xinf_cuda_t *cuda, const void *memory, size_t bytes, const char *what)
{
    if (memory && xinf_cuda_owns (cuda, memory, bytes))
        return (void *) memory;
    char reason [128];
    snprintf (reason, sizeof reason, "%zu bytes at %p are not memory of this backend", bytes, memory);
    xinf_cuda_fail (cuda, what, reason);
    return NULL;
}

static void *
s_alloc (xinf_backend_t *self, size_t bytes)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    bytes = bytes ? bytes : 1;
    if (!xinf_cuda_enter (cuda))
        return NULL;
    if (cuda->capturing) {
        //  cudaMalloc and the synchronize below would break the capture
        xinf_cuda_fail_once (cuda, "alloc", "an allocation while a CUDA graph is captured");
        return NULL;
    }
    if (cuda->n_spans == cuda->max_spans) {
        size_t max = cuda->max_spans ? 2 * cuda->max_spans : 16;
        xinf_cuda_span_t *spans = (xinf_cuda_span_t *) realloc (cuda->spans, max * sizeof *spans);
        if (!spans)
            return NULL;
        cuda->spans = spans;
        cuda->max_spans = max;
    }
    void *memory = NULL;
    cudaError_t status = cudaMalloc (&memory, bytes);
    if (status != cudaSuccess) {
        //  Out of memory is the caller's to report, not a broken backend
        fprintf (stderr, "xinf cuda (device %d): alloc of %zu bytes: %s\n", cuda->device, bytes,
                 cudaGetErrorString (status));
        cudaGetLastError ();
        return NULL;
    }
    if (xinf_cuda_check (cuda, cudaMemsetAsync (memory, 0, bytes, cuda->stream), "alloc (zeroing)")
    ||  xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "alloc (zeroing)")) {
        cudaFree (memory);
        return NULL;
    }
    cuda->spans [cuda->n_spans++] = (xinf_cuda_span_t) { (char *) memory, bytes };
    return memory;
}

static void
s_free (xinf_backend_t *self, void *memory)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    cudaSetDevice (cuda->device);
    for (size_t index = 0; index < cuda->n_spans; index++)
        if (cuda->spans [index].base == memory) {
            xinf_cuda_graph_drop_all (cuda);      //  they may use this memory
            xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "free");
            xinf_cuda_check (cuda, cudaFree (memory), "free");
            cuda->spans [index] = cuda->spans [--cuda->n_spans];
            return;
        }
    if (memory)
        xinf_cuda_fail (cuda, "free", "not memory of this backend");
}

//  ---- copies of host data -------------------------------------------------------

static size_t
s_slot (const void *host, size_t max)
{
    uint64_t key = (uint64_t) (uintptr_t) host;
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (size_t) key & (max - 1);
}

//  Room for one more copy (the table at most half full).
static int
s_copies_grow (xinf_cuda_t *cuda)
{
    if (2 * (cuda->n_copies + 1) <= cuda->max_copies)
        return 0;
    size_t max = cuda->max_copies ? 2 * cuda->max_copies : 256;
    xinf_cuda_copy_t *copies = (xinf_cuda_copy_t *) calloc (max, sizeof *copies);
    if (!copies)
        return xinf_cuda_fail (cuda, "host data cache", "out of host memory");
    for (size_t index = 0; index < cuda->max_copies; index++)
        if (cuda->copies [index].host) {
            size_t slot = s_slot (cuda->copies [index].host, max);
            while (copies [slot].host)
                slot = (slot + 1) & (max - 1);
            copies [slot] = cuda->copies [index];
        }
    free (cuda->copies);
    cuda->copies = copies;
    cuda->max_copies = max;
    return 0;
}

//  The copy of 'host' in 'layout', NULL if none; 'fewer' set when one
//  exists with fewer bytes than 'bytes'. A repacked Q8_0 copy is found
//  only by its exact size (fewer rows are no prefix of its image: the
//  scales follow all the codes), so a view of fewer rows gets its own.
static void *
s_copy_find (xinf_cuda_t *cuda, const void *host, xinf_cuda_layout_t layout, size_t bytes, bool *fewer)
{
    *fewer = false;
    if (!cuda->max_copies)
        return NULL;
    size_t slot = s_slot (host, cuda->max_copies);
    for (; cuda->copies [slot].host; slot = (slot + 1) & (cuda->max_copies - 1)) {
        xinf_cuda_copy_t *copy = &cuda->copies [slot];
        if (copy->host != host || copy->layout != layout)
            continue;
        if (layout == XINF_CUDA_COPY_Q8A) {
            if (copy->bytes == bytes)
                return copy->device;
            continue;
        }
        *fewer = copy->bytes < bytes;
        return *fewer ? NULL : copy->device;
    }
    return NULL;
}

//  Records 'device' (bytes) as the copy of 'host' in 'layout'; -1 after
//  a failure (out of host memory: 'device' freed).
static int
s_copy_record (xinf_cuda_t *cuda, const void *host, xinf_cuda_layout_t layout, void *device, size_t bytes)
{
    if (s_copies_grow (cuda)) {
        cudaFree (device);
        return -1;
    }
    size_t slot = s_slot (host, cuda->max_copies);
    while (cuda->copies [slot].host)
        slot = (slot + 1) & (cuda->max_copies - 1);
    cuda->copies [slot] = (xinf_cuda_copy_t) { host, layout, bytes, device };
    cuda->n_copies++;
    cuda->copied_bytes += bytes;
    return 0;
}

//  Device memory of 'bytes' holding a copy of 'host', recorded; NULL
//  after a failure.
static void *
s_copy_add (xinf_cuda_t *cuda, const void *host, size_t bytes, const char *what)
{
    if (cuda->capturing) {
        xinf_cuda_fail_once (cuda, what, "graph capture: host data not on the device yet");
        return NULL;
    }
    void *device = NULL;
    if (xinf_cuda_check (cuda, cudaMalloc (&device, bytes ? bytes : 1), what))
        return NULL;
    if (xinf_cuda_check (cuda, cudaMemcpyAsync (device, host, bytes, cudaMemcpyHostToDevice, cuda->stream), what)) {
        cudaFree (device);
        return NULL;
    }
    return s_copy_record (cuda, host, XINF_CUDA_COPY_AS_IS, device, bytes) ? NULL : device;
}

//  Rows of a Q8_0 matrix repacked a run at a time (a bounded host buffer,
//  not the whole image) into device memory; -1 after a failure.
#define S_REPACK_BYTES (16u << 20)

typedef struct {
    xinf_cuda_t *cuda;
    uint8_t *device;
    const char *what;
} s_put_t;

static int
s_put_device (void *arg, size_t offset, const void *bytes, size_t size)
{
    s_put_t *put = (s_put_t *) arg;
    //  On the backend's stream (non-blocking: a plain cudaMemcpy would not
    //  be ordered before its kernels), waited for: the host buffer is
    //  written again for the next run
    return xinf_cuda_check (put->cuda, cudaMemcpyAsync (put->device + offset, bytes, size, cudaMemcpyHostToDevice,
                                                         put->cuda->stream), put->what)
        || xinf_cuda_check (put->cuda, cudaStreamSynchronize (put->cuda->stream), put->what) ? -1 : 0;
}

static int
s_repack_upload (xinf_cuda_t *cuda, const xinf_matrix_t *w, uint8_t *device, const char *what)
{
    size_t row_bytes = w->cols / 32 * 34, run = S_REPACK_BYTES / row_bytes ? S_REPACK_BYTES / row_bytes : 1;
    size_t scales_at = xinf_cuda_q8a_scales_at (w->rows, w->cols);
    s_put_t put = { cuda, device, what };
    if (xinf_cuda_check (cuda, cudaMemsetAsync (device + w->rows * w->cols, 0, scales_at - w->rows * w->cols,
                                                cuda->stream), what))
        return -1;
    if (xinf_cuda_q8a_put_runs (w->data, w->rows, w->cols, run, s_put_device, &put))
        return cuda->failed ? -1 : xinf_cuda_fail (cuda, what, "out of host memory repacking Q8_0 weights");
    return 0;
}

const void *
xinf_cuda_constant (xinf_cuda_t *cuda, const void *host, size_t bytes, const char *what)
{
    bool fewer;
    if (cuda->failed)
        return NULL;
    if (xinf_cuda_owns (cuda, host, bytes))
        return host;
    void *device = s_copy_find (cuda, host, XINF_CUDA_COPY_AS_IS, bytes, &fewer);
    if (fewer)
        xinf_cuda_fail (cuda, what, "host data seen before with fewer bytes (changed under the backend)");
    if (device || fewer)
        return device;
    return s_copy_add (cuda, host, bytes, what);
}

const void *
xinf_cuda_constant_q8a (xinf_cuda_t *cuda, const xinf_matrix_t *w, const char *what)
{
    bool fewer;
    size_t bytes = xinf_cuda_q8a_bytes (w->rows, w->cols);
    if (cuda->failed)
        return NULL;
    void *device = s_copy_find (cuda, w->data, XINF_CUDA_COPY_Q8A, bytes, &fewer);
    if (device)
        return device;
    if (cuda->capturing) {
        xinf_cuda_fail_once (cuda, what, "graph capture: host data not on the device yet");
        return NULL;
    }
    if (xinf_cuda_check (cuda, cudaMalloc (&device, bytes), what))
        return NULL;
    if (s_repack_upload (cuda, w, (uint8_t *) device, what)) {
        cudaFree (device);
        return NULL;
    }
    return s_copy_record (cuda, w->data, XINF_CUDA_COPY_Q8A, device, bytes) ? NULL : device;
}

static void
s_forget (xinf_cuda_t *cuda)
{
    cudaSetDevice (cuda->device);
    xinf_cuda_graph_drop_all (cuda);  //  they read the weights freed here
    cudaStreamSynchronize (cuda->stream);
    for (size_t index = 0; index < cuda->max_copies; index++)
        if (cuda->copies [index].host)
            cudaFree (cuda->copies [index].device);
    free (cuda->copies);
    cuda->copies = NULL;
    cuda->n_copies = cuda->max_copies = cuda->copied_bytes = 0;
}

//  ---- staging -------------------------------------------------------------------

void *
xinf_cuda_stage (xinf_cuda_t *cuda, xinf_cuda_stage_t which, size_t bytes)
{
    xinf_cuda_buffer_t *stage = &cuda->stages [which];
    if (cuda->failed)
        return NULL;
    if (bytes <= stage->capacity)
        return stage->device;
    if (cuda->capturing) {
        xinf_cuda_fail_once (cuda, "staging", "graph capture: a staging buffer would have to grow");
        return NULL;
    }
    size_t capacity = stage->capacity ? stage->capacity : 4096;
    while (capacity < bytes)
        capacity *= 2;
    //  The stream may still read the old buffer: cudaFree waits for it
    if (xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "staging")
    ||  (stage->device && xinf_cuda_check (cuda, cudaFree (stage->device), "staging")))
        return NULL;
    stage->device = NULL;
    stage->capacity = 0;
    stage->mirror_bytes = 0;          //  nothing of the old content is on the device now
    if (xinf_cuda_check (cuda, cudaMalloc (&stage->device, capacity), "staging"))
        return NULL;
    stage->capacity = capacity;
    return stage->device;
}

int
xinf_cuda_upload (xinf_cuda_t *cuda, xinf_cuda_stage_t which, const void *const *hosts, const size_t *sizes,
                  size_t count, void **parts)
{
    size_t total = 0;
    for (size_t index = 0; index < count; index++)
        total += (sizes [index] + 15) / 16 * 16;
    char *device = (char *) xinf_cuda_stage (cuda, which, total);
    if (!device)
        return -1;
    xinf_cuda_buffer_t *stage = &cuda->stages [which];
    if (stage->host_capacity < total) {
        void *image = realloc (stage->image, total), *mirror = image ? realloc (stage->mirror, total) : NULL;
        stage->image = image ? image : stage->image;
        stage->mirror = mirror ? mirror : stage->mirror;
        stage->mirror_bytes = 0;
        if (!image || !mirror)
            return xinf_cuda_fail (cuda, "staging", "out of host memory");
        stage->host_capacity = total;
    }
    //  The whole image, padding zeroed; copied only when the device holds
    //  something else (a batch's arrays stay the same for all its layers)
    char *image = (char *) stage->image;
    size_t offset = 0;
    for (size_t index = 0; index < count; index++) {
        size_t padded = (sizes [index] + 15) / 16 * 16;
        memcpy (image + offset, hosts [index], sizes [index]);
        memset (image + offset + sizes [index], 0, padded - sizes [index]);
        parts [index] = device + offset;
        offset += padded;
    }
    if (stage->mirror_bytes == total && memcmp (stage->mirror, image, total) == 0)
        return 0;
    if (cuda->capturing)
        return xinf_cuda_fail_once (cuda, "upload", "graph capture: a host array differs from the one put in place "
                               "before the capture");
    stage->mirror_bytes = 0;
    if (xinf_cuda_check (cuda, cudaMemcpyAsync (device, image, total, cudaMemcpyHostToDevice, cuda->stream), "upload"))
        return -1;
    //  cudaMemcpyAsync from pageable memory returns once the bytes are staged
    stage->image = stage->mirror;
    stage->mirror = image;
    stage->mirror_bytes = total;
    return 0;
}

int
xinf_cuda_batch (xinf_cuda_t *cuda, const xinf_batch_t *batch, size_t n_blocks, size_t block_tokens,
                 xinf_cuda_batch_t *device)
{
    if (cuda->failed)
        return -1;
    if (!batch->n_seqs || batch->table_start [0] < 0)
        return xinf_cuda_fail (cuda, "batch", "no sequences or a negative table start");
    for (size_t s = 0; s < batch->n_seqs; s++)
        if (batch->table_start [s + 1] < batch->table_start [s])
            return xinf_cuda_fail (cuda, "batch", "block tables out of order");
    for (size_t i = 0; i < batch->n; i++) {
        int32_t seq = batch->seq [i], pos = batch->pos [i];
        if (seq < 0 || (size_t) seq >= batch->n_seqs || pos < 0
        ||  (size_t) pos / block_tokens >= (size_t) (batch->table_start [seq + 1] - batch->table_start [seq]))
            return xinf_cuda_fail (cuda, "batch", "a token's sequence or position lies outside its block table");
    }
    size_t n = batch->n, n_tables = batch->n_seqs + 1, n_listed = (size_t) batch->table_start [batch->n_seqs];
    for (size_t index = 0; index < n_listed; index++)
        if (batch->blocks [index] < 0 || (size_t) batch->blocks [index] >= n_blocks)
            return xinf_cuda_fail (cuda, "batch", "a block table names a block outside the pool");
    const void *hosts [4] = { batch->pos, batch->seq, batch->table_start, batch->blocks };
    size_t sizes [4] = { n * 4, n * 4, n_tables * 4, n_listed * 4 };
    void *parts [4];
    if (xinf_cuda_upload (cuda, XINF_CUDA_STAGE_BATCH, hosts, sizes, 4, parts))
        return -1;
    *device = (xinf_cuda_batch_t) { (const int32_t *) parts [0], (const int32_t *) parts [1],
                                    (const int32_t *) parts [2], (const int32_t *) parts [3] };
    return 0;
}

//  ---- copies in and out ---------------------------------------------------------

static int
s_write (xinf_backend_t *self, void *memory, const void *host, size_t bytes)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (!xinf_cuda_enter (cuda) || !xinf_cuda_device_memory (cuda, memory, bytes, "write"))
        return -1;
    if (xinf_cuda_check (cuda, cudaMemcpyAsync (memory, host, bytes, cudaMemcpyHostToDevice, cuda->stream), "write")
    ||  xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "write"))
        return -1;
    return 0;
}

static int
s_read (xinf_backend_t *self, void *host, const void *memory, size_t bytes)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    if (!xinf_cuda_enter (cuda) || !xinf_cuda_device_memory (cuda, memory, bytes, "read"))
        return -1;
    if (xinf_cuda_check (cuda, cudaMemcpyAsync (host, memory, bytes, cudaMemcpyDeviceToHost, cuda->stream), "read")
    ||  xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "read"))
        return -1;
    return 0;
}

//  ---- life ----------------------------------------------------------------------

static void
s_destroy (xinf_backend_t *self)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    cudaSetDevice (cuda->device);
    s_forget (cuda);
    xinf_cuda_graph_destroy (cuda);
    for (size_t index = 0; index < cuda->n_spans; index++)
        cudaFree (cuda->spans [index].base);
    cudaFree (cuda->sample_device);
    cudaFree (cuda->blas_scale);
    for (int which = 0; which < XINF_CUDA_STAGES; which++) {
        cudaFree (cuda->stages [which].device);
        free (cuda->stages [which].image);
        free (cuda->stages [which].mirror);
    }
    if (cuda->cublas)
        cublasDestroy (cuda->cublas);
    if (cuda->stream)
        cudaStreamDestroy (cuda->stream);
    free (cuda->spans);
    free (cuda);
    free (self);
}

static int
s_status (xinf_backend_t *self, char *error, size_t error_size)
{
    xinf_cuda_t *cuda = xinf_cuda (self);
    //  A kernel's fault shows at the next synchronising call: a pass that
    //  copied no logits back (a prompt chunk, a follower rank) has made
    //  none yet, so one is made here (free when the pass synchronised
    //  already); never inside a capture, where it would break it
    //  (not an op: it writes nothing, so a q8a handoff outlives it)
    if (!cuda->capturing && !cuda->failed
    &&  xinf_cuda_check (cuda, cudaSetDevice (cuda->device), "cudaSetDevice") == 0)
        xinf_cuda_check (cuda, cudaStreamSynchronize (cuda->stream), "a pass");
    if (!cuda->failed)
        return 0;
    if (error && error_size)
        snprintf (error, error_size, "CUDA device %d: %s", cuda->device, cuda->error);
    if (!cuda->sticky) {                        //  out of memory: this pass failed, the next may not
        cuda->failed = false;
        cuda->error [0] = 0;
        cudaGetLastError ();
    }
    return -1;
}

static const xinf_backend_ops_t s_ops = {
    "cuda", s_destroy, s_alloc, s_free, xinf_cuda_project, xinf_cuda_embed, xinf_cuda_rmsnorm, xinf_cuda_add,
    xinf_cuda_add_bias, xinf_cuda_rope, xinf_cuda_silu_mul, xinf_cuda_kv_store, xinf_cuda_attention, s_write, s_read,
    s_status, xinf_cuda_graph_begin, xinf_cuda_graph_end, xinf_cuda_graph_replay, xinf_cuda_sample,
    xinf_cuda_add_rmsnorm, xinf_cuda_rope_store, xinf_cuda_rope_attention,
    NULL,                             //  lora: no LoRA adapters on the GPU yet
    xinf_cuda_gelu_mul, xinf_cuda_scale,
    NULL,                             //  moe: no mixture-of-experts models on the GPU yet
    NULL,                             //  softcap: no soft-capped models (Gemma 2) on the GPU yet
    NULL                              //  copy_rows: no multi-head latent attention (DeepSeek) on the GPU yet
};

static xinf_backend_t *
s_refuse (char *error, size_t error_size, const char *what, const char *reason)
{
    if (error && error_size)
        snprintf (error, error_size, "%s: %s", what, reason);
    return NULL;
}

xinf_backend_t *
xinf_cuda_backend_new (int device, char *error, size_t error_size)
{
    int count = 0;
    cudaError_t status = cudaGetDeviceCount (&count);
    if (status != cudaSuccess) {
        cudaGetLastError ();
        return s_refuse (error, error_size, "no CUDA device", cudaGetErrorString (status));
    }
    if (device < 0 || device >= count) {
        char reason [64];
        snprintf (reason, sizeof reason, "device %d of %d", device, count);
        return s_refuse (error, error_size, "no such CUDA device", reason);
    }
    if ((status = cudaSetDevice (device)) != cudaSuccess)
        return s_refuse (error, error_size, "cudaSetDevice", cudaGetErrorString (status));
    xinf_backend_t *self = (xinf_backend_t *) calloc (1, sizeof *self);
    xinf_cuda_t *cuda = (xinf_cuda_t *) calloc (1, sizeof *cuda);
    if (!self || !cuda) {
        free (self);
        free (cuda);
        return s_refuse (error, error_size, "CUDA backend", "out of host memory");
    }
    cuda->device = device;
    const char *project = getenv ("XINF_CUDA_PROJECT");
    cuda->wide = !(project && strcmp (project, "generic") == 0);
    cuda->q8a = !(project && strcmp (project, "float") == 0);
    const char *rows = getenv ("XINF_CUDA_ROWS");
    cuda->several_rows = !(rows && strcmp (rows, "1") == 0);
    const char *attention = getenv ("XINF_CUDA_ATTENTION");
    cuda->attention_simple = attention && strcmp (attention, "simple") == 0;
    cuda->attention_apart = attention && strcmp (attention, "apart") == 0;
    self->ops = &s_ops;
    self->impl = cuda;
    self->kv_dtypes = 1u << XINF_DTYPE_F32;     //  F16 and Q8_0 caches wait for kernels verified on a GPU
    self->sliding_window = true;
    const char *failed = NULL, *reason = NULL;
    if ((status = cudaStreamCreateWithFlags (&cuda->stream, cudaStreamNonBlocking)) != cudaSuccess)
        failed = "cudaStreamCreate", reason = cudaGetErrorString (status);
    else {
        cublasStatus_t blas = cublasCreate (&cuda->cublas);
        if (blas == CUBLAS_STATUS_SUCCESS)
            blas = cublasSetStream (cuda->cublas, cuda->stream);
        if (blas != CUBLAS_STATUS_SUCCESS)
            failed = "cuBLAS", reason = cublasGetStatusString (blas);
    }
    if (failed) {
        s_refuse (error, error_size, failed, reason);
        s_destroy (self);
        return NULL;
    }
    const char *pdl = getenv ("XINF_CUDA_PDL");
    xinf_cuda_backend_set_pdl (self, !(pdl && strcmp (pdl, "off") == 0));
    return self;
}

bool
xinf_cuda_backend_is (const xinf_backend_t *backend)
{
    return backend && backend->ops == &s_ops;
}

void
xinf_cuda_backend_set_cublas (xinf_backend_t *backend, bool on)
{
    if (xinf_cuda_backend_is (backend))
        xinf_cuda (backend)->use_cublas = on;
}

void
xinf_cuda_backend_set_wide (xinf_backend_t *backend, bool on)
{
    if (xinf_cuda_backend_is (backend))
        xinf_cuda (backend)->wide = on;
}

void
xinf_cuda_backend_set_q8a (xinf_backend_t *backend, bool on)
{
    if (xinf_cuda_backend_is (backend))
        xinf_cuda (backend)->q8a = on;
}

void
xinf_cuda_backend_set_several_rows (xinf_backend_t *backend, bool on)
{
    if (xinf_cuda_backend_is (backend))
        xinf_cuda (backend)->several_rows = on;
}

void
xinf_cuda_backend_set_pdl (xinf_backend_t *backend, bool on)
{
    int major = 0;
    if (!xinf_cuda_backend_is (backend))
        return;
    xinf_cuda_t *cuda = xinf_cuda (backend);
    cuda->pdl = false;
    if (on && cudaSetDevice (cuda->device) == cudaSuccess
    &&  cudaDeviceGetAttribute (&major, cudaDevAttrComputeCapabilityMajor, cuda->device) == cudaSuccess && major >= 9) {
        cuda->pdl = xinf_cuda_pdl_works (cuda);
        if (!cuda->pdl)
            fprintf (stderr, "xinf: CUDA device %d: programmatic dependent launch does not work here (the probe failed, "
                     "or no compute_90 code in this build): plain launches\n", cuda->device);
    }
    cudaGetLastError ();
}

bool
xinf_cuda_backend_pdl (xinf_backend_t *backend)
{
    return xinf_cuda_backend_is (backend) && xinf_cuda (backend)->pdl;
}

void
xinf_cuda_backend_set_simple_attention (xinf_backend_t *backend, bool on)
{
    if (xinf_cuda_backend_is (backend))
        xinf_cuda (backend)->attention_simple = on;
}

void
xinf_cuda_backend_set_attention_apart (xinf_backend_t *backend, bool on)
{
    if (xinf_cuda_backend_is (backend))
        xinf_cuda (backend)->attention_apart = on;
}

void
xinf_cuda_backend_set_rope_attention_store (xinf_backend_t *backend, bool on)
{
    if (xinf_cuda_backend_is (backend))
        xinf_cuda (backend)->rope_attention_unstored = !on;
}

size_t
xinf_cuda_backend_rope_attentions (xinf_backend_t *backend)
{
    return xinf_cuda_backend_is (backend) ? xinf_cuda (backend)->rope_attentions : 0;
}

size_t
xinf_cuda_backend_fused_launches (xinf_backend_t *backend)
{
    return xinf_cuda_backend_is (backend) ? xinf_cuda (backend)->fused_launches : 0;
}

size_t
xinf_cuda_backend_handoffs (xinf_backend_t *backend)
{
    return xinf_cuda_backend_is (backend) ? xinf_cuda (backend)->handoffs : 0;
}

const char *
xinf_cuda_backend_error (xinf_backend_t *backend)
{
    return xinf_cuda_backend_is (backend) && xinf_cuda (backend)->failed ? xinf_cuda (backend)->error : NULL;
}

void
xinf_cuda_backend_clear_error (xinf_backend_t *backend)
{
    if (xinf_cuda_backend_is (backend)) {
        xinf_cuda (backend)->failed = false;
        xinf_cuda (backend)->sticky = false;
        xinf_cuda (backend)->error [0] = 0;
        cudaGetLastError ();
    }
}

void
xinf_cuda_backend_forget (xinf_backend_t *backend)
{
    if (xinf_cuda_backend_is (backend))
        s_forget (xinf_cuda (backend));
}

size_t
xinf_cuda_backend_cached_bytes (xinf_backend_t *backend)
{
    return xinf_cuda_backend_is (backend) ? xinf_cuda (backend)->copied_bytes : 0;
}
