/*  test_states: the actors' state machines (actors/xinf_states, described
    with runtime/xinf_fsm): names parse back, legal moves pass and illegal
    ones are refused and leave the state as it was, terminal states stay,
    and the specs print exactly the tables the code enforces.

        unit_states PROTOCOLS_DIR      checks protocols/model.md, node.md, client.md
        unit_states --print            prints the tables to paste there
*/
#include "test_unit.h"
#include "xinf_states.h"

static const struct {
    const xinf_fsm_t *fsm;
    const char *spec;                 //  the file whose table it is
} s_machines [] = {
    { &xinf_replica_fsm, "model.md" },
    { &xinf_worker_fsm, "node.md" },
    { &xinf_request_fsm, "client.md" },
    { &xinf_launch_fsm, "client.md" },
};
#define S_MACHINES (sizeof s_machines / sizeof s_machines [0])

static void
s_test_names (const xinf_fsm_t *fsm)
{
    for (size_t state = 0; state < fsm->count; state++) {
        CHECK_INT (xinf_fsm_parse (fsm, xinf_fsm_name (fsm, (int) state)), state);
        CHECK (fsm->why [state] && *fsm->why [state]);
    }
    CHECK_INT (xinf_fsm_parse (fsm, "no-such-state"), -1);
    CHECK_INT (xinf_fsm_parse (fsm, NULL), -1);
    CHECK_STR (xinf_fsm_name (fsm, -1), "?");
    CHECK_STR (xinf_fsm_name (fsm, (int) fsm->count), "?");
    CHECK (!xinf_fsm_allows (fsm, 0, (int) fsm->count));
    CHECK (!xinf_fsm_allows (fsm, -1, 0));
}

static void
s_test_replica (void)
{
    const xinf_fsm_t *fsm = &xinf_replica_fsm;
    int state = XINF_REPLICA_STARTING;
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_READY, "test") == -1);    //  not loaded yet
    CHECK_INT (state, XINF_REPLICA_STARTING);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_JOINING, "test") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_LOADING, "test") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_LOADING, "test") == 0);   //  staying is fine
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_JOINING, "test") == -1);  //  no way back
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_READY, "test") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_FAILED, "test") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_READY, "test") == -1);    //  failed stays failed
    CHECK_INT (state, XINF_REPLICA_FAILED);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REPLICA_STOPPED, "test") == 0);
    for (int to = 0; to < XINF_REPLICA_STATES; to++)                          //  stopped is the end
        CHECK (to == XINF_REPLICA_STOPPED || xinf_fsm_move (fsm, &state, to, "test") == -1);
}

static void
s_test_worker (void)
{
    const xinf_fsm_t *fsm = &xinf_worker_fsm;
    int state = XINF_WORKER_ALIVE;
    CHECK (xinf_fsm_move (fsm, &state, XINF_WORKER_LOST, "w1") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_WORKER_ALIVE, "w1") == 0);      //  it came back
    CHECK (xinf_fsm_move (fsm, &state, XINF_WORKER_LEFT, "w1") == 0);
    CHECK (!xinf_fsm_allows (fsm, XINF_WORKER_LEFT, XINF_WORKER_LOST));      //  a worker that left is not lost
    CHECK (xinf_fsm_move (fsm, &state, XINF_WORKER_LOST, "w1") == -1);
    CHECK_INT (state, XINF_WORKER_LEFT);
}

static void
s_test_request (void)
{
    const xinf_fsm_t *fsm = &xinf_request_fsm;
    int state = XINF_REQUEST_QUEUED;
    CHECK (xinf_fsm_move (fsm, &state, XINF_REQUEST_RUNNING, "c/1") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REQUEST_QUEUED, "c/1") == 0);      //  retried elsewhere
    CHECK (xinf_fsm_move (fsm, &state, XINF_REQUEST_ANSWERED, "c/1") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_REQUEST_RUNNING, "c/1") == -1);    //  one answer, then nothing
    CHECK_INT (state, XINF_REQUEST_ANSWERED);
}

//  The launch: a group that loses a worker comes back through relaunching;
//  a terminated one only stops; failed and stopped are ends.
static void
s_test_launch (void)
{
    const xinf_fsm_t *fsm = &xinf_launch_fsm;
    int state = XINF_LAUNCH_PLACED;
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_PREFLIGHT, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_READY, "m") == -1);         //  nothing loaded yet
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_STAGING, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_FETCHED, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_STARTING, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_JOINING, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_STAGING, "m") == -1);       //  no way back
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_LOADING, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_READY, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_LOADING, "m") == -1);       //  a late report
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_RELAUNCHING, "m") == 0);    //  its worker was lost
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_PREFLIGHT, "m") == 0);      //  the group placed again
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_STOPPING, "m") == 0);       //  terminated
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_READY, "m") == -1);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_STOPPED, "m") == 0);
    CHECK (xinf_fsm_move (fsm, &state, XINF_LAUNCH_READY, "m") == -1);
    state = XINF_LAUNCH_FAILED;
    for (int to = 0; to < XINF_LAUNCH_STATES; to++)
        CHECK (to == XINF_LAUNCH_FAILED || to == XINF_LAUNCH_STOPPED || xinf_fsm_move (fsm, &state, to, "m") == -1);
    CHECK_INT (state, XINF_LAUNCH_FAILED);
}

static char *
s_read (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *text = calloc (1, (size_t) size + 1);
    CHECK (text && fread (text, 1, (size_t) size, file) == (size_t) size);
    fclose (file);
    return text;
}

//  Every machine's table is in its spec, byte for byte.
static void
s_test_specs (const char *dir)
{
    for (size_t index = 0; index < S_MACHINES; index++) {
        char path [1024], table [8192];
        snprintf (path, sizeof path, "%s/%s", dir, s_machines [index].spec);
        CHECK (xinf_fsm_table (s_machines [index].fsm, table, sizeof table) < sizeof table);
        char *text = s_read (path);
        CHECK (text);
        if (!strstr (text, table)) {
            fprintf (stderr, "%s lacks the %s states table the code enforces (unit_states --print):\n%s",
                     path, s_machines [index].fsm->name, table);
            exit (1);
        }
        free (text);
    }
}

int
main (int argc, char **argv)
{
    if (argc > 1 && streq (argv [1], "--print")) {
        for (size_t index = 0; index < S_MACHINES; index++) {
            char table [8192];
            xinf_fsm_table (s_machines [index].fsm, table, sizeof table);
            printf ("%s (%s):\n\n%s\n", s_machines [index].fsm->name, s_machines [index].spec, table);
        }
        return 0;
    }
    for (size_t index = 0; index < S_MACHINES; index++)
        s_test_names (s_machines [index].fsm);
    s_test_replica ();
    s_test_worker ();
    s_test_request ();
    s_test_launch ();
    char small [16];                   //  a table cut to fit still ends in a NUL
    CHECK (xinf_fsm_table (&xinf_worker_fsm, small, sizeof small) > sizeof small);
    CHECK_INT (strlen (small), sizeof small - 1);
    if (argc > 1)
        s_test_specs (argv [1]);
    printf ("unit_states: OK\n");
    return 0;
}
