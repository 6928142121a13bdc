/*  test_matvec_quant: products of the quantized weight types past Q8_0
    (Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4)
    with integer activations
    (xinf_cpu_qk.h: 15 bits in spans of 32, 8 bits in spans of 256 for
    the K types). Every kernel set (portable, AVX2, AVX-512, where the
    CPU has them) gives, for matvec, matvec_batch, matvec_many and the
    matmul of few vectors, bit for bit a scalar reference of the
    specified arithmetic, for n in 1..35 (whole groups of 16 and the
    rest), 1..3 threads and row counts
    around the tiles of 8; the distance from a double-precision product
    of the dequantized weights stays within the bound the quantization of
    x allows (the largest measured share of that bound is printed); the
    matmul of many vectors (floats) is near the double product and the
    same on every thread count; NaN and infinite scales, NaN and infinite
    x, huge and tiny x, and the largest int32 block sums.  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"
#include "xinf_quant.h"
#include "xinf_quant_blocks.h"
#include "xinf_cpu_qk.h"

static const char *s_kernels [] = { "portable", "avx2", "avx512" };
#define KERNELS (sizeof s_kernels / sizeof s_kernels [0])

static const xinf_dtype_t s_types [] = {
    XINF_DTYPE_Q4_0, XINF_DTYPE_Q4_1, XINF_DTYPE_Q5_0, XINF_DTYPE_Q5_1,
    XINF_DTYPE_Q4_K, XINF_DTYPE_Q5_K, XINF_DTYPE_Q6_K, XINF_DTYPE_Q2_K, XINF_DTYPE_Q3_K,
    XINF_DTYPE_IQ4_NL, XINF_DTYPE_IQ4_XS, XINF_DTYPE_MXFP4
};
#define TYPES (sizeof s_types / sizeof s_types [0])

#define POOLS 3
static xinf_threadpool_t *s_pools [POOLS];     //  1, 2 and 3 threads

//  The largest share of the quantization bound a product used, per type.
static double s_worst [XINF_DTYPE_COUNT];
//  ... and the largest distance relative to sum |w x|.
static double s_worst_relative [XINF_DTYPE_COUNT];

//  ---- weights -------------------------------------------------------------------

static void
s_put_half (uint8_t *at, float value)
{
    uint16_t half = xinf_dtype_f32_to_fp16 (value);
    at [0] = (uint8_t) half;
    at [1] = (uint8_t) (half >> 8);
}

//  Random quants with scales of a plausible size (signed d for the types
//  without mins); special: some blocks' scales NaN or infinite.
static uint8_t *
s_weights (xinf_dtype_t dtype, size_t rows, size_t cols, uint64_t *state, bool special)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols), block_bytes = xinf_dtype_block_bytes (dtype);
    size_t blocks = rows * row_bytes / block_bytes;
    uint8_t *w = malloc (rows * row_bytes + 1);
    CHECK (w);
    for (size_t i = 0; i < rows * row_bytes; i++)
        w [i] = (uint8_t) test_random (state);
    for (size_t b = 0; b < blocks; b++) {
        uint8_t *block = w + b * block_bytes;
        float d = test_uniform (state) * 0.02f, m = test_uniform (state) * 0.1f;
        switch (dtype) {
            case XINF_DTYPE_Q6_K: s_put_half (block + 208, d * 0.01f); break;
            case XINF_DTYPE_Q3_K: s_put_half (block + 108, d * 0.05f); break;
            case XINF_DTYPE_Q2_K:
                s_put_half (block + 80, fabsf (d) * 0.3f);
                s_put_half (block + 82, fabsf (m) * 0.1f);
                break;
            case XINF_DTYPE_Q4_K: case XINF_DTYPE_Q5_K:
                s_put_half (block, fabsf (d) * 0.1f);
                s_put_half (block + 2, fabsf (m) * 0.05f);
                break;
            case XINF_DTYPE_Q4_1: case XINF_DTYPE_Q5_1:
                s_put_half (block, fabsf (d));
                s_put_half (block + 2, m);
                break;
            case XINF_DTYPE_MXFP4: block [0] = (uint8_t) (115 + test_random (state) % 8); break;
            default: s_put_half (block, d); break;
        }
        if (special && b % 7 == 3 && dtype == XINF_DTYPE_MXFP4)
            block [0] = b % 2 ? 255 : 0;       //  2^127 (12 of it overflows) and subnormal
        else if (special && b % 7 == 3)
            s_put_half (block + (dtype == XINF_DTYPE_Q6_K ? 208 : dtype == XINF_DTYPE_Q3_K ? 108
                                 : dtype == XINF_DTYPE_Q2_K ? 80 : 0), b % 2 ? NAN : -INFINITY);
    }
    return w;
}

//  x [n][cols] (special: zero, huge, tiny, NaN and Inf vectors among them).
static float *
s_vectors (size_t n, size_t cols, uint64_t *state, bool special)
{
    float *x = test_floats (n * cols, state);
    for (size_t j = 0; special && j < n; j++) {
        float *vector = x + j * cols;
        for (size_t i = 0; i < cols; i++)
            vector [i] *= j % 6 == 1 ? 0 : j % 6 == 2 ? 1e30f : j % 6 == 4 ? 1e-40f : 1;
        if (j % 6 == 3)
            vector [cols / 2] = j % 2 ? NAN : -INFINITY;
    }
    return x;
}

//  ---- the references -------------------------------------------------------------

//  The specified quantizer of a span of 32 or 256, in the test's own
//  words: q, d and the sums of the groups of 32.
static void
s_quantize_ref (const float *x, size_t span, int16_t *q, float *d, int32_t *s)
{
    float limit = span == 256 ? 127.0f : 16383.0f;
    float top = 0;
    bool finite = true;
    for (size_t i = 0; i < span; i++) {
        finite = finite && isfinite (x [i]);
        top = fabsf (x [i]) > top ? fabsf (x [i]) : top;
    }
    *d = finite ? top / limit : NAN;
    for (size_t g = 0; g < span / 32; g++)
        s [g] = 0;
    for (size_t i = 0; i < span; i++) {
        float value = !finite || *d == 0 ? 0 : nearbyintf (x [i] / *d);
        q [i] = (int16_t) (value > limit ? limit : value < -limit ? -limit : value);
        s [i / 32] += q [i];
    }
}

//  A K row . x: per block the exact integer sums of the folded weights
//  and of the mins, then one float step.
static float
s_k_dot_ref (xinf_dtype_t dtype, const uint8_t *row, const float *x, size_t cols)
{
    float acc = 0.0f;
    for (size_t b = 0; b < cols / 256; b++) {
        int16_t wq [256], q [256];
        int32_t m [16], s [8];
        float d, dmin, dx;
        xinf_qb_k_fold (dtype, row + b * xinf_dtype_block_bytes (dtype), wq, m, &d, &dmin);
        s_quantize_ref (x + b * 256, 256, q, &dx, s);
        int64_t isum = 0, msum = 0;
        for (int i = 0; i < 256; i++) {
            isum += (int64_t) wq [i] * q [i];
            msum += (int64_t) m [i / 16] * q [i];
        }
        CHECK (isum < INT32_MAX && isum > INT32_MIN);
        float u = (float) isum * (d * dx);
        float v = (float) msum * (dmin * dx);
        acc = acc + (u - v);
    }
    return isnan (acc) ? xinf_dtype_bits_to_f32 (0x7fc00000u) : acc;
}

//  Row . x by the specified arithmetic (exact int64 sums here): group g
//  into lane g % 8, the lanes summed as (0+4 + 2+6) + (1+5 + 3+7).
static float
s_dot_ref (xinf_dtype_t dtype, const uint8_t *row, const float *x, size_t cols)
{
    if (xinf_dtype_block_size (dtype) == 256)
        return s_k_dot_ref (dtype, row, x, cols);
    size_t size = xinf_dtype_block_size (dtype);
    float acc [8] = { 0 };
    for (size_t b = 0; b < cols / size; b++) {
        int16_t wq [8][32];
        float a [8], c [8];
        xinf_quant_decode (dtype, row, b, 1, wq [0], 32, a, c, 1);
        for (size_t g = 0; g < size / 32; g++) {
            int16_t q [32];
            float d;
            int32_t s;
            s_quantize_ref (x + b * size + g * 32, 32, q, &d, &s);
            int64_t isum = 0;
            for (int i = 0; i < 32; i++)
                isum += (int64_t) wq [g][i] * q [i];
            CHECK (isum < INT32_MAX && isum > INT32_MIN);
            float scaled = (float) isum * a [g];
            float mins = (float) s * c [g];
            float term = (scaled + mins) * d;
            size_t lane = (b * size / 32 + g) % 8;
            acc [lane] = acc [lane] + term;
        }
    }
    float h0 = acc [0] + acc [4], h1 = acc [1] + acc [5], h2 = acc [2] + acc [6], h3 = acc [3] + acc [7];
    float p0 = h0 + h2, p1 = h1 + h3;
    float sum = p0 + p1;
    return isnan (sum) ? xinf_dtype_bits_to_f32 (0x7fc00000u) : sum;
}

static bool
s_same (float a, float b)
{
    return xinf_dtype_f32_to_bits (a) == xinf_dtype_f32_to_bits (b);
}

//  y [j][r] against the reference, bit for bit.
static void
s_check_ref (xinf_dtype_t dtype, const uint8_t *w, size_t rows, size_t cols, const float *x, size_t n,
             const float *y, const char *what)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < rows; r++) {
            float expected = s_dot_ref (dtype, w + r * row_bytes, x + j * cols, cols);
            if (!s_same (y [j * rows + r], expected)) {
                fprintf (stderr, "%s %s (%s) %zux%zu row %zu vector %zu: %.9g, expected %.9g\n", what,
                         xinf_dtype_name (dtype), xinf_cpu_simd_name (), rows, cols, r, j, y [j * rows + r], expected);
                exit (1);
            }
        }
}

//  y [j][r] within the quantization bound of the double product of the
//  dequantized weights: sum over x's spans (the blocks, 32 or 256) of
//  sum |w| amax / 32766 (K types: / 254), plus 1e-6 of sum |w x| for the
//  float sums.
//  Finite inputs only.
static void
s_check_double (xinf_dtype_t dtype, const uint8_t *w, size_t rows, size_t cols, const float *x, size_t n,
                const float *y)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    float *row = malloc (cols * sizeof (float));
    CHECK (row);
    for (size_t r = 0; r < rows; r++) {
        xinf_dtype_to_f32 (dtype, w + r * row_bytes, cols, row);
        for (size_t j = 0; j < n; j++) {
            const float *v = x + j * cols;
            double exact = 0, magnitude = 0, bound = 0;
            size_t span = xinf_dtype_block_size (dtype);        //  x's spans: the blocks
            for (size_t g = 0; g < cols / span; g++) {
                double top = 0, weights = 0;
                for (size_t i = g * span; i < g * span + span; i++) {
                    exact += (double) row [i] * v [i];
                    magnitude += fabs ((double) row [i] * v [i]);
                    weights += fabs (row [i]);
                    top = fabs (v [i]) > top ? fabs (v [i]) : top;
                }
                bound += weights * top / (span == 256 ? 254 : 32766);
            }
            bound = bound * 1.0001 + 1e-6 * magnitude + 1e-37;
            double error = fabs (y [j * rows + r] - exact);
            if (!(error <= bound)) {
                fprintf (stderr, "%s %zux%zu row %zu vector %zu: %.9g, double %.9g, bound %.3g\n",
                         xinf_dtype_name (dtype), rows, cols, r, j, y [j * rows + r], exact, bound);
                exit (1);
            }
            s_worst [dtype] = error / bound > s_worst [dtype] ? error / bound : s_worst [dtype];
            if (magnitude > 0 && error / magnitude > s_worst_relative [dtype])
                s_worst_relative [dtype] = error / magnitude;
        }
    }
    free (row);
}

//  ---- the products -------------------------------------------------------------

typedef struct { size_t rows, cols; } s_shape_t;

//  Matrix w and x [n] (taken): on every kernel set, matvec of each
//  vector, batch of all on every pool and matmul, each the reference's
//  bits (and, unless special, near the double product).
static void
s_product_of (xinf_dtype_t dtype, s_shape_t shape, size_t n, bool special, uint8_t *w, float *x)
{
    size_t count = n * shape.rows;
    float *y = malloc (count * sizeof (float)), *first = malloc (count * sizeof (float));
    CHECK (y && first);
    bool have_first = false;
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        for (size_t j = 0; j < n; j++)
            xinf_cpu_matvec (s_pools [j % POOLS], dtype, w, shape.rows, shape.cols, x + j * shape.cols,
                             y + j * shape.rows);
        if (!have_first) {
            s_check_ref (dtype, w, shape.rows, shape.cols, x, n, y, "matvec");
            if (!special)
                s_check_double (dtype, w, shape.rows, shape.cols, x, n, y);
            have_first = true;
        }
        //  the same bits on every set (NaN always 0x7fc00000)
        for (size_t i = 0; kernels > 0 && i < count; i++)
            if (!s_same (y [i], first [i])) {
                fprintf (stderr, "%s %s %zux%zu n %zu: product %zu %.9g, the previous set %.9g\n",
                         xinf_dtype_name (dtype), s_kernels [kernels], shape.rows, shape.cols, n, i, y [i], first [i]);
                exit (1);
            }
        memcpy (first, y, count * sizeof (float));
        for (int p = 0; p < POOLS; p++) {
            memset (y, 0xa5, count * sizeof (float));
            xinf_cpu_matvec_batch (s_pools [p], dtype, w, shape.rows, shape.cols, x, n, y);
            CHECK (memcmp (y, first, count * sizeof (float)) == 0);
        }
        if (n < 16) {
            memset (y, 0xa5, count * sizeof (float));
            xinf_cpu_matmul (s_pools [n % POOLS], dtype, w, shape.rows, shape.cols, x, n, y);
            CHECK (memcmp (y, first, count * sizeof (float)) == 0);
        }
    }
    xinf_cpu_simd_set (true);
    free (w), free (x), free (y), free (first);
}

//  One random matrix and x [n] (special: NaN and infinite scales, zero,
//  huge, tiny, NaN and Inf vectors), as s_product_of.
static void
s_product_case (xinf_dtype_t dtype, s_shape_t shape, size_t n, bool special)
{
    uint64_t state = shape.rows * 31 + shape.cols * 7 + n + dtype * 1000;
    uint8_t *w = s_weights (dtype, shape.rows, shape.cols, &state, special);
    float *x = s_vectors (n, shape.cols, &state, special);
    s_product_of (dtype, shape, n, special, w, x);
}

static const s_shape_t s_shapes_32 [] = { { 1, 32 }, { 7, 96 }, { 9, 288 }, { 17, 896 }, { 66, 96 }, { 3, 4864 } };
static const s_shape_t s_shapes_256 [] = { { 1, 256 }, { 7, 512 }, { 9, 1280 }, { 17, 256 }, { 33, 768 }, { 3, 4864 } };

static void
test_products (void)
{
    size_t counts [] = { 1, 2, 3, 5, 8, 9, 16, 17, 35 };
    for (size_t t = 0; t < TYPES; t++) {
        const s_shape_t *shapes = xinf_dtype_block_size (s_types [t]) == 32 ? s_shapes_32 : s_shapes_256;
        for (size_t s = 0; s < 6; s++)
            for (size_t c = 0; c < sizeof counts / sizeof counts [0]; c++)
                s_product_case (s_types [t], shapes [s], counts [c], false);
    }
}

//  NaN and infinite scales, zero, huge, tiny, NaN and Inf vectors: the
//  reference's bits.
static void
test_products_special (void)
{
    size_t counts [] = { 1, 6, 13, 17 };
    for (size_t t = 0; t < TYPES; t++) {
        s_shape_t shape = { 11, xinf_dtype_block_size (s_types [t]) == 32 ? 160 : 512 };
        for (size_t c = 0; c < 4; c++)
            s_product_case (s_types [t], shape, counts [c], true);
    }
}

//  IQ4 blocks at their extremes: every nibble's value -127, 113, random
//  or alternating between them; IQ4_XS's scales at -32, 31 or random; d
//  of 1, -1, the largest half, a subnormal, -0, infinite and NaN; x all
//  ones or random; 1, 4 and 17 vectors (the packed groups and the rest):
//  the reference's bits on every kernel set.
static void
test_iq4_extremes (void)
{
    static const uint16_t ds [] = { 0x3c00, 0xbc00, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00 };
    static const xinf_dtype_t types [] = { XINF_DTYPE_IQ4_NL, XINF_DTYPE_IQ4_XS };
    uint64_t state = 41;
    size_t cases = 0;
    for (size_t t = 0; t < 2; t++) {
        xinf_dtype_t dtype = types [t];
        bool xs = dtype == XINF_DTYPE_IQ4_XS;
        s_shape_t shape = { 5, xs ? 512 : 896 };
        size_t row_bytes = xinf_dtype_row_bytes (dtype, shape.cols), bytes = xinf_dtype_block_bytes (dtype);
        for (int pattern = 0; pattern < 4; pattern++)
            for (size_t d = 0; d < sizeof ds / sizeof ds [0]; d++)
                for (size_t n = 1; n <= 17; n += n == 1 ? 3 : 13) {
                    uint8_t *w = malloc (shape.rows * row_bytes);
                    CHECK (w);
                    for (size_t b = 0; b < shape.rows * row_bytes / bytes; b++) {
                        uint8_t *block = w + b * bytes;
                        memcpy (block, &ds [d], 2);
                        for (size_t i = 2; i < bytes; i++) {
                            uint8_t low = pattern == 0 ? 0 : pattern == 1 ? 15 : pattern == 3 ? (i % 2 ? 15 : 0)
                                        : (uint8_t) (test_random (&state) & 15);
                            uint8_t high = pattern == 3 ? (uint8_t) (15 - low) : pattern == 2
                                         ? (uint8_t) (test_random (&state) & 15) : low;
                            block [i] = (uint8_t) (low | high << 4);
                        }
                        if (xs && pattern != 2) {            //  scales all 0 (-32) or all 63 (31)
                            uint8_t fill = pattern % 2 ? 0xff : 0x00;
                            memset (block + 2, fill, 6);
                        }
                    }
                    float *x = s_vectors (n, shape.cols, &state, false);
                    for (size_t i = 0; pattern != 2 && i < n * shape.cols; i++)
                        x [i] = 1.0f;
                    s_product_of (dtype, shape, n, true, w, x);
                    cases++;
                }
    }
    fprintf (stderr, "      %zu IQ4 cases at their extremes\n", cases);
}

//  Many rows: many tasks a thread, tiles prefetching the next.
static void
test_products_tall (void)
{
    for (size_t t = 0; t < TYPES; t++) {
        s_shape_t shape = { 301, xinf_dtype_block_size (s_types [t]) == 32 ? 896 : 1024 };
        s_product_case (s_types [t], shape, 1, false);
        s_product_case (s_types [t], shape, 4, false);
        s_product_case (s_types [t], shape, 19, false);
    }
}

//  The largest block sums: Q6_K weights all (0 - 32) * -128 = 4096 and x
//  all equal (q all 127): 256 * 4096 * 127 in one block.
static void
test_largest_sums (void)
{
    uint8_t block [210] = { 0 };
    memset (block + 192, 0x80, 16);
    s_put_half (block + 208, 1.0f);
    float x [256];
    for (int i = 0; i < 256; i++)
        x [i] = 1.0f;
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        float y;
        xinf_cpu_matvec (NULL, XINF_DTYPE_Q6_K, block, 1, 256, x, &y);
        CHECK (s_same (y, s_dot_ref (XINF_DTYPE_Q6_K, block, x, 256)));
        CHECK_NEAR (y, 256 * 4096.0, 1e-6);
    }
    xinf_cpu_simd_set (true);
    //  IQ4_XS's largest: every nibble's value -127 at scale 0 - 32, 4064 a
    //  weight, against 16 vectors (the packed groups) and 1
    uint8_t iq4 [136] = { 0 };
    s_put_half (iq4, 1.0f);
    float *xs = malloc (16 * 256 * sizeof (float)), ys [16];
    CHECK (xs);
    for (int i = 0; i < 16 * 256; i++)
        xs [i] = 1.0f;
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        for (size_t n = 1; n <= 16; n += 15) {
            xinf_cpu_matmul (s_pools [0], XINF_DTYPE_IQ4_XS, iq4, 1, 256, xs, n, ys);
            for (size_t j = 0; j < n; j++) {
                CHECK (s_same (ys [j], s_dot_ref (XINF_DTYPE_IQ4_XS, iq4, xs, 256)));
                CHECK_NEAR (ys [j], 256 * 4064.0, 1e-6);
            }
        }
    }
    free (xs);
    xinf_cpu_simd_set (true);
}

//  matvec_many (shared and separate x, Q8_0 and F16 among them) gives
//  the bits of separate matvecs.
static void
test_many (void)
{
    uint64_t state = 9;
    xinf_dtype_t dtypes [8] = { XINF_DTYPE_Q4_K, XINF_DTYPE_Q6_K, XINF_DTYPE_Q8_0, XINF_DTYPE_IQ4_NL, XINF_DTYPE_F16,
                                XINF_DTYPE_Q2_K, XINF_DTYPE_Q3_K, XINF_DTYPE_IQ4_XS };
    size_t rows [8] = { 64, 33, 130, 17, 9, 21, 70, 45 };
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        xinf_cpu_matvec_t products [8];
        float *expected [8];
        float *x = test_floats (2 * 512, &state);
        for (int m = 0; m < 8; m++) {
            float *decoded = NULL;
            void *w = xinf_dtype_is_quant (dtypes [m]) ? s_weights (dtypes [m], rows [m], 512, &state, false)
                                                       : test_weights (dtypes [m], rows [m], 512, &state, &decoded);
            free (decoded);
            const float *xm = x + (m == 1 ? 512 : 0);
            expected [m] = calloc (rows [m], sizeof (float));
            xinf_cpu_matvec (NULL, dtypes [m], w, rows [m], 512, xm, expected [m]);
            products [m] = (xinf_cpu_matvec_t) { dtypes [m], w, rows [m], 512, xm, calloc (rows [m], sizeof (float)) };
        }
        xinf_cpu_matvec_many (s_pools [1], products, 8);
        for (int m = 0; m < 8; m++) {
            CHECK (memcmp (products [m].y, expected [m], rows [m] * sizeof (float)) == 0);
            free (products [m].y), free ((void *) products [m].w), free (expected [m]);
        }
        free (x);
    }
    xinf_cpu_simd_set (true);
}

//  The matmul of many vectors (the weights widened to floats): near the
//  double product, the same on every thread count.
static void
test_matmul (void)
{
    uint64_t state = 5;
    for (size_t t = 0; t < TYPES; t++) {
        size_t rows = 37, cols = 512, n = 40;
        uint8_t *w = s_weights (s_types [t], rows, cols, &state, false);
        float *x = test_floats (n * cols, &state), *y = malloc (n * rows * sizeof (float));
        float *first = malloc (n * rows * sizeof (float)), *row = malloc (cols * sizeof (float));
        CHECK (y && first && row);
        for (int p = 0; p < POOLS; p++) {
            xinf_cpu_matmul (s_pools [p], s_types [t], w, rows, cols, x, n, p ? y : first);
            CHECK (p == 0 || memcmp (y, first, n * rows * sizeof (float)) == 0);
        }
        for (size_t r = 0; r < rows; r++) {
            xinf_dtype_to_f32 (s_types [t], w + r * xinf_dtype_row_bytes (s_types [t], cols), cols, row);
            for (size_t j = 0; j < n; j++) {
                double exact = 0, magnitude = 0;
                for (size_t i = 0; i < cols; i++) {
                    exact += (double) row [i] * x [j * cols + i];
                    magnitude += fabs ((double) row [i] * x [j * cols + i]);
                }
                CHECK (fabs (first [j * rows + r] - exact) <= 1e-5 * magnitude + 1e-30);
            }
        }
        free (w), free (x), free (y), free (first), free (row);
    }
}

//  Each set's 8-bit quantizer of the K types gives the portable one's
//  bytes: random spans, spans with zeros, ties at .5, huge, tiny and
//  subnormal values, Inf and NaN.
static void
test_quantize_k (void)
{
    const xinf_cpu_qk_kern_t *sets [2] = { xinf_cpu_qk_avx2 (), xinf_cpu_qk_avx512 () };
    uint64_t state = 77;
    for (int round = 0; round < 400; round++) {
        float x [256];
        float *random = test_floats (256, &state);
        memcpy (x, random, sizeof x);
        free (random);
        float scale = round % 5 == 0 ? 1e-39f : round % 5 == 1 ? 3e37f : round % 5 == 2 ? 127.0f : 1.0f;
        for (int i = 0; i < 256; i++)
            x [i] = round % 5 == 2 ? (float) ((i % 255) - 127) + 0.5f : x [i] * scale;
        if (round % 7 == 3)
            memset (x, 0, sizeof x);
        if (round % 11 == 4)
            x [round % 256] = round % 2 ? INFINITY : NAN;
        int8_t q [256], q_set [256];
        int16_t s16 [16], s16_set [16], s32 [8], s32_set [8];
        float d, d_set;
        xinf_cpu_qk_quantize_k (x, q, &d, s16, s32);
        for (int k = 0; k < 2; k++) {
            if (!sets [k])
                continue;
            sets [k]->quantize_k (x, q_set, &d_set, s16_set, s32_set);
            CHECK (memcmp (q, q_set, sizeof q) == 0 && memcmp (s16, s16_set, sizeof s16) == 0);
            CHECK (memcmp (s32, s32_set, sizeof s32) == 0);
            CHECK (s_same (d, d_set) || (isnan (d) && isnan (d_set)));
        }
    }
}

//  Both AVX-512 k_rows (with GFNI and VBMI, the default where the CPU has
//  them, and without) give the reference's bits, called directly on
//  vectors quantized by the portable quantizer: 1..6 vectors, row counts
//  around the tiles of 4, special weights and vectors, and Q6_K blocks
//  whose products reach the extremes of the packed int16 sums (codes 63
//  or 0 against q = +-127).
static void
test_k_rows_avx512 (void)
{
    xinf_cpu_qk_k_rows_fn *fns [2] = { xinf_cpu_qk_k_rows_avx512 (), xinf_cpu_qk_k_rows_avx512_plain () };
    if (!xinf_cpu_qk_avx512 () || !fns [0] || !fns [1])
        return;
    const xinf_dtype_t types [3] = { XINF_DTYPE_Q4_K, XINF_DTYPE_Q5_K, XINF_DTYPE_Q6_K };
    size_t cols = 768, spans = cols / 256;
    uint64_t state = 31;
    for (int round = 0; round < 36; round++) {
        xinf_dtype_t dtype = types [round % 3];
        size_t rows = 1 + (size_t) round % 9, n = 1 + (size_t) round % 6, row_bytes = xinf_dtype_row_bytes (dtype, cols);
        bool special = round % 4 == 3, extreme = round % 5 == 2;
        uint8_t *w = s_weights (dtype, rows, cols, &state, special);
        float *x = s_vectors (n, cols, &state, special);
        for (size_t b = 0; extreme && dtype == XINF_DTYPE_Q6_K && b < rows * spans; b++) {
            uint8_t *block = w + b * 210;
            memset (block, b % 2 ? 0xff : 0, 192);        //  codes 63 or 0
            for (size_t i = 0; i < n * cols; i++)
                x [i] = i % 3 ? 1.0f : -1.0f;
        }
        xinf_qk_act_t act = { n, cols, cols / 32, 256, spans, malloc (n * spans * sizeof (float)), NULL, NULL,
                              aligned_alloc (64, n * cols), malloc (n * cols / 16 * sizeof (int16_t)),
                              malloc (n * cols / 32 * sizeof (int16_t)), NULL, 0, NULL, 0 };
        CHECK (act.d && act.q8 && act.s16 && act.s32);
        for (size_t j = 0; j < n; j++)
            for (size_t b = 0; b < spans; b++)
                xinf_cpu_qk_quantize_k (x + j * cols + b * 256, act.q8 + j * cols + b * 256, act.d + j * spans + b,
                                        act.s16 + (j * cols + b * 256) / 16, act.s32 + j * cols / 32 + b * 8);
        void *scratch = aligned_alloc (64, XINF_QK_SCRATCH + xinf_cpu_qk_k_scratch (cols));
        float *y = malloc (n * rows * sizeof (float));
        CHECK (scratch && y);
        for (int f = 0; f < 2; f++) {
            fns [f] (dtype, w, row_bytes, rows, &act, y, rows, scratch);
            for (size_t j = 0; j < n; j++)
                for (size_t r = 0; r < rows; r++)
                    CHECK (s_same (y [j * rows + r], s_k_dot_ref (dtype, w + r * row_bytes, x + j * cols, cols)));
        }
        free (w), free (x), free (y), free (scratch);
        free (act.d), free (act.q8), free (act.s16), free (act.s32);
    }
}

int
main (void)
{
    bool simd = xinf_cpu_simd_set (true);
    fprintf (stderr, "test_matvec_quant (SIMD %s, fastest %s):\n", simd ? "available" : "not available",
             xinf_cpu_simd_name ());
    for (int p = 0; p < POOLS; p++)
        s_pools [p] = xinf_threadpool_new (p + 1);
    RUN (test_quantize_k);
    RUN (test_k_rows_avx512);
    RUN (test_products);
    RUN (test_products_special);
    RUN (test_products_tall);
    RUN (test_largest_sums);
    RUN (test_iq4_extremes);
    RUN (test_many);
    RUN (test_matmul);
    for (size_t t = 0; t < TYPES; t++)
        fprintf (stderr, "  %s: largest distance from the double product: %.3f of the quantization bound, "
                 "%.2e of sum |w x|\n", xinf_dtype_name (s_types [t]), s_worst [s_types [t]],
                 s_worst_relative [s_types [t]]);
    for (int p = 0; p < POOLS; p++)
        xinf_threadpool_destroy (&s_pools [p]);
    return 0;
}
