/*  xinf_codec: what the generated protocol codecs share.  */
#include "xinf_codec.h"

bool
xinf_codec_has (const xinf_value_t *map, const char *key)
{
    const xinf_value_t *value = xinf_value_type (map) == XINF_MAP ? xinf_map_get (map, key) : NULL;
    return value && xinf_value_type (value) != XINF_NIL;
}

void
xinf_codec_enum (xinf_check_t *check, const char *key, const char *value, const char *const *values)
{
    if (!value || check->failed)
        return;
    for (size_t index = 0; values [index]; index++)
        if (streq (value, values [index]))
            return;
    char list [160] = "";
    for (size_t index = 0; values [index]; index++) {
        size_t used = strlen (list);
        snprintf (list + used, sizeof list - used, "%s%s", index ? ", " : "", values [index]);
    }
    xinf_check_fail (check, "field '%s' must be one of %s, got '%.64s'", key, list, value);
}

void
xinf_codec_chars (xinf_check_t *check, const char *key, const char *value, const char *allowed,
                  const char *described)
{
    if (value && !check->failed && value [strspn (value, allowed)])
        xinf_check_fail (check, "field '%s' may only hold %s", key, described);
}

void
xinf_codec_count_min (xinf_check_t *check, const char *key, const xinf_value_t *container, size_t min)
{
    if (container && !check->failed && xinf_value_count (container) < min)
        xinf_check_fail (check, "field '%s' has %zu elements, at least %zu needed", key,
                         xinf_value_count (container), min);
}

const xinf_value_t *
xinf_codec_any (xinf_check_t *check, const xinf_value_t *map, const char *key, bool required)
{
    if (check->failed)
        return NULL;
    if (xinf_value_type (map) != XINF_MAP) {
        xinf_check_fail (check, "field '%s': the body is not a map", key);
        return NULL;
    }
    const xinf_value_t *value = xinf_map_get (map, key);
    if (!value && required)
        xinf_check_fail (check, "field '%s' is missing", key);
    return value;
}

const char *
xinf_codec_item_key (char *buffer, size_t size, const char *key, size_t index)
{
    snprintf (buffer, size, "%s[%zu]", key, index);
    return buffer;
}

void
xinf_codec_within (xinf_check_t *check, bool failed_before, const char *where)
{
    if (failed_before || !check->failed)
        return;
    char reason [sizeof check->reason + 128];
    snprintf (reason, sizeof reason, "%.120s: %s", where, check->reason);
    size_t length = strlen (reason);
    if (length >= sizeof check->reason)
        length = sizeof check->reason - 1;
    memcpy (check->reason, reason, length);
    check->reason [length] = 0;
}

const char *
xinf_codec_item_raw (xinf_check_t *check, const xinf_value_t *value, const char *key, size_t min, size_t max)
{
    if (check->failed)
        return NULL;
    if (xinf_value_type (value) != XINF_STR) {
        xinf_check_fail (check, "field '%s' must be str, got %s", key, xinf_value_type_name (value));
        return NULL;
    }
    size_t length;
    const char *text = xinf_value_bytes (value, &length);
    if (length < min || length > max) {
        xinf_check_fail (check, "field '%s' has %zu bytes, must have %zu to %zu", key, length, min, max);
        return NULL;
    }
    return text;
}

const char *
xinf_codec_raw (xinf_check_t *check, const xinf_value_t *map, const char *key, size_t min, size_t max)
{
    const xinf_value_t *value = xinf_codec_any (check, map, key, true);
    return value ? xinf_codec_item_raw (check, value, key, min, max) : NULL;
}

void
xinf_codec_item_map (xinf_check_t *check, const xinf_value_t *value, const char *key)
{
    if (!check->failed && xinf_value_type (value) != XINF_MAP)
        xinf_check_fail (check, "field '%s' must be map, got %s", key, xinf_value_type_name (value));
}
