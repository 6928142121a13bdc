/*  xinf_bench_sample: a backend's sample op against the CPU's on one
    thread, on the same logits (xinf_bench_sample.h).
*/
#include "xinf_bench_sample.h"
#include "xinf_cpu_backend.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

//  A logit: a normal draw of spread 3 (Box-Muller over a fixed LCG), as a
//  model's logits spread over a few powers of two around zero.
static float
s_logit (uint64_t *state)
{
    double u [2];
    for (int i = 0; i < 2; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        u [i] = ((double) (*state >> 11) + 0.5) / 9007199254740992.0;
    }
    return (float) (3.0 * sqrt (-2.0 * log (u [0])) * cos (6.283185307179586 * u [1]));
}

//  Seconds a call of 'backend's sample op on 'logits' (its memory), best
//  spread over 'calls' calls after one that warms it up; tokens out. -1
//  when a call fails.
static double
s_time_op (xinf_backend_t *backend, const float *logits, size_t vocab, size_t rows, size_t calls,
           const xinf_sampling_t *params, const double *uniforms, int32_t *tokens)
{
    if (backend->ops->sample (backend, logits, rows, vocab, params, uniforms, tokens))
        return -1;
    int64_t start = zclock_usecs ();
    for (size_t call = 0; call < calls; call++)
        if (backend->ops->sample (backend, logits, rows, vocab, params, uniforms, tokens))
            return -1;
    return (double) (zclock_usecs () - start) / 1e6 / (double) calls;
}

//  Seconds a call of the sample op and of the CPU's on one thread (the CPU
//  sampler, one kept for all rows as the executor keeps them), and the
//  rows whose tokens differ, for one setting of all rows.
static int
s_time (xinf_backend_t *backend, xinf_backend_t *cpu, const float *device, const float *host, size_t vocab,
        size_t rows, size_t calls, const xinf_sampling_t *params, double seconds [2], size_t *differ)
{
    double *uniforms = calloc (rows, sizeof (double));
    int32_t *tokens [2] = { calloc (rows, sizeof (int32_t)), calloc (rows, sizeof (int32_t)) };
    int rc = uniforms && tokens [0] && tokens [1] ? 0 : -1;
    for (size_t row = 0; row < rows && rc == 0; row++)
        uniforms [row] = xinf_sampler_uniform (&params [row]);
    if (rc == 0) {
        seconds [0] = s_time_op (backend, device, vocab, rows, calls, params, uniforms, tokens [0]);
        seconds [1] = s_time_op (cpu, host, vocab, rows, calls, params, uniforms, tokens [1]);
        rc = seconds [0] < 0 || seconds [1] < 0 ? -1 : 0;
    }
    *differ = 0;
    for (size_t row = 0; row < rows && rc == 0; row++)
        *differ += tokens [0][row] != tokens [1][row];
    free (uniforms);
    free (tokens [0]);
    free (tokens [1]);
    return rc;
}

int
xinf_bench_sample (xinf_backend_t *backend, size_t vocab, size_t rows, size_t calls, FILE *out, char *error,
                   size_t error_size)
{
    static const char *names [] = { "greedy", "T 0.8, top-p 0.95", "T 0.8, top-k 40" };
    static const xinf_sampling_t settings [] = { { 0, 1, 0, 7, 0 }, { 0.8f, 0.95f, 0, 7, 0 }, { 0.8f, 1, 40, 7, 0 } };
    if (!backend->ops->sample) {
        snprintf (error, error_size, "backend %s has no sample op", backend->ops->name);
        return -1;
    }
    float *host = malloc (rows * vocab * sizeof (float));
    xinf_sampling_t *params = calloc (rows, sizeof (xinf_sampling_t));
    xinf_backend_t *cpu = xinf_cpu_backend_new (1);
    float *device = host && params && cpu ? backend->ops->alloc (backend, rows * vocab * sizeof (float)) : NULL;
    uint64_t state = 20261205;
    for (size_t i = 0; device && i < rows * vocab; i++)
        host [i] = s_logit (&state);
    int rc = device ? 0 : -1;
    if (rc)
        snprintf (error, error_size, "out of memory for %zu rows of %zu logits", rows, vocab);
    else
    if (backend->ops->write (backend, device, host, rows * vocab * sizeof (float)))
        rc = -1, snprintf (error, error_size, "the logits could not be copied to the backend");
    for (size_t s = 0; s < 3 && rc == 0; s++) {
        double seconds [2];
        size_t differ;
        for (size_t row = 0; row < rows; row++) {
            params [row] = settings [s];
            params [row].index = row;
        }
        rc = s_time (backend, cpu, device, host, vocab, rows, calls, params, seconds, &differ);
        char reason [256] = "";
        if (rc && backend->ops->status)
            backend->ops->status (backend, reason, sizeof reason);
        if (rc)
            snprintf (error, error_size, "the sample op failed (%s)%s%s", names [s], reason [0] ? ": " : "", reason);
        else
            fprintf (out, "sampling %zu rows of %zu logits, %s: %s %8.1f us a call, cpu %8.1f us: %.2fx; "
                     "%zu rows differ\n", rows, vocab, names [s], backend->ops->name, seconds [0] * 1e6,
                     seconds [1] * 1e6, seconds [1] / seconds [0], differ);
    }
    if (device)
        backend->ops->free (backend, device);
    xinf_backend_destroy (&cpu);
    free (host);
    free (params);
    return rc;
}
