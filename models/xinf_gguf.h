/*  xinf_gguf: a reader for GGUF files (versions 2 and 3).

    Opening a file (only a regular file, opened non-blocking so that a FIFO
    or a device cannot hang the caller) reserves an image of it in
    anonymous memory and reads (pread) and walks the header once: the
    metadata (every value type, arrays included), the tensor infos and the
    alignment. Tensor data is read into the image only when asked
    (xinf_gguf_read, xinf_gguf_load_tensors): the file is never mapped, so
    a file truncated or replaced while in use gives a read error, never a
    SIGBUS, and a shard reads only its own bytes. Every offset, size, count and string length is checked
    against the file size before use; a truncated or corrupt file gives
    NULL and an error naming what is wrong and where, never a crash, and no
    allocation is ever sized by a declared count the file cannot back.

        char error [256];
        xinf_gguf_t *gguf = xinf_gguf_open ("model.gguf", error, sizeof error);
        if (!gguf)
            xinf_error ("model", "cannot load: %s", error);
        uint64_t layers;
        if (xinf_gguf_get_uint (gguf, "llama.block_count", &layers))
            xinf_error ("model", "%s", xinf_gguf_error (gguf));

    Strings (keys, values, tensor names) are copied out NUL-terminated;
    numeric array data and tensor data point into the image (tensor data
    holds the file's bytes once read). Lookups are read-only and may run on
    many threads; the getters that fail record their reason in
    xinf_gguf_error (), which is per object, not per thread.
*/
#ifndef XINF_GGUF_H_INCLUDED
#define XINF_GGUF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Metadata value types, as numbered in the file.
typedef enum {
    XINF_GGUF_UINT8 = 0,
    XINF_GGUF_INT8 = 1,
    XINF_GGUF_UINT16 = 2,
    XINF_GGUF_INT16 = 3,
    XINF_GGUF_UINT32 = 4,
    XINF_GGUF_INT32 = 5,
    XINF_GGUF_FLOAT32 = 6,
    XINF_GGUF_BOOL = 7,
    XINF_GGUF_STRING = 8,
    XINF_GGUF_ARRAY = 9,
    XINF_GGUF_UINT64 = 10,
    XINF_GGUF_INT64 = 11,
    XINF_GGUF_FLOAT64 = 12
} xinf_gguf_type_t;

//  Tensor (ggml) types xinf computes with. The reader knows the sizes of
//  every standard ggml type so it can bound-check any file; asking for the
//  data of a type outside these is an error naming the type.
typedef enum {
    XINF_GGML_F32 = 0,
    XINF_GGML_F16 = 1,
    XINF_GGML_Q4_0 = 2,
    XINF_GGML_Q4_1 = 3,
    XINF_GGML_Q5_0 = 6,
    XINF_GGML_Q5_1 = 7,
    XINF_GGML_Q8_0 = 8,
    XINF_GGML_Q2_K = 10,
    XINF_GGML_Q3_K = 11,
    XINF_GGML_Q4_K = 12,
    XINF_GGML_Q5_K = 13,
    XINF_GGML_Q6_K = 14,
    XINF_GGML_IQ4_NL = 20,
    XINF_GGML_IQ4_XS = 23,
    XINF_GGML_BF16 = 30,
    XINF_GGML_MXFP4 = 39
} xinf_ggml_type_t;

#define XINF_GGUF_MAX_DIMS 4
#define XINF_GGUF_MAX_NAME 63           //  bytes in a tensor name (ggml's limit)
#define XINF_GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
    const char *name;
    uint32_t type;                      //  ggml type number (xinf_ggml_type_t or other)
    uint32_t n_dims;                    //  1 to 4
    uint64_t ne [XINF_GGUF_MAX_DIMS];   //  ggml order: ne [0] is contiguous; unused dims are 1
    uint64_t n_elements;
    uint64_t offset;                    //  from the start of the data section
    uint64_t size;                      //  bytes (for every known ggml type)
    const void *data;                   //  in the image, aligned to the file's alignment (read: xinf_gguf_read)
} xinf_gguf_tensor_t;

typedef struct _xinf_gguf_t xinf_gguf_t;

//  Opens and checks a file. On failure returns NULL and writes the reason
//  (which names the path) into 'error' when it is not NULL.
xinf_gguf_t *xinf_gguf_open (const char *path, char *error, size_t error_size);

//  Reads the file's bytes that belong at 'at' (a pointer into the image:
//  tensor data) into 'into', which may be 'at' itself. 0, or -1 with the
//  reason (naming the file) in xinf_gguf_error (): outside the file, or
//  the file is shorter now than when it was opened.
int xinf_gguf_read (xinf_gguf_t *self, const void *at, size_t bytes, void *into);
//  Reads every tensor's data into the image (tools and tests; a model
//  reads only what it uses). 0 or -1 as xinf_gguf_read.
int xinf_gguf_load_tensors (xinf_gguf_t *self);

//  Reads a GGUF image already in memory; the bytes must outlive the object
//  and are not copied. 'name' stands for the path in messages.
xinf_gguf_t *xinf_gguf_open_buffer (const void *data, size_t size, const char *name,
                                    char *error, size_t error_size);
void xinf_gguf_destroy (xinf_gguf_t **self_p);

uint32_t xinf_gguf_version (xinf_gguf_t *self);
uint64_t xinf_gguf_alignment (xinf_gguf_t *self);
uint64_t xinf_gguf_file_size (xinf_gguf_t *self);
uint64_t xinf_gguf_data_offset (xinf_gguf_t *self);
//  The reason the last getter failed.
const char *xinf_gguf_error (xinf_gguf_t *self);

//  ---- metadata -------------------------------------------------------------
size_t xinf_gguf_kv_count (xinf_gguf_t *self);
//  Index of a key, or -1.
int64_t xinf_gguf_find_key (xinf_gguf_t *self, const char *key);
const char *xinf_gguf_kv_key (xinf_gguf_t *self, size_t index);
xinf_gguf_type_t xinf_gguf_kv_type (xinf_gguf_t *self, size_t index);

//  Getters by key: 0 on success, -1 when the key is missing or its value
//  does not fit (the reason in xinf_gguf_error ()). The integer getters
//  take a value of any integer type (u8 to i64), so a hyperparameter may be
//  stored as u32 or u64; get_float takes f32, f64 or any integer.
bool xinf_gguf_has (xinf_gguf_t *self, const char *key);
int xinf_gguf_get_uint (xinf_gguf_t *self, const char *key, uint64_t *value);
int xinf_gguf_get_int (xinf_gguf_t *self, const char *key, int64_t *value);
int xinf_gguf_get_float (xinf_gguf_t *self, const char *key, double *value);
int xinf_gguf_get_bool (xinf_gguf_t *self, const char *key, bool *value);
//  The string value, NUL-terminated, or NULL (missing or not a string).
const char *xinf_gguf_get_str (xinf_gguf_t *self, const char *key);

//  Arrays: the element type and count; -1 when missing or not an array.
int xinf_gguf_get_array (xinf_gguf_t *self, const char *key,
                         xinf_gguf_type_t *element_type, uint64_t *count);
//  Elements by key index (from xinf_gguf_find_key) and element index; the
//  caller checks the index against the count. An array of strings gives its
//  strings (length in 'length' when not NULL, the string may hold NULs);
//  numeric arrays give their values converted (the number getters return
//  -1 for an element of another kind).
const char *xinf_gguf_array_str (xinf_gguf_t *self, size_t index, uint64_t element, size_t *length);
int xinf_gguf_array_int (xinf_gguf_t *self, size_t index, uint64_t element, int64_t *value);
int xinf_gguf_array_float (xinf_gguf_t *self, size_t index, uint64_t element, double *value);
//  The raw little-endian bytes of a numeric array (may be unaligned: copy
//  with memcpy), or NULL for arrays of strings.
const void *xinf_gguf_array_data (xinf_gguf_t *self, size_t index);
//  Scalar value of a key by index, as the getters above (any integer type).
int xinf_gguf_kv_uint (xinf_gguf_t *self, size_t index, uint64_t *value);

//  ---- tensors --------------------------------------------------------------
size_t xinf_gguf_tensor_count (xinf_gguf_t *self);
const xinf_gguf_tensor_t *xinf_gguf_tensor (xinf_gguf_t *self, size_t index);
//  By name (binary search), or NULL.
const xinf_gguf_tensor_t *xinf_gguf_find_tensor (xinf_gguf_t *self, const char *name);

//  The data size of a tensor whose type xinf computes with (F32, F16,
//  BF16, Q8_0); -1 with an error naming the tensor and its type otherwise.
int64_t xinf_gguf_tensor_data_size (xinf_gguf_t *self, const xinf_gguf_tensor_t *tensor);

//  Looks a tensor up and checks it has exactly the dims given (n_dims of
//  them, ggml order) and a supported type; NULL with the reason in
//  xinf_gguf_error () otherwise ("tensor 'blk.0.attn_q.weight' is
//  [64, 32], expected [64, 64]").
const xinf_gguf_tensor_t *xinf_gguf_expect_tensor (xinf_gguf_t *self, const char *name,
                                                   uint32_t n_dims, const uint64_t *ne);

//  ---- types ----------------------------------------------------------------
//  "F32", "Q4_K", ... or NULL for a number ggml does not define.
const char *xinf_ggml_type_name (uint32_t type);
//  Elements per block and bytes per block; false for unknown types.
bool xinf_ggml_type_size (uint32_t type, uint32_t *block_elements, uint32_t *block_bytes);
bool xinf_ggml_type_supported (uint32_t type);
const char *xinf_gguf_type_name (xinf_gguf_type_t type);

#endif
