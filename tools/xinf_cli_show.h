/*  xinf_cli_show: the tables xinf-cli prints for people (workers, waits,
    events), from reply bodies of protocols/client.md.  */
#ifndef XINF_CLI_SHOW_H_INCLUDED
#define XINF_CLI_SHOW_H_INCLUDED

#include "xinf.h"

void xinf_cli_show_workers (xinf_value_t *body, FILE *out);
void xinf_cli_show_waits (xinf_value_t *body, FILE *out);
void xinf_cli_show_events (xinf_value_t *body, FILE *out);

#endif
