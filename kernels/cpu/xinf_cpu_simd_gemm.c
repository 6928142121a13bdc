/*  xinf_cpu_simd_gemm: the matmul panel kernels with AVX2 + FMA and with
    AVX-512F (see xinf_cpu_kern.h, 'panel').

    The x vectors come transposed (xt [i * width + j]: element i of vector
    j), so one load gives element i of 8 or 16 vectors; each weight is
    broadcast and multiplied into all of them. A micro-tile holds 6 rows x
    16 vectors (AVX2, 12 accumulators) or 6 rows x up to 64 vectors
    (AVX-512, up to 24 accumulators) in registers over the whole row.

    Every output is one lane summing w [r][i] * x [j][i] for i = 0, 1, ...
    with FMA, whatever the tile, the vector width or the thread: the AVX2
    and AVX-512 panels give the same bits, and a row's result does not
    depend on the rows or vectors computed with it.
*/
#include "xinf_cpu_kern.h"

#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)

#include <immintrin.h>
#include <stdbool.h>

#define S_TILE_ROWS 6

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define S_AVX512 __attribute__ ((target ("avx512f,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 8")

//  The tile's sums, tile [r][j], into y [j * y_stride + r] for r < nr, j < n.
static void
s_store (const float *tile, size_t tile_stride, size_t nr, size_t n, float *y, size_t y_stride)
{
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < nr; r++)
            y [j * y_stride + r] = tile [r * tile_stride + j];
}

//  ---- x transposed --------------------------------------------------------------

//  xt [c * width + r] = rows [r][c] for an 8 x 8 block, rows 'stride' apart.
S_AVX2 static void
s_transpose8 (const float *rows, size_t stride, float *xt, size_t width)
{
    __m256 r [8], t [8], s [8];
    for (int k = 0; k < 8; k++)
        r [k] = _mm256_loadu_ps (rows + k * stride);
    for (int k = 0; k < 8; k += 2) {
        t [k] = _mm256_unpacklo_ps (r [k], r [k + 1]);
        t [k + 1] = _mm256_unpackhi_ps (r [k], r [k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        s [k] = _mm256_shuffle_ps (t [k], t [k + 2], _MM_SHUFFLE (1, 0, 1, 0));
        s [k + 1] = _mm256_shuffle_ps (t [k], t [k + 2], _MM_SHUFFLE (3, 2, 3, 2));
        s [k + 2] = _mm256_shuffle_ps (t [k + 1], t [k + 3], _MM_SHUFFLE (1, 0, 1, 0));
        s [k + 3] = _mm256_shuffle_ps (t [k + 1], t [k + 3], _MM_SHUFFLE (3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        _mm256_storeu_ps (xt + k * width, _mm256_permute2f128_ps (s [k], s [k + 4], 0x20));
        _mm256_storeu_ps (xt + (k + 4) * width, _mm256_permute2f128_ps (s [k], s [k + 4], 0x31));
    }
}

//  One group of n <= 64 vectors: whole 8 x 8 blocks, then the edges and
//  the zero padding one element at a time.
S_AVX2 static void
s_pack_group (const float *x, size_t n, size_t cols, float *xt, size_t width)
{
    size_t n8 = n / 8 * 8, cols8 = cols / 8 * 8;
    for (size_t i = 0; i < cols8; i += 8)
        for (size_t j = 0; j < n8; j += 8)
            s_transpose8 (x + j * cols + i, cols, xt + i * width + j, width);
    for (size_t i = 0; i < cols; i++)
        for (size_t j = i < cols8 ? n8 : 0; j < width; j++)
            xt [i * width + j] = j < n ? x [j * cols + i] : 0;
}

void
xinf_cpu_pack_avx2 (const float *x, size_t n, size_t cols, float *xt)
{
    for (size_t g = 0; g < n; g += XINF_CPU_PANEL_VECTORS) {
        size_t count = n - g < XINF_CPU_PANEL_VECTORS ? n - g : XINF_CPU_PANEL_VECTORS;
        size_t width = (count + XINF_CPU_PANEL_PAD - 1) / XINF_CPU_PANEL_PAD * XINF_CPU_PANEL_PAD;
        s_pack_group (x + g * cols, count, cols, xt + g * cols, width);
    }
}

//  ---- AVX2: 6 rows x 16 vectors ------------------------------------------------

S_AVX2 static S_INLINE void
s_tile8 (const float *w, size_t cols, const float *xt, size_t width, float *tile, const int R)
{
    __m256 acc [S_TILE_ROWS][2];
    const float *row [S_TILE_ROWS];
    S_UNROLL for (int r = 0; r < R; r++) {
        acc [r][0] = acc [r][1] = _mm256_setzero_ps ();
        row [r] = w + r * cols;
    }
    for (size_t i = 0; i < cols; i++, xt += width) {
        __m256 x0 = _mm256_load_ps (xt), x1 = _mm256_load_ps (xt + 8);
        S_UNROLL for (int r = 0; r < R; r++) {
            __m256 wr = _mm256_broadcast_ss (row [r] + i);
            acc [r][0] = _mm256_fmadd_ps (wr, x0, acc [r][0]);
            acc [r][1] = _mm256_fmadd_ps (wr, x1, acc [r][1]);
        }
    }
    S_UNROLL for (int r = 0; r < R; r++) {
        _mm256_storeu_ps (tile + r * 16, acc [r][0]);
        _mm256_storeu_ps (tile + r * 16 + 8, acc [r][1]);
    }
}

//  R rows (1..6) with the vectors [j, j + 16) of xt.
S_AVX2 static void
s_rows8 (const float *w, size_t cols, const float *xt, size_t width, float *tile, size_t nr)
{
    switch (nr) {
        case 1: s_tile8 (w, cols, xt, width, tile, 1); break;
        case 2: s_tile8 (w, cols, xt, width, tile, 2); break;
        case 3: s_tile8 (w, cols, xt, width, tile, 3); break;
        case 4: s_tile8 (w, cols, xt, width, tile, 4); break;
        case 5: s_tile8 (w, cols, xt, width, tile, 5); break;
        default: s_tile8 (w, cols, xt, width, tile, 6); break;
    }
}

//  (No prefetch: a CPU without AVX-512 gets the simpler code.)
void
xinf_cpu_panel_avx2 (const float *w, size_t count, size_t cols, const float *xt, size_t width, size_t n,
                     float *y, size_t y_stride, const void *ahead, size_t ahead_bytes)
{
    (void) ahead, (void) ahead_bytes;
    float tile [S_TILE_ROWS * 16];
    for (size_t j = 0; j < n; j += 16)
        for (size_t r = 0; r < count; r += S_TILE_ROWS) {
            size_t nr = count - r < S_TILE_ROWS ? count - r : S_TILE_ROWS;
            s_rows8 (w + r * cols, cols, xt + j, width, tile, nr);
            s_store (tile, 16, nr, n - j < 16 ? n - j : 16, y + j * y_stride + r, y_stride);
        }
}

//  ---- AVX-512: 6 rows x 16 V vectors ---------------------------------------

//  Columns a pass: 128 columns of 64 vectors (32 KB) stay in L1 while the
//  tiles of S_CHUNK_ROWS rows pass over them; the sums wait in a buffer.
#define S_KC 128
#define S_CHUNK_ROWS 24

//  tile [r][j] (rows 64 floats apart) += R rows of w (cols floats apart)
//  times kc columns of xt, from zero unless 'resume'.
//  The weights to prefetch: a cache line every S_AHEAD_STEP columns of a
//  tile while any are left (one line per 24 .. 96 FMAs).
#define S_AHEAD_STEP 4
typedef struct { const char *at, *end; } s_ahead_t;

S_AVX512 static S_INLINE void
s_tile16 (const float *w, size_t cols, size_t kc, const float *xt, size_t width, float *tile, bool resume,
          s_ahead_t *ahead, const int R, const int V)
{
    const char *next = ahead->at, *end = ahead->end;
    __m512 acc [S_TILE_ROWS][4];
    const float *row [S_TILE_ROWS];
    S_UNROLL for (int r = 0; r < R; r++) {
        S_UNROLL for (int v = 0; v < V; v++)
            acc [r][v] = resume ? _mm512_loadu_ps (tile + r * 64 + 16 * v) : _mm512_setzero_ps ();
        row [r] = w + r * cols;
    }
    for (size_t i = 0; i < kc; i++, xt += width) {
        if (i % S_AHEAD_STEP == 0 && next < end) {
            _mm_prefetch (next, _MM_HINT_T1);
            next += 64;
        }
        __m512 xv [4];
        S_UNROLL for (int v = 0; v < V; v++)
            xv [v] = _mm512_load_ps (xt + 16 * v);
        S_UNROLL for (int r = 0; r < R; r++) {
            __m512 wr = _mm512_set1_ps (row [r][i]);
            S_UNROLL for (int v = 0; v < V; v++)
                acc [r][v] = _mm512_fmadd_ps (wr, xv [v], acc [r][v]);
        }
    }
    S_UNROLL for (int r = 0; r < R; r++)
        S_UNROLL for (int v = 0; v < V; v++)
            _mm512_storeu_ps (tile + r * 64 + 16 * v, acc [r][v]);
    ahead->at = next;
}

#define S_ROWS16(V) \
    switch (nr) { \
        case 1: s_tile16 (w, cols, kc, xt, width, tile, resume, ahead, 1, V); break; \
        case 2: s_tile16 (w, cols, kc, xt, width, tile, resume, ahead, 2, V); break; \
        case 3: s_tile16 (w, cols, kc, xt, width, tile, resume, ahead, 3, V); break; \
        case 4: s_tile16 (w, cols, kc, xt, width, tile, resume, ahead, 4, V); break; \
        case 5: s_tile16 (w, cols, kc, xt, width, tile, resume, ahead, 5, V); break; \
        default: s_tile16 (w, cols, kc, xt, width, tile, resume, ahead, 6, V); break; \
    }

//  nr rows (1..6) with all width vectors of xt (16, 32, 48 or 64).
S_AVX512 static void
s_rows16 (const float *w, size_t cols, size_t kc, const float *xt, size_t width, float *tile, bool resume,
          s_ahead_t *ahead, size_t nr)
{
    switch (width / 16) {
        case 1: S_ROWS16 (1) break;
        case 2: S_ROWS16 (2) break;
        case 3: S_ROWS16 (3) break;
        default: S_ROWS16 (4) break;
    }
}

void
xinf_cpu_panel_avx512 (const float *w, size_t count, size_t cols, const float *xt, size_t width, size_t n,
                       float *y, size_t y_stride, const void *ahead, size_t ahead_bytes)
{
    float tile [S_CHUNK_ROWS * 64];
    s_ahead_t cursor = { ahead, ahead ? (const char *) ahead + ahead_bytes : NULL };
    for (size_t r0 = 0; r0 < count; r0 += S_CHUNK_ROWS) {
        size_t rows = count - r0 < S_CHUNK_ROWS ? count - r0 : S_CHUNK_ROWS;
        for (size_t k0 = 0; k0 < cols; k0 += S_KC) {
            size_t kc = cols - k0 < S_KC ? cols - k0 : S_KC;
            for (size_t r = 0; r < rows; r += S_TILE_ROWS)
                s_rows16 (w + (r0 + r) * cols + k0, cols, kc, xt + k0 * width, width, tile + r * 64, k0 > 0,
                          &cursor, rows - r < S_TILE_ROWS ? rows - r : S_TILE_ROWS);
        }
        s_store (tile, 64, rows, n, y + r0, y_stride);
    }
}

#endif
