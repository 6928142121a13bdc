/*  test_lora: the CPU's LoRA op (xinf_cpu_lora): y [row] += scale B (A x)
    for listed rows, against a double-precision reference of the same
    weights, for A of F32, F16 and Q8_0 and B transposed in F32, F16 and
    BF16, ranks 1 to 64, widths across the column chunks; rows not listed
    are untouched; a row's result is the same bit for bit listed alone or
    with others, on 1 and 3 threads, with SIMD and with portable kernels
    (their sums round alike within a kernel set, not across sets: the
    SIMD axpy fuses its multiply-add).
*/
#include "test_kernels.h"
#include "xinf_backend.h"
#include "xinf_cpu_lora.h"
#include "xinf_cpu_ops.h"
#include "xinf_threadpool.h"

#define ROWS 7

typedef struct {
    xinf_matrix_t a, bt;
    float *a_values, *bt_values;      //  the weights' exact values
    float *x, *y0;                    //  x [ROWS][in], y's starting values [ROWS][out]
    size_t in, out, rank;
} s_case_t;

static void
s_case_new (s_case_t *self, xinf_dtype_t a_type, xinf_dtype_t b_type, size_t in, size_t out, size_t rank,
            uint64_t *state)
{
    *self = (s_case_t) { .in = in, .out = out, .rank = rank };
    void *a = test_weights (a_type, rank, in, state, &self->a_values);
    void *bt = test_weights (b_type, rank, out, state, &self->bt_values);
    self->a = (xinf_matrix_t) { a_type, a, rank, in };
    self->bt = (xinf_matrix_t) { b_type, bt, rank, out };
    self->x = test_floats (ROWS * in, state);
    self->y0 = test_floats (ROWS * out, state);
}

static void
s_case_free (s_case_t *self)
{
    free ((void *) self->a.data);
    free ((void *) self->bt.data);
    free (self->a_values);
    free (self->bt_values);
    free (self->x);
    free (self->y0);
}

//  The op on 'rows' of a copy of y0.
static float *
s_run (const s_case_t *c, xinf_threadpool_t *pool, const int32_t *rows, size_t count, float scale)
{
    float *y = malloc (ROWS * c->out * sizeof (float));
    memcpy (y, c->y0, ROWS * c->out * sizeof (float));
    xinf_cpu_lora_scratch_t scratch = { 0 };
    xinf_lora_product_t product = { &c->a, &c->bt, scale, c->x, y };
    CHECK (xinf_cpu_lora (pool, &scratch, &product, 1, rows, count) == 0);
    free (scratch.memory);
    return y;
}

//  Listed rows near y0 + scale B (A x) in doubles (A x through the kernels'
//  rounding of x for quantized A: a loose bound), the others untouched.
static void
s_check_reference (const s_case_t *c, const float *y, const int32_t *rows, size_t count, float scale)
{
    for (size_t r = 0, k = 0; r < ROWS; r++) {
        bool listed = k < count && (size_t) rows [k] == r;
        k += listed;
        double t [64];
        for (size_t i = 0; listed && i < c->rank; i++) {
            t [i] = 0;
            for (size_t j = 0; j < c->in; j++)
                t [i] += (double) c->a_values [i * c->in + j] * c->x [r * c->in + j];
        }
        for (size_t o = 0; o < c->out; o++) {
            double want = c->y0 [r * c->out + o];
            for (size_t i = 0; listed && i < c->rank; i++)
                want += scale * t [i] * c->bt_values [i * c->out + o];
            double got = y [r * c->out + o];
            if (!listed)
                CHECK (got == want);
            else
            if (fabs (got - want) > 2e-2 * (1 + fabs (want)))
                fprintf (stderr, "row %zu col %zu: got %g, want %g\n", r, o, got, want);
            CHECK (fabs (got - want) <= 2e-2 * (1 + fabs (want)));
        }
    }
}

static void
test_against_reference (void)
{
    const xinf_dtype_t a_types [] = { XINF_DTYPE_F32, XINF_DTYPE_F16, XINF_DTYPE_Q8_0 };
    const xinf_dtype_t b_types [] = { XINF_DTYPE_F32, XINF_DTYPE_F16, XINF_DTYPE_BF16 };
    const size_t shapes [][3] = { { 64, 96, 8 }, { 96, 600, 1 }, { 32, 256, 64 }, { 128, 513, 16 }, { 64, 7, 3 } };
    const int32_t rows [] = { 0, 2, 3, 6 };
    uint64_t state = 11;
    xinf_threadpool_t *pool = xinf_threadpool_new (3);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes [0]; s++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++) {
                s_case_t c;
                s_case_new (&c, a_types [a], b_types [b], shapes [s][0], shapes [s][1], shapes [s][2], &state);
                float *y = s_run (&c, pool, rows, 4, 1.75f);
                s_check_reference (&c, y, rows, 4, 1.75f);
                free (y);
                s_case_free (&c);
            }
    xinf_threadpool_destroy (&pool);
}

//  A row alone, with others, on 1 or 3 threads: the same bits, on either
//  kernel set.
static void
test_invariance (void)
{
    uint64_t state = 5;
    s_case_t c;
    s_case_new (&c, XINF_DTYPE_Q8_0, XINF_DTYPE_F16, 96, 700, 16, &state);
    const int32_t all [ROWS] = { 0, 1, 2, 3, 4, 5, 6 };
    xinf_threadpool_t *one = xinf_threadpool_new (1), *three = xinf_threadpool_new (3);
    for (int simd = 0; simd < 2; simd++) {
        xinf_cpu_simd_set (simd);
        float *base = s_run (&c, three, all, ROWS, 0.5f);
        for (size_t r = 0; r < ROWS; r++) {
            float *alone = s_run (&c, simd ? one : three, all + r, 1, 0.5f);
            CHECK (memcmp (alone + r * c.out, base + r * c.out, c.out * sizeof (float)) == 0);
            free (alone);
        }
        float *pair = s_run (&c, one, all + 2, 2, 0.5f);
        CHECK (memcmp (pair + 2 * c.out, base + 2 * c.out, 2 * c.out * sizeof (float)) == 0);
        free (pair);
        free (base);
    }
    xinf_cpu_simd_set (true);
    xinf_threadpool_destroy (&one);
    xinf_threadpool_destroy (&three);
    s_case_free (&c);
}

//  Three products of different shapes in one call (q/k/v's group): each
//  the same bits as alone; more than a group is refused.
static void
test_group (void)
{
    uint64_t state = 9;
    s_case_t cases [3];
    s_case_new (&cases [0], XINF_DTYPE_F16, XINF_DTYPE_F16, 64, 300, 8, &state);
    s_case_new (&cases [1], XINF_DTYPE_F32, XINF_DTYPE_BF16, 64, 40, 4, &state);
    s_case_new (&cases [2], XINF_DTYPE_Q8_0, XINF_DTYPE_F32, 64, 520, 32, &state);
    const int32_t rows [] = { 1, 4, 5 };
    xinf_threadpool_t *pool = xinf_threadpool_new (3);
    float *alone [3], *together [3];
    xinf_lora_product_t group [4];
    for (size_t p = 0; p < 3; p++) {
        alone [p] = s_run (&cases [p], pool, rows, 3, 0.25f * (float) (p + 1));
        together [p] = malloc (ROWS * cases [p].out * sizeof (float));
        memcpy (together [p], cases [p].y0, ROWS * cases [p].out * sizeof (float));
        group [p] = (xinf_lora_product_t) { &cases [p].a, &cases [p].bt, 0.25f * (float) (p + 1), cases [p].x,
                                             together [p] };
    }
    xinf_cpu_lora_scratch_t scratch = { 0 };
    CHECK (xinf_cpu_lora (pool, &scratch, group, 3, rows, 3) == 0);
    for (size_t p = 0; p < 3; p++)
        CHECK (memcmp (alone [p], together [p], ROWS * cases [p].out * sizeof (float)) == 0);
    group [3] = group [0];
    CHECK (xinf_cpu_lora (pool, &scratch, group, 4, rows, 3) == -1);
    free (scratch.memory);
    for (size_t p = 0; p < 3; p++) {
        free (alone [p]);
        free (together [p]);
        s_case_free (&cases [p]);
    }
    xinf_threadpool_destroy (&pool);
}

int
main (void)
{
    RUN (test_against_reference);
    RUN (test_invariance);
    RUN (test_group);
    return 0;
}
