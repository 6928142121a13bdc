/*  xinf_shard: the tensor-parallel split of a model's weights.  */
#include "xinf_shard.h"
#include "xinf_check.h"

#include <stdarg.h>
#include <stdio.h>

int
xinf_shard_plan (xinf_shard_t *shard, const xinf_transformer_t *model, size_t rank, size_t n_ranks,
                 size_t ffn_unit, char *error, size_t error_size)
{
    if (n_ranks < 1 || rank >= n_ranks)
        return xinf_fail (error, error_size, "rank %zu is out of range for %zu ranks", rank, n_ranks);
    if (!model->n_heads || !model->n_kv_heads || model->n_heads % model->n_kv_heads
    ||  model->head_dim < 2 || model->head_dim % 2)
        return xinf_fail (error, error_size, "inconsistent heads: dim %zu, heads %zu, kv heads %zu, head dim %zu",
                       model->dim, model->n_heads, model->n_kv_heads, model->head_dim);
    if (model->n_kv_heads % n_ranks)
        return xinf_fail (error, error_size, "cannot split %zu KV heads over %zu ranks", model->n_kv_heads, n_ranks);
    if (ffn_unit < 1 || n_ranks == 1)
        ffn_unit = 1;                  //  a whole model keeps every block whole anyway
    size_t ffn_first, ffn;
    if (xinf_shard_split (model->ffn, ffn_unit, rank, n_ranks, "ffn", &ffn_first, &ffn, error, error_size))
        return -1;
    size_t group = model->n_heads / model->n_kv_heads;
    shard->rank = rank;
    shard->n_ranks = n_ranks;
    shard->n_kv_heads = model->n_kv_heads / n_ranks;
    shard->kv_head_first = rank * shard->n_kv_heads;
    shard->n_heads = shard->n_kv_heads * group;
    shard->head_first = shard->kv_head_first * group;
    shard->ffn = ffn;
    shard->ffn_first = ffn_first;
    return 0;
}

int
xinf_shard_split (size_t total, size_t unit, size_t rank, size_t n_ranks, const char *what, size_t *first,
                  size_t *count, char *error, size_t error_size)
{
    unit = unit < 1 || n_ranks == 1 ? 1 : unit;
    if (total % unit)
        return xinf_fail (error, error_size, "cannot split %s %zu over %zu ranks: it is not a multiple of %zu-column "
                          "blocks", what, total, n_ranks, unit);
    size_t units = total / unit, base = units / n_ranks, extra = units % n_ranks;
    if (base == 0 && unit > 1)
        return xinf_fail (error, error_size, "cannot split %s %zu over %zu ranks in %zu-column blocks", what, total,
                          n_ranks, unit);
    if (base == 0)
        return xinf_fail (error, error_size, "cannot split %s %zu over %zu ranks", what, total, n_ranks);
    *count = (base + (rank < extra)) * unit;
    *first = (rank * base + (rank < extra ? rank : extra)) * unit;
    return 0;
}

//  Rows first .. first + count - 1 of a matrix: a view.
static int
s_rows (xinf_slices_t *slices, xinf_matrix_t *matrix, size_t first, size_t count)
{
    if (!matrix->data)
        return 0;                     //  a mixture-of-experts layer's feed-forward (xinf_experts.h)
    size_t row_bytes = xinf_dtype_row_bytes (matrix->dtype, matrix->cols);
    matrix->data = xinf_slices_view (slices, (const char *) matrix->data + first * row_bytes, count * row_bytes);
    matrix->rows = count;
    return matrix->data ? 0 : -1;
}

//  Columns first .. first + count - 1 of every row: a copy (a view when
//  they are all the columns).
static int
s_columns (xinf_slices_t *slices, xinf_matrix_t *matrix, size_t first, size_t count, size_t layer,
           const char *name, char *error, size_t error_size)
{
    if (!matrix->data)
        return 0;                     //  a mixture-of-experts layer's ffn_down (xinf_experts.h)
    if (first == 0 && count == matrix->cols)
        return s_rows (slices, matrix, 0, matrix->rows)
             ? xinf_fail (error, error_size, "out of memory slicing blk.%zu.%s", layer, name) : 0;
    //  a block type splits between whole blocks only (32 or 256 columns)
    size_t block = xinf_dtype_block_size (matrix->dtype);
    if (block > 1 && (first % block || count % block || matrix->cols % block))
        return xinf_fail (error, error_size, "blk.%zu.%s %s columns %zu..%zu are not on %zu-column block boundaries",
                       layer, name, xinf_dtype_name (matrix->dtype), first, first + count, block);
    size_t row_bytes = xinf_dtype_row_bytes (matrix->dtype, matrix->cols);
    size_t offset = xinf_dtype_row_bytes (matrix->dtype, first), bytes = xinf_dtype_row_bytes (matrix->dtype, count);
    void *copy = xinf_slices_copy (slices, matrix->data, matrix->rows, row_bytes, offset, bytes);
    if (!copy)
        return xinf_fail (error, error_size, "out of memory copying columns %zu..%zu of blk.%zu.%s",
                       first, first + count, layer, name);
    matrix->data = copy;
    matrix->cols = count;
    return 0;
}

//  Elements first .. first + count - 1 of an F32 vector (NULL stays NULL).
static int
s_vector (xinf_slices_t *slices, const float **vector, size_t first, size_t count)
{
    if (!*vector)
        return 0;
    *vector = xinf_slices_view (slices, *vector + first, count * sizeof (float));
    return *vector ? 0 : -1;
}

int
xinf_shard_layer (const xinf_transformer_t *model, size_t index, xinf_layer_t *layer, xinf_slices_t *slices,
                  char *error, size_t error_size)
{
    const xinf_shard_t *shard = &model->shard;
    size_t head_dim = model->head_dim;
    size_t q_first = shard->head_first * head_dim, q_count = shard->n_heads * head_dim;
    size_t kv_first = shard->kv_head_first * head_dim, kv_count = shard->n_kv_heads * head_dim;
    if (shard->rank != 0)             //  attn_output's bias joins the ranks' sum once
        layer->o_bias = NULL;
    if (s_vector (slices, &layer->attn_norm, 0, model->dim)
    ||  s_vector (slices, &layer->ffn_norm, 0, model->dim)
    ||  s_vector (slices, &layer->post_attn_norm, 0, model->dim)
    ||  s_vector (slices, &layer->post_ffn_norm, 0, model->dim)
    ||  s_vector (slices, &layer->q_norm, 0, head_dim)
    ||  s_vector (slices, &layer->k_norm, 0, head_dim)
    ||  s_rows (slices, &layer->q, q_first, q_count)
    ||  s_rows (slices, &layer->k, kv_first, kv_count)
    ||  s_rows (slices, &layer->v, kv_first, kv_count)
    ||  s_vector (slices, &layer->q_bias, q_first, q_count)
    ||  s_vector (slices, &layer->k_bias, kv_first, kv_count)
    ||  s_vector (slices, &layer->v_bias, kv_first, kv_count)
    ||  s_vector (slices, &layer->sinks, shard->head_first, shard->n_heads)
    ||  s_vector (slices, &layer->o_bias, 0, model->dim)
    ||  s_rows (slices, &layer->gate, shard->ffn_first, shard->ffn)
    ||  s_rows (slices, &layer->up, shard->ffn_first, shard->ffn))
        return xinf_fail (error, error_size, "out of memory slicing layer %zu", index);
    if (s_columns (slices, &layer->o, q_first, q_count, index, "attn_output", error, error_size)
    ||  s_columns (slices, &layer->down, shard->ffn_first, shard->ffn, index, "ffn_down", error, error_size))
        return -1;
    return 0;
}

int
xinf_shard_experts (xinf_slices_t *slices, xinf_matrix_t *gate, xinf_matrix_t *up, xinf_matrix_t *down, size_t count,
                    size_t first, size_t width, size_t index, char *error, size_t error_size)
{
    for (size_t e = 0; e < count; e++) {
        if (s_rows (slices, &gate [e], first, width) || s_rows (slices, &up [e], first, width))
            return xinf_fail (error, error_size, "out of memory slicing the experts of layer %zu", index);
        if (s_columns (slices, &down [e], first, width, index, "ffn_down_exps", error, error_size))
            return -1;
    }
    return 0;
}
