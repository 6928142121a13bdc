/*  test_logprobs: a row's log-probabilities (xinf_logprobs_scan, _of)
    against a plain reference (a sort of the whole row, libm's exp and log
    in long double) on random rows of many sizes, with ties, NaN and -inf,
    and +inf;
    the TOKENS frame through encode and decode, and every bad field and
    cut refused.  */
#include "test_unit.h"
#include "xinf_logprobs.h"

#include <math.h>
#include <string.h>

static uint64_t s_state = 20261205;

static uint32_t
s_random (uint32_t below)
{
    s_state = s_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t) ((s_state >> 33) % below);
}

static const float *s_sorted_logits;

//  Most likely first, the lower id first among equals (NaN as -inf).
static int
s_rank (const void *a, const void *b)
{
    uint32_t left = *(const uint32_t *) a, right = *(const uint32_t *) b;
    float x = s_sorted_logits [left], y = s_sorted_logits [right];
    x = isnan (x) ? -INFINITY : x;
    y = isnan (y) ? -INFINITY : y;
    return x > y ? -1 : x < y ? 1 : (left > right) - (left < right);
}

//  Within 1e-5, or a float's rounding of a large logprob.
static bool
s_close (float logprob, long double expected)
{
    return fabsl ((long double) logprob - expected) <= 1e-5L + 1e-6L * fabsl (expected);
}

//  A row of 'vocab' logits of 'spread' (a few repeated, a few NaN and
//  -inf when 'odd'), scanned for 'asked' - 1 tops: each close to the
//  reference and the tops in the reference's order.
static void
s_check_row (size_t vocab, float spread, uint32_t asked, bool odd)
{
    float *logits = calloc (vocab, sizeof (float));
    double *weights = malloc (vocab * sizeof (double));
    uint32_t *order = malloc (vocab * sizeof (uint32_t));
    for (size_t token = 0; token < vocab; token++) {
        logits [token] = spread * ((float) s_random (1 << 20) / (float) (1 << 20) - 0.5f);
        if (token && s_random (8) == 0)
            logits [token] = logits [s_random ((uint32_t) token)];     //  ties
        if (odd && s_random (16) == 0)
            logits [token] = s_random (2) ? NAN : -INFINITY;
        order [token] = (uint32_t) token;
    }
    if (asked > vocab + 1)
        asked = (uint32_t) vocab + 1;                 //  as the replica asks
    xinf_logprobs_row_t row = { .asked = asked };
    xinf_logprobs_scan (logits, vocab, &row, weights);
    s_sorted_logits = logits;
    qsort (order, vocab, sizeof *order, s_rank);
    long double top = logits [order [0]], sum = 0;
    for (size_t token = 0; token < vocab; token++)
        if (!isnan (logits [token]))
            sum += expl ((long double) logits [token] - top);
    long double reference_normalizer = top + logl (sum);
    size_t wrong = 0, tops = asked > 1 ? asked - 1 : 0;
    for (size_t at = 0; at < tops && at < vocab; at++) {
        uint32_t token = order [at];
        long double expected = isnan (logits [token]) || isinf (logits [token]) ? -INFINITY
                             : (long double) logits [token] - reference_normalizer;
        wrong += row.top [at].token != token;
        wrong += isinf (expected) ? !isinf (row.top [at].logprob)
                                  : !s_close (row.top [at].logprob, expected);
    }
    uint32_t sampled = s_random ((uint32_t) vocab);
    float logprob = xinf_logprobs_of (&row, logits, sampled);
    long double expected = isnan (logits [sampled]) || isinf (logits [sampled]) ? -INFINITY
                         : (long double) logits [sampled] - reference_normalizer;
    wrong += isinf (expected) ? !isinf (logprob) : !s_close (logprob, expected);
    wrong += !(logprob <= 0);
    if (wrong)
        fprintf (stderr, "vocab %zu spread %g asked %u odd %d: %zu wrong\n", vocab, (double) spread, asked, odd, wrong);
    CHECK_INT (wrong, 0);
    free (order);
    free (weights);
    free (logits);
}

static void
test_scan (void)
{
    static const size_t vocabs [] = { 1, 2, 7, 64, 1000, 151936 };
    static const float spreads [] = { 0.001f, 3, 30, 300 };
    static const uint32_t asked [] = { 1, 2, 6, 21 };
    for (size_t v = 0; v < 6; v++)
        for (size_t s = 0; s < 4; s++)
            for (size_t a = 0; a < 4; a++) {
                s_check_row (vocabs [v], spreads [s], asked [a], false);
                s_check_row (vocabs [v], spreads [s], asked [a], true);
            }
}

//  All -inf: every logprob -inf; one finite logit among them: 0; two +inf
//  logits (an overflow): -ln 2 each, every other token -inf.
static void
test_degenerate (void)
{
    float logits [5] = { -INFINITY, NAN, -INFINITY, -INFINITY, -INFINITY };
    double weights [5];
    xinf_logprobs_row_t row = { .asked = 3 };
    xinf_logprobs_scan (logits, 5, &row, weights);
    CHECK (isinf (xinf_logprobs_of (&row, logits, 2)) && isinf (row.top [0].logprob));
    logits [3] = 1.5f;
    xinf_logprobs_scan (logits, 5, &row, weights);
    CHECK (row.top [0].token == 3 && row.top [0].logprob == 0 && xinf_logprobs_of (&row, logits, 3) == 0);
    CHECK (isinf (row.top [1].logprob) && row.top [1].token == 0);
    float overflow [4] = { 3, INFINITY, -2, INFINITY };
    xinf_logprobs_scan (overflow, 4, &row, weights);
    CHECK (row.top [0].token == 1 && row.top [1].token == 3);
    CHECK (row.top [0].logprob == (float) -log (2.0) && row.top [1].logprob == (float) -log (2.0));
    CHECK (isinf (xinf_logprobs_of (&row, overflow, 0)) && xinf_logprobs_of (&row, overflow, 3) == (float) -log (2.0));
}

//  Three rows (asked 3, none, 1) through the frame; each bad field and
//  every cut refused.
static void
test_frame (void)
{
    xinf_logprobs_row_t rows [3] = { { .asked = 3, .logprob = -0.5f, .top = { { 9, -0.25f }, { 4, -1.5f } } },
                                     { .asked = 0 }, { .asked = 1, .logprob = -INFINITY } };
    uint32_t asked [3] = { 3, 0, 1 };
    size_t size = xinf_logprobs_wire_size (rows, 3);
    CHECK_INT (size, 8 + (4 + 4 + 16) + 4 + (4 + 4));
    uint8_t *bytes = malloc (size);
    xinf_logprobs_encode (rows, 3, bytes);
    xinf_logprobs_row_t back [3];
    char error [256];
    CHECK (xinf_logprobs_decode (bytes, size, 3, asked, 10, back, error, sizeof error) == 0);
    CHECK (back [0].asked == 3 && back [0].logprob == -0.5f && back [0].top [1].token == 4);
    CHECK (back [1].asked == 0 && back [2].asked == 1 && isinf (back [2].logprob));
    for (size_t cut = 0; cut < size; cut++)
        CHECK (xinf_logprobs_decode (bytes, cut, 3, asked, 10, back, error, sizeof error) == -1);
    uint32_t other [3] = { 2, 0, 1 };
    CHECK (xinf_logprobs_decode (bytes, size, 3, other, 10, back, error, sizeof error) == -1);
    CHECK_HAS (error, "not what the step asked");
    CHECK (xinf_logprobs_decode (bytes, size, 3, asked, 9, back, error, sizeof error) == -1);
    CHECK_HAS (error, "at or above the vocabulary");
    CHECK (xinf_logprobs_decode (bytes, size, 3, asked, 1, back, error, sizeof error) == -1);     //  3 asked of 1
    CHECK_HAS (error, "not what the step asked");
    float positive = 0.5f, nan_value = NAN;
    struct { size_t at; const void *value; const char *reason; } bad [] = {
        { 12, &positive, "sampled token's logprob" }, { 12, &nan_value, "sampled token's logprob" },
        { 20, &nan_value, "a logprob above 0 or NaN" }, { 28, &positive, "a logprob above 0" },
        { 0, &positive, "LGPR" },
    };
    for (size_t at = 0; at < sizeof bad / sizeof bad [0]; at++) {
        uint8_t *changed = malloc (size);
        memcpy (changed, bytes, size);
        memcpy (changed + bad [at].at, bad [at].value, 4);
        CHECK (xinf_logprobs_decode (changed, size, 3, asked, 10, back, error, sizeof error) == -1);
        CHECK_HAS (error, bad [at].reason);
        free (changed);
    }
    float worse = -0.1f;                  //  the second top above the first
    memcpy (bytes + 28, &worse, 4);
    CHECK (xinf_logprobs_decode (bytes, size, 3, asked, 10, back, error, sizeof error) == -1);
    CHECK_HAS (error, "not most likely first");
    free (bytes);
}

int
main (void)
{
    fprintf (stderr, "test_logprobs:\n");
    RUN (test_scan);
    RUN (test_degenerate);
    RUN (test_frame);
    return 0;
}
