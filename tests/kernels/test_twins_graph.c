/*  test_twins_graph: a CPU backend with the graph ops of the compute seam
    (xinf_backend.h), recorded and replayed on the host, to test the
    transformer's decode graphs (models/xinf_graph.h) without a GPU.

    Between graph_begin and graph_end nothing runs: every op call is
    noted with its arguments, as a CUDA stream capture notes kernels;
    graph_end runs the notes once (a CUDA graph's first launch), and
    graph_replay runs them again on a later step, with that step's batch
    (token ids, positions, tables) where the recorded step's was, as the
    CUDA backend's replay finds the new arrays in its staging buffers.
    Sizes, activations, weights and the logits rows stay the recorded
    ones. A call that hands the ops a host array other than the graph's
    batch fails the recording (a CUDA capture would have to copy it).
    Steps replayed this way must compute what eager steps do: the twin
    comparison against the CPU proves the padding to a bucket and the
    shapes fixed per bucket. Every third replay drops its graph instead
    (as the CUDA backend does when memory the graph uses moved): the
    transformer must run that step eagerly and record the bucket again.
*/
#include "test_twins.h"
#include "xinf_cpu_backend.h"

typedef enum {
    S_PROJECT, S_EMBED, S_RMSNORM, S_ADD, S_ADD_BIAS, S_ROPE, S_SILU_MUL, S_GELU_MUL, S_SCALE, S_KV_STORE, S_ATTENTION
} s_kind_t;

//  One noted op call.
typedef struct {
    s_kind_t kind;
    xinf_product_t products [4];
    size_t count;
    const xinf_matrix_t *table;
    float *out, *y;
    const float *x, *weight, *k, *v, *q;
    size_t n, dim, n_heads, n_kv_heads, head_dim, layer;
    xinf_attend_t attend;
    float eps;
    const xinf_rope_t *rope;
    xinf_kv_pool_t *pool;
} s_call_t;

#define S_SLOTS 16
#define S_CALLS 4096

typedef struct {
    s_call_t *calls;
    size_t n_calls;
    float *logits;
    size_t bucket;
} s_graph_t;

typedef struct {
    xinf_backend_t *inner;
    bool capturing, broken;           //  broken: a call the recording cannot hold
    const xinf_batch_t *batch;        //  the recorded step's (valid while capturing)
    s_graph_t recording;
    s_graph_t graphs [S_SLOTS];
    size_t replays, drops;
} s_state_t;

static s_state_t *
s_of (xinf_backend_t *self)
{
    return (s_state_t *) self->impl;
}

static xinf_backend_t *
s_inner (xinf_backend_t *self)
{
    return s_of (self)->inner;
}

//  A call to note while capturing (NULL when full: the recording breaks).
static s_call_t *
s_note (xinf_backend_t *self, s_kind_t kind)
{
    s_state_t *state = s_of (self);
    if (!state->recording.calls)
        state->recording.calls = calloc (S_CALLS, sizeof (s_call_t));
    if (!state->recording.calls || state->recording.n_calls == S_CALLS) {
        state->broken = true;
        return NULL;
    }
    s_call_t *call = &state->recording.calls [state->recording.n_calls++];
    memset (call, 0, sizeof *call);
    call->kind = kind;
    return call;
}

//  Runs a noted call with 'batch' as the graph's batch.
static void
s_run (xinf_backend_t *inner, const s_call_t *call, const xinf_batch_t *batch)
{
    switch (call->kind) {
        case S_PROJECT:   inner->ops->project (inner, call->products, call->count, call->n); break;
        case S_EMBED:     inner->ops->embed (inner, call->table, batch->tokens, call->n, call->out); break;
        case S_RMSNORM:   inner->ops->rmsnorm (inner, call->out, call->x, call->weight, call->n, call->dim, call->eps); break;
        case S_ADD:       inner->ops->add (inner, call->out, call->x, call->n); break;
        case S_ADD_BIAS:  inner->ops->add_bias (inner, call->out, call->weight, call->n, call->dim); break;
        case S_ROPE:      inner->ops->rope (inner, call->out, call->n, call->n_heads, call->head_dim, batch->pos,
                                            call->rope); break;
        case S_SILU_MUL:  inner->ops->silu_mul (inner, call->out, call->x, call->n); break;
        case S_GELU_MUL:  inner->ops->gelu_mul (inner, call->out, call->x, call->n); break;
        case S_SCALE:     inner->ops->scale (inner, call->out, call->n, call->eps); break;
        case S_KV_STORE:  inner->ops->kv_store (inner, call->pool, call->layer, batch, call->k, call->v); break;
        case S_ATTENTION: inner->ops->attention (inner, call->pool, call->layer, batch, call->q, call->n_heads,
                                                 call->n_kv_heads, call->head_dim, &call->attend, call->out);
                          break;
    }
}

static void
s_g_project (xinf_backend_t *self, const xinf_product_t *products, size_t count, size_t n)
{
    if (!s_of (self)->capturing) {
        s_inner (self)->ops->project (s_inner (self), products, count, n);
        return;
    }
    s_call_t *call = s_note (self, S_PROJECT);
    if (!call || count > 4) {
        s_of (self)->broken = true;
        return;
    }
    memcpy (call->products, products, count * sizeof *products);
    call->count = count;
    call->n = n;
}

static void
s_g_embed (xinf_backend_t *self, const xinf_matrix_t *table, const int32_t *tokens, size_t n, float *x)
{
    s_state_t *state = s_of (self);
    if (!state->capturing) {
        state->inner->ops->embed (state->inner, table, tokens, n, x);
        return;
    }
    s_call_t *call = s_note (self, S_EMBED);
    state->broken |= tokens != state->batch->tokens;
    if (call)
        *call = (s_call_t) { .kind = S_EMBED, .table = table, .n = n, .out = x };
}

static void
s_g_rmsnorm (xinf_backend_t *self, float *out, const float *x, const float *weight, size_t n, size_t dim, float eps)
{
    if (!s_of (self)->capturing) {
        s_inner (self)->ops->rmsnorm (s_inner (self), out, x, weight, n, dim, eps);
        return;
    }
    s_call_t *call = s_note (self, S_RMSNORM);
    if (call)
        *call = (s_call_t) { .kind = S_RMSNORM, .out = out, .x = x, .weight = weight, .n = n, .dim = dim, .eps = eps };
}

static void
s_g_add (xinf_backend_t *self, float *y, const float *x, size_t count)
{
    if (!s_of (self)->capturing) {
        s_inner (self)->ops->add (s_inner (self), y, x, count);
        return;
    }
    s_call_t *call = s_note (self, S_ADD);
    if (call)
        *call = (s_call_t) { .kind = S_ADD, .out = y, .x = x, .n = count };
}

static void
s_g_add_bias (xinf_backend_t *self, float *rows, const float *bias, size_t n, size_t width)
{
    if (!s_of (self)->capturing) {
        s_inner (self)->ops->add_bias (s_inner (self), rows, bias, n, width);
        return;
    }
    s_call_t *call = s_note (self, S_ADD_BIAS);
    if (call)
        *call = (s_call_t) { .kind = S_ADD_BIAS, .out = rows, .weight = bias, .n = n, .dim = width };
}

static void
s_g_rope (xinf_backend_t *self, float *x, size_t n, size_t n_heads, size_t head_dim, const int32_t *pos,
          const xinf_rope_t *rope)
{
    s_state_t *state = s_of (self);
    if (!state->capturing) {
        state->inner->ops->rope (state->inner, x, n, n_heads, head_dim, pos, rope);
        return;
    }
    s_call_t *call = s_note (self, S_ROPE);
    state->broken |= pos != state->batch->pos;
    if (call)
        *call = (s_call_t) { .kind = S_ROPE, .out = x, .n = n, .n_heads = n_heads, .head_dim = head_dim, .rope = rope };
}

static void
s_g_gelu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    if (!s_of (self)->capturing) {
        s_inner (self)->ops->gelu_mul (s_inner (self), gate, up, count);
        return;
    }
    s_call_t *call = s_note (self, S_GELU_MUL);
    if (call)
        *call = (s_call_t) { .kind = S_GELU_MUL, .out = gate, .x = up, .n = count };
}

//  The factor is kept in 'eps'.
static void
s_g_scale (xinf_backend_t *self, float *x, size_t count, float factor)
{
    if (!s_of (self)->capturing) {
        s_inner (self)->ops->scale (s_inner (self), x, count, factor);
        return;
    }
    s_call_t *call = s_note (self, S_SCALE);
    if (call)
        *call = (s_call_t) { .kind = S_SCALE, .out = x, .n = count, .eps = factor };
}

static void
s_g_silu_mul (xinf_backend_t *self, float *gate, const float *up, size_t count)
{
    if (!s_of (self)->capturing) {
        s_inner (self)->ops->silu_mul (s_inner (self), gate, up, count);
        return;
    }
    s_call_t *call = s_note (self, S_SILU_MUL);
    if (call)
        *call = (s_call_t) { .kind = S_SILU_MUL, .out = gate, .x = up, .n = count };
}

static void
s_g_kv_store (xinf_backend_t *self, xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch, const float *k,
              const float *v)
{
    s_state_t *state = s_of (self);
    if (!state->capturing) {
        state->inner->ops->kv_store (state->inner, pool, layer, batch, k, v);
        return;
    }
    s_call_t *call = s_note (self, S_KV_STORE);
    state->broken |= batch != state->batch;
    if (call)
        *call = (s_call_t) { .kind = S_KV_STORE, .pool = pool, .layer = layer, .k = k, .v = v };
}

static int
s_g_attention (xinf_backend_t *self, const xinf_kv_pool_t *pool, size_t layer, const xinf_batch_t *batch,
               const float *q, size_t n_heads, size_t n_kv_heads, size_t head_dim, const xinf_attend_t *attend,
               float *out)
{
    s_state_t *state = s_of (self);
    if (!state->capturing)
        return state->inner->ops->attention (state->inner, pool, layer, batch, q, n_heads, n_kv_heads, head_dim,
                                             attend, out);
    s_call_t *call = s_note (self, S_ATTENTION);
    state->broken |= batch != state->batch;
    if (call)
        *call = (s_call_t) { .kind = S_ATTENTION, .pool = (xinf_kv_pool_t *) pool, .layer = layer, .q = q,
                             .n_heads = n_heads, .n_kv_heads = n_kv_heads, .head_dim = head_dim,
                             .attend = *attend, .out = out };
    return 0;
}

static size_t
s_slot (size_t bucket)
{
    size_t slot = 0;
    while (slot + 1 < S_SLOTS && ((size_t) 1 << slot) < bucket)
        slot++;
    return slot;
}

static int
s_g_begin (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch, const xinf_kv_pool_t *pool, char *error,
           size_t error_size)
{
    s_state_t *state = s_of (self);
    free (state->recording.calls);
    memset (&state->recording, 0, sizeof state->recording);
    state->recording.bucket = bucket;
    state->batch = batch;
    state->capturing = true;
    state->broken = false;
    return 0;
}

static int
s_g_end (xinf_backend_t *self, size_t bucket, bool keep, float *logits, char *error, size_t error_size)
{
    s_state_t *state = s_of (self);
    state->capturing = false;
    s_graph_t graph = state->recording;
    memset (&state->recording, 0, sizeof state->recording);
    if (!keep || state->broken) {
        free (graph.calls);
        snprintf (error, error_size, "%s", keep ? "a call the recording cannot hold" : "the pass failed");
        return -1;
    }
    for (size_t index = 0; index < graph.n_calls; index++)
        s_run (state->inner, &graph.calls [index], state->batch);
    graph.logits = logits;
    s_graph_t *slot = &state->graphs [s_slot (bucket)];
    free (slot->calls);
    *slot = graph;
    return 0;
}

static int
s_g_replay (xinf_backend_t *self, size_t bucket, const xinf_batch_t *batch, const xinf_kv_pool_t *pool,
            float *logits)
{
    s_state_t *state = s_of (self);
    s_graph_t *graph = &state->graphs [s_slot (bucket)];
    if (!graph->calls || graph->bucket != bucket || graph->logits != logits || batch->n != bucket)
        return 0;
    if (++state->drops % 3 == 0) {
        free (graph->calls);
        memset (graph, 0, sizeof *graph);
        return 0;
    }
    for (size_t index = 0; index < graph->n_calls; index++)
        s_run (state->inner, &graph->calls [index], batch);
    state->replays++;
    return 1;
}

static void
s_g_destroy (xinf_backend_t *self)
{
    s_state_t *state = s_of (self);
    for (size_t slot = 0; slot < S_SLOTS; slot++)
        free (state->graphs [slot].calls);
    free (state->recording.calls);
    xinf_backend_destroy (&state->inner);
    free (state);
    free (self);
}

static void *s_g_alloc (xinf_backend_t *self, size_t bytes) { return s_inner (self)->ops->alloc (s_inner (self), bytes); }
static void s_g_free (xinf_backend_t *self, void *memory) { s_inner (self)->ops->free (s_inner (self), memory); }
static int s_g_write (xinf_backend_t *self, void *m, const void *h, size_t b) { return s_inner (self)->ops->write (s_inner (self), m, h, b); }
static int s_g_read (xinf_backend_t *self, void *h, const void *m, size_t b) { return s_inner (self)->ops->read (s_inner (self), h, m, b); }
static int s_g_status (xinf_backend_t *self, char *e, size_t s) { return s_inner (self)->ops->status (s_inner (self), e, s); }

static const xinf_backend_ops_t s_graph_ops = {
    "cpu-graph", s_g_destroy, s_g_alloc, s_g_free, s_g_project, s_g_embed, s_g_rmsnorm, s_g_add, s_g_add_bias,
    s_g_rope, s_g_silu_mul, s_g_kv_store, s_g_attention, s_g_write, s_g_read, s_g_status, s_g_begin, s_g_end,
    s_g_replay, NULL, NULL, NULL, NULL, NULL, s_g_gelu_mul, s_g_scale, NULL, NULL, NULL
};

xinf_backend_t *
test_twins_graph_new (void)
{
    xinf_backend_t *self = calloc (1, sizeof *self);
    s_state_t *state = calloc (1, sizeof *state);
    CHECK (self && state);
    state->inner = xinf_cpu_backend_new (2);
    CHECK (state->inner);
    self->ops = &s_graph_ops;
    self->impl = state;
    self->kv_dtypes = 1u << XINF_DTYPE_F32;     //  as the CUDA backend it stands for
    self->sliding_window = true;
    return self;
}

size_t
test_twins_graph_replays (xinf_backend_t *self)
{
    return s_of (self)->replays;
}
