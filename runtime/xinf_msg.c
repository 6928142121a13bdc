/*  xinf_msg: the XINF envelope: encoding and validating decoding.

    Frame 0 is the signature and the MessagePack header together; binary
    frames follow only when a message has bulk data. A message without any
    allocates no frame list.
*/
#include "xinf_msg.h"
#include "xinf_check.h"
#include "xinf_mpscan.h"

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

void
xinf_wire_release (xinf_wire_t *self)
{
    xinf_mpbuf_release (self);
}

zmsg_t *
xinf_msg_encode_wire (xinf_msg_t **self_p, xinf_wire_t *head)
{
    xinf_msg_t *self = *self_p;
    //  The signature, a map of 5 and the first key, then each key
    //  (fixstr) already encoded
    static const char start [] = "XINF\x02" "\x85" "\xa4" "type";
    static_assert (XINF_VERSION == 2 && XINF_SIGNATURE_SIZE == 5, "the signature above is version 2");
    xinf_mpbuf_init (head);
    xinf_mpbuf_append (head, start, sizeof start - 1);
    xinf_mp_write_str (head, self->type, strlen (self->type));
    xinf_mpbuf_append (head, "\xa4" "corr", 5);
    xinf_mp_write_uint (head, self->corr);
    xinf_mpbuf_append (head, "\xa6" "sender", 7);
    xinf_mp_write_str (head, self->sender, strlen (self->sender));
    xinf_mpbuf_append (head, "\xa8" "deadline", 9);
    xinf_mp_write_uint (head, self->deadline);
    xinf_mpbuf_append (head, "\xa4" "body", 5);
    xinf_value_write (self->body, head);
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

//  The header's fields in the order of the fast path's checks.
typedef enum { S_TYPE, S_CORR, S_SENDER, S_DEADLINE, S_BODY, S_FIELDS } s_field_t;

static int
s_field_of (const xinf_mp_item_t *key)
{
    if (key->kind != XINF_MP_STR)
        return -1;
    const char *name = key->via.bytes.ptr;
    switch (key->via.bytes.size) {
        case 4: return !memcmp (name, "type", 4) ? S_TYPE : !memcmp (name, "corr", 4) ? S_CORR
                     : !memcmp (name, "body", 4) ? S_BODY : -1;
        case 6: return !memcmp (name, "sender", 6) ? S_SENDER : -1;
        case 8: return !memcmp (name, "deadline", 8) ? S_DEADLINE : -1;
        default: return -1;
    }
}

//  Reads one field's value into self; -1 when it is not of the usual form.
static int
s_take_field (xinf_msg_t *self, int field, xinf_mpread_t *reader)
{
    xinf_mp_item_t value;
    if (xinf_mp_read (reader, &value))
        return -1;
    const char *text = value.via.bytes.ptr;
    size_t length = value.via.bytes.size;
    char error [8];
    switch (field) {
        case S_TYPE:
            if (value.kind != XINF_MP_STR || !xinf_msg_type_valid (text, length))
                return -1;
            s_copy (self->type, text, length);
            return 0;
        case S_SENDER:
            if (value.kind != XINF_MP_STR || length > XINF_SENDER_MAX || (length && memchr (text, 0, length))
            ||  !xinf_utf8_valid (text, length, NULL))
                return -1;
            s_copy (self->sender, text, length);
            return 0;
        case S_CORR:
        case S_DEADLINE:
            if (value.kind != XINF_MP_UINT)
                return -1;
            *(field == S_CORR ? &self->corr : &self->deadline) = value.via.uint;
            return 0;
        default:
            if (value.kind != XINF_MP_MAP || value.via.count > XINF_MAP_ENTRIES_MAX)
                return -1;
            self->body = xinf_value_read (reader, &value, error, sizeof error);
            return self->body ? 0 : -1;
    }
}

//  The usual header: one map of exactly type, corr, sender, deadline and
//  body, well typed, within the limits of xinf_mpscan and nothing after
//  it, read straight from the bytes in one pass; only the body becomes a
//  value tree. -1 for anything else: the full path then decides.
static int
s_take_fast (xinf_msg_t *self, const byte *data, size_t size, uint64_t *corr_hint)
{
    //  Root map, four keys and values and the key 'body' are ten values
    xinf_mp_budget_t budget = { XINF_OBJECTS_MAX - 10, XINF_DEPTH_MAX - 1, XINF_MAP_ENTRIES_MAX };
    xinf_mpread_t reader = { data, size, 0, &budget };
    xinf_mp_item_t head;
    if (xinf_mp_read (&reader, &head) || head.kind != XINF_MP_MAP || head.via.count != S_FIELDS)
        return -1;
    bool seen [S_FIELDS] = { false };
    for (uint32_t index = 0; index < S_FIELDS; index++) {
        xinf_mp_item_t key;
        int field = xinf_mp_read (&reader, &key) ? -1 : s_field_of (&key);
        if (field < 0 || seen [field] || s_take_field (self, field, &reader))
            return -1;              //  unknown, twice or not of the usual form
        seen [field] = true;
    }
    if (reader.at != size)
        return -1;
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
    if (s_take_fast (self, data, size, corr_hint) == 0)
        return 0;
    //  Anything else: the structure walk first, for its precise reasons
    xinf_value_destroy (&self->body);
    if (xinf_mpscan (data, size, &s_limits, error, error_size))
        return -1;
    xinf_mpread_t reader = { data, size, 0, NULL };
    xinf_mp_item_t head;
    if (xinf_mp_read (&reader, &head) || head.kind != XINF_MP_MAP)
        return xinf_fail (error, error_size, "header must be a map");
    reader.at = 0;
    xinf_value_t *header = xinf_value_read (&reader, NULL, error, error_size);
    int rc = header ? s_take_header (self, header, error, error_size, corr_hint) : -1;
    xinf_value_destroy (&header);
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
    xinf_utf8_scrub (text);
    xinf_map_put_str (self->body, "code", code);
    xinf_map_put_str (self->body, "message", text);
    return self;
}
