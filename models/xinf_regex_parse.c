/*  xinf_regex_parse: a regular expression's text into a tree of sets of
    code points, concatenations, alternations and repetitions
    (xinf_regex_private.h; the syntax is xinf_regex.h's).  */
#include "xinf_regex_private.h"
#include "xinf_regex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *text;
    size_t size, at;
    xinf_rx_tree_t *tree;
    char *error;
    size_t error_size;
    int depth;
} s_parser_t;

enum { S_CODE, S_CLASS, S_BEGIN, S_END };    //  what an escape was

static int s_alternation (s_parser_t *self);

static int
s_fail (s_parser_t *self, size_t at, const char *format, ...)
{
    char reason [256];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    snprintf (self->error, self->error_size, "at offset %zu: %s", at, reason);
    return -1;
}

//  \d, \w or \s (ASCII), or their negations (upper case).
static bool
s_class_escape (xinf_rx_ranges_t *set, unsigned char letter)
{
    static const char *const members [] = { "09", "09AZaz__", "\t\r  " };
    const char *pairs = (letter | 0x20) == 'd' ? members [0] : (letter | 0x20) == 'w' ? members [1] : members [2];
    xinf_rx_ranges_t own = { 0 };
    bool good = true;
    for (size_t at = 0; pairs [at] && good; at += 2)
        good = xinf_rx_ranges_add (&own, (unsigned char) pairs [at], (unsigned char) pairs [at + 1]);
    xinf_rx_ranges_normalize (&own);
    if (good && letter >= 'A' && letter <= 'Z')
        good = xinf_rx_ranges_negate (&own);
    for (size_t index = 0; index < own.count && good; index++)
        good = xinf_rx_ranges_add (set, own.items [index].lo, own.items [index].hi);
    free (own.items);
    return good;
}

//  An octal escape after its backslash, as re reads them: \0 and up to
//  two more octal digits; \1 to \7 then two more (at most \377); within
//  a class, one to three digits. False (nothing taken) for a
//  backreference.
static bool
s_octal (s_parser_t *self, unsigned char first, bool in_class, uint32_t *code)
{
    size_t more = 0;
    while (more < 2 && self->at + more < self->size && self->text [self->at + more] >= '0'
           && self->text [self->at + more] <= '7')
        more++;
    if (first != '0' && !in_class && more < 2)
        return false;
    uint32_t value = (uint32_t) (first - '0');
    for (size_t index = 0; index < more; index++)
        value = value * 8 + (uint32_t) (self->text [self->at + index] - '0');
    if (value > 0377)
        return false;
    self->at += more;
    *code = value;
    return true;
}

//  The escape after a backslash: a code point (*code), a class added to
//  'set', or an anchor (empty; not within a class).
static int
s_escape (s_parser_t *self, bool in_class, xinf_rx_ranges_t *set, uint32_t *code)
{
    size_t start = self->at - 1;
    if (self->at >= self->size)
        return s_fail (self, start, "a backslash ends the expression");
    unsigned char c = self->text [self->at++];
    switch (c) {
        case 'n': *code = '\n'; return S_CODE;
        case 't': *code = '\t'; return S_CODE;
        case 'r': *code = '\r'; return S_CODE;
        case 'f': *code = '\f'; return S_CODE;
        case 'v': *code = '\v'; return S_CODE;
        case 'a': *code = '\a'; return S_CODE;
        default: break;
    }
    if (c >= '0' && c <= '7' && s_octal (self, c, in_class, code))
        return S_CODE;
    if (c && strchr ("dDwWsS", c))
        return s_class_escape (set, c) ? S_CLASS : s_fail (self, start, "out of memory");
    if (c == 'x' || c == 'u' || c == 'U') {
        const char *why = xinf_rx_hex (self->text, self->size, &self->at, c == 'x' ? 2 : c == 'u' ? 4 : 8, code);
        return why ? s_fail (self, start, "%s", why) : S_CODE;
    }
    if (c == 'b' && in_class) {
        *code = 8;
        return S_CODE;
    }
    if (c == 'b' || c == 'B')
        return s_fail (self, start, "word boundaries (\\%c) are not supported", c);
    if ((c == 'A' || c == 'Z' || c == 'z') && !in_class)
        return c == 'A' ? S_BEGIN : S_END;
    if (c >= '1' && c <= '9' && !in_class)
        return s_fail (self, start, "backreferences (\\%c) are not supported", c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return s_fail (self, start, "unknown escape \\%c", c);
    size_t length = xinf_rx_utf8 (self->text, self->size, self->at - 1, code);
    if (length == 0)
        return s_fail (self, self->at - 1, "invalid UTF-8");
    self->at += length - 1;
    return S_CODE;
}

//  A new node: -1 with the reason when the tree is full.
static int
s_node (s_parser_t *self, xinf_rx_kind_t kind)
{
    int node = xinf_rx_tree_node (self->tree, kind);
    return node >= 0 ? node : s_fail (self, self->at, "the expression has more than %d parts (or out of memory)",
                                      XINF_RX_NODES_MAX);
}

static void
s_append (s_parser_t *self, int parent, int child)
{
    xinf_rx_tree_append (self->tree, parent, child);
}

//  A SET node of a normalized gathered set (which it frees).
static int
s_set_node (s_parser_t *self, xinf_rx_ranges_t *set)
{
    int node = xinf_rx_tree_set (self->tree, set);
    return node >= 0 ? node : s_fail (self, self->at, "the expression has more than %d parts (or out of memory)",
                                      XINF_RX_NODES_MAX);
}

static int
s_single (s_parser_t *self, uint32_t lo, uint32_t hi)
{
    xinf_rx_ranges_t set = { 0 };
    if (!xinf_rx_ranges_add (&set, lo, hi))
        return s_fail (self, self->at, "out of memory");
    return s_set_node (self, &set);
}

//  One member of a class: a code point (*code) or a class escape added.
static int
s_class_member (s_parser_t *self, xinf_rx_ranges_t *set, uint32_t *code)
{
    if (self->text [self->at] == '\\') {
        self->at++;
        return s_escape (self, true, set, code);
    }
    size_t length = xinf_rx_utf8 (self->text, self->size, self->at, code);
    if (length == 0)
        return s_fail (self, self->at, "invalid UTF-8");
    self->at += length;
    return S_CODE;
}

//  [...] after its '[': members, ranges, a leading ^ negates.
static int
s_class (s_parser_t *self)
{
    size_t start = self->at - 1;
    bool negate = self->at < self->size && self->text [self->at] == '^';
    self->at += negate;
    xinf_rx_ranges_t set = { 0 };
    for (bool first = true; ; first = false) {
        if (self->at >= self->size) {
            free (set.items);
            return s_fail (self, start, "a class [ without its ]");
        }
        if (self->text [self->at] == ']' && !first) {
            self->at++;
            break;
        }
        uint32_t lo = 0, hi = 0;
        size_t from = self->at;
        int kind = s_class_member (self, &set, &lo);
        bool dash = self->at + 1 < self->size && self->text [self->at] == '-' && self->text [self->at + 1] != ']';
        if (kind == S_CLASS && dash) {
            free (set.items);
            return s_fail (self, from, "a range's start is a class");
        }
        bool range = kind == S_CODE && dash;
        if (range) {
            self->at++;
            kind = s_class_member (self, &set, &hi);
            if (kind == S_CLASS)
                kind = s_fail (self, from, "a range's end is a class");
            else
            if (kind == S_CODE && hi < lo)
                kind = s_fail (self, from, "a range out of order");
        }
        else
            hi = lo;
        if (kind == S_CODE && !xinf_rx_ranges_add (&set, lo, hi))
            kind = s_fail (self, from, "out of memory");
        if (kind < 0) {
            free (set.items);
            return -1;
        }
    }
    xinf_rx_ranges_normalize (&set);
    if (negate && !xinf_rx_ranges_negate (&set)) {
        free (set.items);
        return s_fail (self, start, "out of memory");
    }
    return s_set_node (self, &set);
}

//  Whether 'c' may be in a group's name (a letter, _ or, not first, a digit).
static bool
s_name_byte (unsigned char c, bool first)
{
    return c == '_' || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (!first && c >= '0' && c <= '9');
}

//  (...) after its '(': a group, plain, non-capturing or named.
static int
s_group (s_parser_t *self)
{
    size_t start = self->at - 1;
    const unsigned char *text = self->text;
    if (self->at < self->size && text [self->at] == '?') {
        unsigned char kind = self->at + 1 < self->size ? text [self->at + 1] : 0;
        unsigned char then = self->at + 2 < self->size ? text [self->at + 2] : 0;
        if (kind == ':')
            self->at += 2;
        else
        if ((kind == 'P' && then == '<') || (kind == '<' && then != '=' && then != '!')) {
            self->at += kind == 'P' ? 3 : 2;
            size_t name = self->at;
            while (self->at < self->size && s_name_byte (text [self->at], self->at == name))
                self->at++;
            if (self->at == name || self->at >= self->size || text [self->at] != '>')
                return s_fail (self, start, "a group's name must be letters, digits and _ between < and >");
            self->at++;
        }
        else
        if (kind == '=' || kind == '!' || kind == '<')
            return s_fail (self, start, "lookaround (?%c...) is not supported", kind);
        else
        if (kind == 'P' && then == '=')
            return s_fail (self, start, "named backreferences are not supported");
        else
        if (kind == 'P')
            return s_fail (self, start, "(?P must be followed by <name> (a named group)");
        else
        if (kind == 0)
            return s_fail (self, start, "(? must be followed by :, P<name>, <name> or # (a comment)");
        else
            return s_fail (self, start, "inline flags and other (?%c...) groups are not supported", kind);
    }
    if (++self->depth > XINF_RX_DEPTH_MAX)
        return s_fail (self, start, "groups nested more than %d deep", XINF_RX_DEPTH_MAX);
    int node = s_alternation (self);
    self->depth--;
    if (node < 0)
        return -1;
    if (self->at >= self->size || text [self->at] != ')')
        return s_fail (self, start, "a group ( without its )");
    self->at++;
    return node;
}

static bool s_braces (s_parser_t *self, long *min, long *max);

//  One atom: a group, a class, '.', an escape, an anchor or a literal.
static int
s_atom (s_parser_t *self)
{
    size_t start = self->at;
    unsigned char c = self->text [self->at++];
    uint32_t code = 0;
    if (c == '(')
        return s_group (self);
    if (c == '[')
        return s_class (self);
    if (c == '.') {
        xinf_rx_ranges_t set = { 0 };
        bool good = xinf_rx_ranges_add (&set, 0, '\n' - 1) && xinf_rx_ranges_add (&set, '\n' + 1, XINF_RX_CODE_MAX);
        return good ? s_set_node (self, &set) : (free (set.items), s_fail (self, start, "out of memory"));
    }
    if (c == '^' || c == '$')
        return s_node (self, c == '^' ? XINF_RX_BEGIN : XINF_RX_END_LINE);
    long min, max;
    self->at = start;
    if (c == '*' || c == '+' || c == '?' || (c == '{' && s_braces (self, &min, &max)))
        return s_fail (self, start, "a quantifier with nothing to repeat");
    self->at = start + 1;
    if (c == '\\') {
        xinf_rx_ranges_t set = { 0 };
        int kind = s_escape (self, false, &set, &code);
        if (kind == S_CLASS)
            return s_set_node (self, &set);
        free (set.items);
        return kind < 0 ? -1 : kind == S_BEGIN ? s_node (self, XINF_RX_BEGIN)
             : kind == S_END ? s_node (self, XINF_RX_END) : s_single (self, code, code);
    }
    size_t length = xinf_rx_utf8 (self->text, self->size, start, &code);
    if (length == 0)
        return s_fail (self, start, "invalid UTF-8");
    self->at = start + length;
    return s_single (self, code, code);
}

//  {n}, {n,}, {,m}, {n,m} at '{': true with the bounds (max -1:
//  unbounded) and the parser past it; false (nothing taken) when the
//  text is no such quantifier, which makes '{' a literal, as in re.
static bool
s_braces (s_parser_t *self, long *min, long *max)
{
    size_t start = self->at++;
    *min = xinf_rx_number (self->text, self->size, &self->at, XINF_REGEX_REPEAT_MAX);
    *max = *min;
    if (self->at < self->size && self->text [self->at] == ',') {
        self->at++;
        *max = xinf_rx_number (self->text, self->size, &self->at, XINF_REGEX_REPEAT_MAX);
        if (*min < 0)
            *min = 0;
    }
    else
    if (*min < 0)
        *max = -2;                              //  no digits, no comma
    if (self->at < self->size && self->text [self->at] == '}' && *max != -2) {
        self->at++;
        return true;
    }
    self->at = start;
    return false;
}

//  Comments (?#...) at the position, skipped as re skips them (a
//  quantifier after one applies to the atom before it): 0, or -1 for one
//  without its ')'.
static int
s_comments (s_parser_t *self)
{
    while (self->size - self->at >= 3 && memcmp (self->text + self->at, "(?#", 3) == 0) {
        size_t start = self->at;
        while (self->at < self->size && self->text [self->at] != ')')
            self->at++;
        if (self->at >= self->size)
            return s_fail (self, start, "a comment (?# without its )");
        self->at++;
    }
    return 0;
}

//  An atom and its quantifier.
static int
s_repeat (s_parser_t *self)
{
    int atom = s_atom (self);
    if (atom >= 0 && s_comments (self))
        return -1;
    if (atom < 0 || self->at >= self->size)
        return atom;
    size_t start = self->at;
    unsigned char c = self->text [self->at];
    long min = 0, max = -1;
    if (c == '*' || c == '+' || c == '?') {
        self->at++;
        min = c == '+';
        max = c == '?' ? 1 : -1;
    }
    else
    if (c != '{' || !s_braces (self, &min, &max))
        return atom;
    if (self->tree->nodes [atom].kind >= XINF_RX_BEGIN)
        return s_fail (self, start, "an anchor is nothing to repeat");
    if (min > XINF_REGEX_REPEAT_MAX || max > XINF_REGEX_REPEAT_MAX)
        return s_fail (self, start, "a repetition's bound is more than %d", XINF_REGEX_REPEAT_MAX);
    if (max >= 0 && min > max)
        return s_fail (self, start, "a repetition's least count is more than its most");
    if (self->at < self->size && self->text [self->at] == '+')
        return s_fail (self, self->at, "possessive quantifiers are not supported");
    if (self->at < self->size && self->text [self->at] == '?')
        self->at++;                             //  lazy: the same whole matches
    long ignored_min, ignored_max;
    if (self->at < self->size && ((self->text [self->at] && strchr ("*+?", self->text [self->at]))
    ||  (self->text [self->at] == '{' && s_braces (self, &ignored_min, &ignored_max))))
        return s_fail (self, self->at, "a quantifier repeats a quantifier; group it first");
    int node = s_node (self, XINF_RX_REPEAT);
    if (node >= 0) {
        self->tree->nodes [node].first = atom;
        self->tree->nodes [node].min = (int) min;
        self->tree->nodes [node].max = (int) max;
    }
    return node;
}

//  Atoms in a row, up to '|', ')' or the end.
static int
s_concatenation (s_parser_t *self)
{
    int node = s_node (self, XINF_RX_CONCAT);
    while (node >= 0 && self->at < self->size && self->text [self->at] != '|' && self->text [self->at] != ')') {
        if (s_comments (self))
            return -1;
        if (self->at >= self->size || self->text [self->at] == '|' || self->text [self->at] == ')')
            break;
        int item = s_repeat (self);
        if (item < 0)
            return -1;
        s_append (self, node, item);
    }
    return node;
}

static int
s_alternation (s_parser_t *self)
{
    int node = s_node (self, XINF_RX_ALT);
    while (node >= 0) {
        int branch = s_concatenation (self);
        if (branch < 0)
            return -1;
        s_append (self, node, branch);
        if (self->at >= self->size || self->text [self->at] != '|')
            break;
        self->at++;
    }
    return node;
}

int
xinf_rx_parse (const char *pattern, size_t size, xinf_rx_tree_t *tree, char *error, size_t error_size)
{
    s_parser_t self = { (const unsigned char *) pattern, size, 0, tree, error, error_size, 0 };
    if (size > XINF_REGEX_PATTERN_MAX)
        return s_fail (&self, 0, "the expression is more than %d bytes", XINF_REGEX_PATTERN_MAX);
    tree->root = s_alternation (&self);
    if (tree->root < 0)
        return -1;
    if (self.at < size)
        return s_fail (&self, self.at, "a ) without its (");
    return 0;
}
