/*  test_value: xinf_value, the MessagePack value tree of message bodies.

    Covers constructors and accessors of every type, nested trees packed
    with msgpack-c and converted back through msgpack_unpack_next and
    xinf_value_from_object (the round trip is exact), dup, map put (replace
    keeps the position), take, the refusals of from_object (non-str keys,
    duplicate keys, NUL in keys, long keys, ext types) and the JSON printer.
    xinf_value_write must give msgpack-c's bytes for every kind and width,
    and xinf_value_read (after xinf_mpscan) the same value or the same
    refusal as msgpack-c and from_object, for every input here.
    A map's arena (test_arena): small values put with the helpers or read
    from bytes live in the map's memory, replace and take work on them
    (take hands out a copy that outlives the map), a full arena and many
    entries fall back to allocations, put_copy copies deeply, and a map in
    caller memory (new_map_in, read_in) never frees that memory.
*/
#include "test_unit.h"

#include <math.h>

static xinf_value_t *
s_sample_tree (void)
{
    xinf_value_t *root = xinf_value_new_map ();
    xinf_map_put_str (root, "name", "llama-7b");
    xinf_map_put_uint (root, "max", UINT64_MAX);
    xinf_map_put_int (root, "min", INT64_MIN);
    xinf_map_put_int (root, "neg", -7);
    xinf_map_put_float (root, "pi", 3.25);
    xinf_map_put_bool (root, "ok", true);
    xinf_map_put_bool (root, "no", false);
    xinf_map_put (root, "none", xinf_value_new_nil ());
    const unsigned char blob [] = { 0, 1, 2, 0xff, 0x80 };
    xinf_map_put (root, "blob", xinf_value_new_bin (blob, sizeof blob));
    xinf_map_put (root, "nul", xinf_value_new_strn ("a\0b", 3));
    xinf_value_t *list = xinf_value_new_array ();
    xinf_array_push (list, xinf_value_new_uint (1));
    xinf_array_push (list, xinf_value_new_str ("two"));
    xinf_value_t *inner = xinf_value_new_array ();
    xinf_array_push (inner, xinf_value_new_float (-0.5));
    xinf_array_push (list, inner);
    xinf_value_t *leaf = xinf_value_new_map ();
    xinf_map_put_str (leaf, "k", "v");
    xinf_array_push (list, leaf);
    xinf_array_push (list, xinf_value_new_array ());
    xinf_array_push (list, xinf_value_new_map ());
    xinf_map_put (root, "list", list);
    //  Six levels deep
    xinf_value_t *deep = xinf_value_new_uint (42);
    for (int level = 0; level < 6; level++) {
        xinf_value_t *wrap = xinf_value_new_map ();
        xinf_map_put (wrap, "down", deep);
        deep = wrap;
    }
    xinf_map_put (root, "deep", deep);
    return root;
}

static const xinf_mpscan_limits_t s_limits = { 16, 1 << 22, 1 << 17 };

//  Unpacks bytes with msgpack-c and converts; NULL with 'error' on refusal.
//  xinf_value_read, after xinf_mpscan, must come to the same value or the
//  same refusal (an ext type: mpscan refuses it first).
static xinf_value_t *
s_unpack (const char *data, size_t size, char *error, size_t error_size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    CHECK_INT (msgpack_unpack_next (&unpacked, data, size, &offset), MSGPACK_UNPACK_SUCCESS);
    CHECK_INT (offset, size);
    error [0] = 0;
    xinf_value_t *value = xinf_value_from_object (&unpacked.data, error, error_size);
    msgpack_unpacked_destroy (&unpacked);

    char reason [256] = "";
    if (xinf_mpscan ((const unsigned char *) data, size, &s_limits, reason, sizeof reason)) {
        CHECK (value == NULL);
        CHECK_HAS (reason, error);
        return value;
    }
    xinf_mpread_t reader = { (const unsigned char *) data, size, 0, NULL };
    xinf_value_t *read = xinf_value_read (&reader, NULL, reason, sizeof reason);
    CHECK ((read == NULL) == (value == NULL));
    if (value)
        CHECK (test_value_equal (value, read));
    else
        CHECK_STR (reason, error);
    xinf_value_destroy (&read);
    return value;
}

//  xinf_value_write gives msgpack-c's bytes, and they read back equal.
static void
s_check_write (const xinf_value_t *value)
{
    msgpack_sbuffer packed;
    test_pack (value, &packed);
    xinf_mpbuf_t written;
    xinf_mpbuf_init (&written);
    xinf_value_write (value, &written);
    CHECK_INT (written.size, packed.size);
    CHECK (memcmp (written.data, packed.data, packed.size) == 0);
    char error [256] = "";
    xinf_value_t *back = s_unpack (written.data, written.size, error, sizeof error);
    CHECK (back && test_value_equal (value, back));
    xinf_value_destroy (&back);
    xinf_mpbuf_release (&written);
    msgpack_sbuffer_destroy (&packed);
}

static void
test_scalars (void)
{
    xinf_value_t *value = xinf_value_new_nil ();
    CHECK_INT (xinf_value_type (value), XINF_NIL);
    CHECK_STR (xinf_value_type_name (value), "nil");
    CHECK_INT (xinf_value_count (value), 0);
    xinf_value_destroy (&value);
    CHECK (value == NULL);
    xinf_value_destroy (&value);                //  twice is harmless

    value = xinf_value_new_bool (true);
    CHECK_STR (xinf_value_type_name (value), "bool");
    CHECK (xinf_value_bool (value));
    xinf_value_destroy (&value);

    value = xinf_value_new_int (5);             //  >= 0 is a UINT
    CHECK_INT (xinf_value_type (value), XINF_UINT);
    CHECK_STR (xinf_value_type_name (value), "uint64");
    CHECK_INT (xinf_value_uint (value), 5);
    CHECK_INT (xinf_value_int (value), 5);
    CHECK (xinf_value_float (value) == 5.0);
    xinf_value_destroy (&value);

    value = xinf_value_new_int (-5);
    CHECK_INT (xinf_value_type (value), XINF_INT);
    CHECK_STR (xinf_value_type_name (value), "int64");
    CHECK_INT (xinf_value_int (value), -5);
    CHECK_INT (xinf_value_uint (value), 0);     //  not a uint
    CHECK (xinf_value_float (value) == -5.0);
    xinf_value_destroy (&value);

    value = xinf_value_new_uint (UINT64_MAX);
    CHECK (xinf_value_uint (value) == UINT64_MAX);
    CHECK_INT (xinf_value_int (value), 0);      //  does not fit int64
    xinf_value_destroy (&value);

    value = xinf_value_new_float (1.5);
    CHECK_STR (xinf_value_type_name (value), "float");
    CHECK (xinf_value_float (value) == 1.5);
    CHECK (!xinf_value_bool (value));
    xinf_value_destroy (&value);

    value = xinf_value_new_strn ("ab\0cd", 5);
    size_t size = 0;
    CHECK_STR (xinf_value_type_name (value), "str");
    CHECK (memcmp (xinf_value_bytes (value, &size), "ab\0cd", 5) == 0);
    CHECK_INT (size, 5);
    CHECK_STR (xinf_value_str (value), "ab");   //  NUL-terminated view
    xinf_value_destroy (&value);

    value = xinf_value_new_str (NULL);
    CHECK_STR (xinf_value_str (value), "");
    xinf_value_destroy (&value);

    value = xinf_value_new_bin ("\x01\x02", 2);
    CHECK_STR (xinf_value_type_name (value), "bin");
    CHECK (xinf_value_str (value) == NULL);     //  a bin is not a str
    CHECK (xinf_value_bytes (value, &size) != NULL);
    CHECK_INT (size, 2);
    xinf_value_destroy (&value);

    value = xinf_value_new_bin (NULL, 0);
    CHECK (xinf_value_bytes (value, &size) != NULL);
    CHECK_INT (size, 0);
    xinf_value_destroy (&value);

    CHECK_STR (xinf_value_type_name (NULL), "nothing");
    CHECK (xinf_value_bytes (NULL, &size) == NULL);
    CHECK_INT (size, 0);
}

static void
test_containers (void)
{
    xinf_value_t *array = xinf_value_new_array ();
    for (int index = 0; index < 100; index++)
        xinf_array_push (array, xinf_value_new_uint ((uint64_t) index));
    CHECK_INT (xinf_value_count (array), 100);
    CHECK_INT (xinf_value_uint (xinf_array_at (array, 99)), 99);
    CHECK (xinf_array_at (array, 100) == NULL);
    CHECK (xinf_map_get (array, "0") == NULL);
    CHECK (xinf_map_take (array, "0") == NULL);
    xinf_value_destroy (&array);

    xinf_value_t *map = xinf_value_new_map ();
    xinf_map_put_uint (map, "a", 1);
    xinf_map_put_uint (map, "b", 2);
    xinf_map_put_uint (map, "c", 3);
    xinf_map_put_str (map, "b", "two");         //  replaces, keeps the position
    CHECK_INT (xinf_value_count (map), 3);
    CHECK_STR (xinf_map_key_at (map, 1), "b");
    CHECK_STR (xinf_value_str (xinf_map_value_at (map, 1)), "two");
    CHECK_STR (xinf_value_str (xinf_map_get (map, "b")), "two");
    CHECK (xinf_map_get (map, "z") == NULL);
    CHECK (xinf_map_key_at (map, 3) == NULL);
    CHECK (xinf_map_value_at (map, 3) == NULL);
    CHECK (xinf_array_at (map, 0) == NULL);

    xinf_value_t *taken = xinf_map_take (map, "b");
    CHECK_STR (xinf_value_str (taken), "two");
    xinf_value_destroy (&taken);
    CHECK_INT (xinf_value_count (map), 2);
    CHECK_STR (xinf_map_key_at (map, 0), "a");
    CHECK_STR (xinf_map_key_at (map, 1), "c");
    CHECK_INT (xinf_value_uint (xinf_map_get (map, "c")), 3);
    CHECK (xinf_map_take (map, "b") == NULL);
    taken = xinf_map_take (map, "c");           //  the last one
    CHECK_INT (xinf_value_uint (taken), 3);
    xinf_value_destroy (&taken);
    taken = xinf_map_take (map, "a");
    xinf_value_destroy (&taken);
    CHECK_INT (xinf_value_count (map), 0);
    xinf_map_put_uint (map, "again", 9);        //  usable after emptying
    CHECK_INT (xinf_value_uint (xinf_map_get (map, "again")), 9);
    xinf_value_destroy (&map);
}

static void
test_round_trip (void)
{
    xinf_value_t *tree = s_sample_tree ();
    msgpack_sbuffer buffer;
    test_pack (tree, &buffer);
    char error [256];
    xinf_value_t *back = s_unpack (buffer.data, buffer.size, error, sizeof error);
    CHECK (back);
    CHECK (test_value_equal (tree, back));
    //  Spot checks that do not depend on the packer
    CHECK (xinf_value_uint (xinf_map_get (back, "max")) == UINT64_MAX);
    CHECK (xinf_value_int (xinf_map_get (back, "min")) == INT64_MIN);
    CHECK_INT (xinf_value_type (xinf_map_get (back, "neg")), XINF_INT);
    CHECK (xinf_value_float (xinf_map_get (back, "pi")) == 3.25);
    CHECK_INT (xinf_value_type (xinf_map_get (back, "none")), XINF_NIL);
    size_t size;
    const unsigned char *blob = xinf_value_bytes (xinf_map_get (back, "blob"), &size);
    CHECK_INT (size, 5);
    CHECK (blob [3] == 0xff && blob [4] == 0x80);
    xinf_value_bytes (xinf_map_get (back, "nul"), &size);
    CHECK_INT (size, 3);
    const xinf_value_t *list = xinf_map_get (back, "list");
    CHECK_INT (xinf_value_count (list), 6);
    CHECK_STR (xinf_value_str (xinf_array_at (list, 1)), "two");
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_array_at (list, 3), "k")), "v");
    const xinf_value_t *deep = xinf_map_get (back, "deep");
    for (int level = 0; level < 6; level++)
        deep = xinf_map_get (deep, "down");
    CHECK_INT (xinf_value_uint (deep), 42);
    for (size_t index = 0; index < xinf_value_count (tree); index++)
        CHECK_STR (xinf_map_key_at (back, index), xinf_map_key_at (tree, index));

    //  A changed leaf is seen by the equality helper (it can fail)
    xinf_map_put_float (back, "pi", 3.5);
    CHECK (!test_value_equal (tree, back));
    xinf_value_destroy (&back);
    msgpack_sbuffer_destroy (&buffer);
    xinf_value_destroy (&tree);
}

//  Every width of every kind, at its limits, as msgpack-c writes it.
static void
test_write (void)
{
    xinf_value_t *tree = s_sample_tree ();
    s_check_write (tree);
    xinf_value_destroy (&tree);
    const uint64_t unsigned_numbers [] = { 0, 127, 128, 255, 256, 65535, 65536, 0xffffffffULL, 0x100000000ULL, UINT64_MAX };
    const int64_t signed_numbers [] = { -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t) INT32_MIN - 1, INT64_MIN };
    const size_t sizes [] = { 0, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000 };
    xinf_value_t *root = xinf_value_new_array ();
    for (size_t index = 0; index < 10; index++) {
        xinf_array_push (root, xinf_value_new_uint (unsigned_numbers [index]));
        xinf_array_push (root, xinf_value_new_int (signed_numbers [index]));
        char *text = calloc (1, sizes [index] + 1);
        memset (text, 'x', sizes [index]);
        xinf_array_push (root, xinf_value_new_strn (text, sizes [index]));
        xinf_array_push (root, xinf_value_new_bin (text, sizes [index]));
        free (text);
        xinf_value_t *array = xinf_value_new_array ();
        xinf_value_t *map = xinf_value_new_map ();
        for (size_t item = 0; item < sizes [index]; item++)
            xinf_array_push (array, xinf_value_new_nil ());
        //  Maps write their count as arrays do; small ones keep this quick
        for (size_t item = 0; item < sizes [index] && item < 300; item++) {
            char key [24];
            snprintf (key, sizeof key, "%zu", item);
            xinf_map_put (map, key, xinf_value_new_bool (item % 2));
        }
        xinf_array_push (root, array);
        xinf_array_push (root, map);
    }
    xinf_array_push (root, xinf_value_new_float (-0.0));
    xinf_array_push (root, xinf_value_new_float (INFINITY));
    s_check_write (root);
    xinf_value_destroy (&root);
}

//  What the reader refuses on its own, without xinf_mpscan before it:
//  bytes that end early, ext types, 0xc1; it never reads past the end.
static void
test_read_refusals (void)
{
    const char *inputs [] = { "\x92\x01", "\xd9\x05\x61\x62", "\xc4", "\xcf\x00\x00", "\xd4\x01\x00", "\xc1",
                              "\x81\xa1k", "\xdd\xff\xff\xff\xff\x01" };
    const size_t sizes [] = { 2, 4, 1, 3, 3, 1, 3, 6 };
    for (size_t index = 0; index < sizeof sizes / sizeof sizes [0]; index++) {
        char error [256] = "";
        xinf_mpread_t reader = { (const unsigned char *) inputs [index], sizes [index], 0, NULL };
        CHECK (xinf_value_read (&reader, NULL, error, sizeof error) == NULL);
        CHECK (error [0] != 0);
        CHECK (reader.at <= sizes [index]);
    }
    //  Signed encodings of non-negative numbers read as uint64 (as msgpack-c has them)
    xinf_mpread_t reader = { (const unsigned char *) "\xd0\x05", 2, 0, NULL };
    char error [256];
    xinf_value_t *value = xinf_value_read (&reader, NULL, error, sizeof error);
    CHECK_INT (xinf_value_type (value), XINF_UINT);
    CHECK_INT (xinf_value_uint (value), 5);
    xinf_value_destroy (&value);
}

static void
test_float32 (void)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_float (&packer, 1.5f);
    char error [256];
    xinf_value_t *value = s_unpack (buffer.data, buffer.size, error, sizeof error);
    CHECK (value);
    CHECK_INT (xinf_value_type (value), XINF_FLOAT);
    CHECK (xinf_value_float (value) == 1.5);
    xinf_value_destroy (&value);
    msgpack_sbuffer_destroy (&buffer);
}

static void
test_dup (void)
{
    xinf_value_t *tree = s_sample_tree ();
    xinf_value_t *copy = xinf_value_dup (tree);
    CHECK (copy && copy != tree);
    CHECK (test_value_equal (tree, copy));
    //  Deep: changing the copy leaves the original alone
    xinf_map_put_str (xinf_array_at (xinf_map_get (copy, "list"), 3), "k", "changed");
    xinf_value_t *taken = xinf_map_take (copy, "name");
    xinf_value_destroy (&taken);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_array_at (xinf_map_get (tree, "list"), 3), "k")), "v");
    CHECK_STR (xinf_value_str (xinf_map_get (tree, "name")), "llama-7b");
    CHECK (!test_value_equal (tree, copy));
    CHECK (xinf_value_dup (NULL) == NULL);
    xinf_value_destroy (&copy);
    xinf_value_destroy (&tree);
}

//  Packs a map {key: 1} where the key is produced by 'key_fn'.
typedef void (s_key_fn) (msgpack_packer *packer);

static void s_key_int (msgpack_packer *packer) { msgpack_pack_int (packer, 7); }
static void s_key_nul (msgpack_packer *packer) { msgpack_pack_str (packer, 3); msgpack_pack_str_body (packer, "a\0b", 3); }
static void s_key_long (msgpack_packer *packer)
{
    char key [256];
    memset (key, 'k', sizeof key);
    msgpack_pack_str (packer, sizeof key);
    msgpack_pack_str_body (packer, key, sizeof key);
}

static void
s_expect_refused (s_key_fn *key_fn, const char *reason)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, 1);
    msgpack_pack_map (&packer, 1);
    key_fn (&packer);
    msgpack_pack_uint8 (&packer, 1);
    char error [256];
    xinf_value_t *value = s_unpack (buffer.data, buffer.size, error, sizeof error);
    CHECK (value == NULL);
    CHECK_STR (error, reason);
    msgpack_sbuffer_destroy (&buffer);
}

static void
test_refusals (void)
{
    s_expect_refused (s_key_int, "map keys must be str");
    s_expect_refused (s_key_nul, "map key contains a NUL byte");
    s_expect_refused (s_key_long, "map key longer than 255 bytes");

    //  Duplicate keys: { "a": 1, "a": 2 }
    const char duplicate [] = { (char) 0x82, (char) 0xa1, 'a', 1, (char) 0xa1, 'a', 2 };
    char error [256];
    CHECK (s_unpack (duplicate, sizeof duplicate, error, sizeof error) == NULL);
    CHECK_STR (error, "duplicate map key 'a'");

    //  An ext value (fixext1) deep in an array
    const char ext [] = { (char) 0x92, 1, (char) 0xd4, 5, 9 };
    CHECK (s_unpack (ext, sizeof ext, error, sizeof error) == NULL);
    CHECK_STR (error, "ext types are not accepted");

    //  A key of exactly 255 bytes is fine
    char key [255];
    memset (key, 'k', sizeof key);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 1);
    msgpack_pack_str (&packer, sizeof key);
    msgpack_pack_str_body (&packer, key, sizeof key);
    msgpack_pack_nil (&packer);
    xinf_value_t *value = s_unpack (buffer.data, buffer.size, error, sizeof error);
    CHECK (value);
    CHECK_INT (strlen (xinf_map_key_at (value, 0)), 255);
    xinf_value_destroy (&value);
    msgpack_sbuffer_destroy (&buffer);
}

//  An empty key is a valid key. msgpack-c hands out a NULL pointer for an
//  empty str, which from_object must not pass to memchr/memcpy (UBSan).
static void
test_empty_key (void)
{
    const char data [] = { (char) 0x82, (char) 0xa0, 1, (char) 0xa1, 'k', (char) 0xa0 };
    char error [256];
    xinf_value_t *value = s_unpack (data, sizeof data, error, sizeof error);
    if (!value)
        fprintf (stderr, "refused: %s\n", error);
    CHECK (value);
    CHECK_STR (xinf_map_key_at (value, 0), "");
    CHECK_INT (xinf_value_uint (xinf_map_get (value, "")), 1);
    CHECK_STR (xinf_value_str (xinf_map_get (value, "k")), "");
    xinf_value_destroy (&value);
}

static char *
s_json (const xinf_value_t *value)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&text, &size);
    CHECK (stream);
    xinf_value_print_json (value, stream);
    fclose (stream);
    return text;
}

static void
test_json (void)
{
    xinf_value_t *root = xinf_value_new_map ();
    xinf_map_put_str (root, "s", "a\"b\\c\n\x7f");
    xinf_map_put_uint (root, "u", 18446744073709551615ULL);
    xinf_map_put_int (root, "i", -42);
    xinf_map_put_float (root, "f", 0.5);
    xinf_map_put_float (root, "inf", INFINITY);
    xinf_map_put_float (root, "nan", NAN);
    xinf_map_put (root, "n", xinf_value_new_nil ());
    xinf_map_put_bool (root, "t", true);
    xinf_map_put (root, "b", xinf_value_new_bin ("\x00\xab\xff", 3));
    xinf_value_t *array = xinf_value_new_array ();
    xinf_array_push (array, xinf_value_new_uint (1));
    xinf_array_push (array, xinf_value_new_map ());
    xinf_array_push (array, xinf_value_new_array ());
    xinf_map_put (root, "a", array);
    char *text = s_json (root);
    CHECK_STR (text, "{\"s\":\"a\\\"b\\\\c\\u000a\\u007f\",\"u\":18446744073709551615,"
                     "\"i\":-42,\"f\":0.5,\"inf\":null,\"nan\":null,\"n\":null,\"t\":true,"
                     "\"b\":\"00abff\",\"a\":[1,{},[]]}");
    free (text);
    xinf_value_destroy (&root);

    text = s_json (NULL);
    CHECK_STR (text, "null");
    free (text);
    //  The shortest text that reads back as the same double
    const double numbers [] = { 0.1, 38.145, 1.0 / 3.0, 1e-300, 123456789012345678.0, -2.5, 5e-324, 12000.0, -7.0,
                                0.0 };
    const char *expected [] = { "0.1", "38.145", "0.3333333333333333", "1e-300", "1.2345678901234568e+17", "-2.5",
                                "5e-324", "12000", "-7", "0" };
    for (size_t index = 0; index < sizeof numbers / sizeof numbers [0]; index++) {
        xinf_value_t *number = xinf_value_new_float (numbers [index]);
        text = s_json (number);
        CHECK_STR (text, expected [index]);
        CHECK (strtod (text, NULL) == numbers [index]);
        free (text);
        xinf_value_destroy (&number);
    }
}


//  'count' entries, every third with a string too long for any arena.
static void
s_fill (xinf_value_t *map, int count)
{
    char key [32], text [400];
    memset (text, 'x', sizeof text - 1);
    text [sizeof text - 1] = 0;
    for (int index = 0; index < count; index++) {
        snprintf (key, sizeof key, "entry-%d", index);
        if (index % 3 == 0)
            xinf_map_put_str (map, key, text);
        else
        if (index % 3 == 1)
            xinf_map_put_int (map, key, -index);
        else
            xinf_map_put_bin (map, key, key, strlen (key));
    }
}

//  Packs 'value' with msgpack-c and reads it back with xinf_value_read_in
//  into 'memory' ('size' bytes); it must be the same value.
static void
s_read_in_check (const xinf_value_t *value, void *memory, size_t size)
{
    msgpack_sbuffer buffer;
    test_pack (value, &buffer);
    xinf_mpread_t reader = { (const unsigned char *) buffer.data, buffer.size, 0, NULL };
    char error [256] = "";
    xinf_value_t *read = xinf_value_read_in (&reader, NULL, memory, size, error, sizeof error);
    CHECK (read);
    CHECK (reader.at == buffer.size);
    CHECK (test_value_equal (read, value));
    //  What it took out is the caller's, after the map is gone
    xinf_value_t *taken = xinf_value_type (read) == XINF_MAP && xinf_value_count (read)
                        ? xinf_map_take (read, xinf_map_key_at (read, 0)) : NULL;
    xinf_value_t *expected = taken ? xinf_value_dup (xinf_map_value_at (value, 0)) : NULL;
    xinf_value_destroy (&read);
    CHECK (!taken || test_value_equal (taken, expected));
    xinf_value_destroy (&taken);
    xinf_value_destroy (&expected);
    msgpack_sbuffer_destroy (&buffer);
}

static void
test_arena (void)
{
    xinf_value_t *map = xinf_value_new_map ();
    xinf_map_put_str (map, "name", "worker-1");
    xinf_map_put_uint (map, "count", 7);
    xinf_map_put_bin (map, "blob", "\x00\x01\x02", 3);
    xinf_map_put_str (map, "none", NULL);
    //  Replaced where it was; the old value's memory stays the map's
    xinf_map_put_uint (map, "count", 8);
    CHECK_STR (xinf_map_key_at (map, 1), "count");
    CHECK_INT (xinf_value_uint (xinf_map_get (map, "count")), 8);
    size_t size;
    const void *bytes = xinf_value_bytes (xinf_map_get (map, "blob"), &size);
    CHECK (size == 3 && memcmp (bytes, "\x00\x01\x02", 3) == 0);
    CHECK_STR (xinf_value_str (xinf_map_get (map, "none")), "");
    //  Past the arena and the inline entries
    s_fill (map, 120);
    CHECK_INT (xinf_value_count (map), 124);
    CHECK_INT (xinf_value_int (xinf_map_get (map, "entry-118")), -118);
    CHECK_INT (strlen (xinf_value_str (xinf_map_get (map, "entry-117"))), 399);
    //  take: a copy that outlives the map, the rest keeps its order
    xinf_value_t *name = xinf_map_take (map, "name");
    xinf_value_t *count = xinf_map_take (map, "count");
    xinf_value_t *copy = xinf_value_dup (map);
    CHECK (test_value_equal (copy, map));
    CHECK_STR (xinf_map_key_at (map, 0), "blob");
    xinf_value_destroy (&map);
    CHECK_STR (xinf_value_str (name), "worker-1");
    CHECK_INT (xinf_value_uint (count), 8);
    xinf_map_put (copy, "name", name);              //  a taken value goes into another map
    xinf_map_put (copy, "count", count);
    CHECK_INT (xinf_value_count (copy), 124);
    xinf_value_destroy (&copy);

    //  put_copy: deep, the original stays the caller's
    xinf_value_t *tree = s_sample_tree ();
    xinf_value_t *holder = xinf_value_new_map ();
    xinf_map_put_copy (holder, "tree", tree);
    xinf_map_put_copy (holder, "pi", xinf_map_get (tree, "pi"));
    CHECK (test_value_equal (xinf_map_get (holder, "tree"), tree));
    xinf_value_destroy (&tree);
    CHECK (xinf_value_float (xinf_map_get (holder, "pi")) == 3.25);
    xinf_value_destroy (&holder);

    //  A map in caller memory (on the stack: freeing it would be caught)
    uint64_t memory [56];
    CHECK (xinf_value_new_map_in (memory, 64) == NULL);
    xinf_value_t *inside = xinf_value_new_map_in (memory, sizeof memory);
    CHECK (inside);
    xinf_map_put_str (inside, "a", "b");
    s_fill (inside, 40);
    xinf_value_t *taken = xinf_map_take (inside, "a");
    CHECK_INT (xinf_value_count (inside), 40);
    xinf_value_destroy (&inside);
    CHECK_STR (xinf_value_str (taken), "b");
    xinf_value_destroy (&taken);

    //  Read into caller memory: large enough, too small for the entries,
    //  not a map at all; the same value each time
    xinf_value_t *sample = s_sample_tree ();
    s_read_in_check (sample, memory, sizeof memory);
    s_read_in_check (sample, memory, 64);
    s_read_in_check (xinf_map_get (sample, "list"), memory, sizeof memory);
    s_fill (sample, 60);
    s_read_in_check (sample, memory, sizeof memory);
    xinf_value_destroy (&sample);

    //  A refusal inside caller memory frees what it allocated (ASan build)
    const char twice [] = "\x83\xa1" "a" "\xa5" "hello" "\xa1" "b" "\xc0" "\xa1" "a" "\x01";
    xinf_mpread_t reader = { (const unsigned char *) twice, sizeof twice - 1, 0, NULL };
    char error [256] = "";
    CHECK (xinf_value_read_in (&reader, NULL, memory, sizeof memory, error, sizeof error) == NULL);
    CHECK_HAS (error, "duplicate map key 'a'");
}

int
main (void)
{
    fprintf (stderr, "test_value\n");
    RUN (test_scalars);
    RUN (test_containers);
    RUN (test_round_trip);
    RUN (test_write);
    RUN (test_read_refusals);
    RUN (test_float32);
    RUN (test_dup);
    RUN (test_refusals);
    RUN (test_empty_key);
    RUN (test_json);
    RUN (test_arena);
    return 0;
}
