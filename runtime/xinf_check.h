/*  xinf_check: validating field readers for decoded message bodies.

    Every decoder reads its fields through these; the first problem is
    recorded with a precise reason and later reads return their default, so
    a handler checks once at the end:

        xinf_check_t check = XINF_CHECK_INIT;
        const char *name = xinf_check_str (&check, body, "name", 1, 64);
        uint64_t count = xinf_check_uint_opt (&check, body, "count", 1, 100, 1);
        if (check.failed)
            return reply_error (check.reason);   //  "field 'count' must be ..."
*/
#ifndef XINF_CHECK_H_INCLUDED
#define XINF_CHECK_H_INCLUDED

#include "xinf_value.h"

#include <stdarg.h>

typedef struct {
    bool failed;
    char reason [256];
} xinf_check_t;

#define XINF_CHECK_INIT { false, { 0 } }

//  Records a reason unless one is already recorded.
void xinf_check_fail (xinf_check_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Required fields: missing or wrong fields fail the check.
uint64_t xinf_check_uint (xinf_check_t *self, const xinf_value_t *map, const char *key, uint64_t min, uint64_t max);
int64_t xinf_check_int (xinf_check_t *self, const xinf_value_t *map, const char *key, int64_t min, int64_t max);
double xinf_check_float (xinf_check_t *self, const xinf_value_t *map, const char *key, double min, double max);
bool xinf_check_bool (xinf_check_t *self, const xinf_value_t *map, const char *key);
//  A str of min..max bytes without NUL bytes, valid UTF-8 (no overlong
//  forms, no surrogates, nothing past U+10FFFF, no cut sequence): the
//  reason names the field and the offset of the first bad byte. Every
//  text a peer sends is read so; bytes that are not text (a token's bytes,
//  a partial character by design) are read with xinf_codec_raw.
const char *xinf_check_str (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t min, size_t max);
const void *xinf_check_bin (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t max, size_t *size);
const xinf_value_t *xinf_check_array (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t max);
const xinf_value_t *xinf_check_map (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t max);

//  Optional fields: missing (or nil) gives the fallback; present but wrong fails.
uint64_t xinf_check_uint_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, uint64_t min, uint64_t max, uint64_t fallback);
int64_t xinf_check_int_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, int64_t min, int64_t max, int64_t fallback);
double xinf_check_float_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, double min, double max, double fallback);
bool xinf_check_bool_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, bool fallback);
//  True when the bytes are valid UTF-8 (no overlong forms, no surrogates,
//  nothing past U+10FFFF); else false with the offset of the first bad
//  sequence in 'at'.
bool xinf_utf8_valid (const char *text, size_t length, size_t *at);
//  Formats a reason into 'error' (valid UTF-8 even when the buffer cuts
//  it) and returns -1: `return xinf_fail (error, size, "...", ...);`.
int xinf_fail (char *error, size_t error_size, const char *format, ...) __attribute__ ((format (printf, 3, 4)));
//  Cuts a character that a fixed buffer cut in two (snprintf truncates by
//  bytes) off the end of 'text', so that text formatted from valid UTF-8
//  stays valid. Returns text.
char *xinf_utf8_trim (char *text);
//  Removes, in place, every byte of 'text' that is not part of a valid
//  UTF-8 character: the end a fixed buffer cut, and a character that a
//  precision (%.64s) cut in the middle. Returns text. For the texts a node
//  writes itself (errors, notes, details) before it sends them, so that a
//  peer's check never refuses them.
char *xinf_utf8_scrub (char *text);
//  snprintf, then xinf_utf8_scrub: a text a node sends, formatted into a
//  fixed buffer. Returns buffer.
char *xinf_textf (char *buffer, size_t size, const char *format, ...) __attribute__ ((format (printf, 3, 4)));
//  The same with a va_list (the variadic functions that format a text to
//  send: errors, events, problems). Returns buffer.
char *xinf_vtextf (char *buffer, size_t size, const char *format, va_list args)
    __attribute__ ((format (printf, 3, 0)));
const char *xinf_check_str_opt (xinf_check_t *self, const xinf_value_t *map, const char *key, size_t min, size_t max, const char *fallback);

//  One value that is not a map entry (an array item), with the same rules
//  and reasons; 'key' names it in the reason, e.g. "tokens[3]".
uint64_t xinf_check_item_uint (xinf_check_t *self, const xinf_value_t *value, const char *key, uint64_t min, uint64_t max);
int64_t xinf_check_item_int (xinf_check_t *self, const xinf_value_t *value, const char *key, int64_t min, int64_t max);
double xinf_check_item_float (xinf_check_t *self, const xinf_value_t *value, const char *key, double min, double max);
bool xinf_check_item_bool (xinf_check_t *self, const xinf_value_t *value, const char *key);
const char *xinf_check_item_str (xinf_check_t *self, const xinf_value_t *value, const char *key, size_t min, size_t max);

#endif
