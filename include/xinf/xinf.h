/*  xinf/xinf.h: the embedding API of xinf, a distributed LLM inference
    runtime. This is the one header an embedder includes; it needs nothing
    else (no CZMQ, no internal header) and is installed with the library:

        cmake --install build --prefix /usr/local
        cc app.c $(pkg-config --cflags --libs xinf)          or
        find_package(xinf) ... target_link_libraries(app PRIVATE xinf::xinf)

    A process embeds a worker (a machine that serves models for a
    supervisor) or a supervisor (the node workers and clients talk to).
    Each runs on its own thread, started here and stopped here; the
    embedder's own thread stays free for its event loop (a CZMQ zloop, a
    libuv loop, anything):

        xinf_worker_options_t options = { .supervisor = "tcp://10.0.0.1:9997",
                                          .node_name = "gpu-box-7" };
        char error [256];
        xinf_node_t *worker = xinf_worker_start (&options, error, sizeof error);
        if (!worker)
            fprintf (stderr, "cannot start: %s\n", error);
        ... run the application's loop ...
        xinf_node_stop (&worker);              //  says BYE to the supervisor

    Models are launched and requests served through the supervisor
    (protocols/client.md: xinf-cli, tools/xinf_client.py, the HTTP
    gateway), not through this API.
*/
#ifndef XINF_PUBLIC_XINF_H_INCLUDED
#define XINF_PUBLIC_XINF_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XINF_API_VERSION 1             //  changes when this header changes incompatibly

//  A started worker or supervisor.
typedef struct _xinf_node_t xinf_node_t;

//  A worker. Zero means the default for every number.
typedef struct {
    const char *supervisor;            //  required: tcp://HOST:PORT of the supervisor
    const char *node_name;             //  required: 1-64 bytes, unique in the cluster
    const char *host_ip;               //  the address peers reach this worker at;
                                       //  NULL: the local address of the route to the supervisor
    const char *const *model_dirs;     //  NULL-terminated: where a launch may read model files;
                                       //  NULL: the current directory
    int data_port_low;                 //  the range of data ports (collectives); default 29500
    int data_port_high;                //  default data_port_low + 99
    int heartbeat_ms;                  //  default 1000
    int liveness;                      //  heartbeats missed before a peer is lost; default 3
} xinf_worker_options_t;

//  A supervisor. Zero means the default for every number.
typedef struct {
    const char *bind;                  //  tcp://ADDRESS:PORT; port 0 picks a free one;
                                       //  NULL: tcp://0.0.0.0:9997
    const char *node_name;             //  required: 1-64 bytes
    int heartbeat_ms;                  //  default 1000
    int liveness;                      //  default 3
} xinf_supervisor_options_t;

//  Starts a worker that registers with its supervisor (and registers again
//  whenever the supervisor comes back). NULL with the reason in 'error'
//  when an option is invalid.
xinf_node_t *xinf_worker_start (const xinf_worker_options_t *options, char *error, size_t error_size);

//  Starts a supervisor and binds it. NULL with the reason in 'error' when
//  an option is invalid or the address cannot be bound.
xinf_node_t *xinf_supervisor_start (const xinf_supervisor_options_t *options, char *error, size_t error_size);

//  A supervisor: the endpoint it is bound to (tcp://ADDRESS:PORT, with the
//  port it got). A worker: its supervisor's endpoint.
const char *xinf_node_endpoint (const xinf_node_t *self);

//  Stops the node (a worker says BYE first) and frees it; NULL-safe.
void xinf_node_stop (xinf_node_t **self_p);

//  The level of xinf's log lines on stderr: "error", "warn", "info" (the
//  default) or "debug"; -1 for another word.
int xinf_log_level (const char *level);

//  Sets glibc's malloc for message traffic between threads, as xinf-node
//  does at start: libzmq mallocs each message on the sending thread and
//  frees it on its I/O thread, and with glibc's defaults a message over
//  about 90 bytes is freed under the lock the sender's next malloc takes.
//  This makes glibc's lock-free fast bins as large as it allows (160
//  bytes). It changes malloc for the whole process, so xinf never does it
//  by itself. 0 when set; -1 on a C library without the setting.
int xinf_tune_malloc (void);

//  The library's version, e.g. "0.1.0".
const char *xinf_version (void);

#ifdef __cplusplus
}
#endif

#endif
