/*  xinf_gateway_keys: the gateway's API keys.

    A key file has one key per line, "KEY ROLE" (role `user`: the inference
    endpoints; `admin`: also management), '#' comments and blank lines. A
    request presents "Authorization: Bearer KEY"; the key is compared with
    every key of the file in constant time (the time does not depend on
    where or whether it matches). Keys are never logged: errors name the
    line, not its content.
*/
#include "xinf_gateway_private.h"
#include <sys/stat.h>

#define XINF_GW_KEY_MAX    512     //  bytes of a key
#define XINF_GW_KEYS_MAX   10000   //  keys in a file

typedef struct {
    char key [XINF_GW_KEY_MAX + 1];
    size_t length;
    xinf_gw_role_t role;
} s_key_t;

struct _xinf_gw_keys_t {
    s_key_t *keys;
    size_t count;
};

//  Parses one line; 0 for a key or nothing (comment, blank), -1 when bad.
static int
s_parse_line (char *line, s_key_t *key, bool *is_key, char *why, size_t why_size)
{
    *is_key = false;
    char *save = NULL;
    char *token = strtok_r (line, " \t\r\n", &save);
    if (!token || *token == '#')
        return 0;
    char *role = strtok_r (NULL, " \t\r\n", &save);
    char *extra = strtok_r (NULL, " \t\r\n", &save);
    if (!role || (extra && *extra != '#')) {
        snprintf (why, why_size, "must be 'KEY ROLE' (role user or admin)");
        return -1;
    }
    if (strlen (token) < 8 || strlen (token) > XINF_GW_KEY_MAX) {
        snprintf (why, why_size, "a key must have 8 to %d bytes", XINF_GW_KEY_MAX);
        return -1;
    }
    for (const char *at = token; *at; at++)
        if (*at < 0x21 || *at > 0x7E) {
            snprintf (why, why_size, "a key must be printable ASCII without spaces");
            return -1;
        }
    if (streq (role, "user"))
        key->role = XINF_GW_ROLE_USER;
    else
    if (streq (role, "admin"))
        key->role = XINF_GW_ROLE_ADMIN;
    else {
        snprintf (why, why_size, "the role must be user or admin");
        return -1;
    }
    key->length = strlen (token);
    memcpy (key->key, token, key->length + 1);
    *is_key = true;
    return 0;
}

xinf_gw_keys_t *
xinf_gw_keys_load (const char *path, char *error, size_t error_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "cannot read the key file %s: %s", path, strerror (errno));
        return NULL;
    }
    struct stat status;
    if (fstat (fileno (file), &status) == 0 && (status.st_mode & 077))
        xinf_warn ("gateway", "the key file %s can be read by others (mode %o): chmod 600 it", path,
                   (unsigned) (status.st_mode & 0777));
    xinf_gw_keys_t *self = calloc (1, sizeof *self);
    assert (self);
    self->keys = calloc (XINF_GW_KEYS_MAX, sizeof *self->keys);
    assert (self->keys);
    char line [2048];
    size_t number = 0;
    int rc = 0;
    while (rc == 0 && fgets (line, sizeof line, file)) {
        number++;
        char why [128];
        bool is_key;
        if (!strchr (line, '\n') && !feof (file)) {
            snprintf (error, error_size, "key file %s line %zu: longer than %zu bytes", path, number, sizeof line - 2);
            rc = -1;
        }
        else
        if (s_parse_line (line, &self->keys [self->count], &is_key, why, sizeof why)) {
            snprintf (error, error_size, "key file %s line %zu: %s", path, number, why);
            rc = -1;
        }
        else
        if (is_key && ++self->count == XINF_GW_KEYS_MAX) {
            snprintf (error, error_size, "key file %s: more than %d keys", path, XINF_GW_KEYS_MAX - 1);
            rc = -1;
        }
    }
    fclose (file);
    if (rc == 0 && self->count == 0) {
        snprintf (error, error_size, "key file %s has no key (lines 'KEY ROLE')", path);
        rc = -1;
    }
    explicit_bzero (line, sizeof line);
    if (rc)
        xinf_gw_keys_destroy (&self);
    return self;
}

void
xinf_gw_keys_destroy (xinf_gw_keys_t **self_p)
{
    if (self_p && *self_p) {
        xinf_gw_keys_t *self = *self_p;
        explicit_bzero (self->keys, XINF_GW_KEYS_MAX * sizeof *self->keys);
        free (self->keys);
        free (self);
        *self_p = NULL;
    }
}

size_t
xinf_gw_keys_count (xinf_gw_keys_t *self)
{
    return self ? self->count : 0;
}

//  1 when equal, 0 otherwise; the time depends only on the stored length.
static int
s_equal (const s_key_t *key, const char *given, size_t given_length)
{
    unsigned char diff = (unsigned char) (key->length != given_length);
    for (size_t index = 0; index < key->length; index++) {
        unsigned char other = index < given_length ? (unsigned char) given [index] : 0;
        diff |= (unsigned char) (key->key [index] ^ other);
    }
    return diff == 0;
}

xinf_gw_role_t
xinf_gw_keys_check (xinf_gw_keys_t *self, const char *authorization)
{
    if (!authorization || strncasecmp (authorization, "Bearer ", 7) != 0)
        return XINF_GW_ROLE_NONE;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t length = strnlen (given, XINF_GW_KEY_MAX + 1);
    xinf_gw_role_t role = XINF_GW_ROLE_NONE;
    for (size_t index = 0; index < self->count; index++) {
        //  Every key is compared: no early exit on a match
        int match = s_equal (&self->keys [index], given, length);
        role = match && role == XINF_GW_ROLE_NONE ? self->keys [index].role : role;
    }
    return role;
}
