/*  test_twins_wide: the CUDA backend's wide product kernel (F16, BF16 and
    Q8_0, Q4_K and Q6_K rows, kernels/cuda/xinf_cuda_dot.cuh) run on the host, its 32
    lanes added in the kernel's shuffle order, against a double-precision
    dot product of the CPU's decoded weights (xinf_dtype_to_f32): every
    shape of lanes with no chunk, one, several and a remainder, 1 to 8
    tokens at once (each token's result independent of the others), and
    the rows it must leave to the generic kernel (misaligned, a width not
    of whole chunks). The same for the q8a path of Q8_0 rows (repacked
    codes, 16-bit activations): its quantizer bit for bit the CPU's, its
    sums within the bound the quantization allows. No GPU needed.
*/
#include "test_twins.h"
#include "xinf_cpu_q8_act.h"
#include "xinf_dtype.h"

#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"

//  A row of 'cols' random weights of 'dtype' in 'row' (16-byte aligned).
static void
s_row (xinf_dtype_t dtype, size_t cols, uint8_t *row, uint64_t *state)
{
    if (dtype == XINF_DTYPE_Q4_K) {
        for (size_t b = 0; b < cols / 256; b++) {
            uint8_t *block = row + b * 144;
            uint16_t d = xinf_dtype_f32_to_fp16 (0.001f + 0.01f * (float) (test_uniform (state) + 1));
            uint16_t dmin = xinf_dtype_f32_to_fp16 (0.002f * (float) (test_uniform (state) + 1));
            memcpy (block, &d, 2);
            memcpy (block + 2, &dmin, 2);
            for (int i = 4; i < 144; i++)
                block [i] = (uint8_t) (test_random (state) & 0xff);
        }
        return;
    }
    if (dtype == XINF_DTYPE_Q6_K) {
        for (size_t b = 0; b < cols / 256; b++) {
            uint8_t *block = row + b * 210;
            for (int i = 0; i < 208; i++)
                block [i] = (uint8_t) (test_random (state) & 0xff);
            uint16_t d = xinf_dtype_f32_to_fp16 (0.0005f + 0.001f * (float) (test_uniform (state) + 1));
            memcpy (block + 208, &d, 2);
        }
        return;
    }
    if (dtype == XINF_DTYPE_Q8_0) {
        for (size_t b = 0; b < cols / 32; b++) {
            uint8_t *block = row + b * 34;
            uint16_t scale = xinf_dtype_f32_to_fp16 (0.001f + 0.02f * (float) (test_uniform (state) + 1));
            memcpy (block, &scale, 2);
            for (int i = 0; i < 32; i++)
                block [2 + i] = (uint8_t) (int8_t) (int) (127.0 * test_uniform (state));
        }
        return;
    }
    for (size_t k = 0; k < cols; k++) {
        float value = (float) test_uniform (state);
        uint16_t half = dtype == XINF_DTYPE_F16 ? xinf_dtype_f32_to_fp16 (value) : xinf_dtype_f32_to_bf16 (value);
        memcpy (row + 2 * k, &half, 2);
    }
}

//  The size of a Q4_K row's products as the kernel takes them, group by
//  group: |d sc| sum |q x| + |dmin m| sum |x| (its rounding is relative
//  to these, which may exceed sum |w x| where the two parts cancel).
static double
s_q4k_magnitude (const uint8_t *row, size_t cols, const float *x)
{
    double magnitude = 0;
    for (size_t g = 0; g < cols / 32; g++) {
        const uint8_t *block = row + g / 8 * 144, *scales = block + 4;
        int k = (int) (g % 8), sc, m;
        if (k < 4)
            sc = scales [k] & 63, m = scales [k + 4] & 63;
        else
            sc = (scales [k + 4] & 15) | ((scales [k - 4] >> 6) << 4), m = (scales [k + 4] >> 4) | ((scales [k] >> 6) << 4);
        uint16_t half [2];
        memcpy (half, block, 4);
        double d = xinf_dtype_fp16_to_f32 (half [0]) * sc, dmin = xinf_dtype_fp16_to_f32 (half [1]) * m;
        for (int l = 0; l < 32; l++) {
            uint8_t byte = block [16 + 32 * (k / 2) + l];
            int q = k % 2 ? byte >> 4 : byte & 15;
            magnitude += fabs (d * q * x [g * 32 + l]) + fabs (dmin * x [g * 32 + l]);
        }
    }
    return magnitude;
}

//  One row against 'count' tokens: the wide kernel's sums against the
//  exact ones, within float rounding of the sum of |w x| (Q4_K: of its
//  two parts, s_q4k_magnitude).
static size_t
s_check_row (xinf_dtype_t dtype, size_t cols, size_t count, uint64_t *state)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    uint8_t *row = aligned_alloc (16, (row_bytes + 15) / 16 * 16);
    float *x = aligned_alloc (16, (count * cols * sizeof (float) + 15) / 16 * 16);
    float *weights = malloc (cols * sizeof (float));
    CHECK (row && x && weights);
    s_row (dtype, cols, row, state);
    for (size_t i = 0; i < count * cols; i++)
        x [i] = (float) test_uniform (state);
    xinf_dtype_to_f32 (dtype, row, cols, weights);
    float out [8];
    CHECK (xinf_cuda_project_row_host (dtype, row, row_bytes, cols, x, count, out));
    for (size_t t = 0; t < count; t++) {
        double exact = 0, magnitude = 0;
        for (size_t k = 0; k < cols; k++) {
            exact += (double) weights [k] * x [t * cols + k];
            magnitude += fabs ((double) weights [k] * x [t * cols + k]);
        }
        if (dtype == XINF_DTYPE_Q4_K)
            magnitude = s_q4k_magnitude (row, cols, x + t * cols);
        double error = fabs ((double) out [t] - exact);
        if (!(error <= 1e-5 * magnitude + 1e-12)) {
            fprintf (stderr, "FAIL: wide kernel %s cols %zu token %zu of %zu: %.9g, exact %.9g (|w x| %.3g)\n",
                     xinf_dtype_name (dtype), cols, t, count, out [t], exact, magnitude);
            exit (1);
        }
        //  The same token alone: the same float (no dependence on the batch)
        float alone;
        CHECK (xinf_cuda_project_row_host (dtype, row, row_bytes, cols, x + t * cols, 1, &alone));
        CHECK (alone == out [t]);
    }
    free (row);
    free (x);
    free (weights);
    return count;
}

//  Rows the wide kernel must leave to the generic one.
static void
s_check_refusals (void)
{
    float *x = aligned_alloc (16, 1024 * sizeof (float));
    uint8_t *row = aligned_alloc (16, 4096);
    CHECK (x && row);
    memset (row, 0, 4096);
    memset (x, 0, 1024 * sizeof (float));
    float out [8];
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_F16, row, 2 * 36, 36, x, 1, out));          //  36: not of 8
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_F16, row + 2, 2 * 64, 64, x, 1, out));      //  row misaligned
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_BF16, row, 2 * 64, 64, x + 1, 1, out));     //  x misaligned
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_Q8_0, row + 1, 34 * 2, 64, x, 1, out));     //  odd block address
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_Q4_0, row, 18 * 2, 64, x, 1, out));         //  not its type
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_Q4_K, row + 4, 144 * 2, 512, x, 1, out));    //  row misaligned
    CHECK (xinf_cuda_project_row_host (XINF_DTYPE_Q4_K, row, 144 * 2, 512, x, 1, out));
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_Q6_K, row + 1, 210 * 2, 512, x, 1, out));    //  odd address
    CHECK (xinf_cuda_project_row_host (XINF_DTYPE_Q6_K, row + 2, 210 * 2, 512, x, 1, out));
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_F16, row, 2 * 64, 64, x, 9, out));          //  over 8 tokens
    CHECK (!xinf_cuda_project_row_host (XINF_DTYPE_F16, row, 2 * 64, 64, x, 0, out));
    CHECK (xinf_cuda_project_row_host (XINF_DTYPE_Q8_0, row + 2, 34 * 2, 64, x, 1, out));      //  2-byte aligned will do
    free (x);
    free (row);
}

//  ---- the q8a path --------------------------------------------------------------------

//  Its quantizer on the host against the CPU's, bit for bit: random
//  blocks of many magnitudes, zeros, Inf, NaN, subnormals, ties to even.
static void
s_check_q8a_quantizer (uint64_t *state)
{
    enum { BLOCKS = 14, COLS = 32 * BLOCKS };
    static const float magnitudes [] = { 1e-30f, 1e-3f, 1.0f, 7.5f, 1e4f, 3e37f };
    float x [COLS];
    for (size_t b = 0; b < 6; b++)
        for (size_t i = 0; i < 32; i++)
            x [b * 32 + i] = (float) test_uniform (state) * magnitudes [b];
    for (size_t i = 0; i < 32; i++) {
        x [6 * 32 + i] = i % 2 ? 0.0f : -0.0f;                                     //  all zero
        x [7 * 32 + i] = i == 5 ? INFINITY : (float) test_uniform (state);          //  an Inf
        x [8 * 32 + i] = i == 9 ? NAN : (float) test_uniform (state);               //  a NaN
        x [9 * 32 + i] = (float) test_uniform (state) * 1e-39f;                     //  subnormals
        x [10 * 32 + i] = i == 0 ? 32767.0f : (float) ((int) i - 16) + 0.5f;        //  d = 1: ties
        x [11 * 32 + i] = i == 3 ? -INFINITY : -(float) i;
        x [12 * 32 + i] = i == 31 ? -3e38f : 3e38f * (float) test_uniform (state);  //  near FLT_MAX
        x [13 * 32 + i] = 1.0f / 3.0f * (float) (i + 1);
    }
    int16_t q [COLS], cpu_q [32];
    float d [BLOCKS], cpu_d;
    xinf_cuda_q8a_quantize_host (x, 1, COLS, q, d);
    for (size_t b = 0; b < BLOCKS; b++) {
        xinf_cpu_q8_quantize_block (x + b * 32, cpu_q, &cpu_d);
        if (memcmp (q + b * 32, cpu_q, sizeof cpu_q) || memcmp (&d [b], &cpu_d, sizeof cpu_d)) {
            fprintf (stderr, "FAIL: q8a quantizer block %zu: scale %.9g, the CPU's %.9g\n", b, d [b], cpu_d);
            exit (1);
        }
    }
    CHECK (q [10 * 32 + 1] == -14 && q [10 * 32 + 2] == -14 && q [10 * 32 + 3] == -12);   //  -14.5, -13.5, -12.5
    CHECK (isnan (d [7]) && isnan (d [8]) && isnan (d [11]) && d [6] == 0);
}

//  One Q8_0 row against 'count' tokens through the q8a path: within the
//  quantization's bound of the exact sums (sum over blocks of
//  sum |w| * max |x| / 65534, as test_matvec_q8act bounds the CPU's),
//  each token's result the one it gets alone.
static size_t
s_check_row_q8a (size_t cols, size_t count, uint64_t *state)
{
    size_t row_bytes = xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, cols);
    uint8_t *row = malloc (row_bytes);
    float *x = malloc (count * cols * sizeof (float)), *weights = malloc (cols * sizeof (float));
    CHECK (row && x && weights);
    s_row (XINF_DTYPE_Q8_0, cols, row, state);
    for (size_t i = 0; i < count * cols; i++)
        x [i] = (float) test_uniform (state) * (i % 7 == 0 ? 3.0f : 0.25f);
    xinf_dtype_to_f32 (XINF_DTYPE_Q8_0, row, cols, weights);
    float out [8];
    CHECK (xinf_cuda_project_row_q8a_host (row, cols, x, count, out));
    for (size_t t = 0; t < count; t++) {
        double exact = 0, magnitude = 0, bound = 0;
        for (size_t b = 0; b < cols / 32; b++) {
            double sum_w = 0, top = 0;
            for (size_t k = b * 32; k < b * 32 + 32; k++) {
                exact += (double) weights [k] * x [t * cols + k];
                magnitude += fabs ((double) weights [k] * x [t * cols + k]);
                sum_w += fabs ((double) weights [k]);
                top = fabs ((double) x [t * cols + k]) > top ? fabs ((double) x [t * cols + k]) : top;
            }
            bound += sum_w * top / 65534.0;
        }
        double error = fabs ((double) out [t] - exact);
        if (!(error <= bound + 1e-5 * magnitude + 1e-12)) {
            fprintf (stderr, "FAIL: q8a path cols %zu token %zu of %zu: %.9g, exact %.9g (bound %.3g)\n", cols, t,
                     count, out [t], exact, bound);
            exit (1);
        }
        float alone;
        CHECK (xinf_cuda_project_row_q8a_host (row, cols, x + t * cols, 1, &alone));
        CHECK (alone == out [t]);
    }
    free (row);
    free (x);
    free (weights);
    return count;
}

//  The repacked copy read back weight by weight (the embedding lookup's
//  code): the CPU's decoded floats, bit for bit.
static void
s_check_q8a_decode (uint64_t *state)
{
    enum { ROWS = 5, COLS = 96 };
    size_t row_bytes = xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, COLS);
    uint8_t matrix [ROWS * 34 * COLS / 32];
    float cpu [ROWS * COLS], gpu [ROWS * COLS];
    for (size_t r = 0; r < ROWS; r++)
        s_row (XINF_DTYPE_Q8_0, COLS, matrix + r * row_bytes, state);
    matrix [3 * row_bytes + 2 + 34] = 0x80;            //  -128
    xinf_dtype_to_f32 (XINF_DTYPE_Q8_0, matrix, ROWS * COLS, cpu);
    CHECK (xinf_cuda_q8a_decode_host (matrix, ROWS, COLS, gpu));
    CHECK (memcmp (cpu, gpu, sizeof cpu) == 0);
    CHECK (!xinf_cuda_q8a_decode_host (matrix, ROWS, 48, gpu));
    //  Uploaded 1, 2, 3 and all rows at a time: the whole repack's image
    uint8_t whole [ROWS * 34 * COLS / 32 + 16], runs [ROWS * 34 * COLS / 32 + 16];
    xinf_cuda_q8a_repack (matrix, ROWS, COLS, whole);
    for (size_t run = 1; run <= ROWS + 1; run++) {
        memset (runs, 0xa5, sizeof runs);
        CHECK (xinf_cuda_q8a_runs_host (matrix, ROWS, COLS, run, runs));
        CHECK (memcmp (whole, runs, xinf_cuda_q8a_image_bytes (ROWS, COLS)) == 0);
    }
}

static void
s_check_q8a_refusals (void)
{
    uint8_t row [34 * 4] = { 0 };
    float x [128] = { 0 }, out [8];
    CHECK (!xinf_cuda_project_row_q8a_host (row, 48, x, 1, out));             //  not of whole blocks
    CHECK (!xinf_cuda_project_row_q8a_host (row, 0, x, 1, out));
    CHECK (!xinf_cuda_project_row_q8a_host (row, 128, x, 0, out));
    CHECK (!xinf_cuda_project_row_q8a_host (row, 64, x, 9, out));             //  over 8 tokens
    CHECK (xinf_cuda_project_row_q8a_host (row, 128, x, 1, out) && out [0] == 0);
}

//  Several rows a warp (xinf_cuda_project_rows_host): 'valid' rows of
//  'dtype' times 'count' tokens must give, row by row and token by token,
//  the very floats of the one-row lanes (F16/BF16: the wide lanes; Q8_0:
//  the q8a path), so a token's result does not depend on its batch.
//  Returns the (row, token) results compared.
static size_t
s_check_rows (xinf_dtype_t dtype, size_t cols, size_t valid, size_t count, uint64_t *state)
{
    size_t row_bytes = xinf_dtype_row_bytes (dtype, cols);
    uint8_t *rows = aligned_alloc (16, (valid * row_bytes + 15) / 16 * 16);
    float *x = aligned_alloc (16, (count * cols * sizeof (float) + 15) / 16 * 16), several [4 * 8], alone [8];
    CHECK (rows && x);
    for (size_t i = 0; i < valid; i++)
        s_row (dtype, cols, rows + i * row_bytes, state);
    for (size_t k = 0; k < count * cols; k++)
        x [k] = (float) test_uniform (state);
    CHECK (xinf_cuda_project_rows_host (dtype, rows, row_bytes, valid, cols, x, count, several));
    for (size_t i = 0; i < valid; i++) {
        if (dtype == XINF_DTYPE_Q8_0)
            CHECK (xinf_cuda_project_row_q8a_host (rows + i * row_bytes, cols, x, count, alone));
        else
            CHECK (xinf_cuda_project_row_host (dtype, rows + i * row_bytes, row_bytes, cols, x, count, alone));
        if (memcmp (alone, several + i * count, count * sizeof (float)) != 0) {
            fprintf (stderr, "FAIL: %s %zu rows a warp, width %zu, %zu tokens: row %zu differs from one row a warp\n",
                     xinf_dtype_name (dtype), valid, cols, count, i);
            CHECK (false);
        }
    }
    free (rows);
    free (x);
    return valid * count;
}

void
test_twins_wide_host_kernel (void)
{
    //  Widths: fewer chunks than lanes, exactly a warp's, several rounds
    //  with a remainder, the shapes of the presets (896, 2048, 4864, 8192)
    static const size_t widths [] = { 32, 64, 256, 896, 1056, 2048, 4864, 8192 };
    static const xinf_dtype_t types [] = { XINF_DTYPE_F16, XINF_DTYPE_BF16, XINF_DTYPE_Q8_0, XINF_DTYPE_Q4_K,
                                           XINF_DTYPE_Q6_K };
    uint64_t state = 0x5eed;
    size_t checked = 0;
    for (size_t type = 0; type < sizeof types / sizeof types [0]; type++)
        for (size_t width = 0; width < sizeof widths / sizeof widths [0]; width++)
            for (size_t count = 1; count <= 8; count += count < 3 ? 1 : 5)
                if (widths [width] % xinf_dtype_block_size (types [type]) == 0)
                    checked += s_check_row (types [type], widths [width], count, &state);
    s_check_refusals ();
    printf ("wide product kernel on the host: %zu rows x tokens of F16, BF16, Q8_0, Q4_K, Q6_K within float rounding "
            "of the exact sums\n", checked);
    size_t q8a = 0;
    s_check_q8a_quantizer (&state);
    for (size_t width = 0; width < sizeof widths / sizeof widths [0]; width++)
        for (size_t count = 1; count <= 8; count += count < 3 ? 1 : 5)
            q8a += s_check_row_q8a (widths [width], count, &state);
    s_check_q8a_decode (&state);
    s_check_q8a_refusals ();
    printf ("q8a path of Q8_0 products on the host: quantizer and repacked weights bit for bit the CPU's; %zu rows x tokens within the "
            "quantization's bound of the exact sums\n", q8a);
    static const xinf_dtype_t several [] = { XINF_DTYPE_F16, XINF_DTYPE_BF16, XINF_DTYPE_Q8_0 };
    size_t rows = 0;
    for (size_t type = 0; type < 3; type++)
        for (size_t width = 0; width < sizeof widths / sizeof widths [0]; width++)
            for (size_t valid = 1; valid <= 4; valid++)
                for (size_t count = 1; count <= 8; count += count < 3 ? 1 : 5)
                    rows += s_check_rows (several [type], widths [width], valid, count, &state);
    printf ("several rows a warp (F16, BF16, Q8_0 q8a) on the host: %zu rows x tokens bit for bit one row a warp's\n",
            rows);
}
#endif
