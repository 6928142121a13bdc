/*  test_assert.h: the one assertion kit of xinf's C tests (plain C, no
    runtime, no ZeroMQ, so the kernel tests use it too). Every CHECK works
    in all build types (it is not assert ()): a failure prints file:line,
    the expression and the values, and exits 1. RUN times a test function.

    tests/unit/test_unit.h adds what needs the runtime (CHECK_SOON, value
    helpers); tests/kernels/test_kernels.h adds random test data.
*/
#ifndef TEST_ASSERT_H_INCLUDED
#define TEST_ASSERT_H_INCLUDED

#include <math.h>
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

#define CHECK_STR(actual, expected) do { \
    const char *actual_ = (actual), *expected_ = (expected); \
    if (!actual_ || !expected_ || strcmp (actual_, expected_) != 0) { \
        fprintf (stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      \"%s\"\n  expected: \"%s\"\n", \
                 __FILE__, __LINE__, #actual, #expected, \
                 actual_ ? actual_ : "(null)", expected_ ? expected_ : "(null)"); \
        exit (1); \
    } \
} while (0)

//  'haystack' contains 'needle'
#define CHECK_HAS(haystack, needle) do { \
    const char *haystack_ = (haystack), *needle_ = (needle); \
    if (!haystack_ || !strstr (haystack_, needle_)) { \
        fprintf (stderr, "%s:%d: CHECK_HAS failed: %s contains \"%s\"\n  got: \"%s\"\n", \
                 __FILE__, __LINE__, #haystack, needle_, haystack_ ? haystack_ : "(null)"); \
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

//  Monotonic milliseconds, for timing tests and polling with a deadline.
static inline double
test_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec * 1e3 + (double) now.tv_nsec / 1e6;
}

#define RUN(test) do { \
    double start_ = test_now_ms (); \
    test (); \
    fprintf (stderr, "  ok  %-40s %7.1f ms\n", #test, test_now_ms () - start_); \
} while (0)

#endif
