/*  xinf_fim: a model's fill-in-the-middle tokens (xinf_fim.h).  */
#include "xinf_fim.h"

#include <string.h>

//  The known markers of each part, as llama.cpp's vocabulary loader lists them.
static const char *const s_pre [] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
    "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL
};
static const char *const s_suf [] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
    "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL
};
static const char *const s_rep [] = {
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL
};
static const char *const s_sep [] = {
    "<|file_sep|>", NULL
};
static const char *const s_mid [] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
    "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL
};

//  One part: the file's key (or its older name, where it has one), else a known marker;
//  -1. Only a control or user-defined token counts (DeepSeek Coder's
//  markers are user-defined): the gateway writes the markers as text that
//  the prompt's special parsing turns into tokens, which it does for those
//  alone (a marker of another type would reach the model as plain text,
//  its FIM structure lost).
static int32_t
s_part (xinf_gguf_t *gguf, xinf_tokenizer_t *tokenizer, const char *key, const char *old_key,
        const char *const *markers)
{
    size_t vocab = xinf_tokenizer_vocab (tokenizer);
    uint64_t id;
    if (gguf && (xinf_gguf_get_uint (gguf, key, &id) == 0 || (old_key && xinf_gguf_get_uint (gguf, old_key, &id) == 0))
    &&  id < vocab)
        return xinf_tokenizer_is_special (tokenizer, (int32_t) id) ? (int32_t) id : -1;
    for (size_t index = 0; markers [index]; index++) {
        int32_t found = xinf_tokenizer_find (tokenizer, markers [index], strlen (markers [index]));
        if (found >= 0)
            return xinf_tokenizer_is_special (tokenizer, found) ? found : -1;
    }
    return -1;
}

bool
xinf_fim_find (xinf_gguf_t *gguf, xinf_tokenizer_t *tokenizer, xinf_fim_t *fim)
{
    fim->pre = s_part (gguf, tokenizer, "tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id", s_pre);
    fim->suf = s_part (gguf, tokenizer, "tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id", s_suf);
    fim->mid = s_part (gguf, tokenizer, "tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id", s_mid);
    fim->rep = s_part (gguf, tokenizer, "tokenizer.ggml.fim_rep_token_id", NULL, s_rep);
    fim->sep = s_part (gguf, tokenizer, "tokenizer.ggml.fim_sep_token_id", NULL, s_sep);
    return fim->pre >= 0 && fim->suf >= 0 && fim->mid >= 0;
}
