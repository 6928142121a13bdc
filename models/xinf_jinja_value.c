/*  xinf_jinja_value: the arena, errors, byte buffers and the value model of
    the Jinja interpreter: construction, JSON input, truthiness, equality,
    and Python's str (), repr () and json.dumps () of values, byte for byte
    (float repr included), so rendered text matches jinja2's.
*/
#include "xinf_jinja_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- arena ------------------------------------------------------------------

struct jchunk {
    jchunk_t *next;
    size_t size, used;
    max_align_t data [];
};

#define JCHUNK_MIN (64 * 1024)

void
jarena_init (jarena_t *arena, size_t limit)
{
    memset (arena, 0, sizeof *arena);
    arena->limit = limit;
}

void
jarena_free (jarena_t *arena)
{
    jchunk_t *chunk = arena->head;
    while (chunk) {
        jchunk_t *next = chunk->next;
        free (chunk);
        chunk = next;
    }
    arena->head = NULL;
    arena->used = 0;
}

void *
jalloc (jarena_t *arena, jerr_t *err, size_t size)
{
    size = (size + 15) & ~(size_t) 15;
    if (size > arena->limit || arena->used + size > arena->limit)
        jfail (err, XINF_JINJA_ELIMIT, 0, "memory limit of %zu bytes reached", arena->limit);
    jchunk_t *chunk = arena->head;
    if (!chunk || chunk->size - chunk->used < size) {
        size_t want = size > JCHUNK_MIN? size: JCHUNK_MIN;
        chunk = malloc (sizeof (jchunk_t) + want);
        if (!chunk)
            jfail (err, XINF_JINJA_ELIMIT, 0, "out of memory");
        chunk->size = want;
        chunk->used = 0;
        chunk->next = arena->head;
        arena->head = chunk;
    }
    void *memory = (char *) chunk->data + chunk->used;
    chunk->used += size;
    arena->used += size;
    memset (memory, 0, size);
    return memory;
}

void
jfail (jerr_t *err, xinf_jinja_status_t status, int line, const char *format, ...)
{
    err->status = status;
    if (line > 0 || err->line <= 0)
        err->line = line;
    va_list args;
    va_start (args, format);
    vsnprintf (err->message, sizeof err->message, format, args);
    va_end (args);
    longjmp (err->jump, 1);
}

// ---- buffers ----------------------------------------------------------------

void
jbuf_put (jbuf_t *buf, const char *data, size_t size)
{
    if (size == 0)
        return;
    if (buf->limit && (size > buf->limit || buf->size + size > buf->limit))
        jfail (buf->err, XINF_JINJA_ELIMIT, 0, "output limit of %zu bytes reached", buf->limit);
    if (buf->size + size + 1 > buf->cap) {
        size_t cap = buf->cap? buf->cap * 2: 256;
        while (cap < buf->size + size + 1)
            cap *= 2;
        char *data_new;
        if (buf->arena) {
            data_new = jalloc (buf->arena, buf->err, cap);
            if (buf->size)
                memcpy (data_new, buf->data, buf->size);
        }
        else {
            data_new = realloc (buf->data, cap);
            if (!data_new)
                jfail (buf->err, XINF_JINJA_ELIMIT, 0, "out of memory");
        }
        buf->data = data_new;
        buf->cap = cap;
    }
    memcpy (buf->data + buf->size, data, size);
    buf->size += size;
    buf->data [buf->size] = 0;
}

void
jbuf_puts (jbuf_t *buf, const char *text)
{
    jbuf_put (buf, text, strlen (text));
}

void
jbuf_printf (jbuf_t *buf, const char *format, ...)
{
    char text [128];
    va_list args;
    va_start (args, format);
    int size = vsnprintf (text, sizeof text, format, args);
    va_end (args);
    if (size > 0)
        jbuf_put (buf, text, (size_t) size < sizeof text? (size_t) size: sizeof text - 1);
}

// ---- construction -----------------------------------------------------------

static jv_t s_none = { .type = JV_NONE };
static jv_t s_true = { .type = JV_BOOL, .u.b = true };
static jv_t s_false = { .type = JV_BOOL, .u.b = false };

static jv_t *
s_new (jmem_t *mem, jv_type_t type)
{
    jv_t *v = jalloc (mem->arena, mem->err, sizeof *v);
    v->type = type;
    return v;
}

jv_t *
jv_undef (jmem_t *mem, const char *name)
{
    jv_t *v = s_new (mem, JV_UNDEF);
    v->u.undef_name = name;
    return v;
}

jv_t *jv_none (void) { return &s_none; }
jv_t *jv_bool (bool b) { return b? &s_true: &s_false; }

jv_t *
jv_int (jmem_t *mem, int64_t i)
{
    jv_t *v = s_new (mem, JV_INT);
    v->u.i = i;
    return v;
}

jv_t *
jv_float (jmem_t *mem, double f)
{
    jv_t *v = s_new (mem, JV_FLOAT);
    v->u.f = f;
    return v;
}

jv_t *
jv_strn (jmem_t *mem, const char *s, size_t n)
{
    jv_t *v = s_new (mem, JV_STR);
    char *copy = jalloc (mem->arena, mem->err, n + 1);
    if (n)
        memcpy (copy, s, n);
    v->u.str.s = copy;
    v->u.str.n = n;
    return v;
}

jv_t *
jv_str (jmem_t *mem, const char *s)
{
    return jv_strn (mem, s, strlen (s));
}

jv_t *
jv_list (jmem_t *mem, size_t n)
{
    jv_t *v = s_new (mem, JV_LIST);
    if (n > SIZE_MAX / sizeof (jv_t *) / 2)
        jfail (mem->err, XINF_JINJA_ELIMIT, 0, "list too long");
    v->u.list.items = n? jalloc (mem->arena, mem->err, n * sizeof (jv_t *)): NULL;
    v->u.list.n = n;
    return v;
}

jv_t *
jv_dict (jmem_t *mem)
{
    jv_t *v = s_new (mem, JV_DICT);
    v->u.dict = jalloc (mem->arena, mem->err, sizeof (jdict_t));
    return v;
}

jv_t *
jv_func (jmem_t *mem, jfunc_t func)
{
    jv_t *v = s_new (mem, JV_FUNC);
    v->u.func = (int) func;
    return v;
}

jv_t *
jv_method (jmem_t *mem, jv_t *self, const char *name)
{
    jv_t *v = s_new (mem, JV_METHOD);
    v->u.method.self = self;
    v->u.method.name = name;
    return v;
}

jv_t *
jdict_get (const jdict_t *dict, const char *key, size_t key_len)
{
    for (size_t index = 0; index < dict->size; index++)
        if (dict->key_lens [index] == key_len && memcmp (dict->keys [index], key, key_len) == 0)
            return dict->values [index];
    return NULL;
}

void
jdict_set (jmem_t *mem, jdict_t *dict, const char *key, size_t key_len, jv_t *value)
{
    for (size_t index = 0; index < dict->size; index++)
        if (dict->key_lens [index] == key_len && memcmp (dict->keys [index], key, key_len) == 0) {
            dict->values [index] = value;
            return;
        }
    if (dict->size == dict->cap) {
        size_t cap = dict->cap? dict->cap * 2: 8;
        const char **keys = jalloc (mem->arena, mem->err, cap * sizeof *keys);
        size_t *lens = jalloc (mem->arena, mem->err, cap * sizeof *lens);
        jv_t **values = jalloc (mem->arena, mem->err, cap * sizeof *values);
        if (dict->size) {
            memcpy (keys, dict->keys, dict->size * sizeof *keys);
            memcpy (lens, dict->key_lens, dict->size * sizeof *lens);
            memcpy (values, dict->values, dict->size * sizeof *values);
        }
        dict->keys = keys;
        dict->key_lens = lens;
        dict->values = values;
        dict->cap = cap;
    }
    char *copy = jalloc (mem->arena, mem->err, key_len + 1);
    memcpy (copy, key, key_len);
    dict->keys [dict->size] = copy;
    dict->key_lens [dict->size] = key_len;
    dict->values [dict->size] = value;
    dict->size++;
}

jv_t *
jv_from_json (jmem_t *mem, json_t *json, int depth)
{
    if (depth > 64)
        jfail (mem->err, XINF_JINJA_ELIMIT, 0, "input nested deeper than 64 levels");
    switch (json_typeof (json)) {
        case JSON_NULL: return jv_none ();
        case JSON_TRUE: return jv_bool (true);
        case JSON_FALSE: return jv_bool (false);
        case JSON_INTEGER: return jv_int (mem, (int64_t) json_integer_value (json));
        case JSON_REAL: return jv_float (mem, json_real_value (json));
        case JSON_STRING: return jv_strn (mem, json_string_value (json), json_string_length (json));
        case JSON_ARRAY: {
            jv_t *list = jv_list (mem, json_array_size (json));
            for (size_t index = 0; index < list->u.list.n; index++)
                list->u.list.items [index] = jv_from_json (mem, json_array_get (json, index), depth + 1);
            return list;
        }
        case JSON_OBJECT: {
            jv_t *dict = jv_dict (mem);
            const char *key;
            size_t key_len;
            json_t *value;
            json_object_keylen_foreach (json, key, key_len, value)
                jdict_set (mem, dict->u.dict, key, key_len, jv_from_json (mem, value, depth + 1));
            return dict;
        }
    }
    return jv_none ();
}

// ---- truth, equality, names -------------------------------------------------

bool
jv_truthy (const jv_t *v)
{
    switch (v->type) {
        case JV_UNDEF: case JV_NONE: return false;
        case JV_BOOL: return v->u.b;
        case JV_INT: return v->u.i != 0;
        case JV_FLOAT: return v->u.f != 0;
        case JV_STR: return v->u.str.n > 0;
        case JV_LIST: return v->u.list.gen || v->u.list.n > 0;     //  a generator is always true
        case JV_DICT: return v->u.dict->size > 0;
        default: return true;
    }
}

static bool
s_is_number (const jv_t *v)
{
    return v->type == JV_INT || v->type == JV_FLOAT || v->type == JV_BOOL;
}

static double
s_number (const jv_t *v)
{
    return v->type == JV_FLOAT? v->u.f: v->type == JV_INT? (double) v->u.i: (double) v->u.b;
}

#define JV_MAX_NEST 256

static bool
s_equal (const jv_t *a, const jv_t *b, jerr_t *err, int depth)
{
    if (depth > JV_MAX_NEST)
        jfail (err, XINF_JINJA_ELIMIT, 0, "values nested deeper than %d", JV_MAX_NEST);
    if (s_is_number (a) && s_is_number (b)) {
        if (a->type != JV_FLOAT && b->type != JV_FLOAT)
            return (a->type == JV_INT? a->u.i: a->u.b) == (b->type == JV_INT? b->u.i: b->u.b);
        return s_number (a) == s_number (b);
    }
    if (a->type != b->type)
        return false;
    switch (a->type) {
        case JV_UNDEF: case JV_NONE: return true;
        case JV_STR: return a->u.str.n == b->u.str.n && memcmp (a->u.str.s, b->u.str.s, a->u.str.n) == 0;
        case JV_LIST:
            if (a->u.list.n != b->u.list.n)
                return false;
            for (size_t index = 0; index < a->u.list.n; index++)
                if (!s_equal (a->u.list.items [index], b->u.list.items [index], err, depth + 1))
                    return false;
            return true;
        case JV_DICT: {
            const jdict_t *da = a->u.dict, *db = b->u.dict;
            if (da->size != db->size)
                return false;
            for (size_t index = 0; index < da->size; index++) {
                jv_t *other = jdict_get (db, da->keys [index], da->key_lens [index]);
                if (!other || !s_equal (da->values [index], other, err, depth + 1))
                    return false;
            }
            return true;
        }
        default: return a == b;
    }
}

bool
jv_equal (const jv_t *a, const jv_t *b, jerr_t *err)
{
    return s_equal (a, b, err, 0);
}

const char *
jv_type_name (const jv_t *v)
{
    static const char *names [] = { "Undefined", "NoneType", "bool", "int", "float", "str",
                                    "list", "dict", "Namespace", "builtin_function_or_method",
                                    "method", "Macro" };
    if (v->type == JV_LIST && v->u.list.tuple)
        return "tuple";
    if (v->type == JV_LIST && v->u.list.gen)
        return "generator";
    if (v->type == JV_LIST && v->u.list.range)
        return "range";
    return names [v->type];
}

// ---- str, repr --------------------------------------------------------------

//  Python's repr (float): the shortest digits that read back the same, in
//  fixed notation when the exponent is in [-4, 16), else scientific.
void
jv_float_repr (char *out, size_t size, double f)
{
    if (isnan (f)) { snprintf (out, size, "nan"); return; }
    if (isinf (f)) { snprintf (out, size, f < 0? "-inf": "inf"); return; }
    if (f == 0) { snprintf (out, size, signbit (f)? "-0.0": "0.0"); return; }
    char sci [40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf (sci, sizeof sci, "%.*e", precision - 1, f);
        if (strtod (sci, NULL) == f)
            break;
    }
    //  sci: [-]d[.ddd]e[+-]xx
    bool negative = sci [0] == '-';
    char digits [24];
    int ndigits = 0;
    const char *cursor = sci + negative;
    for (; *cursor && *cursor != 'e'; cursor++)
        if (*cursor != '.')
            digits [ndigits++] = *cursor;
    while (ndigits > 1 && digits [ndigits - 1] == '0')
        ndigits--;
    digits [ndigits] = 0;
    int exponent = atoi (cursor + 1);
    int decpt = exponent + 1;          //  position of the decimal point
    char text [64];
    int at = 0;
    if (negative)
        text [at++] = '-';
    if (exponent >= -4 && exponent < 16) {
        if (decpt <= 0) {
            at += snprintf (text + at, sizeof text - at, "0.");
            for (int zero = 0; zero < -decpt; zero++)
                text [at++] = '0';
            at += snprintf (text + at, sizeof text - at, "%s", digits);
        }
        else if (decpt >= ndigits) {
            at += snprintf (text + at, sizeof text - at, "%s", digits);
            for (int zero = ndigits; zero < decpt; zero++)
                text [at++] = '0';
            at += snprintf (text + at, sizeof text - at, ".0");
        }
        else
            at += snprintf (text + at, sizeof text - at, "%.*s.%s", decpt, digits, digits + decpt);
    }
    else {
        text [at++] = digits [0];
        if (ndigits > 1)
            at += snprintf (text + at, sizeof text - at, ".%s", digits + 1);
        at += snprintf (text + at, sizeof text - at, "e%c%02d", exponent < 0? '-': '+',
                        exponent < 0? -exponent: exponent);
    }
    text [at] = 0;
    snprintf (out, size, "%s", text);
}

static void
s_repr_string (jbuf_t *buf, const char *s, size_t n)
{
    bool has_single = memchr (s, '\'', n) != NULL;
    bool has_double = memchr (s, '"', n) != NULL;
    char quote = has_single && !has_double? '"': '\'';
    jbuf_put (buf, &quote, 1);
    for (size_t index = 0; index < n; index++) {
        unsigned char c = (unsigned char) s [index];
        if (c == '\\') jbuf_puts (buf, "\\\\");
        else if (c == (unsigned char) quote) { jbuf_puts (buf, "\\"); jbuf_put (buf, &quote, 1); }
        else if (c == '\n') jbuf_puts (buf, "\\n");
        else if (c == '\r') jbuf_puts (buf, "\\r");
        else if (c == '\t') jbuf_puts (buf, "\\t");
        else if (c < 0x20 || c == 0x7f) jbuf_printf (buf, "\\x%02x", c);
        else jbuf_put (buf, (const char *) &c, 1);
    }
    jbuf_put (buf, &quote, 1);
}

static void
s_repr (jbuf_t *buf, const jv_t *v, int depth)
{
    if (depth > JV_MAX_NEST)
        jfail (buf->err, XINF_JINJA_ELIMIT, 0, "values nested deeper than %d", JV_MAX_NEST);
    switch (v->type) {
        case JV_STR: s_repr_string (buf, v->u.str.s, v->u.str.n); break;
        case JV_UNDEF: jbuf_puts (buf, "Undefined"); break;
        case JV_LIST:
            if (v->u.list.range) {
                const int64_t *r = v->u.list.range;
                jbuf_printf (buf, "range(%lld, %lld", (long long) r [0], (long long) r [1]);
                if (r [2] != 1)
                    jbuf_printf (buf, ", %lld", (long long) r [2]);
                jbuf_puts (buf, ")");
                break;
            }
            jbuf_puts (buf, v->u.list.tuple? "(": "[");
            for (size_t index = 0; index < v->u.list.n; index++) {
                if (index)
                    jbuf_puts (buf, ", ");
                s_repr (buf, v->u.list.items [index], depth + 1);
            }
            if (v->u.list.tuple && v->u.list.n == 1)
                jbuf_puts (buf, ",");
            jbuf_puts (buf, v->u.list.tuple? ")": "]");
            break;
        case JV_DICT:
            jbuf_puts (buf, "{");
            for (size_t index = 0; index < v->u.dict->size; index++) {
                if (index)
                    jbuf_puts (buf, ", ");
                s_repr_string (buf, v->u.dict->keys [index], v->u.dict->key_lens [index]);
                jbuf_puts (buf, ": ");
                s_repr (buf, v->u.dict->values [index], depth + 1);
            }
            jbuf_puts (buf, "}");
            break;
        default: jv_str_into (buf, v);
    }
}

void
jv_repr_into (jbuf_t *buf, const jv_t *v)
{
    s_repr (buf, v, 0);
}

void
jv_str_into (jbuf_t *buf, const jv_t *v)
{
    char text [64];
    switch (v->type) {
        case JV_UNDEF: break;
        case JV_NONE: jbuf_puts (buf, "None"); break;
        case JV_BOOL: jbuf_puts (buf, v->u.b? "True": "False"); break;
        case JV_INT: jbuf_printf (buf, "%lld", (long long) v->u.i); break;
        case JV_FLOAT: jv_float_repr (text, sizeof text, v->u.f); jbuf_puts (buf, text); break;
        case JV_STR: jbuf_put (buf, v->u.str.s, v->u.str.n); break;
        case JV_LIST: case JV_DICT:
            if (v->type == JV_LIST && v->u.list.gen)
                jfail (buf->err, XINF_JINJA_ERUNTIME, 0, "printing a generator (map, select...): add |list");
            jv_repr_into (buf, v);
            break;
        case JV_NS: jbuf_puts (buf, "<Namespace>"); break;
        default: jbuf_printf (buf, "<%s>", jv_type_name (v)); break;
    }
}

jv_t *
jv_to_str (jmem_t *mem, jv_t *v)
{
    if (v->type == JV_STR)
        return v;
    jbuf_t buf = { .arena = mem->arena, .err = mem->err };
    jv_str_into (&buf, v);
    jv_t *result = jalloc (mem->arena, mem->err, sizeof *result);
    result->type = JV_STR;
    result->u.str.s = buf.data? buf.data: "";
    result->u.str.n = buf.size;
    return result;
}

// ---- json.dumps -------------------------------------------------------------

//  A code point above 0x7F as \\uXXXX (a surrogate pair above 0xFFFF).
static size_t
s_json_ascii_escape (jbuf_t *buf, const char *s, size_t n, size_t at)
{
    unsigned char c = (unsigned char) s [at];
    size_t need = c >= 0xF0? 4: c >= 0xE0? 3: c >= 0xC0? 2: 1;
    if (at + need > n)
        need = 1;
    unsigned code = need == 1? c: c & (0x3F >> (need - 1));
    for (size_t k = 1; k < need; k++)
        code = code << 6 | ((unsigned char) s [at + k] & 0x3F);
    if (code >= 0x10000) {
        code -= 0x10000;
        jbuf_printf (buf, "\\u%04x\\u%04x", 0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF));
    }
    else
        jbuf_printf (buf, "\\u%04x", code);
    return need;
}

static void
s_json_string (jbuf_t *buf, const char *s, size_t n, bool ascii)
{
    jbuf_puts (buf, "\"");
    size_t run = 0;
    for (size_t index = 0; index < n; index++) {
        unsigned char c = (unsigned char) s [index];
        if (c >= 0x80 && ascii) {
            jbuf_put (buf, s + run, index - run);
            index += s_json_ascii_escape (buf, s, n, index) - 1;
            run = index + 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jbuf_put (buf, s + run, index - run);
        run = index + 1;
        switch (c) {
            case '"': jbuf_puts (buf, "\\\""); break;
            case '\\': jbuf_puts (buf, "\\\\"); break;
            case '\n': jbuf_puts (buf, "\\n"); break;
            case '\r': jbuf_puts (buf, "\\r"); break;
            case '\t': jbuf_puts (buf, "\\t"); break;
            case '\b': jbuf_puts (buf, "\\b"); break;
            case '\f': jbuf_puts (buf, "\\f"); break;
            default: jbuf_printf (buf, "\\u%04x", c);
        }
    }
    jbuf_put (buf, s + run, n - run);
    jbuf_puts (buf, "\"");
}

static void
s_json_newline (jbuf_t *buf, int indent, int level)
{
    jbuf_puts (buf, "\n");
    for (int space = 0; space < indent * level; space++)
        jbuf_puts (buf, " ");
}

//  The order of a dict's keys in the output: as inserted, or sorted.
static size_t *
s_key_order (jbuf_t *buf, const jdict_t *dict, bool sorted)
{
    size_t *order = jalloc (buf->arena, buf->err, (dict->size + 1) * sizeof *order);
    for (size_t index = 0; index < dict->size; index++) {
        size_t at = index;
        while (sorted && at > 0) {
            size_t prev = order [at - 1];
            size_t n = dict->key_lens [prev] < dict->key_lens [index]? dict->key_lens [prev]: dict->key_lens [index];
            int cmp = memcmp (dict->keys [prev], dict->keys [index], n);
            if (cmp < 0 || (cmp == 0 && dict->key_lens [prev] <= dict->key_lens [index]))
                break;
            order [at] = prev;
            at--;
        }
        order [at] = index;
    }
    return order;
}

static void
s_json (jbuf_t *buf, const jv_t *v, const jjson_opts_t *opts, int level, int line)
{
    if (level > 128)
        jfail (buf->err, XINF_JINJA_ELIMIT, line, "tojson: value nested too deep");
    int indent = opts->indent;
    switch (v->type) {
        case JV_NONE: jbuf_puts (buf, "null"); return;
        case JV_BOOL: jbuf_puts (buf, v->u.b? "true": "false"); return;
        case JV_INT: case JV_FLOAT:
            if (v->type == JV_FLOAT && (isnan (v->u.f) || isinf (v->u.f)))
                jbuf_puts (buf, isnan (v->u.f)? "NaN": v->u.f < 0? "-Infinity": "Infinity");
            else
                jv_str_into (buf, v);
            return;
        case JV_STR: s_json_string (buf, v->u.str.s, v->u.str.n, opts->ensure_ascii); return;
        case JV_LIST:
            if (v->u.list.gen || v->u.list.range)
                jfail (buf->err, XINF_JINJA_ERUNTIME, line, "Object of type %s is not JSON serializable",
                       jv_type_name (v));
            if (v->u.list.n == 0) { jbuf_puts (buf, "[]"); return; }
            jbuf_puts (buf, "[");
            for (size_t index = 0; index < v->u.list.n; index++) {
                if (index)
                    jbuf_puts (buf, opts->item_sep);
                if (indent >= 0)
                    s_json_newline (buf, indent, level + 1);
                s_json (buf, v->u.list.items [index], opts, level + 1, line);
            }
            if (indent >= 0)
                s_json_newline (buf, indent, level);
            jbuf_puts (buf, "]");
            return;
        case JV_DICT: {
            const jdict_t *dict = v->u.dict;
            if (dict->size == 0) { jbuf_puts (buf, "{}"); return; }
            size_t *order = s_key_order (buf, dict, opts->sort_keys);
            jbuf_puts (buf, "{");
            for (size_t index = 0; index < dict->size; index++) {
                size_t at = order [index];
                if (index)
                    jbuf_puts (buf, opts->item_sep);
                if (indent >= 0)
                    s_json_newline (buf, indent, level + 1);
                s_json_string (buf, dict->keys [at], dict->key_lens [at], opts->ensure_ascii);
                jbuf_puts (buf, opts->key_sep);
                s_json (buf, dict->values [at], opts, level + 1, line);
            }
            if (indent >= 0)
                s_json_newline (buf, indent, level);
            jbuf_puts (buf, "}");
            return;
        }
        default:
            jfail (buf->err, XINF_JINJA_ERUNTIME, line,
                   "Object of type %s is not JSON serializable", jv_type_name (v));
    }
}

void
jv_json_into (jbuf_t *buf, const jv_t *v, const jjson_opts_t *opts, int line)
{
    s_json (buf, v, opts, 0, line);
}

// ---- UTF-8 ------------------------------------------------------------------

size_t
utf8_len (const char *s, size_t n)
{
    size_t count = 0;
    for (size_t index = 0; index < n; index++)
        if (((unsigned char) s [index] & 0xC0) != 0x80)
            count++;
    return count;
}

size_t
utf8_offset (const char *s, size_t n, size_t index)
{
    size_t seen = 0;
    for (size_t at = 0; at < n; at++)
        if (((unsigned char) s [at] & 0xC0) != 0x80) {
            if (seen == index)
                return at;
            seen++;
        }
    return n;
}
