/*  xinf_graph: bucket choice and padding of decode steps for CUDA graphs.  */
#include "xinf_graph.h"

#include <stdlib.h>
#include <string.h>

struct _xinf_graph_pad_t {
    int32_t *tokens, *pos, *seq, *out, *table_start;    //  [capacity] ([capacity + 1] for table_start)
    size_t capacity;
    int32_t *blocks;
    size_t block_capacity;
};

size_t
xinf_graph_bucket (size_t n, size_t max)
{
    if (!n || n > max || max > ((size_t) 1 << (XINF_GRAPH_BUCKETS - 1)))
        return 0;
    size_t bucket = 1;
    while (bucket < n)
        bucket *= 2;
    return bucket < max ? bucket : max;
}

size_t
xinf_graph_bucket_index (size_t bucket)
{
    size_t index = 0;
    while (index + 1 < XINF_GRAPH_BUCKETS && ((size_t) 1 << index) < bucket)
        index++;
    return index;
}

bool
xinf_graph_decode_only (const xinf_batch_t *batch)
{
    if (!batch->n || batch->n != batch->n_seqs || batch->n_out != batch->n)
        return false;
    //  n distinct sequences among n tokens: each exactly once
    uint8_t seen_small [256];
    uint8_t *seen = batch->n_seqs <= sizeof seen_small ? seen_small : calloc (batch->n_seqs, 1);
    if (!seen)
        return false;
    memset (seen, 0, batch->n_seqs <= sizeof seen_small ? batch->n_seqs : 0);
    bool decode = true;
    for (size_t i = 0; i < batch->n && decode; i++) {
        int32_t seq = batch->seq [i];
        decode = batch->out [i] == (int32_t) i && seq >= 0 && (size_t) seq < batch->n_seqs && !seen [seq];
        if (decode)
            seen [seq] = 1;
    }
    if (seen != seen_small)
        free (seen);
    return decode;
}

xinf_graph_pad_t *
xinf_graph_pad_new (void)
{
    return calloc (1, sizeof (xinf_graph_pad_t));
}

void
xinf_graph_pad_destroy (xinf_graph_pad_t **self_p)
{
    if (self_p && *self_p) {
        xinf_graph_pad_t *self = *self_p;
        free (self->tokens);
        free (self->pos);
        free (self->seq);
        free (self->out);
        free (self->table_start);
        free (self->blocks);
        free (self);
        *self_p = NULL;
    }
}

//  Room for 'tokens' tokens and 'blocks' block numbers; 0 or -1.
static int
s_reserve (xinf_graph_pad_t *self, size_t tokens, size_t blocks)
{
    if (tokens > self->capacity) {
        int32_t **arrays [] = { &self->tokens, &self->pos, &self->seq, &self->out, &self->table_start };
        for (size_t index = 0; index < sizeof arrays / sizeof arrays [0]; index++) {
            int32_t *grown = realloc (*arrays [index], (tokens + 1) * sizeof (int32_t));
            if (!grown)
                return -1;
            *arrays [index] = grown;
        }
        self->capacity = tokens;
    }
    if (blocks > self->block_capacity) {
        int32_t *grown = realloc (self->blocks, (blocks ? blocks : 1) * sizeof (int32_t));
        if (!grown)
            return -1;
        self->blocks = grown;
        self->block_capacity = blocks;
    }
    return 0;
}

int
xinf_graph_pad (xinf_graph_pad_t *self, const xinf_batch_t *batch, size_t bucket, xinf_batch_t *padded)
{
    size_t n = batch->n, listed = (size_t) batch->table_start [batch->n_seqs];
    int32_t last = batch->seq [n - 1];
    size_t last_first = (size_t) batch->table_start [last];
    size_t last_count = (size_t) batch->table_start [last + 1] - last_first;
    size_t extra = bucket > n ? bucket - n : 0;
    if (bucket < n || s_reserve (self, bucket, listed + extra * last_count))
        return -1;
    memcpy (self->tokens, batch->tokens, n * sizeof (int32_t));
    memcpy (self->pos, batch->pos, n * sizeof (int32_t));
    memcpy (self->seq, batch->seq, n * sizeof (int32_t));
    memcpy (self->table_start, batch->table_start, (batch->n_seqs + 1) * sizeof (int32_t));
    memcpy (self->blocks, batch->blocks, listed * sizeof (int32_t));
    //  Each padding token: the last token again, in a sequence of its own
    //  whose table is a copy of the last token's
    size_t end = listed;
    for (size_t i = n; i < bucket; i++) {
        self->tokens [i] = batch->tokens [n - 1];
        self->pos [i] = batch->pos [n - 1];
        self->seq [i] = (int32_t) i;
        memcpy (self->blocks + end, batch->blocks + last_first, last_count * sizeof (int32_t));
        end += last_count;
        self->table_start [i + 1] = (int32_t) end;
    }
    for (size_t i = 0; i < bucket; i++)
        self->out [i] = (int32_t) i;
    *padded = (xinf_batch_t) { bucket, self->tokens, self->pos, self->seq, bucket, self->table_start, self->blocks,
                               bucket, self->out, 0, NULL, NULL, NULL };
    return 0;
}
