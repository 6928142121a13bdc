/*  xinf_cpu_simd_qk: the AVX2 and AVX-512 kernel sets of the quantized
    types' products (xinf_cpu_qk.h says the arithmetic, which both repeat
    bit for bit).

    Decoding: AVX2, 32 weights an instruction (nibbles masked and
    shifted, high bits spread from their words, widened to int16; Q6_K's
    scales multiplied in), the scales as the portable decoders compute
    them: the same values.
    Products, per chunk and vector: the 8 groups' exact sums of int16
    products (AVX2: two vpmaddwd of 16 weights a group; AVX-512BW: one
    vpmaddwd of 32), the groups' lanes summed by a tree of hadds into one
    vector of the 8 groups' sums, then the float steps of the 8 groups in
    their 8 lanes.
*/
#include "xinf_cpu_qk.h"
#include "xinf_cpu_cpuid.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "xinf_cpu_simd.h"
#include "xinf_cpu_simd_qk_split.h"

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 8")

//  How far ahead the weights are prefetched into L2, in bytes (a page:
//  2 to 32 KB measured alike, within the noise of a shared machine).
#define S_FAR 4096

XINF_SIMD_AVX2_BEGIN
#include "xinf_quant_blocks.h"

//  fp16 -> float by F16C (the same value as xinf_dtype_fp16_to_f32; a
//  NaN may come out quieted, which only NaN payloads of results show).
static S_INLINE float
s_half (const uint8_t *bytes)
{
    uint16_t half;
    memcpy (&half, bytes, 2);
    return _cvtsh_ss (half);
}

//  32 bytes (0..255) widened to int16, minus bias, stored at q [32].
static S_INLINE void
s_store_u8 (__m256i bytes, int bias, int16_t *q)
{
    __m256i shift = _mm256_set1_epi16 ((short) bias);
    __m256i low = _mm256_cvtepu8_epi16 (_mm256_castsi256_si128 (bytes));
    __m256i high = _mm256_cvtepu8_epi16 (_mm256_extracti128_si256 (bytes, 1));
    _mm256_store_si256 ((__m256i *) q, _mm256_sub_epi16 (low, shift));
    _mm256_store_si256 ((__m256i *) (q + 16), _mm256_sub_epi16 (high, shift));
}

//  32 bytes (-128..127) widened to int16, stored at q [32].
static S_INLINE void
s_store_i8 (__m256i bytes, int16_t *q)
{
    _mm256_store_si256 ((__m256i *) q, _mm256_cvtepi8_epi16 (_mm256_castsi256_si128 (bytes)));
    _mm256_store_si256 ((__m256i *) (q + 16), _mm256_cvtepi8_epi16 (_mm256_extracti128_si256 (bytes, 1)));
}

//  IQ4_NL's values of 32 nibbles (bytes 0..15), in both lanes' table.
static S_INLINE __m256i
s_iq4_values (__m256i nibbles)
{
    static const int8_t values [16] = XINF_IQ4_VALUES;
    __m256i table = _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) values));
    return _mm256_shuffle_epi8 (table, nibbles);
}

//  The 32 nibbles of qs [16], low nibbles first, as 32 bytes.
static S_INLINE __m256i
s_nibbles (const uint8_t *qs)
{
    __m128i bytes = _mm_loadu_si128 ((const __m128i *) qs), mask = _mm_set1_epi8 (15);
    __m128i low = _mm_and_si128 (bytes, mask), high = _mm_and_si128 (_mm_srli_epi16 (bytes, 4), mask);
    return _mm256_inserti128_si256 (_mm256_castsi128_si256 (low), high, 1);
}

//  Bit i of the 32 bits at 'bits' as 16 in byte i, else 0.
static S_INLINE __m256i
s_high_bits (const uint8_t *bits)
{
    uint32_t word;
    memcpy (&word, bits, 4);
    __m256i spread = _mm256_shuffle_epi8 (_mm256_set1_epi32 ((int) word),
                                          _mm256_set_epi64x (0x0303030303030303ll, 0x0202020202020202ll,
                                                             0x0101010101010101ll, 0x0000000000000000ll));
    __m256i mask = _mm256_set1_epi64x ((long long) 0x8040201008040201ull);
    __m256i set = _mm256_cmpeq_epi8 (_mm256_and_si256 (spread, mask), mask);
    return _mm256_and_si256 (set, _mm256_set1_epi8 (16));
}

//  MXFP4: count blocks, a group each (its byte exponents are no halves to
//  gather), the 8 lanes of a and c past them 0.
static void
s_decode_mxfp4 (const uint8_t *block, size_t count, int16_t *q, float *a, float *c)
{
    static const int8_t values [16] = XINF_MXFP4_VALUES;
    __m256i table = _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) values));
    for (size_t b = 0; b < XINF_QK_LANES; b++) {
        a [b] = b < count ? xinf_qb_e8m0_half (block [17 * b]) : 0.0f;
        c [b] = 0.0f;
    }
    for (size_t b = 0; b < count; b++, block += 17, q += XINF_QUANT_GROUP)
        s_store_i8 (_mm256_shuffle_epi8 (table, s_nibbles (block + 1)), q);
}

//  Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4: count blocks, a group each.
static void
s_decode_legacy (xinf_dtype_t dtype, const uint8_t *block, size_t count, int16_t *q, float *a, float *c)
{
    size_t bytes = xinf_dtype_block_bytes (dtype);
    if (dtype == XINF_DTYPE_MXFP4) {
        s_decode_mxfp4 (block, count, q, a, c);
        return;
    }
    //  the fp16 d (and m) of the count blocks gathered into lanes and
    //  stored as whole vectors, which the products load as such
    __m256i lanes = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7);
    __m256i live = _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) count), lanes);
    __m256i halves = _mm256_mask_i32gather_epi32 (_mm256_setzero_si256 (), (const int *) block,
                                                  _mm256_mullo_epi32 (lanes, _mm256_set1_epi32 ((int) bytes)), live, 1);
    __m256i low = _mm256_and_si256 (halves, _mm256_set1_epi32 (0xffff)), high = _mm256_srli_epi32 (halves, 16);
    __m256i packed = _mm256_permute4x64_epi64 (_mm256_packus_epi32 (low, high), 0xd8);
    _mm256_storeu_ps (a, _mm256_cvtph_ps (_mm256_castsi256_si128 (packed)));
    bool mins = dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1;
    _mm256_storeu_ps (c, mins ? _mm256_cvtph_ps (_mm256_extracti128_si256 (packed, 1)) : _mm256_setzero_ps ());
    for (size_t b = 0; b < count; b++, block += bytes, q += XINF_QUANT_GROUP)
        switch (dtype) {
            case XINF_DTYPE_Q4_0: s_store_u8 (s_nibbles (block + 2), 8, q); break;
            case XINF_DTYPE_Q4_1: s_store_u8 (s_nibbles (block + 4), 0, q); break;
            case XINF_DTYPE_Q5_0:
                s_store_u8 (_mm256_or_si256 (s_nibbles (block + 6), s_high_bits (block + 2)), 16, q);
                break;
            case XINF_DTYPE_IQ4_NL: s_store_i8 (s_iq4_values (s_nibbles (block + 2)), q); break;
            default:
                s_store_u8 (_mm256_or_si256 (s_nibbles (block + 8), s_high_bits (block + 4)), 0, q);
                break;
        }
}

//  Q4_K (qh NULL) or Q5_K: the 8 groups of a block.
static S_INLINE void
s_decode_k45 (const uint8_t *block, const uint8_t *qh, const uint8_t *qs, int16_t *q, float *a, float *c)
{
    //  the 6-bit scales and mins, 4 bytes a word (xinf_qb_scale_min)
    uint32_t words [3], packed [4];
    memcpy (words, block + 4, 12);
    packed [0] = words [0] & 0x3f3f3f3fu;
    packed [1] = (words [2] & 0x0f0f0f0fu) | ((words [0] >> 2) & 0x30303030u);
    packed [2] = words [1] & 0x3f3f3f3fu;
    packed [3] = ((words [2] >> 4) & 0x0f0f0f0fu) | ((words [1] >> 2) & 0x30303030u);
    __m256 sc = _mm256_cvtepi32_ps (_mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) packed)));
    __m256 m = _mm256_cvtepi32_ps (_mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) (packed + 2))));
    _mm256_storeu_ps (a, _mm256_mul_ps (_mm256_set1_ps (s_half (block)), sc));
    _mm256_storeu_ps (c, _mm256_xor_ps (_mm256_mul_ps (_mm256_set1_ps (s_half (block + 2)), m), _mm256_set1_ps (-0.0f)));
    __m256i mask = _mm256_set1_epi8 (15), one = _mm256_set1_epi8 (1);
    __m256i high_bits = qh ? _mm256_loadu_si256 ((const __m256i *) qh) : _mm256_setzero_si256 ();
    for (int k = 0; k < 4; k++) {
        __m256i bytes = _mm256_loadu_si256 ((const __m256i *) (qs + 32 * k));
        __m256i low = _mm256_and_si256 (bytes, mask), high = _mm256_and_si256 (_mm256_srli_epi16 (bytes, 4), mask);
        if (qh) {
            __m256i bit_low = _mm256_and_si256 (high_bits, one);
            __m256i bit_high = _mm256_and_si256 (_mm256_srli_epi16 (high_bits, 1), one);
            low = _mm256_or_si256 (low, _mm256_slli_epi16 (bit_low, 4));
            high = _mm256_or_si256 (high, _mm256_slli_epi16 (bit_high, 4));
            high_bits = _mm256_srli_epi16 (high_bits, 2);
        }
        s_store_u8 (low, 0, q + 2 * k * XINF_QUANT_GROUP);
        s_store_u8 (high, 0, q + (2 * k + 1) * XINF_QUANT_GROUP);
    }
}

//  32 6-bit values (bytes) minus 32 times the scales of their two halves.
static S_INLINE void
s_store_q6 (__m256i bytes, const int8_t *scales, int16_t *q)
{
    __m256i shift = _mm256_set1_epi16 (32);
    __m256i low = _mm256_sub_epi16 (_mm256_cvtepu8_epi16 (_mm256_castsi256_si128 (bytes)), shift);
    __m256i high = _mm256_sub_epi16 (_mm256_cvtepu8_epi16 (_mm256_extracti128_si256 (bytes, 1)), shift);
    _mm256_store_si256 ((__m256i *) q, _mm256_mullo_epi16 (low, _mm256_set1_epi16 (scales [0])));
    _mm256_store_si256 ((__m256i *) (q + 16), _mm256_mullo_epi16 (high, _mm256_set1_epi16 (scales [1])));
}

//  Q6_K: the 8 groups of a block, scales folded into q.
static S_INLINE void
s_decode_q6_k (const uint8_t *block, int16_t *q, float *a, float *c)
{
    const int8_t *scales = (const int8_t *) (block + 192);
    float d = s_half (block + 208);
    __m256i mask = _mm256_set1_epi8 (15), three = _mm256_set1_epi8 (3);
    for (int h = 0; h < 2; h++) {
        __m256i first = _mm256_loadu_si256 ((const __m256i *) (block + 64 * h));
        __m256i second = _mm256_loadu_si256 ((const __m256i *) (block + 64 * h + 32));
        __m256i high = _mm256_loadu_si256 ((const __m256i *) (block + 128 + 32 * h));
        __m256i low [4] = { _mm256_and_si256 (first, mask), _mm256_and_si256 (second, mask),
                            _mm256_and_si256 (_mm256_srli_epi16 (first, 4), mask),
                            _mm256_and_si256 (_mm256_srli_epi16 (second, 4), mask) };
        for (int g = 0; g < 4; g++) {
            __m256i top = _mm256_and_si256 (_mm256_srli_epi16 (high, 2 * g), three);
            __m256i value = _mm256_or_si256 (low [g], _mm256_slli_epi16 (top, 4));
            s_store_q6 (value, scales + 8 * h + 2 * g, q + (4 * h + g) * XINF_QUANT_GROUP);
        }
    }
    _mm256_storeu_ps (a, _mm256_set1_ps (d));
    _mm256_storeu_ps (c, _mm256_setzero_ps ());
}

static void
s_decode (xinf_dtype_t dtype, const void *row, size_t first, size_t count, xinf_qk_chunk_t *chunk)
{
    const uint8_t *block = (const uint8_t *) row + first * xinf_dtype_block_bytes (dtype);
    switch (dtype) {                 //  K types: a chunk is a block
        case XINF_DTYPE_Q4_K: s_decode_k45 (block, NULL, block + 16, chunk->q [0], chunk->a, chunk->c); break;
        case XINF_DTYPE_Q5_K: s_decode_k45 (block, block + 16, block + 48, chunk->q [0], chunk->a, chunk->c); break;
        case XINF_DTYPE_Q6_K: s_decode_q6_k (block, chunk->q [0], chunk->a, chunk->c); break;
        case XINF_DTYPE_Q2_K:
        case XINF_DTYPE_Q3_K:
        case XINF_DTYPE_IQ4_XS: xinf_qb_decode (dtype, row, first, 1, chunk->q [0], XINF_QUANT_GROUP, chunk->a, chunk->c, 1); break;
        default: s_decode_legacy (dtype, block, count, chunk->q [0], chunk->a, chunk->c); break;
    }
}

//  xinf_quant_to_f32's arithmetic, 8 floats an instruction.
static void
s_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    size_t block_size = xinf_dtype_block_size (dtype);
    size_t blocks = block_size ? cols / block_size : 0, groups = block_size / XINF_QUANT_GROUP;
    bool mins = dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1 || dtype == XINF_DTYPE_Q4_K
                || dtype == XINF_DTYPE_Q5_K;
    if (xinf_quant_to_f32_k (dtype, row, blocks, out))
        return;
    for (size_t b = 0; b < blocks; b++) {
        int16_t q [8][XINF_QUANT_GROUP];
        float a [8], c [8];
        xinf_qb_decode (dtype, row, b, 1, q [0], XINF_QUANT_GROUP, a, c, 1);
        for (size_t g = 0; g < groups; g++, out += XINF_QUANT_GROUP) {
            __m256 scale = _mm256_set1_ps (a [g]), add = _mm256_set1_ps (c [g]);
            for (int i = 0; i < XINF_QUANT_GROUP; i += 8) {
                __m256 value = _mm256_cvtepi32_ps (_mm256_cvtepi16_epi32 (_mm_loadu_si128 ((const __m128i *) (q [g] + i))));
                value = _mm256_mul_ps (value, scale);
                _mm256_storeu_ps (out + i, mins ? _mm256_add_ps (value, add) : value);
            }
        }
    }
}
XINF_SIMD_AVX2_END

//  Lane r = the sum of the 8 lanes of p [r].
S_AVX2 static S_INLINE __m256i
s_reduce8 (const __m256i *p)
{
    __m256i h01 = _mm256_hadd_epi32 (p [0], p [1]), h23 = _mm256_hadd_epi32 (p [2], p [3]);
    __m256i h45 = _mm256_hadd_epi32 (p [4], p [5]), h67 = _mm256_hadd_epi32 (p [6], p [7]);
    __m256i low = _mm256_hadd_epi32 (h01, h23), high = _mm256_hadd_epi32 (h45, h67);
    return _mm256_add_epi32 (_mm256_permute2x128_si256 (low, high, 0x20),
                             _mm256_permute2x128_si256 (low, high, 0x31));
}

//  acc + the steps of the chunk's groups (lane g: group g) with vector j
//  from its sums; lanes past 'groups' keep acc.
S_AVX2 static S_INLINE __m256
s_step_v (__m256 acc, __m256i isum, __m256 a, __m256 c, size_t groups, const xinf_qk_act_t *act, size_t j,
          size_t first)
{
    __m256 scaled = _mm256_mul_ps (_mm256_cvtepi32_ps (isum), a);
    __m256i s = _mm256_loadu_si256 ((const __m256i *) (act->s + j * act->groups + first));
    __m256 mins = _mm256_mul_ps (_mm256_cvtepi32_ps (s), c);
    __m256 term = _mm256_mul_ps (_mm256_add_ps (scaled, mins), _mm256_loadu_ps (act->d + j * act->spans + first));
    __m256 sum = _mm256_add_ps (acc, term);
    if (groups == XINF_QK_LANES)
        return sum;
    __m256i lanes = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7);
    __m256 keep = _mm256_castsi256_ps (_mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) groups), lanes));
    return _mm256_blendv_ps (acc, sum, keep);
}

S_AVX2 static S_INLINE __m256
s_step (__m256 acc, __m256i isum, const xinf_qk_chunk_t *chunk, size_t groups, const xinf_qk_act_t *act, size_t j,
        size_t first)
{
    return s_step_v (acc, isum, _mm256_loadu_ps (chunk->a), _mm256_loadu_ps (chunk->c), groups, act, j, first);
}

S_AVX2 static void
s_chunk_avx2 (const xinf_qk_chunk_t *chunk, size_t groups, const xinf_qk_act_t *act, size_t first, float *acc)
{
    for (size_t j = 0; j < act->n; j++) {
        const int16_t *x = act->q + j * act->cols + first * XINF_QUANT_GROUP;
        __m256i p [XINF_QK_LANES];
        S_UNROLL for (size_t g = 0; g < XINF_QK_LANES; g++) {
            if (g < groups) {
                const __m256i *w = (const __m256i *) chunk->q [g];
                const __m256i *v = (const __m256i *) (x + g * XINF_QUANT_GROUP);
                p [g] = _mm256_add_epi32 (_mm256_madd_epi16 (_mm256_load_si256 (w), _mm256_load_si256 (v)),
                                          _mm256_madd_epi16 (_mm256_load_si256 (w + 1), _mm256_load_si256 (v + 1)));
            }
            else
                p [g] = _mm256_setzero_si256 ();
        }
        float *lanes = acc + j * XINF_QK_LANES;
        _mm256_storeu_ps (lanes, s_step (_mm256_loadu_ps (lanes), s_reduce8 (p), chunk, groups, act, j, first));
    }
}

S_AVX512 static void
s_chunk_avx512 (const xinf_qk_chunk_t *chunk, size_t groups, const xinf_qk_act_t *act, size_t first, float *acc)
{
    for (size_t j = 0; j < act->n; j++) {
        const int16_t *x = act->q + j * act->cols + first * XINF_QUANT_GROUP;
        __m256i p [XINF_QK_LANES];
        S_UNROLL for (size_t g = 0; g < XINF_QK_LANES; g++) {
            if (g < groups) {
                __m512i product = _mm512_madd_epi16 (_mm512_load_si512 (chunk->q [g]),
                                                     _mm512_load_si512 (x + g * XINF_QUANT_GROUP));
                p [g] = _mm256_add_epi32 (_mm512_castsi512_si256 (product), _mm512_extracti64x4_epi64 (product, 1));
            }
            else
                p [g] = _mm256_setzero_si256 ();
        }
        float *lanes = acc + j * XINF_QK_LANES;
        _mm256_storeu_ps (lanes, s_step (_mm256_loadu_ps (lanes), s_reduce8 (p), chunk, groups, act, j, first));
    }
}

//  ---- AVX-512 with VNNI: byte products of split vectors -----------------------

//  The 8 groups' sums from the lanes of two fours (p [h]: groups 4h ..
//  4h + 3, a 128-bit lane each), lane g group g.
S_VNNI static S_INLINE __m256i
s_reduce_fours (__m512i low, __m512i high)
{
    //  lane b: [l0 + l2, h0 + h2, l1 + l3, h1 + h3], then [l, h, l, h]
    __m512i t = _mm512_add_epi32 (_mm512_unpacklo_epi32 (low, high), _mm512_unpackhi_epi32 (low, high));
    __m512i u = _mm512_add_epi32 (t, _mm512_shuffle_epi32 (t, _MM_PERM_BADC));
    __m512i order = _mm512_setr_epi32 (0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castsi512_si256 (_mm512_permutexvar_epi32 (order, u));
}

//  The 8 groups' sums of the chunk's codes (fours [2h], [2h + 1]: weights
//  0..15 and 16..31 of blocks 4h .. 4h + 3) with split vector 'split' (at
//  the chunk), the offset of Q4_0 / Q5_0 / IQ4_NL (8, 16, 128) taken off
//  with the groups' sums of q at s; blocks 4..7 only where 'eight' (else
//  their sums are 0).
S_VNNI static S_INLINE __m256i
s_legacy_sums (xinf_dtype_t dtype, const __m512i *fours, bool eight, const int8_t *split, const int32_t *s)
{
    __m256i isum = s_reduce_fours (s_four_sums (fours [0], fours [1], split),
                                   eight ? s_four_sums (fours [2], fours [3], split + 256) : _mm512_setzero_si512 ());
    if (dtype == XINF_DTYPE_Q4_0 || dtype == XINF_DTYPE_Q5_0 || dtype == XINF_DTYPE_IQ4_NL)
        isum = _mm256_sub_epi32 (isum, _mm256_slli_epi32 (_mm256_loadu_si256 ((const __m256i *) s),
                                                          dtype == XINF_DTYPE_Q4_0 ? 3 : dtype == XINF_DTYPE_Q5_0 ? 4
                                                                                                                  : 7));
    return isum;
}

//  s_step_v for the types without mins (c = 0): (float) s * 0 is +-0,
//  and scaled + +-0 differs from scaled only as -0 against +0, which
//  the product then carries into an acc that is never -0 (it starts at
//  +0, and x + y is -0 only where both are): the same bits.
S_AVX2 static S_INLINE __m256
s_step_no_mins (__m256 acc, __m256i isum, __m256 a, size_t groups, const xinf_qk_act_t *act, size_t j, size_t first)
{
    __m256 term = _mm256_mul_ps (_mm256_mul_ps (_mm256_cvtepi32_ps (isum), a),
                                 _mm256_loadu_ps (act->d + j * act->spans + first));
    __m256 sum = _mm256_add_ps (acc, term);
    if (groups == XINF_QK_LANES)
        return sum;
    __m256i lanes = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7);
    __m256 keep = _mm256_castsi256_ps (_mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) groups), lanes));
    return _mm256_blendv_ps (acc, sum, keep);
}

//  One chunk of a row (groups of its blocks from 'first', 'groups' a
//  constant 8 but in the row's last chunk) with the split vectors of act:
//  *lanes (one vector) or their lanes in acc.
S_VNNI static S_INLINE void
s_legacy_chunk (const xinf_dtype_t dtype, const s_picks_t *picks, const uint8_t *row, size_t first,
                const size_t groups, const xinf_qk_act_t *act, bool one, __m256 *lanes, float *acc)
{
    const size_t block_bytes = s_legacy_bytes (dtype), grouped = act->packs * XINF_QK_PACK;
    const bool mins = dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1;
    //  the rows of a call lie one after another: two chunks on into L1,
    //  S_FAR bytes on into L2 (the hardware's streams stop at page
    //  boundaries)
    const uint8_t *ahead = row + (first + 2 * XINF_QK_LANES) * block_bytes;
    S_UNROLL for (size_t line = 0; line < XINF_QK_LANES * block_bytes; line += 64) {
        _mm_prefetch ((const char *) (ahead + line), _MM_HINT_T0);
        _mm_prefetch ((const char *) (ahead + S_FAR + line), _MM_HINT_T1);
    }
    __m512i part [3], fours [4];
    __m256 a, c;
    s_legacy_load (dtype, row + first * block_bytes, groups, part);
    s_codes_four (dtype, part [0], part [1], picks->codes [0], picks->bits [0], &fours [0], &fours [1]);
    if (groups > 4)
        s_codes_four (dtype, part [1], part [2], picks->codes [1], picks->bits [1], &fours [2], &fours [3]);
    s_legacy_scales (dtype, part, &a, &c);
    for (size_t j = grouped; j < act->n; j++) {
        const int8_t *split = act->split + (j - grouped) * act->split_stride + first * 64;
        __m256i isum = s_legacy_sums (dtype, fours, groups > 4, split, act->s + j * act->groups + first);
        __m256 before = one ? *lanes : _mm256_loadu_ps (acc + j * XINF_QK_LANES);
        __m256 after = mins ? s_step_v (before, isum, a, c, groups, act, j, first)
                            : s_step_no_mins (before, isum, a, groups, act, j, first);
        if (one)
            *lanes = after;
        else
            _mm256_storeu_ps (acc + j * XINF_QK_LANES, after);
    }
}

//  The vectors past the packed groups of act times rows of dtype (a
//  constant), each chunk of 8 blocks decoded once into registers for all
//  of them; one vector's lanes stay in a register, several in scratch.
S_VNNI static S_INLINE void
s_legacy_split_rows (const xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                     const xinf_qk_act_t *act, float *y, size_t y_stride, float *acc)
{
    size_t blocks = act->groups, whole = blocks / XINF_QK_LANES * XINF_QK_LANES;
    size_t grouped = act->packs * XINF_QK_PACK;
    bool one = act->n - grouped == 1;
    s_picks_t picks = s_legacy_picks (dtype);
    for (size_t r = 0; r < count; r++) {
        const uint8_t *row = w + r * row_bytes;
        __m256 lanes = _mm256_setzero_ps ();
        memset (acc, 0, act->n * XINF_QK_LANES * sizeof (float));
        for (size_t first = 0; first < whole; first += XINF_QK_LANES)
            s_legacy_chunk (dtype, &picks, row, first, XINF_QK_LANES, act, one, &lanes, acc);
        if (blocks - whole == 4)     //  rows of 896 (Qwen2.5-0.5B): a constant half
            s_legacy_chunk (dtype, &picks, row, whole, 4, act, one, &lanes, acc);
        else if (whole < blocks)
            s_legacy_chunk (dtype, &picks, row, whole, blocks - whole, act, one, &lanes, acc);
        if (one)
            _mm256_storeu_ps (acc + grouped * XINF_QK_LANES, lanes);
        for (size_t j = grouped; j < act->n; j++)
            y [j * y_stride + r] = xinf_qk_lanes (acc + j * XINF_QK_LANES);
    }
}

//  MXFP4's rows for the vectors past the packed groups without VBMI: its
//  17-byte blocks lie at odd bytes, which the word permutes of the split
//  products cannot pick, so a row is decoded a chunk at a time and
//  multiplied with those vectors (act cut to them), as the sets without
//  rows do.
S_VNNI static void
s_mxfp4_rows (const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act, float *y,
              size_t y_stride, void *scratch)
{
    size_t skip = act->packs * XINF_QK_PACK, blocks = act->cols / XINF_QUANT_GROUP;
    xinf_qk_act_t rest = *act;
    rest.n = act->n - skip;
    rest.q = act->q + skip * act->cols;
    rest.d = act->d + skip * act->spans;
    rest.s = act->s + skip * act->groups;
    xinf_qk_chunk_t *chunk = scratch;
    float *acc = (float *) ((uint8_t *) scratch + XINF_QK_SCRATCH);
    for (size_t r = 0; r < count; r++) {
        const uint8_t *row = w + r * row_bytes;
        memset (acc, 0, rest.n * XINF_QK_LANES * sizeof (float));
        for (size_t block = 0; block < blocks; block += XINF_QK_LANES) {
            size_t chunk_blocks = blocks - block < XINF_QK_LANES ? blocks - block : XINF_QK_LANES;
            s_decode_mxfp4 (row + block * 17, chunk_blocks, chunk->q [0], chunk->a, chunk->c);
            s_chunk_avx512 (chunk, chunk_blocks, &rest, block, acc);
        }
        for (size_t j = 0; j < rest.n; j++)
            y [(skip + j) * y_stride + r] = xinf_qk_lanes (acc + j * XINF_QK_LANES);
    }
}

//  The rows two at a time on CPUs with VBMI (xinf_cpu_simd_qk_pairs.c),
//  else NULL.
static xinf_cpu_qk_k_rows_fn *s_pairs;

//  Rows of a 32-weight type: the packed groups of vectors by the group
//  kernel, the others by byte products of their split halves (Q4_0,
//  Q5_0, IQ4_NL: the offset of 8, 16 or 128 off as that many times the
//  group's sum of q) into four pairs of groups, reduced to the 8 groups'
//  sums in one tree; the arithmetic of s_chunk_avx512. With VBMI, two
//  rows at a time for MXFP4 and for several vectors.
S_VNNI static void
s_legacy_rows (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
               float *y, size_t y_stride, void *scratch)
{
    float *acc = (float *) ((uint8_t *) scratch + XINF_QK_SCRATCH);
    if (act->packs)
        xinf_cpu_qk_groups32_avx512 (dtype, w, row_bytes, count, act, y, y_stride, scratch);
    if (act->packs * XINF_QK_PACK == act->n)
        return;
    //  one vector of the other types: a row at a time (pairs: 0.94-0.98x
    //  in the decode of a 1B Q4_0 / IQ4_NL file; 1.06-1.10x for 4)
    if (s_pairs && (dtype == XINF_DTYPE_MXFP4 || act->n - act->packs * XINF_QK_PACK > 1)) {
        s_pairs (dtype, w, row_bytes, count, act, y, y_stride, scratch);
        return;
    }
    switch (dtype) {
        case XINF_DTYPE_MXFP4: s_mxfp4_rows (w, row_bytes, count, act, y, y_stride, scratch); break;
        case XINF_DTYPE_Q4_0: s_legacy_split_rows (XINF_DTYPE_Q4_0, w, row_bytes, count, act, y, y_stride, acc); break;
        case XINF_DTYPE_Q4_1: s_legacy_split_rows (XINF_DTYPE_Q4_1, w, row_bytes, count, act, y, y_stride, acc); break;
        case XINF_DTYPE_Q5_0: s_legacy_split_rows (XINF_DTYPE_Q5_0, w, row_bytes, count, act, y, y_stride, acc); break;
        case XINF_DTYPE_IQ4_NL: s_legacy_split_rows (XINF_DTYPE_IQ4_NL, w, row_bytes, count, act, y, y_stride, acc); break;
        default: s_legacy_split_rows (XINF_DTYPE_Q5_1, w, row_bytes, count, act, y, y_stride, acc); break;
    }
}

static xinf_cpu_qk_kern_t s_avx2 = { "avx2", s_decode, s_chunk_avx2, s_to_f32, NULL, NULL, false,
                                     xinf_cpu_qk_quantize_k, false, NULL };
static xinf_cpu_qk_kern_t s_avx512 = { "avx512", s_decode, s_chunk_avx512, s_to_f32, NULL, s_legacy_rows, true,
                                       xinf_cpu_qk_quantize_k, true, NULL };

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx2 (void)
{
    __builtin_cpu_init ();
    if (!xinf_cpu_has_avx2_set ())
        return NULL;
    s_avx2.k_rows = xinf_cpu_qk_k_rows_avx2 ();
    return &s_avx2;
}

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx512 (void)
{
    if (!xinf_cpu_qk_avx2 () || !__builtin_cpu_supports ("avx512f") || !__builtin_cpu_supports ("avx512bw")
        || !__builtin_cpu_supports ("avx512vl") || !__builtin_cpu_supports ("avx512vnni"))
        return NULL;
    s_avx512.k_rows = xinf_cpu_qk_k_rows_avx512 ();
    s_avx512.quantize_k = xinf_cpu_qk_quantize_k_avx512 ();
    s_avx512.quantize32 = xinf_cpu_qk_quantize32_avx512 ();
    s_pairs = xinf_cpu_qk_pairs_vbmi ();
    return &s_avx512;
}

#else

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx2 (void)
{
    return NULL;
}

const xinf_cpu_qk_kern_t *
xinf_cpu_qk_avx512 (void)
{
    return NULL;
}

#endif
