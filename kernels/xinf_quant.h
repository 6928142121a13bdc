/*  xinf_quant: the quantized block types past Q8_0 (Q4_0, Q4_1, Q5_0,
    Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4; layouts in
    xinf_dtype.h) decoded
    into integer groups, and their rows as floats.

    Every type is decoded into groups of 32 weights, each 32 int16 q and
    two floats a, c with
        weight i = q [i] * a + c          (c = 0: weight i = q [i] * a)
    Q4_0: q = nibble - 8, a = d, c = 0     Q4_1: q = nibble, a = d, c = m
    Q5_0: q = 5 bits - 16, a = d, c = 0    Q5_1: q = 5 bits, a = d, c = m
    Q4_K, Q5_K: q = 4 or 5 bits, a = d * sc, c = -(dmin * m)
    Q6_K: q = (6 bits - 32) * scale (its two groups of 16 have their own
          scales), a = d, c = 0
    so |q| <= 4096 (XINF_QUANT_Q_MAX). The float products a = d * sc,
    dmin * m and q * a are exact (at most 24 significant bits), so
    q [i] * a + c rounds once: the same float ggml's dequantizers give
    (d * sc * q - dmin * m and the like), bit for bit, for any input bits.

    IQ4_NL: q = K [nibble] (xinf_dtype.h), a = d, c = 0
    MXFP4: q = M [nibble] (|q| <= 12), a = 2^(e - 128), c = 0
    IQ4_XS: q = K [nibble], a = d * (ls - 32) (exact: ggml's dl), c = 0
    Q3_K: q = (3 bits - 4) * (sc - 32) (its groups of 16 have their own
          scales), a = d, c = 0
    Q2_K's mins change every 16 weights, so it has no such groups (its
    decode gives q = 0, a = c = NaN). The products take both folded
    (xinf_quant_blocks.h, xinf_qb_k_fold), and their floats are ggml's
    (d * sc) * q - dmin * m and (d * (sc - 32)) * (q - 4), exact products
    and one rounding.
*/
#ifndef XINF_QUANT_H_INCLUDED
#define XINF_QUANT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xinf_dtype.h"

#define XINF_QUANT_GROUP 32         //  weights a group
#define XINF_QUANT_CHUNK_GROUPS 8   //  groups a chunk: a K block, 8 blocks of 32
#define XINF_QUANT_Q_MAX 4096       //  the largest |q| of a group

//  Blocks [first, first + count) of a row of dtype (a type of
//  xinf_dtype_is_quant but Q2_K) decoded into groups: group g (of all these
//  blocks' groups, in order) at q + g * q_stride, a [g * ac_stride],
//  c [g * ac_stride].
void xinf_quant_decode (xinf_dtype_t dtype, const void *row, size_t first, size_t count, int16_t *q,
                        size_t q_stride, float *a, float *c, size_t ac_stride);

//  out [cols] = a row of dtype (xinf_dtype_is_quant) as floats: q * a,
//  then + c for the types with mins (Q4_1, Q5_1, Q4_K, Q5_K; ggml's
//  x - m1 is x + c bit for bit), so even the signs of zeros are ggml's.
//  Q6_K as (d * scale) * q, the same value but for the sign of a zero;
//  Q2_K and Q3_K as above. cols a multiple of the type's block.
void xinf_quant_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out);

//  The K types whose floats come a block at a time (Q6_K, Q2_K, Q3_K):
//  out [256 blocks] = the row's blocks as xinf_quant_to_f32 says, true;
//  false for the other types (nothing written).
bool xinf_quant_to_f32_k (xinf_dtype_t dtype, const void *row, size_t blocks, float *out);

#endif
