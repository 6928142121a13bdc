/*  xinf-make-lora: writes a random-weight LoRA adapter for a GGUF model, in
    the form llama.cpp's convert_lora_to_gguf.py writes (general.type
    adapter, adapter.type lora, adapter.lora.alpha, blk.N.W.weight.lora_a
    [rank x columns] and .lora_b [rows x rank]), for tests and benchmarks:

        xinf-make-lora tiny.gguf -o tiny-lora.gguf --rank 8 --alpha 16
        xinf-make-lora model.gguf -o q-v.gguf --targets attn_q,attn_v --type q8_0 --rank 32

    lora_a's weights are normal with a standard deviation of
    1/sqrt(columns) (A x keeps the scale of x), lora_b's of --std; the same
    seed gives the same bytes.
*/
#include "xinf.h"
#include "xinf_gguf.h"
#include "xinf_gguf_writer.h"
#include "xinf_dtype.h"
#include "xinf_lora.h"
#include "xinf_make_vocab.h"

#include <math.h>

static const xinf_option_t s_options [] = {
    { "output", 'o', NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE", "the adapter file to write (required)" },
    { "rank", 'r', NULL, XINF_OPT_INT, "8", 1, XINF_LORA_MAX_RANK, NULL, "N", "the adapter's rank" },
    { "alpha", 0, NULL, XINF_OPT_STR, "16", 0, 0, NULL, "X", "adapter.lora.alpha (scale = alpha / rank)" },
    { "std", 0, NULL, XINF_OPT_STR, "0.05", 0, 0, NULL, "X", "the standard deviation of lora_b's weights" },
    { "type", 't', NULL, XINF_OPT_STR, "f16", 0, 0, "f32|f16|q8_0", "TYPE", "the tensors' type" },
    { "targets", 0, NULL, XINF_OPT_STR, "attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down", 0, 0, NULL,
      "LIST", "the weights adapted, comma-separated" },
    { "seed", 's', NULL, XINF_OPT_INT, "1", 0, INT64_MAX, NULL, "N", "PRNG seed: same seed, same bytes" },
    { NULL }
};

typedef struct {
    char name [112];
    uint64_t ne [2];                  //  ggml order: columns, rows
} s_tensor_t;

static bool
s_targeted (const char *list, const char *target)
{
    size_t length = strlen (target);
    for (const char *at = list; (at = strstr (at, target)); at += length)
        if ((at == list || at [-1] == ',') && (at [length] == ',' || at [length] == 0))
            return true;
    return false;
}

//  The pairs of every targeted weight of the base model, in layer order
//  (a Phi-3 model's attn_qkv where attn_q is targeted: its q, k and v).
static size_t
s_plan (xinf_gguf_t *base, const char *targets, size_t rank, s_tensor_t *tensors, size_t limit)
{
    size_t count = 0;
    for (size_t layer = 0; ; layer++) {
        bool any = false;
        for (int t = 0; t <= XINF_LORA_TARGETS; t++) {
            const char *target = t < XINF_LORA_TARGETS ? xinf_lora_target_name ((xinf_lora_target_t) t) : "attn_qkv";
            char name [96];
            snprintf (name, sizeof name, "blk.%zu.%s.weight", layer, target);
            const xinf_gguf_tensor_t *weight = xinf_gguf_find_tensor (base, name);
            any |= weight != NULL;
            if (!weight || weight->n_dims != 2 || !s_targeted (targets, t < XINF_LORA_TARGETS ? target : "attn_q")
            ||  count + 2 > limit)
                continue;
            tensors [count] = (s_tensor_t) { "", { weight->ne [0], rank } };
            snprintf (tensors [count++].name, sizeof tensors [0].name, "%s.lora_a", name);
            tensors [count] = (s_tensor_t) { "", { rank, weight->ne [1] } };
            snprintf (tensors [count++].name, sizeof tensors [0].name, "%s.lora_b", name);
        }
        if (!any)
            return count;
    }
}

//  One tensor's random rows, converted to 'dtype', streamed.
static int
s_write_tensor (xinf_gguf_writer_t *writer, const s_tensor_t *tensor, xinf_dtype_t dtype, double std,
                uint64_t seed, size_t index)
{
    bool is_a = strstr (tensor->name, ".lora_a") != NULL;
    float sigma = is_a ? (float) (1.0 / sqrt ((double) tensor->ne [0])) : (float) std;
    size_t cols = (size_t) tensor->ne [0];
    float *values = malloc (cols * sizeof (float));
    void *row = malloc (xinf_dtype_row_bytes (dtype, cols) + 64);
    xinf_rng_t rng;
    xinf_rng_seed (&rng, seed ^ ((uint64_t) (index + 1) * 0x9e3779b97f4a7c15ull));
    int rc = values && row ? 0 : -1;
    for (uint64_t r = 0; rc == 0 && r < tensor->ne [1]; r++) {
        for (size_t c = 0; c < cols; c++)
            values [c] = sigma * xinf_rng_normal (&rng);
        xinf_dtype_from_f32 (dtype, values, cols, row);
        rc = xinf_gguf_writer_write (writer, row, xinf_dtype_row_bytes (dtype, cols));
    }
    free (values);
    free (row);
    return rc;
}

static int
s_make (xinf_config_t *config, const char *base_path)
{
    const char *output = xinf_config_str (config, "output");
    const char *type = xinf_config_str (config, "type");
    size_t rank = (size_t) xinf_config_int (config, "rank");
    double alpha = atof (xinf_config_str (config, "alpha")), std = atof (xinf_config_str (config, "std"));
    xinf_dtype_t dtype = streq (type, "f32") ? XINF_DTYPE_F32 : streq (type, "f16") ? XINF_DTYPE_F16 : XINF_DTYPE_Q8_0;
    uint32_t ggml = streq (type, "f32") ? XINF_GGML_F32 : streq (type, "f16") ? XINF_GGML_F16 : XINF_GGML_Q8_0;
    if (!output || alpha < 0 || !(std > 0) || (dtype == XINF_DTYPE_Q8_0 && rank % 32)) {
        fprintf (stderr, "xinf-make-lora: %s\n", !output ? "-o FILE is required" : alpha < 0 || !(std > 0)
                 ? "--alpha must be >= 0 and --std > 0" : "q8_0 needs a --rank that is a multiple of 32");
        return 2;
    }
    char error [512];
    xinf_gguf_t *base = xinf_gguf_open (base_path, error, sizeof error);
    if (!base) {
        fprintf (stderr, "xinf-make-lora: %s\n", error);
        return 1;
    }
    const char *arch = xinf_gguf_get_str (base, "general.architecture");
    s_tensor_t *tensors = calloc (4096, sizeof (s_tensor_t));
    size_t count = tensors ? s_plan (base, xinf_config_str (config, "targets"), rank, tensors, 4096) : 0;
    xinf_gguf_writer_t *writer = xinf_gguf_writer_new ();
    int rc = !writer || !arch || !count;
    if (!rc) {
        xinf_gguf_writer_set_str (writer, "general.architecture", arch);
        xinf_gguf_writer_set_str (writer, "general.type", "adapter");
        xinf_gguf_writer_set_str (writer, "adapter.type", "lora");
        xinf_gguf_writer_set_f32 (writer, "adapter.lora.alpha", (float) alpha);
        for (size_t index = 0; index < count; index++)
            xinf_gguf_writer_add_tensor (writer, tensors [index].name, ggml, 2, tensors [index].ne);
        rc = xinf_gguf_writer_begin (writer, output);
        for (size_t index = 0; rc == 0 && index < count; index++)
            rc = s_write_tensor (writer, &tensors [index], dtype, std, (uint64_t) xinf_config_int (config, "seed"),
                                 index);
        rc = rc || xinf_gguf_writer_finish (writer);
    }
    if (rc)
        fprintf (stderr, "xinf-make-lora: %s\n", !arch ? "the base has no general.architecture" : !count
                 ? "the base has none of the targeted weights" : writer ? xinf_gguf_writer_error (writer) : "out of memory");
    else
        printf ("xinf-make-lora: wrote %s: %zu pairs of rank %zu, alpha %g, %s, for %s (%s)\n", output, count / 2,
                rank, alpha, type, base_path, arch);
    xinf_gguf_writer_destroy (&writer);
    xinf_gguf_destroy (&base);
    free (tensors);
    return rc ? 1 : 0;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-make-lora", "BASE.gguf -o FILE [options]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc == 1) {
        xinf_config_destroy (&config);
        return 0;
    }
    if (rc < 0 || xinf_config_positionals (config) != 1) {
        fprintf (stderr, "xinf-make-lora: %s\n", rc < 0 ? xinf_config_error (config) : "one base model file, please");
        xinf_config_destroy (&config);
        return 2;
    }
    rc = s_make (config, xinf_config_positional (config, 0));
    xinf_config_destroy (&config);
    return rc;
}
