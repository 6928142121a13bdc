/*  xinf_jinja_parse: the parser of the Jinja interpreter, tokens to a
    syntax tree, with jinja2's grammar and operator precedence (ternary,
    or, and, not, comparisons, + -, ~, * / // %, **, unary, postfix and
    filters/tests). Statements: if/elif/else, for (with else, filter, tuple
    targets), set (plain, ns.attr, tuples, block), macro, break, continue,
    generation, filter blocks. Anything else, and unknown filters or tests, is
    XINF_JINJA_EUNSUPPORTED; malformed input XINF_JINJA_ESYNTAX. Nesting
    is bounded, so the recursion is.
*/
#include "xinf_jinja_private.h"

#include <string.h>

#define JPARSE_MAX_DEPTH 200

typedef struct {
    jmem_t *mem;
    const jtok_t *toks;
    size_t count, pos;
    int depth;
} jparser_t;

static jnode_t *s_expression (jparser_t *p);
static jnode_t *s_or (jparser_t *p);
static jnode_t *s_unary (jparser_t *p, bool with_filter);
static jlist_t s_body (jparser_t *p, const char *const *ends);

// ---- helpers ----------------------------------------------------------------

static const jtok_t *
s_peek (jparser_t *p)
{
    return &p->toks [p->pos < p->count? p->pos: p->count - 1];
}

static const jtok_t *
s_next (jparser_t *p)
{
    const jtok_t *tok = s_peek (p);
    if (p->pos < p->count - 1)
        p->pos++;
    return tok;
}

static bool
s_is (const jtok_t *tok, jtok_type_t type, const char *text)
{
    return tok->type == type && (!text || (tok->n == strlen (text) && memcmp (tok->s, text, tok->n) == 0));
}

static bool
s_skip (jparser_t *p, jtok_type_t type, const char *text)
{
    if (!s_is (s_peek (p), type, text))
        return false;
    s_next (p);
    return true;
}

static _Noreturn void
s_fail (jparser_t *p, xinf_jinja_status_t status, const char *what)
{
    const jtok_t *tok = s_peek (p);
    if (tok->type == T_EOF)
        jfail (p->mem->err, status, tok->line, "%s, at the end of the template", what);
    jfail (p->mem->err, status, tok->line, "%s, at '%.*s'", what,
           tok->s? (int) (tok->n > 40? 40: tok->n): 0, tok->s? tok->s: "");
}

static void
s_expect (jparser_t *p, jtok_type_t type, const char *text)
{
    if (!s_skip (p, type, text)) {
        char what [64];
        snprintf (what, sizeof what, "expected '%s'",
                  text? text: type == T_BLOCK_END? "%}": type == T_VAR_END? "}}": "a name");
        s_fail (p, XINF_JINJA_ESYNTAX, what);
    }
}

static jnode_t *
s_node (jparser_t *p, jnode_type_t type)
{
    jnode_t *node = jalloc (p->mem->arena, p->mem->err, sizeof *node);
    node->type = type;
    node->line = s_peek (p)->line;
    return node;
}

static void
s_push (jparser_t *p, jlist_t *list, jnode_t *node)
{
    //  Grows by doubling; the arena keeps the old array until the end.
    if ((list->n & (list->n - 1)) == 0) {
        int cap = list->n? list->n * 2: 1;
        jnode_t **items = jalloc (p->mem->arena, p->mem->err, (size_t) cap * sizeof *items);
        if (list->n)
            memcpy (items, list->items, (size_t) list->n * sizeof *items);
        list->items = items;
    }
    list->items [list->n++] = node;
}

static const char *
s_name (jparser_t *p, size_t *len)
{
    const jtok_t *tok = s_peek (p);
    if (tok->type != T_NAME)
        s_fail (p, XINF_JINJA_ESYNTAX, "expected a name");
    s_next (p);
    char *copy = jalloc (p->mem->arena, p->mem->err, tok->n + 1);
    memcpy (copy, tok->s, tok->n);
    if (len)
        *len = tok->n;
    return copy;
}

static jnode_t *
s_const (jparser_t *p, jv_t *value)
{
    jnode_t *node = s_node (p, E_CONST);
    node->value = value;
    return node;
}

static void
s_enter (jparser_t *p)
{
    if (++p->depth > JPARSE_MAX_DEPTH)
        jfail (p->mem->err, XINF_JINJA_ELIMIT, s_peek (p)->line, "template nested deeper than %d", JPARSE_MAX_DEPTH);
}

// ---- expressions ------------------------------------------------------------

//  (args, name=value, ...) after the '('.
static void
s_call_args (jparser_t *p, jnode_t *node)
{
    while (!s_skip (p, T_OP, ")")) {
        if (node->args.n + node->kwargs.n > 0)
            s_expect (p, T_OP, ",");
        if (s_skip (p, T_OP, ")"))
            break;
        if (s_is (s_peek (p), T_OP, "*") || s_is (s_peek (p), T_OP, "**"))
            s_fail (p, XINF_JINJA_EUNSUPPORTED, "*args and **kwargs are not supported");
        if (s_peek (p)->type == T_NAME && p->pos + 1 < p->count && s_is (&p->toks [p->pos + 1], T_OP, "=")) {
            size_t len;
            const char *name = s_name (p, &len);
            s_next (p);
            s_push (p, &node->kwargs, s_const (p, jv_strn (p->mem, name, len)));
            s_push (p, &node->kwargs, s_expression (p));
        }
        else {
            if (node->kwargs.n)
                s_fail (p, XINF_JINJA_ESYNTAX, "positional argument after keyword argument");
            s_push (p, &node->args, s_expression (p));
        }
    }
}

static jnode_t *
s_sequence (jparser_t *p, jnode_type_t type, const char *close)
{
    jnode_t *node = s_node (p, type);
    while (!s_skip (p, T_OP, close)) {
        if (node->args.n)
            s_expect (p, T_OP, ",");
        if (s_skip (p, T_OP, close))
            break;
        s_push (p, &node->args, s_expression (p));
        if (type == E_DICT) {
            s_expect (p, T_OP, ":");
            s_push (p, &node->args, s_expression (p));
        }
    }
    return node;
}

static jnode_t *
s_primary (jparser_t *p)
{
    const jtok_t *tok = s_peek (p);
    if (tok->type == T_NAME) {
        static const char *consts [] = { "true", "True", "false", "False", "none", "None" };
        for (int index = 0; index < 6; index++)
            if (s_is (tok, T_NAME, consts [index])) {
                s_next (p);
                return s_const (p, index < 2? jv_bool (true): index < 4? jv_bool (false): jv_none ());
            }
        jnode_t *node = s_node (p, E_NAME);
        node->name = s_name (p, &node->name_len);
        return node;
    }
    if (tok->type == T_STRING) {
        jbuf_t buf = { .arena = p->mem->arena, .err = p->mem->err };
        while (s_peek (p)->type == T_STRING) {
            jbuf_put (&buf, s_peek (p)->s, s_peek (p)->n);
            s_next (p);
        }
        return s_const (p, jv_strn (p->mem, buf.data? buf.data: "", buf.size));
    }
    if (tok->type == T_INT || tok->type == T_FLOAT) {
        s_next (p);
        return s_const (p, tok->type == T_INT? jv_int (p->mem, tok->i): jv_float (p->mem, tok->f));
    }
    if (s_skip (p, T_OP, "(")) {
        if (s_skip (p, T_OP, ")"))
            return s_node (p, E_TUPLE);
        jnode_t *inner = s_expression (p);
        if (s_is (s_peek (p), T_OP, ",")) {
            jnode_t *tuple = s_node (p, E_TUPLE);
            s_push (p, &tuple->args, inner);
            while (s_skip (p, T_OP, ",") && !s_is (s_peek (p), T_OP, ")"))
                s_push (p, &tuple->args, s_expression (p));
            inner = tuple;
        }
        s_expect (p, T_OP, ")");
        return inner;
    }
    if (s_skip (p, T_OP, "["))
        return s_sequence (p, E_LIST, "]");
    if (s_skip (p, T_OP, "{"))
        return s_sequence (p, E_DICT, "}");
    s_fail (p, XINF_JINJA_ESYNTAX, "expected an expression");
}

//  [index] or [start:stop:step] after the '['.
static jnode_t *
s_subscript (jparser_t *p, jnode_t *object)
{
    jnode_t *parts [3] = { NULL, NULL, NULL };
    int part = 0;
    bool slice = false;
    while (!s_skip (p, T_OP, "]")) {
        if (s_skip (p, T_OP, ":")) {
            if (++part > 2)
                s_fail (p, XINF_JINJA_ESYNTAX, "too many ':' in a slice");
            slice = true;
            continue;
        }
        if (parts [part])
            s_fail (p, XINF_JINJA_ESYNTAX, "expected ']'");
        parts [part] = s_expression (p);
    }
    if (!slice && !parts [0])
        s_fail (p, XINF_JINJA_ESYNTAX, "empty subscript");
    jnode_t *node = s_node (p, slice? E_SLICE: E_ITEM);
    node->a = object;
    node->b = parts [0];
    if (slice) {
        node->c = parts [1];
        s_push (p, &node->args, parts [2]);
    }
    return node;
}

static jnode_t *
s_postfix (jparser_t *p, jnode_t *node)
{
    while (true) {
        if (s_skip (p, T_OP, ".")) {
            const jtok_t *tok = s_peek (p);
            if (tok->type == T_INT) {
                s_next (p);
                jnode_t *item = s_node (p, E_ITEM);
                item->a = node;
                item->b = s_const (p, jv_int (p->mem, tok->i));
                node = item;
                continue;
            }
            jnode_t *attr = s_node (p, E_ATTR);
            attr->a = node;
            attr->name = s_name (p, &attr->name_len);
            node = attr;
        }
        else if (s_skip (p, T_OP, "["))
            node = s_subscript (p, node);
        else if (s_skip (p, T_OP, "(")) {
            jnode_t *call = s_node (p, E_CALL);
            call->a = node;
            s_call_args (p, call);
            node = call;
        }
        else
            return node;
    }
}

static jnode_t *
s_filter_or_test (jparser_t *p, jnode_t *node)
{
    while (true) {
        if (s_skip (p, T_OP, "|")) {
            jnode_t *filter = s_node (p, E_FILTER);
            filter->a = node;
            filter->name = s_name (p, &filter->name_len);
            if (!jinja_filter_known (filter->name, filter->name_len))
                jfail (p->mem->err, XINF_JINJA_EUNSUPPORTED, filter->line, "no filter named '%s'", filter->name);
            if (s_skip (p, T_OP, "("))
                s_call_args (p, filter);
            node = filter;
        }
        else if (s_skip (p, T_NAME, "is")) {
            jnode_t *test = s_node (p, E_TEST);
            test->a = node;
            test->negated = s_skip (p, T_NAME, "not");
            test->name = s_name (p, &test->name_len);
            if (!jinja_test_known (test->name, test->name_len))
                jfail (p->mem->err, XINF_JINJA_EUNSUPPORTED, test->line, "no test named '%s'", test->name);
            const jtok_t *tok = s_peek (p);
            if (s_skip (p, T_OP, "("))
                s_call_args (p, test);
            else if ((tok->type == T_NAME || tok->type == T_STRING || tok->type == T_INT
                      || tok->type == T_FLOAT || s_is (tok, T_OP, "[") || s_is (tok, T_OP, "{"))
                     && !s_is (tok, T_NAME, "else") && !s_is (tok, T_NAME, "or")
                     && !s_is (tok, T_NAME, "and")) {
                if (s_is (tok, T_NAME, "is"))
                    s_fail (p, XINF_JINJA_ESYNTAX, "cannot chain tests with 'is'");
                s_push (p, &test->args, s_postfix (p, s_primary (p)));
            }
            node = test;
        }
        else if (s_skip (p, T_OP, "(")) {
            jnode_t *call = s_node (p, E_CALL);
            call->a = node;
            s_call_args (p, call);
            node = call;
        }
        else
            return node;
    }
}

static jnode_t *
s_unary (jparser_t *p, bool with_filter)
{
    s_enter (p);
    jnode_t *node;
    if (s_is (s_peek (p), T_OP, "-") || s_is (s_peek (p), T_OP, "+")) {
        node = s_node (p, s_is (s_peek (p), T_OP, "-")? E_NEG: E_POS);
        s_next (p);
        node->a = s_unary (p, false);
    }
    else
        node = s_primary (p);
    node = s_postfix (p, node);
    if (with_filter)
        node = s_filter_or_test (p, node);
    p->depth--;
    return node;
}

static jnode_t *
s_binary (jparser_t *p, int op, jnode_t *left, jnode_t *right)
{
    jnode_t *node = s_node (p, E_BINARY);
    node->op = op;
    node->a = left;
    node->b = right;
    return node;
}

static jnode_t *
s_pow (jparser_t *p)
{
    jnode_t *node = s_unary (p, true);
    while (s_skip (p, T_OP, "**"))
        node = s_binary (p, OP_POW, node, s_unary (p, true));
    return node;
}

static jnode_t *
s_math2 (jparser_t *p)
{
    jnode_t *node = s_pow (p);
    while (true) {
        int op = s_skip (p, T_OP, "*")? OP_MUL: s_skip (p, T_OP, "/")? OP_DIV:
                 s_skip (p, T_OP, "//")? OP_FLOORDIV: s_skip (p, T_OP, "%")? OP_MOD: -1;
        if (op < 0)
            return node;
        node = s_binary (p, op, node, s_pow (p));
    }
}

static jnode_t *
s_concat (jparser_t *p)
{
    jnode_t *node = s_math2 (p);
    while (s_skip (p, T_OP, "~"))
        node = s_binary (p, OP_CONCAT, node, s_math2 (p));
    return node;
}

static jnode_t *
s_math1 (jparser_t *p)
{
    jnode_t *node = s_concat (p);
    while (true) {
        int op = s_skip (p, T_OP, "+")? OP_ADD: s_skip (p, T_OP, "-")? OP_SUB: -1;
        if (op < 0)
            return node;
        node = s_binary (p, op, node, s_concat (p));
    }
}

static int
s_compare_op (jparser_t *p)
{
    static const char *ops [] = { "==", "!=", "<", ">", "<=", ">=" };
    for (int index = 0; index < 6; index++)
        if (s_skip (p, T_OP, ops [index]))
            return OP_EQ + index;
    if (s_skip (p, T_NAME, "in"))
        return OP_IN;
    if (s_is (s_peek (p), T_NAME, "not") && p->pos + 1 < p->count
        && s_is (&p->toks [p->pos + 1], T_NAME, "in")) {
        p->pos += 2;
        return OP_NOTIN;
    }
    return -1;
}

static jnode_t *
s_compare (jparser_t *p)
{
    jnode_t *node = s_math1 (p);
    jnode_t *last = node;
    jnode_t *chain = NULL;
    int op;
    while ((op = s_compare_op (p)) >= 0) {
        jnode_t *right = s_math1 (p);
        jnode_t *compare = s_node (p, E_COMPARE);
        compare->op = op;
        compare->a = last;
        compare->b = right;
        if (chain) {
            jnode_t *both = s_node (p, E_AND);
            both->a = chain;
            both->b = compare;
            chain = both;
        }
        else
            chain = compare;
        last = right;
    }
    return chain? chain: node;
}

static jnode_t *
s_not (jparser_t *p)
{
    if (s_skip (p, T_NAME, "not")) {
        s_enter (p);
        jnode_t *node = s_node (p, E_NOT);
        node->a = s_not (p);
        p->depth--;
        return node;
    }
    return s_compare (p);
}

static jnode_t *
s_logic (jparser_t *p, bool is_or)
{
    jnode_t *node = is_or? s_logic (p, false): s_not (p);
    while (s_skip (p, T_NAME, is_or? "or": "and")) {
        jnode_t *both = s_node (p, is_or? E_OR: E_AND);
        both->a = node;
        both->b = is_or? s_logic (p, false): s_not (p);
        node = both;
    }
    return node;
}

static jnode_t *
s_or (jparser_t *p)
{
    return s_logic (p, true);
}

static jnode_t *
s_expression (jparser_t *p)
{
    s_enter (p);
    jnode_t *node = s_or (p);
    while (s_skip (p, T_NAME, "if")) {
        jnode_t *cond = s_node (p, E_COND);
        cond->a = s_or (p);
        cond->b = node;
        cond->c = s_skip (p, T_NAME, "else")? s_expression (p): NULL;
        node = cond;
    }
    p->depth--;
    return node;
}

// ---- statements -------------------------------------------------------------

//  name, name, ... (for and set targets).
static void
s_targets (jparser_t *p, jnode_t *node)
{
    const char *names [16];
    int count = 0;
    do {
        if (count == 16)
            s_fail (p, XINF_JINJA_EUNSUPPORTED, "more than 16 targets");
        names [count++] = s_name (p, NULL);
    } while (s_skip (p, T_OP, ","));
    node->targets = jalloc (p->mem->arena, p->mem->err, (size_t) count * sizeof *node->targets);
    memcpy (node->targets, names, (size_t) count * sizeof *names);
    node->ntargets = count;
}

static void
s_end (jparser_t *p, const char *name)
{
    s_expect (p, T_NAME, name);
    s_expect (p, T_BLOCK_END, NULL);
}

static const char *const s_if_ends [] = { "elif", "else", "endif", NULL };

static jnode_t *
s_if (jparser_t *p)
{
    jnode_t *node = s_node (p, N_IF);
    node->a = s_expression (p);
    s_expect (p, T_BLOCK_END, NULL);
    node->body = s_body (p, s_if_ends);
    if (s_skip (p, T_NAME, "elif"))
        s_push (p, &node->orelse, s_if (p));
    else if (s_skip (p, T_NAME, "else")) {
        s_expect (p, T_BLOCK_END, NULL);
        static const char *const ends [] = { "endif", NULL };
        node->orelse = s_body (p, ends);
        s_end (p, "endif");
    }
    else
        s_end (p, "endif");
    return node;
}

static jnode_t *
s_for (jparser_t *p)
{
    jnode_t *node = s_node (p, N_FOR);
    s_targets (p, node);
    s_expect (p, T_NAME, "in");
    node->a = s_or (p);
    if (s_skip (p, T_NAME, "if"))
        node->b = s_expression (p);
    if (s_is (s_peek (p), T_NAME, "recursive"))
        s_fail (p, XINF_JINJA_EUNSUPPORTED, "recursive loops are not supported");
    s_expect (p, T_BLOCK_END, NULL);
    static const char *const ends [] = { "endfor", "else", NULL };
    node->body = s_body (p, ends);
    if (s_skip (p, T_NAME, "else")) {
        s_expect (p, T_BLOCK_END, NULL);
        static const char *const else_ends [] = { "endfor", NULL };
        node->orelse = s_body (p, else_ends);
    }
    s_end (p, "endfor");
    return node;
}

static jnode_t *
s_set (jparser_t *p)
{
    jnode_t *node = s_node (p, N_SET);
    if (p->pos + 1 < p->count && s_is (&p->toks [p->pos + 1], T_OP, ".")) {
        node->name = s_name (p, &node->name_len);
        s_next (p);
        node->attr = s_name (p, NULL);
    }
    else
        s_targets (p, node);
    if (s_skip (p, T_OP, "=")) {
        node->a = s_expression (p);
        if (s_is (s_peek (p), T_OP, ",")) {
            jnode_t *tuple = s_node (p, E_TUPLE);
            s_push (p, &tuple->args, node->a);
            while (s_skip (p, T_OP, ","))
                s_push (p, &tuple->args, s_expression (p));
            node->a = tuple;
        }
        s_expect (p, T_BLOCK_END, NULL);
        return node;
    }
    if (node->attr || node->ntargets != 1 || s_is (s_peek (p), T_OP, "|"))
        s_fail (p, XINF_JINJA_EUNSUPPORTED, "this form of block set is not supported");
    s_expect (p, T_BLOCK_END, NULL);
    node->type = N_SET_BLOCK;
    static const char *const ends [] = { "endset", NULL };
    node->body = s_body (p, ends);
    s_end (p, "endset");
    return node;
}

static jnode_t *
s_macro (jparser_t *p)
{
    jnode_t *node = s_node (p, N_MACRO);
    node->name = s_name (p, &node->name_len);
    s_expect (p, T_OP, "(");
    const char *names [32];
    jnode_t *defaults [32];
    int count = 0;
    while (!s_skip (p, T_OP, ")")) {
        if (count)
            s_expect (p, T_OP, ",");
        if (s_skip (p, T_OP, ")"))
            break;
        if (count == 32)
            s_fail (p, XINF_JINJA_EUNSUPPORTED, "more than 32 macro parameters");
        names [count] = s_name (p, NULL);
        defaults [count] = s_skip (p, T_OP, "=")? s_expression (p): NULL;
        count++;
    }
    s_expect (p, T_BLOCK_END, NULL);
    node->ntargets = count;
    node->targets = jalloc (p->mem->arena, p->mem->err, (size_t) (count + 1) * sizeof *node->targets);
    node->defaults = jalloc (p->mem->arena, p->mem->err, (size_t) (count + 1) * sizeof *node->defaults);
    memcpy (node->targets, names, (size_t) count * sizeof *names);
    memcpy (node->defaults, defaults, (size_t) count * sizeof *defaults);
    static const char *const ends [] = { "endmacro", NULL };
    node->body = s_body (p, ends);
    s_expect (p, T_NAME, "endmacro");
    s_skip (p, T_NAME, node->name);
    s_expect (p, T_BLOCK_END, NULL);
    return node;
}

//  {% filter a | b(x) %}...{% endfilter %}: the filters in args, each with no operand.
static jnode_t *
s_filter_block (jparser_t *p)
{
    jnode_t *node = s_node (p, N_FILTER_BLOCK);
    do {
        jnode_t *filter = s_node (p, E_FILTER);
        filter->name = s_name (p, &filter->name_len);
        if (!jinja_filter_known (filter->name, filter->name_len))
            jfail (p->mem->err, XINF_JINJA_EUNSUPPORTED, filter->line, "no filter named '%s'", filter->name);
        if (s_skip (p, T_OP, "("))
            s_call_args (p, filter);
        s_push (p, &node->args, filter);
    } while (s_skip (p, T_OP, "|"));
    s_expect (p, T_BLOCK_END, NULL);
    static const char *const ends [] = { "endfilter", NULL };
    node->body = s_body (p, ends);
    s_end (p, "endfilter");
    return node;
}

static jnode_t *
s_statement (jparser_t *p)
{
    const jtok_t *tok = s_peek (p);
    s_enter (p);
    jnode_t *node = NULL;
    if (s_skip (p, T_NAME, "if"))
        node = s_if (p);
    else if (s_skip (p, T_NAME, "for"))
        node = s_for (p);
    else if (s_skip (p, T_NAME, "set"))
        node = s_set (p);
    else if (s_skip (p, T_NAME, "macro"))
        node = s_macro (p);
    else if (s_is (tok, T_NAME, "break") || s_is (tok, T_NAME, "continue")) {
        node = s_node (p, s_is (tok, T_NAME, "break")? N_BREAK: N_CONTINUE);
        s_next (p);
        s_expect (p, T_BLOCK_END, NULL);
    }
    else if (s_skip (p, T_NAME, "filter"))
        node = s_filter_block (p);
    else if (s_skip (p, T_NAME, "generation")) {
        node = s_node (p, N_BODY);
        s_expect (p, T_BLOCK_END, NULL);
        static const char *const ends [] = { "endgeneration", NULL };
        node->body = s_body (p, ends);
        s_end (p, "endgeneration");
    }
    else if (tok->type == T_NAME && (strncmp (tok->s, "end", 3) == 0 || s_is (tok, T_NAME, "elif")
                                     || s_is (tok, T_NAME, "else")))
        s_fail (p, XINF_JINJA_ESYNTAX, "unexpected end of block");
    else if (tok->type == T_NAME)
        jfail (p->mem->err, XINF_JINJA_EUNSUPPORTED, tok->line, "unsupported statement '%.*s'",
               (int) (tok->n > 40? 40: tok->n), tok->s);
    else
        s_fail (p, XINF_JINJA_ESYNTAX, "expected a statement name");
    p->depth--;
    return node;
}

static bool
s_at_end (jparser_t *p, const char *const *ends)
{
    for (int index = 0; ends && ends [index]; index++)
        if (s_is (s_peek (p), T_NAME, ends [index]))
            return true;
    return false;
}

//  Statements up to one of ends (left for the caller to read) or EOF.
static jlist_t
s_body (jparser_t *p, const char *const *ends)
{
    jlist_t list = { NULL, 0 };
    while (true) {
        const jtok_t *tok = s_next (p);
        if (tok->type == T_EOF) {
            if (ends && ends [0]) {
                char what [64];
                snprintf (what, sizeof what, "missing '%s'", ends [0]);
                s_fail (p, XINF_JINJA_ESYNTAX, what);
            }
            return list;
        }
        if (tok->type == T_TEXT) {
            jnode_t *text = s_node (p, N_TEXT);
            text->line = tok->line;
            text->value = jv_strn (p->mem, tok->s, tok->n);
            s_push (p, &list, text);
        }
        else if (tok->type == T_VAR_BEGIN) {
            jnode_t *output = s_node (p, N_OUTPUT);
            output->a = s_expression (p);
            s_expect (p, T_VAR_END, NULL);
            s_push (p, &list, output);
        }
        else if (tok->type == T_BLOCK_BEGIN) {
            if (s_at_end (p, ends))
                return list;
            s_push (p, &list, s_statement (p));
        }
        else
            jfail (p->mem->err, XINF_JINJA_ESYNTAX, tok->line, "unexpected token");
    }
}

jlist_t
jinja_parse (jmem_t *mem, const jtok_t *tokens, size_t count)
{
    jparser_t p = { .mem = mem, .toks = tokens, .count = count };
    jlist_t list = s_body (&p, NULL);
    return list;
}
