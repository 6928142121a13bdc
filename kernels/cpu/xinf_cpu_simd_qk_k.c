/*  xinf_cpu_simd_qk_k: the AVX2 and AVX-512 (VNNI) k_rows of the K types
    (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS) with 8-bit activations
    (xinf_cpu_qk.h says the arithmetic, which both repeat bit for bit);
    the blocks' scales and codes as registers are in
    xinf_cpu_simd_qk_kcodes.h, the kernels of whole groups of 16 vectors
    in xinf_cpu_simd_qk_kgroups.c.

    Rows go four at a time (a tile), past up to 4 vectors (AVX2: 2) at a
    time. Per block and row the unsigned codes (Q4_K 0..15, Q5_K 0..31,
    Q6_K 0..63, Q2_K 0..3, Q3_K 0..7) are unpacked in order, 64 to a
    register (AVX2: 32), and
    each register meets x twice: vpmaddubsw (code times q, pairs summed
    into int16: at most 2 * 63 * 127, no saturation), then vpdpwssd
    (AVX2: vpmaddwd and an add) with the sub-blocks' scales into int32
    lanes: exact, |isum| < 2^31. Q6_K's offset of 32 comes off as
    32 * sum of sc_k * s16_k (vpmaddwd), Q3_K's of 4 likewise, the mins
    of Q4_K and Q5_K as m_g * s32_g, those of Q2_K as m_k * s16_k
    (vpmaddwd). IQ4_XS's weights are signed table values (-127..113,
    looked up by vpshufb): their magnitudes meet x with their signs
    (vpsignb), pairs at most 2 * 127 * 127, then its groups' scales
    ls - 32; in the packed groups of 16 vectors its codes are the values
    + 128 (vpdpbusd takes them unsigned), the offset off as 128 (ls - 32)
    times the groups' s32. The four rows' lanes are then summed by one
    tree of adds and hadds into four int32, and the float step of the
    block runs for the four rows in four lanes.
*/
#include "xinf_cpu_qk.h"
#include "xinf_cpu_cpuid.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include "xinf_cpu_simd_qk_kcodes.h"

//  The float step of a block for the tile's four rows in four lanes (the
//  arithmetic of xinf_qk_k_step).
S_AVX2 static S_INLINE __m128
s_step (__m128 acc, __m128i isum, __m128i msum, __m128 d, __m128 dmin, float dx)
{
    __m128 scale = _mm_set1_ps (dx);
    __m128 u = _mm_mul_ps (_mm_cvtepi32_ps (isum), _mm_mul_ps (d, scale));
    __m128 v = _mm_mul_ps (_mm_cvtepi32_ps (msum), _mm_mul_ps (dmin, scale));
    return _mm_add_ps (acc, _mm_sub_ps (u, v));
}

//  Lane r = the sum of the lanes of p [r] (four rows' int32 lanes).
S_AVX2 static S_INLINE __m128i
s_reduce4 (__m256i p0, __m256i p1, __m256i p2, __m256i p3)
{
    __m256i h = _mm256_hadd_epi32 (_mm256_hadd_epi32 (p0, p1), _mm256_hadd_epi32 (p2, p3));
    return _mm_add_epi32 (_mm256_castsi256_si128 (h), _mm256_extracti128_si256 (h, 1));
}

//  Lane r = the sum of the 4 lanes of p [r].
S_AVX2 static S_INLINE __m128i
s_reduce4x4 (__m128i p0, __m128i p1, __m128i p2, __m128i p3)
{
    return _mm_hadd_epi32 (_mm_hadd_epi32 (p0, p1), _mm_hadd_epi32 (p2, p3));
}

//  ---- AVX2 -------------------------------------------------------------------------

//  The 16-group sums of a Q2_K (msum) or Q3_K (off isum) block against
//  vector x's s16, with the block's scales and mins of s_scales23.
S_AVX2 static S_INLINE void
s_sums23 (const xinf_dtype_t dtype, __m256i mins, const int16_t *s16, __m256i *isum, __m128i *msum)
{
    __m256i products = _mm256_madd_epi16 (mins, _mm256_loadu_si256 ((const __m256i *) s16));
    if (dtype == XINF_DTYPE_Q3_K) {
        *isum = _mm256_sub_epi32 (*isum, products);
        *msum = _mm_setzero_si128 ();
    }
    else
        *msum = _mm_add_epi32 (_mm256_castsi256_si128 (products), _mm256_extracti128_si256 (products, 1));
}

//  Q2_K, Q3_K: as s_block_avx2.
S_AVX2 static S_INLINE void
s_block23_avx2 (const xinf_dtype_t dtype, const uint8_t *block, const xinf_qk_act_t *act, size_t first, size_t b,
                const int V, __m256i *isum, __m128i *msum, float *d, float *dmin)
{
    const bool three = dtype == XINF_DTYPE_Q3_K;
    const uint8_t *qs = block + (three ? 32 : 16);
    const int8_t *x [4];
    __m256i scales, mins;
    s_scales23 (dtype, block, &scales, &mins, d, dmin);
    int16_t sc [16];
    _mm256_storeu_si256 ((__m256i *) sc, scales);
    for (int v = 0; v < V; v++) {
        x [v] = act->q8 + (first + v) * act->cols + b * 256;
        s_sums23 (dtype, mins, act->s16 + ((first + v) * act->cols + b * 256) / 16, &isum [v], &msum [v]);
    }
    __m256i two = _mm256_set1_epi8 (3), one = _mm256_set1_epi8 (1);
    __m256i hmask = three ? _mm256_loadu_si256 ((const __m256i *) block) : _mm256_setzero_si256 ();
    for (int h = 0; h < 2; h++) {
        __m256i bytes = _mm256_loadu_si256 ((const __m256i *) (qs + 32 * h));
        S_UNROLL for (int j = 0; j < 4; j++) {
            int g = 4 * h + j;
            __m256i codes = _mm256_and_si256 (_mm256_srli_epi16 (bytes, 2 * j), two);
            if (three)
                codes = _mm256_or_si256 (codes, _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (hmask, g), one), 2));
            __m256i scale = _mm256_setr_m128i (_mm_set1_epi16 (sc [2 * g]), _mm_set1_epi16 (sc [2 * g + 1]));
            S_UNROLL for (int v = 0; v < V; v++) {
                __m256i xq = _mm256_loadu_si256 ((const __m256i *) (x [v] + 32 * g));
                isum [v] = _mm256_add_epi32 (isum [v], _mm256_madd_epi16 (_mm256_maddubs_epi16 (codes, xq), scale));
            }
        }
    }
}

//  IQ4_XS: as s_block_avx2, a group of 32 a register: its nibbles' values
//  by vpshufb, their magnitudes times x with their signs (vpsignb), the
//  pairs times the group's scale.
S_AVX2 static S_INLINE void
s_block_iq4_xs_avx2 (const uint8_t *block, const xinf_qk_act_t *act, size_t first, size_t b, const int V,
                     __m256i *isum, __m128i *msum, float *d, float *dmin)
{
    const int8_t *x [4];
    __m256i table = s_iq4_table (), low4 = _mm256_set1_epi8 (15);
    *d = s_half (block);
    *dmin = 0;
    for (int v = 0; v < V; v++) {
        x [v] = act->q8 + (first + v) * act->cols + b * 256;
        msum [v] = _mm_setzero_si128 ();
    }
    S_UNROLL for (int g = 0; g < 8; g++) {
        __m128i bytes = _mm_loadu_si128 ((const __m128i *) (block + 8 + 16 * g));
        __m256i nibbles = _mm256_and_si256 (_mm256_setr_m128i (bytes, _mm_srli_epi16 (bytes, 4)), low4);
        __m256i values = _mm256_shuffle_epi8 (table, nibbles);
        __m256i magnitude = _mm256_sign_epi8 (values, values);
        __m256i scale = _mm256_set1_epi16 ((short) s_iq4_scale (block, g));
        S_UNROLL for (int v = 0; v < V; v++) {
            __m256i xq = _mm256_sign_epi8 (_mm256_loadu_si256 ((const __m256i *) (x [v] + 32 * g)), values);
            isum [v] = _mm256_add_epi32 (isum [v], _mm256_madd_epi16 (_mm256_maddubs_epi16 (magnitude, xq), scale));
        }
    }
}

//  Row r's integer sums of block b with V vectors from 'first' added into
//  isum [v] (8 lanes) and msum [v] (4 lanes); its d and dmin out.
S_AVX2 static S_INLINE void
s_block_avx2 (const xinf_dtype_t dtype, const uint8_t *block, const xinf_qk_act_t *act, size_t first, size_t b,
              const int V, __m256i *isum, __m128i *msum, float *d, float *dmin)
{
    __m256i low4 = _mm256_set1_epi8 (15);
    const int8_t *x [4];
    if (dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K) {
        s_block23_avx2 (dtype, block, act, first, b, V, isum, msum, d, dmin);
        return;
    }
    if (dtype == XINF_DTYPE_IQ4_XS) {
        s_block_iq4_xs_avx2 (block, act, first, b, V, isum, msum, d, dmin);
        return;
    }
    for (int v = 0; v < V; v++)
        x [v] = act->q8 + (first + v) * act->cols + b * 256;
    if (dtype == XINF_DTYPE_Q6_K) {
        const int8_t *scales = (const int8_t *) (block + 192);
        __m256i three = _mm256_set1_epi8 (3);
        *d = s_half (block + 208);
        *dmin = 0;
        __m256i bias = _mm256_slli_epi16 (_mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) scales)), 5);
        for (int v = 0; v < V; v++) {
            __m256i sums = _mm256_loadu_si256 ((const __m256i *) (act->s16 + ((first + v) * act->cols + b * 256) / 16));
            isum [v] = _mm256_sub_epi32 (isum [v], _mm256_madd_epi16 (bias, sums));
            msum [v] = _mm_setzero_si128 ();
        }
        for (int h = 0; h < 2; h++) {
            __m256i ql [2] = { _mm256_loadu_si256 ((const __m256i *) (block + 64 * h)),
                               _mm256_loadu_si256 ((const __m256i *) (block + 64 * h + 32)) };
            __m256i qh = _mm256_loadu_si256 ((const __m256i *) (block + 128 + 32 * h));
            S_UNROLL for (int k = 0; k < 4; k++) {
                __m256i low = _mm256_and_si256 (k < 2 ? ql [k & 1] : _mm256_srli_epi16 (ql [k & 1], 4), low4);
                __m256i top = _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (qh, 2 * k), three), 4);
                __m256i codes = _mm256_or_si256 (low, top);
                const int8_t *sc = scales + 8 * h + 2 * k;
                __m256i scale = _mm256_setr_m128i (_mm_set1_epi16 (sc [0]), _mm_set1_epi16 (sc [1]));
                S_UNROLL for (int v = 0; v < V; v++) {
                    __m256i xq = _mm256_loadu_si256 ((const __m256i *) (x [v] + 128 * h + 32 * k));
                    isum [v] = _mm256_add_epi32 (isum [v], _mm256_madd_epi16 (_mm256_maddubs_epi16 (codes, xq), scale));
                }
            }
        }
        return;
    }
    uint8_t scales [8], mins [8];
    s_scale_min (block, scales, mins);
    *d = s_half (block);
    *dmin = s_half (block + 2);
    bool five = dtype == XINF_DTYPE_Q5_K;
    const uint8_t *qs = block + (five ? 48 : 16);
    __m128i m = _mm_cvtepu8_epi16 (_mm_loadl_epi64 ((const __m128i *) mins));
    for (int v = 0; v < V; v++)
        msum [v] = _mm_madd_epi16 (m, _mm_loadu_si128 ((const __m128i *) (act->s32 + (first + v) * act->groups + b * 8)));
    __m256i bits = five ? _mm256_loadu_si256 ((const __m256i *) (block + 16)) : _mm256_setzero_si256 ();
    __m256i one = _mm256_set1_epi8 (1);
    S_UNROLL for (int g = 0; g < 8; g++) {
        __m256i bytes = _mm256_loadu_si256 ((const __m256i *) (qs + 32 * (g / 2)));
        __m256i codes = _mm256_and_si256 (g % 2 ? _mm256_srli_epi16 (bytes, 4) : bytes, low4);
        if (five)
            codes = _mm256_or_si256 (codes, _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (bits, g), one), 4));
        __m256i scale = _mm256_set1_epi16 (scales [g]);
        S_UNROLL for (int v = 0; v < V; v++) {
            __m256i xq = _mm256_loadu_si256 ((const __m256i *) (x [v] + 32 * g));
            isum [v] = _mm256_add_epi32 (isum [v], _mm256_madd_epi16 (_mm256_maddubs_epi16 (codes, xq), scale));
        }
    }
}

//  The tile times V vectors from 'first': acc [v] lane r = row r . x.
S_AVX2 static S_INLINE void
s_tile_avx2 (const xinf_dtype_t dtype, const s_tile_t *tile, const xinf_qk_act_t *act, size_t first, const int V,
             __m128 *acc)
{
    for (int v = 0; v < V; v++)
        acc [v] = _mm_setzero_ps ();
    for (size_t b = 0; b < act->spans; b++) {
        __m256i isum [S_ROWS][2];
        __m128i msum [S_ROWS][2];
        float d [S_ROWS], dmin [S_ROWS];
        s_prefetch (tile, b);
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            S_UNROLL for (int v = 0; v < V; v++)
                isum [r][v] = _mm256_setzero_si256 ();
            s_block_avx2 (dtype, tile->rows [r] + b * tile->block_bytes, act, first, b, V, isum [r], msum [r], &d [r],
                          &dmin [r]);
        }
        __m128 dv = _mm_loadu_ps (d), dminv = _mm_loadu_ps (dmin);
        S_UNROLL for (int v = 0; v < V; v++) {
            __m128i is = s_reduce4 (isum [0][v], isum [1][v], isum [2][v], isum [3][v]);
            __m128i ms = s_reduce4x4 (msum [0][v], msum [1][v], msum [2][v], msum [3][v]);
            acc [v] = s_step (acc [v], is, ms, dv, dminv, act->d [(first + v) * act->spans + b]);
        }
    }
}

#define S_TILE_CASES(FN, TILE, act, j, acc) \
    switch (dtype) { \
        case XINF_DTYPE_Q4_K: \
            if (V == 1) FN (XINF_DTYPE_Q4_K, TILE, act, j, 1, acc); else FN (XINF_DTYPE_Q4_K, TILE, act, j, 2, acc); \
            break; \
        case XINF_DTYPE_Q5_K: \
            if (V == 1) FN (XINF_DTYPE_Q5_K, TILE, act, j, 1, acc); else FN (XINF_DTYPE_Q5_K, TILE, act, j, 2, acc); \
            break; \
        case XINF_DTYPE_Q2_K: \
            if (V == 1) FN (XINF_DTYPE_Q2_K, TILE, act, j, 1, acc); else FN (XINF_DTYPE_Q2_K, TILE, act, j, 2, acc); \
            break; \
        case XINF_DTYPE_Q3_K: \
            if (V == 1) FN (XINF_DTYPE_Q3_K, TILE, act, j, 1, acc); else FN (XINF_DTYPE_Q3_K, TILE, act, j, 2, acc); \
            break; \
        case XINF_DTYPE_IQ4_XS: \
            if (V == 1) FN (XINF_DTYPE_IQ4_XS, TILE, act, j, 1, acc); else FN (XINF_DTYPE_IQ4_XS, TILE, act, j, 2, acc); \
            break; \
        default: \
            if (V == 1) FN (XINF_DTYPE_Q6_K, TILE, act, j, 1, acc); else FN (XINF_DTYPE_Q6_K, TILE, act, j, 2, acc); \
            break; \
    }

S_AVX2 static void
s_k_rows_avx2 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
               float *y, size_t y_stride, void *scratch)
{
    (void) scratch;
    for (size_t row = 0; row < count; row += S_ROWS) {
        s_tile_t tile;
        s_tile_at (dtype, w, row_bytes, row, count, &tile);
        for (size_t j = 0; j < act->n; j += 2) {
            __m128 acc [2];
            int V = act->n - j < 2 ? 1 : 2;
            S_TILE_CASES (s_tile_avx2, &tile, act, j, acc)
            for (int v = 0; v < V; v++)
                s_store (acc [v], tile.count, y + (j + v) * y_stride + row);
        }
    }
}

//  ---- AVX-512 ------------------------------------------------------------------------

//  vpshufb controls (within each 128-bit lane) for the scales of register
//  j as int16. Q4_K / Q5_K: sub-block 2j in the lower half, 2j + 1 in the
//  upper, from the scale bytes (zero-extended). 16 scales (Q6_K, Q2_K,
//  Q3_K): lane k scale 4j + k, from the int16 scales 0..7 (j < 2) or
//  8..15 in every lane.
S_AVX512 static S_INLINE __m512i
s_pick45 (int j)
{
    return _mm512_inserti64x4 (_mm512_set1_epi16 ((short) (0x8000 | 2 * j)),
                               _mm256_set1_epi16 ((short) (0x8000 | (2 * j + 1))), 1);
}

S_AVX512 static S_INLINE __m512i
s_pick16 (int j)
{
    int w = 4 * (j % 2);
    return _mm512_inserti64x4 (
        _mm512_castsi256_si512 (_mm256_setr_m128i (_mm_set1_epi16 ((short) ((2 * w + 1) << 8 | 2 * w)),
                                                   _mm_set1_epi16 ((short) ((2 * w + 3) << 8 | (2 * w + 2))))),
        _mm256_setr_m128i (_mm_set1_epi16 ((short) ((2 * w + 5) << 8 | (2 * w + 4))),
                           _mm_set1_epi16 ((short) ((2 * w + 7) << 8 | (2 * w + 6)))), 1);
}

//  The four registers' scales from 16 int16 scales.
S_AVX512 static S_INLINE void
s_scales16 (__m256i sc, __m512i *scale)
{
    __m512i low = _mm512_broadcast_i32x4 (_mm256_castsi256_si128 (sc));
    __m512i high = _mm512_broadcast_i32x4 (_mm256_extracti128_si256 (sc, 1));
    S_UNROLL for (int j = 0; j < 4; j++)
        scale [j] = _mm512_shuffle_epi8 (j < 2 ? low : high, s_pick16 (j));
}

//  The 8 scales ls - 32 of an IQ4_XS block as int16, in every 128-bit
//  lane: scale g's low nibble is bits 4g.. of the 4 bytes at 4, its top
//  two bits 2g.. of the word at 2.
S_AVX512 static S_INLINE __m512i
s_iq4_scales512 (const uint8_t *block)
{
    uint32_t low;
    uint16_t high;
    memcpy (&low, block + 4, 4);
    memcpy (&high, block + 2, 2);
    __m256i nibbles = _mm256_srlv_epi32 (_mm256_set1_epi32 ((int) low), _mm256_setr_epi32 (0, 4, 8, 12, 16, 20, 24, 28));
    __m256i tops = _mm256_srlv_epi32 (_mm256_set1_epi32 (high), _mm256_setr_epi32 (0, 2, 4, 6, 8, 10, 12, 14));
    __m256i scales = _mm256_or_si256 (_mm256_and_si256 (nibbles, _mm256_set1_epi32 (15)),
                                      _mm256_slli_epi32 (_mm256_and_si256 (tops, _mm256_set1_epi32 (3)), 4));
    scales = _mm256_sub_epi32 (scales, _mm256_set1_epi32 (32));
    return _mm512_broadcast_i32x4 (_mm256_cvtepi32_epi16 (scales));
}

//  IQ4_XS: as s_block_iq4_xs_avx2, two groups a register (the sign
//  moved onto x by a masked subtraction); a 64-byte load's low and high
//  nibbles (four groups, one a 128-bit lane) interleaved by lanes into
//  two registers of two groups in order, each group's scale picked by a
//  word permute.
S_AVX512 static S_INLINE void
s_block_iq4_xs_avx512 (const uint8_t *block, const xinf_qk_act_t *act, size_t first, size_t b, const int V,
                       __m512i *isum, __m128i *msum, float *d, float *dmin)
{
    const int8_t *x [4];
    __m512i table = _mm512_broadcast_i32x4 (_mm256_castsi256_si128 (s_iq4_table ())), low4 = _mm512_set1_epi8 (15);
    __m512i scales = s_iq4_scales512 (block);
    *d = s_half (block);
    *dmin = 0;
    for (int v = 0; v < V; v++) {
        x [v] = act->q8 + (first + v) * act->cols + b * 256;
        msum [v] = _mm_setzero_si128 ();
    }
    __m512i nibbles [4];
    S_UNROLL for (int h = 0; h < 2; h++) {
        __m512i bytes = _mm512_loadu_si512 (block + 8 + 64 * h);
        __m512i low = _mm512_and_si512 (bytes, low4), high = _mm512_and_si512 (_mm512_srli_epi16 (bytes, 4), low4);
        nibbles [2 * h] = _mm512_permutex2var_epi64 (low, _mm512_setr_epi64 (0, 1, 8, 9, 2, 3, 10, 11), high);
        nibbles [2 * h + 1] = _mm512_permutex2var_epi64 (low, _mm512_setr_epi64 (4, 5, 12, 13, 6, 7, 14, 15), high);
    }
    S_UNROLL for (int j = 0; j < 4; j++) {
        __m512i values = _mm512_shuffle_epi8 (table, nibbles [j]);
        __m512i magnitude = _mm512_abs_epi8 (values);
        __mmask64 negative = _mm512_movepi8_mask (values);
        __m512i pick = _mm512_inserti64x4 (_mm512_set1_epi16 ((short) (2 * j)), _mm256_set1_epi16 ((short) (2 * j + 1)), 1);
        __m512i scale = _mm512_permutexvar_epi16 (pick, scales);
        S_UNROLL for (int v = 0; v < V; v++) {
            __m512i xq = _mm512_loadu_si512 (x [v] + 64 * j);
            xq = _mm512_mask_sub_epi8 (xq, negative, _mm512_setzero_si512 (), xq);
            isum [v] = _mm512_dpwssd_epi32 (isum [v], _mm512_maddubs_epi16 (magnitude, xq), scale);
        }
    }
}

//  Row r's block b (as s_block_avx2) in 16-lane sums.
S_AVX512 static S_INLINE void
s_block_avx512 (const xinf_dtype_t dtype, const uint8_t *block, const xinf_qk_act_t *act, size_t first, size_t b,
                const int V, __m512i *isum, __m128i *msum, float *d, float *dmin)
{
    __m512i codes [4], scale [4];
    const int8_t *x [4];
    if (dtype == XINF_DTYPE_IQ4_XS) {
        s_block_iq4_xs_avx512 (block, act, first, b, V, isum, msum, d, dmin);
        return;
    }
    for (int v = 0; v < V; v++)
        x [v] = act->q8 + (first + v) * act->cols + b * 256;
    s_codes512 (dtype, block, codes);
    if (dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K) {
        __m256i sc, mins;
        s_scales23 (dtype, block, &sc, &mins, d, dmin);
        for (int v = 0; v < V; v++) {
            __m256i lanes = _mm512_castsi512_si256 (isum [v]);
            s_sums23 (dtype, mins, act->s16 + ((first + v) * act->cols + b * 256) / 16, &lanes, &msum [v]);
            isum [v] = _mm512_inserti64x4 (isum [v], lanes, 0);
        }
        s_scales16 (sc, scale);
    }
    else
    if (dtype == XINF_DTYPE_Q6_K) {
        __m256i sc = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (block + 192)));
        *d = s_half (block + 208);
        *dmin = 0;
        __m256i bias = _mm256_slli_epi16 (sc, 5);
        for (int v = 0; v < V; v++) {
            __m256i sums = _mm256_loadu_si256 ((const __m256i *) (act->s16 + ((first + v) * act->cols + b * 256) / 16));
            isum [v] = _mm512_sub_epi32 (isum [v], _mm512_zextsi256_si512 (_mm256_madd_epi16 (bias, sums)));
            msum [v] = _mm_setzero_si128 ();
        }
        s_scales16 (sc, scale);
    }
    else {
        __m128i packed = s_scale_min128 (block);
        *d = s_half (block);
        *dmin = s_half (block + 2);
        __m128i m = _mm_cvtepu8_epi16 (_mm_srli_si128 (packed, 8));
        for (int v = 0; v < V; v++)
            msum [v] = _mm_madd_epi16 (m, _mm_loadu_si128 ((const __m128i *) (act->s32 + (first + v) * act->groups + b * 8)));
        __m512i bytes = _mm512_broadcast_i32x4 (packed);
        S_UNROLL for (int j = 0; j < 4; j++)
            scale [j] = _mm512_shuffle_epi8 (bytes, s_pick45 (j));
    }
    __m512i odd [4];                 //  two chains a vector
    S_UNROLL for (int v = 0; v < V; v++)
        odd [v] = _mm512_setzero_si512 ();
    S_UNROLL for (int j = 0; j < 4; j++)
        S_UNROLL for (int v = 0; v < V; v++) {
            __m512i xq = _mm512_loadu_si512 (x [v] + 64 * j);
            __m512i *into = j % 2 ? &odd [v] : &isum [v];
            *into = _mm512_dpwssd_epi32 (*into, _mm512_maddubs_epi16 (codes [j], xq), scale [j]);
        }
    S_UNROLL for (int v = 0; v < V; v++)
        isum [v] = _mm512_add_epi32 (isum [v], odd [v]);
}

//  8 lanes: the two halves of 16 added.
S_AVX512 static S_INLINE __m256i
s_fold (__m512i lanes)
{
    return _mm256_add_epi32 (_mm512_castsi512_si256 (lanes), _mm512_extracti64x4_epi64 (lanes, 1));
}

S_AVX512 static S_INLINE void
s_tile_avx512 (const xinf_dtype_t dtype, const s_tile_t *tile, const xinf_qk_act_t *act, size_t first, const int V,
               __m128 *acc)
{
    for (int v = 0; v < V; v++)
        acc [v] = _mm_setzero_ps ();
    for (size_t b = 0; b < act->spans; b++) {
        __m512i isum [S_ROWS][4];
        __m128i msum [S_ROWS][4];
        float d [S_ROWS], dmin [S_ROWS];
        s_prefetch (tile, b);
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            S_UNROLL for (int v = 0; v < V; v++)
                isum [r][v] = _mm512_setzero_si512 ();
            s_block_avx512 (dtype, tile->rows [r] + b * tile->block_bytes, act, first, b, V, isum [r], msum [r],
                            &d [r], &dmin [r]);
        }
        __m128 dv, dminv;
        if (dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K || dtype == XINF_DTYPE_IQ4_XS) {
            dv = _mm_loadu_ps (d);
            dminv = _mm_loadu_ps (dmin);
        }
        else
            s_d4 (dtype, tile, b, &dv, &dminv);
        S_UNROLL for (int v = 0; v < V; v++) {
            __m128i is = s_reduce4 (s_fold (isum [0][v]), s_fold (isum [1][v]), s_fold (isum [2][v]), s_fold (isum [3][v]));
            __m128i ms = s_reduce4x4 (msum [0][v], msum [1][v], msum [2][v], msum [3][v]);
            acc [v] = s_step (acc [v], is, ms, dv, dminv, act->d [(first + v) * act->spans + b]);
        }
    }
}

S_AVX512 static void
s_k_rows_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
                 float *y, size_t y_stride, void *scratch)
{
    for (size_t row = 0; row < count; row += S_ROWS) {
        s_tile_t tile;
        s_tile_at (dtype, w, row_bytes, row, count, &tile);
        if (act->packs)
            xinf_cpu_qk_k_tile_groups_avx512 (dtype, &tile, act, scratch, y + row, y_stride);
        for (size_t j = act->packs * XINF_QK_PACK; j < act->n; j += 4) {
            __m128 acc [4];
            int V = act->n - j < 4 ? (int) (act->n - j) : 4;
            switch (dtype) {
                case XINF_DTYPE_Q4_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q4_K, &tile, act, j, acc) break;
                case XINF_DTYPE_Q5_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q5_K, &tile, act, j, acc) break;
                case XINF_DTYPE_Q2_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q2_K, &tile, act, j, acc) break;
                case XINF_DTYPE_Q3_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q3_K, &tile, act, j, acc) break;
                case XINF_DTYPE_IQ4_XS: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_IQ4_XS, &tile, act, j, acc) break;
                default: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q6_K, &tile, act, j, acc) break;
            }
            for (int v = 0; v < V; v++)
                s_store (acc [v], tile.count, y + (j + v) * y_stride + row);
        }
    }
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx2 (void)
{
    return s_k_rows_avx2;
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx512 (void)
{
    xinf_cpu_qk_k_rows_fn *gfni = xinf_cpu_qk_k_rows_gfni ();
    return gfni && xinf_cpu_has_gfni_vbmi () ? gfni : s_k_rows_avx512;
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx512_plain (void)
{
    return s_k_rows_avx512;
}

#else

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx2 (void)
{
    return NULL;
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx512_plain (void)
{
    return NULL;
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx512 (void)
{
    return NULL;
}

#endif
