/*  test_sampler: parameter checks, greedy ties, determinism by seed,
    counter-based draws by (seed, index),
    top-k = 1 and tiny top-p equal greedy, and the drawn distribution with
    and without filters over many draws; min-p's trimming.  */
#include "test_kernels.h"
#include "xinf_sampler.h"

//  Tokens of test_golden, fixed once: they must never change.
#define GOLDEN "9 4 11 13 11 11 11 11 13 4 15 4 11 9 4 13 4 4 4 4 4 9 13 9 "

static void
test_invalid (void)
{
    CHECK (xinf_sampler_new (-0.1f, 0, 1, 1) == NULL);
    CHECK (xinf_sampler_new (NAN, 0, 1, 1) == NULL);
    CHECK (xinf_sampler_new (INFINITY, 0, 1, 1) == NULL);
    CHECK (xinf_sampler_new (1, -1, 1, 1) == NULL);
    CHECK (xinf_sampler_new (1, 0, 0, 1) == NULL);
    CHECK (xinf_sampler_new (1, 0, 1.01f, 1) == NULL);
    CHECK (xinf_sampler_new (1, 0, NAN, 1) == NULL);
    xinf_sampler_t *sampler = xinf_sampler_new (0.7f, 40, 0.9f, 1);
    CHECK (sampler);
    CHECK_INT (xinf_sampler_sample (sampler, NULL, 0), -1);
    xinf_sampler_destroy (&sampler);
    CHECK (sampler == NULL);
    xinf_sampler_destroy (&sampler);
}

static void
test_greedy (void)
{
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 1);
    float ties [] = { 1, 5, 5, 2 }, nans [] = { NAN, 1, 2, NAN }, single [] = { -3 };
    CHECK_INT (xinf_sampler_sample (sampler, ties, 4), 1);
    CHECK_INT (xinf_sampler_sample (sampler, nans, 4), 2);
    CHECK_INT (xinf_sampler_sample (sampler, single, 1), 0);
    float infinite [] = { 1, INFINITY, INFINITY };
    CHECK_INT (xinf_sampler_sample (sampler, infinite, 3), 1);
    xinf_sampler_destroy (&sampler);
    sampler = xinf_sampler_new (1, 0, 1, 1);          //  +inf wins even when sampling
    CHECK_INT (xinf_sampler_sample (sampler, infinite, 3), 1);
    xinf_sampler_destroy (&sampler);
}

static float *
s_logits (size_t vocab, uint64_t seed, float spread)
{
    uint64_t state = seed;
    float *logits = test_floats (vocab, &state);
    for (size_t i = 0; i < vocab; i++)
        logits [i] = roundf (logits [i] * spread) / 4;     //  coarse: many ties
    return logits;
}

static void
s_sequence (float temperature, int top_k, float top_p, uint64_t seed, const float *logits, size_t vocab,
            int32_t *tokens, size_t count)
{
    xinf_sampler_t *sampler = xinf_sampler_new (temperature, top_k, top_p, seed);
    CHECK (sampler);
    for (size_t i = 0; i < count; i++) {
        tokens [i] = xinf_sampler_sample (sampler, logits, vocab);
        CHECK (tokens [i] >= 0 && (size_t) tokens [i] < vocab);
    }
    xinf_sampler_destroy (&sampler);
}

static void
test_determinism (void)
{
    size_t vocab = 5000;
    float *logits = s_logits (vocab, 3, 40);
    int32_t a [300], b [300], c [300];
    struct { float temperature; int top_k; float top_p; } settings [] = {
        { 1, 0, 1 }, { 0.8f, 40, 1 }, { 1.2f, 0, 0.9f }, { 0.7f, 50, 0.8f }
    };
    for (int s = 0; s < 4; s++) {
        s_sequence (settings [s].temperature, settings [s].top_k, settings [s].top_p, 42, logits, vocab, a, 300);
        s_sequence (settings [s].temperature, settings [s].top_k, settings [s].top_p, 42, logits, vocab, b, 300);
        s_sequence (settings [s].temperature, settings [s].top_k, settings [s].top_p, 43, logits, vocab, c, 300);
        CHECK (memcmp (a, b, sizeof a) == 0);
        CHECK (memcmp (a, c, sizeof a) != 0);
    }
    free (logits);
}

//  The same tokens on every machine: a fixed sequence for fixed inputs.
static void
test_golden (void)
{
    float logits [16];
    for (int i = 0; i < 16; i++)
        logits [i] = (float) ((i * 7) % 16) / 4;
    int32_t tokens [24];
    s_sequence (1.0f, 0, 1, 2026, logits, 16, tokens, 12);
    s_sequence (0.9f, 5, 0.9f, 2026, logits, 16, tokens + 12, 12);
    char text [256] = "";
    for (int i = 0; i < 24; i++)
        snprintf (text + strlen (text), sizeof text - strlen (text), "%d ", tokens [i]);
    fprintf (stderr, "      golden: %s\n", text);
    CHECK (strcmp (text, GOLDEN) == 0);
}

static void
test_equals_greedy (void)
{
    size_t vocab = 151936;
    xinf_sampler_t *greedy = xinf_sampler_new (0, 0, 1, 1);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        float *logits = s_logits (vocab, seed, 20);
        int32_t expected = xinf_sampler_sample (greedy, logits, vocab);
        int32_t top_k [20], top_p [20];
        s_sequence (1.5f, 1, 1, seed, logits, vocab, top_k, 20);
        s_sequence (1.5f, 0, 1e-6f, seed, logits, vocab, top_p, 20);
        for (int i = 0; i < 20; i++)
            CHECK (top_k [i] == expected && top_p [i] == expected);
        free (logits);
    }
    xinf_sampler_destroy (&greedy);
}

//  Frequencies of 'draws' samples of logits log (p) against 'expected'.
static void
s_distribution (float temperature, int top_k, float top_p, const double *p, const double *expected, size_t vocab)
{
    float logits [16];
    for (size_t i = 0; i < vocab; i++)
        logits [i] = (float) log (p [i]);
    xinf_sampler_t *sampler = xinf_sampler_new (temperature, top_k, top_p, 7);
    size_t counts [16] = { 0 }, draws = 200000;
    for (size_t i = 0; i < draws; i++)
        counts [xinf_sampler_sample (sampler, logits, vocab)]++;
    for (size_t i = 0; i < vocab; i++) {
        double seen = (double) counts [i] / draws;
        if (fabs (seen - expected [i]) > 0.006) {
            fprintf (stderr, "token %zu: frequency %.4f expected %.4f\n", i, seen, expected [i]);
            CHECK (0);
        }
    }
    xinf_sampler_destroy (&sampler);
}

static void
test_distribution (void)
{
    double p [4] = { 0.1, 0.2, 0.3, 0.4 };
    s_distribution (1, 0, 1, p, p, 4);
    double squared [4] = { 0.01 / 0.3, 0.04 / 0.3, 0.09 / 0.3, 0.16 / 0.3 };
    s_distribution (0.5f, 0, 1, p, squared, 4);
    double top2 [4] = { 0, 0, 0.3 / 0.7, 0.4 / 0.7 };
    s_distribution (1, 2, 1, p, top2, 4);
    s_distribution (1, 0, 0.6f, p, top2, 4);
    s_distribution (1, 3, 0.6f, p, top2, 4);
    double top1 [4] = { 0, 0, 0, 1 };
    s_distribution (1, 0, 0.35f, p, top1, 4);
    double top3 [4] = { 0, 0.2 / 0.9, 0.3 / 0.9, 0.4 / 0.9 };
    s_distribution (1, 0, 0.75f, p, top3, 4);
    s_distribution (1, 3, 1, p, top3, 4);
}

//  Nucleus over a long flat tail: the floor goes down to the tail's
//  weights and the candidates are the whole vocabulary.
static void
test_long_tail (void)
{
    size_t vocab = 151936, tail = 0;
    float *logits = malloc (vocab * sizeof (float));
    for (size_t i = 0; i < vocab; i++)
        logits [i] = i == 5 ? 0 : -10;
    xinf_sampler_t *sampler = xinf_sampler_new (1, 0, 0.5f, 9);
    for (int i = 0; i < 200; i++)
        tail += xinf_sampler_sample (sampler, logits, vocab) != 5;
    //  token 5 holds 13 % of the mass, so 25 % of the nucleus of 0.5
    CHECK (tail > 120 && tail < 180);
    xinf_sampler_destroy (&sampler);
    free (logits);
}

//  Counter-based draws: the token at 'index' depends on (seed, index)
//  only, not on the draws before it; bad parameters are refused.
static void
test_set (void)
{
    float logits [64];
    for (int i = 0; i < 64; i++)
        logits [i] = (float) ((i * 37) % 23) / 4.0f;
    xinf_sampler_t *first = xinf_sampler_new (0, 0, 1, 0), *second = xinf_sampler_new (0, 0, 1, 0);
    xinf_sampling_t params = { 2.0f, 0.9f, 0, 77, 0 };
    int32_t drawn [32];
    for (uint64_t index = 0; index < 32; index++) {
        params.index = index;
        CHECK (xinf_sampler_set (first, &params) == 0);
        drawn [index] = xinf_sampler_sample (first, logits, 64);
    }
    int distinct = 0;
    for (uint64_t index = 32; index-- > 0;) {           //  backwards, on another sampler
        params.index = index;
        CHECK (xinf_sampler_set (second, &params) == 0);
        CHECK_INT (xinf_sampler_sample (second, logits, 64), drawn [index]);
        distinct += index > 0 && drawn [index] != drawn [index - 1];
    }
    CHECK (distinct > 8);                               //  the index changes the draw
    params.seed = 78;
    params.index = 0;
    int differs = 0;
    for (uint64_t index = 0; index < 32; index++) {
        params.index = index;
        xinf_sampler_set (first, &params);
        differs += xinf_sampler_sample (first, logits, 64) != drawn [index];
    }
    CHECK (differs > 8);                                //  and so does the seed
    xinf_sampling_t bad [] = { { -1, 1, 0, 0, 0 }, { NAN, 1, 0, 0, 0 }, { INFINITY, 1, 0, 0, 0 }, { 1, 0, 0, 0, 0 },
                               { 1, 1.5f, 0, 0, 0 }, { 1, NAN, 0, 0, 0 }, { 1, 1, 0x80000000u, 0, 0 } };
    for (size_t at = 0; at < sizeof bad / sizeof bad [0]; at++)
        CHECK (xinf_sampler_set (first, &bad [at]) == -1);
    xinf_sampling_t greedy = { 0, 1, 0, 5, 9 };
    CHECK (xinf_sampler_set (first, &greedy) == 0);
    CHECK_INT (xinf_sampler_sample (first, logits, 64), 18);     //  (18 * 37) % 23 = 22, the top (and 41 ties)
    xinf_sampler_destroy (&first);
    xinf_sampler_destroy (&second);
}

//  min-p: what it leaves alone, and the logits it keeps on a long row
//  against the floor computed here; then draws from the trimmed logits.
static void
test_min_p (void)
{
    float row [] = { 1, NAN, 3, -INFINITY, 3 };
    CHECK_INT ((int) xinf_sampler_min_p (row, 5, 1, 0), 5);          //  off
    CHECK_INT ((int) xinf_sampler_min_p (row, 5, 0, 0.5f), 5);       //  greedy
    CHECK (isnan (row [1]));
    float infinite [] = { 1, INFINITY, 2 };
    CHECK_INT ((int) xinf_sampler_min_p (infinite, 3, 1, 0.5f), 3);
    CHECK (infinite [0] == 1 && infinite [2] == 2);
    CHECK_INT ((int) xinf_sampler_min_p (row, 5, 1, 1), 2);          //  only the top, both of them
    CHECK (row [0] == -INFINITY && row [1] == -INFINITY && row [2] == 3 && row [4] == 3);
    CHECK_INT ((int) xinf_sampler_min_p (NULL, 0, 1, 0.5f), 0);

    size_t vocab = 151936;
    float *logits = s_logits (vocab, 3, 40);
    float *trimmed = malloc (vocab * sizeof (float));
    memcpy (trimmed, logits, vocab * sizeof (float));
    float top = -INFINITY;
    for (size_t i = 0; i < vocab; i++)
        top = logits [i] > top ? logits [i] : top;
    double floor = (double) top + 1.5 * log (0.05);
    size_t expected = 0;
    for (size_t i = 0; i < vocab; i++)
        expected += logits [i] >= floor;
    CHECK (expected > 10 && expected < vocab / 2);
    CHECK_INT ((int) xinf_sampler_min_p (trimmed, vocab, 1.5f, 0.05f), (int) expected);
    for (size_t i = 0; i < vocab; i++)
        CHECK (logits [i] >= floor ? trimmed [i] == logits [i] : trimmed [i] == -INFINITY);
    free (trimmed);
    free (logits);

    //  p = 0.1 .. 0.4: min_p 0.6 keeps 0.3 and 0.4 (0.24 is the floor);
    //  at temperature 0.5 the weights are p^2, min_p 0.5 keeps the same two
    double p [4] = { 0.1, 0.2, 0.3, 0.4 };
    float kept [4];
    for (size_t i = 0; i < 4; i++)
        kept [i] = (float) log (p [i]);
    CHECK_INT ((int) xinf_sampler_min_p (kept, 4, 1, 0.6f), 2);
    CHECK (kept [0] == -INFINITY && kept [1] == -INFINITY && kept [2] > -2);
    double pair [4] = { 0, 0, 0.3 / 0.7, 0.4 / 0.7 }, squared [4] = { 0, 0, 0.09 / 0.25, 0.16 / 0.25 };
    double left [4] = { 0, 0, 0.3, 0.4 };         //  what the trimmed row holds: draws from it
    CHECK (kept [2] == (float) log (0.3) && kept [3] == (float) log (0.4));
    s_distribution (1, 0, 1, left, pair, 4);
    for (size_t i = 0; i < 4; i++)
        kept [i] = (float) log (p [i]);
    CHECK_INT ((int) xinf_sampler_min_p (kept, 4, 0.5f, 0.5f), 2);
    CHECK (kept [0] == -INFINITY && kept [1] == -INFINITY);
    s_distribution (0.5f, 0, 1, left, squared, 4);
}

int
main (void)
{
    fprintf (stderr, "test_sampler:\n");
    RUN (test_invalid);
    RUN (test_greedy);
    RUN (test_set);
    RUN (test_determinism);
    RUN (test_golden);
    RUN (test_equals_greedy);
    RUN (test_distribution);
    RUN (test_long_tail);
    RUN (test_min_p);
    return 0;
}
