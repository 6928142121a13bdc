/*  xinf_coll_wire: the collective's frame codec (protocols/collective.md).  */
#include "xinf_coll_wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_MAGIC "XCOL"

static void
s_put (uint8_t *at, uint64_t value, int bytes)
{
    for (int index = 0; index < bytes; index++)
        at [index] = (uint8_t) (value >> (8 * index));
}

static uint64_t
s_get (const uint8_t *at, int bytes)
{
    uint64_t value = 0;
    for (int index = bytes - 1; index >= 0; index--)
        value = (value << 8) | at [index];
    return value;
}

void
xinf_coll_header_encode (uint8_t *out, const xinf_coll_header_t *header)
{
    memcpy (out, S_MAGIC, 4);
    out [4] = XINF_COLL_WIRE_VERSION;
    out [5] = (uint8_t) header->kind;
    out [6] = out [7] = 0;
    s_put (out + 8, header->sender, 4);
    s_put (out + 12, header->target, 4);
    s_put (out + 16, header->group, 8);
    s_put (out + 24, header->seq, 8);
    s_put (out + 32, header->length, 8);
}

static bool
s_refuse (char *reason, size_t reason_size, const char *text, unsigned long long value)
{
    if (reason && reason_size)
        snprintf (reason, reason_size, text, value);
    return false;
}

bool
xinf_coll_header_decode (const uint8_t *bytes, size_t size, size_t payload_size,
                         xinf_coll_header_t *header, char *reason, size_t reason_size)
{
    if (size != XINF_COLL_WIRE_HEADER_SIZE)
        return s_refuse (reason, reason_size, "header of %llu bytes; expected 40", size);
    if (memcmp (bytes, S_MAGIC, 4))
        return s_refuse (reason, reason_size, "bad magic 0x%08llx",
                         (unsigned long long) bytes [0] << 24 | bytes [1] << 16 | bytes [2] << 8 | bytes [3]);
    if (bytes [4] != XINF_COLL_WIRE_VERSION)
        return s_refuse (reason, reason_size, "version %llu; this rank speaks 1", bytes [4]);
    header->kind = bytes [5];
    header->sender = (uint32_t) s_get (bytes + 8, 4);
    header->target = (uint32_t) s_get (bytes + 12, 4);
    header->group = s_get (bytes + 16, 8);
    header->seq = s_get (bytes + 24, 8);
    header->length = s_get (bytes + 32, 8);
    if (header->kind < XINF_COLL_JOIN || header->kind > XINF_COLL_BCAST)
        return s_refuse (reason, reason_size, "unknown kind %llu", header->kind);
    if (header->length != payload_size) {
        if (reason && reason_size)
            snprintf (reason, reason_size, "%s with a payload of %zu bytes; its header says %" PRIu64,
                      xinf_coll_kind_name (header->kind), payload_size, header->length);
        return false;
    }
    return true;
}

const char *
xinf_coll_kind_name (unsigned kind)
{
    static const char *names [] = { "?", "JOIN", "ACK", "REJECT", "all_reduce data", "broadcast data" };
    return kind <= XINF_COLL_BCAST ? names [kind] : "?";
}

uint64_t
xinf_coll_group_hash (const char *group)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (const unsigned char *byte = (const unsigned char *) group; *byte; byte++)
        hash = (hash ^ *byte) * 0x100000001b3ull;
    return hash;
}

size_t
xinf_coll_control_encode (uint8_t *out, uint32_t size, const char *group)
{
    size_t length = strnlen (group, XINF_COLL_WIRE_GROUP_MAX);
    s_put (out, size, 4);
    memcpy (out + 4, group, length);
    return 4 + length;
}

bool
xinf_coll_control_decode (const uint8_t *bytes, size_t length, uint32_t *size, char *group)
{
    if (length < 4 || length > XINF_COLL_WIRE_CONTROL_MAX)
        return false;
    *size = (uint32_t) s_get (bytes, 4);
    memcpy (group, bytes + 4, length - 4);
    group [length - 4] = 0;
    return memchr (bytes + 4, 0, length - 4) == NULL;
}
