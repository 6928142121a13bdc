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

xinf_sample_row_t
xinf_sample_row (xinf_sampling_t sampling)
{
    return (xinf_sample_row_t) { .sampling = sampling, .logprobs = 0, .min_p = 0, .score = -1 };
}

void
xinf_samples_encode (const xinf_sample_row_t *rows, size_t count, void *bytes)
{
    unsigned char *at = (unsigned char *) bytes;
    uint32_t header [2] = { XINF_SAMPLES_MAGIC, (uint32_t) count };
    s_put (at, header, sizeof header);
    at += XINF_SAMPLES_HEADER;
    for (size_t row = 0; row < count; row++, at += XINF_SAMPLES_ROW) {
        const xinf_sample_row_t *it = &rows [row];
        uint32_t score = it->score < 0 ? 0 : (uint32_t) it->score + 1;
        s_put (at, &it->sampling.temperature, 4);
        s_put (at + 4, &it->sampling.top_p, 4);
        s_put (at + 8, &it->sampling.top_k, 4);
        s_put (at + 12, &it->logprobs, 4);
        s_put (at + 16, &it->sampling.seed, 8);
        s_put (at + 24, &it->sampling.index, 8);
        s_put (at + 32, &it->min_p, 4);
        s_put (at + 36, &score, 4);
    }
}

//  The first field of a decoded row that is out of range, or NULL.
static const char *
s_bad_field (const xinf_sample_row_t *row, uint32_t score, size_t vocab)
{
    const xinf_sampling_t *params = &row->sampling;
    return !(params->temperature >= 0 && params->temperature <= 100) ? "temperature"
         : !(params->top_p > 0 && params->top_p <= 1) ? "top_p"
         : params->top_k > vocab ? "top_k"
         : row->logprobs > XINF_LOGPROBS_TOP_MAX + 1 || row->logprobs > vocab + 1 ? "logprobs"
         : !(row->min_p >= 0 && row->min_p <= 1) ? "min_p"
         : score > vocab || (score && !row->logprobs) ? "score"
         : NULL;
}

int
xinf_samples_decode (const void *bytes, size_t size, size_t count, size_t vocab, xinf_sample_row_t *rows,
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
        xinf_sample_row_t *it = &rows [row];
        memcpy (&it->sampling.temperature, at, 4);
        memcpy (&it->sampling.top_p, at + 4, 4);
        it->sampling.top_k = s_get32 (at + 8);
        it->logprobs = s_get32 (at + 12);
        memcpy (&it->sampling.seed, at + 16, 8);
        memcpy (&it->sampling.index, at + 24, 8);
        memcpy (&it->min_p, at + 32, 4);
        uint32_t score = s_get32 (at + 36);
        it->score = score ? (int32_t) (score - 1) : -1;
        const char *field = s_bad_field (it, score, vocab);
        if (field) {
            snprintf (error, error_size, "field 'samples[%zu].%s' is out of range", row, field);
            return -1;
        }
    }
    return 0;
}
