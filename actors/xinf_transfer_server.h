/*  xinf_transfer_server: serves model files to the workers that lack them
    (protocols/node.md, "Model files"), on a thread of its own so that
    hashing and reading a large file never hold up the node's actor and
    its heartbeats.

    The owner (the supervisor for its own copy, a worker agent for its
    copy) hands it FILE_OPEN, FILE_READ and FILE_CLOSE as they arrive and
    reads FILE_HASHING, FILE_OPENED, FILE_DATA and FILE_ERROR from its
    socket, to send where the request came from. It serves only regular
    files under its model directories (xinf_model_dirs_resolve: a path
    outside them and a missing file get the same NOT_FOUND words); which
    files a launch names is the supervisor's check, before it asks.

        xinf_transfer_server_t *server = xinf_transfer_server_new ("w1", dirs);
        xinf_ctx_reader (ctx, xinf_transfer_server_sock (server), on_reply, NULL);
        xinf_transfer_server_send (server, &request);
        ... on_reply: xinf_msg_t *reply = xinf_transfer_server_recv (server);

    At most XINF_TRANSFER_SERVER_OPEN files open at once (then BUSY); a
    file not read for XINF_TRANSFER_SERVER_IDLE_MS is closed.
*/
#ifndef XINF_TRANSFER_SERVER_H_INCLUDED
#define XINF_TRANSFER_SERVER_H_INCLUDED

#include "xinf.h"
#include "xinf_model_dirs.h"

#define XINF_TRANSFER_SERVER_OPEN     16
#define XINF_TRANSFER_SERVER_IDLE_MS  120000

typedef struct _xinf_transfer_server_t xinf_transfer_server_t;

//  'dirs' is lent and must outlive the server. NULL when the thread cannot start.
xinf_transfer_server_t *xinf_transfer_server_new (const char *node, xinf_model_dirs_t *dirs);
void xinf_transfer_server_destroy (xinf_transfer_server_t **self_p);
//  The socket its answers come on (for a reader).
zsock_t *xinf_transfer_server_sock (xinf_transfer_server_t *self);
//  Hands it a request (consumed); -1 when it cannot take one now.
int xinf_transfer_server_send (xinf_transfer_server_t *self, xinf_msg_t **msg_p);
//  The next answer, or NULL.
xinf_msg_t *xinf_transfer_server_recv (xinf_transfer_server_t *self);

//  The answer to a request that cannot be served (also the server's own).
xinf_msg_t *xinf_transfer_error (uint64_t transfer, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
