/*  xinf_regex: an expression's tree (xinf_regex_parse.c) into a
    Thompson automaton over bytes (code point sets as UTF-8 byte-range
    sequences), then by subset construction into a deterministic one over
    byte classes, pruned to the states that can still reach a whole
    match (xinf_regex.h).  */
#include "xinf_regex.h"
#include "xinf_regex_private.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NFA_MAX     200000          //  the Thompson automaton's states
#define S_TABLE_MAX   (4u << 20)      //  states times byte classes
#define S_WORK_MAX    (32u << 20)     //  set members and moves visited while determinizing
#define S_NONE        UINT32_MAX       //  too large, out of memory
#define S_NOTHING     (UINT32_MAX - 1) //  no alternative yet

#define S_ACCEPTING   1               //  a state's flags
#define S_ONWARD      2

typedef enum { S_BYTE, S_SPLIT, S_MATCH, S_FAIL } s_kind_t;

typedef struct {
    uint8_t kind, lo, hi;
    uint32_t out, out2;
} s_nstate_t;

typedef struct {
    s_nstate_t *states;
    size_t count, capacity;
    const xinf_rx_tree_t *tree;
    bool json_text;                   //  no quote, backslash or control character (XINF_REGEX_JSON_TEXT)
} s_nfa_t;

struct _xinf_regex_t {
    uint64_t serial;
    uint8_t byte_class [256];
    size_t classes;
    size_t states;                    //  numbered from 1; 0 is the dead state
    size_t live;
    uint32_t *table;                  //  [state * classes + class]: the next state, 0: refused
    uint8_t *flags;                   //  S_ACCEPTING, S_ONWARD
};

static void
s_error (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
}

//  A new state, or S_NONE past S_NFA_MAX or out of memory.
static uint32_t
s_state (s_nfa_t *nfa, s_kind_t kind, uint8_t lo, uint8_t hi, uint32_t out, uint32_t out2)
{
    if (nfa->count >= S_NFA_MAX)
        return S_NONE;
    if (nfa->count == nfa->capacity) {
        size_t capacity = nfa->capacity ? nfa->capacity * 2 : 256;
        s_nstate_t *states = realloc (nfa->states, capacity * sizeof *states);
        if (!states)
            return S_NONE;
        nfa->states = states;
        nfa->capacity = capacity;
    }
    nfa->states [nfa->count] = (s_nstate_t) { (uint8_t) kind, lo, hi, out, out2 };
    return (uint32_t) nfa->count++;
}

//  *start, or a split between it and 'other' (S_NONE stays S_NONE).
static uint32_t
s_either (s_nfa_t *nfa, uint32_t start, uint32_t other)
{
    if (start == S_NONE || other == S_NONE)
        return S_NONE;
    return s_state (nfa, S_SPLIT, 0, 0, start, other);
}

//  The UTF-8 encoding of 'code' into 'bytes': its length.
static size_t
s_encode (uint32_t code, uint8_t *bytes)
{
    if (code < 0x80) {
        bytes [0] = (uint8_t) code;
        return 1;
    }
    size_t length = code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    for (size_t index = length - 1; index > 0; index--) {
        bytes [index] = (uint8_t) (0x80 | (code & 0x3F));
        code >>= 6;
    }
    bytes [0] = (uint8_t) ((0xF00u >> length) | code);
    return length;
}

//  The code points lo..hi (no surrogates, one encoded length, and split
//  so that each byte position is one range) as a chain of byte states
//  into 'next'; added to *start as an alternative.
static void
s_sequence (s_nfa_t *nfa, uint32_t lo, uint32_t hi, uint32_t next, uint32_t *start)
{
    uint8_t low [4], high [4];
    size_t length = s_encode (lo, low);
    s_encode (hi, high);
    uint32_t chain = next;
    for (size_t index = length; index-- > 0 && chain != S_NONE; )
        chain = s_state (nfa, S_BYTE, low [index], high [index], chain, 0);
    *start = *start == S_NOTHING ? chain : s_either (nfa, chain, *start);
}

//  Code points lo..hi as UTF-8 byte-range sequences (the split of
//  RE2's and Rust's utf8-ranges: at encoded lengths, then at the
//  boundaries where a continuation byte's range would not be whole).
static void
s_code_range (s_nfa_t *nfa, uint32_t lo, uint32_t hi, uint32_t next, uint32_t *start)
{
    if (lo > hi || *start == S_NONE)
        return;
    if (lo <= 0xDFFF && hi >= 0xD800) {
        if (lo < 0xD800)
            s_code_range (nfa, lo, 0xD7FF, next, start);
        if (hi > 0xDFFF)
            s_code_range (nfa, 0xE000, hi, next, start);
        return;
    }
    static const uint32_t length_max [3] = { 0x7F, 0x7FF, 0xFFFF };
    for (size_t index = 0; index < 3; index++)
        if (lo <= length_max [index] && hi > length_max [index]) {
            s_code_range (nfa, lo, length_max [index], next, start);
            s_code_range (nfa, length_max [index] + 1, hi, next, start);
            return;
        }
    uint8_t bytes [4];
    size_t length = s_encode (lo, bytes);
    for (size_t index = 1; index < length; index++) {
        uint32_t mask = (1u << (6 * index)) - 1;
        if ((lo & ~mask) == (hi & ~mask))
            continue;
        if (lo & mask) {
            s_code_range (nfa, lo, lo | mask, next, start);
            s_code_range (nfa, (lo | mask) + 1, hi, next, start);
            return;
        }
        if ((hi & mask) != mask) {
            s_code_range (nfa, lo, (hi & ~mask) - 1, next, start);
            s_code_range (nfa, hi & ~mask, hi, next, start);
            return;
        }
    }
    s_sequence (nfa, lo, hi, next, start);
}

static uint32_t s_compile (s_nfa_t *nfa, int node, uint32_t next);

//  Code points lo..hi less those a JSON string's text has escaped, when
//  the expression is read so.
static void
s_kept_range (s_nfa_t *nfa, uint32_t lo, uint32_t hi, uint32_t next, uint32_t *start)
{
    static const xinf_rx_range_t escaped [] = { { 0, 0x1F }, { '"', '"' }, { '\\', '\\' } };
    for (size_t index = 0; nfa->json_text && index < 3 && lo <= hi; index++) {
        if (hi < escaped [index].lo || lo > escaped [index].hi)
            continue;
        if (lo < escaped [index].lo)
            s_code_range (nfa, lo, escaped [index].lo - 1, next, start);
        if (escaped [index].hi >= hi)
            return;
        lo = escaped [index].hi + 1;
    }
    s_code_range (nfa, lo, hi, next, start);
}

//  A set: one of its code points, then 'next'.
static uint32_t
s_compile_set (s_nfa_t *nfa, const xinf_rx_node_t *node, uint32_t next)
{
    uint32_t start = S_NOTHING;
    const xinf_rx_range_t *ranges = nfa->tree->ranges + node->range_at;
    for (size_t index = 0; index < node->range_count && start != S_NONE; index++)
        s_kept_range (nfa, ranges [index].lo, ranges [index].hi, next, &start);
    if (start == S_NOTHING)                     //  the empty set: nothing matches
        start = s_state (nfa, S_FAIL, 0, 0, 0, 0);
    return start;
}

//  A child min to max times, then 'next'.
static uint32_t
s_compile_repeat (s_nfa_t *nfa, const xinf_rx_node_t *node, uint32_t next)
{
    uint32_t start = next;
    if (node->max < 0) {
        uint32_t loop = s_state (nfa, S_SPLIT, 0, 0, S_NONE, next);
        uint32_t body = loop == S_NONE ? S_NONE : s_compile (nfa, node->first, loop);
        if (body == S_NONE)
            return S_NONE;
        nfa->states [loop].out = body;
        start = loop;
    }
    else
        for (int count = node->min; count < node->max && start != S_NONE; count++)
            start = s_either (nfa, s_compile (nfa, node->first, start), next);
    for (int count = 0; count < node->min && start != S_NONE; count++)
        start = s_compile (nfa, node->first, start);
    return start;
}

//  The automaton of tree node 'node' followed by state 'next' (built
//  backwards): its start, or S_NONE when too large or out of memory.
static uint32_t
s_compile (s_nfa_t *nfa, int node, uint32_t next)
{
    const xinf_rx_node_t *item = &nfa->tree->nodes [node];
    uint32_t start = next;
    if (item->kind == XINF_RX_SET)
        return s_compile_set (nfa, item, next);
    if (item->kind == XINF_RX_REPEAT)
        return s_compile_repeat (nfa, item, next);
    if (item->kind == XINF_RX_CONCAT) {
        size_t count = 0;
        for (int child = item->first; child >= 0; child = nfa->tree->nodes [child].next)
            count++;
        int *children = malloc ((count + 1) * sizeof (int));
        if (!children)
            return S_NONE;
        count = 0;
        for (int child = item->first; child >= 0; child = nfa->tree->nodes [child].next)
            children [count++] = child;
        while (count > 0 && start != S_NONE)
            start = s_compile (nfa, children [--count], start);
        free (children);
        return start;
    }
    if (item->kind == XINF_RX_ALT) {
        start = S_NOTHING;
        for (int child = item->first; child >= 0 && start != S_NONE; child = nfa->tree->nodes [child].next) {
            uint32_t branch = s_compile (nfa, child, next);
            start = start == S_NOTHING ? branch : s_either (nfa, branch, start);
        }
        return start == S_NOTHING ? next : start;
    }
    return next;                                //  XINF_RX_EMPTY
}

//  Determinizing: the sets of Thompson states that are the new states.
typedef struct {
    const s_nfa_t *nfa;
    uint32_t *mark, stamp;            //  per Thompson state: the closure it was last seen in
    uint32_t *stack;
    size_t depth;
    uint32_t *found;                  //  the closure's byte and match states, sorted
    size_t found_count;
    uint32_t *pool;                   //  every state's set
    size_t pool_count, pool_capacity;
    size_t *set_at, *set_length;      //  per state, from 1
    uint32_t *slots;                  //  hash of sets: state numbers, 0 free
    size_t slot_count;
    uint32_t *table;
    uint8_t *flags;
    size_t states, capacity;          //  states so far; rows the table holds
    size_t work;                      //  members and moves visited
    uint32_t *seeds;                  //  a state's moves by class
    size_t seed_capacity;
    size_t class_at [257], class_fill [256];
    uint8_t byte_class [256];
    size_t classes;
    char *error;
    size_t error_size;
} s_builder_t;

static void
s_push (s_builder_t *self, uint32_t state)
{
    if (self->mark [state] != self->stamp) {
        self->mark [state] = self->stamp;
        self->stack [self->depth++] = state;
        self->work++;
    }
}

//  The states reached from those pushed without a byte: into 'found'
//  (in no order: a set is known by its members' marks, s_intern).
static void
s_closure (s_builder_t *self)
{
    self->found_count = 0;
    while (self->depth > 0) {
        uint32_t state = self->stack [--self->depth];
        const s_nstate_t *item = &self->nfa->states [state];
        if (item->kind == S_SPLIT) {
            s_push (self, item->out);
            s_push (self, item->out2);
        }
        else
        if (item->kind == S_BYTE || item->kind == S_MATCH)
            self->found [self->found_count++] = state;
    }
}

//  A set's hash, whatever its order: a sum of its members' mixes.
static uint64_t
s_hash (const uint32_t *set, size_t count)
{
    uint64_t hash = count;
    for (size_t index = 0; index < count; index++) {
        uint64_t mix = (set [index] + 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
        hash += mix ^ (mix >> 31);
    }
    return hash;
}

//  Whether state 'state's set is the closure just found: as many
//  members, each marked in it.
static bool
s_same_set (const s_builder_t *self, uint32_t state)
{
    if (self->set_length [state] != self->found_count)
        return false;
    const uint32_t *set = self->pool + self->set_at [state];
    for (size_t index = 0; index < self->found_count; index++)
        if (self->mark [set [index]] != self->stamp)
            return false;
    return true;
}

//  Room for one more state; false (with the reason) past the limits.
static bool
s_room (s_builder_t *self)
{
    if (self->states + 1 > XINF_REGEX_STATES_MAX || (self->states + 2) * self->classes > S_TABLE_MAX) {
        s_error (self->error, self->error_size, "the expression needs more than %zu automaton states (or %u "
                 "transitions); simplify it", (size_t) XINF_REGEX_STATES_MAX, S_TABLE_MAX);
        return false;
    }
    if (self->pool_count + self->found_count > self->pool_capacity) {
        size_t capacity = (self->pool_count + self->found_count) * 2;
        uint32_t *pool = realloc (self->pool, capacity * sizeof *pool);
        if (!pool)
            return false;
        self->pool = pool;
        self->pool_capacity = capacity;
    }
    if (self->states + 2 > self->capacity) {
        size_t capacity = self->capacity * 2;
        uint32_t *table = realloc (self->table, capacity * self->classes * sizeof *table);
        if (table)
            self->table = table;
        uint8_t *flags = realloc (self->flags, capacity);
        if (flags)
            self->flags = flags;
        if (!table || !flags)
            return false;
        memset (self->table + self->capacity * self->classes, 0,
                (capacity - self->capacity) * self->classes * sizeof *table);
        memset (self->flags + self->capacity, 0, capacity - self->capacity);
        self->capacity = capacity;
    }
    return true;
}

//  The state whose set is 'found', added when new: its number, 0 for
//  the empty set, or -1 past the limits.
static long
s_intern (s_builder_t *self)
{
    if (self->found_count == 0)
        return 0;
    size_t mask = self->slot_count - 1;
    size_t slot = (size_t) s_hash (self->found, self->found_count) & mask;
    for (; self->slots [slot]; slot = (slot + 1) & mask)
        if (s_same_set (self, self->slots [slot]))
            return self->slots [slot];
    if (!s_room (self))
        return -1;
    uint32_t state = (uint32_t) ++self->states;
    memcpy (self->pool + self->pool_count, self->found, self->found_count * sizeof (uint32_t));
    self->set_at [state] = self->pool_count;
    self->set_length [state] = self->found_count;
    self->pool_count += self->found_count;
    self->slots [slot] = state;
    for (size_t index = 0; index < self->found_count; index++)
        if (self->nfa->states [self->found [index]].kind == S_MATCH)
            self->flags [state] |= S_ACCEPTING;
    return state;
}

//  The byte classes: bytes no byte state tells apart share one.
static void
s_classes (s_builder_t *self)
{
    bool cut [257] = { false };
    for (size_t index = 0; index < self->nfa->count; index++)
        if (self->nfa->states [index].kind == S_BYTE) {
            cut [self->nfa->states [index].lo] = true;
            cut [self->nfa->states [index].hi + 1] = true;
        }
    size_t classes = 0;
    for (size_t byte = 0; byte < 256; byte++) {
        if (byte == 0 || cut [byte])
            classes++;
        self->byte_class [byte] = (uint8_t) (classes - 1);
    }
    self->classes = classes;
}

//  The moves of state 'state': each byte state's next state, bucketed
//  by the classes its byte range covers (class_at [c] .. class_at [c+1]
//  in 'seeds'). False when out of memory.
static bool
s_bucket (s_builder_t *self, size_t state)
{
    const uint32_t *set = self->pool + self->set_at [state];
    size_t length = self->set_length [state], total = 0;
    memset (self->class_at, 0, (self->classes + 1) * sizeof (size_t));
    for (size_t index = 0; index < length; index++) {
        const s_nstate_t *item = &self->nfa->states [set [index]];
        if (item->kind == S_BYTE)
            for (size_t class = self->byte_class [item->lo]; class <= self->byte_class [item->hi]; class++) {
                self->class_at [class + 1]++;
                total++;
            }
    }
    if (total > self->seed_capacity) {
        uint32_t *seeds = realloc (self->seeds, total * 2 * sizeof (uint32_t));
        if (!seeds)
            return false;
        self->seeds = seeds;
        self->seed_capacity = total * 2;
    }
    for (size_t class = 0; class < self->classes; class++)
        self->class_at [class + 1] += self->class_at [class];
    memcpy (self->class_fill, self->class_at, self->classes * sizeof (size_t));
    for (size_t index = 0; index < length; index++) {
        const s_nstate_t *item = &self->nfa->states [set [index]];
        if (item->kind == S_BYTE)
            for (size_t class = self->byte_class [item->lo]; class <= self->byte_class [item->hi]; class++)
                self->seeds [self->class_fill [class]++] = item->out;
    }
    self->work += total + length;
    return true;
}

//  Every state's move on every class, states made as they are found.
static bool
s_determinize (s_builder_t *self, uint32_t start)
{
    self->stamp++;
    s_push (self, start);
    s_closure (self);
    if (s_intern (self) != 1) {
        if (self->states == 0)
            s_error (self->error, self->error_size, "the expression matches no text");
        return false;
    }
    for (size_t state = 1; state <= self->states; state++) {
        if (!s_bucket (self, state))
            return false;
        for (size_t class = 0; class < self->classes; class++) {
            size_t from = self->class_at [class], to = self->class_at [class + 1];
            if (from == to)
                continue;                       //  no move: refused
            self->stamp++;
            for (size_t at = from; at < to; at++)
                s_push (self, self->seeds [at]);
            s_closure (self);
            long next = s_intern (self);
            if (next < 0)
                return false;
            self->table [state * self->classes + class] = (uint32_t) next;
        }
        if (self->work > S_WORK_MAX) {
            s_error (self->error, self->error_size, "the expression's automaton takes too long to build; simplify it");
            return false;
        }
    }
    return true;
}

//  Keeps the states that reach a whole match (backwards from the
//  accepting ones): moves into the others become refusals.
static bool
s_prune (s_builder_t *self, size_t *live_count)
{
    size_t states = self->states, classes = self->classes;
    uint32_t *offset = calloc (states + 2, sizeof (uint32_t));
    uint32_t *sources = malloc ((states * classes + 1) * sizeof (uint32_t));
    uint32_t *queue = malloc ((states + 1) * sizeof (uint32_t));
    uint8_t *live = calloc (states + 1, 1);
    bool good = offset && sources && queue && live;
    for (size_t state = 1; good && state <= states; state++)
        for (size_t class = 0; class < classes; class++)
            offset [self->table [state * classes + class] + 1]++;
    for (size_t state = 1; good && state <= states + 1; state++)
        offset [state] += offset [state - 1];
    for (size_t state = 1; good && state <= states; state++)
        for (size_t class = 0; class < classes; class++)
            sources [offset [self->table [state * classes + class]]++] = (uint32_t) state;
    //  offset [t] is now the end of t's sources; t - 1's end is their start
    size_t head = 0, tail = 0;
    for (size_t state = 1; good && state <= states; state++)
        if (self->flags [state] & S_ACCEPTING) {
            live [state] = 1;
            queue [tail++] = (uint32_t) state;
        }
    while (good && head < tail) {
        uint32_t target = queue [head++];
        for (uint32_t at = offset [target - 1]; at < offset [target]; at++)
            if (!live [sources [at]]) {
                live [sources [at]] = 1;
                queue [tail++] = sources [at];
            }
    }
    for (size_t state = 1; good && state <= states; state++)
        for (size_t class = 0; class < classes; class++) {
            uint32_t *next = &self->table [state * classes + class];
            *next = live [*next] ? *next : 0;
            if (*next)
                self->flags [state] |= S_ONWARD;
        }
    *live_count = tail;
    if (good && !live [1])
        s_error (self->error, self->error_size, "the expression matches no text");
    good = good && live [1];
    free (offset);
    free (sources);
    free (queue);
    free (live);
    return good;
}

static void
s_builder_free (s_builder_t *self)
{
    free (self->mark);
    free (self->stack);
    free (self->found);
    free (self->pool);
    free (self->set_at);
    free (self->set_length);
    free (self->slots);
    free (self->table);
    free (self->flags);
    free (self->seeds);
}

//  The deterministic automaton of 'nfa' from 'start' into 'regex'.
static bool
s_build (xinf_regex_t *regex, const s_nfa_t *nfa, uint32_t start, char *error, size_t error_size)
{
    s_builder_t self = { .nfa = nfa, .error = error, .error_size = error_size, .capacity = 64 };
    s_classes (&self);
    self.slot_count = 65536;                    //  a power of two past twice XINF_REGEX_STATES_MAX
    self.mark = calloc (nfa->count, sizeof (uint32_t));
    self.stack = malloc (nfa->count * sizeof (uint32_t));
    self.found = malloc (nfa->count * sizeof (uint32_t));
    self.set_at = malloc ((XINF_REGEX_STATES_MAX + 2) * sizeof (size_t));
    self.set_length = malloc ((XINF_REGEX_STATES_MAX + 2) * sizeof (size_t));
    self.slots = calloc (self.slot_count, sizeof (uint32_t));
    self.table = calloc (self.capacity * self.classes, sizeof (uint32_t));
    self.flags = calloc (self.capacity, 1);
    bool good = self.mark && self.stack && self.found && self.set_at && self.set_length && self.slots && self.table
             && self.flags && s_determinize (&self, start) && s_prune (&self, &regex->live);
    if (good) {
        regex->classes = self.classes;
        regex->states = self.states;
        memcpy (regex->byte_class, self.byte_class, sizeof regex->byte_class);
        regex->table = self.table;
        regex->flags = self.flags;
        self.table = NULL;
        self.flags = NULL;
    }
    s_builder_free (&self);
    return good;
}

//  The backslashes right before offset 'at'.
static size_t
s_backslashes (const char *pattern, size_t at)
{
    size_t count = 0;
    while (at > count && pattern [at - count - 1] == '\\')
        count++;
    return count;
}

//  Whether a searched expression is held at its start (^, \A) and at its
//  end ($, \Z, \z, not escaped).
static void
s_anchors (const char *pattern, size_t size, bool *start, bool *end)
{
    *start = (size >= 1 && pattern [0] == '^') || (size >= 2 && pattern [0] == '\\' && pattern [1] == 'A');
    *end = (size >= 1 && pattern [size - 1] == '$' && s_backslashes (pattern, size - 1) % 2 == 0)
        || (size >= 2 && (pattern [size - 1] == 'Z' || pattern [size - 1] == 'z') && pattern [size - 2] == '\\'
            && s_backslashes (pattern, size - 2) % 2 == 0);
}

//  The Thompson automaton of a parsed tree: its start, or S_NONE.
static uint32_t
s_thompson (s_nfa_t *nfa, xinf_rx_tree_t *tree, const char *pattern, size_t size, int flags)
{
    uint32_t match = s_state (nfa, S_MATCH, 0, 0, 0, 0);
    bool held_start = true, held_end = true;
    if (flags & XINF_REGEX_SEARCH)
        s_anchors (pattern, size, &held_start, &held_end);
    int any = held_start && held_end ? -1 : xinf_rx_tree_any_text (tree);
    if (!(held_start && held_end) && any < 0)
        return S_NONE;
    nfa->tree = tree;
    uint32_t tail = held_end || match == S_NONE ? match : s_compile (nfa, any, match);
    uint32_t start = tail == S_NONE ? S_NONE : s_compile (nfa, tree->root, tail);
    return held_start || start == S_NONE ? start : s_compile (nfa, any, start);
}

xinf_regex_t *
xinf_regex_new_flags (const char *pattern, size_t size, int flags, char *error, size_t error_size)
{
    s_error (error, error_size, "out of memory");
    xinf_rx_tree_t tree = { 0 };
    xinf_regex_t *self = NULL;
    if (xinf_rx_parse (pattern, size, &tree, error, error_size) == 0) {
        s_nfa_t nfa = { .json_text = (flags & XINF_REGEX_JSON_TEXT) != 0 };
        uint32_t start = s_thompson (&nfa, &tree, pattern, size, flags);
        if (start == S_NONE && nfa.count >= S_NFA_MAX)
            s_error (error, error_size, "the expression is too large once its repetitions are written out "
                     "(more than %d states)", S_NFA_MAX);
        self = start == S_NONE ? NULL : calloc (1, sizeof *self);
        if (self && !s_build (self, &nfa, start, error, error_size))
            xinf_regex_destroy (&self);
        free (nfa.states);
    }
    xinf_rx_tree_free (&tree);
    if (self) {
        static atomic_uint_fast64_t serials;
        self->serial = atomic_fetch_add (&serials, 1) + 1;
    }
    return self;
}

xinf_regex_t *
xinf_regex_new (const char *pattern, size_t size, char *error, size_t error_size)
{
    return xinf_regex_new_flags (pattern, size, 0, error, error_size);
}

void
xinf_regex_destroy (xinf_regex_t **self_p)
{
    if (self_p && *self_p) {
        xinf_regex_t *self = *self_p;
        free (self->table);
        free (self->flags);
        free (self);
        *self_p = NULL;
    }
}

size_t
xinf_regex_states (const xinf_regex_t *self)
{
    return self->live;
}

void
xinf_regex_start (xinf_regex_state_t *state, const xinf_regex_t *regex)
{
    memset (state, 0, sizeof *state);
    state->regex = regex;
    state->serial = regex->serial;
    state->state = XINF_REGEX_START;
}

uint32_t
xinf_regex_next (const xinf_regex_t *self, uint32_t state, unsigned char byte)
{
    return state <= self->states ? self->table [state * self->classes + self->byte_class [byte]] : 0;
}

bool
xinf_regex_accepts (const xinf_regex_t *self, uint32_t state)
{
    return state <= self->states && (self->flags [state] & S_ACCEPTING);
}

bool
xinf_regex_step (xinf_regex_state_t *state, unsigned char byte)
{
    uint32_t next = xinf_regex_next (state->regex, state->state, byte);
    if (next == 0)
        return false;
    state->state = next;
    return true;
}

bool
xinf_regex_feed (xinf_regex_state_t *state, const void *bytes, size_t size)
{
    xinf_regex_state_t next = *state;
    for (size_t at = 0; at < size; at++)
        if (!xinf_regex_step (&next, ((const unsigned char *) bytes) [at]))
            return false;
    *state = next;
    return true;
}

bool
xinf_regex_accepting (const xinf_regex_state_t *state)
{
    return (state->regex->flags [state->state] & S_ACCEPTING) != 0;
}

bool
xinf_regex_done (const xinf_regex_state_t *state)
{
    return state->regex->flags [state->state] == S_ACCEPTING;
}

bool
xinf_regex_match (const xinf_regex_t *self, const char *text, size_t size)
{
    xinf_regex_state_t state;
    xinf_regex_start (&state, self);
    return xinf_regex_feed (&state, text, size) && xinf_regex_accepting (&state);
}

long
xinf_regex_quote (const char *text, size_t size, char *out, size_t out_size)
{
    size_t length = 0;
    for (size_t at = 0; at < size; at++) {
        bool meta = text [at] && strchr ("\\.^$|?*+()[]{}", text [at]);
        if (length + meta + 2 > out_size)
            return -1;
        if (meta)
            out [length++] = '\\';
        out [length++] = text [at];
    }
    if (out_size == 0)
        return -1;
    out [length] = 0;
    return (long) length;
}
