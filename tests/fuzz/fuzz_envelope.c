/*  fuzz_envelope: bytes as ZeroMQ frames (each a u16 length, big endian,
    then that many bytes) through the XINF envelope decoder (versions 3
    and 2: the seeds have both, seeds.py), and every
    decoded message through the node protocol's records (HELLO, WELCOME,
    HEARTBEAT, BYE) and the generated decoders of every protocol schema
    (the protocols' .xml files): under its own type in each protocol, and under one
    more type picked by the body's size, so that every decoder meets
    bodies meant for others; then re-encoded in the other version, in
    which it must decode again. Nothing may crash, leak or read out of
    bounds; a refusal must give a reason.  */
#include "fuzz.h"
#include "xinf.h"
#include "xinf_node_proto.h"
#include "xinf_client_msg.h"
#include "xinf_node_msg.h"
#include "xinf_model_msg.h"
#include "xinf_envelope_msg.h"

typedef int (s_validate_fn) (const char *type, const xinf_value_t *body, xinf_check_t *check);

static void
s_validate (s_validate_fn *validate, const char *type, const xinf_value_t *body)
{
    xinf_check_t check = XINF_CHECK_INIT;
    int rc = validate (type, body, &check);
    if (rc == -1 && !*check.reason)
        abort ();                      //  a refusal without a reason
    if (rc != -1 && check.failed)
        abort ();
}

static void
s_schema_decoders (xinf_msg_t *msg)
{
    s_validate_fn *validates [] = { xinf_client_msg_validate, xinf_node_msg_validate, xinf_model_msg_validate,
                                    xinf_envelope_msg_validate };
    const char *const *types [] = { xinf_client_msg_types, xinf_node_msg_types, xinf_model_msg_types,
                                    xinf_envelope_msg_types };
    const xinf_value_t *body = xinf_msg_body (msg);
    for (size_t at = 0; at < 4; at++)
        s_validate (validates [at], xinf_msg_type (msg), body);
    size_t pick = xinf_value_count (body) + strlen (xinf_msg_type (msg));
    size_t protocol = pick % 4, count = 0;
    while (types [protocol][count])
        count++;
    s_validate (validates [protocol], types [protocol][pick % count], body);
}

static void
s_node_decoders (xinf_msg_t *msg)
{
    xinf_check_t check = XINF_CHECK_INIT;
    xinf_hello_t hello;
    if (xinf_hello_decode (msg, &hello, &check) == 0)
        xinf_hello_clear (&hello);
    check = (xinf_check_t) XINF_CHECK_INIT;
    xinf_welcome_t welcome;
    if (xinf_welcome_decode (msg, &welcome, &check) == 0)
        xinf_welcome_clear (&welcome);
    check = (xinf_check_t) XINF_CHECK_INIT;
    xinf_heartbeat_msg_t beat;
    if (xinf_heartbeat_msg_decode (msg, &beat, &check) == 0)
        xinf_heartbeat_msg_clear (&beat);
    check = (xinf_check_t) XINF_CHECK_INIT;
    char node [128];
    xinf_bye_decode (msg, node, sizeof node, &check);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool quiet = false;
    if (!quiet) {
        xinf_log_set_level (XINF_LOG_OFF);
        quiet = true;
    }
    zmsg_t *frames = zmsg_new ();
    size_t at = 0;
    while (at + 2 <= size && zmsg_size (frames) < 80) {
        size_t length = ((size_t) data [at] << 8) | data [at + 1];
        at += 2;
        length = length < size - at ? length : size - at;
        zmsg_addmem (frames, data + at, length);
        at += length;
    }
    char error [256];
    uint64_t corr = 0;
    xinf_msg_t *msg = xinf_msg_decode (&frames, error, sizeof error, &corr);
    if (msg) {
        s_node_decoders (msg);
        s_schema_decoders (msg);
        //  What decodes in one version encodes in the other and decodes again
        uint64_t was = xinf_msg_corr (msg);
        xinf_msg_set_version (msg, XINF_VERSION_MIN + XINF_VERSION - xinf_msg_version (msg));
        zmsg_t *again = xinf_msg_encode (&msg);
        msg = xinf_msg_decode (&again, error, sizeof error, NULL);
        if (!msg || xinf_msg_corr (msg) != was)
            abort ();
        xinf_msg_destroy (&msg);
    }
    zmsg_destroy (&frames);
    return 0;
}
