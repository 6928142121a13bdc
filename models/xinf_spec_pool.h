/*  xinf_spec_pool: the answers a replica gave lately, kept for the drafts
    of the sequences after them (speculative decoding across requests, as
    vLLM's suffix decoding does; xinf_spec.h within one).

    Many users of one application get answers that share their text: the
    same keys of a JSON schema in the same order, the same phrases of a
    template, the same answer to the same question asked again. A
    sequence whose own tokens give no draft looks up its longest suffix
    (min_n to max_n tokens) among the answers kept here, the most recent
    occurrence first, and drafts what followed it there.

    An answer is kept with the few prompt tokens before it (so that a new
    answer's first tokens are guessed from its prompt's end, a chat
    template's "assistant" turn). The pool is a ring of the last
    'capacity' tokens, answers apart, and an index of every n-gram of
    min_n to max_n tokens in it to the position after its last
    occurrence (16 bytes a slot, 2 x capacity x (max_n - min_n + 1)
    slots rounded up to a power of two: 4 MiB for a replica's 32,768
    tokens of 2- to 4-grams, 16 MiB for 1- to 16-grams). An add costs a
    hash step and up to 8 probes per token and n (only the ring's worth
    of a long answer is added); a lookup up to 8 probes per n, each
    n-gram found compared token by token (hash collisions, overwritten
    positions). The index forgets an n-gram now and then (8 live slots
    probed: the first gives way), which costs a draft, never a wrong one.

    The pool is shared by every request of the replica: as with the
    prefix cache, the speed of a user's answer can tell whether another
    user's recent answer held a text. Launch without speculation a model
    that users who must not learn of each other's answers share.
*/
#ifndef XINF_SPEC_POOL_H_INCLUDED
#define XINF_SPEC_POOL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define XINF_SPEC_POOL_TOKENS (1u << 15)  //  a replica's pool: the last 32,768 tokens of answers

typedef struct _xinf_spec_pool_t xinf_spec_pool_t;

//  A pool of the last 'capacity' tokens (rounded up to a power of two)
//  for suffixes of min_n to max_n tokens (1 <= min_n <= max_n <= 16);
//  NULL when out of memory or the sizes are not that.
xinf_spec_pool_t *xinf_spec_pool_new (size_t capacity, size_t min_n, size_t max_n);
void xinf_spec_pool_destroy (xinf_spec_pool_t **self_p);

//  Keeps tokens [count] (an answer with the prompt tokens before it) as
//  one run: no n-gram spans two runs. Negative tokens are not kept.
void xinf_spec_pool_add (xinf_spec_pool_t *self, const int32_t *tokens, size_t count);

//  Up to 'max' drafts for a sequence ending with tokens [count]: the
//  tokens that followed, in the pool, the most recent occurrence of its
//  longest suffix of min_n to max_n tokens (to the end of that run at
//  most); how many (0: none). *matched (when not NULL): the suffix's
//  length (0: none).
size_t xinf_spec_pool_lookup (xinf_spec_pool_t *self, const int32_t *tokens, size_t count, int32_t *draft,
                              size_t max, size_t *matched);

#endif
