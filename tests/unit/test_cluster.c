/*  test_cluster: the supervisor's cluster table (actors/xinf_cluster) driven
    with explicit times: registration and WELCOME, duplicate names, address
    warnings, lost after exactly liveness x interval, back only by HELLO
    (a heartbeat or any other message of a lost worker revives nothing), rejoined,
    left, a worker's runs (a HELLO again is no registration, another run of
    an alive worker is a restart, whatever its pid and connection),
    heartbeat peers, waits ageing and the event log with since/limit.  */
#include "test_unit.h"
#include "xinf_cluster.h"

static void
s_hello (xinf_hello_t *hello, const char *node, const char *host_ip, uint64_t pid)
{
    memset (hello, 0, sizeof *hello);
    snprintf (hello->node, sizeof hello->node, "%s", node);
    snprintf (hello->host_ip, sizeof hello->host_ip, "%s", host_ip);
    snprintf (hello->host_ip_source, sizeof hello->host_ip_source, "flag");
    hello->data_port_low = 29500;
    hello->data_port_high = 29599;
    hello->pid = pid;
    snprintf (hello->version, sizeof hello->version, "%s", XINF_VERSION_STRING);
    hello->cpus = 4;
    hello->devices = xinf_value_new_array ();
    hello->models = xinf_value_new_array ();
    hello->heartbeat_ms = 100;
    hello->liveness = 3;
}

static int
s_register (xinf_cluster_t *cluster, const char *node, const char *host_ip, uint64_t pid,
            const char *peer, const char *observed, int64_t now, xinf_welcome_t *welcome, char *code)
{
    xinf_hello_t hello;
    s_hello (&hello, node, host_ip, pid);
    char reason [512];
    int rc = xinf_cluster_hello (cluster, &hello, peer, observed, now, welcome, code, 32, reason, sizeof reason);
    xinf_hello_clear (&hello);
    return rc;
}

//  A HELLO of 'node' (pid 20, 127.0.0.1) from run 'instance' on 'peer'.
static int
s_register_run (xinf_cluster_t *cluster, const char *node, uint64_t instance, const char *peer, int64_t now)
{
    xinf_hello_t hello;
    s_hello (&hello, node, "127.0.0.1", 20);
    hello.instance = instance;
    xinf_welcome_t welcome;
    char code [32], reason [512];
    int rc = xinf_cluster_hello (cluster, &hello, peer, "127.0.0.1", now, &welcome, code, 32, reason, sizeof reason);
    xinf_hello_clear (&hello);
    if (rc == 0)
        xinf_welcome_clear (&welcome);
    return rc;
}

//  How many events came after 'since' (moved to the newest).
static size_t
s_events_after (xinf_cluster_t *cluster, uint64_t *since)
{
    xinf_value_t *events = xinf_cluster_events (cluster, *since, 10000, since);
    size_t count = xinf_value_count (events);
    xinf_value_destroy (&events);
    return count;
}

static const char *
s_state_of (xinf_cluster_t *cluster, const char *node, int64_t now)
{
    static char state [16];
    xinf_value_t *workers = xinf_cluster_workers (cluster, now);
    snprintf (state, sizeof state, "none");
    for (size_t index = 0; index < xinf_value_count (workers); index++) {
        xinf_value_t *worker = xinf_array_at (workers, index);
        if (streq (xinf_value_str (xinf_map_get (worker, "node")), node))
            snprintf (state, sizeof state, "%s", xinf_value_str (xinf_map_get (worker, "state")));
    }
    xinf_value_destroy (&workers);
    return state;
}

static const char *
s_last_event (xinf_cluster_t *cluster)
{
    static char kind [32];
    uint64_t next;
    xinf_value_t *events = xinf_cluster_events (cluster, 0, 10000, &next);
    xinf_value_t *last = xinf_array_at (events, xinf_value_count (events) - 1);
    snprintf (kind, sizeof kind, "%s", last ? xinf_value_str (xinf_map_get (last, "kind")) : "none");
    xinf_value_destroy (&events);
    return kind;
}

static void
test_register_and_lose (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    xinf_welcome_t welcome;
    char code [32];
    CHECK_INT (s_register (cluster, "w1", "127.0.0.1", 10, "peer-a", "127.0.0.1", 1000, &welcome, code), 0);
    CHECK_INT (welcome.heartbeat_ms, 100);
    CHECK_STR (welcome.observed_address, "127.0.0.1");
    CHECK_INT (xinf_value_count (welcome.warnings), 0);
    xinf_welcome_clear (&welcome);
    CHECK_STR (s_last_event (cluster), "joined");
    CHECK_STR (s_state_of (cluster, "w1", 1000), "alive");

    //  Silence just under the limit: alive; at the limit: lost, once
    CHECK_INT (xinf_cluster_check (cluster, 1299), 0);
    CHECK_INT (xinf_cluster_check (cluster, 1300), 1);
    CHECK_INT (xinf_cluster_check (cluster, 1400), 0);
    CHECK_STR (s_state_of (cluster, "w1", 1400), "lost");
    CHECK_STR (s_last_event (cluster), "lost");
    zlist_t *peers = xinf_cluster_heartbeat_peers (cluster);
    CHECK_INT (zlist_size (peers), 0);
    zlist_destroy (&peers);

    //  Its heartbeats come back: it must register again (NOT_REGISTERED)...
    xinf_heartbeat_msg_t beat = { .seq = 1, .waits = xinf_value_new_array () };
    CHECK_INT (xinf_cluster_heartbeat (cluster, "peer-a", &beat, 1500), -1);
    xinf_heartbeat_msg_clear (&beat);
    CHECK_STR (s_state_of (cluster, "w1", 1500), "lost");
    //  ...and so must it after any other message (a late RUN_TOKEN of its
    //  old connection): only HELLO brings it back, its replicas re-read
    CHECK_INT (xinf_cluster_seen (cluster, "peer-a", 1500), -1);
    CHECK_STR (s_state_of (cluster, "w1", 1500), "lost");
    CHECK_STR (s_last_event (cluster), "lost");

    //  Unknown peer: not registered
    beat.waits = xinf_value_new_array ();
    CHECK_INT (xinf_cluster_heartbeat (cluster, "peer-x", &beat, 1500), -1);
    xinf_heartbeat_msg_clear (&beat);

    //  Same process from a new connection: rejoined; BYE: left
    CHECK_INT (s_register (cluster, "w1", "127.0.0.1", 10, "peer-b", "127.0.0.1", 1600, &welcome, code), 0);
    xinf_welcome_clear (&welcome);
    CHECK_STR (s_last_event (cluster), "rejoined");
    xinf_cluster_bye (cluster, "peer-b", 1700);
    CHECK_STR (s_state_of (cluster, "w1", 1700), "left");
    CHECK_STR (s_last_event (cluster), "left");
    CHECK_INT (xinf_cluster_check (cluster, 9000), 0);
    xinf_cluster_destroy (&cluster);
}

static void
test_duplicates_and_warnings (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    xinf_welcome_t welcome;
    char code [32];
    CHECK_INT (s_register (cluster, "w1", "10.0.0.5", 10, "peer-a", "10.0.0.5", 0, &welcome, code), 0);
    xinf_welcome_clear (&welcome);
    //  Another process under the same name while the first is alive
    CHECK_INT (s_register (cluster, "w1", "10.0.0.6", 11, "peer-b", "10.0.0.6", 10, &welcome, code), -1);
    CHECK_STR (code, "DUPLICATE_NODE");

    //  Loopback advertised, non-loopback observed
    CHECK_INT (s_register (cluster, "w2", "127.0.0.1", 12, "peer-c", "10.0.0.9", 0, &welcome, code), 0);
    CHECK_INT (xinf_value_count (welcome.warnings), 1);
    CHECK_HAS (xinf_value_str (xinf_array_at (welcome.warnings, 0)), "loopback");
    CHECK_HAS (xinf_value_str (xinf_array_at (welcome.warnings, 0)), "XINF_HOST_IP");
    xinf_welcome_clear (&welcome);
    CHECK_STR (s_last_event (cluster), "warned");

    //  Advertised differs from observed
    CHECK_INT (s_register (cluster, "w3", "10.0.0.1", 13, "peer-d", "10.0.0.2", 0, &welcome, code), 0);
    CHECK_HAS (xinf_value_str (xinf_array_at (welcome.warnings, 0)), "advertises 10.0.0.1 but connects from 10.0.0.2");
    xinf_welcome_clear (&welcome);

    //  Both loopback (single host): no warning
    CHECK_INT (s_register (cluster, "w4", "127.0.0.1", 14, "peer-e", "127.0.0.1", 0, &welcome, code), 0);
    CHECK_INT (xinf_value_count (welcome.warnings), 0);
    xinf_welcome_clear (&welcome);

    //  The same HELLO again on the same connection before the WELCOME
    //  arrived: answered, but no new registration (no event)
    uint64_t next = 0;
    xinf_value_t *events = xinf_cluster_events (cluster, 0, 10000, &next);
    xinf_value_destroy (&events);
    CHECK_INT (s_register (cluster, "w4", "127.0.0.1", 14, "peer-e", "127.0.0.1", 5, &welcome, code), 0);
    xinf_welcome_clear (&welcome);
    events = xinf_cluster_events (cluster, next, 10000, &next);
    CHECK_INT (xinf_value_count (events), 0);
    xinf_value_destroy (&events);

    //  Another build version: registered, with a warning naming both
    xinf_hello_t hello;
    s_hello (&hello, "w5", "127.0.0.1", 15);
    snprintf (hello.version, sizeof hello.version, "9.9.9");
    char reason [512];
    CHECK_INT (xinf_cluster_hello (cluster, &hello, "peer-f", "127.0.0.1", 0, &welcome, code, 32, reason,
                                   sizeof reason), 0);
    xinf_hello_clear (&hello);
    CHECK_INT (xinf_value_count (welcome.warnings), 1);
    CHECK_HAS (xinf_value_str (xinf_array_at (welcome.warnings, 0)), "runs xinf 9.9.9, the supervisor " XINF_VERSION_STRING);
    xinf_welcome_clear (&welcome);
    xinf_cluster_destroy (&cluster);
}

//  A run of a worker is its pid and instance: a HELLO again of the same
//  run is a repeat; another instance under the name of an alive worker
//  is a restart (even with the same pid and connection), a registration;
//  after a loss a new run is not "restarted" (its replicas were healed).
static void
test_restarted_runs (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    uint64_t seq = 0;
    CHECK_INT (s_register_run (cluster, "w6", 5, "peer-g", 0), 0);
    CHECK_INT (s_events_after (cluster, &seq), 1);
    CHECK (!xinf_cluster_restarted (cluster, "w6"));
    //  The same run again on its connection: a repeat
    CHECK_INT (s_register_run (cluster, "w6", 5, "peer-g", 10), 0);
    CHECK_INT (s_events_after (cluster, &seq), 0);
    CHECK (!xinf_cluster_restarted (cluster, "w6"));
    //  Another run, same pid, same connection: restarted, rejoined
    CHECK_INT (s_register_run (cluster, "w6", 6, "peer-g", 20), 0);
    CHECK_INT (s_events_after (cluster, &seq), 1);
    CHECK_STR (s_last_event (cluster), "rejoined");
    CHECK (xinf_cluster_restarted (cluster, "w6"));
    CHECK_STR (s_state_of (cluster, "w6", 20), "alive");
    //  Its HELLO again: a repeat, no longer a restart
    CHECK_INT (s_register_run (cluster, "w6", 6, "peer-g", 30), 0);
    CHECK_INT (s_events_after (cluster, &seq), 0);
    CHECK (!xinf_cluster_restarted (cluster, "w6"));
    //  Another run on a new connection, same pid and host: restarted
    CHECK_INT (s_register_run (cluster, "w6", 7, "peer-h", 40), 0);
    CHECK (xinf_cluster_restarted (cluster, "w6"));
    //  The same run from a new connection (it reconnected): not a restart
    CHECK_INT (s_register_run (cluster, "w6", 7, "peer-i", 50), 0);
    CHECK_STR (s_last_event (cluster), "rejoined");
    CHECK (!xinf_cluster_restarted (cluster, "w6"));
    //  The run it replaced comes back while it is alive: two processes
    //  share the name, pid and host; refused, not another takeover
    xinf_hello_t hello;
    s_hello (&hello, "w6", "127.0.0.1", 20);
    hello.instance = 6;
    xinf_welcome_t welcome;
    char code [32], reason [512];
    CHECK_INT (xinf_cluster_hello (cluster, &hello, "peer-g", "127.0.0.1", 60, &welcome, code, 32, reason,
                                   sizeof reason), -1);
    xinf_hello_clear (&hello);
    CHECK_STR (code, "DUPLICATE_NODE");
    CHECK_HAS (reason, "two running workers");
    CHECK_STR (xinf_cluster_node_of (cluster, "peer-i"), "w6");
    CHECK (xinf_cluster_node_of (cluster, "peer-g") == NULL);
    //  Lost, then a new run: rejoined, not restarted while alive
    CHECK_INT (xinf_cluster_check (cluster, 1000), 1);
    CHECK_INT (s_register_run (cluster, "w6", 8, "peer-j", 1100), 0);
    CHECK_STR (s_last_event (cluster), "rejoined");
    CHECK (!xinf_cluster_restarted (cluster, "w6"));
    //  Workers of an older build send no instance: the pid alone says
    CHECK_INT (s_register_run (cluster, "w7", 0, "peer-k", 1100), 0);
    CHECK_INT (s_register_run (cluster, "w7", 0, "peer-k", 1110), 0);
    CHECK (!xinf_cluster_restarted (cluster, "w7"));
    CHECK (!xinf_cluster_restarted (cluster, "nosuch"));
    xinf_cluster_destroy (&cluster);
}

static void
test_waits_and_events (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    xinf_welcome_t welcome;
    char code [32];
    CHECK_INT (s_register (cluster, "w1", "127.0.0.1", 10, "peer-a", "127.0.0.1", 0, &welcome, code), 0);
    xinf_welcome_clear (&welcome);
    xinf_heartbeat_msg_t beat = { .seq = 1, .waits = xinf_value_new_array () };
    xinf_value_t *wait = xinf_value_new_map ();
    xinf_map_put_uint (wait, "id", 1);
    xinf_map_put_str (wait, "what", "rendezvous");
    xinf_map_put_uint (wait, "age_ms", 500);
    xinf_map_put_uint (wait, "idle_ms", 100);
    xinf_array_push (beat.waits, wait);
    CHECK_INT (xinf_cluster_heartbeat (cluster, "peer-a", &beat, 50), 0);
    xinf_heartbeat_msg_clear (&beat);
    //  Reported 30 ms later: aged by 30 ms, named with its node
    xinf_value_t *waits = xinf_cluster_waits (cluster, 80);
    bool found = false;
    for (size_t index = 0; index < xinf_value_count (waits); index++) {
        xinf_value_t *item = xinf_array_at (waits, index);
        if (streq (xinf_value_str (xinf_map_get (item, "node")), "w1")) {
            found = true;
            CHECK_INT (xinf_value_uint (xinf_map_get (item, "age_ms")), 530);
            CHECK_INT (xinf_value_uint (xinf_map_get (item, "idle_ms")), 130);
        }
    }
    CHECK (found);
    xinf_value_destroy (&waits);

    //  More events than kept: the oldest go, seq stays increasing, since/limit work
    for (int index = 0; index < XINF_EVENTS_KEPT + 50; index++)
        xinf_cluster_event (cluster, "warned", "w1", "event %d", index);
    uint64_t next;
    xinf_value_t *events = xinf_cluster_events (cluster, 0, 10000, &next);
    CHECK_INT (xinf_value_count (events), XINF_EVENTS_KEPT);
    uint64_t first = xinf_value_uint (xinf_map_get (xinf_array_at (events, 0), "seq"));
    CHECK_INT (first, next - XINF_EVENTS_KEPT + 1);
    xinf_value_destroy (&events);
    uint64_t last = next, middle, after;
    events = xinf_cluster_events (cluster, last - 3, 2, &middle);
    CHECK_INT (xinf_value_count (events), 2);
    CHECK_INT (middle, last - 1);
    xinf_value_destroy (&events);
    events = xinf_cluster_events (cluster, middle, 10, &after);
    CHECK_INT (xinf_value_count (events), 1);
    CHECK_INT (after, last);
    xinf_value_destroy (&events);
    events = xinf_cluster_events (cluster, after, 10, &after);
    CHECK_INT (xinf_value_count (events), 0);
    CHECK_INT (after, last);
    xinf_value_destroy (&events);
    //  Without 'since': the newest 'limit', oldest first
    events = xinf_cluster_events (cluster, 0, 3, &after);
    CHECK_INT (xinf_value_count (events), 3);
    CHECK_INT (xinf_value_uint (xinf_map_get (xinf_array_at (events, 0), "seq")), last - 2);
    CHECK_INT (after, last);
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_array_at (events, 2), "detail")), "event 10049");
    xinf_value_destroy (&events);
    xinf_cluster_destroy (&cluster);
}

//  The peer index: a worker found by its connection, the newest HELLO on
//  a connection winning, an older worker on it found again when the newer
//  one leaves, nothing after BYE or once forgotten.
static void
test_peer_index (void)
{
    xinf_cluster_t *cluster = xinf_cluster_new ("sup", 100, 3);
    CHECK_INT (s_register_run (cluster, "w1", 1, "peer-a", 1000), 0);
    CHECK_STR (xinf_cluster_node_of (cluster, "peer-a"), "w1");
    CHECK (xinf_cluster_alive_peer (cluster, "peer-a"));
    CHECK (!xinf_cluster_alive_peer (cluster, "peer-x"));
    CHECK (xinf_cluster_node_of (cluster, "peer-x") == NULL);

    //  w1 from another connection: the old one leads nowhere
    CHECK_INT (s_register_run (cluster, "w1", 1, "peer-b", 1100), 0);
    CHECK (xinf_cluster_node_of (cluster, "peer-a") == NULL);
    CHECK_STR (xinf_cluster_node_of (cluster, "peer-b"), "w1");

    //  w2 registers on w1's connection: the newest wins; when it leaves,
    //  w1 is found there again
    CHECK_INT (s_register_run (cluster, "w2", 2, "peer-b", 1200), 0);
    CHECK_STR (xinf_cluster_node_of (cluster, "peer-b"), "w2");
    xinf_cluster_bye (cluster, "peer-b", 1250);
    CHECK_STR (s_state_of (cluster, "w2", 1250), "left");
    CHECK_STR (xinf_cluster_node_of (cluster, "peer-b"), "w1");

    //  Lost: still known by its connection, but not alive; forgotten: gone
    CHECK_INT (xinf_cluster_check (cluster, 1500), 1);
    CHECK_STR (xinf_cluster_node_of (cluster, "peer-b"), "w1");
    CHECK (!xinf_cluster_alive_peer (cluster, "peer-b"));
    xinf_cluster_set_forget (cluster, 1000);
    xinf_cluster_check (cluster, 2600);
    CHECK_STR (s_state_of (cluster, "w1", 2600), "none");
    CHECK (xinf_cluster_node_of (cluster, "peer-b") == NULL);

    //  Registered again after BYE: found again
    CHECK_INT (s_register_run (cluster, "w2", 3, "peer-c", 2700), 0);
    CHECK_STR (xinf_cluster_node_of (cluster, "peer-c"), "w2");
    CHECK (xinf_cluster_alive_peer (cluster, "peer-c"));
    xinf_cluster_destroy (&cluster);
}

int
main (void)
{
    xinf_log_set_level (XINF_LOG_ERROR);
    RUN (test_register_and_lose);
    RUN (test_duplicates_and_warnings);
    RUN (test_restarted_runs);
    RUN (test_waits_and_events);
    RUN (test_peer_index);
    return 0;
}
