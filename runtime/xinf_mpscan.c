/*  xinf_mpscan: bounded structural walk over MessagePack bytes.  */
#include "xinf_mpscan.h"

#include <stdint.h>
#include <stdio.h>

#define MPSCAN_STACK 64

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t at;
    char *error;
    size_t error_size;
} s_reader_t;

static int
s_fail (s_reader_t *self, const char *what)
{
    snprintf (self->error, self->error_size, "msgpack: %s at byte %zu", what, self->at);
    return -1;
}

//  Reads a big-endian unsigned of 'width' bytes; -1 if truncated.
static int
s_read_be (s_reader_t *self, size_t width, uint64_t *value)
{
    if (self->size - self->at < width)
        return s_fail (self, "truncated length field");
    uint64_t number = 0;
    for (size_t index = 0; index < width; index++)
        number = (number << 8) | self->data [self->at + index];
    self->at += width;
    *value = number;
    return 0;
}

static int
s_skip (s_reader_t *self, uint64_t length, const char *what)
{
    if (length > self->size - self->at)
        return s_fail (self, what);
    self->at += (size_t) length;
    return 0;
}

//  Reads one header byte and its length fields. On return:
//  *children = elements to walk for arrays/maps (entries x 2 for maps),
//  payload bytes already skipped for scalars.
static int
s_read_head (s_reader_t *self, const xinf_mpscan_limits_t *limits, uint64_t *children)
{
    *children = 0;
    if (self->at >= self->size)
        return s_fail (self, "truncated: expected a value");
    unsigned char byte = self->data [self->at++];
    uint64_t count = 0;
    int is_map = 0;
    if (byte <= 0x7f || byte >= 0xe0 || byte == 0xc0 || byte == 0xc2 || byte == 0xc3)
        return 0;
    if (byte >= 0xa0 && byte <= 0xbf)
        return s_skip (self, byte & 0x1f, "str longer than the frame");
    if (byte >= 0x90 && byte <= 0x9f)
        count = byte & 0x0f;
    else
    if (byte >= 0x80 && byte <= 0x8f) {
        count = byte & 0x0f;
        is_map = 1;
    }
    else
    switch (byte) {
        case 0xcc: case 0xd0: return s_skip (self, 1, "truncated number");
        case 0xcd: case 0xd1: return s_skip (self, 2, "truncated number");
        case 0xce: case 0xd2: case 0xca: return s_skip (self, 4, "truncated number");
        case 0xcf: case 0xd3: case 0xcb: return s_skip (self, 8, "truncated number");
        case 0xd9: case 0xc4:
        case 0xda: case 0xc5:
        case 0xdb: case 0xc6: {
            size_t width = (byte == 0xd9 || byte == 0xc4) ? 1 : (byte == 0xda || byte == 0xc5) ? 2 : 4;
            uint64_t length;
            if (s_read_be (self, width, &length))
                return -1;
            return s_skip (self, length, byte >= 0xd9 ? "str longer than the frame" : "bin longer than the frame");
        }
        case 0xdc: if (s_read_be (self, 2, &count)) return -1; break;
        case 0xdd: if (s_read_be (self, 4, &count)) return -1; break;
        case 0xde: if (s_read_be (self, 2, &count)) return -1; is_map = 1; break;
        case 0xdf: if (s_read_be (self, 4, &count)) return -1; is_map = 1; break;
        case 0xc1:
            self->at--;
            return s_fail (self, "reserved byte 0xc1");
        default:
            self->at--;
            return s_fail (self, "ext types are not accepted");
    }
    if (is_map && count > limits->max_map_entries)
        return s_fail (self, "map has more entries than allowed");
    //  Every element takes at least one byte: a count above the bytes left is a lie
    uint64_t elements = is_map ? count * 2 : count;
    if (elements > self->size - self->at)
        return s_fail (self, "declared count larger than the bytes left");
    *children = elements;
    return 0;
}

int
xinf_mpscan (const unsigned char *data, size_t size, const xinf_mpscan_limits_t *limits,
             char *error, size_t error_size)
{
    s_reader_t reader = { data, size, 0, error, error_size };
    uint64_t pending [MPSCAN_STACK];    //  elements still to read per open container
    size_t depth = 0;
    size_t max_depth = limits->max_depth < MPSCAN_STACK ? limits->max_depth : MPSCAN_STACK - 1;
    size_t objects = 0;
    pending [0] = 1;                     //  the root object
    while (1) {
        while (depth > 0 && pending [depth] == 0)
            depth--;
        if (pending [depth] == 0)
            break;
        pending [depth]--;
        if (++objects > limits->max_objects)
            return s_fail (&reader, "more objects than allowed");
        uint64_t children;
        if (s_read_head (&reader, limits, &children))
            return -1;
        if (children > 0) {
            if (depth + 1 > max_depth)
                return s_fail (&reader, "nested deeper than allowed");
            pending [++depth] = children;
        }
    }
    if (reader.at != size)
        return s_fail (&reader, "trailing bytes after the object");
    return 0;
}
