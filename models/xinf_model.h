/*  xinf_model: a model loaded from a GGUF file, ready to run: the
    hyperparameters and tensor views of the transformer (an architecture of
    xinf_arch.h: llama, qwen2, qwen3), and the tokenizer from the file's
    tokenizer.ggml.* metadata.

    Loading range-checks every hyperparameter (xinf_arch.h), checks every
    tensor's name, shape and type against them and every tokenizer array's
    length against the vocabulary, then reads the weights (pread, into
    memory the model owns: xinf_gguf) once, reporting byte progress, so
    that the first request does not pay for the disk, a stuck disk shows
    up as a stalled load, and a file truncated or replaced later cannot
    crash the model. Every error names the file and the key or tensor
    ("model.gguf: metadata key 'qwen3.attention.key_length' is
    9223372036854775812, outside 2..4096").

    A tensor-parallel shard (xinf_model_load_shard, rank r of n) holds only
    its part of the attention heads and of the feed-forward dimension
    (xinf_shard.h) and reads only those bytes of the file; the columns of
    attn_output and ffn_down it holds are copied into memory the model
    owns. Its forward pass needs the collective of its group
    (xinf_model_set_collective) and gives the same hidden state on every
    rank.
*/
#ifndef XINF_MODEL_H_INCLUDED
#define XINF_MODEL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "xinf_transformer.h"
#include "xinf_tokenizer.h"
#include "xinf_gguf.h"

//  How an embedding is pooled from a prompt's final hidden states, as
//  GGUF's <arch>.pooling_type numbers them.
typedef enum {
    XINF_POOLING_NONE = 0, XINF_POOLING_MEAN = 1, XINF_POOLING_CLS = 2, XINF_POOLING_LAST = 3, XINF_POOLING_RANK = 4
} xinf_pooling_t;

//  "none", "mean", "cls", "last" or "rank".
const char *xinf_pooling_name (xinf_pooling_t pooling);

typedef struct {
    char arch [16];                   //  "llama", "qwen2" or "qwen3"
    char name [128];                  //  general.name, or ""
    char weight_type [16];            //  of the attention/FFN matrices: "F32", "F16", "BF16", "Q8_0"
    uint64_t size_bytes;              //  tensor data bytes of the file
    uint64_t n_params;                //  of the file
    bool tied_embeddings;
    xinf_pooling_t pooling;           //  <arch>.pooling_type: how an embedding is pooled (NONE when absent)
    int rank, n_ranks;                //  this shard: rank of n_ranks (0 of 1: the whole model)
    uint64_t shard_bytes;             //  bytes of the file this shard reads (= progress total)
} xinf_model_info_t;

typedef struct _xinf_model_t xinf_model_t;

//  Called while the weights are read: bytes done out of total. Returning
//  false cancels the load.
typedef bool (xinf_model_progress_fn) (uint64_t done, uint64_t total, void *arg);

//  The type xinf computes with for a GGUF tensor type (xinf_gguf.h's
//  numbers); false for a type it does not compute with.
bool xinf_model_dtype (uint32_t ggml_type, xinf_dtype_t *dtype);
//  The same for a file's tensor: 0, or -1 with the reason naming the
//  tensor, its type and the types xinf computes with.
int xinf_model_tensor_dtype (const xinf_gguf_tensor_t *tensor, xinf_dtype_t *dtype, char *error, size_t error_size);

//  The whole model: shard 0 of 1.
xinf_model_t *xinf_model_load (const char *path, xinf_model_progress_fn *progress, void *arg,
                               char *error, size_t error_size);
//  Shard 'rank' (0 .. n_ranks-1) of a model split over 'n_ranks' ranks;
//  NULL with the reason when the split cannot be made ("cannot split 2 KV
//  heads over 3 ranks") or the rank values are wrong. Progress counts this
//  shard's bytes.
xinf_model_t *xinf_model_load_shard (const char *path, int rank, int n_ranks, xinf_model_progress_fn *progress,
                                     void *arg, char *error, size_t error_size);
void xinf_model_destroy (xinf_model_t **self_p);

//  Only the tokenizer of a GGUF file (for actors that tokenize but do not
//  compute); NULL with the reason otherwise.
xinf_tokenizer_t *xinf_model_load_tokenizer (const char *path, char *error, size_t error_size);

//  The collective of the shard's group (not owned; it must outlive the
//  model's forward calls); required before a forward pass when n_ranks > 1.
void xinf_model_set_collective (xinf_model_t *self, xinf_collective_t *collective);

//  LoRA adapters (xinf_lora.h, loaded for this model; not owned, they must
//  outlive its forward calls) that batches may name 1..count; set before
//  a KV cache is made for the model.
void xinf_model_set_loras (xinf_model_t *self, struct _xinf_lora_t *const *loras, size_t count);

const xinf_transformer_t *xinf_model_transformer (xinf_model_t *self);
xinf_tokenizer_t *xinf_model_tokenizer (xinf_model_t *self);
const xinf_model_info_t *xinf_model_info (xinf_model_t *self);

#endif
