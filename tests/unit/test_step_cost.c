/*  test_step_cost: the step-time model of a replica (actors/xinf_step_cost):
    unknown until steps of two sizes were seen, then fixed + per-token
    recovered from exact and noisy steps, following a change of load,
    keeping its slope through steps of one size, and the prompt cap it
    gives: 0 without streams, the fallback while unknown, larger with
    more requests waiting, within 4 and step_tokens; the mean time of
    steps by their size.  */
#include "test_unit.h"
#include "xinf_step_cost.h"

#include <math.h>

#define CLOSE(a, b, tol) CHECK (fabs ((a) - (b)) <= (tol))

static void
s_test_unknown (void)
{
    xinf_step_cost_t *cost = xinf_step_cost_new ();
    CHECK (!xinf_step_cost_known (cost));
    CHECK (xinf_step_cost_ms (cost, 10) == 0);
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 3, 1, 512, 16), 16);
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 0, 5, 512, 16), 0);
    for (int step = 0; step < 10; step++)      //  one size only: no slope
        xinf_step_cost_add (cost, 4, 30.0);
    CHECK (!xinf_step_cost_known (cost));
    xinf_step_cost_add (cost, 0, 5.0);         //  empty or bad steps are ignored
    xinf_step_cost_add (cost, 8, NAN);
    xinf_step_cost_add (cost, 8, -1);
    CHECK (!xinf_step_cost_known (cost));
    xinf_step_cost_destroy (&cost);
    CHECK (cost == NULL);
    xinf_step_cost_destroy (&cost);
}

static void
s_test_fit (void)
{
    xinf_step_cost_t *cost = xinf_step_cost_new ();
    for (size_t step = 0; step < 40; step++) {   //  ms = 50 + 6 n exactly
        size_t tokens = 1 + (step * 7) % 40;
        xinf_step_cost_add (cost, tokens, 50.0 + 6.0 * (double) tokens);
    }
    CHECK (xinf_step_cost_known (cost));
    CLOSE (xinf_step_cost_per_token_ms (cost), 6.0, 1e-9);
    CLOSE (xinf_step_cost_ms (cost, 0), 50.0, 1e-9);
    CLOSE (xinf_step_cost_ms (cost, 100), 650.0, 1e-6);
    //  Noise of +-3 ms around 20 + 2 n
    for (size_t step = 0; step < 64; step++) {
        size_t tokens = 1 + (step * 13) % 64;
        xinf_step_cost_add (cost, tokens, 20.0 + 2.0 * (double) tokens + (step % 2 ? 3.0 : -3.0));
    }
    CLOSE (xinf_step_cost_per_token_ms (cost), 2.0, 0.2);
    CLOSE (xinf_step_cost_ms (cost, 0), 20.0, 5.0);
    //  Steady decode of one size twice as slow (the machine got busy): once
    //  the window holds only those steps, the model predicts them exactly
    //  and keeps a slope
    for (size_t step = 0; step < XINF_STEP_COST_WINDOW; step++)
        xinf_step_cost_add (cost, 16, 2 * (20.0 + 2.0 * 16));
    double slope = xinf_step_cost_per_token_ms (cost);
    CHECK (slope > 0);
    CLOSE (xinf_step_cost_ms (cost, 16), 104.0, 1e-6);
    xinf_step_cost_add (cost, 16, 104.0);
    CLOSE (xinf_step_cost_per_token_ms (cost), slope, 1e-12);
    xinf_step_cost_destroy (&cost);
}

static void
s_test_cap (void)
{
    xinf_step_cost_t *cost = xinf_step_cost_new ();
    for (size_t tokens = 1; tokens <= 32; tokens++)   //  ms = 40 + 4 n
        xinf_step_cost_add (cost, tokens, 40.0 + 4.0 * (double) tokens);
    //  1 stream, one prompt waiting: 1.5 decode steps (66 ms) of prompt = 16 tokens
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 1, 1, 512, 16), 16);
    //  3 waiting beside 4 streams: 3.5 x 56 ms / 4 = 49 tokens
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 4, 3, 512, 16), 49);
    //  A burst (10 waiting, 1 stream): the whole step
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 1, 10, 512, 16), 512);
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 4, 4, 512, 16), 512);
    CHECK (xinf_step_cost_prompt_cap (cost, 8, 1, 512, 16) > xinf_step_cost_prompt_cap (cost, 1, 1, 512, 16));
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 1, 1000, 512, 16), 512);
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 20, 10, 64, 16), 64);
    xinf_step_cost_destroy (&cost);
    //  A tiny fixed part cannot make the cap smaller than 4 tokens
    cost = xinf_step_cost_new ();
    for (size_t tokens = 1; tokens <= 32; tokens++)
        xinf_step_cost_add (cost, tokens, 100.0 * (double) tokens);
    CHECK_INT (xinf_step_cost_prompt_cap (cost, 1, 1, 512, 16), 4);
    xinf_step_cost_destroy (&cost);
}

//  Steps timed by their size too (what a draft costs a step of that
//  size): the first as it came, then each weighing a quarter.
static void
s_test_sizes (void)
{
    xinf_step_cost_t *cost = xinf_step_cost_new ();
    CHECK (xinf_step_cost_size_ms (cost, 16) == 0);
    xinf_step_cost_add (cost, 16, 80.0);
    CLOSE (xinf_step_cost_size_ms (cost, 16), 80.0, 1e-12);
    xinf_step_cost_add (cost, 16, 40.0);
    CLOSE (xinf_step_cost_size_ms (cost, 16), 70.0, 1e-12);
    xinf_step_cost_add (cost, 16, NAN);            //  ignored, as by the line
    CLOSE (xinf_step_cost_size_ms (cost, 16), 70.0, 1e-12);
    CHECK (xinf_step_cost_size_ms (cost, 17) == 0);
    xinf_step_cost_add (cost, XINF_STEP_COST_SIZES, 500.0);    //  past the table: the line only
    CHECK (xinf_step_cost_size_ms (cost, XINF_STEP_COST_SIZES) == 0);
    xinf_step_cost_destroy (&cost);
}

int
main (void)
{
    s_test_unknown ();
    s_test_fit ();
    s_test_cap ();
    s_test_sizes ();
    printf ("unit_step_cost: OK\n");
    return 0;
}
