/*  xinf_request_embed: pooling a request's hidden rows into its embedding.  */
#include "xinf_request_embed.h"

#include <math.h>

struct _xinf_request_embed_t {
    xinf_batcher_pool_t pool;
    size_t dim, prompt;
    bool normalize;
    double *sum;                      //  [dim]: the rows so far
    size_t rows;
    const xinf_classifier_t *head;    //  a reranker's (pooled LAST: 'sum' is the last row), or NULL
};

xinf_request_embed_t *
xinf_request_embed_new (xinf_batcher_pool_t pool, size_t dim, size_t prompt, bool normalize,
                        const xinf_classifier_t *head)
{
    xinf_request_embed_t *self = calloc (1, sizeof *self);
    if (self && !(self->sum = calloc (dim ? dim : 1, sizeof (double))))
        xinf_request_embed_destroy (&self);
    if (self)
        *self = (xinf_request_embed_t) { head ? XINF_BATCHER_POOL_LAST : pool, dim, prompt, normalize, self->sum, 0,
                                         head };
    return self;
}

void
xinf_request_embed_destroy (xinf_request_embed_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->sum);
        free (*self_p);
        *self_p = NULL;
    }
}

void
xinf_request_embed_add (xinf_request_embed_t *self, const float *row)
{
    for (size_t i = 0; i < self->dim; i++)
        self->sum [i] += row [i];
    self->rows++;
}

bool
xinf_request_embed_done (const xinf_request_embed_t *self)
{
    return self->rows >= (self->pool == XINF_BATCHER_POOL_MEAN ? self->prompt : 1);
}

//  A reranker's outputs; NULL when one is not finite.
static xinf_value_t *
s_head_value (const xinf_request_embed_t *self)
{
    double outputs [64];
    if (xinf_classifier_outputs (self->head) > 64 || !xinf_classifier_apply (self->head, self->sum, outputs))
        return NULL;
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t i = 0; array && i < xinf_classifier_outputs (self->head); i++)
        xinf_array_push (array, xinf_value_new_float ((float) outputs [i]));
    return array;
}

xinf_value_t *
xinf_request_embed_value (const xinf_request_embed_t *self)
{
    if (self->head)
        return s_head_value (self);
    double scale = self->rows ? 1.0 / (double) self->rows : 0;
    if (self->normalize) {
        double norm = 0;
        for (size_t i = 0; i < self->dim; i++)
            norm += self->sum [i] * self->sum [i];
        scale = norm > 0 ? 1.0 / sqrt (norm) : 0;
    }
    for (size_t i = 0; i < self->dim; i++)
        if (!isfinite ((float) (self->sum [i] * scale)))
            return NULL;
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t i = 0; array && i < self->dim; i++)
        xinf_array_push (array, xinf_value_new_float ((float) (self->sum [i] * scale)));
    return array;
}

size_t
xinf_request_embed_dim (const xinf_request_embed_t *self)
{
    return self->dim;
}

xinf_batcher_pool_t
xinf_request_embed_pool_of (const xinf_request_embed_t *self)
{
    return self->pool;
}

xinf_batcher_pool_t
xinf_request_embed_pool (const char *name)
{
    return !name ? XINF_BATCHER_POOL_NONE
         : streq (name, "mean") ? XINF_BATCHER_POOL_MEAN
         : streq (name, "last") ? XINF_BATCHER_POOL_LAST : XINF_BATCHER_POOL_NONE;
}
