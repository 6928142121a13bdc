/*  xinf_jinja_methods: what a template may call: the builtin functions
    (range, namespace, raise_exception, strftime_now, dict), macros, and
    the methods of strings (startswith, endswith, strip, lstrip, rstrip,
    split, rsplit, splitlines, upper, lower, title, capitalize, replace,
    find, count, join, format) and dicts (items, keys, values, get), with Python's
    semantics; whitespace is Python's (Unicode) whitespace, case changes
    are ASCII only.
*/
#include "xinf_jinja_private.h"

#include <stdlib.h>
#include <string.h>

jv_t *
jinja_arg (jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw,
           int position, const char *name)
{
    if (position >= 0 && position < nargs)
        return args [position];
    for (int index = 0; name && index < nkw; index++)
        if (strcmp (kw_names [index], name) == 0)
            return kw_values [index];
    return NULL;
}

static void
s_need_str (jctx_t *ctx, jv_t *value, const char *what)
{
    if (value->type != JV_STR)
        jrun_fail (ctx, "%s: expected a string, got %s", what, jv_type_name (value));
}

// ---- whitespace and strip ---------------------------------------------------

//  The code point at s [at] and its length in bytes.
static unsigned
s_decode (const char *s, size_t n, size_t at, size_t *len)
{
    unsigned char c = (unsigned char) s [at];
    size_t need = c < 0x80? 1: c >= 0xF0? 4: c >= 0xE0? 3: c >= 0xC0? 2: 1;
    if (at + need > n)
        need = 1;
    unsigned code = need == 1? c: c & (0x3F >> (need - 1));
    for (size_t k = 1; k < need; k++)
        code = code << 6 | ((unsigned char) s [at + k] & 0x3F);
    *len = need;
    return code;
}

static bool
s_is_space (unsigned code)
{
    return (code >= 0x09 && code <= 0x0D) || (code >= 0x1C && code <= 0x20) || code == 0x85
           || code == 0xA0 || code == 0x1680 || (code >= 0x2000 && code <= 0x200A)
           || code == 0x2028 || code == 0x2029 || code == 0x202F || code == 0x205F || code == 0x3000;
}

static bool
s_in_chars (jv_t *chars, const char *s, size_t len)
{
    if (!chars)
        return false;
    for (size_t at = 0; at < chars->u.str.n;) {
        size_t clen;
        s_decode (chars->u.str.s, chars->u.str.n, at, &clen);
        if (clen == len && memcmp (chars->u.str.s + at, s, len) == 0)
            return true;
        at += clen;
    }
    return false;
}

static bool
s_strippable (jv_t *chars, const char *s, size_t n, size_t at, size_t *len)
{
    unsigned code = s_decode (s, n, at, len);
    return chars? s_in_chars (chars, s + at, *len): s_is_space (code);
}

jv_t *
jinja_strip (jctx_t *ctx, jv_t *value, jv_t *chars, bool left, bool right)
{
    value = jv_to_str (&ctx->mem, value);
    if (chars && chars->type == JV_NONE)
        chars = NULL;
    if (chars)
        s_need_str (ctx, chars, "strip");
    const char *s = value->u.str.s;
    size_t from = 0, to = value->u.str.n, len;
    while (left && from < to && s_strippable (chars, s, to, from, &len))
        from += len;
    while (right && to > from) {
        size_t start = to - 1;
        while (start > from && ((unsigned char) s [start] & 0xC0) == 0x80)
            start--;
        if (!s_strippable (chars, s, to, start, &len))
            break;
        to = start;
    }
    if (from == 0 && to == value->u.str.n)
        return value;
    return jv_strn (&ctx->mem, s + from, to - from);
}

// ---- case -------------------------------------------------------------------

static char
s_upper (char c)
{
    return c >= 'a' && c <= 'z'? (char) (c - 32): c;
}

static char
s_lower (char c)
{
    return c >= 'A' && c <= 'Z'? (char) (c + 32): c;
}

static bool
s_alpha (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || ((unsigned char) c >= 0x80);
}

//  how: "upper", "lower", "capitalize", "title" (str.title) or
//  "title_filter" (jinja's title: words start after - space ( { [ <).
jv_t *
jinja_case (jctx_t *ctx, jv_t *value, const char *how)
{
    value = jv_to_str (&ctx->mem, value);
    jv_t *out = jv_strn (&ctx->mem, value->u.str.s, value->u.str.n);
    char *s = (char *) out->u.str.s;
    size_t n = out->u.str.n;
    bool word_start = true;
    for (size_t at = 0; at < n; at++) {
        char c = s [at];
        if (strcmp (how, "upper") == 0) s [at] = s_upper (c);
        else if (strcmp (how, "lower") == 0) s [at] = s_lower (c);
        else if (strcmp (how, "capitalize") == 0) s [at] = at == 0? s_upper (c): s_lower (c);
        else if (strcmp (how, "title") == 0) {
            s [at] = word_start? s_upper (c): s_lower (c);
            word_start = !s_alpha (c);
        }
        else {
            s [at] = word_start? s_upper (c): s_lower (c);
            word_start = c == '-' || c == ' ' || c == '(' || c == '{' || c == '[' || c == '<'
                         || (c >= 0x09 && c <= 0x0D);
        }
    }
    return out;
}

// ---- replace, split, find ---------------------------------------------------

jv_t *
jinja_replace (jctx_t *ctx, jv_t *value, jv_t *old, jv_t *with, int64_t count)
{
    value = jv_to_str (&ctx->mem, value);
    s_need_str (ctx, old, "replace");
    with = jv_to_str (&ctx->mem, with);
    const char *s = value->u.str.s;
    size_t n = value->u.str.n;
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err };
    size_t at = 0;
    int64_t done = 0;
    if (old->u.str.n == 0) {
        //  Python inserts `with` before every code point and at the end.
        while (at <= n) {
            if (count < 0 || done < count) {
                jbuf_put (&buf, with->u.str.s, with->u.str.n);
                done++;
            }
            if (at == n)
                break;
            size_t len;
            s_decode (s, n, at, &len);
            jbuf_put (&buf, s + at, len);
            at += len;
        }
        return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
    }
    while (at < n && (count < 0 || done < count)) {
        const char *hit = memmem (s + at, n - at, old->u.str.s, old->u.str.n);
        if (!hit)
            break;
        jbuf_put (&buf, s + at, (size_t) (hit - s) - at);
        jbuf_put (&buf, with->u.str.s, with->u.str.n);
        at = (size_t) (hit - s) + old->u.str.n;
        done++;
    }
    jbuf_put (&buf, s + at, n - at);
    return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
}

static void
s_append (jctx_t *ctx, jv_t *list, size_t *count, jv_t *item)
{
    if (*count == list->u.list.n) {
        size_t cap = list->u.list.n? list->u.list.n * 2: 8;
        jv_t **items = jalloc (ctx->mem.arena, ctx->err, cap * sizeof *items);
        if (*count)
            memcpy (items, list->u.list.items, *count * sizeof *items);
        list->u.list.items = items;
        list->u.list.n = cap;
    }
    list->u.list.items [(*count)++] = item;
}

static jv_t *
s_split (jctx_t *ctx, jv_t *value, jv_t *sep, int64_t maxsplit, bool from_right)
{
    const char *s = value->u.str.s;
    size_t n = value->u.str.n;
    jv_t *parts = jv_list (&ctx->mem, 0);
    size_t count = 0;
    if (sep && sep->type != JV_NONE) {
        s_need_str (ctx, sep, "split");
        if (sep->u.str.n == 0)
            jrun_fail (ctx, "empty separator");
        if (from_right && maxsplit >= 0)
            jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "rsplit with maxsplit is not supported");
        size_t at = 0;
        while (maxsplit < 0 || (int64_t) count < maxsplit) {
            const char *hit = memmem (s + at, n - at, sep->u.str.s, sep->u.str.n);
            if (!hit)
                break;
            s_append (ctx, parts, &count, jv_strn (&ctx->mem, s + at, (size_t) (hit - s) - at));
            at = (size_t) (hit - s) + sep->u.str.n;
        }
        s_append (ctx, parts, &count, jv_strn (&ctx->mem, s + at, n - at));
    }
    else {
        if (from_right && maxsplit >= 0)
            jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "rsplit with maxsplit is not supported");
        size_t at = 0, len;
        while (at < n) {
            while (at < n && s_is_space (s_decode (s, n, at, &len)))
                at += len;
            if (at >= n)
                break;
            size_t end = at;
            if (maxsplit >= 0 && (int64_t) count >= maxsplit) {
                jv_t *rest = jinja_strip (ctx, jv_strn (&ctx->mem, s + at, n - at), NULL, false, true);
                s_append (ctx, parts, &count, rest);
                break;
            }
            while (end < n && !s_is_space (s_decode (s, n, end, &len)))
                end += len;
            s_append (ctx, parts, &count, jv_strn (&ctx->mem, s + at, end - at));
            at = end;
        }
    }
    parts->u.list.n = count;
    return parts;
}

static jv_t *
s_splitlines (jctx_t *ctx, jv_t *value)
{
    const char *s = value->u.str.s;
    size_t n = value->u.str.n, at = 0, count = 0;
    jv_t *parts = jv_list (&ctx->mem, 0);
    while (at < n) {
        size_t end = at;
        while (end < n && s [end] != '\n' && s [end] != '\r')
            end++;
        s_append (ctx, parts, &count, jv_strn (&ctx->mem, s + at, end - at));
        at = end + (end + 1 < n && s [end] == '\r' && s [end + 1] == '\n'? 2: 1);
    }
    parts->u.list.n = count;
    return parts;
}

static bool
s_affix (jctx_t *ctx, jv_t *value, jv_t *affix, bool prefix)
{
    if (affix->type == JV_LIST && affix->u.list.tuple) {
        for (size_t index = 0; index < affix->u.list.n; index++)
            if (s_affix (ctx, value, affix->u.list.items [index], prefix))
                return true;
        return false;
    }
    s_need_str (ctx, affix, prefix? "startswith": "endswith");
    size_t n = affix->u.str.n;
    if (n > value->u.str.n)
        return false;
    const char *at = prefix? value->u.str.s: value->u.str.s + value->u.str.n - n;
    return memcmp (at, affix->u.str.s, n) == 0;
}

static jv_t *
s_join (jctx_t *ctx, jv_t *sep, jv_t *items)
{
    items = jinja_iterable (ctx, items);
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err };
    for (size_t index = 0; index < items->u.list.n; index++) {
        s_need_str (ctx, items->u.list.items [index], "join");
        if (index)
            jbuf_put (&buf, sep->u.str.s, sep->u.str.n);
        jbuf_put (&buf, items->u.list.items [index]->u.str.s, items->u.list.items [index]->u.str.n);
    }
    return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
}

static int64_t
s_int_arg (jctx_t *ctx, jv_t *value, int64_t fallback)
{
    if (!value || value->type == JV_NONE)
        return fallback;
    if (value->type != JV_INT)
        jrun_fail (ctx, "expected an integer argument, got %s", jv_type_name (value));
    return value->u.i;
}

//  str.format with {}, {0} and {name} fields (no format specs), {{ and }}.
static jv_t *
s_format (jctx_t *ctx, jv_t *self, jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw)
{
    const char *s = self->u.str.s;
    size_t n = self->u.str.n, at = 0;
    int next = 0;
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err, .limit = ctx->limits.max_output };
    while (at < n) {
        char c = s [at];
        if ((c == '{' || c == '}') && at + 1 < n && s [at + 1] == c) {
            jbuf_put (&buf, &c, 1);
            at += 2;
            continue;
        }
        if (c == '}')
            jrun_fail (ctx, "Single '}' encountered in format string");
        if (c != '{') {
            jbuf_put (&buf, &c, 1);
            at++;
            continue;
        }
        size_t end = at + 1;
        while (end < n && s [end] != '}')
            end++;
        if (end >= n)
            jrun_fail (ctx, "Single '{' encountered in format string");
        char field [64];
        size_t len = end - at - 1;
        if (len >= sizeof field || memchr (s + at + 1, ':', len) || memchr (s + at + 1, '!', len)
            || memchr (s + at + 1, '.', len) || memchr (s + at + 1, '[', len))
            jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "str.format field '%.*s' is not supported",
                   (int) (len < 40? len: 40), s + at + 1);
        memcpy (field, s + at + 1, len);
        field [len] = 0;
        jv_t *value = NULL;
        if (len == 0)
            value = next < nargs? args [next++]: NULL;
        else if (field [0] >= '0' && field [0] <= '9') {
            long position = strtol (field, NULL, 10);
            value = position >= 0 && position < nargs? args [position]: NULL;
        }
        else
            value = jinja_arg (NULL, 0, kw_names, kw_values, nkw, -1, field);
        if (!value)
            jrun_fail (ctx, "str.format: no value for field '%s'", field);
        jv_str_into (&buf, value);
        at = end + 1;
    }
    return jv_strn (&ctx->mem, buf.data? buf.data: "", buf.size);
}

static jv_t *
s_str_method (jctx_t *ctx, jv_t *self, const char *name, jv_t **args, int nargs,
              const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *a0 = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, NULL);
    jv_t *a1 = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, NULL);
    if (strcmp (name, "startswith") == 0 || strcmp (name, "endswith") == 0) {
        if (!a0 || a1)
            jrun_fail (ctx, "%s takes one argument here", name);
        return jv_bool (s_affix (ctx, self, a0, name [0] == 's'));
    }
    if (strcmp (name, "strip") == 0) return jinja_strip (ctx, self, a0, true, true);
    if (strcmp (name, "lstrip") == 0) return jinja_strip (ctx, self, a0, true, false);
    if (strcmp (name, "rstrip") == 0) return jinja_strip (ctx, self, a0, false, true);
    if (strcmp (name, "split") == 0 || strcmp (name, "rsplit") == 0) {
        jv_t *sep = jinja_arg (args, nargs, kw_names, kw_values, nkw, 0, "sep");
        jv_t *max = jinja_arg (args, nargs, kw_names, kw_values, nkw, 1, "maxsplit");
        return s_split (ctx, self, sep, s_int_arg (ctx, max, -1), name [0] == 'r');
    }
    if (strcmp (name, "splitlines") == 0) return s_splitlines (ctx, self);
    if (strcmp (name, "upper") == 0 || strcmp (name, "lower") == 0 || strcmp (name, "title") == 0
        || strcmp (name, "capitalize") == 0)
        return jinja_case (ctx, self, name);
    if (strcmp (name, "replace") == 0) {
        if (!a0 || !a1)
            jrun_fail (ctx, "replace expected at least 2 arguments");
        s_need_str (ctx, a1, "replace");
        jv_t *count = jinja_arg (args, nargs, kw_names, kw_values, nkw, 2, "count");
        return jinja_replace (ctx, self, a0, a1, s_int_arg (ctx, count, -1));
    }
    if (strcmp (name, "find") == 0 || strcmp (name, "count") == 0) {
        if (!a0)
            jrun_fail (ctx, "%s expected an argument", name);
        s_need_str (ctx, a0, name);
        if (name [0] == 'f') {
            const char *hit = memmem (self->u.str.s, self->u.str.n, a0->u.str.s, a0->u.str.n);
            return jv_int (&ctx->mem, hit? (int64_t) utf8_len (self->u.str.s, (size_t) (hit - self->u.str.s)): -1);
        }
        if (a0->u.str.n == 0)
            return jv_int (&ctx->mem, (int64_t) utf8_len (self->u.str.s, self->u.str.n) + 1);
        int64_t count = 0;
        for (size_t at = 0; at < self->u.str.n; count++) {
            const char *hit = memmem (self->u.str.s + at, self->u.str.n - at, a0->u.str.s, a0->u.str.n);
            if (!hit)
                break;
            at = (size_t) (hit - self->u.str.s) + a0->u.str.n;
        }
        return jv_int (&ctx->mem, count);
    }
    if (strcmp (name, "format") == 0)
        return s_format (ctx, self, args, nargs, kw_names, kw_values, nkw);
    if (strcmp (name, "join") == 0) {
        if (!a0)
            jrun_fail (ctx, "join expected an argument");
        return s_join (ctx, self, a0);
    }
    jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "str.%s is not supported", name);
}

jv_t *
jinja_items (jctx_t *ctx, jv_t *value)
{
    if (value->type == JV_UNDEF)
        return jv_list (&ctx->mem, 0);
    if (value->type != JV_DICT)
        jrun_fail (ctx, "can only get item pairs from a mapping, not %s", jv_type_name (value));
    jdict_t *dict = value->u.dict;
    jv_t *items = jv_list (&ctx->mem, dict->size);
    for (size_t index = 0; index < dict->size; index++) {
        jv_t *pair = jv_list (&ctx->mem, 2);
        pair->u.list.tuple = true;
        pair->u.list.items [0] = jv_strn (&ctx->mem, dict->keys [index], dict->key_lens [index]);
        pair->u.list.items [1] = dict->values [index];
        items->u.list.items [index] = pair;
    }
    return items;
}

static jv_t *
s_dict_method (jctx_t *ctx, jv_t *self, const char *name, jv_t **args, int nargs)
{
    if (strcmp (name, "items") == 0)
        return jinja_items (ctx, self);
    if (strcmp (name, "keys") == 0)
        return jinja_iterable (ctx, self);
    if (strcmp (name, "values") == 0) {
        jv_t *values = jv_list (&ctx->mem, self->u.dict->size);
        for (size_t index = 0; index < self->u.dict->size; index++)
            values->u.list.items [index] = self->u.dict->values [index];
        return values;
    }
    //  get (key, default=None)
    if (nargs < 1 || nargs > 2)
        jrun_fail (ctx, "get expected 1 or 2 arguments, got %d", nargs);
    jv_t *found = args [0]->type == JV_STR? jdict_get (self->u.dict, args [0]->u.str.s, args [0]->u.str.n): NULL;
    return found? found: nargs == 2? args [1]: jv_none ();
}

jv_t *
jinja_method (jctx_t *ctx, jv_t *self, const char *name, jv_t **args, int nargs,
              const char **kw_names, jv_t **kw_values, int nkw)
{
    jinja_work (ctx, self->type == JV_DICT? self->u.dict->size: self->u.str.n / 16);
    if (self->type == JV_DICT)
        return s_dict_method (ctx, self, name, args, nargs);
    return s_str_method (ctx, self, name, args, nargs, kw_names, kw_values, nkw);
}

// ---- builtin functions ------------------------------------------------------

static jv_t *
s_range (jctx_t *ctx, jv_t **args, int nargs)
{
    int64_t bounds [3] = { 0, 0, 1 };
    if (nargs < 1 || nargs > 3)
        jrun_fail (ctx, "range expected 1 to 3 arguments, got %d", nargs);
    for (int index = 0; index < nargs; index++) {
        if (args [index]->type != JV_INT && args [index]->type != JV_BOOL)
            jrun_fail (ctx, "range: '%s' object cannot be interpreted as an integer", jv_type_name (args [index]));
        bounds [nargs == 1? 1: index] = args [index]->type == JV_INT? args [index]->u.i: args [index]->u.b;
    }
    int64_t start = bounds [0], stop = bounds [1], step = bounds [2];
    if (step == 0)
        jrun_fail (ctx, "range() arg 3 must not be zero");
    uint64_t n = 0;
    if (step > 0 && stop > start)
        n = ((uint64_t) stop - (uint64_t) start - 1) / (uint64_t) step + 1;
    else if (step < 0 && stop < start)
        n = ((uint64_t) start - (uint64_t) stop - 1) / ((uint64_t) (-(step + 1)) + 1) + 1;
    if (n > ctx->limits.max_iterations)
        jfail (ctx->err, XINF_JINJA_ELIMIT, ctx->line, "range of %llu items is over the iteration limit",
               (unsigned long long) n);
    jv_t *list = jv_list (&ctx->mem, (size_t) n);
    for (uint64_t index = 0; index < n; index++)
        list->u.list.items [index] = jv_int (&ctx->mem, start + (int64_t) index * step);
    list->u.list.range = jalloc (ctx->mem.arena, ctx->err, 3 * sizeof (int64_t));
    memcpy (list->u.list.range, bounds, 3 * sizeof (int64_t));
    list->u.list.range [0] = start;
    return list;
}

static jv_t *
s_kwargs_dict (jctx_t *ctx, jv_type_t type, jv_t **args, int nargs,
               const char **kw_names, jv_t **kw_values, int nkw)
{
    jv_t *dict = jv_dict (&ctx->mem);
    dict->type = type;
    if (nargs > 1 || (nargs == 1 && args [0]->type != JV_DICT))
        jrun_fail (ctx, "expected keyword arguments or one dict");
    if (nargs == 1)
        for (size_t index = 0; index < args [0]->u.dict->size; index++)
            jdict_set (&ctx->mem, dict->u.dict, args [0]->u.dict->keys [index],
                       args [0]->u.dict->key_lens [index], args [0]->u.dict->values [index]);
    for (int index = 0; index < nkw; index++)
        jdict_set (&ctx->mem, dict->u.dict, kw_names [index], strlen (kw_names [index]), kw_values [index]);
    return dict;
}

static jv_t *
s_strftime (jctx_t *ctx, jv_t **args, int nargs)
{
    if (nargs != 1 || args [0]->type != JV_STR)
        jrun_fail (ctx, "strftime_now expects one format string");
    if (args [0]->u.str.n > 256)
        jfail (ctx->err, XINF_JINJA_ELIMIT, ctx->line, "strftime_now format too long");
    struct tm tm;
    localtime_r (&ctx->now, &tm);
    char text [1024];
    size_t n = strftime (text, sizeof text, args [0]->u.str.s, &tm);
    return jv_strn (&ctx->mem, text, n);
}

jv_t *
jinja_call (jctx_t *ctx, const jv_t *callee, jv_t **args, int nargs,
            const char **kw_names, jv_t **kw_values, int nkw)
{
    switch (callee->type) {
        case JV_METHOD:
            return jinja_method (ctx, callee->u.method.self, callee->u.method.name, args, nargs,
                                 kw_names, kw_values, nkw);
        case JV_MACRO:
            return jcall_macro (ctx, callee, args, nargs, kw_names, kw_values, nkw);
        case JV_FUNC:
            switch ((jfunc_t) callee->u.func) {
                case JF_RANGE: return s_range (ctx, args, nargs);
                case JF_NAMESPACE: return s_kwargs_dict (ctx, JV_NS, args, nargs, kw_names, kw_values, nkw);
                case JF_DICT: return s_kwargs_dict (ctx, JV_DICT, args, nargs, kw_names, kw_values, nkw);
                case JF_STRFTIME: return s_strftime (ctx, args, nargs);
                case JF_RAISE: {
                    jv_t *message = nargs > 0? jv_to_str (&ctx->mem, args [0]): jv_str (&ctx->mem, "");
                    jfail (ctx->err, XINF_JINJA_ERAISED, ctx->line, "%s", message->u.str.s);
                }
            }
            break;
        case JV_UNDEF:
            if (callee->markup)
                jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, ctx->line, "a method that is not supported");
            if (callee->u.undef_name)
                jrun_fail (ctx, "'%s' is undefined", callee->u.undef_name);
            jrun_fail (ctx, "undefined value called");
        default:
            break;
    }
    jrun_fail (ctx, "'%s' object is not callable", jv_type_name (callee));
}
