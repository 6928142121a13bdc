/*  xinf_tokenizer: building and checking a tokenizer from GGUF metadata
    arrays, the vocabulary hash, decoding, and the shared helpers (id list,
    bigram heap, UTF-8). The models' encoders are in xinf_tokenizer_bpe.c
    (gpt2) and xinf_tokenizer_spm.c (llama).
*/
#include "xinf_tokenizer_private.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Shared helpers

void
xinf_tok_ids_push (xinf_tok_ids_t *list, int32_t id)
{
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? list->capacity * 2 : 64;
        list->ids = realloc (list->ids, list->capacity * sizeof *list->ids);
        assert (list->ids);
    }
    list->ids [list->count++] = id;
}

static bool
s_better (const xinf_tok_bigram_t *one, const xinf_tok_bigram_t *two)
{
    return one->priority > two->priority
        || (one->priority == two->priority && one->left < two->left);
}

void
xinf_tok_heap_push (xinf_tok_heap_t *heap, xinf_tok_bigram_t bigram)
{
    if (heap->count == heap->capacity) {
        heap->capacity = heap->capacity ? heap->capacity * 2 : 64;
        heap->items = realloc (heap->items, heap->capacity * sizeof *heap->items);
        assert (heap->items);
    }
    size_t at = heap->count++;
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (!s_better (&bigram, &heap->items [parent]))
            break;
        heap->items [at] = heap->items [parent];
        at = parent;
    }
    heap->items [at] = bigram;
}

bool
xinf_tok_heap_pop (xinf_tok_heap_t *heap, xinf_tok_bigram_t *bigram)
{
    if (heap->count == 0)
        return false;
    *bigram = heap->items [0];
    xinf_tok_bigram_t last = heap->items [--heap->count];
    size_t at = 0;
    while (true) {
        size_t child = 2 * at + 1;
        if (child >= heap->count)
            break;
        if (child + 1 < heap->count && s_better (&heap->items [child + 1], &heap->items [child]))
            child++;
        if (!s_better (&heap->items [child], &last))
            break;
        heap->items [at] = heap->items [child];
        at = child;
    }
    if (heap->count > 0)
        heap->items [at] = last;
    return true;
}

size_t
xinf_tok_utf8 (const uint8_t *text, size_t length, uint32_t *cpt)
{
    uint8_t lead = text [0];
    size_t size = lead < 0x80 ? 1 : lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0;
    if (size == 1) {
        *cpt = lead;
        return 1;
    }
    if (size == 0 || size > length) {
        *cpt = XINF_TOK_BAD;
        return 1;
    }
    uint32_t value = lead & (0x7F >> size);
    for (size_t index = 1; index < size; index++) {
        if ((text [index] & 0xC0) != 0x80) {
            *cpt = XINF_TOK_BAD;
            return 1;
        }
        value = (value << 6) | (text [index] & 0x3F);
    }
    //  Overlong forms, surrogates and values past U+10FFFF are invalid
    if ((size == 3 && value < 0x800) || (size == 4 && value < 0x10000)
    ||  (value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) {
        *cpt = XINF_TOK_BAD;
        return 1;
    }
    *cpt = value;
    return size;
}

size_t
xinf_tok_utf8_put (uint32_t cpt, char *out)
{
    uint8_t *bytes = (uint8_t *) out;
    if (cpt < 0x80) {
        bytes [0] = (uint8_t) cpt;
        return 1;
    }
    if (cpt < 0x800) {
        bytes [0] = (uint8_t) (0xC0 | (cpt >> 6));
        bytes [1] = (uint8_t) (0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt < 0x10000) {
        bytes [0] = (uint8_t) (0xE0 | (cpt >> 12));
        bytes [1] = (uint8_t) (0x80 | ((cpt >> 6) & 0x3F));
        bytes [2] = (uint8_t) (0x80 | (cpt & 0x3F));
        return 3;
    }
    bytes [0] = (uint8_t) (0xF0 | (cpt >> 18));
    bytes [1] = (uint8_t) (0x80 | ((cpt >> 12) & 0x3F));
    bytes [2] = (uint8_t) (0x80 | ((cpt >> 6) & 0x3F));
    bytes [3] = (uint8_t) (0x80 | (cpt & 0x3F));
    return 4;
}

//  --------------------------------------------------------------------------
//  Vocabulary hash: open addressing on FNV-1a, table at most half full

static uint64_t
s_hash (const char *text, size_t length)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t index = 0; index < length; index++) {
        hash ^= (uint8_t) text [index];
        hash *= 0x100000001b3ull;
    }
    return hash ^ (hash >> 29);
}

int32_t
xinf_tok_lookup (const xinf_tokenizer_t *self, const char *text, size_t length)
{
    size_t slot = (size_t) s_hash (text, length) & self->table_mask;
    while (self->table [slot] >= 0) {
        int32_t id = self->table [slot];
        size_t size;
        const char *other = xinf_tok_text (self, id, &size);
        if (size == length && memcmp (other, text, length) == 0)
            return id;
        slot = (slot + 1) & self->table_mask;
    }
    return -1;
}

//  Duplicate texts keep the first id.
static void
s_table_build (xinf_tokenizer_t *self)
{
    size_t capacity = 16;
    while (capacity < 2 * (size_t) self->n_tokens)
        capacity *= 2;
    self->table = malloc (capacity * sizeof *self->table);
    assert (self->table);
    memset (self->table, 0xFF, capacity * sizeof *self->table);
    self->table_mask = capacity - 1;
    for (int32_t id = 0; id < self->n_tokens; id++) {
        size_t length;
        const char *text = xinf_tok_text (self, id, &length);
        size_t slot = (size_t) s_hash (text, length) & self->table_mask;
        bool duplicate = false;
        while (self->table [slot] >= 0 && !duplicate) {
            size_t size;
            const char *other = xinf_tok_text (self, self->table [slot], &size);
            duplicate = size == length && memcmp (other, text, length) == 0;
            slot = (slot + 1) & self->table_mask;
        }
        if (!duplicate)
            self->table [slot] = id;
    }
}

//  --------------------------------------------------------------------------
//  Construction

static int
s_check_spec (const xinf_tokenizer_spec_t *spec, char *error, size_t error_size)
{
    if (!spec) {
        snprintf (error, error_size, "no tokenizer spec");
        return -1;
    }
    if (!spec->model) {
        snprintf (error, error_size, "tokenizer model missing (tokenizer.ggml.model)");
        return -1;
    }
    if (strcmp (spec->model, "gpt2") != 0 && strcmp (spec->model, "llama") != 0) {
        snprintf (error, error_size, "unknown tokenizer model '%s' (known: gpt2, llama)", spec->model);
        return -1;
    }
    if (spec->n_tokens == 0 || !spec->tokens) {
        snprintf (error, error_size, "empty vocabulary (tokenizer.ggml.tokens)");
        return -1;
    }
    if (spec->n_tokens > INT32_MAX) {
        snprintf (error, error_size, "vocabulary of %zu tokens is too large", spec->n_tokens);
        return -1;
    }
    if ((spec->scores && spec->n_scores != spec->n_tokens)
    ||  (spec->token_types && spec->n_token_types != spec->n_tokens)) {
        snprintf (error, error_size, "%zu tokens but %zu scores and %zu token types",
                  spec->n_tokens, spec->scores ? spec->n_scores : 0,
                  spec->token_types ? spec->n_token_types : 0);
        return -1;
    }
    const char *names [3] = { "bos", "eos", "unk" };
    int64_t ids [3] = { spec->bos_id, spec->eos_id, spec->unk_id };
    for (int index = 0; index < 3; index++)
        if (ids [index] < -1 || ids [index] >= (int64_t) spec->n_tokens) {
            snprintf (error, error_size, "%s id %lld out of range (vocabulary of %zu)",
                      names [index], (long long) ids [index], spec->n_tokens);
            return -1;
        }
    for (size_t id = 0; id < spec->n_tokens; id++) {
        if (!spec->tokens [id]) {
            snprintf (error, error_size, "token %zu has no text", id);
            return -1;
        }
        size_t length = spec->token_lengths ? spec->token_lengths [id]
                      : strnlen (spec->tokens [id], XINF_TOKENIZER_TEXT_MAX + 1);
        if (length > XINF_TOKENIZER_TEXT_MAX) {
            snprintf (error, error_size, "token %zu's text is over %d bytes long", id, XINF_TOKENIZER_TEXT_MAX);
            return -1;
        }
        if (spec->token_types && (spec->token_types [id] < 0 || spec->token_types [id] > XINF_TOKEN_BYTE)) {
            snprintf (error, error_size, "token %zu has unknown type %d", id, (int) spec->token_types [id]);
            return -1;
        }
    }
    return 0;
}

//  The pre-tokenizers of gpt2 vocabularies by tokenizer.ggml.pre (none,
//  or an empty one, is "default", as in llama.cpp; "gpt2" is xinf's name
//  for llama.cpp's "gpt-2"): the split, whether a pre-token that is a
//  token is taken whole (llama.cpp's ignore_merges), NFC first (Qwen2's
//  tokenizer.json; llama.cpp does not) and whether a text prompt gets a
//  BOS when the file has no tokenizer.ggml.add_bos_token (llama.cpp's
//  default: Llama 3 files often lack the key).
static const struct {
    const char *name;
    xinf_tok_pre_t pre;
    bool ignore_merges, nfc, add_bos;
} s_pres [] = {
    { "default", XINF_PRE_DEFAULT, false, false, false },       //  llama.cpp's, not GPT-2's
    { "gpt2", XINF_PRE_GPT2, false, false, false },
    { "gpt-2", XINF_PRE_GPT2, false, false, false },
    { "llama3", XINF_PRE_LLAMA3, true, false, true },
    { "llama-bpe", XINF_PRE_LLAMA3, true, false, true },
    { "llama-v3", XINF_PRE_LLAMA3, true, false, true },
    { "dbrx", XINF_PRE_LLAMA3, false, false, false },           //  Phi-4's: llama3's split, merges only
    { "smaug-bpe", XINF_PRE_LLAMA3, false, false, false },
    { "glm4", XINF_PRE_LLAMA3, false, false, false },           //  GLM-4's: llama3's split
    { "chatglm-bpe", XINF_PRE_LLAMA3, false, false, false },
    { "tekken", XINF_PRE_TEKKEN, true, false, true },           //  Mistral Nemo's, Small 3's
    { "gpt-4o", XINF_PRE_GPT4O, false, false, false },          //  Phi-4-mini's, GPT-OSS's (o200k)
    { "refact", XINF_PRE_REFACT, false, false, false },         //  Granite 3's
    { "qwen2", XINF_PRE_QWEN2, false, true, false },
    { "deepseek-r1-qwen", XINF_PRE_QWEN2, false, false, false },
    { "deepseek-llm", XINF_PRE_DEEPSEEK_LLM, false, false, false },     //  DeepSeek LLM, V2
    { "deepseek-coder", XINF_PRE_DEEPSEEK_CODER, false, false, false },
    { "deepseek-v3", XINF_PRE_DEEPSEEK_V3, false, false, false },       //  DeepSeek V3, R1
};
#define S_PRES (sizeof s_pres / sizeof s_pres [0])

//  The entry of s_pres named 'pre', or -1.
static int
s_find_pre (const char *pre)
{
    for (size_t index = 0; pre && index < S_PRES; index++)
        if (strcmp (s_pres [index].name, pre) == 0)
            return (int) index;
    return -1;
}

static int
s_set_pre (xinf_tokenizer_t *self, const char *pre, char *error, size_t error_size)
{
    self->pre = XINF_PRE_DEFAULT;
    if (self->model != XINF_TOK_GPT2 || !pre || !*pre)
        return 0;
    int found = s_find_pre (pre);
    if (found < 0) {
        int length = snprintf (error, error_size, "unknown pre-tokenizer '%s' (known:", pre);
        for (size_t index = 0; index < S_PRES && length >= 0 && (size_t) length < error_size; index++)
            length += snprintf (error + length, error_size - (size_t) length, "%s %s", index ? "," : "",
                                s_pres [index].name);
        if (length >= 0 && (size_t) length < error_size)
            snprintf (error + length, error_size - (size_t) length, ")");
        return -1;
    }
    self->pre = s_pres [found].pre;
    self->ignore_merges = s_pres [found].ignore_merges;
    self->nfc = s_pres [found].nfc;
    return 0;
}

//  Copies texts, scores and types; control, unknown, unused and byte tokens
//  never come out of text. BOS, EOS, EOT and EOM are control tokens.
static void
s_copy_vocab (xinf_tokenizer_t *self, const xinf_tokenizer_spec_t *spec)
{
    size_t n_tokens = spec->n_tokens, total = 0;
    self->text_at = malloc ((n_tokens + 1) * sizeof *self->text_at);
    self->scores = malloc (n_tokens * sizeof *self->scores);
    self->types = malloc (n_tokens);
    self->matchable = malloc (n_tokens * sizeof *self->matchable);
    assert (self->text_at && self->scores && self->types && self->matchable);
    for (size_t id = 0; id < n_tokens; id++) {
        self->text_at [id] = total;
        total += (spec->token_lengths ? spec->token_lengths [id] : strlen (spec->tokens [id])) + 1;
    }
    self->text_at [n_tokens] = total;
    self->texts = malloc (total);
    assert (self->texts);
    for (size_t id = 0; id < n_tokens; id++) {
        size_t length = self->text_at [id + 1] - self->text_at [id] - 1;
        memcpy (self->texts + self->text_at [id], spec->tokens [id], length);
        self->texts [self->text_at [id] + length] = 0;
        float score = spec->scores ? spec->scores [id] : 0.0f;
        self->scores [id] = isnan (score) ? -INFINITY : score;
        int type = spec->token_types ? spec->token_types [id] : XINF_TOKEN_NORMAL;
        int64_t at = (int64_t) id;
        if (at == self->bos_id || at == self->eos_id || at == self->eot_id || at == self->eom_id)
            type = XINF_TOKEN_CONTROL;
        else
        if ((int64_t) id == spec->unk_id)
            type = XINF_TOKEN_UNKNOWN;
        self->types [id] = (uint8_t) type;
        self->matchable [id] = type == XINF_TOKEN_NORMAL || type == XINF_TOKEN_USER_DEFINED
                            || type == XINF_TOKEN_UNDEFINED;
    }
}

//  --------------------------------------------------------------------------
//  End of generation

//  Appends one line to the notes (cut short when they are full).
static void
s_note (xinf_tokenizer_t *self, const char *format, ...)
{
    size_t used = strlen (self->notes);
    if (used + 2 >= sizeof self->notes)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->notes + used, sizeof self->notes - used - 1, format, args);
    va_end (args);
    strcat (self->notes, "\n");
}

//  Takes the EOT and EOM ids of the spec; one outside the vocabulary is
//  noted and dropped.
static void
s_take_end_keys (xinf_tokenizer_t *self, const xinf_tokenizer_spec_t *spec)
{
    const char *keys [2] = { "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" };
    int64_t given [2] = { spec->eot_id, spec->eom_id };
    int64_t *taken [2] = { &self->eot_id, &self->eom_id };
    for (int index = 0; index < 2; index++) {
        bool valid = given [index] >= 0 && given [index] < (int64_t) spec->n_tokens;
        if (!valid && given [index] != -1)
            s_note (self, "%s = %lld is outside the vocabulary of %zu tokens: ignored",
                    keys [index], (long long) given [index], spec->n_tokens);
        *taken [index] = valid ? given [index] : -1;
    }
}

//  Adds an end-of-generation id unless it is there already.
static void
s_end_add (xinf_tokenizer_t *self, int64_t id)
{
    if (id < 0)
        return;
    for (size_t index = 0; index < self->n_end_ids; index++)
        if (self->end_ids [index] == (int32_t) id)
            return;
    if (self->n_end_ids < XINF_TOK_MAX_ENDS)
        self->end_ids [self->n_end_ids++] = (int32_t) id;
}

//  The token of that text, where the vocabulary has one that is not BOS,
//  EOS, EOT or EOM, made user-defined: rendered as its text and found in
//  any text.
static void
s_as_text (xinf_tokenizer_t *self, const char *text)
{
    int32_t id = xinf_tok_lookup (self, text, strlen (text));
    if (id >= 0 && id != self->bos_id && id != self->eos_id
    &&  id != self->eot_id && id != self->eom_id) {
        self->types [id] = XINF_TOKEN_USER_DEFINED;
        self->matchable [id] = true;
    }
}

//  A harmony vocabulary (GPT-OSS's o200k_harmony: <|return|> and <|call|>
//  among its tokens): the tokens that head its messages (<|start|>,
//  <|channel|>, <|message|>, <|constrain|>) are rendered as their text and
//  found in any text, as llama.cpp makes them (user-defined), so that an
//  answer's channels can be told apart from its text (the gateway's
//  reasoning parser); its other control tokens stay so.
static void
s_harmony (xinf_tokenizer_t *self)
{
    static const char *const heads [] = { "<|start|>", "<|channel|>", "<|message|>", "<|constrain|>" };
    self->harmony = xinf_tok_lookup (self, "<|return|>", 10) >= 0 && xinf_tok_lookup (self, "<|call|>", 8) >= 0;
    for (size_t index = 0; self->harmony && index < sizeof heads / sizeof heads [0]; index++)
        s_as_text (self, heads [index]);
}

//  The markers of tool calls and thoughts that the gateway parses, where a
//  vocabulary has them as control tokens (DeepSeek V3/R1's and Kimi K2's
//  converted files): rendered as their text, as llama-server renders a
//  chat format's "preserved tokens", so that a call reaches the gateway's
//  parser instead of vanishing. They stay control tokens otherwise: text
//  becomes them only where it is parsed for special tokens (a chat
//  prompt), and constrained decoding never samples them as text.
static void
s_preserved (xinf_tokenizer_t *self)
{
#define S_BAR "\xef\xbd\x9c"                 //  U+FF5C, DeepSeek's fullwidth bar
#define S_LOW "\xe2\x96\x81"                 //  U+2581, its word mark
    static const char *const markers [] = {
        "<" S_BAR "tool" S_LOW "calls" S_LOW "begin" S_BAR ">", "<" S_BAR "tool" S_LOW "calls" S_LOW "end" S_BAR ">",
        "<" S_BAR "tool" S_LOW "call" S_LOW "begin" S_BAR ">", "<" S_BAR "tool" S_LOW "call" S_LOW "end" S_BAR ">",
        "<" S_BAR "tool" S_LOW "sep" S_BAR ">",
        "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>", "<|tool_call_begin|>",
        "<|tool_call_argument_begin|>", "<|tool_call_end|>", "<think>", "</think>"
    };
#undef S_BAR
#undef S_LOW
    for (size_t index = 0; index < sizeof markers / sizeof markers [0]; index++) {
        int32_t id = xinf_tok_lookup (self, markers [index], strlen (markers [index]));
        if (id >= 0 && self->types [id] == XINF_TOKEN_CONTROL && id != self->bos_id && id != self->eos_id
        &&  id != self->eot_id && id != self->eom_id && self->n_shown < sizeof self->shown / sizeof self->shown [0])
            self->shown [self->n_shown++] = id;
    }
}

//  Whether control token 'id' is rendered as its text (s_preserved).
static bool
s_shown (const xinf_tokenizer_t *self, int32_t id)
{
    for (size_t index = 0; index < self->n_shown; index++)
        if (self->shown [index] == id)
            return true;
    return false;
}

//  EOS, EOT and EOM, then the tokens whose text is a well-known end marker
//  (as llama.cpp's special_eog_ids): only a control token when the file
//  types its tokens, and then made one when it does not.
static void
s_find_ends (xinf_tokenizer_t *self, const xinf_tokenizer_spec_t *spec)
{
    static const char *const markers [] = {
        "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end_of_text|>",
        "<|endoftext|>", "<end_of_turn>", "</s>",
        "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",    //  Qwen2.5-Coder's, as llama.cpp's FIM pad, repo, sep
        "<|end|>",                                          //  Phi-3's end of a turn (its EOS is <|endoftext|>)
        "<|observation|>",                                  //  GLM-4's: a tool's result comes next (after a call)
        "<|return|>", "<|call|>"                            //  GPT-OSS's (harmony's) end of an answer, of a tool call
    };
    s_end_add (self, self->eos_id);
    s_end_add (self, self->eot_id);
    s_end_add (self, self->eom_id);
    for (size_t index = 0; index < sizeof markers / sizeof markers [0]; index++) {
        int32_t id = xinf_tok_lookup (self, markers [index], strlen (markers [index]));
        //  Harmony's <|end|> ends a message (the analysis before the answer), not the generation
        if (id < 0 || xinf_tokenizer_is_end (self, id) || (self->harmony && strcmp (markers [index], "<|end|>") == 0))
            continue;
        if (spec->token_types && self->types [id] != XINF_TOKEN_CONTROL) {
            s_note (self, "token %d '%s' is not a control token (type %d): not an end of generation",
                    (int) id, markers [index], (int) self->types [id]);
            continue;
        }
        self->types [id] = XINF_TOKEN_CONTROL;
        self->matchable [id] = false;
        s_end_add (self, id);
    }
    //  Harmony's <|end|> ends no generation even where a file's EOS or EOT key names it, once <|return|>
    //  and <|call|> do, and is user-defined then: rendered as its text and found in text (as llama.cpp)
    bool others = xinf_tokenizer_is_end (self, xinf_tok_lookup (self, "<|return|>", 10))
               && xinf_tokenizer_is_end (self, xinf_tok_lookup (self, "<|call|>", 8));
    int32_t end = self->harmony && others ? xinf_tok_lookup (self, "<|end|>", 7) : -1;
    if (end < 0)
        return;
    self->types [end] = XINF_TOKEN_USER_DEFINED;
    self->matchable [end] = true;
    for (size_t index = 0; index < self->n_end_ids; index++)
        if (self->end_ids [index] == end) {
            memmove (self->end_ids + index, self->end_ids + index + 1,
                     (self->n_end_ids - index - 1) * sizeof self->end_ids [0]);
            self->n_end_ids--;
            break;
        }
}

//  --------------------------------------------------------------------------
//  Decoded pieces

//  Token 'id''s piece into 'out': a shown control token's text, else the
//  model's piece of it; its length.
static size_t
s_piece (xinf_tokenizer_t *self, int32_t id, char *out)
{
    if (s_shown (self, id)) {
        size_t length;
        const char *text = xinf_tok_text (self, id, &length);
        memcpy (out, text, length);
        return length;
    }
    return self->model == XINF_TOK_GPT2 ? xinf_tok_bpe_piece (self, id, out) : xinf_tok_spm_piece (self, id, out);
}

static void
s_build_pieces (xinf_tokenizer_t *self)
{
    size_t n_tokens = (size_t) self->n_tokens, total = 0, longest = 0;
    for (int32_t id = 0; id < self->n_tokens; id++) {
        size_t length = self->text_at [id + 1] - self->text_at [id];
        total += length + 4;
        longest = length > longest ? length : longest;
    }
    self->piece_at = malloc ((n_tokens + 1) * sizeof *self->piece_at);
    self->pieces = malloc (total);
    char *scratch = malloc (longest + 4);
    assert (self->piece_at && self->pieces && scratch);
    size_t at = 0;
    for (int32_t id = 0; id < self->n_tokens; id++) {
        size_t length = s_piece (self, id, scratch);
        self->piece_at [id] = at;
        memcpy (self->pieces + at, scratch, length);
        at += length;
    }
    self->piece_at [n_tokens] = at;
    free (scratch);
}

xinf_tokenizer_t *
xinf_tokenizer_new (const xinf_tokenizer_spec_t *spec, char *error, size_t error_size)
{
    if (s_check_spec (spec, error, error_size))
        return NULL;
    xinf_tokenizer_t *self = calloc (1, sizeof *self);
    assert (self);
    self->model = strcmp (spec->model, "gpt2") == 0 ? XINF_TOK_GPT2 : XINF_TOK_LLAMA;
    self->n_tokens = (int32_t) spec->n_tokens;
    self->bos_id = spec->bos_id;
    self->eos_id = spec->eos_id;
    self->unk_id = spec->unk_id;
    s_take_end_keys (self, spec);
    self->add_bos = spec->add_bos;
    self->add_eos = spec->add_eos && spec->eos_id >= 0;
    self->space_prefix = self->model == XINF_TOK_LLAMA && !spec->no_space_prefix;
    self->rstrip_controls = spec->rstrip_controls;
    if (s_set_pre (self, spec->pre, error, error_size)) {
        xinf_tokenizer_destroy (&self);
        return NULL;
    }
    s_copy_vocab (self, spec);
    s_table_build (self);
    s_harmony (self);
    s_preserved (self);
    s_find_ends (self, spec);
    int rc = self->model == XINF_TOK_GPT2
           ? xinf_tok_bpe_init (self, spec, error, error_size)
           : xinf_tok_spm_init (self, error, error_size);
    if (rc == 0 && xinf_tok_user_init (self, self->model == XINF_TOK_LLAMA)) {
        snprintf (error, error_size, "out of memory for the user-defined pieces");
        rc = -1;
    }
    if (rc) {
        xinf_tokenizer_destroy (&self);
        return NULL;
    }
    s_build_pieces (self);
    return self;
}

void
xinf_tokenizer_destroy (xinf_tokenizer_t **self_p)
{
    assert (self_p);
    xinf_tokenizer_t *self = *self_p;
    if (!self)
        return;
    free (self->texts);
    free (self->text_at);
    free (self->pieces);
    free (self->piece_at);
    free (self->scores);
    free (self->types);
    free (self->matchable);
    free (self->table);
    free (self->merge_keys);
    free (self->merge_ranks);
    free (self->merge_ids);
    xinf_tok_user_free (self);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Encoding and decoding

long
xinf_tokenizer_encode (xinf_tokenizer_t *self, const char *text, size_t length,
                       bool add_bos, int32_t *ids, size_t max_ids)
{
    if (!self || (!text && length > 0) || (!ids && max_ids > 0))
        return -1;
    xinf_tok_ids_t out = { NULL, 0, 0 };
    if (add_bos && self->bos_id >= 0)
        xinf_tok_ids_push (&out, (int32_t) self->bos_id);
    int rc = 0;
    if (length > 0)
        rc = self->model == XINF_TOK_GPT2
           ? xinf_tok_bpe_encode (self, text, length, &out)
           : xinf_tok_spm_encode (self, text, length, &out);
    long needed = rc ? -1 : (long) out.count;
    if (rc == 0 && max_ids > 0 && out.count > 0)
        memcpy (ids, out.ids, (out.count < max_ids ? out.count : max_ids) * sizeof *ids);
    free (out.ids);
    return needed;
}

//  Copies bytes at 'at' if they fit.
static void
s_put (char *text, size_t max_bytes, size_t at, const char *bytes, size_t size)
{
    if (at < max_bytes)
        memcpy (text + at, bytes, size < max_bytes - at ? size : max_bytes - at);
}

long
xinf_tokenizer_decode (xinf_tokenizer_t *self, const int32_t *ids, size_t n_ids,
                       char *text, size_t max_bytes)
{
    if (!self || (!ids && n_ids > 0) || (!text && max_bytes > 0))
        return -1;
    for (size_t index = 0; index < n_ids; index++)
        if (ids [index] < 0 || ids [index] >= self->n_tokens)
            return -1;
    //  SentencePiece drops the dummy prefix's space of the first token
    size_t first = n_ids > 0 && ids [0] == self->bos_id ? 1 : 0;
    size_t at = 0;
    for (size_t index = 0; index < n_ids; index++) {
        const char *piece = self->pieces + self->piece_at [ids [index]];
        size_t size = self->piece_at [ids [index] + 1] - self->piece_at [ids [index]];
        if (index == first && self->space_prefix && size > 0 && piece [0] == ' ') {
            piece++;
            size--;
        }
        s_put (text, max_bytes, at, piece, size);
        at += size;
    }
    if (at < max_bytes)
        text [at] = 0;
    return (long) at;
}

long
xinf_tokenizer_normalize (xinf_tokenizer_t *self, const char *text, size_t length,
                          char *out, size_t max_bytes)
{
    if (!self || (!text && length > 0) || (!out && max_bytes > 0))
        return -1;
    size_t normal_length = 0;
    char *normal = self->nfc ? xinf_tok_nfc (text, length, &normal_length) : NULL;
    if (normal) {
        text = normal;
        length = normal_length;
    }
    s_put (out, max_bytes, 0, text, length);
    if (length < max_bytes)
        out [length] = 0;
    free (normal);
    return (long) length;
}

long
xinf_tokenizer_piece (xinf_tokenizer_t *self, int32_t id, char *text, size_t max_bytes)
{
    if (!self || id < 0 || id >= self->n_tokens || (!text && max_bytes > 0))
        return -1;
    size_t size = self->piece_at [id + 1] - self->piece_at [id];
    s_put (text, max_bytes, 0, self->pieces + self->piece_at [id], size);
    if (size < max_bytes)
        text [size] = 0;
    return (long) size;
}

//  --------------------------------------------------------------------------
//  Properties

const char *
xinf_tokenizer_text (xinf_tokenizer_t *self, int32_t id, size_t *length)
{
    if (!self || id < 0 || id >= self->n_tokens)
        return NULL;
    size_t size;
    const char *text = xinf_tok_text (self, id, &size);
    if (length)
        *length = size;
    return text;
}

int32_t
xinf_tokenizer_find (xinf_tokenizer_t *self, const char *text, size_t length)
{
    if (!self || (!text && length > 0))
        return -1;
    return xinf_tok_lookup (self, text ? text : "", length);
}

size_t xinf_tokenizer_vocab (xinf_tokenizer_t *self) { return self ? (size_t) self->n_tokens : 0; }
int64_t xinf_tokenizer_bos (xinf_tokenizer_t *self) { return self ? self->bos_id : -1; }
int64_t xinf_tokenizer_eos (xinf_tokenizer_t *self) { return self ? self->eos_id : -1; }
int64_t xinf_tokenizer_unk (xinf_tokenizer_t *self) { return self ? self->unk_id : -1; }
int64_t xinf_tokenizer_eot (xinf_tokenizer_t *self) { return self ? self->eot_id : -1; }
int64_t xinf_tokenizer_eom (xinf_tokenizer_t *self) { return self ? self->eom_id : -1; }
bool xinf_tokenizer_add_bos (xinf_tokenizer_t *self) { return self && self->add_bos; }
bool xinf_tokenizer_add_eos (xinf_tokenizer_t *self) { return self && self->add_eos; }
const char *xinf_tokenizer_notes (xinf_tokenizer_t *self) { return self ? self->notes : ""; }

bool
xinf_tokenizer_default_add_bos (const char *model, const char *pre)
{
    if (model && strcmp (model, "llama") == 0)
        return true;
    int found = model && strcmp (model, "gpt2") == 0 ? s_find_pre (pre) : -1;
    return found >= 0 && s_pres [found].add_bos;
}

bool
xinf_tokenizer_rstrip (xinf_tokenizer_t *self, int32_t id)
{
    if (!self || !self->rstrip_controls || !xinf_tokenizer_is_control (self, id))
        return false;
    size_t length;
    const char *text = xinf_tokenizer_text (self, id, &length);
    static const char *const kept [] = { "<unk>", "<s>", "<|endoftext|>" };
    for (size_t index = 0; index < sizeof kept / sizeof kept [0]; index++)
        if (length == strlen (kept [index]) && memcmp (text, kept [index], length) == 0)
            return false;
    return true;
}

bool
xinf_tokenizer_is_end (xinf_tokenizer_t *self, int32_t id)
{
    if (!self || id < 0 || id >= self->n_tokens)
        return false;
    for (size_t index = 0; index < self->n_end_ids; index++)
        if (self->end_ids [index] == id)
            return true;
    return false;
}

size_t
xinf_tokenizer_end_ids (xinf_tokenizer_t *self, int32_t *ids, size_t max)
{
    if (!self)
        return 0;
    size_t count = self->n_end_ids < max ? self->n_end_ids : max;
    if (ids && count > 0)
        memcpy (ids, self->end_ids, count * sizeof *ids);
    return self->n_end_ids;
}

bool
xinf_tokenizer_is_control (xinf_tokenizer_t *self, int32_t id)
{
    return self && id >= 0 && id < self->n_tokens && self->types [id] == XINF_TOKEN_CONTROL;
}

bool
xinf_tokenizer_is_special (xinf_tokenizer_t *self, int32_t id)
{
    return xinf_tokenizer_is_control (self, id)
        || (self && id >= 0 && id < self->n_tokens && self->types [id] == XINF_TOKEN_USER_DEFINED);
}

const char *
xinf_tokenizer_model (xinf_tokenizer_t *self)
{
    return !self ? NULL : self->model == XINF_TOK_GPT2 ? "gpt2" : "llama";
}
