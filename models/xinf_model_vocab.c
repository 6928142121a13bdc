/*  xinf_model_vocab: the model loader's tokenizer: the tokenizer.ggml.*
    keys of a GGUF file, each array checked against the vocabulary's size,
    into an xinf_tokenizer_t.  */
#include "xinf_model_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Pointers and lengths of a string array (caller frees both); NULL when
//  the key is absent, or on failure (recorded, naming the key).
static const char **
s_strings (xinf_loader_t *loader, const char *key, size_t *count, size_t **lengths)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_gguf_type_t type;
    uint64_t n;
    *count = 0;
    *lengths = NULL;
    if (!xinf_gguf_has (gguf, key))
        return NULL;
    if (xinf_gguf_get_array (gguf, key, &type, &n) || type != XINF_GGUF_STRING) {
        xinf_loader_fail (loader, "metadata key '%s' is not an array of strings", key);
        return NULL;
    }
    int64_t index = xinf_gguf_find_key (gguf, key);
    const char **strings = calloc (n ? n : 1, sizeof (char *));
    *lengths = calloc (n ? n : 1, sizeof (size_t));
    if (!strings || !*lengths) {
        xinf_loader_fail (loader, "out of memory for %llu elements of '%s'", (unsigned long long) n, key);
        free (strings);
        free (*lengths);
        *lengths = NULL;
        return NULL;
    }
    for (uint64_t at = 0; at < n && !loader->failed; at++)
        if (!(strings [at] = xinf_gguf_array_str (gguf, (size_t) index, at, &(*lengths) [at])))
            xinf_loader_fail (loader, "element %llu of metadata key '%s' cannot be read", (unsigned long long) at, key);
    *count = n;
    return strings;
}

//  A numeric array (floats, or integers that fit int32), NULL when the key
//  is absent, or on failure (recorded, naming the key and the element).
static void *
s_numbers (xinf_loader_t *loader, const char *key, size_t *count, bool as_float)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_gguf_type_t type;
    uint64_t n;
    *count = 0;
    if (!xinf_gguf_has (gguf, key))
        return NULL;
    if (xinf_gguf_get_array (gguf, key, &type, &n) || type == XINF_GGUF_STRING || type == XINF_GGUF_BOOL) {
        xinf_loader_fail (loader, "metadata key '%s' is not an array of numbers", key);
        return NULL;
    }
    int64_t index = xinf_gguf_find_key (gguf, key);
    void *values = calloc (n ? n : 1, as_float ? sizeof (float) : sizeof (int32_t));
    if (!values) {
        xinf_loader_fail (loader, "out of memory for %llu elements of '%s'", (unsigned long long) n, key);
        return NULL;
    }
    for (uint64_t at = 0; at < n && !loader->failed; at++) {
        double real = 0;
        int64_t integer = 0;
        if (as_float && xinf_gguf_array_float (gguf, (size_t) index, at, &real) == 0)
            ((float *) values) [at] = (float) real;
        else
        if (!as_float && xinf_gguf_array_int (gguf, (size_t) index, at, &integer) == 0
        &&  integer >= INT32_MIN && integer <= INT32_MAX)
            ((int32_t *) values) [at] = (int32_t) integer;
        else
            xinf_loader_fail (loader, "element %llu of metadata key '%s' is not a%s", (unsigned long long) at, key,
                    as_float ? " number" : "n integer of 32 bits");
    }
    *count = n;
    return values;
}

//  An array that must have one element per token (when present).
static void
s_check_per_token (xinf_loader_t *loader, const char *key, const void *values, size_t count, size_t n_tokens)
{
    if (values && count != n_tokens)
        xinf_loader_fail (loader, "metadata key '%s' has %zu elements for %zu tokens", key, count, n_tokens);
}

//  A token id key: -1 when absent, negative or not an integer (ignored,
//  as llama.cpp writes -1 for none); a value beyond int64 stays out of
//  range, for the tokenizer to refuse (bos, eos, unk) or note (eot, eom).
static int64_t
s_token_id (xinf_loader_t *loader, const char *key)
{
    uint64_t value;
    if (!xinf_gguf_has (loader->self->gguf, key) || xinf_gguf_get_uint (loader->self->gguf, key, &value))
        return -1;
    return value > INT64_MAX ? INT64_MAX : (int64_t) value;
}

void
xinf_loader_tokenizer (xinf_loader_t *loader)
{
    xinf_gguf_t *gguf = loader->self->gguf;
    xinf_tokenizer_spec_t spec = { 0 };
    spec.model = xinf_gguf_get_str (gguf, "tokenizer.ggml.model");
    if (!spec.model) {
        xinf_loader_fail (loader, "metadata key 'tokenizer.ggml.model' is missing: the file has no tokenizer");
        return;
    }
    spec.pre = xinf_gguf_get_str (gguf, "tokenizer.ggml.pre");
    size_t *token_lengths = NULL, *merge_lengths = NULL;
    const char **tokens = s_strings (loader, "tokenizer.ggml.tokens", &spec.n_tokens, &token_lengths);
    const char **merges = s_strings (loader, "tokenizer.ggml.merges", &spec.n_merges, &merge_lengths);
    float *scores = s_numbers (loader, "tokenizer.ggml.scores", &spec.n_scores, true);
    int32_t *types = s_numbers (loader, "tokenizer.ggml.token_type", &spec.n_token_types, false);
    spec.tokens = tokens;
    spec.token_lengths = token_lengths;
    spec.merges = merges;
    spec.merge_lengths = merge_lengths;
    spec.scores = scores;
    spec.token_types = types;
    spec.bos_id = s_token_id (loader, "tokenizer.ggml.bos_token_id");
    spec.eos_id = s_token_id (loader, "tokenizer.ggml.eos_token_id");
    spec.unk_id = s_token_id (loader, "tokenizer.ggml.unknown_token_id");
    spec.eot_id = s_token_id (loader, "tokenizer.ggml.eot_token_id");
    spec.eom_id = s_token_id (loader, "tokenizer.ggml.eom_token_id");
    bool add_bos = xinf_tokenizer_default_add_bos (spec.model, spec.pre), space_prefix = true;
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_bos_token", &add_bos);
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_space_prefix", &space_prefix);
    bool add_eos = false;
    xinf_gguf_get_bool (gguf, "tokenizer.ggml.add_eos_token", &add_eos);
    spec.add_bos = add_bos;
    spec.add_eos = add_eos;
    spec.no_space_prefix = !space_prefix;
    const xinf_arch_t *arch = xinf_arch_find (xinf_gguf_get_str (gguf, "general.architecture"));
    spec.rstrip_controls = arch && arch->rstrip_controls && strcmp (spec.model, "llama") == 0;
    char reason [256] = "";
    if (!tokens)
        xinf_loader_fail (loader, "metadata key 'tokenizer.ggml.tokens' is missing or not an array of strings");
    s_check_per_token (loader, "tokenizer.ggml.scores", scores, spec.n_scores, spec.n_tokens);
    s_check_per_token (loader, "tokenizer.ggml.token_type", types, spec.n_token_types, spec.n_tokens);
    if (loader->failed)
        ;
    else
    if (loader->self->transformer.vocab && spec.n_tokens != loader->self->transformer.vocab)
        xinf_loader_fail (loader, "the tokenizer has %zu tokens but token_embd.weight has %zu rows",
                spec.n_tokens, loader->self->transformer.vocab);
    else
    if (!(loader->self->tokenizer = xinf_tokenizer_new (&spec, reason, sizeof reason)))
        xinf_loader_fail (loader, "tokenizer (tokenizer.ggml.*): %s", reason);
    free (tokens);
    free (token_lengths);
    free (merges);
    free (merge_lengths);
    free (scores);
    free (types);
}
