/*  xinf_request: one generation request as a model replica holds it: the
    prompt (token ids, or text tokenized with a BOS only where the model's
    file asks for one), the sampling parameters (the executor samples), the tokens
    generated so far and the timings; and the upstream messages it gives
    (RUN_TOKEN per token when streaming, RUN_DONE or RUN_FAILED once).

    RUN's fields are checked here, each failure naming the field.
*/
#ifndef XINF_REQUEST_H_INCLUDED
#define XINF_REQUEST_H_INCLUDED

#include "xinf.h"
#include "xinf_tokenizer.h"
#include "xinf_sampler.h"
#include "xinf_penalties.h"
#include "xinf_spec.h"
#include "xinf_request_logprobs.h"
#include "xinf_request_embed.h"
#include "xinf_json_masks.h"
#include "xinf_constraints.h"

typedef struct {
    uint64_t id;                      //  the supervisor's request id
    int64_t priority;                 //  GENERATE's: lower first
    char lora [65];                   //  GENERATE's LoRA adapter, by name ("": none)
    int32_t *prompt;
    size_t prompt_count;
    int32_t *tokens;                  //  generated
    size_t count, max_tokens;
    bool stream;
    bool ignore_eos;                  //  end tokens do not end it
    int32_t *stop_ids;                //  stop_token_ids, ascending; NULL: none
    uint32_t *allowed;                //  allowed_token_ids, a bitmap over the vocabulary; NULL: any token
    int32_t *bad;                     //  bad_words' token sequences, one after another; NULL: none
    size_t *bad_ends;                 //  [n_bad]: where each sequence ends in 'bad'
    size_t n_bad;
    size_t n_stop_ids;
    size_t min_tokens;                //  end and stop tokens are masked until this many are generated
    const xinf_grammar_t *grammar;    //  response_format json_object, json_schema, regex or grammar: its tokens
                                      //  keep its text a prefix of such an answer; NULL: free text
    xinf_grammar_state_t grammar_state;   //  with it: after the tokens so far
    xinf_json_schema_t *schema;       //  json_schema: compiled (held from 'constraints', or owned)
    xinf_regex_t *regex;              //  regex or grammar: compiled (held from 'constraints', or owned)
    xinf_constraints_t *constraints;  //  the replica's shared compiled constraints, or NULL
    int64_t started, first_token;     //  monotonic us
    size_t cached_tokens;             //  prompt tokens the prefix cache gave (set before the answer)
    int64_t deadline;                 //  the client's (RUN deadline_ms from its arrival), monotonic ms; 0: none
    xinf_sampling_t sampling;         //  its parameters; index: the next token's
    float min_p;                      //  0: off (xinf_sampler_min_p)
    float presence, frequency;        //  its penalties (xinf_penalties.h); 0: none
    xinf_token_counts_t *counts;      //  with penalties: the generated tokens counted
    float repetition;                 //  its repetition penalty (xinf_penalties.h); 1: none
    size_t repetition_window;         //  the last this many tokens of prompt and answer it looks at (SIZE_MAX: all)
    xinf_token_counts_t *seen;        //  with it: those tokens counted
    int32_t ahead [XINF_SPEC_TOKENS_MAX];     //  the drafts counted in 'seen' for a step's rows, in order
    xinf_logit_bias_t *biases;        //  its logit biases, tokens ascending; NULL: none
    size_t n_biases;
    xinf_request_logprobs_t *logprobs;    //  the log-probabilities it asked for; NULL: none
    xinf_request_logprobs_t *prompt_logprobs; //  its prompt's (prompt_logprobs); NULL: not asked
    bool embed;                       //  an embedding (GENERATE embed): hidden rows pooled, nothing generated
    xinf_batcher_pool_t pool_asked;   //  with embed: GENERATE pooling mean or last (NONE: the model's)
    bool rank_asked;                  //  with embed: GENERATE pooling rank (a reranker's score)
    bool normalize;                   //  with embed: the answer scaled to length 1
    xinf_request_embed_t *embedding;  //  with embed, once admitted: the rows pooled so far
    size_t answer_bytes;              //  RUN_DONE's header so far (ids, text, 1 KiB for the rest)
    size_t answer_values, answer_text;
} xinf_request_t;

//  A request from RUN's body for a model of 'vocab' tokens and 'context'
//  positions, its constraint (a schema, regex or grammar) from
//  'constraints' (NULL: compiled for it alone); NULL with the reason in
//  'check' (and an error code in *code).
xinf_request_t *xinf_request_new (xinf_value_t *body, xinf_tokenizer_t *tokenizer, size_t vocab, size_t context,
                                  xinf_constraints_t *constraints, xinf_check_t *check, const char **code);
void xinf_request_destroy (xinf_request_t **self_p);

//  Token ids of text (bytes), BOS first with 'add_bos'; with 'special' the
//  texts of the model's control tokens become those tokens. NULL with the
//  reason in 'check'.
int32_t *xinf_request_encode (xinf_tokenizer_t *tokenizer, const char *text, size_t length, bool add_bos,
                              bool special, size_t *count, xinf_check_t *check);

//  Whether 'token' is one of the request's stop_token_ids.
bool xinf_request_is_stop (const xinf_request_t *self, int32_t token);
//  Whether the request's next token needs a mask (xinf_token_mask.h):
//  a JSON answer, or end and stop tokens not allowed yet (min_tokens).
bool xinf_request_masked (const xinf_request_t *self);

//  The repetition penalty's tokens with the draft 'token' counted as the
//  'ahead'-th token past the answer so far (xinf_spec.h: for the rows
//  after it), the token that leaves the window (if any) uncounted; or
//  that taken back (the pushes undone in the reverse order). No-ops
//  without a repetition penalty.
void xinf_request_seen_push (xinf_request_t *self, int32_t token, size_t ahead);
void xinf_request_seen_pop (xinf_request_t *self, int32_t token, size_t ahead);

//  The sampling of the request's next token (its index: the tokens so far).
xinf_sampling_t xinf_request_sampling (const xinf_request_t *self);
//  Keeps the next token (sampled by the executor), counting what it adds
//  to the answer (its id and its piece of 'tokenizer's text), and its
//  log-probabilities ('report', when the request asked for them). -1
//  when out of memory for keeping those.
int xinf_request_take (xinf_request_t *self, int32_t token, const xinf_logprobs_row_t *report,
                       xinf_tokenizer_t *tokenizer);
//  Keeps the log-probabilities of prompt token 'token' (the next one
//  scored). -1 when out of memory for keeping them.
int xinf_request_take_prompt (xinf_request_t *self, int32_t token, const xinf_logprobs_row_t *report,
                              xinf_tokenizer_t *tokenizer);
//  The SMPL logprobs word of the rows that score its prompt (0: none).
uint32_t xinf_request_prompt_word (const xinf_request_t *self);
//  What the executor is to report beside the request's tokens: its
//  SMPL logprobs word (xinf_samples.h; 0: nothing).
uint32_t xinf_request_logprobs_word (const xinf_request_t *self);
//  Whether the answer has no room for another token: RUN_DONE carries
//  the prompt's and the generated ids and the text in one message, so a
//  generation stops here with finish_reason "length", as at max_tokens.
bool xinf_request_answer_full (const xinf_request_t *self);
//  Whether the request ends with finish_reason "length" after the token
//  just kept: max_tokens reached, or the answer full (above).
bool xinf_request_at_length (const xinf_request_t *self);

//  RUN_TOKEN for the token just kept; 'end' marks an end-of-generation
//  token (its text is not part of the answer). The first token also
//  carries the prompt's length in tokens.
xinf_msg_t *xinf_request_token_msg (xinf_request_t *self, xinf_tokenizer_t *tokenizer, bool end);
//  The most bytes of text RUN_DONE carries (node.xml).
#define XINF_RUN_TEXT_MAX (1 << 20)

//  RUN_DONE with the text, the tokens, the reason and the timings; or
//  RUN_FAILED TOO_LARGE where those would not fit in one message.
xinf_msg_t *xinf_request_done_msg (xinf_request_t *self, xinf_tokenizer_t *tokenizer, const char *reason);
//  RUN_FAILED for request 'id'.
xinf_msg_t *xinf_request_failed_msg (uint64_t id, const char *code, const char *text);

#endif
