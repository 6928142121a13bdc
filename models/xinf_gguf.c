/*  xinf_gguf: the memory-mapped GGUF reader: opening and mapping, the ggml
    type table, and lookups of metadata and tensors. The header parsing
    itself lives in xinf_gguf_parse.
*/
#include "xinf_gguf_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

//  ---- the ggml type table ----------------------------------------------------

typedef struct {
    const char *name;
    uint32_t block_elements;
    uint32_t block_bytes;
} s_type_info_t;

static const s_type_info_t s_types [] = {
    [0] = { "F32", 1, 4 },        [1] = { "F16", 1, 2 },        [2] = { "Q4_0", 32, 18 },
    [3] = { "Q4_1", 32, 20 },     [6] = { "Q5_0", 32, 22 },     [7] = { "Q5_1", 32, 24 },
    [8] = { "Q8_0", 32, 34 },     [9] = { "Q8_1", 32, 36 },     [10] = { "Q2_K", 256, 84 },
    [11] = { "Q3_K", 256, 110 },  [12] = { "Q4_K", 256, 144 },  [13] = { "Q5_K", 256, 176 },
    [14] = { "Q6_K", 256, 210 },  [15] = { "Q8_K", 256, 292 },  [16] = { "IQ2_XXS", 256, 66 },
    [17] = { "IQ2_XS", 256, 74 }, [18] = { "IQ3_XXS", 256, 98 }, [19] = { "IQ1_S", 256, 50 },
    [20] = { "IQ4_NL", 32, 18 },  [21] = { "IQ3_S", 256, 110 }, [22] = { "IQ2_S", 256, 82 },
    [23] = { "IQ4_XS", 256, 136 }, [24] = { "I8", 1, 1 },       [25] = { "I16", 1, 2 },
    [26] = { "I32", 1, 4 },       [27] = { "I64", 1, 8 },       [28] = { "F64", 1, 8 },
    [29] = { "IQ1_M", 256, 56 },  [30] = { "BF16", 1, 2 },      [34] = { "TQ1_0", 256, 54 },
    [35] = { "TQ2_0", 256, 66 },  [39] = { "MXFP4", 32, 17 },
};
#define S_TYPE_LIMIT (sizeof s_types / sizeof s_types [0])

const char *
xinf_ggml_type_name (uint32_t type)
{
    return type < S_TYPE_LIMIT ? s_types [type].name : NULL;
}

bool
xinf_ggml_type_size (uint32_t type, uint32_t *block_elements, uint32_t *block_bytes)
{
    if (!xinf_ggml_type_name (type))
        return false;
    *block_elements = s_types [type].block_elements;
    *block_bytes = s_types [type].block_bytes;
    return true;
}

bool
xinf_ggml_type_supported (uint32_t type)
{
    switch (type) {
        case XINF_GGML_F32: case XINF_GGML_F16: case XINF_GGML_BF16: case XINF_GGML_Q8_0:
        case XINF_GGML_Q4_0: case XINF_GGML_Q4_1: case XINF_GGML_Q5_0: case XINF_GGML_Q5_1:
        case XINF_GGML_Q4_K: case XINF_GGML_Q5_K: case XINF_GGML_Q6_K:
        case XINF_GGML_Q2_K: case XINF_GGML_Q3_K: case XINF_GGML_IQ4_NL: case XINF_GGML_IQ4_XS:
        case XINF_GGML_MXFP4:
            return true;
        default:
            return false;
    }
}

static const char *s_value_types [] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"
};

const char *
xinf_gguf_type_name (xinf_gguf_type_t type)
{
    return (unsigned) type <= XINF_GGUF_FLOAT64 ? s_value_types [type] : "unknown";
}

//  ---- open and destroy --------------------------------------------------------------

static int
s_error (xinf_gguf_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static xinf_gguf_t *
s_new (const void *data, size_t size, const char *name)
{
    xinf_gguf_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->base = data;
    self->size = size;
    self->fd = -1;
    self->loaded = size;
    self->name = strdup (name ? name : "(buffer)");
    if (!self->name)
        free (self), self = NULL;
    return self;
}

static xinf_gguf_t *
s_finish_open (xinf_gguf_t *self, char *error, size_t error_size)
{
    if (xinf_gguf_parse (self, error, error_size)) {
        xinf_gguf_destroy (&self);
        return NULL;
    }
    if (error && error_size)
        *error = 0;
    return self;
}

xinf_gguf_t *
xinf_gguf_open_buffer (const void *data, size_t size, const char *name, char *error, size_t error_size)
{
    xinf_gguf_t *self = s_new (data, size, name);
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    return s_finish_open (self, error, error_size);
}

//  Reads 'bytes' bytes of the file at 'offset' into 'into'; 0, or -1 with
//  the reason in self->error.
static int
s_pread (xinf_gguf_t *self, void *into, uint64_t bytes, uint64_t offset)
{
    uint64_t done = 0;
    while (done < bytes) {
        size_t chunk = bytes - done < (1u << 30) ? (size_t) (bytes - done) : (1u << 30);
        ssize_t got = pread (self->fd, (char *) into + done, chunk, (off_t) (offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return s_error (self, "cannot read %llu bytes at offset %llu: %s", (unsigned long long) (bytes - done),
                            (unsigned long long) (offset + done),
                            got < 0 ? strerror (errno) : "the file is shorter than when it was opened "
                                                          "(truncated or replaced while loading)");
        done += (uint64_t) got;
    }
    return 0;
}

int
xinf_gguf_fill (xinf_gguf_t *self, uint64_t end)
{
    if (self->fd < 0 || end <= self->loaded)
        return 0;
    if (end > self->size)
        return s_error (self, "offset %llu is past the end of the file (%llu bytes)", (unsigned long long) end,
                        (unsigned long long) self->size);
    //  Read ahead (doubling) so that a header costs few system calls
    uint64_t target = self->loaded * 2 > end ? self->loaded * 2 : end;
    target = target < (1u << 16) ? (1u << 16) : target;
    target = target > self->size ? self->size : target;
    if (s_pread (self, (uint8_t *) self->mapping + self->loaded, target - self->loaded, self->loaded))
        return -1;
    self->loaded = target;
    return 0;
}

xinf_gguf_t *
xinf_gguf_open (const char *path, char *error, size_t error_size)
{
    //  Non-blocking, so that opening a FIFO or a device cannot hang; only
    //  regular files are read.
    int handle = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat info;
    const char *problem = NULL;
    if (handle < 0 || fstat (handle, &info) < 0)
        problem = strerror (errno);
    else
    if (!S_ISREG (info.st_mode))
        problem = "not a regular file";
    else
    if (info.st_size == 0)
        problem = "the file is empty";
    else
    if ((uint64_t) info.st_size > SIZE_MAX / 2)
        problem = "the file is too large";
    //  The image: anonymous memory the size of the file, filled from the
    //  file with pread as the header is parsed and as the model's tensors
    //  are read; pages never read cost nothing (xinf_slices asks for huge
    //  pages only inside the parts a model reads).
    void *image = MAP_FAILED;
    if (!problem && (image = mmap (NULL, (size_t) info.st_size, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) == MAP_FAILED)
        problem = strerror (errno);
    xinf_gguf_t *self = problem ? NULL : s_new (image, (size_t) info.st_size, path);
    if (!self) {
        if (image != MAP_FAILED)
            munmap (image, (size_t) info.st_size);
        if (handle >= 0)
            close (handle);
        if (error && error_size)
            snprintf (error, error_size, "%s: %s", path, problem ? problem : "out of memory");
        return NULL;
    }
    self->mapping = image;
    self->fd = handle;
    self->loaded = 0;
    return s_finish_open (self, error, error_size);
}

//  Faults in the whole pages of [at, at + bytes) at once (one system call
//  instead of one fault a page); a hint, ignored where unsupported.
static void
s_prefault (void *at, size_t bytes)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t page = (uintptr_t) sysconf (_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t) at + page - 1) & ~(page - 1), end = ((uintptr_t) at + bytes) & ~(page - 1);
    if (end > start)
        madvise ((void *) start, end - start, MADV_POPULATE_WRITE);
#else
    (void) at, (void) bytes;
#endif
}

int
xinf_gguf_read (xinf_gguf_t *self, const void *at, size_t bytes, void *into)
{
    const uint8_t *start = at;
    if (start < self->base || (uint64_t) (start - self->base) > self->size
    ||  bytes > self->size - (uint64_t) (start - self->base))
        return s_error (self, "%s: a read of %zu bytes outside the file", self->name, bytes);
    uint64_t offset = (uint64_t) (start - self->base);
    if (self->fd < 0 || offset + bytes <= self->loaded) {
        if (into != at)
            memmove (into, at, bytes);
        return 0;
    }
    s_prefault (into, bytes);
    if (s_pread (self, into, bytes, offset)) {
        char reason [sizeof self->error];
        snprintf (reason, sizeof reason, "%s", self->error);
        return s_error (self, "%s: %s", self->name, reason);
    }
    return 0;
}

int
xinf_gguf_load_tensors (xinf_gguf_t *self)
{
    for (size_t index = 0; index < self->tensor_count; index++) {
        const xinf_gguf_tensor_t *tensor = &self->tensors [index];
        if (xinf_gguf_read (self, tensor->data, (size_t) tensor->size, (void *) tensor->data))
            return -1;
    }
    return 0;
}

void
xinf_gguf_destroy (xinf_gguf_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xinf_gguf_t *self = *self_p;
    if (self->mapping)
        munmap (self->mapping, (size_t) self->size);
    if (self->fd >= 0)
        close (self->fd);
    free (self->name);
    free (self->kvs);
    free (self->strings);
    free (self->arena);
    free (self->tensors);
    free (self->tensor_names);
    free (self->sorted_keys);
    free (self->sorted_tensors);
    free (self);
    *self_p = NULL;
}

//  ---- accessors ---------------------------------------------------------------------

uint32_t xinf_gguf_version (xinf_gguf_t *self) { return self->version; }
uint64_t xinf_gguf_alignment (xinf_gguf_t *self) { return self->alignment; }
uint64_t xinf_gguf_file_size (xinf_gguf_t *self) { return self->size; }
uint64_t xinf_gguf_data_offset (xinf_gguf_t *self) { return self->data_offset; }
const char *xinf_gguf_error (xinf_gguf_t *self) { return self->error; }
size_t xinf_gguf_kv_count (xinf_gguf_t *self) { return self->kv_count; }
size_t xinf_gguf_tensor_count (xinf_gguf_t *self) { return self->tensor_count; }

static int
s_error (xinf_gguf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return -1;
}

int64_t
xinf_gguf_find_key (xinf_gguf_t *self, const char *key)
{
    xinf_gguf_entry_t wanted = { key, 0 };
    xinf_gguf_entry_t *found = bsearch (&wanted, self->sorted_keys, self->kv_count, sizeof wanted, xinf_gguf_entry_compare);
    return found ? (int64_t) found->index : -1;
}

const char *
xinf_gguf_kv_key (xinf_gguf_t *self, size_t index)
{
    return index < self->kv_count ? self->arena + self->kvs [index].key : NULL;
}

xinf_gguf_type_t
xinf_gguf_kv_type (xinf_gguf_t *self, size_t index)
{
    return index < self->kv_count ? self->kvs [index].type : (xinf_gguf_type_t) -1;
}

bool
xinf_gguf_has (xinf_gguf_t *self, const char *key)
{
    return xinf_gguf_find_key (self, key) >= 0;
}

//  The key's entry, or NULL with "key 'x' is missing".
static xinf_gguf_kv_t *
s_kv (xinf_gguf_t *self, const char *key)
{
    int64_t index = xinf_gguf_find_key (self, key);
    if (index < 0) {
        s_error (self, "metadata key '%s' is missing", key);
        return NULL;
    }
    return &self->kvs [index];
}

static bool
s_is_signed (xinf_gguf_type_t type)
{
    return type == XINF_GGUF_INT8 || type == XINF_GGUF_INT16 || type == XINF_GGUF_INT32 || type == XINF_GGUF_INT64;
}

static bool
s_is_unsigned (xinf_gguf_type_t type)
{
    return type == XINF_GGUF_UINT8 || type == XINF_GGUF_UINT16 || type == XINF_GGUF_UINT32 || type == XINF_GGUF_UINT64;
}

static int
s_kv_uint (xinf_gguf_t *self, xinf_gguf_kv_t *kv, uint64_t *value)
{
    const char *key = self->arena + kv->key;
    if (s_is_unsigned (kv->type))
        *value = kv->scalar.u;
    else
    if (s_is_signed (kv->type) && kv->scalar.i >= 0)
        *value = (uint64_t) kv->scalar.i;
    else
    if (s_is_signed (kv->type))
        return s_error (self, "metadata key '%s' is %lld, expected a non-negative integer", key, (long long) kv->scalar.i);
    else
        return s_error (self, "metadata key '%s' is a %s, expected an integer", key, xinf_gguf_type_name (kv->type));
    return 0;
}

int
xinf_gguf_kv_uint (xinf_gguf_t *self, size_t index, uint64_t *value)
{
    if (index >= self->kv_count)
        return s_error (self, "metadata index %zu is out of range", index);
    return s_kv_uint (self, &self->kvs [index], value);
}

int
xinf_gguf_get_uint (xinf_gguf_t *self, const char *key, uint64_t *value)
{
    xinf_gguf_kv_t *kv = s_kv (self, key);
    return kv ? s_kv_uint (self, kv, value) : -1;
}

int
xinf_gguf_get_int (xinf_gguf_t *self, const char *key, int64_t *value)
{
    xinf_gguf_kv_t *kv = s_kv (self, key);
    if (!kv)
        return -1;
    if (s_is_signed (kv->type))
        *value = kv->scalar.i;
    else
    if (s_is_unsigned (kv->type) && kv->scalar.u <= (uint64_t) INT64_MAX)
        *value = (int64_t) kv->scalar.u;
    else
        return s_error (self, "metadata key '%s' is a %s that does not fit an int64", key, xinf_gguf_type_name (kv->type));
    return 0;
}

int
xinf_gguf_get_float (xinf_gguf_t *self, const char *key, double *value)
{
    xinf_gguf_kv_t *kv = s_kv (self, key);
    if (!kv)
        return -1;
    if (kv->type == XINF_GGUF_FLOAT32 || kv->type == XINF_GGUF_FLOAT64)
        *value = kv->scalar.f;
    else
    if (s_is_signed (kv->type))
        *value = (double) kv->scalar.i;
    else
    if (s_is_unsigned (kv->type))
        *value = (double) kv->scalar.u;
    else
        return s_error (self, "metadata key '%s' is a %s, expected a number", key, xinf_gguf_type_name (kv->type));
    return 0;
}

int
xinf_gguf_get_bool (xinf_gguf_t *self, const char *key, bool *value)
{
    xinf_gguf_kv_t *kv = s_kv (self, key);
    if (!kv)
        return -1;
    if (kv->type != XINF_GGUF_BOOL)
        return s_error (self, "metadata key '%s' is a %s, expected a bool", key, xinf_gguf_type_name (kv->type));
    *value = kv->scalar.u != 0;
    return 0;
}

const char *
xinf_gguf_get_str (xinf_gguf_t *self, const char *key)
{
    xinf_gguf_kv_t *kv = s_kv (self, key);
    if (kv && kv->type != XINF_GGUF_STRING)
        s_error (self, "metadata key '%s' is a %s, expected a string", key, xinf_gguf_type_name (kv->type));
    return kv && kv->type == XINF_GGUF_STRING ? self->arena + self->strings [kv->position].offset : NULL;
}

int
xinf_gguf_get_array (xinf_gguf_t *self, const char *key, xinf_gguf_type_t *element_type, uint64_t *count)
{
    xinf_gguf_kv_t *kv = s_kv (self, key);
    if (!kv)
        return -1;
    if (kv->type != XINF_GGUF_ARRAY)
        return s_error (self, "metadata key '%s' is a %s, expected an array", key, xinf_gguf_type_name (kv->type));
    if (element_type)
        *element_type = kv->element_type;
    if (count)
        *count = kv->count;
    return 0;
}

//  The array entry holding 'element', or NULL with the reason.
static xinf_gguf_kv_t *
s_array (xinf_gguf_t *self, size_t index, uint64_t element)
{
    if (index >= self->kv_count || self->kvs [index].type != XINF_GGUF_ARRAY) {
        s_error (self, "metadata index %zu is not an array", index);
        return NULL;
    }
    xinf_gguf_kv_t *kv = &self->kvs [index];
    if (element >= kv->count) {
        s_error (self, "element %llu of '%s' is out of range (%llu elements)", (unsigned long long) element,
                 self->arena + kv->key, (unsigned long long) kv->count);
        return NULL;
    }
    return kv;
}

const char *
xinf_gguf_array_str (xinf_gguf_t *self, size_t index, uint64_t element, size_t *length)
{
    xinf_gguf_kv_t *kv = s_array (self, index, element);
    if (!kv || kv->element_type != XINF_GGUF_STRING)
        return NULL;
    xinf_gguf_string_t *string = &self->strings [kv->position + element];
    if (length)
        *length = (size_t) string->length;
    return self->arena + string->offset;
}

static const uint8_t *
s_element (xinf_gguf_kv_t *kv, xinf_gguf_t *self, uint64_t element)
{
    return self->base + kv->position + element * xinf_gguf_value_sizes [kv->element_type];
}

int
xinf_gguf_array_int (xinf_gguf_t *self, size_t index, uint64_t element, int64_t *value)
{
    xinf_gguf_kv_t *kv = s_array (self, index, element);
    if (!kv)
        return -1;
    int size = xinf_gguf_value_sizes [kv->element_type];
    uint64_t raw = size ? xinf_gguf_load_le (s_element (kv, self, element), size) : 0;
    if (s_is_signed (kv->element_type))
        *value = (int64_t) (raw << (64 - 8 * size)) >> (64 - 8 * size);
    else
    if ((s_is_unsigned (kv->element_type) || kv->element_type == XINF_GGUF_BOOL) && raw <= (uint64_t) INT64_MAX)
        *value = (int64_t) raw;
    else
        return s_error (self, "element %llu of '%s' is not an int64", (unsigned long long) element, self->arena + kv->key);
    return 0;
}

int
xinf_gguf_array_float (xinf_gguf_t *self, size_t index, uint64_t element, double *value)
{
    xinf_gguf_kv_t *kv = s_array (self, index, element);
    if (!kv)
        return -1;
    if (kv->element_type == XINF_GGUF_FLOAT32) {
        uint32_t bits = (uint32_t) xinf_gguf_load_le (s_element (kv, self, element), 4);
        float single;
        memcpy (&single, &bits, sizeof single);
        *value = single;
        return 0;
    }
    if (kv->element_type == XINF_GGUF_FLOAT64) {
        uint64_t bits = xinf_gguf_load_le (s_element (kv, self, element), 8);
        memcpy (value, &bits, sizeof *value);
        return 0;
    }
    int64_t integer = 0;
    if (xinf_gguf_array_int (self, index, element, &integer))
        return s_error (self, "element %llu of '%s' is not a number", (unsigned long long) element, self->arena + kv->key);
    *value = (double) integer;
    return 0;
}

const void *
xinf_gguf_array_data (xinf_gguf_t *self, size_t index)
{
    if (index >= self->kv_count || self->kvs [index].type != XINF_GGUF_ARRAY
    ||  self->kvs [index].element_type == XINF_GGUF_STRING)
        return NULL;
    return self->base + self->kvs [index].position;
}

const xinf_gguf_tensor_t *
xinf_gguf_tensor (xinf_gguf_t *self, size_t index)
{
    return index < self->tensor_count ? &self->tensors [index] : NULL;
}

const xinf_gguf_tensor_t *
xinf_gguf_find_tensor (xinf_gguf_t *self, const char *name)
{
    xinf_gguf_entry_t wanted = { name, 0 };
    xinf_gguf_entry_t *found = bsearch (&wanted, self->sorted_tensors, self->tensor_count, sizeof wanted, xinf_gguf_entry_compare);
    return found ? &self->tensors [found->index] : NULL;
}

int64_t
xinf_gguf_tensor_data_size (xinf_gguf_t *self, const xinf_gguf_tensor_t *tensor)
{
    if (!xinf_ggml_type_supported (tensor->type))
        return s_error (self, "tensor '%s' has type %s (ggml type %u), which xinf does not support "
                        "(it reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, "
                        "IQ4_XS and MXFP4; "
                        "requantize the model to one of these, e.g. llama-quantize --allow-requantize IN OUT Q4_K_M)",
                        tensor->name,
                        xinf_ggml_type_name (tensor->type), tensor->type);
    return (int64_t) tensor->size;
}

static void
s_print_dims (char *buffer, size_t size, uint32_t n_dims, const uint64_t *ne)
{
    size_t used = (size_t) snprintf (buffer, size, "[");
    for (uint32_t dim = 0; dim < n_dims && used < size; dim++)
        used += (size_t) snprintf (buffer + used, size - used, "%s%llu", dim ? ", " : "", (unsigned long long) ne [dim]);
    if (used < size)
        snprintf (buffer + used, size - used, "]");
}

const xinf_gguf_tensor_t *
xinf_gguf_expect_tensor (xinf_gguf_t *self, const char *name, uint32_t n_dims, const uint64_t *ne)
{
    const xinf_gguf_tensor_t *tensor = xinf_gguf_find_tensor (self, name);
    if (!tensor) {
        s_error (self, "tensor '%s' is missing", name);
        return NULL;
    }
    bool same = n_dims >= 1 && n_dims <= XINF_GGUF_MAX_DIMS;
    for (uint32_t dim = 0; same && dim < XINF_GGUF_MAX_DIMS; dim++)
        same = tensor->ne [dim] == (dim < n_dims ? ne [dim] : 1);
    if (!same) {
        char have [120], want [120];
        s_print_dims (have, sizeof have, tensor->n_dims, tensor->ne);
        s_print_dims (want, sizeof want, n_dims <= XINF_GGUF_MAX_DIMS ? n_dims : XINF_GGUF_MAX_DIMS, ne);
        s_error (self, "tensor '%s' is %s, expected %s", name, have, want);
        return NULL;
    }
    return xinf_gguf_tensor_data_size (self, tensor) < 0 ? NULL : tensor;
}

