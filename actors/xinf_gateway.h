/*  xinf_gateway: the front door, an OpenAI-compatible HTTP server.

    An actor in the supervisor node (xinf-node --role=supervisor|local)
    that turns HTTP requests into XINF-CLIENT/1 requests: it is a client of
    the supervisor like xinf-cli (a DEALER with its own routing id, connected
    to the supervisor's ROUTER), so the scheduler's guarantees hold (one
    answer per request, OVERLOADED, CANCEL, restarts).

    HTTP is libmicrohttpd without threads of its own: its epoll fd is polled
    by the actor's loop next to the DEALER, a waiting request is a suspended
    connection, and a stream is resumed when tokens arrive. A thousand idle
    streams cost a thousand suspended connections, not a thousand threads.

    Endpoints: GET /v1/models, GET /v1/models/{id}, POST /v1/completions,
    POST /v1/chat/completions (with and without stream), GET /health,
    POST /tokenize, POST /detokenize, POST /apply-template, GET /metrics,
    management under /v1/models and /v1/cluster, and the web console at /
    (its files compiled in: xinf_gateway_console.h). OpenAI function calling
    (xinf_gateway_tools.h, xinf_gateway_toolcalls.h); HTTPS with tls_cert
    and tls_key. The surface is specified in protocols/http.md.
*/
#ifndef XINF_GATEWAY_H_INCLUDED
#define XINF_GATEWAY_H_INCLUDED

#include "xinf.h"

typedef struct {
    const char *supervisor;           //  tcp://HOST:PORT of the supervisor's ROUTER
    const char *host;                 //  the address to bind (IPv4 or IPv6 literal)
    int port;                         //  1-65535
    const char *key_file;             //  NULL: no authentication
    size_t max_body;                  //  bytes of a request body (beyond: 413)
    unsigned connection_limit;        //  open connections at once
    unsigned connection_timeout_s;    //  an idle (not waiting) connection is closed
    unsigned body_timeout_s;          //  a request not received whole by then is closed (slow senders)
    unsigned header_timeout_s;        //  a request's headers not in by then (from the accept, or for a
                                      //  kept-alive connection the end of its previous request, at
                                      //  least connection_timeout_s) close the connection
    unsigned per_ip_limit;            //  open connections from one address (0: no limit)
    int64_t request_timeout_ms;       //  a generation's deadline
    const char *node_name;            //  for the models' owned_by
    zcert_t *cert;                    //  keys on: the gateway's key pair (not owned), else NULL
    const char *server_key;           //  keys on: the supervisor's public key (Z85)
    const char *tls_cert, *tls_key;   //  HTTPS: PEM files (both or neither); NULL: plain HTTP
} xinf_gateway_config_t;

typedef struct _xinf_gateway_t xinf_gateway_t;

//  Starts the gateway; NULL with the reason in 'error' (a bad key file, a
//  port in use, an address that is not local, a TLS certificate or key
//  that is missing, unreadable, malformed, or not a pair).
xinf_gateway_t *xinf_gateway_new (const xinf_gateway_config_t *config, char *error, size_t error_size);
void xinf_gateway_destroy (xinf_gateway_t **self_p);

#endif
