/*  xinf_cuda_dot: one lane's share of a row's dot products, for the wide
    product kernel of F16, BF16, Q8_0, Q4_K and Q6_K weights (k_project in
    xinf_cuda_project.cu). Lane l of 'lanes' takes the 16-byte chunks
    l, l + lanes, ... of a F16/BF16 row (eight weights, one 128-bit load),
    its whole Q8_0 blocks l, l + lanes, ... (sixteen 16-bit loads and one
    scale a block), its Q4_K parts of 64 weights (two 128-bit loads of
    nibbles, the scales of two groups) or Q6_K parts of 32 (16-bit loads:
    Q6_K blocks are 2-byte aligned), and reads the activations four
    floats at a time;
    each weight is loaded once for up to XINF_CUDA_DOT_TOKENS tokens.
    The generic kernel decodes one weight at a time with byte loads.

    Q8_0 rows the backend uploaded from the host take the q8a path below
    instead (repacked codes, 16-bit activations, integer sums).

    Host and device: xinf_cuda_project_row_host runs the 32 lanes of a
    warp on the host and adds them in the order of the kernel's shuffle
    tree, so a machine without a GPU tests the wide kernel's indexing and
    arithmetic against the CPU (test_backend_twins decode).
    Private to kernels/cuda.
*/
#ifndef XINF_CUDA_DOT_CUH_INCLUDED
#define XINF_CUDA_DOT_CUH_INCLUDED

#include "xinf_cuda_decode.cuh"

#include <math.h>
#include <string.h>

#define XINF_CUDA_DOT_TOKENS 8

//  Chunks (or pieces) whose loads a lane issues before it uses the first
#define XINF_CUDA_DOT_DEPTH 4

//  Loops unrolled on the device (the host compiler does not know the pragma)
#if defined (__CUDA_ARCH__)
#   define XINF_CUDA_UNROLL _Pragma ("unroll")
#else
#   define XINF_CUDA_UNROLL
#endif

//  Whether the wide kernel takes this product: its weight type, and the
//  alignment its vector loads need (F16/BF16: rows of whole 16-byte
//  chunks on a 16-byte boundary; Q8_0: 2-byte aligned blocks), the
//  activations' rows on 16-byte boundaries.
XINF_CUDA_BOTH bool
xinf_cuda_dot_wide (int dtype, const void *w, size_t row_bytes, size_t cols, const void *x)
{
    uintptr_t weights = (uintptr_t) w, input = (uintptr_t) x;
    if (cols % 4 || input % 16)
        return false;
    if (dtype == XINF_DTYPE_F16 || dtype == XINF_DTYPE_BF16)
        return cols % 8 == 0 && row_bytes % 16 == 0 && weights % 16 == 0;
    if (dtype == XINF_DTYPE_Q4_K)
        return cols % 256 == 0 && row_bytes % 16 == 0 && weights % 16 == 0;
    if (dtype == XINF_DTYPE_Q6_K)
        return cols % 256 == 0 && row_bytes % 2 == 0 && weights % 2 == 0;
    return dtype == XINF_DTYPE_Q8_0 && cols % 32 == 0 && row_bytes % 2 == 0 && weights % 2 == 0;
}

//  The float of a F16 (bf16 false) or BF16 weight's 16 bits.
XINF_CUDA_BOTH float
s_dot_half (unsigned bits, bool bf16)
{
    if (bf16) {
        uint32_t wide = (uint32_t) bits << 16;
        float value;
        memcpy (&value, &wide, sizeof value);
        return value;
    }
    __half_raw raw;
    raw.x = (unsigned short) bits;
    return __half2float (__half (raw));
}

//  Adds the eight weights of one 16-byte chunk times the eight
//  activations low, high to 'acc' (in order, one FMA each).
XINF_CUDA_BOTH float
s_dot_chunk8_of (const float *weights, float4 low, float4 high, float acc)
{
    acc = fmaf (weights [0], low.x, acc);
    acc = fmaf (weights [1], low.y, acc);
    acc = fmaf (weights [2], low.z, acc);
    acc = fmaf (weights [3], low.w, acc);
    acc = fmaf (weights [4], high.x, acc);
    acc = fmaf (weights [5], high.y, acc);
    acc = fmaf (weights [6], high.z, acc);
    return fmaf (weights [7], high.w, acc);
}

//  The same with the eight activations at 'in'.
XINF_CUDA_BOTH float
s_dot_chunk8 (const float *weights, const float *in, float acc)
{
    return s_dot_chunk8_of (weights, ((const float4 *) in) [0], ((const float4 *) in) [1], acc);
}

//  The eight weights of a 16-byte chunk of F16 (bf16 false) or BF16.
XINF_CUDA_BOTH void
s_dot_chunk_weights (bool bf16, uint4 packed, float *weights)
{
    uint32_t words [4] = { packed.x, packed.y, packed.z, packed.w };
XINF_CUDA_UNROLL
    for (int i = 0; i < 4; i++) {
        weights [2 * i] = s_dot_half (words [i] & 0xffffu, bf16);
        weights [2 * i + 1] = s_dot_half (words [i] >> 16, bf16);
    }
}

//  The eight weights of a 16-byte chunk of F16 (bf16 false) or BF16 as
//  floats, times the activations of each of the 'count' tokens at chunk
//  'c' of 'in', added to acc [t].
template <int TOKENS>
XINF_CUDA_BOTH void
s_dot_chunk_add (bool bf16, uint4 packed, const float *in, size_t cols, size_t count, size_t c, float *acc)
{
    float weights [8];
    s_dot_chunk_weights (bf16, packed, weights);
XINF_CUDA_UNROLL
    for (int t = 0; t < TOKENS; t++)
        if ((size_t) t < count)
            acc [t] = s_dot_chunk8 (weights, in + t * cols + c * 8, acc [t]);
}

//  F16/BF16: lane 'lane' adds its chunks' products to acc [t] for the
//  first 'count' tokens of 'in' (rows of 'cols' floats). The loads of
//  XINF_CUDA_DOT_DEPTH chunks are issued before the first is used (one
//  16-byte load in flight a lane is far from what HBM needs); the sums
//  are taken chunk after chunk, in the same order either way.
template <int TOKENS>
XINF_CUDA_BOTH void
s_dot_lane_16 (bool bf16, const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane,
               unsigned lanes, float *acc)
{
    const uint4 *chunks = (const uint4 *) row;
    size_t n_chunks = cols / 8, c = lane;
    for (; c + (XINF_CUDA_DOT_DEPTH - 1) * (size_t) lanes < n_chunks; c += XINF_CUDA_DOT_DEPTH * (size_t) lanes) {
        uint4 packed [XINF_CUDA_DOT_DEPTH];
XINF_CUDA_UNROLL
        for (int i = 0; i < XINF_CUDA_DOT_DEPTH; i++)
            packed [i] = chunks [c + i * (size_t) lanes];
XINF_CUDA_UNROLL
        for (int i = 0; i < XINF_CUDA_DOT_DEPTH; i++)
            s_dot_chunk_add<TOKENS> (bf16, packed [i], in, cols, count, c + i * (size_t) lanes, acc);
    }
    for (; c < n_chunks; c += lanes)
        s_dot_chunk_add<TOKENS> (bf16, chunks [c], in, cols, count, c, acc);
}

//  Q8_0: lane 'lane' adds d * (q . x) of its blocks to acc [t], the sum
//  over a block's 32 codes taken first (as ggml's vec_dot does).
template <int TOKENS>
XINF_CUDA_BOTH void
s_dot_lane_q8 (const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane, unsigned lanes,
               float *acc)
{
    size_t blocks = cols / 32;
    for (size_t b = lane; b < blocks; b += lanes) {
        const uint16_t *words = (const uint16_t *) (row + b * 34);
        float scale = s_dot_half (words [0], false);
        float codes [32];
XINF_CUDA_UNROLL
        for (int i = 0; i < 16; i++) {
            codes [2 * i] = (float) (int8_t) (words [1 + i] & 0xff);
            codes [2 * i + 1] = (float) (int8_t) (words [1 + i] >> 8);
        }
XINF_CUDA_UNROLL
        for (int t = 0; t < TOKENS; t++)
            if ((size_t) t < count) {
                const float *x = in + t * cols + b * 32;
                float sum = 0;
XINF_CUDA_UNROLL
                for (int part = 0; part < 4; part++)
                    sum = s_dot_chunk8 (codes + 8 * part, x + 8 * part, sum);
                acc [t] = fmaf (scale, sum, acc [t]);
            }
    }
}

//  Adds the 32 codes of one group, the nibbles of 'words' at 'shift' (0:
//  low, 4: high), times the activations at 'x', to *dot, and the
//  activations to *sum (four floats at a time, in order).
XINF_CUDA_BOTH void
s_q4k_group (const uint32_t *words, int shift, const float *x, float *dot, float *sum)
{
XINF_CUDA_UNROLL
    for (int w = 0; w < 8; w++) {
        float4 four = ((const float4 *) x) [w];
        uint32_t codes = words [w] >> shift;
        *dot = fmaf ((float) (codes & 15), four.x, *dot);
        *dot = fmaf ((float) ((codes >> 8) & 15), four.y, *dot);
        *dot = fmaf ((float) ((codes >> 16) & 15), four.z, *dot);
        *dot = fmaf ((float) ((codes >> 24) & 15), four.w, *dot);
        *sum += four.x + four.y + four.z + four.w;
    }
}

//  Q4_K: lane 'lane' takes the 64-weight parts l, l + lanes, ... of a row
//  (part j: groups 2 (j % 4) and 2 (j % 4) + 1 of block j / 4, whose
//  nibbles share 32 bytes of qs: two 16-byte loads) and adds, for each
//  group, d sc * (q . x) - dmin m * (sum of x), the sums over the group
//  taken first (as ggml's vec_dot does).
template <int TOKENS>
XINF_CUDA_BOTH void
s_dot_lane_q4k (const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane, unsigned lanes,
                float *acc)
{
    for (size_t j = lane; j < cols / 64; j += lanes) {
        const uint8_t *block = row + j / 4 * 144;
        int part = (int) (j % 4), sc [2], m [2];
        const uint4 *qs = (const uint4 *) (block + 16 + 32 * part);
        uint4 low = qs [0], high = qs [1];
        uint32_t words [8] = { low.x, low.y, low.z, low.w, high.x, high.y, high.z, high.w };
        s_k4_scale_min (block + 4, 2 * part, &sc [0], &m [0]);
        s_k4_scale_min (block + 4, 2 * part + 1, &sc [1], &m [1]);
        float d = s_dot_half (((const uint16_t *) block) [0], false);
        float dmin = s_dot_half (((const uint16_t *) block) [1], false);
XINF_CUDA_UNROLL
        for (int t = 0; t < TOKENS; t++)
            if ((size_t) t < count)
                for (int g = 0; g < 2; g++) {
                    float dot = 0, sum = 0;
                    s_q4k_group (words, 4 * g, in + t * cols + j * 64 + g * 32, &dot, &sum);
                    acc [t] = fmaf (d * (float) sc [g], dot, acc [t]);
                    acc [t] = fmaf (-(dmin * (float) m [g]), sum, acc [t]);
                }
    }
}

//  Eight bytes at a 2-byte aligned address, four 16-bit loads.
XINF_CUDA_BOTH uint2
s_load8 (const uint8_t *bytes)
{
    const uint16_t *halves = (const uint16_t *) bytes;
    uint2 eight;
    eight.x = (uint32_t) halves [0] | (uint32_t) halves [1] << 16;
    eight.y = (uint32_t) halves [2] | (uint32_t) halves [3] << 16;
    return eight;
}

//  Byte i (0 .. 7) of eight.
XINF_CUDA_BOTH uint32_t
s_byte8 (uint2 eight, int i)
{
    return ((i < 4 ? eight.x : eight.y) >> (8 * (i % 4))) & 0xffu;
}

//  Q6_K: lane 'lane' takes the 32-weight parts l, l + lanes, ... of a row
//  (part j: block j / 8, its half h = j % 8 / 4, positions l0 .. l0 + 7
//  with l0 = 8 (j % 4) of each of the half's four groups of 32, which
//  share 8 bytes of each of ql's two runs and of qh: 16-bit loads, the
//  blocks being 2-byte aligned), and adds, for each group's 8 weights,
//  d scale * ((q - 32) . x), the sum over them taken first.
template <int TOKENS>
XINF_CUDA_BOTH void
s_dot_lane_q6k (const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane, unsigned lanes,
                float *acc)
{
    for (size_t j = lane; j < cols / 32; j += lanes) {
        const uint8_t *block = row + j / 8 * 210;
        int h = (int) (j % 8 / 4), l0 = 8 * (int) (j % 4);
        uint2 low = s_load8 (block + 64 * h + l0), high = s_load8 (block + 64 * h + 32 + l0);
        uint2 bits = s_load8 (block + 128 + 32 * h + l0);
        float d = s_dot_half (((const uint16_t *) (block + 208)) [0], false), scales [4];
XINF_CUDA_UNROLL
        for (int g = 0; g < 4; g++)
            scales [g] = d * (float) (int8_t) block [192 + 8 * h + 2 * g + l0 / 16];
XINF_CUDA_UNROLL
        for (int t = 0; t < TOKENS; t++)
            if ((size_t) t < count)
XINF_CUDA_UNROLL
                for (int g = 0; g < 4; g++) {
                    const float *x = in + t * cols + j / 8 * 256 + 128 * h + 32 * g + l0;
                    float4 first = ((const float4 *) x) [0], second = ((const float4 *) x) [1];
                    float xs [8] = { first.x, first.y, first.z, first.w, second.x, second.y, second.z, second.w };
                    uint2 nibbles = g & 1 ? high : low;
                    float dot = 0;
XINF_CUDA_UNROLL
                    for (int i = 0; i < 8; i++) {
                        int q = (int) ((s_byte8 (nibbles, i) >> (4 * (g >> 1))) & 15)
                              | (int) ((s_byte8 (bits, i) >> (2 * g)) & 3) << 4;
                        dot = fmaf ((float) (q - 32), xs [i], dot);
                    }
                    acc [t] = fmaf (scales [g], dot, acc [t]);
                }
    }
}

//  One lane's share of row . in [t] for t < count (at most TOKENS, 1 or
//  XINF_CUDA_DOT_TOKENS: a step of one token needs fewer registers),
//  added to acc; xinf_cuda_dot_wide said yes.
template <int TOKENS>
XINF_CUDA_BOTH void
xinf_cuda_dot_lane (int dtype, const uint8_t *row, size_t cols, const float *in, size_t count, unsigned lane,
                    unsigned lanes, float *acc)
{
    if (dtype == XINF_DTYPE_Q8_0)
        s_dot_lane_q8<TOKENS> (row, cols, in, count, lane, lanes, acc);
    else if (dtype == XINF_DTYPE_Q4_K)
        s_dot_lane_q4k<TOKENS> (row, cols, in, count, lane, lanes, acc);
    else if (dtype == XINF_DTYPE_Q6_K)
        s_dot_lane_q6k<TOKENS> (row, cols, in, count, lane, lanes, acc);
    else
        s_dot_lane_16<TOKENS> (dtype == XINF_DTYPE_BF16, row, cols, in, count, lane, lanes, acc);
}

//  ---- several rows a warp (steps of several tokens) ---------------------------------------
//
//  A kernel of several tokens reads each chunk's activations of every
//  token from L1 for one 16-byte load of weights: a warp's eight tokens
//  are sixteen times the bytes of its weights, which L1 cannot feed at
//  HBM's pace. Taking XINF_CUDA_DOT_ROWS rows at once, a lane loads a
//  chunk's activations once for all of them. Each (row, token) sum is
//  taken in the order of the one-row lanes above, bit for bit, so a
//  token's result stays the same whatever its batch.

#define XINF_CUDA_DOT_ROWS 4

//  Rows a warp of a product kernel takes: XINF_CUDA_DOT_ROWS for steps
//  of several tokens with F16/BF16 through the wide lanes, or through the
//  q8a path, when 'several' (the backend's choice); else one.
XINF_CUDA_BOTH int
xinf_cuda_dot_rows_per_warp (int tokens, int dtype, bool wide, bool q8a, bool several)
{
    bool takes = q8a || (wide && (dtype == XINF_DTYPE_F16 || dtype == XINF_DTYPE_BF16));
    return tokens > 1 && several && takes ? XINF_CUDA_DOT_ROWS : 1;
}

//  F16/BF16: the first 'valid' of XINF_CUDA_DOT_ROWS rows (row i at
//  rows + i * row_bytes) times 'count' tokens of 'in', lane 'lane''s
//  chunks, added to acc [i][t]; each chunk's eight activations of a
//  token loaded once for all the rows.
template <int TOKENS>
XINF_CUDA_BOTH void
xinf_cuda_dot_rows_16 (bool bf16, const uint8_t *rows, size_t row_bytes, int valid, size_t cols, const float *in,
                       size_t count, unsigned lane, unsigned lanes, float (*acc) [TOKENS])
{
    size_t n_chunks = cols / 8;
    for (size_t c = lane; c < n_chunks; c += lanes) {
        uint4 packed [XINF_CUDA_DOT_ROWS];
XINF_CUDA_UNROLL
        for (int i = 0; i < XINF_CUDA_DOT_ROWS; i++)
            packed [i] = i < valid ? ((const uint4 *) (rows + i * row_bytes)) [c] : make_uint4 (0, 0, 0, 0);
        float weights [XINF_CUDA_DOT_ROWS][8];
XINF_CUDA_UNROLL
        for (int i = 0; i < XINF_CUDA_DOT_ROWS; i++)
            s_dot_chunk_weights (bf16, packed [i], weights [i]);
XINF_CUDA_UNROLL
        for (int t = 0; t < TOKENS; t++)
            if ((size_t) t < count) {
                const float4 *x = (const float4 *) (in + t * cols + c * 8);
                float4 low = x [0], high = x [1];
XINF_CUDA_UNROLL
                for (int i = 0; i < XINF_CUDA_DOT_ROWS; i++)
                    if (i < valid)
                        acc [i][t] = s_dot_chunk8_of (weights [i], low, high, acc [i][t]);
            }
    }
}

//  ---- Q8_0 with 16-bit activations (q8a) ------------------------------------------------
//
//  The device copy of a Q8_0 matrix is repacked when uploaded: its codes
//  [rows][cols] (int8) first, then, from xinf_cuda_q8a_scales_at, its
//  block scales [rows][cols / 32] (F16 bits); the same bytes as the
//  file's 34-byte blocks, in an order a warp reads whole: lane l takes the
//  16-code pieces l, l + lanes, ... of a row (one 16-byte load each, the
//  warp's 32 loads one run of 512 bytes), DEPTH of them in flight. The
//  activations are quantized first, 32 at a time into int16 codes and a
//  float scale, bit for bit as the CPU's Q8_0 products quantize them
//  (kernels/cpu/xinf_cpu_q8_act.h), and a piece's 16 products are exact
//  int32 sums (dp2a: two int16 x int8 products a step). Each piece adds
//  (float) sum * (weight scale * activation scale) to its lane's sum.

#define XINF_CUDA_Q8A_MAX 32767

//  Where the scales start in a repacked matrix, and its size.
XINF_CUDA_BOTH size_t
xinf_cuda_q8a_scales_at (size_t rows, size_t cols)
{
    return (rows * cols + 15) / 16 * 16;
}

XINF_CUDA_BOTH size_t
xinf_cuda_q8a_bytes (size_t rows, size_t cols)
{
    return xinf_cuda_q8a_scales_at (rows, cols) + rows * (cols / 32) * 2;
}

//  Weight k of row r of a repacked matrix as a float: the CPU's Q8_0
//  decoder's d * q (the embedding lookup reads the repacked copy too).
XINF_CUDA_BOTH float
xinf_cuda_q8a_weight (const uint8_t *image, size_t rows, size_t cols, size_t r, size_t k)
{
    const uint16_t *scales = (const uint16_t *) (image + xinf_cuda_q8a_scales_at (rows, cols));
    return s_dot_half (scales [r * (cols / 32) + k / 32], false) * (float) (int8_t) image [r * cols + k];
}

//  The activation scale of a block whose largest magnitude has the float
//  bits 'top' (NaN when it is Inf or NaN), and one value's code under it.
XINF_CUDA_BOTH float
xinf_cuda_q8a_scale (uint32_t top)
{
    uint32_t bits = top >= 0x7f800000u ? 0x7fc00000u : top;
    float largest;
    memcpy (&largest, &bits, sizeof largest);
    return bits == top ? largest / (float) XINF_CUDA_Q8A_MAX : largest;
}

XINF_CUDA_BOTH int16_t
xinf_cuda_q8a_code (float value, float scale)
{
    if (scale != scale || scale == 0)
        return 0;
    float code = rintf (value / scale);
    code = code < -XINF_CUDA_Q8A_MAX ? -XINF_CUDA_Q8A_MAX : code > XINF_CUDA_Q8A_MAX ? XINF_CUDA_Q8A_MAX : code;
    return (int16_t) code;
}

#if defined (__CUDACC__)
//  A warp's 32 values, one a lane, quantized as one block: the lane's
//  code into q [lane], the scale into *d by lane 0. All 32 lanes call it
//  (k_quantize_q8a, and the ops that hand their output to a Q8_0 product
//  quantized: xinf_cuda_q8a_handoff).
__device__ __forceinline__ void
xinf_cuda_q8a_warp_put (float value, unsigned lane, int16_t *q, float *d)
{
    uint32_t top = __float_as_uint (value) & 0x7fffffffu;
    for (int mask = 16; mask > 0; mask /= 2)
        top = max (top, __shfl_xor_sync (0xffffffffu, top, mask));
    float scale = xinf_cuda_q8a_scale (top);
    q [lane] = xinf_cuda_q8a_code (value, scale);
    if (lane == 0)
        *d = scale;
}
#endif

//  sum + the two int16 of 'pairs' times the bytes 0, 1 (lo) or 2, 3 (hi)
//  of 'bytes' as int8: the device's dp2a, spelled out on the host.
XINF_CUDA_BOTH int
s_dp2a (int pairs, int bytes, int sum, bool high)
{
#if defined (__CUDA_ARCH__)
    return high ? __dp2a_hi (pairs, bytes, sum) : __dp2a_lo (pairs, bytes, sum);
#else
    uint32_t a = (uint32_t) pairs, b = (uint32_t) bytes >> (high ? 16 : 0);
    int a0 = (int16_t) (a & 0xffffu), a1 = (int16_t) (a >> 16);
    int b0 = (int8_t) (b & 0xffu), b1 = (int8_t) ((b >> 8) & 0xffu);
    return sum + a0 * b0 + a1 * b1;
#endif
}

//  The exact sum of a piece's 16 codes times 16 activation codes (low:
//  the first eight as int16 pairs, high: the last eight).
XINF_CUDA_BOTH int
s_q8a_piece_sum (int4 codes, int4 low, int4 high)
{
    int sum = s_dp2a (low.x, codes.x, 0, false);
    sum = s_dp2a (low.y, codes.x, sum, true);
    sum = s_dp2a (low.z, codes.y, sum, false);
    sum = s_dp2a (low.w, codes.y, sum, true);
    sum = s_dp2a (high.x, codes.z, sum, false);
    sum = s_dp2a (high.y, codes.z, sum, true);
    sum = s_dp2a (high.z, codes.w, sum, false);
    return s_dp2a (high.w, codes.w, sum, true);
}

//  The 16 codes of piece 'p' (a half block, its weight scale 'scale')
//  times each token's activations, added to acc [t]; 'xq' and 'xd' hold
//  the quantized tokens (cols codes and cols / 32 scales each).
template <int TOKENS>
XINF_CUDA_BOTH void
s_q8a_piece_add (int4 codes, float scale, const int16_t *xq, const float *xd, size_t cols, size_t count, size_t p,
                 float *acc)
{
XINF_CUDA_UNROLL
    for (int t = 0; t < TOKENS; t++)
        if ((size_t) t < count) {
            const int4 *pairs = (const int4 *) (xq + t * cols + p * 16);
            int sum = s_q8a_piece_sum (codes, pairs [0], pairs [1]);
            acc [t] = fmaf ((float) sum, scale * xd [t * (cols / 32) + p / 2], acc [t]);
        }
}

//  One lane's share of a repacked Q8_0 row (its codes and scales) times
//  the 'count' quantized tokens, added to acc.
template <int TOKENS>
XINF_CUDA_BOTH void
xinf_cuda_dot_lane_q8a (const uint8_t *codes, const uint16_t *scales, size_t cols, const int16_t *xq,
                        const float *xd, size_t count, unsigned lane, unsigned lanes, float *acc)
{
    const int4 *pieces = (const int4 *) codes;
    size_t n_pieces = cols / 16, p = lane;
    for (; p + (XINF_CUDA_DOT_DEPTH - 1) * (size_t) lanes < n_pieces; p += XINF_CUDA_DOT_DEPTH * (size_t) lanes) {
        int4 packed [XINF_CUDA_DOT_DEPTH];
        float scale [XINF_CUDA_DOT_DEPTH];
XINF_CUDA_UNROLL
        for (int i = 0; i < XINF_CUDA_DOT_DEPTH; i++) {
            packed [i] = pieces [p + i * (size_t) lanes];
            scale [i] = s_dot_half (scales [(p + i * (size_t) lanes) / 2], false);
        }
XINF_CUDA_UNROLL
        for (int i = 0; i < XINF_CUDA_DOT_DEPTH; i++)
            s_q8a_piece_add<TOKENS> (packed [i], scale [i], xq, xd, cols, count, p + i * (size_t) lanes, acc);
    }
    for (; p < n_pieces; p += lanes)
        s_q8a_piece_add<TOKENS> (pieces [p], s_dot_half (scales [p / 2], false), xq, xd, cols, count, p, acc);
}

//  q8a: the first 'valid' of XINF_CUDA_DOT_ROWS rows of a repacked matrix
//  (row i's codes at codes + i * cols, its scales at scales + i * (cols /
//  32)) times the 'count' quantized tokens, added to acc [i][t]; each
//  piece's activations of a token loaded once for all the rows, each
//  (row, token) sum as s_q8a_piece_add takes it.
template <int TOKENS>
XINF_CUDA_BOTH void
xinf_cuda_dot_rows_q8a (const uint8_t *codes, const uint16_t *scales, size_t cols, int valid, const int16_t *xq,
                        const float *xd, size_t count, unsigned lane, unsigned lanes, float (*acc) [TOKENS])
{
    size_t n_pieces = cols / 16, blocks = cols / 32;
    for (size_t p = lane; p < n_pieces; p += lanes) {
        int4 packed [XINF_CUDA_DOT_ROWS];
        float scale [XINF_CUDA_DOT_ROWS];
XINF_CUDA_UNROLL
        for (int i = 0; i < XINF_CUDA_DOT_ROWS; i++) {
            packed [i] = i < valid ? ((const int4 *) (codes + i * cols)) [p] : make_int4 (0, 0, 0, 0);
            scale [i] = i < valid ? s_dot_half (scales [i * blocks + p / 2], false) : 0.0f;
        }
XINF_CUDA_UNROLL
        for (int t = 0; t < TOKENS; t++)
            if ((size_t) t < count) {
                const int4 *pairs = (const int4 *) (xq + t * cols + p * 16);
                int4 low = pairs [0], high = pairs [1];
                float token_scale = xd [t * blocks + p / 2];
XINF_CUDA_UNROLL
                for (int i = 0; i < XINF_CUDA_DOT_ROWS; i++)
                    if (i < valid) {
                        int sum = s_q8a_piece_sum (packed [i], low, high);
                        acc [i][t] = fmaf ((float) sum, scale [i] * token_scale, acc [i][t]);
                    }
            }
    }
}

#endif
