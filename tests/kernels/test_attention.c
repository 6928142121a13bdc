/*  test_attention: attention over a KV cache against a naive double
    implementation, with GQA, padded cache rows, 1..3 threads (bit for bit)
    and SIMD against portable code; paged attention with a sliding window
    (Gemma 3's local layers) against the same implementation on the
    window's positions; soft-capped scores (Gemma 2); attention sinks
    (GPT-OSS: a logit a head in the softmax without a value).  */
#include "test_kernels.h"
#include "xinf_cpu_ops.h"
#include "xinf_cpu_paged.h"

static double s_softcap;              //  the paged cases' soft-cap (0: none)
static const float *s_sinks;          //  the paged cases' sinks, a query head each (NULL: none)

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
            if (s_softcap > 0)
                scores [p] = s_softcap * tanh (scores [p] / s_softcap);
            top = scores [p] > top ? scores [p] : top;
        }
        top = s_sinks && s_sinks [h] > top ? s_sinks [h] : top;
        for (size_t p = 0; p < n_pos; p++)
            sum += scores [p] = exp (scores [p] - top);
        sum += s_sinks ? exp (s_sinks [h] - top) : 0;
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

//  One sequence of 'length' positions in blocks of 'block' (its table a
//  rotation of the pool's blocks), queries at its last 'n' positions:
//  paged attention with 'window' equals the naive attention over the
//  window's positions (the positions before it hold 1e30, which would
//  swamp any result that read them), is the same on 1 and 3 threads and
//  on every kernel set, and a window wider than every position is no
//  window at all, bit for bit.
static void
s_window_case (size_t n_heads, size_t n_kv_heads, size_t head_dim, size_t block, size_t length, size_t n,
               size_t window, xinf_threadpool_t **pools)
{
    size_t kv_dim = n_kv_heads * head_dim, q_dim = n_heads * head_dim;
    size_t n_blocks = (length + block - 1) / block + 1, slots = n_blocks * block;
    uint64_t state = window * 1000 + length;
    float *keys = test_floats (slots * kv_dim, &state), *values = test_floats (slots * kv_dim, &state);
    float *q = test_floats (n * q_dim, &state);
    int32_t table [64], pos [64], seq [64] = { 0 }, table_start [2] = { 0, (int32_t) (n_blocks - 1) };
    CHECK (n_blocks <= 64 && n <= 64);
    for (size_t b = 0; b + 1 < n_blocks; b++)
        table [b] = (int32_t) ((b + 1) % n_blocks);
    for (size_t i = 0; i < n; i++)
        pos [i] = (int32_t) (length - n + i);
    //  The rows of the positions no query's window reaches: poisoned
    size_t first_seen = length - n + 1 > window ? length - n + 1 - window : 0;
    for (size_t p = 0; p < first_seen; p++)
        for (size_t d = 0; d < kv_dim; d++) {
            size_t row = (size_t) table [p / block] * block + p % block;
            keys [row * kv_dim + d] = 1e30f;
            values [row * kv_dim + d] = 1e30f;
        }
    xinf_kv_pool_t pool = { keys, values, 1, n_blocks, block, kv_dim, XINF_DTYPE_F32, kv_dim * sizeof (float) };
    xinf_batch_t batch = { n, NULL, pos, seq, 1, table_start, table, 0, NULL, 0, NULL, NULL, NULL };
    size_t stride = length * (n_heads / n_kv_heads);
    float *scratch = malloc (3 * stride * sizeof (float));
    float *first = malloc (n * q_dim * 4), *out = malloc (n * q_dim * 4);
    float *k_rows = malloc (length * kv_dim * 4), *v_rows = malloc (length * kv_dim * 4);
    double *expected = malloc (q_dim * sizeof (double));
    xinf_attend_t attend = { window, (float) s_softcap, s_sinks };
    for (int simd = 0; simd < 2; simd++) {
        xinf_cpu_simd_set (simd);
        xinf_cpu_paged_attention (pools [0], &pool, 0, &batch, q, n_heads, n_kv_heads, head_dim, &attend, first, scratch,
                                  stride);
        for (size_t i = 0; i < n; i++) {
            size_t end = (size_t) pos [i] + 1, begin = window && end > window ? end - window : 0;
            for (size_t p = begin; p < end; p++) {
                size_t row = (size_t) table [p / block] * block + p % block;
                memcpy (k_rows + (p - begin) * kv_dim, keys + row * kv_dim, kv_dim * 4);
                memcpy (v_rows + (p - begin) * kv_dim, values + row * kv_dim, kv_dim * 4);
            }
            s_naive (q + i * q_dim, k_rows, v_rows, n_heads, n_kv_heads, head_dim, end - begin, kv_dim, expected);
            for (size_t d = 0; d < q_dim; d++)
                CHECK_NEAR (first [i * q_dim + d], expected [d], 1e-5);
        }
        xinf_cpu_paged_attention (pools [2], &pool, 0, &batch, q, n_heads, n_kv_heads, head_dim, &attend, out, scratch,
                                  stride);
        CHECK (memcmp (out, first, n * q_dim * 4) == 0);
        if (first_seen == 0) {
            xinf_attend_t whole = { 0, (float) s_softcap, s_sinks };
            xinf_cpu_paged_attention (pools [1], &pool, 0, &batch, q, n_heads, n_kv_heads, head_dim, &whole, out,
                                      scratch, stride);
            CHECK (memcmp (out, first, n * q_dim * 4) == 0);
        }
    }
    free (keys), free (values), free (q), free (scratch), free (first), free (out), free (k_rows), free (v_rows);
    free (expected);
}

static void
test_sliding_window (void)
{
    xinf_threadpool_t *pools [3];
    for (int p = 0; p < 3; p++)
        pools [p] = xinf_threadpool_new (p + 1);
    s_window_case (4, 2, 16, 5, 40, 1, 1, pools);       //  a window of one position: out = its value
    s_window_case (4, 2, 16, 5, 40, 1, 7, pools);       //  a decode whose window starts inside a block
    s_window_case (8, 2, 32, 16, 100, 30, 10, pools);   //  a prompt's chunk, every token its own window
    s_window_case (4, 4, 8, 3, 50, 4, 512, pools);      //  wider than the sequence: no window
    s_window_case (14, 2, 64, 16, 200, 3, 64, pools);   //  whole blocks
    for (int p = 0; p < 3; p++)
        xinf_threadpool_destroy (&pools [p]);
}

//  Gemma 2's soft-capped scores (c tanh (s / c) before the softmax):
//  paged attention with and without a window against the naive double
//  attention capped alike, bit-identical over threads and kernel sets,
//  for caps below the scores (0.05: nearly flat) to far above them.
static void
test_softcap (void)
{
    xinf_threadpool_t *pools [3];
    for (int p = 0; p < 3; p++)
        pools [p] = xinf_threadpool_new (p + 1);
    const double caps [] = { 0.05, 0.3, 2.0, 50.0 };
    for (size_t c = 0; c < sizeof caps / sizeof caps [0]; c++) {
        s_softcap = caps [c];
        s_window_case (4, 2, 16, 5, 40, 1, 7, pools);
        s_window_case (8, 2, 32, 16, 100, 30, 10, pools);
        s_window_case (4, 4, 8, 3, 50, 4, 512, pools);
        s_window_case (14, 2, 64, 16, 200, 3, 1000, pools);
    }
    s_softcap = 0;
    for (int p = 0; p < 3; p++)
        xinf_threadpool_destroy (&pools [p]);
}

//  GPT-OSS's attention sinks: paged attention with sinks (far below the
//  scores: no effect; about them; far above: the weights of the
//  positions nearly 0, and the output with them) against the naive
//  double attention with the sink in its softmax, with and without a
//  window, bit-identical over threads and kernel sets.
static void
test_sinks (void)
{
    xinf_threadpool_t *pools [3];
    for (int p = 0; p < 3; p++)
        pools [p] = xinf_threadpool_new (p + 1);
    float sinks [14];
    const float levels [] = { -1e4f, -0.5f, 0.0f, 1.5f, 30.0f };
    for (size_t l = 0; l < sizeof levels / sizeof levels [0]; l++) {
        for (size_t h = 0; h < 14; h++)
            sinks [h] = levels [l] + 0.25f * (float) h;
        s_sinks = sinks;
        s_window_case (4, 2, 16, 5, 40, 1, 7, pools);
        s_window_case (8, 2, 32, 16, 100, 30, 10, pools);
        s_window_case (4, 4, 8, 3, 50, 4, 512, pools);
        s_window_case (14, 2, 64, 16, 200, 3, 1000, pools);
    }
    s_sinks = NULL;
    for (int p = 0; p < 3; p++)
        xinf_threadpool_destroy (&pools [p]);
}

int
main (void)
{
    fprintf (stderr, "test_attention:\n");
    RUN (test_attention);
    RUN (test_single_position);
    RUN (test_sliding_window);
    RUN (test_softcap);
    RUN (test_sinks);
    return 0;
}
