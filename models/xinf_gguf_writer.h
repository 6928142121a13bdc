/*  xinf_gguf_writer: writes GGUF version 3 files, streaming tensor data.

    Metadata and tensor infos are declared first (they are small and kept
    in memory); xinf_gguf_writer_begin writes the header, then each
    tensor's bytes are streamed in declaration order, in as many pieces as
    the caller likes, so a multi-gigabyte model never sits in memory:

        xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
        xinf_gguf_writer_set_str (writer, "general.architecture", "llama");
        uint64_t ne [2] = { 64, 512 };
        xinf_gguf_writer_add_tensor (writer, "token_embd.weight", XINF_GGML_F32, 2, ne);
        xinf_gguf_writer_begin (writer, "model.gguf");
        xinf_gguf_writer_write (writer, data, 64 * 512 * 4);
        if (xinf_gguf_writer_finish (writer))
            fprintf (stderr, "%s\n", xinf_gguf_writer_error (writer));
        xinf_gguf_writer_destroy (&writer);

    The file is written as PATH.part and renamed to PATH by finish, so a
    failed or interrupted write never leaves a plausible model behind.
    Every call returns 0 or -1; the first error sticks (later calls fail
    too) and xinf_gguf_writer_error () tells it. Values are written little
    endian whatever the host.
*/
#ifndef XINF_GGUF_WRITER_H_INCLUDED
#define XINF_GGUF_WRITER_H_INCLUDED

#include "xinf_gguf.h"

typedef struct _xinf_gguf_writer_t xinf_gguf_writer_t;

xinf_gguf_writer_t *xinf_gguf_writer_new (void);
//  Removes PATH.part when the file was begun but not finished.
void xinf_gguf_writer_destroy (xinf_gguf_writer_t **self_p);
const char *xinf_gguf_writer_error (xinf_gguf_writer_t *self);

//  Sets the data alignment (a power of two; default 32) and writes it as
//  the u32 key general.alignment. Call before adding tensors.
int xinf_gguf_writer_set_alignment (xinf_gguf_writer_t *self, uint32_t alignment);

//  Scalars: 'value' points to the C type of 'type' (uint8_t ... double,
//  bool for XINF_GGUF_BOOL); strings and arrays have their own calls.
int xinf_gguf_writer_set (xinf_gguf_writer_t *self, const char *key, xinf_gguf_type_t type, const void *value);
int xinf_gguf_writer_set_u32 (xinf_gguf_writer_t *self, const char *key, uint32_t value);
int xinf_gguf_writer_set_u64 (xinf_gguf_writer_t *self, const char *key, uint64_t value);
int xinf_gguf_writer_set_i32 (xinf_gguf_writer_t *self, const char *key, int32_t value);
int xinf_gguf_writer_set_f32 (xinf_gguf_writer_t *self, const char *key, float value);
int xinf_gguf_writer_set_bool (xinf_gguf_writer_t *self, const char *key, bool value);
int xinf_gguf_writer_set_str (xinf_gguf_writer_t *self, const char *key, const char *value);
//  A string of 'length' bytes (may hold NULs).
int xinf_gguf_writer_set_strn (xinf_gguf_writer_t *self, const char *key, const char *value, size_t length);

//  An array of numbers or bools: 'values' is a C array of the element type.
int xinf_gguf_writer_set_array (xinf_gguf_writer_t *self, const char *key, xinf_gguf_type_t element_type,
                                const void *values, uint64_t count);
//  An array of strings; 'lengths' may be NULL (then strlen is used).
int xinf_gguf_writer_set_str_array (xinf_gguf_writer_t *self, const char *key, const char *const *strings,
                                    const size_t *lengths, uint64_t count);

//  Declares a tensor (ggml dims order, ne [0] contiguous). Any ggml type
//  the reader knows may be written; the caller supplies its bytes.
int xinf_gguf_writer_add_tensor (xinf_gguf_writer_t *self, const char *name, uint32_t type,
                                 uint32_t n_dims, const uint64_t *ne);
//  Bytes the tensor declared at 'index' takes (0 when there is none).
uint64_t xinf_gguf_writer_tensor_size (xinf_gguf_writer_t *self, size_t index);

//  Writes the header to PATH.part; no metadata or tensor may be added after.
int xinf_gguf_writer_begin (xinf_gguf_writer_t *self, const char *path);
//  Appends bytes to the current tensor; a piece may not run past its end.
//  Padding between tensors is written automatically.
int xinf_gguf_writer_write (xinf_gguf_writer_t *self, const void *data, size_t size);
//  Checks every tensor was written in full, flushes, closes and renames.
int xinf_gguf_writer_finish (xinf_gguf_writer_t *self);
//  Bytes written to the file so far.
uint64_t xinf_gguf_writer_offset (xinf_gguf_writer_t *self);

#endif
