/*  xinf_cpu_simd_q8: the AVX2 and AVX-512 kernel sets of Q8_0 products
    with 8-bit activations (xinf_cpu_q8_act.h says the arithmetic, which
    both repeat bit for bit).

    Quantizer (both sets): 8 floats an instruction, the portable
    quantizer's operations (an integer max of |x|'s bits, a float
    division, round half to even, a clamp).

    One vector, 8 rows a tile: per block and row the exact block sum of
    the integer products in 8 int32 lanes (AVX2: |w| times x with w's
    sign, maddubs then madd with ones; AVX-512: vpdpbusd of the weights
    offset to unsigned, w ^ 0x80 = w + 128, with x, the accumulator
    starting at -128 sum (x) in one lane), the 8 rows' lanes summed by a
    tree of hadds into one vector of 8 rows' block sums, then the float
    step for the 8 rows in 8 lanes. The rows' fp16 scales are gathered a
    run of 16 blocks at a time.

    AVX-512, whole groups of 16 vectors: the quantizer also writes each
    group transposed, per block 8 vectors of int32 lanes, lane j holding
    bytes 4k .. 4k+3 of vector j, with the group's 16 scales and
    -128 sum (q). A tile of 8 rows is made unsigned (w ^ 0x80) once into
    scratch; per block and row, 8 vpdpbusd of a broadcast weight dword
    with the 8 x vectors leave the 16 vectors' exact block sums in 16
    lanes, no horizontal sums. Vectors past the last whole group go one
    at a time as above.
*/
#include "xinf_cpu_q8_act.h"

#if defined (__x86_64__) && defined (__GNUC__)

#include <immintrin.h>
#include <string.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 8")

#define S_BLOCK XINF_Q8_0_BLOCK_SIZE
#define S_BYTES XINF_Q8_0_BLOCK_BYTES

//  Rows a tile.
#define S_ROWS 8

//  Blocks whose scales are gathered at a time.
#define S_RUN 16

//  Bytes of a packed group's block: 8 x 16 dwords of q, 16 scales, 16
//  corrections.
#define S_PACKED_BLOCK (512 + 64 + 64)

//  ---- the quantizer ---------------------------------------------------------------

//  One block: the portable quantizer's arithmetic, 8 lanes at a time.
S_AVX2 static void
s_quantize_block (const float *x, int8_t *q, float *d, int32_t *sum)
{
    __m256i magnitude = _mm256_set1_epi32 (0x7fffffff), top = _mm256_setzero_si256 ();
    for (int part = 0; part < S_BLOCK; part += 8)
        top = _mm256_max_epi32 (top, _mm256_and_si256 (_mm256_loadu_si256 ((const __m256i *) (x + part)), magnitude));
    __m128i half = _mm_max_epi32 (_mm256_castsi256_si128 (top), _mm256_extracti128_si256 (top, 1));
    half = _mm_max_epi32 (half, _mm_shuffle_epi32 (half, 0x4e));
    half = _mm_max_epi32 (half, _mm_shuffle_epi32 (half, 0xb1));
    uint32_t bits = (uint32_t) _mm_cvtsi128_si32 (half);
    float scale = xinf_dtype_bits_to_f32 (bits) / 127.0f;
    if (bits >= 0x7f800000u || scale == 0) {
        memset (q, 0, S_BLOCK);
        *sum = 0;
        *d = bits >= 0x7f800000u ? xinf_dtype_bits_to_f32 (0x7fc00000u) : scale;
        return;
    }
    __m256 divisor = _mm256_set1_ps (scale), low = _mm256_set1_ps (-127.0f), high = _mm256_set1_ps (127.0f);
    __m256i values [4], total = _mm256_setzero_si256 ();
    for (int part = 0; part < 4; part++) {
        __m256 value = _mm256_div_ps (_mm256_loadu_ps (x + 8 * part), divisor);
        value = _mm256_round_ps (value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        value = _mm256_min_ps (_mm256_max_ps (value, low), high);
        values [part] = _mm256_cvttps_epi32 (value);
        total = _mm256_add_epi32 (total, values [part]);
    }
    __m256i words = _mm256_packs_epi32 (values [0], values [1]), words2 = _mm256_packs_epi32 (values [2], values [3]);
    __m256i bytes = _mm256_packs_epi16 (words, words2);
    //  packs works within 128-bit halves: dwords 0 4 1 5 2 6 3 7 back in order
    bytes = _mm256_permutevar8x32_epi32 (bytes, _mm256_setr_epi32 (0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256 ((__m256i *) q, bytes);
    __m128i sums = _mm_add_epi32 (_mm256_castsi256_si128 (total), _mm256_extracti128_si256 (total, 1));
    sums = _mm_add_epi32 (sums, _mm_shuffle_epi32 (sums, 0x4e));
    sums = _mm_add_epi32 (sums, _mm_shuffle_epi32 (sums, 0xb1));
    *d = scale;
    *sum = _mm_cvtsi128_si32 (sums);
}

S_AVX2 static void
s_quantize (const float *x, xinf_q8_act_t *act)
{
    for (size_t j = 0; j < act->n; j++)
        for (size_t b = 0; b < act->blocks; b++) {
            size_t at = j * act->cols + b * S_BLOCK;
            s_quantize_block (x + at, act->q + at, act->d + j * act->blocks + b, act->sum + j * act->blocks + b);
        }
}

static size_t
s_no_packed (size_t n, size_t cols)
{
    return 0;
}

static size_t
s_packed_bytes (size_t n, size_t cols)
{
    return n / XINF_Q8_GROUP * (cols / S_BLOCK) * S_PACKED_BLOCK;
}

//  The whole groups transposed: per group and block, dword k of vector j
//  at 64 k + 4 j, then the scales, then -128 sum (q).
static void
s_pack (xinf_q8_act_t *act)
{
    for (size_t g = 0; g < act->groups; g++)
        for (size_t b = 0; b < act->blocks; b++) {
            uint8_t *out = act->packed + (g * act->blocks + b) * S_PACKED_BLOCK;
            for (size_t j = 0; j < XINF_Q8_GROUP; j++) {
                size_t vector = g * XINF_Q8_GROUP + j;
                const int8_t *q = act->q + vector * act->cols + b * S_BLOCK;
                for (int k = 0; k < 8; k++)
                    memcpy (out + 64 * k + 4 * j, q + 4 * k, 4);
                int32_t correction = -128 * act->sum [vector * act->blocks + b];
                memcpy (out + 512 + 4 * j, &act->d [vector * act->blocks + b], 4);
                memcpy (out + 576 + 4 * j, &correction, 4);
            }
        }
}

S_AVX2 static void
s_quantize_packed (const float *x, xinf_q8_act_t *act)
{
    s_quantize (x, act);
    s_pack (act);
}

//  ---- one vector, 8 rows ---------------------------------------------------------

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

//  The fp16 scales of blocks [first, end) of the rows, [block][row].
static void
s_gather_scales (const uint8_t *const *rows, size_t first, size_t end, uint16_t scales [S_RUN][S_ROWS])
{
    for (size_t b = first; b < end; b++)
        for (int r = 0; r < S_ROWS; r++)
            memcpy (&scales [b - first][r], rows [r] + b * S_BYTES, 2);
}

//  Prefetches the lines of [*next, *next + until) into L1; *next moves on.
static S_INLINE void
s_prefetch (const uint8_t **next, const uint8_t *until)
{
    for (; *next < until; *next += 64)
        _mm_prefetch ((const char *) *next, _MM_HINT_T0);
}

//  How far ahead a tile's rows are prefetched, in blocks of each row.
#define S_AHEAD_BLOCKS 16

//  A tile of count rows and where its prefetches go: the row_bytes rows
//  themselves, then the ahead_bytes at 'ahead' (the next tile).
typedef struct {
    const uint8_t *rows [S_ROWS];    //  the missing ones repeat the last
    size_t count, row_bytes, blocks;
    const uint8_t *ahead;
    size_t ahead_bytes;
} s_tile_t;

//  Prefetches block b + S_AHEAD_BLOCKS of every row, past a row's end
//  the same place in the next tile's row.
static S_INLINE void
s_prefetch_rows (const s_tile_t *tile, size_t b)
{
    size_t at = b + S_AHEAD_BLOCKS;
    for (size_t r = 0; r < tile->count; r++) {
        if (at < tile->blocks)
            _mm_prefetch ((const char *) tile->rows [r] + at * S_BYTES, _MM_HINT_T0);
        else {
            size_t offset = r * tile->row_bytes + (at - tile->blocks) * S_BYTES;
            if (offset < tile->ahead_bytes)
                _mm_prefetch ((const char *) tile->ahead + offset, _MM_HINT_T0);
        }
    }
}

//  The integer sums of a block, AVX2 or VNNI: PREPARE loads the rows'
//  weights of block b (or nothing), PRODUCTS gives 8 lanes a row that add
//  up to the row's block sum with x.
S_AVX2 static S_INLINE void
s_prepare_avx2 (const s_tile_t *tile, size_t b, __m256i *wq)
{
}

S_AVX2 static S_INLINE void
s_products_avx2 (const s_tile_t *tile, size_t b, const __m256i *wq, __m256i xq, int32_t sum, __m256i *p)
{
    __m256i ones = _mm256_set1_epi16 (1);
    S_UNROLL for (int r = 0; r < S_ROWS; r++) {
        __m256i w = _mm256_loadu_si256 ((const __m256i *) (tile->rows [r] + b * S_BYTES + 2));
        __m256i pairs = _mm256_maddubs_epi16 (_mm256_abs_epi8 (w), _mm256_sign_epi8 (xq, w));
        p [r] = _mm256_madd_epi16 (pairs, ones);
    }
}

S_AVX512 static S_INLINE void
s_prepare_vnni (const s_tile_t *tile, size_t b, __m256i *wq)
{
    __m256i flip = _mm256_set1_epi8 ((char) 0x80);
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        wq [r] = _mm256_xor_si256 (_mm256_loadu_si256 ((const __m256i *) (tile->rows [r] + b * S_BYTES + 2)), flip);
}

S_AVX512 static S_INLINE void
s_products_vnni (const s_tile_t *tile, size_t b, const __m256i *wq, __m256i xq, int32_t sum, __m256i *p)
{
    __m256i start = _mm256_zextsi128_si256 (_mm_cvtsi32_si128 (-128 * sum));
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        p [r] = _mm256_dpbusd_epi32 (start, wq [r], xq);
}

//  out [v][r] = row r . x [first + v] for v < vectors (a constant after
//  inlining): per block the rows' block sums with each vector in 8
//  lanes, then the float step; the weights of a block loaded once for
//  all the vectors.
#define S_TILE_MULTI(NAME, TARGET, PREPARE, PRODUCTS) \
TARGET static S_INLINE void \
NAME (const s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS], const int vectors) \
{ \
    __m256 acc [4]; \
    const int8_t *q = act->q + first * act->cols; \
    const float *d = act->d + first * act->blocks; \
    const int32_t *sum = act->sum + first * act->blocks; \
    for (int v = 0; v < vectors; v++) \
        acc [v] = _mm256_setzero_ps (); \
    for (size_t run = 0; run < tile->blocks; run += S_RUN) { \
        size_t end = tile->blocks - run < S_RUN ? tile->blocks : run + S_RUN; \
        uint16_t scales [S_RUN][S_ROWS]; \
        s_gather_scales (tile->rows, run, end, scales); \
        for (size_t b = run; b < end; b++) { \
            __m256i wq [S_ROWS], p [S_ROWS]; \
            s_prefetch_rows (tile, b); \
            PREPARE (tile, b, wq); \
            __m256 dw = _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) scales [b - run])); \
            for (int v = 0; v < vectors; v++) { \
                size_t at = v * act->blocks + b; \
                __m256i xq = _mm256_loadu_si256 ((const __m256i *) (q + v * act->cols + b * S_BLOCK)); \
                PRODUCTS (tile, b, wq, xq, sum [at], p); \
                __m256 scale = _mm256_mul_ps (dw, _mm256_set1_ps (d [at])); \
                __m256 term = _mm256_mul_ps (_mm256_cvtepi32_ps (s_reduce8 (p)), scale); \
                acc [v] = _mm256_add_ps (acc [v], term); \
            } \
        } \
    } \
    for (int v = 0; v < vectors; v++) \
        _mm256_storeu_ps (out [v], acc [v]); \
}

S_TILE_MULTI (s_tile_multi_avx2, S_AVX2, s_prepare_avx2, s_products_avx2)
S_TILE_MULTI (s_tile_multi_vnni, S_AVX512, s_prepare_vnni, s_products_vnni)

//  Up to 4 vectors from 'first' in one pass of the tile.
S_AVX2 static void
s_tile_pass_avx2 (const s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS], size_t vectors)
{
    for (size_t v = 0; v < vectors; v += 2)       //  16 registers: 2 at a time
        if (vectors - v >= 2)
            s_tile_multi_avx2 (tile, act, first + v, out + v, 2);
        else
            s_tile_multi_avx2 (tile, act, first + v, out + v, 1);
}

S_AVX512 static void
s_tile_pass_vnni (const s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS], size_t vectors)
{
    switch (vectors) {
        case 1: s_tile_multi_vnni (tile, act, first, out, 1); break;
        case 2: s_tile_multi_vnni (tile, act, first, out, 2); break;
        case 3: s_tile_multi_vnni (tile, act, first, out, 3); break;
        default: s_tile_multi_vnni (tile, act, first, out, 4); break;
    }
}

typedef void (s_tile_pass_fn) (const s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS],
                               size_t vectors);

//  The tile's rows times vectors [first, n), 4 at a time; the prefetch of
//  the next tile with the first pass only.
static void
s_tile_vectors (s_tile_pass_fn *pass, s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float *y,
                size_t y_stride)
{
    for (size_t j = first; j < act->n; j += 4) {
        float out [4][S_ROWS];
        size_t vectors = act->n - j < 4 ? act->n - j : 4;
        pass (tile, act, j, out, vectors);
        tile->ahead_bytes = 0;
        for (size_t v = 0; v < vectors; v++)
            for (size_t r = 0; r < tile->count; r++)
                y [(j + v) * y_stride + r] = out [v][r];
    }
}

//  The tile at 'row' of a run of count rows: its rows, and the next tile
//  of the run (else the run's 'ahead') to prefetch.
static void
s_tile_at (const uint8_t *w, size_t row_bytes, size_t row, size_t count, size_t blocks, const uint8_t *ahead,
           size_t ahead_bytes, s_tile_t *tile)
{
    size_t next = row + S_ROWS;
    tile->count = count - row < S_ROWS ? count - row : S_ROWS;
    tile->row_bytes = row_bytes;
    tile->blocks = blocks;
    for (size_t r = 0; r < S_ROWS; r++)
        tile->rows [r] = w + (row + (r < tile->count ? r : tile->count - 1)) * row_bytes;
    if (next < count) {
        tile->ahead = w + next * row_bytes;
        tile->ahead_bytes = (count - next < S_ROWS ? count - next : S_ROWS) * row_bytes;
    }
    else {
        tile->ahead = ahead;
        tile->ahead_bytes = ahead ? ahead_bytes : 0;
    }
}

static void
s_rows_avx2 (const uint8_t *w, size_t row_bytes, size_t count, const xinf_q8_act_t *act, float *y,
             size_t y_stride, void *scratch, const uint8_t *ahead, size_t ahead_bytes)
{
    for (size_t row = 0; row < count; row += S_ROWS) {
        s_tile_t tile;
        s_tile_at (w, row_bytes, row, count, act->blocks, ahead, ahead_bytes, &tile);
        s_tile_vectors (s_tile_pass_avx2, &tile, act, 0, y + row, y_stride);
    }
}

//  ---- AVX-512: 16 vectors, 8 rows -----------------------------------------------

//  The tile's rows made unsigned (w ^ 0x80) into 'unsigned_q' [row][cols]
//  and their scales as floats into 'scales' [block][row]; the rows (in
//  memory one after another) and the next tile's prefetched a little
//  ahead meanwhile.
S_AVX512 static void
s_tile_prepare (const s_tile_t *tile, uint8_t *unsigned_q, float *scales)
{
    __m256i flip = _mm256_set1_epi8 ((char) 0x80);
    const uint8_t *next = tile->rows [0], *end = tile->rows [0] + tile->count * tile->row_bytes + tile->ahead_bytes;
    for (int r = 0; r < S_ROWS; r++)
        for (size_t b = 0; b < tile->blocks; b++) {
            const uint8_t *block = tile->rows [r] + b * S_BYTES;
            const uint8_t *until = block + 1024 < end ? block + 1024 : end;
            s_prefetch (&next, until);
            __m256i wq = _mm256_loadu_si256 ((const __m256i *) (block + 2));
            _mm256_store_si256 ((__m256i *) (unsigned_q + (r * tile->blocks + b) * S_BLOCK),
                                _mm256_xor_si256 (wq, flip));
            uint16_t half;
            memcpy (&half, block, 2);
            scales [b * S_ROWS + r] = _cvtsh_ss (half);
        }
}

//  y [(16 g + j) * y_stride + r] for the group g's 16 vectors and the
//  tile's count rows.
S_AVX512 static void
s_tile_group (const uint8_t *unsigned_q, const float *scales, size_t blocks, const uint8_t *packed, size_t count,
              float *y, size_t y_stride)
{
    __m512 out [S_ROWS];
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        out [r] = _mm512_setzero_ps ();
    for (size_t b = 0; b < blocks; b++, packed += S_PACKED_BLOCK) {
        __m512i acc [S_ROWS], start = _mm512_load_si512 (packed + 576);
        const int32_t *weights = (const int32_t *) (unsigned_q + b * S_BLOCK);
        S_UNROLL for (int r = 0; r < S_ROWS; r++)
            acc [r] = start;
        S_UNROLL for (int k = 0; k < 8; k++) {
            __m512i xq = _mm512_load_si512 (packed + 64 * k);
            S_UNROLL for (int r = 0; r < S_ROWS; r++)
                acc [r] = _mm512_dpbusd_epi32 (acc [r], _mm512_set1_epi32 (weights [r * blocks * 8 + k]), xq);
        }
        __m512 dx = _mm512_load_ps (packed + 512);
        S_UNROLL for (int r = 0; r < S_ROWS; r++) {
            __m512 scale = _mm512_mul_ps (_mm512_set1_ps (scales [b * S_ROWS + r]), dx);
            out [r] = _mm512_add_ps (out [r], _mm512_mul_ps (_mm512_cvtepi32_ps (acc [r]), scale));
        }
    }
    for (size_t r = 0; r < count; r++) {
        float lanes [16];
        _mm512_storeu_ps (lanes, out [r]);
        for (int j = 0; j < 16; j++)
            y [j * y_stride + r] = lanes [j];
    }
}

S_AVX512 static void
s_rows_avx512 (const uint8_t *w, size_t row_bytes, size_t count, const xinf_q8_act_t *act, float *y,
               size_t y_stride, void *scratch, const uint8_t *ahead, size_t ahead_bytes)
{
    uint8_t *unsigned_q = scratch;
    float *scales = (float *) (unsigned_q + S_ROWS * act->cols);
    for (size_t row = 0; row < count; row += S_ROWS) {
        s_tile_t tile;
        s_tile_at (w, row_bytes, row, count, act->blocks, ahead, ahead_bytes, &tile);
        if (act->groups) {
            s_tile_prepare (&tile, unsigned_q, scales);
            tile.ahead_bytes = 0;
            for (size_t g = 0; g < act->groups; g++)
                s_tile_group (unsigned_q, scales, act->blocks, act->packed + g * act->blocks * S_PACKED_BLOCK,
                              tile.count, y + row + g * XINF_Q8_GROUP * y_stride, y_stride);
        }
        s_tile_vectors (s_tile_pass_vnni, &tile, act, act->groups * XINF_Q8_GROUP, y + row, y_stride);
    }
}

static size_t
s_no_scratch (size_t cols)
{
    return 0;
}

static size_t
s_scratch_avx512 (size_t cols)
{
    return S_ROWS * cols + S_ROWS * (cols / S_BLOCK) * sizeof (float);
}

static const xinf_cpu_q8_kern_t s_avx2 = {
    "avx2", s_no_packed, s_quantize, s_rows_avx2, s_no_scratch
};

static const xinf_cpu_q8_kern_t s_avx512 = {
    "avx512", s_packed_bytes, s_quantize_packed, s_rows_avx512, s_scratch_avx512
};

const xinf_cpu_q8_kern_t *
xinf_cpu_q8_avx2 (void)
{
    __builtin_cpu_init ();
    if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma") || !__builtin_cpu_supports ("f16c"))
        return NULL;
    return &s_avx2;
}

const xinf_cpu_q8_kern_t *
xinf_cpu_q8_avx512 (void)
{
    if (!xinf_cpu_q8_avx2 () || !__builtin_cpu_supports ("avx512f") || !__builtin_cpu_supports ("avx512bw")
        || !__builtin_cpu_supports ("avx512vl") || !__builtin_cpu_supports ("avx512vnni"))
        return NULL;
    return &s_avx512;
}

#else

const xinf_cpu_q8_kern_t *
xinf_cpu_q8_avx2 (void)
{
    return NULL;
}

const xinf_cpu_q8_kern_t *
xinf_cpu_q8_avx512 (void)
{
    return NULL;
}

#endif
