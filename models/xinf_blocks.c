/*  xinf_blocks: KV blocks, reference counts and the prefix cache.  */
#include "xinf_blocks.h"

#include <stdlib.h>
#include <string.h>

#define NONE (-1)

typedef struct {
    uint32_t refs;
    bool published;
    uint64_t hash, parent;
    int32_t bucket_next;              //  the next block in its hash bucket
    int32_t lru_prev, lru_next;       //  in the cached list (published, unheld)
    int32_t free_next;                //  in the free list
} s_block_t;

struct _xinf_blocks_t {
    size_t n_blocks, block_tokens, n_buckets;
    s_block_t *blocks;
    int32_t *tokens;                  //  [n_blocks][block_tokens] of published blocks
    int32_t *buckets;
    int32_t free_head;
    int32_t lru_head, lru_tail;       //  head: released longest ago
    size_t free_count, cached_count;
};

xinf_blocks_t *
xinf_blocks_new (size_t n_blocks, size_t block_tokens)
{
    if (!n_blocks || !block_tokens || n_blocks > INT32_MAX)
        return NULL;
    xinf_blocks_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n_blocks = n_blocks;
    self->block_tokens = block_tokens;
    self->n_buckets = n_blocks * 2;
    self->blocks = calloc (n_blocks, sizeof (s_block_t));
    self->tokens = calloc (n_blocks * block_tokens, sizeof (int32_t));
    self->buckets = malloc (self->n_buckets * sizeof (int32_t));
    if (!self->blocks || !self->tokens || !self->buckets) {
        xinf_blocks_destroy (&self);
        return NULL;
    }
    for (size_t bucket = 0; bucket < self->n_buckets; bucket++)
        self->buckets [bucket] = NONE;
    //  Free list in block order: block 0 is taken first
    for (size_t block = 0; block < n_blocks; block++)
        self->blocks [block].free_next = block + 1 < n_blocks ? (int32_t) block + 1 : NONE;
    self->free_head = 0;
    self->free_count = n_blocks;
    self->lru_head = self->lru_tail = NONE;
    return self;
}

void
xinf_blocks_destroy (xinf_blocks_t **self_p)
{
    if (self_p && *self_p) {
        xinf_blocks_t *self = *self_p;
        free (self->blocks);
        free (self->tokens);
        free (self->buckets);
        free (self);
        *self_p = NULL;
    }
}

size_t xinf_blocks_available (xinf_blocks_t *self) { return self->free_count + self->cached_count; }
size_t xinf_blocks_free (xinf_blocks_t *self) { return self->free_count; }

static void
s_lru_unlink (xinf_blocks_t *self, int32_t id)
{
    s_block_t *block = &self->blocks [id];
    if (block->lru_prev != NONE)
        self->blocks [block->lru_prev].lru_next = block->lru_next;
    else
        self->lru_head = block->lru_next;
    if (block->lru_next != NONE)
        self->blocks [block->lru_next].lru_prev = block->lru_prev;
    else
        self->lru_tail = block->lru_prev;
    self->cached_count--;
}

static void
s_lru_append (xinf_blocks_t *self, int32_t id)
{
    s_block_t *block = &self->blocks [id];
    block->lru_prev = self->lru_tail;
    block->lru_next = NONE;
    if (self->lru_tail != NONE)
        self->blocks [self->lru_tail].lru_next = id;
    else
        self->lru_head = id;
    self->lru_tail = id;
    self->cached_count++;
}

static size_t
s_bucket (xinf_blocks_t *self, uint64_t hash)
{
    return (size_t) (hash % self->n_buckets);
}

//  Takes a published block out of the prefix cache.
static void
s_unpublish (xinf_blocks_t *self, int32_t id)
{
    int32_t *link = &self->buckets [s_bucket (self, self->blocks [id].hash)];
    while (*link != id)
        link = &self->blocks [*link].bucket_next;
    *link = self->blocks [id].bucket_next;
    self->blocks [id].published = false;
}

int32_t
xinf_blocks_alloc (xinf_blocks_t *self)
{
    int32_t id = NONE;
    if (self->free_head != NONE) {
        id = self->free_head;
        self->free_head = self->blocks [id].free_next;
        self->free_count--;
    }
    else
    if (self->lru_head != NONE) {
        id = self->lru_head;
        s_lru_unlink (self, id);
        s_unpublish (self, id);
    }
    if (id != NONE)
        self->blocks [id].refs = 1;
    return id;
}

void
xinf_blocks_release (xinf_blocks_t *self, int32_t id)
{
    if (id < 0 || (size_t) id >= self->n_blocks || self->blocks [id].refs == 0)
        return;
    s_block_t *block = &self->blocks [id];
    if (--block->refs)
        return;
    if (block->published)
        s_lru_append (self, id);
    else {
        block->free_next = self->free_head;
        self->free_head = id;
        self->free_count++;
    }
}

uint64_t
xinf_blocks_hash (uint64_t parent, const int32_t *tokens, size_t count)
{
    //  splitmix64 steps over the parent and every token
    uint64_t hash = parent ^ 0x9e3779b97f4a7c15ull;
    for (size_t index = 0; index <= count; index++) {
        hash += (index < count ? (uint64_t) (uint32_t) tokens [index] : (uint64_t) count) + 0x9e3779b97f4a7c15ull;
        hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ull;
        hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebull;
        hash ^= hash >> 31;
    }
    return hash ? hash : 1;
}

static int32_t
s_find (xinf_blocks_t *self, uint64_t hash, uint64_t parent, const int32_t *tokens)
{
    for (int32_t id = self->buckets [s_bucket (self, hash)]; id != NONE; id = self->blocks [id].bucket_next) {
        s_block_t *block = &self->blocks [id];
        if (block->hash == hash && block->parent == parent
        &&  memcmp (self->tokens + (size_t) id * self->block_tokens, tokens, self->block_tokens * sizeof (int32_t)) == 0)
            return id;
    }
    return NONE;
}

int32_t
xinf_blocks_lookup (xinf_blocks_t *self, uint64_t hash, uint64_t parent, const int32_t *tokens)
{
    int32_t id = s_find (self, hash, parent, tokens);
    if (id == NONE)
        return NONE;
    if (self->blocks [id].refs == 0)
        s_lru_unlink (self, id);
    self->blocks [id].refs++;
    return id;
}

bool
xinf_blocks_publish (xinf_blocks_t *self, int32_t id, uint64_t hash, uint64_t parent, const int32_t *tokens)
{
    if (id < 0 || (size_t) id >= self->n_blocks || self->blocks [id].published || self->blocks [id].refs == 0)
        return false;
    for (int32_t other = self->buckets [s_bucket (self, hash)]; other != NONE; other = self->blocks [other].bucket_next)
        if (self->blocks [other].hash == hash)
            return false;
    s_block_t *block = &self->blocks [id];
    block->published = true;
    block->hash = hash;
    block->parent = parent;
    memcpy (self->tokens + (size_t) id * self->block_tokens, tokens, self->block_tokens * sizeof (int32_t));
    size_t bucket = s_bucket (self, hash);
    block->bucket_next = self->buckets [bucket];
    self->buckets [bucket] = id;
    return true;
}
