/*  xinf-bench-batch: the speed of batched decoding on the CPU backend, for
    N sequences decoding together in one step (the continuous batcher and
    the paged KV cache, without the actors), against one sequence alone
    measured in the same run.

    Each N: N sequences of --prompt tokens are prefilled (in steps of up
    to --step-tokens tokens), then --decode steps run with every sequence
    decoding one token; the figure is the decode steps' tokens over their
    time, and its ratio to N = 1. Tokens are greedy.

    --lora A.gguf[,B.gguf...]: LoRA adapters for the model; each N is then
    also measured with every sequence on the first adapter, and with the
    sequences spread over the adapters and none (sequence s on adapter
    s mod (adapters + 1)), each against the same N without adapters.

    A model with local (sliding-window) layers (Gemma 3) is also measured
    on a window cache (its local layers holding a window and a step's
    tokens a sequence), against the same N on a plain cache.

        xinf-bench-batch MODEL.gguf [--threads N] [--seqs 1,4,16,64] [--prompt N] [--decode N] [--lora FILES]
*/
#include "xinf.h"
#include "xinf_model.h"
#include "xinf_lora.h"
#include "xinf_batcher.h"
#include "xinf_cpu_backend.h"
#include "xinf_cpu_ops.h"

#define BLOCK_TOKENS 16

static const xinf_option_t s_options [] = {
    { "threads", 't', NULL, XINF_OPT_INT, "0", 0, 1024, NULL, "N", "compute threads (0: all cores)" },
    { "seqs", 's', NULL, XINF_OPT_STR, "1,4,16,64", 0, 0, NULL, "LIST", "sequences decoding together" },
    { "prompt", 'p', NULL, XINF_OPT_INT, "32", 1, 8192, NULL, "N", "prompt tokens of each sequence" },
    { "decode", 'd', NULL, XINF_OPT_INT, "32", 1, 8192, NULL, "N", "decode steps" },
    { "step-tokens", 0, NULL, XINF_OPT_INT, "256", 1, 8192, NULL, "N", "tokens a step carries at most" },
    { "lora", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILES", "LoRA adapters, comma-separated: also measure with them" },
    { 0 }
};

static int32_t
s_argmax (const float *logits, size_t vocab)
{
    size_t best = 0;
    for (size_t index = 1; index < vocab; index++)
        if (logits [index] > logits [best])
            best = index;
    return (int32_t) best;
}

//  Runs n sequences to the end, sequence s on adapter lora (s) (0: none);
//  returns the decode steps' tokens/s (0 on error).
typedef int32_t (s_lora_fn) (size_t seq, size_t n_loras);

static int32_t s_no_lora (size_t seq, size_t n_loras) { (void) seq; (void) n_loras; return 0; }
static int32_t s_first_lora (size_t seq, size_t n_loras) { (void) seq; (void) n_loras; return 1; }
static int32_t s_mixed_lora (size_t seq, size_t n_loras) { return (int32_t) (seq % (n_loras + 1)); }

//  With 'windowed', on a window cache whose local layers hold a window and
//  a step's tokens a sequence (Gemma 3's).
static double
s_measure (const xinf_transformer_t *t, xinf_backend_t *backend, size_t n, size_t prompt, size_t decode,
           size_t step_tokens, s_lora_fn *lora, bool windowed)
{
    size_t per_seq = (prompt + decode + BLOCK_TOKENS) / BLOCK_TOKENS + 1;
    size_t step = step_tokens > n ? step_tokens : n;
    size_t window = xinf_transformer_window (t);
    xinf_batcher_config_t rule = { .block_tokens = BLOCK_TOKENS, .window = window };
    size_t local = windowed ? (window - 1 + step + BLOCK_TOKENS - 1) / BLOCK_TOKENS + 1 : 0, least = 0;
    local = local < per_seq ? local : per_seq;
    if (windowed)
        least = xinf_batcher_local_minimum (&rule);
    local = windowed ? n * (local > least ? local : least) : 0;
    xinf_kv_cache_t *cache = xinf_kv_cache_new_windowed (t, backend, xinf_backend_kv_default (backend), n * per_seq,
                                                         local, BLOCK_TOKENS, step);
    xinf_batcher_config_t config = { .n_blocks = n * per_seq, .block_tokens = BLOCK_TOKENS, .max_seqs = n,
                                     .step_tokens = step, .context = t->context, .prefix_cache = false,
                                     .n_local_blocks = local, .window = windowed ? window : 0 };
    xinf_batcher_t *batcher = xinf_batcher_new (&config);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    float *logits = malloc (n * t->vocab * sizeof (float));
    int32_t *tokens = malloc (prompt * sizeof (int32_t));
    size_t *generated = calloc (n, sizeof (size_t));
    char error [256] = "out of memory for the KV cache, the batcher or the buffers";
    double decode_s = 0, decoded = 0;
    int rc = cache && batcher && batch && logits && tokens && generated ? 0 : -1;
    for (size_t s = 0; rc == 0 && s < n; s++) {
        for (size_t i = 0; i < prompt; i++)
            tokens [i] = (int32_t) ((i * 7919 + s * 104729 + 13) % t->vocab);
        rc = xinf_batcher_add (batcher, s, tokens, prompt, error, sizeof error);
        if (rc == 0)
            rc = xinf_batcher_set_lora (batcher, s, lora (s, t->n_loras));
    }
    const uint64_t *ids;
    size_t rows;
    while (rc == 0 && xinf_batcher_schedule (batcher, batch, 0, &ids, &rows)) {
        const xinf_batch_t *view = xinf_batch_buf_view (batch);
        bool decoding = view->n == rows && rows == n;
        int64_t start = zclock_usecs ();
        rc = xinf_transformer_step (t, cache, view, logits, error, sizeof error);
        if (decoding) {
            decode_s += (double) (zclock_usecs () - start) / 1e6;
            decoded += (double) rows;
        }
        xinf_batcher_commit (batcher);
        for (size_t k = 0; rc == 0 && k < rows; k++)
            if (++generated [ids [k]] > decode)
                xinf_batcher_remove (batcher, ids [k]);
            else
                xinf_batcher_append (batcher, ids [k], s_argmax (logits + k * t->vocab, t->vocab));
    }
    if (rc)
        fprintf (stderr, "xinf-bench-batch: %s\n", error);
    free (generated);
    free (tokens);
    free (logits);
    xinf_batch_buf_destroy (&batch);
    xinf_batcher_destroy (&batcher);
    xinf_kv_cache_destroy (&cache);
    return rc == 0 && decode_s > 0 ? decoded / decode_s : 0;
}

//  The adapters of --lora, attached to the model; how many (-1 on error).
static int
s_loras (xinf_config_t *config, xinf_model_t *model, xinf_lora_t **loras)
{
    char list [4096], error [512];
    int count = 0;
    snprintf (list, sizeof list, "%s", xinf_config_str (config, "lora") ? xinf_config_str (config, "lora") : "");
    for (char *item = strtok (list, ","); item && count < 8; item = strtok (NULL, ",")) {
        loras [count] = xinf_lora_load (item, xinf_model_transformer (model), xinf_model_info (model)->arch, error,
                                        sizeof error);
        if (!loras [count]) {
            fprintf (stderr, "xinf-bench-batch: %s\n", error);
            return -1;
        }
        printf ("adapter %d: %s, %zu weights, rank %zu, %.1f MB\n", count + 1, item,
                xinf_lora_count (loras [count]), xinf_lora_rank (loras [count]),
                (double) xinf_lora_bytes (loras [count]) / 1e6);
        count++;
    }
    xinf_model_set_loras (model, loras, (size_t) count);
    return count;
}

static int
s_run (xinf_config_t *config, const char *path)
{
    char error [512];
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    if (!model) {
        fprintf (stderr, "xinf-bench-batch: %s\n", error);
        return 1;
    }
    xinf_lora_t *loras [8] = { NULL };
    int n_loras = s_loras (config, model, loras);
    const xinf_transformer_t *t = xinf_model_transformer (model);
    const xinf_model_info_t *info = xinf_model_info (model);
    xinf_backend_t *backend = xinf_cpu_backend_new ((int) xinf_config_int (config, "threads"));
    if (!backend || xinf_transformer_check_backend (t, backend, error, sizeof error)) {
        fprintf (stderr, "xinf-bench-batch: %s\n", backend ? error : "out of memory");
        xinf_backend_destroy (&backend);
        xinf_model_destroy (&model);
        return 1;
    }
    size_t prompt = (size_t) xinf_config_int (config, "prompt"), decode = (size_t) xinf_config_int (config, "decode");
    printf ("model %s (%s %s), kernels %s, prompt %zu, decode %zu\n", path, info->arch, info->weight_type,
            xinf_cpu_simd_name (), prompt, decode);
    size_t step_tokens = (size_t) xinf_config_int (config, "step-tokens");
    //  A first run warms the weights' pages and the pool: measured runs come after it
    double single = n_loras < 0 ? 0 : s_measure (t, backend, 1, prompt, decode, step_tokens, s_no_lora, false);
    if (single > 0)
        single = s_measure (t, backend, 1, prompt, decode, step_tokens, s_no_lora, false);
    bool windowed = xinf_transformer_window_cache_fits (t, backend);
    printf ("%6s %14s %10s", "seqs", "decode tok/s", "vs 1 seq");
    if (windowed)
        printf (" %14s %8s", "window cache", "vs plain");
    if (n_loras > 0)
        printf (" %16s %8s %16s %8s", "one adapter", "vs none", "mixed adapters", "vs none");
    printf ("\n");
    char list [256];
    snprintf (list, sizeof list, "%s", xinf_config_str (config, "seqs"));
    int rc = single > 0 ? 0 : 1;
    for (char *item = strtok (list, ","); rc == 0 && item; item = strtok (NULL, ",")) {
        size_t n = (size_t) strtoul (item, NULL, 10);
        double rate = n == 1 ? single : n ? s_measure (t, backend, n, prompt, decode, step_tokens, s_no_lora, false) : 0;
        rc = rate > 0 ? 0 : 1;
        printf ("%6zu %14.1f %9.2fx", n, rate, rate / single);
        if (rc == 0 && windowed) {
            double local = s_measure (t, backend, n, prompt, decode, step_tokens, s_no_lora, true);
            rc = local > 0 ? 0 : 1;
            printf (" %14.1f %7.2fx", local, local / rate);
        }
        if (rc == 0 && n_loras > 0) {
            double one = s_measure (t, backend, n, prompt, decode, step_tokens, s_first_lora, false);
            double mixed = s_measure (t, backend, n, prompt, decode, step_tokens, s_mixed_lora, false);
            rc = one > 0 && mixed > 0 ? 0 : 1;
            printf (" %16.1f %7.2fx %16.1f %7.2fx", one, one / rate, mixed, mixed / rate);
        }
        printf ("\n");
    }
    xinf_backend_destroy (&backend);
    xinf_model_destroy (&model);
    for (int index = 0; index < 8; index++)
        xinf_lora_destroy (&loras [index]);
    return rc;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-bench-batch", "MODEL.gguf [OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc == 0 && xinf_config_positionals (config) != 1) {
        fprintf (stderr, "xinf-bench-batch: give one model file (see --help)\n");
        rc = -1;
    }
    else
    if (rc < 0)
        fprintf (stderr, "xinf-bench-batch: %s\n", xinf_config_error (config));
    if (rc == 0)
        rc = s_run (config, xinf_config_positional (config, 0));
    else
        rc = rc == 1 ? 0 : 2;
    xinf_config_destroy (&config);
    return rc;
}
