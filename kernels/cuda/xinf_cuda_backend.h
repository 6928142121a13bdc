/*  xinf_cuda_backend: the CUDA implementation of the compute-backend seam
    (xinf_backend.h), and discovery of the machine's CUDA devices. Built
    only where CMake finds the CUDA toolkit (XINF_HAVE_CUDA); a plain C
    header, usable from C and C++.

    Memory from alloc is device memory (zeroed). What the model hands the
    ops as host pointers is copied to the device: weight matrices once, on
    their first use, into a cache keyed by their host address (the model's
    weights stay put and unchanged while the backend lives); norm weights,
    biases and RoPE factors likewise; the batch's arrays on every call that
    changes them. A product whose output is not the backend's memory (the
    caller's logits) is computed on the device and copied back before the
    call returns.

    Products run one warp per output row, each (row, token) dot product
    in the same lane order and reduction tree whatever the batch holds: a
    token's results do not depend on its batch, as the seam promises.
    With cuBLAS on (xinf_cuda_backend_set_cublas) products of F32, F16 and
    BF16 weights over more than one token go through cublasGemmEx
    (activations rounded to the weight's 16-bit type, F32 accumulation):
    faster for prompts, but then a token's result may depend on its batch.

    All work runs on one CUDA stream of the backend. A CUDA or cuBLAS
    error fails its op with a log line on stderr and marks the backend
    failed: later ops do nothing, attention returns -1, the status op
    gives the reason (the transformer then fails its step with it), and
    the error stays readable (xinf_cuda_backend_error) until cleared.
*/
#ifndef XINF_CUDA_BACKEND_H_INCLUDED
#define XINF_CUDA_BACKEND_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "xinf_backend.h"

//  One CUDA device as the runtime reports it.
typedef struct {
    int index;                        //  the CUDA runtime's device number
    char name [256];
    size_t total_bytes, free_bytes;   //  device memory
    int major, minor;                 //  compute capability
    int multiprocessors;
} xinf_cuda_device_t;

//  Versions as CUDA encodes them (1000 * major + 10 * minor), 0 if unknown;
//  NCCL's as ncclGetVersion gives it, 0 when xinf is built without NCCL.
typedef struct {
    int driver, runtime, nccl;
} xinf_cuda_versions_t;

//  The versions, and up to 'max' devices into 'devices': the number of
//  devices there are (may exceed max), or -1 with the reason (no driver,
//  no device) in 'error'; 'versions' is filled either way.
int xinf_cuda_devices (xinf_cuda_device_t *devices, size_t max, xinf_cuda_versions_t *versions, char *error,
                       size_t error_size);

//  Free and total memory of device 'index' alone: 0, or -1 with the
//  reason. Makes a context on that device only (when it has none), where
//  xinf_cuda_devices makes one on every device: an executor asks this of
//  its own device, not of the others it would then hold memory on.
int xinf_cuda_device_memory_info (int index, size_t *free_bytes, size_t *total_bytes, char *error,
                                  size_t error_size);

//  Bytes per second device 'index' moves copying 'bytes' from one buffer
//  of its memory to another (read + write, the best of 5 timed copies:
//  the decode bound of xinf-bench-generate --backend cuda); 0 with the
//  reason in 'error' on a failure.
double xinf_cuda_bandwidth (int index, size_t bytes, char *error, size_t error_size);

//  A backend on CUDA device 'device' with its own stream and cuBLAS
//  handle; NULL with the reason in 'error' when there is no such device
//  or driver.
xinf_backend_t *xinf_cuda_backend_new (int device, char *error, size_t error_size);

//  Whether 'backend' is a CUDA backend.
bool xinf_cuda_backend_is (const xinf_backend_t *backend);

//  Products of float weights over more than one token through cuBLAS
//  (off when created). Not while a call runs.
void xinf_cuda_backend_set_cublas (xinf_backend_t *backend, bool on);

//  Products of F16, BF16 and Q8_0 weights through the wide kernel (16-byte
//  and 16-bit loads, xinf_cuda_dot.cuh) where its alignment holds, else
//  the generic one-weight-at-a-time kernel. On when created, unless the
//  environment has XINF_CUDA_PROJECT=generic (to compare the two). Not
//  while a call runs.
void xinf_cuda_backend_set_wide (xinf_backend_t *backend, bool on);

//  Q8_0 products of weights in host memory through the q8a path (a
//  repacked device copy, activations quantized to 16 bits as the CPU
//  quantizes them, exact integer sums of half blocks; the floats added in
//  another order than the CPU's) while the wide kernel is on; off: the wide kernel's float
//  activations. On when created, unless XINF_CUDA_PROJECT=float. Not while
//  a call runs.
void xinf_cuda_backend_set_q8a (xinf_backend_t *backend, bool on);

//  Attention through the first kernel (4 warps a head, one position a
//  warp at a time) instead of the one that loads 4 positions a warp at
//  once (8 warps, head_dim up to 256). Off when created, unless the
//  environment has XINF_CUDA_ATTENTION=simple. Not while a call runs.
void xinf_cuda_backend_set_simple_attention (xinf_backend_t *backend, bool on);

//  rope_attention as two launches (rope_store, then attention) instead
//  of one where the step has one token a sequence (a decode step); the
//  same floats either way. Off when created, unless the environment has
//  XINF_CUDA_ATTENTION=apart. Not while a call runs; a CUDA graph
//  recorded before keeps the kernels it was recorded with (as for every
//  setter here).
void xinf_cuda_backend_set_attention_apart (xinf_backend_t *backend, bool on);

//  Products of several tokens in F16/BF16 (wide lanes) or Q8_0 (q8a)
//  give a warp XINF_CUDA_DOT_ROWS rows at once, reading each chunk's
//  activations once for all of them (on when created, unless
//  XINF_CUDA_ROWS=1); the same floats either way. Not while a call runs.
void xinf_cuda_backend_set_several_rows (xinf_backend_t *backend, bool on);

//  Programmatic dependent launch of the backend's kernels (on by default
//  on devices of compute capability 9.0 and later; XINF_CUDA_PDL=off at
//  creation turns it off): a kernel is scheduled while the one before it
//  finishes, and waits for it on the device. Off to compare, or where a
//  driver mishandles it. On takes effect only where a probe (two launches
//  eagerly and from a captured graph) passes and the build has compute_90
//  code; older devices always launch plainly. Whether it is on.
void xinf_cuda_backend_set_pdl (xinf_backend_t *backend, bool on);
bool xinf_cuda_backend_pdl (xinf_backend_t *backend);

//  Calls of the project op whose products went in one launch (q, k and v
//  on one input, ...), for tests.
size_t xinf_cuda_backend_fused_launches (xinf_backend_t *backend);
//  rope_attention calls that ran as one launch (k_rope_attention).
size_t xinf_cuda_backend_rope_attentions (xinf_backend_t *backend);

//  Tests: with 'on' false the one-launch rope_attention leaves the pool
//  unwritten (its k and v rows are not stored), so that a test can show
//  each block reads the token's own position from its own copy (the
//  pool's row there can hold anything). On when created.
void xinf_cuda_backend_set_rope_attention_store (xinf_backend_t *backend, bool on);

//  Quantizing launches of Q8_0 products that the q8a handoff saved (the
//  op before wrote their input quantized too), for tests; 0 for another
//  backend.
size_t xinf_cuda_backend_handoffs (xinf_backend_t *backend);

//  The first error since the backend began or was cleared; NULL if none.
const char *xinf_cuda_backend_error (xinf_backend_t *backend);
void xinf_cuda_backend_clear_error (xinf_backend_t *backend);

//  Drops the device copies of host data (weights, norm weights, biases):
//  before the model they came from is unloaded while the backend lives on.
void xinf_cuda_backend_forget (xinf_backend_t *backend);

//  Device bytes the backend holds for copies of host data (weights and
//  model vectors), for resource reports.
size_t xinf_cuda_backend_cached_bytes (xinf_backend_t *backend);

//  A row of 'cols' weights of 'dtype' as floats, decoded on the host by
//  the very functions the kernels decode with (for tests without a GPU).
void xinf_cuda_decode_row (xinf_dtype_t dtype, const void *row, size_t cols, float *out);

//  row . x [t] for the 'count' (1 .. 8) tokens of x (rows of 'cols'
//  floats) as the wide product kernel computes it, its 32 lanes run on
//  the host and added in its shuffle tree's order (tests without a GPU);
//  false, nothing written, when the wide kernel would not take the row.
bool xinf_cuda_project_row_host (xinf_dtype_t dtype, const void *row, size_t row_bytes, size_t cols, const float *x,
                                 size_t count, float *out);

//  The q8a path of Q8_0 products (Q8_0 weights from host memory; on
//  unless XINF_CUDA_PROJECT is 'float' or 'generic'): row . x [t] for the
//  'count' (1 .. 8) tokens of x as its kernel computes it, the row
//  repacked and x quantized as on the device, its 32 lanes run on the host
//  and added in the shuffle tree's order; false when cols is not of whole
//  blocks, count out of range or out of memory. And its quantizer of
//  activations on the host (n rows of 'cols' floats, cols of whole blocks
//  of 32): q [n * cols] and d [n * cols / 32], bit for bit the CPU's.
bool xinf_cuda_project_row_q8a_host (const void *row, size_t cols, const float *x, size_t count, float *out);

//  The kernels of several tokens with several rows a warp: 'valid' (1 ..
//  4) rows (row_bytes apart) of F16 or BF16 weights through the wide
//  lanes, or of Q8_0 weights through the q8a path, times 'count' (1 .. 8)
//  tokens of x, their 32 lanes run on the host and each row added in the
//  shuffle tree's order, into out [row][token]; false, nothing written,
//  for another type, a width not of whole blocks of 32, a shape out of
//  range or out of memory. Each (row, token) must equal the one-row
//  functions' result bit for bit (test_twins_wide).
bool xinf_cuda_project_rows_host (xinf_dtype_t dtype, const void *rows, size_t row_bytes, size_t valid, size_t cols,
                                  const float *x, size_t count, float *out);
void xinf_cuda_q8a_quantize_host (const float *x, size_t n, size_t cols, int16_t *q, float *d);

//  A Q8_0 matrix (rows x cols, cols of whole blocks) repacked and read
//  back weight by weight as the embedding lookup reads it, into out
//  [rows * cols]; false for a width not of whole blocks or out of memory.
bool xinf_cuda_q8a_decode_host (const void *q8_0, size_t rows, size_t cols, float *out);

//  The repacked image of a Q8_0 matrix (rows x cols, cols of whole blocks:
//  codes row-major, then the scales): its size, and the image written to
//  'image' on the host.
size_t xinf_cuda_q8a_image_bytes (size_t rows, size_t cols);
void xinf_cuda_q8a_repack (const void *q8_0, size_t rows, size_t cols, void *image);

//  The repacked image (xinf_cuda_q8a_image_bytes of it) written 'run' rows
//  at a time as the backend uploads it, into 'image' on the host (a test
//  against the whole repack); false for a width not of whole blocks.
bool xinf_cuda_q8a_runs_host (const void *q8_0, size_t rows, size_t cols, size_t run, void *image);

//  The sample op's algorithm (the kernel's own code, xinf_cuda_sample.cuh)
//  run on the host, one thread a row, for tests without a GPU: as the op
//  (xinf_backend.h) with host logits. 0, or -1 for bad parameters.
int xinf_cuda_sample_on_host (const float *logits, size_t n_rows, size_t vocab, const xinf_sampling_t *params,
                              const double *uniforms, int32_t *tokens);

//  The same with each row's block as 'threads' host threads (at most the
//  kernel's 256) that meet at a barrier where the kernel's threads do and
//  add with atomics: the block's own concurrency, without a GPU. A row
//  whose threads disagree gets token -2.
int xinf_cuda_sample_on_host_threads (const float *logits, size_t n_rows, size_t vocab,
                                      const xinf_sampling_t *params, const double *uniforms, int32_t *tokens,
                                      unsigned threads);

//  Whether the kernels know 'dtype' (every type of xinf_dtype.h: Q2_K,
//  Q3_K, IQ4_NL, IQ4_XS and the legacy 32-weight types by the generic
//  kernel, a weight at a time from xinf_cuda_decode.cuh); a value past
//  them fails the op naming it.
bool xinf_cuda_dtype_supported (xinf_dtype_t dtype);

#ifdef __cplusplus
}
#endif

#endif
