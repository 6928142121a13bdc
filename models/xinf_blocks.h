/*  xinf_blocks: the KV block manager of a replica: a fixed number of
    blocks (the per-replica KV budget), reference counts, and the prefix
    cache.

    A block that is full and computed can be published under the hash of
    all tokens up to its end (its parent's hash and its own tokens); a
    sequence whose prompt starts with the same whole blocks takes them
    instead of computing them again (a shared system prompt is prefilled
    once). Published blocks nobody holds stay cached until their memory is
    needed: allocation takes free blocks first, then evicts the cached
    block released longest ago. Lookups compare the tokens and the parent
    hash, not only the hash.
*/
#ifndef XINF_BLOCKS_H_INCLUDED
#define XINF_BLOCKS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _xinf_blocks_t xinf_blocks_t;

//  NULL when out of memory or a count is 0.
xinf_blocks_t *xinf_blocks_new (size_t n_blocks, size_t block_tokens);
void xinf_blocks_destroy (xinf_blocks_t **self_p);

//  Blocks an allocation can take now: free ones and cached ones nobody holds.
size_t xinf_blocks_available (xinf_blocks_t *self);

//  Blocks never used or freed, which an allocation takes before it evicts
//  a cached prefix.
size_t xinf_blocks_free (xinf_blocks_t *self);

//  A block held once by the caller; -1 when none is available.
int32_t xinf_blocks_alloc (xinf_blocks_t *self);
//  Drops one hold; the last makes the block free (or cached, if published).
void xinf_blocks_release (xinf_blocks_t *self, int32_t block);

//  The chain hash of a block: its parent's hash (0 for the first block)
//  and its block_tokens tokens.
uint64_t xinf_blocks_hash (uint64_t parent, const int32_t *tokens, size_t count);

//  The published block with this hash, parent and tokens, now held once
//  more by the caller; -1 when there is none.
int32_t xinf_blocks_lookup (xinf_blocks_t *self, uint64_t hash, uint64_t parent, const int32_t *tokens);
//  Publishes a full, computed block the caller holds; false (and nothing
//  changes) when the hash is already published by another block.
bool xinf_blocks_publish (xinf_blocks_t *self, int32_t block, uint64_t hash, uint64_t parent, const int32_t *tokens);

#endif
