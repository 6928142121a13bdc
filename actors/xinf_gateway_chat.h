/*  xinf_gateway_chat: what the gateway knows of a model from LIST_MODELS
    (state, context, chat template, special tokens), and chats rendered
    with the model's template (models/xinf_chat_template.h).
*/
#ifndef XINF_GATEWAY_CHAT_H_INCLUDED
#define XINF_GATEWAY_CHAT_H_INCLUDED

#include "xinf_gateway_private.h"

typedef struct {
    const char *uid;
    const char *state;                //  "loading", "ready", "failed", "stopped"
    const char *chat_template;        //  NULL when the file has none
    const char *bos_token, *eos_token;
    const char *fim_prefix, *fim_suffix, *fim_middle;    //  NULL when the model has none
    const char *fim_repo, *fim_file_sep;                 //  the repository-level pattern's, or NULL
    uint64_t context_length;          //  0 when not known yet
    const xinf_value_t *entry;        //  the whole LIST_MODELS entry
    const char *lora;                 //  found by a LoRA adapter's name: that name (uid is its model's), else NULL
} xinf_gw_chat_model_t;

//  Finds 'uid' in a LIST_MODELS_REPLY (strings borrowed from 'msg'), or
//  the model of a LoRA adapter called 'uid' (model->lora set; a request
//  names an adapter as its model, as vLLM's); -1 with the 404 (or a 502
//  for a malformed reply) in 'error'.
int xinf_gw_chat_model_find (xinf_msg_t *msg, const char *uid, xinf_gw_chat_model_t *model, xinf_gw_error_t *error);
//  The one model of the reply that generates (not stopping, pooling
//  none), for llama-server's clients, which name none; -1 with a 400 when
//  there is none or several (a 502 for a malformed reply).
int xinf_gw_chat_model_only (xinf_msg_t *msg, xinf_gw_chat_model_t *model, xinf_gw_error_t *error);
//  The name of the model's LoRA adapter 'id' (llama-server's index, in
//  LAUNCH lora_modules' order) into 'name'; -1 with a 400 naming the
//  field when it has no such adapter, or when found by an adapter's name
//  (a second adapter).
int xinf_gw_chat_model_lora (const xinf_gw_chat_model_t *model, int id, char *name, size_t size,
                             xinf_gw_error_t *error);
//  The models of a LIST_MODELS_REPLY as OpenAI's model objects.
json_t *xinf_gw_chat_model_json (const xinf_gw_chat_model_t *model);
//  Reads entry 'index' of the reply's models; false past the end or when malformed.
bool xinf_gw_chat_model_at (xinf_msg_t *msg, size_t index, xinf_gw_chat_model_t *model);
//  Renders the chat of 'oai' (messages, tools, tool_choice); NULL with a
//  400 (the template refused it) in 'error'. A template that renders no
//  tools gets them in a system message (xinf_gw_tools_fallback) and
//  *fallback is set; DeepSeek's (which render calls and results, not
//  tools) get them described in DeepSeek's format instead
//  (xinf_gw_tools_described; R1's, which join arguments to strings, with
//  the arguments as JSON text), *fallback unset, unless the template
//  refuses that too. Warnings (a fallback) are logged once per model uid
//  in 'warned'.
char *xinf_gw_chat_render (zhashx_t *warned, const xinf_gw_chat_model_t *model, const xinf_gw_oai_t *oai,
                           bool add_generation_prompt, bool *fallback, xinf_gw_error_t *error);

//  A completion's prompt with a suffix as the model's fill-in-the-middle
//  prompt, [context] <PRE> prompt <SUF> suffix <MID> (the order
//  Qwen2.5-Coder, CodeLlama and llama-server's /infill use; the context
//  only for /infill: oai->fim_chunks in its repository pattern where the
//  model has those tokens, else after snippet separators); NULL with a 400 in 'error' when the model has no such
//  tokens, a 503 while it is not ready (they are known once a replica
//  is).
char *xinf_gw_chat_fim (const xinf_gw_chat_model_t *model, const xinf_gw_oai_t *oai, xinf_gw_error_t *error);

#endif
