/*  xinf_value_msgpack: xinf_value trees to and from msgpack-c objects.

    The runtime reads and writes MessagePack bytes itself (xinf_value_read,
    xinf_value_write); msgpack-c's objects remain for the few callers that
    pack with msgpack-c and for the tests, which check both ways against
    each other. Only the public xinf_value API is used here.
*/
#include "xinf_value.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Maps up to this size check their keys for duplicates pairwise, without
//  sorting (and without allocating)
#define S_SMALL_MAP  16

int
xinf_value_pack (const xinf_value_t *self, msgpack_packer *packer)
{
    int rc = 0;
    size_t size;
    const void *bytes = xinf_value_bytes (self, &size);
    switch (xinf_value_type (self)) {
        case XINF_NIL:   return msgpack_pack_nil (packer);
        case XINF_BOOL:  return xinf_value_bool (self) ? msgpack_pack_true (packer) : msgpack_pack_false (packer);
        case XINF_UINT:  return msgpack_pack_uint64 (packer, xinf_value_uint (self));
        case XINF_INT:   return msgpack_pack_int64 (packer, xinf_value_int (self));
        case XINF_FLOAT: return msgpack_pack_double (packer, xinf_value_float (self));
        case XINF_STR:
            rc = msgpack_pack_str (packer, size);
            return rc ? rc : msgpack_pack_str_body (packer, bytes, size);
        case XINF_BIN:
            rc = msgpack_pack_bin (packer, size);
            return rc ? rc : msgpack_pack_bin_body (packer, bytes, size);
        case XINF_ARRAY:
            rc = msgpack_pack_array (packer, xinf_value_count (self));
            for (size_t index = 0; rc == 0 && index < xinf_value_count (self); index++)
                rc = xinf_value_pack (xinf_array_at (self, index), packer);
            return rc;
        case XINF_MAP:
            rc = msgpack_pack_map (packer, xinf_value_count (self));
            for (size_t index = 0; rc == 0 && index < xinf_value_count (self); index++) {
                const char *key = xinf_map_key_at (self, index);
                size_t length = strlen (key);
                rc = msgpack_pack_str (packer, length);
                if (rc == 0)
                    rc = msgpack_pack_str_body (packer, key, length);
                if (rc == 0)
                    rc = xinf_value_pack (xinf_map_value_at (self, index), packer);
            }
            return rc;
    }
    return -1;
}

static int
s_compare_keys (const void *a, const void *b)
{
    const msgpack_object_str *left = *(const msgpack_object_str * const *) a;
    const msgpack_object_str *right = *(const msgpack_object_str * const *) b;
    uint32_t shorter = left->size < right->size ? left->size : right->size;
    int order = shorter ? memcmp (left->ptr, right->ptr, shorter) : 0;
    return order ? order : (left->size > right->size) - (left->size < right->size);
}

//  Checks a decoded map's keys: strings under 256 bytes, no NUL, no key
//  twice. A large map's keys are sorted once, so that it costs n log n,
//  not n^2; a small one's are compared pairwise on the stack.
static int
s_check_keys (const msgpack_object_map *map, char *error, size_t error_size)
{
    if (map->size == 0)
        return 0;
    const msgpack_object_str *small [S_SMALL_MAP];
    const msgpack_object_str **keys = map->size <= S_SMALL_MAP ? small : malloc (map->size * sizeof *keys);
    assert (keys);
    const char *problem = NULL;
    for (uint32_t index = 0; !problem && index < map->size; index++) {
        const msgpack_object *key = &map->ptr [index].key;
        if (key->type != MSGPACK_OBJECT_STR)
            problem = "map keys must be str";
        else
        if (key->via.str.size && memchr (key->via.str.ptr, 0, key->via.str.size))
            problem = "map key contains a NUL byte";
        else
        if (key->via.str.size >= 256)
            problem = "map key longer than 255 bytes";
        else
            keys [index] = &key->via.str;
    }
    int rc = problem ? -1 : 0;
    if (problem)
        snprintf (error, error_size, "%s", problem);
    const msgpack_object_str *twice = NULL;
    if (rc == 0 && keys == small) {
        for (uint32_t index = 1; !twice && index < map->size; index++)
            for (uint32_t other = 0; !twice && other < index; other++)
                if (s_compare_keys (&keys [other], &keys [index]) == 0)
                    twice = keys [index];
    }
    else
    if (rc == 0) {
        qsort (keys, map->size, sizeof *keys, s_compare_keys);
        for (uint32_t index = 1; !twice && index < map->size; index++)
            if (s_compare_keys (&keys [index - 1], &keys [index]) == 0)
                twice = keys [index];
    }
    if (twice) {
        snprintf (error, error_size, "duplicate map key '%.*s'", (int) twice->size, twice->ptr);
        rc = -1;
    }
    if (keys != small)
        free (keys);
    return rc;
}

static xinf_value_t *
s_map_from_object (const msgpack_object_map *map, char *error, size_t error_size)
{
    if (s_check_keys (map, error, error_size))
        return NULL;
    xinf_value_t *self = xinf_value_new_map ();
    for (uint32_t index = 0; index < map->size; index++) {
        const msgpack_object_str *key = &map->ptr [index].key.via.str;
        xinf_value_t *value = xinf_value_from_object (&map->ptr [index].val, error, error_size);
        if (!value) {
            xinf_value_destroy (&self);
            return NULL;
        }
        char name [256];           //  checked: under 256 bytes, no NUL
        if (key->size)             //  msgpack-c gives ptr NULL for some empty strs
            memcpy (name, key->ptr, key->size);
        name [key->size] = 0;
        xinf_map_put (self, name, value);
    }
    return self;
}

xinf_value_t *
xinf_value_from_object (const msgpack_object *object, char *error, size_t error_size)
{
    switch (object->type) {
        case MSGPACK_OBJECT_NIL:              return xinf_value_new_nil ();
        case MSGPACK_OBJECT_BOOLEAN:          return xinf_value_new_bool (object->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return xinf_value_new_uint (object->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return xinf_value_new_int (object->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:          return xinf_value_new_float (object->via.f64);
        case MSGPACK_OBJECT_STR:   return xinf_value_new_strn (object->via.str.ptr, object->via.str.size);
        case MSGPACK_OBJECT_BIN:   return xinf_value_new_bin (object->via.bin.ptr, object->via.bin.size);
        case MSGPACK_OBJECT_ARRAY: {
            xinf_value_t *self = xinf_value_new_array ();
            for (uint32_t index = 0; index < object->via.array.size; index++) {
                xinf_value_t *item = xinf_value_from_object (&object->via.array.ptr [index], error, error_size);
                if (!item) {
                    xinf_value_destroy (&self);
                    return NULL;
                }
                xinf_array_push (self, item);
            }
            return self;
        }
        case MSGPACK_OBJECT_MAP:
            return s_map_from_object (&object->via.map, error, error_size);
        default:
            snprintf (error, error_size, "ext types are not accepted");
            return NULL;
    }
}
