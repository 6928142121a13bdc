/*  xinf_logprobs: a step's log-probabilities, computed over a row and
    carried in TOKENS' second frame (xinf_logprobs.h).  */
#include "xinf_logprobs.h"
#include "xinf_sampler_row.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_HEADER 8

static void
s_put32 (unsigned char *at, const void *value)
{
    memcpy (at, value, 4);
}

static uint32_t
s_get32 (const unsigned char *at)
{
    uint32_t value;
    memcpy (&value, at, 4);
    return value;
}

static float
s_get_float (const unsigned char *at)
{
    float value;
    memcpy (&value, at, 4);
    return value;
}

//  Keeps (token, logit) among the 'n' largest so far in 'top' (most
//  likely first; an equal logit after the ones before it); 'count'
//  grows up to n.
static void
s_keep (xinf_logprob_t *top, size_t n, size_t *count, uint32_t token, float logit)
{
    size_t at = *count < n ? (*count)++ : n - 1;
    while (at > 0 && top [at - 1].logprob < logit) {
        top [at] = top [at - 1];
        at--;
    }
    top [at] = (xinf_logprob_t) { token, logit };
}

void
xinf_logprobs_scan (const float *logits, size_t vocab, xinf_logprobs_row_t *row, double *weights)
{
    size_t n = row->asked > 1 ? row->asked - 1 : 0, count = 0;
    for (size_t token = 0; token < vocab && n; token++) {
        float logit = isnan (logits [token]) ? -INFINITY : logits [token];
        if (count < n || logit > row->top [n - 1].logprob)
            s_keep (row->top, n, &count, (uint32_t) token, logit);
    }
    float top = logits [xinf_sampler_argmax (logits, vocab)];
    row->infinite = 0;
    if (top == INFINITY)
        for (size_t token = 0; token < vocab; token++)
            row->infinite += logits [token] == INFINITY;
    row->normalizer = isfinite (top) ? top + log (xinf_sampler_weigh (logits, vocab, top, 1.0, weights)) : top;
    for (size_t at = 0; at < count; at++)
        row->top [at].logprob = xinf_logprobs_of (row, logits, row->top [at].token);
}

float
xinf_logprobs_of (const xinf_logprobs_row_t *row, const float *logits, uint32_t token)
{
    float logit = logits [token];
    if (row->infinite)                //  the +inf logits share all the mass
        return logit == INFINITY ? (float) -log ((double) row->infinite) : -INFINITY;
    if (isnan (logit) || !isfinite (row->normalizer))
        return -INFINITY;
    double logprob = (double) logit - row->normalizer;
    return logprob < 0 ? (float) logprob : 0.0f;
}

size_t
xinf_logprobs_wire_size (const xinf_logprobs_row_t *rows, size_t count)
{
    size_t size = S_HEADER;
    for (size_t row = 0; row < count; row++)
        size += 4 + (rows [row].asked ? 4 + (rows [row].asked - 1) * 8 : 0);
    return size;
}

void
xinf_logprobs_encode (const xinf_logprobs_row_t *rows, size_t count, void *bytes)
{
    unsigned char *at = (unsigned char *) bytes;
    uint32_t header [2] = { XINF_LOGPROBS_MAGIC, (uint32_t) count };
    memcpy (at, header, sizeof header);
    at += S_HEADER;
    for (size_t row = 0; row < count; row++) {
        s_put32 (at, &rows [row].asked);
        at += 4;
        if (!rows [row].asked)
            continue;
        s_put32 (at, &rows [row].logprob);
        at += 4;
        for (size_t top = 0; top + 1 < rows [row].asked; top++, at += 8) {
            s_put32 (at, &rows [row].top [top].token);
            s_put32 (at + 4, &rows [row].top [top].logprob);
        }
    }
}

//  The reason a row's fields are refused, or NULL.
static const char *
s_row_refused (const xinf_logprobs_row_t *row, size_t vocab)
{
    if (!(row->logprob <= 0))
        return "the sampled token's logprob is above 0 or NaN";
    for (size_t top = 0; top + 1 < row->asked; top++) {
        if (row->top [top].token >= vocab)
            return "a token at or above the vocabulary";
        if (!(row->top [top].logprob <= 0))
            return "a logprob above 0 or NaN";
        if (top && row->top [top].logprob > row->top [top - 1].logprob)
            return "logprobs not most likely first";
    }
    return NULL;
}

int
xinf_logprobs_decode (const void *bytes, size_t size, size_t count, const uint32_t *asked, size_t vocab,
                      xinf_logprobs_row_t *rows, char *error, size_t error_size)
{
    const unsigned char *at = (const unsigned char *) bytes, *end = at + size;
    if (size < S_HEADER || s_get32 (at) != XINF_LOGPROBS_MAGIC || s_get32 (at + 4) != count) {
        snprintf (error, error_size, "the logprobs frame's header is not \"LGPR\" with %zu rows", count);
        return -1;
    }
    at += S_HEADER;
    for (size_t index = 0; index < count; index++) {
        xinf_logprobs_row_t *row = &rows [index];
        if (end - at < 4 || (row->asked = s_get32 (at)) != asked [index] || row->asked > vocab + 1) {
            snprintf (error, error_size, "logprobs row %zu is cut or not what the step asked (%u)", index,
                      (unsigned) asked [index]);
            return -1;
        }
        at += 4;
        if (!row->asked)
            continue;
        if (row->asked > XINF_LOGPROBS_TOP_MAX + 1 || (size_t) (end - at) < 4 + (size_t) (row->asked - 1) * 8) {
            snprintf (error, error_size, "logprobs row %zu is cut", index);
            return -1;
        }
        row->logprob = s_get_float (at);
        at += 4;
        for (size_t top = 0; top + 1 < row->asked; top++, at += 8)
            row->top [top] = (xinf_logprob_t) { s_get32 (at), s_get_float (at + 4) };
        const char *refused = s_row_refused (row, vocab);
        if (refused) {
            snprintf (error, error_size, "logprobs row %zu: %s", index, refused);
            return -1;
        }
    }
    if (at != end) {
        snprintf (error, error_size, "the logprobs frame has %zu bytes past its %zu rows", (size_t) (end - at), count);
        return -1;
    }
    return 0;
}
