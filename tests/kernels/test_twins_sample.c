/*  test_twins_sample: the sample op (xinf_backend.h) against its CPU twin
    (xinf_sampler_rows) on random logits of many vocabulary sizes and
    batch sizes, with greedy, temperature, top-k, top-p and both filters,
    ties, NaN and infinite logits. Greedy rows must give the same token;
    sampled rows too, given the same uniform draws (xinf_sampler_uniform
    of each row's seed and index, and the extremes 0 and 1 - 2^-53).

    Three subjects: the CPU twin against the executor's own sampling (a
    sampler set per row, xinf_sampler_set / xinf_sampler_sample), which
    shows the twin draws what the executor draws; the CUDA kernel's code
    run on the host (xinf_cuda_sample_on_host, no GPU needed), one thread
    a row and a block of 256 host threads a row that meet at barriers and
    add with atomics as the kernel's threads do; the CUDA backend's op on
    the device.
*/
#include "test_twins.h"
#include "xinf_sampler.h"
#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"
#endif

static uint64_t s_state = 20261203;

static double
s_random (void)
{
    s_state = s_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double) (s_state >> 11) * 0x1.0p-53;
}

//  The kinds of rows: spread, peaked, few distinct values (ties), with
//  NaN and -inf sprinkled, all -inf, one +inf.
enum { S_SPREAD, S_PEAKED, S_TIES, S_HOLES, S_ALL_NEGATIVE_INFINITY, S_POSITIVE_INFINITY, S_KINDS };

static void
s_logits (float *row, size_t vocab, int kind)
{
    for (size_t i = 0; i < vocab; i++) {
        double u = s_random ();
        row [i] = kind == S_TIES ? (float) (int) (u * 5) - 2.0f
                : kind == S_ALL_NEGATIVE_INFINITY ? -INFINITY : (float) (u * 16 - 8);
        if (kind == S_HOLES && u < 0.05)
            row [i] = u < 0.02 ? NAN : -INFINITY;
    }
    if (kind == S_PEAKED)
        row [(size_t) (s_random () * vocab)] = 12.0f;
    if (kind == S_POSITIVE_INFINITY)
        row [(size_t) (s_random () * vocab)] = INFINITY;
}

//  Parameters of row 'which'; top_k may name 'vocab - 1' and 'vocab + 5'.
static xinf_sampling_t
s_params (size_t which, size_t vocab, uint64_t seed)
{
    static const struct { float temperature, top_p; int top_k; } table [] = {
        { 0, 1, 0 }, { 0.7f, 1, 0 }, { 1, 1, 40 }, { 1, 0.9f, 0 }, { 0.8f, 0.95f, 50 }, { 1.5f, 1, -1 },
        { 1, 0.5f, 0 }, { 2, 0.99f, 0 }, { 1, 1, 1 }, { 0.3f, 0.8f, 3 }, { 1, 1, -2 }, { 1, 0.1f, 7 },
        { 0.05f, 0.7f, 0 }
    };
    size_t count = sizeof table / sizeof table [0];
    int top_k = table [which % count].top_k;
    uint32_t k = top_k == -1 ? (uint32_t) (vocab - 1) : top_k == -2 ? (uint32_t) (vocab + 5) : (uint32_t) top_k;
    return (xinf_sampling_t) { table [which % count].temperature, table [which % count].top_p, k, seed, which };
}

#define S_PARAMS 13

//  Rows of one case: logits, parameters, draws.
typedef struct {
    size_t n_rows, vocab;
    float *logits;
    xinf_sampling_t *params;
    double *uniforms;
    int32_t *expected;
} s_case_t;

static void
s_case_new (s_case_t *c, size_t n_rows, size_t vocab, size_t first)
{
    c->n_rows = n_rows;
    c->vocab = vocab;
    c->logits = malloc (n_rows * vocab * sizeof (float));
    c->params = malloc (n_rows * sizeof (xinf_sampling_t));
    c->uniforms = malloc (n_rows * sizeof (double));
    c->expected = malloc (n_rows * sizeof (int32_t));
    CHECK (c->logits && c->params && c->uniforms && c->expected);
    for (size_t row = 0; row < n_rows; row++) {
        s_logits (c->logits + row * vocab, vocab, (int) ((first + row) % S_KINDS));
        c->params [row] = s_params (first + row, vocab, s_state);
        //  Mostly the executor's draws; now and then the extremes
        size_t pick = (first + row) % 11;
        c->uniforms [row] = pick == 9 ? 0 : pick == 10 ? 1 - 0x1.0p-53 : xinf_sampler_uniform (&c->params [row]);
    }
    CHECK (xinf_sampler_rows (c->logits, n_rows, vocab, c->params, c->uniforms, c->expected) == 0);
}

static void
s_case_destroy (s_case_t *c)
{
    free (c->logits);
    free (c->params);
    free (c->uniforms);
    free (c->expected);
}

//  Counts and prints the rows where 'tokens' differ from the twin's.
static size_t
s_differences (const s_case_t *c, const int32_t *tokens, const char *subject)
{
    size_t different = 0;
    for (size_t row = 0; row < c->n_rows; row++)
        if (tokens [row] != c->expected [row]) {
            const xinf_sampling_t *p = &c->params [row];
            fprintf (stderr, "FAIL %s: vocab %zu row %zu (kind %zu) temperature %g top_p %g top_k %u uniform %.17g: "
                     "token %d, the CPU twin %d\n", subject, c->vocab, row, (size_t) (p->index % S_KINDS),
                     p->temperature, p->top_p, p->top_k, c->uniforms [row], tokens [row], c->expected [row]);
            different++;
        }
    return different;
}

//  The CPU twin against a sampler set per row, as the executor samples.
static void
s_twin_is_the_executors (const s_case_t *c)
{
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    CHECK (sampler);
    for (size_t row = 0; row < c->n_rows; row++) {
        CHECK (xinf_sampler_set (sampler, &c->params [row]) == 0);
        int32_t token = xinf_sampler_sample (sampler, c->logits + row * c->vocab, c->vocab);
        if (c->uniforms [row] == xinf_sampler_uniform (&c->params [row]))
            CHECK_INT (token, c->expected [row]);
    }
    xinf_sampler_destroy (&sampler);
}

static const size_t s_vocabs [] = { 1, 2, 3, 7, 64, 255, 256, 257, 1000, 4097, 32000, 151936 };
static const size_t s_batches [] = { 1, 3, 16 };

void
test_twins_sample_cpu (void)
{
    size_t rows = 0;
    for (size_t v = 0; v < sizeof s_vocabs / sizeof s_vocabs [0]; v++)
        for (size_t b = 0; b < sizeof s_batches / sizeof s_batches [0]; b++) {
            s_case_t c;
            s_case_new (&c, s_batches [b], s_vocabs [v], rows);
            s_twin_is_the_executors (&c);
            rows += c.n_rows;
            s_case_destroy (&c);
        }
    //  Bad parameters and draws are refused
    float logits [4] = { 0, 1, 2, 3 };
    xinf_sampling_t bad = { -1, 1, 0, 1, 0 };
    double uniform = 0.5, outside = 1.0;
    int32_t token;
    CHECK (xinf_sampler_rows (logits, 1, 4, &bad, &uniform, &token) == -1);
    xinf_sampling_t good = { 1, 1, 0, 1, 0 };
    CHECK (xinf_sampler_rows (logits, 1, 4, &good, &outside, &token) == -1);
    printf ("sample twin: the CPU twin draws the executor's tokens on %zu rows\n", rows);
}

#if defined (XINF_HAVE_CUDA)
//  The kernel's own code on the host; vocabularies above 32000 only in
//  the first batch size (one thread a row is slow there).
void
test_twins_sample_host_kernel (void)
{
    size_t rows = 0, different = 0;
    for (size_t v = 0; v < sizeof s_vocabs / sizeof s_vocabs [0]; v++)
        for (size_t b = 0; b < sizeof s_batches / sizeof s_batches [0]; b++) {
            size_t n_rows = s_vocabs [v] > 32000 ? S_PARAMS : s_batches [b] * S_PARAMS;
            if (s_vocabs [v] > 32000 && b > 0)
                continue;
            s_case_t c;
            s_case_new (&c, n_rows, s_vocabs [v], rows);
            int32_t *tokens = malloc (n_rows * sizeof (int32_t));
            CHECK (tokens);
            CHECK (xinf_cuda_sample_on_host (c.logits, n_rows, c.vocab, c.params, c.uniforms, tokens) == 0);
            different += s_differences (&c, tokens, "cuda kernel code on the host");
            rows += n_rows;
            free (tokens);
            s_case_destroy (&c);
        }
    printf ("sample twin: the CUDA kernel's code on the host gives the CPU twin's tokens on %zu of %zu rows\n",
            rows - different, rows);
    CHECK (different == 0);
    //  The same code as a block of 256 host threads: the block's barriers,
    //  atomics and per-warp histograms at work, on fewer rows (slow)
    static const size_t threaded_vocabs [] = { 3, 257, 4097, 32000 };
    rows = different = 0;
    for (size_t v = 0; v < sizeof threaded_vocabs / sizeof threaded_vocabs [0]; v++) {
        s_case_t c;
        s_case_new (&c, 2 * S_PARAMS, threaded_vocabs [v], rows);
        int32_t *tokens = malloc (c.n_rows * sizeof (int32_t));
        CHECK (tokens);
        CHECK (xinf_cuda_sample_on_host_threads (c.logits, c.n_rows, c.vocab, c.params, c.uniforms, tokens, 256) == 0);
        different += s_differences (&c, tokens, "cuda kernel code on 256 host threads");
        rows += c.n_rows;
        free (tokens);
        s_case_destroy (&c);
    }
    printf ("sample twin: the CUDA kernel's code on 256 host threads a row gives the CPU twin's tokens on %zu of %zu "
            "rows\n", rows - different, rows);
    CHECK (different == 0);
    float logits [2] = { 0, 1 };
    xinf_sampling_t bad = { 1, 0, 0, 1, 0 };
    double uniform = 0.5;
    int32_t token;
    CHECK (xinf_cuda_sample_on_host (logits, 1, 2, &bad, &uniform, &token) == -1);
}
#endif

//  The subject's sample op on logits in its memory against the CPU twin:
//  the number of rows that differ.
size_t
test_twins_sample_backend (xinf_backend_t *subject)
{
    size_t rows = 0, different = 0;
    for (int repeat = 0; repeat < 3; repeat++)
        for (size_t v = 0; v < sizeof s_vocabs / sizeof s_vocabs [0]; v++)
            for (size_t b = 0; b < sizeof s_batches / sizeof s_batches [0]; b++) {
                size_t n_rows = s_batches [b] * (repeat + 1);
                s_case_t c;
                s_case_new (&c, n_rows, s_vocabs [v], rows);
                float *logits = test_twins_put (subject, c.logits, n_rows * c.vocab);
                int32_t *tokens = calloc (n_rows, sizeof (int32_t));
                CHECK (tokens);
                CHECK (subject->ops->sample (subject, logits, n_rows, c.vocab, c.params, c.uniforms, tokens) == 0);
                different += s_differences (&c, tokens, subject->ops->name);
                rows += n_rows;
                free (tokens);
                subject->ops->free (subject, logits);
                s_case_destroy (&c);
            }
    //  Bad parameters are refused, and the backend stays usable
    float *logits = test_twins_put (subject, NULL, 4);
    xinf_sampling_t bad = { 1, 2, 0, 1, 0 };
    double uniform = 0.5;
    int32_t token;
    CHECK (subject->ops->sample (subject, logits, 1, 4, &bad, &uniform, &token) == -1);
    CHECK (subject->ops->status (subject, NULL, 0) == 0);
    subject->ops->free (subject, logits);
    printf ("sample twin: %s gives the CPU twin's tokens on %zu of %zu rows\n", subject->ops->name, rows - different,
            rows);
    return different;
}
