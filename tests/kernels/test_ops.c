/*  test_ops: RMSNorm, RoPE (both pair orders), softmax, SiLU and add
    against double-precision formulas; the CPU backend's copy_rows.  */
#include "test_kernels.h"
#include "xinf_cpu_backend.h"
#include "xinf_cpu_ops.h"

static void
test_rmsnorm (void)
{
    size_t sizes [] = { 1, 7, 64, 896, 1001 };
    for (size_t s = 0; s < 5; s++) {
        size_t n = sizes [s];
        uint64_t state = n;
        float *x = test_floats (n, &state), *weight = test_floats (n, &state), *out = malloc (n * 4);
        double squares = 0;
        for (size_t i = 0; i < n; i++)
            squares += (double) x [i] * x [i];
        double scale = 1 / sqrt (squares / n + 1e-6);
        xinf_cpu_rmsnorm (out, x, weight, n, 1e-6f);
        for (size_t i = 0; i < n; i++)
            CHECK_NEAR (out [i], x [i] * scale * weight [i], 1e-6);
        xinf_cpu_rmsnorm (out, x, NULL, n, 1e-6f);
        for (size_t i = 0; i < n; i++)
            CHECK_NEAR (out [i], x [i] * scale, 1e-6);
        xinf_cpu_rmsnorm (x, x, weight, n, 1e-6f);      //  in place
        for (size_t i = 0; i < n; i++)
            CHECK_NEAR (x [i], out [i] * weight [i], 1e-6);
        free (x), free (weight), free (out);
    }
}

//  'dims': the rotated dimensions of a head (0: all), the rest unchanged.
static void
s_rope_case (size_t n_heads, size_t head_dim, size_t pos, float base, bool neox, bool scaled, size_t dims)
{
    uint64_t state = n_heads * 31 + head_dim + pos + dims;
    size_t n = n_heads * head_dim, turned = dims ? dims : head_dim, half = turned / 2;
    float *vec = test_floats (n, &state), *before = malloc (n * 4);
    memcpy (before, vec, n * 4);
    float factors [1024];
    for (size_t i = 0; i < half; i++)
        factors [i] = 1.0f + (float) (i % 5);
    //  scaled: linear scale, factors and a magnitude scale (YaRN's)
    xinf_rope_t rope = { base, scaled ? 0.25f : 1.0f, neox, scaled ? factors : NULL, scaled ? 1.25f : 1.0f, dims };
    xinf_cpu_rope (vec, n_heads, head_dim, pos, &rope);
    double mscale = scaled ? 1.25 : 1.0;
    for (size_t h = 0; h < n_heads; h++) {
        for (size_t i = 0; i < half; i++) {
            double theta = pos * pow (base, -2.0 * i / turned) * (scaled ? 0.25 / factors [i] : 1.0);
            size_t a = h * head_dim + (neox ? i : 2 * i), b = h * head_dim + (neox ? i + half : 2 * i + 1);
            CHECK_NEAR (vec [a], mscale * (before [a] * cos (theta) - before [b] * sin (theta)), 3e-6);
            CHECK_NEAR (vec [b], mscale * (before [a] * sin (theta) + before [b] * cos (theta)), 3e-6);
        }
        for (size_t d = turned; d < head_dim; d++)
            CHECK (vec [h * head_dim + d] == before [h * head_dim + d]);
    }
    free (vec), free (before);
}

static void
test_rope (void)
{
    for (int neox = 0; neox < 2; neox++) {
        s_rope_case (14, 64, 0, 1000000.0f, neox, false, 0);
        s_rope_case (14, 64, 0, 1000000.0f, neox, true, 0);
        s_rope_case (14, 64, 1, 1000000.0f, neox, false, 0);
        s_rope_case (14, 64, 1, 1000000.0f, neox, true, 0);
        s_rope_case (2, 64, 4095, 10000.0f, neox, false, 0);
        s_rope_case (2, 64, 4095, 10000.0f, neox, true, 0);
        s_rope_case (3, 128, 777, 500000.0f, neox, false, 0);
        s_rope_case (3, 128, 777, 500000.0f, neox, true, 0);
        s_rope_case (1, 6, 5, 10000.0f, neox, false, 0);
        s_rope_case (1, 6, 5, 10000.0f, neox, true, 0);
        s_rope_case (2, 1024, 9, 10000.0f, neox, false, 0);       //  more pairs than the table
        //  Partial rotary (Phi-4-mini's 96 of 128)
        s_rope_case (3, 128, 777, 10000.0f, neox, true, 96);
        s_rope_case (2, 128, 31, 10000.0f, neox, false, 32);
        s_rope_case (1, 6, 5, 10000.0f, neox, false, 2);
        s_rope_case (2, 1024, 9, 10000.0f, neox, true, 768);
    }
    //  position 0 changes nothing; neox and llama orders differ otherwise
    float a [8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, b [8];
    memcpy (b, a, sizeof a);
    xinf_rope_t neox = { 10000.0f, 1.0f, true, NULL, 1.0f, 0 }, normal = { 10000.0f, 1.0f, false, NULL, 1.0f, 0 };
    xinf_cpu_rope (b, 1, 8, 0, &neox);
    CHECK (memcmp (a, b, sizeof a) == 0);
    xinf_cpu_rope (a, 1, 8, 3, &normal);
    xinf_cpu_rope (b, 1, 8, 3, &neox);
    CHECK (memcmp (a, b, sizeof a) != 0);
}

static void
test_softmax (void)
{
    size_t sizes [] = { 1, 2, 9, 1000, 151936 };
    for (size_t s = 0; s < 5; s++) {
        size_t n = sizes [s];
        uint64_t state = n + 5;
        float *x = test_floats (n, &state), *copy = malloc (n * 4);
        for (size_t i = 0; i < n; i++)
            x [i] *= 30;
        memcpy (copy, x, n * 4);
        xinf_cpu_softmax (x, n);
        double top = copy [0], sum = 0, total = 0;
        for (size_t i = 0; i < n; i++)
            top = copy [i] > top ? copy [i] : top;
        for (size_t i = 0; i < n; i++)
            sum += exp (copy [i] - top);
        for (size_t i = 0; i < n; i++) {
            CHECK_NEAR (x [i], exp (copy [i] - top) / sum, 1e-6);
            total += x [i];
        }
        CHECK_NEAR (total, 1, 1e-5);
        free (x), free (copy);
    }
    float big [3] = { 1000, 1000, -INFINITY };
    xinf_cpu_softmax (big, 3);
    CHECK (big [0] == 0.5f && big [1] == 0.5f && big [2] == 0);
    xinf_cpu_softmax (NULL, 0);
}

static void
test_silu_add (void)
{
    size_t n = 4867;
    uint64_t state = 9;
    float *gate = test_floats (n, &state), *up = test_floats (n, &state), *copy = malloc (n * 4);
    for (size_t i = 0; i < n; i++)
        gate [i] *= 20;
    memcpy (copy, gate, n * 4);
    xinf_cpu_silu_mul (gate, up, n);
    for (size_t i = 0; i < n; i++)
        CHECK_NEAR (gate [i], copy [i] / (1 + exp (-(double) copy [i])) * up [i], 1e-6);
    memcpy (copy, gate, n * 4);
    xinf_cpu_add (gate, up, n);
    for (size_t i = 0; i < n; i++)
        CHECK (gate [i] == copy [i] + up [i]);
    free (gate), free (up), free (copy);
}

//  SiLU gives the same bits on every kernel set, over the whole float
//  range (the AVX2 exponential repeats the portable one), and stays
//  within 1e-6 of the double formula; the edges: NaN, infinities, zeros,
//  values past the exponential's clamps.
static void
test_silu_kernel_sets (void)
{
    static const float edges [] = { 0.0f, -0.0f, 1.0f, -1.0f, 87.0f, -87.0f, 87.5f, -87.5f, 88.0f, -88.0f,
                                    88.5f, -88.5f, 100.0f, -100.0f, 1e-40f, -1e-40f, 3e38f, -3e38f,
                                    INFINITY, -INFINITY };
    size_t count = sizeof edges / sizeof edges [0], n = 20000 + count;
    uint64_t state = 17;
    float *gate = test_floats (n, &state), *up = test_floats (n, &state);
    float *portable = malloc (n * 4), *simd = malloc (n * 4);
    for (size_t i = 0; i < n - count; i++)
        gate [i] *= (float) (1 + i % 200);             //  up to +-200
    memcpy (gate + n - count, edges, sizeof edges);
    const char *sets [] = { "portable", "avx2", "avx512" };
    for (int set = 0; set < 3; set++) {
        if (!xinf_cpu_simd_use (sets [set]))
            continue;
        float *out = set == 0 ? portable : simd;
        memcpy (out, gate, n * 4);
        xinf_cpu_silu_mul (out, up, n - 3);            //  a tail past the 8s
        xinf_cpu_silu_mul (out + n - 3, up + n - 3, 3);
        if (set)
            CHECK (memcmp (out, portable, n * 4) == 0);
    }
    xinf_cpu_simd_set (true);
    for (size_t i = 0; i < n; i++) {
        double g = gate [i], expected = g / (1 + exp (-g)) * up [i];
        if (isfinite (expected))
            CHECK_NEAR (portable [i], expected, 1e-6);
    }
    float nan_gate = NAN, one = 1;
    xinf_cpu_silu_mul (&nan_gate, &one, 1);
    CHECK (isnan (nan_gate));
    free (gate), free (up), free (portable), free (simd);
}

//  GELU's tanh form (Gemma's): within 1e-6 of the double formula, the
//  same bits on every kernel set, tails past the 8s; large negative gates
//  give -0 or 0, large positive ones the gate, NaN stays NaN.
static double
s_gelu (double g)
{
    return 0.5 * g * (1 + tanh (sqrt (2 / M_PI) * (g + 0.044715 * g * g * g)));
}

static void
test_gelu_kernel_sets (void)
{
    static const float edges [] = { 0.0f, -0.0f, 1.0f, -1.0f, 10.0f, -10.0f, 30.0f, -30.0f, 1e-40f, -1e-40f,
                                    3e38f, -3e38f, INFINITY, -INFINITY };
    size_t count = sizeof edges / sizeof edges [0], n = 20000 + count;
    uint64_t state = 23;
    float *gate = test_floats (n, &state), *up = test_floats (n, &state);
    float *portable = malloc (n * 4), *simd = malloc (n * 4);
    for (size_t i = 0; i < n - count; i++)
        gate [i] *= (float) (1 + i % 40);             //  up to +-40
    memcpy (gate + n - count, edges, sizeof edges);
    const char *sets [] = { "portable", "avx2", "avx512" };
    for (int set = 0; set < 3; set++) {
        if (!xinf_cpu_simd_use (sets [set]))
            continue;
        float *out = set == 0 ? portable : simd;
        memcpy (out, gate, n * 4);
        xinf_cpu_gelu_mul (out, up, n - 5);
        xinf_cpu_gelu_mul (out + n - 5, up + n - 5, 5);
        if (set)
            CHECK (memcmp (out, portable, n * 4) == 0);
    }
    xinf_cpu_simd_set (true);
    for (size_t i = 0; i < n - count; i++)
        CHECK_NEAR (portable [i], s_gelu (gate [i]) * up [i], 1e-6 * (1 + fabs (gate [i])));
    size_t edge = n - count;
    CHECK (portable [edge + 6] == 30.0f * up [edge + 6]);      //  gelu (30) is 30
    CHECK (portable [edge + 7] == 0.0f);               //  gelu (-30) underflows to -0
    CHECK (portable [edge + 11] == 0.0f);              //  -3e38: its cube overflows, still -0
    CHECK (portable [edge + 12] == INFINITY * up [edge + 12]);
    float nan_gate = NAN, one = 1;
    xinf_cpu_gelu_mul (&nan_gate, &one, 1);
    CHECK (isnan (nan_gate));
    free (gate), free (up), free (portable), free (simd);
}

//  copy_rows as latent attention uses it: heads of tokens gathered by
//  head (outer heads, inner tokens) and back, every float where the
//  strides say and nothing else written; a single whole block.
static void
test_copy_rows (void)
{
    xinf_backend_t *be = xinf_cpu_backend_new (1);
    size_t tokens = 3, heads = 5, head = 7, part = 4, offset = 2;
    float *src = malloc (tokens * heads * head * sizeof (float));
    float *gathered = malloc ((heads * tokens * part + 1) * sizeof (float));
    float *back = calloc (tokens * heads * head, sizeof (float));
    for (size_t i = 0; i < tokens * heads * head; i++)
        src [i] = (float) i;
    gathered [heads * tokens * part] = -1;
    //  Head h of token t, floats offset .. offset + part, to gathered [h][t]
    xinf_rows_t gather = { heads, tokens, part, tokens * part, part, head, heads * head };
    be->ops->copy_rows (be, gathered, src + offset, &gather);
    for (size_t h = 0; h < heads; h++)
        for (size_t t = 0; t < tokens; t++)
            for (size_t d = 0; d < part; d++)
                CHECK (gathered [(h * tokens + t) * part + d] == src [(t * heads + h) * head + offset + d]);
    CHECK (gathered [heads * tokens * part] == -1);
    xinf_rows_t scatter = { heads, tokens, part, head, heads * head, tokens * part, part };
    be->ops->copy_rows (be, back + offset, gathered, &scatter);
    for (size_t i = 0; i < tokens * heads * head; i++)
        CHECK (back [i] == (i % head >= offset && i % head < offset + part ? src [i] : 0.0f));
    xinf_rows_t whole = { 1, 1, tokens * heads * head, 0, 0, 0, 0 };
    be->ops->copy_rows (be, back, src, &whole);
    CHECK (memcmp (back, src, tokens * heads * head * sizeof (float)) == 0);
    free (src), free (gathered), free (back);
    xinf_backend_destroy (&be);
}

int
main (void)
{
    fprintf (stderr, "test_ops:\n");
    RUN (test_copy_rows);
    RUN (test_rmsnorm);
    RUN (test_rope);
    RUN (test_softmax);
    RUN (test_silu_add);
    RUN (test_silu_kernel_sets);
    RUN (test_gelu_kernel_sets);
    return 0;
}
