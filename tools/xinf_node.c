/*  xinf-node: runs one xinf node.

    --role=supervisor  binds one ROUTER (default tcp://0.0.0.0:9997) that
                       workers and clients connect to, and prints where it
                       listens on stdout;
    --role=worker      registers with the supervisor at -e and heartbeats;
    --role=local       a supervisor and one worker in one process.

    The supervisor and local roles also serve the HTTP gateway (OpenAI API)
    on --http-port (default 9998; 0 turns it off).

    Serves until SIGINT/SIGTERM. Configuration: flags, then XINF_*
    environment variables, then defaults. Bad flags: a message, exit 2.
*/
#include "xinf.h"
#include "xinf_supervisor.h"
#include "xinf_worker.h"
#include "xinf_gateway.h"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

//  File descriptors kept for what is not an HTTP connection: ZeroMQ's
//  sockets and their TCP connections, model files, workers' pipes
#define S_FD_RESERVE 256

static const xinf_option_t s_options [] = {
    { "role", 0, "XINF_ROLE", XINF_OPT_STR, "supervisor", 0, 0, "supervisor|worker|local", "ROLE",
      "what this node is" },
    { "port", 'p', "XINF_PORT", XINF_OPT_INT, "9997", 0, 65535, NULL, "PORT",
      "supervisor/local: TCP port to bind (0: any free port, printed at start)" },
    { "bind", 0, "XINF_BIND", XINF_OPT_STR, "0.0.0.0", 0, 0, NULL, "ADDR",
      "supervisor/local: address to bind" },
    { "endpoint", 'e', "XINF_ENDPOINT", XINF_OPT_STR, "tcp://127.0.0.1:9997", 0, 0, NULL, "ENDPOINT",
      "worker: the supervisor, tcp://HOST:PORT" },
    { "host", 'H', "XINF_HOST_IP", XINF_OPT_STR, NULL, 0, 0, NULL, "IP",
      "worker: the address peers must use to reach this worker (default: the local address of the route to the supervisor)" },
    { "data-ports", 0, "XINF_DATA_PORTS", XINF_OPT_STR, "29500-29599", 0, 0, NULL, "LOW-HIGH",
      "worker: the port range executors bind (open exactly this range in firewalls)" },
    { "node-name", 0, "XINF_NODE_NAME", XINF_OPT_STR, NULL, 0, 0, NULL, "NAME",
      "name of this node (default: the hostname)" },
    { "heartbeat-ms", 0, "XINF_HEARTBEAT_MS", XINF_OPT_INT, "1000", 10, 60000, NULL, "MS",
      "heartbeat interval, the same on every node" },
    { "liveness", 0, "XINF_LIVENESS", XINF_OPT_INT, "3", 1, 100, NULL, "N",
      "heartbeats missed before a peer is declared lost" },
    { "standby-peer", 0, "XINF_STANDBY_PEER", XINF_OPT_STR, NULL, 0, 0, NULL, "ENDPOINT",
      "supervisor: the other supervisor of a standby pair, tcp://HOST:PORT (workers and clients take -e A,B)" },
    { "standby", 0, "XINF_STANDBY", XINF_OPT_STR, "primary", 0, 0, "primary|backup", "ROLE",
      "supervisor with --standby-peer: which of the pair this one is" },
    { "state-dir", 0, "XINF_STATE_DIR", XINF_OPT_STR, NULL, 0, 0, NULL, "DIR",
      "supervisor/local: keep the event history and the launched models here, across restarts" },
    { "peer-rate", 0, "XINF_PEER_RATE", XINF_OPT_INT, "5000", 0, 10000000, NULL, "N",
      "supervisor: messages a second one client (or a worker before it registers) may send (four times that "
      "at once; beyond: RATE_LIMITED); 0: no limit" },
    { "forget-lost-ms", 0, "XINF_FORGET_LOST_MS", XINF_OPT_INT, "600000", 0, 604800000, NULL, "MS",
      "supervisor/local: a lost worker leaves the workers table after this long (0: never)" },
    { "model-dir", 0, "XINF_MODEL_DIR", XINF_OPT_STR, NULL, 0, 0, NULL, "DIR",
      "worker/local: a directory launches may load model files from, subdirectories included (repeatable; "
      "default: the current directory); a launch's file that none of them has is fetched from the cluster into "
      "the first (with --no-fetch-models: refused). supervisor: files in it that a launch names are served to "
      "workers that lack them (default: none)" },
    { "no-fetch-models", 0, "XINF_NO_FETCH_MODELS", XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "worker/local: refuse a launch whose file the model directories lack, instead of fetching it from the cluster" },
    { "no-serve-models", 0, "XINF_NO_SERVE_MODELS", XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "worker/local: do not serve this worker's model files to workers that lack them" },
    { "executor", 0, "XINF_EXECUTOR", XINF_OPT_STR, "thread", 0, 0, "thread|process", "WHERE",
      "worker/local: run each replica's executor on a thread of this node, or in a process of its own "
      "(xinf-executor: a crash or a stuck step ends that process and is named, the worker goes on)" },
    { "http-port", 0, "XINF_HTTP_PORT", XINF_OPT_INT, "9998", 0, 65535, NULL, "PORT",
      "supervisor/local: the HTTP gateway's port (OpenAI API; 0: no gateway)" },
    { "http-host", 0, "XINF_HTTP_HOST", XINF_OPT_STR, NULL, 0, 0, NULL, "ADDR",
      "supervisor/local: the gateway's address (default: 0.0.0.0 with --api-key-file, else 127.0.0.1)" },
    { "api-key-file", 0, "XINF_API_KEY_FILE", XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "supervisor/local: HTTP keys, lines 'KEY ROLE' (role user or admin); without it no authentication" },
    { "tls-cert", 0, "XINF_TLS_CERT", XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "supervisor/local: serve the gateway over HTTPS with this PEM certificate (chain); needs --tls-key" },
    { "tls-key", 0, "XINF_TLS_KEY", XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "supervisor/local: the PEM private key of --tls-cert (unencrypted; chmod 600)" },
    { "http-max-body", 0, "XINF_HTTP_MAX_BODY", XINF_OPT_INT, "4194304", 1024, 1073741824, NULL, "BYTES",
      "supervisor/local: the largest HTTP request body (beyond: 413)" },
    { "http-max-connections", 0, "XINF_HTTP_MAX_CONNECTIONS", XINF_OPT_INT, "4096", 1, 1000000, NULL, "N",
      "supervisor/local: open HTTP connections at once (streams included; at most the open-files limit "
      "less 256, which the node raises to its hard limit at start)" },
    { "http-max-connections-per-ip", 0, "XINF_HTTP_MAX_CONNECTIONS_PER_IP", XINF_OPT_INT, "256", 0, 1000000, NULL,
      "N", "supervisor/local: open HTTP connections from one client address (beyond: closed at once; 0: no "
      "limit; behind a reverse proxy every client has the proxy's address)" },
    { "http-header-timeout-s", 0, "XINF_HTTP_HEADER_TIMEOUT_S", XINF_OPT_INT, "10", 1, 86400, NULL, "S",
      "supervisor/local: a connection whose request headers are not in within this of its opening is closed "
      "(slow senders; before a kept-alive connection's next request, at least --http-timeout-s)" },
    { "http-timeout-s", 0, "XINF_HTTP_TIMEOUT_S", XINF_OPT_INT, "30", 1, 86400, NULL, "S",
      "supervisor/local: an HTTP connection that sends nothing for this long is closed (slow clients)" },
    { "http-body-timeout-s", 0, "XINF_HTTP_BODY_TIMEOUT_S", XINF_OPT_INT, "60", 1, 86400, NULL, "S",
      "supervisor/local: a request body not received whole within this is dropped (slow senders)" },
    { "http-request-timeout-s", 0, "XINF_HTTP_REQUEST_TIMEOUT_S", XINF_OPT_INT, "600", 1, 86400, NULL, "S",
      "supervisor/local: a generation's deadline" },
    { "cert", 0, "XINF_CERT", XINF_OPT_STR, NULL, 0, 0, NULL, "KEYFILE",
      "supervisor/worker: this node's key (NAME.key, NAME.key_secret beside it; xinf-cli keygen): turns CURVE on" },
    { "keys", 0, "XINF_KEYS", XINF_OPT_STR, NULL, 0, 0, NULL, "DIR",
      "supervisor: the public certificates (*.key) it accepts, each with its role; worker: the same directory (its worker keys may reach the data ports)" },
    { "server-key", 0, "XINF_SERVER_KEY", XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "worker: the supervisor's public certificate" },
    { "log-level", 0, "XINF_LOG_LEVEL", XINF_OPT_STR, "info", 0, 0,
      "trace|debug|info|warn|error|off", "LEVEL", "lowest level logged" },
    { 0 }
};

typedef struct {
    char node_name [256];
    int64_t heartbeat_ms;
    int liveness;
    int64_t forget_lost_ms;
    int port_low, port_high;
    xinf_model_dirs_t *model_dirs;    //  --model-dir, resolved
    bool model_dirs_given;            //  on the command line (a supervisor serves only those)
    zcert_t *cert;                 //  --cert: our key pair
    xinf_keyring_t *keys;          //  supervisor --keys
    char server_key [XINF_KEY_TEXT_SIZE];     //  worker --server-key
    zcert_t *gateway_cert;         //  keys on: the HTTP gateway's own key pair (memory only)
    unsigned http_max_connections; //  --http-max-connections, within the open-files limit
} s_settings_t;

//  A standby pair with keys shares one key pair of role supervisor, whose
//  public file is in --keys: each supervisor's link to the other is a
//  CURVE client by that key, and workers and clients need one --server-key
//  for both.
static int
s_check_standby_keys (xinf_config_t *config, s_settings_t *settings)
{
    if (!settings->cert || !xinf_config_str (config, "standby-peer"))
        return 0;
    xinf_role_t role = xinf_keyring_role (settings->keys, zcert_public_txt (settings->cert));
    if (role == XINF_ROLE_SUPERVISOR)
        return 0;
    fprintf (stderr, "xinf-node: a standby pair shares one key pair of role supervisor: the key of --cert is %s; "
             "make one with `xinf-cli keygen NAME --role supervisor`, give both supervisors --cert NAME.key_secret "
             "and put NAME.key in both --keys directories (workers and clients take --server-key NAME.key)\n",
             role == XINF_ROLE_NONE ? "not in --keys" : "of another role");
    return -1;
}

//  --cert with --keys (supervisor) or --server-key (worker): loaded and
//  checked before anything starts; a bad key file is a bad flag.
static int
s_load_keys (xinf_config_t *config, s_settings_t *settings)
{
    const char *role = xinf_config_str (config, "role");
    const char *cert = xinf_config_str (config, "cert");
    const char *keys = xinf_config_str (config, "keys");
    const char *server = xinf_config_str (config, "server-key");
    char reason [1200];
    bool supervisor = streq (role, "supervisor"), worker = streq (role, "worker");
    if (streq (role, "local") && (cert || keys || server)) {
        fprintf (stderr, "xinf-node: --role=local runs without keys on this machine; for keys run --role=supervisor and --role=worker\n");
        return -1;
    }
    if ((supervisor && !cert != !keys) || (worker && (!cert != !server || !cert != !keys))) {
        fprintf (stderr, "xinf-node: %s\n", supervisor ? "a supervisor takes --cert and --keys together"
                 : "a worker takes --cert, --server-key and --keys together (--keys: the cluster's public "
                   "certificates, whose worker keys may reach its data ports)");
        return -1;
    }
    if (supervisor && server) {
        fprintf (stderr, "xinf-node: --server-key is for workers\n");
        return -1;
    }
    if (cert && !(settings->cert = xinf_auth_load_secret (cert, reason, sizeof reason))) {
        fprintf (stderr, "xinf-node: --cert: %s\n", reason);
        return -1;
    }
    if (keys && !(settings->keys = xinf_keyring_load (keys, reason, sizeof reason))) {
        fprintf (stderr, "xinf-node: --keys: %s\n", reason);
        return -1;
    }
    if (server && xinf_auth_load_public (server, settings->server_key, reason, sizeof reason)) {
        fprintf (stderr, "xinf-node: --server-key: %s\n", reason);
        return -1;
    }
    return s_check_standby_keys (config, settings);
}

//  A supervisor that anyone on the network may reach, without keys.
static void
s_warn_open (xinf_config_t *config, s_settings_t *settings)
{
    const char *bind = xinf_config_str (config, "bind");
    if (settings->keys || strncmp (bind, "127.", 4) == 0 || streq (bind, "::1") || streq (bind, "localhost"))
        return;
    long port = (long) xinf_config_int (config, "port");
    xinf_warn ("node", "no keys: anyone who reaches port %ld can register workers and read prompts: see xinf-cli keygen", port);
    printf ("xinf-node: warning: bound to %s without keys: anyone who reaches port %ld can register workers and read "
            "prompts: see xinf-cli keygen and --cert/--keys\n", bind, port);
    fflush (stdout);
}


#define S_MODEL_DIRS_MAX 64

//  --model-dir (each an existing directory), or the current directory.
static int
s_model_dirs (xinf_config_t *config, s_settings_t *settings)
{
    const char *dirs [S_MODEL_DIRS_MAX];
    size_t count = xinf_config_all (config, "model-dir", dirs, S_MODEL_DIRS_MAX);
    settings->model_dirs_given = count > 0;
    if (count > S_MODEL_DIRS_MAX) {
        fprintf (stderr, "xinf-node: --model-dir given %zu times (at most %d)\n", count, S_MODEL_DIRS_MAX);
        return -1;
    }
    settings->model_dirs = xinf_model_dirs_new ();
    char error [512];
    for (size_t index = 0; index < (count ? count : 1); index++)
        if (xinf_model_dirs_add (settings->model_dirs, count ? dirs [index] : ".", error, sizeof error)) {
            fprintf (stderr, "xinf-node: --model-dir: %s\n", error);
            return -1;
        }
    return 0;
}

//  Checks what the option table cannot: port range and host address shape.
static int
s_validate (xinf_config_t *config, s_settings_t *settings)
{
    const char *ports = xinf_config_str (config, "data-ports");
    char tail;
    if (sscanf (ports, "%d-%d%c", &settings->port_low, &settings->port_high, &tail) != 2
    ||  settings->port_low < 1 || settings->port_high > 65535 || settings->port_low > settings->port_high) {
        fprintf (stderr, "xinf-node: --data-ports: '%s' must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535\n", ports);
        return -1;
    }
    const char *host = xinf_config_str (config, "host");
    unsigned char buffer [16];
    if (host && *host && inet_pton (AF_INET, host, buffer) != 1 && inet_pton (AF_INET6, host, buffer) != 1) {
        fprintf (stderr, "xinf-node: -H/--host: '%s' is not an IPv4 or IPv6 address\n", host);
        return -1;
    }
    //  One supervisor, or the two of a standby pair: A,B
    const char *endpoint = xinf_config_str (config, "endpoint");
    char reason [512], first [512];
    const char *comma = strchr (endpoint, ',');
    snprintf (first, sizeof first, "%.*s", (int) (comma ? comma - endpoint : (ptrdiff_t) strlen (endpoint)), endpoint);
    if (xinf_endpoint_check_tcp (first, reason, sizeof reason)
    ||  (comma && xinf_endpoint_check_tcp (comma + 1, reason, sizeof reason))) {
        fprintf (stderr, "xinf-node: -e/--endpoint: %s (one supervisor, or the two of a standby pair: A,B)\n",
                 reason);
        return -1;
    }
    const char *peer = xinf_config_str (config, "standby-peer");
    if (peer && xinf_endpoint_check_tcp (peer, reason, sizeof reason)) {
        fprintf (stderr, "xinf-node: --standby-peer: %s\n", reason);
        return -1;
    }
    const char *name = xinf_config_str (config, "node-name");
    if (name && (strlen (name) < 1 || strlen (name) > 64)) {
        fprintf (stderr, "xinf-node: --node-name must have 1 to 64 bytes\n");
        return -1;
    }
    gethostname (settings->node_name, sizeof settings->node_name - 1);
    settings->node_name [64] = 0;
    if (name)
        snprintf (settings->node_name, sizeof settings->node_name, "%s", name);
    settings->heartbeat_ms = xinf_config_int (config, "heartbeat-ms");
    settings->liveness = (int) xinf_config_int (config, "liveness");
    settings->forget_lost_ms = xinf_config_int (config, "forget-lost-ms");
    return s_model_dirs (config, settings);
}

//  With keys, the HTTP gateway dials the supervisor as a CURVE client by a
//  key pair made at start and kept in memory, listed with role admin
//  (the gateway checks its own API keys' roles before it forwards).
static int
s_gateway_key (xinf_config_t *config, s_settings_t *settings)
{
    if (!settings->keys || xinf_config_int (config, "http-port") <= 0)
        return 0;
    settings->gateway_cert = zcert_new ();
    if (!settings->gateway_cert
    ||  xinf_keyring_add (settings->keys, zcert_public_txt (settings->gateway_cert), XINF_ROLE_ADMIN, "gateway")) {
        xinf_error ("node", "cannot make the HTTP gateway's key");
        return -1;
    }
    return 0;
}

static xinf_supervisor_t *
s_start_supervisor (xinf_config_t *config, s_settings_t *settings, char *bound, size_t bound_size)
{
    if (s_gateway_key (config, settings))
        return NULL;
    if (settings->keys && xinf_auth_zap_start (settings->keys, XINF_ROLE_NONE)) {
        xinf_error ("node", "cannot start the ZAP handler");
        return NULL;
    }
    xinf_supervisor_config_t supervisor_config = {
        settings->node_name, settings->heartbeat_ms, settings->liveness, settings->forget_lost_ms,
        xinf_config_str (config, "standby-peer"), streq (xinf_config_str (config, "standby"), "primary"),
        xinf_config_str (config, "state-dir"),
        settings->cert,
        //  A supervisor serves its own copies only from directories it was given
        streq (xinf_config_str (config, "role"), "supervisor") && settings->model_dirs_given ? settings->model_dirs : NULL,
        (double) xinf_config_int (config, "peer-rate")
    };
    xinf_supervisor_t *supervisor = xinf_supervisor_new (&supervisor_config);
    if (!supervisor)
        return NULL;
    char endpoint [300];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", xinf_config_str (config, "bind"),
              (int) xinf_config_int (config, "port"));
    if (xinf_supervisor_bind (supervisor, endpoint, bound, bound_size) < 0) {
        xinf_error ("node", "cannot bind endpoint=%s: is the port in use or the address not local?", endpoint);
        xinf_supervisor_destroy (&supervisor);
        return NULL;
    }
    printf ("xinf-node supervisor %s listening on %s%s\n", settings->node_name, bound,
            settings->keys ? " (CURVE: keys required)" : "");
    fflush (stdout);
    if (settings->keys)
        xinf_info ("node", "CURVE on: %zu keys accepted, public key %s", xinf_keyring_size (settings->keys),
                   zcert_public_txt (settings->cert));
    s_warn_open (config, settings);
    xinf_info ("node", "started role=supervisor node=%s endpoint=%s pid=%d version=%s heartbeat_ms=%lld liveness=%d",
               settings->node_name, bound, (int) getpid (), XINF_VERSION_STRING,
               (long long) settings->heartbeat_ms, settings->liveness);
    return supervisor;
}

//  The gateway dials the supervisor like any client: on the loopback when
//  the supervisor binds every address.
static xinf_gateway_t *
s_start_gateway (xinf_config_t *config, s_settings_t *settings, const char *supervisor)
{
    const char *key_file = xinf_config_str (config, "api-key-file");
    const char *host = xinf_config_str (config, "http-host");
    if (!host)
        host = key_file ? "0.0.0.0" : "127.0.0.1";
    xinf_gateway_config_t gateway_config = {
        supervisor, host, (int) xinf_config_int (config, "http-port"), key_file,
        (size_t) xinf_config_int (config, "http-max-body"), settings->http_max_connections,
        (unsigned) xinf_config_int (config, "http-timeout-s"), (unsigned) xinf_config_int (config, "http-body-timeout-s"),
        (unsigned) xinf_config_int (config, "http-header-timeout-s"),
        (unsigned) xinf_config_int (config, "http-max-connections-per-ip"),
        xinf_config_int (config, "http-request-timeout-s") * 1000,
        settings->node_name, settings->gateway_cert, settings->cert ? zcert_public_txt (settings->cert) : NULL,
        xinf_config_str (config, "tls-cert"), xinf_config_str (config, "tls-key")
    };
    const char *scheme = gateway_config.tls_cert ? "https" : "http";
    char error [600];
    xinf_gateway_t *gateway = xinf_gateway_new (&gateway_config, error, sizeof error);
    if (!gateway) {
        xinf_error ("node", "cannot start the HTTP gateway: %s", error);
        return NULL;
    }
    printf ("xinf-node gateway listening on %s://%s:%d\n", scheme, host, gateway_config.port);
    fflush (stdout);
    if (!key_file)
        xinf_warn ("node", "HTTP gateway on %s://%s:%d without authentication (no --api-key-file)%s", scheme, host,
                   gateway_config.port, streq (host, "127.0.0.1") ? ": reachable from this machine only" : "");
    else
        xinf_info ("node", "HTTP gateway on %s://%s:%d with API keys from %s", scheme, host, gateway_config.port,
                   key_file);
    return gateway;
}

static xinf_worker_t *
s_start_worker (xinf_config_t *config, s_settings_t *settings, const char *endpoint)
{
    const char *host = xinf_config_str (config, "host");
    xinf_worker_config_t worker_config = {
        endpoint, settings->node_name, host, xinf_config_source (config, "host"),
        settings->port_low, settings->port_high, settings->heartbeat_ms, settings->liveness, settings->model_dirs,
        settings->cert, xinf_config_str (config, "cert"), settings->server_key,
        xinf_config_flag (config, "no-fetch-models"), xinf_config_flag (config, "no-serve-models"),
        streq (xinf_config_str (config, "executor"), "process")
    };
    //  Keys on: the data sockets (probe listener, collectives) by our key,
    //  open to the cluster's worker keys only
    if (settings->cert && xinf_auth_zap_start (settings->keys, XINF_ROLE_WORKER)) {
        xinf_error ("node", "cannot start the ZAP handler");
        return NULL;
    }
    xinf_auth_set_identity (settings->cert);
    printf ("xinf-node worker %s connecting to %s\n", settings->node_name, endpoint);
    for (size_t index = 0; index < xinf_model_dirs_count (settings->model_dirs); index++)
        xinf_info ("node", "model directory %s", xinf_model_dirs_at (settings->model_dirs, index));
    fflush (stdout);
    return xinf_worker_new (&worker_config);
}

//  In local mode the worker dials the supervisor on the loopback.
static void
s_local_endpoint (const char *bound, char *endpoint, size_t size)
{
    const char *colon = strrchr (bound, ':');
    const char *host_start = bound + 6;
    size_t host_length = colon ? (size_t) (colon - host_start) : 0;
    if (host_length == 0 || strncmp (host_start, "0.0.0.0", host_length) == 0 || strncmp (host_start, "*", host_length) == 0)
        snprintf (endpoint, size, "tcp://127.0.0.1%s", colon ? colon : ":9997");
    else
        snprintf (endpoint, size, "%s", bound);
}

//  Raises the open-files limit to its hard limit (every HTTP connection is
//  a descriptor of this process, beside the supervisor's and the worker's),
//  and keeps the HTTP connections S_FD_RESERVE under it: a gateway full of
//  idle connections must leave the supervisor descriptors to accept with.
static void
s_fd_limits (xinf_config_t *config, s_settings_t *settings)
{
    settings->http_max_connections = (unsigned) xinf_config_int (config, "http-max-connections");
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit)) {
        xinf_warn ("node", "cannot read the open-files limit: %s", strerror (errno));
        return;
    }
    rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? (rlim_t) 1048576 : limit.rlim_max;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        rlim_t before = limit.rlim_cur;
        limit.rlim_cur = wanted;
        if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
            xinf_info ("node", "open-files limit raised from %llu to the hard limit %llu", (unsigned long long) before,
                       (unsigned long long) wanted);
        else {
            xinf_warn ("node", "cannot raise the open-files limit from %llu to %llu: %s", (unsigned long long) before,
                       (unsigned long long) wanted, strerror (errno));
            limit.rlim_cur = before;
        }
    }
    if (limit.rlim_cur == RLIM_INFINITY || xinf_config_int (config, "http-port") <= 0
    ||  streq (xinf_config_str (config, "role"), "worker"))
        return;
    unsigned long long room = limit.rlim_cur > S_FD_RESERVE + 8 ? (unsigned long long) limit.rlim_cur - S_FD_RESERVE : 8;
    if (settings->http_max_connections > room) {
        xinf_warn ("node", "--http-max-connections %u is more than the open-files limit %llu allows (%d kept for the "
                   "rest of the node): lowered to %llu; raise the limit (ulimit -n, LimitNOFILE=) for more",
                   settings->http_max_connections, (unsigned long long) limit.rlim_cur, S_FD_RESERVE, room);
        settings->http_max_connections = (unsigned) room;
    }
}

static int
s_run (xinf_config_t *config, s_settings_t *settings)
{
    const char *role = xinf_config_str (config, "role");
    xinf_supervisor_t *supervisor = NULL;
    xinf_worker_t *worker = NULL;
    xinf_gateway_t *gateway = NULL;
    char bound [300] = "";
    if (!streq (role, "worker") && !(supervisor = s_start_supervisor (config, settings, bound, sizeof bound))) {
        xinf_auth_zap_stop ();
        return 1;
    }
    if (supervisor && xinf_config_int (config, "http-port") > 0) {
        char endpoint [300];
        s_local_endpoint (bound, endpoint, sizeof endpoint);
        if (!(gateway = s_start_gateway (config, settings, endpoint))) {
            xinf_supervisor_destroy (&supervisor);
            xinf_auth_zap_stop ();
            return 1;
        }
    }
    if (streq (role, "worker"))
        worker = s_start_worker (config, settings, xinf_config_str (config, "endpoint"));
    else
    if (streq (role, "local")) {
        char endpoint [300];
        s_local_endpoint (bound, endpoint, sizeof endpoint);
        worker = s_start_worker (config, settings, endpoint);
    }
    if (!streq (role, "supervisor") && !worker) {
        xinf_gateway_destroy (&gateway);
        xinf_supervisor_destroy (&supervisor);
        xinf_auth_zap_stop ();
        return 1;
    }
    //  Sleep until SIGINT/SIGTERM: the signal interrupts the poll at once
    while (!zsys_interrupted)
        zmq_poll (NULL, 0, 1000);
    xinf_info ("node", "stopping role=%s node=%s", role, settings->node_name);
    xinf_gateway_destroy (&gateway);
    xinf_worker_destroy (&worker);
    xinf_supervisor_destroy (&supervisor);
    xinf_auth_zap_stop ();
    return 0;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-node", "--role=supervisor|worker|local [OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc == 0 && xinf_config_positionals (config) > 0) {
        fprintf (stderr, "xinf-node: unexpected argument '%s' (see --help)\n", xinf_config_positional (config, 0));
        rc = -1;
    }
    else
    if (rc < 0)
        fprintf (stderr, "xinf-node: %s\n", xinf_config_error (config));
    s_settings_t settings = { .model_dirs = NULL };
    if (rc == 0 && (s_validate (config, &settings) || s_load_keys (config, &settings)))
        rc = -1;
    if (rc != 0) {
        xinf_model_dirs_destroy (&settings.model_dirs);
        zcert_destroy (&settings.cert);
        zcert_destroy (&settings.gateway_cert);
        xinf_keyring_destroy (&settings.keys);
        xinf_config_destroy (&config);
        return rc == 1 ? 0 : 2;
    }
    xinf_log_set_level ((xinf_log_level_t) xinf_log_level_parse (xinf_config_str (config, "log-level")));
    zsys_init ();
    xinf_malloc_tune ();
    s_fd_limits (config, &settings);
    rc = s_run (config, &settings);
    zcert_destroy (&settings.cert);
    zcert_destroy (&settings.gateway_cert);
    xinf_keyring_destroy (&settings.keys);
    xinf_model_dirs_destroy (&settings.model_dirs);
    xinf_config_destroy (&config);
    return rc;
}
