/*  xinf_spec_pool: recent answers, and their n-grams' last positions.  */
#include "xinf_spec_pool.h"
#include "xinf_spec.h"

#include <stdbool.h>
#include <stdlib.h>

#define S_GAP    (-1)                 //  between runs in the ring
#define S_PROBES 8                    //  slots an n-gram may take in the index

typedef struct {
    uint64_t key;                     //  0: empty
    uint64_t after;                   //  the ring position after the n-gram's last occurrence
} s_slot_t;

struct _xinf_spec_pool_t {
    int32_t *ring;
    size_t capacity;                  //  a power of two
    uint64_t end;                     //  tokens (and gaps) written so far
    s_slot_t *slots;
    size_t n_slots;                   //  a power of two
    size_t min_n, max_n;
};

xinf_spec_pool_t *
xinf_spec_pool_new (size_t capacity, size_t min_n, size_t max_n)
{
    if (!capacity || capacity > ((size_t) 1 << 30) || !min_n || max_n < min_n || max_n > XINF_SPEC_NGRAM_MAX)
        return NULL;
    xinf_spec_pool_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = 16;
    while (self->capacity < capacity)
        self->capacity *= 2;
    self->n_slots = self->capacity * 2;
    while (self->n_slots < self->capacity * (max_n - min_n + 1) * 2)
        self->n_slots *= 2;
    self->min_n = min_n;
    self->max_n = max_n;
    self->ring = malloc (self->capacity * sizeof (int32_t));
    self->slots = calloc (self->n_slots, sizeof (s_slot_t));
    if (!self->ring || !self->slots)
        xinf_spec_pool_destroy (&self);
    return self;
}

void
xinf_spec_pool_destroy (xinf_spec_pool_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->ring);
        free ((*self_p)->slots);
        free (*self_p);
        *self_p = NULL;
    }
}

static int32_t
s_at (const xinf_spec_pool_t *self, uint64_t position)
{
    return self->ring [position & (self->capacity - 1)];
}

//  An n-gram's key is its tokens mixed from the last backward, then its
//  length: so the keys of every n-gram ending at one position come from
//  one pass (s_mix per token, s_key per n).
#define S_SEED 0x9e3779b97f4a7c15ull

static uint64_t
s_mix (uint64_t hash, int32_t token)
{
    hash ^= (uint32_t) token;
    hash *= 0xff51afd7ed558ccdull;
    return hash ^ hash >> 32;
}

//  Never 0 (an empty slot).
static uint64_t
s_key (uint64_t hash, size_t n)
{
    hash = (hash ^ n) * 0xc4ceb9fe1a85ec53ull;
    return hash ? hash : 1;
}

//  Whether position 'after' is still in the ring with 'n' tokens before it.
static bool
s_alive (const xinf_spec_pool_t *self, uint64_t after, size_t n)
{
    return after <= self->end && after >= n && self->end - (after - n) <= self->capacity;
}

//  The n-gram with 'key' ending before ring position 'after' now ends there last.
static void
s_index (xinf_spec_pool_t *self, uint64_t key, size_t n, uint64_t after)
{
    size_t mask = self->n_slots - 1, home = (size_t) key & mask, take = home;
    for (size_t probe = 0; probe < S_PROBES; probe++) {
        s_slot_t *slot = &self->slots [(home + probe) & mask];
        if (slot->key == key || !slot->key || !s_alive (self, slot->after, n)) {
            take = (home + probe) & mask;
            break;
        }
    }
    self->slots [take] = (s_slot_t) { key, after };    //  all probed slots taken: the first gives way
}

void
xinf_spec_pool_add (xinf_spec_pool_t *self, const int32_t *tokens, size_t count)
{
    size_t run = 0;                   //  tokens of this run so far
    //  Of a run longer than the ring only its end would stay
    size_t first = count > self->capacity - 1 ? count - (self->capacity - 1) : 0;
    for (size_t index = first; index < count; index++) {
        if (tokens [index] < 0)
            continue;
        self->ring [self->end & (self->capacity - 1)] = tokens [index];
        self->end++;
        run++;
        uint64_t hash = S_SEED;
        for (size_t n = 1; n <= self->max_n && n <= run; n++) {
            hash = s_mix (hash, s_at (self, self->end - n));
            if (n >= self->min_n)
                s_index (self, s_key (hash, n), n, self->end);
        }
    }
    self->ring [self->end & (self->capacity - 1)] = S_GAP;
    self->end++;
}

//  Where the suffix of n tokens last occurred (the ring position after
//  it), or 0.
static uint64_t
s_find (const xinf_spec_pool_t *self, const int32_t *suffix, size_t n)
{
    uint64_t hash = S_SEED;
    for (size_t back = 1; back <= n; back++)
        hash = s_mix (hash, suffix [n - back]);
    uint64_t key = s_key (hash, n);
    size_t mask = self->n_slots - 1, home = (size_t) key & mask;
    for (size_t probe = 0; probe < S_PROBES; probe++) {
        const s_slot_t *slot = &self->slots [(home + probe) & mask];
        if (!slot->key)
            return 0;
        if (slot->key != key || !s_alive (self, slot->after, n))
            continue;
        bool same = true;
        for (size_t at = 0; at < n && same; at++)
            same = s_at (self, slot->after - n + at) == suffix [at];
        if (same)
            return slot->after;
    }
    return 0;
}

size_t
xinf_spec_pool_lookup (xinf_spec_pool_t *self, const int32_t *tokens, size_t count, int32_t *draft, size_t max,
                       size_t *matched)
{
    if (matched)
        *matched = 0;
    for (size_t n = self->max_n < count ? self->max_n : count; n >= self->min_n && n > 0; n--) {
        uint64_t after = s_find (self, tokens + count - n, n);
        size_t taken = 0;
        while (after && taken < max && after + taken < self->end && s_at (self, after + taken) != S_GAP) {
            draft [taken] = s_at (self, after + taken);
            taken++;
        }
        if (taken && matched)
            *matched = n;
        if (taken)
            return taken;
    }
    return 0;
}
