/*  xinf_make_vocab: builds a deterministic, self-consistent tokenizer
    vocabulary for xinf-make-model and stores it as GGUF tokenizer metadata.

    Two kinds, as llama.cpp reads them:
    - gpt2 (byte-level BPE, Qwen2 and Llama 3 style): the 256 byte tokens in
      GPT-2's bytes_to_unicode order, then one token per merge (every merge
      "a b" joins two tokens already in the vocabulary and yields a token in
      it), then special tokens (control type). Qwen2: <|endoftext|> (BOS and
      EOS), <|im_start|>, <|im_end|> (EOT), add_bos_token false, as in
      Qwen2.5's files (with 'fim', also Qwen2.5-Coder's fill-in-the-middle
    tokens <|fim_prefix|>, <|fim_middle|>, <|fim_suffix|> after them, with
    tokenizer.ggml.fim_pre/suf/mid_token_id). Llama 3: <|begin_of_text|> (BOS), <|end_of_text|>
      (EOS), <|start_header_id|>, <|end_header_id|>, <|eom_id|> (EOM),
      <|eot_id|> (EOT), add_bos_token true; from 128256 tokens on the 256
      specials of the real files at their real ids (128000 BOS, 128001 EOS,
      128008 EOM, 128009 EOT, the rest reserved but three);
      GPT-OSS (harmony): <|startoftext|> (BOS, not added), <|endoftext|>,
      <|return|> (EOS), <|constrain|>, <|channel|>, <|start|>, <|end|>,
      <|message|>, <|call|>, pre-tokenizer gpt-4o;
    - llama (SentencePiece BPE, Llama 2 style): <unk>, <s>, </s>, the 256
      byte tokens <0x00>..<0xFF>, then pieces with "▁" for spaces, each a
      join of two earlier pieces (so merging reaches it), scored by rank;
      BOS <s>, EOS </s>, add_bos_token true.
    The first merges are learned from a small built-in English text, so
    common words become single tokens; the rest up to the requested size
    are joins of existing tokens chosen by a seeded generator.
*/
#ifndef XINF_MAKE_VOCAB_H_INCLUDED
#define XINF_MAKE_VOCAB_H_INCLUDED

#include "xinf_gguf_writer.h"

typedef enum {
    XINF_VOCAB_QWEN2,                   //  gpt2, <|endoftext|> <|im_start|> <|im_end|>
    XINF_VOCAB_LLAMA3,                  //  gpt2, <|begin_of_text|> ... (6 specials; 256 for vocab >= 128256)
    XINF_VOCAB_SPM,                     //  llama SentencePiece
    XINF_VOCAB_HARMONY                  //  gpt2, GPT-OSS's o200k_harmony specials
} xinf_vocab_kind_t;

typedef struct _xinf_make_vocab_t xinf_make_vocab_t;

//  NULL with the reason in 'error' when the size is too small for the kind
//  ('fim': Qwen2 only).
xinf_make_vocab_t *xinf_make_vocab_new (xinf_vocab_kind_t kind, uint32_t size, uint64_t seed, bool fim,
                                        char *error, size_t error_size);
void xinf_make_vocab_destroy (xinf_make_vocab_t **self_p);
//  gpt2 kinds: appends TEXT cut into pieces of up to 4 bytes (whole UTF-8
//  characters), one new normal token each, ids first .. first + count - 1
//  after the specials (the vocabulary grows by count; no merge makes them,
//  so no prompt holds them); -1 for llama SPM or a second call.
int xinf_make_vocab_add_script (xinf_make_vocab_t *self, const char *text, uint32_t *first, uint32_t *count);
//  gpt2 kinds: tokenizer.ggml.pre says 'pre' (kept, not copied) instead of
//  the kind's (the splits differ, the vocabulary does not); -1 for llama SPM.
int xinf_make_vocab_set_pre (xinf_make_vocab_t *self, const char *pre);
//  The token that ends an answer: EOT, else EOS.
int64_t xinf_make_vocab_end (xinf_make_vocab_t *self);
//  Sets the tokenizer.ggml.* keys.
int xinf_make_vocab_store (xinf_make_vocab_t *self, xinf_gguf_writer_t *writer);

//  The generator's PRNG (xoshiro256**, seeded by splitmix64), shared with
//  the weight generator.
typedef struct {
    uint64_t state [4];
} xinf_rng_t;
void xinf_rng_seed (xinf_rng_t *self, uint64_t seed);
uint64_t xinf_rng_next (xinf_rng_t *self);
//  Approximately normal: the sum of four 16-bit uniforms (Irwin-Hall),
//  centred and scaled to unit variance; bounded by +-3.5.
float xinf_rng_normal (xinf_rng_t *self);

#endif
