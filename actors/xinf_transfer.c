/*  xinf_transfer: SHA-256 and the names a fetched model file may take.  */
#include "xinf_transfer.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_READ_SIZE  (1u << 20)

struct _xinf_sha256_t {
    EVP_MD_CTX *context;
};

xinf_sha256_t *
xinf_sha256_new (void)
{
    xinf_sha256_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->context = EVP_MD_CTX_new ();
    if (!self->context || EVP_DigestInit_ex (self->context, EVP_sha256 (), NULL) != 1) {
        EVP_MD_CTX_free (self->context);
        free (self);
        return NULL;
    }
    return self;
}

void
xinf_sha256_destroy (xinf_sha256_t **self_p)
{
    if (self_p && *self_p) {
        EVP_MD_CTX_free ((*self_p)->context);
        free (*self_p);
        *self_p = NULL;
    }
}

void
xinf_sha256_update (xinf_sha256_t *self, const void *data, size_t size)
{
    if (size)
        EVP_DigestUpdate (self->context, data, size);
}

void
xinf_sha256_peek (xinf_sha256_t *self, char hex [XINF_SHA256_HEX])
{
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new ();
    hex [0] = 0;
    if (copy && EVP_MD_CTX_copy_ex (copy, self->context) == 1 && EVP_DigestFinal_ex (copy, digest, &length) == 1)
        for (unsigned int index = 0; index < length && index < 32; index++)
            snprintf (hex + 2 * index, 3, "%02x", digest [index]);
    EVP_MD_CTX_free (copy);
}

void
xinf_sha256_thread_done (void)
{
    OPENSSL_thread_stop ();
}

bool
xinf_sha256_hex_valid (const char *text)
{
    if (!text || strlen (text) != 64)
        return false;
    for (size_t index = 0; index < 64; index++)
        if (!((text [index] >= '0' && text [index] <= '9') || (text [index] >= 'a' && text [index] <= 'f')))
            return false;
    return true;
}

int
xinf_sha256_file (int fd, uint64_t size, xinf_sha256_t *sum, uint64_t prefix, char prefix_hex [XINF_SHA256_HEX],
                  xinf_sha256_progress_fn *progress, void *arg, char *error, size_t error_size)
{
    unsigned char *buffer = malloc (S_READ_SIZE);
    if (!buffer) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    uint64_t done = 0;
    int rc = 0;
    while (done < size && rc == 0) {
        //  Stop at the prefix so that its digest can be taken on the way
        uint64_t goal = prefix > done && prefix <= size ? prefix : size;
        size_t want = goal - done < S_READ_SIZE ? (size_t) (goal - done) : S_READ_SIZE;
        ssize_t got = pread (fd, buffer, want, (off_t) done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            snprintf (error, error_size, got < 0 ? "read error at byte %llu: %s" : "the file ends at byte %llu%s",
                      (unsigned long long) done, got < 0 ? strerror (errno) : ", shorter than it was");
            rc = -1;
            break;
        }
        xinf_sha256_update (sum, buffer, (size_t) got);
        done += (uint64_t) got;
        if (prefix_hex && prefix && done == prefix)
            xinf_sha256_peek (sum, prefix_hex);
        if (progress && progress (done, size, arg)) {
            snprintf (error, error_size, "stopped");
            rc = -1;
        }
    }
    free (buffer);
    return rc;
}

typedef struct {
    struct stat info;
    char hex [XINF_SHA256_HEX];
} s_sum_t;

struct _xinf_sums_t {
    s_sum_t *sums;
    size_t capacity, next;
};

xinf_sums_t *
xinf_sums_new (size_t capacity)
{
    xinf_sums_t *self = calloc (1, sizeof *self);
    if (self && !(self->sums = calloc (capacity ? capacity : 1, sizeof (s_sum_t)))) {
        free (self);
        return NULL;
    }
    if (self)
        self->capacity = capacity ? capacity : 1;
    return self;
}

void
xinf_sums_destroy (xinf_sums_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->sums);
        free (*self_p);
        *self_p = NULL;
    }
}

bool
xinf_stat_same (const struct stat *one, const struct stat *other)
{
    return one->st_dev == other->st_dev && one->st_ino == other->st_ino && one->st_size == other->st_size
        && one->st_mtim.tv_sec == other->st_mtim.tv_sec && one->st_mtim.tv_nsec == other->st_mtim.tv_nsec;
}

const char *
xinf_sums_find (xinf_sums_t *self, const struct stat *info)
{
    for (size_t index = 0; index < self->capacity; index++)
        if (*self->sums [index].hex && xinf_stat_same (&self->sums [index].info, info))
            return self->sums [index].hex;
    return NULL;
}

void
xinf_sums_remember (xinf_sums_t *self, const struct stat *info, const char *hex)
{
    s_sum_t *sum = NULL;
    for (size_t index = 0; index < self->capacity && !sum; index++)
        if (xinf_stat_same (&self->sums [index].info, info))
            sum = &self->sums [index];        //  the same file again: replaced in place
    if (!sum)
        sum = &self->sums [self->next++ % self->capacity];
    sum->info = *info;
    snprintf (sum->hex, sizeof sum->hex, "%s", hex);
}

xinf_msg_t *
xinf_transfer_copy (xinf_msg_t *msg)
{
    xinf_msg_t *copy = xinf_msg_new (xinf_msg_type (msg));
    xinf_value_t *body = xinf_msg_body (msg);
    for (size_t index = 0; index < xinf_value_count (body); index++)
        xinf_map_put (xinf_msg_body (copy), xinf_map_key_at (body, index),
                      xinf_value_dup (xinf_map_value_at (body, index)));
    for (size_t index = 0; index < xinf_msg_frame_count (msg); index++) {
        zframe_t *frame = zframe_dup (xinf_msg_frame (msg, index));
        xinf_msg_add_frame (copy, &frame);
    }
    return copy;
}

const char *
xinf_transfer_basename (const char *path)
{
    const char *slash = strrchr (path, '/');
    return slash ? slash + 1 : path;
}

bool
xinf_transfer_name_valid (const char *name)
{
    size_t length = name ? strlen (name) : 0;
    if (length < 1 || length > XINF_TRANSFER_NAME_MAX || name [0] == '.')
        return false;
    if (length >= 5 && strcmp (name + length - 5, ".part") == 0)
        return false;
    for (size_t index = 0; index < length; index++)
        if (name [index] == '/' || (unsigned char) name [index] < 0x20 || name [index] == 0x7f)
            return false;
    return true;
}
