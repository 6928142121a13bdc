/*  xinf_regex_dfa: a Thompson automaton (xinf_regex_nfa.c) into a
    deterministic one by subset construction over byte classes (bytes no
    byte state tells apart share one), within limits of states, table size
    and work; then pruned to the states from which a whole match can still
    be reached (xinf_regex_private.h).  */
#include "xinf_regex_private.h"

#include <stdlib.h>
#include <string.h>

#define S_TABLE_MAX   (4u << 20)      //  states times byte classes
#define S_SMALL_STATES 2000           //  the limits of a small one (XINF_REGEX_SMALL)
#define S_SMALL_TABLE  (256u << 10)
#define S_SMALL_WORK   (2u << 20)

//  Determinizing: the sets of Thompson states that are the new states.
typedef struct {
    const xinf_rx_nfa_t *nfa;
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
    size_t states_max, table_max, work_max;
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
//  (in no order: a set is known by its members' marks, s_intern); ways
//  open only before the first byte (^) are taken in the 'initial' one.
static void
s_closure (s_builder_t *self, bool initial)
{
    self->found_count = 0;
    while (self->depth > 0) {
        uint32_t state = self->stack [--self->depth];
        const xinf_rx_nstate_t *item = &self->nfa->states [state];
        if (item->kind == XINF_RX_SPLIT) {
            s_push (self, item->out);
            s_push (self, item->out2);
        }
        else
        if (item->kind == XINF_RX_AT_START && initial)
            s_push (self, item->out);
        else
        if (item->kind == XINF_RX_BYTE || item->kind == XINF_RX_MATCH)
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
    if (self->states + 1 > self->states_max || (self->states + 2) * self->classes > self->table_max) {
        xinf_rx_error (self->error, self->error_size, "the expression needs more than %zu automaton states (or "
                       "%zu transitions); simplify it", self->states_max, self->table_max);
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
        if (self->nfa->states [self->found [index]].kind == XINF_RX_MATCH)
            self->flags [state] |= XINF_RX_ACCEPTING;
    return state;
}

//  The byte classes: bytes no byte state tells apart share one.
static void
s_classes (s_builder_t *self)
{
    bool cut [257] = { false };
    for (size_t index = 0; index < self->nfa->count; index++)
        if (self->nfa->states [index].kind == XINF_RX_BYTE) {
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
        const xinf_rx_nstate_t *item = &self->nfa->states [set [index]];
        if (item->kind == XINF_RX_BYTE)
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
        const xinf_rx_nstate_t *item = &self->nfa->states [set [index]];
        if (item->kind == XINF_RX_BYTE)
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
    s_closure (self, true);
    if (s_intern (self) != 1) {
        if (self->states == 0)
            xinf_rx_error (self->error, self->error_size, "the expression matches no text");
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
            s_closure (self, false);
            long next = s_intern (self);
            if (next < 0)
                return false;
            self->table [state * self->classes + class] = (uint32_t) next;
        }
        if (self->work > self->work_max) {
            xinf_rx_error (self->error, self->error_size, "the expression's automaton takes too long to build; "
                           "simplify it (a{0,n} rather than (?:a?){n}, fewer alternatives under a repetition)");
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
        if (self->flags [state] & XINF_RX_ACCEPTING) {
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
                self->flags [state] |= XINF_RX_ONWARD;
        }
    *live_count = tail;
    if (good && !live [1])
        xinf_rx_error (self->error, self->error_size, "the expression matches no text");
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

bool
xinf_rx_determinize (xinf_regex_t *regex, const xinf_rx_nfa_t *nfa, uint32_t start, char *error, size_t error_size)
{
    s_builder_t self = { .nfa = nfa, .error = error, .error_size = error_size, .capacity = 64,
                         .states_max = nfa->small ? S_SMALL_STATES : XINF_REGEX_STATES_MAX,
                         .table_max = nfa->small ? S_SMALL_TABLE : S_TABLE_MAX,
                         .work_max = nfa->small ? S_SMALL_WORK : XINF_RX_WORK_MAX };
    if (nfa->work_left && *nfa->work_left < self.work_max)
        self.work_max = *nfa->work_left;
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
    if (nfa->work_left)
        *nfa->work_left -= self.work < *nfa->work_left ? self.work : *nfa->work_left;
    s_builder_free (&self);
    return good;
}
