/*  xinf_cpu_simd_qk_kcodes: the K blocks' scales and codes as registers,
    which the AVX2 and AVX-512 row kernels (xinf_cpu_simd_qk_k.c) and the
    AVX-512 kernels of whole groups of 16 vectors
    (xinf_cpu_simd_qk_kgroups.c) share: fp16 d, Q4_K / Q5_K scales and
    mins, Q3_K and Q2_K scales, IQ4_XS's table and scales, and every K
    type's unsigned codes in order. Private to kernels/cpu; x86-64 with
    GCC or clang only.
*/
#ifndef XINF_CPU_SIMD_QK_KCODES_H_INCLUDED
#define XINF_CPU_SIMD_QK_KCODES_H_INCLUDED

#include "xinf_cpu_simd_qk_tile.h"

S_AVX2 static S_INLINE float
s_half (const uint8_t *bytes)
{
    uint16_t half;
    memcpy (&half, bytes, 2);
    return _cvtsh_ss (half);
}

//  The 6-bit scales and mins of a Q4_K / Q5_K block as 8 bytes each.
static S_INLINE void
s_scale_min (const uint8_t *block, uint8_t *scales, uint8_t *mins)
{
    uint32_t words [3], packed [4];
    memcpy (words, block + 4, 12);
    packed [0] = words [0] & 0x3f3f3f3fu;
    packed [1] = (words [2] & 0x0f0f0f0fu) | ((words [0] >> 2) & 0x30303030u);
    packed [2] = words [1] & 0x3f3f3f3fu;
    packed [3] = ((words [2] >> 4) & 0x0f0f0f0fu) | ((words [1] >> 2) & 0x30303030u);
    memcpy (scales, packed, 8);
    memcpy (mins, packed + 2, 8);
}

//  The 16 scales of a Q3_K block minus 32, as bytes (-32..31): scale k's
//  low nibble from byte k (k < 8; else the high nibble of byte k - 8),
//  its top two bits from bits 2 (k / 4) of byte 8 + k % 4.
S_AVX2 static S_INLINE __m128i
s_q3_scales (const uint8_t *block)
{
    __m128i pair = _mm_loadl_epi64 ((const __m128i *) (block + 96));        //  bytes 0..7
    __m128i top = _mm_broadcastd_epi32 (_mm_loadu_si32 (block + 104));       //  bytes 8..11
    __m128i low = _mm_unpacklo_epi64 (pair, _mm_srli_epi32 (pair, 4));
    __m128i high = _mm_srlv_epi32 (top, _mm_setr_epi32 (0, 2, 4, 6));
    low = _mm_and_si128 (low, _mm_set1_epi8 (15));
    high = _mm_slli_epi32 (_mm_and_si128 (high, _mm_set1_epi8 (3)), 4);
    return _mm_sub_epi8 (_mm_or_si128 (low, high), _mm_set1_epi8 (32));
}

//  IQ4_XS's table of values (vpshufb's, in every 128-bit lane), and its
//  group g's scale ls - 32.
S_AVX2 static S_INLINE __m256i
s_iq4_table (void)
{
    static const int8_t values [16] = XINF_IQ4_VALUES;
    return _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) values));
}

static S_INLINE int
s_iq4_scale (const uint8_t *block, int g)
{
    uint16_t high;
    memcpy (&high, block + 2, 2);
    return (((block [4 + g / 2] >> (4 * (g % 2))) & 15) | (((high >> (2 * g)) & 3) << 4)) - 32;
}

//  The 16 scales of a Q2_K (sc & 15) or Q3_K (sc - 32) block as int16;
//  Q2_K's mins (sc >> 4) too, Q3_K's offsets 4 (sc - 32) in their place.
S_AVX2 static S_INLINE void
s_scales23 (const xinf_dtype_t dtype, const uint8_t *block, __m256i *scales, __m256i *mins, float *d, float *dmin)
{
    if (dtype == XINF_DTYPE_Q3_K) {
        *scales = _mm256_cvtepi8_epi16 (s_q3_scales (block));
        *mins = _mm256_slli_epi16 (*scales, 2);
        *d = s_half (block + 108);
        *dmin = 0;
        return;
    }
    __m128i packed = _mm_loadu_si128 ((const __m128i *) block), low4 = _mm_set1_epi8 (15);
    *scales = _mm256_cvtepu8_epi16 (_mm_and_si128 (packed, low4));
    *mins = _mm256_cvtepu8_epi16 (_mm_and_si128 (_mm_srli_epi16 (packed, 4), low4));
    *d = s_half (block + 80);
    *dmin = s_half (block + 82);
}

//  The 6-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K / Q5_K
//  block, s_scale_min's word operations in one register.
S_AVX2 static S_INLINE __m128i
s_scale_min128 (const uint8_t *block)
{
    __m128i words = _mm_loadu_si128 ((const __m128i *) (block + 4));         //  w0, w1, w2 (and 4 code bytes)
    __m128i low = _mm_srlv_epi32 (_mm_shuffle_epi32 (words, _MM_SHUFFLE (2, 1, 2, 0)), _mm_setr_epi32 (0, 0, 0, 4));
    low = _mm_and_si128 (low, _mm_setr_epi32 (0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i high = _mm_srli_epi32 (_mm_shuffle_epi32 (words, _MM_SHUFFLE (1, 1, 0, 0)), 2);
    high = _mm_and_si128 (high, _mm_setr_epi32 (0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128 (low, high);
}

//  32 bytes in both halves, the upper half shifted right by 'shift' bits
//  (per 16-bit lane).
S_AVX512 static S_INLINE __m512i
s_halves (const uint8_t *bytes, int low_shift, int high_shift)
{
    __m512i both = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) bytes));
    __m512i shifts = _mm512_inserti64x4 (_mm512_set1_epi16 ((short) low_shift), _mm256_set1_epi16 ((short) high_shift), 1);
    return _mm512_srlv_epi16 (both, shifts);
}

//  IQ4_XS: the nibbles of groups 2j and 2j + 1 in order (64 bytes).
S_AVX512 static S_INLINE __m512i
s_iq4_nibbles512 (const uint8_t *block, int j)
{
    __m256i bytes = _mm256_loadu_si256 ((const __m256i *) (block + 8 + 32 * j)), low4 = _mm256_set1_epi8 (15);
    __m256i low = _mm256_and_si256 (bytes, low4), high = _mm256_and_si256 (_mm256_srli_epi16 (bytes, 4), low4);
    return _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm256_permute2x128_si256 (low, high, 0x20)),
                               _mm256_permute2x128_si256 (low, high, 0x31), 1);
}

//  The unsigned codes of a block in order, 64 a register (IQ4_XS: its
//  values + 128).
S_AVX512 static S_INLINE void
s_codes512 (const xinf_dtype_t dtype, const uint8_t *block, __m512i *codes)
{
    __m512i low4 = _mm512_set1_epi8 (15);
    if (dtype == XINF_DTYPE_IQ4_XS) {
        __m512i table = _mm512_xor_si512 (_mm512_broadcast_i32x4 (_mm256_castsi256_si128 (s_iq4_table ())),
                                          _mm512_set1_epi8 ((char) 0x80));
        S_UNROLL for (int j = 0; j < 4; j++)
            codes [j] = _mm512_shuffle_epi8 (table, s_iq4_nibbles512 (block, j));
        return;
    }
    if (dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K) {
        const bool three = dtype == XINF_DTYPE_Q3_K;
        const uint8_t *qs = block + (three ? 32 : 16);
        S_UNROLL for (int j = 0; j < 4; j++) {
            int h = j / 2, g = 2 * (j % 2);      //  groups of 32 4h + g, 4h + g + 1
            codes [j] = _mm512_and_si512 (s_halves (qs + 32 * h, 2 * g, 2 * g + 2), _mm512_set1_epi8 (3));
            if (three) {
                __m512i high = _mm512_and_si512 (s_halves (block, 4 * h + g, 4 * h + g + 1), _mm512_set1_epi8 (1));
                codes [j] = _mm512_or_si512 (codes [j], _mm512_slli_epi16 (high, 2));
            }
        }
        return;
    }
    if (dtype == XINF_DTYPE_Q6_K) {
        S_UNROLL for (int j = 0; j < 4; j++) {
            int h = j / 2, kk = j % 2;
            __m512i ql = _mm512_loadu_si512 (block + 64 * h);
            __m512i low = _mm512_and_si512 (kk ? _mm512_srli_epi16 (ql, 4) : ql, low4);
            __m512i top = _mm512_and_si512 (s_halves (block + 128 + 32 * h, 4 * kk, 4 * kk + 2), _mm512_set1_epi8 (3));
            codes [j] = _mm512_or_si512 (low, _mm512_slli_epi16 (top, 4));
        }
        return;
    }
    bool five = dtype == XINF_DTYPE_Q5_K;
    const uint8_t *qs = block + (five ? 48 : 16);
    S_UNROLL for (int j = 0; j < 4; j++) {
        codes [j] = _mm512_and_si512 (s_halves (qs + 32 * j, 0, 4), low4);
        if (five) {
            __m512i high = _mm512_and_si512 (s_halves (block + 16, 2 * j, 2 * j + 1), _mm512_set1_epi8 (1));
            codes [j] = _mm512_or_si512 (codes [j], _mm512_slli_epi16 (high, 4));
        }
    }
}

//  The tile's rows times every whole packed group of 16 vectors of act
//  (xinf_cpu_simd_qk_kgroups.c): y [j * y_stride + r] for row r of the
//  tile, vector j of the groups; 'scratch' holds the decoded tile.
void xinf_cpu_qk_k_tile_groups_avx512 (xinf_dtype_t dtype, const s_tile_t *tile, const xinf_qk_act_t *act,
                                       uint8_t *scratch, float *y, size_t y_stride);

#endif
