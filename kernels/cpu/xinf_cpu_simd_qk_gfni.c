/*  xinf_cpu_simd_qk_gfni: the AVX-512 k_rows of Q4_K, Q5_K and Q6_K for
    CPUs with GFNI and VBMI (Ice Lake, Zen 4 and later), the same bits as
    xinf_cpu_simd_qk_k.c's (xinf_cpu_qk.h says the arithmetic).

    Per block and row the unsigned codes are unpacked in order, 64 a
    register, by one gf2p8affine a nibble or bit field of 32 bytes
    broadcast into both halves (Q6_K's low nibbles by a vpternlog with
    the high bits). Each register meets x by vpdpbusd into dword sums
    (|sum| <= 4 * 63 * 127 < 2^15); two registers' sums are packed into
    int16 (exact) and meet the scales (vpermb of the block's scale bytes)
    in one vpdpwssd. The four rows' isum and msum (the mins of four rows
    times s32 in one vpmaddwd) are reduced by one tree of 128-bit lane
    shuffles into 8 lanes, where the float step of the block runs. The
    packed groups of 16 vectors, Q2_K and Q3_K go as in
    xinf_cpu_simd_qk_k.c. (In-process alternation against the kernel
    without GFNI, 1 thread, Zen 4, L2-resident 256x2048: Q4_K 1.11x,
    Q5_K 1.24x, Q6_K 1.12x. A pass of 8 rows for one vector, its 16 sums
    in one tree, was faster there (Q6_K 1.25x) but 10-30% slower in the
    decode of the 1B Q4_K_M file, so it is not here.)
*/
#include "xinf_cpu_qk.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include "xinf_cpu_simd_qk_tile.h"

#define S_GFNI __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,gfni,avx2,fma,f16c")))

//  The gf2p8affine matrix (for every byte) that moves bits [from, from +
//  n) to [to, to + n) and clears the others: output bit i is the parity
//  of the input byte and matrix byte 7 - i.
static S_INLINE uint64_t
s_gf_move (int from, int to, int n)
{
    uint64_t matrix = 0;
    for (int i = 0; i < n; i++)
        matrix |= (uint64_t) (1u << (from + i)) << (8 * (7 - (to + i)));
    return matrix;
}

//  Matrix 'low' in the lower 256 bits, 'high' in the upper.
S_GFNI static S_INLINE __m512i
s_gf_halves (uint64_t low, uint64_t high)
{
    return _mm512_set_epi64 ((long long) high, (long long) high, (long long) high, (long long) high,
                             (long long) low, (long long) low, (long long) low, (long long) low);
}

//  32 bytes in both halves, each byte through matrix 'low' (lower half)
//  or 'high' (upper half).
S_GFNI static S_INLINE __m512i
s_gf_bytes (const uint8_t *bytes, uint64_t low, uint64_t high)
{
    __m512i both = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) bytes));
    return _mm512_gf2p8affine_epi64_epi8 (both, s_gf_halves (low, high), 0);
}

//  The vpermb control of 8 qwords: qword k picks 'pick [k]' in its four
//  words (byte pairs).
S_GFNI static S_INLINE __m512i
s_pick_words (const int *pick)
{
    long long word [8];
    for (int k = 0; k < 8; k++)
        word [k] = (long long) (0x0001000100010001ull * (uint64_t) pick [k]);
    return _mm512_set_epi64 (word [7], word [6], word [5], word [4], word [3], word [2], word [1], word [0]);
}

//  The codes of a Q4_K / Q5_K / Q6_K block in order, 64 a register, by
//  gf2p8affine (one instruction a nibble or bit field).
S_GFNI static S_INLINE void
s_codes_gfni (const xinf_dtype_t dtype, const uint8_t *block, __m512i *codes)
{
    if (dtype == XINF_DTYPE_Q6_K) {
        S_UNROLL for (int j = 0; j < 4; j++) {
            int h = j / 2, kk = j % 2;
            __m512i ql = _mm512_loadu_si512 (block + 64 * h);
            __m512i top = s_gf_bytes (block + 128 + 32 * h, s_gf_move (4 * kk, 4, 2), s_gf_move (4 * kk + 2, 4, 2));
            if (kk)
                codes [j] = _mm512_or_si512 (_mm512_gf2p8affine_epi64_epi8 (ql, _mm512_set1_epi64 ((long long) s_gf_move (4, 0, 4)), 0), top);
            else   //  (ql & 15) | top
                codes [j] = _mm512_ternarylogic_epi32 (ql, top, _mm512_set1_epi8 (15), 0xec);
        }
        return;
    }
    const bool five = dtype == XINF_DTYPE_Q5_K;
    const uint8_t *qs = block + (five ? 48 : 16);
    S_UNROLL for (int j = 0; j < 4; j++) {
        codes [j] = s_gf_bytes (qs + 32 * j, s_gf_move (0, 0, 4), s_gf_move (4, 0, 4));
        if (five)
            codes [j] = _mm512_or_si512 (codes [j], s_gf_bytes (block + 16, s_gf_move (2 * j, 4, 1), s_gf_move (2 * j + 1, 4, 1)));
    }
}

//  The int16 scales that meet the two packs of a block's four registers'
//  dword sums (packs_epi32 of registers 0, 1 and of 2, 3: in 128-bit lane
//  L, words 0..3 from the first register's lane L, 4..7 from the
//  second's). Q4_K / Q5_K: register j's lanes 0, 1 are sub-block 2j, 2, 3
//  sub-block 2j + 1; Q6_K: lane L of register j is group of 16 4j + L.
//  Q4_K / Q5_K also their mins as int16 and the block's first 16 bytes
//  (d, dmin in dword 0).
S_GFNI static S_INLINE void
s_scales_gfni (const xinf_dtype_t dtype, const uint8_t *block, __m512i *scale, __m128i *mins, __m128i *head)
{
    if (dtype == XINF_DTYPE_Q6_K) {
        static const int pick [2][8] = { { 0, 4, 1, 5, 2, 6, 3, 7 }, { 8, 12, 9, 13, 10, 14, 11, 15 } };
        __m256i sc = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (block + 192)));
        __m512i words = _mm512_castsi256_si512 (sc);
        S_UNROLL for (int p = 0; p < 2; p++) {
            int bytes [8];
            for (int k = 0; k < 8; k++)
                bytes [k] = 2 * pick [p][k] | (2 * pick [p][k] + 1) << 8;
            scale [p] = _mm512_permutexvar_epi8 (s_pick_words (bytes), words);
        }
        *mins = *head = _mm_setzero_si128 ();
        return;
    }
    static const int pick [2][8] = { { 0, 2, 0, 2, 1, 3, 1, 3 }, { 4, 6, 4, 6, 5, 7, 5, 7 } };
    //  s_scale_min128 from the block's start: words w0, w1, w2 in dwords 1..3
    __m128i words = _mm_loadu_si128 ((const __m128i *) block);
    __m128i low = _mm_srlv_epi32 (_mm_shuffle_epi32 (words, _MM_SHUFFLE (3, 2, 3, 1)), _mm_setr_epi32 (0, 0, 0, 4));
    low = _mm_and_si128 (low, _mm_setr_epi32 (0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i high = _mm_srli_epi32 (_mm_shuffle_epi32 (words, _MM_SHUFFLE (2, 2, 1, 1)), 2);
    high = _mm_and_si128 (high, _mm_setr_epi32 (0, 0x30303030, 0, 0x30303030));
    __m128i packed = _mm_or_si128 (low, high);
    __m512i bytes = _mm512_castsi128_si512 (packed);
    S_UNROLL for (int p = 0; p < 2; p++)
        scale [p] = _mm512_maskz_permutexvar_epi8 (0x5555555555555555ull, s_pick_words (pick [p]), bytes);
    *mins = _mm_cvtepu8_epi16 (_mm_srli_si128 (packed, 8));
    *head = words;
}

//  Row r's block b: per vector the codes times x by vpdpbusd into dword
//  sums (|sum| <= 4 * 63 * 127 < 2^15), two registers' sums packed into
//  int16 (exact), times the scales by vpdpwssd, into isum [v]; Q6_K's
//  offset off as in s_block_avx512.
S_GFNI static S_INLINE void
s_block_gfni (const xinf_dtype_t dtype, const uint8_t *block, const xinf_qk_act_t *act, size_t first, size_t b,
              const int V, __m512i *isum, __m128i *mins, __m128i *head)
{
    __m512i codes [4], scale [2];
    s_codes_gfni (dtype, block, codes);
    s_scales_gfni (dtype, block, scale, mins, head);
    S_UNROLL for (int v = 0; v < V; v++) {
        const int8_t *x = act->q8 + (first + v) * act->cols + b * 256;
        if (dtype == XINF_DTYPE_Q6_K) {
            __m256i bias = _mm256_slli_epi16 (_mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (block + 192))), 5);
            __m256i sums = _mm256_loadu_si256 ((const __m256i *) (act->s16 + ((first + v) * act->cols + b * 256) / 16));
            isum [v] = _mm512_sub_epi32 (isum [v], _mm512_zextsi256_si512 (_mm256_madd_epi16 (bias, sums)));
        }
        __m512i d [4];
        S_UNROLL for (int j = 0; j < 4; j++)
            d [j] = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), codes [j], _mm512_loadu_si512 (x + 64 * j));
        __m512i odd = _mm512_dpwssd_epi32 (_mm512_setzero_si512 (), _mm512_packs_epi32 (d [2], d [3]), scale [1]);
        isum [v] = _mm512_dpwssd_epi32 (isum [v], _mm512_packs_epi32 (d [0], d [1]), scale [0]);
        isum [v] = _mm512_add_epi32 (isum [v], odd);
    }
}

//  The four rows' sums of a block in 8 lanes: isum of row r in lane r,
//  msum in lane 4 + r, from isum [r] (16 lanes) and ms (128-bit lane r:
//  row r's 4 mins products), by one tree of 128-bit lane shuffles.
S_GFNI static S_INLINE __m256i
s_sums8 (const __m512i *isum, __m512i ms)
{
    __m512i a = _mm512_add_epi32 (_mm512_shuffle_i32x4 (isum [0], isum [1], _MM_SHUFFLE (1, 0, 1, 0)),
                                  _mm512_shuffle_i32x4 (isum [0], isum [1], _MM_SHUFFLE (3, 2, 3, 2)));
    __m512i c = _mm512_add_epi32 (_mm512_shuffle_i32x4 (isum [2], isum [3], _MM_SHUFFLE (1, 0, 1, 0)),
                                  _mm512_shuffle_i32x4 (isum [2], isum [3], _MM_SHUFFLE (3, 2, 3, 2)));
    __m512i rows = _mm512_add_epi32 (_mm512_shuffle_i32x4 (a, c, _MM_SHUFFLE (2, 0, 2, 0)),
                                     _mm512_shuffle_i32x4 (a, c, _MM_SHUFFLE (3, 1, 3, 1)));
    __m512i t = _mm512_add_epi32 (_mm512_unpacklo_epi32 (rows, ms), _mm512_unpackhi_epi32 (rows, ms));
    t = _mm512_add_epi32 (t, _mm512_shuffle_epi32 (t, (_MM_PERM_ENUM) _MM_SHUFFLE (1, 0, 3, 2)));
    return _mm512_castsi512_si256 (_mm512_permutexvar_epi32 (_mm512_setr_epi32 (0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0), t));
}

//  d of the four rows in lanes 0..3, dmin in 4..7: Q4_K / Q5_K from the
//  blocks' first dwords (head [r]), Q6_K by s_d4.
S_GFNI static S_INLINE __m256
s_dd8 (const xinf_dtype_t dtype, const s_tile_t *tile, size_t b, const __m128i *head)
{
    if (dtype == XINF_DTYPE_Q6_K) {
        __m128 d, dmin;
        s_d4 (dtype, tile, b, &d, &dmin);
        return _mm256_zextps128_ps256 (d);
    }
    __m128i words = _mm_unpacklo_epi64 (_mm_unpacklo_epi32 (head [0], head [1]), _mm_unpacklo_epi32 (head [2], head [3]));
    words = _mm_shuffle_epi8 (words, _mm_setr_epi8 (0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15));
    return _mm256_cvtph_ps (words);
}

//  The float step of block b for V vectors (xinf_qk_k_step in 8 lanes:
//  u = (float) isum * (d * dx) in lanes 0..3, v likewise in 4..7).
S_GFNI static S_INLINE void
s_steps_gfni (const xinf_dtype_t dtype, const s_tile_t *tile, const xinf_qk_act_t *act, size_t first, size_t b,
              const int V, __m512i isum [][S_ROWS], const __m128i *mins, const __m128i *head, __m128 *acc)
{
    __m256 dd = s_dd8 (dtype, tile, b, head);
    __m512i m4 = _mm512_inserti32x4 (_mm512_inserti32x4 (_mm512_inserti32x4 (_mm512_castsi128_si512 (mins [0]), mins [1], 1),
                                                         mins [2], 2), mins [3], 3);
    S_UNROLL for (int v = 0; v < V; v++) {
        __m512i ms = _mm512_setzero_si512 ();
        if (dtype != XINF_DTYPE_Q6_K) {
            const int16_t *s32 = act->s32 + (first + v) * act->groups + b * 8;
            ms = _mm512_madd_epi16 (m4, _mm512_broadcast_i32x4 (_mm_loadu_si128 ((const __m128i *) s32)));
        }
        __m256 scale = _mm256_mul_ps (dd, _mm256_set1_ps (act->d [(first + v) * act->spans + b]));
        __m256 p = _mm256_mul_ps (_mm256_cvtepi32_ps (s_sums8 (isum [v], ms)), scale);
        acc [v] = _mm_add_ps (acc [v], _mm_sub_ps (_mm256_castps256_ps128 (p), _mm256_extractf128_ps (p, 1)));
    }
}

//  The tile times V vectors from 'first': acc [v] lane r = row r . x.
S_GFNI static S_INLINE void
s_tile_gfni (const xinf_dtype_t dtype, const s_tile_t *tile, const xinf_qk_act_t *act, size_t first, const int V,
             __m128 *acc)
{
    for (int v = 0; v < V; v++)
        acc [v] = _mm_setzero_ps ();
    for (size_t b = 0; b < act->spans; b++) {
        __m512i isum [4][S_ROWS];
        __m128i mins [S_ROWS], head [S_ROWS];
        s_prefetch (tile, b);
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            __m512i sums [4];
            S_UNROLL for (int v = 0; v < V; v++)
                sums [v] = _mm512_setzero_si512 ();
            s_block_gfni (dtype, tile->rows [r] + b * tile->block_bytes, act, first, b, V, sums, &mins [r], &head [r]);
            S_UNROLL for (int v = 0; v < V; v++)
                isum [v][r] = sums [v];
        }
        s_steps_gfni (dtype, tile, act, first, b, V, isum, mins, head, acc);
    }
}

S_GFNI static void
s_k_rows_gfni (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t count, const xinf_qk_act_t *act,
               float *y, size_t y_stride, void *scratch)
{
    if (dtype == XINF_DTYPE_Q2_K || dtype == XINF_DTYPE_Q3_K || dtype == XINF_DTYPE_IQ4_XS) {
        xinf_cpu_qk_k_rows_avx512_plain () (dtype, w, row_bytes, count, act, y, y_stride, scratch);
        return;
    }
    if (act->packs)
        xinf_cpu_qk_k_groups_avx512 (dtype, w, row_bytes, count, act, y, y_stride, scratch);
    for (size_t row = 0; row < count; row += S_ROWS) {
        s_tile_t tile;
        s_tile_at (dtype, w, row_bytes, row, count, &tile);
        for (size_t j = act->packs * XINF_QK_PACK; j < act->n; j += 4) {
            __m128 acc [4];
            int V = act->n - j < 4 ? (int) (act->n - j) : 4;
            switch (dtype) {
                case XINF_DTYPE_Q4_K: S_TILE_CASES4 (s_tile_gfni, XINF_DTYPE_Q4_K, &tile, act, j, acc) break;
                case XINF_DTYPE_Q5_K: S_TILE_CASES4 (s_tile_gfni, XINF_DTYPE_Q5_K, &tile, act, j, acc) break;
                default: S_TILE_CASES4 (s_tile_gfni, XINF_DTYPE_Q6_K, &tile, act, j, acc) break;
            }
            for (int v = 0; v < V; v++)
                s_store (acc [v], tile.count, y + (j + v) * y_stride + row);
        }
    }
}

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_gfni (void)
{
    return s_k_rows_gfni;
}

#else

xinf_cpu_qk_k_rows_fn *
xinf_cpu_qk_k_rows_gfni (void)
{
    return NULL;
}

#endif
