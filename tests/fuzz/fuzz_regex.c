/*  fuzz_regex: any bytes as a regular expression (guided_regex, which any
    client sends) and as a GBNF grammar (grammar): compiled or refused with
    a reason, never a crash, a hang past the compile budget or a leak. A compiled one is driven over
    the input's own bytes: feeding a text must agree with stepping it
    byte by byte, a refused byte must leave the state as it was, and a
    whole match must be accepted exactly where xinf_regex_match says; from
    every state reached, a state that takes no byte must be a whole match
    (the automaton keeps no dead ends; a recursive grammar's only where
    none of its limits refused a byte: xinf_pda.h).  */
#include "fuzz.h"
#include "xinf_pda.h"
#include "xinf_regex.h"
#include "xinf_regex_private.h"

#include <stdlib.h>
#include <string.h>

static void
s_check (bool condition)
{
    if (!condition)
        abort ();
}

//  Whether 'state' takes any byte.
static bool
s_takes_any (const xinf_regex_state_t *state)
{
    for (unsigned byte = 0; byte < 256; byte++) {
        xinf_regex_state_t copy = *state;
        if (xinf_regex_step (&copy, (unsigned char) byte))
            return true;
    }
    return false;
}

//  Whether a recursive grammar refused a byte for a limit.
static bool
s_limited (const xinf_regex_t *regex)
{
    return regex->pda && xinf_pda_limited (regex->pda);
}

//  The checks on a compiled automaton, driven over the input's bytes.
static void
s_drive (xinf_regex_t *regex, const uint8_t *data, size_t size)
{
    xinf_regex_state_t state, fed;
    xinf_regex_start (&state, regex);
    xinf_regex_start (&fed, regex);
    size_t taken = 0;
    for (; taken < size; taken++) {
        s_check (s_takes_any (&state) || xinf_regex_done (&state) || s_limited (regex));
        xinf_regex_state_t before = state;
        if (!xinf_regex_step (&state, data [taken])) {
            s_check (memcmp (&before, &state, sizeof state) == 0);
            break;
        }
    }
    bool all = xinf_regex_feed (&fed, data, size);
    s_check (all == (taken == size));
    s_check (xinf_regex_match (regex, (const char *) data, size) == (all && xinf_regex_accepting (&fed)));
    s_check (!xinf_regex_done (&state) || xinf_regex_accepting (&state));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    for (int gbnf = 0; gbnf < 2; gbnf++) {
        char error [400];
        error [0] = 0;
        xinf_regex_t *regex = gbnf ? xinf_regex_new_gbnf ((const char *) data, size, error, sizeof error)
                                   : xinf_regex_new ((const char *) data, size, error, sizeof error);
        s_check (regex || error [0] != 0);
        if (regex)
            s_drive (regex, data, size);
        xinf_regex_destroy (&regex);
    }
    return 0;
}
