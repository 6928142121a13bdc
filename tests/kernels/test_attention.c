/*  test_attention: attention over a KV cache against a naive double
    implementation, with GQA, padded cache rows, 1..3 threads (bit for bit)
    and SIMD against portable code.  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"

static void
s_naive (const float *q, const float *k, const float *v, size_t n_heads, size_t n_kv_heads, size_t head_dim,
         size_t n_pos, size_t kv_stride, double *out)
{
    double *scores = malloc (n_pos * sizeof (double));
    for (size_t h = 0; h < n_heads; h++) {
        size_t kvh = h / (n_heads / n_kv_heads);
        double top = -INFINITY, sum = 0;
        for (size_t p = 0; p < n_pos; p++) {
            double dot = 0;
            for (size_t i = 0; i < head_dim; i++)
                dot += (double) q [h * head_dim + i] * k [p * kv_stride + kvh * head_dim + i];
            scores [p] = dot / sqrt ((double) head_dim);
            top = scores [p] > top ? scores [p] : top;
        }
        for (size_t p = 0; p < n_pos; p++)
            sum += scores [p] = exp (scores [p] - top);
        for (size_t i = 0; i < head_dim; i++) {
            double acc = 0;
            for (size_t p = 0; p < n_pos; p++)
                acc += scores [p] / sum * v [p * kv_stride + kvh * head_dim + i];
            out [h * head_dim + i] = acc;
        }
    }
    free (scores);
}

static void
s_case (size_t n_heads, size_t n_kv_heads, size_t head_dim, size_t n_pos, size_t pad, xinf_threadpool_t **pools)
{
    size_t kv_stride = n_kv_heads * head_dim + pad;
    uint64_t state = n_heads * 100 + n_kv_heads * 10 + n_pos;
    float *q = test_floats (n_heads * head_dim, &state);
    float *k = test_floats (n_pos * kv_stride, &state), *v = test_floats (n_pos * kv_stride, &state);
    for (size_t i = 0; i < n_heads * head_dim; i++)
        q [i] *= 4;                  //  peaky enough to matter
    double *expected = malloc (n_heads * head_dim * sizeof (double));
    s_naive (q, k, v, n_heads, n_kv_heads, head_dim, n_pos, kv_stride, expected);
    float *scratch = malloc (xinf_cpu_attention_scratch (n_heads, n_pos) * sizeof (float));
    float *first = malloc (n_heads * head_dim * 4), *out = malloc (n_heads * head_dim * 4);
    for (int simd = 0; simd < 2; simd++) {
        xinf_cpu_simd_set (simd);
        xinf_cpu_attention (NULL, q, k, v, n_heads, n_kv_heads, head_dim, n_pos, kv_stride, first, scratch);
        for (size_t i = 0; i < n_heads * head_dim; i++)
            CHECK_NEAR (first [i], expected [i], 1e-5);
        for (int p = 0; p < 3; p++) {
            xinf_cpu_attention (pools [p], q, k, v, n_heads, n_kv_heads, head_dim, n_pos, kv_stride, out, scratch);
            CHECK (memcmp (out, first, n_heads * head_dim * 4) == 0);
        }
    }
    free (q), free (k), free (v), free (expected), free (scratch), free (first), free (out);
}

static void
test_attention (void)
{
    xinf_threadpool_t *pools [3];
    for (int p = 0; p < 3; p++)
        pools [p] = xinf_threadpool_new (p + 1);
    s_case (1, 1, 8, 1, 0, pools);              //  one position: out = v
    s_case (4, 4, 16, 5, 0, pools);             //  MHA
    s_case (14, 2, 64, 37, 0, pools);           //  qwen2.5-0.5B GQA
    s_case (8, 2, 12, 100, 3, pools);           //  padded cache rows
    s_case (6, 3, 7, 9, 1, pools);              //  odd head_dim
    s_case (32, 8, 128, 300, 0, pools);
    for (int p = 0; p < 3; p++)
        xinf_threadpool_destroy (&pools [p]);
}

//  With one position the output is that position's value row.
static void
test_single_position (void)
{
    float q [8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, k [4] = { 1, 1, 1, 1 }, v [4] = { 9, 8, 7, 6 }, out [8], scratch [2];
    xinf_cpu_attention (NULL, q, k, v, 2, 1, 4, 1, 4, out, scratch);
    for (int i = 0; i < 8; i++)
        CHECK (out [i] == v [i % 4]);
}

int
main (void)
{
    fprintf (stderr, "test_attention:\n");
    RUN (test_attention);
    RUN (test_single_position);
    return 0;
}
