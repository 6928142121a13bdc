/*  xinf_replica_private: what the parts of the replica actor share (not
    for use outside actors/xinf_replica*.c).

    The replica actor is three files: xinf_replica.c (its messages from
    the worker agent, its state and its link up), xinf_replica_step.c
    (continuous batching: each step to the executor, each token back,
    the requests' ends) and xinf_replica_exec.c (what the executor says,
    and the step watchdog that finds it lost or hung).
*/
#ifndef XINF_REPLICA_PRIVATE_H_INCLUDED
#define XINF_REPLICA_PRIVATE_H_INCLUDED

#include "xinf_replica.h"
#include "xinf_exec_host.h"
#include "xinf_request.h"
#include "xinf_batcher.h"
#include "xinf_step_cost.h"
#include "xinf_classifier.h"
#include "xinf_states.h"
#include "xinf_tokenize.h"
#include "xinf_outbox.h"
#include "xinf_encoder.h"
#include "xinf_exec_kv.h"               //  XINF_BLOCK_TOKENS: the executors' KV block
#include "xinf_lora_modules.h"
#include "xinf_json_masks.h"
#include "xinf_samples.h"

#define XINF_STEP_STALL_MS  60000     //  no step finishing for this long: stalled
#define XINF_WATCH_MS       250       //  how often the step watchdog looks
#define XINF_STEP_FAILURES_MAX 3      //  steps failing in a row fail the replica
#define XINF_KV_REPORT_MS   250       //  MODEL_LOAD at most this often
#define XINF_REDUCE_SLACK_MS 5000     //  an all-reduce's own deadline names the peer first
#define XINF_QUEUE_MAX      4096      //  requests a replica holds (running and queued)
#define XINF_HIDDEN_STEP_BYTES (64u << 20)  //  a step's hidden rows (embeddings) at most: n_hid x dim floats
#define XINF_REPLICA_CONSTRAINTS_KEPT 32  //  compiled constraints no request holds, kept for the next
#define XINF_CHAT_TEMPLATE_MAX  (256 << 10)   //  bytes of a chat template reported in info

//  The replica actor's state.
typedef struct {
    char uid [65];
    uint64_t replica;
    uint64_t rank, n_ranks;           //  of a tensor-parallel replica (0 of 1: plain)
    uint64_t data_port;               //  its collective's, once bound
    char name [XINF_SENDER_MAX + 1];
    char path [4096];
    char exec_endpoint [256];
    xinf_exec_host_t *host;           //  the executor, on a thread or in its process
    xinf_dealer_t *to_executor;
    char upstream [512];              //  the worker agent's peer id
    int state;                        //  xinf_replica_fsm
    char error [512];
    const char *stuck_phase;          //  failed by the step watchdog: the phase (xinf_phase_name)
    uint64_t bytes_done, bytes_total;
    xinf_value_t *info;               //  LOADED body
    xinf_tokenizer_t *tokenizer;
    size_t context, vocab, max_seqs, step_tokens;
    size_t spec_tokens;               //  START's speculative_tokens: drafts a sequence may carry (0: none)
    size_t spec_min_n, spec_max_n;    //  START's prompt_lookup_min and _max (0: the batcher's)
    xinf_lora_modules_t lora;         //  START's LoRA adapters: a request's lora is one of their names
    bool spec_every;                  //  XINF_SPEC_EVERY_DRAFT=1: every draft found goes in, whatever it costs
    size_t max_rows;                  //  logits rows a step may ask (LOADED)
    size_t dim;                       //  a hidden row's floats (LOADED)
    char pooling [8];                 //  the file's pooling of embeddings (LOADED): none, mean, cls, last, rank
    xinf_classifier_t *classifier;    //  with pooling rank: the file's head (a reranker), or NULL
    char classifier_error [256];      //  why there is none
    //  Continuous batching
    xinf_batcher_t *batcher;
    xinf_batch_buf_t *batch;
    zhashx_t *requests;               //  id (text) -> xinf_request_t
    const uint64_t *step_ids;         //  the step in flight: its rows' requests
    const int32_t *step_scores;       //  their scored prompt tokens (-1: a sampled row)
    const uint32_t *step_ahead;       //  the drafts before each row (xinf_batcher_ahead)
    xinf_sample_row_t *step_samples;  //  [max_rows]: their sampling
    uint32_t *step_logprobs;          //  [max_rows]: the log-probabilities each asks for (0: none)
    xinf_json_masks_t *json_masks;    //  the allowed tokens of constrained answers (made at the first)
    xinf_constraints_t *constraints;  //  compiled schemas, regexes and grammars, shared by text
    uint32_t *step_mask;              //  a row's mask being made (min_tokens), made at the first
    xinf_logprobs_row_t *step_reports;    //  [max_rows]: what the executor reported
    bool step_reporting;              //  a row of the step asked
    const uint64_t *step_hid_ids;     //  the step in flight: its hidden rows' requests (embeddings)
    size_t step_hid;
    size_t step_rows;
    bool in_flight;
    int64_t step_started;             //  monotonic us
    xinf_step_cost_t *step_cost;      //  a step's time by its tokens
    xinf_step_cost_t *decode_cost;    //  the same, of steps without prompt tokens: what a draft costs
    uint64_t wait, steps;             //  the serving wait, steps done
    size_t failed_steps;              //  steps in a row the executor failed
    size_t kv_free_reported;          //  KV blocks free in the last MODEL_LOAD
    size_t spec_reported;             //  drafts computed, in the last MODEL_LOAD
    int64_t kv_reported_at;           //  when it went (monotonic ms, 0: never)
    int64_t stall_ms;                 //  a step phase lasting longer is hung
    xinf_outbox_t *outbox;            //  messages up, kept while the link to the agent is full
    xinf_encoder_t *encoder;          //  long prompts tokenized off this thread, once loaded
    int64_t next_deadline;            //  the earliest of the requests' deadlines (monotonic ms, 0: none)
} xinf_replica_actor_t;

static inline xinf_replica_actor_t *
xinf_replica_of (xinf_ctx_t *ctx)
{
    return (xinf_replica_actor_t *) xinf_ctx_state (ctx);
}

// ---- xinf_replica.c: the link up and the replica's state ---------------------

//  Sends a message to the worker agent, consuming it: in order, kept
//  while the link is full (xinf_outbox), dropped before START.
void xinf_replica_send_up (xinf_ctx_t *ctx, xinf_msg_t **msg_p);
//  MODEL_STATE up: the replica's state as it is now.
void xinf_replica_report_state (xinf_ctx_t *ctx);
//  Moves the replica's state (an illegal move is refused and logged) and
//  reports it.
void xinf_replica_set_state (xinf_ctx_t *ctx, xinf_replica_state_t to, const char *error);
//  Starts the thread that tokenizes long prompts (rank 0, once loaded).
void xinf_replica_start_encoder (xinf_ctx_t *ctx);

// ---- xinf_replica_step.c: continuous batching ----------------------------------

//  RUN_FAILED for request 'id' up.
void xinf_replica_fail_request (xinf_ctx_t *ctx, uint64_t id, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  The request 'id', or NULL.
xinf_request_t *xinf_replica_request (xinf_replica_actor_t *state, uint64_t id);
//  Forgets a request: its sequence leaves the batch, its blocks are free.
void xinf_replica_drop (xinf_replica_actor_t *state, uint64_t id);
//  Ends every request with an error.
void xinf_replica_fail_all (xinf_ctx_t *ctx, const char *code, const char *text);
//  Ends the requests of the step in flight with 'code'; the waiting ones
//  with 'waiting', or leaves them for the next step ('waiting' NULL).
void xinf_replica_fail_step (xinf_ctx_t *ctx, const char *code, const char *text, const char *waiting);
//  The serving wait: begun while requests are served, ended when none are.
void xinf_replica_serving_wait (xinf_replica_actor_t *state, bool busy);
//  MODEL_LOAD up when the KV blocks free changed, at most so often.
void xinf_replica_report_kv (xinf_ctx_t *ctx);
//  Sends the next step to the executor if one can run and none is in flight.
void xinf_replica_kick (xinf_ctx_t *ctx);
//  Keeps request 'request''s deadline among those the replica watches.
void xinf_replica_watch_deadline (xinf_replica_actor_t *state, const xinf_request_t *request);
//  Ends the requests whose deadline passed by 'now' (monotonic ms).
void xinf_replica_expire (xinf_ctx_t *ctx, int64_t now);
//  TOKENS for the step in flight.
void xinf_replica_on_tokens (xinf_ctx_t *ctx, xinf_msg_t *msg);

// ---- xinf_replica_exec.c: the executor and the step watchdog -----------------

//  Reader of the executor's dealer: load progress, loaded, tokens, errors.
void xinf_replica_on_executor (xinf_ctx_t *ctx, zsock_t *sock, void *arg);
//  Timer: a MODEL_STATE or KV figures held back go up; the watchdog looks.
void xinf_replica_on_watch (xinf_ctx_t *ctx, void *arg);

#endif
