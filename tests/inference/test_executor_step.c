/*  test_executor_step: the executor actor driven message by message in
    this process (inproc://): LOAD with the serving options, a STEP whose
    logits equal the one-sequence forward pass bit for bit, the same step
    with a sampling frame answered by TOKENS (greedy: the argmax; seeded:
    the sampler's draw for that seed and index), with a penalties frame
    (the same on the logits less each generated token's penalty), and every kind
    of bad STEP (missing frame, each field out of range, truncations,
    thousands of mutated frames) answered by an ERROR that names the
    field, never a crash or silence; a good step still runs after them.

        test_executor_step PATH/TO/xinf-make-model
*/
#include "test_executor_ask.h"
#include "xinf_executor.h"
#include "xinf_batch.h"
#include "xinf_samples.h"
#include "xinf_token_mask.h"
#include "xinf_penalties.h"
#include "xinf_logprobs.h"
#include "xinf_model.h"

#include <sys/wait.h>

#define ENDPOINT "inproc://test-executor-step"

static xinf_dealer_t *s_dealer;

static xinf_msg_t *
s_ask (xinf_msg_t *msg)
{
    return test_executor_ask (s_dealer, msg);
}

static xinf_msg_t *
s_step (const void *bytes, size_t size)
{
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    if (bytes)
        xinf_msg_add_bytes (msg, bytes, size);
    return s_ask (msg);
}

//  An ERROR whose message contains 'needle'.
static void
s_check_error (xinf_msg_t *reply, const char *code, const char *needle)
{
    CHECK (reply && xinf_msg_is (reply, "ERROR"));
    CHECK_STR (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "code")), code);
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), needle);
}

//  Five tokens of one sequence in block 3, the logits of the last.
static uint8_t *
s_good_step (size_t *size, int32_t first_token)
{
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t table [1] = { 3 };
    CHECK (xinf_batch_buf_add_seq (batch, table, 1) == 0);
    for (int32_t pos = 0; pos < 5; pos++)
        CHECK (xinf_batch_buf_add_token (batch, first_token + pos, pos, 0, pos == 4) == 0);
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    *size = xinf_batch_wire_size (view);
    uint8_t *wire = malloc (*size);
    xinf_batch_encode (view, wire);
    xinf_batch_buf_destroy (&batch);
    return wire;
}

//  Word 'index' of a wire form set to 'value', and the error it must get.
static void
s_bad_word (const uint8_t *wire, size_t size, size_t index, int32_t value, const char *needle)
{
    uint8_t *copy = malloc (size);
    memcpy (copy, wire, size);
    memcpy (copy + 4 * index, &value, 4);
    xinf_msg_t *reply = s_step (copy, size);
    s_check_error (reply, "BAD_REQUEST", needle);
    xinf_msg_destroy (&reply);
    free (copy);
}

//  One bit of 'bytes' flipped, chosen by the generator at *state.
static void
s_flip_bit (uint8_t *bytes, size_t size, uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    bytes [(*state >> 33) % size] ^= (uint8_t) (1u << ((*state >> 20) % 8));
}

//  The step 'wire' with a sampling frame (n rows) of 'rows'; its answer.
static xinf_msg_t *
s_sampled_step (const void *wire, size_t size, const void *samples, size_t samples_size)
{
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    xinf_msg_add_bytes (msg, samples, samples_size);
    return s_ask (msg);
}

//  A one-row sampling frame of 'sampling', logprobs word 'asked' and
//  'min_p', into 'frame' (XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW bytes).
static void
s_encode_row (const xinf_sampling_t *sampling, uint32_t asked, float min_p, uint8_t *frame)
{
    xinf_sample_row_t row = xinf_sample_row (*sampling);
    row.logprobs = asked;
    row.min_p = min_p;
    xinf_samples_encode (&row, 1, frame);
}

//  A one-row sampling frame with one 32-bit word (after the 8-byte header)
//  replaced, and the error it must get.
static void
s_bad_sampling (const void *wire, size_t size, const xinf_sampling_t *good, size_t word, uint32_t value,
                const char *needle)
{
    uint8_t frame [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    s_encode_row (good, 0, 0, frame);
    memcpy (frame + 4 * word, &value, 4);
    xinf_msg_t *reply = s_sampled_step (wire, size, frame, sizeof frame);
    s_check_error (reply, "BAD_REQUEST", needle);
    xinf_msg_destroy (&reply);
}

//  TOKENS: sampled on the executor from the logits the step computes.
static void
s_test_sampling (const uint8_t *wire, size_t size, const float *logits, size_t vocab)
{
    int32_t best = 0;
    for (size_t index = 1; index < vocab; index++)
        best = logits [index] > logits [best] ? (int32_t) index : best;
    xinf_sampling_t greedy = { 0, 1, 0, 0, 0 }, hot = { 1.5f, 0.95f, 40, 1234, 3 };
    uint8_t frame [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    s_encode_row (&greedy, 0, 0, frame);
    xinf_msg_t *reply = s_sampled_step (wire, size, frame, sizeof frame);
    CHECK (xinf_msg_is (reply, "TOKENS") && xinf_msg_frame_count (reply) == 1);
    CHECK_INT (zframe_size (xinf_msg_frame (reply, 0)), sizeof (int32_t));
    CHECK_INT (*(int32_t *) zframe_data (xinf_msg_frame (reply, 0)), best);
    xinf_msg_destroy (&reply);
    //  A seeded draw is the sampler's for (seed, index), whoever draws it
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    CHECK (xinf_sampler_set (sampler, &hot) == 0);
    int32_t expected = xinf_sampler_sample (sampler, logits, vocab);
    xinf_sampler_destroy (&sampler);
    s_encode_row (&hot, 0, 0, frame);
    for (int again = 0; again < 2; again++) {
        reply = s_sampled_step (wire, size, frame, sizeof frame);
        CHECK (xinf_msg_is (reply, "TOKENS"));
        CHECK_INT (*(int32_t *) zframe_data (xinf_msg_frame (reply, 0)), expected);
        xinf_msg_destroy (&reply);
    }
    //  Each field out of range, named; a frame of the wrong size or rows
    float nan_value = NAN, negative = -1, hundred_one = 101, zero = 0, above_one = 1.5f;
    uint32_t bits;
    memcpy (&bits, &nan_value, 4);
    s_bad_sampling (wire, size, &hot, 2, bits, "samples[0].temperature");
    memcpy (&bits, &negative, 4);
    s_bad_sampling (wire, size, &hot, 2, bits, "samples[0].temperature");
    memcpy (&bits, &hundred_one, 4);
    s_bad_sampling (wire, size, &hot, 2, bits, "samples[0].temperature");
    memcpy (&bits, &zero, 4);
    s_bad_sampling (wire, size, &hot, 3, bits, "samples[0].top_p");
    memcpy (&bits, &above_one, 4);
    s_bad_sampling (wire, size, &hot, 3, bits, "samples[0].top_p");
    s_bad_sampling (wire, size, &hot, 4, (uint32_t) vocab + 1, "samples[0].top_k");
    s_bad_sampling (wire, size, &hot, 5, XINF_LOGPROBS_TOP_MAX + 2, "samples[0].logprobs");
    s_bad_sampling (wire, size, &hot, 0, 0x12345678, "SMPL");
    s_bad_sampling (wire, size, &hot, 1, 2, "SMPL");
    for (size_t cut = 0; cut < sizeof frame; cut += 5) {
        reply = s_sampled_step (wire, size, frame, cut);
        s_check_error (reply, "BAD_REQUEST", "sampling frame");
        xinf_msg_destroy (&reply);
    }
    xinf_msg_t *four = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (four, wire, size);
    for (int copy = 0; copy < 3; copy++)
        xinf_msg_add_bytes (four, frame, sizeof frame);
    reply = s_ask (four);
    s_check_error (reply, "BAD_REQUEST", "neither penalties");
    xinf_msg_destroy (&reply);
    //  Mutated sampling frames: every one answered
    uint8_t mutated [sizeof frame];
    uint64_t state = 11;
    for (int round = 0; round < 500; round++) {
        memcpy (mutated, frame, sizeof frame);
        s_flip_bit (mutated, sizeof frame, &state);
        reply = s_sampled_step (wire, size, mutated, sizeof mutated);
        CHECK (xinf_msg_is (reply, "ERROR") || xinf_msg_is (reply, "TOKENS"));
        xinf_msg_destroy (&reply);
    }
}

//  The step 'wire' with a sampling frame (its logprobs word 'logprobs',
//  NULL: 0) and a penalties frame; its answer.
static xinf_msg_t *
s_adjusted_step (const void *wire, size_t size, const xinf_sampling_t *sampling, const uint32_t *logprobs,
                 const void *penalties, size_t penalties_size)
{
    uint8_t frame [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    s_encode_row (sampling, logprobs ? *logprobs : 0, 0, frame);
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    xinf_msg_add_bytes (msg, frame, sizeof frame);
    xinf_msg_add_bytes (msg, penalties, penalties_size);
    return s_ask (msg);
}

static xinf_msg_t *
s_penalized_step (const void *wire, size_t size, const xinf_sampling_t *sampling, const void *penalties,
                  size_t penalties_size)
{
    return s_adjusted_step (wire, size, sampling, NULL, penalties, penalties_size);
}

//  A penalties frame of one row, 'generated' counted and added by
//  xinf_penalties_add with 'n_biases' biases, with its 32-bit word
//  'word' (counted from 0; none past the frame) replaced by 'value'.
static uint8_t *
s_penalties_frame (float presence, float frequency, const int32_t *generated, size_t count,
                   const xinf_logit_bias_t *biases, size_t n_biases, size_t word, uint32_t value, size_t *size)
{
    xinf_penalties_t *penalties = xinf_penalties_new ();
    xinf_token_counts_t *counts = xinf_token_counts_new (count);
    CHECK (penalties && counts);
    for (size_t at = 0; at < count; at++)
        xinf_token_counts_add (counts, (uint32_t) generated [at]);
    CHECK (xinf_penalties_add (penalties, presence, frequency, counts, biases, n_biases) == 0);
    xinf_token_counts_destroy (&counts);
    *size = xinf_penalties_size (penalties);
    uint8_t *frame = malloc (*size);
    memcpy (frame, xinf_penalties_data (penalties), *size);
    if (4 * word + 4 <= *size)
        memcpy (frame + 4 * word, &value, 4);
    xinf_penalties_destroy (&penalties);
    return frame;
}

//  The first index of the largest of 'vocab' floats.
static int32_t
s_argmax (const float *values, size_t vocab)
{
    int32_t best = 0;
    for (size_t index = 1; index < vocab; index++)
        best = values [index] > values [best] ? (int32_t) index : best;
    return best;
}

//  The log-probability of 'token' in 'logits' by the plain way (long double).
static long double
s_reference_logprob (const float *logits, size_t vocab, int32_t token)
{
    long double top = logits [s_argmax (logits, vocab)], sum = 0;
    for (size_t index = 0; index < vocab; index++)
        sum += expl ((long double) logits [index] - top);
    return (long double) logits [token] - top - logl (sum);
}

//  Log-probabilities (SMPL's logprobs word): TOKENS' second frame has the
//  sampled token's and the 5 most likely tokens', as the plain reference
//  gives them, over the logits after a bias (the sampler's logits);
//  without the word there is no second frame.
static void
s_test_logprobs (const uint8_t *wire, size_t size, const float *logits, size_t vocab)
{
    float *biased = malloc (vocab * sizeof (float));
    memcpy (biased, logits, vocab * sizeof (float));
    xinf_logit_bias_t bias = { 7, 3.5f };
    biased [7] = biased [7] + bias.bias;
    xinf_sampling_t hot = { 1.5f, 0.95f, 40, 99, 2 };
    uint32_t asked = 6;
    size_t frame_size;
    uint8_t *frame = s_penalties_frame (0, 0, NULL, 0, &bias, 1, SIZE_MAX / 8, 0, &frame_size);
    xinf_msg_t *reply = s_adjusted_step (wire, size, &hot, &asked, frame, frame_size);
    CHECK (xinf_msg_is (reply, "TOKENS") && xinf_msg_frame_count (reply) == 2);
    int32_t token = *(int32_t *) zframe_data (xinf_msg_frame (reply, 0));
    xinf_logprobs_row_t row;
    char error [256];
    zframe_t *reports = xinf_msg_frame (reply, 1);
    CHECK (xinf_logprobs_decode (zframe_data (reports), zframe_size (reports), 1, &asked, vocab, &row, error,
                                 sizeof error) == 0);
    CHECK (fabsl ((long double) row.logprob - s_reference_logprob (biased, vocab, token)) < 1e-5L);
    float *ranked = malloc (vocab * sizeof (float));
    memcpy (ranked, biased, vocab * sizeof (float));
    for (size_t top = 0; top < 5; top++) {
        int32_t expected = s_argmax (ranked, vocab);
        CHECK_INT (row.top [top].token, expected);
        CHECK (fabsl ((long double) row.top [top].logprob - s_reference_logprob (biased, vocab, expected)) < 1e-5L);
        ranked [expected] = -INFINITY;
    }
    xinf_msg_destroy (&reply);
    //  No word, no second frame
    uint8_t samples [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    s_encode_row (&hot, 0, 0, samples);
    reply = s_sampled_step (wire, size, samples, sizeof samples);
    CHECK (xinf_msg_is (reply, "TOKENS") && xinf_msg_frame_count (reply) == 1);
    xinf_msg_destroy (&reply);
    free (ranked);
    free (frame);
    free (biased);
}

//  Logit biases alone: +100 on the least likely token makes it the
//  greedy pick, -100 on the most likely one gives the runner-up.
static void
s_test_biases (const uint8_t *wire, size_t size, const float *logits, size_t vocab)
{
    int32_t best = s_argmax (logits, vocab), worst = 0;
    for (size_t index = 1; index < vocab; index++)
        worst = logits [index] < logits [worst] ? (int32_t) index : worst;
    float *biased = malloc (vocab * sizeof (float));
    memcpy (biased, logits, vocab * sizeof (float));
    biased [best] = biased [best] + -100.0f;
    xinf_sampling_t greedy = { 0, 1, 0, 0, 0 };
    xinf_logit_bias_t up = { (uint32_t) worst, 100 }, down = { (uint32_t) best, -100 };
    struct { const xinf_logit_bias_t *bias; int32_t expected; } cases [] = {
        { &up, worst }, { &down, s_argmax (biased, vocab) }
    };
    for (size_t at = 0; at < 2; at++) {
        size_t frame_size;
        uint8_t *frame = s_penalties_frame (0, 0, NULL, 0, cases [at].bias, 1, SIZE_MAX / 8, 0, &frame_size);
        xinf_msg_t *reply = s_penalized_step (wire, size, &greedy, frame, frame_size);
        CHECK (xinf_msg_is (reply, "TOKENS"));
        CHECK_INT (*(int32_t *) zframe_data (xinf_msg_frame (reply, 0)), cases [at].expected);
        CHECK (cases [at].expected != best);
        xinf_msg_destroy (&reply);
        free (frame);
    }
    free (biased);
}

//  Penalties and a bias (the third frame): greedy and seeded tokens are
//  the sampler's on the logits plus the bias, less each generated
//  token's penalty; every bad field is named, and mutated frames are all
//  answered.
static void
s_test_penalties (const uint8_t *wire, size_t size, const float *logits, size_t vocab)
{
    int32_t best = s_argmax (logits, vocab), generated [4] = { best, 3, best, best };
    xinf_logit_bias_t bias = { 7, -0.25f };
    float *penalized = malloc (vocab * sizeof (float));
    memcpy (penalized, logits, vocab * sizeof (float));
    penalized [7] = penalized [7] + bias.bias;         //  the bias first
    penalized [best] -= 3.0f * 1.25f + 2.0f;          //  three times: frequency 1.25, presence 2
    penalized [3] -= 1.0f * 1.25f + 2.0f;
    size_t frame_size;
    uint8_t *frame = s_penalties_frame (2.0f, 1.25f, generated, 4, &bias, 1, SIZE_MAX / 8, 0, &frame_size);
    xinf_sampling_t greedy = { 0, 1, 0, 0, 0 }, hot = { 1.5f, 0.95f, 40, 1234, 3 };
    xinf_msg_t *reply = s_penalized_step (wire, size, &greedy, frame, frame_size);
    CHECK (xinf_msg_is (reply, "TOKENS"));
    int32_t token = *(int32_t *) zframe_data (xinf_msg_frame (reply, 0));
    CHECK_INT (token, s_argmax (penalized, vocab));
    CHECK (token != best);                            //  the penalty changed the pick
    xinf_msg_destroy (&reply);
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    CHECK (xinf_sampler_set (sampler, &hot) == 0);
    int32_t expected = xinf_sampler_sample (sampler, penalized, vocab);
    xinf_sampler_destroy (&sampler);
    reply = s_penalized_step (wire, size, &hot, frame, frame_size);
    CHECK (xinf_msg_is (reply, "TOKENS"));
    CHECK_INT (*(int32_t *) zframe_data (xinf_msg_frame (reply, 0)), expected);
    xinf_msg_destroy (&reply);
    //  Each bad field, named. Words: 0 magic, 1 rows, 2 presence, 3
    //  frequency, 4 repetition, 5 pairs (2), 6 seen (0), 7 biases (1), 8
    //  and 9 the first (token, count), 10 and 11 the second, 12 and 13
    //  the (token, bias)
    float nan_value = NAN, three = 3;
    uint32_t nan_bits, three_bits;
    memcpy (&nan_bits, &nan_value, 4);
    memcpy (&three_bits, &three, 4);
    struct { size_t word; uint32_t value; const char *needle; } bad [] = {
        { 0, 0x12345678, "PNLB" }, { 1, 2, "PNLB" }, { 2, nan_bits, "penalties[0].presence" },
        { 3, three_bits, "penalties[0].frequency" }, { 4, nan_bits, "penalties[0].repetition" },
        { 4, 0, "penalties[0].repetition" }, { 5, (uint32_t) vocab + 1, "penalties[0].pairs" },
        { 6, (uint32_t) vocab + 1, "penalties[0].seen" }, { 6, 2, "ends within row 0" },
        { 5, 3, "ends within row 0" }, { 7, 2, "ends within row 0" }, { 7, 2049, "penalties[0].biases' is out" },
        { 8, (uint32_t) vocab, "pairs': a token at or above the vocabulary" }, { 10, 0, "not ascending" },
        { 9, 0, "a count of 0" }, { 5, 1, "bytes past its 1 rows" }, { 7, 0, "bytes past its 1 rows" },
        { 12, (uint32_t) vocab, "biases': a token at or above the vocabulary" },
        { 13, nan_bits, "biases': a bias out of range" }
    };
    for (size_t at = 0; at < sizeof bad / sizeof bad [0]; at++) {
        size_t bad_size;
        uint8_t *bad_frame = s_penalties_frame (2.0f, 1.25f, generated, 4, &bias, 1, bad [at].word, bad [at].value,
                                                &bad_size);
        reply = s_penalized_step (wire, size, &greedy, bad_frame, bad_size);
        s_check_error (reply, "BAD_REQUEST", bad [at].needle);
        xinf_msg_destroy (&reply);
        free (bad_frame);
    }
    for (size_t cut = 0; cut < frame_size; cut += 3) {
        reply = s_penalized_step (wire, size, &greedy, frame, cut);
        s_check_error (reply, "BAD_REQUEST", cut < 4 ? "neither penalties" : "penalties frame");   //  no magic yet
        xinf_msg_destroy (&reply);
    }
    uint8_t *mutated = malloc (frame_size);
    uint64_t state = 29;
    for (int round = 0; round < 500; round++) {
        memcpy (mutated, frame, frame_size);
        s_flip_bit (mutated, frame_size, &state);
        reply = s_penalized_step (wire, size, &greedy, mutated, frame_size);
        CHECK (xinf_msg_is (reply, "ERROR") || xinf_msg_is (reply, "TOKENS"));
        xinf_msg_destroy (&reply);
    }
    //  After them all, a good step without penalties is the plain argmax
    reply = s_penalized_step (wire, size, &greedy, frame, frame_size);
    xinf_msg_destroy (&reply);
    uint8_t plain [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    s_encode_row (&greedy, 0, 0, plain);
    reply = s_sampled_step (wire, size, plain, sizeof plain);
    CHECK_INT (*(int32_t *) zframe_data (xinf_msg_frame (reply, 0)), best);
    xinf_msg_destroy (&reply);
    free (mutated);
    free (frame);
    free (penalized);
}

//  The step 'wire' with a one-row sampling frame of 'sampling' with
//  min_p and logprobs word 'asked'; its answer.
static xinf_msg_t *
s_trimmed_step (const void *wire, size_t size, const xinf_sampling_t *sampling, uint32_t asked, float min_p)
{
    uint8_t frame [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    s_encode_row (sampling, asked, min_p, frame);
    return s_sampled_step (wire, size, frame, sizeof frame);
}

//  min-p (SMPL's min_p): seeded draws are the sampler's on the logits
//  trimmed by xinf_sampler_min_p, and some of them differ from the
//  untrimmed draws; greedy is unchanged; log-probabilities are those of
//  the untrimmed logits; a bad min_p or reserved word is named.
static void
s_test_min_p (const uint8_t *wire, size_t size, const float *logits, size_t vocab)
{
    float *trimmed = malloc (vocab * sizeof (float));
    memcpy (trimmed, logits, vocab * sizeof (float));
    size_t kept = xinf_sampler_min_p (trimmed, vocab, 0.5f, 0.2f);     //  the tiny model's logits span ~1.2
    CHECK (kept > 1 && kept < vocab);
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    int differ = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        xinf_sampling_t hot = { 0.5f, 1, 0, seed, 5 };
        CHECK (xinf_sampler_set (sampler, &hot) == 0);
        int32_t expected = xinf_sampler_sample (sampler, trimmed, vocab);
        CHECK (xinf_sampler_set (sampler, &hot) == 0);                  //  the same draw
        int32_t plain = xinf_sampler_sample (sampler, logits, vocab);
        CHECK (trimmed [expected] > -INFINITY);
        differ += plain != expected;
        xinf_msg_t *reply = s_trimmed_step (wire, size, &hot, 0, 0.2f);
        CHECK (xinf_msg_is (reply, "TOKENS"));
        CHECK_INT (*(int32_t *) zframe_data (xinf_msg_frame (reply, 0)), expected);
        xinf_msg_destroy (&reply);
    }
    CHECK (differ > 0);
    xinf_sampler_destroy (&sampler);
    xinf_sampling_t greedy = { 0, 1, 0, 0, 0 }, hot = { 0.5f, 1, 0, 17, 5 };
    xinf_msg_t *reply = s_trimmed_step (wire, size, &greedy, 0, 1);
    CHECK_INT (*(int32_t *) zframe_data (xinf_msg_frame (reply, 0)), s_argmax (logits, vocab));
    xinf_msg_destroy (&reply);
    //  The reports are the model's distribution, before the trim
    xinf_msg_t *with = s_trimmed_step (wire, size, &hot, 4, 0.2f), *without = s_trimmed_step (wire, size, &hot, 4, 0);
    CHECK (xinf_msg_frame_count (with) == 2 && xinf_msg_frame_count (without) == 2);
    zframe_t *a = xinf_msg_frame (with, 1), *b = xinf_msg_frame (without, 1);
    uint32_t asked = 4;
    xinf_logprobs_row_t rows [2];
    char error [256];
    CHECK (xinf_logprobs_decode (zframe_data (a), zframe_size (a), 1, &asked, vocab, &rows [0], error, sizeof error) == 0);
    CHECK (xinf_logprobs_decode (zframe_data (b), zframe_size (b), 1, &asked, vocab, &rows [1], error, sizeof error) == 0);
    for (size_t top = 0; top < 3; top++)
        CHECK (rows [0].top [top].token == rows [1].top [top].token && rows [0].top [top].logprob == rows [1].top [top].logprob);
    int32_t token = *(int32_t *) zframe_data (xinf_msg_frame (with, 0));
    CHECK (fabsl ((long double) rows [0].logprob - s_reference_logprob (logits, vocab, token)) < 1e-5L);
    xinf_msg_destroy (&with);
    xinf_msg_destroy (&without);
    //  Words 10 (min_p) and 11 (reserved) out of range
    float nan_value = NAN, above_one = 1.5f, negative = -0.5f;
    const float *bad [] = { &nan_value, &above_one, &negative };
    for (size_t at = 0; at < 3; at++) {
        uint32_t bits;
        memcpy (&bits, bad [at], 4);
        s_bad_sampling (wire, size, &hot, 10, bits, "samples[0].min_p");
    }
    s_bad_sampling (wire, size, &hot, 11, 1, "samples[0].score");
    free (trimmed);
}

//  A STEP of 'wire' with a one-row sampling frame and 'extras' frames
//  after it (penalties, masks, in the order given); its answer.
static xinf_msg_t *
s_masked_step (const void *wire, size_t size, const xinf_sampling_t *sampling, uint32_t asked, const void **extras,
               const size_t *sizes, size_t count)
{
    uint8_t frame [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    s_encode_row (sampling, asked, 0, frame);
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    xinf_msg_add_bytes (msg, frame, sizeof frame);
    for (size_t index = 0; index < count; index++)
        xinf_msg_add_bytes (msg, extras [index], sizes [index]);
    return s_ask (msg);
}

static int32_t
s_token_of (xinf_msg_t *reply)
{
    CHECK (xinf_msg_is (reply, "TOKENS"));
    return *(int32_t *) zframe_data (xinf_msg_frame (reply, 0));
}

//  Token masks (the TMSK frame): greedy takes the best allowed token,
//  seeded draws are the sampler's on the masked logits, log-probabilities
//  are the unmasked model's; with a penalties frame, in either order; a
//  second mask frame, a bad field or a mutation is an ERROR.
static void
s_test_masks (const uint8_t *wire, size_t size, const float *logits, size_t vocab)
{
    int32_t best = s_argmax (logits, vocab);
    size_t words = xinf_token_mask_words (vocab);
    uint32_t *bits = calloc (words, sizeof (uint32_t));
    float *masked = malloc (vocab * sizeof (float));
    for (size_t id = 0; id < vocab; id++) {
        bool allowed = id % 7 == 3 && (int32_t) id != best;
        if (allowed)
            bits [id / 32] |= 1u << (id % 32);
        masked [id] = allowed ? logits [id] : -INFINITY;
    }
    xinf_token_masks_t *masks = xinf_token_masks_new (1, vocab);
    CHECK (xinf_token_masks_add (masks, bits) == 0);
    const void *frames [2] = { xinf_token_masks_data (masks) };
    size_t sizes [2] = { xinf_token_masks_size (masks) };
    xinf_sampling_t greedy = { 0, 1, 0, 0, 0 };
    xinf_msg_t *reply = s_masked_step (wire, size, &greedy, 0, frames, sizes, 1);
    CHECK_INT (s_token_of (reply), s_argmax (masked, vocab));
    xinf_msg_destroy (&reply);
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        xinf_sampling_t hot = { 1.5f, 0.95f, 0, seed, 2 };
        CHECK (xinf_sampler_set (sampler, &hot) == 0);
        int32_t expected = xinf_sampler_sample (sampler, masked, vocab);
        CHECK (expected % 7 == 3);
        reply = s_masked_step (wire, size, &hot, 4, frames, sizes, 1);
        CHECK_INT (s_token_of (reply), expected);
        xinf_logprobs_row_t row;
        uint32_t asked = 4;
        char error [256];
        zframe_t *reports = xinf_msg_frame (reply, 1);
        CHECK (xinf_logprobs_decode (zframe_data (reports), zframe_size (reports), 1, &asked, vocab, &row, error,
                                     sizeof error) == 0);
        CHECK_INT (row.top [0].token, best);                     //  the model's, before the mask
        xinf_msg_destroy (&reply);
    }
    xinf_sampler_destroy (&sampler);
    //  With a bias in either order: +100 on an allowed token makes it the greedy pick
    xinf_logit_bias_t bias = { 3, 100 };
    size_t penalties_size;
    uint8_t *penalties = s_penalties_frame (0, 0, NULL, 0, &bias, 1, SIZE_MAX / 8, 0, &penalties_size);
    for (int order = 0; order < 2; order++) {
        const void *pair [2] = { order ? penalties : frames [0], order ? frames [0] : penalties };
        size_t pair_sizes [2] = { order ? penalties_size : sizes [0], order ? sizes [0] : penalties_size };
        reply = s_masked_step (wire, size, &greedy, 0, pair, pair_sizes, 2);
        CHECK_INT (s_token_of (reply), 3);
        xinf_msg_destroy (&reply);
    }
    frames [1] = frames [0];
    sizes [1] = sizes [0];
    reply = s_masked_step (wire, size, &greedy, 0, frames, sizes, 2);
    s_check_error (reply, "BAD_REQUEST", "a second of its kind");
    xinf_msg_destroy (&reply);
    //  Bad fields: words 0 magic, 1 rows, 2 vocab, 3 masked, 4.. the bits
    struct { size_t word; uint32_t value; const char *needle; } bad [] = {
        { 0, 0x12345678, "neither penalties" }, { 1, 2, "TMSK" }, { 2, (uint32_t) vocab + 1, "TMSK" },
        { 3, 3, "'masked' must be 0 or 1" }, { 3, 0, "bytes past" }
    };
    uint8_t *copy = malloc (sizes [0]);
    for (size_t at = 0; at < sizeof bad / sizeof bad [0]; at++) {
        memcpy (copy, frames [0], sizes [0]);
        memcpy (copy + 4 * bad [at].word, &bad [at].value, 4);
        const void *one [1] = { copy };
        reply = s_masked_step (wire, size, &greedy, 0, one, sizes, 1);
        s_check_error (reply, "BAD_REQUEST", bad [at].needle);
        xinf_msg_destroy (&reply);
    }
    memcpy (copy, frames [0], sizes [0]);
    memset (copy + 16, 0, sizes [0] - 16);
    const void *none [1] = { copy };
    reply = s_masked_step (wire, size, &greedy, 0, none, sizes, 1);
    s_check_error (reply, "BAD_REQUEST", "allows no token");
    xinf_msg_destroy (&reply);
    uint64_t state = 41;
    for (int round = 0; round < 300; round++) {
        memcpy (copy, frames [0], sizes [0]);
        s_flip_bit (copy, sizes [0], &state);
        const void *one [1] = { copy };
        reply = s_masked_step (wire, size, &greedy, 0, one, sizes, 1);
        CHECK (xinf_msg_is (reply, "ERROR") || xinf_msg_is (reply, "TOKENS"));
        xinf_msg_destroy (&reply);
    }
    free (copy);
    free (penalties);
    xinf_token_masks_destroy (&masks);
    free (masked);
    free (bits);
}

//  A scored row (SMPL score t + 1, prompt_logprobs): its token is t,
//  whatever the sampling says, and its log-probabilities are t's and the
//  most likely tokens' by the plain reference; a scored row without a
//  logprobs word, or with biases or a mask, is refused naming it.
static void
s_test_scored (const uint8_t *wire, size_t size, const float *logits, size_t vocab)
{
    int32_t target = (int32_t) (vocab / 3);
    xinf_sampling_t hot = { 1.5f, 0.95f, 0, 7, 0 };
    xinf_sample_row_t row = xinf_sample_row (hot);
    row.logprobs = 4;
    row.score = target;
    uint8_t frame [XINF_SAMPLES_HEADER + XINF_SAMPLES_ROW];
    xinf_samples_encode (&row, 1, frame);
    xinf_msg_t *reply = s_sampled_step (wire, size, frame, sizeof frame);
    CHECK_INT (s_token_of (reply), target);
    xinf_logprobs_row_t report;
    uint32_t asked = 4;
    char error [256];
    zframe_t *reports = xinf_msg_frame (reply, 1);
    CHECK (reports && xinf_logprobs_decode (zframe_data (reports), zframe_size (reports), 1, &asked, vocab, &report,
                                            error, sizeof error) == 0);
    CHECK (fabsl ((long double) report.logprob - s_reference_logprob (logits, vocab, target)) < 1e-5L);
    CHECK_INT (report.top [0].token, s_argmax (logits, vocab));
    xinf_msg_destroy (&reply);
    //  Refused: no logprobs word; a token past the vocabulary; biases; a mask
    row.logprobs = 0;
    xinf_samples_encode (&row, 1, frame);
    reply = s_sampled_step (wire, size, frame, sizeof frame);
    CHECK (xinf_msg_is (reply, "ERROR"));
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "samples[0].score");
    xinf_msg_destroy (&reply);
    row.logprobs = 1;
    row.score = (int32_t) vocab;
    xinf_samples_encode (&row, 1, frame);
    reply = s_sampled_step (wire, size, frame, sizeof frame);
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "samples[0].score");
    xinf_msg_destroy (&reply);
    xinf_logit_bias_t bias = { 3, 2.0f };
    size_t penalties_size;
    uint8_t *penalties = s_penalties_frame (0, 0, NULL, 0, &bias, 1, SIZE_MAX / 8, 0, &penalties_size);
    xinf_sampling_t greedy = { 0, 1, 0, 0, 0 };
    row = xinf_sample_row (greedy);
    row.logprobs = 1;
    row.score = target;
    xinf_samples_encode (&row, 1, frame);
    xinf_msg_t *msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    xinf_msg_add_bytes (msg, frame, sizeof frame);
    xinf_msg_add_bytes (msg, penalties, penalties_size);
    reply = s_ask (msg);
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "a scored row takes no");
    xinf_msg_destroy (&reply);
    free (penalties);
    uint32_t *bits = calloc (xinf_token_mask_words (vocab), sizeof (uint32_t));
    bits [0] = 1;
    xinf_token_masks_t *masks = xinf_token_masks_new (1, vocab);
    CHECK (xinf_token_masks_add (masks, bits) == 0);
    msg = xinf_msg_new ("STEP");
    xinf_msg_add_bytes (msg, wire, size);
    xinf_msg_add_bytes (msg, frame, sizeof frame);
    xinf_msg_add_bytes (msg, xinf_token_masks_data (masks), xinf_token_masks_size (masks));
    reply = s_ask (msg);
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "a scored row takes no");
    xinf_msg_destroy (&reply);
    row.min_p = 0.5f;                         //  and no min-p
    xinf_samples_encode (&row, 1, frame);
    reply = s_sampled_step (wire, size, frame, sizeof frame);
    CHECK_HAS (xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")), "a scored row takes no");
    xinf_msg_destroy (&reply);
    xinf_token_masks_destroy (&masks);
    free (bits);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 2);
    char path [] = "/tmp/xinf-executor-step-XXXXXX", model [300], command [800];
    test_executor_model (argv [1], path, model, sizeof model);

    xinf_executor_t *executor = xinf_executor_new ("executor-test", ENDPOINT);
    s_dealer = xinf_dealer_new (ENDPOINT, "tester");
    CHECK (executor && s_dealer);
    //  Bad serving options are named
    xinf_msg_t *load = xinf_msg_new ("LOAD");
    xinf_map_put_str (xinf_msg_body (load), "path", model);
    xinf_map_put_uint (xinf_msg_body (load), "max_seqs", 1000);
    xinf_msg_t *reply = s_ask (load);
    s_check_error (reply, "BAD_REQUEST", "max_seqs");
    xinf_msg_destroy (&reply);
    load = xinf_msg_new ("LOAD");
    xinf_map_put_str (xinf_msg_body (load), "path", model);
    xinf_map_put_uint (xinf_msg_body (load), "threads", 2);
    xinf_map_put_uint (xinf_msg_body (load), "max_seqs", 2);
    xinf_map_put_uint (xinf_msg_body (load), "step_tokens", 8);
    xinf_map_put_uint (xinf_msg_body (load), "kv_cache_mb", 1);
    reply = s_ask (load);
    if (!xinf_msg_is (reply, "LOADED"))
        fprintf (stderr, "LOAD answered %s: %s\n", xinf_msg_type (reply), xinf_value_str (xinf_map_get (xinf_msg_body (reply), "message")));
    CHECK (xinf_msg_is (reply, "LOADED"));
    xinf_value_t *info = xinf_msg_body (reply);
    size_t vocab = xinf_value_uint (xinf_map_get (info, "vocab"));
    size_t blocks = xinf_value_uint (xinf_map_get (info, "kv_blocks"));
    CHECK_INT (xinf_value_uint (xinf_map_get (info, "max_seqs")), 2);
    CHECK_INT (xinf_value_uint (xinf_map_get (info, "step_tokens")), 8);
    CHECK_INT (xinf_value_uint (xinf_map_get (info, "kv_block_tokens")), 16);
    CHECK (blocks >= 4 && xinf_value_uint (xinf_map_get (info, "kv_bytes")) <= (1u << 20));
    xinf_msg_destroy (&reply);

    //  A good step: the logits of the one-sequence forward pass, bit for bit
    size_t size;
    uint8_t *wire = s_good_step (&size, 7);
    reply = s_step (wire, size);
    CHECK (xinf_msg_is (reply, "LOGITS") && xinf_msg_frame_count (reply) == 1);
    CHECK_INT (zframe_size (xinf_msg_frame (reply, 0)), vocab * sizeof (float));
    char error [256];
    xinf_model_t *reference = xinf_model_load (model, NULL, NULL, error, sizeof error);
    const xinf_transformer_t *t = xinf_model_transformer (reference);
    xinf_kv_t *kv = xinf_kv_new (t, 16);
    float *logits = malloc (vocab * sizeof (float));
    int32_t tokens [5] = { 7, 8, 9, 10, 11 };
    CHECK (xinf_transformer_forward (t, kv, NULL, tokens, 5, 0, logits, NULL, error, sizeof error) == 0);
    CHECK (memcmp (zframe_data (xinf_msg_frame (reply, 0)), logits, vocab * sizeof (float)) == 0);
    xinf_msg_destroy (&reply);
    s_test_sampling (wire, size, logits, vocab);
    s_test_penalties (wire, size, logits, vocab);
    s_test_biases (wire, size, logits, vocab);
    s_test_logprobs (wire, size, logits, vocab);
    s_test_min_p (wire, size, logits, vocab);
    s_test_masks (wire, size, logits, vocab);
    s_test_scored (wire, size, logits, vocab);

    //  Each field out of range, named
    reply = s_step (NULL, 0);
    s_check_error (reply, "BAD_REQUEST", "one binary frame");
    xinf_msg_destroy (&reply);
    s_bad_word (wire, size, 0, 0x12345678, "BTCH");
    s_bad_word (wire, size, 1, 9, "does not match");
    s_bad_word (wire, size, 6, 4, "unknown bits");
    s_bad_word (wire, size, 6, 2, "does not match");                 //  local tables announced, not there
    s_bad_word (wire, size, 7, (int32_t) vocab, "tokens[0]");
    s_bad_word (wire, size, 7 + 5 + 2, 5000, "pos[2]");
    s_bad_word (wire, size, 7 + 5 + 3, 0, "pos[3]");                 //  out of order
    s_bad_word (wire, size, 7 + 5 + 4, 16, "pos[4]");                //  beyond the table
    s_bad_word (wire, size, 7 + 10 + 1, 1, "seq[1]");
    s_bad_word (wire, size, 7 + 15 + 2, (int32_t) blocks, "blocks[0]");
    s_bad_word (wire, size, 7 + 15 + 3, 5, "out[0]");
    for (size_t cut = 0; cut < size; cut += 3) {
        reply = s_step (wire, cut);
        s_check_error (reply, "BAD_REQUEST", "");
        xinf_msg_destroy (&reply);
    }
    //  Nine tokens: more than step_tokens
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t table [1] = { 0 };
    xinf_batch_buf_add_seq (batch, table, 1);
    for (int32_t pos = 0; pos < 9; pos++)
        xinf_batch_buf_add_token (batch, 1, pos, 0, false);
    uint8_t big [256];
    xinf_batch_encode (xinf_batch_buf_view (batch), big);
    reply = s_step (big, xinf_batch_wire_size (xinf_batch_buf_view (batch)));
    s_check_error (reply, "BAD_REQUEST", "at most 8");
    xinf_msg_destroy (&reply);
    xinf_batch_buf_destroy (&batch);

    //  Mutated frames: every one answered, the executor unharmed
    uint8_t *mutated = malloc (size);
    uint64_t state = 7;
    for (int round = 0; round < 3000; round++) {
        memcpy (mutated, wire, size);
        s_flip_bit (mutated, size, &state);
        reply = s_step (mutated, size);
        CHECK (xinf_msg_is (reply, "ERROR") || xinf_msg_is (reply, "LOGITS"));
        xinf_msg_destroy (&reply);
    }
    free (mutated);
    free (wire);
    wire = s_good_step (&size, 20);
    reply = s_step (wire, size);
    CHECK (xinf_msg_is (reply, "LOGITS"));
    xinf_msg_destroy (&reply);
    free (wire);

    free (logits);
    xinf_kv_destroy (&kv);
    xinf_model_destroy (&reference);
    xinf_dealer_destroy (&s_dealer);
    xinf_executor_destroy (&executor);
    snprintf (command, sizeof command, "rm -rf '%s'", path);
    CHECK (system (command) == 0);
    fprintf (stderr, "PASS: executor steps: bit-identical logits, sampled tokens, every bad field named, 3500 mutations answered\n");
    return 0;
}
