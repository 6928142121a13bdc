/*  xinf_config: configuration from flags, then XINF_* environment variables,
    then defaults, in that precedence, described by one table that also
    generates the --help text.

    A program declares its options once:

        static const xinf_option_t options [] = {
            { "port", 'p', "XINF_PORT", XINF_OPT_INT, "9997", 0, 65535, NULL,
              "PORT", "TCP port the supervisor binds (0: any free port)" },
            { NULL }
        };

    then parses: rc 0 = go on, 1 = --help was printed (exit 0), -1 = bad
    input, the reason in xinf_config_error () (exit 2).
*/
#ifndef XINF_CONFIG_H_INCLUDED
#define XINF_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    XINF_OPT_STR,      //  any string (or one of 'choices' when set)
    XINF_OPT_INT,      //  integer checked against [min, max]
    XINF_OPT_FLAG      //  boolean; takes no value on the command line
} xinf_opt_type_t;

typedef struct {
    const char *name;          //  long flag without dashes: "port"
    char short_name;           //  'p', or 0
    const char *env;           //  "XINF_PORT", or NULL
    xinf_opt_type_t type;
    const char *fallback;      //  default value as text, or NULL (unset)
    int64_t min, max;          //  range for XINF_OPT_INT
    const char *choices;       //  "a|b|c" for XINF_OPT_STR, or NULL
    const char *metavar;       //  "PORT" in the help text
    const char *help;
} xinf_option_t;

typedef struct _xinf_config_t xinf_config_t;

//  The table must outlive the config object; it ends with a NULL name.
xinf_config_t *xinf_config_new (const char *program, const char *usage,
                                const xinf_option_t *table);
void xinf_config_destroy (xinf_config_t **self_p);

//  Parse argv (flags, --name=value, --name value, -p value, -pVALUE, "--"),
//  then the environment for options no flag set. Non-flag arguments are kept
//  as positionals.
int xinf_config_parse (xinf_config_t *self, int argc, char **argv);
const char *xinf_config_error (xinf_config_t *self);

//  Values after parsing. Asking for an option that is not in the table is a
//  programming error and aborts.
const char *xinf_config_str (xinf_config_t *self, const char *name);
int64_t xinf_config_int (xinf_config_t *self, const char *name);
bool xinf_config_flag (xinf_config_t *self, const char *name);
//  Every value of an option given more than once ("--model-dir A
//  --model-dir B"): the flags' values in order, else the environment's or
//  the default (one value), else none. Writes up to 'max' into 'values'
//  and returns how many there are. xinf_config_str gives the last.
size_t xinf_config_all (xinf_config_t *self, const char *name, const char **values, size_t max);
//  "flag", "env" or "default": where the value came from.
const char *xinf_config_source (xinf_config_t *self, const char *name);

size_t xinf_config_positionals (xinf_config_t *self);
const char *xinf_config_positional (xinf_config_t *self, size_t index);

void xinf_config_print_help (xinf_config_t *self, FILE *stream);

#endif
