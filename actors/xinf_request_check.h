/*  xinf_request_check: the supervisor's entry checks of a GENERATE body.

    A request is checked where it enters the cluster, so that a bad field
    or an oversized prompt is refused at once with the field and the limit
    named, and nothing a later hop would drop (the envelope's header limit
    on the RUN the supervisor relays, the replica's prompt limit) is ever
    accepted. The replica checks the fields again against the model.
*/
#ifndef XINF_REQUEST_CHECK_H_INCLUDED
#define XINF_REQUEST_CHECK_H_INCLUDED

#include "xinf.h"
#include "xinf_client_msg.h"

//  Room the supervisor keeps in a relayed RUN for the fields it adds
//  (request, replica, client, corr) and a longer sender name.
#define XINF_RUN_OVERHEAD       4096
//  The largest packed GENERATE body accepted: a RUN built from it fits
//  the envelope's header limit.
#define XINF_GENERATE_BODY_MAX  (XINF_HEADER_MAX - XINF_RUN_OVERHEAD)
//  prompt_tokens entries accepted: the RUN stays under the envelope's
//  value limit (the other fields count too).
#define XINF_PROMPT_TOKENS_MAX  (XINF_OBJECTS_MAX - 1024)

//  Checks a GENERATE body with the generated codec (client.xml), then
//  what the schema cannot say: exactly one of prompt / prompt_tokens, every
//  sampling field's type and range, token ids below 'vocab' (0: unknown),
//  and the packed size. 0, or -1 with the reason in 'check' and *code
//  set (BAD_REQUEST, or TOO_LARGE with the limit named).
int xinf_request_check (const xinf_value_t *body, uint64_t vocab, xinf_check_t *check, const char **code);

//  The packed size of a value in bytes (what it costs in a header).
size_t xinf_request_packed_size (const xinf_value_t *value);

#endif
