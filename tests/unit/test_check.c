/*  test_check: xinf_check, the validating field readers of message bodies.

    Every reader is checked for its exact reason text (these reasons travel
    in ERROR replies and are part of the protocol's usability), for ranges,
    for str length and NUL bytes, for the fallbacks of the optional readers
    (missing or nil), and for "first error kept, later reads return their
    defaults".
*/
#include "test_unit.h"

#include <math.h>

static xinf_value_t *
s_body (void)
{
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put_str (body, "corr", "abc");
    xinf_map_put_uint (body, "n", 5);
    xinf_map_put_uint (body, "big", UINT64_MAX);
    xinf_map_put_int (body, "neg", -5);
    xinf_map_put_float (body, "f", 0.25);
    xinf_map_put_float (body, "inf", INFINITY);
    xinf_map_put_bool (body, "yes", true);
    xinf_map_put_str (body, "s", "hello");
    xinf_map_put (body, "snul", xinf_value_new_strn ("he\0lo", 5));
    xinf_map_put (body, "empty", xinf_value_new_str (""));
    xinf_map_put (body, "b", xinf_value_new_bin ("\x01\x02\x03", 3));
    xinf_map_put (body, "nil", xinf_value_new_nil ());
    xinf_value_t *array = xinf_value_new_array ();
    for (int index = 0; index < 3; index++)
        xinf_array_push (array, xinf_value_new_uint ((uint64_t) index));
    xinf_map_put (body, "a", array);
    xinf_value_t *map = xinf_value_new_map ();
    xinf_map_put_uint (map, "x", 1);
    xinf_map_put (body, "m", map);
    return body;
}

//  One failing read on a fresh check: the exact reason.
#define EXPECT_REASON(read, expected) do { \
    xinf_check_t check = XINF_CHECK_INIT; \
    read; \
    CHECK (check.failed); \
    CHECK_STR (check.reason, expected); \
} while (0)

//  One good read on a fresh check.
#define EXPECT_OK(read) do { \
    xinf_check_t check = XINF_CHECK_INIT; \
    read; \
    if (check.failed) \
        fprintf (stderr, "unexpected failure: %s\n", check.reason); \
    CHECK (!check.failed); \
} while (0)

static void
test_required (void)
{
    xinf_value_t *body = s_body ();
    EXPECT_REASON (xinf_check_uint (&check, body, "corr", 0, UINT64_MAX),
                   "field 'corr' must be uint64, got str");
    EXPECT_REASON (xinf_check_uint (&check, body, "x", 0, 10), "field 'x' is missing");
    EXPECT_REASON (xinf_check_uint (&check, body, "nil", 0, 10), "field 'nil' must be uint64, got nil");
    EXPECT_REASON (xinf_check_uint (&check, body, "neg", 0, 10), "field 'neg' must be uint64, got int64");
    EXPECT_REASON (xinf_check_uint (&check, body, "n", 10, 20), "field 'n' is 5, must be in [10, 20]");
    EXPECT_REASON (xinf_check_uint (&check, body, "n", 0, 4), "field 'n' is 5, must be in [0, 4]");
    EXPECT_REASON (xinf_check_int (&check, body, "neg", -3, 3), "field 'neg' is -5, must be in [-3, 3]");
    EXPECT_REASON (xinf_check_int (&check, body, "big", INT64_MIN, INT64_MAX),
                   "field 'big' must be int64, got uint64");
    EXPECT_REASON (xinf_check_int (&check, body, "f", 0, 1), "field 'f' must be int64, got float");
    EXPECT_REASON (xinf_check_float (&check, body, "s", 0, 1), "field 's' must be a number, got str");
    EXPECT_REASON (xinf_check_float (&check, body, "f", 0.5, 1), "field 'f' is 0.25, must be in [0.5, 1]");
    EXPECT_REASON (xinf_check_float (&check, body, "inf", -INFINITY, INFINITY),
                   "field 'inf' is inf, must be in [-inf, inf]");
    EXPECT_REASON (xinf_check_bool (&check, body, "n"), "field 'n' must be bool, got uint64");
    EXPECT_REASON (xinf_check_str (&check, body, "n", 0, 10), "field 'n' must be str, got uint64");
    EXPECT_REASON (xinf_check_str (&check, body, "s", 1, 4), "field 's' has 5 bytes, must have 1 to 4");
    EXPECT_REASON (xinf_check_str (&check, body, "empty", 1, 4), "field 'empty' has 0 bytes, must have 1 to 4");
    EXPECT_REASON (xinf_check_str (&check, body, "snul", 0, 64), "field 'snul' contains a NUL byte");
    EXPECT_REASON (xinf_check_str (&check, body, "b", 0, 64), "field 'b' must be str, got bin");
    size_t size = 99;
    EXPECT_REASON (xinf_check_bin (&check, body, "s", 10, &size), "field 's' must be bin, got str");
    CHECK_INT (size, 0);
    EXPECT_REASON (xinf_check_bin (&check, body, "b", 2, &size), "field 'b' has 3 bytes, at most 2 allowed");
    EXPECT_REASON (xinf_check_array (&check, body, "a", 2), "field 'a' has 3 elements, at most 2 allowed");
    EXPECT_REASON (xinf_check_array (&check, body, "m", 9), "field 'm' must be array, got map");
    EXPECT_REASON (xinf_check_map (&check, body, "a", 9), "field 'a' must be map, got array");
    EXPECT_REASON (xinf_check_map (&check, body, "nope", 9), "field 'nope' is missing");

    //  The body itself must be a map
    xinf_value_t *text = xinf_value_new_str ("not a map");
    EXPECT_REASON (xinf_check_uint (&check, text, "corr", 0, 9), "field 'corr': the body is not a map");
    EXPECT_REASON (xinf_check_str (&check, NULL, "name", 0, 9), "field 'name': the body is not a map");
    xinf_value_destroy (&text);
    xinf_value_destroy (&body);
}

static void
test_good_reads (void)
{
    xinf_value_t *body = s_body ();
    EXPECT_OK (CHECK_INT (xinf_check_uint (&check, body, "n", 5, 5), 5));
    EXPECT_OK (CHECK (xinf_check_uint (&check, body, "big", 0, UINT64_MAX) == UINT64_MAX));
    EXPECT_OK (CHECK_INT (xinf_check_int (&check, body, "neg", -5, -5), -5));
    EXPECT_OK (CHECK_INT (xinf_check_int (&check, body, "n", -10, 10), 5));   //  a uint fits
    EXPECT_OK (CHECK (xinf_check_float (&check, body, "f", 0, 1) == 0.25));
    EXPECT_OK (CHECK (xinf_check_float (&check, body, "n", 0, 10) == 5.0));  //  ints are numbers
    EXPECT_OK (CHECK (xinf_check_float (&check, body, "neg", -10, 0) == -5.0));
    EXPECT_OK (CHECK (xinf_check_bool (&check, body, "yes")));
    EXPECT_OK (CHECK_STR (xinf_check_str (&check, body, "s", 5, 5), "hello"));
    EXPECT_OK (CHECK_STR (xinf_check_str (&check, body, "empty", 0, 5), ""));
    size_t size = 0;
    EXPECT_OK (CHECK (memcmp (xinf_check_bin (&check, body, "b", 3, &size), "\x01\x02\x03", 3) == 0));
    EXPECT_OK (CHECK_INT (size, 3));
    EXPECT_OK (CHECK_INT (xinf_value_count (xinf_check_array (&check, body, "a", 3)), 3));
    EXPECT_OK (CHECK_INT (xinf_value_count (xinf_check_map (&check, body, "m", 1)), 1));
    xinf_value_destroy (&body);
}

static void
test_optional (void)
{
    xinf_value_t *body = s_body ();
    //  Missing or nil: the fallback, no failure
    EXPECT_OK (CHECK_INT (xinf_check_uint_opt (&check, body, "missing", 0, 9, 7), 7));
    EXPECT_OK (CHECK_INT (xinf_check_uint_opt (&check, body, "nil", 0, 9, 8), 8));
    EXPECT_OK (CHECK_INT (xinf_check_int_opt (&check, body, "missing", -9, 9, -2), -2));
    EXPECT_OK (CHECK (xinf_check_float_opt (&check, body, "nil", 0, 1, 0.75) == 0.75));
    EXPECT_OK (CHECK (xinf_check_bool_opt (&check, body, "missing", true)));
    EXPECT_OK (CHECK_STR (xinf_check_str_opt (&check, body, "missing", 1, 9, "dflt"), "dflt"));
    EXPECT_OK (CHECK (xinf_check_str_opt (&check, body, "nil", 1, 9, NULL) == NULL));
    //  Present and good: the value
    EXPECT_OK (CHECK_INT (xinf_check_uint_opt (&check, body, "n", 0, 9, 7), 5));
    EXPECT_OK (CHECK_STR (xinf_check_str_opt (&check, body, "s", 1, 9, "dflt"), "hello"));
    EXPECT_OK (CHECK (!xinf_check_bool_opt (&check, body, "missing", false)));
    //  Present but wrong: a failure (and the fallback)
    EXPECT_REASON (CHECK_INT (xinf_check_uint_opt (&check, body, "corr", 0, 9, 7), 7),
                   "field 'corr' must be uint64, got str");
    EXPECT_REASON (CHECK_INT (xinf_check_uint_opt (&check, body, "n", 6, 9, 7), 7),
                   "field 'n' is 5, must be in [6, 9]");
    EXPECT_REASON (CHECK_INT (xinf_check_int_opt (&check, body, "s", 0, 9, 3), 3),
                   "field 's' must be int64, got str");
    EXPECT_REASON (xinf_check_float_opt (&check, body, "yes", 0, 1, 0.5),
                   "field 'yes' must be a number, got bool");
    EXPECT_REASON (CHECK (xinf_check_bool_opt (&check, body, "n", true)),
                   "field 'n' must be bool, got uint64");
    EXPECT_REASON (CHECK_STR (xinf_check_str_opt (&check, body, "snul", 0, 9, "fb"), "fb"),
                   "field 'snul' contains a NUL byte");
    EXPECT_REASON (xinf_check_str_opt (&check, body, "s", 0, 2, "fb"),
                   "field 's' has 5 bytes, must have 0 to 2");
    xinf_value_destroy (&body);
}

static void
test_first_error_kept (void)
{
    xinf_value_t *body = s_body ();
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK (!check.failed);
    CHECK_STR (check.reason, "");
    CHECK_INT (xinf_check_uint (&check, body, "n", 0, 10), 5);
    CHECK (!check.failed);
    CHECK_INT (xinf_check_uint (&check, body, "missing", 0, 10), 0);
    CHECK (check.failed);
    //  Later reads, even of good fields, give defaults and keep the reason
    CHECK_INT (xinf_check_uint (&check, body, "n", 0, 10), 0);
    CHECK (xinf_check_str (&check, body, "s", 0, 10) == NULL);
    CHECK_INT (xinf_check_uint_opt (&check, body, "n", 0, 10, 3), 3);
    CHECK_STR (xinf_check_str_opt (&check, body, "s", 0, 10, "fb"), "fb");
    xinf_check_str (&check, body, "corr", 0, 1);
    xinf_check_fail (&check, "something else %d", 1);
    CHECK_STR (check.reason, "field 'missing' is missing");

    xinf_check_t direct = XINF_CHECK_INIT;
    xinf_check_fail (&direct, "custom %s=%d", "limit", 3);
    xinf_check_fail (&direct, "second");
    CHECK (direct.failed);
    CHECK_STR (direct.reason, "custom limit=3");

    //  A long reason is cut, not overflowed
    xinf_check_t longer = XINF_CHECK_INIT;
    char key [600];
    memset (key, 'k', sizeof key - 1);
    key [sizeof key - 1] = 0;
    xinf_check_uint (&longer, body, key, 0, 1);
    CHECK (longer.failed);
    CHECK_INT (strlen (longer.reason), sizeof longer.reason - 1);
    xinf_value_destroy (&body);
}

//  Text fields: valid UTF-8 or refused, naming the first bad byte
static void
test_utf8 (void)
{
    const char *good [] = { "", "plain", "caf\xc3\xa9", "\xe4\xbd\xa0\xe5\xa5\xbd", "\xf0\x9f\x99\x82",
                            "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "eight by" "tes then caf\xc3\xa9 and more ASCII",
                            "1234567\xc3\xa9" "123456781234567" };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++)
        CHECK (xinf_utf8_valid (good [index], strlen (good [index]), NULL));
    struct { const char *text; size_t at; } bad [] = {
        { "ab\xff", 2 }, { "\xc0\x80", 0 }, { "\xc1\xbf", 0 }, { "x\xe0\x80\x80", 1 }, { "\xed\xa0\x80", 0 },
        { "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 }, { "ok\xe4\xbd", 2 }, { "\x80", 0 },
        { "\xf0\x9f\x99", 0 }, { "\xc3(", 0 },
        //  Past the ASCII runs read eight bytes at a time
        { "12345678\xff", 8 }, { "1234567\xff", 7 }, { "123456789abcdefg12\xed\xa0\x80", 18 },
        { "12345678caf\xc3\xa9 then 12345678\xc0\x80", 27 }
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        size_t at = 99;
        CHECK (!xinf_utf8_valid (bad [index].text, strlen (bad [index].text), &at));
        CHECK_INT (at, bad [index].at);
    }
    //  Every str reader refuses them: required, optional and array items
    xinf_value_t *map = xinf_value_new_map ();
    xinf_map_put_str (map, "prompt", "half a character: \xe4\xbd");
    xinf_map_put_str (map, "name", "\xed\xa0\x80");
    xinf_map_put_str (map, "good", "caf\xc3\xa9");
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK (xinf_check_str (&check, map, "prompt", 0, 100) == NULL);
    CHECK (check.failed);
    CHECK_HAS (check.reason, "field 'prompt' is not valid UTF-8 (byte 18)");
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK (xinf_check_str_opt (&check, map, "name", 0, 100, "x") != NULL);
    CHECK_HAS (check.reason, "field 'name' is not valid UTF-8 (byte 0)");
    check = (xinf_check_t) XINF_CHECK_INIT;
    CHECK_STR (xinf_check_str (&check, map, "good", 0, 100), "caf\xc3\xa9");
    CHECK (xinf_check_item_str (&check, xinf_map_get (map, "name"), "names[2]", 0, 100) == NULL);
    CHECK_HAS (check.reason, "field 'names[2]' is not valid UTF-8 (byte 0)");
    xinf_value_destroy (&map);
}

//  A node's own texts: every byte that is no part of a whole character goes,
//  wherever a buffer or a precision cut it
static void
test_utf8_scrub (void)
{
    struct { const char *text, *scrubbed; } cases [] = {
        { "", "" }, { "plain", "plain" }, { "caf\xc3", "caf" }, { "a\xe4\xbd'b", "a'b" },
        { "\xff\xfex\xc0\x80y", "xy" }, { "\xf0\x9f\x99\x82\xed\xa0\x80", "\xf0\x9f\x99\x82" }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char text [32];
        snprintf (text, sizeof text, "%s", cases [index].text);
        CHECK_STR (xinf_utf8_scrub (text), cases [index].scrubbed);
    }
    //  A precision that cuts a character in the middle, and a buffer that cuts the end
    char text [12];
    xinf_textf (text, sizeof text, "'%.4s' \xe4\xbd\xa0\xe5\xa5\xbd", "\xe4\xbd\xa0\xe5\xa5\xbd");
    CHECK_STR (text, "'\xe4\xbd\xa0' \xe4\xbd\xa0");
    CHECK (xinf_utf8_valid (text, strlen (text), NULL));
    //  xinf_fail too
    char error [8];
    CHECK_INT (xinf_fail (error, sizeof error, "%s", "ab\xf0\x9f\x99\x82\xf0\x9f\x99\x82"), -1);
    CHECK_STR (error, "ab\xf0\x9f\x99\x82");
}

//  A character a fixed buffer cut in two is cut off; whole ones stay
static void
test_utf8_trim (void)
{
    struct { const char *text, *trimmed; } cases [] = {
        { "", "" }, { "plain", "plain" }, { "caf\xc3\xa9", "caf\xc3\xa9" }, { "caf\xc3", "caf" },
        { "\xe4\xbd\xa0\xe5\xa5", "\xe4\xbd\xa0" }, { "\xe4\xbd\xa0\xe5", "\xe4\xbd\xa0" },
        { "x\xf0\x9f\x99", "x" }, { "x\xf0\x9f\x99\x82", "x\xf0\x9f\x99\x82" }, { "\xf0", "" }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char text [32];
        snprintf (text, sizeof text, "%s", cases [index].text);
        CHECK_STR (xinf_utf8_trim (text), cases [index].trimmed);
    }
    //  What a 10-byte buffer keeps of an emoji run (9 bytes and the NUL) is valid
    char small [10];
    memcpy (small, "\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82", sizeof small - 1);
    small [sizeof small - 1] = 0;
    xinf_utf8_trim (small);
    CHECK_INT (strlen (small), 8);
    CHECK (xinf_utf8_valid (small, strlen (small), NULL));
    //  A check's reason cut mid-character by its buffer is valid too
    xinf_check_t check = XINF_CHECK_INIT;
    char long_text [2000];
    for (size_t at = 0; at + 3 < sizeof long_text; at += 3)
        memcpy (long_text + at, "\xe4\xbd\xa0", 3);
    long_text [sizeof long_text - 2] = 0;
    xinf_check_fail (&check, "x%s", long_text);
    CHECK (xinf_utf8_valid (check.reason, strlen (check.reason), NULL));
}

int
main (void)
{
    fprintf (stderr, "test_check\n");
    RUN (test_required);
    RUN (test_good_reads);
    RUN (test_optional);
    RUN (test_first_error_kept);
    RUN (test_utf8);
    RUN (test_utf8_trim);
    RUN (test_utf8_scrub);
    return 0;
}
