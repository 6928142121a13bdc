/*  xinf_embed: the embedding API (include/xinf/xinf.h) over the worker and
    supervisor actors: checks the options as xinf-node checks its flags,
    fills the defaults, starts the actor and keeps what it borrows (the
    model directories) until it stops.
*/
#include "xinf/xinf.h"
#include "xinf.h"
#include "xinf_worker.h"
#include "xinf_supervisor.h"

#include <arpa/inet.h>

#define S_NAME_MAX   64

struct _xinf_node_t {
    xinf_worker_t *worker;
    xinf_supervisor_t *supervisor;
    xinf_model_dirs_t *model_dirs;     //  the worker's, owned
    char endpoint [300];
};

//  Heartbeat and liveness: 0 for the default, else the node's ranges.
static int
s_check_beat (int *heartbeat_ms, int *liveness, char *error, size_t error_size)
{
    *heartbeat_ms = *heartbeat_ms ? *heartbeat_ms : 1000;
    *liveness = *liveness ? *liveness : 3;
    if (*heartbeat_ms < 10 || *heartbeat_ms > 60000)
        return xinf_fail (error, error_size, "heartbeat_ms must be 10-60000, got %d", *heartbeat_ms);
    if (*liveness < 1 || *liveness > 100)
        return xinf_fail (error, error_size, "liveness must be 1-100, got %d", *liveness);
    return 0;
}

static int
s_check_name (const char *name, char *error, size_t error_size)
{
    if (!name || strlen (name) < 1 || strlen (name) > S_NAME_MAX)
        return xinf_fail (error, error_size, "node_name must have 1 to %d bytes", S_NAME_MAX);
    size_t at;
    if (!xinf_utf8_valid (name, strlen (name), &at))
        return xinf_fail (error, error_size, "node_name is not valid UTF-8 (byte %zu)", at);
    return 0;
}

static xinf_node_t *
s_node_new (void)
{
    xinf_node_t *self = calloc (1, sizeof *self);
    assert (self);
    return self;
}

//  The worker's options, checked, defaults filled in; model directories resolved.
static int
s_worker_config (const xinf_worker_options_t *options, xinf_worker_config_t *config, xinf_node_t *node,
                 char *error, size_t error_size)
{
    if (!options->supervisor || xinf_endpoint_check_tcp (options->supervisor, error, error_size))
        return options->supervisor ? -1 : xinf_fail (error, error_size, "supervisor (tcp://HOST:PORT) is required");
    if (s_check_name (options->node_name, error, error_size))
        return -1;
    unsigned char address [16];
    const char *host = options->host_ip;
    if (host && *host && inet_pton (AF_INET, host, address) != 1 && inet_pton (AF_INET6, host, address) != 1)
        return xinf_fail (error, error_size, "host_ip '%s' is not an IPv4 or IPv6 address", host);
    int low = options->data_port_low ? options->data_port_low : 29500;
    int high = options->data_port_high ? options->data_port_high : (low + 99 > 65535 ? 65535 : low + 99);
    if (low < 1 || high > 65535 || low > high)
        return xinf_fail (error, error_size, "data ports %d-%d: need 1 <= low <= high <= 65535", low, high);
    int heartbeat_ms = options->heartbeat_ms, liveness = options->liveness;
    if (s_check_beat (&heartbeat_ms, &liveness, error, error_size))
        return -1;
    node->model_dirs = xinf_model_dirs_new ();
    const char *const *dirs = options->model_dirs;
    for (size_t index = 0; dirs ? dirs [index] != NULL : index == 0; index++)
        if (xinf_model_dirs_add (node->model_dirs, dirs ? dirs [index] : ".", error, error_size))
            return -1;
    *config = (xinf_worker_config_t) {
        options->supervisor, options->node_name, host, "flag", low, high, heartbeat_ms, liveness,
        node->model_dirs, NULL, NULL, NULL, false, false, false
    };
    return 0;
}

xinf_node_t *
xinf_worker_start (const xinf_worker_options_t *options, char *error, size_t error_size)
{
    xinf_node_t *self = s_node_new ();
    xinf_worker_config_t config;
    if (s_worker_config (options, &config, self, error, error_size) == 0) {
        snprintf (self->endpoint, sizeof self->endpoint, "%s", options->supervisor);
        zsys_init ();
        self->worker = xinf_worker_new (&config);
        if (!self->worker)
            xinf_fail (error, error_size, "the worker actor did not start (see the log)");
    }
    if (!self->worker)
        xinf_node_stop (&self);
    return self;
}

xinf_node_t *
xinf_supervisor_start (const xinf_supervisor_options_t *options, char *error, size_t error_size)
{
    int heartbeat_ms = options->heartbeat_ms, liveness = options->liveness;
    const char *bind = options->bind ? options->bind : "tcp://0.0.0.0:9997";
    if (s_check_name (options->node_name, error, error_size)
    ||  s_check_beat (&heartbeat_ms, &liveness, error, error_size))
        return NULL;
    if (strncmp (bind, "tcp://", 6) != 0 || strlen (bind) >= 256) {
        xinf_fail (error, error_size, "bind '%s' must be tcp://ADDRESS:PORT", bind);
        return NULL;
    }
    xinf_supervisor_config_t config = { options->node_name, heartbeat_ms, liveness, 600000, NULL, false, NULL, NULL,
                                        NULL, 0 };
    xinf_node_t *self = s_node_new ();
    zsys_init ();
    self->supervisor = xinf_supervisor_new (&config);
    if (!self->supervisor)
        xinf_fail (error, error_size, "the supervisor actor did not start (see the log)");
    else
    if (xinf_supervisor_bind (self->supervisor, bind, self->endpoint, sizeof self->endpoint) < 0) {
        xinf_fail (error, error_size, "cannot bind %s: %s", bind, zmq_strerror (errno));
        xinf_supervisor_destroy (&self->supervisor);
    }
    if (!self->supervisor)
        xinf_node_stop (&self);
    return self;
}

const char *
xinf_node_endpoint (const xinf_node_t *self)
{
    return self->endpoint;
}

void
xinf_node_stop (xinf_node_t **self_p)
{
    if (self_p && *self_p) {
        xinf_node_t *self = *self_p;
        xinf_worker_destroy (&self->worker);
        xinf_supervisor_destroy (&self->supervisor);
        xinf_model_dirs_destroy (&self->model_dirs);
        free (self);
        *self_p = NULL;
    }
}

int
xinf_log_level (const char *level)
{
    int parsed = level ? xinf_log_level_parse (level) : -1;
    if (parsed >= 0)
        xinf_log_set_level ((xinf_log_level_t) parsed);
    return parsed >= 0 ? 0 : -1;
}

int
xinf_tune_malloc (void)
{
    return xinf_malloc_tune () ? 0 : -1;
}

const char *
xinf_version (void)
{
    return XINF_VERSION_STRING;
}
