/*  test_coll_threads: a backend of kernels/xinf_collective.h for tests
    whose ranks are threads of one process.

    The ranks of a group share one rendezvous (a mutex and a condition
    variable): each operation waits until every rank has called it, then
    the last rank to arrive does the work for all of them (an all-reduce
    sums the ranks' buffers element by element in rank order 0, 1, ..
    size-1 and writes the sum into every buffer, so all ranks get the same
    bits) and releases them. Nothing waits forever: a rank that waits
    longer than the group's timeout fails the group with a reason naming
    the ranks that never came. A failure (timeout, mismatched calls,
    abort from any rank) is sticky and fails every waiting and later call
    of every rank of the group.

        test_coll_group_t *group = test_coll_group_new (3, 30000);
        xinf_collective_t *rank1 = test_coll_new (group, 1);  //  in rank 1's thread
        ...
        xinf_collective_destroy (&rank1);                     //  every rank's
        test_coll_group_destroy (&group);                     //  then the group
*/
#ifndef TEST_COLL_THREADS_H_INCLUDED
#define TEST_COLL_THREADS_H_INCLUDED

#include "xinf_collective.h"

typedef struct _test_coll_group_t test_coll_group_t;

//  A group of 'size' ranks (1 .. 64) whose waits fail after 'timeout_ms'.
test_coll_group_t *test_coll_group_new (int size, int timeout_ms);
//  After the collectives of all its ranks are destroyed.
void test_coll_group_destroy (test_coll_group_t **self_p);

//  The collective of 'rank' in the group (the caller destroys it).
xinf_collective_t *test_coll_new (test_coll_group_t *group, int rank);

#endif
