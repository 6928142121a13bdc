/*  test_unit.h: what the libxinf tests add to the assertion kit
    (tests/test_assert.h): CHECK_SOON, which polls with a deadline, and
    helpers for values and envelopes.
*/
#ifndef TEST_UNIT_H_INCLUDED
#define TEST_UNIT_H_INCLUDED

#include "../test_assert.h"
#include "xinf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Polls 'cond' every millisecond until it holds or 'timeout_ms' passed,
//  then checks it: waiting is never a fixed sleep.
#define CHECK_SOON(cond, timeout_ms) do { \
    int64_t deadline_ = zclock_mono () + (timeout_ms); \
    while (!(cond) && zclock_mono () < deadline_) \
        zclock_sleep (1); \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: CHECK_SOON failed within %d ms: %s\n", \
                 __FILE__, __LINE__, (int) (timeout_ms), #cond); \
        exit (1); \
    } \
} while (0)

//  Packs a value with msgpack-c into 'buffer' (caller destroys it).
static inline void
test_pack (const xinf_value_t *value, msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    CHECK (xinf_value_pack (value, &packer) == 0);
}

//  A hand-made envelope: one frame, the XINF signature of 'version' and
//  'header' packed as it is, valid or not.
static inline zmsg_t *
test_envelope_version (const xinf_value_t *header, int version)
{
    msgpack_sbuffer buffer;
    test_pack (header, &buffer);
    zframe_t *frame = zframe_new (NULL, XINF_SIGNATURE_SIZE + buffer.size);
    memcpy (zframe_data (frame), "XINF", 4);
    zframe_data (frame) [4] = (byte) version;
    memcpy (zframe_data (frame) + XINF_SIGNATURE_SIZE, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    zmsg_t *zmsg = zmsg_new ();
    zmsg_append (zmsg, &frame);
    return zmsg;
}

//  The same in version 2, whose header is a map: a hand-made map header
//  {type, corr, sender, deadline, body}, as a version-2 peer sends it.
static inline zmsg_t *
test_envelope (const xinf_value_t *header)
{
    return test_envelope_version (header, 2);
}

//  Two value trees are equal when they pack to the same bytes (the packer
//  is deterministic and keeps map order).
static inline bool
test_value_equal (const xinf_value_t *left, const xinf_value_t *right)
{
    msgpack_sbuffer one, two;
    test_pack (left, &one);
    test_pack (right, &two);
    bool equal = one.size == two.size && memcmp (one.data, two.data, one.size) == 0;
    msgpack_sbuffer_destroy (&one);
    msgpack_sbuffer_destroy (&two);
    return equal;
}

#endif
