/*  test_zmtp: the ZMTP greeting reader, and the probe's diagnosis of a
    silent handshake from the greeting: a real CURVE server dialed without
    keys, and a TCP program that speaks no ZeroMQ.
*/
#include "test_unit.h"
#include "xinf_zmtp.h"
#include "xinf_probe.h"

//  A peer's greeting, as the ZMTP 3.0 spec lays it out.
static void
s_greeting (uint8_t greeting [XINF_ZMTP_GREETING_SIZE], const char *mechanism)
{
    memset (greeting, 0, XINF_ZMTP_GREETING_SIZE);
    greeting [0] = 0xFF;
    greeting [8] = 1;
    greeting [9] = 0x7F;
    greeting [10] = 3;
    greeting [11] = 1;
    memcpy (greeting + 12, mechanism, strlen (mechanism));
    greeting [32] = 1;
}

static void
test_greeting_forms (void)
{
    uint8_t greeting [XINF_ZMTP_GREETING_SIZE];
    char mechanism [24];
    //  Our opening is a greeting's start
    uint8_t opening [XINF_ZMTP_OPENING_SIZE];
    xinf_zmtp_opening (opening);
    CHECK_INT (xinf_zmtp_mechanism (opening, sizeof opening, mechanism, sizeof mechanism), 0);
    s_greeting (greeting, "CURVE");
    CHECK_INT (xinf_zmtp_mechanism (greeting, sizeof greeting, mechanism, sizeof mechanism), 1);
    CHECK_STR (mechanism, "CURVE");
    s_greeting (greeting, "NULL");
    CHECK_INT (xinf_zmtp_mechanism (greeting, 32, mechanism, sizeof mechanism), 1);
    CHECK_STR (mechanism, "NULL");
    //  A start of a greeting asks for more; nothing at all, too
    CHECK_INT (xinf_zmtp_mechanism (greeting, 11, mechanism, sizeof mechanism), 0);
    CHECK_INT (xinf_zmtp_mechanism (greeting, 0, mechanism, sizeof mechanism), 0);
    //  Another program, ZMTP 2, and broken mechanism names
    CHECK_INT (xinf_zmtp_mechanism ((const uint8_t *) "HTTP/1.1 400 Bad Request\r\n", 26, mechanism, sizeof mechanism), -1);
    uint8_t broken [XINF_ZMTP_GREETING_SIZE];
    memcpy (broken, greeting, sizeof broken);
    broken [9] = 0x01;
    CHECK_INT (xinf_zmtp_mechanism (broken, 10, NULL, 0), -1);
    memcpy (broken, greeting, sizeof broken);
    broken [10] = 2;
    CHECK_INT (xinf_zmtp_mechanism (broken, sizeof broken, NULL, 0), -1);
    memcpy (broken, greeting, sizeof broken);
    broken [20] = 'X';                           //  after the NUL of "NULL"
    CHECK_INT (xinf_zmtp_mechanism (broken, sizeof broken, NULL, 0), -1);
    memcpy (broken, greeting, sizeof broken);
    broken [12] = 0;                             //  an empty name
    CHECK_INT (xinf_zmtp_mechanism (broken, sizeof broken, NULL, 0), -1);
    memcpy (broken, greeting, sizeof broken);
    broken [13] = '\n';
    CHECK_INT (xinf_zmtp_mechanism (broken, sizeof broken, NULL, 0), -1);
    //  A name is cut to the room given
    s_greeting (greeting, "CURVE");
    CHECK_INT (xinf_zmtp_mechanism (greeting, sizeof greeting, mechanism, 3), 1);
    CHECK_STR (mechanism, "CU");
}

//  A keyless probe of a CURVE server names the keys, whatever the monitor
//  saw: the greeting says CURVE.
static void
test_probe_curve_server (void)
{
    zcert_t *cert = zcert_new ();
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    zcert_apply (cert, server);
    zsock_set_curve_server (server, 1);
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    CHECK (port > 0);
    char endpoint [64], text [600];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    CHECK (xinf_probe_diagnose ("test", endpoint, "supervisor", 1500, text, sizeof text) == -1);
    CHECK_HAS (text, "requires CURVE keys and we have none");
    zactor_t *job = xinf_probe_node_job_new ("test", endpoint, "supervisor", 1500);
    xinf_msg_t *result;
    const char *detail;
    CHECK_STR (xinf_probe_node_result (zactor_sock (job), &result, &detail), "keys");
    xinf_msg_destroy (&result);
    zactor_destroy (&job);
    CHECK_HAS (text, endpoint);
    zsock_destroy (&server);
    zcert_destroy (&cert);
}

//  A TCP program that answers the greeting with its own words.
static void
test_probe_not_zeromq (void)
{
    zsock_t *stream = zsock_new (ZMQ_STREAM);
    int port = zsock_bind (stream, "tcp://127.0.0.1:*");
    CHECK (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    zactor_t *job = xinf_probe_node_job_new ("test", endpoint, "supervisor", 1500);
    zpoller_t *poller = zpoller_new (zactor_sock (job), stream, NULL);
    int64_t deadline = zclock_mono () + 10000;
    void *ready = NULL;
    while (ready != zactor_sock (job) && zclock_mono () < deadline) {
        ready = zpoller_wait (poller, 100);
        if (ready != stream)
            continue;
        zframe_t *peer = zframe_recv (stream);
        zframe_t *data = zframe_recv (stream);
        if (peer && data && zframe_size (data) > 0) {     //  any bytes from the prober: answer in HTTP
            zframe_send (&peer, stream, ZFRAME_MORE);
            zstr_send (stream, "HTTP/1.1 400 Bad Request\r\n\r\n");
        }
        zframe_destroy (&peer);
        zframe_destroy (&data);
    }
    CHECK (ready == zactor_sock (job));
    xinf_msg_t *result;
    const char *detail;
    const char *status = xinf_probe_node_result (zactor_sock (job), &result, &detail);
    char text [600];
    xinf_probe_explain (endpoint, status, detail, text, sizeof text);
    CHECK_STR (status, "not_zeromq");
    CHECK_HAS (text, "does not speak ZeroMQ");
    xinf_msg_destroy (&result);
    zpoller_destroy (&poller);
    zactor_destroy (&job);
    zsock_destroy (&stream);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_greeting_forms);
    RUN (test_probe_curve_server);
    RUN (test_probe_not_zeromq);
    printf ("unit_zmtp: OK\n");
    return 0;
}
