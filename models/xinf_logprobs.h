/*  xinf_logprobs: the log-probabilities a STEP's rows report beside their
    sampled tokens (protocols/model.md: SMPL's logprobs word asks, TOKENS'
    second frame answers). A row that asks for k + 1 (k <= 20) gets the
    sampled token's log-probability and the k most likely tokens' (ties:
    the lower id first), each

        logprob [t] = (logit [t] - top) - ln (sum over v of e^(logit [v] - top))

    in double, where top is the row's largest logit, over the logits the
    sampler sees before temperature, top-k and top-p: the model's own
    distribution after any logit biases and penalties (the model's alone
    without them, as vLLM and llama-server report by default). The exp
    and its index-order sum are the sampler's (xinf_sampler_row.h); a NaN
    logit counts as -inf, and a token of probability 0 has logprob -inf.
    Where c logits are +inf (an overflow), each of them has -ln c and every
    other token -inf.

    Wire form, little-endian: u32 magic "LGPR", u32 rows, then each row:
    u32 asked (0: nothing follows; else k + 1 as the row's SMPL asked),
    then f32 the sampled token's logprob and k (u32 token, f32 logprob),
    most likely first.
*/
#ifndef XINF_LOGPROBS_H_INCLUDED
#define XINF_LOGPROBS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XINF_LOGPROBS_MAGIC   0x5250474cu //  "LGPR" little-endian
#define XINF_LOGPROBS_TOP_MAX 20          //  most likely tokens a row may ask for (OpenAI's top_logprobs)

typedef struct {
    uint32_t token;
    float logprob;
} xinf_logprob_t;

//  One row's report: 'asked' (0: none; k + 1, k at most the vocabulary),
//  the sampled token's logprob and the k most likely tokens, most likely
//  first; and what the scan found (not on the wire): the row's log
//  normalizer, top + ln (sum), and how many of its logits are +inf.
typedef struct {
    uint32_t asked;
    float logprob;
    xinf_logprob_t top [XINF_LOGPROBS_TOP_MAX];
    double normalizer;
    size_t infinite;
} xinf_logprobs_row_t;

//  Scans a row of 'vocab' logits (vocab >= asked - 1, vocab >= 1) for
//  'row->asked' - 1 most likely tokens and the row's normalizer, with
//  which xinf_logprobs_of gives any token's logprob. 'weights' is room for
//  vocab doubles.
void xinf_logprobs_scan (const float *logits, size_t vocab, xinf_logprobs_row_t *row, double *weights);

//  The logprob of 'token' in a row the scan scanned.
float xinf_logprobs_of (const xinf_logprobs_row_t *row, const float *logits, uint32_t token);

//  The wire form of 'count' rows: its size, and the frame written into
//  'bytes' (that many).
size_t xinf_logprobs_wire_size (const xinf_logprobs_row_t *rows, size_t count);
void xinf_logprobs_encode (const xinf_logprobs_row_t *rows, size_t count, void *bytes);

//  Reads 'count' rows into 'rows', checking each against 'asked' [row]
//  (what the step asked: the same value, at most vocab + 1) and every
//  field: the size, the
//  header, tokens below 'vocab', logprobs at most 0 (-inf allowed, NaN
//  not), the top ones not increasing. 0, or -1 with the reason.
int xinf_logprobs_decode (const void *bytes, size_t size, size_t count, const uint32_t *asked, size_t vocab,
                          xinf_logprobs_row_t *rows, char *error, size_t error_size);

#endif
