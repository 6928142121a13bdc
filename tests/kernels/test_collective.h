/*  test_collective.h: the harness of the collective's tests (ranks as
    threads over tcp://127.0.0.1, what the hooks saw, reference data),
    shared by test_collective.c (operations) and test_collective_faults.c
    (rendezvous failures, frozen peers, abort, mismatches, garbage).  */
#ifndef TEST_COLLECTIVE_H_INCLUDED
#define TEST_COLLECTIVE_H_INCLUDED

#include "test_kernels.h"
#include "xinf_coll_wire.h"
#include "xinf_coll_zmq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#include <zmq.h>

#define S_PORT_LOW   27100
#define S_PORT_HIGH  27999
#define S_RANKS_MAX  4
#define S_DIM        896

extern void *coll_context;                          //  one libzmq context for every test
extern const char *coll_names [S_RANKS_MAX];        //  node names: "n0", "n1", ...

//  What a rank's hooks saw.
typedef struct {
    pthread_mutex_t mutex;
    int begins, ends, logs;
    char text [32768];              //  "begin WHAT | PEER\n", "log TEXT\n"; the latest half kept
} coll_record_t;

bool coll_recorded (coll_record_t *record, const char *needle);
int coll_logs (coll_record_t *record);
//  Polls (no fixed sleep) until 'needle' was recorded or 5 s passed.
bool coll_await_record (coll_record_t *record, const char *needle);

typedef struct coll_rank_s coll_rank_t;
typedef struct coll_group_s coll_group_t;
typedef int (coll_body_fn) (coll_rank_t *self);

struct coll_rank_s {
    int rank, size;
    xinf_collective_t *coll;
    coll_group_t *group;
    coll_record_t record;
    const char **endpoints;         //  this rank's view (default: the group's)
    coll_body_fn *body;
    int64_t join_ms;
    int rc;
    char error [2048];
    double started, finished;
    pthread_t thread;
};

struct coll_group_s {
    int size;
    coll_rank_t ranks [S_RANKS_MAX];
    char endpoint [S_RANKS_MAX][64];
    const char *endpoints [S_RANKS_MAX];
    atomic_int flag;                //  the test's
    atomic_int joined;              //  ranks that have joined
};

//  Creates the ranks' collectives (bound to ports of the range).
void coll_group_init (coll_group_t *group, const char *id, int size, int64_t stall_ms);
//  Starts the ranks in 'mask' (bit r: rank r): each joins, then runs 'body'.
void coll_group_start (coll_group_t *group, coll_body_fn *body, unsigned mask);
void coll_group_wait (coll_group_t *group, unsigned mask);
void coll_group_destroy (coll_group_t *group);
//  Runs every rank to the end; each must succeed.
void coll_group_run (coll_group_t *group, coll_body_fn *body);

//  Rank r's contribution to op 'op'.
void coll_contribution (float *out, size_t count, int rank, int op);
//  All-reduces this rank's contribution and checks the result bit for bit
//  against the sum in rank order.
int coll_reduce_check (coll_rank_t *self, size_t count, int op);
//  Reads a whole message (blocking) from a test's own socket; frames into parts [0..2].
int coll_recv (void *socket, zmq_msg_t *parts);

//  test_collective_faults.c
void test_collective_faults (void);

#endif
