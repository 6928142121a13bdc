/*  xinf_vocab_trie: token pieces in a trie (xinf_vocab_trie.h).

    Built once from the pieces sorted as byte strings: a node's children
    are contiguous (in byte order), and so are the ids of the tokens whose
    piece ends at it (several tokens may decode to the same bytes: a byte
    token and a text token, say).
*/
#include "xinf_vocab_trie.h"

#include <stdlib.h>
#include <string.h>

#define S_STATE_MAX 64

typedef struct {
    uint32_t first_child, child_count;
    uint32_t first_token, token_count;
    unsigned char byte;
} s_node_t;

typedef struct {
    const unsigned char *bytes;
    uint32_t size;
    int32_t id;
} s_piece_t;

struct _xinf_vocab_trie_t {
    s_node_t *nodes;
    size_t node_count, node_alloc;
    int32_t *tokens;                  //  ids, grouped by the node their piece ends at
    size_t token_count;
    size_t depth;                     //  the longest piece
    unsigned char *states;            //  the walk's states, one per depth
    //  The walk in progress
    size_t state_size;
    xinf_trie_step_fn step;
    uint32_t *bits;
    size_t allowed;
};

static int
s_compare (const void *a, const void *b)
{
    const s_piece_t *left = (const s_piece_t *) a, *right = (const s_piece_t *) b;
    uint32_t common = left->size < right->size ? left->size : right->size;
    int order = memcmp (left->bytes, right->bytes, common);
    if (order)
        return order;
    if (left->size != right->size)
        return left->size < right->size ? -1 : 1;
    return left->id < right->id ? -1 : left->id > right->id;
}

//  Room for 'count' more nodes; false when out of memory.
static bool
s_reserve (xinf_vocab_trie_t *self, size_t count)
{
    if (self->node_count + count <= self->node_alloc)
        return true;
    size_t alloc = self->node_alloc ? self->node_alloc : 1024;
    while (alloc < self->node_count + count)
        alloc *= 2;
    s_node_t *nodes = realloc (self->nodes, alloc * sizeof (s_node_t));
    if (!nodes)
        return false;
    self->nodes = nodes;
    self->node_alloc = alloc;
    return true;
}

//  Node 'at' over pieces [lo, hi), which share their first 'depth' bytes:
//  its tokens (the pieces of that length), then a child per next byte.
static bool
s_build (xinf_vocab_trie_t *self, size_t at, const s_piece_t *pieces, size_t lo, size_t hi, uint32_t depth)
{
    self->nodes [at].first_token = (uint32_t) self->token_count;
    while (lo < hi && pieces [lo].size == depth)
        self->tokens [self->token_count++] = pieces [lo++].id;
    self->nodes [at].token_count = (uint32_t) (self->token_count - self->nodes [at].first_token);
    size_t children = 0;
    for (size_t index = lo; index < hi; index++)
        children += index == lo || pieces [index].bytes [depth] != pieces [index - 1].bytes [depth];
    if (!s_reserve (self, children))
        return false;
    size_t first = self->node_count;
    self->node_count += children;
    self->nodes [at].first_child = (uint32_t) first;
    self->nodes [at].child_count = (uint32_t) children;
    size_t child = first;
    for (size_t start = lo; start < hi; child++) {
        size_t end = start + 1;
        while (end < hi && pieces [end].bytes [depth] == pieces [start].bytes [depth])
            end++;
        self->nodes [child] = (s_node_t) { 0, 0, 0, 0, pieces [start].bytes [depth] };
        if (!s_build (self, child, pieces, start, end, depth + 1))
            return false;
        start = end;
    }
    return true;
}

//  The length of token 'id's piece if it is text (not a control token,
//  the unknown token, one of 'without' or empty), else 0.
static size_t
s_text_length (xinf_tokenizer_t *tokenizer, const uint32_t *without, size_t id)
{
    if (xinf_tokenizer_is_control (tokenizer, (int32_t) id) || (int64_t) id == xinf_tokenizer_unk (tokenizer)
    ||  (without && (without [id / 32] >> (id % 32)) & 1))
        return 0;
    long length = xinf_tokenizer_piece (tokenizer, (int32_t) id, NULL, 0);
    return length > 0 && length <= XINF_TOKENIZER_TEXT_MAX ? (size_t) length : 0;
}

//  The text tokens' pieces, their bytes in one block ('text', measured
//  first); their count, or -1 when out of memory.
static long
s_pieces (xinf_tokenizer_t *tokenizer, const uint32_t *without, s_piece_t *pieces, unsigned char **text)
{
    size_t vocab = xinf_tokenizer_vocab (tokenizer), total = 0, count = 0;
    for (size_t id = 0; id < vocab; id++)
        total += s_text_length (tokenizer, without, id);
    unsigned char *bytes = *text = malloc (total + 1);
    if (!bytes)
        return -1;
    for (size_t id = 0; id < vocab; id++) {
        size_t length = s_text_length (tokenizer, without, id);
        if (length == 0)
            continue;
        xinf_tokenizer_piece (tokenizer, (int32_t) id, (char *) bytes, length + 1);
        pieces [count++] = (s_piece_t) { bytes, (uint32_t) length, (int32_t) id };
        bytes += length;
    }
    return (long) count;
}

xinf_vocab_trie_t *
xinf_vocab_trie_new (xinf_tokenizer_t *tokenizer, const uint32_t *without)
{
    size_t vocab = xinf_tokenizer_vocab (tokenizer);
    xinf_vocab_trie_t *self = calloc (1, sizeof *self);
    s_piece_t *pieces = calloc (vocab ? vocab : 1, sizeof (s_piece_t));
    unsigned char *text = NULL;
    long count = self && pieces ? s_pieces (tokenizer, without, pieces, &text) : -1;
    bool good = count >= 0;
    if (good) {
        qsort (pieces, (size_t) count, sizeof (s_piece_t), s_compare);
        for (long index = 0; index < count; index++)
            self->depth = pieces [index].size > self->depth ? pieces [index].size : self->depth;
        self->tokens = calloc ((size_t) count + 1, sizeof (int32_t));
        self->states = malloc ((self->depth + 2) * S_STATE_MAX);
        good = self->tokens && self->states && s_reserve (self, 1);
    }
    if (good) {
        self->node_count = 1;
        self->nodes [0] = (s_node_t) { 0, 0, 0, 0, 0 };
        good = s_build (self, 0, pieces, 0, (size_t) count, 0);
    }
    free (pieces);
    free (text);
    if (!good)
        xinf_vocab_trie_destroy (&self);
    return self;
}

void
xinf_vocab_trie_destroy (xinf_vocab_trie_t **self_p)
{
    if (self_p && *self_p) {
        xinf_vocab_trie_t *self = *self_p;
        free (self->nodes);
        free (self->tokens);
        free (self->states);
        free (self);
        *self_p = NULL;
    }
}

//  The children of node 'at' from the state at 'level'.
static void
s_walk (xinf_vocab_trie_t *self, uint32_t at, size_t level)
{
    const s_node_t *node = &self->nodes [at];
    unsigned char *state = self->states + level * S_STATE_MAX, *next = state + S_STATE_MAX;
    for (uint32_t child = node->first_child; child < node->first_child + node->child_count; child++) {
        memcpy (next, state, self->state_size);
        if (!self->step (next, self->nodes [child].byte))
            continue;
        const s_node_t *taken = &self->nodes [child];
        for (uint32_t token = taken->first_token; token < taken->first_token + taken->token_count; token++) {
            int32_t id = self->tokens [token];
            self->bits [id / 32] |= (uint32_t) 1 << (id % 32);
            self->allowed++;
        }
        if (taken->child_count)
            s_walk (self, child, level + 1);
    }
}

size_t
xinf_vocab_trie_allowed (xinf_vocab_trie_t *self, const void *state, size_t state_size, xinf_trie_step_fn step,
                         uint32_t *bits)
{
    if (state_size > S_STATE_MAX)
        return 0;
    memcpy (self->states, state, state_size);
    self->state_size = state_size;
    self->step = step;
    self->bits = bits;
    self->allowed = 0;
    s_walk (self, 0, 0);
    return self->allowed;
}

//  The children of node 'at' from automaton state 'state'.
static size_t
s_walk_table (const xinf_vocab_trie_t *self, uint32_t at, uint32_t state, const uint32_t *table,
              const uint8_t *byte_class, size_t classes, uint32_t *bits)
{
    const s_node_t *node = &self->nodes [at];
    const uint32_t *row = table + (size_t) state * classes;
    size_t allowed = 0;
    for (uint32_t child = node->first_child; child < node->first_child + node->child_count; child++) {
        const s_node_t *taken = &self->nodes [child];
        uint32_t next = row [byte_class [taken->byte]];
        if (next == 0)
            continue;
        for (uint32_t token = taken->first_token; token < taken->first_token + taken->token_count; token++) {
            int32_t id = self->tokens [token];
            bits [id / 32] |= (uint32_t) 1 << (id % 32);
        }
        allowed += taken->token_count;
        if (taken->child_count)
            allowed += s_walk_table (self, child, next, table, byte_class, classes, bits);
    }
    return allowed;
}

size_t
xinf_vocab_trie_allowed_table (xinf_vocab_trie_t *self, const uint32_t *table, const uint8_t *byte_class,
                               size_t classes, uint32_t state, uint32_t *bits)
{
    return state ? s_walk_table (self, 0, state, table, byte_class, classes, bits) : 0;
}

size_t
xinf_vocab_trie_tokens (const xinf_vocab_trie_t *self)
{
    return self->token_count;
}

size_t
xinf_vocab_trie_nodes (const xinf_vocab_trie_t *self)
{
    return self->node_count;
}
