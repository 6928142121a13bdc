/*  xinf_samples: a STEP's per-row sampling, its wire form and checks.  */
#include "xinf_samples.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

size_t
xinf_samples_wire_size (size_t count)
{
    return XINF_SAMPLES_HEADER + count * XINF_SAMPLES_ROW;
}

static void
s_put32 (unsigned char *at, uint32_t value)
{
    for (int byte = 0; byte < 4; byte++)
        at [byte] = (unsigned char) (value >> (8 * byte));
}

static void
s_put64 (unsigned char *at, uint64_t value)
{
    for (int byte = 0; byte < 8; byte++)
        at [byte] = (unsigned char) (value >> (8 * byte));
}

static uint32_t
s_get32 (const unsigned char *at)
{
    uint32_t value = 0;
    for (int byte = 0; byte < 4; byte++)
        value |= (uint32_t) at [byte] << (8 * byte);
    return value;
}

static uint64_t
s_get64 (const unsigned char *at)
{
    uint64_t value = 0;
    for (int byte = 0; byte < 8; byte++)
        value |= (uint64_t) at [byte] << (8 * byte);
    return value;
}

static uint32_t
s_float_bits (float value)
{
    uint32_t bits;
    memcpy (&bits, &value, sizeof bits);
    return bits;
}

static float
s_bits_float (uint32_t bits)
{
    float value;
    memcpy (&value, &bits, sizeof value);
    return value;
}

void
xinf_samples_encode (const xinf_sampling_t *rows, size_t count, void *bytes)
{
    unsigned char *at = (unsigned char *) bytes;
    s_put32 (at, XINF_SAMPLES_MAGIC);
    s_put32 (at + 4, (uint32_t) count);
    at += XINF_SAMPLES_HEADER;
    for (size_t row = 0; row < count; row++, at += XINF_SAMPLES_ROW) {
        s_put32 (at, s_float_bits (rows [row].temperature));
        s_put32 (at + 4, s_float_bits (rows [row].top_p));
        s_put32 (at + 8, rows [row].top_k);
        s_put32 (at + 12, 0);
        s_put64 (at + 16, rows [row].seed);
        s_put64 (at + 24, rows [row].index);
    }
}

int
xinf_samples_decode (const void *bytes, size_t size, size_t count, size_t vocab, xinf_sampling_t *rows,
                     char *error, size_t error_size)
{
    const unsigned char *at = (const unsigned char *) bytes;
    if (size != xinf_samples_wire_size (count) || size < XINF_SAMPLES_HEADER) {
        snprintf (error, error_size, "the sampling frame has %zu bytes; %zu rows need %zu", size, count,
                  xinf_samples_wire_size (count));
        return -1;
    }
    if (s_get32 (at) != XINF_SAMPLES_MAGIC || s_get32 (at + 4) != count) {
        snprintf (error, error_size, "the sampling frame's header is not \"SMPL\" with %zu rows", count);
        return -1;
    }
    at += XINF_SAMPLES_HEADER;
    for (size_t row = 0; row < count; row++, at += XINF_SAMPLES_ROW) {
        xinf_sampling_t *params = &rows [row];
        params->temperature = s_bits_float (s_get32 (at));
        params->top_p = s_bits_float (s_get32 (at + 4));
        params->top_k = s_get32 (at + 8);
        params->seed = s_get64 (at + 16);
        params->index = s_get64 (at + 24);
        const char *field = !(params->temperature >= 0 && params->temperature <= 100) ? "temperature"
                          : !(params->top_p > 0 && params->top_p <= 1) ? "top_p"
                          : params->top_k > vocab ? "top_k" : s_get32 (at + 12) ? "reserved" : NULL;
        if (field) {
            snprintf (error, error_size, "field 'samples[%zu].%s' is out of range", row, field);
            return -1;
        }
    }
    return 0;
}
