/*  xinf_chat_template: turns an OpenAI-style chat into a prompt with the
    model's own chat template (a GGUF's tokenizer.chat_template), rendered
    by xinf_jinja exactly as Hugging Face's apply_chat_template does.

    The template sees: messages, tools (the array, or none), documents
    (none), add_generation_prompt, bos_token, eos_token and any extra
    keyword arguments (enable_thinking, date_string, ...).

    When the template cannot be used (it does not parse, or it uses a
    feature the interpreter lacks), the built-in it resembles most is used
    instead (chatml, llama3, llama2, mistral, gemma, phi3) and a warning
    says so. When the template refuses the chat (raise_exception), or the
    input is malformed, the result is NULL with an error for the client.
*/
#ifndef XINF_CHAT_TEMPLATE_H_INCLUDED
#define XINF_CHAT_TEMPLATE_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

//  Renders a chat with the model's template. messages: a JSON array of
//  objects {role, content, ...}; tools: a JSON array or NULL. bos_token and
//  eos_token: the vocabulary's strings ("" when none). template_source NULL
//  (the file has none): ChatML. A template that cannot be parsed or uses a
//  feature the interpreter lacks: the built-in it resembles most (a named
//  one: chatml, llama3, llama2, mistral, gemma, phi3, qwen...), and
//  *warning is set (heap string, caller frees) naming the fallback and why.
//  Returns the prompt (heap string, caller frees), or NULL with *error set
//  (heap string) when the template itself refuses the chat via
//  raise_exception (e.g. roles must alternate) or the input is invalid:
//  that is the client's error (HTTP 400), not a reason to fall back.
char *xinf_chat_template_apply (const char *template_source, json_t *messages, json_t *tools,
                                const char *bos_token, const char *eos_token,
                                bool add_generation_prompt, char **warning, char **error);

//  The same with extra template variables (a JSON object or NULL), e.g.
//  {"enable_thinking": false}, and strftime_now's time (0: the clock).
char *xinf_chat_template_apply_ex (const char *template_source, json_t *messages, json_t *tools,
                                   const char *bos_token, const char *eos_token,
                                   bool add_generation_prompt, json_t *kwargs, time_t now,
                                   char **warning, char **error);

//  The Jinja source of a built-in template ("chatml", "llama3", "llama2",
//  "mistral", "gemma", "glm4", "harmony", "phi3"), or NULL.
const char *xinf_chat_template_builtin (const char *name);

//  The name of the built-in a template resembles most.
const char *xinf_chat_template_resembles (const char *template_source);

#endif
