/*  xinf_lora_modules: the LoRA adapters a model is launched with (LAUNCH
    lora_modules, vLLM's --lora-modules NAME=PATH): each a name a request
    asks for (GENERATE lora, or an OpenAI request's model) and the adapter
    file, as the workers see it. They travel as an array of "NAME=PATH"
    strings from the client to the supervisor, to the workers (LOAD_MODEL,
    launch_options), to the replica (START, the paths resolved in the
    worker's model directories) and its executor (LOAD lora_paths).

    A name is 1 to 64 of A-Z a-z 0-9 . _ -, unique within the model; a path
    1 to 4095 bytes; at most 8 adapters a model.
*/
#ifndef XINF_LORA_MODULES_H_INCLUDED
#define XINF_LORA_MODULES_H_INCLUDED

#include "xinf.h"
#include "xinf_lora.h"

#define XINF_LORA_MODULES_MAX XINF_LORA_MAX_ADAPTERS
#define XINF_LORA_NAME_MAX    64
#define XINF_LORA_SPEC_MAX    (XINF_LORA_NAME_MAX + 1 + 4095 + 1)

typedef struct {
    char specs [XINF_LORA_MODULES_MAX][XINF_LORA_SPEC_MAX];    //  "NAME=PATH"
    size_t count;
} xinf_lora_modules_t;

//  Takes an array of "NAME=PATH" strings (NULL: none) into 'self', every
//  item checked; 0, or -1 with the reason naming field [i] ('field' is
//  the message's name for it) and 'self' emptied.
int xinf_lora_modules_take (xinf_lora_modules_t *self, const xinf_value_t *array, const char *field,
                            char *error, size_t error_size);
//  The adapters as an array of "NAME=PATH" (the caller destroys it).
xinf_value_t *xinf_lora_modules_array (const xinf_lora_modules_t *self);
//  The adapters' names as an array of strings (the caller destroys it).
xinf_value_t *xinf_lora_modules_names (const xinf_lora_modules_t *self);
//  Adapter 'index' (below count): its name into 'name', and its path.
const char *xinf_lora_modules_at (const xinf_lora_modules_t *self, size_t index, char *name, size_t name_size);
//  The adapter called 'name': its index + 1 (the batch's lora), or 0.
int32_t xinf_lora_modules_find (const xinf_lora_modules_t *self, const char *name);

#endif
