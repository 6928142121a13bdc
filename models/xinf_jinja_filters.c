/*  xinf_jinja_filters: the filters and tests of the Jinja interpreter,
    with jinja2's semantics (and Hugging Face's tojson: ensure_ascii off,
    optional indent).

    Filters: abs, capitalize, count, d, default, dictsort, first, float,
    indent, int, items, join, last, length, list, lower, map, max, min, reject, rejectattr, replace,
    reverse, safe, select, selectattr, sort, string, title, tojson, trim,
    unique, upper.
    Tests: boolean, callable, defined, divisibleby, eq, equalto, even,
    false, float, ge, gt, in, integer, iterable, le, lower, lt, mapping,
    ne, none, number, odd, sameas, sequence, string, true, undefined,
    upper, and the operator spellings ==, !=, <, <=, >, >=.
*/
#include "xinf_jinja_private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *s_filters [] = {
    "abs", "capitalize", "count", "d", "default", "dictsort", "first", "float", "indent", "int",
    "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
    "safe", "select", "selectattr", "sort", "string", "title", "tojson", "trim", "unique",
    "upper", NULL
};

static const char *s_tests [] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "even", "false", "float",
    "ge", "gt", "in", "integer", "iterable", "le", "lower", "lt", "mapping", "ne", "none",
    "number", "odd", "sameas", "sequence", "string", "true", "undefined", "upper",
    "==", "!=", "<", "<=", ">", ">=", "greaterthan", "lessthan", NULL
};

static bool
s_known (const char **names, const char *name, size_t len)
{
    for (int index = 0; names [index]; index++)
        if (strlen (names [index]) == len && memcmp (names [index], name, len) == 0)
            return true;
    return false;
}

bool jinja_filter_known (const char *name, size_t len) { return s_known (s_filters, name, len); }
bool jinja_test_known (const char *name, size_t len) { return s_known (s_tests, name, len); }

static bool
s_is (const char *name, const char *want)
{
    return strcmp (name, want) == 0;
}

// ---- tests ------------------------------------------------------------------

static int
s_compare_test (jctx_t *ctx, const char *name, jv_t *value, jv_t *other)
{
    static const struct { const char *name; int op; } ops [] = {
        { "eq", OP_EQ }, { "equalto", OP_EQ }, { "==", OP_EQ }, { "ne", OP_NE }, { "!=", OP_NE },
        { "lt", OP_LT }, { "lessthan", OP_LT }, { "<", OP_LT }, { "le", OP_LE }, { "<=", OP_LE },
        { "gt", OP_GT }, { "greaterthan", OP_GT }, { ">", OP_GT }, { "ge", OP_GE }, { ">=", OP_GE },
        { "in", OP_IN }
    };
    for (size_t index = 0; index < sizeof ops / sizeof ops [0]; index++)
        if (s_is (name, ops [index].name)) {
            if (!other)
                jrun_fail (ctx, "test '%s' needs an argument", name);
            return jv_truthy (jinja_binary (ctx, ops [index].op, value, other));
        }
    return -1;
}

bool
jinja_test (jctx_t *ctx, const char *name, jv_t *value, jv_t **args, int nargs)
{
    jv_t *other = nargs > 0? args [0]: NULL;
    int compared = s_compare_test (ctx, name, value, other);
    if (compared >= 0)
        return compared;
    jv_type_t type = value->type;
    if (s_is (name, "defined")) return type != JV_UNDEF;
    if (s_is (name, "undefined")) return type == JV_UNDEF;
    if (s_is (name, "none")) return type == JV_NONE;
    if (s_is (name, "string")) return type == JV_STR;
    if (s_is (name, "mapping")) return type == JV_DICT;
    if (s_is (name, "iterable")) return type == JV_LIST || type == JV_DICT || type == JV_STR || type == JV_UNDEF;
    if (s_is (name, "sequence")) return type == JV_LIST || type == JV_DICT || type == JV_STR || type == JV_UNDEF;
    if (s_is (name, "number")) return type == JV_INT || type == JV_FLOAT || type == JV_BOOL;
    if (s_is (name, "integer")) return type == JV_INT;
    if (s_is (name, "float")) return type == JV_FLOAT;
    if (s_is (name, "boolean")) return type == JV_BOOL;
    if (s_is (name, "true")) return type == JV_BOOL && value->u.b;
    if (s_is (name, "false")) return type == JV_BOOL && !value->u.b;
    if (s_is (name, "callable")) return type == JV_FUNC || type == JV_METHOD || type == JV_MACRO;
    if (s_is (name, "sameas"))
        return other && (value == other || (value->type == other->type
                         && (value->type == JV_NONE || (value->type == JV_BOOL && value->u.b == other->u.b))));
    if (s_is (name, "lower") || s_is (name, "upper")) {
        //  str.islower (): some cased letter, and none of the other case
        jv_t *text = jv_to_str (&ctx->mem, value);
        bool cased = false;
        for (size_t at = 0; at < text->u.str.n; at++) {
            char c = text->u.str.s [at];
            bool is_lower = c >= 'a' && c <= 'z', is_upper = c >= 'A' && c <= 'Z';
            if ((name [0] == 'l' && is_upper) || (name [0] == 'u' && is_lower))
                return false;
            cased = cased || is_lower || is_upper;
        }
        return cased;
    }
    //  odd, even, divisibleby: value % n == 0 with Python's %
    jv_t *divisor = s_is (name, "divisibleby")? other: jv_int (&ctx->mem, 2);
    if (!divisor)
        jrun_fail (ctx, "divisibleby needs an argument");
    jv_t *rest = jinja_binary (ctx, OP_MOD, value, divisor);
    return jv_equal (rest, jv_int (&ctx->mem, s_is (name, "odd")? 1: 0), ctx->err);
}

// ---- filters on sequences ---------------------------------------------------

//  The attribute path "a.b" of item, as jinja2's make_attrgetter.
static jv_t *
s_attribute (jctx_t *ctx, jv_t *item, jv_t *attribute)
{
    if (attribute->type == JV_INT)
        return jinja_getitem (ctx, item, attribute);
    if (attribute->type != JV_STR)
        jrun_fail (ctx, "attribute must be a string");
    const char *path = attribute->u.str.s;
    size_t n = attribute->u.str.n, at = 0;
    while (at <= n) {
        size_t end = at;
        while (end < n && path [end] != '.')
            end++;
        item = jinja_getitem (ctx, item, jv_strn (&ctx->mem, path + at, end - at));
        at = end + 1;
    }
    return item;
}

//  select, reject, selectattr, rejectattr.
static jv_t *
s_select (jctx_t *ctx, const char *name, jv_t *value, jv_t **args, int nargs)
{
    bool by_attr = strstr (name, "attr") != NULL;
    bool keep = name [0] == 's';
    if (by_attr && nargs < 1)
        jrun_fail (ctx, "%s needs an attribute name", name);
    int test_at = by_attr? 1: 0;
    jv_t *test = nargs > test_at? args [test_at]: NULL;
    if (test && (test->type != JV_STR || !jinja_test_known (test->u.str.s, test->u.str.n)))
        jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "%s: unknown test", name);
    jv_t *items = jv_truthy (value)? jinja_iterable (ctx, value): jv_list (&ctx->mem, 0);
    jinja_work (ctx, items->u.list.n);
    jv_t *out = jv_list (&ctx->mem, items->u.list.n);
    size_t count = 0;
    for (size_t index = 0; index < items->u.list.n; index++) {
        jv_t *item = items->u.list.items [index];
        jv_t *subject = by_attr? s_attribute (ctx, item, args [0]): item;
        bool passed = test? jinja_test (ctx, test->u.str.s, subject, args + test_at + 1, nargs - test_at - 1):
                            jv_truthy (subject);
        if (passed == keep)
            out->u.list.items [count++] = item;
    }
    out->u.list.n = count;
    out->u.list.gen = true;                   //  jinja2 returns a generator
    return out;
}

static jv_t *
s_map (jctx_t *ctx, jv_t *value, jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *items = jv_truthy (value)? jinja_iterable (ctx, value): jv_list (&ctx->mem, 0);
    jinja_work (ctx, items->u.list.n);
    jv_t *attribute = jinja_arg (NULL, 0, kw_names, kw_values, nkw, -1, "attribute");
    jv_t *fallback = jinja_arg (NULL, 0, kw_names, kw_values, nkw, -1, "default");
    if (!attribute && (nargs < 1 || args [0]->type != JV_STR
                       || !jinja_filter_known (args [0]->u.str.s, args [0]->u.str.n)))
        jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "map: unknown filter");
    jv_t *out = jv_list (&ctx->mem, items->u.list.n);
    for (size_t index = 0; index < items->u.list.n; index++) {
        jv_t *item = items->u.list.items [index];
        if (attribute) {
            item = s_attribute (ctx, item, attribute);
            if (item->type == JV_UNDEF && fallback)
                item = fallback;
        }
        else
            item = jinja_filter (ctx, args [0]->u.str.s, item, args + 1, nargs - 1, NULL, NULL, 0);
        out->u.list.items [index] = item;
    }
    out->u.list.gen = true;
    return out;
}

//  sort: stable (insertion into a merge), case-insensitive for strings
//  unless case_sensitive, by attribute when given.
static int
s_sort_compare (jctx_t *ctx, jv_t *a, jv_t *b, bool case_sensitive)
{
    if (!case_sensitive && a->type == JV_STR && b->type == JV_STR) {
        a = jinja_case (ctx, a, "lower");
        b = jinja_case (ctx, b, "lower");
    }
    if (jv_truthy (jinja_binary (ctx, OP_LT, a, b)))
        return -1;
    return jv_truthy (jinja_binary (ctx, OP_LT, b, a))? 1: 0;
}

static jv_t *
s_sort (jctx_t *ctx, jv_t *value, jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *items = jinja_iterable (ctx, value);
    jv_t *reverse = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "reverse");
    jv_t *sensitive = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "case_sensitive");
    jv_t *attribute = jinja_arg (args, nargs, kw_names, kw_values, nkw, 2, "attribute");
    if (attribute && attribute->type == JV_NONE)
        attribute = NULL;
    size_t n = items->u.list.n;
    jv_t *out = jv_list (&ctx->mem, n);
    jv_t **keys = jalloc (ctx->mem.arena, ctx->err, (n + 1) * sizeof *keys);
    bool descending = reverse && jv_truthy (reverse);
    for (size_t index = 0; index < n; index++) {
        //  insertion sort: n is small in chat templates and the loop limit bounds it
        jv_t *item = items->u.list.items [index];
        jv_t *key = attribute? s_attribute (ctx, item, attribute): item;
        jinja_work (ctx, index);
        size_t at = index;
        while (at > 0) {
            int cmp = s_sort_compare (ctx, keys [at - 1], key, sensitive && jv_truthy (sensitive));
            if (descending? cmp >= 0: cmp <= 0)
                break;
            keys [at] = keys [at - 1];
            out->u.list.items [at] = out->u.list.items [at - 1];
            at--;
        }
        keys [at] = key;
        out->u.list.items [at] = item;
    }
    return out;
}

static jv_t *
s_unique (jctx_t *ctx, jv_t *value)
{
    jv_t *items = jinja_iterable (ctx, value);
    jinja_work (ctx, items->u.list.n * items->u.list.n);
    jv_t *out = jv_list (&ctx->mem, items->u.list.n);
    size_t count = 0;
    for (size_t index = 0; index < items->u.list.n; index++) {
        jv_type_t type = items->u.list.items [index]->type;
        if (type == JV_LIST || type == JV_DICT)
            jrun_fail (ctx, "unhashable type: '%s'", jv_type_name (items->u.list.items [index]));
        bool seen = false;
        for (size_t k = 0; k < count && !seen; k++) {
            jv_t *a = out->u.list.items [k], *b = items->u.list.items [index];
            if (a->type == JV_STR && b->type == JV_STR)
                seen = jv_equal (jinja_case (ctx, a, "lower"), jinja_case (ctx, b, "lower"), ctx->err);
            else
                seen = jv_equal (a, b, ctx->err);
        }
        if (!seen)
            out->u.list.items [count++] = items->u.list.items [index];
    }
    out->u.list.n = count;
    return out;
}

// ---- filters on values ------------------------------------------------------

static jv_t *
s_length (jctx_t *ctx, jv_t *value)
{
    if (value->type == JV_LIST && value->u.list.gen)
        jrun_fail (ctx, "object of type 'generator' has no len()");
    switch (value->type) {
        case JV_UNDEF: return jv_int (&ctx->mem, 0);
        case JV_STR: return jv_int (&ctx->mem, (int64_t) utf8_len (value->u.str.s, value->u.str.n));
        case JV_LIST: return jv_int (&ctx->mem, (int64_t) value->u.list.n);
        case JV_DICT: return jv_int (&ctx->mem, (int64_t) value->u.dict->size);
        default: jrun_fail (ctx, "object of type '%s' has no len()", jv_type_name (value));
    }
}

static jv_t *
s_tojson (jctx_t *ctx, jv_t *value, jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *ascii = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "ensure_ascii");
    jv_t *indent = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "indent");
    jv_t *separators = jinja_arg (args, nargs, kw_names, kw_values, nkw, 2, "separators");
    jv_t *sort_keys = jinja_arg (args, nargs, kw_names, kw_values, nkw, 3, "sort_keys");
    jjson_opts_t opts = { .indent = -1, .ensure_ascii = ascii && jv_truthy (ascii),
                          .sort_keys = sort_keys && jv_truthy (sort_keys) };
    if (indent && indent->type != JV_NONE) {
        if (indent->type != JV_INT || indent->u.i < 0 || indent->u.i > 16)
            jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "tojson: indent must be an integer 0..16");
        opts.indent = (int) indent->u.i;
    }
    opts.item_sep = opts.indent >= 0? ",": ", ";
    opts.key_sep = ": ";
    if (separators && separators->type != JV_NONE) {
        if (separators->type != JV_LIST || separators->u.list.n != 2
            || separators->u.list.items [0]->type != JV_STR || separators->u.list.items [1]->type != JV_STR)
            jrun_fail (ctx, "tojson: separators must be two strings");
        opts.item_sep = separators->u.list.items [0]->u.str.s;
        opts.key_sep = separators->u.list.items [1]->u.str.s;
    }
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err, .limit = ctx->limits.max_output };
    jv_json_into (&buf, value, &opts, ctx->line);
    return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
}

//  dictsort: the (key, value) pairs sorted by key (or by='value').
static jv_t *
s_dictsort (jctx_t *ctx, jv_t *value, jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *sensitive = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "case_sensitive");
    jv_t *by = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "by");
    jv_t *reverse = jinja_arg (args, nargs, kw_names, kw_values, nkw, 2, "reverse");
    if (value->type != JV_DICT)
        jrun_fail (ctx, "dictsort: expected a mapping, got %s", jv_type_name (value));
    int field = by && by->type == JV_STR && strcmp (by->u.str.s, "value") == 0? 1: 0;
    jv_t *pairs = jinja_items (ctx, value);
    jv_t *flags [3] = { reverse? reverse: jv_bool (false), sensitive? sensitive: jv_bool (false),
                        jv_int (&ctx->mem, field) };
    return s_sort (ctx, pairs, flags, 3, NULL, NULL, 0);
}

//  indent: every line but the first (and the first too with first=true)
//  prefixed by width spaces (or the width string); blank lines left alone
//  unless blank=true.
static jv_t *
s_indent (jctx_t *ctx, jv_t *value, jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *width = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "width");
    jv_t *first = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "first");
    jv_t *blank = jinja_arg (args, nargs, kw_names, kw_values, nkw, 2, "blank");
    jv_t *pad = width && width->type == JV_STR? width: NULL;
    if (!pad) {
        int64_t spaces = width && width->type == JV_INT? width->u.i: 4;
        if (spaces < 0 || spaces > 256)
            jrun_fail (ctx, "indent: width out of range");
        char text [257];
        memset (text, ' ', (size_t) spaces);
        pad = jv_strn (&ctx->mem, text, (size_t) spaces);
    }
    if (value->type != JV_STR)
        jrun_fail (ctx, "indent: expected a string, got %s", jv_type_name (value));
    const char *s = value->u.str.s;
    size_t n = value->u.str.n, at = 0;
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err, .limit = ctx->limits.max_output };
    if (first && jv_truthy (first))
        jbuf_put (&buf, pad->u.str.s, pad->u.str.n);
    bool first_line = true;
    while (at < n) {
        size_t end = at;
        while (end < n && s [end] != '\n' && s [end] != '\r')
            end++;
        if (!first_line) {
            jbuf_puts (&buf, "\n");
            if (end > at || (blank && jv_truthy (blank)))
                jbuf_put (&buf, pad->u.str.s, pad->u.str.n);
        }
        jbuf_put (&buf, s + at, end - at);
        first_line = false;
        at = end + (end + 1 < n && s [end] == '\r' && s [end + 1] == '\n'? 2: 1);
    }
    return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
}

//  min, max: by the sort order (case-insensitive strings), undefined when empty.
static jv_t *
s_min_max (jctx_t *ctx, jv_t *value, bool want_max, jv_t **args, int nargs, const char **kw_names,
           jv_t **kw_values, int nkw)
{
    jv_t *sensitive = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "case_sensitive");
    jv_t *attribute = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "attribute");
    jv_t *flags [3] = { jv_bool (want_max), sensitive? sensitive: jv_bool (false),
                        attribute? attribute: jv_none () };
    jv_t *sorted = s_sort (ctx, value, flags, attribute? 3: 2, NULL, NULL, 0);
    return sorted->u.list.n? sorted->u.list.items [0]: jv_undef (&ctx->mem, NULL);
}

static jv_t *
s_first_last (jctx_t *ctx, jv_t *value, bool first)
{
    if (!first && value->type == JV_LIST && value->u.list.gen)
        jrun_fail (ctx, "'generator' object is not reversible");
    jv_t *items = value->type == JV_LIST? value: jinja_iterable (ctx, value);
    if (items->u.list.n == 0)
        return jv_undef (&ctx->mem, NULL);
    return items->u.list.items [first? 0: items->u.list.n - 1];
}

static jv_t *
s_join (jctx_t *ctx, jv_t *value, jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *sep = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "d");
    jv_t *attribute = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "attribute");
    jv_t *items = jinja_iterable (ctx, value);
    jinja_work (ctx, items->u.list.n);
    sep = sep? jv_to_str (&ctx->mem, sep): NULL;
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err, .limit = ctx->limits.max_output };
    for (size_t index = 0; index < items->u.list.n; index++) {
        if (index && sep)
            jbuf_put (&buf, sep->u.str.s, sep->u.str.n);
        jv_t *item = items->u.list.items [index];
        jv_str_into (&buf, attribute? s_attribute (ctx, item, attribute): item);
    }
    return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
}

static jv_t *
s_to_int (jctx_t *ctx, jv_t *value, jv_t *fallback)
{
    jv_t *otherwise = fallback? fallback: jv_int (&ctx->mem, 0);
    switch (value->type) {
        case JV_UNDEF: jrun_fail (ctx, "undefined value converted to int");
        case JV_INT: return value;
        case JV_BOOL: return jv_int (&ctx->mem, value->u.b);
        case JV_FLOAT:
            if (!isfinite (value->u.f) || fabs (value->u.f) >= 9.2e18)
                return otherwise;
            return jv_int (&ctx->mem, (int64_t) value->u.f);
        case JV_STR: {
            jv_t *text = jinja_strip (ctx, value, NULL, true, true);
            char *end;
            errno = 0;
            long long parsed = strtoll (text->u.str.s, &end, 10);
            if (text->u.str.n && *end == 0 && !errno)
                return jv_int (&ctx->mem, parsed);
            double real = strtod (text->u.str.s, &end);
            if (text->u.str.n && *end == 0 && isfinite (real) && fabs (real) < 9.2e18)
                return jv_int (&ctx->mem, (int64_t) real);
            return otherwise;
        }
        default: return otherwise;
    }
}

static jv_t *
s_to_float (jctx_t *ctx, jv_t *value)
{
    if (value->type == JV_UNDEF)
        jrun_fail (ctx, "undefined value converted to float");
    if (value->type == JV_FLOAT) return value;
    if (value->type == JV_INT) return jv_float (&ctx->mem, (double) value->u.i);
    if (value->type == JV_BOOL) return jv_float (&ctx->mem, value->u.b);
    if (value->type == JV_STR) {
        jv_t *text = jinja_strip (ctx, value, NULL, true, true);
        char *end;
        double real = strtod (text->u.str.s, &end);
        if (text->u.str.n && *end == 0)
            return jv_float (&ctx->mem, real);
    }
    return jv_float (&ctx->mem, 0.0);
}

static jv_t *
s_reverse (jctx_t *ctx, jv_t *value)
{
    if (value->type == JV_STR) {
        jv_t *minus = jv_int (&ctx->mem, -1);
        return jinja_slice (ctx, value, jv_none (), jv_none (), minus);
    }
    jv_t *items = jinja_iterable (ctx, value);
    jv_t *out = jv_list (&ctx->mem, items->u.list.n);
    for (size_t index = 0; index < items->u.list.n; index++)
        out->u.list.items [index] = items->u.list.items [items->u.list.n - 1 - index];
    return out;
}

jv_t *
jinja_filter (jctx_t *ctx, const char *name, jv_t *value, jv_t **args, int nargs,
              const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *a0 = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, NULL);
    if (s_is (name, "default") || s_is (name, "d")) {
        jv_t *fallback = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "default_value");
        jv_t *boolean = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "boolean");
        bool use = value->type == JV_UNDEF || (boolean && jv_truthy (boolean) && !jv_truthy (value));
        return use? (fallback? fallback: jv_str (&ctx->mem, "")): value;
    }
    if (s_is (name, "selectattr") || s_is (name, "rejectattr") || s_is (name, "select") || s_is (name, "reject"))
        return s_select (ctx, name, value, args, nargs);
    if (s_is (name, "map")) return s_map (ctx, value, args, nargs, kw_names, kw_values, nkw);
    if (s_is (name, "sort")) return s_sort (ctx, value, args, nargs, kw_names, kw_values, nkw);
    if (s_is (name, "unique")) return s_unique (ctx, value);
    if (s_is (name, "dictsort")) return s_dictsort (ctx, value, args, nargs, kw_names, kw_values, nkw);
    if (s_is (name, "indent")) return s_indent (ctx, value, args, nargs, kw_names, kw_values, nkw);
    if (s_is (name, "min") || s_is (name, "max"))
        return s_min_max (ctx, value, name [1] == 'a', args, nargs, kw_names, kw_values, nkw);
    if (s_is (name, "length") || s_is (name, "count")) return s_length (ctx, value);
    if (s_is (name, "tojson")) return s_tojson (ctx, value, args, nargs, kw_names, kw_values, nkw);
    if (s_is (name, "first") || s_is (name, "last")) return s_first_last (ctx, value, name [0] == 'f');
    if (s_is (name, "join")) return s_join (ctx, value, args, nargs, kw_names, kw_values, nkw);
    if (s_is (name, "items")) return jinja_items (ctx, value);
    if (s_is (name, "list")) {
        jv_t *items = jinja_iterable (ctx, value);
        jv_t *copy = jv_list (&ctx->mem, items->u.list.n);
        for (size_t index = 0; index < items->u.list.n; index++)
            copy->u.list.items [index] = items->u.list.items [index];
        return copy;
    }
    if (s_is (name, "reverse")) return s_reverse (ctx, value);
    if (s_is (name, "safe")) {
        jv_t *text = jv_to_str (&ctx->mem, value);
        jv_t *markup = jv_strn (&ctx->mem, text->u.str.s, text->u.str.n);
        markup->markup = true;
        return markup;
    }
    if (s_is (name, "string")) return jv_to_str (&ctx->mem, value);
    if (s_is (name, "int")) return s_to_int (ctx, value, jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "default"));
    if (s_is (name, "float")) return s_to_float (ctx, value);
    if (s_is (name, "abs")) {
        if (value->type == JV_FLOAT) return jv_float (&ctx->mem, fabs (value->u.f));
        if (value->type == JV_INT && value->u.i < 0) return jinja_unary (ctx, E_NEG, value);
        if (value->type == JV_INT) return value;
        if (value->type == JV_BOOL) return jv_int (&ctx->mem, value->u.b);
        jrun_fail (ctx, "bad operand type for abs(): '%s'", jv_type_name (value));
    }
    if (s_is (name, "trim")) return jinja_strip (ctx, value, a0, true, true);
    if (s_is (name, "upper") || s_is (name, "lower") || s_is (name, "capitalize"))
        return jinja_case (ctx, value, name);
    if (s_is (name, "title")) return jinja_case (ctx, value, "title_filter");
    if (s_is (name, "replace")) {
        jv_t *with = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "new");
        jv_t *count = jinja_arg (args, nargs, kw_names, kw_values, nkw, 2, "count");
        if (!a0 || !with)
            jrun_fail (ctx, "replace needs two arguments");
        return jinja_replace (ctx, value, jv_to_str (&ctx->mem, a0), with,
                              count && count->type == JV_INT? count->u.i: -1);
    }
    jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "no filter named '%s'", name);
}
