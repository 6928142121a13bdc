/*  test_matvec_batch: xinf_cpu_matvec_batch gives every vector, bit for
    bit, what xinf_cpu_matvec gives it alone, on every kernel set the CPU
    runs (portable, AVX2, AVX-512), for every weight type, vector counts
    around the kernels' groups, row counts around the groups of 4, odd
    column counts, and 1, 2 and 3 threads; and agrees with a double-
    precision reference (for Q8_0 with 16-bit activations, on x quantized
    as they are). Nothing outside y is written. Q8_0 runs with 16-bit and
    with float activations.  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"

#include <stdbool.h>

static const xinf_dtype_t s_dtypes [] = { XINF_DTYPE_F32, XINF_DTYPE_F16, XINF_DTYPE_BF16, XINF_DTYPE_Q8_0 };
#define DTYPES (sizeof s_dtypes / sizeof s_dtypes [0])

//  The kernel sets; xinf_cpu_simd_use skips those the CPU lacks.
static const char *s_kernels [] = { "portable", "avx2", "avx512" };
#define KERNELS (sizeof s_kernels / sizeof s_kernels [0])

static const size_t s_counts [] = { 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 64, 65, 130 };
#define COUNTS (sizeof s_counts / sizeof s_counts [0])

#define POOLS 3
static xinf_threadpool_t *s_pools [POOLS];     //  1, 2 and 3 threads

//  Floats after y that must stay untouched.
#define GUARD 16

typedef struct { size_t rows, cols; } s_shape_t;

//  Whether Q8_0 products take 16-bit activations.
static bool s_q8_act = true;

//  Rows around the groups of 4; columns with tails of 1..31 after the
//  whole 32s, 8s only, none; Q8_0 rows of 1, 3, 5, 28 and 152 blocks
//  (the float types take the Q8_0 shapes too).
static const s_shape_t s_shapes [] = {
    { 1, 32 }, { 7, 45 }, { 13, 96 }, { 6, 13 }, { 37, 160 }, { 9, 47 }, { 22, 1023 }, { 66, 896 },
    { 3, 2049 }, { 5, 4864 }, { 30, 200 }, { 11, 1 }
};

//  Checks y [n][rows] against the double products; tolerance relative to
//  sum |w x| (float sums come within about 1e-7 of it here).
static void
s_check_reference (const float *decoded, s_shape_t shape, const float *x, size_t n, const float *y)
{
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < shape.rows; r++) {
            double sum = 0, magnitude = 0;
            for (size_t i = 0; i < shape.cols; i++) {
                double product = (double) decoded [r * shape.cols + i] * x [j * shape.cols + i];
                sum += product;
                magnitude += fabs (product);
            }
            double error = fabs (y [j * shape.rows + r] - sum);
            if (!(error <= 1e-6 * magnitude + 1e-12)) {
                fprintf (stderr, "row %zu vector %zu: got %.9g expected %.9g (|wx| %.3g)\n",
                         r, j, y [j * shape.rows + r], sum, magnitude);
                CHECK (0);
            }
        }
}

//  Compares the batch result with the vector-by-vector one, naming the
//  first difference.
static void
s_check_same (const float *y, const float *expected, s_shape_t shape, size_t n, const char *what)
{
    if (memcmp (y, expected, n * shape.rows * sizeof (float)) == 0)
        return;
    for (size_t k = 0; k < n * shape.rows; k++)
        if (memcmp (y + k, expected + k, sizeof (float)) != 0) {
            fprintf (stderr, "%s %zux%zu n %zu: row %zu vector %zu: %.9g (%08x) != %.9g (%08x)\n", what,
                     shape.rows, shape.cols, n, k % shape.rows, k / shape.rows, y [k],
                     (unsigned) xinf_dtype_f32_to_bits (y [k]), expected [k],
                     (unsigned) xinf_dtype_f32_to_bits (expected [k]));
            break;
        }
    CHECK (0);
}

//  One weight matrix and x [n]: for every kernel set, the batch on every
//  pool against matvecs one vector at a time, and against the reference.
static void
s_batch_case (xinf_dtype_t dtype, s_shape_t shape, size_t n, const float *fixed_x)
{
    if (!xinf_dtype_row_bytes (dtype, shape.cols))
        return;                      //  Q8_0 wants whole blocks
    uint64_t state = shape.rows * 131 + shape.cols * 7 + n * 3 + dtype;
    float *decoded;
    void *w = test_weights (dtype, shape.rows, shape.cols, &state, &decoded);
    float *x = test_floats (n * shape.cols, &state);
    if (fixed_x)
        for (size_t i = 0; i < n * shape.cols; i++)
            x [i] = fixed_x [i % shape.cols];
    float *x_seen = malloc (n * shape.cols * sizeof (float));
    memcpy (x_seen, x, n * shape.cols * sizeof (float));
    for (size_t j = 0; dtype == XINF_DTYPE_Q8_0 && s_q8_act && j < n; j++)
        test_q8_act_dequantize (x + j * shape.cols, shape.cols, x_seen + j * shape.cols);
    size_t count = n * shape.rows;
    float *expected = malloc (count * sizeof (float)), *y = malloc ((count + GUARD) * sizeof (float));
    CHECK (expected && y);
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        for (size_t j = 0; j < n; j++)
            xinf_cpu_matvec (NULL, dtype, w, shape.rows, shape.cols, x + j * shape.cols, expected + j * shape.rows);
        if (!fixed_x)
            s_check_reference (decoded, shape, x_seen, n, expected);
        for (int p = 0; p < POOLS; p++) {
            memset (y, 0xa5, (count + GUARD) * sizeof (float));
            xinf_cpu_matvec_batch (s_pools [p], dtype, w, shape.rows, shape.cols, x, n, y);
            s_check_same (y, expected, shape, n, s_kernels [kernels]);
            for (size_t k = count; k < count + GUARD; k++)
                CHECK (xinf_dtype_f32_to_bits (y [k]) == 0xa5a5a5a5u);
        }
    }
    xinf_cpu_simd_set (true);
    free (w), free (decoded), free (x), free (x_seen), free (expected), free (y);
}

static void
test_batch (void)
{
    for (size_t d = 0; d < DTYPES; d++)
        for (size_t s = 0; s < sizeof s_shapes / sizeof s_shapes [0]; s++)
            for (size_t c = 0; c < COUNTS; c++)
                s_batch_case (s_dtypes [d], s_shapes [s], s_counts [c], NULL);
}

//  Many rows: many tasks a thread, and groups prefetching the next.
static void
test_batch_tall (void)
{
    s_shape_t tall [] = { { 1027, 96 }, { 258, 896 } };
    size_t counts [] = { 2, 9, 64 };
    for (size_t d = 0; d < DTYPES; d++)
        for (size_t t = 0; t < sizeof tall / sizeof tall [0]; t++)
            for (size_t c = 0; c < sizeof counts / sizeof counts [0]; c++)
                s_batch_case (s_dtypes [d], tall [t], counts [c], NULL);
}

//  More vectors than pass a group of rows at once (12 of 4864 columns):
//  a task's rows in runs (F32: of 12 rows), each run taking the vectors
//  in shares.
static void
test_batch_runs (void)
{
    s_shape_t shape = { 200, 4864 };
    for (size_t d = 0; d < DTYPES; d++)
        s_batch_case (s_dtypes [d], shape, 26, NULL);
}

//  Signed zeros, infinities and NaN in x: the same bits as matvec too
//  (a sum that starts from 0 + -0 differs from one that starts with a
//  product).
static void
test_batch_special (void)
{
    float special [96];
    for (size_t i = 0; i < 96; i++)
        special [i] = -0.0f;
    s_shape_t shape = { 9, 96 };
    for (size_t d = 0; d < DTYPES; d++)
        s_batch_case (s_dtypes [d], shape, 5, special);
    special [40] = INFINITY;
    special [70] = NAN;
    for (size_t d = 0; d < DTYPES; d++)
        s_batch_case (s_dtypes [d], shape, 6, special);
}

//  No rows, no vectors, no columns.
static void
test_batch_empty (void)
{
    float x [4] = { 1, 2, 3, 4 }, y [8];
    for (size_t k = 0; k < 8; k++)
        y [k] = 7;
    xinf_cpu_matvec_batch (s_pools [1], XINF_DTYPE_F32, x, 0, 4, x, 2, y);
    xinf_cpu_matvec_batch (s_pools [1], XINF_DTYPE_F32, x, 1, 4, x, 0, y);
    CHECK (y [0] == 7);
    xinf_cpu_matvec_batch (s_pools [1], XINF_DTYPE_F32, x, 3, 0, x, 2, y);
    for (size_t k = 0; k < 6; k++)
        CHECK (y [k] == 0);
    CHECK (y [6] == 7);
}

int
main (void)
{
    bool simd = xinf_cpu_simd_set (true);
    fprintf (stderr, "test_matvec_batch (SIMD %s, fastest %s):\n", simd ? "available" : "not available",
             xinf_cpu_simd_name ());
    for (int p = 0; p < POOLS; p++)
        s_pools [p] = xinf_threadpool_new (p + 1);
    for (int act = 1; act >= 0; act--) {
        s_q8_act = xinf_cpu_q8_act_set (act);
        fprintf (stderr, " Q8_0 with %s activations:\n", act ? "16-bit" : "float");
        RUN (test_batch);
        RUN (test_batch_tall);
        RUN (test_batch_runs);
        RUN (test_batch_special);
    }
    RUN (test_batch_empty);
    for (int p = 0; p < POOLS; p++)
        xinf_threadpool_destroy (&s_pools [p]);
    return 0;
}
