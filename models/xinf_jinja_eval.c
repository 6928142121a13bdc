/*  xinf_jinja_eval: the evaluator of the Jinja interpreter and its public
    entry points (xinf_jinja_new, _render, _destroy).

    Scopes follow jinja2: the template's variables in a root frame, a
    fresh frame for each loop iteration (so `set` inside a loop is lost
    when the iteration ends, hence namespace ()), a frame per macro call.
    Every loop iteration and macro call counts against max_iterations, every expression
    and statement level against max_depth, every output byte against
    max_output and every value against max_memory.
*/
#include "xinf_jinja_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _xinf_jinja_t {
    jarena_t arena;           //  tokens and tree
    jlist_t body;
};

enum { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE };

static int s_exec_list (jctx_t *ctx, const jlist_t *list);

xinf_jinja_limits_t
xinf_jinja_limits_default (void)
{
    xinf_jinja_limits_t limits = {
        .max_template = 1024 * 1024,
        .max_output = 8 * 1024 * 1024,
        .max_memory = 64 * 1024 * 1024,
        .max_iterations = 1000 * 1000,
        .max_depth = 200,
        .now = 0
    };
    return limits;
}

void
jrun_fail (jctx_t *ctx, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    jfail (ctx->err, XINF_JINJA_ERUNTIME, ctx->line, "%s", message);
}

void
jinja_work (jctx_t *ctx, size_t units)
{
    ctx->work += units + 1;
    if (ctx->work / 64 > ctx->limits.max_iterations)
        jfail (ctx->err, XINF_JINJA_ELIMIT, ctx->line, "more work than the limit of %zu units",
               64 * ctx->limits.max_iterations);
}

// ---- scopes -----------------------------------------------------------------

static jframe_t *
s_frame_new (jctx_t *ctx, jframe_t *parent)
{
    jframe_t *frame = jalloc (ctx->mem.arena, ctx->err, sizeof *frame);
    frame->parent = parent;
    return frame;
}

static void
s_bind (jctx_t *ctx, const char *name, jv_t *value)
{
    jdict_set (&ctx->mem, &ctx->frame->vars, name, strlen (name), value);
}

static jv_t *
s_lookup (jctx_t *ctx, const char *name, size_t len)
{
    for (jframe_t *frame = ctx->frame; frame; frame = frame->parent) {
        jv_t *value = jdict_get (&frame->vars, name, len);
        if (value)
            return value;
    }
    static const struct { const char *name; jfunc_t func; } builtins [] = {
        { "range", JF_RANGE }, { "namespace", JF_NAMESPACE }, { "raise_exception", JF_RAISE },
        { "strftime_now", JF_STRFTIME }, { "dict", JF_DICT }
    };
    for (size_t index = 0; index < sizeof builtins / sizeof builtins [0]; index++)
        if (strlen (builtins [index].name) == len && memcmp (builtins [index].name, name, len) == 0)
            return jv_func (&ctx->mem, builtins [index].func);
    return jv_undef (&ctx->mem, name);
}

//  Binds targets to value, unpacking it when there are several.
static void
s_assign (jctx_t *ctx, const char *const *targets, int count, jv_t *value)
{
    if (count == 1) {
        s_bind (ctx, targets [0], value);
        return;
    }
    if (value->type != JV_LIST)
        jrun_fail (ctx, "cannot unpack a %s into %d names", jv_type_name (value), count);
    if ((int) value->u.list.n != count)
        jrun_fail (ctx, "expected %d values to unpack, got %zu", count, value->u.list.n);
    for (int index = 0; index < count; index++)
        s_bind (ctx, targets [index], value->u.list.items [index]);
}

// ---- expressions ------------------------------------------------------------

//  Evaluates args and kwargs of a call, filter or test node.
typedef struct {
    jv_t *args [32];
    int nargs;
    const char *kw_names [32];
    jv_t *kw_values [32];
    int nkw;
} jargs_t;

static void
s_args (jctx_t *ctx, const jnode_t *node, jargs_t *out)
{
    if (node->args.n > 32 || node->kwargs.n > 64)
        jrun_fail (ctx, "too many arguments");
    out->nargs = node->args.n;
    for (int index = 0; index < node->args.n; index++)
        out->args [index] = jeval (ctx, node->args.items [index]);
    out->nkw = node->kwargs.n / 2;
    for (int index = 0; index < out->nkw; index++) {
        out->kw_names [index] = node->kwargs.items [2 * index]->value->u.str.s;
        out->kw_values [index] = jeval (ctx, node->kwargs.items [2 * index + 1]);
    }
}

static jv_t *
s_sequence (jctx_t *ctx, const jnode_t *node)
{
    if (node->type == E_DICT) {
        jv_t *dict = jv_dict (&ctx->mem);
        for (int index = 0; index + 1 < node->args.n; index += 2) {
            jv_t *key = jeval (ctx, node->args.items [index]);
            if (key->type != JV_STR)
                jfail (ctx->err, XINF_JINJA_EUNSUPPORTED, node->line, "dict keys other than strings are not supported");
            jdict_set (&ctx->mem, dict->u.dict, key->u.str.s, key->u.str.n,
                       jeval (ctx, node->args.items [index + 1]));
        }
        return dict;
    }
    jv_t *list = jv_list (&ctx->mem, (size_t) node->args.n);
    list->u.list.tuple = node->type == E_TUPLE;
    for (int index = 0; index < node->args.n; index++)
        list->u.list.items [index] = jeval (ctx, node->args.items [index]);
    return list;
}

static jv_t *
s_eval (jctx_t *ctx, const jnode_t *node)
{
    jargs_t args;
    switch (node->type) {
        case E_CONST: return node->value;
        case E_NAME: return s_lookup (ctx, node->name, node->name_len);
        case E_ATTR: return jinja_getattr (ctx, jeval (ctx, node->a), node->name, node->name_len);
        case E_ITEM: {
            jv_t *object = jeval (ctx, node->a);
            return jinja_getitem (ctx, object, jeval (ctx, node->b));
        }
        case E_SLICE: {
            jv_t *object = jeval (ctx, node->a);
            jv_t *start = node->b? jeval (ctx, node->b): jv_none ();
            jv_t *stop = node->c? jeval (ctx, node->c): jv_none ();
            jv_t *step = node->args.n && node->args.items [0]? jeval (ctx, node->args.items [0]): jv_none ();
            return jinja_slice (ctx, object, start, stop, step);
        }
        case E_CALL: {
            jv_t *callee = jeval (ctx, node->a);
            s_args (ctx, node, &args);
            ctx->line = node->line;
            return jinja_call (ctx, callee, args.args, args.nargs, args.kw_names, args.kw_values, args.nkw);
        }
        case E_FILTER: {
            jv_t *value = jeval (ctx, node->a);
            s_args (ctx, node, &args);
            ctx->line = node->line;
            return jinja_filter (ctx, node->name, value, args.args, args.nargs,
                                 args.kw_names, args.kw_values, args.nkw);
        }
        case E_TEST: {
            jv_t *value = jeval (ctx, node->a);
            s_args (ctx, node, &args);
            ctx->line = node->line;
            bool result = jinja_test (ctx, node->name, value, args.args, args.nargs);
            return jv_bool (result != node->negated);
        }
        case E_NOT: return jv_bool (!jv_truthy (jeval (ctx, node->a)));
        case E_NEG: case E_POS: return jinja_unary (ctx, node->type, jeval (ctx, node->a));
        case E_BINARY: case E_COMPARE: {
            jv_t *left = jeval (ctx, node->a);
            jv_t *right = jeval (ctx, node->b);
            ctx->line = node->line;
            return jinja_binary (ctx, node->op, left, right);
        }
        case E_AND: {
            jv_t *left = jeval (ctx, node->a);
            return jv_truthy (left)? jeval (ctx, node->b): left;
        }
        case E_OR: {
            jv_t *left = jeval (ctx, node->a);
            return jv_truthy (left)? left: jeval (ctx, node->b);
        }
        case E_COND:
            if (jv_truthy (jeval (ctx, node->a)))
                return jeval (ctx, node->b);
            return node->c? jeval (ctx, node->c): jv_undef (&ctx->mem, NULL);
        case E_LIST: case E_TUPLE: case E_DICT: return s_sequence (ctx, node);
        default:
            jfail (ctx->err, XINF_JINJA_ESYNTAX, node->line, "a statement where an expression belongs");
    }
}

jv_t *
jeval (jctx_t *ctx, const jnode_t *node)
{
    if (++ctx->depth > ctx->limits.max_depth)
        jfail (ctx->err, XINF_JINJA_ELIMIT, node->line, "nesting deeper than %d", ctx->limits.max_depth);
    ctx->line = node->line;
    jv_t *value = s_eval (ctx, node);
    ctx->depth--;
    return value;
}

// ---- statements -------------------------------------------------------------

static void
s_count_iteration (jctx_t *ctx)
{
    if (++ctx->iterations > ctx->limits.max_iterations)
        jfail (ctx->err, XINF_JINJA_ELIMIT, ctx->line, "more than %zu loop iterations",
               ctx->limits.max_iterations);
}

static jv_t *
s_loop_object (jctx_t *ctx, jv_t *items, size_t index)
{
    jv_t *loop = jv_dict (&ctx->mem);
    jdict_t *dict = loop->u.dict;
    size_t n = items->u.list.n;
    jmem_t *mem = &ctx->mem;
    jdict_set (mem, dict, "index", 5, jv_int (mem, (int64_t) index + 1));
    jdict_set (mem, dict, "index0", 6, jv_int (mem, (int64_t) index));
    jdict_set (mem, dict, "revindex", 8, jv_int (mem, (int64_t) (n - index)));
    jdict_set (mem, dict, "revindex0", 9, jv_int (mem, (int64_t) (n - index - 1)));
    jdict_set (mem, dict, "first", 5, jv_bool (index == 0));
    jdict_set (mem, dict, "last", 4, jv_bool (index + 1 == n));
    jdict_set (mem, dict, "length", 6, jv_int (mem, (int64_t) n));
    jdict_set (mem, dict, "depth", 5, jv_int (mem, 1));
    jdict_set (mem, dict, "depth0", 6, jv_int (mem, 0));
    if (index > 0)
        jdict_set (mem, dict, "previtem", 8, items->u.list.items [index - 1]);
    if (index + 1 < n)
        jdict_set (mem, dict, "nextitem", 8, items->u.list.items [index + 1]);
    return loop;
}

//  The items of a `for x in y if cond` that pass cond.
static jv_t *
s_filtered (jctx_t *ctx, const jnode_t *node, jv_t *items)
{
    jv_t *kept = jv_list (&ctx->mem, items->u.list.n);
    size_t count = 0;
    jframe_t *parent = ctx->frame;
    for (size_t index = 0; index < items->u.list.n; index++) {
        s_count_iteration (ctx);
        ctx->frame = s_frame_new (ctx, parent);
        s_assign (ctx, node->targets, node->ntargets, items->u.list.items [index]);
        if (jv_truthy (jeval (ctx, node->b)))
            kept->u.list.items [count++] = items->u.list.items [index];
        ctx->frame = parent;
    }
    kept->u.list.n = count;
    return kept;
}

static int
s_for (jctx_t *ctx, const jnode_t *node)
{
    jv_t *items = jinja_iterable (ctx, jeval (ctx, node->a));
    if (node->b)
        items = s_filtered (ctx, node, items);
    if (items->u.list.n == 0)
        return s_exec_list (ctx, &node->orelse);
    jframe_t *parent = ctx->frame;
    for (size_t index = 0; index < items->u.list.n; index++) {
        s_count_iteration (ctx);
        ctx->frame = s_frame_new (ctx, parent);
        s_assign (ctx, node->targets, node->ntargets, items->u.list.items [index]);
        s_bind (ctx, "loop", s_loop_object (ctx, items, index));
        int flow = s_exec_list (ctx, &node->body);
        ctx->frame = parent;
        if (flow == FLOW_BREAK)
            break;
    }
    return FLOW_NEXT;
}

static void
s_set (jctx_t *ctx, const jnode_t *node)
{
    jv_t *value = jeval (ctx, node->a);
    if (node->attr) {
        jv_t *ns = s_lookup (ctx, node->name, node->name_len);
        if (ns->type != JV_NS)
            jrun_fail (ctx, "cannot assign attribute on non-namespace object");
        jdict_set (&ctx->mem, ns->u.dict, node->attr, strlen (node->attr), value);
        return;
    }
    s_assign (ctx, node->targets, node->ntargets, value);
}

//  Renders a body into a string of its own (block set, macro calls).
static jv_t *
s_capture (jctx_t *ctx, const jlist_t *body)
{
    jbuf_t buf = { .arena = ctx->mem.arena, .err = ctx->err, .limit = ctx->limits.max_output };
    jbuf_t *saved = ctx->out;
    ctx->out = &buf;
    s_exec_list (ctx, body);
    ctx->out = saved;
    jv_t *text = jalloc (ctx->mem.arena, ctx->err, sizeof *text);
    text->type = JV_STR;
    text->u.str.s = buf.data? buf.data: "";
    text->u.str.n = buf.size;
    return text;
}

static void s_count_iteration (jctx_t *ctx);

jv_t *
jcall_macro (jctx_t *ctx, const jv_t *macro, jv_t **args, int nargs,
             const char **kw_names, jv_t **kw_values, int nkw)
{
    const jnode_t *node = macro->u.macro;
    if (nargs > node->ntargets)
        jrun_fail (ctx, "macro '%s' takes not more than %d argument(s)", node->name, node->ntargets);
    if (++ctx->depth > ctx->limits.max_depth)
        jfail (ctx->err, XINF_JINJA_ELIMIT, node->line, "macro calls nested deeper than %d", ctx->limits.max_depth);
    s_count_iteration (ctx);            //  bounds recursion that fans out
    jframe_t *saved = ctx->frame;
    ctx->frame = s_frame_new (ctx, ctx->root);
    for (int index = 0; index < node->ntargets; index++) {
        jv_t *value = index < nargs? args [index]: NULL;
        for (int kw = 0; kw < nkw; kw++)
            if (strcmp (kw_names [kw], node->targets [index]) == 0)
                value = kw_values [kw];
        if (!value)
            value = node->defaults [index]? jeval (ctx, node->defaults [index]):
                    jv_undef (&ctx->mem, node->targets [index]);
        s_bind (ctx, node->targets [index], value);
    }
    jv_t *text = s_capture (ctx, &node->body);
    ctx->frame = saved;
    ctx->depth--;
    return text;
}

static void
s_filter_block (jctx_t *ctx, const jnode_t *node)
{
    jv_t *value = s_capture (ctx, &node->body);
    for (int index = 0; index < node->args.n; index++) {
        const jnode_t *filter = node->args.items [index];
        jargs_t args;
        s_args (ctx, filter, &args);
        ctx->line = filter->line;
        value = jinja_filter (ctx, filter->name, value, args.args, args.nargs,
                              args.kw_names, args.kw_values, args.nkw);
    }
    jv_str_into (ctx->out, value);
}

static int
s_exec (jctx_t *ctx, const jnode_t *node)
{
    ctx->line = node->line;
    switch (node->type) {
        case N_TEXT: jbuf_put (ctx->out, node->value->u.str.s, node->value->u.str.n); break;
        case N_OUTPUT: jv_str_into (ctx->out, jeval (ctx, node->a)); break;
        case N_IF:
            return s_exec_list (ctx, jv_truthy (jeval (ctx, node->a))? &node->body: &node->orelse);
        case N_FOR: return s_for (ctx, node);
        case N_SET: s_set (ctx, node); break;
        case N_SET_BLOCK: s_bind (ctx, node->targets [0], s_capture (ctx, &node->body)); break;
        case N_BREAK: return FLOW_BREAK;
        case N_CONTINUE: return FLOW_CONTINUE;
        case N_MACRO: {
            jv_t *macro = jalloc (ctx->mem.arena, ctx->err, sizeof *macro);
            macro->type = JV_MACRO;
            macro->u.macro = node;
            s_bind (ctx, node->name, macro);
            break;
        }
        case N_BODY: return s_exec_list (ctx, &node->body);
        case N_FILTER_BLOCK: s_filter_block (ctx, node); break;
        default:
            jfail (ctx->err, XINF_JINJA_ESYNTAX, node->line, "an expression where a statement belongs");
    }
    return FLOW_NEXT;
}

static int
s_exec_list (jctx_t *ctx, const jlist_t *list)
{
    if (++ctx->depth > ctx->limits.max_depth)
        jfail (ctx->err, XINF_JINJA_ELIMIT, ctx->line, "nesting deeper than %d", ctx->limits.max_depth);
    int flow = FLOW_NEXT;
    for (int index = 0; index < list->n && flow == FLOW_NEXT; index++)
        flow = s_exec (ctx, list->items [index]);
    ctx->depth--;
    return flow;
}

void
jexec_list (jctx_t *ctx, const jlist_t *list)
{
    s_exec_list (ctx, list);
}

// ---- entry points -----------------------------------------------------------

static char *
s_error_text (const jerr_t *err)
{
    char text [320];
    if (err->line > 0 && err->status != XINF_JINJA_ERAISED)
        snprintf (text, sizeof text, "line %d: %s", err->line, err->message);
    else
        snprintf (text, sizeof text, "%s", err->message);
    return strdup (text);
}

xinf_jinja_t *
xinf_jinja_new (const char *source, size_t size, xinf_jinja_status_t *status, char **error)
{
    jerr_t err;
    memset (&err, 0, sizeof err);
    *status = XINF_JINJA_OK;
    if (error)
        *error = NULL;
    if (!source || size > xinf_jinja_limits_default ().max_template) {
        *status = source? XINF_JINJA_ELIMIT: XINF_JINJA_ESYNTAX;
        if (error)
            *error = strdup (source? "template larger than the limit": "no template");
        return NULL;
    }
    xinf_jinja_t *volatile self = calloc (1, sizeof *self);
    if (!self) {
        *status = XINF_JINJA_ELIMIT;
        if (error)
            *error = strdup ("out of memory");
        return NULL;
    }
    jarena_init (&self->arena, 32 * size + 1024 * 1024);
    if (setjmp (err.jump)) {
        *status = err.status;
        if (error)
            *error = s_error_text (&err);
        jarena_free (&self->arena);
        free (self);
        return NULL;
    }
    jmem_t mem = { &self->arena, &err };
    size_t count;
    jtok_t *tokens = jinja_lex (&mem, source, size, &count);
    self->body = jinja_parse (&mem, tokens, count);
    return self;
}

void
xinf_jinja_destroy (xinf_jinja_t **self_p)
{
    if (self_p && *self_p) {
        jarena_free (&(*self_p)->arena);
        free (*self_p);
        *self_p = NULL;
    }
}

//  What a render owns, on the heap so that longjmp leaves it intact.
typedef struct {
    jarena_t arena;
    jerr_t err;
    jbuf_t out;
    jctx_t ctx;
} jrender_t;

char *
xinf_jinja_render (xinf_jinja_t *self, json_t *context, const xinf_jinja_limits_t *limits,
                   xinf_jinja_status_t *status, char **error)
{
    *status = XINF_JINJA_OK;
    if (error)
        *error = NULL;
    jrender_t *run = self? calloc (1, sizeof *run): NULL;
    if (!run) {
        *status = XINF_JINJA_ELIMIT;
        if (error)
            *error = strdup (self? "out of memory": "no template");
        return NULL;
    }
    xinf_jinja_limits_t lim = limits? *limits: xinf_jinja_limits_default ();
    jarena_init (&run->arena, lim.max_memory);
    run->out.limit = lim.max_output;
    run->out.err = &run->err;
    if (setjmp (run->err.jump)) {
        *status = run->err.status;
        if (error)
            *error = s_error_text (&run->err);
        free (run->out.data);
        jarena_free (&run->arena);
        free (run);
        return NULL;
    }
    jctx_t *ctx = &run->ctx;
    ctx->mem.arena = &run->arena;
    ctx->mem.err = &run->err;
    ctx->err = &run->err;
    ctx->out = &run->out;
    ctx->limits = lim;
    ctx->now = lim.now? lim.now: time (NULL);
    ctx->root = s_frame_new (ctx, NULL);
    ctx->frame = ctx->root;
    if (context && json_is_object (context)) {
        const char *key;
        size_t key_len;
        json_t *value;
        json_object_keylen_foreach (context, key, key_len, value)
            jdict_set (&ctx->mem, &ctx->root->vars, key, key_len, jv_from_json (&ctx->mem, value, 0));
    }
    jexec_list (ctx, &self->body);
    if (run->out.size && memchr (run->out.data, 0, run->out.size))
        jfail (ctx->err, XINF_JINJA_ERUNTIME, 0, "the output holds a NUL character");
    char *text = run->out.data? run->out.data: strdup ("");
    jarena_free (&run->arena);
    free (run);
    return text;
}
