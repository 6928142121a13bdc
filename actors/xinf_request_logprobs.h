/*  xinf_request_logprobs: the log-probabilities a generation request
    asked for (GENERATE logprobs, top_logprobs), as its replica gets them
    from the executor each step (xinf_logprobs.h) and sends them on: in
    each RUN_TOKEN when streamed, else every token's in RUN_DONE, whose
    one message they must fit (the bytes and values they add are counted).

    The log-probabilities of a prompt's tokens (GENERATE prompt_logprobs)
    are kept the same way, each with its token and text, and go in
    RUN_DONE, or in the first RUN_TOKEN when streamed.

    A logprob of -inf (a token of probability 0) is sent as -9999, as
    OpenAI writes it; the tokens' texts are their bytes (raw).
*/
#ifndef XINF_REQUEST_LOGPROBS_H_INCLUDED
#define XINF_REQUEST_LOGPROBS_H_INCLUDED

#include "xinf.h"
#include "xinf_logprobs.h"
#include "xinf_tokenizer.h"

typedef struct _xinf_request_logprobs_t xinf_request_logprobs_t;

//  The log-probabilities of a request that asked for 'top' most likely
//  tokens beside each (0-20), 'stream'ed or kept for RUN_DONE; NULL when
//  out of memory.
xinf_request_logprobs_t *xinf_request_logprobs_new (uint32_t top, bool stream);
//  The log-probabilities of a prompt's tokens, with 'top' most likely
//  tokens beside each (0-20): all kept, each entry with its token.
xinf_request_logprobs_t *xinf_request_logprobs_new_prompt (uint32_t top);
void xinf_request_logprobs_destroy (xinf_request_logprobs_t **self_p);

//  A token's bytes (its piece, raw: maybe part of a UTF-8 character) as
//  a string value, as RUN_TOKEN and the log-probabilities carry them.
xinf_value_t *xinf_token_piece_value (xinf_tokenizer_t *tokenizer, int32_t token);

//  What the executor's rows ask for: top + 1 (xinf_samples.h).
uint32_t xinf_request_logprobs_asked (const xinf_request_logprobs_t *self);

//  Keeps the report of the token just generated (or of the prompt's
//  next token); -1 when out of memory for keeping it.
int xinf_request_logprobs_take (xinf_request_logprobs_t *self, int32_t token, const xinf_logprobs_row_t *report,
                                xinf_tokenizer_t *tokenizer);
//  Reports kept so far.
size_t xinf_request_logprobs_count (const xinf_request_logprobs_t *self);

//  RUN_TOKEN's logprob and top_logprobs for the token just taken.
void xinf_request_logprobs_put_token (const xinf_request_logprobs_t *self, xinf_tokenizer_t *tokenizer,
                                      xinf_value_t *body);

//  RUN_DONE's logprobs (not streamed only: every token's).
void xinf_request_logprobs_put_done (const xinf_request_logprobs_t *self, xinf_tokenizer_t *tokenizer,
                                     xinf_value_t *body);

//  A prompt's: 'prompt_logprobs' into 'body', an entry per token of
//  'tokens' (the prompt: its first, without a logprob, then one per
//  report kept).
void xinf_request_logprobs_put_prompt (const xinf_request_logprobs_t *self, xinf_tokenizer_t *tokenizer,
                                       const int32_t *tokens, xinf_value_t *body);
//  The fewest MessagePack bytes 'count' prompt entries with 'top' most
//  likely tokens each take (their texts empty).
size_t xinf_request_logprobs_prompt_least (uint32_t top, size_t count);

//  MessagePack bytes and values RUN_DONE's logprobs take so far, and at
//  most one more token adds (0 when streamed).
size_t xinf_request_logprobs_bytes (const xinf_request_logprobs_t *self);
size_t xinf_request_logprobs_values (const xinf_request_logprobs_t *self);
size_t xinf_request_logprobs_next_bytes (const xinf_request_logprobs_t *self);
size_t xinf_request_logprobs_next_values (const xinf_request_logprobs_t *self);

#endif
