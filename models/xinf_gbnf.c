/*  xinf_gbnf: llama.cpp's GBNF grammars (llama-server's grammar, vLLM's
    guided_grammar): each rule is parsed into the regex tree
    (xinf_regex_private.h). A reference to a rule that does not recurse
    stands for that rule's tree, so a grammar without recursion is
    compiled into the same byte automaton a guided_regex has
    (xinf_regex.h). A reference to a rule that recurses (through any
    path) is a call: the root and each such rule become an automaton of
    their own, and together a pushdown automaton (xinf_pda.h).

    The syntax is llama.cpp's grammars/README.md: rules `name ::= ...`
    (names of letters, digits, - and _), literals "..." and classes [...]
    with llama.cpp's escapes (\x \u \U \t \n \r \\ \" \[ \] \-), '.' any
    character, groups, alternation, * + ? {m} {m,} {,n} {m,n}, comments
    from '#'; a rule ends at a newline outside parentheses and not after
    '|' or '::='. Refused, naming the rule or the offset: a rule used but
    not defined or defined twice, no root rule, token references
    (<...>), left recursion and a recursion with no way out (xinf_pda.h),
    more than XINF_PDA_RULES_MAX - 1 rules that recurse, and grammars
    past the limits of a regex (the rules' automata together).  */
#include "xinf_pda.h"
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
    int call;                         //  a rule that recurses: its number as a call (xinf_pda.h); else 0
    int call_node;                    //  then the node of its call
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
    long call_count;                  //  rules that recurse
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

//  The references of each rule in turn: 'order' holds the references'
//  indices by the rule they are in, rule r's from at [r] to at [r + 1].
static bool
s_ref_lists (s_gbnf_t *self, size_t *at, size_t *order)
{
    for (size_t index = 0; index < self->ref_count; index++)
        at [self->refs [index].from + 1]++;
    for (size_t rule = 0; rule < self->rule_count; rule++)
        at [rule + 1] += at [rule];
    for (size_t index = 0; index < self->ref_count; index++)
        order [at [self->refs [index].from]++] = index;
    for (size_t rule = self->rule_count; rule > 0; rule--)
        at [rule] = at [rule - 1];
    at [0] = 0;
    return true;
}

//  Marks in 'seen' the rules that rule 'from' refers to, directly or
//  not (itself only when it recurses); 'stack' has room for twice the
//  references.
static void
s_reach (const s_gbnf_t *self, const size_t *at, const size_t *order, size_t from, uint8_t *seen, size_t *stack)
{
    size_t depth = 0;
    memset (seen, 0, self->rule_count);
    for (size_t index = at [from]; index < at [from + 1]; index++)
        stack [depth++] = self->refs [order [index]].rule;
    while (depth > 0) {
        size_t rule = stack [--depth];
        if (seen [rule])
            continue;
        seen [rule] = 1;
        for (size_t index = at [rule]; index < at [rule + 1]; index++)
            if (!seen [self->refs [order [index]].rule])
                stack [depth++] = self->refs [order [index]].rule;
    }
}

//  The rules that recurse and that the root reaches: each gets its
//  number as a call (xinf_pda.h) in 'call'; how many, or -1 past
//  XINF_PDA_RULES_MAX or out of memory.
static long
s_recursions (s_gbnf_t *self, size_t root)
{
    size_t *at = calloc (self->rule_count + 1, sizeof (size_t));
    size_t *order = malloc ((self->ref_count + 1) * sizeof (size_t));
    size_t *stack = malloc ((2 * self->ref_count + 1) * sizeof (size_t));
    uint8_t *reached = malloc (self->rule_count), *seen = malloc (self->rule_count);
    long calls = at && order && stack && reached && seen && s_ref_lists (self, at, order) ? 0
               : s_fail (self, S_WHOLE, "out of memory");
    if (calls == 0) {
        s_reach (self, at, order, root, reached, stack);
        reached [root] = 1;
    }
    for (size_t rule = 0; calls >= 0 && rule < self->rule_count; rule++) {
        if (!reached [rule])
            continue;
        s_reach (self, at, order, rule, seen, stack);
        if (seen [rule] && calls + 1 >= XINF_PDA_RULES_MAX)
            calls = s_fail (self, S_WHOLE, "more than %d rules recurse", XINF_PDA_RULES_MAX - 1);
        else
        if (seen [rule])
            self->rules [rule].call = (int) ++calls;
    }
    free (at);
    free (order);
    free (stack);
    free (reached);
    free (seen);
    return calls;
}

//  Every reference resolved: to the rule's tree, or to a call of a rule
//  that recurses. The root rule's number, or -1.
static long
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
    self->call_count = s_recursions (self, (size_t) root);
    if (self->call_count < 0)
        return -1;
    for (size_t index = 0; index < self->rule_count; index++) {
        s_rule_t *rule = &self->rules [index];
        if (rule->call > 0 && (rule->call_node = s_node (self, XINF_RX_CALL)) < 0)
            return -1;
        if (rule->call > 0)
            self->tree->nodes [rule->call_node].min = rule->call;
    }
    for (size_t index = 0; index < self->ref_count; index++) {
        const s_rule_t *rule = &self->rules [self->refs [index].rule];
        self->tree->nodes [self->refs [index].node].first = rule->call > 0 ? rule->call_node : rule->node;
    }
    return root;
}

//  The automaton of rule 'rule' (the root's own when it is 'root'),
//  calls as their bytes; NULL with the reason, which names the rule.
static xinf_regex_t *
s_automaton (s_gbnf_t *self, size_t rule, size_t *work_left)
{
    char reason [256];
    self->tree->root = self->rules [rule].node;
    xinf_regex_t *regex = xinf_rx_compile (self->tree, 0, work_left, reason, sizeof reason);
    if (!regex)
        s_fail (self, S_WHOLE, "rule '%s': %s", self->rules [rule].name, reason);
    return regex;
}

//  The automaton of rule 'rule' into slot 'slot' of 'rules', its name
//  into 'names'; false with the reason past the states all may have.
static bool
s_add_automaton (s_gbnf_t *self, size_t rule, size_t slot, xinf_regex_t **rules, const char **names,
                 size_t *work_left, size_t *states)
{
    rules [slot] = s_automaton (self, rule, work_left);
    names [slot] = self->rules [rule].name;
    if (!rules [slot])
        return false;
    *states += xinf_regex_states (rules [slot]);
    if (*states <= XINF_REGEX_STATES_MAX)
        return true;
    s_fail (self, S_WHOLE, "the rules' automata have more than %d states", XINF_REGEX_STATES_MAX);
    return false;
}

//  A grammar whose rules recurse: the automata of the root and of each
//  rule that recurses (the root may be both) as one pushdown automaton.
static xinf_regex_t *
s_stacked (s_gbnf_t *self, size_t root)
{
    size_t count = (size_t) self->call_count + 1, states = 0, work_left = XINF_RX_WORK_MAX;
    xinf_regex_t *rules [XINF_PDA_RULES_MAX] = { NULL };
    const char *names [XINF_PDA_RULES_MAX] = { NULL };
    bool good = s_add_automaton (self, root, 0, rules, names, &work_left, &states);
    for (size_t index = 0; good && index < self->rule_count; index++)
        if (self->rules [index].call > 0)
            good = s_add_automaton (self, index, (size_t) self->rules [index].call, rules, names, &work_left,
                                    &states);
    if (!good) {
        for (size_t index = 0; index < count; index++)
            xinf_regex_destroy (&rules [index]);
        return NULL;
    }
    xinf_pda_t *pda = xinf_pda_new (rules, names, count, self->error, self->error_size);
    return pda ? xinf_rx_stacked (pda) : NULL;
}

xinf_regex_t *
xinf_regex_new_gbnf (const char *text, size_t size, char *error, size_t error_size)
{
    xinf_rx_tree_t tree = { 0 };
    s_gbnf_t self = { (const unsigned char *) text, size, 0, &tree, error, error_size, 0,
                      calloc (S_RULES_MAX, sizeof (s_rule_t)), 0, 0, calloc (S_REFS_MAX, sizeof (s_ref_t)), 0, 0 };
    int rc = self.rules && self.refs ? 0 : s_fail (&self, S_WHOLE, "out of memory");
    if (rc == 0 && size > XINF_REGEX_PATTERN_MAX)
        rc = s_fail (&self, S_WHOLE, "more than %d bytes", XINF_REGEX_PATTERN_MAX);
    while (rc == 0) {
        s_space (&self, true);
        if (self.at >= self.size)
            break;
        rc = s_definition (&self);
    }
    long root = rc == 0 ? s_resolve (&self) : -1;
    xinf_regex_t *regex = NULL;
    if (root >= 0 && self.call_count == 0) {
        tree.root = self.rules [root].node;
        regex = xinf_rx_compile (&tree, 0, NULL, error, error_size);
    }
    else
    if (root >= 0)
        regex = s_stacked (&self, (size_t) root);
    xinf_rx_tree_free (&tree);
    free (self.rules);
    free (self.refs);
    return regex;
}
