/*  xinf_tokenizer: the tokenizers stored in GGUF files (tokenizer.ggml.*),
    built from plain arrays that the caller takes from the file's metadata,
    so that this module does not depend on the GGUF reader.

    gpt2:  byte-level BPE. Text is split into pre-tokens by a hand-written
           equivalent of the model's pre-tokenizer regex (GPT-2, llama3 or
           qwen2, from tokenizer.ggml.pre), each pre-token's bytes become
           byte tokens through GPT-2's bytes_to_unicode table, and merges
           apply by rank (lower index first, leftmost first on ties);
           llama3 takes a pre-token that is a whole token as it is (Hugging
           Face's ignore_merges). "qwen2" first normalizes the text to
           Unicode NFC, as the normalizer of Qwen2's tokenizer.json does
           (llama.cpp skips it; "deepseek-r1-qwen" does not normalize).
    llama: SentencePiece BPE. Spaces become U+2581 "▁" and one is put in
           front (add_space_prefix); starting from UTF-8 characters, the
           adjacent pair whose concatenation is a vocabulary piece with the
           highest score merges first (leftmost on ties), as llama.cpp's
           llm_tokenizer_spm; characters left outside the vocabulary fall
           back to <0xNN> byte tokens, else to the unknown token.

    Special tokens: text is never parsed for control tokens:
    "<|endoftext|>" or "<s>" in a prompt is tokenized as ordinary text
    (control, unknown, unused and byte tokens are never matched from text).
    Callers add specials by id (BOS through encode, the rest by hand). A
    vocabulary's user-defined pieces are split out of the text before
    merging, the longest at each place from the left, as Hugging Face's
    tokenizers do (Qwen's <think> and <tool_call>; Gemma's runs of spaces,
    newlines and tabs and its HTML tags, matched with spaces as "▁").

    End of generation: EOS, EOT and EOM (tokenizer.ggml.eos_token_id,
    eot_token_id, eom_token_id), and, like llama.cpp's special_eog_ids,
    every token whose text is one of <|eot_id|>, <|eom_id|>, <|im_end|>,
    <|end_of_text|>, <|endoftext|>, <end_of_turn>, </s>, Phi-3's <|end|>,
    GPT-OSS's <|return|> and <|call|> (in its harmony vocabulary, which
    has both, <|end|> ends a message, not the generation, and the tokens
    that head a message, <|start|>, <|channel|>, <|message|> and
    <|constrain|>, are rendered as text, as llama.cpp does),
    or Qwen2.5-Coder's <|fim_pad|>, <|repo_name|> and <|file_sep|>
    (llama.cpp's FIM pad, repo and separator ends) and that the file types
    as control (any such token when the file has no token types). An
    EOT or EOM id outside the vocabulary is ignored, with a note.

    Decoding renders control tokens (token type 3, the BOS, EOS, EOT and
    EOM ids, and the end markers above) as nothing, unknown tokens (type 2 or the unk id) of llama as "▅" like
    llama.cpp, byte tokens as their byte, "▁" as a space (llama) and GPT-2's
    unicode characters back to bytes (gpt2). For llama, the space that the
    dummy prefix puts before the first token (after a leading BOS) is
    removed, like SentencePiece, so decode (encode (x)) == x for any x (its
    NFC form for qwen2: xinf_tokenizer_normalize), but
    for llama a literal "▁" in the text, which comes back as a space (as in
    SentencePiece and llama.cpp), and bytes that only the unknown token
    could stand for.

    Vocabulary quirks: two tokens with the same text resolve to the lower
    id; token type 0 (undefined) counts as normal; a merge whose parts or
    whose result are not in the vocabulary is an error (as in Hugging Face).

    Counts work like snprintf: encode, decode and piece write what fits and
    return the full size needed. A tokenizer is immutable once built, so
    several threads may encode and decode with it at the same time.
*/
#ifndef XINF_TOKENIZER_H_INCLUDED
#define XINF_TOKENIZER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Token types of tokenizer.ggml.token_type.
enum {
    XINF_TOKEN_UNDEFINED = 0,
    XINF_TOKEN_NORMAL = 1,
    XINF_TOKEN_UNKNOWN = 2,
    XINF_TOKEN_CONTROL = 3,
    XINF_TOKEN_USER_DEFINED = 4,
    XINF_TOKEN_UNUSED = 5,
    XINF_TOKEN_BYTE = 6
};

typedef struct {
    const char *model;              //  "gpt2" or "llama" (tokenizer.ggml.model)
    //  tokenizer.ggml.pre, gpt2 only: NULL, "default" or "gpt2" (the GPT-2
    //  regex), "llama3" or "llama-bpe" (llama3: digits in runs of up to 3),
    //  "qwen2" or "deepseek-r1-qwen" (llama3's regex with single digits);
    //  others are an error (llama.cpp refuses unknown ones too).
    const char *pre;
    size_t n_tokens;
    const char *const *tokens;      //  tokenizer.ggml.tokens (any bytes)
    const size_t *token_lengths;    //  byte lengths, or NULL for strlen
    const float *scores;            //  tokenizer.ggml.scores or NULL (all 0)
    const int32_t *token_types;     //  tokenizer.ggml.token_type or NULL
    //  Lengths of the scores and token_type arrays as the file gives them,
    //  which must be n_tokens when the arrays are given.
    size_t n_scores, n_token_types;
    size_t n_merges;
    const char *const *merges;      //  tokenizer.ggml.merges ("left right"), gpt2 only
    const size_t *merge_lengths;    //  or NULL for strlen
    int64_t bos_id, eos_id, unk_id; //  -1 when absent
    //  tokenizer.ggml.eot_token_id and eom_token_id (end of turn, end of
    //  message); -1 when absent (0 is token 0). Unlike the ids above, an
    //  id outside the vocabulary is ignored with a note, not an error.
    int64_t eot_id, eom_id;
    //  tokenizer.ggml.add_bos_token; when the file lacks it, take
    //  xinf_tokenizer_default_add_bos (model, pre)
    bool add_bos;
    //  tokenizer.ggml.add_eos_token (false when absent): an embedding's
    //  prompt text ends with the EOS (Qwen3-Embedding pools that token)
    bool add_eos;
    bool no_space_prefix;           //  llama: tokenizer.ggml.add_space_prefix is false
    //  Phi-3's: whitespace after a control token in parsed text belongs to
    //  the token (Hugging Face's rstrip of its added tokens), but after
    //  <unk>, <s> and <|endoftext|> (as llama.cpp sets them for Phi-3)
    bool rstrip_controls;
} xinf_tokenizer_spec_t;

typedef struct _xinf_tokenizer_t xinf_tokenizer_t;

//  Builds a tokenizer, or returns NULL with the reason in 'error': unknown
//  model or pre-tokenizer, empty vocabulary, ids out of range, arrays of the
//  wrong length, merges naming unknown tokens or making an unknown token.
xinf_tokenizer_t *xinf_tokenizer_new (const xinf_tokenizer_spec_t *spec, char *error, size_t error_size);
void xinf_tokenizer_destroy (xinf_tokenizer_t **self_p);

//  Encodes 'length' bytes of text (any bytes: invalid UTF-8 goes through
//  byte tokens), with BOS first when 'add_bos' and the model has one.
//  Writes up to 'max_ids' ids and returns how many the text needs; -1 when
//  a byte has no token and there is no unknown token to stand for it.
long xinf_tokenizer_encode (xinf_tokenizer_t *self, const char *text, size_t length,
                            bool add_bos, int32_t *ids, size_t max_ids);

//  Decodes ids to bytes: writes up to 'max_bytes' bytes, plus a NUL when
//  there is room for it, and returns the number of bytes needed (without
//  the NUL); -1 when an id is out of range.
long xinf_tokenizer_decode (xinf_tokenizer_t *self, const int32_t *ids, size_t n_ids,
                            char *text, size_t max_bytes);

//  The text as encode sees it, after the model's normalizer: NFC for the
//  "qwen2" pre-tokenizer, as Hugging Face's Qwen2 tokenizer (llama.cpp does
//  not normalize), the text unchanged otherwise. decode (encode (x)) gives
//  this back. Same counting as decode; -1 on bad arguments.
long xinf_tokenizer_normalize (xinf_tokenizer_t *self, const char *text, size_t length,
                               char *out, size_t max_bytes);

//  The longest text a token may have in a vocabulary (xinf_tokenizer_new
//  refuses longer ones). A token's piece is never longer than its text,
//  so a piece fits the 1024 bytes a streamed token's 'text' may have
//  (RUN_TOKEN in node.xml, GENERATE_TOKEN in client.xml).
#define XINF_TOKENIZER_TEXT_MAX 1024

//  The bytes one token decodes to, for streaming: may be part of a UTF-8
//  character (a byte token), which the caller joins with what follows.
//  No leading space is removed. Same counting as decode; -1 on a bad id.
long xinf_tokenizer_piece (xinf_tokenizer_t *self, int32_t id, char *text, size_t max_bytes);

//  The vocabulary text of a token as stored in the file (NULL on a bad id).
const char *xinf_tokenizer_text (xinf_tokenizer_t *self, int32_t id, size_t *length);
//  The id of the token whose vocabulary text is exactly these bytes, or -1.
int32_t xinf_tokenizer_find (xinf_tokenizer_t *self, const char *text, size_t length);

size_t xinf_tokenizer_vocab (xinf_tokenizer_t *self);
int64_t xinf_tokenizer_bos (xinf_tokenizer_t *self);
int64_t xinf_tokenizer_eos (xinf_tokenizer_t *self);
int64_t xinf_tokenizer_unk (xinf_tokenizer_t *self);
//  End of turn and end of message ids; -1 when absent or ignored.
int64_t xinf_tokenizer_eot (xinf_tokenizer_t *self);
int64_t xinf_tokenizer_eom (xinf_tokenizer_t *self);
//  The model's default for add_bos (spec->add_bos).
bool xinf_tokenizer_add_bos (xinf_tokenizer_t *self);
//  Whether the file asks an EOS after a prompt's text (spec->add_eos, and
//  the model has an EOS).
bool xinf_tokenizer_add_eos (xinf_tokenizer_t *self);
//  Whether a text prompt gets a BOS when the file has no
//  tokenizer.ggml.add_bos_token, as llama.cpp decides: llama (SentencePiece)
//  yes; gpt2 with a llama3 pre-tokenizer ("llama3", "llama-bpe",
//  "llama-v3") yes, as Llama 3 files often lack the key; other gpt2 no.
bool xinf_tokenizer_default_add_bos (const char *model, const char *pre);
//  Token type 3, or the BOS, EOS, EOT or EOM id; false for a bad id.
bool xinf_tokenizer_is_control (xinf_tokenizer_t *self, int32_t id);
//  Whether the token's text in a prompt parsed for special tokens becomes
//  the token: a control token, or a user-defined one (found in any text);
//  false for a bad id.
bool xinf_tokenizer_is_special (xinf_tokenizer_t *self, int32_t id);
//  Whether whitespace after control token 'id' in text parsed for control
//  tokens is dropped (spec rstrip_controls).
bool xinf_tokenizer_rstrip (xinf_tokenizer_t *self, int32_t id);
//  Whether 'id' ends a generation: EOS, EOT, EOM or another end-of-generation
//  control token the file names.
bool xinf_tokenizer_is_end (xinf_tokenizer_t *self, int32_t id);
//  The end-of-generation ids (at most max written; returns how many there are).
size_t xinf_tokenizer_end_ids (xinf_tokenizer_t *self, int32_t *ids, size_t max);
//  What building the tokenizer ignored (an EOT or EOM id outside the
//  vocabulary, an end marker that is not a control token), one note per
//  line, for the caller to log; "" when nothing was.
const char *xinf_tokenizer_notes (xinf_tokenizer_t *self);
//  The model name: "gpt2" or "llama".
const char *xinf_tokenizer_model (xinf_tokenizer_t *self);

#endif
