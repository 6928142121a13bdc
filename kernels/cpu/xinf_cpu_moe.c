/*  xinf_cpu_moe: a mixture-of-experts feed-forward on the CPU.  */
#include "xinf_cpu_moe.h"
#include "xinf_cpu_ops.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_GROUP 8                     //  products of one project call at most (the CPU's one-pass matvecs)
#define S_CHUNK_FLOATS (1u << 24)     //  a chunk of tokens' gathered rows at most (and at least one token)
#define S_WEIGHT_FLOOR 6.103515625e-5f    //  the smallest normal half: a sum below it is clamped
#define S_OAI_ALPHA 1.702f            //  GPT-OSS's swiglu: the sigmoid's slope
#define S_OAI_LIMIT 7.0f              //  and the clamp of gate and up

//  The pass's layout in the scratch: per token its router probabilities,
//  per (token, slot) its expert and weight; per expert its first row and
//  rows; the gathered rows by expert: inputs, gate, up and down outputs;
//  the shared expert's outputs of every token.
typedef struct {
    float *probs;                     //  [n][n_experts]
    int32_t *chosen;                  //  [n][k] expert ids
    int32_t *order;                   //  [n_experts] the top-k selection's work
    float *weights;                   //  [n][k]
    int32_t *first, *count;           //  [n_experts]
    int32_t *slots;                   //  [n * k] the rows' (token, slot), token x k + slot, by expert then token
    float *xs, *gates, *ups, *downs;  //  [n * k][dim], [n * k][ffn] x 2, [n * k][dim]
    float *shared_gates, *shared_ups, *shared_downs;      //  [n][shared_ffn] x 2, [n][dim]
} s_layout_t;

void
xinf_cpu_moe_scratch_free (xinf_cpu_moe_scratch_t *scratch)
{
    free (scratch->floats);
    free (scratch->ints);
    memset (scratch, 0, sizeof *scratch);
}

//  'array' of *have elements of 'size' bytes, or grown to 'want' of them
//  (*have then says so); NULL when out of memory (array stays as it was).
static void *
s_room (void *array, size_t *have, size_t want, size_t size)
{
    if (want <= *have)
        return array;
    void *grown = realloc (array, want * size);
    if (grown)
        *have = want;
    return grown;
}

//  Carves the layout out of the scratch (grown); false when out of memory.
static bool
s_layout (xinf_cpu_moe_scratch_t *scratch, const xinf_moe_t *moe, size_t n, s_layout_t *at)
{
    size_t rows = n * moe->k;
    size_t floats = n * moe->n_experts + n * moe->k + rows * (2 * moe->dim + 2 * moe->ffn)
                  + n * (2 * moe->shared_ffn + moe->dim);
    size_t ints = n * moe->k + 3 * moe->n_experts + rows;
    float *f = s_room (scratch->floats, &scratch->n_floats, floats, sizeof (float));
    if (f)
        scratch->floats = f;
    int32_t *i = f ? s_room (scratch->ints, &scratch->n_ints, ints, sizeof (int32_t)) : NULL;
    if (i)
        scratch->ints = i;
    if (!f || !i)
        return false;
    at->probs = f, f += n * moe->n_experts;
    at->weights = f, f += n * moe->k;
    at->xs = f, f += rows * moe->dim;
    at->gates = f, f += rows * moe->ffn;
    at->ups = f, f += rows * moe->ffn;
    at->downs = f, f += rows * moe->dim;
    at->shared_gates = f, f += n * moe->shared_ffn;
    at->shared_ups = f, f += n * moe->shared_ffn;
    at->shared_downs = f;
    at->chosen = i, i += n * moe->k;
    at->order = i, i += moe->n_experts;
    at->first = i, i += moe->n_experts;
    at->count = i, i += moe->n_experts;
    at->slots = i;
    return true;
}

//  What expert e is chosen by: its probability, plus its selection bias
//  where the routing has one.
static float
s_key (const xinf_moe_t *moe, const float *probs, int32_t e)
{
    return moe->selection_bias ? probs [e] + moe->selection_bias [e] : probs [e];
}

//  Whether key p wins over key q: the higher, NaN never over a number.
static bool
s_beats (float p, float q)
{
    return p > q || (q != q && p == p);
}

//  A group's score (DeepSeek V3's): the sum of its two highest keys.
static float
s_group_score (const xinf_moe_t *moe, const float *probs, size_t group)
{
    size_t per = moe->n_experts / moe->groups;
    float first = -INFINITY, second = -INFINITY;
    for (size_t e = group * per; e < (group + 1) * per; e++) {
        float key = s_key (moe, probs, (int32_t) e);
        if (s_beats (key, first)) {
            second = first;
            first = key;
        }
        else
        if (s_beats (key, second))
            second = key;
    }
    return first + second;
}

//  The experts a token may go to into 'order' (ascending ids), their
//  count returned: all of them; with groups, those of the groups_used
//  groups of the highest scores (the lower group first among equals).
static size_t
s_allowed (const xinf_moe_t *moe, const float *probs, int32_t *order)
{
    if (moe->groups < 2) {
        for (size_t e = 0; e < moe->n_experts; e++)
            order [e] = (int32_t) e;
        return moe->n_experts;
    }
    float scores [XINF_MOE_MAX_GROUPS];
    bool taken [XINF_MOE_MAX_GROUPS] = { false };
    for (size_t g = 0; g < moe->groups; g++)
        scores [g] = s_group_score (moe, probs, g);
    for (size_t pass = 0; pass < moe->groups_used; pass++) {
        size_t best = moe->groups;
        for (size_t g = 0; g < moe->groups; g++)
            if (!taken [g] && (best == moe->groups || s_beats (scores [g], scores [best])))
                best = g;
        taken [best] = true;
    }
    size_t per = moe->n_experts / moe->groups, count = 0;
    for (size_t g = 0; g < moe->groups; g++)
        for (size_t e = g * per; taken [g] && e < (g + 1) * per; e++)
            order [count++] = (int32_t) e;
    return count;
}

//  A token's k experts: the highest keys of those allowed, the lower id
//  first among equals (a selection over 'order', k passes of the experts
//  left); their weights (the probabilities), divided by their sum where
//  asked, scaled where asked.
static void
s_choose (const xinf_moe_t *moe, const float *probs, int32_t *order, int32_t *chosen, float *weights)
{
    size_t allowed = s_allowed (moe, probs, order);
    for (size_t slot = 0; slot < moe->k; slot++) {
        size_t best = slot;
        for (size_t at = slot + 1; at < allowed; at++) {
            float p = s_key (moe, probs, order [at]), q = s_key (moe, probs, order [best]);
            if (p > q || (p == q && order [at] < order [best]) || (q != q && p == p))
                best = at;            //  NaN never wins over a number
        }
        int32_t swap = order [slot];
        order [slot] = order [best];
        order [best] = swap;
        chosen [slot] = order [slot];
        weights [slot] = probs [order [slot]];
    }
    if (moe->weight_softmax)
        xinf_cpu_softmax (weights, moe->k);
    if (moe->normalize) {
        float sum = 0;
        for (size_t slot = 0; slot < moe->k; slot++)
            sum += weights [slot];
        sum = sum < S_WEIGHT_FLOOR ? S_WEIGHT_FLOOR : sum;
        for (size_t slot = 0; slot < moe->k; slot++)
            weights [slot] /= sum;
    }
    for (size_t slot = 0; moe->weight_scale != 0.0f && moe->weight_scale != 1.0f && slot < moe->k; slot++)
        weights [slot] *= moe->weight_scale;
}

//  Router logits, softmax, choices; then each expert's rows (tokens in
//  order) and the tokens' inputs gathered by expert.
static void
s_route (xinf_backend_t *be, const xinf_moe_t *moe, const float *x, size_t n, s_layout_t *at)
{
    xinf_product_t router = { moe->router, x, at->probs, moe->router_bias };
    be->ops->project (be, &router, 1, n);
    memset (at->count, 0, moe->n_experts * sizeof (int32_t));
    for (size_t token = 0; token < n; token++) {
        float *probs = at->probs + token * moe->n_experts;
        for (size_t e = 0; moe->sigmoid && e < moe->n_experts; e++)
            probs [e] = 1.0f / (1.0f + expf (-probs [e]));
        if (!moe->weight_softmax && !moe->sigmoid)
            xinf_cpu_softmax (probs, moe->n_experts);
        s_choose (moe, probs, at->order, at->chosen + token * moe->k, at->weights + token * moe->k);
        for (size_t slot = 0; slot < moe->k; slot++)
            at->count [at->chosen [token * moe->k + slot]]++;
    }
    for (size_t e = 0, row = 0; e < moe->n_experts; e++) {
        at->first [e] = (int32_t) row;
        row += (size_t) at->count [e];
        at->count [e] = 0;            //  counted again as the rows are placed
    }
    for (size_t token = 0; token < n; token++)
        for (size_t slot = 0; slot < moe->k; slot++) {
            int32_t e = at->chosen [token * moe->k + slot];
            size_t row = (size_t) (at->first [e] + at->count [e]++);
            at->slots [row] = (int32_t) (token * moe->k + slot);
            memcpy (at->xs + row * moe->dim, x + token * moe->dim, moe->dim * sizeof (float));
        }
}

//  The shared expert's product 'which' of every token.
static xinf_product_t
s_shared_product (const xinf_moe_t *moe, const s_layout_t *at, const float *x, int which)
{
    return which == 0 ? (xinf_product_t) { moe->shared_gate, x, at->shared_gates, NULL }
         : which == 1 ? (xinf_product_t) { moe->shared_up, x, at->shared_ups, NULL }
                      : (xinf_product_t) { moe->shared_down, at->shared_gates, at->shared_downs, NULL };
}

//  The experts' products 'which' (0: gate and up, 1: down), experts of as
//  many rows together (S_GROUP at most a call), in id order; then the
//  shared expert's of the n tokens x.
static void
s_products (xinf_backend_t *be, const xinf_moe_t *moe, const s_layout_t *at, const float *x, size_t n, int which)
{
    xinf_product_t group [S_GROUP];
    size_t m = 0, rows = 0, last = moe->n_experts + (moe->shared_ffn ? 1 : 0);
    for (size_t e = 0; e <= last; e++) {
        bool end = e == last, shared = e == moe->n_experts;
        size_t count = end ? 0 : shared ? n : (size_t) at->count [e];
        if (!end && !count)
            continue;                 //  an expert no token chose
        if (m && (end || count != rows || m + (which == 0 ? 2 : 1) > S_GROUP)) {
            be->ops->project (be, group, m, rows);
            m = 0;
        }
        if (end)
            break;
        rows = count;
        size_t row = shared ? 0 : (size_t) at->first [e];
        if (shared && which == 0) {
            group [m++] = s_shared_product (moe, at, x, 0);
            group [m++] = s_shared_product (moe, at, x, 1);
        }
        else if (shared)
            group [m++] = s_shared_product (moe, at, x, 2);
        else if (which == 0) {
            group [m++] = (xinf_product_t) { &moe->gate [e], at->xs + row * moe->dim, at->gates + row * moe->ffn,
                                             moe->gate_bias ? moe->gate_bias + e * moe->ffn : NULL };
            group [m++] = (xinf_product_t) { &moe->up [e], at->xs + row * moe->dim, at->ups + row * moe->ffn,
                                             moe->up_bias ? moe->up_bias + e * moe->ffn : NULL };
        }
        else
            group [m++] = (xinf_product_t) { &moe->down [e], at->gates + row * moe->ffn, at->downs + row * moe->dim,
                                             moe->down_bias ? moe->down_bias + e * moe->dim : NULL };
    }
}

//  GPT-OSS's activation (ggml's swiglu_oai): gate = min (g, limit)
//  sigmoid (alpha min (g, limit)) (clamp (u, -limit, limit) + 1); a NaN
//  gate stays NaN (min keeps its first operand when the compare fails).
static void
s_swiglu_oai (float *gate, const float *up, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        float g = S_OAI_LIMIT < gate [i] ? S_OAI_LIMIT : gate [i];
        float u = up [i] < -S_OAI_LIMIT ? -S_OAI_LIMIT : S_OAI_LIMIT < up [i] ? S_OAI_LIMIT : up [i];
        gate [i] = g / (1.0f + expf (S_OAI_ALPHA * -g)) * (u + 1.0f);
    }
}

//  The shapes the op takes: k of the experts, every matrix its size.
static bool
s_shapes_hold (const xinf_moe_t *moe)
{
    if (!moe->k || moe->k > moe->n_experts || moe->router->rows != moe->n_experts || moe->router->cols != moe->dim)
        return false;
    if (moe->groups > 1 && (moe->groups > XINF_MOE_MAX_GROUPS || moe->n_experts % moe->groups
                            || moe->n_experts / moe->groups < 2 || !moe->groups_used || moe->groups_used >= moe->groups
                            || moe->k > moe->groups_used * (moe->n_experts / moe->groups)))
        return false;
    for (size_t e = 0; e < moe->n_experts; e++)
        if (moe->gate [e].rows != moe->ffn || moe->gate [e].cols != moe->dim || moe->up [e].rows != moe->ffn
        ||  moe->up [e].cols != moe->dim || moe->down [e].rows != moe->dim || moe->down [e].cols != moe->ffn)
            return false;
    if (!moe->shared_ffn)
        return true;
    return moe->shared_gate && moe->shared_up && moe->shared_down && !moe->swiglu_oai
           && moe->shared_gate->rows == moe->shared_ffn && moe->shared_gate->cols == moe->dim
           && moe->shared_up->rows == moe->shared_ffn && moe->shared_up->cols == moe->dim
           && moe->shared_down->rows == moe->dim && moe->shared_down->cols == moe->shared_ffn;
}

//  Each token's sum: its k experts' outputs by their weights, in expert id
//  order, then the shared expert's, times the sigmoid of its router's
//  logit where it has one.
static void
s_sum (const xinf_moe_t *moe, const s_layout_t *at, const float *x, float *y, size_t n)
{
    memset (y, 0, n * moe->dim * sizeof (float));
    for (size_t row = 0; row < n * moe->k; row++) {       //  by expert: each token's sum in expert id order
        size_t slot = (size_t) at->slots [row];
        float *to = y + slot / moe->k * moe->dim, weight = at->weights [slot];
        const float *from = at->downs + row * moe->dim;
        for (size_t d = 0; d < moe->dim; d++)
            to [d] += weight * from [d];
    }
    for (size_t token = 0; moe->shared_ffn && token < n; token++) {
        float weight = 1.0f, logit = 0.0f, *to = y + token * moe->dim;
        const float *from = at->shared_downs + token * moe->dim;
        for (size_t d = 0; moe->shared_router && d < moe->dim; d++)
            logit += moe->shared_router [d] * x [token * moe->dim + d];
        if (moe->shared_router)
            weight = 1.0f / (1.0f + expf (-logit));
        for (size_t d = 0; d < moe->dim; d++)
            to [d] += weight * from [d];
    }
}

//  The op on n tokens that fit the scratch's bound.
static int
s_chunk (xinf_backend_t *be, xinf_cpu_moe_scratch_t *scratch, const xinf_moe_t *moe, const float *x, float *y,
         size_t n)
{
    s_layout_t at;
    if (!s_layout (scratch, moe, n, &at))
        return -1;
    s_route (be, moe, x, n, &at);
    s_products (be, moe, &at, x, n, 0);
    if (moe->swiglu_oai)
        s_swiglu_oai (at.gates, at.ups, n * moe->k * moe->ffn);
    else
        be->ops->silu_mul (be, at.gates, at.ups, n * moe->k * moe->ffn);
    if (moe->shared_ffn)
        be->ops->silu_mul (be, at.shared_gates, at.shared_ups, n * moe->shared_ffn);
    s_products (be, moe, &at, x, n, 1);
    s_sum (moe, &at, x, y, n);
    return 0;
}

int
xinf_cpu_moe (xinf_backend_t *be, xinf_cpu_moe_scratch_t *scratch, const xinf_moe_t *moe, const float *x,
              float *y, size_t n)
{
    if (!s_shapes_hold (moe))
        return -2;
    //  Chunks of tokens keep the scratch bounded; a token's arithmetic is the same in any chunk
    size_t per_token = moe->k * (2 * moe->dim + 2 * moe->ffn) + moe->n_experts + 2 * moe->shared_ffn + moe->dim;
    size_t chunk = S_CHUNK_FLOATS / per_token ? S_CHUNK_FLOATS / per_token : 1;
    for (size_t first = 0; first < n; first += chunk) {
        size_t count = n - first < chunk ? n - first : chunk;
        if (s_chunk (be, scratch, moe, x + first * moe->dim, y + first * moe->dim, count))
            return -1;
    }
    return 0;
}
