/*  embed_worker: an application that embeds an xinf worker.

        embed_worker -e tcp://SUPERVISOR:PORT -n NAME [-d MODEL_DIR]... [-H HOST_IP]
                     [-p LOW-HIGH] [-l LEVEL]

    The application owns its event loop, a CZMQ zloop; the worker runs
    beside it on its own thread, started before the loop and stopped after
    it, through include/xinf/xinf.h alone. The loop here does what an
    application would do with it: a timer reports that the worker is
    serving, and SIGINT/SIGTERM end the loop (zloop stops on them), after
    which the worker says BYE to its supervisor.

    Build against an installed xinf:

        cc embed_worker.c $(pkg-config --cflags --libs xinf libczmq)

    or with CMake: find_package(xinf), target_link_libraries(... xinf::xinf).
*/
#include <xinf/xinf.h>
#include <czmq.h>
#include <getopt.h>

#define DIRS_MAX  16

typedef struct {
    const char *supervisor;
    const char *name;
    const char *host_ip;
    const char *dirs [DIRS_MAX + 1];   //  NULL-terminated
    int dir_count;
    int port_low, port_high;
    const char *log_level;
} s_args_t;

static int
s_usage (void)
{
    fprintf (stderr, "usage: embed_worker -e tcp://SUPERVISOR:PORT -n NAME [-d MODEL_DIR]... "
                     "[-H HOST_IP] [-p LOW-HIGH] [-l error|warn|info|debug]\n");
    return 2;
}

static int
s_parse (int argc, char **argv, s_args_t *args)
{
    int option;
    while ((option = getopt (argc, argv, "e:n:d:H:p:l:h")) != -1) {
        if (option == 'e')
            args->supervisor = optarg;
        else
        if (option == 'n')
            args->name = optarg;
        else
        if (option == 'd' && args->dir_count < DIRS_MAX)
            args->dirs [args->dir_count++] = optarg;
        else
        if (option == 'H')
            args->host_ip = optarg;
        else
        if (option == 'p' && sscanf (optarg, "%d-%d", &args->port_low, &args->port_high) == 2)
            continue;
        else
        if (option == 'l')
            args->log_level = optarg;
        else
            return -1;
    }
    return args->supervisor && args->name && optind == argc ? 0 : -1;
}

//  The application's own work on its loop: here, a line now and then.
static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    xinf_node_t *worker = (xinf_node_t *) arg;
    printf ("embed_worker: serving for %s\n", xinf_node_endpoint (worker));
    fflush (stdout);
    return 0;
}

int
main (int argc, char **argv)
{
    s_args_t args = { 0 };
    if (s_parse (argc, argv, &args))
        return s_usage ();
    if (args.log_level && xinf_log_level (args.log_level)) {
        fprintf (stderr, "embed_worker: unknown log level '%s'\n", args.log_level);
        return 2;
    }
    //  This application sends little of its own: it takes the malloc setting
    //  xinf-node runs with (a process with its own views on malloc skips this)
    xinf_tune_malloc ();
    xinf_worker_options_t options = {
        .supervisor = args.supervisor, .node_name = args.name, .host_ip = args.host_ip,
        .model_dirs = args.dir_count ? args.dirs : NULL,
        .data_port_low = args.port_low, .data_port_high = args.port_high
    };
    char error [512];
    xinf_node_t *worker = xinf_worker_start (&options, error, sizeof error);
    if (!worker) {
        fprintf (stderr, "embed_worker: %s\n", error);
        return 1;
    }
    printf ("embed_worker: xinf %s worker %s started for %s\n", xinf_version (), args.name,
            xinf_node_endpoint (worker));
    fflush (stdout);

    zloop_t *loop = zloop_new ();
    zloop_timer (loop, 5000, 0, s_on_tick, worker);
    zloop_start (loop);                 //  returns on SIGINT/SIGTERM
    zloop_destroy (&loop);

    xinf_node_stop (&worker);
    printf ("embed_worker: stopped\n");
    return 0;
}
