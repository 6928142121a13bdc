/*  xinf_sampler: greedy, temperature, top-k and top-p sampling with a
    deterministic PRNG and a deterministic exp.  */
#include "xinf_sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float logit;
    int32_t index;
    double weight;                   //  exp ((logit - max) / temperature)
} s_candidate_t;

struct _xinf_sampler_t {
    double temperature;
    size_t top_k;                    //  0 = off
    double top_p;
    uint64_t state [4];
    s_candidate_t *candidates;
    double *weights;                 //  of the whole vocabulary (top_p only)
    size_t capacity;
    double given;                    //  the draw to use instead of the PRNG's (xinf_sampler_draw)
    bool has_given;
};

//  When only top_p filters, candidates are the tokens with weight at least
//  a floor (the top token weighs 1); the floor goes down this list until
//  the candidates hold top_p of the mass, so only those are sorted.
static const double s_floors [] = { 0.5, 0.1, 1e-2, 1e-4, 1e-7, 0 };

static uint64_t
s_splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
s_next (xinf_sampler_t *self)
{
    uint64_t *s = self->state;
    uint64_t result = s_rotl (s [1] * 5, 7) * 9;
    uint64_t t = s [1] << 17;
    s [2] ^= s [0];
    s [3] ^= s [1];
    s [1] ^= s [2];
    s [0] ^= s [3];
    s [2] ^= t;
    s [3] = s_rotl (s [3], 45);
    return result;
}

//  Uniform in [0, 1) with 53 random bits.
static double
s_uniform (xinf_sampler_t *self)
{
    return (double) (s_next (self) >> 11) * 0x1.0p-53;
}

//  The state xinf_sampler_set seeds for (seed, index).
static void
s_seed (uint64_t state [4], const xinf_sampling_t *params)
{
    //  The index spreads by an odd constant so that neighbouring draws of
    //  one seed start far apart in splitmix64's sequence
    uint64_t seed = params->seed ^ (params->index * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++)
        state [i] = s_splitmix64 (&seed);
}

//  The draw of a sample: the given one (xinf_sampler_draw), else the
//  PRNG's next.
static double
s_take_uniform (xinf_sampler_t *self)
{
    if (self->has_given) {
        self->has_given = false;
        return self->given;
    }
    return s_uniform (self);
}

//  e^x for x <= 0 with basic IEEE operations only (no libm variance):
//  x = k ln2 + r, |r| <= ln2/2, e^r by Taylor to r^12 (error < 1e-15).
static double
s_exp (double x)
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

static float
s_logit (const float *logits, size_t index)
{
    return isnan (logits [index]) ? -INFINITY : logits [index];
}

xinf_sampler_t *
xinf_sampler_new (float temperature, int top_k, float top_p, uint64_t seed)
{
    if (!(temperature >= 0) || isinf (temperature) || top_k < 0 || !(top_p > 0 && top_p <= 1))
        return NULL;
    xinf_sampler_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->temperature = temperature;
    self->top_k = (size_t) top_k;
    self->top_p = top_p;
    for (int i = 0; i < 4; i++)
        self->state [i] = s_splitmix64 (&seed);
    return self;
}

int
xinf_sampler_set (xinf_sampler_t *self, const xinf_sampling_t *params)
{
    float temperature = params->temperature, top_p = params->top_p;
    if (!(temperature >= 0) || isinf (temperature) || !(top_p > 0 && top_p <= 1) || params->top_k > INT32_MAX)
        return -1;
    self->temperature = temperature;
    self->top_k = params->top_k;
    self->top_p = top_p;
    s_seed (self->state, params);
    return 0;
}

void
xinf_sampler_destroy (xinf_sampler_t **self_p)
{
    if (self_p && *self_p) {
        xinf_sampler_t *self = *self_p;
        free (self->candidates);
        free (self->weights);
        free (self);
        *self_p = NULL;
    }
}

//  The first index of the largest logit, a NaN counting as -inf (a NaN
//  compares false, so it is never taken): one compare a logit.
static int32_t
s_argmax (const float *logits, size_t vocab)
{
    size_t best = 0;
    float top = s_logit (logits, 0);
    for (size_t i = 1; i < vocab; i++)
        if (logits [i] > top) {
            top = logits [i];
            best = i;
        }
    return (int32_t) best;
}

//  a ranks before b: higher logit, then lower index.
static bool
s_before (const s_candidate_t *a, const s_candidate_t *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->index < b->index);
}

//  Restores a heap below 'at': the best candidate at the root when
//  best_root, the worst otherwise.
static void
s_sift_down (s_candidate_t *heap, size_t size, size_t at, bool best_root)
{
    for (;;) {
        size_t pick = at, left = 2 * at + 1, right = left + 1;
        if (left < size && (best_root ? s_before (&heap [left], &heap [pick]) : s_before (&heap [pick], &heap [left])))
            pick = left;
        if (right < size && (best_root ? s_before (&heap [right], &heap [pick]) : s_before (&heap [pick], &heap [right])))
            pick = right;
        if (pick == at)
            return;
        s_candidate_t swap = heap [at];
        heap [at] = heap [pick];
        heap [pick] = swap;
        at = pick;
    }
}

//  The top_k best logits into self->candidates, in no order; returns the
//  count. A heap with the worst kept candidate at the root.
static size_t
s_top_k (xinf_sampler_t *self, const float *logits, size_t vocab)
{
    s_candidate_t *heap = self->candidates;
    size_t size = self->top_k;
    for (size_t i = 0; i < size; i++)
        heap [i] = (s_candidate_t) { s_logit (logits, i), (int32_t) i, 0 };
    for (size_t at = size / 2; at-- > 0;)
        s_sift_down (heap, size, at, false);
    for (size_t i = size; i < vocab; i++) {
        s_candidate_t candidate = { s_logit (logits, i), (int32_t) i, 0 };
        if (s_before (&candidate, &heap [0])) {
            heap [0] = candidate;
            s_sift_down (heap, size, 0, false);
        }
    }
    return size;
}

//  Weights of the whole vocabulary into self->weights; returns their sum.
static double
s_weigh_all (xinf_sampler_t *self, const float *logits, size_t vocab, float top)
{
    double sum = 0;
    for (size_t i = 0; i < vocab; i++)
        sum += self->weights [i] = s_exp (((double) s_logit (logits, i) - top) / self->temperature);
    return sum;
}

//  Candidates whose weight is at least 'floor' (and not 0), in no order.
static size_t
s_above (xinf_sampler_t *self, const float *logits, size_t vocab, double floor)
{
    size_t count = 0;
    for (size_t i = 0; i < vocab; i++)
        if (self->weights [i] >= floor && self->weights [i] > 0)
            self->candidates [count++] = (s_candidate_t) { s_logit (logits, i), (int32_t) i, self->weights [i] };
    return count;
}

//  Ranks the candidates only as far as needed: heapifies them (best at the
//  root) and pops the best into the end of the array until the popped hold
//  top_p of 'total'; then draws among the popped. -1 when all candidates
//  hold less than top_p of the mass and are not 'complete' (all of it).
static int32_t
s_draw_nucleus (xinf_sampler_t *self, size_t count, double total, bool complete)
{
    s_candidate_t *heap = self->candidates;
    for (size_t at = count / 2; at-- > 0;)
        s_sift_down (heap, count, at, true);
    double target = self->top_p * total, kept = 0;
    size_t size = count;
    while (size > 0 && (size == count || kept < target)) {
        s_candidate_t best = heap [0];
        heap [0] = heap [--size];
        heap [size] = best;
        s_sift_down (heap, size, 0, true);
        kept += best.weight;
    }
    if (kept < target && !complete)
        return -1;
    double point = s_take_uniform (self) * kept, sum = 0;
    for (size_t i = count; i-- > size;) {
        sum += heap [i].weight;
        if (point < sum)
            return heap [i].index;
    }
    return heap [size].index;
}

//  No filter: one pass in index order.
static int32_t
s_draw_all (xinf_sampler_t *self, const float *logits, size_t vocab, float top)
{
    double total = s_weigh_all (self, logits, vocab, top);
    double point = s_take_uniform (self) * total, sum = 0;
    size_t last = 0;
    for (size_t i = 0; i < vocab; i++) {
        if (self->weights [i] > 0)
            last = i;
        sum += self->weights [i];
        if (point < sum)
            return (int32_t) i;
    }
    return (int32_t) last;
}

static bool
s_reserve (xinf_sampler_t *self, size_t vocab)
{
    if (self->capacity >= vocab)
        return true;
    s_candidate_t *grown = realloc (self->candidates, vocab * sizeof *grown);
    if (grown)
        self->candidates = grown;
    double *weights = realloc (self->weights, vocab * sizeof *weights);
    if (weights)
        self->weights = weights;
    if (!grown || !weights)
        return false;
    self->capacity = vocab;
    return true;
}

double
xinf_sampler_uniform (const xinf_sampling_t *params)
{
    xinf_sampler_t sampler;
    memset (&sampler, 0, sizeof sampler);
    s_seed (sampler.state, params);
    return s_uniform (&sampler);
}

int32_t
xinf_sampler_draw (xinf_sampler_t *self, const float *logits, size_t vocab, double uniform)
{
    self->given = uniform;
    self->has_given = true;
    int32_t token = xinf_sampler_sample (self, logits, vocab);
    self->has_given = false;
    return token;
}

int
xinf_sampler_rows (const float *logits, size_t n_rows, size_t vocab, const xinf_sampling_t *params,
                   const double *uniforms, int32_t *tokens)
{
    xinf_sampler_t *sampler = xinf_sampler_new (0, 0, 1, 0);
    if (!sampler)
        return -1;
    int rc = 0;
    for (size_t row = 0; row < n_rows && rc == 0; row++) {
        rc = xinf_sampler_set (sampler, &params [row]);
        if (rc == 0 && !(uniforms [row] >= 0 && uniforms [row] < 1))
            rc = -1;
        if (rc == 0)
            tokens [row] = xinf_sampler_draw (sampler, logits + row * vocab, vocab, uniforms [row]);
    }
    xinf_sampler_destroy (&sampler);
    return rc;
}

int32_t
xinf_sampler_sample (xinf_sampler_t *self, const float *logits, size_t vocab)
{
    if (vocab == 0)
        return -1;
    int32_t best = s_argmax (logits, vocab);
    float top = s_logit (logits, (size_t) best);
    if (self->temperature == 0 || isinf (top) || self->top_k == 1 || !s_reserve (self, vocab))
        return best;
    if (self->top_k && self->top_k < vocab) {
        size_t count = s_top_k (self, logits, vocab);
        double total = 0;
        for (size_t i = 0; i < count; i++)
            total += self->candidates [i].weight =
                s_exp (((double) self->candidates [i].logit - top) / self->temperature);
        return s_draw_nucleus (self, count, total, true);
    }
    if (self->top_p >= 1)
        return s_draw_all (self, logits, vocab, top);
    double total = s_weigh_all (self, logits, vocab, top);
    int32_t token = -1;
    for (size_t f = 0; token < 0; f++) {
        size_t count = s_above (self, logits, vocab, s_floors [f]);
        token = s_draw_nucleus (self, count, total, s_floors [f] == 0);
    }
    return token;
}
