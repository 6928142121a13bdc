/*  xinf_json_masks: allowed tokens of a JSON object's generation
    (xinf_json_masks.h).  */
#include "xinf_json_masks.h"
#include "xinf_token_mask.h"
#include "xinf_vocab_trie.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const xinf_grammar_t *grammar;
    xinf_grammar_state_t state;
    uint32_t *bits;
    bool used;
} s_entry_t;

static bool
s_json_step (void *state, unsigned char byte)
{
    return xinf_json_step ((xinf_json_state_t *) state, byte);
}

static bool
s_json_done (const void *state)
{
    return xinf_json_done ((const xinf_json_state_t *) state);
}

static bool
s_json_in_text (const void *state)
{
    return xinf_json_in_text ((const xinf_json_state_t *) state);
}

static bool
s_schema_step (void *state, unsigned char byte)
{
    return xinf_schema_step ((xinf_schema_state_t *) state, byte);
}

static bool
s_schema_done (const void *state)
{
    return xinf_schema_done ((const xinf_schema_state_t *) state);
}

static bool
s_schema_in_text (const void *state)
{
    return xinf_schema_in_text ((const xinf_schema_state_t *) state);
}

static bool
s_regex_step (void *state, unsigned char byte)
{
    return xinf_regex_step ((xinf_regex_state_t *) state, byte);
}

static bool
s_regex_done (const void *state)
{
    return xinf_regex_done ((const xinf_regex_state_t *) state);
}

static bool
s_regex_may_end (const void *state)
{
    return xinf_regex_accepting ((const xinf_regex_state_t *) state);
}

static bool
s_never (const void *state)
{
    (void) state;
    return false;
}

const xinf_grammar_t xinf_grammar_json = {
    "json_object", sizeof (xinf_json_state_t), s_json_step, s_json_done, s_json_done, s_json_in_text
};
const xinf_grammar_t xinf_grammar_schema = {
    "json_schema", sizeof (xinf_schema_state_t), s_schema_step, s_schema_done, s_schema_done, s_schema_in_text
};
const xinf_grammar_t xinf_grammar_regex = {
    "regex", sizeof (xinf_regex_state_t), s_regex_step, s_regex_done, s_regex_may_end, s_never
};

struct _xinf_json_masks_t {
    xinf_tokenizer_t *tokenizer;
    xinf_vocab_trie_t *trie;          //  every text token
    uint32_t *text;                   //  the tokens a string's text takes whole (xinf_json_in_text)
    size_t text_count;
    xinf_vocab_trie_t *rest;          //  the others
    size_t vocab, words;
    int32_t *ends;                    //  the end-of-generation ids
    size_t end_count;
    s_entry_t cache [XINF_JSON_MASKS_CACHED];
    size_t next;                      //  the entry replaced next
    size_t walks, hits;
};

//  Whether token 'id' is plain text inside any string: no quote,
//  backslash or control byte, whole UTF-8 characters.
static bool
s_plain_text (xinf_tokenizer_t *tokenizer, int32_t id)
{
    char piece [XINF_TOKENIZER_TEXT_MAX];
    long length = xinf_tokenizer_piece (tokenizer, id, piece, sizeof piece);
    if (length <= 0 || (size_t) length > sizeof piece || xinf_tokenizer_is_control (tokenizer, id)
    ||  id == xinf_tokenizer_unk (tokenizer))
        return false;
    for (long at = 0; at < length; at++)
        if (piece [at] == '"' || piece [at] == '\\' || (unsigned char) piece [at] < 0x20)
            return false;
    xinf_json_state_t state;
    xinf_json_start (&state);
    if (!xinf_json_feed (&state, "{\"", 2) || !xinf_json_feed (&state, piece, (size_t) length))
        return false;
    return xinf_json_in_text (&state);
}

//  The plain text tokens' mask, and the trie of the others.
static bool
s_split (xinf_json_masks_t *self)
{
    self->text = calloc (self->words, sizeof (uint32_t));
    if (!self->text)
        return false;
    for (size_t id = 0; id < self->vocab; id++)
        if (s_plain_text (self->tokenizer, (int32_t) id)) {
            self->text [id / 32] |= (uint32_t) 1 << (id % 32);
            self->text_count++;
        }
    self->rest = xinf_vocab_trie_new (self->tokenizer, self->text);
    return self->rest != NULL;
}

xinf_json_masks_t *
xinf_json_masks_new (xinf_tokenizer_t *tokenizer)
{
    xinf_json_masks_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->tokenizer = tokenizer;
    self->vocab = xinf_tokenizer_vocab (tokenizer);
    self->words = xinf_token_mask_words (self->vocab);
    self->trie = xinf_vocab_trie_new (tokenizer, NULL);
    self->end_count = xinf_tokenizer_end_ids (tokenizer, NULL, 0);
    self->ends = calloc (self->end_count + 1, sizeof (int32_t));
    bool good = self->trie && self->ends && s_split (self);
    if (good)
        xinf_tokenizer_end_ids (tokenizer, self->ends, self->end_count);
    for (size_t index = 0; good && index < XINF_JSON_MASKS_CACHED; index++)
        good = (self->cache [index].bits = calloc (self->words, sizeof (uint32_t))) != NULL;
    if (!good)
        xinf_json_masks_destroy (&self);
    return self;
}

void
xinf_json_masks_destroy (xinf_json_masks_t **self_p)
{
    if (self_p && *self_p) {
        xinf_json_masks_t *self = *self_p;
        xinf_vocab_trie_destroy (&self->trie);
        xinf_vocab_trie_destroy (&self->rest);
        free (self->text);
        free (self->ends);
        for (size_t index = 0; index < XINF_JSON_MASKS_CACHED; index++)
            free (self->cache [index].bits);
        free (self);
        *self_p = NULL;
    }
}

void
xinf_json_masks_walk (xinf_json_masks_t *self, const xinf_grammar_t *grammar, const void *state, uint32_t *bits)
{
    size_t allowed = 0;
    bool text = grammar->in_text (state);
    if (text)
        memcpy (bits, self->text, self->words * sizeof (uint32_t));
    else
        memset (bits, 0, self->words * sizeof (uint32_t));
    const uint32_t *table = NULL;
    const uint8_t *byte_class;
    size_t classes;
    if (grammar == &xinf_grammar_regex)
        xinf_regex_table (((const xinf_regex_state_t *) state)->regex, &table, &byte_class, &classes);
    if (table && !grammar->done (state))
        allowed = xinf_vocab_trie_allowed_table (self->trie, table, byte_class, classes,
                                                 ((const xinf_regex_state_t *) state)->state, bits);
    else
    if (!grammar->done (state))
        allowed = xinf_vocab_trie_allowed (text ? self->rest : self->trie, state, grammar->state_size,
                                           grammar->step, bits) + (text ? self->text_count : 0);
    if (allowed == 0 || grammar->may_end (state))
        for (size_t index = 0; index < self->end_count; index++)
            bits [self->ends [index] / 32] |= (uint32_t) 1 << (self->ends [index] % 32);
}

const uint32_t *
xinf_json_masks_get (xinf_json_masks_t *self, const xinf_grammar_t *grammar, const void *state)
{
    if (grammar->state_size > XINF_GRAMMAR_STATE_MAX)
        return NULL;
    for (size_t index = 0; index < XINF_JSON_MASKS_CACHED; index++) {
        s_entry_t *entry = &self->cache [index];
        if (entry->used && entry->grammar == grammar && memcmp (&entry->state, state, grammar->state_size) == 0) {
            self->hits++;
            return entry->bits;
        }
    }
    s_entry_t *entry = &self->cache [self->next];
    self->next = (self->next + 1) % XINF_JSON_MASKS_CACHED;
    memcpy (&entry->state, state, grammar->state_size);
    entry->grammar = grammar;
    entry->used = true;
    xinf_json_masks_walk (self, grammar, state, entry->bits);
    self->walks++;
    return entry->bits;
}

bool
xinf_json_masks_take (xinf_json_masks_t *self, const xinf_grammar_t *grammar, void *state, int32_t token)
{
    if (xinf_tokenizer_is_end (self->tokenizer, token))
        return true;
    char piece [XINF_TOKENIZER_TEXT_MAX];
    long length = xinf_tokenizer_piece (self->tokenizer, token, piece, sizeof piece);
    if (length <= 0 || (size_t) length > sizeof piece || xinf_tokenizer_is_control (self->tokenizer, token))
        return false;
    xinf_grammar_state_t next;
    memcpy (&next, state, grammar->state_size);
    for (long at = 0; at < length; at++)
        if (!grammar->step (&next, (unsigned char) piece [at]))
            return false;
    memcpy (state, &next, grammar->state_size);
    return true;
}

void
xinf_json_masks_counts (const xinf_json_masks_t *self, size_t *walks, size_t *hits)
{
    *walks = self->walks;
    *hits = self->hits;
}
