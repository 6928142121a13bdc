/*  xinf_transfer: what the two sides of a model file transfer share
    (protocols/node.md, "Model files"): the chunk size and window, SHA-256,
    and the rule for the names a fetched file may land under.

    A worker asked to load a file it does not have fetches it through the
    supervisor, which serves its own copy or relays one of another worker
    (xinf_transfer_server serves, xinf_transfer_fetch receives,
    xinf_transfer_relay routes). Chunks of XINF_TRANSFER_CHUNK bytes, at
    most XINF_TRANSFER_WINDOW of them in flight (credit-based flow control,
    after the ZeroMQ Guide's fileio3); SHA-256 (OpenSSL libcrypto) over
    the whole file, and over the prefix a resumed transfer already has.

        xinf_sha256_t *sum = xinf_sha256_new ();
        xinf_sha256_update (sum, data, size);
        char hex [XINF_SHA256_HEX];
        xinf_sha256_peek (sum, hex);          //  the digest so far; may go on
        xinf_sha256_destroy (&sum);
*/
#ifndef XINF_TRANSFER_H_INCLUDED
#define XINF_TRANSFER_H_INCLUDED

#include "xinf.h"
#include <sys/stat.h>

#define XINF_TRANSFER_CHUNK      (1u << 20)     //  bytes a fetcher asks for at once
#define XINF_TRANSFER_CHUNK_MAX  (4u << 20)     //  the most a server sends in one FILE_DATA
#define XINF_TRANSFER_WINDOW     8              //  FILE_READs in flight per transfer
#define XINF_TRANSFER_NAME_MAX   255            //  bytes in a file name
#define XINF_SHA256_HEX          65             //  64 hex digits and the NUL

typedef struct _xinf_sha256_t xinf_sha256_t;

xinf_sha256_t *xinf_sha256_new (void);
void xinf_sha256_destroy (xinf_sha256_t **self_p);
void xinf_sha256_update (xinf_sha256_t *self, const void *data, size_t size);
//  The digest of what was added so far, as lower-case hex; adding may go on.
void xinf_sha256_peek (xinf_sha256_t *self, char hex [XINF_SHA256_HEX]);
//  Frees what the hashing library keeps for the calling thread. A thread
//  that hashed calls it last: a detached actor thread may otherwise still
//  be unwinding when its process exits, and that state would be lost.
void xinf_sha256_thread_done (void);
//  True when 'text' is 64 lower-case hex digits.
bool xinf_sha256_hex_valid (const char *text);

//  Called every 'step' bytes while a file is hashed; non-zero stops it.
typedef int (xinf_sha256_progress_fn) (uint64_t done, uint64_t total, void *arg);

//  Hashes the first 'size' bytes of the open file 'fd' into 'sum' (read
//  from offset 0, in one pass); with prefix > 0 and <= size, 'prefix_hex'
//  gets the digest of the first 'prefix' bytes on the way. 0, or -1 with
//  the reason (a read error, a file shorter than 'size', stopped).
int xinf_sha256_file (int fd, uint64_t size, xinf_sha256_t *sum, uint64_t prefix, char prefix_hex [XINF_SHA256_HEX],
                      xinf_sha256_progress_fn *progress, void *arg, char *error, size_t error_size);

//  Digests remembered by file: valid while the file is the same (device,
//  inode, size, modification time), the oldest forgotten first. Not
//  thread-safe: one per thread.
typedef struct _xinf_sums_t xinf_sums_t;

xinf_sums_t *xinf_sums_new (size_t capacity);
void xinf_sums_destroy (xinf_sums_t **self_p);
//  The digest of the file 'info' describes, or NULL.
const char *xinf_sums_find (xinf_sums_t *self, const struct stat *info);
void xinf_sums_remember (xinf_sums_t *self, const struct stat *info, const char *hex);
//  The same file: device, inode, size and modification time.
bool xinf_stat_same (const struct stat *one, const struct stat *other);

//  A copy of a FILE_* message (body and binary frames), to pass on: a
//  handler does not own the message it is given.
xinf_msg_t *xinf_transfer_copy (xinf_msg_t *msg);

//  The last component of 'path' (after the last '/'), or "" when it ends in '/'.
const char *xinf_transfer_basename (const char *path);
//  A name a fetched file may land under in a model directory: 1-255
//  bytes, no '/', no control character, not "." or "..", not hidden
//  (leading '.'), not ending in ".part" (the transfer's own files).
bool xinf_transfer_name_valid (const char *name);

#endif
