/*  xinf_bench_llama_batched: llama.cpp's llama-batched-bench from a native
    build, run on the same file and threads as xinf's serving benchmarks,
    its JSON lines read into rows.
*/
#ifndef XINF_BENCH_LLAMA_BATCHED_H_INCLUDED
#define XINF_BENCH_LLAMA_BATCHED_H_INCLUDED

#include "xinf.h"

//  One llama-batched-bench row (every figure a double, for field tables).
typedef struct {
    double round, clients, gen_tok_s, speed_tg, speed_pp, t_pp, t_tg;
} xinf_llama_row_t;

//  The directory holding llama-batched-bench: --llamacpp's value in
//  'config' ("off": none), else tools/llamacpp/native beside 'own_dir'.
//  False when there is none.
bool xinf_llama_batched_dir (xinf_config_t *config, const char *own_dir, char *dir, size_t size);

//  Runs llama-batched-bench -npp prompt_length -ntg max_tokens -npl
//  counts on 'model'; fills 'rows' (count of them at most); how many.
size_t xinf_llama_batched_run (const char *dir, const char *model, const char *extra, int64_t threads,
                               size_t prompt_length, size_t max_tokens, const size_t *counts, size_t count,
                               xinf_llama_row_t *rows);

#endif
