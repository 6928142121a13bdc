/*  test_batcher_scores: the batcher's scored prompts (prompt_logprobs).

    A scored sequence gets a logits row for every prompt position but the
    last, each scoring the prompt's next token, exactly once and in order,
    beside the sampling row of its last position; no step asks more rows
    than max_rows; a scored prompt takes nothing from the prefix cache; a
    scored sequence preempted and recomputed is not scored twice; a step
    that failed (abandoned) delivers nothing, so its rows come again. The
    steps are checked against the batch they build, with no model: a
    "sampled" token is a function of the sequence and its length.
*/
#include "test_assert.h"
#include "xinf_batcher.h"

#include <stdlib.h>
#include <string.h>

#define SEQS 8
#define MAX_PROMPT 90

typedef struct {
    size_t length;                    //  the prompt's
    bool scored;
    int32_t prompt [MAX_PROMPT];
    size_t next_scored;               //  the next position a scored row must be at
    size_t sampled;                   //  tokens sampled so far
    size_t want;                      //  tokens to sample before it is removed
    bool done;
} s_seq_t;

static int32_t
s_token (size_t seq, size_t index)
{
    return (int32_t) ((seq * 131 + index * 17) % 500);
}

//  Checks one scheduled step's rows against the sequences; 'deliver'
//  (the step ran) moves them on.
static void
s_check_step (xinf_batcher_t *batcher, const xinf_batch_t *batch, const uint64_t *ids, size_t n_out,
              size_t max_rows, s_seq_t *seqs, bool deliver)
{
    const int32_t *scores = xinf_batcher_scores (batcher);
    CHECK (n_out <= max_rows);
    CHECK_INT (n_out, batch->n_out);
    size_t expect [SEQS];
    for (size_t s = 0; s < SEQS; s++)
        expect [s] = seqs [s].next_scored;
    for (size_t row = 0; row < n_out; row++) {
        CHECK (row == 0 || batch->out [row] > batch->out [row - 1]);
        s_seq_t *seq = &seqs [ids [row]];
        size_t pos = (size_t) batch->pos [batch->out [row]];
        if (scores [row] >= 0) {
            CHECK (seq->scored);
            CHECK_INT (pos, expect [ids [row]]);        //  each once, in order
            expect [ids [row]]++;
            CHECK (pos + 1 < seq->length);
            CHECK_INT (scores [row], seq->prompt [pos + 1]);
        }
        else {
            CHECK (pos + 1 >= seq->length);             //  the sampling row: the sequence's last position
            CHECK (!seq->scored || expect [ids [row]] + 1 == seq->length);
        }
    }
    for (size_t s = 0; deliver && s < SEQS; s++)
        seqs [s].next_scored = expect [s];
}

//  Runs the sequences to their end; 'fail_every': every so many steps one
//  is abandoned (failed) instead of committed.
static void
s_run (size_t n_blocks, size_t max_seqs, size_t step_tokens, size_t max_rows, bool prefix_cache, size_t fail_every,
       size_t *preemptions, size_t *prefix_hits)
{
    xinf_batcher_config_t config = { .n_blocks = n_blocks, .block_tokens = 16, .max_seqs = max_seqs,
                                     .step_tokens = step_tokens, .context = 4096, .prefix_cache = prefix_cache,
                                     .max_rows = max_rows };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    CHECK (batcher);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    s_seq_t seqs [SEQS];
    static const size_t lengths [SEQS] = { 40, 1, 90, 33, 64, 2, 70, 17 };
    char error [256];
    for (size_t s = 0; s < SEQS; s++) {
        s_seq_t *seq = &seqs [s];
        *seq = (s_seq_t) { .length = lengths [s], .scored = s % 2 == 0 || s == 5, .want = 3 + (s % 4) * 9 };
        for (size_t pos = 0; pos < seq->length; pos++)      //  half the prompts share their start
            seq->prompt [pos] = s < 4 && pos < 32 ? (int32_t) pos : s_token (s, pos + 1000);
        CHECK (xinf_batcher_add (batcher, s, seq->prompt, seq->length, error, sizeof error) == 0);
        if (seq->scored)
            CHECK (xinf_batcher_score_prompt (batcher, s) == 0);
    }
    CHECK (xinf_batcher_score_prompt (batcher, 999) == -1);
    size_t steps = 0, left = SEQS;
    const uint64_t *ids;
    size_t n_out;
    while (left && steps < 10000) {
        CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &n_out));
        steps++;
        const xinf_batch_t *view = xinf_batch_buf_view (batch);
        bool fail = fail_every && steps % fail_every == 0;
        s_check_step (batcher, view, ids, n_out, max_rows < max_seqs ? max_seqs : max_rows, seqs, !fail);
        if (fail) {
            xinf_batcher_abandon (batcher);
            continue;
        }
        xinf_batcher_commit (batcher);
        const int32_t *scores = xinf_batcher_scores (batcher);
        for (size_t row = 0; row < n_out; row++) {
            s_seq_t *seq = &seqs [ids [row]];
            if (scores [row] >= 0 || seq->done)
                continue;
            if (++seq->sampled == seq->want) {
                seq->done = true;
                CHECK (xinf_batcher_remove (batcher, ids [row]));
                left--;
            }
            else
                CHECK (xinf_batcher_append (batcher, ids [row], s_token (ids [row], seq->sampled)) == 0);
        }
    }
    CHECK_INT (left, 0);
    for (size_t s = 0; s < SEQS; s++)                       //  every position scored
        if (seqs [s].scored)
            CHECK_INT (seqs [s].next_scored, seqs [s].length - 1);
    xinf_batcher_stats_t stats = xinf_batcher_stats (batcher);
    *preemptions = stats.preemptions;
    *prefix_hits = stats.prefix_hit_tokens;
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
}

static void
test_scores (void)
{
    size_t preemptions, hits;
    //  Room for all: rows limited to 16 a step, then to 64
    s_run (256, 4, 256, 16, true, 0, &preemptions, &hits);
    CHECK_INT (preemptions, 0);
    s_run (256, 4, 256, 64, true, 0, &preemptions, &hits);
    //  max_rows below max_seqs counts as max_seqs; odd step budgets
    s_run (256, 8, 37, 3, true, 0, &preemptions, &hits);
    s_run (256, 2, 5, 2, true, 0, &preemptions, &hits);
    //  Failed steps deliver nothing: their rows come again
    s_run (256, 4, 64, 16, true, 3, &preemptions, &hits);
    //  So few blocks that sequences are preempted and recomputed
    s_run (9, 4, 64, 16, true, 0, &preemptions, &hits);
    CHECK (preemptions > 0);
    s_run (9, 4, 64, 16, true, 5, &preemptions, &hits);
}

//  The prefix cache serves plain prompts, never scored ones.
static void
test_no_prefix_for_scored (void)
{
    xinf_batcher_config_t config = { .n_blocks = 64, .block_tokens = 16, .max_seqs = 2, .step_tokens = 64,
                                     .context = 4096, .prefix_cache = true, .max_rows = 64 };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t prompt [40];
    for (size_t pos = 0; pos < 40; pos++)
        prompt [pos] = (int32_t) pos + 7;
    char error [256];
    const uint64_t *ids;
    size_t n_out;
    for (uint64_t id = 1; id <= 3; id++) {
        CHECK (xinf_batcher_add (batcher, id, prompt, 40, error, sizeof error) == 0);
        if (id == 2)
            CHECK (xinf_batcher_score_prompt (batcher, id) == 0);
        CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &n_out));
        const xinf_batch_t *view = xinf_batch_buf_view (batch);
        CHECK_INT (view->n, id == 1 || id == 2 ? 40 : 8);   //  the third reuses two whole blocks
        CHECK_INT (n_out, id == 2 ? 40 : 1);
        xinf_batcher_commit (batcher);
        CHECK (xinf_batcher_remove (batcher, id));
        CHECK (xinf_batcher_score_prompt (batcher, id) == -1);  //  gone
    }
    CHECK_INT (xinf_batcher_stats (batcher).prefix_hit_tokens, 32);
    //  A sequence that already began cannot be scored any more
    CHECK (xinf_batcher_add (batcher, 9, prompt, 40, error, sizeof error) == 0);
    CHECK (xinf_batcher_schedule (batcher, batch, 8, &ids, &n_out));
    xinf_batcher_commit (batcher);
    CHECK (xinf_batcher_score_prompt (batcher, 9) == -1);
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
}

//  A scored prompt cut short by max_rows (the step's budget left over)
//  admits no sequence beside it: two prompts holding every block mid-way,
//  neither able to go on, would stall the replica for good (found by a
//  review's randomized harness). Both run to their end.
static void
test_no_stall_beside_scored (void)
{
    xinf_batcher_config_t config = { .n_blocks = 8, .block_tokens = 16, .max_seqs = 2, .step_tokens = 64,
                                     .context = 128, .prefix_cache = true, .max_rows = 16 };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t prompt [100];
    for (int32_t pos = 0; pos < 100; pos++)
        prompt [pos] = pos;
    char error [256];
    CHECK (xinf_batcher_add (batcher, 1, prompt, 100, error, sizeof error) == 0);
    CHECK (xinf_batcher_score_prompt (batcher, 1) == 0);
    prompt [0] = 77;
    CHECK (xinf_batcher_add (batcher, 2, prompt, 100, error, sizeof error) == 0);
    const uint64_t *ids;
    size_t n_out, left = 2, generated [3] = { 0 };
    for (int step = 0; left && step < 200; step++) {
        CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &n_out));
        xinf_batcher_commit (batcher);
        const int32_t *scores = xinf_batcher_scores (batcher);
        for (size_t row = 0; row < n_out; row++) {
            if (scores [row] >= 0)
                continue;
            if (++generated [ids [row]] == 20) {
                CHECK (xinf_batcher_remove (batcher, ids [row]));
                left--;
            }
            else
                CHECK (xinf_batcher_append (batcher, ids [row], 5) == 0);
        }
    }
    CHECK_INT (left, 0);
    CHECK (xinf_batcher_stats (batcher).preemptions > 0);     //  the blocks were short
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
}

int
main (void)
{
    RUN (test_scores);
    RUN (test_no_prefix_for_scored);
    RUN (test_no_stall_beside_scored);
    return 0;
}
