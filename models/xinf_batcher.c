/*  xinf_batcher: continuous batching: steps, blocks, preemption.  */
#include "xinf_batcher_private.h"
#include "xinf_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static xinf_batcher_seq_t *s_find (xinf_batcher_t *self, uint64_t id);

//  Whether a goes before b: a lower priority value, then admitted first.
static bool
s_before (const xinf_batcher_seq_t *a, const xinf_batcher_seq_t *b)
{
    return a->priority != b->priority ? a->priority < b->priority : a->order < b->order;
}

//  Into the waiting queue by priority, then age.
static void
s_insert_waiting (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    xinf_batcher_seq_t *prev = NULL, *at = self->waiting;
    while (at && s_before (at, seq)) {
        prev = at;
        at = at->next;
    }
    seq->next = at;
    if (prev)
        prev->next = seq;
    else
        self->waiting = seq;
    if (!at)
        self->waiting_tail = seq;
    self->n_waiting++;
}

static void
s_seq_destroy (xinf_batcher_seq_t **seq_p)
{
    if (*seq_p) {
        free ((*seq_p)->tokens);
        free ((*seq_p)->blocks);
        free ((*seq_p)->local);
        free ((*seq_p)->hashes);
        free ((*seq_p)->draft);
        free (*seq_p);
        *seq_p = NULL;
    }
}

size_t
xinf_batcher_local_minimum (const xinf_batcher_config_t *config)
{
    if (!config->window || !config->block_tokens)
        return SIZE_MAX;              //  a local pool needs a window
    return (config->window + config->block_tokens - 1) / config->block_tokens + 1;
}

xinf_batcher_t *
xinf_batcher_new (const xinf_batcher_config_t *config)
{
    if (!config->n_blocks || !config->block_tokens || !config->max_seqs || !config->step_tokens || !config->context
    ||  (config->n_local_blocks && xinf_batcher_local_minimum (config) > config->n_local_blocks))
        return NULL;
    xinf_batcher_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    if (self->config.spec_tokens > XINF_SPEC_TOKENS_MAX)
        self->config.spec_tokens = XINF_SPEC_TOKENS_MAX;
    if (!self->config.spec_min_n || !self->config.spec_max_n) {
        self->config.spec_min_n = 2;
        self->config.spec_max_n = 4;
    }
    if (self->config.spec_max_n > XINF_SPEC_NGRAM_MAX)
        self->config.spec_max_n = XINF_SPEC_NGRAM_MAX;
    if (self->config.spec_min_n > self->config.spec_max_n)
        self->config.spec_min_n = self->config.spec_max_n;
    if (self->config.max_rows < config->max_seqs)
        self->config.max_rows = config->max_seqs;
    size_t capacity = config->n_blocks * config->block_tokens;
    if (self->config.context > capacity)
        self->config.context = capacity;
    self->max_blocks = (self->config.context + config->block_tokens - 1) / config->block_tokens;
    self->blocks = xinf_blocks_new (config->n_blocks, config->block_tokens);
    if (config->n_local_blocks)
        self->local_blocks = xinf_blocks_new (config->n_local_blocks, config->block_tokens);
    self->running = calloc (config->max_seqs, sizeof (xinf_batcher_seq_t *));
    self->out_ids = calloc (config->step_tokens, sizeof (uint64_t));
    self->out_scores = calloc (config->step_tokens, sizeof (int32_t));
    self->hid_ids = calloc (config->step_tokens, sizeof (uint64_t));
    self->out_ahead = calloc (config->step_tokens, sizeof (uint32_t));
    if (self->config.spec_tokens)
        self->pool = xinf_spec_pool_new (XINF_SPEC_POOL_TOKENS, self->config.spec_min_n, self->config.spec_max_n);
    if (!self->blocks || !self->running || !self->out_ids || !self->out_scores || !self->hid_ids || !self->out_ahead
    ||  (self->config.spec_tokens && !self->pool) || (config->n_local_blocks && !self->local_blocks))
        xinf_batcher_destroy (&self);
    return self;
}

void
xinf_batcher_destroy (xinf_batcher_t **self_p)
{
    if (self_p && *self_p) {
        xinf_batcher_t *self = *self_p;
        for (size_t index = 0; index < self->n_running; index++)
            s_seq_destroy (&self->running [index]);
        while (self->waiting) {
            xinf_batcher_seq_t *seq = self->waiting;
            self->waiting = seq->next;
            s_seq_destroy (&seq);
        }
        xinf_blocks_destroy (&self->blocks);
        xinf_blocks_destroy (&self->local_blocks);
        xinf_spec_pool_destroy (&self->pool);
        free (self->running);
        free (self->out_ids);
        free (self->out_scores);
        free (self->hid_ids);
        free (self->out_ahead);
        free (self);
        *self_p = NULL;
    }
}

int
xinf_batcher_add (xinf_batcher_t *self, uint64_t id, const int32_t *prompt, size_t count, char *error, size_t error_size)
{
    if (count == 0)
        return xinf_fail (error, error_size, "the prompt is empty");
    if (count + 1 > self->config.context)
        return xinf_fail (error, error_size, "the prompt's %zu tokens and one generated token need %zu positions; "
                       "this replica holds %zu (KV cache %zu blocks of %zu, context %zu)", count, count + 1,
                       self->config.context, self->config.n_blocks, self->config.block_tokens, self->config.context);
    xinf_batcher_seq_t *seq = calloc (1, sizeof *seq);
    if (seq) {
        seq->capacity = count + 16;
        seq->tokens = malloc (seq->capacity * sizeof (int32_t));
        seq->blocks = malloc (self->max_blocks * sizeof (int32_t));
        seq->hashes = malloc (self->max_blocks * sizeof (uint64_t));
        seq->draft = malloc ((self->config.spec_tokens + 1) * sizeof (int32_t));
        if (self->local_blocks)
            seq->local = malloc (self->max_blocks * sizeof (int32_t));
    }
    if (!seq || !seq->tokens || !seq->blocks || !seq->hashes || !seq->draft || (self->local_blocks && !seq->local)) {
        s_seq_destroy (&seq);
        return xinf_fail (error, error_size, "out of memory for a sequence of %zu tokens", count);
    }
    memcpy (seq->tokens, prompt, count * sizeof (int32_t));
    seq->count = seq->prompt = count;
    seq->id = id;
    seq->order = self->next_order++;
    s_insert_waiting (self, seq);
    return 0;
}

void
xinf_batcher_release_to (xinf_batcher_t *self, xinf_batcher_seq_t *seq, size_t keep)
{
    while (seq->n_blocks > keep) {
        seq->n_blocks--;
        xinf_blocks_release (self->blocks, seq->blocks [seq->n_blocks]);
        if (self->local_blocks && seq->local [seq->n_blocks] >= 0)
            xinf_blocks_release (self->local_blocks, seq->local [seq->n_blocks]);
    }
    if (seq->local_first > seq->n_blocks)
        seq->local_first = seq->n_blocks;
}

size_t
xinf_batcher_available (xinf_batcher_t *self)
{
    size_t main = xinf_blocks_available (self->blocks);
    size_t local = self->local_blocks ? xinf_blocks_available (self->local_blocks) : main;
    return main < local ? main : local;
}

//  Releases a sequence's blocks, the last first (so the cache evicts a
//  prefix's tail before its head).
static void
s_release_blocks (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    xinf_batcher_release_to (self, seq, 0);
    seq->computed = seq->hashed = seq->take = 0;
    seq->n_proposed = seq->n_draft = seq->ahead = 0;
}

static void
s_unlink_running (xinf_batcher_t *self, size_t index)
{
    memmove (self->running + index, self->running + index + 1, (self->n_running - index - 1) * sizeof (xinf_batcher_seq_t *));
    self->n_running--;
}

static xinf_batcher_seq_t *
s_unlink_waiting (xinf_batcher_t *self, uint64_t id)
{
    xinf_batcher_seq_t *prev = NULL;
    for (xinf_batcher_seq_t *seq = self->waiting; seq; prev = seq, seq = seq->next)
        if (seq->id == id) {
            if (prev)
                prev->next = seq->next;
            else
                self->waiting = seq->next;
            if (self->waiting_tail == seq)
                self->waiting_tail = prev;
            seq->next = NULL;
            self->n_waiting--;
            return seq;
        }
    return NULL;
}

int
xinf_batcher_prioritize (xinf_batcher_t *self, uint64_t id, int64_t priority)
{
    xinf_batcher_seq_t *seq = s_unlink_waiting (self, id);
    if (!seq)
        return -1;
    if (seq->n_blocks == 0 && seq->count == seq->prompt)
        seq->priority = priority;
    s_insert_waiting (self, seq);
    return seq->priority == priority ? 0 : -1;
}

int
xinf_batcher_set_lora (xinf_batcher_t *self, uint64_t id, int32_t lora)
{
    for (xinf_batcher_seq_t *seq = self->waiting; seq && lora >= 0; seq = seq->next)
        if (seq->id == id && seq->n_blocks == 0 && seq->count == seq->prompt) {
            seq->lora = lora;
            return 0;
        }
    return -1;
}

//  The parent of a sequence's first block in the prefix cache: 0, or for
//  an adapter's sequences a value of their own, so that keys and values
//  computed with one adapter (or none) are never reused with another.
static uint64_t
s_root (const xinf_batcher_seq_t *seq)
{
    return (uint64_t) seq->lora * 0x9e3779b97f4a7c15ull;
}

int
xinf_batcher_score_prompt (xinf_batcher_t *self, uint64_t id)
{
    for (xinf_batcher_seq_t *seq = self->waiting; seq; seq = seq->next)
        if (seq->id == id && seq->n_blocks == 0 && seq->count == seq->prompt) {
            seq->score = true;
            return 0;
        }
    return -1;
}

int
xinf_batcher_embed_prompt (xinf_batcher_t *self, uint64_t id, xinf_batcher_pool_t pool)
{
    for (xinf_batcher_seq_t *seq = self->waiting; seq; seq = seq->next)
        if (seq->id == id && seq->n_blocks == 0 && seq->count == seq->prompt && !seq->score && pool) {
            seq->pool = pool;
            return 0;
        }
    return -1;
}

int
xinf_batcher_speculate (xinf_batcher_t *self, uint64_t id, size_t limit)
{
    xinf_batcher_seq_t *seq = s_find (self, id);
    if (!seq)
        return -1;
    seq->spec_limit = limit;
    return 0;
}

void
xinf_batcher_set_cost (xinf_batcher_t *self, const xinf_spec_cost_t *cost)
{
    memset (&self->cost, 0, sizeof self->cost);
    if (!cost)
        return;
    self->cost.fixed_ms = cost->fixed_ms > 0 ? cost->fixed_ms : 0;       //  NaN too
    self->cost.per_token_ms = cost->per_token_ms > 0 ? cost->per_token_ms : 0;
    for (size_t size = 0; size < XINF_SPEC_SIZES; size++)
        self->cost.measured_ms [size] = cost->measured_ms [size] > 0 ? cost->measured_ms [size] : 0;
}

bool
xinf_batcher_remove (xinf_batcher_t *self, uint64_t id)
{
    for (size_t index = 0; index < self->n_running; index++)
        if (self->running [index]->id == id) {
            xinf_batcher_seq_t *seq = self->running [index];
            s_unlink_running (self, index);
            xinf_batcher_keep_answer (self, seq);
            s_release_blocks (self, seq);
            s_seq_destroy (&seq);
            return true;
        }
    xinf_batcher_seq_t *seq = s_unlink_waiting (self, id);
    if (!seq)
        return false;
    xinf_batcher_keep_answer (self, seq);            //  a preempted one has tokens of its own
    s_release_blocks (self, seq);
    s_seq_destroy (&seq);
    return true;
}

//  Back to the queue (before every newer sequence of its priority), to be
//  recomputed from its tokens so far.
static void
s_preempt (xinf_batcher_t *self, size_t index)
{
    xinf_batcher_seq_t *seq = self->running [index];
    s_unlink_running (self, index);
    s_release_blocks (self, seq);
    s_insert_waiting (self, seq);
    self->stats.preemptions++;
}

//  Whether a running sequence's prompt is still being computed (a step
//  admits none beside it unless it ends in that step).
static bool
s_prefilling (const xinf_batcher_t *self)
{
    for (size_t index = 0; index < self->n_running; index++)
        if (self->running [index]->count - self->running [index]->computed > 1)
            return true;
    return false;
}

//  A waiting sequence of a lower priority value than the last running one
//  takes its place when every place is taken or no block is free: that one
//  is preempted (recomputed later), as many as it takes. Not while a
//  running prompt is computed: the waiting one could not be admitted
//  beside it, and the place would stay empty.
static void
s_preempt_for_priority (xinf_batcher_t *self)
{
    while (self->waiting && self->n_running > 0 && !s_prefilling (self)
    &&     self->waiting->priority < self->running [self->n_running - 1]->priority
    &&     (self->n_running >= self->config.max_seqs || xinf_batcher_available (self) == 0))
        s_preempt (self, self->n_running - 1);
}

bool
xinf_batcher_grow (xinf_batcher_t *self, xinf_batcher_seq_t *seq, size_t positions)
{
    while (seq->n_blocks * self->config.block_tokens < positions) {
        int32_t block = xinf_blocks_alloc (self->blocks);
        if (block < 0)
            return false;
        if (self->local_blocks) {
            int32_t local = xinf_blocks_alloc (self->local_blocks);
            if (local < 0) {
                xinf_blocks_release (self->blocks, block);
                return false;
            }
            seq->local [seq->n_blocks] = local;
        }
        seq->blocks [seq->n_blocks++] = block;
    }
    return true;
}

//  Up to 'want' next tokens of seq that blocks can be found for (no
//  preemption); returns how many, with their blocks held.
static size_t
s_fit (xinf_batcher_t *self, xinf_batcher_seq_t *seq, size_t want)
{
    size_t tokens = self->config.block_tokens;
    size_t room = seq->n_blocks * tokens - seq->computed + xinf_batcher_available (self) * tokens;
    size_t fit = want < room ? want : room;
    xinf_batcher_grow (self, seq, seq->computed + fit);
    return fit;
}

//  A decoding sequence's next slot, preempting the newest other sequences
//  while blocks are short; false when the sequence itself was preempted.
static bool
s_decode_slot (xinf_batcher_t *self, size_t index)
{
    xinf_batcher_seq_t *seq = self->running [index];
    while (!xinf_batcher_grow (self, seq, seq->computed + 1)) {
        size_t victim = self->n_running - 1;
        if (victim == index) {
            s_preempt (self, index);
            return false;
        }
        s_preempt (self, victim);
    }
    return true;
}

//  Takes the local blocks of the window before seq's cached blocks' end
//  (the positions its first computed token attends to) from the local
//  prefix cache; where one is not cached there, gives back the cached
//  blocks from it on and tries the shorter prefix.
static void
s_match_window (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    size_t tokens = self->config.block_tokens, window = self->config.window;
    seq->local_first = 0;
    while (seq->n_blocks > 0) {
        size_t end = seq->n_blocks * tokens;
        size_t first = (end + 1 > window ? end + 1 - window : 0) / tokens, block = first;
        for (; block < seq->n_blocks; block++) {
            uint64_t parent = block ? seq->hashes [block - 1] : s_root (seq);
            seq->local [block] = xinf_blocks_lookup (self->local_blocks, seq->hashes [block], parent,
                                                     seq->tokens + block * tokens);
            if (seq->local [block] < 0)
                break;
        }
        if (block == seq->n_blocks) {
            for (size_t before = 0; before < first; before++)
                seq->local [before] = -1;
            seq->local_first = first;
            return;
        }
        //  Block's local block is not cached: the prefix ends before it
        for (size_t held = first; held < block; held++)
            xinf_blocks_release (self->local_blocks, seq->local [held]);
        for (size_t index = 0; index < seq->n_blocks; index++)
            seq->local [index] = -1;
        xinf_batcher_release_to (self, seq, block);
    }
}

//  Takes the prompt's whole blocks the prefix cache holds (leaving at
//  least one token to compute, for its logits or its last hidden row);
//  none for a prompt whose every position gives a row.
static void
s_match_prefix (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    size_t tokens = self->config.block_tokens;
    size_t limit = (seq->count - 1) / tokens;
    uint64_t parent = s_root (seq);
    bool whole = seq->score || seq->pool == XINF_BATCHER_POOL_MEAN;
    while (self->config.prefix_cache && !whole && seq->n_blocks < limit) {
        const int32_t *chunk = seq->tokens + seq->n_blocks * tokens;
        uint64_t hash = xinf_blocks_hash (parent, chunk, tokens);
        int32_t block = xinf_blocks_lookup (self->blocks, hash, parent, chunk);
        if (block < 0)
            break;
        seq->hashes [seq->n_blocks] = hash;
        seq->blocks [seq->n_blocks++] = block;
        parent = hash;
    }
    if (self->local_blocks)
        s_match_window (self, seq);
    seq->computed = seq->n_blocks * tokens;
    seq->hashed = seq->n_blocks;
    self->stats.prefix_hit_tokens += seq->computed;
    if (!seq->admitted)
        seq->cached = seq->computed;
    seq->admitted = true;
}

//  Places seq among the running ones by priority, then admission order.
static void
s_insert_running (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    size_t at = self->n_running;
    while (at > 0 && s_before (seq, self->running [at - 1]))
        at--;
    memmove (self->running + at + 1, self->running + at, (self->n_running - at) * sizeof (xinf_batcher_seq_t *));
    self->running [at] = seq;
    self->n_running++;
}

//  Whether position 'pos' of seq gets a logits row: the last (its next
//  token is sampled) or a scored prompt position.
static bool
s_row_at (const xinf_batcher_seq_t *seq, size_t pos)
{
    return !seq->pool && (pos + 1 == seq->count || (seq->score && pos >= seq->scored && pos + 1 < seq->prompt));
}

//  Whether position 'pos' of an embedding's prompt gives a hidden row not
//  yet delivered: every position (mean) or the last.
static bool
s_hidden_at (const xinf_batcher_seq_t *seq, size_t pos)
{
    return seq->pool && pos >= seq->pooled && pos < seq->prompt
        && (seq->pool == XINF_BATCHER_POOL_MEAN || pos + 1 == seq->prompt);
}

//  The first position of seq's next tokens that may be scored.
static size_t
s_score_start (const xinf_batcher_seq_t *seq)
{
    return seq->computed > seq->scored ? seq->computed : seq->scored;
}

//  The logits rows seq's next 'take' tokens ask.
static size_t
s_rows (const xinf_batcher_seq_t *seq, size_t take)
{
    size_t end = seq->computed + take, start = s_score_start (seq);
    size_t last = seq->prompt - 1;                 //  scored positions: [start, last)
    size_t scored = seq->score && end > start && last > start ? (end < last ? end : last) - start : 0;
    return seq->pool ? 0 : scored + (end == seq->count);
}

//  The hidden rows seq's next 'take' tokens ask (an embedding's).
static size_t
s_hidden_rows (const xinf_batcher_seq_t *seq, size_t take)
{
    size_t start = seq->computed > seq->pooled ? seq->computed : seq->pooled, end = seq->computed + take;
    if (end > seq->prompt)
        end = seq->prompt;
    if (!seq->pool || end <= start)
        return 0;
    return seq->pool == XINF_BATCHER_POOL_MEAN ? end - start : end == seq->prompt;
}

//  The most of seq's next 'want' tokens whose hidden rows fit in the step's.
static size_t
s_hidden_fit (xinf_batcher_t *self, const xinf_batcher_seq_t *seq, size_t want)
{
    while (want > 0 && s_hidden_rows (seq, want) > self->hidden_left) {
        size_t start = seq->computed > seq->pooled ? seq->computed : seq->pooled;
        size_t fit = seq->pool == XINF_BATCHER_POOL_MEAN ? start - seq->computed + self->hidden_left
                                                           : seq->prompt - 1 - seq->computed;
        want = fit < want ? fit : want - 1;
    }
    return want;
}

//  The most of seq's next 'want' tokens whose rows fit in the step's.
static size_t
s_rows_fit (xinf_batcher_t *self, const xinf_batcher_seq_t *seq, size_t want)
{
    size_t start = s_score_start (seq);
    if (seq->score && start + 1 < seq->prompt && want > start - seq->computed + self->rows_left)
        want = start - seq->computed + self->rows_left;
    while (want > 0 && s_rows (seq, want) > self->rows_left)
        want--;                                    //  at most twice: the sampling row
    return want;
}

//  Seq's next chunk of its prompt within 'room' tokens, the step's rows
//  and the blocks left (held for it), its rows counted; its size.
static size_t
s_take_chunk (xinf_batcher_t *self, xinf_batcher_seq_t *seq, size_t room)
{
    size_t left = seq->count - seq->computed;
    size_t take = s_fit (self, seq, s_hidden_fit (self, seq, s_rows_fit (self, seq, left < room ? left : room)));
    self->rows_left -= s_rows (seq, take);
    self->hidden_left -= s_hidden_rows (seq, take);
    return take;
}

//  The decode tokens of running sequences, oldest first.
static size_t
s_schedule_decodes (xinf_batcher_t *self, size_t budget)
{
    size_t used = 0, index = 0;
    while (index < self->n_running && used < budget) {
        xinf_batcher_seq_t *seq = self->running [index];
        if (seq->computed == seq->count && !seq->pool)
            seq->computed--;          //  its last token's row was never taken: computed again
        if (seq->count - seq->computed != 1 || s_hidden_rows (seq, 1) > self->hidden_left)
            index++;
        else
        if (s_decode_slot (self, index)) {
            seq->take = 1;
            used++;
            index++;
            self->rows_left--;
            self->hidden_left -= s_hidden_rows (seq, 1);
        }
        //  else it was preempted: this index now holds the next sequence
    }
    return used;
}

//  Prompt chunks: of running sequences, then of newly admitted ones. A
//  sequence is admitted only while every running prompt is scheduled to
//  its end: a prompt cut short (by the budget, its blocks or the step's
//  rows) holds its blocks, and two such prompts could hold them all with
//  neither able to go on (prompts never preempt; decodes do).
static size_t
s_schedule_prompts (xinf_batcher_t *self, size_t budget)
{
    size_t used = 0;
    bool whole = true;                //  every running prompt scheduled to its end
    for (size_t index = 0; index < self->n_running && used < budget; index++) {
        xinf_batcher_seq_t *seq = self->running [index];
        size_t left = seq->count - seq->computed;
        if (seq->take || left <= 1)
            continue;
        seq->take = s_take_chunk (self, seq, budget - used);
        used += seq->take;
        whole = whole && seq->take == left;
    }
    while (whole && self->waiting && self->n_running < self->config.max_seqs && used < budget) {
        xinf_batcher_seq_t *seq = self->waiting;
        if (seq->n_blocks == 0)
            s_match_prefix (self, seq);
        size_t take = s_take_chunk (self, seq, budget - used);
        if (take == 0) {
            s_release_blocks (self, seq);
            break;
        }
        s_unlink_waiting (self, seq->id);
        whole = take == seq->count - seq->computed;
        seq->take = take;
        s_insert_running (self, seq);
        used += take;
    }
    return used;
}

//  The step's tokens, sequence by sequence, into the batch.
static size_t
s_build (xinf_batcher_t *self, xinf_batch_buf_t *batch)
{
    size_t n_out = 0, tokens = self->config.block_tokens;
    self->n_hid = 0;
    for (size_t index = 0; index < self->n_running; index++) {
        xinf_batcher_seq_t *seq = self->running [index];
        if (!seq->take)
            continue;
        size_t end = seq->computed + seq->take, last = end + seq->n_draft;
        int slot = xinf_batch_buf_add_seq_windowed (batch, seq->blocks, seq->local, (last + tokens - 1) / tokens);
        if (slot >= 0 && seq->lora && xinf_batch_buf_set_lora (batch, slot, seq->lora))
            slot = -1;
        for (size_t pos = seq->computed; slot >= 0 && pos < end; pos++) {
            bool logits = s_row_at (seq, pos);
            if (xinf_batch_buf_add_token (batch, seq->tokens [pos], (int32_t) pos, slot, logits))
                slot = -1;
            else
            if (logits) {
                self->out_scores [n_out] = pos + 1 < seq->count ? seq->tokens [pos + 1] : -1;
                self->out_ahead [n_out] = 0;
                self->out_ids [n_out++] = seq->id;
            }
            if (slot >= 0 && s_hidden_at (seq, pos)) {
                if (xinf_batch_buf_add_hidden (batch))
                    slot = -1;
                else
                    self->hid_ids [self->n_hid++] = seq->id;
            }
        }
        if (slot < 0 || xinf_batcher_build_drafts (self, batch, seq, slot, &n_out))
            return SIZE_MAX;
    }
    return n_out;
}

bool
xinf_batcher_schedule (xinf_batcher_t *self, xinf_batch_buf_t *batch, size_t prefill_cap,
                       const uint64_t **out_ids, size_t *n_out)
{
    xinf_batch_buf_clear (batch);
    *n_out = 0;
    *out_ids = self->out_ids;
    self->n_hid = 0;
    if (self->in_flight)
        return false;
    for (size_t index = 0; index < self->n_running; index++) {
        self->running [index]->take = self->running [index]->n_draft = 0;
        self->running [index]->ahead = 0;
    }
    s_preempt_for_priority (self);
    self->rows_left = self->config.max_rows;
    self->hidden_left = self->config.max_hidden ? self->config.max_hidden : self->config.step_tokens;
    size_t step = self->config.step_tokens;
    size_t decodes = s_schedule_decodes (self, step);
    size_t cap = prefill_cap && prefill_cap < step - decodes ? prefill_cap : step - decodes;
    self->last_prompt_tokens = s_schedule_prompts (self, cap);
    if (decodes + self->last_prompt_tokens == 0)
        return false;
    size_t used = decodes + self->last_prompt_tokens;
    xinf_batcher_schedule_drafts (self, used, step - used);
    size_t rows = s_build (self, batch);
    if (rows == SIZE_MAX) {           //  out of memory: nothing runs
        xinf_batcher_abandon (self);
        xinf_batch_buf_clear (batch);
        return false;
    }
    *n_out = rows;
    self->in_flight = true;
    return true;
}

size_t xinf_batcher_last_prompt_tokens (xinf_batcher_t *self) { return self->last_prompt_tokens; }
const int32_t *xinf_batcher_scores (xinf_batcher_t *self) { return self->out_scores; }
const uint32_t *xinf_batcher_ahead (xinf_batcher_t *self) { return self->out_ahead; }

const uint64_t *
xinf_batcher_hidden (xinf_batcher_t *self, size_t *n_hid)
{
    *n_hid = self->n_hid;
    return self->hid_ids;
}

//  Publishes the sequence's blocks that are now full and computed.
static void
s_publish (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    size_t tokens = self->config.block_tokens;
    for (size_t block = seq->hashed; block < seq->computed / tokens; block++) {
        uint64_t parent = block ? seq->hashes [block - 1] : s_root (seq);
        const int32_t *chunk = seq->tokens + block * tokens;
        seq->hashes [block] = xinf_blocks_hash (parent, chunk, tokens);
        if (self->config.prefix_cache)
            xinf_blocks_publish (self->blocks, seq->blocks [block], seq->hashes [block], parent, chunk);
        if (self->config.prefix_cache && self->local_blocks && seq->local [block] >= 0)
            xinf_blocks_publish (self->local_blocks, seq->local [block], seq->hashes [block], parent, chunk);
        seq->hashed = block + 1;
    }
}

//  Gives back the local blocks no next token's window reaches: those
//  wholly before computed - window (a last token computed again attends
//  from there).
static void
s_slide (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    if (!self->local_blocks)
        return;
    size_t tokens = self->config.block_tokens;
    size_t reach = seq->computed > self->config.window ? seq->computed - self->config.window : 0;
    while (seq->local_first < seq->n_blocks && (seq->local_first + 1) * tokens <= reach) {
        if (seq->local [seq->local_first] >= 0)
            xinf_blocks_release (self->local_blocks, seq->local [seq->local_first]);
        seq->local [seq->local_first++] = -1;
    }
}

void
xinf_batcher_commit (xinf_batcher_t *self)
{
    for (size_t index = 0; index < self->n_running; index++) {
        xinf_batcher_seq_t *seq = self->running [index];
        xinf_batcher_commit_drafts (self, seq);
        seq->computed += seq->take;
        seq->take = seq->n_draft = 0;
        if (seq->score && seq->computed > seq->scored)
            seq->scored = seq->computed < seq->prompt - 1 ? seq->computed : seq->prompt - 1;
        if (seq->pool && seq->computed > seq->pooled)
            seq->pooled = seq->computed < seq->prompt ? seq->computed : seq->prompt;
        s_publish (self, seq);
        s_slide (self, seq);
    }
    self->in_flight = false;
}

//  Releases the blocks past the sequence's tokens (held for drafts that
//  were not accepted), so that they go to other sequences.
static void
s_trim_blocks (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    size_t keep = (seq->count + self->config.block_tokens - 1) / self->config.block_tokens;
    xinf_batcher_release_to (self, seq, keep > seq->hashed ? keep : seq->hashed);
}

void
xinf_batcher_abandon (xinf_batcher_t *self)
{
    for (size_t index = 0; index < self->n_running; index++) {
        xinf_batcher_seq_t *seq = self->running [index];
        if (seq->n_draft)             //  the blocks its drafts took go back
            s_trim_blocks (self, seq);
        seq->take = seq->n_draft = 0;
    }
    self->in_flight = false;
}

static xinf_batcher_seq_t *
s_running (xinf_batcher_t *self, uint64_t id)
{
    for (size_t index = 0; index < self->n_running; index++)
        if (self->running [index]->id == id)
            return self->running [index];
    return NULL;
}

bool
xinf_batcher_in_step (xinf_batcher_t *self, uint64_t id)
{
    xinf_batcher_seq_t *seq = self->in_flight ? s_running (self, id) : NULL;
    return seq && seq->take > 0;
}

int
xinf_batcher_append (xinf_batcher_t *self, uint64_t id, int32_t token)
{
    xinf_batcher_seq_t *seq = s_running (self, id);
    if (!seq)
        return -1;
    //  The step computed a draft here: the token accepts it (its row after
    //  it is valid too), or ends the drafts' run
    bool drafted = seq->ahead > 0, accepted = xinf_batcher_accepts (self, seq, token);
    if (seq->count == seq->capacity) {
        size_t capacity = seq->capacity * 2;
        int32_t *tokens = realloc (seq->tokens, capacity * sizeof (int32_t));
        if (!tokens)
            return -1;
        seq->tokens = tokens;
        seq->capacity = capacity;
    }
    seq->tokens [seq->count++] = token;
    if (drafted && !accepted)
        s_trim_blocks (self, seq);
    if (!accepted)
        return 0;
    seq->computed++;                  //  the draft's keys and values: a block they fill is a prefix too
    s_publish (self, seq);
    s_slide (self, seq);
    return 1;
}

//  Sequence 'id', running or waiting, or NULL.
static xinf_batcher_seq_t *
s_find (xinf_batcher_t *self, uint64_t id)
{
    xinf_batcher_seq_t *seq = s_running (self, id);
    for (xinf_batcher_seq_t *waiting = self->waiting; !seq && waiting; waiting = waiting->next)
        if (waiting->id == id)
            seq = waiting;
    return seq;
}

size_t
xinf_batcher_length (xinf_batcher_t *self, uint64_t id)
{
    xinf_batcher_seq_t *seq = s_find (self, id);
    return seq ? seq->count : 0;
}

size_t
xinf_batcher_cached (xinf_batcher_t *self, uint64_t id)
{
    xinf_batcher_seq_t *seq = s_find (self, id);
    return seq ? seq->cached : 0;
}

xinf_batcher_stats_t
xinf_batcher_stats (xinf_batcher_t *self)
{
    xinf_batcher_stats_t stats = self->stats;
    stats.running = self->n_running;
    for (size_t index = 0; index < self->n_running; index++)
        stats.decoding += self->running [index]->count - self->running [index]->computed == 1;
    stats.waiting = self->n_waiting;
    stats.blocks_available = xinf_blocks_available (self->blocks);
    stats.local_blocks_available = self->local_blocks ? xinf_blocks_available (self->local_blocks) : 0;
    return stats;
}
