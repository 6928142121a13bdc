/*  xinf_spec: drafts by prompt lookup, and their worth in a step.  */
#include "xinf_spec.h"

#define S_FADE 0.875                  //  a step's counts weigh this much at the next

//  How many tokens end both at 'at' and at the sequence's end, at most 'max'.
static size_t
s_common_suffix (const int32_t *tokens, size_t count, size_t at, size_t max)
{
    size_t length = 0;
    while (length < max && length <= at && tokens [at - length] == tokens [count - 1 - length])
        length++;
    return length;
}

size_t
xinf_spec_lookup (const int32_t *tokens, size_t count, size_t min_n, size_t max_n, int32_t *draft, size_t max,
                  size_t *matched)
{
    if (matched)
        *matched = 0;
    if (count < 2 || min_n == 0 || max_n < min_n || max == 0)
        return 0;
    if (max_n > count - 1)
        max_n = count - 1;
    //  From the most recent earlier position back: the longest match wins,
    //  the most recent among equals; a match of max_n ends the search
    size_t best = 0, best_at = 0, candidates = 0;
    for (size_t at = count - 1; at-- > 0 && best < max_n && candidates < XINF_SPEC_CANDIDATES; ) {
        if (tokens [at] != tokens [count - 1])
            continue;
        candidates++;
        size_t length = s_common_suffix (tokens, count, at, max_n);
        if (length > best) {
            best = length;
            best_at = at;
        }
    }
    if (best < min_n)
        return 0;
    if (matched)
        *matched = best;
    //  What followed it; where that runs into the suffix itself (a repeat
    //  of period count - 1 - best_at), the drafts go on repeating it
    for (size_t taken = 0; taken < max; taken++) {
        size_t from = best_at + 1 + taken;
        draft [taken] = from < count ? tokens [from] : draft [from - count];
    }
    return max;
}

double
xinf_spec_rate (const xinf_spec_rate_t *rate)
{
    return (rate->accepted + 1.0) / (rate->checked + 2.0);
}

void
xinf_spec_rate_add (xinf_spec_rate_t *rate, size_t accepted, size_t checked)
{
    rate->accepted = rate->accepted * S_FADE + (double) accepted;
    rate->checked = rate->checked * S_FADE + (double) checked;
}

double
xinf_spec_step_ms (const xinf_spec_cost_t *cost, size_t tokens, size_t base)
{
    if (tokens < XINF_SPEC_SIZES && cost->measured_ms [tokens] > 0)
        return cost->measured_ms [tokens];
    if (cost->fixed_ms > 0 || cost->per_token_ms > 0)
        return cost->fixed_ms + cost->per_token_ms * (double) tokens;
    double known = base < XINF_SPEC_SIZES ? cost->measured_ms [base] : 0;
    if (known > 0)
        return known * (double) (tokens + 4) / (double) (base + 4);
    return (double) tokens + 4;
}

size_t
xinf_spec_choose (const xinf_spec_cost_t *cost, size_t tokens, double gain, const double *chances, size_t count)
{
    double expected = gain, best_rate = gain / xinf_spec_step_ms (cost, tokens, tokens);
    size_t best = 0;
    for (size_t taken = 1; taken <= count; taken++) {
        expected += chances [taken - 1] > 0 ? chances [taken - 1] : 0;
        double rate = expected / xinf_spec_step_ms (cost, tokens + taken, tokens);
        if (rate > best_rate * (1 + 1e-9)) {
            best = taken;
            best_rate = rate;
        }
    }
    return best;
}
