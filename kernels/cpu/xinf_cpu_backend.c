/*  xinf_cpu_backend: the CPU backend of the compute seam.  */
#include "xinf_cpu_backend.h"
#include "xinf_cpu_ops.h"
#include "xinf_cpu_paged.h"
#include "xinf_cpu_lora.h"
#include "xinf_cpu_moe.h"
#include "xinf_sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    xinf_threadpool_t *pool;          //  the one in use (NULL: the caller)
    xinf_threadpool_t *owned;         //  the pool this backend started
    float *scratch;                   //  attention scores, a row per thread
    size_t scratch_rows, scratch_stride;
    xinf_sampler_t **samplers;        //  one a sampling task, made when first needed
    size_t n_samplers;
    xinf_cpu_lora_scratch_t lora;     //  LoRA products' gathered rows
    xinf_cpu_moe_scratch_t moe;       //  mixture-of-experts routing and gathered rows
    char error [128];                 //  why an op failed, until status reports it
} s_cpu_t;

static s_cpu_t *
s_cpu (xinf_backend_t *self)
{
    return (s_cpu_t *) self->impl;
}

static void
s_destroy (xinf_backend_t *self)
{
    s_cpu_t *cpu = s_cpu (self);
    xinf_threadpool_destroy (&cpu->owned);
    free (cpu->scratch);
    free (cpu->lora.memory);
    xinf_cpu_moe_scratch_free (&cpu->moe);
    for (size_t i = 0; i < cpu->n_samplers; i++)
        xinf_sampler_destroy (&cpu->samplers [i]);
    free (cpu->samplers);
    free (cpu);
    free (self);
}

static void *
s_alloc (xinf_backend_t *self, size_t bytes)
{
    (void) self;
    return calloc (1, bytes ? bytes : 1);
}

static void
s_free (xinf_backend_t *self, void *memory)
{
    (void) self;
    free (memory);
}

//  A product's bias added to each of its n rows.
static void
s_bias (const xinf_product_t *product, size_t n)
{
    for (size_t t = 0; product->bias && t < n; t++)
        xinf_cpu_add (product->y + t * product->w->rows, product->bias, product->w->rows);
}

//  One token: the q/k/v or gate/up group in one hand-off to the pool.
//  More: each product over all tokens, every weight read once, then its
//  bias.
static void
s_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n)
{
    xinf_threadpool_t *pool = s_cpu (self)->pool;
    if (n == 1 && count <= 8) {
        xinf_cpu_matvec_t many [8] = { 0 };
        for (size_t index = 0; index < count; index++) {
            const xinf_matrix_t *w = products [index].w;
            many [index] = (xinf_cpu_matvec_t) { w->dtype, w->data, w->rows, w->cols, products [index].x,
                                                 products [index].y };
        }
        xinf_cpu_matvec_many (pool, many, count);
        for (size_t index = 0; index < count; index++)
            s_bias (&products [index], n);
        return;
    }
    for (size_t index = 0; index < count; index++) {
        const xinf_matrix_t *w = products [index].w;
        xinf_cpu_matvec_batch (pool, w->dtype, w->data, w->rows, w->cols, products [index].x, n, products [index].y);
        s_bias (&products [index], n);
    }
}

static void
s_embed (xinf_backend_t *self, const xinf_matrix_t *table, const int32_t *tokens, size_t n, float *x)
{
    (void) self;
    size_t row_bytes = xinf_dtype_row_bytes (table->dtype, table->cols);
    for (size_t i = 0; i < n; i++)
        xinf_cpu_row_to_f32 (table->dtype, (const char *) table->data + (size_t) tokens [i] * row_bytes,
                             table->cols, x + i * table->cols);
}

static void
s_rmsnorm (xinf_backend_t *self, float *out, const float *x, const float *weight, size_t n, size_t dim, float eps)
{
    (void) self;
    for (size_t i = 0; i < n; i++)
        xinf_cpu_rmsnorm (out + i * dim, x + i * dim, weight, dim, eps);
}

static void
s_add (xinf_backend_t *self, float *y, const float *x, size_t count)
{
    (void) self;
    xinf_cpu_add (y, x, count);
}

static void
s_add_bias (xinf_backend_t *self, float *rows, const float *bias, size_t n, size_t width)
{
    (void) self;
    for (size_t i = 0; i < n; i++)
        xinf_cpu_add (rows + i * width, bias, width);
}

static void
s_lora (xinf_backend_t *self, const xinf_lora_product_t *products, size_t count, const int32_t *rows, size_t n_rows)
{
    s_cpu_t *cpu = s_cpu (self);
    if (xinf_cpu_lora (cpu->pool, &cpu->lora, products, count, rows, n_rows))
        snprintf (cpu->error, sizeof cpu->error, "out of memory for %zu LoRA products of %zu rows", count, n_rows);
}

static void
s_rope (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos,
        const xinf_rope_t *rope)
{
    (void) self;
    for (size_t i = 0; i < n; i++)
        xinf_cpu_rope (x + i * n_heads * head_dim, n_heads, head_dim, (size_t) pos [i], rope);
}

//  An activation (SiLU, GELU) of a batch is split over the pool in runs of this many elements
//  (of one token's: a decode step of one sequence stays on the caller).
#define S_ACTIVATION_RUN 8192

//  An element-wise op over 'count' elements (each its own arithmetic),
//  in runs of S_ACTIVATION_RUN over the pool: run (job, first, n).
typedef struct {
    void (*run) (void *job, size_t first, size_t n);
    void *job;
    size_t count;
} s_runs_t;

static void
s_runs_task (void *arg, size_t task, int thread)
{
    (void) thread;
    s_runs_t *runs = arg;
    size_t first = task * S_ACTIVATION_RUN;
    runs->run (runs->job, first, runs->count - first < S_ACTIVATION_RUN ? runs->count - first : S_ACTIVATION_RUN);
}

static void
s_split (xinf_backend_t *self, size_t count, void (*run) (void *, size_t, size_t), void *job)
{
    s_runs_t runs = { run, job, count };
    xinf_threadpool_run (s_cpu (self)->pool, (count + S_ACTIVATION_RUN - 1) / S_ACTIVATION_RUN, s_runs_task, &runs);
}

typedef struct {
    float *gate;
    const float *up;
    void (*activate) (float *gate, const float *up, size_t n);
} s_activation_t;

static void
s_activation_run (void *arg, size_t first, size_t n)
{
    s_activation_t *job = arg;
    job->activate (job->gate + first, job->up + first, n);
}

static void
s_activate (xinf_backend_t *self, void (*activate) (float *, const float *, size_t), float *gate, const float *up,
            size_t count)
{
    s_activation_t job = { gate, up, activate };
    s_split (self, count, s_activation_run, &job);
}

static void
s_silu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    s_activate (self, xinf_cpu_silu_mul, gate, up, count);
}

static void
s_gelu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    s_activate (self, xinf_cpu_gelu_mul, gate, up, count);
}

static void
s_scale (xinf_backend_t *self, float *x, size_t count, float factor)
{
    (void) self;
    for (size_t i = 0; i < count; i++)
        x [i] *= factor;
}

typedef struct {
    float *x;
    float cap;
} s_softcap_t;

static void
s_softcap_run (void *arg, size_t first, size_t n)
{
    s_softcap_t *job = arg;
    for (size_t i = first; i < first + n; i++)
        job->x [i] = job->cap * tanhf (job->x [i] / job->cap);
}

//  Final logits (vocab x rows): split over the pool as the activations
static void
s_softcap (xinf_backend_t *self, float *x, size_t count, float cap)
{
    s_softcap_t job = { x, cap };
    s_split (self, count, s_softcap_run, &job);
}

static void
s_copy_rows (xinf_backend_t *self, float *dst, const float *src, const xinf_rows_t *shape)
{
    (void) self;
    for (size_t o = 0; o < shape->outer; o++)
        for (size_t i = 0; i < shape->inner; i++)
            memcpy (dst + o * shape->dst_outer + i * shape->dst_inner, src + o * shape->src_outer + i * shape->src_inner,
                    shape->width * sizeof (float));
}

static void
s_kv_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
            const float *k, const float *v)
{
    (void) self;
    xinf_cpu_paged_store (pool, layer, batch, k, v);
}

//  Row by row, so that a row is normed while the add left it in cache.
static void
s_add_rmsnorm (xinf_backend_t *self, float *out, float *y, const float *x, const float *weight, size_t n, size_t dim,
               float eps)
{
    (void) self;
    for (size_t i = 0; i < n; i++) {
        xinf_cpu_add (y + i * dim, x + i * dim, dim);
        xinf_cpu_rmsnorm (out + i * dim, y + i * dim, weight, dim, eps);
    }
}

//  The three ops in turn: on the CPU a launch costs nothing.
static void
s_rope_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, float *q, float *k,
              const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_rope_t *rope)
{
    xinf_backend_rope_store_apart (self, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope);
}

//  Room for 'positions' scores on every thread (a token's positions for
//  each query head of a KV head); false when out of memory.
static bool
s_reserve_scratch (s_cpu_t *cpu, size_t positions)
{
    size_t rows = (size_t) xinf_threadpool_size (cpu->pool);
    if (rows <= cpu->scratch_rows && positions <= cpu->scratch_stride)
        return true;
    size_t stride = positions > cpu->scratch_stride ? positions : cpu->scratch_stride;
    rows = rows > cpu->scratch_rows ? rows : cpu->scratch_rows;
    float *scratch = malloc (rows * stride * sizeof (float));
    if (!scratch)
        return false;
    free (cpu->scratch);
    cpu->scratch = scratch;
    cpu->scratch_rows = rows;
    cpu->scratch_stride = stride;
    return true;
}

static int
s_attention (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
             const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_attend_t *attend,
             float *out)
{
    s_cpu_t *cpu = s_cpu (self);
    size_t longest = 0;
    for (size_t i = 0; i < batch->n; i++)
        longest = (size_t) batch->pos [i] + 1 > longest ? (size_t) batch->pos [i] + 1 : longest;
    longest = attend->window && longest > attend->window ? attend->window : longest;
    if (!s_reserve_scratch (cpu, longest * (n_heads / n_kv_heads)))
        return -1;
    xinf_cpu_paged_attention (cpu->pool, pool, layer, batch, q, n_heads, n_kv_heads, head_dim, attend, out,
                              cpu->scratch, cpu->scratch_stride);
    return 0;
}

//  The heads' norms, rope_store, then attention: one call on the CPU as on
//  a device.
static int
s_rope_attention (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, float *q,
                  float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_rope_t *rope,
                  const xinf_head_norms_t *norms, const xinf_attend_t *attend, float *out)
{
    return xinf_backend_rope_attention_apart (self, pool, layer, batch, q, k, v, n_heads, n_kv_heads, head_dim, rope,
                                              norms, attend, out);
}

static int
s_write (xinf_backend_t *self, void *memory, const void *host, size_t bytes)
{
    (void) self;
    memcpy (memory, host, bytes);
    return 0;
}

static int
s_read (xinf_backend_t *self, void *host, const void *memory, size_t bytes)
{
    (void) self;
    memcpy (host, memory, bytes);
    return 0;
}

//  At least 'count' samplers, one a sampling task; false when out of
//  memory (the reason kept for status).
static bool
s_reserve_samplers (s_cpu_t *cpu, size_t count)
{
    if (cpu->n_samplers >= count)
        return true;
    xinf_sampler_t **grown = realloc (cpu->samplers, count * sizeof *grown);
    if (grown) {
        cpu->samplers = grown;
        for (; cpu->n_samplers < count; cpu->n_samplers++)
            if (!(cpu->samplers [cpu->n_samplers] = xinf_sampler_new (0, 0, 1, 0)))
                break;
    }
    if (cpu->n_samplers < count)
        snprintf (cpu->error, sizeof cpu->error, "out of memory for %zu samplers", count);
    return cpu->n_samplers >= count;
}

typedef struct {
    s_cpu_t *cpu;
    const float *logits;
    size_t n_rows, vocab, tasks;
    const xinf_sampling_t *params;
    const double *uniforms;
    int32_t *tokens;
} s_sample_t;

//  Rows task, task + tasks, ... on the task's own sampler; their
//  parameters were checked.
static void
s_sample_task (void *arg, size_t task, int thread)
{
    (void) thread;
    s_sample_t *job = arg;
    xinf_sampler_t *sampler = job->cpu->samplers [task];
    for (size_t row = task; row < job->n_rows; row += job->tasks) {
        xinf_sampler_set (sampler, &job->params [row]);
        job->tokens [row] = xinf_sampler_draw (sampler, job->logits + row * job->vocab, job->vocab,
                                               job->uniforms [row]);
    }
}

//  The rows spread over the pool in as many tasks as it has threads (or
//  rows, when fewer), a sampler a task, so that the samplers' buffers
//  (about 40 bytes a vocabulary entry each) stay bounded by both: each
//  row's token is the one xinf_sampler_draw picks, whichever thread
//  draws it. The parameters and draws are all checked first, so a bad
//  row samples none.
static int
s_sample (xinf_backend_t *self, const float *logits, size_t n_rows, size_t vocab, const xinf_sampling_t *params,
          const double *uniforms, int32_t *tokens)
{
    s_cpu_t *cpu = s_cpu (self);
    size_t threads = (size_t) xinf_threadpool_size (cpu->pool), tasks = n_rows < threads ? n_rows : threads;
    if (!s_reserve_samplers (cpu, tasks ? tasks : 1))
        return -1;
    for (size_t row = 0; row < n_rows; row++)
        if (xinf_sampler_set (cpu->samplers [0], &params [row]) || !(uniforms [row] >= 0 && uniforms [row] < 1))
            return -1;
    s_sample_t job = { cpu, logits, n_rows, vocab, tasks, params, uniforms, tokens };
    xinf_threadpool_run (cpu->pool, tasks, s_sample_task, &job);
    return 0;
}

//  The CPU's ops cannot fail but for attention's scratch (its own -1) and
//  the samplers' memory; a failure is reported once.
static int
s_status (xinf_backend_t *self, char *error, size_t error_size)
{
    s_cpu_t *cpu = s_cpu (self);
    if (!cpu->error [0])
        return 0;
    if (error && error_size)
        snprintf (error, error_size, "%s", cpu->error);
    cpu->error [0] = 0;
    return -1;
}

static int
s_moe (xinf_backend_t *self, const xinf_moe_t *moe, const float *x, float *y, size_t n)
{
    s_cpu_t *cpu = s_cpu (self);
    int rc = xinf_cpu_moe (self, &cpu->moe, moe, x, y, n);
    if (rc == -1)
        snprintf (cpu->error, sizeof cpu->error, "out of memory for the experts of %zu tokens", n);
    else
    if (rc)
        snprintf (cpu->error, sizeof cpu->error, "%zu experts, %zu a token: their shapes do not hold",
                  moe->n_experts, moe->k);
    return rc ? -1 : 0;
}

static const xinf_backend_ops_t s_ops = {
    "cpu", s_destroy, s_alloc, s_free, s_project, s_embed, s_rmsnorm, s_add, s_add_bias, s_rope,
    s_silu_mul, s_kv_store, s_attention, s_write, s_read, s_status, NULL, NULL, NULL, s_sample, s_add_rmsnorm,
    s_rope_store, s_rope_attention, s_lora, s_gelu_mul, s_scale, s_moe, s_softcap, s_copy_rows
};

xinf_backend_t *
xinf_cpu_backend_new_on (xinf_threadpool_t *pool)
{
    xinf_backend_t *self = calloc (1, sizeof *self);
    s_cpu_t *cpu = calloc (1, sizeof *cpu);
    if (!self || !cpu) {
        free (self);
        free (cpu);
        return NULL;
    }
    cpu->pool = pool;
    self->ops = &s_ops;
    self->impl = cpu;
    self->host_memory = true;
    self->kv_dtypes = 1u << XINF_DTYPE_F32 | 1u << XINF_DTYPE_F16 | 1u << XINF_DTYPE_Q8_0;
    self->sliding_window = true;
    self->window_tables = true;
    self->softcap = true;
    self->sinks = true;
    self->moe_oai = true;
    self->moe_shared = true;
    self->moe_sigmoid = true;
    self->moe_groups = true;
    self->partial_rope = true;
    return self;
}

xinf_backend_t *
xinf_cpu_backend_new (int threads)
{
    xinf_threadpool_t *pool = xinf_threadpool_new (threads);
    xinf_backend_t *self = pool ? xinf_cpu_backend_new_on (pool) : NULL;
    if (self)
        s_cpu (self)->owned = pool;
    else
        xinf_threadpool_destroy (&pool);
    return self;
}

xinf_threadpool_t *
xinf_cpu_backend_pool (xinf_backend_t *backend)
{
    return s_cpu (backend)->pool;
}

void
xinf_cpu_backend_set_pool (xinf_backend_t *backend, xinf_threadpool_t *pool)
{
    s_cpu (backend)->pool = pool;
}
