/*  test_heartbeat: xinf_heartbeat, the liveness tracker, on fake time.

    A peer is lost exactly when liveness x interval passed in silence (the
    on_lost callback gets that silence), once; hearing from it again
    recovers it (on_recovered gets the silence). Also: our own beat's
    send_due/sent, add/remove/known, age and lost_since, and callbacks that
    change the peer table while a check runs.
*/
#include "test_unit.h"

typedef struct {
    int lost;
    int recovered;
    char last_peer [64];
    int64_t last_silence;
    xinf_heartbeat_t *heartbeat;      //  for callbacks that change the table
} s_events_t;

static void
s_on_lost (const char *peer, int64_t silence_ms, void *arg)
{
    s_events_t *events = (s_events_t *) arg;
    events->lost++;
    snprintf (events->last_peer, sizeof events->last_peer, "%s", peer);
    events->last_silence = silence_ms;
}

static void
s_on_recovered (const char *peer, int64_t silence_ms, void *arg)
{
    s_events_t *events = (s_events_t *) arg;
    events->recovered++;
    snprintf (events->last_peer, sizeof events->last_peer, "%s", peer);
    events->last_silence = silence_ms;
}

static xinf_heartbeat_t *
s_new (s_events_t *events)
{
    memset (events, 0, sizeof *events);
    xinf_heartbeat_t *heartbeat = xinf_heartbeat_new (1000, 3);
    CHECK (heartbeat);
    xinf_heartbeat_set_callbacks (heartbeat, s_on_lost, s_on_recovered, events);
    events->heartbeat = heartbeat;
    return heartbeat;
}

static void
test_lost_and_recovered (void)
{
    s_events_t events;
    xinf_heartbeat_t *heartbeat = s_new (&events);
    CHECK_INT (xinf_heartbeat_interval (heartbeat), 1000);
    CHECK_INT (xinf_heartbeat_liveness (heartbeat), 3);
    xinf_heartbeat_add (heartbeat, "worker-1", 10000);
    CHECK (xinf_heartbeat_known (heartbeat, "worker-1"));
    CHECK_INT (xinf_heartbeat_state (heartbeat, "worker-1"), XINF_PEER_ALIVE);
    CHECK_INT (xinf_heartbeat_check (heartbeat, 12999), 0);
    CHECK_INT (events.lost, 0);
    CHECK_INT (xinf_heartbeat_check (heartbeat, 13000), 1);   //  3 x 1000 ms of silence
    CHECK_INT (events.lost, 1);
    CHECK_STR (events.last_peer, "worker-1");
    CHECK_INT (events.last_silence, 3000);
    CHECK_INT (xinf_heartbeat_state (heartbeat, "worker-1"), XINF_PEER_LOST);
    CHECK_INT (xinf_heartbeat_lost_since (heartbeat, "worker-1"), 13000);
    CHECK_INT (xinf_heartbeat_age (heartbeat, "worker-1", 13500), 3500);
    //  Lost once, not on every check
    CHECK_INT (xinf_heartbeat_check (heartbeat, 14000), 0);
    CHECK_INT (xinf_heartbeat_check (heartbeat, 60000), 0);
    CHECK_INT (events.lost, 1);
    CHECK_INT (xinf_heartbeat_lost_since (heartbeat, "worker-1"), 13000);

    xinf_heartbeat_seen (heartbeat, "worker-1", 20000);
    CHECK_INT (events.recovered, 1);
    CHECK_STR (events.last_peer, "worker-1");
    CHECK_INT (events.last_silence, 10000);
    CHECK_INT (xinf_heartbeat_state (heartbeat, "worker-1"), XINF_PEER_ALIVE);
    CHECK_INT (xinf_heartbeat_lost_since (heartbeat, "worker-1"), 0);
    CHECK_INT (xinf_heartbeat_age (heartbeat, "worker-1", 20100), 100);
    //  Seen again while alive: no callback
    xinf_heartbeat_seen (heartbeat, "worker-1", 20500);
    CHECK_INT (events.recovered, 1);
    //  And it can be lost again
    CHECK_INT (xinf_heartbeat_check (heartbeat, 23499), 0);
    CHECK_INT (xinf_heartbeat_check (heartbeat, 23500), 1);
    CHECK_INT (events.lost, 2);
    xinf_heartbeat_destroy (&heartbeat);
    CHECK (heartbeat == NULL);
}

static void
test_seen_keeps_alive (void)
{
    s_events_t events;
    xinf_heartbeat_t *heartbeat = s_new (&events);
    xinf_heartbeat_add (heartbeat, "a", 0);
    xinf_heartbeat_add (heartbeat, "b", 0);
    //  'a' is heard from every 2.9 s: never lost; 'b' is silent
    for (int64_t now = 0; now <= 30000; now += 100) {
        if (now % 2900 == 0)
            xinf_heartbeat_seen (heartbeat, "a", now);
        xinf_heartbeat_check (heartbeat, now);
    }
    CHECK_INT (xinf_heartbeat_state (heartbeat, "a"), XINF_PEER_ALIVE);
    CHECK_INT (xinf_heartbeat_state (heartbeat, "b"), XINF_PEER_LOST);
    CHECK_INT (xinf_heartbeat_lost_since (heartbeat, "b"), 3000);
    CHECK_INT (events.lost, 1);
    CHECK_STR (events.last_peer, "b");
    CHECK_INT (events.recovered, 0);
    xinf_heartbeat_destroy (&heartbeat);
}

static void
test_table (void)
{
    s_events_t events;
    xinf_heartbeat_t *heartbeat = s_new (&events);
    CHECK_INT (xinf_heartbeat_size (heartbeat), 0);
    CHECK (!xinf_heartbeat_known (heartbeat, "x"));
    CHECK_INT (xinf_heartbeat_age (heartbeat, "x", 5), -1);
    CHECK_INT (xinf_heartbeat_lost_since (heartbeat, "x"), 0);
    CHECK_INT (xinf_heartbeat_state (heartbeat, "x"), XINF_PEER_ALIVE);
    xinf_heartbeat_add (heartbeat, "x", 100);
    xinf_heartbeat_add (heartbeat, "x", 900);       //  already tracked: no-op
    CHECK_INT (xinf_heartbeat_size (heartbeat), 1);
    CHECK_INT (xinf_heartbeat_age (heartbeat, "x", 1000), 900);
    //  seen adds an unknown peer, alive, without callbacks
    xinf_heartbeat_seen (heartbeat, "y", 500);
    CHECK (xinf_heartbeat_known (heartbeat, "y"));
    CHECK_INT (xinf_heartbeat_size (heartbeat), 2);
    CHECK_INT (events.recovered, 0);
    CHECK_INT (xinf_heartbeat_check (heartbeat, 3100), 1);   //  x, not y
    CHECK_STR (events.last_peer, "x");
    xinf_heartbeat_remove (heartbeat, "x");
    CHECK (!xinf_heartbeat_known (heartbeat, "x"));
    CHECK_INT (xinf_heartbeat_size (heartbeat), 1);
    CHECK_INT (xinf_heartbeat_age (heartbeat, "x", 4000), -1);
    CHECK_INT (xinf_heartbeat_lost_since (heartbeat, "x"), 0);
    xinf_heartbeat_remove (heartbeat, "x");          //  twice is harmless
    CHECK_INT (xinf_heartbeat_check (heartbeat, 3500), 1);   //  now y
    CHECK_STR (events.last_peer, "y");
    xinf_heartbeat_destroy (&heartbeat);
}

static void
test_send_due (void)
{
    s_events_t events;
    xinf_heartbeat_t *heartbeat = s_new (&events);
    CHECK (xinf_heartbeat_send_due (heartbeat, 0));  //  never sent: due
    CHECK (xinf_heartbeat_send_due (heartbeat, -5000));
    xinf_heartbeat_sent (heartbeat, 1000);
    CHECK (!xinf_heartbeat_send_due (heartbeat, 1000));
    CHECK (!xinf_heartbeat_send_due (heartbeat, 1999));
    CHECK (xinf_heartbeat_send_due (heartbeat, 2000));
    CHECK (xinf_heartbeat_send_due (heartbeat, 9000));
    xinf_heartbeat_sent (heartbeat, 9000);
    CHECK (!xinf_heartbeat_send_due (heartbeat, 9999));
    xinf_heartbeat_destroy (&heartbeat);
}

//  A lost callback that removes the lost peer and adds another.
static void
s_on_lost_replace (const char *peer, int64_t silence_ms, void *arg)
{
    s_events_t *events = (s_events_t *) arg;
    events->lost++;
    char name [64];
    snprintf (name, sizeof name, "%s", peer);
    xinf_heartbeat_remove (events->heartbeat, name);
    snprintf (name, sizeof name, "replacement-%d", events->lost);
    xinf_heartbeat_add (events->heartbeat, name, 100000);
}

static void
test_callbacks_change_table (void)
{
    s_events_t events;
    xinf_heartbeat_t *heartbeat = s_new (&events);
    xinf_heartbeat_set_callbacks (heartbeat, s_on_lost_replace, NULL, &events);
    for (int index = 0; index < 20; index++) {
        char name [32];
        snprintf (name, sizeof name, "peer-%d", index);
        xinf_heartbeat_add (heartbeat, name, 0);
    }
    CHECK_INT (xinf_heartbeat_check (heartbeat, 5000), 20);
    CHECK_INT (events.lost, 20);
    CHECK_INT (xinf_heartbeat_size (heartbeat), 20);
    CHECK (xinf_heartbeat_known (heartbeat, "replacement-20"));
    CHECK (!xinf_heartbeat_known (heartbeat, "peer-0"));
    //  Without callbacks, losing and recovering still happen
    xinf_heartbeat_set_callbacks (heartbeat, NULL, NULL, NULL);
    CHECK_INT (xinf_heartbeat_check (heartbeat, 103000), 20);
    CHECK_INT (events.lost, 20);
    xinf_heartbeat_seen (heartbeat, "replacement-1", 104000);
    CHECK_INT (xinf_heartbeat_state (heartbeat, "replacement-1"), XINF_PEER_ALIVE);
    CHECK_INT (xinf_heartbeat_check (heartbeat, 200000), 1);
    CHECK_INT (xinf_heartbeat_lost_since (heartbeat, "replacement-1"), 200000);
    xinf_heartbeat_destroy (&heartbeat);
}

int
main (void)
{
    fprintf (stderr, "test_heartbeat\n");
    RUN (test_lost_and_recovered);
    RUN (test_seen_keeps_alive);
    RUN (test_table);
    RUN (test_send_due);
    RUN (test_callbacks_change_table);
    return 0;
}
