/*  test_jinja: the Jinja interpreter (models/xinf_jinja_*) on its own.

    Renders: whitespace control (trim_blocks, lstrip_blocks, - and +),
    expressions and precedence, Python number formatting, strings by code
    point, tests, filters, str and dict methods, loops and scopes, set,
    macros, filter blocks. The expected texts were produced by jinja2 set up
    as Hugging Face's apply_chat_template (tests/templates/hf_reference.py);
    templates_reference checks the stock chat templates live.
    Errors: syntax errors and their line numbers, unsupported features,
    undefined values, raise_exception. Limits: template size, output,
    iterations, depth, memory.
*/
#include "test_unit.h"
#include "xinf_jinja.h"

typedef struct {
    const char *template, *context, *expected;
} render_case_t;

static const render_case_t s_cases [] = {
    { "a\n{% if true %}\n  b\n{% endif %}\nc\n",
      "{}",
      "a\n  b\nc" },
    { "  {% if true %}x{% endif %}  \n  {{ 'y' }}  ",
      "{}",
      "x  \n  y  " },
    { "a  {%- if true -%}  b  {%- endif -%}  c",
      "{}",
      "abc" },
    { "a\n  {%+ if true %}b{% endif +%}\nc",
      "{}",
      "a\n  b\nc" },
    { "{# comment #}\nx{#- c -#}  y\n  {# c2 #}\nz",
      "{}",
      "xy\nz" },
    { "line1\r\nline2\r{{ 'x' }}\n",
      "{}",
      "line1\nline2\nx" },
    { "{{ 'a' }}\n{{ 'b' -}}\n\n  c",
      "{}",
      "a\nbc" },
    { "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }}",
      "{}",
      "7 9 64 3 -4 1 2 3.5 2.0" },
    { "{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-5 }} {{ 123456789.0 }} {{ -0.0 }} {{ 2.5 * 2 }}",
      "{}",
      "0.30000000000000004 1e+16 1.5e-05 123456789.0 -0.0 5.0" },
    { "{{ 'a' ~ 1 ~ none ~ true ~ u }} {{ 'ab' * 3 }} {{ [1] + [2, 'x'] }}",
      "{}",
      "a1NoneTrue ababab [1, 2, 'x']" },
    { "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' != 'a' }} {{ [1, {'k': 2}] == [1, {'k': 2}] }}",
      "{}",
      "True False True True False True" },
    { "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 'x' in u }}",
      "{}",
      "True True True True False" },
    { "{{ none or 'd' }} {{ 0 and 1 }} {{ 'a' and 'b' }} {{ not 0 }} {{ not not 'x' }} {{ 'y' if false }}|{{ 'y' if 0 else 'n' }}",
      "{}",
      "d 0 b True True |n" },
    { "{{ s[0] }}{{ s[-1] }}{{ s[1:] }}{{ s[::-1] }}{{ s[:-1] }}{{ s[10] }}|{{ l[1:3] }}{{ l[::2] }}{{ l[-2:] }}{{ l[5:] }}",
      "{\"s\": \"é漢字😀x\", \"l\": [1, 2, 3, 4, 5]}",
      "éx漢字😀xx😀字漢éé漢字😀|[2, 3][1, 3, 5][4, 5][]" },
    { "{{ d.a }} {{ d['b'] }} {{ d['items'] }} {{ d.items is defined }} {{ d['missing'] }}|{{ d.x.y if d.x is defined else 'nx' }} {{ d.a.b is defined }}",
      "{\"d\": {\"a\": 1, \"b\": [1, \"s\"], \"items\": \"key\"}}",
      "1 [1, 's'] key True |nx False" },
    { "{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ {'a': 'it\\'s'} }} {{ ('x',) }} {{ (1, 2) }}",
      "{}",
      "[1, 'a', None, True, 1.5, {'k': 'v'}] {'a': \"it's\"} ('x',) (1, 2)" },
    { "{{ \"a\\tb\\n\" }}{{ 'q\\'' }}{{ '\\u00e9\\x41\\101' }}{{ 'a' 'b' }}",
      "{}",
      "a\tb\nq'éAAab" },
    { "{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 's' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 's' is sequence }}{{ 1 is number }}{{ true is boolean }}{{ true is true }}{{ 0 is false }}{{ 1 is integer }}{{ 1.0 is float }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is equalto 'a' }}{{ 2 is eq 2 }}{{ 1 is not none }}{{ 'ab' is lower }}",
      "{}",
      "FalseTrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrue" },
    { "{{ '  x y  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ [1,2,3] | length }}|{{ 'é漢' | length }}|{{ {'a':1} | length }}|{{ u | length }}",
      "{}",
      "x y|a|3|2|1|0" },
    { "{{ 'hello world' | upper }} {{ 'HeLLo' | lower }} {{ 'hello WORLD' | capitalize }} {{ 'hello big-world (x)' | title }}",
      "{}",
      "HELLO WORLD hello Hello world Hello Big-World (X)" },
    { "{{ u | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('n') }}",
      "{}",
      "d  d None" },
    { "{{ [3,1,2] | first }} {{ [3,1,2] | last }} {{ 'abc' | first }} {{ [] | first }}| {{ [1,'a',none] | join(', ') }} {{ ['a','b'] | join }}",
      "{}",
      "3 2 a | 1, a, None ab" },
    { "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 42 | string }} {{ '12' | int + 1 }} {{ 'x' | int }} {{ 3.9 | int }} {{ '2.5' | float }}",
      "{}",
      "bbb bba 42 13 0 3 2.5" },
    { "{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %} {{ 'ab' | list }} {{ d | list }}",
      "{\"d\": {\"b\": 1, \"a\": 2}}",
      "b=1;a=2; ['a', 'b'] ['b', 'a']" },
    { "{{ l | selectattr('r', 'equalto', 'u') | map(attribute='c') | join(',') }} {{ l | rejectattr('r', 'equalto', 'u') | list | length }} {{ l | selectattr('x') | list }} {{ [1,2,3,4] | select('odd') | list }} {{ [1,2,3] | reject('equalto', 2) | list }}",
      "{\"l\": [{\"r\": \"u\", \"c\": 1}, {\"r\": \"a\", \"c\": 2, \"x\": 1}, {\"r\": \"u\", \"c\": 3}]}",
      "1,3 1 [{'r': 'a', 'c': 2, 'x': 1}] [1, 3] [1, 3]" },
    { "{{ ['b','A','c'] | sort }} {{ [3,1,2] | sort(reverse=true) }} {{ l | sort(attribute='n') | map(attribute='n') | list }} {{ ['a','A','b'] | unique | list }} {{ [1,2] | reverse | list }} {{ -3 | abs }}",
      "{\"l\": [{\"n\": 2}, {\"n\": 1}]}",
      "['A', 'b', 'c'] [3, 2, 1] [1, 2] ['a', 'b'] [2, 1] 3" },
    { "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|{{ d | tojson(sort_keys=true) }}|{{ 'é😀' | tojson(ensure_ascii=true) }}|{{ d | tojson(separators=(',', ':')) }}",
      "{\"d\": {\"z\": [1, 2.0, 1e-05, null, true], \"a\": {\"n\": \"é\"}, \"e\": {}}}",
      "{\"z\": [1, 2.0, 1e-05, null, true], \"a\": {\"n\": \"é\"}, \"e\": {}}|{\n  \"z\": [\n    1,\n    2.0,\n    1e-05,\n    null,\n    true\n  ],\n  \"a\": {\n    \"n\": \"é\"\n  },\n  \"e\": {}\n}|\"é\\\"\\n\"|{\"a\": {\"n\": \"é\"}, \"e\": {}, \"z\": [1, 2.0, 1e-05, null, true]}|\"\\u00e9\\ud83d\\ude00\"|{\"z\":[1,2.0,1e-05,null,true],\"a\":{\"n\":\"é\"},\"e\":{}}" },
    { "{{ d | dictsort }} {{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }} {{ [3,1,2] | min }} {{ [3,1,2] | max }}",
      "{\"d\": {\"b\": 1, \"A\": 2}}",
      "[('A', 2), ('b', 1)] a\n  b\n\n  c|  a\n  b 1 3" },
    { "{{ s.startswith('ab') }}{{ s.endswith(('x', 'yz')) }} {{ '  a  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'a b  c'.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a,b,c'.split(',', 1) }}",
      "{\"s\": \"abcxyz\"}",
      "TrueTrue a|axx|xxa|['a', 'b', 'c']['a', 'b', '', 'c']['a', 'b,c']" },
    { "{{ 'Hello'.upper() }}{{ 'Hello'.lower() }}{{ 'hello there-you'.title() }}{{ 'a-b-a'.replace('a', 'x') }}{{ 'abc'.find('c') }}{{ 'aXa'.count('a') }}{{ '-'.join(['a', 'b']) }}{{ 'x{}y{name}'.format(1, name='n') }}",
      "{}",
      "HELLOhelloHello There-Youx-b-x22a-bx1yn" },
    { "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys() | list }} {{ d.values() | list }} {% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}",
      "{\"d\": {\"a\": 1, \"b\": 2}}",
      "1 None 5 ['a', 'b'] [1, 2] a1b2" },
    { "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}",
      "{\"l\": [\"a\", \"b\", \"c\"]}",
      "10TrueFalse33b;21FalseFalse32ac;32FalseTrue31b;" },
    { "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.index }}{% endfor %} {% for x in [1,2,3,4,5] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
      "{}",
      "empty 2142 13" },
    { "{% set x = 1 %}{% for i in [1,2] %}{{ x }}{% set x = i * 10 %}{{ x }}{% endfor %}{{ x }} {% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
      "{}",
      "1101201 6" },
    { "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %} {% for c in 'ab' %}{{ c }}{% endfor %} {% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %} {{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }}",
      "{}",
      "37 ab xy [0, 1, 2] [1, 4, 7] [5, 3, 1]" },
    { "{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{{ i }}{{ j }} {% endfor %}{% endfor %}",
      "{}",
      "100 201 110 211 " },
    { "{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t %}in {{ 'block' }}{% endset %}[{{ t }}] {% macro m(x, y='d') %}<{{ x }}{{ y }}>{% endmacro %}{{ m(1) }}{{ m(2, y='z') }}{{ m(y=3, x=4) }}",
      "{}",
      "12 [in block] <1d><2z><43>" },
    { "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}",
      "{}",
      "120" },
    { "{% filter upper %}abc {{ 'd' }}{% endfilter %}",
      "{}",
      "ABC D" },
    { "{% generation %}kept {{ 1 }}{% endgeneration %} {% for x in [1] %}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}",
      "{}",
      "kept 1 10" },
    { "{% for m in msgs %}{{ m.role | upper }}:{{ m.content }}{% if not loop.last %}, {% endif %}{% endfor %}",
      "{\"msgs\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
      "USER:a, ASSISTANT:b" },
};

//  Renders source with context (JSON text); NULL with status and error set
//  on failure.
static char *
s_render (const char *source, const char *context, const xinf_jinja_limits_t *limits,
          xinf_jinja_status_t *status, char **error)
{
    json_error_t json_error;
    json_t *json = json_loads (context? context: "{}", JSON_ALLOW_NUL, &json_error);
    CHECK (json);
    xinf_jinja_t *template = xinf_jinja_new (source, strlen (source), status, error);
    char *text = NULL;
    if (template)
        text = xinf_jinja_render (template, json, limits, status, error);
    xinf_jinja_destroy (&template);
    CHECK (template == NULL);
    json_decref (json);
    return text;
}

static void
s_expect_error (const char *source, const char *context, xinf_jinja_status_t expected, const char *needle)
{
    xinf_jinja_status_t status;
    char *error = NULL;
    char *text = s_render (source, context, NULL, &status, &error);
    if (text)
        fprintf (stderr, "rendered %s as \"%s\"\n", source, text);
    CHECK (text == NULL);
    if (status != expected)
        fprintf (stderr, "%s: %s\n", source, error);
    CHECK_INT (status, expected);
    CHECK_HAS (error, needle);
    free (error);
}

static void
test_renders (void)
{
    for (size_t index = 0; index < sizeof s_cases / sizeof s_cases [0]; index++) {
        xinf_jinja_status_t status;
        char *error = NULL;
        char *text = s_render (s_cases [index].template, s_cases [index].context, NULL, &status, &error);
        if (!text)
            fprintf (stderr, "case %zu: %s: %s\n", index, s_cases [index].template, error);
        CHECK_STR (text, s_cases [index].expected);
        free (text);
    }
}

static void
test_errors (void)
{
    //  Syntax errors name their line.
    s_expect_error ("a\nb\n{% if x %}\nno end", NULL, XINF_JINJA_ESYNTAX, "missing 'elif'");
    s_expect_error ("a\n\n{{ 1 + }}", NULL, XINF_JINJA_ESYNTAX, "line 3:");
    s_expect_error ("{% for x in %}{% endfor %}", NULL, XINF_JINJA_ESYNTAX, "expected an expression");
    s_expect_error ("{{ 'abc }}", NULL, XINF_JINJA_ESYNTAX, "unterminated string");
    s_expect_error ("{# never closed", NULL, XINF_JINJA_ESYNTAX, "comment");
    s_expect_error ("{% endif %}", NULL, XINF_JINJA_ESYNTAX, "unexpected end of block");
    s_expect_error ("{{ x", NULL, XINF_JINJA_ESYNTAX, "end of template");
    s_expect_error ("{{ a[] }}", NULL, XINF_JINJA_ESYNTAX, "empty subscript");
    s_expect_error ("{{ f(a=1, 2) }}", NULL, XINF_JINJA_ESYNTAX, "positional argument after keyword");
    //  What we lack is unsupported, so callers can fall back.
    s_expect_error ("\n{{ x | wordwrap }}", NULL, XINF_JINJA_EUNSUPPORTED, "line 2: no filter named 'wordwrap'");
    s_expect_error ("{{ x is boring }}", NULL, XINF_JINJA_EUNSUPPORTED, "no test named 'boring'");
    s_expect_error ("{% include 'x' %}", NULL, XINF_JINJA_EUNSUPPORTED, "unsupported statement 'include'");
    s_expect_error ("{% for x in y recursive %}{% endfor %}", NULL, XINF_JINJA_EUNSUPPORTED, "recursive");
    s_expect_error ("{{ 'x'.zfill(3) }}", NULL, XINF_JINJA_EUNSUPPORTED, "not supported");
    s_expect_error ("{{ '%s' % 1 }}", NULL, XINF_JINJA_EUNSUPPORTED, "formatting");
    //  Runtime errors as jinja2 raises them, with the line.
    s_expect_error ("\n\n{{ x.y }}", NULL, XINF_JINJA_ERUNTIME, "line 3: 'x' is undefined");
    s_expect_error ("{{ 'a' + x }}", NULL, XINF_JINJA_ERUNTIME, "'x' is undefined");
    s_expect_error ("{{ x() }}", NULL, XINF_JINJA_ERUNTIME, "'x' is undefined");
    s_expect_error ("{{ 'a' + 1 }}", NULL, XINF_JINJA_ERUNTIME, "can only concatenate str");
    s_expect_error ("{{ 1 // 0 }}", NULL, XINF_JINJA_ERUNTIME, "division");
    s_expect_error ("{{ 9223372036854775807 + 1 }}", NULL, XINF_JINJA_ERUNTIME, "overflow");
    s_expect_error ("{% for x in none %}{% endfor %}", NULL, XINF_JINJA_ERUNTIME, "not iterable");
    s_expect_error ("{% set x = 1 %}{% set x.y = 2 %}", NULL, XINF_JINJA_ERUNTIME, "non-namespace");
    s_expect_error ("{{ [].append(1) }}", NULL, XINF_JINJA_ERUNTIME, "undefined value called");
    s_expect_error ("{{ d | tojson }}", "{}", XINF_JINJA_ERUNTIME, "not JSON serializable");
    s_expect_error ("{% for a, b in [[1]] %}{% endfor %}", NULL, XINF_JINJA_ERUNTIME, "expected 2 values");
    s_expect_error ("a{{ s }}b", "{\"s\": \"x\\u0000y\"}", XINF_JINJA_ERUNTIME, "NUL");
    //  raise_exception carries the template's own message, without a line.
    xinf_jinja_status_t status;
    char *error = NULL;
    char *text = s_render ("\n{{ raise_exception('Roles must alternate') }}", NULL, NULL, &status, &error);
    CHECK (text == NULL);
    CHECK_INT (status, XINF_JINJA_ERAISED);
    CHECK_STR (error, "Roles must alternate");
    free (error);
    //  Undefined is lenient where jinja2 is.
    text = s_render ("[{{ x }}{{ x | length }}{{ x is defined }}{% for i in x %}i{% endfor %}{{ d.nope }}]",
                     "{\"d\": {}}", NULL, &status, &error);
    CHECK_STR (text, "[0False]");
    free (text);
}

static void
test_limits (void)
{
    xinf_jinja_limits_t limits = xinf_jinja_limits_default ();
    limits.max_output = 1000;
    xinf_jinja_status_t status;
    char *error = NULL;
    char *text = s_render ("{% for i in range(100) %}0123456789abcdef{% endfor %}", NULL, &limits, &status, &error);
    CHECK (text == NULL);
    CHECK_INT (status, XINF_JINJA_ELIMIT);
    CHECK_HAS (error, "output limit");
    free (error);

    limits = xinf_jinja_limits_default ();
    limits.max_iterations = 5000;
    text = s_render ("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
                     NULL, &limits, &status, &error);
    CHECK (text == NULL);
    CHECK_INT (status, XINF_JINJA_ELIMIT);
    CHECK_HAS (error, "loop iterations");
    free (error);
    s_expect_error ("{{ range(100000000) | length }}", NULL, XINF_JINJA_ELIMIT, "iteration limit");

    limits = xinf_jinja_limits_default ();
    limits.max_memory = 1 << 20;
    text = s_render ("{{ ('x' * 100000) * 100 }}", NULL, &limits, &status, &error);
    CHECK (text == NULL);
    CHECK_INT (status, XINF_JINJA_ELIMIT);
    free (error);
    text = s_render ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                     NULL, &limits, &status, &error);
    CHECK (text == NULL);
    CHECK_INT (status, XINF_JINJA_ELIMIT);
    free (error);

    //  Nesting: deep expressions at parse time, deep recursion at render time.
    char deep [4096];
    size_t at = 0;
    at += (size_t) snprintf (deep + at, sizeof deep - at, "{{ ");
    for (int index = 0; index < 1000; index++)
        deep [at++] = '(';
    deep [at++] = '1';
    for (int index = 0; index < 1000; index++)
        deep [at++] = ')';
    snprintf (deep + at, sizeof deep - at, " }}");
    s_expect_error (deep, NULL, XINF_JINJA_ELIMIT, "nested deeper");
    s_expect_error ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, XINF_JINJA_ELIMIT, "deeper than");

    //  Template size.
    size_t size = xinf_jinja_limits_default ().max_template + 1;
    char *big = malloc (size + 1);
    memset (big, 'a', size);
    big [size] = 0;
    xinf_jinja_t *template = xinf_jinja_new (big, size, &status, &error);
    CHECK (template == NULL);
    CHECK_INT (status, XINF_JINJA_ELIMIT);
    free (error);
    free (big);
}

static void
test_strftime (void)
{
    xinf_jinja_limits_t limits = xinf_jinja_limits_default ();
    limits.now = 86400 * 365;           //  1971-01-01 (local time near it)
    xinf_jinja_status_t status;
    char *error = NULL;
    char *text = s_render ("{{ strftime_now('%Y') }}", NULL, &limits, &status, &error);
    CHECK (text && (strcmp (text, "1971") == 0 || strcmp (text, "1970") == 0));
    free (text);
}

int
main (void)
{
    RUN (test_renders);
    RUN (test_errors);
    RUN (test_limits);
    RUN (test_strftime);
    return 0;
}
