/*  xinf_node_proto: the C codec of XINF-NODE/1.  */
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

static xinf_value_t *
s_dup_or_empty (const xinf_value_t *value)
{
    return value ? xinf_value_dup (value) : xinf_value_new_array ();
}

xinf_msg_t *
xinf_hello_encode (const xinf_hello_t *self)
{
    xinf_msg_t *msg = xinf_msg_new ("HELLO");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "node", self->node);
    xinf_map_put_str (body, "host_ip", self->host_ip);
    xinf_map_put_str (body, "host_ip_source", self->host_ip_source);
    xinf_value_t *ports = xinf_value_new_array ();
    xinf_array_push (ports, xinf_value_new_uint (self->data_port_low));
    xinf_array_push (ports, xinf_value_new_uint (self->data_port_high));
    xinf_map_put (body, "data_ports", ports);
    xinf_map_put_uint (body, "data_port", self->data_port);
    xinf_map_put_uint (body, "pid", self->pid);
    xinf_map_put_str (body, "version", self->version);
    xinf_map_put_str (body, "zmq_version", self->zmq_version);
    xinf_map_put_str (body, "czmq_version", self->czmq_version);
    xinf_map_put_uint (body, "cpus", self->cpus);
    xinf_map_put_uint (body, "memory_bytes", self->memory_bytes);
    xinf_map_put_uint (body, "memory_available_bytes", self->memory_available_bytes);
    xinf_map_put (body, "devices", s_dup_or_empty (self->devices));
    xinf_map_put_str (body, "gpu_probe", self->gpu_probe);
    xinf_map_put (body, "models", s_dup_or_empty (self->models));
    xinf_map_put_uint (body, "heartbeat_ms", self->heartbeat_ms);
    xinf_map_put_uint (body, "liveness", self->liveness);
    return msg;
}

static void
s_check_device (xinf_check_t *check, const xinf_value_t *device)
{
    if (xinf_value_type (device) != XINF_MAP) {
        xinf_check_fail (check, "field 'devices' must hold maps, got %s", xinf_value_type_name (device));
        return;
    }
    const char *kind = xinf_check_str (check, device, "kind", 1, 8);
    if (kind && strcmp (kind, "cpu") && strcmp (kind, "gpu"))
        xinf_check_fail (check, "field 'kind' of a device must be cpu or gpu, got '%s'", kind);
    xinf_check_uint (check, device, "index", 0, 1024);
    xinf_check_str (check, device, "name", 0, 128);
    xinf_check_uint (check, device, "memory_bytes", 0, UINT64_MAX);
    xinf_check_str_opt (check, device, "driver_version", 0, 64, "");
    xinf_check_str_opt (check, device, "cuda_runtime_version", 0, 64, "");
    xinf_check_str_opt (check, device, "nccl_version", 0, 64, "");
}

static void
s_check_model (xinf_check_t *check, const xinf_value_t *model)
{
    if (xinf_value_type (model) != XINF_MAP) {
        xinf_check_fail (check, "field 'models' must hold maps, got %s", xinf_value_type_name (model));
        return;
    }
    //  The same limits as LAUNCH and MODEL_STATE, so that adopting a reported
    //  replica needs no checks of its own
    xinf_check_str (check, model, "uid", 1, 64);
    xinf_check_uint (check, model, "replica", 0, 15);
    xinf_check_str (check, model, "state", 1, 15);
    xinf_check_str_opt (check, model, "path", 0, 4095, "");
    xinf_check_uint_opt (check, model, "generation", 0, UINT64_MAX, 0);
    //  A rank of a tensor-parallel replica
    uint64_t ranks = xinf_check_uint_opt (check, model, "n_ranks", 1, 16, 1);
    xinf_check_uint_opt (check, model, "rank", 0, ranks ? ranks - 1 : 0, 0);
    if (xinf_map_get (model, "info"))
        xinf_check_map (check, model, "info", 64);
}

//  Takes a validated array field out of the body (the caller owns it).
static xinf_value_t *
s_take_array (xinf_check_t *check, xinf_value_t *body, const char *key, size_t max,
              void (*check_item) (xinf_check_t *, const xinf_value_t *))
{
    const xinf_value_t *array = xinf_check_array (check, body, key, max);
    for (size_t index = 0; array && index < xinf_value_count (array); index++)
        check_item (check, xinf_array_at (array, index));
    return check->failed ? NULL : xinf_map_take (body, key);
}

static void
s_check_ports (xinf_check_t *check, const xinf_value_t *body, xinf_hello_t *self)
{
    const xinf_value_t *ports = xinf_check_array (check, body, "data_ports", 2);
    if (!ports)
        return;
    const xinf_value_t *low = xinf_array_at (ports, 0), *high = xinf_array_at (ports, 1);
    if (xinf_value_count (ports) != 2 || xinf_value_type (low) != XINF_UINT || xinf_value_type (high) != XINF_UINT
    ||  xinf_value_uint (low) < 1 || xinf_value_uint (high) > 65535 || xinf_value_uint (low) > xinf_value_uint (high)) {
        xinf_check_fail (check, "field 'data_ports' must be [low, high] with 1 <= low <= high <= 65535");
        return;
    }
    self->data_port_low = (uint16_t) xinf_value_uint (low);
    self->data_port_high = (uint16_t) xinf_value_uint (high);
}

int
xinf_hello_decode (xinf_msg_t *msg, xinf_hello_t *self, xinf_check_t *check)
{
    memset (self, 0, sizeof *self);
    xinf_value_t *body = xinf_msg_body (msg);
    s_copy (self->node, sizeof self->node, xinf_check_text (check, body, "node", 1, XINF_NODE_NAME_MAX));
    s_copy (self->host_ip, sizeof self->host_ip, xinf_check_str (check, body, "host_ip", 1, XINF_HOST_IP_MAX));
    const char *source = xinf_check_str (check, body, "host_ip_source", 1, 15);
    if (source && strcmp (source, "flag") && strcmp (source, "env") && strcmp (source, "detected"))
        xinf_check_fail (check, "field 'host_ip_source' must be flag, env or detected, got '%s'", source);
    s_copy (self->host_ip_source, sizeof self->host_ip_source, source);
    s_check_ports (check, body, self);
    self->data_port = (uint16_t) xinf_check_uint_opt (check, body, "data_port", 0, 65535, 0);
    self->pid = xinf_check_uint (check, body, "pid", 0, UINT32_MAX);
    s_copy (self->version, sizeof self->version, xinf_check_str (check, body, "version", 0, 32));
    s_copy (self->zmq_version, sizeof self->zmq_version, xinf_check_str (check, body, "zmq_version", 0, 32));
    s_copy (self->czmq_version, sizeof self->czmq_version, xinf_check_str (check, body, "czmq_version", 0, 32));
    self->cpus = xinf_check_uint (check, body, "cpus", 1, 65536);
    self->memory_bytes = xinf_check_uint (check, body, "memory_bytes", 0, UINT64_MAX);
    self->memory_available_bytes = xinf_check_uint (check, body, "memory_available_bytes", 0, UINT64_MAX);
    s_copy (self->gpu_probe, sizeof self->gpu_probe, xinf_check_str (check, body, "gpu_probe", 0, 256));
    self->heartbeat_ms = xinf_check_uint (check, body, "heartbeat_ms", 10, 60000);
    self->liveness = xinf_check_uint (check, body, "liveness", 1, 100);
    self->devices = s_take_array (check, body, "devices", XINF_DEVICES_MAX, s_check_device);
    self->models = s_take_array (check, body, "models", XINF_MODELS_MAX, s_check_model);
    if (check->failed) {
        xinf_hello_clear (self);
        return -1;
    }
    return 0;
}

xinf_msg_t *
xinf_welcome_encode (const xinf_welcome_t *self)
{
    xinf_msg_t *msg = xinf_msg_new ("WELCOME");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "supervisor", self->supervisor);
    xinf_map_put_uint (body, "heartbeat_ms", self->heartbeat_ms);
    xinf_map_put_uint (body, "liveness", self->liveness);
    xinf_map_put_str (body, "observed_address", self->observed_address);
    xinf_map_put (body, "warnings", s_dup_or_empty (self->warnings));
    return msg;
}

static void
s_check_warning (xinf_check_t *check, const xinf_value_t *warning)
{
    size_t length;
    if (xinf_value_type (warning) != XINF_STR)
        xinf_check_fail (check, "field 'warnings' must hold str, got %s", xinf_value_type_name (warning));
    else
    if (xinf_value_bytes (warning, &length) && length > 1024)
        xinf_check_fail (check, "a warning is longer than 1024 bytes");
}

int
xinf_welcome_decode (xinf_msg_t *msg, xinf_welcome_t *self, xinf_check_t *check)
{
    memset (self, 0, sizeof *self);
    xinf_value_t *body = xinf_msg_body (msg);
    s_copy (self->supervisor, sizeof self->supervisor, xinf_check_str (check, body, "supervisor", 0, XINF_NODE_NAME_MAX));
    self->heartbeat_ms = xinf_check_uint (check, body, "heartbeat_ms", 10, 60000);
    self->liveness = xinf_check_uint (check, body, "liveness", 1, 100);
    s_copy (self->observed_address, sizeof self->observed_address, xinf_check_str (check, body, "observed_address", 0, 63));
    self->warnings = s_take_array (check, body, "warnings", XINF_WARNINGS_MAX, s_check_warning);
    if (check->failed) {
        xinf_welcome_clear (self);
        return -1;
    }
    return 0;
}

xinf_msg_t *
xinf_heartbeat_msg_encode (const xinf_heartbeat_msg_t *self)
{
    xinf_msg_t *msg = xinf_msg_new ("HEARTBEAT");
    xinf_value_t *body = xinf_msg_body (msg);
    xinf_map_put_str (body, "node", self->node);
    xinf_map_put_uint (body, "seq", self->seq);
    if (self->waits)
        xinf_map_put (body, "waits", xinf_value_dup (self->waits));
    return msg;
}

void
xinf_check_wait_map (xinf_check_t *check, const xinf_value_t *wait, const char *where)
{
    if (xinf_value_type (wait) != XINF_MAP) {
        xinf_check_fail (check, "field '%s' must hold maps, got %s", where, xinf_value_type_name (wait));
        return;
    }
    xinf_check_uint (check, wait, "id", 0, UINT64_MAX);
    xinf_check_str (check, wait, "actor", 0, 127);
    xinf_check_str (check, wait, "what", 0, 127);
    xinf_check_str (check, wait, "peer", 0, 127);
    xinf_check_uint (check, wait, "age_ms", 0, UINT64_MAX);
    xinf_check_uint (check, wait, "progress", 0, UINT64_MAX);
    xinf_check_uint (check, wait, "idle_ms", 0, UINT64_MAX);
    xinf_check_uint (check, wait, "stall_ms", 0, UINT64_MAX);
    xinf_check_bool (check, wait, "stalled");
}

static void
s_check_heartbeat_wait (xinf_check_t *check, const xinf_value_t *wait)
{
    xinf_check_wait_map (check, wait, "waits");
}

int
xinf_heartbeat_msg_decode (xinf_msg_t *msg, xinf_heartbeat_msg_t *self, xinf_check_t *check)
{
    memset (self, 0, sizeof *self);
    xinf_value_t *body = xinf_msg_body (msg);
    s_copy (self->node, sizeof self->node, xinf_check_str_opt (check, body, "node", 0, XINF_NODE_NAME_MAX, ""));
    self->seq = xinf_check_uint (check, body, "seq", 0, UINT64_MAX);
    if (!check->failed && xinf_map_get (body, "waits"))
        self->waits = s_take_array (check, body, "waits", XINF_WAITS_MAX, s_check_heartbeat_wait);
    if (check->failed) {
        xinf_heartbeat_msg_clear (self);
        return -1;
    }
    if (!self->waits)
        self->waits = xinf_value_new_array ();
    return 0;
}

xinf_msg_t *
xinf_bye_encode (const char *node)
{
    xinf_msg_t *msg = xinf_msg_new ("BYE");
    xinf_map_put_str (xinf_msg_body (msg), "node", node);
    return msg;
}

int
xinf_bye_decode (xinf_msg_t *msg, char *node, size_t node_size, xinf_check_t *check)
{
    s_copy (node, node_size, xinf_check_str (check, xinf_msg_body (msg), "node", 1, XINF_NODE_NAME_MAX));
    return check->failed ? -1 : 0;
}
