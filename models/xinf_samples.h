/*  xinf_samples: the sampling a STEP asks for, one row per logits row
    (protocols/model.md, STEP's second frame): with it the executor
    samples every row itself and answers TOKENS (token ids) instead of
    LOGITS (n_out x vocab floats), so that only ids cross back.

    Wire form, little-endian: u32 magic "SMPL", u32 n, then n rows of 40
    bytes: f32 temperature, f32 top_p, u32 top_k, u32 logprobs (0: none;
    k + 1: the sampled token's and the k most likely tokens', k <= 20,
    xinf_logprobs.h), u64 seed, u64 index, f32 min_p (0: off;
    xinf_sampler_min_p), u32 score (0: the row is sampled; t + 1: it is
    not, its token is t, a prompt token whose log-probability the row
    reports: vLLM's prompt_logprobs).
*/
#ifndef XINF_SAMPLES_H_INCLUDED
#define XINF_SAMPLES_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "xinf_sampler.h"

#define XINF_SAMPLES_MAGIC  0x4c504d53u   //  "SMPL" little-endian
#define XINF_SAMPLES_HEADER 8
#define XINF_SAMPLES_ROW    40

//  One row of the frame.
typedef struct {
    xinf_sampling_t sampling;
    uint32_t logprobs;                //  0: none; k + 1: the token's and the k most likely tokens'
    float min_p;                      //  0: off
    int32_t score;                    //  -1: sampled; else the token the row scores (not sampled)
} xinf_sample_row_t;

//  A row that samples with 'sampling' and asks nothing more.
xinf_sample_row_t xinf_sample_row (xinf_sampling_t sampling);

size_t xinf_samples_wire_size (size_t count);
//  Writes 'count' rows.
void xinf_samples_encode (const xinf_sample_row_t *rows, size_t count, void *bytes);
//  Reads 'count' rows (the step's n_out) and checks each: temperature
//  finite in [0, 100], top_p in (0, 1], top_k <= vocab, logprobs at most
//  21 and vocab + 1, min_p in [0, 1], score 0 or a token + 1 below
//  vocab + 1, and a scored row asks for its logprobs. 0, or -1 with the
//  reason naming the row and field.
int xinf_samples_decode (const void *bytes, size_t size, size_t count, size_t vocab, xinf_sample_row_t *rows,
                         char *error, size_t error_size);

#endif
