/*  xinf_cpu_simd_qk_k: the AVX2 and AVX-512 (VNNI) k_rows of the K types
    (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K) with 8-bit activations (xinf_cpu_qk.h
    says the arithmetic, which both repeat bit for bit).

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
    (vpmaddwd). The four rows' lanes are then summed by one
    tree of adds and hadds into four int32, and the float step of the
    block runs for the four rows in four lanes.
*/
#include "xinf_cpu_qk.h"
#include "xinf_cpu_cpuid.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

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

//  32 bytes in both halves, the upper half shifted right by 'shift' bits
//  (per 16-bit lane).
S_AVX512 static S_INLINE __m512i
s_halves (const uint8_t *bytes, int low_shift, int high_shift)
{
    __m512i both = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) bytes));
    __m512i shifts = _mm512_inserti64x4 (_mm512_set1_epi16 ((short) low_shift), _mm256_set1_epi16 ((short) high_shift), 1);
    return _mm512_srlv_epi16 (both, shifts);
}

//  The unsigned codes of a block in order, 64 a register.
S_AVX512 static S_INLINE void
s_codes512 (const xinf_dtype_t dtype, const uint8_t *block, __m512i *codes)
{
    __m512i low4 = _mm512_set1_epi8 (15);
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

//  Row r's block b (as s_block_avx2) in 16-lane sums.
S_AVX512 static S_INLINE void
s_block_avx512 (const xinf_dtype_t dtype, const uint8_t *block, const xinf_qk_act_t *act, size_t first, size_t b,
                const int V, __m512i *isum, __m128i *msum, float *d, float *dmin)
{
    __m512i codes [4], scale [4];
    const int8_t *x [4];
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
        if (dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K) {
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

//  ---- AVX-512, whole groups of 16 vectors ----------------------------------------

//  A decoded block of a row in scratch: its codes in order (256 bytes,
//  [row][block]), and after all the codes its S_META bytes: the scales
//  as int32 (8; Q6_K, Q2_K, Q3_K 16), the int16 pairs that meet act's
//  packed sums (mins 2p, 2p + 1 (Q2_K's meet s16); Q6_K: -32 sc 2p,
//  2p + 1; Q3_K: -4 (sc - 32)), d and dmin.
#define S_META 128
typedef struct {
    int32_t scales [16];
    int32_t pairs [8];
    float d, dmin;
} s_meta_t;

//  The tile's blocks decoded into scratch.
S_AVX512 static void
s_tile_decode (const xinf_dtype_t dtype, const s_tile_t *tile, size_t spans, uint8_t *scratch)
{
    uint8_t *meta = scratch + S_ROWS * spans * 256;
    for (int r = 0; r < S_ROWS; r++)
        for (size_t b = 0; b < spans; b++) {
            const uint8_t *block = tile->rows [r] + b * tile->block_bytes;
            __m512i codes [4];
            s_codes512 (dtype, block, codes);
            uint8_t *out = scratch + (r * spans + b) * 256;
            for (int j = 0; j < 4; j++)
                _mm512_store_si512 (out + 64 * j, codes [j]);
            s_meta_t *m = (s_meta_t *) (meta + (r * spans + b) * S_META);
            if (dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K) {
                int16_t scales [16], mins [16];
                __m256i sc, mn;
                s_scales23 (dtype, block, &sc, &mn, &m->d, &m->dmin);
                if (dtype == XINF_DTYPE_Q3_K)
                    mn = _mm256_sub_epi16 (_mm256_setzero_si256 (), mn);
                _mm256_storeu_si256 ((__m256i *) scales, sc);
                _mm256_storeu_si256 ((__m256i *) mins, mn);
                for (int k = 0; k < 16; k++)
                    m->scales [k] = scales [k];
                for (int p = 0; p < 8; p++)
                    m->pairs [p] = (int32_t) ((uint32_t) (uint16_t) mins [2 * p] | (uint32_t) (uint16_t) mins [2 * p + 1] << 16);
            }
            else
            if (dtype == XINF_DTYPE_Q6_K) {
                const int8_t *sc = (const int8_t *) (block + 192);
                for (int k = 0; k < 16; k++)
                    m->scales [k] = sc [k];
                for (int p = 0; p < 8; p++)
                    m->pairs [p] = (int32_t) (((uint32_t) (uint16_t) (-32 * sc [2 * p])) | ((uint32_t) (uint16_t) (-32 * sc [2 * p + 1]) << 16));
                m->d = s_half (block + 208);
                m->dmin = 0;
            }
            else {
                uint8_t scales [8], mins [8];
                s_scale_min (block, scales, mins);
                for (int k = 0; k < 8; k++)
                    m->scales [k] = scales [k];
                for (int p = 0; p < 4; p++)
                    m->pairs [p] = (int32_t) ((uint32_t) mins [2 * p] | (uint32_t) mins [2 * p + 1] << 16);
                m->d = s_half (block);
                m->dmin = s_half (block + 2);
            }
        }
}

//  The tile's rows times the 16 vectors of packed group 'packed': acc [r]
//  lane j = row r . x [j].
S_AVX512 static S_INLINE void
s_tile_group (const xinf_dtype_t dtype, const uint8_t *scratch, size_t spans, const uint8_t *packed, __m512 *acc,
              const s_tile_t *ahead)
{
    const bool six = dtype == XINF_DTYPE_Q6_K, two = dtype == XINF_DTYPE_Q2_K;
    const int per = six || two ? 4 : 8;  //  dwords a scale covers
    const uint8_t *meta = scratch + S_ROWS * spans * 256;
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        acc [r] = _mm512_setzero_ps ();
    for (size_t b = 0; b < spans; b++, packed += XINF_QK_PACKED_BLOCK) {
        const int32_t *codes [S_ROWS];
        const s_meta_t *m [S_ROWS];
        __m512i isum [S_ROWS], msum [S_ROWS];
        if (ahead)
            s_prefetch (ahead, b);
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            codes [r] = (const int32_t *) (scratch + (r * spans + b) * 256);
            m [r] = (const s_meta_t *) (meta + (r * spans + b) * S_META);
            isum [r] = _mm512_setzero_si512 ();
            msum [r] = _mm512_setzero_si512 ();
        }
        for (int sub = 0; sub < 64 / per; sub++) {
            __m512i t [2][S_ROWS];           //  two chains a row
            S_UNROLL for (int r = 0; r < S_ROWS; r++)
                t [0][r] = t [1][r] = _mm512_setzero_si512 ();
            S_UNROLL for (int k = 0; k < per; k++) {
                __m512i xq = _mm512_load_si512 (packed + XINF_QK_PACK_XQ + 64 * (sub * per + k));
                S_UNROLL for (int r = 0; r < S_ROWS; r++)
                    t [k % 2][r] = _mm512_dpbusd_epi32 (t [k % 2][r], _mm512_set1_epi32 (codes [r][sub * per + k]), xq);
            }
            S_UNROLL for (int r = 0; r < S_ROWS; r++) {
                __m512i sum = _mm512_add_epi32 (t [0][r], t [1][r]);
                isum [r] = _mm512_add_epi32 (isum [r], _mm512_mullo_epi32 (sum, _mm512_set1_epi32 (m [r]->scales [sub])));
            }
        }
        if (six)
            S_UNROLL for (int p = 0; p < 8; p++) {
                __m512i sums = _mm512_load_si512 (packed + XINF_QK_PACK_S16 + 64 * p);
                S_UNROLL for (int r = 0; r < S_ROWS; r++)
                    isum [r] = _mm512_dpwssd_epi32 (isum [r], sums, _mm512_set1_epi32 (m [r]->pairs [p]));
            }
        else
        if (two)
            S_UNROLL for (int p = 0; p < 8; p++) {
                __m512i sums = _mm512_load_si512 (packed + XINF_QK_PACK_S16 + 64 * p);
                S_UNROLL for (int r = 0; r < S_ROWS; r++)
                    msum [r] = _mm512_dpwssd_epi32 (msum [r], sums, _mm512_set1_epi32 (m [r]->pairs [p]));
            }
        else
            S_UNROLL for (int p = 0; p < 4; p++) {
                __m512i sums = _mm512_load_si512 (packed + XINF_QK_PACK_S32 + 64 * p);
                S_UNROLL for (int r = 0; r < S_ROWS; r++)
                    msum [r] = _mm512_dpwssd_epi32 (msum [r], sums, _mm512_set1_epi32 (m [r]->pairs [p]));
            }
        __m512 dx = _mm512_load_ps (packed + XINF_QK_PACK_D);
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            __m512 u = _mm512_mul_ps (_mm512_cvtepi32_ps (isum [r]), _mm512_mul_ps (_mm512_set1_ps (m [r]->d), dx));
            __m512 v = _mm512_mul_ps (_mm512_cvtepi32_ps (msum [r]), _mm512_mul_ps (_mm512_set1_ps (m [r]->dmin), dx));
            acc [r] = _mm512_add_ps (acc [r], _mm512_sub_ps (u, v));
        }
    }
}

//  The tile times every whole packed group of act.
S_AVX512 static void
s_tile_groups (xinf_dtype_t dtype, const s_tile_t *tile, const xinf_qk_act_t *act, uint8_t *scratch, float *y,
               size_t y_stride)
{
    s_tile_decode (dtype, tile, act->spans, scratch);
    for (size_t g = 0; g < act->packs; g++) {
        __m512 acc [S_ROWS];
        const uint8_t *packed = act->packed + g * act->spans * XINF_QK_PACKED_BLOCK;
        switch (dtype) {
            case XINF_DTYPE_Q4_K:
            case XINF_DTYPE_Q5_K: s_tile_group (XINF_DTYPE_Q4_K, scratch, act->spans, packed, acc, g ? NULL : tile); break;
            case XINF_DTYPE_Q2_K: s_tile_group (XINF_DTYPE_Q2_K, scratch, act->spans, packed, acc, g ? NULL : tile); break;
            default: s_tile_group (XINF_DTYPE_Q6_K, scratch, act->spans, packed, acc, g ? NULL : tile); break;
        }
        for (size_t r = 0; r < tile->count; r++) {
            float lanes [16];
            _mm512_storeu_ps (lanes, acc [r]);
            for (int j = 0; j < 16; j++)
                y [(g * XINF_QK_PACK + j) * y_stride + r] = xinf_qk_canonical (lanes [j]);
        }
    }
}

void
xinf_cpu_qk_k_groups_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                             const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch)
{
    for (size_t row = 0; row < count; row += S_ROWS) {
        s_tile_t tile;
        s_tile_at (dtype, w, row_bytes, row, count, &tile);
        s_tile_groups (dtype, &tile, act, scratch, y + row, y_stride);
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
            s_tile_groups (dtype, &tile, act, scratch, y + row, y_stride);
        for (size_t j = act->packs * XINF_QK_PACK; j < act->n; j += 4) {
            __m128 acc [4];
            int V = act->n - j < 4 ? (int) (act->n - j) : 4;
            switch (dtype) {
                case XINF_DTYPE_Q4_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q4_K, &tile, act, j, acc) break;
                case XINF_DTYPE_Q5_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q5_K, &tile, act, j, acc) break;
                case XINF_DTYPE_Q2_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q2_K, &tile, act, j, acc) break;
                case XINF_DTYPE_Q3_K: S_TILE_CASES4 (s_tile_avx512, XINF_DTYPE_Q3_K, &tile, act, j, acc) break;
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

void
xinf_cpu_qk_k_groups_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                             const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch)
{
    (void) dtype, (void) w, (void) row_bytes, (void) count, (void) act, (void) y, (void) y_stride, (void) scratch;
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_avx512 (void)
{
    return NULL;
}

#endif
