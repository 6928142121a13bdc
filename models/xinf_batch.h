/*  xinf_batch: building, checking and carrying the batch of a forward step
    (xinf_batch_t in kernels/xinf_backend.h: tokens with a position and a
    sequence each, the sequences' KV block tables, the rows whose logits
    are wanted, the rows whose final hidden state is wanted).

    A batch buffer owns the arrays of one batch, grown as tokens and
    sequences are added, or filled by decoding the wire form: the replica
    builds a step, the executor decodes it, rank 0 of a tensor-parallel
    group passes it on to the other ranks unchanged.

    Wire form (protocols/model.md, STEP), little-endian: seven u32 (magic
    "BTCH", n, n_seqs, n_table, n_out, n_hid, flags), then int32 arrays:
    tokens [n], pos [n], seq [n], table_start [n_seqs + 1], blocks [n_table],
    out [n_out], hid [n_hid], with flag XINF_BATCH_LORA lora [n_seqs], with
    XINF_BATCH_WINDOWED local_blocks [n_table] (a window cache's tables).
*/
#ifndef XINF_BATCH_H_INCLUDED
#define XINF_BATCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_backend.h"

#define XINF_BATCH_MAGIC  0x48435442u  //  "BTCH" little-endian
#define XINF_BATCH_HEADER 28
#define XINF_BATCH_LORA     1u         //  flags: lora [n_seqs] follows
#define XINF_BATCH_WINDOWED 2u         //  flags: local_blocks [n_table] follows

//  What a batch may hold on a model and its KV cache (max_tokens, max_out:
//  0 for no limit).
typedef struct {
    size_t max_tokens, vocab, context, n_blocks, block_tokens, max_out;
    size_t n_loras;                   //  the adapters a sequence may name (1..n_loras; 0: none)
    size_t n_local_blocks;            //  a window cache's local pool (0: none; batches carry no local tables)
    size_t window;                    //  with n_local_blocks: the positions a local layer attends to
} xinf_batch_limits_t;

typedef struct _xinf_batch_buf_t xinf_batch_buf_t;

xinf_batch_buf_t *xinf_batch_buf_new (void);
void xinf_batch_buf_destroy (xinf_batch_buf_t **self_p);
void xinf_batch_buf_clear (xinf_batch_buf_t *self);

//  A sequence with its block table; returns its index, -1 when out of memory.
int xinf_batch_buf_add_seq (xinf_batch_buf_t *self, const int32_t *blocks, size_t count);
//  A sequence with its block table and its local layers' ('local', as
//  long; -1 where the step reads nothing), for a window cache; every
//  sequence of a batch has them or none. Its index, or -1 when out of
//  memory or the batch's other sequences have none.
int xinf_batch_buf_add_seq_windowed (xinf_batch_buf_t *self, const int32_t *blocks, const int32_t *local,
                                     size_t count);
//  Sequence 'seq' (added) is served with LoRA adapter 'lora' (1-based; 0:
//  none, the default). 0, or -1 when out of memory or out of range.
int xinf_batch_buf_set_lora (xinf_batch_buf_t *self, int32_t seq, int32_t lora);
//  A token of sequence 'seq' at 'pos' (logits: its logits are wanted);
//  tokens of one sequence come in position order. 0, or -1 when out of memory.
int xinf_batch_buf_add_token (xinf_batch_buf_t *self, int32_t token, int32_t pos, int32_t seq, bool logits);
//  The last token added also gives its final hidden state (normed, as the
//  output layer takes it): a row of the step's hidden states. 0, or -1
//  when out of memory or no token was added.
int xinf_batch_buf_add_hidden (xinf_batch_buf_t *self);

//  The batch as built or decoded (valid until the buffer changes).
const xinf_batch_t *xinf_batch_buf_view (xinf_batch_buf_t *self);

//  0, or -1 with the reason naming the field: counts, ids within the
//  vocabulary, positions within the context, in order within a sequence
//  and covered by its block table, blocks within the cache, logits and
//  hidden rows ascending; local tables where the cache has a local pool
//  (and only there), their blocks within it and present at every
//  position a token's window reaches.
int xinf_batch_check (const xinf_batch_t *batch, const xinf_batch_limits_t *limits, char *error, size_t error_size);

//  The wire form: its size, and writing it into 'bytes' (that many).
size_t xinf_batch_wire_size (const xinf_batch_t *batch);
void xinf_batch_encode (const xinf_batch_t *batch, void *bytes);
//  Fills the buffer from a wire form and checks it against 'limits';
//  0, or -1 with the reason (the buffer is then empty).
int xinf_batch_buf_decode (xinf_batch_buf_t *self, const void *bytes, size_t size, const xinf_batch_limits_t *limits,
                           char *error, size_t error_size);

#endif
