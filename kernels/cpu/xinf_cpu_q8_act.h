/*  xinf_cpu_q8_act: Q8_0 weight products with integer activations, the
    way xinf_cpu_matvec, xinf_cpu_matvec_many and xinf_cpu_matvec_batch
    multiply Q8_0 weights (unless XINF_CPU_Q8_ACT=off). Private to
    kernels/cpu.

    Quantizer: each x vector is cut into blocks of 32; per block
        amax = max |x_i| (NaN counts as greater than infinity)
        amax Inf or NaN:   d = NaN, q_i = 0 (every product with that
                           vector is then NaN)
        else               d = amax / 32767 (float division), and
                           q_i = 0 if d == 0, else clamp (rne (x_i / d),
                           -32767, 32767), rne = round half to even (the
                           default rounding mode), x_i / d a float division.
    16 bits, not llama.cpp's 8: 8-bit activations (d = amax / 127, tried
    first) moved the logits of the test models from the float path's by
    2.5e-2 .. 1.6e-1 relative to the largest logit (the reference test's
    tiny llama/qwen2 Q8_0 models over 64 steps; 2.9e-2 on the
    Qwen2.5-0.5B shape), past the 2e-2 the reference tests allow. With
    16 bits: at most 4.5e-4 from the float path (tiny models, 64 steps),
    1.2e-4 (Qwen2.5-0.5B shape, 8 steps); against the numpy reference
    3.6e-4 (llama) and 5.2e-4 (qwen2), where the float path gives
    2e-6 .. 3e-6. test_matvec_q8act bounds each product's distance from
    the float path by sum over blocks of (sum |w|) max |x| / 65534. d
    stays a float: it costs nothing here and rounds x once, not twice.

    Product of a Q8_0 row (block scales dw, weights qw) and a quantized x:
        acc = +0.0f
        for every block b, in order:
            isum = sum of qw_i * q_i over the block (exact, int32:
                   |isum| <= 32 * 128 * 32767 < 2^31)
            s = dw_b * d_b; t = (float) isum * s; acc = acc + t
        y = acc
    (float) isum rounds to nearest even past 2^24; three float roundings
    a block (no FMA), the same in every kernel set, so results are bit for
    bit the same across kernel sets, thread counts, vector counts and row
    groupings. The integer part may be summed in any order.

    Kernel sets: portable C; AVX2 (weights widened to int16, madd);
    AVX-512 (VNNI vpdpwssd: int16 pairs into int32). See
    xinf_cpu_simd_q8.c.
*/
#ifndef XINF_CPU_Q8_ACT_H_INCLUDED
#define XINF_CPU_Q8_ACT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xinf_cpu_kern.h"
#include "xinf_cpu_ops.h"

//  Vectors a packed group holds (the AVX-512 kernels' lanes).
#define XINF_Q8_GROUP 16

//  n quantized x vectors of cols (a multiple of 32) elements.
typedef struct {
    size_t n, cols, blocks;
    int16_t *q;                      //  q [j * cols + i]
    float *d;                        //  d [j * blocks + b]
    //  The kernel set's own copy for whole groups of XINF_Q8_GROUP
    //  vectors (NULL: none), written by its 'quantize'.
    uint8_t *packed;
    size_t groups;
} xinf_q8_act_t;

typedef struct xinf_cpu_q8_kern_s {
    const char *name;
    //  Bytes of 'packed' the set wants for n vectors of cols (0: none).
    size_t (*packed_bytes) (size_t n, size_t cols);
    //  Fills act (its q, d, and packed where the set has one) from
    //  x [n][cols], as the quantizer above says.
    void (*quantize) (const float *x, xinf_q8_act_t *act);
    //  y [j * y_stride + r] = row r . x [j] for r < count, j < act->n,
    //  row r at w + r * row_bytes; scratch holds scratch_bytes (n, cols).
    //  The ahead_bytes at 'ahead' (the rows after these; NULL: none) are
    //  prefetched meanwhile.
    void (*rows) (const uint8_t *w, size_t row_bytes, size_t count, const xinf_q8_act_t *act, float *y,
                  size_t y_stride, void *scratch, const uint8_t *ahead, size_t ahead_bytes);
    size_t (*scratch_bytes) (size_t n, size_t cols);
} xinf_cpu_q8_kern_t;

extern const xinf_cpu_q8_kern_t xinf_cpu_q8_portable;

//  The AVX2 and AVX-512 (F, BW, VL, VNNI) sets, NULL where the CPU or the
//  compiler lacks them.
const xinf_cpu_q8_kern_t *xinf_cpu_q8_avx2 (void);
const xinf_cpu_q8_kern_t *xinf_cpu_q8_avx512 (void);

//  The set that goes with the float table 'kern': AVX-512 where kern is
//  the AVX-512 table and the CPU has VNNI, else AVX2 where kern is a SIMD
//  table, else portable.
const xinf_cpu_q8_kern_t *xinf_cpu_q8_kern (const xinf_cpu_kern_t *kern);

//  Whether Q8_0 products take this path (XINF_CPU_Q8_ACT=off: no).
bool xinf_cpu_q8_act_on (void);

//  The portable quantizer of one block (the reference of every set).
void xinf_cpu_q8_quantize_block (const float *x, int16_t *q, float *d);

//  The largest |q| (d = amax / XINF_Q8_ACT_MAX).
#define XINF_Q8_ACT_MAX 32767

//  One step of the product's float arithmetic.
static inline float
xinf_q8_step (float acc, int32_t isum, float dw, float dx)
{
    float scale = dw * dx;
    float term = (float) isum * scale;
    return acc + term;
}

//  xinf_cpu_matvec_batch (and xinf_cpu_matvec for n = 1) of Q8_0 weights.
void xinf_cpu_q8_matvec (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern, const void *w, size_t rows,
                         size_t cols, const float *x, size_t n, float *y);

//  xinf_cpu_matvec_many: runs the Q8_0 products among 'products' (at most
//  8) in one hand-off to the pool, copies the others to 'rest' and
//  returns their count.
size_t xinf_cpu_q8_matvec_many (xinf_threadpool_t *pool, const xinf_cpu_kern_t *kern,
                                const xinf_cpu_matvec_t *products, size_t count, xinf_cpu_matvec_t *rest);

#endif
