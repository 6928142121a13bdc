/*  test_gguf: the GGUF writer and reader round trip every metadata value
    type and every tensor type with their data, plus the fp16/bf16/Q8_0
    conversions and the writer's own errors.
*/
#include "test_models.h"
#include "xinf_fp16.h"
#include "xinf_gguf_writer.h"

#include <math.h>

static void
test_fp16 (void)
{
    CHECK_INT (xinf_fp32_to_fp16 (1.0f), 0x3c00);
    CHECK_INT (xinf_fp32_to_fp16 (-2.0f), 0xc000);
    CHECK_INT (xinf_fp32_to_fp16 (65504.0f), 0x7bff);
    CHECK_INT (xinf_fp32_to_fp16 (65520.0f), 0x7c00);             //  rounds to infinity
    CHECK_INT (xinf_fp32_to_fp16 (ldexpf (1.0f, -24)), 0x0001);   //  smallest subnormal
    CHECK_INT (xinf_fp32_to_fp16 (ldexpf (1.0f, -26)), 0x0000);
    CHECK_INT (xinf_fp32_to_fp16 (1.0f + ldexpf (1.0f, -11)), 0x3c00);      //  tie: to even
    CHECK_INT (xinf_fp32_to_fp16 (1.0f + 3 * ldexpf (1.0f, -11)), 0x3c02);  //  tie: to even
    CHECK_INT (xinf_fp32_to_fp16 (INFINITY), 0x7c00);
    CHECK (isnan (xinf_fp16_to_fp32 (xinf_fp32_to_fp16 (NAN))));
    CHECK_INT (xinf_fp32_to_bf16 (1.0f), 0x3f80);
    CHECK_INT (xinf_fp32_to_bf16 (1.0f + ldexpf (1.0f, -8)), 0x3f80);       //  tie: to even
    CHECK_INT (xinf_fp32_to_bf16 (1.0f + 3 * ldexpf (1.0f, -8)), 0x3f82);
    CHECK (isnan (xinf_bf16_to_fp32 (xinf_fp32_to_bf16 (NAN))));
    //  Every 16-bit pattern that is not a NaN survives float and back.
    for (uint32_t bits = 0; bits < 65536; bits++) {
        float half = xinf_fp16_to_fp32 ((uint16_t) bits);
        if (!isnan (half))
            CHECK_INT (xinf_fp32_to_fp16 (half), bits);
        float brain = xinf_bf16_to_fp32 ((uint16_t) bits);
        if (!isnan (brain))
            CHECK_INT (xinf_fp32_to_bf16 (brain), bits);
    }
    //  Q8_0: the error of each value is at most half a step.
    float values [64], back [64];
    uint8_t blocks [2 * XINF_Q8_0_BYTES];
    for (int index = 0; index < 64; index++)
        values [index] = sinf ((float) index) * (index < 32 ? 0.05f : 3.0f);
    values [40] = 0;
    xinf_quantize_q8_0 (values, 64, blocks);
    xinf_dequantize_q8_0 (blocks, 64, back);
    for (int index = 0; index < 64; index++)
        CHECK (fabsf (back [index] - values [index]) <= (index < 32 ? 0.05f : 3.0f) / 127.0f * 0.51f + 1e-6f);
    float zeros [32] = { 0 };
    xinf_quantize_q8_0 (zeros, 32, blocks);
    xinf_dequantize_q8_0 (blocks, 32, back);
    CHECK (back [0] == 0 && back [31] == 0);
}

//  ---- metadata round trip ---------------------------------------------------------

static void
s_write_metadata (xinf_gguf_writer_t *writer)
{
    uint8_t u8 = 200;         int8_t i8 = -100;
    uint16_t u16 = 60000;     int16_t i16 = -30000;
    uint32_t u32 = 4000000000u; int32_t i32 = -2000000000;
    float f32 = 0.15625f;     bool flag = true;
    uint64_t u64 = 18000000000000000000ull; int64_t i64 = -9000000000000000000ll;
    double f64 = -1.0 / 3.0;
    CHECK (xinf_gguf_writer_set (writer, "t.u8", XINF_GGUF_UINT8, &u8) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.i8", XINF_GGUF_INT8, &i8) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.u16", XINF_GGUF_UINT16, &u16) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.i16", XINF_GGUF_INT16, &i16) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.u32", XINF_GGUF_UINT32, &u32) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.i32", XINF_GGUF_INT32, &i32) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.f32", XINF_GGUF_FLOAT32, &f32) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.bool", XINF_GGUF_BOOL, &flag) == 0);
    CHECK (xinf_gguf_writer_set_strn (writer, "t.str", "nul\0inside", 10) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.u64", XINF_GGUF_UINT64, &u64) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.i64", XINF_GGUF_INT64, &i64) == 0);
    CHECK (xinf_gguf_writer_set (writer, "t.f64", XINF_GGUF_FLOAT64, &f64) == 0);
    CHECK (xinf_gguf_writer_set_u64 (writer, "llama.block_count", 24) == 0);    //  u64 hyperparameter
    CHECK (xinf_gguf_writer_set_u32 (writer, "llama.embedding_length", 896) == 0);
    CHECK (xinf_gguf_writer_set_i32 (writer, "llama.context_length", 4096) == 0);
    CHECK (xinf_gguf_writer_set_str (writer, "general.architecture", "llama") == 0);

    uint8_t a_u8 [] = { 0, 255 };             int8_t a_i8 [] = { -128, 127 };
    uint16_t a_u16 [] = { 0, 65535 };         int16_t a_i16 [] = { -32768, 32767 };
    uint32_t a_u32 [] = { 1, 4294967295u };   int32_t a_i32 [] = { -2147483647 - 1, 6 };
    float a_f32 [] = { -0.5f, 1e30f };        bool a_bool [] = { true, false };
    uint64_t a_u64 [] = { 7, UINT64_MAX };    int64_t a_i64 [] = { INT64_MIN, INT64_MAX };
    double a_f64 [] = { 3.25, -1e300 };
    CHECK (xinf_gguf_writer_set_array (writer, "a.u8", XINF_GGUF_UINT8, a_u8, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.i8", XINF_GGUF_INT8, a_i8, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.u16", XINF_GGUF_UINT16, a_u16, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.i16", XINF_GGUF_INT16, a_i16, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.u32", XINF_GGUF_UINT32, a_u32, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.i32", XINF_GGUF_INT32, a_i32, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.f32", XINF_GGUF_FLOAT32, a_f32, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.bool", XINF_GGUF_BOOL, a_bool, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.u64", XINF_GGUF_UINT64, a_u64, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.i64", XINF_GGUF_INT64, a_i64, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.f64", XINF_GGUF_FLOAT64, a_f64, 2) == 0);
    CHECK (xinf_gguf_writer_set_array (writer, "a.empty", XINF_GGUF_UINT32, NULL, 0) == 0);
    const char *strings [] = { "", "\xe2\x96\x81hello", "a b" };
    CHECK (xinf_gguf_writer_set_str_array (writer, "a.str", strings, NULL, 3) == 0);
}

static void
s_check_int (xinf_gguf_t *gguf, const char *key, int64_t expected)
{
    int64_t value = 0;
    CHECK (xinf_gguf_get_int (gguf, key, &value) == 0);
    CHECK_INT (value, expected);
}

static void
s_check_array (xinf_gguf_t *gguf, const char *key, xinf_gguf_type_t type, int64_t first, int64_t second)
{
    int64_t index = xinf_gguf_find_key (gguf, key), value;
    xinf_gguf_type_t element_type;
    uint64_t count;
    CHECK (index >= 0);
    CHECK (xinf_gguf_get_array (gguf, key, &element_type, &count) == 0);
    CHECK_INT (element_type, type);
    CHECK_INT (count, 2);
    CHECK (xinf_gguf_array_int (gguf, (size_t) index, 0, &value) == 0);
    CHECK_INT (value, first);
    CHECK (xinf_gguf_array_int (gguf, (size_t) index, 1, &value) == 0);
    CHECK_INT (value, second);
    CHECK (xinf_gguf_array_int (gguf, (size_t) index, 2, &value) == -1);
    CHECK_HAS (xinf_gguf_error (gguf), "out of range");
}

static void
s_check_scalars (xinf_gguf_t *gguf)
{
    s_check_int (gguf, "t.u8", 200);
    s_check_int (gguf, "t.i8", -100);
    s_check_int (gguf, "t.u16", 60000);
    s_check_int (gguf, "t.i16", -30000);
    s_check_int (gguf, "t.u32", 4000000000ll);
    s_check_int (gguf, "t.i32", -2000000000);
    s_check_int (gguf, "t.i64", -9000000000000000000ll);
    uint64_t big;
    CHECK (xinf_gguf_get_uint (gguf, "t.u64", &big) == 0);
    CHECK (big == 18000000000000000000ull);
    int64_t signed_value;
    CHECK (xinf_gguf_get_int (gguf, "t.u64", &signed_value) == -1);
    CHECK_HAS (xinf_gguf_error (gguf), "does not fit");
    CHECK (xinf_gguf_get_uint (gguf, "t.i8", &big) == -1);
    CHECK_HAS (xinf_gguf_error (gguf), "-100, expected a non-negative integer");
    double number;
    CHECK (xinf_gguf_get_float (gguf, "t.f32", &number) == 0 && number == 0.15625);
    CHECK (xinf_gguf_get_float (gguf, "t.f64", &number) == 0 && number == -1.0 / 3.0);
    CHECK (xinf_gguf_get_float (gguf, "t.u16", &number) == 0 && number == 60000);
    bool flag = false;
    CHECK (xinf_gguf_get_bool (gguf, "t.bool", &flag) == 0 && flag);
    CHECK (xinf_gguf_get_bool (gguf, "t.u8", &flag) == -1);
    CHECK_HAS (xinf_gguf_error (gguf), "'t.u8' is a u8, expected a bool");
    //  Hyperparameters as u64, u32 or i32: the same getter.
    uint64_t layers, dim, context;
    CHECK (xinf_gguf_get_uint (gguf, "llama.block_count", &layers) == 0 && layers == 24);
    CHECK (xinf_gguf_get_uint (gguf, "llama.embedding_length", &dim) == 0 && dim == 896);
    CHECK (xinf_gguf_get_uint (gguf, "llama.context_length", &context) == 0 && context == 4096);
    CHECK (xinf_gguf_get_uint (gguf, "llama.rope.freq_base", &big) == -1);
    CHECK_HAS (xinf_gguf_error (gguf), "'llama.rope.freq_base' is missing");
    CHECK (!xinf_gguf_has (gguf, "llama.rope.freq_base"));
    CHECK_STR (xinf_gguf_get_str (gguf, "general.architecture"), "llama");
    CHECK (xinf_gguf_get_str (gguf, "t.u8") == NULL);
    CHECK_HAS (xinf_gguf_error (gguf), "expected a string");
    int64_t index = xinf_gguf_find_key (gguf, "t.str");
    CHECK (index >= 0 && xinf_gguf_kv_type (gguf, (size_t) index) == XINF_GGUF_STRING);
    CHECK (memcmp (xinf_gguf_get_str (gguf, "t.str"), "nul\0inside", 11) == 0);
}

static void
s_check_arrays (xinf_gguf_t *gguf)
{
    s_check_array (gguf, "a.u8", XINF_GGUF_UINT8, 0, 255);
    s_check_array (gguf, "a.i8", XINF_GGUF_INT8, -128, 127);
    s_check_array (gguf, "a.u16", XINF_GGUF_UINT16, 0, 65535);
    s_check_array (gguf, "a.i16", XINF_GGUF_INT16, -32768, 32767);
    s_check_array (gguf, "a.u32", XINF_GGUF_UINT32, 1, 4294967295ll);
    s_check_array (gguf, "a.i32", XINF_GGUF_INT32, -2147483647ll - 1, 6);
    s_check_array (gguf, "a.bool", XINF_GGUF_BOOL, 1, 0);
    s_check_array (gguf, "a.i64", XINF_GGUF_INT64, INT64_MIN, INT64_MAX);
    size_t u64 = (size_t) xinf_gguf_find_key (gguf, "a.u64");
    int64_t value;
    uint64_t raw;
    CHECK (xinf_gguf_array_int (gguf, u64, 0, &value) == 0 && value == 7);
    CHECK (xinf_gguf_array_int (gguf, u64, 1, &value) == -1);
    memcpy (&raw, (const uint8_t *) xinf_gguf_array_data (gguf, u64) + 8, 8);
    CHECK (raw == UINT64_MAX);
    double number;
    size_t f32 = (size_t) xinf_gguf_find_key (gguf, "a.f32"), f64 = (size_t) xinf_gguf_find_key (gguf, "a.f64");
    CHECK (xinf_gguf_array_float (gguf, f32, 0, &number) == 0 && number == -0.5);
    CHECK (xinf_gguf_array_float (gguf, f32, 1, &number) == 0 && number == (double) 1e30f);
    CHECK (xinf_gguf_array_float (gguf, f64, 1, &number) == 0 && number == -1e300);
    CHECK (xinf_gguf_array_int (gguf, f64, 0, &value) == -1);
    uint64_t count = 99;
    CHECK (xinf_gguf_get_array (gguf, "a.empty", NULL, &count) == 0 && count == 0);
    size_t strings = (size_t) xinf_gguf_find_key (gguf, "a.str"), length = 99;
    CHECK (xinf_gguf_get_array (gguf, "a.str", NULL, &count) == 0 && count == 3);
    CHECK_STR (xinf_gguf_array_str (gguf, strings, 0, &length), "");
    CHECK_INT (length, 0);
    CHECK_STR (xinf_gguf_array_str (gguf, strings, 1, &length), "\xe2\x96\x81hello");
    CHECK_INT (length, 8);
    CHECK_STR (xinf_gguf_array_str (gguf, strings, 2, NULL), "a b");
    CHECK (xinf_gguf_array_str (gguf, strings, 3, NULL) == NULL);
    CHECK (xinf_gguf_array_str (gguf, f32, 0, NULL) == NULL);
    CHECK (xinf_gguf_array_data (gguf, strings) == NULL);
}

static void
test_metadata_round_trip (void)
{
    char path [300];
    test_path (path, sizeof path, "metadata.gguf");
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    s_write_metadata (writer);
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    CHECK (xinf_gguf_writer_finish (writer) == 0);
    xinf_gguf_writer_destroy (&writer);

    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open (path, error, sizeof error);
    if (!gguf)
        fprintf (stderr, "%s\n", error);
    CHECK (gguf);
    CHECK_INT (xinf_gguf_load_tensors (gguf), 0);
    CHECK_INT (xinf_gguf_version (gguf), 3);
    CHECK_INT (xinf_gguf_kv_count (gguf), 29);
    CHECK_INT (xinf_gguf_tensor_count (gguf), 0);
    CHECK_INT (xinf_gguf_alignment (gguf), 32);
    CHECK_STR (xinf_gguf_kv_key (gguf, 0), "t.u8");             //  file order kept
    CHECK_STR (xinf_gguf_kv_key (gguf, 28), "a.str");
    CHECK (xinf_gguf_kv_key (gguf, 29) == NULL);
    s_check_scalars (gguf);
    s_check_arrays (gguf);
    xinf_gguf_destroy (&gguf);
    xinf_gguf_destroy (&gguf);
}

//  ---- tensor round trip -------------------------------------------------------------

typedef struct {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne [4];
} s_spec_t;

static const s_spec_t s_specs [] = {
    { "f32.matrix", XINF_GGML_F32, 2, { 7, 3 } },
    { "f16.matrix", XINF_GGML_F16, 2, { 16, 5 } },
    { "bf16.vector", XINF_GGML_BF16, 1, { 5 } },
    { "q8_0.matrix", XINF_GGML_Q8_0, 2, { 64, 3 } },
    { "f32.cube", XINF_GGML_F32, 3, { 2, 3, 4 } },
    { "f16.four", XINF_GGML_F16, 4, { 3, 1, 2, 2 } },
    { "iq2.unsupported", 16, 2, { 256, 2 } },
};
#define S_SPECS (sizeof s_specs / sizeof s_specs [0])

//  Deterministic bytes for tensor 'index' (any bytes are valid data).
static void
s_fill (uint8_t *bytes, size_t size, size_t index)
{
    for (size_t at = 0; at < size; at++)
        bytes [at] = (uint8_t) (at * 31 + index * 7 + (at >> 8));
}

static void
s_write_tensors (const char *path, uint32_t alignment)
{
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    if (alignment)
        CHECK (xinf_gguf_writer_set_alignment (writer, alignment) == 0);
    CHECK (xinf_gguf_writer_set_str (writer, "general.architecture", "test") == 0);
    for (size_t index = 0; index < S_SPECS; index++)
        CHECK (xinf_gguf_writer_add_tensor (writer, s_specs [index].name, s_specs [index].type,
                                            s_specs [index].n_dims, s_specs [index].ne) == 0);
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    for (size_t index = 0; index < S_SPECS; index++) {
        size_t size = (size_t) xinf_gguf_writer_tensor_size (writer, index);
        uint8_t *bytes = malloc (size);
        s_fill (bytes, size, index);
        //  In pieces of 1, 2, ... bytes: streaming works at any granularity.
        for (size_t at = 0, piece = 1; at < size; at += piece, piece++)
            CHECK (xinf_gguf_writer_write (writer, bytes + at, piece < size - at ? piece : size - at) == 0);
        free (bytes);
    }
    CHECK (xinf_gguf_writer_finish (writer) == 0);
    xinf_gguf_writer_destroy (&writer);
}

static void
s_check_tensors (const char *path, uint64_t alignment)
{
    static const uint64_t sizes [S_SPECS] = { 7 * 3 * 4, 16 * 5 * 2, 5 * 2, 2 * 3 * 34, 24 * 4, 12 * 2, 2 * 66 };
    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open (path, error, sizeof error);
    CHECK (gguf);
    CHECK_INT (xinf_gguf_load_tensors (gguf), 0);
    CHECK_INT (xinf_gguf_tensor_count (gguf), S_SPECS);
    CHECK_INT (xinf_gguf_alignment (gguf), alignment);
    CHECK_INT (xinf_gguf_data_offset (gguf) % alignment, 0);
    for (size_t index = 0; index < S_SPECS; index++) {
        const xinf_gguf_tensor_t *tensor = xinf_gguf_find_tensor (gguf, s_specs [index].name);
        CHECK (tensor == xinf_gguf_tensor (gguf, index));
        CHECK_STR (tensor->name, s_specs [index].name);
        CHECK_INT (tensor->type, s_specs [index].type);
        CHECK_INT (tensor->n_dims, s_specs [index].n_dims);
        for (uint32_t dim = 0; dim < 4; dim++)
            CHECK_INT (tensor->ne [dim], dim < tensor->n_dims ? s_specs [index].ne [dim] : 1);
        CHECK_INT (tensor->size, sizes [index]);
        CHECK_INT (tensor->offset % alignment, 0);
        CHECK_INT (((const uint8_t *) tensor->data - (const uint8_t *) xinf_gguf_tensor (gguf, 0)->data) % alignment, 0);
        uint8_t *expected = malloc (tensor->size);
        s_fill (expected, (size_t) tensor->size, index);
        CHECK (memcmp (tensor->data, expected, (size_t) tensor->size) == 0);
        free (expected);
        if (index + 1 < S_SPECS)
            CHECK_INT (xinf_gguf_tensor_data_size (gguf, tensor), sizes [index]);
    }
    CHECK (xinf_gguf_find_tensor (gguf, "absent") == NULL);
    const xinf_gguf_tensor_t *q2 = xinf_gguf_find_tensor (gguf, "iq2.unsupported");
    CHECK_INT (xinf_gguf_tensor_data_size (gguf, q2), -1);
    CHECK_HAS (xinf_gguf_error (gguf), "tensor 'iq2.unsupported' has type IQ2_XXS (ggml type 16), which xinf does not support");
    uint64_t good [2] = { 16, 5 }, bad [2] = { 16, 4 };
    CHECK (xinf_gguf_expect_tensor (gguf, "f16.matrix", 2, good) != NULL);
    CHECK (xinf_gguf_expect_tensor (gguf, "f16.matrix", 2, bad) == NULL);
    CHECK_HAS (xinf_gguf_error (gguf), "tensor 'f16.matrix' is [16, 5], expected [16, 4]");
    CHECK (xinf_gguf_expect_tensor (gguf, "nothing", 2, good) == NULL);
    CHECK_HAS (xinf_gguf_error (gguf), "tensor 'nothing' is missing");
    uint64_t q2_shape [2] = { 256, 2 };
    CHECK (xinf_gguf_expect_tensor (gguf, "iq2.unsupported", 2, q2_shape) == NULL);
    CHECK_HAS (xinf_gguf_error (gguf), "IQ2_XXS");
    CHECK_HAS (xinf_gguf_error (gguf), "requantize");
    xinf_gguf_destroy (&gguf);
}

static void
test_tensor_round_trip (void)
{
    char path [300];
    test_path (path, sizeof path, "tensors.gguf");
    s_write_tensors (path, 0);
    s_check_tensors (path, 32);
    s_write_tensors (path, 64);
    s_check_tensors (path, 64);
    s_write_tensors (path, 4096);
    s_check_tensors (path, 4096);

    //  The same bytes as version 2 read the same.
    size_t size;
    uint8_t *bytes = test_read_file (path, &size);
    bytes [4] = 2;
    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open_buffer (bytes, size, "v2", error, sizeof error);
    CHECK (gguf);
    CHECK_INT (xinf_gguf_version (gguf), 2);
    CHECK_INT (xinf_gguf_tensor_count (gguf), S_SPECS);
    CHECK_INT (xinf_gguf_file_size (gguf), size);
    xinf_gguf_destroy (&gguf);
    free (bytes);
}

//  ---- writer errors -------------------------------------------------------------------

static void
test_writer_errors (void)
{
    char path [300], part [320];
    test_path (path, sizeof path, "broken.gguf");
    snprintf (part, sizeof part, "%s.part", path);
    uint64_t ne [2] = { 32, 2 }, odd [1] = { 33 };

    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_set_u32 (writer, "k", 1) == 0);
    CHECK (xinf_gguf_writer_set_u32 (writer, "k", 2) == -1);
    CHECK_HAS (xinf_gguf_writer_error (writer), "metadata key 'k' is set twice");
    CHECK (xinf_gguf_writer_add_tensor (writer, "t", XINF_GGML_F32, 2, ne) == -1);      //  sticky
    xinf_gguf_writer_destroy (&writer);

    writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_add_tensor (writer, "q", XINF_GGML_Q8_0, 1, odd) == -1);
    CHECK_HAS (xinf_gguf_writer_error (writer), "not a multiple of the Q8_0 block size 32");
    xinf_gguf_writer_destroy (&writer);

    writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_add_tensor (writer, "t", XINF_GGML_F32, 2, ne) == 0);
    CHECK (xinf_gguf_writer_add_tensor (writer, "t", XINF_GGML_F32, 2, ne) == -1);
    CHECK_HAS (xinf_gguf_writer_error (writer), "tensor 't' is added twice");
    xinf_gguf_writer_destroy (&writer);

    //  Too many bytes, then an unfinished file: no file is left behind.
    writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_add_tensor (writer, "t", XINF_GGML_F32, 2, ne) == 0);
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    CHECK (xinf_gguf_writer_set_u32 (writer, "late", 1) == -1);
    CHECK_HAS (xinf_gguf_writer_error (writer), "set after begin");
    xinf_gguf_writer_destroy (&writer);
    CHECK (access (part, F_OK) != 0 && access (path, F_OK) != 0);

    writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_add_tensor (writer, "t", XINF_GGML_F32, 2, ne) == 0);
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    uint8_t bytes [300] = { 0 };
    CHECK (xinf_gguf_writer_write (writer, bytes, 257) == -1);
    CHECK_HAS (xinf_gguf_writer_error (writer), "tensor 't': 257 bytes written where 256 are left");
    xinf_gguf_writer_destroy (&writer);

    writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_add_tensor (writer, "t", XINF_GGML_F32, 2, ne) == 0);
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    CHECK (xinf_gguf_writer_write (writer, bytes, 100) == 0);
    CHECK (xinf_gguf_writer_finish (writer) == -1);
    CHECK_HAS (xinf_gguf_writer_error (writer), "tensor 't' has 100 of 256 bytes written");
    xinf_gguf_writer_destroy (&writer);
    CHECK (access (part, F_OK) != 0 && access (path, F_OK) != 0);

    writer = xinf_gguf_writer_new ();
    CHECK (xinf_gguf_writer_begin (writer, "/nonexistent-dir/x.gguf") == -1);
    CHECK_HAS (xinf_gguf_writer_error (writer), "/nonexistent-dir/x.gguf.part: cannot create");
    xinf_gguf_writer_destroy (&writer);
}

static void
test_open_errors (void)
{
    char error [512], path [300];
    CHECK (xinf_gguf_open ("/nonexistent/model.gguf", error, sizeof error) == NULL);
    CHECK_HAS (error, "/nonexistent/model.gguf: No such file");
    CHECK (xinf_gguf_open (s_scratch, error, sizeof error) == NULL);
    CHECK_HAS (error, "not a regular file");
    test_path (path, sizeof path, "empty.gguf");
    test_write_file (path, "", 0);
    CHECK (xinf_gguf_open (path, error, sizeof error) == NULL);
    CHECK_HAS (error, "empty.gguf: the file is empty");
    CHECK (xinf_gguf_open (path, NULL, 0) == NULL);
    CHECK_STR (xinf_ggml_type_name (12), "Q4_K");
    CHECK (xinf_ggml_type_name (4) == NULL && xinf_ggml_type_name (1000) == NULL);
    CHECK (xinf_ggml_type_supported (XINF_GGML_BF16) && xinf_ggml_type_supported (XINF_GGML_Q4_K));
    CHECK (!xinf_ggml_type_supported (16) && !xinf_ggml_type_supported (9));     //  IQ2_XXS, Q8_1
    CHECK (xinf_ggml_type_supported (XINF_GGML_Q2_K) && xinf_ggml_type_supported (XINF_GGML_Q3_K));
    CHECK (xinf_ggml_type_supported (XINF_GGML_IQ4_NL) && xinf_ggml_type_supported (XINF_GGML_IQ4_XS));
    CHECK (!xinf_ggml_type_supported (21) && !xinf_ggml_type_supported (40));    //  IQ3_S, NVFP4
    CHECK (xinf_ggml_type_supported (XINF_GGML_MXFP4) && XINF_GGML_MXFP4 == 39);
}

int
main (void)
{
    test_scratch_begin ();
    RUN (test_fp16);
    RUN (test_metadata_round_trip);
    RUN (test_tensor_round_trip);
    RUN (test_writer_errors);
    RUN (test_open_errors);
    test_scratch_end ();
    return 0;
}
