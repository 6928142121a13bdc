/*  xinf_request_tokens: which tokens a request may sample and which end
    it, from its GENERATE: stop_token_ids (vLLM's: they end it like an end
    token) and allowed_token_ids (vLLM's: only these may be sampled, a
    constant token mask of the request's rows, xinf_request_masked).
*/
#ifndef XINF_REQUEST_TOKENS_H_INCLUDED
#define XINF_REQUEST_TOKENS_H_INCLUDED

#include "xinf_request.h"
#include "xinf_client_msg.h"

//  stop_token_ids, each below 'vocab', kept ascending; min_tokens at most
//  max_tokens. Failures in 'check', naming the field.
void xinf_request_take_stops (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab,
                              xinf_check_t *check);
//  allowed_token_ids as a bitmap over the vocabulary (each below it; not
//  with a constrained answer, whose masks it could empty). Failures in
//  'check', naming the field.
void xinf_request_take_allowed (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab,
                                xinf_check_t *check);

#endif
