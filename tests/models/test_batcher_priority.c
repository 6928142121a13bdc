/*  test_batcher_priority: sequences with priorities (vLLM's: lower first).

    The queue admits by priority, then age; a waiting sequence of a lower
    value preempts the newest running one of the highest value when
    max_seqs are running or no block is free, and that one is recomputed
    later; equal priorities keep first come, first served. Under random
    priorities and few blocks every sequence still ends, with the tokens
    it was given. The steps are run with no model: a "sampled" token is a
    function of the sequence and its length.
*/
#include "test_assert.h"
#include "xinf_batcher.h"

#include <stdlib.h>
#include <string.h>

#define SEQS 8

typedef struct {
    xinf_batcher_t *batcher;
    xinf_batch_buf_t *batch;
    size_t sampled [SEQS], want [SEQS];
    size_t first_step [SEQS];         //  the step that first carried it (0: none yet)
    size_t done_step [SEQS];
    size_t steps;
} s_run_t;

static int32_t
s_token (size_t seq, size_t index)
{
    return (int32_t) ((seq * 131 + index * 17) % 500);
}

static void
s_new (s_run_t *run, size_t n_blocks, size_t max_seqs)
{
    memset (run, 0, sizeof *run);
    xinf_batcher_config_t config = { .n_blocks = n_blocks, .block_tokens = 16, .max_seqs = max_seqs,
                                     .step_tokens = 64, .context = 1024, .max_rows = 64 };
    run->batcher = xinf_batcher_new (&config);
    run->batch = xinf_batch_buf_new ();
    CHECK (run->batcher && run->batch);
}

static void
s_add (s_run_t *run, uint64_t id, size_t length, size_t want, int64_t priority)
{
    int32_t prompt [64];
    for (size_t i = 0; i < length; i++)
        prompt [i] = s_token (id, i + 1000);
    char error [256];
    CHECK (xinf_batcher_add (run->batcher, id, prompt, length, error, sizeof error) == 0);
    CHECK (xinf_batcher_prioritize (run->batcher, id, priority) == 0);
    run->want [id] = want;
}

//  One step: scheduled, committed, a token appended to each row's
//  sequence (removed when it has its tokens). False when nothing ran.
static bool
s_step (s_run_t *run)
{
    const uint64_t *ids;
    size_t n_out;
    if (!xinf_batcher_schedule (run->batcher, run->batch, 0, &ids, &n_out))
        return false;
    run->steps++;
    xinf_batcher_commit (run->batcher);
    for (size_t row = 0; row < n_out; row++) {
        uint64_t id = ids [row];
        if (!run->first_step [id])
            run->first_step [id] = run->steps;
        if (++run->sampled [id] == run->want [id]) {
            CHECK (xinf_batcher_remove (run->batcher, id));
            run->done_step [id] = run->steps;
        }
        else
            CHECK (xinf_batcher_append (run->batcher, id, s_token (id, run->sampled [id])) == 0);
    }
    return true;
}

static void
s_finish (s_run_t *run, size_t count)
{
    while (run->steps < 5000 && s_step (run))
        ;
    for (size_t id = 0; id < count; id++)
        CHECK_INT (run->sampled [id], run->want [id]);
}

static void
s_destroy (s_run_t *run)
{
    xinf_batch_buf_destroy (&run->batch);
    xinf_batcher_destroy (&run->batcher);
}

//  One place: the sequences run one after another, by priority then age.
static void
test_queue_order (void)
{
    s_run_t run;
    s_new (&run, 64, 1);
    const int64_t priorities [] = { 0, 5, -1, 0, -1 };
    for (uint64_t id = 0; id < 5; id++)
        s_add (&run, id, 5, 3, priorities [id]);
    s_finish (&run, 5);
    const uint64_t order [] = { 2, 4, 0, 3, 1 };
    for (size_t at = 1; at < 5; at++)
        CHECK (run.first_step [order [at]] > run.done_step [order [at - 1]]);
    CHECK_INT (xinf_batcher_stats (run.batcher).preemptions, 0);
    CHECK (xinf_batcher_prioritize (run.batcher, 99, 1) == -1);
    s_destroy (&run);
}

//  Two places taken by priority 0: a priority -1 arrival preempts the
//  newer of them, runs at once, and the preempted one ends later.
static void
test_preempt_for_place (void)
{
    s_run_t run;
    s_new (&run, 64, 2);
    s_add (&run, 0, 20, 30, 0);
    s_add (&run, 1, 20, 30, 0);
    for (int i = 0; i < 3; i++)
        CHECK (s_step (&run));
    s_add (&run, 2, 10, 5, -1);
    CHECK (s_step (&run));
    CHECK_INT (run.first_step [2], run.steps);              //  at once
    CHECK_INT (xinf_batcher_stats (run.batcher).preemptions, 1);
    CHECK (xinf_batcher_length (run.batcher, 1) > 20);     //  its tokens so far kept, to be recomputed
    s_finish (&run, 3);
    CHECK (run.done_step [2] < run.done_step [0] && run.done_step [2] < run.done_step [1]);
    //  An arrival of priority 0 preempts nobody
    s_add (&run, 3, 10, 40, 0);
    s_add (&run, 4, 10, 40, 0);
    CHECK (s_step (&run));
    s_add (&run, 5, 10, 5, 0);
    s_finish (&run, 6);
    CHECK_INT (xinf_batcher_stats (run.batcher).preemptions, 1);
    CHECK (run.first_step [5] > run.done_step [3] || run.first_step [5] > run.done_step [4]);
    s_destroy (&run);
}

//  Few blocks, random priorities and arrivals: every sequence ends with
//  its tokens.
static void
test_random (void)
{
    uint64_t state = 7;
    for (int round = 0; round < 20; round++) {
        s_run_t run;
        s_new (&run, 6 + (size_t) round % 5, 1 + (size_t) round % 4);
        size_t added = 0;
        while (added < SEQS) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            s_add (&run, added, 1 + (size_t) (state >> 33) % 40, 1 + (size_t) (state >> 45) % 20,
                   (int64_t) ((state >> 20) % 3) - 1);
            added++;
            for (size_t i = 0; i < (size_t) (state >> 50) % 4; i++)
                s_step (&run);
        }
        s_finish (&run, SEQS);
        s_destroy (&run);
    }
}

int
main (void)
{
    test_queue_order ();
    test_preempt_for_place ();
    test_random ();
    printf ("PASS: priorities: the queue's order, preemption for a place, and every sequence ends\n");
    return 0;
}
