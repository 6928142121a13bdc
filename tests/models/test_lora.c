/*  test_lora: LoRA adapter files (xinf_lora). One written by xinf-make-lora
    loads with its pairs, ranks and scales; hand-made files with every
    kind of mistake are refused naming the tensor or key (not an adapter,
    another architecture, half a pair, shapes of another model, unknown
    and unadaptable tensors, a rank too large); garbage and truncated
    files are refused, never a crash. A tensor-parallel shard keeps its
    part of each pair; a KV cache made before the adapters knows none.

        test_lora PATH/TO/xinf-make-model PATH/TO/xinf-make-lora
*/
#include "test_models.h"
#include "xinf_gguf_writer.h"
#include "xinf_lora.h"
#include "xinf_model.h"

#include <sys/wait.h>

static const char *s_make_model, *s_make_lora;
static xinf_model_t *s_model;
static char s_base [512];

//  The base: qwen2, dim 64, 4 heads of 16 (2 KV heads), ffn 96, 2 layers.
static void
s_load_base (void)
{
    char command [1200], error [512];
    test_path (s_base, sizeof s_base, "base.gguf");
    snprintf (command, sizeof command, "'%s' --arch qwen2 --dim 64 --heads 4 --kv-heads 2 --ffn 96 --layers 2 "
              "-o '%s' > /dev/null", s_make_model, s_base);
    CHECK (system (command) == 0);
    s_model = xinf_model_load (s_base, NULL, NULL, error, sizeof error);
    CHECK (s_model);
}

//  An adapter of the base made by xinf-make-lora with 'options' at 'name'
//  in the scratch directory, its path in 'path'.
static void
s_make_adapter (const char *name, const char *options, char *path, size_t size)
{
    char command [1500];
    test_path (path, size, name);
    snprintf (command, sizeof command, "'%s' '%s' %s -o '%s' > /dev/null", s_make_lora, s_base, options, path);
    CHECK (system (command) == 0);
}

static void
test_made (void)
{
    char path [512], error [512];
    s_make_adapter ("made.gguf", "--rank 8 --alpha 32", path, sizeof path);
    const xinf_transformer_t *t = xinf_model_transformer (s_model);
    xinf_lora_t *lora = xinf_lora_load (path, t, "qwen2", error, sizeof error);
    CHECK (lora);
    CHECK_INT (xinf_lora_count (lora), 14);
    CHECK_INT (xinf_lora_rank (lora), 8);
    CHECK (xinf_lora_alpha (lora) == 32.0f);
    const xinf_lora_pair_t *pair = xinf_lora_pair (lora, 1, XINF_LORA_DOWN);
    CHECK (pair && pair->scale == 4.0f && pair->a.rows == 8 && pair->a.cols == 96 && pair->b.rows == 64
           && pair->b.cols == 8 && pair->a.dtype == XINF_DTYPE_F16);
    CHECK (xinf_lora_pair (lora, 2, XINF_LORA_Q) == NULL);
    xinf_lora_destroy (&lora);
    //  Only some weights, alpha 0 (scale 1), in Q8_0 (rank 32: B's rows are whole blocks)
    s_make_adapter ("made.gguf", "--rank 32 --alpha 0 --type q8_0 --targets attn_k,ffn_up", path, sizeof path);
    lora = xinf_lora_load (path, t, "qwen2", error, sizeof error);
    CHECK (lora);
    CHECK_INT (xinf_lora_count (lora), 4);
    CHECK (xinf_lora_pair (lora, 0, XINF_LORA_Q) == NULL && xinf_lora_pair (lora, 0, XINF_LORA_UP)->scale == 1.0f);
    xinf_lora_destroy (&lora);
    //  Another architecture's model
    lora = xinf_lora_load (path, t, "llama", error, sizeof error);
    CHECK (!lora);
    CHECK_HAS (error, "general.architecture is 'qwen2' but the model is llama");
}

//  A hand-made adapter file: its keys (NULL: absent), then tensors given as
//  "NAME TYPE NE0 NE1" (TYPE f32, f16 or q8_0).
static void
s_write (const char *path, const char *type, const char *adapter, const char *arch, double alpha,
         const char *const *tensors)
{
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    if (arch)
        xinf_gguf_writer_set_str (writer, "general.architecture", arch);
    if (type)
        xinf_gguf_writer_set_str (writer, "general.type", type);
    if (adapter)
        xinf_gguf_writer_set_str (writer, "adapter.type", adapter);
    xinf_gguf_writer_set_f32 (writer, "adapter.lora.alpha", (float) alpha);
    size_t count = 0;
    for (; tensors [count]; count++) {
        char name [80], kind [8];
        unsigned long long ne [2];
        CHECK (sscanf (tensors [count], "%79s %7s %llu %llu", name, kind, &ne [0], &ne [1]) == 4);
        uint32_t ggml = streq (kind, "f32") ? XINF_GGML_F32 : streq (kind, "f16") ? XINF_GGML_F16 : XINF_GGML_Q8_0;
        uint64_t dims [2] = { ne [0], ne [1] };
        CHECK (xinf_gguf_writer_add_tensor (writer, name, ggml, 2, dims) == 0);
    }
    CHECK (xinf_gguf_writer_begin (writer, path) == 0);
    for (size_t index = 0; index < count; index++) {
        size_t size = (size_t) xinf_gguf_writer_tensor_size (writer, index);
        void *zeros = calloc (1, size ? size : 1);
        CHECK (xinf_gguf_writer_write (writer, zeros, size) == 0);
        free (zeros);
    }
    CHECK (xinf_gguf_writer_finish (writer) == 0);
    xinf_gguf_writer_destroy (&writer);
}

static void
s_refused (const char *what, const char *type, const char *adapter, const char *arch, double alpha,
           const char *const *tensors, const char *needle)
{
    char path [512], error [512];
    test_path (path, sizeof path, "bad.gguf");
    s_write (path, type, adapter, arch, alpha, tensors);
    xinf_lora_t *lora = xinf_lora_load (path, xinf_model_transformer (s_model), "qwen2", error, sizeof error);
    if (lora || !strstr (error, needle))
        fprintf (stderr, "%s: got '%s', wanted '%s'\n", what, lora ? "(loaded)" : error, needle);
    CHECK (!lora);
    CHECK_HAS (error, needle);
    CHECK_HAS (error, path);
}

static void
test_refusals (void)
{
    const char *good [] = { "blk.0.attn_q.weight.lora_a f32 64 8", "blk.0.attn_q.weight.lora_b f32 8 64", NULL };
    char path [512], error [512];
    test_path (path, sizeof path, "good.gguf");
    s_write (path, "adapter", "lora", "qwen2", 16, good);
    xinf_lora_t *lora = xinf_lora_load (path, xinf_model_transformer (s_model), "qwen2", error, sizeof error);
    CHECK (lora && xinf_lora_count (lora) == 1 && xinf_lora_pair (lora, 0, XINF_LORA_Q)->scale == 2.0f);
    xinf_lora_destroy (&lora);
    s_refused ("a model", "model", "lora", "qwen2", 16, good, "general.type is 'model', not 'adapter'");
    s_refused ("no type", NULL, "lora", "qwen2", 16, good, "general.type is '(absent)'");
    s_refused ("ia3", "adapter", "ia3", "qwen2", 16, good, "adapter.type is 'ia3', not 'lora'");
    s_refused ("llama", "adapter", "lora", "llama", 16, good, "general.architecture is 'llama'");
    s_refused ("alpha", "adapter", "lora", "qwen2", -1, good, "adapter.lora.alpha");
    const char *half [] = { "blk.0.attn_q.weight.lora_a f32 64 8", NULL };
    s_refused ("half", "adapter", "lora", "qwen2", 16, half, "blk.0.attn_q.weight has lora_a without lora_b");
    const char *wide [] = { "blk.0.attn_k.weight.lora_a f32 64 8", "blk.0.attn_k.weight.lora_b f32 8 64", NULL };
    s_refused ("other model", "adapter", "lora", "qwen2", 16, wide, "an adapter of another model?");
    const char *ranks [] = { "blk.0.attn_q.weight.lora_a f32 64 8", "blk.0.attn_q.weight.lora_b f32 4 64", NULL };
    s_refused ("ranks differ", "adapter", "lora", "qwen2", 16, ranks, "lora_b 64x4");
    const char *embd [] = { "token_embd.weight.lora_a f32 64 8", "token_embd.weight.lora_b f32 8 512", NULL };
    s_refused ("token_embd", "adapter", "lora", "qwen2", 16, embd, "not 'token_embd.weight'");
    const char *output [] = { "output.weight.lora_a f32 64 8", NULL };
    s_refused ("output", "adapter", "lora", "qwen2", 16, output, "not 'output.weight'");
    const char *odd [] = { "blk.0.attn_q.weight.bias f32 64 1", NULL };
    s_refused ("suffix", "adapter", "lora", "qwen2", 16, odd, "is not a LoRA tensor");
    const char *layer [] = { "blk.2.attn_q.weight.lora_a f32 64 8", NULL };
    s_refused ("layer", "adapter", "lora", "qwen2", 16, layer, "no layer of the model's 2");
    const char *zeros [] = { "blk.01.attn_q.weight.lora_a f32 64 8", NULL };
    s_refused ("leading zero", "adapter", "lora", "qwen2", 16, zeros, "no layer of the model's 2");
    const char *sign [] = { "blk.+1.attn_q.weight.lora_a f32 64 8", NULL };
    s_refused ("sign", "adapter", "lora", "qwen2", 16, sign, "no layer of the model's 2");
    const char *norm [] = { "blk.0.attn_qkv.weight.lora_a f32 64 8", NULL };
    s_refused ("target", "adapter", "lora", "qwen2", 16, norm, "xinf adapts attn_q");
    const char *rank [] = { "blk.0.attn_q.weight.lora_a f32 64 2048", "blk.0.attn_q.weight.lora_b f32 2048 64", NULL };
    s_refused ("rank", "adapter", "lora", "qwen2", 16, rank, "rank 2048, outside 1..1024");
    const char *none [] = { "blk.0.attn_norm_norm.weight f32 64 1", NULL };
    s_refused ("empty", "adapter", "lora", "qwen2", 16, none, "no lora_a/lora_b pairs");
}

//  Random bytes, a file cut short, a directory: refused with a reason.
static void
test_garbage (void)
{
    char path [512], made [512], error [512];
    const xinf_transformer_t *t = xinf_model_transformer (s_model);
    s_make_adapter ("whole.gguf", "", made, sizeof made);
    size_t size;
    uint8_t *bytes = test_read_file (made, &size);
    test_path (path, sizeof path, "cut.gguf");
    for (size_t cut = 0; cut < size; cut += size / 23 + 1) {
        test_write_file (path, bytes, cut);
        CHECK (xinf_lora_load (path, t, "qwen2", error, sizeof error) == NULL);
        CHECK (*error);
    }
    uint64_t state = 7;
    for (int round = 0; round < 50; round++) {
        memcpy (bytes + 0, "GGUF", 4);
        for (int flips = 0; flips < 8; flips++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            bytes [(state >> 33) % size] ^= (uint8_t) (state >> 17);
        }
        test_write_file (path, bytes, size);
        xinf_lora_t *lora = xinf_lora_load (path, t, "qwen2", error, sizeof error);
        xinf_lora_destroy (&lora);            //  loaded or not: no crash, no leak
    }
    free (bytes);
    CHECK (xinf_lora_load (s_scratch, t, "qwen2", error, sizeof error) == NULL);
    CHECK (*error);
}

//  A tensor-parallel shard keeps its part: B's rows of the weights split
//  by rows, A's columns of those split by columns (copies equal to the
//  whole adapter's columns); a Q8_0 A whose split falls inside a block is
//  refused.
static void
test_shard (void)
{
    char path [512], q8 [512], error [512];
    s_make_adapter ("shard.gguf", "--rank 8 --type f16", path, sizeof path);
    s_make_adapter ("shard-q8.gguf", "--rank 32 --type q8_0 --targets ffn_down", q8, sizeof q8);
    const xinf_transformer_t *whole_t = xinf_model_transformer (s_model);
    xinf_lora_t *whole = xinf_lora_load (path, whole_t, "qwen2", error, sizeof error);
    CHECK (whole);
    xinf_model_t *shard = xinf_model_load_shard (s_base, 1, 2, NULL, NULL, error, sizeof error);
    CHECK (shard);
    const xinf_transformer_t *t = xinf_model_transformer (shard);
    xinf_lora_t *part = xinf_lora_load (path, t, "qwen2", error, sizeof error);
    CHECK (part);
    //  attn_q: rank 1 computes q rows 32..63 (heads 2, 3 of 16): B's rows, transposed
    const xinf_lora_pair_t *q = xinf_lora_pair (part, 0, XINF_LORA_Q), *wq = xinf_lora_pair (whole, 0, XINF_LORA_Q);
    CHECK (q->bt.rows == 8 && q->bt.cols == 32 && q->a.cols == 64);
    for (size_t r = 0; r < 8; r++)
        CHECK (memcmp ((const uint16_t *) q->bt.data + r * 32, (const uint16_t *) wq->bt.data + r * 64 + 32, 64) == 0);
    //  ffn_down: rank 1 sees ffn columns 48..95: A's columns, copied
    const xinf_lora_pair_t *d = xinf_lora_pair (part, 1, XINF_LORA_DOWN), *wd = xinf_lora_pair (whole, 1, XINF_LORA_DOWN);
    CHECK (d->a.cols == 48 && d->a.rows == 8 && d->bt.cols == 64);
    for (size_t r = 0; r < 8; r++)
        CHECK (memcmp ((const uint16_t *) d->a.data + r * 48, (const uint16_t *) wd->a.data + r * 96 + 48, 96) == 0);
    CHECK (xinf_lora_load (q8, t, "qwen2", error, sizeof error) == NULL);
    CHECK_HAS (error, "are not whole blocks of 32");
    xinf_lora_destroy (&part);
    xinf_lora_destroy (&whole);
    xinf_model_destroy (&shard);
}

//  A KV cache made before the adapters were attached knows none: a step
//  naming one is refused, never run without its scratch.
static void
test_cache_order (void)
{
    char path [512], error [512];
    s_make_adapter ("order.gguf", "", path, sizeof path);
    xinf_model_t *model = xinf_model_load (s_base, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_kv_t *early = xinf_kv_new (t, 64);
    xinf_lora_t *lora = xinf_lora_load (path, t, "qwen2", error, sizeof error);
    CHECK (early && lora);
    xinf_model_set_loras (model, &lora, 1);
    xinf_kv_t *late = xinf_kv_new (t, 64);
    xinf_kv_set_lora (early, 1);
    xinf_kv_set_lora (late, 1);
    xinf_threadpool_t *pool = xinf_threadpool_new (1);
    float *logits = malloc (t->vocab * sizeof (float));
    int32_t tokens [3] = { 1, 2, 3 };
    CHECK (xinf_transformer_forward (t, early, pool, tokens, 3, 0, logits, NULL, error, sizeof error) == -1);
    CHECK_HAS (error, "LoRA adapter 1 of the 0 the KV cache was made for");
    CHECK (xinf_transformer_forward (t, late, pool, tokens, 3, 0, logits, NULL, error, sizeof error) == 0);
    free (logits);
    xinf_threadpool_destroy (&pool);
    xinf_kv_destroy (&early);
    xinf_kv_destroy (&late);
    xinf_model_destroy (&model);
    xinf_lora_destroy (&lora);
}

//  A mixture-of-experts model: adapters of its attention load and serve;
//  one of a feed-forward weight (the base's ffn_gate, made for a dense
//  model of the same shapes) is refused naming the layer, not accepted and
//  left unused.
static void
test_experts (void)
{
    char moe [512], dense [512], attention [512], feed_forward [512], command [4096], error [512];
    test_path (moe, sizeof moe, "moe.gguf");
    test_path (dense, sizeof dense, "dense.gguf");
    test_path (attention, sizeof attention, "moe-attention.gguf");
    test_path (feed_forward, sizeof feed_forward, "dense-ffn.gguf");
    const char *shape = "--dim 64 --heads 4 --kv-heads 2 --head-dim 16 --ffn 96 --layers 2";
    snprintf (command, sizeof command, "'%s' --arch qwen3moe %s --experts 4 --experts-used 2 --expert-ffn 96 "
              "-o '%s' > /dev/null && '%s' --arch qwen3 %s -o '%s' > /dev/null && '%s' '%s' --targets attn_q,attn_v "
              "-o '%s' > /dev/null && '%s' '%s' --targets ffn_gate -o '%s' > /dev/null", s_make_model, shape, moe,
              s_make_model, shape, dense, s_make_lora, moe, attention, s_make_lora, dense, feed_forward);
    CHECK (system (command) == 0);
    xinf_model_t *model = xinf_model_load (moe, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_lora_t *lora = xinf_lora_load (attention, t, "qwen3moe", error, sizeof error);
    CHECK (lora);
    xinf_lora_destroy (&lora);
    //  Named as the dense adapter's architecture, so that the shapes are what is checked
    CHECK (!xinf_lora_load (feed_forward, t, "qwen3", error, sizeof error));
    CHECK_HAS (error, "blk.0.ffn_gate.weight: layer 0 is a mixture of experts");
    xinf_model_destroy (&model);
}

//  Phi-3's fused weights: one pair of attn_qkv adapts q, k and v (A
//  shared, B's rows cut at the heads), one of ffn_up the gate and up; a
//  shard takes its rows of each; an adapter of a model with other heads,
//  or one that mixes fused and apart halves, is refused naming the fused
//  weight.
static void
test_fused (void)
{
    char fused [512], other [512], adapter [512], wrong [512], command [4096], error [512];
    test_path (fused, sizeof fused, "phi3.gguf");
    test_path (other, sizeof other, "phi3-mha.gguf");
    test_path (adapter, sizeof adapter, "phi3-lora.gguf");
    test_path (wrong, sizeof wrong, "phi3-mha-lora.gguf");
    const char *shape = "--arch phi3 --dim 64 --heads 4 --head-dim 16 --ffn 96 --layers 2";
    snprintf (command, sizeof command, "'%s' %s --kv-heads 2 -o '%s' > /dev/null && '%s' %s --kv-heads 4 -o '%s' "
              "> /dev/null && '%s' '%s' --rank 8 -o '%s' > /dev/null && '%s' '%s' --rank 8 -o '%s' > /dev/null",
              s_make_model, shape, fused, s_make_model, shape, other, s_make_lora, fused, adapter, s_make_lora,
              other, wrong);
    CHECK (system (command) == 0);
    xinf_model_t *model = xinf_model_load (fused, NULL, NULL, error, sizeof error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_lora_t *lora = xinf_lora_load (adapter, t, "phi3", error, sizeof error);
    CHECK (lora);
    CHECK_INT (xinf_lora_count (lora), 14);       //  q, k, v, o, gate, up, down in each layer
    const xinf_lora_pair_t *q = xinf_lora_pair (lora, 1, XINF_LORA_Q), *k = xinf_lora_pair (lora, 1, XINF_LORA_K);
    const xinf_lora_pair_t *v = xinf_lora_pair (lora, 1, XINF_LORA_V), *gate = xinf_lora_pair (lora, 1, XINF_LORA_GATE);
    const xinf_lora_pair_t *up = xinf_lora_pair (lora, 1, XINF_LORA_UP);
    CHECK (q && k && v && gate && up);
    CHECK (q->a.data == k->a.data && k->a.data == v->a.data && gate->a.data == up->a.data);
    CHECK (q->b.rows == 64 && k->b.rows == 32 && v->b.rows == 32 && gate->b.rows == 96 && up->b.rows == 96);
    size_t row = xinf_dtype_row_bytes (q->b.dtype, 8);
    CHECK ((const char *) k->b.data == (const char *) q->b.data + 64 * row);
    CHECK ((const char *) v->b.data == (const char *) k->b.data + 32 * row);
    CHECK ((const char *) up->b.data == (const char *) gate->b.data + 96 * row);
    //  Over two ranks: rank 1's rows of each part
    xinf_model_t *shard = xinf_model_load_shard (fused, 1, 2, NULL, NULL, error, sizeof error);
    CHECK (shard);
    xinf_lora_t *part = xinf_lora_load (adapter, xinf_model_transformer (shard), "phi3", error, sizeof error);
    CHECK (part);
    const xinf_lora_pair_t *part_k = xinf_lora_pair (part, 1, XINF_LORA_K), *part_up = xinf_lora_pair (part, 1,
                                                                                                         XINF_LORA_UP);
    CHECK (part_k->b.rows == 16 && memcmp (part_k->b.data, (const char *) k->b.data + 16 * row, 16 * row) == 0);
    CHECK (part_up->b.rows == 48 && memcmp (part_up->b.data, (const char *) up->b.data + 48 * row, 48 * row) == 0);
    xinf_lora_destroy (&part);
    xinf_model_destroy (&shard);
    xinf_lora_destroy (&lora);
    //  The adapter of a model with four KV heads: attn_qkv's B has 192 rows, not 128
    CHECK (!xinf_lora_load (wrong, t, "phi3", error, sizeof error));
    CHECK_HAS (error, "blk.0.attn_qkv.weight.lora_b has 192 rows where the model's weight has 128");
    //  Fused and apart at once, half a fused pair, halves of both kinds, a
    //  fused pair's A of the wrong width: refused naming the fused weight
    const struct { const char *tensors [5]; const char *needle; } bad [] = {
        { { "blk.0.attn_qkv.weight.lora_a f32 64 4", "blk.0.attn_qkv.weight.lora_b f32 4 128",
            "blk.0.attn_q.weight.lora_a f32 64 4", "blk.0.attn_q.weight.lora_b f32 4 64", NULL },
          "blk.0: attn_q adapted both as attn_qkv and apart" },
        { { "blk.1.attn_qkv.weight.lora_a f32 64 4", NULL }, "blk.1.attn_qkv.weight has lora_a without lora_b" },
        { { "blk.0.attn_q.weight.lora_a f32 64 4", "blk.0.attn_qkv.weight.lora_b f32 4 128", NULL },
          "blk.0: one of lora_a and lora_b is attn_qkv's, the other attn_q's" },
        { { "blk.0.ffn_up.weight.lora_a f32 32 4", "blk.0.ffn_up.weight.lora_b f32 4 192", NULL },
          "blk.0.ffn_up.weight: lora_a is 4x32" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        s_write (wrong, "adapter", "lora", "phi3", 8.0, bad [index].tensors);
        CHECK (!xinf_lora_load (wrong, t, "phi3", error, sizeof error));
        if (!strstr (error, bad [index].needle))
            fprintf (stderr, "got '%s', wanted '%s'\n", error, bad [index].needle);
        CHECK_HAS (error, bad [index].needle);
    }
    xinf_model_destroy (&model);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 3);
    s_make_model = argv [1];
    s_make_lora = argv [2];
    test_scratch_begin ();
    s_load_base ();
    RUN (test_made);
    RUN (test_refusals);
    RUN (test_garbage);
    RUN (test_cache_order);
    RUN (test_shard);
    RUN (test_experts);
    RUN (test_fused);
    xinf_model_destroy (&s_model);
    test_scratch_end ();
    return 0;
}
