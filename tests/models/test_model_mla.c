/*  test_model_mla: a deepseek2 file's keys (xinf_model_mla.c): the shape
    of its latent attention (one cache row a position, the values its
    keys), the scale of its scores and RoPE's magnitude
    under YaRN (llama.cpp's deepseek2 formulas), the gating's default, and
    every inconsistent or unsupported key refused naming it; one worker
    only; a backend without copy_rows refuses such a model.

        unit_model_mla PATH/TO/xinf-make-model
*/
#include "test_gguf_edit.h"
#include "xinf_cpu_backend.h"

#include <math.h>

#define S_SHAPE "--arch deepseek2 --dim 64 --heads 4 --layers 3 --dense-lead 1 --ffn 96 --kv-lora-rank 64 " \
                "--head-dim 48 --rope-dims 16 --v-head-dim 32 --experts 8 --experts-used 2 --expert-ffn 32 " \
                "--shared-experts 1 --vocab 400 --seed 21"

//  The shape, the query scale without YaRN (1 / sqrt (nope + rope), the
//  attention's 1 / sqrt (head_dim) undone) and the experts' routing.
static void
test_mla_shape (void)
{
    char path [300], error [512] = "";
    s_make ("deepseek2.gguf", S_SHAPE " --q-lora-rank 64 --gating sigmoid --expert-bias --expert-groups 4 "
            "--groups-used 2", path, sizeof path);
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    if (!model)
        fprintf (stderr, "%s\n", error);
    CHECK (model);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    CHECK (t->mla.kv_rank == 64 && t->mla.q_rank == 64 && t->mla.nope == 32 && t->mla.rope == 16
           && t->mla.v_head == 32);
    CHECK (t->n_kv_heads == 1 && t->head_dim == 80 && t->rope.dims == 16 && !t->rope.neox);
    //  A position takes one row a layer: the values are the keys
    CHECK (xinf_transformer_kv_bytes_per_token (t, XINF_DTYPE_F16) == 3 * 80 * 2);
    CHECK_NEAR (t->query_scale, sqrt (80.0) / sqrt (48.0), 1e-6);
    CHECK (!t->layers [0].moe.n_experts && t->layers [1].moe.n_experts == 8);
    const xinf_moe_t *moe = &t->layers [2].moe;
    CHECK (moe->sigmoid && moe->selection_bias && moe->groups == 4 && moe->groups_used == 2 && moe->shared_ffn == 32);
    xinf_backend_t *cpu = xinf_cpu_backend_new (1);
    CHECK (xinf_transformer_check_backend (t, cpu, error, sizeof error) == 0);
    //  A backend without copy_rows (a CUDA build's) refuses latent attention by name
    xinf_backend_ops_t lacking_ops = *cpu->ops;
    lacking_ops.copy_rows = NULL;
    xinf_backend_t lacking = *cpu;
    lacking.ops = &lacking_ops;
    CHECK (xinf_transformer_check_backend (t, &lacking, error, sizeof error) == -1);
    CHECK_HAS (error, "latent attention");
    xinf_backend_destroy (&cpu);
    xinf_model_destroy (&model);
    //  Without expert_gating_func: softmax (DeepSeek V2's files)
    model = s_load_edited (path, &(s_edit_t) { "deepseek2.expert_gating_func", S_DROP, 0, 0, NULL });
    CHECK (!xinf_model_transformer (model)->layers [1].moe.sigmoid);
    xinf_model_destroy (&model);
    //  Over two workers: refused naming why
    CHECK (!xinf_model_load_shard (path, 0, 2, NULL, NULL, error, sizeof error));
    CHECK_HAS (error, "one worker");
}

//  YaRN: RoPE's magnitude is attn_factor alone where the file gives
//  yarn_log_multiplier, the scores' scale (attn_factor (1 + 0.1 L ln
//  factor))^2 / sqrt (nope + rope), L the multiplier / 0.1.
static void
test_mla_yarn (void)
{
    char path [300];
    s_make ("deepseek2-yarn.gguf", S_SHAPE " --rope-scaling yarn --rope-factor 40 --rope-original-context 64", path,
            sizeof path);
    xinf_model_t *model = s_load_edited (path, &(s_edit_t) { "deepseek2.rope.scaling.yarn_log_multiplier", S_F32, 0,
                                                               0.0707, NULL });
    const xinf_transformer_t *t = xinf_model_transformer (model);
    double mscale = 1.0 + 0.1 * 0.707 * log (40.0);
    CHECK_NEAR (t->rope.mscale, 1.0, 1e-6);
    CHECK_NEAR (t->query_scale, mscale * mscale * sqrt (80.0) / sqrt (48.0), 1e-5);
    CHECK (t->rope.factors);
    xinf_model_destroy (&model);
    //  Without the multiplier: YaRN's usual magnitude, on RoPE and in the scale
    model = s_load_edited (path, &(s_edit_t) { "deepseek2.rope.scaling.yarn_log_multiplier", S_DROP, 0, 0, NULL });
    t = xinf_model_transformer (model);
    double magnitude = 1.0 + 0.1 * log (40.0);
    CHECK_NEAR (t->rope.mscale, magnitude, 1e-6);
    CHECK_NEAR (t->query_scale, magnitude * magnitude * sqrt (80.0) / sqrt (48.0), 1e-5);
    xinf_model_destroy (&model);
    //  Linear scaling: RoPE unscaled in magnitude, the scores by llama.cpp's (1 + 0.1 ln factor)^2 still
    model = s_load_edited (path, &(s_edit_t) { "deepseek2.rope.scaling.type", S_STR, 0, 0, "linear" });
    t = xinf_model_transformer (model);
    CHECK_NEAR (t->rope.mscale, 1.0, 1e-6);
    CHECK_NEAR (t->rope.scale, 1.0 / 40.0, 1e-7);
    double linear = magnitude * (1.0 + 0.1 * 1.0 * log (40.0));        //  the file's multiplier: 0.1, L = 1
    CHECK_NEAR (t->query_scale, linear * linear * sqrt (80.0) / sqrt (48.0), 1e-5);
    xinf_model_destroy (&model);
    //  No rope.scaling.type beside a factor: linear (llama.cpp's default, and RoPE's here), the scores' scale
    //  with it
    model = s_load_edited (path, &(s_edit_t) { "deepseek2.rope.scaling.type", S_DROP, 0, 0, NULL });
    t = xinf_model_transformer (model);
    CHECK_NEAR (t->rope.scale, 1.0 / 40.0, 1e-7);
    CHECK_NEAR (t->query_scale, linear * linear * sqrt (80.0) / sqrt (48.0), 1e-5);
    xinf_model_destroy (&model);
    //  A file's expert_weights_norm true loads and normalizes
    s_expect_loads (path, &(s_edit_t) { "deepseek2.expert_weights_norm", S_BOOL, 1, 0, NULL });
}

//  Each inconsistent or unsupported key refused, naming it.
static void
test_mla_refusals (void)
{
    char path [300];
    s_make ("deepseek2-keys.gguf", S_SHAPE, path, sizeof path);
    const struct { s_edit_t edit; const char *needle; } cases [] = {
        { { "deepseek2.attention.kv_lora_rank", S_DROP, 0, 0, NULL }, "kv_lora_rank" },
        { { "deepseek2.attention.kv_lora_rank", S_U32, 16, 0, NULL }, "latent attention of rank 16" },
        { { "deepseek2.attention.key_length_mla", S_DROP, 0, 0, NULL }, "attn_kv_b" },
        { { "deepseek2.attention.key_length_mla", S_U32, 16, 0, NULL }, "key_length_mla" },
        { { "deepseek2.attention.value_length_mla", S_U32, 96, 0, NULL }, "attn_v_b" },
        { { "deepseek2.attention.head_count_kv", S_U32, 2, 0, NULL }, "head_count_kv" },
        { { "deepseek2.attention.key_length", S_U32, 96, 0, NULL }, "key_length" },
        { { "deepseek2.attention.value_length", S_U32, 80, 0, NULL }, "value_length" },
        { { "deepseek2.rope.dimension_count", S_U32, 15, 0, NULL }, "rope.dimension_count" },
        { { "deepseek2.attention.temperature_scale", S_F32, 0, 0.1, NULL }, "temperature" },
        { { "deepseek2.rope.scaling.type", S_STR, 0, 0, "longrope" }, "rope.scaling.type" },
        { { "deepseek2.expert_gating_func", S_U32, 3, 0, NULL }, "expert_gating_func" },
        { { "deepseek2.expert_group_count", S_U32, 3, 0, NULL }, "expert_group_count" },
        { { "deepseek2.expert_shared_count", S_DROP, 0, 0, NULL }, "expert_shared_count" },
        { { "blk.0.attn_k_b.weight", S_DROP_TENSOR, 0, 0, NULL }, "attn_k_b" },
        { { "blk.1.attn_kv_a_norm.weight", S_DROP_TENSOR, 0, 0, NULL }, "attn_kv_a_norm" },
        { { "blk.2.attn_output.weight", S_DROP_TENSOR, 0, 0, NULL }, "attn_output" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++)
        s_expect_refused (path, &cases [index].edit, cases [index].needle, false);
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: test_model_mla PATH/TO/xinf-make-model\n");
        return 1;
    }
    s_tool = argv [1];
    fprintf (stderr, "test_model_mla:\n");
    test_scratch_begin ();
    RUN (test_mla_shape);
    RUN (test_mla_yarn);
    RUN (test_mla_refusals);
    test_scratch_end ();
    return 0;
}
