/*  test_mpscan: xinf_mpscan, the bounded walk that runs before msgpack-c.

    Valid objects of every kind and width pass. Everything that would make
    msgpack-c allocate by a lying count (dd ff ff ff ff, df ff ff ff ff,
    str32/bin32 with huge lengths), every truncation, nesting beyond the
    limit (including limits above the walker's own stack), trailing bytes,
    the reserved byte 0xc1, ext types, maps over the entry cap and inputs
    over the object cap fail with a reason, without allocating.
*/
#include "test_unit.h"

#include <malloc.h>

static const xinf_mpscan_limits_t s_limits = { 16, 262144, 1024 };

static void
s_expect_ok (const void *data, size_t size, const xinf_mpscan_limits_t *limits)
{
    char error [256] = "";
    int rc = xinf_mpscan (data, size, limits ? limits : &s_limits, error, sizeof error);
    if (rc != 0)
        fprintf (stderr, "unexpected refusal: %s\n", error);
    CHECK_INT (rc, 0);
}

static void
s_expect_fail (const void *data, size_t size, const xinf_mpscan_limits_t *limits, const char *reason)
{
    char error [256] = "";
    CHECK_INT (xinf_mpscan (data, size, limits ? limits : &s_limits, error, sizeof error), -1);
    CHECK (strncmp (error, "msgpack: ", 9) == 0);
    CHECK_HAS (error, reason);
}

#define EXPECT_OK(bytes) s_expect_ok (bytes, sizeof (bytes) - 1, NULL)
#define EXPECT_FAIL(bytes, reason) s_expect_fail (bytes, sizeof (bytes) - 1, NULL, reason)

typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} s_pack_t;

static void
s_pack_init (s_pack_t *self)
{
    msgpack_sbuffer_init (&self->buffer);
    msgpack_packer_init (&self->packer, &self->buffer, msgpack_sbuffer_write);
}

static void
s_pack_str (msgpack_packer *packer, size_t size, char fill)
{
    char *text = malloc (size + 1);
    memset (text, fill, size);
    msgpack_pack_str (packer, size);
    msgpack_pack_str_body (packer, text, size);
    free (text);
}

static void
test_valid (void)
{
    EXPECT_OK ("\xc0");
    EXPECT_OK ("\xc2");
    EXPECT_OK ("\xc3");
    EXPECT_OK ("\x7f");
    EXPECT_OK ("\xe0");                             //  negative fixint
    EXPECT_OK ("\xcc\xff");
    EXPECT_OK ("\xcd\xff\xff");
    EXPECT_OK ("\xce\xff\xff\xff\xff");
    EXPECT_OK ("\xcf\xff\xff\xff\xff\xff\xff\xff\xff");
    EXPECT_OK ("\xd3\x80\x00\x00\x00\x00\x00\x00\x00");
    EXPECT_OK ("\xca\x3f\xc0\x00\x00");             //  float32 1.5
    EXPECT_OK ("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00");
    EXPECT_OK ("\xa0");
    EXPECT_OK ("\xa3" "abc");
    EXPECT_OK ("\xd9\x03" "abc");
    EXPECT_OK ("\xda\x00\x03" "abc");
    EXPECT_OK ("\xdb\x00\x00\x00\x03" "abc");
    EXPECT_OK ("\xc4\x02\x00\x01");
    EXPECT_OK ("\xc5\x00\x01\xff");
    EXPECT_OK ("\xc6\x00\x00\x00\x00");
    EXPECT_OK ("\x90");
    EXPECT_OK ("\x80");
    EXPECT_OK ("\xdc\x00\x02\xc0\xc0");
    EXPECT_OK ("\xdd\x00\x00\x00\x02\xc0\xc0");
    EXPECT_OK ("\xde\x00\x01\xa1k\xc0");
    EXPECT_OK ("\xdf\x00\x00\x00\x01\xa1k\x91\x80");

    //  Big ones packed by msgpack-c: str32, bin32, array32 of 70000 nils
    s_pack_t pack;
    s_pack_init (&pack);
    msgpack_pack_map (&pack.packer, 3);
    s_pack_str (&pack.packer, 1, 's');
    s_pack_str (&pack.packer, 70000, 'x');
    s_pack_str (&pack.packer, 1, 'b');
    msgpack_pack_bin (&pack.packer, 70000);
    char *blob = calloc (1, 70000);
    msgpack_pack_bin_body (&pack.packer, blob, 70000);
    free (blob);
    s_pack_str (&pack.packer, 1, 'a');
    msgpack_pack_array (&pack.packer, 70000);
    for (int index = 0; index < 70000; index++)
        msgpack_pack_nil (&pack.packer);
    CHECK ((unsigned char) pack.buffer.data [0] == 0x83);
    s_expect_ok (pack.buffer.data, pack.buffer.size, NULL);
    msgpack_sbuffer_destroy (&pack.buffer);
}

static void
test_lying_counts (void)
{
    //  The msgpack-c pitfall: containers claiming ~4G elements
    EXPECT_FAIL ("\xdd\xff\xff\xff\xff", "declared count larger than the bytes left");
    EXPECT_FAIL ("\xdd\x00\x00\x00\x05\xc0\xc0\xc0\xc0", "declared count larger than the bytes left");
    EXPECT_FAIL ("\xdc\xff\xff", "declared count larger than the bytes left");
    EXPECT_FAIL ("\x9f\xc0", "declared count larger than the bytes left");
    EXPECT_FAIL ("\xdf\xff\xff\xff\xff", "map has more entries than allowed");
    EXPECT_FAIL ("\xde\x00\x02\xa1k\xc0", "declared count larger than the bytes left");
    //  Without an entry cap the byte check still catches the map
    xinf_mpscan_limits_t uncapped = { 16, 262144, SIZE_MAX };
    s_expect_fail ("\xdf\xff\xff\xff\xff", 5, &uncapped, "declared count larger than the bytes left");
    //  Lying strings and bins
    EXPECT_FAIL ("\xdb\xff\xff\xff\xff", "str longer than the frame");
    EXPECT_FAIL ("\xda\xff\xff" "ab", "str longer than the frame");
    EXPECT_FAIL ("\xd9\x05" "ab", "str longer than the frame");
    EXPECT_FAIL ("\xa5" "ab", "str longer than the frame");
    EXPECT_FAIL ("\xc6\xff\xff\xff\xff", "bin longer than the frame");
    EXPECT_FAIL ("\xc5\x00\x03\x00", "bin longer than the frame");
    EXPECT_FAIL ("\xc4\x01", "bin longer than the frame");
    //  Inside a container
    EXPECT_FAIL ("\x92\xc0\xdd\xff\xff\xff\xff", "declared count larger than the bytes left");
    EXPECT_FAIL ("\x81\xa1k\xdb\x7f\xff\xff\xff", "str longer than the frame");
}

//  Every proper prefix of a valid object fails.
static void
test_truncations (void)
{
    s_pack_t pack;
    s_pack_init (&pack);
    msgpack_pack_map (&pack.packer, 6);
    s_pack_str (&pack.packer, 1, 'a');
    msgpack_pack_array (&pack.packer, 3);
    msgpack_pack_uint64 (&pack.packer, UINT64_MAX);
    msgpack_pack_int64 (&pack.packer, INT64_MIN);
    msgpack_pack_double (&pack.packer, 2.5);
    s_pack_str (&pack.packer, 1, 'b');
    msgpack_pack_bin (&pack.packer, 300);
    char blob [300] = { 0 };
    msgpack_pack_bin_body (&pack.packer, blob, sizeof blob);
    s_pack_str (&pack.packer, 1, 'c');
    s_pack_str (&pack.packer, 40, 'z');
    s_pack_str (&pack.packer, 1, 'd');
    msgpack_pack_float (&pack.packer, 1.0f);
    s_pack_str (&pack.packer, 1, 'e');
    msgpack_pack_array (&pack.packer, 20);
    for (int index = 0; index < 20; index++)
        msgpack_pack_uint16 (&pack.packer, 300);
    s_pack_str (&pack.packer, 1, 'f');
    msgpack_pack_map (&pack.packer, 17);
    for (int index = 0; index < 17; index++) {
        s_pack_str (&pack.packer, 2, (char) ('a' + index));
        msgpack_pack_int32 (&pack.packer, -100000);
    }
    s_expect_ok (pack.buffer.data, pack.buffer.size, NULL);
    for (size_t size = 0; size < pack.buffer.size; size++) {
        char error [256] = "";
        CHECK_INT (xinf_mpscan ((const unsigned char *) pack.buffer.data, size, &s_limits, error, sizeof error), -1);
        CHECK (strncmp (error, "msgpack: ", 9) == 0);
    }
    msgpack_sbuffer_destroy (&pack.buffer);

    s_expect_fail (NULL, 0, NULL, "truncated: expected a value");
    EXPECT_FAIL ("\xdd\x00", "truncated length field");
    EXPECT_FAIL ("\xdf\x00\x00\x00", "truncated length field");
    EXPECT_FAIL ("\xdb", "truncated length field");
    EXPECT_FAIL ("\xcd\x01", "truncated number");
    EXPECT_FAIL ("\xcf\x01\x02\x03\x04\x05\x06\x07", "truncated number");
    EXPECT_FAIL ("\xcb\x00", "truncated number");
    EXPECT_FAIL ("\x92\xc0", "declared count larger than the bytes left");
    EXPECT_FAIL ("\x82\xa1k\xc0\xa1", "str longer than the frame");
    EXPECT_FAIL ("\x82\xa1k\xc0\xa1k", "truncated: expected a value at byte 6");
}

//  'depth' nested fixarrays around a nil.
static void
s_nested (size_t depth, const xinf_mpscan_limits_t *limits, bool ok)
{
    unsigned char data [256];
    CHECK (depth < sizeof data);
    memset (data, 0x91, depth);
    data [depth] = 0xc0;
    if (ok)
        s_expect_ok (data, depth + 1, limits);
    else
        s_expect_fail (data, depth + 1, limits, "nested deeper than allowed");
}

static void
test_depth (void)
{
    s_nested (16, NULL, true);
    s_nested (17, NULL, false);
    s_nested (200, NULL, false);
    //  Maps count as nesting too: 16 maps deep pass, 17 fail
    unsigned char maps [64];
    size_t at = 0;
    for (int level = 0; level < 17; level++) {
        maps [at++] = 0x81;
        maps [at++] = 0xa1;
        maps [at++] = 'k';
    }
    maps [at++] = 0xc0;
    s_expect_fail (maps, at, NULL, "nested deeper than allowed");
    s_expect_ok (maps + 3, at - 3, NULL);
    //  A limit beyond the walker's own stack is clamped, never overflows it
    xinf_mpscan_limits_t deep = { 1000, 262144, 1024 };
    s_nested (63, &deep, true);
    s_nested (64, &deep, false);
    s_nested (250, &deep, false);
    xinf_mpscan_limits_t flat = { 0, 262144, 1024 };
    s_nested (0, &flat, true);
    s_nested (1, &flat, false);
    s_expect_ok ("\x90", 1, &flat);            //  an empty container opens nothing
}

static void
test_refused_bytes (void)
{
    EXPECT_FAIL ("\xc0\xc0", "trailing bytes after the object");
    EXPECT_FAIL ("\x91\xc0\x00", "trailing bytes after the object");
    EXPECT_FAIL ("\xc1", "reserved byte 0xc1");
    EXPECT_FAIL ("\x92\xc0\xc1", "reserved byte 0xc1 at byte 2");
    EXPECT_FAIL ("\xd4\x01\x00", "ext types are not accepted");
    EXPECT_FAIL ("\xd5\x01\x00\x00", "ext types are not accepted");
    EXPECT_FAIL ("\xd8\x01" "0123456789abcdef", "ext types are not accepted");
    EXPECT_FAIL ("\xc7\x01\x05\x00", "ext types are not accepted");
    EXPECT_FAIL ("\xc8\x00\x01\x05\x00", "ext types are not accepted");
    EXPECT_FAIL ("\xc9\x00\x00\x00\x01\x05\x00", "ext types are not accepted");
    EXPECT_FAIL ("\x81\xa1k\xd6\xff\x00\x00\x00\x00", "ext types are not accepted");
}

//  A map16 of 'entries' nil -> nil entries (nil keys are fine for the walk).
static void
s_map_of (size_t entries, const xinf_mpscan_limits_t *limits, bool ok)
{
    size_t size = 3 + 2 * entries;
    unsigned char *data = malloc (size);
    data [0] = 0xde;
    data [1] = (unsigned char) (entries >> 8);
    data [2] = (unsigned char) entries;
    memset (data + 3, 0xc0, 2 * entries);
    if (ok)
        s_expect_ok (data, size, limits);
    else
        s_expect_fail (data, size, limits, "map has more entries than allowed");
    free (data);
}

static void
test_caps (void)
{
    s_map_of (1024, NULL, true);
    s_map_of (1025, NULL, false);
    xinf_mpscan_limits_t small = { 16, 262144, 2 };
    s_map_of (2, &small, true);
    s_map_of (3, &small, false);
    s_expect_fail ("\x92\x83\xc0\xc0\xc0\xc0\xc0\xc0\xc0", 9, &small, "map has more entries than allowed");

    //  Objects: the array counts one, each element one
    xinf_mpscan_limits_t few = { 16, 10, 1024 };
    unsigned char data [16];
    data [0] = 0x99;                           //  array of 9: 10 objects
    memset (data + 1, 0xc0, 9);
    s_expect_ok (data, 10, &few);
    data [0] = 0x9a;                           //  array of 10: 11 objects
    memset (data + 1, 0xc0, 10);
    s_expect_fail (data, 11, &few, "more objects than allowed");
    //  Map entries count two objects each
    unsigned char map [] = { 0x85, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0 };
    s_expect_fail (map, sizeof map, &few, "more objects than allowed");
    map [0] = 0x84;
    s_expect_ok (map, 9, &few);

    //  A cap of 262144 against 300000 one-byte objects
    size_t count = 300000;
    unsigned char *many = malloc (count + 5);
    many [0] = 0xdd;
    many [1] = (unsigned char) (count >> 24);
    many [2] = (unsigned char) (count >> 16);
    many [3] = (unsigned char) (count >> 8);
    many [4] = (unsigned char) count;
    memset (many + 5, 0x01, count);
    s_expect_fail (many, count + 5, NULL, "more objects than allowed");
    free (many);
}

//  A short error buffer gets a cut reason, never an overflow.
static void
test_error_buffer (void)
{
    char error [8];
    memset (error, 'x', sizeof error);
    CHECK_INT (xinf_mpscan ((const unsigned char *) "\xc1", 1, &s_limits, error, sizeof error), -1);
    CHECK_INT (strlen (error), sizeof error - 1);
    CHECK_STR (error, "msgpack");
}

//  The walk allocates nothing, however big the declared sizes.
static void
test_no_allocation (void)
{
    static const char *lies [] = {
        "\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff", "\xdb\xff\xff\xff\xff",
        "\xc6\xff\xff\xff\xff", "\xdc\xff\xff", "\xde\xff\xff"
    };
    struct mallinfo2 before = mallinfo2 ();
    for (int round = 0; round < 10000; round++) {
        const char *lie = lies [round % 6];
        char error [128];
        size_t size = ((unsigned char) lie [0] == 0xdc || (unsigned char) lie [0] == 0xde) ? 3 : 5;
        CHECK_INT (xinf_mpscan ((const unsigned char *) lie, size, &s_limits, error, sizeof error), -1);
    }
    struct mallinfo2 after = mallinfo2 ();
    CHECK (after.uordblks == before.uordblks);
    CHECK (after.hblkhd == before.hblkhd);
}

int
main (void)
{
    fprintf (stderr, "test_mpscan\n");
    RUN (test_valid);
    RUN (test_lying_counts);
    RUN (test_truncations);
    RUN (test_depth);
    RUN (test_refused_bytes);
    RUN (test_caps);
    RUN (test_error_buffer);
    RUN (test_no_allocation);
    return 0;
}
