/*  xinf_samples: a STEP's per-row sampling, its wire form and checks.  */
#include "xinf_samples.h"
#include "xinf_logprobs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

size_t
xinf_samples_wire_size (size_t count)
{
    return XINF_SAMPLES_HEADER + count * XINF_SAMPLES_ROW;
}

//  Fields are copied as the host holds them: little-endian, as the batch
//  beside it (xinf_batch.c).
static void
s_put (unsigned char *at, const void *value, size_t size)
{
    memcpy (at, value, size);
}

static uint32_t
s_get32 (const unsigned char *at)
{
    uint32_t value;
    memcpy (&value, at, sizeof value);
    return value;
}

void
xinf_samples_encode (const xinf_sampling_t *rows, const uint32_t *logprobs, const float *min_ps, size_t count,
                     void *bytes)
{
    unsigned char *at = (unsigned char *) bytes;
    uint32_t header [2] = { XINF_SAMPLES_MAGIC, (uint32_t) count }, none = 0;
    float off = 0;
    s_put (at, header, sizeof header);
    at += XINF_SAMPLES_HEADER;
    for (size_t row = 0; row < count; row++, at += XINF_SAMPLES_ROW) {
        s_put (at, &rows [row].temperature, 4);
        s_put (at + 4, &rows [row].top_p, 4);
        s_put (at + 8, &rows [row].top_k, 4);
        s_put (at + 12, logprobs ? &logprobs [row] : &none, 4);
        s_put (at + 16, &rows [row].seed, 8);
        s_put (at + 24, &rows [row].index, 8);
        s_put (at + 32, min_ps ? &min_ps [row] : &off, 4);
        s_put (at + 36, &none, 4);
    }
}

int
xinf_samples_decode (const void *bytes, size_t size, size_t count, size_t vocab, xinf_sampling_t *rows,
                     uint32_t *logprobs, float *min_ps, char *error, size_t error_size)
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
        memcpy (&params->temperature, at, 4);
        memcpy (&params->top_p, at + 4, 4);
        params->top_k = s_get32 (at + 8);
        memcpy (&params->seed, at + 16, 8);
        memcpy (&params->index, at + 24, 8);
        logprobs [row] = s_get32 (at + 12);
        memcpy (&min_ps [row], at + 32, 4);
        const char *field = !(params->temperature >= 0 && params->temperature <= 100) ? "temperature"
                          : !(params->top_p > 0 && params->top_p <= 1) ? "top_p"
                          : params->top_k > vocab ? "top_k"
                          : logprobs [row] > XINF_LOGPROBS_TOP_MAX + 1 || logprobs [row] > vocab + 1 ? "logprobs"
                          : !(min_ps [row] >= 0 && min_ps [row] <= 1) ? "min_p"
                          : s_get32 (at + 36) != 0 ? "reserved"
                          : NULL;
        if (field) {
            snprintf (error, error_size, "field 'samples[%zu].%s' is out of range", row, field);
            return -1;
        }
    }
    return 0;
}
