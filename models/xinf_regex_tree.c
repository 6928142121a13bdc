/*  xinf_regex_tree: the parsed expression's tree and the code point
    sets its leaves hold, built by the regex and GBNF parsers
    (xinf_regex_private.h).  */
#include "xinf_regex_private.h"

#include <stdlib.h>
#include <string.h>

//  One UTF-8 character at 'at': its length (its code in *code), or 0
//  when the bytes are no UTF-8 (overlong, a surrogate, past U+10FFFF).
size_t
xinf_rx_utf8 (const unsigned char *text, size_t size, size_t at, uint32_t *code)
{
    unsigned char lead = text [at];
    size_t length = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3
                  : (lead & 0xF8) == 0xF0 ? 4 : 0;
    if (length == 0 || at + length > size)
        return 0;
    uint32_t value = length == 1 ? lead : (uint32_t) (lead & (0x7F >> length));
    for (size_t index = 1; index < length; index++) {
        if ((text [at + index] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (text [at + index] & 0x3F);
    }
    static const uint32_t least [5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (value < least [length] || value > XINF_RX_CODE_MAX || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *code = value;
    return length;
}

const char *
xinf_rx_hex (const unsigned char *text, size_t size, size_t *at, size_t digits, uint32_t *code)
{
    uint32_t value = 0;
    for (size_t index = 0; index < digits; index++) {
        unsigned char c = *at < size ? text [*at] : 0;
        int digit = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
        if (digit < 0)
            return "an escape needs as many hex digits as its letter says (\\x 2, \\u 4, \\U 8)";
        value = value * 16 + (uint32_t) digit;
        (*at)++;
    }
    if (value > XINF_RX_CODE_MAX || (value >= 0xD800 && value <= 0xDFFF))
        return "the escape is no character UTF-8 can carry";
    *code = value;
    return NULL;
}

long
xinf_rx_number (const unsigned char *text, size_t size, size_t *at, long limit)
{
    long value = -1;
    while (*at < size && text [*at] >= '0' && text [*at] <= '9') {
        value = (value < 0 ? 0 : value) * 10 + (text [(*at)++] - '0');
        if (value > limit)
            value = limit + 1;
    }
    return value;
}

bool
xinf_rx_ranges_add (xinf_rx_ranges_t *self, uint32_t lo, uint32_t hi)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 8;
        xinf_rx_range_t *items = realloc (self->items, capacity * sizeof *items);
        if (!items)
            return false;
        self->items = items;
        self->capacity = capacity;
    }
    self->items [self->count++] = (xinf_rx_range_t) { lo, hi };
    return true;
}

static int
s_compare_ranges (const void *left, const void *right)
{
    const xinf_rx_range_t *a = left, *b = right;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

//  Sorted, with overlapping and touching ranges merged.
void
xinf_rx_ranges_normalize (xinf_rx_ranges_t *self)
{
    if (self->count == 0)
        return;
    qsort (self->items, self->count, sizeof *self->items, s_compare_ranges);
    size_t kept = 0;
    for (size_t index = 1; index < self->count; index++) {
        xinf_rx_range_t *last = &self->items [kept];
        if (self->items [index].lo <= last->hi + 1) {
            if (self->items [index].hi > last->hi)
                last->hi = self->items [index].hi;
        }
        else
            self->items [++kept] = self->items [index];
    }
    self->count = kept + 1;
}

//  The code points a normalized set leaves out.
bool
xinf_rx_ranges_negate (xinf_rx_ranges_t *self)
{
    xinf_rx_ranges_t out = { 0 };
    uint32_t from = 0;
    bool good = true;
    for (size_t index = 0; index < self->count && good; index++) {
        if (self->items [index].lo > from)
            good = xinf_rx_ranges_add (&out, from, self->items [index].lo - 1);
        from = self->items [index].hi + 1;
    }
    if (good && from <= XINF_RX_CODE_MAX)
        good = xinf_rx_ranges_add (&out, from, XINF_RX_CODE_MAX);
    free (self->items);
    *self = out;
    return good;
}

int
xinf_rx_tree_node (xinf_rx_tree_t *tree, xinf_rx_kind_t kind)
{
    if (tree->count >= XINF_RX_NODES_MAX)
        return -1;
    if (tree->count == tree->capacity) {
        size_t capacity = tree->capacity ? tree->capacity * 2 : 64;
        xinf_rx_node_t *nodes = realloc (tree->nodes, capacity * sizeof *nodes);
        if (!nodes)
            return -1;
        tree->nodes = nodes;
        tree->capacity = capacity;
    }
    tree->nodes [tree->count] = (xinf_rx_node_t) { .kind = kind, .first = -1, .last = -1, .next = -1 };
    return (int) tree->count++;
}

void
xinf_rx_tree_append (xinf_rx_tree_t *tree, int parent, int child)
{
    xinf_rx_node_t *nodes = tree->nodes;
    if (nodes [parent].last < 0)
        nodes [parent].first = child;
    else
        nodes [nodes [parent].last].next = child;
    nodes [parent].last = child;
}

int
xinf_rx_tree_set (xinf_rx_tree_t *tree, xinf_rx_ranges_t *set)
{
    int node = -1;
    if (tree->range_count + set->count > tree->range_capacity) {
        size_t capacity = (tree->range_count + set->count) * 2;
        xinf_rx_range_t *ranges = realloc (tree->ranges, capacity * sizeof *ranges);
        if (ranges) {
            tree->ranges = ranges;
            tree->range_capacity = capacity;
        }
    }
    if (tree->range_count + set->count <= tree->range_capacity && (node = xinf_rx_tree_node (tree, XINF_RX_SET)) >= 0) {
        if (set->count)
            memcpy (tree->ranges + tree->range_count, set->items, set->count * sizeof *set->items);
        tree->nodes [node].range_at = tree->range_count;
        tree->nodes [node].range_count = set->count;
        tree->range_count += set->count;
    }
    free (set->items);
    memset (set, 0, sizeof *set);
    return node;
}

int
xinf_rx_tree_repeat (xinf_rx_tree_t *tree, int child, int min, int max)
{
    int node = child < 0 ? -1 : xinf_rx_tree_node (tree, XINF_RX_REPEAT);
    if (node >= 0) {
        tree->nodes [node].first = child;
        tree->nodes [node].min = min;
        tree->nodes [node].max = max;
    }
    return node;
}

int
xinf_rx_tree_any_text (xinf_rx_tree_t *tree)
{
    xinf_rx_ranges_t set = { 0 };
    if (!xinf_rx_ranges_add (&set, 0, XINF_RX_CODE_MAX))
        return -1;
    return xinf_rx_tree_repeat (tree, xinf_rx_tree_set (tree, &set), 0, -1);
}

void
xinf_rx_tree_free (xinf_rx_tree_t *tree)
{
    free (tree->nodes);
    free (tree->ranges);
    memset (tree, 0, sizeof *tree);
}
