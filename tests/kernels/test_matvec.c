/*  test_matvec: matvec, matmul and row_to_f32 for every weight type against
    a double-precision reference, on every kernel set the CPU runs
    (portable, AVX2, AVX-512), and 1..4 threads against each other (bit
    for bit); a row's result must not depend on where a call or a thread's
    task starts. The matvecs of Q8_0 weights run with 16-bit activations
    (against a reference on x quantized the same way) and with float ones.  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"

static const xinf_dtype_t s_dtypes [] = { XINF_DTYPE_F32, XINF_DTYPE_F16, XINF_DTYPE_BF16, XINF_DTYPE_Q8_0 };

//  The kernel sets; xinf_cpu_simd_use skips those the CPU lacks.
static const char *s_kernels [] = { "portable", "avx2", "avx512" };
#define KERNELS (sizeof s_kernels / sizeof s_kernels [0])

//  Checks y [n][rows] against the double products; tolerance relative to
//  sum |w x| (float sums come within about 1e-7 of it here).
static void
s_check_products (const float *decoded, size_t rows, size_t cols, const float *x, size_t n, const float *y)
{
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < rows; r++) {
            double sum = 0, magnitude = 0;
            for (size_t i = 0; i < cols; i++) {
                sum += (double) decoded [r * cols + i] * x [j * cols + i];
                magnitude += fabs ((double) decoded [r * cols + i] * x [j * cols + i]);
            }
            double error = fabs (y [j * rows + r] - sum);
            if (!(error <= 1e-6 * magnitude + 1e-12)) {
                fprintf (stderr, "row %zu vector %zu: got %.9g expected %.9g (|wx| %.3g)\n",
                         r, j, y [j * rows + r], sum, magnitude);
                CHECK (0);
            }
        }
}

typedef struct { size_t rows, cols; } s_shape_t;

//  Whether Q8_0 matvecs take 16-bit activations (then the references use
//  x as quantized); the tests run both ways.
static bool s_q8_act = true;

//  Row counts around the kernels' groups of 4, odd and tiny column counts,
//  odd Q8_0 block counts (1, 3, 5) and rows long enough to prefetch.
static const s_shape_t s_shapes [] = {
    { 1, 32 }, { 7, 64 }, { 33, 96 }, { 130, 896 }, { 65, 4864 }, { 3, 13 }, { 17, 1 }, { 9, 47 }, { 40, 200 },
    { 4, 32 }, { 5, 4864 }, { 6, 160 }, { 11, 2049 }, { 70, 1023 }
};

//  Rows [skip, rows) in a call of their own give, bit for bit, what the
//  whole matrix gave them: the result of a row does not depend on the
//  rows grouped with it.
static void
s_check_offsets (xinf_dtype_t dtype, const uint8_t *w, s_shape_t shape, const float *x, const float *whole)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, shape.cols);
    float *y = malloc (shape.rows * sizeof (float));
    for (size_t skip = 1; skip <= 5 && skip < shape.rows; skip++) {
        xinf_cpu_matvec (NULL, dtype, w + skip * row_bytes, shape.rows - skip, shape.cols, x, y);
        CHECK (memcmp (y, whole + skip, (shape.rows - skip) * sizeof (float)) == 0);
    }
    free (y);
}

static void
s_matvec_case (xinf_dtype_t dtype, s_shape_t shape, xinf_threadpool_t **pools, int pool_count)
{
    if (!xinf_dtype_row_bytes (dtype, shape.cols))
        return;                      //  Q8_0 wants whole blocks
    uint64_t state = shape.rows * 1000 + shape.cols + dtype;
    float *decoded;
    void *w = test_weights (dtype, shape.rows, shape.cols, &state, &decoded);
    float *x = test_floats (shape.cols, &state), *x_seen = malloc (shape.cols * sizeof (float));
    float *first = malloc (shape.rows * sizeof (float)), *y = malloc (shape.rows * sizeof (float));
    memcpy (x_seen, x, shape.cols * sizeof (float));
    if (dtype == XINF_DTYPE_Q8_0 && s_q8_act)
        test_q8_act_dequantize (x, shape.cols, x_seen);
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        xinf_cpu_matvec (NULL, dtype, w, shape.rows, shape.cols, x, first);
        s_check_products (decoded, shape.rows, shape.cols, x_seen, 1, first);
        s_check_offsets (dtype, w, shape, x, first);
        for (int p = 0; p < pool_count; p++) {
            memset (y, 0xff, shape.rows * sizeof (float));
            xinf_cpu_matvec (pools [p], dtype, w, shape.rows, shape.cols, x, y);
            CHECK (memcmp (y, first, shape.rows * sizeof (float)) == 0);
        }
    }
    xinf_cpu_simd_set (true);
    free (w), free (decoded), free (x), free (x_seen), free (first), free (y);
}

static xinf_threadpool_t *s_pools [4];

static void
test_matvec (void)
{
    for (size_t d = 0; d < 4; d++)
        for (size_t s = 0; s < sizeof s_shapes / sizeof s_shapes [0]; s++)
            s_matvec_case (s_dtypes [d], s_shapes [s], s_pools, 4);
}

//  Many rows: the pool splits them into many tasks.
static void
test_matvec_tall (void)
{
    s_shape_t tall [] = { { 3001, 64 }, { 1030, 896 } };
    for (size_t d = 0; d < 4; d++)
        for (size_t t = 0; t < sizeof tall / sizeof tall [0]; t++)
            s_matvec_case (s_dtypes [d], tall [t], s_pools, 4);
}

//  Rows [skip, rows) and vectors [skip, n) in calls of their own give,
//  bit for bit, what the whole product gave them (at least 8 vectors:
//  fewer may go as matvecs).
static void
s_check_matmul_offsets (xinf_dtype_t dtype, const uint8_t *w, s_shape_t shape, const float *x, size_t n,
                        const float *whole)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, shape.cols);
    float *y = malloc (n * shape.rows * sizeof (float));
    for (size_t skip = 1; skip <= 7 && skip < shape.rows; skip += 3) {
        size_t rows = shape.rows - skip;
        xinf_cpu_matmul (NULL, dtype, w + skip * row_bytes, rows, shape.cols, x, n, y);
        for (size_t j = 0; j < n; j++)
            CHECK (memcmp (y + j * rows, whole + j * shape.rows + skip, rows * sizeof (float)) == 0);
    }
    for (size_t skip = 1; skip <= 17 && skip + 8 <= n; skip += 8) {
        xinf_cpu_matmul (NULL, dtype, w, shape.rows, shape.cols, x + skip * shape.cols, n - skip, y);
        CHECK (memcmp (y, whole + skip * shape.rows, (n - skip) * shape.rows * sizeof (float)) == 0);
    }
    free (y);
}

//  Every kernel set against the reference, 1..4 threads against one, and
//  the AVX2 and AVX-512 panels against each other (the same sums; from 8
//  vectors, fewer may go as matvecs).
static void
s_matmul_case (xinf_dtype_t dtype, s_shape_t shape, size_t n, bool offsets)
{
    if (!xinf_dtype_row_bytes (dtype, shape.cols))
        return;
    uint64_t state = shape.rows * 77 + shape.cols * 3 + n + dtype;
    float *decoded;
    void *w = test_weights (dtype, shape.rows, shape.cols, &state, &decoded);
    float *x = test_floats (n * shape.cols, &state);
    size_t bytes = n * shape.rows * sizeof (float);
    float *first = malloc (bytes), *y = malloc (bytes), *avx2 = malloc (bytes);
    bool have_avx2 = false;
    for (size_t kernels = 0; kernels < KERNELS; kernels++) {
        if (!xinf_cpu_simd_use (s_kernels [kernels]))
            continue;
        xinf_cpu_matmul (NULL, dtype, w, shape.rows, shape.cols, x, n, first);
        s_check_products (decoded, shape.rows, shape.cols, x, n, first);
        for (int p = 0; p < 4; p++) {
            memset (y, 0xff, bytes);
            xinf_cpu_matmul (s_pools [p], dtype, w, shape.rows, shape.cols, x, n, y);
            CHECK (memcmp (y, first, bytes) == 0);
        }
        if (offsets)
            s_check_matmul_offsets (dtype, w, shape, x, n, first);
        if (strcmp (s_kernels [kernels], "avx2") == 0)
            memcpy (avx2, first, bytes), have_avx2 = true;
        if (strcmp (s_kernels [kernels], "avx512") == 0 && have_avx2 && n >= 8)
            CHECK (memcmp (avx2, first, bytes) == 0);
    }
    xinf_cpu_simd_set (true);
    free (w), free (decoded), free (x), free (first), free (y), free (avx2);
}

static void
test_matmul (void)
{
    size_t ns [] = { 1, 2, 3, 5, 8, 17 };
    for (size_t d = 0; d < 4; d++)
        for (size_t s = 0; s < sizeof s_shapes / sizeof s_shapes [0]; s++)
            for (size_t k = 0; k < sizeof ns / sizeof ns [0]; k++)
                s_matmul_case (s_dtypes [d], s_shapes [s], ns [k], false);
    s_shape_t big = { 301, 896 };
    for (size_t d = 0; d < 4; d++)
        s_matmul_case (s_dtypes [d], big, 33, true);
}

//  The panels: every vector count 1..70 (groups of 64, padding to 16),
//  row counts around the 6-row tiles and 12-row blocks, Q8_0 rows of 1, 3
//  and 5 blocks, odd F16/F32 columns; each against the reference and with
//  rows and vectors split off.
static void
test_matmul_panel (void)
{
    s_shape_t shapes [] = { { 5, 32 }, { 13, 96 }, { 31, 160 }, { 7, 47 }, { 26, 33 } };
    for (size_t d = 0; d < 4; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
            for (size_t n = 1; n <= 70; n++)
                s_matmul_case (s_dtypes [d], shapes [s], n, n % 4 == 1 || n >= 63);
    s_shape_t wide = { 50, 4864 };
    s_matmul_case (XINF_DTYPE_Q8_0, wide, 64, true);
    s_matmul_case (XINF_DTYPE_F16, wide, 70, false);
}

//  Rows as floats: exactly the decoded values on both code paths.
static void
test_row_to_f32 (void)
{
    size_t cols_list [] = { 1, 7, 32, 45, 96, 896 };
    for (size_t d = 0; d < 4; d++)
        for (size_t c = 0; c < sizeof cols_list / sizeof cols_list [0]; c++) {
            size_t cols = cols_list [c];
            if (!xinf_dtype_row_bytes (s_dtypes [d], cols))
                continue;
            uint64_t state = cols + d;
            float *decoded, *out = malloc (cols * sizeof (float));
            void *w = test_weights (s_dtypes [d], 1, cols, &state, &decoded);
            for (int simd = 0; simd < 2; simd++) {
                xinf_cpu_simd_set (simd);
                xinf_cpu_row_to_f32 (s_dtypes [d], w, cols, out);
                for (size_t i = 0; i < cols; i++)
                    if (out [i] != decoded [i]) {
                        fprintf (stderr, "%s cols %zu simd %d [%zu]: %.9g != %.9g\n",
                                 xinf_dtype_name (s_dtypes [d]), cols, simd, i, out [i], decoded [i]);
                        CHECK (0);
                    }
            }
            free (w), free (decoded), free (out);
        }
}

//  matvec_many gives, bit for bit, what separate matvecs give.
static void
s_matvec_many_case (xinf_threadpool_t *pool)
{
    uint64_t state = 77;
    size_t shapes [3][2] = { { 64, 96 }, { 33, 96 }, { 130, 96 } };
    for (size_t t = 0; t < sizeof s_dtypes / sizeof s_dtypes [0]; t++) {
        xinf_cpu_matvec_t products [3];
        void *weights [3];
        float *decoded [3], *expected [3];
        float *x = test_floats (96, &state);
        for (int m = 0; m < 3; m++) {
            weights [m] = test_weights (s_dtypes [t], shapes [m][0], shapes [m][1], &state, &decoded [m]);
            expected [m] = calloc (shapes [m][0], sizeof (float));
            xinf_cpu_matvec (pool, s_dtypes [t], weights [m], shapes [m][0], shapes [m][1], x, expected [m]);
            products [m] = (xinf_cpu_matvec_t) { s_dtypes [t], weights [m], shapes [m][0], shapes [m][1], x,
                                                 calloc (shapes [m][0], sizeof (float)) };
        }
        xinf_cpu_matvec_many (pool, products, 3);
        for (int m = 0; m < 3; m++) {
            CHECK (memcmp (products [m].y, expected [m], shapes [m][0] * sizeof (float)) == 0);
            free (products [m].y);
            free (expected [m]);
            free (weights [m]);
            free (decoded [m]);
        }
        free (x);
    }
}

static void
test_matvec_many (void)
{
    xinf_threadpool_t *pool = xinf_threadpool_new (2);
    for (size_t kernels = 0; kernels < KERNELS; kernels++)
        if (xinf_cpu_simd_use (s_kernels [kernels]))
            s_matvec_many_case (pool);
    xinf_cpu_simd_set (true);
    xinf_threadpool_destroy (&pool);
}

int
main (void)
{
    bool simd = xinf_cpu_simd_set (true);
    fprintf (stderr, "test_matvec (SIMD %s, fastest %s):\n", simd ? "available" : "not available", xinf_cpu_simd_name ());
    for (int p = 0; p < 4; p++)
        s_pools [p] = xinf_threadpool_new (p + 1);
    for (int act = 1; act >= 0; act--) {
        s_q8_act = xinf_cpu_q8_act_set (act);
        fprintf (stderr, " Q8_0 with %s activations:\n", act ? "16-bit" : "float");
        RUN (test_matvec);
        RUN (test_matvec_tall);
        RUN (test_matvec_many);
    }
    RUN (test_matmul);
    RUN (test_matmul_panel);
    RUN (test_row_to_f32);
    for (int p = 0; p < 4; p++)
        xinf_threadpool_destroy (&s_pools [p]);
    return 0;
}
