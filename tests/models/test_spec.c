/*  test_spec: speculative decoding's drafts by prompt lookup, the
    acceptance rate and a draft's worth in a step (models/xinf_spec.h).
    The drafts' exactness through real steps is test_batching's.
*/
#include "test_unit.h"
#include "xinf_spec.h"

static size_t
s_lookup (const int32_t *tokens, size_t count, size_t min_n, size_t max_n, int32_t *draft, size_t max)
{
    for (size_t index = 0; index < max; index++)
        draft [index] = -7;
    return xinf_spec_lookup (tokens, count, min_n, max_n, draft, max);
}

static void
test_lookup (void)
{
    int32_t draft [8];
    //  "a b c d a b" -> the suffix "a b" was followed by "c d a b"
    int32_t quote [] = { 1, 2, 3, 4, 1, 2 };
    CHECK_INT (s_lookup (quote, 6, 2, 4, draft, 3), 3);
    CHECK (draft [0] == 3 && draft [1] == 4 && draft [2] == 1);
    //  No earlier occurrence of a suffix of min_n tokens
    int32_t fresh [] = { 1, 2, 3, 4, 5, 2 };
    CHECK_INT (s_lookup (fresh, 6, 2, 4, draft, 3), 0);
    CHECK_INT (draft [0], -7);
    CHECK_INT (s_lookup (fresh, 6, 1, 4, draft, 2), 2);       //  "2" alone was followed by "3 4"
    CHECK (draft [0] == 3 && draft [1] == 4);
    //  The longest suffix wins over a more recent shorter one: "7 8 9"
    //  at 0 (then 5) against "8 9" at 5 (then 6)
    int32_t longest [] = { 7, 8, 9, 5, 8, 9, 6, 7, 8, 9 };
    CHECK_INT (s_lookup (longest, 10, 1, 4, draft, 1), 1);
    CHECK_INT (draft [0], 5);
    //  ... and the most recent among equals
    int32_t recent [] = { 8, 9, 1, 8, 9, 2, 8, 9 };
    CHECK_INT (s_lookup (recent, 8, 2, 2, draft, 1), 1);
    CHECK_INT (draft [0], 2);
    //  max_n caps the suffix compared: "3 8 9" matches both at length 2
    CHECK_INT (s_lookup (longest, 10, 1, 2, draft, 1), 1);
    CHECK_INT (draft [0], 6);
    //  A loop goes on: "x y x y x y" drafts "x y x y ..."
    int32_t loop [] = { 5, 6, 5, 6, 5, 6 };
    CHECK_INT (s_lookup (loop, 6, 2, 4, draft, 5), 5);
    CHECK (draft [0] == 5 && draft [1] == 6 && draft [2] == 5 && draft [3] == 6 && draft [4] == 5);
    int32_t same [] = { 3, 3 };
    CHECK_INT (s_lookup (same, 2, 1, 4, draft, 4), 4);
    CHECK (draft [0] == 3 && draft [3] == 3);
    //  Only the 64 most recent occurrences of the last token are compared:
    //  "41 42" at 1-2 (then 99) is not found behind 146 more recent "42"s,
    //  the most recent of which (then 43) is taken
    int32_t far [299] = { 40, 41, 42, 99 };
    for (size_t at = 4; at < 297; at++)
        far [at] = at % 2 ? 42 : 43;
    far [297] = 41;
    far [298] = 42;
    CHECK_INT (s_lookup (far, 299, 1, 2, draft, 1), 1);
    CHECK_INT (draft [0], 43);
    int32_t near [20] = { 40, 41, 42, 99 };                   //  7 "42"s between: the longest wins
    for (size_t at = 4; at < 18; at++)
        near [at] = at % 2 ? 42 : 43;
    near [18] = 41;
    near [19] = 42;
    CHECK_INT (s_lookup (near, 20, 1, 2, draft, 1), 1);
    CHECK_INT (draft [0], 99);
    //  Nothing to look up, nothing asked, bad sizes
    CHECK_INT (s_lookup (same, 1, 1, 4, draft, 4), 0);
    CHECK_INT (s_lookup (same, 2, 1, 4, draft, 0), 0);
    CHECK_INT (s_lookup (same, 2, 0, 4, draft, 4), 0);
    CHECK_INT (s_lookup (same, 2, 3, 2, draft, 4), 0);
    CHECK_INT (s_lookup (quote, 6, 3, 4, draft, 2), 0);       //  "4 1 2" never occurred before
}

static void
test_rate (void)
{
    xinf_spec_rate_t rate = { 0, 0 };
    CHECK (xinf_spec_rate (&rate) == 0.5);                    //  the prior: one in two
    for (int step = 0; step < 20; step++)
        xinf_spec_rate_add (&rate, 0, 1);                     //  the first draft fails every time
    double low = xinf_spec_rate (&rate);
    CHECK (low < 0.15);
    for (int step = 0; step < 30; step++)
        xinf_spec_rate_add (&rate, 0, 0);                     //  steps without drafts: it fades back
    CHECK (xinf_spec_rate (&rate) > 0.45);
    xinf_spec_rate_t good = { 0, 0 };
    for (int step = 0; step < 20; step++)
        xinf_spec_rate_add (&good, 4, 4);
    CHECK (xinf_spec_rate (&good) > 0.9 && xinf_spec_rate (&good) < 1);
}

static void
test_worth (void)
{
    //  A step of fixed 20 ms + 5 ms a token, 1 token giving 1: a draft must
    //  be accepted more often than 5 / 25 of the time
    CHECK (xinf_spec_worth (0.25, 1, 1, 20, 5));
    CHECK (!xinf_spec_worth (0.15, 1, 1, 20, 5));
    //  16 streams: 16 x 5 / 100 = 0.8
    CHECK (xinf_spec_worth (0.85, 16, 16, 20, 5));
    CHECK (!xinf_spec_worth (0.75, 16, 16, 20, 5));
    //  Free per token (a GPU bound by memory): any chance; none: never
    CHECK (xinf_spec_worth (0.01, 64, 64, 10, 0));
    CHECK (!xinf_spec_worth (0, 1, 1, 10, 0));
    //  Unknown cost: a fixed part of 4 tokens, so 1 / 5 at one stream
    CHECK (xinf_spec_worth (0.25, 1, 1, 0, 0));
    CHECK (!xinf_spec_worth (0.15, 1, 1, 0, 0));
}

int
main (void)
{
    RUN (test_lookup);
    RUN (test_rate);
    RUN (test_worth);
    return 0;
}
