/*  xinf_cpu_simd_qk_group: the AVX-512 (VNNI) products of the 32-weight
    types (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) with whole groups of 16 x vectors
    (prefill, batches), the arithmetic of xinf_cpu_qk.h bit for bit.

    The x vectors of a group come packed (xinf_cpu_qk_pack32): per block
    16 rows of 16 dwords, row k lane j holding q 2k and 2k + 1 of vector j,
    then the 16 vectors' s as floats and their d. A tile of 4 rows is
    decoded once into scratch (int16 weights, a, c of every block); per
    block and row 16 vpdpwssd of a broadcast weight pair with the packed
    rows leave the 16 vectors' exact sums in 16 lanes; the float step
    of the block then runs for the 16 vectors in 16 lanes into the
    accumulator of lane (block mod 8), and the 8 accumulators are summed
    as xinf_qk_lanes sums them.
*/
#include "xinf_cpu_qk.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>
#include <string.h>

#include "xinf_cpu_simd.h"

#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 16")

XINF_SIMD_AVX2_BEGIN
#include "xinf_quant_blocks.h"
XINF_SIMD_AVX2_END

//  Rows a tile.
#define S_ROWS 4

void
xinf_cpu_qk_pack32 (xinf_qk_act_t *act)
{
    for (size_t g = 0; g < act->packs; g++)
        for (size_t b = 0; b < act->groups; b++) {
            uint8_t *out = act->packed + (g * act->groups + b) * XINF_QK_PACKED32_BLOCK;
            for (size_t j = 0; j < XINF_QK_PACK; j++) {
                size_t vector = g * XINF_QK_PACK + j;
                const int16_t *q = act->q + vector * act->cols + b * XINF_QUANT_GROUP;
                float s = (float) act->s [vector * act->groups + b];
                for (int k = 0; k < 16; k++)
                    memcpy (out + 64 * k + 4 * j, q + 2 * k, 4);
                memcpy (out + 1024 + 4 * j, &s, 4);
                memcpy (out + 1088 + 4 * j, act->d + vector * act->spans + b, 4);
            }
        }
}

//  The tile's rows decoded into scratch: weights [row][block][32] int16,
//  then a and c [row][block].
static void
s_decode (xinf_dtype_t dtype, const uint8_t *const *rows, size_t blocks, uint8_t *scratch)
{
    int16_t *q = (int16_t *) scratch;
    float *a = (float *) (scratch + S_ROWS * blocks * 64), *c = a + S_ROWS * blocks;
    for (int r = 0; r < S_ROWS; r++)
        xinf_qb_decode (dtype, rows [r], 0, blocks, q + r * blocks * XINF_QUANT_GROUP, XINF_QUANT_GROUP,
                        a + r * blocks, c + r * blocks, 1);
}

//  The 8 lane accumulators of each of the tile's rows times the packed
//  group; out [r] = xinf_qk_lanes's sum of row r's.
S_AVX512 static void
s_group (const uint8_t *scratch, size_t blocks, const uint8_t *packed, __m512 *out)
{
    const int32_t *pairs = (const int32_t *) scratch;
    const float *a = (const float *) (scratch + S_ROWS * blocks * 64), *c = a + S_ROWS * blocks;
    __m512 acc [S_ROWS][XINF_QK_LANES];
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        S_UNROLL for (int k = 0; k < XINF_QK_LANES; k++)
            acc [r][k] = _mm512_setzero_ps ();
    for (size_t base = 0; base < blocks; base += XINF_QK_LANES) {
        size_t lanes = blocks - base < XINF_QK_LANES ? blocks - base : XINF_QK_LANES;
        S_UNROLL for (size_t k = 0; k < XINF_QK_LANES; k++) {
            if (k == lanes)
                break;
            size_t b = base + k;
            const uint8_t *x = packed + b * XINF_QK_PACKED32_BLOCK;
            __m512i isum [S_ROWS][2];
            S_UNROLL for (int r = 0; r < S_ROWS; r++)
                isum [r][0] = isum [r][1] = _mm512_setzero_si512 ();
            S_UNROLL for (int p = 0; p < 16; p++) {
                __m512i xq = _mm512_load_si512 (x + 64 * p);
                S_UNROLL for (int r = 0; r < S_ROWS; r++)
                    isum [r][p % 2] = _mm512_dpwssd_epi32 (isum [r][p % 2], xq,
                                                           _mm512_set1_epi32 (pairs [(r * blocks + b) * 16 + p]));
            }
            __m512 s = _mm512_load_ps (x + 1024), d = _mm512_load_ps (x + 1088);
            S_UNROLL for (int r = 0; r < S_ROWS; r++) {
                __m512i sum = _mm512_add_epi32 (isum [r][0], isum [r][1]);
                __m512 scaled = _mm512_mul_ps (_mm512_cvtepi32_ps (sum), _mm512_set1_ps (a [r * blocks + b]));
                __m512 mins = _mm512_mul_ps (s, _mm512_set1_ps (c [r * blocks + b]));
                __m512 term = _mm512_mul_ps (_mm512_add_ps (scaled, mins), d);
                acc [r][k] = _mm512_add_ps (acc [r][k], term);
            }
        }
    }
    S_UNROLL for (int r = 0; r < S_ROWS; r++) {
        __m512 h0 = _mm512_add_ps (acc [r][0], acc [r][4]), h1 = _mm512_add_ps (acc [r][1], acc [r][5]);
        __m512 h2 = _mm512_add_ps (acc [r][2], acc [r][6]), h3 = _mm512_add_ps (acc [r][3], acc [r][7]);
        out [r] = _mm512_add_ps (_mm512_add_ps (h0, h2), _mm512_add_ps (h1, h3));
    }
}

S_AVX512 void
xinf_cpu_qk_groups32_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                             const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch)
{
    for (size_t row = 0; row < count; row += S_ROWS) {
        size_t live = count - row < S_ROWS ? count - row : S_ROWS;
        const uint8_t *rows [S_ROWS];
        for (size_t r = 0; r < S_ROWS; r++)
            rows [r] = w + (row + (r < live ? r : live - 1)) * row_bytes;
        s_decode (dtype, rows, act->groups, scratch);
        for (size_t g = 0; g < act->packs; g++) {
            __m512 out [S_ROWS];
            s_group (scratch, act->groups, act->packed + g * act->groups * XINF_QK_PACKED32_BLOCK, out);
            for (size_t r = 0; r < live; r++) {
                float lanes [16];
                _mm512_storeu_ps (lanes, out [r]);
                for (int j = 0; j < 16; j++)
                    y [(g * XINF_QK_PACK + j) * y_stride + row + r] = xinf_qk_canonical (lanes [j]);
            }
        }
    }
}

#else

void
xinf_cpu_qk_pack32 (xinf_qk_act_t *act)
{
    (void) act;
}

void
xinf_cpu_qk_groups32_avx512 (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count,
                             const xinf_qk_act_t *act, float *y, size_t y_stride, void *scratch)
{
    (void) dtype, (void) w, (void) row_bytes, (void) count, (void) act, (void) y, (void) y_stride, (void) scratch;
}

#endif
