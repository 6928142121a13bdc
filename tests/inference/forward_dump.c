/*  forward_dump: runs xinf's forward pass over given token ids and writes
    the logits of every position (float32, [n][vocab]) to a file, so that
    tests compare them with the numpy reference. --prefill runs all tokens
    as one batch (matrix-matrix path); the default runs one token per step
    (the decode path, through the KV cache). --kv-f32 keeps the KV cache
    in F32 (the default: F16, as xinf serves). --lora FILE serves the
    sequence with that LoRA adapter.

        forward_dump MODEL.gguf OUT.bin [--prefill] [--kv-f32] [--lora FILE] ID ID ...
*/
#include "xinf_model.h"
#include "xinf_lora.h"
#include "xinf_cpu_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    if (argc < 4) {
        fprintf (stderr, "usage: forward_dump MODEL OUT [--prefill] [--kv-f32] ID...\n");
        return 2;
    }
    int first = 3;
    bool prefill = false, kv_f32 = false;
    const char *lora_path = NULL;
    for (; first < argc && argv [first][0] == '-'; first++) {
        prefill |= strcmp (argv [first], "--prefill") == 0;
        kv_f32 |= strcmp (argv [first], "--kv-f32") == 0;
        if (strcmp (argv [first], "--lora") == 0 && first + 1 < argc)
            lora_path = argv [++first];
    }
    size_t count = (size_t) (argc - first);
    int32_t *tokens = calloc (count + 1, sizeof (int32_t));
    for (size_t index = 0; index < count; index++)
        tokens [index] = atoi (argv [first + (int) index]);
    char error [512];
    xinf_model_t *model = xinf_model_load (argv [1], NULL, NULL, error, sizeof error);
    if (!model) {
        fprintf (stderr, "forward_dump: %s\n", error);
        return 1;
    }
    const xinf_transformer_t *t = xinf_model_transformer (model);
    xinf_lora_t *lora = NULL;
    if (lora_path) {
        lora = xinf_lora_load (lora_path, t, xinf_model_info (model)->arch, error, sizeof error);
        if (!lora) {
            fprintf (stderr, "forward_dump: %s\n", error);
            return 1;
        }
        xinf_model_set_loras (model, &lora, 1);
    }
    xinf_kv_t *kv = xinf_kv_new_typed (t, count + 1, kv_f32 ? XINF_DTYPE_F32 : XINF_DTYPE_F16);
    if (lora)
        xinf_kv_set_lora (kv, 1);
    xinf_threadpool_t *pool = xinf_threadpool_new (2);
    float *logits = calloc (count * t->vocab, sizeof (float));
    int rc = 0;
    if (prefill)
        rc = xinf_transformer_forward (t, kv, pool, tokens, count, 0, NULL, logits, error, sizeof error);
    for (size_t index = 0; !prefill && rc == 0 && index < count; index++)
        rc = xinf_transformer_forward (t, kv, pool, tokens + index, 1, index, logits + index * t->vocab, NULL,
                                       error, sizeof error);
    FILE *out = rc == 0 ? fopen (argv [2], "wb") : NULL;
    if (rc || !out || fwrite (logits, sizeof (float), count * t->vocab, out) != count * t->vocab) {
        fprintf (stderr, "forward_dump: %s\n", rc ? error : "cannot write the output");
        rc = 1;
    }
    if (out)
        fclose (out);
    printf ("%zu %zu %s\n", count, t->vocab, xinf_cpu_simd_name ());
    free (logits);
    free (tokens);
    xinf_threadpool_destroy (&pool);
    xinf_kv_destroy (&kv);
    xinf_model_destroy (&model);
    xinf_lora_destroy (&lora);
    return rc;
}
