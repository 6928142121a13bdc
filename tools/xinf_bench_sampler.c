/*  xinf-bench-sampler: the CPU sampler (kernels/cpu/xinf_sampler.c) on
    rows of a Llama 3 vocabulary (128,256 logits), as the executor runs it
    for every row of a step without a device sampler.

    Usage: xinf-bench-sampler [--vocab N] [--rows N] [--seconds S]
    For greedy, T 0.8 with top-k 40, T 0.8 with top-p 0.95 and T 1 with
    no filter, on logits drawn normal with spread 3 (flat: a nucleus of
    thousands of tokens) and spread 8 (peaked: tens), it prints the best
    microseconds a row with the AVX2 row passes and with the portable
    ones, timed in turns, and each against one copy of the row (memcpy, the
    least any pass over it costs) from the same run.
    Both kinds of passes draw the same tokens; the tool checks that.
    Then the log-probabilities a row reports when a request asks for them
    (models/xinf_logprobs.h: the 20 most likely tokens and the normalizer),
    the same way; then min-p's trim of a row (kernels/cpu/xinf_sampler.h:
    xinf_sampler_min_p, 0.05 at T 1, on a fresh copy of the row each time)
    against the copy alone, and the tokens drawn at T 1 from the trimmed
    rows against the untrimmed. Last, the CPU backend's sample op on all rows of the spread 8 logits
    (a step's rows, spread over its pool) with 1 thread and with
    --threads (default: the online cores), and the ratio.
*/
#include "xinf_cpu_backend.h"
#include "xinf_cpu_ops.h"
#include "xinf_sampler.h"
#include "xinf_logprobs.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

//  A normal draw times 'spread' (Box-Muller over a fixed LCG).
static float
s_normal (uint64_t *state, double spread)
{
    double u [2];
    for (int i = 0; i < 2; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        u [i] = ((double) (*state >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float) (spread * sqrt (-2.0 * log (u [0])) * cos (6.283185307179586 * u [1]));
}

//  Seconds a row of copying each row into 'copy' (memcpy: the least
//  any pass over a row costs).
static double
s_read (const float *logits, size_t vocab, size_t rows, float *copy)
{
    double start = s_now ();
    for (size_t row = 0; row < rows; row++) {
        memcpy (copy, logits + row * vocab, vocab * sizeof (float));
        __asm__ volatile ("" : : "r" (copy) : "memory");       //  the copy is kept
    }
    return (s_now () - start) / (double) rows;
}

//  Seconds a row of sampling all rows as 'params' says; tokens out.
static double
s_sample (xinf_sampler_t *sampler, const float *logits, size_t vocab, size_t rows, xinf_sampling_t params,
          int32_t *tokens)
{
    double start = s_now ();
    for (size_t row = 0; row < rows; row++) {
        params.index = row;
        xinf_sampler_set (sampler, &params);
        tokens [row] = xinf_sampler_sample (sampler, logits + row * vocab, vocab);
    }
    return (s_now () - start) / (double) rows;
}

//  One setting on one spread: best times of the two kinds of passes and
//  of the copy, in turns until 'seconds' pass. 0, or -1 when the tokens
//  of the two kinds differ.
static int
s_setting (xinf_sampler_t *sampler, const float *logits, size_t vocab, size_t rows, const char *name,
           xinf_sampling_t params, double seconds)
{
    int32_t *tokens [2] = { calloc (rows, sizeof (int32_t)), calloc (rows, sizeof (int32_t)) };
    double best [3] = { INFINITY, INFINITY, INFINITY }, end = s_now () + seconds;
    float *copy = malloc (vocab * sizeof (float));
    for (int round = 0; round < 3 || s_now () < end; round++) {
        for (int kind = 0; kind < 2; kind++) {
            xinf_cpu_simd_set (kind == 0);
            best [kind] = fmin (best [kind], s_sample (sampler, logits, vocab, rows, params, tokens [kind]));
        }
        best [2] = fmin (best [2], s_read (logits, vocab, rows, copy));
    }
    xinf_cpu_simd_set (true);
    int rc = memcmp (tokens [0], tokens [1], rows * sizeof (int32_t)) == 0 ? 0 : -1;
    printf ("  %-22s simd %8.1f us (%5.1fx a copy)   portable %8.1f us (%5.1fx a copy)   copy %6.1f us%s\n", name,
            best [0] * 1e6, best [0] / best [2], best [1] * 1e6, best [1] / best [2], best [2] * 1e6,
            rc ? "   TOKENS DIFFER" : "");
    free (tokens [0]);
    free (tokens [1]);
    free (copy);
    return rc;
}

//  Seconds a row of the log-probabilities of all rows (20 tops, then the
//  logprob of token 0); the reports out.
static double
s_logprobs (const float *logits, size_t vocab, size_t rows, double *weights, xinf_logprobs_row_t *reports)
{
    double start = s_now ();
    for (size_t row = 0; row < rows; row++) {
        reports [row].asked = XINF_LOGPROBS_TOP_MAX + 1;
        xinf_logprobs_scan (logits + row * vocab, vocab, &reports [row], weights);
        reports [row].logprob = xinf_logprobs_of (&reports [row], logits + row * vocab, 0);
    }
    return (s_now () - start) / (double) rows;
}

//  The log-probabilities as s_setting times a sampling setting. 0, or -1
//  when the two kinds of passes report differently.
static int
s_logprobs_setting (const float *logits, size_t vocab, size_t rows, double seconds)
{
    xinf_logprobs_row_t *reports [2] = { calloc (rows, sizeof (xinf_logprobs_row_t)),
                                         calloc (rows, sizeof (xinf_logprobs_row_t)) };
    double *weights = malloc (vocab * sizeof (double));
    float *copy = malloc (vocab * sizeof (float));
    double best [3] = { INFINITY, INFINITY, INFINITY }, end = s_now () + seconds;
    for (int round = 0; round < 3 || s_now () < end; round++) {
        for (int kind = 0; kind < 2; kind++) {
            xinf_cpu_simd_set (kind == 0);
            best [kind] = fmin (best [kind], s_logprobs (logits, vocab, rows, weights, reports [kind]));
        }
        best [2] = fmin (best [2], s_read (logits, vocab, rows, copy));
    }
    xinf_cpu_simd_set (true);
    int rc = memcmp (reports [0], reports [1], rows * sizeof (xinf_logprobs_row_t)) == 0 ? 0 : -1;
    printf ("  %-22s simd %8.1f us (%5.1fx a copy)   portable %8.1f us (%5.1fx a copy)   copy %6.1f us%s\n",
            "logprobs, top 20", best [0] * 1e6, best [0] / best [2], best [1] * 1e6, best [1] / best [2],
            best [2] * 1e6, rc ? "   REPORTS DIFFER" : "");
    free (reports [0]);
    free (reports [1]);
    free (weights);
    free (copy);
    return rc;
}

//  Seconds a row of copying each row and trimming the copy by min-p
//  0.05 at T 1 (the executor trims in place); the logits kept, summed.
static double
s_trim (const float *logits, size_t vocab, size_t rows, float *copy, size_t *kept)
{
    double start = s_now ();
    *kept = 0;
    for (size_t row = 0; row < rows; row++) {
        memcpy (copy, logits + row * vocab, vocab * sizeof (float));
        *kept += xinf_sampler_min_p (copy, vocab, 1, 0.05f);
    }
    return (s_now () - start) / (double) rows;
}

//  min-p's trim timed against a copy, as s_setting times a setting; then
//  the draws at T 1 of a trimmed row and of the whole row. 0, or -1 when
//  out of memory.
static int
s_min_p_setting (xinf_sampler_t *sampler, const float *logits, size_t vocab, size_t rows, double seconds)
{
    float *copy = malloc (vocab * sizeof (float));
    if (!copy)
        return -1;
    double best [2] = { INFINITY, INFINITY }, end = s_now () + seconds;
    size_t kept = 0;
    for (int round = 0; round < 3 || s_now () < end; round++) {
        best [0] = fmin (best [0], s_trim (logits, vocab, rows, copy, &kept));
        best [1] = fmin (best [1], s_read (logits, vocab, rows, copy));
    }
    xinf_sampling_t hot = { 1, 1, 0, 7, 0 };
    double draws [2] = { INFINITY, INFINITY };
    memcpy (copy, logits, vocab * sizeof (float));
    xinf_sampler_min_p (copy, vocab, 1, 0.05f);
    for (int round = 0; round < 3; round++)
        for (int trimmed = 0; trimmed < 2; trimmed++) {
            xinf_sampler_set (sampler, &hot);
            double start = s_now ();
            xinf_sampler_sample (sampler, trimmed ? copy : logits, vocab);
            draws [trimmed] = fmin (draws [trimmed], s_now () - start);
        }
    printf ("  %-22s %8.1f us a row with its copy (%5.1fx the copy alone, %6.1f us); %zu logits kept a row; "
            "a T 1 draw after it %.1f us, without %.1f us\n", "min-p 0.05 trim", best [0] * 1e6, best [0] / best [1],
            best [1] * 1e6, kept / rows, draws [1] * 1e6, draws [0] * 1e6);
    free (copy);
    return 0;
}

//  Seconds a call of the CPU backend's sample op on all rows (one step's
//  rows, spread over the pool), best of calls until 'seconds' pass;
//  tokens out. -1 when the op fails.
static double
s_step (xinf_backend_t *cpu, const float *logits, size_t vocab, size_t rows, const xinf_sampling_t *params,
        const double *uniforms, int32_t *tokens, double seconds)
{
    double best = INFINITY, end = s_now () + seconds;
    for (int call = 0; call < 3 || s_now () < end; call++) {
        double start = s_now ();
        if (cpu->ops->sample (cpu, logits, rows, vocab, params, uniforms, tokens))
            return -1;
        best = fmin (best, s_now () - start);
    }
    return best;
}

//  The CPU backend's sample op on a step's rows with 1 thread and with
//  'threads', top-p 0.95: 0, or -1 when it fails or the tokens differ.
static int
s_threads (const float *logits, size_t vocab, size_t rows, int threads, double seconds)
{
    xinf_backend_t *cpu [2] = { xinf_cpu_backend_new (1), xinf_cpu_backend_new (threads) };
    xinf_sampling_t *params = calloc (rows, sizeof (xinf_sampling_t));
    double *uniforms = calloc (rows, sizeof (double));
    int32_t *tokens [2] = { calloc (rows, sizeof (int32_t)), calloc (rows, sizeof (int32_t)) };
    int rc = cpu [0] && cpu [1] && params && uniforms && tokens [0] && tokens [1] ? 0 : -1;
    for (size_t row = 0; row < rows && rc == 0; row++) {
        params [row] = (xinf_sampling_t) { 0.8f, 0.95f, 0, 7, row };
        uniforms [row] = xinf_sampler_uniform (&params [row]);
    }
    double times [2] = { -1, -1 };
    for (int b = 0; b < 2 && rc == 0; b++) {
        times [b] = s_step (cpu [b], logits, vocab, rows, params, uniforms, tokens [b], seconds / 2);
        rc = times [b] < 0 ? -1 : 0;
    }
    rc = rc ? rc : memcmp (tokens [0], tokens [1], rows * sizeof (int32_t)) ? -1 : 0;
    if (rc == 0)
        printf ("the CPU backend's sample op, %zu rows, T 0.8, top-p 0.95: 1 thread %.2f ms, %d threads %.2f ms: "
                "%.2fx\n", rows, times [0] * 1e3, threads, times [1] * 1e3,
                times [0] / times [1]);
    else
        printf ("the CPU backend's sample op failed, or its tokens differ between thread counts\n");
    for (int b = 0; b < 2; b++) {
        xinf_backend_destroy (&cpu [b]);
        free (tokens [b]);
    }
    free (params);
    free (uniforms);
    return rc;
}

int
main (int argc, char *argv [])
{
    size_t vocab = 128256, rows = 16;
    double seconds = 1;
    int threads = (int) sysconf (_SC_NPROCESSORS_ONLN);
    for (int index = 1; index < argc; index++) {
        if (strcmp (argv [index], "--vocab") == 0 && index + 1 < argc)
            vocab = (size_t) atol (argv [++index]);
        else
        if (strcmp (argv [index], "--rows") == 0 && index + 1 < argc)
            rows = (size_t) atol (argv [++index]);
        else
        if (strcmp (argv [index], "--seconds") == 0 && index + 1 < argc)
            seconds = atof (argv [++index]);
        else
        if (strcmp (argv [index], "--threads") == 0 && index + 1 < argc)
            threads = atoi (argv [++index]);
        else {
            fprintf (stderr, "usage: xinf-bench-sampler [--vocab N] [--rows N] [--seconds S] [--threads N]\n");
            return 2;
        }
    }
    if (vocab == 0 || rows == 0 || threads < 1) {
        fprintf (stderr, "xinf-bench-sampler: --vocab, --rows and --threads must be at least 1\n");
        return 2;
    }
    static const char *names [] = { "greedy", "T 0.8, top-k 40", "T 0.8, top-p 0.95", "T 1, no filter" };
    static const xinf_sampling_t settings [] = {
        { 0, 1, 0, 7, 0 }, { 0.8f, 1, 40, 7, 0 }, { 0.8f, 0.95f, 0, 7, 0 }, { 1, 1, 0, 7, 0 }
    };
    float *logits = malloc (vocab * rows * sizeof (float));
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    if (!logits || !sampler) {
        fprintf (stderr, "xinf-bench-sampler: out of memory\n");
        return 1;
    }
    int rc = 0;
    static const double spreads [] = { 3, 8 };
    for (int s = 0; s < 2; s++) {
        uint64_t state = 20261205;
        for (size_t i = 0; i < vocab * rows; i++)
            logits [i] = s_normal (&state, spreads [s]);
        printf ("%zu rows of %zu logits, spread %g:\n", rows, vocab, spreads [s]);
        for (int k = 0; k < 4; k++)
            rc |= s_setting (sampler, logits, vocab, rows, names [k], settings [k], seconds / 8);
        rc |= s_logprobs_setting (logits, vocab, rows, seconds / 8);
        rc |= s_min_p_setting (sampler, logits, vocab, rows, seconds / 8);
    }
    rc |= s_threads (logits, vocab, rows, threads, seconds / 4);
    xinf_sampler_destroy (&sampler);
    free (logits);
    return rc ? 1 : 0;
}
