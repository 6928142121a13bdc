/*  test_hidden: a step's hidden rows (the final states embeddings are
    pooled from, xinf_transformer_step_rows).

    A hidden row is the token's state after the last layer, normed by
    output_norm: the output layer applied to it (in double, from an F32
    file) gives the step's logits of the same token. Rows do not depend
    on the rest of the step: every prompt position's row, run through the
    batcher as mean-pooled embeddings beside generating sequences, in odd
    chunks, in passes of 8 tokens (the cache's max_tokens: the rows
    counted again from each pass's first token), on 2 threads, equals the
    sequence's run alone bit for bit (F32 and Q8_0). Also the batch's
    hidden rows through the wire form, and their bad fields refused.

        test_hidden PATH/TO/xinf-make-model
*/
#include "test_models.h"
#include "xinf_batcher.h"
#include "xinf_cpu_backend.h"
#include "xinf_model.h"

#include <math.h>
#include <sys/wait.h>

#define SEQS 4

static const char *s_tool;
static const size_t s_lengths [SEQS] = { 9, 41, 1, 30 };

static xinf_model_t *
s_model (const char *name, const char *arguments)
{
    char path [512], command [1500], error [512];
    test_path (path, sizeof path, name);
    snprintf (command, sizeof command, "'%s' %s -o '%s' > /dev/null", s_tool, arguments, path);
    int status = system (command);
    CHECK (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (model);
    return model;
}

static int32_t
s_token (size_t seq, size_t pos, size_t vocab)
{
    return (int32_t) ((pos * 31 + seq * 101 + 3) % vocab);
}

//  Every prompt position's hidden row of each sequence ('rows' [s]
//  [length][dim]); sequences 'plain' generate beside them instead.
static void
s_run (const xinf_transformer_t *t, size_t max_seqs, size_t step_tokens, size_t pass_tokens, int threads,
       bool together, float *rows [SEQS])
{
    xinf_backend_t *backend = xinf_cpu_backend_new (threads);
    xinf_kv_cache_t *cache = xinf_kv_cache_new (t, backend, xinf_backend_kv_default (backend), 64, 16, pass_tokens);
    xinf_batcher_config_t config = { .n_blocks = 64, .block_tokens = 16, .max_seqs = max_seqs,
                                     .step_tokens = step_tokens, .context = t->context, .prefix_cache = true };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    CHECK (backend && cache && batcher && batch);
    float *logits = malloc (step_tokens * t->vocab * sizeof (float));
    float *hidden = malloc (step_tokens * t->dim * sizeof (float));
    size_t next [SEQS + 1] = { 0 }, generated = 0;
    char error [256];
    int32_t prompt [64];
    for (size_t s = 0; s < (together ? SEQS + 1 : SEQS); s++) {   //  sequence SEQS generates beside the others
        size_t length = s < SEQS ? s_lengths [s] : 20;
        for (size_t pos = 0; pos < length; pos++)
            prompt [pos] = s_token (s, pos, t->vocab);
        CHECK (xinf_batcher_add (batcher, s, prompt, length, error, sizeof error) == 0);
        if (s < SEQS)
            CHECK (xinf_batcher_embed_prompt (batcher, s, XINF_BATCHER_POOL_MEAN) == 0);
        while (!together && next [s] < length) {    //  alone: each to its end before the next
            const uint64_t *ids;
            size_t n_out, n_hid;
            CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &n_out));
            const uint64_t *hid_ids = xinf_batcher_hidden (batcher, &n_hid);
            CHECK (xinf_transformer_step_rows (t, cache, xinf_batch_buf_view (batch), logits, hidden, error,
                                               sizeof error) == 0);
            xinf_batcher_commit (batcher);
            for (size_t k = 0; k < n_hid; k++)
                memcpy (rows [hid_ids [k]] + next [hid_ids [k]]++ * t->dim, hidden + k * t->dim,
                        t->dim * sizeof (float));
        }
        if (!together)
            CHECK (xinf_batcher_remove (batcher, s));
    }
    for (size_t step = 0; together && step < 1000; step++) {
        const uint64_t *ids;
        size_t n_out, n_hid;
        if (!xinf_batcher_schedule (batcher, batch, 0, &ids, &n_out))
            break;
        const uint64_t *hid_ids = xinf_batcher_hidden (batcher, &n_hid);
        CHECK (xinf_transformer_step_rows (t, cache, xinf_batch_buf_view (batch), logits, hidden, error,
                                           sizeof error) == 0);
        xinf_batcher_commit (batcher);
        for (size_t k = 0; k < n_hid; k++)
            memcpy (rows [hid_ids [k]] + next [hid_ids [k]]++ * t->dim, hidden + k * t->dim, t->dim * sizeof (float));
        for (size_t s = 0; s < SEQS; s++)
            if (next [s] == s_lengths [s] && xinf_batcher_remove (batcher, s))
                next [s]++;                         //  done: removed once
        for (size_t k = 0; k < n_out; k++) {         //  the generating one
            CHECK_INT (ids [k], SEQS);
            if (++generated == 12)
                CHECK (xinf_batcher_remove (batcher, SEQS));
            else
                CHECK (xinf_batcher_append (batcher, SEQS, (int32_t) (generated * 7 % t->vocab)) == 0);
        }
    }
    for (size_t s = 0; together && s < SEQS; s++)
        CHECK_INT (next [s], s_lengths [s] + 1);
    free (logits);
    free (hidden);
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
    xinf_kv_cache_destroy (&cache);
    xinf_backend_destroy (&backend);
}

//  Each row's bits against the sequences' runs alone.
static void
s_invariance (const char *name, const char *arguments)
{
    xinf_model_t *model = s_model (name, arguments);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    float *alone [SEQS], *other [SEQS];
    for (size_t s = 0; s < SEQS; s++) {
        alone [s] = calloc (s_lengths [s] * t->dim, sizeof (float));
        other [s] = calloc (s_lengths [s] * t->dim, sizeof (float));
    }
    s_run (t, 1, 64, 64, 1, false, alone);
    static const struct { size_t max_seqs, step_tokens, pass_tokens; int threads; } setups [] = {
        { 8, 64, 64, 1 }, { 8, 7, 64, 2 }, { 5, 48, 8, 2 }, { 2, 13, 8, 1 }
    };
    for (size_t index = 0; index < sizeof setups / sizeof setups [0]; index++) {
        s_run (t, setups [index].max_seqs, setups [index].step_tokens, setups [index].pass_tokens,
               setups [index].threads, true, other);
        for (size_t s = 0; s < SEQS; s++) {
            if (memcmp (alone [s], other [s], s_lengths [s] * t->dim * sizeof (float)))
                fprintf (stderr, "%s setup %zu: sequence %zu's hidden rows differ from its run alone\n", name, index, s);
            CHECK (memcmp (alone [s], other [s], s_lengths [s] * t->dim * sizeof (float)) == 0);
        }
    }
    for (size_t s = 0; s < SEQS; s++) {
        free (alone [s]);
        free (other [s]);
    }
    xinf_model_destroy (&model);
}

static void
test_invariance (void)
{
    s_invariance ("hidden-f32.gguf", "--arch llama --type f32 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --seed 5");
    s_invariance ("hidden-q8.gguf", "--arch qwen3 --type q8_0 --dim 64 --heads 4 --kv-heads 2 --head-dim 32 "
                  "--ffn 96 --seed 6");
}

//  The output layer (F32, in double) applied to a token's hidden row
//  gives the step's logits of that token.
static void
test_hidden_is_normed_state (void)
{
    xinf_model_t *model = s_model ("normed.gguf", "--arch qwen2 --type f32 --dim 64 --heads 4 --kv-heads 2 "
                                   "--ffn 96 --no-tied --seed 8");
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK (t->output.dtype == XINF_DTYPE_F32);
    xinf_backend_t *backend = xinf_cpu_backend_new (1);
    xinf_kv_cache_t *cache = xinf_kv_cache_new (t, backend, xinf_backend_kv_default (backend), 8, 16, 64);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t table [2] = { 0, 1 };
    CHECK (xinf_batch_buf_add_seq (batch, table, 2) == 0);
    for (int32_t pos = 0; pos < 20; pos++) {
        CHECK (xinf_batch_buf_add_token (batch, s_token (0, (size_t) pos, t->vocab), pos, 0, pos == 6 || pos == 19) == 0);
        if (pos == 6 || pos == 12 || pos == 19)
            CHECK (xinf_batch_buf_add_hidden (batch) == 0);
    }
    float *logits = malloc (2 * t->vocab * sizeof (float)), *hidden = malloc (3 * t->dim * sizeof (float));
    char error [256];
    CHECK (xinf_transformer_step_rows (t, cache, xinf_batch_buf_view (batch), logits, hidden, error,
                                       sizeof error) == 0);
    const float *weights = (const float *) t->output.data;
    for (size_t row = 0; row < 2; row++) {
        const float *state = hidden + (row == 0 ? 0 : 2) * t->dim;       //  positions 6 and 19
        double worst = 0, norm = 0;
        for (size_t i = 0; i < t->dim; i++)
            norm += (double) state [i] * state [i];
        CHECK (fabs (norm / (double) t->dim - 1) < 0.5);                //  RMS-normed (times the weights)
        for (size_t v = 0; v < t->vocab; v++) {
            double sum = 0;
            for (size_t i = 0; i < t->dim; i++)
                sum += (double) weights [v * t->dim + i] * state [i];
            double gap = fabs (sum - logits [row * t->vocab + v]);
            worst = gap > worst ? gap : worst;
        }
        CHECK (worst < 1e-4);
    }
    CHECK (memcmp (hidden, hidden + t->dim, t->dim * sizeof (float)) != 0);
    free (logits);
    free (hidden);
    xinf_batch_buf_destroy (&batch);
    xinf_kv_cache_destroy (&cache);
    xinf_backend_destroy (&backend);
    xinf_model_destroy (&model);
}

//  Hidden rows through the wire form; bad ones refused naming the field.
static void
test_wire (void)
{
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    char error [256];
    CHECK (xinf_batch_buf_add_hidden (batch) == -1);                     //  no token yet
    int32_t table [2] = { 0, 1 };
    CHECK (xinf_batch_buf_add_seq (batch, table, 2) == 0);
    for (int32_t pos = 0; pos < 20; pos++) {
        CHECK (xinf_batch_buf_add_token (batch, pos, pos, 0, pos == 19) == 0);
        if (pos % 5 == 4)
            CHECK (xinf_batch_buf_add_hidden (batch) == 0);
    }
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    CHECK_INT (view->n_hid, 4);
    xinf_batch_limits_t limits = { 64, 100, 1000, 4, 16, 1, 0, 0, 0 };
    size_t size = xinf_batch_wire_size (view);
    uint8_t *wire = malloc (size);
    xinf_batch_encode (view, wire);
    xinf_batch_buf_t *decoded = xinf_batch_buf_new ();
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == 0);
    CHECK_INT (xinf_batch_buf_view (decoded)->n_hid, 4);
    CHECK (memcmp (xinf_batch_buf_view (decoded)->hid, view->hid, 4 * sizeof (int32_t)) == 0);
    int32_t *hid = (int32_t *) (wire + size - 4 * sizeof (int32_t));
    hid [1] = hid [0];                                                  //  not ascending
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "hid[1]");
    hid [1] = 20;                                                       //  no such token
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "hid[1]");
    hid [1] = 9;
    uint32_t header [6];
    memcpy (header, wire, sizeof header);
    header [5] = 5;                                                     //  counts that do not match the size
    memcpy (wire, header, sizeof header);
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "n_hid 5");
    free (wire);
    xinf_batch_buf_destroy (&decoded);
    xinf_batch_buf_destroy (&batch);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 2);
    s_tool = argv [1];
    test_scratch_begin ();
    RUN (test_wire);
    RUN (test_hidden_is_normed_state);
    RUN (test_invariance);
    test_scratch_end ();
    return 0;
}
