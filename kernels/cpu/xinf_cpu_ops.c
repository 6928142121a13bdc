/*  xinf_cpu_ops: the element-wise kernels (RMSNorm, RoPE, softmax, SiLU,
    adds, row conversion) and attention over a KV cache.

    Norm and softmax sums run in double: cheap at these sizes and the same
    result for any SIMD choice. Attention gives each query head to one
    thread: scores, softmax, then the weighted sum of values.
*/
#include "xinf_cpu_ops.h"
#include "xinf_cpu_kern.h"
#include "xinf_cpu_qk.h"

#include <assert.h>
#include <math.h>
#include <string.h>

void
xinf_cpu_rmsnorm (float *out, const float *x, const float *weight, size_t n, float eps)
{
    double squares = 0;
    for (size_t i = 0; i < n; i++)
        squares += (double) x [i] * x [i];
    float scale = (float) (1.0 / sqrt (squares / (double) (n ? n : 1) + eps));
    for (size_t i = 0; i < n; i++)
        out [i] = weight ? x [i] * scale * weight [i] : x [i] * scale;
}

//  Up to this many pairs a head use a table on the stack.
#define ROPE_TABLE 256

//  Rotates the pairs (lo [i * step], hi [i * step]) by the table's angles.
static void
s_rope_pairs (float *lo, float *hi, size_t step, size_t count, const float *cosines, const float *sines)
{
    for (size_t i = 0; i < count; i++) {
        float x0 = lo [i * step], x1 = hi [i * step];
        lo [i * step] = x0 * cosines [i] - x1 * sines [i];
        hi [i * step] = x0 * sines [i] + x1 * cosines [i];
    }
}

void
xinf_cpu_rope (float *vec, size_t n_heads, size_t head_dim, size_t pos, const xinf_rope_t *rope)
{
    size_t turned = rope->dims && rope->dims < head_dim ? rope->dims : head_dim;     //  partial rotary
    assert (turned % 2 == 0);
    size_t half = turned / 2;
    float cosines [ROPE_TABLE], sines [ROPE_TABLE];
    for (size_t start = 0; start < half; start += ROPE_TABLE) {
        size_t count = half - start < ROPE_TABLE ? half - start : ROPE_TABLE;
        for (size_t i = 0; i < count; i++) {
            double theta = (double) pos * rope->scale * pow (rope->base, -2.0 * (double) (start + i) / (double) turned);
            if (rope->factors)
                theta /= rope->factors [start + i];
            cosines [i] = (float) (cos (theta) * rope->mscale);
            sines [i] = (float) (sin (theta) * rope->mscale);
        }
        for (size_t h = 0; h < n_heads; h++) {
            float *head = vec + h * head_dim;
            if (rope->neox)
                s_rope_pairs (head + start, head + half + start, 1, count, cosines, sines);
            else
                s_rope_pairs (head + 2 * start, head + 2 * start + 1, 2, count, cosines, sines);
        }
    }
}

//  e^(x - top) of n floats in place, as the kernel set computes it.
static void
s_exp_shift (float *x, size_t n, float top)
{
#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)
    if (xinf_cpu_kern () != &xinf_cpu_kern_portable)
        xinf_cpu_exp_shift_avx2 (x, n, top);
    else
#endif
        xinf_cpu_exp_shift_portable (x, n, top);
}

//  softmax of x, with a sink (NULL: none) among the logits when given.
static void
s_softmax (float *x, size_t n, const float *sink)
{
    if (n == 0)
        return;
    float top = sink && *sink > x [0] ? *sink : x [0];
    for (size_t i = 1; i < n; i++)
        if (x [i] > top)
            top = x [i];
    s_exp_shift (x, n, top);
    //  Four sums, in a fixed order: the same whatever the threads
    double sums [4] = { 0, 0, 0, 0 };
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int lane = 0; lane < 4; lane++)
            sums [lane] += x [i + lane];
    for (; i < n; i++)
        sums [0] += x [i];
    if (sink) {
        float weight = *sink;
        s_exp_shift (&weight, 1, top);
        sums [0] += weight;
    }
    float scale = (float) (1.0 / ((sums [0] + sums [1]) + (sums [2] + sums [3])));
    for (i = 0; i < n; i++)
        x [i] *= scale;
}

void
xinf_cpu_softmax (float *x, size_t n)
{
    s_softmax (x, n, NULL);
}

void
xinf_cpu_softmax_sink (float *x, size_t n, float sink)
{
    s_softmax (x, n, &sink);
}

void
xinf_cpu_silu_mul (float *gate, const float *up, size_t n)
{
#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)
    if (xinf_cpu_kern () != &xinf_cpu_kern_portable) {
        xinf_cpu_silu_mul_avx2 (gate, up, n);
        return;
    }
#endif
    xinf_cpu_silu_mul_portable (gate, up, n);
}

void
xinf_cpu_gelu_mul (float *gate, const float *up, size_t n)
{
#if defined (__x86_64__) && defined (__GNUC__) && !defined (XINF_CPU_NO_SIMD)
    if (xinf_cpu_kern () != &xinf_cpu_kern_portable) {
        xinf_cpu_gelu_mul_avx2 (gate, up, n);
        return;
    }
#endif
    xinf_cpu_gelu_mul_portable (gate, up, n);
}

void
xinf_cpu_add (float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y [i] += x [i];
}

void
xinf_cpu_row_to_f32 (xinf_dtype_t dtype, const void *row, size_t cols, float *out)
{
    if (xinf_dtype_is_quant (dtype))
        xinf_cpu_qk_kern (xinf_cpu_kern ())->to_f32 (dtype, row, cols, out);
    else
        xinf_cpu_kern ()->to_f32 (dtype, row, cols, out);
}

//  ---- attention -------------------------------------------------------------

typedef struct {
    const xinf_cpu_kern_t *kern;
    const float *q, *k_cache, *v_cache;
    size_t group, head_dim, n_pos, kv_stride;
    float scale;
    float *out, *scratch;
} s_attention_t;

static void
s_attention_head (void *arg, size_t head, int thread)
{
    s_attention_t *job = arg;
    size_t offset = head / job->group * job->head_dim;
    const float *q = job->q + head * job->head_dim;
    float *scores = job->scratch + head * job->n_pos;
    float *out = job->out + head * job->head_dim;
    for (size_t p = 0; p < job->n_pos; p++)
        scores [p] = job->kern->dot (q, job->k_cache + p * job->kv_stride + offset, job->head_dim) * job->scale;
    xinf_cpu_softmax (scores, job->n_pos);
    memset (out, 0, job->head_dim * sizeof (float));
    for (size_t p = 0; p < job->n_pos; p++)
        job->kern->axpy (out, scores [p], job->v_cache + p * job->kv_stride + offset, job->head_dim);
}

void
xinf_cpu_attention (xinf_threadpool_t *pool, const float *q, const float *k_cache, const float *v_cache,
                    size_t n_heads, size_t n_kv_heads, size_t head_dim, size_t n_pos, size_t kv_stride,
                    float *out, float *scratch)
{
    assert (n_kv_heads > 0 && n_heads % n_kv_heads == 0);
    s_attention_t job = { xinf_cpu_kern (), q, k_cache, v_cache, n_heads / n_kv_heads, head_dim, n_pos,
                          kv_stride, (float) (1.0 / sqrt ((double) head_dim)), out, scratch };
    xinf_threadpool_run (pool, n_heads, s_attention_head, &job);
}
