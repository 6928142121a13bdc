/*  xinf_cluster: the worker table, liveness, warnings, waits and events.  */
#include "xinf_cluster.h"
#include "xinf_resources.h"

#include <stdarg.h>

typedef struct {
    xinf_hello_t hello;
    char peer_id [512];
    char observed [64];
    int state;                        //  xinf_worker_fsm
    int64_t state_since;
    int64_t registered_at;
    xinf_value_t *warnings;       //  array of str
    xinf_value_t *waits;          //  latest reported, array of wait maps
    int64_t waits_at;
    uint64_t refused_pid;         //  the last other process refused this name (logged once)
    bool restarted;               //  its last HELLO came, while it was alive, from another run of it
    uint64_t replaced;            //  the instance that run replaced (0: none, or an older build)
    char key [41];                //  its CURVE public key (Z85) when keys are on, else ""
} s_worker_t;

typedef struct {
    uint64_t seq;
    uint64_t time_ms;
    char kind [24];
    char node [XINF_NODE_NAME_MAX + 1];
    char *detail;
} s_event_t;

struct _xinf_cluster_t {
    char name [XINF_NODE_NAME_MAX + 1];
    int64_t heartbeat_ms;
    int64_t forget_ms;                //  lost workers leave the table after it (0: never)
    xinf_cluster_event_fn *event_fn;  //  told of every event, with event_arg
    void *event_arg;
    int liveness;
    zhashx_t *workers;            //  node name -> s_worker_t
    zhashx_t *by_peer;            //  peer id -> s_worker_t not LEFT (not owned)
    xinf_heartbeat_t *liveness_tracker;
    s_event_t *events;            //  ring of XINF_EVENTS_KEPT
    uint64_t next_seq;            //  seq of the next event, from 1
    xinf_cluster_lost_fn *lost_fn;
    void *lost_arg;
    int64_t now;                      //  the latest time a caller gave (liveness callbacks)
};

static void
s_worker_destroy (void **item)
{
    s_worker_t *worker = (s_worker_t *) *item;
    xinf_hello_clear (&worker->hello);
    xinf_value_destroy (&worker->warnings);
    xinf_value_destroy (&worker->waits);
    free (worker);
    *item = NULL;
}

static void
s_on_lost (const char *node, int64_t silence_ms, void *arg)
{
    xinf_cluster_t *self = (xinf_cluster_t *) arg;
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    if (!worker || worker->state != XINF_WORKER_ALIVE)
        return;
    xinf_fsm_move (&xinf_worker_fsm, &worker->state, XINF_WORKER_LOST, node);
    worker->state_since = self->now;
    xinf_warn ("supervisor", "worker lost node=%s silence_ms=%lld limit_ms=%lld host_ip=%s observed=%s",
               node, (long long) silence_ms, (long long) (self->heartbeat_ms * self->liveness),
               worker->hello.host_ip, worker->observed);
    xinf_cluster_event (self, "lost", node, "no heartbeat for %lld ms (limit %lld ms = %d x %lld ms)",
                        (long long) silence_ms, (long long) (self->heartbeat_ms * self->liveness),
                        self->liveness, (long long) self->heartbeat_ms);
    if (self->lost_fn)
        self->lost_fn (node, "was lost (no heartbeat)", self->lost_arg);
}

static void
s_on_recovered (const char *node, int64_t silence_ms, void *arg)
{
    xinf_cluster_t *self = (xinf_cluster_t *) arg;
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    if (!worker || worker->state != XINF_WORKER_LOST)
        return;
    xinf_fsm_move (&xinf_worker_fsm, &worker->state, XINF_WORKER_ALIVE, node);
    worker->state_since = self->now;
    xinf_info ("supervisor", "worker recovered node=%s silence_ms=%lld", node, (long long) silence_ms);
    xinf_cluster_event (self, "recovered", node, "heard again after %lld ms of silence", (long long) silence_ms);
}

xinf_cluster_t *
xinf_cluster_new (const char *supervisor_name, int64_t heartbeat_ms, int liveness)
{
    xinf_cluster_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->name, sizeof self->name, "%s", supervisor_name);
    self->heartbeat_ms = heartbeat_ms;
    self->liveness = liveness;
    self->workers = zhashx_new ();
    zhashx_set_destructor (self->workers, s_worker_destroy);
    self->by_peer = zhashx_new ();
    self->liveness_tracker = xinf_heartbeat_new (heartbeat_ms, liveness);
    xinf_heartbeat_set_callbacks (self->liveness_tracker, s_on_lost, s_on_recovered, self);
    self->events = calloc (XINF_EVENTS_KEPT, sizeof (s_event_t));
    assert (self->events);
    self->next_seq = 1;
    return self;
}

void
xinf_cluster_destroy (xinf_cluster_t **self_p)
{
    if (self_p && *self_p) {
        xinf_cluster_t *self = *self_p;
        zhashx_destroy (&self->by_peer);
        zhashx_destroy (&self->workers);
        xinf_heartbeat_destroy (&self->liveness_tracker);
        for (size_t index = 0; index < XINF_EVENTS_KEPT; index++)
            free (self->events [index].detail);
        free (self->events);
        free (self);
        *self_p = NULL;
    }
}

//  Logs one event at 'time_ms' and tells the sink (the journal).
static void
s_log_event (xinf_cluster_t *self, uint64_t time_ms, const char *kind, const char *node, const char *detail)
{
    s_event_t *event = &self->events [(self->next_seq - 1) % XINF_EVENTS_KEPT];
    free (event->detail);
    event->seq = self->next_seq++;
    event->time_ms = time_ms;
    snprintf (event->kind, sizeof event->kind, "%s", kind);
    snprintf (event->node, sizeof event->node, "%s", node);
    event->detail = strdup (detail);
    if (self->event_fn)
        self->event_fn (event->time_ms, event->kind, event->node, event->detail, self->event_arg);
}

void
xinf_cluster_event (xinf_cluster_t *self, const char *kind, const char *node, const char *format, ...)
{
    char detail [1024];
    va_list args;
    va_start (args, format);
    xinf_vtextf (detail, sizeof detail, format, args);
    va_end (args);
    s_log_event (self, (uint64_t) zclock_time (), kind, node, detail);
}

void
xinf_cluster_on_event (xinf_cluster_t *self, xinf_cluster_event_fn *fn, void *arg)
{
    self->event_fn = fn;
    self->event_arg = arg;
}

void
xinf_cluster_event_copy (xinf_cluster_t *self, uint64_t time_ms, const char *kind, const char *node,
                         const char *detail)
{
    s_log_event (self, time_ms, kind, node, detail);
}

//  The worker (not LEFT) whose connection 'peer_id' is: looked up on every
//  message from a worker, so kept in an index rather than scanned.
static s_worker_t *
s_by_peer (xinf_cluster_t *self, const char *peer_id)
{
    return (s_worker_t *) zhashx_lookup (self->by_peer, peer_id);
}

//  The worker's connection no longer leads to it (it left, is forgotten,
//  or registered from another): another worker still on that connection,
//  if any, takes its place in the index.
static void
s_unindex (xinf_cluster_t *self, s_worker_t *worker)
{
    if (zhashx_lookup (self->by_peer, worker->peer_id) != worker)
        return;
    zhashx_delete (self->by_peer, worker->peer_id);
    for (s_worker_t *other = (s_worker_t *) zhashx_first (self->workers); other;
         other = (s_worker_t *) zhashx_next (self->workers))
        if (other != worker && other->state != XINF_WORKER_LEFT && streq (other->peer_id, worker->peer_id)) {
            zhashx_update (self->by_peer, other->peer_id, other);
            break;
        }
}

//  A worker with GPUs whose build lacks NCCL, or does not say whether it
//  has it, serves GPU replicas but no rank of a tensor-parallel one: a
//  warning with the fix ("" when there is nothing to say).
static void
s_nccl_warning (const xinf_hello_t *hello, char *text, size_t size)
{
    size_t gpus = 0;
    for (size_t index = 0; index < xinf_value_count (hello->devices); index++) {
        const char *kind = xinf_value_str (xinf_map_get (xinf_array_at (hello->devices, index), "kind"));
        gpus += kind && streq (kind, "gpu");
    }
    *text = 0;
    if (gpus && !hello->nccl)
        xinf_textf (text, size, "worker %s has %zu GPU(s) but %s: it takes GPU replicas but no rank of a tensor-parallel "
                    "one (--device gpu --n-worker N); run an xinf built where CMake finds nccl.h and libnccl",
                    hello->node, gpus, hello->nccl_said ? "its build has no NCCL"
                                                        : "does not say whether its build has NCCL (an older xinf)");
}

//  The address checks of DESIGN.md step 3, and the build's, as warnings
//  with the fix.
static xinf_value_t *
s_address_warnings (xinf_cluster_t *self, const xinf_hello_t *hello, const char *observed)
{
    xinf_value_t *warnings = xinf_value_new_array ();
    char text [512];
    if (*observed && xinf_address_is_loopback (hello->host_ip) && !xinf_address_is_loopback (observed)) {
        xinf_textf (text, sizeof text, "worker %s advertises loopback address %s while it reaches the supervisor from %s: "
                    "other hosts cannot reach it; set -H / XINF_HOST_IP on %s to an address other nodes can reach",
                    hello->node, hello->host_ip, observed, hello->node);
        xinf_array_push (warnings, xinf_value_new_str (text));
    }
    else
    if (*observed && strcmp (hello->host_ip, observed) != 0
    && !(xinf_address_is_loopback (hello->host_ip) && xinf_address_is_loopback (observed))) {
        xinf_textf (text, sizeof text, "worker %s advertises %s but connects from %s: peers will dial %s; "
                    "set -H / XINF_HOST_IP on %s to the address other nodes reach it at",
                    hello->node, hello->host_ip, observed, hello->host_ip, hello->node);
        xinf_array_push (warnings, xinf_value_new_str (text));
    }
    if (strcmp (hello->version, XINF_VERSION_STRING) != 0) {
        xinf_textf (text, sizeof text, "worker %s runs xinf %s, the supervisor %s: mixed builds may disagree on "
                    "models and kernels; run the same version on every node", hello->node, hello->version,
                    XINF_VERSION_STRING);
        xinf_array_push (warnings, xinf_value_new_str (text));
    }
    if ((int64_t) hello->heartbeat_ms != self->heartbeat_ms || (int) hello->liveness != self->liveness) {
        xinf_textf (text, sizeof text, "worker %s was started with --heartbeat-ms %llu --liveness %llu, the supervisor uses "
                    "%lld and %d: the worker adopts the supervisor's; start both with the same values",
                    hello->node, (unsigned long long) hello->heartbeat_ms, (unsigned long long) hello->liveness,
                    (long long) self->heartbeat_ms, self->liveness);
        xinf_array_push (warnings, xinf_value_new_str (text));
    }
    s_nccl_warning (hello, text, sizeof text);
    if (*text)
        xinf_array_push (warnings, xinf_value_new_str (text));
    return warnings;
}

static void
s_fill_welcome (xinf_cluster_t *self, s_worker_t *worker, xinf_welcome_t *welcome)
{
    memset (welcome, 0, sizeof *welcome);
    snprintf (welcome->supervisor, sizeof welcome->supervisor, "%s", self->name);
    welcome->heartbeat_ms = (uint64_t) self->heartbeat_ms;
    welcome->liveness = (uint64_t) self->liveness;
    snprintf (welcome->observed_address, sizeof welcome->observed_address, "%s", worker->observed);
    welcome->warnings = xinf_value_dup (worker->warnings);
}

//  Whether a HELLO comes from the run of the worker registered as 'worker':
//  the same pid and instance (0 on both sides for workers of an older
//  build: the pid alone says).
static bool
s_same_run (const s_worker_t *worker, const xinf_hello_t *hello)
{
    return worker->hello.pid == hello->pid && worker->hello.instance == hello->instance;
}

//  Whether a HELLO comes from the run that another run of the same name
//  replaced while alive, the replacement still alive: two processes that
//  share a name, pid and host (host-network containers each with pid 1)
//  would otherwise take the name from each other at every HELLO, each
//  taking-over healing the other's replicas.
static bool
s_replaced_run_back (const s_worker_t *worker, const xinf_hello_t *hello)
{
    return worker && worker->state == XINF_WORKER_ALIVE && hello->instance
        && hello->instance == worker->replaced && !s_same_run (worker, hello);
}

int
xinf_cluster_hello (xinf_cluster_t *self, xinf_hello_t *hello, const char *peer_id,
                    const char *observed, int64_t now, xinf_welcome_t *welcome,
                    char *code, size_t code_size, char *reason, size_t reason_size)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, hello->node);
    if (worker && worker->state == XINF_WORKER_ALIVE && strcmp (worker->peer_id, peer_id) != 0
    && (worker->hello.pid != hello->pid || strcmp (worker->hello.host_ip, hello->host_ip) != 0)) {
        snprintf (code, code_size, "DUPLICATE_NODE");
        snprintf (reason, reason_size, "node name '%s' is already registered by pid %llu at %s (observed %s); "
                  "give each worker its own --node-name", hello->node,
                  (unsigned long long) worker->hello.pid, worker->hello.host_ip, worker->observed);
        //  Logged once a claimant: it retries every few seconds
        if (worker->refused_pid != hello->pid)
            xinf_warn ("supervisor", "registration refused node=%s pid=%llu code=%s reason=\"%s\"", hello->node,
                       (unsigned long long) hello->pid, code, reason);
        worker->refused_pid = hello->pid;
        return -1;
    }
    if (s_replaced_run_back (worker, hello)) {
        snprintf (code, code_size, "DUPLICATE_NODE");
        snprintf (reason, reason_size, "node name '%s' is used by two running workers (pid %llu at %s both): the "
                  "one observed at %s replaced this one and is alive; give each worker its own --node-name",
                  hello->node, (unsigned long long) hello->pid, hello->host_ip, worker->observed);
        if (worker->refused_pid != hello->pid)
            xinf_warn ("supervisor", "registration refused node=%s pid=%llu instance=%llu code=%s reason=\"%s\"",
                       hello->node, (unsigned long long) hello->pid, (unsigned long long) hello->instance, code, reason);
        worker->refused_pid = hello->pid;
        return -1;
    }
    //  A HELLO sent again before our WELCOME reached the worker: answered
    //  the same, but it is not a new registration (no log line, no event).
    //  Another run of an alive worker (restarted within the liveness
    //  window, maybe with the same pid and connection) is not one: what the
    //  old run hosted and the new one does not list is gone
    bool alive = worker && worker->state == XINF_WORKER_ALIVE;
    bool restarted = alive && !s_same_run (worker, hello);
    bool repeat = alive && !restarted && strcmp (worker->peer_id, peer_id) == 0;
    bool again = worker != NULL;
    if (!worker) {
        worker = calloc (1, sizeof *worker);
        assert (worker);
        zhashx_insert (self->workers, hello->node, worker);
    }
    else
        s_unindex (self, worker);
    if (restarted)
        worker->replaced = worker->hello.instance;
    xinf_hello_clear (&worker->hello);
    worker->hello = *hello;
    memset (hello, 0, sizeof *hello);
    snprintf (worker->peer_id, sizeof worker->peer_id, "%s", peer_id);
    zhashx_update (self->by_peer, worker->peer_id, worker);
    snprintf (worker->observed, sizeof worker->observed, "%s", observed);
    worker->restarted = restarted;
    xinf_fsm_move (&xinf_worker_fsm, &worker->state, XINF_WORKER_ALIVE, worker->hello.node);
    if (!repeat)
        worker->state_since = worker->registered_at = now;
    xinf_value_destroy (&worker->warnings);
    worker->warnings = s_address_warnings (self, &worker->hello, worker->observed);
    xinf_value_destroy (&worker->waits);
    worker->waits = xinf_value_new_array ();
    xinf_heartbeat_remove (self->liveness_tracker, worker->hello.node);
    xinf_heartbeat_add (self->liveness_tracker, worker->hello.node, now);

    const char *node = worker->hello.node;
    if (repeat) {
        xinf_debug ("supervisor", "HELLO again from node=%s: answered, not a new registration", node);
        s_fill_welcome (self, worker, welcome);
        return 0;
    }
    xinf_info ("supervisor", "worker %s node=%s host_ip=%s (%s) observed=%s pid=%llu cpus=%llu devices=%zu models=%zu",
               restarted ? "restarted and re-registered" : again ? "re-registered" : "registered", node, worker->hello.host_ip, worker->hello.host_ip_source,
               worker->observed, (unsigned long long) worker->hello.pid, (unsigned long long) worker->hello.cpus,
               xinf_value_count (worker->hello.devices), xinf_value_count (worker->hello.models));
    xinf_cluster_event (self, again ? "rejoined" : "joined", node, "%shost_ip=%s observed=%s pid=%llu models=%zu",
                        restarted ? "restarted while alive: " : "", worker->hello.host_ip, worker->observed,
                        (unsigned long long) worker->hello.pid, xinf_value_count (worker->hello.models));
    for (size_t index = 0; index < xinf_value_count (worker->warnings); index++) {
        const char *warning = xinf_value_str (xinf_array_at (worker->warnings, index));
        xinf_warn ("supervisor", "address check node=%s: %s", node, warning);
        xinf_cluster_event (self, "warned", node, "%s", warning);
    }
    s_fill_welcome (self, worker, welcome);
    return 0;
}

int
xinf_cluster_heartbeat (xinf_cluster_t *self, const char *peer_id, xinf_heartbeat_msg_t *beat, int64_t now)
{
    s_worker_t *worker = s_by_peer (self, peer_id);
    //  A lost worker registers again (HELLO), so that its replicas and
    //  state are re-read rather than guessed
    if (!worker || worker->state == XINF_WORKER_LOST)
        return -1;
    self->now = now;
    xinf_heartbeat_seen (self->liveness_tracker, worker->hello.node, now);
    xinf_value_destroy (&worker->waits);
    worker->waits = beat->waits;
    beat->waits = NULL;
    worker->waits_at = now;
    return 0;
}

int
xinf_cluster_seen (xinf_cluster_t *self, const char *peer_id, int64_t now)
{
    s_worker_t *worker = s_by_peer (self, peer_id);
    //  A lost worker comes back only through HELLO, as with a heartbeat:
    //  a late RUN_TOKEN of its old connection does not revive it unread
    if (!worker || worker->state == XINF_WORKER_LOST)
        return -1;
    self->now = now;
    xinf_heartbeat_seen (self->liveness_tracker, worker->hello.node, now);
    return 0;
}

void
xinf_cluster_bye (xinf_cluster_t *self, const char *peer_id, int64_t now)
{
    s_worker_t *worker = s_by_peer (self, peer_id);
    if (!worker)
        return;
    s_unindex (self, worker);
    xinf_fsm_move (&xinf_worker_fsm, &worker->state, XINF_WORKER_LEFT, worker->hello.node);
    worker->state_since = now;
    xinf_heartbeat_remove (self->liveness_tracker, worker->hello.node);
    xinf_info ("supervisor", "worker left node=%s", worker->hello.node);
    xinf_cluster_event (self, "left", worker->hello.node, "stopped cleanly (BYE)");
    if (self->lost_fn)
        self->lost_fn (worker->hello.node, "stopped (BYE)", self->lost_arg);
}

//  Workers lost for longer than forget_ms leave the table, with an event.
static void
s_forget_lost (xinf_cluster_t *self, int64_t now)
{
    zlist_t *gone = zlist_new ();
    zlist_autofree (gone);
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers))
        if (worker->state == XINF_WORKER_LOST && now - worker->state_since >= self->forget_ms)
            zlist_append (gone, worker->hello.node);
    for (char *node = (char *) zlist_first (gone); node; node = (char *) zlist_next (gone)) {
        s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
        int64_t lost_ms = now - worker->state_since;
        xinf_info ("supervisor", "worker forgotten node=%s lost_ms=%lld", node, (long long) lost_ms);
        xinf_cluster_event (self, "forgotten", node, "lost for %lld ms (--forget-lost-ms %lld): removed from the "
                            "workers", (long long) lost_ms, (long long) self->forget_ms);
        xinf_heartbeat_remove (self->liveness_tracker, node);
        s_unindex (self, worker);
        zhashx_delete (self->workers, node);
    }
    zlist_destroy (&gone);
}

size_t
xinf_cluster_check (xinf_cluster_t *self, int64_t now)
{
    self->now = now;
    size_t lost = xinf_heartbeat_check (self->liveness_tracker, now);
    if (self->forget_ms > 0)
        s_forget_lost (self, now);
    return lost;
}

void
xinf_cluster_set_forget (xinf_cluster_t *self, int64_t forget_ms)
{
    self->forget_ms = forget_ms;
}

zlist_t *
xinf_cluster_heartbeat_peers (xinf_cluster_t *self)
{
    zlist_t *peers = zlist_new ();
    zlist_autofree (peers);
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers))
        if (worker->state == XINF_WORKER_ALIVE)
            zlist_append (peers, worker->peer_id);
    return peers;
}

size_t xinf_cluster_size (xinf_cluster_t *self) { return zhashx_size (self->workers); }

const char *
xinf_cluster_peer_of (xinf_cluster_t *self, const char *node)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    return worker && worker->state == XINF_WORKER_ALIVE ? worker->peer_id : NULL;
}

bool
xinf_cluster_restarted (xinf_cluster_t *self, const char *node)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    return worker && worker->restarted;
}

void
xinf_cluster_set_key (xinf_cluster_t *self, const char *node, const char *key)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    if (worker)
        snprintf (worker->key, sizeof worker->key, "%s", key ? key : "");
}

const char *
xinf_cluster_node_of (xinf_cluster_t *self, const char *peer_id)
{
    s_worker_t *worker = s_by_peer (self, peer_id);
    return worker ? worker->hello.node : NULL;
}

bool
xinf_cluster_alive_peer (xinf_cluster_t *self, const char *peer_id)
{
    s_worker_t *worker = s_by_peer (self, peer_id);
    return worker && worker->state == XINF_WORKER_ALIVE;
}

static bool
s_excluded (zlist_t *exclude, const char *node)
{
    for (char *name = exclude ? (char *) zlist_first (exclude) : NULL; name; name = (char *) zlist_next (exclude))
        if (streq (name, node))
            return true;
    return false;
}

bool
xinf_cluster_pick (xinf_cluster_t *self, zlist_t *exclude, char *node, size_t node_size)
{
    s_worker_t *best = NULL;
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers))
        if (worker->state == XINF_WORKER_ALIVE && !s_excluded (exclude, worker->hello.node)
        && (!best || worker->hello.memory_available_bytes > best->hello.memory_available_bytes))
            best = worker;
    if (best)
        snprintf (node, node_size, "%s", best->hello.node);
    return best != NULL;
}

zlist_t *
xinf_cluster_alive (xinf_cluster_t *self)
{
    zlist_t *names = zlist_new ();
    zlist_autofree (names);
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers))
        if (worker->state == XINF_WORKER_ALIVE)
            zlist_append (names, worker->hello.node);
    return names;
}

uint64_t
xinf_cluster_available (xinf_cluster_t *self, const char *node)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    return worker ? worker->hello.memory_available_bytes : 0;
}

const xinf_value_t *
xinf_cluster_devices (xinf_cluster_t *self, const char *node)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    return worker ? worker->hello.devices : NULL;
}

const char *
xinf_cluster_gpu_probe (xinf_cluster_t *self, const char *node)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    return worker ? worker->hello.gpu_probe : "";
}

xinf_nccl_t
xinf_cluster_nccl (xinf_cluster_t *self, const char *node)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    if (!worker || !worker->hello.nccl_said)
        return XINF_NCCL_UNSAID;
    return worker->hello.nccl ? XINF_NCCL_BUILT : XINF_NCCL_NONE;
}

void
xinf_cluster_on_lost (xinf_cluster_t *self, xinf_cluster_lost_fn *fn, void *arg)
{
    self->lost_fn = fn;
    self->lost_arg = arg;
}

static xinf_value_t *
s_worker_info (xinf_cluster_t *self, s_worker_t *worker, int64_t now)
{
    const xinf_hello_t *hello = &worker->hello;
    xinf_value_t *item = xinf_value_new_map ();
    xinf_map_put_str (item, "node", hello->node);
    xinf_map_put_str (item, "state", xinf_fsm_name (&xinf_worker_fsm, worker->state));
    xinf_map_put_uint (item, "state_age_ms", (uint64_t) (now - worker->state_since));
    int64_t age = xinf_heartbeat_age (self->liveness_tracker, hello->node, now);
    xinf_map_put_uint (item, "last_heartbeat_ms", (uint64_t) (age >= 0 ? age : now - worker->state_since));
    xinf_map_put_uint (item, "registered_ms", (uint64_t) (now - worker->registered_at));
    xinf_map_put_str (item, "host_ip", hello->host_ip);
    if (*worker->key)
        xinf_map_put_str (item, "key", worker->key);
    xinf_map_put_str (item, "host_ip_source", hello->host_ip_source);
    xinf_map_put_str (item, "observed_address", worker->observed);
    xinf_map_put (item, "warnings", xinf_value_dup (worker->warnings));
    xinf_map_put_uint (item, "pid", hello->pid);
    xinf_map_put_str (item, "version", hello->version);
    xinf_map_put_str (item, "zmq_version", hello->zmq_version);
    xinf_map_put_str (item, "czmq_version", hello->czmq_version);
    xinf_map_put_uint (item, "cpus", hello->cpus);
    xinf_map_put_uint (item, "memory_bytes", hello->memory_bytes);
    xinf_map_put_uint (item, "memory_available_bytes", hello->memory_available_bytes);
    xinf_value_t *ports = xinf_value_new_array ();
    xinf_array_push (ports, xinf_value_new_uint (hello->data_port_low));
    xinf_array_push (ports, xinf_value_new_uint (hello->data_port_high));
    xinf_map_put (item, "data_ports", ports);
    xinf_map_put_uint (item, "data_port", hello->data_port);
    xinf_map_put (item, "devices", xinf_value_dup (hello->devices));
    xinf_map_put_str (item, "gpu_probe", hello->gpu_probe);
    if (hello->nccl_said)
        xinf_map_put_bool (item, "nccl", hello->nccl);
    if (hello->nccl)
        xinf_map_put_str (item, "nccl_version", hello->nccl_version);
    xinf_map_put (item, "models", xinf_value_dup (hello->models));
    return item;
}

xinf_value_t *
xinf_cluster_workers (xinf_cluster_t *self, int64_t now)
{
    xinf_value_t *workers = xinf_value_new_array ();
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers))
        xinf_array_push (workers, s_worker_info (self, worker, now));
    return workers;
}

//  Copies a wait map, naming the node and ageing it to 'extra_ms' later.
static xinf_value_t *
s_aged_wait (const xinf_value_t *wait, const char *node, int64_t extra_ms)
{
    xinf_value_t *copy = xinf_value_dup (wait);
    xinf_map_put_str (copy, "node", node);
    xinf_map_put_uint (copy, "age_ms", xinf_value_uint (xinf_map_get (wait, "age_ms")) + (uint64_t) extra_ms);
    xinf_map_put_uint (copy, "idle_ms", xinf_value_uint (xinf_map_get (wait, "idle_ms")) + (uint64_t) extra_ms);
    return copy;
}

xinf_value_t *
xinf_cluster_waits (xinf_cluster_t *self, int64_t now)
{
    xinf_value_t *waits = xinf_value_new_array ();
    xinf_value_t *own = xinf_waits_snapshot (xinf_waits_global (), now, 0);
    for (size_t index = 0; index < xinf_value_count (own); index++)
        xinf_array_push (waits, s_aged_wait (xinf_array_at (own, index), self->name, 0));
    xinf_value_destroy (&own);
    for (s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers); worker;
         worker = (s_worker_t *) zhashx_next (self->workers)) {
        if (worker->state != XINF_WORKER_ALIVE)
            continue;
        for (size_t index = 0; index < xinf_value_count (worker->waits); index++)
            xinf_array_push (waits, s_aged_wait (xinf_array_at (worker->waits, index), worker->hello.node,
                                                 now - worker->waits_at));
    }
    return waits;
}

xinf_value_t *
xinf_cluster_events (xinf_cluster_t *self, uint64_t since, size_t limit, uint64_t *next)
{
    xinf_value_t *events = xinf_value_new_array ();
    uint64_t oldest = self->next_seq > XINF_EVENTS_KEPT ? self->next_seq - XINF_EVENTS_KEPT : 1;
    uint64_t seq = since + 1 > oldest ? since + 1 : oldest;
    //  Without 'since': the newest 'limit' events (oldest first)
    if (since == 0 && self->next_seq - seq > limit)
        seq = self->next_seq - limit;
    for (; seq < self->next_seq && xinf_value_count (events) < limit; seq++) {
        const s_event_t *event = &self->events [(seq - 1) % XINF_EVENTS_KEPT];
        xinf_value_t *item = xinf_value_new_map ();
        xinf_map_put_uint (item, "seq", event->seq);
        xinf_map_put_uint (item, "time_ms", event->time_ms);
        xinf_map_put_str (item, "kind", event->kind);
        xinf_map_put_str (item, "node", event->node);
        xinf_map_put_str (item, "detail", event->detail ? event->detail : "");
        xinf_array_push (events, item);
    }
    *next = seq - 1;
    return events;
}

int64_t
xinf_cluster_silence_ms (xinf_cluster_t *self, const char *node, int64_t now)
{
    if (!zhashx_lookup (self->workers, node))
        return -1;
    return xinf_heartbeat_age (self->liveness_tracker, node, now);
}

int64_t
xinf_cluster_heartbeat_interval (xinf_cluster_t *self)
{
    return self->heartbeat_ms;
}

bool
xinf_cluster_data_ports (xinf_cluster_t *self, const char *node, uint64_t *low, uint64_t *high)
{
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, node);
    if (!worker)
        return false;
    *low = worker->hello.data_port_low;
    *high = worker->hello.data_port_high;
    return true;
}
