/*  xinf_auth: CurveZMQ keys, the keyring, the ZAP handler, the handshake
    monitor (see xinf_auth.h).  */
#include "xinf_auth.h"
#include "xinf_log.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define CERT_FILE_MAX  65536

typedef struct {
    char key [XINF_KEY_TEXT_SIZE];
    char name [XINF_KEY_NAME_MAX + 1];
    xinf_role_t role;
} s_entry_t;

struct _xinf_keyring_t {
    zhashx_t *entries;         //  Z85 key -> s_entry_t
};

struct _xinf_auth_monitor_t {
    zsock_t *pair;
    void *watched;
    char endpoint [64];
};

static zactor_t *s_zap;        //  the process's ZAP handler, at most one
static zcert_t *s_identity;    //  our key pair for data sockets (not owned)
static zhashx_t *s_vouched;    //  endpoint -> Z85 key, under s_vouched_lock
static pthread_mutex_t s_vouched_lock = PTHREAD_MUTEX_INITIALIZER;

bool
xinf_auth_name_valid (const char *name)
{
    size_t length = name ? strlen (name) : 0;
    if (length < 1 || length > XINF_KEY_NAME_MAX)
        return false;
    for (size_t index = 0; index < length; index++)
        if (!isalnum ((unsigned char) name [index]) && !strchr (".-_", name [index]))
            return false;
    return true;
}

//  A Z85 key text: 40 characters that decode.
static bool
s_key_text_valid (const char *text, byte *binary)
{
    byte scratch [32];
    return text && strlen (text) == 40 && zmq_z85_decode (binary ? binary : scratch, text) != NULL;
}

//  Reads a certificate file after checking it is a small regular file.
static zconfig_t *
s_load_config (const char *path, bool secret, char *reason, size_t reason_size)
{
    struct stat info;
    if (stat (path, &info)) {
        snprintf (reason, reason_size, "%s: %s", path, strerror (errno));
        return NULL;
    }
    if (!S_ISREG (info.st_mode) || info.st_size > CERT_FILE_MAX) {
        snprintf (reason, reason_size, "%s: not a certificate file (a regular file of at most %d bytes)", path, CERT_FILE_MAX);
        return NULL;
    }
    if (secret && (info.st_mode & 077)) {
        snprintf (reason, reason_size, "%s holds a secret key but others may read it (mode %04o): chmod 600 %s",
                  path, (unsigned) (info.st_mode & 0777), path);
        return NULL;
    }
    //  Read here and parsed from memory: zconfig_load leaks on bad syntax
    char *text = calloc (1, (size_t) info.st_size + 1);
    assert (text);
    FILE *file = fopen (path, "rb");
    size_t length = file ? fread (text, 1, (size_t) info.st_size, file) : 0;
    if (file)
        fclose (file);
    zconfig_t *root = file && length == (size_t) info.st_size && strlen (text) == length ? zconfig_str_load (text) : NULL;
    free (text);
    if (!root)
        snprintf (reason, reason_size, "%s: not a certificate (written by xinf-cli keygen?)", path);
    return root;
}

static const char *
s_get (zconfig_t *root, const char *path)
{
    char *value = zconfig_get (root, path, NULL);
    return value && *value ? value : NULL;
}

zcert_t *
xinf_auth_load_secret (const char *path, char *reason, size_t reason_size)
{
    char file [1024];
    size_t length = strlen (path);
    if (length >= 7 && streq (path + length - 7, "_secret"))
        snprintf (file, sizeof file, "%s", path);
    else
        snprintf (file, sizeof file, "%s_secret", path);
    zconfig_t *root = s_load_config (file, true, reason, reason_size);
    if (!root)
        return NULL;
    const char *public_text = s_get (root, "/curve/public-key");
    const char *secret_text = s_get (root, "/curve/secret-key");
    byte public_key [32], secret_key [32];
    char derived [XINF_KEY_TEXT_SIZE];
    zcert_t *cert = NULL;
    if (!s_key_text_valid (secret_text, secret_key))
        snprintf (reason, reason_size, "%s: no valid curve secret-key (40 Z85 characters)", file);
    else
    if (!s_key_text_valid (public_text, public_key))
        snprintf (reason, reason_size, "%s: no valid curve public-key (40 Z85 characters)", file);
    else
    if (zmq_curve_public (derived, secret_text) || strcmp (derived, public_text))
        snprintf (reason, reason_size, "%s: the public key does not belong to the secret key", file);
    else {
        cert = zcert_new_from (public_key, secret_key);
        const char *name = s_get (root, "/metadata/name");
        const char *role = s_get (root, "/metadata/role");
        if (name && xinf_auth_name_valid (name))
            zcert_set_meta (cert, "name", "%s", name);
        if (role && xinf_role_parse (role) != XINF_ROLE_NONE)
            zcert_set_meta (cert, "role", "%s", role);
    }
    zconfig_destroy (&root);
    return cert;
}

//  Reads a public certificate into 'entry'; with 'need_role' the role
//  metadata must name a role.
static int
s_load_public (const char *path, s_entry_t *entry, bool need_role, char *reason, size_t reason_size)
{
    zconfig_t *root = s_load_config (path, false, reason, reason_size);
    if (!root)
        return -1;
    const char *public_text = s_get (root, "/curve/public-key");
    const char *name = s_get (root, "/metadata/name");
    const char *role = s_get (root, "/metadata/role");
    int rc = -1;
    if (!s_key_text_valid (public_text, NULL))
        snprintf (reason, reason_size, "%s: no valid curve public-key (40 Z85 characters)", path);
    else
    if (need_role && !role)
        snprintf (reason, reason_size, "%s: metadata 'role' is missing (worker, user, admin or supervisor): make keys with xinf-cli keygen NAME --role ROLE", path);
    else
    if (need_role && xinf_role_parse (role) == XINF_ROLE_NONE)
        snprintf (reason, reason_size, "%s: metadata role '%.32s' is not worker, user, admin or supervisor", path, role);
    else
    if (name && !xinf_auth_name_valid (name))
        snprintf (reason, reason_size, "%s: metadata name must be 1-%d letters, digits, '.', '-', '_'", path, XINF_KEY_NAME_MAX);
    else {
        snprintf (entry->key, sizeof entry->key, "%s", public_text);
        snprintf (entry->name, sizeof entry->name, "%s", name ? name : "");
        entry->role = xinf_role_parse (role);
        rc = 0;
    }
    zconfig_destroy (&root);
    return rc;
}

int
xinf_auth_load_public (const char *path, char *key, char *reason, size_t reason_size)
{
    s_entry_t entry;
    if (s_load_public (path, &entry, false, reason, reason_size))
        return -1;
    memcpy (key, entry.key, XINF_KEY_TEXT_SIZE);
    return 0;
}

int
xinf_auth_keygen (const char *dir, const char *name, xinf_role_t role,
                  char *path, size_t path_size, char *reason, size_t reason_size)
{
    if (!xinf_auth_name_valid (name)) {
        snprintf (reason, reason_size, "key name '%s' must be 1-%d letters, digits, '.', '-', '_'", name, XINF_KEY_NAME_MAX);
        return -1;
    }
    char public_path [1024], secret_path [1100];
    snprintf (public_path, sizeof public_path, "%s/%s.key", dir, name);
    snprintf (secret_path, sizeof secret_path, "%s_secret", public_path);
    if (access (public_path, F_OK) == 0 || access (secret_path, F_OK) == 0) {
        snprintf (reason, reason_size, "%s or its _secret exists already: remove both or choose another name", public_path);
        return -1;
    }
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "role", "%s", xinf_role_name (role));
    mode_t mask = umask (077);          //  the secret is never readable by others, not even briefly
    int rc = zcert_save_secret (cert, secret_path);
    umask (mask);
    if (rc == 0)
        rc = chmod (secret_path, 0600);
    if (rc == 0)
        rc = zcert_save_public (cert, public_path);
    zcert_destroy (&cert);
    if (rc) {
        snprintf (reason, reason_size, "cannot write %s: %s", public_path, strerror (errno));
        return -1;
    }
    snprintf (path, path_size, "%s", public_path);
    return 0;
}

// ---- keyring ----------------------------------------------------------------

static bool
s_ends_with (const char *text, const char *tail)
{
    size_t length = strlen (text), tail_length = strlen (tail);
    return length >= tail_length && streq (text + length - tail_length, tail);
}

static int
s_keyring_add (xinf_keyring_t *self, const char *path, char *reason, size_t reason_size)
{
    s_entry_t *entry = calloc (1, sizeof *entry);
    assert (entry);
    if (s_load_public (path, entry, true, reason, reason_size)) {
        free (entry);
        return -1;
    }
    if (zhashx_lookup (self->entries, entry->key)) {
        snprintf (reason, reason_size, "%s: the same public key as another file in the directory", path);
        free (entry);
        return -1;
    }
    zhashx_insert (self->entries, entry->key, entry);
    return 0;
}

xinf_keyring_t *
xinf_keyring_load (const char *dir, char *reason, size_t reason_size)
{
    DIR *handle = opendir (dir);
    if (!handle) {
        snprintf (reason, reason_size, "cannot read the key directory %s: %s", dir, strerror (errno));
        return NULL;
    }
    xinf_keyring_t *self = xinf_keyring_new ();
    int rc = 0;
    struct dirent *item;
    while (rc == 0 && (item = readdir (handle))) {
        char path [1024];
        snprintf (path, sizeof path, "%s/%s", dir, item->d_name);
        if (s_ends_with (item->d_name, ".key_secret"))
            xinf_warn ("auth", "%s is a secret key: a server's key directory holds public certificates only (skipped)", path);
        else
        if (s_ends_with (item->d_name, ".key") && zhashx_size (self->entries) >= XINF_KEYRING_MAX) {
            snprintf (reason, reason_size, "%s: more than %d keys", dir, XINF_KEYRING_MAX);
            rc = -1;
        }
        else
        if (s_ends_with (item->d_name, ".key"))
            rc = s_keyring_add (self, path, reason, reason_size);
    }
    closedir (handle);
    if (rc == 0 && zhashx_size (self->entries) == 0) {
        snprintf (reason, reason_size, "no public certificates (*.key) in %s: make some with xinf-cli keygen", dir);
        rc = -1;
    }
    if (rc)
        xinf_keyring_destroy (&self);
    return self;
}

xinf_keyring_t *
xinf_keyring_new (void)
{
    xinf_keyring_t *self = calloc (1, sizeof *self);
    assert (self);
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, (zhashx_destructor_fn *) zstr_free);
    return self;
}

int
xinf_keyring_add (xinf_keyring_t *self, const char *key, xinf_role_t role, const char *name)
{
    if (!s_key_text_valid (key, NULL) || role == XINF_ROLE_NONE || !xinf_auth_name_valid (name)
    ||  zhashx_lookup (self->entries, key) || zhashx_size (self->entries) >= XINF_KEYRING_MAX)
        return -1;
    s_entry_t *entry = calloc (1, sizeof *entry);
    assert (entry);
    snprintf (entry->key, sizeof entry->key, "%s", key);
    snprintf (entry->name, sizeof entry->name, "%s", name);
    entry->role = role;
    zhashx_insert (self->entries, entry->key, entry);
    return 0;
}

void
xinf_keyring_destroy (xinf_keyring_t **self_p)
{
    if (self_p && *self_p) {
        zhashx_destroy (&(*self_p)->entries);
        free (*self_p);
        *self_p = NULL;
    }
}

size_t xinf_keyring_size (const xinf_keyring_t *self) { return zhashx_size (self->entries); }

xinf_role_t
xinf_keyring_role (const xinf_keyring_t *self, const char *key)
{
    s_entry_t *entry = key ? (s_entry_t *) zhashx_lookup (self->entries, key) : NULL;
    return entry ? entry->role : XINF_ROLE_NONE;
}

const char *
xinf_keyring_name (const xinf_keyring_t *self, const char *key)
{
    s_entry_t *entry = key ? (s_entry_t *) zhashx_lookup (self->entries, key) : NULL;
    return entry ? entry->name : NULL;
}

// ---- ZAP --------------------------------------------------------------------

int
xinf_auth_zap_start (const xinf_keyring_t *keyring, xinf_role_t only)
{
    if (s_zap)
        return -1;
    //  zauth owns the store; each certificate carries what ZAP hands to
    //  libzmq as the connection's metadata
    zcertstore_t *store = zcertstore_new (NULL);
    byte no_secret [32] = { 0 };
    for (s_entry_t *entry = (s_entry_t *) zhashx_first (keyring->entries); entry;
         entry = (s_entry_t *) zhashx_next (keyring->entries)) {
        if (only != XINF_ROLE_NONE && entry->role != only)
            continue;
        byte public_key [32];
        zmq_z85_decode (public_key, entry->key);
        zcert_t *cert = zcert_new_from (public_key, no_secret);
        zcert_set_meta (cert, "role", "%s", xinf_role_name (entry->role));
        zcert_set_meta (cert, "name", "%s", entry->name);
        zcert_set_meta (cert, "key", "%s", entry->key);
        zcertstore_insert (store, &cert);
    }
    s_zap = zactor_new (zauth, store);
    return s_zap ? 0 : -1;
}

void
xinf_auth_zap_stop (void)
{
    zactor_destroy (&s_zap);
}

// ---- a worker's data sockets ------------------------------------------------

void xinf_auth_set_identity (zcert_t *cert) { s_identity = cert; }
zcert_t *xinf_auth_identity (void) { return s_identity; }

int
xinf_auth_vouch (const char *endpoint, const char *key)
{
    if (!endpoint || !s_key_text_valid (key, NULL))
        return -1;
    pthread_mutex_lock (&s_vouched_lock);
    if (!s_vouched) {
        s_vouched = zhashx_new ();
        zhashx_set_destructor (s_vouched, (zhashx_destructor_fn *) zstr_free);
        zhashx_set_duplicator (s_vouched, (zhashx_duplicator_fn *) strdup);
    }
    if (zhashx_size (s_vouched) >= XINF_KEYRING_MAX)
        zhashx_purge (s_vouched);          //  bounded: the next GROUP vouches again
    zhashx_update (s_vouched, endpoint, (void *) key);
    pthread_mutex_unlock (&s_vouched_lock);
    return 0;
}

int
xinf_auth_vouched (const char *endpoint, char *key)
{
    pthread_mutex_lock (&s_vouched_lock);
    const char *found = s_vouched && endpoint ? (const char *) zhashx_lookup (s_vouched, endpoint) : NULL;
    if (found)
        memcpy (key, found, XINF_KEY_TEXT_SIZE);
    pthread_mutex_unlock (&s_vouched_lock);
    return found ? 0 : -1;
}

int
xinf_auth_secure_data (void *socket, const char *endpoint, char *reason, size_t reason_size)
{
    if (!s_identity)
        return 0;
    int on = 1;
    if (!endpoint) {
        zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &on, sizeof on);
        zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, zcert_secret_key (s_identity), 32);
        zmq_setsockopt (socket, ZMQ_ZAP_DOMAIN, XINF_ZAP_DOMAIN, strlen (XINF_ZAP_DOMAIN));
        return 0;
    }
    char key [XINF_KEY_TEXT_SIZE];
    if (xinf_auth_vouched (endpoint, key)) {
        snprintf (reason, reason_size, "the supervisor vouched for no key at %s: not dialed", endpoint);
        return -1;
    }
    zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, key, 40);
    zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, zcert_public_key (s_identity), 32);
    zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, zcert_secret_key (s_identity), 32);
    return 0;
}

// ---- sockets ----------------------------------------------------------------

void
xinf_auth_curve_server (zsock_t *sock, zcert_t *cert)
{
    zcert_apply (cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, XINF_ZAP_DOMAIN);
}

void
xinf_auth_curve_client (zsock_t *sock, zcert_t *cert, const char *server_key)
{
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, server_key);
}

// ---- handshake monitor ------------------------------------------------------

xinf_auth_monitor_t *
xinf_auth_monitor_new (zsock_t *sock)
{
    xinf_auth_monitor_t *self = calloc (1, sizeof *self);
    assert (self);
    self->watched = zsock_resolve (sock);
    snprintf (self->endpoint, sizeof self->endpoint, "inproc://xinf-handshakes-%p", (void *) self);
    int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
               | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor (self->watched, self->endpoint, events)) {
        free (self);
        return NULL;
    }
    self->pair = zsock_new_pair (NULL);
    assert (self->pair);
    zsock_connect (self->pair, "%s", self->endpoint);
    return self;
}

void
xinf_auth_monitor_destroy (xinf_auth_monitor_t **self_p)
{
    if (self_p && *self_p) {
        xinf_auth_monitor_t *self = *self_p;
        zsock_destroy (&self->pair);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *xinf_auth_monitor_sock (xinf_auth_monitor_t *self) { return self->pair; }

static xinf_handshake_t
s_outcome (uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        return XINF_HANDSHAKE_OK;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return XINF_HANDSHAKE_REFUSED;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return XINF_HANDSHAKE_MISMATCH;
    return XINF_HANDSHAKE_FAILED;
}

xinf_handshake_t
xinf_auth_monitor_poll (xinf_auth_monitor_t *self, int *value, char *endpoint, size_t endpoint_size)
{
    xinf_handshake_t outcome = XINF_HANDSHAKE_NONE;
    zmsg_t *event = NULL;
    //  Events that are not ours (none are subscribed) are skipped
    while (outcome == XINF_HANDSHAKE_NONE && (zsock_events (self->pair) & ZMQ_POLLIN)
           && (event = zmsg_recv (self->pair))) {
        zframe_t *head = zmsg_first (event);
        zframe_t *address = zmsg_next (event);
        if (head && zframe_size (head) == 6) {
            const byte *data = zframe_data (head);
            uint16_t kind;             //  both in host byte order
            uint32_t detail;
            memcpy (&kind, data, 2);
            memcpy (&detail, data + 2, 4);
            outcome = s_outcome (kind, detail);
            if (value)
                *value = (int) detail;
            if (endpoint && address)
                snprintf (endpoint, endpoint_size, "%.*s", (int) zframe_size (address), (char *) zframe_data (address));
        }
        zmsg_destroy (&event);
    }
    return outcome;
}

const char *
xinf_handshake_words (xinf_handshake_t outcome)
{
    return outcome == XINF_HANDSHAKE_OK ? "the handshake succeeded"
         : outcome == XINF_HANDSHAKE_REFUSED ? "the key was refused (not among the server's keys)"
         : outcome == XINF_HANDSHAKE_MISMATCH ? "one side uses CURVE keys and the other not"
         : outcome == XINF_HANDSHAKE_FAILED ? "the security handshake failed (a wrong server key?)"
         : "no handshake seen";
}
