/*  test_waits: xinf_waits, the wait registry.

    With a fake clock: begin/progress/end and count, scans with an age
    threshold (oldest first, total beyond 'max'), stall detection (stalled
    exactly at stall_ms without progress, newly_stalled true exactly once
    per stall, progress restarting the clock, slow progress never a stall),
    the snapshot's fields. With real threads: several threads registering
    and ending waits while the main thread scans end with a count of 0.
*/
#include "test_unit.h"

#include <pthread.h>
#include <stdatomic.h>

static int64_t s_now;
static int64_t s_fake_clock (void) { return s_now; }

static xinf_waits_t *
s_new_fake (int64_t now)
{
    xinf_waits_t *waits = xinf_waits_new ();
    CHECK (waits);
    s_now = now;
    xinf_waits_set_clock (waits, s_fake_clock);
    return waits;
}

static void
test_begin_end (void)
{
    xinf_waits_t *waits = s_new_fake (1000);
    CHECK_INT (xinf_waits_count (waits), 0);
    uint64_t one = xinf_wait_begin (waits, "loader", "load weights", "disk", 5000);
    uint64_t two = xinf_wait_begin (waits, "worker", "PONG", "10.0.0.2:9997", 5000);
    uint64_t three = xinf_wait_begin (waits, NULL, NULL, NULL, 1);
    CHECK (one != 0 && two != 0 && three != 0);
    CHECK (one != two && two != three && one != three);
    CHECK_INT (xinf_waits_count (waits), 3);
    xinf_wait_end (waits, two);
    CHECK_INT (xinf_waits_count (waits), 2);
    xinf_wait_end (waits, two);                 //  unknown handles are ignored
    xinf_wait_end (waits, 987654);
    xinf_wait_progress (waits, 987654, 5);
    CHECK_INT (xinf_waits_count (waits), 2);

    xinf_wait_info_t info [4];
    CHECK_INT (xinf_waits_scan (waits, 1000, 0, info, 4), 2);
    CHECK (info [0].id == one);
    CHECK_STR (info [0].actor, "loader");
    CHECK_STR (info [0].what, "load weights");
    CHECK_STR (info [0].peer, "disk");
    CHECK_INT (info [0].started, 1000);
    CHECK_INT (info [0].last_progress, 1000);
    CHECK_INT (info [0].progress, 0);
    CHECK_INT (info [0].stall_ms, 5000);
    CHECK (!info [0].stalled);
    CHECK (info [1].id == three);
    CHECK_STR (info [1].actor, "");
    xinf_wait_end (waits, one);
    xinf_wait_end (waits, three);
    CHECK_INT (xinf_waits_count (waits), 0);
    //  Handles are not reused
    uint64_t four = xinf_wait_begin (waits, "a", "b", "c", 10);
    CHECK (four != one && four != two && four != three);

    //  Long texts are cut to XINF_WAIT_TEXT_MAX - 1 bytes
    char text [300];
    memset (text, 'w', sizeof text - 1);
    text [sizeof text - 1] = 0;
    xinf_wait_begin (waits, text, text, text, 10);
    CHECK_INT (xinf_waits_scan (waits, 1000, 0, info, 4), 2);
    CHECK_INT (strlen (info [1].actor), XINF_WAIT_TEXT_MAX - 1);
    CHECK_INT (strlen (info [1].peer), XINF_WAIT_TEXT_MAX - 1);
    xinf_waits_destroy (&waits);
    CHECK (waits == NULL);
}

static void
test_scan_threshold (void)
{
    xinf_waits_t *waits = s_new_fake (0);
    uint64_t first = xinf_wait_begin (waits, "a", "first", "p", 100000);
    s_now = 100;
    uint64_t second = xinf_wait_begin (waits, "a", "second", "p", 100000);
    s_now = 200;
    xinf_wait_begin (waits, "a", "third", "p", 100000);

    xinf_wait_info_t info [4];
    CHECK_INT (xinf_waits_scan (waits, 250, 100, info, 4), 2);
    CHECK (info [0].id == first);               //  oldest first
    CHECK (info [1].id == second);
    CHECK_INT (xinf_waits_scan (waits, 250, 150, info, 4), 2);  //  age 150 counts
    CHECK_INT (xinf_waits_scan (waits, 250, 151, info, 4), 1);
    CHECK_INT (xinf_waits_scan (waits, 250, 1000, info, 4), 0);
    CHECK_INT (xinf_waits_scan (waits, 250, 0, info, 4), 3);
    //  'max' limits what is filled, not the total
    memset (info, 0, sizeof info);
    CHECK_INT (xinf_waits_scan (waits, 250, 0, info, 1), 3);
    CHECK (info [0].id == first);
    CHECK (info [1].id == 0);
    CHECK_INT (xinf_waits_scan (waits, 250, 0, NULL, 0), 3);
    //  Ending the middle one keeps the order of the rest
    xinf_wait_end (waits, second);
    CHECK_INT (xinf_waits_scan (waits, 250, 0, info, 4), 2);
    CHECK (info [0].id == first);
    CHECK_STR (info [1].what, "third");
    xinf_waits_destroy (&waits);
}

//  Scans one wait at 'now'; returns its info (the registry holds one wait).
static xinf_wait_info_t
s_scan_one (xinf_waits_t *waits, int64_t now)
{
    xinf_wait_info_t info;
    memset (&info, 0, sizeof info);
    CHECK_INT (xinf_waits_scan (waits, now, 0, &info, 1), 1);
    return info;
}

static void
test_stalls (void)
{
    xinf_waits_t *waits = s_new_fake (0);
    uint64_t wait = xinf_wait_begin (waits, "loader", "load weights", "disk", 1000);
    xinf_wait_info_t info = s_scan_one (waits, 999);
    CHECK (!info.stalled && !info.newly_stalled);
    info = s_scan_one (waits, 1000);            //  exactly stall_ms of silence
    CHECK (info.stalled && info.newly_stalled);
    info = s_scan_one (waits, 1001);
    CHECK (info.stalled && !info.newly_stalled);
    info = s_scan_one (waits, 50000);
    CHECK (info.stalled && !info.newly_stalled);

    //  Progress restarts the stall clock; the next stall is new again
    s_now = 50100;
    xinf_wait_progress (waits, wait, 10);
    info = s_scan_one (waits, 50200);
    CHECK (!info.stalled && !info.newly_stalled);
    CHECK_INT (info.progress, 10);
    CHECK_INT (info.last_progress, 50100);
    CHECK_INT (info.started, 0);
    info = s_scan_one (waits, 51099);
    CHECK (!info.stalled);
    info = s_scan_one (waits, 51100);
    CHECK (info.stalled && info.newly_stalled);

    //  The same progress value is no progress
    s_now = 51200;
    xinf_wait_progress (waits, wait, 10);
    info = s_scan_one (waits, 51300);
    CHECK (info.stalled && !info.newly_stalled);
    CHECK_INT (info.last_progress, 50100);

    //  Slow progress is not a stall: a step every 900 ms for 20 steps
    for (int step = 1; step <= 20; step++) {
        s_now = 60000 + step * 900;
        xinf_wait_progress (waits, wait, 100 + (uint64_t) step);
        info = s_scan_one (waits, s_now + 899);
        CHECK (!info.stalled && !info.newly_stalled);
    }
    xinf_waits_destroy (&waits);
}

static void
test_stalls_many (void)
{
    //  Two waits stalling at different times are each reported once
    xinf_waits_t *waits = s_new_fake (0);
    xinf_wait_begin (waits, "a", "short", "p", 100);
    xinf_wait_begin (waits, "a", "long", "p", 300);
    int reports [2] = { 0, 0 };
    for (int64_t now = 0; now <= 1000; now += 10) {
        xinf_wait_info_t info [2];
        CHECK_INT (xinf_waits_scan (waits, now, 0, info, 2), 2);
        for (int index = 0; index < 2; index++) {
            if (info [index].newly_stalled) {
                reports [index]++;
                CHECK_INT (now, index == 0 ? 100 : 300);
            }
            CHECK (info [index].stalled == (now >= (index == 0 ? 100 : 300)));
        }
    }
    CHECK_INT (reports [0], 1);
    CHECK_INT (reports [1], 1);
    xinf_waits_destroy (&waits);
}

static void
test_snapshot (void)
{
    xinf_waits_t *waits = s_new_fake (1000);
    uint64_t wait = xinf_wait_begin (waits, "executor", "rendezvous rank 1", "10.0.0.3:29500", 2000);
    s_now = 1500;
    xinf_wait_progress (waits, wait, 3);
    xinf_wait_begin (waits, "young", "x", "y", 2000);
    xinf_value_t *list = xinf_waits_snapshot (waits, 4000, 1000);
    CHECK_INT (xinf_value_type (list), XINF_ARRAY);
    CHECK_INT (xinf_value_count (list), 2);
    const xinf_value_t *item = xinf_array_at (list, 0);
    CHECK_INT (xinf_value_count (item), 9);
    CHECK (xinf_value_uint (xinf_map_get (item, "id")) == wait);
    CHECK_STR (xinf_value_str (xinf_map_get (item, "actor")), "executor");
    CHECK_STR (xinf_value_str (xinf_map_get (item, "what")), "rendezvous rank 1");
    CHECK_STR (xinf_value_str (xinf_map_get (item, "peer")), "10.0.0.3:29500");
    CHECK_INT (xinf_value_uint (xinf_map_get (item, "age_ms")), 3000);
    CHECK_INT (xinf_value_uint (xinf_map_get (item, "progress")), 3);
    CHECK_INT (xinf_value_uint (xinf_map_get (item, "idle_ms")), 2500);
    CHECK_INT (xinf_value_uint (xinf_map_get (item, "stall_ms")), 2000);
    CHECK_INT (xinf_value_type (xinf_map_get (item, "stalled")), XINF_BOOL);
    CHECK (xinf_value_bool (xinf_map_get (item, "stalled")));
    xinf_value_destroy (&list);

    list = xinf_waits_snapshot (waits, 2000, 1000);
    CHECK_INT (xinf_value_count (list), 1);     //  only the old one
    CHECK (!xinf_value_bool (xinf_map_get (xinf_array_at (list, 0), "stalled")));
    CHECK_INT (xinf_value_uint (xinf_map_get (xinf_array_at (list, 0), "idle_ms")), 500);
    xinf_value_destroy (&list);
    xinf_waits_destroy (&waits);

    //  A stalled wait younger than the threshold is still listed, so that
    //  its newly_stalled (its one WAIT_TIMEOUT report) is never skipped
    waits = s_new_fake (0);
    xinf_wait_begin (waits, "a", "quick", "p", 100);
    xinf_wait_info_t info;
    CHECK_INT (xinf_waits_scan (waits, 99, 1000, &info, 1), 0);
    CHECK_INT (xinf_waits_scan (waits, 100, 1000, &info, 1), 1);
    CHECK (info.stalled && info.newly_stalled);
    xinf_waits_destroy (&waits);
}

static void
test_global (void)
{
    xinf_waits_t *global = xinf_waits_global ();
    CHECK (global);
    CHECK (xinf_waits_global () == global);
    size_t before = xinf_waits_count (global);
    uint64_t wait = xinf_wait_begin (global, "test", "global", "-", 1000);
    CHECK_INT (xinf_waits_count (global), before + 1);
    xinf_wait_end (global, wait);
    CHECK_INT (xinf_waits_count (global), before);
}

// ---- threads ---------------------------------------------------------------

#define THREADS     8
#define ITERATIONS  3000
#define OPEN_MAX    4

typedef struct {
    xinf_waits_t *waits;
    int index;
} s_worker_t;

static atomic_int s_running;

static void *
s_worker (void *arg)
{
    s_worker_t *worker = (s_worker_t *) arg;
    uint64_t open [OPEN_MAX] = { 0 };
    char name [32];
    snprintf (name, sizeof name, "thread-%d", worker->index);
    for (int iteration = 0; iteration < ITERATIONS; iteration++) {
        int slot = iteration % OPEN_MAX;
        if (open [slot])
            xinf_wait_end (worker->waits, open [slot]);
        open [slot] = xinf_wait_begin (worker->waits, name, "work", "peer", 60000);
        for (uint64_t step = 1; step <= 3; step++)
            xinf_wait_progress (worker->waits, open [(slot + step) % OPEN_MAX], step + (uint64_t) iteration);
    }
    for (int slot = 0; slot < OPEN_MAX; slot++)
        xinf_wait_end (worker->waits, open [slot]);
    atomic_fetch_sub (&s_running, 1);
    return NULL;
}

static void
test_threads (void)
{
    xinf_waits_t *waits = xinf_waits_new ();    //  the real clock
    pthread_t threads [THREADS];
    s_worker_t workers [THREADS];
    atomic_store (&s_running, THREADS);
    for (int index = 0; index < THREADS; index++) {
        workers [index].waits = waits;
        workers [index].index = index;
        CHECK (pthread_create (&threads [index], NULL, s_worker, &workers [index]) == 0);
    }
    size_t scans = 0;
    xinf_wait_info_t info [THREADS * OPEN_MAX + 1];
    while (atomic_load (&s_running) > 0) {
        size_t total = xinf_waits_scan (waits, zclock_mono (), 0, info, THREADS * OPEN_MAX + 1);
        CHECK (total <= THREADS * OPEN_MAX);
        for (size_t index = 0; index < total; index++) {
            CHECK (info [index].id != 0);
            CHECK (strncmp (info [index].actor, "thread-", 7) == 0);
            CHECK_STR (info [index].what, "work");
            CHECK (!info [index].stalled);
            if (index)
                CHECK (info [index].started >= info [index - 1].started);
        }
        xinf_value_t *snapshot = xinf_waits_snapshot (waits, zclock_mono (), 0);
        CHECK (xinf_value_count (snapshot) <= THREADS * OPEN_MAX);
        xinf_value_destroy (&snapshot);
        scans++;
    }
    for (int index = 0; index < THREADS; index++)
        pthread_join (threads [index], NULL);
    CHECK_INT (xinf_waits_count (waits), 0);
    CHECK (scans > 0);
    xinf_waits_destroy (&waits);
}

int
main (void)
{
    fprintf (stderr, "test_waits\n");
    RUN (test_begin_end);
    RUN (test_scan_threshold);
    RUN (test_stalls);
    RUN (test_stalls_many);
    RUN (test_snapshot);
    RUN (test_global);
    RUN (test_threads);
    return 0;
}
