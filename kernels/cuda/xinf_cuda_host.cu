/*  xinf_cuda_host: the CUDA backend's host-side code. The repacked layout
    of Q8_0 matrices (xinf_cuda_dot.cuh) that the backend uploads, a run
    of rows at a time; and the kernels' own lane code run on the host, 32
    lanes added in the order of the kernels' shuffle tree, so that a
    machine without a GPU tests their indexing and arithmetic against the
    CPU's (test_backend_twins decode).
*/
#include "xinf_cuda_priv.h"
#include "xinf_cuda_decode.cuh"
#include "xinf_cuda_dot.cuh"

#include <stdlib.h>
#include <string.h>

#define WARP 32
#define PROJECT_TOKENS XINF_CUDA_DOT_TOKENS

//  ---- the repacked Q8_0 layout ---------------------------------------------------------

size_t
xinf_cuda_q8a_image_bytes (size_t rows, size_t cols)
{
    return xinf_cuda_q8a_bytes (rows, cols);
}

void
xinf_cuda_q8a_split (const void *q8_0, size_t rows, size_t cols, uint8_t *codes, uint8_t *scales)
{
    size_t blocks = cols / 32, row_bytes = blocks * 34;
    for (size_t r = 0; r < rows; r++)
        for (size_t b = 0; b < blocks; b++) {
            const uint8_t *block = (const uint8_t *) q8_0 + r * row_bytes + b * 34;
            memcpy (scales + (r * blocks + b) * 2, block, 2);
            memcpy (codes + r * cols + b * 32, block + 2, 32);
        }
}

int
xinf_cuda_q8a_put_runs (const void *q8_0, size_t rows, size_t cols, size_t run, xinf_cuda_put_fn *put, void *arg)
{
    size_t blocks = cols / 32, row_bytes = blocks * 34, scales_at = xinf_cuda_q8a_scales_at (rows, cols);
    run = run < rows ? run : rows;
    uint8_t *buffer = (uint8_t *) malloc (run * row_bytes);
    if (!buffer)
        return -1;
    int rc = 0;
    for (size_t first = 0; first < rows && !rc; first += run) {
        size_t count = rows - first < run ? rows - first : run;
        uint8_t *codes = buffer, *scales = buffer + count * cols;
        xinf_cuda_q8a_split ((const uint8_t *) q8_0 + first * row_bytes, count, cols, codes, scales);
        rc = put (arg, first * cols, codes, count * cols) || put (arg, scales_at + first * blocks * 2, scales,
                                                                  count * blocks * 2);
    }
    free (buffer);
    return rc ? -1 : 0;
}

void
xinf_cuda_q8a_repack (const void *q8_0, size_t rows, size_t cols, void *image)
{
    uint8_t *codes = (uint8_t *) image;
    memset (codes + rows * cols, 0, xinf_cuda_q8a_scales_at (rows, cols) - rows * cols);
    xinf_cuda_q8a_split (q8_0, rows, cols, codes, codes + xinf_cuda_q8a_scales_at (rows, cols));
}

//  ---- the kernels' code on the host (tests) -------------------------------------------

void
xinf_cuda_decode_row (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    for (size_t k = 0; k < cols; k++)
        out [k] = s_weight ((int) dtype, (const uint8_t *) row, k);
}

//  The warp's lanes added in the order of s_warp_store's shuffle tree
//  (at each step every lane adds the lane 'mask' away).
static void
s_tree_host (float lanes [WARP][PROJECT_TOKENS], size_t count, float *out)
{
    for (size_t t = 0; t < count; t++) {
        float sums [WARP], next [WARP];
        for (unsigned lane = 0; lane < WARP; lane++)
            sums [lane] = lanes [lane][t];
        for (unsigned mask = WARP / 2; mask > 0; mask /= 2) {
            for (unsigned lane = 0; lane < WARP; lane++)
                next [lane] = sums [lane] + sums [lane ^ mask];
            memcpy (sums, next, sizeof sums);
        }
        out [t] = sums [0];
    }
}

bool
xinf_cuda_project_row_host (xinf_dtype_t dtype, const void *row, size_t row_bytes, size_t cols, const float *x,
                            size_t count, float *out)
{
    if (count < 1 || count > PROJECT_TOKENS || !xinf_cuda_dot_wide ((int) dtype, row, row_bytes, cols, x))
        return false;
    float lanes [WARP][PROJECT_TOKENS] = { { 0 } };
    for (unsigned lane = 0; lane < WARP; lane++)
        if (count == 1)
            xinf_cuda_dot_lane<1> ((int) dtype, (const uint8_t *) row, cols, x, count, lane, WARP, lanes [lane]);
        else
            xinf_cuda_dot_lane<PROJECT_TOKENS> ((int) dtype, (const uint8_t *) row, cols, x, count, lane, WARP,
                                                lanes [lane]);
    s_tree_host (lanes, count, out);
    return true;
}

void
xinf_cuda_q8a_quantize_host (const float *x, size_t n, size_t cols, int16_t *q, float *d)
{
    for (size_t block = 0; block < n * (cols / 32); block++) {
        uint32_t top = 0;
        for (size_t i = 0; i < 32; i++) {
            uint32_t bits;
            memcpy (&bits, &x [block * 32 + i], sizeof bits);
            top = (bits & 0x7fffffffu) > top ? bits & 0x7fffffffu : top;
        }
        d [block] = xinf_cuda_q8a_scale (top);
        for (size_t i = 0; i < 32; i++)
            q [block * 32 + i] = xinf_cuda_q8a_code (x [block * 32 + i], d [block]);
    }
}

static int
s_put_host (void *arg, size_t offset, const void *bytes, size_t size)
{
    memcpy ((uint8_t *) arg + offset, bytes, size);
    return 0;
}

bool
xinf_cuda_q8a_runs_host (const void *q8_0, size_t rows, size_t cols, size_t run, void *image)
{
    if (!rows || !cols || cols % 32 || !run)
        return false;
    size_t scales_at = xinf_cuda_q8a_scales_at (rows, cols);
    memset ((uint8_t *) image + rows * cols, 0, scales_at - rows * cols);
    return xinf_cuda_q8a_put_runs (q8_0, rows, cols, run, s_put_host, image) == 0;
}

bool
xinf_cuda_q8a_decode_host (const void *q8_0, size_t rows, size_t cols, float *out)
{
    if (!rows || !cols || cols % 32)
        return false;
    uint8_t *image = (uint8_t *) malloc (xinf_cuda_q8a_bytes (rows, cols));
    if (!image)
        return false;
    xinf_cuda_q8a_repack (q8_0, rows, cols, image);
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < cols; k++)
            out [r * cols + k] = xinf_cuda_q8a_weight (image, rows, cols, r, k);
    free (image);
    return true;
}

bool
xinf_cuda_project_row_q8a_host (const void *row, size_t cols, const float *x, size_t count, float *out)
{
    if (count < 1 || count > PROJECT_TOKENS || !cols || cols % 32)
        return false;
    size_t blocks = cols / 32;
    uint8_t *image = (uint8_t *) aligned_alloc (16, (xinf_cuda_q8a_bytes (1, cols) + 15) / 16 * 16);
    int16_t *xq = (int16_t *) aligned_alloc (16, (count * cols * 2 + 15) / 16 * 16);
    float *xd = (float *) malloc (count * blocks * sizeof (float));
    bool ok = image && xq && xd;
    if (ok) {
        xinf_cuda_q8a_repack (row, 1, cols, image);
        xinf_cuda_q8a_quantize_host (x, count, cols, xq, xd);
        float lanes [WARP][PROJECT_TOKENS] = { { 0 } };
        const uint16_t *scales = (const uint16_t *) (image + xinf_cuda_q8a_scales_at (1, cols));
        for (unsigned lane = 0; lane < WARP; lane++)
            if (count == 1)
                xinf_cuda_dot_lane_q8a<1> (image, scales, cols, xq, xd, count, lane, WARP, lanes [lane]);
            else
                xinf_cuda_dot_lane_q8a<PROJECT_TOKENS> (image, scales, cols, xq, xd, count, lane, WARP, lanes [lane]);
        s_tree_host (lanes, count, out);
    }
    free (image);
    free (xq);
    free (xd);
    return ok;
}

bool
xinf_cuda_project_rows_host (xinf_dtype_t dtype, const void *rows, size_t row_bytes, size_t valid, size_t cols,
                             const float *x, size_t count, float *out)
{
    bool q8a = dtype == XINF_DTYPE_Q8_0;
    if (count < 1 || count > PROJECT_TOKENS || valid < 1 || valid > XINF_CUDA_DOT_ROWS || !cols || cols % 32
    ||  (!q8a && xinf_cuda_dot_rows_per_warp (PROJECT_TOKENS, (int) dtype, true, false, true) == 1)
    ||  (!q8a && !xinf_cuda_dot_wide ((int) dtype, rows, row_bytes, cols, x)))
        return false;
    size_t blocks = cols / 32;
    uint8_t *image = q8a ? (uint8_t *) aligned_alloc (16, (xinf_cuda_q8a_bytes (valid, cols) + 15) / 16 * 16) : NULL;
    int16_t *xq = q8a ? (int16_t *) aligned_alloc (16, (count * cols * 2 + 15) / 16 * 16) : NULL;
    float *xd = q8a ? (float *) malloc (count * blocks * sizeof (float)) : NULL;
    bool ok = !q8a || (image && xq && xd);
    if (ok) {
        if (q8a) {
            xinf_cuda_q8a_repack (rows, valid, cols, image);
            xinf_cuda_q8a_quantize_host (x, count, cols, xq, xd);
        }
        static float lanes [WARP][XINF_CUDA_DOT_ROWS][PROJECT_TOKENS];
        memset (lanes, 0, sizeof lanes);
        for (unsigned lane = 0; lane < WARP; lane++)
            if (q8a)
                xinf_cuda_dot_rows_q8a<PROJECT_TOKENS> (image, (const uint16_t *) (image + xinf_cuda_q8a_scales_at (
                                                            valid, cols)), cols, (int) valid, xq, xd, count, lane,
                                                        WARP, lanes [lane]);
            else
                xinf_cuda_dot_rows_16<PROJECT_TOKENS> (dtype == XINF_DTYPE_BF16, (const uint8_t *) rows, row_bytes,
                                                       (int) valid, cols, x, count, lane, WARP, lanes [lane]);
        for (size_t i = 0; i < valid; i++) {
            float row_lanes [WARP][PROJECT_TOKENS];
            for (unsigned lane = 0; lane < WARP; lane++)
                memcpy (row_lanes [lane], lanes [lane][i], sizeof row_lanes [lane]);
            s_tree_host (row_lanes, count, out + i * count);
        }
    }
    free (image);
    free (xq);
    free (xd);
    return ok;
}
