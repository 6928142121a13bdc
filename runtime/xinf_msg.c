/*  xinf_msg: the XINF envelope: encoding and validating decoding.

    Frame 0 is the signature and the MessagePack header together; binary
    frames follow only when a message has bulk data. A message without any
    allocates no frame list.
*/
#include "xinf_msg.h"
#include "xinf_check.h"
#include "xinf_mpscan.h"

#include <pthread.h>
#include <stdarg.h>

struct _xinf_msg_t {
    char type [XINF_TYPE_MAX + 1];
    uint64_t corr;
    char sender [XINF_SENDER_MAX + 1];
    uint64_t deadline;
    xinf_value_t *body;
    zmsg_t *frames;            //  binary frames; NULL until the first one
};

static const xinf_mpscan_limits_t s_limits = {
    XINF_DEPTH_MAX, XINF_OBJECTS_MAX, XINF_MAP_ENTRIES_MAX
};

bool
xinf_msg_type_valid (const char *type, size_t length)
{
    if (!type || length == 0 || length > XINF_TYPE_MAX || type [0] < 'A' || type [0] > 'Z')
        return false;
    for (size_t index = 0; index < length; index++) {
        char c = type [index];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static xinf_msg_t *
s_msg_alloc (zmsg_t *frames)
{
    xinf_msg_t *self = malloc (sizeof *self);
    assert (self);
    self->type [0] = 0;
    self->corr = 0;
    self->sender [0] = 0;
    self->deadline = 0;
    self->body = NULL;
    self->frames = frames;
    return self;
}

//  Copies a string known to fit (checked by the caller).
static void
s_copy (char *target, const char *source, size_t length)
{
    memcpy (target, source, length);
    target [length] = 0;
}

xinf_msg_t *
xinf_msg_new (const char *type)
{
    size_t length = type ? strlen (type) : 0;
    if (!type || !xinf_msg_type_valid (type, length)) {
        fprintf (stderr, "xinf_msg_new: invalid message type '%s'\n", type ? type : "(null)");
        abort ();
    }
    xinf_msg_t *self = s_msg_alloc (NULL);
    s_copy (self->type, type, length);
    self->body = xinf_value_new_map ();
    return self;
}

void
xinf_msg_destroy (xinf_msg_t **self_p)
{
    if (self_p && *self_p) {
        xinf_msg_t *self = *self_p;
        xinf_value_destroy (&self->body);
        zmsg_destroy (&self->frames);
        free (self);
        *self_p = NULL;
    }
}

const char *xinf_msg_type (const xinf_msg_t *self) { return self->type; }
bool xinf_msg_is (const xinf_msg_t *self, const char *type) { return streq (self->type, type); }
uint64_t xinf_msg_corr (const xinf_msg_t *self) { return self->corr; }
void xinf_msg_set_corr (xinf_msg_t *self, uint64_t corr) { self->corr = corr; }
const char *xinf_msg_sender (const xinf_msg_t *self) { return self->sender; }
uint64_t xinf_msg_deadline (const xinf_msg_t *self) { return self->deadline; }
void xinf_msg_set_deadline (xinf_msg_t *self, uint64_t deadline_ms) { self->deadline = deadline_ms; }
xinf_value_t *xinf_msg_body (xinf_msg_t *self) { return self->body; }
size_t xinf_msg_frame_count (const xinf_msg_t *self) { return self->frames ? zmsg_size (self->frames) : 0; }

void
xinf_msg_set_sender (xinf_msg_t *self, const char *sender)
{
    size_t length = sender ? strnlen (sender, XINF_SENDER_MAX) : 0;
    s_copy (self->sender, sender ? sender : "", length);
}

void
xinf_msg_add_frame (xinf_msg_t *self, zframe_t **frame_p)
{
    if (!self->frames)
        self->frames = zmsg_new ();
    zmsg_append (self->frames, frame_p);
}

void
xinf_msg_add_bytes (xinf_msg_t *self, const void *data, size_t size)
{
    if (!self->frames)
        self->frames = zmsg_new ();
    zmsg_addmem (self->frames, data, size);
}

zframe_t *
xinf_msg_frame (const xinf_msg_t *self, size_t index)
{
    if (!self->frames)
        return NULL;
    zframe_t *frame = zmsg_first (self->frames);
    while (frame && index--)
        frame = zmsg_next (self->frames);
    return frame;
}

static void
s_pack_str (msgpack_packer *packer, const char *key, const char *value)
{
    size_t key_length = strlen (key), value_length = strlen (value);
    msgpack_pack_str (packer, key_length);
    msgpack_pack_str_body (packer, key, key_length);
    msgpack_pack_str (packer, value_length);
    msgpack_pack_str_body (packer, value, value_length);
}

static void
s_pack_uint (msgpack_packer *packer, const char *key, uint64_t value)
{
    size_t key_length = strlen (key);
    msgpack_pack_str (packer, key_length);
    msgpack_pack_str_body (packer, key, key_length);
    msgpack_pack_uint64 (packer, value);
}

static int
s_buffer_write (void *arg, const char *data, size_t size)
{
    xinf_wire_t *self = (xinf_wire_t *) arg;
    if (self->size + size > self->alloc) {
        size_t alloc = self->alloc * 2 > self->size + size ? self->alloc * 2 : self->size + size;
        char *grown = self->data == self->inline_data ? malloc (alloc) : realloc (self->data, alloc);
        assert (grown);
        if (self->data == self->inline_data)
            memcpy (grown, self->inline_data, self->size);
        self->data = grown;
        self->alloc = alloc;
    }
    memcpy (self->data + self->size, data, size);
    self->size += size;
    return 0;
}

void
xinf_wire_release (xinf_wire_t *self)
{
    if (self->data != self->inline_data)
        free (self->data);
    self->data = self->inline_data;
}

zmsg_t *
xinf_msg_encode_wire (xinf_msg_t **self_p, xinf_wire_t *head)
{
    static const char signature [XINF_SIGNATURE_SIZE] = { 'X', 'I', 'N', 'F', XINF_VERSION };
    xinf_msg_t *self = *self_p;
    head->data = head->inline_data;
    memcpy (head->data, signature, sizeof signature);
    head->size = sizeof signature;
    head->alloc = sizeof head->inline_data;
    msgpack_packer packer;
    msgpack_packer_init (&packer, head, s_buffer_write);
    msgpack_pack_map (&packer, 5);
    s_pack_str (&packer, "type", self->type);
    s_pack_uint (&packer, "corr", self->corr);
    s_pack_str (&packer, "sender", self->sender);
    s_pack_uint (&packer, "deadline", self->deadline);
    msgpack_pack_str (&packer, 4);
    msgpack_pack_str_body (&packer, "body", 4);
    xinf_value_pack (self->body, &packer);
    zmsg_t *frames = self->frames;
    self->frames = NULL;
    xinf_msg_destroy (self_p);
    if (frames && zmsg_size (frames) == 0)
        zmsg_destroy (&frames);
    return frames;
}

zmsg_t *
xinf_msg_encode (xinf_msg_t **self_p)
{
    xinf_wire_t head;
    zmsg_t *zmsg = xinf_msg_encode_wire (self_p, &head);
    if (!zmsg)
        zmsg = zmsg_new ();
    zmsg_pushmem (zmsg, head.data, head.size);
    xinf_wire_release (&head);
    return zmsg;
}

//  Frame 0 must start with "XINF" and this node's version byte.
static int
s_check_signature (const byte *data, size_t size, char *error, size_t error_size)
{
    if (!data)
        return xinf_fail (error, error_size, "empty message");
    if (size < 4 || memcmp (data, XINF_SIGNATURE, 4) != 0)
        return xinf_fail (error, error_size, "frame 0 does not start with the XINF signature (%zu bytes)", size);
    if (size < XINF_SIGNATURE_SIZE)
        return xinf_fail (error, error_size, "frame 0 ends before the version byte");
    int version = data [4];
    if (version != XINF_VERSION)
        return xinf_fail (error, error_size, "unsupported envelope version %d (this node speaks %d)", version, XINF_VERSION);
    return 0;
}

//  Reads the header fields out of the decoded frame-1 map into self.
static int
s_take_header (xinf_msg_t *self, xinf_value_t *header, char *error, size_t error_size, uint64_t *corr_hint)
{
    xinf_check_t check = XINF_CHECK_INIT;
    uint64_t corr = xinf_check_uint (&check, header, "corr", 0, UINT64_MAX);
    if (!check.failed && corr_hint)
        *corr_hint = corr;
    const char *type = xinf_check_str (&check, header, "type", 1, XINF_TYPE_MAX);
    if (type && !xinf_msg_type_valid (type, strlen (type)))
        xinf_check_fail (&check, "field 'type' must be 1-%d of A-Z, 0-9, '_' starting with a letter", XINF_TYPE_MAX);
    const char *sender = xinf_check_str (&check, header, "sender", 0, XINF_SENDER_MAX);
    uint64_t deadline = xinf_check_uint (&check, header, "deadline", 0, UINT64_MAX);
    xinf_check_map (&check, header, "body", XINF_MAP_ENTRIES_MAX);
    if (check.failed)
        return xinf_fail (error, error_size, "%s", check.reason);
    s_copy (self->type, type, strlen (type));
    s_copy (self->sender, sender, strlen (sender));
    self->corr = corr;
    self->deadline = deadline;
    self->body = xinf_map_take (header, "body");
    return 0;
}

//  One msgpack zone per thread, cleared after each use and freed when the
//  thread ends: no 8 KB malloc and free per decoded message.
static pthread_key_t s_zone_key;
static pthread_once_t s_zone_once = PTHREAD_ONCE_INIT;

static void
s_zone_free (void *zone)
{
    msgpack_zone_free ((msgpack_zone *) zone);
}

static void
s_zone_key_new (void)
{
    pthread_key_create (&s_zone_key, s_zone_free);
}

static msgpack_zone *
s_thread_zone (void)
{
    pthread_once (&s_zone_once, s_zone_key_new);
    msgpack_zone *zone = (msgpack_zone *) pthread_getspecific (s_zone_key);
    if (!zone) {
        zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
        assert (zone);
        pthread_setspecific (s_zone_key, zone);
    }
    return zone;
}

//  The usual header: exactly type, corr, sender, deadline and body, well
//  typed. Reads it straight from the msgpack object; only the body becomes
//  a value tree. -1 for anything else: the full path then decides.
static int
s_take_fast (xinf_msg_t *self, const msgpack_object *header, uint64_t *corr_hint)
{
    const msgpack_object_map *map = &header->via.map;
    if (map->size != 5)
        return -1;
    const msgpack_object *type = NULL, *corr = NULL, *sender = NULL, *deadline = NULL, *body = NULL;
    for (uint32_t index = 0; index < 5; index++) {
        const msgpack_object *key = &map->ptr [index].key, *value = &map->ptr [index].val;
        if (key->type != MSGPACK_OBJECT_STR)
            return -1;
        const msgpack_object **slot =
            key->via.str.size == 4 && !memcmp (key->via.str.ptr, "type", 4)     ? &type
          : key->via.str.size == 4 && !memcmp (key->via.str.ptr, "corr", 4)     ? &corr
          : key->via.str.size == 6 && !memcmp (key->via.str.ptr, "sender", 6)   ? &sender
          : key->via.str.size == 8 && !memcmp (key->via.str.ptr, "deadline", 8) ? &deadline
          : key->via.str.size == 4 && !memcmp (key->via.str.ptr, "body", 4)     ? &body : NULL;
        if (!slot || *slot)
            return -1;              //  unknown or duplicate key
        *slot = value;
    }
    if (corr->type != MSGPACK_OBJECT_POSITIVE_INTEGER || deadline->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  type->type != MSGPACK_OBJECT_STR || !xinf_msg_type_valid (type->via.str.ptr, type->via.str.size)
    ||  sender->type != MSGPACK_OBJECT_STR || sender->via.str.size > XINF_SENDER_MAX
    ||  memchr (sender->via.str.ptr, 0, sender->via.str.size)
    ||  body->type != MSGPACK_OBJECT_MAP || body->via.map.size > XINF_MAP_ENTRIES_MAX)
        return -1;
    char error [8];
    self->body = xinf_value_from_object (body, error, sizeof error);
    if (!self->body)
        return -1;
    s_copy (self->type, type->via.str.ptr, type->via.str.size);
    s_copy (self->sender, sender->via.str.ptr, sender->via.str.size);
    self->corr = corr->via.u64;
    self->deadline = deadline->via.u64;
    if (corr_hint)
        *corr_hint = self->corr;
    return 0;
}

//  Validates the header (frame 0 after the signature) and reads it into self.
static int
s_parse_header (xinf_msg_t *self, const byte *data, size_t size, char *error, size_t error_size, uint64_t *corr_hint)
{
    if (size == 0)
        return xinf_fail (error, error_size, "frame 0 has no header after the signature");
    if (size > XINF_HEADER_MAX)
        return xinf_fail (error, error_size, "header has %zu bytes, at most %d allowed", size, XINF_HEADER_MAX);
    if (xinf_mpscan (data, size, &s_limits, error, error_size))
        return -1;
    msgpack_zone *zone = s_thread_zone ();
    msgpack_object object;
    size_t offset = 0;
    int rc = msgpack_unpack ((const char *) data, size, &offset, zone, &object);
    if (rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES)
        rc = xinf_fail (error, error_size, "msgpack-c could not unpack the header (rc=%d)", rc);
    else
    if (object.type != MSGPACK_OBJECT_MAP)
        rc = xinf_fail (error, error_size, "header must be a map");
    else
    if (s_take_fast (self, &object, corr_hint) == 0)
        rc = 0;
    else {
        xinf_value_t *header = xinf_value_from_object (&object, error, error_size);
        rc = header ? s_take_header (self, header, error, error_size, corr_hint) : -1;
        xinf_value_destroy (&header);
    }
    msgpack_zone_clear (zone);
    return rc;
}

xinf_msg_t *
xinf_msg_decode_wire (const byte *head, size_t head_size, zmsg_t **frames_p,
                      char *error, size_t error_size, uint64_t *corr_hint)
{
    zmsg_t *frames = *frames_p;
    *frames_p = NULL;
    if (frames && zmsg_size (frames) == 0)
        zmsg_destroy (&frames);
    if (corr_hint)
        *corr_hint = 0;
    size_t count = (head ? 1 : 0) + (frames ? zmsg_size (frames) : 0);
    xinf_msg_t *self = NULL;
    if (count > 1 + XINF_FRAMES_MAX)
        xinf_fail (error, error_size, "%zu frames, at most %d allowed", count, 1 + XINF_FRAMES_MAX);
    else
    if (s_check_signature (head, head_size, error, error_size) == 0) {
        self = s_msg_alloc (frames);
        if (s_parse_header (self, head + XINF_SIGNATURE_SIZE, head_size - XINF_SIGNATURE_SIZE,
                            error, error_size, corr_hint)) {
            self->frames = NULL;
            xinf_msg_destroy (&self);
        }
    }
    if (!self)
        zmsg_destroy (&frames);
    return self;
}

xinf_msg_t *
xinf_msg_decode (zmsg_t **zmsg_p, char *error, size_t error_size, uint64_t *corr_hint)
{
    zmsg_t *zmsg = *zmsg_p;
    *zmsg_p = NULL;
    if (corr_hint)
        *corr_hint = 0;
    if (!zmsg) {
        xinf_fail (error, error_size, "no message");
        return NULL;
    }
    zframe_t *head = zmsg_pop (zmsg);
    xinf_msg_t *self = xinf_msg_decode_wire (head ? zframe_data (head) : NULL, head ? zframe_size (head) : 0,
                                             &zmsg, error, error_size, corr_hint);
    zframe_destroy (&head);
    return self;
}

xinf_msg_t *
xinf_msg_new_error (uint64_t corr, const char *code, const char *format, ...)
{
    xinf_msg_t *self = xinf_msg_new ("ERROR");
    self->corr = corr;
    char text [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    xinf_utf8_trim (text);
    xinf_map_put_str (self->body, "code", code);
    xinf_map_put_str (self->body, "message", text);
    return self;
}
