/*  test_chat_template: the chat API (xinf_chat_template_apply): the
    context a template sees, raise_exception as the client's error, input
    checks, the fallbacks to built-ins (with a warning) for templates that
    do not parse or use what the interpreter lacks, and that runtime errors
    and limits are errors, not fallbacks. The stock templates' texts are
    checked against jinja2 by templates_reference.
*/
#include "test_unit.h"
#include "xinf_chat_template.h"

static char *s_data_dir;

static json_t *
s_json (const char *text)
{
    json_error_t error;
    json_t *json = json_loads (text, 0, &error);
    CHECK (json);
    return json;
}

static char *
s_read (const char *name)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/%s", s_data_dir, name);
    FILE *file = fopen (path, "rb");
    CHECK (file);
    char *text = calloc (1, 1 << 20);
    size_t n = fread (text, 1, (1 << 20) - 1, file);
    text [n] = 0;
    fclose (file);
    return text;
}

//  Applies source to messages (JSON text); returns the prompt or NULL.
static char *
s_apply (const char *source, const char *messages, const char *tools, bool add_generation_prompt,
         char **warning, char **error)
{
    json_t *json_messages = s_json (messages);
    json_t *json_tools = tools? s_json (tools): NULL;
    char *text = xinf_chat_template_apply (source, json_messages, json_tools, "<s>", "</s>",
                                           add_generation_prompt, warning, error);
    json_decref (json_messages);
    json_decref (json_tools);
    return text;
}

static const char *s_chat = "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
                            " {\"role\": \"user\", \"content\": \"Hi\"}]";

static void
test_no_template_is_chatml (void)
{
    char *warning = NULL, *error = NULL;
    char *text = s_apply (NULL, s_chat, NULL, true, &warning, &error);
    CHECK_STR (text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    CHECK (warning == NULL);
    CHECK (error == NULL);
    free (text);
}

static void
test_context (void)
{
    char *warning = NULL, *error = NULL;
    const char *source = "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}|"
                         "{{ documents }}|{{ messages | length }}|{{ tools is defined }}";
    char *text = s_apply (source, s_chat, NULL, false, &warning, &error);
    CHECK_STR (text, "<s>|</s>|False|None|None|2|True");
    free (text);
    text = s_apply ("{{ tools[0].function.name }}", s_chat,
                    "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]", true, &warning, &error);
    CHECK_STR (text, "f");
    free (text);
    //  Extra keyword arguments, and a fixed clock for strftime_now.
    json_t *messages = s_json (s_chat);
    json_t *kwargs = s_json ("{\"enable_thinking\": false}");
    text = xinf_chat_template_apply_ex ("{{ enable_thinking }} {{ strftime_now('%Y-%m') }}", messages, NULL,
                                        "", "", true, kwargs, 1767268800, &warning, &error);
    CHECK (text && strncmp (text, "False 2026-01", 13) == 0);
    free (text);
    json_decref (kwargs);
    json_decref (messages);
}

static void
test_raise_exception_is_an_error (void)
{
    char *source = s_read ("google-gemma-2-2b-it.jinja");
    char *warning = NULL, *error = NULL;
    char *text = s_apply (source, s_chat, NULL, true, &warning, &error);
    CHECK (text == NULL);
    CHECK (warning == NULL);
    CHECK_STR (error, "System role not supported");
    free (error);
    free (source);

    source = s_read ("mistralai-Mistral-Nemo-Instruct-2407.jinja");
    text = s_apply (source, "[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}]",
                    NULL, true, &warning, &error);
    CHECK (text == NULL);
    CHECK_HAS (error, "conversation roles must alternate");
    free (error);
    free (source);
}

static void
test_bad_input (void)
{
    char *warning = NULL, *error = NULL;
    CHECK (s_apply (NULL, "{\"role\": \"user\"}", NULL, true, &warning, &error) == NULL);
    CHECK_STR (error, "messages must be an array");
    free (error);
    CHECK (s_apply (NULL, "[{\"role\": \"user\", \"content\": \"x\"}, 5]", NULL, true, &warning, &error) == NULL);
    CHECK_STR (error, "messages[1] is not an object");
    free (error);
    CHECK (s_apply (NULL, s_chat, "{\"a\": 1}", true, &warning, &error) == NULL);
    CHECK_STR (error, "tools must be an array");
    free (error);
    //  A template failing on the client's data is the client's error, not a fallback.
    CHECK (s_apply ("{{ messages[0].content + 1 }}", s_chat, NULL, true, &warning, &error) == NULL);
    CHECK (warning == NULL);
    CHECK_HAS (error, "chat template: line 1: can only concatenate str");
    free (error);
    //  The built-ins take content that is not a string (tool calls) as empty.
    char *text = s_apply (NULL, "[{\"role\": \"user\", \"content\": null}]", NULL, true, &warning, &error);
    CHECK_STR (text, "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n");
    free (text);
}

static void
expect_fallback (const char *source, const char *name, const char *reason)
{
    char *warning = NULL, *error = NULL;
    char *text = s_apply (source, s_chat, NULL, true, &warning, &error);
    CHECK (text != NULL);
    CHECK (error == NULL);
    char expected [64];
    snprintf (expected, sizeof expected, "using the built-in '%s' template", name);
    CHECK_HAS (warning, expected);
    CHECK_HAS (warning, reason);
    //  The fallback renders as the built-in itself does.
    char *warning2 = NULL;
    char *builtin = s_apply (xinf_chat_template_builtin (name), s_chat, NULL, true, &warning2, &error);
    CHECK_STR (text, builtin);
    CHECK (warning2 == NULL);
    free (builtin);
    free (text);
    free (warning);
}

static void
test_fallbacks (void)
{
    expect_fallback ("<|im_start|>{% if %}", "chatml", "line 1: expected an expression");
    expect_fallback ("<|start_header_id|>\n{% include 'tools.jinja' %}", "llama3", "unsupported statement 'include'");
    expect_fallback ("[INST] <<SYS>>{{ x | wordcount }}", "llama2", "no filter named 'wordcount'");
    expect_fallback ("[INST]{% for m in messages %}{{ m.content.zfill(4) }}{% endfor %}", "mistral", "not supported");
    expect_fallback ("<start_of_turn>{% raw %}{% endraw %}", "gemma", "unsupported statement 'raw'");
    expect_fallback ("<|user|>{% call x() %}{% endcall %}", "phi3", "unsupported statement 'call'");
    //  GLM-4's template has <|user|> too: [gMASK] says it is GLM-4's
    expect_fallback ("[gMASK]<sop><|user|>{% call x() %}{% endcall %}", "glm4", "unsupported statement 'call'");
    char *warning = NULL, *error = NULL;
    char *glm4 = s_apply (xinf_chat_template_builtin ("glm4"), s_chat, NULL, true, &warning, &error);
    CHECK (glm4 && !warning && !error && strncmp (glm4, "[gMASK]<sop><|system|>\nBe brief.<|user|>\n", 38) == 0);
    CHECK (strlen (glm4) > 14 && strcmp (glm4 + strlen (glm4) - 14, "<|assistant|>\n") == 0);
    free (glm4);
    //  GPT-OSS's template has <|end|> too (Phi-3's marker): <|channel|> says it is harmony
    expect_fallback ("<|start|>{% call x() %}{% endcall %}<|channel|><|message|><|end|>", "harmony",
                     "unsupported statement 'call'");
    char *harmony = s_apply (xinf_chat_template_builtin ("harmony"), s_chat, NULL, true, &warning, &error);
    CHECK (harmony && !warning && !error && strncmp (harmony, "<|start|>system<|message|>Be brief.<|end|>", 42) == 0);
    CHECK (strlen (harmony) > 18 && strcmp (harmony + strlen (harmony) - 18, "<|start|>assistant") == 0);
    free (harmony);
    expect_fallback ("{{ unknown_marker | xyz }}", "chatml", "no filter named 'xyz'");
    CHECK_STR (xinf_chat_template_resembles ("<|im_start|>"), "chatml");
    CHECK (xinf_chat_template_builtin ("nope") == NULL);
}

static void
test_limits_are_errors (void)
{
    //  A chat whose prompt is over the output limit: an error, not a fallback.
    size_t size = 9 * 1024 * 1024;
    char *content = malloc (size + 1);
    memset (content, 'x', size);
    content [size] = 0;
    json_t *messages = json_pack ("[{s:s, s:s}]", "role", "user", "content", content);
    char *warning = NULL, *error = NULL;
    char *text = xinf_chat_template_apply (NULL, messages, NULL, "", "", true, &warning, &error);
    CHECK (text == NULL);
    CHECK (warning == NULL);
    CHECK_HAS (error, "limit");
    free (error);
    json_decref (messages);
    free (content);
}

int
main (int argc, char **argv)
{
    s_data_dir = argc > 1? argv [1]: "tests/templates/data";
    RUN (test_no_template_is_chatml);
    RUN (test_context);
    RUN (test_raise_exception_is_an_error);
    RUN (test_bad_input);
    RUN (test_fallbacks);
    RUN (test_limits_are_errors);
    return 0;
}
