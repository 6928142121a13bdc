/*  test_msg: xinf_msg, the XINF envelope.

    Encode -> decode keeps type, corr, sender, deadline, body and the binary
    frames byte-exact and in order; a message without bulk data is one
    frame (signature and header). Messages are sent in version 3 (the
    header an array) and versions 2 (a map) and 3 are both read; a message
    keeps the version it came in and is encoded in the version it is set
    to (test_versions). Decoding refuses, with a precise reason, a wrong
    signature or version (version 1's separate header frame included), a
    missing header or one of the wrong kind for its version (a map in
    version 3, an array in version 2, an array of other than five),
    missing and ill-typed fields, invalid type names, too many frames and
    an oversize header, and still hands out the corr when it was readable
    (test_field_errors: version 2, test_array_errors: version 3,
    test_oversize_corr: a header over the size limit).
    The canonical header (test_canonical: the shortest encodings and, in
    version 2, keys in the spec's order, as this encoder writes them) and
    any other valid form (keys reordered, longer encodings, an unknown
    key in version 2) decode to the same message; type and sender at
    their longest, bodies larger than the message's block and garbage in
    the body are read or refused in both versions.
*/
#include "test_unit.h"

//  A version-2 header map with every field valid; tests break one field.
static xinf_value_t *
s_header (void)
{
    xinf_value_t *header = xinf_value_new_map ();
    xinf_map_put_str (header, "type", "HELLO");
    xinf_map_put_uint (header, "corr", 77);
    xinf_map_put_str (header, "sender", "tester");
    xinf_map_put_uint (header, "deadline", 0);
    xinf_map_put (header, "body", xinf_value_new_map ());
    return header;
}

//  One frame: the signature with 'version', then 'size' bytes of 'header'.
static zmsg_t *
s_zmsg_bytes (int version, const void *header, size_t size)
{
    zframe_t *frame = zframe_new (NULL, XINF_SIGNATURE_SIZE + size);
    byte *data = zframe_data (frame);
    memcpy (data, "XINF", 4);
    data [4] = (byte) version;
    if (size)
        memcpy (data + XINF_SIGNATURE_SIZE, header, size);
    zmsg_t *zmsg = zmsg_new ();
    zmsg_append (zmsg, &frame);
    return zmsg;
}

//  [signature with 'version' + header packed]; consumes the header (none:
//  the signature alone).
static zmsg_t *
s_zmsg (xinf_value_t **header_p, int version)
{
    if (!*header_p)
        return s_zmsg_bytes (version, NULL, 0);
    msgpack_sbuffer buffer;
    test_pack (*header_p, &buffer);
    zmsg_t *zmsg = s_zmsg_bytes (version, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    xinf_value_destroy (header_p);
    return zmsg;
}

//  Decodes and expects NULL with 'reason' (a substring) and 'hint'.
static void
s_expect_refused (zmsg_t *zmsg, const char *reason, uint64_t hint)
{
    char error [256] = "";
    uint64_t corr_hint = 12345;
    xinf_msg_t *msg = xinf_msg_decode (&zmsg, error, sizeof error, &corr_hint);
    CHECK (msg == NULL);
    CHECK (zmsg == NULL);
    CHECK_HAS (error, reason);
    CHECK (corr_hint == hint);
}

//  Expects the valid header with 'key' replaced by 'value' to be refused.
static void
s_expect_field_refused (const char *key, xinf_value_t *value, const char *reason, uint64_t hint)
{
    xinf_value_t *header = s_header ();
    if (value)
        xinf_map_put (header, key, value);
    else {
        xinf_value_t *taken = xinf_map_take (header, key);
        xinf_value_destroy (&taken);
    }
    s_expect_refused (s_zmsg (&header, 2), reason, hint);
}

//  A version-3 header array with every field valid, the field at 'index'
//  replaced by 'value' (NULL: dropped, four fields left).
static xinf_value_t *
s_header3_with (size_t index, xinf_value_t *value)
{
    xinf_value_t *fields [5] = {
        xinf_value_new_str ("HELLO"), xinf_value_new_uint (77), xinf_value_new_str ("tester"),
        xinf_value_new_uint (0), xinf_value_new_map ()
    };
    xinf_value_t *header = xinf_value_new_array ();
    for (size_t at = 0; at < 5; at++)
        if (at != index)
            xinf_array_push (header, fields [at]);
        else {
            xinf_value_destroy (&fields [at]);
            if (value)
                xinf_array_push (header, value);
        }
    return header;
}

//  Expects the valid version-3 header with field 'index' replaced by
//  'value' (NULL: dropped) to be refused.
static void
s_expect_item_refused (size_t index, xinf_value_t *value, const char *reason, uint64_t hint)
{
    xinf_value_t *header = s_header3_with (index, value);
    s_expect_refused (s_zmsg (&header, 3), reason, hint);
}

static void
test_round_trip (void)
{
    xinf_msg_t *msg = xinf_msg_new ("GENERATE_2");
    CHECK_STR (xinf_msg_type (msg), "GENERATE_2");
    CHECK (xinf_msg_is (msg, "GENERATE_2"));
    CHECK (!xinf_msg_is (msg, "GENERATE"));
    CHECK_INT (xinf_msg_corr (msg), 0);
    CHECK_STR (xinf_msg_sender (msg), "");
    CHECK_INT (xinf_msg_deadline (msg), 0);
    xinf_msg_set_corr (msg, 0xfedcba9876543210ULL);
    xinf_msg_set_sender (msg, "client-1");
    xinf_msg_set_deadline (msg, 1500);
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "prompt", "Once upon a time");
    xinf_map_put_uint (body, "max_tokens", 64);
    xinf_map_put_float (body, "temperature", 0.75);
    xinf_value_t *stop = xinf_value_new_array ();
    xinf_array_push (stop, xinf_value_new_str ("\n\n"));
    xinf_array_push (stop, xinf_value_new_bin ("\x00\x01", 2));
    xinf_map_put (body, "stop", stop);
    xinf_value_t *expected_body = xinf_value_dup (body);

    //  Frames: small, empty, 1 MiB of a pattern, one added as a zframe
    size_t big_size = 1 << 20;
    unsigned char *big = malloc (big_size);
    for (size_t index = 0; index < big_size; index++)
        big [index] = (unsigned char) (index * 131 + 7);
    xinf_msg_add_bytes (msg, "abc", 3);
    xinf_msg_add_bytes (msg, NULL, 0);
    xinf_msg_add_bytes (msg, big, big_size);
    zframe_t *frame = zframe_new ("\xff\x00\xfe", 3);
    xinf_msg_add_frame (msg, &frame);
    CHECK (frame == NULL);
    CHECK_INT (xinf_msg_frame_count (msg), 4);
    CHECK (xinf_msg_frame (msg, 4) == NULL);

    zmsg_t *zmsg = xinf_msg_encode (&msg);
    CHECK (msg == NULL);
    CHECK_INT (zmsg_size (zmsg), 5);
    zframe_t *head = zmsg_first (zmsg);
    CHECK (zframe_size (head) > XINF_SIGNATURE_SIZE);
    CHECK (memcmp (zframe_data (head), "XINF\x03", 5) == 0);
    CHECK (zframe_data (head) [5] == 0x95);     //  the header: an array of 5

    char error [256] = "";
    uint64_t hint = 0;
    msg = xinf_msg_decode (&zmsg, error, sizeof error, &hint);
    CHECK (zmsg == NULL);
    CHECK (msg);
    CHECK (hint == 0xfedcba9876543210ULL);
    CHECK_STR (xinf_msg_type (msg), "GENERATE_2");
    CHECK (xinf_msg_corr (msg) == 0xfedcba9876543210ULL);
    CHECK_STR (xinf_msg_sender (msg), "client-1");
    CHECK_INT (xinf_msg_deadline (msg), 1500);
    CHECK (test_value_equal (xinf_msg_body (msg), expected_body));
    CHECK_INT (xinf_msg_frame_count (msg), 4);
    CHECK_INT (zframe_size (xinf_msg_frame (msg, 0)), 3);
    CHECK (memcmp (zframe_data (xinf_msg_frame (msg, 0)), "abc", 3) == 0);
    CHECK_INT (zframe_size (xinf_msg_frame (msg, 1)), 0);
    CHECK_INT (zframe_size (xinf_msg_frame (msg, 2)), big_size);
    CHECK (memcmp (zframe_data (xinf_msg_frame (msg, 2)), big, big_size) == 0);
    CHECK (memcmp (zframe_data (xinf_msg_frame (msg, 3)), "\xff\x00\xfe", 3) == 0);
    xinf_msg_destroy (&msg);
    CHECK (msg == NULL);
    xinf_msg_destroy (&msg);
    xinf_value_destroy (&expected_body);
    free (big);
}

static void
test_minimal (void)
{
    xinf_msg_t *msg = xinf_msg_new ("A");
    zmsg_t *zmsg = xinf_msg_encode (&msg);
    CHECK_INT (zmsg_size (zmsg), 1);           //  no bulk data: one frame
    char error [256] = "";
    msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (msg);
    CHECK_STR (xinf_msg_type (msg), "A");
    CHECK_INT (xinf_value_type (xinf_msg_body (msg)), XINF_MAP);
    CHECK_INT (xinf_value_count (xinf_msg_body (msg)), 0);
    CHECK_INT (xinf_msg_frame_count (msg), 0);
    CHECK (xinf_msg_frame (msg, 0) == NULL);
    xinf_msg_destroy (&msg);

    //  A sender longer than the limit is cut to XINF_SENDER_MAX bytes
    msg = xinf_msg_new ("A");
    char sender [300];
    memset (sender, 's', sizeof sender - 1);
    sender [sizeof sender - 1] = 0;
    xinf_msg_set_sender (msg, sender);
    CHECK_INT (strlen (xinf_msg_sender (msg)), XINF_SENDER_MAX);
    xinf_msg_set_sender (msg, NULL);
    CHECK_STR (xinf_msg_sender (msg), "");
    xinf_msg_destroy (&msg);

    //  Extra header fields are ignored, an empty key too (first, so that
    //  msgpack-c hands it out with a NULL pointer)
    xinf_value_t *header = xinf_value_new_map ();
    xinf_map_put_str (header, "", "");
    xinf_value_t *fields = s_header ();
    for (size_t index = 0; index < xinf_value_count (fields); index++)
        xinf_map_put (header, xinf_map_key_at (fields, index), xinf_value_dup (xinf_map_value_at (fields, index)));
    xinf_value_destroy (&fields);
    xinf_map_put_str (header, "future", "field");
    zmsg = s_zmsg (&header, 2);
    msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (msg);
    CHECK_STR (xinf_msg_type (msg), "HELLO");
    CHECK_INT (xinf_msg_corr (msg), 77);
    CHECK_STR (xinf_msg_sender (msg), "tester");
    xinf_msg_destroy (&msg);
}

static void
test_type_names (void)
{
    CHECK (xinf_msg_type_valid ("A", 1));
    CHECK (xinf_msg_type_valid ("PING", 4));
    CHECK (xinf_msg_type_valid ("WAIT_TIMEOUT_2", 14));
    CHECK (xinf_msg_type_valid ("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 32));
    CHECK (!xinf_msg_type_valid ("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", 33));
    CHECK (!xinf_msg_type_valid ("", 0));
    CHECK (!xinf_msg_type_valid (NULL, 3));
    CHECK (!xinf_msg_type_valid ("ping", 4));
    CHECK (!xinf_msg_type_valid ("1PING", 5));
    CHECK (!xinf_msg_type_valid ("_PING", 5));
    CHECK (!xinf_msg_type_valid ("PI-NG", 5));
    CHECK (!xinf_msg_type_valid ("PI NG", 5));
    CHECK (!xinf_msg_type_valid ("PI\0G", 4));
    CHECK (xinf_msg_type_valid ("PING!", 4));     //  only 'length' bytes count
}

static void
test_frame_errors (void)
{
    char error [256] = "";
    uint64_t hint = 5;
    zmsg_t *zmsg = NULL;
    CHECK (xinf_msg_decode (&zmsg, error, sizeof error, &hint) == NULL);
    CHECK_STR (error, "no message");
    CHECK_INT (hint, 0);

    s_expect_refused (zmsg_new (), "empty message", 0);

    zmsg = zmsg_new ();
    zmsg_addmem (zmsg, "ZINF\x02\x80", 6);
    s_expect_refused (zmsg, "frame 0 does not start with the XINF signature (6 bytes)", 0);
    zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "XINFO");                //  the fifth byte is the version
    s_expect_refused (zmsg, "unsupported envelope version 79", 0);
    zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "XIN");
    s_expect_refused (zmsg, "frame 0 does not start with the XINF signature (3 bytes)", 0);
    zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "XINF");
    s_expect_refused (zmsg, "frame 0 ends before the version byte", 0);
    zmsg = zmsg_new ();
    zmsg_addmem (zmsg, "", 0);
    s_expect_refused (zmsg, "frame 0 does not start with the XINF signature (0 bytes)", 0);

    xinf_value_t *header = s_header ();
    s_expect_refused (s_zmsg (&header, 4), "unsupported envelope version 4 (this node speaks 2 and 3)", 0);
    header = s_header ();
    s_expect_refused (s_zmsg (&header, 0), "unsupported envelope version 0", 0);

    //  Version 1 (signature and header in two frames) is refused by version
    header = s_header ();
    msgpack_sbuffer buffer;
    test_pack (header, &buffer);
    xinf_value_destroy (&header);
    zmsg = zmsg_new ();
    zmsg_addmem (zmsg, "XINF\x01", 5);
    zmsg_addmem (zmsg, buffer.data, buffer.size);
    s_expect_refused (zmsg, "unsupported envelope version 1 (this node speaks 2 and 3)", 0);
    //  ... and so is a version 2 or 3 signature followed by a separate header frame
    for (int version = 2; version <= 3; version++) {
        zmsg = zmsg_new ();
        zmsg_addmem (zmsg, version == 2 ? "XINF\x02" : "XINF\x03", 5);
        zmsg_addmem (zmsg, buffer.data, buffer.size);
        s_expect_refused (zmsg, "frame 0 has no header after the signature", 0);
        header = NULL;
        s_expect_refused (s_zmsg (&header, version), "frame 0 has no header after the signature", 0);
    }
    msgpack_sbuffer_destroy (&buffer);

    //  Headers of the wrong kind for their version, not msgpack at all,
    //  or with bytes after them
    xinf_value_t *array = xinf_value_new_array ();
    xinf_array_push (array, xinf_value_new_uint (1));
    s_expect_refused (s_zmsg (&array, 2), "header must be a map", 0);
    xinf_value_t *text = xinf_value_new_str ("HELLO");
    s_expect_refused (s_zmsg (&text, 2), "header must be a map", 0);
    header = s_header ();
    s_expect_refused (s_zmsg (&header, 3), "header must be an array [type, corr, sender, deadline, body], got map", 0);
    text = xinf_value_new_str ("HELLO");
    s_expect_refused (s_zmsg (&text, 3), "header must be an array [type, corr, sender, deadline, body], got str", 0);
    for (int version = 2; version <= 3; version++) {
        s_expect_refused (s_zmsg_bytes (version, "\xdd\xff\xff\xff\xff", 5),
                          "msgpack: declared count larger than the bytes left", 0);
        s_expect_refused (s_zmsg_bytes (version, "\xdf\xff\xff\xff\xff", 5),
                          "msgpack: map has more entries than allowed", 0);
        s_expect_refused (s_zmsg_bytes (version, "\x81\xa4type", 6), "msgpack: truncated", 0);
        s_expect_refused (s_zmsg_bytes (version, "\x95\xa4PING\x01", 7), "msgpack: truncated", 0);
        s_expect_refused (s_zmsg_bytes (version, "\x81\x01\x02", 3), "map keys must be str", 0);
        s_expect_refused (s_zmsg_bytes (version, "\x80\x80", 2), "msgpack: trailing bytes after the object", 0);
        s_expect_refused (s_zmsg_bytes (version, "\xc1", 1), "msgpack: reserved byte 0xc1", 0);
        s_expect_refused (s_zmsg_bytes (version, "\x95\xa4PING\x01\xa0\x00\xd4\x00\x00", 10),
                          "msgpack: ext types are not accepted", 0);
    }
}

//  A well-formed header of more values than allowed (a large request) is
//  refused with its corr, so that its sender is answered, not left waiting.
static void
test_too_many_values (void)
{
    xinf_value_t *header = s_header ();
    xinf_value_t *values = xinf_value_new_array ();
    for (size_t index = 0; index < XINF_OBJECTS_MAX; index++)
        xinf_array_push (values, xinf_value_new_uint (1));
    xinf_value_t *body = xinf_map_get (header, "body");
    xinf_map_put (body, "values", values);
    s_expect_refused (s_zmsg (&header, 2), "more objects than allowed", 77);
}

static void
test_field_errors (void)
{
    s_expect_field_refused ("corr", xinf_value_new_str ("77"), "field 'corr' must be uint64, got str", 0);
    s_expect_field_refused ("corr", NULL, "field 'corr' is missing", 0);
    s_expect_field_refused ("corr", xinf_value_new_int (-1), "field 'corr' must be uint64, got int64", 0);
    s_expect_field_refused ("corr", xinf_value_new_float (1.0), "field 'corr' must be uint64, got float", 0);
    //  The corr is handed out whenever it was readable
    s_expect_field_refused ("type", NULL, "field 'type' is missing", 77);
    s_expect_field_refused ("type", xinf_value_new_uint (3), "field 'type' must be str, got uint64", 77);
    s_expect_field_refused ("type", xinf_value_new_str ("hello"),
                            "field 'type' must be 1-32 of A-Z, 0-9, '_' starting with a letter", 77);
    s_expect_field_refused ("type", xinf_value_new_str ("9LIVES"), "field 'type' must be 1-32", 77);
    s_expect_field_refused ("type", xinf_value_new_str (""), "field 'type' has 0 bytes, must have 1 to 32", 77);
    s_expect_field_refused ("type", xinf_value_new_str ("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"),
                            "field 'type' has 33 bytes, must have 1 to 32", 77);
    s_expect_field_refused ("type", xinf_value_new_strn ("PI\0G", 4), "field 'type' contains a NUL byte", 77);
    char sender [XINF_SENDER_MAX + 2];
    memset (sender, 's', sizeof sender - 1);
    sender [sizeof sender - 1] = 0;
    s_expect_field_refused ("sender", xinf_value_new_str (sender), "field 'sender' has 129 bytes, must have 0 to 128", 77);
    s_expect_field_refused ("sender", NULL, "field 'sender' is missing", 77);
    s_expect_field_refused ("sender", xinf_value_new_bin ("x", 1), "field 'sender' must be str, got bin", 77);
    s_expect_field_refused ("deadline", NULL, "field 'deadline' is missing", 77);
    s_expect_field_refused ("deadline", xinf_value_new_bool (true), "field 'deadline' must be uint64, got bool", 77);
    s_expect_field_refused ("body", NULL, "field 'body' is missing", 77);
    s_expect_field_refused ("body", xinf_value_new_array (), "field 'body' must be map, got array", 77);
    s_expect_field_refused ("body", xinf_value_new_nil (), "field 'body' must be map, got nil", 77);

    //  A sender of exactly XINF_SENDER_MAX bytes is fine
    xinf_value_t *header = s_header ();
    sender [XINF_SENDER_MAX] = 0;
    xinf_map_put_str (header, "sender", sender);
    zmsg_t *zmsg = s_zmsg (&header, 2);
    char error [256];
    xinf_msg_t *msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (msg);
    CHECK_STR (xinf_msg_sender (msg), sender);
    CHECK_INT (xinf_msg_version (msg), 2);
    xinf_msg_destroy (&msg);
}

//  Version 3: every field of the header array checked as in version 2,
//  named by its place's name; an array of other than five is refused.
static void
test_array_errors (void)
{
    enum { TYPE, CORR, SENDER, DEADLINE, BODY };
    s_expect_item_refused (CORR, xinf_value_new_str ("77"), "field 'corr' must be uint64, got str", 0);
    s_expect_item_refused (CORR, xinf_value_new_int (-1), "field 'corr' must be uint64, got int64", 0);
    s_expect_item_refused (CORR, xinf_value_new_float (1.0), "field 'corr' must be uint64, got float", 0);
    s_expect_item_refused (CORR, xinf_value_new_nil (), "field 'corr' must be uint64, got nil", 0);
    //  The corr is handed out whenever it was readable
    s_expect_item_refused (TYPE, xinf_value_new_uint (3), "field 'type' must be str, got uint64", 77);
    s_expect_item_refused (TYPE, xinf_value_new_str ("hello"),
                           "field 'type' must be 1-32 of A-Z, 0-9, '_' starting with a letter", 77);
    s_expect_item_refused (TYPE, xinf_value_new_str (""), "field 'type' has 0 bytes, must have 1 to 32", 77);
    s_expect_item_refused (TYPE, xinf_value_new_str ("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"),
                           "field 'type' has 33 bytes, must have 1 to 32", 77);
    s_expect_item_refused (TYPE, xinf_value_new_strn ("PI\0G", 4), "field 'type' contains a NUL byte", 77);
    s_expect_item_refused (TYPE, xinf_value_new_bin ("PING", 4), "field 'type' must be str, got bin", 77);
    char sender [XINF_SENDER_MAX + 2];
    memset (sender, 's', sizeof sender - 1);
    sender [sizeof sender - 1] = 0;
    s_expect_item_refused (SENDER, xinf_value_new_str (sender), "field 'sender' has 129 bytes, must have 0 to 128", 77);
    s_expect_item_refused (SENDER, xinf_value_new_bin ("x", 1), "field 'sender' must be str, got bin", 77);
    s_expect_item_refused (SENDER, xinf_value_new_strn ("ab\0", 3), "field 'sender' contains a NUL byte", 77);
    s_expect_item_refused (SENDER, xinf_value_new_str ("ab\xc0\x80"), "field 'sender' is not valid UTF-8 (byte 2)", 77);
    s_expect_item_refused (SENDER, xinf_value_new_str ("\xed\xa0\x80"), "field 'sender' is not valid UTF-8 (byte 0)", 77);
    s_expect_item_refused (DEADLINE, xinf_value_new_bool (true), "field 'deadline' must be uint64, got bool", 77);
    s_expect_item_refused (DEADLINE, xinf_value_new_int (-5), "field 'deadline' must be uint64, got int64", 77);
    s_expect_item_refused (BODY, xinf_value_new_array (), "field 'body' must be map, got array", 77);
    s_expect_item_refused (BODY, xinf_value_new_nil (), "field 'body' must be map, got nil", 77);
    s_expect_item_refused (BODY, xinf_value_new_str ("{}"), "field 'body' must be map, got str", 77);
    //  Not five fields
    s_expect_item_refused (DEADLINE, NULL, "header array has 4 fields, must have 5", 0);
    xinf_value_t *header = s_header3_with (BODY + 1, NULL);
    xinf_array_push (header, xinf_value_new_str ("later"));
    s_expect_refused (s_zmsg (&header, 3), "header array has 6 fields, must have 5", 0);
    header = xinf_value_new_array ();
    s_expect_refused (s_zmsg (&header, 3), "header array has 0 fields, must have 5", 0);

    //  The body's own rules: no key twice, keys str, at most 1024 entries
    const char twice [] = "\x95\xa4PING\x07\xa1x\x00\x82\xa1k\x01\xa1k\x02";
    s_expect_refused (s_zmsg_bytes (3, twice, sizeof twice - 1), "duplicate map key 'k'", 0);
    const char number_key [] = "\x95\xa4PING\x07\xa1x\x00\x81\x01\x01";
    s_expect_refused (s_zmsg_bytes (3, number_key, sizeof number_key - 1), "map keys must be str", 0);
    const char after [] = "\x95\xa4PING\x07\xa1x\x00\x80\x00";
    s_expect_refused (s_zmsg_bytes (3, after, sizeof after - 1), "msgpack: trailing bytes after the object", 0);
    const char cut [] = "\x95\xa4PING\x07\xa1x\x00\x82\xa1k\x01";
    s_expect_refused (s_zmsg_bytes (3, cut, sizeof cut - 1), "msgpack: declared count larger than the bytes left", 0);
    xinf_msg_t *large = xinf_msg_new ("LARGE");
    for (int index = 0; index <= XINF_MAP_ENTRIES_MAX; index++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", index);
        xinf_map_put_uint (xinf_msg_body (large), key, 1);
    }
    s_expect_refused (xinf_msg_encode (&large), "map has more entries than allowed", 0);

    //  A sender of exactly XINF_SENDER_MAX bytes is fine
    sender [XINF_SENDER_MAX] = 0;
    header = s_header3_with (SENDER, xinf_value_new_str (sender));
    zmsg_t *zmsg = s_zmsg (&header, 3);
    char error [256];
    uint64_t hint = 0;
    xinf_msg_t *msg = xinf_msg_decode (&zmsg, error, sizeof error, &hint);
    CHECK (msg);
    CHECK_STR (xinf_msg_type (msg), "HELLO");
    CHECK_INT (hint, 77);
    CHECK_STR (xinf_msg_sender (msg), sender);
    CHECK_INT (xinf_msg_version (msg), 3);
    xinf_msg_destroy (&msg);
}

//  Encodes 'msg' in 'version' and checks the first bytes of frame 0.
static zmsg_t *
s_encode_as (xinf_msg_t **msg_p, int version)
{
    xinf_msg_set_version (*msg_p, version);
    CHECK_INT (xinf_msg_version (*msg_p), version);
    zmsg_t *zmsg = xinf_msg_encode (msg_p);
    const byte *head = zframe_data (zmsg_first (zmsg));
    CHECK (memcmp (head, "XINF", 4) == 0);
    CHECK_INT (head [4], version);
    CHECK_INT (head [5], version == 2 ? 0x85 : 0x95);
    return zmsg;
}

//  New messages are version 3; a decoded one keeps its version, so that
//  it encodes as it came; both versions carry the same message, version 3
//  in fewer bytes (no keys).
static void
test_versions (void)
{
    xinf_msg_t *msg = xinf_msg_new ("PING");
    CHECK_INT (xinf_msg_version (msg), XINF_VERSION);
    CHECK_INT (XINF_VERSION, 3);
    xinf_msg_destroy (&msg);
    size_t sizes [4] = { 0 };
    for (int version = 2; version <= 3; version++) {
        msg = xinf_msg_new ("PING");
        xinf_msg_set_corr (msg, 123456);
        xinf_msg_set_sender (msg, "bench-client");
        xinf_msg_set_deadline (msg, 5000);
        xinf_map_put_bin (xinf_msg_body (msg), "echo", "0123456789", 10);
        xinf_msg_add_bytes (msg, "bulk", 4);
        zmsg_t *zmsg = s_encode_as (&msg, version);
        sizes [version] = zframe_size (zmsg_first (zmsg));
        char error [256] = "";
        msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
        CHECK (msg);
        CHECK_INT (xinf_msg_version (msg), version);
        CHECK_STR (xinf_msg_type (msg), "PING");
        CHECK_INT (xinf_msg_corr (msg), 123456);
        CHECK_STR (xinf_msg_sender (msg), "bench-client");
        CHECK_INT (xinf_msg_deadline (msg), 5000);
        size_t size;
        const void *echo = xinf_value_bytes (xinf_map_get (xinf_msg_body (msg), "echo"), &size);
        CHECK (echo && size == 10 && memcmp (echo, "0123456789", 10) == 0);
        CHECK_INT (xinf_msg_frame_count (msg), 1);
        //  Re-encoded as it came, or in the other version
        zmsg = xinf_msg_encode (&msg);
        CHECK_INT (zframe_data (zmsg_first (zmsg)) [4], version);
        msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
        zmsg = s_encode_as (&msg, 5 - version);
        msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
        CHECK (msg);
        CHECK_INT (xinf_msg_version (msg), 5 - version);
        CHECK_INT (xinf_msg_corr (msg), 123456);
        xinf_msg_destroy (&msg);
    }
    //  The five keys and their heads: 5 + 5 + 7 + 9 + 5 bytes
    CHECK_INT (sizes [2] - sizes [3], 31);
}

//  A valid message with 'count' binary frames.
static zmsg_t *
s_with_frames (size_t count)
{
    xinf_msg_t *msg = xinf_msg_new ("FRAMES");
    for (size_t index = 0; index < count; index++)
        xinf_msg_add_bytes (msg, &index, sizeof index);
    return xinf_msg_encode (&msg);
}

static void
test_limits (void)
{
    zmsg_t *zmsg = s_with_frames (XINF_FRAMES_MAX);
    char error [256] = "";
    xinf_msg_t *msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (msg);
    CHECK_INT (xinf_msg_frame_count (msg), XINF_FRAMES_MAX);
    for (size_t index = 0; index < XINF_FRAMES_MAX; index++) {
        size_t value;
        memcpy (&value, zframe_data (xinf_msg_frame (msg, index)), sizeof value);
        CHECK_INT (value, index);
    }
    xinf_msg_destroy (&msg);
    s_expect_refused (s_with_frames (XINF_FRAMES_MAX + 1), "66 frames, at most 65 allowed", 0);
    s_expect_refused (s_with_frames (1000), "1001 frames, at most 65 allowed", 0);

    //  A header of just under the limit decodes, one over is refused
    xinf_msg_t *large = xinf_msg_new ("LARGE");
    size_t size = XINF_HEADER_MAX - 200;
    char *blob = calloc (1, XINF_HEADER_MAX);
    xinf_map_put (xinf_msg_body (large), "blob", xinf_value_new_bin (blob, size));
    zmsg = xinf_msg_encode (&large);
    CHECK_INT (zmsg_size (zmsg), 1);
    size_t header_size = zframe_size (zmsg_first (zmsg)) - XINF_SIGNATURE_SIZE;
    CHECK (header_size <= XINF_HEADER_MAX);
    msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (msg);
    CHECK_INT (xinf_value_bytes (xinf_map_get (xinf_msg_body (msg), "blob"), &size) != NULL, 1);
    CHECK_INT (size, XINF_HEADER_MAX - 200);
    xinf_msg_destroy (&msg);

    large = xinf_msg_new ("LARGE");
    xinf_map_put (xinf_msg_body (large), "blob", xinf_value_new_bin (blob, XINF_HEADER_MAX));
    zmsg = xinf_msg_encode (&large);
    char expected [128];
    snprintf (expected, sizeof expected, "at most %d allowed", XINF_HEADER_MAX);
    s_expect_refused (zmsg, expected, 0);
    free (blob);

    //  The body map over the entry cap is refused before msgpack-c sees it
    large = xinf_msg_new ("LARGE");
    for (int index = 0; index <= XINF_MAP_ENTRIES_MAX; index++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", index);
        xinf_map_put_uint (xinf_msg_body (large), key, 1);
    }
    s_expect_refused (xinf_msg_encode (&large), "map has more entries than allowed", 0);
}

//  A header over the limit is refused before its fields are read, but its
//  corr is still handed out (read from its first bytes), so that the
//  refusal reaches the call that sent it: in version 3 (the array's
//  second element) and version 2 (the map's "corr", also after a body);
//  0 when the corr there is not a uint.
static void
test_oversize_corr (void)
{
    char *blob = malloc (XINF_HEADER_MAX);
    assert (blob);
    memset (blob, 'a', XINF_HEADER_MAX);
    char expected [128];
    snprintf (expected, sizeof expected, "at most %d allowed", XINF_HEADER_MAX);
    for (int version = 2; version <= 3; version++) {
        xinf_msg_t *large = xinf_msg_new ("GENERATE");
        xinf_msg_set_version (large, version);
        xinf_msg_set_corr (large, 4242);
        xinf_map_put (xinf_msg_body (large), "prompt", xinf_value_new_strn (blob, XINF_HEADER_MAX));
        s_expect_refused (xinf_msg_encode (&large), expected, 4242);
    }
    //  Version 2, the keys in another order: a small body before the
    //  corr, the bulk after it (an unknown key)
    xinf_value_t *header = xinf_value_new_map ();
    xinf_value_t *body = xinf_value_new_map ();
    xinf_map_put (body, "nested", xinf_value_new_array ());
    xinf_array_push (xinf_map_get (body, "nested"), xinf_value_new_map ());
    xinf_map_put (header, "body", body);
    xinf_map_put_str (header, "type", "HELLO");
    xinf_map_put_str (header, "sender", "tester");
    xinf_map_put_uint (header, "deadline", 0);
    xinf_map_put_uint (header, "corr", 99);
    xinf_map_put (header, "pad", xinf_value_new_bin (blob, XINF_HEADER_MAX));
    s_expect_refused (s_zmsg (&header, 2), expected, 99);
    //  The corr past the first 4 KiB (after many small items, which a
    //  peek through the whole header would walk one by one): none
    header = xinf_value_new_map ();
    body = xinf_value_new_map ();
    xinf_value_t *many = xinf_value_new_array ();
    for (int index = 0; index < 4096; index++)
        xinf_array_push (many, xinf_value_new_uint (1));
    xinf_map_put (body, "many", many);
    xinf_map_put (body, "blob", xinf_value_new_bin (blob, XINF_HEADER_MAX));
    xinf_map_put (header, "body", body);
    xinf_map_put_uint (header, "corr", 98);
    s_expect_refused (s_zmsg (&header, 2), expected, 0);
    //  Version 3 with a corr that is not a uint: none to hand out
    header = xinf_value_new_array ();
    xinf_array_push (header, xinf_value_new_str ("HELLO"));
    xinf_array_push (header, xinf_value_new_str ("99"));
    xinf_array_push (header, xinf_value_new_str ("tester"));
    xinf_array_push (header, xinf_value_new_uint (0));
    body = xinf_value_new_map ();
    xinf_map_put (body, "blob", xinf_value_new_bin (blob, XINF_HEADER_MAX));
    xinf_array_push (header, body);
    s_expect_refused (s_zmsg (&header, 3), expected, 0);
    free (blob);
}

static void
test_error_message (void)
{
    xinf_msg_t *error = xinf_msg_new_error (42, "BAD_FIELD", "field '%s' is %d", "n", 7);
    CHECK_STR (xinf_msg_type (error), "ERROR");
    CHECK (xinf_msg_is (error, "ERROR"));
    CHECK_INT (xinf_msg_corr (error), 42);
    xinf_value_t *body = xinf_msg_body (error);
    CHECK_INT (xinf_value_count (body), 2);
    CHECK_STR (xinf_value_str (xinf_map_get (body, "code")), "BAD_FIELD");
    CHECK_STR (xinf_value_str (xinf_map_get (body, "message")), "field 'n' is 7");
    //  It travels like any message
    zmsg_t *zmsg = xinf_msg_encode (&error);
    char reason [256];
    error = xinf_msg_decode (&zmsg, reason, sizeof reason, NULL);
    CHECK (error);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (error), "code")), "BAD_FIELD");
    xinf_msg_destroy (&error);
}


//  Decodes one frame of bytes in 'version', which must be valid.
static xinf_msg_t *
s_decode_bytes (int version, const void *data, size_t size)
{
    zmsg_t *zmsg = s_zmsg_bytes (version, data, size);
    char error [256] = "";
    xinf_msg_t *msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    if (!msg)
        fprintf (stderr, "refused: %s\n", error);
    CHECK (msg);
    return msg;
}

//  Encodes in 'version', decodes and compares everything with the original.
static void
s_round_trip_check (xinf_msg_t **msg_p, int version)
{
    xinf_msg_t *msg = *msg_p;
    xinf_msg_set_version (msg, version);
    char type [XINF_TYPE_MAX + 1], sender [XINF_SENDER_MAX + 1];
    snprintf (type, sizeof type, "%s", xinf_msg_type (msg));
    snprintf (sender, sizeof sender, "%s", xinf_msg_sender (msg));
    uint64_t corr = xinf_msg_corr (msg), deadline = xinf_msg_deadline (msg);
    xinf_value_t *body = xinf_value_dup (xinf_msg_body (msg));
    zmsg_t *zmsg = xinf_msg_encode (msg_p);
    char error [256] = "";
    msg = xinf_msg_decode (&zmsg, error, sizeof error, NULL);
    CHECK (msg);
    CHECK_STR (xinf_msg_type (msg), type);
    CHECK_STR (xinf_msg_sender (msg), sender);
    CHECK (xinf_msg_corr (msg) == corr);
    CHECK (xinf_msg_deadline (msg) == deadline);
    CHECK (test_value_equal (xinf_msg_body (msg), body));
    xinf_value_destroy (&body);
    xinf_msg_destroy (&msg);
}

static void
test_canonical (void)
{
    //  Type and sender at their longest (str8 on the wire), every uint width
    char longest [XINF_SENDER_MAX + 1];
    memset (longest, 's', XINF_SENDER_MAX);
    longest [XINF_SENDER_MAX] = 0;
    uint64_t numbers [] = { 0, 127, 128, 255, 256, 65535, 65536, 0xffffffffULL, 0x100000000ULL, UINT64_MAX };
    for (size_t index = 0; index < sizeof numbers / sizeof numbers [0]; index++) {
        xinf_msg_t *msg = xinf_msg_new ("A234567890123456789012345678901_");
        xinf_msg_set_sender (msg, index % 2 ? longest : "");
        xinf_msg_set_corr (msg, numbers [index]);
        xinf_msg_set_deadline (msg, numbers [sizeof numbers / sizeof numbers [0] - 1 - index]);
        xinf_map_put_uint (xinf_msg_body (msg), "n", numbers [index]);
        s_round_trip_check (&msg, 2 + (int) (index / 2) % 2);
    }
    //  A body larger than the message's block: many entries, a large bin
    xinf_msg_t *msg = xinf_msg_new ("BIG");
    char key [32];
    for (int index = 0; index < 300; index++) {
        snprintf (key, sizeof key, "key-%d", index);
        xinf_map_put_str (xinf_msg_body (msg), key, key);
    }
    xinf_msg_t *copy = xinf_msg_new ("BIG");
    xinf_map_put_copy (xinf_msg_body (copy), "all", xinf_msg_body (msg));
    s_round_trip_check (&msg, 2);
    s_round_trip_check (&copy, 3);
    for (int version = 2; version <= 3; version++) {
        msg = xinf_msg_new ("BIG");
        byte *blob = calloc (1, 100000);
        xinf_map_put_bin (xinf_msg_body (msg), "blob", blob, 100000);
        free (blob);
        s_round_trip_check (&msg, version);
    }

    //  Other valid forms: keys reordered, longer encodings, an unknown key
    const char canonical [] = "\x85\xa4type\xa4PING\xa4" "corr\x07\xa6sender\xa1x\xa8" "deadline\x00\xa4" "body\x81\xa1k\x01";
    const char reordered [] = "\x85\xa4" "body\x81\xa1k\x01\xa4" "corr\x07\xa4type\xa4PING\xa8" "deadline\x00\xa6sender\xa1x";
    const char longer [] = "\x85\xa4type\xda\x00\x04PING\xa4" "corr\xcf\x00\x00\x00\x00\x00\x00\x00\x07\xa6sender\xd9\x01x"
                           "\xa8" "deadline\xd0\x00\xa4" "body\xde\x00\x01\xa1k\x01";
    const char unknown [] = "\x86\xa4type\xa4PING\xa4" "corr\x07\xa6sender\xa1x\xa8" "deadline\x00\xa4" "body\x81\xa1k\x01\xa5later\xc0";
    //  Version 3: the canonical array, and with longer encodings
    const char array [] = "\x95\xa4PING\x07\xa1x\x00\x81\xa1k\x01";
    const char array_longer [] = "\x95\xdb\x00\x00\x00\x04PING\xcd\x00\x07\xda\x00\x01x\xd1\x00\x00"
                                 "\xdf\x00\x00\x00\x01\xa1k\x01";
    const char array_16 [] = "\xdc\x00\x05\xd9\x04PING\xce\x00\x00\x00\x07\xa1x\xcc\x00\xde\x00\x01\xa1k\x01";
    const char *forms [] = { canonical, reordered, longer, unknown, array, array_longer, array_16 };
    size_t sizes [] = { sizeof canonical - 1, sizeof reordered - 1, sizeof longer - 1, sizeof unknown - 1,
                        sizeof array - 1, sizeof array_longer - 1, sizeof array_16 - 1 };
    xinf_msg_t *first = s_decode_bytes (2, canonical, sizes [0]);
    for (size_t index = 0; index < 7; index++) {
        int version = index < 4 ? 2 : 3;
        xinf_msg_t *other = s_decode_bytes (version, forms [index], sizes [index]);
        CHECK_INT (xinf_msg_version (other), version);
        CHECK_STR (xinf_msg_type (other), "PING");
        CHECK_STR (xinf_msg_sender (other), "x");
        CHECK_INT (xinf_msg_corr (other), 7);
        CHECK_INT (xinf_msg_deadline (other), 0);
        CHECK (test_value_equal (xinf_msg_body (other), xinf_msg_body (first)));
        xinf_msg_destroy (&other);
    }
    xinf_msg_destroy (&first);

    //  The canonical layout with garbage in or after the body
    const char twice [] = "\x85\xa4type\xa4PING\xa4" "corr\x07\xa6sender\xa1x\xa8" "deadline\x00\xa4" "body\x82\xa1k\x01\xa1k\x02";
    s_expect_refused (s_zmsg_bytes (2, twice, sizeof twice - 1), "duplicate map key 'k'", 0);
    const char truncated [] = "\x85\xa4type\xa4PING\xa4" "corr\x07\xa6sender\xa1x\xa8" "deadline\x00\xa4" "body\x82\xa1k\x01";
    s_expect_refused (s_zmsg_bytes (2, truncated, sizeof truncated - 1), "", 0);
    const char after [] = "\x85\xa4type\xa4PING\xa4" "corr\x07\xa6sender\xa1x\xa8" "deadline\x00\xa4" "body\x80\x00";
    s_expect_refused (s_zmsg_bytes (2, after, sizeof after - 1), "", 0);
    const char nul [] = "\x85\xa4type\xa4PING\xa4" "corr\x07\xa6sender\xa2x\x00\xa8" "deadline\x00\xa4" "body\x80";
    s_expect_refused (s_zmsg_bytes (2, nul, sizeof nul - 1), "sender", 7);
    const char badtype [] = "\x85\xa4type\xa4ping\xa4" "corr\x07\xa6sender\xa1x\xa8" "deadline\x00\xa4" "body\x80";
    s_expect_refused (s_zmsg_bytes (2, badtype, sizeof badtype - 1), "type", 7);
    //  ... and the canonical array's
    const char nul3 [] = "\x95\xa4PING\x07\xa2x\x00\x00\x80";
    s_expect_refused (s_zmsg_bytes (3, nul3, sizeof nul3 - 1), "field 'sender' contains a NUL byte", 7);
    const char badtype3 [] = "\x95\xa4ping\x07\xa1x\x00\x80";
    s_expect_refused (s_zmsg_bytes (3, badtype3, sizeof badtype3 - 1), "field 'type' must be 1-32", 7);
}

int
main (void)
{
    fprintf (stderr, "test_msg\n");
    RUN (test_round_trip);
    RUN (test_minimal);
    RUN (test_type_names);
    RUN (test_frame_errors);
    RUN (test_field_errors);
    RUN (test_too_many_values);
    RUN (test_array_errors);
    RUN (test_versions);
    RUN (test_limits);
    RUN (test_oversize_corr);
    RUN (test_error_message);
    RUN (test_canonical);
    return 0;
}
