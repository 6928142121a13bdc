/*  xinf_model_private: what the parts of the model loader share (not for
    use outside models/xinf_model*.c): the model, the loader's state and
    its checked readers of keys and tensors.

    The loader is these files: xinf_model.c (hyperparameters, tensors,
    shards, the public functions), xinf_model_rope.c (RoPE: layout, base,
    scaling and frequency factors), xinf_model_experts.c (a mixture of
    experts' keys), xinf_model_mla.c (latent attention's keys and tensors)
    and xinf_model_vocab.c (the tokenizer's keys).
*/
#ifndef XINF_MODEL_PRIVATE_H_INCLUDED
#define XINF_MODEL_PRIVATE_H_INCLUDED

#include "xinf_model.h"
#include "xinf_experts.h"
#include "xinf_arch.h"
#include "xinf_gguf.h"
#include "xinf_slices.h"

struct _xinf_model_t {
    xinf_gguf_t *gguf;
    xinf_slices_t *slices;            //  the bytes of the file this shard uses, and its copies
    xinf_transformer_t transformer;
    xinf_tokenizer_t *tokenizer;
    xinf_model_info_t info;
    float *rope_factors;              //  the RoPE frequency factors, read or computed, or NULL
    float *q_norms;                   //  gemma3 27B: the layers' attn_q_norm scaled, or NULL
    xinf_matrix_t *experts;           //  mixture of experts: every layer's (xinf_experts.h), or NULL
};

typedef struct {
    xinf_model_t *self;
    const char *path;
    const xinf_arch_t *arch;
    char *error;
    size_t error_size;
    bool failed;
    xinf_experts_spec_t experts;      //  a mixture of experts' (count 0: dense)
} xinf_loader_t;

//  Records the first failure, prefixed with the file's path.
void xinf_loader_fail (xinf_loader_t *loader, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
//  A hyperparameter within its range (xinf_arch.h), or 'fallback' when the
//  file does not give it and it is not required.
uint64_t xinf_loader_hparam (xinf_loader_t *loader, xinf_hparam_t which, uint64_t fallback);
//  A real-valued hyperparameter "<arch>.<key_suffix>" within [min, max],
//  or 'fallback' when the file does not give it.
double xinf_loader_float (xinf_loader_t *loader, const char *key_suffix, double fallback, double min, double max);
//  A 1-D F32 vector (norm weights, biases); optional ones may be absent.
const float *xinf_loader_vector (xinf_loader_t *loader, const char *name, size_t length, bool optional);
//  A replicated tensor: all of its bytes are this shard's.
void xinf_loader_replicate (xinf_loader_t *loader, const void *data, size_t bytes);

//  The transformer's RoPE (xinf_model_rope.c).
void xinf_loader_rope (xinf_loader_t *loader);
//  A mixture of experts' keys into loader->experts, where the arch may have
//  one (xinf_model_experts.c).
void xinf_loader_experts (xinf_loader_t *loader);
//  Multi-head latent attention (xinf_model_mla.c): its keys into the
//  transformer's mla (instead of value_length equal to key_length), the
//  scale of its scores once RoPE is read, a layer's tensors.
void xinf_loader_mla (xinf_loader_t *loader, size_t value_length);
void xinf_loader_mla_scale (xinf_loader_t *loader);
void xinf_loader_mla_layer (xinf_loader_t *loader, size_t index, xinf_layer_t *layer);
//  The tokenizer from the file's tokenizer.ggml.* keys (xinf_model_vocab.c).
void xinf_loader_tokenizer (xinf_loader_t *loader);

#endif
