/*  xinf_lora_modules: a model's LoRA adapters, NAME=PATH (see
    xinf_lora_modules.h).  */
#include "xinf_lora_modules.h"
#include "xinf_check.h"

//  The length of a valid name before '=', or 0.
static size_t
s_name_length (const char *spec)
{
    size_t length = 0;
    for (; spec [length] && spec [length] != '='; length++) {
        char c = spec [length];
        bool fits = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                 || c == '.' || c == '_' || c == '-';
        if (!fits)
            return 0;
    }
    return spec [length] == '=' && length <= XINF_LORA_NAME_MAX ? length : 0;
}

int
xinf_lora_modules_take (xinf_lora_modules_t *self, const xinf_value_t *array, const char *field,
                        char *error, size_t error_size)
{
    self->count = 0;
    if (!array)
        return 0;
    if (xinf_value_type (array) != XINF_ARRAY)
        return xinf_fail (error, error_size, "field '%s' must be an array of NAME=PATH strings", field);
    if (xinf_value_count (array) > XINF_LORA_MODULES_MAX)
        return xinf_fail (error, error_size, "field '%s' has %zu adapters, at most %d", field,
                          xinf_value_count (array), XINF_LORA_MODULES_MAX);
    for (size_t index = 0; index < xinf_value_count (array); index++) {
        const xinf_value_t *item = xinf_array_at (array, index);
        const char *spec = xinf_value_type (item) == XINF_STR ? xinf_value_str (item) : NULL;
        size_t name = spec ? s_name_length (spec) : 0;
        if (!name || !spec [name + 1] || strlen (spec) >= XINF_LORA_SPEC_MAX) {
            self->count = 0;
            return xinf_fail (error, error_size, "field '%s[%zu]' must be NAME=PATH: a name of 1 to %d of A-Z a-z "
                              "0-9 . _ - and a path of 1 to 4095 bytes", field, index, XINF_LORA_NAME_MAX);
        }
        for (size_t other = 0; other < self->count; other++)
            if (strncmp (self->specs [other], spec, name + 1) == 0) {
                self->count = 0;
                return xinf_fail (error, error_size, "field '%s[%zu]': the name '%.*s' is given twice", field, index,
                                  (int) name, spec);
            }
        snprintf (self->specs [self->count++], XINF_LORA_SPEC_MAX, "%s", spec);
    }
    return 0;
}

xinf_value_t *
xinf_lora_modules_array (const xinf_lora_modules_t *self)
{
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t index = 0; index < self->count; index++)
        xinf_array_push (array, xinf_value_new_str (self->specs [index]));
    return array;
}

xinf_value_t *
xinf_lora_modules_names (const xinf_lora_modules_t *self)
{
    xinf_value_t *array = xinf_value_new_array ();
    for (size_t index = 0; index < self->count; index++) {
        char name [XINF_LORA_NAME_MAX + 1];
        xinf_lora_modules_at (self, index, name, sizeof name);
        xinf_array_push (array, xinf_value_new_str (name));
    }
    return array;
}

const char *
xinf_lora_modules_at (const xinf_lora_modules_t *self, size_t index, char *name, size_t name_size)
{
    const char *spec = self->specs [index];
    const char *equals = strchr (spec, '=');
    snprintf (name, name_size, "%.*s", (int) (equals - spec), spec);
    return equals + 1;
}

int32_t
xinf_lora_modules_find (const xinf_lora_modules_t *self, const char *name)
{
    size_t length = strlen (name);
    if (strchr (name, '='))            //  a name has none: compare with the name part only
        return 0;
    for (size_t index = 0; index < self->count; index++)
        if (strncmp (self->specs [index], name, length) == 0 && self->specs [index][length] == '=')
            return (int32_t) index + 1;
    return 0;
}
