/*  test_matvec_q8act: Q8_0 products with 16-bit activations
    (xinf_cpu_q8_act.h). The quantizer of every kernel set against a
    double-precision reference and against the specified float steps; the
    products of every kernel set (portable, AVX2, AVX-512 VNNI, where the
    CPU has them) bit for bit equal to a scalar reference of the
    specified arithmetic, for matvec, matvec_many and matvec_batch with
    n in 1..9, 16, 17, 64, 65, 1..3 threads and row counts around the
    tiles; their distance from the float matvec within the bound the
    quantization allows; zero, huge, tiny, -128 and non-finite inputs.  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"
#include "xinf_cpu_q8_act.h"

#include <float.h>

//  The kernel sets; xinf_cpu_simd_use skips those the CPU lacks.
static const char *s_kernels [] = { "portable", "avx2", "avx512" };
#define KERNELS (sizeof s_kernels / sizeof s_kernels [0])

#define POOLS 3
static xinf_threadpool_t *s_pools [POOLS];     //  1, 2 and 3 threads

//  ---- the reference ------------------------------------------------------------

//  The specified quantizer of one block, in the test's own words.
static void
s_quantize_ref (const float *x, int16_t *q, float *d)
{
    float top = 0;
    bool finite = true;
    for (int i = 0; i < 32; i++) {
        finite = finite && isfinite (x [i]);
        top = fabsf (x [i]) > top ? fabsf (x [i]) : top;
    }
    *d = finite ? top / 32767.0f : NAN;
    for (int i = 0; i < 32; i++) {
        float value = !finite || *d == 0 ? 0 : nearbyintf (x [i] / *d);
        q [i] = (int16_t) (value > 32767 ? 32767 : value < -32767 ? -32767 : value);
    }
}

//  Row . x by the specified arithmetic: exact block sums (int64 here),
//  then scale = dw d, term = isum scale, acc += term, in block order.
static float
s_dot_ref (const uint8_t *row, const float *x, size_t cols)
{
    float acc = 0.0f;
    for (size_t at = 0; at < cols; at += 32, row += 34) {
        int16_t q [32];
        float d;
        s_quantize_ref (x + at, q, &d);
        int64_t isum = 0;
        for (int i = 0; i < 32; i++)
            isum += (int64_t) (int8_t) row [2 + i] * q [i];
        float scale = xinf_dtype_fp16_to_f32 ((uint16_t) (row [0] | row [1] << 8)) * d;
        float term = (float) isum * scale;
        acc = acc + term;
    }
    return acc;
}

//  Equal bits, or both NaN.
static bool
s_same (float a, float b)
{
    return xinf_dtype_f32_to_bits (a) == xinf_dtype_f32_to_bits (b) || (isnan (a) && isnan (b));
}

//  ---- the quantizer --------------------------------------------------------------

//  The blocks of the quantizer tests: random, tiny, huge, zero, signed
//  zero, halves (q exactly between two integers), and non-finite.
static void
s_block_values (int kind, uint64_t *state, float *x)
{
    for (int i = 0; i < 32; i++) {
        float u = test_uniform (state);
        switch (kind) {
            case 0: x [i] = u; break;
            case 1: x [i] = u * 1e-39f; break;                          //  subnormals
            case 2: x [i] = u * FLT_MAX; break;
            case 3: x [i] = 0; break;
            case 4: x [i] = -0.0f; break;
            case 5: x [i] = (float) ((int) (u * 30000) + 0.5) / 32767.0f; break;  //  near halves
            case 6: x [i] = i == 7 ? INFINITY : u; break;
            case 7: x [i] = i == 30 ? NAN : u; break;
            case 8: x [i] = i == 3 ? -INFINITY : u * 1e-3f; break;
            case 9: x [i] = i == 0 ? 32767.0f : (float) (i - 16) + 0.5f; break;  //  d = 1: exact halves
            default: x [i] = i == 0 ? 1e-45f : 0; break;                 //  d rounds to 0
        }
    }
}

//  One block: against the test's reference (bit for bit) and a double
//  computation (d the correctly rounded max / 127, |q - x/d| <= 1/2).
static void
s_check_block (const float *x, const int16_t *q, float d)
{
    int16_t q_ref [32];
    float d_ref;
    s_quantize_ref (x, q_ref, &d_ref);
    CHECK (s_same (d, d_ref));
    CHECK (memcmp (q, q_ref, sizeof q_ref) == 0);
    if (isnan (d) || d == 0)
        return;
    double top = 0;
    for (int i = 0; i < 32; i++)
        top = fabs ((double) x [i]) > top ? fabs ((double) x [i]) : top;
    CHECK (d == (float) (top / 32767));
    for (int i = 0; i < 32; i++) {
        double exact = x [i] / (double) d;
        CHECK (fabs (q [i] - exact) <= 0.5 + 32768.0 / (1 << 24) || (fabs (exact) > 32767 && abs (q [i]) == 32767));
        if (fabs (q [i] - exact) == 0.5)
            CHECK (q [i] % 2 == 0);  //  a true half goes to even
    }
}

static void
test_quantizer (void)
{
    const xinf_cpu_q8_kern_t *sets [] = { &xinf_cpu_q8_portable, xinf_cpu_q8_avx2 (), xinf_cpu_q8_avx512 () };
    uint64_t state = 5;
    size_t n = 3, cols = 11 * 32 * 4;
    float *x = malloc (n * cols * sizeof (float));
    for (int round = 0; round < 50; round++) {
        for (size_t at = 0; at < n * cols; at += 32)
            s_block_values ((int) (at / 32 + round) % 11, &state, x + at);
        for (size_t s = 0; s < 3; s++) {
            if (!sets [s])
                continue;
            xinf_q8_act_t act = { n, cols, cols / 32, malloc (n * cols * 2), malloc (n * cols / 32 * 4), NULL, 0 };
            act.packed = sets [s]->packed_bytes (n, cols) ? malloc (sets [s]->packed_bytes (n, cols)) : NULL;
            sets [s]->quantize (x, &act);
            for (size_t block = 0; block < n * cols / 32; block++)
                s_check_block (x + block * 32, act.q + block * 32, act.d [block]);
            free (act.q), free (act.d), free (act.packed);
        }
    }
    free (x);
}

//  ---- products -------------------------------------------------------------------

//  Every result bit for bit the reference's.
static void
s_check_ref (const uint8_t *w, size_t rows, size_t cols, const float *x, size_t n, const float *y, const char *what)
{
    size_t row_bytes = xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, cols);
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < rows; r++) {
            float expected = s_dot_ref (w + r * row_bytes, x + j * cols, cols);
            if (!s_same (y [j * rows + r], expected)) {
                fprintf (stderr, "%s %s %zux%zu n %zu: row %zu vector %zu: %.9g (%08x) != %.9g (%08x)\n", what,
                         xinf_cpu_simd_name (), rows, cols, n, r, j, y [j * rows + r],
                         (unsigned) xinf_dtype_f32_to_bits (y [j * rows + r]), expected,
                         (unsigned) xinf_dtype_f32_to_bits (expected));
                CHECK (0);
            }
        }
}

//  |y - float matvec| within what rounding x to d/2 a element allows:
//  sum over blocks of (sum |w|) max|x| / 65534, plus float rounding.
static void
s_check_float (const uint8_t *w, const float *decoded, size_t rows, size_t cols, const float *x, const float *y,
               const float *y_float)
{
    for (size_t r = 0; r < rows; r++) {
        double bound = 0, magnitude = 0;
        for (size_t at = 0; at < cols; at += 32) {
            double weights = 0, top = 0;
            for (int i = 0; i < 32; i++) {
                weights += fabs (decoded [r * cols + at + i]);
                top = fabs (x [at + i]) > top ? fabs (x [at + i]) : top;
                magnitude += fabs (decoded [r * cols + at + i] * x [at + i]);
            }
            bound += weights * top / 65534;
        }
        CHECK (fabs (y [r] - y_float [r]) <= bound * 1.0001 + 1e-6 * magnitude + 1e-30);
    }
}

//  x [n][cols] with some special vectors mixed in: all zero, huge,
//  NaN and Inf.
static float *
s_vectors (size_t n, size_t cols, uint64_t *state, bool special)
{
    float *x = test_floats (n * cols, state);
    for (size_t j = 0; special && j < n; j++) {
        float *vector = x + j * cols;
        if (j % 5 == 1)
            memset (vector, 0, cols * sizeof (float));
        if (j % 5 == 2)
            for (size_t i = 0; i < cols; i++)
                vector [i] *= 1e30f;
        if (j % 5 == 3)
            vector [cols / 2] = j % 2 ? NAN : -INFINITY;
    }
    return x;
}

//  Q8_0 weights with -128 and 127 among them.
static uint8_t *
s_weights (size_t rows, size_t cols, uint64_t *state, float **decoded)
{
    uint8_t *w = test_weights (XINF_DTYPE_Q8_0, rows, cols, state, decoded);
    size_t row_bytes = xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, cols);
    for (size_t r = 0; r < rows; r += 3) {
        uint8_t *block = w + r * row_bytes + (r % (cols / 32)) * 34;
        float d = xinf_dtype_fp16_to_f32 ((uint16_t) (block [0] | block [1] << 8));
        block [2 + r % 32] = 0x80;                                   //  -128
        block [2 + (r + 5) % 32] = 127;
        (*decoded) [r * cols + (r % (cols / 32)) * 32 + r % 32] = -128 * d;
        (*decoded) [r * cols + (r % (cols / 32)) * 32 + (r + 5) % 32] = 127 * d;
    }
    return w;
}

typedef struct { size_t rows, cols; } s_shape_t;

//  One matrix and x [n]: on every kernel set, matvec of each vector and
//  batch of all on every pool, each bit for bit the reference.
static void
s_product_case (s_shape_t shape, size_t n, bool special)
{
    uint64_t state = shape.rows * 31 + shape.cols * 7 + n;
    float *decoded;
    uint8_t *w = s_weights (shape.rows, shape.cols, &state, &decoded);
    float *x = s_vectors (n, shape.cols, &state, special);
    size_t count = n * shape.rows;
    float *y = malloc (count * sizeof (float)), *first = malloc (count * sizeof (float));
    float *y_float = malloc (shape.rows * sizeof (float));
    bool have_first = false;
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        for (size_t j = 0; j < n; j++)
            xinf_cpu_matvec (s_pools [j % POOLS], XINF_DTYPE_Q8_0, w, shape.rows, shape.cols, x + j * shape.cols,
                             y + j * shape.rows);
        s_check_ref (w, shape.rows, shape.cols, x, n, y, "matvec");
        if (!have_first)
            memcpy (first, y, count * sizeof (float)), have_first = true;
        CHECK (memcmp (y, first, count * sizeof (float)) == 0);
        for (int p = 0; p < POOLS; p++) {
            memset (y, 0xa5, count * sizeof (float));
            xinf_cpu_matvec_batch (s_pools [p], XINF_DTYPE_Q8_0, w, shape.rows, shape.cols, x, n, y);
            CHECK (memcmp (y, first, count * sizeof (float)) == 0);
        }
        if (!special) {
            xinf_cpu_q8_act_set (false);
            xinf_cpu_matvec (NULL, XINF_DTYPE_Q8_0, w, shape.rows, shape.cols, x, y_float);
            xinf_cpu_q8_act_set (true);
            s_check_float (w, decoded, shape.rows, shape.cols, x, first, y_float);
        }
    }
    xinf_cpu_simd_set (true);
    free (w), free (decoded), free (x), free (y), free (first), free (y_float);
}

//  Rows around the tiles of 8 (a partial tile gathers its last row's
//  scales again) and the tasks; 1, 3, 5, 17, 28 and 152 blocks.
static const s_shape_t s_shapes [] = {
    { 1, 32 }, { 7, 96 }, { 13, 160 }, { 8, 544 }, { 37, 896 }, { 66, 96 }, { 9, 4864 }, { 130, 544 }
};

static void
test_products (void)
{
    size_t counts [] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 64, 65 };
    for (size_t s = 0; s < sizeof s_shapes / sizeof s_shapes [0]; s++)
        for (size_t c = 0; c < sizeof counts / sizeof counts [0]; c++)
            s_product_case (s_shapes [s], counts [c], false);
}

//  Zero, huge, NaN and Inf vectors among the others: the reference's bits
//  (NaN wherever a vector holds Inf or NaN).
static void
test_products_special (void)
{
    s_shape_t shapes [] = { { 11, 96 }, { 20, 544 } };
    size_t counts [] = { 1, 5, 16, 33 };
    for (size_t s = 0; s < 2; s++)
        for (size_t c = 0; c < 4; c++)
            s_product_case (shapes [s], counts [c], true);
}

//  Many rows: many tasks a thread, every tile prefetching the next.
static void
test_products_tall (void)
{
    s_shape_t tall [] = { { 1027, 96 }, { 301, 896 } };
    size_t counts [] = { 1, 3, 16, 21 };
    for (size_t t = 0; t < 2; t++)
        for (size_t c = 0; c < 4; c++)
            s_product_case (tall [t], counts [c], false);
}

//  matvec_many (shared and separate x, a float product among them) gives
//  the bits of separate matvecs.
static void
test_many (void)
{
    uint64_t state = 9;
    size_t rows [4] = { 64, 33, 130, 17 };
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        xinf_cpu_matvec_t products [4];
        float *decoded [4], *expected [4];
        float *x = test_floats (2 * 96, &state);
        for (int m = 0; m < 4; m++) {
            xinf_dtype_t dtype = m == 3 ? XINF_DTYPE_F16 : XINF_DTYPE_Q8_0;
            void *w = test_weights (dtype, rows [m], 96, &state, &decoded [m]);
            const float *xm = x + (m == 1 ? 96 : 0);
            expected [m] = calloc (rows [m], sizeof (float));
            xinf_cpu_matvec (NULL, dtype, w, rows [m], 96, xm, expected [m]);
            products [m] = (xinf_cpu_matvec_t) { dtype, w, rows [m], 96, xm, calloc (rows [m], sizeof (float)) };
        }
        xinf_cpu_matvec_many (s_pools [1], products, 4);
        for (int m = 0; m < 4; m++) {
            CHECK (memcmp (products [m].y, expected [m], rows [m] * sizeof (float)) == 0);
            free (products [m].y), free ((void *) products [m].w), free (expected [m]), free (decoded [m]);
        }
        free (x);
    }
    xinf_cpu_simd_set (true);
}

int
main (void)
{
    bool simd = xinf_cpu_simd_set (true);
    xinf_cpu_q8_act_set (true);
    fprintf (stderr, "test_matvec_q8act (SIMD %s, fastest %s, AVX-512 VNNI %s):\n",
             simd ? "available" : "not available", xinf_cpu_simd_name (), xinf_cpu_q8_avx512 () ? "yes" : "no");
    for (int p = 0; p < POOLS; p++)
        s_pools [p] = xinf_threadpool_new (p + 1);
    RUN (test_quantizer);
    RUN (test_products);
    RUN (test_products_special);
    RUN (test_products_tall);
    RUN (test_many);
    for (int p = 0; p < POOLS; p++)
        xinf_threadpool_destroy (&s_pools [p]);
    return 0;
}
