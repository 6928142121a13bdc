/*  test_greedy_llama: xinf's greedy choices on a model file against the
    greedy ids llama.cpp generated from the same file (greedy_llama.py
    runs llama.cpp and writes them).

        unit_greedy_llama MODEL.gguf IDS.txt [ADAPTER.gguf]

    IDS.txt holds the prompt length P, then every id of the sequence,
    the prompt (as llama.cpp tokenized it) and what llama.cpp generated
    greedily after it. xinf runs the whole sequence once (each position
    sees llama.cpp's ids before it, so one near-tie cannot derail the rest)
    and at each generated position takes its own argmax (over the ids that
    end no generation, as llama.cpp runs with --ignore-eos). A position
    matches when that is llama.cpp's id; else it is a near-tie when xinf's
    logit of llama.cpp's id is within XINF_TIE of its best, relative to
    the spread of that row's logits (max - mean): the two differ by the
    quantization of activations (llama.cpp: 8 bits in blocks of 32 or 256
    everywhere; xinf: 8 bits for the K types, 15-16 bits for the others)
    and an F16 KV cache in llama.cpp. Fails on any other position, or
    when fewer than 3/4 of the positions match exactly. With ADAPTER, a
    LoRA adapter llama.cpp generated with too (--lora), xinf serves the
    sequence with it.
*/
#include "test_unit.h"
#include "xinf_model.h"
#include "xinf_lora.h"
#include "xinf_cpu_ops.h"

#include <math.h>

//  The near-tie tolerance: a share of the row's max - mean (the largest
//  gap measured on these models: 0.036, Q2_K llama; 0.030, Q5_K_M llama).
#define XINF_TIE 0.05

//  The best id that ends no generation: llama.cpp's --ignore-eos biases
//  every end-of-generation token to -inf, so its greedy choice is never one.
static size_t
s_argmax (const float *logits, size_t vocab, xinf_tokenizer_t *tokenizer)
{
    size_t best = SIZE_MAX;
    for (size_t index = 0; index < vocab; index++)
        if (!xinf_tokenizer_is_end (tokenizer, (int32_t) index) && (best == SIZE_MAX || logits [index] > logits [best]))
            best = index;
    return best;
}

//  Reads P and the ids; returns their count (0 on a bad file).
static size_t
s_read_ids (const char *path, size_t *prompt, int32_t **ids)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t count = 0, capacity = 0;
    long value;
    *ids = NULL;
    if (fscanf (file, "%zu", prompt) != 1)
        *prompt = 0;
    while (*prompt && fscanf (file, "%ld", &value) == 1) {
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            int32_t *grown = realloc (*ids, capacity * sizeof (int32_t));
            CHECK (grown);
            *ids = grown;
        }
        (*ids) [count++] = (int32_t) value;
    }
    fclose (file);
    return count;
}

int
main (int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf (stderr, "usage: unit_greedy_llama MODEL.gguf IDS.txt [ADAPTER.gguf]\n");
        return 2;
    }
    size_t prompt = 0;
    int32_t *ids = NULL;
    size_t count = s_read_ids (argv [2], &prompt, &ids);
    CHECK (count > prompt && prompt > 0);
    char error [512];
    xinf_model_t *model = xinf_model_load (argv [1], NULL, NULL, error, sizeof error);
    if (!model)
        fprintf (stderr, "%s\n", error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_lora_t *lora = argc == 4 ? xinf_lora_load (argv [3], t, xinf_model_info (model)->arch, error, sizeof error)
                                  : NULL;
    if (argc == 4 && !lora)
        fprintf (stderr, "%s\n", error);
    CHECK (argc == 3 || lora);
    if (lora)
        xinf_model_set_loras (model, &lora, 1);
    for (size_t index = 0; index < count; index++)
        CHECK (ids [index] >= 0 && (size_t) ids [index] < t->vocab);
    xinf_threadpool_t *pool = xinf_threadpool_new (2);
    xinf_kv_t *kv = xinf_kv_new (t, count);
    if (kv && lora)
        xinf_kv_set_lora (kv, 1);
    float *logits = malloc (count * t->vocab * sizeof (float)), *last = malloc (t->vocab * sizeof (float));
    CHECK (pool && kv && logits && last);
    CHECK (xinf_transformer_forward (t, kv, pool, ids, count, 0, last, logits, error, sizeof error) == 0);
    size_t matches = 0, ties = 0, generated = count - prompt;
    double worst = 0;
    for (size_t pos = prompt - 1; pos + 1 < count; pos++) {
        const float *row = logits + pos * t->vocab;
        size_t mine = s_argmax (row, t->vocab, xinf_model_tokenizer (model)), theirs = (size_t) ids [pos + 1];
        double mean = 0;
        for (size_t index = 0; index < t->vocab; index++)
            mean += row [index];
        mean /= (double) t->vocab;
        double gap = (row [mine] - row [theirs]) / (row [mine] - mean);
        if (mine == theirs) {
            matches++;
            continue;
        }
        worst = gap > worst ? gap : worst;
        fprintf (stderr, "  position %zu: llama.cpp %zu, xinf %zu, xinf's logits %.6g and %.6g (gap %.4f of max - mean)\n",
                 pos + 1, theirs, mine, row [theirs], row [mine], gap);
        if (gap <= XINF_TIE)
            ties++;
        else {
            fprintf (stderr, "FAIL: position %zu is no near-tie (tolerance %.3f)\n", pos + 1, XINF_TIE);
            return 1;
        }
    }
    fprintf (stderr, "%s%s%s: %zu of %zu greedy ids as llama.cpp's, %zu near-ties (largest gap %.4f of max - mean)\n",
             argv [1], lora ? " + " : "", lora ? argv [3] : "", matches, generated, ties, worst);
    CHECK (4 * matches >= 3 * generated);
    free (logits), free (last), free (ids);
    xinf_kv_destroy (&kv);
    xinf_threadpool_destroy (&pool);
    xinf_model_destroy (&model);
    xinf_lora_destroy (&lora);
    return 0;
}
