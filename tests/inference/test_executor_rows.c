/*  test_executor_rows: a step of many logits rows, each asking something
    else (greedy or seeded draws, log-probabilities, logit biases and
    penalties, token masks, min-p, scored prompt tokens), answered by the
    executor on its two-thread pool exactly as the rows done one after
    another here, on the step's own logits (its LOGITS answer): the same
    tokens, the same log-probabilities bit for bit, whichever thread took
    a row. Also hidden rows (embeddings), the answer's last frame, with
    LOGITS, with TOKENS and log-probabilities (the third frame) and in a
    step that samples nothing: the output layer (F32, in double) applied
    to a position's hidden row gives that position's logits.

        test_executor_rows PATH/TO/xinf-make-model
*/
#include "test_executor_ask.h"
#include "xinf_executor.h"
#include "xinf_batch.h"
#include "xinf_samples.h"
#include "xinf_token_mask.h"
#include "xinf_penalties.h"
#include "xinf_logprobs.h"
#include "xinf_model.h"

#include <math.h>

#define ENDPOINT "inproc://test-executor-rows"
#define TOKENS   40                   //  one sequence: every position a row

static xinf_dealer_t *s_dealer;

static xinf_msg_t *
s_ask (xinf_msg_t *msg)
{
    return test_executor_ask (s_dealer, msg);
}

//  Whether position 'pos' of s_batch has a hidden row (when asked).
static bool s_hidden_at (size_t pos) { return pos % 7 == 3 || pos + 1 == TOKENS; }

//  TOKENS positions of one sequence (blocks 0-2), every one a logits row
//  when 'logits', some a hidden row when 'hidden'.
static uint8_t *
s_batch (size_t *size, bool logits, bool hidden)
{
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t table [3] = { 0, 1, 2 };
    CHECK (xinf_batch_buf_add_seq (batch, table, 3) == 0);
    for (int32_t pos = 0; pos < TOKENS; pos++) {
        CHECK (xinf_batch_buf_add_token (batch, 3 + (pos * 7) % 50, pos, 0, logits) == 0);
        if (hidden && s_hidden_at ((size_t) pos))
            CHECK (xinf_batch_buf_add_hidden (batch) == 0);
    }
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    *size = xinf_batch_wire_size (view);
    uint8_t *wire = malloc (*size);
    xinf_batch_encode (view, wire);
    xinf_batch_buf_destroy (&batch);
    return wire;
}

//  Row r's sampling: a mix by r.
static xinf_sample_row_t
s_row (size_t r, size_t vocab)
{
    xinf_sampling_t sampling = { r % 3 ? 1.2f : 0, r % 4 ? 0.9f : 1, r % 5 ? 0 : 30, 1000 + r, r };
    xinf_sample_row_t row = xinf_sample_row (sampling);
    row.logprobs = r % 2 ? (uint32_t) (r % 6) + 1 : 0;
    row.min_p = r % 7 == 1 ? 0.9f : 0;         //  keeps the few likeliest of a flat row
    if (r % 8 == 6) {                 //  scored: no biases, penalties or mask
        row.score = (int32_t) ((r * 13) % vocab);
        row.logprobs = 3;
        row.min_p = 0;
    }
    return row;
}

//  Rows with penalties and biases: r % 3 == 1, not scored.
static bool s_penalized (size_t r) { return r % 3 == 1 && r % 8 != 6; }
//  Rows with a mask: r % 4 == 2, not scored.
static bool s_masked (size_t r) { return r % 4 == 2 && r % 8 != 6; }

//  A STEP of 'wire', with a sampling frame of 'samples' bytes unless NULL.
static xinf_msg_t *
s_step (const uint8_t *wire, size_t size, const uint8_t *samples, size_t samples_size)
{
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    if (samples)
        xinf_msg_add_bytes (msg, samples, samples_size);
    return s_ask (msg);
}

//  The reply's frame 'index': n_hid x dim floats, as its body says.
static const float *
s_hidden_frame (xinf_msg_t *reply, size_t index, size_t n_hid, size_t dim)
{
    CHECK (xinf_msg_frame_count (reply) == index + 1);
    CHECK_INT (xinf_value_uint (xinf_map_get (xinf_msg_body (reply), "n_hid")), n_hid);
    CHECK_INT (xinf_value_uint (xinf_map_get (xinf_msg_body (reply), "dim")), dim);
    CHECK_INT (zframe_size (xinf_msg_frame (reply, index)), n_hid * dim * sizeof (float));
    return (const float *) zframe_data (xinf_msg_frame (reply, index));
}

static void
s_test_hidden (const char *path, size_t vocab)
{
    char error [256];
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    size_t size, dim = t->dim, n_hid = 0;
    for (size_t pos = 0; pos < TOKENS; pos++)
        n_hid += s_hidden_at (pos);
    uint8_t *wire = s_batch (&size, true, true);
    xinf_msg_t *reply = s_step (wire, size, NULL, 0);
    CHECK (xinf_msg_is (reply, "LOGITS"));
    float *rows = malloc (n_hid * dim * sizeof (float));
    memcpy (rows, s_hidden_frame (reply, 1, n_hid, dim), n_hid * dim * sizeof (float));
    const float *logits = (const float *) zframe_data (xinf_msg_frame (reply, 0));
    CHECK (t->output.dtype == XINF_DTYPE_F32);
    const float *weights = (const float *) t->output.data;
    for (size_t pos = 0, k = 0; pos < TOKENS; pos++) {
        if (!s_hidden_at (pos))
            continue;
        double worst = 0;
        for (size_t v = 0; v < vocab; v++) {
            double sum = 0;
            for (size_t i = 0; i < dim; i++)
                sum += (double) weights [v * dim + i] * rows [k * dim + i];
            worst = fabs (sum - logits [pos * vocab + v]) > worst ? fabs (sum - logits [pos * vocab + v]) : worst;
        }
        CHECK (worst < 1e-4);
        k++;
    }
    xinf_msg_destroy (&reply);
    //  With TOKENS and their log-probabilities: the hidden frame third
    xinf_sample_row_t greedy [TOKENS];
    for (size_t r = 0; r < TOKENS; r++) {
        greedy [r] = xinf_sample_row ((xinf_sampling_t) { 0, 1, 0, 0, 0 });
        greedy [r].logprobs = 2;
    }
    uint8_t *samples = malloc (xinf_samples_wire_size (TOKENS));
    xinf_samples_encode (greedy, TOKENS, samples);
    reply = s_step (wire, size, samples, xinf_samples_wire_size (TOKENS));
    CHECK (xinf_msg_is (reply, "TOKENS"));
    CHECK (memcmp (s_hidden_frame (reply, 2, n_hid, dim), rows, n_hid * dim * sizeof (float)) == 0);
    xinf_msg_destroy (&reply);
    free (wire);
    //  Hidden rows alone: no logits row, an empty sampling frame
    wire = s_batch (&size, false, true);
    xinf_samples_encode (NULL, 0, samples);
    reply = s_step (wire, size, samples, xinf_samples_wire_size (0));
    CHECK (xinf_msg_is (reply, "TOKENS"));
    CHECK_INT (zframe_size (xinf_msg_frame (reply, 0)), 0);
    CHECK (memcmp (s_hidden_frame (reply, 1, n_hid, dim), rows, n_hid * dim * sizeof (float)) == 0);
    xinf_msg_destroy (&reply);
    free (wire);
    free (samples);
    free (rows);
    xinf_model_destroy (&model);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 2);
    char path [] = "/tmp/xinf-executor-rows-XXXXXX", model [300], command [800];
    test_executor_model (argv [1], path, model, sizeof model);
    xinf_executor_t *executor = xinf_executor_new ("executor-rows", ENDPOINT);
    s_dealer = xinf_dealer_new (ENDPOINT, "tester");
    xinf_msg_t *load = xinf_msg_new ("LOAD");
    xinf_map_put_str (xinf_msg_body (load), "path", model);
    xinf_map_put_uint (xinf_msg_body (load), "threads", 2);
    xinf_map_put_uint (xinf_msg_body (load), "max_seqs", 4);
    xinf_map_put_uint (xinf_msg_body (load), "step_tokens", 64);
    xinf_msg_t *reply = s_ask (load);
    CHECK (xinf_msg_is (reply, "LOADED"));
    size_t vocab = xinf_value_uint (xinf_map_get (xinf_msg_body (reply), "vocab"));
    CHECK_INT (xinf_value_uint (xinf_map_get (xinf_msg_body (reply), "max_rows")), 64);
    xinf_msg_destroy (&reply);

    //  The step's own logits
    size_t size;
    uint8_t *wire = s_batch (&size, true, false);
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    reply = s_ask (msg);
    CHECK (xinf_msg_is (reply, "LOGITS"));
    CHECK_INT (zframe_size (xinf_msg_frame (reply, 0)), TOKENS * vocab * sizeof (float));
    float *logits = malloc (TOKENS * vocab * sizeof (float));
    memcpy (logits, zframe_data (xinf_msg_frame (reply, 0)), TOKENS * vocab * sizeof (float));
    xinf_msg_destroy (&reply);

    //  The frames: sampling, penalties, masks
    xinf_sample_row_t rows [TOKENS];
    uint32_t asked [TOKENS];
    xinf_penalties_t *penalties = xinf_penalties_new ();
    xinf_token_masks_t *masks = xinf_token_masks_new (TOKENS, vocab);
    size_t words = xinf_token_mask_words (vocab);
    uint32_t *bits = calloc (TOKENS * words, sizeof (uint32_t));
    xinf_token_counts_t *counts = xinf_token_counts_new (8);
    for (uint32_t t = 0; t < 8; t++)
        xinf_token_counts_add (counts, (t * 31) % (uint32_t) vocab);
    xinf_logit_bias_t biases [2] = { { 5, 2.5f }, { 40, -100 } };
    for (size_t r = 0; r < TOKENS; r++) {
        rows [r] = s_row (r, vocab);
        asked [r] = rows [r].logprobs;
        CHECK (s_penalized (r) ? xinf_penalties_add (penalties, 0.5f, 0.25f, counts, biases, 2) == 0
                               : xinf_penalties_add (penalties, 0, 0, NULL, NULL, 0) == 0);
        uint32_t *mask = bits + r * words;
        for (size_t id = 0; id < vocab; id++)
            if ((id + r) % 5 == 0)
                mask [id / 32] |= 1u << (id % 32);
        CHECK (xinf_token_masks_add (masks, s_masked (r) ? mask : NULL) == 0);
    }
    uint8_t *samples = malloc (xinf_samples_wire_size (TOKENS));
    xinf_samples_encode (rows, TOKENS, samples);
    msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    xinf_msg_add_bytes (msg, samples, xinf_samples_wire_size (TOKENS));
    xinf_msg_add_bytes (msg, xinf_penalties_data (penalties), xinf_penalties_size (penalties));
    xinf_msg_add_bytes (msg, xinf_token_masks_data (masks), xinf_token_masks_size (masks));
    reply = s_ask (msg);
    if (!xinf_msg_is (reply, "TOKENS"))
        fprintf (stderr, "STEP answered %s: %s\n", xinf_msg_type (reply),
                 xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")));
    CHECK (xinf_msg_is (reply, "TOKENS") && xinf_msg_frame_count (reply) == 2);
    const int32_t *tokens = (const int32_t *) zframe_data (xinf_msg_frame (reply, 0));
    xinf_logprobs_row_t reports [TOKENS];
    char error [256];
    zframe_t *frame = xinf_msg_frame (reply, 1);
    CHECK (xinf_logprobs_decode (zframe_data (frame), zframe_size (frame), TOKENS, asked, vocab, reports, error,
                                 sizeof error) == 0);

    //  The same rows one after another, here
    xinf_penalty_t penalty [TOKENS];
    CHECK (xinf_penalties_decode (xinf_penalties_data (penalties), xinf_penalties_size (penalties), TOKENS, vocab,
                                  penalty, error, sizeof error) == 0);
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    double *weights = malloc (vocab * sizeof (double));
    size_t scored = 0, drawn = 0;
    for (size_t r = 0; r < TOKENS; r++) {
        float *row = logits + r * vocab;
        xinf_logprobs_row_t report = { .asked = asked [r] };
        if (xinf_penalty_active (&penalty [r]))
            xinf_penalty_apply (&penalty [r], row);
        if (asked [r])
            xinf_logprobs_scan (row, vocab, &report, weights);
        if (s_masked (r))
            xinf_token_mask_apply (bits + r * words, row, vocab);
        if (rows [r].min_p > 0 && rows [r].sampling.temperature > 0)
            xinf_sampler_min_p (row, vocab, rows [r].sampling.temperature, rows [r].min_p);
        int32_t token = rows [r].score;
        if (token < 0) {
            CHECK (xinf_sampler_set (sampler, &rows [r].sampling) == 0);
            token = xinf_sampler_sample (sampler, row, vocab);
            drawn++;
        }
        else
            scored++;
        CHECK_INT (tokens [r], token);
        if (asked [r]) {
            float logprob = xinf_logprobs_of (&report, row, (uint32_t) token);
            CHECK (memcmp (&reports [r].logprob, &logprob, sizeof logprob) == 0);
            for (size_t top = 0; top + 1 < asked [r]; top++) {
                CHECK_INT (reports [r].top [top].token, report.top [top].token);
                CHECK (memcmp (&reports [r].top [top].logprob, &report.top [top].logprob, sizeof (float)) == 0);
            }
        }
        if (s_masked (r))
            CHECK ((bits [r * words + (size_t) token / 32] >> (token % 32)) & 1);
    }
    CHECK (scored >= 4 && drawn >= 30);
    xinf_msg_destroy (&reply);
    free (weights);
    xinf_sampler_destroy (&sampler);
    xinf_token_counts_destroy (&counts);
    free (bits);
    free (samples);
    xinf_token_masks_destroy (&masks);
    xinf_penalties_destroy (&penalties);
    free (logits);
    free (wire);
    s_test_hidden (model, vocab);
    xinf_dealer_destroy (&s_dealer);
    xinf_executor_destroy (&executor);
    snprintf (command, sizeof command, "rm -rf '%s'", path);
    CHECK (system (command) == 0);
    fprintf (stderr, "PASS: %d rows of one step on two threads, each as done alone: %zu drawn, %zu scored; hidden "
             "rows with LOGITS, TOKENS and alone\n", TOKENS, drawn, scored);
    return 0;
}
