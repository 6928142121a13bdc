/*  test_batcher_priority_stress: the batcher's priorities under stress:
    prefix cache on, prompts that share prefixes, scored prompts, random
    priorities arriving over time, few blocks (written by a reviewer). Checks that every
    sequence ends with its tokens, that schedule never stalls while
    sequences remain, and that preemptions stay bounded (no thrash).  */
#include "test_assert.h"
#include "xinf_batcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEQS 24

typedef struct {
    xinf_batcher_t *batcher;
    xinf_batch_buf_t *batch;
    size_t sampled [SEQS], want [SEQS];
    bool added [SEQS], done [SEQS], scored [SEQS];
    size_t steps, stalls;
} s_run_t;

static uint64_t s_state = 12345;
static uint64_t
s_rand (void)
{
    s_state = s_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return s_state >> 33;
}

static bool
s_step (s_run_t *run)
{
    const uint64_t *ids;
    size_t n_out;
    if (!xinf_batcher_schedule (run->batcher, run->batch, 4 + s_rand () % 40, &ids, &n_out))
        return false;
    run->steps++;
    xinf_batcher_commit (run->batcher);
    const int32_t *scores = xinf_batcher_scores (run->batcher);
    for (size_t row = 0; row < n_out; row++) {
        uint64_t id = ids [row];
        if (scores [row] >= 0)
            continue;                 //  a scored prompt position
        if (++run->sampled [id] == run->want [id]) {
            CHECK (xinf_batcher_remove (run->batcher, id));
            run->done [id] = true;
        }
        else
            CHECK (xinf_batcher_append (run->batcher, id, (int32_t) ((id * 7 + run->sampled [id]) % 300)) == 0);
    }
    return true;
}

static void
s_round (size_t n_blocks, size_t max_seqs, size_t step_tokens)
{
    s_run_t run;
    memset (&run, 0, sizeof run);
    xinf_batcher_config_t config = { .n_blocks = n_blocks, .block_tokens = 4, .max_seqs = max_seqs,
                                     .step_tokens = step_tokens, .context = 4096, .max_rows = step_tokens,
                                     .prefix_cache = true };
    run.batcher = xinf_batcher_new (&config);
    run.batch = xinf_batch_buf_new ();
    CHECK (run.batcher && run.batch);
    size_t next = 0, guard = 0;
    while (guard++ < 20000) {
        if (next < SEQS && s_rand () % 3 == 0) {
            int32_t prompt [64];
            size_t length = 1 + s_rand () % (n_blocks * 4 - 2 < 60 ? n_blocks * 4 - 2 : 60);
            for (size_t i = 0; i < length; i++)
                prompt [i] = (int32_t) (i < 12 ? i : (next * 31 + i) % 300);       //  a shared prefix
            char error [256];
            CHECK (xinf_batcher_add (run.batcher, next, prompt, length, error, sizeof error) == 0);
            CHECK (xinf_batcher_prioritize (run.batcher, next, (int64_t) (s_rand () % 5) - 2) == 0);
            if (length > 2 && s_rand () % 4 == 0)
                run.scored [next] = xinf_batcher_score_prompt (run.batcher, next) == 0;
            size_t cap = n_blocks * 4 - 1 - length;
            run.want [next] = 1 + s_rand () % (cap < 30 ? cap : 30);
            run.added [next++] = true;
        }
        bool any = false;
        for (size_t id = 0; id < next; id++)
            any |= !run.done [id];
        if (!any && next == SEQS)
            break;
        if (!s_step (&run) && any)
            run.stalls++;
        if (run.stalls > 200)
            break;
    }
    xinf_batcher_stats_t stats = xinf_batcher_stats (run.batcher);
    size_t tokens = 0;
    for (size_t id = 0; id < SEQS; id++)
        tokens += run.want [id];
    if (run.stalls > 200 || stats.preemptions > 4 * tokens)
        fprintf (stderr, "blocks %zu max_seqs %zu step %zu: stalls %zu preemptions %zu tokens %zu steps %zu "
                 "running %zu waiting %zu available %zu\n", n_blocks, max_seqs, step_tokens, run.stalls,
                 stats.preemptions, tokens, run.steps, stats.running, stats.waiting, stats.blocks_available);
    CHECK (run.stalls <= 200);
    CHECK (stats.preemptions <= 4 * tokens);
    for (size_t id = 0; id < SEQS; id++)
        CHECK_INT (run.sampled [id], run.want [id]);
    xinf_batch_buf_destroy (&run.batch);
    xinf_batcher_destroy (&run.batcher);
}

int
main (void)
{
    for (int seed = 0; seed < 300; seed++) {
        s_state = (uint64_t) seed * 977 + 1;
        s_round (6 + (size_t) seed % 12, 1 + (size_t) seed % 5, 8 + (size_t) (seed % 3) * 8);
    }
    printf ("PASS: priority stress\n");
    return 0;
}
