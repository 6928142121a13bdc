/*  xinf_transfer_fetch: the receiving side of a model file transfer, one
    job (a thread) per file that a worker was asked to load and does not
    have (protocols/node.md, "Model files").

    The file lands as NAME (the launch path's last component) in the
    worker's first model directory. It is written to NAME.part, checked
    against the source's SHA-256 of the whole file, and renamed when it
    matches. A NAME.part left by an earlier try is resumed: the source
    sends the digest of as many bytes as the .part has, the job hashes the
    .part, and goes on from its end when they match, else starts over.
    A NAME already there is used when its digest is the source's, and is
    never overwritten when it is not (the launch fails naming it).

    The owner (xinf_hosted) sends up what the job asks to send (FILE_FETCH,
    FILE_READ, FILE_CLOSE), hands it the answers (xinf_fetch_deliver), and
    reads its reports: FETCH_PROGRESS {phase, done, total}, and at the end
    FETCH_DONE {path, sha256} or FETCH_FAILED {error}. A NAME the owner
    knows the digest of (config.known_sha256) is compared without hashing. No word for stall_ms is a
    failure; the job's wait (xinf_waits) shows the bytes as progress.
*/
#ifndef XINF_TRANSFER_FETCH_H_INCLUDED
#define XINF_TRANSFER_FETCH_H_INCLUDED

#include "xinf.h"
#include <sys/stat.h>

typedef struct {
    uint64_t transfer;                 //  the worker's id of this transfer
    const char *uid;                   //  the launch that names the file
    uint64_t generation;
    const char *path;                  //  as the launch names it
    const char *directory;             //  where it lands: the first model directory
    int64_t stall_ms;                  //  no word from the cluster this long: failed
    //  What the owner knows of the file already at NAME (from an earlier
    //  fetch): its digest while it is that file (xinf_stat_same), or NULL
    const char *known_sha256;
    struct stat known;
} xinf_fetch_config_t;

typedef struct _xinf_fetch_t xinf_fetch_t;

xinf_fetch_t *xinf_fetch_new (const xinf_fetch_config_t *config);
//  Stops the job; a .part stays for the next try to resume.
void xinf_fetch_destroy (xinf_fetch_t **self_p);
uint64_t xinf_fetch_transfer (xinf_fetch_t *self);
//  The socket its requests and reports come on (for a reader).
zsock_t *xinf_fetch_sock (xinf_fetch_t *self);
//  The next request or report (call when the socket is readable).
xinf_msg_t *xinf_fetch_recv (xinf_fetch_t *self);
//  An answer from the cluster for this transfer (consumed).
void xinf_fetch_deliver (xinf_fetch_t *self, xinf_msg_t **msg_p);

#endif
