/*  xinf_bench_serve_load: the clients of xinf-bench-serve. N DEALERs in one
    poll loop, each sending GENERATE with stream (temperature 0 unless set, the prompt
    as token ids), one request at a time, recording when every token came;
    then the figures of the run.
*/
#ifndef XINF_BENCH_SERVE_LOAD_H_INCLUDED
#define XINF_BENCH_SERVE_LOAD_H_INCLUDED

#include "xinf.h"

//  One row of the result table (every figure a double, for the field tables).
typedef struct {
    double clients, requests, errors, tokens, wall_s, gen_tok_s, decode_tok_s, full_tok_s;
    double vs_n1, vs_llama, ttft_p50, ttft_p99, itl_p50, itl_p99;
    double round;                     //  which round of --rounds (1..)
} xinf_load_row_t;

//  The interference run: streams' gaps around a long prompt's prefill.
typedef struct {
    double streams, prompt_length, errors, ttft_ms, prefill_tok_s;
    double before_p50, gaps, during_p50, during_p99, during_max, ratio;
} xinf_load_late_t;

typedef struct _xinf_load_t xinf_load_t;

//  'clients' clients of model 'uid' at 'endpoint', each making 'requests'
//  requests of prompt_length tokens in, max_tokens out; each request's
//  deadline is timeout_s (then it is an error).
xinf_load_t *xinf_load_new (const char *endpoint, const char *uid, size_t clients, size_t requests,
                            size_t prompt_length, size_t max_tokens, int64_t timeout_s);
void xinf_load_destroy (xinf_load_t **self_p);

//  Gives client 'index' other lengths, and has it wait until the run has
//  received start_after tokens before it sends.
void xinf_load_set_client (xinf_load_t *self, size_t index, size_t prompt_length, size_t max_tokens,
                           size_t start_after);

//  Every request samples with 'temperature' (0, the default: greedy) and
//  'top_p' (1: off), a seed of its own.
void xinf_load_set_sampling (xinf_load_t *self, double temperature, double top_p, long logprobs);

//  Runs every client until every request ended (or SIGINT).
void xinf_load_run (xinf_load_t *self);

//  The figures of a finished run: throughput, TTFT and inter-token latency.
xinf_load_row_t xinf_load_row (xinf_load_t *self);

//  The figures of an interference run: client 'late' sent the long prompt,
//  the others are the streams.
xinf_load_late_t xinf_load_late (xinf_load_t *self, size_t late);

#endif
