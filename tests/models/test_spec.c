/*  test_spec: speculative decoding's drafts by prompt lookup, the
    acceptance rate and a draft's worth in a step (models/xinf_spec.h).
    The drafts' exactness through real steps is test_batching's.
*/
#include "test_unit.h"
#include "xinf_spec.h"
#include "xinf_spec_pool.h"

static size_t
s_lookup (const int32_t *tokens, size_t count, size_t min_n, size_t max_n, int32_t *draft, size_t max)
{
    for (size_t index = 0; index < max; index++)
        draft [index] = -7;
    size_t matched;
    size_t found = xinf_spec_lookup (tokens, count, min_n, max_n, draft, max, &matched);
    CHECK ((found == 0) == (matched == 0) && matched <= max_n);
    return found;
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
test_cost (void)
{
    //  A step of fixed 20 ms + 5 ms a token, 1 token giving 1: one draft
    //  pays when accepted more often than 5 / 25 of the time
    xinf_spec_cost_t line = { .fixed_ms = 20, .per_token_ms = 5 };
    double one [] = { 0.25 }, low [] = { 0.15 };
    CHECK_INT (xinf_spec_choose (&line, 1, 1, one, 1), 1);
    CHECK_INT (xinf_spec_choose (&line, 1, 1, low, 1), 0);
    //  Drafts of falling chances: as many as raise the tokens a ms,
    //  (1 + 0.8 + 0.64 + ...) / (25 + 5 k): 0.0738 at 3, 0.0747 at 4, 0.0738 at 5
    double falling [] = { 0.8, 0.64, 0.512, 0.41, 0.33, 0.26 };
    CHECK_INT (xinf_spec_choose (&line, 1, 1, falling, 6), 4);
    CHECK_INT (xinf_spec_choose (&line, 1, 1, falling, 0), 0);
    //  16 streams: 16 x 5 / 100 = 0.8 a draft
    double sure [] = { 0.85, 0.85 }, unsure [] = { 0.75 };
    CHECK_INT (xinf_spec_choose (&line, 16, 16, sure, 2), 2);
    CHECK_INT (xinf_spec_choose (&line, 16, 16, unsure, 1), 0);
    //  Measured sizes win over the line: 16 tokens 74 ms, 17 to 31 far
    //  more (the kernels' next group of 16), 32 tokens 122 ms: one sure
    //  draft never pays (17 / 100 < 16 / 74), sixteen do (32 / 122)
    xinf_spec_cost_t sized = line;
    sized.measured_ms [16] = 74;
    for (size_t size = 17; size < 32; size++)
        sized.measured_ms [size] = 100 + (double) (size - 17) * 2;
    sized.measured_ms [32] = 122;
    double all [16];
    for (size_t index = 0; index < 16; index++)
        all [index] = 1;
    CHECK_INT (xinf_spec_choose (&sized, 16, 16, all, 1), 0);
    CHECK_INT (xinf_spec_choose (&sized, 16, 16, all, 16), 16);
    for (size_t index = 0; index < 16; index++)
        all [index] = 0.3;                                //  unlikely ones: 20.8 / 122 < 16 / 74
    CHECK_INT (xinf_spec_choose (&sized, 16, 16, all, 16), 0);
    CHECK (xinf_spec_step_ms (&sized, 16, 16) == 74 && xinf_spec_step_ms (&sized, 40, 16) == 220);
    CHECK (xinf_spec_step_ms (&sized, 200, 16) == 1020);              //  past the table: the line
    //  Free per token (a GPU bound by memory): any chance; none: never
    xinf_spec_cost_t free_cost = { .fixed_ms = 10 };
    double tiny [] = { 0.01, 0 };
    CHECK_INT (xinf_spec_choose (&free_cost, 64, 64, tiny, 2), 1);
    //  Unknown cost: a fixed part of 4 tokens, so 1 / 5 at one stream; a
    //  size measured alone scales the rest
    xinf_spec_cost_t unknown = { 0 };
    CHECK_INT (xinf_spec_choose (&unknown, 1, 1, one, 1), 1);
    CHECK_INT (xinf_spec_choose (&unknown, 1, 1, low, 1), 0);
    unknown.measured_ms [1] = 50;
    CHECK (xinf_spec_step_ms (&unknown, 1, 1) == 50 && xinf_spec_step_ms (&unknown, 2, 1) == 60);
    CHECK (xinf_spec_step_ms (&unknown, 3, 0) == 7);
}

//  Recent answers for the drafts of later sequences.
static void
test_pool (void)
{
    CHECK (xinf_spec_pool_new (64, 0, 4) == NULL && xinf_spec_pool_new (64, 3, 2) == NULL
           && xinf_spec_pool_new (64, 1, 17) == NULL && xinf_spec_pool_new (0, 1, 2) == NULL);
    xinf_spec_pool_t *pool = xinf_spec_pool_new (64, 2, 3);
    CHECK (pool);
    int32_t draft [8];
    int32_t first [] = { 10, 11, 12, 13, 14, 15, 16 };
    xinf_spec_pool_add (pool, first, 7);
    //  "x 11 12" -> 13 14 15 16 (to the end of the run)
    int32_t asks [] = { 99, 11, 12 };
    CHECK_INT (xinf_spec_pool_lookup (pool, asks, 3, draft, 8, NULL), 4);
    CHECK (draft [0] == 13 && draft [3] == 16);
    CHECK_INT (xinf_spec_pool_lookup (pool, asks, 3, draft, 2, NULL), 2);
    //  A suffix of 1 token is below min_n; one never kept finds nothing
    int32_t one [] = { 99, 12 };
    CHECK_INT (xinf_spec_pool_lookup (pool, one + 1, 1, draft, 8, NULL), 0);
    int32_t none [] = { 12, 11 };
    CHECK_INT (xinf_spec_pool_lookup (pool, none, 2, draft, 8, NULL), 0);
    //  The run's end has nothing after it; n-grams never span two runs
    int32_t last [] = { 15, 16 };
    CHECK_INT (xinf_spec_pool_lookup (pool, last, 2, draft, 8, NULL), 0);
    int32_t second [] = { 16, 10, 20, 21, 12, 13, 30 };
    xinf_spec_pool_add (pool, second, 7);
    CHECK_INT (xinf_spec_pool_lookup (pool, last, 2, draft, 8, NULL), 0);    //  "15 16" then the gap
    int32_t across [] = { 16, 10 };
    CHECK_INT (xinf_spec_pool_lookup (pool, across, 2, draft, 8, NULL), 5);  //  within the second run only
    CHECK (draft [0] == 20 && draft [4] == 30);
    //  The most recent occurrence wins, and the longest suffix first:
    //  "12 13" was last followed by 30, "11 12 13" by 14
    int32_t recent [] = { 5, 12, 13 };
    CHECK_INT (xinf_spec_pool_lookup (pool, recent, 3, draft, 1, NULL), 1);
    CHECK_INT (draft [0], 30);
    int32_t longest [] = { 11, 12, 13 };
    size_t matched = 0;
    CHECK_INT (xinf_spec_pool_lookup (pool, longest, 3, draft, 1, &matched), 1);
    CHECK (draft [0] == 14 && matched == 3);
    CHECK_INT (xinf_spec_pool_lookup (pool, none, 2, draft, 8, &matched), 0);
    CHECK_INT (matched, 0);
    //  Runs past the ring's 64 tokens push the oldest out
    int32_t filler [30];
    for (int round = 0; round < 3; round++) {
        for (int at = 0; at < 30; at++)
            filler [at] = 100 + round * 30 + at;
        xinf_spec_pool_add (pool, filler, 30);
    }
    CHECK_INT (xinf_spec_pool_lookup (pool, asks, 3, draft, 8, NULL), 0);
    int32_t kept [] = { 162, 163 };
    CHECK_INT (xinf_spec_pool_lookup (pool, kept, 2, draft, 1, NULL), 1);
    CHECK_INT (draft [0], 164);
    //  Negative tokens are not kept (a gap is -1)
    int32_t gaps [] = { 7, -1, 8, 9 };
    xinf_spec_pool_add (pool, gaps, 4);
    int32_t seven [] = { 7, 8 };
    CHECK_INT (xinf_spec_pool_lookup (pool, seven, 2, draft, 2, NULL), 1);
    CHECK_INT (draft [0], 9);
    xinf_spec_pool_destroy (&pool);
    CHECK (pool == NULL);
    //  Many runs through a small index: a draft found is always what
    //  followed an occurrence of a suffix of min_n or more tokens in the
    //  ring's last 256 entries (mirrored here, runs apart)
    pool = xinf_spec_pool_new (256, 1, 4);
    int32_t mirror [256];
    size_t end = 0, found = 0;
    uint64_t state = 5;
    int32_t run [40], asked [4];
    for (int round = 0; round < 2000; round++) {
        for (int at = 0; at < 40; at++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            run [at] = (int32_t) ((state >> 33) % 12);
            mirror [end++ % 256] = run [at];
        }
        mirror [end++ % 256] = -1;
        xinf_spec_pool_add (pool, run, 40);
        for (int at = 0; at < 4; at++)
            asked [at] = (int32_t) ((state >> (8 * at)) % 12);
        size_t n = xinf_spec_pool_lookup (pool, asked, 4, draft, 8, NULL);
        bool seen = n == 0;
        for (size_t from = end > 256 ? end - 256 : 0; !seen && from + 1 < end; from++) {
            bool same = mirror [from % 256] == asked [3];
            for (size_t at = 0; same && at < n; at++)
                same = from + 1 + at < end && mirror [(from + 1 + at) % 256] == draft [at];
            seen = same;
        }
        CHECK (seen);
        found += n > 0;
    }
    CHECK (found > 1000);
    xinf_spec_pool_destroy (&pool);
}

int
main (void)
{
    RUN (test_lookup);
    RUN (test_rate);
    RUN (test_cost);
    RUN (test_pool);
    return 0;
}
