/*  test_fim: a model's fill-in-the-middle tokens (models/xinf_fim.h):
    from the file's keys (xinf-make-model --fim writes Qwen2.5-Coder's) or
    by the markers' names, none in a model without them or whose markers
    are no control tokens; and, where llama.cpp's vocabulary files
    are there (tools/llamacpp/build-native.sh clones them), the ids
    DeepSeek-Coder's vocabulary gives by its markers' names, and none in
    the base vocabularies of Qwen2, Llama 2 and GPT-2.

        test_fim PATH/TO/xinf-make-model VOCAB_DIR
*/
#include "test_assert.h"
#include "xinf_fim.h"
#include "xinf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  The FIM tokens of 'path': 1, or 0 when it has none, or -1 when its
//  tokenizer does not load here (the reason into 'texts'). The texts of
//  the three into 'texts' (joined by spaces).
static int
s_find (const char *path, xinf_fim_t *fim, char *texts, size_t size)
{
    xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (path, texts, size);
    if (!tokenizer)
        return -1;
    char error [256];
    xinf_gguf_t *gguf = xinf_gguf_open (path, error, sizeof error);
    CHECK (gguf);
    bool found = xinf_fim_find (gguf, tokenizer, fim);
    *texts = 0;
    for (int part = 0; found && part < 3; part++) {
        int32_t id = part == 0 ? fim->pre : part == 1 ? fim->suf : fim->mid;
        size_t length;
        const char *text = xinf_tokenizer_text (tokenizer, id, &length);
        snprintf (texts + strlen (texts), size - strlen (texts), "%s%.*s", part ? " " : "", (int) length, text);
    }
    xinf_gguf_destroy (&gguf);
    xinf_tokenizer_destroy (&tokenizer);
    return found ? 1 : 0;
}

int
main (int argc, char *argv [])
{
    CHECK (argc == 3);
    char dir [] = "/tmp/xinf-fim-XXXXXX", path [300], command [800], texts [256];
    CHECK (mkdtemp (dir));
    xinf_fim_t fim;
    //  Written by xinf-make-model: the keys
    snprintf (path, sizeof path, "%s/coder.gguf", dir);
    snprintf (command, sizeof command, "'%s' --arch qwen2 --fim -o '%s' > /dev/null", argv [1], path);
    CHECK (system (command) == 0);
    CHECK (s_find (path, &fim, texts, sizeof texts) == 1);
    CHECK_STR (texts, "<|fim_prefix|> <|fim_suffix|> <|fim_middle|>");
    CHECK (fim.pre == 507 && fim.mid == 508 && fim.suf == 509);
    CHECK (fim.rep == 510 && fim.sep == 511);        //  Qwen2.5-Coder's repository pattern
    //  The same by the markers' names alone (a file without the keys)
    char error [256];
    xinf_tokenizer_t *tokenizer = xinf_model_load_tokenizer (path, error, sizeof error);
    xinf_fim_t named;
    CHECK (tokenizer && xinf_fim_find (NULL, tokenizer, &named));
    CHECK (named.pre == fim.pre && named.suf == fim.suf && named.mid == fim.mid);
    CHECK (named.rep == fim.rep && named.sep == fim.sep);
    xinf_tokenizer_destroy (&tokenizer);
    snprintf (command, sizeof command, "'%s' --arch qwen2 -o '%s' > /dev/null", argv [1], path);
    CHECK (system (command) == 0);
    CHECK (s_find (path, &fim, texts, sizeof texts) == 0);
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    CHECK (system (command) == 0);

    //  Control and user-defined tokens count (DeepSeek-Coder's markers are
    //  user-defined: text becomes them anywhere); a marker of another type
    //  would reach the model as plain text
    static const char *const tokens [] = { "a", "b", "<PRE>", "<SUF>", "<MID>" };
    int32_t types [5] = { XINF_TOKEN_NORMAL, XINF_TOKEN_NORMAL, XINF_TOKEN_CONTROL, XINF_TOKEN_CONTROL,
                          XINF_TOKEN_CONTROL };
    for (int round = 0; round < 3; round++) {
        xinf_tokenizer_spec_t spec = { .model = "gpt2", .n_tokens = 5, .tokens = tokens, .token_types = types,
                                       .n_token_types = 5, .bos_id = -1, .eos_id = -1, .unk_id = -1,
                                       .eot_id = -1, .eom_id = -1 };
        xinf_tokenizer_t *built = xinf_tokenizer_new (&spec, error, sizeof error);
        CHECK (built);
        bool found = xinf_fim_find (NULL, built, &fim);
        CHECK (found == (round < 2));
        CHECK (round == 2 || (fim.pre == 2 && fim.suf == 3 && fim.mid == 4));
        xinf_tokenizer_destroy (&built);
        types [3] = round == 0 ? XINF_TOKEN_USER_DEFINED : XINF_TOKEN_NORMAL;
    }

    //  Real vocabularies, by their markers' names
    struct { const char *file, *texts; int32_t pre, suf, mid; } real [] = {
        { "ggml-vocab-deepseek-coder.gguf", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c> <\xef\xbd\x9c"
          "fim\xe2\x96\x81" "hole\xef\xbd\x9c> <\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", 32016, 32015, 32017 },
        { "ggml-vocab-qwen2.gguf", NULL, 0, 0, 0 },      //  Qwen2's base vocabulary: no added tokens
        { "ggml-vocab-llama-spm.gguf", NULL, 0, 0, 0 },
        { "ggml-vocab-gpt-2.gguf", NULL, 0, 0, 0 }
    };
    size_t checked = 0;
    for (size_t index = 0; index < sizeof real / sizeof real [0]; index++) {
        snprintf (path, sizeof path, "%s/%s", argv [2], real [index].file);
        if (access (path, R_OK) != 0)
            continue;
        int found = s_find (path, &fim, texts, sizeof texts);
        if (found < 0) {
            printf ("SKIP %s: %s\n", real [index].file, texts);
            continue;
        }
        CHECK (found == (real [index].texts != NULL));
        if (found)
            CHECK_STR (texts, real [index].texts);
        if (found)
            CHECK (fim.pre == real [index].pre && fim.suf == real [index].suf && fim.mid == real [index].mid);
        checked++;
    }
    if (checked == 0)
        printf ("SKIP (in part): no llama.cpp vocabulary files in %s (sh tools/llamacpp/build-native.sh)\n", argv [2]);
    printf ("PASS: fill-in-the-middle tokens: the file's keys, none without them, %zu real vocabularies\n", checked);
    return 0;
}
