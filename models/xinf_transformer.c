/*  xinf_transformer: the forward pass of llama / qwen2 on the CPU kernels.  */
#include "xinf_transformer.h"
#include "xinf_cpu_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFILL_CHUNK  64              //  positions per matrix-matrix batch

struct _xinf_kv_t {
    size_t context, q_dim, kv_dim;     //  of the shard
    float *keys, *values;              //  [layer][context][kv_dim]
    //  Scratch for a chunk of positions
    float *x, *xb, *xb2;               //  [chunk][dim]
    float *q, *k, *v, *attn, *hb, *hb2, *att_scratch;   //  [chunk][shard width]
    atomic_bool *cancel;
};

static int
s_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return -1;
}

static int
s_check_matrix (const xinf_matrix_t *matrix, const char *name, size_t layer, size_t rows, size_t cols,
                char *error, size_t error_size)
{
    if (!matrix->data)
        return s_fail (error, error_size, "layer %zu: tensor %s is missing", layer, name);
    if (matrix->rows != rows || matrix->cols != cols)
        return s_fail (error, error_size, "layer %zu: tensor %s is %zux%zu, expected %zux%zu",
                       layer, name, matrix->rows, matrix->cols, rows, cols);
    if (matrix->dtype == XINF_DTYPE_Q8_0 && cols % 32)
        return s_fail (error, error_size, "layer %zu: tensor %s is Q8_0 with %zu columns (not a multiple of 32)",
                       layer, name, cols);
    return 0;
}

//  The shard is a consistent part of the model's heads and feed-forward.
static int
s_check_shard (const xinf_transformer_t *self, char *error, size_t error_size)
{
    const xinf_shard_t *shard = &self->shard;
    size_t group = self->n_heads / self->n_kv_heads;
    if (shard->n_ranks < 1 || shard->rank >= shard->n_ranks)
        return s_fail (error, error_size, "shard rank %zu of %zu ranks is out of range", shard->rank, shard->n_ranks);
    bool whole = shard->n_heads == self->n_heads && shard->ffn == self->ffn;
    if (!shard->n_kv_heads || shard->n_heads != shard->n_kv_heads * group
    ||  shard->head_first != shard->kv_head_first * group
    ||  shard->kv_head_first + shard->n_kv_heads > self->n_kv_heads
    ||  !shard->ffn || shard->ffn_first + shard->ffn > self->ffn || (shard->n_ranks == 1 && !whole))
        return s_fail (error, error_size, "inconsistent shard %zu of %zu: heads %zu+%zu, kv heads %zu+%zu, ffn %zu+%zu "
                       "of heads %zu, kv heads %zu, ffn %zu", shard->rank, shard->n_ranks, shard->head_first,
                       shard->n_heads, shard->kv_head_first, shard->n_kv_heads, shard->ffn_first, shard->ffn,
                       self->n_heads, self->n_kv_heads, self->ffn);
    return 0;
}

int
xinf_transformer_validate (const xinf_transformer_t *self, char *error, size_t error_size)
{
    if (!self->dim || !self->n_layers || !self->n_heads || !self->n_kv_heads || !self->ffn || !self->vocab || !self->context)
        return s_fail (error, error_size, "a hyperparameter is zero (dim %zu, layers %zu, heads %zu, kv heads %zu, ffn %zu, vocab %zu, context %zu)",
                       self->dim, self->n_layers, self->n_heads, self->n_kv_heads, self->ffn, self->vocab, self->context);
    if (self->dim % self->n_heads || self->n_heads % self->n_kv_heads || self->head_dim * self->n_heads != self->dim
    ||  self->head_dim % 2)
        return s_fail (error, error_size, "inconsistent heads: dim %zu, heads %zu, kv heads %zu, head dim %zu",
                       self->dim, self->n_heads, self->n_kv_heads, self->head_dim);
    if (s_check_shard (self, error, error_size))
        return -1;
    size_t q_dim = self->shard.n_heads * self->head_dim, kv_dim = self->shard.n_kv_heads * self->head_dim;
    size_t ffn = self->shard.ffn;
    if (s_check_matrix (&self->embed, "token_embd", 0, self->vocab, self->dim, error, error_size)
    ||  s_check_matrix (&self->output, "output", 0, self->vocab, self->dim, error, error_size))
        return -1;
    if (!self->output_norm)
        return s_fail (error, error_size, "tensor output_norm is missing");
    for (size_t index = 0; index < self->n_layers; index++) {
        const xinf_layer_t *layer = &self->layers [index];
        if (!layer->attn_norm || !layer->ffn_norm)
            return s_fail (error, error_size, "layer %zu: a norm weight is missing", index);
        if (s_check_matrix (&layer->q, "attn_q", index, q_dim, self->dim, error, error_size)
        ||  s_check_matrix (&layer->k, "attn_k", index, kv_dim, self->dim, error, error_size)
        ||  s_check_matrix (&layer->v, "attn_v", index, kv_dim, self->dim, error, error_size)
        ||  s_check_matrix (&layer->o, "attn_output", index, self->dim, q_dim, error, error_size)
        ||  s_check_matrix (&layer->gate, "ffn_gate", index, ffn, self->dim, error, error_size)
        ||  s_check_matrix (&layer->up, "ffn_up", index, ffn, self->dim, error, error_size)
        ||  s_check_matrix (&layer->down, "ffn_down", index, self->dim, ffn, error, error_size))
            return -1;
    }
    return 0;
}

static float *
s_floats (size_t count)
{
    return calloc (count ? count : 1, sizeof (float));
}

xinf_kv_t *
xinf_kv_new (const xinf_transformer_t *model, size_t context)
{
    xinf_kv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t chunk = PREFILL_CHUNK;
    const xinf_shard_t *shard = &model->shard;
    self->context = context;
    self->q_dim = shard->n_heads * model->head_dim;
    self->kv_dim = shard->n_kv_heads * model->head_dim;
    self->keys = s_floats (model->n_layers * context * self->kv_dim);
    self->values = s_floats (model->n_layers * context * self->kv_dim);
    self->x = s_floats (chunk * model->dim);
    self->xb = s_floats (chunk * model->dim);
    self->xb2 = s_floats (chunk * model->dim);
    self->q = s_floats (chunk * self->q_dim);
    self->k = s_floats (chunk * self->kv_dim);
    self->v = s_floats (chunk * self->kv_dim);
    self->attn = s_floats (chunk * self->q_dim);
    self->hb = s_floats (chunk * shard->ffn);
    self->hb2 = s_floats (chunk * shard->ffn);
    self->att_scratch = s_floats (xinf_cpu_attention_scratch (shard->n_heads, context));
    if (!self->keys || !self->values || !self->x || !self->xb || !self->xb2 || !self->q || !self->k
    ||  !self->v || !self->attn || !self->hb || !self->hb2 || !self->att_scratch)
        xinf_kv_destroy (&self);
    return self;
}

void
xinf_kv_destroy (xinf_kv_t **self_p)
{
    if (self_p && *self_p) {
        xinf_kv_t *self = *self_p;
        float *buffers [] = { self->keys, self->values, self->x, self->xb, self->xb2, self->q, self->k,
                              self->v, self->attn, self->hb, self->hb2, self->att_scratch };
        for (size_t index = 0; index < sizeof buffers / sizeof buffers [0]; index++)
            free (buffers [index]);
        free (self);
        *self_p = NULL;
    }
}

size_t xinf_kv_context (xinf_kv_t *self) { return self->context; }
void xinf_kv_set_cancel (xinf_kv_t *self, atomic_bool *flag) { self->cancel = flag; }

//  Only a whole model stops between layers: the ranks of a shard must not.
static bool
s_cancelled (const xinf_transformer_t *self, xinf_kv_t *kv)
{
    return self->shard.n_ranks <= 1 && kv->cancel && atomic_load (kv->cancel);
}

//  Sums the ranks' partial outputs [n][dim] of a layer's 'what' in place
//  (nothing to do for a whole model); 0 or -1 with the collective's reason.
static int
s_all_reduce (const xinf_transformer_t *self, float *partial, size_t n, size_t layer, const char *what,
              char *error, size_t error_size)
{
    if (self->shard.n_ranks <= 1)
        return 0;
    char reason [256] = "";
    if (xinf_collective_all_reduce_sum (self->collective, partial, n * self->dim, reason, sizeof reason))
        return s_fail (error, error_size, "%s (all-reduce of layer %zu %s)", reason [0] ? reason : "collective failed",
                       layer, what);
    return 0;
}

//  y [n][rows] = x [n][cols] . W^T, with the vector kernel for one position.
static void
s_project (xinf_threadpool_t *pool, const xinf_matrix_t *w, const float *x, size_t n, float *y)
{
    if (n == 1)
        xinf_cpu_matvec (pool, w->dtype, w->data, w->rows, w->cols, x, y);
    else
        xinf_cpu_matmul (pool, w->dtype, w->data, w->rows, w->cols, x, n, y);
}

static void
s_add_bias (float *rows, const float *bias, size_t n, size_t width)
{
    if (!bias)
        return;
    for (size_t row = 0; row < n; row++)
        xinf_cpu_add (rows + row * width, bias, width);
}

//  Attention block of one layer for n positions starting at pos: the
//  shard's heads, attn_output's partial sum over them into xb2.
static void
s_attention (const xinf_transformer_t *self, const xinf_layer_t *layer, size_t index, xinf_kv_t *kv,
             xinf_threadpool_t *pool, size_t n, size_t pos)
{
    size_t dim = self->dim, q_dim = kv->q_dim, kv_dim = kv->kv_dim;
    size_t n_heads = self->shard.n_heads, n_kv_heads = self->shard.n_kv_heads;
    for (size_t b = 0; b < n; b++)
        xinf_cpu_rmsnorm (kv->xb + b * dim, kv->x + b * dim, layer->attn_norm, dim, self->rms_eps);
    if (n == 1) {                      //  decode: one hand-off to the pool for q, k, v
        xinf_cpu_matvec_t products [3] = {
            { layer->q.dtype, layer->q.data, layer->q.rows, layer->q.cols, kv->xb, kv->q },
            { layer->k.dtype, layer->k.data, layer->k.rows, layer->k.cols, kv->xb, kv->k },
            { layer->v.dtype, layer->v.data, layer->v.rows, layer->v.cols, kv->xb, kv->v } };
        xinf_cpu_matvec_many (pool, products, 3);
    }
    else {
        s_project (pool, &layer->q, kv->xb, n, kv->q);
        s_project (pool, &layer->k, kv->xb, n, kv->k);
        s_project (pool, &layer->v, kv->xb, n, kv->v);
    }
    s_add_bias (kv->q, layer->q_bias, n, q_dim);
    s_add_bias (kv->k, layer->k_bias, n, kv_dim);
    s_add_bias (kv->v, layer->v_bias, n, kv_dim);
    float *keys = kv->keys + index * kv->context * kv_dim;
    float *values = kv->values + index * kv->context * kv_dim;
    for (size_t b = 0; b < n; b++) {
        xinf_cpu_rope (kv->q + b * q_dim, n_heads, self->head_dim, pos + b, self->rope_base, self->rope_neox);
        xinf_cpu_rope (kv->k + b * kv_dim, n_kv_heads, self->head_dim, pos + b, self->rope_base, self->rope_neox);
        memcpy (keys + (pos + b) * kv_dim, kv->k + b * kv_dim, kv_dim * sizeof (float));
        memcpy (values + (pos + b) * kv_dim, kv->v + b * kv_dim, kv_dim * sizeof (float));
    }
    for (size_t b = 0; b < n; b++)
        xinf_cpu_attention (pool, kv->q + b * q_dim, keys, values, n_heads, n_kv_heads, self->head_dim,
                            pos + b + 1, kv_dim, kv->attn + b * q_dim, kv->att_scratch);
    s_project (pool, &layer->o, kv->attn, n, kv->xb2);
}

//  x += the (summed) output of a block in xb2.
static void
s_residual (const xinf_transformer_t *self, xinf_kv_t *kv, size_t n)
{
    for (size_t b = 0; b < n; b++)
        xinf_cpu_add (kv->x + b * self->dim, kv->xb2 + b * self->dim, self->dim);
}

//  Feed-forward block: the shard's columns, ffn_down's partial sum into xb2.
static void
s_feed_forward (const xinf_transformer_t *self, const xinf_layer_t *layer, xinf_kv_t *kv,
                xinf_threadpool_t *pool, size_t n)
{
    size_t dim = self->dim;
    for (size_t b = 0; b < n; b++)
        xinf_cpu_rmsnorm (kv->xb + b * dim, kv->x + b * dim, layer->ffn_norm, dim, self->rms_eps);
    if (n == 1) {                      //  decode: one hand-off for gate and up
        xinf_cpu_matvec_t products [2] = {
            { layer->gate.dtype, layer->gate.data, layer->gate.rows, layer->gate.cols, kv->xb, kv->hb },
            { layer->up.dtype, layer->up.data, layer->up.rows, layer->up.cols, kv->xb, kv->hb2 } };
        xinf_cpu_matvec_many (pool, products, 2);
    }
    else {
        s_project (pool, &layer->gate, kv->xb, n, kv->hb);
        s_project (pool, &layer->up, kv->xb, n, kv->hb2);
    }
    xinf_cpu_silu_mul (kv->hb, kv->hb2, n * self->shard.ffn);
    s_project (pool, &layer->down, kv->hb, n, kv->xb2);
}

//  The logits of positions of the chunk (the last one, or all of them).
static void
s_logits (const xinf_transformer_t *self, xinf_kv_t *kv, xinf_threadpool_t *pool, size_t n,
          float *logits, float *all_logits)
{
    size_t dim = self->dim;
    size_t first = all_logits ? 0 : n - 1;
    for (size_t b = first; b < n; b++) {
        xinf_cpu_rmsnorm (kv->xb, kv->x + b * dim, self->output_norm, dim, self->rms_eps);
        float *target = all_logits ? all_logits + b * self->vocab : logits;
        xinf_cpu_matvec (pool, self->output.dtype, self->output.data, self->output.rows, self->output.cols,
                         kv->xb, target);
        if (all_logits && logits && b == n - 1)
            memcpy (logits, target, self->vocab * sizeof (float));
    }
}

//  One chunk of at most PREFILL_CHUNK positions; 0 or -1 with a reason.
static int
s_chunk (const xinf_transformer_t *self, xinf_kv_t *kv, xinf_threadpool_t *pool,
         const int32_t *tokens, size_t n, size_t pos, float *logits, float *all_logits,
         char *error, size_t error_size)
{
    size_t dim = self->dim;
    size_t row_bytes = xinf_dtype_row_bytes (self->embed.dtype, dim);
    for (size_t b = 0; b < n; b++)
        xinf_cpu_row_to_f32 (self->embed.dtype, (const char *) self->embed.data + (size_t) tokens [b] * row_bytes,
                             dim, kv->x + b * dim);
    for (size_t index = 0; index < self->n_layers; index++) {
        if (s_cancelled (self, kv))
            return s_fail (error, error_size, "cancelled");
        s_attention (self, &self->layers [index], index, kv, pool, n, pos);
        if (s_all_reduce (self, kv->xb2, n, index, "attn_output", error, error_size))
            return -1;
        s_residual (self, kv, n);
        s_feed_forward (self, &self->layers [index], kv, pool, n);
        if (s_all_reduce (self, kv->xb2, n, index, "ffn_down", error, error_size))
            return -1;
        s_residual (self, kv, n);
    }
    if (logits || all_logits)
        s_logits (self, kv, pool, n, logits, all_logits);
    return 0;
}

int
xinf_transformer_check_step (const xinf_transformer_t *self, xinf_kv_t *kv, const int32_t *tokens, size_t count,
                             size_t pos, char *error, size_t error_size)
{
    if (count == 0)
        return s_fail (error, error_size, "no tokens to run");
    if (pos + count > kv->context)
        return s_fail (error, error_size, "positions %zu..%zu exceed the context of %zu", pos, pos + count - 1, kv->context);
    for (size_t index = 0; index < count; index++)
        if (tokens [index] < 0 || (size_t) tokens [index] >= self->vocab)
            return s_fail (error, error_size, "token id %d at %zu is outside the vocabulary of %zu",
                           tokens [index], index, self->vocab);
    return 0;
}

int
xinf_transformer_forward (const xinf_transformer_t *self, xinf_kv_t *kv, xinf_threadpool_t *pool,
                          const int32_t *tokens, size_t count, size_t pos,
                          float *logits, float *all_logits, char *error, size_t error_size)
{
    const xinf_shard_t *shard = &self->shard;
    if (shard->n_ranks > 1 && !self->collective)
        return s_fail (error, error_size, "rank %zu of %zu has no collective to sum the partial results with",
                       shard->rank, shard->n_ranks);
    if (shard->n_ranks > 1
    &&  (self->collective->size != (int) shard->n_ranks || self->collective->rank != (int) shard->rank))
        return s_fail (error, error_size, "the collective is rank %d of %d, the model shard %zu of %zu",
                       self->collective->rank, self->collective->size, shard->rank, shard->n_ranks);
    if (xinf_transformer_check_step (self, kv, tokens, count, pos, error, error_size))
        return -1;
    for (size_t done = 0; done < count; ) {
        size_t n = count - done < PREFILL_CHUNK ? count - done : PREFILL_CHUNK;
        if (s_chunk (self, kv, pool, tokens + done, n, pos + done, logits,
                     all_logits ? all_logits + done * self->vocab : NULL, error, error_size))
            return -1;
        done += n;
    }
    return 0;
}
