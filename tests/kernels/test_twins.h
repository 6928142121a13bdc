/*  test_twins.h: the harness of the backend twin tests (in the manner of
    ggml's test-backend-ops): the same op with the same inputs on a
    reference backend (the CPU) and on a subject backend, outputs compared
    by their normalized mean squared error

        NMSE = sum (subject - reference)^2 / sum reference^2

    against a per-op tolerance (test_backend_twins.c lists them and why).
*/
#ifndef TEST_TWINS_H_INCLUDED
#define TEST_TWINS_H_INCLUDED

#include "test_kernels.h"
#include "xinf_backend.h"
#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"
#endif

typedef struct {
    xinf_backend_t *reference, *subject;
    const char *subject_name;
    bool expect_fail;                 //  the subject is perturbed: every comparison must fail
    size_t compared, failed;          //  comparisons made, those over their tolerance
    double worst;                     //  the largest NMSE / tolerance seen
    double logits_tolerance;          //  whole steps' logits (NMSE); 0: 1e-5
} test_twins_t;

//  Compares 'count' floats of the subject with the reference's; prints a
//  line for a failure (or, perturbed, for a comparison that passed).
static inline void
test_twins_compare (test_twins_t *twins, const char *what, const float *subject, const float *reference,
                    size_t count, double tolerance)
{
    double error = 0, norm = 0;
    bool finite = true;
    for (size_t i = 0; i < count; i++) {
        double difference = (double) subject [i] - (double) reference [i];
        finite = finite && isfinite (subject [i]) == isfinite (reference [i]);
        error += difference * difference;
        norm += (double) reference [i] * reference [i];
    }
    double nmse = norm > 0 ? error / norm : error;
    bool over = !finite || !(nmse <= tolerance);
    twins->compared++;
    twins->failed += over;
    twins->worst = nmse / tolerance > twins->worst ? nmse / tolerance : twins->worst;
    if (over != twins->expect_fail)
        fprintf (stderr, "%s %s: %s: NMSE %.3g (tolerance %.3g)%s\n", over ? "FAIL" : "UNDETECTED", twins->subject_name,
                 what, nmse, tolerance, finite ? "" : ", non-finite values differ");
}

//  Backend memory holding 'count' floats of 'host' (NULL: zeros).
static inline float *
test_twins_put (xinf_backend_t *backend, const float *host, size_t count)
{
    float *memory = (float *) backend->ops->alloc (backend, (count ? count : 1) * sizeof (float));
    CHECK (memory);
    if (count && host)
        CHECK (backend->ops->write (backend, memory, host, count * sizeof (float)) == 0);
    return memory;
}

//  A fresh host copy of 'count' floats of backend memory.
static inline float *
test_twins_get (xinf_backend_t *backend, const float *memory, size_t count)
{
    float *host = (float *) malloc ((count ? count : 1) * sizeof (float));
    CHECK (host);
    CHECK (backend->ops->read (backend, host, memory, count * sizeof (float)) == 0);
    return host;
}

//  After host data the subject has seen is freed: a CUDA subject's
//  device copies are dropped, so that new data at the same address is
//  copied again.
static inline void
test_twins_forget (test_twins_t *twins)
{
#if defined (XINF_HAVE_CUDA)
    if (xinf_cuda_backend_is (twins->subject))
        xinf_cuda_backend_forget (twins->subject);
#else
    (void) twins;
#endif
}

//  A CPU backend that scales every op's output by 1.05
//  (test_twins_perturbed.c).
xinf_backend_t *test_twins_perturbed_new (void);

//  Makes the perturbed backend's status op report 'reason' (NULL: success).
void test_twins_perturbed_fail (const char *reason);

//  A CPU backend whose graph ops record op calls and replay them
//  (test_twins_graph.c); how many steps it replayed.
xinf_backend_t *test_twins_graph_new (void);
size_t test_twins_graph_replays (xinf_backend_t *self);

//  A transformer step on 'backend' whose status op reports 'reason' must
//  fail with that reason (test_twins_model.c).
void test_twins_model_fails (xinf_backend_t *backend, const char *make_model, const char *reason);

//  The whole transformer step on tiny generated models (test_twins_model.c).
void test_twins_model (test_twins_t *twins, const char *make_model);

//  The sample op against its CPU twin (test_twins_sample.c): the CPU twin
//  against the executor's sampling; the CUDA kernel's code run on the
//  host; a backend's op (the rows that differ).
void test_twins_sample_cpu (void);
void test_twins_sample_host_kernel (void);
size_t test_twins_sample_backend (xinf_backend_t *subject);

//  The fused ops against the ops they stand for (test_twins_fused.c);
//  on CUDA, the q8a handoff against the CPU (the quantizing launches it
//  saved; it fails unless each case saved one, and none past an op
//  between).
void test_twins_fused (test_twins_t *twins);
size_t test_twins_handoff (test_twins_t *twins);
//  The CUDA wide product kernel's code on the host against exact dot
//  products (test_twins_wide.c; CUDA builds only).
void test_twins_wide_host_kernel (void);

#endif
