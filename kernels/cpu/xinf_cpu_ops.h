/*  xinf_cpu_ops: the CPU kernels of a transformer forward pass.

    Matrix products for every weight type (xinf_dtype.h), RMSNorm, RoPE,
    softmax, SiLU, attention over a KV cache and small vector helpers.
    The matrix kernels and attention spread their work over a thread pool
    (NULL = the calling thread alone); every output row is computed by one
    thread with one summation order, so results do not depend on the
    number of threads. SIMD code (AVX2 + FMA + F16C, and AVX-512F for the
    Q8_0 matvec and the matmul) is used when the CPU has it, portable C
    otherwise; XINF_CPU_SIMD=off in the environment forces the portable
    code, XINF_CPU_SIMD=avx2 the AVX2 code on an AVX-512 CPU. The kernel sets
    differ in summation order, so their results differ by rounding (but
    the AVX2 and AVX-512 matmul agree bit for bit: each output is one
    in-order FMA sum). matvec, matvec_many and matvec_batch share one
    arithmetic a kernel set: a product's bits do not depend on the other
    vectors of a batch.
    Q8_0 weights in the matvecs (xinf_cpu_matvec, _many, _batch) take 16-bit
    activations: x quantized per block of 32, integer dot products a
    block, one float arithmetic in block order that every kernel set
    repeats exactly, so these results are the same bit for bit on every
    kernel set too (xinf_cpu_q8_act.h). XINF_CPU_Q8_ACT=off in the
    environment, or xinf_cpu_q8_act_set (false), gives the float kernels
    instead. xinf_cpu_matmul keeps the float kernels.
    The quantized types past Q8_0 (Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
    Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS) have integer matvecs only, with integer activations
    (15 bits; the K types 8), likewise
    bit for bit the same on every kernel set (xinf_cpu_qk.h); their
    matmul of 16 vectors or more widens rows to floats for the GEMM.
*/
#ifndef XINF_CPU_OPS_H_INCLUDED
#define XINF_CPU_OPS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "xinf_backend.h"
#include "xinf_dtype.h"
#include "xinf_threadpool.h"

//  y [rows] = W . x, W holding 'rows' rows of 'cols' elements of 'dtype'.
void xinf_cpu_matvec (xinf_threadpool_t *pool, xinf_dtype_t dtype, const void *w, size_t rows, size_t cols,
                      const float *x, float *y);

//  Several independent y = W x products in one hand-off to the pool (the
//  q/k/v or gate/up projections of a decode step): the same per-row
//  arithmetic as xinf_cpu_matvec, so results are identical. More than 8
//  go in turns of 8.
typedef struct {
    xinf_dtype_t dtype;
    const void *w;
    size_t rows, cols;
    const float *x;
    float *y;
} xinf_cpu_matvec_t;
void xinf_cpu_matvec_many (xinf_threadpool_t *pool, const xinf_cpu_matvec_t *products, size_t count);

//  y [j][rows] = W . x [j] for j < n: for every j bit-identical to
//  xinf_cpu_matvec (pool, dtype, w, rows, cols, x + j * cols, y + j * rows),
//  whatever n, the thread count or the grouping of vectors, with each
//  weight read from memory once per call (not once per vector).
void xinf_cpu_matvec_batch (xinf_threadpool_t *pool, xinf_dtype_t dtype, const void *w, size_t rows, size_t cols,
                            const float *x, size_t n, float *y);

//  y [n][rows] = x [n][cols] . W^T: the matvec of each of n vectors (prefill).
void xinf_cpu_matmul (xinf_threadpool_t *pool, xinf_dtype_t dtype, const void *w, size_t rows, size_t cols,
                      const float *x, size_t n, float *y);

//  out = x / sqrt (mean (x^2) + eps) * weight (weight NULL: no scaling).
//  out may be x.
void xinf_cpu_rmsnorm (float *out, const float *x, const float *weight, size_t n, float eps);

//  Rotates n_heads heads of head_dim (even) floats in place for position
//  pos, theta_i = pos * scale * base^(-2i/head_dim) / factors [i]
//  (xinf_rope_t). neox false: pairs (2i, 2i+1) (llama); neox true: pairs
//  (i, i + head_dim/2) (qwen2, qwen3).
void xinf_cpu_rope (float *vec, size_t n_heads, size_t head_dim, size_t pos, const xinf_rope_t *rope);

//  x = softmax (x), in place; nothing for n = 0. e^t as xinf_cpu_silu.c
//  computes it (the same bits on every kernel set), summed in double.
void xinf_cpu_softmax (float *x, size_t n);
//  The same with one logit more, 'sink', that has no place in x (GPT-OSS's
//  attention sinks): x [i] = e^x_i / (e^sink + sum of e^x_j).
void xinf_cpu_softmax_sink (float *x, size_t n, float sink);

//  gate = silu (gate) * up, silu (g) = g / (1 + e^-g), e^t computed as
//  xinf_cpu_silu.c says: the same bits on every kernel set.
void xinf_cpu_silu_mul (float *gate, const float *up, size_t n);

//  gate = gelu (gate) * up, GELU's tanh form (xinf_backend.h's gelu_mul)
//  as g / (1 + e^(-2u)) with xinf_cpu_silu.c's e^t: the same bits on every
//  kernel set.
void xinf_cpu_gelu_mul (float *gate, const float *up, size_t n);

//  y += x.
void xinf_cpu_add (float *y, const float *x, size_t n);

//  out [cols] = one row of 'dtype' as floats (an embedding lookup).
void xinf_cpu_row_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out);

//  Floats of scratch xinf_cpu_attention needs for n_heads and up to
//  max_pos positions.
static inline size_t
xinf_cpu_attention_scratch (size_t n_heads, size_t max_pos)
{
    return n_heads * max_pos;
}

//  Attention of one query position: out [n_heads * head_dim], q likewise.
//  Query head h uses KV head h / (n_heads / n_kv_heads) (GQA). The caches
//  hold positions 0 .. n_pos-1 as rows of kv_stride floats, KV head j at
//  offset j * head_dim. Scores are scaled by 1/sqrt (head_dim). scratch
//  holds xinf_cpu_attention_scratch (n_heads, n_pos) floats.
void xinf_cpu_attention (xinf_threadpool_t *pool, const float *q, const float *k_cache, const float *v_cache,
                         size_t n_heads, size_t n_kv_heads, size_t head_dim, size_t n_pos, size_t kv_stride,
                         float *out, float *scratch);

//  Turns the SIMD code on (the fastest set the CPU runs) or off (for tests
//  and benchmarks; not while other threads run kernels); returns whether
//  SIMD code is now in use, false if the CPU lacks it.
bool xinf_cpu_simd_set (bool enable);

//  Uses the kernel set called 'name' ("portable", "avx2", "avx512"), as
//  xinf_cpu_simd_set does; false, and no change, if the CPU lacks it.
bool xinf_cpu_simd_use (const char *name);

//  Q8_0 matvecs with 16-bit activations (true, the default) or the float
//  kernels (false); not while other threads run kernels. Returns enable.
bool xinf_cpu_q8_act_set (bool enable);

//  "avx512", "avx2" or "portable": the code in use.
const char *xinf_cpu_simd_name (void);

#endif
