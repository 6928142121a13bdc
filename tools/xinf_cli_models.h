/*  xinf_cli_models: the model commands of xinf-cli: launch (following the
    load's progress), models, generate (optionally streaming) and
    terminate, per protocols/client.md.  */
#ifndef XINF_CLI_MODELS_H_INCLUDED
#define XINF_CLI_MODELS_H_INCLUDED

#include "xinf.h"

bool xinf_cli_models_command (const char *command);
//  Runs the command; the exit status (0 ok, 1 failed or no answer, 2 usage).
int xinf_cli_models_run (xinf_config_t *config, xinf_dealer_t *dealer, const char *command);

#endif
