/*  xinf_node_proto: the registration records of XINF-NODE/1, filled by
    the generated codec (xinf_node_msg.h).  */
#include "xinf_node_proto.h"

static void
s_copy (char *target, size_t size, const char *source)
{
    snprintf (target, size, "%s", source ? source : "");
}

void
xinf_hello_clear (xinf_hello_t *self)
{
    xinf_value_destroy (&self->devices);
    xinf_value_destroy (&self->models);
    memset (self, 0, sizeof *self);
}

void
xinf_welcome_clear (xinf_welcome_t *self)
{
    xinf_value_destroy (&self->warnings);
    memset (self, 0, sizeof *self);
}

void
xinf_heartbeat_msg_clear (xinf_heartbeat_msg_t *self)
{
    xinf_value_destroy (&self->waits);
    memset (self, 0, sizeof *self);
}

xinf_msg_t *
xinf_hello_encode (const xinf_hello_t *self)
{
    xinf_value_t *ports = xinf_value_new_array ();
    xinf_array_push (ports, xinf_value_new_uint (self->data_port_low));
    xinf_array_push (ports, xinf_value_new_uint (self->data_port_high));
    xinf_value_t *empty = xinf_value_new_array ();
    xinf_node_msg_hello_t hello = {
        .node = self->node, .host_ip = self->host_ip, .host_ip_source = self->host_ip_source,
        .data_ports = ports, .data_port = self->data_port, .has_data_port = true, .pid = self->pid,
        .instance = self->instance, .has_instance = self->instance != 0,
        .version = self->version, .zmq_version = self->zmq_version, .czmq_version = self->czmq_version,
        .cpus = self->cpus, .memory_bytes = self->memory_bytes,
        .memory_available_bytes = self->memory_available_bytes,
        .devices = self->devices ? self->devices : empty, .gpu_probe = self->gpu_probe,
        .models = self->models ? self->models : empty, .heartbeat_ms = self->heartbeat_ms, .liveness = self->liveness,
        .nccl = self->nccl, .has_nccl = self->nccl_said,
        .nccl_version = self->nccl_version, .has_nccl_version = self->nccl_said && self->nccl
    };
    xinf_msg_t *msg = xinf_node_msg_hello_encode (&hello);
    xinf_value_destroy (&ports);
    xinf_value_destroy (&empty);
    return msg;
}

//  What node.xml cannot say about a HELLO.
static void
s_check_hello_rules (const xinf_node_msg_hello_t *hello, xinf_check_t *check)
{
    if (check->failed)
        return;
    if (xinf_value_uint (xinf_array_at (hello->data_ports, 0)) > xinf_value_uint (xinf_array_at (hello->data_ports, 1)))
        xinf_check_fail (check, "field 'data_ports' must be [low, high] with 1 <= low <= high <= 65535");
    if (hello->has_nccl_version && !(hello->has_nccl && hello->nccl))
        xinf_check_fail (check, "field 'nccl_version' is for a build with NCCL: it needs field 'nccl' true");
    for (size_t index = 0; !check->failed && index < xinf_value_count (hello->models); index++) {
        const xinf_value_t *model = xinf_array_at (hello->models, index);
        uint64_t rank = xinf_value_uint (xinf_map_get (model, "rank"));
        const xinf_value_t *ranks = xinf_map_get (model, "n_ranks");
        if (rank >= (ranks ? xinf_value_uint (ranks) : 1))
            xinf_check_fail (check, "field 'models[%zu]': rank %llu is not below its n_ranks", index,
                             (unsigned long long) rank);
    }
}

int
xinf_hello_decode (xinf_msg_t *msg, xinf_hello_t *self, xinf_check_t *check)
{
    memset (self, 0, sizeof *self);
    xinf_node_msg_hello_t hello;
    xinf_node_msg_hello_decode (xinf_msg_body (msg), &hello, check);
    s_check_hello_rules (&hello, check);
    if (check->failed)
        return -1;
    s_copy (self->node, sizeof self->node, hello.node);
    s_copy (self->host_ip, sizeof self->host_ip, hello.host_ip);
    s_copy (self->host_ip_source, sizeof self->host_ip_source, hello.host_ip_source);
    self->data_port_low = (uint16_t) xinf_value_uint (xinf_array_at (hello.data_ports, 0));
    self->data_port_high = (uint16_t) xinf_value_uint (xinf_array_at (hello.data_ports, 1));
    self->data_port = (uint16_t) hello.data_port;
    self->pid = hello.pid;
    self->instance = hello.instance;
    s_copy (self->version, sizeof self->version, hello.version);
    s_copy (self->zmq_version, sizeof self->zmq_version, hello.zmq_version);
    s_copy (self->czmq_version, sizeof self->czmq_version, hello.czmq_version);
    self->cpus = hello.cpus;
    self->memory_bytes = hello.memory_bytes;
    self->memory_available_bytes = hello.memory_available_bytes;
    s_copy (self->gpu_probe, sizeof self->gpu_probe, hello.gpu_probe);
    self->nccl_said = hello.has_nccl;
    self->nccl = hello.has_nccl && hello.nccl;
    if (hello.has_nccl_version)
        s_copy (self->nccl_version, sizeof self->nccl_version, hello.nccl_version);
    self->heartbeat_ms = hello.heartbeat_ms;
    self->liveness = hello.liveness;
    self->devices = xinf_value_dup (hello.devices);
    self->models = xinf_value_dup (hello.models);
    return 0;
}

xinf_msg_t *
xinf_welcome_encode (const xinf_welcome_t *self)
{
    xinf_node_msg_welcome_t welcome = {
        .supervisor = self->supervisor, .heartbeat_ms = self->heartbeat_ms, .liveness = self->liveness,
        .observed_address = self->observed_address, .warnings = self->warnings
    };
    return xinf_node_msg_welcome_encode (&welcome);
}

int
xinf_welcome_decode (xinf_msg_t *msg, xinf_welcome_t *self, xinf_check_t *check)
{
    memset (self, 0, sizeof *self);
    xinf_node_msg_welcome_t welcome;
    if (xinf_node_msg_welcome_decode (xinf_msg_body (msg), &welcome, check))
        return -1;
    s_copy (self->supervisor, sizeof self->supervisor, welcome.supervisor);
    self->heartbeat_ms = welcome.heartbeat_ms;
    self->liveness = welcome.liveness;
    s_copy (self->observed_address, sizeof self->observed_address, welcome.observed_address);
    self->warnings = xinf_value_dup (welcome.warnings);
    return 0;
}

xinf_msg_t *
xinf_heartbeat_msg_encode (const xinf_heartbeat_msg_t *self)
{
    xinf_node_msg_heartbeat_t beat = {
        .node = self->node, .has_node = true, .seq = self->seq, .waits = self->waits, .has_waits = self->waits != NULL
    };
    return xinf_node_msg_heartbeat_encode (&beat);
}

int
xinf_heartbeat_msg_decode (xinf_msg_t *msg, xinf_heartbeat_msg_t *self, xinf_check_t *check)
{
    memset (self, 0, sizeof *self);
    xinf_node_msg_heartbeat_t beat;
    if (xinf_node_msg_heartbeat_decode (xinf_msg_body (msg), &beat, check))
        return -1;
    s_copy (self->node, sizeof self->node, beat.node);
    self->seq = beat.seq;
    self->waits = beat.waits ? xinf_value_dup (beat.waits) : xinf_value_new_array ();
    return 0;
}

xinf_msg_t *
xinf_bye_encode (const char *node)
{
    xinf_node_msg_bye_t bye = { .node = node };
    return xinf_node_msg_bye_encode (&bye);
}

int
xinf_bye_decode (xinf_msg_t *msg, char *node, size_t node_size, xinf_check_t *check)
{
    xinf_node_msg_bye_t bye;
    xinf_node_msg_bye_decode (xinf_msg_body (msg), &bye, check);
    s_copy (node, node_size, bye.node);
    return check->failed ? -1 : 0;
}
