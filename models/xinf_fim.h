/*  xinf_fim: a model's fill-in-the-middle tokens (the prefix, suffix and
    middle markers of code models such as Qwen2.5-Coder, CodeLlama,
    DeepSeek-Coder, StarCoder and Granite), with which a completion with a
    suffix is asked as <PRE> prefix <SUF> suffix <MID>, the model writing
    what goes between (protocols/http.md, completions' suffix).

    Found about as llama.cpp finds them: the file's
    tokenizer.ggml.fim_pre_token_id, fim_suf_token_id and fim_mid_token_id
    (else the older prefix_token_id, suffix_token_id, middle_token_id; an
    id outside the vocabulary is passed over), else the tokens whose text
    is one of the known markers (<|fim_prefix|>, <fim_prefix>,
    <fim-prefix>, <PRE>, ▁<PRE>, DeepSeek's <｜fim▁begin｜>, ...). Unlike
    llama.cpp, which makes such a token a control token with a warning,
    only a control or user-defined token counts here (DeepSeek Coder's are
    user-defined): the markers travel as text that the prompt's special
    parsing turns into tokens, which text becomes for those alone.
*/
#ifndef XINF_FIM_H_INCLUDED
#define XINF_FIM_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "xinf_gguf.h"
#include "xinf_tokenizer.h"

typedef struct {
    int32_t pre, suf, mid;            //  token ids
    int32_t rep, sep;                 //  the repository-level pattern's (Qwen2.5-Coder's <|repo_name|> and
                                      //  <|file_sep|>), or -1
} xinf_fim_t;

//  The three tokens of the model of 'gguf' (its tokenizer 'tokenizer';
//  'gguf' NULL: by the markers' names only); false when it lacks any of
//  them, or one is neither a control nor a user-defined token. The repository and file separator
//  tokens too, where the model has them (as llama.cpp finds them).
bool xinf_fim_find (xinf_gguf_t *gguf, xinf_tokenizer_t *tokenizer, xinf_fim_t *fim);

#endif
