/*  xinf_gguf_writer: the streaming GGUF version 3 writer.

    Metadata is serialized as it is set into one growing byte buffer;
    tensor infos are kept as a list with their offsets assigned at once
    (aligned). begin writes magic, counts, metadata and infos; write
    streams the data and inserts the padding between tensors.
*/
#include "xinf_gguf_writer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char name [XINF_GGUF_MAX_NAME + 1];
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne [XINF_GGUF_MAX_DIMS];
    uint64_t offset;
    uint64_t size;
} s_tensor_t;

typedef struct {
    uint8_t *data;
    size_t size, capacity;
} s_bytes_t;

struct _xinf_gguf_writer_t {
    s_bytes_t metadata;
    char **keys;
    size_t kv_count, key_capacity;
    s_tensor_t *tensors;
    size_t tensor_count, tensor_capacity;
    uint64_t alignment;
    uint64_t data_size;                 //  with padding, as tensors are added
    FILE *file;
    char *path, *part_path;
    size_t current;                     //  tensor being written
    uint64_t written;                   //  bytes of it so far
    uint64_t offset;                    //  bytes in the file
    bool finished;
    bool failed;
    char error [512];
};

static int
s_fail (xinf_gguf_writer_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_fail (xinf_gguf_writer_t *self, const char *format, ...)
{
    if (!self->failed) {
        va_list args;
        va_start (args, format);
        vsnprintf (self->error, sizeof self->error, format, args);
        va_end (args);
        self->failed = true;
    }
    return -1;
}

xinf_gguf_writer_t *
xinf_gguf_writer_new (void)
{
    xinf_gguf_writer_t *self = calloc (1, sizeof *self);
    if (self)
        self->alignment = XINF_GGUF_DEFAULT_ALIGNMENT;
    return self;
}

void
xinf_gguf_writer_destroy (xinf_gguf_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xinf_gguf_writer_t *self = *self_p;
    if (self->file) {
        fclose (self->file);
        unlink (self->part_path);
    }
    for (size_t index = 0; index < self->kv_count; index++)
        free (self->keys [index]);
    free (self->keys);
    free (self->metadata.data);
    free (self->tensors);
    free (self->path);
    free (self->part_path);
    free (self);
    *self_p = NULL;
}

const char *
xinf_gguf_writer_error (xinf_gguf_writer_t *self)
{
    return self->error;
}

uint64_t
xinf_gguf_writer_offset (xinf_gguf_writer_t *self)
{
    return self->offset;
}

//  ---- byte buffer ------------------------------------------------------------------

static int
s_put (xinf_gguf_writer_t *self, const void *data, size_t size)
{
    s_bytes_t *bytes = &self->metadata;
    if (size == 0)
        return 0;
    if (bytes->size + size > bytes->capacity) {
        size_t wanted = bytes->capacity ? bytes->capacity : 4096;
        while (wanted < bytes->size + size)
            wanted *= 2;
        uint8_t *grown = realloc (bytes->data, wanted);
        if (!grown)
            return s_fail (self, "out of memory for metadata (%zu bytes)", wanted);
        bytes->data = grown;
        bytes->capacity = wanted;
    }
    memcpy (bytes->data + bytes->size, data, size);
    bytes->size += size;
    return 0;
}

static int
s_put_le (xinf_gguf_writer_t *self, uint64_t value, int size)
{
    uint8_t buffer [8];
    for (int index = 0; index < size; index++)
        buffer [index] = (uint8_t) (value >> (8 * index));
    return s_put (self, buffer, (size_t) size);
}

static int
s_put_string (xinf_gguf_writer_t *self, const char *text, size_t length)
{
    return s_put_le (self, length, 8) || s_put (self, text, length) ? -1 : 0;
}

//  Starts a key/value: checks the writer state and the key, writes both.
static int
s_key (xinf_gguf_writer_t *self, const char *key, xinf_gguf_type_t type)
{
    if (self->failed)
        return -1;
    if (self->file || self->finished)
        return s_fail (self, "metadata key '%s' set after begin", key);
    if (!key || !*key)
        return s_fail (self, "a metadata key is empty");
    for (size_t index = 0; index < self->kv_count; index++)
        if (strcmp (self->keys [index], key) == 0)
            return s_fail (self, "metadata key '%s' is set twice", key);
    if (self->kv_count == self->key_capacity) {
        size_t wanted = self->key_capacity ? self->key_capacity * 2 : 32;
        char **grown = realloc (self->keys, wanted * sizeof (char *));
        if (!grown)
            return s_fail (self, "out of memory for keys");
        self->keys = grown;
        self->key_capacity = wanted;
    }
    if (!(self->keys [self->kv_count] = strdup (key)))
        return s_fail (self, "out of memory for keys");
    self->kv_count++;
    return s_put_string (self, key, strlen (key)) || s_put_le (self, (uint64_t) type, 4) ? -1 : 0;
}

//  ---- metadata ------------------------------------------------------------------------

static const uint8_t s_sizes [] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

//  One numeric value from a C variable of the element type, as raw bits.
static uint64_t
s_bits (xinf_gguf_type_t type, const void *value)
{
    switch (type) {
        case XINF_GGUF_UINT8:   return *(const uint8_t *) value;
        case XINF_GGUF_INT8:    return (uint8_t) *(const int8_t *) value;
        case XINF_GGUF_UINT16:  return *(const uint16_t *) value;
        case XINF_GGUF_INT16:   return (uint16_t) *(const int16_t *) value;
        case XINF_GGUF_UINT32:  return *(const uint32_t *) value;
        case XINF_GGUF_INT32:   return (uint32_t) *(const int32_t *) value;
        case XINF_GGUF_BOOL:    return *(const bool *) value ? 1 : 0;
        case XINF_GGUF_UINT64:  return *(const uint64_t *) value;
        case XINF_GGUF_INT64:   return (uint64_t) *(const int64_t *) value;
        case XINF_GGUF_FLOAT32: {
            uint32_t bits;
            memcpy (&bits, value, 4);
            return bits;
        }
        case XINF_GGUF_FLOAT64: {
            uint64_t bits;
            memcpy (&bits, value, 8);
            return bits;
        }
        default:                return 0;
    }
}

//  The size of one element in the caller's C array.
static size_t
s_c_size (xinf_gguf_type_t type)
{
    return type == XINF_GGUF_BOOL ? sizeof (bool) : s_sizes [type];
}

static bool
s_is_number (xinf_gguf_type_t type)
{
    return (unsigned) type <= XINF_GGUF_FLOAT64 && type != XINF_GGUF_STRING && type != XINF_GGUF_ARRAY;
}

int
xinf_gguf_writer_set (xinf_gguf_writer_t *self, const char *key, xinf_gguf_type_t type, const void *value)
{
    if (!s_is_number (type))
        return s_fail (self, "metadata key '%s': type %d is not a scalar (use set_str or set_array)", key, (int) type);
    return s_key (self, key, type) || s_put_le (self, s_bits (type, value), s_sizes [type]) ? -1 : 0;
}

int
xinf_gguf_writer_set_u32 (xinf_gguf_writer_t *self, const char *key, uint32_t value)
{
    return xinf_gguf_writer_set (self, key, XINF_GGUF_UINT32, &value);
}

int
xinf_gguf_writer_set_u64 (xinf_gguf_writer_t *self, const char *key, uint64_t value)
{
    return xinf_gguf_writer_set (self, key, XINF_GGUF_UINT64, &value);
}

int
xinf_gguf_writer_set_i32 (xinf_gguf_writer_t *self, const char *key, int32_t value)
{
    return xinf_gguf_writer_set (self, key, XINF_GGUF_INT32, &value);
}

int
xinf_gguf_writer_set_f32 (xinf_gguf_writer_t *self, const char *key, float value)
{
    return xinf_gguf_writer_set (self, key, XINF_GGUF_FLOAT32, &value);
}

int
xinf_gguf_writer_set_bool (xinf_gguf_writer_t *self, const char *key, bool value)
{
    return xinf_gguf_writer_set (self, key, XINF_GGUF_BOOL, &value);
}

int
xinf_gguf_writer_set_strn (xinf_gguf_writer_t *self, const char *key, const char *value, size_t length)
{
    return s_key (self, key, XINF_GGUF_STRING) || s_put_string (self, value, length) ? -1 : 0;
}

int
xinf_gguf_writer_set_str (xinf_gguf_writer_t *self, const char *key, const char *value)
{
    return xinf_gguf_writer_set_strn (self, key, value, strlen (value));
}

int
xinf_gguf_writer_set_array (xinf_gguf_writer_t *self, const char *key, xinf_gguf_type_t element_type,
                            const void *values, uint64_t count)
{
    if (!s_is_number (element_type))
        return s_fail (self, "metadata key '%s': arrays of type %d are written with set_str_array or not at all",
                       key, (int) element_type);
    if (s_key (self, key, XINF_GGUF_ARRAY) || s_put_le (self, (uint64_t) element_type, 4) || s_put_le (self, count, 8))
        return -1;
    const uint8_t *element = values;
    for (uint64_t index = 0; index < count; index++, element += s_c_size (element_type))
        if (s_put_le (self, s_bits (element_type, element), s_sizes [element_type]))
            return -1;
    return 0;
}

int
xinf_gguf_writer_set_str_array (xinf_gguf_writer_t *self, const char *key, const char *const *strings,
                                const size_t *lengths, uint64_t count)
{
    if (s_key (self, key, XINF_GGUF_ARRAY) || s_put_le (self, XINF_GGUF_STRING, 4) || s_put_le (self, count, 8))
        return -1;
    for (uint64_t index = 0; index < count; index++)
        if (s_put_string (self, strings [index], lengths ? lengths [index] : strlen (strings [index])))
            return -1;
    return 0;
}

int
xinf_gguf_writer_set_alignment (xinf_gguf_writer_t *self, uint32_t alignment)
{
    if (self->tensor_count)
        return s_fail (self, "the alignment is set after tensors were added");
    if (alignment == 0 || (alignment & (alignment - 1)))
        return s_fail (self, "the alignment %u is not a power of two", alignment);
    self->alignment = alignment;
    return xinf_gguf_writer_set_u32 (self, "general.alignment", alignment);
}

//  ---- tensors -------------------------------------------------------------------------

static uint64_t
s_padding (uint64_t offset, uint64_t alignment)
{
    return (alignment - offset % alignment) % alignment;
}

static int
s_check_tensor (xinf_gguf_writer_t *self, const char *name, uint32_t type, uint32_t n_dims,
                const uint64_t *ne, uint64_t *size)
{
    uint32_t block_elements, block_bytes;
    if (!name || !*name || strlen (name) > XINF_GGUF_MAX_NAME)
        return s_fail (self, "tensor name '%s' must have 1 to %d bytes", name ? name : "", XINF_GGUF_MAX_NAME);
    for (size_t index = 0; index < self->tensor_count; index++)
        if (strcmp (self->tensors [index].name, name) == 0)
            return s_fail (self, "tensor '%s' is added twice", name);
    if (n_dims < 1 || n_dims > XINF_GGUF_MAX_DIMS)
        return s_fail (self, "tensor '%s' has %u dimensions (1 to %d allowed)", name, n_dims, XINF_GGUF_MAX_DIMS);
    if (!xinf_ggml_type_size (type, &block_elements, &block_bytes))
        return s_fail (self, "tensor '%s' has unknown ggml type %u", name, type);
    uint64_t elements = 1;
    for (uint32_t dim = 0; dim < n_dims; dim++) {
        if (ne [dim] == 0 || ne [dim] > (uint64_t) INT64_MAX / elements)
            return s_fail (self, "tensor '%s': dimension %u (%llu) is zero or overflows", name, dim,
                           (unsigned long long) ne [dim]);
        elements *= ne [dim];
    }
    if (ne [0] % block_elements)
        return s_fail (self, "tensor '%s': rows of %llu elements are not a multiple of the %s block size %u",
                       name, (unsigned long long) ne [0], xinf_ggml_type_name (type), block_elements);
    *size = elements / block_elements * block_bytes;
    return 0;
}

int
xinf_gguf_writer_add_tensor (xinf_gguf_writer_t *self, const char *name, uint32_t type,
                             uint32_t n_dims, const uint64_t *ne)
{
    uint64_t size = 0;
    if (self->failed)
        return -1;
    if (self->file || self->finished)
        return s_fail (self, "tensor '%s' added after begin", name);
    if (s_check_tensor (self, name, type, n_dims, ne, &size))
        return -1;
    if (self->tensor_count == self->tensor_capacity) {
        size_t wanted = self->tensor_capacity ? self->tensor_capacity * 2 : 64;
        s_tensor_t *grown = realloc (self->tensors, wanted * sizeof (s_tensor_t));
        if (!grown)
            return s_fail (self, "out of memory for tensors");
        self->tensors = grown;
        self->tensor_capacity = wanted;
    }
    s_tensor_t *tensor = &self->tensors [self->tensor_count++];
    memset (tensor, 0, sizeof *tensor);
    snprintf (tensor->name, sizeof tensor->name, "%s", name);
    tensor->type = type;
    tensor->n_dims = n_dims;
    memcpy (tensor->ne, ne, n_dims * sizeof (uint64_t));
    tensor->offset = self->data_size;
    tensor->size = size;
    self->data_size += size + s_padding (size, self->alignment);
    return 0;
}

uint64_t
xinf_gguf_writer_tensor_size (xinf_gguf_writer_t *self, size_t index)
{
    return index < self->tensor_count ? self->tensors [index].size : 0;
}

//  ---- the file ----------------------------------------------------------------------------

static int
s_emit (xinf_gguf_writer_t *self, const void *data, size_t size)
{
    if (size && fwrite (data, 1, size, self->file) != size)
        return s_fail (self, "%s: write failed at offset %llu (disk full?)", self->part_path,
                       (unsigned long long) self->offset);
    self->offset += size;
    return 0;
}

static int
s_emit_padding (xinf_gguf_writer_t *self)
{
    static const uint8_t zeros [256];
    uint64_t padding = s_padding (self->offset, self->alignment);
    while (padding > 0) {
        size_t piece = padding < sizeof zeros ? (size_t) padding : sizeof zeros;
        if (s_emit (self, zeros, piece))
            return -1;
        padding -= piece;
    }
    return 0;
}

//  Header, metadata and tensor infos go through the metadata buffer, which
//  is cleared and reused for them.
static int
s_emit_header (xinf_gguf_writer_t *self)
{
    s_bytes_t metadata = self->metadata;
    self->metadata = (s_bytes_t) { NULL, 0, 0 };
    int rc = s_put (self, "GGUF", 4) || s_put_le (self, 3, 4)
          || s_put_le (self, self->tensor_count, 8) || s_put_le (self, self->kv_count, 8)
          || s_put (self, metadata.data, metadata.size);
    free (metadata.data);
    for (size_t index = 0; rc == 0 && index < self->tensor_count; index++) {
        s_tensor_t *tensor = &self->tensors [index];
        rc = s_put_string (self, tensor->name, strlen (tensor->name)) || s_put_le (self, tensor->n_dims, 4);
        for (uint32_t dim = 0; rc == 0 && dim < tensor->n_dims; dim++)
            rc = s_put_le (self, tensor->ne [dim], 8);
        rc = rc || s_put_le (self, tensor->type, 4) || s_put_le (self, tensor->offset, 8);
    }
    return rc || s_emit (self, self->metadata.data, self->metadata.size) || s_emit_padding (self) ? -1 : 0;
}

int
xinf_gguf_writer_begin (xinf_gguf_writer_t *self, const char *path)
{
    if (self->failed)
        return -1;
    if (self->file || self->finished)
        return s_fail (self, "begin called twice");
    size_t length = strlen (path) + 6;
    self->path = strdup (path);
    self->part_path = malloc (length);
    if (!self->path || !self->part_path)
        return s_fail (self, "out of memory");
    snprintf (self->part_path, length, "%s.part", path);
    if (!(self->file = fopen (self->part_path, "wb")))
        return s_fail (self, "%s: cannot create: %s", self->part_path, strerror (errno));
    setvbuf (self->file, NULL, _IOFBF, 1 << 20);
    return s_emit_header (self);
}

//  Moves past tensors that are complete, padding after each.
static int
s_advance (xinf_gguf_writer_t *self)
{
    while (self->current < self->tensor_count && self->written == self->tensors [self->current].size) {
        self->current++;
        self->written = 0;
        if (s_emit_padding (self))
            return -1;
    }
    return 0;
}

int
xinf_gguf_writer_write (xinf_gguf_writer_t *self, const void *data, size_t size)
{
    if (self->failed)
        return -1;
    if (!self->file)
        return s_fail (self, "write called before begin or after finish");
    if (s_advance (self))
        return -1;
    if (self->current >= self->tensor_count)
        return s_fail (self, "%zu bytes written after the last tensor", size);
    s_tensor_t *tensor = &self->tensors [self->current];
    if (size > tensor->size - self->written)
        return s_fail (self, "tensor '%s': %zu bytes written where %llu are left", tensor->name, size,
                       (unsigned long long) (tensor->size - self->written));
    self->written += size;
    return s_emit (self, data, size) || s_advance (self) ? -1 : 0;
}

int
xinf_gguf_writer_finish (xinf_gguf_writer_t *self)
{
    if (self->failed)
        return -1;
    if (!self->file)
        return s_fail (self, "finish called before begin or twice");
    if (s_advance (self))
        return -1;
    if (self->current < self->tensor_count)
        return s_fail (self, "tensor '%s' has %llu of %llu bytes written", self->tensors [self->current].name,
                       (unsigned long long) self->written, (unsigned long long) self->tensors [self->current].size);
    FILE *file = self->file;
    self->file = NULL;
    if (fclose (file) != 0) {
        unlink (self->part_path);
        return s_fail (self, "%s: close failed: %s", self->part_path, strerror (errno));
    }
    if (rename (self->part_path, self->path) != 0) {
        unlink (self->part_path);
        return s_fail (self, "cannot rename %s to %s: %s", self->part_path, self->path, strerror (errno));
    }
    self->finished = true;
    return 0;
}
