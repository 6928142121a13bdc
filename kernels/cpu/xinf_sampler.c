/*  xinf_sampler: greedy, temperature, top-k and top-p sampling with a
    deterministic PRNG and a deterministic exp (xinf_sampler_row).  */
#include "xinf_sampler.h"
#include "xinf_sampler_row.h"

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
    s_candidate_t *spare;            //  the radix sort's other half (top_p only)
    double *weights;                 //  of the whole vocabulary (no top_k)
    size_t capacity, spare_capacity;
    double given;                    //  the draw to use instead of the PRNG's (xinf_sampler_draw)
    bool has_given;
};

//  When only top_p filters, candidates are the tokens with weight at least
//  a floor 2^-b (the top token weighs 1), so that only those are sorted.
//  The floor is chosen from the weights' masses by binary exponent: bin b
//  holds the weights in [2^-b, 2^(1-b)), the last bin all below 2^-62
//  and the zeros.
#define S_BINS 64

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
        free (self->spare);
        free (self->weights);
        free (self);
        *self_p = NULL;
    }
}

//  a ranks before b: higher logit, then lower index.
static bool
s_before (const s_candidate_t *a, const s_candidate_t *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->index < b->index);
}

//  Restores a heap, the worst candidate at the root, below 'at'.
static void
s_sift_down (s_candidate_t *heap, size_t size, size_t at)
{
    for (;;) {
        size_t pick = at, left = 2 * at + 1, right = left + 1;
        if (left < size && s_before (&heap [pick], &heap [left]))
            pick = left;
        if (right < size && s_before (&heap [pick], &heap [right]))
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
        s_sift_down (heap, size, at);
    //  A later logit ranks before the worst kept only when it is greater
    size_t i = size;
    while ((i = xinf_sampler_next_above (logits, i, vocab, heap [0].logit)) < vocab) {
        heap [0] = (s_candidate_t) { logits [i], (int32_t) i, 0 };
        s_sift_down (heap, size, 0);
        i++;
    }
    return size;
}

//  Weights of the whole vocabulary into self->weights; returns their sum.
static double
s_weigh_all (xinf_sampler_t *self, const float *logits, size_t vocab, float top)
{
    return xinf_sampler_weigh (logits, vocab, top, self->temperature, self->weights);
}

//  The first bin b at which the bins 0 .. b hold 'target' of the mass
//  (summed in no particular order: a first guess, which the nucleus
//  confirms with its own sums); the last bin when none does. Four sets
//  of bins, taking turns, keep the adds of a run of weights in one bin
//  from waiting on each other.
static int
s_floor_bin (const double *weights, size_t vocab, double target)
{
    double mass [4][S_BINS];
    memset (mass, 0, sizeof mass);
    for (size_t i = 0; i < vocab; i++) {
        uint64_t bits;
        memcpy (&bits, &weights [i], sizeof bits);
        int bin = 1023 - (int) (bits >> 52);             //  weights are >= 0
        bin = bin < 0 ? 0 : bin > S_BINS - 1 ? S_BINS - 1 : bin;
        mass [i % 4][bin] += weights [i];
    }
    double held = 0;
    for (int bin = 0; bin < S_BINS - 1; bin++) {
        held += (mass [0][bin] + mass [1][bin]) + (mass [2][bin] + mass [3][bin]);
        if (held >= target)
            return bin;
    }
    return S_BINS - 1;
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

//  Sorts a heap of the top_k candidates (the worst at the root) into
//  rank order, the best first: pops the worst to the end, in turn.
static void
s_rank_heap (s_candidate_t *heap, size_t count)
{
    for (size_t size = count; size > 1;) {
        s_candidate_t worst = heap [0];
        heap [0] = heap [--size];
        heap [size] = worst;
        s_sift_down (heap, size, 0);
    }
}

//  A logit's sort key: ascending keys are descending logits, -0 as +0.
static uint32_t
s_rank_key (float logit)
{
    uint32_t bits;
    logit = logit == 0 ? 0 : logit;
    memcpy (&bits, &logit, sizeof bits);
    uint32_t ascending = (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
    return ~ascending;
}

//  Sorts candidates that are in index order into rank order (higher
//  logit first, then lower index): a stable radix sort of their keys, a
//  byte a pass from the lowest, through 'spare' (as many places); a pass
//  whose byte all keys share is left out. Returns where the sorted are.
static s_candidate_t *
s_rank_radix (s_candidate_t *from, s_candidate_t *spare, size_t count)
{
    size_t counts [4][256];
    memset (counts, 0, sizeof counts);
    for (size_t i = 0; i < count; i++) {
        uint32_t key = s_rank_key (from [i].logit);
        for (int pass = 0; pass < 4; pass++)
            counts [pass][(key >> (8 * pass)) & 0xff]++;
    }
    for (int pass = 0; pass < 4; pass++) {
        uint32_t shift = 8 * (uint32_t) pass;
        if (count == 0 || counts [pass][(s_rank_key (from [0].logit) >> shift) & 0xff] == count)
            continue;
        size_t offsets [256], at = 0;
        for (int byte = 0; byte < 256; byte++) {
            offsets [byte] = at;
            at += counts [pass][byte];
        }
        for (size_t i = 0; i < count; i++)
            spare [offsets [(s_rank_key (from [i].logit) >> shift) & 0xff]++] = from [i];
        s_candidate_t *swap = from;
        from = spare;
        spare = swap;
    }
    return from;
}

//  Keeps the fewest of the ranked candidates (at least one) that hold
//  top_p of 'total' and draws among them. -1 when all of them hold less
//  and are not 'complete' (all of the mass).
static int32_t
s_draw_ranked (xinf_sampler_t *self, const s_candidate_t *ranked, size_t count, double total, bool complete)
{
    if (count == 0)
        return -1;
    double target = self->top_p * total, kept = 0;      //  > 0: the top weighs 1
    size_t size = 0;
    while (size < count && kept < target)
        kept += ranked [size++].weight;
    if (kept < target && !complete)
        return -1;
    double point = s_take_uniform (self) * kept, sum = 0;
    for (size_t i = 0; i < size; i++) {
        sum += ranked [i].weight;
        if (point < sum)
            return ranked [i].index;
    }
    return ranked [size - 1].index;
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
    s_candidate_t *candidates = realloc (self->candidates, vocab * sizeof *candidates);
    if (candidates)
        self->candidates = candidates;
    double *weights = realloc (self->weights, vocab * sizeof *weights);
    if (weights)
        self->weights = weights;
    if (!candidates || !weights)
        return false;
    self->capacity = vocab;
    return true;
}

//  The spare half of the radix sort, grown to 'count'; false when out of
//  memory.
static bool
s_reserve_spare (xinf_sampler_t *self, size_t count)
{
    if (self->spare_capacity >= count)
        return true;
    s_candidate_t *spare = realloc (self->spare, count * sizeof *spare);
    if (!spare)
        return false;
    self->spare = spare;
    self->spare_capacity = count;
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
    int32_t best = (int32_t) xinf_sampler_argmax (logits, vocab);
    float top = s_logit (logits, (size_t) best);
    if (self->temperature == 0 || isinf (top) || self->top_k == 1 || !s_reserve (self, vocab))
        return best;
    if (self->top_k && self->top_k < vocab) {
        size_t count = s_top_k (self, logits, vocab);
        double total = 0;
        for (size_t i = 0; i < count; i++)
            total += self->candidates [i].weight =
                xinf_sampler_exp (((double) self->candidates [i].logit - top) / self->temperature);
        s_rank_heap (self->candidates, count);
        return s_draw_ranked (self, self->candidates, count, total, true);
    }
    if (self->top_p >= 1)
        return s_draw_all (self, logits, vocab, top);
    if (!s_reserve_spare (self, vocab))
        return best;
    double total = s_weigh_all (self, logits, vocab, top);
    //  A floor whose candidates fall short (the guess's sums rounded
    //  otherwise) goes a bin lower; the last bin's is 0, all candidates
    int32_t token = -1;
    for (int bin = s_floor_bin (self->weights, vocab, self->top_p * total); token < 0 && bin < S_BINS; bin++) {
        bool last = bin == S_BINS - 1;
        size_t count = s_above (self, logits, vocab, last ? 0 : ldexp (1.0, -bin));
        token = s_draw_ranked (self, s_rank_radix (self->candidates, self->spare, count), count, total, last);
    }
    return token;
}

size_t
xinf_sampler_min_p (float *logits, size_t vocab, float temperature, float min_p)
{
    if (vocab == 0)
        return 0;
    float top = s_logit (logits, xinf_sampler_argmax (logits, vocab));
    if (!(min_p > 0) || !(temperature > 0) || !isfinite (top))
        return vocab;
    //  The least float at or above the floor: a float logit is at least
    //  the floor exactly when it is at least this one
    double floor = (double) top + (double) temperature * log ((double) min_p);
    float least = (float) floor;
    if ((double) least < floor)
        least = nextafterf (least, INFINITY);
    return xinf_sampler_trim (logits, vocab, least);
}
