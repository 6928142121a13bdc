/*  xinf_batcher: continuous batching for one replica: which tokens of
    which sequences the next forward step carries, and the KV blocks they
    hold (xinf_blocks, with prefix reuse).

    Sequences join and leave between any two steps. A step carries, oldest
    sequence first, the next token of every running sequence that is
    decoding, then chunks of prompts still being prefilled, then newly
    admitted sequences (up to max_seqs running), within a budget of
    step_tokens tokens; the prompt chunks also keep within a cap the
    caller sets per step (so that a long prompt never stalls the streams
    running beside it). A sequence's prompt starts from the whole blocks
    the prefix cache already holds. When a decoding sequence needs a block
    and none is left, the newest running sequence is preempted: its blocks
    are released and it waits at the head of the queue, to be recomputed
    (its tokens so far are its new prompt) when blocks free up.

    Sequences may have priorities (xinf_batcher_prioritize, vLLM's: lower
    first; 0 by default). Everything above that says oldest or newest
    means by priority, then age: the queue, the running order, the victim
    of a preemption. A waiting sequence of a lower value than the last
    running one also preempts it when max_seqs are running or no block is
    free.

    A sequence that is an embedding gets no logits rows but hidden rows
    (the final hidden states its embedding is pooled from): at every
    prompt position (mean pooling; no prefix reuse) or at the last; each
    position's once, across preemption and failed steps; a step asks at
    most max_hidden of them. Its sequence is done when the prompt is; the
    caller removes it.

    A sequence whose prompt is scored (prompt_logprobs) gets a logits row
    for every prompt position but the last, scoring the prompt's next
    token there, beside its sampling row; its prompt is computed whole
    (no prefix reuse), in chunks that keep a step within max_rows rows.

    A decoding sequence may speculate (config spec_tokens, xinf_spec.h):
    beside its next token a step then carries drafts guessed from its own
    tokens, each with a logits row, as many as are worth their place (the
    step's cost, xinf_batcher_set_cost). The caller takes the sequence's
    rows in order and appends each row's token while xinf_batcher_append
    says the row after it is still valid (the token equals the draft the
    step computed after it); the drafts that were not accepted are
    forgotten. The tokens are those of one token a step.

    With a window cache, a block a sequence holds also has a block of the
    local pool (its local layers' keys and values) while some next token's
    window reaches it: once the sequence is computed past a block by the
    window and one position more, that local block goes back (to the
    prefix cache, published under the block's hash, if it was full). A
    prompt takes cached blocks only as far as the local blocks of the
    window before its first computed position are cached too (vLLM's
    sliding-window prefix rule); the local pool's blocks count as the
    main pool's do for admission and preemption.

    Use: add sequences, then repeatedly schedule a step, run it, commit it
    and append the tokens sampled from its logits rows.
*/
#ifndef XINF_BATCHER_H_INCLUDED
#define XINF_BATCHER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xinf_batch.h"
#include "xinf_spec.h"

typedef struct {
    size_t n_blocks, block_tokens;    //  the KV cache
    size_t max_seqs;                  //  sequences running at once
    size_t step_tokens;               //  tokens a step carries at most
    size_t context;                   //  positions a sequence may reach
    bool prefix_cache;
    size_t max_rows;                  //  logits rows a step may ask (0: max_seqs; at least max_seqs)
    size_t max_hidden;                //  hidden rows a step may ask (0: no limit but step_tokens)
    size_t spec_tokens;               //  drafts a decoding sequence may carry in a step (0: none; at most
                                      //  XINF_SPEC_TOKENS_MAX)
    size_t spec_min_n, spec_max_n;    //  the suffix the drafts are looked up by (0: 2 and 4; xinf_spec_lookup)
    //  A window cache (xinf_kv_cache_new_windowed): the local layers' pool
    //  of n_local_blocks blocks (0: none), and the positions their tokens
    //  attend to (window, at least 1 with a pool)
    size_t n_local_blocks, window;
} xinf_batcher_config_t;

typedef struct {
    size_t running, waiting;
    size_t decoding;                  //  running sequences past their prompt
    size_t preemptions;               //  since the start
    size_t prefix_hit_tokens;         //  prompt tokens taken from the cache
    size_t blocks_available;
    size_t spec_drafts;               //  drafts computed since the start
    size_t spec_accepted;             //  of them, accepted
    size_t local_blocks_available;    //  with a window cache: its local pool's, as blocks_available
} xinf_batcher_stats_t;

typedef struct _xinf_batcher_t xinf_batcher_t;

//  The local blocks one decoding sequence of a window cache may need at
//  once (its window and one position more, over a block boundary): a
//  local pool smaller could stall it, and xinf_batcher_new refuses it.
//  SIZE_MAX without a window.
size_t xinf_batcher_local_minimum (const xinf_batcher_config_t *config);

//  Which of an embedding's prompt positions give hidden rows.
typedef enum { XINF_BATCHER_POOL_NONE = 0, XINF_BATCHER_POOL_MEAN, XINF_BATCHER_POOL_LAST } xinf_batcher_pool_t;

xinf_batcher_t *xinf_batcher_new (const xinf_batcher_config_t *config);
void xinf_batcher_destroy (xinf_batcher_t **self_p);

//  Queues sequence 'id' (unique) with its prompt. -1 with the reason when
//  the prompt can never run: it needs more positions (prompt + 1) than the
//  cache holds or the context allows.
int xinf_batcher_add (xinf_batcher_t *self, uint64_t id, const int32_t *prompt, size_t count,
                      char *error, size_t error_size);
//  Gives sequence 'id', waiting and not yet begun, its priority (lower
//  first), its place in the queue moving to match. -1 if no such sequence
//  waits.
int xinf_batcher_prioritize (xinf_batcher_t *self, uint64_t id, int64_t priority);
//  Serves sequence 'id', waiting and not yet begun, with LoRA adapter
//  'lora' (1-based, the step's batch lora; 0: none): its blocks are
//  shared through the prefix cache only with sequences of the same
//  adapter. -1 if no such sequence waits.
int xinf_batcher_set_lora (xinf_batcher_t *self, uint64_t id, int32_t lora);
//  Has sequence 'id', waiting and not yet begun, score its prompt: a row
//  for each prompt position p but the last, scoring token p + 1 (see
//  xinf_batcher_scores). -1 if no such sequence waits.
int xinf_batcher_score_prompt (xinf_batcher_t *self, uint64_t id);
//  Makes sequence 'id', waiting and not yet begun (nor scored), an
//  embedding pooled as 'pool' (not NONE): hidden rows, no logits rows
//  (xinf_batcher_hidden). -1 if no such sequence waits.
int xinf_batcher_embed_prompt (xinf_batcher_t *self, uint64_t id, xinf_batcher_pool_t pool);
//  Lets sequence 'id' speculate (when the batcher's spec_tokens is not 0)
//  while it has generated fewer than 'limit' tokens in all (its request's
//  max_tokens: no draft beyond the last token it may give); 0: never. -1
//  if unknown.
int xinf_batcher_speculate (xinf_batcher_t *self, uint64_t id, size_t limit);
//  What steps cost, as measured (xinf_spec_cost_t: a line, and steps by
//  their size); drafts are chosen by it. NULL: nothing known yet.
void xinf_batcher_set_cost (xinf_batcher_t *self, const xinf_spec_cost_t *cost);
//  Drops a sequence (finished or cancelled), releasing its blocks; false
//  if unknown. A step in flight may still carry it: its rows are the
//  caller's to ignore.
bool xinf_batcher_remove (xinf_batcher_t *self, uint64_t id);

//  Builds the next step into 'batch' (cleared first). prefill_cap limits
//  the prompt tokens of this step (0: step_tokens). Returns the number of
//  logits rows (their sequence ids in 'out_ids', valid until the next
//  call) and false when nothing can run.
bool xinf_batcher_schedule (xinf_batcher_t *self, xinf_batch_buf_t *batch, size_t prefill_cap,
                            const uint64_t **out_ids, size_t *n_out);
//  The prompt tokens the last scheduled step carries (beside its decode tokens).
size_t xinf_batcher_last_prompt_tokens (xinf_batcher_t *self);
//  Of the last scheduled step's rows, in order: the prompt token each
//  scores, or -1 for a row that samples its sequence's next token.
const int32_t *xinf_batcher_scores (xinf_batcher_t *self);
//  Of the last scheduled step's rows, in order: how many of its
//  sequence's drafts come before the row (0: the row gives the sequence's
//  next token; j: the token after its first j drafts, valid only when
//  they are all accepted; the row's own token in the batch is its j-th
//  draft). A sequence's rows are consecutive.
const uint32_t *xinf_batcher_ahead (xinf_batcher_t *self);
//  Of the last scheduled step, the sequence ids of its hidden rows in
//  order (their count in *n_hid; valid until the next schedule).
const uint64_t *xinf_batcher_hidden (xinf_batcher_t *self, size_t *n_hid);
//  The step ran: its tokens' keys and values are in the cache.
void xinf_batcher_commit (xinf_batcher_t *self);
//  The step failed: nothing it carried was computed.
void xinf_batcher_abandon (xinf_batcher_t *self);
//  Whether sequence 'id' has tokens in the step in flight (false when
//  none is): of a step that crashed, the requests that may have caused it.
bool xinf_batcher_in_step (xinf_batcher_t *self, uint64_t id);
//  A token sampled for sequence 'id': the next one it runs. 1 when it is
//  the draft the step computed after it (the sequence's next row in that
//  step is valid too), 0 when not (the sequence's later rows in that step
//  are not: they followed a draft that was not accepted), -1 if unknown
//  or out of memory.
int xinf_batcher_append (xinf_batcher_t *self, uint64_t id, int32_t token);
//  Of sequence 'id''s prompt, the tokens the prefix cache gave when it was
//  first admitted (whole blocks; a preemption does not change it); 0 if
//  unknown or not admitted yet.
size_t xinf_batcher_cached (xinf_batcher_t *self, uint64_t id);
//  Tokens of sequence 'id' so far (prompt and generated); 0 if unknown.
size_t xinf_batcher_length (xinf_batcher_t *self, uint64_t id);

xinf_batcher_stats_t xinf_batcher_stats (xinf_batcher_t *self);

#endif
