/*  xinf_mpack: MessagePack written straight into a growable buffer and read
    straight from bytes, for the envelope's hot path.

    The writer picks the same (shortest) encodings as msgpack-c's packer,
    so the bytes on the wire are the same as before; it appends to a
    buffer that starts on the caller's stack (no allocation for a message
    under 512 bytes) instead of calling a write callback per item.

    The reader hands out one item head at a time (its kind, its scalar
    value, a str/bin's bytes or a container's element count); it checks
    every length against the bytes left, so it never reads past them
    whatever it is given. Nothing is allocated, nothing copied. With a
    budget (the limits of xinf_mpscan) xinf_value_read needs no scan
    before it: the envelope reads its header in one pass.
*/
#ifndef XINF_MPACK_H_INCLUDED
#define XINF_MPACK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A growable byte buffer: 'data' points at 'inline_data' until it grows.
typedef struct {
    char *data;
    size_t size, alloc;
    char inline_data [512];
} xinf_mpbuf_t;

void xinf_mpbuf_init (xinf_mpbuf_t *self);
//  Frees what grew past the inline bytes; the buffer is then empty.
void xinf_mpbuf_release (xinf_mpbuf_t *self);
void xinf_mpbuf_append (xinf_mpbuf_t *self, const void *data, size_t size);
//  Room for 'size' more bytes after the data (grown when needed): write
//  there, then add what was written to 'size'.
unsigned char *xinf_mpbuf_room (xinf_mpbuf_t *self, size_t size);

void xinf_mp_write_nil (xinf_mpbuf_t *self);
void xinf_mp_write_bool (xinf_mpbuf_t *self, bool flag);
void xinf_mp_write_uint (xinf_mpbuf_t *self, uint64_t number);
//  As msgpack-c's pack_int64 (a non-negative number as an unsigned one).
void xinf_mp_write_int (xinf_mpbuf_t *self, int64_t number);
void xinf_mp_write_double (xinf_mpbuf_t *self, double number);
void xinf_mp_write_str (xinf_mpbuf_t *self, const char *text, size_t length);
void xinf_mp_write_bin (xinf_mpbuf_t *self, const void *data, size_t size);
void xinf_mp_write_array (xinf_mpbuf_t *self, size_t count);
void xinf_mp_write_map (xinf_mpbuf_t *self, size_t count);

typedef enum {
    XINF_MP_NIL, XINF_MP_BOOL, XINF_MP_UINT, XINF_MP_INT, XINF_MP_FLOAT,
    XINF_MP_STR, XINF_MP_BIN, XINF_MP_ARRAY, XINF_MP_MAP
} xinf_mp_kind_t;

//  One item's head. A signed number that is not negative reads as UINT
//  (as msgpack-c unpacks it); float32 reads as a double.
typedef struct {
    xinf_mp_kind_t kind;
    union {
        bool flag;
        uint64_t uint;
        int64_t sint;              //  INT: always negative
        double real;
        struct {
            const char *ptr;       //  STR and BIN: in the read bytes
            uint32_t size;
        } bytes;
        uint32_t count;            //  ARRAY: elements, MAP: entries
    } via;
} xinf_mp_item_t;

//  What a reader may still read: values (each counts one, keys too),
//  nesting of arrays/maps below where it starts, entries in one map.
typedef struct {
    size_t objects;
    size_t depth;
    size_t entries;
} xinf_mp_budget_t;

//  'budget' NULL: bytes that xinf_mpscan accepted; else xinf_value_read
//  keeps within it (and refuses what xinf_mpscan would refuse for it).
typedef struct {
    const unsigned char *data;
    size_t size, at;
    xinf_mp_budget_t *budget;
} xinf_mpread_t;

//  Reads the next item's head (a container's elements follow it). -1 when
//  the bytes end too early or hold an ext type or 0xc1.
int xinf_mp_read (xinf_mpread_t *self, xinf_mp_item_t *item);

#endif
