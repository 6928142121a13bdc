/*  test_beacon: where a step is (models/xinf_beacon): steps and phases as
    another thread reads them, their description, the injected hang's
    text (and garbage refused), a hang that holds its thread in the named
    phase until released, a fault that does not match passing by, and the
    CUDA graph phases: their description and the points where a backend
    without graphs would capture or replay (inert unless a fault names
    them, then a hang there).  */
#include "test_unit.h"
#include "xinf_beacon.h"

#include <pthread.h>
#include <stdatomic.h>

static void
s_test_phases (void)
{
    xinf_beacon_t *beacon = xinf_beacon_new ();
    xinf_beacon_view_t view = xinf_beacon_read (beacon);
    CHECK_INT (view.step, 0);
    CHECK_INT (view.phase, XINF_PHASE_IDLE);
    xinf_beacon_step_begin (beacon);
    xinf_beacon_enter (beacon, XINF_PHASE_COLLECTIVE, 3, "all-reduce attn_output");
    view = xinf_beacon_read (beacon);
    CHECK_INT (view.step, 1);
    CHECK_INT (view.phase, XINF_PHASE_COLLECTIVE);
    CHECK_INT (view.layer, 3);
    char text [256];
    xinf_beacon_describe (&view, view.phase_ms + 10250, text, sizeof text);
    CHECK_STR (text, "step 1, layer 3 all-reduce attn_output (collective), for 10.2 s");
    xinf_beacon_enter (beacon, XINF_PHASE_SAMPLE, 0, "sampling");
    view = xinf_beacon_read (beacon);
    xinf_beacon_describe (&view, view.phase_ms, text, sizeof text);
    CHECK_STR (text, "step 1, sampling, for 0.0 s");
    xinf_beacon_step_end (beacon);
    view = xinf_beacon_read (beacon);
    CHECK_INT (view.phase, XINF_PHASE_IDLE);
    xinf_beacon_describe (&view, view.phase_ms + 2000, text, sizeof text);
    CHECK_STR (text, "idle after step 1 for 2.0 s");
    xinf_beacon_step_begin (beacon);
    CHECK_INT (xinf_beacon_read (beacon).step, 2);
    CHECK_STR (xinf_phase_name (XINF_PHASE_COMPUTE), "compute");
    CHECK_STR (xinf_phase_name ((xinf_phase_t) 99), "?");
    xinf_beacon_destroy (&beacon);
    CHECK (beacon == NULL);
    xinf_beacon_destroy (&beacon);
}

static void
s_test_fault_text (void)
{
    xinf_beacon_t *beacon = xinf_beacon_new ();
    char error [256];
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=7,phase=compute", error, sizeof error), 0);
    CHECK_INT (xinf_beacon_set_fault (beacon, "phase=collective,layer=3,step=2", error, sizeof error), 0);
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=1,phase=sample", error, sizeof error), 0);
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=5,phase=replay", error, sizeof error), 0);
    CHECK_INT (xinf_beacon_set_fault (beacon, "phase=capture,layer=4,step=3", error, sizeof error), 0);
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=3,phase=capture;step=3,phase=compute,layer=0", error,
                                      sizeof error), 0);
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=1,phase=sample;step=2,phase=sample;step=3,phase=sample;"
                                      "step=4,phase=sample", error, sizeof error), 0);
    const char *bad [] = {
        "step=7,phase=idle", "step=7,phase=?", "step=7,phase=Replay", "step=7,phase=replay ",
        "step=7,phase=replay;", ";step=7,phase=replay", "step=7,phase=replay;step=x,phase=compute",
        "step=1,phase=sample;step=2,phase=sample;step=3,phase=sample;step=4,phase=sample;step=5,phase=sample",
        "", "step=7", "phase=compute", "step=0,phase=compute", "step=-1,phase=compute", "step=x,phase=compute",
        "step=7,phase=graph", "step=7,phase=compute,layer=", "step=7,phase=compute,layer=2x",
        "step=7,phase=compute,rank=1", "step=7,,phase=compute", "step 7 phase compute",
        "step=99999999999999999999999,phase=compute", "step=+7,phase=compute", "step=7,phase=compute,layer=1000001"
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        error [0] = 0;
        CHECK_INT (xinf_beacon_set_fault (beacon, bad [index], error, sizeof error), -1);
        CHECK (strlen (error) > 0);
    }
    char huge [600];
    memset (huge, 'a', sizeof huge - 1);
    huge [sizeof huge - 1] = 0;
    CHECK_INT (xinf_beacon_set_fault (beacon, huge, error, sizeof error), -1);
    CHECK_INT (xinf_beacon_set_fault (beacon, NULL, error, sizeof error), -1);
    xinf_beacon_destroy (&beacon);
}

static void
s_test_graph_phases (void)
{
    CHECK (xinf_phase_is_graph (XINF_PHASE_CAPTURE) && xinf_phase_is_graph (XINF_PHASE_REPLAY));
    CHECK (!xinf_phase_is_graph (XINF_PHASE_COMPUTE) && !xinf_phase_is_graph (XINF_PHASE_IDLE));
    CHECK_STR (xinf_phase_name (XINF_PHASE_CAPTURE), "capture");
    CHECK_STR (xinf_phase_name (XINF_PHASE_REPLAY), "replay");
    CHECK_STR (xinf_phase_name (XINF_PHASES), "?");
    xinf_beacon_t *beacon = xinf_beacon_new ();
    xinf_beacon_step_begin (beacon);
    xinf_beacon_step_begin (beacon);
    xinf_beacon_enter (beacon, XINF_PHASE_REPLAY, 4, "graph replay");
    xinf_beacon_view_t view = xinf_beacon_read (beacon);
    char text [256];
    xinf_beacon_describe (&view, view.phase_ms + 10000, text, sizeof text);
    CHECK_STR (text, "graph replay of step 2 (batch bucket 4), for 10.0 s");
    xinf_beacon_enter (beacon, XINF_PHASE_CAPTURE, 1, "graph capture");
    view = xinf_beacon_read (beacon);
    xinf_beacon_describe (&view, view.phase_ms + 1500, text, sizeof text);
    CHECK_STR (text, "graph capture of step 2 (batch bucket 1), for 1.5 s");
    //  A point without a fault for it changes nothing
    xinf_beacon_enter (beacon, XINF_PHASE_COMPUTE, 0, "embedding");
    xinf_beacon_point (beacon, XINF_PHASE_REPLAY, 8, "graph replay");
    view = xinf_beacon_read (beacon);
    CHECK_INT (view.phase, XINF_PHASE_COMPUTE);
    CHECK_INT (view.layer, 0);
    xinf_beacon_destroy (&beacon);
}

typedef struct {
    xinf_beacon_t *beacon;
    atomic_bool past;                 //  the thread got through its phases
} s_runner_t;

//  Steps 1 .. 3, each with a replay point of bucket 2 before its layer.
static void *
s_run_points (void *arg)
{
    s_runner_t *runner = (s_runner_t *) arg;
    for (int step = 1; step <= 3; step++) {
        xinf_beacon_step_begin (runner->beacon);
        xinf_beacon_point (runner->beacon, XINF_PHASE_REPLAY, 2, "graph replay");
        xinf_beacon_enter (runner->beacon, XINF_PHASE_COMPUTE, 0, "attention");
        xinf_beacon_step_end (runner->beacon);
    }
    atomic_store (&runner->past, true);
    return NULL;
}

//  A fault at a replay point (the second of two armed): the thread hangs
//  there, in phase replay.
static void
s_test_point_hang (void)
{
    xinf_beacon_t *beacon = xinf_beacon_new ();
    char error [256];
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=9,phase=compute;step=2,phase=replay", error, sizeof error), 0);
    s_runner_t runner = { beacon, false };
    pthread_t thread;
    CHECK_INT (pthread_create (&thread, NULL, s_run_points, &runner), 0);
    CHECK_SOON (xinf_beacon_read (beacon).step == 2 && xinf_beacon_read (beacon).phase == XINF_PHASE_REPLAY, 5000);
    xinf_beacon_view_t view = xinf_beacon_read (beacon);
    CHECK_INT (view.layer, 2);
    CHECK (!atomic_load (&runner.past));
    xinf_beacon_release (beacon);
    CHECK_INT (pthread_join (thread, NULL), 0);
    CHECK (atomic_load (&runner.past));
    CHECK_INT (xinf_beacon_read (beacon).step, 3);
    xinf_beacon_destroy (&beacon);
}

//  One step through layers 0..3, compute then collective each.
static void *
s_run_step (void *arg)
{
    s_runner_t *runner = (s_runner_t *) arg;
    xinf_beacon_step_begin (runner->beacon);
    for (size_t layer = 0; layer < 4; layer++) {
        xinf_beacon_enter (runner->beacon, XINF_PHASE_COMPUTE, layer, "attention");
        xinf_beacon_enter (runner->beacon, XINF_PHASE_COLLECTIVE, layer, "all-reduce attn_output");
    }
    xinf_beacon_step_end (runner->beacon);
    atomic_store (&runner->past, true);
    return NULL;
}

static void
s_test_hang (void)
{
    xinf_beacon_t *beacon = xinf_beacon_new ();
    char error [256];
    //  Step 2, layer 2's all-reduce: step 1 passes, step 2 stops there
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=2,phase=collective,layer=2", error, sizeof error), 0);
    s_runner_t runner = { beacon, false };
    s_run_step (&runner);
    CHECK (atomic_load (&runner.past));
    atomic_store (&runner.past, false);
    pthread_t thread;
    CHECK_INT (pthread_create (&thread, NULL, s_run_step, &runner), 0);
    CHECK_SOON (xinf_beacon_read (beacon).step == 2 && xinf_beacon_read (beacon).layer == 2
                && xinf_beacon_read (beacon).phase == XINF_PHASE_COLLECTIVE, 5000);
    //  It stays there: the reader sees the same phase while the thread is held
    for (int look = 0; look < 50; look++) {
        xinf_beacon_view_t view = xinf_beacon_read (beacon);
        CHECK (view.phase == XINF_PHASE_COLLECTIVE && view.layer == 2 && !atomic_load (&runner.past));
    }
    xinf_beacon_release (beacon);
    CHECK_INT (pthread_join (thread, NULL), 0);
    CHECK (atomic_load (&runner.past));
    CHECK_INT (xinf_beacon_read (beacon).phase, XINF_PHASE_IDLE);
    //  Released for good: an armed fault no longer holds anyone
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=3,phase=compute", error, sizeof error), 0);
    atomic_store (&runner.past, false);
    s_run_step (&runner);
    CHECK (atomic_load (&runner.past));
    xinf_beacon_destroy (&beacon);
}

//  A fault for another layer or step never holds the thread.
static void
s_test_no_match (void)
{
    xinf_beacon_t *beacon = xinf_beacon_new ();
    char error [256];
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=1,phase=compute,layer=9", error, sizeof error), 0);
    s_runner_t runner = { beacon, false };
    s_run_step (&runner);
    CHECK (atomic_load (&runner.past));
    CHECK_INT (xinf_beacon_set_fault (beacon, "step=1,phase=sample", error, sizeof error), 0);
    atomic_store (&runner.past, false);
    s_run_step (&runner);                    //  step 2 now, and no sampling
    CHECK (atomic_load (&runner.past));
    xinf_beacon_destroy (&beacon);
}

int
main (void)
{
    s_test_phases ();
    s_test_fault_text ();
    s_test_hang ();
    s_test_no_match ();
    s_test_graph_phases ();
    s_test_point_hang ();
    printf ("unit_beacon: OK\n");
    return 0;
}
