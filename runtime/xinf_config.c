/*  xinf_config: flags, then XINF_* environment, then defaults; --help from
    the same table.  */
#include "xinf_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *value;         //  points into argv, environ, table or NULL
    const char *source;
    const char **flags;        //  every value flags gave, in order (repeated options)
    size_t flag_count;
} s_slot_t;

struct _xinf_config_t {
    const char *program;
    const char *usage;
    const xinf_option_t *table;
    size_t count;
    s_slot_t *slots;
    const char **positionals;
    size_t positional_count;
    char error [512];
};

xinf_config_t *
xinf_config_new (const char *program, const char *usage, const xinf_option_t *table)
{
    xinf_config_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->program = program;
    self->usage = usage;
    self->table = table;
    while (table [self->count].name)
        self->count++;
    self->slots = calloc (self->count + 1, sizeof (s_slot_t));
    for (size_t index = 0; index < self->count; index++) {
        self->slots [index].value = table [index].fallback;
        self->slots [index].source = "default";
    }
    return self;
}

void
xinf_config_destroy (xinf_config_t **self_p)
{
    if (self_p && *self_p) {
        xinf_config_t *self = *self_p;
        for (size_t index = 0; index < self->count; index++)
            free (self->slots [index].flags);
        free (self->slots);
        free (self->positionals);
        free (self);
        *self_p = NULL;
    }
}

static int
s_fail (xinf_config_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return -1;
}

static int
s_find_long (xinf_config_t *self, const char *name, size_t length)
{
    for (size_t index = 0; index < self->count; index++)
        if (strlen (self->table [index].name) == length
        &&  memcmp (self->table [index].name, name, length) == 0)
            return (int) index;
    return -1;
}

static int
s_find_short (xinf_config_t *self, char letter)
{
    for (size_t index = 0; index < self->count; index++)
        if (self->table [index].short_name == letter)
            return (int) index;
    return -1;
}

static bool
s_parse_int (const char *text, int64_t *value)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long long number = strtoll (text, &end, 10);
    if (errno || *end)
        return false;
    *value = number;
    return true;
}

static bool
s_is_choice (const char *choices, const char *value)
{
    size_t length = strlen (value);
    const char *start = choices;
    while (start && *start) {
        const char *bar = strchr (start, '|');
        size_t span = bar ? (size_t) (bar - start) : strlen (start);
        if (span == length && memcmp (start, value, length) == 0)
            return true;
        start = bar ? bar + 1 : NULL;
    }
    return false;
}

static bool
s_is_boolean (const char *value, bool *result)
{
    if (!strcmp (value, "1") || !strcmp (value, "true") || !strcmp (value, "yes") || !strcmp (value, "on"))
        *result = true;
    else
    if (!strcmp (value, "0") || !strcmp (value, "false") || !strcmp (value, "no") || !strcmp (value, "off"))
        *result = false;
    else
        return false;
    return true;
}

//  Check one value against its option; 'origin' names it in the error.
static int
s_validate (xinf_config_t *self, const xinf_option_t *option, const char *value, const char *origin)
{
    if (option->type == XINF_OPT_INT) {
        int64_t number;
        if (!s_parse_int (value, &number))
            return s_fail (self, "%s: '%s' is not an integer", origin, value);
        if (number < option->min || number > option->max)
            return s_fail (self, "%s: %lld is out of range [%lld, %lld]", origin,
                           (long long) number, (long long) option->min, (long long) option->max);
    }
    else
    if (option->type == XINF_OPT_FLAG) {
        bool flag;
        if (!s_is_boolean (value, &flag))
            return s_fail (self, "%s: '%s' is not a boolean (use 1/0, true/false, yes/no, on/off)", origin, value);
    }
    else
    if (option->choices && !s_is_choice (option->choices, value))
        return s_fail (self, "%s: '%s' is not one of %s", origin, value, option->choices);
    return 0;
}

static int
s_set (xinf_config_t *self, int index, const char *value, const char *origin, const char *source)
{
    if (s_validate (self, &self->table [index], value, origin))
        return -1;
    s_slot_t *slot = &self->slots [index];
    slot->value = value;
    slot->source = source;
    if (strcmp (source, "flag") == 0) {
        const char **flags = realloc (slot->flags, (slot->flag_count + 1) * sizeof (char *));
        if (!flags)
            return s_fail (self, "out of memory");
        slot->flags = flags;
        slot->flags [slot->flag_count++] = value;
    }
    return 0;
}

//  Handles "--name", "--name=value", "--name value"; returns argv slots used.
static int
s_parse_long (xinf_config_t *self, int argc, char **argv, int at)
{
    const char *name = argv [at] + 2;
    const char *equals = strchr (name, '=');
    size_t length = equals ? (size_t) (equals - name) : strlen (name);
    int index = s_find_long (self, name, length);
    if (index < 0)
        return s_fail (self, "unknown option '--%.*s' (see --help)", (int) length, name);
    char origin [96];
    snprintf (origin, sizeof origin, "--%s", self->table [index].name);
    if (self->table [index].type == XINF_OPT_FLAG && !equals)
        return s_set (self, index, "1", origin, "flag") ? -1 : 1;
    if (equals)
        return s_set (self, index, equals + 1, origin, "flag") ? -1 : 1;
    if (at + 1 >= argc)
        return s_fail (self, "%s needs a value", origin);
    return s_set (self, index, argv [at + 1], origin, "flag") ? -1 : 2;
}

//  Handles "-p value" and "-pVALUE"; returns argv slots used.
static int
s_parse_short (xinf_config_t *self, int argc, char **argv, int at)
{
    char letter = argv [at][1];
    int index = s_find_short (self, letter);
    if (index < 0)
        return s_fail (self, "unknown option '-%c' (see --help)", letter);
    char origin [8];
    snprintf (origin, sizeof origin, "-%c", letter);
    if (self->table [index].type == XINF_OPT_FLAG) {
        if (argv [at][2])
            return s_fail (self, "%s takes no value", origin);
        return s_set (self, index, "1", origin, "flag") ? -1 : 1;
    }
    if (argv [at][2])
        return s_set (self, index, argv [at] + 2, origin, "flag") ? -1 : 1;
    if (at + 1 >= argc)
        return s_fail (self, "%s needs a value", origin);
    return s_set (self, index, argv [at + 1], origin, "flag") ? -1 : 2;
}

static int
s_apply_environment (xinf_config_t *self)
{
    for (size_t index = 0; index < self->count; index++) {
        const xinf_option_t *option = &self->table [index];
        if (!option->env || strcmp (self->slots [index].source, "default"))
            continue;
        const char *value = getenv (option->env);
        if (value && *value && s_set (self, (int) index, value, option->env, "env"))
            return -1;
    }
    return 0;
}

int
xinf_config_parse (xinf_config_t *self, int argc, char **argv)
{
    free (self->positionals);
    self->positionals = calloc ((size_t) argc + 1, sizeof (char *));
    self->positional_count = 0;
    bool only_positionals = false;
    for (int at = 1; at < argc; ) {
        const char *arg = argv [at];
        int used;
        if (only_positionals || arg [0] != '-' || arg [1] == 0) {
            self->positionals [self->positional_count++] = arg;
            used = 1;
        }
        else
        if (!strcmp (arg, "--")) {
            only_positionals = true;
            used = 1;
        }
        else
        if (!strcmp (arg, "--help") || !strcmp (arg, "-h")) {
            xinf_config_print_help (self, stdout);
            return 1;
        }
        else
            used = arg [1] == '-' ? s_parse_long (self, argc, argv, at)
                                  : s_parse_short (self, argc, argv, at);
        if (used < 0)
            return -1;
        at += used;
    }
    return s_apply_environment (self);
}

const char *
xinf_config_error (xinf_config_t *self)
{
    return self->error;
}

static size_t
s_index (xinf_config_t *self, const char *name)
{
    int index = s_find_long (self, name, strlen (name));
    if (index < 0) {
        fprintf (stderr, "xinf_config: option '%s' is not in the table\n", name);
        abort ();
    }
    return (size_t) index;
}

const char *
xinf_config_str (xinf_config_t *self, const char *name)
{
    return self->slots [s_index (self, name)].value;
}

int64_t
xinf_config_int (xinf_config_t *self, const char *name)
{
    int64_t number = 0;
    s_parse_int (self->slots [s_index (self, name)].value, &number);
    return number;
}

bool
xinf_config_flag (xinf_config_t *self, const char *name)
{
    const char *value = self->slots [s_index (self, name)].value;
    bool flag = false;
    if (value)
        s_is_boolean (value, &flag);
    return flag;
}

size_t
xinf_config_all (xinf_config_t *self, const char *name, const char **values, size_t max)
{
    const s_slot_t *slot = &self->slots [s_index (self, name)];
    if (slot->flag_count) {
        for (size_t index = 0; index < slot->flag_count && index < max; index++)
            values [index] = slot->flags [index];
        return slot->flag_count;
    }
    if (slot->value && max)
        values [0] = slot->value;
    return slot->value ? 1 : 0;
}

const char *
xinf_config_source (xinf_config_t *self, const char *name)
{
    return self->slots [s_index (self, name)].source;
}

size_t
xinf_config_positionals (xinf_config_t *self)
{
    return self->positional_count;
}

const char *
xinf_config_positional (xinf_config_t *self, size_t index)
{
    return index < self->positional_count ? self->positionals [index] : NULL;
}

void
xinf_config_print_help (xinf_config_t *self, FILE *stream)
{
    fprintf (stream, "Usage: %s %s\n\nOptions:\n", self->program, self->usage ? self->usage : "[OPTIONS]");
    for (size_t index = 0; index < self->count; index++) {
        const xinf_option_t *option = &self->table [index];
        char flags [96];
        int used = option->short_name
                 ? snprintf (flags, sizeof flags, "-%c, --%s", option->short_name, option->name)
                 : snprintf (flags, sizeof flags, "    --%s", option->name);
        if (option->type != XINF_OPT_FLAG && (size_t) used < sizeof flags)
            snprintf (flags + used, sizeof flags - used, " %s", option->metavar ? option->metavar : "VALUE");
        fprintf (stream, "  %-30s %s", flags, option->help ? option->help : "");
        if (option->choices)
            fprintf (stream, " (%s)", option->choices);
        if (option->fallback && option->type != XINF_OPT_FLAG)
            fprintf (stream, " [default: %s]", option->fallback);
        if (option->env)
            fprintf (stream, " [env: %s]", option->env);
        fprintf (stream, "\n");
    }
    fprintf (stream, "  %-30s %s\n", "-h, --help", "show this help and exit");
}
