/*  test_penalties: a generation's tokens counted as they come
    (xinf_token_counts), through the frame (xinf_penalties_add, decode,
    apply) against counts made the plain way: for random generations of
    many lengths over small and large vocabularies, with the room made
    exactly as the request makes it (min (max_tokens, vocab)); rows
    without penalties or without counts carry no pairs. Logit biases:
    sorted and refused twice, applied before the penalties, and every bad
    bias field refused.  */
#include "test_unit.h"

#include <math.h>
#include <string.h>
#include "xinf_penalties.h"

static uint64_t s_state = 20261205;

static uint32_t
s_random (uint32_t below)
{
    s_state = s_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t) ((s_state >> 33) % below);
}

//  One row of 'length' random tokens below 'vocab' (a few of them much
//  more often): after decode and apply with presence 0.5 and frequency
//  1, every logit is -(count + 0.5) where counted, 0 elsewhere.
static void
s_check_generation (size_t length, uint32_t vocab)
{
    size_t room = length < vocab ? length : vocab;
    xinf_token_counts_t *counts = xinf_token_counts_new (room);
    uint32_t *plain = calloc (vocab, sizeof (uint32_t));
    CHECK (counts && plain);
    for (size_t at = 0; at < length; at++) {
        uint32_t token = s_random (4) == 0 ? s_random (vocab < 3 ? vocab : 3) : s_random (vocab);
        xinf_token_counts_add (counts, token);
        plain [token]++;
    }
    size_t distinct = 0;
    for (uint32_t token = 0; token < vocab; token++)
        distinct += plain [token] > 0;
    CHECK_INT (xinf_token_counts_size (counts), distinct);
    xinf_penalties_t *frame = xinf_penalties_new ();
    CHECK (frame);
    CHECK (xinf_penalties_add (frame, 0, 0, NULL, NULL, 0) == 0);          //  a row with nothing
    CHECK (xinf_penalties_add (frame, 0.5f, 1.0f, counts, NULL, 0) == 0);
    CHECK (xinf_penalties_add (frame, 0, 0, counts, NULL, 0) == 0);        //  counts, but no penalty
    xinf_penalty_t rows [3];
    char error [256];
    CHECK (xinf_penalties_decode (xinf_penalties_data (frame), xinf_penalties_size (frame), 3, vocab, rows, error,
                                  sizeof error) == 0);
    CHECK (rows [0].n_pairs == 0 && rows [2].n_pairs == 0 && !xinf_penalty_active (&rows [2]));
    CHECK_INT (rows [1].n_pairs, distinct);
    float *logits = calloc (vocab, sizeof (float));
    xinf_penalty_apply (&rows [1], logits);
    size_t wrong = 0;
    for (uint32_t token = 0; token < vocab; token++)
        wrong += logits [token] != (plain [token] ? -((float) plain [token] + 0.5f) : 0.0f);
    CHECK_INT (wrong, 0);
    //  Counted drafts taken back (xinf_token_counts_remove): every other
    //  token counted less once, and one never counted ignored
    for (uint32_t token = 0; token < vocab; token += 2)
        if (plain [token]) {
            xinf_token_counts_remove (counts, token);
            plain [token]--;
        }
    xinf_token_counts_remove (counts, vocab + 1);
    xinf_penalties_t *after = xinf_penalties_new ();
    CHECK (after && xinf_penalties_add (after, 0.5f, 1.0f, counts, NULL, 0) == 0);
    CHECK (xinf_penalties_decode (xinf_penalties_data (after), xinf_penalties_size (after), 1, vocab, rows, error,
                                  sizeof error) == 0);
    memset (logits, 0, vocab * sizeof (float));
    xinf_penalty_apply (&rows [0], logits);
    wrong = 0;
    for (uint32_t token = 0; token < vocab; token++)
        wrong += logits [token] != (plain [token] ? -((float) plain [token] + 0.5f) : 0.0f);
    CHECK_INT (wrong, 0);
    xinf_penalties_destroy (&after);
    free (logits);
    free (plain);
    xinf_penalties_destroy (&frame);
    xinf_token_counts_destroy (&counts);
}

static void
test_counts (void)
{
    static const size_t lengths [] = { 0, 1, 2, 7, 100, 1000, 5000 };
    static const uint32_t vocabs [] = { 1, 5, 64, 1000, 151936 };
    for (size_t l = 0; l < sizeof lengths / sizeof lengths [0]; l++)
        for (size_t v = 0; v < sizeof vocabs / sizeof vocabs [0]; v++)
            s_check_generation (lengths [l], vocabs [v]);
}

//  A decoded frame that is not the size its rows say is refused; so is a
//  frame whose header is cut.
static void
test_sizes (void)
{
    xinf_token_counts_t *counts = xinf_token_counts_new (2);
    xinf_token_counts_add (counts, 9);
    xinf_token_counts_add (counts, 4);
    xinf_penalties_t *frame = xinf_penalties_new ();
    CHECK (xinf_penalties_add (frame, 1, 1, counts, NULL, 0) == 0);
    xinf_penalty_t row;
    char error [256];
    const uint8_t *bytes = xinf_penalties_data (frame);
    size_t size = xinf_penalties_size (frame);
    CHECK_INT (size, 8 + 24 + 2 * 8);
    for (size_t cut = 0; cut < size; cut++)
        CHECK (xinf_penalties_decode (bytes, cut, 1, 10, &row, error, sizeof error) == -1);
    CHECK (xinf_penalties_decode (bytes, size, 1, 10, &row, error, sizeof error) == 0);
    CHECK (xinf_penalties_decode (bytes, size, 1, 9, &row, error, sizeof error) == -1);    //  token 9 of 9
    CHECK_HAS (error, "at or above the vocabulary");
    CHECK (xinf_penalties_decode (bytes, size, 2, 10, &row, error, sizeof error) == -1);
    xinf_penalties_destroy (&frame);
    xinf_token_counts_destroy (&counts);
}

//  Biases sort by token and a token given twice is named; a row of
//  biases and penalties adds each bias first, then subtracts the
//  penalty, in float, as (logit + bias) - (count x frequency + presence).
static void
test_biases (void)
{
    xinf_logit_bias_t twice [] = { { 7, 1 }, { 3, 2 }, { 7, -1 } };
    uint32_t duplicate = 0;
    CHECK (xinf_logit_bias_sort (twice, 3, &duplicate) == -1);
    CHECK_INT (duplicate, 7);
    xinf_logit_bias_t biases [] = { { 900, -100 }, { 5, 0.1f }, { 2, 100 }, { 0, -0.3f } };
    CHECK (xinf_logit_bias_sort (biases, 4, &duplicate) == 0);
    CHECK (biases [0].token == 0 && biases [1].token == 2 && biases [2].token == 5 && biases [3].token == 900);
    xinf_token_counts_t *counts = xinf_token_counts_new (3);
    xinf_token_counts_add (counts, 5);
    xinf_token_counts_add (counts, 5);
    xinf_token_counts_add (counts, 6);
    xinf_penalties_t *frame = xinf_penalties_new ();
    CHECK (xinf_penalties_add (frame, 0, 0, NULL, biases, 4) == 0);           //  biases alone
    CHECK (xinf_penalties_add (frame, 0.7f, 0.3f, counts, biases, 4) == 0);
    CHECK (xinf_penalties_add (frame, 0, 0, counts, NULL, 0) == 0);           //  neither
    xinf_penalty_t rows [3];
    char error [256];
    CHECK (xinf_penalties_decode (xinf_penalties_data (frame), xinf_penalties_size (frame), 3, 1000, rows, error,
                                  sizeof error) == 0);
    CHECK (xinf_penalty_active (&rows [0]) && xinf_penalty_active (&rows [1]) && !xinf_penalty_active (&rows [2]));
    CHECK (rows [0].n_pairs == 0 && rows [0].n_biases == 4 && rows [1].n_pairs == 2 && rows [1].n_biases == 4);
    float logits [1000], expected [1000];
    for (size_t token = 0; token < 1000; token++)
        logits [token] = expected [token] = 0.37f * (float) token - 11.0f;
    for (size_t b = 0; b < 4; b++)
        expected [biases [b].token] = expected [biases [b].token] + biases [b].bias;
    expected [5] = expected [5] - (2.0f * 0.3f + 0.7f);
    expected [6] = expected [6] - (1.0f * 0.3f + 0.7f);
    xinf_penalty_apply (&rows [1], logits);
    CHECK (memcmp (logits, expected, sizeof logits) == 0);
    //  Each bad field of the biased row, found by its offset from the end
    //  of the frame (the last row is 24 bytes, the middle one ends with
    //  its 4 biases after its 2 pairs)
    uint8_t *bytes = malloc (xinf_penalties_size (frame));
    size_t size = xinf_penalties_size (frame), biases_at = size - 24 - 4 * 8;
    float nan_value = NAN, too_big = 100.5f;
    uint32_t token_1000 = 1000, token_down = 1, many = 2049;
    struct { size_t at; const void *value; const char *reason; } bad [] = {
        { biases_at + 4, &nan_value, "penalties[1].biases': a bias out of range" },
        { biases_at + 12, &too_big, "penalties[1].biases': a bias out of range" },
        { biases_at + 24, &token_1000, "penalties[1].biases': a token at or above the vocabulary" },
        { biases_at + 16, &token_down, "penalties[1].biases': tokens not ascending" },
        { biases_at - 2 * 8 - 4, &many, "penalties[1].biases' is out of range" },
    };
    for (size_t at = 0; at < sizeof bad / sizeof bad [0]; at++) {
        memcpy (bytes, xinf_penalties_data (frame), size);
        memcpy (bytes + bad [at].at, bad [at].value, 4);
        CHECK (xinf_penalties_decode (bytes, size, 3, 1000, rows, error, sizeof error) == -1);
        CHECK_HAS (error, bad [at].reason);
    }
    free (bytes);
    xinf_penalties_destroy (&frame);
    xinf_token_counts_destroy (&counts);
}

//  The repetition penalty (vLLM's, llama.cpp's): the seen tokens counted
//  from a token list at once; a row's logits get the bias, then the
//  repetition penalty (a positive logit divided, another multiplied),
//  then presence and frequency, in float; a penalty of 1 sends no seen
//  tokens; out of range it is refused by name.
static void
test_repetition (void)
{
    int32_t tokens [] = { 5, 3, 5, 9, 3, 5 };
    xinf_token_counts_t *seen = xinf_token_counts_new_from (tokens, 6, 2);
    CHECK (seen && xinf_token_counts_size (seen) == 3);
    xinf_token_counts_add (seen, 2);
    xinf_token_counts_add (seen, 7);
    xinf_token_counts_add (seen, 8);                       //  past the room of 3 + 2: not counted
    CHECK_INT (xinf_token_counts_size (seen), 5);
    xinf_token_counts_remove (seen, 9);
    xinf_token_counts_remove (seen, 3);                    //  counted twice: stays
    CHECK_INT (xinf_token_counts_size (seen), 4);          //  2, 3, 5, 7
    xinf_token_counts_t *counts = xinf_token_counts_new (2);
    xinf_token_counts_add (counts, 5);
    xinf_token_counts_add (counts, 5);
    xinf_logit_bias_t bias = { 7, 1.5f };
    xinf_penalties_t *frame = xinf_penalties_new ();
    xinf_penalty_row_t row = { 0.5f, 0.25f, 1.3f, counts, seen, &bias, 1 };
    xinf_penalty_row_t plain = { 0.5f, 0.25f, 1, counts, seen, NULL, 0 };
    CHECK (xinf_penalties_add_row (frame, &row) == 0 && xinf_penalties_add_row (frame, &plain) == 0);
    xinf_penalty_t rows [2];
    char error [256];
    CHECK (xinf_penalties_decode (xinf_penalties_data (frame), xinf_penalties_size (frame), 2, 10, rows, error,
                                  sizeof error) == 0);
    CHECK (rows [0].n_seen == 4 && rows [0].repetition == 1.3f && rows [1].n_seen == 0 && rows [1].repetition == 1);
    CHECK (xinf_penalty_active (&rows [0]) && xinf_penalty_active (&rows [1]));
    float logits [10] = { 0.3f, -0.2f, 2.0f, -1.1f, 0.7f, 0.9f, 0, -0.4f, 1, 1 }, expected [10];
    memcpy (expected, logits, sizeof logits);
    expected [7] = expected [7] + 1.5f;                    //  -0.4 + 1.5: positive, then divided
    expected [2] = expected [2] / 1.3f;
    expected [3] = expected [3] * 1.3f;
    expected [5] = expected [5] / 1.3f;
    expected [7] = expected [7] / 1.3f;
    expected [5] = expected [5] - (2.0f * 0.25f + 0.5f);
    xinf_penalty_apply (&rows [0], logits);
    CHECK (memcmp (logits, expected, sizeof logits) == 0);
    //  Out of range: 0, NaN, past 10
    float values [] = { 0, NAN, 10.5f };
    uint8_t *bytes = malloc (xinf_penalties_size (frame));
    for (size_t at = 0; at < 3; at++) {
        memcpy (bytes, xinf_penalties_data (frame), xinf_penalties_size (frame));
        memcpy (bytes + 8 + 8, &values [at], 4);
        CHECK (xinf_penalties_decode (bytes, xinf_penalties_size (frame), 2, 10, rows, error, sizeof error) == -1);
        CHECK_HAS (error, "penalties[0].repetition");
    }
    free (bytes);
    xinf_penalties_destroy (&frame);
    xinf_token_counts_destroy (&counts);
    xinf_token_counts_destroy (&seen);
}

int
main (void)
{
    fprintf (stderr, "test_penalties:\n");
    RUN (test_counts);
    RUN (test_sizes);
    RUN (test_biases);
    RUN (test_repetition);
    return 0;
}
