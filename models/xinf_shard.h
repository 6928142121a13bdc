/*  xinf_shard: how the weights of a Llama-family model are split over
    tensor-parallel ranks (Megatron-style), and the slicing of one layer's
    tensors down to one rank's part.

    Rank r of n holds KV heads r * kvh .. (r + 1) * kvh - 1 (kvh =
    n_kv_heads / n) and the query heads that use them (a GQA group stays on
    one rank): those rows of attn_q, attn_k, attn_v and of their qwen2
    biases, and those columns of attn_output (n_heads x head_dim of them,
    whatever dim is: qwen3's head_dim is not dim / n_heads). The feed-forward dimension is
    split in n nearly equal parts (the first ranks take the remainder) of
    whole units of 32 columns when ffn_down is Q8_0 (a block never
    straddles two ranks), else of single columns: those rows of ffn_gate
    and ffn_up, those columns of ffn_down. Norms, the embedding and the
    output matrix are replicated, qwen3's per-head q/k norms too. A mixture
    of experts splits each expert's width alike (its own units: ffn_down_exps'
    blocks), its router replicated: every rank routes the same tokens to
    the same experts and holds its part of each. Attention sinks go with
    their query heads; the biases of attn_output and of the experts' down
    products stay on rank 0 (the ranks' sum takes them once), the experts'
    gate and up biases are cut as their rows.

    Row ranges stay views into the file's image (read in place); column
    ranges are copied by xinf_slices (per row, the contiguous bytes of the
    columns). A split
    that cannot be made is an error that names it: "cannot split 2 KV
    heads over 3 ranks".
*/
#ifndef XINF_SHARD_H_INCLUDED
#define XINF_SHARD_H_INCLUDED

#include "xinf_slices.h"
#include "xinf_transformer.h"

//  Fills 'shard' for 'rank' of 'n_ranks' from the model's hyperparameters
//  (dim, heads, kv heads, ffn); 'ffn_unit' is 32 when any ffn_down is
//  Q8_0, else 1. 0, or -1 with the reason.
int xinf_shard_plan (xinf_shard_t *shard, const xinf_transformer_t *model, size_t rank, size_t n_ranks,
                     size_t ffn_unit, char *error, size_t error_size);

//  Cuts layer 'index', whose tensors are views of the whole model's shapes,
//  down to model->shard, registering every byte it keeps in 'slices' (the
//  norms whole). 0, or -1 with the reason (columns of a block type off
//  block boundaries, out of memory).
int xinf_shard_layer (const xinf_transformer_t *model, size_t index, xinf_layer_t *layer, xinf_slices_t *slices,
                      char *error, size_t error_size);

//  Rank 'rank' of 'n_ranks''s part of 'total' in whole units: *first and
//  *count. 0, or -1 with the reason naming 'what' (fewer units than ranks,
//  a total that is not whole units).
int xinf_shard_split (size_t total, size_t unit, size_t rank, size_t n_ranks, const char *what, size_t *first,
                      size_t *count, char *error, size_t error_size);

//  Cuts 'count' experts of layer 'index' (views of the whole tensors' parts)
//  to the columns first .. first + width - 1 of their feed-forward: rows of
//  gate and up (views), columns of down (copies), registered in 'slices'.
//  0, or -1 with the reason.
int xinf_shard_experts (xinf_slices_t *slices, xinf_matrix_t *gate, xinf_matrix_t *up, xinf_matrix_t *down,
                        size_t count, size_t first, size_t width, size_t index, char *error, size_t error_size);

#endif
