/*  test_batcher_embed: the batcher's embeddings (GENERATE embed).

    An embedding's sequence gets no logits rows, and hidden rows at the
    positions it is pooled from: every prompt position (mean) or the last;
    each exactly once and in order, beside sequences that generate and
    sequences whose prompts are scored, across chunked prompts, steps that
    failed (abandoned: their rows come again) and preemption (a sequence
    recomputed delivers no position twice). A mean-pooled prompt takes
    nothing from the prefix cache; a last-pooled one does. The steps are
    checked against the batch they build, with no model.
*/
#include "test_assert.h"
#include "xinf_batcher.h"

#include <stdlib.h>
#include <string.h>

#define SEQS 9
#define MAX_PROMPT 100

typedef enum { S_PLAIN, S_SCORED, S_MEAN, S_LAST } s_kind_t;

typedef struct {
    s_kind_t kind;
    size_t length;                    //  the prompt's
    int32_t prompt [MAX_PROMPT];
    size_t next_hidden;               //  the next position a hidden row must be at
    size_t hidden;                    //  hidden rows delivered
    size_t sampled, want;             //  tokens sampled so far, and before it is removed
    bool done;
} s_seq_t;

static int32_t
s_token (size_t seq, size_t index)
{
    return (int32_t) ((seq * 131 + index * 17) % 500);
}

//  Whether the sequence's embedding has every row it needs.
static bool
s_pooled (const s_seq_t *seq)
{
    return seq->hidden == (seq->kind == S_MEAN ? seq->length : 1);
}

//  Checks one step's rows against the sequences; 'deliver' (the step ran)
//  moves them on.
static void
s_check_step (xinf_batcher_t *batcher, const xinf_batch_t *batch, const uint64_t *ids, size_t n_out, s_seq_t *seqs,
              size_t max_hidden, bool deliver)
{
    size_t n_hid;
    const uint64_t *hid_ids = xinf_batcher_hidden (batcher, &n_hid);
    CHECK_INT (n_hid, batch->n_hid);
    CHECK (n_hid <= max_hidden);
    for (size_t row = 0; row < n_out; row++)
        CHECK (seqs [ids [row]].kind == S_PLAIN || seqs [ids [row]].kind == S_SCORED);
    size_t expect [SEQS], count [SEQS];
    for (size_t s = 0; s < SEQS; s++) {
        expect [s] = seqs [s].next_hidden;
        count [s] = seqs [s].hidden;
    }
    for (size_t row = 0; row < n_hid; row++) {
        CHECK (row == 0 || batch->hid [row] > batch->hid [row - 1]);
        s_seq_t *seq = &seqs [hid_ids [row]];
        size_t pos = (size_t) batch->pos [batch->hid [row]];
        CHECK (seq->kind == S_MEAN || seq->kind == S_LAST);
        CHECK_INT (batch->tokens [batch->hid [row]], seq->prompt [pos]);
        if (seq->kind == S_MEAN) {
            CHECK_INT (pos, expect [hid_ids [row]]);       //  each once, in order
            expect [hid_ids [row]]++;
        }
        else
            CHECK_INT (pos, seq->length - 1);
        count [hid_ids [row]]++;
        CHECK (count [hid_ids [row]] <= (seq->kind == S_MEAN ? seq->length : 1));
    }
    for (size_t s = 0; deliver && s < SEQS; s++) {
        seqs [s].next_hidden = expect [s];
        seqs [s].hidden = count [s];
    }
}

//  Runs the sequences to their end; 'fail_every': every so many steps one
//  is abandoned (failed) instead of committed.
static void
s_run (size_t n_blocks, size_t max_seqs, size_t step_tokens, size_t max_rows, size_t max_hidden, size_t fail_every,
       size_t *preemptions)
{
    xinf_batcher_config_t config = { .n_blocks = n_blocks, .block_tokens = 16, .max_seqs = max_seqs,
                                     .step_tokens = step_tokens, .context = 4096, .prefix_cache = true,
                                     .max_rows = max_rows, .max_hidden = max_hidden };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    CHECK (batcher);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    s_seq_t seqs [SEQS];
    static const size_t lengths [SEQS] = { 40, 1, 90, 33, 64, 2, 70, 17, 100 };
    static const s_kind_t kinds [SEQS] = { S_MEAN, S_MEAN, S_PLAIN, S_LAST, S_SCORED, S_LAST, S_MEAN, S_PLAIN, S_LAST };
    char error [256];
    for (size_t s = 0; s < SEQS; s++) {
        s_seq_t *seq = &seqs [s];
        *seq = (s_seq_t) { .kind = kinds [s], .length = lengths [s], .want = 3 + (s % 4) * 9 };
        for (size_t pos = 0; pos < seq->length; pos++)      //  some prompts share their start
            seq->prompt [pos] = s % 3 == 0 && pos < 32 ? (int32_t) pos : s_token (s, pos + 1000);
        CHECK (xinf_batcher_add (batcher, s, seq->prompt, seq->length, error, sizeof error) == 0);
        if (seq->kind == S_SCORED)
            CHECK (xinf_batcher_score_prompt (batcher, s) == 0);
        if (seq->kind == S_MEAN || seq->kind == S_LAST) {
            CHECK (xinf_batcher_embed_prompt (batcher, s, seq->kind == S_MEAN ? XINF_BATCHER_POOL_MEAN
                                                                              : XINF_BATCHER_POOL_LAST) == 0);
        }
    }
    CHECK (xinf_batcher_embed_prompt (batcher, 4, XINF_BATCHER_POOL_MEAN) == -1);   //  scored: not both
    CHECK (xinf_batcher_embed_prompt (batcher, 2, XINF_BATCHER_POOL_NONE) == -1);
    CHECK (xinf_batcher_embed_prompt (batcher, 999, XINF_BATCHER_POOL_LAST) == -1);
    size_t steps = 0, left = SEQS;
    const uint64_t *ids;
    size_t n_out;
    while (left && steps < 10000) {
        CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &n_out));
        steps++;
        bool fail = fail_every && steps % fail_every == 0;
        s_check_step (batcher, xinf_batch_buf_view (batch), ids, n_out, seqs, max_hidden ? max_hidden : step_tokens,
                      !fail);
        if (fail) {
            xinf_batcher_abandon (batcher);
            continue;
        }
        xinf_batcher_commit (batcher);
        for (size_t s = 0; s < SEQS; s++)                   //  an embedding ends with its last row
            if ((seqs [s].kind == S_MEAN || seqs [s].kind == S_LAST) && !seqs [s].done && s_pooled (&seqs [s])) {
                seqs [s].done = true;
                CHECK (xinf_batcher_remove (batcher, s));
                left--;
            }
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
    for (size_t s = 0; s < SEQS; s++)
        if (seqs [s].kind == S_MEAN)
            CHECK_INT (seqs [s].next_hidden, seqs [s].length);
    *preemptions = xinf_batcher_stats (batcher).preemptions;
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
}

static void
test_embeddings (void)
{
    size_t preemptions;
    s_run (256, 4, 256, 16, 0, 0, &preemptions);
    CHECK_INT (preemptions, 0);
    s_run (256, 8, 37, 3, 0, 0, &preemptions);           //  odd step budgets: prompts in chunks
    s_run (256, 2, 5, 2, 0, 0, &preemptions);
    s_run (256, 4, 64, 16, 0, 3, &preemptions);          //  failed steps: their rows come again
    s_run (8, 4, 64, 16, 0, 0, &preemptions);            //  few blocks: preempted and recomputed
    CHECK (preemptions > 0);
    s_run (8, 4, 64, 16, 0, 5, &preemptions);
    s_run (8, 1, 16, 1, 0, 4, &preemptions);
    s_run (256, 4, 64, 16, 7, 0, &preemptions);          //  at most 7 hidden rows a step, then 1
    s_run (256, 4, 64, 16, 1, 3, &preemptions);
    s_run (8, 4, 64, 16, 5, 5, &preemptions);
}

//  One sequence alone: its rows and its prefix hits.
static size_t
s_alone (xinf_batcher_t *batcher, xinf_batch_buf_t *batch, uint64_t id, const int32_t *prompt, size_t length,
         xinf_batcher_pool_t pool, size_t *tokens)
{
    char error [256];
    const uint64_t *ids;
    size_t n_out, n_hid, rows = 0;
    *tokens = 0;
    CHECK (xinf_batcher_add (batcher, id, prompt, length, error, sizeof error) == 0);
    CHECK (xinf_batcher_embed_prompt (batcher, id, pool) == 0);
    while (xinf_batcher_schedule (batcher, batch, 0, &ids, &n_out)) {
        CHECK_INT (n_out, 0);
        xinf_batcher_hidden (batcher, &n_hid);
        rows += n_hid;
        *tokens += xinf_batch_buf_view (batch)->n;
        xinf_batcher_commit (batcher);
    }
    CHECK (xinf_batcher_remove (batcher, id));
    return rows;
}

//  Last pooling reuses a cached prefix (the last token is always
//  computed); mean pooling computes every position.
static void
test_prefix_cache (void)
{
    xinf_batcher_config_t config = { .n_blocks = 64, .block_tokens = 16, .max_seqs = 2, .step_tokens = 64,
                                     .context = 4096, .prefix_cache = true, .max_rows = 2 };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t prompt [48];
    for (size_t pos = 0; pos < 48; pos++)
        prompt [pos] = (int32_t) pos + 7;
    size_t tokens;
    CHECK_INT (s_alone (batcher, batch, 1, prompt, 48, XINF_BATCHER_POOL_LAST, &tokens), 1);
    CHECK_INT (tokens, 48);
    CHECK_INT (s_alone (batcher, batch, 2, prompt, 48, XINF_BATCHER_POOL_LAST, &tokens), 1);
    CHECK_INT (tokens, 16);                                  //  two whole blocks reused, the last computed
    CHECK_INT (s_alone (batcher, batch, 3, prompt, 48, XINF_BATCHER_POOL_MEAN, &tokens), 48);
    CHECK_INT (tokens, 48);
    CHECK_INT (s_alone (batcher, batch, 4, prompt, 1, XINF_BATCHER_POOL_MEAN, &tokens), 1);
    CHECK_INT (xinf_batcher_stats (batcher).prefix_hit_tokens, 32);
    //  A sequence that already began cannot become an embedding
    char error [256];
    const uint64_t *ids;
    size_t n_out;
    CHECK (xinf_batcher_add (batcher, 9, prompt, 40, error, sizeof error) == 0);
    CHECK (xinf_batcher_schedule (batcher, batch, 8, &ids, &n_out));
    xinf_batcher_commit (batcher);
    CHECK (xinf_batcher_embed_prompt (batcher, 9, XINF_BATCHER_POOL_LAST) == -1);
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
}

int
main (void)
{
    RUN (test_embeddings);
    RUN (test_prefix_cache);
    return 0;
}
