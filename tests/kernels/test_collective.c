/*  test_collective: the CPU collective over ZeroMQ, ranks as threads over
    tcp://127.0.0.1 with ports from a range: all-reduce results
    bit-identical to a sum in rank order, broadcasts, ready (), the
    forward-pass pattern; then the faults of test_collective_faults.c. A
    fake rank written from protocols/collective.md (xinf_coll_wire only)
    takes part where a test needs exact control of what arrives when.  */
#include "test_collective.h"
#include "xinf_coll_agree.h"

void *coll_context;
const char *coll_names [S_RANKS_MAX] = { "n0", "n1", "n2", "n3" };

// ---- what the hooks saw -----------------------------------------------------------

static void
s_record (coll_record_t *record, const char *kind, const char *text, const char *more)
{
    pthread_mutex_lock (&record->mutex);
    size_t used = strlen (record->text), need = strlen (text) + (more ? strlen (more) : 0) + 16;
    if (used + need >= sizeof record->text) {
        memmove (record->text, record->text + used / 2, used - used / 2 + 1);
        used = strlen (record->text);
    }
    snprintf (record->text + used, sizeof record->text - used, "%s %.4000s%s%.4000s\n", kind, text,
              more ? " | " : "", more ? more : "");
    record->begins += kind [0] == 'b';
    record->ends += kind [0] == 'e';
    record->logs += kind [0] == 'l';
    pthread_mutex_unlock (&record->mutex);
}

static uint64_t
s_on_begin (void *arg, const char *what, const char *peer, int64_t stall_ms)
{
    s_record ((coll_record_t *) arg, "begin", what, peer);
    return 1;
}

static void
s_on_end (void *arg, uint64_t handle)
{
    s_record ((coll_record_t *) arg, "end", "", NULL);
}

static void
s_on_log (void *arg, const char *text)
{
    s_record ((coll_record_t *) arg, "log", text, NULL);
}

bool
coll_recorded (coll_record_t *record, const char *needle)
{
    pthread_mutex_lock (&record->mutex);
    bool found = strstr (record->text, needle) != NULL;
    pthread_mutex_unlock (&record->mutex);
    return found;
}

int
coll_logs (coll_record_t *record)
{
    pthread_mutex_lock (&record->mutex);
    int logs = record->logs;
    pthread_mutex_unlock (&record->mutex);
    return logs;
}

//  Polls (no fixed sleep) until 'needle' was recorded or 5 s passed.
bool
coll_await_record (coll_record_t *record, const char *needle)
{
    double deadline = test_now_ms () + 5000;
    while (!coll_recorded (record, needle) && test_now_ms () < deadline)
        usleep (1000);
    return coll_recorded (record, needle);
}

// ---- ranks as threads ---------------------------------------------------------------

void
coll_group_init (coll_group_t *group, const char *id, int size, int64_t stall_ms)
{
    memset (group, 0, sizeof *group);
    group->size = size;
    for (int rank = 0; rank < size; rank++) {
        coll_rank_t *self = &group->ranks [rank];
        pthread_mutex_init (&self->record.mutex, NULL);
        xinf_collective_hooks_t hooks = { s_on_begin, NULL, s_on_end, s_on_log, &self->record, NULL };
        self->coll = xinf_coll_zmq_new (coll_context, id, rank, size, "127.0.0.1", S_PORT_LOW, S_PORT_HIGH,
                                        stall_ms, &hooks, self->error, sizeof self->error);
        if (!self->coll)
            fprintf (stderr, "xinf_coll_zmq_new: %s\n", self->error);
        CHECK (self->coll);
        self->rank = rank;
        self->size = size;
        self->group = group;
        self->endpoints = group->endpoints;
        self->join_ms = 10000;
        snprintf (group->endpoint [rank], 64, "tcp://127.0.0.1:%d", xinf_coll_zmq_port (self->coll));
        group->endpoints [rank] = group->endpoint [rank];
    }
}

static void *
s_rank_main (void *arg)
{
    coll_rank_t *self = arg;
    self->started = test_now_ms ();
    self->rc = xinf_coll_zmq_join (self->coll, self->endpoints, coll_names, self->join_ms,
                                   self->error, sizeof self->error);
    if (self->rc == 0)
        atomic_fetch_add (&self->group->joined, 1);
    if (self->rc == 0 && self->body)
        self->rc = self->body (self);
    self->finished = test_now_ms ();
    return NULL;
}

//  Starts the ranks in 'mask' (bit r: rank r): each joins, then runs 'body'.
void
coll_group_start (coll_group_t *group, coll_body_fn *body, unsigned mask)
{
    for (int rank = 0; rank < group->size; rank++)
        if (mask & (1u << rank)) {
            group->ranks [rank].body = body;
            CHECK (pthread_create (&group->ranks [rank].thread, NULL, s_rank_main, &group->ranks [rank]) == 0);
        }
}

void
coll_group_wait (coll_group_t *group, unsigned mask)
{
    for (int rank = 0; rank < group->size; rank++)
        if (mask & (1u << rank))
            pthread_join (group->ranks [rank].thread, NULL);
}

void
coll_group_destroy (coll_group_t *group)
{
    for (int rank = 0; rank < group->size; rank++) {
        xinf_collective_destroy (&group->ranks [rank].coll);
        pthread_mutex_destroy (&group->ranks [rank].record.mutex);
    }
}

//  Runs every rank to the end; each must succeed.
void
coll_group_run (coll_group_t *group, coll_body_fn *body)
{
    unsigned all = (1u << group->size) - 1;
    coll_group_start (group, body, all);
    coll_group_wait (group, all);
    for (int rank = 0; rank < group->size; rank++) {
        if (group->ranks [rank].rc)
            fprintf (stderr, "rank %d: %s\n", rank, group->ranks [rank].error);
        CHECK_INT (group->ranks [rank].rc, 0);
    }
}

// ---- data -----------------------------------------------------------------------------

//  Rank r's contribution to op 'op': magnitudes differ by rank so that the
//  order of the additions shows in the bits.
void
coll_contribution (float *out, size_t count, int rank, int op)
{
    uint64_t state = (uint64_t) rank * 1000003 + (uint64_t) op * 7919 + count;
    float scale = (float) (1 << (rank * 3)) / 7.0f;
    for (size_t index = 0; index < count; index++)
        out [index] = test_uniform (&state) * scale;
}

//  All-reduces this rank's contribution to op 'op' and checks the result
//  bit for bit against ((c0 + c1) + c2) + ...
int
coll_reduce_check (coll_rank_t *self, size_t count, int op)
{
    float *data = malloc ((count + 1) * sizeof (float)), *expected = calloc (count + 1, sizeof (float));
    float *part = malloc ((count + 1) * sizeof (float));
    CHECK (data && expected && part);
    coll_contribution (data, count, self->rank, op);
    for (int rank = 0; rank < self->size; rank++) {
        coll_contribution (part, count, rank, op);
        for (size_t index = 0; index < count; index++)
            expected [index] = rank ? expected [index] + part [index] : part [index];
    }
    int rc = xinf_collective_all_reduce_sum (self->coll, data, count, self->error, sizeof self->error);
    if (rc == 0 && memcmp (data, expected, count * sizeof (float)))
        rc = -1, snprintf (self->error, sizeof self->error, "op %d: the result differs from the rank-order sum", op);
    free (data), free (expected), free (part);
    return rc;
}

static bool
s_readable (xinf_collective_t *coll)
{
    zmq_pollitem_t item = { xinf_coll_zmq_socket (coll), 0, ZMQ_POLLIN, 0 };
    return zmq_poll (&item, 1, 0) > 0;
}

//  How a follower's event loop waits for the root's next broadcast.
static bool
s_await_ready (xinf_collective_t *coll, int root)
{
    double deadline = test_now_ms () + 10000;
    while (!xinf_collective_ready (coll, root)) {
        if (test_now_ms () > deadline)
            return false;
        zmq_pollitem_t item = { xinf_coll_zmq_socket (coll), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
    }
    return true;
}

// ---- creation -----------------------------------------------------------------------------

static void
test_new (void)
{
    char error [256];
    CHECK (!xinf_coll_zmq_new (coll_context, "g", 2, 2, "127.0.0.1", S_PORT_LOW, S_PORT_HIGH, 1000, NULL,
                               error, sizeof error));
    CHECK_HAS (error, "rank 2 of size 2");
    CHECK (!xinf_coll_zmq_new (coll_context, "g", 0, 1, "127.0.0.1", 9, 8, 1000, NULL, error, sizeof error));
    CHECK_HAS (error, "port range 9-8");
    CHECK (!xinf_coll_zmq_new (coll_context, "", 0, 1, "127.0.0.1", 0, 0, 1000, NULL, error, sizeof error));
    CHECK (!xinf_coll_zmq_new (coll_context, "g", 0, 1, "127.0.0.1", 0, 0, 0, NULL, error, sizeof error));
    //  A taken single-port range is named; port 0 lets the system choose
    xinf_collective_t *first = xinf_coll_zmq_new (coll_context, "g", 0, 1, "127.0.0.1", S_PORT_LOW, S_PORT_HIGH,
                                                  1000, NULL, error, sizeof error);
    CHECK (first);
    int port = xinf_coll_zmq_port (first);
    CHECK (port >= S_PORT_LOW && port <= S_PORT_HIGH);
    CHECK (!xinf_coll_zmq_new (coll_context, "g", 0, 1, "127.0.0.1", port, port, 1000, NULL, error, sizeof error));
    char expected [64];
    snprintf (expected, sizeof expected, "no free port in %d-%d", port, port);
    CHECK_HAS (error, expected);
    xinf_collective_t *second = xinf_coll_zmq_new (coll_context, "g", 0, 1, "*", 0, 0, 1000, NULL, error, sizeof error);
    CHECK (second && xinf_coll_zmq_port (second) > 0);
    //  A group of one: joins at once, every operation is a no-op
    float value = 3.5f;
    size_t bytes = 0;
    const char *endpoints [] = { NULL };
    CHECK (xinf_collective_all_reduce_sum (first, &value, 1, error, sizeof error) == -1);    //  not joined
    xinf_collective_destroy (&first);
    first = xinf_coll_zmq_new (coll_context, "g", 0, 1, "127.0.0.1", 0, 0, 1000, NULL, error, sizeof error);
    CHECK_INT (xinf_coll_zmq_join (first, endpoints, NULL, 1000, error, sizeof error), 0);
    CHECK_INT (xinf_collective_all_reduce_sum (first, &value, 1, error, sizeof error), 0);
    CHECK (value == 3.5f);
    CHECK_INT (xinf_collective_broadcast (first, &value, &bytes, 4, 0, error, sizeof error), 0);
    CHECK (xinf_collective_ready (first, 0));
    xinf_collective_destroy (&first);
    xinf_collective_destroy (&second);
    CHECK (first == NULL);
}

// ---- all-reduce and broadcast ---------------------------------------------------------------

static int
s_body_sizes (coll_rank_t *self)
{
    size_t counts [] = { 1, S_DIM, 64 * S_DIM, 0, 3, 2048 };
    for (int op = 0; op < 12; op++)
        if (coll_reduce_check (self, counts [op % 6], op))
            return -1;
    return 0;
}

static void
test_all_reduce_sizes (void)
{
    for (int size = 2; size <= 4; size++) {
        coll_group_t group;
        coll_group_init (&group, "sizes/1", size, 10000);
        coll_group_run (&group, s_body_sizes);
        coll_group_destroy (&group);
    }
}

//  1000 ops in a row, sizes varying, ranks pausing at random now and then.
static int
s_body_many (coll_rank_t *self)
{
    uint64_t state = 77 + (uint64_t) self->rank;
    for (int op = 0; op < 1000; op++) {
        if (test_random (&state) % 16 == 0)
            usleep ((useconds_t) (test_random (&state) % 400));
        if (coll_reduce_check (self, 1 + (size_t) (op * 37) % 1500, op))
            return -1;
    }
    return 0;
}

static void
test_many_ops (void)
{
    for (int size = 2; size <= 3; size++) {
        coll_group_t group;
        coll_group_init (&group, "many/1", size, 10000);
        coll_group_run (&group, s_body_many);
        coll_group_destroy (&group);
    }
}

static void
s_pattern (uint8_t *out, size_t bytes, int root, int index)
{
    for (size_t at = 0; at < bytes; at++)
        out [at] = (uint8_t) (at * 131 + (size_t) root * 17 + (size_t) index * 7);
}

static int
s_body_broadcast (coll_rank_t *self)
{
    size_t sizes [] = { 0, 1, 7, 4096, 300000, 33 };
    size_t capacity = 300000;
    uint8_t *data = malloc (capacity), *expected = malloc (capacity);
    int rc = 0;
    for (int index = 0; index < 12 && rc == 0; index++) {
        int root = index < 6 ? 0 : self->size - 1;
        size_t bytes = sizes [index % 6];
        s_pattern (expected, bytes, root, index);
        if (self->rank == root)
            memcpy (data, expected, bytes);
        else
            memset (data, 0xee, capacity);
        rc = xinf_collective_broadcast (self->coll, data, &bytes, capacity, root, self->error, sizeof self->error);
        if (rc == 0 && (bytes != sizes [index % 6] || memcmp (data, expected, bytes)))
            rc = -1, snprintf (self->error, sizeof self->error, "broadcast %d: wrong bytes", index);
    }
    free (data), free (expected);
    return rc ? rc : coll_reduce_check (self, 16, 99);
}

static void
test_broadcast (void)
{
    for (int size = 2; size <= 4; size++) {
        coll_group_t group;
        coll_group_init (&group, "bcast/1", size, 10000);
        coll_group_run (&group, s_body_broadcast);
        coll_group_destroy (&group);
    }
}

//  A forward pass: the root broadcasts a step command, then 2 all-reduces
//  per layer; followers wait for the command as an event loop would.
typedef struct {
    int step, tokens;
} s_command_t;

static int
s_body_forward (coll_rank_t *self)
{
    uint64_t state = 5 + (uint64_t) self->rank;
    for (int step = 0; ; step++) {
        s_command_t command = { step < 60 ? step : -1, 1 + step % 5 };
        size_t bytes = sizeof command;
        if (self->rank == 0 && test_random (&state) % 4 == 0)
            usleep ((useconds_t) (test_random (&state) % 2000));
        if (self->rank != 0 && !s_await_ready (self->coll, 0))
            return snprintf (self->error, sizeof self->error, "step %d: no command", step), -1;
        if (xinf_collective_broadcast (self->coll, &command, &bytes, sizeof command, 0,
                                       self->error, sizeof self->error))
            return -1;
        if (bytes != sizeof command || (command.step != step && command.step != -1))
            return snprintf (self->error, sizeof self->error, "step %d: bad command", step), -1;
        if (command.step < 0)
            return 0;
        for (int layer = 0; layer < 4; layer++)
            for (int half = 0; half < 2; half++)
                if (coll_reduce_check (self, S_DIM * (size_t) command.tokens, step * 8 + layer * 2 + half))
                    return -1;
    }
}

static void
test_forward_pattern (void)
{
    for (int size = 2; size <= 3; size++) {
        coll_group_t group;
        coll_group_init (&group, "forward/1", size, 10000);
        coll_group_run (&group, s_body_forward);
        coll_group_destroy (&group);
    }
}

// ---- ready ---------------------------------------------------------------------------------

static int
s_body_ready (coll_rank_t *self)
{
    coll_group_t *group = self->group;
    char text [] = "step 1";
    size_t bytes = sizeof text;
    if (self->rank == 0) {
        double deadline = test_now_ms () + 10000;      //  until the follower has looked
        while (atomic_load (&group->flag) == 0 && test_now_ms () < deadline)
            usleep (1000);
        return xinf_collective_broadcast (self->coll, text, &bytes, bytes, 0, self->error, sizeof self->error);
    }
    char got [16] = "";
    bool early = xinf_collective_ready (self->coll, 0);
    atomic_store (&group->flag, 1);
    if (early || !s_await_ready (self->coll, 0))
        return snprintf (self->error, sizeof self->error, "ready: %s", early ? "true too early" : "never true"), -1;
    if (xinf_collective_broadcast (self->coll, got, &bytes, sizeof got, 0, self->error, sizeof self->error))
        return -1;
    return strcmp (got, text) ? -1 : 0;
}

static void
test_ready (void)
{
    coll_group_t group;
    coll_group_init (&group, "ready/1", 2, 10000);
    coll_group_run (&group, s_body_ready);
    coll_group_destroy (&group);
}

//  A fake rank from the spec alone: its own ROUTER answers JOINs with ACK,
//  a DEALER per peer sends JOIN and data exactly when the test says.
typedef struct {
    int rank, size;
    const char *group;
    void *router;
    void *dealers [S_RANKS_MAX];
    char endpoint [64];
} s_fake_t;

static void
s_fake_send (void *socket, const zmq_msg_t *routing, const xinf_coll_header_t *header, const void *payload)
{
    uint8_t bytes [XINF_COLL_WIRE_HEADER_SIZE];
    xinf_coll_header_encode (bytes, header);
    if (routing)
        CHECK (zmq_send (socket, zmq_msg_data ((zmq_msg_t *) routing), zmq_msg_size (routing), ZMQ_SNDMORE) >= 0);
    CHECK (zmq_send (socket, bytes, sizeof bytes, ZMQ_SNDMORE) >= 0);
    CHECK (zmq_send (socket, payload, header->length, 0) >= 0);
}

static void
s_fake_init (s_fake_t *fake, const char *group, int rank, int size)
{
    memset (fake, 0, sizeof *fake);
    fake->rank = rank, fake->size = size, fake->group = group;
    fake->router = zmq_socket (coll_context, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt (fake->router, ZMQ_LINGER, &zero, sizeof zero);
    CHECK (zmq_bind (fake->router, "tcp://127.0.0.1:*") == 0);
    size_t size_of = sizeof fake->endpoint;
    zmq_getsockopt (fake->router, ZMQ_LAST_ENDPOINT, fake->endpoint, &size_of);
}

//  Reads one message from the fake's socket: frames into parts [0..2].
int
coll_recv (void *socket, zmq_msg_t *parts)
{
    int count = 0;
    for (bool more = true; more; count++) {
        zmq_msg_init (&parts [count < 3 ? count : 2]);
        CHECK (zmq_msg_recv (&parts [count < 3 ? count : 2], socket, 0) >= 0);
        more = zmq_msg_more (&parts [count < 3 ? count : 2]);
    }
    return count;
}

static void
s_fake_join (s_fake_t *fake, const char *const *endpoints)
{
    uint8_t control [XINF_COLL_WIRE_CONTROL_MAX];
    size_t length = xinf_coll_control_encode (control, (uint32_t) fake->size, fake->group);
    uint64_t hash = xinf_coll_group_hash (fake->group);
    int zero = 0, acks = 0, joins = 0, peers = fake->size - 1;
    for (int rank = 0; rank < fake->size; rank++)
        if (rank != fake->rank) {
            fake->dealers [rank] = zmq_socket (coll_context, ZMQ_DEALER);
            zmq_setsockopt (fake->dealers [rank], ZMQ_LINGER, &zero, sizeof zero);
            CHECK (zmq_connect (fake->dealers [rank], endpoints [rank]) == 0);
            xinf_coll_header_t join = { XINF_COLL_JOIN, (uint32_t) fake->rank, (uint32_t) rank, hash, 0, length };
            s_fake_send (fake->dealers [rank], NULL, &join, control);
        }
    double deadline = test_now_ms () + 5000;
    while (acks < peers || joins < peers) {
        CHECK (test_now_ms () < deadline);
        zmq_pollitem_t items [S_RANKS_MAX + 1] = { { fake->router, 0, ZMQ_POLLIN, 0 } };
        for (int rank = 0; rank < fake->size; rank++)
            items [rank + 1] = (zmq_pollitem_t) { fake->dealers [rank], 0, fake->dealers [rank] ? ZMQ_POLLIN : 0, 0 };
        zmq_poll (items, fake->size + 1, 100);
        zmq_msg_t parts [3];
        xinf_coll_header_t header;
        if (items [0].revents & ZMQ_POLLIN) {
            int frames = coll_recv (fake->router, parts);
            CHECK (frames == 3 && xinf_coll_header_decode (zmq_msg_data (&parts [1]), zmq_msg_size (&parts [1]),
                                                           zmq_msg_size (&parts [2]), &header, NULL, 0));
            if (header.kind == XINF_COLL_JOIN) {
                xinf_coll_header_t ack = { XINF_COLL_ACK, (uint32_t) fake->rank, header.sender, hash, 0, length };
                s_fake_send (fake->router, &parts [0], &ack, control);
                joins++;
            }
            for (int index = 0; index < 3; index++)
                zmq_msg_close (&parts [index]);
        }
        for (int rank = 0; rank < fake->size; rank++)
            if (items [rank + 1].revents & ZMQ_POLLIN) {
                CHECK (coll_recv (fake->dealers [rank], parts) == 2);
                CHECK (xinf_coll_header_decode (zmq_msg_data (&parts [0]), zmq_msg_size (&parts [0]),
                                                zmq_msg_size (&parts [1]), &header, NULL, 0));
                CHECK (header.kind == XINF_COLL_ACK && header.sender == (uint32_t) rank);
                acks++;
                zmq_msg_close (&parts [0]), zmq_msg_close (&parts [1]);
            }
    }
}

static void
s_fake_destroy (s_fake_t *fake)
{
    for (int rank = 0; rank < fake->size; rank++)
        if (fake->dealers [rank])
            zmq_close (fake->dealers [rank]);
    zmq_close (fake->router);
}

//  Rank 1 waits in op 1 for rank 2 while the fake rank 0 has sent op 1 and
//  its op 2 broadcast: the broadcast is stashed during op 1, and ready ()
//  must see it although the socket has nothing left to read.
static int
s_body_stash (coll_rank_t *self)
{
    coll_group_t *group = self->group;
    if (self->rank == 2 && !coll_await_record (&group->ranks [1].record, "begin all_reduce op 1 | rank 2 (node n2"))
        return snprintf (self->error, sizeof self->error, "rank 1 never waited for rank 2"), -1;
    if (coll_reduce_check (self, 4, 1))
        return -1;
    if (self->rank == 1 && (s_readable (self->coll) || !xinf_collective_ready (self->coll, 0)))
        return snprintf (self->error, sizeof self->error, "the stashed broadcast was not ready"), -1;
    char got [16] = "";
    size_t bytes = 0;
    if (xinf_collective_broadcast (self->coll, got, &bytes, sizeof got, 0, self->error, sizeof self->error))
        return -1;
    return bytes == 7 && strcmp (got, "step 1") == 0 ? 0 : -1;
}

static void
test_ready_stashed (void)
{
    coll_group_t group;
    coll_group_init (&group, "stash/1", 3, 10000);
    s_fake_t fake;
    s_fake_init (&fake, "stash/1", 0, 3);
    xinf_collective_destroy (&group.ranks [0].coll);        //  the fake is rank 0
    group.endpoints [0] = fake.endpoint;
    coll_group_start (&group, s_body_stash, 6);
    s_fake_join (&fake, group.endpoints);
    float part [4];
    coll_contribution (part, 4, 0, 1);
    for (int rank = 1; rank <= 2; rank++) {
        uint64_t hash = xinf_coll_group_hash ("stash/1");
        xinf_coll_header_t reduce = { XINF_COLL_REDUCE, 0, (uint32_t) rank, hash, 1, sizeof part };
        xinf_coll_header_t bcast = { XINF_COLL_BCAST, 0, (uint32_t) rank, hash, 2, 7 };
        s_fake_send (fake.dealers [rank], NULL, &reduce, part);
        s_fake_send (fake.dealers [rank], NULL, &bcast, "step 1");
    }
    coll_group_wait (&group, 6);
    for (int rank = 1; rank <= 2; rank++) {
        if (group.ranks [rank].rc)
            fprintf (stderr, "rank %d: %s\n", rank, group.ranks [rank].error);
        CHECK_INT (group.ranks [rank].rc, 0);
    }
    coll_group_destroy (&group);
    s_fake_destroy (&fake);
}

//  Ranks agree on where their partial sums live: all on the CPU passes;
//  one GPU rank among CPU ranks fails every rank, naming the counts.
static int
s_body_all_cpu (coll_rank_t *self)
{
    return xinf_coll_agree_device (self->coll, false, self->error, sizeof self->error);
}

static int
s_body_mixed (coll_rank_t *self)
{
    return xinf_coll_agree_device (self->coll, self->rank == 1, self->error, sizeof self->error);
}

static void
test_agree_device (void)
{
    coll_group_t group;
    coll_group_init (&group, "agree/1", 3, 10000);
    coll_group_run (&group, s_body_all_cpu);
    coll_group_destroy (&group);
    coll_group_init (&group, "agree/2", 3, 10000);
    coll_group_start (&group, s_body_mixed, 7);
    coll_group_wait (&group, 7);
    for (int rank = 0; rank < 3; rank++) {
        CHECK_INT (group.ranks [rank].rc, -1);
        CHECK_HAS (group.ranks [rank].error, "a mixed replica: 1 of 3 ranks on GPUs (NCCL), 2 on the CPU");
    }
    coll_group_destroy (&group);
}

int
main (void)
{
    coll_context = zmq_ctx_new ();
    CHECK (coll_context);
    fprintf (stderr, "test_collective:\n");
    RUN (test_new);
    RUN (test_all_reduce_sizes);
    RUN (test_many_ops);
    RUN (test_broadcast);
    RUN (test_forward_pattern);
    RUN (test_ready);
    RUN (test_ready_stashed);
    RUN (test_agree_device);
    test_collective_faults ();
    zmq_ctx_term (coll_context);
    return 0;
}
