/*  test_exec_kv: how an executor cuts its KV budget into blocks
    (xinf_exec_kv_plan): a Gemma 3 model on the CPU gets a window cache
    whose local pool holds what max_seqs sequences' windows and a step
    need, the global layers the whole context each, in far fewer bytes
    than a plain cache; a budget too small for a sequence's window, a
    backend without window tables, and a model without local layers get
    a plain cache, as before.

        test_exec_kv PATH/TO/xinf-make-model
*/
#include "test_unit.h"
#include "xinf_exec_kv.h"
#include "xinf_model.h"
#include "xinf_cpu_backend.h"
#include "xinf_batcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *s_tool;
static char s_dir [] = "/tmp/test-exec-kv-XXXXXX";

static xinf_model_t *
s_model (const char *name, const char *arguments)
{
    char path [512], command [1200], error [512];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    snprintf (command, sizeof command, "'%s' %s -o '%s' > /dev/null", s_tool, arguments, path);
    int status = system (command);
    CHECK (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    CHECK (model);
    unlink (path);
    return model;
}

static void
test_plans (void)
{
    //  12 layers of which 10 local (window 64), 4,096 positions, F16 cache:
    //  a layer's block 16 positions x 2 KV heads x 2 (K, V) x 2 bytes a dimension
    xinf_model_t *gemma = s_model ("gemma3.gguf", "--arch gemma3 --type f32 --dim 64 --heads 4 --kv-heads 2 "
                                   "--layers 12 --ffn 96 --context 4096 --sliding-window 64");
    const xinf_transformer_t *t = xinf_model_transformer (gemma);
    CHECK_INT (xinf_transformer_local_layers (t), 10);
    CHECK_INT (xinf_transformer_window (t), 64);
    xinf_backend_t *cpu = xinf_cpu_backend_new (1);
    uint64_t layer_block = 16 * xinf_transformer_kv_bytes_per_token (t, XINF_DTYPE_F16) / t->n_layers;
    CHECK_INT (layer_block, 16 * 2 * 2 * t->head_dim * 2);
    size_t max_seqs = 4, step = 32;
    //  Plenty: what 4 sequences need; the local pool 4 x ((63 + 32) / 16 + 1 + 64 / 16) = 4 x 11
    xinf_exec_kv_plan_t plan = xinf_exec_kv_plan (t, cpu, XINF_DTYPE_F16, max_seqs, step, 1ull << 40, true);
    CHECK_INT (plan.n_blocks, 4 * 256);
    CHECK_INT (plan.n_local_blocks, 4 * 11);
    CHECK_INT (plan.bytes, (4 * 256 * 2 + 4 * 11 * 10) * layer_block);
    uint64_t plain = 4 * 256 * 12 * layer_block;
    printf ("  window cache: %llu bytes for 4 sequences of 4,096 positions, a plain cache %llu (%.1fx)\n",
            (unsigned long long) plan.bytes, (unsigned long long) plain, (double) plain / (double) plan.bytes);
    //  A budget of 64 plain blocks: the local pool first, the global layers the rest
    plan = xinf_exec_kv_plan (t, cpu, XINF_DTYPE_F16, max_seqs, step, 64 * 12 * layer_block, false);
    CHECK_INT (plan.n_local_blocks, 44);
    CHECK_INT (plan.n_blocks, (64 * 12 - 44 * 10) / 2);
    CHECK (plan.bytes <= 64 * 12 * layer_block);
    //  Too small for the local pool to pay (it would leave the global
    //  layers fewer blocks than the local ones): a plain cache
    plan = xinf_exec_kv_plan (t, cpu, XINF_DTYPE_F16, max_seqs, step, 30 * 12 * layer_block, false);
    CHECK_INT (plan.n_blocks, 30);
    CHECK_INT (plan.n_local_blocks, 0);
    //  Too small for one sequence's window (5 local blocks): a plain cache
    plan = xinf_exec_kv_plan (t, cpu, XINF_DTYPE_F16, max_seqs, step, 4 * 12 * layer_block, false);
    CHECK_INT (plan.n_blocks, 4);
    CHECK_INT (plan.n_local_blocks, 0);
    //  Every plan's local pool holds a sequence's window (the batcher's
    //  minimum), over windows, steps, sequences, contexts and budgets
    const char *shapes [] = { "--sliding-window 17 --context 100", "--sliding-window 5 --context 40",
                              "--sliding-window 100 --context 64", "--sliding-window 1 --context 4096" };
    for (size_t index = 0; index < sizeof shapes / sizeof shapes [0]; index++) {
        char arguments [256], name [32];
        snprintf (arguments, sizeof arguments, "--arch gemma3 --type f32 --dim 64 --heads 4 --kv-heads 2 --layers 12 "
                  "--ffn 96 %s", shapes [index]);
        snprintf (name, sizeof name, "sweep-%zu.gguf", index);
        xinf_model_t *model = s_model (name, arguments);
        const xinf_transformer_t *m = xinf_model_transformer (model);
        uint64_t block = 16 * xinf_transformer_kv_bytes_per_token (m, XINF_DTYPE_F16) / m->n_layers;
        for (size_t seqs = 1; seqs <= 16; seqs *= 4)
            for (size_t steps = seqs; steps <= 256; steps *= 8)
                for (uint64_t budget = block; budget < (1ull << 32); budget *= 3) {
                    plan = xinf_exec_kv_plan (m, cpu, XINF_DTYPE_F16, seqs, steps, budget, false);
                    CHECK (plan.n_blocks >= 1 && plan.bytes <= (budget > 12 * block ? budget : 12 * block));
                    if (!plan.n_local_blocks)
                        continue;
                    xinf_batcher_config_t config = { .n_blocks = plan.n_blocks, .block_tokens = 16, .max_seqs = seqs,
                                                     .step_tokens = steps, .context = m->context,
                                                     .n_local_blocks = plan.n_local_blocks,
                                                     .window = xinf_transformer_window (m) };
                    CHECK (plan.n_local_blocks < plan.n_blocks);
                    CHECK (plan.n_local_blocks >= xinf_batcher_local_minimum (&config));
                    xinf_batcher_t *batcher = xinf_batcher_new (&config);
                    CHECK (batcher);
                    xinf_batcher_destroy (&batcher);
                }
        xinf_model_destroy (&model);
    }
    //  A backend whose attention reads whole tables: a plain cache
    xinf_backend_t whole = *cpu;
    whole.window_tables = false;
    plan = xinf_exec_kv_plan (t, &whole, XINF_DTYPE_F16, max_seqs, step, 1ull << 40, true);
    CHECK_INT (plan.n_blocks, 4 * 256);
    CHECK_INT (plan.n_local_blocks, 0);
    CHECK_INT (plan.bytes, plain);
    //  A model without local layers: a plain cache
    xinf_model_t *llama = s_model ("llama.gguf", "--arch llama --type f32 --dim 64 --heads 4 --kv-heads 2 "
                                   "--layers 12 --ffn 96 --context 4096");
    plan = xinf_exec_kv_plan (xinf_model_transformer (llama), cpu, XINF_DTYPE_F16, max_seqs, step, 1ull << 40, true);
    CHECK_INT (plan.n_blocks, 4 * 256);
    CHECK_INT (plan.n_local_blocks, 0);
    xinf_model_destroy (&llama);
    xinf_backend_destroy (&cpu);
    xinf_model_destroy (&gemma);
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 2);
    s_tool = argv [1];
    CHECK (mkdtemp (s_dir));
    RUN (test_plans);
    rmdir (s_dir);
    return 0;
}
