/*  xinf_sampler: greedy, temperature, top-k and top-p sampling with a
    deterministic PRNG and a deterministic exp.  */
#include "xinf_sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

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
    size_t capacity;
};

//  Keeps candidates with weight at least this when only top_p filters, and
//  falls back to all when their mass falls short of top_p.
#define NUCLEUS_FLOOR 1e-4

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

//  e^x for x <= 0 with basic IEEE operations only (no libm variance):
//  x = k ln2 + r, |r| <= ln2/2, e^r by Taylor to r^12 (error < 1e-15).
static double
s_exp (double x)
{
    if (!(x > -745.0))
        return 0;
    double k = floor (x * 1.4426950408889634 + 0.5);
    double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double sum = 1;
    for (int n = 12; n >= 1; n--)
        sum = 1 + sum * r / n;
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

void
xinf_sampler_destroy (xinf_sampler_t **self_p)
{
    if (self_p && *self_p) {
        xinf_sampler_t *self = *self_p;
        free (self->candidates);
        free (self);
        *self_p = NULL;
    }
}

static int32_t
s_argmax (const float *logits, size_t vocab)
{
    size_t best = 0;
    for (size_t i = 1; i < vocab; i++)
        if (s_logit (logits, i) > s_logit (logits, best))
            best = i;
    return (int32_t) best;
}

//  a ranks before b: higher logit, then lower index.
static bool
s_before (const s_candidate_t *a, const s_candidate_t *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->index < b->index);
}

static int
s_compare (const void *a, const void *b)
{
    return s_before (a, b) ? -1 : s_before (b, a) ? 1 : 0;
}

//  Min-heap on rank (the worst kept candidate at the root).
static void
s_sift_down (s_candidate_t *heap, size_t size, size_t at)
{
    for (;;) {
        size_t worst = at, left = 2 * at + 1, right = left + 1;
        if (left < size && s_before (&heap [worst], &heap [left]))
            worst = left;
        if (right < size && s_before (&heap [worst], &heap [right]))
            worst = right;
        if (worst == at)
            return;
        s_candidate_t swap = heap [at];
        heap [at] = heap [worst];
        heap [worst] = swap;
        at = worst;
    }
}

//  The top_k best logits into self->candidates, ranked; returns the count.
static size_t
s_top_k (xinf_sampler_t *self, const float *logits, size_t vocab)
{
    s_candidate_t *heap = self->candidates;
    size_t size = 0;
    for (size_t i = 0; i < vocab; i++) {
        s_candidate_t candidate = { s_logit (logits, i), (int32_t) i, 0 };
        if (size < self->top_k) {
            heap [size++] = candidate;
            for (size_t at = size - 1; at > 0 && s_before (&heap [(at - 1) / 2], &heap [at]); at = (at - 1) / 2) {
                s_candidate_t swap = heap [at];
                heap [at] = heap [(at - 1) / 2];
                heap [(at - 1) / 2] = swap;
            }
        }
        else
        if (s_before (&candidate, &heap [0])) {
            heap [0] = candidate;
            s_sift_down (heap, size, 0);
        }
    }
    qsort (heap, size, sizeof *heap, s_compare);
    return size;
}

//  Candidates whose weight is at least 'floor', ranked; *total = the mass
//  of the whole vocabulary.
static size_t
s_above (xinf_sampler_t *self, const float *logits, size_t vocab, float top, double floor, double *total)
{
    size_t count = 0;
    double sum = 0;
    for (size_t i = 0; i < vocab; i++) {
        float logit = s_logit (logits, i);
        double weight = s_exp (((double) logit - top) / self->temperature);
        sum += weight;
        if (weight >= floor && weight > 0)
            self->candidates [count++] = (s_candidate_t) { logit, (int32_t) i, weight };
    }
    qsort (self->candidates, count, sizeof *self->candidates, s_compare);
    *total = sum;
    return count;
}

//  Draws from the ranked candidates cut to top_p of 'total'; -1 when the
//  candidates hold less than top_p of the mass.
static int32_t
s_draw_nucleus (xinf_sampler_t *self, size_t count, double total)
{
    double target = self->top_p * total, kept = 0;
    size_t cut = 0;
    while (cut < count && (cut == 0 || kept < target))
        kept += self->candidates [cut++].weight;
    if (kept < target && self->top_p < 1)
        return -1;
    double point = s_uniform (self) * kept, sum = 0;
    for (size_t i = 0; i < cut; i++) {
        sum += self->candidates [i].weight;
        if (point < sum)
            return self->candidates [i].index;
    }
    return self->candidates [cut - 1].index;
}

//  No filter: one pass in index order.
static int32_t
s_draw_all (xinf_sampler_t *self, const float *logits, size_t vocab, float top)
{
    double total = 0;
    for (size_t i = 0; i < vocab; i++)
        total += s_exp (((double) s_logit (logits, i) - top) / self->temperature);
    double point = s_uniform (self) * total, sum = 0;
    size_t last = 0;
    for (size_t i = 0; i < vocab; i++) {
        double weight = s_exp (((double) s_logit (logits, i) - top) / self->temperature);
        if (weight > 0)
            last = i;
        sum += weight;
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
    if (!grown)
        return false;
    self->candidates = grown;
    self->capacity = vocab;
    return true;
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
        return s_draw_nucleus (self, count, total);
    }
    if (self->top_p >= 1)
        return s_draw_all (self, logits, vocab, top);
    double total;
    size_t count = s_above (self, logits, vocab, top, NUCLEUS_FLOOR, &total);
    int32_t token = s_draw_nucleus (self, count, total);
    if (token < 0) {
        count = s_above (self, logits, vocab, top, 0, &total);
        token = s_draw_nucleus (self, count, total);
    }
    return token;
}
