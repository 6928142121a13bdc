/*  test_sampler_row: the sampler's fast paths against its definition.
    - xinf_sampler_exp against the exp written as xinf_sampler_row.h
      defines it (libm's floor and ldexp), bit for bit, over random x, the
      neighbours of every place where k changes, the results that are
      subnormal, and the special values;
    - each row pass (argmax, next above a floor, weights and their sum,
      min-p's trim) by
      the AVX2 code against the portable code, bit for bit, on rows with
      NaN, infinities, signed zeros and ties, of many lengths;
    - the tokens drawn, with the AVX2 code and with the portable code,
      against a reference sampler that ranks the whole row by sorting it
      and keeps the nucleus by walking the ranks (no floors, no radix
      sort, no heap), for top-p, top-k, both and neither.
*/
#include "test_kernels.h"
#include "xinf_cpu_ops.h"
#include "xinf_sampler.h"
#include "xinf_sampler_row.h"

static bool
s_same (double a, double b)
{
    return memcmp (&a, &b, sizeof a) == 0;
}

//  The definition, with libm.
static double
s_exp_defined (double x)
{
    if (!(x > -745.0))
        return 0;
    double k = floor (x * 1.4426950408889634 + 0.5);
    double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    static const double inverse_factorial [13] = {
        1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
        1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600
    };
    double sum = inverse_factorial [12];
    for (int n = 11; n >= 0; n--)
        sum = sum * r + inverse_factorial [n];
    return ldexp (sum, (int) k);
}

static size_t
s_exp_differs (double x)
{
    if (s_same (xinf_sampler_exp (x), s_exp_defined (x)))
        return 0;
    fprintf (stderr, "      exp (%a): %a, defined %a\n", x, xinf_sampler_exp (x), s_exp_defined (x));
    return 1;
}

static void
test_exp (void)
{
    uint64_t state = 11;
    size_t differ = 0, tried = 0;
    static const double spans [] = { 2, 40, 760 };
    for (size_t i = 0; i < 600000; i++, tried++) {
        double u = (double) test_random (&state) / 2147483648.0;
        differ += s_exp_differs (i % 4 == 3 ? -700 - 45 * u : -spans [i % 4 % 3] * u);
    }
    //  Around each x where x log2 e + 1/2 is an integer: 40 doubles either side
    for (int k = -1075; k <= 0; k++) {
        double edge = ((double) k - 0.5) / 1.4426950408889634;
        for (int step = -40; step <= 40; step++, tried++) {
            double x = edge;
            for (int s = 0; s < abs (step); s++)
                x = nextafter (x, step < 0 ? -INFINITY : INFINITY);
            differ += x <= 0 ? s_exp_differs (x) : 0;
        }
    }
    const double special [] = { 0.0, -0.0, -745.0, nextafter (-745.0, 0), -744.44, -708.4, -708.39, -1e-300,
                                -INFINITY, NAN, -5e-324 };
    for (size_t i = 0; i < sizeof special / sizeof special [0]; i++, tried++)
        differ += s_exp_differs (special [i]);
    fprintf (stderr, "      %zu of %zu x differ from the definition\n", differ, tried);
    CHECK (differ == 0);
    CHECK (xinf_sampler_exp (0) == 1);
}

//  A row of 'n' logits in [-40, 20): coarse (many ties), with NaN, -inf,
//  +0 and -0 strewn in.
static float *
s_row (size_t n, uint64_t *state)
{
    float *row = malloc ((n ? n : 1) * sizeof (float));
    CHECK (row);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = test_random (state);
        row [i] = (float) (r % 2400) / 40.0f - 40.0f;
        row [i] = r % 97 == 0 ? NAN : r % 89 == 0 ? -INFINITY : r % 83 == 0 ? 0.0f : r % 79 == 0 ? -0.0f : row [i];
    }
    return row;
}

static void
test_avx2_twins (void)
{
    size_t index;
    double sum;
    float probe = 1;
    if (!xinf_sampler_argmax_avx2 (&probe, 1, &index)) {
        fprintf (stderr, "      SKIP: this CPU or build has no AVX2 set; the portable code alone is tested\n");
        return;
    }
    uint64_t state = 5;
    size_t checked = 0;
    static const double temperatures [] = { 0.05, 0.8, 1.7, 1e30 };
    for (size_t n = 1; n < 700; n += n < 40 ? 1 : 97) {
        float *row = s_row (n, &state);
        double *weights [2] = { malloc (n * sizeof (double)), malloc (n * sizeof (double)) };
        size_t best = xinf_sampler_argmax_portable (row, n);
        CHECK (xinf_sampler_argmax_avx2 (row, n, &index) && index == best);
        for (size_t from = 0; from <= n; from += 1 + n / 7) {
            float floor = row [best] - (float) (from % 5) * 3.5f;
            CHECK (xinf_sampler_next_above_avx2 (row, from, n, floor, &index));
            CHECK (index == xinf_sampler_next_above_portable (row, from, n, floor));
        }
        for (size_t from = 0; from < 5; from++) {          //  the trim, at floors on and between logits
            float least = from == 4 ? NAN : row [best] - (float) from * 7.0f - (from == 3 ? 0.0125f : 0);
            float *twins [2] = { malloc (n * sizeof (float)), malloc (n * sizeof (float)) };
            memcpy (twins [0], row, n * sizeof (float));
            memcpy (twins [1], row, n * sizeof (float));
            size_t kept = xinf_sampler_trim_portable (twins [0], n, least), expected = 0;
            for (size_t i = 0; i < n; i++)
                expected += row [i] >= least;
            CHECK (kept == expected && xinf_sampler_trim_avx2 (twins [1], n, least, &index) && index == kept);
            CHECK (memcmp (twins [0], twins [1], n * sizeof (float)) == 0);
            for (size_t i = 0; i < n; i++)
                CHECK (row [i] >= least ? twins [0][i] == row [i] : twins [0][i] == -INFINITY);
            free (twins [0]);
            free (twins [1]);
        }
        for (size_t t = 0; t < 4; t++) {
            double portable = xinf_sampler_weigh_portable (row, n, row [best], temperatures [t], weights [0]);
            CHECK (xinf_sampler_weigh_avx2 (row, n, row [best], temperatures [t], weights [1], &sum));
            CHECK (s_same (sum, portable));
            for (size_t i = 0; i < n; i++)
                CHECK (s_same (weights [0][i], weights [1][i]));
            checked += n;
        }
        free (weights [0]);
        free (weights [1]);
        free (row);
    }
    //  All NaN and -inf: index 0 either way
    float none [9] = { NAN, -INFINITY, NAN, NAN, -INFINITY, NAN, NAN, NAN, -INFINITY };
    CHECK (xinf_sampler_argmax_portable (none, 9) == 0);
    CHECK (xinf_sampler_argmax_avx2 (none, 9, &index) && index == 0);
    fprintf (stderr, "      %zu weights equal, portable and AVX2\n", checked);
}

//  The reference sampler: a place of the row and its rank.
typedef struct {
    float logit;
    int32_t index;
} s_ranked_t;

static int
s_by_rank (const void *a, const void *b)
{
    const s_ranked_t *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->index < y->index ? -1 : 1;
}

//  The token the definition (xinf_sampler.h) draws with 'uniform'.
static int32_t
s_reference (const float *logits, size_t vocab, const xinf_sampling_t *p, double uniform)
{
    s_ranked_t *ranks = malloc (vocab * sizeof *ranks);
    double *weights = malloc (vocab * sizeof (double));
    for (size_t i = 0; i < vocab; i++)
        ranks [i] = (s_ranked_t) { isnan (logits [i]) ? -INFINITY : logits [i], (int32_t) i };
    qsort (ranks, vocab, sizeof *ranks, s_by_rank);
    float top = ranks [0].logit;
    int32_t token = ranks [0].index;
    if (p->temperature == 0 || isinf (top) || p->top_k == 1)
        goto done;
    double total = 0;
    for (size_t i = 0; i < vocab; i++)
        total += weights [i] = s_exp_defined (((double) (isnan (logits [i]) ? -INFINITY : logits [i]) - top) /
                                              p->temperature);
    if (p->top_p >= 1 && (p->top_k == 0 || p->top_k >= vocab)) {
        //  No filter: index order
        double point = uniform * total, sum = 0;
        for (size_t i = 0; i < vocab; i++) {
            token = weights [i] > 0 ? (int32_t) i : token;
            sum += weights [i];
            if (point < sum)
                break;
        }
        goto done;
    }
    size_t ranked = vocab;
    if (p->top_k && p->top_k < vocab) {
        ranked = p->top_k;
        total = 0;                               //  the kept's mass, summed in no set order
        for (size_t i = 0; i < ranked; i++)
            total += weights [ranks [i].index];
    }
    double target = p->top_p * total, kept = 0;
    size_t size = 0;
    while (size < ranked && (size == 0 || kept < target) && (size == 0 || weights [ranks [size].index] > 0))
        kept += weights [ranks [size++].index];
    double point = uniform * kept, sum = 0;
    for (size_t i = 0; i < size; i++) {
        token = ranks [i].index;
        sum += weights [token];
        if (point < sum)
            break;
    }
done:
    free (ranks);
    free (weights);
    return token;
}

//  Tokens of 'rows' rows of 'vocab' logits of the given spread, a draw each
//  from xinf_sampler_uniform, by the sampler and by the reference; returns
//  how many differ.
static size_t
s_compare (size_t vocab, size_t rows, float spread, const xinf_sampling_t *p, uint64_t *state)
{
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    size_t differ = 0;
    for (size_t row = 0; row < rows; row++) {
        float *logits = s_row (vocab, state);
        for (size_t i = 0; i < vocab; i++)
            logits [i] *= spread;
        xinf_sampling_t params = *p;
        params.index = row;
        double uniform = xinf_sampler_uniform (&params);
        CHECK (xinf_sampler_set (sampler, &params) == 0);
        int32_t token = xinf_sampler_draw (sampler, logits, vocab, uniform), expected = s_reference (logits, vocab,
                                                                                                     &params, uniform);
        if (token != expected) {
            fprintf (stderr, "      T %g top-p %g top-k %u vocab %zu row %zu: token %d, the definition's %d\n",
                     (double) p->temperature, (double) p->top_p, p->top_k, vocab, row, token, expected);
            differ++;
        }
        free (logits);
    }
    xinf_sampler_destroy (&sampler);
    return differ;
}

static void
test_against_definition (void)
{
    static const xinf_sampling_t settings [] = {
        { 0.8f, 0.95f, 0, 3, 0 }, { 1.0f, 0.5f, 0, 4, 0 }, { 0.3f, 0.99f, 0, 5, 0 }, { 2.0f, 0.9f, 0, 6, 0 },
        { 0.8f, 1, 40, 7, 0 }, { 0.8f, 0.9f, 40, 8, 0 }, { 1.0f, 1, 0, 9, 0 }, { 0.6f, 0.7f, 3, 10, 0 },
        { 0, 1, 0, 11, 0 }, { 1.0f, 1e-6f, 0, 12, 0 }
    };
    //  Spread 0: all logits +0 or -0 (NaN where NaN or -inf), which tie
    static const float spreads [] = { 0, 0.02f, 0.2f, 1.0f };
    size_t differ = 0, drawn = 0;
    for (int simd = 1; simd >= 0; simd--) {
        xinf_cpu_simd_set (simd);
        uint64_t state = 17;
        for (size_t s = 0; s < sizeof settings / sizeof settings [0]; s++)
            for (size_t spread = 0; spread < 4; spread++) {
                differ += s_compare (3001, 6, spreads [spread], &settings [s], &state);
                drawn += 6;
            }
        differ += s_compare (128256, 2, 0.2f, &settings [0], &state);
        differ += s_compare (128256, 2, 0.2f, &settings [5], &state);
        drawn += 4;
    }
    xinf_cpu_simd_set (true);
    fprintf (stderr, "      %zu of %zu draws differ from the definition's\n", differ, drawn);
    CHECK (differ == 0);
}

int
main (void)
{
    fprintf (stderr, "test_sampler_row:\n");
    RUN (test_exp);
    RUN (test_avx2_twins);
    RUN (test_against_definition);
    return 0;
}
