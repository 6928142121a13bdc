/*  xinf_jinja_ops: the operators of the Jinja interpreter with Python's
    semantics (int overflow is an error rather than a big int), attribute
    and item lookup as jinja2's sandbox does it (attribute first for
    `a.b`, item first for `a[b]`, a missing one is undefined, anything
    done to an undefined but printing, testing and comparing it raises),
    slices of lists and strings (by code point), and iteration.
*/
#include "xinf_jinja_private.h"

#include <math.h>
#include <string.h>

static const char *s_dict_methods [] = { "items", "keys", "values", "get", NULL };
static const char *s_str_methods [] = {
    "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "upper", "lower",
    "replace", "title", "capitalize", "find", "count", "join", "splitlines", "rsplit", "format", NULL
};

static const char *s_mutators [] = {
    "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update",
    "setdefault", "popitem", "add", "discard", NULL
};

static _Noreturn void
s_undefined_error (jctx_t *ctx, const jv_t *v)
{
    if (v->u.undef_name)
        jrun_fail (ctx, "'%s' is undefined", v->u.undef_name);
    jrun_fail (ctx, "undefined value used");
}

static const char *
s_method (const char **names, const char *name, size_t len)
{
    for (int index = 0; names [index]; index++)
        if (strlen (names [index]) == len && memcmp (names [index], name, len) == 0)
            return names [index];
    return NULL;
}

//  A name that may be a Python method we lack: not one we have for
//  another type (str.items () is the data's fault, not ours), not one the
//  immutable sandbox refuses anyway.
static bool
s_maybe_method (const char *name, size_t len)
{
    return !s_method (s_mutators, name, len) && !s_method (s_dict_methods, name, len)
           && !s_method (s_str_methods, name, len);
}

jv_t *
jinja_getattr (jctx_t *ctx, jv_t *obj, const char *name, size_t len)
{
    const char *method = NULL;
    switch (obj->type) {
        case JV_UNDEF: s_undefined_error (ctx, obj);
        case JV_DICT: case JV_NS: {
            method = obj->type == JV_DICT? s_method (s_dict_methods, name, len): NULL;
            if (method)
                return jv_method (&ctx->mem, obj, method);
            jv_t *value = jdict_get (obj->u.dict, name, len);
            if (value || obj->type == JV_NS)
                return value? value: jv_undef (&ctx->mem, NULL);
            jv_t *undef = jv_undef (&ctx->mem, NULL);
            undef->markup = s_maybe_method (name, len);
            return undef;
        }
        case JV_STR:
            method = s_method (s_str_methods, name, len);
            if (method)
                return jv_method (&ctx->mem, obj, method);
            //  fall through
        default: {
            //  Perhaps a Python method we lack: calling it is unsupported,
            //  but the ones that change a value jinja2's immutable sandbox
            //  refuses, and so do we (as a runtime error).
            jv_t *undef = jv_undef (&ctx->mem, NULL);
            undef->markup = (obj->type == JV_STR || obj->type == JV_LIST || obj->type == JV_DICT)
                            && s_maybe_method (name, len);
            return undef;
        }
    }
}

static bool
s_index (jctx_t *ctx, jv_t *key, int64_t *out)
{
    if (key->type == JV_INT) { *out = key->u.i; return true; }
    if (key->type == JV_BOOL) { *out = key->u.b; return true; }
    return false;
}

jv_t *
jinja_getitem (jctx_t *ctx, jv_t *obj, jv_t *key)
{
    int64_t index;
    if (obj->type == JV_UNDEF)
        s_undefined_error (ctx, obj);
    if ((obj->type == JV_DICT || obj->type == JV_NS) && key->type == JV_STR) {
        jv_t *value = jdict_get (obj->u.dict, key->u.str.s, key->u.str.n);
        if (value)
            return value;
    }
    else if (obj->type == JV_LIST && obj->u.list.gen)
        return jv_undef (&ctx->mem, NULL);                 //  generators are not subscriptable
    else if (obj->type == JV_LIST && s_index (ctx, key, &index)) {
        int64_t n = (int64_t) obj->u.list.n;
        if (index < 0)
            index += n;
        if (index >= 0 && index < n)
            return obj->u.list.items [index];
        return jv_undef (&ctx->mem, NULL);
    }
    else if (obj->type == JV_STR && s_index (ctx, key, &index)) {
        int64_t n = (int64_t) utf8_len (obj->u.str.s, obj->u.str.n);
        if (index < 0)
            index += n;
        if (index < 0 || index >= n)
            return jv_undef (&ctx->mem, NULL);
        size_t from = utf8_offset (obj->u.str.s, obj->u.str.n, (size_t) index);
        size_t to = utf8_offset (obj->u.str.s, obj->u.str.n, (size_t) index + 1);
        return jv_strn (&ctx->mem, obj->u.str.s + from, to - from);
    }
    if (key->type == JV_STR && obj->type != JV_NS)
        return jinja_getattr (ctx, obj, key->u.str.s, key->u.str.n);
    return jv_undef (&ctx->mem, NULL);
}

// ---- slices -----------------------------------------------------------------

static int64_t
s_slice_bound (jctx_t *ctx, jv_t *v, int64_t n, int64_t fallback, bool is_start, int64_t step)
{
    if (v->type == JV_NONE)
        return fallback;
    int64_t index;
    if (!s_index (ctx, v, &index))
        jrun_fail (ctx, "slice indices must be integers or None");
    (void) is_start;
    if (index < 0) {
        index += n;
        if (index < 0)
            index = step < 0? -1: 0;
    }
    else if (index >= n)
        index = step < 0? n - 1: n;
    return index;
}

jv_t *
jinja_slice (jctx_t *ctx, jv_t *obj, jv_t *start, jv_t *stop, jv_t *step)
{
    if (obj->type == JV_UNDEF)
        s_undefined_error (ctx, obj);
    if ((obj->type != JV_LIST && obj->type != JV_STR) || (obj->type == JV_LIST && obj->u.list.gen))
        jrun_fail (ctx, "'%s' object is not subscriptable", jv_type_name (obj));
    int64_t stride = 1;
    if (step->type != JV_NONE && !s_index (ctx, step, &stride))
        jrun_fail (ctx, "slice indices must be integers or None");
    if (stride == 0)
        jrun_fail (ctx, "slice step cannot be zero");
    bool is_str = obj->type == JV_STR;
    jinja_work (ctx, is_str? obj->u.str.n / 16: obj->u.list.n);
    int64_t n = is_str? (int64_t) utf8_len (obj->u.str.s, obj->u.str.n): (int64_t) obj->u.list.n;
    int64_t from = s_slice_bound (ctx, start, n, stride > 0? 0: n - 1, true, stride);
    int64_t to = s_slice_bound (ctx, stop, n, stride > 0? n: -1, false, stride);
    int64_t count = stride > 0? (to > from? (to - from + stride - 1) / stride: 0):
                                (from > to? (from - to + (-stride) - 1) / (-stride): 0);
    if (!is_str) {
        jv_t *list = jv_list (&ctx->mem, (size_t) count);
        for (int64_t index = 0; index < count; index++)
            list->u.list.items [index] = obj->u.list.items [from + index * stride];
        return list;
    }
    //  Strings: byte offsets of every code point, then the chosen ones.
    size_t *offsets = jalloc (ctx->mem.arena, ctx->err, ((size_t) n + 1) * sizeof *offsets);
    size_t at = 0;
    for (size_t byte = 0; byte < obj->u.str.n; byte++)
        if (((unsigned char) obj->u.str.s [byte] & 0xC0) != 0x80)
            offsets [at++] = byte;
    offsets [n] = obj->u.str.n;
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err };
    for (int64_t index = 0; index < count; index++) {
        int64_t cp = from + index * stride;
        jbuf_put (&buf, obj->u.str.s + offsets [cp], offsets [cp + 1] - offsets [cp]);
    }
    return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
}

// ---- arithmetic -------------------------------------------------------------

static bool
s_is_number (const jv_t *v)
{
    return v->type == JV_INT || v->type == JV_FLOAT || v->type == JV_BOOL;
}

static bool
s_is_integer (const jv_t *v)
{
    return v->type == JV_INT || v->type == JV_BOOL;
}

static int64_t
s_int (const jv_t *v)
{
    return v->type == JV_INT? v->u.i: (int64_t) v->u.b;
}

static double
s_float (const jv_t *v)
{
    return v->type == JV_FLOAT? v->u.f: (double) s_int (v);
}

jv_t *
jinja_unary (jctx_t *ctx, int type, jv_t *value)
{
    if (value->type == JV_UNDEF)
        s_undefined_error (ctx, value);
    if (!s_is_number (value))
        jrun_fail (ctx, "bad operand type for unary %s: '%s'", type == E_NEG? "-": "+", jv_type_name (value));
    if (type == E_POS)
        return value->type == JV_BOOL? jv_int (&ctx->mem, s_int (value)): value;
    if (value->type == JV_FLOAT)
        return jv_float (&ctx->mem, -value->u.f);
    if (s_int (value) == INT64_MIN)
        jrun_fail (ctx, "integer overflow");
    return jv_int (&ctx->mem, -s_int (value));
}

static _Noreturn void
s_operand_error (jctx_t *ctx, const char *op, jv_t *a, jv_t *b)
{
    jrun_fail (ctx, "unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type_name (a), jv_type_name (b));
}

static jv_t *
s_repeat (jctx_t *ctx, jv_t *seq, int64_t times)
{
    if (times < 0)
        times = 0;
    size_t unit = seq->type == JV_STR? seq->u.str.n: seq->u.list.n;
    if (unit && (uint64_t) times > ctx->limits.max_memory / unit)
        jfail (ctx->err, XINF_JINJA_ELIMIT, ctx->line, "repetition larger than the memory limit");
    if (seq->type == JV_STR) {
        jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err };
        for (int64_t index = 0; index < times; index++)
            jbuf_put (&buf, seq->u.str.s, seq->u.str.n);
        return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
    }
    jv_t *list = jv_list (&ctx->mem, unit * (size_t) times);
    list->u.list.tuple = seq->u.list.tuple;
    for (size_t index = 0; index < list->u.list.n; index++)
        list->u.list.items [index] = seq->u.list.items [index % unit];
    return list;
}

//  markupsafe's escape (), as Markup + str applies it to the str.
static void
s_html_escape (jbuf_t *buf, const jv_t *v)
{
    for (size_t index = 0; index < v->u.str.n; index++) {
        char c = v->u.str.s [index];
        const char *entity = c == '&'? "&amp;": c == '<'? "&lt;": c == '>'? "&gt;":
                             c == '"'? "&#34;": c == '\''? "&#39;": NULL;
        if (entity)
            jbuf_puts (buf, entity);
        else
            jbuf_put (buf, &c, 1);
    }
}

static jv_t *
s_concat_values (jctx_t *ctx, jv_t *a, jv_t *b)
{
    jinja_work (ctx, a->type == JV_STR? (a->u.str.n + b->u.str.n) / 64: a->u.list.n + b->u.list.n);
    if (a->type == JV_STR) {
        jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err };
        bool markup = a->markup || b->markup;
        if (markup && !a->markup)
            s_html_escape (&buf, a);
        else
            jbuf_put (&buf, a->u.str.s, a->u.str.n);
        if (markup && !b->markup)
            s_html_escape (&buf, b);
        else
            jbuf_put (&buf, b->u.str.s, b->u.str.n);
        jv_t *result = jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
        result->markup = markup;
        return result;
    }
    jv_t *list = jv_list (&ctx->mem, a->u.list.n + b->u.list.n);
    for (size_t index = 0; index < a->u.list.n; index++)
        list->u.list.items [index] = a->u.list.items [index];
    for (size_t index = 0; index < b->u.list.n; index++)
        list->u.list.items [a->u.list.n + index] = b->u.list.items [index];
    return list;
}

static jv_t *
s_arith (jctx_t *ctx, int op, jv_t *a, jv_t *b)
{
    static const char *names [] = { "+", "-", "*", "/", "//", "%", "**" };
    if (op == OP_MOD && a->type == JV_STR)
        jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "%% string formatting is not supported");
    if (a->type == JV_UNDEF) s_undefined_error (ctx, a);
    if (b->type == JV_UNDEF) s_undefined_error (ctx, b);
    if ((a->type == JV_LIST && (a->u.list.gen || a->u.list.range))
        || (b->type == JV_LIST && (b->u.list.gen || b->u.list.range)))
        s_operand_error (ctx, names [op], a, b);
    if (op == OP_ADD && a->type == JV_LIST && b->type == JV_LIST
        && (a->u.list.range || b->u.list.range || a->u.list.tuple != b->u.list.tuple))
        jrun_fail (ctx, "can only concatenate %s (not \"%s\") to %s", jv_type_name (a), jv_type_name (b),
                   jv_type_name (a));
    if (op == OP_ADD && a->type == b->type && (a->type == JV_STR || a->type == JV_LIST))
        return s_concat_values (ctx, a, b);
    if (op == OP_MUL && (a->type == JV_STR || a->type == JV_LIST) && s_is_integer (b))
        return s_repeat (ctx, a, s_int (b));
    if (op == OP_MUL && (b->type == JV_STR || b->type == JV_LIST) && s_is_integer (a))
        return s_repeat (ctx, b, s_int (a));
    if (op == OP_MOD && a->type == JV_STR)
        jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "%% string formatting is not supported");
    if (!s_is_number (a) || !s_is_number (b)) {
        if (op == OP_ADD && a->type == JV_STR)
            jrun_fail (ctx, "can only concatenate str (not \"%s\") to str", jv_type_name (b));
        s_operand_error (ctx, names [op], a, b);
    }
    if (s_is_integer (a) && s_is_integer (b) && op != OP_DIV) {
        int64_t x = s_int (a), y = s_int (b), r = 0;
        bool overflow = false;
        switch (op) {
            case OP_ADD: overflow = __builtin_add_overflow (x, y, &r); break;
            case OP_SUB: overflow = __builtin_sub_overflow (x, y, &r); break;
            case OP_MUL: overflow = __builtin_mul_overflow (x, y, &r); break;
            case OP_FLOORDIV: case OP_MOD:
                if (y == 0)
                    jrun_fail (ctx, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1)
                    jrun_fail (ctx, "integer overflow");
                r = op == OP_FLOORDIV? x / y - ((x % y != 0) && ((x < 0) != (y < 0))):
                                       x % y + ((x % y != 0 && (x < 0) != (y < 0))? y: 0);
                break;
            case OP_POW:
                if (y < 0)
                    return s_arith (ctx, op, jv_float (&ctx->mem, (double) x), b);
                r = 1;
                for (int64_t k = 0; k < y && !overflow; k++) {
                    overflow = __builtin_mul_overflow (r, x, &r);
                    if (r == 0 || r == 1)
                        break;
                }
                if (x == -1)
                    r = y % 2? -1: 1;
                break;
        }
        if (overflow)
            jrun_fail (ctx, "integer overflow");
        return jv_int (&ctx->mem, r);
    }
    double x = s_float (a), y = s_float (b), r = 0;
    switch (op) {
        case OP_ADD: r = x + y; break;
        case OP_SUB: r = x - y; break;
        case OP_MUL: r = x * y; break;
        case OP_DIV: case OP_FLOORDIV: case OP_MOD:
            if (y == 0)
                jrun_fail (ctx, "division by zero");
            if (op == OP_DIV)
                r = x / y;
            else {
                //  CPython's float_divmod
                double mod = fmod (x, y);
                double div = (x - mod) / y;
                if (mod != 0 && ((y < 0) != (mod < 0))) {
                    mod += y;
                    div -= 1.0;
                }
                if (mod == 0)
                    mod = copysign (0.0, y);
                double floordiv = div != 0? floor (div): copysign (0.0, x / y);
                if (div != 0 && div - floordiv > 0.5)
                    floordiv += 1.0;
                r = op == OP_FLOORDIV? floordiv: mod;
            }
            break;
        case OP_POW:
            if (x == 0 && y < 0)
                jrun_fail (ctx, "0.0 cannot be raised to a negative power");
            if (x < 0 && y != floor (y))
                jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "complex numbers are not supported");
            r = pow (x, y);
            if (isinf (r) && isfinite (x) && isfinite (y))
                jrun_fail (ctx, "(34, 'Numerical result out of range')");
            break;
    }
    return jv_float (&ctx->mem, r);
}

// ---- comparisons ------------------------------------------------------------

static int
s_order (jctx_t *ctx, int op, jv_t *a, jv_t *b)
{
    static const char *names [] = { "<", ">", "<=", ">=" };
    if (a->type == JV_UNDEF) s_undefined_error (ctx, a);
    if (b->type == JV_UNDEF) s_undefined_error (ctx, b);
    if (s_is_number (a) && s_is_number (b)) {
        if (s_is_integer (a) && s_is_integer (b))
            return s_int (a) < s_int (b)? -1: s_int (a) > s_int (b);
        return s_float (a) < s_float (b)? -1: s_float (a) > s_float (b);
    }
    if (a->type == JV_LIST && b->type == JV_LIST && !a->u.list.range && !b->u.list.range
        && a->u.list.tuple == b->u.list.tuple && !a->u.list.gen && !b->u.list.gen) {
        //  lexicographic, as Python compares lists and tuples
        size_t n = a->u.list.n < b->u.list.n? a->u.list.n: b->u.list.n;
        jinja_work (ctx, n);
        for (size_t index = 0; index < n; index++)
            if (!jv_equal (a->u.list.items [index], b->u.list.items [index], ctx->err))
                return s_order (ctx, op, a->u.list.items [index], b->u.list.items [index]);
        return a->u.list.n < b->u.list.n? -1: a->u.list.n > b->u.list.n;
    }
    if (a->type == JV_STR && b->type == JV_STR) {
        size_t n = a->u.str.n < b->u.str.n? a->u.str.n: b->u.str.n;
        int cmp = memcmp (a->u.str.s, b->u.str.s, n);
        if (cmp)
            return cmp < 0? -1: 1;
        return a->u.str.n < b->u.str.n? -1: a->u.str.n > b->u.str.n;
    }
    jrun_fail (ctx, "'%s' not supported between instances of '%s' and '%s'",
               names [op - OP_LT], jv_type_name (a), jv_type_name (b));
}

static bool
s_contains (jctx_t *ctx, jv_t *needle, jv_t *hay)
{
    jinja_work (ctx, hay->type == JV_LIST? hay->u.list.n: hay->type == JV_STR? hay->u.str.n / 64:
                     hay->type == JV_DICT? hay->u.dict->size: 0);
    switch (hay->type) {
        case JV_UNDEF: return false;
        case JV_STR:
            if (needle->type != JV_STR)
                jrun_fail (ctx, "'in <string>' requires string as left operand, not %s", jv_type_name (needle));
            return needle->u.str.n == 0
                   || memmem (hay->u.str.s, hay->u.str.n, needle->u.str.s, needle->u.str.n) != NULL;
        case JV_LIST:
            for (size_t index = 0; index < hay->u.list.n; index++)
                if (jv_equal (needle, hay->u.list.items [index], ctx->err))
                    return true;
            return false;
        case JV_DICT:
            if ((needle->type == JV_LIST && !needle->u.list.tuple && !needle->u.list.range)
                || needle->type == JV_DICT)
                jrun_fail (ctx, "unhashable type: '%s'", jv_type_name (needle));
            return needle->type == JV_STR && jdict_get (hay->u.dict, needle->u.str.s, needle->u.str.n);
        default:
            jrun_fail (ctx, "argument of type '%s' is not iterable", jv_type_name (hay));
    }
}

jv_t *
jinja_binary (jctx_t *ctx, int op, jv_t *a, jv_t *b)
{
    switch (op) {
        case OP_CONCAT: {
            jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err };
            jv_str_into (&buf, a);
            jv_str_into (&buf, b);
            return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
        }
        case OP_EQ: case OP_NE:
            jinja_work (ctx, a->type == JV_LIST? a->u.list.n: a->type == JV_STR? a->u.str.n / 64:
                             a->type == JV_DICT? a->u.dict->size: 0);
            return jv_bool (jv_equal (a, b, ctx->err) == (op == OP_EQ));
        case OP_LT: return jv_bool (s_order (ctx, op, a, b) < 0);
        case OP_GT: return jv_bool (s_order (ctx, op, a, b) > 0);
        case OP_LE: return jv_bool (s_order (ctx, op, a, b) <= 0);
        case OP_GE: return jv_bool (s_order (ctx, op, a, b) >= 0);
        case OP_IN: return jv_bool (s_contains (ctx, a, b));
        case OP_NOTIN: return jv_bool (!s_contains (ctx, a, b));
        default: return s_arith (ctx, op, a, b);
    }
}

jv_t *
jinja_iterable (jctx_t *ctx, jv_t *value)
{
    jinja_work (ctx, value->type == JV_LIST? value->u.list.n / 16: value->type == JV_STR? value->u.str.n:
                     value->type == JV_DICT? value->u.dict->size: 0);
    switch (value->type) {
        case JV_LIST: return value;
        case JV_UNDEF: return jv_list (&ctx->mem, 0);
        case JV_DICT: {
            jv_t *keys = jv_list (&ctx->mem, value->u.dict->size);
            for (size_t index = 0; index < value->u.dict->size; index++)
                keys->u.list.items [index] = jv_strn (&ctx->mem, value->u.dict->keys [index],
                                                      value->u.dict->key_lens [index]);
            return keys;
        }
        case JV_STR: {
            size_t n = utf8_len (value->u.str.s, value->u.str.n);
            jv_t *chars = jv_list (&ctx->mem, n);
            size_t from = 0;
            for (size_t index = 0; index < n; index++) {
                size_t to = from + 1;
                while (to < value->u.str.n && ((unsigned char) value->u.str.s [to] & 0xC0) == 0x80)
                    to++;
                chars->u.list.items [index] = jv_strn (&ctx->mem, value->u.str.s + from, to - from);
                from = to;
            }
            return chars;
        }
        default:
            jrun_fail (ctx, "'%s' object is not iterable", jv_type_name (value));
    }
}
