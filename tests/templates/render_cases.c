/*  render_cases: renders chat-template cases with xinf_chat_template, for
    test_templates_reference.py to compare against jinja2.

        render_cases cases.json results.json
        render_cases --builtins sources.json

    cases.json: an array of {template, messages, tools, bos_token,
    eos_token, add_generation_prompt, kwargs, now}. results.json: one
    object per case, {"text": ...} or {"error": ...}, with "warning" when
    the template fell back to a built-in.
*/
#include "xinf_chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
s_render (json_t *item)
{
    json_t *result = json_object ();
    json_t *source = json_object_get (item, "template");
    json_t *tools = json_object_get (item, "tools");
    json_t *now = json_object_get (item, "now");
    char *warning = NULL, *error = NULL;
    char *text = xinf_chat_template_apply_ex (
        json_is_string (source)? json_string_value (source): NULL,
        json_object_get (item, "messages"), json_is_null (tools)? NULL: tools,
        json_string_value (json_object_get (item, "bos_token")),
        json_string_value (json_object_get (item, "eos_token")),
        json_is_true (json_object_get (item, "add_generation_prompt")),
        json_object_get (item, "kwargs"), json_is_integer (now)? (time_t) json_integer_value (now): 0,
        &warning, &error);
    if (text) {
        json_t *string = json_string (text);
        json_object_set_new (result, "text", string? string: json_string ("<invalid UTF-8 output>"));
    }
    else
        json_object_set_new (result, "error", json_string (error? error: "(no message)"));
    if (warning)
        json_object_set_new (result, "warning", json_string (warning));
    free (text);
    free (warning);
    free (error);
    return result;
}

//  --builtins out.json: the built-in templates' sources, by name.
static int
s_dump_builtins (const char *path)
{
    static const char *names [] = { "chatml", "llama3", "llama2", "mistral", "gemma", "glm4", "harmony", "phi3" };
    json_t *sources = json_object ();
    for (size_t index = 0; index < sizeof names / sizeof names [0]; index++)
        json_object_set_new (sources, names [index], json_string (xinf_chat_template_builtin (names [index])));
    int rc = json_dump_file (sources, path, 0);
    json_decref (sources);
    return rc == 0? 0: 1;
}

int
main (int argc, char **argv)
{
    if (argc == 3 && strcmp (argv [1], "--builtins") == 0)
        return s_dump_builtins (argv [2]);
    if (argc != 3) {
        fprintf (stderr, "usage: render_cases cases.json results.json\n");
        return 2;
    }
    json_error_t parse_error;
    json_t *cases = json_load_file (argv [1], 0, &parse_error);
    if (!json_is_array (cases)) {
        fprintf (stderr, "render_cases: %s: %s\n", argv [1], parse_error.text);
        return 2;
    }
    json_t *results = json_array ();
    for (size_t index = 0; index < json_array_size (cases); index++)
        json_array_append_new (results, s_render (json_array_get (cases, index)));
    int rc = json_dump_file (results, argv [2], 0);
    json_decref (results);
    json_decref (cases);
    return rc == 0? 0: 1;
}
