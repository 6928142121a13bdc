/*  test_kernels.h: the assertion kit and helpers of the kernel tests (no
    runtime or ZeroMQ: the kernels stand alone).  */
#ifndef TEST_KERNELS_H_INCLUDED
#define TEST_KERNELS_H_INCLUDED

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(expr) do { \
    if (!(expr)) { \
        fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
        exit (1); \
    } \
} while (0)

#define CHECK_INT(actual, expected) do { \
    long long actual_ = (long long) (actual), expected_ = (long long) (expected); \
    if (actual_ != expected_) { \
        fprintf (stderr, "%s:%d: CHECK_INT failed: %s == %s\n  got:      %lld\n  expected: %lld\n", \
                 __FILE__, __LINE__, #actual, #expected, actual_, expected_); \
        exit (1); \
    } \
} while (0)

//  |actual - expected| <= tolerance * (1 + |expected|)
#define CHECK_NEAR(actual, expected, tolerance) do { \
    double actual_ = (actual), expected_ = (expected); \
    if (!(fabs (actual_ - expected_) <= (tolerance) * (1 + fabs (expected_)))) { \
        fprintf (stderr, "%s:%d: CHECK_NEAR failed: %s ~ %s\n  got:      %.9g\n  expected: %.9g\n", \
                 __FILE__, __LINE__, #actual, #expected, actual_, expected_); \
        exit (1); \
    } \
} while (0)

static inline double
test_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

#define RUN(test) do { \
    double start_ = test_now_ms (); \
    test (); \
    fprintf (stderr, "  ok  %-40s %7.1f ms\n", #test, test_now_ms () - start_); \
} while (0)

//  A small deterministic generator for test data.
static inline uint64_t
test_random (uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

//  Uniform in [-1, 1).
static inline float
test_uniform (uint64_t *state)
{
    return (float) ((double) test_random (state) / 2147483648.0 * 2 - 1);
}

static inline float *
test_floats (size_t count, uint64_t *state)
{
    float *values = malloc ((count ? count : 1) * sizeof (float));
    CHECK (values);
    for (size_t i = 0; i < count; i++)
        values [i] = test_uniform (state);
    return values;
}

#endif
