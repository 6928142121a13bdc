/*  xinf-node: runs one xinf node.

    --role=supervisor binds one ROUTER (default tcp://0.0.0.0:9997) that
    workers and clients connect to, prints where it listens on stdout and
    serves until SIGINT/SIGTERM. Configuration: flags, then XINF_*
    environment variables, then defaults. Bad flags: a message and exit 2.
*/
#include "xinf.h"
#include "xinf_supervisor.h"

#include <unistd.h>

static const xinf_option_t s_options [] = {
    { "role", 0, "XINF_ROLE", XINF_OPT_STR, "supervisor", 0, 0, "supervisor", "ROLE",
      "what this node is" },
    { "port", 'p', "XINF_PORT", XINF_OPT_INT, "9997", 0, 65535, NULL, "PORT",
      "TCP port the supervisor binds (0: any free port, printed at start)" },
    { "bind", 0, "XINF_BIND", XINF_OPT_STR, "0.0.0.0", 0, 0, NULL, "ADDR",
      "address the supervisor binds" },
    { "node-name", 0, "XINF_NODE_NAME", XINF_OPT_STR, NULL, 0, 0, NULL, "NAME",
      "name of this node (default: the hostname)" },
    { "log-level", 0, "XINF_LOG_LEVEL", XINF_OPT_STR, "info", 0, 0,
      "trace|debug|info|warn|error|off", "LEVEL", "lowest level logged" },
    { NULL }
};

static int
s_run_supervisor (xinf_config_t *config, const char *node_name)
{
    xinf_supervisor_t *supervisor = xinf_supervisor_new (node_name);
    if (!supervisor)
        return 1;
    char endpoint [300], bound [300];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", xinf_config_str (config, "bind"),
              (int) xinf_config_int (config, "port"));
    int port = xinf_supervisor_bind (supervisor, endpoint, bound, sizeof bound);
    if (port < 0) {
        xinf_error ("node", "cannot bind endpoint=%s: is the port in use or the address not local?", endpoint);
        xinf_supervisor_destroy (&supervisor);
        return 1;
    }
    printf ("xinf-node supervisor %s listening on %s\n", node_name, bound);
    fflush (stdout);
    xinf_info ("node", "started role=supervisor node=%s endpoint=%s pid=%d version=%s",
               node_name, bound, (int) getpid (), XINF_VERSION_STRING);
    //  Sleep until SIGINT/SIGTERM: the signal interrupts the poll at once
    while (!zsys_interrupted)
        zmq_poll (NULL, 0, 1000);
    xinf_info ("node", "stopping role=supervisor node=%s", node_name);
    xinf_supervisor_destroy (&supervisor);
    return 0;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-node", "--role=supervisor [OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc != 0 || xinf_config_positionals (config) > 0) {
        if (rc < 0)
            fprintf (stderr, "xinf-node: %s\n", xinf_config_error (config));
        else
        if (rc == 0)
            fprintf (stderr, "xinf-node: unexpected argument '%s' (see --help)\n",
                     xinf_config_positional (config, 0));
        xinf_config_destroy (&config);
        return rc == 1 ? 0 : 2;
    }
    xinf_log_set_level ((xinf_log_level_t) xinf_log_level_parse (xinf_config_str (config, "log-level")));
    char hostname [256] = "localhost";
    gethostname (hostname, sizeof hostname - 1);
    const char *node_name = xinf_config_str (config, "node-name");
    if (!node_name || !*node_name)
        node_name = hostname;
    zsys_init ();
    rc = s_run_supervisor (config, node_name);
    xinf_config_destroy (&config);
    return rc;
}
