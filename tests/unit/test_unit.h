/*  test_unit.h: the tiny assertion kit shared by the libxinf unit tests.

    Every CHECK works in all build types (it does not use assert ()): a
    failure prints file:line, the expression and the values, and exits 1.
*/
#ifndef TEST_UNIT_H_INCLUDED
#define TEST_UNIT_H_INCLUDED

#include "xinf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr) do { \
    if (!(expr)) { \
        fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
        exit (1); \
    } \
} while (0)

#define CHECK_INT(actual, expected) do { \
    long long actual_ = (long long) (actual), expected_ = (long long) (expected); \
    if (actual_ != expected_) { \
        fprintf (stderr, "%s:%d: CHECK_INT failed: %s == %s\n  got:      %lld\n  expected: %lld\n", \
                 __FILE__, __LINE__, #actual, #expected, actual_, expected_); \
        exit (1); \
    } \
} while (0)

#define CHECK_STR(actual, expected) do { \
    const char *actual_ = (actual), *expected_ = (expected); \
    if (!actual_ || !expected_ || strcmp (actual_, expected_) != 0) { \
        fprintf (stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      \"%s\"\n  expected: \"%s\"\n", \
                 __FILE__, __LINE__, #actual, #expected, \
                 actual_ ? actual_ : "(null)", expected_ ? expected_ : "(null)"); \
        exit (1); \
    } \
} while (0)

//  'haystack' contains 'needle'
#define CHECK_HAS(haystack, needle) do { \
    const char *haystack_ = (haystack), *needle_ = (needle); \
    if (!haystack_ || !strstr (haystack_, needle_)) { \
        fprintf (stderr, "%s:%d: CHECK_HAS failed: %s contains \"%s\"\n  got: \"%s\"\n", \
                 __FILE__, __LINE__, #haystack, needle_, haystack_ ? haystack_ : "(null)"); \
        exit (1); \
    } \
} while (0)

#define RUN(test) do { \
    int64_t start_ = zclock_mono (); \
    test (); \
    fprintf (stderr, "  ok  %-40s %5lld ms\n", #test, (long long) (zclock_mono () - start_)); \
} while (0)

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

//  A hand-made envelope: one frame, the XINF signature (this version) and
//  'header' packed as it is, valid or not.
static inline zmsg_t *
test_envelope (const xinf_value_t *header)
{
    msgpack_sbuffer buffer;
    test_pack (header, &buffer);
    zframe_t *frame = zframe_new (NULL, XINF_SIGNATURE_SIZE + buffer.size);
    memcpy (zframe_data (frame), "XINF", 4);
    zframe_data (frame) [4] = XINF_VERSION;
    memcpy (zframe_data (frame) + XINF_SIGNATURE_SIZE, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    zmsg_t *zmsg = zmsg_new ();
    zmsg_append (zmsg, &frame);
    return zmsg;
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
