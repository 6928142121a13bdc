/*  test_collective_faults: the collective's failures are named and
    bounded: a rank that never starts or never joins, a far side of another
    group or rank, a frozen peer at the stall deadline, abort from another
    thread, ranks that disagree, and garbage on a data port, dropped and
    logged while the group keeps working.  */
#include "test_collective.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

//  Steps until the test sets the flag: broadcast continue/stop, all-reduce.
static int
s_body_until_flag (coll_rank_t *self)
{
    for (int step = 0; ; step++) {
        int stop = self->rank == 0 ? atomic_load (&self->group->flag) : 0;
        size_t bytes = sizeof stop;
        if (xinf_collective_broadcast (self->coll, &stop, &bytes, sizeof stop, 0, self->error, sizeof self->error))
            return -1;
        if (stop)
            return 0;
        if (coll_reduce_check (self, 1 + (size_t) step % 64, step))
            return -1;
    }
}

// ---- rendezvous failures ------------------------------------------------------------------

//  A port where nothing listens (bound, never listening) while 'fd' is open.
static int
s_dead_port (int *fd)
{
    *fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0 };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    CHECK (*fd >= 0 && bind (*fd, (struct sockaddr *) &address, sizeof address) == 0);
    CHECK (getsockname (*fd, (struct sockaddr *) &address, &length) == 0);
    return ntohs (address.sin_port);
}

//  Rank 2 never starts (nothing listens at its endpoint): ranks 0 and 1
//  fail at the timeout, naming rank 2, its node and endpoint, and only it.
static void
test_rendezvous_missing_rank (void)
{
    coll_group_t group;
    coll_group_init (&group, "join/1", 3, 10000);
    int fd, port = s_dead_port (&fd);
    char expected [256];
    snprintf (group.endpoint [2], 64, "tcp://127.0.0.1:%d", port);
    snprintf (expected, sizeof expected, "rendezvous: rank 2 (node n2, tcp://127.0.0.1:%d) did not join "
              "within 1000 ms: no JOIN received, our JOIN not acknowledged (no connection to its endpoint", port);
    group.ranks [0].join_ms = group.ranks [1].join_ms = 1000;
    coll_group_start (&group, NULL, 3);
    coll_group_wait (&group, 3);
    for (int rank = 0; rank < 2; rank++) {
        coll_rank_t *self = &group.ranks [rank];
        CHECK_INT (self->rc, -1);
        CHECK_HAS (self->error, expected);
        CHECK (!strstr (self->error, rank ? "rank 0 (" : "rank 1 ("));
        CHECK (self->finished - self->started >= 900 && self->finished - self->started < 3000);
        CHECK (coll_recorded (&self->record, "begin rendezvous | rank 2 (node n2"));
        CHECK_INT (self->record.begins, self->record.ends);
    }
    close (fd);
    coll_group_destroy (&group);
}

//  Rank 1 is up (its port answers) but never joins.
static void
test_rendezvous_silent_rank (void)
{
    coll_group_t group;
    coll_group_init (&group, "join/2", 2, 10000);
    group.ranks [0].join_ms = 500;
    coll_group_start (&group, NULL, 1);
    coll_group_wait (&group, 1);
    char expected [256];
    snprintf (expected, sizeof expected, "rank 1 (node n1, %s) did not join within 500 ms: no JOIN received, "
              "our JOIN not acknowledged", group.endpoint [1]);
    CHECK_INT (group.ranks [0].rc, -1);
    CHECK_HAS (group.ranks [0].error, expected);
    CHECK (!strstr (group.ranks [0].error, "no connection"));
    coll_group_destroy (&group);
}

//  The far side is of another group (a working one), or another rank:
//  named at once.
static void
test_rendezvous_wrong_peer (void)
{
    coll_group_t ours, theirs;
    coll_group_init (&theirs, "other/7", 2, 10000);
    coll_group_start (&theirs, s_body_until_flag, 3);
    coll_group_init (&ours, "model/1", 2, 10000);
    ours.endpoints [1] = theirs.endpoints [1];
    coll_group_start (&ours, NULL, 1);
    coll_group_wait (&ours, 1);
    atomic_store (&theirs.flag, 1);
    coll_group_wait (&theirs, 3);
    char expected [256];
    snprintf (expected, sizeof expected, "rendezvous: %s answered as rank 1 of group other/7; "
              "expected rank 1 of model/1", theirs.endpoint [1]);
    CHECK_INT (ours.ranks [0].rc, -1);
    CHECK_HAS (ours.ranks [0].error, expected);
    CHECK (ours.ranks [0].finished - ours.ranks [0].started < 5000);
    CHECK_INT (theirs.ranks [0].rc, 0);
    CHECK_INT (theirs.ranks [1].rc, 0);
    CHECK (coll_recorded (&theirs.ranks [1].record, "refused a JOIN from rank 0 of group model/1 (size 2) for rank 1: "
                       "this is rank 1 of group other/7 (size 2)"));
    coll_group_destroy (&ours);
    coll_group_destroy (&theirs);

    //  Rank 0 dials rank 1's port for rank 2
    coll_group_t group;
    coll_group_init (&group, "model/2", 3, 10000);
    const char *wrong [3] = { group.endpoints [0], group.endpoints [1], group.endpoints [1] };
    group.ranks [0].endpoints = wrong;
    group.ranks [1].join_ms = 1000;
    coll_group_start (&group, NULL, 3);
    coll_group_wait (&group, 3);
    snprintf (expected, sizeof expected, "rendezvous: %s answered as rank 1 of group model/2; "
              "expected rank 2 of model/2", group.endpoint [1]);
    CHECK_HAS (group.ranks [0].error, expected);
    CHECK (group.ranks [0].finished - group.ranks [0].started < 900);
    CHECK_HAS (group.ranks [1].error, "rank 2 (node n2");
    CHECK (coll_recorded (&group.ranks [1].record, "refused a JOIN from rank 0 of group model/2 (size 3) for rank 2"));
    coll_group_destroy (&group);
}

// ---- failures during operation ------------------------------------------------------------

//  Rank 2 stops after 5 ops: the others fail at about the stall deadline,
//  naming it, and their wait was registered naming it.
static int
s_body_frozen (coll_rank_t *self)
{
    for (int op = 1; op <= 5; op++)
        if (coll_reduce_check (self, S_DIM, op))
            return -1;
    if (self->rank == 2)
        return 0;
    self->started = test_now_ms ();
    float data [8] = { 0 };
    if (xinf_collective_all_reduce_sum (self->coll, data, 8, self->error, sizeof self->error) == 0)
        return snprintf (self->error, sizeof self->error, "op 6 did not fail"), 0;
    char again [2048];
    CHECK (xinf_collective_all_reduce_sum (self->coll, data, 8, again, sizeof again) == -1);
    CHECK (strcmp (again, self->error) == 0);                //  the group stays failed
    return -1;
}

static void
test_frozen_peer (void)
{
    coll_group_t group;
    coll_group_init (&group, "frozen/1", 3, 800);
    coll_group_start (&group, s_body_frozen, 7);
    coll_group_wait (&group, 7);
    CHECK_INT (group.ranks [2].rc, 0);
    for (int rank = 0; rank < 2; rank++) {
        coll_rank_t *self = &group.ranks [rank];
        char expected [256];
        snprintf (expected, sizeof expected, "all_reduce op 6: rank 2 (node n2, %s): no data for", group.endpoint [2]);
        CHECK_INT (self->rc, -1);
        CHECK_HAS (self->error, expected);
        double took = self->finished - self->started;
        CHECK (took >= 750 && took < 3000);
        CHECK (coll_recorded (&self->record, "begin all_reduce op 6 | rank 2 (node n2"));
        CHECK_INT (self->record.begins, self->record.ends);
    }
    coll_group_destroy (&group);
}

static int
s_body_wait_forever (coll_rank_t *self)
{
    float data [4] = { 0 };
    return self->rank ? 0 : xinf_collective_all_reduce_sum (self->coll, data, 4, self->error, sizeof self->error);
}

//  Abort from another thread ends a waiting op, and a waiting join, at once.
static void
test_abort (void)
{
    coll_group_t group;
    coll_group_init (&group, "abort/1", 2, 60000);
    coll_group_start (&group, s_body_wait_forever, 3);
    CHECK (coll_await_record (&group.ranks [0].record, "begin all_reduce op 1 | rank 1"));
    double aborted = test_now_ms ();
    xinf_collective_abort (group.ranks [0].coll);
    coll_group_wait (&group, 3);
    CHECK_INT (group.ranks [0].rc, -1);
    CHECK_HAS (group.ranks [0].error, "aborted");
    CHECK (group.ranks [0].finished - aborted < 300);
    coll_group_destroy (&group);

    coll_group_init (&group, "abort/2", 2, 60000);
    group.ranks [0].join_ms = 60000;
    coll_group_start (&group, NULL, 1);
    CHECK (coll_await_record (&group.ranks [0].record, "begin rendezvous | rank 1 (node n1"));
    aborted = test_now_ms ();
    xinf_collective_abort (group.ranks [0].coll);
    coll_group_wait (&group, 1);
    CHECK_HAS (group.ranks [0].error, "rendezvous: aborted");
    CHECK (group.ranks [0].finished - aborted < 300);
    coll_group_destroy (&group);
}

//  Ranks that disagree (vector sizes, operations) fail with the reason.
static int
s_body_mismatch (coll_rank_t *self)
{
    float data [12] = { 0 };
    size_t bytes = 4;
    if (self->group->flag == 0)
        return xinf_collective_all_reduce_sum (self->coll, data, self->rank ? 12 : 10, self->error, sizeof self->error);
    if (self->rank == 1)
        return xinf_collective_all_reduce_sum (self->coll, data, 1, self->error, sizeof self->error);
    int rc = xinf_collective_broadcast (self->coll, data, &bytes, bytes, 0, self->error, sizeof self->error);
    return rc ? rc : xinf_collective_all_reduce_sum (self->coll, data, 1, self->error, sizeof self->error);
}

static void
test_mismatch (void)
{
    coll_group_t group;
    coll_group_init (&group, "mismatch/1", 2, 500);
    coll_group_start (&group, s_body_mismatch, 3);
    coll_group_wait (&group, 3);
    CHECK_HAS (group.ranks [0].error, "all_reduce op 1: rank 1 (node n1, ");
    CHECK_HAS (group.ranks [0].error, "sent 12 floats; this rank has 10");
    CHECK_HAS (group.ranks [1].error, "sent 10 floats; this rank has 12");
    coll_group_destroy (&group);

    coll_group_init (&group, "mismatch/2", 2, 500);
    group.flag = 1;
    coll_group_start (&group, s_body_mismatch, 3);
    coll_group_wait (&group, 3);
    CHECK_HAS (group.ranks [1].error, "sent broadcast data for op 1: the ranks called different operations");
    CHECK_HAS (group.ranks [0].error, "all_reduce op 2: rank 1 (node n1");
    coll_group_destroy (&group);
}

// ---- garbage on a data port ------------------------------------------------------------------

static void
s_raw_send (void *dealer, int frames, const void *const *data, const size_t *sizes)
{
    for (int index = 0; index < frames; index++)
        CHECK (zmq_send (dealer, data [index], sizes [index], index + 1 < frames ? ZMQ_SNDMORE : 0) >= 0);
}

//  Header then payload, from the given fields.
static void
s_raw_header (void *dealer, unsigned kind, uint32_t sender, uint32_t target, uint64_t group, uint64_t length,
              const void *payload, size_t payload_size, int corrupt_at, uint8_t corrupt)
{
    uint8_t header [XINF_COLL_WIRE_HEADER_SIZE];
    xinf_coll_header_t fields = { kind, sender, target, group, 1000000, length };
    xinf_coll_header_encode (header, &fields);
    if (corrupt_at >= 0)
        header [corrupt_at] = corrupt;
    const void *data [] = { header, payload };
    size_t sizes [] = { sizeof header, payload_size };
    s_raw_send (dealer, 2, data, sizes);
}

//  A JOIN of another group: the rank answers REJECT naming itself, after
//  everything sent before it (one connection is ordered).
static void
s_raw_sentinel (void *dealer)
{
    uint8_t control [XINF_COLL_WIRE_CONTROL_MAX];
    size_t length = xinf_coll_control_encode (control, 2, "stranger/1");
    s_raw_header (dealer, XINF_COLL_JOIN, 1, 0, xinf_coll_group_hash ("stranger/1"), length, control, length, -1, 0);
    double deadline = test_now_ms () + 5000;
    for (bool done = false; !done; ) {             //  REJECTs of random JOINs may come first
        zmq_pollitem_t item = { dealer, 0, ZMQ_POLLIN, 0 };
        CHECK (test_now_ms () < deadline && zmq_poll (&item, 1, 1000) == 1);
        zmq_msg_t parts [3];
        CHECK (coll_recv (dealer, parts) == 2);
        xinf_coll_header_t header;
        uint32_t size;
        char group [XINF_COLL_WIRE_GROUP_MAX + 1];
        CHECK (xinf_coll_header_decode (zmq_msg_data (&parts [0]), zmq_msg_size (&parts [0]),
                                        zmq_msg_size (&parts [1]), &header, NULL, 0));
        CHECK (header.kind == XINF_COLL_REJECT && header.sender == 0);
        CHECK (xinf_coll_control_decode (zmq_msg_data (&parts [1]), zmq_msg_size (&parts [1]), &size, group));
        CHECK (size == 2 && strcmp (group, "garbage/1") == 0);
        done = header.target == 1;
        zmq_msg_close (&parts [0]), zmq_msg_close (&parts [1]);
    }
}

static void
test_garbage (void)
{
    coll_group_t group;
    coll_group_init (&group, "garbage/1", 2, 10000);
    coll_group_start (&group, s_body_until_flag, 3);
    double deadline = test_now_ms () + 5000;         //  a stranger's JOIN must not beat rank 1's
    while (atomic_load (&group.joined) < 2 && test_now_ms () < deadline)
        usleep (1000);
    void *dealer = zmq_socket (coll_context, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt (dealer, ZMQ_LINGER, &zero, sizeof zero);
    CHECK (zmq_connect (dealer, group.endpoint [0]) == 0);
    uint64_t ours = xinf_coll_group_hash ("garbage/1"), state = 99;
    uint8_t noise [64], control [XINF_COLL_WIRE_CONTROL_MAX];
    for (size_t index = 0; index < sizeof noise; index++)
        noise [index] = (uint8_t) test_random (&state);
    const void *three [] = { noise, noise, noise };
    size_t sizes [] = { 13, 40, 5 }, empty = 0, short_header = 39;
    s_raw_send (dealer, 1, three, sizes);                                       //  1 frame
    s_raw_send (dealer, 3, three, sizes);                                       //  3 frames
    s_raw_send (dealer, 1, three, &empty);                                      //  an empty frame
    const void *two [] = { noise, noise };
    size_t two_sizes [] = { short_header, 4 };
    s_raw_send (dealer, 2, two, two_sizes);                                     //  short header
    s_raw_header (dealer, XINF_COLL_REDUCE, 1, 0, ours, 8, noise, 8, 0, 'Y');  //  bad magic
    s_raw_header (dealer, XINF_COLL_REDUCE, 1, 0, ours, 8, noise, 8, 4, 2);    //  version 2
    s_raw_header (dealer, 9, 1, 0, ours, 8, noise, 8, -1, 0);                   //  unknown kind
    s_raw_header (dealer, XINF_COLL_REDUCE, 1, 0, ours, 100, noise, 10, -1, 0); //  length mismatch
    s_raw_header (dealer, XINF_COLL_REDUCE, 1, 0, ours + 1, 8, noise, 8, -1, 0);   //  another group
    s_raw_header (dealer, XINF_COLL_REDUCE, 1, 0, ours, 8, noise, 8, -1, 0);   //  not rank 1's connection
    s_raw_header (dealer, XINF_COLL_REDUCE, 7, 0, ours, 8, noise, 8, -1, 0);   //  no rank 7
    s_raw_header (dealer, XINF_COLL_BCAST, 1, 1, ours, 8, noise, 8, -1, 0);    //  not for rank 0
    s_raw_header (dealer, XINF_COLL_ACK, 1, 0, ours, 8, noise, 8, -1, 0);      //  ACK on a data port
    s_raw_header (dealer, XINF_COLL_JOIN, 1, 0, ours, 2, noise, 2, -1, 0);     //  bad JOIN payload
    size_t length = xinf_coll_control_encode (control, 2, "garbage/1");
    s_raw_header (dealer, XINF_COLL_JOIN, 1, 0, ours, length, control, length, -1, 0);   //  a second rank 1
    s_raw_sentinel (dealer);
    coll_record_t *record = &group.ranks [0].record;
    const char *expected [] = {
        "dropped a message from 127.0.0.1", "expected 2 frames (header, payload), got 1",
        "expected 2 frames (header, payload), got 3", "header of 39 bytes", "bad magic 0x59434f4c",
        "version 2; this rank speaks 1", "unknown kind 9", "payload of 10 bytes; its header says 100",
        "is not this group's", "claims to be rank 1 but is not the connection that joined",
        "sender rank 7 out of range", "addressed to rank 1", "ACK message on the data port",
        "a JOIN with an invalid payload", "a JOIN as rank 1 from a second connection",
        "refused a JOIN from rank 1 of group stranger/1 (size 2) for rank 0"
    };
    for (size_t index = 0; index < sizeof expected / sizeof expected [0]; index++) {
        if (!coll_recorded (record, expected [index]))
            fprintf (stderr, "missing \"%s\" in:\n%s", expected [index], record->text);
        CHECK (coll_recorded (record, expected [index]));
    }
    //  A flood of random messages: dropped, logged at a bounded rate
    int logs = coll_logs (record);
    for (int message = 0; message < 5000; message++) {
        int frames = 1 + (int) (test_random (&state) % 4);
        size_t flood_sizes [4];
        for (int index = 0; index < frames; index++)
            flood_sizes [index] = test_random (&state) % 64;
        if (frames >= 2 && test_random (&state) % 2)
            flood_sizes [0] = 40, memcpy (noise, "XCOL\x01", 5);        //  past the magic, now and then
        const void *data [] = { noise, noise, noise, noise };
        s_raw_send (dealer, frames, data, flood_sizes);
        noise [test_random (&state) % sizeof noise] = (uint8_t) test_random (&state);
    }
    s_raw_sentinel (dealer);
    CHECK (coll_logs (record) - logs < 50);
    atomic_store (&group.flag, 1);
    coll_group_wait (&group, 3);
    for (int rank = 0; rank < 2; rank++) {
        if (group.ranks [rank].rc)
            fprintf (stderr, "rank %d: %s\n", rank, group.ranks [rank].error);
        CHECK_INT (group.ranks [rank].rc, 0);
    }
    zmq_close (dealer);
    coll_group_destroy (&group);
}

void
test_collective_faults (void)
{
    RUN (test_rendezvous_missing_rank);
    RUN (test_rendezvous_silent_rank);
    RUN (test_rendezvous_wrong_peer);
    RUN (test_frozen_peer);
    RUN (test_abort);
    RUN (test_mismatch);
    RUN (test_garbage);
}
