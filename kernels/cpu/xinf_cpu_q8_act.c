/*  xinf_cpu_q8_act: the quantizer of x vectors into 16-bit blocks, the
    portable kernel set of Q8_0 products with 16-bit activations, and the
    switch between this path and the float one (xinf_cpu_q8_act.h says
    the arithmetic).
*/
#include "xinf_cpu_q8_act.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

//  ---- the switch ---------------------------------------------------------------

//  -1: not read from the environment yet; 0 off; 1 on.
static atomic_int s_on = -1;

bool
xinf_cpu_q8_act_on (void)
{
    int on = atomic_load_explicit (&s_on, memory_order_relaxed);
    if (on < 0) {
        const char *value = getenv ("XINF_CPU_Q8_ACT");
        on = !(value && (strcmp (value, "off") == 0 || strcmp (value, "0") == 0));
        atomic_store_explicit (&s_on, on, memory_order_relaxed);
    }
    return on == 1;
}

bool
xinf_cpu_q8_act_set (bool enable)
{
    atomic_store (&s_on, enable ? 1 : 0);
    return enable;
}

//  The CPU's tables, looked up once (a matvec asks for them each call).
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static const xinf_cpu_kern_t *s_kern_avx512;
static const xinf_cpu_q8_kern_t *s_q8_avx512, *s_q8_avx2;

static void
s_lookup (void)
{
    s_kern_avx512 = xinf_cpu_kern_avx512 ();
    s_q8_avx512 = xinf_cpu_q8_avx512 ();
    s_q8_avx2 = xinf_cpu_q8_avx2 ();
}

const xinf_cpu_q8_kern_t *
xinf_cpu_q8_kern (const xinf_cpu_kern_t *kern)
{
    const xinf_cpu_q8_kern_t *q8 = NULL;
    if (kern == &xinf_cpu_kern_portable)
        return &xinf_cpu_q8_portable;
    pthread_once (&s_once, s_lookup);
    if (kern == s_kern_avx512)
        q8 = s_q8_avx512;
    if (!q8)
        q8 = s_q8_avx2;
    return q8 ? q8 : &xinf_cpu_q8_portable;
}

//  ---- the quantizer ------------------------------------------------------------

void
xinf_cpu_q8_quantize_block (const float *x, int16_t *q, float *d)
{
    uint32_t top = 0;
    for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE; i++) {
        uint32_t magnitude = xinf_dtype_f32_to_bits (x [i]) & 0x7fffffffu;
        top = magnitude > top ? magnitude : top;
    }
    memset (q, 0, XINF_Q8_0_BLOCK_SIZE * sizeof *q);
    if (top >= 0x7f800000u) {        //  Inf or NaN
        *d = xinf_dtype_bits_to_f32 (0x7fc00000u);
        return;
    }
    float scale = xinf_dtype_bits_to_f32 (top) / (float) XINF_Q8_ACT_MAX;
    *d = scale;
    for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE && scale != 0; i++) {
        float value = nearbyintf (x [i] / scale);
        value = value < -XINF_Q8_ACT_MAX ? -XINF_Q8_ACT_MAX : value > XINF_Q8_ACT_MAX ? XINF_Q8_ACT_MAX : value;
        q [i] = (int16_t) value;
    }
}

static size_t
s_no_packed (size_t n, size_t cols)
{
    return 0;
}

//  Every vector block by block.
static void
s_quantize (const float *x, xinf_q8_act_t *act)
{
    for (size_t j = 0; j < act->n; j++)
        for (size_t b = 0; b < act->blocks; b++) {
            size_t at = j * act->cols + b * XINF_Q8_0_BLOCK_SIZE;
            xinf_cpu_q8_quantize_block (x + at, act->q + at, act->d + j * act->blocks + b);
        }
}

//  ---- the portable kernel ---------------------------------------------------------

//  Row . x [j], block by block.
static float
s_dot (const uint8_t *row, const xinf_q8_act_t *act, size_t j)
{
    const int16_t *q = act->q + j * act->cols;
    const float *d = act->d + j * act->blocks;
    float acc = 0.0f;
    for (size_t b = 0; b < act->blocks; b++, row += XINF_Q8_0_BLOCK_BYTES, q += XINF_Q8_0_BLOCK_SIZE) {
        const int8_t *weights = (const int8_t *) (row + 2);
        int32_t isum = 0;
        for (int i = 0; i < XINF_Q8_0_BLOCK_SIZE; i++)
            isum += (int32_t) weights [i] * q [i];
        float dw = xinf_dtype_fp16_to_f32 ((uint16_t) (row [0] | row [1] << 8));
        acc = xinf_q8_step (acc, isum, dw, d [b]);
    }
    return acc;
}

static void
s_rows (const uint8_t *w, size_t row_bytes, size_t count, const xinf_q8_act_t *act, float *y, size_t y_stride,
        void *scratch, const uint8_t *ahead, size_t ahead_bytes)
{
    for (size_t r = 0; r < count; r++)
        for (size_t j = 0; j < act->n; j++)
            y [j * y_stride + r] = s_dot (w + r * row_bytes, act, j);
}

static size_t
s_no_scratch (size_t n, size_t cols)
{
    return 0;
}

const xinf_cpu_q8_kern_t xinf_cpu_q8_portable = {
    "portable", s_no_packed, s_quantize, s_rows, s_no_scratch
};
