/*  xinf_value: a MessagePack value tree for message bodies.

    A map carries an arena after its first entries: its keys and its
    small values (scalars, short strings and bins put with the
    xinf_map_put_* helpers, or read from the wire) are placed there, so
    that a small body is one allocation, not one per key and value. Such
    a value is "pooled": its memory is the map's, destroying it frees
    only what it owns itself, and xinf_map_take hands out a copy. A map
    can itself live in memory the caller owns (xinf_value_new_map_in: a
    message's body in the message's own block).
*/
#include "xinf_value.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct _xinf_value_t {
    xinf_type_t type;
    bool pooled;                    //  in memory it does not own: never freed itself
    union {
        bool flag;
        uint64_t uint;
        int64_t sint;
        double real;
        struct {
            char *bytes;            //  STR and BIN, right after the value in
            size_t size;            //  one block; STR has a trailing NUL
        } blob;
        struct {
            xinf_value_t **items;
            char **keys;            //  MAP only: after the items, one block
            size_t count;
            size_t capacity;
            char *arena;            //  MAP only: keys and pooled values
            uint32_t arena_used, arena_size;
        } list;
    } u;
};

//  A new container has room for its first S_INLINE entries (items, and a
//  map's keys after them) and a new map an arena of S_ARENA bytes, append
//  only (what is taken out or replaced leaves its bytes unused). What
//  does not fit is allocated alone.
#define S_INLINE  4
#define S_ARENA   256

//  A map read from the wire: its entries inline up to S_READ_INLINE, and
//  S_READ_ARENA bytes of arena an entry, a block of at most S_READ_BLOCK
#define S_READ_INLINE  32
#define S_READ_ARENA   96
#define S_READ_BLOCK   2048

//  Maps up to this size check their keys for duplicates pairwise, without
//  sorting (and without allocating)
#define S_SMALL_MAP  16

//  'size' bytes from a map's arena (8-byte aligned when 'align'); NULL
//  when 'owner' is not a map or its arena is full.
static void *
s_arena_take (xinf_value_t *owner, size_t size, bool align)
{
    if (!owner || owner->type != XINF_MAP)
        return NULL;
    size_t at = align ? ((size_t) owner->u.list.arena_used + 7) & ~(size_t) 7 : owner->u.list.arena_used;
    if (at + size > owner->u.list.arena_size)
        return NULL;
    owner->u.list.arena_used = (uint32_t) (at + size);
    return owner->u.list.arena + at;
}

static bool
s_in_arena (const xinf_value_t *self, const void *memory)
{
    const char *at = (const char *) memory;
    return at >= self->u.list.arena && at < self->u.list.arena + self->u.list.arena_size;
}

//  A value of 'extra' more bytes: in the owner map's arena when it fits
//  (pooled), else allocated.
static xinf_value_t *
s_new_in (xinf_value_t *owner, xinf_type_t type, size_t extra)
{
    xinf_value_t *self = (xinf_value_t *) s_arena_take (owner, sizeof *self + extra, true);
    bool pooled = self != NULL;
    //  malloc and memset, not calloc: glibc's calloc skips the per-thread cache
    if (!self)
        self = malloc (sizeof *self + extra);
    assert (self);
    memset (self, 0, sizeof *self);
    self->type = type;
    self->pooled = pooled;
    return self;
}

static xinf_value_t *s_new (xinf_type_t type) { return s_new_in (NULL, type, 0); }
xinf_value_t *xinf_value_new_nil (void) { return s_new (XINF_NIL); }

static xinf_value_t *
s_new_bool (xinf_value_t *owner, bool flag)
{
    xinf_value_t *self = s_new_in (owner, XINF_BOOL, 0);
    self->u.flag = flag;
    return self;
}

static xinf_value_t *
s_new_uint (xinf_value_t *owner, uint64_t number)
{
    xinf_value_t *self = s_new_in (owner, XINF_UINT, 0);
    self->u.uint = number;
    return self;
}

static xinf_value_t *
s_new_int (xinf_value_t *owner, int64_t number)
{
    if (number >= 0)
        return s_new_uint (owner, (uint64_t) number);
    xinf_value_t *self = s_new_in (owner, XINF_INT, 0);
    self->u.sint = number;
    return self;
}

static xinf_value_t *
s_new_float (xinf_value_t *owner, double number)
{
    xinf_value_t *self = s_new_in (owner, XINF_FLOAT, 0);
    self->u.real = number;
    return self;
}

xinf_value_t *xinf_value_new_bool (bool flag) { return s_new_bool (NULL, flag); }
xinf_value_t *xinf_value_new_uint (uint64_t number) { return s_new_uint (NULL, number); }
xinf_value_t *xinf_value_new_int (int64_t number) { return s_new_int (NULL, number); }
xinf_value_t *xinf_value_new_float (double number) { return s_new_float (NULL, number); }

//  The value and its bytes in one block (one malloc per string, or none
//  in the owner's arena).
static xinf_value_t *
s_new_blob (xinf_value_t *owner, xinf_type_t type, const void *data, size_t size)
{
    xinf_value_t *self = s_new_in (owner, type, size + 1);
    self->u.blob.bytes = (char *) (self + 1);
    if (size)
        memcpy (self->u.blob.bytes, data, size);
    self->u.blob.bytes [size] = 0;
    self->u.blob.size = size;
    return self;
}

xinf_value_t *xinf_value_new_strn (const char *text, size_t length) { return s_new_blob (NULL, XINF_STR, text, length); }
xinf_value_t *xinf_value_new_str (const char *text) { return xinf_value_new_strn (text ? text : "", text ? strlen (text) : 0); }
xinf_value_t *xinf_value_new_bin (const void *data, size_t size) { return s_new_blob (NULL, XINF_BIN, data, size); }

//  The block of a container with 'capacity' inline entries (and a map's
//  arena of 'arena' bytes) after the value.
static size_t
s_container_size (xinf_type_t type, size_t capacity, size_t arena)
{
    bool map = type == XINF_MAP;
    return sizeof (xinf_value_t) + capacity * (sizeof (xinf_value_t *) + (map ? sizeof (char *) : 0)) + (map ? arena : 0);
}

//  Lays a container out in 'memory' (s_container_size bytes).
static xinf_value_t *
s_container_init (void *memory, bool pooled, xinf_type_t type, size_t capacity, size_t arena)
{
    bool map = type == XINF_MAP;
    xinf_value_t *self = (xinf_value_t *) memory;
    memset (self, 0, sizeof *self);
    self->type = type;
    self->pooled = pooled;
    self->u.list.items = (xinf_value_t **) (self + 1);
    self->u.list.keys = map ? (char **) (self->u.list.items + capacity) : NULL;
    self->u.list.capacity = capacity;
    self->u.list.arena = map ? (char *) (self->u.list.items + capacity * 2) : NULL;
    self->u.list.arena_size = map ? (uint32_t) arena : 0;
    return self;
}

static xinf_value_t *
s_new_container (xinf_type_t type, size_t capacity, size_t arena)
{
    void *memory = malloc (s_container_size (type, capacity, arena));
    assert (memory);
    return s_container_init (memory, false, type, capacity, arena);
}

xinf_value_t *xinf_value_new_array (void) { return s_new_container (XINF_ARRAY, S_INLINE, 0); }
xinf_value_t *xinf_value_new_map (void) { return s_new_container (XINF_MAP, S_INLINE, S_ARENA); }

xinf_value_t *
xinf_value_new_map_in (void *memory, size_t size)
{
    assert (((uintptr_t) memory & 7) == 0);
    size_t base = s_container_size (XINF_MAP, S_INLINE, 0);
    if (size < base)
        return NULL;
    size_t arena = size - base < UINT32_MAX ? size - base : UINT32_MAX;
    return s_container_init (memory, true, XINF_MAP, S_INLINE, arena);
}

static bool
s_entries_inline (const xinf_value_t *self)
{
    return self->u.list.items == (xinf_value_t **) (self + 1);
}

//  A key's copy: in the map's arena when it fits, else allocated.
static char *
s_key_copy (xinf_value_t *self, const char *key, size_t length)
{
    char *copy = (char *) s_arena_take (self, length + 1, false);
    if (!copy)
        copy = malloc (length + 1);
    assert (copy);
    if (length)                    //  msgpack-c gives ptr NULL for some empty strs
        memcpy (copy, key, length);
    copy [length] = 0;
    return copy;
}

static void
s_key_free (xinf_value_t *self, char *key)
{
    if (!s_in_arena (self, key))
        free (key);
}

void
xinf_value_destroy (xinf_value_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xinf_value_t *self = *self_p;
    if (self->type == XINF_ARRAY || self->type == XINF_MAP) {
        for (size_t index = 0; index < self->u.list.count; index++) {
            xinf_value_destroy (&self->u.list.items [index]);
            if (self->u.list.keys)
                s_key_free (self, self->u.list.keys [index]);
        }
        if (!s_entries_inline (self))
            free (self->u.list.items);     //  the keys share its block
    }
    if (!self->pooled)
        free (self);
    *self_p = NULL;
}

//  A deep copy; its scalars, strings and bins in the owner map's arena
//  when they fit there (the owner is then the map it is put into).
static xinf_value_t *
s_dup_in (xinf_value_t *owner, const xinf_value_t *self)
{
    switch (self->type) {
        case XINF_STR:
        case XINF_BIN:
            return s_new_blob (owner, self->type, self->u.blob.bytes, self->u.blob.size);
        case XINF_ARRAY: {
            xinf_value_t *copy = xinf_value_new_array ();
            for (size_t index = 0; index < self->u.list.count; index++)
                xinf_array_push (copy, s_dup_in (NULL, self->u.list.items [index]));
            return copy;
        }
        case XINF_MAP: {
            xinf_value_t *copy = xinf_value_new_map ();
            for (size_t index = 0; index < self->u.list.count; index++)
                xinf_map_put_copy (copy, self->u.list.keys [index], self->u.list.items [index]);
            return copy;
        }
        default: {
            xinf_value_t *copy = s_new_in (owner, self->type, 0);
            copy->u = self->u;
            return copy;
        }
    }
}

xinf_value_t *
xinf_value_dup (const xinf_value_t *self)
{
    return self ? s_dup_in (NULL, self) : NULL;
}

xinf_type_t xinf_value_type (const xinf_value_t *self) { return self ? self->type : XINF_NIL; }

const char *
xinf_value_type_name (const xinf_value_t *self)
{
    static const char *names [] = { "nil", "bool", "uint64", "int64", "float", "str", "bin", "array", "map" };
    return self ? names [self->type] : "nothing";
}

bool xinf_value_bool (const xinf_value_t *self) { return self && self->type == XINF_BOOL && self->u.flag; }

uint64_t
xinf_value_uint (const xinf_value_t *self)
{
    if (self && self->type == XINF_UINT)
        return self->u.uint;
    return 0;
}

int64_t
xinf_value_int (const xinf_value_t *self)
{
    if (self && self->type == XINF_INT)
        return self->u.sint;
    if (self && self->type == XINF_UINT && self->u.uint <= INT64_MAX)
        return (int64_t) self->u.uint;
    return 0;
}

double
xinf_value_float (const xinf_value_t *self)
{
    if (!self)
        return 0;
    if (self->type == XINF_FLOAT)
        return self->u.real;
    if (self->type == XINF_UINT)
        return (double) self->u.uint;
    if (self->type == XINF_INT)
        return (double) self->u.sint;
    return 0;
}

const char *
xinf_value_str (const xinf_value_t *self)
{
    return self && self->type == XINF_STR ? self->u.blob.bytes : NULL;
}

const void *
xinf_value_bytes (const xinf_value_t *self, size_t *size)
{
    if (self && (self->type == XINF_STR || self->type == XINF_BIN)) {
        if (size)
            *size = self->u.blob.size;
        return self->u.blob.bytes;
    }
    if (size)
        *size = 0;
    return NULL;
}

size_t
xinf_value_count (const xinf_value_t *self)
{
    if (self && (self->type == XINF_ARRAY || self->type == XINF_MAP))
        return self->u.list.count;
    return 0;
}

//  Room for 'capacity' entries. A map's keys live in the items' block,
//  after the items: one allocation per container, not two.
static void
s_set_capacity (xinf_value_t *self, size_t capacity)
{
    if (capacity <= self->u.list.capacity)
        return;
    size_t count = self->u.list.count;
    bool map = self->type == XINF_MAP;
    xinf_value_t **items = malloc (capacity * (sizeof (xinf_value_t *) + (map ? sizeof (char *) : 0)));
    assert (items);
    char **keys = map ? (char **) (items + capacity) : NULL;
    if (count) {
        memcpy (items, self->u.list.items, count * sizeof (xinf_value_t *));
        if (map)
            memcpy (keys, self->u.list.keys, count * sizeof (char *));
    }
    if (!s_entries_inline (self))
        free (self->u.list.items);
    self->u.list.items = items;
    self->u.list.keys = keys;
    self->u.list.capacity = capacity;
}

//  Room for one more entry.
static void
s_grow (xinf_value_t *self)
{
    if (self->u.list.count == self->u.list.capacity)
        s_set_capacity (self, self->u.list.capacity ? self->u.list.capacity * 2 : 4);
}

void
xinf_array_push (xinf_value_t *self, xinf_value_t *item)
{
    assert (self && self->type == XINF_ARRAY && item);
    s_grow (self);
    self->u.list.items [self->u.list.count++] = item;
}

xinf_value_t *
xinf_array_at (const xinf_value_t *self, size_t index)
{
    if (!self || self->type != XINF_ARRAY || index >= self->u.list.count)
        return NULL;
    return self->u.list.items [index];
}

static ssize_t
s_find_key (const xinf_value_t *self, const char *key)
{
    for (size_t index = 0; index < self->u.list.count; index++)
        if (strcmp (self->u.list.keys [index], key) == 0)
            return (ssize_t) index;
    return -1;
}

void
xinf_map_put (xinf_value_t *self, const char *key, xinf_value_t *value)
{
    assert (self && self->type == XINF_MAP && key && value);
    ssize_t found = s_find_key (self, key);
    if (found >= 0) {
        xinf_value_destroy (&self->u.list.items [found]);
        self->u.list.items [found] = value;
        return;
    }
    s_grow (self);
    self->u.list.keys [self->u.list.count] = s_key_copy (self, key, strlen (key));
    self->u.list.items [self->u.list.count++] = value;
}

//  The helpers place small values in the map's arena (no allocation).
void
xinf_map_put_str (xinf_value_t *self, const char *key, const char *text)
{
    xinf_map_put (self, key, s_new_blob (self, XINF_STR, text ? text : "", text ? strlen (text) : 0));
}

void xinf_map_put_bin (xinf_value_t *self, const char *key, const void *data, size_t size) { xinf_map_put (self, key, s_new_blob (self, XINF_BIN, data, size)); }
void xinf_map_put_uint (xinf_value_t *self, const char *key, uint64_t number) { xinf_map_put (self, key, s_new_uint (self, number)); }
void xinf_map_put_int (xinf_value_t *self, const char *key, int64_t number) { xinf_map_put (self, key, s_new_int (self, number)); }
void xinf_map_put_float (xinf_value_t *self, const char *key, double number) { xinf_map_put (self, key, s_new_float (self, number)); }
void xinf_map_put_bool (xinf_value_t *self, const char *key, bool flag) { xinf_map_put (self, key, s_new_bool (self, flag)); }

void
xinf_map_put_copy (xinf_value_t *self, const char *key, const xinf_value_t *value)
{
    assert (value);
    xinf_map_put (self, key, s_dup_in (self, value));
}

xinf_value_t *
xinf_map_get (const xinf_value_t *self, const char *key)
{
    if (!self || self->type != XINF_MAP || !key)
        return NULL;
    ssize_t found = s_find_key (self, key);
    return found >= 0 ? self->u.list.items [found] : NULL;
}

const char *
xinf_map_key_at (const xinf_value_t *self, size_t index)
{
    if (!self || self->type != XINF_MAP || index >= self->u.list.count)
        return NULL;
    return self->u.list.keys [index];
}

xinf_value_t *
xinf_map_value_at (const xinf_value_t *self, size_t index)
{
    if (!self || self->type != XINF_MAP || index >= self->u.list.count)
        return NULL;
    return self->u.list.items [index];
}

xinf_value_t *
xinf_map_take (xinf_value_t *self, const char *key)
{
    if (!self || self->type != XINF_MAP)
        return NULL;
    ssize_t found = s_find_key (self, key);
    if (found < 0)
        return NULL;
    xinf_value_t *value = self->u.list.items [found];
    if (value->pooled) {
        //  Its memory stays with the map: the caller gets a copy of its own
        xinf_value_t *pooled = value;
        value = xinf_value_dup (pooled);
        xinf_value_destroy (&pooled);
    }
    s_key_free (self, self->u.list.keys [found]);
    size_t tail = self->u.list.count - (size_t) found - 1;
    memmove (&self->u.list.items [found], &self->u.list.items [found + 1], tail * sizeof (xinf_value_t *));
    memmove (&self->u.list.keys [found], &self->u.list.keys [found + 1], tail * sizeof (char *));
    self->u.list.count--;
    return value;
}

void
xinf_value_write (const xinf_value_t *self, xinf_mpbuf_t *buffer)
{
    switch (self->type) {
        case XINF_NIL:   xinf_mp_write_nil (buffer); break;
        case XINF_BOOL:  xinf_mp_write_bool (buffer, self->u.flag); break;
        case XINF_UINT:  xinf_mp_write_uint (buffer, self->u.uint); break;
        case XINF_INT:   xinf_mp_write_int (buffer, self->u.sint); break;
        case XINF_FLOAT: xinf_mp_write_double (buffer, self->u.real); break;
        case XINF_STR:   xinf_mp_write_str (buffer, self->u.blob.bytes, self->u.blob.size); break;
        case XINF_BIN:   xinf_mp_write_bin (buffer, self->u.blob.bytes, self->u.blob.size); break;
        case XINF_ARRAY:
            xinf_mp_write_array (buffer, self->u.list.count);
            for (size_t index = 0; index < self->u.list.count; index++)
                xinf_value_write (self->u.list.items [index], buffer);
            break;
        case XINF_MAP:
            xinf_mp_write_map (buffer, self->u.list.count);
            for (size_t index = 0; index < self->u.list.count; index++) {
                xinf_mp_write_str (buffer, self->u.list.keys [index], strlen (self->u.list.keys [index]));
                xinf_value_write (self->u.list.items [index], buffer);
            }
            break;
    }
}

//  Appends an entry whose key is known to be new.
static void
s_map_append (xinf_value_t *self, const char *key, size_t length, xinf_value_t *value)
{
    s_grow (self);
    self->u.list.keys [self->u.list.count] = s_key_copy (self, key, length);
    self->u.list.items [self->u.list.count++] = value;
}

// ---- reading MessagePack bytes ------------------------------------------------

#define S_READ_DEPTH  64          //  xinf_mpscan's walk allows at most this

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(const char * const *) a, *(const char * const *) b);
}

//  A read map's keys (NUL-free, so strcmp compares them whole): none
//  twice. Small maps pairwise, large ones sorted once.
static int
s_check_unique (const xinf_value_t *self, char *error, size_t error_size)
{
    size_t count = self->u.list.count;
    char **keys = self->u.list.keys;
    const char *twice = NULL;
    if (count <= S_SMALL_MAP) {
        for (size_t index = 1; !twice && index < count; index++)
            for (size_t other = 0; !twice && other < index; other++)
                if (strcmp (keys [other], keys [index]) == 0)
                    twice = keys [index];
    }
    else {
        const char **sorted = malloc (count * sizeof *sorted);
        assert (sorted);
        memcpy (sorted, keys, count * sizeof *sorted);
        qsort (sorted, count, sizeof *sorted, s_compare_names);
        for (size_t index = 1; !twice && index < count; index++)
            if (strcmp (sorted [index - 1], sorted [index]) == 0)
                twice = sorted [index];
        if (twice)
            snprintf (error, error_size, "duplicate map key '%s'", twice);
        free (sorted);
        return twice ? -1 : 0;
    }
    if (twice)
        snprintf (error, error_size, "duplicate map key '%s'", twice);
    return twice ? -1 : 0;
}

static xinf_value_t *s_read (xinf_mpread_t *reader, const xinf_mp_item_t *head, size_t depth,
                             xinf_value_t *owner, void *memory, size_t memory_size,
                             char *error, size_t error_size);

//  Room for 'count' elements, but no more than the bytes left could hold.
static void
s_reserve_elements (xinf_value_t *self, uint32_t count, const xinf_mpread_t *reader)
{
    size_t left = reader->size - reader->at;
    size_t wanted = count < left ? count : left;
    if (wanted > 0)
        s_set_capacity (self, wanted);
}

//  A map for 'count' entries (no more than the bytes left could hold): in
//  'memory' when its entries fit there, the rest its arena; else one
//  block with a small map's entries inline and an arena for its values.
static xinf_value_t *
s_read_map_new (const xinf_mpread_t *reader, uint32_t count, void *memory, size_t memory_size)
{
    size_t left = reader->size - reader->at;
    size_t wanted = count < left ? count : left;
    size_t capacity = wanted <= S_READ_INLINE ? wanted : S_INLINE;
    size_t base = s_container_size (XINF_MAP, capacity, 0);
    xinf_value_t *self;
    if (memory && base <= memory_size) {
        size_t arena = memory_size - base < UINT32_MAX ? memory_size - base : UINT32_MAX;
        self = s_container_init (memory, true, XINF_MAP, capacity, arena);
    }
    else {
        size_t arena = capacity * S_READ_ARENA;
        self = s_new_container (XINF_MAP, capacity, base + arena <= S_READ_BLOCK ? arena : S_READ_BLOCK - base);
    }
    if (wanted > capacity)
        s_set_capacity (self, wanted);
    return self;
}

static xinf_value_t *
s_read_map (xinf_mpread_t *reader, uint32_t count, size_t depth, void *memory, size_t memory_size,
            char *error, size_t error_size)
{
    xinf_value_t *self = s_read_map_new (reader, count, memory, memory_size);
    const char *problem = NULL;
    for (uint32_t index = 0; !problem && index < count; index++) {
        xinf_mp_item_t key;
        if (xinf_mp_read (reader, &key))
            problem = "msgpack: truncated or not acceptable map key";
        else
        if (reader->budget && reader->budget->objects == 0)
            problem = "msgpack: more objects than allowed";
        else
        if (key.kind != XINF_MP_STR)
            problem = "map keys must be str";
        else
        if (key.via.bytes.size && memchr (key.via.bytes.ptr, 0, key.via.bytes.size))
            problem = "map key contains a NUL byte";
        else
        if (key.via.bytes.size >= 256)
            problem = "map key longer than 255 bytes";
        if (problem) {
            snprintf (error, error_size, "%s", problem);
            break;
        }
        if (reader->budget)
            reader->budget->objects--;
        xinf_value_t *value = s_read (reader, NULL, depth + 1, self, NULL, 0, error, error_size);
        if (!value)
            problem = error;
        else
            s_map_append (self, key.via.bytes.ptr, key.via.bytes.size, value);
    }
    if (problem || s_check_unique (self, error, error_size))
        xinf_value_destroy (&self);
    return self;
}

static xinf_value_t *
s_read_array (xinf_mpread_t *reader, uint32_t count, size_t depth, char *error, size_t error_size)
{
    xinf_value_t *self = xinf_value_new_array ();
    s_reserve_elements (self, count, reader);
    for (uint32_t index = 0; index < count; index++) {
        xinf_value_t *item = s_read (reader, NULL, depth + 1, NULL, NULL, 0, error, error_size);
        if (!item) {
            xinf_value_destroy (&self);
            break;
        }
        xinf_array_push (self, item);
    }
    return self;
}

//  Counts one value against the reader's budget (a container at 'depth'
//  below the start, a map of 'entries'); -1 with the reason when over it.
static int
s_spend (xinf_mpread_t *reader, const xinf_mp_item_t *item, size_t depth, char *error, size_t error_size)
{
    xinf_mp_budget_t *budget = reader->budget;
    bool container = item->kind == XINF_MP_ARRAY || item->kind == XINF_MP_MAP;
    const char *problem = NULL;
    if (container && depth >= (budget ? budget->depth : S_READ_DEPTH))
        problem = "nested deeper than allowed";
    else
    if (budget && budget->objects == 0)
        problem = "more objects than allowed";
    else
    if (budget && item->kind == XINF_MP_MAP && item->via.count > budget->entries)
        problem = "map has more entries than allowed";
    if (problem) {
        snprintf (error, error_size, "msgpack: %s", problem);
        return -1;
    }
    if (budget)
        budget->objects--;
    return 0;
}

//  One value; a leaf in the owner map's arena when it fits, a map in
//  'memory' when its entries fit.
static xinf_value_t *
s_read (xinf_mpread_t *reader, const xinf_mp_item_t *head, size_t depth,
        xinf_value_t *owner, void *memory, size_t memory_size, char *error, size_t error_size)
{
    xinf_mp_item_t item;
    if (!head) {
        if (xinf_mp_read (reader, &item)) {
            snprintf (error, error_size, "msgpack: truncated, or an ext type or 0xc1 at byte %zu", reader->at);
            return NULL;
        }
        head = &item;
    }
    if (s_spend (reader, head, depth, error, error_size))
        return NULL;
    switch (head->kind) {
        case XINF_MP_NIL:   return s_new_in (owner, XINF_NIL, 0);
        case XINF_MP_BOOL:  return s_new_bool (owner, head->via.flag);
        case XINF_MP_UINT:  return s_new_uint (owner, head->via.uint);
        case XINF_MP_INT:   return s_new_int (owner, head->via.sint);
        case XINF_MP_FLOAT: return s_new_float (owner, head->via.real);
        case XINF_MP_STR:   return s_new_blob (owner, XINF_STR, head->via.bytes.ptr, head->via.bytes.size);
        case XINF_MP_BIN:   return s_new_blob (owner, XINF_BIN, head->via.bytes.ptr, head->via.bytes.size);
        case XINF_MP_ARRAY: return s_read_array (reader, head->via.count, depth, error, error_size);
        case XINF_MP_MAP:
            return s_read_map (reader, head->via.count, depth, memory, memory_size, error, error_size);
    }
    return NULL;
}

xinf_value_t *
xinf_value_read (xinf_mpread_t *reader, const xinf_mp_item_t *head, char *error, size_t error_size)
{
    return s_read (reader, head, 0, NULL, NULL, 0, error, error_size);
}

xinf_value_t *
xinf_value_read_in (xinf_mpread_t *reader, const xinf_mp_item_t *head, void *memory, size_t memory_size,
                    char *error, size_t error_size)
{
    assert (((uintptr_t) memory & 7) == 0);
    return s_read (reader, head, 0, NULL, memory, memory_size, error, error_size);
}
