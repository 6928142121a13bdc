/*  xinf_gateway_chat: models as LIST_MODELS reports them, and chat
    rendering with the model's GGUF template.  */
#include "xinf_gateway_chat.h"
#include "xinf_chat_template.h"
#include "xinf_gateway_tools.h"
#include "xinf_gateway_toolcalls.h"

//  A string field of a model entry, or 'otherwise' when absent or not a string.
static const char *
s_str (const xinf_value_t *entry, const char *key, const char *otherwise)
{
    const xinf_value_t *value = xinf_map_get (entry, key);
    return xinf_value_type (value) == XINF_STR ? xinf_value_str (value) : otherwise;
}

bool
xinf_gw_chat_model_at (xinf_msg_t *msg, size_t index, xinf_gw_chat_model_t *model)
{
    const xinf_value_t *models = xinf_map_get (xinf_msg_body (msg), "models");
    if (xinf_value_type (models) != XINF_ARRAY || index >= xinf_value_count (models))
        return false;
    const xinf_value_t *entry = xinf_array_at (models, index);
    memset (model, 0, sizeof *model);
    model->entry = entry;
    model->uid = s_str (entry, "uid", NULL);
    model->state = s_str (entry, "state", "unknown");
    model->chat_template = s_str (entry, "chat_template", NULL);
    model->bos_token = s_str (entry, "bos_token", "");
    model->eos_token = s_str (entry, "eos_token", "");
    model->fim_prefix = s_str (entry, "fim_prefix_token", NULL);
    model->fim_repo = s_str (entry, "fim_repo_token", NULL);
    model->fim_file_sep = s_str (entry, "fim_file_sep_token", NULL);
    model->fim_suffix = s_str (entry, "fim_suffix_token", NULL);
    model->fim_middle = s_str (entry, "fim_middle_token", NULL);
    const xinf_value_t *context = xinf_map_get (entry, "context_length");
    model->context_length = xinf_value_type (context) == XINF_UINT ? xinf_value_uint (context) : 0;
    return xinf_value_type (entry) == XINF_MAP && model->uid != NULL;
}

int
xinf_gw_chat_model_only (xinf_msg_t *msg, xinf_gw_chat_model_t *model, xinf_gw_error_t *error)
{
    if (xinf_msg_is (msg, "ERROR") || !xinf_msg_is (msg, "LIST_MODELS_REPLY"))
        return xinf_gw_chat_model_find (msg, "", model, error);     //  its 502
    size_t found = 0, at = 0;
    for (size_t index = 0; xinf_gw_chat_model_at (msg, index, model); index++) {
        const char *pooling = s_str (model->entry, "pooling", "none");
        if ((streq (model->state, "ready") || streq (model->state, "loading")) && streq (pooling, "none")) {
            found++;
            at = index;
        }
    }
    if (found == 1 && xinf_gw_chat_model_at (msg, at, model))
        return 0;
    return xinf_gw_error_bad (error, "model", found ? "is required: %zu models generate here (GET /v1/models lists "
                              "them)" : "is required: no model that generates is launched", found);
}

int
xinf_gw_chat_model_find (xinf_msg_t *msg, const char *uid, xinf_gw_chat_model_t *model, xinf_gw_error_t *error)
{
    if (xinf_msg_is (msg, "ERROR") || !xinf_msg_is (msg, "LIST_MODELS_REPLY")) {
        const char *text = s_str (xinf_msg_body (msg), "message", xinf_msg_type (msg));
        xinf_gw_error_set (error, 502, "server_error", "bad_gateway", NULL, "the supervisor answered %s: %s",
                           xinf_msg_type (msg), text);
        return -1;
    }
    //  A terminated model whose workers are still unloading it is gone
    //  for the OpenAI API (the management views still show it)
    for (size_t index = 0; xinf_gw_chat_model_at (msg, index, model); index++)
        if (streq (model->uid, uid) && !streq (model->state, "stopping"))
            return 0;
    for (size_t index = 0; *uid && xinf_gw_chat_model_at (msg, index, model); index++) {
        const xinf_value_t *adapters = xinf_map_get (model->entry, "lora_modules");
        for (size_t k = 0; !streq (model->state, "stopping") && k < xinf_value_count (adapters); k++)
            if (xinf_value_type (xinf_array_at (adapters, k)) == XINF_STR
            &&  streq (xinf_value_str (xinf_array_at (adapters, k)), uid)) {
                model->lora = xinf_value_str (xinf_array_at (adapters, k));
                return 0;
            }
    }
    xinf_gw_error_set (error, 404, "invalid_request_error", "model_not_found", "model",
                       "The model '%s' does not exist (GET /v1/models lists them)", uid);
    return -1;
}

int
xinf_gw_chat_model_lora (const xinf_gw_chat_model_t *model, int id, char *name, size_t size, xinf_gw_error_t *error)
{
    const xinf_value_t *adapters = xinf_map_get (model->entry, "lora_modules");
    if (model->lora)
        return xinf_gw_error_bad (error, "lora", "the model named is an adapter already (%s): give one of the two",
                                  model->lora);
    if (id < 0 || (size_t) id >= xinf_value_count (adapters)
    ||  xinf_value_type (xinf_array_at (adapters, (size_t) id)) != XINF_STR)
        return xinf_gw_error_bad (error, "lora", "adapter id %d: model %s has %zu LoRA adapters (GET /lora-adapters "
                                  "lists them)", id, model->uid, xinf_value_count (adapters));
    snprintf (name, size, "%s", xinf_value_str (xinf_array_at (adapters, (size_t) id)));
    return 0;
}

//  Xinference's description of a model, which its Python client and
//  Dify's Xinference provider read to choose how to call it: model_type
//  "embedding" (a file that pools its embeddings: dimensions, max_tokens),
//  "rerank" (pooling rank) or "LLM" (model_ability generate and chat, and tools when the chat
//  template takes tools); model_format ggufv2, model_name its uid.
static void
s_describe (const xinf_gw_chat_model_t *model, json_t *object)
{
    const char *pooling = s_str (model->entry, "pooling", "none");
    bool embedding = streq (pooling, "mean") || streq (pooling, "last"), rerank = streq (pooling, "rank");
    json_object_set_new (object, "model_type", json_string (embedding ? "embedding" : rerank ? "rerank" : "LLM"));
    json_object_set_new (object, "model_format", json_string ("ggufv2"));
    json_object_set_new (object, "model_name", xinf_gw_json_text (model->uid, strlen (model->uid)));
    if (rerank)
        return;
    if (embedding) {
        json_object_set_new (object, "dimensions", json_integer ((json_int_t) xinf_value_uint (
                                                                  xinf_map_get (model->entry, "dim"))));
        json_object_set_new (object, "max_tokens", json_integer ((json_int_t) model->context_length));
        return;
    }
    json_t *ability = json_pack ("[ss]", "generate", "chat");
    bool tools = false;
    if (model->chat_template && xinf_gw_tools_describes (xinf_gw_tool_format_of (model->chat_template, &tools)))
        tools = true;                 //  DeepSeek's: described in its own format
    if (tools)
        json_array_append_new (ability, json_string ("tools"));
    json_object_set_new (object, "model_ability", ability);
}

json_t *
xinf_gw_chat_model_json (const xinf_gw_chat_model_t *model)
{
    json_t *object = json_object ();
    const char *id = model->lora ? model->lora : model->uid;
    json_object_set_new (object, "id", xinf_gw_json_text (id, strlen (id)));
    if (model->lora) {                //  vLLM's form of an adapter: its base model is its parent
        json_object_set_new (object, "parent", xinf_gw_json_text (model->uid, strlen (model->uid)));
        json_object_set_new (object, "lora", json_true ());
    }
    json_object_set_new (object, "object", json_string ("model"));
    json_object_set_new (object, "created", json_integer (0));
    json_object_set_new (object, "owned_by", json_string ("xinf"));
    json_object_set_new (object, "status", xinf_gw_json_text (model->state, strlen (model->state)));
    if (model->context_length)
        json_object_set_new (object, "context_length", json_integer ((json_int_t) model->context_length));
    const char *keys [] = { "arch", "type", "path", "kv_cache_dtype" };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++) {
        const char *value = s_str (model->entry, keys [index], NULL);
        if (value)
            json_object_set_new (object, keys [index], xinf_gw_json_text (value, strlen (value)));
    }
    s_describe (model, object);
    return object;
}

//  The tools the template sees: none for tool_choice "none", only the
//  named one for a forced function.
static json_t *
s_template_tools (const xinf_gw_oai_t *oai)
{
    if (!oai->tools || oai->tool_choice == XINF_GW_TOOL_CHOICE_NONE)
        return NULL;
    if (oai->tool_choice != XINF_GW_TOOL_CHOICE_FUNCTION)
        return json_incref (oai->tools);
    json_t *only = json_array ();
    for (size_t index = 0; index < json_array_size (oai->tools); index++) {
        json_t *tool = json_array_get (oai->tools, index);
        const char *name = json_string_value (json_object_get (json_object_get (tool, "function"), "name"));
        if (name && streq (name, oai->tool_choice_name))
            json_array_append (only, tool);
    }
    return only;
}

//  True when a message carries tool calls or is a tool result.
static bool
s_has_tool_messages (json_t *messages)
{
    for (size_t index = 0; index < json_array_size (messages); index++) {
        json_t *message = json_array_get (messages, index);
        const char *role = json_string_value (json_object_get (message, "role"));
        if (json_object_get (message, "tool_calls") || (role && streq (role, "tool")))
            return true;
    }
    return false;
}

//  Logs 'text' once per model uid.
static void
s_warn_once (zhashx_t *warned, const char *uid, const char *kind, const char *text)
{
    char key [XINF_GW_UID_MAX + 16];
    snprintf (key, sizeof key, "%s/%s", kind, uid);
    if (zhashx_lookup (warned, key))
        return;
    xinf_warn ("gateway", "chat template of model=%s: %s", uid, text);
    if (zhashx_size (warned) < 10000)
        zhashx_insert (warned, key, (void *) 1);
}

//  The messages and tools for a template that renders no tools.
static void
s_use_fallback (zhashx_t *warned, const char *uid, json_t **messages, json_t **tools)
{
    s_warn_once (warned, uid, "tools", "it renders no tools: they are described in a system message "
                 "and the model is asked for <tool_call> blocks (Hermes format)");
    json_t *rewritten = xinf_gw_tools_fallback (*messages, *tools);
    json_decref (*messages);
    json_decref (*tools);
    *messages = rewritten;
    *tools = NULL;
}

//  Renders with the model's template; NULL with *reason when it refuses.
static char *
s_apply (const xinf_gw_chat_model_t *model, const xinf_gw_oai_t *oai, json_t *messages, json_t *tools,
         bool add_generation_prompt, char **warning, char **reason)
{
    free (*warning);
    free (*reason);
    *warning = *reason = NULL;
    return xinf_chat_template_apply_ex (model->chat_template, messages, tools, model->bos_token, model->eos_token,
                                        add_generation_prompt, oai->template_kwargs, 0, warning, reason);
}

//  A DeepSeek template that renders no tools (or fails at it): they are
//  described in the system message in its own format (the template sees
//  none), calls (their turn's content null where it is empty: R1's
//  renders them only then) and results left to it; where it refuses
//  calls whose arguments are objects (R1's joins them to strings), again
//  with JSON text. NULL (reason set) when it still refuses.
static char *
s_render_described (zhashx_t *warned, const xinf_gw_chat_model_t *model, const xinf_gw_oai_t *oai,
                    xinf_gw_tool_format_t format, json_t *tools, bool add_generation_prompt, char **warning,
                    char **reason)
{
    s_warn_once (warned, model->uid, "described", "it renders no tools (or fails at it): they are described in a "
                 "system message in DeepSeek's own format");
    json_t *native = xinf_gw_tools_null_content (oai->messages);
    json_t *messages = tools ? xinf_gw_tools_described (native, tools, format) : json_incref (native);
    json_decref (native);
    char *prompt = s_apply (model, oai, messages, NULL, add_generation_prompt, warning, reason);
    if (!prompt || *warning) {
        free (prompt);
        json_t *strings = xinf_gw_tools_string_arguments (messages);
        prompt = s_apply (model, oai, strings, NULL, add_generation_prompt, warning, reason);
        json_decref (strings);
    }
    json_decref (messages);
    return prompt;
}

char *
xinf_gw_chat_render (zhashx_t *warned, const xinf_gw_chat_model_t *model, const xinf_gw_oai_t *oai,
                     bool add_generation_prompt, bool *fallback, xinf_gw_error_t *error)
{
    char *warning = NULL, *reason = NULL, *prompt = NULL;
    bool supports;
    xinf_gw_tool_format_t format = xinf_gw_tool_format_of (model->chat_template, &supports);
    json_t *tools = s_template_tools (oai);
    json_t *messages = json_incref (oai->messages);
    bool tool_use = tools || s_has_tool_messages (messages);
    bool described = !supports && tool_use && xinf_gw_tools_describes (format);
    *fallback = !supports && tool_use && !described;
    if (described)
        prompt = s_render_described (warned, model, oai, format, tools, add_generation_prompt, &warning, &reason);
    else {
        if (*fallback)
            s_use_fallback (warned, model->uid, &messages, &tools);
        prompt = s_apply (model, oai, messages, tools, add_generation_prompt, &warning, &reason);
    }
    if (!prompt && tools && !*fallback && !described && xinf_gw_tools_describes (format)) {
        //  A DeepSeek template whose own tools section fails (llama.cpp's
        //  R1 template in jinja2): the tools described instead
        described = true;
        free (reason);
        reason = NULL;
        prompt = s_render_described (warned, model, oai, format, tools, add_generation_prompt, &warning, &reason);
    }
    if ((warning || (described && !prompt)) && tool_use && !*fallback) {
        //  The template was not usable (a built-in without tools stood
        //  in), or refused DeepSeek's description: the fallback
        free (prompt);
        *fallback = true;
        s_use_fallback (warned, model->uid, &messages, &tools);
        prompt = s_apply (model, oai, messages, tools, add_generation_prompt, &warning, &reason);
    }
    json_decref (messages);
    json_decref (tools);
    if (warning)
        s_warn_once (warned, model->uid, "template", warning);
    free (warning);
    if (!prompt)
        xinf_gw_error_set (error, 400, "invalid_request_error", "invalid_chat", "messages",
                           "the model's chat template refused the messages: %s", reason ? reason : "(no reason)");
    free (reason);
    return prompt;
}

//  /infill's context before the prefix marker: llama-server's repository
//  pattern where the model has its tokens (the repository marker,
//  "myproject", each chunk after a file separator and its file name, a
//  last separator and "filename"), else each chunk after its snippet
//  separator.
static void
s_fim_context (const xinf_gw_chat_model_t *model, const xinf_gw_oai_t *oai, xinf_gw_buf_t *out)
{
    bool repository = model->fim_repo && model->fim_file_sep && *model->fim_repo && *model->fim_file_sep;
    if (repository) {
        xinf_gw_buf_add_str (out, model->fim_repo);
        xinf_gw_buf_add_str (out, "myproject\n");
    }
    size_t index;
    json_t *chunk;
    json_array_foreach (oai->fim_chunks, index, chunk) {
        const char *name = json_string_value (json_object_get (chunk, "filename"));
        const char *text = json_string_value (json_object_get (chunk, "text"));
        if (repository) {
            xinf_gw_buf_add_str (out, model->fim_file_sep);
            xinf_gw_buf_add_str (out, name ? name : "tmp");
            xinf_gw_buf_add_str (out, "\n");
        }
        else
            xinf_gw_buf_add_str (out, "\n\n--- snippet ---\n\n");
        xinf_gw_buf_add_str (out, text ? text : "");
    }
    if (repository) {
        xinf_gw_buf_add_str (out, model->fim_file_sep);
        xinf_gw_buf_add_str (out, "filename\n");
    }
}

char *
xinf_gw_chat_fim (const xinf_gw_chat_model_t *model, const xinf_gw_oai_t *oai, xinf_gw_error_t *error)
{
    bool markers = model->fim_prefix && model->fim_suffix && model->fim_middle
                && *model->fim_prefix && *model->fim_suffix && *model->fim_middle;
    if (!markers && !streq (model->state, "ready")) {    //  known once a replica is
        xinf_gw_error_from_code (error, "MODEL_NOT_READY", "the model is not ready yet: its fill-in-the-middle "
                                 "tokens are known once it is", 1000);
        return NULL;
    }
    if (!markers) {
        xinf_gw_error_bad (error, "suffix", "model '%s' has no fill-in-the-middle control tokens (<|fim_prefix|>, <PRE>, "
                           "...): a suffix needs a code model that has them", model->uid);
        return NULL;
    }
    xinf_gw_buf_t prompt = { 0 };
    if (oai->infill)
        s_fim_context (model, oai, &prompt);
    xinf_gw_buf_add_str (&prompt, model->fim_prefix);
    xinf_gw_buf_add (&prompt, oai->prompt, oai->prompt_size);
    xinf_gw_buf_add_str (&prompt, model->fim_suffix);
    xinf_gw_buf_add_str (&prompt, oai->suffix);
    xinf_gw_buf_add_str (&prompt, model->fim_middle);
    xinf_gw_buf_add (&prompt, "", 1);
    return prompt.data;
}
