/*  test_shard: tensor-parallel shards of the transformer
    (xinf_model_load_shard) against the whole model. The ranks run as
    threads that sum their partial results through test_coll_threads.

    For models of both archs, tied and separate output, GQA and MHA, F32,
    F16, BF16 and Q8_0, and mixtures of experts, over 2 and 3 ranks: rank 0's logits after a
    multi-token prefill (every position) and at each of 64 decode steps
    agree with the whole model's (1e-4 relative for F32, the tolerances of
    tests/inference for the others); for F32 greedy decoding picks the
    whole model's tokens at every step; followers pass no logits, and at
    the last step their logits equal rank 0's bit for bit (every rank holds
    the same hidden state). Also: shard bytes and load progress, cancel,
    the split errors, bad rank values, a missing or failed collective.

        test_shard PATH/TO/xinf-make-model
*/
#include "test_models.h"
#include "test_coll_threads.h"
#include "xinf_gguf.h"
#include "xinf_model.h"
#include "xinf_shard.h"
#include "xinf_slices.h"

#include <math.h>
#include <pthread.h>

#define DECODE_STEPS 64
#define COLL_TIMEOUT_MS 60000

static const char *s_tool;

typedef struct {
    const char *name, *arch, *type;
    int dim, heads, kv_heads, ffn;
    bool tied;
    size_t prefill;
    double tolerance;                  //  max |a - b| / max |b| of the logits
    unsigned ranks;                    //  bit n: test n ranks
    const char *extra;                 //  more xinf-make-model flags, or NULL
} s_case_t;

static const s_case_t s_cases [] = {
    { "llama-f32-mha", "llama", "f32", 192, 6, 6, 288, false, 9, 1e-4, 1u << 2 | 1u << 3, NULL },
    { "qwen2-f32-gqa", "qwen2", "f32", 384, 12, 6, 200, true, 70, 1e-4, 1u << 2 | 1u << 3, NULL },
    { "llama-f32-gqa3", "llama", "f32", 192, 6, 2, 192, true, 9, 1e-4, 1u << 2, NULL },
    { "llama-f16-hd64", "llama", "f16", 384, 6, 6, 288, true, 9, 2e-3, 1u << 2 | 1u << 3, NULL },
    { "qwen2-bf16-gqa", "qwen2", "bf16", 384, 12, 6, 480, false, 9, 2e-3, 1u << 2 | 1u << 3, NULL },
    { "qwen2-q8-mha", "qwen2", "q8_0", 192, 6, 6, 288, false, 9, 2e-2, 1u << 2 | 1u << 3, NULL },
    { "llama-q8-gqa", "llama", "q8_0", 384, 12, 6, 480, true, 70, 2e-2, 1u << 2 | 1u << 3, NULL },
    //  qwen3: heads x head_dim (288, 512) is not dim, attn_output's columns split by heads
    { "qwen3-f32-hd48", "qwen3", "f32", 192, 6, 6, 288, false, 9, 1e-4, 1u << 2 | 1u << 3, "--head-dim 48" },
    { "qwen3-q8-gqa-hd64", "qwen3", "q8_0", 256, 8, 4, 256, true, 9, 2e-2, 1u << 2, "--head-dim 64" },
    { "llama3-rope-f32", "llama", "f32", 192, 6, 6, 288, false, 9, 1e-4, 1u << 3,
      "--rope-scaling llama3 --rope-original-context 64" },
    //  Mixtures of experts: each rank holds its part of every expert's width
    { "qwen3moe-f32", "qwen3moe", "f32", 192, 6, 6, 288, false, 9, 1e-4, 1u << 2 | 1u << 3,
      "--experts 8 --experts-used 2 --expert-ffn 96" },
    { "qwen3moe-q8", "qwen3moe", "q8_0", 192, 6, 6, 288, true, 70, 2e-2, 1u << 2 | 1u << 3,
      "--experts 6 --experts-used 3 --expert-ffn 192" },
    //  Qwen2-MoE: each rank also holds its part of the shared expert's width, its gate's vector whole
    { "qwen2moe-f32", "qwen2moe", "f32", 192, 6, 6, 288, false, 9, 1e-4, 1u << 2 | 1u << 3,
      "--experts 8 --experts-used 2 --expert-ffn 96 --shared-ffn 144" },
    { "qwen2moe-q8", "qwen2moe", "q8_0", 192, 6, 6, 288, false, 70, 2e-2, 1u << 2,
      "--experts 6 --experts-used 3 --expert-ffn 192 --shared-ffn 384" },
    //  GLM-4.5: a dense layer, then experts with shared ones, the selection biases whole
    { "glm4moe-f32", "glm4moe", "f32", 192, 6, 6, 288, false, 9, 1e-4, 1u << 2 | 1u << 3,
      "--experts 8 --experts-used 2 --expert-ffn 96 --layers 3 --rope-dims 16 --qkv-bias --nextn 1" },
    { "glm4moe-q8", "glm4moe", "q8_0", 192, 6, 6, 288, false, 70, 2e-2, 1u << 2,
      "--experts 6 --experts-used 3 --expert-ffn 192 --layers 3 --shared-experts 2 --rope-dims 16" },
    //  GPT-OSS: the sinks go with their heads, attn_output's and the experts' down biases to rank 0's sum,
    //  the gate and up biases cut with their rows (MXFP4 experts: whole blocks of 32)
    { "gpt-oss-f32", "gpt-oss", "f32", 192, 6, 6, 288, false, 9, 1e-4, 1u << 2 | 1u << 3,
      "--experts 8 --experts-used 2 --expert-ffn 96 --head-dim 32 --sliding-window 4" },
    { "gpt-oss-mxfp4", "gpt-oss", "q8_0", 256, 8, 4, 256, false, 70, 2e-2, 1u << 2,
      "--experts 4 --experts-used 2 --expert-ffn 128 --expert-type mxfp4 --head-dim 64 --sliding-window 4" },
};
#define CASES (sizeof s_cases / sizeof s_cases [0])

//  Writes a model with xinf-make-model into the scratch directory.
static void
s_make (const char *name, const char *arguments, char *path, size_t size)
{
    test_make_with (s_tool, name, arguments, path, size);
}

static void
s_make_case (const s_case_t *c, char *path, size_t size)
{
    char arguments [300], name [80];
    snprintf (arguments, sizeof arguments, "--arch %s --type %s --dim %d --heads %d --kv-heads %d --ffn %d %s --seed 5 %s",
              c->arch, c->type, c->dim, c->heads, c->kv_heads, c->ffn, c->tied ? "--tied" : "--no-tied",
              c->extra ? c->extra : "");
    snprintf (name, sizeof name, "%s.gguf", c->name);
    s_make (name, arguments, path, size);
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

static double
s_relative (const float *a, const float *b, size_t count)
{
    double difference = 0, scale = 1e-30;
    for (size_t index = 0; index < count; index++) {
        difference = fmax (difference, fabs ((double) a [index] - (double) b [index]));
        scale = fmax (scale, fabs ((double) b [index]));
    }
    return difference / scale;
}

static void
s_prompt (int32_t *tokens, size_t count, size_t vocab)
{
    for (size_t index = 0; index < count; index++)
        tokens [index] = (int32_t) ((index * 37 + 11) % vocab);
}

//  ---- the whole model --------------------------------------------------------

typedef struct {
    size_t vocab, prefill;
    float *prefill_logits;             //  [prefill][vocab]
    float *steps;                      //  [DECODE_STEPS][vocab]
    int32_t tokens [DECODE_STEPS];     //  fed at each step (greedy)
} s_reference_t;

static void
s_reference (const char *path, size_t prefill, s_reference_t *ref)
{
    char error [512] = "";
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    if (!model)
        fprintf (stderr, "%s\n", error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    ref->vocab = t->vocab;
    ref->prefill = prefill;
    ref->prefill_logits = calloc (prefill * t->vocab, sizeof (float));
    ref->steps = calloc (DECODE_STEPS * t->vocab, sizeof (float));
    int32_t *prompt = calloc (prefill, sizeof (int32_t));
    s_prompt (prompt, prefill, t->vocab);
    xinf_kv_t *kv = xinf_kv_new (t, prefill + DECODE_STEPS + 1);
    CHECK (kv);
    float *logits = calloc (t->vocab, sizeof (float));
    CHECK (xinf_transformer_forward (t, kv, NULL, prompt, prefill, 0, logits, ref->prefill_logits,
                                     error, sizeof error) == 0);
    for (size_t step = 0; step < DECODE_STEPS; step++) {
        ref->tokens [step] = s_argmax (step ? ref->steps + (step - 1) * t->vocab : logits, t->vocab);
        CHECK (xinf_transformer_forward (t, kv, NULL, &ref->tokens [step], 1, prefill + step,
                                         ref->steps + step * t->vocab, NULL, error, sizeof error) == 0);
    }
    free (logits);
    free (prompt);
    xinf_kv_destroy (&kv);
    xinf_model_destroy (&model);
}

static void
s_reference_free (s_reference_t *ref)
{
    free (ref->prefill_logits);
    free (ref->steps);
}

//  ---- ranks as threads -------------------------------------------------------

typedef struct {
    const char *path;
    int rank, n_ranks;
    test_coll_group_t *group;
    const s_reference_t *ref;
    bool greedy;                       //  rank 0 feeds its own argmax, not the reference's tokens
    //  Results
    int rc;
    char error [512];
    float *prefill_logits;             //  rank 0: [prefill][vocab]
    float *steps;                      //  rank 0: [DECODE_STEPS][vocab]
    float *last;                       //  every rank: logits of the last step
    int32_t tokens [DECODE_STEPS];
    uint64_t shard_bytes, progress_total, progress_done;
} s_rank_t;

static bool
s_on_progress (uint64_t done, uint64_t total, void *arg)
{
    s_rank_t *rank = arg;
    CHECK (done <= total && done >= rank->progress_done);
    rank->progress_done = done;
    rank->progress_total = total;
    return true;
}

//  Shares the next token from rank 0 (the broadcast a serving loop does).
static int
s_share_token (s_rank_t *self, xinf_collective_t *coll, int32_t *token)
{
    size_t bytes = sizeof *token;
    return xinf_collective_broadcast (coll, token, &bytes, sizeof *token, 0, self->error, sizeof self->error)
        || bytes != sizeof *token;
}

static int
s_decode (s_rank_t *self, const xinf_transformer_t *t, xinf_kv_t *kv, xinf_collective_t *coll,
          const float *prefill_last)
{
    size_t vocab = t->vocab, prefill = self->ref->prefill;
    for (size_t step = 0; step < DECODE_STEPS; step++) {
        int32_t token = 0;
        if (self->rank == 0)
            token = self->greedy ? s_argmax (step ? self->steps + (step - 1) * vocab : prefill_last, vocab)
                                 : self->ref->tokens [step];
        if (s_share_token (self, coll, &token))
            return -1;
        self->tokens [step] = token;
        bool last = step == DECODE_STEPS - 1;
        float *logits = self->rank == 0 ? self->steps + step * vocab : last ? self->last : NULL;
        if (xinf_transformer_forward (t, kv, NULL, &token, 1, prefill + step, logits, NULL,
                                      self->error, sizeof self->error))
            return -1;
    }
    if (self->rank == 0)
        memcpy (self->last, self->steps + (DECODE_STEPS - 1) * vocab, vocab * sizeof (float));
    return 0;
}

static void *
s_rank_main (void *arg)
{
    s_rank_t *self = arg;
    xinf_collective_t *coll = test_coll_new (self->group, self->rank);
    xinf_model_t *model = xinf_model_load_shard (self->path, self->rank, self->n_ranks, s_on_progress, self,
                                                 self->error, sizeof self->error);
    self->rc = -1;
    if (!model) {
        xinf_collective_abort (coll);  //  the others must not wait for this rank
        xinf_collective_destroy (&coll);
        return NULL;
    }
    self->shard_bytes = xinf_model_info (model)->shard_bytes;
    xinf_model_set_collective (model, coll);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    size_t prefill = self->ref->prefill;
    xinf_kv_t *kv = xinf_kv_new (t, prefill + DECODE_STEPS + 1);
    atomic_bool cancel = true;         //  a shard of n > 1 ranks never stops between layers
    xinf_kv_set_cancel (kv, &cancel);
    int32_t *prompt = calloc (prefill, sizeof (int32_t));
    s_prompt (prompt, prefill, t->vocab);
    float *logits = calloc (t->vocab, sizeof (float));
    self->last = calloc (t->vocab, sizeof (float));
    if (self->rank == 0) {
        self->prefill_logits = calloc (prefill * t->vocab, sizeof (float));
        self->steps = calloc (DECODE_STEPS * t->vocab, sizeof (float));
    }
    self->rc = xinf_transformer_forward (t, kv, NULL, prompt, prefill, 0, self->rank ? NULL : logits,
                                         self->prefill_logits, self->error, sizeof self->error);
    if (self->rc == 0)
        self->rc = s_decode (self, t, kv, coll, logits);
    if (self->rc)
        xinf_collective_abort (coll);
    free (logits);
    free (prompt);
    xinf_kv_destroy (&kv);
    xinf_model_destroy (&model);
    xinf_collective_destroy (&coll);
    return NULL;
}

//  Runs n_ranks threads over the model; the caller checks and frees.
static s_rank_t *
s_run_ranks (const char *path, int n_ranks, const s_reference_t *ref, bool greedy)
{
    test_coll_group_t *group = test_coll_group_new (n_ranks, COLL_TIMEOUT_MS);
    s_rank_t *ranks = calloc ((size_t) n_ranks, sizeof (s_rank_t));
    pthread_t threads [8];
    for (int rank = 0; rank < n_ranks; rank++) {
        ranks [rank] = (s_rank_t) { .path = path, .rank = rank, .n_ranks = n_ranks, .group = group,
                                    .ref = ref, .greedy = greedy };
        CHECK (pthread_create (&threads [rank], NULL, s_rank_main, &ranks [rank]) == 0);
    }
    for (int rank = 0; rank < n_ranks; rank++)
        pthread_join (threads [rank], NULL);
    test_coll_group_destroy (&group);
    for (int rank = 0; rank < n_ranks; rank++)
        if (ranks [rank].rc)
            fprintf (stderr, "rank %d of %d: %s\n", rank, n_ranks, ranks [rank].error);
    return ranks;
}

static void
s_free_ranks (s_rank_t *ranks, int n_ranks)
{
    for (int rank = 0; rank < n_ranks; rank++) {
        free (ranks [rank].prefill_logits);
        free (ranks [rank].steps);
        free (ranks [rank].last);
    }
    free (ranks);
}

//  Bytes of the tensors every rank holds whole: embedding, output, norms,
//  a mixture's routers (and GPT-OSS's routers' biases, Qwen2-MoE's shared
//  expert's gate vector, GLM-4.5's selection biases).
static uint64_t
s_replicated_bytes (const char *path)
{
    char error [512];
    xinf_gguf_t *gguf = xinf_gguf_open (path, error, sizeof error);
    CHECK (gguf);
    uint64_t bytes = 0;
    for (size_t index = 0; index < xinf_gguf_tensor_count (gguf); index++) {
        const xinf_gguf_tensor_t *tensor = xinf_gguf_tensor (gguf, index);
        if (streq (tensor->name, "token_embd.weight") || streq (tensor->name, "output.weight")
        ||  streq (tensor->name, "rope_freqs.weight") || strstr (tensor->name, "_norm.weight")
        ||  strstr (tensor->name, "ffn_gate_inp") || strstr (tensor->name, "exp_probs_b"))
            bytes += tensor->size;
    }
    xinf_gguf_destroy (&gguf);
    return bytes;
}

//  Every rank read exactly its bytes; together they cover the file once
//  plus the replicated tensors once per extra rank.
static void
s_check_bytes (const char *path, s_rank_t *ranks, int n_ranks)
{
    char error [512];
    xinf_model_t *whole = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (whole);
    uint64_t file_bytes = xinf_model_info (whole)->size_bytes, sum = 0;
    CHECK_INT (xinf_model_info (whole)->shard_bytes, file_bytes);
    CHECK_INT (xinf_model_info (whole)->n_ranks, 1);
    xinf_model_destroy (&whole);
    for (int rank = 0; rank < n_ranks; rank++) {
        CHECK_INT (ranks [rank].progress_total, ranks [rank].shard_bytes);
        CHECK_INT (ranks [rank].progress_done, ranks [rank].shard_bytes);
        CHECK (ranks [rank].shard_bytes < file_bytes);
        sum += ranks [rank].shard_bytes;
    }
    CHECK_INT (sum, file_bytes + (uint64_t) (n_ranks - 1) * s_replicated_bytes (path));
}

//  Rank 0 against the whole model; returns the largest relative difference.
static double
s_compare (const s_case_t *c, const s_reference_t *ref, s_rank_t *ranks, int n_ranks)
{
    size_t vocab = ref->vocab;
    double worst = 0;
    for (size_t position = 0; position < ref->prefill; position++)
        worst = fmax (worst, s_relative (ranks [0].prefill_logits + position * vocab,
                                         ref->prefill_logits + position * vocab, vocab));
    for (size_t step = 0; step < DECODE_STEPS; step++) {
        CHECK_INT (ranks [0].tokens [step], ref->tokens [step]);
        worst = fmax (worst, s_relative (ranks [0].steps + step * vocab, ref->steps + step * vocab, vocab));
    }
    for (int rank = 1; rank < n_ranks; rank++) {
        CHECK (memcmp (ranks [rank].last, ranks [0].last, vocab * sizeof (float)) == 0);
        CHECK (memcmp (ranks [rank].tokens, ranks [0].tokens, sizeof ranks [0].tokens) == 0);
    }
    if (worst > c->tolerance)
        fprintf (stderr, "%s over %d ranks: relative logit difference %.3g > %.0e\n", c->name, n_ranks, worst,
                 c->tolerance);
    CHECK (worst <= c->tolerance);
    return worst;
}

static void
test_shards_match_whole_model (void)
{
    for (size_t index = 0; index < CASES; index++) {
        const s_case_t *c = &s_cases [index];
        char path [400];
        s_make_case (c, path, sizeof path);
        s_reference_t ref;
        s_reference (path, c->prefill, &ref);
        for (int n_ranks = 2; n_ranks <= 3; n_ranks++) {
            if (!(c->ranks & (1u << n_ranks)))
                continue;
            bool greedy = streq (c->type, "f32");
            s_rank_t *ranks = s_run_ranks (path, n_ranks, &ref, greedy);
            for (int rank = 0; rank < n_ranks; rank++)
                CHECK_INT (ranks [rank].rc, 0);
            double worst = s_compare (c, &ref, ranks, n_ranks);
            s_check_bytes (path, ranks, n_ranks);
            fprintf (stderr, "      %-16s %-5s %d ranks: max relative logit difference %.3g%s\n", c->name, c->type,
                     n_ranks, worst, greedy ? ", greedy tokens equal" : "");
            s_free_ranks (ranks, n_ranks);
        }
        s_reference_free (&ref);
    }
}

//  ---- the thread collective itself ---------------------------------------------

typedef struct {
    test_coll_group_t *group;
    int rank;
    size_t count;                      //  of the all-reduce (a rank may differ on purpose)
    float data [8];
    int32_t token;
    int rc;
    char error [256];
} s_member_t;

static void *
s_member_main (void *arg)
{
    s_member_t *self = arg;
    xinf_collective_t *coll = test_coll_new (self->group, self->rank);
    for (size_t at = 0; at < 8; at++)
        self->data [at] = (float) (self->rank + 1) * 0.1f + (float) at;
    self->token = self->rank == 0 ? 4242 : -1;
    size_t bytes = sizeof self->token;
    self->rc = xinf_collective_all_reduce_sum (coll, self->data, self->count, self->error, sizeof self->error)
            || xinf_collective_broadcast (coll, &self->token, &bytes, sizeof self->token, 0,
                                          self->error, sizeof self->error);
    xinf_collective_destroy (&coll);
    return NULL;
}

static void
s_run_members (s_member_t *members, int size, size_t odd_count)
{
    test_coll_group_t *group = test_coll_group_new (size, 5000);
    pthread_t threads [3];
    for (int rank = 0; rank < size; rank++) {
        members [rank] = (s_member_t) { .group = group, .rank = rank, .count = rank == size - 1 ? odd_count : 8 };
        CHECK (pthread_create (&threads [rank], NULL, s_member_main, &members [rank]) == 0);
    }
    for (int rank = 0; rank < size; rank++)
        pthread_join (threads [rank], NULL);
    test_coll_group_destroy (&group);
}

static void
test_thread_collective (void)
{
    s_member_t members [3];
    s_run_members (members, 3, 8);
    for (int rank = 0; rank < 3; rank++) {
        CHECK_INT (members [rank].rc, 0);
        CHECK_INT (members [rank].token, 4242);
        for (size_t at = 0; at < 8; at++) {
            float sum = 0;
            for (int from = 0; from < 3; from++)          //  in rank order
                sum = from ? sum + ((float) (from + 1) * 0.1f + (float) at) : 0.1f + (float) at;
            CHECK (memcmp (&members [rank].data [at], &sum, sizeof sum) == 0);
        }
    }
    s_run_members (members, 3, 5);
    for (int rank = 0; rank < 3; rank++) {
        CHECK_INT (members [rank].rc, 1);
        CHECK_HAS (members [rank].error, "rank 2 called all_reduce_sum (count 5");
    }
}

//  ---- errors ----------------------------------------------------------------

static void
s_expect_load_error (const char *path, int rank, int n_ranks, const char *reason)
{
    char error [512] = "";
    xinf_model_t *model = xinf_model_load_shard (path, rank, n_ranks, NULL, NULL, error, sizeof error);
    if (model)
        fprintf (stderr, "rank %d of %d loaded, expected: %s\n", rank, n_ranks, reason);
    CHECK (model == NULL);
    CHECK_HAS (error, reason);
}

static void
test_split_errors (void)
{
    char path [400];
    s_make ("gqa3.gguf", "--dim 192 --heads 6 --kv-heads 2 --ffn 192", path, sizeof path);
    s_expect_load_error (path, 0, 3, "cannot split 2 KV heads over 3 ranks");
    s_expect_load_error (path, 2, 4, "cannot split 2 KV heads over 4 ranks");
    //  head_dim 16: 3 heads a rank are 48 columns of attn_output
    s_make ("q8-hd16.gguf", "--type q8_0 --dim 96 --heads 6 --kv-heads 6 --ffn 64", path, sizeof path);
    s_expect_load_error (path, 0, 2, "blk.0.attn_output Q8_0 columns 0..48 are not on 32-column block boundaries");
    s_expect_load_error (path, 1, 2, "blk.0.attn_output Q8_0 columns 48..96 are not on 32-column block boundaries");
    s_expect_load_error (path, 0, 3, "cannot split ffn 64 over 3 ranks in 32-column blocks");
    //  the same shape in F32 splits by single columns
    s_make ("f32-hd16.gguf", "--dim 96 --heads 6 --kv-heads 6 --ffn 64", path, sizeof path);
    char error [512];
    xinf_model_t *model = xinf_model_load_shard (path, 1, 2, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK_INT (t->shard.head_first, 3);
    CHECK_INT (t->layers [0].o.cols, 48);
    CHECK_INT (t->layers [0].down.cols, 32);
    xinf_model_destroy (&model);
    s_make ("f32-ffn2.gguf", "--dim 96 --heads 6 --kv-heads 6 --ffn 2", path, sizeof path);
    s_expect_load_error (path, 0, 3, "cannot split ffn 2 over 3 ranks");
}

//  A K-quant (256-column blocks: Q4_K, Q2_K, Q3_K) attn_output and
//  ffn_down: a split between whole blocks copies the right bytes of every
//  row, one inside a block is refused, naming the tensor and the columns.

//  The weights are in memory already: a read copies (or keeps) them.
static int
s_read_memory (void *arg, const void *at, size_t bytes, void *into, char *error, size_t error_size)
{
    if (into != at)
        memmove (into, at, bytes);
    return 0;
}

static void
s_k_quant_columns (xinf_dtype_t dtype)
{
    xinf_transformer_t model = { .dim = 512, .n_heads = 8, .n_kv_heads = 8, .head_dim = 64, .ffn = 512 };
    size_t row_bytes = xinf_dtype_row_bytes (dtype, 512), bytes = 512 * row_bytes;
    uint8_t *weights = malloc (bytes);
    CHECK (weights);
    for (size_t i = 0; i < bytes; i++)
        weights [i] = (uint8_t) (i * 7 + i / 251);
    xinf_matrix_t matrix = { dtype, weights, 512, 512 };
    for (size_t ranks = 2; ranks <= 4; ranks += 2) {
        char error [256] = "";
        //  (4 ranks: ffn in single columns, which attn_output's split fails first)
        CHECK (xinf_shard_plan (&model.shard, &model, 1, ranks, ranks == 2 ? 256 : 1, error, sizeof error) == 0);
        xinf_layer_t layer = { .q = matrix, .k = matrix, .v = matrix, .o = matrix, .gate = matrix, .up = matrix,
                               .down = matrix };
        xinf_slices_t *slices = xinf_slices_new (s_read_memory, NULL);
        CHECK (slices);
        int rc = xinf_shard_layer (&model, 0, &layer, slices, error, sizeof error);
        if (ranks == 2) {
            CHECK (rc == 0);
            CHECK (xinf_slices_read (slices, NULL, NULL, error, sizeof error) == 0);
            CHECK_INT (layer.o.cols, 256);
            CHECK_INT (layer.down.cols, 256);
            for (size_t r = 0; r < 512; r++)
                CHECK (memcmp ((const uint8_t *) layer.o.data + r * row_bytes / 2, weights + r * row_bytes + row_bytes / 2,
                               row_bytes / 2) == 0);
        }
        else {
            char expected [128];
            snprintf (expected, sizeof expected, "blk.0.attn_output %s columns 128..256 are not on 256-column block boundaries",
                      xinf_dtype_name (dtype));
            CHECK (rc == -1);
            CHECK_HAS (error, expected);
        }
        xinf_slices_destroy (&slices);
    }
    free (weights);
}

static void
test_k_quant_columns (void)
{
    s_k_quant_columns (XINF_DTYPE_Q4_K);
    s_k_quant_columns (XINF_DTYPE_Q2_K);
    s_k_quant_columns (XINF_DTYPE_Q3_K);
}

static void
test_rank_errors (void)
{
    char path [400];
    s_make ("ranks.gguf", "--dim 192 --heads 6 --kv-heads 6 --ffn 192", path, sizeof path);
    s_expect_load_error (path, 0, 0, "n_ranks must be at least 1 (got 0)");
    s_expect_load_error (path, 0, -2, "n_ranks must be at least 1 (got -2)");
    s_expect_load_error (path, -1, 2, "rank -1 is out of range for 2 ranks (0..1)");
    s_expect_load_error (path, 2, 2, "rank 2 is out of range for 2 ranks (0..1)");
    s_expect_load_error (path, 7, 3, "rank 7 is out of range for 3 ranks (0..2)");
    char missing [400];
    test_path (missing, sizeof missing, "missing.gguf");
    s_expect_load_error (missing, 0, 2, "missing.gguf");
}

static bool
s_cancel_load (uint64_t done, uint64_t total, void *arg)
{
    (void) done, (void) total, (void) arg;
    return false;
}

//  Shard info, cancel, and forward without or with a failed collective.
static void
test_shard_forward_errors (void)
{
    char path [400], error [512] = "";
    s_make ("fwd.gguf", "--arch qwen2 --dim 192 --heads 6 --kv-heads 6 --ffn 192", path, sizeof path);
    CHECK (xinf_model_load_shard (path, 1, 2, s_cancel_load, NULL, error, sizeof error) == NULL);
    CHECK_STR (error, "load cancelled");
    xinf_model_t *model = xinf_model_load_shard (path, 1, 2, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_model_info_t *info = xinf_model_info (model);
    CHECK_INT (info->rank, 1);
    CHECK_INT (info->n_ranks, 2);
    CHECK (info->shard_bytes > 0 && info->shard_bytes < info->size_bytes);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK_INT (t->shard.n_heads, 3);
    CHECK_INT (t->layers [0].q.rows, 96);
    xinf_kv_t *kv = xinf_kv_new (t, 8);
    int32_t token = 5;
    CHECK (xinf_transformer_forward (t, kv, NULL, &token, 1, 0, NULL, NULL, error, sizeof error) == -1);
    CHECK_HAS (error, "rank 1 of 2 has no collective");
    //  A collective of the wrong group
    test_coll_group_t *three = test_coll_group_new (3, 1000);
    xinf_collective_t *wrong = test_coll_new (three, 1);
    xinf_model_set_collective (model, wrong);
    CHECK (xinf_transformer_forward (t, kv, NULL, &token, 1, 0, NULL, NULL, error, sizeof error) == -1);
    CHECK_HAS (error, "the collective is rank 1 of 3, the model shard 1 of 2");
    //  A failed collective fails the forward pass with its reason
    test_coll_group_t *group = test_coll_group_new (2, 1000);
    xinf_collective_t *coll = test_coll_new (group, 1);
    xinf_model_set_collective (model, coll);
    xinf_collective_abort (coll);
    CHECK (xinf_transformer_forward (t, kv, NULL, &token, 1, 0, NULL, NULL, error, sizeof error) == -1);
    CHECK_HAS (error, "aborted");
    CHECK_HAS (error, "layer 0 attn_output");
    //  A peer that never comes: the group's timeout
    test_coll_group_t *lonely = test_coll_group_new (2, 200);
    xinf_collective_t *alone = test_coll_new (lonely, 1);
    xinf_model_set_collective (model, alone);
    CHECK (xinf_transformer_forward (t, kv, NULL, &token, 1, 0, NULL, NULL, error, sizeof error) == -1);
    CHECK_HAS (error, "rank 1: no data within 200 ms from rank 0");
    xinf_collective_destroy (&alone);
    xinf_collective_destroy (&coll);
    xinf_collective_destroy (&wrong);
    test_coll_group_destroy (&lonely);
    test_coll_group_destroy (&group);
    test_coll_group_destroy (&three);
    xinf_kv_destroy (&kv);
    xinf_model_destroy (&model);
}

//  Shard 0 of 1 is the whole model, bit for bit; it still cancels.
static void
test_one_rank_is_whole (void)
{
    char path [400], error [512];
    s_make ("one.gguf", "--arch qwen2 --type q8_0 --dim 192 --heads 6 --kv-heads 2 --ffn 288", path, sizeof path);
    xinf_model_t *whole = xinf_model_load (path, NULL, NULL, error, sizeof error);
    xinf_model_t *shard = xinf_model_load_shard (path, 0, 1, NULL, NULL, error, sizeof error);
    CHECK (whole && shard);
    const xinf_transformer_t *a = xinf_model_transformer (whole), *b = xinf_model_transformer (shard);
    CHECK (b->layers [1].o.cols == a->dim && b->layers [1].down.cols == a->ffn && b->shard.n_heads == a->n_heads);
    CHECK_INT (xinf_model_info (shard)->shard_bytes, xinf_model_info (shard)->size_bytes);
    xinf_kv_t *kv_a = xinf_kv_new (a, 16), *kv_b = xinf_kv_new (b, 16);
    int32_t tokens [5] = { 1, 7, 300, 4, 9 };
    float *logits_a = calloc (a->vocab, sizeof (float)), *logits_b = calloc (b->vocab, sizeof (float));
    CHECK (xinf_transformer_forward (a, kv_a, NULL, tokens, 5, 0, logits_a, NULL, error, sizeof error) == 0);
    CHECK (xinf_transformer_forward (b, kv_b, NULL, tokens, 5, 0, logits_b, NULL, error, sizeof error) == 0);
    CHECK (memcmp (logits_a, logits_b, a->vocab * sizeof (float)) == 0);
    CHECK (xinf_transformer_forward (b, kv_b, NULL, tokens, 1, 5, NULL, NULL, error, sizeof error) == 0);
    atomic_bool cancel = true;
    xinf_kv_set_cancel (kv_b, &cancel);
    CHECK (xinf_transformer_forward (b, kv_b, NULL, tokens, 1, 6, logits_b, NULL, error, sizeof error) == -1);
    CHECK_STR (error, "cancelled");
    free (logits_a);
    free (logits_b);
    xinf_kv_destroy (&kv_a);
    xinf_kv_destroy (&kv_b);
    xinf_model_destroy (&whole);
    xinf_model_destroy (&shard);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: test_shard PATH/TO/xinf-make-model\n");
        return 2;
    }
    s_tool = argv [1];
    test_scratch_begin ();
    RUN (test_thread_collective);
    RUN (test_rank_errors);
    RUN (test_split_errors);
    RUN (test_k_quant_columns);
    RUN (test_shard_forward_errors);
    RUN (test_one_rank_is_whole);
    RUN (test_shards_match_whole_model);
    test_scratch_end ();
    return 0;
}
