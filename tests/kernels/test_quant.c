/*  test_quant: the decoding of the quantized block types (Q4_0, Q4_1,
    Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4) against an
    independent encoder and
    decoder (quant_blocks.py, numpy, written from the format description):
    xinf_dtype_to_f32 and every kernel set's row conversion give its
    floats bit for bit (NaN for NaN), for encoded blocks, random bytes and
    extreme scales (largest, subnormal, negative, zero, infinite, NaN);
    row sizes and names; a row decoded in pieces equals the whole; xinf's
    MXFP4 quantizer (model files) keeps every weight within a quarter of
    its block's largest and gives back what it decodes.
    Usage: unit_kernels_quant BLOCKS-FILE (written by quant_blocks.py).  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"
#include "xinf_quant.h"
#include "xinf_quant_blocks.h"

static const char *s_kernels [] = { "portable", "avx2", "avx512" };

static xinf_dtype_t
s_named (const char *name)
{
    for (int type = 0; type < XINF_DTYPE_COUNT; type++)
        if (strcmp (xinf_dtype_name ((xinf_dtype_t) type), name) == 0)
            return (xinf_dtype_t) type;
    fprintf (stderr, "unknown type %s\n", name);
    exit (1);
}

static bool
s_same (float a, float b)
{
    return xinf_dtype_f32_to_bits (a) == xinf_dtype_f32_to_bits (b) || (isnan (a) && isnan (b));
}

//  All blocks of one type as one row, each way.
static void
s_check_type (xinf_dtype_t dtype, const uint8_t *blocks, size_t count, const float *expected)
{
    size_t size = xinf_dtype_block_size (dtype), cols = count * size;
    float *out = malloc (cols * sizeof (float));
    CHECK (out);
    xinf_dtype_to_f32 (dtype, blocks, cols, out);
    for (size_t i = 0; i < cols; i++)
        if (!s_same (out [i], expected [i])) {
            fprintf (stderr, "%s block %zu weight %zu: %.9g, expected %.9g\n", xinf_dtype_name (dtype), i / size,
                     i % size, out [i], expected [i]);
            exit (1);
        }
    for (size_t k = 0; k < sizeof s_kernels / sizeof s_kernels [0]; k++) {
        if (!xinf_cpu_simd_use (s_kernels [k]))
            continue;
        memset (out, 0, cols * sizeof (float));
        xinf_cpu_row_to_f32 (dtype, blocks, cols, out);
        for (size_t i = 0; i < cols; i++)
            CHECK (s_same (out [i], expected [i]));
    }
    //  block by block, through the integer decoder: q * a (+ c) per group
    //  (Q2_K has no groups of 32: the fold below only)
    bool groups = dtype != XINF_DTYPE_Q2_K;
    for (size_t b = 0; b < count && groups; b++) {
        int16_t q [8][32];
        float a [8], c [8];
        xinf_quant_decode (dtype, blocks, b, 1, q [0], 32, a, c, 1);
        for (size_t i = 0; i < size; i++) {
            CHECK (abs (q [i / 32][i % 32]) <= XINF_QUANT_Q_MAX);
            double value = (double) q [i / 32][i % 32] * a [i / 32] + c [i / 32];
            float want = expected [b * size + i];
            CHECK ((float) value == want || isnan (want) || isinf (want) || (isnan (value) && isnan (want)));
        }
    }
    //  K blocks folded for the products: d * wq - dmin * m, in double
    for (size_t b = 0; b < count && size == 256; b++) {
        int16_t wq [256];
        int32_t m [16];
        float d, dmin;
        xinf_qb_k_fold (dtype, blocks + b * xinf_dtype_block_bytes (dtype), wq, m, &d, &dmin);
        for (size_t i = 0; i < size; i++) {
            CHECK (abs (wq [i]) <= XINF_QUANT_Q_MAX && m [i / 16] >= 0 && m [i / 16] < 64);
            if (dtype == XINF_DTYPE_Q2_K)
                CHECK (wq [i] >= 0 && wq [i] <= 45 && m [i / 16] < 16);
            if (dtype == XINF_DTYPE_Q3_K)
                CHECK (abs (wq [i]) <= 128 && m [i / 16] == 0 && dmin == 0);
            if (dtype == XINF_DTYPE_IQ4_XS)
                CHECK (abs (wq [i]) <= 4064 && m [i / 16] == 0 && dmin == 0);
            double value = (double) d * wq [i] - (double) dmin * m [i / 16];
            float want = expected [b * size + i];
            CHECK ((float) value == want || !isfinite (want) || !isfinite (value));
        }
    }
    xinf_cpu_simd_set (true);
    free (out);
    fprintf (stderr, "  ok  %-6s %zu blocks\n", xinf_dtype_name (dtype), count);
}

static void
s_check_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    CHECK (file);
    int types = 0;
    char name [9] = { 0 };
    while (fread (name, 1, 8, file) == 8) {
        uint32_t count, bytes;
        CHECK (fread (&count, 4, 1, file) == 1 && fread (&bytes, 4, 1, file) == 1);
        xinf_dtype_t dtype = s_named (name);
        CHECK_INT (bytes, xinf_dtype_block_bytes (dtype));
        uint8_t *blocks = malloc ((size_t) count * bytes);
        float *expected = malloc ((size_t) count * xinf_dtype_block_size (dtype) * sizeof (float));
        CHECK (blocks && expected);
        CHECK (fread (blocks, bytes, count, file) == count);
        CHECK (fread (expected, sizeof (float) * xinf_dtype_block_size (dtype), count, file) == count);
        s_check_type (dtype, blocks, count, expected);
        free (blocks);
        free (expected);
        types++;
    }
    fclose (file);
    CHECK_INT (types, 12);
}

static void
test_sizes (void)
{
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q4_0, 64), 36);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q4_1, 32), 20);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q5_0, 96), 66);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q5_1, 32), 24);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q4_K, 512), 288);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q5_K, 256), 176);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q6_K, 896 * 256 / 128), 210 * 7);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q2_K, 512), 168);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q3_K, 768), 330);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q3_K, 640), 0);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q4_K, 896), 0);        //  not whole blocks
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q4_0, 48), 0);
    CHECK_INT (xinf_dtype_row_bytes ((xinf_dtype_t) 99, 32), 0);
    CHECK (strcmp (xinf_dtype_name (XINF_DTYPE_Q6_K), "Q6_K") == 0);
    CHECK (strcmp (xinf_dtype_name ((xinf_dtype_t) -1), "?") == 0);
    CHECK (xinf_dtype_is_quant (XINF_DTYPE_Q4_0) && !xinf_dtype_is_quant (XINF_DTYPE_Q8_0));
    CHECK (xinf_dtype_is_quant (XINF_DTYPE_Q2_K) && xinf_dtype_is_quant (XINF_DTYPE_Q3_K));
    CHECK (strcmp (xinf_dtype_name (XINF_DTYPE_Q2_K), "Q2_K") == 0 && strcmp (xinf_dtype_name (XINF_DTYPE_Q3_K), "Q3_K") == 0);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_IQ4_NL, 896), 28 * 18);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_IQ4_XS, 512), 272);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_IQ4_XS, 896), 0);
    CHECK (xinf_dtype_is_quant (XINF_DTYPE_IQ4_NL) && xinf_dtype_is_quant (XINF_DTYPE_IQ4_XS));
    CHECK (strcmp (xinf_dtype_name (XINF_DTYPE_IQ4_NL), "IQ4_NL") == 0
           && strcmp (xinf_dtype_name (XINF_DTYPE_IQ4_XS), "IQ4_XS") == 0);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_MXFP4, 2880), 90 * 17);
    CHECK (xinf_dtype_is_quant (XINF_DTYPE_MXFP4) && strcmp (xinf_dtype_name (XINF_DTYPE_MXFP4), "MXFP4") == 0);
}

//  xinf_dtype_from_f32's MXFP4: random blocks of three magnitudes and a
//  zero block; each weight within 1/4 of its block's max |x| (the top
//  binade clips at 1.5 times its base), and its own floats quantize to
//  the same bytes.
static void
s_mxfp4_quantizer (void)
{
    uint64_t state = 41;
    float x [128], back [128], again [128];
    uint8_t row [4 * 17], second [4 * 17];
    for (int round = 0; round < 300; round++) {
        float scale = round % 3 == 0 ? 1e-3f : round % 3 == 1 ? 1.0f : 3e4f;
        for (int i = 0; i < 128; i++)
            x [i] = round == 0 ? 0.0f : test_uniform (&state) * scale;
        CHECK (xinf_dtype_from_f32 (XINF_DTYPE_MXFP4, x, 128, row));
        xinf_dtype_to_f32 (XINF_DTYPE_MXFP4, row, 128, back);
        for (int b = 0; b < 4; b++) {
            float top = 0;
            for (int i = 0; i < 32; i++)
                top = fabsf (x [32 * b + i]) > top ? fabsf (x [32 * b + i]) : top;
            for (int i = 0; i < 32; i++)
                CHECK (fabsf (back [32 * b + i] - x [32 * b + i]) <= 0.25f * top);
        }
        CHECK (xinf_dtype_from_f32 (XINF_DTYPE_MXFP4, back, 128, second));
        xinf_dtype_to_f32 (XINF_DTYPE_MXFP4, second, 128, again);
        CHECK (memcmp (back, again, sizeof back) == 0);
    }
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: unit_kernels_quant BLOCKS-FILE\n");
        return 1;
    }
    RUN (test_sizes);
    RUN (s_mxfp4_quantizer);
    s_check_file (argv [1]);
    return 0;
}
