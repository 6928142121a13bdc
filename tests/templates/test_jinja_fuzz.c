/*  test_jinja_fuzz: the Jinja interpreter and the chat API fed garbage.

        unit_jinja_fuzz DATA_DIR [SEED [SCALE]]

    Deterministic (xorshift from SEED, default 0x5eed2026): random bytes
    over Jinja's alphabet, random token soups, and the stock templates of
    DATA_DIR mutated (bytes dropped, duplicated, swapped, tokens inserted).
    Each is parsed and rendered with small limits against a chat with
    tools. Nothing may crash, hang or leak (run it under the sanitizer
    build too); a failure has a status and a message; output never passes
    its limit. Then templates built to exhaust each limit must stop with
    XINF_JINJA_ELIMIT.
*/
#include "test_unit.h"
#include "xinf_chat_template.h"
#include "xinf_jinja.h"

#include <dirent.h>

static uint64_t s_state;

static uint64_t
s_rand (void)
{
    s_state ^= s_state << 13;
    s_state ^= s_state >> 7;
    s_state ^= s_state << 17;
    return s_state;
}

static size_t
s_below (size_t n)
{
    return n? (size_t) (s_rand () % n): 0;
}

static const char *s_tokens [] = {
    "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", "{%+", " ", "\n", "  ",
    "if", "elif", "else", "endif", "for", "in", "endfor", "set", "endset", "macro", "endmacro",
    "filter", "endfilter", "break", "continue", "not", "and", "or", "is", "defined", "none",
    "true", "false", "loop", "loop.index", "loop.last", "messages", "message", "m", "x", "ns",
    "namespace(", "range(", "raise_exception(", "tools", "content", "role", "'s'", "\"d\"", "0",
    "1", "-1", "2.5", "1e308", "9223372036854775807", "(", ")", "[", "]", "{", "}", ",", ":", ".",
    "|", "~", "+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">=", "=", "tojson", "trim",
    "length", "join", "items", "map(attribute='role')", "selectattr('role', 'equalto', 'user')",
    "sort", "list", "first", "last", "default", "string", "int", "indent", "dictsort", "replace",
    ".split()", ".strip()", ".startswith('x')", ".format(1)", ".get('a')", ".items()", "[::-1]",
    "[1:]", "[0]", "'\\u00e9'", "'\\x", "\\", "'", "\"", "é", "漢", "😀", "\xff", "\xc3"
};

static char *
s_random_bytes (size_t *size)
{
    static const char alphabet [] = "{}%#-+()[]|.,:'\"~*/=<>!_ \n\tabcdefxyz019";
    size_t n = s_below (300);
    char *text = malloc (n + 1);
    for (size_t index = 0; index < n; index++)
        text [index] = s_below (8) == 0? (char) s_rand (): alphabet [s_below (sizeof alphabet - 1)];
    text [n] = 0;
    *size = n;
    return text;
}

static char *
s_token_soup (size_t *size)
{
    size_t count = s_below (60);
    size_t cap = 16, n = 0;
    char *text = malloc (cap);
    for (size_t index = 0; index < count; index++) {
        const char *token = s_tokens [s_below (sizeof s_tokens / sizeof s_tokens [0])];
        size_t len = strlen (token);
        while (n + len + 2 > cap)
            text = realloc (text, cap *= 2);
        memcpy (text + n, token, len);
        n += len;
        if (s_below (2))
            text [n++] = ' ';
    }
    text [n] = 0;
    *size = n;
    return text;
}

static char *
s_mutate (const char *source, size_t *size)
{
    size_t n = strlen (source);
    size_t cap = 2 * n + 4096;
    char *text = malloc (cap);
    memcpy (text, source, n);
    int mutations = 1 + (int) s_below (4);
    for (int k = 0; k < mutations; k++) {
        size_t at = s_below (n + 1);
        size_t len = s_below (n - at + 1 < 40? n - at + 1: 40);
        switch (s_below (5)) {
            case 0:                                        //  drop a range
                memmove (text + at, text + at + len, n - at - len);
                n -= len;
                break;
            case 1:                                        //  duplicate a range
                if (n + len < cap) {
                    memmove (text + at + len, text + at, n - at);
                    n += len;
                }
                break;
            case 2: {                                      //  insert a token
                const char *token = s_tokens [s_below (sizeof s_tokens / sizeof s_tokens [0])];
                size_t tlen = strlen (token);
                if (n + tlen < cap) {
                    memmove (text + at + tlen, text + at, n - at);
                    memcpy (text + at, token, tlen);
                    n += tlen;
                }
                break;
            }
            case 3:                                        //  swap two bytes
                if (n > 1) {
                    size_t other = s_below (n);
                    if (at >= n)
                        at = n - 1;
                    char c = text [at];
                    text [at] = text [other];
                    text [other] = c;
                }
                break;
            default:                                       //  replace a byte
                if (at < n)
                    text [at] = (char) s_rand ();
        }
    }
    text [n] = 0;
    *size = n;
    return text;
}

static json_t *s_context;
static size_t s_counts [6];

static void
s_try (const char *source, size_t size)
{
    xinf_jinja_limits_t limits = xinf_jinja_limits_default ();
    limits.max_output = 64 * 1024;
    limits.max_memory = 4 * 1024 * 1024;
    limits.max_iterations = 20000;
    limits.now = 1767225600;
    xinf_jinja_status_t status;
    char *error = NULL;
    xinf_jinja_t *template = xinf_jinja_new (source, size, &status, &error);
    if (!template) {
        CHECK (status != XINF_JINJA_OK);
        CHECK (error && *error);
        s_counts [status]++;
        free (error);
        return;
    }
    char *text = xinf_jinja_render (template, s_context, &limits, &status, &error);
    if (text) {
        CHECK (strlen (text) <= limits.max_output);
        s_counts [0]++;
        free (text);
    }
    else {
        CHECK (status != XINF_JINJA_OK);
        CHECK (error && *error);
        s_counts [status]++;
        free (error);
    }
    xinf_jinja_destroy (&template);
}

//  The chat API on a mutated template: a prompt, or an error; a warning
//  only with a prompt.
static void
s_try_chat (const char *source)
{
    char *warning = NULL, *error = NULL;
    char *text = xinf_chat_template_apply (source, json_object_get (s_context, "messages"),
                                           json_object_get (s_context, "tools"), "<s>", "</s>", true,
                                           &warning, &error);
    CHECK ((text != NULL) != (error != NULL));
    CHECK (!warning || text);
    free (text);
    free (warning);
    free (error);
}

static int
s_load (const char *dir, char **sources, int max)
{
    DIR *handle = opendir (dir);
    CHECK (handle);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)) && count < max) {
        size_t len = strlen (entry->d_name);
        if (len < 6 || strcmp (entry->d_name + len - 6, ".jinja") != 0)
            continue;
        char path [1024];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        FILE *file = fopen (path, "rb");
        CHECK (file);
        char *text = calloc (1, 1 << 18);
        size_t n = fread (text, 1, (1 << 18) - 1, file);
        text [n] = 0;
        fclose (file);
        sources [count++] = text;
    }
    closedir (handle);
    //  readdir order is the file system's: sort for determinism.
    for (int a = 0; a < count; a++)
        for (int b = a + 1; b < count; b++)
            if (strcmp (sources [a], sources [b]) > 0) {
                char *swap = sources [a];
                sources [a] = sources [b];
                sources [b] = swap;
            }
    return count;
}

static void
s_expect_limit (const char *source)
{
    xinf_jinja_limits_t limits = xinf_jinja_limits_default ();
    limits.max_output = 64 * 1024;
    limits.max_memory = 4 * 1024 * 1024;
    limits.max_iterations = 20000;
    xinf_jinja_status_t status;
    char *error = NULL;
    xinf_jinja_t *template = xinf_jinja_new (source, strlen (source), &status, &error);
    char *text = template? xinf_jinja_render (template, s_context, &limits, &status, &error): NULL;
    if (text || status != XINF_JINJA_ELIMIT)
        fprintf (stderr, "%s: %s\n", source, text? "rendered": error);
    CHECK (text == NULL);
    CHECK_INT (status, XINF_JINJA_ELIMIT);
    free (error);
    xinf_jinja_destroy (&template);
}

static void
test_limits_hold (void)
{
    s_expect_limit ("{% for i in range(10000) %}{{ messages | tojson }}{% endfor %}");
    s_expect_limit ("{% for i in range(200) %}{% for j in range(200) %}{% endfor %}{% endfor %}");
    s_expect_limit ("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(0) }}");
    s_expect_limit ("{% macro f(n) %}{% if n < 30 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}");
    s_expect_limit ("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}");
    s_expect_limit ("{% set l = range(20000) | list %}{% for i in range(19000) %}{{ 19999 in l }}{% endfor %}");
    s_expect_limit ("{{ 'x' * 100000000 }}");
    s_expect_limit ("{% set ns = namespace(s='ab') %}{% for i in range(30) %}{% set ns.s = ns.s + ns.s %}{% endfor %}");
}

int
main (int argc, char **argv)
{
    const char *dir = argc > 1? argv [1]: "tests/templates/data";
    s_state = argc > 2? strtoull (argv [2], NULL, 0): 0x5eed2026;
    int scale = argc > 3? atoi (argv [3]): 1;
    json_error_t json_error;
    s_context = json_loads (
        "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"Hi 😀\"},"
        " {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"abcdefghi\", \"type\": \"function\","
        " \"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1.5}}}]},"
        " {\"role\": \"tool\", \"tool_call_id\": \"abcdefghi\", \"content\": \"42\"},"
        " {\"role\": \"user\", \"content\": \"{{ x }}\"}],"
        " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\"}}}],"
        " \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}", 0, &json_error);
    CHECK (s_context);
    char *sources [64];
    int nsources = s_load (dir, sources, 64);
    CHECK (nsources > 5);

    int64_t start = zclock_mono ();
    for (int round = 0; round < 1000 * scale; round++) {
        size_t size;
        char *text = s_random_bytes (&size);
        s_try (text, size);
        free (text);
        text = s_token_soup (&size);
        s_try (text, size);
        free (text);
    }
    for (int round = 0; round < 2000 * scale; round++) {
        size_t size;
        char *text = s_mutate (sources [s_below ((size_t) nsources)], &size);
        s_try (text, size);
        if (round % 8 == 0)
            s_try_chat (text);
        free (text);
    }
    fprintf (stderr, "  %d cases in %lld ms: %zu rendered, %zu syntax, %zu unsupported, %zu raised, "
             "%zu runtime, %zu limit\n", 4000 * scale, (long long) (zclock_mono () - start),
             s_counts [0], s_counts [1], s_counts [2], s_counts [3], s_counts [4], s_counts [5]);
    RUN (test_limits_hold);
    for (int index = 0; index < nsources; index++)
        free (sources [index]);
    json_decref (s_context);
    return 0;
}
