/*  xinf_jinja_private: the shared insides of the Jinja-subset interpreter
    (xinf_jinja.h): the arena, the value model, the tokens, the syntax tree
    and the render context. Not for use outside models/xinf_jinja_*.c.

    Memory: every value, string, token and syntax node lives in an arena
    (a list of chunks with a byte limit) that is freed as a whole: the
    template's arena holds tokens and the tree, a render's arena holds the
    values made while rendering. Errors unwind with longjmp to the one
    entry point (parse or render) that set the jump buffer; since nothing
    is owned outside the arenas and the output buffer, which that entry
    point frees, an error anywhere leaks nothing.

    Values are Python-like: undefined, none, bool, int (64-bit, overflow is
    an error), float, str (UTF-8, NUL-terminated, lengths in bytes),
    list, dict (string keys, insertion order), namespace (a dict that
    `set ns.x` may change), builtin function, bound method, macro. All but
    namespaces are immutable once made, so they are shared freely.
*/
#ifndef XINF_JINJA_PRIVATE_H_INCLUDED
#define XINF_JINJA_PRIVATE_H_INCLUDED

#include "xinf_jinja.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

// ---- arena and errors -------------------------------------------------------

typedef struct jchunk jchunk_t;
typedef struct {
    jchunk_t *head;
    size_t used;              //  bytes handed out, against limit
    size_t limit;
} jarena_t;

//  Where an error unwinds to, and what it was.
typedef struct {
    jmp_buf jump;
    xinf_jinja_status_t status;
    int line;
    char message [256];
} jerr_t;

void jarena_init (jarena_t *arena, size_t limit);
void jarena_free (jarena_t *arena);
//  Zeroed memory, or an XINF_JINJA_ELIMIT error through err.
void *jalloc (jarena_t *arena, jerr_t *err, size_t size);
_Noreturn void jfail (jerr_t *err, xinf_jinja_status_t status, int line, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

// ---- values -----------------------------------------------------------------

typedef enum {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
    JV_NS, JV_FUNC, JV_METHOD, JV_MACRO
} jv_type_t;

typedef struct jv jv_t;
typedef struct jnode jnode_t;

typedef struct {
    const char **keys;
    size_t *key_lens;
    jv_t **values;
    size_t size, cap;
} jdict_t;

struct jv {
    jv_type_t type;
    bool markup;              //  JV_STR made by |safe: `+` HTML-escapes plain strings into it
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *s; size_t n; } str;
        struct { jv_t **items; size_t n; bool tuple, gen; int64_t *range; } list;  //  gen: a jinja2 generator (map, select...); range: start, stop, step of range ()
        jdict_t *dict;                                  //  JV_DICT, JV_NS
        int func;                                       //  JV_FUNC: a jfunc_t
        struct { jv_t *self; const char *name; } method;
        const jnode_t *macro;
        const char *undef_name;                         //  for messages
    } u;
};

//  Builtin functions a template may call by name.
typedef enum { JF_RANGE, JF_NAMESPACE, JF_RAISE, JF_STRFTIME, JF_DICT } jfunc_t;

//  A growable byte buffer on the heap (output) or arena (scratch).
typedef struct {
    char *data;
    size_t size, cap;
    size_t limit;             //  0: none
    jarena_t *arena;          //  NULL: heap
    jerr_t *err;
} jbuf_t;

void jbuf_put (jbuf_t *buf, const char *data, size_t size);
void jbuf_puts (jbuf_t *buf, const char *text);
void jbuf_printf (jbuf_t *buf, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Value construction in an arena.
typedef struct {
    jarena_t *arena;
    jerr_t *err;
} jmem_t;

jv_t *jv_undef (jmem_t *mem, const char *name);
jv_t *jv_none (void);
jv_t *jv_bool (bool b);
jv_t *jv_int (jmem_t *mem, int64_t i);
jv_t *jv_float (jmem_t *mem, double f);
jv_t *jv_strn (jmem_t *mem, const char *s, size_t n);
jv_t *jv_str (jmem_t *mem, const char *s);
jv_t *jv_list (jmem_t *mem, size_t n);          //  n items, all NULL until set
jv_t *jv_dict (jmem_t *mem);
jv_t *jv_func (jmem_t *mem, jfunc_t func);
jv_t *jv_method (jmem_t *mem, jv_t *self, const char *name);
void jdict_set (jmem_t *mem, jdict_t *dict, const char *key, size_t key_len, jv_t *value);
jv_t *jdict_get (const jdict_t *dict, const char *key, size_t key_len);
jv_t *jv_from_json (jmem_t *mem, json_t *json, int depth);

bool jv_truthy (const jv_t *v);
bool jv_equal (const jv_t *a, const jv_t *b, jerr_t *err);   //  ELIMIT when nested too deep
const char *jv_type_name (const jv_t *v);
//  Python's str () and repr () of a value, appended to buf.
void jv_str_into (jbuf_t *buf, const jv_t *v);
void jv_repr_into (jbuf_t *buf, const jv_t *v);
//  json.dumps (v, ensure_ascii, indent (< 0: none), separators, sort_keys).
typedef struct {
    int indent;
    bool ensure_ascii;
    bool sort_keys;
    const char *item_sep, *key_sep;
} jjson_opts_t;
void jv_json_into (jbuf_t *buf, const jv_t *v, const jjson_opts_t *opts, int line);
//  str (v) as a value (strings are returned as they are).
jv_t *jv_to_str (jmem_t *mem, jv_t *v);
void jv_float_repr (char *out, size_t size, double f);

//  UTF-8: the number of code points, and the byte offset of code point i.
size_t utf8_len (const char *s, size_t n);
size_t utf8_offset (const char *s, size_t n, size_t index);

// ---- tokens -----------------------------------------------------------------

typedef enum {
    T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT, T_OP, T_EOF
} jtok_type_t;

typedef struct {
    jtok_type_t type;
    int line;
    const char *s;            //  TEXT, NAME, STRING (unescaped), OP
    size_t n;
    int64_t i;
    double f;
} jtok_t;

//  Splits source into tokens with Hugging Face's whitespace settings
//  (trim_blocks, lstrip_blocks, no trailing newline kept).
jtok_t *jinja_lex (jmem_t *mem, const char *source, size_t size, size_t *count);

// ---- syntax tree ------------------------------------------------------------

typedef enum {
    //  statements
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_BREAK, N_CONTINUE, N_MACRO, N_BODY,
    N_FILTER_BLOCK,
    //  expressions
    E_CONST, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST,
    E_NOT, E_NEG, E_POS, E_BINARY, E_AND, E_OR, E_COND, E_LIST, E_TUPLE, E_DICT, E_COMPARE
} jnode_type_t;

typedef struct {
    jnode_t **items;
    int n;
} jlist_t;

struct jnode {
    jnode_type_t type;
    int line;
    int op;                   //  E_BINARY, E_COMPARE: the operator (an OP_*)
    bool negated;             //  E_TEST: `is not`
    const char *name;         //  E_NAME, E_ATTR, E_FILTER, E_TEST, N_SET, N_MACRO
    size_t name_len;
    const char *attr;         //  N_SET: `set ns.attr`
    jnode_t *a, *b, *c;       //  operands; N_IF/N_FOR: a = condition/iterable, b = filter
    jlist_t args;             //  calls, filters, tests, list/tuple/dict items (k, v, k, v)
    jlist_t kwargs;           //  E_CONST nodes naming keyword args, then the value: (k, v, ...)
    jlist_t body, orelse;     //  statements
    const char **targets;     //  N_FOR, N_SET (tuple unpacking), N_MACRO parameters
    int ntargets;
    jnode_t **defaults;       //  N_MACRO: parameter defaults (NULL where none)
    jv_t *value;              //  E_CONST
};

typedef enum {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
    OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_IN, OP_NOTIN
} jop_t;

//  Parses tokens into the template's statements.
jlist_t jinja_parse (jmem_t *mem, const jtok_t *tokens, size_t count);

// ---- rendering --------------------------------------------------------------

typedef struct jframe jframe_t;
struct jframe {
    jframe_t *parent;
    jdict_t vars;
};

typedef struct {
    jmem_t mem;
    jerr_t *err;
    jbuf_t *out;
    jframe_t *root;           //  the template's variables
    jframe_t *frame;          //  the innermost scope
    xinf_jinja_limits_t limits;
    size_t iterations;
    size_t work;              //  items and bytes walked, against 64 * max_iterations
    int depth;
    int line;                 //  the line being rendered, for messages
    time_t now;
} jctx_t;

jv_t *jeval (jctx_t *ctx, const jnode_t *node);
void jexec_list (jctx_t *ctx, const jlist_t *list);
//  Counts units of work (items visited, 64-byte blocks scanned); a render
//  that does more than 64 * max_iterations of them stops (ELIMIT).
void jinja_work (jctx_t *ctx, size_t units);
_Noreturn void jrun_fail (jctx_t *ctx, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
jv_t *jcall_macro (jctx_t *ctx, const jv_t *macro, jv_t **args, int nargs,
                   const char **kw_names, jv_t **kw_values, int nkw);

//  Operators, attributes, items, slices (xinf_jinja_ops.c).
jv_t *jinja_slice (jctx_t *ctx, jv_t *obj, jv_t *start, jv_t *stop, jv_t *step);
jv_t *jinja_unary (jctx_t *ctx, int type, jv_t *value);

//  Filters, tests, methods and functions (xinf_jinja_filters.c).
bool jinja_filter_known (const char *name, size_t len);
bool jinja_test_known (const char *name, size_t len);
jv_t *jinja_filter (jctx_t *ctx, const char *name, jv_t *value, jv_t **args, int nargs,
                    const char **kw_names, jv_t **kw_values, int nkw);
bool jinja_test (jctx_t *ctx, const char *name, jv_t *value, jv_t **args, int nargs);
jv_t *jinja_call (jctx_t *ctx, const jv_t *callee, jv_t **args, int nargs,
                  const char **kw_names, jv_t **kw_values, int nkw);
//  The value of `obj.name` (attribute first, then item) and `obj[key]`.
jv_t *jinja_getattr (jctx_t *ctx, jv_t *obj, const char *name, size_t len);
jv_t *jinja_getitem (jctx_t *ctx, jv_t *obj, jv_t *key);
jv_t *jinja_iterable (jctx_t *ctx, jv_t *value);    //  as a list, for `for`
jv_t *jinja_binary (jctx_t *ctx, int op, jv_t *a, jv_t *b);

//  Shared by filters and methods (xinf_jinja_methods.c).
jv_t *jinja_arg (jv_t **args, int nargs, const char **kw_names, jv_t **kw_values, int nkw,
                 int position, const char *name);
jv_t *jinja_strip (jctx_t *ctx, jv_t *value, jv_t *chars, bool left, bool right);
jv_t *jinja_case (jctx_t *ctx, jv_t *value, const char *how);
jv_t *jinja_replace (jctx_t *ctx, jv_t *value, jv_t *old, jv_t *with, int64_t count);
jv_t *jinja_method (jctx_t *ctx, jv_t *self, const char *name, jv_t **args, int nargs,
                    const char **kw_names, jv_t **kw_values, int nkw);
jv_t *jinja_items (jctx_t *ctx, jv_t *value);

#endif
