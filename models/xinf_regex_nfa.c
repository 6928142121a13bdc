/*  xinf_regex_nfa: a parsed expression (xinf_regex_parse.c) into a
    Thompson automaton over bytes, built backwards from the match: code
    point sets become UTF-8 byte-range sequences, repetitions are written
    out, a searched expression gets any text around it
    (xinf_regex_private.h).  */
#include "xinf_regex_private.h"
#include "xinf_pda.h"

#include <stdlib.h>
#include <string.h>

#define S_NOTHING  (UINT32_MAX - 1)   //  no alternative yet
#define S_ANCHOR_WORK_MAX  (8u << 20) //  states the end anchors' walks visit

//  A new state, or XINF_RX_NONE past XINF_RX_NFA_MAX or out of memory.
static uint32_t
s_state (xinf_rx_nfa_t *nfa, xinf_rx_state_kind_t kind, uint8_t lo, uint8_t hi, uint32_t out, uint32_t out2)
{
    if (nfa->count >= XINF_RX_NFA_MAX)
        return XINF_RX_NONE;
    if (nfa->count == nfa->capacity) {
        size_t capacity = nfa->capacity ? nfa->capacity * 2 : 256;
        xinf_rx_nstate_t *states = realloc (nfa->states, capacity * sizeof *states);
        if (!states)
            return XINF_RX_NONE;
        nfa->states = states;
        nfa->capacity = capacity;
    }
    nfa->states [nfa->count] = (xinf_rx_nstate_t) { (uint8_t) kind, lo, hi, out, out2 };
    return (uint32_t) nfa->count++;
}

//  *start, or a split between it and 'other' (XINF_RX_NONE stays XINF_RX_NONE).
static uint32_t
s_either (xinf_rx_nfa_t *nfa, uint32_t start, uint32_t other)
{
    if (start == XINF_RX_NONE || other == XINF_RX_NONE)
        return XINF_RX_NONE;
    return s_state (nfa, XINF_RX_SPLIT, 0, 0, start, other);
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
s_sequence (xinf_rx_nfa_t *nfa, uint32_t lo, uint32_t hi, uint32_t next, uint32_t *start)
{
    uint8_t low [4], high [4];
    size_t length = s_encode (lo, low);
    s_encode (hi, high);
    uint32_t chain = next;
    for (size_t index = length; index-- > 0 && chain != XINF_RX_NONE; )
        chain = s_state (nfa, XINF_RX_BYTE, low [index], high [index], chain, 0);
    *start = *start == S_NOTHING ? chain : s_either (nfa, chain, *start);
}

//  Code points lo..hi as UTF-8 byte-range sequences (the split of
//  RE2's and Rust's utf8-ranges: at encoded lengths, then at the
//  boundaries where a continuation byte's range would not be whole).
static void
s_code_range (xinf_rx_nfa_t *nfa, uint32_t lo, uint32_t hi, uint32_t next, uint32_t *start)
{
    if (lo > hi || *start == XINF_RX_NONE)
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

static uint32_t s_compile (xinf_rx_nfa_t *nfa, int node, uint32_t next);

//  Code points lo..hi less those a JSON string's text has escaped, when
//  the expression is read so.
static void
s_kept_range (xinf_rx_nfa_t *nfa, uint32_t lo, uint32_t hi, uint32_t next, uint32_t *start)
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
s_compile_set (xinf_rx_nfa_t *nfa, const xinf_rx_node_t *node, uint32_t next)
{
    uint32_t start = S_NOTHING;
    //  an empty set may come from a tree without ranges at all (NULL)
    const xinf_rx_range_t *ranges = node->range_count ? nfa->tree->ranges + node->range_at : NULL;
    for (size_t index = 0; index < node->range_count && start != XINF_RX_NONE; index++)
        s_kept_range (nfa, ranges [index].lo, ranges [index].hi, next, &start);
    if (start == S_NOTHING)                     //  the empty set: nothing matches
        start = s_state (nfa, XINF_RX_FAIL, 0, 0, 0, 0);
    return start;
}

//  A child min to max times, then 'next'.
static uint32_t
s_compile_repeat (xinf_rx_nfa_t *nfa, const xinf_rx_node_t *node, uint32_t next)
{
    uint32_t start = next;
    if (node->max < 0) {
        uint32_t loop = s_state (nfa, XINF_RX_SPLIT, 0, 0, XINF_RX_NONE, next);
        uint32_t body = loop == XINF_RX_NONE ? XINF_RX_NONE : s_compile (nfa, node->first, loop);
        if (body == XINF_RX_NONE)
            return XINF_RX_NONE;
        nfa->states [loop].out = body;
        start = loop;
    }
    else
        for (int count = node->min; count < node->max && start != XINF_RX_NONE; count++)
            start = s_either (nfa, s_compile (nfa, node->first, start), next);
    for (int count = 0; count < node->min && start != XINF_RX_NONE; count++)
        start = s_compile (nfa, node->first, start);
    return start;
}

//  From the states on 'stack' (depth of them), without a byte and not
//  through a way open only before the first byte: whether the match is
//  reached, and (for 'byte' 0-255) the states that byte leads to, onto
//  'next' (*next_count). End anchors not yet rewritten are passed where
//  they hold: with no byte left, and ($) before a last newline. Marks
//  what it sees; nfa->over past the budget.
static bool
s_walk (xinf_rx_nfa_t *nfa, uint32_t *stack, size_t depth, int byte, uint32_t *next, size_t *next_count)
{
    bool found = false;
    nfa->stamp++;
    while (depth > 0 && !nfa->over) {
        uint32_t state = stack [--depth];
        if (state >= nfa->count || nfa->mark [state] == nfa->stamp)
            continue;                           //  a loop's way not yet set, or seen
        nfa->mark [state] = nfa->stamp;
        nfa->over = ++nfa->work > S_ANCHOR_WORK_MAX;
        const xinf_rx_nstate_t *item = &nfa->states [state];
        found = found || item->kind == XINF_RX_MATCH;
        if (item->kind == XINF_RX_SPLIT) {
            stack [depth++] = item->out;
            stack [depth++] = item->out2;
        }
        else
        if (item->kind == XINF_RX_AT_END && (byte < 0 || (byte == '\n' && item->lo)))
            stack [depth++] = item->out;        //  an end anchor not yet rewritten holds at the end, $ before its newline
        else
        if (item->kind == XINF_RX_BYTE && byte >= item->lo && byte <= item->hi)
            next [(*next_count)++] = item->out;
    }
    return found;
}

//  Whether the match is reached from 'from' without a byte, or (for
//  'byte' 0-255) after that one byte.
static bool
s_reaches (xinf_rx_nfa_t *nfa, uint32_t from, int byte)
{
    if (nfa->mark_size < nfa->capacity) {
        uint32_t *mark = realloc (nfa->mark, nfa->capacity * sizeof (uint32_t));
        if (!mark) {
            nfa->over = true;
            return false;
        }
        memset (mark + nfa->mark_size, 0, (nfa->capacity - nfa->mark_size) * sizeof (uint32_t));
        nfa->mark = mark;
        nfa->mark_size = nfa->capacity;
    }
    uint32_t *stack = malloc (3 * (nfa->count + 1) * sizeof (uint32_t));
    uint32_t *next = malloc ((nfa->count + 1) * sizeof (uint32_t));
    size_t next_count = 0;
    bool found = false;
    if (stack && next) {
        stack [0] = from;
        found = s_walk (nfa, stack, 1, byte, next, &next_count);
        if (byte >= 0) {
            memcpy (stack, next, next_count * sizeof (uint32_t));
            size_t ignored = 0;
            found = s_walk (nfa, stack, next_count, -1, next, &ignored);
        }
    }
    else
        nfa->over = true;
    free (stack);
    free (next);
    return found && !nfa->over;
}

//  Each end anchor (\Z; $ with lo 1) rewritten, once the whole automaton
//  is built (so that a loop's way back is there), into the way straight
//  to the match that what follows it allows: with nothing left, or ($)
//  with a newline that ends the text, or none.
static bool
s_resolve_ends (xinf_rx_nfa_t *nfa)
{
    size_t built = nfa->count;
    for (size_t state = 0; state < built && !nfa->over; state++) {
        if (nfa->states [state].kind != XINF_RX_AT_END)
            continue;
        uint32_t out = nfa->states [state].out;
        bool line = nfa->states [state].lo != 0;
        bool empty = s_reaches (nfa, out, -1);
        bool newline = line && !nfa->json_text && s_reaches (nfa, out, '\n');
        uint32_t then_newline = newline ? s_state (nfa, XINF_RX_BYTE, '\n', '\n', nfa->match, 0) : 0;
        if (newline && then_newline == XINF_RX_NONE)
            return false;
        xinf_rx_nstate_t *item = &nfa->states [state];
        if (empty)
            *item = (xinf_rx_nstate_t) { XINF_RX_SPLIT, 0, 0, nfa->match, newline ? then_newline : nfa->match };
        else
        if (newline)
            *item = (xinf_rx_nstate_t) { XINF_RX_SPLIT, 0, 0, then_newline, then_newline };
        else
            *item = (xinf_rx_nstate_t) { XINF_RX_FAIL, 0, 0, 0, 0 };
    }
    return !nfa->over;
}

//  The automaton of tree node 'node' followed by state 'next' (built
//  backwards): its start, or XINF_RX_NONE when too large or out of memory.
static uint32_t
s_compile (xinf_rx_nfa_t *nfa, int node, uint32_t next)
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
            return XINF_RX_NONE;
        count = 0;
        for (int child = item->first; child >= 0; child = nfa->tree->nodes [child].next)
            children [count++] = child;
        while (count > 0 && start != XINF_RX_NONE)
            start = s_compile (nfa, children [--count], start);
        free (children);
        return start;
    }
    if (item->kind == XINF_RX_ALT) {
        start = S_NOTHING;
        for (int child = item->first; child >= 0 && start != XINF_RX_NONE; child = nfa->tree->nodes [child].next) {
            uint32_t branch = s_compile (nfa, child, next);
            start = start == S_NOTHING ? branch : s_either (nfa, branch, start);
        }
        return start == S_NOTHING ? next : start;
    }
    if (item->kind == XINF_RX_CALL) {
        uint8_t lead = (uint8_t) (XINF_PDA_CALL_LEAD | (item->min >> 8)), low = (uint8_t) (item->min & 0xFF);
        uint32_t back = s_state (nfa, XINF_RX_BYTE, low, low, next, 0);
        return back == XINF_RX_NONE ? back : s_state (nfa, XINF_RX_BYTE, lead, lead, back, 0);
    }
    if (item->kind == XINF_RX_BEGIN)
        return s_state (nfa, XINF_RX_AT_START, 0, 0, next, 0);
    if (item->kind == XINF_RX_END || item->kind == XINF_RX_END_LINE)
        return s_state (nfa, XINF_RX_AT_END, item->kind == XINF_RX_END_LINE, 0, next, 0);
    return next;
}

uint32_t
xinf_rx_thompson (xinf_rx_nfa_t *nfa, xinf_rx_tree_t *tree, int flags)
{
    uint32_t match = nfa->match = s_state (nfa, XINF_RX_MATCH, 0, 0, 0, 0);
    int any = flags & XINF_REGEX_SEARCH ? xinf_rx_tree_any_text (tree) : -1;
    if ((flags & XINF_REGEX_SEARCH) && any < 0)
        return XINF_RX_NONE;
    nfa->tree = tree;
    uint32_t tail = any < 0 || match == XINF_RX_NONE ? match : s_compile (nfa, any, match);
    uint32_t start = tail == XINF_RX_NONE ? XINF_RX_NONE : s_compile (nfa, tree->root, tail);
    if (any >= 0 && start != XINF_RX_NONE)
        start = s_compile (nfa, any, start);
    return start != XINF_RX_NONE && s_resolve_ends (nfa) ? start : XINF_RX_NONE;
}
