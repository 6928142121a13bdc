/*  test_gguf_edit.h: for the models/ tests of hostile files: a model made
    by xinf-make-model (s_make, the tool's path in s_tool), that model
    rewritten with one key changed, added or dropped (s_rewrite), and the
    load of the result refused naming the key (s_expect_refused) or
    succeeding (s_expect_loads).
*/
#ifndef TEST_GGUF_EDIT_H_INCLUDED
#define TEST_GGUF_EDIT_H_INCLUDED

#include "test_models.h"
#include "xinf_gguf.h"
#include "xinf_gguf_writer.h"
#include "xinf_model.h"

static const char *s_tool;

static void
s_make (const char *name, const char *arguments, char *path, size_t size)
{
    test_make_with (s_tool, name, arguments, path, size);
}

//  ---- rewriting a file with one key changed ---------------------------------------

//  S_DROP_TENSOR drops the tensor named 'key' (the keys unchanged);
//  S_BOOL writes 'number' as a bool; S_ZEROS an array of four u32 zeros;
//  S_ADD_VECTOR adds an F32 tensor named 'key' of 'number' zeros.
typedef enum { S_DROP, S_U64, S_U32, S_F32, S_STR, S_EMPTY_ARRAY, S_SHORT_ARRAY, S_U32_ARRAY, S_BOOL_ARRAY, S_DROP_TENSOR,
               S_BOOL, S_ZEROS, S_ADD_VECTOR
} s_edit_kind_t;

typedef struct {
    const char *key;
    s_edit_kind_t kind;
    uint64_t number;
    double real;
    const char *text;
} s_edit_t;

//  Copies the key at 'index' of 'gguf' to 'writer' as it is.
static void
s_copy_key (xinf_gguf_t *gguf, size_t index, xinf_gguf_writer_t *writer, bool shorten)
{
    const char *key = xinf_gguf_kv_key (gguf, index);
    xinf_gguf_type_t type = xinf_gguf_kv_type (gguf, index), element;
    uint64_t count;
    if (type == XINF_GGUF_STRING)
        CHECK (xinf_gguf_writer_set_str (writer, key, xinf_gguf_get_str (gguf, key)) == 0);
    else
    if (type == XINF_GGUF_ARRAY) {
        CHECK (xinf_gguf_get_array (gguf, key, &element, &count) == 0);
        count = shorten && count ? count - 1 : count;
        if (element == XINF_GGUF_STRING) {
            const char **strings = calloc (count + 1, sizeof (char *));
            size_t *lengths = calloc (count + 1, sizeof (size_t));
            for (uint64_t at = 0; at < count; at++)
                strings [at] = xinf_gguf_array_str (gguf, index, at, &lengths [at]);
            CHECK (xinf_gguf_writer_set_str_array (writer, key, strings, lengths, count) == 0);
            free (strings);
            free (lengths);
        }
        else {
            //  The file's array may be unaligned: the writer reads aligned values
            size_t bytes = (size_t) count * 8 + 1;
            void *aligned = malloc (bytes);
            memcpy (aligned, xinf_gguf_array_data (gguf, index), (size_t) count * (element == XINF_GGUF_UINT64
                    || element == XINF_GGUF_INT64 || element == XINF_GGUF_FLOAT64 ? 8 : element == XINF_GGUF_UINT32
                    || element == XINF_GGUF_INT32 || element == XINF_GGUF_FLOAT32 ? 4 : element == XINF_GGUF_UINT16
                    || element == XINF_GGUF_INT16 ? 2 : 1));
            CHECK (xinf_gguf_writer_set_array (writer, key, element, aligned, count) == 0);
            free (aligned);
        }
    }
    else {
        uint64_t raw = 0;
        int64_t signed_value;
        double real;
        bool flag;
        if (type == XINF_GGUF_FLOAT32 || type == XINF_GGUF_FLOAT64) {
            CHECK (xinf_gguf_get_float (gguf, key, &real) == 0);
            float single = (float) real;
            if (type == XINF_GGUF_FLOAT32)
                memcpy (&raw, &single, sizeof single);
            else
                memcpy (&raw, &real, sizeof real);
        }
        else
        if (type == XINF_GGUF_BOOL) {
            CHECK (xinf_gguf_get_bool (gguf, key, &flag) == 0);
            raw = flag;
        }
        else
        if (type == XINF_GGUF_INT8 || type == XINF_GGUF_INT16 || type == XINF_GGUF_INT32 || type == XINF_GGUF_INT64) {
            CHECK (xinf_gguf_get_int (gguf, key, &signed_value) == 0);
            raw = (uint64_t) signed_value;
        }
        else
            CHECK (xinf_gguf_get_uint (gguf, key, &raw) == 0);
        CHECK (xinf_gguf_writer_set (writer, key, type, &raw) == 0);
    }
}

static void
s_apply (const s_edit_t *edit, xinf_gguf_t *gguf, xinf_gguf_writer_t *writer)
{
    int64_t index = xinf_gguf_find_key (gguf, edit->key);
    uint32_t numbers [3] = { 1, 2, 3 };
    switch (edit->kind) {
        case S_DROP:
        case S_ADD_VECTOR:
        case S_DROP_TENSOR:  break;
        case S_U64:   CHECK (xinf_gguf_writer_set_u64 (writer, edit->key, edit->number) == 0); break;
        case S_U32:   CHECK (xinf_gguf_writer_set_u32 (writer, edit->key, (uint32_t) edit->number) == 0); break;
        case S_F32:   CHECK (xinf_gguf_writer_set_f32 (writer, edit->key, (float) edit->real) == 0); break;
        case S_STR:   CHECK (xinf_gguf_writer_set_str (writer, edit->key, edit->text) == 0); break;
        case S_U32_ARRAY:
            CHECK (xinf_gguf_writer_set_array (writer, edit->key, XINF_GGUF_UINT32, numbers, 3) == 0);
            break;
        case S_ZEROS: {
            uint32_t zeros [4] = { 0 };
            CHECK (xinf_gguf_writer_set_array (writer, edit->key, XINF_GGUF_UINT32, zeros, 4) == 0);
            break;
        }
        case S_BOOL:  CHECK (xinf_gguf_writer_set_bool (writer, edit->key, edit->number != 0) == 0); break;
        case S_BOOL_ARRAY: {           //  'number' bools, bit i of 'real' (as an integer) the i-th
            uint8_t flags [64];
            for (uint64_t i = 0; i < edit->number && i < 64; i++)
                flags [i] = ((uint64_t) edit->real >> i) & 1;
            CHECK (xinf_gguf_writer_set_array (writer, edit->key, XINF_GGUF_BOOL, flags, edit->number) == 0);
            break;
        }
        case S_EMPTY_ARRAY: {
            xinf_gguf_type_t element;
            uint64_t count;
            CHECK (index >= 0 && xinf_gguf_get_array (gguf, edit->key, &element, &count) == 0);
            if (element == XINF_GGUF_STRING)
                CHECK (xinf_gguf_writer_set_str_array (writer, edit->key, NULL, NULL, 0) == 0);
            else
                CHECK (xinf_gguf_writer_set_array (writer, edit->key, element, numbers, 0) == 0);
            break;
        }
        case S_SHORT_ARRAY:
            CHECK (index >= 0);
            s_copy_key (gguf, (size_t) index, writer, true);
            break;
    }
}

//  'source' rewritten to 'target' with 'edit' (key replaced, added or
//  dropped); the tensors unchanged.
static void
s_rewrite (const char *source, const char *target, const s_edit_t *edit)
{
    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open (source, error, sizeof error);
    CHECK (gguf && xinf_gguf_load_tensors (gguf) == 0);
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    bool applied = false;
    for (size_t index = 0; index < xinf_gguf_kv_count (gguf); index++) {
        const char *key = xinf_gguf_kv_key (gguf, index);
        if (streq (key, "general.alignment"))
            continue;
        if (streq (key, edit->key)) {
            s_apply (edit, gguf, writer);
            applied = true;
        }
        else
            s_copy_key (gguf, index, writer, false);
    }
    if (!applied)
        s_apply (edit, gguf, writer);
    for (size_t index = 0; index < xinf_gguf_tensor_count (gguf); index++) {
        const xinf_gguf_tensor_t *tensor = xinf_gguf_tensor (gguf, index);
        if (edit->kind != S_DROP_TENSOR || !streq (tensor->name, edit->key))
            CHECK (xinf_gguf_writer_add_tensor (writer, tensor->name, tensor->type, tensor->n_dims, tensor->ne) == 0);
    }
    uint64_t added [1] = { edit->number };
    if (edit->kind == S_ADD_VECTOR)
        CHECK (xinf_gguf_writer_add_tensor (writer, edit->key, XINF_GGML_F32, 1, added) == 0);
    CHECK (xinf_gguf_writer_begin (writer, target) == 0);
    for (size_t index = 0; index < xinf_gguf_tensor_count (gguf); index++) {
        const xinf_gguf_tensor_t *tensor = xinf_gguf_tensor (gguf, index);
        if (edit->kind != S_DROP_TENSOR || !streq (tensor->name, edit->key))
            CHECK (xinf_gguf_writer_write (writer, tensor->data, (size_t) tensor->size) == 0);
    }
    if (edit->kind == S_ADD_VECTOR) {
        float *zeros = calloc (edit->number, sizeof (float));
        CHECK (zeros && xinf_gguf_writer_write (writer, zeros, edit->number * sizeof (float)) == 0);
        free (zeros);
    }
    CHECK (xinf_gguf_writer_finish (writer) == 0);
    xinf_gguf_writer_destroy (&writer);
    xinf_gguf_destroy (&gguf);
}

//  The rewritten file fails to load, naming the file and 'needle'; so does
//  the tokenizer alone when 'tokenizer' is set.
static void
s_expect_refused (const char *source, const s_edit_t *edit, const char *needle, bool tokenizer)
{
    char path [300], error [512] = "";
    test_path (path, sizeof path, "hostile.gguf");
    s_rewrite (source, path, edit);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    if (model || !strstr (error, needle) || !strstr (error, path))
        fprintf (stderr, "edit of '%s': %s\n", edit->key, model ? "loaded" : error);
    CHECK (!model);
    CHECK_HAS (error, path);
    CHECK_HAS (error, needle);
    if (tokenizer) {
        xinf_tokenizer_t *loaded = xinf_model_load_tokenizer (path, error, sizeof error);
        CHECK (!loaded);
        CHECK_HAS (error, needle);
    }
}

//  The rewritten file loaded (the test fails, saying why, when it does
//  not); the caller destroys it.
static xinf_model_t *
s_load_edited (const char *source, const s_edit_t *edit)
{
    char path [300], error [512] = "";
    test_path (path, sizeof path, "fine.gguf");
    s_rewrite (source, path, edit);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    if (!model)
        fprintf (stderr, "edit of '%s': %s\n", edit->key, error);
    CHECK (model);
    return model;
}

//  The rewritten file still loads (an edit within the ranges).
static void
s_expect_loads (const char *source, const s_edit_t *edit)
{
    xinf_model_t *model = s_load_edited (source, edit);
    xinf_model_destroy (&model);
}

#endif
