/*  xinf_msg: the XINF envelope: encoding and validating decoding.  */
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
    zmsg_t *frames;            //  binary frames, possibly none
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
s_msg_alloc (void)
{
    xinf_msg_t *self = calloc (1, sizeof *self);
    assert (self);
    self->frames = zmsg_new ();
    return self;
}

xinf_msg_t *
xinf_msg_new (const char *type)
{
    if (!type || !xinf_msg_type_valid (type, strlen (type))) {
        fprintf (stderr, "xinf_msg_new: invalid message type '%s'\n", type ? type : "(null)");
        abort ();
    }
    xinf_msg_t *self = s_msg_alloc ();
    snprintf (self->type, sizeof self->type, "%s", type);
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
size_t xinf_msg_frame_count (const xinf_msg_t *self) { return zmsg_size (self->frames); }

void
xinf_msg_set_sender (xinf_msg_t *self, const char *sender)
{
    snprintf (self->sender, sizeof self->sender, "%s", sender ? sender : "");
}

void
xinf_msg_add_frame (xinf_msg_t *self, zframe_t **frame_p)
{
    zmsg_append (self->frames, frame_p);
}

void
xinf_msg_add_bytes (xinf_msg_t *self, const void *data, size_t size)
{
    zmsg_addmem (self->frames, data, size);
}

zframe_t *
xinf_msg_frame (const xinf_msg_t *self, size_t index)
{
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

zmsg_t *
xinf_msg_encode (xinf_msg_t **self_p)
{
    xinf_msg_t *self = *self_p;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 5);
    s_pack_str (&packer, "type", self->type);
    s_pack_uint (&packer, "corr", self->corr);
    s_pack_str (&packer, "sender", self->sender);
    s_pack_uint (&packer, "deadline", self->deadline);
    msgpack_pack_str (&packer, 4);
    msgpack_pack_str_body (&packer, "body", 4);
    xinf_value_pack (self->body, &packer);

    zmsg_t *zmsg = zmsg_new ();
    unsigned char signature [5] = { 'X', 'I', 'N', 'F', XINF_VERSION };
    zmsg_addmem (zmsg, signature, sizeof signature);
    zmsg_addmem (zmsg, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    zframe_t *frame;
    while ((frame = zmsg_pop (self->frames)))
        zmsg_append (zmsg, &frame);
    xinf_msg_destroy (self_p);
    return zmsg;
}

static int
s_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return -1;
}

static int
s_check_signature (zframe_t *frame, char *error, size_t error_size)
{
    if (!frame)
        return s_fail (error, error_size, "empty message");
    if (zframe_size (frame) != 5 || memcmp (zframe_data (frame), XINF_SIGNATURE, 4) != 0)
        return s_fail (error, error_size, "frame 0 is not the XINF signature (%zu bytes)", zframe_size (frame));
    int version = zframe_data (frame) [4];
    if (version != XINF_VERSION)
        return s_fail (error, error_size, "unsupported envelope version %d (this node speaks %d)", version, XINF_VERSION);
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
        return s_fail (error, error_size, "%s", check.reason);
    snprintf (self->type, sizeof self->type, "%s", type);
    snprintf (self->sender, sizeof self->sender, "%s", sender);
    self->corr = corr;
    self->deadline = deadline;
    self->body = xinf_map_take (header, "body");
    return 0;
}

//  Validates and converts frame 1 into a value tree.
static xinf_value_t *
s_parse_header (zframe_t *frame, char *error, size_t error_size)
{
    if (!frame) {
        s_fail (error, error_size, "missing frame 1 (header)");
        return NULL;
    }
    size_t size = zframe_size (frame);
    if (size > XINF_HEADER_MAX) {
        s_fail (error, error_size, "header frame has %zu bytes, at most %d allowed", size, XINF_HEADER_MAX);
        return NULL;
    }
    if (xinf_mpscan (zframe_data (frame), size, &s_limits, error, error_size))
        return NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    xinf_value_t *header = NULL;
    int rc = msgpack_unpack_next (&unpacked, (const char *) zframe_data (frame), size, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS)
        s_fail (error, error_size, "msgpack-c could not unpack the header (rc=%d)", rc);
    else
    if (unpacked.data.type != MSGPACK_OBJECT_MAP)
        s_fail (error, error_size, "header must be a map");
    else
        header = xinf_value_from_object (&unpacked.data, error, error_size);
    msgpack_unpacked_destroy (&unpacked);
    return header;
}

xinf_msg_t *
xinf_msg_decode (zmsg_t **zmsg_p, char *error, size_t error_size, uint64_t *corr_hint)
{
    zmsg_t *zmsg = *zmsg_p;
    *zmsg_p = NULL;
    if (corr_hint)
        *corr_hint = 0;
    xinf_msg_t *self = NULL;
    xinf_value_t *header = NULL;
    if (!zmsg) {
        s_fail (error, error_size, "no message");
        return NULL;
    }
    if (zmsg_size (zmsg) > 2 + XINF_FRAMES_MAX)
        s_fail (error, error_size, "%zu frames, at most %d allowed", zmsg_size (zmsg), 2 + XINF_FRAMES_MAX);
    else
    if (s_check_signature (zmsg_first (zmsg), error, error_size) == 0
    && (header = s_parse_header (zmsg_next (zmsg), error, error_size))) {
        self = s_msg_alloc ();
        if (s_take_header (self, header, error, error_size, corr_hint))
            xinf_msg_destroy (&self);
    }
    xinf_value_destroy (&header);
    if (self) {
        zframe_t *frame = zmsg_pop (zmsg);
        zframe_destroy (&frame);
        frame = zmsg_pop (zmsg);
        zframe_destroy (&frame);
        zmsg_destroy (&self->frames);
        self->frames = zmsg;                //  the rest are binary frames
    }
    else
        zmsg_destroy (&zmsg);
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
    xinf_map_put_str (self->body, "code", code);
    xinf_map_put_str (self->body, "message", text);
    return self;
}
