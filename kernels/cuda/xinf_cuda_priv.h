/*  xinf_cuda_priv: the CUDA backend's state and the helpers its op files
    share (CUDA C++, private to kernels/cuda): error checks, the registry
    of its own allocations, the cache of host data copied to the device,
    staging buffers for per-call host arrays, and the recorded CUDA graphs
    of decode passes (xinf_cuda_graph.cu).
*/
#ifndef XINF_CUDA_PRIV_H_INCLUDED
#define XINF_CUDA_PRIV_H_INCLUDED

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>

#include "xinf_cuda_backend.h"

//  One allocation of the backend (alloc's memory).
typedef struct {
    char *base;
    size_t bytes;
} xinf_cuda_span_t;

//  How a device copy lays out its host data.
typedef enum {
    XINF_CUDA_COPY_AS_IS,
    XINF_CUDA_COPY_Q8A                //  a Q8_0 matrix repacked (xinf_cuda_dot.cuh)
} xinf_cuda_layout_t;

//  A device copy of host data, keyed by its host address and layout.
typedef struct {
    const void *host;
    xinf_cuda_layout_t layout;
    size_t bytes;
    void *device;
} xinf_cuda_copy_t;

//  Staging buffers: each grows to the largest request and is reused.
typedef enum {
    XINF_CUDA_STAGE_BATCH,            //  pos, seq, table_start, blocks of a batch
    XINF_CUDA_STAGE_POS,              //  rope's positions
    XINF_CUDA_STAGE_TOKENS,           //  embed's token ids
    XINF_CUDA_STAGE_IN,               //  a product's host input
    XINF_CUDA_STAGE_OUT,              //  a product's host output
    XINF_CUDA_STAGE_HALF,             //  activations as F16 / BF16 for cuBLAS
    XINF_CUDA_STAGE_Q8A,              //  activations quantized for Q8_0 products
    XINF_CUDA_STAGE_PARTS,            //  attention's partial sums of heads split into parts
    XINF_CUDA_STAGE_COUNTERS,         //  their counters (zero between launches)
    XINF_CUDA_STAGES
} xinf_cuda_stage_t;

typedef struct {
    void *device;
    size_t capacity;
    void *image, *mirror;             //  the upload being built; a copy of the last one
    size_t host_capacity, mirror_bytes;
} xinf_cuda_buffer_t;

//  A copy to the host that a recorded graph's pass makes (the logits):
//  made after each replay, outside the graph.
typedef struct {
    void *host;
    const void *device;
    size_t bytes;
} xinf_cuda_output_t;

#define XINF_CUDA_GRAPH_SLOTS   16    //  buckets 1, 2, 4, ... 2^15 (a bucket that is no power of two: the next one's)
#define XINF_CUDA_GRAPH_OUTPUTS 4

//  The recorded graph of a decode pass of one bucket, and the addresses
//  baked into it: a replay whose buffers moved drops it instead.
typedef struct {
    cudaGraphExec_t exec;             //  NULL: none
    size_t bucket;
    void *stages [XINF_CUDA_STAGES];  //  the staging buffers' device addresses
    const float *keys;                //  the KV pool it was recorded on
    size_t n_blocks, block_tokens;
    float *logits;                    //  the host rows of its pass
    size_t token_rows;                //  its embedding table's rows: a replay's ids are checked against them
    xinf_cuda_output_t outputs [XINF_CUDA_GRAPH_OUTPUTS];
    size_t n_outputs;
} xinf_cuda_graph_t;

//  The q8a handoff: an op that writes activations a Q8_0 product read
//  before also writes them quantized into the Q8A stage, so that the
//  product, when it is the very next op, skips its quantizing launch.
#define XINF_CUDA_WANTED 8

typedef struct {
    const void *wanted [XINF_CUDA_WANTED]; //  inputs the q8a path quantized (device memory)
    size_t next_wanted;
    size_t ops;                       //  ops entered so far
    const void *x;                    //  the handed activations: 'count' floats at x,
    size_t count, op;                 //  quantized by the op entered as number 'op'
} xinf_cuda_handoff_t;

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t cublas;
    bool use_cublas;
    bool wide;                        //  the wide product kernel where it applies (xinf_cuda_dot.cuh)
    bool q8a;                         //  Q8_0 products from repacked weights and 16-bit activations
    bool attention_simple;            //  the first attention kernel (one position a warp at a time)
    bool attention_apart;             //  rope_attention as rope_store, then attention (two launches)
    bool rope_attention_unstored;     //  tests: k_rope_attention leaves the pool unwritten
    bool pdl;                         //  programmatic dependent launch (xinf_cuda_launch)
    bool several_rows;                //  several rows a warp in steps of several tokens (xinf_cuda_dot.cuh)
    size_t fused_launches;            //  calls whose products went in one launch (tests)
    size_t rope_attentions;           //  rope_attention calls run as one launch (tests)
    size_t handoffs;                  //  quantizing launches the q8a handoff saved (tests)
    xinf_cuda_handoff_t handoff;
    xinf_cuda_span_t *spans;
    size_t n_spans, max_spans;
    xinf_cuda_copy_t *copies;         //  open addressing, 'max_copies' a power of two
    size_t n_copies, max_copies, copied_bytes;
    xinf_cuda_buffer_t stages [XINF_CUDA_STAGES];
    bool failed;
    bool sticky;                      //  failed for good (anything but running out of memory)
    char error [512];
    char failed_once [512];           //  the last failure of a pass only (xinf_cuda_fail_once), for graph_end
    //  CUDA graphs of decode passes
    xinf_cuda_graph_t graphs [XINF_CUDA_GRAPH_SLOTS];
    xinf_cuda_graph_t recording;      //  while capturing: what the capture collects
    bool capturing;                   //  between graph_begin and graph_end
    bool graphs_off;                  //  a capture or its first run failed: eager for good
    void *blas_workspace;             //  cuBLAS's, fixed while graphs use it
    float *blas_scale;                //  F16 GEMMs: alpha, beta, the input's largest |x| (its bits)
    void *sample_device;              //  the sample op's rows and tokens (not a stage: graphs do not use it)
    size_t sample_capacity;
} xinf_cuda_t;

//  The device arrays of a batch (in the BATCH stage).
typedef struct {
    const int32_t *pos, *seq, *table_start, *blocks;
} xinf_cuda_batch_t;

static inline xinf_cuda_t *
xinf_cuda (xinf_backend_t *self)
{
    return (xinf_cuda_t *) self->impl;
}

//  Records and logs a failure (the first one stays readable); returns -1.
int xinf_cuda_fail (xinf_cuda_t *cuda, const char *what, const char *reason);

//  The same for a failure of this pass only (the next pass may succeed):
//  status reports it and then clears it, as for running out of memory.
int xinf_cuda_fail_once (xinf_cuda_t *cuda, const char *what, const char *reason);

//  0, or -1 after xinf_cuda_fail when 'status' is an error.
int xinf_cuda_check (xinf_cuda_t *cuda, cudaError_t status, const char *what);
int xinf_cuda_check_blas (xinf_cuda_t *cuda, cublasStatus_t status, const char *what);

//  At the start of an op: false when the backend has failed; else makes
//  its device the calling thread's current one (the CUDA runtime keeps
//  that per thread: ops may come from another thread than new's).
//  Counts the op (the q8a handoff goes to the very next op only).
bool xinf_cuda_enter (xinf_cuda_t *cuda);

//  After a kernel launch: the launch's error, if any.
int xinf_cuda_launched (xinf_cuda_t *cuda, const char *what);

//  Whether [memory, memory + bytes) lies in one of the backend's
//  allocations.
bool xinf_cuda_owns (const xinf_cuda_t *cuda, const void *memory, size_t bytes);

//  'memory' as the device memory of 'bytes' an op reads or writes: NULL
//  (after xinf_cuda_fail) when it is not the backend's.
void *xinf_cuda_device_memory (xinf_cuda_t *cuda, const void *memory, size_t bytes, const char *what);

//  The device copy of constant host data (uploaded on first use); device
//  memory of the backend is used as it is. NULL after a failure.
const void *xinf_cuda_constant (xinf_cuda_t *cuda, const void *host, size_t bytes, const char *what);

//  The repacked device copy (XINF_CUDA_COPY_Q8A) of a Q8_0 matrix in host
//  memory, made on first use; NULL after a failure.
const void *xinf_cuda_constant_q8a (xinf_cuda_t *cuda, const xinf_matrix_t *w, const char *what);

//  Writes 'size' bytes at 'offset' of an image; 0, or -1 after a failure.
typedef int xinf_cuda_put_fn (void *arg, size_t offset, const void *bytes, size_t size);

//  The codes (rows * cols bytes) and scales (rows * cols / 16 bytes) of
//  some rows of a Q8_0 matrix (cols of whole blocks) for its repacked
//  image (xinf_cuda_dot.cuh) written to two buffers (xinf_cuda_host.cu).
void xinf_cuda_q8a_split (const void *q8_0, size_t rows, size_t cols, uint8_t *codes, uint8_t *scales);

//  The image of a Q8_0 matrix handed to 'put' 'run' rows at a time (its
//  codes, then its scales, each at its offset in the image; the padding
//  between them is not put), through one host buffer of 'run' rows; -1
//  when put fails or out of memory.
int xinf_cuda_q8a_put_runs (const void *q8_0, size_t rows, size_t cols, size_t run, xinf_cuda_put_fn *put,
                            void *arg);

//  The q8a path's quantized activations of 'count' floats in the Q8A
//  stage: codes at *q, a scale a block of 32 at *d; -1 after a failure.
int xinf_cuda_q8a_activations (xinf_cuda_t *cuda, size_t count, int16_t **q, float **d);

//  For an op about to write 'count' floats at 'out': true when it is to
//  write them quantized too, into *q and *d (xinf_cuda_q8a_activations:
//  a Q8_0 product has read 'out' before, count is whole blocks, and the
//  stage has room); the next op, if it is that product, takes them.
//  False with *q and *d NULL otherwise.
bool xinf_cuda_q8a_handoff (xinf_cuda_t *cuda, const void *out, size_t count, int16_t **q, float **d);

//  Stage 'which' with room for 'bytes'; NULL after a failure.
void *xinf_cuda_stage (xinf_cuda_t *cuda, xinf_cuda_stage_t which, size_t bytes);

//  Uploads the concatenation of 'count' host arrays (each padded to 16
//  bytes) into stage 'which', skipping the copy when the stage holds the
//  same bytes already; the device address of each part in 'parts'. -1
//  after a failure.
int xinf_cuda_upload (xinf_cuda_t *cuda, xinf_cuda_stage_t which, const void *const *hosts, const size_t *sizes,
                      size_t count, void **parts);

//  The batch's arrays on the device, after checking that every token's
//  slot lies inside its table and the pool; -1 after a failure.
int xinf_cuda_batch (xinf_cuda_t *cuda, const xinf_batch_t *batch, size_t n_blocks, size_t block_tokens,
                     xinf_cuda_batch_t *device);

//  rows [i][.] += bias [.] for n rows of 'width' (device memory); 0, or
//  -1 after a failure (add_bias, and cuBLAS products' biases).
int xinf_cuda_rows_add (xinf_cuda_t *cuda, float *rows, const float *bias, size_t n, size_t width);

//  The ops of xinf_cuda_ops.cu and xinf_cuda_project.cu.
void xinf_cuda_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n);
void xinf_cuda_embed (xinf_backend_t *self, const xinf_matrix_t *table, const int32_t *tokens, size_t n, float *x);
void xinf_cuda_rmsnorm (xinf_backend_t *self, float *out, const float *x, const float *weight, size_t n, size_t dim,
                        float eps);
void xinf_cuda_add_rmsnorm (xinf_backend_t *self, float *out, float *y, const float *x, const float *weight, size_t n,
                            size_t dim, float eps);
void xinf_cuda_add (xinf_backend_t *self, float *y, const float *x, size_t count);
void xinf_cuda_add_bias (xinf_backend_t *self, float *rows, const float *bias, size_t n, size_t width);
void xinf_cuda_rope (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos,
                     const xinf_rope_t *rope);
void xinf_cuda_silu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count);
void xinf_cuda_gelu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count);
void xinf_cuda_scale (xinf_backend_t *self, float *x, size_t count, float factor);
void xinf_cuda_kv_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                         const float *k, const float *v);
void xinf_cuda_rope_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, float *q,
                           float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                           const xinf_rope_t *rope);
int xinf_cuda_attention (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                         const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                         const xinf_attend_t *attend, float *out);
int xinf_cuda_rope_attention (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
                              float *q, float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                              const xinf_rope_t *rope, const xinf_head_norms_t *norms, const xinf_attend_t *attend,
                              float *out);

//  The sample op (xinf_cuda_sample.cu, xinf_backend.h).
int xinf_cuda_sample (xinf_backend_t *self, const float *logits, size_t n_rows, size_t vocab,
                      const xinf_sampling_t *params, const double *uniforms, int32_t *tokens);

//  The graph ops (xinf_cuda_graph.cu, xinf_backend.h).
int xinf_cuda_graph_begin (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch, const xinf_kv_pool_t *pool,
                           char *error, size_t error_size);
int xinf_cuda_graph_end (xinf_backend_t *self, size_t bucket, bool keep, float *logits, char *error,
                         size_t error_size);
int xinf_cuda_graph_replay (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch,
                            const xinf_kv_pool_t *pool, float *logits);
//  Drops every recorded graph (the memory they use is about to go), and
//  the cuBLAS workspace with the backend.
void xinf_cuda_graph_drop_all (xinf_cuda_t *cuda);
void xinf_cuda_graph_destroy (xinf_cuda_t *cuda);

//  While capturing: a copy to the host of a product's output, made after
//  the graph runs; -1 after a failure (too many).
int xinf_cuda_graph_output (xinf_cuda_t *cuda, void *host, const void *device, size_t bytes);

//  Launches 'kernel' on the backend's stream, with programmatic dependent
//  launch where the device has it (compute capability 9.0; cuda->pdl):
//  the kernel may be scheduled while the one before it still runs, so
//  its launch latency hides behind that kernel's tail. Every kernel
//  launched here calls xinf_cuda_pdl_enter before it touches global
//  memory. 0, or -1 after xinf_cuda_fail ('what' says which op). A device
//  that refuses the attribute gets plain launches from then on.
template <typename... Params, typename... Args>
static inline int
xinf_cuda_launch (xinf_cuda_t *cuda, const char *what, void (*kernel) (Params...), unsigned grid, unsigned threads,
                  size_t shared, Args... args)
{
    cudaLaunchAttribute attribute = {};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3 (grid);
    config.blockDim = dim3 (threads);
    config.dynamicSmemBytes = shared;
    config.stream = cuda->stream;
    config.attrs = &attribute;
    config.numAttrs = cuda->pdl ? 1 : 0;
    cudaError_t status = cudaLaunchKernelEx (&config, kernel, ((Params) args)...);
    bool refused = status == cudaErrorNotSupported || status == cudaErrorInvalidValue
                || status == cudaErrorStreamCaptureUnsupported;
    if (refused && cuda->pdl) {
        //  The probe at creation passed, yet the attribute is refused:
        //  plain launches from now on; a capture fails for this pass only
        //  (the backend's error is not sticky: the pass runs again
        //  eagerly), else the kernel is launched again at once
        cudaGetLastError ();
        fprintf (stderr, "xinf: CUDA device %d: %s: a launch with programmatic dependent launch failed (%s): plain "
                 "launches from now on\n", cuda->device, what, cudaGetErrorString (status));
        cuda->pdl = false;
        if (cuda->capturing)
            return xinf_cuda_fail_once (cuda, what, "programmatic dependent launch refused in a graph capture");
        config.numAttrs = 0;
        status = cudaLaunchKernelEx (&config, kernel, ((Params) args)...);
    }
    if (status != cudaSuccess && cuda->capturing)
        return xinf_cuda_fail_once (cuda, what, cudaGetErrorString (status));
    return xinf_cuda_check (cuda, status, what);
}

//  Whether programmatic dependent launch works here: the kernels' code has
//  the waits, and two launches with the attribute run eagerly and from a
//  captured graph (xinf_cuda_ops.cu). For the backend's creation.
bool xinf_cuda_pdl_works (xinf_cuda_t *cuda);

//  The first thing a kernel launched by xinf_cuda_launch does: lets the
//  next kernel be scheduled, then waits until the kernel before has
//  finished and its writes are visible (a no-op where that kernel was not
//  launched programmatically, and before compute capability 9.0).
//  A product kernel calls the two halves itself, and between them
//  fetches its weights into L2 (no kernel writes weights).
__device__ __forceinline__ void
xinf_cuda_pdl_trigger (void)
{
#if defined (__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile ("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void
xinf_cuda_pdl_wait (void)
{
#if defined (__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile ("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void
xinf_cuda_pdl_enter (void)
{
    xinf_cuda_pdl_trigger ();
    xinf_cuda_pdl_wait ();
}

//  Blocks of 'threads' covering 'count' items.
static inline unsigned
xinf_cuda_blocks (size_t count, unsigned threads)
{
    return (unsigned) ((count + threads - 1) / threads);
}

#endif
