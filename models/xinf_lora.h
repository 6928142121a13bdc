/*  xinf_lora: a LoRA adapter for a loaded model, from a GGUF file in the
    form llama.cpp's convert_lora_to_gguf.py writes (general.type
    "adapter", adapter.type "lora", adapter.lora.alpha, and for each
    adapted weight W a pair of tensors W.lora_a [rank x W's columns] and
    W.lora_b [W's rows x rank]).

    A sequence served with the adapter computes each adapted product as
    W x + scale * B (A x), scale = alpha / rank (1 when the file's alpha is
    0), llama.cpp's and PEFT's arithmetic. The adapter's weights stay in
    the file's type (F32, F16, BF16, Q8_0, any type xinf computes with
    whose blocks fill the rows) and are read once at load, as a model's;
    B is also kept transposed (the backend's lora op sums its rows), in
    the file's F16 or BF16, else as F32 of the file's values.

    The weights a LoRA may adapt are those of the layers' attention and
    feed-forward (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up,
    ffn_down): PEFT's target modules q_proj ... down_proj and "all-linear".
    A Phi-3 model's fused weights (attn_qkv; ffn_up of the gate's rows,
    then the up's) take a pair of the fused weight's shape, shared by the
    weights it stands for: A for each, B's rows cut among them.
    Norm vectors in the file are skipped, as llama.cpp does. Anything else
    (token_embd, output, an unknown name, half a pair, a shape that does
    not fit the model, an architecture other than the model's) refuses the
    file, naming the file and the tensor or key.
*/
#ifndef XINF_LORA_H_INCLUDED
#define XINF_LORA_H_INCLUDED

#include <stddef.h>
#include "xinf_transformer.h"

//  The weights of a layer an adapter may adapt.
typedef enum {
    XINF_LORA_Q, XINF_LORA_K, XINF_LORA_V, XINF_LORA_O, XINF_LORA_GATE, XINF_LORA_UP, XINF_LORA_DOWN,
    XINF_LORA_TARGETS
} xinf_lora_target_t;

//  Ranks above this are refused (PEFT's adapters use 4 to 256).
#define XINF_LORA_MAX_RANK 1024
//  Adapters a model serves at most (a KV cache made for more uses these).
#define XINF_LORA_MAX_ADAPTERS 8

//  One adapted weight W: delta = scale * B (A x).
typedef struct {
    xinf_matrix_t a;                  //  rank x W's columns
    xinf_matrix_t b;                  //  W's rows x rank
    xinf_matrix_t bt;                 //  B transposed, rank x W's rows: F16 or BF16 as the file's, else F32
    float scale;                      //  alpha / rank, or 1
} xinf_lora_pair_t;

typedef struct _xinf_lora_t xinf_lora_t;

//  Loads the adapter at 'path' for 'model' of architecture 'arch'
//  ("llama", "qwen2", "qwen3"), its shapes checked against the whole
//  model's. A tensor-parallel shard keeps its part (xinf_shard.h): of the
//  weights split by rows (attn_q, attn_k, attn_v, ffn_gate, ffn_up) the
//  rows of B it computes, of those split by columns (attn_output,
//  ffn_down) the columns of A it sees (whole blocks of a block type), so
//  that the ranks' partial deltas sum to the whole one. NULL with the
//  reason, naming the file, otherwise.
xinf_lora_t *xinf_lora_load (const char *path, const xinf_transformer_t *model, const char *arch,
                             char *error, size_t error_size);
void xinf_lora_destroy (xinf_lora_t **self_p);

//  The pair adapting 'target' of layer 'layer', or NULL when the adapter
//  leaves that weight alone.
const xinf_lora_pair_t *xinf_lora_pair (const xinf_lora_t *self, size_t layer, xinf_lora_target_t target);
//  The largest rank of its pairs.
size_t xinf_lora_rank (const xinf_lora_t *self);
//  How many weights it adapts.
size_t xinf_lora_count (const xinf_lora_t *self);
//  The file's adapter.lora.alpha (0 when absent).
float xinf_lora_alpha (const xinf_lora_t *self);
//  Bytes of its weights.
size_t xinf_lora_bytes (const xinf_lora_t *self);

//  A target's name in tensor names ("attn_q", ..., "ffn_down").
const char *xinf_lora_target_name (xinf_lora_target_t target);

#endif
