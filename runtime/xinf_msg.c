/*  xinf_msg: the XINF envelope: encoding and validating decoding.

    Frame 0 is the signature and the MessagePack header together; binary
    frames follow only when a message has bulk data. A message without any
    allocates no frame list.

    A message is one block: its header fields and, as far as they fit, its
    body map with the body's keys and small values (xinf_value_new_map_in):
    a small message, built or decoded, is one allocation. The header is
    written and read in the canonical form (version 3: the array of five
    fields; version 2: the map with the keys in the order of the spec; the
    shortest encodings, as this encoder and the Python client write them)
    straight from and to the bytes; any other form, and anything invalid,
    takes the full path, which gives the reasons.
*/
#include "xinf_msg.h"
#include "xinf_check.h"
#include "xinf_mpscan.h"

#include <stdarg.h>

//  Bytes in a message's block for its body map and the body's small values
#define S_BODY_BLOCK  448

struct _xinf_msg_t {
    char type [XINF_TYPE_MAX + 1];
    char sender [XINF_SENDER_MAX + 1];
    uint8_t type_size;         //  bytes in type, in sender
    uint8_t sender_size;
    uint8_t version;           //  the envelope version it is encoded in
    uint64_t corr;
    uint64_t deadline;
    xinf_value_t *body;        //  in body_block, or allocated when it did not fit
    zmsg_t *frames;            //  binary frames; NULL until the first one
    uint64_t body_block [S_BODY_BLOCK / 8];
};

static const xinf_mpscan_limits_t s_limits = {
    XINF_DEPTH_MAX, XINF_OBJECTS_MAX, XINF_MAP_ENTRIES_MAX
};

//  The bytes of a message type: 2 for a letter (which may come first), 1
//  for a digit or '_', 0 for anything else.
static const uint8_t s_type_bytes [256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['_'] = 1,
    ['A'] = 2, ['B'] = 2, ['C'] = 2, ['D'] = 2, ['E'] = 2, ['F'] = 2, ['G'] = 2, ['H'] = 2, ['I'] = 2,
    ['J'] = 2, ['K'] = 2, ['L'] = 2, ['M'] = 2, ['N'] = 2, ['O'] = 2, ['P'] = 2, ['Q'] = 2, ['R'] = 2,
    ['S'] = 2, ['T'] = 2, ['U'] = 2, ['V'] = 2, ['W'] = 2, ['X'] = 2, ['Y'] = 2, ['Z'] = 2
};

bool
xinf_msg_type_valid (const char *type, size_t length)
{
    if (!type || length == 0 || length > XINF_TYPE_MAX || s_type_bytes [(byte) type [0]] != 2)
        return false;
    for (size_t index = 1; index < length; index++)
        if (!s_type_bytes [(byte) type [index]])
            return false;
    return true;
}

static xinf_msg_t *
s_msg_alloc (zmsg_t *frames)
{
    xinf_msg_t *self = malloc (sizeof *self);
    assert (self);
    self->type [0] = 0;
    self->type_size = 0;
    self->corr = 0;
    self->sender [0] = 0;
    self->sender_size = 0;
    self->deadline = 0;
    self->body = NULL;
    self->frames = frames;
    self->version = XINF_VERSION;
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
    self->type_size = (uint8_t) length;
    self->body = xinf_value_new_map_in (self->body_block, sizeof self->body_block);
    return self;
}

void
xinf_msg_destroy (xinf_msg_t **self_p)
{
    if (self_p && *self_p) {
        xinf_msg_t *self = *self_p;
        xinf_value_destroy (&self->body);
        if (self->frames)          //  most messages have none
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
int xinf_msg_version (const xinf_msg_t *self) { return self->version; }
size_t xinf_msg_frame_count (const xinf_msg_t *self) { return self->frames ? zmsg_size (self->frames) : 0; }

void
xinf_msg_set_sender (xinf_msg_t *self, const char *sender)
{
    size_t length = sender ? strnlen (sender, XINF_SENDER_MAX) : 0;
    s_copy (self->sender, sender ? sender : "", length);
    self->sender_size = (uint8_t) length;
}

void
xinf_msg_set_version (xinf_msg_t *self, int version)
{
    if (version < XINF_VERSION_MIN || version > XINF_VERSION) {
        fprintf (stderr, "xinf_msg_set_version: no envelope version %d\n", version);
        abort ();
    }
    self->version = (uint8_t) version;
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

//  A str of at most 255 bytes (type, sender): fixstr or str8.
static inline byte *
s_put_str (byte *at, const char *text, size_t size)
{
    if (size < 32)
        *at++ = (byte) (0xa0 | size);
    else {
        *at++ = 0xd9;
        *at++ = (byte) size;
    }
    memcpy (at, text, size);
    return at + size;
}

//  A uint in its shortest form (as xinf_mp_write_uint).
static inline byte *
s_put_uint (byte *at, uint64_t number)
{
    if (number < 128) {
        *at = (byte) number;
        return at + 1;
    }
    size_t width = number < 256 ? 1 : number < 65536 ? 2 : number < (1ULL << 32) ? 4 : 8;
    *at++ = (byte) (width == 1 ? 0xcc : width == 2 ? 0xcd : width == 4 ? 0xce : 0xcf);
    for (size_t index = width; index > 0; index--, number >>= 8)
        at [index - 1] = (byte) number;
    return at + width;
}

//  Version 3: the signature and the header array of five; its fields
//  follow in order, the body last
#define S_START_3   "XINF\x03\x95"
//  Version 2: the signature, the header map and its first key; the other keys
#define S_START_2   "XINF\x02\x85\xa4type"
#define S_CORR      "\xa4" "corr"
#define S_SENDER    "\xa6" "sender"
#define S_DEADLINE  "\xa8" "deadline"
#define S_BODY      "\xa4" "body"
#define S_HEAD_MAX  256             //  frame 0 up to the body, at most
static_assert (XINF_VERSION == 3 && XINF_VERSION_MIN == 2 && XINF_SIGNATURE_SIZE == 5,
               "the bytes of S_START_3 and S_START_2 are versions 3 and 2");
static_assert (10 + 2 + XINF_TYPE_MAX + 5 + 9 + 7 + 2 + XINF_SENDER_MAX + 9 + 9 + 5 <= S_HEAD_MAX, "frame 0 up to the body fits in its room");

//  The bytes of a string literal (a signature, a version-2 key); returns
//  what follows them.
#define S_PUT(at, literal) s_put_raw ((at), (literal), sizeof (literal) - 1)
static inline byte *
s_put_raw (byte *at, const char *bytes, size_t size)
{
    memcpy (at, bytes, size);
    return at + size;
}

zmsg_t *
xinf_msg_encode_wire (xinf_msg_t **self_p, xinf_wire_t *head)
{
    xinf_msg_t *self = *self_p;
    xinf_mpbuf_init (head);
    byte *start = xinf_mpbuf_room (head, S_HEAD_MAX);
    bool keyed = self->version == 2;       //  version 2: a map, each field after its key
    byte *at = keyed ? S_PUT (start, S_START_2) : S_PUT (start, S_START_3);
    at = s_put_str (at, self->type, self->type_size);
    if (keyed)
        at = S_PUT (at, S_CORR);
    at = s_put_uint (at, self->corr);
    if (keyed)
        at = S_PUT (at, S_SENDER);
    at = s_put_str (at, self->sender, self->sender_size);
    if (keyed)
        at = S_PUT (at, S_DEADLINE);
    at = s_put_uint (at, self->deadline);
    if (keyed)
        at = S_PUT (at, S_BODY);
    head->size += (size_t) (at - start);
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

//  Frame 0 must start with "XINF" and a version byte this node reads;
//  returns the version, or -1 with the reason.
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
    if (version < XINF_VERSION_MIN || version > XINF_VERSION)
        return xinf_fail (error, error_size, "unsupported envelope version %d (this node speaks %d and %d)",
                          version, XINF_VERSION_MIN, XINF_VERSION);
    return version;
}

//  Reads the header fields out of the decoded header map (version 3's
//  array as that map: s_fields_as_map) into self, checking each.
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
    self->type_size = (uint8_t) strlen (type);
    self->sender_size = (uint8_t) strlen (sender);
    s_copy (self->type, type, self->type_size);
    s_copy (self->sender, sender, self->sender_size);
    self->corr = corr;
    self->deadline = deadline;
    self->body = xinf_map_take (header, "body");
    return 0;
}

//  The canonical header's bytes, read in order: each step false when
//  they are not what it expects (the full path then decides).
typedef struct {
    const byte *at, *end;
} s_cursor_t;

static inline bool
s_expect (s_cursor_t *self, const char *bytes, size_t size)
{
    if ((size_t) (self->end - self->at) < size || memcmp (self->at, bytes, size) != 0)
        return false;
    self->at += size;
    return true;
}

//  A fixstr or str8 (type and sender are short).
static inline bool
s_get_str (s_cursor_t *self, const char **text, size_t *size)
{
    size_t left = (size_t) (self->end - self->at);
    if (left >= 1 && (self->at [0] & 0xe0) == 0xa0) {
        *size = self->at [0] & 0x1f;
        self->at += 1;
    }
    else
    if (left >= 2 && self->at [0] == 0xd9) {
        *size = self->at [1];
        self->at += 2;
    }
    else
        return false;
    if ((size_t) (self->end - self->at) < *size)
        return false;
    *text = (const char *) self->at;
    self->at += *size;
    return true;
}

//  A positive int of any width.
static inline bool
s_get_uint (s_cursor_t *self, uint64_t *number)
{
    size_t left = (size_t) (self->end - self->at);
    if (left >= 1 && self->at [0] < 0x80) {
        *number = *self->at++;
        return true;
    }
    if (left < 1 || self->at [0] < 0xcc || self->at [0] > 0xcf)
        return false;
    size_t width = (size_t) 1 << (self->at [0] - 0xcc);
    if (left < 1 + width)
        return false;
    uint64_t value = 0;
    for (size_t index = 1; index <= width; index++)
        value = (value << 8) | self->at [index];
    self->at += 1 + width;
    *number = value;
    return true;
}

//  The header fields of a canonical header, pointing into its bytes.
typedef struct {
    const char *type, *sender;
    size_t type_size, sender_size;
    uint64_t corr, deadline;
} s_fields_t;

//  A canonical sender: at most XINF_SENDER_MAX bytes of text.
static inline bool
s_get_sender (s_cursor_t *self, s_fields_t *fields)
{
    return s_get_str (self, &fields->sender, &fields->sender_size)
        && fields->sender_size <= XINF_SENDER_MAX
        && !(fields->sender_size && memchr (fields->sender, 0, fields->sender_size))
        && xinf_utf8_valid (fields->sender, fields->sender_size, NULL);
}

//  Version 3: the array of five, its fields in order up to the body.
static bool
s_get_fields_3 (s_cursor_t *cursor, s_fields_t *fields)
{
    return s_expect (cursor, &S_START_3 [XINF_SIGNATURE_SIZE], sizeof S_START_3 - 1 - XINF_SIGNATURE_SIZE)
        && s_get_str (cursor, &fields->type, &fields->type_size) && xinf_msg_type_valid (fields->type, fields->type_size)
        && s_get_uint (cursor, &fields->corr)
        && s_get_sender (cursor, fields)
        && s_get_uint (cursor, &fields->deadline);
}

//  Version 2: the map of exactly type, corr, sender, deadline and body in
//  this order, up to the body.
static bool
s_get_fields_2 (s_cursor_t *cursor, s_fields_t *fields)
{
    return s_expect (cursor, &S_START_2 [XINF_SIGNATURE_SIZE], sizeof S_START_2 - 1 - XINF_SIGNATURE_SIZE)
        && s_get_str (cursor, &fields->type, &fields->type_size) && xinf_msg_type_valid (fields->type, fields->type_size)
        && s_expect (cursor, S_CORR, sizeof S_CORR - 1) && s_get_uint (cursor, &fields->corr)
        && s_expect (cursor, S_SENDER, sizeof S_SENDER - 1) && s_get_sender (cursor, fields)
        && s_expect (cursor, S_DEADLINE, sizeof S_DEADLINE - 1) && s_get_uint (cursor, &fields->deadline)
        && s_expect (cursor, S_BODY, sizeof S_BODY - 1);
}

//  The canonical header: well typed fields in order, then the body within
//  the limits of xinf_mpscan and nothing after it; read straight from the
//  bytes in one pass, the body into the message's block. -1 for anything
//  else (the full path then decides and gives the reason).
static int
s_take_canonical (xinf_msg_t *self, int version, const byte *data, size_t size, uint64_t *corr_hint)
{
    s_cursor_t cursor = { data, data + size };
    s_fields_t fields;
    if (!(version == 3 ? s_get_fields_3 (&cursor, &fields) : s_get_fields_2 (&cursor, &fields)))
        return -1;
    //  Values before the body: the root and four fields (version 2: and five keys)
    size_t before = version == 3 ? 5 : 10;
    xinf_mp_budget_t budget = { XINF_OBJECTS_MAX - before, XINF_DEPTH_MAX - 1, XINF_MAP_ENTRIES_MAX };
    xinf_mpread_t reader = { data, size, (size_t) (cursor.at - data), &budget };
    xinf_mp_item_t head;
    char error [8];
    if (xinf_mp_read (&reader, &head) || head.kind != XINF_MP_MAP || head.via.count > XINF_MAP_ENTRIES_MAX)
        return -1;
    self->body = xinf_value_read_in (&reader, &head, self->body_block, sizeof self->body_block, error, sizeof error);
    if (!self->body || reader.at != size)
        return -1;
    s_copy (self->type, fields.type, fields.type_size);
    s_copy (self->sender, fields.sender, fields.sender_size);
    self->type_size = (uint8_t) fields.type_size;
    self->sender_size = (uint8_t) fields.sender_size;
    self->corr = fields.corr;
    self->deadline = fields.deadline;
    if (corr_hint)
        *corr_hint = fields.corr;
    return 0;
}

//  Version 3's header array as the map of version 2 (the fields under
//  their names), so that one check reads both; NULL with the reason
//  when it is not an array of exactly five.
static xinf_value_t *
s_fields_as_map (const xinf_value_t *header, char *error, size_t error_size)
{
    static const char *names [] = { "type", "corr", "sender", "deadline", "body" };
    if (xinf_value_type (header) != XINF_ARRAY) {
        xinf_fail (error, error_size, "header must be an array [type, corr, sender, deadline, body], got %s",
                   xinf_value_type_name (header));
        return NULL;
    }
    if (xinf_value_count (header) != 5) {
        xinf_fail (error, error_size, "header array has %zu fields, must have 5 (type, corr, sender, deadline, body)",
                   xinf_value_count (header));
        return NULL;
    }
    xinf_value_t *map = xinf_value_new_map ();
    for (size_t index = 0; index < 5; index++)
        xinf_map_put_copy (map, names [index], xinf_array_at (header, index));
    return map;
}

//  Skips one value and everything it holds; false when the bytes end first
//  (each item takes a byte at least: the walk ends with the bytes).
static bool
s_skip_value (xinf_mpread_t *reader)
{
    uint64_t pending = 1;
    while (pending) {
        xinf_mp_item_t item;
        if (xinf_mp_read (reader, &item))
            return false;
        pending--;
        if (item.kind == XINF_MP_ARRAY)
            pending += item.via.count;
        else
        if (item.kind == XINF_MP_MAP)
            pending += 2 * (uint64_t) item.via.count;
    }
    return true;
}

//  The corr of a header refused before its fields were read (over the
//  size limit), read straight from its first bytes where they allow, so
//  that the refusal reaches the call that sent it: version 3's array of
//  five, its second element after the type; version 2's map, the value
//  of "corr". 0 when it cannot be read within the header's first
//  S_PEEK_MAX bytes.
#define S_PEEK_MAX 4096

static uint64_t
s_peek_corr (int version, const byte *data, size_t size)
{
    //  Only the first bytes, so that a refused header costs the same
    //  whatever its size: both encoders put corr right after the type
    xinf_mpread_t reader = { data, size < S_PEEK_MAX ? size : S_PEEK_MAX, 0, NULL };
    xinf_mp_item_t item;
    if (xinf_mp_read (&reader, &item))
        return 0;
    if (version == 3) {
        if (item.kind != XINF_MP_ARRAY || item.via.count != 5
        ||  xinf_mp_read (&reader, &item) || item.kind != XINF_MP_STR
        ||  xinf_mp_read (&reader, &item) || item.kind != XINF_MP_UINT)
            return 0;
        return item.via.uint;
    }
    if (item.kind != XINF_MP_MAP)
        return 0;
    for (uint32_t entry = 0, count = item.via.count; entry < count; entry++) {
        xinf_mp_item_t key;
        if (xinf_mp_read (&reader, &key) || key.kind != XINF_MP_STR)
            return 0;
        if (key.via.bytes.size == 4 && memcmp (key.via.bytes.ptr, "corr", 4) == 0)
            return xinf_mp_read (&reader, &item) == 0 && item.kind == XINF_MP_UINT ? item.via.uint : 0;
        if (!s_skip_value (&reader))
            return 0;
    }
    return 0;
}

//  Whether a header the scan refused is well formed but holds more values
//  than allowed (a large request, whose sender is answered with its corr,
//  as for a header over XINF_HEADER_MAX).
static bool
s_only_too_many (const byte *data, size_t size)
{
    xinf_mpscan_limits_t relaxed = s_limits;
    relaxed.max_objects = XINF_HEADER_MAX;       //  a value is at least a byte
    char error [64];
    return xinf_mpscan (data, size, &relaxed, error, sizeof error) == 0;
}

//  Validates the header (frame 0 after the signature) and reads it into self.
static int
s_parse_header (xinf_msg_t *self, int version, const byte *data, size_t size,
                char *error, size_t error_size, uint64_t *corr_hint)
{
    if (size == 0)
        return xinf_fail (error, error_size, "frame 0 has no header after the signature");
    if (size > XINF_HEADER_MAX) {
        if (corr_hint)
            *corr_hint = s_peek_corr (version, data, size);
        return xinf_fail (error, error_size, "header has %zu bytes, at most %d allowed", size, XINF_HEADER_MAX);
    }
    if (s_take_canonical (self, version, data, size, corr_hint) == 0)
        return 0;
    //  Anything else: the structure walk first, for its precise reasons
    xinf_value_destroy (&self->body);
    if (xinf_mpscan (data, size, &s_limits, error, error_size)) {
        if (corr_hint && s_only_too_many (data, size))
            *corr_hint = s_peek_corr (version, data, size);
        return -1;
    }
    xinf_mpread_t reader = { data, size, 0, NULL };
    xinf_mp_item_t head;
    if (version == 2 && (xinf_mp_read (&reader, &head) || head.kind != XINF_MP_MAP))
        return xinf_fail (error, error_size, "header must be a map");
    reader.at = 0;
    xinf_value_t *header = xinf_value_read (&reader, NULL, error, error_size);
    if (header && version == 3) {
        xinf_value_t *fields = s_fields_as_map (header, error, error_size);
        xinf_value_destroy (&header);
        header = fields;
    }
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
    int version;
    if (count > 1 + XINF_FRAMES_MAX)
        xinf_fail (error, error_size, "%zu frames, at most %d allowed", count, 1 + XINF_FRAMES_MAX);
    else
    if ((version = s_check_signature (head, head_size, error, error_size)) > 0) {
        self = s_msg_alloc (frames);
        self->version = (uint8_t) version;
        if (s_parse_header (self, version, head + XINF_SIGNATURE_SIZE, head_size - XINF_SIGNATURE_SIZE,
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
    xinf_vtextf (text, sizeof text, format, args);
    va_end (args);
    xinf_map_put_str (self->body, "code", code);
    xinf_map_put_str (self->body, "message", text);
    return self;
}
