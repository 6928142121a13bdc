/*  xinf-bench-json: what constrained decoding of JSON objects costs a
    replica (response_format json_object: models/xinf_json_masks.h) on a
    model file's vocabulary, against sampling a row of that vocabulary.

    Usage: xinf-bench-json MODEL.gguf [--rounds N]
    It builds the vocabulary's trie (time, nodes), then walks a JSON answer
    of about 700 bytes as the model file's tokenizer cuts it: for each
    token, the mask of the state before it, as one JSON object and as a
    value of a schema it keeps: each walked afresh (mean and worst
    microseconds; for the object also the whole trie, without the plain
    text tokens set apart), and as a match of a regular expression of
    JSON's tokens (guided_regex), then as a replica gets them (the masks'
    cache over the answer), and for a second request with the same
    expression, compiled again or shared as a replica shares it; as a
    match of llama.cpp's json.gbnf (a grammar with recursion: the first
    walks, which compute its positions' transitions, then as above).
    Each token of the answer must be in its mask (the tool checks that). The baseline, from the same run: one T 1
    draw by the CPU sampler over a row of the vocabulary's logits, which
    every sampled token costs anyway.
*/
#include "xinf_json_masks.h"
#include "xinf_json_schema.h"
#include "xinf_model.h"
#include "xinf_sampler.h"
#include "xinf_token_mask.h"
#include "xinf_vocab_trie.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *s_answer =
    "{\n  \"name\": \"Ada Lovelace\",\n  \"born\": 1815,\n  \"died\": 1852,\n  \"fields\": [\"mathematics\", "
    "\"computing\"],\n  \"notes\": \"Wrote the first algorithm meant for a machine (the Analytical Engine); "
    "translated Menabrea's paper and tripled it with her notes.\",\n  \"score\": 9.75e-1,\n  \"verified\": true,\n"
    "  \"spouse\": {\"name\": \"William King\", \"title\": \"Earl of Lovelace\", \"children\": 3},\n"
    "  \"quotes\": [\n    {\"text\": \"The Analytical Engine weaves algebraic patterns just as the Jacquard loom "
    "weaves flowers and leaves.\", \"year\": 1843},\n    {\"text\": \"That brain of mine is something more than "
    "merely mortal; as time will show.\", \"year\": null}\n  ],\n  \"unicode\": \"caf\\u00e9 \xe2\x80\x94 "
    "\xe4\xb8\xad\xe6\x96\x87\",\n  \"tags\": [\"pioneer\", \"poet's daughter\", \"analyst\"]\n}";

//  A regular expression the answer matches whole (guided_regex): JSON's
//  tokens, loosely.
static const char *s_regex =
    "\\{(?:\\s|\"(?:[^\"\\\\]|\\\\.)*\"|[-+.\\w]+|[:,\\[\\]{}])*\\}";

//  A schema the answer keeps.
static const char *s_schema =
    "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, \"born\": {\"type\": \"integer\"}, "
    "\"died\": {\"type\": \"integer\"}, \"fields\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}, "
    "\"notes\": {\"type\": \"string\"}, \"score\": {\"type\": \"number\"}, \"verified\": {\"type\": \"boolean\"}, "
    "\"spouse\": {\"anyOf\": [{\"$ref\": \"#/$defs/spouse\"}, {\"type\": \"null\"}]}, "
    "\"quotes\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {\"text\": "
    "{\"type\": \"string\"}, \"year\": {\"type\": [\"integer\", \"null\"]}}, \"required\": [\"text\", \"year\"]}}, "
    "\"unicode\": {\"type\": \"string\"}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, "
    "\"maxItems\": 5}}, \"required\": [\"name\", \"born\"], \"$defs\": {\"spouse\": {\"type\": \"object\", "
    "\"properties\": {\"name\": {\"type\": \"string\"}, \"title\": {\"type\": \"string\"}, \"children\": "
    "{\"type\": \"integer\"}}}}}";

//  llama.cpp's grammars/json.gbnf (rules that recurse: a pushdown
//  automaton, xinf_pda.h), which the answer matches whole.
static const char *s_json_gbnf =
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array  ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4}) )* "
    "\"\\\"\" ws\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

//  The states of 'grammar' before each token of 'ids' (count of them),
//  from 'start'; false when a token is not allowed where it comes.
static bool
s_states (xinf_json_masks_t *masks, const xinf_grammar_t *grammar, const xinf_grammar_state_t *start,
          const int32_t *ids, size_t count, xinf_grammar_state_t *states)
{
    xinf_grammar_state_t state = *start;
    for (size_t index = 0; index < count; index++) {
        states [index] = state;
        if (!xinf_json_masks_take (masks, grammar, &state, ids [index]))
            return false;
    }
    return grammar->may_end (&state);
}

//  Each state's mask walked afresh (best of 'rounds'), checked to hold
//  the next token, then as a replica gets them (the cache); printed
//  against a draw of 'sample' seconds. -1 when a token is not in its mask.
static int
s_measure (xinf_json_masks_t *masks, const xinf_grammar_t *grammar, const xinf_grammar_state_t *states,
           const int32_t *ids, long count, uint32_t *bits, int rounds, double sample)
{
    double total = 0, worst = 0;
    for (long index = 0; index < count; index++) {
        double best = INFINITY;
        for (int round = 0; round < rounds; round++) {
            double begin = s_now ();
            xinf_json_masks_walk (masks, grammar, &states [index], bits);
            best = fmin (best, s_now () - begin);
        }
        if (!((bits [ids [index] / 32] >> (ids [index] % 32)) & 1)) {
            fprintf (stderr, "xinf-bench-json: %s: token %ld (id %d) is not in its mask\n", grammar->name, index,
                     ids [index]);
            return -1;
        }
        total += best;
        worst = fmax (worst, best);
    }
    size_t walks [2], hits;
    xinf_json_masks_counts (masks, &walks [0], &hits);
    double start = s_now ();
    for (long index = 0; index < count; index++)
        xinf_json_masks_get (masks, grammar, &states [index]);
    double cached = (s_now () - start) / (double) count, fresh = total / (double) count;
    xinf_json_masks_counts (masks, &walks [1], &hits);
    printf ("  %-12s a mask walked afresh: mean %6.1f us, worst %6.1f us (%.2fx a T 1 draw); as a replica "
            "(cache): %5.1f us a token, %zu walks for %ld tokens (%.2fx)\n", grammar->name, fresh * 1e6, worst * 1e6,
            fresh / sample, cached * 1e6, walks [1] - walks [0], count, cached / sample);
    return 0;
}

//  A second request with the same expression, as a replica serves it:
//  its own compile (a fresh automaton: the cached masks are keyed on the
//  first) against the replica's shared one (xinf_constraints.h).
static int
s_second_request (xinf_json_masks_t *masks, xinf_regex_t *shared, const int32_t *ids, long count,
                  xinf_grammar_state_t *states)
{
    char error [400];
    for (int own = 1; own >= 0; own--) {
        double start = s_now ();
        xinf_regex_t *regex = own ? xinf_regex_new (s_regex, strlen (s_regex), error, sizeof error) : shared;
        xinf_grammar_state_t first;
        if (!regex)
            return -1;
        xinf_regex_start (&first.regex, regex);
        size_t walks [2], hits;
        xinf_json_masks_counts (masks, &walks [0], &hits);
        if (!s_states (masks, &xinf_grammar_regex, &first, ids, (size_t) count, states))
            return -1;
        for (long index = 0; index < count; index++)
            xinf_json_masks_get (masks, &xinf_grammar_regex, &states [index]);
        double spent = s_now () - start;
        xinf_json_masks_counts (masks, &walks [1], &hits);
        printf ("  regex, a second request, %s: %zu walks for %ld tokens, %.1f us a token (its compile "
                "included)\n", own ? "its expression compiled again" : "the replica's shared automaton",
                walks [1] - walks [0], count, spent / (double) count * 1e6);
        if (own)
            xinf_regex_destroy (&regex);
    }
    return 0;
}

//  llama.cpp's json.gbnf as a grammar with recursion: compiled, each
//  mask walked the first time (its positions' transitions computed as
//  they are reached), then afresh and through the cache.
static int
s_json_gbnf_masks (xinf_json_masks_t *masks, const int32_t *ids, long count, xinf_grammar_state_t *states,
                   uint32_t *bits, int rounds, double sample)
{
    char error [400];
    double start = s_now ();
    xinf_regex_t *grammar = xinf_regex_new_gbnf (s_json_gbnf, strlen (s_json_gbnf), error, sizeof error);
    double compile = s_now () - start;
    xinf_grammar_state_t first;
    if (grammar)
        xinf_regex_start (&first.regex, grammar);
    if (!grammar || !s_states (masks, &xinf_grammar_regex, &first, ids, (size_t) count, states)) {
        fprintf (stderr, "xinf-bench-json: json.gbnf: %s\n", grammar ? "the answer does not match" : error);
        xinf_regex_destroy (&grammar);
        return -1;
    }
    start = s_now ();
    for (long index = 0; index < count; index++)
        xinf_json_masks_walk (masks, &xinf_grammar_regex, &states [index], bits);
    double cold = (s_now () - start) / (double) count;
    printf ("  json.gbnf (llama.cpp's, rules that recurse): compiled in %.2f ms; the first walks %.1f us a token "
            "(%.2fx a T 1 draw); then %zu positions in %zu bytes\n", compile * 1e3, cold * 1e6, cold / sample,
            xinf_regex_states (grammar), xinf_regex_bytes (grammar));
    int rc = s_measure (masks, &xinf_grammar_regex, states, ids, count, bits, rounds, sample);
    xinf_regex_destroy (&grammar);
    return rc;
}

//  guided_regex and guided_choice as users write them: each answer's
//  masks walked afresh and through the cache.
static int
s_short_regexes (xinf_json_masks_t *masks, xinf_tokenizer_t *tokenizer, uint32_t *bits, int rounds, double sample)
{
    static const char *const cases [][2] = {
        { "\\(\\d{3}\\) \\d{3}-\\d{4}", "(555) 123-4567" },
        { "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z", "2026-12-05T19:40:00Z" },
        { "positive|negative|neutral|mixed feelings", "mixed feelings" },
        { "[A-Z][a-z]+ [A-Z][a-z]+, \\d{1,3} years", "Ada Lovelace, 36 years" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        char error [400];
        xinf_regex_t *regex = xinf_regex_new (cases [index][0], strlen (cases [index][0]), error, sizeof error);
        size_t length = strlen (cases [index][1]);
        int32_t ids [64];
        long count = xinf_tokenizer_encode (tokenizer, cases [index][1], length, false, ids, 64);
        xinf_grammar_state_t start, states [64];
        if (regex)
            xinf_regex_start (&start.regex, regex);
        if (!regex || count <= 0 || !s_states (masks, &xinf_grammar_regex, &start, ids, (size_t) count, states)) {
            fprintf (stderr, "xinf-bench-json: '%s' does not match '%s'\n", cases [index][1], cases [index][0]);
            return -1;
        }
        printf ("  regex %s (%zu states), answer '%s' (%ld tokens):\n", cases [index][0], xinf_regex_states (regex),
                cases [index][1], count);
        int rc = s_measure (masks, &xinf_grammar_regex, states, ids, count, bits, rounds, sample);
        xinf_regex_destroy (&regex);
        if (rc)
            return -1;
    }
    return 0;
}

//  The best of 'rounds' T 1 draws over a row of normal logits, seconds.
static double
s_sampling (size_t vocab, int rounds)
{
    float *logits = malloc (vocab * sizeof (float));
    uint64_t lcg = 7;
    for (size_t index = 0; index < vocab; index++) {
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        logits [index] = (float) ((double) (lcg >> 11) / 9007199254740992.0 * 6.0 - 3.0);
    }
    xinf_sampler_t *sampler = xinf_sampler_new (1, 0, 1, 1);
    double best = INFINITY;
    for (int round = 0; round < rounds; round++) {
        double start = s_now ();
        xinf_sampler_sample (sampler, logits, vocab);
        best = fmin (best, s_now () - start);
    }
    xinf_sampler_destroy (&sampler);
    free (logits);
    return best;
}

int
main (int argc, char *argv [])
{
    int rounds = 3;
    if (argc >= 4 && strcmp (argv [2], "--rounds") == 0)
        rounds = atoi (argv [3]);
    if (argc < 2 || rounds < 1) {
        fprintf (stderr, "usage: xinf-bench-json MODEL.gguf [--rounds N]\n");
        return 2;
    }
    char error [512];
    xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (argv [1], error, sizeof error);
    if (!tokenizer) {
        fprintf (stderr, "xinf-bench-json: %s\n", error);
        return 1;
    }
    size_t vocab = xinf_tokenizer_vocab (tokenizer), length = strlen (s_answer);
    double start = s_now ();
    xinf_vocab_trie_t *trie = xinf_vocab_trie_new (tokenizer, NULL);
    double trie_s = s_now () - start;
    start = s_now ();
    xinf_json_masks_t *masks = xinf_json_masks_new (tokenizer);
    double masks_s = s_now () - start;
    int32_t *ids = calloc (length + 1, sizeof (int32_t));
    long count = ids ? xinf_tokenizer_encode (tokenizer, s_answer, length, false, ids, length + 1) : -1;
    xinf_grammar_state_t *states = calloc (length + 1, sizeof (xinf_grammar_state_t)), start_json, start_schema;
    uint32_t *bits = calloc (xinf_token_mask_words (vocab), sizeof (uint32_t));
    xinf_json_schema_t *schema = xinf_json_schema_new (s_schema, strlen (s_schema), error, sizeof error);
    xinf_json_start (&start_json.json);
    if (schema)
        xinf_schema_start (&start_schema.schema, schema);
    if (!trie || !masks || count <= 0 || !states || !bits || !schema
    ||  !s_states (masks, &xinf_grammar_json, &start_json, ids, (size_t) count, states)) {
        fprintf (stderr, "xinf-bench-json: out of memory, or the answer's tokens are not a JSON object\n");
        return 1;
    }
    printf ("vocabulary of %zu tokens: trie of %zu nodes (%zu tokens) built in %.1f ms; the JSON masks (both "
            "tries and the plain text tokens) in %.1f ms\n", vocab, xinf_vocab_trie_nodes (trie),
            xinf_vocab_trie_tokens (trie), trie_s * 1e3, masks_s * 1e3);
    //  The whole trie walked from each state, without the plain text tokens set apart
    double whole = 0, whole_worst = 0;
    size_t allowed = 0;
    for (long index = 0; index < count; index++) {
        double best = INFINITY;
        for (int round = 0; round < rounds; round++) {
            double begin = s_now ();
            memset (bits, 0, xinf_token_mask_words (vocab) * sizeof (uint32_t));
            size_t found = xinf_vocab_trie_allowed (trie, &states [index], sizeof (xinf_json_state_t),
                                                    xinf_grammar_json.step, bits);
            allowed += round == 0 ? found : 0;
            best = fmin (best, s_now () - begin);
        }
        whole += best;
        whole_worst = fmax (whole_worst, best);
    }
    double sample = s_sampling (vocab, 20);
    printf ("answer of %zu bytes, %ld tokens; %.0f tokens allowed a state on average; a T 1 draw over %zu logits "
            "%.1f us\n", length, count, (double) allowed / (double) count, vocab, sample * 1e6);
    printf ("  %-12s the whole trie walked: mean %6.1f us, worst %6.1f us (%.2fx a T 1 draw)\n", "json_object",
            whole / (double) count * 1e6, whole_worst * 1e6, whole / (double) count / sample);
    if (s_measure (masks, &xinf_grammar_json, states, ids, count, bits, rounds, sample))
        return 1;
    if (!s_states (masks, &xinf_grammar_schema, &start_schema, ids, (size_t) count, states)) {
        fprintf (stderr, "xinf-bench-json: the answer does not keep its schema\n");
        return 1;
    }
    if (s_measure (masks, &xinf_grammar_schema, states, ids, count, bits, rounds, sample))
        return 1;
    start = s_now ();
    xinf_regex_t *regex = xinf_regex_new (s_regex, strlen (s_regex), error, sizeof error);
    double regex_s = s_now () - start;
    xinf_grammar_state_t start_regex;
    if (regex)
        xinf_regex_start (&start_regex.regex, regex);
    if (!regex || !s_states (masks, &xinf_grammar_regex, &start_regex, ids, (size_t) count, states)) {
        fprintf (stderr, "xinf-bench-json: the answer does not match %s whole\n", s_regex);
        return 1;
    }
    printf ("  regex %s: %zu automaton states, compiled in %.2f ms\n", s_regex, xinf_regex_states (regex),
            regex_s * 1e3);
    if (s_measure (masks, &xinf_grammar_regex, states, ids, count, bits, rounds, sample)
    ||  s_second_request (masks, regex, ids, count, states))
        return 1;
    xinf_regex_destroy (&regex);
    if (s_json_gbnf_masks (masks, ids, count, states, bits, rounds, sample)
    ||  s_short_regexes (masks, tokenizer, bits, rounds, sample))
        return 1;
    xinf_json_schema_destroy (&schema);
    free (bits);
    free (states);
    free (ids);
    xinf_json_masks_destroy (&masks);
    xinf_vocab_trie_destroy (&trie);
    xinf_tokenizer_destroy (&tokenizer);
    return 0;
}
