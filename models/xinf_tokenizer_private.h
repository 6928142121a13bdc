/*  xinf_tokenizer_private: what the tokenizer's source files share: the
    object, the bigram heap that both BPE variants merge with, UTF-8 and
    Unicode class helpers, and the entry points of each model's file.
    Not a public header.
*/
#ifndef XINF_TOKENIZER_PRIVATE_H_INCLUDED
#define XINF_TOKENIZER_PRIVATE_H_INCLUDED

#include "xinf_tokenizer.h"

typedef enum { XINF_TOK_GPT2, XINF_TOK_LLAMA } xinf_tok_model_t;
typedef enum { XINF_PRE_GPT2, XINF_PRE_LLAMA3, XINF_PRE_QWEN2, XINF_PRE_TEKKEN, XINF_PRE_GPT4O, XINF_PRE_REFACT,
    XINF_PRE_DEEPSEEK_LLM, XINF_PRE_DEEPSEEK_CODER, XINF_PRE_DEEPSEEK_V3, XINF_PRE_DEFAULT
} xinf_tok_pre_t;

#define XINF_TOK_MAX_ENDS 16            //  EOS, EOT, EOM and the end markers
#define XINF_TOK_NOTES 1024

struct _xinf_tokenizer_t {
    xinf_tok_model_t model;
    xinf_tok_pre_t pre;
    int32_t n_tokens;
    char *texts;                    //  vocabulary texts, each NUL-terminated
    size_t *text_at;                //  [n_tokens + 1] offsets into texts
    char *pieces;                   //  what each token decodes to
    size_t *piece_at;               //  [n_tokens + 1] offsets into pieces
    float *scores;                  //  [n_tokens], NaN made -inf
    uint8_t *types;                 //  [n_tokens] resolved token types
    bool *matchable;                //  [n_tokens] may come out of text
    int32_t *table;                 //  vocabulary hash: ids, -1 empty
    size_t table_mask;
    int32_t byte_ids [256];         //  token of each byte, or -1
    //  The user-defined pieces text is split at (xinf_tokenizer_user.c),
    //  their texts as the encoder matches them one after another, grouped
    //  by first byte (user_first [b] .. user_first [b + 1]), longest first
    int32_t *user_ids;
    char *user_texts;
    size_t *user_at;                //  [n_user + 1] offsets into user_texts
    size_t user_first [257];
    size_t n_user;
    //  gpt2 merges: (left id, right id) -> rank and merged id
    uint64_t *merge_keys;
    int32_t *merge_ranks, *merge_ids;
    size_t merge_mask;
    int64_t bos_id, eos_id, unk_id, eot_id, eom_id;
    bool add_bos, add_eos, space_prefix;
    bool nfc;                       //  gpt2: NFC-normalize text first (qwen2)
    bool ignore_merges;             //  gpt2: a pre-token that is a token is taken whole (llama3)
    bool rstrip_controls;
    bool harmony;                     //  GPT-OSS's harmony vocabulary (s_harmony)           //  spec rstrip_controls (Phi-3)
    int32_t shown [16];               //  control tokens rendered as their text (s_preserved), -1 past n_shown
    size_t n_shown;
    int32_t end_ids [XINF_TOK_MAX_ENDS];    //  end of generation, no repeats
    size_t n_end_ids;
    char notes [XINF_TOK_NOTES];            //  what building ignored
};

//  Growable id list that encoders append to.
typedef struct {
    int32_t *ids;
    size_t count, capacity;
} xinf_tok_ids_t;
void xinf_tok_ids_push (xinf_tok_ids_t *list, int32_t id);

//  A candidate merge of symbols 'left' and 'right': higher priority first,
//  then the leftmost; 'a' and 'b' let the encoder check on pop that both
//  symbols are still what they were when it was pushed.
typedef struct {
    double priority;
    int32_t left, right;
    int32_t a, b;
} xinf_tok_bigram_t;

typedef struct {
    xinf_tok_bigram_t *items;
    size_t count, capacity;
} xinf_tok_heap_t;
void xinf_tok_heap_push (xinf_tok_heap_t *heap, xinf_tok_bigram_t bigram);
bool xinf_tok_heap_pop (xinf_tok_heap_t *heap, xinf_tok_bigram_t *bigram);

//  Length of the valid UTF-8 character at 'text' (1 to 4), its code point
//  in *cpt; an invalid byte is a 1-byte character with *cpt = XINF_TOK_BAD.
#define XINF_TOK_BAD 0xFFFFFFFFu
size_t xinf_tok_utf8 (const uint8_t *text, size_t length, uint32_t *cpt);
//  Writes the UTF-8 of a code point (1 to 4 bytes), returns its length.
size_t xinf_tok_utf8_put (uint32_t cpt, char *out);

//  Unicode classes for the pre-tokenizer regexes (Unicode 14).
#define XINF_TOK_LETTER 1           //  \p{L}
#define XINF_TOK_NUMBER 2           //  \p{N}
#define XINF_TOK_SPACE  4           //  \s (White_Space)
#define XINF_TOK_OTHER  8           //  [^\s\p{L}\p{N}], invalid bytes too
int xinf_tok_class (uint32_t cpt);
//  The general category (its first letter) for the regexes that name more
//  than \p{L} and \p{N}: White_Space first, then \p{L}, \p{N}, \p{P},
//  \p{S}, \p{M} or none of them; an invalid byte is U+FFFD's, a symbol,
//  as llama.cpp reads it.
enum { XINF_TOK_CAT_OTHER, XINF_TOK_CAT_LETTER, XINF_TOK_CAT_NUMBER, XINF_TOK_CAT_PUNCT, XINF_TOK_CAT_SYMBOL,
       XINF_TOK_CAT_MARK, XINF_TOK_CAT_SPACE };
int xinf_tok_category (uint32_t cpt);

//  NFC normalization (Qwen2's normalizer): returns the NFC form of the
//  text, malloc'ed, with its length in *out_length, or NULL when the text is
//  already in NFC (as every text without a code point from U+0300 up is).
//  Invalid UTF-8 bytes pass through unchanged and block composition.
char *xinf_tok_nfc (const char *text, size_t length, size_t *out_length);
//  The tables it uses (xinf_tokenizer_nfc_data.c).
extern const uint64_t xinf_tok_decompositions [2061];
extern const uint16_t xinf_tok_compositions [941];
extern const uint32_t xinf_tok_combining [571];
extern const uint32_t xinf_tok_nfc_maybe [24];

//  Splits text into pre-tokens; returns their count and their byte end
//  offsets in *ends_p (malloc'ed, caller frees).
size_t xinf_tok_split (xinf_tok_pre_t pre, const char *text, size_t length, size_t **ends_p);
//  The same for the pre-tokenizers that are lists of regexes, DeepSeek's
//  and the default (xinf_tokenizer_deepseek.c).
size_t xinf_tok_split_list (xinf_tok_pre_t pre, const char *text, size_t length, size_t **ends_p);

//  gpt2: builds byte ids and merges; writes what a token decodes to into
//  'out' (room for its text length + 4 bytes); encodes.
int xinf_tok_bpe_init (xinf_tokenizer_t *self, const xinf_tokenizer_spec_t *spec, char *error, size_t error_size);
size_t xinf_tok_bpe_piece (xinf_tokenizer_t *self, int32_t id, char *out);
int xinf_tok_bpe_encode (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_ids_t *out);

//  llama: the same.
int xinf_tok_spm_init (xinf_tokenizer_t *self, char *error, size_t error_size);

//  A text with its spaces as "▁" (SentencePiece's normal form) into 'out'
//  (NULL: only measured); its length (xinf_tokenizer_user.c).
size_t xinf_tok_spaced (const char *text, size_t length, char *out);

//  The user-defined pieces (xinf_tokenizer_user.c): their table, with
//  spaces as "▁" where 'spaced' (llama); 0, or -1 when out of memory.
int xinf_tok_user_init (xinf_tokenizer_t *self, bool spaced);
void xinf_tok_user_free (xinf_tokenizer_t *self);
//  The longest user-defined piece 'text' starts with: its length, its id
//  in *id; 0 when none does.
size_t xinf_tok_user_match (const xinf_tokenizer_t *self, const char *text, size_t size, int32_t *id);
//  Encodes text split at its user-defined pieces: each piece its id, the
//  text between them (possibly empty) through 'span'; 0, or span's -1.
typedef int (xinf_tok_span_fn) (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_ids_t *out);
int xinf_tok_user_encode (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_span_fn *span,
                          xinf_tok_ids_t *out);
size_t xinf_tok_spm_piece (xinf_tokenizer_t *self, int32_t id, char *out);
int xinf_tok_spm_encode (xinf_tokenizer_t *self, const char *text, size_t length, xinf_tok_ids_t *out);

//  Token text and its length.
static inline const char *
xinf_tok_text (const xinf_tokenizer_t *self, int32_t id, size_t *length)
{
    *length = self->text_at [id + 1] - self->text_at [id] - 1;
    return self->texts + self->text_at [id];
}

//  Looks text up in the vocabulary; -1 when absent.
int32_t xinf_tok_lookup (const xinf_tokenizer_t *self, const char *text, size_t length);

#endif
