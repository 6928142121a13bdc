/*  xinf_make_vocab: the deterministic tokenizer vocabulary of
    xinf-make-model (see the header for what it holds).

    Tokens are kept as raw byte strings (gpt2) or UTF-8 text (llama SPM)
    with a hash index so that no token occurs twice; gpt2 tokens are
    encoded with GPT-2's bytes_to_unicode mapping only when stored.
*/
#include "xinf_make_vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_PIECE 16                  //  bytes in a generated token
#define S_SPACE_SPM "\xe2\x96\x81"      //  U+2581 LOWER ONE EIGHTH BLOCK

static const char s_corpus [] =
    "Hello world. The quick brown fox jumps over the lazy dog. "
    "A distributed inference runtime serves large language models on many machines. "
    "Each worker node loads a part of the model, and the supervisor tells the workers what to do. "
    "When a worker dies or a port is closed, the runtime must say which node cannot reach which address. "
    "The model reads the prompt, turns the text into tokens, and then predicts the next token, one after another. "
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness. "
    "There is a time for everything, and a season for every activity under the heavens. "
    "In the beginning the computer was slow, but now the computers are fast and the networks are faster. "
    "We test the tokenizer with words that appear again and again: the, and, of, to, in, is, that, for, it, with. "
    "Numbers such as 1, 2, 3, 10, 42 and 2026 are split into single digits. "
    "Thank you for reading this text; please write the answer in one sentence!";

typedef struct {
    char *bytes;
    uint32_t length;
} s_piece_t;

typedef struct {
    uint32_t *ids;
    uint32_t length;
} s_word_t;

struct _xinf_make_vocab_t {
    xinf_vocab_kind_t kind;
    uint32_t size;
    s_piece_t *pieces;                  //  every token, by id
    int32_t *types;
    float *scores;
    uint32_t count;                     //  tokens made so far (below regular_end)
    uint32_t first_regular;             //  first id merges and joins may use
    uint32_t regular_end;               //  first special id (gpt2); size (spm)
    uint32_t *table;                    //  hash index: id + 1, 0 when empty
    uint32_t table_mask;
    uint32_t (*merges) [2];             //  gpt2: the pair each merge joins
    uint32_t merge_count;
    const char *pre;                    //  gpt2: tokenizer.ggml.pre when not the kind's (xinf_make_vocab_set_pre)
    int64_t bos, eos, eot, eom;         //  -1 when the kind has none
    bool fim;                           //  Qwen2's fill-in-the-middle tokens too
    int64_t fim_pre, fim_suf, fim_mid;  //  -1 without them
    int64_t fim_rep, fim_sep;           //  the repository pattern's, -1 without them
    uint32_t script_first;              //  first scripted token (gpt2, after the specials); 0: none
};

//  ---- PRNG ------------------------------------------------------------------------

static uint64_t
s_splitmix (uint64_t *state)
{
    uint64_t value = (*state += 0x9e3779b97f4a7c15ull);
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
    return value ^ (value >> 31);
}

void
xinf_rng_seed (xinf_rng_t *self, uint64_t seed)
{
    for (int index = 0; index < 4; index++)
        self->state [index] = s_splitmix (&seed);
}

static uint64_t
s_rotl (uint64_t value, int shift)
{
    return (value << shift) | (value >> (64 - shift));
}

uint64_t
xinf_rng_next (xinf_rng_t *self)
{
    uint64_t *s = self->state;
    uint64_t result = s_rotl (s [1] * 5, 7) * 9;
    uint64_t t = s [1] << 17;
    s [2] ^= s [0];
    s [3] ^= s [1];
    s [1] ^= s [2];
    s [0] ^= s [3];
    s [2] ^= t;
    s [3] = s_rotl (s [3], 45);
    return result;
}

float
xinf_rng_normal (xinf_rng_t *self)
{
    uint64_t bits = xinf_rng_next (self);
    uint32_t sum = (uint32_t) (bits & 0xffff) + (uint32_t) ((bits >> 16) & 0xffff)
                 + (uint32_t) ((bits >> 32) & 0xffff) + (uint32_t) (bits >> 48);
    return ((float) sum + 2.0f - 131072.0f) * (1.0f / 65536.0f) * 1.7320508f;
}

//  ---- the token table ---------------------------------------------------------------

static uint32_t
s_hash (const char *bytes, uint32_t length)
{
    uint32_t hash = 2166136261u;
    for (uint32_t index = 0; index < length; index++)
        hash = (hash ^ (uint8_t) bytes [index]) * 16777619u;
    return hash;
}

//  The id of a token, or -1.
static int64_t
s_lookup (xinf_make_vocab_t *self, const char *bytes, uint32_t length)
{
    for (uint32_t slot = s_hash (bytes, length) & self->table_mask; self->table [slot];
         slot = (slot + 1) & self->table_mask) {
        s_piece_t *piece = &self->pieces [self->table [slot] - 1];
        if (piece->length == length && memcmp (piece->bytes, bytes, length) == 0)
            return self->table [slot] - 1;
    }
    return -1;
}

//  Puts a token at 'id' (not yet used); -1 on allocation failure.
static int
s_place (xinf_make_vocab_t *self, uint32_t id, const char *bytes, uint32_t length, int32_t type)
{
    s_piece_t *piece = &self->pieces [id];
    if (!(piece->bytes = malloc (length + 1)))
        return -1;
    memcpy (piece->bytes, bytes, length);
    piece->bytes [length] = 0;
    piece->length = length;
    self->types [id] = type;
    uint32_t slot = s_hash (bytes, length) & self->table_mask;
    while (self->table [slot])
        slot = (slot + 1) & self->table_mask;
    self->table [slot] = id + 1;
    return 0;
}

static int
s_append (xinf_make_vocab_t *self, const char *bytes, uint32_t length, int32_t type)
{
    if (s_place (self, self->count, bytes, length, type))
        return -1;
    self->scores [self->count] = self->count >= self->first_regular
                               ? -(float) (self->count - self->first_regular) : 0.0f;
    self->count++;
    return 0;
}

//  Joins two tokens into a new one (or finds it); records the merge.
static int64_t
s_join (xinf_make_vocab_t *self, uint32_t left, uint32_t right, bool must_be_new)
{
    char joined [2 * S_MAX_PIECE + 8];
    s_piece_t *a = &self->pieces [left], *b = &self->pieces [right];
    if (a->length + b->length > sizeof joined)
        return -1;
    memcpy (joined, a->bytes, a->length);
    memcpy (joined + a->length, b->bytes, b->length);
    int64_t id = s_lookup (self, joined, a->length + b->length);
    if (id >= 0 && must_be_new)
        return -1;
    if (id < 0) {
        if (self->count >= self->regular_end || s_append (self, joined, a->length + b->length, 1))
            return -1;
        id = self->count - 1;
    }
    if (self->kind != XINF_VOCAB_SPM) {
        self->merges [self->merge_count] [0] = left;
        self->merges [self->merge_count] [1] = right;
        self->merge_count++;
    }
    return id;
}

//  ---- learning merges from the built-in text -------------------------------------------

static bool
s_is_letter (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

//  Splits the corpus into words as the pre-tokenizers roughly do: gpt2
//  " ?letters", " ?punctuation", single digits, spaces; SPM "▁" + the
//  non-space run that follows. Words hold the ids of their characters.
static int
s_split (xinf_make_vocab_t *self, s_word_t *words, uint32_t *word_count)
{
    const char *text = s_corpus;
    size_t length = strlen (text), at = 0;
    *word_count = 0;
    while (at < length) {
        size_t start = at;
        if (text [at] == ' ' && at + 1 < length && text [at + 1] != ' ')
            at++;
        if (self->kind == XINF_VOCAB_SPM || s_is_letter (text [at]))
            while (at < length && text [at] != ' ' && (self->kind == XINF_VOCAB_SPM || s_is_letter (text [at])))
                at++;
        else
        if (text [at] >= '0' && text [at] <= '9')
            at = at == start ? at + 1 : at;
        else
            while (at < length && text [at] != ' ' && !s_is_letter (text [at]) && !(text [at] >= '0' && text [at] <= '9'))
                at++;
        if (at == start)
            at++;
        s_word_t *word = &words [(*word_count)++];
        if (!(word->ids = calloc (at - start + 1, sizeof (uint32_t))))
            return -1;
        word->length = 0;
        if (self->kind == XINF_VOCAB_SPM)           //  every word starts with "▁"
            word->ids [word->length++] = (uint32_t) s_lookup (self, S_SPACE_SPM, 3);
        for (size_t index = start; index < at; index++) {
            if (self->kind == XINF_VOCAB_SPM && text [index] == ' ')
                continue;
            if (self->kind == XINF_VOCAB_SPM) {
                int64_t id = s_lookup (self, text + index, 1);
                if (id < 0 && s_append (self, text + index, 1, 1))
                    return -1;
                word->ids [word->length++] = id < 0 ? self->count - 1 : (uint32_t) id;
            }
            else
                word->ids [word->length++] = (uint32_t) s_lookup (self, text + index, 1);
        }
    }
    return 0;
}

//  The most frequent adjacent pair (first seen wins ties); its count.
static uint32_t
s_best_pair (s_word_t *words, uint32_t word_count, uint32_t *left, uint32_t *right)
{
    enum { SLOTS = 8192 };
    static uint64_t keys [SLOTS];
    static uint32_t counts [SLOTS];
    memset (counts, 0, sizeof counts);
    uint32_t best = 0;
    for (uint32_t pass = 0; pass < 2; pass++)
        for (uint32_t word = 0; word < word_count; word++)
            for (uint32_t at = 0; at + 1 < words [word].length; at++) {
                uint64_t key = ((uint64_t) words [word].ids [at] << 32) | words [word].ids [at + 1];
                uint32_t slot = (uint32_t) ((key * 0x9e3779b97f4a7c15ull) >> 51);
                while (counts [slot] && keys [slot] != key)
                    slot = (slot + 1) % SLOTS;
                if (pass == 0) {
                    keys [slot] = key;
                    counts [slot]++;
                }
                else
                if (counts [slot] > best) {
                    best = counts [slot];
                    *left = (uint32_t) (key >> 32);
                    *right = (uint32_t) key;
                }
            }
    return best;
}

static void
s_replace (s_word_t *words, uint32_t word_count, uint32_t left, uint32_t right, uint32_t joined)
{
    for (uint32_t word = 0; word < word_count; word++) {
        uint32_t *ids = words [word].ids, kept = 0;
        for (uint32_t at = 0; at < words [word].length; at++)
            if (at + 1 < words [word].length && ids [at] == left && ids [at + 1] == right)
                ids [kept++] = joined, at++;
            else
                ids [kept++] = ids [at];
        words [word].length = kept;
    }
}

static int
s_learn (xinf_make_vocab_t *self)
{
    s_word_t *words = calloc (sizeof s_corpus, sizeof (s_word_t));
    uint32_t word_count = 0, left = 0, right = 0;
    int rc = words ? s_split (self, words, &word_count) : -1;
    while (rc == 0 && self->count < self->regular_end && s_best_pair (words, word_count, &left, &right) >= 2) {
        int64_t joined = s_join (self, left, right, false);
        if (joined < 0)
            break;                      //  too long
        s_replace (words, word_count, left, right, (uint32_t) joined);
    }
    for (uint32_t word = 0; words && word < word_count; word++)
        free (words [word].ids);
    free (words);
    return rc;
}

//  Fills the rest with joins of existing tokens: any token on the left, one
//  of the first (short) ones on the right, never a right part that starts
//  a word, at most S_MAX_PIECE bytes.
static int
s_fill (xinf_make_vocab_t *self, uint64_t seed)
{
    xinf_rng_t rng;
    xinf_rng_seed (&rng, seed ^ 0x70b3c0ffee5eedull);
    uint64_t attempts = 0, limit = 1000ull * self->size + 100000;
    while (self->count < self->regular_end) {
        if (++attempts > limit)
            return -1;
        uint32_t span = self->count - self->first_regular;
        uint32_t left = self->first_regular + (uint32_t) (xinf_rng_next (&rng) % span);
        uint32_t right = self->first_regular + (uint32_t) (xinf_rng_next (&rng) % (span < 1024 ? span : 1024));
        s_piece_t *a = &self->pieces [left], *b = &self->pieces [right];
        bool starts_word = self->kind == XINF_VOCAB_SPM ? memcmp (b->bytes, S_SPACE_SPM, b->length < 3 ? b->length : 3) == 0
                                                        : b->bytes [0] == ' ';
        if (starts_word || a->length + b->length > S_MAX_PIECE)
            continue;
        s_join (self, left, right, true);
    }
    return 0;
}

//  ---- the kinds ---------------------------------------------------------------------------

//  GPT-2's bytes_to_unicode: printable bytes map to themselves, the others
//  to U+0100 onwards in byte order. 'order' lists the bytes by token id.
static void
s_byte_map (uint32_t codepoints [256], uint8_t order [256])
{
    uint32_t next = 256, count = 0;
    for (uint32_t byte = 0; byte < 256; byte++)
        if ((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174) {
            codepoints [byte] = byte;
            order [count++] = (uint8_t) byte;
        }
    for (uint32_t byte = 0; byte < 256; byte++)
        if (!((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174)) {
            codepoints [byte] = next++;
            order [count++] = (uint8_t) byte;
        }
}

//  The special tokens of a kind in their order, NULL for a reserved one:
//  Qwen2.5's first three; Llama 3's first eleven as in the real files, of
//  which a vocabulary below 128256 tokens keeps only the named six.
static const char *s_qwen2_specials [] = {
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|repo_name|>", "<|file_sep|>"
};
static const char *s_llama3_specials [] = {
    "<|begin_of_text|>", "<|end_of_text|>", NULL, NULL, "<|finetune_right_pad_id|>", NULL,
    "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"
};
static const char *s_harmony_specials [] = {
    "<|startoftext|>", "<|endoftext|>", "<|return|>", "<|constrain|>", "<|channel|>", "<|start|>", "<|end|>",
    "<|message|>", "<|call|>"
};
static const char *s_llama3_named [] = {
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eom_id|>", "<|eot_id|>"
};

//  Places the special tokens (control type) at the end of the vocabulary;
//  'names' first, then reserved ones up to 'total'.
static int
s_place_specials (xinf_make_vocab_t *self, const char **names, uint32_t named, uint32_t total)
{
    uint32_t reserved = 0;
    self->regular_end = self->size - total;
    for (uint32_t index = 0; index < total; index++) {
        char text [64];
        if (index < named && names [index])
            snprintf (text, sizeof text, "%s", names [index]);
        else
            snprintf (text, sizeof text, "<|reserved_special_token_%u|>", reserved++);
        if (s_place (self, self->regular_end + index, text, (uint32_t) strlen (text), 3))
            return -1;
        self->scores [self->regular_end + index] = 0;
    }
    return 0;
}

//  gpt2 kinds: the specials, then the 256 byte tokens. Qwen2: BOS = EOS =
//  <|endoftext|>, EOT <|im_end|>; Llama 3: BOS <|begin_of_text|>, EOS
//  <|end_of_text|>, EOT <|eot_id|>, EOM <|eom_id|>.
static int
s_specials (xinf_make_vocab_t *self)
{
    int rc;
    if (self->kind == XINF_VOCAB_QWEN2)
        rc = s_place_specials (self, s_qwen2_specials, self->fim ? 8 : 3, self->fim ? 8 : 3);
    else
    if (self->kind == XINF_VOCAB_HARMONY)
        rc = s_place_specials (self, s_harmony_specials, 9, 9);
    else
    if (self->size >= 128256)
        rc = s_place_specials (self, s_llama3_specials, 11, 256);
    else
        rc = s_place_specials (self, s_llama3_named, 6, 6);
    if (rc)
        return -1;
    bool qwen2 = self->kind == XINF_VOCAB_QWEN2;
    self->bos = s_lookup (self, qwen2 ? "<|endoftext|>" : "<|begin_of_text|>", qwen2 ? 13 : 17);
    self->eos = s_lookup (self, qwen2 ? "<|endoftext|>" : "<|end_of_text|>", qwen2 ? 13 : 15);
    self->eot = s_lookup (self, qwen2 ? "<|im_end|>" : "<|eot_id|>", 10);
    self->eom = qwen2 ? -1 : s_lookup (self, "<|eom_id|>", 10);
    if (self->kind == XINF_VOCAB_HARMONY) {     //  its end of an answer is the EOS; no EOT, no EOM
        self->bos = s_lookup (self, "<|startoftext|>", 15);
        self->eos = s_lookup (self, "<|return|>", 10);
        self->eot = self->eom = -1;
    }
    self->fim_pre = self->fim ? s_lookup (self, "<|fim_prefix|>", 14) : -1;
    self->fim_suf = self->fim ? s_lookup (self, "<|fim_suffix|>", 14) : -1;
    self->fim_mid = self->fim ? s_lookup (self, "<|fim_middle|>", 14) : -1;
    self->fim_rep = self->fim ? s_lookup (self, "<|repo_name|>", 13) : -1;
    self->fim_sep = self->fim ? s_lookup (self, "<|file_sep|>", 12) : -1;
    uint32_t codepoints [256];
    uint8_t order [256];
    s_byte_map (codepoints, order);
    for (uint32_t index = 0; index < 256; index++)
        if (s_append (self, (const char *) &order [index], 1, 1))
            return -1;
    self->first_regular = 0;
    return 0;
}

static int
s_spm_base (xinf_make_vocab_t *self)
{
    self->regular_end = self->size;
    if (s_append (self, "<unk>", 5, 2) || s_append (self, "<s>", 3, 3) || s_append (self, "</s>", 4, 3))
        return -1;
    for (uint32_t byte = 0; byte < 256; byte++) {
        char text [8];
        snprintf (text, sizeof text, "<0x%02X>", byte);
        if (s_append (self, text, 6, 6))
            return -1;
    }
    self->first_regular = self->count;
    self->bos = 1;
    self->eos = 2;
    self->eot = self->eom = -1;
    return s_append (self, S_SPACE_SPM, 3, 1);
}

xinf_make_vocab_t *
xinf_make_vocab_new (xinf_vocab_kind_t kind, uint32_t size, uint64_t seed, bool fim, char *error, size_t error_size)
{
    uint32_t minimum = 387;             //  bytes, specials and 120 or more merged tokens
    if (size < minimum || size > (1u << 24)) {
        snprintf (error, error_size, "a %s vocabulary needs %u to %u tokens, not %u",
                  kind == XINF_VOCAB_SPM ? "llama" : "gpt2", minimum, 1u << 24, size);
        return NULL;
    }
    xinf_make_vocab_t *self = calloc (1, sizeof *self);
    uint32_t slots = 1;
    while (slots < 2 * size)
        slots *= 2;
    if (self) {
        self->kind = kind;
        self->fim = fim && kind == XINF_VOCAB_QWEN2;
        self->size = size;
        self->table_mask = slots - 1;
        self->pieces = calloc (size, sizeof (s_piece_t));
        self->types = calloc (size, sizeof (int32_t));
        self->scores = calloc (size, sizeof (float));
        self->table = calloc (slots, sizeof (uint32_t));
        self->merges = calloc (size + sizeof s_corpus, sizeof self->merges [0]);
    }
    int rc = !self || !self->pieces || !self->types || !self->scores || !self->table || !self->merges ? -1 : 0;
    if (rc == 0)
        rc = kind == XINF_VOCAB_SPM ? s_spm_base (self) : s_specials (self);
    if (rc == 0 && (rc = s_learn (self)) == 0)
        rc = s_fill (self, seed);
    if (rc) {
        snprintf (error, error_size, "cannot build the vocabulary (out of memory or no joins left)");
        xinf_make_vocab_destroy (&self);
    }
    return self;
}

void
xinf_make_vocab_destroy (xinf_make_vocab_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xinf_make_vocab_t *self = *self_p;
    for (uint32_t index = 0; self->pieces && index < self->size; index++)
        free (self->pieces [index].bytes);
    free (self->pieces);
    free (self->types);
    free (self->scores);
    free (self->table);
    free (self->merges);
    free (self);
    *self_p = NULL;
}

int
xinf_make_vocab_add_script (xinf_make_vocab_t *self, const char *text, uint32_t *first, uint32_t *count)
{
    size_t length = strlen (text);
    if (self->kind == XINF_VOCAB_SPM || length == 0 || self->script_first)
        return -1;
    //  Pieces of up to 4 bytes, never splitting a UTF-8 character
    uint32_t pieces = 0;
    for (size_t at = 0; at < length; pieces++) {
        size_t end = at + 4 < length ? at + 4 : length;
        while (end < length && end > at + 1 && ((uint8_t) text [end] & 0xC0) == 0x80)
            end--;
        at = end;
    }
    s_piece_t *grown = realloc (self->pieces, (self->size + pieces) * sizeof (s_piece_t));
    if (grown)
        self->pieces = grown;
    int32_t *types = grown ? realloc (self->types, (self->size + pieces) * sizeof (int32_t)) : NULL;
    if (types)
        self->types = types;
    float *scores = types ? realloc (self->scores, (self->size + pieces) * sizeof (float)) : NULL;
    if (!scores)
        return -1;
    self->scores = scores;
    *first = self->script_first = self->size;
    *count = pieces;
    for (size_t at = 0; at < length; self->size++) {
        size_t end = at + 4 < length ? at + 4 : length;
        while (end < length && end > at + 1 && ((uint8_t) text [end] & 0xC0) == 0x80)
            end--;
        s_piece_t *piece = &self->pieces [self->size];
        if (!(piece->bytes = malloc (end - at + 1)))
            return -1;
        memcpy (piece->bytes, text + at, end - at);
        piece->bytes [end - at] = 0;
        piece->length = (uint32_t) (end - at);
        self->types [self->size] = 1;
        self->scores [self->size] = 0;
        at = end;
    }
    return 0;
}

int
xinf_make_vocab_set_pre (xinf_make_vocab_t *self, const char *pre)
{
    if (self->kind == XINF_VOCAB_SPM)
        return -1;
    self->pre = pre;
    return 0;
}

int64_t
xinf_make_vocab_end (xinf_make_vocab_t *self)
{
    return self->eot >= 0 ? self->eot : self->eos;
}

//  ---- storing -----------------------------------------------------------------------------

//  A gpt2 token as stored: every byte as the UTF-8 of its codepoint.
static size_t
s_encode (const s_piece_t *piece, const uint32_t codepoints [256], char *out)
{
    size_t used = 0;
    for (uint32_t index = 0; index < piece->length; index++) {
        uint32_t code = codepoints [(uint8_t) piece->bytes [index]];
        if (code < 0x80)
            out [used++] = (char) code;
        else {
            out [used++] = (char) (0xc0 | (code >> 6));
            out [used++] = (char) (0x80 | (code & 0x3f));
        }
    }
    out [used] = 0;
    return used;
}

static int
s_store_gpt2 (xinf_make_vocab_t *self, xinf_gguf_writer_t *writer, char **texts)
{
    uint32_t codepoints [256];
    uint8_t order [256];
    s_byte_map (codepoints, order);
    for (uint32_t id = 0; id < self->size; id++) {
        if (!(texts [id] = malloc (2 * self->pieces [id].length + 1)))
            return -1;
        if (id < self->regular_end || (self->script_first && id >= self->script_first))
            s_encode (&self->pieces [id], codepoints, texts [id]);
        else
            memcpy (texts [id], self->pieces [id].bytes, self->pieces [id].length + 1);
    }
    char **merges = calloc (self->merge_count + 1, sizeof (char *));
    int rc = merges ? 0 : -1;
    for (uint32_t index = 0; rc == 0 && index < self->merge_count; index++) {
        const char *left = texts [self->merges [index] [0]], *right = texts [self->merges [index] [1]];
        size_t length = strlen (left) + strlen (right) + 2;
        if (!(merges [index] = malloc (length)))
            rc = -1;
        else
            snprintf (merges [index], length, "%s %s", left, right);
    }
    rc = rc || xinf_gguf_writer_set_str (writer, "tokenizer.ggml.model", "gpt2")
            || xinf_gguf_writer_set_str (writer, "tokenizer.ggml.pre",
                                         self->pre ? self->pre : self->kind == XINF_VOCAB_QWEN2 ? "qwen2"
                                         : self->kind == XINF_VOCAB_HARMONY ? "gpt-4o" : "llama-bpe")
            || xinf_gguf_writer_set_str_array (writer, "tokenizer.ggml.tokens", (const char *const *) texts, NULL, self->size)
            || xinf_gguf_writer_set_array (writer, "tokenizer.ggml.token_type", XINF_GGUF_INT32, self->types, self->size)
            || xinf_gguf_writer_set_str_array (writer, "tokenizer.ggml.merges", (const char *const *) merges, NULL, self->merge_count)
            || xinf_gguf_writer_set_bool (writer, "tokenizer.ggml.add_bos_token", self->kind == XINF_VOCAB_LLAMA3);
    for (uint32_t index = 0; merges && index < self->merge_count; index++)
        free (merges [index]);
    free (merges);
    return rc;
}

static int
s_store_spm (xinf_make_vocab_t *self, xinf_gguf_writer_t *writer, char **texts)
{
    for (uint32_t id = 0; id < self->size; id++)
        texts [id] = self->pieces [id].bytes;
    int rc = xinf_gguf_writer_set_str (writer, "tokenizer.ggml.model", "llama")
          || xinf_gguf_writer_set_str_array (writer, "tokenizer.ggml.tokens", (const char *const *) texts, NULL, self->size)
          || xinf_gguf_writer_set_array (writer, "tokenizer.ggml.scores", XINF_GGUF_FLOAT32, self->scores, self->size)
          || xinf_gguf_writer_set_array (writer, "tokenizer.ggml.token_type", XINF_GGUF_INT32, self->types, self->size)
          || xinf_gguf_writer_set_u32 (writer, "tokenizer.ggml.unknown_token_id", 0)
          || xinf_gguf_writer_set_bool (writer, "tokenizer.ggml.add_bos_token", true)
          || xinf_gguf_writer_set_bool (writer, "tokenizer.ggml.add_eos_token", false);
    memset (texts, 0, self->size * sizeof (char *));
    return rc;
}

//  A special token id as u32, nothing when the kind has none.
static int
s_store_id (xinf_gguf_writer_t *writer, const char *key, int64_t id)
{
    return id < 0 ? 0 : xinf_gguf_writer_set_u32 (writer, key, (uint32_t) id);
}

int
xinf_make_vocab_store (xinf_make_vocab_t *self, xinf_gguf_writer_t *writer)
{
    char **texts = calloc (self->size, sizeof (char *));
    if (!texts)
        return -1;
    int rc = self->kind == XINF_VOCAB_SPM ? s_store_spm (self, writer, texts) : s_store_gpt2 (self, writer, texts);
    for (uint32_t id = 0; id < self->size; id++)
        free (texts [id]);
    free (texts);
    return rc || s_store_id (writer, "tokenizer.ggml.bos_token_id", self->bos)
              || s_store_id (writer, "tokenizer.ggml.eos_token_id", self->eos)
              || s_store_id (writer, "tokenizer.ggml.eot_token_id", self->eot)
              || s_store_id (writer, "tokenizer.ggml.eom_token_id", self->eom)
              || s_store_id (writer, "tokenizer.ggml.fim_pre_token_id", self->fim_pre)
              || s_store_id (writer, "tokenizer.ggml.fim_suf_token_id", self->fim_suf)
              || s_store_id (writer, "tokenizer.ggml.fim_mid_token_id", self->fim_mid)
              || s_store_id (writer, "tokenizer.ggml.fim_rep_token_id", self->fim_rep)
              || s_store_id (writer, "tokenizer.ggml.fim_sep_token_id", self->fim_sep) ? -1 : 0;
}
