/*  test_auth: the role table, key files (keygen, loading, bad files, wrong
    permissions, missing roles), the keyring, and CURVE through a real
    ROUTER/DEALER pair on 127.0.0.1: a listed key gets in with its role as
    metadata, an unlisted key and a keyless client are told so at once.  */
#include "test_unit.h"
#include <sys/stat.h>
#include <unistd.h>

static char s_dir [256];

static void
s_write (const char *name, const char *text, mode_t mode)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    CHECK (file);
    fputs (text, file);
    fclose (file);
    CHECK (chmod (path, mode) == 0);
}

static void
test_roles (void)
{
    CHECK (xinf_role_allows (XINF_ROLE_WORKER, "HELLO"));
    CHECK (xinf_role_allows (XINF_ROLE_WORKER, "RUN_TOKEN"));
    CHECK (xinf_role_allows (XINF_ROLE_WORKER, "PROBE_RESULT"));
    CHECK (xinf_role_allows (XINF_ROLE_WORKER, "TOKENIZE_RESULT"));
    CHECK (xinf_role_allows (XINF_ROLE_WORKER, "MODEL_LOAD"));
    CHECK (!xinf_role_allows (XINF_ROLE_USER, "MODEL_LOAD"));
    CHECK (!xinf_role_allows (XINF_ROLE_WORKER, "GENERATE"));
    CHECK (!xinf_role_allows (XINF_ROLE_WORKER, "CLUSTER_INFO"));
    CHECK (!xinf_role_allows (XINF_ROLE_WORKER, "LAUNCH"));
    CHECK (xinf_role_allows (XINF_ROLE_USER, "GENERATE"));
    CHECK (xinf_role_allows (XINF_ROLE_USER, "EVENTS"));
    CHECK (xinf_role_allows (XINF_ROLE_USER, "PING"));
    CHECK (!xinf_role_allows (XINF_ROLE_USER, "LAUNCH"));
    CHECK (!xinf_role_allows (XINF_ROLE_USER, "TERMINATE"));
    CHECK (!xinf_role_allows (XINF_ROLE_USER, "DOCTOR"));
    CHECK (!xinf_role_allows (XINF_ROLE_USER, "HELLO"));
    CHECK (!xinf_role_allows (XINF_ROLE_USER, "RUN_DONE"));
    CHECK (xinf_role_allows (XINF_ROLE_ADMIN, "LAUNCH"));
    CHECK (xinf_role_allows (XINF_ROLE_ADMIN, "DOCTOR"));
    CHECK (xinf_role_allows (XINF_ROLE_ADMIN, "GENERATE"));
    CHECK (!xinf_role_allows (XINF_ROLE_ADMIN, "HELLO"));       //  an admin is no worker
    CHECK (!xinf_role_allows (XINF_ROLE_ADMIN, "NEW_THING"));   //  unlisted: nobody
    CHECK (!xinf_role_allows (XINF_ROLE_NONE, "PING"));
    CHECK (!xinf_role_allows (XINF_ROLE_ADMIN, NULL));
    CHECK (xinf_role_allows (XINF_ROLE_SUPERVISOR, "HA_STATE"));   //  a standby pair's link only
    CHECK (!xinf_role_allows (XINF_ROLE_ADMIN, "HA_STATE"));
    CHECK (!xinf_role_allows (XINF_ROLE_SUPERVISOR, "GENERATE"));
    CHECK (!xinf_role_allows (XINF_ROLE_SUPERVISOR, "HELLO"));
    CHECK_INT (xinf_role_parse ("supervisor"), XINF_ROLE_SUPERVISOR);
    CHECK_STR (xinf_role_name (XINF_ROLE_SUPERVISOR), "supervisor");
    CHECK_INT (xinf_role_parse ("admin"), XINF_ROLE_ADMIN);
    CHECK_INT (xinf_role_parse ("Admin"), XINF_ROLE_NONE);
    CHECK_INT (xinf_role_parse (""), XINF_ROLE_NONE);
    CHECK_INT (xinf_role_parse (NULL), XINF_ROLE_NONE);
    CHECK_STR (xinf_role_name (XINF_ROLE_WORKER), "worker");
    CHECK_STR (xinf_role_name (XINF_ROLE_NONE), "none");
}

static void
test_keygen (void)
{
    char path [1100], reason [1200];
    CHECK (xinf_auth_keygen (s_dir, "w1", XINF_ROLE_WORKER, path, sizeof path, reason, sizeof reason) == 0);
    CHECK_HAS (path, "/w1.key");
    struct stat info;
    char secret [1200];
    snprintf (secret, sizeof secret, "%s_secret", path);
    CHECK (stat (secret, &info) == 0);
    CHECK_INT (info.st_mode & 0777, 0600);
    CHECK (xinf_auth_keygen (s_dir, "w1", XINF_ROLE_WORKER, path, sizeof path, reason, sizeof reason) == -1);
    CHECK_HAS (reason, "exists already");
    CHECK (xinf_auth_keygen (s_dir, "../evil", XINF_ROLE_USER, path, sizeof path, reason, sizeof reason) == -1);
    CHECK (xinf_auth_keygen (s_dir, "", XINF_ROLE_USER, path, sizeof path, reason, sizeof reason) == -1);
    CHECK (!xinf_auth_name_valid ("a b"));
    CHECK (xinf_auth_name_valid ("node-1.example_2"));
}

static void
test_load_secret (void)
{
    char path [1100], reason [1200];
    CHECK (xinf_auth_keygen (s_dir, "alice", XINF_ROLE_USER, path, sizeof path, reason, sizeof reason) == 0);
    zcert_t *cert = xinf_auth_load_secret (path, reason, sizeof reason);
    CHECK (cert);
    CHECK_STR (zcert_meta (cert, "role"), "user");
    CHECK_STR (zcert_meta (cert, "name"), "alice");
    char key [XINF_KEY_TEXT_SIZE];
    CHECK (xinf_auth_load_public (path, key, reason, sizeof reason) == 0);
    CHECK_STR (key, zcert_public_txt (cert));
    char secret [1200];
    snprintf (secret, sizeof secret, "%s_secret", path);
    zcert_t *again = xinf_auth_load_secret (secret, reason, sizeof reason);    //  named directly
    CHECK (again && zcert_eq (cert, again));
    zcert_destroy (&again);
    zcert_destroy (&cert);
    //  Others may read it: refused, with the fix
    CHECK (chmod (secret, 0644) == 0);
    CHECK (!xinf_auth_load_secret (path, reason, sizeof reason));
    CHECK_HAS (reason, "chmod 600");
    CHECK (chmod (secret, 0600) == 0);
    //  Not a certificate, a public file posing as a secret, a wrong pair, nothing there
    s_write ("junk.key_secret", "\x01\x02 this is not a certificate\n\xff\xfe", 0600);
    snprintf (secret, sizeof secret, "%s/junk.key", s_dir);
    CHECK (!xinf_auth_load_secret (secret, reason, sizeof reason));
    snprintf (secret, sizeof secret, "%s/alice.key", s_dir);
    FILE *file = fopen (secret, "r");
    char text [4096] = "";
    CHECK (file && fread (text, 1, sizeof text - 1, file) > 0);
    fclose (file);
    s_write ("public.key_secret", text, 0600);
    snprintf (secret, sizeof secret, "%s/public.key", s_dir);
    CHECK (!xinf_auth_load_secret (secret, reason, sizeof reason));
    CHECK_HAS (reason, "secret-key");
    s_write ("pair.key_secret", "curve\n    public-key = \"0000000000000000000000000000000000000000\"\n"
             "    secret-key = \"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\"\n", 0600);
    snprintf (secret, sizeof secret, "%s/pair.key", s_dir);
    CHECK (!xinf_auth_load_secret (secret, reason, sizeof reason));
    CHECK_HAS (reason, "does not belong");
    snprintf (secret, sizeof secret, "%s/absent.key", s_dir);
    CHECK (!xinf_auth_load_secret (secret, reason, sizeof reason));
    CHECK_HAS (reason, "No such file");
    CHECK (xinf_auth_load_public (secret, key, reason, sizeof reason) == -1);
}

//  A key directory of its own, for the keyring tests.
static void
s_keydir (const char *name, char *dir, size_t size)
{
    snprintf (dir, size, "%s/%s", s_dir, name);
    CHECK (mkdir (dir, 0700) == 0);
}

static void
test_keyring (void)
{
    char dir [512], path [1100], reason [1200], key [XINF_KEY_TEXT_SIZE];
    s_keydir ("ring", dir, sizeof dir);
    CHECK (!xinf_keyring_load (dir, reason, sizeof reason));       //  empty
    CHECK_HAS (reason, "no public certificates");
    CHECK (xinf_auth_keygen (dir, "w", XINF_ROLE_WORKER, path, sizeof path, reason, sizeof reason) == 0);
    CHECK (xinf_auth_keygen (dir, "u", XINF_ROLE_USER, path, sizeof path, reason, sizeof reason) == 0);
    CHECK (xinf_auth_load_public (path, key, reason, sizeof reason) == 0);
    xinf_keyring_t *ring = xinf_keyring_load (dir, reason, sizeof reason);   //  the _secret files are skipped
    CHECK (ring);
    CHECK_INT (xinf_keyring_size (ring), 2);
    CHECK_INT (xinf_keyring_role (ring, key), XINF_ROLE_USER);
    CHECK_STR (xinf_keyring_name (ring, key), "u");
    CHECK_INT (xinf_keyring_role (ring, "0000000000000000000000000000000000000000"), XINF_ROLE_NONE);
    CHECK_INT (xinf_keyring_role (ring, NULL), XINF_ROLE_NONE);
    xinf_keyring_destroy (&ring);
    CHECK (!ring);
    //  A certificate without a role, with an unknown role, a duplicate, junk: each fails the load, named
    char bad [600];
    snprintf (bad, sizeof bad, "%s/norole.key", dir);
    FILE *file = fopen (bad, "w");
    fprintf (file, "curve\n    public-key = \"%s\"\n", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    fclose (file);
    CHECK (!xinf_keyring_load (dir, reason, sizeof reason));
    CHECK_HAS (reason, "norole.key");
    CHECK_HAS (reason, "'role' is missing");
    file = fopen (bad, "w");
    fprintf (file, "metadata\n    role = \"root\"\ncurve\n    public-key = \"%s\"\n", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    fclose (file);
    CHECK (!xinf_keyring_load (dir, reason, sizeof reason));
    CHECK_HAS (reason, "'root' is not worker, user, admin or supervisor");
    file = fopen (bad, "w");
    fprintf (file, "metadata\n    role = \"user\"\ncurve\n    public-key = \"%s\"\n", key);
    fclose (file);
    CHECK (!xinf_keyring_load (dir, reason, sizeof reason));
    CHECK_HAS (reason, "the same public key");
    file = fopen (bad, "w");
    fprintf (file, "metadata\n    role = \"user\"\ncurve\n    public-key = \"short\"\n");
    fclose (file);
    CHECK (!xinf_keyring_load (dir, reason, sizeof reason));
    CHECK_HAS (reason, "no valid curve public-key");
    CHECK (!xinf_keyring_load ("/nonexistent/keys", reason, sizeof reason));
    CHECK_HAS (reason, "cannot read the key directory");
}

//  A ROUTER as CURVE server behind zauth, and three dealers.
static void
test_handshakes (void)
{
    char dir [512], path [1100], reason [1200], server_key [XINF_KEY_TEXT_SIZE];
    s_keydir ("cluster", dir, sizeof dir);
    CHECK (xinf_auth_keygen (s_dir, "server", XINF_ROLE_ADMIN, path, sizeof path, reason, sizeof reason) == 0);
    zcert_t *server_cert = xinf_auth_load_secret (path, reason, sizeof reason);
    CHECK (server_cert);
    CHECK (xinf_auth_load_public (path, server_key, reason, sizeof reason) == 0);
    CHECK (xinf_auth_keygen (dir, "carol", XINF_ROLE_USER, path, sizeof path, reason, sizeof reason) == 0);
    zcert_t *carol = xinf_auth_load_secret (path, reason, sizeof reason);
    CHECK (xinf_auth_keygen (s_dir, "mallory", XINF_ROLE_ADMIN, path, sizeof path, reason, sizeof reason) == 0);
    zcert_t *mallory = xinf_auth_load_secret (path, reason, sizeof reason);
    CHECK (carol && mallory);
    xinf_keyring_t *ring = xinf_keyring_load (dir, reason, sizeof reason);
    CHECK (ring);
    CHECK (xinf_auth_zap_start (ring, XINF_ROLE_NONE) == 0);
    CHECK (xinf_auth_zap_start (ring, XINF_ROLE_NONE) == -1);          //  one per process

    xinf_router_t *router = xinf_router_new ("server");
    xinf_auth_curve_server (xinf_router_sock (router), server_cert);
    char bound [256];
    CHECK (xinf_router_bind (router, "tcp://127.0.0.1:0", bound, sizeof bound) > 0);

    //  A listed key: in, with its role, name and key as metadata
    xinf_dealer_t *good = xinf_dealer_new_secure (bound, "carol", carol, server_key, "carol.key");
    xinf_msg_t *ping = xinf_msg_new ("PING");
    CHECK (xinf_dealer_send (good, &ping) == 0);
    CHECK_SOON (zsock_events (xinf_router_sock (router)) & ZMQ_POLLIN, 5000);
    xinf_peer_t *peer;
    char error [600];
    uint64_t corr;
    xinf_msg_t *got = xinf_router_recv (router, &peer, error, sizeof error, &corr);
    CHECK (got && xinf_msg_is (got, "PING"));
    CHECK_STR (xinf_peer_role (peer), "user");
    CHECK_STR (xinf_peer_key_name (peer), "carol");
    CHECK_STR (xinf_peer_key (peer), zcert_public_txt (carol));
    xinf_msg_destroy (&got);

    //  An unlisted key: the request ends at once with the refusal, not at its deadline
    xinf_dealer_t *rogue = xinf_dealer_new_secure (bound, "mallory", mallory, server_key, "mallory.key");
    ping = xinf_msg_new ("PING");
    int64_t start = zclock_mono ();
    CHECK (!xinf_dealer_request (rogue, &ping, 10000, error, sizeof error));
    CHECK (zclock_mono () - start < 5000);
    CHECK_HAS (error, "refused our key (mallory.key public key ");
    CHECK_HAS (error, zcert_public_txt (mallory));

    //  No keys at all: told that the server requires them
    xinf_dealer_t *plain = xinf_dealer_new_secure (bound, "plain", NULL, NULL, "");
    ping = xinf_msg_new ("PING");
    start = zclock_mono ();
    CHECK (!xinf_dealer_request (plain, &ping, 10000, error, sizeof error));
    CHECK (zclock_mono () - start < 5000);
    CHECK_HAS (error, "requires CURVE keys");
    CHECK (!(zsock_events (xinf_router_sock (router)) & ZMQ_POLLIN));    //  nothing of theirs arrived

    xinf_dealer_destroy (&plain);
    xinf_dealer_destroy (&rogue);
    xinf_dealer_destroy (&good);
    xinf_router_destroy (&router);
    xinf_auth_zap_stop ();
    xinf_keyring_destroy (&ring);
    zcert_destroy (&carol);
    zcert_destroy (&mallory);
    zcert_destroy (&server_cert);
}

//  The supervisor's vouching: an endpoint's key, and data sockets that
//  dial only vouched endpoints once this process has an identity.
static void
test_vouching (void)
{
    char key [XINF_KEY_TEXT_SIZE], reason [256];
    const char *good = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    CHECK (xinf_auth_vouch ("tcp://10.0.0.2:29500", "short") == -1);
    CHECK (xinf_auth_vouch ("tcp://10.0.0.2:29500", NULL) == -1);
    CHECK (xinf_auth_vouched ("tcp://10.0.0.2:29500", key) == -1);
    CHECK (xinf_auth_vouch ("tcp://10.0.0.2:29500", good) == 0);
    CHECK (xinf_auth_vouched ("tcp://10.0.0.2:29500", key) == 0);
    CHECK_STR (key, good);
    void *socket = zmq_socket (zsys_init (), ZMQ_DEALER);
    CHECK (xinf_auth_secure_data (socket, "tcp://10.0.0.9:29500", reason, sizeof reason) == 0);   //  no identity: plain
    zcert_t *identity = zcert_new ();
    xinf_auth_set_identity (identity);
    CHECK (xinf_auth_secure_data (socket, "tcp://10.0.0.9:29500", reason, sizeof reason) == -1);
    CHECK_HAS (reason, "vouched for no key at tcp://10.0.0.9:29500");
    CHECK (xinf_auth_secure_data (socket, "tcp://10.0.0.2:29500", reason, sizeof reason) == 0);
    int mechanism = 0;
    size_t size = sizeof mechanism;
    CHECK (zmq_getsockopt (socket, ZMQ_MECHANISM, &mechanism, &size) == 0);
    CHECK_INT (mechanism, ZMQ_CURVE);
    xinf_auth_set_identity (NULL);
    zcert_destroy (&identity);
    zmq_close (socket);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    snprintf (s_dir, sizeof s_dir, "/tmp/xinf-test-auth-XXXXXX");
    CHECK (mkdtemp (s_dir));
    RUN (test_roles);
    RUN (test_keygen);
    RUN (test_load_secret);
    RUN (test_keyring);
    RUN (test_handshakes);
    RUN (test_vouching);
    char command [600];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    CHECK (system (command) == 0);
    zsys_shutdown ();
    return 0;
}
