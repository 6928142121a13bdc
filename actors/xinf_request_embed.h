/*  xinf_request_embed: the embedding a request asks for (GENERATE embed):
    the final hidden states of its prompt's positions, as the executor
    returns them step by step (hidden rows, model.md), summed in double
    and pooled into one vector: their mean, or the last position's. The
    answer is scaled to length 1 (L2) unless the request says not to. A
    reranker's (rank pooling) is its classification head's outputs on the
    last position's state instead (xinf_classifier.h): the first is the
    relevance score.
*/
#ifndef XINF_REQUEST_EMBED_H_INCLUDED
#define XINF_REQUEST_EMBED_H_INCLUDED

#include "xinf.h"
#include "xinf_batcher.h"
#include "xinf_classifier.h"

typedef struct _xinf_request_embed_t xinf_request_embed_t;

//  An embedding of 'dim' floats pooled as 'pool' (MEAN or LAST) from a
//  prompt of 'prompt' positions, or with 'head' (not NULL: the replica's,
//  which outlives it) a reranker's outputs from the last; NULL when out
//  of memory.
xinf_request_embed_t *xinf_request_embed_new (xinf_batcher_pool_t pool, size_t dim, size_t prompt, bool normalize,
                                              const xinf_classifier_t *head);
void xinf_request_embed_destroy (xinf_request_embed_t **self_p);

//  Adds the next hidden row (dim floats) the batcher gave the request.
void xinf_request_embed_add (xinf_request_embed_t *self, const float *row);
//  Whether every row the pooling needs came.
bool xinf_request_embed_done (const xinf_request_embed_t *self);
//  The pooled vector as an array of dim floats (normed unless asked not
//  to), or the head's outputs (a reranker's)
//  to; a zero vector stays zero); NULL when a value is not finite (a
//  broken model's) or out of memory.
xinf_value_t *xinf_request_embed_value (const xinf_request_embed_t *self);

//  Its floats.
size_t xinf_request_embed_dim (const xinf_request_embed_t *self);
//  How it is pooled.
xinf_batcher_pool_t xinf_request_embed_pool_of (const xinf_request_embed_t *self);
//  "mean" or "last" as the batcher's pooling; NONE for anything else.
xinf_batcher_pool_t xinf_request_embed_pool (const char *name);

#endif
