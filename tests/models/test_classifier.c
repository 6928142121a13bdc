/*  test_classifier: a reranker's classification head (xinf_classifier).

    Heads written with the GGUF writer and read back: an F32 head with a
    bias, applied to a state, equals the products in double (with the
    softmax of a qwen3 file; without for llama); F16 and Q8_0 heads equal
    their F32 values after the same rounding (xinf_dtype_to_f32). Every
    bad head is refused naming what is wrong: none, an encoder's dense
    layer, the wrong width, too many outputs, a bias of the wrong size or
    type, a type the head is not read in.
*/
#include "test_models.h"
#include "xinf_classifier.h"
#include "xinf_gguf_writer.h"
#include "xinf_dtype.h"
#include "xinf_quant.h"
#include "xinf_fp16.h"

#include <math.h>

#define DIM 64

//  A file of arch 'arch' with head cls.output.weight ne {cols, rows} of
//  'type' made from 'values' (rows x cols floats), a bias of 'bias_count'
//  F32 values (0: none), and a dense cls.weight when 'dense'; opened.
static xinf_gguf_t *
s_file (const char *name, const char *arch, uint32_t type, size_t cols, size_t rows, const float *values,
        size_t bias_count, uint32_t bias_type, bool dense)
{
    char path [512], error [256];
    test_path (path, sizeof path, name);
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_set_str (writer, "general.architecture", arch) == 0);
    uint64_t ne [2] = { cols, rows }, bias_ne [1] = { bias_count }, dense_ne [2] = { DIM, DIM };
    if (rows)
        CHECK (xinf_gguf_writer_add_tensor (writer, "cls.output.weight", type, 2, ne) == 0);
    if (bias_count)
        CHECK (xinf_gguf_writer_add_tensor (writer, "cls.output.bias", bias_type, 1, bias_ne) == 0);
    if (dense)
        CHECK (xinf_gguf_writer_add_tensor (writer, "cls.weight", XINF_GGML_F32, 2, dense_ne) == 0);
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    if (rows) {
        size_t size = (size_t) xinf_gguf_writer_tensor_size (writer, 0);
        uint8_t *bytes = calloc (1, size);
        if (type == XINF_GGML_F32)
            memcpy (bytes, values, size);
        else
        if (type == XINF_GGML_F16)
            for (size_t i = 0; i < rows * cols; i++) {
                uint16_t half = xinf_fp32_to_fp16 (values [i]);
                memcpy (bytes + 2 * i, &half, 2);
            }
        else
        if (type == XINF_GGML_Q8_0)
            xinf_quantize_q8_0 (values, rows * cols, bytes);
        CHECK (xinf_gguf_writer_write (writer, bytes, size) == 0);
        free (bytes);
    }
    if (bias_count) {
        float bias [8] = { 0.5f, -0.25f, 1, 2, 3, 4, 5, 6 };
        CHECK (xinf_gguf_writer_write (writer, bias, (size_t) xinf_gguf_writer_tensor_size (writer, rows ? 1 : 0)) == 0);
    }
    if (dense) {
        float *zeros = calloc (DIM * DIM, sizeof (float));
        CHECK (xinf_gguf_writer_write (writer, zeros, DIM * DIM * sizeof (float)) == 0);
        free (zeros);
    }
    CHECK (xinf_gguf_writer_finish (writer) == 0);
    xinf_gguf_writer_destroy (&writer);
    xinf_gguf_t *gguf = xinf_gguf_open (path, error, sizeof error);
    CHECK (gguf);
    return gguf;
}

static void
s_values (float *values, size_t count, float scale)
{
    for (size_t i = 0; i < count; i++)
        values [i] = scale * (float) sin ((double) i * 0.37 + 1.0);
}

//  The head of 'gguf' on 'state' against products of 'weights' (as the
//  file holds them), plus the bias, softmaxed when asked.
static void
s_check_apply (xinf_gguf_t *gguf, const float *weights, size_t rows, const float *bias, bool softmax)
{
    char error [256];
    float values [DIM];
    double state [DIM];
    s_values (values, DIM, 1.5f);
    for (size_t i = 0; i < DIM; i++)
        state [i] = values [i];
    xinf_classifier_t *head = xinf_classifier_load (gguf, DIM, error, sizeof error);
    CHECK (head);
    CHECK_INT (xinf_classifier_outputs (head), rows);
    double got [4], want [4], top = -INFINITY, sum = 0;
    CHECK (xinf_classifier_apply (head, state, got));
    for (size_t row = 0; row < rows; row++) {
        want [row] = bias ? bias [row] : 0;
        for (size_t i = 0; i < DIM; i++)
            want [row] += (double) weights [row * DIM + i] * state [i];
        top = want [row] > top ? want [row] : top;
    }
    for (size_t row = 0; softmax && row < rows; row++)
        sum += (want [row] = exp (want [row] - top));
    for (size_t row = 0; row < rows; row++)
        CHECK (fabs (got [row] - (softmax ? want [row] / sum : want [row])) < 1e-12);
    xinf_classifier_destroy (&head);
}

static void
test_heads (void)
{
    float values [2 * DIM], stored [2 * DIM], bias [2] = { 0.5f, -0.25f };
    s_values (values, 2 * DIM, 0.1f);
    xinf_gguf_t *gguf = s_file ("f32.gguf", "qwen3", XINF_GGML_F32, DIM, 2, values, 2, XINF_GGML_F32, false);
    s_check_apply (gguf, values, 2, bias, true);
    xinf_gguf_destroy (&gguf);
    gguf = s_file ("llama.gguf", "llama", XINF_GGML_F32, DIM, 2, values, 0, 0, false);
    s_check_apply (gguf, values, 2, NULL, false);                //  no softmax but for qwen3
    xinf_gguf_destroy (&gguf);
    //  F16 and Q8_0: the values the file holds
    uint8_t bytes [2 * DIM * 2];
    for (size_t i = 0; i < 2 * DIM; i++) {
        uint16_t half = xinf_fp32_to_fp16 (values [i]);
        memcpy (bytes + 2 * i, &half, 2);
    }
    for (size_t row = 0; row < 2; row++)
        xinf_dtype_to_f32 (XINF_DTYPE_F16, bytes + row * DIM * 2, DIM, stored + row * DIM);
    gguf = s_file ("f16.gguf", "qwen3", XINF_GGML_F16, DIM, 2, values, 0, 0, false);
    s_check_apply (gguf, stored, 2, NULL, true);
    xinf_gguf_destroy (&gguf);
    xinf_quantize_q8_0 (values, 2 * DIM, bytes);
    for (size_t row = 0; row < 2; row++)
        xinf_dtype_to_f32 (XINF_DTYPE_Q8_0, bytes + row * (DIM / 32) * 34, DIM, stored + row * DIM);
    gguf = s_file ("q8.gguf", "qwen3", XINF_GGML_Q8_0, DIM, 2, values, 0, 0, false);
    s_check_apply (gguf, stored, 2, NULL, true);
    xinf_gguf_destroy (&gguf);
}

//  A head that cannot be read is refused, naming why.
static void
s_refused (xinf_gguf_t *gguf, size_t dim, const char *needle)
{
    char error [256] = "";
    xinf_classifier_t *head = xinf_classifier_load (gguf, dim, error, sizeof error);
    CHECK (head == NULL);
    CHECK_HAS (error, needle);
    xinf_gguf_destroy (&gguf);
}

static void
test_refusals (void)
{
    float values [70 * DIM];
    s_values (values, 70 * DIM, 0.1f);
    s_refused (s_file ("none.gguf", "qwen3", XINF_GGML_F32, DIM, 0, values, 0, 0, false), DIM, "no classification head");
    s_refused (s_file ("dense.gguf", "qwen3", XINF_GGML_F32, DIM, 2, values, 0, 0, true), DIM, "cls.weight");
    s_refused (s_file ("wide.gguf", "qwen3", XINF_GGML_F32, DIM, 2, values, 0, 0, false), DIM * 2, "128 x N");
    s_refused (s_file ("many.gguf", "qwen3", XINF_GGML_F32, DIM, 65, values, 0, 0, false), DIM, "1 to 64");
    s_refused (s_file ("bias.gguf", "qwen3", XINF_GGML_F32, DIM, 2, values, 3, XINF_GGML_F32, false), DIM,
               "cls.output.bias");
    s_refused (s_file ("biasf16.gguf", "qwen3", XINF_GGML_F32, DIM, 2, values, 2, XINF_GGML_F16, false), DIM,
               "cls.output.bias");
    s_refused (s_file ("q4.gguf", "qwen3", XINF_GGML_Q4_0, DIM, 2, values, 0, 0, false), DIM, "not read in");
}

int
main (void)
{
    test_scratch_begin ();
    RUN (test_heads);
    RUN (test_refusals);
    test_scratch_end ();
    return 0;
}
