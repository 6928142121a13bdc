/*  xinf_bench_http_load: the HTTP clients of xinf-bench-http. N keep-alive
    connections in one poll loop, each POSTing /v1/completions with stream
    (temperature 0, the prompt as token ids: the same prompts as
    xinf_bench_serve_load's ZeroMQ clients), one request at a time, reading
    the chunked server-sent events; tokens counted from each stream's usage
    chunk, times of the first event kept.
*/
#ifndef XINF_BENCH_HTTP_LOAD_H_INCLUDED
#define XINF_BENCH_HTTP_LOAD_H_INCLUDED

#include "xinf.h"

typedef struct {
    double clients, requests, errors, tokens, wall_s, gen_tok_s, ttft_p50;
} xinf_http_row_t;

//  Runs 'clients' clients of model 'uid' at 127.0.0.1:port, each making
//  'requests' requests; returns the figures of the run.
xinf_http_row_t xinf_http_load_run (int port, const char *key, const char *uid, size_t clients, size_t requests,
                                    size_t prompt_length, size_t max_tokens, int64_t timeout_s);

//  Opens 'count' streams of max_tokens each to model 'uid' and leaves them
//  waiting (not read); returns their sockets (close them with
//  xinf_http_idle_close) or NULL.
int *xinf_http_idle_open (int port, const char *key, const char *uid, size_t count, size_t max_tokens);
void xinf_http_idle_close (int **fds_p, size_t count);

#endif
