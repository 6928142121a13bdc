/*  test_dtype: row sizes, names and the fp16/bf16 conversions (exhaustive
    round trips, rounding edges, and F16C hardware where the CPU has it).  */
#include "test_kernels.h"
#include "xinf_dtype.h"

static void
test_row_bytes (void)
{
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_F32, 7), 28);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_F16, 7), 14);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_BF16, 896), 1792);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, 896), 28 * 34);
    CHECK_INT (xinf_dtype_row_bytes (XINF_DTYPE_Q8_0, 33), 0);
    CHECK_INT (xinf_dtype_row_bytes ((xinf_dtype_t) 99, 32), 0);
    CHECK (strcmp (xinf_dtype_name (XINF_DTYPE_Q8_0), "Q8_0") == 0);
    CHECK (strcmp (xinf_dtype_name (XINF_DTYPE_BF16), "BF16") == 0);
    CHECK (strcmp (xinf_dtype_name ((xinf_dtype_t) 99), "?") == 0);
}

//  Every half converts to a float and back to itself (NaN to a NaN).
static void
test_fp16_round_trip (void)
{
    for (uint32_t bits = 0; bits < 65536; bits++) {
        float value = xinf_dtype_fp16_to_f32 ((uint16_t) bits);
        uint16_t back = xinf_dtype_f32_to_fp16 (value);
        if ((bits & 0x7c00) == 0x7c00 && (bits & 0x3ff))
            CHECK (isnan (value) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff));
        else
            CHECK_INT (back, bits);
    }
    CHECK (xinf_dtype_fp16_to_f32 (0x3c00) == 1.0f);
    CHECK (xinf_dtype_fp16_to_f32 (0x0001) == 0x1p-24f);
    CHECK (xinf_dtype_fp16_to_f32 (0x7bff) == 65504.0f);
    CHECK (xinf_dtype_fp16_to_f32 (0xc000) == -2.0f);
}

static void
test_fp16_rounding (void)
{
    CHECK_INT (xinf_dtype_f32_to_fp16 (65519.99f), 0x7bff);
    CHECK_INT (xinf_dtype_f32_to_fp16 (65520.0f), 0x7c00);
    CHECK_INT (xinf_dtype_f32_to_fp16 (-1e9f), 0xfc00);
    CHECK_INT (xinf_dtype_f32_to_fp16 (0x1p-25f), 0);
    CHECK_INT (xinf_dtype_f32_to_fp16 (0x1.8p-25f), 1);
    CHECK_INT (xinf_dtype_f32_to_fp16 (0x1.8p-24f), 2);           //  tie to even
    CHECK_INT (xinf_dtype_f32_to_fp16 (0x1.002p0f), 0x3c00);      //  tie to even (down)
    CHECK_INT (xinf_dtype_f32_to_fp16 (0x1.006p0f), 0x3c02);      //  tie to even (up)
    CHECK_INT (xinf_dtype_f32_to_fp16 (0x1.ffcp-15f), 0x0400);    //  subnormal rounds up to normal
    CHECK_INT (xinf_dtype_f32_to_fp16 (-0.0f), 0x8000);
}

#if defined (__x86_64__) && defined (__GNUC__)
#include <immintrin.h>
#include "xinf_cpu_cpuid.h"
__attribute__ ((target ("f16c"))) static uint16_t
s_hardware_fp16 (float value)
{
    return (uint16_t) _cvtss_sh (value, 0);
}
#endif

//  Random float bit patterns against the CPU's own conversion.
static void
test_fp16_hardware (void)
{
#if defined (__x86_64__) && defined (__GNUC__)
    if (!xinf_cpu_has_f16c ()) {
        fprintf (stderr, "      (no F16C: skipped)\n");
        return;
    }
    uint64_t state = 11;
    for (int i = 0; i < 2000000; i++) {
        uint32_t bits = (uint32_t) test_random (&state) << 1 ^ (uint32_t) test_random (&state);
        float value = xinf_dtype_bits_to_f32 (bits);
        if (isnan (value))
            continue;
        uint16_t ours = xinf_dtype_f32_to_fp16 (value), theirs = s_hardware_fp16 (value);
        if (ours != theirs)
            fprintf (stderr, "bits %08x: ours %04x hardware %04x\n", bits, ours, theirs);
        CHECK_INT (ours, theirs);
    }
#endif
}

static void
test_bf16 (void)
{
    for (uint32_t bits = 0; bits < 65536; bits++) {
        float value = xinf_dtype_bf16_to_f32 ((uint16_t) bits);
        if (isnan (value))
            CHECK (isnan (xinf_dtype_bf16_to_f32 (xinf_dtype_f32_to_bf16 (value))));
        else
            CHECK_INT (xinf_dtype_f32_to_bf16 (value), bits);
    }
    CHECK_INT (xinf_dtype_f32_to_bf16 (xinf_dtype_bits_to_f32 (0x3f808000)), 0x3f80);    //  tie to even
    CHECK_INT (xinf_dtype_f32_to_bf16 (xinf_dtype_bits_to_f32 (0x3f818000)), 0x3f82);
    CHECK_INT (xinf_dtype_f32_to_bf16 (xinf_dtype_bits_to_f32 (0x3f808001)), 0x3f81);
    CHECK (isnan (xinf_dtype_bf16_to_f32 (xinf_dtype_f32_to_bf16 (xinf_dtype_bits_to_f32 (0x7f800001)))));
}

int
main (void)
{
    fprintf (stderr, "test_dtype:\n");
    RUN (test_row_bytes);
    RUN (test_fp16_round_trip);
    RUN (test_fp16_rounding);
    RUN (test_fp16_hardware);
    RUN (test_bf16);
    return 0;
}
