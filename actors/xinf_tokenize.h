/*  xinf_tokenize: TOKENIZE and DETOKENIZE as a model replica answers them
    (for the HTTP gateway's /tokenize and /detokenize), with the model's
    own tokenizer: the supervisor relays a client's request to a ready
    replica (xinf_relay) and its TOKENIZE_RESULT back.

    Every field is checked here; a bad one is a TOKENIZE_RESULT with code
    BAD_REQUEST naming it.
*/
#ifndef XINF_TOKENIZE_H_INCLUDED
#define XINF_TOKENIZE_H_INCLUDED

#include "xinf.h"
#include "xinf_tokenizer.h"

#define XINF_TOKENIZE_TEXT_MAX    1044480     //  bytes of 'content' (as GENERATE's prompt)
#define XINF_TOKENIZE_TOKENS_MAX  261120      //  ids of 'tokens' (as GENERATE's prompt_tokens)

//  The TOKENIZE_RESULT for a TOKENIZE body: {request, tokens[, pieces]}
//  or {request, code, message}.
xinf_msg_t *xinf_tokenize_answer (xinf_tokenizer_t *tokenizer, xinf_value_t *body);

#endif
