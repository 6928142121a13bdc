/*  xinf_check: validating field readers for decoded message bodies.  */
#include "xinf_check.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

void
xinf_check_fail (xinf_check_t *self, const char *format, ...)
{
    if (self->failed)
        return;
    self->failed = true;
    va_list args;
    va_start (args, format);
    xinf_vtextf (self->reason, sizeof self->reason, format, args);
    va_end (args);
}

//  Looks up a field; fails the check when 'required' and it is missing.
static const xinf_value_t *
s_field (xinf_check_t *self, const xinf_value_t *map, const char *key, bool required)
{
    if (self->failed)
        return NULL;
    if (xinf_value_type (map) != XINF_MAP) {
        xinf_check_fail (self, "field '%s': the body is not a map", key);
        return NULL;
    }
    const xinf_value_t *value = xinf_map_get (map, key);
    if (value && xinf_value_type (value) == XINF_NIL && !required)
        value = NULL;
    if (!value && required)
        xinf_check_fail (self, "field '%s' is missing", key);
    return value;
}

static void
s_wrong_type (xinf_check_t *self, const char *key, const char *wanted, const xinf_value_t *value)
{
    xinf_check_fail (self, "field '%s' must be %s, got %s", key, wanted, xinf_value_type_name (value));
}

static uint64_t
s_uint (xinf_check_t *self, const xinf_value_t *value, const char *key, uint64_t min, uint64_t max, uint64_t fallback)
{
    if (xinf_value_type (value) != XINF_UINT) {
        s_wrong_type (self, key, "uint64", value);
        return fallback;
    }
    uint64_t number = xinf_value_uint (value);
    if (number < min || number > max) {
        xinf_check_fail (self, "field '%s' is %llu, must be in [%llu, %llu]", key,
                         (unsigned long long) number, (unsigned long long) min, (unsigned long long) max);
        return fallback;
    }
    return number;
}

static int64_t
s_int (xinf_check_t *self, const xinf_value_t *value, const char *key, int64_t min, int64_t max, int64_t fallback)
{
    xinf_type_t type = xinf_value_type (value);
    if (type != XINF_INT && !(type == XINF_UINT && xinf_value_uint (value) <= INT64_MAX)) {
        s_wrong_type (self, key, "int64", value);
        return fallback;
    }
    int64_t number = xinf_value_int (value);
    if (number < min || number > max) {
        xinf_check_fail (self, "field '%s' is %lld, must be in [%lld, %lld]", key,
                         (long long) number, (long long) min, (long long) max);
        return fallback;
    }
    return number;
}

static double
s_float (xinf_check_t *self, const xinf_value_t *value, const char *key, double min, double max, double fallback)
{
    xinf_type_t type = xinf_value_type (value);
    if (type != XINF_FLOAT && type != XINF_UINT && type != XINF_INT) {
        s_wrong_type (self, key, "a number", value);
        return fallback;
    }
    double number = xinf_value_float (value);
    if (!isfinite (number) || number < min || number > max) {
        xinf_check_fail (self, "field '%s' is %g, must be in [%g, %g]", key, number, min, max);
        return fallback;
    }
    return number;
}

static bool
s_bool (xinf_check_t *self, const xinf_value_t *value, const char *key, bool fallback)
{
    if (xinf_value_type (value) != XINF_BOOL) {
        s_wrong_type (self, key, "bool", value);
        return fallback;
    }
    return xinf_value_bool (value);
}

static const char *
s_str (xinf_check_t *self, const xinf_value_t *value, const char *key, size_t min, size_t max, const char *fallback)
{
    if (xinf_value_type (value) != XINF_STR) {
        s_wrong_type (self, key, "str", value);
        return fallback;
    }
    size_t length;
    const char *text = xinf_value_bytes (value, &length);
    if (length < min || length > max) {
        xinf_check_fail (self, "field '%s' has %zu bytes, must have %zu to %zu", key, length, min, max);
        return fallback;
    }
    if (memchr (text, 0, length)) {
        xinf_check_fail (self, "field '%s' contains a NUL byte", key);
        return fallback;
    }
    size_t at;
    if (!xinf_utf8_valid (text, length, &at)) {
        xinf_check_fail (self, "field '%s' is not valid UTF-8 (byte %zu)", key, at);
        return fallback;
    }
    return text;
}

uint64_t
xinf_check_uint (xinf_check_t *self, const xinf_value_t *map, const char *key, uint64_t min, uint64_t max)
{
    const xinf_value_t *value = s_field (self, map, key, true);
    return value ? s_uint (self, value, key, min, max, 0) : 0;
}

int64_t
xinf_check_int (xinf_check_t *self, const xinf_value_t *map, const char *key, int64_t min, int64_t max)
{
    const xinf_value_t *value = s_field (self, map, key, true);
    return value ? s_int (self, value, key, min, max, 0) : 0;
}

double
xinf_check_float (xinf_check_t *self, const xinf_value_t *map, const char *key, double min, double max)
{
    const xinf_value_t *value = s_field (self, map, key, true);
    return value ? s_float (self, value, key, min, max, 0) : 0;
}

bool
xinf_check_bool (xinf_check_t *self, const xinf_value_t *map, const char *key)
{
    const xinf_value_t *value = s_field (self, map, key, true);
    return value ? s_bool (self, value, key, false) : false;
}

const char *
xinf_check_str (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t min, size_t max)
{
    const xinf_value_t *value = s_field (self, map, key, true);
    return value ? s_str (self, value, key, min, max, NULL) : NULL;
}

const void *
xinf_check_bin (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t max, size_t *size)
{
    *size = 0;
    const xinf_value_t *value = s_field (self, map, key, true);
    if (!value)
        return NULL;
    if (xinf_value_type (value) != XINF_BIN) {
        s_wrong_type (self, key, "bin", value);
        return NULL;
    }
    size_t length;
    const void *bytes = xinf_value_bytes (value, &length);
    if (length > max) {
        xinf_check_fail (self, "field '%s' has %zu bytes, at most %zu allowed", key, length, max);
        return NULL;
    }
    *size = length;
    return bytes;
}

static const xinf_value_t *
s_container (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t max, xinf_type_t type)
{
    const xinf_value_t *value = s_field (self, map, key, true);
    if (!value)
        return NULL;
    if (xinf_value_type (value) != type) {
        s_wrong_type (self, key, type == XINF_MAP ? "map" : "array", value);
        return NULL;
    }
    if (xinf_value_count (value) > max) {
        xinf_check_fail (self, "field '%s' has %zu elements, at most %zu allowed", key, xinf_value_count (value), max);
        return NULL;
    }
    return value;
}

const xinf_value_t *
xinf_check_array (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t max)
{
    return s_container (self, map, key, max, XINF_ARRAY);
}

const xinf_value_t *
xinf_check_map (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t max)
{
    return s_container (self, map, key, max, XINF_MAP);
}

uint64_t
xinf_check_uint_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, uint64_t min, uint64_t max, uint64_t fallback)
{
    const xinf_value_t *value = s_field (self, map, key, false);
    return value ? s_uint (self, value, key, min, max, fallback) : fallback;
}

int64_t
xinf_check_int_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, int64_t min, int64_t max, int64_t fallback)
{
    const xinf_value_t *value = s_field (self, map, key, false);
    return value ? s_int (self, value, key, min, max, fallback) : fallback;
}

double
xinf_check_float_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, double min, double max, double fallback)
{
    const xinf_value_t *value = s_field (self, map, key, false);
    return value ? s_float (self, value, key, min, max, fallback) : fallback;
}

bool
xinf_check_bool_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, bool fallback)
{
    const xinf_value_t *value = s_field (self, map, key, false);
    return value ? s_bool (self, value, key, fallback) : fallback;
}

const char *
xinf_check_str_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t min, size_t max, const char *fallback)
{
    const xinf_value_t *value = s_field (self, map, key, false);
    return value ? s_str (self, value, key, min, max, fallback) : fallback;
}

//  The size of the valid UTF-8 character at bytes [index], or 0 when it is
//  not one (no overlong forms, no surrogates, nothing past U+10FFFF).
static size_t
s_utf8_char (const unsigned char *bytes, size_t length, size_t index)
{
    unsigned char lead = bytes [index];
    size_t size = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3
                : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    bool good = size > 0 && index + size <= length;
    for (size_t k = 1; good && k < size; k++)
        good = (bytes [index + k] & 0xc0) == 0x80;
    if (good && size == 3)
        good = !(lead == 0xe0 && bytes [index + 1] < 0xa0) && !(lead == 0xed && bytes [index + 1] >= 0xa0);
    if (good && size == 4)
        good = !(lead == 0xf0 && bytes [index + 1] < 0x90) && !(lead == 0xf4 && bytes [index + 1] >= 0x90);
    return good ? size : 0;
}

bool
xinf_utf8_valid (const char *text, size_t length, size_t *at)
{
    const unsigned char *bytes = (const unsigned char *) text;
    size_t index = 0;
    while (index < length) {
        //  ASCII, the usual text (names, keys): eight bytes at a time, then one
        uint64_t eight;
        if (index + 8 <= length) {
            memcpy (&eight, bytes + index, 8);
            if ((eight & 0x8080808080808080ULL) == 0) {
                index += 8;
                continue;
            }
        }
        if (bytes [index] < 0x80) {
            index++;
            continue;
        }
        size_t size = s_utf8_char (bytes, length, index);
        if (!size) {
            if (at)
                *at = index;
            return false;
        }
        index += size;
    }
    return true;
}

char *
xinf_utf8_scrub (char *text)
{
    unsigned char *bytes = (unsigned char *) text;
    size_t length = strlen (text);
    size_t kept = 0;
    for (size_t index = 0; index < length;) {
        size_t size = s_utf8_char (bytes, length, index);
        if (size) {
            memmove (bytes + kept, bytes + index, size);
            kept += size;
            index += size;
        }
        else
            index++;
    }
    bytes [kept] = 0;
    return text;
}

char *
xinf_vtextf (char *buffer, size_t size, const char *format, va_list args)
{
    vsnprintf (buffer, size, format, args);
    return size ? xinf_utf8_scrub (buffer) : buffer;
}

char *
xinf_textf (char *buffer, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    xinf_vtextf (buffer, size, format, args);
    va_end (args);
    return buffer;
}

int
xinf_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    xinf_vtextf (error, error_size, format, args);
    va_end (args);
    return -1;
}

char *
xinf_utf8_trim (char *text)
{
    size_t length = strlen (text);
    //  The last character's lead byte is at most 3 bytes back
    size_t start = length;
    while (start > 0 && length - start < 4 && ((unsigned char) text [start - 1] & 0xc0) == 0x80)
        start--;
    if (start == 0 || ((unsigned char) text [start - 1] & 0x80) == 0)
        return text;                  //  ends in ASCII, or no lead byte found
    start--;                          //  the lead byte
    unsigned char lead = (unsigned char) text [start];
    size_t size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (length - start < size)
        text [start] = 0;
    return text;
}

uint64_t
xinf_check_item_uint (xinf_check_t *self, const xinf_value_t *value, const char *key, uint64_t min, uint64_t max)
{
    return self->failed ? 0 : s_uint (self, value, key, min, max, 0);
}

int64_t
xinf_check_item_int (xinf_check_t *self, const xinf_value_t *value, const char *key, int64_t min, int64_t max)
{
    return self->failed ? 0 : s_int (self, value, key, min, max, 0);
}

double
xinf_check_item_float (xinf_check_t *self, const xinf_value_t *value, const char *key, double min, double max)
{
    return self->failed ? 0 : s_float (self, value, key, min, max, 0);
}

bool
xinf_check_item_bool (xinf_check_t *self, const xinf_value_t *value, const char *key)
{
    return self->failed ? false : s_bool (self, value, key, false);
}

const char *
xinf_check_item_str (xinf_check_t *self, const xinf_value_t *value, const char *key, size_t min, size_t max)
{
    return self->failed ? NULL : s_str (self, value, key, min, max, NULL);
}
