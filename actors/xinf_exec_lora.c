/*  xinf_exec_lora: an executor's LoRA adapters (see xinf_exec_lora.h).  */
#include "xinf_exec_lora.h"
#include "xinf_check.h"

int
xinf_exec_lora_take (xinf_exec_lora_t *self, const xinf_value_t *paths, bool gpu, char *error, size_t error_size)
{
    xinf_exec_lora_unload (self);      //  a LOAD after a failed one
    self->count = 0;
    size_t count = paths ? xinf_value_count (paths) : 0;
    if (count && gpu)
        return xinf_fail (error, error_size, "LoRA adapters run on the CPU only so far (this replica is on a GPU)");
    if (count > XINF_LORA_MODULES_MAX)
        return xinf_fail (error, error_size, "%zu LoRA adapters, at most %d", count, XINF_LORA_MODULES_MAX);
    for (size_t index = 0; index < count; index++)
        snprintf (self->paths [index], sizeof self->paths [index], "%s", xinf_value_str (xinf_array_at (paths, index)));
    self->count = count;
    return 0;
}

int
xinf_exec_lora_load (xinf_exec_lora_t *self, xinf_model_t *model, atomic_bool *cancel, char *error, size_t error_size)
{
    const xinf_transformer_t *t = xinf_model_transformer (model);
    for (size_t index = 0; index < self->count; index++) {
        if (atomic_load (cancel))
            return xinf_fail (error, error_size, "load cancelled");
        self->loras [index] = xinf_lora_load (self->paths [index], t, xinf_model_info (model)->arch, error,
                                              error_size);
        if (!self->loras [index]) {
            xinf_exec_lora_unload (self);
            return -1;
        }
    }
    if (self->count)
        xinf_model_set_loras (model, self->loras, self->count);
    return 0;
}

void
xinf_exec_lora_unload (xinf_exec_lora_t *self)
{
    for (size_t index = 0; index < XINF_LORA_MODULES_MAX; index++)
        xinf_lora_destroy (&self->loras [index]);
}
