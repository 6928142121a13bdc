/*  xinf_value: a MessagePack value tree (nil, bool, int, float, str, bin,
    array, map with string keys) that message bodies are built from and
    decoded into. Maps keep insertion order; keys are unique.

    Ownership: a container owns what is put into it; xinf_value_destroy
    frees a whole tree. Setters take ownership of the value they are given.
    A map keeps its small values in its own memory (no allocation each);
    xinf_map_take then hands out a copy.
*/
#ifndef XINF_VALUE_H_INCLUDED
#define XINF_VALUE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <msgpack.h>
#include "xinf_mpack.h"

typedef enum {
    XINF_NIL = 0,
    XINF_BOOL,
    XINF_UINT,     //  non-negative integer (uint64)
    XINF_INT,      //  negative integer (int64 < 0)
    XINF_FLOAT,
    XINF_STR,
    XINF_BIN,
    XINF_ARRAY,
    XINF_MAP
} xinf_type_t;

typedef struct _xinf_value_t xinf_value_t;

xinf_value_t *xinf_value_new_nil (void);
xinf_value_t *xinf_value_new_bool (bool flag);
xinf_value_t *xinf_value_new_uint (uint64_t number);
xinf_value_t *xinf_value_new_int (int64_t number);     //  >= 0 becomes UINT
xinf_value_t *xinf_value_new_float (double number);
xinf_value_t *xinf_value_new_str (const char *text);
xinf_value_t *xinf_value_new_strn (const char *text, size_t length);
xinf_value_t *xinf_value_new_bin (const void *data, size_t size);
xinf_value_t *xinf_value_new_array (void);
xinf_value_t *xinf_value_new_map (void);
//  An empty map laid out in 'memory' (8-byte aligned, 'size' bytes), which
//  the caller owns and which outlives the map: its first entries, keys and
//  small values live there as far as they fit, the rest is allocated.
//  Destroying it frees what was allocated, never 'memory'. NULL when
//  'size' is too small (under 128 bytes).
xinf_value_t *xinf_value_new_map_in (void *memory, size_t size);
void xinf_value_destroy (xinf_value_t **self_p);
xinf_value_t *xinf_value_dup (const xinf_value_t *self);

xinf_type_t xinf_value_type (const xinf_value_t *self);
const char *xinf_value_type_name (const xinf_value_t *self);   //  "uint64", "str", ...
bool xinf_value_bool (const xinf_value_t *self);
uint64_t xinf_value_uint (const xinf_value_t *self);
int64_t xinf_value_int (const xinf_value_t *self);
double xinf_value_float (const xinf_value_t *self);
//  STR and BIN: the bytes and their length (STR is also NUL-terminated).
const char *xinf_value_str (const xinf_value_t *self);
const void *xinf_value_bytes (const xinf_value_t *self, size_t *size);
//  ARRAY and MAP: element count; 0 for scalars.
size_t xinf_value_count (const xinf_value_t *self);

//  Arrays.
void xinf_array_push (xinf_value_t *self, xinf_value_t *item);
xinf_value_t *xinf_array_at (const xinf_value_t *self, size_t index);

//  Maps (string keys). put replaces an existing key.
void xinf_map_put (xinf_value_t *self, const char *key, xinf_value_t *value);
void xinf_map_put_str (xinf_value_t *self, const char *key, const char *text);
void xinf_map_put_uint (xinf_value_t *self, const char *key, uint64_t number);
void xinf_map_put_int (xinf_value_t *self, const char *key, int64_t number);
void xinf_map_put_float (xinf_value_t *self, const char *key, double number);
void xinf_map_put_bool (xinf_value_t *self, const char *key, bool flag);
void xinf_map_put_bin (xinf_value_t *self, const char *key, const void *data, size_t size);
//  Puts a deep copy of 'value' (which stays the caller's).
void xinf_map_put_copy (xinf_value_t *self, const char *key, const xinf_value_t *value);
xinf_value_t *xinf_map_get (const xinf_value_t *self, const char *key);
const char *xinf_map_key_at (const xinf_value_t *self, size_t index);
xinf_value_t *xinf_map_value_at (const xinf_value_t *self, size_t index);
//  Detaches and returns the value under key (caller owns it), or NULL. A
//  value that lived in the map's own memory comes out as a copy.
xinf_value_t *xinf_map_take (xinf_value_t *self, const char *key);

//  MessagePack encoding with msgpack-c.
int xinf_value_pack (const xinf_value_t *self, msgpack_packer *packer);
//  Converts an unpacked msgpack object; map keys must be strings and ext
//  types are refused. NULL with a reason in 'error' when not acceptable.
xinf_value_t *xinf_value_from_object (const msgpack_object *object, char *error, size_t error_size);

//  The same bytes as xinf_value_pack, written straight into a buffer.
void xinf_value_write (const xinf_value_t *self, xinf_mpbuf_t *buffer);
//  Reads one value from bytes that xinf_mpscan accepted, with the checks of
//  xinf_value_from_object (map keys: str, no NUL, under 256 bytes, none
//  twice); NULL with the reason in 'error' when not acceptable. 'head' is
//  the value's head when the caller read it already, else NULL.
xinf_value_t *xinf_value_read (xinf_mpread_t *reader, const xinf_mp_item_t *head, char *error, size_t error_size);
//  As xinf_value_read; a map is laid out in 'memory' as by
//  xinf_value_new_map_in when its entries fit there (a message's body).
xinf_value_t *xinf_value_read_in (xinf_mpread_t *reader, const xinf_mp_item_t *head, void *memory, size_t memory_size,
                                  char *error, size_t error_size);

//  Writes the value as JSON (for tools); bins as base64-free hex strings.
void xinf_value_print_json (const xinf_value_t *self, FILE *stream);

#endif
