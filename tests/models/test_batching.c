/*  test_batching: continuous batching never changes a result.

    Sequences of mixed prompt lengths run through the batcher and the
    batched transformer step: alone (one at a time), all together with
    small and odd prefill chunks, with staggered arrivals, with a KV budget
    so small that sequences are preempted and recomputed, with prefix reuse
    of a shared prompt, on 1 and 2 threads. Every sequence's greedy tokens,
    and every logits row it got, must equal its run alone bit for bit.
    Also: the block manager (holds, prefix cache, eviction order), the
    batch checks and garbage fed to the batch decoder.

    And sequences of different LoRA adapters in one batch.

        test_batching PATH/TO/xinf-make-model PATH/TO/xinf-make-lora
*/
#include "test_models.h"
#include "xinf_batcher.h"
#include "xinf_blocks.h"
#include "xinf_cpu_backend.h"
#include "xinf_lora.h"
#include "xinf_model.h"

#define SEQS     6
#define GENERATE 12

static const char *s_tool, *s_lora_tool;
static const xinf_spec_cost_t s_free = { .fixed_ms = 1 };    //  a token costs a step nothing

typedef struct {
    size_t max_seqs, step_tokens, n_blocks, prefill_cap;
    int threads;
    bool prefix_cache;
    size_t arrival [SEQS];            //  the step at which each sequence arrives
    size_t spec_tokens;               //  drafts a sequence may carry (speculative decoding)
    xinf_dtype_t kv;                  //  the KV cache's type (F32 where not set)
    const int32_t *lora;              //  [SEQS] each sequence's LoRA adapter (1-based; 0: none), or NULL
} s_setup_t;

typedef struct {
    int32_t tokens [SEQS][GENERATE];
    float *logits [SEQS];             //  [GENERATE][vocab]
    size_t preemptions, prefix_hits, steps;
    size_t spec_drafts, spec_accepted;
} s_outcome_t;

static int32_t *s_prompts [SEQS];
static size_t s_drop_every;           //  every so many steps the step's first row is not taken (0: never)
static size_t s_lengths [SEQS] = { 5, 37, 1, 70, 16, 23 };

static void
s_make (const char *name, const char *arguments, char *path, size_t size)
{
    test_make_with (s_tool, name, arguments, path, size);
}

static int32_t
s_argmax (const float *logits, size_t vocab)
{
    size_t best = 0;
    for (size_t index = 1; index < vocab; index++)
        if (logits [index] > logits [best])
            best = index;
    return (int32_t) best;
}

//  Prompts share their first 32 tokens when 'shared' (a system prompt).
static void
s_make_prompts (size_t vocab, bool shared)
{
    for (size_t s = 0; s < SEQS; s++) {
        free (s_prompts [s]);
        s_prompts [s] = malloc (s_lengths [s] * sizeof (int32_t));
        for (size_t i = 0; i < s_lengths [s]; i++)
            s_prompts [s][i] = (int32_t) ((shared && i < 32 ? i * 13 + 7 : i * 31 + s * 101 + 3) % vocab);
    }
}

//  One sequence's logits row: record it, pick the greedy token, go on or
//  end. Whether the sequence's next row in the step is valid (its draft
//  was the token).
static bool
s_take_row (xinf_batcher_t *batcher, const float *row, size_t vocab, uint64_t id, size_t *generated,
            s_outcome_t *outcome)
{
    size_t k = generated [id]++;
    memcpy (outcome->logits [id] + k * vocab, row, vocab * sizeof (float));
    outcome->tokens [id][k] = s_argmax (row, vocab);
    if (generated [id] == GENERATE) {
        CHECK (xinf_batcher_remove (batcher, id));
        return false;
    }
    int rc = xinf_batcher_append (batcher, id, outcome->tokens [id][k]);
    CHECK (rc == 0 || rc == 1);
    return rc == 1;
}

//  The sequences through a setup; with n_local blocks (> 0) on a window
//  cache whose local layers have a pool of that many blocks.
static void
s_run_local (const xinf_transformer_t *t, const s_setup_t *setup, size_t n_local, s_outcome_t *outcome)
{
    xinf_backend_t *backend = xinf_cpu_backend_new (setup->threads);
    xinf_kv_cache_t *cache = xinf_kv_cache_new_windowed (t, backend, setup->kv, setup->n_blocks, n_local, 16, 8);
    xinf_batcher_config_t config = { .n_blocks = setup->n_blocks, .block_tokens = 16, .max_seqs = setup->max_seqs,
                                     .step_tokens = setup->step_tokens, .context = t->context,
                                     .prefix_cache = setup->prefix_cache, .spec_tokens = setup->spec_tokens,
                                     .max_rows = setup->step_tokens, .spec_min_n = 1, .spec_max_n = 3,
                                     .n_local_blocks = n_local, .window = xinf_transformer_window (t) };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batcher_set_cost (batcher, &s_free);   //  steps cost nothing per token: every draft found goes in
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    CHECK (backend && cache && batcher && batch);
    float *logits = malloc (setup->step_tokens * t->vocab * sizeof (float));
    size_t generated [SEQS] = { 0 }, finished = 0, added = 0;
    char error [256];
    memset (outcome, 0, sizeof *outcome);
    for (size_t s = 0; s < SEQS; s++)
        outcome->logits [s] = calloc (GENERATE * t->vocab, sizeof (float));
    for (size_t step = 0; finished < SEQS; step++) {
        CHECK (step < 10000);
        for (size_t s = 0; s < SEQS; s++)
            if (setup->arrival [s] == step && ++added) {
                CHECK (xinf_batcher_add (batcher, s, s_prompts [s], s_lengths [s], error, sizeof error) == 0);
                CHECK (xinf_batcher_speculate (batcher, s, GENERATE) == 0);
                CHECK (xinf_batcher_set_lora (batcher, s, setup->lora ? setup->lora [s] : 0) == 0);
            }
        const uint64_t *ids;
        size_t n_out;
        if (!xinf_batcher_schedule (batcher, batch, setup->prefill_cap, &ids, &n_out))
            continue;                 //  nothing to run until the next arrival
        const xinf_batch_t *view = xinf_batch_buf_view (batch);
        xinf_batch_limits_t limits = xinf_transformer_limits (t, cache);
        if (xinf_batch_check (view, &limits, error, sizeof error))
            fprintf (stderr, "bad batch: %s\n", error);
        CHECK (xinf_batch_check (view, &limits, error, sizeof error) == 0);
        CHECK (xinf_transformer_step (t, cache, view, logits, error, sizeof error) == 0);
        xinf_batcher_commit (batcher);
        outcome->steps++;
        //  A sequence's rows after a draft that was not its token are not its
        const uint32_t *ahead = xinf_batcher_ahead (batcher);
        bool cut [SEQS] = { false };
        for (size_t k = 0; k < n_out; k++) {
            if (generated [ids [k]] == GENERATE || (ahead [k] && cut [ids [k]]))
                continue;
            if (s_drop_every && outcome->steps % s_drop_every == 0 && k == 0) {
                cut [ids [k]] = true;     //  not taken: the batcher computes its last token again
                continue;
            }
            CHECK (ahead [k] == 0 || setup->spec_tokens);
            cut [ids [k]] = !s_take_row (batcher, logits + k * t->vocab, t->vocab, ids [k], generated, outcome);
            finished += generated [ids [k]] == GENERATE;
        }
    }
    CHECK_INT (added, SEQS);
    xinf_batcher_stats_t stats = xinf_batcher_stats (batcher);
    CHECK_INT (stats.running + stats.waiting, 0);
    CHECK_INT (stats.blocks_available, setup->n_blocks);
    CHECK_INT (stats.local_blocks_available, n_local);
    outcome->preemptions = stats.preemptions;
    outcome->prefix_hits = stats.prefix_hit_tokens;
    outcome->spec_drafts = stats.spec_drafts;
    outcome->spec_accepted = stats.spec_accepted;
    free (logits);
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
    xinf_kv_cache_destroy (&cache);
    xinf_backend_destroy (&backend);
}

static void
s_run (const xinf_transformer_t *t, const s_setup_t *setup, s_outcome_t *outcome)
{
    s_run_local (t, setup, 0, outcome);
}

static void
s_outcome_free (s_outcome_t *outcome)
{
    for (size_t s = 0; s < SEQS; s++)
        free (outcome->logits [s]);
}

static void
s_check_same (const s_outcome_t *alone, const s_outcome_t *other, size_t vocab, const char *what)
{
    for (size_t s = 0; s < SEQS; s++) {
        if (memcmp (alone->tokens [s], other->tokens [s], sizeof alone->tokens [s])
        ||  memcmp (alone->logits [s], other->logits [s], GENERATE * vocab * sizeof (float)))
            fprintf (stderr, "%s: sequence %zu differs from its run alone\n", what, s);
        CHECK (memcmp (alone->tokens [s], other->tokens [s], sizeof alone->tokens [s]) == 0);
        CHECK (memcmp (alone->logits [s], other->logits [s], GENERATE * vocab * sizeof (float)) == 0);
    }
}

//  Every setup against the sequences run one at a time, on a KV cache of
//  'kv'.
static void
s_invariance (const char *arguments, const char *name, xinf_dtype_t kv)
{
    char path [512], error [512];
    s_make (name, arguments, path, sizeof path);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    s_make_prompts (t->vocab, false);
    //  Alone: one sequence at a time, each after the one before ended
    s_setup_t alone_setup = { 1, 64, 64, 0, 1, false, { 0 }, 0, kv, NULL };
    s_outcome_t alone, other;
    s_run (t, &alone_setup, &alone);
    const s_setup_t setups [] = {          //  (each run with the test's KV type)
        { 8, 16, 64, 0, 1, false, { 0 }, 0, 0, NULL },                   //  all at once, chunks of 16
        { 8, 7, 64, 0, 2, false, { 0 }, 0, 0, NULL },                    //  odd chunks, 2 threads
        { 4, 64, 64, 3, 2, false, { 0, 3, 3, 9, 14, 15 }, 0, 0, NULL },  //  staggered, prompt cap 3
        { 6, 32, 9, 0, 1, false, { 0, 1, 2, 3, 4, 5 }, 0, 0, NULL },     //  9 blocks: preemption
        { 8, 24, 64, 0, 2, true, { 0, 0, 20, 20, 40, 60 }, 0, 0, NULL }, //  prefix cache on
        { 1, 64, 64, 0, 1, false, { 0 }, 4, 0, NULL },                   //  alone, speculating
        { 8, 16, 64, 0, 2, false, { 0, 0, 1, 5, 5, 9 }, 3, 0, NULL },    //  speculating, batched, chunks of 16
        { 6, 32, 7, 0, 1, true, { 0, 1, 2, 3, 4, 5 }, 5, 0, NULL },      //  speculating, preempted, prefix cache
    };
    for (size_t index = 0; index < sizeof setups / sizeof setups [0]; index++) {
        s_setup_t setup = setups [index];
        setup.kv = kv;
        s_run (t, &setup, &other);
        char what [64];
        snprintf (what, sizeof what, "%s setup %zu (%s KV)", name, index, xinf_dtype_name (kv));
        s_check_same (&alone, &other, t->vocab, what);
        if (setups [index].n_blocks < 10)
            CHECK (other.preemptions > 0);
        if (setups [index].spec_tokens) {
            printf ("  %s: %zu drafts, %zu accepted, %zu steps (alone %zu)\n", what, other.spec_drafts,
                    other.spec_accepted, other.steps, alone.steps);
            CHECK (other.spec_drafts > 0);
        }
        else
            CHECK_INT (other.spec_drafts, 0);
        s_outcome_free (&other);
    }
    s_outcome_free (&alone);
    xinf_model_destroy (&model);
}

//  A shared 32-token system prompt is computed once: the later sequences
//  take its two whole blocks from the cache, with the same results.
static void
test_prefix_reuse (void)
{
    char path [512], error [512];
    s_make ("prefix.gguf", "--arch qwen2 --type f32 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --seed 3", path, sizeof path);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    s_make_prompts (t->vocab, true);
    s_setup_t cold = { 1, 64, 64, 0, 1, false, { 0 }, 0, XINF_DTYPE_F32, NULL }, warm = cold;
    warm.prefix_cache = true;
    s_outcome_t a, b;
    s_run (t, &cold, &a);
    s_run (t, &warm, &b);
    s_check_same (&a, &b, t->vocab, "prefix reuse");
    CHECK_INT (a.prefix_hits, 0);
    //  Sequence 1 (37 tokens) publishes the two shared blocks; sequence 3
    //  (70) takes both, sequence 5 (23) the first: 48 tokens not computed
    CHECK_INT (b.prefix_hits, 48);
    s_outcome_free (&a);
    s_outcome_free (&b);
    xinf_model_destroy (&model);
}

//  A window cache (Gemma 3's local layers in a pool of their own, each
//  sequence holding only the local blocks its windows reach) gives every
//  sequence the results of its run alone on a plain cache, bit for bit:
//  all at once, odd chunks, preemption, drafts; a local pool of 5 blocks,
//  fewer than the longest sequence's 6, works only if blocks past the
//  window go back; a shared prompt is taken from the prefix cache with
//  the local blocks of its window.
static void
test_window_cache (void)
{
    char path [512], error [512];
    s_make ("gemma3-window.gguf", "--arch gemma3 --type f16 --dim 64 --heads 4 --kv-heads 2 --ffn 96 "
            "--sliding-window 6 --seed 17", path, sizeof path);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK_INT (xinf_transformer_window (t), 6);
    CHECK (xinf_transformer_local_layers (t) > 0 && xinf_transformer_local_layers (t) < t->n_layers);
    s_make_prompts (t->vocab, false);
    s_setup_t alone_setup = { 1, 64, 64, 0, 1, false, { 0 }, 0, XINF_DTYPE_F16, NULL };
    s_outcome_t alone, other;
    s_run (t, &alone_setup, &alone);
    const s_setup_t setups [] = {
        { 8, 16, 64, 0, 1, false, { 0 }, 0, XINF_DTYPE_F16, NULL },                   //  all at once
        { 8, 7, 64, 0, 2, false, { 0 }, 0, XINF_DTYPE_F16, NULL },                    //  odd chunks
        { 6, 32, 9, 0, 1, false, { 0, 1, 2, 3, 4, 5 }, 0, XINF_DTYPE_F16, NULL },     //  preemption
        { 8, 16, 64, 0, 2, false, { 0, 0, 1, 5, 5, 9 }, 3, XINF_DTYPE_F16, NULL },    //  drafts
        { 6, 32, 7, 0, 1, true, { 0, 1, 2, 3, 4, 5 }, 5, XINF_DTYPE_F16, NULL },      //  drafts, preempted, cached
    };
    const size_t pools [] = { 64, 5 };
    for (size_t index = 0; index < sizeof setups / sizeof setups [0]; index++)
        for (size_t p = 0; p < sizeof pools / sizeof pools [0]; p++) {
            s_run_local (t, &setups [index], pools [p], &other);
            char what [64];
            snprintf (what, sizeof what, "window cache setup %zu, %zu local blocks", index, pools [p]);
            s_check_same (&alone, &other, t->vocab, what);
            if (pools [p] == 5)
                printf ("  %s: %zu preemptions, %zu steps\n", what, other.preemptions, other.steps);
            s_outcome_free (&other);
        }
    //  Rows not taken (a replica whose sampling of a row failed): the
    //  sequence's last token is computed again, its window one position
    //  further back than any other query's
    s_drop_every = 3;
    for (size_t p = 0; p < sizeof pools / sizeof pools [0]; p++) {
        s_run_local (t, &setups [0], pools [p], &other);
        s_check_same (&alone, &other, t->vocab, "window cache, rows not taken");
        s_outcome_free (&other);
    }
    s_drop_every = 0;
    s_outcome_free (&alone);
    //  A shared 32-token prompt: the prefix cache gives blocks 0 and 1
    //  when block 1's local block (positions 27 .. 31, the window of
    //  position 32) is cached too
    s_make_prompts (t->vocab, true);
    s_setup_t cold = { 1, 64, 64, 0, 1, false, { 0 }, 0, XINF_DTYPE_F16, NULL }, warm = cold;
    warm.prefix_cache = true;
    s_outcome_t a, b;
    s_run (t, &cold, &a);
    s_run_local (t, &warm, 64, &b);
    s_check_same (&a, &b, t->vocab, "window cache, prefix reuse");
    CHECK_INT (b.prefix_hits, 48);
    s_outcome_free (&a);
    s_outcome_free (&b);
    //  A local pool of 2 blocks evicts most cached windows: the prefix
    //  cache gives only what the local pool kept, with the same results
    warm.max_seqs = 1;
    s_run (t, &cold, &a);
    s_run_local (t, &warm, 2, &b);
    s_check_same (&a, &b, t->vocab, "window cache of 2 local blocks, prefix reuse");
    printf ("  window cache: prefix hits %zu with 2 local blocks\n", b.prefix_hits);
    s_outcome_free (&a);
    s_outcome_free (&b);
    //  A model without local layers, or a local pool of a plain cache's batcher: refused
    xinf_backend_t *backend = xinf_cpu_backend_new (1);
    xinf_kv_cache_t *cache = xinf_kv_cache_new_windowed (t, backend, XINF_DTYPE_F16, 8, 4, 16, 8);
    CHECK (cache);
    xinf_batch_limits_t limits = xinf_transformer_limits (t, cache);
    CHECK_INT (limits.n_local_blocks, 4);
    CHECK_INT (limits.window, 6);
    xinf_kv_cache_destroy (&cache);
    xinf_batcher_config_t config = { .n_blocks = 8, .block_tokens = 16, .max_seqs = 2, .step_tokens = 32,
                                     .context = 128, .n_local_blocks = 4 };
    CHECK (xinf_batcher_new (&config) == NULL);                     //  a pool without a window
    xinf_backend_destroy (&backend);
    xinf_model_destroy (&model);
}

static void
test_invariance (void)
{
    //  Each KV type the CPU holds: F16 (what serves by default), Q8_0 (heads
    //  of 32), F32
    const char *qwen2 = "--arch qwen2 --type q8_0 --dim 128 --heads 4 --kv-heads 2 --ffn 160 --seed 7";
    s_invariance (qwen2, "qwen2-q8.gguf", XINF_DTYPE_F16);
    s_invariance (qwen2, "qwen2-q8.gguf", XINF_DTYPE_Q8_0);
    s_invariance ("--arch llama --type f16 --dim 96 --heads 6 --kv-heads 3 --ffn 128 --no-tied --seed 9", "llama-f16.gguf",
                  XINF_DTYPE_F16);
    s_invariance ("--arch llama --type f32 --dim 64 --heads 4 --kv-heads 4 --ffn 96 --seed 11", "llama-f32.gguf",
                  XINF_DTYPE_F32);
    //  Gemma 3: local layers whose window (6) is shorter than the prompts,
    //  chunks and shared prefixes
    s_invariance ("--arch gemma3 --type f16 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --sliding-window 6 --seed 13",
                  "gemma3-f16.gguf", XINF_DTYPE_F16);
    //  Gemma 2: every other layer local (window 5), scores and logits soft-capped where they bite
    s_invariance ("--arch gemma2 --type f32 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --sliding-window 5 "
                  "--attn-softcap 0.05 --final-softcap 0.5 --seed 19", "gemma2-f32.gguf", XINF_DTYPE_F16);
    //  A mixture of experts: each token's experts and their sums whatever else the step routes
    s_invariance ("--arch qwen3moe --type q8_0 --dim 64 --heads 4 --kv-heads 2 --experts 8 --experts-used 3 "
                  "--expert-ffn 64 --seed 15", "qwen3moe-q8.gguf", XINF_DTYPE_F16);
}

//  Sequences served with different LoRA adapters (and none) in one batch:
//  each equals its run alone with its adapter, with the prefix cache on
//  (blocks are shared only within an adapter), chunks, preemption and
//  drafts; an adapter changes its sequences' results.
static void
test_lora_invariance (void)
{
    char path [512], lora_paths [2][512], error [512], command [2000];
    s_make ("lora-base.gguf", "--arch qwen2 --type f32 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --seed 5", path,
            sizeof path);
    const char *adapters [2] = { "--rank 8 --type f16 --seed 2",
                                 "--rank 4 --type f32 --alpha 0 --targets attn_q,attn_v,ffn_down --seed 3" };
    xinf_lora_t *loras [2];
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (model);
    for (int index = 0; index < 2; index++) {
        char name [32];
        snprintf (name, sizeof name, "lora-%d.gguf", index);
        test_path (lora_paths [index], sizeof lora_paths [index], name);
        snprintf (command, sizeof command, "'%s' '%s' %s -o '%s' > /dev/null", s_lora_tool, path, adapters [index],
                  lora_paths [index]);
        CHECK (system (command) == 0);
        loras [index] = xinf_lora_load (lora_paths [index], xinf_model_transformer (model), "qwen2", error,
                                        sizeof error);
        CHECK (loras [index]);
    }
    xinf_model_set_loras (model, loras, 2);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    s_make_prompts (t->vocab, true);
    static const int32_t lora_of [SEQS] = { 0, 1, 2, 1, 0, 2 };
    s_setup_t alone_setup = { 1, 64, 64, 0, 1, false, { 0 }, 0, XINF_DTYPE_F16, lora_of }, plain_setup = alone_setup;
    plain_setup.lora = NULL;
    s_outcome_t alone, plain, other;
    s_run (t, &alone_setup, &alone);
    s_run (t, &plain_setup, &plain);
    for (size_t s = 0; s < SEQS; s++)
        CHECK ((memcmp (alone.logits [s], plain.logits [s], GENERATE * t->vocab * sizeof (float)) != 0) == !!lora_of [s]);
    const s_setup_t setups [] = {
        { 8, 16, 64, 0, 2, true, { 0, 0, 20, 20, 40, 60 }, 0, XINF_DTYPE_F16, lora_of },  //  prefix cache, chunks
        { 6, 32, 9, 0, 1, true, { 0, 1, 2, 3, 4, 5 }, 3, XINF_DTYPE_F16, lora_of },       //  preempted, drafts
    };
    for (size_t index = 0; index < sizeof setups / sizeof setups [0]; index++) {
        s_run (t, &setups [index], &other);
        char what [64];
        snprintf (what, sizeof what, "LoRA setup %zu", index);
        s_check_same (&alone, &other, t->vocab, what);
        CHECK (other.prefix_hits > 0);
        s_outcome_free (&other);
    }
    s_outcome_free (&alone);
    s_outcome_free (&plain);
    xinf_model_destroy (&model);
    xinf_lora_destroy (&loras [0]);
    xinf_lora_destroy (&loras [1]);
}

static void
test_blocks (void)
{
    xinf_blocks_t *blocks = xinf_blocks_new (3, 2);
    CHECK (blocks);
    int32_t a = xinf_blocks_alloc (blocks), b = xinf_blocks_alloc (blocks), c = xinf_blocks_alloc (blocks);
    CHECK (a == 0 && b == 1 && c == 2);
    CHECK_INT (xinf_blocks_alloc (blocks), -1);
    int32_t first [2] = { 5, 6 }, second [2] = { 7, 8 };
    uint64_t h1 = xinf_blocks_hash (0, first, 2), h2 = xinf_blocks_hash (h1, second, 2);
    CHECK (h1 != h2 && h1 != xinf_blocks_hash (0, second, 2));
    CHECK (xinf_blocks_publish (blocks, a, h1, 0, first));
    CHECK (!xinf_blocks_publish (blocks, c, h1, 0, first));       //  the hash is taken
    CHECK (xinf_blocks_publish (blocks, b, h2, h1, second));
    //  Released published blocks stay cached, in release order
    xinf_blocks_release (blocks, b);
    xinf_blocks_release (blocks, a);
    CHECK_INT (xinf_blocks_available (blocks), 2);
    CHECK_INT (xinf_blocks_lookup (blocks, h1, 0, first), a);
    CHECK_INT (xinf_blocks_lookup (blocks, h2, 0, second), -1);   //  wrong parent
    int32_t other [2] = { 7, 9 };
    CHECK_INT (xinf_blocks_lookup (blocks, h2, h1, other), -1);   //  other tokens
    //  The free block goes first, then the cached one released longest ago
    xinf_blocks_release (blocks, c);
    CHECK_INT (xinf_blocks_alloc (blocks), c);
    CHECK_INT (xinf_blocks_alloc (blocks), b);
    CHECK_INT (xinf_blocks_lookup (blocks, h2, h1, second), -1);  //  evicted
    CHECK_INT (xinf_blocks_alloc (blocks), -1);
    xinf_blocks_release (blocks, 99);                             //  ignored
    xinf_blocks_destroy (&blocks);
    CHECK (xinf_blocks_new (0, 16) == NULL);
}

//  Every truncation of a good wire form is refused, and 20,000 copies
//  with random bytes (some with a second flipped bit) decode or are
//  refused, never a crash.
static void
s_garble (xinf_batch_buf_t *decoded, const uint8_t *wire, size_t size, const xinf_batch_limits_t *limits,
          uint64_t state)
{
    char error [256];
    for (size_t cut = 0; cut < size; cut++)
        CHECK (xinf_batch_buf_decode (decoded, wire, cut, limits, error, sizeof error) == -1);
    uint8_t *mutated = malloc (size);
    CHECK (mutated);
    for (int round = 0; round < 20000; round++) {
        memcpy (mutated, wire, size);
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t at = (size_t) (state >> 33) % size;
        mutated [at] = (uint8_t) (state >> 20);
        if (round % 3 == 0)
            mutated [(at * 7 + 4) % size] ^= 0x80;
        xinf_batch_buf_decode (decoded, mutated, size, limits, error, sizeof error);
    }
    free (mutated);
}

//  A request that can never fit is refused with the limit named; garbage
//  batches are refused with the field named, never a crash.
static void
test_batch_checks (void)
{
    xinf_batcher_config_t config = { .n_blocks = 4, .block_tokens = 16, .max_seqs = 2, .step_tokens = 32,
                                     .context = 1000, .prefix_cache = true };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    int32_t prompt [80] = { 0 };
    char error [256];
    CHECK (xinf_batcher_add (batcher, 1, prompt, 64, error, sizeof error) == -1);
    CHECK_HAS (error, "holds 64");
    CHECK (xinf_batcher_add (batcher, 1, prompt, 63, error, sizeof error) == 0);
    CHECK (xinf_batcher_add (batcher, 2, prompt, 0, error, sizeof error) == -1);
    xinf_batcher_destroy (&batcher);

    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t table [2] = { 0, 1 };
    CHECK (xinf_batch_buf_add_seq (batch, table, 2) == 0);
    for (int32_t pos = 0; pos < 20; pos++)
        CHECK (xinf_batch_buf_add_token (batch, pos, pos, 0, pos == 19) == 0);
    xinf_batch_limits_t limits = { 64, 100, 1000, 4, 16, 1, 0, 0, 0 };
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    CHECK (xinf_batch_check (view, &limits, error, sizeof error) == 0);
    size_t size = xinf_batch_wire_size (view);
    uint8_t *wire = malloc (size);
    xinf_batch_encode (view, wire);
    xinf_batch_buf_t *decoded = xinf_batch_buf_new ();
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == 0);
    CHECK (memcmp (xinf_batch_buf_view (decoded)->pos, view->pos, 20 * sizeof (int32_t)) == 0);
    limits.vocab = 10;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "tokens[10]");
    limits.vocab = 100;
    limits.n_blocks = 1;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "blocks[1]");
    limits.n_blocks = 4;
    s_garble (decoded, wire, size, &limits, 42);
    free (wire);
    //  A second sequence with adapter 2: the lora array travels after hid
    int32_t other_table [1] = { 2 };
    CHECK (xinf_batch_buf_add_seq (batch, other_table, 1) == 1);
    CHECK (xinf_batch_buf_add_token (batch, 7, 0, 1, true) == 0);
    CHECK (xinf_batch_buf_set_lora (batch, 1, 2) == 0);
    CHECK (xinf_batch_buf_set_lora (batch, 2, 1) == -1);             //  no such sequence
    view = xinf_batch_buf_view (batch);
    CHECK (view->lora && view->lora [0] == 0 && view->lora [1] == 2);
    size = xinf_batch_wire_size (view);
    wire = malloc (size);
    xinf_batch_encode (view, wire);
    limits.max_out = 2;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "lora[1]': adapter 2 of the replica's 0");
    limits.n_loras = 2;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == 0);
    CHECK (xinf_batch_buf_view (decoded)->lora [1] == 2);
    CHECK (xinf_batch_buf_decode (decoded, wire, size - 4, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "does not match its counts");
    ((int32_t *) (wire + size)) [-1] = -1;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "lora[1]");
    free (wire);
    xinf_batch_buf_clear (batch);                                   //  a new batch has no adapters
    CHECK (xinf_batch_buf_add_seq (batch, table, 1) == 0);
    CHECK (xinf_batch_buf_view (batch)->lora == NULL);
    xinf_batch_buf_destroy (&decoded);
    xinf_batch_buf_destroy (&batch);
}

//  A window cache's batch: local tables beside the block tables, checked
//  (each entry -1 or in the local pool, never -1 where a window reaches),
//  on the wire behind the flag; garbage refused, never a crash.
static void
test_window_tables (void)
{
    xinf_batch_buf_t *batch = xinf_batch_buf_new (), *decoded = xinf_batch_buf_new ();
    int32_t table [3] = { 0, 1, 2 }, local [3] = { -1, 0, 3 };
    char error [256];
    CHECK (xinf_batch_buf_add_seq_windowed (batch, table, local, 3) == 0);
    CHECK (xinf_batch_buf_add_seq (batch, table, 1) == -1);        //  every sequence has local tables, or none
    for (int32_t pos = 40; pos < 45; pos++)
        CHECK (xinf_batch_buf_add_token (batch, pos, pos, 0, pos == 44) == 0);
    //  Window 10: position 40 attends from 31, in block 1
    xinf_batch_limits_t limits = { 64, 100, 1000, 4, 16, 1, 0, 4, 10 }, plain = limits;
    plain.n_local_blocks = plain.window = 0;
    const xinf_batch_t *view = xinf_batch_buf_view (batch);
    CHECK (view->local_blocks && view->local_blocks [2] == 3);
    CHECK (xinf_batch_check (view, &limits, error, sizeof error) == 0);
    CHECK (xinf_batch_check (view, &plain, error, sizeof error) == -1);
    CHECK_HAS (error, "no pool of local blocks");
    size_t size = xinf_batch_wire_size (view);
    uint8_t *wire = malloc (size);
    xinf_batch_encode (view, wire);
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == 0);
    CHECK (memcmp (xinf_batch_buf_view (decoded)->local_blocks, local, sizeof local) == 0);
    const struct { size_t entry; int32_t value; const char *says; } bad [] = {
        { 1, -1, "block 1 holds positions" }, { 2, 4, "outside the local pool" }, { 0, -2, "local_blocks[0]" },
        { 2, -1, "block 2 holds positions" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        int32_t *entry = (int32_t *) (wire + size) - 3 + bad [index].entry, kept = *entry;
        *entry = bad [index].value;
        CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
        CHECK_HAS (error, bad [index].says);
        *entry = kept;
    }
    limits.window = 9;                                              //  position 40 attends from 32: block 1 unread
    ((int32_t *) (wire + size)) [-2] = -1;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == 0);
    limits.window = 10;
    //  The flag without the array, an unknown flag, every truncation, random bytes
    ((uint32_t *) wire) [6] = 0;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "does not match");
    ((uint32_t *) wire) [6] = 8;
    CHECK (xinf_batch_buf_decode (decoded, wire, size, &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "unknown bits");
    ((uint32_t *) wire) [6] = XINF_BATCH_WINDOWED;
    s_garble (decoded, wire, size, &limits, 7);
    //  A plain batch on a window cache's limits
    xinf_batch_buf_clear (batch);
    CHECK (xinf_batch_buf_add_seq (batch, table, 1) == 0);
    CHECK (xinf_batch_buf_add_token (batch, 1, 0, 0, true) == 0);
    CHECK (xinf_batch_check (xinf_batch_buf_view (batch), &limits, error, sizeof error) == -1);
    CHECK_HAS (error, "needs their tables");
    free (wire);
    xinf_batch_buf_destroy (&decoded);
    xinf_batch_buf_destroy (&batch);
}

//  What a prompt took from the prefix cache at its first admission:
//  whole blocks, at most the prompt less one token; none without a hit.
static void
test_cached_tokens (void)
{
    xinf_batcher_config_t config = { .n_blocks = 16, .block_tokens = 16, .max_seqs = 2, .step_tokens = 64,
                                     .context = 1000, .prefix_cache = true };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t prompt [48];
    for (int index = 0; index < 48; index++)
        prompt [index] = index + 1;
    char error [256];
    const uint64_t *ids;
    size_t rows;
    //  48 tokens alone, then again: 2 whole blocks (32), the last block recomputed for its logits
    size_t lengths [] = { 48, 48, 40, 15 };
    size_t want [] = { 0, 32, 32, 0 };
    for (uint64_t id = 1; id <= 4; id++) {
        CHECK (xinf_batcher_add (batcher, id, prompt, lengths [id - 1], error, sizeof error) == 0);
        CHECK_INT (xinf_batcher_cached (batcher, id), 0);                     //  not admitted yet
        CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows));
        xinf_batcher_commit (batcher);
        CHECK_INT (xinf_batcher_cached (batcher, id), want [id - 1]);
        CHECK (xinf_batcher_remove (batcher, id));
    }
    CHECK_INT (xinf_batcher_cached (batcher, 99), 0);
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
}

//  Drafts a step carried past a block's end that were not accepted give
//  their block back; accepted ones are computed positions.
static void
test_draft_blocks (void)
{
    xinf_batcher_config_t config = { .n_blocks = 4, .block_tokens = 16, .max_seqs = 1, .step_tokens = 32,
                                     .max_rows = 32, .context = 64, .spec_tokens = 4, .spec_min_n = 1,
                                     .spec_max_n = 2 };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t prompt [14];
    for (int index = 0; index < 14; index++)
        prompt [index] = 1 + index % 3;                       //  1 2 3 1 2 3 ...: a loop
    char error [256];
    const uint64_t *ids;
    size_t rows;
    xinf_batcher_set_cost (batcher, &s_free);
    CHECK (xinf_batcher_add (batcher, 7, prompt, 14, error, sizeof error) == 0);
    CHECK (xinf_batcher_speculate (batcher, 7, 100) == 0);
    CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows) && rows == 1);
    xinf_batcher_commit (batcher);
    CHECK_INT (xinf_batcher_append (batcher, 7, 3), 0);      //  15 tokens, 14 computed
    CHECK_INT (xinf_batcher_stats (batcher).blocks_available, 3);
    //  Its decode token at 14 and 4 drafts (1 2 3 1) at 15 .. 18: a second block
    CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows) && rows == 5);
    const uint32_t *ahead = xinf_batcher_ahead (batcher);
    CHECK (ahead [0] == 0 && ahead [1] == 1 && ahead [4] == 4);
    const xinf_batch_t *view = xinf_batch_buf_view (batch);   //  the drafts: the rows' own tokens
    CHECK (view->tokens [view->out [1]] == 1 && view->tokens [view->out [2]] == 2
           && view->tokens [view->out [4]] == 1);
    CHECK_INT (view->n, 5);
    CHECK_INT (xinf_batcher_stats (batcher).blocks_available, 2);
    xinf_batcher_commit (batcher);
    CHECK_INT (xinf_batcher_append (batcher, 7, 9), 0);      //  not the draft: the second block goes back
    CHECK_INT (xinf_batcher_length (batcher, 7), 16);
    CHECK_INT (xinf_batcher_stats (batcher).blocks_available, 3);
    CHECK (xinf_batcher_remove (batcher, 7));
    CHECK_INT (xinf_batcher_stats (batcher).blocks_available, 4);
    //  Another: its four drafts accepted, then the row after them; 20
    //  tokens, 19 computed, the next step's decode token at 19
    CHECK (xinf_batcher_add (batcher, 8, prompt, 14, error, sizeof error) == 0);
    CHECK (xinf_batcher_speculate (batcher, 8, 100) == 0);
    CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows));
    xinf_batcher_commit (batcher);
    CHECK_INT (xinf_batcher_append (batcher, 8, 3), 0);
    CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows) && rows == 5);
    xinf_batcher_commit (batcher);
    int32_t rows_tokens [] = { 1, 2, 3, 1, 2 };
    for (size_t row = 0; row < 5; row++)
        CHECK_INT (xinf_batcher_append (batcher, 8, rows_tokens [row]), row < 4);
    CHECK_INT (xinf_batcher_length (batcher, 8), 20);
    CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows));
    CHECK_INT (xinf_batch_buf_view (batch)->pos [0], 19);
    xinf_batcher_stats_t stats = xinf_batcher_stats (batcher);
    CHECK (stats.spec_drafts == 8 && stats.spec_accepted == 4);
    xinf_batcher_abandon (batcher);
    CHECK (xinf_batcher_remove (batcher, 8));
    CHECK_INT (xinf_batcher_stats (batcher).blocks_available, 4);
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
}

//  A request whose last step's accepted drafts filled a block: that block
//  is published too, so a follow-up prompt (the next turn of a chat)
//  takes as much from the prefix cache as without speculation.
static size_t
s_follow_up_hit (size_t spec_tokens, size_t end)
{
    xinf_batcher_config_t config = { .n_blocks = 16, .block_tokens = 4, .max_seqs = 2, .step_tokens = 32,
                                     .max_rows = 32, .context = 64, .prefix_cache = true,
                                     .spec_tokens = spec_tokens, .spec_min_n = 1, .spec_max_n = 2 };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    xinf_batcher_set_cost (batcher, &s_free);
    int32_t tokens [64] = { 1, 2, 3, 1, 2, 3 };
    size_t count = 6;
    char error [256];
    const uint64_t *ids;
    size_t rows;
    CHECK (xinf_batcher_add (batcher, 1, tokens, count, error, sizeof error) == 0);
    CHECK (xinf_batcher_speculate (batcher, 1, 100) == 0);
    while (count < end) {             //  the "model" goes on with the loop 1 2 3 until the request ends
        CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows));
        xinf_batcher_commit (batcher);
        for (size_t row = 0; row < rows; row++) {
            int32_t token = tokens [count - 3];
            tokens [count++] = token;
            if (count >= end || xinf_batcher_append (batcher, 1, token) != 1)
                break;                //  the request ends with this token, or the rows after it are not valid
        }
    }
    CHECK (xinf_batcher_remove (batcher, 1));
    tokens [count++] = 7;
    CHECK (xinf_batcher_add (batcher, 2, tokens, count, error, sizeof error) == 0);
    CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows));
    size_t hit = xinf_batcher_stats (batcher).prefix_hit_tokens;
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
    return hit;
}

static void
test_draft_prefix (void)
{
    for (size_t end = 9; end < 20; end++)
        CHECK_INT (s_follow_up_hit (4, end), s_follow_up_hit (0, end));
}

//  A "model" whose next token is a function of the last three, which
//  never repeats within an answer here: drafts can only come from the
//  answers before.
static int32_t
s_next (const int32_t *tokens, size_t count)
{
    uint32_t mix = (uint32_t) tokens [count - 1] * 2654435761u ^ (uint32_t) tokens [count - 2] * 40503u
                 ^ (uint32_t) tokens [count - 3];
    return (int32_t) ((mix ^ mix >> 13) % 100000);
}

//  One generation of 'length' tokens on 'batcher' (speculating) by
//  s_next: its rows taken while their drafts are accepted; the steps.
static size_t
s_generate (xinf_batcher_t *batcher, uint64_t id, const int32_t *prompt, size_t count, size_t length, int32_t *all)
{
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    char error [256];
    CHECK (batch && xinf_batcher_add (batcher, id, prompt, count, error, sizeof error) == 0);
    CHECK (xinf_batcher_speculate (batcher, id, length) == 0);
    memcpy (all, prompt, count * sizeof (int32_t));
    size_t total = count, steps = 0;
    while (total < count + length) {
        const uint64_t *ids;
        size_t rows;
        CHECK (xinf_batcher_schedule (batcher, batch, 0, &ids, &rows) && steps++ < 1000);
        const xinf_batch_t *view = xinf_batch_buf_view (batch);
        xinf_batcher_commit (batcher);
        for (size_t row = 0; row < rows && total < count + length; row++) {
            //  The row's token: the model's after the context the row saw
            size_t at = (size_t) view->pos [view->out [row]];
            CHECK (at + 1 == total);
            all [total] = s_next (all, total);
            total++;
            if (total == count + length) {
                CHECK (xinf_batcher_remove (batcher, id));
                break;
            }
            if (xinf_batcher_append (batcher, id, all [total - 1]) != 1)
                break;
            CHECK (view->tokens [view->out [row + 1]] == all [total - 1]);   //  the draft was the token
        }
    }
    xinf_batch_buf_destroy (&batch);
    return steps;
}

//  A prompt asked again drafts its answer from the first one's (the
//  batcher's pool of answers): every draft accepted, in a few steps.
static void
test_pool_drafts (void)
{
    xinf_batcher_config_t config = { .n_blocks = 64, .block_tokens = 16, .max_seqs = 2, .step_tokens = 64,
                                     .max_rows = 64, .context = 1024, .spec_tokens = 8, .spec_min_n = 2,
                                     .spec_max_n = 4 };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    CHECK (batcher);
    xinf_batcher_set_cost (batcher, &s_free);
    int32_t prompt [20], first [120], again [120], other [120];
    for (size_t index = 0; index < 20; index++)
        prompt [index] = (int32_t) (index * 37 + 5);
    size_t first_steps = s_generate (batcher, 1, prompt, 20, 100, first);
    xinf_batcher_stats_t before = xinf_batcher_stats (batcher);
    CHECK_INT (before.spec_accepted, 0);                      //  nothing of its own to draft from
    size_t again_steps = s_generate (batcher, 2, prompt, 20, 100, again);
    xinf_batcher_stats_t after = xinf_batcher_stats (batcher);
    CHECK (memcmp (first, again, sizeof first) == 0);
    CHECK_INT (first_steps, 100);
    CHECK (again_steps <= 1 + 99 / 9 + 1);                    //  a step gives 9 tokens: 8 drafts and the row after
    CHECK (after.spec_accepted - before.spec_accepted >= 88);
    CHECK_INT (after.spec_drafts - before.spec_drafts, after.spec_accepted - before.spec_accepted);
    //  Another prompt whose end meets the first answer's middle: drafted from there
    memcpy (other, first + 50, 4 * sizeof (int32_t));
    s_generate (batcher, 3, other, 4, 20, other);
    CHECK (memcmp (other + 4, first + 54, 20 * sizeof (int32_t)) == 0);
    CHECK (xinf_batcher_stats (batcher).spec_accepted - after.spec_accepted >= 16);
    xinf_batcher_destroy (&batcher);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 3);
    s_tool = argv [1];
    s_lora_tool = argv [2];
    test_scratch_begin ();
    RUN (test_blocks);
    RUN (test_batch_checks);
    RUN (test_window_tables);
    RUN (test_prefix_reuse);
    RUN (test_cached_tokens);
    RUN (test_draft_blocks);
    RUN (test_draft_prefix);
    RUN (test_pool_drafts);
    RUN (test_window_cache);
    RUN (test_invariance);
    RUN (test_lora_invariance);
    for (size_t s = 0; s < SEQS; s++)
        free (s_prompts [s]);
    test_scratch_end ();
    return 0;
}
