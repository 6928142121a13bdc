/*  xinf_cpu_simd_qk_pairs: the rows of the 32-weight types (Q4_0, Q4_1,
    Q5_0, Q5_1, IQ4_NL, MXFP4) of the AVX-512 set on CPUs with VBMI, for
    the vectors past the packed groups (decode and small batches); the
    same bits as every set (xinf_cpu_qk.h says the arithmetic).

    A chunk of 8 blocks of a row is decoded once into unsigned codes:
    the other types' by word permutes (xinf_cpu_simd_qk_split.h), MXFP4's
    by byte permutes out of its 17-byte blocks (they lie at odd bytes),
    as values + 128, its exponent bytes picked for the scales. Two rows
    go together: their four registers of partial sums reduce in one tree
    to 16 block sums, whose float steps run in one register (lane 4b + k:
    k 0 the first row's block b, 1 its block b + 4, 2 and 3 the second
    row's), the vector's d and s loaded once for both. (GPT-OSS-20B's
    shape cut to 4 layers, MXFP4 experts, 2 threads, Zen 4: decode
    1.07-1.13x a row at a time; four rows together spilled registers and
    were slower.)
*/
#include "xinf_cpu_qk.h"
#include "xinf_cpu_cpuid.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <stdlib.h>
#include <string.h>

#include "xinf_cpu_simd_qk_split.h"

#define S_VBMI __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")))

//  How far ahead the weights are prefetched into L2, in bytes.
#define S_FAR 4096

//  The unsigned codes (MXFP4's values + 128, 116..140) of four blocks at
//  'at' in the 128 bytes of low and high: weights 0..15 (lane b: block
//  b) in *first, 16..31 in *second.
S_VBMI static S_INLINE void
s_four_codes (__m512i low, __m512i high, int at, __m512i *first, __m512i *second)
{
    int8_t index [64];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 16; i++)
            index [16 * b + i] = (int8_t) (at + 17 * b + 1 + i);
    static const int8_t values [16] = XINF_MXFP4_VALUES;
    __m512i table = _mm512_xor_si512 (_mm512_broadcast_i32x4 (_mm_loadu_si128 ((const __m128i *) values)),
                                      _mm512_set1_epi8 ((char) 0x80));
    __m512i bytes = _mm512_permutex2var_epi8 (low, _mm512_loadu_si512 (index), high), mask = _mm512_set1_epi8 (15);
    *first = _mm512_shuffle_epi8 (table, _mm512_and_si512 (bytes, mask));
    *second = _mm512_shuffle_epi8 (table, _mm512_and_si512 (_mm512_srli_epi16 (bytes, 4), mask));
}

//  The scales 2^(e - 128) of the 8 blocks (lanes past the chunk's blocks:
//  of zero bytes, which the steps leave out), as xinf_qb_e8m0_half.
S_VBMI static S_INLINE __m256
s_scales (const __m512i *part)
{
    int8_t index [64] = { 0 };
    for (int b = 0; b < 8; b++)
        index [4 * b] = (int8_t) (17 * b);
    __m256i e = _mm256_and_si256 (_mm512_castsi512_si256 (_mm512_permutex2var_epi8 (part [0],
                                                                                      _mm512_loadu_si512 (index),
                                                                                      part [1])),
                                  _mm256_set1_epi32 (0xff));
    __m256i small = _mm256_sllv_epi32 (_mm256_set1_epi32 (0x00200000), e);
    __m256i large = _mm256_slli_epi32 (_mm256_sub_epi32 (e, _mm256_set1_epi32 (1)), 23);
    __m256i which = _mm256_cmpgt_epi32 (_mm256_set1_epi32 (2), e);
    return _mm256_castsi256_ps (_mm256_blendv_epi8 (large, small, which));
}

//  One row's chunk of 'groups' blocks from block 'first': the codes of
//  its blocks 0..3 in fours [0], [1], of 4..7 in fours [2], [3] (zero
//  where absent), its scales and mins (0 but for Q4_1, Q5_1); the row's
//  next chunks prefetched.
S_VBMI static S_INLINE void
s_row_chunk (const xinf_dtype_t dtype, const s_picks_t *picks, const uint8_t *row, size_t first, size_t groups,
             __m512i *fours, __m256 *a, __m256 *c)
{
    const size_t bytes = s_legacy_bytes (dtype);
    const uint8_t *ahead = row + (first + 2 * XINF_QK_LANES) * bytes;
    S_UNROLL for (size_t line = 0; line < XINF_QK_LANES * bytes; line += 64) {
        _mm_prefetch ((const char *) (ahead + line), _MM_HINT_T0);
        _mm_prefetch ((const char *) (ahead + S_FAR + line), _MM_HINT_T1);
    }
    __m512i part [3];
    s_legacy_load (dtype, row + first * bytes, groups, part);
    fours [2] = fours [3] = _mm512_setzero_si512 ();
    if (dtype == XINF_DTYPE_MXFP4) {
        s_four_codes (part [0], part [1], 0, &fours [0], &fours [1]);
        if (groups > 4)
            s_four_codes (part [1], part [2], 68 - 64, &fours [2], &fours [3]);
        *a = s_scales (part);
        *c = _mm256_setzero_ps ();
        return;
    }
    s_codes_four (dtype, part [0], part [1], picks->codes [0], picks->bits [0], &fours [0], &fours [1]);
    if (groups > 4)
        s_codes_four (dtype, part [1], part [2], picks->codes [1], picks->bits [1], &fours [2], &fours [3]);
    s_legacy_scales (dtype, part, a, c);
}

//  The 16 block sums of two rows in the pair's lanes, from the first
//  row's partial sums of blocks 0..3 (a0) and 4..7 (a1), the second's
//  (b0, b1): lane b of each [p0 + p2 of b, of b + 4, p1 + p3 of b, of
//  b + 4] for a row, then the two rows' halves added.
S_VBMI static S_INLINE __m512i
s_pair_reduce (__m512i a0, __m512i a1, __m512i b0, __m512i b1)
{
    __m512i ta = _mm512_add_epi32 (_mm512_unpacklo_epi32 (a0, a1), _mm512_unpackhi_epi32 (a0, a1));
    __m512i tb = _mm512_add_epi32 (_mm512_unpacklo_epi32 (b0, b1), _mm512_unpackhi_epi32 (b0, b1));
    return _mm512_add_epi32 (_mm512_unpacklo_epi64 (ta, tb), _mm512_unpackhi_epi64 (ta, tb));
}

//  The lanes of the pair that hold blocks below 'groups'.
static __mmask16
s_live (size_t groups)
{
    __mmask16 live = 0;
    for (unsigned lane = 0; lane < 16; lane++)
        if (lane / 4 + 4 * (lane % 2) < groups)
            live |= (__mmask16) (1u << lane);
    return live;
}

//  The two rows' steps of one chunk with vector j in the live lanes,
//  lane by lane s_step_v's arithmetic (s_step_no_mins's without mins:
//  the offset of Q4_0, Q5_0, IQ4_NL and MXFP4's codes, 8, 16 or 128,
//  taken off as that many times the group's s).
S_VBMI static S_INLINE __m512
s_pair_step (const xinf_dtype_t dtype, __m512 before, const __m512i fours [2][4], __m512 a, __m512 c,
             __mmask16 live, const xinf_qk_act_t *act, size_t j, size_t first)
{
    const __m512i by_vector = _mm512_setr_epi32 (0, 4, 0, 4, 1, 5, 1, 5, 2, 6, 2, 6, 3, 7, 3, 7);
    const int8_t *split = act->split + (j - act->packs * XINF_QK_PACK) * act->split_stride + first * 64;
    __m512i isum = s_pair_reduce (s_four_sums (fours [0][0], fours [0][1], split),
                                  s_four_sums (fours [0][2], fours [0][3], split + 256),
                                  s_four_sums (fours [1][0], fours [1][1], split),
                                  s_four_sums (fours [1][2], fours [1][3], split + 256));
    __m512i s = _mm512_permutexvar_epi32 (by_vector, _mm512_castsi256_si512 (_mm256_loadu_si256 (
                                              (const __m256i *) (act->s + j * act->groups + first))));
    __m512 d = _mm512_permutexvar_ps (by_vector, _mm512_castps256_ps512 (_mm256_loadu_ps (
                                          act->d + j * act->spans + first)));
    __m512 term;
    if (dtype == XINF_DTYPE_Q4_1 || dtype == XINF_DTYPE_Q5_1) {
        __m512 scaled = _mm512_mul_ps (_mm512_cvtepi32_ps (isum), a);
        term = _mm512_mul_ps (_mm512_add_ps (scaled, _mm512_mul_ps (_mm512_cvtepi32_ps (s), c)), d);
    }
    else {
        const int offset = dtype == XINF_DTYPE_Q4_0 ? 3 : dtype == XINF_DTYPE_Q5_0 ? 4 : 7;
        isum = _mm512_sub_epi32 (isum, _mm512_slli_epi32 (s, offset));
        term = _mm512_mul_ps (_mm512_mul_ps (_mm512_cvtepi32_ps (isum), a), d);
    }
    return _mm512_mask_add_ps (before, live, before, term);
}

//  The two rows' results from their pair lanes, each xinf_qk_lanes of its
//  8 (the same adds in the same order: h_b = l_b + l_b+4 pairs lanes 4b
//  and 4b + 1, then h0 + h2 and h1 + h3 lanes 8 apart, then those two 4
//  apart).
S_VBMI static S_INLINE void
s_pair_results (__m512 lanes, float *first, float *second)
{
    __m512 h = _mm512_add_ps (lanes, _mm512_permute_ps (lanes, 0xb1));
    __m512 p = _mm512_add_ps (h, _mm512_shuffle_f32x4 (h, h, 0x4e));
    __m128 r = _mm512_castps512_ps128 (_mm512_add_ps (p, _mm512_shuffle_f32x4 (p, p, 0xb1)));
    *first = xinf_qk_canonical (_mm_cvtss_f32 (r));
    *second = xinf_qk_canonical (_mm_cvtss_f32 (_mm_movehl_ps (r, r)));
}

//  y of the rows r and r + 1 (where r + 1 < count) for the vectors past
//  the packed groups from their pair lanes in acc (one vector: in lanes).
S_VBMI static S_INLINE void
s_pair_store (__m512 lanes, const float *acc, const xinf_qk_act_t *act, size_t r, size_t count, float *y,
              size_t y_stride)
{
    size_t grouped = act->packs * XINF_QK_PACK;
    for (size_t j = grouped; j < act->n; j++) {
        float first, second;
        s_pair_results (act->n - grouped == 1 ? lanes : _mm512_loadu_ps (acc + (j - grouped) * 16), &first, &second);
        y [j * y_stride + r] = first;
        if (r + 1 < count)
            y [j * y_stride + r + 1] = second;
    }
}

//  The rows two at a time (an odd last one with itself), each chunk's
//  codes decoded once for all the vectors past the packed groups: one
//  vector's lanes stay in a register, several in scratch.
S_VBMI static S_INLINE void
s_pair_rows (const xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
             float *y, size_t y_stride, void *scratch)
{
    const __m512i by_pair = _mm512_setr_epi32 (0, 4, 16, 20, 1, 5, 17, 21, 2, 6, 18, 22, 3, 7, 19, 23);
    const s_picks_t picks = s_legacy_picks (dtype);
    float *acc = (float *) ((uint8_t *) scratch + XINF_QK_SCRATCH);
    size_t blocks = act->groups, grouped = act->packs * XINF_QK_PACK, vectors = act->n - grouped;
    bool one = vectors == 1;
    for (size_t r = 0; r < count; r += 2) {
        const uint8_t *first_row = w + r * row_bytes, *second_row = r + 1 < count ? first_row + row_bytes : first_row;
        __m512 lanes = _mm512_setzero_ps ();
        memset (acc, 0, vectors * 16 * sizeof (float));
        for (size_t first = 0; first < blocks; first += XINF_QK_LANES) {
            size_t groups = blocks - first < XINF_QK_LANES ? blocks - first : XINF_QK_LANES;
            __m512i fours [2][4];
            __m256 a [2], c [2];
            s_row_chunk (dtype, &picks, first_row, first, groups, fours [0], &a [0], &c [0]);
            s_row_chunk (dtype, &picks, second_row, first, groups, fours [1], &a [1], &c [1]);
            __m512 a16 = _mm512_permutex2var_ps (_mm512_castps256_ps512 (a [0]), by_pair,
                                                 _mm512_castps256_ps512 (a [1]));
            __m512 c16 = _mm512_permutex2var_ps (_mm512_castps256_ps512 (c [0]), by_pair,
                                                 _mm512_castps256_ps512 (c [1]));
            __mmask16 live = groups == XINF_QK_LANES ? 0xffff : s_live (groups);
            if (one)
                lanes = s_pair_step (dtype, lanes, fours, a16, c16, live, act, grouped, first);
            else
                for (size_t j = grouped; j < act->n; j++) {
                    float *at = acc + (j - grouped) * 16;
                    _mm512_storeu_ps (at, s_pair_step (dtype, _mm512_loadu_ps (at), fours, a16, c16, live, act, j,
                                                       first));
                }
        }
        s_pair_store (lanes, acc, act, r, count, y, y_stride);
    }
}

//  s_pair_rows of dtype, a constant in each.
S_VBMI static void
s_rows (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act, float *y,
        size_t y_stride, void *scratch)
{
    switch (dtype) {
        case XINF_DTYPE_MXFP4: s_pair_rows (XINF_DTYPE_MXFP4, w, row_bytes, count, act, y, y_stride, scratch); break;
        case XINF_DTYPE_Q4_0: s_pair_rows (XINF_DTYPE_Q4_0, w, row_bytes, count, act, y, y_stride, scratch); break;
        case XINF_DTYPE_Q4_1: s_pair_rows (XINF_DTYPE_Q4_1, w, row_bytes, count, act, y, y_stride, scratch); break;
        case XINF_DTYPE_Q5_0: s_pair_rows (XINF_DTYPE_Q5_0, w, row_bytes, count, act, y, y_stride, scratch); break;
        case XINF_DTYPE_IQ4_NL: s_pair_rows (XINF_DTYPE_IQ4_NL, w, row_bytes, count, act, y, y_stride, scratch); break;
        default: s_pair_rows (XINF_DTYPE_Q5_1, w, row_bytes, count, act, y, y_stride, scratch); break;
    }
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_pairs_vbmi (void)
{
    __builtin_cpu_init ();
    if (!xinf_cpu_has_avx2_set () || !__builtin_cpu_supports ("avx512f") || !__builtin_cpu_supports ("avx512bw")
        || !__builtin_cpu_supports ("avx512vl") || !__builtin_cpu_supports ("avx512vnni")
        || !__builtin_cpu_supports ("avx512vbmi") || getenv ("XINF_CPU_NO_VBMI"))
        return NULL;
    return s_rows;
}

#else

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_pairs_vbmi (void)
{
    return NULL;
}

#endif
