/*  test_penalties: a generation's tokens counted as they come
    (xinf_token_counts), through the frame (xinf_penalties_add, decode,
    apply) against counts made the plain way: for random generations of
    many lengths over small and large vocabularies, with the room made
    exactly as the request makes it (min (max_tokens, vocab)); rows
    without penalties or without counts carry no pairs.  */
#include "test_unit.h"
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
    CHECK (xinf_penalties_add (frame, 0, 0, NULL) == 0);          //  a row with nothing
    CHECK (xinf_penalties_add (frame, 0.5f, 1.0f, counts) == 0);
    CHECK (xinf_penalties_add (frame, 0, 0, counts) == 0);        //  counts, but no penalty
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
    CHECK (xinf_penalties_add (frame, 1, 1, counts) == 0);
    xinf_penalty_t row;
    char error [256];
    const uint8_t *bytes = xinf_penalties_data (frame);
    size_t size = xinf_penalties_size (frame);
    CHECK_INT (size, 8 + 12 + 2 * 8);
    for (size_t cut = 0; cut < size; cut++)
        CHECK (xinf_penalties_decode (bytes, cut, 1, 10, &row, error, sizeof error) == -1);
    CHECK (xinf_penalties_decode (bytes, size, 1, 10, &row, error, sizeof error) == 0);
    CHECK (xinf_penalties_decode (bytes, size, 1, 9, &row, error, sizeof error) == -1);    //  token 9 of 9
    CHECK_HAS (error, "at or above the vocabulary");
    CHECK (xinf_penalties_decode (bytes, size, 2, 10, &row, error, sizeof error) == -1);
    xinf_penalties_destroy (&frame);
    xinf_token_counts_destroy (&counts);
}

int
main (void)
{
    fprintf (stderr, "test_penalties:\n");
    RUN (test_counts);
    RUN (test_sizes);
    return 0;
}
