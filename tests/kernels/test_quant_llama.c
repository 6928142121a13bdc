/*  test_quant_llama: the quantized tensors of a GGUF file that llama.cpp's
    llama-quantize wrote, decoded by xinf (xinf_dtype_to_f32, and every
    kernel set's row conversion), equal bit for bit the floats of
    gguf-py's dequantizers (quant_llama.py writes them); and each
    quantized matrix's matvec with a random x is within the quantization
    bound of the double product of those floats.
    Usage: unit_kernels_quant_llama FILE.gguf EXPECTED  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"
#include "xinf_gguf.h"

static const char *s_kernels [] = { "portable", "avx2", "avx512" };

static bool
s_dtype (uint32_t type, xinf_dtype_t *dtype)
{
    switch (type) {
        case XINF_GGML_Q8_0: *dtype = XINF_DTYPE_Q8_0; return true;
        case XINF_GGML_Q4_0: *dtype = XINF_DTYPE_Q4_0; return true;
        case XINF_GGML_Q4_1: *dtype = XINF_DTYPE_Q4_1; return true;
        case XINF_GGML_Q5_0: *dtype = XINF_DTYPE_Q5_0; return true;
        case XINF_GGML_Q5_1: *dtype = XINF_DTYPE_Q5_1; return true;
        case XINF_GGML_Q4_K: *dtype = XINF_DTYPE_Q4_K; return true;
        case XINF_GGML_Q5_K: *dtype = XINF_DTYPE_Q5_K; return true;
        case XINF_GGML_Q6_K: *dtype = XINF_DTYPE_Q6_K; return true;
        case XINF_GGML_Q2_K: *dtype = XINF_DTYPE_Q2_K; return true;
        case XINF_GGML_Q3_K: *dtype = XINF_DTYPE_Q3_K; return true;
        case XINF_GGML_IQ4_NL: *dtype = XINF_DTYPE_IQ4_NL; return true;
        case XINF_GGML_IQ4_XS: *dtype = XINF_DTYPE_IQ4_XS; return true;
        default: return false;
    }
}

static bool
s_same (float a, float b)
{
    return xinf_dtype_f32_to_bits (a) == xinf_dtype_f32_to_bits (b) || (isnan (a) && isnan (b));
}

//  The matvec of the tensor with x against the double product of the
//  expected floats: within sum over 256-column spans of sum |w| amax /
//  32766 (the coarsest span; the K types' 8-bit activations: / 254)
//  plus 1e-5 of sum |w x|.
static void
s_check_matvec (xinf_dtype_t dtype, const void *data, size_t rows, size_t cols, const float *expected)
{
    uint64_t state = rows * 131 + cols;
    float *x = test_floats (cols, &state), *y = malloc (rows * sizeof (float));
    CHECK (y);
    xinf_cpu_matvec (NULL, dtype, data, rows, cols, x, y);
    for (size_t r = 0; r < rows; r++) {
        double exact = 0, magnitude = 0, bound = 0;
        for (size_t at = 0; at < cols; at += 32) {
            double top = 0, weights = 0;
            for (size_t i = at; i < at + 32; i++) {
                double w = expected [r * cols + i];
                exact += w * x [i];
                magnitude += fabs (w * x [i]);
                weights += fabs (w);
            }
            for (size_t i = at - at % 256; i < at - at % 256 + 256 && i < cols; i++)
                top = fabs (x [i]) > top ? fabs (x [i]) : top;
            bool k = xinf_dtype_block_size (dtype) == 256;
            bound += weights * top / (k ? 254 : 32766);
        }
        CHECK (fabs (y [r] - exact) <= bound * 1.0001 + 1e-5 * magnitude);
    }
    free (x), free (y);
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: unit_kernels_quant_llama FILE.gguf EXPECTED\n");
        return 1;
    }
    char error [256];
    xinf_gguf_t *gguf = xinf_gguf_open (argv [1], error, sizeof error);
    if (!gguf) {
        fprintf (stderr, "%s\n", error);
        return 1;
    }
    //  The reader copies a file's tensors in when asked (no mmap)
    if (xinf_gguf_load_tensors (gguf)) {
        fprintf (stderr, "%s\n", xinf_gguf_error (gguf));
        return 1;
    }
    FILE *file = fopen (argv [2], "rb");
    CHECK (file);
    uint32_t length;
    size_t tensors = 0;
    while (fread (&length, 4, 1, file) == 1) {
        char name [256] = { 0 };
        uint64_t count;
        CHECK (length < sizeof name && fread (name, 1, length, file) == length && fread (&count, 8, 1, file) == 1);
        float *expected = malloc (count * sizeof (float)), *out = malloc (count * sizeof (float));
        CHECK (expected && out && fread (expected, sizeof (float), count, file) == count);
        const xinf_gguf_tensor_t *tensor = xinf_gguf_find_tensor (gguf, name);
        xinf_dtype_t dtype;
        CHECK (tensor && s_dtype (tensor->type, &dtype) && tensor->n_elements == count);
        size_t cols = tensor->ne [0], rows = count / cols, row_bytes = xinf_dtype_row_bytes (dtype, cols);
        CHECK (row_bytes && rows * row_bytes == tensor->size);
        for (size_t k = 0; k < sizeof s_kernels / sizeof s_kernels [0]; k++) {
            if (!xinf_cpu_simd_use (s_kernels [k]))
                continue;
            for (size_t r = 0; r < rows; r++)
                xinf_cpu_row_to_f32 (dtype, (const uint8_t *) tensor->data + r * row_bytes, cols, out + r * cols);
            for (size_t i = 0; i < count; i++)
                if (!s_same (out [i], expected [i])) {
                    fprintf (stderr, "%s (%s, %s) element %zu: %.9g, gguf-py %.9g\n", name, xinf_dtype_name (dtype),
                             s_kernels [k], i, out [i], expected [i]);
                    return 1;
                }
        }
        xinf_cpu_simd_set (true);
        xinf_dtype_to_f32 (dtype, tensor->data, count, out);
        CHECK (memcmp (out, expected, count * sizeof (float)) == 0);
        if (tensor->n_dims == 2)
            s_check_matvec (dtype, tensor->data, rows, cols, expected);
        free (expected), free (out);
        tensors++;
    }
    fclose (file);
    xinf_gguf_destroy (&gguf);
    CHECK (tensors > 0);
    fprintf (stderr, "  ok  %zu tensors of %s\n", tensors, argv [1]);
    return 0;
}
