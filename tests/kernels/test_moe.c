/*  test_moe: the CPU backend's mixture-of-experts op against a double
    reference (router softmax, top k with the lower id first among equals,
    weights divided by their sum or not, each expert's SwiGLU), with F32,
    Q8_0 and MXFP4 experts; GPT-OSS's form (biases of the router and the
    experts, the softmax of the k chosen logits, the clamped swiglu, its
    clamps reached); a shared expert (Qwen2-MoE's, gated by the sigmoid of
    its router's logit, and granitemoeshared's, ungated) of another width
    and type; DeepSeek V3's groups of experts; each token's result alone equals it in any batch, on
    1 and 3 threads, bit for bit; shapes that do not hold are refused.  */
#include "test_kernels.h"
#include "xinf_cpu_backend.h"
#include "xinf_dtype.h"

typedef struct {
    size_t n_experts, k, ffn, dim;
    xinf_dtype_t dtype;
    float *router, *gate, *up, *down;        //  floats as the matrices hold them
    float *biases;                           //  GPT-OSS's form: router, gate, up, down biases (else NULL)
    void *gate_q, *up_q, *down_q;            //  Q8_0 bytes where dtype is Q8_0
    xinf_matrix_t router_m, *gate_m, *up_m, *down_m;
    float *shared [4];                       //  a shared expert's gate, up, down (floats), its router or NULL
    void *shared_q [3];
    xinf_matrix_t shared_m [3];
    xinf_moe_t moe;
} s_experts_t;

//  'count' random floats, each rounded to what a Q8_0 block holds where asked
//  (the reference then computes on the same values); the bytes in *bytes.
static float *
s_weights (size_t rows, size_t cols, xinf_dtype_t dtype, uint64_t *state, void **bytes)
{
    float *values = test_floats (rows * cols, state);
    *bytes = NULL;
    if (dtype == XINF_DTYPE_F32)
        return values;
    *bytes = malloc (rows * xinf_dtype_row_bytes (dtype, cols));
    xinf_dtype_from_f32 (dtype, values, rows * cols, *bytes);
    xinf_dtype_to_f32 (dtype, *bytes, rows * cols, values);
    return values;
}

static void
s_experts_make (s_experts_t *self, size_t n_experts, size_t k, size_t ffn, size_t dim, xinf_dtype_t dtype,
                bool normalize, bool oai, uint64_t seed)
{
    uint64_t state = seed;
    memset (self, 0, sizeof *self);
    self->n_experts = n_experts, self->k = k, self->ffn = ffn, self->dim = dim, self->dtype = dtype;
    void *unused;
    self->router = s_weights (n_experts, dim, XINF_DTYPE_F32, &state, &unused);
    for (size_t i = 0; i < n_experts * dim; i++)
        self->router [i] *= 4;        //  probabilities that differ
    self->gate = s_weights (n_experts * ffn, dim, dtype, &state, &self->gate_q);
    self->up = s_weights (n_experts * ffn, dim, dtype, &state, &self->up_q);
    self->down = s_weights (n_experts * dim, ffn, dtype, &state, &self->down_q);
    self->router_m = (xinf_matrix_t) { XINF_DTYPE_F32, self->router, n_experts, dim };
    self->gate_m = calloc (n_experts, sizeof (xinf_matrix_t));
    self->up_m = calloc (n_experts, sizeof (xinf_matrix_t));
    self->down_m = calloc (n_experts, sizeof (xinf_matrix_t));
    size_t up_row = xinf_dtype_row_bytes (dtype, dim), down_row = xinf_dtype_row_bytes (dtype, ffn);
    for (size_t e = 0; e < n_experts; e++) {
        const char *g = dtype != XINF_DTYPE_F32 ? self->gate_q : (const void *) self->gate;
        const char *u = dtype != XINF_DTYPE_F32 ? self->up_q : (const void *) self->up;
        const char *d = dtype != XINF_DTYPE_F32 ? self->down_q : (const void *) self->down;
        self->gate_m [e] = (xinf_matrix_t) { dtype, g + e * ffn * up_row, ffn, dim };
        self->up_m [e] = (xinf_matrix_t) { dtype, u + e * ffn * up_row, ffn, dim };
        self->down_m [e] = (xinf_matrix_t) { dtype, d + e * dim * down_row, dim, ffn };
    }
    self->moe = (xinf_moe_t) { .router = &self->router_m, .gate = self->gate_m, .up = self->up_m,
                               .down = self->down_m, .n_experts = n_experts, .k = k, .ffn = ffn, .dim = dim,
                               .normalize = normalize };
    if (!oai)
        return;
    //  Biases large enough that some gates and ups pass the clamp of 7
    size_t count = n_experts + 2 * n_experts * ffn + n_experts * dim;
    self->biases = test_floats (count, &state);
    for (size_t i = n_experts; i < n_experts + 2 * n_experts * ffn; i++)
        self->biases [i] *= 9;
    self->moe.router_bias = self->biases;
    self->moe.gate_bias = self->biases + n_experts;
    self->moe.up_bias = self->moe.gate_bias + n_experts * ffn;
    self->moe.down_bias = self->moe.up_bias + n_experts * ffn;
    self->moe.weight_softmax = self->moe.swiglu_oai = true;
}

//  A shared expert of width ffn in Q8_0 (gated: with a router vector).
static void
s_experts_share (s_experts_t *self, size_t ffn, bool gated, uint64_t seed)
{
    uint64_t state = seed;
    size_t dim = self->dim, rows [3] = { ffn, ffn, dim }, cols [3] = { dim, dim, ffn };
    for (int which = 0; which < 3; which++) {
        self->shared [which] = s_weights (rows [which], cols [which], XINF_DTYPE_Q8_0, &state,
                                          &self->shared_q [which]);
        self->shared_m [which] = (xinf_matrix_t) { XINF_DTYPE_Q8_0, self->shared_q [which], rows [which],
                                                   cols [which] };
    }
    self->shared [3] = gated ? test_floats (dim, &state) : NULL;
    for (size_t i = 0; gated && i < dim; i++)
        self->shared [3][i] *= 0.3f;  //  logits of a few units: sigmoids that differ
    self->moe.shared_gate = &self->shared_m [0];
    self->moe.shared_up = &self->shared_m [1];
    self->moe.shared_down = &self->shared_m [2];
    self->moe.shared_ffn = ffn;
    self->moe.shared_router = self->shared [3];
}

static void
s_experts_free (s_experts_t *self)
{
    for (int which = 0; which < 4; which++)
        free (self->shared [which]);
    for (int which = 0; which < 3; which++)
        free (self->shared_q [which]);
    free (self->router), free (self->gate), free (self->up), free (self->down);
    free (self->gate_q), free (self->up_q), free (self->down_q);
    free (self->gate_m), free (self->up_m), free (self->down_m), free (self->biases);
}

//  An expert's activation of its gate and up outputs.
static double
s_activate (const xinf_moe_t *moe, double g, double u)
{
    if (!moe->swiglu_oai)
        return g / (1 + exp (-g)) * u;
    g = g > 7 ? 7 : g;
    u = u > 7 ? 7 : u < -7 ? -7 : u;
    return g / (1 + exp (-1.702 * g)) * (u + 1);
}

//  The shared expert's output of one token added to y.
static void
s_reference_shared (const s_experts_t *self, const float *x, double *y)
{
    size_t dim = self->dim, ffn = self->moe.shared_ffn;
    double *h = malloc ((ffn + 1) * sizeof (double)), logit = 0;
    for (size_t f = 0; f < ffn; f++) {
        double g = 0, u = 0;
        for (size_t i = 0; i < dim; i++) {
            g += (double) self->shared [0][f * dim + i] * x [i];
            u += (double) self->shared [1][f * dim + i] * x [i];
        }
        h [f] = g / (1 + exp (-g)) * u;
    }
    for (size_t i = 0; self->shared [3] && i < dim; i++)
        logit += (double) self->shared [3][i] * x [i];
    double weight = self->shared [3] ? 1 / (1 + exp (-logit)) : 1;
    for (size_t d = 0; d < dim; d++) {
        double acc = 0;
        for (size_t f = 0; f < ffn; f++)
            acc += (double) self->shared [2][d * ffn + f] * h [f];
        y [d] += weight * acc;
    }
    free (h);
}

//  DeepSeek V3's groups: the experts of the groups not among the
//  groups_used of the highest sums of their two highest keys marked taken
//  (never chosen).
static void
s_reference_groups (const s_experts_t *self, const double *keys, bool *taken)
{
    size_t groups = self->moe.groups, per = groups > 1 ? self->n_experts / groups : 0;
    double scores [64];
    bool used [64] = { false };
    for (size_t g = 0; g < groups && per; g++) {
        double first = -INFINITY, second = -INFINITY;
        for (size_t e = g * per; e < (g + 1) * per; e++)
            if (keys [e] > first)
                second = first, first = keys [e];
            else
            if (keys [e] > second)
                second = keys [e];
        scores [g] = first + second;
    }
    for (size_t pass = 0; pass < self->moe.groups_used && per; pass++) {
        size_t best = groups;
        for (size_t g = 0; g < groups; g++)
            if (!used [g] && (best == groups || scores [g] > scores [best]))
                best = g;
        used [best] = true;
    }
    for (size_t e = 0; per && e < self->n_experts; e++)
        taken [e] = !used [e / per];
}

//  The reference output of one token.
static void
s_reference (const s_experts_t *self, const float *x, double *y)
{
    size_t E = self->n_experts, dim = self->dim, ffn = self->ffn;
    double probs [64], top = -INFINITY, sum = 0;
    for (size_t e = 0; e < E; e++) {
        probs [e] = 0;
        for (size_t i = 0; i < dim; i++)
            probs [e] += (double) self->router [e * dim + i] * x [i];
        probs [e] += self->moe.router_bias ? self->moe.router_bias [e] : 0;
        top = probs [e] > top ? probs [e] : top;
    }
    //  GPT-OSS: the logits chosen from, the softmax of the chosen ones their weights; GLM-4.5: sigmoids,
    //  chosen by them plus the selection bias
    for (size_t e = 0; e < E && !self->moe.weight_softmax; e++)
        sum += probs [e] = self->moe.sigmoid ? 1 / (1 + exp (-probs [e])) : exp (probs [e] - top);
    sum = self->moe.sigmoid ? 1 : sum;
    double keys [64];
    for (size_t e = 0; e < E; e++)
        keys [e] = probs [e] + (self->moe.selection_bias ? self->moe.selection_bias [e] : 0);
    bool taken [64] = { false };
    s_reference_groups (self, keys, taken);
    size_t chosen [64];
    double weights [64], total = 0;
    for (size_t slot = 0; slot < self->k; slot++) {
        size_t best = E;
        for (size_t e = 0; e < E; e++)
            if (!taken [e] && (best == E || keys [e] > keys [best]))
                best = e;
        taken [best] = true;
        chosen [slot] = best;
        total += weights [slot] = self->moe.weight_softmax ? exp (probs [best] - top) : probs [best] / sum;
    }
    for (size_t slot = 0; slot < self->k && self->moe.weight_softmax; slot++)
        weights [slot] /= total;
    total = self->moe.weight_softmax ? 1 : total;
    memset (y, 0, dim * sizeof (double));
    double *h = malloc (ffn * sizeof (double));
    for (size_t slot = 0; slot < self->k; slot++) {
        size_t e = chosen [slot];
        double w = self->moe.normalize ? weights [slot] / (total < 6.103515625e-5 ? 6.103515625e-5 : total)
                                       : weights [slot];
        w *= self->moe.weight_scale ? self->moe.weight_scale : 1;
        for (size_t f = 0; f < ffn; f++) {
            double g = 0, u = 0;
            for (size_t i = 0; i < dim; i++) {
                g += (double) self->gate [(e * ffn + f) * dim + i] * x [i];
                u += (double) self->up [(e * ffn + f) * dim + i] * x [i];
            }
            g += self->moe.gate_bias ? self->moe.gate_bias [e * ffn + f] : 0;
            u += self->moe.up_bias ? self->moe.up_bias [e * ffn + f] : 0;
            h [f] = s_activate (&self->moe, g, u);
        }
        for (size_t d = 0; d < dim; d++) {
            double acc = self->moe.down_bias ? self->moe.down_bias [e * dim + d] : 0;
            for (size_t f = 0; f < ffn; f++)
                acc += (double) self->down [(e * dim + d) * ffn + f] * h [f];
            y [d] += w * acc;
        }
    }
    free (h);
    s_reference_shared (self, x, y);
}

//  shared: a shared expert's width (0: none), gated where 'gated'.
static void
s_case_shared (size_t n_experts, size_t k, size_t ffn, size_t dim, xinf_dtype_t dtype, bool normalize, bool oai,
               size_t n, size_t shared, bool gated)
{
    s_experts_t experts;
    s_experts_make (&experts, n_experts, k, ffn, dim, dtype, normalize, oai, n_experts * 131 + k * 17 + n);
    if (shared)
        s_experts_share (&experts, shared, gated, shared * 3 + n);
    uint64_t state = n * 7 + dim;
    float *x = test_floats (n * dim, &state), *y = malloc (n * dim * 4), *alone = malloc (dim * 4);
    double *expected = malloc (dim * sizeof (double));
    xinf_backend_t *backends [2] = { xinf_cpu_backend_new (1), xinf_cpu_backend_new (3) };
    CHECK (backends [0] && backends [1]);
    for (int b = 0; b < 2; b++) {
        xinf_backend_t *be = backends [b];
        CHECK (be->ops->moe (be, &experts.moe, x, y, n) == 0);
        for (size_t t = 0; t < n; t++) {
            s_reference (&experts, x + t * dim, expected);
            //  Q8_0 and MXFP4 products quantize their activations (16 and 15 bits a value in blocks of 32)
            //  GPT-OSS's form: activations up to 7 x 8 before the down product's sums cancel, and
            //  quantized to 15 bits a block of 32 (steps of 56 / 16383) before it where the experts are
            double tolerance = dtype != XINF_DTYPE_F32 || shared ? (oai ? 2e-2 : 3e-3) : oai ? 2e-4 : 2e-5;
            for (size_t d = 0; d < dim; d++)
                CHECK_NEAR (y [t * dim + d], expected [d], tolerance * (1 + fabs (expected [d])));
            CHECK (be->ops->moe (be, &experts.moe, x + t * dim, alone, 1) == 0);
            CHECK (memcmp (alone, y + t * dim, dim * 4) == 0);
        }
    }
    for (int b = 0; b < 2; b++)
        xinf_backend_destroy (&backends [b]);
    free (x), free (y), free (alone), free (expected);
    s_experts_free (&experts);
}

//  s_case_shared without a shared expert.
static void
s_case (size_t n_experts, size_t k, size_t ffn, size_t dim, xinf_dtype_t dtype, bool normalize, bool oai, size_t n)
{
    s_case_shared (n_experts, k, ffn, dim, dtype, normalize, oai, n, 0, false);
}

//  The op on n tokens (2 threads) into y, against the reference within
//  3e-3 (the routing tests' activations).
static void
s_run_checked (const s_experts_t *experts, const float *x, float *y, size_t n)
{
    size_t dim = experts->dim;
    double *expected = malloc (dim * sizeof (double));
    xinf_backend_t *be = xinf_cpu_backend_new (2);
    CHECK (be->ops->moe (be, &experts->moe, x, y, n) == 0);
    for (size_t t = 0; t < n; t++) {
        s_reference (experts, x + t * dim, expected);
        for (size_t d = 0; d < dim; d++)
            CHECK_NEAR (y [t * dim + d], expected [d], 3e-3 * (1 + fabs (expected [d])));
    }
    xinf_backend_destroy (&be);
    free (expected);
}

//  How many outputs of the op, run again as the experts now say, differ
//  from y's.
static size_t
s_moved (const s_experts_t *experts, const float *x, const float *y, size_t n)
{
    size_t count = n * experts->dim, moved = 0;
    float *again = malloc (count * sizeof (float));
    xinf_backend_t *be = xinf_cpu_backend_new (2);
    CHECK (be->ops->moe (be, &experts->moe, x, again, n) == 0);
    for (size_t i = 0; i < count; i++)
        moved += again [i] != y [i];
    xinf_backend_destroy (&be);
    free (again);
    return moved;
}

//  GLM-4.5's routing: sigmoids chosen by them plus a selection bias that
//  overturns some choices (its weights the unbiased sigmoids), normalized
//  and scaled, with a shared expert of two experts' width; then without
//  the bias, the normalization and the scale.
static void
test_moe_sigmoid (void)
{
    for (int variant = 0; variant < 2; variant++) {
        s_experts_t experts;
        size_t n = variant ? 5 : 23, dim = 64;
        s_experts_make (&experts, 8, 2, 32, dim, XINF_DTYPE_F32, variant == 0, false, 77 + variant);
        s_experts_share (&experts, 64, false, 78);
        for (size_t i = 0; i < 8 * dim; i++)
            experts.router [i] *= 0.05f;  //  logits of a few units: sigmoids that do not round to 1 alike
        uint64_t state = 79;
        float *bias = test_floats (8, &state), *x = test_floats (n * dim, &state), *y = malloc (n * dim * 4);
        experts.moe.sigmoid = true;
        experts.moe.selection_bias = variant ? NULL : bias;
        experts.moe.weight_scale = variant ? 0.0f : 2.5f;
        s_run_checked (&experts, x, y, n);
        //  The bias chose other experts for some token: without it the outputs move
        experts.moe.selection_bias = NULL;
        size_t moved = s_moved (&experts, x, y, n);
        CHECK (variant ? moved == 0 : moved > 0);
        free (bias), free (x), free (y);
        s_experts_free (&experts);
    }
}

//  DeepSeek V3's groups: 16 experts in 4 groups, 2 of them used, 3 experts
//  a token, under sigmoids with a selection bias and under a softmax; a
//  token's experts all come from its best groups, and the groups change
//  some choices (without them the outputs move). Groups that do not hold
//  are refused.
static void
test_moe_groups (void)
{
    for (int variant = 0; variant < 2; variant++) {
        s_experts_t experts;
        size_t n = 19, dim = 32;
        s_experts_make (&experts, 16, 3, 16, dim, XINF_DTYPE_F32, variant == 0, false, 91 + variant);
        uint64_t state = 93;
        float *bias = test_floats (16, &state), *x = test_floats (n * dim, &state), *y = malloc (n * dim * 4);
        experts.moe.sigmoid = variant == 0;
        experts.moe.selection_bias = variant == 0 ? bias : NULL;
        experts.moe.weight_scale = variant == 0 ? 2.5f : 16.0f;
        experts.moe.groups = 4, experts.moe.groups_used = 2;
        s_run_checked (&experts, x, y, n);
        experts.moe.groups = 0;
        CHECK (s_moved (&experts, x, y, n) > 0);
        //  Refused: groups that do not divide the experts, none used, all used, k more than they hold
        xinf_backend_t *be = xinf_cpu_backend_new (1);
        size_t bad [4][2] = { { 5, 2 }, { 4, 0 }, { 4, 4 }, { 8, 1 } };
        for (int b = 0; b < 4; b++) {
            experts.moe.groups = bad [b][0], experts.moe.groups_used = bad [b][1];
            CHECK (be->ops->moe (be, &experts.moe, x, y, n) == -1);
        }
        xinf_backend_destroy (&be);
        free (bias), free (x), free (y);
        s_experts_free (&experts);
    }
}

static void
test_moe (void)
{
    s_case (8, 2, 32, 64, XINF_DTYPE_F32, true, false, 1);          //  a decode step
    s_case (8, 2, 32, 64, XINF_DTYPE_F32, true, false, 37);         //  a prompt: experts of different rows
    s_case (6, 3, 64, 32, XINF_DTYPE_Q8_0, true, false, 20);
    s_case (5, 5, 16, 24, XINF_DTYPE_F32, false, false, 9);         //  every expert, weights as they are
    s_case (32, 8, 32, 64, XINF_DTYPE_Q8_0, true, false, 16);       //  more experts than a group
    s_case (8, 2, 32, 64, XINF_DTYPE_F32, false, true, 1);          //  GPT-OSS's form
    s_case (8, 4, 32, 64, XINF_DTYPE_F32, false, true, 37);
    s_case (32, 4, 64, 96, XINF_DTYPE_MXFP4, false, true, 20);      //  and its experts' type
    s_case (6, 3, 64, 32, XINF_DTYPE_MXFP4, true, false, 5);
    s_case_shared (8, 2, 32, 64, XINF_DTYPE_F32, false, false, 1, 96, true);     //  Qwen2-MoE's shared expert
    s_case_shared (8, 2, 32, 64, XINF_DTYPE_Q8_0, false, false, 37, 64, true);
    s_case_shared (6, 2, 32, 64, XINF_DTYPE_F32, true, false, 9, 32, false);     //  granitemoeshared's
    s_case_shared (8, 4, 32, 64, XINF_DTYPE_F32, true, false, 1, 64, true);      //  a full group, then the shared
    test_moe_sigmoid ();
    test_moe_groups ();
}

//  Equal router rows: the lower ids win; bad shapes are refused.
static void
test_moe_edges (void)
{
    s_experts_t experts;
    s_experts_make (&experts, 4, 2, 8, 8, XINF_DTYPE_F32, true, false, 3);
    for (size_t i = 0; i < 4 * 8; i++)
        experts.router [i] = 0;       //  all probabilities equal: experts 0 and 1
    uint64_t state = 5;
    float *x = test_floats (8, &state), y [8];
    double expected [8];
    xinf_backend_t *be = xinf_cpu_backend_new (1);
    CHECK (be->ops->moe (be, &experts.moe, x, y, 1) == 0);
    s_reference (&experts, x, expected);
    for (size_t d = 0; d < 8; d++)
        CHECK_NEAR (y [d], expected [d], 1e-5);
    experts.moe.k = 5;                //  more than there are
    CHECK (be->ops->moe (be, &experts.moe, x, y, 1) == -1);
    experts.moe.k = 2;
    experts.moe.shared_ffn = 8;       //  a shared expert without its matrices
    CHECK (be->ops->moe (be, &experts.moe, x, y, 1) == -1);
    experts.moe.shared_ffn = 0;
    experts.gate_m [3].rows = 7;      //  an expert of another width
    CHECK (be->ops->moe (be, &experts.moe, x, y, 1) == -1);
    char error [160] = "";
    CHECK (be->ops->status (be, error, sizeof error) == -1 && strstr (error, "experts"));
    xinf_backend_destroy (&be);
    free (x);
    s_experts_free (&experts);
}

int
main (void)
{
    fprintf (stderr, "test_moe:\n");
    RUN (test_moe);
    RUN (test_moe_edges);
    return 0;
}
