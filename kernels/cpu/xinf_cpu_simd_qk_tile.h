/*  xinf_cpu_simd_qk_tile: what the K types' SIMD files
    (xinf_cpu_simd_qk_k.c, xinf_cpu_simd_qk_kgroups.c,
    xinf_cpu_simd_qk_gfni.c) share: the tile of
    four rows, its prefetch, d and dmin loads and stores. Private to
    kernels/cpu; x86-64 with GCC or clang only.
*/
#ifndef XINF_CPU_SIMD_QK_TILE_H_INCLUDED
#define XINF_CPU_SIMD_QK_TILE_H_INCLUDED

#include "xinf_cpu_qk.h"

#include <immintrin.h>
#include <string.h>

#define S_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define S_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define S_INLINE inline __attribute__ ((always_inline))
#define S_UNROLL _Pragma ("GCC unroll 8")

//  Rows a tile.
#define S_ROWS 4

//  How far past the next tile the weights are prefetched into L2.
#define S_FAR 16384


//  A tile: its rows (the missing ones repeat the last), how many are
//  real, and the bytes of a block.
typedef struct {
    const uint8_t *rows [S_ROWS];
    size_t count, block_bytes, row_bytes;
} s_tile_t;

//  The tile at 'row' of count rows.
static inline void
s_tile_at (xinf_dtype_t dtype, const uint8_t *w, size_t row_bytes, size_t row, size_t count, s_tile_t *tile)
{
    tile->count = count - row < S_ROWS ? count - row : S_ROWS;
    for (size_t r = 0; r < S_ROWS; r++)
        tile->rows [r] = w + (row + (r < tile->count ? r : tile->count - 1)) * row_bytes;
    tile->block_bytes = xinf_dtype_block_bytes (dtype);
    tile->row_bytes = row_bytes;
}

//  Prefetches the share of block b of the next tile (the rows of a call
//  lie one after another) into L1, so that the next tile arrives while
//  this one is multiplied, and the share S_FAR bytes past it into L2.
//  (Decode of the 1B Q4_K_M shape, 2 threads, on the shared VM: without
//  either 3-4x slower; the L1 share alone 11.5-18.5 tokens/s in 7 runs,
//  both 8.3-27.0, faster in 5 of the 7 alternating pairs.)
static S_INLINE void
s_prefetch (const s_tile_t *tile, size_t b)
{
    size_t share = S_ROWS * tile->block_bytes;
    const uint8_t *near = tile->rows [0] + S_ROWS * tile->row_bytes + b * share;
    for (size_t line = 0; line < share; line += 64) {
        _mm_prefetch ((const char *) (near + line), _MM_HINT_T0);
        _mm_prefetch ((const char *) (near + S_FAR + line), _MM_HINT_T1);
    }
}

//  The d (and dmin) of block b of the tile's four rows in four lanes, read
//  straight from the blocks (no single floats stored for a vector load
//  to wait on). Q4_K, Q5_K: the words d, dmin at 0; Q6_K: d at 208.
S_AVX512 static S_INLINE void
s_d4 (const xinf_dtype_t dtype, const s_tile_t *tile, size_t b, __m128 *d, __m128 *dmin)
{
    const uint8_t *at [S_ROWS];
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        at [r] = tile->rows [r] + b * tile->block_bytes;
    if (dtype == XINF_DTYPE_Q6_K) {
        uint16_t h [S_ROWS];
        S_UNROLL for (int r = 0; r < S_ROWS; r++)
            memcpy (&h [r], at [r] + 208, 2);
        *d = _mm_cvtph_ps (_mm_setr_epi16 ((short) h [0], (short) h [1], (short) h [2], (short) h [3], 0, 0, 0, 0));
        *dmin = _mm_setzero_ps ();
        return;
    }
    uint32_t word [S_ROWS];
    S_UNROLL for (int r = 0; r < S_ROWS; r++)
        memcpy (&word [r], at [r], 4);
    __m256 both = _mm256_cvtph_ps (_mm_setr_epi32 ((int) word [0], (int) word [1], (int) word [2], (int) word [3]));
    __m128 low = _mm256_castps256_ps128 (both), high = _mm256_extractf128_ps (both, 1);
    *d = _mm_shuffle_ps (low, high, _MM_SHUFFLE (2, 0, 2, 0));
    *dmin = _mm_shuffle_ps (low, high, _MM_SHUFFLE (3, 1, 3, 1));
}

//  Stores the tile's count rows of a vector, NaN as 0x7fc00000.
static inline void
s_store (__m128 acc, size_t count, float *y)
{
    float lanes [4];
    _mm_storeu_ps (lanes, acc);
    for (size_t r = 0; r < count; r++)
        y [r] = xinf_qk_canonical (lanes [r]);
}

#define S_TILE_CASES4(FN, dt, TILE, act, j, acc) \
    switch (V) { \
        case 1: FN (dt, TILE, act, j, 1, acc); break; \
        case 2: FN (dt, TILE, act, j, 2, acc); break; \
        case 3: FN (dt, TILE, act, j, 3, acc); break; \
        default: FN (dt, TILE, act, j, 4, acc); break; \
    }

#endif
