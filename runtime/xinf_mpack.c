/*  xinf_mpack: direct MessagePack writing and reading.  */
#include "xinf_mpack.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
xinf_mpbuf_init (xinf_mpbuf_t *self)
{
    self->data = self->inline_data;
    self->size = 0;
    self->alloc = sizeof self->inline_data;
}

void
xinf_mpbuf_release (xinf_mpbuf_t *self)
{
    if (self->data != self->inline_data)
        free (self->data);
    xinf_mpbuf_init (self);
}

//  Grows the buffer to take 'size' more bytes.
static void __attribute__ ((noinline))
s_grow (xinf_mpbuf_t *self, size_t size)
{
    size_t alloc = self->alloc * 2 > self->size + size ? self->alloc * 2 : self->size + size;
    char *grown = self->data == self->inline_data ? malloc (alloc) : realloc (self->data, alloc);
    assert (grown);
    if (self->data == self->inline_data)
        memcpy (grown, self->inline_data, self->size);
    self->data = grown;
    self->alloc = alloc;
}

//  Room for 'size' more bytes; returns where they go. Inlined in every
//  writer: the buffer rarely grows.
static inline unsigned char *
s_reserve (xinf_mpbuf_t *self, size_t size)
{
    if (self->alloc - self->size < size)
        s_grow (self, size);
    unsigned char *at = (unsigned char *) self->data + self->size;
    self->size += size;
    return at;
}

unsigned char *
xinf_mpbuf_room (xinf_mpbuf_t *self, size_t size)
{
    if (self->alloc - self->size < size)
        s_grow (self, size);
    return (unsigned char *) self->data + self->size;
}

void
xinf_mpbuf_append (xinf_mpbuf_t *self, const void *data, size_t size)
{
    if (size)
        memcpy (s_reserve (self, size), data, size);
}

//  A marker byte and 'width' bytes of 'number', big endian.
static inline void
s_put (xinf_mpbuf_t *self, unsigned char marker, uint64_t number, size_t width)
{
    unsigned char *at = s_reserve (self, 1 + width);
    at [0] = marker;
    for (size_t index = width; index > 0; index--, number >>= 8)
        at [index] = (unsigned char) number;
}

void xinf_mp_write_nil (xinf_mpbuf_t *self) { *s_reserve (self, 1) = 0xc0; }
void xinf_mp_write_bool (xinf_mpbuf_t *self, bool flag) { *s_reserve (self, 1) = flag ? 0xc3 : 0xc2; }

void
xinf_mp_write_uint (xinf_mpbuf_t *self, uint64_t number)
{
    if (number < 128)
        *s_reserve (self, 1) = (unsigned char) number;
    else
    if (number < 256)
        s_put (self, 0xcc, number, 1);
    else
    if (number < 65536)
        s_put (self, 0xcd, number, 2);
    else
    if (number < (1ULL << 32))
        s_put (self, 0xce, number, 4);
    else
        s_put (self, 0xcf, number, 8);
}

void
xinf_mp_write_int (xinf_mpbuf_t *self, int64_t number)
{
    if (number >= 0)
        xinf_mp_write_uint (self, (uint64_t) number);
    else
    if (number >= -32)
        *s_reserve (self, 1) = (unsigned char) (int8_t) number;
    else
    if (number >= -128)
        s_put (self, 0xd0, (uint64_t) number, 1);
    else
    if (number >= -32768)
        s_put (self, 0xd1, (uint64_t) number, 2);
    else
    if (number >= INT32_MIN)
        s_put (self, 0xd2, (uint64_t) number, 4);
    else
        s_put (self, 0xd3, (uint64_t) number, 8);
}

void
xinf_mp_write_double (xinf_mpbuf_t *self, double number)
{
    uint64_t bits;
    memcpy (&bits, &number, sizeof bits);
    s_put (self, 0xcb, bits, 8);
}

//  A length or count: the fix form under 'fix_limit' (0: none), else the
//  8-bit form (marker8 0: none), the 16-bit or the 32-bit one.
static inline void
s_put_length (xinf_mpbuf_t *self, size_t length, unsigned char fix, size_t fix_limit,
              unsigned char marker8, unsigned char marker16)
{
    if (length < fix_limit)
        *s_reserve (self, 1) = (unsigned char) (fix | length);
    else
    if (marker8 && length < 256)
        s_put (self, marker8, length, 1);
    else
    if (length < 65536)
        s_put (self, marker16, length, 2);
    else
        s_put (self, marker16 + 1, length, 4);
}

void
xinf_mp_write_str (xinf_mpbuf_t *self, const char *text, size_t length)
{
    if (length < 32) {              //  fixstr, the usual key or name: one reserve
        unsigned char *at = s_reserve (self, 1 + length);
        at [0] = (unsigned char) (0xa0 | length);
        if (length)
            memcpy (at + 1, text, length);
        return;
    }
    s_put_length (self, length, 0xa0, 32, 0xd9, 0xda);
    xinf_mpbuf_append (self, text, length);
}

void
xinf_mp_write_bin (xinf_mpbuf_t *self, const void *data, size_t size)
{
    s_put_length (self, size, 0, 0, 0xc4, 0xc5);
    xinf_mpbuf_append (self, data, size);
}

void xinf_mp_write_array (xinf_mpbuf_t *self, size_t count) { s_put_length (self, count, 0x90, 16, 0, 0xdc); }
void xinf_mp_write_map (xinf_mpbuf_t *self, size_t count) { s_put_length (self, count, 0x80, 16, 0, 0xde); }

// ---- reading -----------------------------------------------------------------

//  Reads 'width' bytes big endian; false if the bytes end first.
static inline bool
s_take (xinf_mpread_t *self, size_t width, uint64_t *number)
{
    if (self->size - self->at < width)
        return false;
    uint64_t value = 0;
    for (size_t index = 0; index < width; index++)
        value = (value << 8) | self->data [self->at + index];
    self->at += width;
    *number = value;
    return true;
}

//  A signed number of 'width' bytes; not negative reads as UINT.
static inline bool
s_take_signed (xinf_mpread_t *self, size_t width, xinf_mp_item_t *item)
{
    uint64_t bits;
    if (!s_take (self, width, &bits))
        return false;
    unsigned shift = (unsigned) (64 - 8 * width);
    int64_t number = (int64_t) (bits << shift) >> shift;
    item->kind = number < 0 ? XINF_MP_INT : XINF_MP_UINT;
    if (number < 0)
        item->via.sint = number;
    else
        item->via.uint = (uint64_t) number;
    return true;
}

//  A str or bin of the length in the next 'width' bytes (0: 'length').
static inline bool
s_take_bytes (xinf_mpread_t *self, xinf_mp_kind_t kind, size_t width, uint64_t length, xinf_mp_item_t *item)
{
    if (width && !s_take (self, width, &length))
        return false;
    if (length > self->size - self->at)
        return false;
    item->kind = kind;
    item->via.bytes.ptr = (const char *) self->data + self->at;
    item->via.bytes.size = (uint32_t) length;
    self->at += (size_t) length;
    return true;
}

static inline bool
s_take_count (xinf_mpread_t *self, xinf_mp_kind_t kind, size_t width, xinf_mp_item_t *item)
{
    uint64_t count;
    if (!s_take (self, width, &count))
        return false;
    item->kind = kind;
    item->via.count = (uint32_t) count;
    return true;
}

static inline bool
s_take_float (xinf_mpread_t *self, size_t width, xinf_mp_item_t *item)
{
    uint64_t bits;
    if (!s_take (self, width, &bits))
        return false;
    item->kind = XINF_MP_FLOAT;
    if (width == 4) {
        uint32_t half = (uint32_t) bits;
        float number;
        memcpy (&number, &half, sizeof number);
        item->via.real = number;
    }
    else
        memcpy (&item->via.real, &bits, sizeof bits);
    return true;
}

int
xinf_mp_read (xinf_mpread_t *self, xinf_mp_item_t *item)
{
    if (self->at >= self->size)
        return -1;
    unsigned char byte = self->data [self->at++];
    bool good = true;
    uint64_t number = 0;
    if (byte <= 0x7f) {
        item->kind = XINF_MP_UINT;
        item->via.uint = byte;
    }
    else
    if (byte >= 0xe0) {
        item->kind = XINF_MP_INT;
        item->via.sint = (int8_t) byte;
    }
    else
    if (byte <= 0x8f) {
        item->kind = XINF_MP_MAP;
        item->via.count = byte & 0x0f;
    }
    else
    if (byte <= 0x9f) {
        item->kind = XINF_MP_ARRAY;
        item->via.count = byte & 0x0f;
    }
    else
    if (byte <= 0xbf)
        good = s_take_bytes (self, XINF_MP_STR, 0, byte & 0x1f, item);
    else
    switch (byte) {
        case 0xc0: item->kind = XINF_MP_NIL; break;
        case 0xc2: case 0xc3: item->kind = XINF_MP_BOOL; item->via.flag = byte == 0xc3; break;
        case 0xc4: good = s_take_bytes (self, XINF_MP_BIN, 1, 0, item); break;
        case 0xc5: good = s_take_bytes (self, XINF_MP_BIN, 2, 0, item); break;
        case 0xc6: good = s_take_bytes (self, XINF_MP_BIN, 4, 0, item); break;
        case 0xca: good = s_take_float (self, 4, item); break;
        case 0xcb: good = s_take_float (self, 8, item); break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            good = s_take (self, (size_t) 1 << (byte - 0xcc), &number);
            item->kind = XINF_MP_UINT;
            item->via.uint = number;
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            good = s_take_signed (self, (size_t) 1 << (byte - 0xd0), item);
            break;
        case 0xd9: good = s_take_bytes (self, XINF_MP_STR, 1, 0, item); break;
        case 0xda: good = s_take_bytes (self, XINF_MP_STR, 2, 0, item); break;
        case 0xdb: good = s_take_bytes (self, XINF_MP_STR, 4, 0, item); break;
        case 0xdc: good = s_take_count (self, XINF_MP_ARRAY, 2, item); break;
        case 0xdd: good = s_take_count (self, XINF_MP_ARRAY, 4, item); break;
        case 0xde: good = s_take_count (self, XINF_MP_MAP, 2, item); break;
        case 0xdf: good = s_take_count (self, XINF_MP_MAP, 4, item); break;
        default: good = false;          //  0xc1, ext types
    }
    return good ? 0 : -1;
}
