/*  xinf_auth: CurveZMQ keys for xinf nodes and clients
    (protocols/security.md).

    A key is a CZMQ certificate pair written by `xinf-cli keygen NAME`:
    NAME.key, the public certificate, with metadata `name` and `role`
    (worker, user, admin or supervisor, see xinf_roles.h), and NAME.key_secret, the
    same plus the secret key, mode 0600.

    A server (the supervisor) loads the public certificates it accepts into
    a keyring and starts the process's ZAP handler (CZMQ's zauth) with them:
    a CURVE handshake with any other key is refused. zauth hands the
    accepted certificate's metadata to libzmq, which attaches it to every
    message from that connection: the ROUTER reads `role`, `name` and `key`
    per message (zmq_msg_gets) and the supervisor checks the role before it
    dispatches. (zauth sets no ZAP User-Id; the metadata is set by the ZAP
    handler only, so a peer cannot choose it.)

    A handshake monitor watches a socket's security handshakes, so that a
    refused key is reported as what it is, never as a timeout.
*/
#ifndef XINF_AUTH_H_INCLUDED
#define XINF_AUTH_H_INCLUDED

#include <czmq.h>
#include "xinf_roles.h"

#define XINF_KEY_NAME_MAX   64
#define XINF_KEY_TEXT_SIZE  41          //  Z85 text of a 32-byte key, with the NUL
#define XINF_ZAP_DOMAIN     "xinf"
#define XINF_KEYRING_MAX    10000

//  Checks a key name: 1-64 bytes of letters, digits, '.', '-', '_'.
bool xinf_auth_name_valid (const char *name);

//  Writes DIR/NAME.key and DIR/NAME.key_secret (0600) for a new key pair
//  with metadata name and role. Refuses to overwrite either file. 0 on
//  success with the public file's path in 'path'; -1 with the reason.
int xinf_auth_keygen (const char *dir, const char *name, xinf_role_t role,
                      char *path, size_t path_size, char *reason, size_t reason_size);

//  Loads our own key pair: PATH_secret when PATH names the public file,
//  else PATH. Refuses a file others may read (mode & 077), a file that is
//  not a certificate, a missing or malformed secret key, and a secret key
//  whose public key is not the one written beside it. NULL with the reason.
zcert_t *xinf_auth_load_secret (const char *path, char *reason, size_t reason_size);

//  Loads a public certificate (e.g. the supervisor's, for --server-key):
//  its key's Z85 text into 'key' (XINF_KEY_TEXT_SIZE bytes). 0 or -1 with
//  the reason.
int xinf_auth_load_public (const char *path, char *key, char *reason, size_t reason_size);

// ---- the keys a server accepts --------------------------------------------
typedef struct _xinf_keyring_t xinf_keyring_t;

//  Loads every DIR/*.key (public certificates; *_secret files are skipped
//  with a warning). Every file must be a valid certificate whose `role` is
//  worker, user, admin or supervisor; a bad file, a duplicate key or an empty
//  directory fails the load: NULL with the reason, naming the file.
xinf_keyring_t *xinf_keyring_load (const char *dir, char *reason, size_t reason_size);
void xinf_keyring_destroy (xinf_keyring_t **self_p);
//  An empty keyring, filled by hand (benchmarks, tests): add a key (Z85)
//  with its role and name; -1 for a bad key, role or name, or a duplicate.
xinf_keyring_t *xinf_keyring_new (void);
int xinf_keyring_add (xinf_keyring_t *self, const char *key, xinf_role_t role, const char *name);
size_t xinf_keyring_size (const xinf_keyring_t *self);
//  The role of a key (Z85 text); XINF_ROLE_NONE when it is not in the ring.
xinf_role_t xinf_keyring_role (const xinf_keyring_t *self, const char *key);
//  The key's certificate name; NULL when it is not in the ring.
const char *xinf_keyring_name (const xinf_keyring_t *self, const char *key);

//  Starts this process's ZAP handler (zauth) accepting exactly the ring's
//  keys (only those of role 'only' unless it is XINF_ROLE_NONE), each with
//  metadata role, name and key. One per process: -1 if one runs already.
//  Stop it only after every CURVE server socket closed.
int xinf_auth_zap_start (const xinf_keyring_t *keyring, xinf_role_t only);
void xinf_auth_zap_stop (void);

// ---- a worker's data sockets ------------------------------------------------
//  This process's own key pair, for the sockets that workers open to each
//  other (probe listeners, collectives): set once at start, before any of
//  them exists (not owned). NULL: those sockets stay plain.
void xinf_auth_set_identity (zcert_t *cert);
zcert_t *xinf_auth_identity (void);

//  The supervisor vouches that the listener at 'endpoint' holds 'key'
//  (PROBE_MESH targets, GROUP keys, from the authenticated supervisor
//  connection only). Thread-safe. -1 if the key is not 40 Z85 characters.
int xinf_auth_vouch (const char *endpoint, const char *key);
//  The key vouched for 'endpoint' into 'key' (XINF_KEY_TEXT_SIZE); -1 if none.
int xinf_auth_vouched (const char *endpoint, char *key);

//  Secures a data socket by this process's identity, if it has one:
//  'endpoint' NULL makes 'socket' (a libzmq socket) a CURVE server, else a
//  CURVE client that accepts only the key vouched for 'endpoint'. 0 when
//  done (or nothing to do); -1 with the reason when no key was vouched.
int xinf_auth_secure_data (void *socket, const char *endpoint, char *reason, size_t reason_size);

// ---- sockets ----------------------------------------------------------------
//  Makes 'sock' a CURVE server with our key pair; ZAP domain "xinf". Call
//  before bind.
void xinf_auth_curve_server (zsock_t *sock, zcert_t *cert);
//  Makes 'sock' a CURVE client with our key pair that accepts only the
//  server key 'server_key' (Z85). Call before connect.
void xinf_auth_curve_client (zsock_t *sock, zcert_t *cert, const char *server_key);

// ---- handshake monitor ------------------------------------------------------
typedef enum {
    XINF_HANDSHAKE_NONE = 0,      //  nothing seen yet
    XINF_HANDSHAKE_OK,            //  a handshake succeeded
    XINF_HANDSHAKE_REFUSED,       //  the server's ZAP handler refused the key (status in 'value')
    XINF_HANDSHAKE_MISMATCH,      //  one side wants CURVE, the other not (or another mechanism)
    XINF_HANDSHAKE_FAILED         //  any other failed handshake (e.g. a wrong server key)
} xinf_handshake_t;

typedef struct _xinf_auth_monitor_t xinf_auth_monitor_t;

//  Watches the security handshakes of 'sock' (create before connect/bind).
xinf_auth_monitor_t *xinf_auth_monitor_new (zsock_t *sock);
void xinf_auth_monitor_destroy (xinf_auth_monitor_t **self_p);
//  Readable when an event is queued (for a poller or a zloop reader).
zsock_t *xinf_auth_monitor_sock (xinf_auth_monitor_t *self);
//  Reads one queued event without waiting: its outcome with the event's
//  value (a ZAP status code or libzmq's protocol error) and endpoint;
//  XINF_HANDSHAKE_NONE when none is queued. Call until NONE.
xinf_handshake_t xinf_auth_monitor_poll (xinf_auth_monitor_t *self, int *value, char *endpoint, size_t endpoint_size);
//  Words for an outcome: "the key was refused", ...
const char *xinf_handshake_words (xinf_handshake_t outcome);

#endif
