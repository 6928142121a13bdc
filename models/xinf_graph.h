/*  xinf_graph: the host side of CUDA graphs for decode steps.

    A backend with graphs (xinf_backend.h: graph_begin, graph_end,
    graph_replay; the CUDA backend) records a decode step once per batch
    bucket and replays it on later steps of the same bucket. A graph holds
    fixed pointers and fixed launch sizes, so a step it replays must look
    like the one it recorded: a decode step (every sequence one token,
    every token's logits wanted) of n tokens is padded to its bucket, the
    smallest power of two >= n (capped at the largest bucket, which is a
    bucket too: 1, 2, 4, 8, 16, 32, 64, ..., max). The padding tokens
    repeat the last real token in sequences of their own whose block
    tables are copies of that token's: they compute the very same key and
    value rows and store them into the very same slot, so the cache holds
    what it would without them, and their logits rows are ignored.

    This module is plain host code (no CUDA): the bucket choice, whether a
    batch is a decode step, and the padding, for the transformer's step
    and for unit tests without a GPU.
*/
#ifndef XINF_GRAPH_H_INCLUDED
#define XINF_GRAPH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xinf_backend.h"

//  Buckets a cache keeps graph state for: bucket sizes up to 2^(N-1).
#define XINF_GRAPH_BUCKETS 16

//  The bucket of a decode step of 'n' tokens when buckets go up to 'max'
//  (>= 1): the smallest power of two >= n, or max when that is larger
//  than max. 0 when n is 0, n > max, or max above 2^(XINF_GRAPH_BUCKETS-1).
size_t xinf_graph_bucket (size_t n, size_t max);

//  The index (0 .. XINF_GRAPH_BUCKETS - 1) of a bucket xinf_graph_bucket
//  gave: its power of two rounded up (max's own, when max is no power).
size_t xinf_graph_bucket_index (size_t bucket);

//  Whether a checked batch is a decode step: n tokens of n distinct
//  sequences, and n_out == n with out [i] == i.
bool xinf_graph_decode_only (const xinf_batch_t *batch);

//  Arrays for padded batches, grown as needed and reused.
typedef struct _xinf_graph_pad_t xinf_graph_pad_t;

xinf_graph_pad_t *xinf_graph_pad_new (void);
void xinf_graph_pad_destroy (xinf_graph_pad_t **self_p);

//  'batch' (a decode step, xinf_graph_decode_only) padded to 'bucket'
//  tokens (>= batch->n) into 'padded', whose arrays are the pad's (valid
//  until its next use). 0, or -1 when out of memory.
int xinf_graph_pad (xinf_graph_pad_t *self, const xinf_batch_t *batch, size_t bucket, xinf_batch_t *padded);

#endif
