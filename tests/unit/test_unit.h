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
