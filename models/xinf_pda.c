/*  xinf_pda: positions of a recursive GBNF grammar, interned and stepped
    (xinf_pda.h); the rules' analysis when it is built is in
    xinf_pda_build.c.  */
#include "xinf_pda.h"
#include "xinf_pda_private.h"

#include <stdlib.h>
#include <string.h>

#define S_UNKNOWN  UINT32_MAX         //  a transition not yet computed

void *
xinf_pda_grow (xinf_pda_t *self, void *items, size_t *room, size_t wanted, size_t item_size)
{
    if (wanted <= *room)
        return items;
    size_t larger = *room ? *room : 16;
    while (larger < wanted)
        larger *= 2;
    size_t more = (larger - *room) * item_size;
    if (self->bytes + more > XINF_PDA_BYTES_MAX) {
        self->full = true;
        return NULL;
    }
    void *grown = realloc (items, larger * item_size);
    if (!grown) {
        self->full = true;
        return NULL;
    }
    self->bytes += more;
    *room = larger;
    return grown;
}

static uint64_t
s_mix (uint64_t hash, uint32_t value)
{
    return (hash ^ value) * 0x100000001b3ull;
}

static uint64_t
s_frame_hash (uint32_t rule, uint32_t back, uint32_t parent)
{
    return s_mix (s_mix (s_mix (0xcbf29ce484222325ull, rule), back), parent);
}

static uint64_t
s_configs_hash (const xinf_pda_config_t *configs, size_t count)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t index = 0; index < count; index++)
        hash = s_mix (s_mix (s_mix (hash, configs [index].rule), configs [index].state), configs [index].frame);
    return hash ^ (hash >> 29);
}

//  Doubles an index of ids that 'count' ids (from 1) fill past half,
//  reinserting each by 'hash_of'; false when out of room.
static bool
s_index_room (xinf_pda_t *self, xinf_pda_index_t *index, size_t count, uint64_t (*hash_of) (xinf_pda_t *, uint32_t))
{
    if ((count + 1) * 2 <= index->size)
        return true;
    size_t size = index->size ? index->size * 2 : 64;
    if (self->bytes + size * sizeof (uint32_t) > XINF_PDA_BYTES_MAX) {
        self->full = true;
        return false;
    }
    uint32_t *slots = calloc (size, sizeof (uint32_t));
    if (!slots) {
        self->full = true;
        return false;
    }
    for (uint32_t id = 1; id <= count; id++) {
        size_t at = hash_of (self, id) & (size - 1);
        while (slots [at])
            at = (at + 1) & (size - 1);
        slots [at] = id;
    }
    self->bytes += size * sizeof (uint32_t);
    self->bytes -= index->size * sizeof (uint32_t);
    free (index->slots);
    index->slots = slots;
    index->size = size;
    return true;
}

//  The free slot an id of 'hash' goes into.
static size_t
s_empty_slot (const xinf_pda_index_t *index, uint64_t hash)
{
    size_t at = hash & (index->size - 1);
    while (index->slots [at])
        at = (at + 1) & (index->size - 1);
    return at;
}

static uint64_t
s_frame_hash_of (xinf_pda_t *self, uint32_t id)
{
    const xinf_pda_frame_t *frame = &self->frames [id];
    return s_frame_hash (frame->rule, frame->back, frame->parent);
}

static uint64_t
s_set_hash_of (xinf_pda_t *self, uint32_t id)
{
    const xinf_pda_set_t *set = &self->sets [id];
    return s_configs_hash (self->configs + set->at, set->count);
}

//  The frame that returns to 'back' of 'rule' over 'parent': its id, or
//  0 when out of room.
static uint32_t
s_frame (xinf_pda_t *self, uint32_t rule, uint32_t back, uint32_t parent)
{
    uint64_t hash = s_frame_hash (rule, back, parent);
    for (size_t at = hash & (self->frame_index.size - 1); self->frame_index.size; at = (at + 1) & (self->frame_index.size - 1)) {
        uint32_t id = self->frame_index.slots [at];
        if (id == 0)
            break;
        const xinf_pda_frame_t *frame = &self->frames [id];
        if (frame->rule == rule && frame->back == back && frame->parent == parent)
            return id;
    }
    if (!s_index_room (self, &self->frame_index, self->frame_count, s_frame_hash_of))
        return 0;
    size_t at = s_empty_slot (&self->frame_index, hash);
    xinf_pda_frame_t *frames = xinf_pda_grow (self, self->frames, &self->frame_room, self->frame_count + 2,
                                              sizeof *frames);
    if (!frames)
        return 0;
    self->frames = frames;
    uint32_t id = (uint32_t) ++self->frame_count;
    frames [id] = (xinf_pda_frame_t) { rule, back, parent, frames [parent].depth + 1 };
    self->frame_index.slots [at] = id;
    return id;
}

static int
s_config_order (const void *left, const void *right)
{
    const xinf_pda_config_t *a = left, *b = right;
    if (a->rule != b->rule)
        return a->rule < b->rule ? -1 : 1;
    if (a->state != b->state)
        return a->state < b->state ? -1 : 1;
    return a->frame < b->frame ? -1 : a->frame > b->frame;
}

//  The closed, sorted configurations in 'work' as a position: its id,
//  or 0 when out of room.
static uint32_t
s_set (xinf_pda_t *self)
{
    size_t count = self->work_count;
    uint64_t hash = s_configs_hash (self->work, count);
    for (size_t at = hash & (self->set_index.size - 1); self->set_index.size; at = (at + 1) & (self->set_index.size - 1)) {
        uint32_t id = self->set_index.slots [at];
        if (id == 0)
            break;
        const xinf_pda_set_t *set = &self->sets [id];
        if (set->count == count && memcmp (self->configs + set->at, self->work, count * sizeof *self->work) == 0)
            return id;
    }
    if (!s_index_room (self, &self->set_index, self->set_count, s_set_hash_of))
        return 0;
    size_t at = s_empty_slot (&self->set_index, hash);
    xinf_pda_config_t *configs = xinf_pda_grow (self, self->configs, &self->config_room,
                                                self->config_count + count, sizeof *configs);
    if (configs)
        self->configs = configs;
    xinf_pda_set_t *sets = configs ? xinf_pda_grow (self, self->sets, &self->set_room, self->set_count + 2,
                                                    sizeof *sets) : NULL;
    if (!sets)
        return 0;
    self->sets = sets;
    uint8_t flags = 0;
    for (size_t index = 0; index < count; index++) {
        const xinf_pda_config_t *config = &self->work [index];
        const xinf_pda_rule_t *rule = &self->rules [config->rule];
        if (config->frame == 0 && xinf_regex_accepts (rule->dfa, config->state))
            flags |= XINF_RX_ACCEPTING;
        if (self->frames [config->frame].depth + rule->onward [config->state] <= XINF_PDA_DEPTH_MAX)
            flags |= XINF_RX_ONWARD;
    }
    memcpy (configs + self->config_count, self->work, count * sizeof *configs);
    uint32_t id = (uint32_t) ++self->set_count;
    sets [id] = (xinf_pda_set_t) { (uint32_t) self->config_count, (uint32_t) count, NULL, flags };
    self->config_count += count;
    self->set_index.slots [at] = id;
    return id;
}

//  A configuration to close; false when out of room.
static bool
s_pending (xinf_pda_t *self, uint32_t rule, uint32_t state, uint32_t frame)
{
    xinf_pda_config_t *pending = xinf_pda_grow (self, self->pending, &self->pending_room, self->pending_count + 1,
                                                sizeof *pending);
    if (!pending)
        return false;
    self->pending = pending;
    pending [self->pending_count++] = (xinf_pda_config_t) { rule, state, frame };
    return true;
}

static bool
s_has (const xinf_pda_config_t *configs, size_t count, xinf_pda_config_t config)
{
    for (size_t index = 0; index < count; index++)
        if (configs [index].rule == config.rule && configs [index].state == config.state
            && configs [index].frame == config.frame)
            return true;
    return false;
}

//  The closure of the pending configurations into 'work': a rule that
//  may end returns to its caller, a call enters its callee over a new
//  frame, each only where the text can still be completed within the
//  depth. False past XINF_PDA_CONFIGS_MAX or out of room.
static bool
s_close (xinf_pda_t *self)
{
    while (self->pending_count > 0) {
        xinf_pda_config_t config = self->pending [--self->pending_count];
        if (s_has (self->work, self->work_count, config))
            continue;
        if (self->work_count == XINF_PDA_CONFIGS_MAX)
            return false;
        self->work [self->work_count++] = config;
        const xinf_pda_rule_t *rule = &self->rules [config.rule];
        if (config.frame && xinf_regex_accepts (rule->dfa, config.state)) {
            xinf_pda_frame_t frame = self->frames [config.frame];
            if (!s_pending (self, frame.rule, frame.back, frame.parent))
                return false;
        }
        uint32_t depth = self->frames [config.frame].depth;
        for (uint32_t at = rule->call_at [config.state]; at < rule->call_at [config.state + 1]; at++) {
            xinf_pda_call_t call = rule->calls [at];
            if (depth + !call.tail + self->rules [call.callee].need [XINF_REGEX_START] > XINF_PDA_DEPTH_MAX
                || depth + rule->need [call.back] > XINF_PDA_DEPTH_MAX)
                continue;
            uint32_t frame = call.tail ? config.frame : s_frame (self, config.rule, call.back, config.frame);
            if ((!frame && !call.tail) || !s_pending (self, call.callee, XINF_REGEX_START, frame))
                return false;
        }
    }
    return true;
}

//  Adds the closure of one configuration to 'work': false, and 'work' as
//  it was, when it does not fit (XINF_PDA_CONFIGS_MAX, out of room).
static bool
s_add_closed (xinf_pda_t *self, xinf_pda_config_t config)
{
    size_t kept = self->work_count;
    self->pending_count = 0;
    if (s_pending (self, config.rule, config.state, config.frame) && s_close (self))
        return true;
    self->work_count = kept;
    return false;
}

//  The closed, sorted configurations in 'work' interned: the id, or 0
//  for none (or out of room).
static uint32_t
s_intern (xinf_pda_t *self)
{
    if (self->work_count == 0)
        return 0;
    qsort (self->work, self->work_count, sizeof *self->work, s_config_order);
    return s_set (self);
}

//  The position after 'position' takes 'byte', computed: its id, or 0
//  refused. The parses whose closures would pass the limits are left
//  out, each whole (*limited then): what stays is closed, so it still
//  leads to a whole match, only not by every text the grammar has.
static uint32_t
s_advance (xinf_pda_t *self, uint32_t position, unsigned char byte, bool *limited)
{
    xinf_pda_set_t set = self->sets [position];
    self->work_count = 0;
    for (uint32_t index = 0; index < set.count; index++) {
        xinf_pda_config_t config = self->configs [set.at + index];
        const xinf_pda_rule_t *rule = &self->rules [config.rule];
        uint32_t state = xinf_regex_next (rule->dfa, config.state, byte);
        if (!state || self->frames [config.frame].depth + rule->need [state] > XINF_PDA_DEPTH_MAX)
            continue;
        config.state = state;
        if (!s_add_closed (self, config))
            *limited = true;
    }
    return s_intern (self);
}

uint32_t
xinf_pda_first (xinf_pda_t *self)
{
    self->work_count = 0;
    return s_add_closed (self, (xinf_pda_config_t) { 0, XINF_REGEX_START, 0 }) ? s_intern (self) : 0;
}

uint32_t
xinf_pda_start (const xinf_pda_t *self)
{
    return self->start;
}

uint32_t
xinf_pda_next (xinf_pda_t *self, uint32_t position, unsigned char byte)
{
    uint8_t class = self->byte_class [byte];
    if (position == 0 || position > self->set_count || class == 0)
        return 0;
    uint32_t *memo = self->sets [position].next;
    if (!memo) {
        size_t room = 0;
        memo = xinf_pda_grow (self, NULL, &room, self->classes, sizeof *memo);
        if (!memo) {
            self->limited = true;
            return 0;
        }
        memset (memo, 0xFF, room * sizeof *memo);
        self->sets [position].next = memo;
    }
    if (memo [class] != S_UNKNOWN)
        return memo [class];
    if (self->full) {                //  nothing new: not even worth the closure
        self->limited = true;
        return 0;
    }
    bool limited = false;
    uint32_t next = s_advance (self, position, byte, &limited);
    self->limited = self->limited || limited;
    if (next || !self->full)         //  a refusal for want of room is not the grammar's
        memo [class] = next;
    return next;
}

bool
xinf_pda_accepting (const xinf_pda_t *self, uint32_t position)
{
    return position && position <= self->set_count && (self->sets [position].flags & XINF_RX_ACCEPTING);
}

bool
xinf_pda_done (const xinf_pda_t *self, uint32_t position)
{
    return position && position <= self->set_count && self->sets [position].flags == XINF_RX_ACCEPTING;
}

size_t
xinf_pda_positions (const xinf_pda_t *self)
{
    return self->set_count;
}

size_t
xinf_pda_bytes (const xinf_pda_t *self)
{
    return sizeof *self + self->bytes + self->rule_bytes;
}

bool
xinf_pda_limited (const xinf_pda_t *self)
{
    return self->limited;
}

bool
xinf_pda_full (const xinf_pda_t *self)
{
    return self->full;
}

void
xinf_pda_destroy (xinf_pda_t **self_p)
{
    if (self_p && *self_p) {
        xinf_pda_t *self = *self_p;
        for (size_t index = 0; index < self->rule_count; index++) {
            xinf_pda_rule_t *rule = &self->rules [index];
            xinf_regex_destroy (&rule->dfa);
            free (rule->call_at);
            free (rule->calls);
            free (rule->need);
            free (rule->onward);
        }
        for (size_t index = 1; index <= self->set_count; index++)
            free (self->sets [index].next);
        free (self->rules);
        free (self->frames);
        free (self->frame_index.slots);
        free (self->sets);
        free (self->set_index.slots);
        free (self->configs);
        free (self->work);
        free (self->pending);
        free (self);
        *self_p = NULL;
    }
}
