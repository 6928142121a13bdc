/*  fuzz_envelope: bytes as ZeroMQ frames (each a u16 length, big endian,
    then that many bytes) through the XINF envelope decoder, and every
    decoded message through the node protocol's decoders (HELLO, WELCOME,
    HEARTBEAT, BYE): nothing may crash, leak or read out of bounds.  */
#include "fuzz.h"
#include "xinf.h"
#include "xinf_node_proto.h"

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
        xinf_msg_destroy (&msg);
    }
    zmsg_destroy (&frames);
    return 0;
}
