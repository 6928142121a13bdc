/*  xinf_sampler: picks the next token from logits: greedy, or temperature
    with top-k and top-p (nucleus) filtering, drawn from the sampler's own
    PRNG (xoshiro256**, seeded by splitmix64).

    Temperature 0 is greedy: the highest logit, the lowest index on ties.
    Otherwise: p ~ exp ((logit - max) / temperature); keep the top_k highest
    logits (0 = all); of those, keep the fewest highest whose probability
    mass (renormalized) reaches top_p; draw one in proportion to p.
    Candidates are ranked by logit, ties by lower index. The arithmetic is
    IEEE double with the sampler's own exp (xinf_sampler_row.h), so the
    same seed and the same logits give the same tokens on any machine: the
    total mass is summed in index order (with top_k, the kept logits' in
    the order of the heap that found them), the kept mass and the draw's
    walk in rank order. NaN logits count as -inf. Out of memory for its
    buffers (about 40 bytes a vocabulary entry), a sampler picks greedily.

    A generation's draws are counter-based: xinf_sampler_set seeds the draw
    of the token at 'index' from (seed, index) alone, so whoever samples
    (the executor, for every row of a step) keeps no state between steps,
    and a recomputed or moved sequence draws the same tokens.
*/
#ifndef XINF_SAMPLER_H_INCLUDED
#define XINF_SAMPLER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _xinf_sampler_t xinf_sampler_t;

//  One sequence's sampling for its token at 'index' (0: the first token).
typedef struct {
    float temperature;                //  >= 0, finite; 0 is greedy
    float top_p;                      //  (0, 1]
    uint32_t top_k;                   //  0: all
    uint64_t seed;
    uint64_t index;
} xinf_sampling_t;

//  NULL unless temperature >= 0 (and finite), top_k >= 0, 0 < top_p <= 1.
xinf_sampler_t *xinf_sampler_new (float temperature, int top_k, float top_p, uint64_t seed);

void xinf_sampler_destroy (xinf_sampler_t **self_p);

//  A token in [0, vocab); -1 when vocab is 0.
int32_t xinf_sampler_sample (xinf_sampler_t *self, const float *logits, size_t vocab);

//  Takes 'params' (as xinf_sampler_new checks them) and seeds the next
//  draw from (seed, index). 0, or -1 for bad parameters (left unchanged).
int xinf_sampler_set (xinf_sampler_t *self, const xinf_sampling_t *params);

//  The uniform draw in [0, 1) that a sampler set to 'params' makes for
//  its token (each sample makes at most one): what a device sampler is
//  given so that it picks the token this sampler would.
double xinf_sampler_uniform (const xinf_sampling_t *params);

//  As xinf_sampler_sample, with 'uniform' (in [0, 1)) as the draw instead
//  of the PRNG's, whose state stays as it was.
int32_t xinf_sampler_draw (xinf_sampler_t *self, const float *logits, size_t vocab, double uniform);

//  The CPU reference of the backends' sample op (xinf_backend.h): row i
//  of logits [n_rows][vocab] sampled as params [i] says with the draw
//  uniforms [i] into tokens [i]. 0, or -1 for bad parameters or a draw
//  outside [0, 1) (tokens of the rows before it are set).
int xinf_sampler_rows (const float *logits, size_t n_rows, size_t vocab, const xinf_sampling_t *params,
                       const double *uniforms, int32_t *tokens);

//  min-p (vLLM's and llama.cpp's): a row's logits of tokens less likely
//  than min_p times the most likely one, at 'temperature', set to -inf in
//  place, so that a sampler then draws from the rest only (top-k and
//  top-p among them). A logit is kept when it is at least top +
//  temperature x ln (min_p) in double (top: the largest logit); NaNs
//  become -inf. Nothing changes for min_p 0, temperature 0 (greedy keeps
//  the top anyway), or a top that is not finite. Returns the logits kept.
size_t xinf_sampler_min_p (float *logits, size_t vocab, float temperature, float min_p);

#endif
