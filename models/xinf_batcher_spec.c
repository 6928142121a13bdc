/*  xinf_batcher_spec: the drafts of speculating sequences (part of
    xinf_batcher; xinf_spec.h): looked up, chosen for a step by their
    chance against its cost, built into the batch, and accepted by the
    tokens appended after the step.
*/
#include "xinf_batcher_private.h"

#include <string.h>

#define S_RANKED 256                  //  drafts a step's choice looks at

//  Whether seq decodes in the step being scheduled (its next token alone).
static bool
s_decodes (const xinf_batcher_seq_t *seq)
{
    return seq->take == 1 && seq->count - seq->computed == 1 && !seq->pool;
}

//  The most drafts seq may carry: within spec_tokens, its limit (none
//  past the last token it may generate) and the context.
static size_t
s_draft_room (const xinf_batcher_t *self, const xinf_batcher_seq_t *seq)
{
    size_t generated = seq->count - seq->prompt, room = self->config.spec_tokens;
    if (!seq->spec_limit || generated + 1 >= seq->spec_limit || seq->count >= self->config.context)
        return 0;
    if (room > seq->spec_limit - generated - 1)
        room = seq->spec_limit - generated - 1;
    if (room > self->config.context - seq->count)
        room = self->config.context - seq->count;
    return room;
}

//  The chance of seq's next draft: its rate, to the power of its place.
static double
s_draft_chance (const xinf_batcher_seq_t *seq)
{
    double rate = xinf_spec_rate (&seq->rate), chance = rate;
    for (size_t place = 0; place < seq->n_draft; place++)
        chance *= rate;
    return chance;
}

//  Gives each decoding sequence the most drafts it may carry (as if every
//  lookup found them); the step's expected tokens without them (its
//  decode tokens).
static double
s_draft_rooms (xinf_batcher_t *self)
{
    double gain = 0;
    for (size_t index = 0; index < self->n_running; index++) {
        xinf_batcher_seq_t *seq = self->running [index];
        seq->n_draft = 0;
        seq->n_proposed = s_decodes (seq) ? s_draft_room (self, seq) : 0;
        gain += s_decodes (seq);
    }
    return gain;
}

//  Looks up the drafts of the sequences given room: their own tokens, or
//  the answers of the sequences before them where a longer suffix
//  occurred there.
static void
s_lookup_drafts (xinf_batcher_t *self)
{
    for (size_t index = 0; index < self->n_running; index++) {
        xinf_batcher_seq_t *seq = self->running [index];
        size_t room = seq->n_proposed, own, pooled = 0;
        if (!room)
            continue;
        seq->n_proposed = xinf_spec_lookup (seq->tokens, seq->count, self->config.spec_min_n,
                                            self->config.spec_max_n, seq->draft, room, &own);
        int32_t other [XINF_SPEC_TOKENS_MAX];
        size_t found = own < self->config.spec_max_n && self->pool
                     ? xinf_spec_pool_lookup (self->pool, seq->tokens, seq->count, other, room, &pooled) : 0;
        if (pooled > own) {
            memcpy (seq->draft, other, found * sizeof (int32_t));
            seq->n_proposed = found;
        }
    }
}

//  Holds the block of seq's next draft's position, when it needs one: a
//  free block only, never a cached prefix's (a draft may be wasted, a
//  prefix evicted for it would be computed again). False when none is free.
static bool
s_draft_block (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    size_t positions = seq->count + seq->n_draft + 1;
    if (seq->n_blocks * self->config.block_tokens >= positions)
        return true;
    return xinf_blocks_free (self->blocks) > 0 && (!self->local_blocks || xinf_blocks_free (self->local_blocks) > 0)
        && xinf_batcher_grow (self, seq, positions);
}

//  The drafts in the order they would go in, the likeliest first (each
//  sequence's in their order): their sequences in picks, chances in
//  chances, at most 'max'; how many. Counts on n_draft, left at 0.
static size_t
s_rank_drafts (xinf_batcher_t *self, xinf_batcher_seq_t **picks, double *chances, size_t max)
{
    size_t count = 0;
    while (count < max) {
        xinf_batcher_seq_t *best = NULL;
        double best_chance = 0;
        for (size_t index = 0; index < self->n_running; index++) {
            xinf_batcher_seq_t *seq = self->running [index];
            double chance = seq->n_draft < seq->n_proposed ? s_draft_chance (seq) : 0;
            if (chance > best_chance) {
                best = seq;
                best_chance = chance;
            }
        }
        if (!best)
            break;
        picks [count] = best;
        chances [count++] = best_chance;
        best->n_draft++;
    }
    for (size_t index = 0; index < self->n_running; index++)
        self->running [index]->n_draft = 0;
    return count;
}

//  The drafts of the step being scheduled: the number of the likeliest
//  that gives the step the most expected tokens per millisecond
//  (xinf_spec_choose), within its budget of tokens, its rows and free KV
//  blocks (drafts never preempt).
size_t
xinf_batcher_schedule_drafts (xinf_batcher_t *self, size_t step_used, size_t budget)
{
    if (!self->config.spec_tokens)
        return 0;
    double gain = s_draft_rooms (self);
    xinf_batcher_seq_t *picks [S_RANKED];
    double chances [S_RANKED];
    size_t max = budget < self->rows_left ? budget : self->rows_left;
    max = max < S_RANKED ? max : S_RANKED;
    //  No lookups where even every draft found would not pay (a step bound by compute)
    size_t ranked = s_rank_drafts (self, picks, chances, max);
    if (xinf_spec_choose (&self->cost, step_used, gain, chances, ranked) == 0)
        return 0;
    s_lookup_drafts (self);
    ranked = s_rank_drafts (self, picks, chances, max);
    size_t chosen = xinf_spec_choose (&self->cost, step_used, gain, chances, ranked), used = 0;
    for (size_t index = 0; index < chosen; index++) {
        xinf_batcher_seq_t *seq = picks [index];
        if (seq->n_draft < seq->n_proposed && s_draft_block (self, seq)) {
            seq->n_draft++;
            self->rows_left--;
            used++;
        }
        else
            seq->n_proposed = seq->n_draft;        //  no block for it: no more drafts for this one
    }
    return used;
}

//  Seq's drafts after its decode token, a logits row each.
int
xinf_batcher_build_drafts (xinf_batcher_t *self, xinf_batch_buf_t *batch, xinf_batcher_seq_t *seq, int slot, size_t *n_out)
{
    for (size_t place = 0; place < seq->n_draft; place++) {
        if (xinf_batch_buf_add_token (batch, seq->draft [place], (int32_t) (seq->count + place), slot, true))
            return -1;
        self->out_scores [*n_out] = -1;
        self->out_ahead [*n_out] = (uint32_t) place + 1;
        self->out_ids [(*n_out)++] = seq->id;
    }
    return 0;
}

void
xinf_batcher_keep_answer (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    if (!self->pool || !seq->spec_limit || seq->count <= seq->prompt)
        return;
    size_t context = seq->prompt < self->config.spec_max_n ? seq->prompt : self->config.spec_max_n;
    xinf_spec_pool_add (self->pool, seq->tokens + seq->prompt - context, seq->count - seq->prompt + context);
}

void
xinf_batcher_commit_drafts (xinf_batcher_t *self, xinf_batcher_seq_t *seq)
{
    if (seq->n_draft) {
        seq->ahead = seq->n_draft;
        seq->matched = 0;
        self->stats.spec_drafts += seq->n_draft;
    }
    else
    if (s_decodes (seq) && seq->spec_limit)
        xinf_spec_rate_add (&seq->rate, 0, 0);
}

bool
xinf_batcher_accepts (xinf_batcher_t *self, xinf_batcher_seq_t *seq, int32_t token)
{
    bool accepted = seq->matched < seq->ahead && seq->computed == seq->count && token == seq->draft [seq->matched];
    if (accepted) {
        seq->matched++;
        self->stats.spec_accepted++;
    }
    else
    if (seq->ahead) {                 //  the run ends: those compared, up to the first that differed
        xinf_spec_rate_add (&seq->rate, seq->matched, seq->matched + (seq->matched < seq->ahead));
        seq->ahead = 0;
    }
    return accepted;
}
