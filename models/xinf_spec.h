/*  xinf_spec: speculative decoding by prompt lookup: a sequence's next
    tokens guessed from its own tokens (the "ngram" method of vLLM, the
    prompt lookup decoding of llama.cpp), and whether a guess is worth
    the place it takes in a step.

    A guess (a draft) is what followed, the last time, the longest suffix
    of the sequence (at least min_n, at most max_n tokens) that occurred
    before: text that quotes or edits the prompt, code, JSON keys and
    repeated phrases are guessed well, free text rarely. The step then
    computes the sequence's next token and each draft after it, one
    logits row each; the rows are taken in order while each sampled token
    equals the draft after it, so a step gives 1 to 1 + drafts tokens, and
    exactly the tokens the model would have given one step at a time
    (a row's logits do not depend on what else the step carries, and the
    n-th token's draw depends on the seed and n only).

    A draft costs what one more token costs the step; it pays when it is
    accepted. Its chance is the sequence's acceptance rate raised to its
    place among the drafts (the i-th is taken only when the i-1 before it
    were), the rate counted over the sequence's recent drafts. A step
    carries the number of drafts, the likeliest first, that gives it the
    most expected tokens per millisecond of its expected time. Where a
    step costs little more for more tokens (a GPU, one stream on a CPU
    bound by memory) drafts go in freely; on a step already bound by
    compute only likely ones do, and only as many as pay for the size
    they bring the step to.
*/
#ifndef XINF_SPEC_H_INCLUDED
#define XINF_SPEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_SPEC_TOKENS_MAX 16       //  drafts a sequence may carry in one step at most
#define XINF_SPEC_NGRAM_MAX  16       //  the longest suffix looked up
#define XINF_SPEC_CANDIDATES 64       //  earlier occurrences of the last token compared at most

//  'max' drafts for the sequence 'tokens' [count] into 'draft': the
//  tokens that followed the most recent earlier occurrence of its longest
//  suffix of min_n to max_n tokens (1 <= min_n <= max_n), the sequence's
//  end repeating where they reach it (a loop is guessed to go on); how
//  many: 0 when no suffix of min_n tokens occurred before, else max.
//  The XINF_SPEC_CANDIDATES most recent occurrences of the last token are
//  compared, so a lookup costs one pass over the tokens at worst.
//  *matched (when not NULL): the suffix's length (0: none).
size_t xinf_spec_lookup (const int32_t *tokens, size_t count, size_t min_n, size_t max_n, int32_t *draft,
                         size_t max, size_t *matched);

//  A sequence's acceptance of its drafts: recent counts, each step
//  weighing 7/8 of the one before.
typedef struct {
    double accepted, checked;
} xinf_spec_rate_t;

//  The chance that a draft after an accepted one is accepted, from the
//  counts and a prior of one accepted in two.
double xinf_spec_rate (const xinf_spec_rate_t *rate);
//  One decode step of the sequence: of its drafts, 'checked' were
//  compared with the model's token (all up to the first that differed)
//  and 'accepted' were equal. A step without drafts (0, 0) lets the
//  counts fade, so that a sequence whose drafts failed is tried again.
void xinf_spec_rate_add (xinf_spec_rate_t *rate, size_t accepted, size_t checked);

//  What steps cost, as a replica measured them: a line fitted over its
//  steps (fixed + per token x tokens; both 0: not known yet), and the
//  mean time of steps of n tokens for n below XINF_SPEC_SIZES (0: none
//  seen). A kernel's cost is a line only roughly: the CPU's integer
//  products take vectors 16 at a time, so a 17th token costs a step of
//  16 far more than a 16th costs one of 15.
#define XINF_SPEC_SIZES 64
typedef struct {
    double fixed_ms, per_token_ms;
    double measured_ms [XINF_SPEC_SIZES];
} xinf_spec_cost_t;

//  The expected time of a step of 'tokens' tokens: as measured for that
//  size; else the line's; else scaled from the time measured for 'base'
//  tokens (a step costing a fixed part of 4 tokens' time); else
//  tokens + 4 units of one token's time.
double xinf_spec_step_ms (const xinf_spec_cost_t *cost, size_t tokens, size_t base);

//  How many of the drafts whose chances are chances [count] (the
//  likeliest first) a step of 'tokens' tokens, expected to give 'gain'
//  tokens, should carry: the number that gives the step the most tokens
//  per millisecond (xinf_spec_step_ms), so a few drafts that would push
//  a step past the kernels' sweet spot are left out while enough to reach
//  the next one may go in. 0 when none pays.
size_t xinf_spec_choose (const xinf_spec_cost_t *cost, size_t tokens, double gain, const double *chances,
                         size_t count);

#endif
