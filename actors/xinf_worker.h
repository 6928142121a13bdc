/*  xinf_worker: the worker node agent, the actor that represents a worker
    machine to the supervisor.

    It registers (HELLO with the host's resources and devices, WELCOME with
    the address checks), heartbeats on its own thread at the agreed interval
    carrying the waits older than two intervals, and watches the
    supervisor's heartbeats: when the supervisor falls silent for liveness x
    interval, or says it does not know this worker, the agent reconnects and
    registers again with backoff (100 ms doubling to 2 s), reporting what it
    runs, so that a supervisor restart costs no redeploy.
*/
#ifndef XINF_WORKER_H_INCLUDED
#define XINF_WORKER_H_INCLUDED

#include "xinf.h"
#include "xinf_model_dirs.h"

typedef struct {
    const char *endpoint;          //  tcp://SUPERVISOR:9997
    const char *node_name;
    const char *host_ip;           //  NULL or "": detect the route to the supervisor
    const char *host_ip_source;    //  "flag", "env" (ignored when detected)
    int data_port_low, data_port_high;
    int64_t heartbeat_ms;
    int liveness;
    //  Where LOAD_MODEL may read model files (not owned; must outlive the
    //  worker); NULL: the current directory.
    xinf_model_dirs_t *model_dirs;
    zcert_t *cert;                 //  our key pair (not owned; kept while the worker runs), or NULL
    const char *cert_file;         //  its file, for the words on a refusal
    const char *server_key;        //  the supervisor's public key, Z85 (with cert)
    //  Model files (protocols/node.md, "Model files"): a launch's file that
    //  the model directories lack is fetched from the cluster unless
    //  no_fetch; files of the model directories that a launch names are
    //  served to workers that lack them unless no_serve.
    bool no_fetch, no_serve;
    //  Each replica's executor in a process of its own (xinf-executor)
    bool executor_process;
} xinf_worker_config_t;

typedef struct _xinf_worker_t xinf_worker_t;

xinf_worker_t *xinf_worker_new (const xinf_worker_config_t *config);
//  Says BYE to the supervisor and stops.
void xinf_worker_destroy (xinf_worker_t **self_p);

#endif
