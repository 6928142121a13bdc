/*  xinf_exec_lora: an executor's LoRA adapters (LOAD lora_paths): taken
    with LOAD's other fields, loaded on the loader thread after the model
    and checked against it (xinf_lora.h), attached to it so that a step's
    batch lora k computes with the k-th, and freed after the model.
*/
#ifndef XINF_EXEC_LORA_H_INCLUDED
#define XINF_EXEC_LORA_H_INCLUDED

#include <stdatomic.h>
#include "xinf.h"
#include "xinf_lora.h"
#include "xinf_lora_modules.h"
#include "xinf_model.h"

typedef struct {
    char paths [XINF_LORA_MODULES_MAX][4096];
    xinf_lora_t *loras [XINF_LORA_MODULES_MAX];
    size_t count;
} xinf_exec_lora_t;

//  LOAD's lora_paths (NULL: none) for a replica on a GPU or not; 0, or -1
//  with the reason (adapters run on the CPU so far; a tensor-parallel rank
//  loads its part of each).
int xinf_exec_lora_take (xinf_exec_lora_t *self, const xinf_value_t *paths, bool gpu, char *error,
                         size_t error_size);
//  Loads the adapters for 'model' and attaches them, unless 'cancel' is
//  raised between two; 0, or -1 with the reason naming the file (none
//  stays loaded).
int xinf_exec_lora_load (xinf_exec_lora_t *self, xinf_model_t *model, atomic_bool *cancel, char *error,
                         size_t error_size);
//  Frees the adapters (after the model that used them).
void xinf_exec_lora_unload (xinf_exec_lora_t *self);

#endif
