/*  xinf_gguf_parse: the GGUF header parser behind xinf_gguf (private to
    models/: the reader's object layout and the parse entry point).

    The parser walks the header with a cursor that checks every read
    against the bytes left; containers grow as items are actually read, so
    a lying count fails at the first item the file cannot back instead of
    driving an allocation. Keys and tensor names are sorted once, for
    duplicate detection and binary-search lookups.
*/
#ifndef XINF_GGUF_PARSE_H_INCLUDED
#define XINF_GGUF_PARSE_H_INCLUDED

#include "xinf_gguf.h"

//  A string copied NUL-terminated into the arena.
typedef struct {
    uint64_t offset;                    //  in the arena (NUL-terminated copy)
    uint64_t length;
} xinf_gguf_string_t;

typedef struct {
    uint64_t key;                       //  arena offset
    xinf_gguf_type_t type;
    xinf_gguf_type_t element_type;      //  arrays
    uint64_t count;                     //  arrays
    uint64_t position;                  //  numeric array: file offset; string (array): first string
    union { uint64_t u; int64_t i; double f; } scalar;
} xinf_gguf_kv_t;

typedef struct {
    const char *name;
    size_t index;
} xinf_gguf_entry_t;

struct _xinf_gguf_t {
    const uint8_t *base;
    uint64_t size;
    void *mapping;                      //  the file's image (anonymous memory), NULL for buffers
    int fd;                             //  the file, -1 for buffers
    uint64_t loaded;                    //  bytes of the image read from the file so far (from 0)
    char *name;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    xinf_gguf_kv_t *kvs;
    size_t kv_count, kv_capacity;
    xinf_gguf_string_t *strings;
    size_t string_count, string_capacity;
    char *arena;
    size_t arena_size, arena_capacity;
    xinf_gguf_tensor_t *tensors;
    uint64_t *tensor_names;             //  arena offsets while parsing
    size_t tensor_count, tensor_capacity;
    xinf_gguf_entry_t *sorted_keys;
    xinf_gguf_entry_t *sorted_tensors;
    char error [512];
};

//  Parses self->base / self->size into self; 0 or -1 with the reason
//  (prefixed by self->name) in 'error'.
int xinf_gguf_parse (xinf_gguf_t *self, char *error, size_t error_size);

//  Makes bytes 0 .. end - 1 of the image hold the file's bytes (reading
//  more of the file into the image as needed; nothing for buffers). 0, or
//  -1 with the reason in self->error.
int xinf_gguf_fill (xinf_gguf_t *self, uint64_t end);

//  Bytes of one value of a scalar type (0 for string and array).
extern const uint8_t xinf_gguf_value_sizes [13];
uint64_t xinf_gguf_load_le (const uint8_t *bytes, int size);
int xinf_gguf_entry_compare (const void *left, const void *right);

#endif
