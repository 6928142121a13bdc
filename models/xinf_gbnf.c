/*  xinf_gbnf: llama.cpp's GBNF grammars (llama-server's grammar, vLLM's
    guided_grammar) without recursion, as regular expressions: each rule
    is parsed into the regex tree (xinf_regex_private.h), a reference to a
    rule stands for that rule's tree, and the root rule is compiled into
    the same byte automaton a guided_regex has (xinf_regex.h).

    The syntax is llama.cpp's grammars/README.md: rules `name ::= ...`
    (names of letters, digits, - and _), literals "..." and classes [...]
    with llama.cpp's escapes (\x \u \U \t \n \r \\ \" \[ \] \-), '.' any
    character, groups, alternation, * + ? {m} {m,} {,n} {m,n}, comments
    from '#'; a rule ends at a newline outside parentheses and not after
    '|' or '::='. Refused, naming the rule or the offset: a rule that
    refers to itself through any path (recursion needs a stack no finite
    automaton has), a rule used but not defined or defined twice, no
    root rule, token references (<...>), and grammars past the limits of
    a regex.  */
#include "xinf_regex.h"
#include "xinf_regex_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RULES_MAX  512
#define S_REFS_MAX   4096
#define S_NAME_MAX   64
#define S_WHOLE      SIZE_MAX         //  an error of the whole grammar, at no offset

typedef struct {
    char name [S_NAME_MAX];
    int node;                         //  its alternation, -1 until defined
    int mark;                         //  the recursion check's: 0 unseen, 1 on the path, 2 done
} s_rule_t;

typedef struct {
    int node;                         //  the REPEAT {1,1} that stands for the rule
    size_t rule, from;                //  the rule referred to, and the rule it is in
} s_ref_t;

typedef struct {
    const unsigned char *text;
    size_t size, at;
    xinf_rx_tree_t *tree;
    char *error;
    size_t error_size;
    int depth;
    s_rule_t *rules;
    size_t rule_count, current;
    s_ref_t *refs;
    size_t ref_count;
} s_gbnf_t;

static int s_alternates (s_gbnf_t *self, bool nested);

static int
s_fail (s_gbnf_t *self, size_t at, const char *format, ...)
{
    char reason [256];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (at == S_WHOLE)
        snprintf (self->error, self->error_size, "grammar: %s", reason);
    else
        snprintf (self->error, self->error_size, "grammar at offset %zu: %s", at, reason);
    return -1;
}

static int
s_node (s_gbnf_t *self, xinf_rx_kind_t kind)
{
    int node = xinf_rx_tree_node (self->tree, kind);
    return node >= 0 ? node : s_fail (self, self->at, "more than %d parts", XINF_RX_NODES_MAX);
}

static bool
s_word_byte (unsigned char c)
{
    return c == '-' || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

//  Spaces, tabs and comments; newlines too when 'newlines'.
static void
s_space (s_gbnf_t *self, bool newlines)
{
    while (self->at < self->size) {
        unsigned char c = self->text [self->at];
        if (c == '#')
            while (self->at < self->size && self->text [self->at] != '\n')
                self->at++;
        else
        if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r')))
            self->at++;
        else
            break;
    }
}

//  A word at the position: its length (0: none).
static size_t
s_word (const s_gbnf_t *self)
{
    size_t length = 0;
    while (self->at + length < self->size && s_word_byte (self->text [self->at + length]))
        length++;
    return length;
}

//  The rule named by 'length' bytes at the position, added when new.
static long
s_rule (s_gbnf_t *self, size_t length)
{
    if (length >= S_NAME_MAX)
        return s_fail (self, self->at, "a rule's name is longer than %d bytes", S_NAME_MAX - 1);
    for (size_t index = 0; index < self->rule_count; index++)
        if (strlen (self->rules [index].name) == length && memcmp (self->rules [index].name, self->text + self->at,
                                                                   length) == 0)
            return (long) index;
    if (self->rule_count >= S_RULES_MAX)
        return s_fail (self, self->at, "more than %d rules", S_RULES_MAX);
    s_rule_t *rule = &self->rules [self->rule_count];
    memcpy (rule->name, self->text + self->at, length);
    rule->name [length] = 0;
    rule->node = -1;
    return (long) self->rule_count++;
}

//  One character of a literal or a class, escapes as llama.cpp has them.
static int
s_char (s_gbnf_t *self, uint32_t *code)
{
    size_t start = self->at;
    if (self->text [self->at] != '\\') {
        size_t length = xinf_rx_utf8 (self->text, self->size, self->at, code);
        self->at += length;
        return length ? 0 : s_fail (self, start, "invalid UTF-8");
    }
    if (++self->at >= self->size)
        return s_fail (self, start, "a backslash ends the grammar");
    unsigned char c = self->text [self->at++];
    const char *simple = strchr ("tnr\\\"[]-", c);
    if (c && simple) {
        *code = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        return 0;
    }
    size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (!digits)
        return s_fail (self, start, "unknown escape \\%c", c ? c : '0');
    const char *why = xinf_rx_hex (self->text, self->size, &self->at, digits, code);
    return why ? s_fail (self, start, "%s", why) : 0;
}

static int
s_set (s_gbnf_t *self, xinf_rx_ranges_t *set)
{
    int node = xinf_rx_tree_set (self->tree, set);
    return node >= 0 ? node : s_fail (self, self->at, "more than %d parts", XINF_RX_NODES_MAX);
}

//  "..." after its quote: its characters in a row.
static int
s_literal (s_gbnf_t *self)
{
    size_t start = self->at - 1;
    int node = s_node (self, XINF_RX_CONCAT);
    while (node >= 0) {
        if (self->at >= self->size || self->text [self->at] == '\n')
            return s_fail (self, start, "a literal \" without its closing quote");
        if (self->text [self->at] == '"') {
            self->at++;
            return node;
        }
        uint32_t code;
        xinf_rx_ranges_t set = { 0 };
        if (s_char (self, &code) || !xinf_rx_ranges_add (&set, code, code)) {
            free (set.items);
            return -1;
        }
        int item = s_set (self, &set);
        if (item < 0)
            return -1;
        xinf_rx_tree_append (self->tree, node, item);
    }
    return node;
}

//  [...] after its bracket.
static int
s_class (s_gbnf_t *self)
{
    size_t start = self->at - 1;
    bool negate = self->at < self->size && self->text [self->at] == '^';
    self->at += negate;
    xinf_rx_ranges_t set = { 0 };
    while (self->at < self->size && self->text [self->at] != ']') {
        uint32_t lo, hi;
        if (s_char (self, &lo)) {
            free (set.items);
            return -1;
        }
        hi = lo;
        if (self->at + 1 < self->size && self->text [self->at] == '-' && self->text [self->at + 1] != ']') {
            self->at++;
            if (s_char (self, &hi) || hi < lo) {
                free (set.items);
                return hi < lo ? s_fail (self, start, "a range out of order") : -1;
            }
        }
        if (!xinf_rx_ranges_add (&set, lo, hi)) {
            free (set.items);
            return s_fail (self, start, "out of memory");
        }
    }
    if (self->at >= self->size) {
        free (set.items);
        return s_fail (self, start, "a class [ without its ]");
    }
    self->at++;
    xinf_rx_ranges_normalize (&set);
    if (negate && !xinf_rx_ranges_negate (&set)) {
        free (set.items);
        return s_fail (self, start, "out of memory");
    }
    return s_set (self, &set);
}

//  A reference to a rule: a node standing for it, resolved at the end.
static int
s_reference (s_gbnf_t *self, size_t length)
{
    long rule = s_rule (self, length);
    if (rule < 0)
        return -1;
    if (self->ref_count >= S_REFS_MAX)
        return s_fail (self, self->at, "more than %d rule references", S_REFS_MAX);
    int node = s_node (self, XINF_RX_REPEAT);
    if (node < 0)
        return -1;
    self->tree->nodes [node].min = self->tree->nodes [node].max = 1;
    self->refs [self->ref_count++] = (s_ref_t) { node, (size_t) rule, self->current };
    self->at += length;
    return node;
}

//  One element: a literal, a class, '.', a group or a rule reference.
static int
s_element (s_gbnf_t *self)
{
    size_t start = self->at;
    unsigned char c = self->text [self->at];
    if (c == '"' || c == '[' || c == '(' || c == '.')
        self->at++;
    if (c == '"')
        return s_literal (self);
    if (c == '[')
        return s_class (self);
    if (c == '.') {
        xinf_rx_ranges_t set = { 0 };
        return xinf_rx_ranges_add (&set, 0, XINF_RX_CODE_MAX) ? s_set (self, &set)
                                                              : s_fail (self, start, "out of memory");
    }
    if (c == '(') {
        if (++self->depth > XINF_RX_DEPTH_MAX)
            return s_fail (self, start, "groups nested more than %d deep", XINF_RX_DEPTH_MAX);
        s_space (self, true);
        int node = s_alternates (self, true);
        self->depth--;
        if (node < 0)
            return -1;
        if (self->at >= self->size || self->text [self->at] != ')')
            return s_fail (self, start, "a group ( without its )");
        self->at++;
        return node;
    }
    if (c == '<')
        return s_fail (self, start, "token references (<...>) are not supported");
    size_t length = s_word (self);
    if (length == 0)
        return s_fail (self, start, "'%c' begins no element", c >= 0x20 && c < 0x7f ? c : '?');
    return s_reference (self, length);
}

//  An element's repetition, when one follows: *, +, ?, {m}, {m,}, {,n}, {m,n}.
static int
s_quantified (s_gbnf_t *self, int element)
{
    if (element < 0 || self->at >= self->size)
        return element;
    size_t start = self->at;
    unsigned char c = self->text [self->at];
    long min = 0, max = -1;
    if (c == '*' || c == '+' || c == '?') {
        self->at++;
        min = c == '+';
        max = c == '?' ? 1 : -1;
    }
    else
    if (c == '{') {
        self->at++;
        s_space (self, false);
        min = xinf_rx_number (self->text, self->size, &self->at, XINF_REGEX_REPEAT_MAX);
        s_space (self, false);
        max = min;
        if (self->at < self->size && self->text [self->at] == ',') {
            self->at++;
            s_space (self, false);
            max = xinf_rx_number (self->text, self->size, &self->at, XINF_REGEX_REPEAT_MAX);
            s_space (self, false);
        }
        if (self->at >= self->size || self->text [self->at] != '}' || (min < 0 && max < 0))
            return s_fail (self, start, "a repetition { needs {m}, {m,}, {,n} or {m,n}");
        self->at++;
        min = min < 0 ? 0 : min;
    }
    else
        return element;
    if (min > XINF_REGEX_REPEAT_MAX || max > XINF_REGEX_REPEAT_MAX)
        return s_fail (self, start, "a repetition's bound is more than %d", XINF_REGEX_REPEAT_MAX);
    if (max >= 0 && min > max)
        return s_fail (self, start, "a repetition's least count is more than its most");
    int node = xinf_rx_tree_repeat (self->tree, element, (int) min, (int) max);
    return node >= 0 ? node : s_fail (self, start, "more than %d parts", XINF_RX_NODES_MAX);
}

//  Elements in a row, up to '|', ')' or (outside a group) a newline.
static int
s_sequence (s_gbnf_t *self, bool nested)
{
    int node = s_node (self, XINF_RX_CONCAT);
    while (node >= 0) {
        s_space (self, nested);
        if (self->at >= self->size)
            break;
        unsigned char c = self->text [self->at];
        if (c == '|' || c == ')' || c == '\n' || c == '\r')
            break;
        int item = s_quantified (self, s_element (self));
        if (item < 0)
            return -1;
        xinf_rx_tree_append (self->tree, node, item);
    }
    return node;
}

static int
s_alternates (s_gbnf_t *self, bool nested)
{
    int node = s_node (self, XINF_RX_ALT);
    while (node >= 0) {
        int branch = s_sequence (self, nested);
        if (branch < 0)
            return -1;
        xinf_rx_tree_append (self->tree, node, branch);
        if (self->at >= self->size || self->text [self->at] != '|')
            break;
        self->at++;
        s_space (self, true);
    }
    return node;
}

//  name ::= alternates
static int
s_definition (s_gbnf_t *self)
{
    size_t start = self->at, length = s_word (self);
    if (length == 0)
        return s_fail (self, start, "a rule's name was expected");
    long rule = s_rule (self, length);
    if (rule < 0)
        return -1;
    if (self->rules [rule].node >= 0)
        return s_fail (self, start, "rule '%s' is defined twice", self->rules [rule].name);
    self->at += length;
    s_space (self, false);
    if (self->size - self->at < 3 || memcmp (self->text + self->at, "::=", 3) != 0)
        return s_fail (self, self->at, "::= was expected after '%s'", self->rules [rule].name);
    self->at += 3;
    s_space (self, true);
    self->current = (size_t) rule;
    int node = s_alternates (self, false);
    if (node < 0)
        return -1;
    if (self->at < self->size && self->text [self->at] == ')')
        return s_fail (self, self->at, "a ) without its (");
    self->rules [rule].node = node;
    return 0;
}

//  Whether rule 'rule' reaches itself: its name and the path in 'error'.
static bool
s_recursive (s_gbnf_t *self, size_t rule)
{
    self->rules [rule].mark = 1;
    for (size_t index = 0; index < self->ref_count; index++) {
        if (self->refs [index].from != rule)
            continue;
        s_rule_t *next = &self->rules [self->refs [index].rule];
        if (next->mark == 1) {
            s_fail (self, S_WHOLE, "rule '%s' refers to itself (through '%s'): recursive grammars are not supported "
                    "(a JSON answer's grammar is response_format json_schema)", next->name, self->rules [rule].name);
            return true;
        }
        if (next->mark == 0 && s_recursive (self, self->refs [index].rule))
            return true;
    }
    self->rules [rule].mark = 2;
    return false;
}

//  Every reference resolved; no recursion; the root's node.
static int
s_resolve (s_gbnf_t *self)
{
    long root = -1;
    for (size_t index = 0; index < self->rule_count; index++) {
        if (self->rules [index].node < 0)
            return s_fail (self, S_WHOLE, "rule '%s' is used but not defined", self->rules [index].name);
        if (strcmp (self->rules [index].name, "root") == 0)
            root = (long) index;
    }
    if (root < 0)
        return s_fail (self, S_WHOLE, "no rule named root");
    for (size_t index = 0; index < self->ref_count; index++)
        self->tree->nodes [self->refs [index].node].first = self->rules [self->refs [index].rule].node;
    for (size_t index = 0; index < self->rule_count; index++)
        if (self->rules [index].mark == 0 && s_recursive (self, index))
            return -1;
    return self->rules [root].node;
}

xinf_regex_t *
xinf_regex_new_gbnf (const char *text, size_t size, char *error, size_t error_size)
{
    xinf_rx_tree_t tree = { 0 };
    s_gbnf_t self = { (const unsigned char *) text, size, 0, &tree, error, error_size, 0,
                      calloc (S_RULES_MAX, sizeof (s_rule_t)), 0, 0, calloc (S_REFS_MAX, sizeof (s_ref_t)), 0 };
    int rc = self.rules && self.refs ? 0 : s_fail (&self, S_WHOLE, "out of memory");
    if (rc == 0 && size > XINF_REGEX_PATTERN_MAX)
        rc = s_fail (&self, S_WHOLE, "more than %d bytes", XINF_REGEX_PATTERN_MAX);
    while (rc == 0) {
        s_space (&self, true);
        if (self.at >= self.size)
            break;
        rc = s_definition (&self);
    }
    if (rc == 0)
        rc = (tree.root = s_resolve (&self)) < 0 ? -1 : 0;
    xinf_regex_t *regex = rc == 0 ? xinf_rx_compile (&tree, 0, error, error_size) : NULL;
    xinf_rx_tree_free (&tree);
    free (self.rules);
    free (self.refs);
    return regex;
}
