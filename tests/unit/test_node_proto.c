/*  test_node_proto: the XINF-NODE/1 codec (protocols/xinf_node_proto):
    HELLO/WELCOME/HEARTBEAT/BYE round trips through real envelope frames,
    and every validation rule giving a reason that names the field; HELLO's
    NCCL fields (whether the worker's build has NCCL, and its version)
    decoded, absent from an older worker (unknown), and refused when of
    the wrong type or length, or a version without NCCL.  */
#include "test_unit.h"
#include "xinf_node_proto.h"

static void
s_fill_hello (xinf_hello_t *hello)
{
    memset (hello, 0, sizeof *hello);
    snprintf (hello->node, sizeof hello->node, "w1");
    snprintf (hello->host_ip, sizeof hello->host_ip, "10.0.0.5");
    snprintf (hello->host_ip_source, sizeof hello->host_ip_source, "flag");
    hello->data_port_low = 29500;
    hello->data_port_high = 29599;
    hello->pid = 1234;
    snprintf (hello->version, sizeof hello->version, "0.1.0");
    snprintf (hello->zmq_version, sizeof hello->zmq_version, "4.3.4");
    snprintf (hello->czmq_version, sizeof hello->czmq_version, "4.2.1");
    hello->cpus = 8;
    hello->memory_bytes = 1ULL << 34;
    hello->memory_available_bytes = 1ULL << 33;
    hello->devices = xinf_value_new_array ();
    xinf_value_t *cpu = xinf_value_new_map ();
    xinf_map_put_str (cpu, "kind", "cpu");
    xinf_map_put_uint (cpu, "index", 0);
    xinf_map_put_str (cpu, "name", "test cpu");
    xinf_map_put_uint (cpu, "memory_bytes", 1ULL << 34);
    xinf_array_push (hello->devices, cpu);
    snprintf (hello->gpu_probe, sizeof hello->gpu_probe, "no GPUs: test");
    hello->models = xinf_value_new_array ();
    hello->heartbeat_ms = 1000;
    hello->liveness = 3;
}

//  Encodes, sends through real frames, decodes the envelope.
static xinf_msg_t *
s_wire (xinf_msg_t *msg)
{
    zmsg_t *frames = xinf_msg_encode (&msg);
    char error [256];
    xinf_msg_t *back = xinf_msg_decode (&frames, error, sizeof error, NULL);
    CHECK (back);
    return back;
}

static void
test_hello_round_trip (void)
{
    xinf_hello_t hello, back;
    s_fill_hello (&hello);
    xinf_msg_t *msg = s_wire (xinf_hello_encode (&hello));
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_hello_decode (msg, &back, &check), 0);
    CHECK_STR (back.node, "w1");
    CHECK_STR (back.host_ip, "10.0.0.5");
    CHECK_STR (back.host_ip_source, "flag");
    CHECK_INT (back.data_port_low, 29500);
    CHECK_INT (back.data_port_high, 29599);
    CHECK_INT (back.pid, 1234);
    CHECK_INT (back.cpus, 8);
    CHECK_INT (back.memory_available_bytes, 1ULL << 33);
    CHECK_INT (xinf_value_count (back.devices), 1);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_array_at (back.devices, 0), "kind")), "cpu");
    CHECK_STR (back.gpu_probe, "no GPUs: test");
    CHECK_INT (back.heartbeat_ms, 1000);
    CHECK (back.instance == 0);       //  not sent: a worker of an older build
    CHECK (!xinf_map_get (xinf_msg_body (msg), "instance"));
    xinf_hello_clear (&back);
    xinf_msg_destroy (&msg);
    //  A run's instance, all 64 bits of it
    hello.instance = 0xfedcba9876543210ULL;
    msg = s_wire (xinf_hello_encode (&hello));
    CHECK_INT (xinf_hello_decode (msg, &back, &check), 0);
    CHECK (back.instance == 0xfedcba9876543210ULL);
    xinf_hello_clear (&back);
    xinf_hello_clear (&hello);
    xinf_msg_destroy (&msg);
}

//  HELLO's nccl and nccl_version: a build with NCCL says so and its
//  version; one without says false and no version; a worker that says
//  nothing (an older build) decodes as not said, and not as NCCL.
static void
test_hello_nccl (void)
{
    xinf_hello_t hello, back;
    s_fill_hello (&hello);
    hello.nccl_said = hello.nccl = true;
    snprintf (hello.nccl_version, sizeof hello.nccl_version, "2.28.3");
    xinf_msg_t *msg = s_wire (xinf_hello_encode (&hello));
    CHECK (xinf_value_bool (xinf_map_get (xinf_msg_body (msg), "nccl")));
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_hello_decode (msg, &back, &check), 0);
    CHECK (back.nccl_said && back.nccl);
    CHECK_STR (back.nccl_version, "2.28.3");
    xinf_hello_clear (&back);
    xinf_msg_destroy (&msg);

    //  Without NCCL: false, and no version on the wire
    hello.nccl = false;
    msg = s_wire (xinf_hello_encode (&hello));
    CHECK (xinf_map_get (xinf_msg_body (msg), "nccl") && !xinf_map_get (xinf_msg_body (msg), "nccl_version"));
    CHECK_INT (xinf_hello_decode (msg, &back, &check), 0);
    CHECK (back.nccl_said && !back.nccl);
    CHECK_STR (back.nccl_version, "");
    xinf_hello_clear (&back);
    xinf_msg_destroy (&msg);

    //  An older worker: neither field; it registers, NCCL unknown
    hello.nccl_said = false;
    msg = s_wire (xinf_hello_encode (&hello));
    CHECK (!xinf_map_get (xinf_msg_body (msg), "nccl"));
    CHECK_INT (xinf_hello_decode (msg, &back, &check), 0);
    CHECK (!back.nccl_said && !back.nccl);
    xinf_hello_clear (&back);
    xinf_msg_destroy (&msg);
    xinf_hello_clear (&hello);
}

//  A HELLO whose 'nccl' is 'nccl' (NULL: absent) and whose 'nccl_version'
//  is 'version' is refused, the reason containing 'needle'.
static void
s_expect_bad_nccl (xinf_value_t *nccl, xinf_value_t *version, const char *needle)
{
    xinf_hello_t hello, back;
    s_fill_hello (&hello);
    xinf_msg_t *msg = xinf_hello_encode (&hello);
    if (nccl)
        xinf_map_put (xinf_msg_body (msg), "nccl", nccl);
    xinf_map_put (xinf_msg_body (msg), "nccl_version", version);
    msg = s_wire (msg);
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_hello_decode (msg, &back, &check), -1);
    CHECK_HAS (check.reason, needle);
    CHECK (back.devices == NULL && !back.nccl);
    xinf_hello_clear (&hello);
    xinf_msg_destroy (&msg);
}

static void
test_hello_bad_nccl (void)
{
    s_expect_bad_nccl (xinf_value_new_str ("yes"), xinf_value_new_str ("2.28.3"), "field 'nccl' must be bool, got str");
    s_expect_bad_nccl (xinf_value_new_uint (1), xinf_value_new_str ("2.28.3"), "field 'nccl' must be bool, got uint64");
    s_expect_bad_nccl (xinf_value_new_bool (true), xinf_value_new_uint (22803), "field 'nccl_version' must be str");
    s_expect_bad_nccl (xinf_value_new_bool (true), xinf_value_new_str ("2.28.3-0123456789012345678901234567"),
                       "field 'nccl_version'");
    s_expect_bad_nccl (xinf_value_new_bool (true), xinf_value_new_str ("2.\xff"), "field 'nccl_version' is not valid UTF-8");
    //  A version is for a build with NCCL
    s_expect_bad_nccl (xinf_value_new_bool (false), xinf_value_new_str ("2.28.3"),
                       "field 'nccl_version' is for a build with NCCL");
    s_expect_bad_nccl (NULL, xinf_value_new_str ("2.28.3"), "field 'nccl_version' is for a build with NCCL");
}

//  Breaks one field of a valid HELLO and expects the reason to name it.
static void
s_expect_bad_hello (const char *key, xinf_value_t *value, const char *needle)
{
    xinf_hello_t hello, back;
    s_fill_hello (&hello);
    xinf_msg_t *msg = xinf_hello_encode (&hello);
    if (value)
        xinf_map_put (xinf_msg_body (msg), key, value);
    else {
        xinf_value_t *gone = xinf_map_take (xinf_msg_body (msg), key);
        xinf_value_destroy (&gone);
    }
    msg = s_wire (msg);
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_hello_decode (msg, &back, &check), -1);
    CHECK (check.failed);
    CHECK_HAS (check.reason, needle);
    CHECK (back.devices == NULL && back.models == NULL);
    xinf_hello_clear (&hello);
    xinf_msg_destroy (&msg);
}

static xinf_value_t *
s_ports (uint64_t low, uint64_t high)
{
    xinf_value_t *ports = xinf_value_new_array ();
    xinf_array_push (ports, xinf_value_new_uint (low));
    xinf_array_push (ports, xinf_value_new_uint (high));
    return ports;
}

static void
test_hello_bad_fields (void)
{
    s_expect_bad_hello ("node", xinf_value_new_str (""), "field 'node'");
    s_expect_bad_hello ("node", xinf_value_new_uint (7), "field 'node' must be str, got uint64");
    s_expect_bad_hello ("host_ip_source", xinf_value_new_str ("guess"), "host_ip_source");
    s_expect_bad_hello ("data_ports", s_ports (29599, 29500), "data_ports");
    s_expect_bad_hello ("data_ports", s_ports (0, 10), "data_ports");
    s_expect_bad_hello ("data_ports", s_ports (1, 70000), "data_ports");
    s_expect_bad_hello ("cpus", xinf_value_new_uint (0), "field 'cpus'");
    s_expect_bad_hello ("heartbeat_ms", xinf_value_new_uint (5), "field 'heartbeat_ms'");
    s_expect_bad_hello ("liveness", xinf_value_new_int (-1), "field 'liveness'");
    s_expect_bad_hello ("devices", xinf_value_new_map (), "field 'devices' must be array");
    xinf_value_t *devices = xinf_value_new_array ();
    xinf_value_t *device = xinf_value_new_map ();
    xinf_map_put_str (device, "kind", "tpu");
    xinf_map_put_uint (device, "index", 0);
    xinf_map_put_str (device, "name", "x");
    xinf_map_put_uint (device, "memory_bytes", 1);
    xinf_array_push (devices, device);
    s_expect_bad_hello ("devices", devices, "devices[0]: field 'kind' must be one of cpu, gpu");
    xinf_value_t *models = xinf_value_new_array ();
    xinf_array_push (models, xinf_value_new_str ("not a map"));
    s_expect_bad_hello ("models", models, "field 'models[0]' must be map, got str");
    s_expect_bad_hello ("pid", NULL, "field 'pid' is missing");
    s_expect_bad_hello ("instance", xinf_value_new_str ("7"), "field 'instance' must be uint");
}

static void
test_welcome_and_heartbeat (void)
{
    xinf_welcome_t welcome = { .heartbeat_ms = 200, .liveness = 3 };
    snprintf (welcome.supervisor, sizeof welcome.supervisor, "sup");
    snprintf (welcome.observed_address, sizeof welcome.observed_address, "10.0.0.7");
    welcome.warnings = xinf_value_new_array ();
    xinf_array_push (welcome.warnings, xinf_value_new_str ("set -H"));
    xinf_msg_t *msg = s_wire (xinf_welcome_encode (&welcome));
    xinf_welcome_t back;
    xinf_check_t check = XINF_CHECK_INIT;
    CHECK_INT (xinf_welcome_decode (msg, &back, &check), 0);
    CHECK_STR (back.observed_address, "10.0.0.7");
    CHECK_INT (back.heartbeat_ms, 200);
    CHECK_STR (xinf_value_str (xinf_array_at (back.warnings, 0)), "set -H");
    xinf_welcome_clear (&back);
    xinf_welcome_clear (&welcome);
    xinf_msg_destroy (&msg);

    xinf_waits_t *waits = xinf_waits_new ();
    xinf_wait_begin (waits, "loader", "load weights", "disk", 1000);
    xinf_heartbeat_msg_t beat = { .seq = 9 };
    snprintf (beat.node, sizeof beat.node, "w1");
    beat.waits = xinf_waits_snapshot (waits, zclock_mono (), 0);
    msg = s_wire (xinf_heartbeat_msg_encode (&beat));
    xinf_heartbeat_msg_t beat_back;
    CHECK_INT (xinf_heartbeat_msg_decode (msg, &beat_back, &check), 0);
    CHECK_INT (beat_back.seq, 9);
    CHECK_INT (xinf_value_count (beat_back.waits), 1);
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_array_at (beat_back.waits, 0), "what")), "load weights");
    xinf_heartbeat_msg_clear (&beat_back);
    xinf_msg_destroy (&msg);

    //  A wait map missing a field is refused, naming it
    xinf_value_t *gone = xinf_map_take (xinf_array_at (beat.waits, 0), "stall_ms");
    xinf_value_destroy (&gone);
    msg = s_wire (xinf_heartbeat_msg_encode (&beat));
    xinf_check_t bad = XINF_CHECK_INIT;
    CHECK_INT (xinf_heartbeat_msg_decode (msg, &beat_back, &bad), -1);
    CHECK_HAS (bad.reason, "stall_ms");
    xinf_msg_destroy (&msg);
    xinf_heartbeat_msg_clear (&beat);
    xinf_waits_destroy (&waits);
}

int
main (void)
{
    RUN (test_hello_round_trip);
    RUN (test_hello_bad_fields);
    RUN (test_hello_nccl);
    RUN (test_hello_bad_nccl);
    RUN (test_welcome_and_heartbeat);
    return 0;
}
