/*  xinf_cli_show: the tables xinf-cli prints for people (workers, waits,
    events), from reply bodies of protocols/client.md.  */
#ifndef XINF_CLI_SHOW_H_INCLUDED
#define XINF_CLI_SHOW_H_INCLUDED

#include "xinf.h"

//  True (and the reason printed) when the reply is no answer to use: an
//  ERROR (its code and message), or a reply that breaks its schema
//  (protocols/client.xml, envelope.xml; the field named).
bool xinf_cli_is_error (xinf_msg_t *reply);

//  A request got no reply ('error' says so): prints it, then probes the
//  endpoint (TCP connect, PING) and prints why (nothing listens there, a
//  firewall, not an xinf node, or a supervisor that is only slow).
void xinf_cli_no_reply (xinf_dealer_t *dealer, const char *error);

void xinf_cli_show_workers (xinf_value_t *body, FILE *out);
//  Waits at least older_than_ms old (0: every open wait).
void xinf_cli_show_waits (xinf_value_t *body, uint64_t older_than_ms, FILE *out);
void xinf_cli_show_events (xinf_value_t *body, FILE *out);
void xinf_cli_show_doctor (xinf_value_t *body, FILE *out);

#endif
