/*  xinf_chat_template: the chat API on the Jinja interpreter: the context
    Hugging Face gives a template, the built-in templates (Jinja sources
    rendered by the same interpreter) and the fallback rules.
*/
#include "xinf_chat_template.h"
#include "xinf_jinja.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Content that is not a string (null with tool calls, lists of parts)
//  renders as empty in the built-ins rather than failing.
#define CONTENT "{%- set content = message.content if message.content is string else '' %}"

static const struct {
    const char *name;
    const char *source;
} s_builtins [] = {
    { "chatml",
      "{%- for message in messages %}" CONTENT
      "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}" },
    { "llama3",
      "{{- bos_token }}"
      "{%- for message in messages %}" CONTENT
      "{{- '<|start_header_id|>' + message.role + '<|end_header_id|>\\n\\n' + content | trim + '<|eot_id|>' }}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}" },
    { "llama2",
      "{%- set ns = namespace(system='') %}"
      "{%- for message in messages %}" CONTENT
      "{%- if message.role == 'system' %}{%- set ns.system = '<<SYS>>\\n' + content + '\\n<</SYS>>\\n\\n' %}"
      "{%- elif message.role == 'user' %}{{- bos_token + '[INST] ' + ns.system + content | trim + ' [/INST]' }}"
      "{%- set ns.system = '' %}"
      "{%- elif message.role == 'assistant' %}{{- ' ' + content | trim + ' ' + eos_token }}{%- endif %}"
      "{%- endfor %}" },
    { "mistral",
      "{{- bos_token }}{%- set ns = namespace(system='') %}"
      "{%- for message in messages %}" CONTENT
      "{%- if message.role == 'system' %}{%- set ns.system = content + '\\n\\n' %}"
      "{%- elif message.role == 'user' %}{{- '[INST] ' + ns.system + content + '[/INST]' }}{%- set ns.system = '' %}"
      "{%- elif message.role == 'assistant' %}{{- ' ' + content + eos_token }}{%- endif %}"
      "{%- endfor %}" },
    { "gemma",
      "{{- bos_token }}{%- set ns = namespace(system='') %}"
      "{%- for message in messages %}" CONTENT
      "{%- if message.role == 'system' %}{%- set ns.system = content | trim + '\\n\\n' %}"
      "{%- else %}{{- '<start_of_turn>' + ('model' if message.role == 'assistant' else message.role) + '\\n'"
      " + ns.system + content | trim + '<end_of_turn>\\n' }}{%- set ns.system = '' %}{%- endif %}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}" },
    { "glm4",           //  llama.cpp's chatglm4: [gMASK]<sop>, then <|role|>\n and the content
      "{{- '[gMASK]<sop>' }}"
      "{%- for message in messages %}" CONTENT
      "{{- '<|' + message.role + '|>\n' + content }}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- '<|assistant|>\n' }}{%- endif %}" },
    { "harmony",        //  llama.cpp's gpt-oss: the messages with their roles, past answers final ones
      "{%- for message in messages %}" CONTENT
      "{%- if message.role == 'assistant' %}{{- '<|start|>assistant<|channel|>final<|message|>' + content + '<|end|>' }}"
      "{%- else %}{{- '<|start|>' + message.role + '<|message|>' + content + '<|end|>' }}{%- endif %}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- '<|start|>assistant' }}{%- endif %}" },
    { "phi3",
      "{%- for message in messages %}" CONTENT
      "{{- '<|' + message.role + '|>\\n' + content + '<|end|>\\n' }}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- else %}{{- eos_token }}{%- endif %}" },
};

const char *
xinf_chat_template_builtin (const char *name)
{
    for (size_t index = 0; name && index < sizeof s_builtins / sizeof s_builtins [0]; index++)
        if (strcmp (s_builtins [index].name, name) == 0)
            return s_builtins [index].source;
    return NULL;
}

const char *
xinf_chat_template_resembles (const char *source)
{
    static const struct { const char *marker, *name; } markers [] = {
        { "<|im_start|>", "chatml" }, { "<|start_header_id|>", "llama3" }, { "<<SYS>>", "llama2" },
        { "[INST]", "mistral" }, { "<start_of_turn>", "gemma" }, { "[gMASK]", "glm4" }, { "<|user|>", "phi3" },
        { "<|channel|>", "harmony" }, { "<|end|>", "phi3" }
    };
    for (size_t index = 0; source && index < sizeof markers / sizeof markers [0]; index++)
        if (strstr (source, markers [index].marker))
            return markers [index].name;
    return "chatml";
}

static char *
s_printf (const char *format, const char *a, const char *b)
{
    size_t size = strlen (format) + strlen (a) + strlen (b) + 1;
    char *text = malloc (size);
    if (text)
        snprintf (text, size, format, a, b);
    return text;
}

//  messages must be an array of objects; tools an array or nothing.
static char *
s_check_input (json_t *messages, json_t *tools)
{
    if (!json_is_array (messages))
        return strdup ("messages must be an array");
    for (size_t index = 0; index < json_array_size (messages); index++)
        if (!json_is_object (json_array_get (messages, index))) {
            char text [64];
            snprintf (text, sizeof text, "messages[%zu] is not an object", index);
            return strdup (text);
        }
    if (tools && !json_is_array (tools) && !json_is_null (tools))
        return strdup ("tools must be an array");
    return NULL;
}

static json_t *
s_context (json_t *messages, json_t *tools, const char *bos, const char *eos,
           bool add_generation_prompt, json_t *kwargs)
{
    json_t *context = json_object ();
    if (json_is_object (kwargs))
        json_object_update (context, kwargs);
    json_object_set (context, "messages", messages);
    json_object_set_new (context, "tools", tools && json_is_array (tools)? json_incref (tools): json_null ());
    json_object_set_new (context, "documents", json_null ());
    json_object_set_new (context, "add_generation_prompt", json_boolean (add_generation_prompt));
    json_object_set_new (context, "bos_token", json_string (bos? bos: ""));
    json_object_set_new (context, "eos_token", json_string (eos? eos: ""));
    return context;
}

static bool
s_unusable (xinf_jinja_status_t status)
{
    return status == XINF_JINJA_ESYNTAX || status == XINF_JINJA_EUNSUPPORTED;
}

//  Renders source; on success or a client error returns; *unusable tells
//  the caller to fall back, with *why set.
static char *
s_render (const char *source, json_t *context, time_t now, bool *unusable, char **why, char **error)
{
    xinf_jinja_status_t status;
    char *message = NULL;
    *unusable = false;
    xinf_jinja_t *template = xinf_jinja_new (source, strlen (source), &status, &message);
    if (!template) {
        *unusable = true;
        *why = message;
        return NULL;
    }
    xinf_jinja_limits_t limits = xinf_jinja_limits_default ();
    limits.now = now;
    char *text = xinf_jinja_render (template, context, &limits, &status, &message);
    xinf_jinja_destroy (&template);
    if (text)
        return text;
    if (s_unusable (status)) {
        *unusable = true;
        *why = message;
        return NULL;
    }
    if (status == XINF_JINJA_ERAISED)
        *error = message;
    else {
        *error = s_printf ("chat template: %s%s", message? message: "failed", "");
        free (message);
    }
    return NULL;
}

char *
xinf_chat_template_apply_ex (const char *template_source, json_t *messages, json_t *tools,
                             const char *bos_token, const char *eos_token,
                             bool add_generation_prompt, json_t *kwargs, time_t now,
                             char **warning, char **error)
{
    if (warning)
        *warning = NULL;
    *error = s_check_input (messages, tools);
    if (*error)
        return NULL;
    json_t *context = s_context (messages, tools, bos_token, eos_token, add_generation_prompt, kwargs);
    const char *source = template_source? template_source: xinf_chat_template_builtin ("chatml");
    bool unusable;
    char *why = NULL;
    char *text = s_render (source, context, now, &unusable, &why, error);
    if (unusable) {
        const char *name = xinf_chat_template_resembles (template_source);
        if (warning)
            *warning = s_printf ("chat template not usable (%s); using the built-in '%s' template",
                                 why? why: "unknown reason", name);
        free (why);
        why = NULL;
        text = s_render (xinf_chat_template_builtin (name), context, now, &unusable, &why, error);
        if (unusable) {
            *error = s_printf ("built-in template failed: %s%s", why? why: "", "");
            free (why);
        }
    }
    json_decref (context);
    return text;
}

char *
xinf_chat_template_apply (const char *template_source, json_t *messages, json_t *tools,
                          const char *bos_token, const char *eos_token,
                          bool add_generation_prompt, char **warning, char **error)
{
    return xinf_chat_template_apply_ex (template_source, messages, tools, bos_token, eos_token,
                                        add_generation_prompt, NULL, 0, warning, error);
}
