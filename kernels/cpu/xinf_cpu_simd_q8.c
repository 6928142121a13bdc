/*  xinf_cpu_simd_q8: the AVX2 and AVX-512 kernel sets of Q8_0 products
    with 16-bit activations (xinf_cpu_q8_act.h says the arithmetic, which
    both repeat bit for bit).

    Quantizer (both sets): 8 floats an instruction, the portable
    quantizer's operations (an integer max of |x|'s bits, a float
    division, round half to even, a clamp).

    Up to 4 vectors, 8 rows a tile: per block and row the exact block sum
    of the integer products in 8 int32 lanes (the weights widened to
    int16; AVX2: vpmaddwd, AVX-512: vpdpwssd), the 8 rows' lanes summed by
    a tree of hadds into one vector of the 8 rows' block sums, then the
    float step for the 8 rows in 8 lanes. The block's weights are loaded
    once for all the vectors of a pass; the 8 rows' fp16 scales of a
    block come in one vpgatherdd (a dword at each row's block, its low
    half the scale; scalar copies read back as a vector stalled on store
    forwarding: 1.25x slower on one thread). Prefetch: each row 32 blocks
    ahead into L1, every other block (a line holds nearly two), at most a
    row (near its end into the next tile's row), and whole tiles about 16
    KB ahead into L2, in step with the blocks (without the L2 stream, rows
    of 896 columns streamed at 11 GB/s a thread instead of 18).

    AVX-512, whole groups of 16 vectors: the quantizer also writes each
    group transposed, per block 16 vectors of int32 lanes, lane j holding
    elements 2k and 2k+1 of vector j, then the group's 16 scales. A tile
    of 8 rows is widened to int16 once into scratch; per block and row, 16
    vpdpwssd of a broadcast weight pair with the 16 x vectors leave the 16
    vectors' exact block sums in 16 lanes, no horizontal sums. Vectors
    past the last whole group go as above.
*/
#include "xinf_cpu_q8_act.h"
#include "xinf_cpu_cpuid.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>
#include <string.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 16")

#define S_BLOCK XINF_Q8_0_BLOCK_SIZE
#define S_BYTES XINF_Q8_0_BLOCK_BYTES

//  Rows a tile.
#define S_ROWS 8


//  How far ahead a tile's rows are prefetched, in blocks of each row: two
//  runs, so that a run's scales come from lines already arriving.
#define S_AHEAD_BLOCKS 32

//  How far ahead the widening of a tile prefetches, in bytes.
#define S_AHEAD_BYTES 4096

//  How far ahead tiles are prefetched into L2: about this many bytes, in
//  whole tiles, at least one.
#define S_FAR_BYTES 16384


//  Bytes of a packed group's block: 16 x 16 dwords of q pairs, then 16
//  scales.
#define S_PACKED_BLOCK (1024 + 64)

//  ---- the quantizer ---------------------------------------------------------------

//  The largest |x| bits of a block (NaN above infinity).
S_AVX2 static uint32_t
s_top_bits (const float *x)
{
    __m256i magnitude = _mm256_set1_epi32 (0x7fffffff), top = _mm256_setzero_si256 ();
    for (int part = 0; part < S_BLOCK; part += 8)
        top = _mm256_max_epi32 (top, _mm256_and_si256 (_mm256_loadu_si256 ((const __m256i *) (x + part)), magnitude));
    __m128i half = _mm_max_epi32 (_mm256_castsi256_si128 (top), _mm256_extracti128_si256 (top, 1));
    half = _mm_max_epi32 (half, _mm_shuffle_epi32 (half, 0x4e));
    half = _mm_max_epi32 (half, _mm_shuffle_epi32 (half, 0xb1));
    return (uint32_t) _mm_cvtsi128_si32 (half);
}

//  One block: the portable quantizer's arithmetic, 8 lanes at a time.
S_AVX2 static void
s_quantize_block (const float *x, int16_t *q, float *d)
{
    uint32_t bits = s_top_bits (x);
    float scale = xinf_dtype_bits_to_f32 (bits) / (float) XINF_Q8_ACT_MAX;
    if (bits >= 0x7f800000u || scale == 0) {
        memset (q, 0, S_BLOCK * sizeof *q);
        *d = bits >= 0x7f800000u ? xinf_dtype_bits_to_f32 (0x7fc00000u) : scale;
        return;
    }
    __m256 divisor = _mm256_set1_ps (scale);
    __m256 low = _mm256_set1_ps (-XINF_Q8_ACT_MAX), high = _mm256_set1_ps (XINF_Q8_ACT_MAX);
    __m256i values [4];
    for (int part = 0; part < 4; part++) {
        __m256 value = _mm256_div_ps (_mm256_loadu_ps (x + 8 * part), divisor);
        value = _mm256_round_ps (value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        values [part] = _mm256_cvttps_epi32 (_mm256_min_ps (_mm256_max_ps (value, low), high));
    }
    //  packs works within 128-bit halves: quarters 0 2 1 3 back in order
    for (int half = 0; half < 2; half++) {
        __m256i words = _mm256_packs_epi32 (values [2 * half], values [2 * half + 1]);
        _mm256_storeu_si256 ((__m256i *) (q + 16 * half), _mm256_permute4x64_epi64 (words, 0xd8));
    }
    *d = scale;
}

S_AVX2 static void
s_quantize (const float *x, xinf_q8_act_t *act)
{
    for (size_t j = 0; j < act->n; j++)
        for (size_t b = 0; b < act->blocks; b++) {
            size_t at = j * act->cols + b * S_BLOCK;
            s_quantize_block (x + at, act->q + at, act->d + j * act->blocks + b);
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

//  The whole groups transposed: per group and block, the pair k of
//  vector j at 64 k + 4 j, then the scales.
static void
s_pack (xinf_q8_act_t *act)
{
    for (size_t g = 0; g < act->groups; g++)
        for (size_t b = 0; b < act->blocks; b++) {
            uint8_t *out = act->packed + (g * act->blocks + b) * S_PACKED_BLOCK;
            for (size_t j = 0; j < XINF_Q8_GROUP; j++) {
                size_t vector = g * XINF_Q8_GROUP + j;
                const int16_t *q = act->q + vector * act->cols + b * S_BLOCK;
                for (int k = 0; k < 16; k++)
                    memcpy (out + 64 * k + 4 * j, q + 2 * k, 4);
                memcpy (out + 1024 + 4 * j, &act->d [vector * act->blocks + b], 4);
            }
        }
}

S_AVX2 static void
s_quantize_packed (const float *x, xinf_q8_act_t *act)
{
    s_quantize (x, act);
    s_pack (act);
}

//  ---- up to 4 vectors, 8 rows -----------------------------------------------------

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

//  A tile of count rows and where its prefetches go: the row_bytes rows
//  themselves, then the ahead_bytes at 'ahead' (the next tile).
typedef struct {
    const uint8_t *rows [S_ROWS];    //  the missing ones repeat the last
    size_t count, row_bytes, blocks;
    const uint8_t *ahead;
    size_t ahead_bytes;
    //  The tile 'far_tiles' on, prefetched into L2 in step with this one,
    //  up to 'end' (the run's end and its ahead_bytes).
    const uint8_t *far, *end;
    size_t far_tiles;
    size_t far_step;                 //  bytes of the far tile a block: its bytes / blocks, rounded up
    int32_t offsets [S_ROWS];        //  rows [r] - rows [0]
} s_tile_t;

//  Prefetches the lines of [*next, until) into L1; *next moves on.
static S_INLINE void
s_prefetch (const uint8_t **next, const uint8_t *until)
{
    for (; *next < until; *next += 64)
        _mm_prefetch ((const char *) *next, _MM_HINT_T0);
}

//  Prefetches block b + S_AHEAD_BLOCKS of every row (at most a row on),
//  past a row's end the same place in the next tile's row (the rows of a
//  tile, and of the next, lie row_bytes apart).
static S_INLINE void
s_prefetch_rows (const s_tile_t *tile, size_t b)
{
    size_t at = b + (tile->blocks < S_AHEAD_BLOCKS ? tile->blocks : S_AHEAD_BLOCKS), count = tile->count;
    const uint8_t *line = tile->rows [0] + at * S_BYTES;
    if (at >= tile->blocks) {
        size_t offset = (at - tile->blocks) * S_BYTES;
        size_t fit = offset < tile->ahead_bytes ? (tile->ahead_bytes - offset + tile->row_bytes - 1) / tile->row_bytes : 0;
        count = fit < count ? fit : count;
        line = count ? tile->ahead + offset : line;
    }
    for (size_t r = 0; r < count; r++, line += tile->row_bytes)
        _mm_prefetch ((const char *) line, _MM_HINT_T0);
}

//  Prefetches into L2 the share of block b of the tile far_tiles on.
static S_INLINE void
s_prefetch_far (s_tile_t *tile, size_t b)
{
    const uint8_t *until = tile->rows [0] + tile->far_tiles * S_ROWS * tile->row_bytes + (b + 1) * tile->far_step;
    until = until < tile->end ? until : tile->end;
    for (; tile->far < until; tile->far += 64)
        _mm_prefetch ((const char *) tile->far, _MM_HINT_T1);
}

//  The weights of block b of row r widened to int16, in two halves.
S_AVX2 static S_INLINE void
s_widen (const s_tile_t *tile, int r, size_t b, __m256i *low, __m256i *high)
{
    const uint8_t *q = tile->rows [r] + b * S_BYTES + 2;
    *low = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) q));
    *high = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (q + 16)));
}

//  The integer sums of a block, AVX2 or VNNI: PREPARE widens the rows'
//  weights of block b (AVX2: nothing, 16 registers do not hold them),
//  PRODUCTS gives 8 lanes a row that add up to its block sum with x.
S_AVX2 static S_INLINE void
s_prepare_avx2 (const s_tile_t *tile, size_t b, __m256i *low, __m256i *high)
{
}

S_AVX2 static S_INLINE void
s_products_avx2 (const s_tile_t *tile, size_t b, const __m256i *low, const __m256i *high, __m256i x_low,
                 __m256i x_high, __m256i *p)
{
    S_UNROLL for (int r = 0; r < S_ROWS; r++) {
        __m256i w_low, w_high;
        s_widen (tile, r, b, &w_low, &w_high);
        p [r] = _mm256_add_epi32 (_mm256_madd_epi16 (w_low, x_low), _mm256_madd_epi16 (w_high, x_high));
    }
}

S_AVX512 static S_INLINE void
s_prepare_vnni (const s_tile_t *tile, size_t b, __m256i *low, __m256i *high)
{
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        s_widen (tile, r, b, &low [r], &high [r]);
}

S_AVX512 static S_INLINE void
s_products_vnni (const s_tile_t *tile, size_t b, const __m256i *low, const __m256i *high, __m256i x_low,
                 __m256i x_high, __m256i *p)
{
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        p [r] = _mm256_dpwssd_epi32 (_mm256_madd_epi16 (low [r], x_low), high [r], x_high);
}

//  out [v][r] = row r . x [first + v] for v < vectors (a constant after
//  inlining): per block the rows' block sums with each vector in 8
//  lanes, then the float step.
#define S_TILE_MULTI(NAME, TARGET, PREPARE, PRODUCTS, SCALES) \
TARGET static S_INLINE void \
NAME (s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS], const int vectors) \
{ \
    __m256 acc [4]; \
    const int16_t *q = act->q + first * act->cols; \
    const float *d = act->d + first * act->blocks; \
    __m256i offsets = _mm256_loadu_si256 ((const __m256i *) tile->offsets); \
    for (int v = 0; v < vectors; v++) \
        acc [v] = _mm256_setzero_ps (); \
    for (size_t b = 0; b < tile->blocks; b++) { \
        __m256i low [S_ROWS], high [S_ROWS], p [S_ROWS]; \
        if (!(b & 1)) \
            s_prefetch_rows (tile, b); \
        s_prefetch_far (tile, b); \
        PREPARE (tile, b, low, high); \
        __m256 dw = SCALES (tile->rows [0] + b * S_BYTES, offsets); \
        for (int v = 0; v < vectors; v++) { \
            const int16_t *x = q + v * act->cols + b * S_BLOCK; \
            PRODUCTS (tile, b, low, high, _mm256_loadu_si256 ((const __m256i *) x), \
                      _mm256_loadu_si256 ((const __m256i *) (x + 16)), p); \
            __m256 scale = _mm256_mul_ps (dw, _mm256_set1_ps (d [v * act->blocks + b])); \
            __m256 term = _mm256_mul_ps (_mm256_cvtepi32_ps (s_reduce8 (p)), scale); \
            acc [v] = _mm256_add_ps (acc [v], term); \
        } \
    } \
    for (int v = 0; v < vectors; v++) \
        _mm256_storeu_ps (out [v], acc [v]); \
}

//  The fp16 scales of a block of the tile's 8 rows as floats: a gather of
//  the dword at each row's block (its scale in the low half), narrowed.
S_AVX2 static S_INLINE __m256
s_scales_avx2 (const uint8_t *block, __m256i offsets)
{
    __m256i words = _mm256_i32gather_epi32 ((const int *) block, offsets, 1);
    words = _mm256_and_si256 (words, _mm256_set1_epi32 (0xffff));
    words = _mm256_permute4x64_epi64 (_mm256_packus_epi32 (words, words), 0x08);
    return _mm256_cvtph_ps (_mm256_castsi256_si128 (words));
}

S_AVX512 static S_INLINE __m256
s_scales_avx512 (const uint8_t *block, __m256i offsets)
{
    __m256i words = _mm256_i32gather_epi32 ((const int *) block, offsets, 1);
    return _mm256_cvtph_ps (_mm256_cvtepi32_epi16 (words));
}

S_TILE_MULTI (s_tile_multi_avx2, S_AVX2, s_prepare_avx2, s_products_avx2, s_scales_avx2)
S_TILE_MULTI (s_tile_multi_vnni, S_AVX512, s_prepare_vnni, s_products_vnni, s_scales_avx512)

//  Up to 4 vectors from 'first' in passes of the tile.
S_AVX2 static void
s_tile_pass_avx2 (s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS], size_t vectors)
{
    for (size_t v = 0; v < vectors; v += 2)       //  16 registers: 2 at a time
        if (vectors - v >= 2)
            s_tile_multi_avx2 (tile, act, first + v, out + v, 2);
        else
            s_tile_multi_avx2 (tile, act, first + v, out + v, 1);
}

S_AVX512 static void
s_tile_pass_vnni (s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS], size_t vectors)
{
    switch (vectors) {
        case 1: s_tile_multi_vnni (tile, act, first, out, 1); break;
        case 2: s_tile_multi_vnni (tile, act, first, out, 2); break;
        case 3: s_tile_multi_vnni (tile, act, first, out, 3); break;
        default: s_tile_multi_vnni (tile, act, first, out, 4); break;
    }
}

typedef void (s_tile_pass_fn) (s_tile_t *tile, const xinf_q8_act_t *act, size_t first, float out [][S_ROWS],
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
    for (size_t r = 0; r < S_ROWS; r++)
        tile->offsets [r] = (int32_t) (tile->rows [r] - tile->rows [0]);
    if (next < count) {
        tile->ahead = w + next * row_bytes;
        tile->ahead_bytes = (count - next < S_ROWS ? count - next : S_ROWS) * row_bytes;
    }
    else {
        tile->ahead = ahead;
        tile->ahead_bytes = ahead ? ahead_bytes : 0;
    }
    size_t tile_bytes = S_ROWS * row_bytes;
    tile->far_tiles = (S_FAR_BYTES + tile_bytes / 2) / tile_bytes;
    tile->far_tiles = tile->far_tiles ? tile->far_tiles : 1;
    tile->far = tile->rows [0] + tile->far_tiles * tile_bytes;
    tile->far_step = (tile_bytes + blocks - 1) / blocks;
    tile->end = w + count * row_bytes + (ahead ? ahead_bytes : 0);
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

//  The tile's rows widened to int16 into 'wide' [block][row][32] and
//  their scales as floats into 'scales' [block][row]; the rows (in memory
//  one after another) and the next tile's prefetched a little ahead
//  meanwhile.
S_AVX512 static void
s_tile_prepare (const s_tile_t *tile, int16_t *wide, float *scales)
{
    const uint8_t *next = tile->rows [0], *end = tile->rows [0] + tile->count * tile->row_bytes + tile->ahead_bytes;
    for (int r = 0; r < S_ROWS; r++)
        for (size_t b = 0; b < tile->blocks; b++) {
            const uint8_t *block = tile->rows [r] + b * S_BYTES;
            const uint8_t *until = block + S_AHEAD_BYTES < end ? block + S_AHEAD_BYTES : end;
            s_prefetch (&next, until);
            __m256i q = _mm256_loadu_si256 ((const __m256i *) (block + 2));
            _mm512_store_si512 (wide + (b * S_ROWS + r) * S_BLOCK, _mm512_cvtepi8_epi16 (q));
            uint16_t half;
            memcpy (&half, block, 2);
            scales [b * S_ROWS + r] = _cvtsh_ss (half);
        }
}

//  y [j * y_stride + r] for the group's 16 vectors and the tile's count
//  rows; the tiles ahead come into L2 meanwhile (s_prefetch_far; tile
//  NULL: none), for s_tile_prepare.
S_AVX512 static void
s_tile_group (const int16_t *wide, const float *scales, size_t blocks, const uint8_t *packed, size_t count,
              float *y, size_t y_stride, s_tile_t *tile)
{
    __m512 out [S_ROWS];
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        out [r] = _mm512_setzero_ps ();
    for (size_t b = 0; b < blocks; b++, packed += S_PACKED_BLOCK) {
        __m512i acc [S_ROWS];
        const int32_t *pairs = (const int32_t *) (wide + b * S_ROWS * S_BLOCK);
        if (tile)
            s_prefetch_far (tile, b);
        S_UNROLL for (int r = 0; r < S_ROWS; r++)
            acc [r] = _mm512_setzero_si512 ();
        S_UNROLL for (int k = 0; k < 16; k++) {
            __m512i xq = _mm512_load_si512 (packed + 64 * k);
            S_UNROLL for (int r = 0; r < S_ROWS; r++)
                acc [r] = _mm512_dpwssd_epi32 (acc [r], xq, _mm512_set1_epi32 (pairs [r * 16 + k]));
        }
        __m512 dx = _mm512_load_ps (packed + 1024);
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
    int16_t *wide = scratch;
    float *scales = (float *) (wide + S_ROWS * act->cols);
    for (size_t row = 0; row < count; row += S_ROWS) {
        s_tile_t tile;
        s_tile_at (w, row_bytes, row, count, act->blocks, ahead, ahead_bytes, &tile);
        if (act->groups) {
            s_tile_prepare (&tile, wide, scales);
            for (size_t g = 0; g < act->groups; g++)
                s_tile_group (wide, scales, act->blocks, act->packed + g * act->blocks * S_PACKED_BLOCK, tile.count,
                              y + row + g * XINF_Q8_GROUP * y_stride, y_stride, g == 0 ? &tile : NULL);
            tile.ahead_bytes = 0;
        }
        s_tile_vectors (s_tile_pass_vnni, &tile, act, act->groups * XINF_Q8_GROUP, y + row, y_stride);
    }
}

static size_t
s_no_scratch (size_t n, size_t cols)
{
    return 0;
}

//  The widened tile, for whole groups only.
static size_t
s_scratch_avx512 (size_t n, size_t cols)
{
    return n < XINF_Q8_GROUP ? 0 : S_ROWS * cols * sizeof (int16_t) + S_ROWS * (cols / S_BLOCK) * sizeof (float);
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
    if (!xinf_cpu_has_avx2_set ())
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
