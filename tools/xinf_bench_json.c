/*  xinf-bench-json: what constrained decoding of JSON objects costs a
    replica (response_format json_object: models/xinf_json_masks.h) on a
    model file's vocabulary, against sampling a row of that vocabulary.

    Usage: xinf-bench-json MODEL.gguf [--rounds N]
    It builds the vocabulary's trie (time, nodes), then walks a JSON answer
    of about 1 KB as the model file's tokenizer cuts it: for each token,
    the mask of the state before it, first each walked afresh (the trie
    alone: mean and worst microseconds), then as a replica gets them (the
    masks' cache over the answer). Each token of the answer must be in its
    mask (the tool checks that). The baseline, from the same run: one T 1
    draw by the CPU sampler over a row of the vocabulary's logits, which
    every sampled token costs anyway.
*/
#include "xinf_json_masks.h"
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

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

static bool
s_step (void *state, unsigned char byte)
{
    return xinf_json_step ((xinf_json_state_t *) state, byte);
}

//  The states before each token of 'ids' (count of them); false when a
//  token is not allowed where it comes.
static bool
s_states (xinf_json_masks_t *masks, const int32_t *ids, size_t count, xinf_json_state_t *states)
{
    xinf_json_state_t state;
    xinf_json_start (&state);
    for (size_t index = 0; index < count; index++) {
        states [index] = state;
        if (!xinf_json_masks_take (masks, &state, ids [index]))
            return false;
    }
    return xinf_json_done (&state);
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
    xinf_json_state_t *states = calloc (length + 1, sizeof (xinf_json_state_t));
    uint32_t *bits = calloc (xinf_token_mask_words (vocab), sizeof (uint32_t));
    if (!trie || !masks || count <= 0 || !states || !bits || !s_states (masks, ids, (size_t) count, states)) {
        fprintf (stderr, "xinf-bench-json: out of memory, or the answer's tokens are not a JSON object\n");
        return 1;
    }
    printf ("vocabulary of %zu tokens: trie of %zu nodes (%zu tokens) built in %.1f ms; the JSON masks (both "
            "tries and the plain text tokens) in %.1f ms\n", vocab, xinf_vocab_trie_nodes (trie),
            xinf_vocab_trie_tokens (trie), trie_s * 1e3, masks_s * 1e3);
    //  Each state's mask walked afresh, by the whole trie and as the masks
    //  walk it, and checked to hold the next token
    double total [2] = { 0, 0 }, worst [2] = { 0, 0 };
    size_t allowed = 0;
    for (long index = 0; index < count; index++) {
        double best [2] = { INFINITY, INFINITY };
        for (int round = 0; round < rounds; round++) {
            double begin = s_now ();
            memset (bits, 0, xinf_token_mask_words (vocab) * sizeof (uint32_t));
            size_t found = xinf_vocab_trie_allowed (trie, &states [index], sizeof states [index], s_step, bits);
            allowed += round == 0 ? found : 0;
            best [0] = fmin (best [0], s_now () - begin);
            begin = s_now ();
            xinf_json_masks_walk (masks, &states [index], bits);
            best [1] = fmin (best [1], s_now () - begin);
        }
        if (!((bits [ids [index] / 32] >> (ids [index] % 32)) & 1)) {
            fprintf (stderr, "xinf-bench-json: token %ld (id %d) is not in its mask\n", index, ids [index]);
            return 1;
        }
        for (int kind = 0; kind < 2; kind++) {
            total [kind] += best [kind];
            worst [kind] = fmax (worst [kind], best [kind]);
        }
    }
    //  As a replica: the cache over the answer
    start = s_now ();
    for (long index = 0; index < count; index++)
        xinf_json_masks_get (masks, &states [index]);
    double cached = (s_now () - start) / (double) count;
    size_t walks, hits;
    xinf_json_masks_counts (masks, &walks, &hits);
    double sample = s_sampling (vocab, 20);
    double trie_fresh = total [0] / (double) count, fresh = total [1] / (double) count;
    printf ("answer of %zu bytes, %ld tokens, each in its mask; %.0f tokens allowed a state on average\n", length,
            count, (double) allowed / (double) count);
    printf ("  the whole trie walked:  mean %8.1f us, worst %8.1f us  (%.2fx a T 1 draw)\n", trie_fresh * 1e6,
            worst [0] * 1e6, trie_fresh / sample);
    printf ("  a mask walked afresh:   mean %8.1f us, worst %8.1f us  (%.2fx a T 1 draw)\n", fresh * 1e6,
            worst [1] * 1e6, fresh / sample);
    printf ("  as a replica (cache):   mean %8.1f us a token, %zu walks for %ld tokens  (%.2fx a T 1 draw)\n",
            cached * 1e6, walks, count, cached / sample);
    printf ("  baseline: a T 1 draw over %zu logits %8.1f us\n", vocab, sample * 1e6);
    free (bits);
    free (states);
    free (ids);
    xinf_json_masks_destroy (&masks);
    xinf_vocab_trie_destroy (&trie);
    xinf_tokenizer_destroy (&tokenizer);
    return 0;
}
