/*  xinf_step_cost: what a replica's forward step costs, as a function of
    the tokens it carries, and so how many prompt tokens a step may carry
    beside the running streams.

    A step's time is close to linear in its tokens: a fixed part (reading
    every weight once, whatever the batch) plus a part per token. The
    model is fitted by least squares over the last steps (a ring of
    XINF_STEP_COST_WINDOW), so it follows the machine's load; while all
    recent steps had about the same size, only the fixed part moves.
*/
#ifndef XINF_STEP_COST_H_INCLUDED
#define XINF_STEP_COST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define XINF_STEP_COST_WINDOW  32
#define XINF_STEP_COST_SIZES   64     //  steps of fewer tokens are also timed by their size

typedef struct _xinf_step_cost_t xinf_step_cost_t;

xinf_step_cost_t *xinf_step_cost_new (void);
void xinf_step_cost_destroy (xinf_step_cost_t **self_p);

//  One finished step: its tokens and its time in milliseconds.
void xinf_step_cost_add (xinf_step_cost_t *self, size_t tokens, double ms);
//  True once the per-token part is known (steps of two sizes were seen).
bool xinf_step_cost_known (xinf_step_cost_t *self);
//  The expected time of a step of 'tokens' tokens (0 until known).
double xinf_step_cost_ms (xinf_step_cost_t *self, size_t tokens);
double xinf_step_cost_per_token_ms (xinf_step_cost_t *self);
//  The mean time of the recent steps of exactly 'tokens' tokens (each
//  step weighing a quarter against those before), for tokens below
//  XINF_STEP_COST_SIZES; 0 when none was seen.
double xinf_step_cost_size_ms (xinf_step_cost_t *self, size_t tokens);

//  The prompt tokens the next step may carry beside 'decoding' streams
//  while 'waiting' requests (queued or part-way through their prompt) wait
//  for their first token: the prompt tokens may take (0.5 + waiting) times
//  a decode-only step. One long prompt alone so makes each stream's next
//  token at most about 2.5 times slower, while a burst of short prompts is
//  admitted in a few steps (a user waiting for a first token weighs as
//  much as one more decode step of delay to the streams). When at least
//  two requests wait and they are at least as many as the streams (a
//  burst), all of step_tokens. 0 means no
//  limit (no stream decodes); 'fallback' until the cost is known; at
//  least 4 tokens, at most 'step_tokens'.
size_t xinf_step_cost_prompt_cap (xinf_step_cost_t *self, size_t decoding, size_t waiting,
                                  size_t step_tokens, size_t fallback);

#endif
