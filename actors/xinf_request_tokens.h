/*  xinf_request_tokens: which tokens a request may sample and which end
    it, from its GENERATE: stop_token_ids (vLLM's: they end it like an end
    token), allowed_token_ids (vLLM's: only these may be sampled, a
    constant token mask of the request's rows, xinf_request_masked) and
    bad_words (vLLM's: token sequences the answer never completes).
*/
#ifndef XINF_REQUEST_TOKENS_H_INCLUDED
#define XINF_REQUEST_TOKENS_H_INCLUDED

#include "xinf_request.h"
#include "xinf_client_msg.h"

//  stop_token_ids, each below 'vocab', kept ascending; min_tokens at most
//  max_tokens. Failures in 'check', naming the field.
void xinf_request_take_stops (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab,
                              xinf_check_t *check);
//  bad_words as token sequences, vLLM's: each word (its leading white
//  space stripped) as given, and with one leading space where that begins
//  with another token and has as many; duplicates once. A blank word is
//  refused. Failures in 'check', naming the field.
void xinf_request_take_bad_words (xinf_request_t *self, const xinf_client_msg_generate_t *generate,
                                  xinf_tokenizer_t *tokenizer, xinf_check_t *check);
//  Clears in 'bits' the tokens bad_words keep out after the answer's
//  tokens 'history' (history (k): the k-th token back, k = 0 the last; -1
//  past the answer's first).
void xinf_request_ban (const xinf_request_t *self, int32_t (*history) (void *arg, size_t back), void *arg,
                       uint32_t *bits);

//  allowed_token_ids as a bitmap over the vocabulary (each below it; not
//  with a constrained answer, whose masks it could empty). Failures in
//  'check', naming the field.
void xinf_request_take_allowed (xinf_request_t *self, const xinf_client_msg_generate_t *generate, size_t vocab,
                                xinf_check_t *check);

#endif
