/*  test_toolcalls.h: for the gateway's tool-call parser tests
    (test_gateway_tools, test_gateway_toolcalls_sections): a model's output
    fed to a parser whole or cut into pieces (s_parse_cuts), two results
    compared (s_same), and every cut into two and three pieces and byte by
    byte checked against the whole (s_check_splits), watching that no part
    of a format's markers streams as content while calls parse.

    A test file defines S_WATCHED, the NULL-terminated list of marker
    starts it watches, before including this.
*/
#ifndef TEST_TOOLCALLS_H_INCLUDED
#define TEST_TOOLCALLS_H_INCLUDED

#include "test_unit.h"
#include "xinf_gateway_toolcalls.h"

typedef struct {
    char *content;
    json_t *calls;
} s_result_t;

//  Feeds 'text' cut at the given offsets (sorted, < size) to a parser
//  that has the request's 'tools' (or none); with 'watch', checks after
//  each piece that no start of a marker (S_WATCHED) went to the content.
static s_result_t
s_parse_tools (xinf_gw_tool_format_t format, const json_t *tools, const char *text, size_t size, const size_t *cuts,
               size_t cut_count, bool parallel, bool watch)
{
    static const char *const watched [] = S_WATCHED;
    xinf_gw_toolcalls_t parser;
    xinf_gw_toolcalls_init (&parser, format, parallel);
    xinf_gw_toolcalls_set_tools (&parser, tools);
    xinf_gw_buf_t content = { 0 };
    json_t *calls = json_array ();
    size_t at = 0;
    for (size_t index = 0; index <= cut_count; index++) {
        size_t end = index < cut_count ? cuts [index] : size;
        xinf_gw_toolcalls_feed (&parser, text + at, end - at, &content, calls);
        if (watch && content.size) {
            xinf_gw_buf_add (&content, "", 1);
            for (size_t marker = 0; watched [marker]; marker++)
                CHECK (!strstr (content.data, watched [marker]));
            content.size--;
        }
        at = end;
    }
    xinf_gw_toolcalls_flush (&parser, &content, calls);
    xinf_gw_toolcalls_clear (&parser);
    s_result_t result = { strndup (content.data ? content.data : "", content.size), calls };
    xinf_gw_buf_free (&content);
    return result;
}

//  Feeds 'text' cut at the given offsets, the parser without tools.
static s_result_t
s_parse_cuts (xinf_gw_tool_format_t format, const char *text, size_t size, const size_t *cuts, size_t cut_count,
              bool parallel, bool watch)
{
    return s_parse_tools (format, NULL, text, size, cuts, cut_count, parallel, watch);
}

static s_result_t
s_parse (xinf_gw_tool_format_t format, const char *text)
{
    return s_parse_cuts (format, text, strlen (text), NULL, 0, true, false);
}

static void
s_result_free (s_result_t *result)
{
    free (result->content);
    json_decref (result->calls);
}

//  Same content, same calls: their functions, and their ids where the
//  model wrote them (Kimi K2's functions.NAME:IDX; the others are random).
static bool
s_same (const s_result_t *one, const s_result_t *two)
{
    if (strcmp (one->content, two->content) || json_array_size (one->calls) != json_array_size (two->calls))
        return false;
    for (size_t index = 0; index < json_array_size (one->calls); index++) {
        json_t *a = json_array_get (one->calls, index), *b = json_array_get (two->calls, index);
        const char *id = json_string_value (json_object_get (a, "id"));
        if (!json_equal (json_object_get (a, "function"), json_object_get (b, "function"))
        ||  (id && strncmp (id, "functions.", 10) == 0 && !json_equal (json_object_get (a, "id"),
                                                                       json_object_get (b, "id"))))
            return false;
    }
    return true;
}

//  'text' cut at 'cuts' agrees with 'whole'.
static void
s_check_cuts (xinf_gw_tool_format_t format, const s_result_t *whole, const char *text, const size_t *cuts,
              size_t count, bool watch)
{
    s_result_t split = s_parse_cuts (format, text, strlen (text), cuts, count, true, watch);
    CHECK (s_same (whole, &split));
    s_result_free (&split);
}

//  Every cut into two pieces and three, and byte by byte, agrees with the
//  whole; while calls parse, no part of a marker streams as content.
static void
s_check_splits (xinf_gw_tool_format_t format, const char *text)
{
    size_t size = strlen (text);
    s_result_t whole = s_parse (format, text);
    bool watch = json_array_size (whole.calls) > 0;
    for (size_t cut = 1; cut < size; cut++)
        s_check_cuts (format, &whole, text, &cut, 1, watch);
    size_t step = size > 200 ? size / 60 : 1;
    for (size_t first = 1; first < size; first += step)
        for (size_t second = first + 1; second < size; second += step)
            s_check_cuts (format, &whole, text, (size_t [2]) { first, second }, 2, watch);
    size_t *bytes = malloc ((size ? size : 1) * sizeof (size_t));
    for (size_t at = 1; at < size; at++)
        bytes [at - 1] = at;
    s_check_cuts (format, &whole, text, bytes, size ? size - 1 : 0, watch);
    free (bytes);
    s_result_free (&whole);
}

#endif
