/*  test_coll_threads: the collective for ranks that are threads.  */
#include "test_coll_threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RANKS 64

typedef enum { S_ALL_REDUCE = 1, S_BROADCAST } s_op_t;

//  What one rank brought to the pending operation.
typedef struct {
    bool present;
    s_op_t op;
    float *data;                       //  all-reduce
    size_t count;
    void *buffer;                      //  broadcast
    size_t *bytes, capacity;
    int root;
} s_slot_t;

struct _test_coll_group_t {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int size, timeout_ms, arrived;
    uint64_t generation;               //  operations completed
    bool failed;
    char reason [256];
    s_slot_t slots [MAX_RANKS];
};

typedef struct {
    xinf_collective_t base;
    test_coll_group_t *group;
} s_rank_t;

static void
s_set_error (char *error, size_t error_size, const char *format, ...)
{
    if (!error || !error_size)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
}

//  Fails the group (under its mutex) and wakes every waiting rank.
static void
s_fail_group (test_coll_group_t *group, const char *reason)
{
    if (!group->failed) {
        group->failed = true;
        snprintf (group->reason, sizeof group->reason, "%s", reason);
    }
    pthread_cond_broadcast (&group->cond);
}

static const char *
s_op_name (s_op_t op)
{
    return op == S_ALL_REDUCE ? "all_reduce_sum" : "broadcast";
}

//  Every rank called the same operation the same way; else a reason.
static bool
s_matching (test_coll_group_t *group, char *reason, size_t size)
{
    const s_slot_t *first = &group->slots [0];
    for (int rank = 1; rank < group->size; rank++) {
        const s_slot_t *slot = &group->slots [rank];
        if (slot->op != first->op || (slot->op == S_ALL_REDUCE && slot->count != first->count)
        ||  (slot->op == S_BROADCAST && slot->root != first->root)) {
            snprintf (reason, size, "rank %d called %s (count %zu, root %d) while rank 0 called %s "
                      "(count %zu, root %d)", rank, s_op_name (slot->op), slot->count, slot->root,
                      s_op_name (first->op), first->count, first->root);
            return false;
        }
    }
    return true;
}

//  Sums in rank order and gives every rank the sum.
static void
s_do_all_reduce (test_coll_group_t *group)
{
    for (size_t at = 0; at < group->slots [0].count; at++) {
        float sum = group->slots [0].data [at];
        for (int rank = 1; rank < group->size; rank++)
            sum += group->slots [rank].data [at];
        for (int rank = 0; rank < group->size; rank++)
            group->slots [rank].data [at] = sum;
    }
}

static bool
s_do_broadcast (test_coll_group_t *group, char *reason, size_t size)
{
    const s_slot_t *root = &group->slots [group->slots [0].root];
    for (int rank = 0; rank < group->size; rank++) {
        s_slot_t *slot = &group->slots [rank];
        if (slot == root)
            continue;
        if (*root->bytes > slot->capacity) {
            snprintf (reason, size, "broadcast of %zu bytes from rank %d exceeds rank %d's %zu bytes",
                      *root->bytes, root->root, rank, slot->capacity);
            return false;
        }
        memcpy (slot->buffer, root->buffer, *root->bytes);
        *slot->bytes = *root->bytes;
    }
    return true;
}

//  The last rank to arrive: runs the operation and releases everyone.
static void
s_complete (test_coll_group_t *group)
{
    char reason [256] = "";
    bool ok = s_matching (group, reason, sizeof reason);
    if (ok && group->slots [0].op == S_ALL_REDUCE)
        s_do_all_reduce (group);
    if (ok && group->slots [0].op == S_BROADCAST)
        ok = s_do_broadcast (group, reason, sizeof reason);
    if (!ok) {
        s_fail_group (group, reason);
        return;
    }
    for (int rank = 0; rank < group->size; rank++)
        group->slots [rank].present = false;
    group->arrived = 0;
    group->generation++;
    pthread_cond_broadcast (&group->cond);
}

//  Names the ranks that have not arrived.
static void
s_timeout_reason (test_coll_group_t *group, int rank, char *reason, size_t size)
{
    int used = snprintf (reason, size, "rank %d: no data within %d ms from rank", rank, group->timeout_ms);
    for (int other = 0; other < group->size && used > 0 && (size_t) used < size; other++)
        if (!group->slots [other].present)
            used += snprintf (reason + used, size - (size_t) used, " %d", other);
}

//  Adds this rank's slot and waits for the operation; 0 or -1.
static int
s_rendezvous (s_rank_t *self, const s_slot_t *slot, char *error, size_t error_size)
{
    test_coll_group_t *group = self->group;
    int rank = self->base.rank;
    struct timespec deadline;
    clock_gettime (CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += group->timeout_ms / 1000;
    deadline.tv_nsec += (long) (group->timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock (&group->mutex);
    uint64_t generation = group->generation;
    if (!group->failed) {
        group->slots [rank] = *slot;
        group->slots [rank].present = true;
        if (++group->arrived == group->size)
            s_complete (group);
    }
    while (!group->failed && group->generation == generation) {
        if (pthread_cond_timedwait (&group->cond, &group->mutex, &deadline) == ETIMEDOUT
        &&  !group->failed && group->generation == generation) {
            char reason [256];
            s_timeout_reason (group, rank, reason, sizeof reason);
            s_fail_group (group, reason);
        }
    }
    int rc = group->generation != generation ? 0 : -1;
    if (rc)
        s_set_error (error, error_size, "%s", group->reason);
    pthread_mutex_unlock (&group->mutex);
    return rc;
}

static int
s_all_reduce_sum (xinf_collective_t *base, float *data, size_t count, char *error, size_t error_size)
{
    s_slot_t slot = { .op = S_ALL_REDUCE, .data = data, .count = count };
    return s_rendezvous ((s_rank_t *) base, &slot, error, error_size);
}

static int
s_broadcast (xinf_collective_t *base, void *data, size_t *bytes, size_t capacity, int root,
             char *error, size_t error_size)
{
    if (root < 0 || root >= base->size) {
        s_set_error (error, error_size, "broadcast root %d is not a rank of %d", root, base->size);
        return -1;
    }
    s_slot_t slot = { .op = S_BROADCAST, .buffer = data, .bytes = bytes, .capacity = capacity, .root = root };
    return s_rendezvous ((s_rank_t *) base, &slot, error, error_size);
}

static bool
s_ready (xinf_collective_t *base, int root)
{
    test_coll_group_t *group = ((s_rank_t *) base)->group;
    if (root < 0 || root >= base->size)
        return false;
    pthread_mutex_lock (&group->mutex);
    bool ready = group->slots [root].present && group->slots [root].op == S_BROADCAST;
    pthread_mutex_unlock (&group->mutex);
    return ready;
}

static void
s_abort (xinf_collective_t *base)
{
    test_coll_group_t *group = ((s_rank_t *) base)->group;
    pthread_mutex_lock (&group->mutex);
    s_fail_group (group, "aborted");
    pthread_mutex_unlock (&group->mutex);
}

static void
s_destroy (xinf_collective_t *base)
{
    free (base);
}

static const xinf_collective_ops_t s_ops = { s_all_reduce_sum, s_broadcast, s_ready, s_abort, s_destroy };

test_coll_group_t *
test_coll_group_new (int size, int timeout_ms)
{
    if (size < 1 || size > MAX_RANKS || timeout_ms < 1)
        return NULL;
    test_coll_group_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->cond, &attr);
    pthread_condattr_destroy (&attr);
    self->size = size;
    self->timeout_ms = timeout_ms;
    return self;
}

void
test_coll_group_destroy (test_coll_group_t **self_p)
{
    if (self_p && *self_p) {
        pthread_cond_destroy (&(*self_p)->cond);
        pthread_mutex_destroy (&(*self_p)->mutex);
        free (*self_p);
        *self_p = NULL;
    }
}

xinf_collective_t *
test_coll_new (test_coll_group_t *group, int rank)
{
    if (!group || rank < 0 || rank >= group->size)
        return NULL;
    s_rank_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->base = (xinf_collective_t) { &s_ops, rank, group->size };
    self->group = group;
    return &self->base;
}
