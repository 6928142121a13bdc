/*  xinf_gguf_parse: the bounds-checked GGUF header parser.  */
#include "xinf_gguf_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    xinf_gguf_t *gguf;
    uint64_t pos;
    char context [200];                 //  what is being read, for messages
    char *error;
    size_t error_size;
} s_parser_t;

const uint8_t xinf_gguf_value_sizes [13] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

//  ---- little-endian loads and the cursor ---------------------------------------

uint64_t
xinf_gguf_load_le (const uint8_t *bytes, int size)
{
    uint64_t value = 0;
    for (int index = size - 1; index >= 0; index--)
        value = (value << 8) | bytes [index];
    return value;
}

static int
s_fail (s_parser_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_fail (s_parser_t *self, const char *format, ...)
{
    if (self->error && self->error_size) {
        char message [400];
        va_list args;
        va_start (args, format);
        vsnprintf (message, sizeof message, format, args);
        va_end (args);
        snprintf (self->error, self->error_size, "%s: %s", self->gguf->name, message);
    }
    return -1;
}

static uint64_t
s_left (s_parser_t *self)
{
    return self->gguf->size - self->pos;
}

//  The next 'bytes' bytes (within the file) into the image.
static int
s_load (s_parser_t *self, uint64_t bytes)
{
    return xinf_gguf_fill (self->gguf, self->pos + bytes) ? s_fail (self, "%s", self->gguf->error) : 0;
}

static int
s_need (s_parser_t *self, uint64_t bytes, const char *what)
{
    if (bytes <= s_left (self))
        return s_load (self, bytes);
    return s_fail (self, "truncated: %s%s%s needs %llu bytes at offset %llu, the file has %llu",
                   what, *self->context ? " of " : "", self->context, (unsigned long long) bytes,
                   (unsigned long long) self->pos, (unsigned long long) self->gguf->size);
}

static int
s_read (s_parser_t *self, int size, uint64_t *value, const char *what)
{
    if (s_need (self, (uint64_t) size, what))
        return -1;
    *value = xinf_gguf_load_le (self->gguf->base + self->pos, size);
    self->pos += (uint64_t) size;
    return 0;
}

static int
s_read_u32 (s_parser_t *self, uint32_t *value, const char *what)
{
    uint64_t wide;
    if (s_read (self, 4, &wide, what))
        return -1;
    *value = (uint32_t) wide;
    return 0;
}

//  Grows a container so it holds 'count' + 1 items.
static int
s_grow (s_parser_t *self, void **items, size_t *capacity, size_t count, size_t item_size)
{
    if (count < *capacity)
        return 0;
    size_t wanted = *capacity ? *capacity * 2 : 16;
    void *grown = realloc (*items, wanted * item_size);
    if (!grown)
        return s_fail (self, "out of memory growing to %zu items", wanted);
    *items = grown;
    *capacity = wanted;
    return 0;
}

//  Reads a GGUF string into the arena and the strings table.
static int
s_read_string (s_parser_t *self, const char *what, size_t *string_index)
{
    xinf_gguf_t *gguf = self->gguf;
    uint64_t length;
    uint64_t start = self->pos;
    if (s_read (self, 8, &length, what))
        return -1;
    if (length > s_left (self))
        return s_fail (self, "%s%s%s at offset %llu declares %llu bytes, only %llu are left in the file",
                       what, *self->context ? " of " : "", self->context, (unsigned long long) start,
                       (unsigned long long) length, (unsigned long long) s_left (self));
    if (s_load (self, length))
        return -1;
    while (gguf->arena_size + length + 1 > gguf->arena_capacity) {
        size_t wanted = gguf->arena_capacity ? gguf->arena_capacity * 2 : 4096;
        char *grown = realloc (gguf->arena, wanted);
        if (!grown)
            return s_fail (self, "out of memory for strings (%zu bytes)", wanted);
        gguf->arena = grown;
        gguf->arena_capacity = wanted;
    }
    if (s_grow (self, (void **) &gguf->strings, &gguf->string_capacity, gguf->string_count, sizeof (xinf_gguf_string_t)))
        return -1;
    xinf_gguf_string_t *string = &gguf->strings [gguf->string_count];
    string->offset = gguf->arena_size;
    string->length = length;
    memcpy (gguf->arena + gguf->arena_size, gguf->base + self->pos, length);
    gguf->arena [gguf->arena_size + length] = 0;
    gguf->arena_size += length + 1;
    self->pos += length;
    *string_index = gguf->string_count++;
    return 0;
}

//  A name (key or tensor name) is non-empty and holds no NUL.
static int
s_read_name (s_parser_t *self, const char *what, uint64_t *arena_offset)
{
    size_t index;
    if (s_read_string (self, what, &index))
        return -1;
    xinf_gguf_string_t *string = &self->gguf->strings [index];
    const char *text = self->gguf->arena + string->offset;
    if (string->length == 0 || strlen (text) != string->length)
        return s_fail (self, "%s%s%s is empty or holds a NUL byte", what,
                       *self->context ? " of " : "", self->context);
    *arena_offset = string->offset;
    self->gguf->string_count--;         //  names live in the arena only
    return 0;
}

//  ---- metadata ------------------------------------------------------------------

static int
s_read_scalar (s_parser_t *self, xinf_gguf_type_t type, xinf_gguf_kv_t *kv)
{
    uint64_t raw;
    int size = xinf_gguf_value_sizes [type];
    if (s_read (self, size, &raw, "the value"))
        return -1;
    int shift = 64 - 8 * size;
    switch (type) {
        case XINF_GGUF_INT8: case XINF_GGUF_INT16: case XINF_GGUF_INT32: case XINF_GGUF_INT64:
            kv->scalar.i = (int64_t) (raw << shift) >> shift;
            break;
        case XINF_GGUF_FLOAT32: {
            uint32_t bits = (uint32_t) raw;
            float single;
            memcpy (&single, &bits, sizeof single);
            kv->scalar.f = single;
            break;
        }
        case XINF_GGUF_FLOAT64:
            memcpy (&kv->scalar.f, &raw, sizeof raw);
            break;
        case XINF_GGUF_BOOL:
            if (raw > 1)
                return s_fail (self, "the bool value of %s at offset %llu is %llu, not 0 or 1",
                               self->context, (unsigned long long) (self->pos - 1), (unsigned long long) raw);
            kv->scalar.u = raw;
            break;
        default:
            kv->scalar.u = raw;
    }
    return 0;
}

static int
s_read_array (s_parser_t *self, xinf_gguf_kv_t *kv)
{
    uint32_t element_type;
    if (s_read_u32 (self, &element_type, "the array element type")
    ||  s_read (self, 8, &kv->count, "the array count"))
        return -1;
    if (element_type == XINF_GGUF_ARRAY)
        return s_fail (self, "%s is an array of arrays, which GGUF readers do not support", self->context);
    if (element_type > XINF_GGUF_FLOAT64)
        return s_fail (self, "%s is an array of unknown value type %u", self->context, element_type);
    kv->element_type = (xinf_gguf_type_t) element_type;
    uint64_t element_size = element_type == XINF_GGUF_STRING ? 8 : xinf_gguf_value_sizes [element_type];
    if (kv->count > s_left (self) / element_size)
        return s_fail (self, "%s declares %llu elements of type %s at offset %llu, the %llu bytes left hold at most %llu",
                       self->context, (unsigned long long) kv->count, xinf_gguf_type_name ((xinf_gguf_type_t) element_type),
                       (unsigned long long) (self->pos - 8), (unsigned long long) s_left (self),
                       (unsigned long long) (s_left (self) / element_size));
    if (element_type != XINF_GGUF_STRING) {
        if (s_load (self, kv->count * element_size))
            return -1;
        kv->position = self->pos;
        if (element_type == XINF_GGUF_BOOL)
            for (uint64_t index = 0; index < kv->count; index++)
                if (self->gguf->base [self->pos + index] > 1)
                    return s_fail (self, "element %llu of the bool array %s is %u, not 0 or 1",
                                   (unsigned long long) index, self->context, self->gguf->base [self->pos + index]);
        self->pos += kv->count * element_size;
        return 0;
    }
    kv->position = self->gguf->string_count;
    for (uint64_t index = 0; index < kv->count; index++) {
        size_t ignored;
        if (s_read_string (self, "a string element", &ignored))
            return -1;
    }
    return 0;
}

static int
s_read_kv (s_parser_t *self, uint64_t index)
{
    xinf_gguf_t *gguf = self->gguf;
    snprintf (self->context, sizeof self->context, "key %llu", (unsigned long long) index);
    if (s_grow (self, (void **) &gguf->kvs, &gguf->kv_capacity, gguf->kv_count, sizeof (xinf_gguf_kv_t)))
        return -1;
    xinf_gguf_kv_t *kv = &gguf->kvs [gguf->kv_count];
    memset (kv, 0, sizeof *kv);
    uint32_t type;
    if (s_read_name (self, "the key name", &kv->key))
        return -1;
    snprintf (self->context, sizeof self->context, "key %llu '%.120s'",
              (unsigned long long) index, gguf->arena + kv->key);
    if (s_read_u32 (self, &type, "the value type"))
        return -1;
    if (type > XINF_GGUF_FLOAT64)
        return s_fail (self, "%s has unknown value type %u", self->context, type);
    kv->type = (xinf_gguf_type_t) type;
    int rc = 0;
    if (type == XINF_GGUF_STRING) {
        size_t string_index;
        rc = s_read_string (self, "the string value", &string_index);
        kv->position = string_index;
    }
    else
    if (type == XINF_GGUF_ARRAY)
        rc = s_read_array (self, kv);
    else
        rc = s_read_scalar (self, kv->type, kv);
    if (rc == 0)
        gguf->kv_count++;
    return rc;
}

int
xinf_gguf_entry_compare (const void *left, const void *right)
{
    return strcmp (((const xinf_gguf_entry_t *) left)->name, ((const xinf_gguf_entry_t *) right)->name);
}

//  Sorts names; fails on the first duplicate, naming it.
static int
s_sort_names (s_parser_t *self, xinf_gguf_entry_t *entries, size_t count, const char *what)
{
    qsort (entries, count, sizeof *entries, xinf_gguf_entry_compare);
    for (size_t index = 1; index < count; index++)
        if (strcmp (entries [index - 1].name, entries [index].name) == 0)
            return s_fail (self, "duplicate %s '%s'", what, entries [index].name);
    return 0;
}

static int
s_read_header (s_parser_t *self, uint64_t *tensor_count, uint64_t *kv_count)
{
    xinf_gguf_t *gguf = self->gguf;
    if (s_need (self, 4, "the magic"))
        return -1;
    if (memcmp (gguf->base, "GGUF", 4) != 0) {
        const uint8_t *magic = gguf->base;
        return s_fail (self, "not a GGUF file: the magic is %02x %02x %02x %02x, expected 47 47 55 46 ('GGUF')",
                       magic [0], magic [1], magic [2], magic [3]);
    }
    self->pos = 4;
    if (s_read_u32 (self, &gguf->version, "the version"))
        return -1;
    if (gguf->version == 0x02000000 || gguf->version == 0x03000000)
        return s_fail (self, "big-endian GGUF (version %u byte-swapped) is not supported", gguf->version >> 24);
    if (gguf->version != 2 && gguf->version != 3)
        return s_fail (self, "unsupported GGUF version %u (xinf reads versions 2 and 3)", gguf->version);
    if (s_read (self, 8, tensor_count, "the tensor count") || s_read (self, 8, kv_count, "the metadata count"))
        return -1;
    //  Smallest key/value: 8 + 1 + 4 + 1 bytes; smallest tensor info: 8 + 1 + 4 + 8 + 4 + 8.
    if (*kv_count > s_left (self) / 14)
        return s_fail (self, "the metadata count %llu cannot fit in the %llu bytes after the header",
                       (unsigned long long) *kv_count, (unsigned long long) s_left (self));
    if (*tensor_count > s_left (self) / 33)
        return s_fail (self, "the tensor count %llu cannot fit in the %llu bytes after the header",
                       (unsigned long long) *tensor_count, (unsigned long long) s_left (self));
    return 0;
}

static int
s_read_alignment (s_parser_t *self)
{
    xinf_gguf_t *gguf = self->gguf;
    gguf->alignment = XINF_GGUF_DEFAULT_ALIGNMENT;
    self->context [0] = 0;
    if (!xinf_gguf_has (gguf, "general.alignment"))
        return 0;
    uint64_t alignment;
    if (xinf_gguf_get_uint (gguf, "general.alignment", &alignment))
        return s_fail (self, "%s", gguf->error);
    if (alignment == 0 || (alignment & (alignment - 1)) || alignment > (1u << 30))
        return s_fail (self, "general.alignment is %llu, not a power of two up to 2^30",
                       (unsigned long long) alignment);
    gguf->alignment = alignment;
    return 0;
}

//  ---- tensor infos ---------------------------------------------------------------

static int
s_read_dims (s_parser_t *self, xinf_gguf_tensor_t *tensor)
{
    if (s_read_u32 (self, &tensor->n_dims, "the dimension count"))
        return -1;
    if (tensor->n_dims < 1 || tensor->n_dims > XINF_GGUF_MAX_DIMS)
        return s_fail (self, "%s has %u dimensions (1 to %d allowed)", self->context,
                       tensor->n_dims, XINF_GGUF_MAX_DIMS);
    tensor->n_elements = 1;
    for (uint32_t dim = 0; dim < XINF_GGUF_MAX_DIMS; dim++) {
        uint64_t extent = 1;
        if (dim < tensor->n_dims && s_read (self, 8, &extent, "a dimension"))
            return -1;
        if (extent == 0 || extent > (uint64_t) INT64_MAX)
            return s_fail (self, "%s: dimension %u is %llu (must be 1 to 2^63-1)", self->context,
                           dim, (unsigned long long) extent);
        if (tensor->n_elements > (uint64_t) INT64_MAX / extent)
            return s_fail (self, "%s: dimensions overflow (the element count exceeds 2^63 at dimension %u)",
                           self->context, dim);
        tensor->ne [dim] = extent;
        tensor->n_elements *= extent;
    }
    return 0;
}

static int
s_read_type (s_parser_t *self, xinf_gguf_tensor_t *tensor)
{
    uint32_t block_elements, block_bytes;
    if (s_read_u32 (self, &tensor->type, "the tensor type"))
        return -1;
    if (!xinf_ggml_type_size (tensor->type, &block_elements, &block_bytes))
        return s_fail (self, "%s has unknown ggml type %u", self->context, tensor->type);
    if (tensor->ne [0] % block_elements)
        return s_fail (self, "%s: rows of %llu elements are not a multiple of the %s block size %u",
                       self->context, (unsigned long long) tensor->ne [0],
                       xinf_ggml_type_name (tensor->type), block_elements);
    uint64_t blocks = tensor->n_elements / block_elements;
    if (blocks > (uint64_t) INT64_MAX / block_bytes)
        return s_fail (self, "%s: the data size overflows", self->context);
    tensor->size = blocks * block_bytes;
    return 0;
}

static int
s_read_tensor_info (s_parser_t *self, uint64_t index)
{
    xinf_gguf_t *gguf = self->gguf;
    snprintf (self->context, sizeof self->context, "tensor %llu", (unsigned long long) index);
    if (s_grow (self, (void **) &gguf->tensors, &gguf->tensor_capacity, gguf->tensor_count, sizeof (xinf_gguf_tensor_t)))
        return -1;
    uint64_t *names = realloc (gguf->tensor_names, gguf->tensor_capacity * sizeof (uint64_t));
    if (!names)
        return s_fail (self, "out of memory for tensor names");
    gguf->tensor_names = names;
    xinf_gguf_tensor_t *tensor = &gguf->tensors [gguf->tensor_count];
    memset (tensor, 0, sizeof *tensor);
    uint64_t name;
    if (s_read_name (self, "the tensor name", &name))
        return -1;
    size_t length = strlen (gguf->arena + name);
    snprintf (self->context, sizeof self->context, "tensor %llu '%.120s'", (unsigned long long) index, gguf->arena + name);
    if (length > XINF_GGUF_MAX_NAME)
        return s_fail (self, "%s: the name has %zu bytes (at most %d)", self->context, length, XINF_GGUF_MAX_NAME);
    if (s_read_dims (self, tensor) || s_read_type (self, tensor)
    ||  s_read (self, 8, &tensor->offset, "the data offset"))
        return -1;
    if (tensor->offset % gguf->alignment)
        return s_fail (self, "%s: the data offset %llu is not a multiple of the alignment %llu",
                       self->context, (unsigned long long) tensor->offset, (unsigned long long) gguf->alignment);
    gguf->tensor_names [gguf->tensor_count++] = name;
    return 0;
}

//  After the infos: places the data section and checks every tensor lies
//  inside the file.
static int
s_place_tensors (s_parser_t *self)
{
    xinf_gguf_t *gguf = self->gguf;
    self->context [0] = 0;
    uint64_t padding = (gguf->alignment - self->pos % gguf->alignment) % gguf->alignment;
    gguf->data_offset = self->pos + padding;
    if (gguf->tensor_count == 0)
        return 0;
    if (gguf->data_offset > gguf->size)
        return s_fail (self, "truncated: the data section starts at offset %llu, past the end of the file (%llu bytes)",
                       (unsigned long long) gguf->data_offset, (unsigned long long) gguf->size);
    uint64_t data_size = gguf->size - gguf->data_offset;
    for (size_t index = 0; index < gguf->tensor_count; index++) {
        xinf_gguf_tensor_t *tensor = &gguf->tensors [index];
        tensor->name = gguf->arena + gguf->tensor_names [index];
        if (tensor->offset > data_size || tensor->size > data_size - tensor->offset)
            return s_fail (self, "tensor '%s' (%llu bytes at data offset %llu) runs past the end of the file: "
                           "the data section has %llu bytes", tensor->name, (unsigned long long) tensor->size,
                           (unsigned long long) tensor->offset, (unsigned long long) data_size);
        tensor->data = gguf->base + gguf->data_offset + tensor->offset;
    }
    return 0;
}

static int
s_index_names (s_parser_t *self)
{
    xinf_gguf_t *gguf = self->gguf;
    gguf->sorted_keys = calloc (gguf->kv_count + 1, sizeof (xinf_gguf_entry_t));
    gguf->sorted_tensors = calloc (gguf->tensor_count + 1, sizeof (xinf_gguf_entry_t));
    if (!gguf->sorted_keys || !gguf->sorted_tensors)
        return s_fail (self, "out of memory for the name index");
    for (size_t index = 0; index < gguf->kv_count; index++)
        gguf->sorted_keys [index] = (xinf_gguf_entry_t) { gguf->arena + gguf->kvs [index].key, index };
    for (size_t index = 0; index < gguf->tensor_count; index++)
        gguf->sorted_tensors [index] = (xinf_gguf_entry_t) { gguf->arena + gguf->tensor_names [index], index };
    self->context [0] = 0;
    return s_sort_names (self, gguf->sorted_keys, gguf->kv_count, "metadata key")
        || s_sort_names (self, gguf->sorted_tensors, gguf->tensor_count, "tensor name") ? -1 : 0;
}

static int
s_parse (s_parser_t *self)
{
    uint64_t tensor_count = 0, kv_count = 0;
    if (s_read_header (self, &tensor_count, &kv_count))
        return -1;
    for (uint64_t index = 0; index < kv_count; index++)
        if (s_read_kv (self, index))
            return -1;
    //  The arena no longer moves after the tensor names: index the keys
    //  first so that general.alignment can be looked up, then again.
    if (s_index_names (self) || s_read_alignment (self))
        return -1;
    for (uint64_t index = 0; index < tensor_count; index++)
        if (s_read_tensor_info (self, index))
            return -1;
    free (self->gguf->sorted_keys);
    free (self->gguf->sorted_tensors);
    self->gguf->sorted_keys = self->gguf->sorted_tensors = NULL;
    return s_index_names (self) || s_place_tensors (self) ? -1 : 0;
}

int
xinf_gguf_parse (xinf_gguf_t *self, char *error, size_t error_size)
{
    s_parser_t parser = { self, 0, "", error, error_size };
    return s_parse (&parser);
}
