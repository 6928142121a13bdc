/*  xinf-bench-generate: prefill and decode speed of a model file on the CPU
    backend, against the memory-bandwidth bound of decode measured in the
    same run.

    Decode reads every weight once per token, so its ceiling is
    (memory bandwidth) / (weight bytes per token). The bandwidth is measured
    here with the same thread count (parallel memcpy of 256 MiB), so the
    printed fraction says how close the kernels come to what the machine
    can stream.

        xinf-bench-generate MODEL.gguf [--threads N] [--prompt N] [--decode N] [--json]
                            [--backend cpu|cuda] [--device N] [--batch N]

    --backend cuda runs the same prefill and decode through the batched
    step (xinf_transformer_step) on the CUDA backend and on the CPU
    backend, and prints the GPU's speed as a ratio to the CPU's measured
    in the same run (the weights' upload to the device happens in an
    untimed warm-up step). The GPU's decode runs twice: eagerly, and
    through CUDA graphs (xinf_kv_cache_set_graphs; the capture falls in
    the first timed step), printed as the graphs' ratio to eager, and as a
    fraction of the decode bound of the device's bandwidth (a 1 GiB copy
    within its memory, timed with events).

    --batch N (16 unless 0) also decodes N sequences a token each a step
    against one sequence the same way (from position 0, the batched step:
    the serving path; on the GPU through graphs), printed as the ratio.
    --op-times runs the decode steps of one sequence once more with each
    op timed alone (xinf_bench_optimes.h: products by shape with the GB/s
    of weights they read, attention, the small ops). On the GPU the
    device's sample op is then timed against the CPU sampler on one row
    and on N rows of the model's vocabulary (xinf_bench_sample.h).
*/
#include "xinf.h"
#include "xinf_batch.h"
#include "xinf_bench_optimes.h"
#include "xinf_bench_sample.h"
#include "xinf_cpu_backend.h"
#include "xinf_model.h"
#include "xinf_lora.h"
#include "xinf_cpu_ops.h"
#if defined (XINF_HAVE_CUDA)
#include "xinf_cuda_backend.h"
#endif

#define COPY_BYTES  (256u << 20)

static const xinf_option_t s_options [] = {
    { "threads", 't', NULL, XINF_OPT_INT, "0", 0, 1024, NULL, "N", "compute threads (0: all cores)" },
    { "prompt", 'p', NULL, XINF_OPT_INT, "128", 1, 65536, NULL, "N", "prefill length in tokens" },
    { "decode", 'd', NULL, XINF_OPT_INT, "64", 1, 65536, NULL, "N", "decode steps" },
    { "json", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL, "also print the figures as JSON" },
    { "backend", 'b', NULL, XINF_OPT_STR, "cpu", 0, 0, NULL, "NAME",
      "cpu, or cuda: the GPU against the CPU backend in the same run" },
    { "device", 0, NULL, XINF_OPT_INT, "0", 0, 1024, NULL, "N", "CUDA device (--backend cuda)" },
    { "batch", 0, NULL, XINF_OPT_INT, "16", 0, 256, NULL, "N",
      "also decode N sequences a step against one, from position 0 (0: not)" },
    { "kv-cache-dtype", 0, NULL, XINF_OPT_STR, "f16", 0, 0, "f32|f16|q8_0", "TYPE",
      "the KV cache's type of the CPU's single-sequence run (the batched ones: the backend's default)" },
    { "op-times", 0, NULL, XINF_OPT_FLAG, NULL, 0, 0, NULL, NULL,
      "also time each op of the decode steps alone (eager, waited for)" },
    { "lora", 0, NULL, XINF_OPT_STR, NULL, 0, 0, NULL, "FILE",
      "also prefill and decode the sequence with this LoRA adapter, against without in the same run" },
    { 0 }
};

typedef struct {
    char *source, *target;
    size_t chunk;
} s_copy_t;

static void
s_copy_task (void *arg, size_t task, int thread)
{
    s_copy_t *copy = (s_copy_t *) arg;
    memcpy (copy->target + task * copy->chunk, copy->source + task * copy->chunk, copy->chunk);
}

//  Bytes per second that memcpy moves with the pool's threads (read + write).
static double
s_bandwidth (xinf_threadpool_t *pool)
{
    s_copy_t copy = { malloc (COPY_BYTES), malloc (COPY_BYTES), COPY_BYTES / 64 };
    memset (copy.source, 1, COPY_BYTES);
    memset (copy.target, 0, COPY_BYTES);
    double best = 0;
    for (int round = 0; round < 5; round++) {
        int64_t start = zclock_usecs ();
        xinf_threadpool_run (pool, 64, s_copy_task, &copy);
        double seconds = (double) (zclock_usecs () - start) / 1e6;
        double rate = 2.0 * COPY_BYTES / seconds;
        best = rate > best ? rate : best;
    }
    free (copy.source);
    free (copy.target);
    return best;
}

static double
s_matrix_bytes (const xinf_matrix_t *matrix)
{
    return (double) matrix->rows * (double) xinf_dtype_row_bytes (matrix->dtype, matrix->cols);
}

//  Weight bytes one decode step reads: every layer matrix and the output
//  (of a mixture of experts: the router and a token's k experts).
static double
s_bytes_per_token (const xinf_transformer_t *t)
{
    double bytes = s_matrix_bytes (&t->output);
    for (size_t index = 0; index < t->n_layers; index++) {
        const xinf_layer_t *layer = &t->layers [index];
        const xinf_matrix_t *matrices [] = { &layer->q, &layer->k, &layer->v, &layer->o,
                                             &layer->gate, &layer->up, &layer->down };
        for (size_t at = 0; at < 7; at++)
            bytes += s_matrix_bytes (matrices [at]);
        if (layer->moe.n_experts)
            bytes += s_matrix_bytes (&layer->router)
                   + (double) layer->moe.k * (s_matrix_bytes (&layer->moe.gate [0]) + s_matrix_bytes (&layer->moe.up [0])
                                              + s_matrix_bytes (&layer->moe.down [0]));
        if (layer->moe.shared_ffn)
            bytes += s_matrix_bytes (layer->moe.shared_gate) + s_matrix_bytes (layer->moe.shared_up)
                   + s_matrix_bytes (layer->moe.shared_down);
    }
    return bytes;
}

#if defined (XINF_HAVE_CUDA)
//  One step of the tokens at positions first .. first + count - 1 of the
//  one sequence (blocks 0, 1, ...), the logits of the last.
static int
s_step (const xinf_transformer_t *t, xinf_kv_cache_t *cache, xinf_batch_buf_t *batch, const int32_t *table,
        size_t n_blocks, size_t first, size_t count, float *logits, char *error, size_t error_size)
{
    xinf_batch_buf_clear (batch);
    int rc = xinf_batch_buf_add_seq (batch, table, n_blocks) < 0 ? -1 : 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = xinf_batch_buf_add_token (batch, (int32_t) (((first + i) * 7919 + 13) % t->vocab), (int32_t) (first + i), 0,
                                       i + 1 == count);
    if (rc) {
        snprintf (error, error_size, "out of memory for a batch of %zu tokens", count);
        return -1;
    }
    return xinf_transformer_step (t, cache, xinf_batch_buf_view (batch), logits, error, error_size);
}

//  Prefill of 'prompt' tokens, then 'decode' steps of one, through the
//  batched step on 'backend', decode through CUDA graphs when 'graphs':
//  seconds of each in *prefill_s, *decode_s (after an untimed step of one
//  token, where a device uploads the weights); 0 or -1 with the reason.
static int
s_steps (const xinf_transformer_t *t, xinf_backend_t *backend, bool graphs, size_t prompt, size_t decode,
         double *prefill_s, double *decode_s, char *error, size_t error_size)
{
    size_t n_blocks = (prompt + decode + 1 + 15) / 16, pass = prompt < 512 ? prompt : 512;
    xinf_kv_cache_t *cache = xinf_kv_cache_new (t, backend, xinf_backend_kv_default (backend), n_blocks, 16, pass);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t *table = calloc (n_blocks, sizeof (int32_t));
    float *logits = calloc (t->vocab, sizeof (float));
    int rc = cache && batch && table && logits ? 0 : -1;
    if (rc == 0 && xinf_kv_cache_set_graphs (cache, graphs, 1))
        rc = -1;
    if (rc && xinf_transformer_check_backend (t, backend, error, error_size) == 0)
        snprintf (error, error_size, "out of memory for a cache of %zu blocks", n_blocks);
    for (size_t block = 0; rc == 0 && block < n_blocks; block++)
        table [block] = (int32_t) block;
    if (rc == 0)
        rc = s_step (t, cache, batch, table, n_blocks, 0, 1, logits, error, error_size);
    int64_t start = zclock_usecs ();
    if (rc == 0)
        rc = s_step (t, cache, batch, table, n_blocks, 0, prompt, logits, error, error_size);
    *prefill_s = (double) (zclock_usecs () - start) / 1e6;
    start = zclock_usecs ();
    for (size_t step = 0; rc == 0 && step < decode; step++)
        rc = s_step (t, cache, batch, table, n_blocks, prompt + step, 1, logits, error, error_size);
    *decode_s = (double) (zclock_usecs () - start) / 1e6;
    if (rc == 0 && graphs && !xinf_kv_cache_graphs (cache))
        rc = -1, snprintf (error, error_size, "CUDA graphs went off: a capture failed (see the log)");
    free (logits);
    free (table);
    xinf_batch_buf_destroy (&batch);
    xinf_kv_cache_destroy (&cache);
    return rc;
}
#endif

//  One step of 'seqs' sequences (blocks seq * per_seq ..), a token each at
//  'pos', the logits of all.
static int
s_step_seqs (const xinf_transformer_t *t, xinf_kv_cache_t *cache, xinf_batch_buf_t *batch, const int32_t *table,
             size_t per_seq, size_t seqs, size_t pos, float *logits, char *error, size_t error_size)
{
    xinf_batch_buf_clear (batch);
    int rc = 0;
    for (size_t seq = 0; seq < seqs && rc == 0; seq++)
        rc = xinf_batch_buf_add_seq (batch, table + seq * per_seq, per_seq) < 0 ? -1 : 0;
    for (size_t seq = 0; seq < seqs && rc == 0; seq++)
        rc = xinf_batch_buf_add_token (batch, (int32_t) (((pos + seq) * 7919 + 13) % t->vocab), (int32_t) pos,
                                       (int32_t) seq, true);
    if (rc) {
        snprintf (error, error_size, "out of memory for a batch of %zu sequences", seqs);
        return -1;
    }
    return xinf_transformer_step (t, cache, xinf_batch_buf_view (batch), logits, error, error_size);
}

//  'decode' steps of 'seqs' sequences a token each, from position 0 (one
//  sequence and many measured alike), through CUDA graphs when 'graphs',
//  after two untimed steps (the first runs eagerly, the second records the
//  graph: neither cost falls in the time): seconds in *decode_s; 0 or -1
//  with the reason.
#define S_UNTIMED 2

static int
s_decode_seqs (const xinf_transformer_t *t, xinf_backend_t *backend, bool graphs, size_t seqs, size_t decode,
               double *decode_s, char *error, size_t error_size)
{
    size_t per_seq = (decode + S_UNTIMED + 15) / 16;
    xinf_kv_cache_t *cache = xinf_kv_cache_new (t, backend, xinf_backend_kv_default (backend), seqs * per_seq, 16, seqs);
    xinf_batch_buf_t *batch = xinf_batch_buf_new ();
    int32_t *table = calloc (seqs * per_seq, sizeof (int32_t));
    float *logits = calloc (seqs * t->vocab, sizeof (float));
    int rc = cache && batch && table && logits && xinf_kv_cache_set_graphs (cache, graphs, seqs) == 0 ? 0 : -1;
    if (rc && xinf_transformer_check_backend (t, backend, error, error_size) == 0)
        snprintf (error, error_size, "out of memory for %zu sequences of %zu blocks", seqs, per_seq);
    for (size_t block = 0; rc == 0 && block < seqs * per_seq; block++)
        table [block] = (int32_t) block;
    for (size_t step = 0; rc == 0 && step < S_UNTIMED; step++)
        rc = s_step_seqs (t, cache, batch, table, per_seq, seqs, step, logits, error, error_size);
    int64_t start = zclock_usecs ();
    for (size_t step = S_UNTIMED; rc == 0 && step < S_UNTIMED + decode; step++)
        rc = s_step_seqs (t, cache, batch, table, per_seq, seqs, step, logits, error, error_size);
    *decode_s = (double) (zclock_usecs () - start) / 1e6;
    if (rc == 0 && graphs && !xinf_kv_cache_graphs (cache))
        rc = -1, snprintf (error, error_size, "CUDA graphs went off: a capture failed (see the log)");
    free (logits);
    free (table);
    xinf_batch_buf_destroy (&batch);
    xinf_kv_cache_destroy (&cache);
    return rc;
}

//  Decode tokens/s of 'seqs' sequences a step and of one (rates [0], [1]);
//  0 or -1 with the reason.
static int
s_batched (const xinf_transformer_t *t, xinf_backend_t *backend, bool graphs, size_t seqs, size_t decode,
           double *rates, char *error, size_t error_size)
{
    double seconds [2] = { 0, 0 };
    int rc = s_decode_seqs (t, backend, graphs, seqs, decode, &seconds [0], error, error_size);
    if (rc == 0)
        rc = s_decode_seqs (t, backend, graphs, 1, decode, &seconds [1], error, error_size);
    rates [0] = (double) (seqs * decode) / seconds [0];
    rates [1] = (double) decode / seconds [1];
    return rc;
}

//  --op-times: the decode steps of one sequence on 'backend' again, each
//  op timed alone (xinf_bench_optimes.h), after a short untimed run; the
//  table on stdout. 0, or 1 after a failure.
static int
s_op_times (xinf_config_t *config, const xinf_transformer_t *t, xinf_backend_t *backend)
{
    if (!xinf_config_flag (config, "op-times"))
        return 0;
    size_t decode = (size_t) xinf_config_int (config, "decode");
    char error [512] = "";
    double seconds;
    xinf_backend_t *timed = xinf_optimes_new (backend);
    //  Warm-up: the untimed steps put the weights on the device
    int rc = timed ? s_decode_seqs (t, timed, false, 1, 1, &seconds, error, sizeof error) : -1;
    if (timed)
        xinf_optimes_reset (timed);
    if (rc == 0)
        rc = s_decode_seqs (t, timed, false, 1, decode, &seconds, error, sizeof error);
    if (rc)
        fprintf (stderr, "xinf-bench-generate: %s\n", error [0] ? error : "out of memory");
    else
        xinf_optimes_print (timed, decode + S_UNTIMED, stdout);
    xinf_backend_destroy (&timed);
    return rc ? 1 : 0;
}

#if defined (XINF_HAVE_CUDA)
//  The device's sample op against the CPU sampler, on a row and on 'seqs'
//  rows of 'vocab' logits; 0, or 1 after a failure.
static int
s_sampling (xinf_backend_t *backend, size_t vocab, size_t seqs)
{
    char error [256] = "";
    int rc = xinf_bench_sample (backend, vocab, 1, 20, stdout, error, sizeof error);
    if (rc == 0 && seqs > 1)
        rc = xinf_bench_sample (backend, vocab, seqs, 10, stdout, error, sizeof error);
    if (rc)
        fprintf (stderr, "xinf-bench-generate: sampling: %s\n", error);
    return rc ? 1 : 0;
}
#endif

//  --backend cuda: the GPU and the CPU backend over the same steps.
static int
s_run_cuda (xinf_config_t *config, const char *path, const xinf_transformer_t *t, const xinf_model_info_t *info)
{
#if defined (XINF_HAVE_CUDA)
    char error [512] = "";
    size_t prompt = (size_t) xinf_config_int (config, "prompt"), decode = (size_t) xinf_config_int (config, "decode");
    int device = (int) xinf_config_int (config, "device");
    xinf_cuda_device_t found;
    xinf_cuda_versions_t versions;
    if (xinf_cuda_devices (&found, 1, &versions, error, sizeof error) < 0) {
        fprintf (stderr, "xinf-bench-generate: %s\n", error);
        return 1;
    }
    //  Before the weights take the device's memory; without it no bound is printed
    char probe_error [256] = "";
    double bandwidth = xinf_cuda_bandwidth (device, (size_t) 1 << 30, probe_error, sizeof probe_error);
    xinf_backend_t *gpu = xinf_cuda_backend_new (device, error, sizeof error);
    if (!gpu) {
        fprintf (stderr, "xinf-bench-generate: %s\n", error);
        return 1;
    }
    xinf_threadpool_t *pool = xinf_threadpool_new ((int) xinf_config_int (config, "threads"));
    xinf_backend_t *cpu = pool ? xinf_cpu_backend_new_on (pool) : NULL;
    double times [3][2] = { { 0, 0 }, { 0, 0 }, { 0, 0 } };   //  [gpu, cpu, gpu with graphs][prefill, decode]
    int rc = cpu ? 0 : -1;
    if (rc == 0)
        rc = s_steps (t, gpu, false, prompt, decode, &times [0][0], &times [0][1], error, sizeof error);
    if (rc == 0)
        rc = s_steps (t, cpu, false, prompt, decode, &times [1][0], &times [1][1], error, sizeof error);
    if (rc == 0)
        rc = s_steps (t, gpu, true, prompt, decode, &times [2][0], &times [2][1], error, sizeof error);
    size_t seqs = (size_t) xinf_config_int (config, "batch");
    double batched [2] = { 0, 0 };       //  graphs: seqs sequences a step, one
    if (rc == 0 && seqs)
        rc = s_batched (t, gpu, true, seqs, decode, batched, error, sizeof error);
    if (rc == 0 && xinf_cuda_backend_error (gpu))
        rc = -1, snprintf (error, sizeof error, "%s", xinf_cuda_backend_error (gpu));
    int timed = rc == 0 ? s_op_times (config, t, gpu) : 0, sampled = 0;
    if (rc)
        fprintf (stderr, "xinf-bench-generate: %s\n", error [0] ? error : "out of memory");
    else {
        double rates [3][2];
        for (int b = 0; b < 3; b++) {
            rates [b][0] = (double) prompt / times [b][0];
            rates [b][1] = (double) decode / times [b][1];
        }
        printf ("model %s (%s %s, %.0f M params), CUDA device %d (%s, compute %d.%d), runtime %d, driver %d; "
                "CPU baseline %d threads\n", path, info->arch, info->weight_type, (double) info->n_params / 1e6, device,
                found.name, found.major, found.minor, versions.runtime, versions.driver, xinf_threadpool_size (pool));
        printf ("prefill %zu tokens: cuda %8.1f tokens/s, cpu %8.1f tokens/s: %.2fx\n", prompt, rates [0][0],
                rates [1][0], rates [0][0] / rates [1][0]);
        printf ("decode  %zu tokens: cuda %8.1f tokens/s, cpu %8.1f tokens/s: %.2fx\n", decode, rates [0][1],
                rates [1][1], rates [0][1] / rates [1][1]);
        printf ("decode  %zu tokens: cuda with CUDA graphs %8.1f tokens/s, eager %8.1f tokens/s: %.2fx\n", decode,
                rates [2][1], rates [0][1], rates [2][1] / rates [0][1]);
        double bytes = s_bytes_per_token (t), bound = bandwidth / bytes;
        if (bandwidth > 0)
            printf ("device bandwidth (copy, 1 GiB): %.1f GB/s -> decode bound %.1f tokens/s (%.1f MB of weights per "
                    "token); reached %.0f%% with graphs, %.0f%% eager\n", bandwidth / 1e9, bound, bytes / 1e6,
                    100.0 * rates [2][1] / bound, 100.0 * rates [0][1] / bound);
        else
            printf ("device bandwidth: not measured (%s): no decode bound\n", probe_error);
        if (seqs)
            printf ("batched decode (graphs, from position 0): %zu sequences %8.1f tokens/s, one %8.1f tokens/s: "
                    "%.2fx\n", seqs, batched [0], batched [1], batched [0] / batched [1]);
        if (xinf_config_flag (config, "json"))
            printf ("{\"backend\":\"cuda\",\"device\":\"%s\",\"prefill_tokens_per_s\":%.2f,\"decode_tokens_per_s\":%.2f,"
                    "\"cpu_prefill_tokens_per_s\":%.2f,\"cpu_decode_tokens_per_s\":%.2f,"
                    "\"graph_decode_tokens_per_s\":%.2f,\"bandwidth_gb_s\":%.2f,\"weight_mb_per_token\":%.2f,"
                    "\"decode_bound_tokens_per_s\":%.2f,\"fraction_of_bound\":%.3f,\"batch\":%zu,"
                    "\"batch_tokens_per_s\":%.2f,\"batch_one_tokens_per_s\":%.2f}\n", found.name, rates [0][0],
                    rates [0][1], rates [1][0], rates [1][1], rates [2][1], bandwidth / 1e9, bytes / 1e6, bound,
                    rates [2][1] / bound, seqs, batched [0], batched [1]);
        sampled = s_sampling (gpu, t->vocab, seqs);
    }
    xinf_backend_destroy (&cpu);
    xinf_backend_destroy (&gpu);
    xinf_threadpool_destroy (&pool);
    return rc || timed || sampled ? 1 : 0;
#else
    (void) config;
    (void) path;
    (void) t;
    (void) info;
    fprintf (stderr, "xinf-bench-generate: this build has no CUDA backend (no CUDA toolkit found, or -DXINF_CUDA=OFF)\n");
    return 1;
#endif
}

//  --batch N on the CPU: N sequences a step against one, through the
//  batched step (the serving path); 0, or 1 after a failure.
static int
s_cpu_batched (xinf_config_t *config, const xinf_transformer_t *t, xinf_threadpool_t *pool)
{
    size_t seqs = (size_t) xinf_config_int (config, "batch"), decode = (size_t) xinf_config_int (config, "decode");
    if (!seqs)
        return 0;
    char error [512] = "";
    double rates [2];
    xinf_backend_t *cpu = xinf_cpu_backend_new_on (pool);
    int rc = cpu ? s_batched (t, cpu, false, seqs, decode, rates, error, sizeof error) : -1;
    if (rc)
        fprintf (stderr, "xinf-bench-generate: %s\n", error [0] ? error : "out of memory");
    else
        printf ("batched decode (from position 0): %zu sequences %8.1f tokens/s, one %8.1f tokens/s: %.2fx\n", seqs,
                rates [0], rates [1], rates [0] / rates [1]);
    xinf_backend_destroy (&cpu);
    return rc ? 1 : 0;
}

//  One sequence (adapter 'lora', 0: none) prefilled then decoded on a
//  fresh cache; the two rates in tokens/s. 0, or 1 with the reason.
static int
s_sequence (const xinf_transformer_t *t, xinf_threadpool_t *pool, xinf_dtype_t kv_type, size_t prompt,
            size_t decode, int32_t lora, double *prefill_tps, double *decode_tps, char *error, size_t error_size)
{
    xinf_kv_t *kv = xinf_kv_new_typed (t, prompt + decode + 1, kv_type);
    int32_t *tokens = calloc (prompt + 1, sizeof (int32_t));
    float *logits = calloc (t->vocab, sizeof (float));
    int rc = kv && tokens && logits ? 0 : xinf_fail (error, error_size, "out of memory");
    if (kv)
        xinf_kv_set_lora (kv, lora);
    for (size_t index = 0; tokens && index < prompt; index++)
        tokens [index] = (int32_t) ((index * 7919 + 13) % t->vocab);
    int64_t start = zclock_usecs ();
    if (rc == 0)
        rc = xinf_transformer_forward (t, kv, pool, tokens, prompt, 0, logits, NULL, error, error_size);
    *prefill_tps = (double) prompt / ((double) (zclock_usecs () - start) / 1e6);
    start = zclock_usecs ();
    for (size_t step = 0; rc == 0 && step < decode; step++) {
        int32_t token = (int32_t) ((step * 104729 + 1) % t->vocab);
        rc = xinf_transformer_forward (t, kv, pool, &token, 1, prompt + step, logits, NULL, error, error_size);
    }
    *decode_tps = (double) decode / ((double) (zclock_usecs () - start) / 1e6);
    free (tokens);
    free (logits);
    xinf_kv_destroy (&kv);
    return rc ? 1 : 0;
}

//  --lora: the sequence without and with the adapter, alternated twice.
static int
s_lora_run (xinf_config_t *config, const char *path, xinf_model_t *model, xinf_threadpool_t *pool,
            xinf_dtype_t kv_type, size_t prompt, size_t decode)
{
    char error [512];
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_lora_t *lora = xinf_lora_load (xinf_config_str (config, "lora"), t, xinf_model_info (model)->arch, error,
                                        sizeof error);
    if (!lora) {
        fprintf (stderr, "xinf-bench-generate: %s\n", error);
        return 1;
    }
    xinf_model_set_loras (model, &lora, 1);
    printf ("LoRA %s (%zu weights, rank %zu) on %s: prefill %zu, decode %zu\n", xinf_config_str (config, "lora"),
            xinf_lora_count (lora), xinf_lora_rank (lora), path, prompt, decode);
    int rc = 0;
    for (int round = 0; rc == 0 && round < 2; round++) {
        double rates [2][2];
        for (int32_t with = 0; rc == 0 && with < 2; with++)
            rc = s_sequence (t, pool, kv_type, prompt, decode, with, &rates [with][0], &rates [with][1], error,
                             sizeof error);
        if (rc == 0)
            printf ("round %d: prefill %.1f / %.1f tok/s (with / without: %.2fx), decode %.1f / %.1f tok/s (%.2fx)\n",
                    round + 1, rates [1][0], rates [0][0], rates [1][0] / rates [0][0], rates [1][1], rates [0][1],
                    rates [1][1] / rates [0][1]);
    }
    if (rc)
        fprintf (stderr, "xinf-bench-generate: %s\n", error);
    xinf_model_set_loras (model, NULL, 0);
    xinf_lora_destroy (&lora);
    return rc;
}

static int
s_run (xinf_config_t *config, const char *path)
{
    char error [512];
    int64_t start = zclock_usecs ();
    xinf_model_t *model = xinf_model_load (path, NULL, NULL, error, sizeof error);
    if (!model) {
        fprintf (stderr, "xinf-bench-generate: %s\n", error);
        return 1;
    }
    double load_s = (double) (zclock_usecs () - start) / 1e6;
    const xinf_transformer_t *t = xinf_model_transformer (model);
    const xinf_model_info_t *info = xinf_model_info (model);
    const char *backend = xinf_config_str (config, "backend");
    if (strcmp (backend, "cpu") != 0) {
        int code = strcmp (backend, "cuda") == 0 ? s_run_cuda (config, path, t, info) : 2;
        if (code == 2)
            fprintf (stderr, "xinf-bench-generate: unknown backend '%s' (cpu or cuda)\n", backend);
        xinf_model_destroy (&model);
        return code;
    }
    size_t prompt = (size_t) xinf_config_int (config, "prompt"), decode = (size_t) xinf_config_int (config, "decode");
    xinf_threadpool_t *pool = xinf_threadpool_new ((int) xinf_config_int (config, "threads"));
    const char *kv_name = xinf_config_str (config, "kv-cache-dtype");
    xinf_dtype_t kv_type = strcmp (kv_name, "f32") == 0 ? XINF_DTYPE_F32
                         : strcmp (kv_name, "q8_0") == 0 ? XINF_DTYPE_Q8_0 : XINF_DTYPE_F16;
    if (xinf_config_str (config, "lora")) {
        int code = s_lora_run (config, path, model, pool, kv_type, prompt, decode);
        xinf_threadpool_destroy (&pool);
        xinf_model_destroy (&model);
        return code;
    }
    xinf_kv_t *kv = xinf_kv_new_typed (t, prompt + decode + 1, kv_type);
    int32_t *tokens = calloc (prompt + 1, sizeof (int32_t));
    float *logits = calloc (t->vocab, sizeof (float));
    for (size_t index = 0; index < prompt; index++)
        tokens [index] = (int32_t) ((index * 7919 + 13) % t->vocab);
    int rc = kv && tokens && logits ? 0 : -1;
    if (!kv && kv_type == XINF_DTYPE_Q8_0 && t->head_dim % 32) {
        snprintf (error, sizeof error, "a Q8_0 KV cache needs heads of a multiple of 32 values (this model's: %zu)",
                  t->head_dim);
        rc = 1;
    }
    start = zclock_usecs ();
    if (rc == 0)
        rc = xinf_transformer_forward (t, kv, pool, tokens, prompt, 0, logits, NULL, error, sizeof error);
    double prefill_s = (double) (zclock_usecs () - start) / 1e6;
    start = zclock_usecs ();
    for (size_t step = 0; rc == 0 && step < decode; step++) {
        int32_t token = (int32_t) ((step * 104729 + 1) % t->vocab);
        rc = xinf_transformer_forward (t, kv, pool, &token, 1, prompt + step, logits, NULL, error, sizeof error);
    }
    double decode_s = (double) (zclock_usecs () - start) / 1e6;
    if (rc) {
        fprintf (stderr, "xinf-bench-generate: %s\n", rc < 0 ? "out of memory" : error);
        rc = 1;
    }
    else {
        double bandwidth = s_bandwidth (pool);
        double bytes = s_bytes_per_token (t);
        double bound = bandwidth / bytes, decode_tps = (double) decode / decode_s;
        printf ("model %s (%s %s, %.0f M params, %.1f MB of weights per token), %d threads, kernels %s, "
                "KV cache %s, loaded in %.2f s\n", path, info->arch, info->weight_type, (double) info->n_params / 1e6,
                bytes / 1e6, xinf_threadpool_size (pool), xinf_cpu_simd_name (), kv_name, load_s);
        printf ("prefill %zu tokens: %8.1f tokens/s\n", prompt, (double) prompt / prefill_s);
        printf ("decode  %zu tokens: %8.1f tokens/s (%.1f ms/token)\n", decode, decode_tps, 1000.0 * decode_s / (double) decode);
        printf ("memory bandwidth (memcpy, %d threads): %.1f GB/s -> decode bound %.1f tokens/s; reached %.0f%%\n",
                xinf_threadpool_size (pool), bandwidth / 1e9, bound, 100.0 * decode_tps / bound);
        rc = s_cpu_batched (config, t, pool);
        if (rc == 0) {
            xinf_backend_t *cpu = xinf_cpu_backend_new_on (pool);
            rc = cpu ? s_op_times (config, t, cpu) : 1;
            xinf_backend_destroy (&cpu);
        }
        if (xinf_config_flag (config, "json"))
            printf ("{\"arch\":\"%s\",\"type\":\"%s\",\"kv_cache_dtype\":\"%s\",\"threads\":%d,\"prefill_tokens_per_s\":%.2f,"
                    "\"decode_tokens_per_s\":%.2f,\"bandwidth_gb_s\":%.2f,\"weight_mb_per_token\":%.2f,"
                    "\"decode_bound_tokens_per_s\":%.2f,\"fraction_of_bound\":%.3f}\n", info->arch, info->weight_type, kv_name,
                    xinf_threadpool_size (pool), (double) prompt / prefill_s, decode_tps, bandwidth / 1e9, bytes / 1e6,
                    bound, decode_tps / bound);
    }
    free (tokens);
    free (logits);
    xinf_kv_destroy (&kv);
    xinf_threadpool_destroy (&pool);
    xinf_model_destroy (&model);
    return rc;
}

int
main (int argc, char **argv)
{
    xinf_config_t *config = xinf_config_new ("xinf-bench-generate", "MODEL.gguf [OPTIONS]", s_options);
    int rc = xinf_config_parse (config, argc, argv);
    if (rc == 0 && xinf_config_positionals (config) != 1) {
        fprintf (stderr, "xinf-bench-generate: give one model file (see --help)\n");
        rc = -1;
    }
    else
    if (rc < 0)
        fprintf (stderr, "xinf-bench-generate: %s\n", xinf_config_error (config));
    if (rc == 0)
        rc = s_run (config, xinf_config_positional (config, 0));
    else
        rc = rc == 1 ? 0 : 2;
    xinf_config_destroy (&config);
    return rc;
}
