/*  xinf_cpu_qk: products of the quantized weight types past Q8_0 (Q4_0,
    Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS) with integer
    activations: the
    matvecs of these types (xinf_cpu_matvec, _many, _batch; and
    xinf_cpu_matmul for few vectors). Private to kernels/cpu.

    K types (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS): 8-bit activations, as
    llama.cpp's Q8_K.
    Each x vector is cut into spans of 256; per span
        amax = max |x_i| (NaN counts as greater than infinity)
        amax Inf or NaN:   d = NaN, q_i = 0 (every product with that
                           vector is then NaN)
        else               d = amax / 127 (float division), and
                           q_i = 0 if d == 0, else clamp (rne (x_i / d),
                           -127, 127), x_i / d a float division
    and the sums of q_i per 16 (s16) and per 32 (s32), int16.
    Product of a K row (its blocks decoded as xinf_qb_k_fold says: the
    scales folded into the integer weights wq, the mins m of its 16
    groups of 16, block floats d and dmin) and x:
        acc = +0.0f
        for every block b, in order:
            isum = sum of wq_i * q_i over the block (exact, int32:
                   |isum| <= 256 * 4096 * 127 < 2^31)
            msum = sum over its 16 groups of m_k * s16_k (exact; for
                   Q4_K and Q5_K, whose mins cover 32, the same integer
                   as the sum over 8 groups of m_g * s32_g)
            u = (float) isum * (d * d_b); v = (float) msum * (dmin * d_b)
            acc = acc + (u - v)
        y = acc (NaN: 0x7fc00000)
    The SIMD kernels get the same isum another way: the unsigned codes
    times q (vpmaddubsw), times the scales (vpmaddwd / vpdpwssd), and for
    Q6_K minus 32 * sum of sc_k * s16_k (Q3_K: 4 * sum of (sc_k - 32)
    * s16_k); four rows' sums reduced together and their float steps in
    four lanes.

    The 32-weight types (Q4_0 .. Q5_1): 15-bit activations in spans of 32:
    per span as above with d = amax / 16383 and clamp to +-16383, and
    per group of 32, s = the sum of its q_i (an int32). 15 bits, not the
    16 of Q8_0's path: a decoded weight reaches 4096 (xinf_quant.h), and
    32 * 4096 * 16383 < 2^31, so every partial sum below of at most 32
    products is exact in an int32. Product of a row (its groups decoded
    to q, a, c as xinf_quant.h says) and x, in 8 lanes (lane k takes the
    groups g = k mod 8):
        acc [k] = +0.0f for k < 8
        for every group g, in order:
            isum = sum of qw_i * q_i over the group (exact int32)
            s = (float) isum * a_g; m = (float) s_g * c_g
            t = (s + m) * d_g; acc [g % 8] = acc [g % 8] + t
        h_k = acc [k] + acc [k + 4] (k < 4); p_k = h_k + h_{k + 2} (k < 2)
        y = p_0 + p_1 (NaN: 0x7fc00000)
    No FMA: the same float roundings in every kernel set, so results are
    bit for bit the same across kernel sets, thread counts, vector counts
    and row groupings (a NaN result is always 0x7fc00000: compilers may
    swap the operands of an add, which decides whose NaN payload wins).

    Accuracy: the quantization of x moves each x_i by at most d / 2, so a
    product moves by at most the sum over x's spans of (sum |w_i|) amax /
    254 (K types) or amax / 32766 (the others), plus float rounding.
    test_matvec_quant measures how much of that bound a product uses
    against a double-precision product of the dequantized weights, and
    prints it with the distance relative to sum |w_i x_i|.

    Kernel sets: portable C; AVX2; AVX-512 with VNNI (xinf_cpu_simd_qk.c,
    xinf_cpu_simd_qk_k.c, xinf_cpu_simd_qk_group.c; the K rows of Q4_K,
    Q5_K and Q6_K where the CPU also has GFNI and VBMI:
    xinf_cpu_simd_qk_gfni.c). 32-weight rows: a chunk (8 blocks) decoded into int16, per vector the 8 blocks' sums by
    a tree of hadds, the float steps of the 8 blocks in 8 lanes; AVX-512:
    the chunk's bytes in three loads, its unsigned codes in 4 registers
    (four blocks each, a block a 128-bit lane: its weights 0..15 in one
    register, 16..31 in the other) picked by word permutes, Q5_0 / Q5_1's
    fifth bits as k-masks (a permute gathers the blocks' qh words), x
    quantized and split once a call into bytes in the matching order,
    q = 128 qh + ql (act->split, kern->quantize32), the sums by vpdpbusd
    (128 codes . qh + codes . ql, four chained a register; Q4_0 / Q5_0's
    offset off as 8 / 16 s), the two registers' lanes reduced to the 8
    blocks' sums in one short tree (a last chunk of 4 blocks, rows of
    896, skips the empty half; MXFP4's 17-byte blocks, at odd bytes, are
    picked by VBMI's byte permutes, its exponent bytes made scales in
    lanes; without VBMI it goes a chunk at a time). With VBMI, MXFP4's
    rows and the others' for several vectors go two at a time
    (xinf_cpu_simd_qk_pairs.c): the two rows' four registers reduced in
    one tree to 16 blocks' sums, whose steps run in one register. K rows: 4 rows a tile, up to 4 vectors a pass
    (xinf_cpu_simd_qk_k.c). AVX-512, whole groups of 16 vectors (prefill,
    batches): x packed transposed once a call (vector j in lane j), a
    tile of 4 rows decoded once into scratch, broadcast weights against
    16 vectors a instruction (K: vpdpbusd; the others: vpdpwssd), the
    float steps in 16 lanes; the vectors past the last whole group go as
    above. Every path gives the same bits.
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

//  The largest |q| of the K types' 8-bit activations.
#define XINF_QK_K_ACT_MAX 127

#define XINF_QK_LANES 8

//  n quantized x vectors of cols (a multiple of span) elements.
typedef struct {
    size_t n, cols, groups;
    size_t span, spans;              //  32 or 256; cols / span
    float *d;                        //  d [j * spans + b]
    //  Spans of 32:
    int16_t *q;                      //  q [j * cols + i], 64-byte aligned
    int32_t *s;                      //  s [j * groups + g]
    //  Spans of 256 (the K types):
    int8_t *q8;                      //  q8 [j * cols + i], 64-byte aligned
    int16_t *s16;                    //  s16 [j * cols / 16 + k]
    int16_t *s32;                    //  s32 [j * groups + g]
    //  Where the set's k_packs: whole groups of XINF_QK_PACK vectors
    //  transposed (xinf_cpu_qk_pack_k, xinf_cpu_qk_pack32), 'packs' of
    //  them; else NULL, 0.
    uint8_t *packed;
    size_t packs;
    //  Where the set's splits (spans of 32): the vectors past the packed
    //  groups, j >= 16 packs, with each q as 128 qh + ql (qh = q >> 7 in
    //  -128..127, ql = q & 127), for the byte products of vpdpbusd:
    //  vector j at split + (j - 16 packs) * split_stride, per 128
    //  weights (4 groups of 32) 256 bytes: the qh of weights 0..15 of
    //  each group (16 bytes a group, in order), of weights 16..31, then
    //  the ql alike (the order of a block's codes after one nibble mask
    //  and one shift); zero past cols to a multiple of 256. Else NULL, 0.
    int8_t *split;
    size_t split_stride;
} xinf_qk_act_t;

//  Bytes a vector of cols takes in act->split.
static inline size_t
xinf_cpu_qk_split_stride (size_t cols)
{
    return (cols + 255) / 256 * 512;
}

//  Fills act->split from act->q.
void xinf_cpu_qk_split (xinf_qk_act_t *act);

//  Vectors a packed group holds, and the bytes of its block of 256:
//  q8 as 64 rows of 16 dwords (row k, lane j: bytes 4k .. 4k + 3 of
//  vector j), then the 16 d, then the s32 in 4 rows of 16 int16 pairs
//  (row p, lane j: groups 2p, 2p + 1 of vector j), then the s16 in 8
//  such rows.
#define XINF_QK_PACK 16
#define XINF_QK_PACK_XQ 0
#define XINF_QK_PACK_D 4096
#define XINF_QK_PACK_S32 4160
#define XINF_QK_PACK_S16 4416
#define XINF_QK_PACKED_BLOCK 4928

//  Fills act->packed from act's q8, d, s16 and s32.
void xinf_cpu_qk_pack_k (xinf_qk_act_t *act);

//  The packed block of a group for the 32-weight types: q as 16 rows of
//  16 dwords (row k, lane j: q 2k and 2k + 1 of vector j), then the 16
//  vectors' s as floats, then their d.
#define XINF_QK_PACKED32_BLOCK 1152

//  Fills act->packed from act's q, s and d (spans of 32).
void xinf_cpu_qk_pack32 (xinf_qk_act_t *act);

//  The AVX-512 rows of the 32-weight types for act's whole packed groups
//  (xinf_cpu_simd_qk_group.c), the rows function's results for vectors
//  [0, 16 act->packs).
void xinf_cpu_qk_groups32_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                                  const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch);

//  Bytes of a thread's scratch for the packed groups' tiles of rows of
//  cols (K types: 4 rows of codes and 128 bytes a block; the others: 4
//  rows of int16 and 8 bytes a block).
static inline size_t
xinf_cpu_qk_k_scratch (size_t cols)
{
    return 9 * cols;
}

//  A chunk of a row, decoded.
typedef struct {
    int16_t q [XINF_QUANT_CHUNK_GROUPS][XINF_QUANT_GROUP];
    float a [XINF_QUANT_CHUNK_GROUPS];
    float c [XINF_QUANT_CHUNK_GROUPS];
} xinf_qk_chunk_t;

//  The 32-weight types' quantizer of a vector (kern->quantize32).
typedef void (xinf_cpu_qk_quantize32_fn) (const float *x, size_t cols, int16_t *q, float *d, int32_t *s,
                                          int8_t *split);
typedef void (xinf_cpu_qk_k_rows_fn) (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                                      const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch);

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
    //  K types: y [j * y_stride + r] = row r . x [j] for r < count, j <
    //  act->n (act in spans of 256, 8 bits), row r at w + r * row_bytes;
    //  scratch holds XINF_QK_SCRATCH + xinf_cpu_qk_k_scratch (cols)
    //  bytes, 64-byte aligned.
    xinf_cpu_qk_k_rows_fn *k_rows;
    //  The 32-weight types: as k_rows (act in spans of 32, scratch also
    //  holding act->n * 16 floats past XINF_QK_SCRATCH), the arithmetic of
    //  decode and chunk; NULL: the set has none (decode and chunk a row
    //  at a time).
    xinf_cpu_qk_k_rows_fn *rows;
    //  Whether k_rows and rows want act->packed.
    bool k_packs;
    //  xinf_cpu_qk_quantize_k compiled for the set: the same values.
    void (*quantize_k) (const float *x, int8_t *q, float *d, int16_t *s16, int16_t *s32);
    //  Whether rows wants act->split.
    bool splits;
    //  xinf_cpu_qk_quantize_span of the cols / 32 spans of a vector and,
    //  where split is not NULL, its bytes of act->split: the same values;
    //  NULL: the set has none.
    xinf_cpu_qk_quantize32_fn *quantize32;
} xinf_cpu_qk_kern_t;

//  The k_rows of the AVX2 and AVX-512 sets (xinf_cpu_simd_qk_k.c), NULL
//  where the compiler lacks them.
xinf_cpu_qk_k_rows_fn *xinf_cpu_qk_k_rows_avx2 (void);
xinf_cpu_qk_k_rows_fn *xinf_cpu_qk_k_rows_avx512 (void);
//  The AVX-512 k_rows of CPUs without GFNI and VBMI (xinf_cpu_qk_k_rows_avx512
//  gives it there; tests call it on CPUs with them too), and the one of
//  CPUs with them (xinf_cpu_simd_qk_gfni.c), NULL where the compiler lacks
//  it (the caller checks the CPU).
xinf_cpu_qk_k_rows_fn *xinf_cpu_qk_k_rows_avx512_plain (void);
xinf_cpu_qk_k_rows_fn *xinf_cpu_qk_k_rows_gfni (void);
//  k_rows of the AVX-512 sets for act's whole packed groups only: the
//  results for vectors [0, 16 act->packs).
void xinf_cpu_qk_k_groups_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                                  const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch);

//  xinf_cpu_qk_quantize_k in AVX-512 (xinf_cpu_simd_qk_quant.c), NULL where
//  the compiler lacks it.
typedef void (xinf_cpu_qk_quantize_k_fn) (const float *x, int8_t *q, float *d, int16_t *s16, int16_t *s32);
xinf_cpu_qk_quantize_k_fn *xinf_cpu_qk_quantize_k_avx512 (void);
//  The rows of the 32-weight types of the AVX-512 set for the vectors past
//  act's packed groups, two at a time, on CPUs with VBMI
//  (xinf_cpu_simd_qk_pairs.c); NULL where the CPU or the compiler lacks
//  it, or XINF_CPU_NO_VBMI is set.
xinf_cpu_qk_k_rows_fn *xinf_cpu_qk_pairs_vbmi (void);
//  The AVX-512 quantize32 (xinf_cpu_simd_qk_quant.c), NULL where the
//  compiler lacks it.
xinf_cpu_qk_quantize32_fn *xinf_cpu_qk_quantize32_avx512 (void);

//  Bytes of a thread's scratch (a chunk; 256 int16 for k_rows).
#define XINF_QK_SCRATCH ((sizeof (xinf_qk_chunk_t) + 63) / 64 * 64)

extern const xinf_cpu_qk_kern_t xinf_cpu_qk_portable;

//  The AVX2 and AVX-512 (F, BW, VL) sets, NULL where the CPU or the
//  compiler lacks them.
const xinf_cpu_qk_kern_t *xinf_cpu_qk_avx2 (void);
const xinf_cpu_qk_kern_t *xinf_cpu_qk_avx512 (void);

//  The set that goes with the float table 'kern'.
const xinf_cpu_qk_kern_t *xinf_cpu_qk_kern (const xinf_cpu_kern_t *kern);

//  The quantizer of one span of 32 (the reference of every set): q [span],
//  *d, s [span / 32].
void xinf_cpu_qk_quantize_span (const float *x, size_t span, int16_t *q, float *d, int32_t *s);

//  The 8-bit quantizer of one span of 256 of the K types: q [256], *d,
//  s16 [16], s32 [8].
void xinf_cpu_qk_quantize_k (const float *x, int8_t *q, float *d, int16_t *s16, int16_t *s32);

//  Whether dtype is a K type (spans of 256, k_rows).
static inline bool
xinf_qk_is_k (xinf_dtype_t dtype)
{
    return dtype == XINF_DTYPE_Q4_K || dtype == XINF_DTYPE_Q5_K || dtype == XINF_DTYPE_Q6_K
           || dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K || dtype == XINF_DTYPE_IQ4_XS;
}

//  The float step of a K block.
static inline float
xinf_qk_k_step (float acc, int64_t isum, int64_t msum, float d, float dmin, float dx)
{
    float u = (float) isum * (d * dx);
    float v = (float) msum * (dmin * dx);
    return acc + (u - v);
}

//  NaN as 0x7fc00000, else value.
static inline float
xinf_qk_canonical (float value)
{
    return value != value ? xinf_dtype_bits_to_f32 (0x7fc00000u) : value;
}

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
    return xinf_qk_canonical (p0 + p1);
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
