/*  xinf_batcher_private: what the parts of the batcher share (not for use
    outside models/xinf_batcher*.c): its sequences and its state.

    The batcher is two files: xinf_batcher.c (sequences, steps, blocks,
    preemption) and xinf_batcher_spec.c (the drafts of speculating
    sequences: which a step carries, and which of them the tokens accept).
*/
#ifndef XINF_BATCHER_PRIVATE_H_INCLUDED
#define XINF_BATCHER_PRIVATE_H_INCLUDED

#include "xinf_batcher.h"
#include "xinf_blocks.h"
#include "xinf_spec.h"
#include "xinf_spec_pool.h"

typedef struct _xinf_batcher_seq_t xinf_batcher_seq_t;
struct _xinf_batcher_seq_t {
    uint64_t id, order;               //  order: admission order, oldest first
    int64_t priority;                 //  lower first (xinf_batcher_prioritize)
    int32_t lora;                     //  its LoRA adapter (1-based; 0: none)
    int32_t *tokens;                  //  prompt and generated
    size_t count, capacity;
    size_t computed;                  //  positions whose keys and values are cached
    size_t cached;                    //  prompt tokens the prefix cache gave at its first admission
    bool admitted;                    //  it was admitted once (preempted ones come back)
    size_t take;                      //  tokens in the step in flight
    bool score;                       //  its prompt is scored: a row per prompt position
    size_t prompt;                    //  its prompt's tokens
    size_t scored;                    //  with score: prompt positions whose rows were delivered
    xinf_batcher_pool_t pool;         //  an embedding's: its hidden rows, no logits rows
    size_t pooled;                    //  with pool: prompt positions whose hidden rows were delivered
    int32_t *blocks;                  //  block table (max_blocks)
    int32_t *local;                   //  with a window cache: each block's local block, -1 below local_first
    size_t local_first;               //  its blocks before this one hold no local block (out of every window)
    uint64_t *hashes;                 //  chain hashes of the first 'hashed' blocks
    size_t n_blocks, hashed;
    size_t spec_limit;                //  it speculates while it has generated fewer (0: never)
    int32_t *draft;                   //  [spec_tokens]: the drafts looked up, then those the step carried
    size_t n_proposed, n_draft;       //  drafts looked up, and carried by the step being scheduled or in flight
    size_t ahead, matched;            //  after its step: drafts it computed; how many appended tokens matched
    xinf_spec_rate_t rate;            //  how its drafts fared
    xinf_batcher_seq_t *next;         //  in the waiting queue
};

struct _xinf_batcher_t {
    xinf_batcher_config_t config;
    size_t max_blocks;                //  a sequence's longest table
    xinf_blocks_t *blocks;
    xinf_blocks_t *local_blocks;      //  with a window cache: the local layers' pool, else NULL
    xinf_batcher_seq_t **running;     //  [max_seqs], oldest first
    size_t n_running;
    xinf_batcher_seq_t *waiting, *waiting_tail;
    size_t n_waiting;
    uint64_t next_order;
    uint64_t *out_ids;                //  [step_tokens]: the last step's logits rows
    int32_t *out_scores;              //  [step_tokens]: the token each scores, or -1
    uint64_t *hid_ids;                //  [step_tokens]: the last step's hidden rows
    uint32_t *out_ahead;              //  [step_tokens]: the drafts before each logits row
    size_t n_hid;
    xinf_spec_cost_t cost;            //  what steps cost (xinf_batcher_set_cost)
    xinf_spec_pool_t *pool;           //  with spec_tokens: the answers of sequences gone, for drafts
    size_t rows_left;                 //  rows the step being scheduled may still ask
    size_t hidden_left;               //  hidden rows it may still ask
    bool in_flight;
    size_t last_prompt_tokens;
    xinf_batcher_stats_t stats;
};


// ---- xinf_batcher.c ----------------------------------------------------------

//  Blocks an allocation can take now (with a window cache: in both pools).
size_t xinf_batcher_available (xinf_batcher_t *self);
//  Releases seq's blocks from the table's end down to 'keep' (local ones too).
void xinf_batcher_release_to (xinf_batcher_t *self, xinf_batcher_seq_t *seq, size_t keep);
//  Holds blocks for seq's positions [0, positions); false when none are left.
bool xinf_batcher_grow (xinf_batcher_t *self, xinf_batcher_seq_t *seq, size_t positions);

// ---- xinf_batcher_spec.c: drafts ----------------------------------------------

//  The drafts of the step being scheduled, after its decode and prompt
//  tokens ('used' of them), within 'budget' more tokens; how many.
size_t xinf_batcher_schedule_drafts (xinf_batcher_t *self, size_t used, size_t budget);
//  Seq's drafts into the batch after its decode token ('slot' its
//  sequence there), a logits row each (*n_out counts them); -1 when out of memory.
int xinf_batcher_build_drafts (xinf_batcher_t *self, xinf_batch_buf_t *batch, xinf_batcher_seq_t *seq, int slot,
                               size_t *n_out);
//  Seq's step ran: its drafts' keys and values are computed, valid as far
//  as the tokens appended next accept them.
void xinf_batcher_commit_drafts (xinf_batcher_t *self, xinf_batcher_seq_t *seq);
//  Keeps the answer of a speculating sequence that leaves (with the few
//  prompt tokens before it) in the pool, for the drafts of the next.
void xinf_batcher_keep_answer (xinf_batcher_t *self, xinf_batcher_seq_t *seq);
//  Whether 'token', appended to seq, accepts the draft its step computed
//  at that position; a token that does not ends the drafts' run.
bool xinf_batcher_accepts (xinf_batcher_t *self, xinf_batcher_seq_t *seq, int32_t token);

#endif
