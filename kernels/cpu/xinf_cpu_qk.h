/*  xinf_cpu_qk: products of the quantized weight types past Q8_0 (Q4_0,
    Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) with 15-bit integer activations:
    the matvecs of these types (xinf_cpu_matvec, _many, _batch; and
    xinf_cpu_matmul for few vectors). Private to kernels/cpu.

    Quantizer: each x vector is cut into groups of 32; per group
        amax = max |x_i| (NaN counts as greater than infinity)
        amax Inf or NaN:   d = NaN, q_i = 0 (every product with that
                           vector is then NaN)
        else               d = amax / 16383 (float division), and
                           q_i = 0 if d == 0, else clamp (rne (x_i / d),
                           -16383, 16383), x_i / d a float division
        s = sum of the q_i (an int32).
    15 bits, not the 16 of Q8_0's path: a decoded weight reaches 4096
    (xinf_quant.h), and 32 * 4096 * 16383 < 2^31, so the block sums below
    are exact int32 sums whatever the weight bits.

    Product of a row (its groups decoded to q, a, c as xinf_quant.h says)
    and a quantized x, in 8 lanes (lane k takes the groups g = k mod 8):
        acc [k] = +0.0f for k < 8
        for every group g, in order:
            isum = sum of qw_i * q_i over the group (exact int32)
            s = (float) isum * a_g; m = (float) s_g * c_g
            t = (s + m) * d_g; acc [g % 8] = acc [g % 8] + t
        h_k = acc [k] + acc [k + 4] (k < 4); p_k = h_k + h_{k + 2} (k < 2)
        y = p_0 + p_1
    No FMA: the same float roundings in every kernel set, so results are
    bit for bit the same across kernel sets, thread counts, vector counts
    and row groupings (a NaN result is always 0x7fc00000).

    Accuracy: the quantization of x moves each x_i by at most d_g / 2, so
    a product moves by at most sum over groups of (sum |w_i|) amax_g /
    32766, plus float rounding: test_matvec_quant measures this against a
    double-precision product of the dequantized weights and x.

    Kernel sets: a row is decoded a chunk (8 groups: a K block, or 8
    blocks of 32) at a time into int16 in scratch, then multiplied with
    every vector, the chunk's 8 groups in the 8 lanes: portable C; AVX2
    (vpmaddwd, the 8 groups' sums by a tree of hadds); AVX-512BW
    (vpmaddwd of 32 weights an instruction, decoding 32 an instruction).
    xinf_cpu_simd_qk.c.
*/
#ifndef XINF_CPU_QK_H_INCLUDED
#define XINF_CPU_QK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xinf_cpu_kern.h"
#include "xinf_cpu_ops.h"
#include "xinf_quant.h"

#define XINF_QK_ACT_MAX 16383

#define XINF_QK_LANES 8

//  n quantized x vectors of cols (a multiple of 32) elements.
typedef struct {
    size_t n, cols, groups;
    int16_t *q;                      //  q [j * cols + i], 64-byte aligned
    float *d;                        //  d [j * groups + g]
    int32_t *s;                      //  s [j * groups + g]
} xinf_qk_act_t;

//  A chunk of a row, decoded.
typedef struct {
    int16_t q [XINF_QUANT_CHUNK_GROUPS][XINF_QUANT_GROUP];
    float a [XINF_QUANT_CHUNK_GROUPS];
    float c [XINF_QUANT_CHUNK_GROUPS];
} xinf_qk_chunk_t;

typedef struct {
    const char *name;
    //  Blocks [first, first + count) of a row into chunk (count blocks
    //  hold at most 8 groups).
    void (*decode) (xinf_dtype_t dtype, const void *row, size_t first, size_t count, xinf_qk_chunk_t *chunk);
    //  acc [j * 8 + k] = lane k after the steps of the chunk's groups
    //  [0, groups) with groups [first, first + groups) of x [j] (first a
    //  multiple of 8), for every j < act->n.
    void (*chunk) (const xinf_qk_chunk_t *chunk, size_t groups, const xinf_qk_act_t *act, size_t first,
                   float *acc);
    //  xinf_quant_to_f32 compiled for the set.
    void (*to_f32) (xinf_dtype_t dtype, const void *row, size_t cols, float *out);
} xinf_cpu_qk_kern_t;

extern const xinf_cpu_qk_kern_t xinf_cpu_qk_portable;

//  The AVX2 and AVX-512 (F, BW, VL) sets, NULL where the CPU or the
//  compiler lacks them.
const xinf_cpu_qk_kern_t *xinf_cpu_qk_avx2 (void);
const xinf_cpu_qk_kern_t *xinf_cpu_qk_avx512 (void);

//  The set that goes with the float table 'kern'.
const xinf_cpu_qk_kern_t *xinf_cpu_qk_kern (const xinf_cpu_kern_t *kern);

//  The portable quantizer of one group (the reference of every set).
void xinf_cpu_qk_quantize_group (const float *x, int16_t *q, float *d, int32_t *s);

//  One step of the product's float arithmetic.
static inline float
xinf_qk_step (float acc, int32_t isum, float a, float c, int32_t s, float d)
{
    float scaled = (float) isum * a;
    float mins = (float) s * c;
    float term = (scaled + mins) * d;
    return acc + term;
}

//  The sum of the 8 lanes; any NaN comes out as the one quiet NaN
//  0x7fc00000 (compilers may swap the operands of an add, which picks
//  which NaN's payload survives).
static inline float
xinf_qk_lanes (const float *acc)
{
    float h0 = acc [0] + acc [4], h1 = acc [1] + acc [5], h2 = acc [2] + acc [6], h3 = acc [3] + acc [7];
    float p0 = h0 + h2, p1 = h1 + h3;
    float sum = p0 + p1;
    return sum != sum ? xinf_dtype_bits_to_f32 (0x7fc00000u) : sum;
}

//  xinf_cpu_matvec_batch (and xinf_cpu_matvec for n = 1) of a quantized
//  type.
void xinf_cpu_qk_matvec (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern, xinf_dtype_t dtype,
                         const void *w, size_t rows, size_t cols, const float *x, size_t n, float *y);

//  xinf_cpu_matvec_many: runs the products of quantized types among
//  'products' (at most 8) in one hand-off to the pool, copies the others
//  to 'rest' and returns their count.
size_t xinf_cpu_qk_matvec_many (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern,
                                const xinf_cpu_matvec_t *products, size_t count, xinf_cpu_matvec_t *rest);

#endif
