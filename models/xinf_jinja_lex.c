/*  xinf_jinja_lex: the tokenizer of the Jinja interpreter.

    Splits a template into text and the tokens inside {{ }} and {% %}
    (comments are dropped), applying the whitespace rules Hugging Face's
    environment sets, as jinja2's lexer does: newlines normalized to \n,
    one trailing newline dropped, `-` strips all whitespace on its side,
    `+` keeps it, trim_blocks drops the newline right after %} and #},
    lstrip_blocks drops spaces and tabs from the start of a line up to {%
    or {#. String literals are unescaped as Python's unicode-escape does.
*/
#include "xinf_jinja_private.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jmem_t *mem;
    const char *src;
    size_t size, pos;
    int line;
    jtok_t *tokens;
    size_t count, cap;
    bool line_starting;
} jlexer_t;

static void
s_emit (jlexer_t *lx, jtok_type_t type, const char *s, size_t n)
{
    if (lx->count == lx->cap) {
        size_t cap = lx->cap? lx->cap * 2: 256;
        jtok_t *tokens = jalloc (lx->mem->arena, lx->mem->err, cap * sizeof *tokens);
        if (lx->count)
            memcpy (tokens, lx->tokens, lx->count * sizeof *tokens);
        lx->tokens = tokens;
        lx->cap = cap;
    }
    jtok_t *tok = &lx->tokens [lx->count++];
    memset (tok, 0, sizeof *tok);
    tok->type = type;
    tok->line = lx->line;
    tok->s = s;
    tok->n = n;
}

static void
s_advance (jlexer_t *lx, size_t to)
{
    for (size_t at = lx->pos; at < to; at++)
        if (lx->src [at] == '\n')
            lx->line++;
    lx->pos = to;
}

static bool
s_at (jlexer_t *lx, size_t at, const char *text)
{
    size_t n = strlen (text);
    return at + n <= lx->size && memcmp (lx->src + at, text, n) == 0;
}

//  Text before a tag, with the tag's left whitespace rule applied.
static void
s_text (jlexer_t *lx, size_t end, char kind, char sign)
{
    const char *text = lx->src + lx->pos;
    size_t n = end - lx->pos;
    if (sign == '-') {
        while (n > 0 && isspace ((unsigned char) text [n - 1]))
            n--;
    }
    else
    if (sign != '+' && kind != '{') {
        size_t line_pos = n;
        while (line_pos > 0 && text [line_pos - 1] != '\n')
            line_pos--;
        if (line_pos > 0 || lx->line_starting) {
            size_t at = line_pos;
            while (at < n && (text [at] == ' ' || text [at] == '\t'))
                at++;
            if (at == n)
                n = line_pos;
        }
    }
    if (n)
        s_emit (lx, T_TEXT, text, n);
    s_advance (lx, end);
}

//  After an end tag: `-` eats all whitespace, trim_blocks one newline.
static void
s_after_end (jlexer_t *lx, size_t at, char sign, bool trim)
{
    if (sign == '-')
        while (at < lx->size && isspace ((unsigned char) lx->src [at]))
            at++;
    else
    if (trim && sign != '+' && at < lx->size && lx->src [at] == '\n')
        at++;
    lx->line_starting = at > 0 && lx->src [at - 1] == '\n';
    s_advance (lx, at);
}

static void
s_comment (jlexer_t *lx)
{
    size_t at = lx->pos;
    while (at + 1 < lx->size && !(lx->src [at] == '#' && lx->src [at + 1] == '}'))
        at++;
    if (at + 1 >= lx->size)
        jfail (lx->mem->err, XINF_JINJA_ESYNTAX, lx->line, "missing end of comment tag");
    char sign = at > lx->pos && (lx->src [at - 1] == '-' || lx->src [at - 1] == '+')? lx->src [at - 1]: 0;
    s_after_end (lx, at + 2, sign, true);
}

static int
s_hex (const char *s, size_t n)
{
    int value = 0;
    for (size_t index = 0; index < n; index++) {
        if (!isxdigit ((unsigned char) s [index]))
            return -1;
        char c = (char) tolower ((unsigned char) s [index]);
        value = value * 16 + (isdigit ((unsigned char) c)? c - '0': c - 'a' + 10);
    }
    return value;
}

static void
s_utf8 (jbuf_t *buf, unsigned code)
{
    char out [4];
    size_t n;
    if (code < 0x80) { out [0] = (char) code; n = 1; }
    else if (code < 0x800) { out [0] = (char) (0xC0 | code >> 6); out [1] = (char) (0x80 | (code & 63)); n = 2; }
    else if (code < 0x10000) {
        out [0] = (char) (0xE0 | code >> 12); out [1] = (char) (0x80 | (code >> 6 & 63));
        out [2] = (char) (0x80 | (code & 63)); n = 3;
    }
    else {
        out [0] = (char) (0xF0 | code >> 18); out [1] = (char) (0x80 | (code >> 12 & 63));
        out [2] = (char) (0x80 | (code >> 6 & 63)); out [3] = (char) (0x80 | (code & 63)); n = 4;
    }
    jbuf_put (buf, out, n);
}

//  One escape at s [0] == '\\'; returns the bytes it used.
static size_t
s_escape (jlexer_t *lx, jbuf_t *buf, const char *s, size_t n)
{
    if (n < 2) { jbuf_put (buf, s, 1); return 1; }
    static const char plain [] = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
    for (const char *pair = plain; *pair; pair += 2)
        if (s [1] == pair [0]) { jbuf_put (buf, pair + 1, 1); return 2; }
    if (s [1] == '\n')
        return 2;
    if (s [1] >= '0' && s [1] <= '7') {
        unsigned code = 0;
        size_t at = 1;
        while (at < 4 && at < n && s [at] >= '0' && s [at] <= '7')
            code = code * 8 + (unsigned) (s [at++] - '0');
        s_utf8 (buf, code);
        return at;
    }
    size_t width = s [1] == 'x'? 2: s [1] == 'u'? 4: s [1] == 'U'? 8: 0;
    if (width == 0) {
        if (s [1] == 'N')
            jfail (lx->mem->err, XINF_JINJA_EUNSUPPORTED, lx->line, "\\N{...} escapes are not supported");
        jbuf_put (buf, s, 1);                   //  unknown escapes keep the backslash
        return 1;
    }
    int code = n >= 2 + width? s_hex (s + 2, width): -1;
    if (code < 0 || code > 0x10FFFF || (code >= 0xD800 && code < 0xE000))
        jfail (lx->mem->err, XINF_JINJA_ESYNTAX, lx->line, "bad \\%c escape in a string", s [1]);
    s_utf8 (buf, (unsigned) code);
    return 2 + width;
}

static void
s_string (jlexer_t *lx)
{
    char quote = lx->src [lx->pos];
    size_t at = lx->pos + 1;
    while (at < lx->size && lx->src [at] != quote)
        at += lx->src [at] == '\\'? 2: 1;
    if (at >= lx->size)
        jfail (lx->mem->err, XINF_JINJA_ESYNTAX, lx->line, "unterminated string");
    jbuf_t buf = { .arena = lx->mem->arena, .err = lx->mem->err };
    const char *s = lx->src + lx->pos + 1;
    size_t n = at - lx->pos - 1;
    size_t index = 0;
    while (index < n) {
        if (s [index] == '\\')
            index += s_escape (lx, &buf, s + index, n - index);
        else {
            size_t run = index;
            while (run < n && s [run] != '\\')
                run++;
            jbuf_put (&buf, s + index, run - index);
            index = run;
        }
    }
    s_emit (lx, T_STRING, buf.data? buf.data: "", buf.size);
    s_advance (lx, at + 1);
}

static void
s_number (jlexer_t *lx)
{
    size_t at = lx->pos;
    char digits [64];
    size_t nd = 0;
    bool is_float = false;
    while (at < lx->size && (isdigit ((unsigned char) lx->src [at]) || lx->src [at] == '_')) {
        if (lx->src [at] != '_' && nd < sizeof digits - 8)
            digits [nd++] = lx->src [at];
        at++;
    }
    if (at + 1 < lx->size && lx->src [at] == '.' && isdigit ((unsigned char) lx->src [at + 1])) {
        is_float = true;
        digits [nd++] = '.';
        at++;
        while (at < lx->size && (isdigit ((unsigned char) lx->src [at]) || lx->src [at] == '_')) {
            if (lx->src [at] != '_' && nd < sizeof digits - 8)
                digits [nd++] = lx->src [at];
            at++;
        }
    }
    if (at < lx->size && (lx->src [at] == 'e' || lx->src [at] == 'E')) {
        size_t exp = at + 1;
        if (exp < lx->size && (lx->src [exp] == '+' || lx->src [exp] == '-'))
            exp++;
        if (exp < lx->size && isdigit ((unsigned char) lx->src [exp])) {
            is_float = true;
            digits [nd++] = 'e';
            for (size_t copy = at + 1; copy < exp; copy++)
                digits [nd++] = lx->src [copy];
            at = exp;
            while (at < lx->size && isdigit ((unsigned char) lx->src [at])) {
                if (nd < sizeof digits - 1)
                    digits [nd++] = lx->src [at];
                at++;
            }
        }
    }
    digits [nd] = 0;
    s_emit (lx, is_float? T_FLOAT: T_INT, lx->src + lx->pos, at - lx->pos);
    jtok_t *tok = &lx->tokens [lx->count - 1];
    if (is_float)
        tok->f = strtod (digits, NULL);
    else {
        errno = 0;
        unsigned long long value = strtoull (digits, NULL, 10);
        if (errno || value > INT64_MAX)
            jfail (lx->mem->err, XINF_JINJA_EUNSUPPORTED, lx->line, "integer literal too large");
        tok->i = (int64_t) value;
    }
    s_advance (lx, at);
}

static bool
s_operator (jlexer_t *lx)
{
    static const char *ops [] = { "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%",
                                  "~", "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":",
                                  "|", ",", ";", NULL };
    for (const char **op = ops; *op; op++)
        if (s_at (lx, lx->pos, *op)) {
            s_emit (lx, T_OP, *op, strlen (*op));
            s_advance (lx, lx->pos + strlen (*op));
            return true;
        }
    return false;
}

//  The tokens of one {{ }} or {% %}, up to and including its end.
static void
s_tag (jlexer_t *lx, char kind)
{
    const char *end = kind == '{'? "}}": "%}";
    while (true) {
        while (lx->pos < lx->size && isspace ((unsigned char) lx->src [lx->pos]))
            s_advance (lx, lx->pos + 1);
        if (lx->pos >= lx->size)
            jfail (lx->mem->err, XINF_JINJA_ESYNTAX, lx->line, "unexpected end of template in a tag");
        char c = lx->src [lx->pos];
        char sign = 0;
        if ((c == '-' || (c == '+' && kind == '%')) && s_at (lx, lx->pos + 1, end))
            sign = c;
        if (sign || s_at (lx, lx->pos, end)) {
            s_emit (lx, kind == '{'? T_VAR_END: T_BLOCK_END, NULL, 0);
            s_after_end (lx, lx->pos + 2 + (sign? 1: 0), sign, kind == '%');
            return;
        }
        if (isalpha ((unsigned char) c) || c == '_') {
            size_t at = lx->pos;
            while (at < lx->size && (isalnum ((unsigned char) lx->src [at]) || lx->src [at] == '_'))
                at++;
            s_emit (lx, T_NAME, lx->src + lx->pos, at - lx->pos);
            s_advance (lx, at);
        }
        else if (isdigit ((unsigned char) c))
            s_number (lx);
        else if (c == '\'' || c == '"')
            s_string (lx);
        else if (!s_operator (lx))
            jfail (lx->mem->err, XINF_JINJA_ESYNTAX, lx->line, "unexpected character '%c'", c);
    }
}

//  The source with \r\n and \r as \n and one trailing newline dropped.
static char *
s_normalize (jmem_t *mem, const char *source, size_t size, size_t *out_size)
{
    char *copy = jalloc (mem->arena, mem->err, size + 1);
    size_t n = 0;
    for (size_t at = 0; at < size; at++) {
        if (source [at] == '\r') {
            copy [n++] = '\n';
            if (at + 1 < size && source [at + 1] == '\n')
                at++;
        }
        else
            copy [n++] = source [at];
    }
    if (n > 0 && copy [n - 1] == '\n')
        n--;
    copy [n] = 0;
    *out_size = n;
    return copy;
}

jtok_t *
jinja_lex (jmem_t *mem, const char *source, size_t size, size_t *count)
{
    jlexer_t lx = { .mem = mem, .line = 1, .line_starting = true };
    lx.src = s_normalize (mem, source, size, &lx.size);
    while (lx.pos < lx.size) {
        const char *found = NULL;
        for (size_t at = lx.pos; at + 1 < lx.size; at++)
            if (lx.src [at] == '{' && (lx.src [at + 1] == '{' || lx.src [at + 1] == '%' || lx.src [at + 1] == '#')) {
                found = lx.src + at;
                break;
            }
        if (!found) {
            s_emit (&lx, T_TEXT, lx.src + lx.pos, lx.size - lx.pos);
            break;
        }
        size_t tag = (size_t) (found - lx.src);
        char kind = found [1];
        char sign = tag + 2 < lx.size && (found [2] == '-' || found [2] == '+')? found [2]: 0;
        s_text (&lx, tag, kind, sign);
        s_advance (&lx, tag + 2 + (sign? 1: 0));
        if (kind == '#')
            s_comment (&lx);
        else {
            s_emit (&lx, kind == '{'? T_VAR_BEGIN: T_BLOCK_BEGIN, NULL, 0);
            s_tag (&lx, kind);
        }
    }
    s_emit (&lx, T_EOF, NULL, 0);
    *count = lx.count;
    return lx.tokens;
}
