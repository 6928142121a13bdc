/*  xinf_step_cost: a step's time as fixed + per_token x tokens, fitted by
    least squares over the last steps; the prompt cap that follows.  */
#include "xinf_step_cost.h"

#include <stdlib.h>

//  Token counts closer than this (variance) fit no slope: the slope stays.
#define S_MIN_VARIANCE  0.25

struct _xinf_step_cost_t {
    double tokens [XINF_STEP_COST_WINDOW];
    double ms [XINF_STEP_COST_WINDOW];
    size_t count, next;
    double fixed, per_token;
    bool known;
    double by_size [XINF_STEP_COST_SIZES];    //  mean time of steps of that many tokens (0: none seen)
};

xinf_step_cost_t *
xinf_step_cost_new (void)
{
    return (xinf_step_cost_t *) calloc (1, sizeof (xinf_step_cost_t));
}

void
xinf_step_cost_destroy (xinf_step_cost_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Least squares over the window; with too little spread in the token
//  counts only the fixed part is refitted under the slope known so far.
static void
s_fit (xinf_step_cost_t *self)
{
    double mean_tokens = 0, mean_ms = 0;
    for (size_t index = 0; index < self->count; index++) {
        mean_tokens += self->tokens [index];
        mean_ms += self->ms [index];
    }
    mean_tokens /= (double) self->count;
    mean_ms /= (double) self->count;
    double variance = 0, covariance = 0;
    for (size_t index = 0; index < self->count; index++) {
        double dx = self->tokens [index] - mean_tokens;
        variance += dx * dx;
        covariance += dx * (self->ms [index] - mean_ms);
    }
    variance /= (double) self->count;
    covariance /= (double) self->count;
    if (variance >= S_MIN_VARIANCE && covariance > 0) {
        self->per_token = covariance / variance;
        self->known = true;
    }
    double fixed = mean_ms - self->per_token * mean_tokens;
    self->fixed = fixed > 0 ? fixed : 0;
}

void
xinf_step_cost_add (xinf_step_cost_t *self, size_t tokens, double ms)
{
    if (tokens == 0 || !(ms >= 0))
        return;
    self->tokens [self->next] = (double) tokens;
    self->ms [self->next] = ms;
    self->next = (self->next + 1) % XINF_STEP_COST_WINDOW;
    if (self->count < XINF_STEP_COST_WINDOW)
        self->count++;
    s_fit (self);
    if (tokens < XINF_STEP_COST_SIZES)
        self->by_size [tokens] = self->by_size [tokens] > 0 ? 0.75 * self->by_size [tokens] + 0.25 * ms : ms;
}

double
xinf_step_cost_size_ms (xinf_step_cost_t *self, size_t tokens)
{
    return tokens < XINF_STEP_COST_SIZES ? self->by_size [tokens] : 0;
}

bool
xinf_step_cost_known (xinf_step_cost_t *self)
{
    return self->known;
}

double
xinf_step_cost_ms (xinf_step_cost_t *self, size_t tokens)
{
    return self->known ? self->fixed + self->per_token * (double) tokens : 0;
}

double
xinf_step_cost_per_token_ms (xinf_step_cost_t *self)
{
    return self->known ? self->per_token : 0;
}

size_t
xinf_step_cost_prompt_cap (xinf_step_cost_t *self, size_t decoding, size_t waiting,
                           size_t step_tokens, size_t fallback)
{
    if (decoding == 0)
        return 0;
    //  More users wait for a first token than streams decode (a burst):
    //  admitting them all in one step costs the few streams one slow token
    //  and saves every waiting user steps; then they decode together
    if (waiting >= 2 && waiting >= decoding)
        return step_tokens;
    size_t cap = fallback;
    if (self->known && self->per_token > 0) {
        double extra_ms = (0.5 + (double) waiting) * xinf_step_cost_ms (self, decoding);
        double tokens = extra_ms / self->per_token;
        cap = tokens >= (double) step_tokens ? step_tokens : (size_t) tokens;
    }
    if (cap < 4)
        cap = 4;
    return cap > step_tokens ? step_tokens : cap;
}
