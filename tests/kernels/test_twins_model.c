/*  test_twins_model: whole transformer steps on the two backends of a twin
    test: tiny models made by xinf-make-model (llama F32 with Llama 3 RoPE
    factors and GQA, qwen2 Q8_0 with biases, qwen3 BF16 with q/k norms),
    three sequences whose block tables have gaps, their prompts in one
    step (split into passes of 8 tokens) and then decode steps of all
    three. Both backends get the same tokens (the reference's greedy
    choices); every step's logits are compared (NMSE 1e-5), and the
    subject's greedy token must be the reference's unless the reference's
    logits of the two lie within 1e-3 of each other (a near tie).

    The subject runs with decode graphs on (xinf_kv_cache_set_graphs, up
    to 4 rows: the three decode tokens are padded to bucket 4): on a
    backend with graph ops (CUDA, the recording CPU of test_twins_graph.c)
    the first decode step runs eagerly, the second is captured, the rest
    replayed, and graphs must still be on at the end (a failed capture
    would have turned them off).
*/
#include "test_twins.h"
#include "xinf_batch.h"
#include "xinf_model.h"
#include "xinf_transformer.h"
#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"
#endif

#include <sys/wait.h>
#include <unistd.h>

#define SEQS 3
#define DECODE_STEPS 8
#define BLOCK_TOKENS 16
#define POOL_BLOCKS 12
#define PASS_TOKENS 8

static const size_t s_prompt_lengths [SEQS] = { 5, 23, 1 };
static const int32_t s_table_0 [] = { 7, 2 }, s_table_1 [] = { 0, 5, 9 }, s_table_2 [] = { 11 };
static const int32_t *s_tables [SEQS] = { s_table_0, s_table_1, s_table_2 };
static const size_t s_table_lengths [SEQS] = { 2, 3, 1 };

static size_t
s_argmax (const float *logits, size_t vocab)
{
    size_t best = 0;
    for (size_t index = 1; index < vocab; index++)
        if (logits [index] > logits [best])
            best = index;
    return best;
}

typedef struct {
    xinf_backend_t *backend;
    xinf_kv_cache_t *cache;
    float *logits;                    //  [SEQS][vocab]
} s_side_t;

//  One step of both sides over 'batch'; compares their logits and greedy
//  tokens, and puts the reference's into 'next'.
static void
s_step (test_twins_t *twins, const xinf_transformer_t *t, s_side_t *sides, const xinf_batch_t *batch,
        int32_t *next, const char *what)
{
    char error [256];
    for (int side = 0; side < 2; side++)
        if (xinf_transformer_step (t, sides [side].cache, batch, sides [side].logits, error, sizeof error)) {
            fprintf (stderr, "FAIL %s: %s: step failed: %s\n", side ? twins->subject_name : "reference", what, error);
            exit (1);
        }
    double tolerance = twins->logits_tolerance > 0 ? twins->logits_tolerance : 1e-5;
    test_twins_compare (twins, what, sides [1].logits, sides [0].logits, batch->n_out * t->vocab, tolerance);
    for (size_t k = 0; k < batch->n_out; k++) {
        const float *reference = sides [0].logits + k * t->vocab;
        size_t mine = s_argmax (sides [1].logits + k * t->vocab, t->vocab), theirs = s_argmax (reference, t->vocab);
        next [k] = (int32_t) theirs;
        if (twins->expect_fail)
            continue;                 //  a perturbation scales logits: the order stays
        twins->compared++;
        if (mine != theirs && reference [theirs] - reference [mine] >= 1e-3f) {
            fprintf (stderr, "FAIL %s: %s: greedy token %zu, the reference's %zu\n", twins->subject_name, what, mine,
                     theirs);
            twins->failed++;
        }
    }
}

static void
s_generate (test_twins_t *twins, const xinf_transformer_t *t, const char *name)
{
    s_side_t sides [2] = { { twins->reference, NULL, NULL }, { twins->subject, NULL, NULL } };
    for (int side = 0; side < 2; side++) {
        sides [side].cache = xinf_kv_cache_new (t, sides [side].backend, XINF_DTYPE_F32, POOL_BLOCKS, BLOCK_TOKENS, PASS_TOKENS);
        sides [side].logits = calloc ((SEQS + 1) * t->vocab, sizeof (float));
        CHECK (sides [side].cache && sides [side].logits);
    }
    CHECK (xinf_kv_cache_set_graphs (sides [1].cache, true, SEQS + 1) == 0);
    xinf_batch_buf_t *buffer = xinf_batch_buf_new ();
    CHECK (buffer);
    for (size_t s = 0; s < SEQS; s++)
        CHECK (xinf_batch_buf_add_seq (buffer, s_tables [s], s_table_lengths [s]) == (int) s);
    for (size_t s = 0; s < SEQS; s++)
        for (size_t i = 0; i < s_prompt_lengths [s]; i++)
            CHECK (xinf_batch_buf_add_token (buffer, (int32_t) ((i * 31 + s * 101 + 3) % t->vocab), (int32_t) i,
                                             (int32_t) s, i + 1 == s_prompt_lengths [s]) == 0);
    int32_t next [SEQS];
    char what [128];
    snprintf (what, sizeof what, "%s prompts (%zu tokens)", name, xinf_batch_buf_view (buffer)->n);
    s_step (twins, t, sides, xinf_batch_buf_view (buffer), next, what);
    for (size_t step = 0; step < DECODE_STEPS; step++) {
        xinf_batch_buf_clear (buffer);
        for (size_t s = 0; s < SEQS; s++)
            CHECK (xinf_batch_buf_add_seq (buffer, s_tables [s], s_table_lengths [s]) == (int) s);
        for (size_t s = 0; s < SEQS; s++)
            CHECK (xinf_batch_buf_add_token (buffer, next [s], (int32_t) (s_prompt_lengths [s] + step), (int32_t) s,
                                             true) == 0);
        snprintf (what, sizeof what, "%s decode step %zu", name, step);
        s_step (twins, t, sides, xinf_batch_buf_view (buffer), next, what);
    }
    if (twins->subject->ops->graph_begin && !xinf_kv_cache_graphs (sides [1].cache)) {
        fprintf (stderr, "FAIL %s: %s: CUDA graphs went off (a capture failed: see the log above)\n",
                 twins->subject_name, name);
        twins->failed++;
    }
    xinf_batch_buf_destroy (&buffer);
    for (int side = 0; side < 2; side++) {
        xinf_kv_cache_destroy (&sides [side].cache);
        free (sides [side].logits);
    }
}

//  A scratch directory for the models.
static void
s_directory (char *directory, size_t size)
{
    const char *base = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (directory, size, "%s/xinf-twins-XXXXXX", base);
    CHECK (mkdtemp (directory));
}

//  The model xinf-make-model writes with 'arguments' into 'path'.
static xinf_model_t *
s_model (const char *make_model, const char *directory, const char *name, const char *arguments, char *path,
         size_t path_size)
{
    char command [1200], error [512];
    snprintf (path, path_size, "%s/%s.gguf", directory, name);
    snprintf (command, sizeof command, "'%s' %s -o '%s' > /dev/null", make_model, arguments, path);
    int status = system (command);
    CHECK (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    if (!model)
        fprintf (stderr, "%s: %s\n", path, error);
    CHECK (model);
    return model;
}

void
test_twins_model (test_twins_t *twins, const char *make_model)
{
    static const char *models [][2] = {
        { "llama-f32", "--arch llama --type f32 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --rope-scaling llama3 --seed 5" },
        { "qwen2-q8_0", "--arch qwen2 --type q8_0 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --seed 6" },
        { "qwen3-bf16", "--arch qwen3 --type bf16 --dim 64 --heads 4 --kv-heads 1 --head-dim 32 --ffn 96 --seed 7" },
        //  Gemma 3: GELU, scaled embeddings, post-norms, local layers of a 5-position window
        { "gemma3-f16", "--arch gemma3 --type f16 --dim 64 --heads 4 --kv-heads 2 --head-dim 32 --ffn 96 --layers 6 "
                        "--sliding-window 5 --seed 8" },
        //  Gemma 2: soft-capped scores and logits (where the subject takes them), every other layer local
        { "gemma2-f32", "--arch gemma2 --type f32 --dim 64 --heads 4 --kv-heads 2 --head-dim 32 --ffn 96 --layers 4 "
                        "--sliding-window 5 --attn-softcap 0.05 --final-softcap 0.5 --seed 9" },
    };
    char directory [256], path [400];
    s_directory (directory, sizeof directory);
    for (size_t m = 0; m < sizeof models / sizeof models [0]; m++) {
        if (strncmp (models [m][0], "gemma2", 6) == 0 && !twins->subject->softcap) {
            printf ("  model %s skipped: the %s backend has no soft-caps\n", models [m][0], twins->subject->ops->name);
            continue;
        }
        xinf_model_t *model = s_model (make_model, directory, models [m][0], models [m][1], path, sizeof path);
        s_generate (twins, xinf_model_transformer (model), models [m][0]);
#if defined (XINF_HAVE_CUDA)
        //  The next model's weights may be mapped where this one's were
        xinf_cuda_backend_forget (twins->subject);
#endif
        xinf_model_destroy (&model);
        unlink (path);
    }
    CHECK (rmdir (directory) == 0);
}

void
test_twins_model_fails (xinf_backend_t *backend, const char *make_model, const char *reason)
{
    char directory [256], path [400], error [512] = "";
    s_directory (directory, sizeof directory);
    xinf_model_t *model = s_model (make_model, directory, "fails", "--dim 64 --heads 4 --kv-heads 2 --ffn 96", path,
                                   sizeof path);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_kv_cache_t *cache = xinf_kv_cache_new (t, backend, XINF_DTYPE_F32, POOL_BLOCKS, BLOCK_TOKENS, PASS_TOKENS);
    xinf_batch_buf_t *buffer = xinf_batch_buf_new ();
    float *logits = calloc (t->vocab, sizeof (float));
    CHECK (cache && buffer && logits);
    CHECK (xinf_batch_buf_add_seq (buffer, s_table_1, 3) == 0);
    for (int32_t pos = 0; pos < 3; pos++)
        CHECK (xinf_batch_buf_add_token (buffer, pos + 1, pos, 0, pos == 2) == 0);
    CHECK (xinf_transformer_step (t, cache, xinf_batch_buf_view (buffer), logits, error, sizeof error) == -1);
    printf ("a failed backend fails the step: %s\n", error);
    CHECK (strstr (error, reason) != NULL);
    free (logits);
    xinf_batch_buf_destroy (&buffer);
    xinf_kv_cache_destroy (&cache);
    xinf_model_destroy (&model);
    unlink (path);
    CHECK (rmdir (directory) == 0);
}
