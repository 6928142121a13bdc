/*  xinf_value_json: a value tree written as JSON, for tools and the
    gateway (bins as hex strings, invalid UTF-8 as U+FFFD, non-finite
    floats as null), through xinf_value's accessors.  */
#include "xinf_value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

//  The shortest decimal that reads back as the same double: 38.145, not
//  38.145000000000003.
static void
s_print_double (double value, FILE *stream)
{
    char text [32];
    //  Whole numbers as such (12000, not 1.2e+04), while exact in a double
    if (value == trunc (value) && fabs (value) < 1e15) {
        fprintf (stream, "%.0f", value);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf (text, sizeof text, "%.*g", precision, value);
        if (strtod (text, NULL) == value)
            break;
    }
    fputs (text, stream);
}

//  Length of the valid UTF-8 sequence at 'bytes' (1-4), or 0 if invalid.
static size_t
s_utf8_length (const unsigned char *bytes, size_t left)
{
    unsigned char c = bytes [0];
    size_t length = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (length == 0 || length > left || (length == 2 && c < 0xc2) || (length == 4 && c > 0xf4))
        return 0;
    for (size_t index = 1; index < length; index++)
        if ((bytes [index] & 0xc0) != 0x80)
            return 0;
    if ((length == 3 && c == 0xe0 && bytes [1] < 0xa0) || (length == 4 && c == 0xf0 && bytes [1] < 0x90)
    ||  (length == 3 && c == 0xed && bytes [1] >= 0xa0) || (length == 4 && c == 0xf4 && bytes [1] >= 0x90))
        return 0;
    return length;
}

//  A JSON string; bytes that are not valid UTF-8 become U+FFFD.
static void
s_print_string (const char *text, size_t size, FILE *stream)
{
    const unsigned char *bytes = (const unsigned char *) text;
    fputc ('"', stream);
    for (size_t index = 0; index < size; ) {
        unsigned char c = bytes [index];
        size_t length = s_utf8_length (bytes + index, size - index);
        if (length == 0) {
            fputs ("\\ufffd", stream);
            index++;
            continue;
        }
        if (c == '"' || c == '\\')
            fprintf (stream, "\\%c", c);
        else
        if (c < 0x20 || c == 0x7f)
            fprintf (stream, "\\u%04x", c);
        else
            fwrite (bytes + index, 1, length, stream);
        index += length;
    }
    fputc ('"', stream);
}

void
xinf_value_print_json (const xinf_value_t *self, FILE *stream)
{
    if (!self) {
        fputs ("null", stream);
        return;
    }
    const char *bytes;
    size_t size;
    switch (xinf_value_type (self)) {
        case XINF_NIL:   fputs ("null", stream); break;
        case XINF_BOOL:  fputs (xinf_value_bool (self) ? "true" : "false", stream); break;
        case XINF_UINT:  fprintf (stream, "%llu", (unsigned long long) xinf_value_uint (self)); break;
        case XINF_INT:   fprintf (stream, "%lld", (long long) xinf_value_int (self)); break;
        case XINF_FLOAT:
            if (isfinite (xinf_value_float (self)))
                s_print_double (xinf_value_float (self), stream);
            else
                fputs ("null", stream);
            break;
        case XINF_STR:
            bytes = xinf_value_bytes (self, &size);
            s_print_string (bytes, size, stream);
            break;
        case XINF_BIN:
            bytes = xinf_value_bytes (self, &size);
            fputc ('"', stream);
            for (size_t index = 0; index < size; index++)
                fprintf (stream, "%02x", (unsigned char) bytes [index]);
            fputc ('"', stream);
            break;
        case XINF_ARRAY:
            fputc ('[', stream);
            for (size_t index = 0; index < xinf_value_count (self); index++) {
                if (index)
                    fputc (',', stream);
                xinf_value_print_json (xinf_array_at (self, index), stream);
            }
            fputc (']', stream);
            break;
        case XINF_MAP:
            fputc ('{', stream);
            for (size_t index = 0; index < xinf_value_count (self); index++) {
                if (index)
                    fputc (',', stream);
                const char *key = xinf_map_key_at (self, index);
                s_print_string (key, strlen (key), stream);
                fputc (':', stream);
                xinf_value_print_json (xinf_map_value_at (self, index), stream);
            }
            fputc ('}', stream);
            break;
    }
}
