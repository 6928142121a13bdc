/*  xinf_cpu_simd_qk_split: what the AVX-512 VNNI kernels of the 32-weight
    types share (a row at a time, xinf_cpu_simd_qk.c; two rows at a time
    on VBMI, xinf_cpu_simd_qk_pairs.c): a block's bytes, a chunk's masked
    loads, the word permutes that pick its codes and scales, and the byte
    products of four blocks' codes with their split x (xinf_qk_act_t's
    split: the high bytes of weights 0..15 of each of four blocks, of
    16..31, then the low bytes alike). Private to kernels/cpu; x86-64
    with GCC or clang only.
*/
#ifndef XINF_CPU_SIMD_QK_SPLIT_H_INCLUDED
#define XINF_CPU_SIMD_QK_SPLIT_H_INCLUDED

#include "xinf_cpu_qk.h"

#include <immintrin.h>

#define S_VNNI __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 8")

//  Bytes of a block of a 32-weight type.
static S_INLINE size_t
s_legacy_bytes (xinf_dtype_t dtype)
{
    return dtype == XINF_DTYPE_MXFP4 ? 17 : dtype == XINF_DTYPE_Q4_0 || dtype == XINF_DTYPE_IQ4_NL ? 18
         : dtype == XINF_DTYPE_Q4_1 ? 20
         : dtype == XINF_DTYPE_Q5_0 ? 22 : 24;
}

//  The bytes of a chunk's 'groups' blocks at 'blocks' in three registers,
//  zero past them (masked loads: nothing past them read).
S_VNNI static S_INLINE void
s_legacy_load (xinf_dtype_t dtype, const uint8_t *blocks, size_t groups, __m512i *part)
{
    size_t length = groups * s_legacy_bytes (dtype);
    S_UNROLL for (int k = 0; k < 3; k++) {
        size_t from = 64 * (size_t) k, take = length > from ? length - from : 0;
        __mmask64 mask = take >= 64 ? ~(__mmask64) 0 : ((__mmask64) 1 << take) - 1;
        part [k] = take ? _mm512_maskz_loadu_epi8 (mask, blocks + from) : _mm512_setzero_si512 ();
    }
}

//  Codes of four blocks times their 128 split x (qh of weights 0..15 of
//  each, of 16..31, then the ql alike): 16 int32 lanes, 128-bit lane b
//  the 4 partial sums of block b (exact: 128 * sum codes qh + sum codes ql).
S_VNNI static S_INLINE __m512i
s_four_sums (__m512i first, __m512i second, const int8_t *split)
{
    __m512i high = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), first, _mm512_load_si512 (split));
    high = _mm512_dpbusd_epi32 (high, second, _mm512_load_si512 (split + 64));
    __m512i sum = _mm512_dpbusd_epi32 (_mm512_slli_epi32 (high, 7), first, _mm512_load_si512 (split + 128));
    return _mm512_dpbusd_epi32 (sum, second, _mm512_load_si512 (split + 192));
}

//  Word permutes that pick, from two 64-byte registers holding the bytes
//  of four blocks (blocks 4h .. 4h + 3 of a chunk from part [h] and
//  part [h + 1], chunk bytes 64h on), their 16 code bytes in 128-bit
//  lanes (lane b: block b) and, for Q5_0 / Q5_1, their high bits as
//  words: the 4 low words (bits 0..15), then the 4 high (bits 16..31).
typedef struct {
    __m512i codes [2], bits [2];
} s_picks_t;

S_VNNI static S_INLINE s_picks_t
s_legacy_picks (xinf_dtype_t dtype)
{
    const int bytes = (int) s_legacy_bytes (dtype);
    const bool mins = dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1;
    const bool five = dtype == XINF_DTYPE_Q5_0 || dtype == XINF_DTYPE_Q5_1;
    const int at = 2 + (mins ? 2 : 0) + (five ? 4 : 0), bits_at = mins ? 4 : 2;
    s_picks_t picks;
    for (int h = 0; h < 2; h++) {
        int16_t codes [32], bits [32] = { 0 };
        for (int w = 0; w < 32; w++)
            codes [w] = (int16_t) (((4 * h + w / 8) * bytes + at + 2 * (w % 8) - 64 * h) / 2);
        for (int b = 0; b < 4; b++) {
            bits [b] = (int16_t) (((4 * h + b) * bytes + bits_at - 64 * h) / 2);
            bits [4 + b] = (int16_t) (bits [b] + 1);
        }
        picks.codes [h] = _mm512_loadu_si512 (codes);
        picks.bits [h] = _mm512_loadu_si512 (bits);
    }
    return picks;
}

//  The unsigned codes (Q4_0, Q4_1 0..15; Q5_0, Q5_1 0..31; IQ4_NL its
//  nibbles' values + 128, 1..241) of four blocks from their bytes in
//  'low' and 'high': *first their weights 0..15 (lane b: block b),
//  *second their weights 16..31.
S_VNNI static S_INLINE void
s_codes_four (xinf_dtype_t dtype, __m512i low, __m512i high, __m512i codes_pick, __m512i bits_pick,
              __m512i *first, __m512i *second)
{
    __m512i bytes = _mm512_permutex2var_epi16 (low, codes_pick, high), mask = _mm512_set1_epi8 (15);
    *first = _mm512_and_si512 (bytes, mask);
    *second = _mm512_and_si512 (_mm512_srli_epi16 (bytes, 4), mask);
    if (dtype == XINF_DTYPE_IQ4_NL) {
        static const int8_t values [16] = XINF_IQ4_VALUES;
        __m512i table = _mm512_xor_si512 (_mm512_broadcast_i32x4 (_mm_loadu_si128 ((const __m128i *) values)),
                                          _mm512_set1_epi8 ((char) 0x80));
        *first = _mm512_shuffle_epi8 (table, *first);
        *second = _mm512_shuffle_epi8 (table, *second);
    }
    if (dtype == XINF_DTYPE_Q5_0 || dtype == XINF_DTYPE_Q5_1) {
        __m128i bits = _mm512_castsi512_si128 (_mm512_permutex2var_epi16 (low, bits_pick, high));
        __m512i sixteen = _mm512_set1_epi8 (16);
        *first = _mm512_mask_add_epi8 (*first, _cvtu64_mask64 ((uint64_t) _mm_cvtsi128_si64 (bits)), *first, sixteen);
        *second = _mm512_mask_add_epi8 (*second, _cvtu64_mask64 ((uint64_t) _mm_extract_epi64 (bits, 1)), *second,
                                        sixteen);
    }
}

//  The fp16 d (and m) of the 8 blocks of the chunk in 'part' as floats
//  in lanes (0 past the blocks), their words picked by permutes.
S_VNNI static S_INLINE void
s_legacy_scales (xinf_dtype_t dtype, const __m512i *part, __m256 *a, __m256 *c)
{
    const int bytes = (int) s_legacy_bytes (dtype);
    //  lane g: the word of block g's d; lane 8 + g: the word after it (m)
    const int h = bytes / 2;
    __m512i index = _mm512_setr_epi32 (h << 16, 3 * h << 16 | 2 * h, 5 * h << 16 | 4 * h, 7 * h << 16 | 6 * h,
                                       (h + 1) << 16 | 1, (3 * h + 1) << 16 | (2 * h + 1),
                                       (5 * h + 1) << 16 | (4 * h + 1), (7 * h + 1) << 16 | (6 * h + 1),
                                       0, 0, 0, 0, 0, 0, 0, 0);
    __mmask32 past = 0;                      //  words in part [2]
    for (int lane = 0; lane < 8; lane++) {
        past |= (__mmask32) (lane * h >= 64) << lane;
        past |= (__mmask32) (lane * h + 1 >= 64) << (8 + lane);
    }
    __m512i words = _mm512_mask_blend_epi16 (past, _mm512_permutex2var_epi16 (part [0], index, part [1]),
                                             _mm512_permutexvar_epi16 (index, part [2]));
    *a = _mm256_cvtph_ps (_mm512_castsi512_si128 (words));
    bool mins = dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1;
    *c = mins ? _mm256_cvtph_ps (_mm512_extracti32x4_epi32 (words, 1)) : _mm256_setzero_ps ();
}

#endif
