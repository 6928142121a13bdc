/*  xinf_codec: what the generated protocol codecs (xinf_<proto>_msg.c,
    made by xinf_gen.py from the protocol schemas *.xml in this folder)
    share beyond runtime/xinf_check.h: optional fields, enumerations,
    character sets, element counts and the naming of a bad field inside
    an array of maps.
*/
#ifndef XINF_CODEC_H_INCLUDED
#define XINF_CODEC_H_INCLUDED

#include "xinf.h"

//  True when the map holds the key with a value other than nil.
bool xinf_codec_has (const xinf_value_t *map, const char *key);

//  Fails the check unless 'value' (may be NULL: no check) is one of the
//  NULL-terminated 'values'.
void xinf_codec_enum (xinf_check_t *check, const char *key, const char *value, const char *const *values);

//  Fails the check unless every byte of 'value' (may be NULL) is in
//  'allowed'; the reason says "may only hold 'described'".
void xinf_codec_chars (xinf_check_t *check, const char *key, const char *value, const char *allowed,
                       const char *described);

//  Fails the check when a container (may be NULL) has fewer than 'min' elements.
void xinf_codec_count_min (xinf_check_t *check, const char *key, const xinf_value_t *container, size_t min);

//  A field of any type: the value, or NULL; a missing required one fails.
const xinf_value_t *xinf_codec_any (xinf_check_t *check, const xinf_value_t *map, const char *key, bool required);

//  A str of min..max bytes, any bytes (NUL and partial UTF-8 included: a
//  token's text); NULL when missing (a failure) or wrong.
const char *xinf_codec_raw (xinf_check_t *check, const xinf_value_t *map, const char *key, size_t min, size_t max);
const char *xinf_codec_item_raw (xinf_check_t *check, const xinf_value_t *value, const char *key, size_t min, size_t max);

//  Fails the check unless an array item is a map (before its fields are read).
void xinf_codec_item_map (xinf_check_t *check, const xinf_value_t *value, const char *key);

//  "key[index]" into buffer, for the reasons of array items.
const char *xinf_codec_item_key (char *buffer, size_t size, const char *key, size_t index);

//  After checking a map inside a field: when the check failed in it (it
//  had not before), the reason is prefixed with where, e.g.
//  "devices[2]: field 'kind' ...".
void xinf_codec_within (xinf_check_t *check, bool failed_before, const char *where);

#endif
