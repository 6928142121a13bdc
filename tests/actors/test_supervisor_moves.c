/*  test_supervisor_moves: the supervisor actor in this process healing
    plain replicas whose worker is lost, with fake workers that report the
    replicas they run in HELLO (adopted):

    - two models on a lost worker, 6 GiB each, and one worker with 10 GiB
      free: one relaunches there, the other waits (the first one's size
      counts on its new worker while it loads);
    - a lost worker that registers again without its replica gets it back
      (no other worker could take it);
    - a model terminated while its worker was lost is unloaded, not
      adopted, when the worker registers again with it;
    - the journal says where a healed replica runs now, so a restart finds
      it there;
    - a worker that says HELLO again on its connection with its pid (as a
      worker restarted at once may: a container's pid 1, the same routing
      id) without a replica it had ready loses that replica, healed onto
      another worker, and keeps those it lists; a HELLO of another run
      (another instance) loses the one it had loading there too; a HELLO
      sent again before a LOAD_MODEL arrived (the replica still loading)
      loses nothing.
*/
#include "actor_peer.h"

#define GIB  (1024ULL * 1024ULL * 1024ULL)

static uint64_t s_corr = 9000;

static xinf_msg_t *
s_ask (xinf_dealer_t *dealer, xinf_msg_t *request)
{
    return peer_ask (dealer, &request, ++s_corr);
}

//  A ready plain replica as a worker reports it: 'uid' from 'path', 6 GiB.
static xinf_value_t *
s_ready (const char *uid, const char *path)
{
    xinf_value_t *model = xinf_value_new_map ();
    xinf_map_put_str (model, "uid", uid);
    xinf_map_put_uint (model, "replica", 0);
    xinf_map_put_str (model, "state", "ready");
    xinf_map_put_str (model, "path", path);
    xinf_map_put_uint (model, "generation", 5);
    xinf_value_t *info = xinf_value_new_map ();
    xinf_map_put_str (info, "arch", "llama");
    xinf_map_put_uint (info, "size_bytes", 6 * GIB);
    xinf_map_put_uint (info, "max_seqs", 4);
    xinf_map_put (model, "info", info);
    return model;
}

//  A fake worker with 'available' bytes free, running 'models' (taken, may be NULL).
static xinf_dealer_t *
s_worker (const char *endpoint, const char *node, xinf_value_t *models, uint64_t available)
{
    xinf_hello_t hello = peer_hello_fields (node, 4300, 200, 5);
    hello.memory_available_bytes = available;
    for (size_t index = 0; models && index < xinf_value_count (models); index++)
        xinf_array_push (hello.models, xinf_value_dup (xinf_array_at (models, index)));
    xinf_value_destroy (&models);
    return peer_register (endpoint, &hello, ++s_corr);
}

static xinf_value_t *
s_list_of (xinf_value_t *first, xinf_value_t *second)
{
    xinf_value_t *list = xinf_value_new_array ();
    xinf_array_push (list, first);
    if (second)
        xinf_array_push (list, second);
    return list;
}

//  The state and error of model 'uid' in LIST_MODELS ("" when not listed).
static void
s_model_state (xinf_dealer_t *client, const char *uid, char *state, size_t size, char *error, size_t error_size)
{
    *state = *error = 0;
    xinf_msg_t *reply = s_ask (client, xinf_msg_new ("LIST_MODELS"));
    CHECK_STR (xinf_msg_type (reply), "LIST_MODELS_REPLY");
    const xinf_value_t *models = xinf_map_get (xinf_msg_body (reply), "models");
    for (size_t index = 0; index < xinf_value_count (models); index++) {
        const xinf_value_t *model = xinf_array_at (models, index);
        if (!streq (xinf_value_str (xinf_map_get (model, "uid")), uid))
            continue;
        snprintf (state, size, "%s", xinf_value_str (xinf_map_get (model, "state")));
        const char *text = xinf_value_str (xinf_map_get (model, "error"));
        snprintf (error, error_size, "%s", text ? text : "");
    }
    xinf_msg_destroy (&reply);
}

//  A supervisor on 'endpoint' (with a journal in 'state_dir' if given), a
//  client, and up to 3 fake workers, ended together.
typedef struct {
    xinf_supervisor_t *supervisor;
    xinf_dealer_t *client;
    xinf_dealer_t *workers [3];
} s_fixture_t;

static s_fixture_t
s_fixture (const char *endpoint, const char *state_dir)
{
    xinf_supervisor_config_t config = { .node_name = "sup", .heartbeat_ms = 200, .liveness = 5,
                                        .state_dir = state_dir };
    s_fixture_t fixture = { xinf_supervisor_new (&config), NULL, { NULL } };
    CHECK (fixture.supervisor);
    CHECK_INT (xinf_supervisor_bind (fixture.supervisor, endpoint, NULL, 0), 0);
    fixture.client = xinf_dealer_new (endpoint, "client");
    return fixture;
}

static void
s_fixture_end (s_fixture_t *fixture)
{
    peer_keepalive_stop (NULL);
    for (size_t at = 0; at < 3; at++)
        xinf_dealer_destroy (&fixture->workers [at]);
    xinf_dealer_destroy (&fixture->client);
    xinf_supervisor_destroy (&fixture->supervisor);
}

static bool
s_in_state (xinf_dealer_t *client, const char *uid, const char *wanted)
{
    char state [32], error [1024];
    s_model_state (client, uid, state, sizeof state, error, sizeof error);
    return streq (state, wanted);
}

static void
test_two_models_one_room (void)
{
    const char *endpoint = "inproc://test-supervisor-moves-room";
    s_fixture_t f = s_fixture (endpoint, NULL);
    xinf_dealer_t *w1 = f.workers [0] = s_worker (endpoint, "w1", s_list_of (s_ready ("a", "/a.gguf"),
                                                                            s_ready ("b", "/b.gguf")), 40 * GIB);
    CHECK_SOON (s_in_state (f.client, "a", "ready") && s_in_state (f.client, "b", "ready"), PEER_WAIT_MS);
    xinf_dealer_t *w2 = f.workers [1] = s_worker (endpoint, "w2", NULL, 10 * GIB);

    //  w1 is lost: w2 takes one 6 GiB replica, not two
    peer_keepalive_stop (w1);
    xinf_msg_t *load = peer_expect (w2, "LOAD_MODEL", NULL);
    CHECK (load);
    char moved [8];
    snprintf (moved, sizeof moved, "%s", peer_str (load, "uid"));
    xinf_msg_destroy (&load);
    CHECK (peer_silent (w2, 1000));
    const char *waiting = streq (moved, "a") ? "b" : "a";
    char state [32], error [1024];
    s_model_state (f.client, waiting, state, sizeof state, error, sizeof error);
    CHECK_STR (state, "relaunching");
    CHECK_HAS (error, "no other worker can take it");
    s_fixture_end (&f);
}

//  w1 runs the only replica of 'uid' (a file of its name) and is lost:
//  the replica waits, relaunching.
static void
s_only_worker_lost (s_fixture_t *f, const char *endpoint, const char *uid)
{
    char path [64];
    snprintf (path, sizeof path, "/%s.gguf", uid);
    f->workers [0] = s_worker (endpoint, "w1", s_list_of (s_ready (uid, path), NULL), 40 * GIB);
    CHECK_SOON (s_in_state (f->client, uid, "ready"), PEER_WAIT_MS);
    peer_keepalive_stop (f->workers [0]);
    CHECK_SOON (s_in_state (f->client, uid, "relaunching"), PEER_WAIT_MS);
}

static void
test_back_on_its_worker (void)
{
    const char *endpoint = "inproc://test-supervisor-moves-back";
    s_fixture_t f = s_fixture (endpoint, NULL);
    //  The only worker is lost: c waits; it comes back (restarted: empty)
    //  and gets c again
    s_only_worker_lost (&f, endpoint, "c");
    xinf_dealer_t *again = f.workers [1] = s_worker (endpoint, "w1", NULL, 40 * GIB);
    xinf_msg_t *load = peer_expect (again, "LOAD_MODEL", NULL);
    CHECK (load);
    CHECK_STR (peer_str (load, "uid"), "c");
    xinf_msg_destroy (&load);
    s_fixture_end (&f);
}

static void
test_terminated_stays_gone (void)
{
    const char *endpoint = "inproc://test-supervisor-moves-gone";
    s_fixture_t f = s_fixture (endpoint, NULL);
    //  Terminated while its worker is lost: the unload cannot reach it
    s_only_worker_lost (&f, endpoint, "d");
    xinf_msg_t *terminate = xinf_msg_new ("TERMINATE");
    xinf_map_put_str (xinf_msg_body (terminate), "uid", "d");
    xinf_msg_t *reply = s_ask (f.client, terminate);
    CHECK_STR (xinf_msg_type (reply), "TERMINATE_REPLY");
    xinf_msg_destroy (&reply);
    CHECK_SOON (s_in_state (f.client, "d", ""), PEER_WAIT_MS);

    //  Its worker comes back still running it: told to unload it, not adopted
    xinf_dealer_t *again = f.workers [1] = s_worker (endpoint, "w1", s_list_of (s_ready ("d", "/d.gguf"), NULL),
                                                     40 * GIB);
    xinf_msg_t *unload = peer_expect (again, "UNLOAD_MODEL", NULL);
    CHECK (unload);
    CHECK_STR (peer_str (unload, "uid"), "d");
    xinf_msg_destroy (&unload);
    CHECK (s_in_state (f.client, "d", ""));
    s_fixture_end (&f);
}

//  Whether the journal in 'dir' names 'node'.
static bool
s_journal_names (const char *dir, const char *node)
{
    char path [600], text [8192] = "", quoted [80];
    snprintf (path, sizeof path, "%s/models.json", dir);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t size = fread (text, 1, sizeof text - 1, file);
    text [size] = 0;
    fclose (file);
    snprintf (quoted, sizeof quoted, "\"%s\"", node);
    return strstr (text, quoted) != NULL;
}

//  Whether this supervisor's restart window is over: a GENERATE for an
//  unknown model is UNKNOWN_MODEL, no longer a retryable MODEL_NOT_READY.
static bool
s_window_over (xinf_dealer_t *client)
{
    xinf_msg_t *generate = xinf_msg_new ("GENERATE");
    xinf_map_put_str (xinf_msg_body (generate), "uid", "nosuch");
    xinf_map_put_str (xinf_msg_body (generate), "prompt", "x");
    xinf_msg_t *reply = s_ask (client, generate);
    bool over = xinf_msg_is (reply, "ERROR") && streq (peer_str (reply, "code"), "UNKNOWN_MODEL");
    xinf_msg_destroy (&reply);
    return over;
}

static void
test_journal_follows (void)
{
    char dir [256];
    peer_scratch (dir, sizeof dir);
    const char *endpoint = "inproc://test-supervisor-moves-journal";
    s_fixture_t f = s_fixture (endpoint, dir);
    xinf_dealer_t *w1 = f.workers [0] = s_worker (endpoint, "w1", s_list_of (s_ready ("e", "/e.gguf"), NULL),
                                                  40 * GIB);
    CHECK_SOON (s_in_state (f.client, "e", "ready"), PEER_WAIT_MS);
    xinf_dealer_t *w2 = f.workers [1] = s_worker (endpoint, "w2", NULL, 40 * GIB);
    //  After the restart window, which saves the journal once more
    CHECK_SOON (s_window_over (f.client), PEER_WAIT_MS);

    //  Healed onto w2: the journal says w2, so a restart looks for it there
    peer_keepalive_stop (w1);
    xinf_msg_t *load = peer_expect (w2, "LOAD_MODEL", NULL);
    CHECK (load);
    xinf_msg_destroy (&load);
    CHECK_SOON (s_journal_names (dir, "w2"), PEER_WAIT_MS);
    CHECK (!s_journal_names (dir, "w1"));
    s_fixture_end (&f);
    peer_scratch_remove (dir);
}

//  'uid' as a worker reports it loading (replica 0, generation 5).
static xinf_value_t *
s_loading (const char *uid, const char *path)
{
    xinf_value_t *model = s_ready (uid, path);
    xinf_value_t *state = xinf_map_take (model, "state");
    xinf_value_destroy (&state);
    xinf_map_put_str (model, "state", "loading");
    return model;
}

//  HELLO again from 'worker' (pid 4300, run 'instance', on its own
//  connection), listing 'models' (taken, may be NULL), with 'available'
//  bytes free; WELCOME expected. Returns how many other messages came first.
static size_t
s_hello_again (xinf_dealer_t *worker, const char *node, uint64_t instance, xinf_value_t *models, uint64_t available)
{
    xinf_hello_t hello = peer_hello_fields (node, 4300, 200, 5);
    hello.instance = instance;
    hello.memory_available_bytes = available;
    for (size_t index = 0; models && index < xinf_value_count (models); index++)
        xinf_array_push (hello.models, xinf_value_dup (xinf_array_at (models, index)));
    xinf_value_destroy (&models);
    xinf_msg_t *msg = xinf_hello_encode (&hello);
    xinf_hello_clear (&hello);
    uint64_t corr = ++s_corr;
    xinf_msg_set_corr (msg, corr);
    CHECK (xinf_dealer_send (worker, &msg) == 0);
    size_t skipped = 0;
    xinf_msg_t *welcome = peer_expect (worker, "WELCOME", &skipped);
    CHECK (welcome);
    CHECK_INT (xinf_msg_corr (welcome), corr);
    xinf_msg_destroy (&welcome);
    return skipped;
}

static void
test_hello_without_ready (void)
{
    const char *endpoint = "inproc://test-supervisor-moves-hello";
    s_fixture_t f = s_fixture (endpoint, NULL);
    xinf_dealer_t *w1 = f.workers [0] = s_worker (endpoint, "w1", s_list_of (s_ready ("f", "/f.gguf"),
                                                                            s_ready ("g", "/g.gguf")), 40 * GIB);
    CHECK_SOON (s_in_state (f.client, "f", "ready") && s_in_state (f.client, "g", "ready"), PEER_WAIT_MS);
    xinf_dealer_t *w2 = f.workers [1] = s_worker (endpoint, "w2", NULL, 40 * GIB);

    //  w1 again, same pid and connection, without f (and no room for it):
    //  f is gone from w1 and relaunches on w2; g stays
    s_hello_again (w1, "w1", 0, s_list_of (s_ready ("g", "/g.gguf"), NULL), 1 * GIB);
    xinf_msg_t *load = peer_expect (w2, "LOAD_MODEL", NULL);
    CHECK (load);
    CHECK_STR (peer_str (load, "uid"), "f");
    xinf_msg_destroy (&load);
    char state [32], error [1024];
    s_model_state (f.client, "f", state, sizeof state, error, sizeof error);
    CHECK_STR (state, "relaunching");
    CHECK (s_in_state (f.client, "g", "ready"));
    CHECK (peer_silent (w2, 300));
    s_fixture_end (&f);
}

static void
test_hello_of_another_run (void)
{
    const char *endpoint = "inproc://test-supervisor-moves-run";
    s_fixture_t f = s_fixture (endpoint, NULL);
    xinf_hello_t hello = peer_hello_fields ("w1", 4300, 200, 5);
    hello.instance = 1;
    hello.memory_available_bytes = 40 * GIB;
    xinf_array_push (hello.models, s_ready ("i", "/i.gguf"));
    xinf_array_push (hello.models, s_loading ("j", "/j.gguf"));
    xinf_dealer_t *w1 = f.workers [0] = peer_register (endpoint, &hello, ++s_corr);
    CHECK_SOON (s_in_state (f.client, "i", "ready") && s_in_state (f.client, "j", "loading"), PEER_WAIT_MS);
    xinf_dealer_t *w2 = f.workers [1] = s_worker (endpoint, "w2", NULL, 40 * GIB);

    //  Another run of w1 (same pid and connection), hosting nothing: both
    //  replicas it had, the loading one too, relaunch on w2
    s_hello_again (w1, "w1", 2, NULL, 1 * GIB);
    bool seen_i = false, seen_j = false;
    for (int loads = 0; loads < 2; loads++) {
        xinf_msg_t *load = peer_expect (w2, "LOAD_MODEL", NULL);
        CHECK (load);
        seen_i |= streq (peer_str (load, "uid"), "i");
        seen_j |= streq (peer_str (load, "uid"), "j");
        xinf_msg_destroy (&load);
    }
    CHECK (seen_i && seen_j);
    s_fixture_end (&f);
}

static void
test_hello_again_while_loading (void)
{
    const char *endpoint = "inproc://test-supervisor-moves-loading";
    s_fixture_t f = s_fixture (endpoint, NULL);
    xinf_dealer_t *w1 = f.workers [0] = s_worker (endpoint, "w1", NULL, 40 * GIB);
    f.workers [1] = s_worker (endpoint, "w2", s_list_of (s_ready ("k", "/k.gguf"), NULL), 40 * GIB);
    CHECK_SOON (s_in_state (f.client, "k", "ready"), PEER_WAIT_MS);

    //  w2 is lost: k relaunches on w1
    peer_keepalive_stop (f.workers [1]);
    xinf_msg_t *load = peer_expect (w1, "LOAD_MODEL", NULL);
    CHECK (load);
    CHECK_STR (peer_str (load, "uid"), "k");
    uint64_t generation = peer_uint (load, "generation");
    xinf_msg_destroy (&load);

    //  A HELLO of w1 composed before that LOAD_MODEL arrived (k not in it):
    //  k is loading there, not lost, and not sent anywhere again
    CHECK_INT (s_hello_again (w1, "w1", 0, NULL, 40 * GIB), 0);
    CHECK (peer_silent (w1, 1000));
    char state [32], error [1024];
    s_model_state (f.client, "k", state, sizeof state, error, sizeof error);
    CHECK_STR (state, "relaunching");
    CHECK_STR (error, "");
    xinf_msg_t *ready = xinf_msg_new ("MODEL_STATE");
    xinf_value_t *body = xinf_msg_body (ready);
    xinf_map_put_str (body, "node", "w1");
    xinf_map_put_str (body, "uid", "k");
    xinf_map_put_uint (body, "replica", 0);
    xinf_map_put_uint (body, "generation", generation);
    xinf_map_put_str (body, "state", "ready");
    CHECK (xinf_dealer_send (w1, &ready) == 0);
    CHECK_SOON (s_in_state (f.client, "k", "ready"), PEER_WAIT_MS);
    s_fixture_end (&f);
}

int
main (int argc, char *argv [])
{
    (void) argc;
    (void) argv;
    xinf_log_set_level (getenv ("TEST_LOG") ? XINF_LOG_INFO : XINF_LOG_ERROR);
    RUN (test_two_models_one_room);
    RUN (test_back_on_its_worker);
    RUN (test_terminated_stays_gone);
    RUN (test_journal_follows);
    RUN (test_hello_without_ready);
    RUN (test_hello_of_another_run);
    RUN (test_hello_again_while_loading);
    return 0;
}
