/*  xinf_jinja: a small, safe interpreter of the Jinja subset that chat
    templates use, rendering as Hugging Face's apply_chat_template does
    (jinja2's ImmutableSandboxedEnvironment with trim_blocks and
    lstrip_blocks, loop controls, raise_exception, strftime_now and a
    tojson filter with ensure_ascii=False).

        char *error = NULL;
        xinf_jinja_status_t status;
        xinf_jinja_t *tpl = xinf_jinja_new (source, strlen (source), &status, &error);
        char *text = tpl? xinf_jinja_render (tpl, context, NULL, &status, &error): NULL;

    Supported: text, {{ }}, {% %}, {# #}, whitespace control (- and +),
    if/elif/else, for (loop.index, index0, revindex, revindex0, first,
    last, length, previtem, nextitem, depth; for-else; `for x in y if c`;
    tuple targets; break, continue), set (names, ns.attr, tuples, block
    set), macros (defaults, keyword arguments, recursion), filter blocks,
    generation blocks, namespace (), range (), dict (), raise_exception (),
    strftime_now (); all expression operators with Python's semantics;
    subscripts and slices (strings by code point); the filters, tests and
    str/dict methods listed in xinf_jinja_filters.c and
    xinf_jinja_methods.c. Undefined behaves as jinja2's default Undefined;
    map/select/reject results as its generators; `|safe` strings as
    markupsafe's Markup in `+`.

    Not supported (XINF_JINJA_EUNSUPPORTED, so a caller can fall back):
    include/import/extends/block/call/raw/with/do, recursive loops,
    loop.cycle, *args and **kwargs, % string formatting, str.format specs,
    dict keys other than strings, filters, tests and methods not listed.
    Known differences: upper/lower/title/capitalize change ASCII letters
    only; ints are 64-bit (overflow is an error, not a big int).

    Thread safety: a parsed template may be rendered by many threads at
    once; each render has its own memory.
*/
#ifndef XINF_JINJA_H_INCLUDED
#define XINF_JINJA_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <time.h>

typedef enum {
    XINF_JINJA_OK = 0,
    XINF_JINJA_ESYNTAX,       //  the template does not parse
    XINF_JINJA_EUNSUPPORTED,  //  it uses a feature this interpreter lacks
    XINF_JINJA_ERAISED,       //  the template called raise_exception (msg)
    XINF_JINJA_ERUNTIME,      //  a type error, an undefined used, ... (jinja2 raises too)
    XINF_JINJA_ELIMIT         //  a size, memory, iteration or depth limit
} xinf_jinja_status_t;

typedef struct {
    size_t max_template;      //  bytes of source (default 1 MiB)
    size_t max_output;        //  bytes rendered (default 8 MiB)
    size_t max_memory;        //  bytes of values made while rendering (default 64 MiB)
    size_t max_iterations;    //  loop iterations in all, range () sizes (default 1,000,000)
    int max_depth;            //  nesting of expressions, statements, macro calls (default 200)
    time_t now;               //  strftime_now's time (0: the clock)
} xinf_jinja_limits_t;

typedef struct _xinf_jinja_t xinf_jinja_t;

//  The defaults above.
xinf_jinja_limits_t xinf_jinja_limits_default (void);

//  Parses a template. NULL with *status and *error (heap string, caller
//  frees, "line N: ...") when it does not parse or uses what we lack.
xinf_jinja_t *xinf_jinja_new (const char *source, size_t size, xinf_jinja_status_t *status,
                              char **error);
void xinf_jinja_destroy (xinf_jinja_t **self_p);

//  Renders with the keys of context (a JSON object, or NULL) as variables.
//  Returns the text (heap, caller frees), or NULL with *status and *error;
//  a text with a NUL character in it is an error (XINF_JINJA_ERUNTIME).
//  limits NULL: the defaults.
char *xinf_jinja_render (xinf_jinja_t *self, json_t *context, const xinf_jinja_limits_t *limits,
                         xinf_jinja_status_t *status, char **error);

#endif
