/*  test_json_grammar: the JSON object grammar (models/xinf_json_grammar)
    against Python's json module on thousands of random texts and their
    mutations (json_cases.py: each text accepted exactly when Python reads
    it as one object), every prefix of an accepted text taken byte by
    byte, and its own limits: whitespace runs and nesting depth. */
#include "test_unit.h"
#include "xinf_json_grammar.h"

#include <string.h>

//  Whether 'size' bytes are one whole object: each taken in turn, done at the end.
static bool
s_object (const void *bytes, size_t size)
{
    xinf_json_state_t state;
    xinf_json_start (&state);
    return xinf_json_feed (&state, bytes, size) && xinf_json_done (&state);
}

static bool
s_text (const char *text)
{
    return s_object (text, strlen (text));
}

static void
test_fixed (void)
{
    const char *good [] = { "{}", " \n{ }", "{\"a\":1}", "{\"a\":[1,2.5e-3,-0,true,false,null,{}]}",
                            "{\"\\u00e9\\n\\\"\":\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"}", "{\"a\" : { \"b\" : [ ] } }" };
    const char *bad [] = { "", "[]", "1", "\"x\"", "{} ", "{\"a\":01}", "{\"a\":+1}", "{\"a\":1.}", "{'a':1}",
                           "{\"a\":\"\x01\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":NaN}",
                           "{\"a\":1,}", "{\"a\"}", "{\"a\":[1 2]}", "{}{}" };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++)
        CHECK (s_text (good [index]));
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        CHECK (!s_text (bad [index]));
    //  A refused byte leaves the state as it was
    xinf_json_state_t state, before;
    xinf_json_start (&state);
    CHECK (xinf_json_feed (&state, "{\"a\":12", 7));
    before = state;
    CHECK (!xinf_json_step (&state, 'x'));
    CHECK (memcmp (&state, &before, sizeof state) == 0);
    CHECK (!xinf_json_feed (&state, "3}x", 3));
    CHECK (memcmp (&state, &before, sizeof state) == 0);
    CHECK (xinf_json_feed (&state, "3}", 2) && xinf_json_done (&state));
    CHECK (!xinf_json_step (&state, ' ') && !xinf_json_step (&state, '}'));
}

//  At most XINF_JSON_SPACES_MAX whitespace bytes in a row, anywhere
//  whitespace may be; nesting at most XINF_JSON_DEPTH_MAX deep.
static void
test_limits (void)
{
    char text [4 * XINF_JSON_DEPTH_MAX + 64];
    for (int extra = 0; extra < 2; extra++) {
        size_t at = 0;
        for (int space = 0; space < XINF_JSON_SPACES_MAX + extra; space++)
            text [at++] = space % 2 ? '\n' : ' ';
        memcpy (text + at, "{}", 3);
        CHECK (s_text (text) == (extra == 0));
        snprintf (text, sizeof text, "{\"a\":%*s1}", XINF_JSON_SPACES_MAX + extra, "");
        CHECK (s_text (text) == (extra == 0));
    }
    for (int extra = 0; extra < 2; extra++) {
        size_t at = 0, depth = XINF_JSON_DEPTH_MAX + extra;
        text [at++] = '{';
        memcpy (text + at, "\"a\":", 4);
        at += 4;
        for (size_t level = 1; level < depth; level++)
            text [at++] = '[';
        for (size_t level = 1; level < depth; level++)
            text [at++] = ']';
        text [at++] = '}';
        CHECK (s_object (text, at) == (extra == 0));
    }
}

static int
s_hex (char digit)
{
    return digit >= 'a' ? digit - 'a' + 10 : digit - '0';
}

//  The cases of json_cases.py: the grammar's verdict is Python's, and
//  every prefix of an accepted text is taken.
static void
test_python (const char *path)
{
    FILE *file = fopen (path, "r");
    CHECK (file);
    static char line [1 << 16];
    unsigned char bytes [1 << 15];
    size_t cases = 0, objects = 0;
    while (fgets (line, sizeof line, file)) {
        size_t length = strcspn (line, "\n"), size = 0;
        CHECK (length >= 2 && (line [0] == '0' || line [0] == '1') && line [1] == ' ');
        for (size_t at = 2; at + 1 < length; at += 2)
            bytes [size++] = (unsigned char) (s_hex (line [at]) * 16 + s_hex (line [at + 1]));
        bool expected = line [0] == '1', got = s_object (bytes, size);
        if (got != expected)
            fprintf (stderr, "case %zu: Python says %d, the grammar %d: %.*s\n", cases, expected, got, (int) length, line);
        CHECK (got == expected);
        xinf_json_state_t state;
        xinf_json_start (&state);
        for (size_t at = 0; expected && at < size; at++)
            CHECK (xinf_json_step (&state, bytes [at]));
        cases++;
        objects += expected;
    }
    fclose (file);
    CHECK (cases > 1000 && objects > 500 && cases - objects > 500);
    fprintf (stderr, "      %zu cases as Python reads them, %zu of them objects\n", cases, objects);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 2);
    fprintf (stderr, "test_json_grammar:\n");
    RUN (test_fixed);
    RUN (test_limits);
    test_python (argv [1]);
    return 0;
}
