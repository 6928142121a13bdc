/*  xinf_cpu_simd_qk_kgroups: the AVX-512 (VNNI) products of the K types
    with whole groups of 16 x vectors (prefill, batches), the arithmetic
    of xinf_cpu_qk.h bit for bit: a tile of 4 rows decoded once into
    scratch (the unsigned codes in order, the scales and the pairs that
    meet the vectors' packed sums), then per block and row vpdpbusd of a
    broadcast dword of codes against the 16 vectors' packed bytes, the
    sums times each sub-block's scale, the offsets and mins off with
    vpdpwssd, and the block's float step for the 16 vectors in 16 lanes.
*/
#include "xinf_cpu_qk.h"
#include "xinf_cpu_cpuid.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include "xinf_cpu_simd_qk_kcodes.h"

//  A decoded block of a row in scratch: its codes in order (256 bytes,
//  [row][block]), and after all the codes its S_META bytes: the scales
//  as int32 (8; Q6_K, Q2_K, Q3_K 16), the int16 pairs that meet act's
//  packed sums (mins 2p, 2p + 1 (Q2_K's meet s16); Q6_K: -32 sc 2p,
//  2p + 1; Q3_K: -4 (sc - 32); IQ4_XS: -128 (ls - 32), meeting s32), d
//  and dmin.
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
            if (dtype == XINF_DTYPE_IQ4_XS) {
                for (int g = 0; g < 8; g++)
                    m->scales [g] = s_iq4_scale (block, g);
                for (int p = 0; p < 4; p++)
                    m->pairs [p] = (int32_t) (((uint32_t) (uint16_t) (-128 * m->scales [2 * p]))
                                              | ((uint32_t) (uint16_t) (-128 * m->scales [2 * p + 1]) << 16));
                m->d = s_half (block);
                m->dmin = 0;
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
    const bool six = dtype == XINF_DTYPE_Q6_K, two = dtype == XINF_DTYPE_Q2_K, iq4 = dtype == XINF_DTYPE_IQ4_XS;
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
        if (iq4)
            S_UNROLL for (int p = 0; p < 4; p++) {
                __m512i sums = _mm512_load_si512 (packed + XINF_QK_PACK_S32 + 64 * p);
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

S_AVX512 void
xinf_cpu_qk_k_tile_groups_avx512 (xinf_dtype_t dtype, const s_tile_t *tile, const xinf_qk_act_t *act,
                                  uint8_t *scratch, float *y, size_t y_stride)
{
    s_tile_decode (dtype, tile, act->spans, scratch);
    for (size_t g = 0; g < act->packs; g++) {
        __m512 acc [S_ROWS];
        const uint8_t *packed = act->packed + g * act->spans * XINF_QK_PACKED_BLOCK;
        switch (dtype) {
            case XINF_DTYPE_Q4_K:
            case XINF_DTYPE_Q5_K: s_tile_group (XINF_DTYPE_Q4_K, scratch, act->spans, packed, acc, g ? NULL : tile); break;
            case XINF_DTYPE_Q2_K: s_tile_group (XINF_DTYPE_Q2_K, scratch, act->spans, packed, acc, g ? NULL : tile); break;
            case XINF_DTYPE_IQ4_XS: s_tile_group (XINF_DTYPE_IQ4_XS, scratch, act->spans, packed, acc, g ? NULL : tile); break;
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
        xinf_cpu_qk_k_tile_groups_avx512 (dtype, &tile, act, scratch, y + row, y_stride);
    }
}

#else

void
xinf_cpu_qk_k_groups_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                             const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch)
{
    (void) dtype, (void) w, (void) row_bytes, (void) count, (void) act, (void) y, (void) y_stride, (void) scratch;
}

#endif
